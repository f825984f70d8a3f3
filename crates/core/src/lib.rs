//! The Chrysalis domain: recipes, collections, evolution stages, metadata JSON and the
//! project store that every face of the product (CLI, desktop app) shares.
//!
//! A [`Recipe`] is everything needed to regenerate one image; its [`RecipeHash`] (SHA-256 of
//! its canonical JSON) is what goes on chain. A [`collection`] spec (`collection.toml`) is
//! validated, checked for satisfiable quotas and planned into items, each with one recipe and
//! one Metaplex metadata JSON per stage. A [`Project`] is a folder and its SQLite database,
//! whose schema (every crate's tables) is versioned here. Every long job in the workspace
//! reports [`Progress`] and stops when its [`CancelToken`] is cancelled.
//!
//! Core knows nothing of Solana, candle, HTTP or Tauri: it depends on none of them (a
//! creator's address is just 32 bytes decoded from base58 text). It never generates an image
//! and never prints; engines reach the planner only through the hooks in [`collection`].
//!
//! Start reading at [`recipe`], then [`collection`], whose module doc draws the path from
//! spec to plan to metadata.

pub mod collection;
pub mod progress;
pub mod project;
pub mod recipe;

pub use progress::{CancelToken, Cancelled, Progress};
pub use project::{CheckReport, CheckStep, Project, ProjectError, ProjectInfo};
pub use recipe::{Recipe, RecipeHash};
