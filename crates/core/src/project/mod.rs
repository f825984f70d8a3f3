//! The project store.
//!
//! A project is a folder holding `chrysalis.toml` (human-editable settings) and
//! `chrysalis.db`, a SQLite database in WAL mode with foreign keys on, whose schema is
//! versioned by [`migrations`]. Everything the app makes or does (images, collections,
//! uploads, mints) is recorded there, so a crash or kill at any point leaves a project that
//! can be reopened and resumed.
//!
//! Opening is careful: a folder that is not a project, a database written by a newer
//! Chrysalis, or a corrupt database is refused with an error that says what to do, and the
//! folder is left exactly as it was.

pub mod migrations;
mod timefmt;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::progress::{CancelToken, Cancelled, Progress};

/// The settings file that marks a folder as a project.
pub const CONFIG_FILE: &str = "chrysalis.toml";
/// The project database, next to the settings file.
pub const DATABASE_FILE: &str = "chrysalis.db";
/// The version of the `chrysalis.toml` format this build writes and understands.
pub const CONFIG_FORMAT: u32 = 1;

/// Longest project name we accept, in characters.
const MAX_NAME_CHARS: usize = 64;

/// `chrysalis.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub project: ProjectSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    /// Shown in the app and used as the default collection name.
    pub name: String,
    /// Format of this file; a newer one is refused rather than misread.
    pub format: u32,
    /// When the project was created (RFC 3339, UTC).
    pub created: String,
}

/// What the app shows about an open project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProjectInfo {
    pub name: String,
    /// Absolute path of the project folder.
    pub root: String,
    /// When the project was created (RFC 3339, UTC).
    pub created: String,
    /// Schema version of the project database.
    pub schema_version: u32,
    /// Newest schema version this build of Chrysalis knows.
    pub latest_schema_version: u32,
    /// Size of the project database in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub database_bytes: u64,
    /// Version of Chrysalis that produced this report.
    pub chrysalis_version: String,
}

/// The outcome of [`Project::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CheckReport {
    pub ok: bool,
    pub steps: Vec<CheckStep>,
}

/// One check and what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CheckStep {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// Something that does not fail the check but that the user should look at (a creator
    /// address they never confirmed, for example).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub warning: Option<String>,
}

/// Everything that can go wrong opening or using a project. Each message names the file and
/// says what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("`{}` does not exist; create a project there or pick another folder", dir.display())]
    NotFound { dir: PathBuf },

    #[error("`{}` is not a directory", path.display())]
    NotADirectory { path: PathBuf },

    #[error(
        "`{}` is not a Chrysalis project (it has no {CONFIG_FILE}); create a project there or open the folder that holds {CONFIG_FILE}",
        dir.display()
    )]
    NotAProject { dir: PathBuf },

    #[error("`{}` is already a Chrysalis project; open it instead of creating it again", dir.display())]
    AlreadyProject { dir: PathBuf },

    #[error("invalid project name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },

    #[error("cannot read `{}`: {message}", path.display())]
    BadConfig { path: PathBuf, message: String },

    #[error(
        "`{}` has format {found}, but this Chrysalis understands up to {supported}; update Chrysalis to open this project",
        path.display()
    )]
    ConfigTooNew { path: PathBuf, found: u32, supported: u32 },

    #[error(
        "the project database `{}` is missing; restore it from a backup (the project cannot be opened without it)",
        path.display()
    )]
    MissingDatabase { path: PathBuf },

    #[error(
        "the project database `{}` is corrupt ({detail}); restore it from a backup. Nothing was changed",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },

    #[error(
        "the project database `{}` has schema version {found}, newer than this Chrysalis supports ({supported}); update Chrysalis to open it. Nothing was changed",
        path.display()
    )]
    SchemaTooNew { path: PathBuf, found: u32, supported: u32 },

    #[error("could not upgrade the project database `{}`: {source}", path.display())]
    Migration {
        path: PathBuf,
        #[source]
        source: migrations::MigrationError,
    },

    #[error("`{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The project folder cannot be written (a read-only mount, a folder of another user).
    /// Reading commands (info, verify) still work; this one needs to write.
    #[error(
        "the project folder `{}` is read-only, and {action} needs to write to it: copy the project somewhere writable, or fix the folder's permissions (reading commands such as `chrysalis info` and `chrysalis verify` work as it is)",
        dir.display()
    )]
    ReadOnly { dir: PathBuf, action: String },

    #[error("project database `{}`: {source}", path.display())]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl ProjectError {
    /// A short stable code for the kind of error, for front ends that branch on it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::NotADirectory { .. } => "not_a_directory",
            Self::NotAProject { .. } => "not_a_project",
            Self::AlreadyProject { .. } => "already_project",
            Self::InvalidName { .. } => "invalid_name",
            Self::BadConfig { .. } => "bad_config",
            Self::ConfigTooNew { .. } => "config_too_new",
            Self::MissingDatabase { .. } => "missing_database",
            Self::Corrupt { .. } => "corrupt",
            Self::SchemaTooNew { .. } => "schema_too_new",
            Self::Migration { .. } => "migration",
            Self::Io { .. } => "io",
            Self::ReadOnly { .. } => "read_only",
            Self::Database { .. } => "database",
            Self::Cancelled(_) => "cancelled",
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ProjectError + '_ {
    move |source| ProjectError::Io { path: path.to_path_buf(), source }
}

