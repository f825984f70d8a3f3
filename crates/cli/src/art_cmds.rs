//! The art commands: `generate`, `recipe`, `regenerate`, `model-info`.
//!
//! Every image is written with its recipe inside (see `chrysalis_art::png_meta`), so
//! `chrysalis regenerate FILE.png --check` can prove it regenerates to the same bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrysalis_art::diffusion::{ComputeDevice, SamplingHint};
use chrysalis_art::engine::{Engine, GenProgress, RgbImage};
use chrysalis_art::{png_meta, procedural};
use chrysalis_core::CancelToken;
use chrysalis_core::recipe::{Backend, DType, EngineSpec, InitImage, RECIPE_FORMAT, Recipe, Scheduler};
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::output::Output;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// The built-in procedural engine (no weights).
    Procedural,
    /// A Stable-Diffusion model (diffusers folder or single-file .safetensors), run by candle.
    Diffusion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchedulerArg {
    Ddim,
    Euler,
    EulerAncestral,
    /// Latent Consistency Model sampling, for LCM-distilled models (1-8 steps, guidance 1).
    Lcm,
}

impl From<SchedulerArg> for Scheduler {
    fn from(s: SchedulerArg) -> Self {
        match s {
            SchedulerArg::Ddim => Scheduler::Ddim,
            SchedulerArg::Euler => Scheduler::Euler,
            SchedulerArg::EulerAncestral => Scheduler::EulerAncestral,
            SchedulerArg::Lcm => Scheduler::Lcm,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DTypeArg {
    F32,
    F16,
    // bfloat16: fast with `--backend torch` on CPUs with AMX or AVX-512 BF16.
    Bf16,
}

impl From<DTypeArg> for DType {
    fn from(d: DTypeArg) -> Self {
        match d {
            DTypeArg::F32 => DType::F32,
            DTypeArg::F16 => DType::F16,
            DTypeArg::Bf16 => DType::Bf16,
        }
    }
}

/// The tensor library diffusion computes with (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// candle, pure Rust, in every build (default).
    Candle,
    /// libtorch (PyTorch's C++ core), CPU only, in builds made with scripts/setup-torch.sh.
    Torch,
}

impl From<BackendArg> for Backend {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Candle => Backend::Candle,
            BackendArg::Torch => Backend::Torch,
        }
    }
}

