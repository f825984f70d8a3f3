//! The Create and Gallery screens' commands: engines and their settings, model folders,
//! generating into the project with live progress, the gallery, checks and exports. The
//! work itself is `chrysalis_art` ([`chrysalis_art::gallery`]); this file converts and
//! streams.
//!
//! ## Images reach the UI as data URLs
//! Gallery images, thumbnails and previews are sent as `data:image/png;base64,…` strings
//! rather than through Tauri's asset protocol. The asset protocol would need an extra Tauri
//! feature and a file-system scope widened to every project folder the user opens (any
//! page script could then read any file there); data URLs show exactly the bytes a command
//! chose to return, after checking them against the gallery's SHA-256, and work the same
//! under the mock runtime, in Vitest and in the real app. The cost, a third more bytes over
//! IPC, is small because the grid asks for 256-px thumbnails and only the selected image
//! comes at full size.
//!
//! ## Long jobs
//! `generate` and `regenerate_check` run on the blocking pool (the window never waits),
//! hold the project lock only to read the source image and to record the result, and are
//! cancelled through `cancel_job` like any other job.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrysalis_art::diffusion::{self, ComputeDevice, DiffusionEngine};
use chrysalis_art::engine::{self as art_engine, GenProgress, RgbImage};
use chrysalis_art::gallery::{self, Generation, Img2Img};
use chrysalis_art::{png_meta, procedural};
use chrysalis_core::recipe::{Backend, DType, EngineSpec, RECIPE_FORMAT, Scheduler};
use chrysalis_core::{CancelToken, Recipe};
use serde::{Deserialize, Serialize};
use tauri::State;
use tauri::ipc::Channel;
use ts_rs::TS;

use crate::commands::{blocking, parse_path};
use crate::error::{CommandError, CommandResult, ErrorKind, art_error, sentence};
use crate::state::{AppState, SharedProject, lock};

/// The smallest gap between two preview images sent to the UI: previews cost encoding time
/// and IPC bytes, and the eye does not need more than a few per second.
const PREVIEW_INTERVAL: Duration = Duration::from_millis(400);

// ---------------------------------------------------------------------------------------
// Types the UI sees

/// What the Create screen can offer.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct EngineCatalog {
    pub styles: Vec<StyleView>,
    pub schedulers: Vec<SchedulerView>,
    pub procedural_size: SizeLimits,
    pub diffusion_size: SizeLimits,
    /// Highest evolution stage the procedural styles draw.
    pub max_stage: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct StyleView {
    /// The name recipes use: `flow-field`.
    pub name: String,
    pub title: String,
    pub description: String,
    pub params: Vec<ParamView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ParamView {
    pub name: String,
    pub min: f64,
    pub max: f64,
    /// Only whole numbers.
    pub integer: bool,
    /// The value used when the recipe leaves it out; `None`: drawn from the seed.
    pub default: Option<f64>,
    pub doc: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct SchedulerView {
    pub id: Scheduler,
    /// As AUTOMATIC1111 names it: `Euler a`.
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct SizeLimits {
    pub min: u32,
    pub max: u32,
    /// Each side must be a multiple of this.
    pub multiple: u32,
}

/// A diffusion model folder, loaded and hashed.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ModelInfo {
    /// The folder, absolute.
    pub dir: String,
    pub name: String,
    /// The model's fingerprint (AUTOMATIC1111's `Model hash`), from every file's SHA-256.
    pub short_hash: String,
    /// `StableDiffusionPipeline`, ...
    pub pipeline: String,
    #[ts(type = "number")]
    pub parameters: u64,
    /// Relative path -> SHA-256 of every file the pipeline reads.
    pub files: BTreeMap<String, String>,
    /// The sampler, steps and guidance the model expects (the form's defaults).
    pub sampling: SamplingHintView,
}

/// What sampling a model expects (`chrysalis_art::diffusion::hints`).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct SamplingHintView {
    /// "standard", "LCM" or "turbo".
    pub family: String,
    pub scheduler: Scheduler,
    pub steps: u32,
    pub min_steps: u32,
    pub max_steps: u32,
    pub guidance: f64,
    pub max_guidance: f64,
    /// Guidance ≤ 1: no classifier-free guidance (one UNet pass per step).
    pub guidance_off: bool,
    /// Where the hint was read, in words.
    pub source: String,
    pub note: Option<String>,
}

impl From<&chrysalis_art::diffusion::SamplingHint> for SamplingHintView {
    fn from(h: &chrysalis_art::diffusion::SamplingHint) -> Self {
        Self {
            family: h.family.name().into(),
            scheduler: h.scheduler,
            steps: h.steps,
            min_steps: h.min_steps,
            max_steps: h.max_steps,
            guidance: h.guidance,
            max_guidance: h.max_guidance,
            guidance_off: h.guidance_off(),
            source: h.source.clone(),
            note: h.note.clone(),
        }
    }
}

/// Which engine a generation uses, with its settings.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineChoice {
    Procedural {
        style: String,
        /// Parameters to set; the rest take their defaults.
        params: BTreeMap<String, f64>,
    },
    Diffusion {
        /// The model folder (diffusers layout).
        model_dir: String,
        steps: u32,
        guidance: f64,
        scheduler: Scheduler,
        dtype: DType,
        /// kohya-layout LoRA files merged into the model, in order (none when absent).
        #[serde(default)]
        loras: Vec<LoraChoice>,
        /// Where to compute: `cpu` (when absent), `cuda:N` (see `diffusion_devices`).
        #[serde(default)]
        #[ts(optional)]
        device: Option<String>,
        /// The tensor library: `candle` (when absent) or `torch` (libtorch, CPU only, in
        /// builds with it; see `diffusion_devices`).
        #[serde(default)]
        #[ts(optional)]
        backend: Option<Backend>,
    },
}

