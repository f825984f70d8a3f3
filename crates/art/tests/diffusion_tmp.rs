use chrysalis_art::diffusion::{testing, DiffusionEngine, LoadOptions, HashCacheLocation};
use chrysalis_art::Engine;
use chrysalis_core::recipe::*;
use chrysalis_core::CancelToken;
use sha2::Digest;
#[test]
fn threads() {
    let dir = std::env::temp_dir().join(format!("chrysalis-thr-{}", std::process::id()));
    testing::write_tiny_model(&dir, 1).unwrap();
    let e = DiffusionEngine::load_with(&dir, &LoadOptions { hash_cache: HashCacheLocation::Disabled }).unwrap();
    for (sched, dt) in [(Scheduler::Ddim, DType::F32), (Scheduler::EulerAncestral, DType::F32), (Scheduler::Euler, DType::F16)] {
        let spec = e.spec(4, 7.5, sched, dt, None);
        let r = Recipe { format: 1, engine: EngineSpec::Diffusion(spec), seed: 3, width: 128, height: 128, stage: 0, prompt: "a photo of a moth".into(), negative_prompt: "blurry".into() };
        let out = e.generate(&r, None, &mut |_| {}, &CancelToken::new()).unwrap();
        eprintln!("HASH {sched:?} {dt:?} {}", hex::encode(sha2::Sha256::digest(out.image.as_raw())));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
