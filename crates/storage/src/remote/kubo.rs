//! Kubo's RPC API (`/api/v0/...`), as IPFS Desktop and `ipfs daemon` serve it on
//! `127.0.0.1:5001`.
//!
//! - Files go through `add` with the options that reproduce our [`Layout`] (`cid-version`,
//!   `raw-leaves`, `chunker=size-…`, and on Kubo ≥ 0.35 `max-file-links`), pinned, and Kubo's
//!   CID must equal ours.
//! - Folders are published file by file (each resumable), then linked by `dag/import` of a
//!   CAR holding only the folder's directory nodes (and HAMT shards): the file blocks are
//!   already on the node, so nothing is sent twice, and the root CID is exactly ours whatever
//!   Kubo's own directory settings are.
//! - Any CAR goes through `dag/import` (`pin-roots=true`).
//! - [`Pinner::verify`] asks `pin/ls` whether the root is pinned recursively, and pins it
//!   (`pin/add`) if Kubo holds the blocks but lost the pin.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use chrysalis_core::CancelToken;
use cid::Cid;
use serde::Deserialize;

use super::http::{Http, ProgressReader, send_reader};
use super::multipart::Multipart;
use super::{
    BackendKind, Ctx, DirUpload, FileUpload, FolderStrategy, Pinner, Receipt, RemoteError, RetryPolicy, Secret,
    Verification, credentials,
};
use crate::Layout;
use crate::block::DAG_PB;
use crate::importer::{BlockSink, Importer};
use crate::pb::{self, DataType};

/// Where IPFS Desktop and `ipfs daemon` listen by default.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:5001";

/// The first Kubo whose `add` takes `max-file-links` (and so can import `v1-2025`).
const DAG_WIDTH_OPTIONS_SINCE: (u32, u32) = (0, 35);

/// A Kubo node.
#[derive(Debug)]
pub struct Kubo {
    http: Http,
    version: OnceLock<String>,
}