/// A LoRA file and the weight to apply it at.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct LoraChoice {
    /// The `.safetensors` file.
    pub path: String,
    /// 1.0 = as trained.
    pub weight: f64,
}

/// What the Create screen asks for.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct GenerateRequest {
    pub engine: EngineChoice,
    pub prompt: String,
    pub negative_prompt: String,
    #[ts(type = "number")]
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    pub stage: u32,
    /// img2img from a gallery image (diffusion only); the size becomes the source's.
    pub img2img: Option<Img2ImgRequest>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, TS)]
pub struct Img2ImgRequest {
    #[ts(type = "number")]
    pub parent_id: i64,
    pub strength: f64,
}

/// A gallery image as the UI shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct GenerationView {
    #[ts(type = "number")]
    pub id: i64,
    pub recipe: Recipe,
    pub recipe_hash: String,
    /// Relative to the project root.
    pub path: String,
    /// Absolute.
    pub file: String,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    #[ts(type = "number | null")]
    pub parent_id: Option<i64>,
    /// Unix seconds.
    #[ts(type = "number")]
    pub created_at: i64,
    /// `Flow Field` or the model's name.
    pub engine_label: String,
    /// The model fingerprint of a diffusion image.
    pub model_hash: Option<String>,
    /// The recipe as AUTOMATIC1111's `parameters` text (what other tools read).
    pub parameters: String,
}

/// What `generate` and `regenerate_check` stream.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum GenerateEvent {
    Progress {
        step: u32,
        total: u32,
        phase: String,
        /// A small picture of the work so far, as a PNG data URL, now and then.
        preview: Option<String>,
    },
}

/// The answer of "regenerate and check".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RegenCheckView {
    pub identical: bool,
    pub recorded_sha256: String,
    pub regenerated_sha256: String,
    /// `None`: the file is missing.
    pub file_sha256: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Conversions

fn view(root: &Path, g: Generation) -> GenerationView {
    let (engine_label, model_hash) = match &g.recipe.engine {
        EngineSpec::Procedural(p) => {
            (procedural::style(&p.style).map_or_else(|_| p.style.clone(), |s| s.title.to_owned()), None)
        }
        EngineSpec::Diffusion(d) => (d.model.name.clone(), Some(d.model.short_hash())),
    };
    GenerationView {
        file: g.file(root).to_string_lossy().into_owned(),
        parameters: png_meta::a1111_parameters(&g.recipe),
        id: g.id,
        recipe: g.recipe,
        recipe_hash: g.recipe_hash,
        path: g.path,
        sha256: g.sha256,
        width: g.width,
        height: g.height,
        parent_id: g.parent_id,
        created_at: g.created_at,
        engine_label,
        model_hash,
    }
}

fn png_data_url(png: &[u8]) -> String {
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png))
}

/// A PNG's thumbnail (longest side ≤ 256 px) as a data URL: what the gallery grid and the
/// Evolve screen's rows show. `what` names the image in an error.
fn thumbnail_data_url(png: &[u8], what: &str) -> CommandResult<String> {
    let image = png_meta::decode_rgb(png, what).map_err(|e| art_error(&e))?;
    Ok(png_data_url(&encode_plain_png(&art_engine::preview(&image))?))
}

