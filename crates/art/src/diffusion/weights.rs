//! Reading weights from safetensors files into candle models, with errors that name the file
//! and tensor.
//!
//! We do not use candle's `from_mmaped_safetensors`: a memory map of a 3.4 GB UNet counts
//! towards the process's resident memory while candle copies each tensor out of it, so the
//! peak would be twice the model. Instead [`WeightsBackend`] parses the header itself and
//! reads each tensor with one positioned read when the model asks for it, converting to the
//! requested dtype. Peak memory is the model plus one tensor.
//!
//! candle's model constructors only see `candle_core::Error`s, so the backend keeps the last
//! *structured* error it produced ([`DiffusionError::TensorShape`], ...) and the loader
//! returns that one when construction fails.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use safetensors::tensor::{Metadata, TensorInfo};

use super::error::DiffusionError;

/// Headers larger than this are refused as corrupt (real ones are well under 1 MB).
const MAX_HEADER: u64 = 100 << 20;

/// One opened safetensors file: its header, and the file to read tensor data from.
pub(crate) struct WeightFile {
    pub path: PathBuf,
    file: Mutex<File>,
    data_start: u64,
    tensors: HashMap<String, TensorInfo>,
}

fn corrupt(path: &Path, detail: impl Into<String>) -> DiffusionError {
    DiffusionError::CorruptWeights { path: path.to_path_buf(), detail: detail.into() }
}

impl WeightFile {
    pub fn open(path: &Path) -> Result<Self, DiffusionError> {
        let mut file = File::open(path).map_err(|e| DiffusionError::io(path, e))?;
        let len = file.metadata().map_err(|e| DiffusionError::io(path, e))?.len();
        if len < 8 {
            return Err(corrupt(path, format!("the file is {len} bytes long, too short for a header")));
        }
        let mut n = [0u8; 8];
        file.read_exact(&mut n).map_err(|e| DiffusionError::io(path, e))?;
        let n = u64::from_le_bytes(n);
        if n > MAX_HEADER || 8 + n > len {
            return Err(corrupt(path, format!("its header claims {n} bytes in a file of {len} bytes")));
        }
        let mut header = vec![0u8; n as usize];
        file.read_exact(&mut header).map_err(|e| DiffusionError::io(path, e))?;
        let text = std::str::from_utf8(&header).map_err(|_| corrupt(path, "its header is not UTF-8 text"))?;
        let meta: Metadata =
            serde_json::from_str(text).map_err(|e| corrupt(path, format!("its header is invalid: {e}")))?;
        let tensors: HashMap<String, TensorInfo> = meta.tensors().into_iter().map(|(k, v)| (k, v.clone())).collect();
        let data_len = tensors.values().map(|t| t.data_offsets.1 as u64).max().unwrap_or(0);
        if 8 + n + data_len != len {
            return Err(corrupt(
                path,
                format!("its header describes {} bytes but the file has {len}: truncated or damaged", 8 + n + data_len),
            ));
        }
        Ok(Self { path: path.to_path_buf(), file: Mutex::new(file), data_start: 8 + n, tensors })
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.tensors.keys()
    }

    fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.get(name)
    }

    /// The stored shape of tensor `name`.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|t| t.shape.as_slice())
    }

    /// Reads tensor `name` (which must exist) in its stored dtype.
    pub(crate) fn read(&self, name: &str) -> Result<Tensor, DiffusionError> {
        let info = &self.tensors[name];
        let dtype = match info.dtype {
            safetensors::Dtype::F32 => DType::F32,
            safetensors::Dtype::F16 => DType::F16,
            safetensors::Dtype::BF16 => DType::BF16,
            safetensors::Dtype::F64 => DType::F64,
            other => {
                return Err(DiffusionError::TensorDtype {
                    path: self.path.clone(),
                    tensor: name.to_string(),
                    dtype: other.to_string(),
                });
            }
        };
        let (start, end) = info.data_offsets;
        let read_into = |buf: &mut [u8]| -> Result<(), DiffusionError> {
            let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
            f.seek(SeekFrom::Start(self.data_start + start as u64)).map_err(|e| DiffusionError::io(&self.path, e))?;
            f.read_exact(buf).map_err(|e| DiffusionError::io(&self.path, e))
        };
        let fail = |source| DiffusionError::Candle {
            context: format!("reading tensor {name} from {}", self.path.display()),
            source,
        };
        // f32 (the usual case, and gigabytes of it) is read straight into the tensor's buffer
        // on little-endian hosts, as safetensors stores it: one copy instead of two.
        if dtype == DType::F32 && cfg!(target_endian = "little") && (end - start) % 4 == 0 {
            let mut data = vec![0f32; (end - start) / 4];
            read_into(bytemuck::cast_slice_mut(&mut data))?;
            return Tensor::from_vec(data, info.shape.as_slice(), &Device::Cpu).map_err(fail);
        }
        let mut buf = vec![0u8; end - start];
        read_into(&mut buf)?;
        Tensor::from_raw_buffer(&buf, dtype, &info.shape, &Device::Cpu).map_err(fail)
    }
}

/// Where a tensor the model asks for lives in a file written with other names or layouts
/// (a single-file checkpoint's LDM names, a text encoder saved without `text_model.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct View {
    /// The tensor's name in the file.
    pub source: String,
    /// Only rows `start..start + len` of the first dimension (OpenCLIP packs q, k and v
    /// into one `in_proj_weight`).
    pub rows: Option<(usize, usize)>,
    /// Drop trailing dimensions of size 1 (the LDM VAE's attention is 1x1 convolutions where
    /// diffusers has linear layers).
    pub squeeze: bool,
}

impl View {
    pub fn rename(source: impl Into<String>) -> Self {
        Self { source: source.into(), rows: None, squeeze: false }
    }

    /// The shape this view has over a stored tensor of shape `stored`.
    fn shape(&self, stored: &[usize]) -> Vec<usize> {
        let mut s = stored.to_vec();
        if let (Some((_, len)), Some(first)) = (self.rows, s.first_mut()) {
            *first = len;
        }
        if self.squeeze {
            while s.len() > 1 && s.last() == Some(&1) {
                s.pop();
            }
        }
        s
    }
}

/// The model's tensor name -> where it is stored.
pub(crate) type KeyMap = BTreeMap<String, View>;

/// A candle `VarBuilder` backend over one component's weight files.
pub(crate) struct WeightsBackend {
    /// The component's config.json, named in shape errors.
    config: PathBuf,
    files: Vec<WeightFile>,
    /// Tensor name -> file; with `views`, the names are the model's and point at a view.
    index: HashMap<String, usize>,
    views: HashMap<String, View>,
    /// Tensors supplied by the loader instead of the files (see `VaeEncoderTweak`).
    synthetic: HashMap<String, Tensor>,
    last_error: Mutex<Option<DiffusionError>>,
    used: Mutex<BTreeSet<String>>,
    /// LoRA changes merged into tensors as they are read (see [`super::lora`]).
    lora: Option<Arc<Patches>>,
}

impl WeightsBackend {
    pub fn open(config: &Path, paths: &[PathBuf]) -> Result<Self, DiffusionError> {
        let mut files = Vec::with_capacity(paths.len());
        let mut index = HashMap::new();
        for (i, p) in paths.iter().enumerate() {
            let f = WeightFile::open(p)?;
            for name in f.names() {
                if let Some(prev) = index.insert(name.clone(), i) {
                    return Err(corrupt(
                        p,
                        format!(
                            "tensor {name} is also in {}",
                            files.get(prev).map_or(p, |f: &WeightFile| &f.path).display()
                        ),
                    ));
                }
            }
            files.push(f);
        }
        Ok(Self {
            config: config.to_path_buf(),
            files,
            index,
            views: HashMap::new(),
            synthetic: HashMap::new(),
            last_error: Mutex::new(None),
            used: Mutex::new(BTreeSet::new()),
            lora: None,
        })
    }

