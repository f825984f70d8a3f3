//! Stable Diffusion's denoising UNet on libtorch: the same network as
//! [`crate::diffusion::unet`] (diffusers' `UNet2DConditionModel`, exact GELU), block for
//! block, with libtorch's kernels. The architecture notes live there; only what differs in
//! the writing is said here.

use candle_transformers::models::stable_diffusion::unet_2d::UNet2DConditionModelConfig;
use tch::{Kind, Tensor};

use super::layers::{Conv2d, GroupNorm, LayerNorm, Linear, Weights, attention};
use crate::diffusion::error::DiffusionError;
use crate::diffusion::unet_layout;

const TRANSFORMER_GROUP_NORM_EPS: f64 = 1e-6;
const LAYER_NORM_EPS: f64 = 1e-5;
const FF_MULT: usize = 4;

/// The timestep's sinusoid ([`unet_layout::timestep_sinusoid`]) as a `(batch, channels)`
/// f32 tensor.
fn timestep_embedding(t: f64, batch: i64, channels: usize, flip_sin_to_cos: bool, freq_shift: f64) -> Tensor {
    let row = unet_layout::timestep_sinusoid(t, channels, flip_sin_to_cos, freq_shift);
    Tensor::from_slice(&row).view([1, channels as i64]).repeat([batch, 1])
}

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
    fn forward(&self, x: &Tensor, temb: &Tensor) -> Tensor {
        let h = self.conv1.forward(&self.norm1.forward(x).silu());
        let h = h + self.time_emb_proj.forward(&temb.silu()).unsqueeze(-1).unsqueeze(-1);
        let h = self.conv2.forward(&self.norm2.forward(&h).silu());
        let shortcut = match &self.conv_shortcut {
            Some(c) => c.forward(x),
            None => x.shallow_clone(),
        };
        let out = shortcut + h;
        if self.output_scale_factor == 1.0 { out } else { out / self.output_scale_factor }
    }
}

struct Attention {
    to_q: Linear,
    to_k: Linear,
    to_v: Linear,
    to_out: Linear,
    heads: i64,
}

impl Attention {
    fn new(w: &Weights, dim: usize, context_dim: usize, heads: usize) -> Result<Self, DiffusionError> {
        Ok(Self {
            to_q: Linear::no_bias(&w.pp("to_q"), dim, dim)?,
            to_k: Linear::no_bias(&w.pp("to_k"), context_dim, dim)?,
            to_v: Linear::no_bias(&w.pp("to_v"), context_dim, dim)?,
            to_out: Linear::new(&w.pp("to_out").pp(0), dim, dim)?,
            heads: heads as i64,
        })
    }

    fn forward(&self, x: &Tensor, context: Option<&Tensor>) -> Tensor {
        let context = context.unwrap_or(x);
        let out = attention(
            &self.to_q.forward(x),
            &self.to_k.forward(context),
            &self.to_v.forward(context),
            self.heads,
            None,
        );
        self.to_out.forward(&out)
    }
}

/// GEGLU feed-forward: `a · GELU(g)` with `[a, g] = proj(x)`, then `out`.
struct FeedForward {
    proj: Linear,
    out: Linear,
}

