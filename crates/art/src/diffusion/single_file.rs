//! Single-file checkpoints: the `.safetensors` files AUTOMATIC1111, ComfyUI and Civitai use,
//! holding the whole model under the original LDM/CompVis tensor names.
//!
//! ```text
//! model.diffusion_model.*                       UNet (openaimodel: input/middle/output_blocks)
//! first_stage_model.*                           VAE (encoder.down.i.block.j, mid.attn_1.q, ...)
//! cond_stage_model.transformer.[text_model.]*   SD 1.x: OpenAI CLIP-L, transformers names
//! cond_stage_model.model.*                      SD 2.x: OpenCLIP ViT-H (resblocks, packed in_proj)
//! ```
//!
//! [`inspect`] reads only the header: it infers each component's architecture from tensor
//! shapes, writes it down as the diffusers config that folder would have (so the same
//! [`super::config`] code validates it), and maps every tensor the diffusers-named candle
//! modules will ask for onto the stored tensor ([`KeyMap`]). Nothing is converted on disk; the
//! weights backend slices and reshapes on read (OpenCLIP's packed q/k/v, the VAE attention's
//! 1x1 convolutions).
//!
//! What shapes cannot tell, and how we decide:
//! - attention heads: SD 1.x's UNet has 8 heads per block; SD 2.x's has 64-wide heads; CLIP
//!   text encoders all use 64-wide heads (a test model narrower than 64 gets one head);
//! - SD 2.x's prediction type (the 768 px v-models and the 512 px base share every shape):
//!   an adjacent `<name>.yaml` (the LDM config A1111 reads) decides, `parameterization: "v"`
//!   meaning v-prediction and its absence epsilon; without a yaml SD 2.x is taken as
//!   v-prediction, as diffusers' `from_single_file` does for a checkpoint without a step count;
//! - norm groups (32) and the latent scaling factor (0.18215): Stable Diffusion's.
//!
//! SDXL, SD 3, Flux, inpainting, depth and unCLIP checkpoints are recognised and refused by
//! name. The tokenizer is CLIP's, bundled with the app ([`super::tokenizer`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::error::DiffusionError;
use super::weights::{KeyMap, View, WeightFile};

const UNET: &str = "model.diffusion_model.";
const VAE: &str = "first_stage_model.";
const CLIP_L: &str = "cond_stage_model.transformer.";
const OPEN_CLIP: &str = "cond_stage_model.model.";

/// The name a single-file checkpoint has in a recipe's [`chrysalis_core::recipe::ModelRef`]
/// (whatever the file is called on disk: a renamed file is still the same model).
pub const CHECKPOINT_KEY: &str = chrysalis_core::recipe::CHECKPOINT_KEY;
/// The name of the adjacent LDM yaml, when one was read.
pub const YAML_KEY: &str = "checkpoint.yaml";

/// Which Stable Diffusion a checkpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// SD 1.x: CLIP ViT-L text encoder.
    Sd1,
    /// SD 2.x: OpenCLIP ViT-H text encoder (its penultimate layer).
    Sd2,
}

/// A checkpoint's components as diffusers configs plus tensor maps.
pub(crate) struct Checkpoint {
    pub family: Family,
    pub unet: (Value, KeyMap),
    pub vae: (Value, KeyMap),
    pub text: (Value, KeyMap),
    pub scheduler: Value,
    /// The adjacent yaml, when there is one.
    pub yaml: Option<PathBuf>,
}

struct Header<'a> {
    path: &'a Path,
    file: &'a WeightFile,
}

