//! Fuzz targets for the files the art crate reads from users: PNGs (their `chrysalis` recipe
//! chunk and A1111 `parameters` text, read back by verify, the gallery and `art inspect`)
//! and diffusion model folders (`model_index.json`, the component configs, the scheduler
//! config and the tokenizer files). The harness and its settings are in
//! `crates/core/tests/support/fuzz.rs`; `scripts/fuzz.sh` runs every target for minutes.

#[path = "../../core/tests/support/fuzz.rs"]
mod fuzz;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrysalis_art::diffusion::scheduler::Sampler;
use chrysalis_art::diffusion::testing::{ModelSpec, write_model};
use chrysalis_art::diffusion::{HashCacheLocation, LoadOptions, ModelFolder};
use chrysalis_art::png_meta::{self, A1111Parameters};
use chrysalis_art::procedural::ProceduralEngine;
use chrysalis_art::{RgbImage, procedural};
use chrysalis_core::Recipe;
use chrysalis_core::recipe::{DType, DiffusionSpec, EngineSpec, InitImage, ModelRef, RECIPE_FORMAT, Scheduler};
use fuzz::{Input, check_message, fuzz, input, json_input, write_json};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

// ------------------------------------------------------------------------------ PNG chunks

const SAMPLE_PNGS: [(&str, &[u8]); 3] = [
    ("growth.png", include_bytes!("../../../assets/samples/growth.png")),
    ("flow-field.png", include_bytes!("../../../assets/samples/flow-field.png")),
    ("reaction-diffusion.png", include_bytes!("../../../assets/samples/reaction-diffusion.png")),
];

fn tiny_image() -> RgbImage {
    RgbImage::from_fn(3, 2, |x, y| image::Rgb([(x * 70) as u8, (y * 90) as u8, 7]))
}

/// Recipes of every kind: those inside the shipped sample PNGs (format 1), a procedural one
/// of the current format, and diffusion txt2img and img2img.
fn sample_recipes() -> Vec<Recipe> {
    let mut out: Vec<Recipe> =
        SAMPLE_PNGS.iter().map(|(_, b)| png_meta::recipe_from_png(b).expect("samples carry recipes")).collect();
    let mut own = procedural::recipe(
        "flow-field",
        7,
        1024,
        768,
        3,
        BTreeMap::from([("density".into(), 1.5), ("palette".into(), 3.0)]),
    );
    own.prompt = "a moth, wings: open".into();
    out.push(own);
    let mut diffusion = Recipe {
        format: RECIPE_FORMAT,
        engine: EngineSpec::Diffusion(DiffusionSpec {
            engine_version: 1,
            model: ModelRef {
                name: "sd15".into(),
                files: BTreeMap::from([("unet/diffusion_pytorch_model.safetensors".into(), "ab".repeat(32))]),
            },
            steps: 20,
            guidance: 7.5,
            scheduler: Scheduler::Ddim,
            dtype: DType::F16,
            init_image: None,
            loras: Vec::new(),
            device: Default::default(),
            backend: Default::default(),
        }),
        seed: 42,
        width: 512,
        height: 768,
        stage: 0,
        prompt: "a moth at night, ink on paper\nsoft light".into(),
        negative_prompt: "blurry, text".into(),
    };
    out.push(diffusion.clone());
    if let EngineSpec::Diffusion(d) = &mut diffusion.engine {
        d.init_image = Some(InitImage { sha256: "cd".repeat(32), strength: 0.6 });
        d.scheduler = Scheduler::EulerAncestral;
    }
    diffusion.stage = 1;
    diffusion.prompt = "ünïcode 🦋 \"quoted\"".into();
    out.push(diffusion);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
}

/// A small PNG whose text chunks hold `recipe_json` (iTXt `chrysalis`) and `parameters`
/// (tEXt), with valid CRCs: edits of the texts reach the parsers behind the chunk reader.
fn png_with(recipe_json: &[u8], parameters: &[u8], itxt_parameters: bool) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    let mut p = b"parameters\0".to_vec();
    if itxt_parameters {
        p.extend_from_slice(b"\0\0\0\0");
    }
    p.extend_from_slice(parameters);
    chunk(&mut out, if itxt_parameters { b"iTXt" } else { b"tEXt" }, &p);
    let mut r = b"chrysalis\0\0\0\0\0".to_vec();
    r.extend_from_slice(recipe_json);
    chunk(&mut out, b"iTXt", &r);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Recomputes every chunk's CRC, so byte edits inside chunks get past the CRC check.
