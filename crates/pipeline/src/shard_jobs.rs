//! Shard jobs: one collection generated on several machines without a terminal.
//!
//! [`export`] turns the open project into N job folders, one per shard ([`crate::shard`]).
//! Each folder is itself a Chrysalis project holding a byte-exact copy of `collection.toml`,
//! the job manifest `shard.json` ([`ShardJob`]) and a `README.txt` with the one command to
//! run there. Carried to another machine, it runs with the CLI (`chrysalis publish --project
//! . --only generate --shard K/N`) or in the app ([`run`]: open the folder, Publish offers
//! "Generate this shard"); the pipeline itself refuses any other run in a job folder
//! ([`crate::shard::check_job_run`]). Carried back, [`inspect`] says what the folder holds
//! before [`crate::merge::import`] copies it in, checking every image against its recipe.
//!
//! Why a whole project per job rather than a bare spec: the machine that runs it needs a
//! project (a database for the generate journal) anyway, and a ready one makes the command
//! a single line with nothing to set up.

use std::path::{Path, PathBuf};

use chrysalis_core::collection::spec::ArtSpec;
use chrysalis_core::{CancelToken, Project};
use serde::{Deserialize, Serialize};

use super::generate::image_path;
use super::merge::same_spec;
use super::plan::{Planned, plan_text};
use super::publish::{Only, PublishOptions, PublishReport, publish};
use super::shard::{JOB_FILE, JOB_FORMAT, Shard, ShardJob, read_job};
use super::{OnEvent, PipelineError, SPEC_FILE, sha256_hex};

/// The instructions written into every job folder.
pub const README_FILE: &str = "README.txt";
/// The most shards one export makes (and never more than the collection has items).
pub const MAX_SHARDS: u32 = 256;

/// One job folder [`export`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportedJob {
    pub shard: Shard,
    /// The folder (absolute).
    pub dir: String,
    /// Items of this shard and the images they make.
    pub shard_items: u32,
    pub images: u32,
    /// What to run inside the folder on the other machine.
    pub command: String,
}

/// What [`export`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JobsExport {
    pub collection: String,
    /// The folder holding the job folders (absolute).
    pub dest: String,
    pub items: u32,
    pub stages: u32,
    pub jobs: Vec<ExportedJob>,
    /// Diffusion: the model folder each machine needs (`art.model`, as the spec writes it).
    pub model: Option<String>,
}

/// What a shard folder holds, before it is imported ([`inspect`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ShardCheck {
    /// The folder (absolute when it exists).
    pub dir: String,
    /// Its `shard.json`, if it is a job folder (a shard made by hand with the CLI has none).
    pub job: Option<ShardJob>,
    /// Images of this collection's plan found in the folder (for the job's shard, if any).
    pub found: u32,
    /// Images the folder should hold: the job's shard, or the whole collection without one.
    pub expected: u32,
    /// Why the folder cannot be imported (nothing would be copied); `None`: it can.
    pub problem: Option<String>,
    /// What the artist should know but does not stop the import (missing images, another
    /// Chrysalis version).
    pub notes: Vec<String>,
}

/// The version written into `shard.json`.
fn chrysalis_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// `Moths of Night!` → `moths-of-night`: a folder name that travels across file systems.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() { "collection".to_string() } else { out.to_string() }
}

/// The folder name of shard `shard` of collection `name`.
pub fn job_folder_name(name: &str, shard: Shard) -> String {
    format!("{}-shard-{}-of-{}", slug(name), shard.index, shard.count)
}

/// Plans the project's own spec (a spec that cannot be planned makes no jobs).
fn plan_project_spec(root: &Path) -> Result<Planned, PipelineError> {
    let path = root.join(SPEC_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(PipelineError::NoSpec { path }),
        Err(e) => return Err(PipelineError::io(&path)(e)),
    };
    plan_text(&text, &path, root)
}

fn readme(job: &ShardJob) -> String {
    let model = match &job.model {
        Some(m) => format!(
            "\nThe images are made with the Stable Diffusion model at `{m}` (as collection.toml\nsays; a relative path is read from this folder). Copy the very same model folder there\nfirst (and any LoRA files `art.loras` names, at their paths): every image records the\nhashes, and another model's images are refused.\n"
        ),
        None => String::new(),
    };
    format!(
        "Chrysalis shard job {shard} of \"{name}\"\n\
         \n\
         This folder makes {images} images: items i with i mod {n} = {k} ({items} of the\n\
         collection's {all} items) at each of its {stages} stage(s). Every machine makes the same\n\
         bytes for an item, so the shards merge into exactly the collection one machine makes.\n\
         {model}\n\
         1. On the other machine, inside this folder:\n\
         \n\
         \x20  {command}\n\
         \n\
         \x20  (or open this folder in Chrysalis Studio: Publish -> \"Generate this shard\").\n\
         \x20  Stopped part-way? Run it again: finished images are kept.\n\
         \n\
         2. Bring the whole folder back and, in the project it was exported from:\n\
         \n\
         \x20  chrysalis import-shard <this folder>\n\
         \n\
         \x20  (or Chrysalis Studio: Publish -> Several machines -> \"Import results...\").\n\
         \x20  Every image is checked against its recipe before it is copied.\n\
         \n\
         Do not edit collection.toml here: a changed spec makes other images, and the run refuses it.\n\
         Exported by Chrysalis {version}; run it with the same version.\n",
        shard = job.shard,
        name = job.collection,
        images = job.images,
        n = job.shard.count,
        k = job.shard.index,
        items = job.shard_items,
        all = job.items,
        stages = job.stages,
        command = job.command,
        version = job.chrysalis,
    )
}

