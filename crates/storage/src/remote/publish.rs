//! Resumable, verified publishing of a file or folder to one backend, recorded in the
//! project database (table `uploads`).
//!
//! Every item (a file, a folder's link step, a whole folder) is a row keyed by
//! `(backend, endpoint, kind, cid)`, written **before** anything is sent (`planned`), marked
//! `uploading` (with `attempts + 1`) before each try, `uploaded` with the checked receipt as
//! soon as the backend accepted it, and `verified` once [`Pinner::verify`] confirmed it —
//! or `failed` with the error. In-flight state a backend needs to resume one upload (a
//! signed Arweave transaction, chunks sent, a pin request id) is saved in the row's
//! `checkpoint` before the network call that depends on it.
//!
//! Publishing again after an interruption (a crash, a kill, Ctrl-C, a failed item) plans the
//! same rows, skips every `verified` one without a request, only verifies `uploaded` ones,
//! and uploads the rest. Uploads run on a few worker threads (`jobs`); the thread that owns
//! the database records every step. Retries with backoff and jitter (and `Retry-After`)
//! happen inside each backend, per request.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use chrysalis_core::{CancelToken, Cancelled, Progress};
use cid::Cid;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    BackendKind, Checkpoint, Ctx, DirUpload, FileUpload, FolderStrategy, Pinner, Receipt, RemoteError, Verification,
    content_type_for,
};
use crate::{Importer, Layout, StorageError};

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadStatus {
    /// Recorded, nothing sent yet.
    Planned,
    /// A try is (or was, when a run died) in progress.
    Uploading,
    /// The backend accepted it and its receipt checked out; not verified yet.
    Uploaded,
    /// Verified: never uploaded again.
    Verified,
    /// The last try failed (`last_error` says why); the next run tries again.
    Failed,
}

impl UploadStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            UploadStatus::Planned => "planned",
            UploadStatus::Uploading => "uploading",
            UploadStatus::Uploaded => "uploaded",
            UploadStatus::Verified => "verified",
            UploadStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> UploadStatus {
        match s {
            "uploading" => UploadStatus::Uploading,
            "uploaded" => UploadStatus::Uploaded,
            "verified" => UploadStatus::Verified,
            "failed" => UploadStatus::Failed,
            _ => UploadStatus::Planned,
        }
    }
}

/// What a publish run did with one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Already verified by an earlier run: no request at all.
    AlreadyVerified,
    /// Uploaded (and verified, or pending) in this run.
    Uploaded,
    /// Uploaded earlier; only verified in this run.
    VerifiedOnly,
    /// Not attempted (an item it needs failed, or the run stopped first).
    Skipped,
    /// Failed in this run.
    Failed,
}

