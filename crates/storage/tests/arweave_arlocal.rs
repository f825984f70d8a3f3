//! Arweave against a real arlocal (npm `arlocal` 1.1.66, see `tools/arlocal/`): our own
//! signed format-2 transactions, inline and chunked uploads, read-back, GraphQL by tag,
//! tampered transactions refused, path manifests, resuming a half-done upload.
//!
//! Needs arlocal at `CHRYSALIS_ARLOCAL_URL` (default http://127.0.0.1:1984): start it with
//! `tools/arlocal/start.sh`. Without it these tests fail with instructions, unless
//! `CHRYSALIS_SKIP_ARLOCAL=1`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrysalis_core::{CancelToken, Project};
use chrysalis_storage::Layout;
use chrysalis_storage::remote::arweave::tx::{MerkleTree, Tag, Transaction};
use chrysalis_storage::remote::arweave::wallet::{Wallet, b64url, from_b64url};
use chrysalis_storage::remote::arweave::{Arweave, TxStatus};
use chrysalis_storage::remote::publish::{Action, UploadStatus};
use chrysalis_storage::remote::testkit::{ARLOCAL_TEST_WALLET, ARLOCAL_UNFUNDED_WALLET, arlocal_url};
use chrysalis_storage::remote::{
    Checkpoint, Ctx, FileUpload, Pinner, PublishOptions, Publisher, RemoteError, Verification,
};
use sha2::{Digest, Sha256};

const FUNDS: u128 = 10_000_000_000_000;

/// arlocal is one shared chain: tests that mine or look at pending state take turns.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A seed unique to this run: arlocal keeps its chain between test runs, and tests that
/// query by CID tag need content never uploaded before.
fn fresh_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn client(url: &str) -> Arweave {
    let wallet = Wallet::from_jwk(ARLOCAL_TEST_WALLET).unwrap();
    let ar = Arweave::new(url, Some(wallet));
    let cancel = CancelToken::new();
    ar.arlocal_mint(ar.wallet().unwrap().address(), FUNDS, &cancel).unwrap();
    ar
}

/// Bytes with no two equal 256 KiB chunks (arlocal de-duplicates chunks by hash when it
/// reassembles data, so repeated chunks would not read back).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn file_upload(dir: &std::path::Path, name: &str, data: &[u8], layout: Layout) -> FileUpload {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    FileUpload {
        cid: chrysalis_storage::cid_of_file(&path, layout).unwrap().cid,
        path,
        name: name.to_string(),
        layout,
        size: data.len() as u64,
        sha256: Sha256::digest(data).into(),
        content_type: chrysalis_storage::remote::content_type_for(std::path::Path::new(name)).to_string(),
    }
}

/// Saves in memory and counts saves; fails the `fail_at`-th save (to simulate a crash).
#[derive(Default)]
struct MemCheckpoint {
    state: Mutex<Option<serde_json::Value>>,
    saves: AtomicUsize,
    fail_at: Option<usize>,
}

impl Checkpoint for MemCheckpoint {
    fn load(&self) -> Option<serde_json::Value> {
        self.state.lock().unwrap().clone()
    }

    fn save(&self, state: &serde_json::Value) -> Result<(), RemoteError> {
        let n = self.saves.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_at == Some(n) {
            return Err(RemoteError::Checkpoint("simulated crash".into()));
        }
        *self.state.lock().unwrap() = Some(state.clone());
        Ok(())
    }
}

