//! Stable Diffusion's autoencoder (the KL-regularised VAE of Rombach et al. 2022) on
//! libtorch, laid out and named as diffusers' `AutoencoderKL`:
//!
//! ```text
//! encode: x ─ conv_in ─ [ResNet × layers, ↓2]… ─ mid ─ GroupNorm, SiLU, conv_out ─ quant_conv ─ mean
//! decode: z ─ post_quant_conv ─ conv_in ─ mid ─ [ResNet × (layers + 1), ↑2]… ─ GroupNorm, SiLU, conv_out ─ x
//! mid:    ResNet ─ single-head self-attention over all positions (residual) ─ ResNet
//! ```
//!
//! Every norm is a GroupNorm with ε = 1e-6; downsampling pads right and bottom by one and
//! convolves with stride 2 (diffusers' `Downsample2D` with `padding=0`). The encoder returns
//! the mean of the latent distribution (diffusers' `sample_mode="argmax"`), as the candle
//! path does.

use candle_transformers::models::stable_diffusion::vae::AutoEncoderKLConfig;
use tch::Tensor;

use super::layers::{Conv2d, GroupNorm, Linear, Weights, attention};
use crate::diffusion::error::DiffusionError;

const EPS: f64 = 1e-6;

struct ResnetBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    norm2: GroupNorm,
    conv2: Conv2d,
    conv_shortcut: Option<Conv2d>,
}

impl ResnetBlock {
    fn new(w: &Weights, groups: usize, cin: usize, cout: usize) -> Result<Self, DiffusionError> {
        Ok(Self {
            norm1: GroupNorm::new(&w.pp("norm1"), groups, cin, EPS)?,
            conv1: Conv2d::new(&w.pp("conv1"), cin, cout, 3, 1, 1)?,
            norm2: GroupNorm::new(&w.pp("norm2"), groups, cout, EPS)?,
            conv2: Conv2d::new(&w.pp("conv2"), cout, cout, 3, 1, 1)?,
            conv_shortcut: if cin != cout {
                Some(Conv2d::new(&w.pp("conv_shortcut"), cin, cout, 1, 1, 0)?)
            } else {
                None
            },
        })
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let h = self.conv1.forward(&self.norm1.forward(x).silu());
        let h = self.conv2.forward(&self.norm2.forward(&h).silu());
        match &self.conv_shortcut {
            Some(c) => c.forward(x) + h,
            None => x + h,
        }
    }
}

/// Self-attention over the feature map's positions, one head as wide as the channels.
struct SpatialAttention {
    group_norm: GroupNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
}

