//! Writes seeded random-weight models as diffusers-layout folders, for tests and benchmarks.
//!
//! No weights can be downloaded in tests, so [`write_model`] makes a complete model folder
//! (`model_index.json`, component configs, safetensors weights, a CLIP-shaped BPE tokenizer)
//! that loads through the production loader. The tensor list is not hand-written: the
//! configs are parsed by the production config code and the *real* candle modules are built
//! against a recording backend, so the files have exactly the names and shapes the loader
//! will ask for. Values follow each tensor's initialisation hint (Kaiming, constant, ...)
//! from a ChaCha stream keyed by `sha256(seed, name)`, so they do not depend on build order,
//! and are streamed to disk one tensor at a time (an SD 1.5-sized model never sits in RAM).
//!
//! [`ModelSpec::tiny`] is a ~10 MB model (UNet `[32, 64]`, 32-wide CLIP, an 8x VAE);
//! [`ModelSpec::sd15`] carries Stable Diffusion 1.5's real configs (1.07 B parameters).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Shape};
use candle_nn::init::{FanInOut, NormalOrUniform};
use candle_nn::{Init, VarBuilder};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::config::{self, JsonConfig};
use super::error::DiffusionError;
use super::model::{build_text, build_unet, build_vae};
use super::rng::NormalRng;
use super::single_file;
use super::tokenizer::{BOS, EOS, clip_tokenizer_json};
use super::weights::{ShapeCheck, TensorList, WeightFile, WeightsBackend};

/// The dtype weight files are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightDtype {
    F32,
    F16,
}

/// Everything [`write_model`] writes. Fields are public so tests can break one thing.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub seed: u64,
    pub model_index: Value,
    pub unet: Value,
    pub vae: Value,
    pub text_encoder: Value,
    /// `scheduler/scheduler_config.json`; `None` writes no scheduler folder.
    pub scheduler: Option<Value>,
    /// Words the tokenizer gets whole-word merges for (everything else splits into bytes).
    pub words: Vec<String>,
    pub weight_dtype: WeightDtype,
    /// Write `tokenizer/tokenizer.json`.
    pub tokenizer_json: bool,
    /// Write `tokenizer/vocab.json` + `merges.txt` (the original SD repositories' form).
    pub vocab_and_merges: bool,
    /// Multiplies every randomly initialised weight (not norms or constants): < 1 keeps a
    /// random network's activations, and so its images, away from saturation.
    pub weight_scale: f64,
    /// Give the VAE hand-set weights that make it a rough autoencoder (see
    /// [`pass_through_vae`]) instead of random ones, so img2img outputs resemble their source.
    pub pass_through_vae: bool,
}

const WORDS: &[&str] = &[
    "a",
    "photo",
    "of",
    "the",
    "cat",
    "moth",
    "butterfly",
    "chrysalis",
    "forest",
    "glowing",
    "neon",
    "city",
    "night",
    "painting",
    "oil",
    "blurry",
    "ugly",
    "dark",
    "light",
    "red",
    "blue",
    "green",
    "gold",
    "wings",
    "garden",
    "portrait",
    "surreal",
    "abstract",
    "dream",
    "sky",
    "sea",
    "mountain",
];

fn model_index() -> Value {
    json!({
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": "0.30.0",
        "feature_extractor": [null, null],
        "requires_safety_checker": false,
        "safety_checker": [null, null],
        "scheduler": ["diffusers", "DDIMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"]
    })
}

fn sd_scheduler() -> Value {
    json!({
        "_class_name": "DDIMScheduler",
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "beta_start": 0.00085,
        "clip_sample": false,
        "num_train_timesteps": 1000,
        "prediction_type": "epsilon",
        "set_alpha_to_one": false,
        "steps_offset": 1,
        "timestep_spacing": "leading",
        "trained_betas": null
    })
}

