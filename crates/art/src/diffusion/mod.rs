//! The Stable-Diffusion engine on candle 0.11.1: our own UNet ([`unet`]) and CLIP text
//! encoder ([`clip`]), candle's VAE, driven by our own pipeline.
//!
//! ```ignore
//! let engine = DiffusionEngine::load(Path::new("models/sd15"))?;     // configs + hashes
//! let spec = engine.spec(25, 7.5, Scheduler::EulerAncestral, DType::F32, None);
//! let recipe = Recipe { engine: EngineSpec::Diffusion(spec), seed: 42, .. };
//! let out = engine.generate(&recipe, None, &mut |p| println!("{}/{}", p.step, p.total), &cancel)?;
//! ```
//!
//! - **Loading** ([`DiffusionEngine::load`], [`diffusion_engine`]): a diffusers-layout folder
//!   (SD 1.x, SD 2.x incl. v-prediction, SD-Turbo), architecture read from its config files
//!   ([`config`]), or a single-file SD 1.x/2.x `.safetensors` checkpoint with the original
//!   LDM names, architecture read from its tensor shapes ([`single_file`]). Every file's
//!   SHA-256 is recorded in [`DiffusionEngine::model_ref`] (cached by path + size + mtime,
//!   [`hashing`]); a single file's is A1111's model hash. Weights are read per generation,
//!   one component at a time ([`model`]).
//! - **Generating** ([`crate::Engine::generate`]): txt2img and img2img, classifier-free
//!   guidance with negative prompt (off, one UNet pass per step, at guidance ≤ 1), DDIM /
//!   Euler / Euler-ancestral / LCM ([`scheduler`]), f32 or f16. Few-step models (LCM,
//!   SD-Turbo) say what sampling they expect through [`hints`]. Pixels are a pure function of the recipe (and init image): see [`rng`].
//! - **Equal to diffusers**: the same weights and starting latents give what diffusers
//!   0.42 / transformers 5 compute, to float rounding (relative L2 ~1e-6 for a whole guided
//!   run). `tests/diffusers_equivalence.rs` holds it there against models and outputs
//!   written by diffusers itself (`scripts/make-diffusers-fixtures.sh`) for DDIM, Euler and
//!   Euler-ancestral, LoRAs and img2img; runs from given starting latents and per-step noise go through
//!   [`DiffusionEngine::generate_with`] and [`RunOptions`] ([`latents`]).
//! - **Devices** ([`device`]): the CPU, or an NVIDIA GPU in builds with the `cuda` feature
//!   ([`DiffusionEngine::on_device`]). The recipe records the device class, since a CPU and
//!   a GPU round differently.
//! - **Errors** ([`DiffusionError`], wrapped in [`crate::ArtError::Diffusion`]) name the file,
//!   tensor or input at fault.
//! - **Tests and benchmarks** write seeded random-weight models through [`testing`].

pub mod clip;
pub mod config;
pub mod device;
pub mod error;
pub mod hashing;
pub mod hints;
pub mod latents;
pub mod lora;
pub mod memory;
pub mod model;
mod pipeline;
pub mod rng;
pub mod scheduler;
pub mod single_file;
#[doc(hidden)]
pub mod testing;
pub mod tokenizer;
#[cfg(feature = "torch")]
mod torch;
pub mod unet;
mod unet_layout;
mod weights;

use std::path::Path;

use chrysalis_core::CancelToken;
use chrysalis_core::recipe::{Backend, DType, DiffusionSpec, EngineSpec, InitImage, ModelRef, Recipe, Scheduler};

pub use device::{BackendInfo, ComputeDevice, DeviceInfo, DevicesReport, available_devices, cuda_compiled};
pub use error::DiffusionError;
pub use hashing::HashCacheLocation;
pub use hints::{ModelFamily, SamplingHint};
pub use latents::{RunOptions, read_init_latents};
pub use lora::LoraSpec;
pub use memory::MemoryEstimate;
pub use model::{LoadOptions, ModelFolder};
pub use pipeline::{MAX_SIDE, MIN_SIDE};

use crate::engine::{ArtError, Attribute, Engine, GenProgress, GeneratedImage, RgbImage};

/// Version of this pipeline, written into every diffusion recipe. Bump it whenever the
/// pixels for some recipe would change (sampler math, RNG use, rounding, defaults).
///
/// - 1: candle-transformers' UNet and SD 2.x text encoder (tanh-approximated GELU).
/// - 2: our own UNet and CLIP with the exact (erf) GELU diffusers uses; Euler's starting
///   noise scaled as diffusers scales it for `trailing` / `linspace` spacings; a scheduler
///   config without `clip_sample` clips DDIM's x0 estimate to [-1, 1], and one without
///   `set_alpha_to_one` ends DDIM at alpha = 1, as diffusers' `DDIMScheduler` does by default.
pub const ENGINE_VERSION: u32 = 2;

