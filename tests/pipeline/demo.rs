//! The whole demo flow, library-level and through the `chrysalis` binary, then `verify` on
//! every NFT and on each kind of tampering: image bytes, metadata bytes, a recipe that is
//! not the one committed on chain, a stage root that does not match, and an image whose
//! bytes are consistent with its CID but are not what its recipe makes.

use std::fs;
use std::path::Path;

use chrysalis::merkle::ItemTree;
use chrysalis::state::{Stage, UnlockRule};
use chrysalis_art::png_meta;
use chrysalis_chain::client;
use chrysalis_chain::program::{CollectionArgs, CreatorShare};
use chrysalis_chain::{Keypair, Pubkey, Signer};
use chrysalis_core::collection::metadata;
use chrysalis_core::{CancelToken, Recipe};
use chrysalis_pipeline::chain::{Chain, ChainOptions};
use chrysalis_pipeline::demo::{self, DEMO_SALE_LAMPORTS};
use chrysalis_pipeline::verify::{self, CheckStatus, Sources, VerifyReport};
use chrysalis_pipeline::{Phase, PipelineEvent};
use chrysalis_storage::{Cid, Layout, LocalStore};
use chrysalis_tests::SOL;
use chrysalis_tests::chrysalis_bin;

const CREATOR: &str = "AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf";

fn verify_mint(root: &Path, mint: &Pubkey) -> VerifyReport {
    let chain = Chain::open(root, &ChainOptions::default()).unwrap();
    let store = LocalStore::open(root).unwrap();
    let sources = Sources { store: Some(&store), gateway: None, model_dir: None };
    verify::verify(&chain, mint, &sources, &mut |_| {}, &CancelToken::new()).unwrap()
}

/// The first failed check's name (panics when nothing failed).
fn failed_check(r: &VerifyReport) -> (String, String) {
    assert!(!r.ok, "verification should have failed: {r:#?}");
    let c = r.checks.iter().find(|c| c.status == CheckStatus::Fail).expect("a failed check");
    (c.name.clone(), c.detail.clone())
}

/// Flips one byte of `block`'s file in the store, returning the original bytes.
fn corrupt_block(store: &LocalStore, cid: &Cid) -> Vec<u8> {
    let path = store.block_path(cid);
    let original = fs::read(&path).unwrap();
    let mut bad = original.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    fs::write(&path, bad).unwrap();
    original
}

#[derive(Clone, Copy, Debug)]
enum Forgery {
    /// The image is swapped for other pixels carrying the same recipe (consistent CIDs).
    Image,
    /// The metadata's recipe is changed (and its recipe_hash with it).
    Recipe,
    /// The stage's on-chain content root does not match its metadata folder.
    StageRoot,
    /// The name on chain is not the one the metadata JSON gives.
    Name,
    /// The metadata's item proof does not lead from the minted recipe to the committed root.
    Proof,
}

