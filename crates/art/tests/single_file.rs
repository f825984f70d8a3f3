//! Single-file checkpoints (A1111 / ComfyUI / Civitai `.safetensors` with LDM names) and
//! diffusers folders as transformers 5 saves them.
//!
//! The fixtures under `tests/fixtures/single_file/` are written by `make_fixtures.py` there:
//! tiny random diffusers models, saved by diffusers itself, and the same weights written under
//! the original LDM names by our reverse mapping and checked with diffusers' own
//! `from_single_file`. Here the loader reads those files and must agree with diffusers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrysalis_art::diffusion::testing::{self, ModelSpec};
use chrysalis_art::diffusion::tokenizer::{clip_tokenizer_json, clip_vocab_and_merges};
use chrysalis_art::diffusion::{DiffusionEngine, DiffusionError, HashCacheLocation, LoadOptions};
use chrysalis_art::{Engine, RgbImage};
use chrysalis_core::CancelToken;
use chrysalis_core::recipe::{CHECKPOINT_KEY, DType, EngineSpec, RECIPE_FORMAT, Recipe, Scheduler};
use sha2::{Digest, Sha256};

const NO_CACHE: LoadOptions = LoadOptions { hash_cache: HashCacheLocation::Disabled };

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/single_file").join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The SD 1.x fixture folder (as diffusers + transformers 5 saved it), with the bundled CLIP
/// tokenizer added: the tokenizer a single file is run with.
fn sd1_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture("sd1-tiny-diffusers"), dir.path());
    let (vocab, merges) = clip_vocab_and_merges().unwrap();
    std::fs::create_dir_all(dir.path().join("tokenizer")).unwrap();
    std::fs::write(dir.path().join("tokenizer/tokenizer.json"), clip_tokenizer_json(&vocab, &merges).to_string())
        .unwrap();
    dir
}

fn recipe(e: &DiffusionEngine, scheduler: Scheduler) -> Recipe {
    Recipe {
        format: RECIPE_FORMAT,
        engine: EngineSpec::Diffusion(e.spec(3, 5.0, scheduler, DType::F32, None)),
        seed: 11,
        width: 64,
        height: 64,
        stage: 0,
        prompt: "a photo of a glowing moth".into(),
        negative_prompt: "blurry".into(),
    }
}

fn generate(e: &DiffusionEngine, r: &Recipe) -> RgbImage {
    e.generate(r, None, &mut |_| {}, &CancelToken::new()).expect("generate").image
}

fn sha_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn an_sd1_single_file_generates_what_its_diffusers_folder_generates() {
    let folder = sd1_folder();
    let from_folder = DiffusionEngine::load_with(folder.path(), &NO_CACHE).expect("load the diffusers folder");
    let from_file = DiffusionEngine::load_with(&fixture("sd1-tiny.safetensors"), &NO_CACHE).expect("load the file");
    assert_eq!(from_file.folder().params, from_folder.folder().params);
    for scheduler in [Scheduler::Ddim, Scheduler::EulerAncestral] {
        let a = generate(&from_folder, &recipe(&from_folder, scheduler));
        let b = generate(&from_file, &recipe(&from_file, scheduler));
        assert!(a == b, "{scheduler:?}: the single file and the folder give different pixels");
        // Not a constant image: a mapping mistake would have room to show.
        let raw = a.as_raw();
        assert!(raw.iter().any(|&p| p != raw[0]));
    }
}