impl Header<'_> {
    fn shape(&self, name: &str) -> Option<&[usize]> {
        self.file.shape(name)
    }

    fn need(&self, name: &str) -> Result<&[usize], DiffusionError> {
        self.shape(name).ok_or_else(|| DiffusionError::MissingTensor {
            path: self.path.to_path_buf(),
            config: self.path.to_path_buf(),
            tensor: name.to_string(),
        })
    }

    fn dim(&self, name: &str, axis: usize) -> Result<usize, DiffusionError> {
        let s = self.need(name)?;
        s.get(axis).copied().ok_or_else(|| DiffusionError::CorruptWeights {
            path: self.path.to_path_buf(),
            detail: format!("tensor {name} has shape {s:?}, expected at least {} dimensions", axis + 1),
        })
    }

    fn has_prefix(&self, prefix: &str) -> bool {
        self.file.names().any(|n| n.starts_with(prefix))
    }

    /// The distinct whole-number segments following `prefix` (`prefix3.x` -> 3).
    fn indices(&self, prefix: &str) -> BTreeSet<usize> {
        self.file
            .names()
            .filter_map(|n| n.strip_prefix(prefix))
            .filter_map(|rest| rest.split('.').next()?.parse().ok())
            .collect()
    }

    fn unsupported(&self, detail: impl Into<String>) -> DiffusionError {
        DiffusionError::unsupported(self.path, detail)
    }
}

/// The adjacent LDM config of `path` (`model.safetensors` -> `model.yaml`), if present.
pub(crate) fn adjacent_yaml(path: &Path) -> Option<PathBuf> {
    let yaml = path.with_extension("yaml");
    yaml.is_file().then_some(yaml)
}

/// Reads a single-file checkpoint's header and works out what it is.
pub(crate) fn inspect(path: &Path, file: &WeightFile) -> Result<Checkpoint, DiffusionError> {
    let h = Header { path, file };
    // The families we know but do not run, by their telltale tensors.
    if h.has_prefix("conditioner.embedders.") {
        return Err(h.unsupported(
            "this is an SDXL checkpoint (conditioner.embedders.*); only Stable Diffusion 1.x and 2.x single files are supported",
        ));
    }
    for (prefix, what) in [
        ("model.diffusion_model.joint_blocks.", "an SD 3 checkpoint"),
        ("model.diffusion_model.double_blocks.", "a Flux checkpoint"),
        ("double_blocks.", "a Flux checkpoint"),
        ("model.diffusion_model.label_emb.", "an SDXL or unCLIP UNet (class-conditioned, label_emb)"),
    ] {
        if h.has_prefix(prefix) {
            return Err(
                h.unsupported(format!("this is {what}; only Stable Diffusion 1.x and 2.x single files are supported"))
            );
        }
    }
    if ["down_blocks.", "encoder.down_blocks.", "text_model.", "encoder.layers."].iter().any(|p| h.has_prefix(p)) {
        return Err(h.unsupported(
            "this is one component of a diffusers model (diffusers names, not LDM ones): pass the model folder, the one holding model_index.json",
        ));
    }
    if !h.has_prefix(UNET) {
        return Err(h.unsupported(
            "no UNet (model.diffusion_model.*): not a Stable Diffusion 1.x/2.x checkpoint (a LoRA, VAE or embedding file?)",
        ));
    }
    if !h.has_prefix(VAE) {
        return Err(h.unsupported("no VAE (first_stage_model.*): this file holds only part of a model"));
    }
    let family = if h.has_prefix(CLIP_L) {
        Family::Sd1
    } else if h.has_prefix(OPEN_CLIP) {
        Family::Sd2
    } else {
        return Err(h.unsupported(
            "no text encoder (cond_stage_model.transformer.* for SD 1.x, cond_stage_model.model.* for SD 2.x): this file holds only part of a model",
        ));
    };
    let text = match family {
        Family::Sd1 => clip_l(&h)?,
        Family::Sd2 => open_clip(&h)?,
    };
    let yaml = adjacent_yaml(path);
    let v_prediction = match &yaml {
        Some(y) => yaml_says_v(y)?,
        None => family == Family::Sd2,
    };
    Ok(Checkpoint { family, unet: unet(&h, family)?, vae: vae(&h)?, text, scheduler: scheduler(v_prediction), yaml })
}

/// Whether an LDM yaml sets `parameterization: "v"` (a plain-text scan: the key appears once,
/// under `model.params`, in every LDM config).
fn yaml_says_v(path: &Path) -> Result<bool, DiffusionError> {
    let text = std::fs::read_to_string(path).map_err(|e| DiffusionError::io(path, e))?;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(v) = line.strip_prefix("parameterization:") {
            return match v.trim().trim_matches(['"', '\'']) {
                "v" => Ok(true),
                "eps" => Ok(false),
                other => {
                    Err(DiffusionError::unsupported(path, format!("`parameterization: {other}` (supported: eps, v)")))
                }
            };
        }
    }
    Ok(false)
}

