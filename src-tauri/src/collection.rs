//! The Collection screen's commands: the open project's `collection.toml` (raw text and
//! parsed spec), validation as the user types, the plan report (quotas asked vs got,
//! uniqueness, conflicts) and stage previews of one item. The work is
//! `chrysalis_core::collection` (spec, planner) and `chrysalis_art` (the engine's own checks
//! and the preview images); this file converts.
//!
//! ## Text is the source of truth
//! Every command takes the TOML *text* the editor holds, not a parsed spec, so the screen
//! can show parse errors (with line and column) and field problems for whatever the user
//! has typed, and saving writes exactly that text (comments included). The form edits a
//! parsed spec and turns it back into text with `collection_render`, which writes the
//! edited spec over the editor's text ([`CollectionSpec::to_toml_over`]): only the values
//! that changed are rewritten, every comment and the key order are kept.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrysalis_art::procedural::{self, ProceduralEngine};
use chrysalis_core::collection::{
    self, ArtSpec, CollectionSpec, Conflict, ParseError, PlanError, Problem, QuotaLine, RecipeContext, StagePlan,
    TraitPick,
};
use chrysalis_core::recipe::ModelRef;
use chrysalis_core::{CancelToken, Recipe};
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

use crate::commands::blocking;
use crate::error::{CommandError, CommandResult, ErrorKind, art_error};
use crate::state::{AppState, lock};

/// The collection spec's file name, in the project folder.
pub const COLLECTION_FILE: &str = "collection.toml";
/// Stage previews are drawn at this side unless asked otherwise (the engine's minimum).
pub const PREVIEW_SIDE: u32 = procedural::MIN_SIDE;

/// The collection spec as the editor sees it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct CollectionDoc {
    /// The TOML text: the file's, the template's when there is no file yet, or what was
    /// checked/rendered.
    pub text: String,
    /// Where the project keeps it.
    #[ts(optional)]
    pub path: Option<String>,
    /// Whether the file exists on disk (false: `text` is the template, not saved yet).
    pub exists: bool,
    /// The parsed spec, when the text parses.
    #[ts(optional)]
    pub spec: Option<CollectionSpec>,
    /// Why the text does not parse (line, column, table).
    #[ts(optional)]
    pub parse_error: Option<ParseError>,
    /// Every problem of a parsed spec, each at its field path; empty when valid.
    pub problems: Vec<Problem>,
}

/// The plan of a spec, for the quota report.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PlanReport {
    /// A plan was made: quotas exact, rules honoured, combinations unique.
    pub ok: bool,
    #[ts(optional)]
    pub parse_error: Option<ParseError>,
    /// Field problems (no plan is attempted while there are any).
    pub problems: Vec<Problem>,
    /// Why quotas and rules cannot hold together.
    pub conflicts: Vec<Conflict>,
    /// Asked vs got per trait value (empty without a plan).
    pub quotas: Vec<QuotaLine>,
    pub unique: bool,
    pub items: Vec<ItemSummary>,
    pub stages: Vec<StagePlan>,
    #[ts(type = "number")]
    pub price_lamports: u64,
    /// Anything else that stopped the plan (e.g. a diffusion model that cannot be read).
    #[ts(optional)]
    pub error: Option<String>,
}

/// One planned item, without its recipes.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ItemSummary {
    pub index: u32,
    pub name: String,
    #[ts(type = "number")]
    pub seed: u64,
    pub traits: Vec<TraitPick>,
}

/// One stage of one item, drawn small.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct StagePreview {
    pub stage: u32,
    pub name: String,
    /// `data:image/png;base64,...`
    pub data_url: String,
    pub width: u32,
    pub height: u32,
}

/// The recipe context the desktop app plans with: this build's engine versions. Diffusion
/// specs are planned with an unhashed stand-in model (the report shows traits and quotas,
/// not recipes; generation hashes the real model).
fn recipe_context(spec: &CollectionSpec) -> RecipeContext {
    let model = match &spec.art {
        ArtSpec::Diffusion(d) => Some(ModelRef { name: d.model.clone(), files: Default::default() }),
        ArtSpec::Procedural(_) => None,
    };
    RecipeContext {
        procedural_engine_version: procedural::ENGINE_VERSION,
        diffusion_engine_version: chrysalis_art::diffusion::ENGINE_VERSION,
        model,
        loras: Vec::new(),
    }
}