#[test]
fn arweave_small_file_round_trip_with_tags() {
    let Some(url) = arlocal_url() else { return };
    let _turn = serial();
    let ar = client(&url);
    let cancel = CancelToken::new();
    let dir = tempfile::tempdir().unwrap();
    let data = format!("{{\"name\":\"Moth #1\",\"nonce\":{}}}", fresh_seed()).into_bytes();
    let file = file_upload(dir.path(), "1.json", &data, Layout::V1);

    let before = ar.balance(ar.wallet().unwrap().address(), &cancel).unwrap();
    let price = ar.price(data.len() as u64, &cancel).unwrap();
    let receipt = ar.put_file(&file, &Ctx::simple(&cancel)).unwrap();
    let id = receipt.remote_id.clone().unwrap();
    assert_eq!(receipt.uri, format!("ar://{id}"));
    assert_eq!(ar.status(&id, &cancel).unwrap(), TxStatus::Pending);
    // Accepted but not in a block: uploaded, not verified.
    assert!(matches!(ar.verify(&file.cid, &receipt, &Ctx::simple(&cancel)).unwrap(), Verification::Pending(_)));

    ar.arlocal_mine(&cancel).unwrap();
    assert!(matches!(ar.status(&id, &cancel).unwrap(), TxStatus::Confirmed { .. }));
    assert_eq!(ar.verify(&file.cid, &receipt, &Ctx::simple(&cancel)).unwrap(), Verification::Verified);
    assert_eq!(ar.data(&id, false, &cancel).unwrap(), data);
    // Paid once, the quoted price.
    let after = ar.balance(ar.wallet().unwrap().address(), &cancel).unwrap();
    // (arlocal keeps balances as floating point: large balances round by a few winston.)
    let charged = before - after;
    assert!(charged.abs_diff(price) <= price / 1000, "charged {charged} for a price of {price}");

    let tx = ar.transaction(&id, &cancel).unwrap();
    assert!(tx.verify(), "the stored header verifies");
    assert_eq!(tx.tag("Content-Type").as_deref(), Some("application/json"));
    assert_eq!(tx.tag("App-Name").as_deref(), Some("Chrysalis"));
    assert_eq!(tx.tag("App-Version").as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(tx.tag("IPFS-CID"), Some(file.cid.to_string()));
    assert_eq!(tx.tag("IPFS-CID-Layout").as_deref(), Some("v1"));
}

#[test]
fn arweave_large_file_goes_in_chunks_and_reads_back_identical() {
    let Some(url) = arlocal_url() else { return };
    let _turn = serial();
    let ar = client(&url);
    let cancel = CancelToken::new();
    let dir = tempfile::tempdir().unwrap();
    let data = noise(1_500_000, 7);
    let file = file_upload(dir.path(), "big.png", &data, Layout::V0);
    let tree = MerkleTree::of_bytes(&data);
    assert_eq!(tree.upload_chunks().count(), 6, "1.5 MB = 5 full chunks + the rest");

    let checkpoint = MemCheckpoint::default();
    let sent = AtomicUsize::new(0);
    let on_bytes = |n: u64| {
        sent.fetch_add(n as usize, Ordering::SeqCst);
    };
    let ctx = Ctx { cancel: &cancel, on_bytes: &on_bytes, checkpoint: &checkpoint };
    let receipt = ar.put_file(&file, &ctx).unwrap();
    assert_eq!(sent.load(Ordering::SeqCst), data.len(), "progress counts every byte once");
    let state = checkpoint.load().unwrap();
    assert_eq!(state["arweave"]["chunks_done"], 6);
    assert_eq!(state["arweave"]["tx"]["data"], "", "the checkpoint keeps the header only");

    ar.arlocal_mine(&cancel).unwrap();
    let id = receipt.remote_id.clone().unwrap();
    let back = ar.data(&id, false, &cancel).unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "bytes read back differ");
    assert_eq!(ar.verify(&file.cid, &receipt, &Ctx::simple(&cancel)).unwrap(), Verification::Verified);
    assert_eq!(ar.transaction(&id, &cancel).unwrap().data_root, b64url(&tree.data_root));
}

#[test]
fn arweave_graphql_finds_uploads_by_ipfs_cid_tag() {
    let Some(url) = arlocal_url() else { return };
    let _turn = serial();
    let ar = client(&url);
    let cancel = CancelToken::new();
    let dir = tempfile::tempdir().unwrap();
    let file = file_upload(dir.path(), "tagged.txt", &noise(1000, fresh_seed()), Layout::V1_2025);
    let receipt = ar.put_file(&file, &Ctx::simple(&cancel)).unwrap();
    ar.arlocal_mine(&cancel).unwrap();
    let found = ar.find_by_tag("IPFS-CID", &file.cid.to_string(), &cancel).unwrap();
    assert_eq!(found, vec![receipt.remote_id.clone().unwrap()]);
    assert!(ar.find_by_tag("IPFS-CID", "bafy-no-such-cid", &cancel).unwrap().is_empty());
}