/// Stable Diffusion's training schedule (the schedulers SD 1.x and 2.x ship with).
fn scheduler(v_prediction: bool) -> Value {
    json!({
        "_class_name": "DDIMScheduler",
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "num_train_timesteps": 1000,
        "clip_sample": false,
        "set_alpha_to_one": false,
        "steps_offset": 1,
        "timestep_spacing": "leading",
        "prediction_type": if v_prediction { "v_prediction" } else { "epsilon" }
    })
}

/// Adds `from` -> `to` for every stored tensor under `from_prefix`, the rest of the name
/// rewritten by `rename` (`None`: a tensor the model does not use, or an unknown one).
fn map_prefix(
    h: &Header,
    from_prefix: &str,
    mut rename: impl FnMut(&str) -> Result<Option<String>, DiffusionError>,
    unknown: &mut Vec<String>,
) -> Result<KeyMap, DiffusionError> {
    let mut map = KeyMap::new();
    let mut names: Vec<&String> = h.file.names().filter(|n| n.starts_with(from_prefix)).collect();
    names.sort();
    for stored in names {
        match rename(&stored[from_prefix.len()..])? {
            Some(to) => {
                map.insert(to, View::rename(stored.clone()));
            }
            None => unknown.push(stored.clone()),
        }
    }
    Ok(map)
}

fn warn_unknown(what: &str, unknown: &[String]) {
    if !unknown.is_empty() {
        tracing::warn!("{what}: {} tensors of the checkpoint are not used (first: {})", unknown.len(), unknown[0]);
    }
}

/// An LDM ResBlock's parameter -> diffusers' `ResnetBlock2D`.
fn unet_resnet(rest: &str) -> Option<String> {
    let (module, param) = rest.rsplit_once('.')?;
    let to = match module {
        "in_layers.0" => "norm1",
        "in_layers.2" => "conv1",
        "emb_layers.1" => "time_emb_proj",
        "out_layers.0" => "norm2",
        "out_layers.3" => "conv2",
        "skip_connection" => "conv_shortcut",
        _ => return None,
    };
    Some(format!("{to}.{param}"))
}

/// Splits `"12.rest"` into `(12, "rest")`.
fn index_and_rest(s: &str) -> Option<(usize, &str)> {
    let (i, rest) = s.split_once('.')?;
    Some((i.parse().ok()?, rest))
}

