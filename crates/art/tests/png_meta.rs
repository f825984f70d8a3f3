//! PNG provenance: A1111 `parameters` text, the `chrysalis` recipe chunk, deterministic
//! encoding, and reading it all back (with our reader and with the `png` crate's).

use std::collections::BTreeMap;

use chrysalis_art::png_meta::{self, A1111Parameters};
use chrysalis_art::{ArtError, RgbImage, procedural};
use chrysalis_core::Recipe;
use chrysalis_core::recipe::{DType, DiffusionSpec, EngineSpec, InitImage, ModelRef, RECIPE_FORMAT, Scheduler};

fn diffusion_recipe() -> Recipe {
    Recipe {
        format: RECIPE_FORMAT,
        engine: EngineSpec::Diffusion(DiffusionSpec {
            engine_version: 1,
            model: ModelRef {
                name: "sd15".into(),
                files: BTreeMap::from([("unet/diffusion_pytorch_model.safetensors".into(), "ab".repeat(32))]),
            },
            steps: 20,
            guidance: 7.5,
            scheduler: Scheduler::Ddim,
            dtype: DType::F32,
            init_image: None,
            loras: Vec::new(),
            device: Default::default(),
            backend: Default::default(),
        }),
        seed: 42,
        width: 512,
        height: 512,
        stage: 0,
        prompt: "a moth at night, ink on paper\nsoft light".into(),
        negative_prompt: "blurry, text".into(),
    }
}

fn test_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7 + y) as u8, (y * 3) as u8, ((x ^ y) * 5) as u8]))
}

#[test]
fn a1111_text_is_exactly_what_a1111_writes() {
    let r = diffusion_recipe();
    let text = png_meta::a1111_parameters(&r);
    let hash = match &r.engine {
        EngineSpec::Diffusion(d) => d.model.short_hash(),
        _ => unreachable!(),
    };
    assert_eq!(
        text,
        format!(
            "a moth at night, ink on paper\nsoft light\nNegative prompt: blurry, text\n\
             Steps: 20, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: {hash}, Model: sd15, \
             Chrysalis stage: 0, Chrysalis recipe: {}",
            r.hash()
        )
    );
    // No negative prompt: no `Negative prompt:` line. No prompt: the settings line alone.
    let mut bare = r.clone();
    bare.negative_prompt.clear();
    assert!(!png_meta::a1111_parameters(&bare).contains("Negative prompt"));
    bare.prompt.clear();
    assert!(png_meta::a1111_parameters(&bare).starts_with("Steps: 20, Sampler: DDIM"));
}

