//! Stable Diffusion's denoising UNet (Rombach et al. 2022, "High-Resolution Image Synthesis
//! with Latent Diffusion Models"), laid out and named as diffusers' `UNet2DConditionModel`.
//!
//! ```text
//! t ─ sinusoidal(t) ─ MLP ─────────────────────────────── temb (to every ResNet block)
//! x ─ conv_in ─ down blocks ─ mid block ─ up blocks ─ GroupNorm, SiLU, conv_out ─ ε or v
//!                  │ skip after every ResNet(+transformer) and downsample ▲ (concatenated)
//! down block i:  [ResNet(temb) → Transformer2D(text)?] × layers_per_block, then ↓2 conv
//! mid block:     ResNet → Transformer2D → ResNet
//! up block i:    [concat skip → ResNet → Transformer2D?] × (layers_per_block + 1), then ↑2
//! Transformer2D: GroupNorm → proj_in → BasicTransformerBlock × depth → proj_out, + input
//! BasicTransformerBlock (pre-norm, each step a residual):
//!     self-attention(LN(x)) → cross-attention(LN(x), text) → GEGLU feed-forward(LN(x))
//! GEGLU(x) = a · GELU(g), [a, g] = Linear(x) split in two halves (Shazeer 2020)
//! ```
//!
//! Why our own and not candle-transformers' `UNet2DConditionModel`: diffusers computes the
//! GEGLU's GELU exactly (`erf`), candle 0.11.1 with the tanh approximation, deep inside
//! private modules. That alone made one UNet call differ from diffusers by ~4e-5 (relative
//! L2) on random weights; with erf the difference is float rounding (~1e-6). Only candle's
//! primitives (`candle_nn` layers and ops) are used; the config struct is candle's public
//! `UNet2DConditionModelConfig`, filled from `unet/config.json` by [`super::config`].
//!
//! Attention scores and softmax are computed in f32 whatever the weights' dtype (diffusers'
//! `upcast_attention` / `upcast_softmax` for f16; a no-op in f32). Sliced and flash
//! attention are not offered: they change no numbers, only memory, and the pipeline keeps
//! memory down by running the guidance passes one after the other.

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, GroupNorm, LayerNorm, Linear, VarBuilder};
use candle_transformers::models::stable_diffusion::unet_2d::UNet2DConditionModelConfig;

use super::unet_layout;

/// diffusers' `Transformer2DModel` normalises its input with this epsilon (fixed, not the
/// UNet's `norm_eps`).
const TRANSFORMER_GROUP_NORM_EPS: f64 = 1e-6;
/// `BasicTransformerBlock`'s LayerNorm epsilon (PyTorch's default).
const LAYER_NORM_EPS: f64 = 1e-5;
/// The GEGLU feed-forward's inner width, as a multiple of the block's width.
const FF_MULT: usize = 4;

fn conv(
    vb: VarBuilder,
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> candle_core::Result<Conv2d> {
    candle_nn::conv2d(cin, cout, kernel, Conv2dConfig { padding, stride, ..Default::default() }, vb)
}

/// The timestep's sinusoid ([`unet_layout::timestep_sinusoid`]) as a `(batch, channels)`
/// f32 tensor, cast to the model's dtype by the caller.
fn timestep_embedding(
    t: f64,
    batch: usize,
    channels: usize,
    flip_sin_to_cos: bool,
    freq_shift: f64,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let row = unet_layout::timestep_sinusoid(t, channels, flip_sin_to_cos, freq_shift);
    Tensor::from_vec(row, (1, channels), device)?.repeat((batch, 1))
}

/// The timestep embedding's MLP: `Linear → SiLU → Linear`.
struct TimestepMlp {
    linear_1: Linear,
    linear_2: Linear,
}

impl TimestepMlp {
    fn new(vb: VarBuilder, channels: usize, dim: usize) -> candle_core::Result<Self> {
        Ok(Self {
            linear_1: candle_nn::linear(channels, dim, vb.pp("linear_1"))?,
            linear_2: candle_nn::linear(dim, dim, vb.pp("linear_2"))?,
        })
    }

    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        self.linear_2.forward(&candle_nn::ops::silu(&self.linear_1.forward(xs)?)?)
    }
}