impl FeedForward {
    fn forward(&self, x: &Tensor) -> Tensor {
        let h = self.proj.forward(x);
        let halves = h.chunk(2, -1);
        self.out.forward(&(&halves[0] * halves[1].gelu("none")))
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
    fn new(w: &Weights, dim: usize, context_dim: usize, heads: usize) -> Result<Self, DiffusionError> {
        let inner = dim * FF_MULT;
        Ok(Self {
            norm1: LayerNorm::new(&w.pp("norm1"), dim, LAYER_NORM_EPS)?,
            attn1: Attention::new(&w.pp("attn1"), dim, dim, heads)?,
            norm2: LayerNorm::new(&w.pp("norm2"), dim, LAYER_NORM_EPS)?,
            attn2: Attention::new(&w.pp("attn2"), dim, context_dim, heads)?,
            norm3: LayerNorm::new(&w.pp("norm3"), dim, LAYER_NORM_EPS)?,
            ff: FeedForward {
                proj: Linear::new(&w.pp("ff").pp("net").pp(0).pp("proj"), dim, inner * 2)?,
                out: Linear::new(&w.pp("ff").pp("net").pp(2), inner, dim)?,
            },
        })
    }

    fn forward(&self, x: &Tensor, context: &Tensor) -> Tensor {
        let x = self.attn1.forward(&self.norm1.forward(x), None) + x;
        let x = self.attn2.forward(&self.norm2.forward(&x), Some(context)) + &x;
        self.ff.forward(&self.norm3.forward(&x)) + &x
    }
}

/// `proj_in`/`proj_out`: a 1×1 convolution (SD 1.x) or a linear layer on the tokens (SD 2.x).
enum Projection {
    Conv(Conv2d),
    Linear(Linear),
}

impl Projection {
    fn new(w: &Weights, channels: usize, linear: bool) -> Result<Self, DiffusionError> {
        Ok(if linear {
            Self::Linear(Linear::new(w, channels, channels)?)
        } else {
            Self::Conv(Conv2d::new(w, channels, channels, 1, 1, 0)?)
        })
    }
}

struct Transformer2D {
    norm: GroupNorm,
    proj_in: Projection,
    blocks: Vec<BasicTransformerBlock>,
    proj_out: Projection,
}

impl Transformer2D {
    fn new(
        w: &Weights,
        channels: usize,
        heads: usize,
        depth: usize,
        cfg: &UNet2DConditionModelConfig,
    ) -> Result<Self, DiffusionError> {
        let linear = cfg.use_linear_projection;
        let wb = w.pp("transformer_blocks");
        Ok(Self {
            norm: GroupNorm::new(&w.pp("norm"), cfg.norm_num_groups, channels, TRANSFORMER_GROUP_NORM_EPS)?,
            proj_in: Projection::new(&w.pp("proj_in"), channels, linear)?,
            blocks: (0..depth)
                .map(|i| BasicTransformerBlock::new(&wb.pp(i), channels, cfg.cross_attention_dim, heads))
                .collect::<Result<_, _>>()?,
            proj_out: Projection::new(&w.pp("proj_out"), channels, linear)?,
        })
    }

    fn forward(&self, x: &Tensor, context: &Tensor) -> Tensor {
        let (b, c, h, w) = x.size4().expect("feature map");
        let to_tokens = |t: &Tensor| t.permute([0, 2, 3, 1]).reshape([b, h * w, c]);
        let normed = self.norm.forward(x);
        let mut tokens = match &self.proj_in {
            Projection::Conv(p) => to_tokens(&p.forward(&normed)),
            Projection::Linear(p) => p.forward(&to_tokens(&normed)),
        };
        for block in &self.blocks {
            tokens = block.forward(&tokens, context);
        }
        let to_map = |t: &Tensor| t.reshape([b, h, w, c]).permute([0, 3, 1, 2]).contiguous();
        let out = match &self.proj_out {
            Projection::Conv(p) => p.forward(&to_map(&tokens)),
            Projection::Linear(p) => to_map(&p.forward(&tokens)),
        };
        out + x
    }
}

struct Layer {
    resnet: ResnetBlock,
    attention: Option<Transformer2D>,
}

impl Layer {
    fn forward(&self, x: &Tensor, temb: &Tensor, context: &Tensor) -> Tensor {
        let x = self.resnet.forward(x, temb);
        match &self.attention {
            Some(a) => a.forward(&x, context),
            None => x,
        }
    }
}

struct LevelSpec<'a> {
    cfg: &'a UNet2DConditionModelConfig,
    channels: usize,
    temb: usize,
    transformer_depth: Option<usize>,
    heads: usize,
    output_scale_factor: f64,
}

