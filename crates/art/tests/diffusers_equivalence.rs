//! The diffusion pipeline computes what diffusers computes.
//!
//! `tests/fixtures/diffusers/{sd15,sd2}` are small random-weight Stable Diffusion models
//! written by diffusers/transformers themselves (`scripts/make-diffusers-fixtures.sh`), with
//! diffusers' outputs for fixed inputs in `reference.safetensors` (and how they were made in
//! `reference.json`). Each folder is loaded here through the production loader and every
//! stage is compared: tokens, text encoder, one UNet call (twice: 16x16 and 9x11 latents),
//! one VAE decode, and whole DDIM, Euler and Euler-ancestral runs from diffusers' own
//! starting latents (`RunOptions::init_latents`) and, for Euler-ancestral, its per-step
//! noise (`RunOptions::step_noise`). `sd15/fewstep/` (`make_fewstep_fixtures.py`) adds
//! few-step runs without guidance: LCM in 1, 2 and 4 steps and SD-Turbo-style
//! Euler-ancestral with trailing spacing in 1 and 2 steps, each with the scheduler config
//! diffusers ran with (final latents within `TOL_RUN`; measured 5.4e-7–6.0e-7).
//!
//! `sd15` is SD 1.x's architecture (quick-GELU CLIP, conv projections, ε-prediction,
//! leading spacing); `sd2` is SD 2.x's (GELU CLIP, linear projections, per-block heads,
//! v-prediction, trailing spacing, `!` padding).
//!
//! Tolerances are relative L2 errors, `‖ours − diffusers‖ / ‖diffusers‖`, set about 3×
//! above what float32 rounding gives on this machine and well below what a real difference
//! gives (figures measured on the fixtures, x86-64, 2026-12):
//!
//! | stage           | now         | UNet GEGLU with tanh GELU | other slips                 |
//! |-----------------|-------------|---------------------------|-----------------------------|
//! | text encoder    | 2.5e-7–3.6e-7 | –                       | SD 2 CLIP with tanh: 2.0e-4 |
//! | one UNet call   | 1.2e-6      | 3.8e-5–4.0e-5             |                             |
//! | one VAE decode  | 2.4e-6–2.6e-6 | –                       |                             |
//! | whole run       | 1.5e-6–3.2e-6 | 2.0e-5–6.5e-5           | DDIM to the next listed timestep (trailing): 1.8e-3; Euler start σ as √(σ²+1) (trailing): 2.5e-3 |
//!
//! Final 8-bit images may differ by one level where a value sits on a rounding boundary
//! (0–5 of 49 152 values here), never more; an image check alone would not see the GELU.

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use chrysalis_art::GenProgress;
use chrysalis_art::diffusion::scheduler::Sampler;
use chrysalis_art::diffusion::{
    ComputeDevice, DiffusionEngine, DiffusionError, HashCacheLocation, LoadOptions, LoraSpec, RunOptions,
};
use chrysalis_core::CancelToken;
use chrysalis_core::recipe::{Backend, DType as RecipeDType, EngineSpec, RECIPE_FORMAT, Recipe, Scheduler};
use serde_json::Value;

const NO_CACHE: LoadOptions = LoadOptions { hash_cache: HashCacheLocation::Disabled };

/// Text encoder last hidden state (see the table above).
const TOL_TEXT: f64 = 2e-6;
/// One UNet call.
const TOL_UNET: f64 = 4e-6;
/// One VAE decode.
const TOL_VAE: f64 = 1e-5;
/// Final latents of a whole guided run (CFG 7.5 amplifies every difference).
const TOL_RUN: f64 = 8e-6;
/// Largest difference of one 8-bit channel value in the final image.
const TOL_PIXEL: u8 = 1;

struct Fixture {
    kind: &'static str,
    engine: DiffusionEngine,
    reference: HashMap<String, Tensor>,
    meta: Value,
}

/// The device the comparisons run on: the CPU, or what `CHRYSALIS_TEST_DEVICE` names
/// (`cuda:0` in a CUDA build, as `scripts/gpu-check.sh` runs them).
fn test_device() -> ComputeDevice {
    std::env::var("CHRYSALIS_TEST_DEVICE").map_or(ComputeDevice::Cpu, |d| d.parse().expect("CHRYSALIS_TEST_DEVICE"))
}

