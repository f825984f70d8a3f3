//! The procedural engine through its public interface: golden outputs, determinism,
//! progress, cancellation and every kind of bad input.

use std::collections::BTreeMap;

use chrysalis_art::engine::{Engine, GenProgress, PREVIEW_MAX_SIDE};
use chrysalis_art::procedural::{self, ProceduralEngine};
use chrysalis_art::{ArtError, png_meta};
use chrysalis_core::recipe::{DType, DiffusionSpec, EngineSpec, ModelRef, Scheduler};
use chrysalis_core::{CancelToken, Recipe};
use sha2::{Digest, Sha256};

fn params(p: &[(&str, f64)]) -> BTreeMap<String, f64> {
    p.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn run(recipe: &Recipe) -> Result<chrysalis_art::GeneratedImage, ArtError> {
    ProceduralEngine.generate(recipe, None, &mut |_| {}, &CancelToken::new())
}

fn png_sha256(recipe: &Recipe) -> String {
    let out = run(recipe).unwrap();
    hex::encode(Sha256::digest(png_meta::encode_png(&out.image, recipe).unwrap()))
}

/// The fixed recipes the golden hashes pin, one per style, at recipe format `format`.
fn golden_recipes(format: u32) -> Vec<(Recipe, &'static str)> {
    let at = |mut r: Recipe| {
        r.format = format;
        r
    };
    let pick = |v1, v2, v3| match format {
        f if f < png_meta::OWN_KEYS_FORMAT => v1,
        f if f < png_meta::FAST_DEFLATE_FORMAT => v2,
        _ => v3,
    };
    vec![
        (
            at(procedural::recipe("flow-field", 2024, 256, 256, 2, params(&[("palette", 0.0), ("turbulence", 1.2)]))),
            pick(GOLDEN_FLOW_FIELD, GOLDEN_FLOW_FIELD_V2, GOLDEN_FLOW_FIELD_V3),
        ),
        (
            at(procedural::recipe("growth", 2024, 256, 256, 2, params(&[("palette", 1.0), ("roots", 3.0)]))),
            pick(GOLDEN_GROWTH, GOLDEN_GROWTH_V2, GOLDEN_GROWTH_V3),
        ),
        (
            at(procedural::recipe(
                "reaction-diffusion",
                2024,
                256,
                256,
                0,
                params(&[("palette", 4.0), ("pattern", 2.0)]),
            )),
            pick(GOLDEN_REACTION_DIFFUSION, GOLDEN_REACTION_DIFFUSION_V2, GOLDEN_REACTION_DIFFUSION_V3),
        ),
    ]
}

// SHA-256 of the PNG bytes (pixels and provenance chunks) of each golden recipe. If one of
// these changes, output changed: if that was intended, bump procedural::ENGINE_VERSION
// (old recipes would otherwise silently regenerate differently) and update the hash.
// Recipe format 1: what was published before format 2; these must never change.
const GOLDEN_FLOW_FIELD: &str = "d55c7951990d9a74fd1cd2a34c904eee88b5f53ceef07601cfe87733df5017bc";
const GOLDEN_GROWTH: &str = "d5883187f8b02a514b579cb03686f6c56eb6686c678017e8e7b8c8fb88e6429b";
const GOLDEN_REACTION_DIFFUSION: &str = "6b4514d9a43a172f10a4bf599fe7ea924e52d651d71b0c96258bf6e12e5c49ac";
// Recipe format 2: the same pixels, our own keys in the A1111 text.
const GOLDEN_FLOW_FIELD_V2: &str = "b5827a7e4f886941594d88cda21af9dc390deaf8750ac6a8d9b6c769c99e7b90";
const GOLDEN_GROWTH_V2: &str = "1d6c44cd32b0c473f5d56531e27567b1ec89a4fffc60f18806bb356608e9fa10";
const GOLDEN_REACTION_DIFFUSION_V2: &str = "eae01434be3da4b35ddcf8f93d52e5dae77ab7906047b4426dbc8f6f49ad29a1";
// Recipe format 3: the same pixels and text, deflated at zlib level 2.
const GOLDEN_FLOW_FIELD_V3: &str = "b0db750a1e57a1ff8d31c8c04e8dcd18f8ad648949b45b029ba37ffefe6836c5";
const GOLDEN_GROWTH_V3: &str = "4ec3491ded979683443a9e8d8fd41fe45b957564aec752dab9b1b40ea2421a79";
const GOLDEN_REACTION_DIFFUSION_V3: &str = "8b7069d188506ab88f694fc267c933d7d75c91835a5f23ddeeedb0d78b0bdbc8";

#[test]
fn golden_hashes() {
    let mut wrong = Vec::new();
    for format in 1..=chrysalis_core::recipe::RECIPE_FORMAT {
        for (recipe, want) in golden_recipes(format) {
            let got = png_sha256(&recipe);
            let style = match &recipe.engine {
                EngineSpec::Procedural(p) => p.style.clone(),
                EngineSpec::Diffusion(_) => unreachable!(),
            };
            if got != want {
                wrong.push(format!("{style} (recipe format {format}): got {got}, pinned {want}"));
            }
        }
    }
    assert!(wrong.is_empty(), "procedural output changed:\n{}", wrong.join("\n"));
}

/// A procedural PNG's A1111 text names only what A1111 knows with A1111's keys: no
/// sampler, steps, CFG scale or model for an engine that has none.
#[test]
fn procedural_a1111_text_uses_our_own_keys() {
    let r = procedural::recipe("growth", 7, 64, 64, 1, params(&[("roots", 2.0)]));
    let text = png_meta::a1111_parameters(&r);
    let parsed = png_meta::A1111Parameters::parse(&text).unwrap();
    let keys: Vec<&str> = parsed.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "Seed",
            "Size",
            "Chrysalis engine",
            "Chrysalis style",
            "Chrysalis params",
            "Chrysalis stage",
            "Chrysalis recipe"
        ]
    );
    for a1111_only in ["Sampler", "Steps", "CFG scale", "Model hash", "Model"] {
        assert!(!keys.contains(&a1111_only), "{a1111_only} in {text}");
    }
}