#[test]
fn arweave_tampered_transactions_are_refused() {
    let Some(url) = arlocal_url() else { return };
    let _turn = serial();
    let ar = client(&url);
    let wallet = ar.wallet().unwrap();
    let cancel = CancelToken::new();
    let data = format!("exactly these bytes {}", fresh_seed()).into_bytes();
    let tree = MerkleTree::of_bytes(&data);
    let anchor = ar.tx_anchor(&cancel).unwrap();
    let reward = ar.price(data.len() as u64, &cancel).unwrap();
    let mut tx =
        Transaction::new_data(&tree, data.len() as u64, vec![Tag::new("Content-Type", "text/plain")], &anchor, reward);
    tx.sign(wallet).unwrap();
    tx.data = b64url(&data);
    assert!(tx.verify());

    // One byte of the data flipped: the data no longer matches the signed data root.
    let mut bad_data = tx.clone();
    let mut d = data.clone();
    d[0] ^= 1;
    bad_data.data = b64url(&d);
    let err = ar.post_transaction(&bad_data, &cancel).unwrap_err();
    assert!(matches!(err, RemoteError::Rejected { status: 400, .. }), "{err}");

    // One byte of the signature flipped: the id and the signature no longer verify.
    let mut bad_sig = tx.clone();
    let mut s = from_b64url(&tx.signature).unwrap();
    s[10] ^= 0x80;
    bad_sig.signature = b64url(&s);
    assert!(!bad_sig.verify(), "our own check refuses it too");
    let err = ar.post_transaction(&bad_sig, &cancel).unwrap_err();
    assert!(matches!(err, RemoteError::Rejected { status: 400, .. }), "{err}");

    // A tag changed after signing.
    let mut bad_tag = tx.clone();
    bad_tag.tags[0] = Tag::new("Content-Type", "text/html");
    assert!(!bad_tag.verify());
    assert!(ar.post_transaction(&bad_tag, &cancel).is_err());

    // The untouched transaction is accepted, and nothing tampered was stored.
    assert_eq!(ar.status(&tx.id, &cancel).unwrap(), TxStatus::NotFound);
    ar.post_transaction(&tx, &cancel).unwrap();
    assert_ne!(ar.status(&tx.id, &cancel).unwrap(), TxStatus::NotFound);
    assert_eq!(ar.data(&tx.id, false, &cancel).unwrap(), data, "the untampered bytes are what is stored");

    // Verification refuses a receipt whose bytes differ from what was uploaded.
    ar.arlocal_mine(&cancel).unwrap();
    let cid = chrysalis_storage::cid_of_bytes(&data, Layout::V1);
    let receipt = chrysalis_storage::remote::Receipt {
        backend: chrysalis_storage::remote::BackendKind::Arweave,
        cid: cid.to_string(),
        remote_id: Some(tx.id.clone()),
        uri: format!("ar://{}", tx.id),
        detail: serde_json::json!({ "data_root": tx.data_root, "sha256": "00".repeat(32) }),
    };
    let err = ar.verify(&cid, &receipt, &Ctx::simple(&cancel)).unwrap_err();
    assert_eq!(err.kind(), "verification", "{err}");
}

#[test]
fn arweave_unfunded_wallet_is_told_to_fund() {
    let Some(url) = arlocal_url() else { return };
    let _turn = serial();
    let ar = Arweave::new(&url, Some(Wallet::from_jwk(ARLOCAL_UNFUNDED_WALLET).unwrap()));
    let cancel = CancelToken::new();
    let dir = tempfile::tempdir().unwrap();
    let file = file_upload(dir.path(), "x.bin", &noise(5000, 3), Layout::V0);
    let err = ar.put_file(&file, &Ctx::simple(&cancel)).unwrap_err();
    assert_eq!(err.kind(), "insufficient_funds", "{err}");
    assert!(err.to_string().contains(ar.wallet().unwrap().address()), "{err}");
}

#[test]
fn arweave_interrupted_chunked_upload_resumes_the_same_transaction() {
    let Some(url) = arlocal_url() else { return };
    let _turn = serial();
    let ar = client(&url);
    let cancel = CancelToken::new();
    let dir = tempfile::tempdir().unwrap();
    let data = noise(1_100_000, fresh_seed()); // 5 chunks
    let file = file_upload(dir.path(), "resume.bin", &data, Layout::V1);

    // Saves: 1 = signed header, 2 = header posted, 3.. = chunks. Crash at the 4th save:
    // the header and one chunk are on the gateway.
    let cp = MemCheckpoint { fail_at: Some(4), ..Default::default() };
    let err = ar.put_file(&file, &Ctx { cancel: &cancel, on_bytes: &|_| {}, checkpoint: &cp }).unwrap_err();
    assert_eq!(err.kind(), "checkpoint");
    let saved = cp.load().unwrap();
    let first_id = saved["arweave"]["tx"]["id"].as_str().unwrap().to_string();
    assert_eq!(saved["arweave"]["chunks_done"], 1);
    let balance_after_first = ar.balance(ar.wallet().unwrap().address(), &cancel).unwrap();

    // Resume from the checkpoint: same transaction, remaining chunks only, no new payment.
    let cp2 = MemCheckpoint { state: Mutex::new(Some(saved)), ..Default::default() };
    let receipt = ar.put_file(&file, &Ctx { cancel: &cancel, on_bytes: &|_| {}, checkpoint: &cp2 }).unwrap();
    assert_eq!(receipt.remote_id.as_deref(), Some(first_id.as_str()));
    assert_eq!(cp2.load().unwrap()["arweave"]["chunks_done"], 5);
    assert_eq!(ar.balance(ar.wallet().unwrap().address(), &cancel).unwrap(), balance_after_first, "paid once");
    ar.arlocal_mine(&cancel).unwrap();
    assert!(ar.data(&first_id, false, &cancel).unwrap() == data);
    assert_eq!(ar.find_by_tag("IPFS-CID", &file.cid.to_string(), &cancel).unwrap(), vec![first_id]);
}

