//! Contract tests: our Kubo RPC, Pinning Services API and Pinata clients against local
//! servers that follow the published specs (`chrysalis_storage::remote::testkit`), since no
//! real Kubo daemon or pinning service can run here. Each `contract_*` test checks one
//! behaviour of the spec: the happy path and the error paths (wrong CID, 401, 429 with
//! `Retry-After`, 5xx then success, a failed pin), plus resumable publishing on top.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrysalis_core::{CancelToken, Project};
use chrysalis_storage::remote::kubo::{Kubo, write_directory_car};
use chrysalis_storage::remote::pinata::Pinata;
use chrysalis_storage::remote::psa::{PinningService, PollPolicy};
use chrysalis_storage::remote::publish::{Action, UploadStatus, status_of};
use chrysalis_storage::remote::testkit::kubo::KuboServer;
use chrysalis_storage::remote::testkit::pinata::PinataServer;
use chrysalis_storage::remote::testkit::psa::PsaServer;
use chrysalis_storage::remote::testkit::{Fault, TestServer};
use chrysalis_storage::remote::{
    BackendKind, Ctx, FileUpload, Pinner, PublishOptions, Publisher, RetryPolicy, Secret, Verification,
};
use chrysalis_storage::{Layout, LocalStore, cid_of_dir, cid_of_file};
use sha2::{Digest, Sha256};

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..Default::default()
    }
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn upload_of(path: &Path, layout: Layout) -> FileUpload {
    let data = std::fs::read(path).unwrap();
    FileUpload {
        path: path.to_path_buf(),
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        cid: cid_of_file(path, layout).unwrap().cid,
        layout,
        size: data.len() as u64,
        sha256: Sha256::digest(&data).into(),
        content_type: "application/octet-stream".into(),
    }
}

/// A folder of `n` files (and a sub-folder), like a collection stage.
fn stage_folder(root: &Path, n: usize) -> std::path::PathBuf {
    let dir = root.join("stage-1");
    std::fs::create_dir_all(dir.join("images")).unwrap();
    for i in 0..n {
        std::fs::write(
            dir.join(format!("{i}.json")),
            format!("{{\"name\":\"Moth #{i}\",\"image\":\"images/{i}.png\"}}"),
        )
        .unwrap();
    }
    std::fs::write(dir.join("images/0.png"), noise(300_000, 5)).unwrap();
    std::fs::write(dir.join(".DS_Store"), b"hidden, never published").unwrap();
    dir
}

fn project(tmp: &Path) -> Project {
    Project::create(&tmp.join("proj"), Some("contract")).unwrap()
}

// ================================================================== Kubo RPC

#[test]
fn contract_kubo_add_sends_each_layouts_options_and_matches_the_local_cid() {
    let kubo_server = KuboServer::start("0.39.0");
    let kubo = Kubo::new(&kubo_server.url(), None);
    let cancel = CancelToken::new();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.bin");
    std::fs::write(&path, noise(1_300_000, 1)).unwrap(); // several chunks in every layout
    for layout in Layout::ALL {
        let file = upload_of(&path, layout);
        let receipt = kubo.put_file(&file, &Ctx::simple(&cancel)).unwrap();
        assert_eq!(receipt.cid, file.cid.to_string(), "{layout}");
        assert_eq!(receipt.uri, format!("ipfs://{}", file.cid));
        assert!(kubo_server.is_pinned(&file.cid));
        assert_eq!(kubo.verify(&file.cid, &receipt, &Ctx::simple(&cancel)).unwrap(), Verification::Verified);
        let add = kubo_server.server.requests().into_iter().rfind(|r| r.path == "/api/v0/add").unwrap();
        assert_eq!(add.method, "POST");
        assert_eq!(add.query("cid-version"), Some(if layout == Layout::V0 { "0" } else { "1" }));
        assert_eq!(add.query("raw-leaves"), Some(if layout == Layout::V0 { "false" } else { "true" }));
        assert_eq!(add.query("chunker").unwrap(), format!("size-{}", layout.chunk_size()));
        assert_eq!(add.query("max-file-links").unwrap(), layout.max_links().to_string());
        assert_eq!(add.query("pin"), Some("true"));
        assert_eq!(add.query("wrap-with-directory"), Some("false"));
    }
    assert_eq!(kubo_server.server.count("/api/v0/version"), 1, "the version is asked once");
}

