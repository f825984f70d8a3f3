//! Format-2 Arweave transactions: the data root (Arweave's merkle tree over ≤ 256 KiB
//! chunks), the deep hash that is signed, and the JSON the gateways take.
//!
//! Written from Arweave's documentation of the formats (docs.arweave.org, ANS-102/104): the
//! chunking rule, leaf/branch hashing, 32-byte big-endian offset "notes", and deep-hash's
//! `blob`/`list` tagging with SHA-384.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use rsa::sha2::{Digest, Sha256, Sha384};
use serde::{Deserialize, Serialize};

use super::wallet::{Wallet, b64url, from_b64url, verify_signature};
use crate::remote::RemoteError;

/// Largest chunk.
pub const MAX_CHUNK_SIZE: u64 = 256 * 1024;
/// Smallest chunk (but the last): the second-to-last chunk is split to avoid a smaller one.
pub const MIN_CHUNK_SIZE: u64 = 32 * 1024;

// ------------------------------------------------------------------ deep hash

/// A value to deep-hash: bytes or a list of values.
pub enum DeepHashItem<'a> {
    Blob(&'a [u8]),
    List(Vec<DeepHashItem<'a>>),
}

/// Arweave's deep hash (SHA-384): a blob is `H(H("blob" ‖ len) ‖ H(bytes))`; a list folds
/// its items into `H("list" ‖ count)` with `acc = H(acc ‖ deep_hash(item))`.
pub fn deep_hash(item: &DeepHashItem<'_>) -> [u8; 48] {
    match item {
        DeepHashItem::Blob(data) => {
            let tag = Sha384::digest(format!("blob{}", data.len()).as_bytes());
            let body = Sha384::digest(data);
            let mut h = Sha384::new();
            h.update(tag);
            h.update(body);
            h.finalize().into()
        }
        DeepHashItem::List(items) => {
            let mut acc: [u8; 48] = Sha384::digest(format!("list{}", items.len()).as_bytes()).into();
            for it in items {
                let mut h = Sha384::new();
                h.update(acc);
                h.update(deep_hash(it));
                acc = h.finalize().into();
            }
            acc
        }
    }
}

// ------------------------------------------------------------------ merkle tree

/// One chunk of the data: `[min, max)` byte range and SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub min: u64,
    pub max: u64,
    pub data_hash: [u8; 32],
}

/// The chunk boundaries of `size` bytes: 256 KiB chunks, except that when the remainder
/// after a full chunk would be under 32 KiB, the last two chunks split the rest evenly
/// (the first of them rounded up). Data that is a whole number of chunks ends with an empty
/// chunk, which takes part in the tree but is never uploaded.
pub fn chunk_ranges(size: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut cursor, mut rest) = (0u64, size);
    while rest >= MAX_CHUNK_SIZE {
        let mut len = MAX_CHUNK_SIZE;
        let next = rest - MAX_CHUNK_SIZE;
        if next > 0 && next < MIN_CHUNK_SIZE {
            len = rest.div_ceil(2);
        }
        out.push((cursor, cursor + len));
        cursor += len;
        rest -= len;
    }
    out.push((cursor, cursor + rest));
    out
}

fn note(v: u64) -> [u8; 32] {
    let mut n = [0u8; 32];
    n[24..].copy_from_slice(&v.to_be_bytes());
    n
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

#[derive(Debug, Clone)]
enum Node {
    Leaf { id: [u8; 32], data_hash: [u8; 32], max: u64 },
    Branch { id: [u8; 32], byte_range: u64, max: u64, left: Box<Node>, right: Box<Node> },
}

impl Node {
    fn id(&self) -> [u8; 32] {
        match self {
            Node::Leaf { id, .. } | Node::Branch { id, .. } => *id,
        }
    }

    fn max(&self) -> u64 {
        match self {
            Node::Leaf { max, .. } | Node::Branch { max, .. } => *max,
        }
    }
}

/// The data's merkle tree: its root (`data_root`) and a proof (`data_path`) per chunk.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    pub chunks: Vec<Chunk>,
    pub data_root: [u8; 32],
    /// `(offset, data_path)` per chunk, where offset is the chunk's last byte (`max - 1`).
    pub proofs: Vec<(u64, Vec<u8>)>,
}