/// `chrysalis generate`
#[derive(Debug, Args)]
#[command(after_long_help = styles_help())]
pub struct GenerateArgs {
    /// Where to write the PNG (its recipe goes inside).
    #[arg(long, short)]
    out: PathBuf,
    /// Which engine: procedural (default) or diffusion (default when --model is given).
    #[arg(long, value_enum)]
    engine: Option<EngineKind>,
    /// Procedural style (see the list below).
    #[arg(long, default_value = "flow-field")]
    style: String,
    /// A style parameter, NAME=VALUE; repeat for more (see the list below).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, f64)>,
    /// Diffusion model: a diffusers-layout folder, or a single-file SD 1.x/2.x .safetensors
    /// checkpoint (as A1111, ComfyUI and Civitai use).
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// What to draw (diffusion); the title of a procedural image.
    #[arg(long, default_value = "")]
    prompt: String,
    /// What not to draw (diffusion).
    #[arg(long, default_value = "")]
    negative: String,
    /// The seed; a random one is picked and printed when omitted.
    #[arg(long)]
    seed: Option<u64>,
    /// Denoising steps (diffusion). Default: what the model expects (see `chrysalis
    /// model-info`): 20 for standard models, 4 for LCM, 1 for turbo models.
    #[arg(long)]
    steps: Option<u32>,
    /// Classifier-free guidance scale (diffusion; ≤ 1 = no guidance, one UNet pass per step).
    /// Default: what the model expects: 7.5 for standard models, 1 for LCM, 0 for turbo.
    #[arg(long)]
    guidance: Option<f64>,
    /// Sampler (diffusion). Default: what the model expects: ddim for standard models, lcm
    /// for LCM models, euler-ancestral for turbo models.
    #[arg(long, value_enum)]
    scheduler: Option<SchedulerArg>,
    /// Weights precision (diffusion). bf16 needs `--backend torch` or a GPU, and is the fast
    /// one on CPUs with AMX or AVX-512 BF16.
    #[arg(long, value_enum, default_value = "f32")]
    dtype: DTypeArg,
    /// Image size, WIDTHxHEIGHT (or one number for a square).
    #[arg(long, value_name = "WxH", value_parser = parse_size, conflicts_with_all = ["width", "height"])]
    size: Option<(u32, u32)>,
    #[arg(long)]
    width: Option<u32>,
    #[arg(long)]
    height: Option<u32>,
    /// Source image for img2img (diffusion); needs --strength.
    #[arg(long, value_name = "IMAGE", requires = "strength")]
    init: Option<PathBuf>,
    /// How far img2img moves from --init: 0 keeps it, 1 ignores it.
    #[arg(long, requires = "init")]
    strength: Option<f64>,
    /// Evolution stage (0 = first); procedural stages grow out of the previous one.
    #[arg(long, default_value_t = 0)]
    stage: u32,
    /// Start from these latents instead of the seed's noise (diffusion): a safetensors file
    /// with one F32 tensor (or one named `latents`) of shape (1, 4, HEIGHT/8, WIDTH/8),
    /// standard-normal noise as diffusers' `latents=` takes it. For comparing with other
    /// implementations: the PNG is written without a recipe, which could not regenerate it.
    #[arg(long, value_name = "FILE")]
    init_latents: Option<PathBuf>,
    /// A kohya-layout LoRA (.safetensors) to merge into the model (diffusion), at WEIGHT
    /// (default 1); repeat for more. The recipe records each file's SHA-256 and weight.
    #[arg(long, value_name = "FILE[:WEIGHT]", value_parser = chrysalis_art::diffusion::LoraSpec::parse)]
    lora: Vec<chrysalis_art::diffusion::LoraSpec>,
    /// Where diffusion computes: cpu, cuda (the first GPU) or cuda:N (builds with CUDA;
    /// `chrysalis devices` lists them). The recipe records cpu or cuda: an image
    /// regenerates bit for bit on the kind of device that made it.
    #[arg(long, value_name = "DEVICE", default_value = "cpu", value_parser = parse_device)]
    device: ComputeDevice,
    /// The tensor library diffusion computes with: candle (default, every build) or torch
    /// (libtorch, CPU only; builds made with scripts/setup-torch.sh --build; `chrysalis
    /// devices` lists what this build has). The recipe records it: an image regenerates bit
    /// for bit with the backend that made it.
    #[arg(long, value_enum, value_name = "BACKEND")]
    backend: Option<BackendArg>,
}

/// `chrysalis devices`
#[derive(Debug, Args)]
pub struct DevicesArgs {}

fn parse_device(s: &str) -> Result<ComputeDevice, String> {
    s.parse().map_err(|e: chrysalis_art::diffusion::DiffusionError| e.to_string())
}

/// `chrysalis model-info`
#[derive(Debug, Args)]
pub struct ModelInfoArgs {
    /// A diffusers-layout folder or a single-file .safetensors checkpoint.
    model: PathBuf,
}

/// `chrysalis recipe`
#[derive(Debug, Args)]
pub struct RecipeArgs {
    /// A PNG written by Chrysalis.
    file: PathBuf,
}

