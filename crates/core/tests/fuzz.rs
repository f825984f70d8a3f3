//! Fuzz targets for the files core reads from users: `collection.toml` (parse, validate,
//! engine-check hook, plan, metadata) and metadata / recipe JSON (as `chrysalis verify` and
//! `Recipe::from_json` read them). See `support/fuzz.rs` for the harness and its settings;
//! `scripts/fuzz.sh` runs every target for minutes.

#[path = "support/fuzz.rs"]
mod fuzz;

use std::collections::BTreeMap;

use chrysalis_core::Recipe;
use chrysalis_core::collection::metadata::canonical_bytes;
use chrysalis_core::collection::{
    ArtSpec, CollectionSpec, PlanError, RecipeContext, item_json_bytes, plan, stage_plans, validate_recipes,
};
use chrysalis_core::recipe::ModelRef;
use fuzz::{Input, check_message, fuzz, input, json_input, write_json};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde::Deserialize;
use serde_json::Value;

const EXAMPLE: &str = include_str!("../../../assets/collection.example.toml");
const DEMO: &str = include_str!("../../../assets/demo/collection.toml");

/// Planning is exercised on collections up to this size; bigger ones are parsed and
/// validated only (planning speed belongs to `benches/plan.rs`, not to a fuzz loop).
const PLAN_MAX_SIZE: u32 = 2_000;

/// The demo collection as a diffusion collection (img2img stages, prompt fragments).
fn diffusion_demo() -> String {
    DEMO.replace(
        "engine = \"procedural\"\nstyle = \"growth\"",
        "engine = \"diffusion\"\nmodel = \"models/tiny\"\nprompt = \"a moth\"\nnegative_prompt = \"blurry\"\nsteps = 4\nguidance = 7.5\nscheduler = \"euler_ancestral\"\ndtype = \"f16\"",
    )
    .replace("growth = 0\n", "")
    .replace("growth = 2", "growth = { img2img = \"wings open\", strength = 0.4 }")
    .replace("growth = 4", "growth = { img2img = \"in flight\", strength = 0.6 }")
    .replace(", params = { palette = 0 }", ", prompt = \"night\"")
    .lines()
    .map(|l| if l.contains("params =") { l.split(", params").next().unwrap().to_string() + " }," } else { l.into() })
    .collect::<Vec<_>>()
    .join("\n")
}

fn model() -> ModelRef {
    ModelRef { name: "tiny".into(), files: BTreeMap::from([("unet/model.safetensors".into(), "ab".repeat(32))]) }
}

fn context(spec: &CollectionSpec) -> RecipeContext {
    let mut ctx = RecipeContext::procedural(1);
    if matches!(spec.art, ArtSpec::Diffusion(_)) {
        ctx.diffusion_engine_version = 1;
        ctx.model = Some(model());
    }
    ctx
}

const TOML_TOKENS: &[&str] = &[
    "name",
    "symbol",
    "description",
    "size",
    "seed",
    "external_url",
    "creators",
    "address",
    "share_bps",
    "royalty_bps",
    "price",
    "art",
    "engine",
    "procedural",
    "diffusion",
    "style",
    "width",
    "height",
    "params",
    "model",
    "prompt",
    "negative_prompt",
    "steps",
    "guidance",
    "scheduler",
    "ddim",
    "euler",
    "dtype",
    "f16",
    "traits",
    "values",
    "value",
    "count",
    "percent",
    "rules",
    "kind",
    "exclude",
    "require",
    "if",
    "then",
    "trait",
    "stages",
    "unlock",
    "mint",
    "after_mint",
    "at",
    "owner",
    "creator",
    "growth",
    "img2img",
    "strength",
    "[[traits]]",
    "[[stages]]",
    "[[rules]]",
    "[[creators]]",
    "[art]",
    "[[traits.values]]",
    "1d",
    "0s",
    "99999999999999999999w",
    "2027-01-01T00:00:00Z",
    "9999-12-31T23:59:60+23:59",
    "0000-01-01T00:00:00-99:99",
    "11111111111111111111111111111111",
    "Stage",
];

fn toml_writer(v: &Value) -> Option<String> {
    toml::to_string(v).ok()
}

/// The sample specs as JSON trees, for tree edits.
fn spec_trees() -> Vec<(&'static str, Value)> {
    let tree = |text: &str| serde_json::to_value(toml::from_str::<toml::Value>(text).expect("sample parses")).unwrap();
    vec![
        ("collection.example.toml", tree(EXAMPLE)),
        ("demo/collection.toml", tree(DEMO)),
        ("diffusion demo", tree(&diffusion_demo())),
    ]
}