/// A residual block (He et al. 2016) with the timestep added in between, as DDPM (Ho et al.
/// 2020) uses it: `h = conv1(SiLU(GN(x))) + Linear(SiLU(temb))`, `h = conv2(SiLU(GN(h)))`,
/// output `(shortcut(x) + h) / output_scale_factor`; the shortcut is a 1x1 convolution when
/// the channel count changes.
struct ResnetBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    time_emb_proj: Linear,
    norm2: GroupNorm,
    conv2: Conv2d,
    conv_shortcut: Option<Conv2d>,
    output_scale_factor: f64,
}

impl ResnetBlock {
    fn forward(&self, xs: &Tensor, temb: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.conv1.forward(&candle_nn::ops::silu(&self.norm1.forward(xs)?)?)?;
        let t = self.time_emb_proj.forward(&candle_nn::ops::silu(temb)?)?.unsqueeze(D::Minus1)?.unsqueeze(D::Minus1)?;
        let h = h.broadcast_add(&t)?;
        let h = self.conv2.forward(&candle_nn::ops::silu(&self.norm2.forward(&h)?)?)?;
        let shortcut = match &self.conv_shortcut {
            Some(c) => c.forward(xs)?,
            None => xs.clone(),
        };
        (shortcut + h)? / self.output_scale_factor
    }
}

/// Multi-head attention, `softmax(Q Kᵀ / √d) V`, queries from `x`, keys and values from
/// `context` (the text, for cross-attention) or from `x` itself.
struct Attention {
    to_q: Linear,
    to_k: Linear,
    to_v: Linear,
    to_out: Linear,
    heads: usize,
}

impl Attention {
    fn new(vb: VarBuilder, dim: usize, context_dim: usize, heads: usize) -> candle_core::Result<Self> {
        Ok(Self {
            to_q: candle_nn::linear_no_bias(dim, dim, vb.pp("to_q"))?,
            to_k: candle_nn::linear_no_bias(context_dim, dim, vb.pp("to_k"))?,
            to_v: candle_nn::linear_no_bias(context_dim, dim, vb.pp("to_v"))?,
            to_out: candle_nn::linear(dim, dim, vb.pp("to_out").pp("0"))?,
            heads,
        })
    }

    /// `(b, n, c)` -> `(b, heads, n, c / heads)` in f32.
    fn split_heads(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let (b, n, c) = xs.dims3()?;
        xs.reshape((b, n, self.heads, c / self.heads))?.transpose(1, 2)?.contiguous()?.to_dtype(DType::F32)
    }

    fn forward(&self, xs: &Tensor, context: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let (b, n, c) = xs.dims3()?;
        let context = context.unwrap_or(xs);
        // 1/√d is applied to the queries, not to the (tokens × tokens) scores: one pass over
        // a small tensor instead of a second copy of the largest one.
        let scale = ((c / self.heads) as f64).powf(-0.5);
        let q = (self.split_heads(&self.to_q.forward(xs)?)? * scale)?;
        let k = self.split_heads(&self.to_k.forward(context)?)?;
        let v = self.split_heads(&self.to_v.forward(context)?)?;
        let weights = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t()?)?)?;
        let out = weights.matmul(&v)?.to_dtype(xs.dtype())?.transpose(1, 2)?.reshape((b, n, c))?;
        self.to_out.forward(&out)
    }
}

/// GEGLU feed-forward: `Linear(a · GELU(g))` with `[a, g] = Linear(x)` and the exact GELU.
struct FeedForward {
    proj: Linear,
    out: Linear,
}

impl FeedForward {
    fn new(vb: VarBuilder, dim: usize) -> candle_core::Result<Self> {
        let inner = dim * FF_MULT;
        Ok(Self {
            proj: candle_nn::linear(dim, inner * 2, vb.pp("net").pp("0").pp("proj"))?,
            out: candle_nn::linear(inner, dim, vb.pp("net").pp("2"))?,
        })
    }

    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.proj.forward(xs)?;
        let half = h.dim(D::Minus1)? / 2;
        let (a, gate) = (h.narrow(D::Minus1, 0, half)?, h.narrow(D::Minus1, half, half)?);
        self.out.forward(&(a * gate.gelu_erf()?)?)
    }
}

struct BasicTransformerBlock {
    norm1: LayerNorm,
    attn1: Attention,
    norm2: LayerNorm,
    attn2: Attention,
    norm3: LayerNorm,
    ff: FeedForward,
}