impl MerkleTree {
    pub fn from_chunks(chunks: Vec<Chunk>) -> MerkleTree {
        let mut layer: Vec<Node> = chunks
            .iter()
            .map(|c| Node::Leaf {
                id: sha256(&[&sha256(&[&c.data_hash]), &sha256(&[&note(c.max)])]),
                data_hash: c.data_hash,
                max: c.max,
            })
            .collect();
        while layer.len() > 1 {
            let mut next = Vec::with_capacity(layer.len().div_ceil(2));
            let mut it = layer.into_iter();
            while let Some(left) = it.next() {
                match it.next() {
                    None => next.push(left),
                    Some(right) => {
                        let id =
                            sha256(&[&sha256(&[&left.id()]), &sha256(&[&right.id()]), &sha256(&[&note(left.max())])]);
                        next.push(Node::Branch {
                            id,
                            byte_range: left.max(),
                            max: right.max(),
                            left: Box::new(left),
                            right: Box::new(right),
                        });
                    }
                }
            }
            layer = next;
        }
        let root = layer.pop().expect("there is always at least one chunk");
        let mut proofs = Vec::with_capacity(chunks.len());
        fn walk(node: &Node, path: &mut Vec<u8>, out: &mut Vec<(u64, Vec<u8>)>) {
            match node {
                Node::Leaf { data_hash, max, .. } => {
                    let mut p = path.clone();
                    p.extend_from_slice(data_hash);
                    p.extend_from_slice(&note(*max));
                    out.push((max.saturating_sub(1), p));
                }
                Node::Branch { byte_range, left, right, .. } => {
                    let len = path.len();
                    path.extend_from_slice(&left.id());
                    path.extend_from_slice(&right.id());
                    path.extend_from_slice(&note(*byte_range));
                    walk(left, path, out);
                    walk(right, path, out);
                    path.truncate(len);
                }
            }
        }
        walk(&root, &mut Vec::new(), &mut proofs);
        MerkleTree { data_root: root.id(), chunks, proofs }
    }

    /// The tree of bytes in memory.
    pub fn of_bytes(data: &[u8]) -> MerkleTree {
        let chunks = chunk_ranges(data.len() as u64)
            .into_iter()
            .map(|(min, max)| Chunk { min, max, data_hash: sha256(&[&data[min as usize..max as usize]]) })
            .collect();
        MerkleTree::from_chunks(chunks)
    }

    /// The tree of a file, read once in 256 KiB pieces. Also returns the file's SHA-256.
    pub fn of_file(path: &Path) -> io::Result<(MerkleTree, [u8; 32], u64)> {
        let mut f = File::open(path)?;
        let size = f.metadata()?.len();
        let mut whole = Sha256::new();
        let mut buf = vec![0u8; MAX_CHUNK_SIZE as usize];
        let mut chunks = Vec::new();
        for (min, max) in chunk_ranges(size) {
            let len = (max - min) as usize;
            f.read_exact(&mut buf[..len])?;
            whole.update(&buf[..len]);
            chunks.push(Chunk { min, max, data_hash: sha256(&[&buf[..len]]) });
        }
        let mut probe = [0u8; 1];
        if f.read(&mut probe)? != 0 {
            return Err(io::Error::other(format!("`{}` grew while it was being read", path.display())));
        }
        Ok((MerkleTree::from_chunks(chunks), whole.finalize().into(), size))
    }

    /// Chunks that are uploaded (the trailing empty chunk is not).
    pub fn upload_chunks(&self) -> impl Iterator<Item = (usize, &Chunk)> {
        self.chunks.iter().enumerate().filter(|(_, c)| c.max > c.min)
    }
}

/// Checks a chunk's `data_path` against `data_root`: every branch hashes to the id above
/// it, the path picks the side holding `offset`, and the leaf names `data_hash`.
pub fn validate_path(data_root: &[u8; 32], offset: u64, data_hash: &[u8; 32], path: &[u8]) -> bool {
    let mut expected = *data_root;
    let mut rest = path;
    while rest.len() > 64 {
        if rest.len() < 96 {
            return false;
        }
        let (left, right, range) = (&rest[..32], &rest[32..64], &rest[64..96]);
        if sha256(&[&sha256(&[left]), &sha256(&[right]), &sha256(&[range])]) != expected {
            return false;
        }
        let byte_range = u64::from_be_bytes(range[24..32].try_into().expect("8 bytes"));
        expected = if offset < byte_range { left } else { right }.try_into().expect("32 bytes");
        rest = &rest[96..];
    }
    if rest.len() != 64 || &rest[..32] != data_hash {
        return false;
    }
    sha256(&[&sha256(&[&rest[..32]]), &sha256(&[&rest[32..]])]) == expected
}