fn collection_inputs() -> BoxedStrategy<Input> {
    let text = input(
        vec![
            ("collection.example.toml", EXAMPLE.as_bytes().to_vec()),
            ("demo/collection.toml", DEMO.as_bytes().to_vec()),
            ("diffusion demo", diffusion_demo().into_bytes()),
        ],
        TOML_TOKENS,
    );
    let tree = json_input(spec_trees(), TOML_TOKENS, toml_writer);
    prop_oneof![text, tree].boxed()
}

/// Everything the CLI, the pipeline and the desktop app do with a `collection.toml` before
/// generating: parse, write back, validate, run the engine-check hook, plan, and write each
/// item's metadata. Nothing may panic; errors must say something; what parses must survive
/// `to_toml`; a plan must meet its quotas.
fn collection_case(text: &str) -> Result<(), TestCaseError> {
    let spec = match CollectionSpec::from_toml(text) {
        Ok(spec) => spec,
        Err(e) => return check_message("CollectionSpec::from_toml", &e.to_string()),
    };
    fuzz::note("parsed");
    let written = spec.to_toml();
    let back = CollectionSpec::from_toml(&written)
        .map_err(|e| TestCaseError::fail(format!("to_toml wrote a spec that does not parse: {e}\n{written}")))?;
    prop_assert_eq!(back.to_toml(), written, "to_toml then from_toml changed the spec");
    // The desktop form writes a spec back over the user's file, keeping its comments: the
    // file must then read as that spec, edited or not.
    let mut edited = spec.clone();
    edited.name.push_str(" II");
    edited.royalty_bps = edited.royalty_bps.wrapping_add(1);
    edited.stages.truncate(1);
    for s in [&spec, &edited] {
        let over = s.to_toml_over(text);
        let read = CollectionSpec::from_toml(&over)
            .map_err(|e| TestCaseError::fail(format!("to_toml_over wrote a file that does not parse: {e}\n{over}")))?;
        prop_assert_eq!(read.to_toml(), s.to_toml(), "to_toml_over wrote another spec:\n{}", over);
    }

    let problems = spec.validate();
    for p in &problems {
        check_message("CollectionSpec::validate", &p.message)?;
    }
    let _ = spec.value_counts();
    let _ = spec.price_lamports();
    let _ = stage_plans(&spec);
    let ctx = context(&spec);
    // The pipeline runs the engine's checks before (and whatever) validation says.
    let engine_check = |r: &Recipe| {
        let _ = r.hash();
        r.validate().map_err(|e| e.to_string())
    };
    for p in validate_recipes(&spec, &ctx, &engine_check) {
        check_message("validate_recipes", &p.message)?;
    }
    if !problems.is_empty() || spec.size > PLAN_MAX_SIZE {
        return Ok(());
    }
    fuzz::note("valid");
    match plan(&spec, &ctx) {
        Ok(p) => {
            fuzz::note("planned");
            prop_assert_eq!(p.items.len(), spec.size as usize);
            for q in &p.quotas {
                prop_assert_eq!(q.asked, q.got, "quota of {} = {}", q.trait_type, q.value);
            }
            for item in p.items.iter().take(3) {
                for s in &item.stages {
                    let recipe = s.recipe_with_init(&"cd".repeat(32));
                    let json = item_json_bytes(&spec, item, s.stage, "ipfs://bafy/0.png", &recipe);
                    serde_json::from_slice::<Value>(&json)
                        .map_err(|e| TestCaseError::fail(format!("metadata is not JSON: {e}")))?;
                }
            }
            Ok(())
        }
        Err(e @ (PlanError::Invalid(_) | PlanError::Conflicts(_) | PlanError::ModelMissing(_))) => {
            check_message("plan", &e.to_string())
        }
    }
}

#[test]
fn collection_toml() {
    fuzz("collection_toml", 200, collection_inputs(), |input| collection_case(&input.text()));
}

// ------------------------------------------------------------------ metadata and recipes

/// What `chrysalis verify` reads from an item's metadata (crates/pipeline/src/verify.rs).
#[derive(Deserialize)]
#[allow(dead_code)]
struct MetaDoc {
    image: String,
    chrysalis: MetaChrysalis,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct MetaChrysalis {
    recipe: Recipe,
    recipe_hash: String,
    stage: u32,
}

/// Real metadata documents and recipes: the demo and its diffusion twin, planned.
fn metadata_samples() -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for (name, text) in [("demo metadata", DEMO.to_string()), ("diffusion metadata", diffusion_demo())] {
        let spec = CollectionSpec::from_toml(&text).expect("sample parses");
        let p = plan(&spec, &context(&spec)).expect("sample plans");
        let item = &p.items[1];
        for s in &item.stages {
            let recipe = s.recipe_with_init(&"cd".repeat(32));
            let json = item_json_bytes(&spec, item, s.stage, "ipfs://bafybeigdyrzt/1.png", &recipe);
            out.push((name, serde_json::from_slice(&json).unwrap()));
            out.push(("recipe", serde_json::to_value(&recipe).unwrap()));
        }
    }
    out
}