impl ModelSpec {
    /// A tiny model: UNet `[32, 64]` (one cross-attention level), 2-layer 32-wide CLIP,
    /// VAE `[16, 32, 32, 64]` with SD's 8x downscale. About 10 MB in f32.
    pub fn tiny(seed: u64) -> Self {
        Self {
            seed,
            model_index: model_index(),
            unet: json!({
                "_class_name": "UNet2DConditionModel",
                "act_fn": "silu",
                "attention_head_dim": 8,
                "block_out_channels": [32, 64],
                "center_input_sample": false,
                "cross_attention_dim": 32,
                "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
                "downsample_padding": 1,
                "flip_sin_to_cos": true,
                "freq_shift": 0,
                "in_channels": 4,
                "layers_per_block": 2,
                "mid_block_scale_factor": 1,
                "norm_eps": 1e-05,
                "norm_num_groups": 32,
                "out_channels": 4,
                "sample_size": 32,
                "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
                "use_linear_projection": false
            }),
            vae: json!({
                "_class_name": "AutoencoderKL",
                "act_fn": "silu",
                "block_out_channels": [16, 32, 32, 64],
                "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
                "force_upcast": false,
                "in_channels": 3,
                "latent_channels": 4,
                "layers_per_block": 1,
                "norm_num_groups": 8,
                "out_channels": 3,
                "sample_size": 128,
                "scaling_factor": 0.18215,
                "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]
            }),
            text_encoder: json!({
                "architectures": ["CLIPTextModel"],
                "hidden_act": "quick_gelu",
                "hidden_size": 32,
                "intermediate_size": 64,
                "layer_norm_eps": 1e-05,
                "max_position_embeddings": 77,
                "model_type": "clip_text_model",
                "num_attention_heads": 4,
                "num_hidden_layers": 2,
                "projection_dim": 32,
                "vocab_size": null
            }),
            scheduler: Some(sd_scheduler()),
            words: WORDS.iter().map(|s| s.to_string()).collect(),
            weight_dtype: WeightDtype::F32,
            tokenizer_json: true,
            vocab_and_merges: false,
            weight_scale: 0.5,
            pass_through_vae: true,
        }
    }

    /// Stable Diffusion 1.5's real configs with random weights (1.07 B parameters).
    pub fn sd15(seed: u64) -> Self {
        let mut s = Self::tiny(seed);
        s.unet = json!({
            "_class_name": "UNet2DConditionModel",
            "act_fn": "silu",
            "attention_head_dim": 8,
            "block_out_channels": [320, 640, 1280, 1280],
            "center_input_sample": false,
            "cross_attention_dim": 768,
            "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
            "downsample_padding": 1,
            "flip_sin_to_cos": true,
            "freq_shift": 0,
            "in_channels": 4,
            "layers_per_block": 2,
            "mid_block_scale_factor": 1,
            "norm_eps": 1e-05,
            "norm_num_groups": 32,
            "out_channels": 4,
            "sample_size": 64,
            "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
        });
        s.vae = json!({
            "_class_name": "AutoencoderKL",
            "act_fn": "silu",
            "block_out_channels": [128, 256, 512, 512],
            "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
            "in_channels": 3,
            "latent_channels": 4,
            "layers_per_block": 2,
            "norm_num_groups": 32,
            "out_channels": 3,
            "sample_size": 512,
            "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]
        });
        s.text_encoder = json!({
            "architectures": ["CLIPTextModel"],
            "attention_dropout": 0.0,
            "bos_token_id": 0,
            "dropout": 0.0,
            "eos_token_id": 2,
            "hidden_act": "quick_gelu",
            "hidden_size": 768,
            "initializer_factor": 1.0,
            "initializer_range": 0.02,
            "intermediate_size": 3072,
            "layer_norm_eps": 1e-05,
            "max_position_embeddings": 77,
            "model_type": "clip_text_model",
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "pad_token_id": 1,
            "projection_dim": 768,
            "torch_dtype": "float32",
            "vocab_size": 49408
        });
        s.scheduler = Some(json!({
            "_class_name": "PNDMScheduler",
            "beta_end": 0.012,
            "beta_schedule": "scaled_linear",
            "beta_start": 0.00085,
            "num_train_timesteps": 1000,
            "set_alpha_to_one": false,
            "skip_prk_steps": true,
            "steps_offset": 1,
            "trained_betas": null,
            "clip_sample": false
        }));
        s.pass_through_vae = false;
        s
    }
}

/// GPT-2/CLIP's byte -> printable character table used by byte-level BPE.
fn bytes_to_unicode() -> Vec<char> {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut table = vec!['\0'; 256];
    for &b in &printable {
        table[b as usize] = char::from_u32(b).expect("latin-1");
    }
    let mut extra = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            table[b as usize] = char::from_u32(256 + extra).expect("valid");
            extra += 1;
            printable.push(b);
        }
    }
    table
}