/// Reads chunk `chunk`'s bytes from a file.
pub fn read_chunk(file: &mut File, chunk: &Chunk) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; (chunk.max - chunk.min) as usize];
    file.seek(SeekFrom::Start(chunk.min))?;
    file.read_exact(&mut buf)?;
    if sha256(&[&buf]) != chunk.data_hash {
        return Err(io::Error::other("the file changed while it was being uploaded"));
    }
    Ok(buf)
}

// ------------------------------------------------------------------ transactions

/// A tag, base64url-encoded as transactions carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
    pub value: String,
}

impl Tag {
    pub fn new(name: &str, value: &str) -> Tag {
        Tag { name: b64url(name.as_bytes()), value: b64url(value.as_bytes()) }
    }

    /// The decoded `(name, value)`.
    pub fn decoded(&self) -> Option<(String, String)> {
        let n = String::from_utf8(from_b64url(&self.name).ok()?).ok()?;
        let v = String::from_utf8(from_b64url(&self.value).ok()?).ok()?;
        Some((n, v))
    }
}

/// A format-2 transaction, in the JSON form gateways accept at `POST /tx`. Binary fields are
/// base64url; numbers are decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub format: u8,
    pub id: String,
    pub last_tx: String,
    pub owner: String,
    pub tags: Vec<Tag>,
    pub target: String,
    pub quantity: String,
    /// Inline data (small uploads), or empty when the data goes as chunks.
    pub data: String,
    pub data_size: String,
    pub data_root: String,
    pub reward: String,
    pub signature: String,
}

impl Transaction {
    /// An unsigned data transaction.
    pub fn new_data(tree: &MerkleTree, size: u64, tags: Vec<Tag>, last_tx: &str, reward: u128) -> Transaction {
        Transaction {
            format: 2,
            id: String::new(),
            last_tx: last_tx.to_string(),
            owner: String::new(),
            tags,
            target: String::new(),
            quantity: "0".into(),
            data: String::new(),
            data_size: size.to_string(),
            data_root: if size == 0 { String::new() } else { b64url(&tree.data_root) },
            reward: reward.to_string(),
            signature: String::new(),
        }
    }

    /// The deep hash a format-2 signature covers.
    pub fn signature_data(&self) -> Result<[u8; 48], RemoteError> {
        let dec = |name: &str, s: &str| {
            from_b64url(s).map_err(|e| RemoteError::Wallet(format!("transaction field {name}: {e}")))
        };
        let owner = dec("owner", &self.owner)?;
        let target = dec("target", &self.target)?;
        let last_tx = dec("last_tx", &self.last_tx)?;
        let data_root = dec("data_root", &self.data_root)?;
        let tags: Vec<(Vec<u8>, Vec<u8>)> = self
            .tags
            .iter()
            .map(|t| Ok((dec("tag name", &t.name)?, dec("tag value", &t.value)?)))
            .collect::<Result<_, RemoteError>>()?;
        let format = self.format.to_string();
        let item = DeepHashItem::List(vec![
            DeepHashItem::Blob(format.as_bytes()),
            DeepHashItem::Blob(&owner),
            DeepHashItem::Blob(&target),
            DeepHashItem::Blob(self.quantity.as_bytes()),
            DeepHashItem::Blob(self.reward.as_bytes()),
            DeepHashItem::Blob(&last_tx),
            DeepHashItem::List(
                tags.iter()
                    .map(|(n, v)| DeepHashItem::List(vec![DeepHashItem::Blob(n), DeepHashItem::Blob(v)]))
                    .collect(),
            ),
            DeepHashItem::Blob(self.data_size.as_bytes()),
            DeepHashItem::Blob(&data_root),
        ]);
        Ok(deep_hash(&item))
    }

