//! The diffusion engine end to end, on a tiny seeded random-weight model written by
//! `chrysalis_art::diffusion::testing` and loaded through the production loader.
//!
//! Sizes are 64² (8x8 latents) and steps 2-8 so the suite stays quick even without
//! optimisation; speed and memory are measured in `benches/diffusion.rs`, never here.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrysalis_art::diffusion::testing::{self, ModelSpec};
use chrysalis_art::diffusion::{
    ComputeDevice, DiffusionEngine, DiffusionError, ENGINE_VERSION, HashCacheLocation, LoadOptions,
};
use chrysalis_art::{ArtError, Engine, GenProgress, RgbImage};
use chrysalis_core::CancelToken;
use chrysalis_core::recipe::{Backend, DType, DeviceClass, EngineSpec, InitImage, RECIPE_FORMAT, Recipe, Scheduler};
use serde_json::json;
use sha2::{Digest, Sha256};

const NO_CACHE: LoadOptions = LoadOptions { hash_cache: HashCacheLocation::Disabled };

/// The shared tiny model, written once per test run (folders of finished runs are removed).
fn tiny_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for old in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
            let name = old.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("diffusion-tiny-")
                && Path::new("/proc/self").exists()
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = std::fs::remove_dir_all(old.path());
            }
        }
        let dir = tmp.join(format!("diffusion-tiny-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        testing::write_tiny_model(&dir, 1).expect("write tiny model");
        dir
    })
}

fn tiny() -> &'static DiffusionEngine {
    static ENGINE: OnceLock<DiffusionEngine> = OnceLock::new();
    ENGINE.get_or_init(|| DiffusionEngine::load_with(tiny_dir(), &NO_CACHE).expect("load tiny model"))
}

/// A model folder written from `spec` into a fresh temporary directory.
fn model_from(spec: &ModelSpec) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    testing::write_model(dir.path(), spec).unwrap();
    dir
}

#[derive(Clone)]
struct Job {
    size: u32,
    steps: u32,
    scheduler: Scheduler,
    guidance: f64,
    dtype: DType,
    seed: u64,
    prompt: String,
    negative: String,
    strength: Option<f64>,
}

impl Default for Job {
    fn default() -> Self {
        Self {
            size: 64,
            steps: 4,
            scheduler: Scheduler::Ddim,
            guidance: 5.0,
            dtype: DType::F32,
            seed: 7,
            prompt: "a glowing moth in a neon forest".into(),
            negative: "blurry".into(),
            strength: None,
        }
    }
}

impl Job {
    fn recipe(&self, e: &DiffusionEngine) -> Recipe {
        let init = self.strength.map(|strength| InitImage { sha256: "00".repeat(32), strength });
        Recipe {
            format: RECIPE_FORMAT,
            engine: EngineSpec::Diffusion(e.spec(self.steps, self.guidance, self.scheduler, self.dtype, init)),
            seed: self.seed,
            width: self.size,
            height: self.size,
            stage: 0,
            prompt: self.prompt.clone(),
            negative_prompt: self.negative.clone(),
        }
    }

    fn run_on(&self, e: &DiffusionEngine, init: Option<&RgbImage>) -> Result<RgbImage, ArtError> {
        e.generate(&self.recipe(e), init, &mut |_| {}, &CancelToken::new()).map(|g| g.image)
    }

    fn run(&self) -> RgbImage {
        let init = self.strength.map(|_| testing::test_image(self.size, self.size));
        self.run_on(tiny(), init.as_ref()).expect("generate")
    }
}

fn diffusion_error(e: &ArtError) -> &DiffusionError {
    match e {
        ArtError::Diffusion(b) => b.downcast_ref::<DiffusionError>().expect("a DiffusionError inside"),
        other => panic!("expected a diffusion error, got {other:?}"),
    }
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let (a, b) = (a.as_raw(), b.as_raw());
    a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).abs()).sum::<f64>() / a.len() as f64
}

fn sha_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

// ---------------------------------------------------------------------------------------
// Loading and model identity

