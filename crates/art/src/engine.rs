//! # The engine interface
//!
//! Every way Chrysalis makes an image (the built-in procedural engine, the candle
//! Stable-Diffusion pipeline) implements one trait, [`Engine`]. A caller (CLI, desktop app,
//! collection builder, `verify`) holds a [`Recipe`] and asks an engine to turn it into pixels:
//!
//! ```ignore
//! fn generate(
//!     &self,
//!     recipe: &Recipe,                          // everything that decides the pixels
//!     init: Option<&RgbImage>,                  // img2img source, already decoded
//!     on_progress: &mut dyn FnMut(&GenProgress),// step / total / optional small preview
//!     cancel: &CancelToken,                     // checked between steps
//! ) -> Result<GeneratedImage, ArtError>;
//! ```
//!
//! ## The contract every implementation keeps
//! 1. **Determinism.** The pixels depend only on `recipe` (and, for img2img, `init`, whose
//!    file hash the recipe records in `DiffusionSpec::init_image`). Same recipe, same
//!    engine version, any machine, any run: identical pixels. Every random draw comes from
//!    our own seeded RNG (ChaCha) derived from `recipe.seed`; no thread-scheduling, hash-map
//!    order or wall-clock dependence. If output for a recipe ever changes, bump the
//!    `engine_version` the engine writes and refuses to run recipes of other versions
//!    ([`ArtError::EngineVersion`]).
//! 2. **Validation first.** Check the recipe (size, params, engine kind, version, model
//!    hashes) before doing any heavy work, and fail with the most specific [`ArtError`]
//!    variant. Never panic on user input.
//! 3. **Progress.** Call `on_progress` once with `step = 0` when work starts, then after
//!    each unit of work (a denoising step, a block of rows, an iteration batch), with
//!    `step` rising monotonically to `total`. The final call has `step == total`. `total`
//!    never changes during one generation. `preview`, when present, is a *small* RGB image
//!    (longest side ≤ [`PREVIEW_MAX_SIDE`] px) of the work so far; send it sparingly (it
//!    costs time), consumers must not assume any particular size or frequency.
//! 4. **Cancellation.** Check `cancel` between units of work (at least once per step that
//!    `on_progress` reports) and return `Err(ArtError::Cancelled(_))` at once, so a cancel
//!    stops within one step. Nothing is written anywhere on cancel: engines return pixels,
//!    they never write files.
//! 5. **Output.** [`GeneratedImage`] holds the RGB8 pixels (exactly `recipe.width` x
//!    `recipe.height`) and the NFT attributes (`trait_type`, `value`) the engine can state
//!    about the image (style, palette, density, sampler, ...). Encoding the PNG with its
//!    provenance chunks is [`crate::png_meta`]'s job, not the engine's.
//!
//! Engines are `Send + Sync` so the desktop app can keep one loaded and run it on a worker
//! thread. Loading is separate from generating: build an engine once (for diffusion this
//! reads and hashes the weights), then call `generate` many times.
//!
//! ## Picking an engine
//! This file knows no engine: the engines import it, never the reverse. Choosing the engine a
//! recipe names is [`crate::engines`]' job ([`crate::engine_for`], [`crate::generate`]).

use chrysalis_core::recipe::ModelRef;
use chrysalis_core::{CancelToken, Progress, Recipe};
use serde::{Deserialize, Serialize};

pub use crate::error::ArtError;
/// RGB, 8 bits per channel, row-major: the pixel type every engine produces and consumes.
pub use image::RgbImage;

/// Longest side, in pixels, of a [`GenProgress::preview`].
pub const PREVIEW_MAX_SIDE: u32 = 256;

/// One progress report from a running generation.
#[derive(Debug, Clone)]
pub struct GenProgress {
    /// Units of work done so far (0 when starting; `total` on the last report).
    pub step: u32,
    /// Units of work in this generation; constant for one generation, ≥ 1.
    pub total: u32,
    /// What is happening, for a person: "denoising", "growing", "decoding", ...
    pub phase: &'static str,
    /// A small picture of the work so far (longest side ≤ [`PREVIEW_MAX_SIDE`]), if the
    /// engine chose to make one for this step.
    pub preview: Option<RgbImage>,
}

impl GenProgress {
    pub fn new(step: u32, total: u32, phase: &'static str) -> Self {
        Self { step, total, phase, preview: None }
    }

    pub fn with_preview(mut self, preview: RgbImage) -> Self {
        self.preview = Some(preview);
        self
    }

    /// The generic [`Progress`] the CLI bar and the desktop channel show.
    pub fn to_progress(&self) -> Progress {
        Progress::new(u64::from(self.step), u64::from(self.total), self.phase)
    }
}

/// One NFT attribute an engine states about its image (Metaplex `attributes` entry).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Attribute {
    pub trait_type: String,
    pub value: String,
}

impl Attribute {
    pub fn new(trait_type: impl Into<String>, value: impl Into<String>) -> Self {
        Self { trait_type: trait_type.into(), value: value.into() }
    }
}

/// What an engine returns: pixels plus the attributes it can state about them.
#[derive(Debug, Clone)]
pub struct GeneratedImage {
    /// Exactly `recipe.width` x `recipe.height`.
    pub image: RgbImage,
    /// NFT attributes, in a fixed order chosen by the engine.
    pub attributes: Vec<Attribute>,
}

/// An image engine. See the module documentation for the contract.
pub trait Engine: Send + Sync {
    /// A short name for logs and errors: `procedural`, `diffusion`.
    fn name(&self) -> &str;

    /// The model this engine runs, for engines that run one (diffusion): the caller copies
    /// it into a new recipe's `DiffusionSpec::model`. `None` for the procedural engine.
    fn model(&self) -> Option<ModelRef> {
        None
    }

    /// Makes the image `recipe` describes. `init` is the decoded img2img source when the
    /// recipe asks for one (engines that do not use one ignore it).
    fn generate(
        &self,
        recipe: &Recipe,
        init: Option<&RgbImage>,
        on_progress: &mut dyn FnMut(&GenProgress),
        cancel: &CancelToken,
    ) -> Result<GeneratedImage, ArtError>;
}

/// A preview-sized copy of `image` (longest side ≤ [`PREVIEW_MAX_SIDE`]; box-filtered, so
/// deterministic and cheap). Images already small enough are copied as they are.
pub fn preview(image: &RgbImage) -> RgbImage {
    let (w, h) = image.dimensions();
    let f = w.max(h).div_ceil(PREVIEW_MAX_SIDE).max(1);
    if f == 1 {
        return image.clone();
    }
    let (pw, ph) = (w / f, h / f);
    RgbImage::from_fn(pw.max(1), ph.max(1), |x, y| {
        let mut sum = [0u32; 3];
        for dy in 0..f {
            for dx in 0..f {
                let p = image.get_pixel((x * f + dx).min(w - 1), (y * f + dy).min(h - 1));
                for c in 0..3 {
                    sum[c] += u32::from(p[c]);
                }
            }
        }
        let n = f * f;
        image::Rgb([((sum[0] + n / 2) / n) as u8, ((sum[1] + n / 2) / n) as u8, ((sum[2] + n / 2) / n) as u8])
    })
}