impl SpatialAttention {
    fn new(w: &Weights, groups: usize, c: usize) -> Result<Self, DiffusionError> {
        // diffusers' names; checkpoints saved before diffusers 0.14 say query/key/value/proj_attn.
        let (q, k, v, out) = if w.contains("to_q.weight") {
            (w.pp("to_q"), w.pp("to_k"), w.pp("to_v"), w.pp("to_out").pp(0))
        } else {
            (w.pp("query"), w.pp("key"), w.pp("value"), w.pp("proj_attn"))
        };
        Ok(Self {
            group_norm: GroupNorm::new(&w.pp("group_norm"), groups, c, EPS)?,
            q: Linear::from_any(&q, c, c)?,
            k: Linear::from_any(&k, c, c)?,
            v: Linear::from_any(&v, c, c)?,
            out: Linear::from_any(&out, c, c)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let (b, c, h, w) = x.size4().expect("feature map");
        let tokens = self.group_norm.forward(x).view([b, c, h * w]).transpose(1, 2);
        let a = attention(&self.q.forward(&tokens), &self.k.forward(&tokens), &self.v.forward(&tokens), 1, None);
        let a = self.out.forward(&a).transpose(1, 2).reshape([b, c, h, w]);
        a + x
    }
}

struct MidBlock {
    resnet1: ResnetBlock,
    attention: SpatialAttention,
    resnet2: ResnetBlock,
}

impl MidBlock {
    fn new(w: &Weights, groups: usize, c: usize) -> Result<Self, DiffusionError> {
        Ok(Self {
            resnet1: ResnetBlock::new(&w.pp("resnets").pp(0), groups, c, c)?,
            attention: SpatialAttention::new(&w.pp("attentions").pp(0), groups, c)?,
            resnet2: ResnetBlock::new(&w.pp("resnets").pp(1), groups, c, c)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        self.resnet2.forward(&self.attention.forward(&self.resnet1.forward(x)))
    }
}

struct Level {
    resnets: Vec<ResnetBlock>,
    /// ↓2 (encoder) or ↑2 (decoder) after the ResNets; none at the last level.
    resample: Option<Conv2d>,
}

struct Encoder {
    conv_in: Conv2d,
    down: Vec<Level>,
    mid: MidBlock,
    norm_out: GroupNorm,
    conv_out: Conv2d,
    quant_conv: Option<Conv2d>,
    latent: i64,
}

struct Decoder {
    post_quant_conv: Option<Conv2d>,
    conv_in: Conv2d,
    mid: MidBlock,
    up: Vec<Level>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

pub(crate) struct Vae {
    encoder: Option<Encoder>,
    decoder: Option<Decoder>,
}

impl Vae {
    /// The parts asked for: an encoder for img2img, a decoder for every run.
    pub(crate) fn new(
        w: &Weights,
        cfg: &AutoEncoderKLConfig,
        has_quant_conv: bool,
        encoder: bool,
        decoder: bool,
    ) -> Result<Self, DiffusionError> {
        let ch = &cfg.block_out_channels;
        let (g, n, latent) = (cfg.norm_num_groups, ch.len(), cfg.latent_channels);
        let encoder = if encoder {
            let e = w.pp("encoder");
            let mut down = Vec::with_capacity(n);
            for i in 0..n {
                let d = e.pp("down_blocks").pp(i);
                let cin = if i == 0 { ch[0] } else { ch[i - 1] };
                down.push(Level {
                    resnets: (0..cfg.layers_per_block)
                        .map(|j| ResnetBlock::new(&d.pp("resnets").pp(j), g, if j == 0 { cin } else { ch[i] }, ch[i]))
                        .collect::<Result<_, _>>()?,
                    resample: if i + 1 < n {
                        Some(Conv2d::new(&d.pp("downsamplers").pp(0).pp("conv"), ch[i], ch[i], 3, 2, 0)?)
                    } else {
                        None
                    },
                });
            }
            Some(Encoder {
                conv_in: Conv2d::new(&e.pp("conv_in"), 3, ch[0], 3, 1, 1)?,
                down,
                mid: MidBlock::new(&e.pp("mid_block"), g, ch[n - 1])?,
                norm_out: GroupNorm::new(&e.pp("conv_norm_out"), g, ch[n - 1], EPS)?,
                conv_out: Conv2d::new(&e.pp("conv_out"), ch[n - 1], 2 * latent, 3, 1, 1)?,
                quant_conv: if has_quant_conv && cfg.use_quant_conv {
                    Some(Conv2d::new(&w.pp("quant_conv"), 2 * latent, 2 * latent, 1, 1, 0)?)
                } else {
                    None
                },
                latent: latent as i64,
            })
        } else {
            None
        };
        let decoder = if decoder {
            let d = w.pp("decoder");
            let rev: Vec<usize> = ch.iter().rev().copied().collect();
            let mut up = Vec::with_capacity(n);
            for i in 0..n {
                let u = d.pp("up_blocks").pp(i);
                let cin = if i == 0 { rev[0] } else { rev[i - 1] };
                up.push(Level {
                    resnets: (0..=cfg.layers_per_block)
                        .map(|j| ResnetBlock::new(&u.pp("resnets").pp(j), g, if j == 0 { cin } else { rev[i] }, rev[i]))
                        .collect::<Result<_, _>>()?,
                    resample: if i + 1 < n {
                        Some(Conv2d::new(&u.pp("upsamplers").pp(0).pp("conv"), rev[i], rev[i], 3, 1, 1)?)
                    } else {
                        None
                    },
                });
            }
            Some(Decoder {
                post_quant_conv: if cfg.use_post_quant_conv {
                    Some(Conv2d::new(&w.pp("post_quant_conv"), latent, latent, 1, 1, 0)?)
                } else {
                    None
                },
                conv_in: Conv2d::new(&d.pp("conv_in"), latent, rev[0], 3, 1, 1)?,
                mid: MidBlock::new(&d.pp("mid_block"), g, rev[0])?,
                up,
                norm_out: GroupNorm::new(&d.pp("conv_norm_out"), g, ch[0], EPS)?,
                conv_out: Conv2d::new(&d.pp("conv_out"), ch[0], 3, 3, 1, 1)?,
            })
        } else {
            None
        };
        Ok(Self { encoder, decoder })
    }

    /// Pixels in [-1, 1], `(1, 3, h, w)`, to the latent mean `(1, latent, h/8, w/8)`.
    pub(crate) fn encode(&self, x: &Tensor) -> Tensor {
        let e = self.encoder.as_ref().expect("VAE built with its encoder");
        let mut h = e.conv_in.forward(x);
        for level in &e.down {
            for r in &level.resnets {
                h = r.forward(&h);
            }
            if let Some(down) = &level.resample {
                h = down.forward(&h.constant_pad_nd([0, 1, 0, 1]));
            }
        }
        let h = e.conv_out.forward(&e.norm_out.forward(&e.mid.forward(&h)).silu());
        let moments = match &e.quant_conv {
            Some(q) => q.forward(&h),
            None => h,
        };
        moments.narrow(1, 0, e.latent)
    }

    /// Latents (already divided by the scaling factor) to pixels in about [-1, 1].
    pub(crate) fn decode(&self, z: &Tensor) -> Tensor {
        let d = self.decoder.as_ref().expect("VAE built with its decoder");
        let z = match &d.post_quant_conv {
            Some(p) => p.forward(z),
            None => z.shallow_clone(),
        };
        let mut h = d.mid.forward(&d.conv_in.forward(&z));
        for level in &d.up {
            for r in &level.resnets {
                h = r.forward(&h);
            }
            if let Some(up) = &level.resample {
                let (_, _, hh, ww) = h.size4().expect("feature map");
                h = up.forward(&h.upsample_nearest2d([hh * 2, ww * 2], None, None));
            }
        }
        d.conv_out.forward(&d.norm_out.forward(&h).silu())
    }
}
