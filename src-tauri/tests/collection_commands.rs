//! The Collection screen's commands (src/collection.rs) on Tauri's mock runtime, called the
//! way the UI calls them.

mod support;

use std::sync::Arc;

use chrysalis_studio::AppState;
use chrysalis_studio::secrets::MemoryStore;
use serde_json::json;
use support::{Studio, path_arg, studio_with};

const DEMO: &str = include_str!("../../assets/demo/collection.toml");
const EXAMPLE: &str = include_str!("../../assets/collection.example.toml");

fn studio() -> Studio {
    studio_with(AppState::with_secrets(Box::new(MemoryStore::default())), Arc::new(|_, _| {}))
}

fn open_project(app: &Studio, dir: &std::path::Path) {
    app.ok("create_project", json!({ "dir": path_arg(dir), "name": "Moths" }));
}

#[test]
fn load_needs_a_project_and_starts_from_the_demo_template() {
    let app = studio();
    let (kind, _) = app.err("collection_load", json!({}));
    assert_eq!(kind, "noProject");

    let tmp = tempfile::tempdir().unwrap();
    open_project(&app, &tmp.path().join("p"));
    let doc = app.ok("collection_load", json!({}));
    assert_eq!(doc["exists"], false);
    // The demo collection, paying the project's own (Sandbox) wallet instead of the demo's
    // stranger.
    let own = chrysalis_chain::wallet::read_keypair(&tmp.path().join("p/keys/artist.json")).unwrap();
    let own = chrysalis_chain::Signer::pubkey(&own).to_string();
    let stranger = chrysalis_core::collection::CollectionSpec::from_toml(DEMO).unwrap().creators[0].address.clone();
    assert_eq!(doc["text"], DEMO.replacen(&stranger, &own, 1));
    assert_eq!(doc["spec"]["size"], 12);
    assert_eq!(doc["problems"], json!([]));
    assert!(doc["path"].as_str().unwrap().ends_with("collection.toml"));
}

#[test]
fn save_writes_the_text_as_is_and_load_reads_it_back() {
    let app = studio();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    open_project(&app, &dir);
    // Saved even with a problem (nothing typed is lost), and the problem is reported.
    let text = DEMO.replace("royalty_bps = 500", "royalty_bps = 20000");
    let doc = app.ok("collection_save", json!({ "text": text }));
    assert_eq!(doc["exists"], true);
    assert_eq!(std::fs::read_to_string(dir.join("collection.toml")).unwrap(), text);
    assert_eq!(doc["problems"][0]["path"], "royalty_bps");
    let back = app.ok("collection_load", json!({}));
    assert_eq!(back["text"], text);
    assert_eq!(back["exists"], true);
    assert!(!dir.join("collection.toml.saving").exists());
}

#[test]
fn check_reports_parse_errors_field_problems_and_engine_problems() {
    let app = studio();
    let text = DEMO.replace("size = 12", "size = 12\ncolour = 1");
    let line = text.lines().position(|l| l.starts_with("colour")).unwrap() + 1;
    let doc = app.ok("collection_check", json!({ "text": text }));
    assert_eq!(doc["parse_error"]["line"], line, "{doc}");
    assert!(doc["parse_error"]["message"].as_str().unwrap().contains("colour"));
    assert!(doc["spec"].is_null());

    let doc = app.ok("collection_check", json!({ "text": DEMO.replace("share_bps = 10000", "share_bps = 9500") }));
    assert_eq!(
        doc["problems"],
        json!([{ "path": "creators", "message": "shares sum to 9 500 bps, they must sum to 10 000 (100 %)" }])
    );

    // The art crate's own checks: a parameter out of range and an unknown style.
    let doc = app.ok("collection_check", json!({ "text": DEMO.replace("roots = 4", "roots = 40") }));
    let p = &doc["problems"][0];
    assert_eq!(p["path"], "traits[1].values[2].params", "{doc}");
    assert!(p["message"].as_str().unwrap().contains("roots"), "{doc}");
    let doc = app.ok("collection_check", json!({ "text": DEMO.replace("style = \"growth\"", "style = \"gloop\"") }));
    assert_eq!(doc["problems"][0]["path"], "art", "{doc}");
    assert!(doc["problems"][0]["message"].as_str().unwrap().contains("gloop"), "{doc}");
}

