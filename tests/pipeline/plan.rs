//! Planning through the pipeline: exact quotas over 1 000 items, and unsatisfiable specs
//! refused (naming the conflict) before anything is generated — in the library and through
//! the `chrysalis publish` binary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrysalis_core::CancelToken;
use chrysalis_pipeline::plan::plan_text;
use chrysalis_pipeline::publish::{PublishOptions, publish};
use chrysalis_pipeline::{PipelineError, SPEC_FILE};
use chrysalis_tests::chrysalis_bin;
use chrysalis_tests::project_with_spec;

fn values(name: &str, n: usize, count: u32, param: Option<&str>) -> String {
    let vals: Vec<String> = (0..n)
        .map(|i| match param {
            Some(p) => format!("{{ value = \"{name} {i}\", count = {count}, params = {{ {p} = {i} }} }}"),
            None => format!("{{ value = \"{name} {i}\", count = {count} }}"),
        })
        .collect();
    format!("[[traits]]\nname = \"{name}\"\nvalues = [\n    {},\n]\n", vals.join(",\n    "))
}

fn big_spec() -> String {
    let mut s = String::from(
        r#"name = "Thousand"
symbol = "K"
size = 1000
seed = 99
price = "0"

[[creators]]
address = "AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf"
share_bps = 10000

[art]
engine = "procedural"
style = "growth"
width = 256
height = 256

"#,
    );
    s.push_str(&values("Palette", 8, 125, Some("palette")));
    s.push_str(&values("Roots", 4, 250, None));
    s.push_str(&values("Temper", 2, 500, None));
    s.push_str(&values("Mark", 10, 100, None));
    s.push_str(&values("Eyes", 5, 200, None));
    s.push_str(
        r#"
[[rules]]
kind = "exclude"
if = { trait = "Palette", value = "Palette 0" }
then = { trait = "Roots", value = "Roots 0" }

[[stages]]
name = "Seed"
unlock = "mint"

[[stages]]
name = "Grown"
unlock = { after_mint = "1d" }
"#,
    );
    s
}

#[test]
fn quotas_are_exact_over_1000_planned_items() {
    let dir = tempfile::tempdir().unwrap();
    let planned = plan_text(&big_spec(), &dir.path().join(SPEC_FILE), dir.path()).expect("the spec plans");
    let items = &planned.plan.items;
    assert_eq!(items.len(), 1000);
    let mut counts: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut combos = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item.index as usize, i);
        assert_eq!(item.traits.len(), 5, "one value per trait");
        assert_eq!(item.stages.len(), 2);
        for t in &item.traits {
            *counts.entry((t.trait_type.clone(), t.value.clone())).or_default() += 1;
        }
        let palette0 = item.traits.iter().any(|t| t.value == "Palette 0");
        let roots0 = item.traits.iter().any(|t| t.value == "Roots 0");
        assert!(!(palette0 && roots0), "item {i} breaks the exclusion rule");
        combos.insert(item.traits.iter().map(|t| t.value.clone()).collect::<Vec<_>>());
    }
    assert_eq!(combos.len(), 1000, "every item's combination is unique");
    for (name, n, count) in
        [("Palette", 8, 125), ("Roots", 4, 250), ("Temper", 2, 500), ("Mark", 10, 100), ("Eyes", 5, 200)]
    {
        for i in 0..n {
            let got = counts.get(&(name.to_string(), format!("{name} {i}"))).copied().unwrap_or(0);
            assert_eq!(got, count, "{name} {i}");
        }
    }
    // The report's quota table agrees with the items.
    for q in &planned.plan.quotas {
        assert_eq!(q.asked, q.got, "{q:?}");
    }
    // Seeds are distinct and the plan is deterministic.
    let seeds: BTreeSet<u64> = items.iter().map(|i| i.seed).collect();
    assert_eq!(seeds.len(), 1000);
    let again = plan_text(&big_spec(), &dir.path().join(SPEC_FILE), dir.path()).unwrap();
    assert_eq!(again.plan, planned.plan);
}

/// Every item is Palette A and every item is Roots X, but A excludes X.
const UNSATISFIABLE: &str = r#"name = "Impossible"
symbol = "NO"
size = 4
seed = 1
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
values = [{ value = "Amber", count = 4 }]

[[traits]]
name = "Roots"
values = [{ value = "Twin", count = 4 }]

[[rules]]
kind = "exclude"
if = { trait = "Palette", value = "Amber" }
then = { trait = "Roots", value = "Twin" }

[[stages]]
name = "Seed"
unlock = "mint"
"#;