#[test]
fn contract_kubo_wrong_cid_in_the_answer_is_refused() {
    let kubo_server = KuboServer::start("0.39.0");
    kubo_server.switches.wrong_cid.store(true, Ordering::SeqCst);
    let kubo = Kubo::new(&kubo_server.url(), None);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.png");
    std::fs::write(&path, b"pixels").unwrap();
    let file = upload_of(&path, Layout::V1);
    let err = kubo.put_file(&file, &Ctx::simple(&CancelToken::new())).unwrap_err();
    assert_eq!(err.kind(), "cid_mismatch");
    let msg = err.to_string();
    assert!(msg.contains(&file.cid.to_string()) && msg.contains("not trusted"), "{msg}");
}

#[test]
fn contract_kubo_401_says_which_token_to_set() {
    let kubo_server = KuboServer::start("0.39.0");
    *kubo_server.switches.token.lock().unwrap() = Some("s3cret".into());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.txt");
    std::fs::write(&path, b"hi").unwrap();
    let file = upload_of(&path, Layout::V0);
    let cancel = CancelToken::new();
    let err = Kubo::new(&kubo_server.url(), None).put_file(&file, &Ctx::simple(&cancel)).unwrap_err();
    assert_eq!(err.kind(), "unauthorized");
    assert!(err.to_string().contains("CHRYSALIS_KUBO_TOKEN"), "{err}");
    assert_eq!(kubo_server.server.count("/api/v0/version"), 1, "401 is not retried");
    let ok = Kubo::new(&kubo_server.url(), Some(Secret::new("s3cret"))).put_file(&file, &Ctx::simple(&cancel)).unwrap();
    assert_eq!(ok.cid, file.cid.to_string());
    // The token never appears in errors or debug output.
    assert!(!format!("{:?}", Kubo::new(&kubo_server.url(), Some(Secret::new("s3cret")))).contains("s3cret"));
}

#[test]
fn contract_kubo_5xx_then_success_is_retried() {
    let kubo_server = KuboServer::start("0.39.0");
    kubo_server.server.fail_next("/api/v0/add", 2, 503, None);
    let kubo = Kubo::new(&kubo_server.url(), None).with_retry(fast_retry());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.txt");
    std::fs::write(&path, b"retry me").unwrap();
    let file = upload_of(&path, Layout::V1);
    let receipt = kubo.put_file(&file, &Ctx::simple(&CancelToken::new())).unwrap();
    assert_eq!(receipt.cid, file.cid.to_string());
    assert_eq!(kubo_server.server.count("/api/v0/add"), 3);
    assert_eq!(kubo_server.adds(), 1);
}

#[test]
fn contract_kubo_5xx_until_retries_run_out_is_an_error() {
    let kubo_server = KuboServer::start("0.39.0");
    kubo_server.server.fail_next("/api/v0/add", 100, 500, None);
    let kubo = Kubo::new(&kubo_server.url(), None).with_retry(fast_retry());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.txt");
    std::fs::write(&path, b"never").unwrap();
    let err = kubo.put_file(&upload_of(&path, Layout::V1), &Ctx::simple(&CancelToken::new())).unwrap_err();
    assert_eq!(err.kind(), "server");
    assert_eq!(kubo_server.server.count("/api/v0/add"), 4, "max_attempts tries in all");
}

#[test]
fn contract_kubo_429_waits_for_retry_after() {
    let kubo_server = KuboServer::start("0.39.0");
    kubo_server.server.fail_next("/api/v0/add", 1, 429, Some("1"));
    let kubo = Kubo::new(&kubo_server.url(), None).with_retry(fast_retry());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.txt");
    std::fs::write(&path, b"slow down").unwrap();
    let start = Instant::now();
    kubo.put_file(&upload_of(&path, Layout::V1), &Ctx::simple(&CancelToken::new())).unwrap();
    // The backoff alone would be ≤ 20 ms; the server asked for a second.
    assert!(start.elapsed() >= Duration::from_secs(1), "waited only {:?}", start.elapsed());
    assert_eq!(kubo_server.server.count("/api/v0/add"), 2);
}