/// Writes `count` shard job folders for the project's collection into `dest` (created if
/// needed), named `<collection>-shard-K-of-N`. Refuses, before writing anything, a spec that
/// cannot be planned, a count of 0 or above the number of items (or [`MAX_SHARDS`]), and a
/// job folder that already exists (nothing is overwritten). Each folder is built under a
/// hidden `.…partial` name and renamed when complete, so a cancel or crash leaves no folder
/// that looks like a job; the next export clears such leftovers.
pub fn export(project: &Project, dest: &Path, count: u32, cancel: &CancelToken) -> Result<JobsExport, PipelineError> {
    let root = project.root();
    let planned = plan_project_spec(root)?;
    let items = planned.plan.items.len() as u32;
    let stages = planned.plan.stages.len() as u32;
    let limit = items.min(MAX_SHARDS);
    if count == 0 || count > limit {
        return Err(PipelineError::Invalid(format!(
            "{count} shards: choose from 1 to {limit} (the collection has {items} items, and a shard needs at least one)"
        )));
    }
    let name = planned.spec.name.clone();
    let model = match &planned.spec.art {
        ArtSpec::Diffusion(d) => Some(d.model.clone()),
        ArtSpec::Procedural(_) => None,
    };
    let shards: Vec<Shard> = (0..count).map(|index| Shard { index, count }).collect();
    let finals: Vec<PathBuf> = shards.iter().map(|s| dest.join(job_folder_name(&name, *s))).collect();
    for dir in &finals {
        let occupied = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(dir.exists());
        if occupied {
            return Err(PipelineError::Invalid(format!(
                "`{}` already exists: choose another folder for the jobs, or move the old ones away (nothing was written)",
                dir.display()
            )));
        }
    }
    std::fs::create_dir_all(dest).map_err(PipelineError::io(dest))?;
    let dest = dest.canonicalize().map_err(PipelineError::io(dest))?;
    let mut jobs = Vec::new();
    for (shard, dir) in shards.iter().zip(&finals) {
        cancel.check()?;
        let folder = dir.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let partial = dest.join(format!(".{folder}.partial"));
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(PipelineError::io(&partial))?;
        }
        let shard_items = planned.plan.items.iter().filter(|i| shard.includes(i.index)).count() as u32;
        let job = ShardJob {
            format: JOB_FORMAT,
            collection: name.clone(),
            shard: *shard,
            spec_sha256: planned.spec_sha256.clone(),
            items,
            stages,
            shard_items,
            images: shard_items * stages,
            model: model.clone(),
            chrysalis: chrysalis_version().to_string(),
            command: ShardJob::command_for(*shard),
        };
        {
            // The project (its database) is closed before the folder is renamed.
            let job_project = Project::create(&partial, Some(&folder))?;
            let write = |file: &str, bytes: &[u8]| {
                let path = job_project.root().join(file);
                std::fs::write(&path, bytes).map_err(PipelineError::io(&path))
            };
            write(SPEC_FILE, planned.spec_text.as_bytes())?;
            let manifest = serde_json::to_vec_pretty(&job).expect("a shard job serializes");
            write(JOB_FILE, &manifest)?;
            write(README_FILE, readme(&job).as_bytes())?;
        }
        std::fs::rename(&partial, dir).map_err(PipelineError::io(dir))?;
        tracing::info!("shard job {shard} written to {}", dir.display());
        jobs.push(ExportedJob {
            shard: *shard,
            dir: dest.join(&folder).display().to_string(),
            shard_items,
            images: job.images,
            command: job.command,
        });
    }
    let _ = project.journal(
        "pipeline.shards.exported",
        &serde_json::json!({ "dest": dest.display().to_string(), "count": count, "spec_sha256": planned.spec_sha256 }),
    );
    Ok(JobsExport { collection: name, dest: dest.display().to_string(), items, stages, jobs, model })
}

/// Makes this job folder's images: `publish --only generate --shard K/N` with the shard its
/// `shard.json` names (what the app's "Generate this shard" runs). `jobs`: images at once
/// (default one per core). Refused in a folder that is not a shard job.
pub fn run(
    project: &Project,
    jobs: Option<u32>,
    on_event: OnEvent<'_>,
    cancel: &CancelToken,
) -> Result<PublishReport, PipelineError> {
    let Some(job) = read_job(project.root())? else {
        return Err(PipelineError::NotReady(format!(
            "`{}` is not a shard job folder (it has no {JOB_FILE}): export shard jobs from the collection's project first",
            project.root().display()
        )));
    };
    let options =
        PublishOptions { only: Some(Only::Generate), jobs, shard: Some(job.shard), ..PublishOptions::default() };
    publish(project, &options, None, on_event, cancel)
}

