//! Steps 2 and 3, **generate** and **metadata**: every item at every stage as a PNG carrying
//! its recipe, then Metaplex JSON per item per stage pointing at the images folder's CID.
//!
//! Stages are generated in order (stage N of an img2img collection starts from stage N-1's
//! PNG, whose SHA-256 goes into stage N's recipe). An image already on disk is kept when its
//! embedded recipe is the planned one (and the journal's SHA-256, when there is one, matches
//! its bytes); anything else is generated again and replaced atomically. Metadata files are
//! rewritten only when their bytes would change.
//!
//! # Metadata JSON
//! `chrysalis_core::collection::metadata::item_json_bytes` writes it: Metaplex's fields
//! plus a `chrysalis` object (`recipe`, `recipe_hash`, `stage`, ...) that `verify` reads,
//! with sorted keys and no whitespace, so the same inputs give the same bytes — and so the
//! same CIDs — on every run and machine.

use chrysalis::merkle::ItemTree;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use chrysalis_art::{Engine, RgbImage, png_meta};
use chrysalis_chain::Pubkey;
use chrysalis_core::collection::metadata;
use chrysalis_core::collection::plan::PlannedItem;
use chrysalis_core::collection::spec::{ArtSpec, CollectionSpec};
use chrysalis_core::{CancelToken, Recipe};
use chrysalis_storage::{Cid, Layout, cid_of_bytes, cid_of_dir};
use serde::{Deserialize, Serialize};

use super::journal::{Journal, StageRow};
use super::plan::Planned;
use super::shard::Shard;
use super::{BUILD_DIR, OnEvent, Phase, PipelineError, PipelineEvent, sha256_hex};

/// `<project>/build/stage-<s>`.
pub fn stage_dir(project_root: &Path, stage: u32) -> PathBuf {
    project_root.join(BUILD_DIR).join(format!("stage-{stage}"))
}

pub fn image_path(project_root: &Path, stage: u32, index: u32) -> PathBuf {
    stage_dir(project_root, stage).join("images").join(format!("{index}.png"))
}

pub fn metadata_path(project_root: &Path, stage: u32, index: u32) -> PathBuf {
    stage_dir(project_root, stage).join("metadata").join(format!("{index}.json"))
}

/// A stage's published form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StageOutput {
    pub stage: u32,
    pub name: String,
    pub images_cid: String,
    pub metadata_cid: String,
    /// `ipfs://<metadata-cid>/`: the on-chain stage's `base_uri`.
    pub base_uri: String,
    /// Hex of the SHA-256 digest inside the metadata folder's CID: the on-chain `content_root`.
    pub content_root: String,
}

impl StageOutput {
    pub fn content_root_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        if let Ok(b) = hex::decode(&self.content_root)
            && b.len() == 32
        {
            out.copy_from_slice(&b);
        }
        out
    }
}

/// What generating did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GenerateSummary {
    /// Images made in this run.
    pub generated: u32,
    /// Items generated at once (worker threads) in this run.
    #[serde(default)]
    pub jobs: u32,
    /// Images already on disk with the planned recipe (kept).
    pub reused: u32,
    /// Metadata files written (new or changed) in this run.
    pub metadata_written: u32,
}