impl BasicTransformerBlock {
    fn new(vb: VarBuilder, dim: usize, context_dim: usize, heads: usize) -> candle_core::Result<Self> {
        Ok(Self {
            norm1: candle_nn::layer_norm(dim, LAYER_NORM_EPS, vb.pp("norm1"))?,
            attn1: Attention::new(vb.pp("attn1"), dim, dim, heads)?,
            norm2: candle_nn::layer_norm(dim, LAYER_NORM_EPS, vb.pp("norm2"))?,
            attn2: Attention::new(vb.pp("attn2"), dim, context_dim, heads)?,
            norm3: candle_nn::layer_norm(dim, LAYER_NORM_EPS, vb.pp("norm3"))?,
            ff: FeedForward::new(vb.pp("ff"), dim)?,
        })
    }

    fn forward(&self, xs: &Tensor, context: &Tensor) -> candle_core::Result<Tensor> {
        let xs = (self.attn1.forward(&self.norm1.forward(xs)?, None)? + xs)?;
        let xs = (self.attn2.forward(&self.norm2.forward(&xs)?, Some(context))? + &xs)?;
        self.ff.forward(&self.norm3.forward(&xs)?)? + &xs
    }
}

/// `proj_in` / `proj_out`: a 1x1 convolution on the feature map (SD 1.x) or a linear layer
/// on the token sequence (SD 2.x, `use_linear_projection`); the same map, stored differently.
enum Projection {
    Conv(Conv2d),
    Linear(Linear),
}

impl Projection {
    fn new(vb: VarBuilder, channels: usize, linear: bool) -> candle_core::Result<Self> {
        Ok(if linear {
            Self::Linear(candle_nn::linear(channels, channels, vb)?)
        } else {
            Self::Conv(conv(vb, channels, channels, 1, 1, 0)?)
        })
    }
}

/// diffusers' `Transformer2DModel`: the feature map as a sequence of `h·w` tokens through
/// transformer blocks, added back to the input.
struct Transformer2D {
    norm: GroupNorm,
    proj_in: Projection,
    blocks: Vec<BasicTransformerBlock>,
    proj_out: Projection,
}

impl Transformer2D {
    fn new(
        vb: VarBuilder,
        channels: usize,
        heads: usize,
        depth: usize,
        cfg: &UNet2DConditionModelConfig,
    ) -> candle_core::Result<Self> {
        let linear = cfg.use_linear_projection;
        let vb_blocks = vb.pp("transformer_blocks");
        Ok(Self {
            norm: candle_nn::group_norm(cfg.norm_num_groups, channels, TRANSFORMER_GROUP_NORM_EPS, vb.pp("norm"))?,
            proj_in: Projection::new(vb.pp("proj_in"), channels, linear)?,
            blocks: (0..depth)
                .map(|i| BasicTransformerBlock::new(vb_blocks.pp(i), channels, cfg.cross_attention_dim, heads))
                .collect::<candle_core::Result<_>>()?,
            proj_out: Projection::new(vb.pp("proj_out"), channels, linear)?,
        })
    }

    fn forward(&self, xs: &Tensor, context: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let to_tokens = |t: &Tensor| t.permute((0, 2, 3, 1))?.reshape((b, h * w, c));
        let normed = self.norm.forward(xs)?;
        let mut tokens = match &self.proj_in {
            Projection::Conv(p) => to_tokens(&p.forward(&normed)?)?,
            Projection::Linear(p) => p.forward(&to_tokens(&normed)?)?,
        };
        for block in &self.blocks {
            tokens = block.forward(&tokens, context)?;
        }
        let to_map = |t: &Tensor| t.reshape((b, h, w, c))?.permute((0, 3, 1, 2))?.contiguous();
        let out = match &self.proj_out {
            Projection::Conv(p) => p.forward(&to_map(&tokens)?)?,
            Projection::Linear(p) => to_map(&p.forward(&tokens)?)?,
        };
        out + xs
    }
}

/// A ResNet block, optionally followed by a transformer over the text.
struct Layer {
    resnet: ResnetBlock,
    attention: Option<Transformer2D>,
}

impl Layer {
    fn forward(&self, xs: &Tensor, temb: &Tensor, context: &Tensor) -> candle_core::Result<Tensor> {
        let xs = self.resnet.forward(xs, temb)?;
        match &self.attention {
            Some(a) => a.forward(&xs, context),
            None => Ok(xs),
        }
    }
}

/// What every block of one level shares: which ResNet and transformer settings to build.
struct LevelSpec<'a> {
    cfg: &'a UNet2DConditionModelConfig,
    channels: usize,
    temb: usize,
    /// `Some(depth)` when the level has transformers, with `heads` heads.
    transformer_depth: Option<usize>,
    heads: usize,
    output_scale_factor: f64,
}

