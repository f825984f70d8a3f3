//! The engine factory: which [`Engine`] runs a recipe.
//!
//! [`engine_for`] returns the engine a recipe names: the procedural engine for
//! `EngineSpec::Procedural`, and for `EngineSpec::Diffusion` whatever
//! [`crate::diffusion::diffusion_engine`] loads from the model folder the caller passes (the
//! recipe identifies a model by file hashes, not by path, so the caller must say where the
//! weights are). [`generate`] is the one-call convenience over both.
//!
//! It lives apart from the trait ([`crate::engine`]) so that the dependency runs one way:
//! this file knows every engine, the engines know only the trait.

use std::path::Path;

use chrysalis_core::recipe::EngineSpec;
use chrysalis_core::{CancelToken, Recipe};

use crate::engine::{ArtError, Engine, GenProgress, GeneratedImage, RgbImage};

/// The engine that runs `recipe`. `model_dir` is the diffusers-layout model folder, needed
/// only for diffusion recipes ([`ArtError::ModelDirRequired`] without one).
pub fn engine_for(recipe: &Recipe, model_dir: Option<&Path>) -> Result<Box<dyn Engine>, ArtError> {
    match &recipe.engine {
        EngineSpec::Procedural(_) => Ok(Box::new(crate::procedural::ProceduralEngine)),
        EngineSpec::Diffusion(_) => {
            let dir = model_dir.ok_or(ArtError::ModelDirRequired)?;
            crate::diffusion::diffusion_engine(dir)
        }
    }
}

/// Validates `recipe`, picks its engine and generates: the one-call path for callers that
/// do not keep an engine loaded between images.
pub fn generate(
    recipe: &Recipe,
    init: Option<&RgbImage>,
    model_dir: Option<&Path>,
    on_progress: &mut dyn FnMut(&GenProgress),
    cancel: &CancelToken,
) -> Result<GeneratedImage, ArtError> {
    recipe.validate()?;
    cancel.check()?;
    let engine = engine_for(recipe, model_dir)?;
    engine.generate(recipe, init, on_progress, cancel)
}