impl LevelSpec<'_> {
    fn resnet(&self, w: &Weights, in_channels: usize) -> Result<ResnetBlock, DiffusionError> {
        let (groups, eps, out) = (self.cfg.norm_num_groups, self.cfg.norm_eps, self.channels);
        Ok(ResnetBlock {
            norm1: GroupNorm::new(&w.pp("norm1"), groups, in_channels, eps)?,
            conv1: Conv2d::new(&w.pp("conv1"), in_channels, out, 3, 1, 1)?,
            time_emb_proj: Linear::new(&w.pp("time_emb_proj"), self.temb, out)?,
            norm2: GroupNorm::new(&w.pp("norm2"), groups, out, eps)?,
            conv2: Conv2d::new(&w.pp("conv2"), out, out, 3, 1, 1)?,
            conv_shortcut: if in_channels != out {
                Some(Conv2d::new(&w.pp("conv_shortcut"), in_channels, out, 1, 1, 0)?)
            } else {
                None
            },
            output_scale_factor: self.output_scale_factor,
        })
    }

    fn layer(&self, w: &Weights, i: usize, in_channels: usize) -> Result<Layer, DiffusionError> {
        let resnet = self.resnet(&w.pp("resnets").pp(i), in_channels)?;
        let attention = match self.transformer_depth {
            Some(depth) => {
                Some(Transformer2D::new(&w.pp("attentions").pp(i), self.channels, self.heads, depth, self.cfg)?)
            }
            None => None,
        };
        Ok(Layer { resnet, attention })
    }
}

struct DownBlock {
    layers: Vec<Layer>,
    downsample: Option<Conv2d>,
    pad_before_downsample: bool,
}

struct UpBlock {
    layers: Vec<Layer>,
    upsample: Option<Conv2d>,
}

pub(crate) struct Unet {
    conv_in: Conv2d,
    time_channels: usize,
    flip_sin_to_cos: bool,
    freq_shift: f64,
    time_linear_1: Linear,
    time_linear_2: Linear,
    down: Vec<DownBlock>,
    mid_resnet1: ResnetBlock,
    mid_attention: Transformer2D,
    mid_resnet2: ResnetBlock,
    up: Vec<UpBlock>,
    conv_norm_out: GroupNorm,
    conv_out: Conv2d,
    center_input_sample: bool,
    kind: Kind,
}

impl Unet {
    pub(crate) fn new(
        w: &Weights,
        in_channels: usize,
        out_channels: usize,
        cfg: &UNet2DConditionModelConfig,
        kind: Kind,
    ) -> Result<Self, DiffusionError> {
        let Some(layout) = unet_layout::layout(cfg) else {
            return Err(DiffusionError::Torch {
                context: "building the UNet".into(),
                detail: "the config has no blocks".into(),
            });
        };
        let spec = |l: &unet_layout::Level, output_scale_factor: f64| LevelSpec {
            cfg,
            channels: l.channels,
            temb: layout.temb,
            transformer_depth: l.transformer_depth,
            heads: l.heads,
            output_scale_factor,
        };
        let layers = |w: &Weights, l: &unet_layout::Level| {
            let s = spec(l, 1.0);
            l.layer_inputs.iter().enumerate().map(|(j, &cin)| s.layer(w, j, cin)).collect::<Result<Vec<_>, _>>()
        };

        let wd = w.pp("down_blocks");
        let mut down = Vec::with_capacity(layout.down.len());
        for (i, l) in layout.down.iter().enumerate() {
            let wi = wd.pp(i);
            let downsample = if l.resample {
                let (c, p) = (l.channels, cfg.downsample_padding);
                Some(Conv2d::new(&wi.pp("downsamplers").pp(0).pp("conv"), c, c, 3, 2, p)?)
            } else {
                None
            };
            down.push(DownBlock {
                layers: layers(&wi, l)?,
                downsample,
                pad_before_downsample: cfg.downsample_padding == 0,
            });
        }

        let wm = w.pp("mid_block");
        let mid = &layout.mid;
        let mid_spec = LevelSpec { transformer_depth: None, ..spec(mid, cfg.mid_block_scale_factor) };
        let mid_resnet1 = mid_spec.resnet(&wm.pp("resnets").pp(0), mid.layer_inputs[0])?;
        let mid_resnet2 = mid_spec.resnet(&wm.pp("resnets").pp(1), mid.layer_inputs[1])?;
        let mid_attention = Transformer2D::new(
            &wm.pp("attentions").pp(0),
            mid.channels,
            mid.heads,
            mid.transformer_depth.unwrap_or(1),
            cfg,
        )?;

        let wu = w.pp("up_blocks");
        let mut up = Vec::with_capacity(layout.up.len());
        for (i, l) in layout.up.iter().enumerate() {
            let wi = wu.pp(i);
            let upsample = if l.resample {
                Some(Conv2d::new(&wi.pp("upsamplers").pp(0).pp("conv"), l.channels, l.channels, 3, 1, 1)?)
            } else {
                None
            };
            up.push(UpBlock { layers: layers(&wi, l)?, upsample });
        }
        let (base, temb) = (layout.base, layout.temb);

        Ok(Self {
            conv_in: Conv2d::new(&w.pp("conv_in"), in_channels, base, 3, 1, 1)?,
            time_channels: base,
            flip_sin_to_cos: cfg.flip_sin_to_cos,
            freq_shift: cfg.freq_shift,
            time_linear_1: Linear::new(&w.pp("time_embedding").pp("linear_1"), base, temb)?,
            time_linear_2: Linear::new(&w.pp("time_embedding").pp("linear_2"), temb, temb)?,
            down,
            mid_resnet1,
            mid_attention,
            mid_resnet2,
            up,
            conv_norm_out: GroupNorm::new(&w.pp("conv_norm_out"), cfg.norm_num_groups, base, cfg.norm_eps)?,
            conv_out: Conv2d::new(&w.pp("conv_out"), base, out_channels, 3, 1, 1)?,
            center_input_sample: cfg.center_input_sample,
            kind,
        })
    }