/// The 32-byte digest a CID's multihash carries (SHA-256 for every layout we write).
pub fn content_root_of(cid: &Cid) -> Result<[u8; 32], PipelineError> {
    let mh = cid.hash();
    if mh.code() != 0x12 || mh.digest().len() != 32 {
        return Err(PipelineError::Invalid(format!("CID {cid} does not carry a SHA-256 digest")));
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(mh.digest());
    Ok(out)
}

/// The spec's creators as the chain takes them (validation already refused a spec without
/// creators or whose shares do not sum to 10 000).
pub fn resolved_creators(spec: &CollectionSpec) -> Result<Vec<(Pubkey, u16)>, PipelineError> {
    spec.creators
        .iter()
        .map(|c| {
            let key = super::chain::parse_pubkey(&c.address, "creator")?;
            let share = u16::try_from(c.share_bps).map_err(|_| {
                PipelineError::Invalid(format!("creator {} share {} bps is too large", c.address, c.share_bps))
            })?;
            Ok((key, share))
        })
        .collect()
}

/// The recipe of `item` at `stage`, completed with the previous stage's PNG hash for img2img.
fn stage_recipe(project_root: &Path, item: &PlannedItem, stage: usize) -> Result<Recipe, PipelineError> {
    let ps = &item.stages[stage];
    match ps.init_from_stage {
        Some(from) => {
            let prev = image_path(project_root, from, item.index);
            let bytes = fs::read(&prev).map_err(PipelineError::io(&prev))?;
            Ok(ps.recipe_with_init(&sha256_hex(&bytes)))
        }
        None => Ok(ps.recipe.clone()),
    }
}

/// The recipe of `item` at `stage` as published (img2img stages need the previous image).
pub fn published_recipe(project_root: &Path, item: &PlannedItem, stage: usize) -> Result<Recipe, PipelineError> {
    stage_recipe(project_root, item, stage)
}

/// The collection's item table (`chrysalis::merkle`): every index's stage-0 recipe hash, the
/// tree the program commits before the first mint and every mint proves against.
pub fn item_tree(project_root: &Path, planned: &Planned) -> Result<ItemTree, PipelineError> {
    let mut hashes = Vec::with_capacity(planned.plan.items.len());
    for (position, item) in planned.plan.items.iter().enumerate() {
        if item.index as usize != position {
            return Err(PipelineError::Invalid(format!(
                "the plan lists item #{} at position {position}: items must be numbered 0, 1, 2, … in order",
                item.index
            )));
        }
        hashes.push(stage_recipe(project_root, item, 0)?.hash().0);
    }
    ItemTree::new(&hashes).ok_or_else(|| PipelineError::Invalid("the collection plans no items".into()))
}

fn model_dir(spec: &CollectionSpec, project_root: &Path) -> Option<PathBuf> {
    match &spec.art {
        ArtSpec::Diffusion(d) => Some(project_root.join(&d.model)),
        ArtSpec::Procedural(_) => None,
    }
}

/// Loads the engine a spec needs once (diffusion loads and hashes its weights, and merges the
/// spec's LoRAs; the recipe names the device class and the backend, candle or libtorch, it
/// runs on: a libtorch recipe in a build without it is refused here, before generating).
pub fn load_engine(
    spec: &CollectionSpec,
    project_root: &Path,
    sample: &Recipe,
) -> Result<Box<dyn Engine>, PipelineError> {
    let lora_files: Vec<PathBuf> = crate::plan::lora_specs(spec, project_root).into_iter().map(|l| l.path).collect();
    chrysalis_art::engine_on(sample, model_dir(spec, project_root).as_deref(), &lora_files, None)
        .map_err(|source| PipelineError::Art { index: 0, stage: 0, source })
}

/// One image made or kept by [`produce_image`], for the journal.
#[derive(Debug)]
pub struct ImageOutcome {
    pub stage: u32,
    pub index: u32,
    pub recipe_hash: String,
    /// Relative to the project root.
    pub path: String,
    pub sha256: String,
    /// Generated now (`false`: the file on disk was kept).
    pub made: bool,
    pub bytes: Vec<u8>,
}

/// Generates (or keeps) the PNG of one item at one stage. `journaled_sha256` is what the
/// journal recorded for it, if anything: a file on disk is kept only when its recipe is the
/// planned one and it matches the journal. Writes the file (atomically) but not the journal:
/// the caller's thread does that, so workers never share the database connection.
pub fn produce_image(
    engine: &dyn Engine,
    project_root: &Path,
    item: &PlannedItem,
    stage: usize,
    journaled_sha256: Option<&str>,
    cancel: &CancelToken,
) -> Result<ImageOutcome, PipelineError> {
    let s = stage as u32;
    let recipe = stage_recipe(project_root, item, stage)?;
    let path = image_path(project_root, s, item.index);
    let outcome = |bytes: Vec<u8>, made: bool| ImageOutcome {
        stage: s,
        index: item.index,
        recipe_hash: recipe.hash().to_string(),
        path: rel(project_root, &path),
        sha256: sha256_hex(&bytes),
        made,
        bytes,
    };
    if let Ok(bytes) = fs::read(&path) {
        let journal_ok = journaled_sha256.is_none_or(|j| j == sha256_hex(&bytes));
        if journal_ok && png_meta::recipe_from_png(&bytes).ok().as_ref() == Some(&recipe) {
            return Ok(outcome(bytes, false));
        }
        tracing::info!(path = %path.display(), "image on disk does not match its plan: generating it again");
    }
    let init: Option<RgbImage> = match item.stages[stage].init_from_stage {
        Some(from) => {
            let prev = image_path(project_root, from, item.index);
            Some(
                png_meta::load_image_file(&prev)
                    .map_err(|source| PipelineError::Art { index: item.index, stage: s, source })?
                    .0,
            )
        }
        None => None,
    };
    let art = |source: chrysalis_art::ArtError| match source {
        chrysalis_art::ArtError::Cancelled(c) => PipelineError::Cancelled(c),
        source => PipelineError::Art { index: item.index, stage: s, source },
    };
    recipe.validate().map_err(|e| PipelineError::Art { index: item.index, stage: s, source: e.into() })?;
    let image = engine.generate(&recipe, init.as_ref(), &mut |_| {}, cancel).map_err(art)?;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(PipelineError::io(dir))?;
    }
    let bytes = png_meta::write_png(&path, &image.image, &recipe).map_err(art)?;
    Ok(outcome(bytes, true))
}

