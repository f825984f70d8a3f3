//! A contract server for Kubo's RPC API (the parts Chrysalis uses), following the RPC
//! reference: `POST /api/v0/version`, `/add` (multipart; `cid-version`, `raw-leaves`,
//! `chunker`, `max-file-links`, `pin`; NDJSON answer), `/dag/import` (multipart CAR;
//! `{"Root":{"Cid":{"/":…},"PinErrorMsg":…}}`), `/pin/ls`, `/pin/add`. Errors are Kubo's
//! `{"Message", "Code", "Type": "error"}` with HTTP 500 (400 for bad arguments). Non-POST
//! requests get 405, as Kubo answers them.
//!
//! It keeps a real blockstore: CIDs are computed from the bytes received with the options
//! received, so a client sending the wrong options gets a different CID, exactly as with
//! Kubo. Switches make it misbehave: a wrong CID in `add` answers, a required token.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use cid::Cid;
use serde_json::json;

use super::{Request, Response, TestServer};
use crate::Layout;
use crate::block::DAG_PB;
use crate::importer::Importer;

/// Misbehaviour switches.
#[derive(Debug, Default)]
pub struct KuboSwitches {
    /// Answer every `add` with the CID of other bytes.
    pub wrong_cid: AtomicBool,
    /// Require `Authorization: Bearer <this>`.
    pub token: Mutex<Option<String>>,
}

#[derive(Default)]
struct State {
    blocks: HashMap<Cid, Vec<u8>>,
    pins: HashSet<Cid>,
}

/// A running Kubo contract server.
pub struct KuboServer {
    pub server: TestServer,
    pub switches: Arc<KuboSwitches>,
    state: Arc<Mutex<State>>,
    adds: Arc<AtomicUsize>,
}

fn kubo_error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "Message": message, "Code": 0, "Type": "error" }))
}

impl KuboServer {
    /// Starts one that says it is Kubo `version` (e.g. `"0.39.0"`).
    pub fn start(version: &str) -> KuboServer {
        let switches = Arc::new(KuboSwitches::default());
        let state = Arc::new(Mutex::new(State::default()));
        let adds = Arc::new(AtomicUsize::new(0));
        let (sw, st, ad, version) = (switches.clone(), state.clone(), adds.clone(), version.to_string());
        let server = TestServer::start(move |req| handle(req, &version, &sw, &st, &ad));
        KuboServer { server, switches, state, adds }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Successful `add`s so far.
    pub fn adds(&self) -> usize {
        self.adds.load(Ordering::SeqCst)
    }

    /// File names received by `add` requests, in order (including failed ones).
    pub fn added_names(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .filter(|r| r.path == "/api/v0/add")
            .flat_map(|r| r.multipart().into_iter().filter_map(|p| p.filename))
            .collect()
    }

    pub fn is_pinned(&self, cid: &Cid) -> bool {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).pins.contains(cid)
    }

    pub fn has_block(&self, cid: &Cid) -> bool {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).blocks.contains_key(&crate::block::to_v1(cid))
    }

    /// Forgets a pin (to test that verification re-pins).
    pub fn unpin(&self, cid: &Cid) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).pins.remove(cid);
    }
}

fn layout_from(req: &Request) -> Result<Layout, String> {
    let version = req.query("cid-version").unwrap_or("0");
    let raw = req.query("raw-leaves").map(|v| v == "true").unwrap_or(version == "1");
    let chunker = req.query("chunker").unwrap_or("size-262144");
    let links = req.query("max-file-links").map(|v| v.parse::<usize>().map_err(|e| e.to_string())).transpose()?;
    let layout = match (version, raw, chunker) {
        ("0", false, "size-262144") => Layout::V0,
        ("1", true, "size-262144") => Layout::V1,
        ("1", true, "size-1048576") => Layout::V1_2025,
        other => return Err(format!("this contract server does not model the options {other:?}")),
    };
    match links {
        Some(n) if n != layout.max_links() => {
            Err(format!("max-file-links={n} with these options is not a layout we model"))
        }
        _ => Ok(layout),
    }
}