/// An open project: its folder, settings and database connection.
#[derive(Debug)]
pub struct Project {
    root: PathBuf,
    config: ProjectConfig,
    conn: Connection,
    /// Opened from a folder this process cannot write: the database is read as an immutable
    /// snapshot and every write is refused with [`ProjectError::ReadOnly`].
    read_only: bool,
}

impl Project {
    /// Makes `dir` a new project, creating the folder if needed. `name` defaults to the
    /// folder's name. Refuses a folder that already is a project.
    ///
    /// The database is created and migrated before `chrysalis.toml` is written (atomically),
    /// so an interrupted `create` leaves a folder that is not yet a project and can simply be
    /// created again.
    pub fn create(dir: &Path, name: Option<&str>) -> Result<Self, ProjectError> {
        if dir.join(CONFIG_FILE).exists() {
            return Err(ProjectError::AlreadyProject { dir: dir.to_path_buf() });
        }
        if dir.exists() && !dir.is_dir() {
            return Err(ProjectError::NotADirectory { path: dir.to_path_buf() });
        }
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let root = dir.canonicalize().map_err(io_err(dir))?;
        let name = match name {
            Some(n) => n.trim().to_string(),
            None => root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        validate_name(&name)?;

        let db_path = root.join(DATABASE_FILE);
        let mut conn = Connection::open(&db_path).map_err(db_err(&db_path))?;
        configure(&conn, &db_path)?;
        check_not_corrupt(&conn, &db_path)?;
        migrations::migrate(&mut conn, now_unix())
            .map_err(|source| ProjectError::Migration { path: db_path.clone(), source })?;

        let config = ProjectConfig {
            project: ProjectSection { name, format: CONFIG_FORMAT, created: timefmt::rfc3339_utc(now_unix()) },
        };
        write_config_atomically(&root.join(CONFIG_FILE), &config)?;
        let project = Self { root, config, conn, read_only: false };
        project.journal("project.created", &serde_json::json!({ "name": project.name() }))?;
        Ok(project)
    }

    /// Opens the project in `dir`, upgrading its schema if this build is newer.
    pub fn open(dir: &Path) -> Result<Self, ProjectError> {
        if !dir.exists() {
            return Err(ProjectError::NotFound { dir: dir.to_path_buf() });
        }
        if !dir.is_dir() {
            return Err(ProjectError::NotADirectory { path: dir.to_path_buf() });
        }
        let root = dir.canonicalize().map_err(io_err(dir))?;
        let config_path = root.join(CONFIG_FILE);
        if !config_path.is_file() {
            return Err(ProjectError::NotAProject { dir: dir.to_path_buf() });
        }
        let config = read_config(&config_path)?;

        let db_path = root.join(DATABASE_FILE);
        if !db_path.is_file() {
            return Err(ProjectError::MissingDatabase { path: db_path });
        }
        if !folder_is_writable(&root) {
            return Self::open_read_only(root, config, db_path);
        }
        // No SQLITE_OPEN_CREATE: a missing database must never be silently recreated empty.
        let mut conn =
            Connection::open_with_flags(&db_path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(db_err(&db_path))?;
        // Read-only checks first, so a refused database is left byte-for-byte as it was.
        let found = check_readable(&conn, &db_path)?;
        configure(&conn, &db_path)?;
        let applied = migrations::migrate(&mut conn, now_unix())
            .map_err(|source| ProjectError::Migration { path: db_path.clone(), source })?;
        let project = Self { root, config, conn, read_only: false };
        if !applied.is_empty() {
            project.journal("project.migrated", &serde_json::json!({ "from": found, "applied": applied }))?;
        }
        Ok(project)
    }

    /// A project in a folder this process cannot write. SQLite's WAL mode needs to create
    /// files beside the database, which a read-only folder forbids ("unable to open database
    /// file"), so the database is opened as an immutable snapshot instead: every read works,
    /// nothing is ever written, and a schema older than this build (which would need a
    /// migration) is refused with what to do.
    fn open_read_only(root: PathBuf, config: ProjectConfig, db_path: PathBuf) -> Result<Self, ProjectError> {
        let uri = format!("file:{}?immutable=1", uri_path(&db_path));
        let conn = Connection::open_with_flags(
            &uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_err(&db_path))?;
        let found = check_readable(&conn, &db_path)?;
        let supported = migrations::latest_version();
        if found < supported {
            return Err(ProjectError::ReadOnly {
                dir: root,
                action: format!("upgrading its database from schema {found} to {supported}"),
            });
        }
        conn.pragma_update(None, "foreign_keys", true).map_err(db_err(&db_path))?;
        Ok(Self { root, config, conn, read_only: true })
    }

    /// Whether the project was opened from a folder this process cannot write.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Refuses, naming `action`, when the project is read-only: for work that must write.
    pub fn require_writable(&self, action: &str) -> Result<(), ProjectError> {
        if self.read_only {
            return Err(ProjectError::ReadOnly { dir: self.root.clone(), action: action.to_string() });
        }
        Ok(())
    }

    /// The project folder (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn name(&self) -> &str {
        &self.config.project.name
    }

    pub fn config(&self) -> &ProjectConfig {
        &self.config
    }

    /// The project database, for the stores of other modules (collections, uploads, mints).
    pub fn db(&self) -> &Connection {
        &self.conn
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join(DATABASE_FILE)
    }

    /// Appends an entry to the project's journal.
    pub fn journal(&self, kind: &str, detail: &serde_json::Value) -> Result<(), ProjectError> {
        // A read-only project keeps no log of what was only read.
        if self.read_only {
            return Ok(());
        }
        self.conn
            .execute(
                "INSERT INTO journal (at, kind, detail) VALUES (?1, ?2, ?3)",
                rusqlite::params![now_unix(), kind, detail.to_string()],
            )
            .map_err(db_err(&self.db_path()))?;
        Ok(())
    }

    pub fn info(&self) -> Result<ProjectInfo, ProjectError> {
        let db_path = self.db_path();
        let schema_version = migrations::current_version(&self.conn).map_err(db_err(&db_path))?;
        // Logical size: in WAL mode recent pages live in the -wal file until a checkpoint,
        // so the main file's length lags behind.
        let database_bytes: i64 = self
            .conn
            .query_row("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()", [], |r| r.get(0))
            .map_err(db_err(&db_path))?;
        let database_bytes = u64::try_from(database_bytes).unwrap_or(0);
        Ok(ProjectInfo {
            name: self.name().to_string(),
            root: self.root.display().to_string(),
            created: self.config.project.created.clone(),
            schema_version,
            latest_schema_version: migrations::latest_version(),
            database_bytes,
            chrysalis_version: env!("CARGO_PKG_VERSION").to_string(),
        })
    }

    /// Verifies the whole project, one check at a time, reporting progress after each and
    /// stopping at the next check once `cancel` is set. Problems are reported in the
    /// [`CheckReport`], not as errors; errors mean the check itself could not run.
    pub fn check(
        &self,
        on_progress: &mut dyn FnMut(&Progress),
        cancel: &CancelToken,
    ) -> Result<CheckReport, ProjectError> {
        type Check = fn(&Project) -> Result<(bool, String), ProjectError>;
        let checks: [(&str, Check); 4] = [
            ("settings", Project::check_settings),
            ("database integrity", Project::check_integrity),
            ("foreign keys", Project::check_foreign_keys),
            ("schema history", Project::check_schema_history),
        ];
        let total = checks.len() as u64;
        let mut steps = Vec::with_capacity(checks.len());
        for (i, (name, run)) in checks.iter().enumerate() {
            cancel.check()?;
            on_progress(&Progress::new(i as u64, total, format!("checking {name}")));
            let (ok, detail) = run(self)?;
            steps.push(CheckStep { name: (*name).to_string(), ok, detail, warning: None });
        }
        on_progress(&Progress::new(total, total, "done"));
        let ok = steps.iter().all(|s| s.ok);
        self.journal("project.checked", &serde_json::json!({ "ok": ok }))?;
        Ok(CheckReport { ok, steps })
    }

    fn check_settings(&self) -> Result<(bool, String), ProjectError> {
        // Re-read from disk: the file may have been edited since the project was opened.
        Ok(match read_config(&self.root.join(CONFIG_FILE)) {
            Ok(c) if c == self.config => (true, format!("{CONFIG_FILE} is valid")),
            Ok(_) => (false, format!("{CONFIG_FILE} changed since the project was opened; reopen it")),
            Err(e) => (false, e.to_string()),
        })
    }

    fn check_integrity(&self) -> Result<(bool, String), ProjectError> {
        let problems = pragma_rows(&self.conn, "PRAGMA integrity_check", &self.db_path())?;
        Ok(if problems == ["ok"] { (true, "no problems found".into()) } else { (false, problems.join("; ")) })
    }

    fn check_foreign_keys(&self) -> Result<(bool, String), ProjectError> {
        let mut stmt = self.conn.prepare("PRAGMA foreign_key_check").map_err(db_err(&self.db_path()))?;
        let violations: Vec<String> = stmt
            .query_map([], |row| Ok(format!("{} row {:?}", row.get::<_, String>(0)?, row.get::<_, Option<i64>>(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(db_err(&self.db_path()))?;
        Ok(if violations.is_empty() {
            (true, "every reference resolves".into())
        } else {
            (false, format!("dangling references: {}", violations.join(", ")))
        })
    }

    fn check_schema_history(&self) -> Result<(bool, String), ProjectError> {
        let db_path = self.db_path();
        let version = migrations::current_version(&self.conn).map_err(db_err(&db_path))?;
        let recorded: Vec<u32> = self
            .conn
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(db_err(&db_path))?;
        let expected: Vec<u32> = (1..=version).collect();
        Ok(if recorded == expected {
            (true, format!("schema version {version}, every migration recorded"))
        } else {
            (false, format!("schema version {version} but migrations recorded are {recorded:?}"))
        })
    }
}

/// The project folder containing `start`: `start` itself or its nearest ancestor that holds
/// a `chrysalis.toml`, as git finds its repository.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    // The parent of a bare file name (`small.png`) is the empty path, which means the
    // current directory; made absolute, every ancestor is a real folder.
    let start = if start.as_os_str().is_empty() { Path::new(".") } else { start };
    let start = std::path::absolute(start).ok()?;
    start.ancestors().find(|dir| dir.join(CONFIG_FILE).is_file()).map(Path::to_path_buf)
}

fn db_err(path: &Path) -> impl FnOnce(rusqlite::Error) -> ProjectError + '_ {
    move |source| ProjectError::Database { path: path.to_path_buf(), source }
}

fn validate_name(name: &str) -> Result<(), ProjectError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some("it is longer than 64 characters")
    } else if name.chars().any(char::is_control) {
        Some("it contains control characters")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ProjectError::InvalidName { name: name.to_string(), reason }),
        None => Ok(()),
    }
}