/// Generates (or keeps) the PNG of one item at one stage on this thread, journaling it when
/// a journal is given; returns its bytes and whether it was generated now.
pub fn ensure_image(
    engine: &dyn Engine,
    project_root: &Path,
    item: &PlannedItem,
    stage: usize,
    journal: Option<&Journal<'_>>,
    cancel: &CancelToken,
) -> Result<(Vec<u8>, bool), PipelineError> {
    let journaled = match journal {
        Some(j) => j.item(stage as u32, item.index)?.and_then(|row| row.image_sha256),
        None => None,
    };
    let o = produce_image(engine, project_root, item, stage, journaled.as_deref(), cancel)?;
    if let Some(j) = journal {
        j.record_image(o.stage, o.index, &o.recipe_hash, &o.path, &o.sha256)?;
    }
    Ok((o.bytes, o.made))
}

/// Images at once when the caller does not say: one per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned()
}

/// Removes what a killed run (or a full disk) left half-written in a stage's folders: the
/// temporary files of `png_meta::write_atomic`, which never became an image or a JSON file.
fn remove_stale_temps(project_root: &Path, stage: u32) -> Result<(), PipelineError> {
    for dir in [stage_dir(project_root, stage).join("images"), stage_dir(project_root, stage).join("metadata")] {
        let removed = png_meta::remove_stale_temps(&dir).map_err(PipelineError::io(&dir))?;
        if removed > 0 {
            tracing::info!("removed {removed} unfinished temporary file(s) from {}", dir.display());
        }
    }
    Ok(())
}