#[test]
fn a_single_file_is_identified_by_its_sha256_as_a1111_does() {
    let path = fixture("sd1-tiny.safetensors");
    let e = DiffusionEngine::load_with(&path, &NO_CACHE).unwrap();
    let sha = sha_hex(&path);
    let m = e.model_ref();
    assert_eq!(m.files, BTreeMap::from([(CHECKPOINT_KEY.to_string(), sha.clone())]));
    assert_eq!(m.name, "sd1-tiny");
    // A1111's "AutoV2" hash: the first 10 hex digits of the file's SHA-256, shown as the
    // PNG's `Model hash`.
    assert_eq!(m.short_hash(), sha[..10]);
    let r = recipe(&e, Scheduler::Ddim);
    let text = chrysalis_art::png_meta::a1111_parameters(&r);
    assert!(text.contains(&format!("Model hash: {}", &sha[..10])), "{text}");
    let image = generate(&e, &r);
    let png = chrysalis_art::png_meta::encode_png(&image, &r).unwrap();
    let back = chrysalis_art::png_meta::recipe_from_png(&png).unwrap();
    assert_eq!(back, r);

    // The recipe regenerates from the same file under another name (the key is fixed), and
    // is refused by a different model.
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("my favourite model.safetensors");
    std::fs::copy(&path, &renamed).unwrap();
    let again = DiffusionEngine::load_with(&renamed, &NO_CACHE).unwrap();
    assert!(generate(&again, &back) == image);
    let folder = sd1_folder();
    let other = DiffusionEngine::load_with(folder.path(), &NO_CACHE).unwrap();
    let err = other.generate(&back, None, &mut |_| {}, &CancelToken::new()).unwrap_err().to_string();
    assert!(err.contains("checkpoint.safetensors"), "{err}");
}

#[test]
fn an_sd2_single_file_maps_every_tensor_as_diffusers_does() {
    // SD 2.x's OpenCLIP layout: packed q/k/v, `resblocks`, one layer more than SD 2.x uses.
    // The expected values are digests of the diffusers model the file was written from.
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("sd2-tiny.expected.json")).unwrap()).unwrap();
    let expected = expected.as_object().unwrap();
    let got = testing::single_file_tensors(&fixture("sd2-tiny.safetensors")).unwrap();
    let got_names: Vec<&String> = got.keys().collect();
    let want_names: Vec<&String> = expected.keys().collect();
    assert_eq!(got_names, want_names);
    for (name, t) in &got {
        let want = &expected[name];
        let shape: Vec<usize> = serde_json::from_value(want["shape"].clone()).unwrap();
        assert_eq!(t.dims(), shape.as_slice(), "{name}");
        let values = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), want["sha256"].as_str().unwrap(), "{name}");
    }
    // And it loads as a model: our CLIP runs a GELU (OpenCLIP) text encoder of any size.
    let engine = DiffusionEngine::load_with(&fixture("sd2-tiny.safetensors"), &NO_CACHE).unwrap();
    assert!(matches!(engine.folder().text_arch.clip.activation, chrysalis_art::diffusion::clip::Activation::Gelu));
}

#[test]
fn the_sd1_single_file_maps_every_tensor_of_its_folder() {
    // Every tensor of the diffusers folder, read through the single file's name map.
    let got = testing::single_file_tensors(&fixture("sd1-tiny.safetensors")).unwrap();
    let folder = fixture("sd1-tiny-diffusers");
    let mut want = BTreeMap::new();
    for (component, file) in [
        ("unet", "unet/diffusion_pytorch_model.safetensors"),
        ("vae", "vae/diffusion_pytorch_model.safetensors"),
        ("text_encoder", "text_encoder/model.safetensors"),
    ] {
        let tensors = candle_core::safetensors::load(folder.join(file), &candle_core::Device::Cpu).unwrap();
        for (name, t) in tensors {
            let name = if component == "text_encoder" { format!("text_model.{name}") } else { name };
            want.insert(format!("{component}/{name}"), t.to_dtype(candle_core::DType::F32).unwrap());
        }
    }
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (name, t) in &got {
        let w = &want[name];
        assert_eq!(t.dims(), w.dims(), "{name}");
        let diff = (t - w).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(diff, 0.0, "{name}");
    }
}

/// A tensor name and shape.
type Tensor<'a> = (&'a str, &'a [usize]);

/// A safetensors file holding `names` (tiny zero tensors), for refusal tests.
fn write_keys(path: &Path, names: &[Tensor]) {
    let tensors: Vec<(String, candle_core::Tensor)> = names
        .iter()
        .map(|(n, s)| {
            (n.to_string(), candle_core::Tensor::zeros(*s, candle_core::DType::F16, &candle_core::Device::Cpu).unwrap())
        })
        .collect();
    candle_core::safetensors::save(&tensors.into_iter().collect(), path).unwrap();
}

fn load_err(path: &Path) -> DiffusionError {
    DiffusionEngine::load_with(path, &NO_CACHE).expect_err("the load should fail")
}

