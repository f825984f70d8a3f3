//! Remote backends: where published bytes go, behind one trait, [`Pinner`].
//!
//! | backend | what it does | how a receipt is verified |
//! |---|---|---|
//! | [`kubo::Kubo`] | `/api/v0/add` with our [`Layout`]'s options, `/api/v0/dag/import` for CARs and folders, pins | Kubo's CID equals ours; `pin/ls` shows it pinned |
//! | [`psa::PinningService`] | the IPFS Pinning Services API: `POST /pins {cid}`, polls `GET /pins/{id}` | status `pinned` and the pin names our CID |
//! | [`pinata::Pinata`] | `POST /v3/files` with a CAR (`car=true`), so Pinata stores our exact DAG in every layout | Pinata's CID equals ours |
//! | [`arweave::Arweave`] | signed format-2 transactions, chunked upload, a path manifest for folders | bytes read back and hashed, the `IPFS-CID` tag, confirmation |
//! | [`local::Local`] | the project's embedded [`crate::LocalStore`] | the store verifies every block on write |
//!
//! Nothing a remote says is trusted until it is checked against what we computed locally:
//! every `put_*` returns a [`Receipt`] only after the remote's CID (or, for Arweave, the bytes
//! read back) matched, and [`publish`] records each step in the project database before and
//! after it happens, so an interrupted publish resumes without re-uploading anything that
//! was verified.
//!
//! # Why blocking HTTP (`ureq`)
//! The clients are synchronous, on `ureq` 3 with rustls. The callers are a CLI with no async
//! runtime and a desktop shell that runs long jobs on worker threads; the project store is a
//! `rusqlite::Connection`, which is not `Sync` and must not be held across `.await`s. With
//! blocking I/O, concurrency is a handful of scoped worker threads reporting to the thread that
//! owns the database, cancellation is a [`CancelToken`] checked between requests and while
//! streaming bodies, and no runtime is started or nested (Tauri's own runtime stays free).
//! `ureq` is also a far smaller build than `reqwest` + `tokio` on our 2-core machines.

pub mod arweave;
pub mod credentials;
mod http;
pub mod kubo;
pub mod local;
mod multipart;
pub mod pinata;
pub mod psa;
pub mod publish;
pub mod retry;
#[cfg(feature = "testkit")]
pub mod testkit;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrysalis_core::{CancelToken, Cancelled};
use cid::Cid;
use serde::{Deserialize, Serialize};

use crate::Layout;

pub use credentials::{CredentialError, Secret};
pub use publish::{PublishError, PublishItem, PublishOptions, PublishReport, Publisher, UploadStatus};
pub use retry::RetryPolicy;

/// Which kind of backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The project's embedded block store.
    Local,
    /// A Kubo (go-ipfs) node's RPC API, e.g. IPFS Desktop on 127.0.0.1:5001.
    Kubo,
    /// A remote pinning service speaking the IPFS Pinning Services API.
    Psa,
    /// Pinata's upload API.
    Pinata,
    /// Arweave (or arlocal).
    Arweave,
}

impl BackendKind {
    pub const ALL: [BackendKind; 5] =
        [BackendKind::Local, BackendKind::Kubo, BackendKind::Psa, BackendKind::Pinata, BackendKind::Arweave];

    pub const fn as_str(self) -> &'static str {
        match self {
            BackendKind::Local => "local",
            BackendKind::Kubo => "kubo",
            BackendKind::Psa => "psa",
            BackendKind::Pinata => "pinata",
            BackendKind::Arweave => "arweave",
        }
    }

    /// What a person calls it.
    pub const fn display_name(self) -> &'static str {
        match self {
            BackendKind::Local => "the local store",
            BackendKind::Kubo => "Kubo",
            BackendKind::Psa => "the pinning service",
            BackendKind::Pinata => "Pinata",
            BackendKind::Arweave => "Arweave",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backend name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend {0:?}: use local, kubo, psa, pinata or arweave")]
pub struct UnknownBackend(pub String);

impl FromStr for BackendKind {
    type Err = UnknownBackend;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(BackendKind::Local),
            "kubo" | "ipfs" => Ok(BackendKind::Kubo),
            "psa" | "pinning-service" => Ok(BackendKind::Psa),
            "pinata" => Ok(BackendKind::Pinata),
            "arweave" | "ar" => Ok(BackendKind::Arweave),
            _ => Err(UnknownBackend(s.to_string())),
        }
    }
}

