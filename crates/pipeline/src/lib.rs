//! The collection pipeline: from `collection.toml` to minted, evolving, verifiable NFTs.
//!
//! This crate owns the path that needs art, storage and chain at once. The `chrysalis`
//! binary (crates/cli) and the desktop app (src-tauri) are two faces over it: both call the
//! same functions. It never prints, reports progress through a callback ([`PipelineEvent`])
//! and stops at the next checkpoint when its [`chrysalis_core::CancelToken`] is cancelled.
//! It never depends on clap, a terminal or Tauri.
//!
//! Start reading at [`publish::publish`]; the steps below are its outline.
//!
//! # Steps
//! `chrysalis publish` (and the desktop app's Publish screen) runs [`publish::publish`]:
//!
//! 1. **plan** — parse `<project>/collection.toml`, validate it, check that its quotas and
//!    rules can be satisfied (refusing before anything is generated, naming the conflict)
//!    and plan every item: index, seed, traits, one recipe per stage.
//! 2. **generate** — every item at every stage, as a PNG carrying its recipe
//!    (`build/stage-<s>/images/<i>.png`). An image already on disk whose recipe and SHA-256
//!    match is kept.
//! 3. **metadata** — the images folder's CID is computed first, then Metaplex JSON per item
//!    (`build/stage-<s>/metadata/<i>.json`) with `image = ipfs://<images-cid>/<i>.png`.
//! 4. **pin** — both folders into the project's local store (always: `verify` reads it
//!    first) and, when asked, to a remote backend (Kubo, a pinning service, Pinata, Arweave)
//!    through `chrysalis_storage::remote::publish`, which is itself resumable.
//! 5. **collection** — on chain: `create_collection` then `add_stage` for every stage with
//!    `base_uri = "ipfs://<metadata-cid>/"` and `content_root` = the 32-byte SHA-256 digest
//!    inside the metadata folder's CID (a CID is a multihash of the folder's root node, so
//!    the digest alone commits to every metadata byte of the stage, and anyone can recompute
//!    it with `ipfs add -Qn`).
//! 6. **mint** — every item at stage 0, the buyer being the artist wallet, with
//!    `recipe_hash` = the stage-0 recipe's hash.
//!
//! # Resuming
//! Every step is journaled in the project database (migration 5: `pipeline_*` and `chain_*`
//! tables, see [`journal`]) *before* and *after* it happens. A rerun after any failure, kill
//! or Ctrl-C does not trust the journal alone: it re-reads files (and their hashes), the
//! store (CIDs recomputed) and the chain (collection PDA, stages, every mint PDA) and only
//! does what is missing. Mint addresses are PDAs of the index, so the program itself refuses
//! a second mint of an index; the pipeline still checks before sending.
//!
//! Keys the pipeline must create (the collection's TokenGroup mint keypair, the sandbox's
//! artist wallet) are written 0600 under `<project>/keys/` *before* the transaction that
//! needs them, so a rerun after a kill signs with the same keys. They never go into the
//! database.
//!
//! # Layout of a project
//! ```text
//! <project>/collection.toml
//! <project>/build/stage-<s>/images/<i>.png
//! <project>/build/stage-<s>/metadata/<i>.json
//! <project>/build/collection.json
//! <project>/keys/{group-mint.<network>.json, artist.json}
//! <project>/sandbox/sandbox.json            (the embedded ledger's state)
//! <project>/store/                          (the local content-addressed store)
//! ```

// Pipeline errors carry storage errors (which carry CIDs) and chain errors (addresses,
// signatures); they are the cold path, as in chrysalis-storage.
#![allow(clippy::result_large_err)]

pub mod assets;
pub mod chain;
pub mod check;
pub mod creators;
pub mod demo;
pub mod error;
pub mod evolve;
pub mod generate;
pub mod info;
pub mod journal;
pub mod keys;
pub mod merge;
pub mod mint;
pub mod plan;
pub mod publish;
pub mod royalties;
pub mod shard;
pub mod shard_jobs;
pub mod studio;
pub mod verify;

#[cfg(test)]
pub(crate) mod test_specs {
    /// A two-item, one-stage diffusion collection over the tiny model at `models/tiny`, with
    /// `art_lines` added to its `[art]` table (size, backend, ...).
    pub(crate) fn tiny_diffusion_collection(art_lines: &str) -> String {
        format!(
            r#"name = "Tiny Moths"
symbol = "TM"
description = "Two tiny diffusion moths."
size = 2
seed = 1
royalty_bps = 0
price = "0"

[[creators]]
address = "AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf"
share_bps = 10000

[art]
engine = "diffusion"
model = "models/tiny"
prompt = "a moth"
steps = 2
guidance = 0
scheduler = "ddim"
{art_lines}

[[traits]]
name = "Wing"
values = [{{ value = "Pale", count = 1, prompt = "pale" }}, {{ value = "Dark", count = 1, prompt = "dark" }}]

[[stages]]
name = "Larva"
unlock = "mint"
"#
        )
    }
}

use serde::{Deserialize, Serialize};

pub use chain::{Chain, ChainOptions};
pub use error::PipelineError;
pub use publish::{Only, PublishOptions, PublishReport, publish, publish_with_chain};

/// The spec file at the root of a project.
pub const SPEC_FILE: &str = "collection.toml";
/// Build outputs, below the project root.
pub const BUILD_DIR: &str = "build";
/// Key files, below the project root (0600 each).
pub const KEYS_DIR: &str = "keys";
/// The embedded ledger's state, below the project root.
pub const SANDBOX_DIR: &str = "sandbox";

/// Which part of the pipeline an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Plan,
    Generate,
    Metadata,
    Pin,
    Collection,
    Mint,
    Warp,
    Evolve,
    Royalties,
    Verify,
}

impl Phase {
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Plan => "plan",
            Phase::Generate => "generate",
            Phase::Metadata => "metadata",
            Phase::Pin => "pin",
            Phase::Collection => "collection",
            Phase::Mint => "mint",
            Phase::Warp => "warp",
            Phase::Evolve => "evolve",
            Phase::Royalties => "royalties",
            Phase::Verify => "verify",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One progress report. `step` of `total` units of `phase` are done (`total` 0: unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PipelineEvent {
    pub phase: Phase,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub step: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total: u64,
    /// What is happening, in words for a person.
    pub message: String,
    /// The item this event is about, if any.
    pub index: Option<u32>,
    /// The stage this event is about, if any.
    pub stage: Option<u32>,
    /// Bytes involved (pinning), if any.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub bytes: Option<u64>,
}

impl PipelineEvent {
    pub fn new(phase: Phase, step: u64, total: u64, message: impl Into<String>) -> Self {
        PipelineEvent { phase, step, total, message: message.into(), index: None, stage: None, bytes: None }
    }

    pub fn item(mut self, index: u32) -> Self {
        self.index = Some(index);
        self
    }

    pub fn stage(mut self, stage: u32) -> Self {
        self.stage = Some(stage);
        self
    }

    pub fn bytes(mut self, bytes: u64) -> Self {
        self.bytes = Some(bytes);
        self
    }
}

/// The progress callback every pipeline function takes.
pub type OnEvent<'a> = &'a mut dyn FnMut(&PipelineEvent);

/// Seconds since the Unix epoch (journal timestamps).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