#[test]
fn contract_kubo_before_0_35_gets_no_dag_width_option_and_refuses_v1_2025() {
    let kubo_server = KuboServer::start("0.29.0");
    let kubo = Kubo::new(&kubo_server.url(), None);
    let cancel = CancelToken::new();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.bin");
    std::fs::write(&path, noise(600_000, 2)).unwrap();
    let r = kubo.put_file(&upload_of(&path, Layout::V1), &Ctx::simple(&cancel)).unwrap();
    assert_eq!(r.cid, cid_of_file(&path, Layout::V1).unwrap().cid.to_string());
    let add = kubo_server.server.requests().into_iter().find(|r| r.path == "/api/v0/add").unwrap();
    assert_eq!(add.query("max-file-links"), None);
    let err = kubo.put_file(&upload_of(&path, Layout::V1_2025), &Ctx::simple(&cancel)).unwrap_err();
    assert_eq!(err.kind(), "unsupported");
    assert!(err.to_string().contains("0.29.0"), "{err}");
}

#[test]
fn contract_kubo_verify_pins_again_when_the_pin_is_gone() {
    let kubo_server = KuboServer::start("0.39.0");
    let kubo = Kubo::new(&kubo_server.url(), None);
    let cancel = CancelToken::new();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.txt");
    std::fs::write(&path, b"keep me").unwrap();
    let file = upload_of(&path, Layout::V0);
    let receipt = kubo.put_file(&file, &Ctx::simple(&cancel)).unwrap();
    kubo_server.unpin(&file.cid);
    assert_eq!(kubo.verify(&file.cid, &receipt, &Ctx::simple(&cancel)).unwrap(), Verification::Verified);
    assert!(kubo_server.is_pinned(&file.cid));
    assert_eq!(kubo_server.server.count("/api/v0/pin/add"), 1);
}

#[test]
fn contract_kubo_folder_is_files_then_a_car_of_directory_nodes_only() {
    let kubo_server = KuboServer::start("0.39.0");
    let kubo = Kubo::new(&kubo_server.url(), None);
    let tmp = tempfile::tempdir().unwrap();
    let project = project(tmp.path());
    let folder = stage_folder(project.root(), 5);
    for layout in [Layout::V0, Layout::V1_2025] {
        let report = Publisher::new(project.db(), &kubo, PublishOptions { layout, jobs: 3, ..Default::default() })
            .publish(&folder, &mut |_| {}, &CancelToken::new())
            .unwrap();
        assert!(report.complete(), "{report:#?}");
        let expected = cid_of_dir(&folder, layout).unwrap().cid;
        assert_eq!(report.root.cid, expected.to_string());
        assert_eq!(report.root.uri.as_deref(), Some(format!("ipfs://{expected}").as_str()));
        assert_eq!(report.items.len(), 7, "6 files (hidden one skipped) + the folder");
        assert!(kubo_server.is_pinned(&expected));
    }
    // The folder step sent directory nodes only: tiny next to the 300 kB image.
    let import = kubo_server.server.requests().into_iter().find(|r| r.path == "/api/v0/dag/import").unwrap();
    assert!(import.body.len() < 2_000, "dag/import sent {} bytes", import.body.len());
    assert!(!kubo_server.added_names().iter().any(|n| n.contains("DS_Store")));
}