/// The backend whole runs (`generate_with`) compute with: candle, or what
/// `CHRYSALIS_TEST_BACKEND` names (`torch` in a build with the libtorch backend, as
/// `scripts/test-torch.sh` runs them). The component checks call candle's modules directly
/// either way; the runs cover every network of the chosen backend (text encoder, UNet and
/// VAE decode in each run, the VAE encoder in img2img).
fn test_backend() -> Backend {
    match std::env::var("CHRYSALIS_TEST_BACKEND").as_deref() {
        Err(_) | Ok("candle") => Backend::Candle,
        Ok("torch") => Backend::Torch,
        Ok(other) => panic!("CHRYSALIS_TEST_BACKEND={other}: expected candle or torch"),
    }
}

impl Fixture {
    fn load(kind: &'static str) -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diffusers").join(kind);
        let engine = DiffusionEngine::load_with(&dir, &NO_CACHE)
            .unwrap_or_else(|e| panic!("{kind}: the production loader refused diffusers' folder: {e}"))
            .on_device(test_device())
            .unwrap_or_else(|e| panic!("{kind}: {e}"))
            .with_backend(test_backend())
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let reference = candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu).unwrap();
        let meta = serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap()).unwrap();
        Self { kind, engine, reference, meta }
    }

    fn tensor(&self, name: &str) -> &Tensor {
        self.reference.get(name).unwrap_or_else(|| panic!("{}: reference.safetensors has no {name}", self.kind))
    }

    /// A reference tensor as input to a component on the engine's device.
    fn input(&self, name: &str) -> Tensor {
        self.tensor(name).to_device(self.dev()).unwrap()
    }

    fn dev(&self) -> &Device {
        self.engine.candle_device()
    }

    fn text(&self, key: &str) -> String {
        self.meta[key].as_str().unwrap_or_else(|| panic!("reference.json has no {key}")).to_string()
    }

    fn ids(&self, name: &str) -> Vec<u32> {
        let t = self.tensor(name).to_dtype(DType::I64).unwrap().flatten_all().unwrap();
        t.to_vec1::<i64>().unwrap().into_iter().map(|i| i as u32).collect()
    }

    fn recipe(&self, scheduler: Scheduler, steps: u32) -> Recipe {
        let spec = self.engine.spec(steps, self.meta["guidance"].as_f64().unwrap(), scheduler, RecipeDType::F32, None);
        Recipe {
            format: RECIPE_FORMAT,
            engine: EngineSpec::Diffusion(spec),
            seed: 0,
            width: self.meta["width"].as_u64().unwrap() as u32,
            height: self.meta["height"].as_u64().unwrap() as u32,
            stage: 0,
            prompt: self.text("prompt"),
            negative_prompt: self.text("negative_prompt"),
        }
    }
}

/// `‖a − b‖ / ‖b‖` over all elements (f64 accumulation).
fn rel_l2(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    let a: Vec<f32> = a.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let b: Vec<f32> = b.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let diff: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (diff / norm).sqrt()
}

fn check(kind: &str, what: &str, ours: &Tensor, theirs: &Tensor, tol: f64) {
    let err = rel_l2(ours, theirs);
    eprintln!("{kind} {what}: rel. L2 error {err:.2e} (tolerance {tol:.0e})");
    assert!(err < tol, "{kind} {what}: rel. L2 error {err:.3e} exceeds {tol:.0e}");
}

/// A `(1, 3, h, w)` image in [-1, 1] to 8-bit values as diffusers' `numpy_to_pil` makes
/// them (channel-interleaved, like `RgbImage`).
fn to_u8(image: &Tensor) -> Vec<u8> {
    let (_, c, h, w) = image.dims4().unwrap();
    let v: Vec<f32> = image.flatten_all().unwrap().to_vec1().unwrap();
    let mut out = vec![0u8; c * h * w];
    for i in 0..h * w {
        for ch in 0..c {
            out[i * c + ch] = (((v[ch * h * w + i] / 2.0 + 0.5).clamp(0.0, 1.0)) * 255.0).round() as u8;
        }
    }
    out
}

fn check_tokens_and_text(f: &Fixture) {
    let folder = f.engine.folder();
    let te = folder.text_encoder(DType::F32, f.dev()).unwrap();
    for (text_key, ids_name, embeds_name) in
        [("prompt", "prompt_ids", "prompt_embeds"), ("negative_prompt", "negative_ids", "negative_embeds")]
    {
        let ids = folder.tokenizer.encode(&f.text(text_key), "prompt").unwrap();
        assert_eq!(ids, f.ids(ids_name), "{}: token ids of the {text_key} differ from transformers'", f.kind);
        check(
            f.kind,
            &format!("text encoder ({text_key})"),
            &te.encode(&ids).unwrap(),
            f.tensor(embeds_name),
            TOL_TEXT,
        );
    }
}

