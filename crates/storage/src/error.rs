//! Everything that can go wrong in storage. Each message names the file or CID involved.

use std::path::{Path, PathBuf};

use chrysalis_core::Cancelled;
use cid::Cid;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("`{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{}` does not exist", path.display())]
    NotFound { path: PathBuf },

    #[error("`{}` cannot be added: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },

    #[error("invalid CID or path {input:?}: {reason}")]
    InvalidCid { input: String, reason: String },

    #[error("block {cid} is not in the local store; add or import the content first")]
    BlockMissing { cid: Cid },

    #[error(
        "block {cid} is corrupt: its bytes do not hash to its CID (found {found}); remove `{}` and re-add or re-import the content",
        path.display()
    )]
    CorruptBlock { cid: Cid, found: String, path: PathBuf },

    #[error("block {cid} is not valid {what}: {reason}")]
    InvalidBlock { cid: Cid, what: &'static str, reason: String },

    #[error("block {cid} uses {what} {code:#x}, which Chrysalis does not support")]
    UnsupportedFormat { cid: Cid, what: &'static str, code: u64 },

    #[error("`{path}` does not exist: {reason}")]
    PathNotFound { path: String, reason: String },

    #[error("`{path}` is {found}, not {expected}")]
    WrongKind { path: String, expected: &'static str, found: &'static str },

    #[error("CAR `{}`: {reason}", path.display())]
    BadCar { path: PathBuf, reason: String },

    #[error(
        "CAR `{}` refused: block {cid} (block #{index}) does not match its CID (its bytes hash to {found}); nothing was imported",
        path.display()
    )]
    BadCarBlock { path: PathBuf, cid: Cid, index: u64, found: String },

    #[error("project database: {0}")]
    Database(#[from] rusqlite::Error),

    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl StorageError {
    /// A short stable code for the kind of error, for front ends that branch on it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io",
            Self::NotFound { .. } => "not_found",
            Self::Unsupported { .. } | Self::UnsupportedFormat { .. } => "unsupported",
            Self::InvalidCid { .. } => "invalid_cid",
            Self::BlockMissing { .. } => "block_missing",
            Self::CorruptBlock { .. } => "corrupt_block",
            Self::InvalidBlock { .. } => "invalid_block",
            Self::PathNotFound { .. } => "path_not_found",
            Self::WrongKind { .. } => "wrong_kind",
            Self::BadCar { .. } => "bad_car",
            Self::BadCarBlock { .. } => "bad_car_block",
            Self::Database(_) => "database",
            Self::Cancelled(_) => "cancelled",
        }
    }

    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
        move |source| StorageError::Io { path: path.to_path_buf(), source }
    }
}