/// Step 2: every image of every stage (of the items in `shard`, when given), `jobs` items at
/// a time.
///
/// A stage grows out of the stage before it, so the unit of work is an item: each worker
/// takes the next item and makes its stages in order. Workers only write image files (each
/// atomically); this thread journals every image and reports progress as results arrive,
/// so the journal and the kill -9 guarantees are those of a single thread. Every image's
/// bytes depend on its recipe alone, never on `jobs` or on which worker made it.
///
/// The diffusion engine runs one image at a time (it uses every core inside an image).
pub fn generate_images(
    project_root: &Path,
    planned: &Planned,
    journal: &Journal<'_>,
    jobs: usize,
    shard: Option<Shard>,
    on_event: OnEvent<'_>,
    cancel: &CancelToken,
) -> Result<GenerateSummary, PipelineError> {
    let mut summary = GenerateSummary::default();
    let items: Vec<&PlannedItem> =
        planned.plan.items.iter().filter(|i| shard.is_none_or(|s| s.includes(i.index))).collect();
    let items = items.as_slice();
    let stages = planned.plan.stages.len();
    let total = (items.len() * stages) as u64;
    let Some(first) = items.first() else { return Ok(summary) };
    let engine = load_engine(&planned.spec, project_root, &first.stages[0].recipe)?;
    let jobs = match planned.spec.art {
        ArtSpec::Diffusion(_) => 1,
        ArtSpec::Procedural(_) => jobs.clamp(1, items.len()),
    };
    summary.jobs = jobs as u32;
    for stage in 0..stages {
        remove_stale_temps(project_root, stage as u32)?;
    }
    let journaled = journal.image_shas()?;
    on_event(&PipelineEvent::new(Phase::Generate, 0, total, "generating"));

    let next = AtomicUsize::new(0);
    // Set when a worker or this thread fails: the others stop before their next image.
    let failed = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Result<ImageOutcome, PipelineError>>();
    let mut first_error: Option<PipelineError> = None;
    let mut step = 0u64;
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (engine, next, failed, journaled) = (engine.as_ref(), &next, &failed, &journaled);
            scope.spawn(move || {
                'items: while !failed.load(Ordering::Relaxed) {
                    let Some(&item) = items.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                    for stage in 0..stages {
                        if failed.load(Ordering::Relaxed) {
                            break 'items;
                        }
                        let known = journaled.get(&(stage as u32, item.index)).map(String::as_str);
                        let result = cancel
                            .check()
                            .map_err(PipelineError::from)
                            .and_then(|()| produce_image(engine, project_root, item, stage, known, cancel));
                        let stop = result.is_err();
                        if tx.send(result).is_err() || stop {
                            failed.store(true, Ordering::Relaxed);
                            break 'items;
                        }
                    }
                }
            });
        }
        drop(tx);
        for result in rx {
            let recorded = result.and_then(|o| {
                journal.record_image(o.stage, o.index, &o.recipe_hash, &o.path, &o.sha256)?;
                Ok(o)
            });
            match recorded {
                Ok(o) => {
                    if o.made {
                        summary.generated += 1;
                    } else {
                        summary.reused += 1;
                    }
                    step += 1;
                    let verb = if o.made { "generated" } else { "kept" };
                    on_event(
                        &PipelineEvent::new(
                            Phase::Generate,
                            step,
                            total,
                            format!("{verb} #{} stage {}", o.index, o.stage),
                        )
                        .item(o.index)
                        .stage(o.stage),
                    );
                }
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    // A cancel seen by several workers is one cancel; a real failure wins.
                    if first_error.as_ref().is_none_or(|f| matches!(f, PipelineError::Cancelled(_))) {
                        first_error = Some(e);
                    }
                }
            }
        }
    });
    match first_error {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// Step 3: for each stage, the images folder's CID, then every metadata file (carrying its
/// proof in `items_tree`, the [`item_tree`]), then the metadata folder's CID, base URI and content
/// root (journaled).
pub fn write_metadata(
    project_root: &Path,
    planned: &Planned,
    items_tree: &ItemTree,
    layout: Layout,
    journal: &Journal<'_>,
    on_event: OnEvent<'_>,
    cancel: &CancelToken,
) -> Result<(Vec<StageOutput>, u32), PipelineError> {
    let items = &planned.plan.items;
    let total = (items.len() * planned.plan.stages.len()) as u64;
    let mut step = 0u64;
    let mut written = 0u32;
    let mut outputs = Vec::new();
    let items_root = items_tree.root();
    for (si, stage_plan) in planned.plan.stages.iter().enumerate() {
        let s = si as u32;
        cancel.check()?;
        let images_dir = stage_dir(project_root, s).join("images");
        let images_cid = cid_of_dir(&images_dir, layout)?.cid;
        let meta_dir = stage_dir(project_root, s).join("metadata");
        fs::create_dir_all(&meta_dir).map_err(PipelineError::io(&meta_dir))?;
        let mut expected = std::collections::BTreeSet::new();
        for item in items {
            cancel.check()?;
            let recipe = stage_recipe(project_root, item, si)?;
            let png = image_path(project_root, s, item.index);
            let png_bytes = fs::read(&png).map_err(PipelineError::io(&png))?;
            let image_cid = cid_of_bytes(&png_bytes, layout).to_string();
            let image_uri = format!("ipfs://{images_cid}/{}.png", item.index);
            let mut value = metadata::item_json(&planned.spec, item, s, &image_uri, &recipe);
            let proof = items_tree.proof(item.index).ok_or_else(|| {
                PipelineError::Invalid(format!(
                    "the item table has no item #{}: it was built from another plan",
                    item.index
                ))
            })?;
            metadata::set_item_commitment(&mut value, &items_root, &proof);
            let json = metadata::canonical_bytes(&value);
            let path = metadata_path(project_root, s, item.index);
            if fs::read(&path).ok().as_deref() != Some(json.as_slice()) {
                png_meta::write_atomic(&path, &json).map_err(|source| PipelineError::Art {
                    index: item.index,
                    stage: s,
                    source,
                })?;
                written += 1;
            }
            let meta_cid = cid_of_bytes(&json, layout).to_string();
            journal.record_metadata(
                s,
                item.index,
                &rel(project_root, &path),
                &sha256_hex(&json),
                &image_cid,
                &meta_cid,
            )?;
            expected.insert(format!("{}.json", item.index));
            step += 1;
            on_event(
                &PipelineEvent::new(Phase::Metadata, step, total, format!("metadata #{} stage {s}", item.index))
                    .item(item.index)
                    .stage(s),
            );
        }
        // Files no item plans (a smaller spec than last time) would change the folder's CID.
        for entry in fs::read_dir(&meta_dir).map_err(PipelineError::io(&meta_dir))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && !expected.contains(&name) {
                return Err(PipelineError::Mismatch {
                    what: format!("`{}`", meta_dir.display()),
                    detail: format!(
                        "it holds {name}, which no planned item has; remove it (or the build folder) and run again"
                    ),
                });
            }
        }
        let metadata_cid = cid_of_dir(&meta_dir, layout)?.cid;
        let root = content_root_of(&metadata_cid)?;
        let out = StageOutput {
            stage: s,
            name: stage_plan.name.clone(),
            images_cid: images_cid.to_string(),
            metadata_cid: metadata_cid.to_string(),
            base_uri: format!("ipfs://{metadata_cid}/"),
            content_root: hex::encode(root),
        };
        if out.base_uri.len() > chrysalis::state::MAX_STAGE_URI_LEN {
            return Err(PipelineError::Invalid(format!(
                "stage {s}'s base URI {} is longer than the program's {} bytes; use --layout v0",
                out.base_uri,
                chrysalis::state::MAX_STAGE_URI_LEN
            )));
        }
        journal.record_stage(&StageRow {
            stage: s,
            images_cid: Some(out.images_cid.clone()),
            metadata_cid: Some(out.metadata_cid.clone()),
            base_uri: Some(out.base_uri.clone()),
            content_root: Some(out.content_root.clone()),
        })?;
        outputs.push(out);
    }
    Ok((outputs, written))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_root_is_the_sha256_inside_the_cid() {
        let bytes = b"stage metadata";
        for layout in Layout::ALL {
            let cid = cid_of_bytes(bytes, layout);
            let root = content_root_of(&cid).unwrap();
            assert_eq!(root.as_slice(), cid.hash().digest(), "{layout:?}");
        }
        // v0 and v1 of the same bytes carry the same digest: the root does not depend on
        // how the CID is written, only on the DAG.
        assert_eq!(
            content_root_of(&cid_of_bytes(bytes, Layout::V0)).unwrap(),
            content_root_of(&Cid::new_v1(0x70, *cid_of_bytes(bytes, Layout::V0).hash())).unwrap()
        );
        // A CID without a SHA-256 digest cannot be a content root.
        let identity = chrysalis_storage::multihash::Multihash::<64>::wrap(0x00, b"tiny").unwrap();
        assert!(content_root_of(&Cid::new_v1(0x55, identity)).is_err());
    }

    #[test]
    fn stage_output_round_trips_its_root_bytes() {
        let out = StageOutput {
            stage: 1,
            name: "Grown".into(),
            images_cid: String::new(),
            metadata_cid: String::new(),
            base_uri: String::new(),
            content_root: hex::encode([7u8; 32]),
        };
        assert_eq!(out.content_root_bytes(), [7u8; 32]);
    }

    /// `backend = "torch"` in a collection reaches the engine that makes its images: the
    /// engine loaded for the plan runs its (libtorch) recipes, which a candle engine would
    /// refuse. A build without libtorch refuses the collection before generating anything,
    /// naming the build to make.
    #[test]
    fn a_torch_collection_loads_a_libtorch_engine_or_names_the_missing_build() {
        let home = tempfile::tempdir().unwrap();
        chrysalis_art::diffusion::testing::write_tiny_model(&home.path().join("models/tiny"), 5).unwrap();
        let spec = crate::test_specs::tiny_diffusion_collection("backend = \"torch\"\nwidth = 64\nheight = 64");
        let root = home.path();
        let planned = crate::plan::plan_text(&spec, &root.join(crate::SPEC_FILE), root).unwrap();
        let item = &planned.plan.items[0];
        let recipe = stage_recipe(root, item, 0).unwrap();
        let chrysalis_core::recipe::EngineSpec::Diffusion(d) = &recipe.engine else { panic!("a diffusion recipe") };
        assert_eq!(d.backend, chrysalis_core::recipe::Backend::Torch);
        match load_engine(&planned.spec, root, &recipe) {
            Ok(engine) if chrysalis_art::diffusion::torch_compiled() => {
                let made = produce_image(engine.as_ref(), root, item, 0, None, &CancelToken::new()).unwrap();
                assert!(made.made && root.join(&made.path).exists());
            }
            Err(e) if !chrysalis_art::diffusion::torch_compiled() => {
                let message = e.to_string();
                assert!(message.contains("no libtorch backend"), "{message}");
                assert!(message.contains("scripts/setup-torch.sh"), "{message}");
                assert!(!image_path(root, 0, 0).exists(), "nothing was generated");
            }
            Ok(_) => panic!("a build without libtorch loaded an engine for a libtorch collection"),
            Err(e) => panic!("a build with libtorch refused a libtorch collection: {e}"),
        }
    }
}