fn fix_crcs(bytes: &mut [u8]) {
    let mut pos = 8;
    while pos + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let Some(end) = (pos + 12).checked_add(len).filter(|&e| e <= bytes.len()) else { return };
        let crc = crc32(&bytes[pos + 4..end - 4]);
        bytes[end - 4..end].copy_from_slice(&crc.to_be_bytes());
        pos = end;
    }
}

const PNG_TOKENS: &[&str] = &[
    "IEND",
    "iTXt",
    "tEXt",
    "zTXt",
    "IDAT",
    "chrysalis",
    "parameters",
    "Negative prompt:",
    "Steps: ",
    "Seed: ",
    "Size: ",
    ", ",
    ": \"",
    "\\\"",
    "Chrysalis recipe: ",
    "format",
    "engine",
    "kind",
    "procedural",
    "diffusion",
    "params",
    "init_image",
    "strength",
];

#[derive(Debug, Clone)]
struct PngInput {
    input: Input,
    fix_crcs: bool,
}

fn png_inputs() -> BoxedStrategy<PngInput> {
    let recipes = sample_recipes();
    let image = tiny_image();
    // Whole files: the shipped samples and small PNGs encoded by the production writer.
    let mut files: Vec<(&'static str, Vec<u8>)> = SAMPLE_PNGS.iter().map(|(n, b)| (*n, b.to_vec())).collect();
    files.extend(recipes.iter().map(|r| ("encode_png", png_meta::encode_png(&image, r).unwrap())));
    let files = (input(files, PNG_TOKENS), prop_oneof![1 => Just(false), 3 => Just(true)])
        .prop_map(|(input, fix_crcs)| PngInput { input, fix_crcs });
    // Texts: the recipe JSON edited as a tree or as bytes, the A1111 text edited as bytes.
    let trees: Vec<(&'static str, Value)> =
        recipes.iter().map(|r| ("recipe", serde_json::to_value(r).unwrap())).collect();
    let jsons = prop_oneof![
        json_input(trees, PNG_TOKENS, write_json),
        input(recipes.iter().map(|r| ("recipe", r.canonical_json().into_bytes())).collect(), PNG_TOKENS),
    ];
    let params =
        input(recipes.iter().map(|r| ("parameters", png_meta::a1111_parameters(r).into_bytes())).collect(), PNG_TOKENS);
    let texts = (jsons, params, any::<bool>()).prop_map(|(json, params, itxt)| PngInput {
        input: Input {
            bytes: png_with(&json.bytes, &params.bytes, itxt),
            how: format!("PNG with recipe {json:?} and parameters {params:?}"),
        },
        fix_crcs: false,
    });
    prop_oneof![files, texts].boxed()
}

/// Reads the PNG as verify, the gallery and `art inspect` do: text chunks, the recipe (which
/// must then pass through the procedural engine's check and survive a rewrite into a PNG),
/// and the A1111 text.
fn png_case(bytes: &[u8]) -> Result<(), TestCaseError> {
    match png_meta::png_text_chunks(bytes) {
        Ok(chunks) => {
            fuzz::note("chunks read");
            for (keyword, text) in chunks.iter().filter(|(k, _)| k == png_meta::PARAMETERS_KEYWORD) {
                match A1111Parameters::parse(text) {
                    Ok(p) => {
                        fuzz::note("parameters read");
                        let _ = (p.to_text(), p.get("Seed"), keyword);
                    }
                    Err(e) => check_message("A1111Parameters::parse", &e.to_string())?,
                }
            }
        }
        Err(e) => check_message("png_text_chunks", &e.to_string())?,
    }
    match png_meta::recipe_from_png(bytes) {
        Ok(recipe) => {
            fuzz::note("recipe read");
            if let Err(e) = ProceduralEngine::check(&recipe) {
                check_message("ProceduralEngine::check", &e.to_string())?;
            }
            let png = png_meta::encode_png(&tiny_image(), &recipe)
                .map_err(|e| TestCaseError::fail(format!("a recipe read from a PNG cannot be written: {e}")))?;
            let back = png_meta::recipe_from_png(&png)
                .map_err(|e| TestCaseError::fail(format!("a PNG we wrote does not read back: {e}")))?;
            prop_assert_eq!(&back, &recipe);
            let text = png_meta::a1111_parameters(&recipe);
            let p = A1111Parameters::parse(&text)
                .map_err(|e| TestCaseError::fail(format!("our own A1111 text does not parse: {e}\n{text}")))?;
            let hash = recipe.hash().to_string();
            prop_assert_eq!(p.get(png_meta::RECIPE_HASH_FIELD), Some(hash.as_str()), "A1111 text: {}", text);
        }
        Err(e) => check_message("recipe_from_png", &e.to_string())?,
    }
    Ok(())
}

#[test]
fn png_chunks() {
    fuzz("png_chunks", 300, png_inputs(), |case: PngInput| {
        let mut bytes = case.input.bytes;
        if case.fix_crcs {
            fix_crcs(&mut bytes);
        }
        png_case(&bytes)
    });
}

// ---------------------------------------------------------------------- diffusion configs

/// The files of a model folder a user may hand-edit (weights are out of scope here).
const MODEL_FILES: &[&str] = &[
    "model_index.json",
    "unet/config.json",
    "vae/config.json",
    "text_encoder/config.json",
    "scheduler/scheduler_config.json",
    "tokenizer/tokenizer.json",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "tokenizer/merges.txt",
];

/// Two tiny models written once per run: one with `tokenizer.json`, one with the original
/// repositories' `vocab.json` + `merges.txt`. Each case edits one file, loads, restores it.
struct Models {
    _dir: tempfile::TempDir,
    json: PathBuf,
    bpe: PathBuf,
    cache: PathBuf,
}

fn models() -> &'static Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("tiny-json");
        let bpe = dir.path().join("tiny-bpe");
        let mut spec = ModelSpec::tiny(7);
        spec.words.truncate(8);
        write_model(&json, &spec).unwrap();
        spec.tokenizer_json = false;
        spec.vocab_and_merges = true;
        write_model(&bpe, &spec).unwrap();
        let cache = dir.path().join("hashes.json");
        Models { _dir: dir, json, bpe, cache }
    })
}