/// The engine's own checks of a sample recipe (style names, parameter ranges, sizes).
fn engine_check(recipe: &Recipe) -> Result<(), String> {
    match &recipe.engine {
        chrysalis_core::recipe::EngineSpec::Procedural(_) => {
            ProceduralEngine::check(recipe).map(|_| ()).map_err(|e| e.to_string())
        }
        chrysalis_core::recipe::EngineSpec::Diffusion(_) => recipe.validate().map_err(|e| e.to_string()),
    }
}

/// Parses and validates `text` (spec problems, then the engine's checks when those pass).
pub fn check_text(text: &str) -> CollectionDoc {
    match CollectionSpec::from_toml(text) {
        Err(e) => CollectionDoc {
            text: text.to_string(),
            path: None,
            exists: false,
            spec: None,
            parse_error: Some(e),
            problems: Vec::new(),
        },
        Ok(spec) => {
            let mut problems = spec.validate();
            if problems.is_empty() {
                problems = chrysalis_core::collection::validate_recipes(&spec, &recipe_context(&spec), &engine_check);
            }
            CollectionDoc {
                text: text.to_string(),
                path: None,
                exists: false,
                spec: Some(spec),
                parse_error: None,
                problems,
            }
        }
    }
}

fn project_file(state: &AppState) -> CommandResult<PathBuf> {
    let project = state.project()?;
    let root = lock(&project).root().to_path_buf();
    Ok(root.join(COLLECTION_FILE))
}

fn storage_error(what: &str, path: &Path, e: std::io::Error) -> CommandError {
    CommandError::new(ErrorKind::Storage, format!("Could not {what} {}: {e}.", path.display()))
}

/// The open project's `collection.toml`, or, when it has none yet, the demo collection paying
/// the artist's own wallet (never the demo's address) to start from.
#[tauri::command]
pub async fn collection_load(state: State<'_, AppState>) -> CommandResult<CollectionDoc> {
    let path = project_file(&state)?;
    blocking(move || {
        let (text, exists) = match std::fs::read_to_string(&path) {
            Ok(text) => (text, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let root = path.parent().unwrap_or(Path::new("."));
                let me = chrysalis_pipeline::creators::artist_wallet(root).map_err(crate::error::pipeline_error)?;
                (chrysalis_pipeline::creators::starter_spec(&me), false)
            }
            Err(e) => return Err(storage_error("read", &path, e)),
        };
        let mut doc = check_text(&text);
        doc.exists = exists;
        doc.path = Some(path.to_string_lossy().into_owned());
        Ok(doc)
    })
    .await
}

/// Parses and validates the editor's text (no project needed): for live validation.
#[tauri::command]
pub async fn collection_check(text: String) -> CommandResult<CollectionDoc> {
    blocking(move || Ok(check_text(&text))).await
}