    /// One denoising prediction for `x` (batch b) at timestep `t`, conditioned on `context`
    /// (batch b).
    pub(crate) fn forward(&self, x: &Tensor, timestep: f64, context: &Tensor) -> Tensor {
        let (b, _, h, w) = x.size4().expect("latents are (batch, channels, height, width)");
        let x = if self.center_input_sample { x * 2.0 - 1.0 } else { x.shallow_clone() };
        let t = timestep_embedding(timestep, b, self.time_channels, self.flip_sin_to_cos, self.freq_shift);
        let temb = self.time_linear_2.forward(&self.time_linear_1.forward(&t.to_kind(self.kind)).silu());

        let mut x = self.conv_in.forward(&x);
        let mut skips = vec![x.shallow_clone()];
        for block in &self.down {
            for layer in &block.layers {
                x = layer.forward(&x, &temb, context);
                skips.push(x.shallow_clone());
            }
            if let Some(down) = &block.downsample {
                if block.pad_before_downsample {
                    x = x.constant_pad_nd([0, 1, 0, 1]);
                }
                x = down.forward(&x);
                skips.push(x.shallow_clone());
            }
        }

        x = self.mid_resnet1.forward(&x, &temb);
        x = self.mid_attention.forward(&x, context);
        x = self.mid_resnet2.forward(&x, &temb);

        let factor = 1i64 << (self.down.len() - 1);
        let exact_sizes = h % factor != 0 || w % factor != 0;
        for block in &self.up {
            for layer in &block.layers {
                let skip = skips.pop().expect("one skip per up-block layer");
                x = layer.forward(&Tensor::cat(&[&x, &skip], 1), &temb, context);
            }
            if let Some(up) = &block.upsample {
                let (_, _, sh, sw) = x.size4().expect("feature map");
                let (th, tw) = match skips.last() {
                    Some(next) if exact_sizes => {
                        let s = next.size();
                        (s[2], s[3])
                    }
                    _ => (sh * 2, sw * 2),
                };
                x = up.forward(&x.upsample_nearest2d([th, tw], None, None));
            }
        }
        self.conv_out.forward(&self.conv_norm_out.forward(&x).silu())
    }
}