#[test]
fn other_checkpoints_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[Tensor], &str); 5] = [
        (
            "xl.safetensors",
            &[
                ("conditioner.embedders.0.transformer.text_model.final_layer_norm.weight", &[4]),
                ("model.diffusion_model.input_blocks.0.0.weight", &[4, 4, 3, 3]),
            ],
            "SDXL",
        ),
        ("sd3.safetensors", &[("model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight", &[4, 4])], "SD 3"),
        ("flux.safetensors", &[("double_blocks.0.img_attn.qkv.weight", &[4, 4])], "Flux"),
        ("lora.safetensors", &[("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", &[4, 4])], "LoRA"),
        (
            "unet-only.safetensors",
            &[
                ("model.diffusion_model.input_blocks.0.0.weight", &[4, 4, 3, 3]),
                ("first_stage_model.encoder.conv_in.weight", &[4, 3, 3, 3]),
            ],
            "no text encoder",
        ),
    ];
    for (file, names, says) in cases {
        let path = dir.path().join(file);
        write_keys(&path, names);
        let err = load_err(&path).to_string();
        assert!(err.contains(says) && err.contains(file), "{file}: {err}");
    }
    // One component of a diffusers folder, passed instead of the folder.
    let err = load_err(&fixture("sd1-tiny-diffusers/unet/diffusion_pytorch_model.safetensors")).to_string();
    assert!(err.contains("pass the model folder"), "{err}");
    let pickled = dir.path().join("model.ckpt");
    std::fs::write(&pickled, b"PK\x03\x04").unwrap();
    let err = load_err(&pickled).to_string();
    assert!(err.contains("pickled") && err.contains(".safetensors"), "{err}");
    let missing = dir.path().join("nowhere.safetensors");
    let err = load_err(&missing).to_string();
    assert!(err.contains("diffusers folder or a single-file .safetensors checkpoint"), "{err}");
}

#[test]
fn a_text_encoder_with_or_without_the_text_model_prefix_loads_the_same() {
    // transformers < 5 saved `text_model.embeddings...`; transformers 5 saves
    // `embeddings...`. Both folders must give the same pixels.
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old");
    testing::write_model(&old, &ModelSpec::tiny(3)).unwrap();
    let new = dir.path().join("new");
    copy_dir(&old, &new);
    let file = new.join("text_encoder/model.safetensors");
    let tensors = candle_core::safetensors::load(&file, &candle_core::Device::Cpu).unwrap();
    assert!(tensors.keys().all(|k| k.starts_with("text_model.")));
    let stripped: std::collections::HashMap<String, candle_core::Tensor> =
        tensors.into_iter().map(|(k, v)| (k["text_model.".len()..].to_string(), v)).collect();
    candle_core::safetensors::save(&stripped, &file).unwrap();

    let a = DiffusionEngine::load_with(&old, &NO_CACHE).unwrap();
    let b = DiffusionEngine::load_with(&new, &NO_CACHE).expect("a transformers 5 text encoder loads");
    assert!(generate(&a, &recipe(&a, Scheduler::Ddim)) == generate(&b, &recipe(&b, Scheduler::Ddim)));

    // A file with neither layout still names the tensor it lacks.
    let renamed: std::collections::HashMap<String, candle_core::Tensor> =
        stripped.into_iter().map(|(k, v)| (k.replace("token_embedding", "tok_embedding"), v)).collect();
    candle_core::safetensors::save(&renamed, &file).unwrap();
    let err = load_err(&new).to_string();
    assert!(err.contains("token_embedding"), "{err}");
}

/// A full-size single file with the tensor names and shapes of `<family>-shapes.json` and no
/// data (a sparse file: gigabytes that take no disk), and a hash cache that already knows it,
/// so loading checks the whole layout against the architecture without reading or hashing
/// gigabytes of zeros.
fn sparse_checkpoint(dir: &Path, family: &str) -> (PathBuf, LoadOptions, serde_json::Value) {
    sparse_checkpoint_edited(dir, family, |_| {})
}