/// `chrysalis regenerate`
#[derive(Debug, Args)]
pub struct RegenerateArgs {
    /// A PNG written by Chrysalis.
    file: PathBuf,
    /// Exit non-zero unless the regenerated PNG is byte-for-byte identical to FILE.
    #[arg(long)]
    check: bool,
    /// Where to write the regenerated PNG (required without --check).
    #[arg(long, short, required_unless_present = "check")]
    out: Option<PathBuf>,
    /// The diffusion model (folder or .safetensors file), for diffusion recipes (checked
    /// against the recipe's hashes).
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// The img2img source image, for img2img recipes (checked against the recipe's hash).
    #[arg(long, value_name = "IMAGE")]
    init: Option<PathBuf>,
    /// The recipe's LoRA files, in the recipe's order (checked against its hashes; the
    /// weights are the recipe's).
    #[arg(long, value_name = "FILE")]
    lora: Vec<PathBuf>,
    /// The device for a diffusion recipe (cpu, cuda, cuda:N). Default: the first device of
    /// the kind the recipe was made on; another kind is refused (it would not match).
    #[arg(long, value_name = "DEVICE", value_parser = parse_device)]
    device: Option<ComputeDevice>,
}

fn parse_param(s: &str) -> Result<(String, f64), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("{s:?} is not NAME=VALUE"))?;
    let v: f64 = v.trim().parse().map_err(|_| format!("value of {k} ({v:?}) is not a number"))?;
    if !v.is_finite() {
        return Err(format!("value of {k} must be a finite number"));
    }
    Ok((k.trim().to_string(), v))
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?} is not a size like 512x512");
    let (w, h) = match s.split_once(['x', 'X']) {
        Some((w, h)) => (w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?),
        None => {
            let n = s.trim().parse().map_err(|_| bad())?;
            (n, n)
        }
    };
    Ok((w, h))
}

/// The styles and their parameters, for `generate --help`.
fn styles_help() -> String {
    let mut s = String::from("Procedural styles and their parameters (--style NAME, --param NAME=VALUE):\n");
    for style in procedural::STYLES {
        s.push_str(&format!("\n  {}: {}\n", style.name, style.description));
        for p in style.params {
            s.push_str(&format!("      {:<11} {} — {}\n", p.name, p.describe_range(), p.doc));
        }
    }
    s.push_str(&format!(
        "\nSizes {}..={} px per side; stages 0..={}.",
        procedural::MIN_SIDE,
        procedural::MAX_SIDE,
        procedural::MAX_STAGE
    ));
    s.push('\n');
    s
}

/// A seed for when none is given: < 2^32 (as A1111 uses), from the OS-seeded std hasher.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish() & 0xFFFF_FFFF
}

#[derive(Serialize)]
struct Generated<'a> {
    path: String,
    bytes: usize,
    seed: u64,
    recipe_hash: String,
    attributes: &'a [chrysalis_art::Attribute],
    recipe: &'a Recipe,
    /// `--init-latents`: the file the run started from; the PNG then carries no recipe.
    #[serde(skip_serializing_if = "Option::is_none")]
    init_latents: Option<String>,
}

/// Runs `engine` on `recipe` with a progress bar.
fn run_engine(
    out: &Output,
    engine: &dyn Engine,
    recipe: &Recipe,
    init: Option<&RgbImage>,
    cancel: &CancelToken,
) -> anyhow::Result<chrysalis_art::GeneratedImage> {
    let bar = out.progress("generating");
    let result = engine.generate(recipe, init, &mut |p: &GenProgress| bar.update(&p.to_progress()), cancel);
    bar.finish();
    result.map_err(art_error)
}

/// Keeps `Cancelled` recognisable to `main` (exit code 130) through anyhow.
fn art_error(e: chrysalis_art::ArtError) -> anyhow::Error {
    match e {
        chrysalis_art::ArtError::Cancelled(c) => anyhow::Error::new(c),
        other => anyhow::Error::new(other),
    }
}

