//! The model loader: finds the files of a diffusers-layout folder (or reads a single-file
//! checkpoint, see [`super::single_file`]), reads every architecture from its configs (or
//! tensor shapes), hashes the files into a [`ModelRef`], and builds each candle component on
//! demand. Where the stored tensor names are not the ones candle's modules ask for (a
//! single file's LDM names, a text encoder saved by transformers 5 without `text_model.`),
//! a [`KeyMap`] maps them on read.
//!
//! Loading ([`ModelFolder::load`]) reads configs, the tokenizer and safetensors *headers*
//! only, and hashes the files (through the [`HashCache`]). Weights are read when a component
//! is built ([`ModelFolder::text_encoder`], [`ModelFolder::unet`], [`ModelFolder::vae`]), so
//! the pipeline can hold one component at a time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::stable_diffusion::vae::AutoEncoderKL;
use chrysalis_core::recipe::{LoraRef, ModelRef};
use serde_json::Value;

use super::clip::ClipTextModel;
use super::config::{self, JsonConfig, TextEncoderArch, UnetArch, VaeArch};
use super::error::{CandleContext, DiffusionError};
use super::hashing::{HashCache, HashCacheLocation, stamp};
use super::hints::{SamplingHint, read_hint};
use super::lora::{self, LoraSpec};
use super::scheduler::NoiseSchedule;
use super::single_file::{self, Checkpoint};
use super::tokenizer::{ClipTokenizer, tokenizer_files};
use super::unet::Unet;
use super::weights::Patches;
use super::weights::{KeyMap, ShapeCheck, View, WeightFile, WeightsBackend, tweak_vae_quant_conv};

/// The prefix of a LoRA file's key in `ModelFolder::stamps`.
const LORA_STAMP: &str = "LoRA ";

/// How to load a model folder.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Where file hashes are cached (default: the user cache dir).
    pub hash_cache: HashCacheLocation,
}

/// A model folder, loaded: architectures, tokenizer, file hashes. No weights are held.
#[derive(Debug)]
pub struct ModelFolder {
    pub dir: PathBuf,
    pub pipeline: String,
    pub unet_arch: UnetArch,
    pub vae_arch: VaeArch,
    pub text_arch: TextEncoderArch,
    pub schedule: NoiseSchedule,
    /// The sampling the model expects (sampler, steps, guidance): see [`super::hints`].
    pub hint: SamplingHint,
    pub tokenizer: ClipTokenizer,
    /// The model's identity: every file the pipeline reads, relative path -> SHA-256.
    pub model_ref: ModelRef,
    /// Parameter counts of the components.
    pub params: Params,
    unet: Component,
    vae: Component,
    text: Component,
    /// Where every file in `model_ref` is, and its (size, mtime) when it was hashed (LoRA
    /// files too, keyed `LoRA <path>`).
    stamps: BTreeMap<String, (PathBuf, (u64, u128))>,
    /// The LoRAs merged into the weights ([`Self::with_loras`]), as recipes record them.
    pub loras: Vec<LoraRef>,
}

/// What [`ModelFolder::assemble`] needs from either kind of model.
struct Parts {
    pipeline: String,
    unet: (JsonConfig, Component),
    vae: (JsonConfig, Component),
    text: (TextEncoderArch, Component),
    schedule: NoiseSchedule,
    tokenizer: ClipTokenizer,
    /// Recipe key -> file, for every file the model's pixels depend on.
    files: BTreeMap<String, PathBuf>,
    name: String,
}

/// A model's three networks, as [`ModelFolder::weight_reader`] names them.
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    TextEncoder,
    Unet,
    Vae,
}

/// Parameter counts, from the architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub text: u64,
    pub unet: u64,
    pub vae: u64,
}