/// A CLIP-shaped BPE vocabulary: the 256 byte symbols, the same with `</w>`, one chain of
/// merges per word in `words`, then `<|startoftext|>` and `<|endoftext|>`.
pub fn clip_vocab(words: &[String]) -> (BTreeMap<String, u32>, Vec<String>) {
    let mut vocab = BTreeMap::new();
    let mut next = 0u32;
    let mut add = |vocab: &mut BTreeMap<String, u32>, tok: String| {
        if let std::collections::btree_map::Entry::Vacant(e) = vocab.entry(tok) {
            e.insert(next);
            next += 1;
        }
    };
    let table = bytes_to_unicode();
    for c in &table {
        add(&mut vocab, c.to_string());
    }
    for c in &table {
        add(&mut vocab, format!("{c}</w>"));
    }
    let mut merges = Vec::new();
    for w in words {
        let mut syms: Vec<String> = w.bytes().map(|b| table[b as usize].to_string()).collect();
        if let Some(last) = syms.last_mut() {
            last.push_str("</w>");
        }
        while syms.len() > 1 {
            let merged = format!("{}{}", syms[0], syms[1]);
            let rule = format!("{} {}", syms[0], syms[1]);
            if !merges.contains(&rule) {
                merges.push(rule);
            }
            add(&mut vocab, merged.clone());
            syms.splice(0..2, [merged]);
        }
    }
    add(&mut vocab, BOS.to_string());
    add(&mut vocab, EOS.to_string());
    (vocab, merges)
}

/// The tensors (name -> shape, init hint) a module built by `build` asks for.
fn record(build: impl FnOnce(VarBuilder) -> candle_core::Result<()>) -> Result<TensorList, DiffusionError> {
    let check = ShapeCheck::new(None);
    let wanted = check.wanted.clone();
    let vb = VarBuilder::from_backend(Box::new(check), DType::F32, Device::Cpu);
    build(vb)
        .map_err(|source| DiffusionError::Candle { context: "recording a test model's tensors".into(), source })?;
    let wanted = std::mem::take(&mut *wanted.lock().expect("shape check"));
    Ok(wanted)
}

/// The values of one tensor, from its own ChaCha stream.
fn values(seed: u64, name: &str, shape: &[usize], init: Init, scale: f64) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let mut key = [0u8; 32];
    key.copy_from_slice(&Sha256::new().chain_update(seed.to_le_bytes()).chain_update(name.as_bytes()).finalize());
    let mut rng = NormalRng::from_key(key);
    match init {
        Init::Const(v) => vec![v as f32; n],
        Init::Randn { mean, stdev } => (0..n).map(|_| (mean + stdev * scale * rng.normal()) as f32).collect(),
        Init::Uniform { lo, up } => (0..n).map(|_| ((lo + (up - lo) * rng.uniform()) * scale) as f32).collect(),
        Init::Kaiming { dist, fan, non_linearity } => {
            let fan = match fan {
                FanInOut::FanIn => FanInOut::FanIn,
                FanInOut::FanOut => FanInOut::FanOut,
            }
            .for_shape(&Shape::from(shape.to_vec()));
            let std = non_linearity.gain() / (fan.max(1) as f64).sqrt() * scale;
            match dist {
                NormalOrUniform::Normal => (0..n).map(|_| (std * rng.normal()) as f32).collect(),
                NormalOrUniform::Uniform => {
                    let bound = 3f64.sqrt() * std;
                    (0..n).map(|_| (bound * (2.0 * rng.uniform() - 1.0)) as f32).collect()
                }
            }
        }
    }
}

/// Streams a safetensors file: header, then each tensor's bytes as they are generated.
fn write_safetensors(
    path: &Path,
    tensors: &TensorList,
    dtype: WeightDtype,
    mut data: impl FnMut(&str, &[usize], Init) -> Vec<f32>,
) -> Result<(), DiffusionError> {
    let elem = match dtype {
        WeightDtype::F32 => 4,
        WeightDtype::F16 => 2,
    };
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut offset = 0usize;
    for (name, (shape, _)) in tensors {
        let len = shape.iter().product::<usize>() * elem;
        let dt = if elem == 4 { "F32" } else { "F16" };
        header.insert(name.clone(), json!({"dtype": dt, "shape": shape, "data_offsets": [offset, offset + len]}));
        offset += len;
    }
    let mut text = Value::Object(header).to_string();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let io = |e| DiffusionError::io(path, e);
    let file = std::fs::File::create(path).map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    w.write_all(&(text.len() as u64).to_le_bytes()).map_err(io)?;
    w.write_all(text.as_bytes()).map_err(io)?;
    for (name, (shape, init)) in tensors {
        let v = data(name, shape, *init);
        let bytes: Vec<u8> = match dtype {
            WeightDtype::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            WeightDtype::F16 => v.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect(),
        };
        w.write_all(&bytes).map_err(io)?;
    }
    w.flush().map_err(io)
}