pub fn generate(out: &Output, args: GenerateArgs, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    let engine_kind =
        args.engine.unwrap_or(if args.model.is_some() { EngineKind::Diffusion } else { EngineKind::Procedural });
    let (width, height) = args.size.unwrap_or_else(|| {
        let width = args.width.or(args.height).unwrap_or(512);
        (width, args.height.unwrap_or(width))
    });
    let seed_given = args.seed.is_some();
    let seed = args.seed.unwrap_or_else(random_seed);
    let mut params = BTreeMap::new();
    for (k, v) in &args.params {
        if params.insert(k.clone(), *v).is_some() {
            bail!("parameter {k} is given twice");
        }
    }

    let (engine, recipe, init): (Box<dyn Engine>, Recipe, Option<RgbImage>) = match engine_kind {
        EngineKind::Procedural => {
            if args.model.is_some() || args.init.is_some() || args.init_latents.is_some() || !args.lora.is_empty() {
                bail!(
                    "--model, --init, --init-latents and --lora are for the diffusion engine; the procedural engine needs none of them (pass --engine diffusion)"
                );
            }
            let mut recipe = procedural::recipe(&args.style, seed, width, height, args.stage, params);
            recipe.prompt = args.prompt.clone();
            recipe.negative_prompt = args.negative.clone();
            // Refuse bad styles, params, sizes and stages before announcing anything.
            procedural::ProceduralEngine::check(&recipe).map_err(art_error)?;
            if args.backend == Some(BackendArg::Torch) {
                bail!(
                    "--backend torch is for the diffusion engine; procedural images are made the same way in every build (drop --backend, or pass --model PATH)"
                );
            }
            (Box::new(procedural::ProceduralEngine), recipe, None)
        }
        EngineKind::Diffusion => {
            if !params.is_empty() {
                bail!(
                    "--param is for procedural styles; the diffusion engine takes --steps, --guidance, --scheduler, --dtype"
                );
            }
            let dir = args.model.as_deref().ok_or(chrysalis_art::ArtError::ModelDirRequired)?;
            let init_latents = match &args.init_latents {
                Some(path) => Some(chrysalis_art::diffusion::read_init_latents(path).map_err(|e| art_error(e.into()))?),
                None => None,
            };
            let options = chrysalis_art::diffusion::RunOptions { init_latents, ..Default::default() };
            let diffusion = chrysalis_art::diffusion::DiffusionEngine::load(dir)
                .map_err(|e| art_error(e.into()))?
                .with_loras(&args.lora, &Default::default())
                .map_err(|e| art_error(e.into()))?
                .with_run_options(options)
                .on_device(args.device)
                .map_err(|e| art_error(e.into()))?
                .with_backend(args.backend.map_or(Backend::Candle, Backend::from))
                .map_err(|e| art_error(e.into()))?;
            let backend = diffusion.backend();
            let loras = diffusion.folder().loras.clone();
            let hint = diffusion.folder().hint.clone();
            let engine: Box<dyn Engine> = Box::new(diffusion);
            let model = engine
                .model()
                .with_context(|| format!("the engine loaded from {} did not report its model files", dir.display()))?;
            let (init, init_image) = match (&args.init, args.strength) {
                (Some(path), Some(strength)) => {
                    let (image, sha256) = png_meta::load_image_file(path).map_err(art_error)?;
                    (Some(image), Some(InitImage { sha256, strength }))
                }
                _ => (None, None),
            };
            let spec = chrysalis_core::recipe::DiffusionSpec {
                engine_version: chrysalis_art::diffusion::ENGINE_VERSION,
                model,
                steps: args.steps.unwrap_or(hint.steps),
                guidance: args.guidance.unwrap_or(hint.guidance),
                scheduler: args.scheduler.map_or(hint.scheduler, Scheduler::from),
                dtype: args.dtype.into(),
                init_image,
                loras,
                device: args.device.class(),
                backend,
            };
            if let Some(warning) = outside_hint(&hint, &spec) {
                eprintln!("note: {warning}");
            }
            let recipe = Recipe {
                format: RECIPE_FORMAT,
                engine: EngineSpec::Diffusion(spec),
                seed,
                width,
                height,
                stage: args.stage,
                prompt: args.prompt.clone(),
                negative_prompt: args.negative.clone(),
            };
            (engine, recipe, init)
        }
    };
    recipe.validate()?;
    if !seed_given && !out.is_json() {
        eprintln!("seed {seed}");
    }
    let generated = run_engine(out, engine.as_ref(), &recipe, init.as_ref(), cancel)?;
    let bytes = match &args.init_latents {
        None => png_meta::write_png(&args.out, &generated.image, &recipe),
        Some(_) => png_meta::write_png_without_recipe(&args.out, &generated.image),
    }
    .map_err(art_error)?;
    let hash = recipe.hash().to_string();
    let summary = Generated {
        path: args.out.display().to_string(),
        bytes: bytes.len(),
        seed,
        recipe_hash: hash.clone(),
        attributes: &generated.attributes,
        recipe: &recipe,
        init_latents: args.init_latents.as_ref().map(|p| p.display().to_string()),
    };
    let mut rows = vec![
        ("Wrote", format!("{} ({})", args.out.display(), crate::output::bytes(bytes.len() as u64))),
        ("Seed", seed.to_string()),
        ("Recipe", hash),
    ];
    let attrs =
        generated.attributes.iter().map(|a| format!("{}: {}", a.trait_type, a.value)).collect::<Vec<_>>().join(", ");
    rows.push(("Attributes", attrs));
    if let Some(path) = &args.init_latents {
        rows.push(("Started from", format!("{} (the PNG carries no recipe: it cannot regenerate it)", path.display())));
    }
    out.data(&summary, &rows)?;
    Ok(ExitCode::SUCCESS)
}