#[test]
fn identical_bytes_on_rerun_and_different_seeds_differ() {
    for style in ["flow-field", "growth"] {
        let r = procedural::recipe(style, 9, 256, 256, 1, BTreeMap::new());
        let a = png_meta::encode_png(&run(&r).unwrap().image, &r).unwrap();
        let b = png_meta::encode_png(&run(&r).unwrap().image, &r).unwrap();
        assert_eq!(a, b, "{style} is not deterministic");
        let mut other = r.clone();
        other.seed = 10;
        assert_ne!(run(&r).unwrap().image, run(&other).unwrap().image, "{style}: seeds 9 and 10 draw the same");
    }
}

#[test]
fn styles_draw_differently() {
    let imgs: Vec<_> = procedural::STYLES
        .iter()
        .map(|s| run(&procedural::recipe(s.name, 5, 256, 256, 0, params(&[("palette", 2.0)]))).unwrap().image)
        .collect();
    for i in 0..imgs.len() {
        for j in i + 1..imgs.len() {
            assert_ne!(imgs[i], imgs[j]);
        }
    }
}

#[test]
fn non_square_sizes_and_attributes() {
    let r = procedural::recipe("flow-field", 3, 384, 256, 0, BTreeMap::new());
    let out = run(&r).unwrap();
    assert_eq!(out.image.dimensions(), (384, 256));
    let kinds: Vec<&str> = out.attributes.iter().map(|a| a.trait_type.as_str()).collect();
    assert_eq!(&kinds[..3], ["Style", "Palette", "Stage"]);
    assert_eq!(out.attributes[0].value, "Flow Field");
    assert_eq!(ProceduralEngine::attributes(&r).unwrap(), out.attributes[..3].to_vec());
}

#[test]
fn progress_rises_to_total_and_ends_with_a_small_preview() {
    for style in procedural::STYLES {
        let r = procedural::recipe(style.name, 1, 256, 256, 0, BTreeMap::new());
        let mut seen: Vec<GenProgress> = Vec::new();
        ProceduralEngine.generate(&r, None, &mut |p| seen.push(p.clone()), &CancelToken::new()).unwrap();
        assert!(seen.len() > 2, "{}: only {} reports", style.name, seen.len());
        assert_eq!(seen[0].step, 0);
        let total = seen[0].total;
        assert!(seen.iter().all(|p| p.total == total), "{}: total changed", style.name);
        assert!(seen.windows(2).all(|w| w[0].step <= w[1].step), "{}: steps went backwards", style.name);
        let last = seen.last().unwrap();
        assert_eq!(last.step, total);
        let preview = last.preview.as_ref().expect("a preview at the end");
        assert!(preview.width().max(preview.height()) <= PREVIEW_MAX_SIDE);
    }
}

#[test]
fn cancel_stops_within_one_step() {
    for style in procedural::STYLES {
        let r = procedural::recipe(style.name, 1, 256, 256, 1, BTreeMap::new());
        let cancel = CancelToken::new();
        let mut reports_after_cancel = 0;
        let mut cancelled_at = None;
        let result = ProceduralEngine.generate(
            &r,
            None,
            &mut |p| {
                if cancelled_at.is_some() {
                    reports_after_cancel += 1;
                } else if p.step == 2 {
                    cancel.cancel();
                    cancelled_at = Some(p.step);
                }
            },
            &cancel,
        );
        assert!(matches!(result, Err(ArtError::Cancelled(_))), "{}: {result:?}", style.name);
        assert_eq!(reports_after_cancel, 0, "{}: kept working after the cancel", style.name);
    }
    // Cancelled before it starts: nothing runs.
    let cancel = CancelToken::new();
    cancel.cancel();
    let r = procedural::recipe("growth", 1, 256, 256, 0, BTreeMap::new());
    let mut calls = 0;
    assert!(ProceduralEngine.generate(&r, None, &mut |_| calls += 1, &cancel).unwrap_err().is_cancelled());
    assert_eq!(calls, 0);
}

