//! Diffusion benchmark: seconds per denoising step and peak memory.
//!
//! `cargo bench -p chrysalis-art --bench diffusion [-- CASE...]`
//!
//! Each case runs in a child process of this binary so its peak resident memory (`VmHWM`
//! from `/proc/self/status`) is its own. Models are seeded random weights written through
//! `chrysalis_art::diffusion::testing` (the tiny test model, and Stable Diffusion 1.5's real
//! configs = 1.07 B parameters, f32 files like the original repository) into
//! `$CARGO_TARGET_TMPDIR`, once. The `*-cfg` cases use classifier-free guidance (two UNet
//! passes per step) and the DDIM sampler; the few-step `*-lcm*` cases run as an LCM or
//! SD-Turbo model is run: the LCM sampler, guidance 1 (off: one UNet pass per step), 1, 2
//! or 4 steps, f32 compute from f16 weight files (`sd15h`). Seed 1. (The weights are random, so only the timing means anything.)
//!
//! Reported per case: model load (configs, headers, shape check, hashes from the cache),
//! the first step including the text encoder and reading the UNet weights, the mean of the
//! remaining steps (s/step), the VAE decode, the whole generation, and peak RSS.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use chrysalis_art::Engine;
use chrysalis_art::diffusion::testing::{self, ModelSpec};
use chrysalis_art::diffusion::{DiffusionEngine, HashCacheLocation, LoadOptions};
use chrysalis_core::CancelToken;
use chrysalis_core::recipe::{DType, EngineSpec, RECIPE_FORMAT, Recipe, Scheduler};

struct Case {
    name: &'static str,
    model: &'static str,
    size: u32,
    steps: u32,
    dtype: DType,
    scheduler: Scheduler,
    guidance: f64,
}

const fn cfg(name: &'static str, model: &'static str, size: u32, steps: u32, dtype: DType) -> Case {
    Case { name, model, size, steps, dtype, scheduler: Scheduler::Ddim, guidance: 7.5 }
}

const fn lcm(name: &'static str, steps: u32) -> Case {
    Case { name, model: "sd15h", size: 512, steps, dtype: DType::F32, scheduler: Scheduler::Lcm, guidance: 1.0 }
}

const CASES: &[Case] = &[
    cfg("tiny-256-f32", "tiny", 256, 6, DType::F32),
    cfg("tiny-256-f16", "tiny", 256, 6, DType::F16),
    cfg("sd15-256-f32", "sd15", 256, 2, DType::F32),
    cfg("sd15-256-f16", "sd15", 256, 2, DType::F16),
    cfg("sd15-512-f32", "sd15", 512, 2, DType::F32),
    cfg("sd15-512-f16", "sd15", 512, 2, DType::F16),
    lcm("sd15-512-lcm1", 1),
    lcm("sd15-512-lcm2", 2),
    lcm("sd15-512-lcm4", 4),
];

/// Bump when the writer's output changes, so a stale model is rewritten.
const MODEL_VERSION: &str = "1";

fn work_dir() -> PathBuf {
    PathBuf::from(option_env!("CARGO_TARGET_TMPDIR").unwrap_or("target/tmp")).join("diffusion-bench")
}

fn model_dir(model: &str) -> PathBuf {
    work_dir().join(format!("{model}-random"))
}

