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
    assert!(r.refused[0].contains("not the one planned for item 0 stage 0"), "{r:?}");
    assert!(!fresh.path().join("build/stage-0/images/0.png").exists());
    // A shard of another collection.toml is refused whole.
    std::fs::write(forged.path().join("collection.toml"), spec.replace("Shards", "Other")).unwrap();
    let err = merge::import(&target, forged.path(), &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert!(err.to_string().contains("another collection.toml"), "{err}");
}