#[test]
fn bad_input_gets_a_clear_error() {
    let err = |r: Recipe| run(&r).unwrap_err();
    let r = |style: &str, w: u32, h: u32, stage: u32, p: &[(&str, f64)]| {
        procedural::recipe(style, 1, w, h, stage, params(p))
    };

    let e = err(r("flow-field", 255, 512, 0, &[]));
    assert!(matches!(e, ArtError::Size { width: 255, .. }), "{e}");
    assert!(e.to_string().contains("256 to 2048"), "{e}");
    assert!(matches!(err(r("flow-field", 512, 2049, 0, &[])), ArtError::Size { height: 2049, .. }));
    assert!(matches!(err(r("flow-field", 256, 256, 10, &[])), ArtError::Stage { stage: 10, max: 9 }));

    let e = err(r("watercolour", 256, 256, 0, &[]));
    assert!(e.to_string().contains("unknown procedural style \"watercolour\""), "{e}");
    assert!(e.to_string().contains("flow-field, growth, reaction-diffusion"), "{e}");

    let e = err(r("growth", 256, 256, 0, &[("densty", 1.0)]));
    assert!(matches!(&e, ArtError::UnknownParam { name, .. } if name == "densty"), "{e}");
    assert!(e.to_string().contains("density"), "the message lists the real names: {e}");

    let e = err(r("growth", 256, 256, 0, &[("density", 7.0)]));
    assert!(matches!(&e, ArtError::ParamRange { name, .. } if name == "density"), "{e}");
    assert!(e.to_string().contains("from 0.5 to 2.5"), "{e}");
    let e = err(r("flow-field", 256, 256, 0, &[("palette", 2.5)]));
    assert!(e.to_string().contains("whole number"), "{e}");
    assert!(matches!(err(r("flow-field", 256, 256, 0, &[("palette", -1.0)])), ArtError::ParamRange { .. }));

    let mut old = r("growth", 256, 256, 0, &[]);
    if let EngineSpec::Procedural(p) = &mut old.engine {
        p.engine_version = 99;
    }
    assert!(matches!(err(old), ArtError::EngineVersion { found: 99, supported: 1, .. }));

    let mut nan = r("growth", 256, 256, 0, &[]);
    if let EngineSpec::Procedural(p) = &mut nan.engine {
        p.params.insert("density".into(), f64::NAN);
    }
    assert!(matches!(err(nan), ArtError::Recipe(_)));

    let mut diffusion = r("growth", 256, 256, 0, &[]);
    diffusion.engine = EngineSpec::Diffusion(DiffusionSpec {
        engine_version: 1,
        model: ModelRef { name: "m".into(), files: BTreeMap::new() },
        steps: 20,
        guidance: 7.5,
        scheduler: Scheduler::Ddim,
        dtype: DType::F32,
        init_image: None,
        loras: Vec::new(),
        device: Default::default(),
        backend: Default::default(),
    });
    assert!(matches!(err(diffusion.clone()), ArtError::WrongEngine { .. }));
    // The dispatcher needs a model folder for a diffusion recipe.
    let e = chrysalis_art::generate(&diffusion, None, None, &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert!(matches!(e, ArtError::ModelDirRequired), "{e}");
}

#[test]
fn the_dispatcher_runs_procedural_recipes() {
    let r = procedural::recipe("growth", 4, 256, 256, 0, BTreeMap::new());
    let a = chrysalis_art::generate(&r, None, None, &mut |_| {}, &CancelToken::new()).unwrap();
    assert_eq!(a.image, run(&r).unwrap().image);
    assert_eq!(chrysalis_art::engine_for(&r, None).unwrap().name(), "procedural");
}

/// Recipe format 3 changed only the deflate level: the `png` crate (a decoder we did not
/// write) reads the same pixels from a format-2 and a format-3 PNG of the same image, and
/// the fast level costs a bounded number of bytes.
#[test]
fn format_3_pngs_hold_the_same_pixels_as_format_2_in_a_few_more_bytes() {
    for (recipe, _) in golden_recipes(png_meta::FAST_DEFLATE_FORMAT) {
        let image = run(&recipe).unwrap().image;
        let mut old = recipe.clone();
        old.format = png_meta::FAST_DEFLATE_FORMAT - 1;
        let (new_bytes, old_bytes) =
            (png_meta::encode_png(&image, &recipe).unwrap(), png_meta::encode_png(&image, &old).unwrap());
        assert_eq!((png_meta::zlib_level(Some(&recipe)), png_meta::zlib_level(Some(&old))), (2, 6));
        let pixels = |bytes: &[u8]| {
            let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            buf.truncate(info.buffer_size());
            buf
        };
        assert_eq!(pixels(&new_bytes), image.as_raw().as_slice());
        assert_eq!(pixels(&old_bytes), image.as_raw().as_slice());
        let growth = new_bytes.len() as f64 / old_bytes.len() as f64;
        assert!((1.0..1.3).contains(&growth), "format 3 is {growth:.3}x format 2's size");
    }
}