/// The UNet (`model.diffusion_model.*`): its diffusers config and tensor map.
fn unet(h: &Header, family: Family) -> Result<(Value, KeyMap), DiffusionError> {
    let p = |s: &str| format!("{UNET}{s}");
    let inputs = h.indices(&p("input_blocks."));
    let downsamplers =
        inputs.iter().filter(|&&i| h.shape(&p(&format!("input_blocks.{i}.0.op.weight"))).is_some()).count();
    let levels = downsamplers + 1;
    // input_blocks: conv_in, then per level `layers` resnets (+ attention) and a downsampler
    // (except the last level).
    let total = inputs.len();
    if total < 2 || !(total - 1 - downsamplers).is_multiple_of(levels) || inputs.iter().max() != Some(&(total - 1)) {
        return Err(h.unsupported(format!(
            "the UNet's input_blocks ({total} of them, {downsamplers} downsamplers) do not form Stable Diffusion's layout"
        )));
    }
    let layers = (total - 1 - downsamplers) / levels;
    let first = |level: usize| 1 + level * (layers + 1);
    let mut channels = Vec::with_capacity(levels);
    let mut cross = Vec::with_capacity(levels);
    for level in 0..levels {
        channels.push(h.dim(&p(&format!("input_blocks.{}.0.out_layers.3.weight", first(level))), 0)?);
        cross.push(h.shape(&p(&format!("input_blocks.{}.1.norm.weight", first(level)))).is_some());
    }
    let mid_attn = p("middle_block.1.");
    let transformer_layers = h.indices(&format!("{mid_attn}transformer_blocks.")).len().max(1);
    let cross_dim = h.dim(&format!("{mid_attn}transformer_blocks.0.attn2.to_k.weight"), 1)?;
    let linear_proj = h.need(&format!("{mid_attn}proj_in.weight"))?.len() == 2;
    let heads: Vec<usize> = match family {
        Family::Sd1 => vec![8; levels],
        Family::Sd2 => channels.iter().map(|c| (c / 64).max(1)).collect(),
    };
    let down: Vec<&str> = cross.iter().map(|&c| if c { "CrossAttnDownBlock2D" } else { "DownBlock2D" }).collect();
    let up: Vec<&str> = cross.iter().rev().map(|&c| if c { "CrossAttnUpBlock2D" } else { "UpBlock2D" }).collect();
    let config = json!({
        "_class_name": "UNet2DConditionModel",
        "in_channels": h.dim(&p("input_blocks.0.0.weight"), 1)?,
        "out_channels": h.dim(&p("out.2.weight"), 0)?,
        "block_out_channels": channels,
        "down_block_types": down,
        "up_block_types": up,
        "layers_per_block": layers,
        "attention_head_dim": heads,
        "transformer_layers_per_block": transformer_layers,
        "cross_attention_dim": cross_dim,
        "use_linear_projection": linear_proj,
        "time_embedding_dim": h.dim(&p("time_embed.0.weight"), 0)?,
        "norm_num_groups": 32,
    });

    let rename = |rest: &str| -> Result<Option<String>, DiffusionError> {
        let mapped = if let Some(r) = rest.strip_prefix("time_embed.0.") {
            Some(format!("time_embedding.linear_1.{r}"))
        } else if let Some(r) = rest.strip_prefix("time_embed.2.") {
            Some(format!("time_embedding.linear_2.{r}"))
        } else if let Some(r) = rest.strip_prefix("input_blocks.0.0.") {
            Some(format!("conv_in.{r}"))
        } else if let Some((k, r)) =
            rest.strip_prefix("input_blocks.").and_then(index_and_rest).filter(|(k, _)| *k >= 1)
        {
            let (level, j) = ((k - 1) / (layers + 1), (k - 1) % (layers + 1));
            if j == layers {
                r.strip_prefix("0.op.").map(|r| format!("down_blocks.{level}.downsamplers.0.conv.{r}"))
            } else if let Some(r) = r.strip_prefix("0.") {
                unet_resnet(r).map(|r| format!("down_blocks.{level}.resnets.{j}.{r}"))
            } else {
                r.strip_prefix("1.").map(|r| format!("down_blocks.{level}.attentions.{j}.{r}"))
            }
        } else if let Some((k, r)) = rest.strip_prefix("middle_block.").and_then(index_and_rest) {
            match k {
                0 | 2 => unet_resnet(r).map(|r| format!("mid_block.resnets.{}.{r}", k / 2)),
                1 => Some(format!("mid_block.attentions.0.{r}")),
                _ => None,
            }
        } else if let Some((k, r)) = rest.strip_prefix("output_blocks.").and_then(index_and_rest) {
            let (level, j) = (k / (layers + 1), k % (layers + 1));
            if let Some(r) = r.strip_prefix("0.") {
                unet_resnet(r).map(|r| format!("up_blocks.{level}.resnets.{j}.{r}"))
            } else if let Some(r) = r.strip_prefix("1.conv.").or_else(|| r.strip_prefix("2.conv.")) {
                Some(format!("up_blocks.{level}.upsamplers.0.conv.{r}"))
            } else {
                r.strip_prefix("1.").map(|r| format!("up_blocks.{level}.attentions.{j}.{r}"))
            }
        } else if let Some(r) = rest.strip_prefix("out.0.") {
            Some(format!("conv_norm_out.{r}"))
        } else {
            rest.strip_prefix("out.2.").map(|r| format!("conv_out.{r}"))
        };
        Ok(mapped)
    };
    let mut unknown = Vec::new();
    let map = map_prefix(h, UNET, rename, &mut unknown)?;
    warn_unknown("UNet", &unknown);
    Ok((config, map))
}

