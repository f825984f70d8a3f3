//! One module per instruction: its accounts struct and its `handle_<instruction>` function.
//!
//! Handlers carry the instruction's name (not a shared `handler`) because everything here is
//! glob re-exported at the crate root, where Anchor's macros look for the accounts structs and
//! their generated `__client_accounts_*` modules: two globs exporting the same name would
//! trigger `ambiguous_glob_reexports`.

pub mod add_stage;
pub mod close_collection;
pub mod commit_items;
pub mod create_collection;
pub mod distribute_royalties;
pub mod evolve;
pub mod mint_nft;
pub mod ping;
pub mod update_authority;

pub use add_stage::*;
pub use close_collection::*;
pub use commit_items::*;
pub use create_collection::*;
pub use distribute_royalties::*;
pub use evolve::*;
pub use mint_nft::*;
pub use ping::*;
pub use update_authority::*;
