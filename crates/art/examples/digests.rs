//! Prints the SHA-256 of the PNG bytes of a fixed corpus of procedural recipes, one line each:
//! `cargo run --release -p chrysalis-art --example digests > before.txt`, change the engine,
//! run it again and `diff` the two files. Any line that differs is an image that no longer
//! regenerates bit-for-bit from its recipe.
//!
//! The corpus reaches further than the golden-hash tests (which must stay quick in debug
//! builds): every style at several sizes (square, wide, tall), stages 0 to 3, several seeds
//! (so palettes, patterns and colony counts vary) and the extremes of the parameters that
//! change a renderer's loops (reaction-diffusion's `scale` sets its grid, `relief` its shading).
//! `--filter TEXT` keeps the lines whose style contains TEXT; `--time` adds milliseconds per
//! image (render and PNG apart) for a rough comparison. `--one STYLE SIDE STAGE` makes just
//! the procedural benchmark's recipe for that case (seed 1234, palette 2), e.g. to profile it
//! under `valgrind --tool=callgrind`. `--zlib STYLE SIDE` takes that image's filtered rows
//! back out of its PNG and times miniz_oxide on them at every zlib level (what a level other
//! than the pinned 6 would cost or save; changing it would change every PNG's bytes).

use std::collections::BTreeMap;
use std::time::Instant;

use chrysalis_art::engine::Engine;
use chrysalis_art::png_meta;
use chrysalis_art::procedural::{self, ProceduralEngine};
use chrysalis_core::{CancelToken, Recipe};
use sha2::{Digest, Sha256};

fn corpus() -> Vec<Recipe> {
    let mut out = Vec::new();
    let sizes = [(256u32, 256u32), (512, 512), (384, 256), (256, 448)];
    for style in procedural::STYLES {
        let last_stage = if style.name == "reaction-diffusion" { 2 } else { 3 };
        for seed in 1..=3u64 {
            for (k, &(w, h)) in sizes.iter().enumerate() {
                // Every stage at 256², fewer elsewhere so the run stays short.
                let stages: Vec<u32> =
                    if k == 0 { (0..=last_stage).collect() } else { vec![(seed as u32 + k as u32) % 3] };
                for stage in stages {
                    out.push(procedural::recipe(style.name, seed, w, h, stage, BTreeMap::new()));
                }
            }
        }
    }
    let p = |v: &[(&str, f64)]| v.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>();
    for pattern in 0..5 {
        out.push(procedural::recipe(
            "reaction-diffusion",
            40 + pattern,
            256,
            256,
            1,
            p(&[("pattern", pattern as f64)]),
        ));
    }
    for (scale, relief) in [(0.75, 0.0), (2.0, 2.0), (1.37, 0.6)] {
        out.push(procedural::recipe(
            "reaction-diffusion",
            50,
            320,
            256,
            1,
            p(&[("scale", scale), ("relief", relief), ("colonies", 12.0)]),
        ));
    }
    out.push(procedural::recipe("flow-field", 60, 300, 256, 2, p(&[("density", 3.0), ("weight", 3.0)])));
    out.push(procedural::recipe("growth", 61, 256, 300, 3, p(&[("roots", 7.0), ("branching", 3.0), ("density", 2.5)])));
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let filter = args.iter().position(|a| a == "--filter").and_then(|i| args.get(i + 1)).cloned();
    let time = args.iter().any(|a| a == "--time");
    let cancel = CancelToken::new();
    if let Some(i) = args.iter().position(|a| a == "--zlib") {
        let style = args.get(i + 1).expect("--zlib STYLE SIDE");
        let side: u32 = args.get(i + 2).and_then(|s| s.parse().ok()).expect("--zlib STYLE SIDE");
        zlib_levels(style, side, &cancel);
        return;
    }
    let recipes = match args.iter().position(|a| a == "--one") {
        Some(i) => {
            let arg = |k: usize| args.get(i + k).unwrap_or_else(|| panic!("--one STYLE SIDE STAGE"));
            let side: u32 = arg(2).parse().expect("SIDE is a number of pixels");
            let stage: u32 = arg(3).parse().expect("STAGE is a whole number");
            let params = BTreeMap::from([("palette".to_string(), 2.0)]);
            vec![procedural::recipe(arg(1), 1234, side, side, stage, params)]
        }
        None => corpus(),
    };
    for recipe in recipes {
        let chrysalis_core::recipe::EngineSpec::Procedural(spec) = &recipe.engine else { unreachable!() };
        if filter.as_ref().is_some_and(|f| !spec.style.contains(f.as_str())) {
            continue;
        }
        let t = Instant::now();
        let out = ProceduralEngine.generate(&recipe, None, &mut |_| {}, &cancel).expect("generates");
        let t_render = t.elapsed();
        let t = Instant::now();
        let bytes = png_meta::encode_png(&out.image, &recipe).expect("encodes");
        let t_png = t.elapsed();
        let params: Vec<String> = spec.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut line = format!(
            "{} seed={} {}x{} stage={} [{}] {}",
            spec.style,
            recipe.seed,
            recipe.width,
            recipe.height,
            recipe.stage,
            params.join(","),
            hex::encode(Sha256::digest(&bytes))
        );
        if time {
            line.push_str(&format!(
                " render_ms={:.1} png_ms={:.1}",
                t_render.as_secs_f64() * 1e3,
                t_png.as_secs_f64() * 1e3
            ));
        }
        println!("{line}");
    }
}

/// Times every zlib level on the filtered rows of one image (taken back out of its PNG).
fn zlib_levels(style: &str, side: u32, cancel: &CancelToken) {
    let params = BTreeMap::from([("palette".to_string(), 2.0)]);
    let recipe = procedural::recipe(style, 1234, side, side, 0, params);
    let out = ProceduralEngine.generate(&recipe, None, &mut |_| {}, cancel).expect("generates");
    let png = png_meta::encode_png(&out.image, &recipe).expect("encodes");
    // Concatenate the IDAT chunks' data and inflate it: the filtered rows the encoder deflated.
    let (mut pos, mut idat) = (8usize, Vec::new());
    while pos + 8 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        if &png[pos + 4..pos + 8] == b"IDAT" {
            idat.extend_from_slice(&png[pos + 8..pos + 8 + len]);
        }
        pos += 12 + len;
    }
    let filtered = miniz_oxide::inflate::decompress_to_vec_zlib(&idat).expect("our own IDAT inflates");
    println!("{style} {side}x{side}: {} filtered bytes; the PNG's IDAT holds {} (level 6)", filtered.len(), idat.len());
    for level in 0..=10u8 {
        let runs = 5;
        let t = Instant::now();
        let mut size = 0;
        for _ in 0..runs {
            size = std::hint::black_box(miniz_oxide::deflate::compress_to_vec_zlib(&filtered, level)).len();
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(runs);
        println!(
            "level {level:>2}: {ms:7.1} ms, {size:>8} bytes ({:.1}% of raw)",
            100.0 * size as f64 / filtered.len() as f64
        );
    }
}
