//! The planner: from a spec to every item's traits, seed and per-stage recipes.
//!
//! [`plan`] is deterministic: the same spec (and [`RecipeContext`]) always gives the same
//! plan, byte for byte. It validates the spec, runs the feasibility check
//! ([`super::check`]) and then the seeded search ([`super::solver`]) for an assignment of
//! trait values with every quota exact, every rule honoured and every item's combination
//! unique.
//!
//! # Item seeds
//! Item `i`'s seed is the first 8 bytes, little-endian, of
//! `SHA-256("chrysalis/item-seed/v1" || collection_seed as u64 LE || i as u32 LE)`,
//! masked to 63 bits so it stays a valid TOML/JSON integer everywhere. Every stage of an item
//! uses the item's seed: stage N grows from stage N-1 by running the same seeded process
//! further (procedural) or img2img from it (diffusion).
//!
//! # Stage recipes
//! - procedural: base `art.params`, then each trait value's `params` (no two traits may set
//!   the same parameter), `stage` = the stage's growth number; the prompt is the trait
//!   values' prompt fragments joined by `", "` (the engine keeps it as the title).
//! - diffusion: prompt = base prompt, the trait fragments and (from stage 1) the stage's
//!   img2img prompt, joined by `", "`. From stage 1 the recipe is img2img from the same
//!   item's previous stage: [`PlannedStage::init_from_stage`] says which, and the recipe's
//!   `init_image.sha256` is left empty in the plan because that image does not exist yet:
//!   the generator fills it with the SHA-256 of the previous stage's PNG bytes
//!   ([`PlannedStage::recipe_with_init`]) before generating, and that completed recipe is
//!   the one published.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::check::{self, Conflict};
use super::solver;
use super::spec::{ArtSpec, CollectionSpec, Growth, Problem, TraitValueSpec, Unlock, format_problems};
use crate::recipe::{
    DType, DiffusionSpec, EngineSpec, InitImage, LoraRef, ModelRef, ProceduralSpec, RECIPE_FORMAT, Recipe,
};

/// Domain tag of the item seed hash.
pub const ITEM_SEED_DOMAIN: &[u8] = b"chrysalis/item-seed/v1";

/// What the planner needs to know about the engines to write recipes: core does not depend
/// on the art crate, so its caller says which engine versions (and which model, hashed) to
/// write into them.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeContext {
    /// `chrysalis_art::procedural::ENGINE_VERSION`.
    pub procedural_engine_version: u32,
    /// The diffusion pipeline's version.
    pub diffusion_engine_version: u32,
    /// The model `art.model` names, with its file hashes (diffusion specs only; the plan
    /// fails without it).
    pub model: Option<ModelRef>,
    /// The LoRAs `art.loras` names, hashed, in order (diffusion specs; empty without any).
    pub loras: Vec<LoraRef>,
}

impl RecipeContext {
    /// A context for procedural collections.
    pub fn procedural(engine_version: u32) -> Self {
        Self { procedural_engine_version: engine_version, diffusion_engine_version: 0, model: None, loras: Vec::new() }
    }
}

/// A complete plan for a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Plan {
    pub items: Vec<PlannedItem>,
    /// Asked vs got for every trait value, in spec order.
    pub quotas: Vec<QuotaLine>,
    /// The stages with their unlock rules as numbers the chain side can use.
    pub stages: Vec<StagePlan>,
    /// True when every item's trait combination differs from every other's.
    pub unique: bool,
    /// The spec's price, in lamports.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub price_lamports: u64,
}

/// One item of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlannedItem {
    /// 0-based; the on-chain index.
    pub index: u32,
    /// `"{collection name} #{index + 1}"`.
    pub name: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seed: u64,
    /// One value per trait, in the spec's trait order.
    pub traits: Vec<TraitPick>,
    /// One per stage, in stage order.
    pub stages: Vec<PlannedStage>,
}

/// The value an item has for a trait (a Metaplex attribute).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TraitPick {
    pub trait_type: String,
    pub value: String,
}

/// An item's recipe at one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlannedStage {
    pub stage: u32,
    /// The recipe; for img2img stages `init_image.sha256` is empty until the previous
    /// stage's image exists (see [`PlannedStage::recipe_with_init`]).
    pub recipe: Recipe,
    /// img2img stages: the stage of the same item whose PNG is the init image.
    #[cfg_attr(feature = "ts", ts(optional))]
    pub init_from_stage: Option<u32>,
}

impl PlannedStage {
    /// The recipe with its init image set to the previous stage's PNG hash (lowercase hex
    /// SHA-256 of the file's bytes). Recipes without an init image come back unchanged.
    pub fn recipe_with_init(&self, previous_png_sha256: &str) -> Recipe {
        let mut r = self.recipe.clone();
        if let EngineSpec::Diffusion(d) = &mut r.engine
            && let Some(init) = &mut d.init_image
        {
            init.sha256 = previous_png_sha256.to_string();
        }
        r
    }
}