/// An LDM VAE ResnetBlock / AttnBlock parameter -> diffusers' names (and whether the
/// weight is a 1x1 convolution that diffusers stores as a linear layer).
fn vae_inner(rest: &str) -> Option<(String, bool)> {
    let (module, param) = rest.rsplit_once('.')?;
    let (to, squeeze) = match module {
        "norm1" | "conv1" | "norm2" | "conv2" => (module, false),
        "nin_shortcut" => ("conv_shortcut", false),
        "norm" => ("group_norm", false),
        "q" => ("to_q", true),
        "k" => ("to_k", true),
        "v" => ("to_v", true),
        "proj_out" => ("to_out.0", true),
        _ => return None,
    };
    Some((format!("{to}.{param}"), squeeze && param == "weight"))
}

/// The VAE (`first_stage_model.*`): its diffusers config and tensor map.
fn vae(h: &Header) -> Result<(Value, KeyMap), DiffusionError> {
    let p = |s: &str| format!("{VAE}{s}");
    let levels = h.indices(&p("encoder.down.")).len();
    if levels == 0 || h.indices(&p("decoder.up.")).len() != levels {
        return Err(h.unsupported("the VAE's encoder.down / decoder.up blocks do not form Stable Diffusion's layout"));
    }
    let layers = h.indices(&p("encoder.down.0.block.")).len();
    let channels: Vec<usize> = (0..levels)
        .map(|i| h.dim(&p(&format!("encoder.down.{i}.block.0.conv2.weight")), 0))
        .collect::<Result<_, _>>()?;
    let latent = h.dim(&p("post_quant_conv.weight"), 0).or_else(|_| h.dim(&p("decoder.conv_in.weight"), 1))?;
    let config = json!({
        "_class_name": "AutoencoderKL",
        "block_out_channels": channels,
        "down_block_types": vec!["DownEncoderBlock2D"; levels],
        "up_block_types": vec!["UpDecoderBlock2D"; levels],
        "layers_per_block": layers,
        "latent_channels": latent,
        "norm_num_groups": 32,
        "use_quant_conv": h.shape(&p("quant_conv.weight")).is_some(),
        "use_post_quant_conv": h.shape(&p("post_quant_conv.weight")).is_some(),
        "scaling_factor": 0.18215,
    });

    let mut squeezed = BTreeSet::new();
    let mut rename = |rest: &str| -> Option<String> {
        let inner = |r: &str, to: String, squeezed: &mut BTreeSet<String>| {
            vae_inner(r).map(|(r, sq)| {
                let name = format!("{to}.{r}");
                if sq {
                    squeezed.insert(name.clone());
                }
                name
            })
        };
        for (side, blocks, sampler) in [("encoder", "down", "downsample"), ("decoder", "up", "upsample")] {
            let Some(rest) = rest.strip_prefix(side).and_then(|r| r.strip_prefix('.')) else { continue };
            let diffusers_blocks = if side == "encoder" { "down_blocks" } else { "up_blocks" };
            let samplers = if side == "encoder" { "downsamplers" } else { "upsamplers" };
            if let Some((i, r)) = rest.strip_prefix(&format!("{blocks}.")).and_then(index_and_rest) {
                // The decoder's `up` blocks are numbered from the lowest resolution in LDM
                // and from the highest in diffusers.
                let i = if side == "decoder" { levels.checked_sub(1 + i)? } else { i };
                if let Some((j, r)) = r.strip_prefix("block.").and_then(index_and_rest) {
                    return inner(r, format!("{side}.{diffusers_blocks}.{i}.resnets.{j}"), &mut squeezed);
                }
                return r
                    .strip_prefix(&format!("{sampler}.conv."))
                    .map(|r| format!("{side}.{diffusers_blocks}.{i}.{samplers}.0.conv.{r}"));
            }
            if let Some(r) = rest.strip_prefix("mid.block_1.") {
                return inner(r, format!("{side}.mid_block.resnets.0"), &mut squeezed);
            }
            if let Some(r) = rest.strip_prefix("mid.block_2.") {
                return inner(r, format!("{side}.mid_block.resnets.1"), &mut squeezed);
            }
            if let Some(r) = rest.strip_prefix("mid.attn_1.") {
                return inner(r, format!("{side}.mid_block.attentions.0"), &mut squeezed);
            }
            if let Some(r) = rest.strip_prefix("norm_out.") {
                return Some(format!("{side}.conv_norm_out.{r}"));
            }
            for same in ["conv_in.", "conv_out."] {
                if rest.starts_with(same) {
                    return Some(format!("{side}.{rest}"));
                }
            }
            return None;
        }
        ["quant_conv.", "post_quant_conv."].iter().any(|q| rest.starts_with(q)).then(|| rest.to_string())
    };
    let mut unknown = Vec::new();
    let mut map = map_prefix(h, VAE, |r| Ok(rename(r)), &mut unknown)?;
    for name in squeezed {
        if let Some(v) = map.get_mut(&name) {
            v.squeeze = true;
        }
    }
    // Training-only parts some checkpoints keep (the discriminator of the VAE's loss).
    unknown.retain(|n| !n.starts_with(&format!("{VAE}loss.")));
    warn_unknown("VAE", &unknown);
    Ok((config, map))
}