#[test]
fn contract_kubo_directory_car_of_a_hamt_sharded_folder_completes_the_dag() {
    // Past Kubo's 256 KiB threshold the folder is a HAMT: the link CAR must carry every shard.
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("many");
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..3000 {
        std::fs::write(
            folder.join(format!("item-{i:05}-with-a-long-descriptive-name-for-sharding.json")),
            format!("{i}"),
        )
        .unwrap();
    }
    let layout = Layout::V1;
    let car = tmp.path().join("dirs.car");
    let root = write_directory_car(&folder, layout, &car, &CancelToken::new()).unwrap();
    assert_eq!(root, cid_of_dir(&folder, layout).unwrap().cid);
    // The CAR holds exactly the folder's dag-pb nodes (directory + HAMT shards): with raw
    // leaves and one-chunk files every file is a raw block, so everything else in the DAG.
    let mut all: Vec<chrysalis_storage::Block> = Vec::new();
    chrysalis_storage::Importer::new(layout).sink(&mut all).add_dir(&folder).unwrap();
    let want: std::collections::BTreeSet<String> =
        all.iter().filter(|b| b.cid.codec() == chrysalis_storage::block::DAG_PB).map(|b| b.cid.to_string()).collect();
    let mut reader = chrysalis_storage::car::CarReader::new(std::fs::File::open(&car).unwrap(), &car).unwrap();
    assert_eq!(reader.roots(), &[root]);
    let mut got = std::collections::BTreeSet::new();
    while let Some(b) = reader.next_block().unwrap() {
        got.insert(b.cid.to_string());
    }
    assert!(got.len() > 1, "a sharded folder has several directory blocks");
    assert_eq!(got, want);
    assert_eq!(all.len(), got.len() + 3000);
}

#[test]
fn contract_kubo_interrupted_folder_publish_resumes_without_reuploading_verified_files() {
    let kubo_server = KuboServer::start("0.39.0");
    let kubo = Kubo::new(&kubo_server.url(), None).with_retry(RetryPolicy::none());
    let tmp = tempfile::tempdir().unwrap();
    let project = project(tmp.path());
    let folder = stage_folder(project.root(), 7); // 8 files
    let options = PublishOptions { layout: Layout::V1, jobs: 1, ..Default::default() };
    let cancel = CancelToken::new();

    // The node fails every add after the third.
    kubo_server.server.inject(
        "/api/v0/add",
        3,
        usize::MAX,
        Fault::Status { status: 500, retry_after: None, body: "disk full".into() },
    );
    let first = Publisher::new(project.db(), &kubo, options)
        .project_root(project.root())
        .publish(&folder, &mut |_| {}, &cancel)
        .unwrap();
    assert_eq!(first.verified, 3, "{first:#?}");
    assert_eq!(first.failed, 5);
    assert_eq!(first.root.status, UploadStatus::Planned, "the folder waits for its files");
    assert!(first.items.iter().any(|i| i.error.as_deref().is_some_and(|e| e.contains("disk full"))));
    let verified_first: Vec<String> =
        first.items.iter().filter(|i| i.status == UploadStatus::Verified).map(|i| i.name.clone()).collect();
    // Recorded in the project: what, where, status.
    let row = status_of(project.db(), BackendKind::Kubo, &kubo.endpoint(), "file", &first.items[0].cid).unwrap();
    assert_eq!(row, Some(UploadStatus::Verified));

    kubo_server.server.clear_faults();
    kubo_server.server.clear_log();
    let second = Publisher::new(project.db(), &kubo, options)
        .project_root(project.root())
        .publish(&folder, &mut |_| {}, &cancel)
        .unwrap();
    assert!(second.complete(), "{second:#?}");
    assert_eq!(second.already_verified, 3);
    assert_eq!(kubo_server.server.count("/api/v0/add"), 5, "only the 5 unverified files are sent again");
    let resent: Vec<String> = kubo_server.added_names();
    for name in &verified_first {
        let base = name.rsplit('/').next().unwrap();
        assert!(!resent.iter().any(|r| r == base), "{name} was uploaded again");
    }
    assert!(second.items.iter().filter(|i| i.action == Action::Uploaded).all(|i| i.attempts == 2 || i.kind == "dir"));

    // A third run sends nothing at all.
    kubo_server.server.clear_log();
    let third = Publisher::new(project.db(), &kubo, options).publish(&folder, &mut |_| {}, &cancel).unwrap();
    assert!(third.items.iter().all(|i| i.action == Action::AlreadyVerified));
    assert_eq!(kubo_server.server.requests().len(), 0);
    assert_eq!(third.bytes_sent, 0);
}

