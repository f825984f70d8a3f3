//! The Chrysalis domain: recipes, collections, evolution stages, metadata JSON and the
//! project store that every face of the product (CLI, desktop app) shares.

pub mod collection;
pub mod progress;
pub mod project;
pub mod recipe;

pub use progress::{CancelToken, Cancelled, Progress};
pub use project::{CheckReport, CheckStep, Project, ProjectError, ProjectInfo};
pub use recipe::{Recipe, RecipeHash};
