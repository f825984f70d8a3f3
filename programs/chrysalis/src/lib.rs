//! Chrysalis on-chain program: collections of Token-2022 NFTs whose metadata evolves through
//! stages committed before the first mint, with mint proceeds and royalties split between the
//! creators by share. See `README.md` for the design (cost, splits, limits) and
//! [`chrysalis`] for the instructions.
//!
//! Layout (the same as Anchor's own multi-file examples):
//! - `instructions/<name>.rs`: the `#[derive(Accounts)]` struct and `handle_<name>`;
//! - `state.rs`: `#[account]` types;
//! - `events.rs`: `#[event]` types, emitted with `emit_cpi!` (see [`events`]);
//! - `errors.rs`: the program's `#[error_code]` enum.
//!
//! The `#[program]` module below only dispatches to the handlers.
//!
//! The program owns the rules no client can be trusted with: stages are locked at the first
//! mint, an index's mint is a PDA (so it exists once), shares always sum to 10 000 bps, and a
//! stage changes only when its unlock rule allows. It depends on anchor-lang and anchor-spl
//! only, never on our off-chain crates, and holds no image or JSON: only URIs, 32-byte
//! content roots and recipe hashes. It is tested natively, yet must stay valid SBF (small
//! stack frames, big accounts boxed).
//!
//! Start reading at the `#[program]` module, then `instructions/mint_nft.rs` and `state.rs`.

use anchor_lang::prelude::*;

pub mod compute;
pub mod create;
pub mod errors;
pub mod events;
pub mod instructions;
pub mod merkle;
pub mod payout;
pub mod reserved;
pub mod split;
pub mod state;
pub mod token_utils;

// The `#[program]` and `#[derive(Accounts)]` macros expect every accounts struct (and the
// generated `__client_accounts_*` / `__cpi_client_accounts_*` modules) at the crate root.
pub use instructions::*;
use state::Stage;

declare_id!("JDWLCiBwmhWaVpMzTBXikMJSdUgTpjWvNgXv4kt6Daq9");

/// Anchor's generated [`entry`] as a plain `fn(&Pubkey, &[AccountInfo], &[u8])`, for running the
/// program natively: `solana_program_test::processor!(chrysalis::process_instruction)`.
///
/// `entry` ties all its arguments to one lifetime `'info`, which a function pointer of the
/// runtime's `ProcessInstruction` type cannot promise. Not compiled for SBF.
#[cfg(not(target_os = "solana"))]
pub fn process_instruction(program_id: &Pubkey, accounts: &[AccountInfo], data: &[u8]) -> entrypoint::ProgramResult {
    // SAFETY: same pointer and length, only the lifetime changes. `from_raw_parts` lets the
    // compiler pick `'info` as the duration of this call: everything `accounts` borrows lives
    // at least that long, and `entry` returns nothing that borrows from its arguments. The
    // only references the program may store inside an `AccountInfo` (a resized data slice)
    // point into the same input buffer, which outlives the call.
    let accounts = unsafe { core::slice::from_raw_parts(accounts.as_ptr().cast(), accounts.len()) };
    entry(program_id, accounts, data)
}

#[program]
pub mod chrysalis {
    use super::*;

    /// Liveness check (kept as a health check for clients and the sandbox): emits a `Pinged`
    /// event with the caller and `note`. Changes no state.
    pub fn ping(ctx: Context<Ping>, note: u64) -> Result<()> {
        handle_ping(ctx, note)
    }

    /// Creates a collection: its TokenGroup mint (Token-2022, metadata on the mint), its
    /// state account and its royalty/proceeds vault. Stages follow with `add_stage`.
    pub fn create_collection(ctx: Context<CreateCollection>, args: CollectionArgs) -> Result<()> {
        handle_create_collection(ctx, args)
    }

    /// Appends an evolution stage (collection authority only, before the first mint).
    pub fn add_stage(ctx: Context<AddStage>, stage: Stage) -> Result<()> {
        handle_add_stage(ctx, stage)
    }

    /// Commits the item table (Merkle root over every index's stage-0 recipe hash; collection
    /// authority only, before the first mint). Nothing can be minted before it.
    pub fn commit_items(ctx: Context<CommitItems>, items_root: [u8; 32]) -> Result<()> {
        handle_commit_items(ctx, items_root)
    }

    /// Mints the next NFT (`index` must be the collection's `minted` count: items go out in
    /// order, so no buyer picks one) to the buyer at stage 0, with the recipe hash the
    /// collection committed for that index (`proof` against `items_root`). The buyer pays the
    /// price into the vault, split by share among the creators in this transaction (credited
    /// to each creator, and paid to their wallets right away when they are passed as
    /// remaining accounts).
    pub fn mint_nft<'info>(
        ctx: Context<'info, MintNft<'info>>,
        index: u32,
        recipe_hash: [u8; 32],
        proof: Vec<[u8; 32]>,
    ) -> Result<()> {
        handle_mint_nft(ctx, index, recipe_hash, proof)
    }

    /// Advances NFT `index` to stage `to_stage` (= its stage + 1) when that stage's rule
    /// allows: time rules by anyone, owner triggers by the holder, creator triggers by the
    /// collection authority. Updates the metadata's `uri` and `stage`.
    pub fn evolve(ctx: Context<Evolve>, index: u32, to_stage: u8) -> Result<()> {
        handle_evolve(ctx, index, to_stage)
    }

    /// Splits the vault's new lamports by share and pays the creators (remaining accounts:
    /// their wallets, writable, in order). Anyone may call it.
    pub fn distribute_royalties<'info>(ctx: Context<'info, DistributeRoyalties<'info>>) -> Result<()> {
        handle_distribute_royalties(ctx)
    }

    /// Hands the collection to a new authority (both sign).
    pub fn update_authority(ctx: Context<UpdateAuthority>) -> Result<()> {
        handle_update_authority(ctx)
    }

    /// Closes a collection with no minted NFT, refunding its rent and vault to the authority.
    pub fn close_collection(ctx: Context<CloseCollection>) -> Result<()> {
        handle_close_collection(ctx)
    }
}
