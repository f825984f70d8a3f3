//! The art commands, run as a user runs them: `generate`, `recipe`, `regenerate`.

use assert_cmd::Command;
use predicates::prelude::*;

fn chrysalis() -> Command {
    let mut cmd = Command::cargo_bin("chrysalis").unwrap();
    cmd.env_remove("RUST_LOG");
    cmd
}

#[test]
fn generate_then_recipe_then_regenerate_check() {
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("moth.png");
    let png = png.to_str().unwrap();
    chrysalis()
        .args(["generate", "--style", "growth", "--param", "palette=1", "-p", "roots=2", "--seed", "7"])
        .args(["--size", "256x256", "--stage", "1", "--prompt", "Moth #7", "--out", png])
        .assert()
        .success()
        .stdout(predicate::str::contains("Wrote"))
        .stdout(predicate::str::contains("Palette: Sumi"));

    let out = chrysalis().args(["recipe", png, "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let recipe: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(recipe["engine"]["kind"], "procedural");
    assert_eq!(recipe["engine"]["style"], "growth");
    assert_eq!(recipe["engine"]["params"]["roots"], 2.0);
    assert_eq!(recipe["seed"], 7);
    assert_eq!(recipe["stage"], 1);
    assert_eq!(recipe["width"], 256);
    assert_eq!(recipe["prompt"], "Moth #7");
    // What --json prints is a recipe the library accepts as it is.
    chrysalis_core::Recipe::from_json(&String::from_utf8(out.stdout).unwrap()).unwrap();

    chrysalis()
        .args(["recipe", png])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^Style\s+growth$").unwrap())
        .stdout(predicate::str::contains("Recipe hash"));

    chrysalis().args(["regenerate", png, "--check"]).assert().success().stdout(predicate::str::contains("identical"));

    // Without --check it writes a copy: the same bytes.
    let copy = tmp.path().join("copy.png");
    chrysalis().args(["regenerate", png, "--out", copy.to_str().unwrap()]).assert().success();
    assert_eq!(std::fs::read(png).unwrap(), std::fs::read(&copy).unwrap());
}

#[test]
fn tampered_pixels_fail_the_check() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.png");
    chrysalis()
        .args(["generate", "--style", "flow-field", "--seed", "3", "--size", "256", "--out", path.to_str().unwrap()])
        .assert()
        .success();
    // Change one pixel and write it back with the same recipe inside.
    let bytes = std::fs::read(&path).unwrap();
    let recipe = chrysalis_art::png_meta::recipe_from_png(&bytes).unwrap();
    let mut img = chrysalis_art::png_meta::decode_rgb(&bytes, "a.png").unwrap();
    let p = img.get_pixel_mut(100, 100);
    p[0] = p[0].wrapping_add(9);
    std::fs::write(&path, chrysalis_art::png_meta::encode_png(&img, &recipe).unwrap()).unwrap();
    chrysalis()
        .args(["regenerate", path.to_str().unwrap(), "--check"])
        .assert()
        .failure()
        .stdout(predicate::str::contains("DIFFERENT"))
        .stderr(predicate::str::contains("the pixels differ"));

    // A PNG that is not Chrysalis': a clear error.
    let plain = tmp.path().join("plain.png");
    img.save(&plain).unwrap();
    chrysalis()
        .args(["recipe", plain.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("has no Chrysalis recipe"));
}

#[test]
fn json_output_and_random_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("r.png");
    let out = chrysalis()
        .args([
            "generate",
            "--json",
            "--style",
            "flow-field",
            "--width",
            "256",
            "--height",
            "320",
            "--out",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let seed = v["seed"].as_u64().unwrap();
    assert!(seed < 1 << 32);
    assert_eq!(v["recipe"]["seed"], seed);
    assert_eq!(v["recipe"]["height"], 320);
    assert_eq!(v["recipe_hash"].as_str().unwrap().len(), 64);
    assert!(v["attributes"].as_array().unwrap().iter().any(|a| a["trait_type"] == "Style"));

    // Without --json a random seed is announced on stderr.
    chrysalis()
        .args(["generate", "--size", "256", "--out", tmp.path().join("s.png").to_str().unwrap()])
        .assert()
        .success()
        .stderr(predicate::str::is_match(r"seed \d+").unwrap());
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.png");
    let out = out.to_str().unwrap();
    let fails = |args: &[&str], why: &str| {
        chrysalis()
            .args(args)
            .args(["--out", out])
            .assert()
            .failure()
            .stderr(predicate::str::contains(why.to_string()));
    };
    fails(&["generate", "-p", "bogus=1"], "has no parameter \"bogus\"");
    fails(&["generate", "-p", "density=9"], "out of range");
    fails(&["generate", "-p", "density"], "is not NAME=VALUE");
    fails(&["generate", "--size", "100x100"], "256 to 2048");
    fails(&["generate", "--size", "big"], "not a size");
    fails(&["generate", "--style", "nope"], "unknown procedural style");
    fails(&["generate", "--stage", "12"], "stage 12");
    fails(&["generate", "--engine", "diffusion"], "--model PATH");
    assert!(!std::path::Path::new(out).exists(), "nothing is written on error");
    chrysalis().args(["regenerate", "x.png"]).assert().failure().stderr(predicate::str::contains("--out"));
}

/// A tiny diffusion model written by the seeded test helper and loaded through the
/// production loader: txt2img then img2img (an evolution stage) both regenerate to the same
/// bytes from the recipes inside their PNGs, and a recipe for other weights is refused.
#[test]
fn tiny_diffusion_sample_regenerates_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny-sd");
    chrysalis_art::diffusion::testing::write_tiny_model(&model, 7).unwrap();
    let model = model.to_str().unwrap();
    let stage0 = tmp.path().join("stage0.png");
    let stage0 = stage0.to_str().unwrap();
    chrysalis()
        .args(["generate", "--model", model, "--prompt", "a pale moth", "--negative", "blur"])
        .args(["--seed", "11", "--steps", "4", "--guidance", "3", "--scheduler", "euler-ancestral"])
        .args(["--size", "64x64", "--out", stage0])
        .assert()
        .success();
    chrysalis()
        .args(["regenerate", stage0, "--model", model, "--check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("identical"));

    let out = chrysalis().args(["recipe", stage0, "--json"]).output().unwrap();
    let recipe: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(recipe["engine"]["kind"], "diffusion");
    assert_eq!(recipe["engine"]["scheduler"], "euler_ancestral");
    assert!(
        recipe["engine"]["model"]["files"].as_object().unwrap().len() >= 4,
        "every weight file is hashed: {recipe}"
    );

    // Stage 1 grows out of stage 0 by img2img.
    let stage1 = tmp.path().join("stage1.png");
    let stage1 = stage1.to_str().unwrap();
    chrysalis()
        .args(["generate", "--model", model, "--prompt", "a pale moth, wings open", "--seed", "11"])
        .args(["--steps", "4", "--scheduler", "ddim", "--size", "64x64", "--stage", "1"])
        .args(["--init", stage0, "--strength", "0.5", "--out", stage1])
        .assert()
        .success();
    chrysalis()
        .args(["regenerate", stage1, "--model", model, "--init", stage0, "--check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("identical"));

    // Different weights: the recipe's file hashes no longer match, and the check says so.
    let other = tmp.path().join("other-sd");
    chrysalis_art::diffusion::testing::write_tiny_model(&other, 8).unwrap();
    chrysalis().args(["regenerate", stage0, "--model", other.to_str().unwrap(), "--check"]).assert().failure();
}

fn single_file_fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../art/tests/fixtures/single_file/sd1-tiny.safetensors")
}

/// A model that does not load is reported once: the library error names its cause in its own
/// message, and the CLI used to print that cause again from the error's source chain.
#[test]
fn a_bad_model_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("model_index.json"), r#"{"_class_name": "StableDiffusionPipeline"}"#).unwrap();
    let out = tmp.path().join("x.png");
    let run = |model: &std::path::Path, says: &str| {
        let o = chrysalis()
            .args(["generate", "--model", model.to_str().unwrap(), "--prompt", "x", "--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!o.status.success());
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(stderr.matches(says).count(), 1, "{stderr}");
        assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    };
    run(tmp.path(), "unet/config.json does not exist");
    let corrupt = tmp.path().join("broken.safetensors");
    std::fs::write(&corrupt, b"\x10\0\0\0\0\0\0\0{not json at all").unwrap();
    run(&corrupt, "is not a valid safetensors file");
}

/// A single-file checkpoint (LDM names, as A1111 / ComfyUI / Civitai share them) generates,
/// records its SHA-256 (A1111's hash in the PNG), and regenerates identically from the file.
#[test]
fn a_single_file_checkpoint_generates_and_regenerates() {
    let tmp = tempfile::tempdir().unwrap();
    let model = single_file_fixture();
    let model = model.to_str().unwrap();
    let png = tmp.path().join("moth.png");
    let png = png.to_str().unwrap();
    chrysalis()
        .args(["generate", "--model", model, "--prompt", "a photo of a moth", "--seed", "5", "--steps", "3"])
        .args(["--size", "64x64", "--out", png])
        .assert()
        .success();
    let out = chrysalis().args(["recipe", png, "--json"]).output().unwrap();
    let recipe: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sha = recipe["engine"]["model"]["files"]["checkpoint.safetensors"].as_str().unwrap().to_string();
    assert_eq!(recipe["engine"]["model"]["files"].as_object().unwrap().len(), 1, "{recipe}");
    let bytes = std::fs::read(png).unwrap();
    let chunks = chrysalis_art::png_meta::png_text_chunks(&bytes).unwrap();
    let params = &chunks.iter().find(|(k, _)| k == "parameters").unwrap().1;
    assert!(params.contains(&format!("Model hash: {}", &sha[..10])), "{params}");
    chrysalis()
        .args(["regenerate", png, "--model", model, "--check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("identical"));
}

/// A named pipe would block `read` until a writer opened it: `recipe` refuses it at once,
/// saying what it is, instead of hanging.
#[cfg(unix)]
#[test]
fn recipe_refuses_a_fifo_instead_of_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("pipe.png");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    chrysalis()
        .args(["recipe", fifo.to_str().unwrap()])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .failure()
        .stderr(predicate::str::contains("named pipe (FIFO), not a regular file"));
    // A folder is refused the same way.
    chrysalis()
        .args(["recipe", tmp.path().to_str().unwrap()])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .failure()
        .stderr(predicate::str::contains("a folder, not a regular file"));
}

/// `generate --init-latents` on the diffusers-written SD 1.5-style fixture
/// (crates/art/tests/fixtures/diffusers/sd15, see crates/art/tests/diffusers_equivalence.rs):
/// starting from diffusers' own latents, the CLI's PNG is diffusers' DDIM image to within
/// one 8-bit level, and carries no recipe. Bad latents files are refused, naming the problem,
/// and nothing is written.
#[test]
fn generate_from_init_latents_matches_diffusers_and_refuses_bad_files() {
    use safetensors::tensor::{Dtype, TensorView};
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../art/tests/fixtures/diffusers/sd15");
    let reference_bytes = std::fs::read(fixture.join("reference.safetensors")).unwrap();
    let reference = safetensors::SafeTensors::deserialize(&reference_bytes).unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("reference.json")).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, tensors: Vec<(&str, TensorView)>| {
        let path = tmp.path().join(name);
        std::fs::write(&path, safetensors::tensor::serialize(tensors, None).unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let noise = reference.tensor("init_noise").unwrap();
    let latents = write("noise.safetensors", vec![("latents", noise.clone())]);
    let out = tmp.path().join("from-latents.png");
    let model = fixture.to_str().unwrap();
    let run = |latents: &str, out: &std::path::Path| {
        let mut cmd = chrysalis();
        cmd.args(["generate", "--model", model, "--init-latents", latents, "--out", out.to_str().unwrap()])
            .args([
                "--prompt",
                meta["prompt"].as_str().unwrap(),
                "--negative",
                meta["negative_prompt"].as_str().unwrap(),
            ])
            .args(["--guidance", &meta["guidance"].to_string(), "--scheduler", "ddim", "--seed", "1"])
            .args(["--steps", &meta["runs"]["ddim"]["steps"].to_string(), "--size", "128"]);
        cmd
    };
    run(&latents, &out).assert().success().stdout(predicate::str::contains("carries no recipe"));

    let png = std::fs::read(&out).unwrap();
    let ours = chrysalis_art::png_meta::decode_rgb(&png, "output").unwrap();
    let theirs = reference.tensor("ddim_image").unwrap();
    let values: Vec<f32> =
        theirs.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let plane = 128 * 128;
    for (i, px) in ours.pixels().enumerate() {
        for c in 0..3 {
            let want = (((values[c * plane + i] / 2.0 + 0.5).clamp(0.0, 1.0)) * 255.0).round() as u8;
            assert!(px[c].abs_diff(want) <= 1, "pixel {i} channel {c}: {} vs diffusers' {want}", px[c]);
        }
    }
    chrysalis().args(["recipe", out.to_str().unwrap()]).assert().failure();

    // Wrong shape, wrong dtype, several unnamed tensors, not safetensors: refused, nothing written.
    let bad_out = tmp.path().join("bad.png");
    let small: Vec<u8> = noise.data()[..4 * 4 * 8 * 8].to_vec();
    let cases = [
        (
            write("small.safetensors", vec![("x", TensorView::new(Dtype::F32, vec![1, 4, 8, 8], &small).unwrap())]),
            "[1, 4, 8, 8]",
        ),
        (
            write(
                "half.safetensors",
                vec![("x", TensorView::new(Dtype::F16, vec![1, 4, 16, 32], noise.data()).unwrap())],
            ),
            "must be F32",
        ),
        (write("two.safetensors", vec![("a", noise.clone()), ("b", noise.clone())]), "none is named `latents`"),
        (fixture.join("reference.json").to_str().unwrap().to_string(), "not a safetensors file"),
    ];
    for (file, says) in cases {
        run(&file, &bad_out).assert().failure().stderr(predicate::str::contains(says));
        assert!(!bad_out.exists(), "nothing is written for {file}");
    }
    chrysalis()
        .args(["generate", "--init-latents", &latents, "--out", bad_out.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--init-latents and --lora are for the diffusion engine"));
}

/// `generate --lora FILE:WEIGHT` on the sd15 fixture with its kohya LoRA
/// (crates/art/tests/fixtures/diffusers/sd15/lora, see diffusers_equivalence.rs): from
/// diffusers' starting latents the PNG is diffusers' `load_lora_weights` image at 0.8 to within
/// one 8-bit level (and not without the LoRA); a seeded run's recipe records the LoRA's SHA-256
/// and weight and regenerates byte for byte given the file; a LoRA for another architecture
/// is refused naming its key, writing nothing.
#[test]
fn generate_with_a_lora_matches_diffusers_records_it_and_regenerates() {
    use safetensors::tensor::{Dtype, TensorView};
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../art/tests/fixtures/diffusers/sd15");
    let reference_bytes = std::fs::read(fixture.join("reference.safetensors")).unwrap();
    let reference = safetensors::SafeTensors::deserialize(&reference_bytes).unwrap();
    let lora_ref_bytes = std::fs::read(fixture.join("lora/reference.safetensors")).unwrap();
    let lora_ref = safetensors::SafeTensors::deserialize(&lora_ref_bytes).unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("reference.json")).unwrap()).unwrap();
    let lora_meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("lora/reference.json")).unwrap()).unwrap();
    let lora_file = fixture.join("lora").join(lora_meta["lora"].as_str().unwrap());
    let lora = lora_file.to_str().unwrap();
    let lora_arg = format!("{lora}:{}", lora_meta["weight"]);
    let tmp = tempfile::tempdir().unwrap();
    let latents = tmp.path().join("noise.safetensors");
    std::fs::write(
        &latents,
        safetensors::tensor::serialize([("latents", reference.tensor("init_noise").unwrap())], None).unwrap(),
    )
    .unwrap();
    let model = fixture.to_str().unwrap();
    let run = |extra: &[&str], out: &std::path::Path| {
        let mut cmd = chrysalis();
        cmd.args(["generate", "--model", model, "--out", out.to_str().unwrap()])
            .args([
                "--prompt",
                meta["prompt"].as_str().unwrap(),
                "--negative",
                meta["negative_prompt"].as_str().unwrap(),
            ])
            .args(["--guidance", &meta["guidance"].to_string(), "--scheduler", "ddim", "--seed", "1"])
            .args(["--steps", &lora_meta["ddim_steps"].to_string(), "--size", "128"])
            .args(extra);
        cmd
    };
    let theirs = lora_ref.tensor("ddim_image").unwrap();
    let values: Vec<f32> =
        theirs.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let worst = |png: &std::path::Path| {
        let ours = chrysalis_art::png_meta::decode_rgb(&std::fs::read(png).unwrap(), "output").unwrap();
        let plane = 128 * 128;
        let mut worst = 0u8;
        for (i, px) in ours.pixels().enumerate() {
            for c in 0..3 {
                let want = (((values[c * plane + i] / 2.0 + 0.5).clamp(0.0, 1.0)) * 255.0).round() as u8;
                worst = worst.max(px[c].abs_diff(want));
            }
        }
        worst
    };
    let with = tmp.path().join("with-lora.png");
    run(&["--lora", &lora_arg, "--init-latents", latents.to_str().unwrap()], &with).assert().success();
    assert!(worst(&with) <= 1, "with the LoRA, an 8-bit value differs from diffusers' by {}", worst(&with));
    let without = tmp.path().join("without-lora.png");
    run(&["--init-latents", latents.to_str().unwrap()], &without).assert().success();
    assert!(worst(&without) > 20, "without the LoRA the image must be far from diffusers' LoRA image");

    // A seeded run: the recipe records the LoRA, and regenerates given the same file.
    let seeded = tmp.path().join("seeded.png");
    run(&["--lora", &lora_arg], &seeded).assert().success();
    let out = chrysalis().args(["recipe", seeded.to_str().unwrap(), "--json"]).output().unwrap();
    let recipe: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sha = chrysalis_art::diffusion::hashing::sha256_file(&lora_file).unwrap();
    assert_eq!(
        recipe["engine"]["loras"],
        serde_json::json!([{"name": "tiny_kohya.safetensors", "sha256": sha, "weight": 0.8}])
    );
    let regen = |extra: &[&str]| {
        let mut cmd = chrysalis();
        cmd.args(["regenerate", seeded.to_str().unwrap(), "--check", "--model", model]).args(extra);
        cmd
    };
    regen(&["--lora", lora]).assert().success().stdout(predicate::str::contains("identical"));
    regen(&[])
        .assert()
        .failure()
        .stderr(predicate::str::contains("applies 1 LoRA").and(predicate::str::contains(&sha)));
    // Another file in the LoRA's place is refused by its hash.
    let other = tmp.path().join("other.safetensors");
    let mut bytes = std::fs::read(&lora_file).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    std::fs::write(&other, bytes).unwrap();
    regen(&["--lora", other.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("LoRAs are not the ones loaded"));

    // An SDXL LoRA (two text encoders) is refused before anything runs, naming the key.
    let sdxl = tmp.path().join("sdxl.safetensors");
    let zeros = vec![0u8; 4 * 32 * 2];
    let key = "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight";
    let view = TensorView::new(Dtype::F16, vec![4, 32], &zeros).unwrap();
    std::fs::write(&sdxl, safetensors::tensor::serialize([(key, view)], None).unwrap()).unwrap();
    let refused = tmp.path().join("refused.png");
    run(&["--lora", sdxl.to_str().unwrap()], &refused)
        .assert()
        .failure()
        .stderr(predicate::str::contains(key).and(predicate::str::contains("SDXL")));
    assert!(!refused.exists());
    // The procedural engine takes no LoRA.
    chrysalis()
        .args(["generate", "--lora", lora, "--out", refused.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--lora are for the diffusion engine"));
}

/// Few-step models: `model-info` says which sampler, steps and guidance a model expects
/// (from an LCMScheduler config, or a `chrysalis.json` hint), `generate` defaults to them,
/// the LCM run regenerates identically, and a run far from the hint gets a note.
#[test]
fn few_step_models_are_described_and_generate_with_their_hinted_sampling() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny-sd");
    chrysalis_art::diffusion::testing::write_tiny_model(&model, 7).unwrap();
    let sched = model.join("scheduler/scheduler_config.json");
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&sched).unwrap()).unwrap();
    cfg["_class_name"] = "LCMScheduler".into();
    std::fs::write(&sched, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let model = model.to_str().unwrap();

    let out = chrysalis().args(["model-info", model, "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &info["sampling"];
    assert_eq!((s["family"].as_str(), s["scheduler"].as_str()), (Some("LCM"), Some("lcm")), "{info}");
    assert_eq!(
        (s["steps"].as_u64(), s["guidance"].as_f64(), s["guidance_off"].as_bool()),
        (Some(4), Some(1.0), Some(true))
    );
    chrysalis().args(["model-info", model]).assert().success().stdout(
        predicate::str::contains("LCM, 4 steps, guidance 1 (off)").and(predicate::str::contains("LCMScheduler")),
    );

    // No --steps/--guidance/--scheduler: the model's hint.
    let png = tmp.path().join("lcm.png");
    let png = png.to_str().unwrap();
    chrysalis()
        .args(["generate", "--model", model, "--prompt", "a pale moth", "--seed", "3", "--size", "64x64", "--out", png])
        .assert()
        .success()
        .stderr(predicate::str::contains("note:").not());
    let out = chrysalis().args(["recipe", png, "--json"]).output().unwrap();
    let recipe: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(recipe["engine"]["scheduler"], "lcm");
    assert_eq!((recipe["engine"]["steps"].as_u64(), recipe["engine"]["guidance"].as_f64()), (Some(4), Some(1.0)));
    chrysalis()
        .args(["regenerate", png, "--model", model, "--check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("identical"));

    // Far from the hint: it runs, with a note saying what the model expects.
    let burnt = tmp.path().join("burnt.png");
    chrysalis()
        .args(["generate", "--model", model, "--seed", "3", "--size", "64x64", "--steps", "12", "--guidance", "7.5"])
        .args(["--out", burnt.to_str().unwrap()])
        .assert()
        .success()
        .stderr(predicate::str::contains("note: this LCM model expects LCM, 4 steps"));
    // More LCM steps than the distillation schedule has: refused, naming the limit.
    chrysalis()
        .args([
            "generate",
            "--model",
            model,
            "--seed",
            "3",
            "--size",
            "64x64",
            "--steps",
            "60",
            "--out",
            burnt.to_str().unwrap(),
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("at most 50 steps").and(predicate::str::contains("original_inference_steps")));

    // A hint file: a turbo-style model (Euler a, 1 step, guidance 0).
    std::fs::write(
        std::path::Path::new(model).join("chrysalis.json"),
        r#"{"scheduler": "euler_ancestral", "steps": 1, "max_steps": 4, "guidance": 0, "note": "SD-Turbo style"}"#,
    )
    .unwrap();
    chrysalis().args(["model-info", model]).assert().success().stdout(
        predicate::str::contains("Euler a, 1 step, guidance 0 (off)").and(predicate::str::contains("SD-Turbo style")),
    );
    let turbo = tmp.path().join("turbo.png");
    chrysalis()
        .args([
            "generate",
            "--model",
            model,
            "--seed",
            "3",
            "--size",
            "64x64",
            "--out",
            turbo.to_str().unwrap(),
            "--json",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("\"scheduler\": \"euler_ancestral\"")
                .and(predicate::str::contains("\"steps\": 1,")),
        );
}

/// Devices: `devices` lists the CPU with its memory; a GPU in a build without CUDA, or a
/// device name that means nothing, is refused before anything is written; a recipe made on
/// a GPU (edited into a PNG's recipe here) is refused on the CPU with the device to use.
#[test]
fn devices_are_listed_and_a_gpu_the_build_lacks_is_refused_by_name() {
    let out = chrysalis().args(["devices", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view["devices"][0]["id"], "cpu", "{view}");
    assert!(view["devices"][0]["free_bytes"].as_u64().unwrap() > 0, "{view}");
    let cuda_in_build = view["cuda_in_build"].as_bool().unwrap();
    assert_eq!(cuda_in_build, chrysalis_art::diffusion::cuda_compiled());
    chrysalis()
        .arg("devices")
        .assert()
        .success()
        .stdout(predicate::str::contains("CPU (").and(predicate::str::contains("GiB free")));

    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny-sd");
    chrysalis_art::diffusion::testing::write_tiny_model(&model, 7).unwrap();
    let model = model.to_str().unwrap();
    let png = tmp.path().join("gpu.png");
    let base = ["generate", "--model", model, "--seed", "3", "--size", "64x64", "--steps", "2", "--out"];
    chrysalis()
        .args(base)
        .arg(&png)
        .args(["--device", "tpu:0"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("unknown device 'tpu:0': use cpu, cuda (the first GPU) or cuda:N"));
    if !cuda_in_build {
        chrysalis()
            .args(base)
            .arg(&png)
            .args(["--device", "cuda:0"])
            .assert()
            .failure()
            .stderr(predicate::str::contains("compiled without CUDA").and(predicate::str::contains("setup-cuda.sh")));
    }
    assert!(!png.exists(), "nothing is written for a refused device");

    // A CPU image, then its recipe claiming a GPU: regenerate refuses it and says where it runs.
    chrysalis().args(base).arg(&png).args(["--device", "cpu"]).assert().success();
    let out = chrysalis().args(["recipe", png.to_str().unwrap(), "--json"]).output().unwrap();
    let mut recipe: chrysalis_core::Recipe = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("device"), "a CPU recipe has no device key");
    let chrysalis_core::recipe::EngineSpec::Diffusion(spec) = &mut recipe.engine else { unreachable!() };
    spec.device = chrysalis_core::recipe::DeviceClass::Cuda;
    let image = chrysalis_art::png_meta::decode_rgb(&std::fs::read(&png).unwrap(), "gpu.png").unwrap();
    let gpu_png = tmp.path().join("claims-gpu.png");
    chrysalis_art::png_meta::write_png(&gpu_png, &image, &recipe).unwrap();
    if !cuda_in_build {
        chrysalis()
            .args(["regenerate", gpu_png.to_str().unwrap(), "--model", model, "--check"])
            .assert()
            .failure()
            .stderr(predicate::str::contains("made on the CUDA").and(predicate::str::contains("--device cuda")));
    }
    chrysalis()
        .args(["regenerate", gpu_png.to_str().unwrap(), "--model", model, "--check", "--device", "cpu"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("made on the CUDA"));
}

/// Backends: `devices` lists candle, and libtorch with whether this build has it (the
/// devices report as before, one key more). In a build without libtorch, `generate --backend
/// torch` is refused naming the build to make, before anything is written, and a recipe
/// recording `"backend":"torch"` (edited into a PNG's recipe here) is refused by
/// `regenerate` the same way. A build with libtorch makes and regenerates such an image.
#[test]
fn backends_are_listed_and_libtorch_the_build_lacks_is_refused_by_name() {
    let out = chrysalis().args(["devices", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view["devices"][0]["id"], "cpu", "{view}");
    assert!(view["cuda_in_build"].is_boolean(), "{view}");
    let torch_in_build = chrysalis_art::diffusion::torch_compiled();
    assert_eq!(
        view["backends"],
        serde_json::json!([
            { "id": "candle", "label": "candle", "in_build": true },
            { "id": "torch", "label": "libtorch", "in_build": torch_in_build },
        ]),
        "{view}"
    );
    let text = chrysalis().arg("devices").assert().success();
    if torch_in_build {
        text.stdout(predicate::str::is_match(r"(?m)^backends\s+candle, libtorch$").unwrap());
    } else {
        text.stdout(predicate::str::is_match(r"(?m)^backends\s+candle$").unwrap().and(
            predicate::str::is_match(r"(?m)^libtorch\s+not in this build \(scripts/setup-torch.sh --build").unwrap(),
        ));
    }

    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny-sd");
    chrysalis_art::diffusion::testing::write_tiny_model(&model, 7).unwrap();
    let model = model.to_str().unwrap();
    let png = tmp.path().join("torch.png");
    let base = ["generate", "--model", model, "--seed", "3", "--size", "64x64", "--steps", "2", "--out"];
    chrysalis()
        .args(base)
        .arg(&png)
        .args(["--backend", "onnx"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("invalid value 'onnx'").and(predicate::str::contains("candle, torch")));
    chrysalis()
        .args(["generate", "--style", "growth", "--size", "256", "--backend", "torch", "--out"])
        .arg(&png)
        .assert()
        .failure()
        .stderr(predicate::str::contains("--backend torch is for the diffusion engine"));
    // libtorch runs on the CPU only, whatever the build.
    chrysalis()
        .args(base)
        .arg(&png)
        .args(["--backend", "torch", "--device", "cuda:0"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("CUDA").or(predicate::str::contains("libtorch")));
    if !torch_in_build {
        chrysalis().args(base).arg(&png).args(["--backend", "torch"]).assert().failure().stderr(
            predicate::str::contains("has no libtorch backend")
                .and(predicate::str::contains("scripts/setup-torch.sh"))
                .and(predicate::str::contains("candle backend")),
        );
    }
    assert!(!png.exists(), "nothing is written for a refused backend");

    // candle, named: the recipe has no backend key (recipes from before libtorch hash the same).
    chrysalis().args(base).arg(&png).args(["--backend", "candle"]).assert().success();
    let out = chrysalis().args(["recipe", png.to_str().unwrap(), "--json"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("backend"), "a candle recipe has no backend key");
    let mut recipe: chrysalis_core::Recipe = serde_json::from_slice(&out.stdout).unwrap();
    let chrysalis_core::recipe::EngineSpec::Diffusion(spec) = &mut recipe.engine else { unreachable!() };
    spec.backend = chrysalis_core::recipe::Backend::Torch;
    assert!(recipe.canonical_json().contains(r#""backend":"torch""#));
    let image = chrysalis_art::png_meta::decode_rgb(&std::fs::read(&png).unwrap(), "torch.png").unwrap();
    let torch_png = tmp.path().join("claims-torch.png");
    chrysalis_art::png_meta::write_png(&torch_png, &image, &recipe).unwrap();
    chrysalis()
        .args(["recipe", torch_png.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^Backend\s+libtorch$").unwrap());
    if torch_in_build {
        let made = tmp.path().join("made-by-torch.png");
        chrysalis().args(base).arg(&made).args(["--backend", "torch"]).assert().success();
        chrysalis()
            .args(["regenerate", made.to_str().unwrap(), "--model", model, "--check"])
            .assert()
            .success()
            .stdout(predicate::str::contains("identical"));
    } else {
        chrysalis()
            .args(["regenerate", torch_png.to_str().unwrap(), "--model", model, "--check"])
            .assert()
            .failure()
            .stderr(
                predicate::str::contains("has no libtorch backend")
                    .and(predicate::str::contains("scripts/setup-torch.sh")),
            );
    }
}
