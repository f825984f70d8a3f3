//! A contract server for the IPFS Pinning Services API (OpenAPI spec v1.0.0): bearer auth
//! (401 `{"error": {"reason": "UNAUTHORIZED", …}}`), `POST /pins` → 202 `PinStatus`
//! (`queued`), `GET /pins/{requestid}` moving through `queued` → `pinning` → `pinned` (or
//! `failed`) one step per poll, `GET /pins?cid=…&status=…` → `{count, results}`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::json;

use super::{Request, Response, TestServer};

/// Misbehaviour switches.
#[derive(Debug, Default)]
pub struct PsaSwitches {
    /// Requests end in `failed` instead of `pinned`.
    pub fail: AtomicBool,
    /// Echo this CID in every `PinStatus` instead of the one asked for.
    pub echo_cid: Mutex<Option<String>>,
    /// Polls a request stays `pinning` before it settles.
    pub pinning_polls: AtomicUsize,
}

#[derive(Debug, Clone)]
struct PinRequest {
    cid: String,
    name: String,
    origins: Vec<String>,
    status: &'static str,
    polls: usize,
}

/// A running Pinning Services API contract server.
pub struct PsaServer {
    pub server: TestServer,
    pub switches: Arc<PsaSwitches>,
    pins: Arc<Mutex<BTreeMap<String, PinRequest>>>,
}

impl PsaServer {
    /// Starts one that accepts the bearer token `token`.
    pub fn start(token: &str) -> PsaServer {
        let switches = Arc::new(PsaSwitches::default());
        switches.pinning_polls.store(1, Ordering::SeqCst);
        let pins = Arc::new(Mutex::new(BTreeMap::new()));
        let (sw, p, token) = (switches.clone(), pins.clone(), token.to_string());
        let server = TestServer::start(move |req| handle(req, &token, &sw, &p));
        PsaServer { server, switches, pins }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Pin requests created so far.
    pub fn created(&self) -> usize {
        self.pins.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// `(cid, name, origins, status)` of every request.
    pub fn requests(&self) -> Vec<(String, String, Vec<String>, String)> {
        self.pins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|p| (p.cid.clone(), p.name.clone(), p.origins.clone(), p.status.to_string()))
            .collect()
    }
}

fn error(status: u16, reason: &str, details: &str) -> Response {
    Response::json(status, &json!({ "error": { "reason": reason, "details": details } }))
}

fn status_json(id: &str, p: &PinRequest, echo: Option<&str>) -> serde_json::Value {
    json!({
        "requestid": id,
        "status": p.status,
        "created": "2025-01-01T00:00:00Z",
        "pin": { "cid": echo.unwrap_or(&p.cid), "name": p.name, "origins": p.origins, "meta": {} },
        "delegates": ["/dns4/pin.example/tcp/4001/p2p/12D3KooWtest"],
        "info": if p.status == "failed" { json!({ "status_details": "could not find the content on the network" }) } else { json!({}) },
    })
}

fn handle(req: &Request, token: &str, sw: &PsaSwitches, pins: &Mutex<BTreeMap<String, PinRequest>>) -> Response {
    if req.bearer() != Some(token) {
        return error(401, "UNAUTHORIZED", "Access token is missing or invalid");
    }
    let echo = sw.echo_cid.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let mut pins = pins.lock().unwrap_or_else(PoisonError::into_inner);
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/pins") => {
            let body = req.json();
            let Some(cid) = body.get("cid").and_then(|c| c.as_str()) else {
                return error(400, "BAD_REQUEST", "cid is required");
            };
            if cid::Cid::try_from(cid).is_err() {
                return error(400, "BAD_REQUEST", "invalid cid");
            }
            let id = format!("req-{}", pins.len() + 1);
            let p = PinRequest {
                cid: cid.to_string(),
                name: body.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_string(),
                origins: serde_json::from_value(body.get("origins").cloned().unwrap_or(json!([]))).unwrap_or_default(),
                status: "queued",
                polls: 0,
            };
            let out = status_json(&id, &p, echo.as_deref());
            pins.insert(id, p);
            Response::json(202, &out)
        }
        ("GET", "/pins") => {
            let want_cids: Vec<&str> = req.query("cid").map(|c| c.split(',').collect()).unwrap_or_default();
            let want_status: Vec<&str> =
                req.query("status").map(|s| s.split(',').collect()).unwrap_or_else(|| vec!["pinned"]);
            let results: Vec<_> = pins
                .iter()
                .filter(|(_, p)| want_cids.is_empty() || want_cids.contains(&p.cid.as_str()))
                .filter(|(_, p)| want_status.contains(&p.status))
                .map(|(id, p)| status_json(id, p, echo.as_deref()))
                .collect();
            Response::json(200, &json!({ "count": results.len(), "results": results }))
        }
        ("GET", path) if path.starts_with("/pins/") => {
            let id = &path["/pins/".len()..];
            let pinning_polls = sw.pinning_polls.load(Ordering::SeqCst);
            let fail = sw.fail.load(Ordering::SeqCst);
            let Some(p) = pins.get_mut(id) else {
                return error(404, "NOT_FOUND", "The specified resource was not found");
            };
            p.polls += 1;
            p.status = match p.status {
                "queued" => "pinning",
                "pinning" if p.polls > pinning_polls => {
                    if fail {
                        "failed"
                    } else {
                        "pinned"
                    }
                }
                s => s,
            };
            Response::json(200, &status_json(id, p, echo.as_deref()))
        }
        _ => error(404, "NOT_FOUND", "no such route"),
    }
}
