//! Content beyond the local store: `chrysalis publish --backend kubo` pins every stage folder
//! (and the collection JSON) to a Kubo node (the storage crate's contract-test server) under
//! the very CIDs the metadata and the chain use, and a rerun uploads nothing again; `verify`
//! with only a trustless gateway fetches CARs, checks every block, and refuses altered bytes.

use chrysalis_chain::{Keypair, Signer};
use chrysalis_storage::Cid;
use chrysalis_storage::remote::testkit::kubo::KuboServer;
use chrysalis_tests::chrysalis_bin;
use chrysalis_tests::{project_with_spec, small_spec};

fn publish_pin(dir: &std::path::Path, url: &str) -> serde_json::Value {
    let out = std::process::Command::new(chrysalis_bin!())
        .args(["--json", "publish", "--only", "pin", "--backend", "kubo", "--endpoint", url, "--project"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON report")
}

#[test]
fn publish_pins_every_stage_folder_to_kubo_under_the_metadata_cids() {
    let dir = tempfile::tempdir().unwrap();
    project_with_spec(dir.path(), &small_spec("Remote", 6, 2, 256, "0", &Keypair::new().pubkey()));
    let kubo = KuboServer::start("0.39.0");
    let report = publish_pin(dir.path(), &kubo.url());
    assert!(report["mints"].as_array().unwrap().is_empty(), "--only pin stops before the chain");
    assert!(!dir.path().join("sandbox").exists(), "and never opens it");
    let pins = report["pins"].as_array().unwrap();
    // 2 stages × (images, metadata) + the collection JSON, on each of local and kubo.
    assert_eq!(pins.len(), 10, "{pins:#?}");
    for stage in report["stages"].as_array().unwrap() {
        for key in ["images_cid", "metadata_cid"] {
            let cid = stage[key].as_str().unwrap();
            for backend in ["local", "kubo"] {
                assert!(
                    pins.iter().any(|p| p["backend"] == backend && p["cid"] == cid && p["status"] == "verified"),
                    "{key} {cid} on {backend}: {pins:#?}"
                );
            }
            assert!(kubo.is_pinned(&Cid::try_from(cid).unwrap()), "Kubo pins {cid}");
        }
    }
    let adds = kubo.adds();
    assert!(adds > 0);
    let again = publish_pin(dir.path(), &kubo.url());
    assert_eq!(again["stages"], report["stages"], "same CIDs on a rerun");
    assert_eq!(kubo.adds(), adds, "nothing uploaded twice");
}

/// `verify --gateway`: with no local store, the content comes from a trustless gateway as
/// CARs (every block checked on import); a gateway that serves altered bytes is refused.
#[test]
fn verify_reads_content_from_a_trustless_gateway_and_refuses_altered_bytes() {
    use chrysalis_core::CancelToken;
    use chrysalis_pipeline::chain::{Chain, ChainOptions};
    use chrysalis_pipeline::publish::{PublishOptions, publish};
    use chrysalis_pipeline::verify::{self, CheckStatus, Sources};
    use chrysalis_storage::LocalStore;
    use chrysalis_storage::remote::testkit::{Response, TestServer};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let project = project_with_spec(dir.path(), &small_spec("Gateway", 6, 2, 256, "0", &Keypair::new().pubkey()));
    let report = publish(&project, &PublishOptions::default(), None, &mut |_| {}, &CancelToken::new()).unwrap();
    let mint: chrysalis_chain::Pubkey = report.mints[4].mint.parse().unwrap();

    let store = LocalStore::open(dir.path()).unwrap();
    let alter = Arc::new(AtomicBool::new(false));
    let (served_store, served_alter) = (store.clone(), alter.clone());
    let gateway = TestServer::start(move |req| {
        let Some(cid) = req.path.strip_prefix("/ipfs/").and_then(|c| Cid::try_from(c).ok()) else {
            return Response::text(404, "not found");
        };
        if req.query("format") != Some("car") {
            return Response::text(400, "trustless gateway: ask for ?format=car");
        }
        let mut car = Vec::new();
        if served_store.export_car(&cid, &mut car).is_err() {
            return Response::text(404, "not found");
        }
        if served_alter.load(Ordering::SeqCst) {
            let at = car.len() - 10;
            car[at] ^= 0x20;
        }
        Response { status: 200, headers: vec![("Content-Type".into(), "application/vnd.ipld.car".into())], body: car }
    });
    let chain = Chain::open(dir.path(), &ChainOptions::default()).unwrap();
    let url = gateway.url();
    let sources = Sources { store: None, gateway: Some(&url), model_dir: None };
    let ok = verify::verify(&chain, &mint, &sources, &mut |_| {}, &CancelToken::new()).unwrap();
    assert!(ok.ok && ok.checks.iter().all(|c| c.status == CheckStatus::Pass), "{ok:#?}");

    alter.store(true, Ordering::SeqCst);
    let bad = verify::verify(&chain, &mint, &sources, &mut |_| {}, &CancelToken::new()).unwrap();
    assert!(!bad.ok, "{bad:#?}");
    let failed = bad.checks.iter().find(|c| c.status == CheckStatus::Fail).unwrap();
    assert_eq!(failed.name, "metadata CID", "{failed:?}");
    assert!(failed.detail.contains("gateway"), "the reason names the gateway: {failed:?}");
}