impl LevelSpec<'_> {
    fn layer(&self, vb: &VarBuilder, i: usize, in_channels: usize) -> candle_core::Result<Layer> {
        let vb_r = vb.pp("resnets").pp(i);
        let (groups, eps, out) = (self.cfg.norm_num_groups, self.cfg.norm_eps, self.channels);
        let resnet = ResnetBlock {
            norm1: candle_nn::group_norm(groups, in_channels, eps, vb_r.pp("norm1"))?,
            conv1: conv(vb_r.pp("conv1"), in_channels, out, 3, 1, 1)?,
            time_emb_proj: candle_nn::linear(self.temb, out, vb_r.pp("time_emb_proj"))?,
            norm2: candle_nn::group_norm(groups, out, eps, vb_r.pp("norm2"))?,
            conv2: conv(vb_r.pp("conv2"), out, out, 3, 1, 1)?,
            conv_shortcut: if in_channels != out {
                Some(conv(vb_r.pp("conv_shortcut"), in_channels, out, 1, 1, 0)?)
            } else {
                None
            },
            output_scale_factor: self.output_scale_factor,
        };
        let attention = match self.transformer_depth {
            Some(depth) => {
                Some(Transformer2D::new(vb.pp("attentions").pp(i), self.channels, self.heads, depth, self.cfg)?)
            }
            None => None,
        };
        Ok(Layer { resnet, attention })
    }
}

struct DownBlock {
    layers: Vec<Layer>,
    /// 3x3 stride-2 convolution (all but the last level).
    downsample: Option<Conv2d>,
    /// diffusers pads right and bottom by one before a `downsample_padding = 0` convolution.
    pad_before_downsample: bool,
}

struct UpBlock {
    layers: Vec<Layer>,
    /// Nearest-neighbour ×2, then a 3x3 convolution (all but the last level).
    upsample: Option<Conv2d>,
}

/// Stable Diffusion's UNet with the exact-GELU feed-forward. Built from candle's public
/// UNet config (read from `unet/config.json` by [`super::config`]), weights named as
/// diffusers names them.
pub struct Unet {
    conv_in: Conv2d,
    time_channels: usize,
    flip_sin_to_cos: bool,
    freq_shift: f64,
    time_embedding: TimestepMlp,
    down: Vec<DownBlock>,
    mid_resnet1: ResnetBlock,
    mid_attention: Transformer2D,
    mid_resnet2: ResnetBlock,
    up: Vec<UpBlock>,
    conv_norm_out: GroupNorm,
    conv_out: Conv2d,
    center_input_sample: bool,
}

