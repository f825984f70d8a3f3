//! The IPFS Pinning Services API (<https://ipfs.github.io/pinning-services-api-spec/>):
//! `POST /pins {cid, name, origins, meta}` asks a service to pin a CID, which it then
//! fetches from the IPFS network (from `origins` first); `GET /pins/{requestid}` follows the
//! request through `queued` → `pinning` → `pinned` | `failed`. Bearer token auth.
//!
//! Nothing is uploaded: the content must be reachable on IPFS (a Kubo node of yours that
//! holds it — give its multiaddrs as `origins` — or another pinning service).
//!
//! Idempotence: the request id is checkpointed as soon as the service answers, and before
//! asking again after a crash or a failed `POST` we look for an existing request for the same
//! CID (`GET /pins?cid=…`), so one publish never creates two pin requests.

use std::time::{Duration, Instant};

use chrysalis_core::CancelToken;
use cid::Cid;
use serde::{Deserialize, Serialize};

use super::http::Http;
use super::{
    BackendKind, Ctx, DirUpload, FileUpload, FolderStrategy, Pinner, Receipt, RemoteError, RetryPolicy, Secret,
    Verification, credentials, sleep_cancellable,
};

/// A pin's state, as the spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinState {
    Queued,
    Pinning,
    Pinned,
    Failed,
}

/// The spec's `Pin` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub cid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub meta: serde_json::Map<String, serde_json::Value>,
}

/// The spec's `PinStatus` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinStatus {
    pub requestid: String,
    pub status: PinState,
    #[serde(default)]
    pub created: String,
    pub pin: Pin,
    #[serde(default)]
    pub delegates: Vec<String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub info: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct PinResults {
    #[serde(default)]
    results: Vec<PinStatus>,
}

/// How patiently to wait for `pinned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    pub first: Duration,
    pub max: Duration,
    /// Give up (the publish stays resumable: the request id is kept) after this long.
    pub timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy { first: Duration::from_secs(1), max: Duration::from_secs(30), timeout: Duration::from_secs(600) }
    }
}

/// A pinning service.
#[derive(Debug)]
pub struct PinningService {
    http: Http,
    origins: Vec<String>,
    poll: PollPolicy,
}

impl PinningService {
    /// A client for the service at `endpoint` (the API root, e.g.
    /// `https://api.pinata.cloud/psa`).
    pub fn new(endpoint: &str, token: Secret) -> PinningService {
        let hint = format!("check the token in {} (or the OS keyring)", credentials::PSA_TOKEN_ENV);
        PinningService {
            http: Http::new(BackendKind::Psa, endpoint, Some(token), hint),
            origins: Vec::new(),
            poll: PollPolicy::default(),
        }
    }

    /// Multiaddrs of nodes that hold the content (`/ip4/…/tcp/4001/p2p/…`).
    pub fn with_origins(mut self, origins: Vec<String>) -> PinningService {
        self.origins = origins;
        self
    }