fn sparse_checkpoint_edited(
    dir: &Path,
    family: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> (PathBuf, LoadOptions, serde_json::Value) {
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(&format!("{family}-shapes.json"))).unwrap()).unwrap();
    edit(&mut spec["tensors"]);
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, shape) in spec["tensors"].as_object().unwrap() {
        let shape: Vec<usize> = serde_json::from_value(shape.clone()).unwrap();
        let bytes = shape.iter().product::<usize>() * 2;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    let mut text = serde_json::Value::Object(header).to_string();
    while !(text.len()).is_multiple_of(8) {
        text.push(' ');
    }
    let path = dir.join(format!("{family}.safetensors"));
    let mut f = std::fs::File::create(&path).unwrap();
    std::io::Write::write_all(&mut f, &(text.len() as u64).to_le_bytes()).unwrap();
    std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
    f.set_len((8 + text.len() + offset) as u64).unwrap();
    drop(f);
    let meta = std::fs::metadata(&path).unwrap();
    let mtime = meta.modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let cache = dir.join("hashes.json");
    let key = path.canonicalize().unwrap().to_string_lossy().into_owned();
    let entry = serde_json::json!({"size": meta.len(), "mtime_ns": mtime, "sha256": "ab".repeat(32)});
    std::fs::write(&cache, serde_json::json!({"files": {key: entry}}).to_string()).unwrap();
    (path, LoadOptions { hash_cache: HashCacheLocation::File(cache) }, spec["params"].clone())
}

#[test]
fn full_size_sd15_and_sd21_layouts_load() {
    let dir = tempfile::tempdir().unwrap();
    for family in ["sd15", "sd21"] {
        let (path, opts, params) = sparse_checkpoint(dir.path(), family);
        let e = DiffusionEngine::load_with(&path, &opts).unwrap_or_else(|e| panic!("{family}: {e}"));
        let f = e.folder();
        // Every parameter of diffusers' models, found under the LDM names.
        assert_eq!(f.params.unet, params["unet"].as_u64().unwrap(), "{family}");
        assert_eq!(f.params.vae, params["vae"].as_u64().unwrap(), "{family}");
        assert_eq!(f.params.text, params["text_encoder"].as_u64().unwrap(), "{family}");
        assert_eq!(e.model_ref().short_hash(), "abababab".to_string() + "ab");
        let heads: Vec<usize> = f.unet_arch.config.blocks.iter().map(|b| b.attention_head_dim).collect();
        let v = f.schedule.prediction == chrysalis_art::diffusion::scheduler::Prediction::VPrediction;
        if family == "sd15" {
            assert_eq!(heads, [8, 8, 8, 8]);
            assert!(!f.unet_arch.config.use_linear_projection && !v);
        } else {
            assert_eq!(heads, [5, 10, 20, 20]);
            assert!(f.unet_arch.config.use_linear_projection);
            assert!(v, "SD 2.x without a yaml is taken as the 768 px v-prediction model");
            assert!(matches!(f.text_arch.clip.activation, chrysalis_art::diffusion::clip::Activation::Gelu));
            // An adjacent LDM yaml decides: the 512 px base config has no `parameterization`.
            std::fs::write(path.with_extension("yaml"), "model:\n  params:\n    linear_start: 0.00085\n").unwrap();
            let mut opts = opts.clone();
            opts.hash_cache = HashCacheLocation::File(dir.path().join("hashes.json"));
            let base = DiffusionEngine::load_with(&path, &opts).unwrap();
            assert_eq!(base.folder().schedule.prediction, chrysalis_art::diffusion::scheduler::Prediction::Epsilon);
            assert!(base.model_ref().files.contains_key("checkpoint.yaml"));
        }
    }
}

#[test]
fn inpainting_and_instruct_checkpoints_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for channels in [9, 8] {
        let (path, opts, _) = sparse_checkpoint_edited(dir.path(), "sd15", |t| {
            t["model.diffusion_model.input_blocks.0.0.weight"] = serde_json::json!([320, channels, 3, 3]);
        });
        let err = DiffusionEngine::load_with(&path, &opts).unwrap_err().to_string();
        assert!(err.contains("inpainting") && err.contains(&format!("`in_channels` {channels}")), "{err}");
        assert!(err.contains("sd15.safetensors"), "{err}");
    }
}
