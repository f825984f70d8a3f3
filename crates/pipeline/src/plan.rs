//! Step 1, **plan**: read `collection.toml`, validate it, check that its quotas and rules can
//! be satisfied and plan every item (chrysalis_core's planner). An unsatisfiable spec is
//! refused here, naming the conflict, before a single image is generated.

use std::path::Path;

use chrysalis_core::collection::plan::{Plan, PlanError, RecipeContext, plan, validate_recipes};
use chrysalis_core::collection::spec::{ArtSpec, CollectionSpec, format_problems};
use serde::{Deserialize, Serialize};

use super::journal::Journal;
use super::{OnEvent, Phase, PipelineError, PipelineEvent, SPEC_FILE, sha256_hex};

/// A spec and its plan, ready to generate.
#[derive(Debug, Clone)]
pub struct Planned {
    pub spec: CollectionSpec,
    pub plan: Plan,
    /// SHA-256 (hex) of the `collection.toml` bytes: a collection on chain remembers it, and
    /// a changed spec is refused rather than minted against an older collection.
    pub spec_sha256: String,
    /// The `collection.toml` text itself (kept with the collection when it is created).
    pub spec_text: String,
}

/// What `publish --only plan` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanSummary {
    pub name: String,
    pub items: u32,
    pub stages: u32,
    pub spec_sha256: String,
    pub unique: bool,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub price_lamports: u64,
    /// Asked vs got per trait value (all equal when the plan exists).
    pub quotas: Vec<chrysalis_core::collection::plan::QuotaLine>,
}

impl Planned {
    pub fn summary(&self) -> PlanSummary {
        PlanSummary {
            name: self.spec.name.clone(),
            items: self.plan.items.len() as u32,
            stages: self.plan.stages.len() as u32,
            spec_sha256: self.spec_sha256.clone(),
            unique: self.plan.unique,
            price_lamports: self.plan.price_lamports,
            quotas: self.plan.quotas.clone(),
        }
    }
}

/// The LoRAs `art.loras` names, as files (relative to the project) at their weights.
pub fn lora_specs(spec: &CollectionSpec, project_root: &Path) -> Vec<chrysalis_art::diffusion::LoraSpec> {
    match &spec.art {
        ArtSpec::Diffusion(d) => d
            .loras
            .iter()
            .map(|l| chrysalis_art::diffusion::LoraSpec { path: project_root.join(&l.file), weight: l.weight })
            .collect(),
        ArtSpec::Procedural(_) => Vec::new(),
    }
}

/// The recipe context for this build of Chrysalis: the procedural engine's version (and, for
/// diffusion specs, the model found at `art.model`, hashed).
pub fn recipe_context(spec: &CollectionSpec, project_root: &Path) -> Result<RecipeContext, PipelineError> {
    let mut ctx = RecipeContext::procedural(chrysalis_art::procedural::ENGINE_VERSION);
    if let ArtSpec::Diffusion(d) = &spec.art {
        let dir = project_root.join(&d.model);
        let spec_error = |field: String, e: &dyn std::fmt::Display| PipelineError::Spec {
            path: project_root.join(SPEC_FILE),
            message: format!("{field}: {e}"),
        };
        let engine =
            chrysalis_art::diffusion::DiffusionEngine::load(&dir).map_err(|e| spec_error("art.model".into(), &e))?;
        // A LoRA's error names its file.
        let engine = engine
            .with_loras(&lora_specs(spec, project_root), &Default::default())
            .map_err(|e| spec_error("art.loras".into(), &e))?;
        ctx.diffusion_engine_version = chrysalis_art::diffusion::ENGINE_VERSION;
        ctx.model = Some(engine.model_ref().clone());
        ctx.loras = engine.folder().loras.clone();
    }
    Ok(ctx)
}