impl Unet {
    pub fn new(
        vb: VarBuilder,
        in_channels: usize,
        out_channels: usize,
        cfg: &UNet2DConditionModelConfig,
    ) -> candle_core::Result<Self> {
        let Some(layout) = unet_layout::layout(cfg) else {
            candle_core::bail!("the UNet config has no blocks");
        };
        let spec = |l: &unet_layout::Level, output_scale_factor: f64| LevelSpec {
            cfg,
            channels: l.channels,
            temb: layout.temb,
            transformer_depth: l.transformer_depth,
            heads: l.heads,
            output_scale_factor,
        };
        let layers = |vb: &VarBuilder, l: &unet_layout::Level| {
            let s = spec(l, 1.0);
            l.layer_inputs
                .iter()
                .enumerate()
                .map(|(j, &cin)| s.layer(vb, j, cin))
                .collect::<candle_core::Result<Vec<_>>>()
        };

        let vb_down = vb.pp("down_blocks");
        let mut down = Vec::with_capacity(layout.down.len());
        for (i, l) in layout.down.iter().enumerate() {
            let vb_i = vb_down.pp(i);
            let downsample = if l.resample {
                let (c, p) = (l.channels, cfg.downsample_padding);
                Some(conv(vb_i.pp("downsamplers").pp("0").pp("conv"), c, c, 3, 2, p)?)
            } else {
                None
            };
            down.push(DownBlock {
                layers: layers(&vb_i, l)?,
                downsample,
                pad_before_downsample: cfg.downsample_padding == 0,
            });
        }

        // The mid block: two ResNets around a transformer with the deepest level's heads.
        let vb_mid = vb.pp("mid_block");
        let mid = &layout.mid;
        let mid_spec = LevelSpec { transformer_depth: None, ..spec(mid, cfg.mid_block_scale_factor) };
        let mid_resnet1 = mid_spec.layer(&vb_mid, 0, mid.layer_inputs[0])?.resnet;
        let mid_resnet2 = mid_spec.layer(&vb_mid, 1, mid.layer_inputs[1])?.resnet;
        let mid_attention = Transformer2D::new(
            vb_mid.pp("attentions").pp(0),
            mid.channels,
            mid.heads,
            mid.transformer_depth.unwrap_or(1),
            cfg,
        )?;

        let vb_up = vb.pp("up_blocks");
        let mut up = Vec::with_capacity(layout.up.len());
        for (i, l) in layout.up.iter().enumerate() {
            let vb_i = vb_up.pp(i);
            let upsample = if l.resample {
                Some(conv(vb_i.pp("upsamplers").pp("0").pp("conv"), l.channels, l.channels, 3, 1, 1)?)
            } else {
                None
            };
            up.push(UpBlock { layers: layers(&vb_i, l)?, upsample });
        }
        let base = layout.base;

        Ok(Self {
            conv_in: conv(vb.pp("conv_in"), in_channels, base, 3, 1, 1)?,
            time_channels: base,
            flip_sin_to_cos: cfg.flip_sin_to_cos,
            freq_shift: cfg.freq_shift,
            time_embedding: TimestepMlp::new(vb.pp("time_embedding"), base, layout.temb)?,
            down,
            mid_resnet1,
            mid_attention,
            mid_resnet2,
            up,
            conv_norm_out: candle_nn::group_norm(cfg.norm_num_groups, base, cfg.norm_eps, vb.pp("conv_norm_out"))?,
            conv_out: conv(vb.pp("conv_out"), base, out_channels, 3, 1, 1)?,
            center_input_sample: cfg.center_input_sample,
        })
    }

    /// One denoising prediction for latents `xs` `(b, 4, h, w)` at `timestep`, conditioned on
    /// the text embeddings `context` `(b, tokens, cross_attention_dim)`.
    pub fn forward(&self, xs: &Tensor, timestep: f64, context: &Tensor) -> candle_core::Result<Tensor> {
        let (b, _, h, w) = xs.dims4()?;
        let xs = if self.center_input_sample { ((xs * 2.0)? - 1.0)? } else { xs.clone() };

        let t =
            timestep_embedding(timestep, b, self.time_channels, self.flip_sin_to_cos, self.freq_shift, xs.device())?;
        let temb = self.time_embedding.forward(&t.to_dtype(xs.dtype())?)?;

        let mut xs = self.conv_in.forward(&xs)?;
        let mut skips = vec![xs.clone()];
        for block in &self.down {
            for layer in &block.layers {
                xs = layer.forward(&xs, &temb, context)?;
                skips.push(xs.clone());
            }
            if let Some(down) = &block.downsample {
                if block.pad_before_downsample {
                    xs = xs.pad_with_zeros(D::Minus1, 0, 1)?.pad_with_zeros(D::Minus2, 0, 1)?;
                }
                xs = down.forward(&xs)?;
                skips.push(xs.clone());
            }
        }

        xs = self.mid_resnet1.forward(&xs, &temb)?;
        xs = self.mid_attention.forward(&xs, context)?;
        xs = self.mid_resnet2.forward(&xs, &temb)?;

        // Latent sides that do not divide by 2^(levels-1) were rounded down on the way
        // down: each upsample then goes to the size of the skip it meets, not to ×2.
        let factor = 1usize << (self.down.len() - 1);
        let exact_sizes = h % factor != 0 || w % factor != 0;
        for block in &self.up {
            for layer in &block.layers {
                let skip = skips.pop().expect("one skip per up-block layer");
                xs = layer.forward(&Tensor::cat(&[&xs, &skip], 1)?, &temb, context)?;
            }
            if let Some(up) = &block.upsample {
                let (_, _, sh, sw) = xs.dims4()?;
                let (th, tw) = match skips.last() {
                    Some(next) if exact_sizes => {
                        let (_, _, nh, nw) = next.dims4()?;
                        (nh, nw)
                    }
                    _ => (sh * 2, sw * 2),
                };
                xs = up.forward(&xs.upsample_nearest2d(th, tw)?)?;
            }
        }

        let xs = candle_nn::ops::silu(&self.conv_norm_out.forward(&xs)?)?;
        self.conv_out.forward(&xs)
    }
}