fn model_file_samples() -> Vec<(&'static str, Vec<u8>)> {
    let m = models();
    let mut out = Vec::new();
    for dir in [&m.json, &m.bpe] {
        for f in MODEL_FILES {
            if let Ok(b) = std::fs::read(dir.join(f)) {
                out.push((*f, b));
            }
        }
    }
    out
}

const CONFIG_TOKENS: &[&str] = &[
    "_class_name",
    "StableDiffusionPipeline",
    "UNet2DConditionModel",
    "AutoencoderKL",
    "CLIPTextModel",
    "block_out_channels",
    "down_block_types",
    "up_block_types",
    "CrossAttnDownBlock2D",
    "DownBlock2D",
    "UpBlock2D",
    "CrossAttnUpBlock2D",
    "DownEncoderBlock2D",
    "UpDecoderBlock2D",
    "attention_head_dim",
    "num_attention_heads",
    "transformer_layers_per_block",
    "layers_per_block",
    "cross_attention_dim",
    "norm_num_groups",
    "time_embedding_dim",
    "in_channels",
    "out_channels",
    "latent_channels",
    "hidden_size",
    "intermediate_size",
    "max_position_embeddings",
    "num_hidden_layers",
    "vocab_size",
    "projection_dim",
    "hidden_act",
    "gelu",
    "quick_gelu",
    "layer_norm_eps",
    "num_train_timesteps",
    "beta_start",
    "beta_end",
    "beta_schedule",
    "linear",
    "squaredcos_cap_v2",
    "trained_betas",
    "prediction_type",
    "v_prediction",
    "sample",
    "timestep_spacing",
    "trailing",
    "linspace",
    "steps_offset",
    "set_alpha_to_one",
    "clip_sample",
    "clip_sample_range",
    "pad_token",
    "content",
    "<|startoftext|>",
    "<|endoftext|>",
    "</w>",
    "model",
    "vocab",
    "merges",
    "BPE",
    "added_tokens",
    "normalizer",
    "pre_tokenizer",
    "Regex",
    "type",
];

#[derive(Debug, Clone)]
struct ModelEdit {
    bpe: bool,
    file: Index,
    input: Input,
}

