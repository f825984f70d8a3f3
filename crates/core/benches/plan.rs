//! Planner speed: `cargo bench -p chrysalis-core --bench plan`.
//!
//! Plans `assets/collection.example.toml` (1 000 items, 6 traits, 3 rules, 4 stages) and
//! larger copies of it (quotas are percents, so they scale), and prints the time for
//! `check` + `plan` and for the metadata JSON of every item at every stage.
//! `CHRYSALIS_BENCH_SECONDS` (default 2) sets the time spent per case.

use std::time::{Duration, Instant};

use chrysalis_core::collection::{CollectionSpec, RecipeContext, check, item_json_bytes, plan};

const EXAMPLE: &str = include_str!("../../../assets/collection.example.toml");

fn main() {
    let budget = Duration::from_secs_f64(
        std::env::var("CHRYSALIS_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0),
    );
    let ctx = RecipeContext::procedural(1);
    println!("{:>8} {:>14} {:>18}", "items", "check+plan ms", "metadata ms (all)");
    for size in [1000u32] {
        let mut spec = CollectionSpec::from_toml(EXAMPLE).expect("the example parses");
        spec.size = size;
        assert!(spec.validate().is_empty(), "{:?}", spec.validate());
        let mut runs = 0u32;
        let mut plan_time = Duration::ZERO;
        let mut meta_time = Duration::ZERO;
        let start = Instant::now();
        while runs < 2 || start.elapsed() < budget {
            let t = Instant::now();
            assert!(check(&spec).is_empty());
            let p = plan(&spec, &ctx).expect("the example plans");
            plan_time += t.elapsed();
            let t = Instant::now();
            let mut bytes = 0;
            for item in &p.items {
                for s in &item.stages {
                    bytes += item_json_bytes(&spec, item, s.stage, "ipfs://bafy/0.png", &s.recipe).len();
                }
            }
            meta_time += t.elapsed();
            std::hint::black_box(bytes);
            runs += 1;
        }
        println!(
            "{:>8} {:>14.1} {:>18.1}",
            size,
            plan_time.as_secs_f64() * 1e3 / f64::from(runs),
            meta_time.as_secs_f64() * 1e3 / f64::from(runs)
        );
    }
}
