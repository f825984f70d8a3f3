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

/// The VAE runs in f32 under f16 when the model asks for it (`force_upcast`: SD's VAE
/// overflows f16's range). bf16 has f32's range, so, as in diffusers, it is not upcast.
pub(crate) fn vae_dtype(model: &ModelFolder, dtype: DType) -> DType {
    if model.vae_arch.force_upcast && dtype == DType::F16 { DType::F32 } else { dtype }
}

pub(crate) fn to_dtype(d: chrysalis_core::recipe::DType) -> DType {
    match d {
        chrysalis_core::recipe::DType::F32 => DType::F32,
        chrysalis_core::recipe::DType::F16 => DType::F16,
        chrysalis_core::recipe::DType::Bf16 => DType::BF16,
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

/// What the denoising loop needs of a tensor library: the three networks, with CPU `f32`
/// candle tensors at the boundary (where the noise, the scheduler and the guidance mix live,
/// identical for every backend). Each network is built when asked and dropped after use, so
/// one is alive at a time.
pub(crate) trait Networks {
    /// Each prompt's token ids to `(1, n, hidden)` embeddings: builds, runs and drops the
    /// text encoder.
    fn encode_prompts(&self, prompts: &[&[u32]]) -> Result<Vec<Tensor>, DiffusionError>;
    /// Builds the UNet, holding the prompt embeddings (cast and placed as it needs them).
    fn unet<'a>(&'a self, contexts: &[Tensor]) -> Result<Box<dyn Denoiser + 'a>, DiffusionError>;
    /// Pixels `(1, 3, h, w)` in [-1, 1] to the VAE's latent mean (not yet scaled).
    fn encode_image(&self, x: &Tensor) -> Result<Tensor, DiffusionError>;
    /// Latents (divided by the scaling factor) to pixels `(1, 3, h, w)` in about [-1, 1].
    fn decode(&self, z: &Tensor) -> Result<Tensor, DiffusionError>;
}

/// A built UNet with its prompt embeddings.
pub(crate) trait Denoiser {
    /// The model's output for latents `x` (already scaled for the sampler) at timestep `t`,
    /// one per prompt given to [`Networks::unet`], in that order.
    fn predict(
        &self,
        x: &Tensor,
        t: f64,
        cancel: &CancelToken,
        ctx: &dyn Fn() -> String,
    ) -> Result<Vec<Tensor>, ArtError>;
}

/// The candle networks, on `dev`, in `dtype` (the VAE in `vae_dtype`).
pub(crate) struct CandleNetworks<'a> {
    pub model: &'a ModelFolder,
    pub dtype: DType,
    pub vae_dtype: DType,
    pub dev: &'a Device,
}

fn to_cpu_f32(t: Tensor) -> candle_core::Result<Tensor> {
    t.to_dtype(DType::F32).and_then(|t| t.to_device(&Device::Cpu))
}

impl Networks for CandleNetworks<'_> {
    fn encode_prompts(&self, prompts: &[&[u32]]) -> Result<Vec<Tensor>, DiffusionError> {
        let te = self.model.text_encoder(self.dtype, self.dev)?;
        prompts
            .iter()
            .map(|ids| te.encode(ids).and_then(|e| to_cpu_f32(e).ctx(|| "reading the prompt embeddings".into())))
            .collect()
    }

    fn unet<'a>(&'a self, contexts: &[Tensor]) -> Result<Box<dyn Denoiser + 'a>, DiffusionError> {
        // Embeddings made in `dtype` on `dev` come back there exactly (f16 → f32 → f16).
        let contexts = contexts
            .iter()
            .map(|c| c.to_device(self.dev).and_then(|c| c.to_dtype(self.dtype)))
            .collect::<candle_core::Result<Vec<_>>>()
            .ctx(|| "placing the prompt embeddings".into())?;
        Ok(Box::new(CandleDenoiser { unet: self.model.unet(self.dtype, self.dev)?, contexts, nets: self }))
    }

    fn encode_image(&self, x: &Tensor) -> Result<Tensor, DiffusionError> {
        let vae = self.model.vae(self.vae_dtype, self.dev)?;
        // The "sample" is the mean: see `weights::tweak_vae_quant_conv`.
        x.to_device(self.dev)
            .and_then(|x| x.to_dtype(self.vae_dtype))
            .and_then(|x| vae.encode(&x))
            .and_then(|d| d.sample())
            .and_then(to_cpu_f32)
            .ctx(|| "encoding the init image with the VAE".into())
    }

    fn decode(&self, z: &Tensor) -> Result<Tensor, DiffusionError> {
        let vae = self.model.vae(self.vae_dtype, self.dev)?;
        z.to_device(self.dev)
            .and_then(|z| z.to_dtype(self.vae_dtype))
            .and_then(|z| vae.decode(&z))
            .and_then(to_cpu_f32)
            .ctx(|| "decoding the latents with the VAE".into())
    }
}