fn ensure_model(model: &str) {
    let dir = model_dir(model);
    let stamp = dir.join(".written");
    if std::fs::read_to_string(&stamp).is_ok_and(|v| v == MODEL_VERSION) {
        return;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let spec = match model {
        "tiny" => ModelSpec::tiny(1),
        "sd15" => ModelSpec::sd15(1),
        // The same architecture with f16 files (half the disk; run in f32 all the same).
        "sd15h" => ModelSpec { weight_dtype: testing::WeightDtype::F16, ..ModelSpec::sd15(1) },
        other => panic!("unknown model {other}"),
    };
    let t = Instant::now();
    eprintln!("writing the {model} random-weight model to {} ...", dir.display());
    testing::write_model(&dir, &spec).expect("write model");
    std::fs::write(&stamp, MODEL_VERSION).unwrap();
    eprintln!("  written in {:.1} s", t.elapsed().as_secs_f64());
}

/// CPU seconds (user + system, all threads) this process has used, from `/proc/self/stat`
/// (clock ticks of 1/100 s, Linux's `USER_HZ`).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().next().unwrap_or("?").to_string()
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs one case in this process and prints one `RESULT` line.
fn child(case: &Case) {
    let opts = LoadOptions { hash_cache: HashCacheLocation::File(work_dir().join("hashes.json")) };
    let t = Instant::now();
    let engine = DiffusionEngine::load_with(&model_dir(case.model), &opts).expect("load");
    let load = t.elapsed().as_secs_f64();
    let estimate = engine.memory_estimate(case.size, case.size, case.dtype).peak() >> 20;
    let recipe = Recipe {
        format: RECIPE_FORMAT,
        engine: EngineSpec::Diffusion(engine.spec(case.steps, case.guidance, case.scheduler, case.dtype, None)),
        seed: 1,
        width: case.size,
        height: case.size,
        stage: 0,
        prompt: "a glowing moth in a neon forest, oil painting".into(),
        negative_prompt: "blurry".into(),
    };
    let start = Instant::now();
    let mut marks: Vec<f64> = Vec::new();
    let mut cpu: Vec<f64> = Vec::new();
    engine
        .generate(
            &recipe,
            None,
            &mut |_| {
                marks.push(start.elapsed().as_secs_f64());
                cpu.push(cpu_seconds());
            },
            &CancelToken::new(),
        )
        .expect("generate");
    let total = start.elapsed().as_secs_f64();
    // marks[0]: start; marks[1..=steps]: after each step; marks[steps + 1]: decoded.
    let n = case.steps as usize;
    let first = marks[1] - marks[0];
    let rest: Vec<f64> = (2..=n).map(|i| marks[i] - marks[i - 1]).collect();
    let per_step = if rest.is_empty() { first } else { rest.iter().sum::<f64>() / rest.len() as f64 };
    let decode = marks[n + 1] - marks[n];
    let cpu_step = if n >= 2 { (cpu[n] - cpu[1]) / (n - 1) as f64 } else { cpu[1] - cpu[0] };
    println!(
        "RESULT {} load={load:.2} first={first:.2} step={per_step:.2} cpu_step={cpu_step:.2} decode={decode:.2} total={total:.2} peak_mib={} estimate_mib={estimate} loadavg={}",
        case.name,
        vm_hwm_kib() / 1024,
        load_average()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if let Some(pos) = std::env::args().position(|a| a == "--child") {
        let name = std::env::args().nth(pos + 1).expect("case name");
        child(CASES.iter().find(|c| c.name == name).expect("known case"));
        return;
    }
    let selected: Vec<&Case> =
        CASES.iter().filter(|c| args.is_empty() || args.iter().any(|a| c.name.contains(a.as_str()))).collect();
    std::fs::create_dir_all(work_dir()).unwrap();
    for m in ["tiny", "sd15", "sd15h"] {
        if selected.iter().any(|c| c.model == m) {
            ensure_model(m);
        }
    }
    let exe = std::env::current_exe().unwrap();
    println!(
        "{:<14} {:>7} {:>9} {:>8} {:>10} {:>8} {:>8} {:>11} {:>11} {:>8}",
        "case", "load s", "1st step", "s/step", "CPU s/step", "decode", "total", "peak RSS", "estimate", "loadavg"
    );
    for case in selected {
        let out = Command::new(&exe).args(["--child", case.name]).output().expect("spawn");
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(line) = text.lines().find(|l| l.starts_with("RESULT ")) else {
            println!(
                "{:<14} FAILED: {}",
                case.name,
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("?")
            );
            continue;
        };
        let field =
            |k: &str| line.split_whitespace().find_map(|f| f.strip_prefix(&format!("{k}="))).unwrap_or("?").to_string();
        println!(
            "{:<14} {:>7} {:>9} {:>8} {:>10} {:>8} {:>8} {:>7} MiB {:>7} MiB {:>8}",
            case.name,
            field("load"),
            field("first"),
            field("step"),
            field("cpu_step"),
            field("decode"),
            field("total"),
            field("peak_mib"),
            field("estimate_mib"),
            field("loadavg")
        );
    }
}