    fn where_(&self) -> PathBuf {
        match self.files.as_slice() {
            [one] => one.path.clone(),
            _ => self.config.parent().map(Path::to_path_buf).unwrap_or_default(),
        }
    }

    /// Serves the model's tensors through `map` (model name -> stored tensor) instead of the
    /// stored names: only the mapped names exist afterwards. A view whose source tensor is
    /// not in the files, or whose rows fall outside it, is an error naming it.
    pub fn remap(&mut self, map: &KeyMap) -> Result<(), DiffusionError> {
        let mut index = HashMap::with_capacity(map.len());
        for (name, view) in map {
            let Some(&i) = self.index.get(&view.source) else {
                return Err(DiffusionError::MissingTensor {
                    path: self.where_(),
                    config: self.config.clone(),
                    tensor: format!("{} (for {name})", view.source),
                });
            };
            let stored = &self.files[i].info(&view.source).expect("indexed").shape;
            if let Some((start, len)) = view.rows
                && stored.first().is_none_or(|&n| start + len > n)
            {
                return Err(DiffusionError::TensorShape {
                    path: self.files[i].path.clone(),
                    config: self.config.clone(),
                    tensor: view.source.clone(),
                    expected: vec![start + len],
                    actual: stored.clone(),
                });
            }
            index.insert(name.clone(), i);
        }
        self.index = index;
        self.views = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(())
    }

    /// The stored name and shape of `name` (after its view, if any).
    fn locate<'a>(&'a self, name: &'a str) -> Option<(&'a WeightFile, &'a str, Option<&'a View>, Vec<usize>)> {
        let &i = self.index.get(name)?;
        let file = &self.files[i];
        match self.views.get(name) {
            Some(v) => {
                let info = file.info(&v.source)?;
                Some((file, v.source.as_str(), Some(v), v.shape(&info.shape)))
            }
            None => Some((file, name, None, file.info(name)?.shape.clone())),
        }
    }

    /// Merges `patches` into the tensors they name whenever those are read.
    pub fn set_lora(&mut self, patches: Option<Arc<Patches>>) {
        self.lora = patches;
    }

    /// The shape the model sees for `name`, if the files have it.
    pub fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.locate(name).map(|(_, _, _, shape)| shape)
    }

    /// The names the model can ask for.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.index.keys()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.synthetic.contains_key(name) || self.index.contains_key(name)
    }

    pub fn insert_synthetic(&mut self, name: &str, t: Tensor) {
        self.synthetic.insert(name.to_string(), t);
    }

    fn fail(&self, e: DiffusionError) -> candle_core::Error {
        let msg = e.to_string();
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        candle_core::Error::Msg(msg)
    }

    /// Turns a failed model construction into the most specific error we know of.
    pub fn explain(&self, what: &str, source: candle_core::Error) -> DiffusionError {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_else(|| DiffusionError::Candle {
            context: format!("building the {what} from {}", self.where_().display()),
            source,
        })
    }

    /// Tensors in the files the architecture never asked for (a hint that the config and the
    /// weights disagree, e.g. fewer layers in the config).
    pub fn unused(&self) -> Vec<String> {
        let used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<String> = self.index.keys().filter(|k| !used.contains(*k)).cloned().collect();
        v.sort();
        v
    }

    /// Checks that `name` exists with `shape`, without reading it.
    fn check(&self, shape: &Shape, name: &str) -> Result<(), DiffusionError> {
        if self.synthetic.contains_key(name) {
            return Ok(());
        }
        let Some((file, stored, _, actual)) = self.locate(name) else {
            return Err(DiffusionError::MissingTensor {
                path: self.where_(),
                config: self.config.clone(),
                tensor: name.into(),
            });
        };
        if actual.as_slice() != shape.dims() {
            return Err(DiffusionError::TensorShape {
                path: file.path.clone(),
                config: self.config.clone(),
                tensor: shown_name(name, stored),
                expected: shape.dims().to_vec(),
                actual,
            });
        }
        Ok(())
    }

    pub(crate) fn load(&self, shape: Option<&Shape>, name: &str, dtype: DType) -> Result<Tensor, DiffusionError> {
        let t = match self.synthetic.get(name) {
            Some(t) => t.clone(),
            None => {
                let Some((file, stored, view, actual)) = self.locate(name) else {
                    return Err(DiffusionError::MissingTensor {
                        path: self.where_(),
                        config: self.config.clone(),
                        tensor: name.into(),
                    });
                };
                if let Some(shape) = shape
                    && actual.as_slice() != shape.dims()
                {
                    return Err(DiffusionError::TensorShape {
                        path: file.path.clone(),
                        config: self.config.clone(),
                        tensor: shown_name(name, stored),
                        expected: shape.dims().to_vec(),
                        actual,
                    });
                }
                let t = file.read(stored)?;
                match view {
                    None => t,
                    Some(v) => {
                        let t = match v.rows {
                            Some((start, len)) => t.narrow(0, start, len),
                            None => Ok(t),
                        };
                        t.and_then(|t| t.reshape(actual)).map_err(|source| DiffusionError::Candle {
                            context: format!(
                                "reading tensor {} from {}",
                                shown_name(name, stored),
                                file.path.display()
                            ),
                            source,
                        })?
                    }
                }
            }
        };
        self.used.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string());
        let t = match self.lora.as_ref().and_then(|l| l.get(name)) {
            Some(patches) => apply_patches(t, patches)?,
            None => t,
        };
        t.to_dtype(dtype)
            .map_err(|source| DiffusionError::Candle { context: format!("converting tensor {name}"), source })
    }
}

