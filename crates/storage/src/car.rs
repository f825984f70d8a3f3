//! CAR v1 (Content Addressable aRchive): the format pinning services and `ipfs dag import`
//! take. A CAR is a varint-framed dag-cbor header `{roots: [CID], version: 1}` followed by
//! varint-framed sections `CID bytes ++ block bytes`.
//!
//! [`CarWriter`] writes one; [`CarReader`] reads one and checks every block against its CID;
//! [`verify_file`] checks a whole file before anything is trusted.

use std::fs;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use cid::Cid;
use serde::{Deserialize, Serialize};

use crate::block::{self, Block, BlockError};
use crate::error::StorageError;

/// Largest header or section accepted: far above any real block (Kubo refuses blocks over
/// 2 MiB for transfer), low enough that a damaged length cannot exhaust memory.
pub const MAX_SECTION: u64 = 32 << 20;

/// What a CAR held or was written with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarSummary {
    #[serde(with = "cid_list")]
    pub roots: Vec<Cid>,
    pub blocks: u64,
    /// Bytes of the CAR file.
    pub bytes: u64,
}

/// What [`crate::LocalStore::import_car`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedCar {
    #[serde(with = "cid_list")]
    pub roots: Vec<Cid>,
    pub blocks: u64,
    /// Blocks that were not in the store before.
    pub new_blocks: u64,
    pub bytes: u64,
}