/// CLIP heads are 64 wide in every OpenAI and OpenCLIP text tower.
fn clip_heads(hidden: usize) -> usize {
    if hidden >= 64 && hidden.is_multiple_of(64) { hidden / 64 } else { 1 }
}

/// SD 1.x's text encoder (`cond_stage_model.transformer.*`): already transformers' CLIP,
/// with or without the `text_model.` level.
fn clip_l(h: &Header) -> Result<(Value, KeyMap), DiffusionError> {
    let nested = h.has_prefix(&format!("{CLIP_L}text_model."));
    let p = |s: &str| if nested { format!("{CLIP_L}text_model.{s}") } else { format!("{CLIP_L}{s}") };
    let (vocab, hidden) =
        (h.dim(&p("embeddings.token_embedding.weight"), 0)?, h.dim(&p("embeddings.token_embedding.weight"), 1)?);
    let config = json!({
        "architectures": ["CLIPTextModel"],
        "model_type": "clip_text_model",
        "hidden_act": "quick_gelu",
        "hidden_size": hidden,
        "intermediate_size": h.dim(&p("encoder.layers.0.mlp.fc1.weight"), 0)?,
        "max_position_embeddings": h.dim(&p("embeddings.position_embedding.weight"), 0)?,
        "num_attention_heads": clip_heads(hidden),
        "num_hidden_layers": h.indices(&p("encoder.layers.")).len(),
        "vocab_size": vocab,
    });
    let mut unknown = Vec::new();
    let map = map_prefix(
        h,
        CLIP_L,
        |rest| {
            let rest = rest.strip_prefix("text_model.").unwrap_or(rest);
            Ok((!rest.ends_with("position_ids")).then(|| format!("text_model.{rest}")))
        },
        &mut unknown,
    )?;
    Ok((config, map))
}