/// A one-item, one-stage collection built from the demo's stage-0 item 0 with one forgery,
/// published to the project's store and minted with item 0's true stage-0 recipe hash.
fn forge(root: &Path, forgery: Forgery) -> Pubkey {
    let chain = Chain::open(root, &ChainOptions::default()).unwrap();
    let wallet = chain.wallet(Some(root), None).unwrap();
    let store = LocalStore::open(root).unwrap();
    let work = tempfile::tempdir().unwrap();
    let (images, metas) = (work.path().join("images"), work.path().join("metadata"));
    fs::create_dir_all(&images).unwrap();
    fs::create_dir_all(&metas).unwrap();
    let png = fs::read(root.join("build/stage-0/images/0.png")).unwrap();
    let recipe: Recipe = png_meta::recipe_from_png(&png).unwrap();
    let true_hash = recipe.hash().0;
    let png = match forgery {
        Forgery::Image => {
            let mut img = png_meta::decode_rgb(&png, "demo image").unwrap();
            for p in img.pixels_mut().take(5000) {
                p.0 = [255 - p.0[0], p.0[1], p.0[2]];
            }
            png_meta::encode_png(&img, &recipe).unwrap()
        }
        _ => png,
    };
    fs::write(images.join("0.png"), &png).unwrap();
    let images_cid = store.add_dir(&images, Layout::V0).unwrap().cid;
    let mut meta: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("build/stage-0/metadata/0.json")).unwrap()).unwrap();
    meta["image"] = format!("ipfs://{images_cid}/0.png").into();
    // The forged collection's own item table: item 0 with its true recipe.
    let items = ItemTree::new(&[true_hash]).unwrap();
    metadata::set_item_commitment(&mut meta, &items.root(), &items.proof(0).unwrap());
    if let Forgery::Proof = forgery {
        meta["chrysalis"]["item_proof"] = serde_json::json!(["ab".repeat(32)]);
    }
    if let Forgery::Recipe = forgery {
        let mut r = recipe.clone();
        r.seed += 1;
        meta["chrysalis"]["recipe"] = serde_json::to_value(&r).unwrap();
        meta["chrysalis"]["recipe_hash"] = r.hash().to_string().into();
    }
    fs::write(metas.join("0.json"), serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
    let meta_cid = store.add_dir(&metas, Layout::V0).unwrap().cid;
    let mut content_root = [0u8; 32];
    content_root.copy_from_slice(meta_cid.hash().digest());
    if let Forgery::StageRoot = forgery {
        content_root[0] ^= 1;
    }
    let group = Keypair::new();
    // The on-chain name is "<collection> #1" for index 0: take the JSON's, unless the
    // forgery is the name itself.
    let json_name = meta["name"].as_str().unwrap().trim_end_matches(" #1").to_string();
    let name = if let Forgery::Name = forgery { "Forged".to_string() } else { json_name };
    let args = CollectionArgs {
        name,
        symbol: meta["symbol"].as_str().unwrap().to_string(),
        uri: "ipfs://forged".into(),
        creators: vec![CreatorShare { address: wallet.pubkey(), share_bps: 10_000 }],
        royalty_bps: 0,
        price: 0,
        max_supply: 1,
    };
    let created = client::create_collection(chain.ledger(), &wallet, &group, &args).unwrap();
    let stage = Stage { rule: UnlockRule::AfterMint(0), base_uri: format!("ipfs://{meta_cid}/"), content_root };
    client::add_stage(chain.ledger(), &wallet, &created.collection, 0, &stage).unwrap();
    client::commit_items(chain.ledger(), &wallet, &created.collection, items.root()).unwrap();
    client::mint_nft(chain.ledger(), &wallet, &created.collection, 0, true_hash, &items.proof(0).unwrap(), false)
        .unwrap()
        .mint
}

