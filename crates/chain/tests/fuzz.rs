//! Fuzz target for the file the chain crate reads from users: Solana CLI keypair files
//! (`wallet::parse_keypair`). The harness and its settings are in
//! `crates/core/tests/support/fuzz.rs`; `scripts/fuzz.sh` runs every target for minutes.

#[path = "../../core/tests/support/fuzz.rs"]
mod fuzz;

use std::path::Path;

use chrysalis_chain::wallet::{KEYPAIR_FILE_LEN, keypair_to_json, parse_keypair};
use fuzz::{Input, check_message, fuzz, input, json_input, write_json};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;
use solana_keypair::Keypair;
use solana_signer::Signer;

fn keypair(seed: u8) -> Keypair {
    Keypair::new_from_array([seed; 32])
}

/// Keypair files as `solana-keygen` writes them, and as people hand-edit them (pretty JSON).
fn samples() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for seed in [0u8, 1, 7, 255] {
        let k = keypair(seed);
        out.push(("id.json", keypair_to_json(&k)));
        let v: Value = serde_json::from_str(&keypair_to_json(&k)).unwrap();
        out.push(("id.json (pretty)", serde_json::to_string_pretty(&v).unwrap() + "\n"));
    }
    out
}

const TOKENS: &[&str] = &["[", "]", ",", "256", "-1", "1.0", "1e2", "0x10"];

fn inputs() -> BoxedStrategy<Input> {
    let samples = samples();
    let text = input(samples.iter().map(|(n, t)| (*n, t.clone().into_bytes())).collect(), TOKENS);
    let tree =
        json_input(samples.iter().map(|(n, t)| (*n, serde_json::from_str(t).unwrap())).collect(), TOKENS, write_json);
    // Arrays of byte-ish numbers of any length (the "wrong length" and "wrong half" paths).
    let arrays = proptest::collection::vec(prop_oneof![8 => 0i64..256, 1 => Just(-1i64), 1 => Just(256i64)], 0..80)
        .prop_map(|v| Input { bytes: serde_json::to_vec(&v).unwrap(), how: "array".into() });
    prop_oneof![3 => text, 3 => tree, 1 => arrays].boxed()
}

/// `parse_keypair` returns a keypair whose file reads back as the same bytes, or an error that
/// says something.
fn keypair_case(text: &str) -> Result<(), TestCaseError> {
    match parse_keypair(text, Path::new("id.json")) {
        Ok(k) => {
            fuzz::note("read");
            let json = keypair_to_json(&k);
            let bytes: Vec<u8> = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(bytes.len(), KEYPAIR_FILE_LEN);
            let back = parse_keypair(&json, Path::new("id.json"))
                .map_err(|e| TestCaseError::fail(format!("a keypair we wrote does not read back: {e}")))?;
            prop_assert_eq!(back.pubkey(), k.pubkey());
            let original: Result<Vec<u8>, _> = serde_json::from_str(text);
            prop_assert_eq!(original.ok(), Some(bytes), "the keypair read is not the file's bytes");
            Ok(())
        }
        Err(e) => check_message("parse_keypair", &e.to_string()),
    }
}

#[test]
fn keypair_file() {
    fuzz("keypair_file", 2_000, inputs(), |input| keypair_case(&input.text()));
}
