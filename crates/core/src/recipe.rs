//! Recipes: everything needed to regenerate an image bit-for-bit.
//!
//! A recipe travels with its image (inside the PNG), into the NFT's metadata and, as its
//! hash, onto the chain. Anyone holding the recipe and the same engine version can make the
//! same bytes again, which is what `chrysalis verify` relies on.
//!
//! The recipe's identity is the SHA-256 of its *canonical JSON*: object keys sorted, no
//! insignificant whitespace, numbers as serde_json writes them (shortest round-trip form).
//! Key order is sorted by hand rather than trusting `serde_json::Map`, whose order depends on
//! a cargo feature another crate in the build may switch on.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the recipe format itself. A newer one is refused rather than misread.
///
/// - 1: the first format.
/// - 2: the same fields; the PNG's A1111 `parameters` text names only what A1111 knows
///   with A1111's keys and the rest with `Chrysalis …` keys (`chrysalis_art::png_meta`).
///   Format 1 recipes keep their layout, so their PNGs regenerate byte for byte.
/// - 3: the same fields; the PNG's pixels are deflated at zlib level 2 instead of 6
///   (`chrysalis_art::png_meta::FAST_DEFLATE_FORMAT`): about 10x less encoding time for
///   files about 12 % bigger. Older recipes keep level 6 and regenerate byte for byte.
pub const RECIPE_FORMAT: u32 = 3;

/// How to make one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// [`RECIPE_FORMAT`] at the time of writing.
    pub format: u32,
    /// Which engine, its version and its engine-specific settings.
    pub engine: EngineSpec,
    /// The seed every random draw derives from.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    /// Evolution stage this image shows (0 = the first).
    pub stage: u32,
    /// What to draw. The procedural engine keeps it as the image's title.
    #[serde(default)]
    pub prompt: String,
    #[serde(default)]
    pub negative_prompt: String,
}

/// The engine and its settings, tagged by `kind` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineSpec {
    Procedural(ProceduralSpec),
    Diffusion(DiffusionSpec),
}

/// The built-in procedural engine: a named style driven by the seed and named parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ProceduralSpec {
    /// Version of the procedural algorithms; bumped whenever any output byte would change.
    pub engine_version: u32,
    /// Style name, e.g. `flow-field`.
    pub style: String,
    /// Named parameters of the style (density, palette index, ...). Sorted by name.
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
}

/// A Stable-Diffusion model run by candle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct DiffusionSpec {
    /// Version of our diffusion pipeline; bumped whenever output for the same inputs changes.
    pub engine_version: u32,
    pub model: ModelRef,
    pub steps: u32,
    /// Classifier-free guidance scale (1.0 = no guidance).
    pub guidance: f64,
    pub scheduler: Scheduler,
    pub dtype: DType,
    /// Present for img2img: the source image and how far to move away from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_image: Option<InitImage>,
    /// LoRAs merged into the model's weights, in the order given. Absent (not `[]`) when
    /// there are none, so recipes without LoRAs hash as they did before LoRAs existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loras: Vec<LoraRef>,
    /// The kind of processor that ran it. Absent for the CPU, so recipes written before
    /// GPUs were supported hash as they did.
    #[serde(default, skip_serializing_if = "DeviceClass::is_cpu")]
    #[cfg_attr(feature = "ts", ts(as = "Option<DeviceClass>", optional))]
    pub device: DeviceClass,
    /// The tensor library that computed it. Absent for candle (the built-in one), so recipes
    /// written before the libtorch backend existed hash as they did.
    #[serde(default, skip_serializing_if = "Backend::is_candle")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Backend>", optional))]
    pub backend: Backend,
}

/// The tensor library a diffusion recipe runs on.
///
/// Part of the recipe for the same reason as [`DeviceClass`]: candle and libtorch compute the
/// same network with different kernels (other GEMM blocking, convolution algorithms and
/// summation orders), so their images agree to the eye and to about one 8-bit level, not to
/// the byte. An image regenerates bit for bit only on the backend that made it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// candle, pure Rust, built into every Chrysalis.
    #[default]
    Candle,
    /// libtorch (PyTorch's C++ core) through `tch`: an optional build feature, PyTorch's
    /// CPU speed.
    Torch,
}

impl Backend {
    pub fn is_candle(&self) -> bool {
        *self == Self::Candle
    }

    /// How people write it: `candle`, `libtorch`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Candle => "candle",
            Self::Torch => "libtorch",
        }
    }
}

/// The kind of processor a diffusion recipe runs on.
///
/// Part of the recipe because floating-point results differ between kinds: a GPU runs other
/// kernels, with other summation orders and fused multiply-adds, so the same recipe gives a
/// slightly different image on a GPU than on a CPU (the same to the eye, not to the byte).
/// An image regenerates bit for bit on its own kind only; the engine refuses to run a
/// recipe on another kind rather than produce a near miss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    #[default]
    Cpu,
    /// An NVIDIA GPU through CUDA.
    Cuda,
}

