//! The HTTP plumbing every backend shares: one `ureq` agent, bearer auth that never leaks,
//! status codes mapped to [`RemoteError`]s (429 with its `Retry-After`), and request bodies
//! that report progress and stop on cancel.

use std::io::{self, Read};
use std::time::{Duration, SystemTime};

use chrysalis_core::CancelToken;
use serde::de::DeserializeOwned;
use ureq::http::Response;
use ureq::{Body, SendBody};

use super::{BackendKind, RemoteError, RetryPolicy, Secret};

/// Largest error body we keep in a message.
const ERROR_BODY_CHARS: usize = 400;
/// Largest JSON answer we parse (pin lists, Arweave transactions).
const JSON_LIMIT: u64 = 32 * 1024 * 1024;

/// A client for one backend endpoint.
pub(crate) struct Http {
    agent: ureq::Agent,
    pub backend: BackendKind,
    /// Base URL without a trailing slash.
    pub base: String,
    auth: Option<Secret>,
    /// Said when the remote answers 401/403: which variable to set.
    auth_hint: String,
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("backend", &self.backend)
            .field("base", &self.base)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("retry", &self.retry)
            .finish()
    }
}

impl Http {
    pub fn new(backend: BackendKind, base: &str, auth: Option<Secret>, auth_hint: impl Into<String>) -> Http {
        let base = base.trim().trim_end_matches('/').to_string();
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("chrysalis/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(600)))
            .timeout_recv_body(Some(Duration::from_secs(600)))
            .max_idle_connections_per_host(8);
        if is_loopback(&base) {
            // Never send a local node's traffic (or its token) through a proxy.
            config = config.proxy(None);
        }
        Http {
            agent: config.build().new_agent(),
            backend,
            base,
            auth,
            auth_hint: auth_hint.into(),
            retry: RetryPolicy::default(),
        }
    }

    /// `base` + `path` (a path starting with `/`), or `path` itself when it is a full URL.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    fn auth_header(&self) -> Option<String> {
        self.auth.as_ref().map(|s| format!("Bearer {}", s.expose()))
    }

    pub fn get(&self, path: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let mut req = self.agent.get(self.url(path));
        if let Some(a) = self.auth_header() {
            req = req.header("Authorization", a);
        }
        req
    }

    pub fn post(&self, path: &str) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let mut req = self.agent.post(self.url(path));
        if let Some(a) = self.auth_header() {
            req = req.header("Authorization", a);
        }
        req
    }

    /// Turns a transport result into a response with a 2xx status, or the matching error.
    pub fn check(
        &self,
        what: &str,
        result: Result<Response<Body>, ureq::Error>,
    ) -> Result<Response<Body>, RemoteError> {
        let mut resp = result.map_err(|e| self.transport(&e))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let message = error_message(&mut resp);
        let backend = self.backend;
        Err(match status {
            401 | 403 => RemoteError::Unauthorized { backend, status, hint: self.auth_hint.clone() },
            429 => RemoteError::RateLimited { backend, retry_after },
            408 | 500..=599 => RemoteError::Server { backend, status, what: what.to_string(), message },
            _ => RemoteError::Rejected { backend, status, what: what.to_string(), message },
        })
    }

    fn transport(&self, e: &ureq::Error) -> RemoteError {
        RemoteError::Transport { backend: self.backend, endpoint: self.base.clone(), message: e.to_string() }
    }

    pub fn protocol(&self, what: &str, message: impl std::fmt::Display) -> RemoteError {
        RemoteError::Protocol { backend: self.backend, what: what.to_string(), message: message.to_string() }
    }

    /// Reads a JSON body.
    pub fn json<T: DeserializeOwned>(&self, what: &str, mut resp: Response<Body>) -> Result<T, RemoteError> {
        let text = resp.body_mut().with_config().limit(JSON_LIMIT).read_to_string().map_err(|e| self.transport(&e))?;
        serde_json::from_str(&text).map_err(|e| self.protocol(what, format!("{e}: {}", snippet(&text))))
    }

    /// Reads a text body.
    pub fn text(&self, mut resp: Response<Body>) -> Result<String, RemoteError> {
        resp.body_mut().with_config().limit(JSON_LIMIT).read_to_string().map_err(|e| self.transport(&e))
    }
}