#[derive(Debug, Clone)]
struct Component {
    /// The config file (for a single-file checkpoint, the checkpoint: named in errors).
    config: PathBuf,
    weights: Vec<PathBuf>,
    /// How the model's tensor names map onto stored ones, when they differ.
    keys: Option<Arc<KeyMap>>,
    /// LoRA changes merged in as tensors are read.
    lora: Option<Arc<Patches>>,
}

impl Component {
    fn backend(&self) -> Result<WeightsBackend, DiffusionError> {
        let mut b = WeightsBackend::open(&self.config, &self.weights)?;
        if let Some(keys) = &self.keys {
            b.remap(keys)?;
        }
        b.set_lora(self.lora.clone());
        Ok(b)
    }
}

/// transformers 5 saves `CLIPTextModel` without the `text_model.` level diffusers folders had
/// until then (`embeddings.token_embedding.weight`, not `text_model.embeddings...`); candle's
/// CLIP asks for the old names. For such files, map every name onto the stored one.
fn text_key_map(c: &Component) -> Result<Option<Arc<KeyMap>>, DiffusionError> {
    let b = c.backend()?;
    if b.names().any(|n| n.starts_with("text_model.")) {
        return Ok(None);
    }
    Ok(Some(Arc::new(b.names().map(|n| (format!("text_model.{n}"), View::rename(n.clone()))).collect())))
}

/// `SimpleBackend` is implemented on a shared handle so the loader can still ask the
/// backend what went wrong after candle consumed the `VarBuilder`.
struct Shared(Arc<WeightsBackend>);

impl candle_nn::var_builder::SimpleBackend for Shared {
    fn get(
        &self,
        s: candle_core::Shape,
        name: &str,
        h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.0.get(s, name, h, dtype, dev)
    }
    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.0.get_unchecked(name, dtype, dev)
    }
    fn contains_tensor(&self, name: &str) -> bool {
        self.0.contains_tensor(name)
    }
}