    pub fn with_poll(mut self, poll: PollPolicy) -> PinningService {
        self.poll = poll;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> PinningService {
        self.http.retry = retry;
        self
    }

    /// `GET /pins/{requestid}`.
    pub fn status(&self, requestid: &str, cancel: &CancelToken) -> Result<PinStatus, RemoteError> {
        let what = format!("GET /pins/{requestid}");
        self.http.retry.run(cancel, &what, |_| {
            let resp = self.http.check(&what, self.http.get(&format!("/pins/{requestid}")).call())?;
            self.http.json(&what, resp)
        })
    }

    /// An existing request for `cid` that is not `failed`, if the service has one.
    pub fn find(&self, cid: &Cid, cancel: &CancelToken) -> Result<Option<PinStatus>, RemoteError> {
        let what = format!("GET /pins?cid={cid}");
        let found: PinResults = self.http.retry.run(cancel, &what, |_| {
            let req = self
                .http
                .get("/pins")
                .query("cid", cid.to_string())
                .query("status", "queued,pinning,pinned")
                .query("limit", "10");
            let resp = self.http.check(&what, req.call())?;
            self.http.json(&what, resp)
        })?;
        Ok(found.results.into_iter().find(|s| Cid::try_from(s.pin.cid.as_str()).ok() == Some(*cid)))
    }

    /// `POST /pins`: asks the service to pin `cid` (or adopts an existing request).
    pub fn add(&self, cid: &Cid, name: &str, ctx: &Ctx<'_>) -> Result<PinStatus, RemoteError> {
        if let Some(saved) =
            ctx.checkpoint.load().and_then(|v| v.get("requestid").and_then(|r| r.as_str()).map(str::to_string))
        {
            match self.status(&saved, ctx.cancel) {
                Ok(s) if s.status != PinState::Failed => return Ok(s),
                Ok(_) => {} // failed: ask again
                Err(RemoteError::Rejected { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(existing) = self.find(cid, ctx.cancel)? {
            ctx.checkpoint.save(&serde_json::json!({ "requestid": existing.requestid }))?;
            return Ok(existing);
        }
        let body = Pin {
            cid: cid.to_string(),
            name: Some(name.to_string()),
            origins: self.origins.clone(),
            meta: serde_json::Map::from_iter([("app".to_string(), "chrysalis".into())]),
        };
        let what = format!("POST /pins {cid}");
        let status: PinStatus = self.http.retry.run(ctx.cancel, &what, |attempt| {
            if attempt > 1 {
                // The last POST may have been accepted before the connection broke.
                if let Some(existing) = self.find(cid, ctx.cancel)? {
                    return Ok(existing);
                }
            }
            let result = self.http.post("/pins").send_json(&body);
            let resp = self.http.check(&what, result)?;
            self.http.json(&what, resp)
        })?;
        ctx.checkpoint.save(&serde_json::json!({ "requestid": status.requestid }))?;
        Ok(status)
    }

    fn pin(&self, cid: &Cid, name: &str, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let status = self.add(cid, name, ctx)?;
        if status.status == PinState::Failed {
            return Err(RemoteError::PinFailed { cid: cid.to_string(), reason: failure_reason(&status) });
        }
        Receipt::ipfs_checked(
            BackendKind::Psa,
            cid,
            &status.pin.cid,
            Some(status.requestid.clone()),
            serde_json::json!({ "status": status.status, "delegates": status.delegates }),
        )
    }

    /// Polls `requestid` with backoff until `pinned`, `failed` or the timeout.
    pub fn wait(&self, requestid: &str, cancel: &CancelToken) -> Result<PinStatus, RemoteError> {
        let start = Instant::now();
        let mut delay = self.poll.first;
        loop {
            let status = self.status(requestid, cancel)?;
            if matches!(status.status, PinState::Pinned | PinState::Failed) {
                return Ok(status);
            }
            let waited = start.elapsed();
            if waited >= self.poll.timeout {
                return Ok(status);
            }
            let jitter = delay.mul_f64(0.2 * super::retry::random_unit());
            sleep_cancellable((delay + jitter).min(self.poll.timeout - waited), cancel)?;
            delay = (delay * 2).min(self.poll.max);
        }
    }
}

fn failure_reason(status: &PinStatus) -> String {
    status
        .info
        .get("status_details")
        .or_else(|| status.info.get("reason"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| "the service reported status `failed` (is the content reachable on IPFS?)".into())
}

impl Pinner for PinningService {
    fn kind(&self) -> BackendKind {
        BackendKind::Psa
    }

    fn endpoint(&self) -> String {
        self.http.base.clone()
    }

    fn folder_strategy(&self) -> FolderStrategy {
        FolderStrategy::PinRoot
    }

    fn put_file(&self, file: &FileUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        self.pin(&file.cid, &file.name, ctx)
    }

    fn put_dir(&self, dir: &DirUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        self.pin(&dir.cid, &dir.name, ctx)
    }

    fn put_car(&self, _car: &std::path::Path, root: &Cid, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        // The API takes no bytes: pin the root and let the service fetch it.
        self.pin(root, &root.to_string(), ctx)
    }

    fn verify(&self, expected: &Cid, receipt: &Receipt, ctx: &Ctx<'_>) -> Result<Verification, RemoteError> {
        let Some(requestid) = receipt.remote_id.as_deref() else {
            return Ok(Verification::Failed("no pin request id recorded".into()));
        };
        let status = self.wait(requestid, ctx.cancel)?;
        super::ensure_same_cid(BackendKind::Psa, expected, &status.pin.cid)?;
        Ok(match status.status {
            PinState::Pinned => Verification::Verified,
            PinState::Failed => Verification::Failed(failure_reason(&status)),
            PinState::Queued | PinState::Pinning => Verification::Pending(format!(
                "the pin request {requestid} is still {} after {} s; publish again later to check on it",
                serde_json::to_value(status.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                self.poll.timeout.as_secs()
            )),
        })
    }
}