/// One item of a publish, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishItem {
    /// `file` or `dir`.
    pub kind: String,
    /// Name inside the publish (`""` for the folder itself).
    pub name: String,
    pub path: String,
    pub cid: String,
    pub layout: Layout,
    pub size: u64,
    pub status: UploadStatus,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome of [`Publisher::publish`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishReport {
    pub backend: BackendKind,
    pub endpoint: String,
    pub layout: Layout,
    /// The item that stands for the whole publish (the folder, or the single file).
    pub root: PublishItem,
    /// Every item, files first, the root last.
    pub items: Vec<PublishItem>,
    pub uploaded: usize,
    pub already_verified: usize,
    pub verified: usize,
    pub pending: usize,
    pub failed: usize,
    /// Request-body bytes sent in this run.
    pub bytes_sent: u64,
}

impl PublishReport {
    /// Whether everything is verified.
    pub fn complete(&self) -> bool {
        self.items.iter().all(|i| i.status == UploadStatus::Verified)
    }
}

/// How to publish.
#[derive(Debug, Clone, Copy)]
pub struct PublishOptions {
    pub layout: Layout,
    /// Uploads at once (1–16).
    pub jobs: usize,
    /// Whether hidden files (names starting with `.`) inside a folder are published
    /// (as `ipfs add --hidden`); off by default, as in Kubo.
    pub include_hidden: bool,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions { layout: Layout::default(), jobs: 4, include_hidden: false }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("`{}` does not exist", path.display())]
    NotFound { path: PathBuf },

    #[error("`{}` cannot be published: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },

    #[error(transparent)]
    Storage(#[from] StorageError),

    #[error(transparent)]
    Remote(#[from] RemoteError),

    #[error("project database: {0}")]
    Database(#[from] rusqlite::Error),

    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl PublishError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::Unsupported { .. } => "unsupported",
            Self::Storage(e) => e.kind(),
            Self::Remote(e) => e.kind(),
            Self::Database(_) => "database",
            Self::Cancelled(_) => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
        }
    }
}

/// An item with everything computed locally and its row.
#[derive(Debug, Clone)]
struct Item {
    row: i64,
    kind: Kind,
    name: String,
    path: PathBuf,
    recorded_path: String,
    cid: Cid,
    size: u64,
    sha256: Option<[u8; 32]>,
    status: UploadStatus,
    receipt: Option<Receipt>,
    checkpoint: Option<serde_json::Value>,
    attempts: u32,
    error: Option<String>,
    action: Action,
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Publishes to one backend, recording everything in `conn` (the project database).
pub struct Publisher<'a> {
    conn: &'a Connection,
    pinner: &'a dyn Pinner,
    options: PublishOptions,
    /// Recorded paths are relative to this folder when inside it.
    project_root: Option<PathBuf>,
}

/// Messages from workers to the thread that owns the database.
enum Msg {
    Start { idx: usize, ack: SyncSender<Result<(), String>> },
    Save { idx: usize, state: serde_json::Value, ack: SyncSender<Result<(), String>> },
    Uploaded { idx: usize, receipt: Receipt, ack: SyncSender<Result<(), String>> },
    Done { idx: usize, outcome: Result<Verification, RemoteError>, uploaded_now: bool },
    Bytes(u64),
}

struct WorkerCheckpoint<'a> {
    idx: usize,
    state: Mutex<Option<serde_json::Value>>,
    tx: &'a Sender<Msg>,
}

impl Checkpoint for WorkerCheckpoint<'_> {
    fn load(&self) -> Option<serde_json::Value> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn save(&self, state: &serde_json::Value) -> Result<(), RemoteError> {
        let (ack, done) = mpsc::sync_channel(1);
        self.tx
            .send(Msg::Save { idx: self.idx, state: state.clone(), ack })
            .map_err(|_| RemoteError::Checkpoint("the recorder stopped".into()))?;
        done.recv()
            .map_err(|_| RemoteError::Checkpoint("the recorder stopped".into()))?
            .map_err(RemoteError::Checkpoint)?;
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = Some(state.clone());
        Ok(())
    }
}

fn ask(tx: &Sender<Msg>, make: impl FnOnce(SyncSender<Result<(), String>>) -> Msg) -> Result<(), RemoteError> {
    let (ack, done) = mpsc::sync_channel(1);
    tx.send(make(ack)).map_err(|_| RemoteError::Checkpoint("the recorder stopped".into()))?;
    done.recv().map_err(|_| RemoteError::Checkpoint("the recorder stopped".into()))?.map_err(RemoteError::Checkpoint)
}

/// Errors after which no further item is started (they would fail the same way).
fn is_fatal(e: &RemoteError) -> bool {
    matches!(
        e,
        RemoteError::Unauthorized { .. }
            | RemoteError::InsufficientFunds { .. }
            | RemoteError::Wallet(_)
            | RemoteError::Credential(_)
            | RemoteError::Unsupported { .. }
            | RemoteError::RateLimited { .. }
            | RemoteError::Cancelled(_)
            | RemoteError::Checkpoint(_)
    )
}