#[test]
fn demo_publishes_mints_evolves_pays_and_verifies_then_refuses_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    let mut phases = Vec::new();
    let mut on = |e: &PipelineEvent| {
        if phases.last() != Some(&e.phase) {
            phases.push(e.phase);
        }
    };
    let started = std::time::Instant::now();
    let r = demo::demo(&root, &mut on, &CancelToken::new()).expect("the demo runs");
    eprintln!("library demo: {:?}", started.elapsed());
    for p in [
        Phase::Plan,
        Phase::Generate,
        Phase::Metadata,
        Phase::Pin,
        Phase::Collection,
        Phase::Mint,
        Phase::Warp,
        Phase::Evolve,
        Phase::Royalties,
        Phase::Verify,
    ] {
        assert!(phases.contains(&p), "phase {p} reported: {phases:?}");
    }
    assert_eq!(r.publish.mints.len(), 12);
    assert_eq!(r.publish.minted_now, 12);
    assert_eq!(r.publish.stages.len(), 3);
    assert_eq!(r.rows.len(), 12);
    assert!(r.rows.iter().all(|row| row.stage == 2), "every NFT reached its last stage: {:?}", r.rows);
    assert!(
        r.rows.iter().all(|row| row.uri.starts_with(&r.publish.stages[2].base_uri)),
        "URIs point at the last stage"
    );
    assert_eq!(r.evolutions.iter().map(|e| e.evolved.len()).sum::<usize>(), 24, "12 NFTs × 2 evolutions");
    assert_eq!(r.verify.len(), 12);
    for v in &r.verify {
        assert!(v.ok && !v.regenerated_differs, "{v:#?}");
        assert!(v.checks.iter().all(|c| c.status == CheckStatus::Pass), "{v:#?}");
    }
    // 12 mints at 0.1 SOL + a 5 % royalty on a 2 SOL sale, all paid to the one creator.
    let royalty = DEMO_SALE_LAMPORTS / 20;
    assert_eq!(r.royalties.paid_in, Some(royalty));
    assert_eq!(r.royalties.distributed, Some(12 * SOL / 10 + royalty));
    let creator = &r.royalties.creators[0];
    assert_eq!(creator.address, CREATOR);
    assert_eq!(creator.balance, 12 * SOL / 10 + royalty);
    assert_eq!(creator.owed, 0);
    // Running it again redoes nothing: no mint, no evolution, no payment.
    let again = demo::demo(&root, &mut |_| {}, &CancelToken::new()).unwrap();
    assert_eq!(again.publish.minted_now, 0);
    assert_eq!(again.publish.generate.as_ref().unwrap().generated, 0);
    assert!(again.evolutions.iter().all(|e| e.evolved.is_empty()));
    assert_eq!(again.royalties.paid_in, None);
    assert_eq!(again.royalties.creators[0].balance, creator.balance, "nothing paid twice");
    assert!(again.verify.iter().all(|v| v.ok));

    // Tampering with stored bytes: the store verifies every block it reads.
    let mint0: Pubkey = r.rows[0].mint.parse().unwrap();
    let store = LocalStore::open(&root).unwrap();
    let meta_file = store.resolve(&format!("{}/0.json", r.publish.stages[2].metadata_cid)).unwrap();
    let original = corrupt_block(&store, &meta_file);
    let (name, detail) = failed_check(&verify_mint(&root, &mint0));
    assert_eq!(name, "metadata CID", "{detail}");
    fs::write(store.block_path(&meta_file), original).unwrap();
    let image_file = store.resolve(&format!("{}/0.png", r.publish.stages[2].images_cid)).unwrap();
    let leaf = *store.dag_cids(&image_file).unwrap().last().unwrap();
    let original = corrupt_block(&store, &leaf);
    let (name, detail) = failed_check(&verify_mint(&root, &mint0));
    assert_eq!(name, "image CID", "{detail}");
    // Publishing again reconciles with the store (not only its upload journal): the damaged
    // block is found and rewritten from the image file.
    demo::demo(&root, &mut |_| {}, &CancelToken::new()).unwrap();
    assert_eq!(fs::read(store.block_path(&leaf)).unwrap(), original, "the block is repaired");
    assert!(verify_mint(&root, &mint0).ok, "repaired bytes verify again");

    // Forged collections, consistent everywhere but in one place.
    for (forgery, expected) in [
        (Forgery::Recipe, "recipe"),
        (Forgery::StageRoot, "content root"),
        (Forgery::Image, "regenerate"),
        (Forgery::Name, "metadata"),
        (Forgery::Proof, "item commitment"),
    ] {
        let mint = forge(&root, forgery);
        let (name, detail) = failed_check(&verify_mint(&root, &mint));
        assert_eq!(name, expected, "{forgery:?}: {detail}");
    }
}

