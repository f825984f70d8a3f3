//! `chrysalis publish`: plan → generate → metadata → pin → collection → mint, resumable.
//! See [`super`] for the steps and how a rerun reconciles.

use std::fs;
use std::path::Path;
use std::str::FromStr;

use chrysalis_chain::{Keypair, Signer};
use chrysalis_core::collection::metadata;
use chrysalis_core::{CancelToken, Progress, Project};
use chrysalis_storage::remote::local::Local;
use chrysalis_storage::remote::{Pinner, PublishOptions as StoreOptions, Publisher, UploadStatus};
use chrysalis_storage::{Layout, LocalStore};
use serde::{Deserialize, Serialize};

use super::chain::{Chain, ChainOptions, parse_network, resolve_wallet};
use super::generate::{self, GenerateSummary, StageOutput};
use super::journal::Journal;
use super::mint::{self, CollectionReport, MintLine};
use super::plan::{self, PlanSummary, Planned};
use super::shard::Shard;
use super::{BUILD_DIR, OnEvent, Phase, PipelineError, PipelineEvent};

/// Where to stop (`--only`): each phase runs the ones before it too, which skip work already
/// done (so `--only pin` after `--only generate` generates nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Only {
    /// Plan and check the spec; nothing is written but the journal's plan row.
    Plan,
    /// Up to images and metadata files (and their CIDs).
    Generate,
    /// Up to pinning both folders of every stage.
    Pin,
    /// Everything (the default).
    Mint,
}

impl FromStr for Only {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "plan" => Ok(Only::Plan),
            "generate" => Ok(Only::Generate),
            "pin" => Ok(Only::Pin),
            "mint" => Ok(Only::Mint),
            other => Err(format!("unknown phase {other:?}: use plan, generate, pin or mint")),
        }
    }
}

/// How to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PublishOptions {
    pub chain: ChainOptions,
    /// UnixFS layout of every CID (v0 = Kubo's default).
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub layout: Layout,
    /// Stop after this phase (default: everything).
    pub only: Option<Only>,
    /// Images generated at once (default: one per core). The bytes never depend on it.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub jobs: Option<u32>,
    /// Make only this shard's images (items `i` with `i mod N = K`) and stop: the metadata
    /// needs every image, so it waits until the shards are imported (see [`crate::shard`]).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub shard: Option<Shard>,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions { chain: ChainOptions::default(), layout: Layout::V0, only: None, jobs: None, shard: None }
    }
}

/// Where one stage folder went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PinLine {
    pub stage: u32,
    /// `images`, `metadata` or `collection`.
    pub folder: String,
    pub backend: String,
    pub cid: String,
    pub status: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes_sent: u64,
}

/// What a publish run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PublishReport {
    pub network: String,
    pub wallet: String,
    pub plan: PlanSummaryLite,
    pub generate: Option<GenerateSummary>,
    pub stages: Vec<StageOutput>,
    pub pins: Vec<PinLine>,
    pub collection: Option<CollectionReport>,
    pub mints: Vec<MintLine>,
    /// Items minted in this run (the rest were on chain already).
    pub minted_now: u32,
    /// Lamports the wallet spent in this run (rent, fees, prices; airdrops excluded).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub lamports_spent: u64,
}

/// The plan, without its quota table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanSummaryLite {
    pub name: String,
    pub items: u32,
    pub stages: u32,
    pub spec_sha256: String,
}

impl From<&PlanSummary> for PlanSummaryLite {
    fn from(p: &PlanSummary) -> Self {
        PlanSummaryLite { name: p.name.clone(), items: p.items, stages: p.stages, spec_sha256: p.spec_sha256.clone() }
    }
}

/// Publishes the project's collection on `options.chain.network` (connecting to it only if
/// the run gets that far). `remote`: also pin every folder there (the local store always
/// gets them).
pub fn publish(
    project: &Project,
    options: &PublishOptions,
    remote: Option<&dyn Pinner>,
    on_event: OnEvent<'_>,
    cancel: &CancelToken,
) -> Result<PublishReport, PipelineError> {
    run(project, options, remote, None, on_event, cancel)
}

/// [`publish`] on a chain the caller opened (tests pass a fault-injecting ledger).
pub fn publish_with_chain(
    project: &Project,
    options: &PublishOptions,
    remote: Option<&dyn Pinner>,
    chain: &Chain,
    on_event: OnEvent<'_>,
    cancel: &CancelToken,
) -> Result<PublishReport, PipelineError> {
    run(project, options, remote, Some(chain), on_event, cancel)
}

