//! The Publish, Mint, Evolve and Royalties commands on Tauri's mock runtime, called as the UI
//! calls them: every command of src/pipeline.rs and src/chain.rs, through the real capability
//! file, against a real project and the in-process Sandbox.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrysalis_studio::AppState;
use chrysalis_studio::secrets::MemoryStore;
use serde_json::{Value, json};
use support::{CHANNEL, Studio, path_arg, studio_with};

/// Two items, three stages (mint, a day later, then the creator's trigger), at the smallest
/// size the procedural engine draws: the whole path in seconds. One creator takes it all.
const TINY_SPEC: &str = r#"
name = "Tiny"
symbol = "TINY"
description = "Two seeded organisms."
size = 2
seed = 3
royalty_bps = 1000
price = "0"

[[creators]]
address = "AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf"
share_bps = 10000

[art]
engine = "procedural"
style = "growth"
width = 256
height = 256

[[traits]]
name = "Palette"
values = [
    { value = "Moth Night", count = 1, params = { palette = 0 } },
    { value = "Kyoto", count = 1, params = { palette = 2 } },
]

[[stages]]
name = "Seedling"
unlock = "mint"
growth = 0

[[stages]]
name = "Grown"
unlock = { after_mint = "1d" }
growth = 2

[[stages]]
name = "Blossom"
unlock = "creator"
growth = 4
"#;

fn studio() -> (Studio, Arc<Mutex<Vec<Value>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let studio = studio_with(
        AppState::with_secrets(Box::new(MemoryStore::default())),
        Arc::new(move |_, v| sink.lock().unwrap().push(v)),
    );
    (studio, events)
}

fn sandbox() -> Value {
    json!({ "network": "sandbox", "wallet": null })
}

fn new_project(s: &Studio, dir: &Path) {
    s.ok("create_project", json!({ "dir": path_arg(dir), "name": "tiny" }));
}

fn take(events: &Mutex<Vec<Value>>) -> Vec<Value> {
    std::mem::take(&mut *events.lock().unwrap())
}