/// Looks at a shard folder before importing it into `project`: is it a shard of this very
/// collection, which shard, and how many of its images are there. Reads only; a folder that
/// cannot be imported comes back with `problem` set rather than as an error, so the screen
/// can show it beside what it found. Errors are for this project itself (no spec, a spec
/// that cannot be planned) and for files that cannot be read.
pub fn inspect(project: &Project, from: &Path) -> Result<ShardCheck, PipelineError> {
    let dir = from.canonicalize().unwrap_or_else(|_| from.to_path_buf());
    let mut check = ShardCheck {
        dir: dir.display().to_string(),
        job: None,
        found: 0,
        expected: 0,
        problem: None,
        notes: Vec::new(),
    };
    match read_job(&dir) {
        Ok(job) => check.job = job,
        Err(e) => {
            check.problem = Some(e.to_string());
            return Ok(check);
        }
    }
    let planned = match same_spec(project.root(), &dir) {
        Ok(p) => p,
        Err(PipelineError::Invalid(why)) => {
            check.problem = Some(why);
            return Ok(check);
        }
        Err(e) => return Err(e),
    };
    let shard = check.job.as_ref().map(|j| j.shard);
    let stages = planned.plan.stages.len() as u32;
    for item in planned.plan.items.iter().filter(|i| shard.is_none_or(|s| s.includes(i.index))) {
        for stage in 0..stages {
            check.expected += 1;
            if image_path(&dir, stage, item.index).is_file() {
                check.found += 1;
            }
        }
    }
    if let Some(job) = &check.job {
        if job.spec_sha256 != sha256_hex(planned.spec_text.as_bytes()) {
            check.notes.push(format!(
                "{JOB_FILE} names another collection.toml than the folder holds; its images are checked against this project's plan all the same"
            ));
        }
        if job.chrysalis != chrysalis_version() {
            check.notes.push(format!(
                "the job was exported by Chrysalis {} and this is {}: if its images were made with another version, their recipes may differ and be refused",
                job.chrysalis,
                chrysalis_version()
            ));
        }
    }
    let run_hint = match &check.job {
        Some(job) => format!("run `{}` in it", job.command),
        None => "run `chrysalis publish --only generate --shard K/N` in it".to_string(),
    };
    if check.found == 0 {
        check.problem = Some(format!("the folder holds no images of this collection yet: {run_hint} first"));
    } else if check.found < check.expected && check.job.is_some() {
        check.notes.push(format!(
            "{} of {} images are not made yet: the job stopped early? What is there can be imported now; {run_hint} again to finish and import once more",
            check.expected - check.found,
            check.expected
        ));
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A diffusion collection's jobs name the model folder each machine needs (the README
    /// says where), and a job run without it stops before generating, naming `art.model`.
    #[test]
    fn diffusion_jobs_name_their_model_and_refuse_to_run_without_it() {
        let home = tempfile::tempdir().unwrap();
        let project = Project::create(home.path(), Some("diffusion")).unwrap();
        chrysalis_art::diffusion::testing::write_tiny_model(&home.path().join("models/tiny"), 5).unwrap();
        let spec = crate::test_specs::tiny_diffusion_collection("width = 256\nheight = 256");
        std::fs::write(home.path().join(SPEC_FILE), &spec).unwrap();
        let dest = home.path().join("jobs");
        let export = export(&project, &dest, 2, &CancelToken::new()).unwrap();
        assert_eq!(export.model.as_deref(), Some("models/tiny"));
        let dir = Path::new(&export.jobs[1].dir);
        let job = read_job(dir).unwrap().unwrap();
        assert_eq!(job.model.as_deref(), Some("models/tiny"));
        let readme = std::fs::read_to_string(dir.join(README_FILE)).unwrap();
        assert!(readme.contains("Stable Diffusion model at `models/tiny`"), "{readme}");
        let job_project = Project::open(dir).unwrap();
        let err = run(&job_project, None, &mut |_| {}, &CancelToken::new()).unwrap_err().to_string();
        assert!(err.contains("art.model"), "{err}");
        assert!(!dir.join("build/stage-0/images/1.png").exists(), "nothing was generated");
    }

    #[test]
    fn folder_names_are_portable() {
        let s = Shard { index: 1, count: 3 };
        assert_eq!(job_folder_name("Moths of Night!", s), "moths-of-night-shard-1-of-3");
        assert_eq!(job_folder_name("  ", s), "collection-shard-1-of-3");
        assert_eq!(job_folder_name("Été/..", s), "t-shard-1-of-3");
        assert!(job_folder_name(&"x".repeat(300), s).len() < 60);
    }
}
