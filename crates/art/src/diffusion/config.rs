//! Reading the architecture of a diffusers-layout model folder from its config files.
//!
//! ```text
//! model_index.json                      which pipeline (StableDiffusionPipeline)
//! unet/config.json         + weights    UNet2DConditionModel
//! vae/config.json          + weights    AutoencoderKL
//! text_encoder/config.json + weights    CLIPTextModel (transformers)
//! tokenizer/tokenizer.json              or vocab.json + merges.txt (+ special_tokens_map.json)
//! scheduler/scheduler_config.json       optional: training noise schedule, prediction_type
//! ```
//!
//! Each diffusers/transformers field is mapped onto candle's public config structs. Fields
//! that would change the computation in ways candle's SD modules cannot follow (SDXL's extra
//! embeddings, inpainting's 9 input channels, ...) are refused with
//! [`DiffusionError::UnsupportedArchitecture`] naming the file and field, rather than being
//! silently ignored. Defaults for missing fields are diffusers' class defaults.

use std::path::{Path, PathBuf};

use candle_transformers::models::stable_diffusion::unet_2d::{BlockConfig, UNet2DConditionModelConfig};
use candle_transformers::models::stable_diffusion::vae::AutoEncoderKLConfig;
use serde_json::{Map, Value};

use super::clip::{Activation, ClipConfig};
use super::error::DiffusionError;
use super::scheduler::{BetaSchedule, LcmParams, NoiseSchedule, Prediction, Spacing};

/// Most training timesteps a scheduler config may declare (Stable Diffusion uses 1000).
pub const MAX_TRAIN_TIMESTEPS: usize = 100_000;

/// Most blocks a VAE may have (each after the first halves the image; SD's VAE has 4).
pub const MAX_VAE_BLOCKS: usize = 8;

/// Pipelines whose components this engine runs.
pub const SUPPORTED_PIPELINES: &[&str] = &["StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline"];

/// A config file parsed as a JSON object, remembering where it came from for errors.
pub(crate) struct JsonConfig {
    pub path: PathBuf,
    pub map: Map<String, Value>,
}

impl JsonConfig {
    pub fn read(path: &Path, what: &str) -> Result<Self, DiffusionError> {
        if !path.is_file() {
            return Err(DiffusionError::MissingFile { path: path.to_path_buf(), what: what.to_string() });
        }
        let text = std::fs::read_to_string(path).map_err(|e| DiffusionError::io(path, e))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, DiffusionError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| DiffusionError::bad_config(path, format!("not valid JSON: {e}")))?;
        match value {
            Value::Object(map) => Ok(Self { path: path.to_path_buf(), map }),
            _ => Err(DiffusionError::bad_config(path, "expected a JSON object")),
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn type_error(&self, key: &str, expected: &str) -> DiffusionError {
        DiffusionError::bad_config(&self.path, format!("field `{key}` must be {expected}, found {}", self.map[key]))
    }

    pub fn unsupported(&self, detail: impl Into<String>) -> DiffusionError {
        DiffusionError::unsupported(&self.path, detail)
    }

    pub fn usize(&self, key: &str, default: usize) -> Result<usize, DiffusionError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_u64().map(|n| n as usize).ok_or_else(|| self.type_error(key, "a whole number")),
        }
    }

    pub fn f64(&self, key: &str, default: f64) -> Result<f64, DiffusionError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| self.type_error(key, "a number")),
        }
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, DiffusionError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.type_error(key, "true or false")),
        }
    }

    pub fn str(&self, key: &str, default: &str) -> Result<String, DiffusionError> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(v) => v.as_str().map(str::to_string).ok_or_else(|| self.type_error(key, "a string")),
        }
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<String>, DiffusionError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_str().map(|s| Some(s.to_string())).ok_or_else(|| self.type_error(key, "a string")),
        }
    }

    pub fn strings(&self, key: &str, default: &[&str]) -> Result<Vec<String>, DiffusionError> {
        match self.get(key) {
            None => Ok(default.iter().map(|s| s.to_string()).collect()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| self.type_error(key, "a list of strings")))
                .collect(),
            Some(_) => Err(self.type_error(key, "a list of strings")),
        }
    }

    pub fn usizes(&self, key: &str, default: &[usize]) -> Result<Vec<usize>, DiffusionError> {
        match self.get(key) {
            None => Ok(default.to_vec()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_u64().map(|n| n as usize).ok_or_else(|| self.type_error(key, "a list of whole numbers")))
                .collect(),
            Some(_) => Err(self.type_error(key, "a list of whole numbers")),
        }
    }

    /// A field diffusers allows as one number or one number per block.
    pub fn per_block(&self, key: &str, n: usize, default: Option<usize>) -> Result<Option<Vec<usize>>, DiffusionError> {
        match self.get(key) {
            None => Ok(default.map(|d| vec![d; n])),
            Some(Value::Array(_)) => {
                let v = self.usizes(key, &[])?;
                if v.len() != n {
                    return Err(DiffusionError::bad_config(
                        &self.path,
                        format!("field `{key}` lists {} values but the model has {n} blocks", v.len()),
                    ));
                }
                Ok(Some(v))
            }
            Some(_) => Ok(Some(vec![self.usize(key, 0)?; n])),
        }
    }

    /// Refuses a field unless it is absent, null or one of `allowed`.
    pub fn require(&self, key: &str, allowed: &[Value], why: &str) -> Result<(), DiffusionError> {
        match self.get(key) {
            None => Ok(()),
            Some(v) if allowed.contains(v) => Ok(()),
            Some(v) => Err(self.unsupported(format!("`{key}` = {v} ({why})"))),
        }
    }
}

