//! The local store: add, resolve through folders and HAMT shards, stream, verify, CAR.

use std::fs;
use std::io::Read;
use std::path::Path;

use chrysalis_storage::testdata::{PseudoRandom, write_file, write_folder};
use chrysalis_storage::{EntryKind, Importer, Layout, LocalStore, StorageError, car, cid_of_dir, cid_of_file};

fn count_blocks(store: &LocalStore) -> usize {
    fn walk(dir: &Path) -> usize {
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).map(|p| if p.is_dir() { walk(&p) } else { 1 }).sum()
    }
    walk(&store.root().join("blocks"))
}

fn stage_folder(dir: &Path) {
    write_folder(&dir.join("images"), 3, |i| 300 * 1024 * (i as u64 + 1)).unwrap();
    write_folder(&dir.join("metadata"), 5000, |i| 100 + i as u64).unwrap();
    write_file(&dir.join("collection.json"), 1, 512).unwrap();
}

#[test]
fn add_resolve_cat_for_every_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("stage-0");
    stage_folder(&src);
    let store = LocalStore::open(&tmp.path().join("project")).unwrap();
    for layout in Layout::ALL {
        let added = store.add_dir(&src, layout).unwrap();
        assert_eq!(added.cid, cid_of_dir(&src, layout).unwrap().cid, "the store and cid_of_dir agree");
        assert_eq!(added.layout, layout);
        assert_eq!(added.kind, EntryKind::Directory);
        assert_eq!(added.files, 5004);

        // through a plain directory, then a HAMT-sharded one (5000 entries)
        let root = added.cid.to_string();
        let meta = store.get(&format!("{root}/metadata/04321.json")).unwrap();
        assert_eq!(meta.kind, EntryKind::File);
        assert_eq!(meta.size, 4421);
        assert_eq!(meta.cid, cid_of_file(&src.join("metadata/04321.json"), layout).unwrap().cid);
        let mut bytes = Vec::new();
        store.cat(&format!("ipfs://{root}/metadata/04321.json")).unwrap().read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, fs::read(src.join("metadata/04321.json")).unwrap());

        // a multi-chunk file streams back identical
        let mut bytes = Vec::new();
        let mut reader = store.cat(&format!("/ipfs/{root}/images/00002.json")).unwrap();
        assert_eq!(reader.size(), 900 * 1024);
        reader.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, fs::read(src.join("images/00002.json")).unwrap());

        let listing = store.ls(&format!("{root}/metadata")).unwrap();
        assert_eq!(listing.len(), 5000);
        assert_eq!(listing[0].name, "00000.json");
        assert_eq!(store.get(&format!("{root}/metadata")).unwrap().size, 5000);

        let err = store.get(&format!("{root}/metadata/nope.json")).unwrap_err();
        assert!(matches!(err, StorageError::PathNotFound { .. }), "{err}");
        assert!(err.to_string().contains("nope.json"), "{err}");
        let err = store.cat(&format!("{root}/metadata")).unwrap_err();
        assert!(err.to_string().contains("not a file"), "{err}");
    }
}

#[test]
fn readding_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("stage");
    write_folder(&src, 50, |i| 1000 * i as u64).unwrap();
    let store = LocalStore::open(&tmp.path().join("project")).unwrap();
    let first = store.add_dir(&src, Layout::V1).unwrap();
    let blocks = count_blocks(&store);
    let mut sink = store.sink();
    let again = Importer::new(Layout::V1).sink(&mut sink).add_dir(&src).unwrap();
    assert_eq!(first, again);
    assert_eq!(sink.written, 0, "nothing new is written");
    assert!(sink.present > 0);
    assert_eq!(count_blocks(&store), blocks);
    assert_eq!(fs::read_dir(store.root().join("tmp")).unwrap().count(), 0, "no temporary files are left");
    // the same content under another layout shares its raw leaves
    store.add_dir(&src, Layout::V1_2025).unwrap();
    assert!(count_blocks(&store) < 2 * blocks);
}

#[test]
fn a_corrupt_block_is_an_error_naming_its_cid() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let added = store.add_bytes(b"hello chrysalis", Layout::V0).unwrap();
    let path = store.block_path(&added.cid);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x20;
    fs::write(&path, bytes).unwrap();
    let err = store.get_block(&added.cid).unwrap_err();
    assert!(matches!(err, StorageError::CorruptBlock { .. }), "{err}");
    assert!(err.to_string().contains(&added.cid.to_string()), "{err}");
    let mut out = Vec::new();
    let err = store.cat(&added.cid.to_string()).map(|mut r| r.read_to_end(&mut out)).unwrap_err();
    assert!(err.to_string().contains(&added.cid.to_string()), "{err}");
}

