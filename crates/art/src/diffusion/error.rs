//! [`DiffusionError`]: what can go wrong loading a model folder or running the pipeline.
//!
//! Every variant names the file, tensor or input at fault so a person can fix it without a
//! debugger. The engine hands these to callers wrapped in [`crate::ArtError::Diffusion`];
//! `err.downcast_ref::<DiffusionError>()` on that variant's box gets the detail back.

use std::path::PathBuf;

/// Why a diffusion model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum DiffusionError {
    /// A file the diffusers layout requires is not there.
    #[error("missing {what}: {path} does not exist", path = path.display())]
    MissingFile { path: PathBuf, what: String },

    /// A file exists but could not be read.
    #[error("cannot read {path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A config file that is not JSON, or whose fields have the wrong type.
    #[error("{path}: {message}", path = path.display())]
    BadConfig { path: PathBuf, message: String },

    /// A config describing a model this pipeline does not run (SDXL, inpainting, ...).
    #[error("{path}: unsupported architecture: {detail}", path = path.display())]
    UnsupportedArchitecture { path: PathBuf, detail: String },

    /// A weight file that is not a valid safetensors file (truncated, garbage header, ...).
    #[error("{path} is not a valid safetensors file: {detail}", path = path.display())]
    CorruptWeights { path: PathBuf, detail: String },

    /// The architecture in the config needs a tensor the weight files do not have.
    #[error("tensor {tensor} is missing from {path} (the architecture in {config} needs it)", path = path.display(), config = config.display())]
    MissingTensor { path: PathBuf, config: PathBuf, tensor: String },

    /// A tensor whose shape differs from what the config's architecture needs.
    #[error("tensor {tensor} in {path} has shape {actual:?}, but the architecture in {config} needs {expected:?}", path = path.display(), config = config.display())]
    TensorShape { path: PathBuf, config: PathBuf, tensor: String, expected: Vec<usize>, actual: Vec<usize> },

    /// A tensor stored in a type we cannot use as weights.
    #[error("tensor {tensor} in {path} is stored as {dtype}; weights must be F32, F16, BF16 or F64", path = path.display())]
    TensorDtype { path: PathBuf, tensor: String, dtype: String },

    /// The tokenizer files could not be loaded, or lack CLIP's special tokens.
    #[error("tokenizer {path}: {message}", path = path.display())]
    Tokenizer { path: PathBuf, message: String },

    /// A prompt with more tokens than the text encoder takes.
    #[error("the {which} is {tokens} tokens long (counting the start and end tokens); this model takes at most {max}: shorten it by {over} tokens", over = tokens - max)]
    PromptTooLong { which: &'static str, tokens: usize, max: usize },

    /// An img2img recipe run without its source image.
    #[error(
        "this recipe is img2img (strength {strength}) but no init image was given: pass the source image (for an evolution stage, the previous stage's PNG)"
    )]
    MissingInitImage { strength: f64 },

    /// An img2img source whose size differs from the recipe's.
    #[error(
        "the init image is {actual_w}x{actual_h} but the recipe asks for {width}x{height}: resize the source first"
    )]
    InitImageSize { width: u32, height: u32, actual_w: u32, actual_h: u32 },

    /// Starting latents (`RunOptions::init_latents`) whose shape does not fit the run.
    #[error(
        "the initial latents have shape {actual:?}, but a {width}x{height} image with this model starts from {expected:?} (batch 1, {channels} channels, height / {downscale}, width / {downscale})", channels = expected.get(1).copied().unwrap_or(0)
    )]
    InitLatentsShape { expected: Vec<usize>, actual: Vec<usize>, width: u32, height: u32, downscale: usize },

    /// Starting latents in another element type than f32.
    #[error("the initial latents are {dtype}; they must be F32 (standard-normal noise, as the seed would draw it)")]
    InitLatentsDtype { dtype: String },

    /// Starting latents with NaN or infinite values.
    #[error("the initial latents contain {count} NaN or infinite values")]
    InitLatentsNotFinite { count: usize },

    /// Per-step noise (`RunOptions::step_noise`) that does not fit the run.
    #[error("the per-step noise does not fit this run: {message}")]
    StepNoise { message: String },

    /// A file that should hold starting latents but does not (not safetensors, several tensors, ...).
    #[error("initial latents file {path}: {message}", path = path.display())]
    InitLatentsFile { path: PathBuf, message: String },

    /// A size the VAE cannot map onto latents exactly.
    #[error("size {width}x{height}: both sides must be multiples of {multiple} for this model")]
    SizeMultiple { width: u32, height: u32, multiple: u32 },

    /// The recipe's model (file hashes) is not this model (folder or single file).
    #[error("this model is not the recipe's model: {}", describe_mismatch(.missing, .unexpected, .changed))]
    ModelMismatch {
        /// Files the recipe lists that the folder lacks.
        missing: Vec<String>,
        /// Files the folder's model uses that the recipe does not list.
        unexpected: Vec<String>,
        /// Files present in both whose SHA-256 differs.
        changed: Vec<String>,
    },

    /// Model files changed on disk after the engine loaded (and hashed) them.
    #[error("model files changed on disk since the model was loaded: {}; load the model again", files.join(", "))]
    ModelChanged { files: Vec<String> },

    /// A LoRA file this pipeline cannot apply to this model (unknown key, other
    /// architecture, shapes that do not fit, a kind of LoRA other than lora_down/lora_up).
    #[error("LoRA {path}: {message}", path = path.display())]
    Lora { path: PathBuf, message: String },

    /// The recipe's LoRAs (hashes and weights) are not the ones this engine applies.
    #[error("the recipe's LoRAs are not the ones loaded: the recipe has {wanted}, the engine applies {have}")]
    LoraMismatch { wanted: String, have: String },

    /// More steps than the model's training schedule has timesteps.
    #[error("{steps} steps is more than this model's {max} training timesteps")]
    TooManySteps { steps: u32, max: usize },

    /// An LCM run longer than the model's distillation schedule (`original_inference_steps`).
    #[error(
        "the LCM sampler takes at most {max} steps with this model (its `original_inference_steps`); {steps} were asked for"
    )]
    TooManyLcmSteps { steps: u32, max: u32 },

    /// img2img with the LCM sampler (its strength handling differs from the other samplers').
    #[error("the LCM sampler does not do img2img (an init image) yet: use DDIM, Euler or Euler a for img2img")]
    LcmImg2Img,

    /// The run would need more memory than the system has available.
    #[error(
        "this generation needs about {needed_gib:.1} GiB of memory but only {available_gib:.1} GiB is {where_}: use a smaller size, f16, or close other programs", where_ = if device == "cpu" { "available".to_string() } else { format!("free on {device}") }
    )]
    NotEnoughMemory { needed_gib: f64, available_gib: f64, device: String },

    /// A device name `--device` (or a spec) cannot mean.
    #[error("unknown device '{name}': use cpu, cuda (the first GPU) or cuda:N")]
    UnknownDevice { name: String },

    /// A GPU asked of a build compiled without CUDA.
    #[error(
        "this build of Chrysalis was compiled without CUDA, so it runs diffusion on the CPU only: build one with `scripts/setup-cuda.sh --build` (see DEVELOPERS.md, \"CUDA build\") or pick the CPU"
    )]
    NoCudaInBuild,

    /// A GPU the driver could not open (no such ordinal, no driver, out of memory).
    #[error("cannot use {device}: {detail}")]
    DeviceUnavailable { device: String, detail: String },

    /// A recipe made on one kind of processor, asked to run on another: the pixels would
    /// differ in their last bits, so the image would not regenerate.
    #[error(
        "this recipe was made on the {recipe} and regenerates bit for bit only there, but this engine runs on the {engine}: {advice}", recipe = recipe.label(), engine = engine.label(), advice = match recipe { chrysalis_core::recipe::DeviceClass::Cpu => "run it with --device cpu".to_string(), chrysalis_core::recipe::DeviceClass::Cuda => "run it with --device cuda (a Chrysalis build with CUDA, on an NVIDIA GPU)".to_string() }
    )]
    DeviceClassMismatch { recipe: chrysalis_core::recipe::DeviceClass, engine: chrysalis_core::recipe::DeviceClass },

    /// A recipe (or a request) for the libtorch backend, in a build without it.
    #[error(
        "this build of Chrysalis has no libtorch backend, which {what}: build one with `scripts/setup-torch.sh --build` (the CLI) or `scripts/studio.sh --torch` (the app; see DEVELOPERS.md, \"libtorch backend\"), or use the candle backend"
    )]
    NoTorchInBuild { what: String },

    /// A recipe made with one tensor library, asked to run on another: the pixels would
    /// differ in their last bits, so the image would not regenerate.
    #[error(
        "this recipe was made with the {recipe} backend and regenerates bit for bit only there, but this engine runs {engine}: run it on {recipe} (`chrysalis regenerate` and the Gallery take the backend from the recipe; `generate --backend {flag}` makes new images with it)", recipe = recipe.label(), engine = engine.label(), flag = match recipe { chrysalis_core::recipe::Backend::Candle => "candle", chrysalis_core::recipe::Backend::Torch => "torch" }
    )]
    BackendMismatch { recipe: chrysalis_core::recipe::Backend, engine: chrysalis_core::recipe::Backend },

    /// bf16 asked of candle on the CPU, which has no bf16 matrix product there.
    #[error(
        "bf16 runs on the libtorch backend (--backend torch) or a GPU: candle has no bf16 matrix product on the CPU; use f16 or f32 here"
    )]
    Bf16OnCandleCpu,

    /// An error inside libtorch while running a model.
    #[error("{context}: {detail}")]
    Torch { context: String, detail: String },

    /// An error inside candle while running a model.
    #[error("{context}: {source}")]
    Candle {
        context: String,
        #[source]
        source: candle_core::Error,
    },
}

