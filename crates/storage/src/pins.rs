//! The project database's record of roots kept in the local store (table `storage_roots`):
//! which name, which CID, which layout made it, when.

use cid::Cid;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::StorageError;
use crate::importer::{Added, cid_string};
use crate::layout::Layout;

/// One recorded root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub name: String,
    #[serde(with = "cid_string")]
    pub cid: Cid,
    /// The layout that made the CID; `None` when it came from elsewhere (a CAR import).
    pub layout: Option<Layout>,
    /// Content bytes (files) under the root, when known.
    pub bytes: u64,
    /// Unix seconds.
    pub created: i64,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Records `cid` under `name` (idempotent: the same name and CID keep their first record).
pub fn record(
    conn: &Connection,
    name: &str,
    cid: &Cid,
    layout: Option<Layout>,
    bytes: u64,
) -> Result<Pin, StorageError> {
    conn.execute(
        "INSERT INTO storage_roots (name, cid, layout, bytes, created) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name, cid) DO NOTHING",
        params![name, cid.to_string(), layout.map(Layout::as_str), bytes as i64, now()],
    )?;
    let pin = conn.query_row(
        "SELECT name, cid, layout, bytes, created FROM storage_roots WHERE name = ?1 AND cid = ?2",
        params![name, cid.to_string()],
        row_to_pin,
    )?;
    Ok(pin)
}

/// Records what an import returned.
pub fn record_added(conn: &Connection, name: &str, added: &Added) -> Result<Pin, StorageError> {
    record(conn, name, &added.cid, Some(added.layout), added.size)
}

/// Every recorded root, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<Pin>, StorageError> {
    let mut stmt = conn.prepare("SELECT name, cid, layout, bytes, created FROM storage_roots ORDER BY id")?;
    let pins = stmt.query_map([], row_to_pin)?.collect::<Result<Vec<_>, _>>()?;
    Ok(pins)
}

/// The newest root recorded under `name`.
pub fn latest(conn: &Connection, name: &str) -> Result<Option<Pin>, StorageError> {
    Ok(conn
        .query_row(
            "SELECT name, cid, layout, bytes, created FROM storage_roots WHERE name = ?1 ORDER BY id DESC LIMIT 1",
            params![name],
            row_to_pin,
        )
        .optional()?)
}

/// Forgets `cid` under `name`; returns whether there was such a record. Blocks stay.
pub fn remove(conn: &Connection, name: &str, cid: &Cid) -> Result<bool, StorageError> {
    Ok(conn.execute("DELETE FROM storage_roots WHERE name = ?1 AND cid = ?2", params![name, cid.to_string()])? > 0)
}

fn row_to_pin(row: &rusqlite::Row<'_>) -> rusqlite::Result<Pin> {
    let cid: String = row.get(1)?;
    let cid = Cid::try_from(cid.as_str())
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e)))?;
    let layout: Option<String> = row.get(2)?;
    let layout = layout
        .map(|l| l.parse::<Layout>())
        .transpose()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(Pin { name: row.get(0)?, cid, layout, bytes: row.get::<_, i64>(3)?.max(0) as u64, created: row.get(4)? })
}
