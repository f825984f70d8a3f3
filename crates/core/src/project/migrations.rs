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
pub const MIGRATIONS: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2,
        name: "storage roots",
        sql: r#"
        -- Roots kept in the local content-addressed store (crates/storage): what was added or
        -- imported, under which name, and the UnixFS layout that made its CID (NULL when the
        -- CID came from elsewhere, e.g. a CAR import).
        CREATE TABLE storage_roots (
            id      INTEGER PRIMARY KEY AUTOINCREMENT,
            name    TEXT    NOT NULL,
            cid     TEXT    NOT NULL,
            layout  TEXT    CHECK (layout IN ('v0', 'v1', 'v1-2025')),
            bytes   INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
            created INTEGER NOT NULL,
            UNIQUE (name, cid)
        );
        CREATE INDEX storage_roots_cid ON storage_roots (cid);
    "#,
    },
    Migration {
        version: 3,
        name: "uploads",
        sql: r#"
        -- Every upload to a remote backend (crates/storage/src/remote/publish.rs), written
        -- before and after each step so an interrupted publish resumes without re-uploading
        -- what was verified. One row per (backend, endpoint, kind, CID). No credentials here:
        -- the endpoint is a URL without secrets, tokens live in env vars or the OS keyring.
        CREATE TABLE uploads (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            backend     TEXT    NOT NULL CHECK (backend IN ('local', 'kubo', 'psa', 'pinata', 'arweave')),
            endpoint    TEXT    NOT NULL,
            kind        TEXT    NOT NULL CHECK (kind IN ('file', 'dir')),
            cid         TEXT    NOT NULL,
            layout      TEXT    NOT NULL CHECK (layout IN ('v0', 'v1', 'v1-2025')),
            local_path  TEXT    NOT NULL,
            size        INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
            sha256      TEXT,
            status      TEXT    NOT NULL DEFAULT 'planned'
                        CHECK (status IN ('planned', 'uploading', 'uploaded', 'verified', 'failed')),
            remote_id   TEXT,
            remote_uri  TEXT,
            receipt     TEXT    CHECK (receipt IS NULL OR json_valid(receipt)),
            checkpoint  TEXT    CHECK (checkpoint IS NULL OR json_valid(checkpoint)),
            attempts    INTEGER NOT NULL DEFAULT 0,
            last_error  TEXT,
            created_at  INTEGER NOT NULL,
            updated_at  INTEGER NOT NULL,
            uploaded_at INTEGER,
            verified_at INTEGER,
            UNIQUE (backend, endpoint, kind, cid)
        );
        CREATE INDEX uploads_cid ON uploads (cid);
        CREATE INDEX uploads_status ON uploads (backend, endpoint, status);
    "#,
    },
    Migration {
        version: 4,
        name: "generations",
        sql: r#"
        -- Every image generated into the project (the desktop's Create screen and gallery, the
        -- CLI's `generate` into a project). The recipe is the full canonical recipe JSON, so a
        -- row alone is enough to regenerate the image; the file is `path` (relative to the
        -- project root) and its bytes hash to `sha256`. `parent_id`: the gallery image an
        -- img2img generation started from.
        CREATE TABLE generations (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            recipe      TEXT    NOT NULL CHECK (json_valid(recipe)),
            recipe_hash TEXT    NOT NULL,
            path        TEXT    NOT NULL UNIQUE,
            sha256      TEXT    NOT NULL,
            width       INTEGER NOT NULL CHECK (width > 0),
            height      INTEGER NOT NULL CHECK (height > 0),
            parent_id   INTEGER REFERENCES generations (id) ON DELETE SET NULL,
            created_at  INTEGER NOT NULL
        );
        CREATE INDEX generations_recipe_hash ON generations (recipe_hash);
    "#,
    },
    Migration {
        version: 5,
        name: "pipeline journal",
        sql: r#"
        -- The collection pipeline (crates/pipeline): what `chrysalis publish` planned,
        -- generated, pinned and did on chain. Rows are written before and after each step;
        -- a rerun reconciles them with the files, the store and the chain instead of trusting
        -- them alone. Keys (the group mint keypair, the sandbox wallet) are never stored here:
        -- they are files under `<project>/keys/`.
        --
        -- The plan last used: the spec's SHA-256 (collection.toml bytes) and its size.
        CREATE TABLE pipeline_plan (
            id          INTEGER PRIMARY KEY CHECK (id = 1),
            spec_sha256 TEXT    NOT NULL,
            items       INTEGER NOT NULL CHECK (items >= 0),
            stages      INTEGER NOT NULL CHECK (stages >= 0),
            plan        TEXT    NOT NULL CHECK (json_valid(plan)),
            planned_at  INTEGER NOT NULL
        );
        -- One row per item per stage: the generated image and metadata and their CIDs.
        CREATE TABLE pipeline_items (
            stage           INTEGER NOT NULL CHECK (stage >= 0),
            item            INTEGER NOT NULL CHECK (item >= 0),
            recipe_hash     TEXT    NOT NULL,
            image_path      TEXT,
            image_sha256    TEXT,
            image_cid       TEXT,
            metadata_path   TEXT,
            metadata_sha256 TEXT,
            metadata_cid    TEXT,
            updated_at      INTEGER NOT NULL,
            PRIMARY KEY (stage, item)
        ) WITHOUT ROWID;
        -- Per stage: the images and metadata folder roots, the on-chain base URI and content
        -- root (hex of the SHA-256 digest inside the metadata folder's CID).
        CREATE TABLE pipeline_stages (
            stage         INTEGER PRIMARY KEY CHECK (stage >= 0),
            images_cid    TEXT,
            metadata_cid  TEXT,
            base_uri      TEXT,
            content_root  TEXT,
            updated_at    INTEGER NOT NULL
        );
        -- Where each stage folder was pinned (local store, Kubo, a pinning service, ...).
        CREATE TABLE pipeline_pins (
            stage      INTEGER NOT NULL,
            folder     TEXT    NOT NULL CHECK (folder IN ('images', 'metadata', 'collection')),
            backend    TEXT    NOT NULL,
            endpoint   TEXT    NOT NULL,
            cid        TEXT    NOT NULL,
            status     TEXT    NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (stage, folder, backend, endpoint)
        ) WITHOUT ROWID;
        -- The collection on one network ('sandbox', 'devnet', an RPC URL, ...).
        CREATE TABLE chain_collections (
            network      TEXT PRIMARY KEY,
            group_mint   TEXT    NOT NULL,
            collection   TEXT    NOT NULL,
            authority    TEXT    NOT NULL,
            spec_sha256  TEXT    NOT NULL,
            uri          TEXT    NOT NULL,
            status       TEXT    NOT NULL CHECK (status IN ('sending', 'created')),
            signature    TEXT,
            created_at   INTEGER NOT NULL,
            updated_at   INTEGER NOT NULL
        );
        -- Stages added to that collection.
        CREATE TABLE chain_stages (
            network      TEXT    NOT NULL,
            stage        INTEGER NOT NULL CHECK (stage >= 0),
            base_uri     TEXT    NOT NULL,
            content_root TEXT    NOT NULL,
            status       TEXT    NOT NULL CHECK (status IN ('sending', 'added')),
            signature    TEXT,
            updated_at   INTEGER NOT NULL,
            PRIMARY KEY (network, stage)
        ) WITHOUT ROWID;
        -- Mints, one per index per network (the mint address is a PDA of the index).
        CREATE TABLE chain_mints (
            network     TEXT    NOT NULL,
            item        INTEGER NOT NULL CHECK (item >= 0),
            mint        TEXT    NOT NULL,
            owner       TEXT    NOT NULL,
            recipe_hash TEXT    NOT NULL,
            status      TEXT    NOT NULL CHECK (status IN ('sending', 'minted', 'failed')),
            signature   TEXT,
            last_error  TEXT,
            created_at  INTEGER NOT NULL,
            updated_at  INTEGER NOT NULL,
            PRIMARY KEY (network, item)
        ) WITHOUT ROWID;
        -- Every evolution sent, and every royalty distribution / payment.
        CREATE TABLE chain_evolutions (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            network    TEXT    NOT NULL,
            item       INTEGER NOT NULL,
            from_stage INTEGER NOT NULL,
            to_stage   INTEGER NOT NULL,
            status     TEXT    NOT NULL CHECK (status IN ('sending', 'evolved', 'failed')),
            signature  TEXT,
            last_error TEXT,
            at         INTEGER NOT NULL
        );
        CREATE INDEX chain_evolutions_item ON chain_evolutions (network, item);
        CREATE TABLE chain_distributions (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            network    TEXT    NOT NULL,
            kind       TEXT    NOT NULL CHECK (kind IN ('payment', 'distribution')),
            lamports   INTEGER NOT NULL DEFAULT 0,
            status     TEXT    NOT NULL CHECK (status IN ('sending', 'done', 'failed')),
            signature  TEXT,
            last_error TEXT,
            at         INTEGER NOT NULL
        );
    "#,
    },
    Migration {
        version: 6,
        name: "collection spec text",
        sql: r#"
        -- The collection.toml a collection was created from, so a later publish can name the
        -- fields that changed since (a collection on chain is fixed) before regenerating.
        ALTER TABLE chain_collections ADD COLUMN spec_toml TEXT;
    "#,
    },
    Migration {
        version: 7,
        name: "confirmed creators",
        sql: r#"
        -- Creator addresses the artist confirmed as theirs or their collaborators' (their own
        -- wallets count without asking). `check`, publishing and the app warn about any
        -- other address in collection.toml: mint proceeds and royalties go to it.
        CREATE TABLE confirmed_creators (
            address      TEXT    PRIMARY KEY,
            how          TEXT    NOT NULL,
            confirmed_at INTEGER NOT NULL
        ) WITHOUT ROWID;
    "#,
    },
];

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
        let recorded: u32 = conn.query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(recorded as usize, MIGRATIONS.len());
    }
}
