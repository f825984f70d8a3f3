//! Fuzz targets for the files the storage crate reads from users: Arweave JWK wallets
//! (`Wallet::from_jwk`) and CAR files (`car::verify_file`, `LocalStore::import_car`, then
//! reading what was imported). The harness and its settings are in
//! `crates/core/tests/support/fuzz.rs`; `scripts/fuzz.sh` runs every target for minutes.

#[path = "../../core/tests/support/fuzz.rs"]
mod fuzz;

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use chrysalis_storage::car::{CarReader, CarWriter};
use chrysalis_storage::remote::arweave::wallet::{Wallet, b64url, verify_signature};
use chrysalis_storage::remote::testkit::{ARLOCAL_TEST_WALLET, ARLOCAL_UNFUNDED_WALLET};
use chrysalis_storage::{Cid, Layout, LocalStore, block, car};
use fuzz::{Edits, Input, check_message, edits, fuzz, input, json_input, write_json};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde_json::Value;
use sha2::{Digest, Sha256};

// ------------------------------------------------------------------------------ JWK wallets

const JWK_TOKENS: &[&str] =
    &["kty", "RSA", "EC", "n", "e", "d", "p", "q", "dp", "dq", "qi", "AQAB", "AA", "AQ", "Ag", "_-", "=", "=="];

const FIELDS: [&str; 5] = ["n", "e", "d", "p", "q"];

/// What one of a JWK's numbers is replaced by: another field's, a small number, random bytes
/// or a broken base64url text: the paths into the RSA key checks rather than the JSON reader.
#[derive(Debug, Clone)]
enum Component {
    Other(Index),
    Small(u8),
    Random(Vec<u8>),
    Text(&'static str),
}

fn component() -> impl Strategy<Value = Component> {
    prop_oneof![
        1 => any::<Index>().prop_map(Component::Other),
        2 => any::<u8>().prop_map(Component::Small),
        1 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Component::Random),
        1 => proptest::sample::select(vec!["", "=", "AA==", "!!", "A", "AAAA", "AQAB"]).prop_map(Component::Text),
    ]
}

fn jwk_trees() -> Vec<(&'static str, Value)> {
    vec![
        ("arlocal-test-wallet.json", serde_json::from_str(ARLOCAL_TEST_WALLET).unwrap()),
        ("arlocal-test-wallet-unfunded.json", serde_json::from_str(ARLOCAL_UNFUNDED_WALLET).unwrap()),
    ]
}

fn jwk_inputs() -> BoxedStrategy<Input> {
    let text = input(
        vec![
            ("arlocal-test-wallet.json", ARLOCAL_TEST_WALLET.as_bytes().to_vec()),
            ("arlocal-test-wallet-unfunded.json", ARLOCAL_UNFUNDED_WALLET.as_bytes().to_vec()),
        ],
        JWK_TOKENS,
    );
    let tree = json_input(jwk_trees(), JWK_TOKENS, write_json);
    let trees = jwk_trees();
    let changes = proptest::collection::vec((any::<Index>(), component()), 1..4);
    let components = (any::<Index>(), changes).prop_map(move |(s, parts)| {
        let (name, sample) = &trees[s.index(trees.len())];
        let mut v = sample.clone();
        for (field, part) in &parts {
            let field = FIELDS[field.index(FIELDS.len())];
            let text = match part {
                Component::Other(i) => sample[FIELDS[i.index(FIELDS.len())]].as_str().unwrap().to_string(),
                Component::Small(n) => b64url(&[*n]),
                Component::Random(bytes) => b64url(bytes),
                Component::Text(t) => t.to_string(),
            };
            v[field] = Value::from(text);
        }
        Input { bytes: serde_json::to_vec(&v).unwrap(), how: format!("{name} with components {parts:?}") }
    });
    prop_oneof![2 => text, 2 => tree, 3 => components].boxed()
}

/// A wallet that reads signs, and its signature verifies against its own modulus (Arweave
/// would refuse every transaction otherwise); its address is the modulus' hash.
fn jwk_case(text: &str) -> Result<(), TestCaseError> {
    match Wallet::from_jwk(text) {
        Ok(w) => {
            fuzz::note("read");
            prop_assert_eq!(w.address(), b64url(&Sha256::digest(w.owner())));
            let message = b"chrysalis fuzz";
            match w.sign(message) {
                Ok(sig) => {
                    fuzz::note("signed");
                    prop_assert!(
                        verify_signature(w.owner(), message, &sig),
                        "a wallet that loaded makes signatures its own key does not verify"
                    );
                }
                Err(e) => check_message("Wallet::sign", &e.to_string())?,
            }
            Ok(())
        }
        Err(e) => check_message("Wallet::from_jwk", &e.to_string()),
    }
}

#[test]
fn arweave_jwk() {
    fuzz("arweave_jwk", 300, jwk_inputs(), |input| jwk_case(&input.text()));
}

// ------------------------------------------------------------------------------------ CAR