fn describe_mismatch(missing: &[String], unexpected: &[String], changed: &[String]) -> String {
    let mut parts = Vec::new();
    if !changed.is_empty() {
        parts.push(format!("different contents (SHA-256) in {}", changed.join(", ")));
    }
    if !missing.is_empty() {
        parts.push(format!("the recipe needs {} which this model lacks", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        parts.push(format!("this model also uses {} which the recipe does not list", unexpected.join(", ")));
    }
    parts.join("; ")
}

impl DiffusionError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Self::MissingFile { what: "file".into(), path }
        } else {
            Self::Io { path, source }
        }
    }

    pub(crate) fn bad_config(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::BadConfig { path: path.into(), message: message.into() }
    }

    pub(crate) fn unsupported(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        Self::UnsupportedArchitecture { path: path.into(), detail: detail.into() }
    }
}

/// Adds "what we were doing" to candle errors: `tensor_op()?` → `.ctx("UNet step 3")?`.
pub(crate) trait CandleContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, DiffusionError>;
}

impl<T> CandleContext<T> for Result<T, candle_core::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, DiffusionError> {
        self.map_err(|source| DiffusionError::Candle { context: context(), source })
    }
}

impl From<DiffusionError> for crate::ArtError {
    fn from(e: DiffusionError) -> Self {
        crate::ArtError::diffusion(e)
    }
}