fn run(
    project: &Project,
    options: &PublishOptions,
    remote: Option<&dyn Pinner>,
    chain: Option<&Chain>,
    on_event: OnEvent<'_>,
    cancel: &CancelToken,
) -> Result<PublishReport, PipelineError> {
    project.require_writable("publishing")?;
    let root = project.root();
    let journal = Journal::new(project.db());
    let only = options.only.unwrap_or(Only::Mint);
    let network = match chain {
        Some(c) => c.network().clone(),
        None => parse_network(&options.chain.network)?,
    };
    if let Some(shard) = options.shard
        && only != Only::Generate
    {
        return Err(PipelineError::Invalid(format!(
            "--shard {shard} makes images only: use it with --only generate, then import every shard into one project (`chrysalis import-shard`) and publish there"
        )));
    }
    if only != Only::Plan {
        super::shard::check_job_run(root, options.shard)?;
    }
    // Plan first: an unsatisfiable spec is refused before anything else is touched.
    let planned = plan::plan_project(root, &journal, &network.to_string(), on_event)?;
    // The report as it stands once planned: nothing generated, pinned or minted yet.
    let started = |wallet: String| PublishReport {
        network: network.to_string(),
        wallet,
        plan: (&planned.summary()).into(),
        generate: None,
        stages: Vec::new(),
        pins: Vec::new(),
        collection: None,
        mints: Vec::new(),
        minted_now: 0,
        lamports_spent: 0,
    };
    if only == Only::Plan {
        // Nothing else is written, not even a wallet key: report the wallet only if it exists.
        let wallet = match &options.chain.wallet {
            Some(path) => super::keys::pubkey_of(path),
            None => super::keys::pubkey_of(&super::keys::key_path(root, super::keys::ARTIST_KEY)),
        };
        return Ok(started(wallet.map(|w| w.to_string()).unwrap_or_default()));
    }
    let wallet = resolve_wallet(&network, Some(root), options.chain.wallet.as_deref())?;
    let mut report = started(wallet.pubkey().to_string());
    let _ =
        project.journal("pipeline.publish.started", &serde_json::json!({ "network": report.network, "only": only }));
    let creators = generate::resolved_creators(&planned.spec)?;
    if !matches!(network, chrysalis_chain::Network::Sandbox)
        && let Some(warning) = super::creators::warning(project, &planned.spec)?
    {
        tracing::warn!("{warning}");
    }
    let jobs = options.jobs.map(|j| j as usize).unwrap_or_else(generate::default_jobs);
    let mut summary = generate::generate_images(root, &planned, &journal, jobs, options.shard, on_event, cancel)?;
    if options.shard.is_some() {
        report.generate = Some(summary);
        return Ok(report);
    }
    // The item table: every index's stage-0 recipe hash, read once for metadata, commit and mint.
    let items = generate::item_tree(root, &planned)?;
    let (stages, written) =
        generate::write_metadata(root, &planned, &items, options.layout, &journal, on_event, cancel)?;
    summary.metadata_written = written;
    report.generate = Some(summary);
    report.stages = stages;
    if only == Only::Generate {
        return Ok(report);
    }
    let collection_json = write_collection_json(root, &planned, &report.stages)?;
    report.pins =
        pin_all(project, &report.stages, &collection_json, options.layout, remote, &journal, on_event, cancel)?;
    if only == Only::Pin {
        return Ok(report);
    }
    let collection_cid = report
        .pins
        .iter()
        .find(|p| p.folder == "collection")
        .map(|p| p.cid.clone())
        .ok_or_else(|| PipelineError::NotReady("the collection JSON was not pinned".into()))?;
    let opened;
    let chain = match chain {
        Some(c) => c,
        None => {
            opened = Chain::open(root, &options.chain)?;
            &opened
        }
    };
    let before = chain.balance(&wallet.pubkey())?;
    let mut airdropped = 0;
    if chain.network().allows_airdrop() {
        let need = mint::budget(planned.plan.items.len() as u64, planned.plan.price_lamports);
        let after = chain.ensure_funds(&wallet.pubkey(), need)?;
        airdropped = after.saturating_sub(before);
    }
    let uri = format!("ipfs://{collection_cid}");
    let (coll, state) = mint::ensure_collection(
        root,
        chain,
        &journal,
        &planned,
        &report.stages,
        &items,
        &wallet,
        &creators,
        &uri,
        on_event,
        cancel,
    )?;
    report.collection = Some(coll);
    report.mints = mint::mint_all(chain, &journal, &planned, root, &state.address, &items, &wallet, on_event, cancel)?;
    report.minted_now = report.mints.iter().filter(|m| m.signature.is_some()).count() as u32;
    let end = chain.balance(&wallet.pubkey())?;
    report.lamports_spent = (before + airdropped).saturating_sub(end);
    let _ = project.journal(
        "pipeline.publish.finished",
        &serde_json::json!({ "network": report.network, "minted_now": report.minted_now, "items": report.mints.len() }),
    );
    Ok(report)
}

