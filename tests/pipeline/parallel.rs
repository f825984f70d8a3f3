//! Parallel generation: the same collection generated with 1, 2 and 4 workers gives the same
//! bytes, so the same folder CIDs; a rerun keeps everything; cancelling stops every worker.

use chrysalis_core::CancelToken;
use chrysalis_pipeline::publish::{Only, PublishOptions, publish};
use chrysalis_pipeline::{Phase, PipelineError};
use chrysalis_tests::{project_with_spec, small_spec};

fn generate(dir: &std::path::Path, jobs: u32) -> chrysalis_pipeline::PublishReport {
    let options = PublishOptions { only: Some(Only::Generate), jobs: Some(jobs), ..PublishOptions::default() };
    let project = chrysalis_core::Project::open(dir).unwrap();
    publish(&project, &options, None, &mut |_| {}, &CancelToken::new()).unwrap()
}

#[test]
fn output_does_not_depend_on_the_number_of_workers() {
    let spec = small_spec("Threads", 6, 3, 256, "0", &chrysalis_chain::Pubkey::new_from_array([7; 32]));
    let mut cids = Vec::new();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for (dir, jobs) in dirs.iter().zip([1, 2, 4]) {
        project_with_spec(dir.path(), &spec);
        let report = generate(dir.path(), jobs);
        let summary = report.generate.as_ref().unwrap();
        assert_eq!(summary.generated, 18, "jobs {jobs}");
        assert_eq!(summary.jobs, jobs, "the workers asked for were used");
        let stages: Vec<_> =
            report.stages.iter().map(|s| (s.images_cid.to_string(), s.metadata_cid.to_string())).collect();
        cids.push(stages);
    }
    assert_eq!(cids[0], cids[1], "1 and 2 workers");
    assert_eq!(cids[0], cids[2], "1 and 4 workers");
    // A rerun with another number of workers keeps every image.
    let again = generate(dirs[0].path(), 4);
    assert_eq!(again.generate.as_ref().unwrap().generated, 0);
    assert_eq!(again.generate.as_ref().unwrap().reused, 18);
}

#[test]
fn cancelling_stops_every_worker_and_a_rerun_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = small_spec("Cancel", 6, 2, 256, "0", &chrysalis_chain::Pubkey::new_from_array([7; 32]));
    let project = project_with_spec(dir.path(), &spec);
    let cancel = CancelToken::new();
    let options = PublishOptions { only: Some(Only::Generate), jobs: Some(4), ..PublishOptions::default() };
    let mut seen = 0;
    let err = publish(
        &project,
        &options,
        None,
        &mut |e| {
            if e.phase == Phase::Generate && e.step > 0 {
                seen += 1;
                if seen == 3 {
                    cancel.cancel();
                }
            }
        },
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, PipelineError::Cancelled(_)), "{err:?}");
    let made = std::fs::read_dir(dir.path().join("build/stage-0/images")).unwrap().count()
        + std::fs::read_dir(dir.path().join("build/stage-1/images")).map(|d| d.count()).unwrap_or(0);
    assert!(made < 12, "the workers stopped early: {made} images");
    let report = generate(dir.path(), 2);
    let summary = report.generate.unwrap();
    assert_eq!(summary.generated + summary.reused, 12);
}

