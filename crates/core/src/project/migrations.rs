//! Versioned schema migrations for the project database.
//!
//! The schema version lives in SQLite's `user_version` header field, so finding it needs no
//! table and works on any database. Each migration runs in its own transaction together with
//! the bump of `user_version` and a row in `schema_migrations`, so a crash mid-way leaves the
//! database at the previous version, never between two.
//!
//! Migrations are append-only: never edit one that has shipped, add the next version.

use rusqlite::{Connection, TransactionBehavior};

/// One step of the schema.
#[derive(Debug)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. `MIGRATIONS[i].version == i + 1`.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "project journal",
    sql: r#"
        CREATE TABLE schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT    NOT NULL,
            applied_at INTEGER NOT NULL
        );
        -- Small key/value facts about the project that do not deserve a table.
        CREATE TABLE project_meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        -- An append-only log of what happened to the project, for history views and audits.
        CREATE TABLE journal (
            id     INTEGER PRIMARY KEY AUTOINCREMENT,
            at     INTEGER NOT NULL,
            kind   TEXT    NOT NULL,
            detail TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
        );
    "#,
}];

/// The newest schema version this build understands.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

pub(crate) fn current_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Applies every migration newer than the database's version. Returns the versions applied.
pub(crate) fn migrate(conn: &mut Connection, now: i64) -> Result<Vec<u32>, MigrationError> {
    let mut applied = Vec::new();
    for migration in MIGRATIONS {
        let fail = |source| MigrationError { version: migration.version, name: migration.name, source };
        // IMMEDIATE takes the write lock before reading the version, so two processes opening
        // the same project cannot both apply one migration.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(fail)?;
        if current_version(&tx).map_err(fail)? >= migration.version {
            continue;
        }
        tx.execute_batch(migration.sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![migration.version, migration.name, now],
        )
        .map_err(fail)?;
        // PRAGMA takes no bound parameters; the version is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", migration.version)).map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(version = migration.version, name = migration.name, "applied migration");
        applied.push(migration.version);
    }
    Ok(applied)
}

#[derive(Debug, thiserror::Error)]
#[error("schema migration {version} ({name}) failed: {source}")]
pub struct MigrationError {
    pub version: u32,
    pub name: &'static str,
    #[source]
    pub source: rusqlite::Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dense_and_ordered() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "migration {:?} is out of order", m.name);
        }
    }

    #[test]
    fn migrate_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        let first = migrate(&mut conn, 1).unwrap();
        assert_eq!(first.len(), MIGRATIONS.len());
        assert_eq!(current_version(&conn).unwrap(), latest_version());
        assert!(migrate(&mut conn, 2).unwrap().is_empty());
        let recorded: u32 =
            conn.query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(recorded as usize, MIGRATIONS.len());
    }
}