/// Plans a spec given as text (`path` names it in errors).
pub fn plan_text(text: &str, path: &Path, project_root: &Path) -> Result<Planned, PipelineError> {
    let spec = CollectionSpec::from_toml(text)
        .map_err(|e| PipelineError::Spec { path: path.to_path_buf(), message: e.to_string() })?;
    let ctx = recipe_context(&spec, project_root)?;
    // The engine's own parameter checks (ranges, whole numbers, styles) on sample recipes of
    // every stage and trait value, so a bad parameter is refused before generating.
    if matches!(spec.art, ArtSpec::Procedural(_)) {
        let check = |r: &chrysalis_core::Recipe| {
            chrysalis_art::procedural::ProceduralEngine::check(r).map(|_| ()).map_err(|e| e.to_string())
        };
        let problems = validate_recipes(&spec, &ctx, &check);
        if !problems.is_empty() {
            let message = format!("the spec has {}", format_problems(&problems));
            return Err(PipelineError::Spec { path: path.to_path_buf(), message });
        }
    }
    let plan = plan(&spec, &ctx).map_err(|e| match e {
        PlanError::Conflicts(_) => PipelineError::Unsatisfiable(
            e.to_string().trim_start_matches("the collection cannot be planned: ").to_string(),
        ),
        other => PipelineError::Spec { path: path.to_path_buf(), message: other.to_string() },
    })?;
    Ok(Planned { spec, plan, spec_sha256: sha256_hex(text.as_bytes()), spec_text: text.to_string() })
}

/// Refuses a spec that differs, in any value, from the one the collection on `network` was
/// created from: a collection on chain is fixed (its name, creators, price and every stage's
/// content root), so regenerating from a changed spec would only put `build/` out of step
/// with it. This runs right after planning, before anything is generated, and names the
/// fields that changed. A change of comments or formatting alone is not refused.
///
/// The spec the collection was made from is written to `build/collection.<network>.toml`
/// so the artist can compare and revert.
pub fn check_against_collection(
    project_root: &Path,
    journal: &Journal<'_>,
    network: &str,
    planned: &Planned,
) -> Result<(), PipelineError> {
    let Some(row) = journal.collection(network)? else { return Ok(()) };
    if row.spec_sha256 == planned.spec_sha256 {
        return Ok(());
    }
    let minted_text = journal.collection_spec(network)?;
    let fields: Vec<String> = match minted_text.as_deref().map(CollectionSpec::from_toml) {
        Some(Ok(minted)) => {
            let fields = minted.changed_fields(&planned.spec);
            if fields.is_empty() {
                return Ok(());
            }
            fields.into_iter().map(String::from).collect()
        }
        _ => Vec::new(),
    };
    let saved = match &minted_text {
        Some(text) => {
            let path = project_root.join(super::BUILD_DIR).join(format!("collection.{}.toml", file_safe(network)));
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(PipelineError::io(dir))?;
            }
            std::fs::write(&path, text).map_err(PipelineError::io(&path))?;
            Some(path)
        }
        None => None,
    };
    Err(PipelineError::SpecChanged { network: network.to_string(), collection: row.collection, fields, saved })
}

/// `network` as part of a file name (an RPC URL has slashes and colons).
fn file_safe(network: &str) -> String {
    network.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect()
}

/// Step 1 for a project: reads `<project>/collection.toml`, plans it, refuses it when it
/// differs from the spec of the collection already on `network`
/// ([`check_against_collection`]), and records the plan.
pub fn plan_project(
    project_root: &Path,
    journal: &Journal<'_>,
    network: &str,
    on_event: OnEvent<'_>,
) -> Result<Planned, PipelineError> {
    let path = project_root.join(SPEC_FILE);
    on_event(&PipelineEvent::new(Phase::Plan, 0, 1, format!("planning {}", path.display())));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(PipelineError::NoSpec { path }),
        Err(e) => return Err(PipelineError::io(&path)(e)),
    };
    let planned = plan_text(&text, &path, project_root)?;
    check_against_collection(project_root, journal, network, &planned)?;
    let summary = serde_json::to_value(planned.summary()).unwrap_or_default();
    journal.record_plan(
        &planned.spec_sha256,
        planned.plan.items.len() as u32,
        planned.plan.stages.len() as u32,
        &summary,
    )?;
    on_event(&PipelineEvent::new(
        Phase::Plan,
        1,
        1,
        format!("planned {} items × {} stages", planned.plan.items.len(), planned.plan.stages.len()),
    ));
    Ok(planned)
}
