//! `chrysalis demo`: the whole path on embedded defaults, in a new project.
//!
//! The demo collection (`assets/demo/collection.toml`, compiled in: 12 procedural items, 3
//! stages) is planned, generated, published to the project's local store and minted in the
//! project's sandbox; the sandbox clock is then warped a day and a week forward and every
//! due evolution cranked (so each NFT walks through all its stages); a secondary-sale royalty
//! is paid into the vault and distributed to the creator; every NFT is verified (chain →
//! metadata → bytes → regenerate). Running it again in the same folder resumes and redoes
//! nothing that is done.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrysalis_core::{CancelToken, Project, ProjectError};
use serde::{Deserialize, Serialize};

use super::chain::{Chain, ChainOptions};
use super::evolve::{self, EvolveReport};
use super::journal::Journal;
use super::publish::{self, PublishOptions, PublishReport};
use super::royalties::{self, RoyaltiesReport};
use super::verify::{self, VerifyReport};
use super::{OnEvent, Phase, PipelineError, PipelineEvent, SPEC_FILE};

pub use super::assets::DEMO_SPEC;

/// A secondary sale the demo pretends happened: its royalty (the spec's 5 %) is paid in.
pub const DEMO_SALE_LAMPORTS: u64 = 2_000_000_000;

/// One row of the final table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DemoRow {
    pub index: u32,
    pub mint: String,
    pub stage: u32,
    pub uri: String,
    pub metadata_cid: String,
    pub verified: bool,
}

/// Everything the demo did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DemoReport {
    pub project: String,
    pub publish: PublishReport,
    /// Unix time of the sandbox clock after each warp.
    #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
    pub warps: Vec<i64>,
    pub evolutions: Vec<EvolveReport>,
    pub royalties: RoyaltiesReport,
    pub verify: Vec<VerifyReport>,
    pub rows: Vec<DemoRow>,
    pub seconds: f64,
}

/// The warps the demo makes (the demo stages unlock 1 day and 7 days after mint).
pub const DEMO_WARPS: [&str; 2] = ["1d", "7d"];

/// Opens `dir` as the demo project, creating it (with the demo spec) in a folder that does
/// not exist or is empty.
///
/// The demo warps the sandbox clock, evolves every NFT and distributes SOL without asking,
/// so it refuses any other folder: one with files in it that is not a project, and a project
/// that is not the demo's (its `collection.toml` is not the demo spec). A demo project whose
/// creation was interrupted before its spec was written (named `chrysalis-demo`, nothing
/// planned yet) is finished, not refused.
pub fn demo_project(dir: &Path) -> Result<Project, PipelineError> {
    let project = match Project::open(dir) {
        Ok(p) => p,
        Err(ProjectError::NotFound { .. }) => Project::create(dir, Some(DEMO_NAME))?,
        Err(ProjectError::NotAProject { .. }) => {
            let empty = std::fs::read_dir(dir).map_err(PipelineError::io(dir))?.next().is_none();
            if !empty {
                return Err(PipelineError::Invalid(format!(
                    "`{}` is not empty and is not a Chrysalis project: the demo makes a project of its own, so it only runs in a new or empty folder. Run `chrysalis demo NEW-FOLDER`",
                    dir.display()
                )));
            }
            Project::create(dir, Some(DEMO_NAME))?
        }
        Err(e) => return Err(e.into()),
    };
    let spec = project.root().join(SPEC_FILE);
    match std::fs::read(&spec) {
        Ok(bytes) if bytes == DEMO_SPEC.as_bytes() => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && is_unfinished_demo(&project)? => {
            std::fs::write(&spec, DEMO_SPEC).map_err(PipelineError::io(&spec))?;
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(PipelineError::io(&spec)(e)),
        _ => {
            return Err(PipelineError::Invalid(format!(
                "`{}` is a project of its own, not the demo's (its collection.toml is not the demo collection): the demo would warp its sandbox clock, evolve its NFTs and distribute its SOL. Run `chrysalis demo NEW-FOLDER` instead",
                project.root().display()
            )));
        }
    }
    Ok(project)
}

/// The name the demo gives its project.
pub const DEMO_NAME: &str = "chrysalis-demo";

/// A project the demo created but was stopped before writing its spec: demo-named, and
/// nothing planned in it.
fn is_unfinished_demo(project: &Project) -> Result<bool, PipelineError> {
    let planned: u32 = project.db().query_row("SELECT count(*) FROM pipeline_plan", [], |r| r.get(0))?;
    Ok(project.name() == DEMO_NAME && planned == 0)
}

/// Runs the demo in `dir` (see the module docs).
pub fn demo(dir: &Path, on_event: OnEvent<'_>, cancel: &CancelToken) -> Result<DemoReport, PipelineError> {
    let started = Instant::now();
    let project = demo_project(dir)?;
    project.require_writable("the demo")?;
    let root: PathBuf = project.root().to_path_buf();
    let options = PublishOptions::default();
    let chain = Chain::open(&root, &ChainOptions::default())?;
    let published = publish::publish_with_chain(&project, &options, None, &chain, on_event, cancel)?;
    let journal = Journal::new(project.db());
    let wallet = chain.wallet(Some(&root), None)?;
    let mut warps = Vec::new();
    let mut evolutions = Vec::new();
    // A resumed demo whose NFTs all reached their last stage needs no more time.
    let last = published.stages.len().saturating_sub(1) as u32;
    if published.mints.iter().any(|m| m.stage < last) || published.minted_now > 0 {
        for w in DEMO_WARPS {
            cancel.check()?;
            warps.push(evolve::warp(&chain, w, on_event)?);
            evolutions.push(evolve::evolve_due(&root, &chain, &journal, &wallet, on_event, cancel)?);
        }
    }
    // Pay the pretend royalty once per project: a payment the journal holds (done, or sent
    // by a run that died before it heard back) is never paid again.
    let paid_before = journal.payments(&chain.label())? > 0;
    let royalty = DEMO_SALE_LAMPORTS * u64::from(royalties::royalty_bps_of(&root, &chain)?) / 10_000;
    let pay = (!paid_before).then_some(royalty);
    let royalties = royalties::royalties(&root, &chain, &journal, &wallet, pay, true, on_event)?;
    let verify = verify::verify_project_mints(&project, &chain, on_event, cancel)?;
    let mut rows = Vec::new();
    let stages = journal.stages()?;
    for m in journal.mints(&chain.label())? {
        let key = super::chain::parse_pubkey(&m.mint, "mint")?;
        let nft = chain.nft(&key)?;
        let (stage, uri) = nft.map(|n| (u32::from(n.stage), n.uri)).unwrap_or_default();
        let metadata_cid =
            stages.iter().find(|s| s.stage == stage).and_then(|s| s.metadata_cid.clone()).unwrap_or_default();
        let verified = verify.iter().any(|v| v.mint == m.mint && v.ok);
        rows.push(DemoRow { index: m.item, mint: m.mint, stage, uri, metadata_cid, verified });
    }
    on_event(&PipelineEvent::new(
        Phase::Verify,
        1,
        1,
        format!("{} of {} NFTs verified", verify.iter().filter(|v| v.ok).count(), verify.len()),
    ));
    Ok(DemoReport {
        project: root.display().to_string(),
        publish: published,
        warps,
        evolutions,
        royalties,
        verify,
        rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}