/// SD 2.x's text encoder (`cond_stage_model.model.*`, OpenCLIP's names): the layers up to the
/// penultimate one, which is what SD 2.x conditions on, then the final layer norm.
fn open_clip(h: &Header) -> Result<(Value, KeyMap), DiffusionError> {
    let p = |s: &str| format!("{OPEN_CLIP}{s}");
    let (vocab, hidden) = (h.dim(&p("token_embedding.weight"), 0)?, h.dim(&p("token_embedding.weight"), 1)?);
    let blocks = h.indices(&p("transformer.resblocks.")).len();
    if blocks < 2 {
        return Err(h.unsupported(format!("OpenCLIP text encoder with {blocks} layers")));
    }
    let layers = blocks - 1;
    let config = json!({
        "architectures": ["CLIPTextModel"],
        "model_type": "clip_text_model",
        "hidden_act": "gelu",
        "hidden_size": hidden,
        "intermediate_size": h.dim(&p("transformer.resblocks.0.mlp.c_fc.weight"), 0)?,
        "max_position_embeddings": h.dim(&p("positional_embedding"), 0)?,
        "num_attention_heads": clip_heads(hidden),
        "num_hidden_layers": layers,
        "vocab_size": vocab,
    });
    let mut map = KeyMap::new();
    let mut unknown = Vec::new();
    let mut names: Vec<&String> = h.file.names().filter(|n| n.starts_with(OPEN_CLIP)).collect();
    names.sort();
    for stored in names {
        let rest = &stored[OPEN_CLIP.len()..];
        let mut put = |to: String, rows: Option<(usize, usize)>| {
            map.insert(format!("text_model.{to}"), View { source: stored.clone(), rows, squeeze: false });
        };
        match rest {
            "token_embedding.weight" => put("embeddings.token_embedding.weight".into(), None),
            "positional_embedding" => put("embeddings.position_embedding.weight".into(), None),
            "ln_final.weight" | "ln_final.bias" => put(format!("final_layer_norm.{}", &rest[9..]), None),
            // The image tower's projection and the contrastive temperature: not used.
            "text_projection" | "logit_scale" => {}
            _ => {
                let Some((i, r)) = rest.strip_prefix("transformer.resblocks.").and_then(index_and_rest) else {
                    unknown.push(stored.clone());
                    continue;
                };
                if i >= layers {
                    continue; // the last layer: SD 2.x stops at the penultimate one
                }
                let layer = format!("encoder.layers.{i}");
                let Some((module, param)) = r.rsplit_once('.') else {
                    unknown.push(stored.clone());
                    continue;
                };
                match module {
                    "ln_1" => put(format!("{layer}.layer_norm1.{param}"), None),
                    "ln_2" => put(format!("{layer}.layer_norm2.{param}"), None),
                    "mlp.c_fc" => put(format!("{layer}.mlp.fc1.{param}"), None),
                    "mlp.c_proj" => put(format!("{layer}.mlp.fc2.{param}"), None),
                    "attn.out_proj" => put(format!("{layer}.self_attn.out_proj.{param}"), None),
                    // PyTorch's MultiheadAttention packs q, k, v (in that order) along rows.
                    "attn" if param == "in_proj_weight" || param == "in_proj_bias" => {
                        let suffix = if param == "in_proj_weight" { "weight" } else { "bias" };
                        for (k, which) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
                            put(format!("{layer}.self_attn.{which}.{suffix}"), Some((k * hidden, hidden)));
                        }
                    }
                    _ => unknown.push(stored.clone()),
                }
            }
        }
    }
    warn_unknown("text encoder", &unknown);
    Ok((config, map))
}

/// The display name of a checkpoint: its file name without the extension.
pub(crate) fn display_name(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// Which recipe-file key each file of a single-file model has.
pub(crate) fn model_files(path: &Path, yaml: Option<&Path>) -> BTreeMap<String, PathBuf> {
    let mut m = BTreeMap::from([(CHECKPOINT_KEY.to_string(), path.to_path_buf())]);
    if let Some(y) = yaml {
        m.insert(YAML_KEY.to_string(), y.to_path_buf());
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unet_resnet_and_vae_names() {
        assert_eq!(unet_resnet("in_layers.2.weight").as_deref(), Some("conv1.weight"));
        assert_eq!(unet_resnet("skip_connection.bias").as_deref(), Some("conv_shortcut.bias"));
        assert_eq!(unet_resnet("bogus.weight"), None);
        assert_eq!(vae_inner("q.weight"), Some(("to_q.weight".into(), true)));
        assert_eq!(vae_inner("q.bias"), Some(("to_q.bias".into(), false)));
        assert_eq!(vae_inner("nin_shortcut.weight"), Some(("conv_shortcut.weight".into(), false)));
    }

    #[test]
    fn yaml_parameterization() {
        let dir = tempfile::tempdir().unwrap();
        let y = dir.path().join("m.yaml");
        std::fs::write(&y, "model:\n  params:\n    parameterization: \"v\"  # 768-v\n").unwrap();
        assert!(yaml_says_v(&y).unwrap());
        std::fs::write(&y, "model:\n  params:\n    linear_start: 0.00085\n").unwrap();
        assert!(!yaml_says_v(&y).unwrap());
        std::fs::write(&y, "model:\n  params:\n    parameterization: x0\n").unwrap();
        assert!(yaml_says_v(&y).unwrap_err().to_string().contains("x0"));
    }
}