#[test]
fn a1111_round_trip() {
    let mut recipes = vec![diffusion_recipe()];
    let mut img2img = diffusion_recipe();
    if let EngineSpec::Diffusion(d) = &mut img2img.engine {
        d.init_image = Some(InitImage { sha256: "cd".repeat(32), strength: 0.6 });
        d.scheduler = Scheduler::EulerAncestral;
    }
    img2img.negative_prompt.clear();
    recipes.push(img2img);
    let mut proc = procedural::recipe(
        "flow-field",
        7,
        1024,
        768,
        3,
        BTreeMap::from([("density".into(), 1.5), ("palette".into(), 3.0)]),
    );
    proc.prompt = "Moth #7: \"night\" flight".into();
    recipes.push(proc);
    for r in recipes {
        let a = png_meta::a1111_for(&r);
        let text = a.to_text();
        let back = A1111Parameters::parse(&text).unwrap();
        assert_eq!(back, a, "{text}");
        assert_eq!(back.get("Seed"), Some(r.seed.to_string().as_str()));
        assert_eq!(back.get(png_meta::RECIPE_HASH_FIELD), Some(r.hash().to_string().as_str()));
    }
    // Values with commas or colons are quoted, and come back unquoted.
    let p =
        procedural::recipe("growth", 1, 256, 256, 0, BTreeMap::from([("density".into(), 1.5), ("roots".into(), 3.0)]));
    let text = png_meta::a1111_parameters(&p);
    assert!(text.contains(r#"Chrysalis params: "density: 1.5, roots: 3""#), "{text}");
    assert_eq!(A1111Parameters::parse(&text).unwrap().get("Chrysalis params"), Some("density: 1.5, roots: 3"));
    assert!(text.contains("Chrysalis style: growth,") && !text.contains("Sampler"), "{text}");
    // A recipe of format 1 keeps the text it was published with (its PNG regenerates to the
    // same bytes): the procedural style under A1111's `Sampler`, the stage under `Stage`.
    let mut v1 = p.clone();
    v1.format = 1;
    let text = png_meta::a1111_parameters(&v1);
    assert!(text.contains(r#"Style params: "density: 1.5, roots: 3""#), "{text}");
    assert!(text.contains("Sampler: growth,") && text.contains("Stage: 0,"), "{text}");
}

#[test]
fn parses_parameters_written_by_a1111() {
    let text = "masterpiece, a cat\nwith a hat\nNegative prompt: ugly,\nbad hands\nSteps: 30, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 123, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora hashes: \"x: 1a2b, y: 3c4d\", Version: v1.10.1";
    let p = A1111Parameters::parse(text).unwrap();
    assert_eq!(p.prompt, "masterpiece, a cat\nwith a hat");
    assert_eq!(p.negative_prompt, "ugly,\nbad hands");
    assert_eq!(p.get("Sampler"), Some("Euler a"));
    assert_eq!(p.get("Size"), Some("512x768"));
    assert_eq!(p.get("Lora hashes"), Some("x: 1a2b, y: 3c4d"));
    assert_eq!(p.get("Version"), Some("v1.10.1"));
    assert_eq!(p.fields.len(), 10);
    assert!(matches!(A1111Parameters::parse("just a prompt"), Err(ArtError::A1111(_))));
}

#[test]
fn recipe_round_trips_through_the_png() {
    let r = diffusion_recipe();
    let img = test_image(64, 48);
    let bytes = png_meta::encode_png(&img, &r).unwrap();
    assert_eq!(png_meta::recipe_from_png(&bytes).unwrap(), r);
    // Deterministic: same pixels and recipe, same bytes.
    assert_eq!(png_meta::encode_png(&img, &r).unwrap(), bytes);
    // The pixels decode unchanged with a standard decoder.
    assert_eq!(png_meta::decode_rgb(&bytes, "test").unwrap(), img);
    // A standard PNG reader sees the A1111 tEXt chunk and the chrysalis iTXt chunk.
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    let params = info.uncompressed_latin1_text.iter().find(|t| t.keyword == "parameters").expect("tEXt parameters");
    assert_eq!(params.text, png_meta::a1111_parameters(&r));
    let itxt = info.utf8_text.iter().find(|t| t.keyword == "chrysalis").expect("iTXt chrysalis");
    assert_eq!(itxt.get_text().unwrap(), r.canonical_json());
}

#[test]
fn non_latin1_prompts_go_in_an_itxt_parameters_chunk() {
    let mut r = diffusion_recipe();
    r.prompt = "夜の蛾 🦋".into();
    let bytes = png_meta::encode_png(&test_image(8, 8), &r).unwrap();
    let chunks = png_meta::png_text_chunks(&bytes).unwrap();
    let (_, text) = chunks.iter().find(|(k, _)| k == "parameters").unwrap();
    assert!(text.starts_with("夜の蛾 🦋\n"));
    assert_eq!(png_meta::recipe_from_png(&bytes).unwrap(), r);
    let reader = png::Decoder::new(std::io::Cursor::new(&bytes)).read_info().unwrap();
    assert!(reader.info().utf8_text.iter().any(|t| t.keyword == "parameters"));
}

#[test]
fn pngs_without_a_recipe_or_damaged_ones_are_refused_clearly() {
    // A PNG from elsewhere: no chrysalis chunk.
    let mut plain = Vec::new();
    test_image(4, 4).write_to(&mut std::io::Cursor::new(&mut plain), image::ImageFormat::Png).unwrap();
    let e = png_meta::recipe_from_png(&plain).unwrap_err();
    assert!(matches!(e, ArtError::NoRecipe(_)), "{e}");
    assert!(e.to_string().contains("no Chrysalis recipe"), "{e}");
    // Not a PNG at all.
    assert!(matches!(png_meta::recipe_from_png(b"GIF89a...."), Err(ArtError::Decode { .. })));
    // A flipped bit in the recipe chunk fails its CRC.
    let r = diffusion_recipe();
    let mut bytes = png_meta::encode_png(&test_image(8, 8), &r).unwrap();
    let at = bytes.windows(9).position(|w| w == b"chrysalis").unwrap() + 20;
    bytes[at] ^= 1;
    let e = png_meta::recipe_from_png(&bytes).unwrap_err();
    assert!(e.to_string().contains("CRC"), "{e}");
    // Truncated.
    let bytes = png_meta::encode_png(&test_image(8, 8), &r).unwrap();
    assert!(png_meta::recipe_from_png(&bytes[..40]).is_err());
}

#[test]
fn write_png_is_atomic_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.png");
    let r = procedural::recipe("growth", 1, 256, 256, 0, BTreeMap::new());
    let img = test_image(16, 16);
    let bytes = png_meta::write_png(&path, &img, &r).unwrap();
    let (read, recipe) = png_meta::recipe_from_png_file(&path).unwrap();
    assert_eq!(read, bytes);
    assert_eq!(recipe, r);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["out.png"], "no temporary file left behind");
    let e = png_meta::recipe_from_png_file(&dir.path().join("missing.png")).unwrap_err();
    assert!(e.to_string().contains("missing.png"), "{e}");
}