/// A sentence when `spec` runs a few-step model far from what it expects (the run goes ahead).
fn outside_hint(hint: &SamplingHint, spec: &chrysalis_core::recipe::DiffusionSpec) -> Option<String> {
    (!hint.fits(spec.steps, spec.guidance)).then(|| {
        format!(
            "this {} model expects {} ({}-{} steps, guidance {}); running {} steps at guidance {} may look burnt or washed out",
            hint.family.name(),
            hint_summary(hint),
            hint.min_steps,
            hint.max_steps,
            guidance_text(hint.max_guidance),
            spec.steps,
            spec.guidance
        )
    })
}

fn guidance_text(g: f64) -> String {
    if g <= 1.0 { format!("{g} (off)") } else { format!("up to {g}") }
}

fn hint_summary(hint: &SamplingHint) -> String {
    let guidance = if hint.guidance_off() {
        format!("guidance {} (off)", hint.guidance)
    } else {
        format!("guidance {}", hint.guidance)
    };
    let steps = if hint.steps == 1 { "1 step".to_string() } else { format!("{} steps", hint.steps) };
    format!("{}, {steps}, {guidance}", hint.scheduler.a1111_name())
}

#[derive(Serialize)]
struct ModelInfoView<'a> {
    path: String,
    name: &'a str,
    short_hash: String,
    pipeline: &'a str,
    parameters: u64,
    files: &'a BTreeMap<String, String>,
    sampling: SamplingView<'a>,
}

#[derive(Serialize)]
struct SamplingView<'a> {
    family: &'static str,
    scheduler: Scheduler,
    steps: u32,
    min_steps: u32,
    max_steps: u32,
    guidance: f64,
    max_guidance: f64,
    guidance_off: bool,
    source: &'a str,
    note: Option<&'a str>,
}