/// Asked vs got for one trait value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QuotaLine {
    pub trait_type: String,
    pub value: String,
    pub asked: u32,
    pub got: u32,
}

/// A stage as the chain needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StagePlan {
    pub index: u32,
    pub name: String,
    pub unlock: UnlockPlan,
}

/// An unlock rule in numbers; maps 1:1 onto the program's `UnlockRule` (`Mint` is stage 0,
/// whose rule the program ignores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "snake_case")]
pub enum UnlockPlan {
    Mint,
    /// From this unix time on.
    At {
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        unix: i64,
    },
    /// This many seconds after the item's mint.
    AfterMint {
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        seconds: i64,
    },
    Owner,
    Creator,
}

/// Why a spec cannot be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The spec has problems (fix the fields named).
    #[error("the collection spec has {}", format_problems(.0))]
    Invalid(Vec<Problem>),
    /// Quotas and rules cannot all hold (each conflict names the constraints involved).
    #[error("the collection cannot be planned: {}", .0.iter().map(|c| c.message.as_str()).collect::<Vec<_>>().join("; "))]
    Conflicts(Vec<Conflict>),
    /// A diffusion spec was planned without the model's file hashes.
    #[error(
        "planning a diffusion collection needs the model's file hashes (RecipeContext::model); load the model folder \"{0}\" first"
    )]
    ModelMissing(String),
}

/// The seed of item `index` of a collection (see the module docs for the exact hash).
pub fn item_seed(collection_seed: u64, index: u32) -> u64 {
    let mut h = Sha256::new();
    h.update(ITEM_SEED_DOMAIN);
    h.update(collection_seed.to_le_bytes());
    h.update(index.to_le_bytes());
    let digest = h.finalize();
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes")) & (i64::MAX as u64)
}

/// Plans the whole collection: validates, checks feasibility, assigns traits, derives
/// seeds and writes every stage recipe.
pub fn plan(spec: &CollectionSpec, ctx: &RecipeContext) -> Result<Plan, PlanError> {
    let problems = spec.validate();
    if !problems.is_empty() {
        return Err(PlanError::Invalid(problems));
    }
    if let ArtSpec::Diffusion(d) = &spec.art
        && ctx.model.is_none()
    {
        return Err(PlanError::ModelMissing(d.model.clone()));
    }
    let conflicts = check::check(spec);
    if !conflicts.is_empty() {
        return Err(PlanError::Conflicts(conflicts));
    }
    let model = check::Model::from_spec(spec).map_err(PlanError::Conflicts)?;
    let rows = solver::solve(&model, spec.seed).map_err(|c| PlanError::Conflicts(vec![c]))?;

    let mut items = Vec::with_capacity(spec.size as usize);
    for (i, row) in rows.iter().enumerate() {
        let index = i as u32;
        let seed = item_seed(spec.seed, index);
        let picks: Vec<Option<&TraitValueSpec>> =
            row.iter().enumerate().map(|(t, &v)| Some(&spec.traits[t].values[v as usize])).collect();
        let traits = row
            .iter()
            .enumerate()
            .map(|(t, &v)| TraitPick {
                trait_type: spec.traits[t].name.clone(),
                value: spec.traits[t].values[v as usize].value.clone(),
            })
            .collect();
        let stages = (0..spec.stages.len())
            .map(|s| PlannedStage {
                stage: s as u32,
                recipe: build_recipe(spec, ctx, seed, &picks, s).expect("validated spec and context"),
                init_from_stage: match spec.growth_of(s) {
                    Some(Growth::Img2img { .. }) if s > 0 => Some(s as u32 - 1),
                    _ => None,
                },
            })
            .collect();
        items.push(PlannedItem { index, name: item_name(spec, index), seed, traits, stages });
    }

    let mut quotas = Vec::new();
    for (t, tr) in spec.traits.iter().enumerate() {
        for (v, val) in tr.values.iter().enumerate() {
            quotas.push(QuotaLine {
                trait_type: tr.name.clone(),
                value: val.value.clone(),
                asked: model.counts[t][v],
                got: rows.iter().filter(|r| r[t] as usize == v).count() as u32,
            });
        }
    }
    let unique = {
        let mut seen = std::collections::HashSet::new();
        rows.iter().all(|r| seen.insert(r.clone()))
    };
    tracing::debug!(items = items.len(), unique, "planned collection {}", spec.name);
    Ok(Plan { items, quotas, stages: stage_plans(spec), unique, price_lamports: spec.price_lamports().unwrap_or(0) })
}

/// `"{name} #{index + 1}"`.
pub fn item_name(spec: &CollectionSpec, index: u32) -> String {
    format!("{} #{}", spec.name, index + 1)
}

