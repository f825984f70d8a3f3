//! Compute-unit budgets per instruction, for clients' `SetComputeUnitLimit`.
//!
//! Why budgets at all: without a ComputeBudget instruction a transaction may use 200 000 CU
//! per instruction, and a priority fee is paid on that whole limit; a limit sized to the
//! instruction is cheaper when the network is busy, and a too-small one fails the
//! transaction. Why estimates: our tests run the program natively, where only its CPIs (into
//! the System, Token-2022 and ATA programs, which run as SBF) are metered; the program's own
//! work is not. So each budget is
//!
//! **the CPIs measured in `tests/program.rs` (`compute_budgets_cover_the_measured_cpis`), plus
//! an estimate of the program's own work, plus a margin**, where the own-work estimate counts
//! what SBF charges for: every `find_program_address` (≈1 500 CU per bump tried, a few tries
//! on average), the SHA-256 syscalls of a Merkle proof (≈85 CU + 1 per 2 bytes, each), the
//! `emit_cpi!` self-invocation (≈1 000 CU + its data), Anchor's account decoding and checks,
//! and Borsh (de)serialisation of the `Collection` account (≈1 600 bytes at most). The test
//! fails if the measured CPIs plus [`OWN_WORK`] of an instruction ever exceed its budget.
//! Measure on devnet (`solana confirm -v`, "consumed") before mainnet, and tighten these.

/// Estimated CU of the program's own work, per instruction, independent of the CPIs.
pub const OWN_WORK: u32 = 40_000;

/// `create_collection`: creates the collection, the group mint (pointers, TokenGroup,
/// TokenMetadata with two fields), funds the vault.
pub const CREATE_COLLECTION: u32 = 120_000;
/// `add_stage` and `commit_items`: one account rewritten, no CPI but the event.
pub const ADD_STAGE: u32 = 50_000;
pub const COMMIT_ITEMS: u32 = 50_000;
/// `mint_nft`: the NFT mint and its extensions, the ATA, metadata with up to six fields, the
/// price transfer, a Merkle proof of up to 32 hashes; plus up to 16 creator payouts.
pub const MINT_NFT: u32 = 150_000;
/// `evolve`: two metadata updates and a rent top-up.
pub const EVOLVE: u32 = 70_000;
/// `distribute_royalties`: up to 16 transfers out of the vault (direct lamport moves).
pub const DISTRIBUTE_ROYALTIES: u32 = 60_000;
/// `update_authority`, `close_collection`, `ping`: bookkeeping only.
pub const UPDATE_AUTHORITY: u32 = 50_000;
pub const CLOSE_COLLECTION: u32 = 50_000;
pub const PING: u32 = 50_000;

/// The budget of one of our instructions, from its data (Anchor's 8-byte discriminator), or
/// `None` for data that is not one of ours.
#[cfg(not(target_os = "solana"))]
pub fn budget_for(data: &[u8]) -> Option<u32> {
    use crate::instruction as ix;
    use anchor_lang::Discriminator;
    let table: [(&[u8], u32); 10] = [
        (ix::CreateCollection::DISCRIMINATOR, CREATE_COLLECTION),
        (ix::AddStage::DISCRIMINATOR, ADD_STAGE),
        (ix::CommitItems::DISCRIMINATOR, COMMIT_ITEMS),
        (ix::MintNft::DISCRIMINATOR, MINT_NFT),
        (ix::Evolve::DISCRIMINATOR, EVOLVE),
        (ix::DistributeRoyalties::DISCRIMINATOR, DISTRIBUTE_ROYALTIES),
        (ix::UpdateAuthority::DISCRIMINATOR, UPDATE_AUTHORITY),
        (ix::CloseCollection::DISCRIMINATOR, CLOSE_COLLECTION),
        (ix::Ping::DISCRIMINATOR, PING),
        // The event self-CPI (`emit_cpi!`) is never sent by a client.
        (anchor_lang::event::EVENT_IX_TAG_LE, 0),
    ];
    table.iter().find(|(d, _)| data.starts_with(d)).map(|&(_, cu)| cu).filter(|&cu| cu > 0)
}