fn nothing_generated(dir: &Path) {
    assert!(!dir.join("build").exists(), "nothing may be generated for an unsatisfiable spec");
    assert!(!dir.join("keys").exists(), "no key is made for a spec that cannot be published");
    assert!(!dir.join("sandbox").exists(), "nothing may touch the chain");
}

#[test]
fn unsatisfiable_specs_are_refused_before_generating() {
    let dir = tempfile::tempdir().unwrap();
    let project = project_with_spec(dir.path(), UNSATISFIABLE);
    let err = publish(&project, &PublishOptions::default(), None, &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert!(matches!(err, PipelineError::Unsatisfiable(_)), "{err:?}");
    assert_eq!(err.kind(), "unsatisfiable");
    let msg = err.to_string();
    assert!(msg.contains("Amber") && msg.contains("Twin"), "the conflict is named: {msg}");
    nothing_generated(dir.path());

    // The same through the binary: exit status 1, the conflict on stderr.
    let out =
        std::process::Command::new(chrysalis_bin!()).args(["publish", "--project"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot be planned") && stderr.contains("Amber"), "{stderr}");
    nothing_generated(dir.path());
}

#[test]
fn a_spec_with_problems_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = UNSATISFIABLE.replace("share_bps = 10000", "share_bps = 9000");
    let project = project_with_spec(dir.path(), &bad);
    let err = publish(&project, &PublishOptions::default(), None, &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert_eq!(err.kind(), "bad_spec", "{err}");
    assert!(err.to_string().contains("creators"), "{err}");
    nothing_generated(dir.path());
}

#[test]
fn a_project_without_a_spec_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let project = chrysalis_core::Project::create(dir.path(), Some("empty")).unwrap();
    let err = publish(&project, &PublishOptions::default(), None, &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert_eq!(err.kind(), "no_spec");
    assert!(err.to_string().contains("collection.toml"), "{err}");
}

/// A spec edited after its collection was created on chain is refused at once, before
/// anything is regenerated, naming the fields that changed and keeping the spec the
/// collection was made from beside the build. A change of comments alone is no change.
#[test]
fn a_spec_edited_after_minting_is_refused_before_regenerating() {
    let dir = tempfile::tempdir().unwrap();
    let spec = chrysalis_tests::small_spec("Fixed", 6, 2, 256, "0", &chrysalis_chain::Pubkey::new_unique());
    let project = project_with_spec(dir.path(), &spec);
    let cancel = CancelToken::new();
    let first = publish(&project, &PublishOptions::default(), None, &mut |_| {}, &cancel).unwrap();
    assert_eq!(first.minted_now, 6);

    // Comments and formatting are not values: publishing again does nothing new.
    std::fs::write(dir.path().join(SPEC_FILE), format!("# my notes\n{spec}\n\n")).unwrap();
    let again = publish(&project, &PublishOptions::default(), None, &mut |_| {}, &cancel).unwrap();
    assert_eq!(again.minted_now, 0);

    let image = dir.path().join("build/stage-0/images/0.png");
    let before = std::fs::metadata(&image).unwrap().modified().unwrap();
    let edited = spec.replace("royalty_bps = ", "royalty_bps = 1").replace("name = \"Fixed\"", "name = \"Moved\"");
    assert_ne!(edited, spec);
    std::fs::write(dir.path().join(SPEC_FILE), &edited).unwrap();
    let started = std::time::Instant::now();
    let err = publish(&project, &PublishOptions::default(), None, &mut |_| {}, &cancel).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, PipelineError::SpecChanged { .. }), "{err:?}");
    assert_eq!(err.kind(), "spec_changed");
    let msg = err.to_string();
    assert!(msg.contains("name, royalty_bps differ") && msg.contains("new project folder"), "{msg}");
    assert!(took < std::time::Duration::from_secs(5), "refused in {took:?}: it must not regenerate first");
    assert_eq!(std::fs::metadata(&image).unwrap().modified().unwrap(), before, "nothing was regenerated");
    let saved = dir.path().join("build/collection.sandbox.toml");
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), spec, "the spec the collection was made from is kept");
    assert!(msg.contains(&saved.display().to_string()), "{msg}");

    // `publish --only plan` refuses the same way, through the binary.
    let out = std::process::Command::new(chrysalis_bin!())
        .args(["publish", "--only", "plan", "--project"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("royalty_bps"), "{}", String::from_utf8_lossy(&out.stderr));

    // Reverting it publishes again, with nothing left to do.
    std::fs::write(dir.path().join(SPEC_FILE), &spec).unwrap();
    assert_eq!(publish(&project, &PublishOptions::default(), None, &mut |_| {}, &cancel).unwrap().minted_now, 0);
}