fn check_unet(f: &Fixture) {
    let unet = f.engine.folder().unet(DType::F32, f.dev()).unwrap();
    let t = f.tensor("unet_timestep").to_vec1::<f32>().unwrap()[0] as f64;
    let out = unet.forward(&f.input("unet_sample"), t, &f.input("prompt_embeds")).unwrap();
    check(f.kind, "UNet call", &out, f.tensor("unet_out"), TOL_UNET);
    // 9x11 latents halve unevenly (9 -> 5 -> 3): each upsample must meet its skip's size.
    let odd = unet.forward(&f.input("unet_odd_sample"), t, &f.input("prompt_embeds")).unwrap();
    check(f.kind, "UNet call on 9x11 latents", &odd, f.tensor("unet_odd_out"), TOL_UNET);
}

fn check_vae(f: &Fixture) {
    let vae = f.engine.folder().vae(DType::F32, f.dev()).unwrap();
    let out = vae.decode(&f.input("vae_latents")).unwrap();
    check(f.kind, "VAE decode", &out, f.tensor("vae_out"), TOL_VAE);
}

fn check_run(f: &Fixture, name: &str, scheduler: Scheduler) {
    let steps = f.meta["runs"][name]["steps"].as_u64().unwrap() as u32;
    let recipe = f.recipe(scheduler, steps);
    // Euler-ancestral also gets diffusers' per-step noise, stored as (steps, 1, 4, h, w).
    let step_noise = (scheduler == Scheduler::EulerAncestral).then(|| {
        let all = f.tensor("euler_a_noise");
        (0..all.dim(0).unwrap()).map(|i| all.get(i).unwrap()).collect::<Vec<_>>()
    });
    let options = RunOptions { init_latents: Some(f.tensor("init_noise").clone()), step_noise };
    let out = f
        .engine
        .generate_with(&recipe, None, &options, &mut |_: &GenProgress| {}, &CancelToken::new())
        .unwrap_or_else(|e| panic!("{} {name}: {e}", f.kind));
    check(f.kind, &format!("{name} run, final latents"), &out.latents, f.tensor(&format!("{name}_latents")), TOL_RUN);
    let theirs = to_u8(f.tensor(&format!("{name}_image")));
    let ours = out.image.image.as_raw();
    let worst = ours.iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
    let off = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
    eprintln!("{} {name} run, 8-bit image: {off} of {} values differ, by at most {worst}", f.kind, ours.len());
    assert!(worst <= TOL_PIXEL, "{} {name}: an 8-bit value differs by {worst}", f.kind);
}

#[test]
fn sd15_tokens_and_text_encoder_match_transformers() {
    check_tokens_and_text(&Fixture::load("sd15"));
}

#[test]
fn sd2_tokens_and_text_encoder_match_transformers() {
    check_tokens_and_text(&Fixture::load("sd2"));
}

#[test]
fn sd15_unet_and_vae_match_diffusers() {
    let f = Fixture::load("sd15");
    check_unet(&f);
    check_vae(&f);
}

#[test]
fn sd2_unet_and_vae_match_diffusers() {
    let f = Fixture::load("sd2");
    check_unet(&f);
    check_vae(&f);
}

#[test]
fn sd15_ddim_euler_and_euler_ancestral_runs_match_diffusers() {
    let f = Fixture::load("sd15");
    check_run(&f, "ddim", Scheduler::Ddim);
    check_run(&f, "euler", Scheduler::Euler);
    check_run(&f, "euler_a", Scheduler::EulerAncestral);
}

#[test]
fn sd2_v_prediction_ddim_euler_and_euler_ancestral_runs_match_diffusers() {
    let f = Fixture::load("sd2");
    check_run(&f, "ddim", Scheduler::Ddim);
    check_run(&f, "euler", Scheduler::Euler);
    check_run(&f, "euler_a", Scheduler::EulerAncestral);
}

