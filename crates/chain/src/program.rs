//! Instruction builders for every instruction of the Chrysalis program.
//!
//! Each builder fills the program crate's own client types (`chrysalis::accounts::*` for the
//! accounts, `chrysalis::instruction::*` for the arguments) into anchor-client's
//! [`RequestBuilder`](anchor_client::RequestBuilder), so account order, signer/writable flags
//! and the instruction discriminator always come from the program's source, never from a copy
//! here. Every PDA comes from the `chrysalis::state::*_address` helpers.
//!
//! **Why a process-wide `Program`.** anchor-client's blocking `Program` owns a tokio runtime,
//! and dropping one inside another runtime panics (a tokio rule). The builder only needs a
//! `Program` for its `request()`, which never touches the network; we make a single one on
//! first use and never drop it, so builders can be called from anywhere: plain threads,
//! `spawn_blocking`, or async code.

use std::sync::{Arc, OnceLock};

use anchor_client::{Client, Cluster, Program};
use anchor_lang::solana_program::instruction::AccountMeta;
use chrysalis::state::{Stage, collection_address, nft_mint_address, vault_address};
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;

pub use chrysalis::CollectionArgs;
pub use chrysalis::state::{CreatorShare, UnlockRule};

/// The Chrysalis program's id.
pub const PROGRAM_ID: Pubkey = chrysalis::ID;
/// SPL Token-2022 (every NFT and group mint of ours is a Token-2022 mint).
pub const TOKEN_2022_ID: Pubkey = anchor_spl::token_2022::ID;
/// SPL Associated Token Account program.
pub const ASSOCIATED_TOKEN_ID: Pubkey = anchor_spl::associated_token::ID;
/// The system program.
pub const SYSTEM_PROGRAM_ID: Pubkey = anchor_lang::system_program::ID;

/// The one `Program` the request builder hangs off (see the module docs). Its payer is a
/// throw-away key: builders never sign or send.
fn program() -> &'static Program<Arc<Keypair>> {
    static PROGRAM: OnceLock<Program<Arc<Keypair>>> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        Client::new(Cluster::Localnet, Arc::new(Keypair::new()))
            .program(PROGRAM_ID)
            // Only fails when the OS refuses to start the runtime's threads: nothing in this
            // process could work then.
            .expect("cannot start anchor-client's runtime (out of threads or memory?)")
    })
}

/// One instruction of ours: `accounts` then optional remaining accounts, with `args`.
fn build(
    accounts: impl anchor_lang::ToAccountMetas,
    remaining: Vec<AccountMeta>,
    args: impl anchor_lang::InstructionData,
) -> Instruction {
    let mut request = program().request().accounts(accounts);
    if !remaining.is_empty() {
        request = request.accounts(remaining);
    }
    let mut ixs = request.args(args).instructions();
    debug_assert_eq!(ixs.len(), 1);
    ixs.pop().expect("the request builder returns the instruction it was given")
}

/// The `event_authority` PDA that `#[event_cpi]` instructions pass.
pub fn event_authority() -> Pubkey {
    chrysalis::EVENT_AUTHORITY_AND_BUMP.0
}

/// The collection state PDA of a group mint.
pub fn collection_pda(group_mint: &Pubkey) -> Pubkey {
    collection_address(group_mint).0
}

/// The royalty/proceeds vault of a collection.
pub fn vault_pda(collection: &Pubkey) -> Pubkey {
    vault_address(collection).0
}

/// The mint of NFT `index` of a collection.
pub fn nft_mint_pda(collection: &Pubkey, index: u32) -> Pubkey {
    nft_mint_address(collection, index).0
}

/// `owner`'s associated Token-2022 account for `mint` (where a minted NFT lands).
pub fn token_account(owner: &Pubkey, mint: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[owner.as_ref(), TOKEN_2022_ID.as_ref(), mint.as_ref()], &ASSOCIATED_TOKEN_ID).0
}

fn writable(keys: &[Pubkey]) -> Vec<AccountMeta> {
    keys.iter().map(|k| AccountMeta::new(*k, false)).collect()
}