/// A creator that is a program (or owned by one) could never spend its share: publishing
/// refuses it, naming it, before the collection is created.
#[test]
fn a_program_as_creator_is_refused_before_the_collection_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let token_2022 = chrysalis_chain::program::TOKEN_2022_ID;
    let spec = chrysalis_tests::small_spec("Locked", 6, 1, 256, "0", &token_2022);
    let project = project_with_spec(dir.path(), &spec);
    let err = publish(&project, &PublishOptions::default(), None, &mut |_| {}, &CancelToken::new()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&token_2022.to_string()) && msg.contains("is a program"), "{msg}");
    let journal = chrysalis_pipeline::journal::Journal::new(project.db());
    assert!(journal.collection("sandbox").unwrap().is_none(), "no collection was created");
}

/// `[[art.loras]]` in a diffusion collection: planning hashes each LoRA into every item's
/// recipe (with its weight), generation merges it (the PNG's recipe names it), and a missing
/// or wrong LoRA file is refused at planning, naming `art.loras`, before anything is made.
#[test]
fn a_diffusion_collection_merges_its_loras_into_every_item() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/art/tests/fixtures/diffusers/sd15");
    let dir = tempfile::tempdir().unwrap();
    let copy_dir = |from: &Path, to: &Path| {
        for entry in walk(from) {
            let rel = entry.strip_prefix(from).unwrap();
            if rel.starts_with("lora") || rel.starts_with("fewstep") || rel.starts_with("reference.safetensors") {
                continue;
            }
            std::fs::create_dir_all(to.join(rel).parent().unwrap()).unwrap();
            std::fs::copy(&entry, to.join(rel)).unwrap();
        }
    };
    copy_dir(&fixture, &dir.path().join("models/sd15"));
    std::fs::create_dir_all(dir.path().join("lora")).unwrap();
    let lora = fixture.join("lora/tiny_kohya.safetensors");
    std::fs::copy(&lora, dir.path().join("lora/style.safetensors")).unwrap();
    let spec = |loras: &str| {
        format!(
            r#"name = "Styled"
symbol = "STY"
size = 2
seed = 3
price = "0"

[[creators]]
address = "AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf"
share_bps = 10000

[art]
engine = "diffusion"
model = "models/sd15"
prompt = "a moth"
steps = 2
guidance = 1.0
scheduler = "ddim"
width = 64
height = 64
{loras}

[[traits]]
name = "Wing"
values = [{{ value = "Pale", count = 1, prompt = "pale" }}, {{ value = "Dark", count = 1, prompt = "dark" }}]

[[stages]]
name = "Adult"
unlock = "mint"
"#
        )
    };
    let project =
        project_with_spec(dir.path(), &spec(r#"loras = [{ file = "lora/style.safetensors", weight = 0.8 }]"#));
    let planned =
        plan_text(&std::fs::read_to_string(dir.path().join(SPEC_FILE)).unwrap(), Path::new(SPEC_FILE), dir.path())
            .unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(&lora).unwrap()))
    };
    for item in &planned.plan.items {
        let chrysalis_core::recipe::EngineSpec::Diffusion(d) = &item.stages[0].recipe.engine else { panic!() };
        assert_eq!(d.loras.len(), 1);
        assert_eq!((d.loras[0].sha256.as_str(), d.loras[0].weight), (sha.as_str(), 0.8));
    }
    let options =
        PublishOptions { only: Some(chrysalis_pipeline::publish::Only::Generate), ..PublishOptions::default() };
    publish(&project, &options, None, &mut |_| {}, &CancelToken::new()).unwrap();
    let png = std::fs::read(dir.path().join("build/stage-0/images/0.png")).unwrap();
    let recipe = chrysalis_art::png_meta::recipe_from_png(&png).unwrap();
    assert_eq!(recipe, planned.plan.items[0].stages[0].recipe);
    // The image needs the LoRA: without its file the same recipe is refused, naming it.
    let err = chrysalis_art::engine_for(&recipe, Some(&dir.path().join("models/sd15"))).err().expect("refused");
    assert!(err.to_string().contains("style.safetensors"), "{err}");

    // A missing LoRA file: refused at planning, naming the key and the file.
    let dir2 = tempfile::tempdir().unwrap();
    copy_dir(&fixture, &dir2.path().join("models/sd15"));
    let project2 = project_with_spec(dir2.path(), &spec(r#"loras = [{ file = "lora/missing.safetensors" }]"#));
    let err = publish(&project2, &options, None, &mut |_| {}, &CancelToken::new()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("art.loras") && msg.contains("missing.safetensors"), "{msg}");
    nothing_generated(dir2.path());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}
