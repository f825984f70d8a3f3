//! SHA-256 of model files, cached by (path, size, modification time).
//!
//! Hashing a 4 GB checkpoint takes tens of seconds; a recipe needs the hashes every time a
//! model is loaded. The cache is a small JSON file (by default
//! `<user cache dir>/chrysalis/file-hashes.json`) mapping each canonical file path to the
//! size, mtime (ns) and SHA-256 it had when hashed. An entry is used only when size and
//! mtime still match; otherwise the file is hashed again. The cache is an optimisation:
//! when it cannot be read or written, hashing still works (and a warning is logged). Writes
//! go to a temporary file that is renamed over the old one, so a crash never leaves a
//! half-written cache and concurrent writers lose at most each other's new entries.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::DiffusionError;

/// Where (and whether) file hashes are cached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HashCacheLocation {
    /// `<user cache dir>/chrysalis/file-hashes.json` (no caching when there is no such dir).
    #[default]
    UserCache,
    /// This JSON file.
    File(PathBuf),
    /// Hash every file every time.
    Disabled,
}

impl HashCacheLocation {
    fn path(&self) -> Option<PathBuf> {
        match self {
            Self::UserCache => dirs::cache_dir().map(|d| d.join("chrysalis").join("file-hashes.json")),
            Self::File(p) => Some(p.clone()),
            Self::Disabled => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    size: u64,
    mtime_ns: u128,
    sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    files: BTreeMap<String, Entry>,
}

/// A loaded hash cache. [`HashCache::sha256`] consults and fills it; [`HashCache::save`]
/// writes it back when anything changed.
#[derive(Debug)]
pub struct HashCache {
    path: Option<PathBuf>,
    data: CacheFile,
    dirty: bool,
    /// How many files were actually hashed (not served from the cache) since opening.
    pub hashed: usize,
}

/// The (size, mtime) identity of a file's current contents.
pub(crate) fn stamp(path: &Path) -> Result<(u64, u128), DiffusionError> {
    let meta = std::fs::metadata(path).map_err(|e| DiffusionError::io(path, e))?;
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok((meta.len(), mtime))
}

/// SHA-256 of a file's bytes, lowercase hex, streamed in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> Result<String, DiffusionError> {
    let mut f = File::open(path).map_err(|e| DiffusionError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| DiffusionError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

impl HashCache {
    pub fn open(location: &HashCacheLocation) -> Self {
        let path = location.path();
        let data = path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| match serde_json::from_str::<CacheFile>(&text) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::warn!("ignoring unreadable hash cache: {e}");
                    None
                }
            })
            .unwrap_or_default();
        Self { path, data, dirty: false, hashed: 0 }
    }

    /// The SHA-256 of `path`, from the cache when its size and mtime are unchanged.
    pub fn sha256(&mut self, path: &Path) -> Result<String, DiffusionError> {
        let key = std::fs::canonicalize(path).map_err(|e| DiffusionError::io(path, e))?;
        let key = key.to_string_lossy().into_owned();
        let (size, mtime_ns) = stamp(path)?;
        if let Some(e) = self.data.files.get(&key)
            && e.size == size
            && e.mtime_ns == mtime_ns
        {
            return Ok(e.sha256.clone());
        }
        let sha256 = sha256_file(path)?;
        self.hashed += 1;
        // A file modified while we hashed it gets no cache entry (its stamp is stale).
        if stamp(path)? == (size, mtime_ns) {
            self.data.files.insert(key, Entry { size, mtime_ns, sha256: sha256.clone() });
            self.dirty = true;
        }
        Ok(sha256)
    }

    /// Writes the cache back if it changed. Failures are logged, not returned.
    pub fn save(&mut self) {
        let Some(path) = self.path.clone() else { return };
        if !self.dirty {
            return;
        }
        let mut write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Keep entries other processes added since we read the file.
            if let Ok(text) = std::fs::read_to_string(&path)
                && let Ok(theirs) = serde_json::from_str::<CacheFile>(&text)
            {
                for (k, v) in theirs.files {
                    self.data.files.entry(k).or_insert(v);
                }
            }
            // Forget files that no longer exist (deleted models, test folders).
            self.data.files.retain(|k, _| Path::new(k).exists());
            let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
            std::fs::write(&tmp, serde_json::to_vec_pretty(&self.data).expect("serializable"))?;
            std::fs::rename(&tmp, &path)
        };
        match write() {
            Ok(()) => self.dirty = false,
            Err(e) => tracing::warn!("cannot write hash cache {}: {e}", path.display()),
        }
    }
}
