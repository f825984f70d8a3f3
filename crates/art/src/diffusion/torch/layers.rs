//! The few layers Stable Diffusion is built from, over libtorch's ATen operators, and the
//! reader that fills them from our weight files.
//!
//! Weights come through the same [`WeightsBackend`] candle's modules read: its name mapping
//! (single-file LDM names, transformers 5's text encoder), its LoRA merge and its shape
//! checks all apply unchanged. Each tensor is read on the CPU in f32 by that reader, copied
//! into a libtorch tensor and cast to the run's dtype, so no format logic lives here.

use std::fmt::Display;

use candle_core::{DType, Shape};
use tch::{Kind, Tensor};

use crate::diffusion::error::DiffusionError;
use crate::diffusion::weights::WeightsBackend;

/// A candle tensor (any device, f32-castable) as a libtorch CPU tensor in f32.
pub(crate) fn from_candle(t: &candle_core::Tensor) -> Result<Tensor, DiffusionError> {
    let dims: Vec<i64> = t.dims().iter().map(|&d| d as i64).collect();
    // A contiguous f32 CPU tensor (every weight as read) is copied once, from its storage.
    if t.dtype() == DType::F32 && t.is_contiguous() {
        let (storage, layout) = t.storage_and_layout();
        if let candle_core::Storage::Cpu(candle_core::CpuStorage::F32(v)) = &*storage {
            let start = layout.start_offset();
            return Ok(Tensor::from_slice(&v[start..start + t.elem_count()]).reshape(dims));
        }
    }
    let data: Vec<f32> = t
        .to_dtype(DType::F32)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1())
        .map_err(|source| DiffusionError::Candle { context: "handing a tensor to libtorch".into(), source })?;
    Ok(Tensor::from_slice(&data).reshape(dims))
}

/// A libtorch tensor (any dtype) as a candle CPU tensor in f32.
pub(crate) fn to_candle(t: &Tensor) -> Result<candle_core::Tensor, DiffusionError> {
    let dims: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    let flat = t.to_kind(Kind::Float).contiguous().view([-1]);
    let data = Vec::<f32>::try_from(&flat).map_err(|e| DiffusionError::Torch {
        context: "reading a tensor back from libtorch".into(),
        detail: e.to_string(),
    })?;
    candle_core::Tensor::from_vec(data, dims, &candle_core::Device::Cpu)
        .map_err(|source| DiffusionError::Candle { context: "reading a tensor back from libtorch".into(), source })
}

/// Reads a component's weights under a name prefix, as candle's `VarBuilder` does.
#[derive(Clone)]
pub(crate) struct Weights<'a> {
    files: &'a WeightsBackend,
    prefix: String,
    kind: Kind,
}

impl<'a> Weights<'a> {
    pub(crate) fn new(files: &'a WeightsBackend, kind: Kind) -> Self {
        Self { files, prefix: String::new(), kind }
    }

    /// The same files under `prefix.name`.
    pub(crate) fn pp(&self, name: impl Display) -> Self {
        let prefix = if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) };
        Self { prefix, ..self.clone() }
    }

    fn full(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.files.contains(&self.full(name))
    }

    /// The tensor `name`, which must have `shape`, in the run's dtype.
    pub(crate) fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, DiffusionError> {
        let t = self.files.load(Some(&Shape::from(shape.to_vec())), &self.full(name), DType::F32)?;
        Ok(from_candle(&t)?.to_kind(self.kind))
    }

    /// The tensor `name` whatever its shape (a weight a layer reshapes itself).
    pub(crate) fn get_any(&self, name: &str) -> Result<Tensor, DiffusionError> {
        let t = self.files.load(None, &self.full(name), DType::F32)?;
        Ok(from_candle(&t)?.to_kind(self.kind))
    }
}

/// A 2-D convolution with bias.
pub(crate) struct Conv2d {
    weight: Tensor,
    bias: Tensor,
    stride: i64,
    padding: i64,
}