#[test]
fn contract_kubo_identical_files_are_uploaded_once() {
    let kubo_server = KuboServer::start("0.39.0");
    let kubo = Kubo::new(&kubo_server.url(), None);
    let tmp = tempfile::tempdir().unwrap();
    let project = project(tmp.path());
    let folder = project.root().join("same");
    std::fs::create_dir_all(&folder).unwrap();
    for name in ["a.json", "b.json", "c.json"] {
        std::fs::write(folder.join(name), b"{\"same\":true}").unwrap();
    }
    let report = Publisher::new(project.db(), &kubo, PublishOptions { jobs: 3, ..Default::default() })
        .publish(&folder, &mut |_| {}, &CancelToken::new())
        .unwrap();
    assert!(report.complete(), "{report:#?}");
    assert_eq!(report.items.len(), 4);
    assert_eq!(kubo_server.server.count("/api/v0/add"), 1, "one CID, one upload");
    assert!(kubo_server.is_pinned(&cid_of_dir(&folder, Layout::V0).unwrap().cid));
}

#[test]
fn contract_kubo_cancel_stops_between_uploads_and_resumes() {
    let kubo_server = KuboServer::start("0.39.0");
    let kubo = Kubo::new(&kubo_server.url(), None);
    let tmp = tempfile::tempdir().unwrap();
    let project = project(tmp.path());
    let folder = stage_folder(project.root(), 9);
    let options = PublishOptions { layout: Layout::V0, jobs: 1, ..Default::default() };
    let cancel = CancelToken::new();
    let mut seen = 0u64;
    let result = Publisher::new(project.db(), &kubo, options).publish(
        &folder,
        &mut |p| {
            if p.message == "uploading" {
                seen += 1;
                if seen == 1 {
                    cancel.cancel();
                }
            }
        },
        &cancel,
    );
    assert_eq!(result.unwrap_err().kind(), "cancelled");
    // Cancelling aborts the upload in flight too; its row stays `uploading`. Whether that
    // aborted request reached the server first is a race of the network, so the rule checked
    // is: nothing the first run verified is sent again, and everything else is sent once.
    let sent_before = kubo_server.adds();
    assert!(sent_before < 10, "{sent_before}");
    let verified_before: u32 =
        project.db().query_row("SELECT count(*) FROM uploads WHERE status = 'verified'", [], |r| r.get(0)).unwrap();
    assert!(verified_before < 10, "the cancel stopped the run early: {verified_before}");
    let report =
        Publisher::new(project.db(), &kubo, options).publish(&folder, &mut |_| {}, &CancelToken::new()).unwrap();
    assert!(report.complete());
    assert_eq!(
        kubo_server.adds() - sent_before,
        10 - verified_before as usize,
        "the resumed run sends exactly what the cancelled run had not verified"
    );
}