/// `chrysalis devices`: where diffusion can run, with free memory, and with which backends.
pub fn devices(out: &Output, _: DevicesArgs) -> anyhow::Result<ExitCode> {
    let report = chrysalis_art::diffusion::available_devices();
    let gib = |b: Option<u64>| b.map_or("?".to_string(), |b| format!("{:.1}", b as f64 / (1u64 << 30) as f64));
    let mut rows: Vec<(String, String)> = report
        .devices
        .iter()
        .map(|d| (d.id.clone(), format!("{}: {} GiB free of {} GiB", d.label, gib(d.free_bytes), gib(d.total_bytes))))
        .collect();
    if !report.cuda_in_build {
        rows.push(("cuda".into(), "not in this build (scripts/setup-cuda.sh --build makes one with CUDA)".into()));
    }
    if let Some(p) = &report.cuda_problem {
        rows.push(("cuda".into(), p.clone()));
    }
    let have: Vec<&str> = report.backends.iter().filter(|b| b.in_build).map(|b| b.label).collect();
    rows.push(("backends".into(), have.join(", ")));
    for b in report.backends.iter().filter(|b| !b.in_build) {
        rows.push((
            b.label.into(),
            format!("not in this build (scripts/setup-torch.sh --build makes one with {})", b.label),
        ));
    }
    let rows: Vec<(&str, String)> = rows.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    out.data(&report, &rows)?;
    Ok(ExitCode::SUCCESS)
}

/// `chrysalis model-info`: what a model is and which sampling it expects.
pub fn model_info(out: &Output, args: ModelInfoArgs) -> anyhow::Result<ExitCode> {
    let engine = chrysalis_art::diffusion::DiffusionEngine::load(&args.model).map_err(|e| art_error(e.into()))?;
    let folder = engine.folder();
    let m = engine.model_ref();
    let h = &folder.hint;
    let view = ModelInfoView {
        path: args.model.display().to_string(),
        name: &m.name,
        short_hash: m.short_hash(),
        pipeline: &folder.pipeline,
        parameters: folder.params.text + folder.params.unet + folder.params.vae,
        files: &m.files,
        sampling: SamplingView {
            family: h.family.name(),
            scheduler: h.scheduler,
            steps: h.steps,
            min_steps: h.min_steps,
            max_steps: h.max_steps,
            guidance: h.guidance,
            max_guidance: h.max_guidance,
            guidance_off: h.guidance_off(),
            source: &h.source,
            note: h.note.as_deref(),
        },
    };
    let mut rows = vec![
        ("Model", format!("{} ({})", m.name, m.short_hash())),
        ("Pipeline", folder.pipeline.clone()),
        ("Parameters", format!("{:.1} M", view.parameters as f64 / 1e6)),
        ("Kind", h.family.name().to_string()),
        ("Expects", hint_summary(h)),
        ("Steps", format!("{}-{}", h.min_steps, h.max_steps)),
        ("Guidance", guidance_text(h.max_guidance)),
        ("Because", h.source.clone()),
    ];
    if let Some(note) = &h.note {
        rows.push(("Note", note.clone()));
    }
    out.data(&view, &rows)?;
    Ok(ExitCode::SUCCESS)
}