#[derive(Debug, Deserialize)]
struct AddLine {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Hash")]
    hash: Option<String>,
    #[serde(rename = "Size", default)]
    size: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ImportLine {
    #[serde(rename = "Root")]
    root: Option<ImportRoot>,
}

#[derive(Debug, Deserialize)]
struct ImportRoot {
    #[serde(rename = "Cid")]
    cid: CidLink,
    #[serde(rename = "PinErrorMsg", default)]
    pin_error: String,
}

#[derive(Debug, Deserialize)]
struct CidLink {
    #[serde(rename = "/")]
    cid: String,
}

#[derive(Debug, Deserialize)]
struct PinLs {
    #[serde(rename = "Keys", default)]
    keys: std::collections::BTreeMap<String, PinType>,
}

#[derive(Debug, Deserialize)]
struct PinType {
    #[serde(rename = "Type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
struct PinAdd {
    #[serde(rename = "Pins", default)]
    pins: Vec<String>,
}

impl Kubo {
    /// A client for the Kubo RPC API at `endpoint` (e.g. [`DEFAULT_ENDPOINT`]); `token` is
    /// sent as a bearer token when Kubo's `API.Authorizations` requires one.
    pub fn new(endpoint: &str, token: Option<Secret>) -> Kubo {
        let hint = format!(
            "Kubo's RPC API asked for credentials: set {} to a token from its API.Authorizations",
            credentials::KUBO_TOKEN_ENV
        );
        Kubo { http: Http::new(BackendKind::Kubo, endpoint, token, hint), version: OnceLock::new() }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Kubo {
        self.http.retry = retry;
        self
    }

    /// Kubo's version (`/api/v0/version`), asked once.
    pub fn version(&self, cancel: &CancelToken) -> Result<String, RemoteError> {
        if let Some(v) = self.version.get() {
            return Ok(v.clone());
        }
        #[derive(Deserialize)]
        struct V {
            #[serde(rename = "Version")]
            version: String,
        }
        let v: V = self.http.retry.run(cancel, "kubo version", |_| {
            let resp = self.http.check("version", self.http.post("/api/v0/version").send_empty())?;
            self.http.json("version", resp)
        })?;
        let _ = self.version.set(v.version.clone());
        Ok(v.version)
    }

    fn supports_dag_width(&self, cancel: &CancelToken) -> Result<bool, RemoteError> {
        let v = self.version(cancel)?;
        let mut nums = v.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
        Ok((major, minor) >= DAG_WIDTH_OPTIONS_SINCE)
    }

    /// The `add` query that reproduces `layout`.
    fn add_query(&self, layout: Layout, cancel: &CancelToken) -> Result<Vec<(&'static str, String)>, RemoteError> {
        let mut q = vec![
            ("cid-version", if layout.cid_version() == cid::Version::V0 { "0" } else { "1" }.to_string()),
            ("raw-leaves", layout.raw_leaves().to_string()),
            ("chunker", format!("size-{}", layout.chunk_size())),
            ("hash", "sha2-256".to_string()),
            ("trickle", "false".to_string()),
            ("inline", "false".to_string()),
            ("wrap-with-directory", "false".to_string()),
            ("pin", "true".to_string()),
            ("progress", "false".to_string()),
        ];
        if self.supports_dag_width(cancel)? {
            // Explicit, so a node whose config applies another profile still gives our CIDs.
            q.push(("max-file-links", layout.max_links().to_string()));
        } else if layout == Layout::V1_2025 {
            return Err(RemoteError::Unsupported {
                backend: BackendKind::Kubo,
                what: format!(
                    "the v1-2025 layout before Kubo 0.35 (this node runs {}); update Kubo or publish with --layout v1",
                    self.version(cancel)?
                ),
            });
        }
        Ok(q)
    }

    /// `add` of one file: streams it and checks Kubo's CID.
    pub fn add_file(&self, file: &FileUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let query = self.add_query(file.layout, ctx.cancel)?;
        let what = format!("add {}", file.name);
        let lines: Vec<AddLine> = self.http.retry.run(ctx.cancel, &what, |_| {
            let form = Multipart::new().file(
                "file",
                file.path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
                "application/octet-stream",
                file.path.clone(),
                file.size,
            );
            let (ct, len) = (form.content_type(), form.len());
            let mut body = ProgressReader { inner: form.into_reader(), on_bytes: ctx.on_bytes, cancel: ctx.cancel };
            let mut req = self.http.post("/api/v0/add");
            for (k, v) in &query {
                req = req.query(k, v);
            }
            let result = send_reader(req, &ct, len, &mut body);
            ctx.cancel.check()?;
            let resp = self.http.check(&what, result)?;
            let text = self.http.text(resp)?;
            parse_ndjson(&self.http, &what, &text)
        })?;
        let last = lines
            .iter()
            .rev()
            .find(|l| l.hash.is_some())
            .ok_or_else(|| self.http.protocol(&what, "no object with a Hash in the answer"))?;
        let reported = last.hash.as_deref().unwrap_or_default();
        Receipt::ipfs_checked(
            BackendKind::Kubo,
            &file.cid,
            reported,
            None,
            serde_json::json!({ "name": last.name, "size": last.size, "layout": file.layout }),
        )
    }

    /// `dag/import` of a CAR file, pinning its roots; the root Kubo reports must be `root`.
    pub fn dag_import(&self, car: &Path, root: &Cid, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let len = fs::metadata(car).map_err(RemoteError::io(car))?.len();
        let what = format!("dag/import of {root}");
        let lines: Vec<ImportLine> = self.http.retry.run(ctx.cancel, &what, |_| {
            let form = Multipart::new().file("file", "upload.car", "application/vnd.ipld.car", car.to_path_buf(), len);
            let (ct, blen) = (form.content_type(), form.len());
            let mut body = ProgressReader { inner: form.into_reader(), on_bytes: ctx.on_bytes, cancel: ctx.cancel };
            let req = self.http.post("/api/v0/dag/import").query("pin-roots", "true").query("stats", "false");
            let result = send_reader(req, &ct, blen, &mut body);
            ctx.cancel.check()?;
            let resp = self.http.check(&what, result)?;
            let text = self.http.text(resp)?;
            parse_ndjson(&self.http, &what, &text)
        })?;
        let roots: Vec<&ImportRoot> = lines.iter().filter_map(|l| l.root.as_ref()).collect();
        let Some(found) = roots.iter().find(|r| Cid::try_from(r.cid.cid.as_str()).ok() == Some(*root)) else {
            let reported = roots.first().map_or_else(|| "(no root)".to_string(), |r| r.cid.cid.clone());
            return Err(RemoteError::CidMismatch { backend: BackendKind::Kubo, expected: root.to_string(), reported });
        };
        if !found.pin_error.is_empty() {
            return Err(RemoteError::Server {
                backend: BackendKind::Kubo,
                status: 200,
                what: format!("pinning {root} after dag/import"),
                message: found.pin_error.clone(),
            });
        }
        Receipt::ipfs_checked(BackendKind::Kubo, root, &found.cid.cid, None, serde_json::json!({ "car_bytes": len }))
    }

    /// Whether `cid` is pinned recursively (`pin/ls`). Kubo answers "not pinned" with an
    /// error; that is `Ok(false)` here.
    pub fn is_pinned(&self, cid: &Cid, cancel: &CancelToken) -> Result<bool, RemoteError> {
        let what = format!("pin/ls {cid}");
        self.http.retry.run(cancel, &what, |_| {
            let result =
                self.http.post("/api/v0/pin/ls").query("arg", cid.to_string()).query("type", "recursive").send_empty();
            match self.http.check(&what, result) {
                Ok(resp) => {
                    let ls: PinLs = self.http.json(&what, resp)?;
                    Ok(ls
                        .keys
                        .iter()
                        .any(|(k, t)| Cid::try_from(k.as_str()).ok() == Some(*cid) && t.kind.starts_with("recursive")))
                }
                Err(RemoteError::Server { status: 500, message, .. }) if message.contains("not pinned") => Ok(false),
                Err(e) => Err(e),
            }
        })
    }

    /// Pins `cid` recursively (`pin/add`); Kubo must answer with that same CID.
    pub fn pin_add(&self, cid: &Cid, cancel: &CancelToken) -> Result<(), RemoteError> {
        let what = format!("pin/add {cid}");
        let added: PinAdd = self.http.retry.run(cancel, &what, |_| {
            let result = self
                .http
                .post("/api/v0/pin/add")
                .query("arg", cid.to_string())
                .query("recursive", "true")
                .query("progress", "false")
                .send_empty();
            let resp = self.http.check(&what, result)?;
            self.http.json(&what, resp)
        })?;
        if added.pins.iter().any(|p| Cid::try_from(p.as_str()).ok() == Some(*cid)) {
            Ok(())
        } else {
            Err(RemoteError::CidMismatch {
                backend: BackendKind::Kubo,
                expected: cid.to_string(),
                reported: added.pins.join(", "),
            })
        }
    }
}

fn parse_ndjson<T: serde::de::DeserializeOwned>(http: &Http, what: &str, text: &str) -> Result<Vec<T>, RemoteError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| http.protocol(what, format!("{e}: {}", super::http::snippet(l)))))
        .collect()
}