#[test]
fn network_info_describes_each_network_and_names_the_choices_for_unknown_ones() {
    let (s, _) = studio();
    let sb = s.ok("network_info", json!({ "network": "sandbox" }));
    assert_eq!(sb["name"], "sandbox");
    assert_eq!(sb["allows_airdrop"], true);
    assert_eq!(sb["has_explorer"], false);
    assert_eq!(sb["rpc_url"], Value::Null);
    let dev = s.ok("network_info", json!({ "network": " devnet " }));
    assert_eq!((dev["allows_airdrop"].as_bool(), dev["has_explorer"].as_bool()), (Some(true), Some(true)));
    let main = s.ok("network_info", json!({ "network": "mainnet-beta" }));
    assert_eq!((main["is_mainnet"].as_bool(), main["allows_airdrop"].as_bool()), (Some(true), Some(false)));
    let custom = s.ok("network_info", json!({ "network": "https://rpc.example.org" }));
    assert_eq!(custom["rpc_url"], "https://rpc.example.org");
    let (kind, message) = s.err("network_info", json!({ "network": "testnet2" }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("sandbox, localnet, devnet, mainnet-beta"), "{message}");
}

#[test]
fn project_commands_say_to_open_a_project_first() {
    let (s, _) = studio();
    for (cmd, args) in [
        ("publish_status", json!({})),
        ("use_demo_collection", json!({})),
        (
            "publish_run",
            json!({ "request": { "backend": "local", "endpoint": null, "arweave_wallet": null, "layout": null }, "onEvent": CHANNEL }),
        ),
        ("mint_estimate", json!({ "chain": sandbox() })),
        ("mint_run", json!({ "chain": sandbox(), "onEvent": CHANNEL })),
        ("mint_list", json!({ "chain": sandbox() })),
        ("wallet_info", json!({ "chain": sandbox() })),
        ("wallet_airdrop", json!({ "chain": sandbox(), "sol": 1.0 })),
        ("evolve_timeline", json!({ "chain": sandbox() })),
        ("evolve_due", json!({ "chain": sandbox(), "onEvent": CHANNEL })),
        ("evolve_trigger", json!({ "chain": sandbox(), "index": 0, "toStage": 1 })),
        ("warp_clock", json!({ "chain": sandbox(), "duration": "1d" })),
        ("royalties_show", json!({ "chain": sandbox() })),
        ("royalties_pay", json!({ "chain": sandbox(), "lamports": 1000 })),
        ("royalties_distribute", json!({ "chain": sandbox() })),
        ("verify_nft", json!({ "chain": sandbox(), "mint": "11111111111111111111111111111111" })),
        ("shard_export", json!({ "dest": "/tmp/jobs", "count": 2 })),
        ("shard_job", json!({})),
        ("shard_run", json!({ "onEvent": CHANNEL })),
        ("shard_inspect", json!({ "dir": "/tmp/jobs/x" })),
        ("shard_import", json!({ "dir": "/tmp/jobs/x", "onEvent": CHANNEL })),
    ] {
        let (kind, message) = s.err(cmd, args);
        assert_eq!(kind, "noProject", "{cmd}: {message}");
    }
}

#[test]
fn wallet_create_writes_a_new_keypair_file_and_never_overwrites_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, _) = studio();
    let path = tmp.path().join("keys/new.json");
    let address = s.ok("wallet_create", json!({ "path": path_arg(&path) }));
    let text = std::fs::read_to_string(&path).unwrap();
    let bytes: Vec<u8> = serde_json::from_str(&text).unwrap();
    assert_eq!(bytes.len(), 64, "a Solana CLI keypair file");
    assert!(address.as_str().unwrap().len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (kind, message) = s.err("wallet_create", json!({ "path": path_arg(&path) }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("Refusing to overwrite"), "{message}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "the first wallet is intact");
    let (kind, message) = s.err("wallet_create", json!({ "path": "keys/relative.json" }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("full path"), "{message}");
}

#[test]
fn arguments_are_checked_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, _) = studio();
    new_project(&s, &tmp.path().join("p"));
    let mainnet = json!({ "network": "mainnet-beta", "wallet": null });
    let (kind, message) = s.err("wallet_airdrop", json!({ "chain": mainnet, "sol": 1.0 }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("no free SOL"), "{message}");
    for sol in [0.0, -1.0, 50.0] {
        let (kind, _) = s.err("wallet_airdrop", json!({ "chain": sandbox(), "sol": sol }));
        assert_eq!(kind, "invalidInput", "{sol}");
    }
    // Only explorer links open in the browser (nothing is spawned for the others).
    for url in ["file:///etc/passwd", "https://evil.example/explorer.solana.com/", "https://explorer.solana.com/ x"] {
        let (kind, message) = s.err("open_explorer", json!({ "url": url }));
        assert_eq!(kind, "invalidInput", "{url}");
        assert!(message.contains("Only Solana Explorer links"), "{message}");
    }
    let devnet = json!({ "network": "devnet", "wallet": null });
    let (_, message) = s.err("warp_clock", json!({ "chain": devnet, "duration": "1d" }));
    assert!(message.contains("Only the Sandbox"), "{message}");
    let (_, message) = s.err("royalties_pay", json!({ "chain": devnet, "lamports": 5 }));
    assert!(message.contains("only exists in the Sandbox"), "{message}");
    let (_, message) = s.err("royalties_pay", json!({ "chain": sandbox(), "lamports": 0 }));
    assert!(message.contains("above 0"), "{message}");
    let (kind, message) = s.err("mint_list", json!({ "chain": { "network": "sandbox", "wallet": "id.json" } }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("keypair file"), "{message}");
    let (_, message) = s.err("verify_nft", json!({ "chain": sandbox(), "mint": "not-an-address" }));
    assert!(message.contains("not a Solana address"), "{message}");

    // Publishing: an unknown backend, a pinning service without its address, Pinata
    // without a token, Arweave without a wallet, a bad layout.
    let publish = |backend: &str, endpoint: Value, layout: Value| {
        s.err(
            "publish_run",
            json!({ "request": { "backend": backend, "endpoint": endpoint, "arweave_wallet": null, "layout": layout }, "onEvent": CHANNEL }),
        )
    };
    let (_, message) = publish("ftp", Value::Null, Value::Null);
    assert!(message.contains("choose local, kubo, psa, pinata or arweave"), "{message}");
    let (_, message) = publish("psa", Value::Null, Value::Null);
    assert!(message.contains("pinning service's API address"), "{message}");
    if std::env::var_os("PINATA_JWT").is_none() {
        let (_, message) = publish("pinata", Value::Null, Value::Null);
        assert!(message.contains("needs a token") && message.contains("keyring"), "{message}");
    }
    let (_, message) = publish("arweave", Value::Null, Value::Null);
    assert!(message.contains("wallet to pay"), "{message}");
    let (_, message) = publish("local", Value::Null, json!("v9"));
    assert!(message.contains("v0, v1 or v1-2025"), "{message}");

    // Without a collection.toml there is nothing to publish: the error says what to add.
    let (kind, message) = publish("local", Value::Null, Value::Null);
    assert_eq!(kind, "spec");
    assert!(message.contains("collection.toml"), "{message}");
    let status = s.ok("publish_status", json!({}));
    assert_eq!((status["has_spec"].as_bool(), status["complete"].as_bool()), (Some(false), Some(false)));
    // Nothing on chain yet: the timeline says to publish first.
    let (kind, message) = s.err("evolve_timeline", json!({ "chain": sandbox() }));
    assert_eq!(kind, "notReady");
    assert!(message.contains("no collection on sandbox yet"), "{message}");
}

#[test]
fn use_demo_collection_writes_the_demo_spec_once_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, _) = studio();
    let dir = tmp.path().join("p");
    new_project(&s, &dir);
    assert_eq!(s.ok("use_demo_collection", json!({})), json!(true));
    let spec = std::fs::read_to_string(dir.join("collection.toml")).unwrap();
    assert!(spec.contains("Chrysalis Demo"));
    // It pays the artist's own (Sandbox) wallet, confirmed; never the demo's stranger.
    let creators = s.ok("creators_status", json!({}));
    assert_eq!(creators.as_array().unwrap().len(), 1, "{creators}");
    assert_eq!(creators[0]["confirmed"], true, "{creators}");
    assert_eq!(creators[0]["how"], "own wallet (Sandbox)", "{creators}");
    let stranger = "AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf";
    assert!(!spec.contains(stranger));
    let theirs = spec.replace(creators[0]["address"].as_str().unwrap(), stranger);
    std::fs::write(dir.join("collection.toml"), &theirs).unwrap();
    assert_eq!(s.ok("creators_status", json!({}))[0]["confirmed"], false);
    assert_eq!(s.ok("confirm_creator", json!({ "address": stranger })), json!(null));
    assert_eq!(s.ok("creators_status", json!({}))[0]["how"], "confirmed");
    assert_eq!(s.err("confirm_creator", json!({ "address": "nope" })).0, "invalidInput");
    std::fs::write(dir.join("collection.toml"), TINY_SPEC).unwrap();
    assert_eq!(s.ok("use_demo_collection", json!({})), json!(false));
    assert_eq!(std::fs::read_to_string(dir.join("collection.toml")).unwrap(), TINY_SPEC, "the artist's spec is kept");
    assert_eq!(s.ok("publish_status", json!({}))["has_spec"], true);
}

/// Publish (local) -> mint (Sandbox) -> warp -> evolve -> trigger -> pay -> distribute ->
/// verify, and every rerun resumes instead of repeating.
#[test]
fn the_whole_path_in_the_sandbox() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, events) = studio();
    let dir = tmp.path().join("tiny");
    new_project(&s, &dir);
    std::fs::write(dir.join("collection.toml"), TINY_SPEC).unwrap();

    // Publish to the local store, with progress.
    let request = json!({ "backend": "local", "endpoint": null, "arweave_wallet": null, "layout": "v0" });
    let report = s.ok("publish_run", json!({ "request": request, "onEvent": CHANNEL }));
    assert_eq!(report["plan"]["items"], 2);
    assert_eq!(report["stages"].as_array().unwrap().len(), 3);
    assert_eq!(report["generate"]["generated"], 6);
    assert!(report["mints"].as_array().unwrap().is_empty(), "publishing mints nothing");
    let seen = take(&events);
    for phase in ["plan", "generate", "metadata", "pin"] {
        assert!(seen.iter().any(|e| e["phase"] == phase), "no {phase} event in {seen:?}");
    }
    assert!(seen.iter().any(|e| e["bytes"].as_u64().is_some_and(|b| b > 0)), "pin events carry bytes");
    let status = s.ok("publish_status", json!({}));
    assert_eq!(status["complete"], true, "{status}");
    assert_eq!(status["files_ready"], 6);
    assert_eq!(status["images_ready"], 6);
    let pins = status["pins"].as_array().unwrap();
    assert_eq!(pins.len(), 7, "3 stages x 2 folders + the collection JSON: {pins:?}");
    assert!(pins.iter().all(|p| p["backend"] == "local" && p["status"] == "verified"));
    let metadata_cid = status["stages"][0]["metadata_cid"].as_str().unwrap().to_owned();
    assert!(metadata_cid.starts_with("Qm"), "CIDv0: {metadata_cid}");

    // Running it again resumes: nothing is generated twice.
    let again = s.ok("publish_run", json!({ "request": request, "onEvent": CHANNEL }));
    assert_eq!(again["generate"]["generated"], 0);
    assert_eq!(again["generate"]["reused"], 6);
    assert_eq!(again["stages"][0]["metadata_cid"], metadata_cid.as_str());
    take(&events);

    // The cost before minting: an upper bound while no collection exists.
    let estimate = s.ok("mint_estimate", json!({ "chain": sandbox() }));
    assert_eq!((estimate["items"].as_u64(), estimate["minted"].as_u64()), (Some(2), Some(0)));
    assert_eq!(estimate["exact"], false);
    assert!(estimate["total"].as_u64().unwrap() > estimate["collection"].as_u64().unwrap());

    // The Sandbox wallet is the project's own; airdrops work there.
    let wallet = s.ok("wallet_info", json!({ "chain": sandbox() }));
    assert!(dir.join("keys/artist.json").exists());
    assert_eq!(wallet["network"]["name"], "sandbox");
    assert_eq!(wallet["explorer_url"], Value::Null);
    let before = wallet["balance"].as_u64().unwrap();
    let after = s.ok("wallet_airdrop", json!({ "chain": sandbox(), "sol": 2.0 }));
    assert_eq!(after["balance"].as_u64().unwrap(), before + 2_000_000_000);
    assert_eq!(after["address"], wallet["address"]);

    // Mint.
    let minted = s.ok("mint_run", json!({ "chain": sandbox(), "onEvent": CHANNEL }));
    assert_eq!(minted["minted_now"], 2);
    assert_eq!(minted["collection"]["created_now"], true);
    let seen = take(&events);
    assert!(seen.iter().any(|e| e["phase"] == "mint"), "{seen:?}");
    let list = s.ok("mint_list", json!({ "chain": sandbox() }));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|m| m["status"] == "minted" && m["explorer_url"].is_null()));
    let first_mint = list[0]["mint"].as_str().unwrap().to_owned();
    // A rerun finds them on chain and pays nothing.
    let again = s.ok("mint_run", json!({ "chain": sandbox(), "onEvent": CHANNEL }));
    assert_eq!(again["minted_now"], 0);
    assert_eq!(again["collection"]["created_now"], false);
    let exact = s.ok("mint_estimate", json!({ "chain": sandbox() }));
    assert_eq!(
        (exact["minted"].as_u64(), exact["total"].as_u64(), exact["exact"].as_bool()),
        (Some(2), Some(0), Some(true))
    );

    // Evolve: nothing is due until the clock moves a day.
    let t = s.ok("evolve_timeline", json!({ "chain": sandbox() }));
    assert_eq!(t["can_warp"], true);
    assert_eq!(t["due"], 0);
    assert_eq!(t["stages"].as_array().unwrap().len(), 3);
    assert_eq!(t["stages"][2]["rule"], json!({ "kind": "creator" }));
    let nfts = t["nfts"].as_array().unwrap();
    assert_eq!(nfts.len(), 2);
    assert!(nfts.iter().all(|n| n["stage"] == 0 && n["next"]["due"] == false));
    assert_eq!(nfts[0]["next"]["rule"], json!({ "kind": "after_mint", "seconds": 86_400 }));
    // Each row names its image now and at the next stage; stage_image draws them small.
    assert_eq!(nfts[1]["image"], json!({ "stage": 0, "path": "build/stage-0/images/1.png", "exists": true }));
    assert_eq!(nfts[1]["next_image"], json!({ "stage": 1, "path": "build/stage-1/images/1.png", "exists": true }));
    let thumb = s.ok("stage_image", json!({ "stage": 1, "index": 1 }));
    assert!(thumb.as_str().unwrap().starts_with("data:image/png;base64,"), "{thumb}");
    let due_at = nfts[0]["next"]["due_at"].as_i64().unwrap();
    assert_eq!(due_at, nfts[0]["minted_at"].as_i64().unwrap() + 86_400);
    let (_, message) = s.err("warp_clock", json!({ "chain": sandbox(), "duration": "soon" }));
    assert!(message.contains("soon"), "{message}");
    let now = s.ok("warp_clock", json!({ "chain": sandbox(), "duration": "1d" })).as_i64().unwrap();
    assert!(now >= due_at, "{now} < {due_at}");
    let t = s.ok("evolve_timeline", json!({ "chain": sandbox() }));
    assert_eq!(t["due"], 2);
    assert_eq!(t["now"].as_i64(), Some(now));
    let evolved = s.ok("evolve_due", json!({ "chain": sandbox(), "onEvent": CHANNEL }));
    assert_eq!(evolved["evolved"].as_array().unwrap().len(), 2);
    assert!(take(&events).iter().any(|e| e["phase"] == "evolve"));
    let again = s.ok("evolve_due", json!({ "chain": sandbox(), "onEvent": CHANNEL }));
    assert!(again["evolved"].as_array().unwrap().is_empty(), "nothing evolves twice");
    // Stage 2 is the creator's trigger: not due, the button does it.
    let t = s.ok("evolve_timeline", json!({ "chain": sandbox() }));
    assert_eq!(t["due"], 0);
    assert!(t["nfts"].as_array().unwrap().iter().all(|n| n["stage"] == 1 && n["next"]["due_at"].is_null()));
    let (kind, message) = s.err("evolve_trigger", json!({ "chain": sandbox(), "index": 0, "toStage": 7 }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("does not exist"), "{message}");
    let trig = s.ok("evolve_trigger", json!({ "chain": sandbox(), "index": 0, "toStage": 2 }));
    assert_eq!(trig["evolved"][0]["to_stage"], 2);
    std::fs::remove_file(dir.join("build/stage-2/images/1.png")).unwrap();
    let t = s.ok("evolve_timeline", json!({ "chain": sandbox() }));
    assert_eq!(t["nfts"][0]["stage"], 2);
    assert_eq!(t["nfts"][0]["next"], Value::Null, "the last stage");
    assert_eq!(t["nfts"][0]["image"]["path"], "build/stage-2/images/0.png");
    assert_eq!(t["nfts"][0]["next_image"], Value::Null, "no stage after the last");
    assert_eq!(t["nfts"][1]["stage"], 1);
    // An image that is not on this computer says so, in the row and from stage_image.
    assert_eq!(t["nfts"][1]["next_image"]["exists"], false);
    assert_eq!(s.err("stage_image", json!({ "stage": 2, "index": 1 })).0, "notFound");

    // Royalties: a simulated sale pays the vault, distribution pays the creator.
    let shown = s.ok("royalties_show", json!({ "chain": sandbox() }));
    assert_eq!(shown["report"]["royalty_bps"], 1000);
    assert_eq!(shown["report"]["creators"][0]["address"], "AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf");
    assert_eq!(shown["report"]["creators"][0]["share_bps"], 10_000);
    assert!(shown["history"].as_array().unwrap().is_empty());
    let paid = s.ok("royalties_pay", json!({ "chain": sandbox(), "lamports": 50_000_000 }));
    assert_eq!(paid["report"]["paid_in"], 50_000_000);
    assert_eq!(paid["report"]["unsplit"].as_u64(), Some(50_000_000));
    let dist = s.ok("royalties_distribute", json!({ "chain": sandbox() }));
    assert_eq!(dist["report"]["distributed"], 50_000_000);
    assert_eq!(dist["report"]["unsplit"], 0);
    let history = dist["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0]["kind"].as_str(), history[0]["status"].as_str()), (Some("distribution"), Some("done")));
    assert_eq!((history[1]["kind"].as_str(), history[1]["lamports"].as_u64()), (Some("payment"), Some(50_000_000)));

    // Verify one NFT end to end.
    let v = s.ok("verify_nft", json!({ "chain": sandbox(), "mint": first_mint }));
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["stage"], 2);
    // Something that is not one of our NFTs never verifies.
    match s.call("verify_nft", json!({ "chain": sandbox(), "mint": "11111111111111111111111111111111" })) {
        Ok(r) => assert_eq!(r["ok"], false, "{r}"),
        Err(e) => assert!(!e["message"].as_str().unwrap().is_empty()),
    }
}