const JSON_TOKENS: &[&str] = &[
    "name",
    "symbol",
    "image",
    "attributes",
    "trait_type",
    "properties",
    "files",
    "creators",
    "chrysalis",
    "recipe",
    "recipe_hash",
    "stage",
    "stages",
    "index",
    "seed",
    "format",
    "engine",
    "kind",
    "procedural",
    "diffusion",
    "engine_version",
    "style",
    "params",
    "model",
    "files",
    "steps",
    "guidance",
    "scheduler",
    "ddim",
    "euler",
    "euler_ancestral",
    "lcm",
    "dtype",
    "f16",
    "f32",
    "bf16",
    "init_image",
    "sha256",
    "strength",
    "width",
    "height",
    "prompt",
    "negative_prompt",
];

fn metadata_inputs() -> BoxedStrategy<Input> {
    let samples = metadata_samples();
    let text = input(samples.iter().map(|(n, v)| (*n, serde_json::to_vec(v).unwrap())).collect(), JSON_TOKENS);
    let tree = json_input(samples, JSON_TOKENS, write_json);
    prop_oneof![text, tree].boxed()
}

/// Reads `bytes` as verify reads metadata, and as `Recipe::from_json` reads a recipe (the
/// whole document and its `chrysalis.recipe`). Recipes that are read must hash, and survive
/// their canonical JSON unchanged.
fn metadata_case(bytes: &[u8]) -> Result<(), TestCaseError> {
    match serde_json::from_slice::<MetaDoc>(bytes) {
        Ok(doc) => {
            fuzz::note("metadata read");
            let _ = doc.chrysalis.recipe.hash();
            recipe_round_trip(&doc.chrysalis.recipe.canonical_json())?;
        }
        Err(e) => check_message("metadata JSON", &e.to_string())?,
    }
    let text = String::from_utf8_lossy(bytes);
    recipe_round_trip(&text)?;
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        let canonical = canonical_bytes(&v);
        let back: Value = serde_json::from_slice(&canonical)
            .map_err(|e| TestCaseError::fail(format!("canonical bytes are not JSON: {e}")))?;
        prop_assert_eq!(&back, &v, "canonical_bytes changed the document");
        if let Some(r) = v.pointer("/chrysalis/recipe") {
            recipe_round_trip(&r.to_string())?;
        }
    }
    Ok(())
}

/// `Recipe::from_json(text)`: an error with a message, or a recipe whose canonical JSON reads
/// back as the same recipe with the same hash.
fn recipe_round_trip(text: &str) -> Result<(), TestCaseError> {
    match Recipe::from_json(text) {
        Ok(r) => {
            fuzz::note("recipe read");
            let json = r.canonical_json();
            let back = Recipe::from_json(&json).map_err(|e| {
                TestCaseError::fail(format!("canonical JSON of a recipe does not read back: {e}\n{json}"))
            })?;
            prop_assert_eq!(&back, &r);
            prop_assert_eq!(back.hash(), r.hash());
            Ok(())
        }
        Err(e) => check_message("Recipe::from_json", &e.to_string()),
    }
}

#[test]
fn metadata_json() {
    fuzz("metadata_json", 500, metadata_inputs(), |input| metadata_case(&input.bytes));
}

// ------------------------------------------------------- regressions found by these targets

/// Found by metadata_json (and png_chunks in the art crate): numbers whose shortest form has
/// 16-17 significant digits were parsed one ulp off by serde_json's default float parser, so
/// a recipe read back from its own canonical JSON was another recipe with another hash (and
/// `verify` would call an honest NFT's metadata tampered). Core now enables serde_json's
/// `float_roundtrip`.
#[test]
fn recipe_floats_survive_canonical_json() {
    for (param, guidance) in [
        ("101830623541590601", "962107866381534656"),
        ("0.30000000000000004", "7.000000000000001"),
        ("1.018306235415906e17", "9.621078663815348e17"),
        ("2.2250738585072014e-308", "1.7976931348623157e308"),
    ] {
        for text in [
            format!(
                r#"{{"format":2,"engine":{{"kind":"procedural","engine_version":1,"style":"growth","params":{{"palette":{param}}}}},"seed":1,"width":512,"height":512,"stage":0}}"#
            ),
            format!(
                r#"{{"format":2,"engine":{{"kind":"diffusion","engine_version":1,"model":{{"name":"m","files":{{}}}},"steps":20,"guidance":{guidance},"scheduler":"ddim","dtype":"f32"}},"seed":1,"width":512,"height":512,"stage":0}}"#
            ),
        ] {
            let r = Recipe::from_json(&text).unwrap();
            let back = Recipe::from_json(&r.canonical_json()).unwrap();
            assert_eq!(back, r, "{text}");
            assert_eq!(back.hash(), r.hash(), "{text}");
        }
    }
}
