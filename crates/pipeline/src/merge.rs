//! Merging shards: the images another machine made for its shard ([`crate::shard`]) copied
//! into this project, each checked against the recipe this project plans for it.

use std::path::{Path, PathBuf};

use chrysalis_art::png_meta;
use chrysalis_core::CancelToken;
use chrysalis_core::Project;
use serde::{Deserialize, Serialize};

use super::generate::{image_path, published_recipe};
use super::journal::Journal;
use super::plan::{Planned, plan_text};
use super::shard::{Shard, read_job};
use super::{OnEvent, Phase, PipelineError, PipelineEvent, SPEC_FILE, sha256_hex};

/// What [`import`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportReport {
    /// The shard the folder is a job for (its `shard.json`); `None` for a shard folder made
    /// by hand with `publish --shard`.
    pub shard: Option<Shard>,
    /// Images copied into the project.
    pub imported: u32,
    /// Images the project already had, byte for byte.
    pub already: u32,
    /// Images refused, each with its file and why: nothing of them was copied.
    pub refused: Vec<RefusedImage>,
    /// Images the shard should have made but the folder does not hold (a job stopped early,
    /// or not run): import the folder again once they are made. 0 without a `shard.json`.
    pub missing: u32,
}

/// One image [`import`] did not copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RefusedImage {
    /// The file, in the shard's folder.
    pub file: String,
    pub index: u32,
    pub stage: u32,
    /// Why, in words for a person.
    pub reason: String,
}

impl std::fmt::Display for RefusedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.reason)
    }
}

/// Plans this project's collection and checks that the shard folder `from` was made from the
/// very same `collection.toml` bytes (anything else would plan other recipes): the check
/// [`import`] starts with, and what [`crate::shard_jobs::inspect`] shows before importing.
pub fn same_spec(project_root: &Path, from: &Path) -> Result<Planned, PipelineError> {
    let spec_path = project_root.join(SPEC_FILE);
    let text = match std::fs::read_to_string(&spec_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(PipelineError::NoSpec { path: spec_path }),
        Err(e) => return Err(PipelineError::io(&spec_path)(e)),
    };
    if !from.is_dir() {
        return Err(PipelineError::Invalid(format!("`{}` is not a folder: name the shard's folder", from.display())));
    }
    let theirs_path = from.join(SPEC_FILE);
    let theirs = std::fs::read(&theirs_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => PipelineError::Invalid(format!(
            "`{}` is not a shard of this collection: it has no collection.toml (name the shard's project folder)",
            from.display()
        )),
        _ => PipelineError::io(&theirs_path)(e),
    })?;
    if sha256_hex(&theirs) != sha256_hex(text.as_bytes()) {
        return Err(PipelineError::Invalid(format!(
            "`{}` was made from another collection.toml than this project's: a shard must use the very same file (copy this project's collection.toml to the shard machine and generate again)",
            theirs_path.display()
        )));
    }
    plan_text(&text, &spec_path, project_root)
}

/// Merges the images a shard made in the project folder `from` into `project`. The shard
/// must have been made from the same `collection.toml` bytes; every image must carry the
/// recipe this project plans for its item and stage (for an img2img stage, grown from the
/// very image imported for the stage before). Accepted images are copied atomically and
/// journaled; refused ones are listed with the reason. A rerun copies nothing twice.
pub fn import(
    project: &Project,
    from: &Path,
    on_event: OnEvent<'_>,
    cancel: &CancelToken,
) -> Result<ImportReport, PipelineError> {
    project.require_writable("importing a shard")?;
    let root = project.root();
    let planned = same_spec(root, from)?;
    let shard = read_job(from)?.map(|job| job.shard);
    let journal = Journal::new(project.db());
    // The plan the images are checked against is the project's plan from now on, so the
    // Publish screen counts imported images against it ("12 of 36 images") as after a run.
    let summary = serde_json::to_value(planned.summary()).unwrap_or_default();
    journal.record_plan(
        &planned.spec_sha256,
        planned.plan.items.len() as u32,
        planned.plan.stages.len() as u32,
        &summary,
    )?;
    let stages = planned.plan.stages.len();
    let total = (planned.plan.items.len() * stages) as u64;
    let mut report = ImportReport { shard, ..ImportReport::default() };
    let mut step = 0;
    on_event(&PipelineEvent::new(Phase::Generate, 0, total, format!("importing images from {}", from.display())));
    for item in &planned.plan.items {
        for stage in 0..stages {
            cancel.check()?;
            step += 1;
            let s = stage as u32;
            let src = image_path(from, s, item.index);
            let Ok(bytes) = std::fs::read(&src) else {
                if shard.is_some_and(|k| k.includes(item.index)) {
                    report.missing += 1;
                }
                continue;
            };
            let dest = image_path(root, s, item.index);
            let refuse =
                |reason: String| RefusedImage { file: src.display().to_string(), index: item.index, stage: s, reason };
            // The recipe planned here; an img2img stage's names the image imported (or made)
            // here for the stage before, so a stage only follows its own predecessor.
            let planned_recipe = match published_recipe(root, item, stage) {
                Ok(r) => r,
                Err(_) => {
                    report.refused.push(refuse(format!("stage {} of item {} is missing here", stage - 1, item.index)));
                    continue;
                }
            };
            match png_meta::recipe_from_png(&bytes) {
                Ok(r) if r == planned_recipe => {}
                Ok(r) => {
                    report.refused.push(refuse(format!(
                        "its recipe {} is not the one planned for item {} stage {stage} ({})",
                        r.hash(),
                        item.index,
                        planned_recipe.hash()
                    )));
                    continue;
                }
                Err(e) => {
                    report.refused.push(refuse(format!("not a Chrysalis image: {e}")));
                    continue;
                }
            }
            if let Err(e) = png_meta::decode_rgb(&bytes, &src.display().to_string()) {
                report.refused.push(refuse(format!("its pixels do not decode: {e}")));
                continue;
            }
            if std::fs::read(&dest).ok().as_deref() == Some(bytes.as_slice()) {
                report.already += 1;
            } else {
                if let Some(dir) = dest.parent() {
                    std::fs::create_dir_all(dir).map_err(PipelineError::io(dir))?;
                }
                png_meta::write_atomic(&dest, &bytes).map_err(|source| PipelineError::Art {
                    index: item.index,
                    stage: s,
                    source,
                })?;
                report.imported += 1;
            }
            let rel: PathBuf = dest.strip_prefix(root).unwrap_or(&dest).to_path_buf();
            journal.record_image(
                s,
                item.index,
                &planned_recipe.hash().to_string(),
                &rel.to_string_lossy(),
                &sha256_hex(&bytes),
            )?;
            on_event(
                &PipelineEvent::new(Phase::Generate, step, total, format!("imported #{} stage {stage}", item.index))
                    .item(item.index)
                    .stage(s),
            );
        }
    }
    // The last image of a shard is rarely the collection's last: say the walk is complete.
    on_event(&PipelineEvent::new(
        Phase::Generate,
        total,
        total,
        format!(
            "{} imported, {} already here, {} refused, {} not made yet",
            report.imported,
            report.already,
            report.refused.len(),
            report.missing
        ),
    ));
    Ok(report)
}
