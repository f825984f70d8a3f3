//! What the app remembers between commands: the open project and the running job.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrysalis_core::{CancelToken, Project};

use crate::error::{CommandError, CommandResult};
use crate::secrets::{OsKeyring, SecretStore};

/// A project shared between commands and the background job that may be using it.
pub type SharedProject = Arc<Mutex<Project>>;

pub struct AppState {
    project: Mutex<Option<SharedProject>>,
    job: Mutex<Option<RunningJob>>,
    /// Why the project named at startup (CHRYSALIS_PROJECT or the first argument) did not
    /// open; reported once, by the first `project_info`.
    startup_error: Mutex<Option<CommandError>>,
    next_job_id: AtomicU64,
    /// Where storage/pinning tokens go: the OS keyring (tests swap in a memory store).
    secrets: Box<dyn SecretStore>,
}

impl Default for AppState {
    fn default() -> Self {
        Self::with_secrets(Box::new(OsKeyring))
    }
}

struct RunningJob {
    id: u64,
    cancel: CancelToken,
}

/// Lock a mutex, carrying on with the data if a panicking thread poisoned it: every value
/// behind these locks stays consistent between statements.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AppState {
    /// The app's state with `secrets` as the token store.
    pub fn with_secrets(secrets: Box<dyn SecretStore>) -> Self {
        Self {
            project: Mutex::default(),
            job: Mutex::default(),
            startup_error: Mutex::default(),
            next_job_id: AtomicU64::default(),
            secrets,
        }
    }

    pub fn secrets(&self) -> &dyn SecretStore {
        &*self.secrets
    }

    pub fn project(&self) -> CommandResult<SharedProject> {
        lock(&self.project).clone().ok_or_else(CommandError::no_project)
    }

    pub fn set_project(&self, project: Project) {
        *lock(&self.project) = Some(Arc::new(Mutex::new(project)));
        lock(&self.startup_error).take();
    }

    pub fn set_startup_error(&self, error: CommandError) {
        *lock(&self.startup_error) = Some(error);
    }

    pub fn take_startup_error(&self) -> Option<CommandError> {
        lock(&self.startup_error).take()
    }

    /// Refuse when a job is running: its project must not change under it.
    pub fn ensure_idle(&self) -> CommandResult<()> {
        match *lock(&self.job) {
            Some(_) => Err(CommandError::busy()),
            None => Ok(()),
        }
    }

    /// Register a new job, or refuse if one is already running.
    pub fn start_job(&self) -> CommandResult<(u64, CancelToken)> {
        let mut job = lock(&self.job);
        if job.is_some() {
            return Err(CommandError::busy());
        }
        let id = self.next_job_id.fetch_add(1, Ordering::Relaxed);
        let cancel = CancelToken::default();
        *job = Some(RunningJob { id, cancel: cancel.clone() });
        Ok((id, cancel))
    }

    pub fn finish_job(&self, id: u64) {
        let mut job = lock(&self.job);
        if job.as_ref().is_some_and(|j| j.id == id) {
            *job = None;
        }
    }

    /// Ask the running job to stop; `false` when there was none.
    pub fn cancel_job(&self) -> bool {
        match &*lock(&self.job) {
            Some(job) => {
                job.cancel.cancel();
                true
            }
            None => false,
        }
    }
}