fn model_inputs() -> BoxedStrategy<ModelEdit> {
    let samples = model_file_samples();
    let trees: Vec<(&'static str, Value)> =
        samples.iter().filter_map(|(n, b)| Some((*n, serde_json::from_slice(b).ok()?))).collect();
    let edited = prop_oneof![
        2 => json_input(trees, CONFIG_TOKENS, write_json),
        1 => input(samples, CONFIG_TOKENS),
    ];
    (any::<bool>(), any::<Index>(), edited).prop_map(|(bpe, file, input)| ModelEdit { bpe, file, input }).boxed()
}

/// Replaces one file of a model folder with the edited bytes (the edit's sample names the
/// file; random bytes go to a file picked by `file`), loads the folder, then puts the file
/// back. A folder that loads must then give timesteps, samplers and token ids.
fn model_case(edit: &ModelEdit) -> Result<(), TestCaseError> {
    let m = models();
    let dir = if edit.bpe { &m.bpe } else { &m.json };
    let name = MODEL_FILES
        .iter()
        .find(|f| edit.input.how.starts_with(**f))
        .copied()
        .unwrap_or(MODEL_FILES[edit.file.index(MODEL_FILES.len())]);
    let path = dir.join(name);
    let original = std::fs::read(&path).ok();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &edit.input.bytes).unwrap();
    let result = load_and_use(dir);
    match original {
        Some(bytes) => std::fs::write(&path, bytes).unwrap(),
        None => std::fs::remove_file(&path).unwrap(),
    }
    result
}

fn load_and_use(dir: &Path) -> Result<(), TestCaseError> {
    let opts = LoadOptions { hash_cache: HashCacheLocation::File(models().cache.clone()) };
    let folder = match ModelFolder::load(dir, &opts) {
        Ok(f) => f,
        Err(e) => return check_message("ModelFolder::load", &e.to_string()),
    };
    fuzz::note("loaded");
    for steps in [1, 2, 4, 25, 50, 1000, 100_000] {
        let ts = folder.schedule.timesteps(steps);
        prop_assert!(!ts.is_empty());
        for kind in [Scheduler::Ddim, Scheduler::Euler, Scheduler::EulerAncestral, Scheduler::Lcm] {
            for strength in [None, Some(0.01), Some(0.5), Some(1.0)] {
                let s = Sampler::new(kind, &folder.schedule, steps, strength);
                prop_assert!(!s.timesteps().is_empty());
            }
        }
    }
    for text in ["a glowing moth", "", "zebra 42 🦋 ÜNÏCODE, \"quoted\"", &"moth ".repeat(100)] {
        match folder.tokenizer.encode(text, "prompt") {
            Ok(ids) => prop_assert_eq!(ids.len(), folder.tokenizer.max_len()),
            Err(e) => check_message("ClipTokenizer::encode", &e.to_string())?,
        }
    }
    Ok(())
}

#[test]
fn diffusion_configs() {
    fuzz("diffusion_configs", 100, model_inputs(), |edit: ModelEdit| model_case(&edit));
}

// ------------------------------------------------------------- single-file checkpoints

/// One change to a single-file checkpoint's header: drop, rename or reshape a tensor, or add
/// one under another family's name.
#[derive(Debug, Clone)]
enum HeaderEdit {
    Drop(Index),
    /// Replace the tensor's `n`th dot-separated segment (block numbers, module names).
    Rename(Index, Index, String),
    Reshape(Index, Vec<usize>),
    Add(String, Vec<usize>),
}

fn header_edits() -> impl Strategy<Value = Vec<HeaderEdit>> {
    let segment = prop_oneof![
        (0usize..40).prop_map(|n| n.to_string()),
        Just("1".to_string()),
        "[a-z_]{1,12}",
        Just("transformer_blocks".to_string()),
        Just("in_proj_weight".to_string()),
    ];
    let shape = proptest::collection::vec(prop_oneof![Just(0usize), Just(1), 1usize..80, Just(49408)], 0..5);
    let prefix = prop_oneof![
        Just("model.diffusion_model."),
        Just("first_stage_model."),
        Just("cond_stage_model.transformer.text_model."),
        Just("cond_stage_model.model."),
        Just("conditioner.embedders.0."),
    ];
    let edit = prop_oneof![
        any::<Index>().prop_map(HeaderEdit::Drop),
        (any::<Index>(), any::<Index>(), segment.clone()).prop_map(|(t, n, s)| HeaderEdit::Rename(t, n, s)),
        (any::<Index>(), shape.clone()).prop_map(|(t, s)| HeaderEdit::Reshape(t, s)),
        (prefix, proptest::collection::vec(segment, 1..5), shape)
            .prop_map(|(p, segs, s)| HeaderEdit::Add(format!("{p}{}", segs.join(".")), s)),
    ];
    proptest::collection::vec(edit, 1..4)
}