#[test]
fn demo_and_verify_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cli-demo");
    let out = std::process::Command::new(chrysalis_bin!()).args(["--json", "demo"]).arg(&root).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is one JSON report");
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().all(|r| r["verified"] == true && r["stage"] == 2), "{rows:?}");

    // `info --json` tells the collection: address, minted of total, each NFT's stage, and
    // what is owed (read from the sandbox), agreeing with the demo's own report.
    let out = std::process::Command::new(chrysalis_bin!()).args(["info", "--json"]).arg(&root).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info --json is one JSON document");
    assert_eq!(info["name"], "chrysalis-demo", "the project's own fields stay: {info}");
    let c = &info["collections"][0];
    assert_eq!(c["network"], "sandbox", "{info}");
    assert_eq!(c["minted"], 12);
    assert_eq!(c["total"], 12);
    let nfts = c["nfts"].as_array().unwrap();
    assert_eq!(nfts.len(), 12);
    assert!(nfts.iter().all(|n| n["stage"] == 2), "every NFT evolved to stage 2: {nfts:?}");
    assert_eq!(nfts[3]["mint"], rows[3]["mint"]);
    let owed: u64 = c["royalties"]["creators"].as_array().unwrap().iter().map(|c| c["owed"].as_u64().unwrap()).sum();
    assert_eq!(c["royalties"]["collection"], c["collection"]);
    assert!(c["royalties"]["vault_balance"].as_u64().unwrap() >= owed, "{c}");
    let text = std::process::Command::new(chrysalis_bin!()).arg("info").arg(&root).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("12 of 12") && text.contains("12 at stage 2") && text.contains("SOL to"), "{text}");

    let mint = rows[3]["mint"].as_str().unwrap();
    let verify = |expect: i32| {
        let out = std::process::Command::new(chrysalis_bin!())
            .args(["verify", mint, "--project"])
            .arg(&root)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(expect), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
        text
    };
    let ok = verify(0);
    assert!(ok.contains("✓ regenerate") && ok.contains("verified"), "{ok}");

    // Tamper with the image behind it: refused, with the reason, exit status 1.
    let store = LocalStore::open(&root).unwrap();
    let images_cid = json["publish"]["stages"][2]["images_cid"].as_str().unwrap();
    let file = store.resolve(&format!("{images_cid}/3.png")).unwrap();
    let leaf = *store.dag_cids(&file).unwrap().last().unwrap();
    corrupt_block(&store, &leaf);
    let bad = verify(1);
    assert!(bad.contains("✗ image CID") && bad.contains("FAILED"), "{bad}");
}

/// `chrysalis demo` warps the clock, evolves and pays without asking: it refuses a folder
/// with files that is not a project, and a project that is not the demo's, changing nothing.
/// A new, an empty or an existing demo folder is fine.
#[test]
fn demo_refuses_folders_that_are_not_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let run = |folder: &Path| std::process::Command::new(chrysalis_bin!()).arg("demo").arg(folder).output().unwrap();

    let papers = dir.path().join("papers");
    std::fs::create_dir(&papers).unwrap();
    std::fs::write(papers.join("taxes.txt"), "keep me").unwrap();
    let out = run(&papers);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not empty") && stderr.contains("chrysalis demo NEW-FOLDER"), "{stderr}");
    let names: Vec<_> = std::fs::read_dir(&papers).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["taxes.txt"], "nothing was added to the folder");

    let mine = dir.path().join("mine");
    let spec = chrysalis_tests::small_spec("Mine", 6, 1, 64, "0", &Pubkey::new_unique());
    chrysalis_tests::project_with_spec(&mine, &spec);
    let out = run(&mine);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not the demo's"), "{stderr}");
    assert!(!mine.join("sandbox").exists() && !mine.join("build").exists(), "nothing was run in the user's project");
    assert_eq!(std::fs::read_to_string(mine.join("collection.toml")).unwrap(), spec);

    // New and empty folders become demo projects, and a demo project opens again.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    demo::demo_project(&empty).unwrap();
    demo::demo_project(&empty).unwrap();
    demo::demo_project(&dir.path().join("new")).unwrap();
}
