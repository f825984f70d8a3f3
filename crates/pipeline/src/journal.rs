//! The pipeline's journal in the project database (schema migration 5).
//!
//! | table | one row per | written |
//! |---|---|---|
//! | `pipeline_plan` | project (the last plan) | after planning |
//! | `pipeline_items` | item × stage: image path + SHA-256, metadata path + SHA-256, CIDs | after each file is written |
//! | `pipeline_stages` | stage: images/metadata folder CIDs, base URI, content root | after CIDs are computed |
//! | `pipeline_pins` | stage × folder × backend | after each publish |
//! | `chain_collections` | network: group mint, collection PDA, authority, spec hash | `sending` before, `created` after |
//! | `chain_stages` | network × stage | `sending` before, `added` after |
//! | `chain_mints` | network × item: mint PDA, owner, recipe hash, signature | `sending` before, `minted`/`failed` after |
//! | `chain_evolutions`, `chain_distributions` | each attempt | before and after |
//!
//! The journal is a record, not the truth: every rerun reconciles it with files, the store
//! and the chain (see [`super`]). A `sending` row left by a kill means "maybe": the next run
//! asks the chain.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::unix_now;

/// A journaled item × stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ItemRow {
    pub stage: u32,
    pub item: u32,
    pub recipe_hash: String,
    pub image_path: Option<String>,
    pub image_sha256: Option<String>,
    pub image_cid: Option<String>,
    pub metadata_path: Option<String>,
    pub metadata_sha256: Option<String>,
    pub metadata_cid: Option<String>,
}

/// A journaled stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StageRow {
    pub stage: u32,
    pub images_cid: Option<String>,
    pub metadata_cid: Option<String>,
    pub base_uri: Option<String>,
    pub content_root: Option<String>,
}

/// A journaled collection on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionRow {
    pub network: String,
    pub group_mint: String,
    pub collection: String,
    pub authority: String,
    pub spec_sha256: String,
    pub uri: String,
    pub status: String,
    pub signature: Option<String>,
}

/// A journaled mint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintRow {
    pub item: u32,
    pub mint: String,
    pub owner: String,
    pub recipe_hash: String,
    pub status: String,
    pub signature: Option<String>,
}

/// The journal over one project database connection.
pub struct Journal<'c> {
    conn: &'c Connection,
}

impl<'c> Journal<'c> {
    pub fn new(conn: &'c Connection) -> Self {
        Journal { conn }
    }

    pub fn conn(&self) -> &Connection {
        self.conn
    }

    // ---- plan ------------------------------------------------------------------------

    pub fn record_plan(
        &self,
        spec_sha256: &str,
        items: u32,
        stages: u32,
        plan: &serde_json::Value,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO pipeline_plan (id, spec_sha256, items, stages, plan, planned_at) VALUES (1, ?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET spec_sha256 = ?1, items = ?2, stages = ?3, plan = ?4, planned_at = ?5",
            params![spec_sha256, items, stages, plan.to_string(), unix_now()],
        )?;
        Ok(())
    }

    pub fn plan_sha(&self) -> rusqlite::Result<Option<String>> {
        self.conn.query_row("SELECT spec_sha256 FROM pipeline_plan WHERE id = 1", [], |r| r.get(0)).optional()
    }

    // ---- items -----------------------------------------------------------------------

    pub fn item(&self, stage: u32, item: u32) -> rusqlite::Result<Option<ItemRow>> {
        self.conn
            .query_row(
                "SELECT stage, item, recipe_hash, image_path, image_sha256, image_cid, metadata_path, metadata_sha256, metadata_cid
                 FROM pipeline_items WHERE stage = ?1 AND item = ?2",
                params![stage, item],
                |r| {
                    Ok(ItemRow {
                        stage: r.get(0)?,
                        item: r.get(1)?,
                        recipe_hash: r.get(2)?,
                        image_path: r.get(3)?,
                        image_sha256: r.get(4)?,
                        image_cid: r.get(5)?,
                        metadata_path: r.get(6)?,
                        metadata_sha256: r.get(7)?,
                        metadata_cid: r.get(8)?,
                    })
                },
            )
            .optional()
    }

    /// Records a generated (or re-checked) image; clears the item's later columns when the
    /// recipe changed.
    /// The journaled SHA-256 of every image, by (stage, item): read once before a parallel
    /// run, whose workers cannot share the connection.
    pub fn image_shas(&self) -> rusqlite::Result<std::collections::HashMap<(u32, u32), String>> {
        let mut stmt =
            self.conn.prepare("SELECT stage, item, image_sha256 FROM pipeline_items WHERE image_sha256 IS NOT NULL")?;
        let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
        rows.collect()
    }

