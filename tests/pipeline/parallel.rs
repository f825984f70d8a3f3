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