fn handle(req: &Request, version: &str, sw: &KuboSwitches, st: &Mutex<State>, adds: &AtomicUsize) -> Response {
    if let Some(token) = sw.token.lock().unwrap_or_else(PoisonError::into_inner).as_deref()
        && req.bearer() != Some(token)
    {
        return Response::text(401, "401 - Unauthorized");
    }
    if req.method != "POST" {
        return Response::text(405, "405 - Method Not Allowed");
    }
    match req.path.as_str() {
        "/api/v0/version" => Response::json(
            200,
            &json!({ "Version": version, "Commit": "", "Repo": "16", "System": "amd64/linux", "Golang": "go1.24" }),
        ),
        "/api/v0/add" => {
            let layout = match layout_from(req) {
                Ok(l) => l,
                Err(e) => return kubo_error(400, &e),
            };
            if req.query("max-file-links").is_some() && version_below(version, (0, 35)) {
                return kubo_error(400, "unknown option \"max-file-links\"");
            }
            let pin = req.query("pin").is_none_or(|v| v == "true");
            let mut lines = Vec::new();
            for part in req.multipart().into_iter().filter(|p| p.filename.is_some()) {
                let mut blocks: Vec<crate::Block> = Vec::new();
                let mut reader = Cursor::new(part.body.clone());
                let added = match Importer::new(layout).sink(&mut blocks).add_reader(&mut reader, 0) {
                    Ok(a) => a,
                    Err(e) => return kubo_error(500, &e.to_string()),
                };
                let mut s = st.lock().unwrap_or_else(PoisonError::into_inner);
                for b in blocks {
                    s.blocks.insert(crate::block::to_v1(&b.cid), b.data);
                }
                if pin {
                    s.pins.insert(added.cid);
                }
                let reported = if sw.wrong_cid.load(Ordering::SeqCst) {
                    crate::cid_of_bytes(b"not what you sent", layout)
                } else {
                    added.cid
                };
                let name = part.filename.unwrap_or_default();
                lines.push(json!({ "Name": name.rsplit('/').next().unwrap_or(&name), "Hash": reported.to_string(), "Size": added.dag_size.to_string() }));
            }
            if lines.is_empty() {
                return kubo_error(400, "file argument 'path' is required");
            }
            adds.fetch_add(1, Ordering::SeqCst);
            ndjson(&lines)
        }
        "/api/v0/dag/import" => {
            let pin_roots = req.query("pin-roots").is_none_or(|v| v == "true");
            let Some(part) = req.multipart().into_iter().next() else {
                return kubo_error(400, "file argument 'path' is required");
            };
            let mut car = match crate::car::CarReader::new(Cursor::new(part.body), std::path::Path::new("<upload>")) {
                Ok(c) => c,
                Err(e) => return kubo_error(500, &e.to_string()),
            };
            let roots = car.roots().to_vec();
            let mut s = st.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                match car.next_block() {
                    Ok(Some(b)) => {
                        s.blocks.insert(crate::block::to_v1(&b.cid), b.data);
                    }
                    Ok(None) => break,
                    Err(e) => return kubo_error(500, &e.to_string()),
                }
            }
            let mut lines = Vec::new();
            for root in roots {
                let mut msg = String::new();
                if pin_roots {
                    match missing_block(&s.blocks, &root) {
                        None => {
                            s.pins.insert(root);
                        }
                        Some(m) => msg = format!("block was not found locally (offline): ipld: could not find {m}"),
                    }
                }
                lines.push(json!({ "Root": { "Cid": { "/": root.to_string() }, "PinErrorMsg": msg } }));
            }
            ndjson(&lines)
        }
        "/api/v0/pin/ls" => {
            let Some(arg) = req.query("arg") else { return kubo_error(400, "argument 'ipfs-path' is required") };
            let Ok(cid) = Cid::try_from(arg) else { return kubo_error(500, &format!("invalid path {arg:?}")) };
            let s = st.lock().unwrap_or_else(PoisonError::into_inner);
            if s.pins.contains(&cid) {
                Response::json(200, &json!({ "Keys": { cid.to_string(): { "Type": "recursive", "Name": "" } } }))
            } else {
                kubo_error(500, &format!("path '/ipfs/{cid}' is not pinned"))
            }
        }
        "/api/v0/pin/add" => {
            let Some(arg) = req.query("arg") else { return kubo_error(400, "argument 'ipfs-path' is required") };
            let Ok(cid) = Cid::try_from(arg) else { return kubo_error(500, &format!("invalid path {arg:?}")) };
            let mut s = st.lock().unwrap_or_else(PoisonError::into_inner);
            match missing_block(&s.blocks, &cid) {
                None => {
                    s.pins.insert(cid);
                    Response::json(200, &json!({ "Pins": [cid.to_string()] }))
                }
                Some(m) => {
                    kubo_error(500, &format!("pin: block was not found locally (offline): ipld: could not find {m}"))
                }
            }
        }
        other => kubo_error(404, &format!("404 page not found: {other}")),
    }
}

fn version_below(v: &str, min: (u32, u32)) -> bool {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0)) < min
}

/// The first block reachable from `root` that is not in `blocks`.
fn missing_block(blocks: &HashMap<Cid, Vec<u8>>, root: &Cid) -> Option<Cid> {
    let mut stack = vec![*root];
    let mut seen = HashSet::new();
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid) {
            continue;
        }
        let Some(data) = blocks.get(&crate::block::to_v1(&cid)) else { return Some(cid) };
        if cid.codec() == DAG_PB
            && let Ok(node) = crate::pb::decode_node(data)
        {
            stack.extend(node.links.iter().map(|l| l.cid));
        }
    }
    None
}

fn ndjson(lines: &[serde_json::Value]) -> Response {
    let mut body = String::new();
    for l in lines {
        body.push_str(&l.to_string());
        body.push('\n');
    }
    Response { status: 200, headers: vec![("Content-Type".into(), "application/json".into())], body: body.into_bytes() }
}