/// Whether this build has the libtorch backend (cargo feature `torch`).
pub fn torch_compiled() -> bool {
    cfg!(feature = "torch")
}

/// What [`DiffusionEngine::generate_with`] made.
pub struct DiffusionOutput {
    pub image: GeneratedImage,
    /// The final latents, before the VAE decoded them (f32, `(1, 4, h / 8, w / 8)`).
    pub latents: candle_core::Tensor,
}

/// Loads the diffusion model at `model_dir` (a diffusers-layout folder or a single-file
/// `.safetensors` checkpoint) as an [`Engine`], hashing its files through the user's hash cache.
pub fn diffusion_engine(model_dir: &Path) -> Result<Box<dyn Engine>, ArtError> {
    Ok(Box::new(DiffusionEngine::load(model_dir)?))
}

/// A loaded model folder that generates images. Holds configs, tokenizer and hashes; the
/// weights are read from disk for each generation, one component at a time.
#[derive(Debug)]
pub struct DiffusionEngine {
    folder: ModelFolder,
    /// What [`Engine::generate`] runs with (none by default; see [`Self::with_run_options`]).
    options: RunOptions,
    /// Where it computes (the CPU unless [`Self::on_device`] says otherwise), and candle's
    /// handle on it (a GPU's context, stream and cuBLAS handle are made once, here).
    device: ComputeDevice,
    candle_device: candle_core::Device,
    backend: Backend,
}

impl DiffusionEngine {
    /// Loads `dir` with the default [`LoadOptions`].
    pub fn load(dir: &Path) -> Result<Self, DiffusionError> {
        Self::load_with(dir, &LoadOptions::default())
    }

    pub fn load_with(dir: &Path, opts: &LoadOptions) -> Result<Self, DiffusionError> {
        Ok(Self {
            folder: ModelFolder::load(dir, opts)?,
            options: RunOptions::default(),
            device: ComputeDevice::Cpu,
            candle_device: candle_core::Device::Cpu,
            backend: Backend::Candle,
        })
    }

    /// This engine computing on `device`. Its recipes record the device's class, and it
    /// runs only recipes of that class ([`DiffusionError::DeviceClassMismatch`]). A GPU this
    /// build or machine cannot open is refused here, before any weights are read.
    pub fn on_device(self, device: ComputeDevice) -> Result<Self, DiffusionError> {
        let candle_device = device.candle()?;
        Ok(Self { device, candle_device, ..self })
    }

    /// This engine computing with `backend` (candle unless asked). libtorch needs a build with
    /// feature `torch` ([`torch_compiled`]) and runs on the CPU only; asked of a build without
    /// it, or on a GPU, this says so by name.
    pub fn with_backend(self, backend: Backend) -> Result<Self, DiffusionError> {
        if backend == Backend::Torch {
            if !torch_compiled() {
                return Err(DiffusionError::NoTorchInBuild { what: "was asked for".into() });
            }
            if self.device != ComputeDevice::Cpu {
                return Err(DiffusionError::DeviceUnavailable {
                    device: self.device.to_string(),
                    detail: "the libtorch backend runs on the CPU only; use the candle backend on a GPU".into(),
                });
            }
        }
        Ok(Self { backend, ..self })
    }

    /// The tensor library this engine computes with.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The device this engine computes on.
    pub fn device(&self) -> ComputeDevice {
        self.device
    }

    /// candle's handle on [`Self::device`], for building this folder's components on it
    /// ([`ModelFolder::unet`], ...). Tensors meant for them must live on this very handle:
    /// candle treats two handles on one GPU as different devices.
    pub fn candle_device(&self) -> &candle_core::Device {
        &self.candle_device
    }

    /// This engine with the LoRAs in `specs` merged into the model's weights (see
    /// [`ModelFolder::with_loras`]); its recipes record their hashes and weights.
    pub fn with_loras(self, specs: &[LoraSpec], opts: &LoadOptions) -> Result<Self, DiffusionError> {
        Ok(Self { folder: self.folder.with_loras(specs, opts)?, ..self })
    }

    /// This engine with `options` applied to every [`Engine::generate`] call (e.g. a CLI run
    /// from given starting latents). Its images are then not functions of their recipes.
    pub fn with_run_options(self, options: RunOptions) -> Self {
        Self { options, ..self }
    }

    /// The model's identity (relative path -> SHA-256 of every file the pipeline reads).
    pub fn model_ref(&self) -> &ModelRef {
        &self.folder.model_ref
    }

    /// The loaded folder: architectures, noise schedule, tokenizer.
    pub fn folder(&self) -> &ModelFolder {
        &self.folder
    }

    /// A `DiffusionSpec` for this model and engine version.
    pub fn spec(
        &self,
        steps: u32,
        guidance: f64,
        scheduler: Scheduler,
        dtype: DType,
        init_image: Option<InitImage>,
    ) -> DiffusionSpec {
        DiffusionSpec {
            engine_version: ENGINE_VERSION,
            model: self.folder.model_ref.clone(),
            steps,
            guidance,
            scheduler,
            dtype,
            init_image,
            loras: self.folder.loras.clone(),
            device: self.device.class(),
            backend: self.backend,
        }
    }