/// Cancelling a publish mid-way leaves a resumable project: the status says "partial", and
/// running it again keeps every image already made.
#[test]
fn a_cancelled_publish_resumes_where_it_stopped() {
    use chrysalis_studio::AppState;
    use tauri::Manager;

    let tmp = tempfile::tempdir().unwrap();
    let events = Arc::new(Mutex::new(Vec::<Value>::new()));
    let sink = events.clone();
    let pressed = std::sync::atomic::AtomicBool::new(false);
    let s = studio_with(
        AppState::with_secrets(Box::new(MemoryStore::default())),
        Arc::new(move |webview, v| {
            // The user presses Cancel once, when the second image is made.
            if v["phase"] == "generate"
                && v["step"].as_u64() == Some(2)
                && !pressed.swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                assert!(webview.state::<AppState>().cancel_job(), "a job is running");
            }
            sink.lock().unwrap().push(v);
        }),
    );
    let dir = tmp.path().join("tiny");
    new_project(&s, &dir);
    std::fs::write(dir.join("collection.toml"), TINY_SPEC).unwrap();
    let request = json!({ "backend": "local", "endpoint": null, "arweave_wallet": null, "layout": null });
    let (kind, _) = s.err("publish_run", json!({ "request": request, "onEvent": CHANNEL }));
    assert_eq!(kind, "cancelled");
    let status = s.ok("publish_status", json!({}));
    assert_eq!(status["complete"], false);
    assert!(status["pins"].as_array().unwrap().is_empty(), "stopped before pinning: {status}");
    let made = std::fs::read_dir(dir.join("build/stage-0/images")).map(|d| d.count()).unwrap_or(0)
        + std::fs::read_dir(dir.join("build/stage-1/images")).map(|d| d.count()).unwrap_or(0);
    assert!((2..6).contains(&made), "{made} images before the cancel took effect");
    // The job is over: the next command is not refused as busy, and it resumes.
    take(&events);
    let report = s.ok("publish_run", json!({ "request": request, "onEvent": CHANNEL }));
    assert_eq!(report["generate"]["reused"].as_u64(), Some(made as u64), "{report}");
    assert_eq!(report["generate"]["generated"].as_u64(), Some(6 - made as u64));
    assert_eq!(s.ok("publish_status", json!({}))["complete"], true);
}