/// The UNet's architecture, as candle wants it.
#[derive(Debug, Clone)]
pub struct UnetArch {
    pub config: UNet2DConditionModelConfig,
    pub in_channels: usize,
    pub out_channels: usize,
}

pub(crate) fn unet_arch(cfg: &JsonConfig) -> Result<UnetArch, DiffusionError> {
    let class = cfg.str("_class_name", "UNet2DConditionModel")?;
    if class != "UNet2DConditionModel" {
        return Err(cfg.unsupported(format!("`_class_name` is {class:?}, expected \"UNet2DConditionModel\"")));
    }
    let channels = cfg.usizes("block_out_channels", &[320, 640, 1280, 1280])?;
    let n = channels.len();
    if n == 0 {
        return Err(DiffusionError::bad_config(&cfg.path, "`block_out_channels` is empty"));
    }
    let down = cfg.strings(
        "down_block_types",
        &["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    )?;
    let up = cfg
        .strings("up_block_types", &["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"])?;
    if down.len() != n || up.len() != n {
        return Err(DiffusionError::bad_config(
            &cfg.path,
            format!(
                "`block_out_channels` has {n} entries but `down_block_types` has {} and `up_block_types` {}",
                down.len(),
                up.len()
            ),
        ));
    }
    let mut cross = Vec::with_capacity(n);
    for (i, d) in down.iter().enumerate() {
        let is_cross = match d.as_str() {
            "CrossAttnDownBlock2D" => true,
            "DownBlock2D" => false,
            other => {
                return Err(cfg
                    .unsupported(format!("down block type {other:?} (supported: CrossAttnDownBlock2D, DownBlock2D)")));
            }
        };
        let mirror = &up[n - 1 - i];
        let expected = if is_cross { "CrossAttnUpBlock2D" } else { "UpBlock2D" };
        if mirror != expected {
            return Err(cfg.unsupported(format!(
                "up block {} is {mirror:?} but mirrors down block {i} ({d}); only mirrored UNets are supported (expected {expected})",
                n - 1 - i
            )));
        }
        cross.push(is_cross);
    }
    let mid = cfg.str("mid_block_type", "UNetMidBlock2DCrossAttn")?;
    if mid != "UNetMidBlock2DCrossAttn" {
        return Err(cfg.unsupported(format!("mid block type {mid:?} (supported: UNetMidBlock2DCrossAttn)")));
    }
    let why_sdxl = "SDXL / conditioning extras are not supported";
    cfg.require("addition_embed_type", &[], why_sdxl)?;
    cfg.require("class_embed_type", &[], why_sdxl)?;
    cfg.require("num_class_embeds", &[], why_sdxl)?;
    cfg.require("encoder_hid_dim", &[], why_sdxl)?;
    cfg.require("time_cond_proj_dim", &[], "LCM-distilled guidance embedding is not supported")?;
    cfg.require("act_fn", &["silu".into()], "only SiLU is supported")?;
    cfg.require("resnet_time_scale_shift", &["default".into()], "only the default time shift is supported")?;
    cfg.require("time_embedding_type", &["positional".into()], "only positional time embeddings are supported")?;
    cfg.require("attention_type", &["default".into()], "only default attention is supported")?;
    cfg.require("dual_cross_attention", &[false.into()], "not supported")?;
    cfg.require("only_cross_attention", &[false.into()], "not supported")?;
    cfg.require("conv_in_kernel", &[3.into()], "only 3x3 convolutions are supported")?;
    cfg.require("conv_out_kernel", &[3.into()], "only 3x3 convolutions are supported")?;
    cfg.require("cross_attention_norm", &[], "not supported")?;
    cfg.require("encoder_hid_dim_type", &[], why_sdxl)?;
    cfg.require("addition_time_embed_dim", &[], why_sdxl)?;
    cfg.require("time_embedding_act_fn", &[], "an extra time-embedding activation is not supported")?;
    cfg.require("timestep_post_act", &[], "an extra time-embedding activation is not supported")?;
    cfg.require("class_embeddings_concat", &[false.into()], "not supported")?;
    cfg.require("mid_block_only_cross_attention", &[false.into()], "not supported")?;
    cfg.require("reverse_transformer_layers_per_block", &[], "not supported")?;
    if matches!(cfg.get("layers_per_block"), Some(Value::Array(_))) {
        return Err(cfg.unsupported("`layers_per_block` per block (only one number is supported)"));
    }
    if matches!(cfg.get("cross_attention_dim"), Some(Value::Array(_))) {
        return Err(cfg.unsupported("`cross_attention_dim` per block (only one number is supported)"));
    }
    let in_channels = cfg.usize("in_channels", 4)?;
    let out_channels = cfg.usize("out_channels", 4)?;
    if in_channels != 4 || out_channels != 4 {
        return Err(cfg.unsupported(format!(
            "`in_channels` {in_channels} / `out_channels` {out_channels}: only 4-channel latents are supported (inpainting and depth models are not)"
        )));
    }
    // diffusers: `num_attention_heads = num_attention_heads or attention_head_dim` (the old
    // field name really meant the number of heads).
    let heads = match cfg.per_block("num_attention_heads", n, None)? {
        Some(h) => h,
        None => cfg.per_block("attention_head_dim", n, Some(8))?.unwrap_or_default(),
    };
    let tlpb = cfg.per_block("transformer_layers_per_block", n, Some(1))?.unwrap_or_default();
    let norm_num_groups = cfg.usize("norm_num_groups", 32)?;
    if let Some(d) = cfg.get("time_embedding_dim")
        && d.as_u64() != (channels[0] as u64).checked_mul(4)
    {
        return Err(
            cfg.unsupported(format!("`time_embedding_dim` {d} (only 4 x the first block's channels is supported)"))
        );
    }
    for (i, (&c, &h)) in channels.iter().zip(&heads).enumerate() {
        if h == 0 || c % h != 0 {
            return Err(DiffusionError::bad_config(
                &cfg.path,
                format!("block {i}: {c} channels cannot be split into {h} attention heads"),
            ));
        }
        if norm_num_groups == 0 || c % norm_num_groups != 0 {
            return Err(DiffusionError::bad_config(
                &cfg.path,
                format!("block {i}: {c} channels cannot be split into {norm_num_groups} norm groups"),
            ));
        }
    }
    let blocks = (0..n)
        .map(|i| BlockConfig {
            out_channels: channels[i],
            use_cross_attn: cross[i].then_some(tlpb[i]),
            attention_head_dim: heads[i],
        })
        .collect();
    let config = UNet2DConditionModelConfig {
        center_input_sample: cfg.bool("center_input_sample", false)?,
        flip_sin_to_cos: cfg.bool("flip_sin_to_cos", true)?,
        freq_shift: cfg.f64("freq_shift", 0.0)?,
        blocks,
        layers_per_block: cfg.usize("layers_per_block", 2)?,
        downsample_padding: cfg.usize("downsample_padding", 1)?,
        mid_block_scale_factor: cfg.f64("mid_block_scale_factor", 1.0)?,
        norm_num_groups,
        norm_eps: cfg.f64("norm_eps", 1e-5)?,
        cross_attention_dim: cfg.usize("cross_attention_dim", 1280)?,
        // candle 0.11.1's sliced attention fails ("unexpected rank"): never slice.
        sliced_attention_size: None,
        use_linear_projection: cfg.bool("use_linear_projection", false)?,
    };
    Ok(UnetArch { config, in_channels, out_channels })
}

/// The VAE's architecture, as candle wants it, plus the latent scaling.
#[derive(Debug, Clone)]
pub struct VaeArch {
    pub config: AutoEncoderKLConfig,
    /// Whether the file really has `quant_conv` (we always build one; see the loader).
    pub has_quant_conv: bool,
    pub scaling_factor: f64,
    /// Pixels per latent along each side (8 for SD).
    pub downscale: usize,
    /// Run the VAE in f32 even for f16 recipes (diffusers' `force_upcast`, default true:
    /// SD's VAE overflows in f16).
    pub force_upcast: bool,
}

pub(crate) fn vae_arch(cfg: &JsonConfig) -> Result<VaeArch, DiffusionError> {
    let class = cfg.str("_class_name", "AutoencoderKL")?;
    if class != "AutoencoderKL" {
        return Err(cfg.unsupported(format!("`_class_name` is {class:?}, expected \"AutoencoderKL\"")));
    }
    let channels = cfg.usizes("block_out_channels", &[64])?;
    let n = channels.len();
    if n == 0 {
        return Err(DiffusionError::bad_config(&cfg.path, "`block_out_channels` is empty"));
    }
    // Every block after the first halves the image: the downscale is 2^(blocks - 1).
    if n > MAX_VAE_BLOCKS {
        return Err(cfg.unsupported(format!(
            "`block_out_channels` lists {n} blocks; at most {MAX_VAE_BLOCKS} are supported (Stable Diffusion's VAE has 4)"
        )));
    }
    for (key, only) in [("down_block_types", "DownEncoderBlock2D"), ("up_block_types", "UpDecoderBlock2D")] {
        let types = cfg.strings(key, &vec![only; n])?;
        if types.len() != n {
            return Err(DiffusionError::bad_config(
                &cfg.path,
                format!("`{key}` lists {} blocks but `block_out_channels` has {n}", types.len()),
            ));
        }
        if let Some(t) = types.iter().find(|t| t.as_str() != only) {
            return Err(cfg.unsupported(format!("`{key}` contains {t:?} (supported: {only})")));
        }
    }
    cfg.require("act_fn", &["silu".into()], "only SiLU is supported")?;
    cfg.require("in_channels", &[3.into()], "only RGB images are supported")?;
    cfg.require("out_channels", &[3.into()], "only RGB images are supported")?;
    cfg.require("shift_factor", &[], "latent shift (SD3/Flux VAEs) is not supported")?;
    cfg.require("latents_mean", &[], "per-channel latent statistics (SDXL-style VAEs) are not supported")?;
    cfg.require("mid_block_add_attention", &[true.into()], "VAEs without mid-block attention are not supported")?;
    let norm_num_groups = cfg.usize("norm_num_groups", 32)?;
    if let Some(c) = channels.iter().find(|&&c| norm_num_groups == 0 || c % norm_num_groups != 0) {
        return Err(DiffusionError::bad_config(
            &cfg.path,
            format!("{c} channels cannot be split into {norm_num_groups} norm groups"),
        ));
    }
    let latent_channels = cfg.usize("latent_channels", 4)?;
    if latent_channels != 4 {
        return Err(
            cfg.unsupported(format!("`latent_channels` {latent_channels}: the UNet works on 4-channel latents"))
        );
    }
    let has_quant_conv = cfg.bool("use_quant_conv", true)?;
    let config = AutoEncoderKLConfig {
        block_out_channels: channels,
        layers_per_block: cfg.usize("layers_per_block", 1)?,
        latent_channels,
        norm_num_groups,
        // Always built: the loader supplies an identity `quant_conv` when the file has none
        // (it is where we read the latent mean; see `weights::VaeEncoderTweak`).
        use_quant_conv: true,
        use_post_quant_conv: cfg.bool("use_post_quant_conv", true)?,
    };
    Ok(VaeArch {
        config,
        has_quant_conv,
        scaling_factor: cfg.f64("scaling_factor", 0.18215)?,
        downscale: 1 << (n - 1),
        force_upcast: cfg.bool("force_upcast", true)?,
    })
}

/// The text encoder's architecture: our CLIP ([`super::clip`]) in the config's shape.
#[derive(Debug, Clone)]
pub struct TextEncoderArch {
    pub clip: ClipConfig,
    pub hidden_size: usize,
    pub max_position_embeddings: usize,
}

pub(crate) fn text_arch(cfg: &JsonConfig) -> Result<TextEncoderArch, DiffusionError> {
    if let Some(Value::Array(archs)) = cfg.get("architectures") {
        let names: Vec<&str> = archs.iter().filter_map(Value::as_str).collect();
        if !names.contains(&"CLIPTextModel") {
            return Err(cfg.unsupported(format!("`architectures` is {names:?}, expected [\"CLIPTextModel\"]")));
        }
    }
    if let Some(mt) = cfg.opt_str("model_type")?
        && mt != "clip_text_model"
    {
        return Err(cfg.unsupported(format!("`model_type` is {mt:?}, expected \"clip_text_model\"")));
    }
    let hidden = cfg.usize("hidden_size", 512)?;
    let heads = cfg.usize("num_attention_heads", 8)?;
    let layers = cfg.usize("num_hidden_layers", 12)?;
    let inter = cfg.usize("intermediate_size", 2048)?;
    let max_pos = cfg.usize("max_position_embeddings", 77)?;
    let vocab = cfg.usize("vocab_size", 49408)?;
    let eps = cfg.f64("layer_norm_eps", 1e-5)?;
    if !(eps.is_finite() && eps > 0.0) {
        return Err(DiffusionError::bad_config(&cfg.path, format!("`layer_norm_eps` {eps} must be a positive number")));
    }
    if heads == 0 || hidden % heads != 0 {
        return Err(DiffusionError::bad_config(
            &cfg.path,
            format!("`hidden_size` {hidden} cannot be split into {heads} heads"),
        ));
    }
    if max_pos < 2 {
        return Err(DiffusionError::bad_config(
            &cfg.path,
            format!("`max_position_embeddings` {max_pos} leaves no room for a prompt"),
        ));
    }
    let activation = match cfg.str("hidden_act", "quick_gelu")?.as_str() {
        "quick_gelu" => Activation::QuickGelu,
        "gelu" => Activation::Gelu,
        other => return Err(cfg.unsupported(format!("`hidden_act` {other:?} (supported: quick_gelu, gelu)"))),
    };
    let clip = ClipConfig {
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: inter,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        max_position_embeddings: max_pos,
        layer_norm_eps: eps,
        activation,
    };
    Ok(TextEncoderArch { clip, hidden_size: hidden, max_position_embeddings: max_pos })
}

/// The training noise schedule from `scheduler/scheduler_config.json` (SD's when absent).
pub(crate) fn noise_schedule(cfg: Option<&JsonConfig>) -> Result<NoiseSchedule, DiffusionError> {
    let Some(cfg) = cfg else { return Ok(NoiseSchedule::stable_diffusion()) };
    let train_steps = cfg.usize("num_train_timesteps", 1000)?;
    if train_steps < 2 {
        return Err(DiffusionError::bad_config(&cfg.path, format!("`num_train_timesteps` {train_steps} is too small")));
    }
    // The schedule holds one number per training step: a damaged value must not size it.
    if train_steps > MAX_TRAIN_TIMESTEPS {
        return Err(DiffusionError::bad_config(
            &cfg.path,
            format!(
                "`num_train_timesteps` {train_steps} is implausible (at most {MAX_TRAIN_TIMESTEPS}; Stable Diffusion uses 1000)"
            ),
        ));
    }
    let (start, end) = (cfg.f64("beta_start", 0.00085)?, cfg.f64("beta_end", 0.012)?);
    let betas = match cfg.get("trained_betas") {
        Some(Value::Array(items)) => {
            let b: Option<Vec<f64>> = items.iter().map(Value::as_f64).collect();
            let b =
                b.ok_or_else(|| DiffusionError::bad_config(&cfg.path, "`trained_betas` must be a list of numbers"))?;
            if b.len() != train_steps {
                return Err(DiffusionError::bad_config(
                    &cfg.path,
                    format!("`trained_betas` has {} values, expected {train_steps}", b.len()),
                ));
            }
            BetaSchedule::Trained(b)
        }
        _ => match cfg.str("beta_schedule", "scaled_linear")?.as_str() {
            "scaled_linear" => BetaSchedule::ScaledLinear { start, end },
            "linear" => BetaSchedule::Linear { start, end },
            "squaredcos_cap_v2" => BetaSchedule::SquaredCosCapV2,
            other => {
                return Err(cfg.unsupported(format!(
                    "`beta_schedule` {other:?} (supported: scaled_linear, linear, squaredcos_cap_v2)"
                )));
            }
        },
    }
    .betas(train_steps);
    if betas.iter().any(|b| !(*b > 0.0 && *b < 1.0)) {
        return Err(DiffusionError::bad_config(&cfg.path, "betas must lie strictly between 0 and 1"));
    }
    let prediction = match cfg.str("prediction_type", "epsilon")?.as_str() {
        "epsilon" => Prediction::Epsilon,
        "v_prediction" => Prediction::VPrediction,
        "sample" => Prediction::Sample,
        other => {
            return Err(
                cfg.unsupported(format!("`prediction_type` {other:?} (supported: epsilon, v_prediction, sample)"))
            );
        }
    };
    let spacing = match cfg.str("timestep_spacing", "leading")?.as_str() {
        "leading" => Spacing::Leading,
        "trailing" => Spacing::Trailing,
        "linspace" => Spacing::Linspace,
        other => {
            return Err(
                cfg.unsupported(format!("`timestep_spacing` {other:?} (supported: leading, trailing, linspace)"))
            );
        }
    };
    cfg.require("rescale_betas_zero_snr", &[false.into()], "zero-terminal-SNR schedules are not supported")?;
    cfg.require("thresholding", &[false.into()], "dynamic thresholding is not supported")?;
    // `clip_sample` belongs to diffusers' DDIMScheduler (and DDPMScheduler); only our DDIM
    // sampler reads it (the Euler schedulers have no such parameter and never clip). A config
    // without it, e.g. a PNDMScheduler config as diffusers saves it (PNDM has no such field),
    // gets what `DDIMScheduler.from_config` gives it: DDIMScheduler's own defaults (a field
    // missing from the file takes the *target* class's default, whatever class saved it),
    // `clip_sample=True`, `clip_sample_range=1.0` (diffusers 0.42 `scheduling_ddim.py`).
    let clip_sample = if cfg.bool("clip_sample", true)? { Some(cfg.f64("clip_sample_range", 1.0)?) } else { None };
    if let Some(r) = clip_sample
        && !(r.is_finite() && r > 0.0)
    {
        return Err(DiffusionError::bad_config(
            &cfg.path,
            format!("`clip_sample_range` {r} must be a positive number"),
        ));
    }
    let steps_offset = cfg.usize("steps_offset", 0)?;
    if steps_offset >= train_steps {
        return Err(DiffusionError::bad_config(
            &cfg.path,
            format!("`steps_offset` {steps_offset} must be less than `num_train_timesteps` ({train_steps})"),
        ));
    }
    // Also a DDIM parameter (where DDIM steps to after its last step): DDIMScheduler's default
    // is `True`. PNDM configs always carry it (PNDM has it too, default `False`), but an Euler
    // config (SD-Turbo's) has none, and DDIM built from it goes to alpha = 1.
    let set_alpha_to_one = cfg.bool("set_alpha_to_one", true)?;
    let mut schedule = NoiseSchedule::new(&betas, prediction, spacing, steps_offset, set_alpha_to_one, clip_sample);
    // LCM's own parameters, with `LCMScheduler`'s defaults (it does not clip by default).
    let original_steps = cfg.usize("original_inference_steps", 50)?;
    if original_steps == 0 || original_steps > train_steps {
        return Err(DiffusionError::bad_config(
            &cfg.path,
            format!("`original_inference_steps` {original_steps} must be 1 to `num_train_timesteps` ({train_steps})"),
        ));
    }
    let timestep_scaling = cfg.f64("timestep_scaling", 10.0)?;
    if !(timestep_scaling.is_finite() && timestep_scaling > 0.0) {
        return Err(DiffusionError::bad_config(
            &cfg.path,
            format!("`timestep_scaling` {timestep_scaling} must be a positive number"),
        ));
    }
    let lcm_clip = if cfg.bool("clip_sample", false)? { clip_sample } else { None };
    schedule.lcm = LcmParams { original_steps, timestep_scaling, clip_sample: lcm_clip };
    Ok(schedule)
}

/// Checks `model_index.json` names a pipeline we run and lists the components we need.
pub(crate) fn check_model_index(cfg: &JsonConfig) -> Result<String, DiffusionError> {
    let class = cfg.str("_class_name", "")?;
    if !SUPPORTED_PIPELINES.contains(&class.as_str()) {
        return Err(cfg
            .unsupported(format!("pipeline `_class_name` {class:?} (supported: {})", SUPPORTED_PIPELINES.join(", "))));
    }
    for extra in ["text_encoder_2", "tokenizer_2", "transformer", "prior", "controlnet"] {
        if cfg.get(extra).is_some_and(|v| v.as_array().is_some_and(|a| a.iter().any(|x| !x.is_null()))) {
            return Err(cfg.unsupported(format!(
                "component `{extra}` (SDXL-style or other multi-encoder pipelines are not supported)"
            )));
        }
    }
    Ok(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> JsonConfig {
        JsonConfig::parse(Path::new("x/config.json"), text).unwrap()
    }

    const SD21_UNET: &str = r#"{
      "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.10.0.dev0", "act_fn": "silu",
      "attention_head_dim": [5, 10, 20, 20], "block_out_channels": [320, 640, 1280, 1280],
      "center_input_sample": false, "cross_attention_dim": 1024,
      "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
      "downsample_padding": 1, "dual_cross_attention": false, "flip_sin_to_cos": true, "freq_shift": 0,
      "in_channels": 4, "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-05,
      "norm_num_groups": 32, "num_class_embeds": null, "only_cross_attention": false, "out_channels": 4,
      "sample_size": 96,
      "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
      "upcast_attention": true, "use_linear_projection": true
    }"#;

    #[test]
    fn sd21_unet_maps_onto_candles_sd21_layout() {
        let a = unet_arch(&cfg(SD21_UNET)).unwrap();
        let heads: Vec<usize> = a.config.blocks.iter().map(|b| b.attention_head_dim).collect();
        let cross: Vec<Option<usize>> = a.config.blocks.iter().map(|b| b.use_cross_attn).collect();
        assert_eq!(heads, [5, 10, 20, 20]);
        assert_eq!(cross, [Some(1), Some(1), Some(1), None]);
        assert_eq!(a.config.cross_attention_dim, 1024);
        assert!(a.config.use_linear_projection);
        assert!(a.config.sliced_attention_size.is_none());
    }

    #[test]
    fn sd15_defaults_fill_missing_fields() {
        // SD 1.5's config relies on diffusers defaults for several fields.
        let a = unet_arch(&cfg(
            r#"{"_class_name": "UNet2DConditionModel", "cross_attention_dim": 768, "attention_head_dim": 8}"#,
        ))
        .unwrap();
        assert_eq!(a.config.blocks.len(), 4);
        assert_eq!(a.config.blocks[0].out_channels, 320);
        assert_eq!(a.config.blocks[3].use_cross_attn, None);
        assert!(!a.config.use_linear_projection);
        assert_eq!(a.config.layers_per_block, 2);
    }

    #[test]
    fn text_encoders_take_their_activation_and_size_from_the_config() {
        let t = text_arch(&cfg(r#"{"architectures": ["CLIPTextModel"], "hidden_act": "gelu", "hidden_size": 1024,
            "intermediate_size": 4096, "layer_norm_eps": 1e-05, "max_position_embeddings": 77,
            "model_type": "clip_text_model", "num_attention_heads": 16, "num_hidden_layers": 23,
            "projection_dim": 512, "vocab_size": 49408}"#))
        .unwrap();
        assert_eq!(t.clip.activation, Activation::Gelu);
        assert_eq!((t.clip.num_hidden_layers, t.hidden_size), (23, 1024));
        let t = text_arch(&cfg(r#"{"hidden_act": "quick_gelu", "hidden_size": 768, "intermediate_size": 3072,
            "num_attention_heads": 12, "num_hidden_layers": 12, "vocab_size": 49408}"#))
        .unwrap();
        assert_eq!(t.clip.activation, Activation::QuickGelu);
        assert_eq!((t.clip.hidden_size, t.clip.num_hidden_layers), (768, 12));
        // Any size of GELU encoder now runs (candle's SD CLIP only had SD 2.1's).
        let small = text_arch(&cfg(r#"{"hidden_act": "gelu", "hidden_size": 48, "intermediate_size": 96,
            "num_attention_heads": 4, "num_hidden_layers": 3, "vocab_size": 553}"#))
        .unwrap();
        assert_eq!((small.clip.activation, small.clip.vocab_size), (Activation::Gelu, 553));
        let relu = cfg(r#"{"hidden_act": "relu"}"#);
        assert!(text_arch(&relu).unwrap_err().to_string().contains("hidden_act"));
    }

    #[test]
    fn schedulers_read_prediction_type_and_spacing() {
        let sd21 = noise_schedule(Some(&cfg(
            r#"{"_class_name": "DDIMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
            "beta_start": 0.00085, "clip_sample": false, "num_train_timesteps": 1000, "prediction_type": "v_prediction",
            "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null}"#,
        )))
        .unwrap();
        assert_eq!((sd21.prediction, sd21.spacing, sd21.steps_offset), (Prediction::VPrediction, Spacing::Leading, 1));
        let turbo = noise_schedule(Some(&cfg(r#"{"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012,
            "beta_schedule": "scaled_linear", "beta_start": 0.00085, "interpolation_type": "linear",
            "num_train_timesteps": 1000, "prediction_type": "epsilon", "steps_offset": 1,
            "timestep_spacing": "trailing", "use_karras_sigmas": false}"#)))
        .unwrap();
        assert_eq!(turbo.timesteps(1), vec![999]);
        // SD 1.5 ships a PNDM config without `timestep_spacing`: leading, offset 1.
        let sd15 = noise_schedule(Some(&cfg(
            r#"{"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
            "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true,
            "steps_offset": 1, "trained_betas": null}"#,
        )))
        .unwrap();
        assert_eq!(sd15.timesteps(50)[0], 981);
    }

    #[test]
    fn clip_sample_defaults_as_diffusers_ddim_scheduler() {
        // A PNDM config as diffusers saves it has no `clip_sample`: DDIM built from it clips
        // x0 to [-1, 1] (DDIMScheduler's defaults), unless the config says otherwise.
        let pndm = r#"{"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
            "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true,
            "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": null}"#;
        assert_eq!(noise_schedule(Some(&cfg(pndm))).unwrap().clip_sample, Some(1.0));
        let off = pndm.replace("\"steps_offset\": 1", "\"steps_offset\": 1, \"clip_sample\": false");
        assert_eq!(noise_schedule(Some(&cfg(&off))).unwrap().clip_sample, None);
        let range = pndm.replace("\"steps_offset\": 1", "\"steps_offset\": 1, \"clip_sample_range\": 2.5");
        assert_eq!(noise_schedule(Some(&cfg(&range))).unwrap().clip_sample, Some(2.5));
        // No scheduler config at all: Stable Diffusion's own schedule, which does not clip.
        assert_eq!(noise_schedule(None).unwrap().clip_sample, None);
        // `set_alpha_to_one` is DDIM's too: absent (an Euler config), DDIM ends at alpha = 1;
        // a PNDM config's `false` ends at alpha_0.
        let euler = r#"{"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
            "beta_start": 0.00085, "num_train_timesteps": 1000, "steps_offset": 1, "timestep_spacing": "trailing"}"#;
        assert_eq!(noise_schedule(Some(&cfg(euler))).unwrap().final_alpha_cumprod, 1.0);
        let s = noise_schedule(Some(&cfg(pndm))).unwrap();
        assert_eq!(s.final_alpha_cumprod, s.alphas_cumprod[0]);
    }

    #[test]
    fn sdxl_and_inpainting_are_refused_by_field() {
        let xl = cfg(r#"{"_class_name": "UNet2DConditionModel", "addition_embed_type": "text_time"}"#);
        assert!(unet_arch(&xl).unwrap_err().to_string().contains("addition_embed_type"));
        let inpaint = cfg(r#"{"_class_name": "UNet2DConditionModel", "in_channels": 9}"#);
        assert!(unet_arch(&inpaint).unwrap_err().to_string().contains("inpainting"));
        let idx = cfg(
            r#"{"_class_name": "StableDiffusionPipeline", "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"]}"#,
        );
        assert!(check_model_index(&idx).unwrap_err().to_string().contains("text_encoder_2"));
    }
}