impl<'a> Publisher<'a> {
    pub fn new(conn: &'a Connection, pinner: &'a dyn Pinner, options: PublishOptions) -> Publisher<'a> {
        Publisher { conn, pinner, options, project_root: None }
    }

    /// Records paths relative to `root` (the project folder) when they are inside it.
    pub fn project_root(mut self, root: &Path) -> Publisher<'a> {
        self.project_root = Some(root.to_path_buf());
        self
    }

    fn record_path(&self, path: &Path) -> String {
        if let Some(root) = &self.project_root
            && let Ok(rel) = path.strip_prefix(root)
        {
            return rel.to_string_lossy().into_owned();
        }
        path.to_string_lossy().into_owned()
    }

    /// Publishes `path` (a file or a folder). Progress is in bytes; the report says what
    /// happened to every item. Items that failed are in the report (the run does not stop at
    /// the first one); errors are for what stops the whole run (bad input, the database,
    /// cancellation).
    pub fn publish(
        &self,
        path: &Path,
        on_progress: &mut dyn FnMut(&Progress),
        cancel: &CancelToken,
    ) -> Result<PublishReport, PublishError> {
        let path = path.canonicalize().map_err(|_| PublishError::NotFound { path: path.to_path_buf() })?;
        let mut items = self.plan(&path, on_progress, cancel)?;
        self.record_plan(&mut items)?;
        self.journal("storage.publish.started", &items)?;
        let sent = self.run(&mut items, on_progress, cancel);
        let report = self.report(&items, sent.as_ref().copied().unwrap_or(0));
        self.journal("storage.publish.finished", &items)?;
        sent?;
        Ok(report)
    }

    // ---------------------------------------------------------------- planning

    fn plan(
        &self,
        path: &Path,
        on_progress: &mut dyn FnMut(&Progress),
        cancel: &CancelToken,
    ) -> Result<Vec<Item>, PublishError> {
        let layout = self.options.layout;
        let name_of = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let meta = std::fs::metadata(path).map_err(|_| PublishError::NotFound { path: path.to_path_buf() })?;
        let mut items = Vec::new();
        if meta.is_file() {
            on_progress(&Progress::new(0, meta.len(), format!("hashing {}", name_of(path))));
            let (cid, sha, size) = hash_file(path, layout, cancel)?;
            items.push(self.item(Kind::File, name_of(path), path, cid, size, Some(sha)));
            return Ok(items);
        }
        if !meta.is_dir() {
            return Err(PublishError::Unsupported {
                path: path.to_path_buf(),
                reason: "it is neither a file nor a folder".into(),
            });
        }
        let strategy = self.pinner.folder_strategy();
        if strategy == FolderStrategy::FilesThenLink {
            let files = walk_files(path, self.options.include_hidden, self.pinner.kind())?;
            let total: u64 = files.iter().map(|(_, _, len)| *len).sum();
            let mut done = 0;
            for (rel, file, len) in files {
                cancel.check()?;
                on_progress(&Progress::new(done, total, format!("hashing {rel}")));
                let (cid, sha, size) = hash_file(&file, layout, cancel)?;
                items.push(self.item(Kind::File, rel, &file, cid, size, Some(sha)));
                done += len;
            }
        }
        on_progress(&Progress::new(0, 0, format!("computing the CID of {}", name_of(path))));
        let added = Importer::new(layout).include_hidden(self.options.include_hidden).cancel(cancel).add_dir(path)?;
        items.push(self.item(Kind::Dir, String::new(), path, added.cid, added.size, None));
        Ok(items)
    }

    fn item(&self, kind: Kind, name: String, path: &Path, cid: Cid, size: u64, sha256: Option<[u8; 32]>) -> Item {
        Item {
            row: 0,
            kind,
            name,
            path: path.to_path_buf(),
            recorded_path: self.record_path(path),
            cid,
            size,
            sha256,
            status: UploadStatus::Planned,
            receipt: None,
            checkpoint: None,
            attempts: 0,
            error: None,
            action: Action::Skipped,
        }
    }

    /// Writes every item as `planned` (keeping the state of rows that exist) and loads their
    /// state, in one transaction.
    fn record_plan(&self, items: &mut [Item]) -> Result<(), PublishError> {
        let backend = self.pinner.kind().as_str();
        let endpoint = self.pinner.endpoint();
        let layout = self.options.layout.as_str();
        let t = now();
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut upsert = tx.prepare(
                "INSERT INTO uploads (backend, endpoint, kind, cid, layout, local_path, size, sha256, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'planned', ?9, ?9)
                 ON CONFLICT (backend, endpoint, kind, cid) DO UPDATE SET local_path = excluded.local_path, updated_at = excluded.updated_at",
            )?;
            let mut load = tx.prepare(
                "SELECT id, status, receipt, checkpoint, attempts FROM uploads
                 WHERE backend = ?1 AND endpoint = ?2 AND kind = ?3 AND cid = ?4",
            )?;
            for it in items.iter_mut() {
                let cid = it.cid.to_string();
                upsert.execute(params![
                    backend,
                    endpoint,
                    it.kind.as_str(),
                    cid,
                    layout,
                    it.recorded_path,
                    it.size as i64,
                    it.sha256.map(|s| super::arweave::hex_string(&s)),
                    t
                ])?;
                let (row, status, receipt, checkpoint, attempts) =
                    load.query_row(params![backend, endpoint, it.kind.as_str(), cid], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, u32>(4)?,
                        ))
                    })?;
                it.row = row;
                it.status = UploadStatus::parse(&status);
                it.receipt = receipt.and_then(|r| serde_json::from_str(&r).ok());
                it.checkpoint = checkpoint.and_then(|c| serde_json::from_str(&c).ok());
                it.attempts = attempts;
                // A receipt is what `uploaded`/`verified` stand on: without one, upload again.
                if matches!(it.status, UploadStatus::Uploaded | UploadStatus::Verified) && it.receipt.is_none() {
                    it.status = UploadStatus::Planned;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn journal(&self, kind: &str, items: &[Item]) -> Result<(), PublishError> {
        let count = |s: UploadStatus| items.iter().filter(|i| i.status == s).count();
        let root = items.last();
        let detail = serde_json::json!({
            "backend": self.pinner.kind(),
            "endpoint": self.pinner.endpoint(),
            "layout": self.options.layout,
            "root": root.map(|r| r.cid.to_string()),
            "path": root.map(|r| r.recorded_path.clone()),
            "items": items.len(),
            "verified": count(UploadStatus::Verified),
            "uploaded": count(UploadStatus::Uploaded),
            "failed": count(UploadStatus::Failed),
        });
        self.conn.execute(
            "INSERT INTO journal (at, kind, detail) VALUES (?1, ?2, ?3)",
            params![now(), kind, detail.to_string()],
        )?;
        Ok(())
    }

    // ---------------------------------------------------------------- running

    /// Runs every item that is not verified; returns the bytes sent.
    fn run(
        &self,
        items: &mut [Item],
        on_progress: &mut dyn FnMut(&Progress),
        cancel: &CancelToken,
    ) -> Result<u64, PublishError> {
        for it in items.iter_mut() {
            if it.status == UploadStatus::Verified {
                it.action = Action::AlreadyVerified;
            }
        }
        // Files with the same bytes share one row: upload the first, copy its outcome to the
        // others (never two uploads, never two payments, for one CID).
        let mut first_of: HashMap<Cid, usize> = HashMap::new();
        let mut dups: Vec<(usize, usize)> = Vec::new();
        let mut files: Vec<usize> = Vec::new();
        for i in (0..items.len()).filter(|&i| items[i].kind == Kind::File) {
            match first_of.get(&items[i].cid) {
                Some(&first) => dups.push((i, first)),
                None => {
                    first_of.insert(items[i].cid, i);
                    files.push(i);
                }
            }
        }
        let dirs: Vec<usize> = (0..items.len()).filter(|&i| items[i].kind == Kind::Dir).collect();
        let total: u64 = files
            .iter()
            .chain(&dirs)
            .map(|&i| &items[i])
            .filter(|i| !matches!(i.status, UploadStatus::Verified | UploadStatus::Uploaded))
            .map(|i| i.size)
            .sum();
        let sent = AtomicU64::new(0);
        let stop = AtomicBool::new(false);

        let phase = |this: &Self, items: &mut [Item], batch: &[usize], on_progress: &mut dyn FnMut(&Progress)| {
            this.run_batch(items, batch, total, &sent, &stop, on_progress, cancel)
        };
        phase(self, items, &files, on_progress)?;
        for &(dup, first) in &dups {
            let src = items[first].clone();
            let it = &mut items[dup];
            (it.status, it.receipt, it.error, it.attempts) = (src.status, src.receipt, src.error, src.attempts);
            if it.action != Action::AlreadyVerified {
                it.action = src.action;
            }
        }
        // The folder's own step needs every file accepted (its receipt is the link target).
        let files_ready =
            files.iter().all(|&i| matches!(items[i].status, UploadStatus::Uploaded | UploadStatus::Verified));
        if files_ready && !stop.load(Ordering::SeqCst) {
            phase(self, items, &dirs, on_progress)?;
        }
        cancel.check()?;
        let bytes = sent.load(Ordering::SeqCst);
        on_progress(&Progress::new(bytes.min(total), total, "done"));
        Ok(bytes)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_batch(
        &self,
        items: &mut [Item],
        batch: &[usize],
        total: u64,
        sent: &AtomicU64,
        stop: &AtomicBool,
        on_progress: &mut dyn FnMut(&Progress),
        cancel: &CancelToken,
    ) -> Result<(), PublishError> {
        let todo: Vec<usize> = batch.iter().copied().filter(|&i| items[i].status != UploadStatus::Verified).collect();
        if todo.is_empty() {
            return Ok(());
        }
        // Snapshot what the workers need: they never touch the database.
        let children: Vec<(String, Receipt)> = items
            .iter()
            .filter(|i| i.kind == Kind::File)
            .filter_map(|i| i.receipt.clone().map(|r| (i.name.clone(), r)))
            .collect();
        let jobs = self.options.jobs.clamp(1, 16).min(todo.len());
        let queue = Mutex::new(todo.clone().into_iter().collect::<std::collections::VecDeque<_>>());
        let snapshot: HashMap<usize, Item> = todo.iter().map(|&i| (i, items[i].clone())).collect();
        let (tx, rx): (Sender<Msg>, Receiver<Msg>) = mpsc::channel();
        let layout = self.options.layout;
        let pinner = self.pinner;
        let mut db_error: Option<rusqlite::Error> = None;

        std::thread::scope(|scope| {
            for _ in 0..jobs {
                let tx = tx.clone();
                let (queue, snapshot, children) = (&queue, &snapshot, &children);
                scope.spawn(move || {
                    loop {
                        if stop.load(Ordering::SeqCst) || cancel.is_cancelled() {
                            break;
                        }
                        let Some(idx) = queue.lock().unwrap_or_else(PoisonError::into_inner).pop_front() else { break };
                        let item = &snapshot[&idx];
                        let (uploaded_now, outcome) = work(pinner, idx, item, layout, children, &tx, cancel);
                        if let Err(e) = &outcome
                            && is_fatal(e)
                        {
                            stop.store(true, Ordering::SeqCst);
                        }
                        if tx.send(Msg::Done { idx, outcome, uploaded_now }).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            // This thread owns the database: record every step the workers report.
            for msg in rx {
                match msg {
                    Msg::Bytes(n) => {
                        let s = sent.fetch_add(n, Ordering::SeqCst) + n;
                        on_progress(&Progress::new(s.min(total), total, "uploading"));
                    }
                    Msg::Start { idx, ack } => {
                        let r = self.conn.execute(
                            "UPDATE uploads SET status = 'uploading', attempts = attempts + 1, last_error = NULL, updated_at = ?2 WHERE id = ?1",
                            params![items[idx].row, now()],
                        );
                        items[idx].attempts += 1;
                        items[idx].status = UploadStatus::Uploading;
                        reply(ack, r, &mut db_error, stop);
                    }
                    Msg::Save { idx, state, ack } => {
                        let r = self.conn.execute(
                            "UPDATE uploads SET checkpoint = ?2, updated_at = ?3 WHERE id = ?1",
                            params![items[idx].row, state.to_string(), now()],
                        );
                        items[idx].checkpoint = Some(state);
                        reply(ack, r, &mut db_error, stop);
                    }
                    Msg::Uploaded { idx, receipt, ack } => {
                        let r = self.conn.execute(
                            "UPDATE uploads SET status = 'uploaded', receipt = ?2, remote_id = ?3, remote_uri = ?4,
                                 uploaded_at = ?5, updated_at = ?5 WHERE id = ?1",
                            params![
                                items[idx].row,
                                serde_json::to_string(&receipt).expect("receipts serialize"),
                                receipt.remote_id,
                                receipt.uri,
                                now()
                            ],
                        );
                        items[idx].status = UploadStatus::Uploaded;
                        items[idx].receipt = Some(receipt);
                        reply(ack, r, &mut db_error, stop);
                    }
                    Msg::Done { idx, outcome, uploaded_now } => {
                        let it = &mut items[idx];
                        let (status, error) = match &outcome {
                            Ok(Verification::Verified) => (UploadStatus::Verified, None),
                            Ok(Verification::Pending(why)) => (UploadStatus::Uploaded, Some(why.clone())),
                            Ok(Verification::Failed(why)) => (UploadStatus::Failed, Some(why.clone())),
                            // Cancelled mid-way: leave the row as it is (uploading or
                            // uploaded); the next run resumes it.
                            Err(RemoteError::Cancelled(_)) => (it.status, None),
                            Err(e) => (UploadStatus::Failed, Some(e.to_string())),
                        };
                        it.status = status;
                        it.error = error.clone();
                        it.action = match (&outcome, uploaded_now) {
                            (Err(RemoteError::Cancelled(_)), _) => Action::Skipped,
                            (Err(_) | Ok(Verification::Failed(_)), _) => Action::Failed,
                            (Ok(_), true) => Action::Uploaded,
                            (Ok(_), false) => Action::VerifiedOnly,
                        };
                        let r = self.conn.execute(
                            "UPDATE uploads SET status = ?2, last_error = ?3, updated_at = ?4,
                                 verified_at = CASE WHEN ?2 = 'verified' THEN ?4 ELSE verified_at END
                             WHERE id = ?1",
                            params![it.row, status.as_str(), error, now()],
                        );
                        if let Err(e) = r {
                            db_error.get_or_insert(e);
                            stop.store(true, Ordering::SeqCst);
                        }
                        match &outcome {
                            Ok(_) => {
                                tracing::info!(item = %it.name, cid = %it.cid, status = status.as_str(), "published")
                            }
                            Err(e) => tracing::warn!(item = %it.name, cid = %it.cid, "publish failed: {e}"),
                        }
                    }
                }
            }
        });
        if let Some(e) = db_error {
            return Err(e.into());
        }
        Ok(())
    }

    fn report(&self, items: &[Item], bytes_sent: u64) -> PublishReport {
        let out: Vec<PublishItem> = items
            .iter()
            .map(|i| PublishItem {
                kind: i.kind.as_str().to_string(),
                name: i.name.clone(),
                path: i.recorded_path.clone(),
                cid: i.cid.to_string(),
                layout: self.options.layout,
                size: i.size,
                status: i.status,
                action: i.action,
                uri: i.receipt.as_ref().map(|r| r.uri.clone()),
                remote_id: i.receipt.as_ref().and_then(|r| r.remote_id.clone()),
                attempts: i.attempts,
                error: i.error.clone(),
            })
            .collect();
        let count = |f: &dyn Fn(&PublishItem) -> bool| out.iter().filter(|i| f(i)).count();
        PublishReport {
            backend: self.pinner.kind(),
            endpoint: self.pinner.endpoint(),
            layout: self.options.layout,
            root: out.last().cloned().expect("a publish has at least one item"),
            uploaded: count(&|i| i.action == Action::Uploaded),
            already_verified: count(&|i| i.action == Action::AlreadyVerified),
            verified: count(&|i| i.status == UploadStatus::Verified),
            pending: count(&|i| i.status == UploadStatus::Uploaded),
            failed: count(&|i| i.status == UploadStatus::Failed),
            items: out,
            bytes_sent,
        }
    }
}

fn reply(
    ack: SyncSender<Result<(), String>>,
    r: rusqlite::Result<usize>,
    db_error: &mut Option<rusqlite::Error>,
    stop: &AtomicBool,
) {
    match r {
        Ok(_) => {
            let _ = ack.send(Ok(()));
        }
        Err(e) => {
            let _ = ack.send(Err(e.to_string()));
            db_error.get_or_insert(e);
            stop.store(true, Ordering::SeqCst);
        }
    }
}

/// One item, on a worker thread: upload unless already uploaded, then verify. Returns
/// whether it was uploaded in this call, and the verification.
fn work(
    pinner: &dyn Pinner,
    idx: usize,
    item: &Item,
    layout: Layout,
    children: &[(String, Receipt)],
    tx: &Sender<Msg>,
    cancel: &CancelToken,
) -> (bool, Result<Verification, RemoteError>) {
    let on_bytes = |n: u64| {
        let _ = tx.send(Msg::Bytes(n));
    };
    let checkpoint = WorkerCheckpoint { idx, state: Mutex::new(item.checkpoint.clone()), tx };
    let ctx = Ctx { cancel, on_bytes: &on_bytes, checkpoint: &checkpoint };

    let mut uploaded_now = false;
    let receipt = match (&item.status, &item.receipt) {
        (UploadStatus::Uploaded, Some(r)) => r.clone(),
        _ => {
            if let Err(e) = ask(tx, |ack| Msg::Start { idx, ack }) {
                return (false, Err(e));
            }
            let result = match item.kind {
                Kind::File => {
                    let file = FileUpload {
                        path: item.path.clone(),
                        name: item.name.clone(),
                        cid: item.cid,
                        layout,
                        size: item.size,
                        sha256: item.sha256.unwrap_or_default(),
                        content_type: content_type_for(&item.path).to_string(),
                    };
                    pinner.put_file(&file, &ctx)
                }
                Kind::Dir => {
                    let dir = DirUpload {
                        path: item.path.clone(),
                        name: item.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                        cid: item.cid,
                        layout,
                        size: item.size,
                        children: if pinner.folder_strategy() == FolderStrategy::FilesThenLink {
                            children.to_vec()
                        } else {
                            Vec::new()
                        },
                    };
                    pinner.put_dir(&dir, &ctx)
                }
            };
            let receipt = match result {
                Ok(r) => r,
                Err(e) => return (false, Err(e)),
            };
            // Belt and braces: whatever the backend did, the receipt must name our CID.
            if !receipt.cid.is_empty()
                && let Err(e) = super::ensure_same_cid(pinner.kind(), &item.cid, &receipt.cid)
            {
                return (false, Err(e));
            }
            if let Err(e) = ask(tx, |ack| Msg::Uploaded { idx, receipt: receipt.clone(), ack }) {
                return (true, Err(e));
            }
            uploaded_now = true;
            receipt
        }
    };
    (uploaded_now, pinner.verify(&item.cid, &receipt, &ctx))
}

/// CID (under `layout`), SHA-256 and size of a file, in one read.
fn hash_file(path: &Path, layout: Layout, cancel: &CancelToken) -> Result<(Cid, [u8; 32], u64), PublishError> {
    struct Tee<R> {
        inner: R,
        sha: Sha256,
        n: u64,
    }
    impl<R: Read> Read for Tee<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.sha.update(&buf[..n]);
            self.n += n as u64;
            Ok(n)
        }
    }
    let file = File::open(path).map_err(|e| StorageError::Io { path: path.to_path_buf(), source: e })?;
    let mut tee = Tee { inner: io::BufReader::with_capacity(1 << 20, file), sha: Sha256::new(), n: 0 };
    let added = Importer::new(layout).cancel(cancel).add_reader(&mut tee, 0)?;
    Ok((added.cid, tee.sha.finalize().into(), tee.n))
}

/// Every file under `dir` as `(name inside it, path, size)`, sorted by name; hidden entries
/// skipped unless asked for (as the importer does).
fn walk_files(
    dir: &Path,
    include_hidden: bool,
    backend: BackendKind,
) -> Result<Vec<(String, PathBuf, u64)>, PublishError> {
    let mut out = Vec::new();
    fn go(
        root: &Path,
        dir: &Path,
        include_hidden: bool,
        backend: BackendKind,
        out: &mut Vec<(String, PathBuf, u64)>,
    ) -> Result<(), PublishError> {
        let io_err = |p: &Path| {
            let p = p.to_path_buf();
            move |e| PublishError::Storage(StorageError::Io { path: p, source: e })
        };
        for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !include_hidden && name.starts_with('.') {
                continue;
            }
            let ft = entry.file_type().map_err(io_err(&path))?;
            if ft.is_symlink() {
                if backend == BackendKind::Arweave {
                    return Err(PublishError::Unsupported {
                        path,
                        reason:
                            "it is a symbolic link, which an Arweave manifest cannot hold; replace it with the file"
                                .into(),
                    });
                }
                // Kubo: the symlink travels inside the folder's directory blocks.
                continue;
            }
            if ft.is_dir() {
                go(root, &path, include_hidden, backend, out)?;
            } else if ft.is_file() {
                let rel = path.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
                let len = entry.metadata().map_err(io_err(&path))?.len();
                out.push((rel, path, len));
            }
        }
        Ok(())
    }
    go(dir, dir, include_hidden, backend, &mut out)?;
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(out)
}

/// One recorded upload, as [`uploads_of`] lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub backend: BackendKind,
    pub endpoint: String,
    pub kind: String,
    pub status: UploadStatus,
    pub uri: Option<String>,
    pub attempts: u32,
}

/// Every recorded upload of `cid` (any backend), newest first.
pub fn uploads_of(conn: &Connection, cid: &str) -> rusqlite::Result<Vec<UploadRecord>> {
    let mut stmt = conn.prepare(
        "SELECT backend, endpoint, kind, status, remote_uri, attempts FROM uploads WHERE cid = ?1
         ORDER BY updated_at DESC, id DESC",
    )?;
    let rows = stmt.query_map([cid], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, u32>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (backend, endpoint, kind, status, uri, attempts) = row?;
        if let Ok(backend) = backend.parse() {
            out.push(UploadRecord { backend, endpoint, kind, status: UploadStatus::parse(&status), uri, attempts });
        }
    }
    Ok(out)
}

/// The status recorded for one item, if any.
pub fn status_of(
    conn: &Connection,
    backend: BackendKind,
    endpoint: &str,
    kind: &str,
    cid: &str,
) -> rusqlite::Result<Option<UploadStatus>> {
    conn.query_row(
        "SELECT status FROM uploads WHERE backend = ?1 AND endpoint = ?2 AND kind = ?3 AND cid = ?4",
        params![backend.as_str(), endpoint, kind, cid],
        |r| r.get::<_, String>(0),
    )
    .optional()
    .map(|s| s.map(|s| UploadStatus::parse(&s)))
}
