//! What `chrysalis info` says about a project's collection: on which networks it exists, its
//! address, how many of its items are minted, each NFT's stage, and what the vault owes.
//!
//! Everything but the money comes from the journal, so it is instant and works on a
//! read-only folder and offline. What is owed lives only on chain: it is read from the
//! embedded sandbox (local, no network) and, for a real network, only when the caller asks
//! (`chrysalis info --chain`), so a plain `info` never waits on an RPC node.

use chrysalis_core::Project;
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::PipelineError;
use super::chain::{Chain, ChainOptions, parse_network};
use super::journal::Journal;
use super::royalties::{self, RoyaltiesReport};

/// One collection of the project on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CollectionInfo {
    /// `sandbox`, `devnet`, `mainnet-beta` or an RPC URL.
    pub network: String,
    /// The collection account (a PDA of the group mint).
    pub collection: String,
    pub group_mint: String,
    /// `created`, or `sending` while its creation is not confirmed.
    pub status: String,
    /// Items planned for the collection.
    pub total: u32,
    /// Items whose mint is confirmed.
    pub minted: u32,
    /// Every confirmed NFT, by index.
    pub nfts: Vec<NftInfo>,
    /// The vault and what it owes each creator; `None` when the chain was not read.
    #[cfg_attr(feature = "ts", ts(optional))]
    pub royalties: Option<RoyaltiesReport>,
    /// Why `royalties` is missing: not asked for, or the chain could not be read.
    #[cfg_attr(feature = "ts", ts(optional))]
    pub royalties_note: Option<String>,
}

/// One minted NFT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NftInfo {
    pub index: u32,
    pub mint: String,
    /// The stage the journal last saw it evolve to (0 = as minted).
    pub stage: u32,
}

/// The project's collections, one per network it was published to. `read_chain`: also read
/// what is owed from a real network (the sandbox is always read).
pub fn collections(project: &Project, read_chain: bool) -> Result<Vec<CollectionInfo>, PipelineError> {
    let conn = project.db();
    let journal = Journal::new(conn);
    let total: u32 =
        conn.query_row("SELECT coalesce(max(items), 0) FROM pipeline_plan", [], |r| r.get(0)).unwrap_or_default();
    let networks: Vec<String> = conn
        .prepare("SELECT network FROM chain_collections ORDER BY network")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(networks.len());
    for network in networks {
        let Some(row) = journal.collection(&network)? else { continue };
        let stages = evolved_stages(conn, &network)?;
        let nfts: Vec<NftInfo> = journal
            .mints(&network)?
            .into_iter()
            .filter(|m| m.status == "minted")
            .map(|m| NftInfo { index: m.item, stage: stages.get(&m.item).copied().unwrap_or(0), mint: m.mint })
            .collect();
        let (royalties, royalties_note) = if network == "sandbox" || read_chain {
            match read_royalties(project, &network) {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(format!("could not read the chain: {e}"))),
            }
        } else {
            (None, Some("not read: pass --chain to read what is owed from the network".into()))
        };
        out.push(CollectionInfo {
            network,
            collection: row.collection,
            group_mint: row.group_mint,
            status: row.status,
            total,
            minted: nfts.len() as u32,
            nfts,
            royalties,
            royalties_note,
        });
    }
    Ok(out)
}

/// Each item's latest confirmed stage on `network`.
fn evolved_stages(
    conn: &rusqlite::Connection,
    network: &str,
) -> Result<std::collections::BTreeMap<u32, u32>, PipelineError> {
    let mut stmt = conn.prepare(
        "SELECT item, max(to_stage) FROM chain_evolutions WHERE network = ?1 AND status = 'evolved' GROUP BY item",
    )?;
    let rows = stmt.query_map(params![network], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn read_royalties(project: &Project, network: &str) -> Result<RoyaltiesReport, PipelineError> {
    parse_network(network)?;
    let chain = Chain::open(project.root(), &ChainOptions { network: network.to_string(), wallet: None })?;
    royalties::status(project.root(), &chain)
}
