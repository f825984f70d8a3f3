//! What the builders of a UnixFS DAG share: the link to a finished subtree ([`LinkInfo`]) and
//! the one thing a builder needs from whoever stores its blocks ([`NodeWriter`]).
//!
//! The importer (files and plain folders) and the HAMT builder (sharded folders) both write
//! dag-pb nodes. They meet here, so neither needs to know the other: the importer hands the
//! HAMT builder itself as a `NodeWriter`.

use cid::Cid;

use crate::error::StorageError;

/// A link to a finished subtree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkInfo {
    pub cid: Cid,
    /// Cumulative block bytes of the subtree.
    pub tsize: u64,
    /// File content bytes under it.
    pub filesize: u64,
}

/// Encodes, hashes and stores dag-pb nodes.
pub(crate) trait NodeWriter {
    /// Encodes one dag-pb node with `links` (CID, name, cumulative size) and UnixFS `data`,
    /// stores it, and returns the link to it (`filesize` = the content bytes under it).
    fn dag_node<'l>(
        &mut self,
        links: impl Iterator<Item = (&'l Cid, &'l str, u64)> + Clone,
        data: &[u8],
        filesize: u64,
    ) -> Result<LinkInfo, StorageError>;
}
