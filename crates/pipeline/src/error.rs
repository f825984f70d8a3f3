//! Why a pipeline step failed. Every message names the problem and says what to do; `kind()`
//! gives front ends a stable code to branch on.

use std::path::PathBuf;

use chrysalis_core::{Cancelled, ProjectError};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Project(#[from] ProjectError),

    #[error(
        "`{}` is missing: a collection project needs a collection.toml at its root (see assets/collection.example.toml, or run `chrysalis demo` for a working example)",
        path.display()
    )]
    NoSpec { path: PathBuf },

    /// The spec does not parse or is invalid (a bad field, a missing value).
    #[error("`{}`: {message}", path.display())]
    Spec { path: PathBuf, message: String },

    /// `collection.toml` differs from the spec the collection on `network` was created from.
    #[error("{}", spec_changed_message(network, collection, fields, saved.as_deref()))]
    SpecChanged { network: String, collection: String, fields: Vec<String>, saved: Option<PathBuf> },

    /// The spec's quotas and rules cannot all be satisfied: refused before generating.
    #[error("the collection cannot be planned: {0}. Nothing was generated; fix collection.toml and run again")]
    Unsatisfiable(String),

    #[error("generating item {index} stage {stage}: {source}")]
    Art {
        index: u32,
        stage: u32,
        #[source]
        source: chrysalis_art::ArtError,
    },

    #[error(transparent)]
    Storage(#[from] chrysalis_storage::StorageError),

    #[error("publishing {what}: {source}")]
    Publish {
        what: String,
        #[source]
        source: chrysalis_storage::remote::PublishError,
    },

    /// A stage folder could not be fully pinned (some items failed or are still pending).
    #[error("{what} is not fully pinned yet ({detail}); run the same command again to resume")]
    NotPinned { what: String, detail: String },

    #[error("on chain: {0}")]
    Ledger(#[from] chrysalis_chain::LedgerError),

    #[error(transparent)]
    Chain(#[from] chrysalis_chain::client::ChainError),

    #[error(transparent)]
    Wallet(#[from] chrysalis_chain::WalletError),

    #[error("{0}")]
    Network(String),

    /// The chain (or the store) holds something that contradicts the project: the pipeline
    /// stops instead of minting against it.
    #[error("{what} differs from the project: {detail}")]
    Mismatch { what: String, detail: String },

    /// A step needs an earlier one first (e.g. evolve before publish).
    #[error("{0}")]
    NotReady(String),

    /// A request the caller made that cannot be done (unknown index, wrong stage, ...).
    #[error("{0}")]
    Invalid(String),

    #[error("the wallet {address} has {have} lamports but needs about {need}: {hint}")]
    InsufficientFunds { address: String, have: u64, need: u64, hint: String },

    #[error("project database: {0}")]
    Database(#[from] rusqlite::Error),

    #[error("`{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl PipelineError {
    /// A short stable code for the kind of error.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Project(e) => e.kind(),
            Self::NoSpec { .. } => "no_spec",
            Self::SpecChanged { .. } => "spec_changed",
            Self::Spec { .. } => "bad_spec",
            Self::Unsatisfiable(_) => "unsatisfiable",
            Self::Art { .. } => "art",
            Self::Storage(e) => e.kind(),
            Self::Publish { source, .. } => source.kind(),
            Self::NotPinned { .. } => "not_pinned",
            Self::Ledger(_) => "ledger",
            Self::Chain(chrysalis_chain::client::ChainError::InsufficientFunds { .. }) => "insufficient_funds",
            Self::Chain(_) => "chain",
            Self::Wallet(_) => "wallet",
            Self::Network(_) => "network",
            Self::Mismatch { .. } => "mismatch",
            Self::NotReady(_) => "not_ready",
            Self::Invalid(_) => "invalid",
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::Database(_) => "database",
            Self::Io { .. } => "io",
            Self::Cancelled(_) => "cancelled",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PipelineError {
        let path = path.into();
        move |source| PipelineError::Io { path, source }
    }
}

fn spec_changed_message(network: &str, collection: &str, fields: &[String], saved: Option<&std::path::Path>) -> String {
    let what = if fields.is_empty() {
        "collection.toml changed".to_string()
    } else {
        format!("collection.toml changed ({} differ{})", fields.join(", "), if fields.len() == 1 { "s" } else { "" })
    };
    let kept = match saved {
        Some(path) => format!(" (it is saved as {})", path.display()),
        None => String::new(),
    };
    format!(
        "{what} since the collection {collection} was created on {network} from it. A collection on chain is fixed, so nothing was generated: revert collection.toml to the spec it was made from{kept}, or start a new collection in a new project folder"
    )
}
