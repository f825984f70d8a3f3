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
