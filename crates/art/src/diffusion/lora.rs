//! LoRAs in kohya's layout (what A1111, ComfyUI and Civitai files use), merged into the weights
//! as they are read: `W' = W + weight · (alpha / rank) · up · down` for linear layers and 1x1
//! convolutions. The models themselves never see a LoRA.
//!
//! A kohya key names the layer it changes: the UNet's diffusers module path behind
//! `lora_unet_`, the text encoder's transformers path behind `lora_te_`, dots written as `_`
//! (`lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q`,
//! `lora_te_text_model_encoder_layers_0_self_attn_q_proj`), each with `.lora_down.weight`
//! (`rank x in`), `.lora_up.weight` (`out x rank`) and an optional scalar `.alpha` (absent:
//! alpha = rank). The names are matched against the layers this model has, from safetensors
//! headers only, so a LoRA for another architecture (SDXL's `lora_te1_` / `lora_te2_`, its
//! UNet's `input_blocks`) is refused, naming the first key that fits nowhere, before any
//! model weight is read. Other LoRA kinds (LoHa, LoKr, DoRA, 3x3 LoCon) are refused too.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::DType;

use super::error::DiffusionError;
use super::weights::{Patch, Patches, WeightFile, WeightsBackend};

/// A LoRA file and the weight to apply it at.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraSpec {
    pub path: PathBuf,
    pub weight: f64,
}

impl LoraSpec {
    /// Parses `FILE` or `FILE:WEIGHT` (weight 1.0 when absent). Only a suffix that parses as
    /// a number counts as the weight, so paths with colons still work.
    pub fn parse(arg: &str) -> Result<Self, String> {
        if let Some((path, w)) = arg.rsplit_once(':')
            && !path.is_empty()
            && let Ok(weight) = w.trim().parse::<f64>()
        {
            if !weight.is_finite() {
                return Err(format!("LoRA weight {w} in `{arg}` is not a finite number"));
            }
            return Ok(Self { path: PathBuf::from(path), weight });
        }
        if arg.is_empty() {
            return Err("empty LoRA argument: expected FILE or FILE:WEIGHT".into());
        }
        Ok(Self { path: PathBuf::from(arg), weight: 1.0 })
    }
}

fn err(path: &Path, message: impl Into<String>) -> DiffusionError {
    DiffusionError::Lora { path: path.to_path_buf(), message: message.into() }
}

/// The kohya module name of every weight `backend` has, for the component behind `prefix`.
fn kohya_names(backend: &WeightsBackend, prefix: &str) -> HashMap<String, String> {
    backend
        .names()
        .filter_map(|n| n.strip_suffix(".weight").map(|m| (format!("{prefix}_{}", m.replace('.', "_")), n.clone())))
        .collect()
}

