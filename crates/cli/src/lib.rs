//! The library behind the `chrysalis` command and the desktop app's publishing screens.
//!
//! [`pipeline`] takes a project holding a `collection.toml` from spec to evolving NFTs:
//! plan → generate → metadata → pin → collection on chain → mint, then evolve, royalties,
//! verify and the all-in-one demo. Both faces call the same functions: this library never
//! prints, reports progress through a callback ([`pipeline::PipelineEvent`]) and stops at
//! the next checkpoint when its [`chrysalis_core::CancelToken`] is cancelled.

// Pipeline errors carry storage errors (which carry CIDs) and chain errors (addresses,
// signatures); they are the cold path, as in chrysalis-storage.
#![allow(clippy::result_large_err)]

pub mod pipeline;