/// `name`, and the name it is stored under when that differs.
fn shown_name(name: &str, stored: &str) -> String {
    if name == stored { name.to_string() } else { format!("{name} (stored as {stored})") }
}

impl SimpleBackend for WeightsBackend {
    // Tensors are read (and LoRA-patched) on the CPU, then moved to the run's device: a
    // no-op for the CPU, one upload per tensor for a GPU.
    fn get(&self, s: Shape, name: &str, _: candle_nn::Init, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.load(Some(&s), name, dtype).map_err(|e| self.fail(e))?.to_device(dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.load(None, name, dtype).map_err(|e| self.fail(e))?.to_device(dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.contains(name)
    }
}

/// A `VarBuilder` backend that builds a model *shape-only*: every tensor is a broadcast
/// scalar (no memory), and each request is recorded. Over a [`WeightsBackend`] it also checks
/// that the files have each tensor with the right shape (a load-time check that reads only
/// headers); without one it lists what a model of this architecture needs (the test-model
/// writer uses that).
pub(crate) struct ShapeCheck<'a> {
    files: Option<&'a WeightsBackend>,
    pub wanted: std::sync::Arc<Mutex<TensorList>>,
}

/// Tensor name -> (shape, initialisation hint), as a model asks for them.
pub(crate) type TensorList = BTreeMap<String, (Vec<usize>, candle_nn::Init)>;

impl<'a> ShapeCheck<'a> {
    pub fn new(files: Option<&'a WeightsBackend>) -> Self {
        Self { files, wanted: Default::default() }
    }
}

impl SimpleBackend for ShapeCheck<'_> {
    fn get(&self, s: Shape, name: &str, h: candle_nn::Init, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        if let Some(b) = self.files {
            b.check(&s, name).map_err(|e| b.fail(e))?;
        }
        self.wanted.lock().unwrap_or_else(|p| p.into_inner()).entry(name.to_string()).or_insert((s.dims().to_vec(), h));
        Tensor::zeros((), dtype, dev)?.broadcast_as(s)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("shape check cannot load {name} without a shape")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        match self.files {
            Some(b) => b.contains(name),
            // Answer like a modern diffusers VAE (attention as to_q/to_k/to_v/to_out.0).
            None => name.ends_with("to_q.weight"),
        }
    }
}