/// Matches every LoRA in `specs` against the UNet's and the text encoder's tensors (headers
/// only, plus each module's scalar alpha) and returns the patches for each component.
pub(crate) fn plan(
    specs: &[LoraSpec],
    unet: &WeightsBackend,
    text: &WeightsBackend,
) -> Result<(Patches, Patches), DiffusionError> {
    let unet_names = kohya_names(unet, "lora_unet");
    let text_names = kohya_names(text, "lora_te");
    let (mut unet_patches, mut text_patches) = (Patches::new(), Patches::new());
    for spec in specs {
        let path = spec.path.as_path();
        if !spec.weight.is_finite() {
            return Err(err(path, format!("weight {} is not a finite number", spec.weight)));
        }
        let file = Arc::new(WeightFile::open(path)?);
        // kohya module -> (has down, has up, has alpha)
        let mut modules: BTreeMap<String, [bool; 3]> = BTreeMap::new();
        let mut keys: Vec<&String> = file.names().collect();
        keys.sort();
        for key in keys {
            let (base, part) = key.split_once('.').unwrap_or((key.as_str(), ""));
            let slot = match part {
                "lora_down.weight" => 0,
                "lora_up.weight" => 1,
                "alpha" => 2,
                _ => {
                    return Err(err(
                        path,
                        format!(
                            "key {key} is not part of a kohya LoRA (only `.lora_down.weight`, `.lora_up.weight` and `.alpha` are supported; LoHa, LoKr and DoRA are not)"
                        ),
                    ));
                }
            };
            if !(base.starts_with("lora_unet_") || base.starts_with("lora_te_")) {
                let hint = if base.starts_with("lora_te1_") || base.starts_with("lora_te2_") {
                    " (two text encoders: an SDXL LoRA)"
                } else {
                    ""
                };
                return Err(err(
                    path,
                    format!(
                        "key {key} is for no part of this model{hint}: keys must start with lora_unet_ or lora_te_"
                    ),
                ));
            }
            modules.entry(base.to_string()).or_default()[slot] = true;
        }
        if modules.is_empty() {
            return Err(err(path, "the file holds no LoRA tensors"));
        }
        for (base, [down, up, alpha]) in modules {
            if !(down && up) {
                let missing = if down { "lora_up.weight" } else { "lora_down.weight" };
                return Err(err(path, format!("module {base} has no {base}.{missing}")));
            }
            let (names, backend, patches, what) = if base.starts_with("lora_unet_") {
                (&unet_names, unet, &mut unet_patches, "UNet")
            } else {
                (&text_names, text, &mut text_patches, "text encoder")
            };
            let Some(target) = names.get(&base) else {
                return Err(err(
                    path,
                    format!(
                        "key {base}.lora_down.weight names no layer of this model's {what} (a LoRA for another architecture, e.g. SDXL?)"
                    ),
                ));
            };
            let (down_key, up_key) = (format!("{base}.lora_down.weight"), format!("{base}.lora_up.weight"));
            let shape = |k: &str| file.shape(k).map(<[usize]>::to_vec).unwrap_or_default();
            let (ds, us) = (shape(&down_key), shape(&up_key));
            let ws = backend.shape_of(target).unwrap_or_default();
            let kernel_ok = |s: &[usize]| s.len() == 2 || (s.len() == 4 && s[2] == 1 && s[3] == 1);
            let bad = |why: &str| {
                err(
                    path,
                    format!(
                        "module {base}: lora_down {ds:?} and lora_up {us:?} do not fit the layer {target} of shape {ws:?}: {why}"
                    ),
                )
            };
            if !kernel_ok(&ds) || !kernel_ok(&us) {
                return Err(bad("only linear layers and 1x1 convolutions are supported"));
            }
            if ws.len() < 2 || !(ws.len() == 2 || kernel_ok(&ws)) {
                return Err(bad("the layer is not linear or a 1x1 convolution"));
            }
            let rank = ds[0];
            if rank == 0 || us[1] != rank {
                return Err(bad("the ranks differ"));
            }
            if us[0] != ws[0] || ds[1] != ws[1] {
                return Err(bad("the sizes differ"));
            }
            let alpha = if alpha {
                let key = format!("{base}.alpha");
                let t = file.read(&key)?;
                t.to_dtype(DType::F64)
                    .and_then(|t| t.flatten_all())
                    .and_then(|t| t.to_vec1::<f64>())
                    .ok()
                    .and_then(|v| (v.len() == 1).then(|| v[0]))
                    .ok_or_else(|| err(path, format!("{key} is not a single number")))?
            } else {
                rank as f64
            };
            patches.entry(target.clone()).or_default().push(Patch {
                file: file.clone(),
                down: down_key,
                up: up_key,
                scale: spec.weight * alpha / rank as f64,
            });
        }
    }
    Ok((unet_patches, text_patches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lora_arguments_parse_with_and_without_a_weight() {
        assert_eq!(LoraSpec::parse("a.safetensors").unwrap(), LoraSpec { path: "a.safetensors".into(), weight: 1.0 });
        assert_eq!(LoraSpec::parse("a.safetensors:0.8").unwrap().weight, 0.8);
        assert_eq!(LoraSpec::parse("a.safetensors:-1").unwrap().weight, -1.0);
        assert_eq!(LoraSpec::parse("C:/x/a.safetensors").unwrap().path, PathBuf::from("C:/x/a.safetensors"));
        assert!(LoraSpec::parse("a.safetensors:inf").is_err());
        assert!(LoraSpec::parse("").is_err());
    }
}