/// Keeps only the blocks that make up directories (plain directories, HAMT shards,
/// symlinks): the part of a folder's DAG that per-file uploads do not carry.
#[derive(Default)]
struct DirectoryBlocks {
    blocks: Vec<(Cid, Vec<u8>)>,
}

impl BlockSink for DirectoryBlocks {
    fn put(&mut self, cid: &Cid, block: &[u8]) -> Result<(), crate::StorageError> {
        if cid.codec() != DAG_PB {
            return Ok(());
        }
        let bad = |reason: String| crate::StorageError::InvalidBlock { cid: *cid, what: "dag-pb", reason };
        let node = pb::decode_node(block).map_err(|e| bad(e.0))?;
        let Some(data) = node.data else { return Ok(()) };
        let unixfs = pb::decode_unixfs(data).map_err(|e| bad(e.0))?;
        if matches!(unixfs.kind, DataType::Directory | DataType::HamtShard | DataType::Symlink) {
            self.blocks.push((*cid, block.to_vec()));
        }
        Ok(())
    }
}

/// Writes to `out` a CAR of `dir`'s directory nodes only (directories, HAMT shards,
/// symlinks; no file blocks), rooted at the folder's CID under `layout`, and returns that
/// root. The folder is re-read and re-hashed, so a folder that changed since it was planned
/// shows up as a different root. Directory blocks are small (a 10 000-entry HAMT is a few
/// MiB), so they are gathered in memory.
pub fn write_directory_car(dir: &Path, layout: Layout, out: &Path, cancel: &CancelToken) -> Result<Cid, RemoteError> {
    let mut sink = DirectoryBlocks::default();
    let root = Importer::new(layout).sink(&mut sink).cancel(cancel).add_dir(dir)?.cid;
    let mut file = std::io::BufWriter::new(fs::File::create(out).map_err(RemoteError::io(out))?);
    let mut car = crate::car::CarWriter::new(&mut file, &[root]).map_err(RemoteError::io(out))?;
    // Parents first, as a CAR reader walking from the root expects.
    for (cid, block) in sink.blocks.iter().rev() {
        car.write_block(cid, block).map_err(RemoteError::io(out))?;
    }
    car.finish();
    std::io::Write::flush(&mut file).map_err(RemoteError::io(out))?;
    Ok(root)
}

