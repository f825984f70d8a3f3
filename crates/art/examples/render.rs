//! Renders one procedural image: `cargo run -p chrysalis-art --example render -- STYLE SEED
//! SIZE STAGE OUT.png [key=value ...]`. A quick way to look at a style while tuning it.

use std::collections::BTreeMap;
use std::time::Instant;

use chrysalis_art::{Engine, png_meta, procedural};
use chrysalis_core::CancelToken;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        eprintln!("usage: render STYLE SEED SIZE STAGE OUT.png [key=value ...]");
        std::process::exit(2);
    }
    let params: BTreeMap<String, f64> = args[5..]
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_string(), v.parse().expect("number"))
        })
        .collect();
    let size: u32 = args[2].parse().unwrap();
    if let Some((a, b)) = args[3].split_once('-') {
        // A strip of stages a..=b side by side (no provenance: a picture to look at).
        let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
        let mut strip = chrysalis_art::RgbImage::new(size * (b - a + 1), size);
        for st in a..=b {
            let recipe = procedural::recipe(&args[0], args[1].parse().unwrap(), size, size, st, params.clone());
            let out = procedural::ProceduralEngine.generate(&recipe, None, &mut |_| {}, &CancelToken::new()).unwrap();
            image::imageops::replace(&mut strip, &out.image, i64::from((st - a) * size), 0);
        }
        strip.save(&args[4]).unwrap();
        return;
    }
    let recipe = procedural::recipe(&args[0], args[1].parse().unwrap(), size, size, args[3].parse().unwrap(), params);
    let t = Instant::now();
    let out =
        procedural::ProceduralEngine.generate(&recipe, None, &mut |_| {}, &CancelToken::new()).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1)
        });
    let gen_s = t.elapsed().as_secs_f64();
    let bytes = png_meta::write_png(args[4].as_ref(), &out.image, &recipe).unwrap();
    println!(
        "{} {:.2}s gen, {:.2}s total, {} KiB, {:?}",
        args[4],
        gen_s,
        t.elapsed().as_secs_f64(),
        bytes.len() / 1024,
        out.attributes.iter().map(|a| format!("{}={}", a.trait_type, a.value)).collect::<Vec<_>>()
    );
}