fn encode_plain_png(image: &RgbImage) -> CommandResult<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| CommandError::internal(format!("cannot encode a preview: {e}")))?;
    Ok(out.into_inner())
}

fn model_dir_arg(dir: &str) -> CommandResult<PathBuf> {
    parse_path(dir, "the model folder", "~/Models/stable-diffusion-v1-5")
}

fn load_model(dir: &Path) -> CommandResult<DiffusionEngine> {
    DiffusionEngine::load(dir).map_err(|e| {
        CommandError::new(
            ErrorKind::Engine,
            format!(
                "{} is not a usable diffusion model: {}. Choose a folder in the diffusers layout (with model_index.json, unet/, vae/, text_encoder/ and tokenizer/) or a single-file Stable Diffusion 1.x/2.x .safetensors checkpoint.",
                dir.display(),
                sentence(&e.to_string()).trim_end_matches('.')
            ),
        )
    })
}

/// Streams progress, with a preview at most every [`PREVIEW_INTERVAL`] and always the last.
struct Streamer<'a> {
    channel: &'a Channel<GenerateEvent>,
    last_preview: Option<Instant>,
}

impl Streamer<'_> {
    fn send(&mut self, p: &GenProgress) {
        let due = self.last_preview.is_none_or(|t| t.elapsed() >= PREVIEW_INTERVAL) || p.step == p.total;
        let preview = match &p.preview {
            Some(image) if due => match encode_plain_png(image) {
                Ok(png) => {
                    self.last_preview = Some(Instant::now());
                    Some(png_data_url(&png))
                }
                Err(e) => {
                    tracing::warn!("{e}");
                    None
                }
            },
            _ => None,
        };
        let event = GenerateEvent::Progress { step: p.step, total: p.total, phase: p.phase.to_owned(), preview };
        // A closed window only means nobody is watching: the job itself goes on.
        if let Err(e) = self.channel.send(event) {
            tracing::debug!("progress not delivered: {e}");
        }
    }
}

/// Runs `work` as the app's one job on the blocking pool; a cancelled job answers
/// `cancelled` whatever the work returned.
async fn job<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(CancelToken) -> CommandResult<T> + Send + 'static,
) -> CommandResult<T> {
    let (id, cancel) = state.start_job()?;
    let token = cancel.clone();
    let result = blocking(move || work(token)).await;
    state.finish_job(id);
    result.map_err(|e| if cancel.is_cancelled() { CommandError::cancelled() } else { e })
}

fn with_project<T>(
    project: &SharedProject,
    f: impl FnOnce(&chrysalis_core::Project) -> CommandResult<T>,
) -> CommandResult<T> {
    f(&lock(project))
}

// ---------------------------------------------------------------------------------------
// Commands

/// The procedural styles with their parameters, the schedulers and the size limits.
#[tauri::command]
pub fn engine_catalog() -> EngineCatalog {
    let styles = procedural::STYLES
        .iter()
        .map(|s| StyleView {
            name: s.name.into(),
            title: s.title.into(),
            description: s.description.into(),
            params: s
                .params
                .iter()
                .map(|p| ParamView {
                    name: p.name.into(),
                    min: p.min,
                    max: p.max,
                    integer: p.integer,
                    default: match p.default {
                        procedural::ParamDefault::Value(v) => Some(v),
                        procedural::ParamDefault::Seeded => None,
                    },
                    doc: p.doc.into(),
                })
                .collect(),
        })
        .collect();
    let schedulers = [Scheduler::Ddim, Scheduler::Euler, Scheduler::EulerAncestral, Scheduler::Lcm]
        .into_iter()
        .map(|id| SchedulerView { id, name: id.a1111_name().into() })
        .collect();
    EngineCatalog {
        styles,
        schedulers,
        procedural_size: SizeLimits { min: procedural::MIN_SIDE, max: procedural::MAX_SIDE, multiple: 1 },
        // SD's VAE works in 8-pixel blocks; the loader checks the model's own factor too.
        diffusion_size: SizeLimits { min: diffusion::MIN_SIDE, max: diffusion::MAX_SIDE, multiple: 8 },
        max_stage: procedural::MAX_STAGE,
    }
}

