//! Explicit noise: running the pipeline from given starting latents (and, for
//! Euler-ancestral, given per-step noise) instead of the noise the recipe's seed draws.
//!
//! This exists to compare the pipeline with another implementation (diffusers) from the
//! very same starting point: the two draw different noise from the same seed. The latents
//! are the *unscaled* standard-normal noise, exactly what diffusers' `latents=` argument
//! takes: the sampler scales them as it scales its own draw (Euler by its initial σ), and
//! img2img adds them to the encoded image. Shape `(1, 4, height / 8, width / 8)` (the
//! VAE's downscale), element type f32.
//!
//! On disk (`chrysalis generate --init-latents FILE`): a safetensors file holding one F32
//! tensor of that shape (any name), or several tensors one of which is named `latents`.
//! numpy users can write one with `safetensors.numpy.save_file({"latents": arr}, path)`.
//!
//! An image made from given latents is *not* a function of its recipe: the caller must not
//! present it as regenerable (the CLI writes it without a recipe).

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::error::DiffusionError;

/// Inputs of one diffusion run that are not part of the recipe. An image made with any of
/// them set is not a function of its recipe alone.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Start from these standard-normal latents `(1, 4, height / 8, width / 8)` (f32)
    /// instead of the noise the seed draws.
    pub init_latents: Option<Tensor>,
    /// Euler-ancestral and LCM only: the fresh standard-normal noise of each step, one
    /// tensor shaped like the latents per step that draws one (Euler-ancestral: every step,
    /// the last one included, as diffusers draws; LCM: every step but the last), instead of
    /// the seed's stream.
    pub step_noise: Option<Vec<Tensor>>,
}

/// The tensor name looked for when a file holds several.
pub const LATENTS_TENSOR: &str = "latents";

/// Reads starting latents from a safetensors file (see the module docs).
pub fn read_init_latents(path: &Path) -> Result<Tensor, DiffusionError> {
    let bytes = std::fs::read(path).map_err(|e| DiffusionError::io(path, e))?;
    let file_err = |message: String| DiffusionError::InitLatentsFile { path: path.to_path_buf(), message };
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| file_err(format!("not a safetensors file ({e}); write one with safetensors' save_file")))?;
    let names = st.names();
    let name = match names.as_slice() {
        [] => return Err(file_err("holds no tensor".into())),
        [one] => one.to_string(),
        many if many.contains(&LATENTS_TENSOR) => LATENTS_TENSOR.to_string(),
        many => {
            let mut listed: Vec<&str> = many.to_vec();
            listed.sort_unstable();
            return Err(file_err(format!(
                "holds {} tensors ({}) and none is named `{LATENTS_TENSOR}`",
                listed.len(),
                listed.join(", ")
            )));
        }
    };
    let view = st.tensor(&name).map_err(|e| file_err(format!("tensor `{name}`: {e}")))?;
    if view.dtype() != safetensors::Dtype::F32 {
        return Err(DiffusionError::InitLatentsDtype { dtype: format!("{:?}", view.dtype()) });
    }
    Tensor::from_raw_buffer(view.data(), DType::F32, view.shape(), &Device::Cpu)
        .map_err(|e| file_err(format!("tensor `{name}`: {e}")))
}

/// Checks `options` fit a `width` x `height` run of `steps` steps whose latents have
/// `shape`, and whose sampler draws `noise_draws` fresh-noise tensors (0: takes none).
pub(crate) fn check_run_options(
    options: &RunOptions,
    shape: (usize, usize, usize, usize),
    (width, height, downscale): (u32, u32, usize),
    steps: usize,
    noise_draws: usize,
) -> Result<(), DiffusionError> {
    if let Some(l) = &options.init_latents {
        check_init_latents(l, shape, width, height, downscale)?;
    }
    if let Some(noise) = &options.step_noise {
        let bad = |message: String| DiffusionError::StepNoise { message };
        if noise_draws == 0 {
            return Err(
                bad("only Euler-ancestral and LCM take noise at each step; this run's sampler does not".into()),
            );
        }
        if noise.len() != noise_draws {
            let per = if noise_draws == steps { "one per step" } else { "one per step but the last" };
            return Err(bad(format!("{} tensors given for a run of {steps} steps ({per})", noise.len())));
        }
        for (i, n) in noise.iter().enumerate() {
            check_init_latents(n, shape, width, height, downscale).map_err(|e| bad(format!("step {}: {e}", i + 1)))?;
        }
    }
    Ok(())
}

/// Checks `latents` can start a `width` x `height` run whose latents have `shape`.
fn check_init_latents(
    latents: &Tensor,
    shape: (usize, usize, usize, usize),
    width: u32,
    height: u32,
    downscale: usize,
) -> Result<(), DiffusionError> {
    if latents.dtype() != DType::F32 {
        return Err(DiffusionError::InitLatentsDtype { dtype: format!("{:?}", latents.dtype()) });
    }
    let expected = vec![shape.0, shape.1, shape.2, shape.3];
    if latents.dims() != expected.as_slice() {
        return Err(DiffusionError::InitLatentsShape {
            expected,
            actual: latents.dims().to_vec(),
            width,
            height,
            downscale,
        });
    }
    let values: Vec<f32> = latents
        .flatten_all()
        .and_then(|t| t.to_vec1())
        .map_err(|e| DiffusionError::Candle { context: "reading the initial latents".into(), source: e })?;
    let count = values.iter().filter(|v| !v.is_finite()).count();
    if count > 0 {
        return Err(DiffusionError::InitLatentsNotFinite { count });
    }
    Ok(())
}