#[test]
fn a_missing_block_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    let cid = chrysalis_storage::cid_of_bytes(b"never added", Layout::V1);
    assert!(!store.has(&cid));
    let err = store.get(&cid.to_string()).unwrap_err();
    assert!(matches!(err, StorageError::BlockMissing { .. }), "{err}");
    let err = store.get("not-a-cid/x").unwrap_err();
    assert!(matches!(err, StorageError::InvalidCid { .. }), "{err}");
}

#[test]
fn car_round_trip_between_stores() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("stage-1");
    stage_folder(&src);
    let a = LocalStore::open(&tmp.path().join("a")).unwrap();
    let added = a.add_dir(&src, Layout::V0).unwrap();
    let car_path = tmp.path().join("stage-1.car");
    let summary = a.export_car_file(&added.cid, &car_path).unwrap();
    assert_eq!(summary.roots, vec![added.cid]);
    assert_eq!(summary.bytes, fs::metadata(&car_path).unwrap().len());
    assert_eq!(summary.blocks as usize, a.dag_cids(&added.cid).unwrap().len());
    assert_eq!(summary.blocks as usize, count_blocks(&a), "the DAG is every block of the store");

    let b = LocalStore::open(&tmp.path().join("b")).unwrap();
    let imported = b.import_car(&car_path).unwrap();
    assert_eq!(imported.roots, vec![added.cid]);
    assert_eq!(imported.new_blocks, summary.blocks);
    let mut bytes = Vec::new();
    b.cat(&format!("{}/images/00001.json", added.cid)).unwrap().read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, fs::read(src.join("images/00001.json")).unwrap());
    // importing again adds nothing
    assert_eq!(b.import_car(&car_path).unwrap().new_blocks, 0);
}

#[test]
fn a_car_with_a_bad_block_is_refused_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let a = LocalStore::open(&tmp.path().join("a")).unwrap();
    let mut data = Vec::new();
    PseudoRandom::new(5, 600_000).read_to_end(&mut data).unwrap();
    let added = a.add_bytes(&data, Layout::V1).unwrap();
    let car_path = tmp.path().join("x.car");
    a.export_car_file(&added.cid, &car_path).unwrap();

    // flip one byte near the end: inside the last leaf
    let mut bytes = fs::read(&car_path).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0xff;
    fs::write(&car_path, &bytes).unwrap();
    let last_leaf = *a.dag_cids(&added.cid).unwrap().last().unwrap();

    let b = LocalStore::open(&tmp.path().join("b")).unwrap();
    let err = b.import_car(&car_path).unwrap_err();
    assert!(matches!(err, StorageError::BadCarBlock { .. }), "{err}");
    assert!(err.to_string().contains(&last_leaf.to_string()), "names the bad block: {err}");
    assert!(!b.has(&added.cid), "nothing was imported");

    // not a CAR at all
    fs::write(&car_path, b"hello, this is not a CAR").unwrap();
    let err = car::verify_file(&car_path).unwrap_err();
    assert!(matches!(err, StorageError::BadCar { .. }), "{err}");
}

#[test]
fn progress_counts_bytes_and_cancel_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("big");
    write_file(&p, 3, 3 * 1024 * 1024).unwrap();
    let mut last = None;
    let mut calls = 0;
    let mut on = |pr: &chrysalis_core::Progress| {
        calls += 1;
        last = Some(pr.clone());
    };
    Importer::new(Layout::V0).on_progress(&mut on).add_file(&p).unwrap();
    let last = last.unwrap();
    assert_eq!((last.step, last.total), (3 * 1024 * 1024, 3 * 1024 * 1024));
    assert!(calls >= 12);

    let token = chrysalis_core::CancelToken::new();
    token.cancel();
    let err = Importer::new(Layout::V0).cancel(&token).add_file(&p).unwrap_err();
    assert!(matches!(err, StorageError::Cancelled(_)), "{err}");
}

#[test]
fn pins_are_recorded_in_the_project_database() {
    let tmp = tempfile::tempdir().unwrap();
    let project = chrysalis_core::Project::create(&tmp.path().join("p"), Some("p")).unwrap();
    let store = LocalStore::open(project.root()).unwrap();
    assert!(project.root().join("store/blocks").is_dir());
    let added = store.add_bytes(b"{\"name\":\"moth #1\"}", Layout::V1).unwrap();
    let pin = chrysalis_storage::pins::record_added(project.db(), "moth-1.json", &added).unwrap();
    assert_eq!(pin.layout, Some(Layout::V1));
    // idempotent
    chrysalis_storage::pins::record_added(project.db(), "moth-1.json", &added).unwrap();
    let all = chrysalis_storage::pins::list(project.db()).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].cid, added.cid);
    assert_eq!(chrysalis_storage::pins::latest(project.db(), "moth-1.json").unwrap().unwrap().cid, added.cid);
    assert!(chrysalis_storage::pins::remove(project.db(), "moth-1.json", &added.cid).unwrap());
}