#[test]
fn contract_kubo_single_file_publish_is_recorded() {
    let kubo_server = KuboServer::start("0.39.0");
    let kubo = Kubo::new(&kubo_server.url(), None);
    let tmp = tempfile::tempdir().unwrap();
    let project = project(tmp.path());
    let path = project.root().join("cover.png");
    std::fs::write(&path, noise(70_000, 9)).unwrap();
    let mut steps = Vec::new();
    let report = Publisher::new(project.db(), &kubo, PublishOptions::default())
        .project_root(project.root())
        .publish(&path, &mut |p| steps.push(p.clone()), &CancelToken::new())
        .unwrap();
    assert!(report.complete());
    assert_eq!(report.items.len(), 1);
    assert_eq!(report.root.path, "cover.png", "paths inside the project are recorded relative to it");
    assert!(report.bytes_sent >= 70_000, "the file and its multipart framing");
    assert_eq!(steps.last().unwrap().message, "done");
    let (status, attempts, remote_uri): (String, u32, String) = project
        .db()
        .query_row("SELECT status, attempts, remote_uri FROM uploads WHERE kind = 'file'", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("verified", 1));
    assert_eq!(remote_uri, format!("ipfs://{}", report.root.cid));
    let journal: i64 = project
        .db()
        .query_row("SELECT count(*) FROM journal WHERE kind LIKE 'storage.publish.%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, 2);
}

// ================================================================== Pinning Services API

fn psa(server: &PsaServer) -> PinningService {
    PinningService::new(&server.url(), Secret::new("psa-token"))
        .with_poll(PollPolicy {
            first: Duration::from_millis(10),
            max: Duration::from_millis(50),
            timeout: Duration::from_secs(10),
        })
        .with_retry(fast_retry())
}

#[test]
fn contract_psa_pins_the_root_and_polls_until_pinned() {
    let server = PsaServer::start("psa-token");
    server.switches.pinning_polls.store(3, Ordering::SeqCst);
    let service = psa(&server).with_origins(vec!["/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWexample".into()]);
    let tmp = tempfile::tempdir().unwrap();
    let project = project(tmp.path());
    let folder = stage_folder(project.root(), 3);
    let report = Publisher::new(project.db(), &service, PublishOptions { layout: Layout::V1, ..Default::default() })
        .publish(&folder, &mut |_| {}, &CancelToken::new())
        .unwrap();
    assert!(report.complete(), "{report:#?}");
    assert_eq!(report.items.len(), 1, "a pinning service pins the root; it fetches the rest");
    let cid = cid_of_dir(&folder, Layout::V1).unwrap().cid.to_string();
    assert_eq!(
        server.requests(),
        vec![(
            cid.clone(),
            "stage-1".into(),
            vec!["/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWexample".into()],
            "pinned".into()
        )]
    );
    assert_eq!(report.root.remote_id.as_deref(), Some("req-1"));
    assert!(server.server.count("/pins/req-1") >= 4, "queued -> pinning (x3) -> pinned");
    let post = server.server.requests().into_iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.bearer(), Some("psa-token"));
    assert_eq!(post.json()["meta"]["app"], "chrysalis");
}

#[test]
fn contract_psa_failed_pin_is_reported_and_asked_again_next_run() {
    let server = PsaServer::start("psa-token");
    server.switches.fail.store(true, Ordering::SeqCst);
    let service = psa(&server);
    let tmp = tempfile::tempdir().unwrap();
    let project = project(tmp.path());
    let path = project.root().join("a.json");
    std::fs::write(&path, b"{}").unwrap();
    let report = Publisher::new(project.db(), &service, PublishOptions::default())
        .publish(&path, &mut |_| {}, &CancelToken::new())
        .unwrap();
    assert_eq!(report.failed, 1);
    assert!(report.root.error.as_deref().unwrap().contains("could not find the content"), "{report:#?}");
    server.switches.fail.store(false, Ordering::SeqCst);
    let again = Publisher::new(project.db(), &service, PublishOptions::default())
        .publish(&path, &mut |_| {}, &CancelToken::new())
        .unwrap();
    assert!(again.complete());
    assert_eq!(server.created(), 2, "a failed request is replaced by a new one");
}

#[test]
fn contract_psa_pending_pin_is_resumed_by_polling_not_by_a_new_request() {
    let server = PsaServer::start("psa-token");
    server.switches.pinning_polls.store(1_000, Ordering::SeqCst);
    let tmp = tempfile::tempdir().unwrap();
    let project = project(tmp.path());
    let path = project.root().join("a.json");
    std::fs::write(&path, b"{\"a\":1}").unwrap();
    let impatient = PinningService::new(&server.url(), Secret::new("psa-token")).with_poll(PollPolicy {
        first: Duration::from_millis(10),
        max: Duration::from_millis(10),
        timeout: Duration::from_millis(100),
    });
    let first = Publisher::new(project.db(), &impatient, PublishOptions::default())
        .publish(&path, &mut |_| {}, &CancelToken::new())
        .unwrap();
    assert_eq!(first.pending, 1);
    assert_eq!(first.root.status, UploadStatus::Uploaded);
    assert!(first.root.error.as_deref().unwrap().contains("still pinning"), "{first:#?}");

    server.switches.pinning_polls.store(0, Ordering::SeqCst);
    let second = Publisher::new(project.db(), &psa(&server), PublishOptions::default())
        .publish(&path, &mut |_| {}, &CancelToken::new())
        .unwrap();
    assert!(second.complete());
    assert_eq!(second.root.action, Action::VerifiedOnly);
    assert_eq!(server.created(), 1);
}

