//! On-chain account types (`#[account]`).
//!
//! Keep accounts small and `Box<Account<..>>` big ones in accounts structs: native tests do
//! not enforce SBF's 4 KiB stack frames, the real runtime does.
//!
//! Per NFT there is no account of ours: its stage, recipe hash, collection and mint time live
//! in the Token-2022 mint's own metadata (additional fields `stage`, `recipe`, `collection`,
//! `minted_at`), and the mint's address is the PDA `["nft", collection, index_le]`, which also
//! makes every index mintable once.

use anchor_lang::prelude::*;

/// Seed of a [`Collection`] PDA: `["collection", group_mint]`.
pub const COLLECTION_SEED: &[u8] = b"collection";
/// Seed of a collection's royalty/proceeds vault: `["vault", collection]` (a system account).
pub const VAULT_SEED: &[u8] = b"vault";
/// Seed of an NFT mint: `["nft", collection, index.to_le_bytes()]`.
pub const NFT_SEED: &[u8] = b"nft";

/// The `Collection` PDA of a group mint (clients and the sandbox use these helpers).
pub fn collection_address(group_mint: &Pubkey) -> (Pubkey, u8) {
    Pubkey::find_program_address(&[COLLECTION_SEED, group_mint.as_ref()], &crate::ID)
}

/// The royalty/proceeds vault of a collection.
pub fn vault_address(collection: &Pubkey) -> (Pubkey, u8) {
    Pubkey::find_program_address(&[VAULT_SEED, collection.as_ref()], &crate::ID)
}

/// The mint of NFT `index` of a collection.
pub fn nft_mint_address(collection: &Pubkey, index: u32) -> (Pubkey, u8) {
    Pubkey::find_program_address(&[NFT_SEED, collection.as_ref(), &index.to_le_bytes()], &crate::ID)
}

/// Shares are basis points; they sum to exactly this (the split rule's constant).
pub use crate::split::TOTAL_SHARES_BPS;
pub const MAX_CREATORS: usize = 16;
pub const MAX_STAGES: usize = 8;
pub const MAX_NAME_LEN: usize = 32;
pub const MAX_SYMBOL_LEN: usize = 10;
/// 128 so that `create_collection` with 16 creators and every string at its maximum still
/// fits one 1 232-byte transaction (with the authority as fee payer).
pub const MAX_URI_LEN: usize = 128;
pub const MAX_STAGE_URI_LEN: usize = 96;

/// When a stage may be reached.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum UnlockRule {
    /// From this unix time on; anyone may evolve (permissionless crank).
    At(i64),
    /// This many seconds after the NFT's mint; anyone may evolve.
    AfterMint(i64),
    /// Only the holder of the NFT (proved by its token account) may evolve.
    OwnerTrigger,
    /// Only the collection authority may evolve.
    CreatorTrigger,
}

/// One evolution stage. Stage 0 is the stage every NFT is minted at (its rule is ignored).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq, InitSpace)]
pub struct Stage {
    pub rule: UnlockRule,
    /// The item URI is `base_uri + index + ".json"`.
    #[max_len(MAX_STAGE_URI_LEN)]
    pub base_uri: String,
    /// Commitment (e.g. a Merkle root) to this stage's metadata, fixed before the first mint.
    pub content_root: [u8; 32],
}

/// A creator and their share of every lamport the collection earns.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq, InitSpace)]
pub struct Creator {
    pub address: Pubkey,
    pub share_bps: u16,
    /// Lamports already split to this creator but not yet paid out (held in the vault).
    pub owed: u64,
}

/// Input form of a creator (no running balance).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct CreatorShare {
    pub address: Pubkey,
    pub share_bps: u16,
}

