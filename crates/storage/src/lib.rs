//! Content-addressed storage for Chrysalis: Kubo-exact CIDs, CAR files, the local store and
//! the remote backends (Kubo RPC, pinning services, Arweave).
//!
//! # What is here
//! - [`Layout`]: the UnixFS import settings recorded with every CID (`v0` = Kubo's default,
//!   `v1` = `ipfs add --cid-version=1`, `v1-2025` = the IPIP-499 `unixfs-v1-2025` profile).
//! - [`cid_of_file`], [`cid_of_dir`], [`cid_of_path`], [`cid_of_bytes`], [`cid_of_reader`]:
//!   CIDs computed locally, identical to Kubo's (`ipfs add -Qn`), streaming in constant
//!   memory. [`Importer`] is the same with progress, cancellation, hidden files and a
//!   [`BlockSink`] that receives every block.
//! - [`LocalStore`]: the embedded block store under `<project>/store/`, verified on read,
//!   resolving `CID/path/inside` (HAMT shards included), garbage-free re-adds, CAR v1
//!   export/import.
//! - [`car`]: CAR v1 writer and verifying reader, usable without a store.
//! - [`pins`]: the project database's record of stored roots (name, CID, layout, created).
//! - [`remote`]: the backends behind one trait, [`remote::Pinner`], and a resumable publish
//!   that trusts no receipt until it matches what was computed here.
//!
//! Everything a remote backend needs to check a receipt is here: compute the CID locally
//! (same [`Layout`]), compare with what the service returned, export a CAR of the root.
//!
//! Storage never knows what an NFT is: it stores bytes, files and folders under CIDs, and
//! what they mean (images, metadata, stages) is the pipeline's business. From core it takes
//! only cancellation and progress; [`remote`] is its only network code (blocking `ureq`).
//!
//! Start reading at [`importer`] (how a CID is made), then [`store`], then [`remote`].

// Errors carry the CIDs they are about (a CID is ~90 bytes inline); they are the cold path.
#![allow(clippy::result_large_err)]

pub mod block;
pub mod car;
mod dag;
mod error;
mod hamt;
pub mod importer;
pub mod layout;
mod pb;
pub mod pins;
pub mod remote;
pub mod store;
#[doc(hidden)]
pub mod testdata;

pub use cid::{self, Cid};
pub use multihash;

pub use block::{Block, BlockError};
pub use car::{CarSummary, ImportedCar};
pub use error::StorageError;
pub use importer::{
    Added, BlockSink, EntryKind, Importer, NullSink, cid_of_bytes, cid_of_dir, cid_of_file, cid_of_path, cid_of_reader,
};
pub use layout::{Layout, ShardEstimation, UnknownLayout};
pub use pins::Pin;
pub use store::{BlockVisitor, DirEntry, Entry, FileReader, LocalStore, StoreSink, parse_cid_path};

/// Results of this crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