fn error_message(resp: &mut Response<Body>) -> String {
    let text = resp.body_mut().with_config().limit(64 * 1024).lossy_utf8(true).read_to_string().unwrap_or_default();
    // Kubo: {"Message": ...}; PSA: {"error": {"reason", "details"}}; Pinata: {"error": {...}}
    // or {"error": "..."}; arlocal: plain text.
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        let pick = |v: &serde_json::Value| -> Option<String> {
            if let Some(s) = v.get("Message").and_then(|m| m.as_str()) {
                return Some(s.to_string());
            }
            match v.get("error") {
                Some(serde_json::Value::String(s)) => return Some(s.clone()),
                Some(e @ serde_json::Value::Object(_)) => {
                    let reason = e.get("reason").and_then(|r| r.as_str()).unwrap_or_default();
                    let details = e.get("details").and_then(|r| r.as_str()).unwrap_or_default();
                    let msg =
                        [reason, details].iter().filter(|s| !s.is_empty()).cloned().collect::<Vec<_>>().join(": ");
                    if !msg.is_empty() {
                        return Some(msg);
                    }
                }
                _ => {}
            }
            v.get("message").and_then(|m| m.as_str()).map(str::to_string)
        };
        if let Some(m) = pick(&v) {
            return snippet(&m);
        }
    }
    let t = text.trim();
    if t.is_empty() { "(no details)".to_string() } else { snippet(t) }
}

pub(crate) fn snippet(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= ERROR_BODY_CHARS {
        s.to_string()
    } else {
        let cut: String = s.chars().take(ERROR_BODY_CHARS).collect();
        format!("{cut}…")
    }
}

/// `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// IMF-fixdate, the form every current server sends: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let (_, rest) = s.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let (h, m, sec): (u64, u64, u64) =
        (hms.next()?.parse().ok()?, hms.next()?.parse().ok()?, hms.next()?.parse().ok()?);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
    let (y, mo) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * mo as i64 + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days.checked_mul(86_400)? + (h * 3600 + m * 60 + sec) as i64;
    if secs < 0 {
        return Some(SystemTime::UNIX_EPOCH);
    }
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64))
}

fn is_loopback(base: &str) -> bool {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = if let Some(h) = host.strip_prefix('[') {
        h.split(']').next().unwrap_or(h)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    host == "localhost" || host.starts_with("127.") || host == "::1"
}

/// A request body read from `inner` that reports every chunk sent and stops when `cancel`
/// is set (the request then fails and the caller sees [`chrysalis_core::Cancelled`]).
pub(crate) struct ProgressReader<'a, R> {
    pub inner: R,
    pub on_bytes: &'a (dyn Fn(u64) + Sync),
    pub cancel: &'a CancelToken,
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(io::Error::other("cancelled"));
        }
        let n = self.inner.read(buf)?;
        (self.on_bytes)(n as u64);
        Ok(n)
    }
}

/// Sends `body` (of `len` bytes) with `content_type`, reporting progress.
pub(crate) fn send_reader<R: Read>(
    req: ureq::RequestBuilder<ureq::typestate::WithBody>,
    content_type: &str,
    len: u64,
    body: &mut ProgressReader<'_, R>,
) -> Result<Response<Body>, ureq::Error> {
    req.header("Content-Type", content_type).header("Content-Length", len.to_string()).send(SendBody::from_reader(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        // A date in the past means "now".
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777)
        );
        let future = parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT").unwrap();
        assert!(future > Duration::from_secs(60 * 60 * 24 * 365 * 50));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("http://127.0.0.1:5001"));
        assert!(is_loopback("http://localhost:1984/"));
        assert!(is_loopback("http://[::1]:5001"));
        assert!(!is_loopback("https://api.pinata.cloud/psa"));
    }

    #[test]
    fn debug_hides_the_token() {
        let h = Http::new(BackendKind::Psa, "https://x/", Some(Secret::new("tok-123")), "set X");
        let d = format!("{h:?}");
        assert!(!d.contains("tok-123"), "{d}");
        assert_eq!(h.url("/pins"), "https://x/pins");
    }
}