/// `build/collection.json`: the collection's own metadata (the group mint's URI), whose image
/// is item 0 at stage 0 (`chrysalis_core::collection::metadata::collection_json`).
fn write_collection_json(
    root: &Path,
    planned: &Planned,
    stages: &[StageOutput],
) -> Result<std::path::PathBuf, PipelineError> {
    let image = stages.first().map(|s| format!("ipfs://{}/0.png", s.images_cid)).unwrap_or_default();
    let bytes = metadata::canonical_bytes(&metadata::collection_json(&planned.spec, &image));
    let path = root.join(BUILD_DIR).join("collection.json");
    if fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
        chrysalis_art::png_meta::write_atomic(&path, &bytes)
            .map_err(|e| PipelineError::Io { path: path.clone(), source: std::io::Error::other(e.to_string()) })?;
    }
    Ok(path)
}

/// Step 4: both folders of every stage, and the collection JSON, into the local store and
/// (when given) `remote`. Each publish is itself journaled per file (`uploads`); the folder's
/// CID reported must equal the one the metadata and the chain use.
#[allow(clippy::too_many_arguments)]
fn pin_all(
    project: &Project,
    stages: &[StageOutput],
    collection_json: &Path,
    layout: Layout,
    remote: Option<&dyn Pinner>,
    journal: &Journal<'_>,
    on_event: OnEvent<'_>,
    cancel: &CancelToken,
) -> Result<Vec<PinLine>, PipelineError> {
    let root = project.root();
    let local = Local::new(LocalStore::open(root)?);
    let check_store = LocalStore::open(root)?;
    let mut targets: Vec<(u32, &str, std::path::PathBuf, Option<String>)> = Vec::new();
    for s in stages {
        let dir = generate::stage_dir(root, s.stage);
        targets.push((s.stage, "images", dir.join("images"), Some(s.images_cid.clone())));
        targets.push((s.stage, "metadata", dir.join("metadata"), Some(s.metadata_cid.clone())));
    }
    targets.push((0, "collection", collection_json.to_path_buf(), None));
    let mut backends: Vec<&dyn Pinner> = vec![&local];
    if let Some(r) = remote {
        backends.push(r);
    }
    let total = (targets.len() * backends.len()) as u64;
    let mut step = 0;
    let mut lines = Vec::new();
    let store_options = StoreOptions { layout, jobs: 4, include_hidden: false };
    for pinner in backends {
        for (stage, folder, path, expected) in &targets {
            cancel.check()?;
            let what = format!("stage {stage} {folder} ({})", pinner.kind());
            let publisher = Publisher::new(project.db(), pinner, store_options).project_root(root);
            let mut on_progress = |p: &Progress| {
                on_event(
                    &PipelineEvent::new(Phase::Pin, step, total, format!("{what}: {}", p.message))
                        .stage(*stage)
                        .bytes(p.step),
                );
            };
            let r = publisher.publish(path, &mut on_progress, cancel).map_err(|source| match source {
                chrysalis_storage::remote::PublishError::Cancelled(c) => PipelineError::Cancelled(c),
                source => PipelineError::Publish { what: what.clone(), source },
            })?;
            if let Some(exp) = expected
                && &r.root.cid != exp
            {
                return Err(PipelineError::Mismatch {
                    what,
                    detail: format!("the store computed CID {} but the metadata uses {exp}", r.root.cid),
                });
            }
            if r.failed > 0 {
                let errors: Vec<String> = r.items.iter().filter_map(|i| i.error.clone()).take(3).collect();
                return Err(PipelineError::NotPinned {
                    what,
                    detail: format!("{} item(s) failed: {}", r.failed, errors.join("; ")),
                });
            }
            if pinner.kind() == chrysalis_storage::remote::BackendKind::Local {
                reconcile_store(&check_store, path, &r.root.cid, layout)?;
            }
            let status = if r.complete() { "verified" } else { "pending" };
            if pinner.kind() == chrysalis_storage::remote::BackendKind::Local && r.root.status == UploadStatus::Verified
            {
                let cid = chrysalis_storage::Cid::try_from(r.root.cid.as_str())
                    .map_err(|e| PipelineError::Invalid(format!("CID {}: {e}", r.root.cid)))?;
                let name = format!("{}-stage-{stage}-{folder}", project.name());
                if chrysalis_storage::pins::latest(project.db(), &name)?.is_none_or(|p| p.cid != cid) {
                    chrysalis_storage::pins::record(project.db(), &name, &cid, Some(layout), r.root.size)?;
                }
            } else if pinner.kind() == chrysalis_storage::remote::BackendKind::Local {
                return Err(PipelineError::NotPinned { what, detail: "the local store did not verify it".into() });
            }
            journal.record_pin(*stage, folder, pinner.kind().as_str(), &pinner.endpoint(), &r.root.cid, status)?;
            step += 1;
            on_event(
                &PipelineEvent::new(Phase::Pin, step, total, format!("{what}: {} {status}", r.root.cid)).stage(*stage),
            );
            lines.push(PinLine {
                stage: *stage,
                folder: folder.to_string(),
                backend: pinner.kind().to_string(),
                cid: r.root.cid.clone(),
                status: status.into(),
                bytes_sent: r.bytes_sent,
            });
        }
    }
    Ok(lines)
}