impl DeviceClass {
    pub fn is_cpu(&self) -> bool {
        *self == Self::Cpu
    }

    /// How people write it: `CPU`, `CUDA`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Cpu => "CPU",
            Self::Cuda => "CUDA",
        }
    }
}

/// A LoRA applied at a weight, identified by its file's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct LoraRef {
    /// A display name (the file's name); not part of its identity.
    pub name: String,
    /// Lowercase hex SHA-256 of the `.safetensors` file.
    pub sha256: String,
    /// Multiplies the LoRA's change to the weights (1.0 = as trained).
    pub weight: f64,
}

/// Identifies a model by the hashes of its weight files, not by where it lives on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    /// A display name (the model folder's name); not part of the model's identity.
    pub name: String,
    /// Path inside the model folder (`unet/diffusion_pytorch_model.safetensors`, ...) to the
    /// lowercase hex SHA-256 of that file.
    pub files: BTreeMap<String, String>,
}

/// The key a single-file checkpoint (`.safetensors` as A1111, ComfyUI and Civitai use) has in
/// [`ModelRef::files`], whatever the file is called on disk. Folder models never use it: their
/// keys are `component/file` paths.
pub const CHECKPOINT_KEY: &str = "checkpoint.safetensors";

impl ModelRef {
    /// The SHA-256 of the single-file checkpoint this model is, if it is one.
    pub fn checkpoint_sha256(&self) -> Option<&str> {
        self.files.get(CHECKPOINT_KEY).map(String::as_str)
    }

