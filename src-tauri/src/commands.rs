//! The commands the UI invokes. Each one converts its arguments, calls chrysalis-core off
//! the main thread and maps errors to [`CommandError`]; no business logic lives here.

use std::path::PathBuf;

use chrysalis_core::{CheckReport, Progress, Project, ProjectInfo};
use serde::{Deserialize, Serialize};
use tauri::State;
use tauri::ipc::Channel;
use ts_rs::TS;

use crate::error::{CommandError, CommandResult, ErrorKind};
use crate::state::{AppState, lock};

/// What `check_project` streams through its channel while it runs.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum ProgressEvent {
    /// One step of the job is done.
    Progress(Progress),
    /// The job finished; the same report is also the command's result.
    Finished { report: CheckReport },
}

/// Run blocking work (SQLite, the file system, long jobs) on Tauri's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> CommandResult<T> + Send + 'static,
) -> CommandResult<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| CommandError::internal(format!("a background task failed: {e}")))?
}

/// The folder a user typed: trimmed, `~` expanded, and required to be absolute (a relative
/// path would silently land wherever the app happened to start).
pub fn parse_dir(dir: &str) -> CommandResult<PathBuf> {
    parse_path(dir, "the folder of the project", "~/Art/my-collection")
}

/// Any path a user typed (`what` and `example` make the error messages):
/// trimmed, `~` expanded, required to be absolute.
pub fn parse_path(dir: &str, what: &str, example: &str) -> CommandResult<PathBuf> {
    let dir = dir.trim();
    if dir.is_empty() {
        return Err(CommandError::new(ErrorKind::InvalidInput, format!("Enter {what}, for example {example}.")));
    }
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    let path = match dir.strip_prefix('~') {
        Some("") => home(),
        Some(rest) if rest.starts_with('/') => home().map(|h| h.join(&rest[1..])),
        _ => Some(PathBuf::from(dir)),
    };
    match path {
        Some(path) if path.is_absolute() => Ok(path),
        _ => Err(CommandError::new(
            ErrorKind::InvalidInput,
            format!("\"{dir}\" is not a full path. Enter {what} such as {example}."),
        )),
    }
}

fn optional_name(name: Option<String>) -> Option<String> {
    name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty())
}

/// Make `dir` a new Chrysalis project (creating the folder if needed) and open it.
#[tauri::command]
pub async fn create_project(
    state: State<'_, AppState>,
    dir: String,
    name: Option<String>,
) -> CommandResult<ProjectInfo> {
    let dir = parse_dir(&dir)?;
    let name = optional_name(name);
    state.ensure_idle()?;
    let (project, info) = blocking(move || {
        let project = Project::create(&dir, name.as_deref())?;
        let info = project.info()?;
        Ok((project, info))
    })
    .await?;
    state.set_project(project);
    Ok(info)
}

/// Open the existing project in `dir`.
#[tauri::command]
pub async fn open_project(state: State<'_, AppState>, dir: String) -> CommandResult<ProjectInfo> {
    let dir = parse_dir(&dir)?;
    state.ensure_idle()?;
    let (project, info) = blocking(move || {
        let project = Project::open(&dir)?;
        let info = project.info()?;
        Ok((project, info))
    })
    .await?;
    state.set_project(project);
    Ok(info)
}

/// The open project's info. Without one: why the startup project failed to open, if it
/// did, else a `noProject` error.
#[tauri::command]
pub async fn project_info(state: State<'_, AppState>) -> CommandResult<ProjectInfo> {
    let project = match state.project() {
        Ok(project) => project,
        Err(no_project) => return Err(state.take_startup_error().unwrap_or(no_project)),
    };
    blocking(move || Ok(lock(&project).info()?)).await
}

/// Check the open project step by step, streaming progress through `on_progress`.
/// Cancellable with `cancel_job`.
#[tauri::command]
pub async fn check_project(
    state: State<'_, AppState>,
    on_progress: Channel<ProgressEvent>,
) -> CommandResult<CheckReport> {
    let project = state.project()?;
    let (job, cancel) = state.start_job()?;
    let token = cancel.clone();
    let result = blocking(move || {
        let project = lock(&project);
        let mut send = |progress: &Progress| {
            // A closed window only means nobody is watching: the job itself goes on.
            if let Err(e) = on_progress.send(ProgressEvent::Progress(progress.clone())) {
                tracing::debug!("progress not delivered: {e}");
            }
        };
        let report = chrysalis_pipeline::check::check_project(&project, &mut send, &token)
            .map_err(crate::error::pipeline_error)?;
        let _ = on_progress.send(ProgressEvent::Finished { report: report.clone() });
        Ok(report)
    })
    .await;
    state.finish_job(job);
    result.map_err(|e| if cancel.is_cancelled() { CommandError::cancelled() } else { e })
}

/// Ask the running job to stop. Returns whether a job was running.
#[tauri::command]
pub fn cancel_job(state: State<'_, AppState>) -> bool {
    state.cancel_job()
}