/// The upload journal skips what it once verified; the store itself may have lost or damaged
/// blocks since. Every block of `cid` is read back (the store verifies each against its CID
/// on read); anything missing or damaged is added again from the files, which must give the
/// same CID.
fn reconcile_store(store: &LocalStore, path: &Path, cid: &str, layout: Layout) -> Result<(), PipelineError> {
    use chrysalis_storage::StorageError;
    let parsed =
        chrysalis_storage::Cid::try_from(cid).map_err(|e| PipelineError::Invalid(format!("CID {cid}: {e}")))?;
    for _ in 0..8 {
        let intact =
            store.dag_cids(&parsed).and_then(|cids| cids.iter().try_for_each(|c| store.get_block(c).map(|_| ())));
        let e = match intact {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        tracing::warn!(%cid, "the local store lost or damaged part of {}: adding it again ({e})", path.display());
        match &e {
            // A damaged block is removed first: the store keeps an existing block file as is.
            StorageError::CorruptBlock { path: bad, .. } => {
                std::fs::remove_file(bad).map_err(PipelineError::io(bad))?;
            }
            StorageError::BlockMissing { .. } => {}
            _ => return Err(e.into()),
        }
        let added = store.add_path(path, layout)?;
        if added.cid != parsed {
            return Err(PipelineError::Mismatch {
                what: format!("`{}`", path.display()),
                detail: format!("its files now make CID {}, not the published {cid}", added.cid),
            });
        }
    }
    Err(PipelineError::NotPinned {
        what: format!("`{}`", path.display()),
        detail: "the local store keeps failing its checks".into(),
    })
}

/// The sandbox airdrop/fee helper for callers that only need a funded wallet.
pub fn funded_wallet(
    chain: &Chain,
    project_root: &Path,
    options: &ChainOptions,
    need: u64,
) -> Result<Keypair, PipelineError> {
    let w = chain.wallet(Some(project_root), options.wallet.as_deref())?;
    if chain.network().allows_airdrop() {
        chain.ensure_funds(&w.pubkey(), need)?;
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_parses_each_phase_and_names_the_choices() {
        for (text, only) in
            [("plan", Only::Plan), ("generate", Only::Generate), ("pin", Only::Pin), ("mint", Only::Mint)]
        {
            assert_eq!(text.parse::<Only>().unwrap(), only);
        }
        assert!(Only::Plan < Only::Generate && Only::Pin < Only::Mint, "phases are ordered");
        let err = "upload".parse::<Only>().unwrap_err();
        assert!(err.contains("plan, generate, pin or mint"), "{err}");
    }
}