    /// A short fingerprint of the whole model for A1111's `Model hash`. For a single-file
    /// checkpoint it is A1111's own "AutoV2" hash (the first 10 hex digits of the file's
    /// SHA-256), so Civitai and A1111 recognise the model; for a folder, the first 10 hex
    /// digits of the SHA-256 over `path\0sha256\n` lines in path order.
    pub fn short_hash(&self) -> String {
        if let Some(sha) = self.checkpoint_sha256()
            && sha.len() >= 10
        {
            return sha[..10].to_ascii_lowercase();
        }
        let mut h = Sha256::new();
        for (path, sha) in &self.files {
            h.update(path.as_bytes());
            h.update([0]);
            h.update(sha.as_bytes());
            h.update(b"\n");
        }
        hex::encode(h.finalize())[..10].to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Scheduler {
    Ddim,
    Euler,
    EulerAncestral,
    // Latent Consistency Model sampling (diffusers' `LCMScheduler`): for LCM-distilled
    // models, 1-8 steps without guidance.
    Lcm,
}

impl Scheduler {
    /// The sampler name AUTOMATIC1111 writes in its `parameters` chunk.
    pub fn a1111_name(self) -> &'static str {
        match self {
            Self::Ddim => "DDIM",
            Self::Euler => "Euler",
            Self::EulerAncestral => "Euler a",
            Self::Lcm => "LCM",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DType {
    F32,
    F16,
    /// bfloat16: f32's range with 8 bits of mantissa. On CPUs with AMX or AVX-512 BF16,
    /// libtorch runs it several times faster than f32; candle has no fast CPU path for it.
    Bf16,
}

/// The source of an img2img generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct InitImage {
    /// Lowercase hex SHA-256 of the source image file's bytes.
    pub sha256: String,
    /// 0.0 keeps the source, 1.0 ignores it.
    pub strength: f64,
}

/// The SHA-256 of a recipe's canonical JSON. Shown as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecipeHash(pub [u8; 32]);

impl fmt::Display for RecipeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for RecipeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecipeHash({self})")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("not a valid recipe: {0}")]
    Json(#[from] serde_json::Error),
    #[error("recipe format {found} is newer than this Chrysalis understands ({supported}); update Chrysalis")]
    TooNew { found: u32, supported: u32 },
    #[error("invalid recipe: {0}")]
    Invalid(String),
}

impl Recipe {
    /// The canonical JSON text: sorted keys, compact. Stable across builds and platforms.
    pub fn canonical_json(&self) -> String {
        let value = serde_json::to_value(self).expect("a recipe always serializes");
        let mut out = String::new();
        write_canonical(&value, &mut out);
        out
    }

    pub fn hash(&self) -> RecipeHash {
        RecipeHash(Sha256::digest(self.canonical_json().as_bytes()).into())
    }

    /// Parses a recipe, refusing newer formats and impossible values.
    pub fn from_json(text: &str) -> Result<Self, RecipeError> {
        #[derive(Deserialize)]
        struct Probe {
            format: u32,
        }
        let Probe { format } = serde_json::from_str(text)?;
        if format > RECIPE_FORMAT {
            return Err(RecipeError::TooNew { found: format, supported: RECIPE_FORMAT });
        }
        let recipe: Recipe = serde_json::from_str(text)?;
        recipe.validate()?;
        Ok(recipe)
    }

    /// Checks values a recipe can hold but no engine can honour.
    pub fn validate(&self) -> Result<(), RecipeError> {
        let invalid = |m: String| Err(RecipeError::Invalid(m));
        if self.width == 0 || self.height == 0 {
            return invalid(format!("size {}x{} is empty", self.width, self.height));
        }
        if let EngineSpec::Diffusion(d) = &self.engine {
            if d.steps == 0 {
                return invalid("steps must be at least 1".into());
            }
            if !d.guidance.is_finite() || d.guidance < 0.0 {
                return invalid(format!("guidance {} must be a finite number ≥ 0", d.guidance));
            }
            if let Some(init) = &d.init_image
                && !(init.strength > 0.0 && init.strength <= 1.0)
            {
                return invalid(format!("img2img strength {} must be in (0, 1]", init.strength));
            }
            if let Some(l) = d.loras.iter().find(|l| !l.weight.is_finite()) {
                return invalid(format!("LoRA {} has weight {}, not a finite number", l.name, l.weight));
            }
        }
        if let EngineSpec::Procedural(p) = &self.engine
            && let Some((k, v)) = p.params.iter().find(|(_, v)| !v.is_finite())
        {
            return invalid(format!("parameter {k} = {v} is not a finite number"));
        }
        Ok(())
    }
}

/// Writes `value` with object keys sorted and no whitespace (also the canonical form of
/// collection metadata JSON, `collection::metadata::canonical_bytes`).
pub(crate) fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn procedural() -> Recipe {
        Recipe {
            format: RECIPE_FORMAT,
            engine: EngineSpec::Procedural(ProceduralSpec {
                engine_version: 1,
                style: "flow-field".into(),
                params: BTreeMap::from([("density".into(), 0.5), ("palette".into(), 3.0)]),
            }),
            seed: 42,
            width: 512,
            height: 512,
            stage: 0,
            prompt: "moth".into(),
            negative_prompt: String::new(),
        }
    }

    const DIFFUSION_JSON: &str = r#"{"engine":{"dtype":"f32","engine_version":2,"guidance":7.5,"kind":"diffusion","model":{"files":{"unet/w.safetensors":"abab"},"name":"m"},"scheduler":"ddim","steps":20},"format":2,"height":512,"negative_prompt":"","prompt":"moth","seed":42,"stage":0,"width":512}"#;

    #[test]
    fn diffusion_recipes_without_loras_read_and_hash_as_before_loras_existed() {
        let r = Recipe::from_json(DIFFUSION_JSON).unwrap();
        assert_eq!(r.canonical_json(), DIFFUSION_JSON);
        // The hash of this exact text, as recipes written before LoRAs have it.
        assert_eq!(r.hash().to_string(), hex::encode(Sha256::digest(DIFFUSION_JSON.as_bytes())));
    }

    #[test]
    fn loras_are_recorded_in_order_with_hash_and_weight_and_change_the_hash() {
        let mut r = Recipe::from_json(DIFFUSION_JSON).unwrap();
        let plain = r.hash();
        let EngineSpec::Diffusion(d) = &mut r.engine else { unreachable!() };
        d.loras = vec![
            LoraRef { name: "a.safetensors".into(), sha256: "cd".repeat(32), weight: 0.8 },
            LoraRef { name: "b.safetensors".into(), sha256: "ef".repeat(32), weight: -1.0 },
        ];
        let json = r.canonical_json();
        assert!(json.contains(&format!(
            r#""loras":[{{"name":"a.safetensors","sha256":"{}","weight":0.8}},{{"name":"b.safetensors","sha256":"{}","weight":-1.0}}]"#,
            "cd".repeat(32),
            "ef".repeat(32)
        )));
        assert_ne!(r.hash(), plain);
        assert_eq!(Recipe::from_json(&json).unwrap(), r);
        let EngineSpec::Diffusion(d) = &mut r.engine else { unreachable!() };
        d.loras[0].weight = f64::NAN;
        assert!(r.validate().unwrap_err().to_string().contains("a.safetensors"));
    }

    #[test]
    fn the_backend_is_absent_for_candle_and_recorded_for_libtorch() {
        let mut r = Recipe::from_json(DIFFUSION_JSON).unwrap();
        let EngineSpec::Diffusion(d) = &mut r.engine else { unreachable!() };
        assert_eq!(d.backend, Backend::Candle);
        let candle = r.hash();
        let EngineSpec::Diffusion(d) = &mut r.engine else { unreachable!() };
        d.backend = Backend::Torch;
        let json = r.canonical_json();
        assert!(json.contains(r#""backend":"torch""#), "{json}");
        assert_ne!(r.hash(), candle, "the backend is part of the recipe's identity");
        assert_eq!(Recipe::from_json(&json).unwrap(), r);
        // Written out explicitly, candle reads as the default.
        let explicit = DIFFUSION_JSON.replace(r#""dtype":"f32""#, r#""backend":"candle","dtype":"f32""#);
        assert_eq!(Recipe::from_json(&explicit).unwrap().hash(), candle);
        let err = Recipe::from_json(&DIFFUSION_JSON.replace(r#""dtype":"f32""#, r#""backend":"onnx","dtype":"f32""#));
        assert!(err.is_err());
    }

    #[test]
    fn the_device_class_is_absent_for_the_cpu_and_recorded_for_a_gpu() {
        let r = Recipe::from_json(DIFFUSION_JSON).unwrap();
        let EngineSpec::Diffusion(d) = &r.engine else { unreachable!() };
        assert_eq!(d.device, DeviceClass::Cpu);
        let mut gpu = r.clone();
        let EngineSpec::Diffusion(d) = &mut gpu.engine else { unreachable!() };
        d.device = DeviceClass::Cuda;
        let json = gpu.canonical_json();
        assert!(json.contains(r#""device":"cuda""#), "{json}");
        assert_ne!(gpu.hash(), r.hash());
        assert_eq!(Recipe::from_json(&json).unwrap(), gpu);
        // Written out explicitly, the CPU reads back as the same recipe and hash.
        let explicit = DIFFUSION_JSON.replace(r#""dtype":"f32""#, r#""device":"cpu","dtype":"f32""#);
        assert_eq!(Recipe::from_json(&explicit).unwrap().hash(), r.hash());
        assert!(
            Recipe::from_json(&DIFFUSION_JSON.replace(r#""dtype":"f32""#, r#""device":"tpu","dtype":"f32""#)).is_err()
        );
    }

    #[test]
    fn canonical_json_sorts_keys_and_is_compact() {
        let json = procedural().canonical_json();
        assert_eq!(
            json,
            r#"{"engine":{"engine_version":1,"kind":"procedural","params":{"density":0.5,"palette":3.0},"style":"flow-field"},"format":3,"height":512,"negative_prompt":"","prompt":"moth","seed":42,"stage":0,"width":512}"#
        );
    }

    #[test]
    fn hash_is_sha256_of_canonical_json_and_changes_with_any_field() {
        let r = procedural();
        assert_eq!(r.hash().to_string(), hex::encode(Sha256::digest(r.canonical_json())));
        let mut s = r.clone();
        s.stage = 1;
        assert_ne!(r.hash(), s.hash());
    }

    #[test]
    fn json_round_trip_preserves_the_hash() {
        let r = procedural();
        let back = Recipe::from_json(&serde_json::to_string_pretty(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.hash(), r.hash());
    }

    #[test]
    fn newer_format_and_bad_values_are_refused() {
        let mut v = serde_json::to_value(procedural()).unwrap();
        v["format"] = (RECIPE_FORMAT + 1).into();
        let found = RECIPE_FORMAT + 1;
        assert!(matches!(Recipe::from_json(&v.to_string()), Err(RecipeError::TooNew { found: f, .. }) if f == found));
        let mut r = procedural();
        r.width = 0;
        assert!(Recipe::from_json(&serde_json::to_string(&r).unwrap()).is_err());
        let mut v = serde_json::to_value(procedural()).unwrap();
        v["surprise"] = true.into();
        assert!(Recipe::from_json(&v.to_string()).is_err(), "unknown fields must not be dropped silently");
    }

    #[test]
    fn model_short_hash_depends_on_every_file() {
        let mut m = ModelRef { name: "sd".into(), files: BTreeMap::from([("unet/a".into(), "00".into())]) };
        let a = m.short_hash();
        assert_eq!(a.len(), 10);
        m.files.insert("vae/b".into(), "11".into());
        assert_ne!(a, m.short_hash());
        // A single file: A1111's AutoV2, the file's SHA-256 cut to 10 digits (the yaml that
        // may sit beside it does not change it).
        let sha = "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa";
        let mut single = ModelRef { name: "v1-5".into(), files: BTreeMap::from([(CHECKPOINT_KEY.into(), sha.into())]) };
        assert_eq!(single.short_hash(), "6ce0161689");
        single.files.insert("checkpoint.yaml".into(), "ab".into());
        assert_eq!(single.short_hash(), "6ce0161689");
    }
}
