//! `chrysalis pin`, run as a user runs it, against contract servers (Kubo RPC, Pinning
//! Services API) and, for Arweave, a real arlocal (see `tools/arlocal/`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use chrysalis_core::CancelToken;
use chrysalis_storage::Layout;
use chrysalis_storage::remote::arweave::Arweave;
use chrysalis_storage::remote::arweave::wallet::Wallet;
use chrysalis_storage::remote::testkit::kubo::KuboServer;
use chrysalis_storage::remote::testkit::psa::PsaServer;
use chrysalis_storage::remote::testkit::{ARLOCAL_TEST_WALLET, Fault, arlocal_url};
use predicates::prelude::*;
use serde_json::Value;

fn chrysalis() -> Command {
    let mut cmd = Command::cargo_bin("chrysalis").unwrap();
    for var in ["RUST_LOG", "CHRYSALIS_PSA_TOKEN", "PINATA_JWT", "CHRYSALIS_KUBO_TOKEN", "CHRYSALIS_ARWEAVE_WALLET"] {
        cmd.env_remove(var);
    }
    cmd
}

/// A project with a stage folder of `n` metadata files and one image.
fn project_with_stage(tmp: &Path, n: usize) -> (PathBuf, PathBuf) {
    let root = tmp.join("moths");
    chrysalis().args(["init", root.to_str().unwrap(), "--name", "Moths"]).assert().success();
    let stage = root.join("stage-0");
    std::fs::create_dir_all(&stage).unwrap();
    for i in 0..n {
        std::fs::write(stage.join(format!("{i}.json")), format!("{{\"name\":\"Moth #{i}\",\"seed\":{}}}", i * 7919))
            .unwrap();
    }
    std::fs::write(
        stage.join("cover.png"),
        (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    (root, stage)
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn base_names(names: &[String]) -> Vec<String> {
    names.iter().map(|n| n.rsplit('/').next().unwrap().to_string()).collect()
}

#[test]
fn pin_folder_to_kubo_resumes_after_a_failure_without_reuploading_verified_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (_root, stage) = project_with_stage(tmp.path(), 5); // 6 files
    let kubo = KuboServer::start("0.39.0");
    kubo.server.inject(
        "/api/v0/add",
        3,
        usize::MAX,
        Fault::Status { status: 500, retry_after: None, body: "node out of disk".into() },
    );

    let args = [
        "pin",
        stage.to_str().unwrap(),
        "--to",
        "kubo",
        "--endpoint",
        &kubo.url(),
        "--jobs",
        "1",
        "--retries",
        "0",
        "--layout",
        "v1",
        "--json",
    ];
    let first = chrysalis().args(args).output().unwrap();
    assert_eq!(first.status.code(), Some(1), "stderr: {}", String::from_utf8_lossy(&first.stderr));
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("3 of 7 item(s) failed") && stderr.contains("run the same command again"), "{stderr}");
    let report = json_of(&first);
    assert_eq!(report["verified"], 3);
    assert_eq!(report["failed"], 3);
    assert_eq!(report["root"]["status"], "planned");
    let uploaded_first = base_names(&kubo.added_names()[..3]);

    kubo.server.clear_faults();
    kubo.server.clear_log();
    let second = chrysalis().args(args).output().unwrap();
    assert!(second.status.success(), "stderr: {}", String::from_utf8_lossy(&second.stderr));
    // Without -v a remote pin logs nothing below a warning (ureq's debug lines stay off).
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!stderr.contains("DEBUG") && !stderr.contains("TRACE"), "debug output without -v:\n{stderr}");
    let report = json_of(&second);
    assert_eq!(report["already_verified"], 3);
    assert_eq!(report["root"]["status"], "verified");
    let expected = chrysalis_storage::cid_of_dir(&stage, Layout::V1).unwrap().cid.to_string();
    assert_eq!(report["root"]["cid"], expected);
    assert_eq!(report["root"]["uri"], format!("ipfs://{expected}"));
    // Counted at the server: the 3 verified files were not sent again.
    assert_eq!(kubo.server.count("/api/v0/add"), 3);
    let resent = base_names(&kubo.added_names());
    for name in &uploaded_first {
        assert!(!resent.contains(name), "{name} was uploaded twice");
    }
    assert_eq!(kubo.server.count("/api/v0/dag/import"), 1);
}