/// Loads and hashes the model folder `dir` (hashes are cached, so a second look is quick).
#[tauri::command]
pub async fn model_info(dir: String) -> CommandResult<ModelInfo> {
    let dir = model_dir_arg(&dir)?;
    blocking(move || {
        let engine = load_model(&dir)?;
        let folder = engine.folder();
        let m = engine.model_ref();
        Ok(ModelInfo {
            dir: folder.dir.to_string_lossy().into_owned(),
            name: m.name.clone(),
            short_hash: m.short_hash(),
            pipeline: folder.pipeline.clone(),
            parameters: folder.params.text + folder.params.unet + folder.params.vae,
            files: m.files.clone(),
            sampling: (&folder.hint).into(),
        })
    })
    .await
}

/// What a [`GenerateRequest`] asks to run: the recipe, and where the engine finds its model,
/// LoRA files and device.
struct RequestedRun {
    recipe: Recipe,
    model_dir: Option<PathBuf>,
    lora_files: Vec<PathBuf>,
    device: Option<ComputeDevice>,
}

/// Makes the recipe a request describes (loading the model, and its LoRAs, for a diffusion
/// request), with the model folder, LoRA files and device to run it with.
fn recipe_for(request: &GenerateRequest) -> CommandResult<RequestedRun> {
    let mut lora_files = Vec::new();
    let (engine, model_dir, device) = match &request.engine {
        EngineChoice::Procedural { style, params } => {
            let spec = match procedural::recipe(style, 0, 1, 1, 0, params.clone()).engine {
                EngineSpec::Procedural(spec) => spec,
                EngineSpec::Diffusion(_) => {
                    unreachable!("procedural::recipe makes procedural recipes")
                }
            };
            (EngineSpec::Procedural(spec), None, None)
        }
        EngineChoice::Diffusion { model_dir, steps, guidance, scheduler, dtype, loras, device, backend } => {
            let device = device_arg(device.as_deref())?;
            let dir = model_dir_arg(model_dir)?;
            let mut specs = Vec::with_capacity(loras.len());
            for l in loras {
                let path = parse_path(&l.path, "the LoRA file", "~/Models/lora/style.safetensors")?;
                specs.push(diffusion::LoraSpec { path: path.clone(), weight: l.weight });
                lora_files.push(path);
            }
            let engine_error = |e: diffusion::DiffusionError| {
                CommandError::new(ErrorKind::Engine, format!("{}.", sentence(&e.to_string()).trim_end_matches('.')))
            };
            let engine = load_model(&dir)?
                .with_loras(&specs, &Default::default())
                .map_err(engine_error)?
                .on_device(device)
                .map_err(engine_error)?
                .with_backend(backend.unwrap_or_default())
                .map_err(engine_error)?;
            // Strength is filled in by the gallery from the request's source image.
            (EngineSpec::Diffusion(engine.spec(*steps, *guidance, *scheduler, *dtype, None)), Some(dir), Some(device))
        }
    };
    let recipe = Recipe {
        format: RECIPE_FORMAT,
        engine,
        seed: request.seed,
        width: request.width,
        height: request.height,
        stage: request.stage,
        prompt: request.prompt.trim().to_owned(),
        negative_prompt: request.negative_prompt.trim().to_owned(),
    };
    Ok(RequestedRun { recipe, model_dir, lora_files, device })
}

/// The device a request names (`cpu` when it names none).
fn device_arg(device: Option<&str>) -> CommandResult<ComputeDevice> {
    match device.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(ComputeDevice::Cpu),
        Some(d) => d.parse().map_err(|e: diffusion::DiffusionError| {
            CommandError::new(ErrorKind::Engine, format!("{}.", sentence(&e.to_string()).trim_end_matches('.')))
        }),
    }
}

/// One device the Create screen's "Device" picker offers.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DeviceView {
    /// What `EngineChoice::Diffusion.device` takes: `cpu`, `cuda:0`, ...
    pub id: String,
    /// `CPU (16 threads)`, `CUDA:0 NVIDIA H100 80GB HBM3`.
    pub label: String,
    /// Memory free now (system memory for the CPU, VRAM for a GPU), when known.
    #[ts(type = "number | null")]
    pub free_bytes: Option<u64>,
    #[ts(type = "number | null")]
    pub total_bytes: Option<u64>,
}