/// `ping`: a liveness check that changes nothing (the caller signs).
pub fn ping(caller: &Pubkey, note: u64) -> Instruction {
    build(
        chrysalis::accounts::Ping { caller: *caller, event_authority: event_authority(), program: PROGRAM_ID },
        Vec::new(),
        chrysalis::instruction::Ping { note },
    )
}

/// `create_collection`: `authority` pays and signs; `group_mint` is a fresh keypair that must
/// sign too.
pub fn create_collection(authority: &Pubkey, group_mint: &Pubkey, args: CollectionArgs) -> Instruction {
    let collection = collection_pda(group_mint);
    build(
        chrysalis::accounts::CreateCollection {
            authority: *authority,
            collection,
            group_mint: *group_mint,
            vault: vault_pda(&collection),
            token_program: TOKEN_2022_ID,
            system_program: SYSTEM_PROGRAM_ID,
            event_authority: event_authority(),
            program: PROGRAM_ID,
        },
        Vec::new(),
        chrysalis::instruction::CreateCollection { args },
    )
}

/// `add_stage`: appends `stage` (the collection authority signs).
pub fn add_stage(authority: &Pubkey, collection: &Pubkey, stage: Stage) -> Instruction {
    build(
        chrysalis::accounts::AddStage {
            authority: *authority,
            collection: *collection,
            event_authority: event_authority(),
            program: PROGRAM_ID,
        },
        Vec::new(),
        chrysalis::instruction::AddStage { stage },
    )
}

/// `commit_items`: fixes the item table's Merkle root before the first mint (the collection
/// authority signs). Build the root with [`chrysalis::merkle::ItemTree`].
pub fn commit_items(authority: &Pubkey, collection: &Pubkey, items_root: [u8; 32]) -> Instruction {
    build(
        chrysalis::accounts::CommitItems {
            authority: *authority,
            collection: *collection,
            event_authority: event_authority(),
            program: PROGRAM_ID,
        },
        Vec::new(),
        chrysalis::instruction::CommitItems { items_root },
    )
}

/// `mint_nft`: `buyer` signs, pays and receives NFT `index` in their associated token account.
/// `index` must be the collection's next one (its `minted` count) and `proof` the item tree's
/// proof of `(index, recipe_hash)`.
/// With `creators` (all the collection's creator wallets, in its order) the price is paid out
/// to them in the same transaction; without, it waits in the vault for
/// [`distribute_royalties`].
pub fn mint_nft(
    buyer: &Pubkey,
    collection: &Pubkey,
    group_mint: &Pubkey,
    index: u32,
    recipe_hash: [u8; 32],
    proof: Vec<[u8; 32]>,
    creators: Option<&[Pubkey]>,
) -> Instruction {
    let mint = nft_mint_pda(collection, index);
    build(
        chrysalis::accounts::MintNft {
            buyer: *buyer,
            collection: *collection,
            group_mint: *group_mint,
            vault: vault_pda(collection),
            mint,
            buyer_token: token_account(buyer, &mint),
            token_program: TOKEN_2022_ID,
            associated_token_program: ASSOCIATED_TOKEN_ID,
            system_program: SYSTEM_PROGRAM_ID,
            event_authority: event_authority(),
            program: PROGRAM_ID,
        },
        writable(creators.unwrap_or_default()),
        chrysalis::instruction::MintNft { index, recipe_hash, proof },
    )
}

/// `evolve`: advances NFT `index` to `to_stage`. `owner_token` is the caller's token account
/// holding the NFT, needed for an owner-triggered stage only.
pub fn evolve(
    caller: &Pubkey,
    collection: &Pubkey,
    index: u32,
    to_stage: u8,
    owner_token: Option<Pubkey>,
) -> Instruction {
    build(
        chrysalis::accounts::Evolve {
            caller: *caller,
            collection: *collection,
            mint: nft_mint_pda(collection, index),
            owner_token,
            token_program: TOKEN_2022_ID,
            system_program: SYSTEM_PROGRAM_ID,
            event_authority: event_authority(),
            program: PROGRAM_ID,
        },
        Vec::new(),
        chrysalis::instruction::Evolve { index, to_stage },
    )
}