struct CandleDenoiser<'a> {
    unet: super::unet::Unet,
    contexts: Vec<Tensor>,
    nets: &'a CandleNetworks<'a>,
}

impl Denoiser for CandleDenoiser<'_> {
    fn predict(
        &self,
        x: &Tensor,
        t: f64,
        cancel: &CancelToken,
        ctx: &dyn Fn() -> String,
    ) -> Result<Vec<Tensor>, ArtError> {
        // The guidance passes run one after the other on batch 1 (see the module's docs).
        let input = x.to_device(self.nets.dev).and_then(|x| x.to_dtype(self.nets.dtype)).ctx(ctx)?;
        let mut out = Vec::with_capacity(self.contexts.len());
        for (i, c) in self.contexts.iter().enumerate() {
            if i > 0 {
                cancel.check()?;
            }
            out.push(self.unet.forward(&input, t, c).and_then(to_cpu_f32).ctx(ctx)?);
        }
        Ok(out)
    }
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
    device: ComputeDevice,
    nets: &dyn Networks,
    on_progress: &mut dyn FnMut(&GenProgress),
    cancel: &CancelToken,
) -> Result<RunResult, ArtError> {
    validate(model, recipe, spec, init, device)?;
    let ds = model.vae_arch.downscale;
    let lshape = (1, 4, recipe.height as usize / ds, recipe.width as usize / ds);
    let guided = spec.guidance > 1.0;
    let cond_ids = model.tokenizer.encode(&recipe.prompt, "prompt")?;
    let uncond_ids =
        if guided { Some(model.tokenizer.encode(&recipe.negative_prompt, "negative prompt")?) } else { None };

    let dtype = to_dtype(spec.dtype);
    let strength = spec.init_image.as_ref().map(|i| i.strength);
    let sampler = Sampler::new(spec.scheduler, &model.schedule, spec.steps as usize, strength);
    let n = sampler.timesteps().len();
    latents::check_run_options(options, lshape, (recipe.width, recipe.height, ds), n, sampler.step_noise_draws())?;
    let total = n as u32 + 1;
    on_progress(&GenProgress::new(0, total, "encoding prompt"));
    cancel.check()?;

    // 1. Text: build the encoder, encode, drop it.
    let prompts: Vec<&[u32]> = std::iter::once(cond_ids.as_slice()).chain(uncond_ids.as_deref()).collect();
    let contexts = nets.encode_prompts(&prompts)?;
    cancel.check()?;

    // 2. Starting latents.
    let noise = match &options.init_latents {
        Some(l) => l.clone(),
        None => NormalRng::new(recipe.seed, Stream::LatentNoise).tensor(lshape).ctx(|| "drawing noise".into())?,
    };
    let scaling = model.vae_arch.scaling_factor;
    let mut latents = match (strength, init) {
        (Some(_), Some(img)) => {
            let x0 =
                (nets.encode_image(&image_to_tensor(img)?)? * scaling).ctx(|| "scaling the init latents".into())?;
            sampler.add_noise(&x0, &noise).ctx(|| "noising the init latents".into())?
        }
        _ => sampler.initial_latents(&noise).ctx(|| "scaling the starting noise".into())?,
    };
    cancel.check()?;

    // 3. Denoise.
    let unet = nets.unet(&contexts)?;
    cancel.check()?;
    let mut ancestral = NormalRng::new(recipe.seed, Stream::Ancestral);
    for (i, &t) in sampler.timesteps().iter().enumerate() {
        cancel.check()?;
        let ctx = || format!("UNet step {} of {n} (timestep {t})", i + 1);
        let input = sampler.scale_model_input(&latents, i).ctx(ctx)?;
        let mut outs = unet.predict(&input, t, cancel, &ctx)?.into_iter();
        let out_c = outs.next().expect("one output per prompt");
        let out = match outs.next() {
            Some(out_u) => (&out_u + ((out_c - &out_u).ctx(ctx)? * spec.guidance).ctx(ctx)?).ctx(ctx)?,
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
    let img = nets.decode(&(&latents / scaling).ctx(|| "scaling the latents".into())?)?;
    let rgb = tensor_to_image(&img)?;
    on_progress(&GenProgress::new(total, total, "decoding"));
    Ok(RunResult { image: rgb, latents })
}
