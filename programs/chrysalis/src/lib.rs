//! Chrysalis on-chain program.
//!
//! Phase 1 is a skeleton that proves the toolchain: one trivial instruction, [`chrysalis::ping`],
//! that emits a [`Pinged`](events::Pinged) event. Collections, Token-2022 mints, royalties and
//! evolution land here later, one file per instruction under `src/instructions/`.
//!
//! Layout (the same as Anchor's own multi-file examples):
//! - `instructions/<name>.rs`: the `#[derive(Accounts)]` struct and `handle_<name>`;
//! - `state.rs`: `#[account]` types;
//! - `events.rs`: `#[event]` types, emitted with `emit_cpi!` (see [`events`]);
//! - `errors.rs`: the program's `#[error_code]` enum.
//!
//! The `#[program]` module below only dispatches to the handlers.

use anchor_lang::prelude::*;

pub mod errors;
pub mod events;
pub mod instructions;
pub mod state;

// The `#[program]` and `#[derive(Accounts)]` macros expect every accounts struct (and the
// generated `__client_accounts_*` / `__cpi_client_accounts_*` modules) at the crate root.
pub use instructions::*;

declare_id!("JDWLCiBwmhWaVpMzTBXikMJSdUgTpjWvNgXv4kt6Daq9");

/// Anchor's generated [`entry`] as a plain `fn(&Pubkey, &[AccountInfo], &[u8])`, for running the
/// program natively: `solana_program_test::processor!(chrysalis::process_instruction)`.
///
/// `entry` ties all its arguments to one lifetime `'info`, which a function pointer of the
/// runtime's `ProcessInstruction` type cannot promise. Not compiled for SBF.
#[cfg(not(target_os = "solana"))]
pub fn process_instruction(
    program_id: &Pubkey,
    accounts: &[AccountInfo],
    data: &[u8],
) -> entrypoint::ProgramResult {
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

    /// Liveness check: emits a `Pinged` event with the caller and `note`.
    /// Changes no state.
    pub fn ping(ctx: Context<Ping>, note: u64) -> Result<()> {
        handle_ping(ctx, note)
    }
}