/// Per-connection settings, plus WAL (persistent in the file; a no-op once set).
/// The checks that only read: the database is not corrupt and its schema is not newer than
/// this build's. Returns its schema version.
fn check_readable(conn: &Connection, db_path: &Path) -> Result<u32, ProjectError> {
    check_not_corrupt(conn, db_path)?;
    let found = migrations::current_version(conn).map_err(db_err(db_path))?;
    let supported = migrations::latest_version();
    if found > supported {
        return Err(ProjectError::SchemaTooNew { path: db_path.to_path_buf(), found, supported });
    }
    Ok(found)
}

/// Whether this process can create files in `dir`: tried, since permission bits do not tell
/// (root ignores them; a read-only mount overrides them).
fn folder_is_writable(dir: &Path) -> bool {
    let probe = dir.join(format!(".chrysalis-write-probe-{}", std::process::id()));
    match fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            true
        }
        // A probe left by a killed process of the same id: the folder is writable.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = fs::remove_file(&probe);
            true
        }
        Err(_) => false,
    }
}

/// `path` for an SQLite `file:` URI: `%`, `?` and `#` escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

fn configure(conn: &Connection, db_path: &Path) -> Result<(), ProjectError> {
    conn.busy_timeout(Duration::from_secs(10)).map_err(db_err(db_path))?;
    conn.pragma_update(None, "foreign_keys", true).map_err(db_err(db_path))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(db_err(db_path))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(ProjectError::Database {
            path: db_path.to_path_buf(),
            source: rusqlite::Error::InvalidParameterName(format!("journal mode is {mode}, WAL could not be enabled")),
        });
    }
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(db_err(db_path))?;
    Ok(())
}

