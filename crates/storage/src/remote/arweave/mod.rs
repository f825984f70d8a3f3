//! Arweave: permanent storage paid once, addressed by transaction id (`ar://TXID`).
//!
//! We sign our own format-2 transactions ([`tx`]: deep hash, data root, RSA-PSS) rather than
//! wrap `arweave-rs` 0.2: that crate prints debug output to stderr, pins old `rsa`/`reqwest`
//! majors (a second TLS and async stack in our build) and hides the pieces we need for
//! resuming (the signed header before it is posted, chunk-by-chunk progress). The formats
//! are small and documented, and the tests check our transactions against a real arlocal.
//!
//! One upload:
//! 1. price (`GET /price/{bytes}`), anchor (`GET /tx_anchor`), balance check;
//! 2. the signed header is checkpointed **before** it is posted, so a crash can never make
//!    us sign (and pay for) a second transaction for the same bytes: a resumed upload re-posts
//!    the same transaction, which the network accepts at most once;
//! 3. data up to 256 KiB goes inline in `POST /tx`; larger data goes header-only, then
//!    chunk by chunk (`POST /chunk`, each with its merkle proof), checkpointing each chunk;
//! 4. [`Arweave::verify`] reads the bytes back and compares SHA-256, re-verifies the stored
//!    header's signature, data root and `IPFS-CID` tag, and checks that the transaction is in
//!    a block (`GET /tx/{id}/status`).
//!
//! Folders: every file is its own transaction, then a path manifest ([`manifest`]) maps
//! names to ids, so `ar://MANIFEST/3.json` works like `ipfs://CID/3.json`.

pub mod manifest;
pub mod tx;
pub mod wallet;

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrysalis_core::CancelToken;
use cid::Cid;
use rsa::sha2::{Digest, Sha256};
use serde::{Deserialize, Serialize};

use self::manifest::Manifest;
use self::tx::{ChunkUpload, MAX_CHUNK_SIZE, MerkleTree, Tag, Transaction, read_chunk};
use self::wallet::{Wallet, b64url, from_b64url};
use super::http::Http;
use super::{
    BackendKind, Ctx, DirUpload, FileUpload, FolderStrategy, Pinner, Receipt, RemoteError, RetryPolicy, Verification,
    sleep_cancellable,
};
use crate::Layout;

/// arweave.net, the main gateway.
pub const DEFAULT_ENDPOINT: &str = "https://arweave.net";
/// Where arlocal listens by default.
pub const ARLOCAL_ENDPOINT: &str = "http://127.0.0.1:1984";
/// The `App-Name` tag on everything Chrysalis uploads.
pub const APP_NAME: &str = "Chrysalis";

/// A transaction's place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum TxStatus {
    /// The gateway does not know it.
    NotFound,
    /// Accepted, not yet in a block.
    Pending,
    /// In block `block_height`, with this many blocks on top.
    Confirmed { block_height: u64, confirmations: u64 },
}

/// What to upload: a file, or bytes in memory (manifests).
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    File(&'a Path),
    Bytes(&'a [u8]),
}

/// Saved between the steps of one upload (see the module docs).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UploadState {
    tx: Transaction,
    posted: bool,
    chunks_done: usize,
}

/// An Arweave gateway, with the wallet that pays (uploads need one; reads and
/// verification do not).
pub struct Arweave {
    http: Http,
    wallet: Option<Arc<Wallet>>,
    confirmations: u64,
    confirm_wait: Duration,
}

impl std::fmt::Debug for Arweave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arweave")
            .field("endpoint", &self.http.base)
            .field("wallet", &self.wallet.as_ref().map(|w| w.address().to_string()))
            .field("confirmations", &self.confirmations)
            .finish()
    }
}

#[derive(Debug, Deserialize)]
struct StatusBody {
    block_height: u64,
    #[serde(default)]
    number_of_confirmations: u64,
}

impl Arweave {
    pub fn new(endpoint: &str, wallet: Option<Wallet>) -> Arweave {
        Arweave {
            http: Http::new(BackendKind::Arweave, endpoint, None, "the gateway refused the request"),
            wallet: wallet.map(Arc::new),
            confirmations: 0,
            confirm_wait: Duration::ZERO,
        }
    }