impl Conv2d {
    pub(crate) fn new(
        w: &Weights,
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Self, DiffusionError> {
        Ok(Self {
            weight: w.get("weight", &[cout, cin, kernel, kernel])?,
            bias: w.get("bias", &[cout])?,
            stride: stride as i64,
            padding: padding as i64,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        let w = self.weight.size();
        if w[2] == 1 && w[3] == 1 && self.stride == 1 && self.padding == 0 {
            // A 1×1 convolution is a GEMM over the channels. Written as one, it goes to MKL's
            // GEMM, whose strict reproducible mode gives the same bits at any thread count;
            // oneDNN's 1×1 kernel splits the channel sum between threads, so its bits depend
            // on how many there are.
            let (b, _, h, wd) = x.size4().expect("feature map");
            let out = self.weight.view([w[0], w[1]]).matmul(&x.view([b, w[1], h * wd]));
            return (out + self.bias.view([1, w[0], 1])).view([b, w[0], h, wd]);
        }
        x.conv2d(&self.weight, Some(&self.bias), [self.stride; 2], [self.padding; 2], [1, 1], 1)
    }
}

/// `x Wᵀ + b`.
pub(crate) struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    pub(crate) fn new(w: &Weights, cin: usize, cout: usize) -> Result<Self, DiffusionError> {
        Ok(Self { weight: w.get("weight", &[cout, cin])?, bias: Some(w.get("bias", &[cout])?) })
    }

    pub(crate) fn no_bias(w: &Weights, cin: usize, cout: usize) -> Result<Self, DiffusionError> {
        Ok(Self { weight: w.get("weight", &[cout, cin])?, bias: None })
    }

    /// A linear layer stored as a 1×1 convolution (old VAE attention blocks).
    pub(crate) fn from_any(w: &Weights, cin: usize, cout: usize) -> Result<Self, DiffusionError> {
        Ok(Self {
            weight: w.get_any("weight")?.reshape([cout as i64, cin as i64]),
            bias: Some(w.get("bias", &[cout])?),
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight, self.bias.as_ref())
    }
}

/// Group normalisation (Wu & He 2018) with an affine map.
pub(crate) struct GroupNorm {
    groups: i64,
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl GroupNorm {
    pub(crate) fn new(w: &Weights, groups: usize, channels: usize, eps: f64) -> Result<Self, DiffusionError> {
        Ok(Self {
            groups: groups as i64,
            weight: w.get("weight", &[channels])?,
            bias: w.get("bias", &[channels])?,
            eps,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        x.group_norm(self.groups, Some(&self.weight), Some(&self.bias), self.eps, false)
    }
}

/// Layer normalisation over the last dimension.
pub(crate) struct LayerNorm {
    dim: i64,
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub(crate) fn new(w: &Weights, dim: usize, eps: f64) -> Result<Self, DiffusionError> {
        Ok(Self { dim: dim as i64, weight: w.get("weight", &[dim])?, bias: w.get("bias", &[dim])?, eps })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        x.layer_norm([self.dim], Some(&self.weight), Some(&self.bias), self.eps, false)
    }
}

/// Multi-head attention over `(batch, tokens, heads·d)` inputs through ATen's fused
/// `scaled_dot_product_attention` (softmax(q kᵀ/√d + mask) v), as diffusers' default
/// attention processor calls it: in the run's dtype, since the fused CPU kernel accumulates
/// scores and softmax in f32 for f16 and bf16 anyway (candle's path upcasts by hand).
pub(crate) fn attention(q: &Tensor, k: &Tensor, v: &Tensor, heads: i64, mask: Option<&Tensor>) -> Tensor {
    let (b, n, c) = q.size3().expect("attention input is (batch, tokens, channels)");
    let split = |t: &Tensor| {
        let m = t.size()[1];
        t.view([b, m, heads, c / heads]).transpose(1, 2)
    };
    let mask = mask.map(|m| m.to_kind(q.kind()));
    let out = Tensor::scaled_dot_product_attention(&split(q), &split(k), &split(v), mask, 0.0, false, None, false);
    out.transpose(1, 2).reshape([b, n, c])
}
