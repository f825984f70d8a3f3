//! Test support for the remote backends (feature `testkit`; never in the app):
//!
//! - [`TestServer`]: a tiny HTTP/1.1 server on `127.0.0.1:0` that records every request and
//!   can inject faults (status codes with `Retry-After`, hangs) before its handler runs;
//! - contract servers that follow the published specs closely enough to test our clients
//!   against them — [`kubo::KuboServer`] (RPC `add`, `dag/import`, `pin/*`, with a real
//!   in-memory blockstore and CIDs computed from the bytes received), [`psa::PsaServer`]
//!   (Pinning Services API state machine) and [`pinata::PinataServer`] (v3 uploads of CARs);
//! - the arlocal helpers: [`arlocal_url`] and a throwaway [`ARLOCAL_TEST_WALLET`].

pub mod kubo;
pub mod pinata;
pub mod psa;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// A JWK for tests against arlocal only (generated for this purpose; it holds nothing on any
/// real network and must never be funded there).
pub const ARLOCAL_TEST_WALLET: &str = include_str!("arlocal-test-wallet.json");

/// A second throwaway JWK that tests never fund (for "insufficient funds").
pub const ARLOCAL_UNFUNDED_WALLET: &str = include_str!("arlocal-test-wallet-unfunded.json");

/// The arlocal URL tests use: `CHRYSALIS_ARLOCAL_URL` (default `http://127.0.0.1:1984`).
/// Returns `None` when `CHRYSALIS_SKIP_ARLOCAL=1`; **panics** with instructions when arlocal
/// does not answer, so a missing server fails the suite instead of skipping silently.
pub fn arlocal_url() -> Option<String> {
    if std::env::var("CHRYSALIS_SKIP_ARLOCAL").is_ok_and(|v| v == "1") {
        eprintln!("CHRYSALIS_SKIP_ARLOCAL=1: skipping a test that needs arlocal");
        return None;
    }
    let url = std::env::var("CHRYSALIS_ARLOCAL_URL").unwrap_or_else(|_| super::arweave::ARLOCAL_ENDPOINT.to_string());
    let url = url.trim_end_matches('/').to_string();
    let probe = ureq::get(format!("{url}/info")).config().timeout_global(Some(Duration::from_secs(5))).build().call();
    match probe {
        Ok(r) if r.status().is_success() => Some(url),
        other => panic!(
            "arlocal is not reachable at {url} ({}).\n\
             Start it with `tools/arlocal/start.sh` (stop with `tools/arlocal/stop.sh`), point \
             CHRYSALIS_ARLOCAL_URL at another one, or set CHRYSALIS_SKIP_ARLOCAL=1 to skip the \
             Arweave tests.",
            match other {
                Ok(r) => format!("HTTP {}", r.status()),
                Err(e) => e.to_string(),
            }
        ),
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The bearer token, if any.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization").and_then(|v| v.strip_prefix("Bearer "))
    }

    /// The parts of a `multipart/form-data` body.
    pub fn multipart(&self) -> Vec<Part> {
        let Some(ct) = self.header("content-type") else { return Vec::new() };
        let Some(boundary) = ct.split("boundary=").nth(1) else { return Vec::new() };
        parse_multipart(&self.body, boundary.trim_matches('"'))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One part of a multipart body.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut pos = match find(body, &delim, 0) {
        Some(p) => p + delim.len(),
        None => return parts,
    };
    loop {
        if body[pos..].starts_with(b"--") {
            break;
        }
        pos += 2; // CRLF after the delimiter
        let Some(head_end) = find(body, b"\r\n\r\n", pos) else { break };
        let head = String::from_utf8_lossy(&body[pos..head_end]).into_owned();
        let start = head_end + 4;
        let mut end_delim = b"\r\n".to_vec();
        end_delim.extend_from_slice(&delim);
        let Some(end) = find(body, &end_delim, start) else { break };
        let mut part =
            Part { name: String::new(), filename: None, content_type: None, body: body[start..end].to_vec() };
        for line in head.split("\r\n") {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                for attr in line.split(';').skip(1) {
                    let (k, v) = attr.trim().split_once('=').unwrap_or((attr.trim(), ""));
                    let v = v.trim_matches('"').to_string();
                    match k {
                        "name" => part.name = v,
                        "filename" => part.filename = Some(percent_decode(&v)),
                        _ => {}
                    }
                }
            } else if lower.starts_with("content-type:") {
                part.content_type = Some(line[13..].trim().to_string());
            }
        }
        parts.push(part);
        pos = end + end_delim.len();
    }
    parts
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// A response to send.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(value).expect("json"),
        }
    }

    pub fn text(status: u16, text: &str) -> Response {
        Response { status, headers: vec![("Content-Type".into(), "text/plain".into())], body: text.as_bytes().to_vec() }
    }

    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What to do instead of handling a request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status (and `Retry-After` when given).
    Status { status: u16, retry_after: Option<String>, body: String },
    /// Never answer (until the server is dropped): for kill-in-the-middle tests.
    Hang,
}