/// Writes the editor's text to the project's `collection.toml` as it is (even with
/// problems: nothing the user typed is lost) and reports on it. The file is replaced
/// atomically (written beside it, then renamed), so a crash never leaves half a file.
#[tauri::command]
pub async fn collection_save(state: State<'_, AppState>, text: String) -> CommandResult<CollectionDoc> {
    let path = project_file(&state)?;
    blocking(move || {
        let tmp = path.with_extension("toml.saving");
        std::fs::write(&tmp, text.as_bytes()).map_err(|e| storage_error("write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| storage_error("replace", &path, e))?;
        tracing::info!("saved {}", path.display());
        let mut doc = check_text(&text);
        doc.exists = true;
        doc.path = Some(path.to_string_lossy().into_owned());
        Ok(doc)
    })
    .await
}

/// A spec edited in the form, written over `text` (the editor's text it was read from) as
/// TOML text with its problems: only the changed values change; comments, key order and
/// formatting are kept.
#[tauri::command]
pub async fn collection_render(text: String, spec: CollectionSpec) -> CommandResult<CollectionDoc> {
    blocking(move || Ok(check_text(&spec.to_toml_over(&text)))).await
}

/// Plans the editor's text and reports quotas, uniqueness and conflicts.
#[tauri::command]
pub async fn collection_plan(text: String) -> CommandResult<PlanReport> {
    blocking(move || Ok(plan_report(&text))).await
}

/// [`collection_plan`]'s work.
pub fn plan_report(text: &str) -> PlanReport {
    let mut report = PlanReport {
        ok: false,
        parse_error: None,
        problems: Vec::new(),
        conflicts: Vec::new(),
        quotas: Vec::new(),
        unique: false,
        items: Vec::new(),
        stages: Vec::new(),
        price_lamports: 0,
        error: None,
    };
    let doc = check_text(text);
    report.parse_error = doc.parse_error;
    report.problems = doc.problems;
    let Some(spec) = doc.spec else { return report };
    if !report.problems.is_empty() {
        return report;
    }
    match collection::plan(&spec, &recipe_context(&spec)) {
        Ok(plan) => {
            report.ok = true;
            report.quotas = plan.quotas;
            report.unique = plan.unique;
            report.stages = plan.stages;
            report.price_lamports = plan.price_lamports;
            report.items = plan
                .items
                .into_iter()
                .map(|i| ItemSummary { index: i.index, name: i.name, seed: i.seed, traits: i.traits })
                .collect();
        }
        Err(PlanError::Invalid(p)) => report.problems = p,
        Err(PlanError::Conflicts(c)) => report.conflicts = c,
        Err(e @ PlanError::ModelMissing(_)) => report.error = Some(e.to_string()),
    }
    report
}

/// Draws every stage of item `index` of the editor's spec at `side` pixels (default and
/// minimum: the engine's smallest size), each stage growing from the last as in the real
/// collection. Procedural collections only: diffusion previews would need the model
/// loaded, which the Create screen does.
#[tauri::command]
pub async fn collection_preview(text: String, index: u32, side: Option<u32>) -> CommandResult<Vec<StagePreview>> {
    blocking(move || preview_item(&text, index, side.unwrap_or(PREVIEW_SIDE))).await
}

/// [`collection_preview`]'s work.
pub fn preview_item(text: &str, index: u32, side: u32) -> CommandResult<Vec<StagePreview>> {
    let invalid = |m: String| CommandError::new(ErrorKind::InvalidInput, m);
    let spec = CollectionSpec::from_toml(text).map_err(|e| invalid(format!("{e}. Fix the spec to see previews.")))?;
    if matches!(spec.art, ArtSpec::Diffusion(_)) {
        return Err(CommandError::new(
            ErrorKind::Engine,
            "Stage previews are drawn for procedural collections only; a diffusion collection's stages appear once it is generated.",
        ));
    }
    if index >= spec.size {
        return Err(invalid(format!(
            "There is no item #{} in a collection of {} items; choose 1 to {}.",
            u64::from(index) + 1,
            spec.size,
            spec.size
        )));
    }
    let plan = collection::plan(&spec, &recipe_context(&spec)).map_err(|e| invalid(format!("{e}.")))?;
    let item = &plan.items[index as usize];
    // Scale the collection's size down so the longest side is `side`, keeping the aspect
    // and the engine's minimum.
    let (w, h) = (spec.art.width().max(1), spec.art.height().max(1));
    let side = side.clamp(procedural::MIN_SIDE, procedural::MAX_SIDE);
    let scale = |a: u32, b: u32| -> u32 {
        let v = (u64::from(side) * u64::from(a) / u64::from(a.max(b))) as u32;
        v.clamp(procedural::MIN_SIDE, procedural::MAX_SIDE)
    };
    let (pw, ph) = (scale(w, h), scale(h, w));
    let cancel = CancelToken::new();
    item.stages
        .iter()
        .map(|s| {
            let mut recipe = s.recipe.clone();
            recipe.width = pw;
            recipe.height = ph;
            let out = chrysalis_art::generate(&recipe, None, None, &mut |_| {}, &cancel).map_err(|e| art_error(&e))?;
            let mut png = Cursor::new(Vec::new());
            out.image
                .write_to(&mut png, image::ImageFormat::Png)
                .map_err(|e| CommandError::internal(format!("cannot encode a stage preview: {e}")))?;
            Ok(StagePreview {
                stage: s.stage,
                name: spec.stages[s.stage as usize].name.clone(),
                data_url: format!(
                    "data:image/png;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(png.into_inner())
                ),
                width: pw,
                height: ph,
            })
        })
        .collect()
}
