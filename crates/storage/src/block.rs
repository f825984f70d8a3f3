//! Blocks and their CIDs: making CIDs, checking that bytes match a CID.

use cid::{Cid, Version};
use multihash::Multihash;
use multihash_codetable::{Code, MultihashDigest};
use sha2::{Digest, Sha256};

/// Multicodec of dag-pb (UnixFS nodes).
pub const DAG_PB: u64 = 0x70;
/// Multicodec of raw blocks (raw leaves).
pub const RAW: u64 = 0x55;
/// Multicodec of dag-cbor (only in CAR headers here).
pub const DAG_CBOR: u64 = 0x71;
/// Multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;
/// Multihash code of the identity "hash" (the bytes themselves).
pub const IDENTITY: u64 = 0x00;

/// A block: its CID and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub cid: Cid,
    pub data: Vec<u8>,
}

impl Block {
    /// Checks the bytes against the CID.
    pub fn verify(&self) -> Result<(), BlockError> {
        verify(&self.cid, &self.data)
    }
}

/// Why bytes do not match a CID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The bytes hash to another digest; `found` is the CID they do have.
    #[error("bytes hash to {found}, not to {expected}")]
    Mismatch { expected: Cid, found: Cid },
    /// The CID's hash function is not one Chrysalis can compute.
    #[error("block {cid} uses hash function {code:#x}, which Chrysalis cannot verify")]
    UnsupportedHash { cid: Cid, code: u64 },
}

/// The CID of `data` with sha2-256: CIDv0 (dag-pb only) or CIDv1 with `codec`.
pub fn cid_for(version: Version, codec: u64, data: &[u8]) -> Cid {
    cid_from_digest(version, codec, Sha256::digest(data).into())
}

/// The CID with a given sha2-256 digest.
pub fn cid_from_digest(version: Version, codec: u64, digest: [u8; 32]) -> Cid {
    let mh = Multihash::<64>::wrap(SHA2_256, &digest).expect("32 bytes fit a 64-byte multihash");
    match version {
        Version::V0 => {
            debug_assert_eq!(codec, DAG_PB, "CIDv0 is dag-pb only");
            Cid::new_v0(mh).expect("sha2-256 dag-pb is a valid CIDv0")
        }
        Version::V1 => Cid::new_v1(codec, mh),
    }
}

/// Checks that `data` hashes to the multihash inside `cid`.
pub fn verify(cid: &Cid, data: &[u8]) -> Result<(), BlockError> {
    let expected = cid.hash();
    let found = match expected.code() {
        SHA2_256 => Multihash::<64>::wrap(SHA2_256, &Sha256::digest(data)).expect("fits"),
        IDENTITY => Multihash::<64>::wrap(IDENTITY, data)
            .map_err(|_| BlockError::UnsupportedHash { cid: *cid, code: IDENTITY })?,
        code => match Code::try_from(code) {
            Ok(c) => c.digest(data),
            Err(_) => return Err(BlockError::UnsupportedHash { cid: *cid, code }),
        },
    };
    if found.digest() == expected.digest() {
        Ok(())
    } else {
        let found = match cid.version() {
            Version::V0 => Cid::new_v0(found).unwrap_or_else(|_| Cid::new_v1(cid.codec(), found)),
            Version::V1 => Cid::new_v1(cid.codec(), found),
        };
        Err(BlockError::Mismatch { expected: *cid, found })
    }
}

/// The CIDv1 form of a CID (a CIDv0 becomes dag-pb CIDv1 with the same multihash); the key
/// under which the local store files a block, so v0 and v1 of the same block share it.
pub fn to_v1(cid: &Cid) -> Cid {
    match cid.version() {
        Version::V0 => Cid::new_v1(DAG_PB, *cid.hash()),
        Version::V1 => *cid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_raw_block_cid() {
        let cid = cid_for(Version::V1, RAW, b"");
        assert_eq!(cid.to_string(), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
        verify(&cid, b"").unwrap();
        let err = verify(&cid, b"x").unwrap_err();
        assert!(matches!(err, BlockError::Mismatch { .. }), "{err}");
    }
}