/// Three machines, one shard each, merged into a fourth project: the folder CIDs equal a
/// single-machine run's, nothing is generated again, and a shard image that is not what its
/// recipe plans (or a shard of another spec) is refused.
#[test]
fn three_shards_merge_to_the_single_machine_cids() {
    use chrysalis_pipeline::merge;
    use chrysalis_pipeline::shard::Shard;
    let spec = small_spec("Shards", 6, 3, 256, "0", &chrysalis_chain::Pubkey::new_from_array([7; 32]));
    let single = tempfile::tempdir().unwrap();
    project_with_spec(single.path(), &spec);
    let expected = generate(single.path(), 2).stages;

    let shards: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for (k, dir) in shards.iter().enumerate() {
        let project = project_with_spec(dir.path(), &spec);
        let options = PublishOptions {
            only: Some(Only::Generate),
            shard: Some(Shard { index: k as u32, count: 3 }),
            ..PublishOptions::default()
        };
        let report = publish(&project, &options, None, &mut |_| {}, &CancelToken::new()).unwrap();
        assert_eq!(report.generate.unwrap().generated, 6, "shard {k}: 2 items x 3 stages");
        assert!(report.stages.is_empty(), "a shard writes no metadata");
    }
    // A shard run with another step than generate is refused.
    let options = PublishOptions { shard: Some(Shard { index: 0, count: 3 }), ..PublishOptions::default() };
    let project = chrysalis_core::Project::open(shards[0].path()).unwrap();
    assert!(publish(&project, &options, None, &mut |_| {}, &CancelToken::new()).is_err());

    let merged = tempfile::tempdir().unwrap();
    let project = project_with_spec(merged.path(), &spec);
    for (k, dir) in shards.iter().enumerate() {
        let r = merge::import(&project, dir.path(), &mut |_| {}, &CancelToken::new()).unwrap();
        assert_eq!((r.imported, r.already, r.refused.len()), (6, 0, 0), "shard {k}: {r:?}");
    }
    let again = merge::import(&project, shards[1].path(), &mut |_| {}, &CancelToken::new()).unwrap();
    assert_eq!((again.imported, again.already), (0, 6), "a rerun copies nothing");
    let report = generate(merged.path(), 2);
    assert_eq!(report.generate.as_ref().unwrap().generated, 0, "every image came from a shard");
    let cids = |stages: &[chrysalis_pipeline::generate::StageOutput]| -> Vec<(String, String)> {
        stages.iter().map(|s| (s.images_cid.clone(), s.metadata_cid.clone())).collect()
    };
    assert_eq!(cids(&report.stages), cids(&expected), "merged = single machine");

    // A forged image (another item's, under this item's name) is refused and not copied.
    let forged = tempfile::tempdir().unwrap();
    project_with_spec(forged.path(), &spec);
    let dir = forged.path().join("build/stage-0/images");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(single.path().join("build/stage-0/images/1.png"), dir.join("0.png")).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let target = project_with_spec(fresh.path(), &spec);
    let r = merge::import(&target, forged.path(), &mut |_| {}, &CancelToken::new()).unwrap();
    assert_eq!(r.imported, 0);
    assert!(r.refused[0].reason.contains("not the one planned for item 0 stage 0"), "{r:?}");
    assert_eq!((r.refused[0].index, r.refused[0].stage), (0, 0));
    assert!(!fresh.path().join("build/stage-0/images/0.png").exists());
    // A shard of another collection.toml is refused whole.
    std::fs::write(forged.path().join("collection.toml"), spec.replace("Shards", "Other")).unwrap();
    let err = merge::import(&target, forged.path(), &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert!(err.to_string().contains("another collection.toml"), "{err}");
}

/// The desktop app's path for several machines: three shard job folders exported from a
/// project, run on "other machines" (the library's `shard_jobs::run`, the CLI binary with the
/// README's command, and one cancelled part-way then finished), inspected and imported
/// back; the merged folders have the CIDs of a single-machine run. A job folder refuses any
/// other run, and a second export never overwrites.
#[test]
fn exported_shard_jobs_run_anywhere_and_merge_to_the_single_machine_cids() {
    use chrysalis_pipeline::shard::{JOB_FILE, read_job};
    use chrysalis_pipeline::shard_jobs::{self, README_FILE};
    use chrysalis_pipeline::{generate::StageOutput, merge};
    let spec = small_spec("Night Moths", 6, 3, 256, "0", &chrysalis_chain::Pubkey::new_from_array([7; 32]));
    let single = tempfile::tempdir().unwrap();
    project_with_spec(single.path(), &spec);
    let cids = |stages: &[StageOutput]| -> Vec<(String, String)> {
        stages.iter().map(|s| (s.images_cid.clone(), s.metadata_cid.clone())).collect()
    };
    let expected = cids(&generate(single.path(), 2).stages);
    assert_eq!(expected.len(), 3);

    let home_dir = tempfile::tempdir().unwrap();
    let home = project_with_spec(home_dir.path(), &spec);
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("jobs");
    for bad in [0, 7] {
        let err = shard_jobs::export(&home, &dest, bad, &CancelToken::new()).unwrap_err().to_string();
        assert!(err.contains("choose from 1 to 6"), "{bad}: {err}");
    }
    assert!(!dest.exists(), "a refused export writes nothing");
    let export = shard_jobs::export(&home, &dest, 3, &CancelToken::new()).unwrap();
    assert_eq!((export.items, export.stages, export.jobs.len()), (6, 3, 3));
    let dirs: Vec<std::path::PathBuf> = export.jobs.iter().map(|j| std::path::PathBuf::from(&j.dir)).collect();
    for (k, job) in export.jobs.iter().enumerate() {
        assert!(job.dir.ends_with(&format!("night-moths-shard-{k}-of-3")), "{}", job.dir);
        assert_eq!((job.shard.index, job.shard.count, job.shard_items, job.images), (k as u32, 3, 2, 6));
        let dir = &dirs[k];
        assert_eq!(std::fs::read_to_string(dir.join("collection.toml")).unwrap(), spec, "the spec, byte for byte");
        let manifest = read_job(dir).unwrap().expect("a job folder has shard.json");
        assert_eq!(manifest.shard, job.shard);
        let readme = std::fs::read_to_string(dir.join(README_FILE)).unwrap();
        assert!(readme.contains(&format!("chrysalis publish --project . --only generate --shard {k}/3")), "{readme}");
        // Before it runs, there is nothing to import (and nothing is refused for it).
        let check = shard_jobs::inspect(&home, dir).unwrap();
        assert_eq!((check.found, check.expected), (0, 6));
        assert!(check.problem.as_deref().unwrap().contains("no images"), "{check:?}");
    }
    assert!(std::fs::read_dir(&dest).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with('.')));
    let again = shard_jobs::export(&home, &dest, 3, &CancelToken::new()).unwrap_err().to_string();
    assert!(again.contains("already exists"), "{again}");
    // The CLI writes the same folders (another destination), and says why it refuses.
    let cli = |dest: &std::path::Path, machines: &str| {
        std::process::Command::new(chrysalis_tests::chrysalis_bin!())
            .args(["--json", "export-shards", "--machines", machines, "--project"])
            .arg(home_dir.path())
            .arg(dest)
            .output()
            .unwrap()
    };
    let out_cli = cli(&out.path().join("cli-jobs"), "2");
    assert!(out_cli.status.success(), "{}", String::from_utf8_lossy(&out_cli.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out_cli.stdout).unwrap();
    assert_eq!(json["jobs"].as_array().unwrap().len(), 2, "{json}");
    assert_eq!(json["jobs"][1]["command"], "chrysalis publish --project . --only generate --shard 1/2");
    assert!(out.path().join("cli-jobs/night-moths-shard-1-of-2/shard.json").is_file());
    let refused = cli(&out.path().join("cli-jobs"), "2");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already exists"));

    // Machine 0: the app's "Generate this shard" (the library call behind it).
    let job0 = chrysalis_core::Project::open(&dirs[0]).unwrap();
    // Any other run in a job folder is refused: another shard, or the whole collection.
    let other = PublishOptions {
        only: Some(Only::Generate),
        shard: Some(chrysalis_pipeline::shard::Shard { index: 1, count: 3 }),
        ..PublishOptions::default()
    };
    let err = publish(&job0, &other, None, &mut |_| {}, &CancelToken::new()).unwrap_err().to_string();
    assert!(err.contains("shard job 0/3") && err.contains("not shard 1/3"), "{err}");
    let whole = PublishOptions { only: Some(Only::Generate), ..PublishOptions::default() };
    let err = publish(&job0, &whole, None, &mut |_| {}, &CancelToken::new()).unwrap_err().to_string();
    assert!(err.contains("not the whole collection"), "{err}");
    let report = shard_jobs::run(&job0, Some(2), &mut |_| {}, &CancelToken::new()).unwrap();
    assert_eq!(report.generate.unwrap().generated, 6);
    drop(job0);

    // Machine 1: the CLI, with the README's command, inside the folder.
    let status = std::process::Command::new(chrysalis_tests::chrysalis_bin!())
        .args(export.jobs[1].command.split_whitespace().skip(1))
        .current_dir(&dirs[1])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert_eq!(std::fs::read_dir(dirs[1].join("build/stage-2/images")).unwrap().count(), 2);

    // Machine 2: stopped after its first image, brought back half done, finished later.
    let job2 = chrysalis_core::Project::open(&dirs[2]).unwrap();
    let cancel = CancelToken::new();
    let stopped = shard_jobs::run(
        &job2,
        Some(1),
        &mut |e| {
            if e.phase == Phase::Generate && e.step >= 1 {
                cancel.cancel();
            }
        },
        &cancel,
    );
    assert!(matches!(stopped, Err(PipelineError::Cancelled(_))), "{stopped:?}");
    let check = shard_jobs::inspect(&home, &dirs[2]).unwrap();
    assert!(check.problem.is_none(), "{check:?}");
    assert!(check.found >= 1 && check.found < 6, "{check:?}");
    assert!(check.notes.iter().any(|n| n.contains("not made yet")), "{check:?}");
    let partial = merge::import(&home, &dirs[2], &mut |_| {}, &CancelToken::new()).unwrap();
    assert_eq!(partial.imported, check.found);
    assert_eq!(partial.missing, 6 - check.found, "{partial:?}");
    assert!(partial.refused.is_empty(), "{partial:?}");
    shard_jobs::run(&job2, Some(1), &mut |_| {}, &CancelToken::new()).unwrap();
    drop(job2);

    // Back home: each folder inspected, then imported with progress; every image checked.
    for (k, dir) in dirs.iter().enumerate() {
        let check = shard_jobs::inspect(&home, dir).unwrap();
        assert_eq!((check.found, check.expected, check.problem.clone()), (6, 6, None), "shard {k}: {check:?}");
        assert_eq!(check.job.as_ref().unwrap().shard.index, k as u32);
        let mut last = 0;
        let r = merge::import(&home, dir, &mut |e| last = e.step, &CancelToken::new()).unwrap();
        assert_eq!(r.shard.map(|s| s.index), Some(k as u32));
        let new = if k == 2 { 6 - partial.imported } else { 6 };
        assert_eq!((r.imported, r.already, r.missing, r.refused.len()), (new, 6 - new, 0, 0), "shard {k}: {r:?}");
        assert_eq!(last, 18, "progress ends at every image of the collection (6 items x 3 stages)");
    }
    let report = generate(home_dir.path(), 2);
    assert_eq!(report.generate.as_ref().unwrap().generated, 0, "every image came from a job");
    assert_eq!(cids(&report.stages), expected, "merged jobs = single machine");

    // A job whose spec was edited there refuses to run, and its folder is refused on import.
    let spec_path = dirs[0].join("collection.toml");
    std::fs::write(&spec_path, spec.replace("seed = 11", "seed = 12")).unwrap();
    let job0 = chrysalis_core::Project::open(&dirs[0]).unwrap();
    let err = shard_jobs::run(&job0, None, &mut |_| {}, &CancelToken::new()).unwrap_err().to_string();
    assert!(err.contains("was changed after this shard job was exported"), "{err}");
    let check = shard_jobs::inspect(&home, &dirs[0]).unwrap();
    assert!(check.problem.as_deref().unwrap().contains("another collection.toml"), "{check:?}");
    // And a folder that is not a job at all is not run as one.
    let err = shard_jobs::run(&home, None, &mut |_| {}, &CancelToken::new()).unwrap_err().to_string();
    assert!(err.contains("not a shard job folder"), "{err}");
    // A broken manifest is named, not ignored.
    std::fs::write(dirs[1].join(JOB_FILE), "{").unwrap();
    let check = shard_jobs::inspect(&home, &dirs[1]).unwrap();
    assert!(check.problem.as_deref().unwrap().contains("not a shard job manifest"), "{check:?}");
}
