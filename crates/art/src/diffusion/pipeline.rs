//! The Stable-Diffusion pipeline: prompt → latents → denoising loop → pixels.
//!
//! Memory: one component is alive at a time. The text encoder is built, run and dropped
//! before the UNet is built; the UNet is dropped before the VAE decodes. With classifier-free
//! guidance the conditional and unconditional UNet passes run one after the other on batch 1
//! instead of one batch-2 pass, halving the activation peak (attention scores at 512² are
//! 8 heads × 4096² floats = 512 MiB per pass). candle's sliced attention is never used (it is
//! broken in 0.11.1).
//!
//! Determinism: latents live in `f32` between steps whatever the model dtype (they are cast
//! to the model's dtype only as UNet input, and the output back); all noise comes from
//! [`NormalRng`] keyed by the recipe's seed; pixel conversion is plain `f32` arithmetic.

use candle_core::{DType, Device, Tensor};
use chrysalis_core::CancelToken;
use chrysalis_core::recipe::{DiffusionSpec, Recipe, Scheduler};
use image::RgbImage;

use super::device::{self, ComputeDevice};
use super::error::{CandleContext, DiffusionError};
use super::latents::{self, RunOptions};
use super::memory;
use super::model::ModelFolder;
use super::rng::{NormalRng, Stream};
use super::scheduler::Sampler;
use crate::engine::{ArtError, GenProgress};

/// Smallest and largest side the diffusion engine makes.
pub const MIN_SIDE: u32 = 64;
pub const MAX_SIDE: u32 = 2048;

/// Linear map from SD's 4 latent channels to RGB in roughly [-1, 1]: a cheap preview
/// (the community's well-known SD 1.x factors), not a VAE decode.
const LATENT_RGB: [[f32; 3]; 4] =
    [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]];

/// The VAE runs in f32 when the model asks for it (`force_upcast`).
pub(crate) fn vae_dtype(model: &ModelFolder, dtype: DType) -> DType {
    if model.vae_arch.force_upcast { DType::F32 } else { dtype }
}

pub(crate) fn to_dtype(d: chrysalis_core::recipe::DType) -> DType {
    match d {
        chrysalis_core::recipe::DType::F32 => DType::F32,
        chrysalis_core::recipe::DType::F16 => DType::F16,
    }
}

/// Pixels in [0, 255] to a `(1, 3, h, w)` tensor in [-1, 1].
fn image_to_tensor(img: &RgbImage) -> Result<Tensor, DiffusionError> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut chw = vec![0f32; 3 * w * h];
    for (i, px) in raw.chunks_exact(3).enumerate() {
        for c in 0..3 {
            chw[c * w * h + i] = px[c] as f32 / 127.5 - 1.0;
        }
    }
    Tensor::from_vec(chw, (1, 3, h, w), &Device::Cpu).ctx(|| "preparing the init image".into())
}

/// A `(1, 3, h, w)` tensor in [-1, 1] to pixels, rounding as diffusers does.
fn tensor_to_image(t: &Tensor) -> Result<RgbImage, DiffusionError> {
    let (_, _, h, w) = t.dims4().ctx(|| "decoded image".into())?;
    let data: Vec<f32> = t.flatten_all().and_then(|t| t.to_vec1()).ctx(|| "reading the decoded image".into())?;
    let plane = w * h;
    let mut raw = vec![0u8; 3 * plane];
    for i in 0..plane {
        for c in 0..3 {
            let v = (data[c * plane + i] * 0.5 + 0.5).clamp(0.0, 1.0);
            raw[3 * i + c] = (v * 255.0).round() as u8;
        }
    }
    Ok(RgbImage::from_raw(w as u32, h as u32, raw).expect("buffer sized for the image"))
}