    /// Counts an upload as verified once it is in a block with at least `confirmations`
    /// blocks on top, waiting up to `wait` for that (0: do not wait; a later publish
    /// verifies it).
    pub fn with_confirmations(mut self, confirmations: u64, wait: Duration) -> Arweave {
        self.confirmations = confirmations;
        self.confirm_wait = wait;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Arweave {
        self.http.retry = retry;
        self
    }

    pub fn wallet(&self) -> Option<&Wallet> {
        self.wallet.as_deref()
    }

    fn need_wallet(&self) -> Result<&Wallet, RemoteError> {
        self.wallet.as_deref().ok_or_else(|| {
            RemoteError::Wallet(format!(
                "uploading to Arweave needs a wallet: pass --wallet KEYFILE.json or set {}",
                super::credentials::ARWEAVE_WALLET_ENV
            ))
        })
    }

    fn get_text(&self, path: &str, cancel: &CancelToken) -> Result<String, RemoteError> {
        self.http.retry.run(cancel, path, |_| {
            let resp = self.http.check(path, self.http.get(path).call())?;
            self.http.text(resp)
        })
    }

    fn get_u128(&self, path: &str, cancel: &CancelToken) -> Result<u128, RemoteError> {
        let text = self.get_text(path, cancel)?;
        text.trim().trim_matches('"').parse().map_err(|_| self.http.protocol(path, format!("not a number: {text:?}")))
    }

    /// `GET /info`.
    pub fn info(&self, cancel: &CancelToken) -> Result<serde_json::Value, RemoteError> {
        self.http.retry.run(cancel, "/info", |_| {
            let resp = self.http.check("/info", self.http.get("/info").call())?;
            self.http.json("/info", resp)
        })
    }

    /// Winston to store `bytes` bytes (`GET /price/{bytes}`).
    pub fn price(&self, bytes: u64, cancel: &CancelToken) -> Result<u128, RemoteError> {
        self.get_u128(&format!("/price/{bytes}"), cancel)
    }

    /// A recent block hash to anchor a transaction to (`GET /tx_anchor`).
    pub fn tx_anchor(&self, cancel: &CancelToken) -> Result<String, RemoteError> {
        Ok(self.get_text("/tx_anchor", cancel)?.trim().to_string())
    }

    /// Winston held by `address`.
    pub fn balance(&self, address: &str, cancel: &CancelToken) -> Result<u128, RemoteError> {
        self.get_u128(&format!("/wallet/{address}/balance"), cancel)
    }

    /// `GET /tx/{id}/status`.
    pub fn status(&self, id: &str, cancel: &CancelToken) -> Result<TxStatus, RemoteError> {
        let path = format!("/tx/{id}/status");
        self.http.retry.run(cancel, &path, |_| {
            let result = self.http.get(&path).call();
            match self.http.check(&path, result) {
                Ok(resp) => {
                    let accepted = resp.status().as_u16() == 202;
                    let text = self.http.text(resp)?;
                    if accepted || text.trim().eq_ignore_ascii_case("pending") {
                        return Ok(TxStatus::Pending);
                    }
                    let body: StatusBody =
                        serde_json::from_str(&text).map_err(|e| self.http.protocol(&path, format!("{e}: {text}")))?;
                    Ok(TxStatus::Confirmed {
                        block_height: body.block_height,
                        confirmations: body.number_of_confirmations,
                    })
                }
                Err(RemoteError::Rejected { status: 404, .. }) => Ok(TxStatus::NotFound),
                Err(e) => Err(e),
            }
        })
    }

    /// The stored transaction header (`GET /tx/{id}`), numbers normalized to strings.
    pub fn transaction(&self, id: &str, cancel: &CancelToken) -> Result<Transaction, RemoteError> {
        let path = format!("/tx/{id}");
        let value: serde_json::Value = self.http.retry.run(cancel, &path, |_| {
            let resp = self.http.check(&path, self.http.get(&path).call())?;
            if resp.status().as_u16() == 202 {
                return Err(RemoteError::Server {
                    backend: BackendKind::Arweave,
                    status: 202,
                    what: path.clone(),
                    message: "pending".into(),
                });
            }
            self.http.json(&path, resp)
        })?;
        let s = |k: &str| match value.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let tags = serde_json::from_value(value.get("tags").cloned().unwrap_or_default()).unwrap_or_default();
        Ok(Transaction {
            format: s("format").parse().unwrap_or(2),
            id: s("id"),
            last_tx: s("last_tx"),
            owner: s("owner"),
            tags,
            target: s("target"),
            quantity: if s("quantity").is_empty() { "0".into() } else { s("quantity") },
            data: String::new(),
            data_size: s("data_size"),
            data_root: s("data_root"),
            reward: s("reward"),
            signature: s("signature"),
        })
    }

    /// Streams the data of `id` through `sink` and returns (bytes, SHA-256). Manifests are read
    /// through `/tx/{id}/data` (the raw manifest, base64url), everything else through
    /// `/{id}` (gateways resolve a manifest there).
    pub fn read_data(&self, id: &str, manifest: bool, cancel: &CancelToken) -> Result<(u64, [u8; 32]), RemoteError> {
        self.read_data_with(id, manifest, cancel, &mut |_| {})
    }

    /// The data of `id` in memory.
    pub fn data(&self, id: &str, manifest: bool, cancel: &CancelToken) -> Result<Vec<u8>, RemoteError> {
        let mut out = Vec::new();
        self.read_data_with(id, manifest, cancel, &mut |b| out.extend_from_slice(b))?;
        Ok(out)
    }

    fn read_data_with(
        &self,
        id: &str,
        manifest: bool,
        cancel: &CancelToken,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(u64, [u8; 32]), RemoteError> {
        let path = if manifest { format!("/tx/{id}/data") } else { format!("/{id}") };
        let mut resp = self.http.retry.run(cancel, &path, |_| self.http.check(&path, self.http.get(&path).call()))?;
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        if manifest {
            let text = self.http.text(resp)?;
            let bytes = from_b64url(text.trim()).map_err(|e| self.http.protocol(&path, e))?;
            hasher.update(&bytes);
            sink(&bytes);
            total = bytes.len() as u64;
        } else {
            let mut reader = resp.body_mut().as_reader();
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                cancel.check()?;
                let n = reader.read(&mut buf).map_err(|e| RemoteError::Transport {
                    backend: BackendKind::Arweave,
                    endpoint: self.http.base.clone(),
                    message: e.to_string(),
                })?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                sink(&buf[..n]);
                total += n as u64;
            }
        }
        Ok((total, hasher.finalize().into()))
    }

    /// `POST /graphql`.
    pub fn graphql(&self, query: &str, cancel: &CancelToken) -> Result<serde_json::Value, RemoteError> {
        self.http.retry.run(cancel, "/graphql", |_| {
            let resp = self
                .http
                .check("/graphql", self.http.post("/graphql").send_json(serde_json::json!({ "query": query })))?;
            self.http.json("/graphql", resp)
        })
    }

    /// Ids of transactions tagged `name: value`, newest first, via GraphQL.
    pub fn find_by_tag(&self, name: &str, value: &str, cancel: &CancelToken) -> Result<Vec<String>, RemoteError> {
        let q = format!(
            "query {{ transactions(tags: [{{name: {}, values: [{}]}}]) {{ edges {{ node {{ id }} }} }} }}",
            serde_json::to_string(name).expect("string"),
            serde_json::to_string(value).expect("string"),
        );
        let v = self.graphql(&q, cancel)?;
        let edges = v.pointer("/data/transactions/edges").and_then(|e| e.as_array()).cloned().unwrap_or_default();
        Ok(edges.iter().filter_map(|e| e.pointer("/node/id").and_then(|i| i.as_str()).map(str::to_string)).collect())
    }

    /// `POST /tx`.
    pub fn post_transaction(&self, tx: &Transaction, cancel: &CancelToken) -> Result<(), RemoteError> {
        let what = format!("transaction {}", tx.id);
        self.http.retry.run(cancel, &what, |_| {
            let result = self.http.post("/tx").send_json(tx);
            match self.http.check(&what, result) {
                Ok(_) => Ok(()),
                // A transaction the gateway already has (a resumed upload) is fine.
                Err(RemoteError::Rejected { message, .. } | RemoteError::Server { message, .. })
                    if message.contains("already") && message.contains("processed") =>
                {
                    Ok(())
                }
                // arlocal answers 410 when the wallet cannot pay.
                Err(RemoteError::Rejected { status: 410, .. }) => Err(RemoteError::InsufficientFunds {
                    address: self.wallet.as_ref().map(|w| w.address().to_string()).unwrap_or_default(),
                    needed: tx.reward.parse().unwrap_or(0),
                    balance: 0,
                }),
                Err(e) => Err(e),
            }
        })
    }

    /// `POST /chunk`.
    pub fn post_chunk(&self, chunk: &ChunkUpload, cancel: &CancelToken) -> Result<(), RemoteError> {
        let what = format!("chunk at offset {}", chunk.offset);
        self.http
            .retry
            .run(cancel, &what, |_| self.http.check(&what, self.http.post("/chunk").send_json(chunk)).map(|_| ()))
    }

    /// arlocal only: credits `winston` to `address`.
    pub fn arlocal_mint(&self, address: &str, winston: u128, cancel: &CancelToken) -> Result<(), RemoteError> {
        self.get_text(&format!("/mint/{address}/{winston}"), cancel).map(|_| ())
    }

    /// arlocal only: mines a block with every pending transaction.
    pub fn arlocal_mine(&self, cancel: &CancelToken) -> Result<(), RemoteError> {
        self.get_text("/mine", cancel).map(|_| ())
    }

    /// The tags Chrysalis puts on an upload.
    pub fn tags(content_type: &str, cid: Option<(&Cid, Layout)>, extra: &[(&str, &str)]) -> Vec<Tag> {
        let mut tags = vec![
            Tag::new("Content-Type", content_type),
            Tag::new("App-Name", APP_NAME),
            Tag::new("App-Version", env!("CARGO_PKG_VERSION")),
        ];
        if let Some((cid, layout)) = cid {
            tags.push(Tag::new("IPFS-CID", &cid.to_string()));
            tags.push(Tag::new("IPFS-CID-Layout", layout.as_str()));
        }
        for (n, v) in extra {
            tags.push(Tag::new(n, v));
        }
        tags
    }

    /// Builds, signs and posts a transaction for `data` (resuming from `ctx.checkpoint`), and
    /// returns it once the gateway holds the header and every chunk. Nothing is trusted yet:
    /// [`Pinner::verify`] reads it back.
    pub fn upload(
        &self,
        data: Data<'_>,
        tags: Vec<Tag>,
        expected_sha256: Option<[u8; 32]>,
        ctx: &Ctx<'_>,
    ) -> Result<Transaction, RemoteError> {
        let wallet = self.need_wallet()?;
        let (tree, sha, size) = match data {
            Data::File(p) => MerkleTree::of_file(p).map_err(RemoteError::io(p))?,
            Data::Bytes(b) => (MerkleTree::of_bytes(b), Sha256::digest(b).into(), b.len() as u64),
        };
        if let Some(expected) = expected_sha256
            && expected != sha
        {
            return Err(RemoteError::Verification {
                backend: BackendKind::Arweave,
                message: "the file changed since it was planned (its SHA-256 differs); publish again".into(),
            });
        }
        let data_root = if size == 0 { String::new() } else { b64url(&tree.data_root) };
        let inline = size <= MAX_CHUNK_SIZE;

        // Resume a transaction signed earlier for these same bytes.
        let mut state: Option<UploadState> =
            ctx.checkpoint.load().and_then(|v| serde_json::from_value(v.get("arweave")?.clone()).ok());
        if let Some(s) = &state
            && (s.tx.data_root != data_root
                || s.tx.data_size != size.to_string()
                || s.tx.owner != b64url(wallet.owner()))
        {
            tracing::info!(tx = %s.tx.id, "saved transaction is for other bytes or another wallet; signing a new one");
            state = None;
        }
        if let Some(s) = &mut state {
            match self.status(&s.tx.id, ctx.cancel)? {
                TxStatus::NotFound => s.posted = false,
                _ => s.posted = true,
            }
        }
        let mut state = match state {
            Some(s) => s,
            None => {
                let reward = self.price(size, ctx.cancel)?;
                let balance = self.balance(wallet.address(), ctx.cancel)?;
                if balance < reward {
                    return Err(RemoteError::InsufficientFunds {
                        address: wallet.address().to_string(),
                        needed: reward,
                        balance,
                    });
                }
                let anchor = self.tx_anchor(ctx.cancel)?;
                let mut tx = Transaction::new_data(&tree, size, tags, &anchor, reward);
                tx.sign(wallet)?;
                UploadState { tx, posted: false, chunks_done: 0 }
            }
        };
        let save = |s: &UploadState| ctx.checkpoint.save(&serde_json::json!({ "arweave": s }));
        save(&state)?;

        if !state.posted {
            let mut body = state.tx.clone();
            if inline {
                body.data = match data {
                    Data::Bytes(b) => b64url(b),
                    Data::File(p) => b64url(&std::fs::read(p).map_err(RemoteError::io(p))?),
                };
            }
            match self.post_transaction(&body, ctx.cancel) {
                Ok(()) => {}
                // The anchor of a transaction signed before a long interruption has expired:
                // the network never took it, so a new one cannot pay twice.
                Err(RemoteError::Rejected { status: 400, .. })
                    if state.chunks_done == 0 && !body.last_tx.is_empty() =>
                {
                    tracing::info!(tx = %state.tx.id, "saved transaction refused (stale anchor?); re-signing");
                    state.tx.last_tx = self.tx_anchor(ctx.cancel)?;
                    state.tx.sign(wallet)?;
                    save(&state)?;
                    body = state.tx.clone();
                    if inline {
                        body.data = match data {
                            Data::Bytes(b) => b64url(b),
                            Data::File(p) => b64url(&std::fs::read(p).map_err(RemoteError::io(p))?),
                        };
                    }
                    self.post_transaction(&body, ctx.cancel)?;
                }
                Err(e) => return Err(e),
            }
            if inline {
                (ctx.on_bytes)(size);
            }
            state.posted = true;
            save(&state)?;
        }

        if !inline {
            let Data::File(path) = data else {
                return Err(RemoteError::Unsupported {
                    backend: BackendKind::Arweave,
                    what: "in-memory uploads over 256 KiB".into(),
                });
            };
            let mut file = File::open(path).map_err(RemoteError::io(path))?;
            let chunks: Vec<(usize, &tx::Chunk)> = tree.upload_chunks().collect();
            // Already-sent chunks count as progress.
            let sent: u64 = chunks.iter().take(state.chunks_done).map(|(_, c)| c.max - c.min).sum();
            (ctx.on_bytes)(sent);
            for (i, (idx, chunk)) in chunks.iter().enumerate().skip(state.chunks_done) {
                ctx.cancel.check()?;
                let bytes = read_chunk(&mut file, chunk).map_err(RemoteError::io(path))?;
                let (offset, proof) = &tree.proofs[*idx];
                let upload = ChunkUpload {
                    data_root: data_root.clone(),
                    data_size: size.to_string(),
                    data_path: b64url(proof),
                    offset: offset.to_string(),
                    chunk: b64url(&bytes),
                };
                self.post_chunk(&upload, ctx.cancel)?;
                (ctx.on_bytes)(bytes.len() as u64);
                state.chunks_done = i + 1;
                save(&state)?;
            }
        }
        Ok(state.tx)
    }

    fn receipt(&self, tx: &Transaction, cid: Option<&Cid>, sha256: [u8; 32], manifest: bool) -> Receipt {
        Receipt {
            backend: BackendKind::Arweave,
            cid: cid.map(|c| c.to_string()).unwrap_or_default(),
            remote_id: Some(tx.id.clone()),
            uri: format!("ar://{}", tx.id),
            detail: serde_json::json!({
                "data_size": tx.data_size,
                "data_root": tx.data_root,
                "reward": tx.reward,
                "sha256": hex_string(&sha256),
                "owner_address": b64url(&Sha256::digest(from_b64url(&tx.owner).unwrap_or_default())),
                "manifest": manifest,
            }),
        }
    }

    /// Uploads a path manifest for `entries` (name → transaction id) tagged with the folder's
    /// CID, and returns its receipt.
    pub fn upload_manifest(
        &self,
        entries: impl IntoIterator<Item = (String, String)>,
        folder_cid: Option<(&Cid, Layout)>,
        ctx: &Ctx<'_>,
    ) -> Result<Receipt, RemoteError> {
        let bytes = Manifest::new(entries).to_bytes();
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        let tags = Arweave::tags(manifest::CONTENT_TYPE, folder_cid, &[("Type", "manifest")]);
        let tx = self.upload(Data::Bytes(&bytes), tags, Some(sha), ctx)?;
        Ok(self.receipt(&tx, folder_cid.map(|(c, _)| c), sha, true))
    }

    /// Waits (up to the configured time) for `id` to be in a block with enough confirmations.
    fn confirmed(&self, id: &str, cancel: &CancelToken) -> Result<TxStatus, RemoteError> {
        let start = Instant::now();
        let mut delay = Duration::from_millis(500);
        loop {
            let status = self.status(id, cancel)?;
            let done =
                matches!(status, TxStatus::Confirmed { confirmations, .. } if confirmations >= self.confirmations);
            if done || matches!(status, TxStatus::NotFound) || start.elapsed() >= self.confirm_wait {
                return Ok(status);
            }
            sleep_cancellable(delay.min(self.confirm_wait.saturating_sub(start.elapsed())), cancel)?;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }
}

pub(crate) fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Pinner for Arweave {
    fn kind(&self) -> BackendKind {
        BackendKind::Arweave
    }

    fn endpoint(&self) -> String {
        self.http.base.clone()
    }

    fn folder_strategy(&self) -> FolderStrategy {
        FolderStrategy::FilesThenLink
    }

    fn put_file(&self, file: &FileUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let tags = Arweave::tags(&file.content_type, Some((&file.cid, file.layout)), &[]);
        let tx = self.upload(Data::File(&file.path), tags, Some(file.sha256), ctx)?;
        Ok(self.receipt(&tx, Some(&file.cid), file.sha256, false))
    }

    fn put_dir(&self, dir: &DirUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let mut entries = Vec::with_capacity(dir.children.len());
        for (name, receipt) in &dir.children {
            let id = receipt.remote_id.clone().ok_or_else(|| RemoteError::Verification {
                backend: BackendKind::Arweave,
                message: format!("`{name}` has no Arweave transaction recorded"),
            })?;
            entries.push((name.clone(), id));
        }
        self.upload_manifest(entries, Some((&dir.cid, dir.layout)), ctx)
    }

    fn verify(&self, expected: &Cid, receipt: &Receipt, ctx: &Ctx<'_>) -> Result<Verification, RemoteError> {
        let Some(id) = receipt.remote_id.as_deref() else {
            return Ok(Verification::Failed("no Arweave transaction id recorded".into()));
        };
        let status = self.confirmed(id, ctx.cancel)?;
        if status == TxStatus::NotFound {
            return Ok(Verification::Failed(format!("the gateway does not know transaction {id}; upload again")));
        }
        let fail = |message: String| RemoteError::Verification { backend: BackendKind::Arweave, message };

        // The stored header: our signature, our data root, our CID tag.
        let tx = self.transaction(id, ctx.cancel)?;
        if !tx.verify() {
            return Err(fail(format!("transaction {id} as stored does not verify (id, signature or fields changed)")));
        }
        let want_root = receipt.detail.get("data_root").and_then(|v| v.as_str()).unwrap_or_default();
        if tx.data_root != want_root {
            return Err(fail(format!("transaction {id} has data root {}, not {want_root}", tx.data_root)));
        }
        if let Some(tagged) = tx.tag("IPFS-CID") {
            super::ensure_same_cid(BackendKind::Arweave, expected, &tagged)?;
        } else {
            return Err(fail(format!("transaction {id} has no IPFS-CID tag")));
        }

        // The bytes, read back.
        let manifest = receipt.detail.get("manifest").and_then(|v| v.as_bool()).unwrap_or(false);
        let (size, sha) = self.read_data(id, manifest, ctx.cancel)?;
        let want_sha = receipt.detail.get("sha256").and_then(|v| v.as_str()).unwrap_or_default();
        if hex_string(&sha) != want_sha || size.to_string() != tx.data_size {
            return Err(fail(format!(
                "the bytes read back from {id} ({size} bytes, SHA-256 {}) are not the ones uploaded ({} bytes, SHA-256 {want_sha})",
                hex_string(&sha),
                tx.data_size
            )));
        }
        Ok(match status {
            TxStatus::Confirmed { confirmations, .. } if confirmations >= self.confirmations => Verification::Verified,
            TxStatus::Confirmed { confirmations, .. } => Verification::Pending(format!(
                "{id} has {confirmations} confirmation(s) of {} wanted; publish again later to finish",
                self.confirmations
            )),
            _ => Verification::Pending(format!(
                "{id} is accepted and reads back identical, but is not in a block yet; publish again later to finish"
            )),
        })
    }
}