/// `quick_check` reads every page without writing: it finds a file that is not a database,
/// a truncated one, and damaged pages or indexes.
fn check_not_corrupt(conn: &Connection, db_path: &Path) -> Result<(), ProjectError> {
    let corrupt = |detail: String| ProjectError::Corrupt { path: db_path.to_path_buf(), detail };
    match pragma_rows(conn, "PRAGMA quick_check", db_path) {
        Ok(rows) if rows == ["ok"] => Ok(()),
        Ok(rows) => Err(corrupt(rows.join("; "))),
        Err(ProjectError::Database { source, .. }) => match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                Err(corrupt(source.to_string()))
            }
            _ => Err(ProjectError::Database { path: db_path.to_path_buf(), source }),
        },
        Err(e) => Err(e),
    }
}

fn pragma_rows(conn: &Connection, sql: &str, db_path: &Path) -> Result<Vec<String>, ProjectError> {
    conn.prepare(sql).and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect()).map_err(db_err(db_path))
}

fn read_config(path: &Path) -> Result<ProjectConfig, ProjectError> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    // Check the format before the full shape, so a newer file says "update Chrysalis"
    // rather than complaining about fields it does not know.
    #[derive(Deserialize)]
    struct Probe {
        project: ProbeSection,
    }
    #[derive(Deserialize)]
    struct ProbeSection {
        format: Option<u32>,
    }
    let bad = |message: String| ProjectError::BadConfig { path: path.to_path_buf(), message };
    if let Ok(Probe { project: ProbeSection { format: Some(found) } }) = toml::from_str::<Probe>(&text)
        && found > CONFIG_FORMAT
    {
        return Err(ProjectError::ConfigTooNew { path: path.to_path_buf(), found, supported: CONFIG_FORMAT });
    }
    let config: ProjectConfig = toml::from_str(&text).map_err(|e| bad(e.to_string().trim_end().to_string()))?;
    validate_name(&config.project.name).map_err(|e| bad(e.to_string()))?;
    Ok(config)
}

/// Writes to a temporary file in the same folder, syncs it, then renames it over the
/// target: readers see the old file or the new one, never half of one.
fn write_config_atomically(path: &Path, config: &ProjectConfig) -> Result<(), ProjectError> {
    let text = format!(
        "# Chrysalis project settings. The project's data lives in {DATABASE_FILE}, next to this file.\n{}",
        toml::to_string_pretty(config).expect("project config always serializes")
    );
    let tmp = path.with_extension("toml.tmp");
    let mut file = fs::File::create(&tmp).map_err(io_err(&tmp))?;
    file.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_err(path))
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests;
