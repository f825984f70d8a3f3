//! A contract server for Pinata's v3 API (the parts Chrysalis uses), per Pinata's API
//! reference: `POST /files` (multipart: `network`, `name`, `car`, `file`; JWT bearer) →
//! `{"data": {id, name, cid, size, number_of_files, mime_type, is_duplicate, …}}`, and
//! `GET /files/public?cid=…` → `{"data": {"files": […], "next_page_token": …}}`.
//! A CAR upload is read and every block checked; its root is the reported CID. A plain file
//! gets Pinata's default CIDv1 (our `v1` layout).

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::json;

use super::{Request, Response, TestServer};
use crate::Layout;

/// Misbehaviour switches.
#[derive(Debug, Default)]
pub struct PinataSwitches {
    /// Report another CID than the upload's.
    pub wrong_cid: AtomicBool,
}

/// A running Pinata contract server.
pub struct PinataServer {
    pub server: TestServer,
    pub switches: Arc<PinataSwitches>,
    files: Arc<Mutex<BTreeMap<String, String>>>,
}

impl PinataServer {
    /// Starts one that accepts the JWT `jwt`.
    pub fn start(jwt: &str) -> PinataServer {
        let switches = Arc::new(PinataSwitches::default());
        let files = Arc::new(Mutex::new(BTreeMap::new()));
        let (sw, f, jwt) = (switches.clone(), files.clone(), jwt.to_string());
        let server = TestServer::start(move |req| handle(req, &jwt, &sw, &f));
        PinataServer { server, switches, files }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// CIDs stored, by file id.
    pub fn files(&self) -> BTreeMap<String, String> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

fn handle(req: &Request, jwt: &str, sw: &PinataSwitches, files: &Mutex<BTreeMap<String, String>>) -> Response {
    if req.bearer() != Some(jwt) {
        return Response::json(
            401,
            &json!({ "error": { "reason": "UNAUTHORIZED", "details": "Invalid authentication credentials" } }),
        );
    }
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/files") => {
            let parts = req.multipart();
            let field = |n: &str| {
                parts
                    .iter()
                    .find(|p| p.name == n && p.filename.is_none())
                    .map(|p| String::from_utf8_lossy(&p.body).into_owned())
            };
            let Some(file) = parts.iter().find(|p| p.name == "file" && p.filename.is_some()) else {
                return Response::json(
                    400,
                    &json!({ "error": { "reason": "BAD_REQUEST", "details": "file is required" } }),
                );
            };
            let network = field("network").unwrap_or_else(|| "private".into());
            let car = field("car").is_some_and(|v| v == "true");
            if car && network != "public" {
                return Response::json(
                    400,
                    &json!({ "error": { "reason": "BAD_REQUEST", "details": "car uploads are only supported on the public network" } }),
                );
            }
            let cid = if car {
                let mut reader = match crate::car::CarReader::new(
                    Cursor::new(file.body.clone()),
                    std::path::Path::new("<upload>"),
                ) {
                    Ok(r) => r,
                    Err(e) => {
                        return Response::json(
                            400,
                            &json!({ "error": { "reason": "BAD_REQUEST", "details": e.to_string() } }),
                        );
                    }
                };
                let root = reader.roots().first().copied();
                loop {
                    match reader.next_block() {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => {
                            return Response::json(
                                400,
                                &json!({ "error": { "reason": "BAD_REQUEST", "details": e.to_string() } }),
                            );
                        }
                    }
                }
                match root {
                    Some(r) => r,
                    None => {
                        return Response::json(
                            400,
                            &json!({ "error": { "reason": "BAD_REQUEST", "details": "CAR has no root" } }),
                        );
                    }
                }
            } else {
                crate::cid_of_bytes(&file.body, Layout::V1)
            };
            let reported = if sw.wrong_cid.load(Ordering::SeqCst) {
                crate::cid_of_bytes(b"something else", Layout::V1)
            } else {
                cid
            };
            let mut f = files.lock().unwrap_or_else(PoisonError::into_inner);
            let duplicate = f.values().any(|c| *c == reported.to_string());
            let id = format!("0195f815-{:04}-7000-8000-000000000000", f.len() + 1);
            f.insert(id.clone(), reported.to_string());
            Response::json(
                200,
                &json!({ "data": {
                    "id": id,
                    "name": field("name").unwrap_or_default(),
                    "cid": reported.to_string(),
                    "created_at": "2025-01-01T00:00:00.000Z",
                    "size": file.body.len(),
                    "number_of_files": 1,
                    "mime_type": if car { "application/vnd.ipld.car" } else { "application/octet-stream" },
                    "group_id": null,
                    "keyvalues": {},
                    "vectorized": false,
                    "network": network,
                    "is_duplicate": duplicate,
                } }),
            )
        }
        ("GET", "/files/public") => {
            let want = req.query("cid");
            let f = files.lock().unwrap_or_else(PoisonError::into_inner);
            let list: Vec<_> = f
                .iter()
                .filter(|(_, c)| want.is_none_or(|w| w == c.as_str()))
                .map(|(id, c)| json!({ "id": id, "cid": c, "network": "public" }))
                .collect();
            Response::json(200, &json!({ "data": { "files": list, "next_page_token": "" } }))
        }
        _ => Response::json(404, &json!({ "error": { "reason": "NOT_FOUND", "details": "no such route" } })),
    }
}