/// candle's `AutoEncoderKL::encode` only offers a *sample* of the latent distribution, drawn
/// from candle's unseeded RNG. We want its mean (deterministic, as diffusers'
/// `sample_mode="argmax"`), so the loader rewrites `quant_conv` (the 1x1 conv whose output is
/// `[mean, logvar]`): the mean half is kept, the logvar half becomes a constant −10⁴, making
/// the standard deviation exp(−5000) = 0 and the "sample" exactly the mean. A VAE without a
/// `quant_conv` gets an identity one with the same logvar half.
pub(crate) fn tweak_vae_quant_conv(
    b: &mut WeightsBackend,
    latent: usize,
    has_quant_conv: bool,
) -> Result<(), DiffusionError> {
    let n = 2 * latent;
    let (mut w, mut bias) = if has_quant_conv {
        let read = |name: &str, expected: Vec<usize>| -> Result<Vec<f32>, DiffusionError> {
            let t = b.load(Some(&Shape::from(expected)), name, DType::F32)?;
            t.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(|e| b.explain("VAE", e))
        };
        (read("quant_conv.weight", vec![n, n, 1, 1])?, read("quant_conv.bias", vec![n])?)
    } else {
        let mut w = vec![0f32; n * n];
        for i in 0..latent {
            w[i * n + i] = 1.0;
        }
        (w, vec![0f32; n])
    };
    for row in latent..n {
        w[row * n..(row + 1) * n].fill(0.0);
        bias[row] = -1.0e4;
    }
    let dev = Device::Cpu;
    let w = Tensor::from_vec(w, (n, n, 1, 1), &dev).map_err(|e| b.explain("VAE", e))?;
    let bias = Tensor::from_vec(bias, n, &dev).map_err(|e| b.explain("VAE", e))?;
    b.insert_synthetic("quant_conv.weight", w);
    b.insert_synthetic("quant_conv.bias", bias);
    Ok(())
}
/// One low-rank change to one weight tensor: a LoRA module ([`super::lora`] plans them),
/// merged into the tensor as it is read. It lives here, beside the reader that applies it,
/// so that `lora` depends on `weights` and not the other way round.
pub(crate) struct Patch {
    pub(crate) file: Arc<WeightFile>,
    pub(crate) down: String,
    pub(crate) up: String,
    /// weight · alpha / rank.
    pub(crate) scale: f64,
}

impl std::fmt::Debug for Patch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Patch({} in {}, scale {})", self.down, self.file.path.display(), self.scale)
    }
}

/// Model tensor name -> the changes to add to it, in order.
pub(crate) type Patches = HashMap<String, Vec<Patch>>;

/// `w` (any dtype, the layer's shape) with `patches` added, in f32.
pub(crate) fn apply_patches(w: Tensor, patches: &[Patch]) -> Result<Tensor, DiffusionError> {
    let mut w = w.to_dtype(DType::F32).map_err(|e| candle(patches, e))?;
    for p in patches {
        let down = p.file.read(&p.down)?;
        let up = p.file.read(&p.up)?;
        let delta = (|| {
            let rank = down.dim(0)?;
            let down = down.to_dtype(DType::F32)?.reshape((rank, ()))?;
            let up = up.to_dtype(DType::F32)?.reshape((up.dim(0)?, rank))?;
            (up.matmul(&down)? * p.scale)?.reshape(w.shape())
        })()
        .map_err(|e| candle(std::slice::from_ref(p), e))?;
        w = (w + delta).map_err(|e| candle(std::slice::from_ref(p), e))?;
    }
    Ok(w)
}

fn candle(patches: &[Patch], source: candle_core::Error) -> DiffusionError {
    let what = patches.first().map_or_else(String::new, |p| format!(" {} from {}", p.down, p.file.path.display()));
    DiffusionError::Candle { context: format!("merging LoRA{what}"), source }
}
