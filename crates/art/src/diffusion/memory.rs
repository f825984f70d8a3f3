//! A rough peak-memory estimate for one generation, checked before any weights are read.
//!
//! Running out of memory does not panic in Rust: the process is killed (or aborts), taking
//! the desktop app with it. So before a run the engine estimates the peak and refuses, with
//! a clear error, a run that cannot fit in the memory the system has available. The estimate
//! counts the big items only and is meant to be slightly pessimistic:
//!
//! - weights of the component in use (the pipeline holds one at a time);
//! - UNet self-attention: `heads x tokens² x 4 B` scores (candle computes attention in f32)
//!   plus the softmax copy, at the finest resolution with attention;
//! - VAE: the mid-block attention over all latent pixels, and about six copies of the
//!   largest decoder feature map (group norm works on copies).
//!
//! Measured with `benches/diffusion.rs` (SD 1.5 with guidance): 512² f32 estimates 4602 MiB,
//! peaks at 4502 MiB; 512² f16 2963 / 2856 MiB; 256² f32 3642 / 3502 MiB.

use candle_core::DType;

use super::model::ModelFolder;

/// Fixed overhead: allocator slack, latents, text embeddings, the tokenizer.
const OVERHEAD: u64 = 300 << 20;

/// The estimated peak of each phase of a generation, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    pub text_encoder: u64,
    pub unet: u64,
    pub vae: u64,
}

impl MemoryEstimate {
    /// The estimated peak resident memory of the whole run.
    pub fn peak(&self) -> u64 {
        self.text_encoder.max(self.unet).max(self.vae) + OVERHEAD
    }
}

fn size_of(d: DType) -> u64 {
    d.size_in_bytes() as u64
}

/// The estimate for `width` x `height` with UNet/text dtype `dtype` and VAE dtype `vae_dtype`.
pub(crate) fn estimate(m: &ModelFolder, width: u32, height: u32, dtype: DType, vae_dtype: DType) -> MemoryEstimate {
    let ds = m.vae_arch.downscale as u64;
    let (lh, lw) = (height as u64 / ds, width as u64 / ds);

    let text_encoder = m.params.text * size_of(dtype);

    let mut attn = 0u64;
    for (level, b) in m.unet_arch.config.blocks.iter().enumerate() {
        if b.use_cross_attn.is_some() {
            let tokens = (lh >> level).max(1) * (lw >> level).max(1);
            attn = attn.max(b.attention_head_dim as u64 * tokens * tokens * 4 * 2);
        }
    }
    let unet = m.params.unet * size_of(dtype) + attn;

    let vb = size_of(vae_dtype);
    let latent_px = lh * lw;
    let mid_attention = latent_px * latent_px * 4 * 2;
    let channels = &m.vae_arch.config.block_out_channels;
    let levels = channels.len();
    // Decoder level i (from the top) works at latent size * 2^i with channels reversed; each
    // upsampled map feeds the next level at twice the size.
    let feature = (0..levels)
        .map(|i| {
            let c = channels[levels - 1 - i] as u64;
            let side = 1u64 << (i + 1).min(levels - 1);
            c * latent_px * side * side
        })
        .max()
        .unwrap_or(0);
    let vae = m.params.vae * vb + mid_attention.max(feature * vb * 6);
    MemoryEstimate { text_encoder, unet, vae }
}

/// Memory the system can give us now (`MemAvailable`), where the platform says.
pub(crate) fn available() -> Option<u64> {
    meminfo("MemAvailable:")
}

/// The system's whole memory (`MemTotal`), where the platform says.
pub(crate) fn total() -> Option<u64> {
    meminfo("MemTotal:")
}

fn meminfo(key: &str) -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = info.lines().find_map(|l| l.strip_prefix(key))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}
