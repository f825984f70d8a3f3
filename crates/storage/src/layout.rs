//! How a file or folder is cut into blocks: the [`Layout`] recorded with every CID.

use std::fmt;
use std::str::FromStr;

use cid::Version;
use serde::{Deserialize, Serialize};

/// The HAMT threshold every layout uses: a directory whose (estimated) node size is strictly
/// greater than this becomes a HAMT shard (Kubo ≥ 0.40 and js-ipfs-unixfs compare with `>`;
/// Kubo up to 0.39 used `>=`, which differs only for a directory exactly at 256 KiB).
pub const HAMT_THRESHOLD_BYTES: usize = 256 * 1024;
/// Children per HAMT node (8 bits of the name's hash per level).
pub const HAMT_FANOUT: usize = 256;
/// The multicodec of murmur3-x64-64, the HAMT's hash function (UnixFS `hashType`).
pub const HAMT_HASH_MURMUR3: u64 = 0x22;

/// How the size of a plain directory node is estimated to decide when it must shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShardEstimation {
    /// Kubo's historical rule: the sum over entries of name length + CID byte length.
    LinksBytes,
    /// IPIP-499 `unixfs-v1-2025`: the exact size of the serialized dag-pb directory block.
    BlockBytes,
}

/// The UnixFS import settings a CID was made with. The same bytes give different CIDs under
/// different layouts, so every CID Chrysalis records carries its layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Layout {
    /// Kubo's default (`ipfs add`, IPIP-499 `unixfs-v0-2015`): CIDv0, dag-pb leaves (UnixFS
    /// File nodes), 256 KiB chunks, balanced tree of 174 links per node, HAMT past 256 KiB
    /// estimated as names + CIDs.
    #[default]
    #[serde(rename = "v0")]
    V0,
    /// `ipfs add --cid-version=1`: CIDv1 (base32), raw leaves, otherwise as [`Layout::V0`].
    #[serde(rename = "v1")]
    V1,
    /// IPIP-499 `unixfs-v1-2025` (Kubo's `--profile unixfs-v1-2025`, Helia's default):
    /// CIDv1, raw leaves, 1 MiB chunks, 1024 links per node, HAMT (fanout 256) when the
    /// serialized directory block would exceed 256 KiB.
    #[serde(rename = "v1-2025")]
    V1_2025,
}

impl Layout {
    pub const ALL: [Layout; 3] = [Layout::V0, Layout::V1, Layout::V1_2025];

    /// The stable name used on the command line, in JSON and in the project database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Layout::V0 => "v0",
            Layout::V1 => "v1",
            Layout::V1_2025 => "v1-2025",
        }
    }

    /// Bytes per leaf chunk (fixed-size chunker).
    pub const fn chunk_size(self) -> usize {
        match self {
            Layout::V0 | Layout::V1 => 256 * 1024,
            Layout::V1_2025 => 1024 * 1024,
        }
    }

    /// Most links in one file node of the balanced tree.
    pub const fn max_links(self) -> usize {
        match self {
            Layout::V0 | Layout::V1 => 174,
            Layout::V1_2025 => 1024,
        }
    }

    /// Whether file leaves are raw blocks (codec 0x55) rather than dag-pb UnixFS File nodes.
    pub const fn raw_leaves(self) -> bool {
        !matches!(self, Layout::V0)
    }

    pub const fn cid_version(self) -> Version {
        match self {
            Layout::V0 => Version::V0,
            Layout::V1 | Layout::V1_2025 => Version::V1,
        }
    }

    pub const fn shard_estimation(self) -> ShardEstimation {
        match self {
            Layout::V0 | Layout::V1 => ShardEstimation::LinksBytes,
            Layout::V1_2025 => ShardEstimation::BlockBytes,
        }
    }

    /// The `ipfs add` flags that give the same CIDs.
    pub const fn kubo_flags(self) -> &'static str {
        match self {
            Layout::V0 => "ipfs add",
            Layout::V1 => "ipfs add --cid-version=1",
            Layout::V1_2025 => "ipfs config profile apply unixfs-v1-2025; ipfs add",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A layout name that is not one of `v0`, `v1`, `v1-2025`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown layout {0:?}: use v0 (Kubo's default), v1 (--cid-version=1) or v1-2025 (unixfs-v1-2025 profile)")]
pub struct UnknownLayout(pub String);

impl FromStr for Layout {
    type Err = UnknownLayout;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "v0" | "cidv0" | "unixfs-v0-2015" => Ok(Layout::V0),
            "v1" | "cidv1" => Ok(Layout::V1),
            "v1-2025" | "v1_2025" | "unixfs-v1-2025" => Ok(Layout::V1_2025),
            _ => Err(UnknownLayout(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for layout in Layout::ALL {
            assert_eq!(layout.as_str().parse::<Layout>().unwrap(), layout);
            assert_eq!(serde_json::to_string(&layout).unwrap(), format!("\"{layout}\""));
        }
        assert!("v2".parse::<Layout>().unwrap_err().to_string().contains("v1-2025"));
    }
}