#[test]
fn contract_psa_wrong_cid_in_the_pin_status_is_refused() {
    let server = PsaServer::start("psa-token");
    *server.switches.echo_cid.lock().unwrap() = Some(chrysalis_storage::cid_of_bytes(b"other", Layout::V1).to_string());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.txt");
    std::fs::write(&path, b"mine").unwrap();
    let err = psa(&server).put_file(&upload_of(&path, Layout::V1), &Ctx::simple(&CancelToken::new())).unwrap_err();
    assert_eq!(err.kind(), "cid_mismatch");
}

#[test]
fn contract_psa_401_names_the_token_variable() {
    let server = PsaServer::start("psa-token");
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.txt");
    std::fs::write(&path, b"mine").unwrap();
    let service = PinningService::new(&server.url(), Secret::new("wrong")).with_retry(fast_retry());
    let err = service.put_file(&upload_of(&path, Layout::V1), &Ctx::simple(&CancelToken::new())).unwrap_err();
    assert_eq!(err.kind(), "unauthorized");
    assert!(err.to_string().contains("CHRYSALIS_PSA_TOKEN"), "{err}");
    assert!(!err.to_string().contains("wrong"), "the token is never echoed: {err}");
    assert_eq!(server.server.requests().len(), 1, "not retried");
}

#[test]
fn contract_psa_429_and_5xx_are_retried_without_duplicate_requests() {
    let server = PsaServer::start("psa-token");
    server.server.inject(
        "/pins",
        1,
        1,
        Fault::Status { status: 429, retry_after: Some("1".into()), body: "slow".into() },
    );
    server.server.inject("/pins", 2, 1, Fault::Status { status: 502, retry_after: None, body: "gateway".into() });
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.txt");
    std::fs::write(&path, b"mine").unwrap();
    let start = Instant::now();
    let file = upload_of(&path, Layout::V1);
    let receipt = psa(&server).put_file(&file, &Ctx::simple(&CancelToken::new())).unwrap();
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(receipt.cid, file.cid.to_string());
    assert_eq!(server.created(), 1);
    assert!(
        server.server.requests().iter().filter(|r| r.method == "GET" && r.path == "/pins").count() >= 2,
        "looked for an existing request before posting again"
    );
}

// ================================================================== Pinata

#[test]
fn contract_pinata_uploads_cars_so_every_layout_keeps_its_cid() {
    let server = PinataServer::start("jwt-abc");
    let pinata = Pinata::with_endpoints(&server.url(), &server.url(), Secret::new("jwt-abc"));
    let cancel = CancelToken::new();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("art.png");
    std::fs::write(&path, noise(1_100_000, 4)).unwrap();
    for layout in Layout::ALL {
        let file = upload_of(&path, layout);
        let receipt = pinata.put_file(&file, &Ctx::simple(&cancel)).unwrap();
        assert_eq!(receipt.cid, file.cid.to_string());
        assert!(receipt.remote_id.is_some());
        assert_eq!(pinata.verify(&file.cid, &receipt, &Ctx::simple(&cancel)).unwrap(), Verification::Verified);
    }
    let upload = server.server.requests().into_iter().find(|r| r.path == "/files").unwrap();
    let parts = upload.multipart();
    let field = |n: &str| parts.iter().find(|p| p.name == n).map(|p| String::from_utf8_lossy(&p.body).into_owned());
    assert_eq!(field("network").as_deref(), Some("public"));
    assert_eq!(field("car").as_deref(), Some("true"));
    assert_eq!(field("name").as_deref(), Some("art.png"));
    assert_eq!(upload.bearer(), Some("jwt-abc"));
}