/// img2img (`scripts/diffusers-reference/make_img2img_fixture.py`): diffusers'
/// `StableDiffusionImg2ImgPipeline` with DDIM at strength 0.6 from a source image and given
/// noise. Both sides encode the source to the VAE posterior's mean; the run goes through the
/// production path (`generate_with` with the source and the noise as starting latents), so
/// the strength-to-timesteps mapping, the noising and the guided steps are all compared.
#[test]
fn sd15_img2img_matches_diffusers() {
    let f = Fixture::load("sd15");
    let dir = f.engine.folder().dir.join("img2img");
    let reference = candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu).unwrap();
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap()).unwrap();
    let source = image::open(dir.join("init.png")).unwrap().to_rgb8();
    let strength = meta["strength"].as_f64().unwrap();
    let init = chrysalis_core::recipe::InitImage { sha256: "00".repeat(32), strength };
    let spec = f.engine.spec(
        meta["steps"].as_u64().unwrap() as u32,
        f.meta["guidance"].as_f64().unwrap(),
        Scheduler::Ddim,
        RecipeDType::F32,
        Some(init),
    );
    let recipe = Recipe {
        engine: EngineSpec::Diffusion(spec),
        width: source.width(),
        height: source.height(),
        ..f.recipe(Scheduler::Ddim, 1)
    };
    let options = RunOptions { init_latents: Some(reference["noise"].clone()), step_noise: None };
    let out = f
        .engine
        .generate_with(&recipe, Some(&source), &options, &mut |_: &GenProgress| {}, &CancelToken::new())
        .unwrap();
    check("sd15", "img2img run, final latents", &out.latents, &reference["latents"], TOL_RUN);
    let theirs = to_u8(&reference["image"]);
    let worst = out.image.image.as_raw().iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
    eprintln!("sd15 img2img, 8-bit image: values differ by at most {worst}");
    assert!(worst <= TOL_PIXEL, "sd15 img2img: an 8-bit value differs by {worst}");

    // The comparison sees the strength: one step more of the schedule is far from diffusers.
    let EngineSpec::Diffusion(spec) = &recipe.engine else { unreachable!() };
    let mut stronger = spec.clone();
    stronger.init_image.as_mut().unwrap().strength = 0.7;
    let recipe = Recipe { engine: EngineSpec::Diffusion(stronger), ..recipe.clone() };
    let other = f
        .engine
        .generate_with(&recipe, Some(&source), &options, &mut |_: &GenProgress| {}, &CancelToken::new())
        .unwrap();
    let err = rel_l2(&other.latents, &reference["latents"]);
    assert!(err > 1000.0 * TOL_RUN, "strength 0.7 is only {err:.2e} from diffusers' 0.6 run");
}

