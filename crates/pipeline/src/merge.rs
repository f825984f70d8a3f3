//! Merging shards: the images another machine made for its shard ([`crate::shard`]) copied
//! into this project, each checked against the recipe this project plans for it.

use std::path::{Path, PathBuf};

use chrysalis_art::png_meta;
use chrysalis_core::CancelToken;
use chrysalis_core::Project;
use serde::{Deserialize, Serialize};

use super::generate::{image_path, published_recipe};
use super::journal::Journal;
use super::plan::plan_text;
use super::{OnEvent, Phase, PipelineError, PipelineEvent, SPEC_FILE, sha256_hex};

/// What [`import`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportReport {
    /// Images copied into the project.
    pub imported: u32,
    /// Images the project already had, byte for byte.
    pub already: u32,
    /// Images refused, each with its file and why: nothing of them was copied.
    pub refused: Vec<String>,
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
    let spec_path = root.join(SPEC_FILE);
    let text = std::fs::read_to_string(&spec_path).map_err(PipelineError::io(&spec_path))?;
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
    let planned = plan_text(&text, &spec_path, root)?;
    let journal = Journal::new(project.db());
    let stages = planned.plan.stages.len();
    let total = (planned.plan.items.len() * stages) as u64;
    let mut report = ImportReport::default();
    let mut step = 0;
    on_event(&PipelineEvent::new(Phase::Generate, 0, total, format!("importing images from {}", from.display())));
    for item in &planned.plan.items {
        for stage in 0..stages {
            cancel.check()?;
            step += 1;
            let s = stage as u32;
            let src = image_path(from, s, item.index);
            let Ok(bytes) = std::fs::read(&src) else { continue };
            let dest = image_path(root, s, item.index);
            let refuse = |why: String| format!("{}: {why}", src.display());
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
    Ok(report)
}
