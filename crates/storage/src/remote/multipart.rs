//! `multipart/form-data` bodies (RFC 7578) streamed from disk with a known length, so uploads
//! of any size run in constant memory and can send `Content-Length`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

enum Body {
    Bytes(Vec<u8>),
    File { path: PathBuf, len: u64 },
}

struct Part {
    head: Vec<u8>,
    body: Body,
}

/// A form being built.
pub(crate) struct Multipart {
    boundary: String,
    parts: Vec<Part>,
}

impl Multipart {
    pub fn new() -> Multipart {
        let boundary = format!("chrysalis-{:016x}{:016x}", super::retry::random_u64(), super::retry::random_u64());
        Multipart { boundary, parts: Vec::new() }
    }

    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    fn head(&self, name: &str, filename: Option<&str>, content_type: Option<&str>) -> Vec<u8> {
        let mut h = format!("--{}\r\nContent-Disposition: form-data; name=\"{}\"", self.boundary, escape(name));
        if let Some(f) = filename {
            h.push_str(&format!("; filename=\"{}\"", escape(f)));
        }
        h.push_str("\r\n");
        if let Some(ct) = content_type {
            h.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        h.push_str("\r\n");
        h.into_bytes()
    }

    /// A plain form field.
    pub fn text(mut self, name: &str, value: &str) -> Self {
        let head = self.head(name, None, None);
        self.parts.push(Part { head, body: Body::Bytes(value.as_bytes().to_vec()) });
        self
    }

    /// A file field read from disk when the body is sent; `len` is its size now (a file that
    /// changes size before it is sent fails the upload rather than sending something else).
    pub fn file(mut self, name: &str, filename: &str, content_type: &str, path: PathBuf, len: u64) -> Self {
        let head = self.head(name, Some(filename), Some(content_type));
        self.parts.push(Part { head, body: Body::File { path, len } });
        self
    }

    /// A file field from memory.
    #[cfg(test)]
    pub fn bytes(mut self, name: &str, filename: &str, content_type: &str, data: Vec<u8>) -> Self {
        let head = self.head(name, Some(filename), Some(content_type));
        self.parts.push(Part { head, body: Body::Bytes(data) });
        self
    }

    fn closing(&self) -> Vec<u8> {
        format!("--{}--\r\n", self.boundary).into_bytes()
    }

    /// The body's exact length in bytes.
    pub fn len(&self) -> u64 {
        let parts: u64 = self
            .parts
            .iter()
            .map(|p| {
                let body = match &p.body {
                    Body::Bytes(b) => b.len() as u64,
                    Body::File { len, .. } => *len,
                };
                p.head.len() as u64 + body + 2
            })
            .sum();
        parts + self.closing().len() as u64
    }

    /// The body as a reader.
    pub fn into_reader(self) -> MultipartReader {
        let closing = self.closing();
        let mut segments = VecDeque::new();
        for p in self.parts {
            segments.push_back(Segment::Mem(io::Cursor::new(p.head)));
            segments.push_back(match p.body {
                Body::Bytes(b) => Segment::Mem(io::Cursor::new(b)),
                Body::File { path, len } => Segment::File { path, remaining: len, file: None },
            });
            segments.push_back(Segment::Mem(io::Cursor::new(b"\r\n".to_vec())));
        }
        segments.push_back(Segment::Mem(io::Cursor::new(closing)));
        MultipartReader { segments }
    }
}

/// Field names and file names go inside double quotes: percent-encode what could break out
/// of them (and anything non-ASCII), as browsers and Kubo's own client do.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~ ()+,;=@[]!$&'".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

enum Segment {
    Mem(io::Cursor<Vec<u8>>),
    File { path: PathBuf, remaining: u64, file: Option<File> },
}

pub(crate) struct MultipartReader {
    segments: VecDeque<Segment>,
}

impl Read for MultipartReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(seg) = self.segments.front_mut() {
            let n = match seg {
                Segment::Mem(c) => c.read(buf)?,
                Segment::File { path, remaining, file } => {
                    if *remaining == 0 {
                        0
                    } else {
                        if file.is_none() {
                            *file = Some(
                                File::open(&*path)
                                    .map_err(|e| io::Error::new(e.kind(), format!("`{}`: {e}", path.display())))?,
                            );
                        }
                        let want = buf.len().min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                        let n = file.as_mut().expect("opened above").read(&mut buf[..want])?;
                        if n == 0 {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                format!("`{}` got shorter while it was being uploaded", path.display()),
                            ));
                        }
                        *remaining -= n as u64;
                        n
                    }
                }
            };
            if n > 0 {
                return Ok(n);
            }
            self.segments.pop_front();
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_exact_and_body_is_well_formed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        std::fs::write(&path, vec![7u8; 100_000]).unwrap();
        let form = Multipart::new()
            .text("pinataOptions", "{\"cidVersion\":1}")
            .file("file", "dir/a \"b\".bin", "application/octet-stream", path, 100_000)
            .bytes("file", "c.txt", "text/plain", b"hi".to_vec());
        let ct = form.content_type();
        let len = form.len();
        let mut body = Vec::new();
        form.into_reader().read_to_end(&mut body).unwrap();
        assert_eq!(body.len() as u64, len);
        let boundary = ct.split("boundary=").nth(1).unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
        assert!(text.contains("filename=\"dir%2Fa %22b%22.bin\""), "{}", &text[..400]);
    }

    #[test]
    fn a_file_that_shrinks_fails_the_body() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        std::fs::write(&path, b"short").unwrap();
        let form = Multipart::new().file("file", "a", "x/y", path, 10);
        let err = form.into_reader().read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("shorter"));
    }
}
