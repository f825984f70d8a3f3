//! dag-pb (PBNode/PBLink) and UnixFS `Data` messages: just enough protobuf, written by hand
//! so the bytes are exactly Kubo's (links before data, fields in Kubo's order, empty link
//! names present) and decoding borrows from the block.

use cid::Cid;

/// UnixFS `Data.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Raw = 0,
    Directory = 1,
    File = 2,
    Metadata = 3,
    Symlink = 4,
    HamtShard = 5,
}

impl DataType {
    fn from_u64(v: u64) -> Option<Self> {
        Some(match v {
            0 => Self::Raw,
            1 => Self::Directory,
            2 => Self::File,
            3 => Self::Metadata,
            4 => Self::Symlink,
            5 => Self::HamtShard,
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------- encoding

pub fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes_field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_varint_field(out: &mut Vec<u8>, tag: u8, v: u64) {
    out.push(tag);
    put_varint(out, v);
}

/// A UnixFS `Data` message to encode. `None` fields are absent on the wire.
#[derive(Debug, Default)]
pub struct UnixFsOut<'a> {
    pub kind: Option<DataType>,
    pub data: Option<&'a [u8]>,
    pub filesize: Option<u64>,
    pub blocksizes: &'a [u64],
    pub hash_type: Option<u64>,
    pub fanout: Option<u64>,
}

impl UnixFsOut<'_> {
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(kind) = self.kind {
            put_varint_field(out, 0x08, kind as u64);
        }
        if let Some(data) = self.data {
            put_bytes_field(out, 0x12, data);
        }
        if let Some(size) = self.filesize {
            put_varint_field(out, 0x18, size);
        }
        for &b in self.blocksizes {
            put_varint_field(out, 0x20, b);
        }
        if let Some(h) = self.hash_type {
            put_varint_field(out, 0x28, h);
        }
        if let Some(f) = self.fanout {
            put_varint_field(out, 0x30, f);
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

/// The size on the wire of one PBLink inside a PBNode (tag + length + message), as Kubo's
/// `linkSerializedSize` computes it for IPIP-499 block-bytes estimation.
pub fn link_serialized_size(name_len: usize, cid_len: usize, tsize: u64) -> usize {
    let link =
        1 + varint_len(cid_len as u64) + cid_len + 1 + varint_len(name_len as u64) + name_len + 1 + varint_len(tsize);
    1 + varint_len(link as u64) + link
}

/// Encodes a PBNode: every link (Hash, Name, Tsize) first, then Data.
pub fn encode_node<'a>(links: impl IntoIterator<Item = (&'a Cid, &'a str, u64)>, data: &[u8], out: &mut Vec<u8>) {
    let mut cid_buf = Vec::with_capacity(40);
    let mut link = Vec::with_capacity(300);
    for (cid, name, tsize) in links {
        cid_buf.clear();
        cid.write_bytes(&mut cid_buf).expect("writing to a Vec cannot fail");
        link.clear();
        put_bytes_field(&mut link, 0x0a, &cid_buf);
        put_bytes_field(&mut link, 0x12, name.as_bytes());
        put_varint_field(&mut link, 0x18, tsize);
        put_bytes_field(out, 0x12, &link);
    }
    put_bytes_field(out, 0x0a, data);
}

// ---------------------------------------------------------------- decoding

/// Malformed protobuf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or_else(|| DecodeError("truncated varint".into()))?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError("varint longer than 10 bytes".into()))
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()? as usize;
        let end = self.pos.checked_add(len).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| DecodeError("length runs past the end of the message".into()))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn skip(&mut self, wire: u64) -> Result<(), DecodeError> {
        match wire {
            0 => {
                self.varint()?;
            }
            1 => self.pos += 8,
            2 => {
                self.bytes()?;
            }
            5 => self.pos += 4,
            w => return Err(DecodeError(format!("unsupported wire type {w}"))),
        }
        if self.pos > self.buf.len() {
            return Err(DecodeError("field runs past the end of the message".into()));
        }
        Ok(())
    }
}

/// A decoded PBLink, borrowing from the block.
#[derive(Debug, Clone)]
pub struct LinkIn<'a> {
    pub cid: Cid,
    pub name: &'a str,
    pub tsize: u64,
}

/// A decoded PBNode.
#[derive(Debug, Clone)]
pub struct NodeIn<'a> {
    pub links: Vec<LinkIn<'a>>,
    pub data: Option<&'a [u8]>,
}