#[test]
fn pin_folder_killed_mid_upload_resumes_without_reuploading_verified_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (_root, stage) = project_with_stage(tmp.path(), 5); // 6 files
    let kubo = KuboServer::start("0.39.0");
    // The third add never gets an answer: the process is killed while waiting for it.
    kubo.server.inject("/api/v0/add", 2, 1, Fault::Hang);
    let bin = assert_cmd::cargo::cargo_bin("chrysalis");
    let args = ["pin", stage.to_str().unwrap(), "--to", "kubo", "--endpoint", &kubo.url(), "--jobs", "1", "--json"];
    let mut child =
        std::process::Command::new(&bin).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while kubo.server.count("/api/v0/add") < 3 {
        assert!(start.elapsed() < Duration::from_secs(60), "the third add never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let first_two = base_names(&kubo.added_names()[..2]);
    assert_eq!(kubo.adds(), 2);

    kubo.server.clear_faults();
    kubo.server.clear_log();
    let again = chrysalis().args(args).output().unwrap();
    assert!(again.status.success(), "stderr: {}", String::from_utf8_lossy(&again.stderr));
    let report = json_of(&again);
    assert_eq!(report["already_verified"], 2);
    assert_eq!(report["root"]["status"], "verified");
    assert_eq!(kubo.server.count("/api/v0/add"), 4, "the 4 files not verified before the kill, and only those");
    let resent = base_names(&kubo.added_names());
    for name in &first_two {
        assert!(!resent.contains(name), "{name} was uploaded twice");
    }
    // The file in flight at the kill was recorded as `uploading` and is now on its 2nd try.
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.iter().filter(|i| i["attempts"] == 2).count(), 1, "{report:#}");
}