/// How a backend publishes a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderStrategy {
    /// Each file is its own upload (resumable one by one), then [`Pinner::put_dir`] links
    /// them: Kubo (a CAR of the directory nodes only) and Arweave (a path manifest).
    FilesThenLink,
    /// The whole folder in one [`Pinner::put_dir`] call: the local store, Pinata (one CAR).
    Whole,
    /// Nothing is uploaded: the service is asked to pin the root CID and fetches the blocks
    /// itself from the IPFS network (the Pinning Services API).
    PinRoot,
}

/// One file to publish, with everything already computed locally.
#[derive(Debug, Clone)]
pub struct FileUpload {
    /// The file on disk.
    pub path: PathBuf,
    /// Its name inside the publish (`"3.png"`, `"stage-1/3.json"`); the file name when a
    /// single file is published.
    pub name: String,
    /// Its CID under `layout`, computed locally.
    pub cid: Cid,
    pub layout: Layout,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the bytes, computed locally.
    pub sha256: [u8; 32],
    /// MIME type (from the extension).
    pub content_type: String,
}

/// A folder to publish.
#[derive(Debug, Clone)]
pub struct DirUpload {
    /// The folder on disk.
    pub path: PathBuf,
    /// Its name (the folder's own name).
    pub name: String,
    /// Its root CID under `layout`, computed locally.
    pub cid: Cid,
    pub layout: Layout,
    /// Bytes of all its files.
    pub size: u64,
    /// With [`FolderStrategy::FilesThenLink`]: every file's verified receipt, by name inside
    /// the folder, sorted by name.
    pub children: Vec<(String, Receipt)>,
}

/// Proof that a remote holds what we computed: only built after the remote's answer was
/// checked against the local CID (or bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub backend: BackendKind,
    /// The CID we computed and the remote confirmed.
    pub cid: String,
    /// The remote's own id: Arweave transaction id, pinning request id, Pinata file id.
    pub remote_id: Option<String>,
    /// Where it can be fetched: `ipfs://CID` or `ar://TXID`.
    pub uri: String,
    /// Anything else worth keeping (sizes, the remote's raw CID string, Arweave reward).
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl Receipt {
    /// A receipt for IPFS content after checking that the CID the remote reported is the one
    /// we computed. CIDv0 and CIDv1 strings of the same multihash and codec are *not* equal
    /// here: a layout mismatch is exactly what this check exists to catch.
    pub fn ipfs_checked(
        backend: BackendKind,
        expected: &Cid,
        reported: &str,
        remote_id: Option<String>,
        detail: serde_json::Value,
    ) -> Result<Receipt, RemoteError> {
        ensure_same_cid(backend, expected, reported)?;
        Ok(Receipt { backend, cid: expected.to_string(), remote_id, uri: format!("ipfs://{expected}"), detail })
    }
}

/// Errors unless `reported` parses to exactly `expected`.
pub fn ensure_same_cid(backend: BackendKind, expected: &Cid, reported: &str) -> Result<(), RemoteError> {
    match Cid::try_from(reported.trim()) {
        Ok(cid) if cid == *expected => Ok(()),
        _ => Err(RemoteError::CidMismatch {
            backend,
            expected: expected.to_string(),
            reported: reported.trim().to_string(),
        }),
    }
}

/// What [`Pinner::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "detail", rename_all = "lowercase")]
pub enum Verification {
    /// The remote holds exactly our bytes (pinned, confirmed).
    Verified,
    /// Accepted but not final yet (Arweave waiting for a block, a pin still `queued` or
    /// `pinning`): publishing again later verifies it without uploading anything.
    Pending(String),
    /// The remote will not hold it (pin `failed`, transaction dropped): upload again.
    Failed(String),
}

/// Where a `put_*` call may save and find its progress, so a crash in the middle of one upload
/// (a signed Arweave transaction, a pinning request id, chunks already sent) resumes it
/// instead of paying or uploading twice.
pub trait Checkpoint: Sync {
    /// What the last call saved for this item, if anything.
    fn load(&self) -> Option<serde_json::Value>;
    /// Saves durably *before* returning: callers save before the network call that depends
    /// on it.
    fn save(&self, state: &serde_json::Value) -> Result<(), RemoteError>;
}

