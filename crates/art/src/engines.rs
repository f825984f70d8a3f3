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

use chrysalis_core::recipe::{Backend, DeviceClass, EngineSpec};
use chrysalis_core::{CancelToken, Recipe};

use crate::diffusion::{ComputeDevice, DiffusionError};
use crate::engine::{ArtError, Engine, GenProgress, GeneratedImage, RgbImage};

/// The engine that runs `recipe`. `model_dir` is the diffusers-layout model folder, needed
/// only for diffusion recipes ([`ArtError::ModelDirRequired`] without one).
pub fn engine_for(recipe: &Recipe, model_dir: Option<&Path>) -> Result<Box<dyn Engine>, ArtError> {
    match &recipe.engine {
        EngineSpec::Procedural(_) => Ok(Box::new(crate::procedural::ProceduralEngine)),
        EngineSpec::Diffusion(_) => engine_on(recipe, model_dir, &[], None),
    }
}

/// The diffusion engine for `recipe` on `device`, or when `None` on the first device of the
/// class the recipe was made on (the CPU, or `cuda:0`), with the recipe's LoRAs merged from
/// `lora_files` (one file per recipe LoRA, in its order, at the recipe's weights; each is
/// checked against the recipe's SHA-256 when the engine runs; a count that differs from the
/// recipe's is refused, naming the LoRAs it needs). A recipe of a class this build cannot run is refused with
/// [`crate::diffusion::DiffusionError::DeviceClassMismatch`] before anything is loaded.
pub fn engine_on(
    recipe: &Recipe,
    model_dir: Option<&Path>,
    lora_files: &[std::path::PathBuf],
    device: Option<ComputeDevice>,
) -> Result<Box<dyn Engine>, ArtError> {
    let EngineSpec::Diffusion(spec) = &recipe.engine else {
        lora_specs(recipe, lora_files)?; // refuses LoRA files for a procedural recipe
        return Ok(Box::new(crate::procedural::ProceduralEngine));
    };
    let device = device.unwrap_or(ComputeDevice::default_for(spec.device));
    if device.class() != spec.device || (spec.device == DeviceClass::Cuda && !crate::diffusion::cuda_compiled()) {
        let engine = if crate::diffusion::cuda_compiled() { device.class() } else { DeviceClass::Cpu };
        return Err(DiffusionError::DeviceClassMismatch { recipe: spec.device, engine }.into());
    }
    if spec.backend == Backend::Torch && !crate::diffusion::torch_compiled() {
        return Err(DiffusionError::NoTorchInBuild { what: "this recipe was made with".into() }.into());
    }
    let dir = model_dir.ok_or(ArtError::ModelDirRequired)?;
    let specs = lora_specs(recipe, lora_files)?;
    let engine = crate::diffusion::DiffusionEngine::load(dir)?;
    let engine = if specs.is_empty() { engine } else { engine.with_loras(&specs, &Default::default())? };
    Ok(Box::new(engine.on_device(device)?.with_backend(spec.backend)?))
}

/// The LoRA specs for `recipe` from `files` (one per recipe LoRA, in its order, at the
/// recipe's weights); a count that differs from the recipe's is refused, naming them.
fn lora_specs(recipe: &Recipe, files: &[std::path::PathBuf]) -> Result<Vec<crate::diffusion::LoraSpec>, ArtError> {
    let wanted: &[chrysalis_core::recipe::LoraRef] = match &recipe.engine {
        EngineSpec::Diffusion(d) => &d.loras,
        EngineSpec::Procedural(_) => &[],
    };
    if wanted.len() != files.len() {
        let names: Vec<String> = wanted.iter().map(|l| format!("{} (sha256 {})", l.name, l.sha256)).collect();
        return Err(ArtError::LoraFiles {
            wanted: wanted.len(),
            given: files.len(),
            names: if names.is_empty() { String::new() } else { format!(": {}", names.join(", ")) },
        });
    }
    Ok(files
        .iter()
        .zip(wanted)
        .map(|(path, l)| crate::diffusion::LoraSpec { path: path.clone(), weight: l.weight })
        .collect())
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