#[test]
fn the_recipe_records_every_file_hash() {
    let e = tiny();
    let files = &e.model_ref().files;
    for f in [
        "unet/diffusion_pytorch_model.safetensors",
        "unet/config.json",
        "vae/diffusion_pytorch_model.safetensors",
        "vae/config.json",
        "text_encoder/model.safetensors",
        "text_encoder/config.json",
        "tokenizer/tokenizer.json",
        "scheduler/scheduler_config.json",
    ] {
        let sha = files.get(f).unwrap_or_else(|| panic!("{f} not recorded: {files:?}"));
        assert_eq!(sha, &sha_hex(&tiny_dir().join(f)), "{f}");
    }
    assert!(!files.contains_key("model_index.json"), "model_index.json does not affect pixels");
    let recipe = Job::default().recipe(e);
    let EngineSpec::Diffusion(spec) = &recipe.engine else { unreachable!() };
    assert_eq!(&spec.model, e.model_ref());
    assert_eq!(spec.engine_version, ENGINE_VERSION);
    assert_eq!(e.model(), Some(e.model_ref().clone()), "Engine::model gives the same ModelRef");
}

#[test]
fn the_tiny_model_writer_is_pinned() {
    // Other crates' golden files use this model: its bytes must not drift. The writer uses
    // only ChaCha and libm, so these hold on every platform. Update them (and those golden
    // files) only on purpose.
    for (file, sha) in [
        (
            "unet/diffusion_pytorch_model.safetensors",
            "2bde7653446c5ca980407f3e49e6bd81bb59d2a33c2660061ba35fe2c230339c",
        ),
        ("vae/diffusion_pytorch_model.safetensors", "f0c23c52b0c6d7d721685443e1d4362dbe77c8dd92cee63211c3098611e2a63b"),
        ("text_encoder/model.safetensors", "90469607baa8f0dc08688fabf22b9fb9a7a5abaf7314b64981460a55b830d5a0"),
    ] {
        assert_eq!(sha_hex(&tiny_dir().join(file)), sha, "{file}");
    }
}

#[test]
fn file_hashes_are_cached_by_path_size_and_mtime() {
    let model = model_from(&ModelSpec::tiny(2));
    let cache_file = model.path().join("cache").join("hashes.json");
    let opts = LoadOptions { hash_cache: HashCacheLocation::File(cache_file.clone()) };
    let first = DiffusionEngine::load_with(model.path(), &opts).unwrap().model_ref().clone();
    assert!(cache_file.is_file(), "the cache is written");

    // Prove the second load trusts the cache: doctor one entry without touching the file.
    let unet = model.path().join("unet/diffusion_pytorch_model.safetensors");
    let key = std::fs::canonicalize(&unet).unwrap().to_string_lossy().into_owned();
    let mut cache: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cache_file).unwrap()).unwrap();
    assert_eq!(cache["files"][&key]["sha256"], json!(first.files["unet/diffusion_pytorch_model.safetensors"]));
    cache["files"][&key]["sha256"] = json!("ab".repeat(32));
    std::fs::write(&cache_file, cache.to_string()).unwrap();
    let second = DiffusionEngine::load_with(model.path(), &opts).unwrap().model_ref().clone();
    assert_eq!(second.files["unet/diffusion_pytorch_model.safetensors"], "ab".repeat(32));

    // A new mtime invalidates the entry: the file is hashed again.
    let f = std::fs::File::options().write(true).open(&unet).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
    drop(f);
    let third = DiffusionEngine::load_with(model.path(), &opts).unwrap().model_ref().clone();
    assert_eq!(third, first);
}