/// Where diffusion can run, for the Create screen.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DevicesView {
    pub devices: Vec<DeviceView>,
    /// Whether this build has CUDA at all (the picker explains how to get it when not).
    pub cuda_in_build: bool,
    /// Why no GPU is listed although the build has CUDA (no driver, ...).
    pub cuda_problem: Option<String>,
    /// Every tensor library diffusion can compute with, candle first, and whether this build
    /// has it (the picker explains how to get one it lacks).
    pub backends: Vec<BackendView>,
}

/// One entry of the Create screen's "Backend" picker.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BackendView {
    /// What `EngineChoice::Diffusion.backend` takes: `candle`, `torch`.
    pub id: Backend,
    /// `candle`, `libtorch`.
    pub label: String,
    pub in_build: bool,
}

/// The devices diffusion can run on, with the memory free on each now, and the backends
/// this build computes with.
#[tauri::command]
pub async fn diffusion_devices() -> CommandResult<DevicesView> {
    blocking(|| {
        let report = diffusion::available_devices();
        Ok(DevicesView {
            devices: report
                .devices
                .into_iter()
                .map(|d| DeviceView { id: d.id, label: d.label, free_bytes: d.free_bytes, total_bytes: d.total_bytes })
                .collect(),
            cuda_in_build: report.cuda_in_build,
            cuda_problem: report.cuda_problem,
            backends: report
                .backends
                .into_iter()
                .map(|b| BackendView { id: b.id, label: b.label.into(), in_build: b.in_build })
                .collect(),
        })
    })
    .await
}

/// Generates an image into the project, streaming progress (with previews) through
/// `on_progress`. Cancellable with `cancel_job`.
#[tauri::command]
pub async fn generate(
    state: State<'_, AppState>,
    request: GenerateRequest,
    on_progress: Channel<GenerateEvent>,
) -> CommandResult<GenerationView> {
    let project = state.project()?;
    job(&state, move |cancel| {
        let RequestedRun { recipe, model_dir, lora_files, device } = recipe_for(&request)?;
        cancel.check().map_err(|_| CommandError::cancelled())?;
        let img2img = request.img2img.map(|r| Img2Img { parent_id: r.parent_id, strength: r.strength });
        let prepared = with_project(&project, |p| Ok(gallery::prepare(p, recipe, img2img)?))?;
        let mut streamer = Streamer { channel: &on_progress, last_preview: None };
        let rendered = gallery::render_on(
            &prepared,
            model_dir.as_deref(),
            &lora_files,
            device,
            &mut |p| streamer.send(p),
            &cancel,
        )?;
        with_project(&project, |p| {
            let generation = gallery::record(p, &prepared, &rendered)?;
            Ok(view(p.root(), generation))
        })
    })
    .await
}

/// Every image of the project's gallery, newest first.
#[tauri::command]
pub async fn list_generations(state: State<'_, AppState>) -> CommandResult<Vec<GenerationView>> {
    let project = state.project()?;
    blocking(move || with_project(&project, |p| Ok(gallery::list(p)?.into_iter().map(|g| view(p.root(), g)).collect())))
        .await
}

/// Gallery image `id`.
#[tauri::command]
pub async fn get_generation(state: State<'_, AppState>, id: i64) -> CommandResult<GenerationView> {
    let project = state.project()?;
    blocking(move || with_project(&project, |p| Ok(view(p.root(), gallery::get(p, id)?)))).await
}

/// Gallery image `id` as a PNG data URL: a thumbnail (longest side ≤ 256 px) or the file
/// itself, checked against its recorded SHA-256.
#[tauri::command]
pub async fn generation_image(state: State<'_, AppState>, id: i64, thumbnail: bool) -> CommandResult<String> {
    let project = state.project()?;
    blocking(move || {
        let bytes = with_project(&project, |p| {
            let generation = gallery::get(p, id)?;
            Ok(gallery::read_png(p, &generation)?)
        })?;
        if !thumbnail {
            return Ok(png_data_url(&bytes));
        }
        thumbnail_data_url(&bytes, &format!("image #{id}"))
    })
    .await
}

/// NFT `index`'s image at collection stage `stage`, as the project generated it
/// (`build/stage-<s>/images/<index>.png`, the Evolve screen's `StageImage`), as a thumbnail
/// data URL like the gallery's.
#[tauri::command]
pub async fn stage_image(state: State<'_, AppState>, stage: u32, index: u32) -> CommandResult<String> {
    let project = state.project()?;
    let root = lock(&project).root().to_path_buf();
    blocking(move || {
        let image = chrysalis_pipeline::studio::StageImage::of(&root, stage, index);
        let bytes = std::fs::read(root.join(&image.path)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => CommandError::new(
                ErrorKind::NotFound,
                format!(
                    "{} is not on this computer: stage {stage} was not generated here (Publish makes it).",
                    image.path
                ),
            ),
            _ => CommandError::new(ErrorKind::Storage, format!("Could not read {}: {e}.", image.path)),
        })?;
        thumbnail_data_url(&bytes, &image.path)
    })
    .await
}

