//! The CLIP text encoder (Radford et al. 2021, "Learning Transferable Visual Models From
//! Natural Language Supervision"), as Stable Diffusion uses it: a causal transformer whose
//! last hidden state, after the final layer norm, conditions the UNet.
//!
//! ```text
//! x = token_embedding[ids] + position_embedding[0..n]
//! repeat num_hidden_layers times (pre-norm):
//!     x = x + out_proj(softmax(q kᵀ / √d + causal) v)   with q, k, v = *_proj(layer_norm1(x))
//!     x = x + fc2(act(fc1(layer_norm2(x))))
//! out = final_layer_norm(x)
//! ```
//!
//! Why our own and not candle's: SD 2.x's OpenCLIP encoder uses GELU, which transformers
//! computes exactly (`erf`); candle-transformers 0.11.1's SD CLIP uses the tanh
//! approximation for it and only exists in SD 2.1's exact size. Here the activation follows
//! the config's `hidden_act` exactly as transformers defines it (`quick_gelu` =
//! `x·σ(1.702x)` for SD 1.x, `gelu` = `x·Φ(x)` with the erf-based Φ), at any size.
//!
//! Weight names are transformers' (`text_model.embeddings.token_embedding.weight`, ...),
//! read under the prefix the caller's `VarBuilder` carries.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};

/// The feed-forward activation (`hidden_act` in transformers' config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `x · sigmoid(1.702 x)`: OpenAI CLIP, SD 1.x.
    QuickGelu,
    /// `x · Φ(x)`, Φ the standard normal CDF computed with erf: OpenCLIP, SD 2.x.
    Gelu,
}

impl Activation {
    fn apply(self, xs: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::QuickGelu => xs * candle_nn::ops::sigmoid(&(xs * 1.702)?)?,
            Self::Gelu => xs.gelu_erf(),
        }
    }
}

/// A CLIP text encoder's shape (transformers' `CLIPTextConfig` fields of the same names).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    pub layer_norm_eps: f64,
    pub activation: Activation,
}

struct SelfAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: usize,
}

impl SelfAttention {
    fn new(vb: VarBuilder, c: &ClipConfig) -> candle_core::Result<Self> {
        let d = c.hidden_size;
        Ok(Self {
            q_proj: candle_nn::linear(d, d, vb.pp("q_proj"))?,
            k_proj: candle_nn::linear(d, d, vb.pp("k_proj"))?,
            v_proj: candle_nn::linear(d, d, vb.pp("v_proj"))?,
            out_proj: candle_nn::linear(d, d, vb.pp("out_proj"))?,
            heads: c.num_attention_heads,
        })
    }

    /// `(b, n, d)` -> `(b, heads, n, d / heads)`.
    fn split_heads(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let (b, n, d) = xs.dims3()?;
        xs.reshape((b, n, self.heads, d / self.heads))?.transpose(1, 2)?.contiguous()
    }

    fn forward(&self, xs: &Tensor, causal: &Tensor) -> candle_core::Result<Tensor> {
        let (b, n, d) = xs.dims3()?;
        let scale = ((d / self.heads) as f64).powf(-0.5);
        let q = self.split_heads(&(self.q_proj.forward(xs)? * scale)?)?;
        let k = self.split_heads(&self.k_proj.forward(xs)?)?;
        let v = self.split_heads(&self.v_proj.forward(xs)?)?;
        // Scores and softmax in f32 whatever the weights' dtype (f16 overflows here).
        let dtype = xs.dtype();
        let (q, k, v) = (q.to_dtype(DType::F32)?, k.to_dtype(DType::F32)?, v.to_dtype(DType::F32)?);
        let scores = q.matmul(&k.t()?)?.broadcast_add(causal)?;
        let attn = candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?.to_dtype(dtype)?;
        let attn = attn.transpose(1, 2)?.reshape((b, n, d))?;
        self.out_proj.forward(&attn)
    }
}

struct EncoderLayer {
    layer_norm1: LayerNorm,
    self_attn: SelfAttention,
    layer_norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    activation: Activation,
}

impl EncoderLayer {
    fn new(vb: VarBuilder, c: &ClipConfig) -> candle_core::Result<Self> {
        let (d, eps) = (c.hidden_size, c.layer_norm_eps);
        Ok(Self {
            layer_norm1: candle_nn::layer_norm(d, eps, vb.pp("layer_norm1"))?,
            self_attn: SelfAttention::new(vb.pp("self_attn"), c)?,
            layer_norm2: candle_nn::layer_norm(d, eps, vb.pp("layer_norm2"))?,
            fc1: candle_nn::linear(d, c.intermediate_size, vb.pp("mlp").pp("fc1"))?,
            fc2: candle_nn::linear(c.intermediate_size, d, vb.pp("mlp").pp("fc2"))?,
            activation: c.activation,
        })
    }

    fn forward(&self, xs: &Tensor, causal: &Tensor) -> candle_core::Result<Tensor> {
        let xs = (xs + self.self_attn.forward(&self.layer_norm1.forward(xs)?, causal)?)?;
        let h = self.fc1.forward(&self.layer_norm2.forward(&xs)?)?;
        &xs + self.fc2.forward(&self.activation.apply(&h)?)?
    }
}

/// CLIP's text transformer (transformers' `CLIPTextModel` without the pooling head).
pub struct ClipTextModel {
    token_embedding: Embedding,
    position_embedding: Embedding,
    layers: Vec<EncoderLayer>,
    final_layer_norm: LayerNorm,
}

impl ClipTextModel {
    /// Builds the model from weights under `vb` (which should point at `text_model`).
    pub fn new(vb: VarBuilder, c: &ClipConfig) -> candle_core::Result<Self> {
        let emb = vb.pp("embeddings");
        let enc = vb.pp("encoder").pp("layers");
        Ok(Self {
            token_embedding: candle_nn::embedding(c.vocab_size, c.hidden_size, emb.pp("token_embedding"))?,
            position_embedding: candle_nn::embedding(
                c.max_position_embeddings,
                c.hidden_size,
                emb.pp("position_embedding"),
            )?,
            layers: (0..c.num_hidden_layers).map(|i| EncoderLayer::new(enc.pp(i), c)).collect::<Result<_, _>>()?,
            final_layer_norm: candle_nn::layer_norm(c.hidden_size, c.layer_norm_eps, vb.pp("final_layer_norm"))?,
        })
    }

    /// `(b, n)` token ids to the `(b, n, hidden)` last hidden state. Token `i` attends to
    /// tokens `0..=i` only (CLIP's causal mask); no padding mask, as Stable Diffusion runs it.
    pub fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (_, n) = ids.dims2()?;
        let positions = Tensor::arange(0u32, n as u32, ids.device())?;
        let mut xs = self.token_embedding.forward(ids)?.broadcast_add(&self.position_embedding.forward(&positions)?)?;
        let causal = causal_mask(n, ids.device())?;
        for layer in &self.layers {
            xs = layer.forward(&xs, &causal)?;
        }
        self.final_layer_norm.forward(&xs)
    }
}

/// `(1, 1, n, n)`: 0 where key `j <= i`, −∞ after; added to the scores before the softmax.
fn causal_mask(n: usize, device: &Device) -> candle_core::Result<Tensor> {
    let mask: Vec<f32> =
        (0..n).flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })).collect();
    Tensor::from_vec(mask, (1, 1, n, n), device)
}