fn write_json(path: &Path, v: &Value) -> Result<(), DiffusionError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DiffusionError::io(dir, e))?;
    }
    std::fs::write(path, serde_json::to_string_pretty(v).expect("json")).map_err(|e| DiffusionError::io(path, e))
}

/// Writes the model `spec` describes into `dir` (created if needed) in the diffusers layout.
pub fn write_model(dir: &Path, spec: &ModelSpec) -> Result<(), DiffusionError> {
    let (vocab, merges) = clip_vocab(&spec.words);
    let mut text_cfg = spec.text_encoder.clone();
    if text_cfg.get("vocab_size").is_none_or(Value::is_null) {
        text_cfg["vocab_size"] = json!(vocab.len());
    }
    write_json(&dir.join("model_index.json"), &spec.model_index)?;
    write_json(&dir.join("unet/config.json"), &spec.unet)?;
    write_json(&dir.join("vae/config.json"), &spec.vae)?;
    write_json(&dir.join("text_encoder/config.json"), &text_cfg)?;
    if let Some(s) = &spec.scheduler {
        write_json(&dir.join("scheduler/scheduler_config.json"), s)?;
    }
    let tok = dir.join("tokenizer");
    std::fs::create_dir_all(&tok).map_err(|e| DiffusionError::io(&tok, e))?;
    if spec.tokenizer_json {
        write_json(&tok.join("tokenizer.json"), &clip_tokenizer_json(&vocab, &merges))?;
    }
    if spec.vocab_and_merges {
        write_json(&tok.join("vocab.json"), &json!(vocab))?;
        let text =
            std::iter::once("#version: 0.2".to_string()).chain(merges.iter().cloned()).collect::<Vec<_>>().join("\n");
        std::fs::write(tok.join("merges.txt"), text + "\n")
            .map_err(|e| DiffusionError::io(tok.join("merges.txt"), e))?;
    }
    write_json(
        &tok.join("special_tokens_map.json"),
        &json!({"bos_token": BOS, "eos_token": EOS, "pad_token": EOS, "unk_token": EOS}),
    )?;
    write_json(
        &tok.join("tokenizer_config.json"),
        &json!({"model_max_length": 77, "tokenizer_class": "CLIPTokenizer"}),
    )?;

    // Parse with the production code, then let candle's own modules say what they need.
    let parse = |p: PathBuf| JsonConfig::read(&p, "config");
    let unet = config::unet_arch(&parse(dir.join("unet/config.json"))?)?;
    let vae = config::vae_arch(&parse(dir.join("vae/config.json"))?)?;
    let text = config::text_arch(&parse(dir.join("text_encoder/config.json"))?)?;

    let unet_t = record(|vb| build_unet(vb, &unet).map(drop))?;
    let mut vae_t = record(|vb| build_vae(vb, &vae).map(drop))?;
    if !vae.has_quant_conv {
        vae_t.retain(|k, _| !k.starts_with("quant_conv."));
    }
    let text_t = record(|vb| build_text(vb, &text).map(drop))?;

    let (seed, scale) = (spec.seed, spec.weight_scale);
    let tensor_values = |name: &str, shape: &[usize], init: Init| {
        let s = match init {
            Init::Const(_) => 1.0,
            _ => scale,
        };
        values(seed, name, shape, init, s)
    };
    let st = |d: &str, f: &str| {
        let p = dir.join(d);
        std::fs::create_dir_all(&p).map_err(|e| DiffusionError::io(&p, e))?;
        Ok::<PathBuf, DiffusionError>(p.join(f))
    };
    write_safetensors(&st("unet", "diffusion_pytorch_model.safetensors")?, &unet_t, spec.weight_dtype, tensor_values)?;
    let vae_values = |name: &str, shape: &[usize], init: Init| {
        let hand_set = if spec.pass_through_vae { pass_through_vae(name, shape) } else { None };
        hand_set.unwrap_or_else(|| tensor_values(name, shape, init))
    };
    write_safetensors(&st("vae", "diffusion_pytorch_model.safetensors")?, &vae_t, spec.weight_dtype, vae_values)?;
    write_safetensors(&st("text_encoder", "model.safetensors")?, &text_t, spec.weight_dtype, tensor_values)?;
    Ok(())
}