/// Makes gallery image `id` again from its recipe (writing nothing) and says whether the
/// bytes are identical. `model_dir` is needed for diffusion images, and `lora_files` (in
/// the recipe's order) for images made with LoRAs.
#[tauri::command]
pub async fn regenerate_check(
    state: State<'_, AppState>,
    id: i64,
    model_dir: Option<String>,
    lora_files: Option<Vec<String>>,
    on_progress: Channel<GenerateEvent>,
) -> CommandResult<RegenCheckView> {
    let project = state.project()?;
    let model_dir = match model_dir.filter(|d| !d.trim().is_empty()) {
        Some(dir) => Some(model_dir_arg(&dir)?),
        None => None,
    };
    let lora_files = lora_files
        .unwrap_or_default()
        .iter()
        .map(|f| parse_path(f, "the LoRA file", "~/Models/lora/style.safetensors"))
        .collect::<CommandResult<Vec<PathBuf>>>()?;
    job(&state, move |cancel| {
        let (generation, prepared) = with_project(&project, |p| {
            let generation = gallery::get(p, id)?;
            let prepared = gallery::prepare_again(p, &generation)?;
            Ok((generation, prepared))
        })?;
        let mut streamer = Streamer { channel: &on_progress, last_preview: None };
        let rendered =
            gallery::render_on(&prepared, model_dir.as_deref(), &lora_files, None, &mut |p| streamer.send(p), &cancel)?;
        let check = with_project(&project, |p| Ok(gallery::compare(p, &generation, &rendered)?))?;
        tracing::info!(id, identical = check.identical, "regenerate and check");
        Ok(RegenCheckView {
            identical: check.identical,
            recorded_sha256: check.recorded_sha256,
            regenerated_sha256: check.regenerated_sha256,
            file_sha256: check.file_sha256,
        })
    })
    .await
}

/// Copies gallery image `id` to `dest` (a file path, or a folder to put it in). Returns
/// the file written.
#[tauri::command]
pub async fn export_png(state: State<'_, AppState>, id: i64, dest: String) -> CommandResult<String> {
    let project = state.project()?;
    let dest = parse_path(&dest, "where to save the PNG", "~/Pictures/moth.png")?;
    blocking(move || with_project(&project, |p| Ok(gallery::export_png(p, id, &dest)?.to_string_lossy().into_owned())))
        .await
}

/// The program that shows a folder: `CHRYSALIS_OPENER` if set (tests), else the platform's.
pub(crate) fn opener() -> (String, Vec<String>) {
    if let Ok(cmd) = std::env::var("CHRYSALIS_OPENER")
        && !cmd.trim().is_empty()
    {
        return (cmd, Vec::new());
    }
    if cfg!(target_os = "macos") {
        ("open".into(), Vec::new())
    } else if cfg!(windows) {
        ("explorer".into(), Vec::new())
    } else {
        ("xdg-open".into(), Vec::new())
    }
}

/// Opens the folder holding gallery image `id` (or the project folder) in the file
/// manager. Returns the folder.
#[tauri::command]
pub async fn reveal_in_file_manager(state: State<'_, AppState>, id: Option<i64>) -> CommandResult<String> {
    let project = state.project()?;
    blocking(move || {
        let folder = with_project(&project, |p| match id {
            Some(id) => {
                let file = gallery::get(p, id)?.file(p.root());
                Ok(file.parent().map_or_else(|| p.root().to_path_buf(), Path::to_path_buf))
            }
            None => Ok(p.root().to_path_buf()),
        })?;
        let (program, mut args) = opener();
        args.push(folder.to_string_lossy().into_owned());
        let mut child = std::process::Command::new(&program).args(&args).spawn().map_err(|e| {
            CommandError::new(
                ErrorKind::Storage,
                format!("Could not start {program} to show {} ({e}). Open that folder yourself.", folder.display()),
            )
        })?;
        // Reap it in the background so it never lingers as a zombie.
        std::thread::spawn(move || child.wait());
        Ok(folder.to_string_lossy().into_owned())
    })
    .await
}
