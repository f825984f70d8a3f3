//! [`ArtError`]: everything that can go wrong making, reading or writing an image.
//!
//! Messages name the problem and, where there is one, the fix. Engines return the most
//! specific variant they can; the diffusion engine wraps its own error type in
//! [`ArtError::Diffusion`] (via [`ArtError::diffusion`]) so its detail is kept as `source`.

use std::path::PathBuf;

use chrysalis_core::Cancelled;
use chrysalis_core::recipe::RecipeError;

/// The error type of `chrysalis-art`.
#[derive(Debug, thiserror::Error)]
pub enum ArtError {
    /// The job's [`chrysalis_core::CancelToken`] was cancelled; nothing was written.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),

    /// The recipe itself is malformed (see [`RecipeError`]).
    #[error(transparent)]
    Recipe(#[from] RecipeError),

    /// Image size outside what the engine can make.
    #[error("size {width}x{height} is not supported by the {engine} engine: each side must be {min} to {max} px")]
    Size { engine: &'static str, width: u32, height: u32, min: u32, max: u32 },

    /// An evolution stage beyond what the engine defines.
    #[error("stage {stage} is beyond the last stage ({max}) this engine defines")]
    Stage { stage: u32, max: u32 },

    /// A procedural style name nobody implements.
    #[error("unknown procedural style {style:?}; known styles: {known}")]
    UnknownStyle { style: String, known: String },

    /// A parameter the style does not take.
    #[error("style {style:?} has no parameter {name:?}; its parameters: {known}")]
    UnknownParam { style: String, name: String, known: String },

    /// A parameter outside its range (or not an integer where one is needed).
    #[error("parameter {name} = {value} of style {style:?} is out of range: {expected}")]
    ParamRange { style: String, name: String, value: f64, expected: String },

    /// A recipe made by another version of an engine, whose output would differ.
    #[error(
        "recipe needs {engine} engine version {found}, this Chrysalis has version {supported}; regenerate with a Chrysalis that has version {found}"
    )]
    EngineVersion { engine: &'static str, found: u32, supported: u32 },

    /// A recipe handed to an engine of the other kind.
    #[error("the {engine} engine cannot run a {kind} recipe")]
    WrongEngine { engine: &'static str, kind: &'static str },

    /// A diffusion recipe without a model folder to run it with.
    #[error(
        "this recipe uses a diffusion model: pass the model (a diffusers folder or a single-file .safetensors checkpoint) with --model PATH"
    )]
    ModelDirRequired,

    /// A recipe with LoRAs run with another number of LoRA files than it names.
    #[error(
        "this recipe applies {wanted} LoRA(s){names} but {given} LoRA file(s) were given: pass one file per LoRA, in the recipe's order"
    )]
    LoraFiles { wanted: usize, given: usize, names: String },

    /// The diffusion engine is not part of this build.
    #[error("diffusion engine not available: {0}")]
    DiffusionUnavailable(String),

    /// Anything the diffusion engine reports (bad weights, missing file, prompt too long, ...).
    #[error("diffusion: {0}")]
    Diffusion(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),

    /// A file could not be read or written.
    #[error("{action} {path}: {source}", path = path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An image file could not be decoded (img2img source, a PNG to read back).
    #[error("cannot decode image {what}: {message}")]
    Decode { what: String, message: String },

    /// A PNG could not be encoded.
    #[error("cannot encode PNG: {0}")]
    Encode(String),

    /// A PNG without a Chrysalis recipe inside.
    #[error(
        "{0} has no Chrysalis recipe (no `chrysalis` iTXt chunk): it was not made by Chrysalis, or its metadata was stripped"
    )]
    NoRecipe(String),

    /// An AUTOMATIC1111 `parameters` text that does not parse.
    #[error("not an AUTOMATIC1111 parameters text: {0}")]
    A1111(String),
}

impl ArtError {
    /// Wraps any diffusion-side error, keeping it as the `source`.
    pub fn diffusion(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Diffusion(Box::new(e))
    }

    /// `Io` for `path`, with the action in words ("cannot read", "cannot write").
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { action, path: path.into(), source }
    }

    /// True when the job stopped because it was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled(_))
    }
}