    /// The estimated memory a `width` x `height` generation in `dtype` needs (the engine
    /// refuses runs that exceed the memory available).
    pub fn memory_estimate(&self, width: u32, height: u32, dtype: DType) -> MemoryEstimate {
        // The same on every device: weights and activations are the same sizes in VRAM.
        let d = pipeline::to_dtype(dtype);
        memory::estimate(&self.folder, width, height, d, pipeline::vae_dtype(&self.folder, d))
    }

    fn attributes(&self, spec: &DiffusionSpec) -> Vec<Attribute> {
        let mut a = vec![
            Attribute::new("Engine", "Stable Diffusion"),
            Attribute::new("Model", self.folder.model_ref.name.clone()),
            Attribute::new("Sampler", spec.scheduler.a1111_name()),
            Attribute::new("Steps", spec.steps.to_string()),
            Attribute::new("CFG scale", spec.guidance.to_string()),
        ];
        match &spec.init_image {
            Some(ii) => {
                a.push(Attribute::new("Mode", "img2img"));
                a.push(Attribute::new("Strength", ii.strength.to_string()));
            }
            None => a.push(Attribute::new("Mode", "txt2img")),
        }
        for l in &spec.loras {
            a.push(Attribute::new("LoRA", format!("{} ({})", l.name, l.weight)));
        }
        a
    }
}

impl Engine for DiffusionEngine {
    fn name(&self) -> &str {
        "diffusion"
    }

    fn model(&self) -> Option<ModelRef> {
        Some(self.folder.model_ref.clone())
    }

    fn generate(
        &self,
        recipe: &Recipe,
        init: Option<&RgbImage>,
        on_progress: &mut dyn FnMut(&GenProgress),
        cancel: &CancelToken,
    ) -> Result<GeneratedImage, ArtError> {
        self.generate_with(recipe, init, &self.options, on_progress, cancel).map(|o| o.image)
    }
}

impl DiffusionEngine {
    /// [`Engine::generate`] with [`RunOptions`], also returning the final latents.
    pub fn generate_with(
        &self,
        recipe: &Recipe,
        init: Option<&RgbImage>,
        options: &RunOptions,
        on_progress: &mut dyn FnMut(&GenProgress),
        cancel: &CancelToken,
    ) -> Result<DiffusionOutput, ArtError> {
        let EngineSpec::Diffusion(spec) = &recipe.engine else {
            return Err(ArtError::WrongEngine { engine: "diffusion", kind: "procedural" });
        };
        recipe.validate()?;
        if spec.engine_version != ENGINE_VERSION {
            return Err(ArtError::EngineVersion {
                engine: "diffusion",
                found: spec.engine_version,
                supported: ENGINE_VERSION,
            });
        }
        if spec.backend != self.backend {
            return Err(DiffusionError::BackendMismatch { recipe: spec.backend, engine: self.backend }.into());
        }
        if spec.dtype == DType::Bf16 && self.backend == Backend::Candle && self.device == ComputeDevice::Cpu {
            return Err(DiffusionError::Bf16OnCandleCpu.into());
        }
        if spec.device != self.device.class() {
            return Err(DiffusionError::DeviceClassMismatch { recipe: spec.device, engine: self.device.class() }.into());
        }
        self.folder.verify(&spec.model)?;
        self.folder.verify_loras(&spec.loras)?;
        cancel.check()?;
        // candle asserts in places; a panic in there must not take the app down.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let dtype = pipeline::to_dtype(spec.dtype);
            let vae_dtype = pipeline::vae_dtype(&self.folder, dtype);
            let candle = pipeline::CandleNetworks { model: &self.folder, dtype, vae_dtype, dev: &self.candle_device };
            #[cfg(feature = "torch")]
            let torch = torch::TorchNetworks::new(&self.folder, dtype, vae_dtype);
            let nets: &dyn pipeline::Networks = match self.backend {
                Backend::Candle => &candle,
                #[cfg(feature = "torch")]
                Backend::Torch => &torch,
                #[cfg(not(feature = "torch"))]
                Backend::Torch => unreachable!("with_backend refuses libtorch in a build without it"),
            };
            pipeline::run(&self.folder, recipe, spec, init, options, self.device, nets, on_progress, cancel)
        }));
        let out = match run {
            Ok(r) => r?,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                return Err(DiffusionError::Candle {
                    context: "running the pipeline".into(),
                    source: candle_core::Error::Msg(msg),
                }
                .into());
            }
        };
        Ok(DiffusionOutput {
            image: GeneratedImage { image: out.image, attributes: self.attributes(spec) },
            latents: out.latents,
        })
    }
}