mod cid_list {
    use cid::Cid;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(cids: &[Cid], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(cids.iter().map(|c| c.to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Cid>, D::Error> {
        Vec::<String>::deserialize(d)?.iter().map(|s| Cid::try_from(s.as_str()).map_err(D::Error::custom)).collect()
    }
}

fn put_uvarint(out: &mut Vec<u8>, v: u64) {
    crate::pb::put_varint(out, v)
}

/// The dag-cbor header `{"roots": [..], "version": 1}` (keys in canonical order).
pub fn encode_header(roots: &[Cid]) -> Vec<u8> {
    fn cbor_head(out: &mut Vec<u8>, major: u8, v: u64) {
        let m = major << 5;
        match v {
            0..=23 => out.push(m | v as u8),
            24..=0xff => out.extend_from_slice(&[m | 24, v as u8]),
            0x100..=0xffff => {
                out.push(m | 25);
                out.extend_from_slice(&(v as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(m | 26);
                out.extend_from_slice(&(v as u32).to_be_bytes());
            }
            _ => {
                out.push(m | 27);
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
    }
    let mut h = Vec::new();
    cbor_head(&mut h, 5, 2);
    cbor_head(&mut h, 3, 5);
    h.extend_from_slice(b"roots");
    cbor_head(&mut h, 4, roots.len() as u64);
    for root in roots {
        let bytes = root.to_bytes();
        cbor_head(&mut h, 6, 42);
        cbor_head(&mut h, 2, bytes.len() as u64 + 1);
        h.push(0); // multibase identity prefix, as the dag-cbor CID tag requires
        h.extend_from_slice(&bytes);
    }
    cbor_head(&mut h, 3, 7);
    h.extend_from_slice(b"version");
    cbor_head(&mut h, 0, 1);
    h
}

/// Writes a CAR v1 section by section.
pub struct CarWriter<'w> {
    out: &'w mut dyn Write,
    roots: Vec<Cid>,
    blocks: u64,
    bytes: u64,
    frame: Vec<u8>,
}

impl<'w> CarWriter<'w> {
    pub fn new(out: &'w mut dyn Write, roots: &[Cid]) -> io::Result<Self> {
        let header = encode_header(roots);
        let mut frame = Vec::with_capacity(16);
        put_uvarint(&mut frame, header.len() as u64);
        out.write_all(&frame)?;
        out.write_all(&header)?;
        let bytes = (frame.len() + header.len()) as u64;
        Ok(Self { out, roots: roots.to_vec(), blocks: 0, bytes, frame })
    }

    pub fn write_block(&mut self, cid: &Cid, data: &[u8]) -> io::Result<()> {
        let cid_bytes = cid.to_bytes();
        self.frame.clear();
        put_uvarint(&mut self.frame, (cid_bytes.len() + data.len()) as u64);
        self.out.write_all(&self.frame)?;
        self.out.write_all(&cid_bytes)?;
        self.out.write_all(data)?;
        self.blocks += 1;
        self.bytes += (self.frame.len() + cid_bytes.len() + data.len()) as u64;
        Ok(())
    }

    pub fn finish(self) -> CarSummary {
        let _ = self.out.flush();
        CarSummary { roots: self.roots, blocks: self.blocks, bytes: self.bytes }
    }
}

/// Reads a CAR v1, checking every block against its CID.
pub struct CarReader<R: Read> {
    input: R,
    path: PathBuf,
    roots: Vec<Cid>,
    index: u64,
    bytes: u64,
}

impl<R: Read> CarReader<R> {
    /// Reads the header. `path` only names the CAR in errors.
    pub fn new(mut input: R, path: &Path) -> Result<Self, StorageError> {
        let bad = |reason: String| StorageError::BadCar { path: path.to_path_buf(), reason };
        let (len, n) = read_uvarint(&mut input)
            .map_err(|e| bad(format!("cannot read the header length: {e}")))?
            .ok_or_else(|| bad("the file is empty".into()))?;
        if len == 0 || len > MAX_SECTION {
            return Err(bad(format!("header length {len} is not plausible: this is not a CAR file")));
        }
        let mut header = vec![0; len as usize];
        input.read_exact(&mut header).map_err(|e| bad(format!("truncated header: {e}")))?;
        let (roots, version) = decode_header(&header).map_err(|r| bad(format!("bad header: {r}")))?;
        match version {
            1 => {}
            2 => {
                return Err(bad(
                    "this is a CAR v2; only CAR v1 is supported (convert it with `car`/`ipfs dag export`)".into(),
                ));
            }
            v => return Err(bad(format!("unknown CAR version {v}"))),
        }
        if roots.is_empty() {
            return Err(bad("the header lists no root".into()));
        }
        Ok(Self { input, path: path.to_path_buf(), roots, index: 0, bytes: n as u64 + len })
    }

    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// The next block, verified; `None` at the end of the file.
    pub fn next_block(&mut self) -> Result<Option<Block>, StorageError> {
        let path = self.path.clone();
        let bad = |reason: String| StorageError::BadCar { path: path.clone(), reason };
        let index = self.index;
        let Some((len, n)) = read_uvarint(&mut self.input).map_err(|e| bad(format!("block #{index}: {e}")))? else {
            return Ok(None);
        };
        if len == 0 || len > MAX_SECTION {
            return Err(bad(format!("block #{index} has an implausible length {len}")));
        }
        let mut section = vec![0; len as usize];
        self.input.read_exact(&mut section).map_err(|e| bad(format!("block #{index} is truncated: {e}")))?;
        let mut cursor = io::Cursor::new(&section[..]);
        let cid =
            Cid::read_bytes(&mut cursor).map_err(|e| bad(format!("block #{index} starts with no valid CID: {e}")))?;
        let data = section.split_off(cursor.position() as usize);
        match block::verify(&cid, &data) {
            Ok(()) => {}
            Err(BlockError::Mismatch { found, .. }) => {
                return Err(StorageError::BadCarBlock {
                    path: self.path.clone(),
                    cid,
                    index,
                    found: found.to_string(),
                });
            }
            Err(BlockError::UnsupportedHash { code, .. }) => {
                return Err(StorageError::UnsupportedFormat { cid, what: "hash function", code });
            }
        }
        self.index += 1;
        self.bytes += n as u64 + len;
        Ok(Some(Block { cid, data }))
    }
}

/// Reads a whole CAR file and checks every block; nothing is stored.
pub fn verify_file(path: &Path) -> Result<CarSummary, StorageError> {
    let f = fs::File::open(path).map_err(StorageError::io(path))?;
    let mut reader = CarReader::new(BufReader::with_capacity(1 << 20, f), path)?;
    let mut blocks = 0;
    while reader.next_block()?.is_some() {
        blocks += 1;
    }
    Ok(CarSummary { roots: reader.roots.clone(), blocks, bytes: reader.bytes })
}

/// An unsigned LEB128 varint; `None` at a clean end of input.
fn read_uvarint(r: &mut dyn Read) -> io::Result<Option<(u64, usize)>> {
    let mut value = 0u64;
    let mut byte = [0u8; 1];
    for i in 0..10 {
        match r.read(&mut byte) {
            Ok(0) if i == 0 => return Ok(None),
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated varint")),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        value |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "varint longer than 10 bytes"))
}

// ---------------------------------------------------------------- a minimal dag-cbor reader

enum Value {
    Uint(u64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Tag(u64, Box<Value>),
    Simple,
}

fn decode_header(buf: &[u8]) -> Result<(Vec<Cid>, u64), String> {
    let mut pos = 0;
    let value = cbor_value(buf, &mut pos, 0)?;
    if pos != buf.len() {
        return Err("trailing bytes after the header".into());
    }
    let Value::Map(entries) = value else { return Err("the header is not a map".into()) };
    let (mut roots, mut version) = (Vec::new(), None);
    for (k, v) in entries {
        match (k, v) {
            (Value::Text(k), Value::Uint(n)) if k == "version" => version = Some(n),
            (Value::Text(k), Value::Array(items)) if k == "roots" => {
                for item in items {
                    let Value::Tag(42, inner) = item else { return Err("a root is not a CID".into()) };
                    let Value::Bytes(bytes) = *inner else { return Err("a root is not a CID".into()) };
                    if bytes.first() != Some(&0) {
                        return Err("a root CID lacks its 0x00 prefix".into());
                    }
                    roots.push(Cid::try_from(&bytes[1..]).map_err(|e| format!("bad root CID: {e}"))?);
                }
            }
            _ => {}
        }
    }
    Ok((roots, version.ok_or("the header has no version")?))
}

fn cbor_value(buf: &[u8], pos: &mut usize, depth: u32) -> Result<Value, String> {
    if depth > 16 {
        return Err("nested too deeply".into());
    }
    let first = *buf.get(*pos).ok_or("truncated")?;
    *pos += 1;
    let (major, info) = (first >> 5, first & 0x1f);
    let arg = match info {
        0..=23 => u64::from(info),
        24..=27 => {
            let n = 1usize << (info - 24);
            let bytes = buf.get(*pos..*pos + n).ok_or("truncated")?;
            *pos += n;
            bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        }
        _ => return Err("indefinite lengths are not allowed in dag-cbor".into()),
    };
    let take = |pos: &mut usize, n: u64| -> Result<Vec<u8>, String> {
        let n = usize::try_from(n).map_err(|_| "too long")?;
        let end = pos.checked_add(n).ok_or("too long")?;
        let out = buf.get(*pos..end).ok_or("truncated")?.to_vec();
        *pos = end;
        Ok(out)
    };
    Ok(match major {
        0 => Value::Uint(arg),
        1 => Value::Simple,
        2 => Value::Bytes(take(pos, arg)?),
        3 => Value::Text(String::from_utf8(take(pos, arg)?).map_err(|_| "text is not UTF-8")?),
        4 => {
            let mut items = Vec::new();
            for _ in 0..arg.min(1 << 16) {
                items.push(cbor_value(buf, pos, depth + 1)?);
            }
            Value::Array(items)
        }
        5 => {
            let mut items = Vec::new();
            for _ in 0..arg.min(1 << 16) {
                let k = cbor_value(buf, pos, depth + 1)?;
                let v = cbor_value(buf, pos, depth + 1)?;
                items.push((k, v));
            }
            Value::Map(items)
        }
        6 => Value::Tag(arg, Box::new(cbor_value(buf, pos, depth + 1)?)),
        _ => Value::Simple,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_matches_the_spec_bytes() {
        let root = Cid::try_from("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku").unwrap();
        let h = encode_header(&[root]);
        assert_eq!(&h[..8], &[0xa2, 0x65, b'r', b'o', b'o', b't', b's', 0x81]);
        assert_eq!(&h[8..11], &[0xd8, 0x2a, 0x58]);
        assert_eq!(&h[h.len() - 9..], &[0x67, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x01]);
        assert_eq!(decode_header(&h).unwrap(), (vec![root], 1));
    }

    #[test]
    fn write_then_read() {
        let data = b"hello car".to_vec();
        let cid = block::cid_for(cid::Version::V1, block::RAW, &data);
        let mut out = Vec::new();
        let mut w = CarWriter::new(&mut out, &[cid]).unwrap();
        w.write_block(&cid, &data).unwrap();
        let summary = w.finish();
        assert_eq!(summary.bytes, out.len() as u64);
        let mut r = CarReader::new(&out[..], Path::new("mem.car")).unwrap();
        assert_eq!(r.roots(), &[cid]);
        assert_eq!(r.next_block().unwrap().unwrap().data, data);
        assert!(r.next_block().unwrap().is_none());

        // one flipped byte in the block: refused, naming the CID
        let n = out.len();
        out[n - 1] ^= 1;
        let mut r = CarReader::new(&out[..], Path::new("mem.car")).unwrap();
        let err = r.next_block().unwrap_err();
        assert!(err.to_string().contains(&cid.to_string()), "{err}");
    }
}
