//! The CLIP text encoder on libtorch: the network of [`crate::diffusion::clip`] (pre-norm
//! causal transformer, activation from the config, final layer norm), with libtorch's kernels.

use tch::{Kind, Tensor};

use super::layers::{LayerNorm, Linear, Weights, attention};
use crate::diffusion::clip::{Activation, ClipConfig};
use crate::diffusion::error::DiffusionError;

struct EncoderLayer {
    layer_norm1: LayerNorm,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    layer_norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

pub(crate) struct ClipTextModel {
    token_embedding: Tensor,
    position_embedding: Tensor,
    layers: Vec<EncoderLayer>,
    final_layer_norm: LayerNorm,
    heads: i64,
    activation: Activation,
}

impl ClipTextModel {
    /// Weights under `text_model.` (transformers' names).
    pub(crate) fn new(w: &Weights, c: &ClipConfig) -> Result<Self, DiffusionError> {
        let (d, eps) = (c.hidden_size, c.layer_norm_eps);
        let w = w.pp("text_model");
        let emb = w.pp("embeddings");
        let enc = w.pp("encoder").pp("layers");
        let layer = |i: usize| -> Result<EncoderLayer, DiffusionError> {
            let l = enc.pp(i);
            let a = l.pp("self_attn");
            Ok(EncoderLayer {
                layer_norm1: LayerNorm::new(&l.pp("layer_norm1"), d, eps)?,
                q_proj: Linear::new(&a.pp("q_proj"), d, d)?,
                k_proj: Linear::new(&a.pp("k_proj"), d, d)?,
                v_proj: Linear::new(&a.pp("v_proj"), d, d)?,
                out_proj: Linear::new(&a.pp("out_proj"), d, d)?,
                layer_norm2: LayerNorm::new(&l.pp("layer_norm2"), d, eps)?,
                fc1: Linear::new(&l.pp("mlp").pp("fc1"), d, c.intermediate_size)?,
                fc2: Linear::new(&l.pp("mlp").pp("fc2"), c.intermediate_size, d)?,
            })
        };
        Ok(Self {
            token_embedding: emb.pp("token_embedding").get("weight", &[c.vocab_size, d])?,
            position_embedding: emb.pp("position_embedding").get("weight", &[c.max_position_embeddings, d])?,
            layers: (0..c.num_hidden_layers).map(layer).collect::<Result<_, _>>()?,
            final_layer_norm: LayerNorm::new(&w.pp("final_layer_norm"), d, eps)?,
            heads: c.num_attention_heads as i64,
            activation: c.activation,
        })
    }

    /// Token ids to the last hidden state after the final layer norm, `(1, n, hidden)`.
    pub(crate) fn forward(&self, ids: &[u32]) -> Tensor {
        let n = ids.len() as i64;
        let ids: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
        let ids = Tensor::from_slice(&ids).view([1, n]);
        let positions = Tensor::arange(n, (Kind::Int64, tch::Device::Cpu));
        let mut x = Tensor::embedding(&self.token_embedding, &ids, -1, false, false)
            + Tensor::embedding(&self.position_embedding, &positions, -1, false, false);
        // The causal mask: −∞ above the diagonal.
        let mask = Tensor::full([n, n], f64::NEG_INFINITY, (Kind::Float, tch::Device::Cpu)).triu(1).view([1, 1, n, n]);
        for l in &self.layers {
            let h = l.layer_norm1.forward(&x);
            let a =
                attention(&l.q_proj.forward(&h), &l.k_proj.forward(&h), &l.v_proj.forward(&h), self.heads, Some(&mask));
            x = &x + l.out_proj.forward(&a);
            let h = l.fc1.forward(&l.layer_norm2.forward(&x));
            let h = match self.activation {
                Activation::QuickGelu => &h * (&h * 1.702).sigmoid(),
                Activation::Gelu => h.gelu("none"),
            };
            x = &x + l.fc2.forward(&h);
        }
        self.final_layer_norm.forward(&x)
    }
}