struct FaultRule {
    path_contains: String,
    /// Requests matching this rule to let through before the fault applies.
    skip: usize,
    remaining: usize,
    fault: Fault,
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

struct Shared {
    log: Mutex<Vec<Request>>,
    faults: Mutex<Vec<FaultRule>>,
    stop: AtomicBool,
}

/// A local HTTP server for tests (see the module docs). Dropping it stops it.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let handler: Arc<Handler> = Arc::new(handler);
        let s2 = shared.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s2.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (shared, handler) = (s2.clone(), handler.clone());
                std::thread::spawn(move || serve(conn, &shared, &*handler));
            }
        });
        TestServer { addr, shared, thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.log.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many requests hit a path containing `part`.
    pub fn count(&self, part: &str) -> usize {
        self.shared.log.lock().unwrap_or_else(PoisonError::into_inner).iter().filter(|r| r.path.contains(part)).count()
    }

    pub fn clear_log(&self) {
        self.shared.log.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// After `skip` matching requests go through, the next `times` requests whose path contains
    /// `path_contains` get `fault` instead of the handler.
    pub fn inject(&self, path_contains: &str, skip: usize, times: usize, fault: Fault) {
        self.shared.faults.lock().unwrap_or_else(PoisonError::into_inner).push(FaultRule {
            path_contains: path_contains.into(),
            skip,
            remaining: times,
            fault,
        });
    }

    /// Shorthand: the next `times` matching requests get `status` (with `Retry-After`).
    pub fn fail_next(&self, path_contains: &str, times: usize, status: u16, retry_after: Option<&str>) {
        self.inject(
            path_contains,
            0,
            times,
            Fault::Status { status, retry_after: retry_after.map(str::to_string), body: format!("injected {status}") },
        );
    }

    /// Removes every pending fault (and releases hung requests).
    pub fn clear_faults(&self) {
        self.shared.faults.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, shared: &Shared, handler: &Handler) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut out = conn;
    let Some(req) = read_request(&mut reader) else { return };
    shared.log.lock().unwrap_or_else(PoisonError::into_inner).push(req.clone());
    let fault = {
        let mut faults = shared.faults.lock().unwrap_or_else(PoisonError::into_inner);
        let mut chosen = None;
        for rule in faults.iter_mut() {
            if rule.remaining == 0 || !req.path.contains(&rule.path_contains) {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            rule.remaining -= 1;
            chosen = Some(rule.fault.clone());
            break;
        }
        chosen
    };
    let resp = match fault {
        Some(Fault::Hang) => {
            while !shared.stop.load(Ordering::SeqCst)
                && !shared.faults.lock().unwrap_or_else(PoisonError::into_inner).is_empty()
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            return;
        }
        Some(Fault::Status { status, retry_after, body }) => {
            let mut r = Response::json(status, &serde_json::json!({ "Message": body, "error": { "reason": body } }));
            if let Some(ra) = retry_after {
                r = r.header("Retry-After", &ra);
            }
            r
        }
        None => handler(&req),
    };
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", resp.body.len()));
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&resp.body);
    let _ = out.flush();
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut it = line.split_whitespace();
    let method = it.next()?.to_string();
    let target = it.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let get = |name: &str| {
        headers.iter().find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            if n == 0 {
                let mut end = String::new();
                r.read_line(&mut end).ok()?;
                break;
            }
            let mut chunk = vec![0u8; n];
            r.read_exact(&mut chunk).ok()?;
            body.extend_from_slice(&chunk);
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).ok()?;
        }
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body = vec![0u8; len];
        r.read_exact(&mut body).ok()?;
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target, Vec::new()),
    };
    Some(Request { method, path, query, headers, body })
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(&k.replace('+', " ")), percent_decode(&v.replace('+', " ")))
        })
        .collect()
}

/// A queue of values handed out one per call, the last one repeating.
#[derive(Debug)]
pub struct Script<T: Clone>(Mutex<VecDeque<T>>);

impl<T: Clone> Script<T> {
    pub fn new(items: impl IntoIterator<Item = T>) -> Self {
        Script(Mutex::new(items.into_iter().collect()))
    }

    pub fn next(&self) -> Option<T> {
        let mut q = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if q.len() > 1 { q.pop_front() } else { q.front().cloned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_round_trip() {
        let form = crate::remote::multipart::Multipart::new().text("network", "public").bytes(
            "file",
            "a/b c.txt",
            "text/plain",
            b"hello\r\n--x".to_vec(),
        );
        let ct = form.content_type();
        let mut body = Vec::new();
        form.into_reader().read_to_end(&mut body).unwrap();
        let req = Request {
            method: "POST".into(),
            path: "/".into(),
            query: vec![],
            headers: vec![("Content-Type".into(), ct)],
            body,
        };
        let parts = req.multipart();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "network");
        assert_eq!(parts[0].body, b"public");
        assert_eq!(parts[1].filename.as_deref(), Some("a/b c.txt"));
        assert_eq!(parts[1].body, b"hello\r\n--x");
    }
}