/// Several machines, as the Publish screen does it: export two shard jobs, open each job
/// folder and "Generate this shard", reopen the project, inspect and import each folder with
/// progress, then publish: the CIDs equal a project that made everything itself.
#[test]
fn shard_jobs_export_run_and_import_to_the_single_machine_cids() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, events) = studio();
    let request = json!({ "backend": "local", "endpoint": null, "arweave_wallet": null, "layout": "v0" });
    let cids = |report: &Value| -> Vec<(Value, Value)> {
        report["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|st| (st["images_cid"].clone(), st["metadata_cid"].clone()))
            .collect()
    };
    let single = tmp.path().join("single");
    new_project(&s, &single);
    std::fs::write(single.join("collection.toml"), TINY_SPEC).unwrap();
    let expected = cids(&s.ok("publish_run", json!({ "request": request, "onEvent": CHANNEL })));

    let home = tmp.path().join("home");
    new_project(&s, &home);
    std::fs::write(home.join("collection.toml"), TINY_SPEC).unwrap();
    assert_eq!(s.ok("shard_job", json!({})), Value::Null, "a project of its own is no job");
    let dest = tmp.path().join("jobs");
    let (kind, message) = s.err("shard_export", json!({ "dest": path_arg(&dest), "count": 3 }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("choose from 1 to 2"), "{message}");
    let (kind, _) = s.err("shard_export", json!({ "dest": "jobs", "count": 2 }));
    assert_eq!(kind, "invalidInput", "a relative folder");
    let export = s.ok("shard_export", json!({ "dest": path_arg(&dest), "count": 2 }));
    let jobs = export["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 2);
    let (kind, message) = s.err("shard_run", json!({ "onEvent": CHANNEL }));
    assert_eq!(kind, "notReady");
    assert!(message.contains("not a shard job folder"), "{message}");

    // "Another machine": the app opens each job folder and makes its shard.
    for (k, job) in jobs.iter().enumerate() {
        s.ok("open_project", json!({ "dir": job["dir"] }));
        let manifest = s.ok("shard_job", json!({}));
        assert_eq!(manifest["shard"], json!({ "index": k, "count": 2 }));
        assert_eq!(manifest["images"], 3);
        let (kind, message) = s.err("publish_run", json!({ "request": request, "onEvent": CHANNEL }));
        assert_eq!(kind, "invalidInput");
        assert!(message.contains("shard job"), "{message}");
        take(&events);
        let report = s.ok("shard_run", json!({ "onEvent": CHANNEL }));
        assert_eq!(report["generate"]["generated"], 3, "{report}");
        assert!(take(&events).iter().any(|e| e["phase"] == "generate"), "progress streamed");
    }

    // Back home: inspect, then import with progress.
    s.ok("open_project", json!({ "dir": path_arg(&home) }));
    for (k, job) in jobs.iter().enumerate() {
        let check = s.ok("shard_inspect", json!({ "dir": job["dir"] }));
        assert_eq!((check["found"].as_u64(), check["expected"].as_u64()), (Some(3), Some(3)), "{check}");
        assert_eq!(check["problem"], Value::Null, "{check}");
        take(&events);
        let report = s.ok("shard_import", json!({ "dir": job["dir"], "onEvent": CHANNEL }));
        assert_eq!(report["shard"]["index"], k);
        assert_eq!((report["imported"].as_u64(), report["missing"].as_u64()), (Some(3), Some(0)), "{report}");
        assert_eq!(report["refused"], json!([]));
        assert!(!take(&events).is_empty(), "progress streamed");
    }
    // The Publish screen counts them against the plan: all made, nothing pinned yet.
    let status = s.ok("publish_status", json!({}));
    assert_eq!((status["planned"]["items"].as_u64(), status["images_ready"].as_u64()), (Some(2), Some(6)), "{status}");
    let report = s.ok("publish_run", json!({ "request": request, "onEvent": CHANNEL }));
    assert_eq!(report["generate"]["generated"], 0, "every image came from a job");
    assert_eq!(cids(&report), expected, "merged = single machine");

    // A project of the same spec made by hand (no shard.json) imports too: all there already.
    let report = s.ok("shard_import", json!({ "dir": path_arg(&single), "onEvent": CHANNEL }));
    assert_eq!((report["shard"].clone(), report["already"].as_u64()), (Value::Null, Some(6)), "{report}");
    // A folder of another collection is shown as such, and refused on import.
    std::fs::write(single.join("collection.toml"), TINY_SPEC.replace("seed = 3", "seed = 4")).unwrap();
    let check = s.ok("shard_inspect", json!({ "dir": path_arg(&single) }));
    assert!(check["problem"].as_str().unwrap().contains("another collection.toml"), "{check}");
    let (kind, message) = s.err("shard_import", json!({ "dir": path_arg(&single), "onEvent": CHANNEL }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("another collection.toml"), "{message}");
}