#[test]
fn pin_to_local_records_and_second_run_sends_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, stage) = project_with_stage(tmp.path(), 2);
    let out = chrysalis().current_dir(&root).args(["pin", "stage-0", "--to", "local", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    assert_eq!(report["root"]["cid"], chrysalis_storage::cid_of_dir(&stage, Layout::V0).unwrap().cid.to_string());
    assert_eq!(report["root"]["path"], "stage-0");
    let again =
        json_of(&chrysalis().current_dir(&root).args(["pin", "stage-0", "--to", "local", "--json"]).output().unwrap());
    assert_eq!(again["already_verified"], 1);
    assert_eq!(again["bytes_sent"], 0);
    // Human output names the CID and what happened.
    chrysalis()
        .current_dir(&root)
        .args(["pin", "stage-0", "--to", "local"])
        .assert()
        .success()
        .stdout(predicate::str::contains("already verified"))
        .stdout(predicate::str::contains(report["root"]["cid"].as_str().unwrap()));
}

/// `chrysalis pin small.png` inside a project: a bare file name's parent is "", which once
/// named a project folder "" that did not exist.
#[test]
fn pin_a_bare_file_name_inside_a_project() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = project_with_stage(tmp.path(), 1);
    std::fs::write(root.join("small.png"), b"not really a png, bytes are bytes").unwrap();
    let out = chrysalis().current_dir(&root).args(["pin", "small.png", "--to", "local", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    let expected = chrysalis_storage::cid_of_file(&root.join("small.png"), Layout::V0).unwrap().cid.to_string();
    assert_eq!(report["root"]["cid"], expected);
}

#[test]
fn pin_outside_a_project_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a.json");
    std::fs::write(&file, b"{}").unwrap();
    chrysalis()
        .current_dir(tmp.path())
        .args(["pin", file.to_str().unwrap(), "--to", "local"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--project"))
        .stderr(predicate::str::contains("chrysalis init"));
}

#[test]
fn pin_to_psa_needs_a_token_and_never_prints_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, stage) = project_with_stage(tmp.path(), 1);
    let psa = PsaServer::start("tok-7f3a9c-very-secret");
    chrysalis()
        .args(["pin", stage.to_str().unwrap(), "--to", "psa", "--endpoint", &psa.url()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("CHRYSALIS_PSA_TOKEN"));
    // Even at the most verbose logging (HTTP clients trace raw request bytes there).
    for (flag, rust_log) in [("-vvv", None), ("-v", Some("trace,ureq_proto=trace"))] {
        // New content each time, so each run really talks to the service.
        std::fs::write(stage.join("run.txt"), flag).unwrap();
        let mut cmd = chrysalis();
        if let Some(filter) = rust_log {
            cmd.env("RUST_LOG", filter);
        }
        let out = cmd
            .env("CHRYSALIS_PSA_TOKEN", "tok-7f3a9c-very-secret")
            .args([flag, "pin", stage.to_str().unwrap(), "--to", "psa", "--endpoint", &psa.url(), "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(json_of(&out)["root"]["status"], "verified");
        assert!(String::from_utf8_lossy(&out.stderr).contains("published"), "logging was on");
        for stream in [&out.stdout, &out.stderr] {
            assert!(!String::from_utf8_lossy(stream).contains("very-secret"), "the token leaked into the output");
        }
    }
    // Nor is it anywhere in the project folder.
    for entry in walk(&root) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(!bytes.windows(11).any(|w| w == b"very-secret"), "token stored in {}", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[test]
fn pin_to_arweave_needs_a_wallet() {
    let tmp = tempfile::tempdir().unwrap();
    let (_root, stage) = project_with_stage(tmp.path(), 1);
    chrysalis()
        .args(["pin", stage.to_str().unwrap(), "--to", "arweave", "--endpoint", "http://127.0.0.1:9"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--wallet"))
        .stderr(predicate::str::contains("CHRYSALIS_ARWEAVE_WALLET"));
}

#[test]
fn pin_folder_to_arweave_on_arlocal_makes_a_resolving_manifest() {
    let Some(url) = arlocal_url() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_root, stage) = project_with_stage(tmp.path(), 2);
    std::fs::write(stage.join("nonce.txt"), format!("{:?}", std::time::SystemTime::now())).unwrap();
    let wallet_path = tmp.path().join("wallet.json"); // outside the project, as a user keeps it
    std::fs::write(&wallet_path, ARLOCAL_TEST_WALLET).unwrap();
    let cancel = CancelToken::new();
    let ar = Arweave::new(&url, None);
    ar.arlocal_mint(Wallet::from_jwk(ARLOCAL_TEST_WALLET).unwrap().address(), 1_000_000_000_000_000, &cancel).unwrap();

    // Mine in the background, as the network confirms.
    let stop = Arc::new(AtomicBool::new(false));
    let miner = {
        let (stop, url) = (stop.clone(), url.clone());
        std::thread::spawn(move || {
            let ar = Arweave::new(&url, None);
            while !stop.load(Ordering::SeqCst) {
                let _ = ar.arlocal_mine(&CancelToken::new());
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let out = chrysalis()
        .args([
            "pin",
            stage.to_str().unwrap(),
            "--to",
            "arweave",
            "--endpoint",
            &url,
            "--confirm-timeout",
            "60",
            "--layout",
            "v1",
            "--json",
        ])
        .arg("--wallet")
        .arg(&wallet_path)
        .output()
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    miner.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    assert_eq!(report["root"]["status"], "verified");
    let manifest = report["root"]["remote_id"].as_str().unwrap().to_string();
    assert_eq!(report["root"]["uri"], format!("ar://{manifest}"));
    let body = ureq::get(format!("{url}/{manifest}/1.json")).call().unwrap().body_mut().read_to_string().unwrap();
    assert_eq!(body, std::fs::read_to_string(stage.join("1.json")).unwrap());
}
