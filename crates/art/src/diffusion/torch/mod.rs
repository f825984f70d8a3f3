//! The libtorch backend: the same pipeline, with the text encoder, UNet and VAE computed by
//! PyTorch's C++ core (ATen) through `tch`, behind cargo feature `torch`.
//!
//! Why a second backend: on a CPU, candle 0.11.1 runs our SD 1.5 UNet about 3x slower than
//! PyTorch (see the README's diffusers comparison and its profile: im2col copies, one-pass
//! norms, an allocation per op). libtorch has oneDNN convolutions, MKL GEMMs and a fused
//! attention kernel; with it a step costs what it costs in diffusers.
//!
//! What stays ours, identical on both backends: the tokenizer, the weight reader (name maps,
//! single-file checkpoints, LoRA merging, shape checks), the noise, every scheduler, the
//! guidance mix and the pixel conversion. Only the three networks are libtorch's. Their
//! images differ from candle's in the last bits (other kernels, other summation orders),
//! so a recipe records its backend ([`chrysalis_core::recipe::Backend`]) and regenerates
//! on that backend only.
//!
//! Differences in the running, not in the maths: classifier-free guidance runs as one
//! batch-2 UNet pass (as diffusers does; libtorch's GEMMs use the wider batch better), and
//! attention goes through ATen's fused `scaled_dot_product_attention`.
//!
//! Bit-for-bit: the same recipe gives the same bytes on every libtorch run and at any thread
//! count. Two things make that so (`scripts/test-torch.sh` checks 1-3 threads): MKL, which
//! does libtorch's GEMMs, runs in its strict "conditional numerical reproducibility" mode
//! ([`reproducible_gemms`]), and 1×1 convolutions are written as GEMMs (oneDNN's 1×1 kernel
//! splits the channel sum between threads). Without them a 256² image differed between 1
//! and 2 threads. Across CPUs: MKL and oneDNN pick their kernels by instruction set, so an
//! image regenerates bit for bit on CPUs of the same kind (AVX-512 with AVX-512, AVX2 with
//! AVX2); pinning every machine to AVX2 would cost 2.3x per step on this AVX-512 Xeon.

mod clip;
mod layers;
mod unet;
mod vae;

use candle_core::Tensor;
use chrysalis_core::CancelToken;
use tch::Kind;

use super::error::DiffusionError;
use super::model::{ModelFolder, Part, warn_unused};
use super::pipeline::{Denoiser, Networks};
use crate::engine::ArtError;
use layers::{Weights, from_candle, to_candle};

unsafe extern "C" {
    /// oneMKL's `mkl_cbwr_set` (conditional numerical reproducibility), under the name the
    /// MKL statically linked into PyPI's `libtorch_cpu.so` exports it.
    fn mkl_serv_cbwr_set(settings: i32) -> i32;
}

/// `MKL_CBWR_AUTO | MKL_CBWR_STRICT` from `mkl_service.h`: the CPU's own code path, with
/// results independent of the thread count.
const MKL_CBWR_AUTO_STRICT: i32 = 2 | 0x10000;

/// Puts MKL in strict reproducible mode, once per process, before the first GEMM.
fn reproducible_gemms() -> Result<(), DiffusionError> {
    static RESULT: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    // SAFETY: a plain C call with an integer argument; MKL documents it as callable at any
    // time before its first computation and reports misuse through the return code.
    let code = *RESULT.get_or_init(|| unsafe { mkl_serv_cbwr_set(MKL_CBWR_AUTO_STRICT) });
    if code == 0 {
        Ok(())
    } else {
        Err(DiffusionError::Torch {
            context: "making libtorch's matrix products reproducible (MKL strict mode)".into(),
            detail: format!("mkl_cbwr_set returned {code}, so images would depend on the thread count"),
        })
    }
}

/// The libtorch networks of `model`, in `dtype` (the VAE in `vae_dtype`).
pub(crate) struct TorchNetworks<'a> {
    model: &'a ModelFolder,
    kind: Kind,
    vae_kind: Kind,
}

