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

/// [`engine_for`], with the LoRA `files` a diffusion recipe names merged in at the recipe's
/// weights (one file per recipe LoRA, in its order; each is checked against the recipe's
/// SHA-256 when the engine runs). A count that differs from the recipe's is refused, naming
/// the LoRAs the recipe needs.
pub fn engine_with_loras(
    recipe: &Recipe,
    model_dir: Option<&Path>,
    files: &[std::path::PathBuf],
) -> Result<Box<dyn Engine>, ArtError> {
    let wanted: &[chrysalis_core::recipe::LoraRef] = match &recipe.engine {
        EngineSpec::Diffusion(d) => &d.loras,
        EngineSpec::Procedural(_) => &[],
    };
    if wanted.is_empty() && files.is_empty() {
        return engine_for(recipe, model_dir);
    }
    if wanted.len() != files.len() {
        let names: Vec<String> = wanted.iter().map(|l| format!("{} (sha256 {})", l.name, l.sha256)).collect();
        return Err(ArtError::LoraFiles {
            wanted: wanted.len(),
            given: files.len(),
            names: if names.is_empty() { String::new() } else { format!(": {}", names.join(", ")) },
        });
    }
    let dir = model_dir.ok_or(ArtError::ModelDirRequired)?;
    let specs: Vec<crate::diffusion::LoraSpec> = files
        .iter()
        .zip(wanted)
        .map(|(path, l)| crate::diffusion::LoraSpec { path: path.clone(), weight: l.weight })
        .collect();
    let engine = crate::diffusion::DiffusionEngine::load(dir)?.with_loras(&specs, &Default::default())?;
    Ok(Box::new(engine))
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
