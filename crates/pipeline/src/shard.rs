//! Generating one collection on several machines.
//!
//! Every item's seed and recipes derive from the collection seed and its index, so any
//! machine with the same `collection.toml` (and model) makes exactly the same bytes for an
//! item. A collection is split by index: shard `K/N` makes the items `i` with `i mod N = K`
//! (`chrysalis publish --only generate --shard K/N`, images only: the metadata needs every
//! image's folder CID). [`import`] then merges a shard's images into the project, checking
//! each one against the recipe the project plans for it, and the next `publish` keeps them
//! all and writes the metadata: the folder CIDs equal those of a single-machine run.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrysalis_art::png_meta;
use chrysalis_core::CancelToken;
use chrysalis_core::Project;
use serde::{Deserialize, Serialize};

use super::generate::{image_path, published_recipe};
use super::journal::Journal;
use super::plan::plan_text;
use super::{OnEvent, Phase, PipelineError, PipelineEvent, SPEC_FILE, sha256_hex};

/// Shard `index` of `count`: the items whose index is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether item `item` belongs to this shard.
    pub fn includes(&self, item: u32) -> bool {
        item % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a shard: write K/N, e.g. 0/3 for the first of three machines");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(format!("shard {s:?}: K must be from 0 to N-1 (0/{count} … {}/{count})", count.max(1) - 1));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_every_index_once() {
        let shards: Vec<Shard> = ["0/3", "1/3", "2/3"].iter().map(|s| s.parse().unwrap()).collect();
        for i in 0..30 {
            assert_eq!(shards.iter().filter(|s| s.includes(i)).count(), 1, "item {i}");
        }
        assert_eq!(shards[2].to_string(), "2/3");
        for bad in ["3/3", "1", "a/b", "0/0", "-1/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