fn kind_of(d: candle_core::DType) -> Kind {
    match d {
        candle_core::DType::F16 => Kind::Half,
        candle_core::DType::BF16 => Kind::BFloat16,
        _ => Kind::Float,
    }
}

impl<'a> TorchNetworks<'a> {
    pub(crate) fn new(model: &'a ModelFolder, dtype: candle_core::DType, vae_dtype: candle_core::DType) -> Self {
        Self { model, kind: kind_of(dtype), vae_kind: kind_of(vae_dtype) }
    }

    fn vae(&self, encoder: bool, decoder: bool) -> Result<vae::Vae, DiffusionError> {
        reproducible_gemms()?;
        let files = self.model.weight_reader(Part::Vae)?;
        let arch = &self.model.vae_arch;
        let v =
            vae::Vae::new(&Weights::new(&files, self.vae_kind), &arch.config, arch.has_quant_conv, encoder, decoder)?;
        Ok(v)
    }
}

/// Runs `f` without autograd bookkeeping, turning a libtorch error (which `tch` raises as a
/// panic) into a [`DiffusionError`] naming `what`.
fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, DiffusionError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tch::no_grad(f))).map_err(|panic| {
        let detail = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "libtorch failed".into());
        DiffusionError::Torch { context: what.into(), detail }
    })
}

impl Networks for TorchNetworks<'_> {
    fn encode_prompts(&self, prompts: &[&[u32]]) -> Result<Vec<Tensor>, DiffusionError> {
        reproducible_gemms()?;
        let files = self.model.weight_reader(Part::TextEncoder)?;
        let te = clip::ClipTextModel::new(&Weights::new(&files, self.kind), &self.model.text_arch.clip)?;
        warn_unused(&files, "text encoder");
        prompts.iter().map(|ids| to_candle(&guarded("running the text encoder", || te.forward(ids))?)).collect()
    }

    fn unet<'b>(&'b self, contexts: &[Tensor]) -> Result<Box<dyn Denoiser + 'b>, DiffusionError> {
        reproducible_gemms()?;
        let files = self.model.weight_reader(Part::Unet)?;
        let arch = &self.model.unet_arch;
        let unet = unet::Unet::new(
            &Weights::new(&files, self.kind),
            arch.in_channels,
            arch.out_channels,
            &arch.config,
            self.kind,
        )?;
        warn_unused(&files, "UNet");
        let parts = contexts.iter().map(from_candle).collect::<Result<Vec<_>, _>>()?;
        let context = tch::Tensor::cat(&parts, 0).to_kind(self.kind);
        Ok(Box::new(TorchDenoiser { unet, context, batch: parts.len() as i64, kind: self.kind }))
    }

    fn encode_image(&self, x: &Tensor) -> Result<Tensor, DiffusionError> {
        let v = self.vae(true, false)?;
        let x = from_candle(x)?.to_kind(self.vae_kind);
        to_candle(&guarded("encoding the init image with the VAE", || v.encode(&x))?)
    }

    fn decode(&self, z: &Tensor) -> Result<Tensor, DiffusionError> {
        let v = self.vae(false, true)?;
        let z = from_candle(z)?.to_kind(self.vae_kind);
        to_candle(&guarded("decoding the latents with the VAE", || v.decode(&z))?)
    }
}

struct TorchDenoiser {
    unet: unet::Unet,
    /// Every prompt's embeddings, stacked along the batch.
    context: tch::Tensor,
    batch: i64,
    kind: Kind,
}

impl Denoiser for TorchDenoiser {
    fn predict(
        &self,
        x: &Tensor,
        t: f64,
        _cancel: &CancelToken,
        ctx: &dyn Fn() -> String,
    ) -> Result<Vec<Tensor>, ArtError> {
        let x = from_candle(x)?.to_kind(self.kind);
        // One batched pass for all prompts (conditional and unconditional).
        let input = if self.batch == 1 { x } else { x.repeat([self.batch, 1, 1, 1]) };
        let out = guarded(&ctx(), || self.unet.forward(&input, t, &self.context))?;
        let mut parts = Vec::with_capacity(self.batch as usize);
        for o in out.chunk(self.batch, 0) {
            parts.push(to_candle(&o)?);
        }
        Ok(parts)
    }
}
