//! UnixFS HAMT-sharded directories, as Kubo (boxo) and js-ipfs-unixfs build them.
//!
//! - Each name is hashed with murmur3-x64-128 (seed 0); the first 64-bit half (`h1`) is
//!   written big-endian and read 8 bits per level from the most significant end (fanout 256).
//! - A slot holding one entry links to it with the name `XX` + entry name (`XX` = the slot
//!   index in upper-case hex, padded to 2 digits); a slot holding several entries links to a
//!   sub-shard named just `XX`. With insertions only, the trie depends only on the set of
//!   names.
//! - Each shard node's UnixFS data: Type HAMTShard, Data = the occupancy bitfield as a
//!   big-endian integer with its leading zero bytes removed, hashType 0x22, fanout 256.

use cid::Cid;

use crate::dag::{LinkInfo, NodeWriter};
use crate::error::StorageError;
use crate::layout::{HAMT_FANOUT, HAMT_HASH_MURMUR3};
use crate::pb::{DataType, UnixFsOut};

/// Most levels a 64-bit hash allows with 8 bits per level.
const MAX_DEPTH: usize = 8;

/// The 8-byte hash that places `name` in the trie.
pub(crate) fn hash_name(name: &[u8]) -> [u8; 8] {
    let h = murmur3::murmur3_x64_128(&mut std::io::Cursor::new(name), 0).expect("hashing memory cannot fail");
    (h as u64).to_be_bytes()
}

/// The slot of `hash` at `depth` for a power-of-two `fanout` (bits read MSB-first).
pub(crate) fn slot(hash: &[u8; 8], depth: usize, fanout: u64) -> Option<usize> {
    let bits = fanout.trailing_zeros() as usize;
    let start = depth * bits;
    if start + bits > 64 {
        return None;
    }
    let v = u64::from_be_bytes(*hash);
    Some(((v << start) >> (64 - bits)) as usize)
}

/// Width of the hex slot prefix for a fanout (2 for 256).
pub(crate) fn pad_len(fanout: u64) -> usize {
    format!("{:X}", fanout - 1).len()
}

struct Entry {
    hash: [u8; 8],
    name: String,
    link: LinkInfo,
}

pub(crate) fn build(
    writer: &mut impl NodeWriter,
    links: Vec<(String, LinkInfo)>,
    filesize: u64,
) -> Result<LinkInfo, StorageError> {
    let entries: Vec<Entry> =
        links.into_iter().map(|(name, link)| Entry { hash: hash_name(name.as_bytes()), name, link }).collect();
    let refs: Vec<&Entry> = entries.iter().collect();
    let mut root = shard(writer, &refs, 0)?;
    root.filesize = filesize;
    Ok(root)
}

fn shard(writer: &mut impl NodeWriter, entries: &[&Entry], depth: usize) -> Result<LinkInfo, StorageError> {
    if depth >= MAX_DEPTH {
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        return Err(StorageError::Unsupported {
            path: names.join(", ").into(),
            reason: "these names collide on all 64 bits of their HAMT hash".into(),
        });
    }
    let mut buckets: Vec<Vec<&Entry>> = vec![Vec::new(); HAMT_FANOUT];
    for e in entries {
        let i = slot(&e.hash, depth, HAMT_FANOUT as u64).expect("depth checked above");
        buckets[i].push(e);
    }
    let mut bitfield = [0u8; HAMT_FANOUT / 8];
    let mut out: Vec<(String, Cid, u64)> = Vec::new();
    let mut filesize = 0;
    for (i, bucket) in buckets.iter().enumerate() {
        match bucket.len() {
            0 => continue,
            1 => {
                let e = bucket[0];
                out.push((format!("{i:02X}{}", e.name), e.link.cid, e.link.tsize));
                filesize += e.link.filesize;
            }
            _ => {
                let child = shard(writer, bucket, depth + 1)?;
                out.push((format!("{i:02X}"), child.cid, child.tsize));
                filesize += child.filesize;
            }
        }
        bitfield[HAMT_FANOUT / 8 - 1 - i / 8] |= 1 << (i % 8);
    }
    let first = bitfield.iter().position(|&b| b != 0).unwrap_or(bitfield.len());
    let data = UnixFsOut {
        kind: Some(DataType::HamtShard),
        data: Some(&bitfield[first..]),
        hash_type: Some(HAMT_HASH_MURMUR3),
        fanout: Some(HAMT_FANOUT as u64),
        ..Default::default()
    }
    .to_vec();
    writer.dag_node(out.iter().map(|(n, c, t)| (c, n.as_str(), *t)), &data, filesize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_h1_big_endian() {
        // murmur3-x64-128("", 0) is all zeros; "hello" per the reference implementation
        // (h1 = 0xcbd8a7b341bd9b02).
        assert_eq!(hash_name(b""), [0; 8]);
        assert_eq!(hash_name(b"hello"), 0xcbd8a7b341bd9b02u64.to_be_bytes());
    }

    #[test]
    fn slots_read_msb_first() {
        let h = 0x0123_4567_89ab_cdefu64.to_be_bytes();
        assert_eq!(slot(&h, 0, 256), Some(0x01));
        assert_eq!(slot(&h, 7, 256), Some(0xef));
        assert_eq!(slot(&h, 8, 256), None);
        assert_eq!(slot(&h, 0, 16), Some(0x0));
        assert_eq!(slot(&h, 1, 16), Some(0x1));
        assert_eq!(pad_len(256), 2);
        assert_eq!(pad_len(16), 1);
    }
}