/// A [`Checkpoint`] that keeps nothing (one-off uploads, tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCheckpoint;

impl Checkpoint for NoCheckpoint {
    fn load(&self) -> Option<serde_json::Value> {
        None
    }

    fn save(&self, _: &serde_json::Value) -> Result<(), RemoteError> {
        Ok(())
    }
}

/// What every `put_*` and `verify` call gets: cancellation, byte progress and a checkpoint.
pub struct Ctx<'a> {
    pub cancel: &'a CancelToken,
    /// Called with the number of request-body bytes just sent.
    pub on_bytes: &'a (dyn Fn(u64) + Sync),
    pub checkpoint: &'a dyn Checkpoint,
}

impl<'a> Ctx<'a> {
    /// A context with no progress and no checkpoint.
    pub fn simple(cancel: &'a CancelToken) -> Ctx<'a> {
        Ctx { cancel, on_bytes: &|_| {}, checkpoint: &NoCheckpoint }
    }
}

/// A remote (or local) home for published content.
///
/// Implementations are blocking (see the module docs) and `Sync`: [`publish::Publisher`]
/// calls one backend from several worker threads at once.
pub trait Pinner: Send + Sync {
    fn kind(&self) -> BackendKind;

    /// The endpoint as recorded in the project (scheme, host, port, path; never a secret).
    fn endpoint(&self) -> String;

    fn folder_strategy(&self) -> FolderStrategy;

    /// Uploads (or pins) one file and returns its checked receipt.
    fn put_file(&self, file: &FileUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError>;

    /// Publishes a folder per [`Self::folder_strategy`] and returns its checked receipt.
    fn put_dir(&self, dir: &DirUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError>;

    /// Uploads a CAR whose root is `root` (computed and verified locally).
    fn put_car(&self, car: &Path, root: &Cid, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let _ = (car, root, ctx);
        Err(RemoteError::Unsupported { backend: self.kind(), what: "CAR uploads".into() })
    }

    /// Checks that the remote still holds what `receipt` says, as far as this backend can
    /// tell (pinned, confirmed, bytes identical). `expected` is the local CID.
    fn verify(&self, expected: &Cid, receipt: &Receipt, ctx: &Ctx<'_>) -> Result<Verification, RemoteError>;
}

/// Everything that can go wrong talking to a backend. Messages name the backend and say what
/// the user can do; none contains a credential.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "{} reported CID {reported}, but the content's CID computed locally is {expected}; the receipt was not trusted (check that the backend imports with the same layout)",
        backend.display_name()
    )]
    CidMismatch { backend: BackendKind, expected: String, reported: String },

    #[error("{} refused the credentials (HTTP {status}): {hint}", backend.display_name())]
    Unauthorized { backend: BackendKind, status: u16, hint: String },