#[test]
fn render_turns_a_form_edit_back_into_toml_keeping_comments_and_key_order() {
    let app = studio();
    let mut spec = app.ok("collection_check", json!({ "text": DEMO }))["spec"].clone();
    spec["size"] = json!(13);
    spec["creators"][0]["share_bps"] = json!(9000);
    let doc = app.ok("collection_render", json!({ "text": DEMO, "spec": spec }));
    let text = doc["text"].as_str().unwrap();
    // Exactly the two edited values changed: every comment, key and blank line is where it was.
    let expected = DEMO.replacen("size = 12", "size = 13", 1).replacen("share_bps = 10000", "share_bps = 9000", 1);
    assert_eq!(text, expected);
    assert_eq!(doc["spec"]["size"], 13);
    let paths: Vec<&str> = doc["problems"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"creators") && paths.contains(&"traits[0].values"), "{doc}");

    // A value the form removed is removed; one it added goes with its table's other keys.
    let mut spec = doc["spec"].clone();
    spec["traits"][0]["values"][0]["count"] = json!(null);
    spec["external_url"] = json!("https://example.org/moths");
    let doc = app.ok("collection_render", json!({ "text": text, "spec": spec }));
    let text = doc["text"].as_str().unwrap();
    assert!(text.contains(r#"{ value = "Moth Night", params = { palette = 0 } },"#), "{text}");
    assert!(text.contains("external_url = \"https://example.org/moths\"\n\n[[creators]]"), "{text}");
    let comments =
        |t: &str| t.lines().filter(|l| l.trim_start().starts_with('#')).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(comments(text), comments(DEMO));
    assert!(doc["spec"]["traits"][0]["values"][0].get("count").is_none(), "{doc}");

    // The text must come with the spec.
    assert!(app.call("collection_render", json!({ "spec": doc["spec"] })).is_err());
}

#[test]
fn plan_reports_quotas_uniqueness_and_conflicts() {
    let app = studio();
    let report = app.ok("collection_plan", json!({ "text": EXAMPLE }));
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["unique"], true);
    assert_eq!(report["items"].as_array().unwrap().len(), 1000);
    for q in report["quotas"].as_array().unwrap() {
        assert_eq!(q["asked"], q["got"]);
    }
    assert_eq!(report["stages"][1]["unlock"], json!({ "kind": "after_mint", "seconds": 86400 }));
    assert_eq!(report["price_lamports"], 500_000_000u64);

    // 4 palettes x 3 roots x 2 tempers, less Ember with Single: 22 combinations for 40 items.
    let text = DEMO
        .replace("size = 12", "size = 40")
        .replace("count = 3", "count = 10")
        .replace("{ value = \"Single\", count = 4", "{ value = \"Single\", count = 14")
        .replace("count = 4", "count = 13")
        .replace("count = 6", "count = 20");
    let report = app.ok("collection_plan", json!({ "text": text }));
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["conflicts"][0]["kind"], "too_few_combinations", "{report}");

    let report = app.ok("collection_plan", json!({ "text": "size = " }));
    assert_eq!(report["ok"], false);
    assert!(report["parse_error"]["line"].as_u64().unwrap() >= 1);
}

#[test]
fn preview_draws_every_stage_of_an_item() {
    let app = studio();
    let previews = app.ok("collection_preview", json!({ "text": DEMO, "index": 3 }));
    let previews = previews.as_array().unwrap();
    assert_eq!(previews.len(), 3);
    let names: Vec<&str> = previews.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Seedling", "Grown", "Blossom"]);
    for p in previews {
        assert!(p["data_url"].as_str().unwrap().starts_with("data:image/png;base64,"));
        assert_eq!((p["width"].as_u64(), p["height"].as_u64()), (Some(256), Some(256)));
    }
    assert_ne!(previews[0]["data_url"], previews[2]["data_url"], "stages differ");

    let (kind, message) = app.err("collection_preview", json!({ "text": DEMO, "index": 12 }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("no item #13"), "{message}");
    let (kind, _) = app.err("collection_preview", json!({ "text": "nope", "index": 0 }));
    assert_eq!(kind, "invalidInput");
}