#[test]
fn a_recipe_for_other_weights_is_refused_naming_the_file() {
    let e = tiny();
    let mut recipe = Job::default().recipe(e);
    let EngineSpec::Diffusion(spec) = &mut recipe.engine else { unreachable!() };
    spec.model.files.insert("vae/diffusion_pytorch_model.safetensors".into(), "cd".repeat(32));
    spec.model.files.insert("unet/extra.safetensors".into(), "ef".repeat(32));
    let err = e.generate(&recipe, None, &mut |_| {}, &CancelToken::new()).unwrap_err();
    let msg = err.to_string();
    match diffusion_error(&err) {
        DiffusionError::ModelMismatch { changed, missing, .. } => {
            assert_eq!(changed, &["vae/diffusion_pytorch_model.safetensors"]);
            assert_eq!(missing, &["unet/extra.safetensors"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(msg.contains("vae/diffusion_pytorch_model.safetensors"), "{msg}");
}

#[test]
fn other_engine_versions_are_refused() {
    let e = tiny();
    let mut recipe = Job::default().recipe(e);
    let EngineSpec::Diffusion(spec) = &mut recipe.engine else { unreachable!() };
    spec.engine_version = ENGINE_VERSION + 1;
    let err = e.generate(&recipe, None, &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert!(matches!(err, ArtError::EngineVersion { .. }), "{err}");
}

/// A CPU recipe keeps no `device` key (so recipes from before GPUs hash the same); a recipe
/// made on a GPU runs only where a GPU of its class is, and is refused on the CPU by name.
#[test]
fn recipes_record_their_device_class_and_run_only_on_it() {
    let e = tiny();
    let recipe = Job::default().recipe(e);
    assert!(!recipe.canonical_json().contains("device"), "{}", recipe.canonical_json());

    let mut gpu_recipe = recipe.clone();
    let EngineSpec::Diffusion(spec) = &mut gpu_recipe.engine else { unreachable!() };
    spec.device = DeviceClass::Cuda;
    let err = e.generate(&gpu_recipe, None, &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert!(
        matches!(diffusion_error(&err), DiffusionError::DeviceClassMismatch { recipe: DeviceClass::Cuda, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("made on the CUDA") && msg.contains("--device cuda"), "{msg}");

    // The factory refuses it before loading anything, the same way (a CPU-only build), or
    // asks for the GPU it names (a CUDA build on a machine without one).
    let err = chrysalis_art::engine_on(&gpu_recipe, Some(tiny_dir()), &[], None).err().expect("refused");
    if !chrysalis_art::diffusion::cuda_compiled() {
        assert!(matches!(diffusion_error(&err), DiffusionError::DeviceClassMismatch { .. }), "{err}");
    }
    // Asking for another class than the recipe's is refused too.
    let err = chrysalis_art::engine_on(&recipe, Some(tiny_dir()), &[], Some(ComputeDevice::Cuda(0))).err().unwrap();
    assert!(matches!(diffusion_error(&err), DiffusionError::DeviceClassMismatch { recipe: DeviceClass::Cpu, .. }));
    // And the CPU recipe runs through the factory on the CPU.
    let engine = chrysalis_art::engine_on(&recipe, Some(tiny_dir()), &[], None).unwrap();
    assert_eq!(engine.generate(&recipe, None, &mut |_| {}, &CancelToken::new()).unwrap().image, Job::default().run());
}

/// A candle recipe keeps no `backend` key (recipes from before libtorch hash the same); a
/// libtorch recipe runs only on libtorch, and a build without it says how to get one.
#[test]
fn recipes_record_their_backend_and_run_only_on_it() {
    let recipe = Job::default().recipe(tiny());
    assert!(!recipe.canonical_json().contains("backend"), "{}", recipe.canonical_json());
    let mut torch_recipe = recipe.clone();
    let EngineSpec::Diffusion(spec) = &mut torch_recipe.engine else { unreachable!() };
    spec.backend = Backend::Torch;
    assert!(torch_recipe.canonical_json().contains(r#""backend":"torch""#));

    // The candle engine refuses the libtorch recipe by name, whatever the build.
    let err = tiny().generate(&torch_recipe, None, &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert!(
        matches!(
            diffusion_error(&err),
            DiffusionError::BackendMismatch { recipe: Backend::Torch, engine: Backend::Candle }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("made with the libtorch backend") && err.to_string().contains("--backend torch"),
        "{err}"
    );

    let loaded = || DiffusionEngine::load_with(tiny_dir(), &NO_CACHE).unwrap();
    if !chrysalis_art::diffusion::torch_compiled() {
        // Asked for, and through the factory for a libtorch recipe: refused before loading.
        let err = loaded().with_backend(Backend::Torch).expect_err("no libtorch in this build");
        assert!(matches!(err, DiffusionError::NoTorchInBuild { .. }), "{err}");
        assert!(err.to_string().contains("scripts/setup-torch.sh --build"), "{err}");
        let err = chrysalis_art::engine_on(&torch_recipe, Some(tiny_dir()), &[], None).err().expect("refused");
        assert!(matches!(diffusion_error(&err), DiffusionError::NoTorchInBuild { .. }), "{err}");
        return;
    }
    // With libtorch: its recipes say so, run through the factory, and candle's are refused.
    let torch = loaded().with_backend(Backend::Torch).unwrap();
    assert_eq!(Job::default().recipe(&torch), torch_recipe);
    let engine = chrysalis_art::engine_on(&torch_recipe, Some(tiny_dir()), &[], None).unwrap();
    let image = engine.generate(&torch_recipe, None, &mut |_| {}, &CancelToken::new()).unwrap().image;
    assert_eq!(image, Job::default().run_on(&torch, None).unwrap());
    let err = torch.generate(&recipe, None, &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert!(
        matches!(
            diffusion_error(&err),
            DiffusionError::BackendMismatch { recipe: Backend::Candle, engine: Backend::Torch }
        ),
        "{err}"
    );
    // libtorch runs on the CPU only.
    if let Ok(gpu) = loaded().on_device(ComputeDevice::Cuda(0)) {
        assert!(gpu.with_backend(Backend::Torch).is_err());
    }
}

/// libtorch's images are the same bytes on every run and at every thread count (its
/// recipes must regenerate on another machine), for every scheduler and img2img, and they
/// are candle's images to within rounding.
#[cfg(feature = "torch")]
#[test]
fn libtorch_images_are_identical_across_runs_and_thread_counts_and_close_to_candle() {
    let torch = DiffusionEngine::load_with(tiny_dir(), &NO_CACHE).unwrap().with_backend(Backend::Torch).unwrap();
    let threads = tch::get_num_threads();
    for job in [
        Job::default(),
        Job { scheduler: Scheduler::EulerAncestral, ..Job::default() },
        Job { strength: Some(0.6), ..Job::default() },
    ] {
        let init = job.strength.map(|_| testing::test_image(job.size, job.size));
        let a = job.run_on(&torch, init.as_ref()).unwrap();
        let b = job.run_on(&torch, init.as_ref()).unwrap();
        assert!(a.as_raw() == b.as_raw(), "{:?}: two libtorch runs differ", job.scheduler);
        for n in [1, 3] {
            tch::set_num_threads(n);
            let c = job.run_on(&torch, init.as_ref()).unwrap();
            tch::set_num_threads(threads);
            assert!(a.as_raw() == c.as_raw(), "{:?}: libtorch on {n} threads gives other bytes", job.scheduler);
        }
        let candle = job.run();
        let worst = a.as_raw().iter().zip(candle.as_raw()).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
        eprintln!("{:?}: libtorch vs candle, worst 8-bit difference {worst}", job.scheduler);
        assert!(worst <= 1, "{:?}: libtorch and candle differ by {worst} levels", job.scheduler);
    }
    // bf16 (libtorch's fast reduced precision): deterministic at any thread count, and near
    // libtorch's f32 image.
    let job = Job { dtype: DType::Bf16, ..Job::default() };
    let a = job.run_on(&torch, None).unwrap();
    tch::set_num_threads(1);
    let b = job.run_on(&torch, None).unwrap();
    tch::set_num_threads(threads);
    assert!(a.as_raw() == b.as_raw(), "libtorch bf16 on 1 thread gives other bytes");
    let f32_img = Job::default().run_on(&torch, None).unwrap();
    let d = mean_abs_diff(&a, &f32_img);
    eprintln!("libtorch bf16: {d:.2} levels from f32 on average");
    assert!(d < 8.0, "libtorch bf16 strays {d:.2} levels from f32");
}

#[test]
fn a_gpu_is_refused_clearly_where_the_build_or_machine_has_none() {
    let loaded = DiffusionEngine::load_with(tiny_dir(), &NO_CACHE).unwrap();
    match loaded.on_device(ComputeDevice::Cuda(0)) {
        Err(DiffusionError::NoCudaInBuild) => assert!(!chrysalis_art::diffusion::cuda_compiled()),
        Err(DiffusionError::DeviceUnavailable { device, .. }) => assert_eq!(device, "cuda:0"),
        Err(other) => panic!("unexpected error: {other}"),
        // A CUDA build on a machine with a GPU: its recipes say so.
        Ok(e) => assert_eq!(Job::default().recipe(&e).engine, {
            let mut r = Job::default().recipe(tiny());
            let EngineSpec::Diffusion(s) = &mut r.engine else { unreachable!() };
            s.device = DeviceClass::Cuda;
            r.engine
        }),
    }
}

#[test]
fn the_engine_hook_loads_the_folder() {
    let engine = chrysalis_art::diffusion::diffusion_engine(tiny_dir()).unwrap();
    assert_eq!(engine.name(), "diffusion");
    assert_eq!(engine.model().as_ref(), Some(tiny().model_ref()));
}

// ---------------------------------------------------------------------------------------
// Determinism

#[test]
fn every_scheduler_gives_identical_bytes_on_rerun() {
    let mut outputs = Vec::new();
    for scheduler in [Scheduler::Ddim, Scheduler::Euler, Scheduler::EulerAncestral] {
        let job = Job { scheduler, ..Job::default() };
        let (a, b) = (job.run(), job.run());
        assert_eq!(a.dimensions(), (64, 64));
        assert!(a.as_raw() == b.as_raw(), "{scheduler:?} is not deterministic");
        outputs.push(a);
    }
    assert!(outputs[0] != outputs[1] && outputs[1] != outputs[2], "samplers should differ");
}

#[test]
fn img2img_is_deterministic_for_every_scheduler() {
    for scheduler in [Scheduler::Ddim, Scheduler::Euler, Scheduler::EulerAncestral] {
        let job = Job { scheduler, strength: Some(0.6), steps: 5, ..Job::default() };
        assert!(job.run().as_raw() == job.run().as_raw(), "{scheduler:?} img2img is not deterministic");
    }
}

#[test]
fn f16_is_deterministic_and_close_to_f32_and_bf16_is_refused_on_candle_cpu() {
    let err = Job { dtype: DType::Bf16, ..Job::default() }.run_on(tiny(), None).unwrap_err();
    assert!(matches!(diffusion_error(&err), DiffusionError::Bf16OnCandleCpu), "{err}");
    assert!(err.to_string().contains("--backend torch"), "{err}");
    for (dtype, scheduler) in [(DType::F16, Scheduler::Ddim), (DType::F16, Scheduler::EulerAncestral)] {
        let job = Job { dtype, scheduler, ..Job::default() };
        let (a, b) = (job.run(), job.run());
        assert!(a.as_raw() == b.as_raw(), "{dtype:?} {scheduler:?} is not deterministic");
        let f32_img = Job { dtype: DType::F32, ..job.clone() }.run();
        let d = mean_abs_diff(&a, &f32_img);
        eprintln!("{dtype:?} {scheduler:?}: {d:.2} levels from f32 on average");
        assert!(d < 8.0, "{dtype:?} strays {d:.2} levels from f32");
    }
}

/// Engine version 2's pixels on the tiny model, for every sampler, img2img and f16 (candle,
/// CPU): published recipes must regenerate to these bytes, so any change to the candle path
/// that moves one bit fails here and needs engine version 3 instead (figures from the code
/// before the pipeline learnt a second backend, and unchanged by it).
#[test]
fn candle_engine_version_2_pixels_are_pinned() {
    let cases = [
        (Job::default(), "2c783364f0cf227549f14ece5be488d95766d1f434f7a48dfaa1c9244833f186"),
        (
            Job { scheduler: Scheduler::Euler, ..Job::default() },
            "90692a319de2364e93871237e345e498738314d36cd007a99d4ad3a4e1465857",
        ),
        (
            Job { scheduler: Scheduler::EulerAncestral, ..Job::default() },
            "2608421907393395ba82292d614d3e7756f96eb8a44c99e9ac6f81d35d957010",
        ),
        (
            Job { strength: Some(0.6), ..Job::default() },
            "94a3988ba385fc9020391ce5db2240949c99a21ce4f6e6e73dcf5e99f473da6a",
        ),
        (
            Job { dtype: DType::F16, ..Job::default() },
            "bda796d8c6b0ea6fee3ee183a1898ab614e66b5833b96b26b9924f789c78ca01",
        ),
    ];
    let mut changed = Vec::new();
    for (job, want) in cases {
        let got = hex::encode(Sha256::digest(job.run().as_raw()));
        if got != want {
            changed.push(format!("{:?} {:?} strength {:?}: {got}", job.scheduler, job.dtype, job.strength));
        }
    }
    assert!(changed.is_empty(), "the candle engine's pixels changed:\n{}", changed.join("\n"));
}

#[test]
fn the_seed_changes_the_image() {
    let a = Job::default().run();
    let b = Job { seed: 8, ..Job::default() }.run();
    assert!(mean_abs_diff(&a, &b) > 0.5);
}

// ---------------------------------------------------------------------------------------
// Guidance, negative prompt, img2img

#[test]
fn guidance_and_negative_prompt_change_the_output() {
    let base = Job { guidance: 7.5, ..Job::default() };
    let guided = base.run();
    let unguided = Job { guidance: 1.0, ..base.clone() }.run();
    let other_negative = Job { negative: "dark ugly painting".into(), ..base.clone() }.run();
    let other_prompt = Job { prompt: "a portrait of a cat".into(), ..base.clone() }.run();
    assert!(mean_abs_diff(&guided, &unguided) > 0.5, "guidance has no effect");
    assert!(mean_abs_diff(&guided, &other_negative) > 0.5, "the negative prompt has no effect");
    assert!(mean_abs_diff(&guided, &other_prompt) > 0.5, "the prompt has no effect");
    // Without guidance there is no unconditional pass, so the negative prompt is unused.
    let unguided_other_negative = Job { guidance: 1.0, negative: "dark ugly painting".into(), ..base }.run();
    assert!(unguided.as_raw() == unguided_other_negative.as_raw());
}

#[test]
fn img2img_changes_the_image_less_at_lower_strength() {
    let init = testing::test_image(64, 64);
    let diffs: Vec<f64> = [0.2, 0.5, 1.0]
        .iter()
        .map(|&s| {
            let job = Job { strength: Some(s), steps: 10, ..Job::default() };
            mean_abs_diff(&job.run_on(tiny(), Some(&init)).unwrap(), &init)
        })
        .collect();
    assert!(diffs[0] < diffs[1] && diffs[1] < diffs[2], "mean abs pixel difference by strength: {diffs:?}");
}

#[test]
fn img2img_without_its_init_image_is_an_error() {
    let job = Job { strength: Some(0.5), ..Job::default() };
    let err = job.run_on(tiny(), None).unwrap_err();
    assert!(matches!(diffusion_error(&err), DiffusionError::MissingInitImage { .. }), "{err}");
    assert!(err.to_string().contains("init image"), "{err}");
    let wrong = testing::test_image(128, 64);
    let err = job.run_on(tiny(), Some(&wrong)).unwrap_err();
    assert!(matches!(diffusion_error(&err), DiffusionError::InitImageSize { actual_w: 128, .. }), "{err}");
}

// ---------------------------------------------------------------------------------------
// Progress and cancellation

#[test]
fn progress_reports_each_step_with_a_small_preview() {
    let e = tiny();
    let job = Job { steps: 3, ..Job::default() };
    let mut seen: Vec<GenProgress> = Vec::new();
    e.generate(&job.recipe(e), None, &mut |p| seen.push(p.clone()), &CancelToken::new()).unwrap();
    let steps: Vec<u32> = seen.iter().map(|p| p.step).collect();
    assert_eq!(steps, vec![0, 1, 2, 3, 4]);
    assert!(seen.iter().all(|p| p.total == 4));
    for p in &seen[1..4] {
        let preview = p.preview.as_ref().expect("denoising steps carry a preview");
        assert_eq!(preview.dimensions(), (8, 8), "latent-sized preview");
    }
}

#[test]
fn cancel_stops_within_one_step() {
    let e = tiny();
    let job = Job { steps: 6, ..Job::default() };
    let cancel = CancelToken::new();
    let mut last = 0;
    let err = e
        .generate(
            &job.recipe(e),
            None,
            &mut |p| {
                last = p.step;
                if p.step == 2 {
                    cancel.cancel();
                }
            },
            &cancel,
        )
        .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    assert_eq!(last, 2, "no step may complete after the cancel");

    let pre_cancelled = CancelToken::new();
    pre_cancelled.cancel();
    let mut calls = 0;
    let err = e.generate(&job.recipe(e), None, &mut |_| calls += 1, &pre_cancelled).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(calls, 0);
}

// ---------------------------------------------------------------------------------------
// Model variants

#[test]
fn vocab_and_merges_tokenize_like_tokenizer_json() {
    let mut spec = ModelSpec::tiny(1);
    spec.tokenizer_json = false;
    spec.vocab_and_merges = true;
    let model = model_from(&spec);
    let e = DiffusionEngine::load_with(model.path(), &NO_CACHE).unwrap();
    assert!(e.model_ref().files.contains_key("tokenizer/merges.txt"));
    let job = Job::default();
    assert!(job.run_on(&e, None).unwrap() == job.run(), "same weights and tokens must give the same pixels");
}

#[test]
fn v_prediction_trailing_schedules_and_f16_weight_files_run() {
    // SD 2.x / SD-Turbo style: v-prediction, trailing spacing; weights stored as F16; a VAE
    // without quant_conv.
    let mut spec = ModelSpec::tiny(3);
    spec.scheduler = Some(json!({
        "_class_name": "EulerDiscreteScheduler", "beta_start": 0.00085, "beta_end": 0.012,
        "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
        "prediction_type": "v_prediction", "timestep_spacing": "trailing", "steps_offset": 0
    }));
    spec.vae["use_quant_conv"] = json!(false);
    spec.weight_dtype = testing::WeightDtype::F16;
    let model = model_from(&spec);
    let e = DiffusionEngine::load_with(model.path(), &NO_CACHE).unwrap();
    for job in [
        Job { scheduler: Scheduler::Euler, steps: 1, guidance: 0.0, ..Job::default() },
        Job { scheduler: Scheduler::Ddim, strength: Some(0.5), ..Job::default() },
    ] {
        let init = job.strength.map(|_| testing::test_image(64, 64));
        let a = job.run_on(&e, init.as_ref()).unwrap();
        assert!(a == job.run_on(&e, init.as_ref()).unwrap());
    }
}

// ---------------------------------------------------------------------------------------
// Bad input: a clear error naming the file or tensor, never a panic

fn load_err(dir: &Path) -> DiffusionError {
    DiffusionEngine::load_with(dir, &NO_CACHE).expect_err("the load should fail")
}

#[test]
fn a_missing_file_is_named() {
    let model = model_from(&ModelSpec::tiny(1));
    std::fs::remove_file(model.path().join("vae/diffusion_pytorch_model.safetensors")).unwrap();
    let err = load_err(model.path());
    assert!(
        matches!(&err, DiffusionError::MissingFile { path, .. } if path.ends_with("vae/diffusion_pytorch_model.safetensors")),
        "{err}"
    );
    assert!(err.to_string().contains("vae weights"), "{err}");

    std::fs::remove_file(model.path().join("unet/config.json")).unwrap();
    let err = load_err(model.path());
    assert!(err.to_string().contains("unet/config.json"), "{err}");

    let err = load_err(&model.path().join("no-such-folder"));
    assert!(matches!(err, DiffusionError::MissingFile { .. }), "{err}");

    std::fs::remove_file(model.path().join("model_index.json")).unwrap();
    let err = load_err(model.path());
    assert!(err.to_string().contains("model_index.json"), "{err}");
}

#[test]
fn corrupt_safetensors_are_named() {
    let model = model_from(&ModelSpec::tiny(1));
    let unet = model.path().join("unet/diffusion_pytorch_model.safetensors");
    let bytes = std::fs::read(&unet).unwrap();

    std::fs::write(&unet, &bytes[..bytes.len() - 1000]).unwrap();
    let err = load_err(model.path());
    assert!(matches!(&err, DiffusionError::CorruptWeights { path, .. } if *path == unet), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");

    std::fs::write(&unet, b"this is not a safetensors file at all").unwrap();
    let err = load_err(model.path());
    assert!(matches!(&err, DiffusionError::CorruptWeights { path, .. } if *path == unet), "{err}");

    std::fs::write(&unet, b"").unwrap();
    assert!(matches!(load_err(model.path()), DiffusionError::CorruptWeights { .. }));
}

#[test]
fn a_wrong_tensor_shape_names_the_tensor_and_both_shapes() {
    let model = model_from(&ModelSpec::tiny(1));
    // The weights were written for [16, 32, 32, 64]; the config now claims a narrower top.
    let cfg = model.path().join("vae/config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    v["block_out_channels"] = json!([16, 32, 32, 32]);
    std::fs::write(&cfg, v.to_string()).unwrap();
    let err = load_err(model.path());
    match &err {
        DiffusionError::TensorShape { path, tensor, expected, actual, .. } => {
            assert!(path.ends_with("vae/diffusion_pytorch_model.safetensors"));
            assert!(!tensor.is_empty());
            assert_ne!(expected, actual);
        }
        other => panic!("expected a TensorShape error, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("has shape") && msg.contains("needs"), "{msg}");

    // A tensor missing altogether is named too.
    let model = model_from(&ModelSpec::tiny(1));
    let cfg = model.path().join("text_encoder/config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    v["num_hidden_layers"] = json!(3);
    std::fs::write(&cfg, v.to_string()).unwrap();
    let err = load_err(model.path());
    assert!(
        matches!(&err, DiffusionError::MissingTensor { tensor, .. } if tensor.starts_with("text_model.encoder.layers.2.")),
        "{err}"
    );
}

#[test]
fn unknown_architectures_are_refused_naming_the_config() {
    let cases: Vec<(&str, &str, serde_json::Value, &str)> = vec![
        ("unet/config.json", "_class_name", json!("UNet2DModel"), "UNet2DModel"),
        ("unet/config.json", "addition_embed_type", json!("text_time"), "addition_embed_type"),
        ("unet/config.json", "in_channels", json!(9), "in_channels"),
        (
            "unet/config.json",
            "down_block_types",
            json!(["SimpleCrossAttnDownBlock2D", "DownBlock2D"]),
            "SimpleCrossAttnDownBlock2D",
        ),
        ("vae/config.json", "_class_name", json!("AutoencoderTiny"), "AutoencoderTiny"),
        ("text_encoder/config.json", "hidden_act", json!("relu"), "relu"),
        ("text_encoder/config.json", "architectures", json!(["T5EncoderModel"]), "T5EncoderModel"),
        ("model_index.json", "_class_name", json!("StableDiffusionXLPipeline"), "StableDiffusionXLPipeline"),
        ("scheduler/scheduler_config.json", "prediction_type", json!("flow"), "flow"),
    ];
    let model = model_from(&ModelSpec::tiny(1));
    for (file, key, value, needle) in cases {
        let path = model.path().join(file);
        let original = std::fs::read_to_string(&path).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&original).unwrap();
        v[key] = value;
        std::fs::write(&path, v.to_string()).unwrap();
        let err = load_err(model.path());
        assert!(matches!(err, DiffusionError::UnsupportedArchitecture { .. }), "{file} {key}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(file) && msg.contains(needle), "{file} {key}: {msg}");
        std::fs::write(&path, original).unwrap();
    }
    // Not JSON at all.
    std::fs::write(model.path().join("unet/config.json"), "{ nope").unwrap();
    let err = load_err(model.path());
    assert!(matches!(err, DiffusionError::BadConfig { .. }) && err.to_string().contains("unet/config.json"), "{err}");
}

#[test]
fn a_prompt_longer_than_the_tokenizer_allows_says_how_long_it_is() {
    let long = "butterfly ".repeat(80);
    let job = Job { prompt: long.trim().into(), ..Job::default() };
    let err = job.run_on(tiny(), None).unwrap_err();
    match diffusion_error(&err) {
        DiffusionError::PromptTooLong { which, tokens, max } => {
            assert_eq!((*which, *tokens, *max), ("prompt", 82, 77));
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("82 tokens"), "{err}");
    // 75 words + start + end fit exactly.
    let fits = Job { prompt: "butterfly ".repeat(75).trim().into(), steps: 1, ..Job::default() };
    fits.run_on(tiny(), None).unwrap();
    let neg = Job { negative: long.trim().into(), ..Job::default() };
    let err = neg.run_on(tiny(), None).unwrap_err();
    assert!(matches!(diffusion_error(&err), DiffusionError::PromptTooLong { which: "negative prompt", .. }), "{err}");
}

#[test]
fn a_run_that_cannot_fit_in_memory_is_refused_up_front() {
    let e = tiny();
    // Tiny model, but 2048²: self-attention over 65 536 latent pixels needs ~275 GB.
    let estimate = e.memory_estimate(2048, 2048, DType::F32).peak();
    assert!(estimate > 100 << 30, "{estimate}");
    assert!(e.memory_estimate(64, 64, DType::F32).peak() < 1 << 30);
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    });
    if available.is_some_and(|kib| kib * 1024 < estimate) {
        let err = Job { size: 2048, ..Job::default() }.run_on(e, None).unwrap_err();
        assert!(matches!(diffusion_error(&err), DiffusionError::NotEnoughMemory { .. }), "{err}");
        assert!(err.to_string().contains("GiB"), "{err}");
    }
}

#[test]
fn sizes_must_fit_the_vae() {
    let err = Job { size: 68, ..Job::default() }.run_on(tiny(), None).unwrap_err();
    assert!(matches!(diffusion_error(&err), DiffusionError::SizeMultiple { multiple: 8, .. }), "{err}");
    let err = Job { size: 32, ..Job::default() }.run_on(tiny(), None).unwrap_err();
    assert!(matches!(err, ArtError::Size { .. }), "{err}");
}