/// A collection: its TokenGroup mint, creators, price, supply and stages.
#[account]
#[derive(InitSpace, Debug)]
pub struct Collection {
    /// May add stages (before the first mint), trigger creator stages, hand over or close.
    pub authority: Pubkey,
    /// The Token-2022 mint carrying the collection's TokenGroup and metadata.
    pub group_mint: Pubkey,
    pub bump: u8,
    pub vault_bump: u8,
    pub royalty_bps: u16,
    pub price: u64,
    pub max_supply: u32,
    pub minted: u32,
    #[max_len(MAX_NAME_LEN)]
    pub name: String,
    #[max_len(MAX_SYMBOL_LEN)]
    pub symbol: String,
    #[max_len(MAX_URI_LEN)]
    pub uri: String,
    #[max_len(MAX_CREATORS)]
    pub creators: Vec<Creator>,
    #[max_len(MAX_STAGES)]
    pub stages: Vec<Stage>,
    /// Merkle root over every index's stage-0 recipe hash (`merkle.rs`), set by `commit_items`
    /// before the first mint; all zeros until then. Last, so that a collection written before
    /// this field existed reads it from its zeroed spare bytes as "not committed".
    pub items_root: [u8; 32],
}

impl Collection {
    /// Lamports in the vault that belong to creators but are not paid out yet.
    pub fn total_owed(&self) -> Result<u64> {
        self.creators.iter().try_fold(0u64, |acc, c| {
            acc.checked_add(c.owed).ok_or_else(|| error!(crate::errors::ChrysalisError::ArithmeticOverflow))
        })
    }

    /// Splits `amount` by share and credits each creator's `owed`; returns the dust (the part
    /// integer division left unassigned, which stays in the vault for the next split).
    pub fn credit_split(&mut self, amount: u64) -> Result<u64> {
        let mut parts = [0u64; MAX_CREATORS];
        let shares: Vec<u16> = self.creators.iter().map(|c| c.share_bps).collect();
        let dust = crate::split::split(amount, &shares, &mut parts)?;
        for (c, part) in self.creators.iter_mut().zip(parts) {
            c.owed = c.owed.checked_add(part).ok_or(crate::errors::ChrysalisError::ArithmeticOverflow)?;
        }
        Ok(dust)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::ChrysalisError;
    use crate::split::testing::shares;
    use proptest::prelude::*;

    fn collection(shares: &[u16]) -> Collection {
        Collection {
            authority: Pubkey::default(),
            group_mint: Pubkey::default(),
            bump: 0,
            vault_bump: 0,
            royalty_bps: 0,
            price: 0,
            max_supply: 1,
            minted: 0,
            name: String::new(),
            symbol: String::new(),
            uri: String::new(),
            creators: shares
                .iter()
                .map(|&s| Creator { address: Pubkey::new_unique(), share_bps: s, owed: 0 })
                .collect(),
            stages: Vec::new(),
            items_root: [0; 32],
        }
    }

    proptest! {
        /// Over many deposits (mint prices, royalties), with dust carried to the next split as
        /// the vault does: owed + final dust = everything deposited; no creator falls more than
        /// one lamport per deposit short of their exact share of the whole, and re-split dust
        /// (under one lamport per creator per deposit) is the most anyone gets above it.
        #[test]
        fn ledger_conserves_lamports(
            deposits in proptest::collection::vec(0u64..1_000_000_000_000, 1..20),
            shares in shares(MAX_CREATORS),
        ) {
            let mut c = collection(&shares);
            let mut dust = 0u64;
            for d in &deposits {
                dust = c.credit_split(d + dust).unwrap();
            }
            let total: u128 = deposits.iter().map(|&d| u128::from(d)).sum();
            let owed: u128 = c.creators.iter().map(|c| u128::from(c.owed)).sum();
            prop_assert_eq!(owed + u128::from(dust), total);
            prop_assert!(dust < shares.len() as u64);
            for cr in &c.creators {
                let exact = total * u128::from(cr.share_bps) / 10_000;
                let k = deposits.len() as u128;
                prop_assert!(u128::from(cr.owed) + k >= exact);
                prop_assert!(u128::from(cr.owed) <= exact + k * shares.len() as u128);
            }
        }
    }

    #[test]
    fn owed_overflow_is_an_error() {
        let mut c = collection(&[10_000]);
        c.creators[0].owed = u64::MAX;
        let err = c.credit_split(1).unwrap_err();
        assert_eq!(err, error!(ChrysalisError::ArithmeticOverflow));
        let mut c = collection(&[5_000, 5_000]);
        c.creators[0].owed = u64::MAX;
        c.creators[1].owed = 1;
        assert_eq!(c.total_owed().unwrap_err(), error!(ChrysalisError::ArithmeticOverflow));
    }
}