/// Hand-set VAE weights that carry the picture through instead of scrambling it.
///
/// Every resnet's second conv and every attention output projection is zero, so those blocks
/// are identities; shortcut, `conv_in`/`conv_out`, quant and up-sampling convs pass channel
/// `c` to channel `c` (for the three colour channels); down-sampling convs average 2x2. The
/// encoder thus stores a normalised 8x8-average of the image in latent channels 0-2, and the
/// decoder blows it back up: a blocky, contrast-normalised copy of the source. Group norms
/// and the remaining tensors keep their usual values. `None` for tensors left to the
/// random initialisation.
pub fn pass_through_vae(name: &str, shape: &[usize]) -> Option<Vec<f32>> {
    let n: usize = shape.iter().product();
    let (module, param) = name.rsplit_once('.')?;
    let zero = || Some(vec![0f32; n]);
    // out channel c takes in channel c at kernel tap (ky, kx), for c < `upto`.
    let diagonal = |upto: usize, taps: &[(usize, usize)], gain: f32| {
        let mut v = vec![0f32; n];
        let (o, i) = (shape[0], shape[1]);
        let (kh, kw) = (shape.get(2).copied().unwrap_or(1), shape.get(3).copied().unwrap_or(1));
        for c in 0..upto.min(o).min(i) {
            for &(y, x) in taps {
                v[((c * i + c) * kh + y) * kw + x] = gain / taps.len() as f32;
            }
        }
        Some(v)
    };
    let is_bias = param == "bias";
    let centre = [(1usize, 1usize)];
    if module.ends_with("conv2") || module.ends_with("to_out.0") || module.ends_with("proj_attn") {
        return zero();
    }
    if module.ends_with("conv_shortcut") || module == "quant_conv" || module == "post_quant_conv" {
        return if is_bias { zero() } else { diagonal(usize::MAX, &[(0, 0)], 1.0) };
    }
    if module.ends_with("downsamplers.0.conv") {
        return if is_bias { zero() } else { diagonal(usize::MAX, &[(0, 0), (0, 1), (1, 0), (1, 1)], 1.0) };
    }
    if module.ends_with("upsamplers.0.conv") || module == "encoder.conv_in" || module == "decoder.conv_in" {
        return if is_bias { zero() } else { diagonal(usize::MAX, &centre, 1.0) };
    }
    if module == "encoder.conv_out" {
        // Latents of SD-like magnitude once scaled by 0.18215.
        return if is_bias { zero() } else { diagonal(3, &centre, 8.0) };
    }
    if module == "decoder.conv_out" {
        return if is_bias { zero() } else { diagonal(3, &centre, 1.6) };
    }
    if module.ends_with("conv_norm_out") && param == "weight" {
        // Keep SiLU in its near-linear range.
        return Some(vec![0.5; n]);
    }
    None
}

/// Writes [`ModelSpec::tiny`]`(seed)` into `dir`.
pub fn write_tiny_model(dir: &Path, seed: u64) -> Result<(), DiffusionError> {
    write_model(dir, &ModelSpec::tiny(seed))
}

/// A deterministic RGB test picture (soft diagonal bands and a disc), `w` x `h`.
pub fn test_image(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let d = ((fx - 0.5).powi(2) + (fy - 0.5).powi(2)).sqrt();
        let disc = if d < 0.3 { 1.0 } else { 0.0 };
        let r = (255.0 * (0.5 + 0.5 * (fx * 9.0 + fy * 3.0).sin())) as u8;
        let g = (255.0 * (0.3 + 0.6 * disc)) as u8;
        let b = (255.0 * fy) as u8;
        image::Rgb([r, g, b])
    })
}

/// Every tensor a single-file checkpoint gives the loader, under the diffusers names the
/// models ask for (`unet/...`, `vae/...`, `text_encoder/text_model....`), read through the
/// loader's name map (slices and reshapes included) as f32. Lets tests compare a checkpoint
/// with the diffusers model it was written from even where the model cannot run here.
pub fn single_file_tensors(path: &Path) -> Result<BTreeMap<String, candle_core::Tensor>, DiffusionError> {
    let file = WeightFile::open(path)?;
    let ck = single_file::inspect(path, &file)?;
    let mut out = BTreeMap::new();
    for (component, map) in [("unet", &ck.unet.1), ("vae", &ck.vae.1), ("text_encoder", &ck.text.1)] {
        let mut b = WeightsBackend::open(path, &[path.to_path_buf()])?;
        b.remap(map)?;
        for name in map.keys() {
            out.insert(format!("{component}/{name}"), b.load(None, name, DType::F32)?);
        }
    }
    Ok(out)
}