#[test]
fn contract_pinata_folder_is_one_car_upload() {
    let server = PinataServer::start("jwt-abc");
    let pinata = Pinata::with_endpoints(&server.url(), &server.url(), Secret::new("jwt-abc"));
    let tmp = tempfile::tempdir().unwrap();
    let project = project(tmp.path());
    let folder = stage_folder(project.root(), 4);
    let report = Publisher::new(project.db(), &pinata, PublishOptions { layout: Layout::V1, ..Default::default() })
        .publish(&folder, &mut |_| {}, &CancelToken::new())
        .unwrap();
    assert!(report.complete(), "{report:#?}");
    assert_eq!(report.items.len(), 1);
    assert_eq!(server.server.count("/files") - server.server.count("/files/public"), 1);
    assert_eq!(server.files().values().next().unwrap(), &cid_of_dir(&folder, Layout::V1).unwrap().cid.to_string());
}

#[test]
fn contract_pinata_wrong_cid_is_refused() {
    let server = PinataServer::start("jwt-abc");
    server.switches.wrong_cid.store(true, Ordering::SeqCst);
    let pinata = Pinata::with_endpoints(&server.url(), &server.url(), Secret::new("jwt-abc"));
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.png");
    std::fs::write(&path, b"png").unwrap();
    let err = pinata.put_file(&upload_of(&path, Layout::V0), &Ctx::simple(&CancelToken::new())).unwrap_err();
    assert_eq!(err.kind(), "cid_mismatch");
}

#[test]
fn contract_pinata_401_and_5xx_then_success() {
    let server = PinataServer::start("jwt-abc");
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.png");
    std::fs::write(&path, b"png").unwrap();
    let file = upload_of(&path, Layout::V1);
    let cancel = CancelToken::new();
    let bad = Pinata::with_endpoints(&server.url(), &server.url(), Secret::new("nope"));
    let err = bad.put_file(&file, &Ctx::simple(&cancel)).unwrap_err();
    assert_eq!(err.kind(), "unauthorized");
    assert!(err.to_string().contains("PINATA_JWT"), "{err}");

    server.server.fail_next("/files", 2, 500, None);
    let good = Pinata::with_endpoints(&server.url(), &server.url(), Secret::new("jwt-abc")).with_retry(fast_retry());
    assert_eq!(good.put_file(&file, &Ctx::simple(&cancel)).unwrap().cid, file.cid.to_string());
}

// ================================================================== local store

#[test]
fn local_backend_publishes_into_the_project_store() {
    let tmp = tempfile::tempdir().unwrap();
    let project = project(tmp.path());
    let folder = stage_folder(project.root(), 3);
    let local = chrysalis_storage::remote::local::Local::new(LocalStore::open(project.root()).unwrap());
    let report = Publisher::new(project.db(), &local, PublishOptions::default())
        .publish(&folder, &mut |_| {}, &CancelToken::new())
        .unwrap();
    assert!(report.complete());
    let cid = cid_of_dir(&folder, Layout::V0).unwrap().cid;
    assert_eq!(report.root.cid, cid.to_string());
    assert_eq!(
        local.store().resolve(&format!("{cid}/images/0.png")).unwrap(),
        cid_of_file(&folder.join("images/0.png"), Layout::V0).unwrap().cid
    );
}

#[test]
fn test_server_sees_chunked_and_sized_bodies() {
    // The contract servers must read whatever framing our client sends.
    let server =
        TestServer::start(|req| chrysalis_storage::remote::testkit::Response::text(200, &req.body.len().to_string()));
    let agent = ureq::Agent::new_with_defaults();
    let mut r = agent.post(server.url()).send(&b"12345"[..]).unwrap();
    assert_eq!(r.body_mut().read_to_string().unwrap(), "5");
    let mut reader = std::io::Cursor::new(vec![7u8; 100_000]);
    let mut r = agent.post(server.url()).send(ureq::SendBody::from_reader(&mut reader)).unwrap();
    assert_eq!(r.body_mut().read_to_string().unwrap(), "100000");
}