    pub fn record_image(
        &self,
        stage: u32,
        item: u32,
        recipe_hash: &str,
        path: &str,
        sha256: &str,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO pipeline_items (stage, item, recipe_hash, image_path, image_sha256, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (stage, item) DO UPDATE SET
                image_cid = CASE WHEN image_sha256 IS ?5 THEN image_cid ELSE NULL END,
                recipe_hash = ?3, image_path = ?4, image_sha256 = ?5, updated_at = ?6",
            params![stage, item, recipe_hash, path, sha256, unix_now()],
        )?;
        Ok(())
    }

    pub fn record_metadata(
        &self,
        stage: u32,
        item: u32,
        path: &str,
        sha256: &str,
        image_cid: &str,
        metadata_cid: &str,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE pipeline_items SET metadata_path = ?3, metadata_sha256 = ?4, image_cid = ?5, metadata_cid = ?6, updated_at = ?7
             WHERE stage = ?1 AND item = ?2",
            params![stage, item, path, sha256, image_cid, metadata_cid, unix_now()],
        )?;
        Ok(())
    }

    // ---- stages ----------------------------------------------------------------------

    pub fn record_stage(&self, row: &StageRow) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO pipeline_stages (stage, images_cid, metadata_cid, base_uri, content_root, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (stage) DO UPDATE SET images_cid = ?2, metadata_cid = ?3, base_uri = ?4, content_root = ?5, updated_at = ?6",
            params![row.stage, row.images_cid, row.metadata_cid, row.base_uri, row.content_root, unix_now()],
        )?;
        Ok(())
    }

    pub fn stages(&self) -> rusqlite::Result<Vec<StageRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT stage, images_cid, metadata_cid, base_uri, content_root FROM pipeline_stages ORDER BY stage",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(StageRow {
                stage: r.get(0)?,
                images_cid: r.get(1)?,
                metadata_cid: r.get(2)?,
                base_uri: r.get(3)?,
                content_root: r.get(4)?,
            })
        })?;
        rows.collect()
    }

    pub fn record_pin(
        &self,
        stage: u32,
        folder: &str,
        backend: &str,
        endpoint: &str,
        cid: &str,
        status: &str,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO pipeline_pins (stage, folder, backend, endpoint, cid, status, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (stage, folder, backend, endpoint) DO UPDATE SET cid = ?5, status = ?6, updated_at = ?7",
            params![stage, folder, backend, endpoint, cid, status, unix_now()],
        )?;
        Ok(())
    }

    // ---- chain: collection and stages ------------------------------------------------

    pub fn collection(&self, network: &str) -> rusqlite::Result<Option<CollectionRow>> {
        self.conn
            .query_row(
                "SELECT network, group_mint, collection, authority, spec_sha256, uri, status, signature
                 FROM chain_collections WHERE network = ?1",
                params![network],
                |r| {
                    Ok(CollectionRow {
                        network: r.get(0)?,
                        group_mint: r.get(1)?,
                        collection: r.get(2)?,
                        authority: r.get(3)?,
                        spec_sha256: r.get(4)?,
                        uri: r.get(5)?,
                        status: r.get(6)?,
                        signature: r.get(7)?,
                    })
                },
            )
            .optional()
    }

    /// The collection's row, written `sending` before `create_collection` goes out.
    pub fn begin_collection(&self, row: &CollectionRow) -> rusqlite::Result<()> {
        let now = unix_now();
        self.conn.execute(
            "INSERT INTO chain_collections (network, group_mint, collection, authority, spec_sha256, uri, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'sending', ?7, ?7)
             ON CONFLICT (network) DO NOTHING",
            params![row.network, row.group_mint, row.collection, row.authority, row.spec_sha256, row.uri, now],
        )?;
        Ok(())
    }

    /// Keeps the `collection.toml` text the collection on `network` is created from.
    pub fn record_collection_spec(&self, network: &str, spec_toml: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE chain_collections SET spec_toml = ?2 WHERE network = ?1 AND spec_toml IS NULL",
            params![network, spec_toml],
        )?;
        Ok(())
    }

    /// The `collection.toml` text the collection on `network` was created from (`None` for a
    /// collection created before the project kept it).
    pub fn collection_spec(&self, network: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row("SELECT spec_toml FROM chain_collections WHERE network = ?1", params![network], |r| r.get(0))
            .optional()
            .map(Option::flatten)
    }

    pub fn finish_collection(&self, network: &str, signature: Option<&str>) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE chain_collections SET status = 'created', signature = COALESCE(?2, signature), updated_at = ?3 WHERE network = ?1",
            params![network, signature, unix_now()],
        )?;
        Ok(())
    }

    pub fn begin_stage(&self, network: &str, stage: u32, base_uri: &str, content_root: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO chain_stages (network, stage, base_uri, content_root, status, updated_at) VALUES (?1, ?2, ?3, ?4, 'sending', ?5)
             ON CONFLICT (network, stage) DO UPDATE SET base_uri = ?3, content_root = ?4, updated_at = ?5 WHERE status = 'sending'",
            params![network, stage, base_uri, content_root, unix_now()],
        )?;
        Ok(())
    }

    pub fn finish_stage(&self, network: &str, stage: u32, signature: Option<&str>) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE chain_stages SET status = 'added', signature = COALESCE(?3, signature), updated_at = ?4 WHERE network = ?1 AND stage = ?2",
            params![network, stage, signature, unix_now()],
        )?;
        Ok(())
    }

    // ---- chain: mints ----------------------------------------------------------------

    pub fn begin_mint(
        &self,
        network: &str,
        item: u32,
        mint: &str,
        owner: &str,
        recipe_hash: &str,
    ) -> rusqlite::Result<()> {
        let now = unix_now();
        self.conn.execute(
            "INSERT INTO chain_mints (network, item, mint, owner, recipe_hash, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'sending', ?6, ?6)
             ON CONFLICT (network, item) DO UPDATE SET status = 'sending', updated_at = ?6 WHERE status != 'minted'",
            params![network, item, mint, owner, recipe_hash, now],
        )?;
        Ok(())
    }

    pub fn finish_mint(
        &self,
        network: &str,
        item: u32,
        mint: &str,
        owner: &str,
        recipe_hash: &str,
        signature: Option<&str>,
    ) -> rusqlite::Result<()> {
        let now = unix_now();
        self.conn.execute(
            "INSERT INTO chain_mints (network, item, mint, owner, recipe_hash, status, signature, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'minted', ?6, ?7, ?7)
             ON CONFLICT (network, item) DO UPDATE SET status = 'minted', signature = COALESCE(?6, signature), last_error = NULL, updated_at = ?7",
            params![network, item, mint, owner, recipe_hash, signature, now],
        )?;
        Ok(())
    }

    pub fn fail_mint(&self, network: &str, item: u32, error: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE chain_mints SET status = 'failed', last_error = ?3, updated_at = ?4 WHERE network = ?1 AND item = ?2 AND status != 'minted'",
            params![network, item, error, unix_now()],
        )?;
        Ok(())
    }

    pub fn mints(&self, network: &str) -> rusqlite::Result<Vec<MintRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT item, mint, owner, recipe_hash, status, signature FROM chain_mints WHERE network = ?1 ORDER BY item",
        )?;
        let rows = stmt.query_map(params![network], |r| {
            Ok(MintRow {
                item: r.get(0)?,
                mint: r.get(1)?,
                owner: r.get(2)?,
                recipe_hash: r.get(3)?,
                status: r.get(4)?,
                signature: r.get(5)?,
            })
        })?;
        rows.collect()
    }

    // ---- chain: evolutions and royalties ---------------------------------------------

    pub fn begin_evolution(&self, network: &str, item: u32, from: u32, to: u32) -> rusqlite::Result<i64> {
        self.conn.execute(
            "INSERT INTO chain_evolutions (network, item, from_stage, to_stage, status, at) VALUES (?1, ?2, ?3, ?4, 'sending', ?5)",
            params![network, item, from, to, unix_now()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_evolution(
        &self,
        id: i64,
        status: &str,
        signature: Option<&str>,
        error: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE chain_evolutions SET status = ?2, signature = ?3, last_error = ?4, at = ?5 WHERE id = ?1",
            params![id, status, signature, error, unix_now()],
        )?;
        Ok(())
    }

    pub fn begin_distribution(&self, network: &str, kind: &str, lamports: u64) -> rusqlite::Result<i64> {
        self.conn.execute(
            "INSERT INTO chain_distributions (network, kind, lamports, status, at) VALUES (?1, ?2, ?3, 'sending', ?4)",
            params![network, kind, lamports as i64, unix_now()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Payments into the vault recorded on `network` that went out (done, or sent with a
    /// signature by a run that did not hear back).
    pub fn payments(&self, network: &str) -> rusqlite::Result<u32> {
        self.conn.query_row(
            "SELECT count(*) FROM chain_distributions WHERE network = ?1 AND kind = 'payment'
             AND (status = 'done' OR (status = 'sending' AND signature IS NOT NULL))",
            params![network],
            |r| r.get(0),
        )
    }

    pub fn finish_distribution(
        &self,
        id: i64,
        status: &str,
        signature: Option<&str>,
        error: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE chain_distributions SET status = ?2, signature = ?3, last_error = ?4, at = ?5 WHERE id = ?1",
            params![id, status, signature, error, unix_now()],
        )?;
        Ok(())
    }
}
