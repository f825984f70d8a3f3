//! Generating one collection on several machines.
//!
//! Every item's seed and recipes derive from the collection seed and its index, so any
//! machine with the same `collection.toml` (and model) makes exactly the same bytes for an
//! item. A collection is split by index: shard `K/N` makes the items `i` with `i mod N = K`
//! (`chrysalis publish --only generate --shard K/N`, images only: the metadata needs every
//! image's folder CID). [`crate::merge::import`] then merges a shard's images into the project, checking
//! each one against the recipe the project plans for it, and the next `publish` keeps them
//! all and writes the metadata: the folder CIDs equal those of a single-machine run.
//!
//! This file holds the split ([`Shard`]) and the job manifest a shard job folder carries
//! ([`ShardJob`], `shard.json`); building and checking job folders is [`crate::jobs`], the
//! merge is [`crate::merge`].

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::PipelineError;

/// The manifest at the root of a shard job folder ([`crate::jobs::export`]).
pub const JOB_FILE: &str = "shard.json";
/// The version of `shard.json` this build writes and reads; a newer one is refused.
pub const JOB_FORMAT: u32 = 1;

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

/// `shard.json`: what a shard job folder is for. The folder itself is a project holding a
/// copy of the exporting project's `collection.toml`; this says which shard of it to make,
/// so another machine (or the app) needs nothing else, and so a run there with another
/// shard, or a full publish, is refused instead of making the wrong images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ShardJob {
    /// [`JOB_FORMAT`] when written.
    pub format: u32,
    /// The collection's name (from the spec).
    pub collection: String,
    pub shard: Shard,
    /// SHA-256 (hex) of the `collection.toml` bytes the job was made from.
    pub spec_sha256: String,
    /// Items and stages of the whole collection.
    pub items: u32,
    pub stages: u32,
    /// Items of this shard, and the images they make (items × stages).
    pub shard_items: u32,
    pub images: u32,
    /// Diffusion collections: `art.model` as the spec writes it. The model folder must be at
    /// that path on the machine running the job (relative paths from the job folder), holding
    /// the very same files: every recipe carries the model's hash.
    pub model: Option<String>,
    /// The Chrysalis version that exported the job. Another version may plan other recipes
    /// (an engine's version is part of each), so its images could be refused on import.
    pub chrysalis: String,
    /// The command that runs the job, from inside its folder.
    pub command: String,
}

impl ShardJob {
    /// The CLI command that makes this shard, run inside the job folder.
    pub fn command_for(shard: Shard) -> String {
        format!("chrysalis publish --project . --only generate --shard {shard}")
    }
}

/// The shard job `dir` holds, if it is a job folder (`None` when it has no `shard.json`).
/// A manifest that does not parse, or is of a newer format, is an error naming the file.
pub fn read_job(dir: &Path) -> Result<Option<ShardJob>, PipelineError> {
    let path = dir.join(JOB_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(PipelineError::io(&path)(e)),
    };
    // The format first, so a newer manifest is refused for what it is, not for a field
    // this build does not know.
    #[derive(Deserialize)]
    struct Format {
        format: u32,
    }
    let bad =
        |e: serde_json::Error| PipelineError::Invalid(format!("`{}` is not a shard job manifest: {e}", path.display()));
    let Format { format } = serde_json::from_slice(&bytes).map_err(bad)?;
    if format > JOB_FORMAT {
        return Err(PipelineError::Invalid(format!(
            "`{}` is a shard job of format {format}, newer than this Chrysalis reads ({JOB_FORMAT}): update Chrysalis",
            path.display()
        )));
    }
    let job: ShardJob = serde_json::from_slice(&bytes).map_err(bad)?;
    if job.shard.count == 0 || job.shard.index >= job.shard.count {
        return Err(PipelineError::Invalid(format!(
            "`{}` names shard {}/{}, which does not exist (K must be from 0 to N-1)",
            path.display(),
            job.shard.index,
            job.shard.count
        )));
    }
    Ok(Some(job))
}

/// Refuses a run in a shard job folder that would not make that job's images: another
/// shard, no shard (a full publish of a job folder makes a second, useless collection), or a
/// `collection.toml` edited since the export (every image would be refused on import, so
/// this fails before hours of generating rather than after). Anything goes outside job folders.
pub fn check_job_run(root: &Path, shard: Option<Shard>) -> Result<(), PipelineError> {
    let Some(job) = read_job(root)? else { return Ok(()) };
    if shard != Some(job.shard) {
        let asked = match shard {
            Some(s) => format!("shard {s}"),
            None => "the whole collection".to_string(),
        };
        return Err(PipelineError::Invalid(format!(
            "this folder is shard job {} of \"{}\" and makes only that shard's images, not {asked}: run `{}` here, then import the folder into the project it came from and publish there",
            job.shard, job.collection, job.command
        )));
    }
    let spec = root.join(super::SPEC_FILE);
    let text = std::fs::read(&spec).map_err(PipelineError::io(&spec))?;
    if super::sha256_hex(&text) != job.spec_sha256 {
        return Err(PipelineError::Invalid(format!(
            "`{}` was changed after this shard job was exported: its images would be refused on import. Put back the exported file (or export the jobs again from the project)",
            spec.display()
        )));
    }
    Ok(())
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

    #[test]
    fn a_job_manifest_reads_back_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_job(dir.path()).unwrap().is_none(), "no shard.json: not a job");
        let shard = Shard { index: 1, count: 3 };
        let job = ShardJob {
            format: JOB_FORMAT,
            collection: "Moths".into(),
            shard,
            spec_sha256: "ab".repeat(32),
            items: 7,
            stages: 2,
            shard_items: 2,
            images: 4,
            model: None,
            chrysalis: "0.1.0".into(),
            command: ShardJob::command_for(shard),
        };
        std::fs::write(dir.path().join(JOB_FILE), serde_json::to_vec(&job).unwrap()).unwrap();
        assert_eq!(read_job(dir.path()).unwrap(), Some(job.clone()));
        assert!(job.command.ends_with("--shard 1/3"), "{}", job.command);

        let newer = serde_json::json!({ "format": JOB_FORMAT + 1, "anything": true });
        std::fs::write(dir.path().join(JOB_FILE), newer.to_string()).unwrap();
        let err = read_job(dir.path()).unwrap_err().to_string();
        assert!(err.contains("newer than this Chrysalis reads"), "{err}");

        std::fs::write(dir.path().join(JOB_FILE), "{ not json").unwrap();
        let err = read_job(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is not a shard job manifest"), "{err}");

        let mut wrong = serde_json::to_value(&job).unwrap();
        wrong["shard"] = serde_json::json!({ "index": 3, "count": 3 });
        std::fs::write(dir.path().join(JOB_FILE), wrong.to_string()).unwrap();
        let err = read_job(dir.path()).unwrap_err().to_string();
        assert!(err.contains("shard 3/3, which does not exist"), "{err}");
    }
}
