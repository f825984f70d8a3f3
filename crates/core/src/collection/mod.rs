//! Collections: the spec (`collection.toml`), the planner that turns it into items with
//! exact trait quotas, honoured rules, unique combinations, seeds and per-stage recipes, and
//! the Metaplex metadata JSON of every item at every stage.
//!
//! ```text
//! collection.toml --CollectionSpec::from_toml--> CollectionSpec --validate()--> [Problem]
//!                                                      |
//!                                      check() -> [Conflict] (before any generation)
//!                                                      |
//!                                   plan(spec, ctx) -> Plan { items, quotas, stages }
//!                                                      |
//!                  metadata::item_json(spec, item, stage, image_uri, recipe) -> JSON
//! ```
//!
//! Nothing here knows an engine: procedural styles and parameter ranges are checked by the
//! art crate through [`plan::validate_recipes`]' hook, and engine versions come in
//! through [`RecipeContext`].

pub mod check;
pub mod metadata;
pub mod plan;
mod solver;
pub mod spec;

#[cfg(test)]
mod tests;

pub use check::{Conflict, ConflictKind, check};
pub use metadata::{item_json, item_json_bytes};
pub use plan::{
    ITEM_SEED_DOMAIN, Plan, PlanError, PlannedItem, PlannedStage, QuotaLine, RecipeContext, StagePlan, TraitPick,
    UnlockPlan, item_name, item_seed, plan, stage_plans, validate_recipes,
};
pub use spec::{
    ArtSpec, CollectionSpec, CreatorSpec, DiffusionArt, Growth, LoraFile, ParseError, Price, Problem, ProceduralArt,
    RuleKind, RuleSpec, SpecError, StageSpec, TraitSpec, TraitValueSpec, Unlock, ValueRef,
};