#[test]
fn the_fixtures_were_run_with_the_schedulers_timesteps() {
    // diffusers' own timesteps, as recorded, must be the ones our sampler visits; otherwise
    // a matching image could hide compensating differences.
    for kind in ["sd15", "sd2"] {
        let f = Fixture::load(kind);
        for (name, scheduler) in
            [("ddim", Scheduler::Ddim), ("euler", Scheduler::Euler), ("euler_a", Scheduler::EulerAncestral)]
        {
            let run = &f.meta["runs"][name];
            let steps = run["steps"].as_u64().unwrap() as usize;
            let theirs: Vec<f64> = run["timesteps"].as_array().unwrap().iter().map(|t| t.as_f64().unwrap()).collect();
            let sampler = Sampler::new(scheduler, &f.engine.folder().schedule, steps, None);
            assert_eq!(sampler.timesteps(), theirs, "{kind} {name}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The starting-latents hook refuses what cannot start the run, naming the problem.

fn hook_error(f: &Fixture, latents: Tensor) -> String {
    let options = RunOptions { init_latents: Some(latents), ..Default::default() };
    let err = f
        .engine
        .generate_with(&f.recipe(Scheduler::Ddim, 2), None, &options, &mut |_: &GenProgress| {}, &CancelToken::new())
        .err()
        .expect("the run must be refused");
    match &err {
        chrysalis_art::ArtError::Diffusion(b) => {
            assert!(b.downcast_ref::<DiffusionError>().is_some(), "a DiffusionError inside: {err:?}");
        }
        other => panic!("expected a diffusion error, got {other:?}"),
    }
    err.to_string()
}

#[test]
fn init_latents_of_the_wrong_shape_dtype_or_value_are_refused() {
    let f = Fixture::load("sd15");
    let good = f.tensor("init_noise").clone();
    let msg = hook_error(&f, Tensor::zeros((1, 4, 8, 8), DType::F32, &Device::Cpu).unwrap());
    assert!(msg.contains("[1, 4, 8, 8]") && msg.contains("[1, 4, 16, 16]") && msg.contains("128x128"), "{msg}");
    let msg = hook_error(&f, good.to_dtype(DType::F16).unwrap());
    assert!(msg.contains("F16") && msg.contains("F32"), "{msg}");
    let mut values: Vec<f32> = good.flatten_all().unwrap().to_vec1().unwrap();
    values[5] = f32::NAN;
    let msg = hook_error(&f, Tensor::from_vec(values, (1, 4, 16, 16), &Device::Cpu).unwrap());
    assert!(msg.contains("1 NaN or infinite"), "{msg}");
}

#[test]
fn step_noise_must_be_one_fitting_tensor_per_euler_ancestral_step() {
    let f = Fixture::load("sd15");
    let noise = f.tensor("init_noise").clone();
    let run = |scheduler: Scheduler, step_noise: Vec<Tensor>| {
        let options = RunOptions { init_latents: None, step_noise: Some(step_noise) };
        let recipe = f.recipe(scheduler, 2);
        f.engine
            .generate_with(&recipe, None, &options, &mut |_: &GenProgress| {}, &CancelToken::new())
            .err()
            .unwrap()
            .to_string()
    };
    let msg = run(Scheduler::Ddim, vec![noise.clone(), noise.clone()]);
    assert!(msg.contains("only Euler-ancestral"), "{msg}");
    let msg = run(Scheduler::EulerAncestral, vec![noise.clone()]);
    assert!(msg.contains("1 tensors given for a run of 2 steps"), "{msg}");
    let small = Tensor::zeros((1, 4, 8, 8), DType::F32, &Device::Cpu).unwrap();
    let msg = run(Scheduler::EulerAncestral, vec![noise, small]);
    assert!(msg.contains("step 2") && msg.contains("[1, 4, 8, 8]"), "{msg}");
}

#[test]
fn init_latents_files_are_read_and_bad_ones_explained() {
    use chrysalis_art::diffusion::read_init_latents;
    let dir = tempfile::tempdir().unwrap();
    let noise = Tensor::arange(0f32, 16.0, &Device::Cpu).unwrap().reshape((1, 4, 2, 2)).unwrap();

    let one = dir.path().join("one.safetensors");
    noise.save_safetensors("anything", &one).unwrap();
    assert_eq!(rel_l2(&read_init_latents(&one).unwrap(), &noise), 0.0);

    let two = dir.path().join("two.safetensors");
    let other = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
    candle_core::safetensors::save(&HashMap::from([("latents", noise.clone()), ("extra", other.clone())]), &two)
        .unwrap();
    assert_eq!(read_init_latents(&two).unwrap().dims(), [1, 4, 2, 2], "the tensor named `latents` is taken");

    let ambiguous = dir.path().join("ambiguous.safetensors");
    candle_core::safetensors::save(&HashMap::from([("a", noise.clone()), ("b", other)]), &ambiguous).unwrap();
    let msg = read_init_latents(&ambiguous).unwrap_err().to_string();
    assert!(msg.contains("2 tensors (a, b)") && msg.contains("latents"), "{msg}");

    let f64_file = dir.path().join("f64.safetensors");
    noise.to_dtype(DType::F64).unwrap().save_safetensors("latents", &f64_file).unwrap();
    let msg = read_init_latents(&f64_file).unwrap_err().to_string();
    assert!(msg.contains("F64") && msg.contains("must be F32"), "{msg}");

    let npy = dir.path().join("noise.npy");
    std::fs::write(&npy, b"\x93NUMPY\x01\x00").unwrap();
    let msg = read_init_latents(&npy).unwrap_err().to_string();
    assert!(msg.contains("noise.npy") && msg.contains("not a safetensors file"), "{msg}");

    let missing = read_init_latents(&dir.path().join("nope.safetensors")).unwrap_err().to_string();
    assert!(missing.contains("nope.safetensors"), "{missing}");
}

// ---------------------------------------------------------------------------------------
// LoRA: `sd15/lora/` holds a random kohya-layout LoRA (rank 4, alpha 2, on every attention,
// feed-forward and 1x1 projection layer of the UNet and the text encoder) and diffusers'
// outputs with it loaded by `load_lora_weights` at adapter weight 0.8
// (`scripts/diffusers-reference/make_lora_fixture.py`). Measured (x86-64, 2026-12): text
// encoder 3.0e-7, UNet call 1.4e-6, DDIM run (4 steps) 1.9e-6; without the LoRA the same
// outputs are 0.5–0.9 away, so the tolerances below are not reachable by accident.

struct LoraFixture {
    dir: PathBuf,
    reference: HashMap<String, Tensor>,
    meta: Value,
}

impl LoraFixture {
    fn load() -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diffusers/sd15/lora");
        let reference = candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu).unwrap();
        let meta = serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap()).unwrap();
        Self { dir, reference, meta }
    }

    fn spec(&self) -> LoraSpec {
        LoraSpec {
            path: self.dir.join(self.meta["lora"].as_str().unwrap()),
            weight: self.meta["weight"].as_f64().unwrap(),
        }
    }

    fn tensor(&self, name: &str) -> &Tensor {
        self.reference.get(name).unwrap_or_else(|| panic!("lora/reference.safetensors has no {name}"))
    }
}

/// The text encoder's prompt embeddings, one UNet call and a DDIM run's final latents of
/// `f`'s engine, each as (what, ours, diffusers' with the LoRA).
fn lora_outputs(f: &Fixture, l: &LoraFixture) -> Vec<(&'static str, Tensor, Tensor, f64)> {
    let folder = f.engine.folder();
    let embeds = folder.text_encoder(DType::F32, f.dev()).unwrap().encode(&f.ids("prompt_ids")).unwrap();
    let unet = folder.unet(DType::F32, f.dev()).unwrap();
    let t = f.tensor("unet_timestep").to_vec1::<f32>().unwrap()[0] as f64;
    // The UNet gets diffusers' LoRA embeddings, so its check does not inherit the encoder's error.
    let unet_out =
        unet.forward(&f.input("unet_sample"), t, &l.tensor("prompt_embeds").to_device(f.dev()).unwrap()).unwrap();
    drop(unet);
    let steps = l.meta["ddim_steps"].as_u64().unwrap() as u32;
    let options = RunOptions { init_latents: Some(f.tensor("init_noise").clone()), step_noise: None };
    let run = f
        .engine
        .generate_with(
            &f.recipe(Scheduler::Ddim, steps),
            None,
            &options,
            &mut |_: &GenProgress| {},
            &CancelToken::new(),
        )
        .unwrap_or_else(|e| panic!("LoRA DDIM run: {e}"));
    vec![
        ("text encoder with LoRA", embeds, l.tensor("prompt_embeds").clone(), TOL_TEXT),
        ("UNet call with LoRA", unet_out, l.tensor("unet_out").clone(), TOL_UNET),
        ("DDIM run with LoRA, final latents", run.latents, l.tensor("ddim_latents").clone(), TOL_RUN),
    ]
}

#[test]
fn sd15_with_a_kohya_lora_matches_diffusers_load_lora_weights() {
    let l = LoraFixture::load();
    let mut f = Fixture::load("sd15");
    let plain = f.engine;
    f.engine = DiffusionEngine::load_with(&plain.folder().dir, &NO_CACHE)
        .unwrap()
        .with_loras(&[l.spec()], &NO_CACHE)
        .unwrap_or_else(|e| panic!("the production loader refused the kohya LoRA: {e}"));
    // The recipe records the LoRA file's hash and weight.
    let recipe = f.recipe(Scheduler::Ddim, 2);
    let EngineSpec::Diffusion(spec) = &recipe.engine else { unreachable!() };
    let sha = chrysalis_art::diffusion::hashing::sha256_file(&l.spec().path).unwrap();
    assert_eq!(spec.loras.len(), 1);
    assert_eq!((spec.loras[0].sha256.as_str(), spec.loras[0].weight), (sha.as_str(), 0.8));
    assert!(
        recipe
            .canonical_json()
            .contains(&format!(r#""loras":[{{"name":"tiny_kohya.safetensors","sha256":"{sha}","weight":0.8}}]"#))
    );

    for (what, ours, theirs, tol) in lora_outputs(&f, &l) {
        check("sd15", what, &ours, &theirs, tol);
    }

    // With the LoRA off, the same outputs are far from diffusers' LoRA outputs: the
    // comparison above could not pass without the merge.
    f.engine = plain;
    for (what, ours, theirs, tol) in lora_outputs(&f, &l) {
        let err = rel_l2(&ours, &theirs);
        eprintln!("sd15 {what}, LoRA off: rel. L2 error {err:.2e}");
        assert!(err > 1000.0 * tol, "{what}: without the LoRA the error is only {err:.2e}");
    }
}

#[test]
fn a_lora_at_weight_zero_changes_nothing_and_recipes_must_name_the_loaded_loras() {
    let l = LoraFixture::load();
    let f = Fixture::load("sd15");
    let dir = f.engine.folder().dir.clone();
    let zero = LoraSpec { weight: 0.0, ..l.spec() };
    let engine = DiffusionEngine::load_with(&dir, &NO_CACHE).unwrap().with_loras(&[zero], &NO_CACHE).unwrap();
    let ids = f.ids("prompt_ids");
    let a = f.engine.folder().text_encoder(DType::F32, f.dev()).unwrap().encode(&ids).unwrap();
    let b = engine.folder().text_encoder(DType::F32, f.dev()).unwrap().encode(&ids).unwrap();
    assert_eq!(rel_l2(&b, &a), 0.0);

    // A recipe made with the LoRA is refused by an engine without it, and the other way round.
    let lora_engine = DiffusionEngine::load_with(&dir, &NO_CACHE)
        .unwrap()
        .with_loras(&[l.spec()], &NO_CACHE)
        .unwrap()
        .on_device(test_device())
        .unwrap()
        .with_backend(test_backend())
        .unwrap();
    let with = Fixture { kind: "sd15", engine: lora_engine, reference: HashMap::new(), meta: f.meta.clone() };
    for (recipe, engine) in [(with.recipe(Scheduler::Ddim, 1), &f.engine), (f.recipe(Scheduler::Ddim, 1), &with.engine)]
    {
        let err = engine
            .generate_with(&recipe, None, &RunOptions::default(), &mut |_: &GenProgress| {}, &CancelToken::new())
            .err()
            .expect("a recipe with other LoRAs must be refused")
            .to_string();
        assert!(err.contains("LoRA") && err.contains("tiny_kohya.safetensors"), "{err}");
    }
    // A recipe without LoRAs has no `loras` key: old recipes hash as before.
    assert!(!f.recipe(Scheduler::Ddim, 1).canonical_json().contains("loras"));
}

/// Writes a LoRA with `tensors` (name -> shape; `.alpha` scalars) and returns the loader's error.
fn lora_error(tensors: &[(&str, &[usize])]) -> String {
    let f = Fixture::load("sd15");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    let map: HashMap<String, Tensor> =
        tensors.iter().map(|(n, s)| (n.to_string(), Tensor::zeros(*s, DType::F16, &Device::Cpu).unwrap())).collect();
    candle_core::safetensors::save(&map, &path).unwrap();
    let spec = LoraSpec { path, weight: 1.0 };
    let engine = DiffusionEngine::load_with(&f.engine.folder().dir, &NO_CACHE).unwrap();
    engine.with_loras(&[spec], &NO_CACHE).expect_err("the LoRA must be refused").to_string()
}

#[test]
fn loras_for_other_layers_architectures_or_of_other_kinds_are_refused_naming_the_key() {
    // SDXL (two text encoders, LDM-named UNet blocks).
    let e = lora_error(&[("lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", &[4, 32])]);
    assert!(e.contains("lora_te1_text_model_encoder_layers_0_self_attn_q_proj") && e.contains("SDXL"), "{e}");
    let sdxl_unet = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q";
    let e = lora_error(&[
        (&format!("{sdxl_unet}.lora_down.weight"), &[4, 640]),
        (&format!("{sdxl_unet}.lora_up.weight"), &[640, 4]),
    ]);
    assert!(e.contains(sdxl_unet) && e.contains("no layer"), "{e}");
    // A layer that exists, with the wrong width.
    let q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
    let e = lora_error(&[(&format!("{q}.lora_down.weight"), &[4, 320]), (&format!("{q}.lora_up.weight"), &[320, 4])]);
    assert!(e.contains(q) && e.contains("sizes differ"), "{e}");
    // Half a module.
    let e = lora_error(&[(&format!("{q}.lora_down.weight"), &[4, 32])]);
    assert!(e.contains(q) && e.contains("lora_up.weight"), "{e}");
    // LoHa and 3x3 LoCon.
    let e = lora_error(&[(&format!("{q}.hada_w1_a"), &[32, 4])]);
    assert!(e.contains("hada_w1_a") && e.contains("LoHa"), "{e}");
    let conv = "lora_unet_down_blocks_0_resnets_0_conv1";
    let e = lora_error(&[
        (&format!("{conv}.lora_down.weight"), &[4, 32, 3, 3]),
        (&format!("{conv}.lora_up.weight"), &[32, 4, 1, 1]),
    ]);
    assert!(e.contains(conv) && e.contains("1x1"), "{e}");
}

// Few-step runs without guidance (`scripts/diffusers-reference/make_fewstep_fixtures.py`):
// LCM and SD-Turbo-style Euler-ancestral with trailing spacing, on the sd15 model with the
// scheduler config diffusers ran with, from diffusers' starting latents and per-step noise.

/// A copy of the sd15 fixture whose `scheduler/` is the one a few-step run used.
fn fewstep_model(run: &str) -> (tempfile::TempDir, DiffusionEngine) {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diffusers/sd15");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if entry.file_type().unwrap().is_dir() && name != "fewstep" && name != "scheduler" {
            std::fs::create_dir(dir.path().join(&name)).unwrap();
            for file in std::fs::read_dir(entry.path()).unwrap() {
                let file = file.unwrap();
                std::fs::copy(file.path(), dir.path().join(&name).join(file.file_name())).unwrap();
            }
        } else if name == "model_index.json" {
            std::fs::copy(entry.path(), dir.path().join(&name)).unwrap();
        }
    }
    std::fs::create_dir(dir.path().join("scheduler")).unwrap();
    std::fs::copy(
        src.join("fewstep").join(run).join("scheduler_config.json"),
        dir.path().join("scheduler/scheduler_config.json"),
    )
    .unwrap();
    let engine = DiffusionEngine::load_with(dir.path(), &NO_CACHE).unwrap().with_backend(test_backend()).unwrap();
    (dir, engine)
}

fn check_fewstep_run(run: &str, scheduler: Scheduler) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diffusers/sd15");
    let base = candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu).unwrap();
    let reference = candle_core::safetensors::load(dir.join("fewstep/reference.safetensors"), &Device::Cpu).unwrap();
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("fewstep/reference.json")).unwrap()).unwrap();
    let spec = &meta["runs"][run];
    let steps = spec["steps"].as_u64().unwrap() as u32;
    let guidance = spec["guidance"].as_f64().unwrap();
    assert!(guidance <= 1.0, "the few-step fixtures run without guidance");
    let (_tmp, engine) = fewstep_model(run);
    // A folder whose scheduler config is diffusers' LCMScheduler is hinted as an LCM model.
    let hint = &engine.folder().hint;
    let lcm_config = spec["scheduler"] == "LCMScheduler";
    assert_eq!(hint.family == chrysalis_art::diffusion::ModelFamily::Lcm, lcm_config, "{run}: {hint:?}");
    if lcm_config {
        assert_eq!((hint.scheduler, hint.guidance), (Scheduler::Lcm, 1.0), "{run}");
    }

    // diffusers' timesteps are the ones our sampler visits.
    let theirs: Vec<f64> = spec["timesteps"].as_array().unwrap().iter().map(|t| t.as_f64().unwrap()).collect();
    let sampler = Sampler::new(scheduler, &engine.folder().schedule, steps as usize, None);
    assert_eq!(sampler.timesteps(), theirs, "{run}: timesteps");
    let draws = spec["noise_draws"].as_u64().unwrap() as usize;
    assert_eq!(sampler.step_noise_draws(), draws, "{run}: noise draws");

    let step_noise =
        reference.get(&format!("{run}_noise")).map(|all| (0..draws).map(|i| all.get(i).unwrap()).collect());
    let step_noise = if draws == 0 { None } else { Some(step_noise.expect("recorded noise")) };
    let recipe = Recipe {
        format: RECIPE_FORMAT,
        engine: EngineSpec::Diffusion(engine.spec(steps, guidance, scheduler, RecipeDType::F32, None)),
        seed: 0,
        width: meta["width"].as_u64().unwrap() as u32,
        height: meta["height"].as_u64().unwrap() as u32,
        stage: 0,
        prompt: meta["prompt"].as_str().unwrap().to_string(),
        negative_prompt: String::new(),
    };
    let options = RunOptions { init_latents: Some(base["init_noise"].clone()), step_noise };
    let mut denoise_reports = 0;
    let out = engine
        .generate_with(
            &recipe,
            None,
            &options,
            &mut |p: &GenProgress| {
                if p.phase == "denoising" {
                    denoise_reports += 1
                }
            },
            &CancelToken::new(),
        )
        .unwrap_or_else(|e| panic!("{run}: {e}"));
    assert_eq!(denoise_reports, steps, "{run}: one progress report per step");
    check("sd15", &format!("{run} run, final latents"), &out.latents, &reference[&format!("{run}_latents")], TOL_RUN);
    let theirs = to_u8(&reference[&format!("{run}_image")]);
    let ours = out.image.image.as_raw();
    let worst = ours.iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
    eprintln!("sd15 {run} run, 8-bit image: worst difference {worst}");
    assert!(worst <= TOL_PIXEL, "sd15 {run}: an 8-bit value differs by {worst}");
}

#[test]
fn sd15_lcm_runs_without_guidance_match_diffusers() {
    check_fewstep_run("lcm4", Scheduler::Lcm);
    check_fewstep_run("lcm2", Scheduler::Lcm);
    check_fewstep_run("lcm1", Scheduler::Lcm);
}

#[test]
fn sd15_turbo_style_euler_ancestral_trailing_without_guidance_matches_diffusers() {
    check_fewstep_run("turbo2", Scheduler::EulerAncestral);
    check_fewstep_run("turbo1", Scheduler::EulerAncestral);
}
