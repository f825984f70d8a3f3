//! The one error type every command returns: `{ kind, message }`, in words a user can act on.

use chrysalis_art::ArtError;
use chrysalis_art::gallery::GalleryError;
use chrysalis_core::ProjectError;
use chrysalis_pipeline::PipelineError;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What went wrong, so the UI can offer the right next step; `message` says it in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// An argument is unusable as given: an empty or relative path, a file where a folder
    /// belongs, a project name that is empty or too long.
    InvalidInput,
    /// The folder does not exist (the UI offers to create a project there).
    NotFound,
    /// The folder exists but is not a project (the UI offers to create one there).
    NotAProject,
    /// The folder already is a project (the UI offers to open it).
    AlreadyProject,
    /// The project was written by a newer Chrysalis; update the app to open it.
    TooNew,
    /// The project's settings or database are damaged or missing; restore from a backup.
    Damaged,
    /// Reading or writing the project failed (disk, permissions, database).
    Storage,
    /// The command needs an open project and none is open.
    NoProject,
    /// Another long job is already running; wait for it or cancel it.
    Busy,
    /// The job was cancelled by the user.
    Cancelled,
    /// The image engine could not run: a model folder that is not a usable model, weights
    /// that do not load, not enough memory. The message names the file or setting.
    Engine,
    /// The OS keyring is not available or refused (headless Linux, a locked keychain);
    /// the token can still come from its environment variable.
    Keyring,
    /// The project's `collection.toml` is missing, invalid, or asks for quotas and rules no
    /// assignment can meet; the message names the field or the conflict.
    Spec,
    /// A step the command builds on has not happened yet (publish before minting, mint
    /// before evolving); the message says which.
    NotReady,
    /// The wallet has too little SOL for what it was asked to pay; the message says how
    /// much is needed and where an airdrop is possible.
    Funds,
    /// The Solana cluster could not be reached or refused the transaction; nothing was
    /// applied twice, so trying again is safe.
    Chain,
    /// Uploading to the chosen storage backend failed (unreachable, refused the token, sent
    /// back different bytes); publishing again resumes.
    Upload,
    /// A bug in the app (a panicked job); the message says what to report.
    Internal,
}

/// The error every command returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
}

impl CommandError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    pub fn no_project() -> Self {
        Self::new(ErrorKind::NoProject, "No project is open. Create a new project or open an existing one first.")
    }

    pub fn busy() -> Self {
        Self::new(ErrorKind::Busy, "Another job is still running. Wait for it to finish or cancel it first.")
    }

    pub fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, "The job was cancelled.")
    }

    pub fn internal(what: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::Internal, format!("Chrysalis Studio hit an internal error ({what}). Please report it."))
    }
}

impl From<ProjectError> for CommandError {
    fn from(err: ProjectError) -> Self {
        Self::new(project_kind(&err), sentence(&err.to_string()))
    }
}

fn project_kind(err: &ProjectError) -> ErrorKind {
    match err {
        ProjectError::NotFound { .. } => ErrorKind::NotFound,
        ProjectError::NotAProject { .. } => ErrorKind::NotAProject,
        ProjectError::AlreadyProject { .. } => ErrorKind::AlreadyProject,
        ProjectError::NotADirectory { .. } | ProjectError::InvalidName { .. } => ErrorKind::InvalidInput,
        ProjectError::ConfigTooNew { .. } | ProjectError::SchemaTooNew { .. } => ErrorKind::TooNew,
        ProjectError::BadConfig { .. } | ProjectError::MissingDatabase { .. } | ProjectError::Corrupt { .. } => {
            ErrorKind::Damaged
        }
        ProjectError::Cancelled(_) => ErrorKind::Cancelled,
        // Io, Database, Migration and anything core adds later.
        #[allow(unreachable_patterns)]
        _ => ErrorKind::Storage,
    }
}

impl From<GalleryError> for CommandError {
    fn from(err: GalleryError) -> Self {
        let kind = match &err {
            GalleryError::Art(art) => return art_error(art),
            GalleryError::Project(p) => project_kind(p),
            GalleryError::Database { .. } => ErrorKind::Storage,
            GalleryError::NotFound { .. } | GalleryError::FileMissing { .. } => ErrorKind::NotFound,
            GalleryError::FileChanged { .. } | GalleryError::BadRow { .. } => ErrorKind::Damaged,
            GalleryError::Img2ImgNeedsDiffusion
            | GalleryError::Strength { .. }
            | GalleryError::InitImageMissing { .. }
            | GalleryError::ExportExists { .. } => ErrorKind::InvalidInput,
            #[allow(unreachable_patterns)]
            _ => ErrorKind::Internal,
        };
        Self::new(kind, sentence(&err.to_string()))
    }
}

/// Maps an engine error to what the user can do about it.
pub fn art_error(err: &ArtError) -> CommandError {
    let kind = match err {
        ArtError::Cancelled(_) => return CommandError::cancelled(),
        ArtError::ModelDirRequired => {
            return CommandError::new(
                ErrorKind::InvalidInput,
                "This image was made with a diffusion model: choose its model folder on the Create screen first.",
            );
        }
        ArtError::Recipe(_)
        | ArtError::Size { .. }
        | ArtError::Stage { .. }
        | ArtError::UnknownStyle { .. }
        | ArtError::UnknownParam { .. }
        | ArtError::ParamRange { .. }
        | ArtError::EngineVersion { .. }
        | ArtError::WrongEngine { .. } => ErrorKind::InvalidInput,
        ArtError::Io { .. } => ErrorKind::Storage,
        _ => ErrorKind::Engine,
    };
    CommandError::new(kind, sentence(&err.to_string()))
}

/// Core's messages start lower-case to read well after "error: " in the CLI; the UI shows
/// them on their own, as sentences.
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

pub type CommandResult<T> = Result<T, CommandError>;

/// Maps a pipeline failure to what the user can do about it. Every pipeline message already
/// names the problem and the next step; the kind lets the UI place it.
pub fn pipeline_error(err: PipelineError) -> CommandError {
    let err = match err {
        PipelineError::Cancelled(_) => return CommandError::cancelled(),
        PipelineError::Project(p) => return CommandError::from(p),
        other => other,
    };
    let kind = match &err {
        PipelineError::Art { source, .. } => {
            let mut e = art_error(source);
            if e.kind != ErrorKind::Cancelled {
                e.message = sentence(&err.to_string());
            }
            return e;
        }
        PipelineError::NoSpec { .. }
        | PipelineError::Spec { .. }
        | PipelineError::SpecChanged { .. }
        | PipelineError::Unsatisfiable(_) => ErrorKind::Spec,
        PipelineError::NotReady(_) => ErrorKind::NotReady,
        PipelineError::InsufficientFunds { .. }
        | PipelineError::Chain(chrysalis_chain::ChainError::InsufficientFunds { .. }) => ErrorKind::Funds,
        PipelineError::Invalid(_) | PipelineError::Wallet(_) | PipelineError::Network(_) => ErrorKind::InvalidInput,
        PipelineError::Ledger(_) | PipelineError::Chain(_) => ErrorKind::Chain,
        PipelineError::Publish { .. } | PipelineError::NotPinned { .. } => ErrorKind::Upload,
        // The store, a backend, the database, the disk, the chain's transport: the message
        // says which, and a rerun resumes where it stopped.
        _ => ErrorKind::Storage,
    };
    CommandError::new(kind, sentence(&err.to_string()))
}