    #[error(
        "{} is rate limiting us (HTTP 429){}",
        backend.display_name(),
        retry_after.map(|d| format!("; it asked to wait {} s", d.as_secs())).unwrap_or_default()
    )]
    RateLimited { backend: BackendKind, retry_after: Option<Duration> },

    #[error("{} failed (HTTP {status}) on {what}: {message}", backend.display_name())]
    Server { backend: BackendKind, status: u16, what: String, message: String },

    #[error("{} refused {what} (HTTP {status}): {message}", backend.display_name())]
    Rejected { backend: BackendKind, status: u16, what: String, message: String },

    #[error("cannot reach {} at {endpoint}: {message}", backend.display_name())]
    Transport { backend: BackendKind, endpoint: String, message: String },

    #[error("{} sent an answer we do not understand for {what}: {message}", backend.display_name())]
    Protocol { backend: BackendKind, what: String, message: String },

    #[error("verification failed on {}: {message}", backend.display_name())]
    Verification { backend: BackendKind, message: String },

    #[error("the pinning service could not pin {cid}: {reason}")]
    PinFailed { cid: String, reason: String },

    #[error("{what} did not finish within {} s; publish again later to resume", waited.as_secs())]
    Timeout { what: String, waited: Duration },

    #[error(
        "the Arweave wallet {address} holds {balance} winston but this upload costs {needed} winston; fund it and publish again"
    )]
    InsufficientFunds { address: String, needed: u128, balance: u128 },

    #[error("Arweave wallet: {0}")]
    Wallet(String),

    #[error("{} does not support {what}", backend.display_name())]
    Unsupported { backend: BackendKind, what: String },

    #[error(transparent)]
    Credential(#[from] CredentialError),

    #[error("`{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Storage(#[from] crate::StorageError),

    #[error("saving upload progress: {0}")]
    Checkpoint(String),

    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl RemoteError {
    /// Whether trying the same request again may succeed (network trouble, 429, 5xx).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Server { .. } | Self::Transport { .. })
    }

    /// How long the remote asked us to wait before trying again (429 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A short stable code for the kind of error, for front ends that branch on it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CidMismatch { .. } => "cid_mismatch",
            Self::Unauthorized { .. } => "unauthorized",
            Self::RateLimited { .. } => "rate_limited",
            Self::Server { .. } => "server",
            Self::Rejected { .. } => "rejected",
            Self::Transport { .. } => "transport",
            Self::Protocol { .. } => "protocol",
            Self::Verification { .. } => "verification",
            Self::PinFailed { .. } => "pin_failed",
            Self::Timeout { .. } => "timeout",
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::Wallet(_) => "wallet",
            Self::Unsupported { .. } => "unsupported",
            Self::Credential(_) => "credential",
            Self::Io { .. } => "io",
            Self::Storage(_) => "storage",
            Self::Checkpoint(_) => "checkpoint",
            Self::Cancelled(_) => "cancelled",
        }
    }

    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RemoteError + '_ {
        move |source| RemoteError::Io { path: path.to_path_buf(), source }
    }
}

/// The MIME type we tag a file with, from its extension (the formats an NFT project ships).
pub fn content_type_for(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("html" | "htm") => "text/html",
        Some("css") => "text/css",
        Some("js" | "mjs") => "text/javascript",
        Some("txt" | "md") => "text/plain",
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        Some("mp3") => "audio/mpeg",
        Some("wav") => "audio/wav",
        Some("glb") => "model/gltf-binary",
        Some("gltf") => "model/gltf+json",
        Some("car") => "application/vnd.ipld.car",
        _ => "application/octet-stream",
    }
}

/// Sleeps for `total`, waking every 50 ms to honour `cancel`.
pub(crate) fn sleep_cancellable(total: Duration, cancel: &CancelToken) -> Result<(), Cancelled> {
    let deadline = std::time::Instant::now() + total;
    loop {
        cancel.check()?;
        let now = std::time::Instant::now();
        if now >= deadline {
            return Ok(());
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip() {
        for b in BackendKind::ALL {
            assert_eq!(b.as_str().parse::<BackendKind>().unwrap(), b);
            assert_eq!(serde_json::to_string(&b).unwrap(), format!("\"{b}\""));
        }
        assert!("s3".parse::<BackendKind>().unwrap_err().to_string().contains("arweave"));
    }

    #[test]
    fn receipts_are_checked_against_the_local_cid() {
        let cid = crate::cid_of_bytes(b"hello", Layout::V1);
        let ok = Receipt::ipfs_checked(BackendKind::Kubo, &cid, &cid.to_string(), None, serde_json::Value::Null);
        assert_eq!(ok.unwrap().uri, format!("ipfs://{cid}"));
        let other = crate::cid_of_bytes(b"hellO", Layout::V1);
        let err = Receipt::ipfs_checked(BackendKind::Kubo, &cid, &other.to_string(), None, serde_json::Value::Null)
            .unwrap_err();
        assert_eq!(err.kind(), "cid_mismatch");
        assert!(err.to_string().contains(&other.to_string()), "{err}");
        // The v0 form of the same DAG is a different CID (a layout mismatch): refused.
        let v0 = crate::cid_of_bytes(b"hello", Layout::V0);
        let v1_of_v0 = Cid::new_v1(crate::block::DAG_PB, *v0.hash());
        assert!(
            Receipt::ipfs_checked(BackendKind::Kubo, &v0, &v1_of_v0.to_string(), None, Default::default()).is_err()
        );
        assert!(ensure_same_cid(BackendKind::Psa, &cid, "not a cid").is_err());
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type_for(Path::new("a/0.PNG")), "image/png");
        assert_eq!(content_type_for(Path::new("0.json")), "application/json");
        assert_eq!(content_type_for(Path::new("noext")), "application/octet-stream");
    }
}