/// The safetensors files holding a component's weights.
///
/// Preference: a sharded index (`<stem>.safetensors.index.json`), then `<stem>.safetensors`,
/// then the `<stem>.fp16.safetensors` variant, then the only `*.safetensors` in the folder.
fn weight_files(dir: &Path, component: &str, stem: &str) -> Result<Vec<PathBuf>, DiffusionError> {
    let cdir = dir.join(component);
    let index = cdir.join(format!("{stem}.safetensors.index.json"));
    if index.is_file() {
        let cfg = JsonConfig::read(&index, "sharded weight index")?;
        let map = cfg
            .map
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| DiffusionError::bad_config(&index, "has no `weight_map` object"))?;
        let mut files: Vec<String> = map.values().filter_map(|v| v.as_str().map(str::to_string)).collect();
        files.sort();
        files.dedup();
        return Ok(files.into_iter().map(|f| cdir.join(f)).collect());
    }
    for name in [format!("{stem}.safetensors"), format!("{stem}.fp16.safetensors")] {
        if cdir.join(&name).is_file() {
            return Ok(vec![cdir.join(name)]);
        }
    }
    let found: Vec<PathBuf> = std::fs::read_dir(&cdir)
        .map(|rd| {
            let mut v: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
                .collect();
            v.sort();
            v
        })
        .unwrap_or_default();
    match found.as_slice() {
        [one] => Ok(vec![one.clone()]),
        [] => {
            let has_bin = cdir.join(format!("{stem}.bin")).is_file();
            Err(DiffusionError::MissingFile {
                path: cdir.join(format!("{stem}.safetensors")),
                what: if has_bin {
                    format!(
                        "{component} weights in safetensors format (only a PyTorch .bin is there: convert it to safetensors)"
                    )
                } else {
                    format!("{component} weights")
                },
            })
        }
        many => Err(DiffusionError::MissingFile {
            path: cdir.join(format!("{stem}.safetensors")),
            what: format!(
                "{component} weights (found several candidates, none with the standard name: {})",
                many.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy()).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

fn rel(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn component(dir: &Path, name: &str, config_file: &str, stem: &str) -> Result<(JsonConfig, Component), DiffusionError> {
    let config = dir.join(name).join(config_file);
    let cfg = JsonConfig::read(&config, &format!("{name} config"))?;
    let weights = weight_files(dir, name, stem)?;
    Ok((cfg, Component { config, weights, keys: None, lora: None }))
}

impl ModelFolder {
    /// Loads a model: a diffusers folder, or a single-file `.safetensors` checkpoint (see
    /// [`single_file`]). Reads configs, tokenizer and safetensors headers, and hashes the files.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self, DiffusionError> {
        if dir.is_file() {
            return Self::load_checkpoint(dir, opts);
        }
        if !dir.is_dir() {
            return Err(DiffusionError::MissingFile {
                path: dir.to_path_buf(),
                what: "model (a diffusers folder or a single-file .safetensors checkpoint)".into(),
            });
        }
        let index =
            JsonConfig::read(&dir.join("model_index.json"), "model_index.json (not a diffusers model folder?)")?;
        let pipeline = config::check_model_index(&index)?;

        let (unet_cfg, unet) = component(dir, "unet", "config.json", "diffusion_pytorch_model")?;
        let (vae_cfg, vae) = component(dir, "vae", "config.json", "diffusion_pytorch_model")?;
        let (text_cfg, mut text) = component(dir, "text_encoder", "config.json", "model")?;
        text.keys = text_key_map(&text)?;
        let sched_path = dir.join("scheduler").join("scheduler_config.json");
        let sched_cfg =
            if sched_path.is_file() { Some(JsonConfig::read(&sched_path, "scheduler config")?) } else { None };
        let schedule = config::noise_schedule(sched_cfg.as_ref())?;
        let text_arch = config::text_arch(&text_cfg)?;
        let tok_dir = dir.join("tokenizer");
        let tokenizer = ClipTokenizer::load(&tok_dir, text_arch.max_position_embeddings)?;

        let mut files: Vec<PathBuf> = Vec::new();
        for c in [&unet, &vae, &text] {
            files.push(c.config.clone());
            files.extend(c.weights.iter().cloned());
        }
        if sched_cfg.is_some() {
            files.push(sched_path);
        }
        files.extend(tokenizer_files(&tok_dir)?);
        let files = files.into_iter().map(|f| (rel(dir, &f), f)).collect();
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        let parts = Parts {
            pipeline,
            unet: (unet_cfg, unet),
            vae: (vae_cfg, vae),
            text: (text_arch, text),
            schedule,
            tokenizer,
            files,
            name,
        };
        Self::assemble(dir, parts, opts)
    }

    /// A single-file checkpoint: architecture from its tensor shapes, names mapped on read.
    fn load_checkpoint(path: &Path, opts: &LoadOptions) -> Result<Self, DiffusionError> {
        if path.extension().is_none_or(|e| !e.eq_ignore_ascii_case("safetensors")) {
            let what = match path.extension().and_then(|e| e.to_str()) {
                Some(e) if ["ckpt", "pt", "pth", "bin"].contains(&e.to_ascii_lowercase().as_str()) => {
                    "a pickled PyTorch checkpoint, which can run code when loaded: convert it to .safetensors"
                }
                _ => "not a .safetensors checkpoint or a diffusers model folder",
            };
            return Err(DiffusionError::unsupported(path, what));
        }
        let file = WeightFile::open(path)?;
        let Checkpoint { family, unet, vae, text, scheduler, yaml } = single_file::inspect(path, &file)?;
        drop(file);
        let cfg = |v: Value| JsonConfig { path: path.to_path_buf(), map: v.as_object().cloned().unwrap_or_default() };
        let component = |keys: KeyMap| Component {
            config: path.to_path_buf(),
            weights: vec![path.to_path_buf()],
            keys: Some(Arc::new(keys)),
            lora: None,
        };
        let text_arch = config::text_arch(&cfg(text.0))?;
        let pad = match family {
            single_file::Family::Sd1 => super::tokenizer::EOS,
            single_file::Family::Sd2 => "!",
        };
        let tokenizer = ClipTokenizer::builtin(pad, text_arch.max_position_embeddings)?;
        let parts = Parts {
            pipeline: "StableDiffusionPipeline".into(),
            unet: (cfg(unet.0), component(unet.1)),
            vae: (cfg(vae.0), component(vae.1)),
            text: (text_arch, component(text.1)),
            schedule: config::noise_schedule(Some(&cfg(scheduler)))?,
            tokenizer,
            files: single_file::model_files(path, yaml.as_deref()),
            name: single_file::display_name(path),
        };
        Self::assemble(path, parts, opts)
    }

    /// Checks every component's tensors against its architecture and hashes the files.
    fn assemble(dir: &Path, parts: Parts, opts: &LoadOptions) -> Result<Self, DiffusionError> {
        let Parts {
            pipeline,
            unet: (unet_cfg, unet),
            vae: (vae_cfg, vae),
            text: (text_arch, text),
            schedule,
            tokenizer,
            files,
            name,
        } = parts;
        let hint = read_hint(dir, &schedule)?;
        let unet_arch = config::unet_arch(&unet_cfg)?;
        let vae_arch = config::vae_arch(&vae_cfg)?;
        if text_arch.hidden_size != unet_arch.config.cross_attention_dim {
            return Err(DiffusionError::unsupported(
                &unet.config,
                format!(
                    "`cross_attention_dim` is {} but the text encoder ({}) produces {}-wide embeddings",
                    unet_arch.config.cross_attention_dim,
                    text.config.display(),
                    text_arch.hidden_size
                ),
            ));
        }

        // Open every weight file and check every tensor's presence and shape against the
        // architecture now (headers only): bad weights are reported at load, not mid-run.
        let probe = |c: &Component, what: &str, build: &dyn Fn(VarBuilder) -> candle_core::Result<()>| {
            let mut backend = c.backend()?;
            if what == "VAE" {
                tweak_vae_quant_conv(&mut backend, vae_arch.config.latent_channels, vae_arch.has_quant_conv)?;
            }
            let check = ShapeCheck::new(Some(&backend));
            let wanted = check.wanted.clone();
            build(VarBuilder::from_backend(Box::new(check), DType::F32, Device::Cpu))
                .map_err(|e| backend.explain(what, e))?;
            let n: usize = wanted
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .map(|(s, _)| s.iter().product::<usize>())
                .sum();
            Ok::<u64, DiffusionError>(n as u64)
        };
        let params = Params {
            text: probe(&text, "text encoder", &|vb| build_text(vb, &text_arch).map(drop))?,
            unet: probe(&unet, "UNet", &|vb| build_unet(vb, &unet_arch).map(drop))?,
            vae: probe(&vae, "VAE", &|vb| build_vae(vb, &vae_arch).map(drop))?,
        };

        let mut cache = HashCache::open(&opts.hash_cache);
        let mut hashes = BTreeMap::new();
        let mut stamps = BTreeMap::new();
        for (key, f) in files {
            stamps.insert(key.clone(), (f.clone(), stamp(&f)?));
            hashes.insert(key, cache.sha256(&f)?);
        }
        cache.save();
        Ok(Self {
            dir: dir.to_path_buf(),
            pipeline,
            unet_arch,
            vae_arch,
            text_arch,
            schedule,
            hint,
            tokenizer,
            model_ref: ModelRef { name, files: hashes },
            params,
            unet,
            vae,
            text,
            stamps,
            loras: Vec::new(),
        })
    }

    /// This model with the LoRAs in `specs` merged into its weights whenever a component is
    /// built (replacing any applied before). Every LoRA key must name a layer of this model
    /// with fitting shapes; that is checked here from the files' headers, and the LoRA files
    /// are hashed (through `opts`' hash cache) for the recipe.
    pub fn with_loras(mut self, specs: &[LoraSpec], opts: &LoadOptions) -> Result<Self, DiffusionError> {
        self.stamps.retain(|k, _| !k.starts_with(LORA_STAMP));
        let (unet, text) = lora::plan(specs, &self.unet.backend()?, &self.text.backend()?)?;
        let mut cache = HashCache::open(&opts.hash_cache);
        let mut refs = Vec::with_capacity(specs.len());
        for spec in specs {
            self.stamps.insert(format!("{LORA_STAMP}{}", spec.path.display()), (spec.path.clone(), stamp(&spec.path)?));
            let name = spec
                .path
                .file_name()
                .map_or_else(|| spec.path.display().to_string(), |n| n.to_string_lossy().into_owned());
            refs.push(LoraRef { name, sha256: cache.sha256(&spec.path)?, weight: spec.weight });
        }
        cache.save();
        self.unet.lora = (!unet.is_empty()).then(|| Arc::new(unet));
        self.text.lora = (!text.is_empty()).then(|| Arc::new(text));
        self.loras = refs;
        Ok(self)
    }

    /// Checks that a recipe's LoRAs are the ones applied: same files (SHA-256) and weights,
    /// in the same order.
    pub fn verify_loras(&self, wanted: &[LoraRef]) -> Result<(), DiffusionError> {
        let same = wanted.len() == self.loras.len()
            && wanted
                .iter()
                .zip(&self.loras)
                .all(|(a, b)| a.sha256.eq_ignore_ascii_case(&b.sha256) && a.weight == b.weight);
        if same {
            return Ok(());
        }
        let show = |l: &[LoraRef]| {
            if l.is_empty() {
                "none".to_string()
            } else {
                l.iter()
                    .map(|l| format!("{} ({}…) at {}", l.name, &l.sha256[..l.sha256.len().min(10)], l.weight))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        Err(DiffusionError::LoraMismatch { wanted: show(wanted), have: show(&self.loras) })
    }

    /// Checks that `wanted` (a recipe's model) is this folder's model, file by file, and that
    /// no file changed on disk since it was hashed.
    pub fn verify(&self, wanted: &ModelRef) -> Result<(), DiffusionError> {
        let have = &self.model_ref.files;
        let missing: Vec<String> = wanted.files.keys().filter(|k| !have.contains_key(*k)).cloned().collect();
        let unexpected: Vec<String> = have.keys().filter(|k| !wanted.files.contains_key(*k)).cloned().collect();
        let changed: Vec<String> = wanted
            .files
            .iter()
            .filter(|(k, v)| have.get(*k).is_some_and(|h| !h.eq_ignore_ascii_case(v)))
            .map(|(k, _)| k.clone())
            .collect();
        if !(missing.is_empty() && unexpected.is_empty() && changed.is_empty()) {
            return Err(DiffusionError::ModelMismatch { missing, unexpected, changed });
        }
        let mut modified = Vec::new();
        for (key, (path, was)) in &self.stamps {
            let now = stamp(path)?;
            if now != *was {
                modified.push(key.clone());
            }
        }
        if !modified.is_empty() {
            return Err(DiffusionError::ModelChanged { files: modified });
        }
        Ok(())
    }

    fn finish<T>(
        backend: &Arc<WeightsBackend>,
        what: &str,
        built: candle_core::Result<T>,
    ) -> Result<T, DiffusionError> {
        let model = built.map_err(|e| backend.explain(what, e))?;
        warn_unused(backend, what);
        Ok(model)
    }

    /// The reader of one component's weights (names mapped, LoRAs merged, the VAE's
    /// `quant_conv` as stored), for another backend to build from.
    #[cfg_attr(not(feature = "torch"), allow(dead_code))]
    pub(crate) fn weight_reader(&self, part: Part) -> Result<WeightsBackend, DiffusionError> {
        match part {
            Part::TextEncoder => self.text.backend(),
            Part::Unet => self.unet.backend(),
            Part::Vae => self.vae.backend(),
        }
    }

    /// Builds the text encoder in `dtype` on `device`.
    pub fn text_encoder(&self, dtype: DType, device: &Device) -> Result<TextEncoder, DiffusionError> {
        let backend = Arc::new(self.text.backend()?);
        let vb = VarBuilder::from_backend(Box::new(Shared(backend.clone())), dtype, device.clone());
        Self::finish(&backend, "text encoder", build_text(vb, &self.text_arch)).map(|m| TextEncoder(m, device.clone()))
    }

    /// Builds the UNet in `dtype` on `device`.
    pub fn unet(&self, dtype: DType, device: &Device) -> Result<Unet, DiffusionError> {
        let backend = Arc::new(self.unet.backend()?);
        let vb = VarBuilder::from_backend(Box::new(Shared(backend.clone())), dtype, device.clone());
        Self::finish(&backend, "UNet", build_unet(vb, &self.unet_arch))
    }

    /// Builds the VAE in `dtype` on `device` (its encoder returns the latent mean; see
    /// [`tweak_vae_quant_conv`]).
    pub fn vae(&self, dtype: DType, device: &Device) -> Result<AutoEncoderKL, DiffusionError> {
        let mut backend = self.vae.backend()?;
        tweak_vae_quant_conv(&mut backend, self.vae_arch.config.latent_channels, self.vae_arch.has_quant_conv)?;
        let backend = Arc::new(backend);
        let vb = VarBuilder::from_backend(Box::new(Shared(backend.clone())), dtype, device.clone());
        Self::finish(&backend, "VAE", build_vae(vb, &self.vae_arch))
    }
}

/// Logs the tensors of a component's files that the built model did not read.
pub(crate) fn warn_unused(backend: &WeightsBackend, what: &str) {
    let unused: Vec<String> = backend.unused().into_iter().filter(|n| !n.ends_with("position_ids")).collect();
    if !unused.is_empty() {
        tracing::warn!(
            "{what}: {} tensors in the weights are not used by the architecture in its config (first: {})",
            unused.len(),
            unused[0]
        );
    }
}

/// Our CLIP text encoder for `arch`, weights from `vb` (transformers' `text_model.` names).
pub(crate) fn build_text(vb: VarBuilder, arch: &TextEncoderArch) -> candle_core::Result<ClipTextModel> {
    ClipTextModel::new(vb.pp("text_model"), &arch.clip)
}

/// Our UNet for `arch` (exact GELU, see [`super::unet`]), weights from `vb` (diffusers names).
pub(crate) fn build_unet(vb: VarBuilder, arch: &UnetArch) -> candle_core::Result<Unet> {
    Unet::new(vb, arch.in_channels, arch.out_channels, &arch.config)
}

/// candle's VAE for `arch`, weights from `vb` (diffusers names).
pub(crate) fn build_vae(vb: VarBuilder, arch: &VaeArch) -> candle_core::Result<AutoEncoderKL> {
    AutoEncoderKL::new(vb, 3, 3, arch.config.clone())
}

/// The text encoder (either CLIP flavour: the activation comes from its config), on the
/// device it was built on.
pub struct TextEncoder(ClipTextModel, Device);

impl TextEncoder {
    /// `(1, max_len)` token ids to `(1, max_len, hidden)` embeddings (last hidden state,
    /// after the final layer norm, as Stable Diffusion uses it).
    pub fn encode(&self, ids: &[u32]) -> Result<Tensor, DiffusionError> {
        let t = Tensor::new(ids, &self.1).and_then(|t| t.unsqueeze(0)).ctx(|| "preparing token ids".into())?;
        self.0.forward(&t).ctx(|| "running the text encoder".into())
    }
}