/// A latent-sized RGB picture of `x0` (the model's current guess of the clean latents).
fn latent_preview(x0: &Tensor) -> Result<RgbImage, DiffusionError> {
    let (_, c, h, w) = x0.dims4().ctx(|| "preview".into())?;
    let data: Vec<f32> = x0.flatten_all().and_then(|t| t.to_vec1()).ctx(|| "preview".into())?;
    let plane = w * h;
    let mut raw = vec![0u8; 3 * plane];
    for i in 0..plane {
        for (rgb, out) in raw[3 * i..3 * i + 3].iter_mut().enumerate() {
            let v: f32 = (0..c.min(4)).map(|ch| data[ch * plane + i] * LATENT_RGB[ch][rgb]).sum();
            *out = (((v + 1.0) * 0.5).clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    Ok(RgbImage::from_raw(w as u32, h as u32, raw).expect("buffer sized for the preview"))
}

fn all_finite(t: &Tensor) -> Result<bool, DiffusionError> {
    let v: Vec<f32> = t.flatten_all().and_then(|t| t.to_vec1()).ctx(|| "checking latents".into())?;
    Ok(v.iter().all(|x| x.is_finite()))
}

/// Checks everything about a run that can be checked before loading any weights.
pub(crate) fn validate(
    model: &ModelFolder,
    recipe: &Recipe,
    spec: &DiffusionSpec,
    init: Option<&RgbImage>,
    device: ComputeDevice,
) -> Result<(), ArtError> {
    let (w, h) = (recipe.width, recipe.height);
    if !(MIN_SIDE..=MAX_SIDE).contains(&w) || !(MIN_SIDE..=MAX_SIDE).contains(&h) {
        return Err(ArtError::Size { engine: "diffusion", width: w, height: h, min: MIN_SIDE, max: MAX_SIDE });
    }
    let m = model.vae_arch.downscale as u32;
    if w % m != 0 || h % m != 0 {
        return Err(DiffusionError::SizeMultiple { width: w, height: h, multiple: m }.into());
    }
    if spec.steps as usize > model.schedule.train_steps() {
        return Err(DiffusionError::TooManySteps { steps: spec.steps, max: model.schedule.train_steps() }.into());
    }
    if spec.scheduler == Scheduler::Lcm {
        let max = model.schedule.max_lcm_steps();
        if spec.steps as usize > max {
            return Err(DiffusionError::TooManyLcmSteps { steps: spec.steps, max: max as u32 }.into());
        }
        if spec.init_image.is_some() {
            return Err(DiffusionError::LcmImg2Img.into());
        }
    }
    if let Some(ii) = &spec.init_image {
        let Some(img) = init else {
            return Err(DiffusionError::MissingInitImage { strength: ii.strength }.into());
        };
        if (img.width(), img.height()) != (w, h) {
            return Err(DiffusionError::InitImageSize {
                width: w,
                height: h,
                actual_w: img.width(),
                actual_h: img.height(),
            }
            .into());
        }
    }
    let dtype = to_dtype(spec.dtype);
    let need = memory::estimate(model, w, h, dtype, vae_dtype(model, dtype)).peak();
    if let Some(have) = device::free_memory(device)
        && need > have
    {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        return Err(DiffusionError::NotEnoughMemory {
            needed_gib: gib(need),
            available_gib: gib(have),
            device: device.to_string(),
        }
        .into());
    }
    Ok(())
}

/// What a run made: the image and the final latents it was decoded from.
pub(crate) struct RunResult {
    pub image: RgbImage,
    pub latents: Tensor,
}

/// Runs a validated recipe on `device`, with the given noise instead of the seed's where
/// `options` has some (see [`super::latents`]).
///
/// The text encoder, UNet and VAE run on `device`; the noise, the sampler's arithmetic and
/// the guidance mix stay on the CPU in f32 (a few hundred KiB per step to move, next to a
/// UNet pass), so the random draws and the scheduler are the same code on every device.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    model: &ModelFolder,
    recipe: &Recipe,
    spec: &DiffusionSpec,
    init: Option<&RgbImage>,
    options: &RunOptions,
    (device, dev): (ComputeDevice, &Device),
    on_progress: &mut dyn FnMut(&GenProgress),
    cancel: &CancelToken,
) -> Result<RunResult, ArtError> {
    validate(model, recipe, spec, init, device)?;
    let cpu = Device::Cpu;
    let ds = model.vae_arch.downscale;
    let lshape = (1, 4, recipe.height as usize / ds, recipe.width as usize / ds);
    let guided = spec.guidance > 1.0;
    let cond_ids = model.tokenizer.encode(&recipe.prompt, "prompt")?;
    let uncond_ids =
        if guided { Some(model.tokenizer.encode(&recipe.negative_prompt, "negative prompt")?) } else { None };

    let dtype = to_dtype(spec.dtype);
    let vae_dtype = vae_dtype(model, dtype);
    let strength = spec.init_image.as_ref().map(|i| i.strength);
    let sampler = Sampler::new(spec.scheduler, &model.schedule, spec.steps as usize, strength);
    let n = sampler.timesteps().len();
    latents::check_run_options(options, lshape, (recipe.width, recipe.height, ds), n, sampler.step_noise_draws())?;
    let total = n as u32 + 1;
    on_progress(&GenProgress::new(0, total, "encoding prompt"));
    cancel.check()?;

    // 1. Text: build the encoder, encode, drop it.
    let (cond, uncond) = {
        let te = model.text_encoder(dtype, dev)?;
        let cond = te.encode(&cond_ids)?;
        let uncond = match &uncond_ids {
            Some(ids) => Some(te.encode(ids)?),
            None => None,
        };
        (cond, uncond)
    };
    cancel.check()?;

    // 2. Starting latents.
    let noise = match &options.init_latents {
        Some(l) => l.clone(),
        None => NormalRng::new(recipe.seed, Stream::LatentNoise).tensor(lshape).ctx(|| "drawing noise".into())?,
    };
    let scaling = model.vae_arch.scaling_factor;
    let mut latents = match (strength, init) {
        (Some(_), Some(img)) => {
            let vae = model.vae(vae_dtype, dev)?;
            let x =
                image_to_tensor(img)?.to_device(dev).and_then(|x| x.to_dtype(vae_dtype)).ctx(|| "init image".into())?;
            // The "sample" is the mean: see `weights::tweak_vae_quant_conv`.
            let x0 = vae
                .encode(&x)
                .and_then(|d| d.sample())
                .and_then(|z| z.to_dtype(DType::F32))
                .and_then(|z| z.to_device(&cpu))
                .and_then(|z| z * scaling)
                .ctx(|| "encoding the init image with the VAE".into())?;
            sampler.add_noise(&x0, &noise).ctx(|| "noising the init latents".into())?
        }
        _ => sampler.initial_latents(&noise).ctx(|| "scaling the starting noise".into())?,
    };
    cancel.check()?;

    // 3. Denoise.
    let unet = model.unet(dtype, dev)?;
    cancel.check()?;
    let mut ancestral = NormalRng::new(recipe.seed, Stream::Ancestral);
    for (i, &t) in sampler.timesteps().iter().enumerate() {
        cancel.check()?;
        let ctx = || format!("UNet step {} of {n} (timestep {t})", i + 1);
        let input = sampler
            .scale_model_input(&latents, i)
            .and_then(|x| x.to_device(dev))
            .and_then(|x| x.to_dtype(dtype))
            .ctx(ctx)?;
        let to_cpu_f32 = |o: Tensor| o.to_dtype(DType::F32).and_then(|o| o.to_device(&cpu));
        let out_c = unet.forward(&input, t, &cond).and_then(to_cpu_f32).ctx(ctx)?;
        let out = match &uncond {
            Some(u) => {
                cancel.check()?;
                let out_u = unet.forward(&input, t, u).and_then(to_cpu_f32).ctx(ctx)?;
                (&out_u + ((out_c - &out_u).ctx(ctx)? * spec.guidance).ctx(ctx)?).ctx(ctx)?
            }
            None => out_c,
        };
        let step = match &options.step_noise {
            // The given tensors are the draws in order; steps that draw none take none.
            Some(given) => {
                let drawn_before = (0..i).filter(|&j| sampler.step_takes_noise(j)).count();
                let noise = sampler.step_takes_noise(i).then(|| &given[drawn_before]);
                sampler.step_with_noise(i, &out, &latents, noise)
            }
            None => sampler.step(i, &out, &latents, &mut ancestral),
        }
        .ctx(ctx)?;
        latents = step.prev;
        let preview = latent_preview(&step.pred_x0)?;
        on_progress(&GenProgress::new(i as u32 + 1, total, "denoising").with_preview(preview));
    }
    drop(unet);
    if !all_finite(&latents)? {
        return Err(DiffusionError::Candle {
            context: format!("denoising in {dtype:?}"),
            source: candle_core::Error::Msg("the latents overflowed to NaN/infinity (try f32)".into()),
        }
        .into());
    }
    cancel.check()?;

    // 4. Decode.
    let vae = model.vae(vae_dtype, dev)?;
    let img = (&latents / scaling)
        .and_then(|z| z.to_device(dev))
        .and_then(|z| z.to_dtype(vae_dtype))
        .and_then(|z| vae.decode(&z))
        .and_then(|x| x.to_dtype(DType::F32))
        .and_then(|x| x.to_device(&cpu))
        .ctx(|| "decoding the latents with the VAE".into())?;
    drop(vae);
    let rgb = tensor_to_image(&img)?;
    on_progress(&GenProgress::new(total, total, "decoding"));
    Ok(RunResult { image: rgb, latents })
}