/// The SD 1.x fixture's tensor names and shapes.
fn checkpoint_header() -> &'static Vec<(String, Vec<usize>)> {
    static HEADER: OnceLock<Vec<(String, Vec<usize>)>> = OnceLock::new();
    HEADER.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/single_file/sd1-tiny.safetensors");
        let bytes = std::fs::read(path).unwrap();
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let mut v: Vec<(String, Vec<usize>)> =
            meta.tensors().into_iter().map(|(k, info)| (k, info.shape.clone())).collect();
        v.sort();
        v
    })
}

fn single_file_case(edits: &[HeaderEdit]) -> Result<(), TestCaseError> {
    let mut tensors = checkpoint_header().clone();
    for edit in edits {
        match edit {
            HeaderEdit::Drop(i) if !tensors.is_empty() => {
                tensors.remove(i.index(tensors.len()));
            }
            HeaderEdit::Rename(i, n, seg) if !tensors.is_empty() => {
                let k = i.index(tensors.len());
                let t = &mut tensors[k];
                let mut parts: Vec<String> = t.0.split('.').map(str::to_string).collect();
                let k = n.index(parts.len());
                parts[k] = seg.clone();
                t.0 = parts.join(".");
            }
            HeaderEdit::Reshape(i, shape) if !tensors.is_empty() => {
                let k = i.index(tensors.len());
                tensors[k].1 = shape.clone();
            }
            HeaderEdit::Add(name, shape) => tensors.push((name.clone(), shape.clone())),
            _ => {}
        }
    }
    // Later duplicates replace earlier ones, as a JSON object would.
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, shape) in &tensors {
        // Keep the (sparse) file small enough to hash quickly: the loader hashes every byte.
        let Some(bytes) = shape.iter().try_fold(2usize, |a, &d| a.checked_mul(d)).filter(|&b| b <= 16 << 20) else {
            fuzz::note("skipped: too big");
            return Ok(());
        };
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    let text = Value::Object(header).to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.safetensors");
    let mut f = std::fs::File::create(&path).unwrap();
    std::io::Write::write_all(&mut f, &(text.len() as u64).to_le_bytes()).unwrap();
    std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
    f.set_len((8 + text.len() + offset) as u64).unwrap();
    drop(f);
    match ModelFolder::load(&path, &LoadOptions { hash_cache: HashCacheLocation::Disabled }) {
        Ok(folder) => {
            fuzz::note("loaded");
            match folder.tokenizer.encode("a glowing moth", "prompt") {
                Ok(ids) => prop_assert_eq!(ids.len(), folder.tokenizer.max_len()),
                Err(e) => check_message("ClipTokenizer::encode", &e.to_string())?,
            }
            Ok(())
        }
        Err(e) => check_message("ModelFolder::load(single file)", &e.to_string()),
    }
}

#[test]
fn single_file_headers() {
    fuzz("single_file_headers", 64, header_edits(), |edits: Vec<HeaderEdit>| single_file_case(&edits));
}

// ------------------------------------------------------- regressions found by these targets

/// A tiny model of its own (the fuzz target edits the shared ones), one edit at a time.
fn load_edited(file: &str, edit: impl FnOnce(&mut Value)) -> Result<ModelFolder, String> {
    static MODEL: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let (_, dir) = MODEL.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tiny");
        write_model(&dir, &ModelSpec::tiny(3)).unwrap();
        (tmp, dir)
    });
    /// Puts the file back even when loading panics.
    struct Restore(PathBuf, String);
    impl Drop for Restore {
        fn drop(&mut self) {
            std::fs::write(&self.0, &self.1).unwrap();
        }
    }
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let path = dir.join(file);
    let original = std::fs::read_to_string(&path).unwrap();
    let mut v: Value = serde_json::from_str(&original).unwrap();
    edit(&mut v);
    let _restore = Restore(path.clone(), original);
    std::fs::write(&path, v.to_string()).unwrap();
    ModelFolder::load(dir, &LoadOptions { hash_cache: HashCacheLocation::Disabled }).map_err(|e| e.to_string())
}

