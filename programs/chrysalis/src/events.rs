//! Events the program emits.
//!
//! Every event goes out through `emit_cpi!` (a self-CPI whose instruction data is
//! `EVENT_IX_TAG_LE ++ Event::DISCRIMINATOR ++ borsh(event)`), never through `emit!`:
//! - RPC nodes truncate long program logs, but keep inner instructions;
//! - in native mode (solana-program-test with `processor!`), `emit!` and `msg!` never reach
//!   the transaction's log collector (they print to stdout or nothing), while a self-CPI is
//!   recorded like on chain, so the sandbox and real clusters look the same to our client.
//!
//! An instruction that emits therefore needs `#[event_cpi]` on its accounts struct, and
//! clients pass `event_authority` (= [`crate::EVENT_AUTHORITY_AND_BUMP`]`.0`) and `program`
//! (= [`crate::ID`]).

use anchor_lang::prelude::*;

/// Emitted by the `ping` instruction.
#[event]
#[derive(Debug, PartialEq, Eq)]
pub struct Pinged {
    /// The signer who pinged.
    pub caller: Pubkey,
    /// Caller-chosen value, echoed back.
    pub note: u64,
}

/// A collection was created (`create_collection`).
#[event]
#[derive(Debug, PartialEq, Eq)]
pub struct CollectionCreated {
    pub collection: Pubkey,
    pub group_mint: Pubkey,
    pub authority: Pubkey,
    pub vault: Pubkey,
    pub price: u64,
    pub max_supply: u32,
    pub royalty_bps: u16,
    pub creators: u8,
}

/// A stage was appended (`add_stage`).
#[event]
#[derive(Debug, PartialEq, Eq)]
pub struct StageAdded {
    pub collection: Pubkey,
    pub stage: u8,
    pub content_root: [u8; 32],
}

/// The item table was committed (`commit_items`).
#[event]
#[derive(Debug, PartialEq, Eq)]
pub struct ItemsCommitted {
    pub collection: Pubkey,
    pub items_root: [u8; 32],
}

/// An NFT was minted (`mint_nft`).
#[event]
#[derive(Debug, PartialEq, Eq)]
pub struct NftMinted {
    pub collection: Pubkey,
    pub mint: Pubkey,
    pub buyer: Pubkey,
    pub index: u32,
    pub recipe_hash: [u8; 32],
    pub price: u64,
    /// Lamports of the price left unassigned by the split (they join the next distribution).
    pub dust: u64,
    /// Lamports paid to creators' wallets in this transaction (0 without remaining accounts).
    pub paid: u64,
}

/// An NFT reached a new stage (`evolve`).
#[event]
#[derive(Debug, PartialEq, Eq)]
pub struct NftEvolved {
    pub collection: Pubkey,
    pub mint: Pubkey,
    pub index: u32,
    pub stage: u8,
    pub by: Pubkey,
}

/// The vault's balance was split and paid (`distribute_royalties`).
#[event]
#[derive(Debug, PartialEq, Eq)]
pub struct RoyaltiesDistributed {
    pub collection: Pubkey,
    /// New lamports split by share in this call.
    pub split: u64,
    /// Lamports left unassigned by this split (stay in the vault).
    pub dust: u64,
    /// Lamports actually transferred to creators in this call.
    pub paid: u64,
    /// Lamports still owed to creators whose wallet could not receive yet (rent).
    pub still_owed: u64,
}

/// The collection authority changed (`update_authority`).
#[event]
#[derive(Debug, PartialEq, Eq)]
pub struct AuthorityUpdated {
    pub collection: Pubkey,
    pub old_authority: Pubkey,
    pub new_authority: Pubkey,
}

/// An empty collection was closed (`close_collection`).
#[event]
#[derive(Debug, PartialEq, Eq)]
pub struct CollectionClosed {
    pub collection: Pubkey,
    pub authority: Pubkey,
    /// Lamports returned to the authority (collection account + vault).
    pub refunded: u64,
}