/// Mines every 200 ms until dropped, as a real network confirms in the background.
struct Miner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Miner {
    fn start(url: &str) -> Miner {
        let stop = Arc::new(AtomicBool::new(false));
        let (s, ar) = (stop.clone(), Arweave::new(url, None));
        let thread = std::thread::spawn(move || {
            let cancel = CancelToken::new();
            while !s.load(Ordering::SeqCst) {
                let _ = ar.arlocal_mine(&cancel);
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Miner { stop, thread: Some(thread) }
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn arweave_folder_publish_makes_a_manifest_that_resolves_paths() {
    let Some(url) = arlocal_url() else { return };
    let _turn = serial();
    let _miner = Miner::start(&url);
    let tmp = tempfile::tempdir().unwrap();
    let project = Project::create(&tmp.path().join("proj"), Some("ar")).unwrap();
    let folder = project.root().join("stage-0");
    std::fs::create_dir_all(folder.join("images")).unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("0.json", br#"{"name":"Moth #0","image":"images/0.png"}"#.to_vec()),
        ("1.json", br#"{"name":"Moth #1","image":"images/1.png"}"#.to_vec()),
        ("images/0.png", noise(40_000, 1)),
        ("images/1.png", noise(300_000, 2)),
        ("images/1-copy.png", noise(300_000, 2)),
    ];
    for (name, data) in &files {
        std::fs::write(folder.join(name), data).unwrap();
    }
    let ar = client(&url).with_confirmations(0, Duration::from_secs(30));
    let cancel = CancelToken::new();
    let publisher =
        Publisher::new(project.db(), &ar, PublishOptions { layout: Layout::V1, jobs: 2, ..Default::default() })
            .project_root(project.root());
    let report = publisher.publish(&folder, &mut |_| {}, &cancel).unwrap();
    assert!(report.complete(), "{report:#?}");
    assert_eq!(report.items.len(), 6);
    let id_of = |name: &str| report.items.iter().find(|i| i.name == name).unwrap().remote_id.clone().unwrap();
    assert_eq!(id_of("images/1.png"), id_of("images/1-copy.png"), "identical bytes: one transaction, paid once");
    assert_eq!(report.root.cid, chrysalis_storage::cid_of_dir(&folder, Layout::V1).unwrap().cid.to_string());
    let manifest_id = report.root.remote_id.clone().unwrap();

    // ar://MANIFEST/path resolves to each file's bytes, like ipfs://CID/path.
    let agent = ureq::Agent::new_with_defaults();
    for (name, data) in &files {
        let mut resp = agent.get(format!("{url}/{manifest_id}/{name}")).call().unwrap();
        let body = resp.body_mut().with_config().limit(10 << 20).read_to_vec().unwrap();
        assert!(body == *data, "{name} through the manifest");
    }
    let manifest: serde_json::Value = serde_json::from_slice(&ar.data(&manifest_id, true, &cancel).unwrap()).unwrap();
    assert_eq!(manifest["manifest"], "arweave/paths");
    assert_eq!(manifest["version"], "0.2.0");
    assert_eq!(manifest["index"]["path"], "0.json");
    assert_eq!(manifest["paths"].as_object().unwrap().len(), 5);

    // Publishing again sends nothing: every item is already verified.
    let again = publisher.publish(&folder, &mut |_| {}, &cancel).unwrap();
    assert!(again.items.iter().all(|i| i.action == Action::AlreadyVerified), "{again:#?}");
    assert_eq!(again.bytes_sent, 0);
    assert_eq!(again.root.status, UploadStatus::Verified);
}