impl Pinner for Kubo {
    fn kind(&self) -> BackendKind {
        BackendKind::Kubo
    }

    fn endpoint(&self) -> String {
        self.http.base.clone()
    }

    fn folder_strategy(&self) -> FolderStrategy {
        FolderStrategy::FilesThenLink
    }

    fn put_file(&self, file: &FileUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        self.add_file(file, ctx)
    }

    fn put_dir(&self, dir: &DirUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let tmp = tempfile_in_temp("chrysalis-dir", "car")?;
        let root = write_directory_car(&dir.path, dir.layout, tmp.path(), ctx.cancel)?;
        if root != dir.cid {
            return Err(RemoteError::Verification {
                backend: BackendKind::Kubo,
                message: format!(
                    "`{}` changed since it was planned (its CID is now {root}, not {}); publish again",
                    dir.path.display(),
                    dir.cid
                ),
            });
        }
        let mut receipt = self.dag_import(tmp.path(), &dir.cid, ctx)?;
        receipt.detail["files"] = dir.children.len().into();
        Ok(receipt)
    }

    fn put_car(&self, car: &Path, root: &Cid, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        self.dag_import(car, root, ctx)
    }

    fn verify(&self, expected: &Cid, _receipt: &Receipt, ctx: &Ctx<'_>) -> Result<Verification, RemoteError> {
        if self.is_pinned(expected, ctx.cancel)? {
            return Ok(Verification::Verified);
        }
        // The blocks were accepted with the right CID; only the pin is missing.
        self.pin_add(expected, ctx.cancel)?;
        Ok(if self.is_pinned(expected, ctx.cancel)? {
            Verification::Verified
        } else {
            Verification::Failed(format!("Kubo does not list {expected} as pinned after pin/add"))
        })
    }
}

/// A named temporary file that is removed on drop.
pub(crate) struct TempFile(std::path::PathBuf);

impl TempFile {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

pub(crate) fn tempfile_in_temp(prefix: &str, ext: &str) -> Result<TempFile, RemoteError> {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("{prefix}-{}-{:016x}.{ext}", std::process::id(), super::retry::random_u64()));
    fs::File::create_new(&path).map_err(RemoteError::io(&path))?;
    Ok(TempFile(path))
}