#[test]
fn huge_num_train_timesteps_is_an_error_not_an_allocation() {
    // Found by diffusion_configs: 2^32 training steps sized a 32 GiB schedule; 2^64 - 1 a
    // "capacity overflow" panic.
    for n in [Value::from(4_294_967_296u64), Value::from(u64::MAX)] {
        let e = load_edited("scheduler/scheduler_config.json", |v| v["num_train_timesteps"] = n.clone()).unwrap_err();
        assert!(e.contains("`num_train_timesteps`") && e.contains("implausible"), "{e}");
    }
}

#[test]
fn scheduler_offsets_and_clip_ranges_are_checked() {
    let e = load_edited("scheduler/scheduler_config.json", |v| v["steps_offset"] = Value::from(u64::MAX)).unwrap_err();
    assert!(e.contains("`steps_offset`"), "{e}");
    let e = load_edited("scheduler/scheduler_config.json", |v| {
        v["clip_sample"] = Value::from(true);
        v["clip_sample_range"] = Value::from(-1.0);
    })
    .unwrap_err();
    assert!(e.contains("`clip_sample_range`"), "{e}");
}

#[test]
fn tokenizer_json_with_a_syntax_error_is_an_error_not_a_panic() {
    // Found by diffusion_configs: the tokenizers library panicked ("Helper") on a syntax
    // error inside `decoder`.
    let m = models();
    let path = m.json.join("tokenizer/tokenizer.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let broken = text.replacen("\"decoder\":", "\"decoder\":\" ", 1);
    assert_ne!(broken, text);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("tokenizer.json"), broken).unwrap();
    let e = chrysalis_art::diffusion::tokenizer::ClipTokenizer::load(tmp.path(), 77).unwrap_err().to_string();
    assert!(e.contains("tokenizer.json") && e.contains("not valid JSON"), "{e}");
}

#[test]
fn vae_with_more_blocks_than_a_shift_allows_is_an_error() {
    // `downscale` was `1 << (blocks - 1)`: 65 blocks overflowed the shift.
    let e = load_edited("vae/config.json", |v| {
        v["block_out_channels"] = Value::from(vec![64u64; 65]);
        v.as_object_mut().unwrap().remove("down_block_types");
        v.as_object_mut().unwrap().remove("up_block_types");
    })
    .unwrap_err();
    assert!(e.contains("block_out_channels"), "{e}");
}

#[test]
fn time_embedding_dim_beside_huge_channels_is_an_error() {
    // `4 * block_out_channels[0]` overflowed for a channel count near 2^64.
    let e = load_edited("unet/config.json", |v| {
        v["block_out_channels"][0] = Value::from(u64::MAX);
        v["time_embedding_dim"] = Value::from(128);
    })
    .unwrap_err();
    assert!(e.contains("time_embedding_dim"), "{e}");
}

#[test]
fn png_recipe_floats_read_back_exactly() {
    // Found by png_chunks: a guidance of 962107866381534656 came back one ulp off from the
    // PNG's recipe chunk (serde_json's default float parser; core enables `float_roundtrip`).
    for guidance in [962107866381534656.0, 0.30000000000000004, 7.000000000000001] {
        let mut r = sample_recipes().pop().unwrap();
        if let EngineSpec::Diffusion(d) = &mut r.engine {
            d.guidance = guidance;
        }
        let png = png_meta::encode_png(&tiny_image(), &r).unwrap();
        assert_eq!(png_meta::recipe_from_png(&png).unwrap(), r, "guidance {guidance}");
    }
}

#[test]
fn a1111_values_that_only_start_like_json_strings_are_text() {
    // Found by png_chunks: a format-1 procedural recipe with the style `"` wrote
    // `Sampler: ", CFG scale: 0, ...` (A1111 quotes only values with `,`, `:` or a newline),
    // and our reader refused the whole line where A1111's reads the value `"`.
    let mut r = procedural::recipe("\"", 12, 448, 448, 3, BTreeMap::new());
    r.format = 1;
    r.prompt = "Ume".into();
    let text = png_meta::a1111_parameters(&r);
    assert!(text.contains("Sampler: \", CFG scale"), "{text}");
    let p = A1111Parameters::parse(&text).unwrap();
    assert_eq!(p.get("Sampler"), Some("\""));
    assert_eq!(p.get(png_meta::RECIPE_HASH_FIELD), Some(r.hash().to_string().as_str()));
    let p = A1111Parameters::parse("Steps: 2, Sampler: \"a\" b, Seed: \"x, y\", Size: 8x8").unwrap();
    assert_eq!(p.fields.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>(), ["2", "\"a\" b", "x, y", "8x8"]);
}
