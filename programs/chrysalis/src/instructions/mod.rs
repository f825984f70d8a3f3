//! One module per instruction: its accounts struct and its `handle_<instruction>` function.
//!
//! Handlers carry the instruction's name (not a shared `handler`) because everything here is
//! glob re-exported at the crate root, where Anchor's macros look for the accounts structs and
//! their generated `__client_accounts_*` modules: two globs exporting the same name would
//! trigger `ambiguous_glob_reexports`.

pub mod ping;

pub use ping::*;
