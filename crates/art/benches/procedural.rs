//! Procedural engine throughput: `cargo bench -p chrysalis-art --bench procedural`.
//!
//! Prints images per second for each style at 512² and 1024², stage 0 and stage 2, for
//! generation alone and for generation plus PNG encoding (what `chrysalis generate` does).
//! Single-threaded by design (determinism), so the figure is per core.
//! `CHRYSALIS_BENCH_SECONDS` (default 3) sets the time spent per case.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrysalis_art::engine::Engine;
use chrysalis_art::png_meta;
use chrysalis_art::procedural::{self, ProceduralEngine};
use chrysalis_core::CancelToken;

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks styles by substring.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let budget = Duration::from_secs_f64(
        std::env::var("CHRYSALIS_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0),
    );
    println!(
        "procedural engine v{}, single thread, {:.0} s per case",
        procedural::ENGINE_VERSION,
        budget.as_secs_f64()
    );
    println!("{:<20} {:>6} {:>6} {:>10} {:>10} {:>12}", "style", "size", "stage", "images/s", "ms/image", "+png ms");
    for style in procedural::STYLES {
        if filter.as_ref().is_some_and(|f| !style.name.contains(f.as_str())) {
            continue;
        }
        for size in [512u32, 1024] {
            for stage in [0u32, 2] {
                // Fixed params so every run draws the same picture.
                let params = BTreeMap::from([("palette".to_string(), 2.0)]);
                let recipe = procedural::recipe(style.name, 1234, size, size, stage, params);
                let cancel = CancelToken::new();
                let mut runs = 0u32;
                let mut gen_time = Duration::ZERO;
                let mut png_time = Duration::ZERO;
                let start = Instant::now();
                while runs < 2 || start.elapsed() < budget {
                    let t = Instant::now();
                    let out = ProceduralEngine.generate(&recipe, None, &mut |_| {}, &cancel).expect("generates");
                    gen_time += t.elapsed();
                    let t = Instant::now();
                    let bytes = png_meta::encode_png(&out.image, &recipe).expect("encodes");
                    png_time += t.elapsed();
                    std::hint::black_box(bytes);
                    runs += 1;
                }
                let per = gen_time.as_secs_f64() / f64::from(runs);
                let png = png_time.as_secs_f64() / f64::from(runs);
                println!(
                    "{:<20} {:>6} {:>6} {:>10.2} {:>10.1} {:>12.1}",
                    style.name,
                    format!("{size}²"),
                    stage,
                    1.0 / per,
                    per * 1e3,
                    png * 1e3
                );
            }
        }
    }
}