pub fn decode_node(block: &[u8]) -> Result<NodeIn<'_>, DecodeError> {
    let mut r = Reader::new(block);
    let mut links = Vec::new();
    let mut data = None;
    while !r.done() {
        let key = r.varint()?;
        match (key >> 3, key & 7) {
            (2, 2) => links.push(decode_link(r.bytes()?)?),
            (1, 2) => data = Some(r.bytes()?),
            (_, wire) => r.skip(wire)?,
        }
    }
    Ok(NodeIn { links, data })
}

fn decode_link(buf: &[u8]) -> Result<LinkIn<'_>, DecodeError> {
    let mut r = Reader::new(buf);
    let (mut cid, mut name, mut tsize) = (None, "", 0);
    while !r.done() {
        let key = r.varint()?;
        match (key >> 3, key & 7) {
            (1, 2) => {
                let bytes = r.bytes()?;
                cid = Some(Cid::try_from(bytes).map_err(|e| DecodeError(format!("bad CID in link: {e}")))?);
            }
            (2, 2) => {
                name = std::str::from_utf8(r.bytes()?).map_err(|_| DecodeError("link name is not UTF-8".into()))?;
            }
            (3, 0) => tsize = r.varint()?,
            (_, wire) => r.skip(wire)?,
        }
    }
    let cid = cid.ok_or_else(|| DecodeError("link without a Hash".into()))?;
    Ok(LinkIn { cid, name, tsize })
}

/// A decoded UnixFS `Data` message.
#[derive(Debug, Clone)]
pub struct UnixFsIn<'a> {
    pub kind: DataType,
    pub data: &'a [u8],
    pub filesize: Option<u64>,
    pub blocksizes: Vec<u64>,
    pub hash_type: Option<u64>,
    pub fanout: Option<u64>,
}

pub fn decode_unixfs(buf: &[u8]) -> Result<UnixFsIn<'_>, DecodeError> {
    let mut r = Reader::new(buf);
    let mut out = UnixFsIn {
        kind: DataType::Raw,
        data: &[],
        filesize: None,
        blocksizes: Vec::new(),
        hash_type: None,
        fanout: None,
    };
    let mut has_type = false;
    while !r.done() {
        let key = r.varint()?;
        match (key >> 3, key & 7) {
            (1, 0) => {
                let v = r.varint()?;
                out.kind = DataType::from_u64(v).ok_or_else(|| DecodeError(format!("unknown UnixFS type {v}")))?;
                has_type = true;
            }
            (2, 2) => out.data = r.bytes()?,
            (3, 0) => out.filesize = Some(r.varint()?),
            (4, 0) => out.blocksizes.push(r.varint()?),
            (4, 2) => {
                let mut packed = Reader::new(r.bytes()?);
                while !packed.done() {
                    out.blocksizes.push(packed.varint()?);
                }
            }
            (5, 0) => out.hash_type = Some(r.varint()?),
            (6, 0) => out.fanout = Some(r.varint()?),
            (_, wire) => r.skip(wire)?,
        }
    }
    if !has_type {
        return Err(DecodeError("UnixFS data without a Type".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_and_dir_data_match_kubo_bytes() {
        let file = UnixFsOut { kind: Some(DataType::File), filesize: Some(0), ..Default::default() }.to_vec();
        assert_eq!(file, [0x08, 0x02, 0x18, 0x00]);
        let dir = UnixFsOut { kind: Some(DataType::Directory), ..Default::default() }.to_vec();
        let mut node = Vec::new();
        encode_node([], &dir, &mut node);
        assert_eq!(node, [0x0a, 0x02, 0x08, 0x01]);
        let parsed = decode_node(&node).unwrap();
        assert!(parsed.links.is_empty());
        assert_eq!(decode_unixfs(parsed.data.unwrap()).unwrap().kind, DataType::Directory);
    }

    #[test]
    fn link_size_formula_matches_encoding() {
        let cid = crate::block::cid_for(cid::Version::V1, crate::block::RAW, b"x");
        for (name, tsize) in [("", 0u64), ("a.png", 300), (&*"n".repeat(200), 1 << 40)] {
            let mut node = Vec::new();
            encode_node([(&cid, name, tsize)], &[], &mut node);
            // minus the empty Data field (2 bytes)
            assert_eq!(node.len() - 2, link_serialized_size(name.len(), cid.encoded_len(), tsize));
        }
    }
}