/// The stages of a (valid) spec as unlock numbers.
pub fn stage_plans(spec: &CollectionSpec) -> Vec<StagePlan> {
    spec.stages
        .iter()
        .enumerate()
        .map(|(i, s)| StagePlan {
            index: i as u32,
            name: s.name.clone(),
            unlock: match &s.unlock {
                Unlock::Mint => UnlockPlan::Mint,
                Unlock::AfterMint(d) => UnlockPlan::AfterMint { seconds: super::spec::parse_duration(d).unwrap_or(0) },
                Unlock::At(t) => UnlockPlan::At { unix: super::spec::parse_rfc3339(t).unwrap_or(0) },
                Unlock::Owner => UnlockPlan::Owner,
                Unlock::Creator => UnlockPlan::Creator,
            },
        })
        .collect()
}

/// Runs the engine's own check (`check(recipe)`) on a sample recipe of every stage with the
/// base parameters and of every trait value's parameter overrides, and returns the problems
/// at the field they come from. The samples use seed 0 and `ctx`'s versions.
///
/// This is the engine half of validation: [`CollectionSpec::validate`] checks what any spec
/// must meet, this checks what the chosen engine accepts (style names, parameter ranges),
/// through recipes built exactly as the planner builds them.
pub fn validate_recipes(
    spec: &CollectionSpec,
    ctx: &RecipeContext,
    check: &dyn Fn(&Recipe) -> Result<(), String>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let no_traits: Vec<Option<&TraitValueSpec>> = Vec::new();
    for si in 0..spec.stages.len() {
        if let Some(r) = build_recipe(spec, ctx, 0, &no_traits, si)
            && let Err(e) = check(&r)
        {
            let path = if si == 0 { "art".to_string() } else { format!("stages[{si}].growth") };
            problems.push(Problem::new(path, e));
        }
    }
    for (ti, t) in spec.traits.iter().enumerate() {
        for (vi, v) in t.values.iter().enumerate() {
            if v.params.is_empty() {
                continue;
            }
            let picks = vec![Some(v)];
            if let Some(r) = build_recipe(spec, ctx, 0, &picks, 0)
                && let Err(e) = check(&r)
            {
                problems.push(Problem::new(format!("traits[{ti}].values[{vi}].params"), e));
            }
        }
    }
    problems
}

/// The recipe of an item with trait values `picks` (`None` = trait not applied) at stage
/// `stage`. `None` when the stage does not exist or a diffusion model is missing.
pub(crate) fn build_recipe(
    spec: &CollectionSpec,
    ctx: &RecipeContext,
    seed: u64,
    picks: &[Option<&TraitValueSpec>],
    stage: usize,
) -> Option<Recipe> {
    spec.stages.get(stage)?;
    let fragments: Vec<&str> = picks.iter().flatten().map(|v| v.prompt.as_str()).filter(|p| !p.is_empty()).collect();
    let (engine, prompt, negative_prompt, engine_stage) = match &spec.art {
        ArtSpec::Procedural(a) => {
            let mut params = a.params.clone();
            for v in picks.iter().flatten() {
                params.extend(v.params.iter().map(|(k, x)| (k.clone(), *x)));
            }
            let n = match spec.growth_of(stage) {
                Some(Growth::Stage(n)) => n,
                _ => stage as u32,
            };
            let spec = ProceduralSpec { engine_version: ctx.procedural_engine_version, style: a.style.clone(), params };
            (EngineSpec::Procedural(spec), fragments.join(", "), String::new(), n)
        }
        ArtSpec::Diffusion(d) => {
            let mut parts: Vec<String> = vec![d.prompt.clone()];
            parts.extend(fragments.iter().map(|f| f.to_string()));
            let init_image = match spec.growth_of(stage) {
                Some(Growth::Img2img { img2img, strength }) if stage > 0 => {
                    parts.push(img2img);
                    Some(InitImage { sha256: String::new(), strength })
                }
                _ => None,
            };
            let prompt = parts.into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(", ");
            let spec = DiffusionSpec {
                engine_version: ctx.diffusion_engine_version,
                model: ctx.model.clone()?,
                steps: d.steps,
                guidance: d.guidance,
                scheduler: d.scheduler,
                dtype: d.dtype.unwrap_or(DType::F32),
                init_image,
                loras: ctx.loras.clone(),
                device: d.device.unwrap_or_default(),
                backend: d.backend.unwrap_or_default(),
            };
            (EngineSpec::Diffusion(spec), prompt, d.negative_prompt.clone(), stage as u32)
        }
    };
    Some(Recipe {
        format: RECIPE_FORMAT,
        engine,
        seed,
        width: spec.art.width(),
        height: spec.art.height(),
        stage: engine_stage,
        prompt,
        negative_prompt,
    })
}
