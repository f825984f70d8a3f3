//! Helpers shared by the end-to-end pipeline tests: small specs, projects, the `chrysalis`
//! binary, and readers of what the sandbox holds.
//!
//! This file is the `chrysalis_tests` library of the chrysalis-tests package; each file
//! beside it is one test target (see tests/Cargo.toml). They test across crates only
//! through public APIs and the `chrysalis` binary this package builds itself (no test starts
//! cargo), on a project's sandbox, with the storage crate's contract-test Kubo server
//! (`remote.rs`) and the chain crate's fault injectors (`faults.rs`) where needed. No test
//! here asserts a speed: those targets are benchmarks (crates/pipeline/benches).
//!
//! Start reading at `demo.rs`, the whole path; then `kill9.rs` and `faults.rs`, the
//! resumability promises.

use std::path::Path;

use chrysalis_chain::client;
use chrysalis_chain::program;
use chrysalis_chain::{Ledger, Pubkey, Sandbox};
use chrysalis_core::Project;

/// A small procedural collection: `size` items (a multiple of 6), `stages` stages (1..=3) at
/// `side`² pixels, price `price` SOL, one creator `creator`.
pub fn small_spec(name: &str, size: u32, stages: u32, side: u32, price: &str, creator: &Pubkey) -> String {
    assert!(size.is_multiple_of(6) && (1..=3).contains(&stages));
    let half = size / 2;
    let third = size / 3;
    let mut s = format!(
        r#"name = "{name}"
symbol = "TEST"
description = "An end-to-end test collection."
size = {size}
seed = 11
royalty_bps = 500
price = "{price}"

[[creators]]
address = "{creator}"
share_bps = 10000

[art]
engine = "procedural"
style = "growth"
width = {side}
height = {side}

[[traits]]
name = "Palette"
values = [
    {{ value = "Night", count = {half}, params = {{ palette = 0 }} }},
    {{ value = "Ember", count = {half}, params = {{ palette = 4 }} }},
]

[[traits]]
name = "Roots"
values = [
    {{ value = "Single", count = {third}, params = {{ roots = 1 }} }},
    {{ value = "Pair", count = {third}, params = {{ roots = 2 }} }},
    {{ value = "Colony", count = {third}, params = {{ roots = 4 }} }},
]

[[stages]]
name = "Seedling"
unlock = "mint"
growth = 0
"#
    );
    let later = [("Grown", "1d", 2), ("Blossom", "7d", 4)];
    for (n, after, growth) in later.iter().take(stages as usize - 1) {
        s.push_str(&format!(
            "\n[[stages]]\nname = \"{n}\"\nunlock = {{ after_mint = \"{after}\" }}\ngrowth = {growth}\n"
        ));
    }
    s
}

/// A new project in `dir` holding `spec` as its collection.toml.
pub fn project_with_spec(dir: &Path, spec: &str) -> Project {
    let p = Project::create(dir, Some("e2e")).expect("create project");
    std::fs::write(dir.join("collection.toml"), spec).expect("write spec");
    p
}

/// The `chrysalis` binary under test: this package's `chrysalis-e2e` bin (compiled from
/// crates/cli/src/main.rs), which cargo builds before the tests run. A macro, because cargo
/// tells only test targets (not this library) where it is.
#[macro_export]
macro_rules! chrysalis_bin {
    () => {
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_chrysalis-e2e"))
    };
}

/// What the sandbox of a project holds about its collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnChain {
    pub collection: Pubkey,
    /// The collection account's `minted` counter.
    pub minted: u32,
    /// Indices whose mint PDA exists.
    pub mint_accounts: Vec<u32>,
    /// For each minted index: how many tokens its buyer's account holds (must be 1).
    pub held: Vec<u64>,
    pub vault_balance: u64,
    /// Rent-exempt minimum of the (empty) vault.
    pub vault_rent: u64,
    pub total_owed: u64,
    pub stages: usize,
}

/// Reads the project's collection from its sandbox (the group mint key names it).
pub fn on_chain(project_root: &Path, size: u32, buyer: &Pubkey) -> Option<OnChain> {
    let group = chrysalis_chain::wallet::read_keypair(&project_root.join("keys/group-mint.sandbox.json")).ok()?;
    use chrysalis_chain::Signer;
    let collection = program::collection_pda(&group.pubkey());
    let sandbox = Sandbox::open(&project_root.join("sandbox")).expect("open the project's sandbox");
    let state = client::fetch_collection(&sandbox, &collection).expect("read collection")?;
    let mut mint_accounts = Vec::new();
    let mut held = Vec::new();
    for i in 0..size {
        let mint = program::nft_mint_pda(&collection, i);
        if sandbox.get_account(&mint).unwrap().is_some() {
            mint_accounts.push(i);
            held.push(client::nft_amount_held(&sandbox, &mint, buyer).unwrap());
        }
    }
    let vault_rent = client::rent(&sandbox).unwrap().minimum_balance(0);
    Some(OnChain {
        collection,
        minted: state.account.minted,
        mint_accounts,
        held,
        vault_balance: state.vault_balance,
        vault_rent,
        total_owed: state.total_owed(),
        stages: state.account.stages.len(),
    })
}

/// The project's sandbox wallet (`keys/artist.json`).
pub fn artist(project_root: &Path) -> Pubkey {
    use chrysalis_chain::Signer;
    chrysalis_chain::wallet::read_keypair(&project_root.join("keys/artist.json")).expect("artist key").pubkey()
}

/// Lamports in one SOL.
pub const SOL: u64 = 1_000_000_000;