pub fn recipe(out: &Output, args: RecipeArgs) -> anyhow::Result<ExitCode> {
    let (_, recipe) = png_meta::recipe_from_png_file(&args.file).map_err(art_error)?;
    let mut rows: Vec<(&str, String)> = Vec::new();
    match &recipe.engine {
        EngineSpec::Procedural(p) => {
            rows.push(("Engine", format!("procedural v{}", p.engine_version)));
            rows.push(("Style", p.style.clone()));
            let params = p.params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
            rows.push(("Params", if params.is_empty() { "(defaults)".into() } else { params }));
        }
        EngineSpec::Diffusion(d) => {
            rows.push(("Engine", format!("diffusion v{}", d.engine_version)));
            rows.push(("Model", format!("{} ({})", d.model.name, d.model.short_hash())));
            rows.push(("Sampler", format!("{}, {} steps, CFG {}", d.scheduler.a1111_name(), d.steps, d.guidance)));
            rows.push(("Dtype", format!("{:?}", d.dtype).to_lowercase()));
            if !d.backend.is_candle() {
                rows.push(("Backend", d.backend.label().to_string()));
            }
            if let Some(init) = &d.init_image {
                rows.push(("Init image", format!("sha256 {} at strength {}", init.sha256, init.strength)));
            }
        }
    }
    rows.push(("Seed", recipe.seed.to_string()));
    rows.push(("Size", format!("{}x{}", recipe.width, recipe.height)));
    rows.push(("Stage", recipe.stage.to_string()));
    if !recipe.prompt.is_empty() {
        rows.push(("Prompt", recipe.prompt.clone()));
    }
    if !recipe.negative_prompt.is_empty() {
        rows.push(("Negative", recipe.negative_prompt.clone()));
    }
    rows.push(("Recipe hash", recipe.hash().to_string()));
    out.data(&recipe, &rows)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Regenerated {
    file: String,
    recipe_hash: String,
    identical: Option<bool>,
    out: Option<String>,
}

pub fn regenerate(out: &Output, args: RegenerateArgs, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    let (original, recipe) = png_meta::recipe_from_png_file(&args.file).map_err(art_error)?;
    let init = load_init_for(&recipe, args.init.as_deref())?;
    let engine =
        chrysalis_art::engine_on(&recipe, args.model.as_deref(), &args.lora, args.device).map_err(art_error)?;
    let generated = run_engine(out, engine.as_ref(), &recipe, init.as_ref(), cancel)?;
    let bytes = png_meta::encode_png(&generated.image, &recipe).map_err(art_error)?;
    if let Some(path) = &args.out {
        png_meta::write_atomic(path, &bytes).map_err(art_error)?;
    }
    let identical = args.check.then(|| bytes == original);
    let summary = Regenerated {
        file: args.file.display().to_string(),
        recipe_hash: recipe.hash().to_string(),
        identical,
        out: args.out.as_ref().map(|p| p.display().to_string()),
    };
    let mut rows = vec![("Recipe", summary.recipe_hash.clone())];
    if let Some(p) = &args.out {
        rows.push(("Wrote", p.display().to_string()));
    }
    match identical {
        Some(true) => rows.push(("Check", "identical: the recipe regenerates this file byte for byte".into())),
        Some(false) => rows.push(("Check", "DIFFERENT: the recipe does not regenerate this file".into())),
        None => {}
    }
    out.data(&summary, &rows)?;
    if identical == Some(false) {
        let pixels_match = png_meta::decode_rgb(&original, &args.file.display().to_string())
            .map(|img| img == generated.image)
            .unwrap_or(false);
        eprintln!(
            "error: {} does not match its recipe: {}",
            args.file.display(),
            if pixels_match {
                "the pixels match but the file's bytes differ (re-encoded or metadata edited)"
            } else {
                "the pixels differ (the image was edited, or made by another engine version)"
            }
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The img2img source a recipe needs, checked against its recorded hash.
fn load_init_for(recipe: &Recipe, init: Option<&Path>) -> anyhow::Result<Option<RgbImage>> {
    let wanted = match &recipe.engine {
        EngineSpec::Diffusion(d) => d.init_image.as_ref(),
        EngineSpec::Procedural(_) => None,
    };
    match (wanted, init) {
        (None, None) => Ok(None),
        (None, Some(_)) => bail!("this recipe is not img2img: drop --init"),
        (Some(w), None) => {
            bail!("this recipe is img2img: pass its source image with --init IMAGE (sha256 {})", w.sha256)
        }
        (Some(w), Some(path)) => {
            let (image, sha) = png_meta::load_image_file(path).map_err(art_error)?;
            if sha != w.sha256 {
                bail!(
                    "{} is not this recipe's source image: its sha256 is {sha}, the recipe needs {}",
                    path.display(),
                    w.sha256
                );
            }
            Ok(Some(image))
        }
    }
}