/// `distribute_royalties`: pays the vault's new lamports out by share. `creators` must be all
/// the collection's creator wallets, in its order. Anyone may send it (the fee payer signs the
/// transaction; the instruction itself has no signer).
pub fn distribute_royalties(collection: &Pubkey, creators: &[Pubkey]) -> Instruction {
    build(
        chrysalis::accounts::DistributeRoyalties {
            collection: *collection,
            vault: vault_pda(collection),
            system_program: SYSTEM_PROGRAM_ID,
            event_authority: event_authority(),
            program: PROGRAM_ID,
        },
        writable(creators),
        chrysalis::instruction::DistributeRoyalties {},
    )
}

/// `update_authority`: hands the collection to `new_authority` (both sign).
pub fn update_authority(authority: &Pubkey, new_authority: &Pubkey, collection: &Pubkey) -> Instruction {
    build(
        chrysalis::accounts::UpdateAuthority {
            authority: *authority,
            new_authority: *new_authority,
            collection: *collection,
            event_authority: event_authority(),
            program: PROGRAM_ID,
        },
        Vec::new(),
        chrysalis::instruction::UpdateAuthority {},
    )
}

/// `close_collection`: closes a collection nobody minted from, refunding the authority.
pub fn close_collection(authority: &Pubkey, collection: &Pubkey) -> Instruction {
    build(
        chrysalis::accounts::CloseCollection {
            authority: *authority,
            collection: *collection,
            vault: vault_pda(collection),
            system_program: SYSTEM_PROGRAM_ID,
            event_authority: event_authority(),
            program: PROGRAM_ID,
        },
        Vec::new(),
        chrysalis::instruction::CloseCollection {},
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use anchor_lang::{Discriminator, InstructionData};

    #[test]
    fn instructions_carry_the_program_discriminators_and_accounts() {
        let buyer = Pubkey::new_unique();
        let collection = Pubkey::new_unique();
        let group = Pubkey::new_unique();
        let creators = [Pubkey::new_unique(), Pubkey::new_unique()];
        let ix = mint_nft(&buyer, &collection, &group, 7, [9; 32], vec![[3; 32]], Some(&creators));
        assert_eq!(ix.program_id, PROGRAM_ID);
        assert!(ix.data.starts_with(chrysalis::instruction::MintNft::DISCRIMINATOR));
        assert_eq!(
            ix.data,
            chrysalis::instruction::MintNft { index: 7, recipe_hash: [9; 32], proof: vec![[3; 32]] }.data()
        );
        // 11 named accounts, then the creators, writable, not signers, in order.
        assert_eq!(ix.accounts.len(), 13);
        assert_eq!(ix.accounts[0].pubkey, buyer);
        assert!(ix.accounts[0].is_signer && ix.accounts[0].is_writable);
        let mint = nft_mint_pda(&collection, 7);
        assert_eq!(ix.accounts[4].pubkey, mint);
        assert_eq!(ix.accounts[5].pubkey, token_account(&buyer, &mint));
        for (meta, c) in ix.accounts[11..].iter().zip(&creators) {
            assert_eq!(meta.pubkey, *c);
            assert!(meta.is_writable && !meta.is_signer);
        }
        let without = mint_nft(&buyer, &collection, &group, 7, [9; 32], vec![[3; 32]], None);
        assert_eq!(without.accounts.len(), 11);
    }

    #[test]
    fn evolve_passes_the_owner_token_only_when_given() {
        let caller = Pubkey::new_unique();
        let collection = Pubkey::new_unique();
        let with = evolve(&caller, &collection, 1, 2, Some(Pubkey::new_unique()));
        let without = evolve(&caller, &collection, 1, 2, None);
        assert_eq!(with.accounts.len(), without.accounts.len());
        // Anchor passes an absent optional account as the program id itself.
        assert_eq!(without.accounts[3].pubkey, PROGRAM_ID);
        assert_ne!(with.accounts[3].pubkey, PROGRAM_ID);
    }

    #[test]
    fn builders_work_inside_an_async_runtime() {
        // The pitfall this module's design avoids: anchor-client's runtime dropped in tokio.
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let ix = rt.block_on(async { ping(&Pubkey::new_unique(), 3) });
        assert_eq!(ix.program_id, PROGRAM_ID);
    }
}