    /// Sets `owner`, signs, and sets `signature` and `id` (= base64url(SHA-256(signature))).
    pub fn sign(&mut self, wallet: &Wallet) -> Result<(), RemoteError> {
        self.owner = b64url(wallet.owner());
        let message = self.signature_data()?;
        let sig = wallet.sign(&message)?;
        self.id = b64url(&Sha256::digest(&sig));
        self.signature = b64url(&sig);
        Ok(())
    }

    /// Checks `id` against `signature` and the signature against the fields and `owner`.
    pub fn verify(&self) -> bool {
        let (Ok(sig), Ok(owner)) = (from_b64url(&self.signature), from_b64url(&self.owner)) else { return false };
        if b64url(&Sha256::digest(&sig)) != self.id {
            return false;
        }
        match self.signature_data() {
            Ok(msg) => verify_signature(&owner, &msg, &sig),
            Err(_) => false,
        }
    }

    /// The transaction without its inline data (what is kept in checkpoints).
    pub fn header(&self) -> Transaction {
        Transaction { data: String::new(), ..self.clone() }
    }

    /// The decoded tag value named `name`.
    pub fn tag(&self, name: &str) -> Option<String> {
        self.tags.iter().filter_map(Tag::decoded).find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// One chunk as `POST /chunk` takes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkUpload {
    pub data_root: String,
    pub data_size: String,
    pub data_path: String,
    pub offset: String,
    pub chunk: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunking_rule() {
        const K: u64 = 1024;
        assert_eq!(chunk_ranges(0), vec![(0, 0)]);
        assert_eq!(chunk_ranges(10), vec![(0, 10)]);
        // Exactly one chunk: then an empty one.
        assert_eq!(chunk_ranges(256 * K), vec![(0, 256 * K), (256 * K, 256 * K)]);
        // Remainder under 32 KiB: the last two split evenly (first rounded up).
        let r = chunk_ranges(256 * K + 10);
        assert_eq!(r, vec![(0, 128 * K + 5), (128 * K + 5, 256 * K + 10)]);
        let r = chunk_ranges(256 * K + 11);
        assert_eq!(r[0].1, 128 * K + 6);
        // Remainder of 32 KiB or more stays.
        assert_eq!(chunk_ranges(256 * K + 32 * K), vec![(0, 256 * K), (256 * K, 288 * K)]);
        // Every byte covered, no gaps.
        for size in [1_500_000u64, 3 * 256 * K + 1, 5 * 256 * K] {
            let r = chunk_ranges(size);
            assert_eq!(r[0].0, 0);
            assert_eq!(r.last().unwrap().1, size);
            assert!(r.windows(2).all(|w| w[0].1 == w[1].0));
            assert!(r.iter().all(|(a, b)| b - a <= MAX_CHUNK_SIZE));
        }
    }

    #[test]
    fn deep_hash_of_a_blob_and_a_list() {
        // deep_hash(blob) = sha384(sha384("blob0") || sha384(""))
        let mut h = Sha384::new();
        h.update(Sha384::digest(b"blob0"));
        h.update(Sha384::digest(b""));
        let expected: [u8; 48] = h.finalize().into();
        assert_eq!(deep_hash(&DeepHashItem::Blob(b"")), expected);
        // An empty list is just sha384("list0").
        let empty: [u8; 48] = Sha384::digest(b"list0").into();
        assert_eq!(deep_hash(&DeepHashItem::List(vec![])), empty);
    }

    #[test]
    fn merkle_tree_of_file_matches_bytes() {
        let data: Vec<u8> = (0..1_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d");
        std::fs::write(&p, &data).unwrap();
        let (t1, sha, size) = MerkleTree::of_file(&p).unwrap();
        let t2 = MerkleTree::of_bytes(&data);
        assert_eq!(t1.data_root, t2.data_root);
        assert_eq!(size, data.len() as u64);
        assert_eq!(sha, <[u8; 32]>::from(Sha256::digest(&data)));
        assert_eq!(t1.proofs.len(), t1.chunks.len());
        // Every proof ends with its chunk's hash and offset note.
        for ((offset, path), c) in t1.proofs.iter().zip(&t1.chunks) {
            assert_eq!(*offset, c.max - 1);
            assert_eq!(&path[path.len() - 64..path.len() - 32], &c.data_hash);
            assert!(validate_path(&t1.data_root, *offset, &c.data_hash, path));
            assert!(!validate_path(&t1.data_root, *offset, &[0u8; 32], path));
        }
    }
}