/// CAR files exported by the store: a one-block raw file, a two-chunk file (v0, dag-pb
/// leaves) and a folder with a subfolder (v0 and v1).
fn car_samples() -> &'static Vec<(&'static str, Vec<u8>)> {
    static SAMPLES: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::at(&tmp.path().join("store")).unwrap();
        let src = tmp.path().join("folder");
        std::fs::create_dir_all(src.join("metadata")).unwrap();
        std::fs::write(src.join("collection.json"), br#"{"name":"Chrysalis Demo"}"#).unwrap();
        for i in 0..3 {
            std::fs::write(src.join(format!("metadata/{i}.json")), format!(r#"{{"index":{i}}}"#)).unwrap();
        }
        std::fs::write(src.join("empty"), b"").unwrap();
        let export = |cid: &Cid| {
            let mut out = Vec::new();
            store.export_car(cid, &mut out).unwrap();
            out
        };
        let big: Vec<u8> = (0..300 * 1024u32).map(|i| (i * 31 % 251) as u8).collect();
        vec![
            ("raw file (v1)", export(&store.add_bytes(b"hello chrysalis", Layout::V1).unwrap().cid)),
            ("file (v0)", export(&store.add_bytes(b"hello chrysalis", Layout::V0).unwrap().cid)),
            ("two-chunk file (v0)", export(&store.add_bytes(&big, Layout::V0).unwrap().cid)),
            ("folder (v0)", export(&store.add_dir(&src, Layout::V0).unwrap().cid)),
            ("folder (v1)", export(&store.add_dir(&src, Layout::V1).unwrap().cid)),
        ]
    })
}

const CAR_TOKENS: &[&str] = &["roots", "version", "\u{1}", "\u{2}", "\u{12} ", "\u{55}", "\u{70}", "\u{71}", "\u{d8}*"];

/// One block of a sample CAR edited; with `recompute`, its CID is made to match the new
/// bytes again (and it stays a root if it was one), so the damage reaches the dag-pb and
/// UnixFS readers behind the hash check.
#[derive(Debug, Clone)]
struct BlockEdit {
    sample: Index,
    block: Index,
    edits: Edits,
    recompute: bool,
}

fn rebuild(e: &BlockEdit) -> Input {
    let (name, bytes) = &car_samples()[e.sample.index(car_samples().len())];
    let mut reader = CarReader::new(&bytes[..], Path::new("sample.car")).unwrap();
    let mut roots = reader.roots().to_vec();
    let mut blocks = Vec::new();
    while let Some(b) = reader.next_block().unwrap() {
        blocks.push(b);
    }
    let i = e.block.index(blocks.len());
    let b = &mut blocks[i];
    b.data = e.edits.apply(&b.data, CAR_TOKENS);
    if e.recompute {
        let fresh = block::cid_for(b.cid.version(), b.cid.codec(), &b.data);
        for r in roots.iter_mut().filter(|r| **r == b.cid) {
            *r = fresh;
        }
        b.cid = fresh;
    }
    let mut out = Vec::new();
    let mut w = CarWriter::new(&mut out, &roots).unwrap();
    for b in &blocks {
        w.write_block(&b.cid, &b.data).unwrap();
    }
    w.finish();
    Input { bytes: out, how: format!("{name}, block {i} edited ({e:?})") }
}

fn car_inputs() -> BoxedStrategy<Input> {
    let whole = input(car_samples().clone(), CAR_TOKENS);
    let blocks = (any::<Index>(), any::<Index>(), edits(), prop_oneof![1 => Just(false), 4 => Just(true)])
        .prop_map(|(sample, block, edits, recompute)| rebuild(&BlockEdit { sample, block, edits, recompute }));
    prop_oneof![whole, blocks].boxed()
}

/// Verifies and imports the CAR into a fresh store, then reads every root back the ways the
/// CLI and verify do (resolve, ls, cat, walk); everything either works or says why.
fn car_case(bytes: &[u8]) -> Result<(), TestCaseError> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("input.car");
    std::fs::write(&path, bytes).unwrap();
    let verified = car::verify_file(&path);
    let store = LocalStore::at(&tmp.path().join("store")).unwrap();
    let imported = match store.import_car(&path) {
        Ok(i) => i,
        Err(e) => {
            prop_assert!(verified.is_err(), "verify_file passed a CAR that import_car refused: {}", e);
            return check_message("import_car", &e.to_string());
        }
    };
    fuzz::note("imported");
    let verified =
        verified.map_err(|e| TestCaseError::fail(format!("import_car took a CAR that verify_file refused: {e}")))?;
    prop_assert_eq!(imported.blocks, verified.blocks);
    prop_assert_eq!(&imported.roots, &verified.roots);
    for root in &imported.roots {
        let r = root.to_string();
        let text = |e: &dyn std::fmt::Display| e.to_string();
        let reads = [
            store.get(&r).map(drop).map_err(|e| text(&e)),
            store.ls(&r).map(drop).map_err(|e| text(&e)),
            store.dag_cids(root).map(drop).map_err(|e| text(&e)),
            store.cat(&r).map_err(|e| text(&e)).and_then(|f| {
                let mut sink = Vec::new();
                f.take(4 << 20).read_to_end(&mut sink).map(drop).map_err(|e| text(&e))
            }),
        ];
        let mut any_ok = false;
        for read in reads {
            match read {
                Ok(()) => any_ok = true,
                Err(e) => check_message("reading an imported root", &e)?,
            }
        }
        if any_ok {
            fuzz::note("root read");
        }
    }
    Ok(())
}

#[test]
fn car_import() {
    fuzz("car_import", 150, car_inputs(), |input| car_case(&input.bytes));
}
