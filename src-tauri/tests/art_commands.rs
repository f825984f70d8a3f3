//! The Create and Gallery commands (src/art.rs) and the storage-token commands
//! (src/credentials.rs) on the mock runtime, as the UI calls them.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrysalis_studio::AppState;
use chrysalis_studio::secrets::MemoryStore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{CHANNEL, Studio, invoke, path_arg, studio_with};

fn studio() -> Studio {
    studio_with(AppState::with_secrets(Box::new(MemoryStore::default())), Arc::new(|_, _| {}))
}

/// A studio recording every channel message, with a new project open.
fn studio_recording(tmp: &Path) -> (Studio, Arc<Mutex<Vec<Value>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let app = studio_with(
        AppState::with_secrets(Box::new(MemoryStore::default())),
        Arc::new(move |_, event| seen.lock().unwrap().push(event)),
    );
    app.ok("create_project", json!({ "dir": path_arg(&tmp.join("p")), "name": "Moths" }));
    (app, events)
}

fn procedural_request(seed: u64) -> Value {
    json!({
        "engine": { "kind": "procedural", "style": "flow-field", "params": { "palette": 3 } },
        "prompt": "  night moth  ",
        "negative_prompt": "",
        "seed": seed,
        "width": 256,
        "height": 256,
        "stage": 1,
        "img2img": null,
    })
}

fn data_url_bytes(url: &Value) -> Vec<u8> {
    let url = url.as_str().unwrap();
    let b64 =
        url.strip_prefix("data:image/png;base64,").unwrap_or_else(|| panic!("not a PNG data URL: {}", &url[..40]));
    base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
}

fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()))
}

#[test]
fn catalog_lists_styles_params_schedulers_and_sizes() {
    let app = studio();
    let catalog = app.ok("engine_catalog", json!({}));
    let styles = catalog["styles"].as_array().unwrap();
    let flow = styles.iter().find(|s| s["name"] == "flow-field").expect("flow-field is offered");
    assert_eq!(flow["title"], "Flow Field");
    let palette = flow["params"].as_array().unwrap().iter().find(|p| p["name"] == "palette").unwrap();
    assert_eq!((palette["min"].as_f64(), palette["max"].as_f64()), (Some(0.0), Some(9.0)));
    assert_eq!(palette["integer"], true);
    assert_eq!(palette["default"], Value::Null, "palette is drawn from the seed");
    let density = flow["params"].as_array().unwrap().iter().find(|p| p["name"] == "density").unwrap();
    assert_eq!(density["default"].as_f64(), Some(1.0));
    let names: Vec<&str> =
        catalog["schedulers"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["DDIM", "Euler", "Euler a", "LCM"]);
    assert_eq!(catalog["procedural_size"]["min"], 256);
    assert_eq!(catalog["diffusion_size"]["multiple"], 8);
}

#[test]
fn generate_streams_progress_and_fills_the_gallery() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, events) = studio_recording(tmp.path());

    let mut request = procedural_request(42);
    request["width"] = json!(512);
    let made = app.ok("generate", json!({ "request": request, "onProgress": CHANNEL }));
    assert_eq!(made["recipe"]["seed"], 42);
    assert_eq!((made["width"].clone(), made["height"].clone()), (json!(512), json!(256)));
    assert_eq!(made["recipe"]["prompt"], "night moth", "the prompt is trimmed");
    assert_eq!(made["recipe"]["stage"], 1);
    assert_eq!(made["engine_label"], "Flow Field");
    assert_eq!(made["model_hash"], Value::Null);
    assert!(made["parameters"].as_str().unwrap().contains("Seed: 42"), "{made}");
    let file = made["file"].as_str().unwrap();
    assert!(file.starts_with(tmp.path().join("p").canonicalize().unwrap().to_str().unwrap()), "{file}");
    let bytes = std::fs::read(file).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), made["sha256"].as_str().unwrap());

    let events = events.lock().unwrap().clone();
    assert!(events.len() >= 3, "{events:?}");
    assert!(events.iter().all(|e| e["event"] == "progress"));
    assert_eq!(events[0]["step"], 0);
    let last = events.last().unwrap();
    assert_eq!(last["step"], last["total"]);
    let preview = data_url_bytes(&last["preview"]);
    let (w, h) = png_size(&preview);
    assert!(w <= 256 && h <= 256 && w > 0, "a small preview: {w}x{h}");

    let id = made["id"].clone();
    assert_eq!(app.ok("list_generations", json!({})), json!([made.clone()]));
    assert_eq!(app.ok("get_generation", json!({ "id": id })), made);

    let full = data_url_bytes(&app.ok("generation_image", json!({ "id": id, "thumbnail": false })));
    assert_eq!(full, bytes, "the full image is the file itself");
    let thumb = data_url_bytes(&app.ok("generation_image", json!({ "id": id, "thumbnail": true })));
    assert_eq!(png_size(&thumb), (256, 128), "a thumbnail keeps the aspect, longest side 256");
}

#[test]
fn stage_image_is_a_thumbnail_of_the_build_folder_and_a_missing_one_says_so() {
    let (kind, _) = studio().err("stage_image", json!({ "stage": 0, "index": 0 }));
    assert_eq!(kind, "noProject");

    let tmp = tempfile::tempdir().unwrap();
    let (app, _) = studio_recording(tmp.path());
    let (kind, message) = app.err("stage_image", json!({ "stage": 1, "index": 4 }));
    assert_eq!(kind, "notFound");
    assert!(
        message.contains("stage-1") && message.contains("4.png") && message.contains("not on this computer"),
        "{message}"
    );

    // Where the pipeline writes stage 1 of item 4 (crates/pipeline/src/generate.rs).
    let made = app.ok("generate", json!({ "request": procedural_request(7), "onProgress": CHANNEL }));
    let file = tmp.path().join("p/build/stage-1/images/4.png");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::copy(made["file"].as_str().unwrap(), &file).unwrap();
    let thumb = data_url_bytes(&app.ok("stage_image", json!({ "stage": 1, "index": 4 })));
    let (w, h) = png_size(&thumb);
    assert!(w <= 256 && h <= 256 && w > 0 && h > 0, "a thumbnail, like the gallery's: {w}x{h}");
}

#[test]
fn regenerate_check_says_identical_or_different() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, events) = studio_recording(tmp.path());
    let made = app.ok("generate", json!({ "request": procedural_request(7), "onProgress": CHANNEL }));
    events.lock().unwrap().clear();

    let check = app.ok("regenerate_check", json!({ "id": made["id"], "modelDir": null, "onProgress": CHANNEL }));
    assert_eq!(check["identical"], true, "{check}");
    assert_eq!(check["regenerated_sha256"], made["sha256"]);
    assert!(!events.lock().unwrap().is_empty(), "the check streams progress");

    std::fs::write(made["file"].as_str().unwrap(), b"edited").unwrap();
    let check = app.ok("regenerate_check", json!({ "id": made["id"], "modelDir": null, "onProgress": CHANNEL }));
    assert_eq!(check["identical"], false);
    assert_eq!(check["regenerated_sha256"], made["sha256"], "the recipe still makes the recorded bytes");
    assert_ne!(check["file_sha256"], made["sha256"]);

    // An edited file is not shown or exported as if it were the original.
    let (kind, message) = app.err("generation_image", json!({ "id": made["id"], "thumbnail": true }));
    assert_eq!(kind, "damaged");
    assert!(message.contains("regenerate"), "{message}");
}

#[test]
fn export_and_reveal() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _) = studio_recording(tmp.path());
    let made = app.ok("generate", json!({ "request": procedural_request(3), "onProgress": CHANNEL }));
    let id = made["id"].clone();

    let out = tmp.path().join("exports");
    std::fs::create_dir(&out).unwrap();
    let written = app.ok("export_png", json!({ "id": id, "dest": path_arg(&out) }));
    let written = Path::new(written.as_str().unwrap());
    assert_eq!(written.parent(), Some(out.as_path()));
    assert_eq!(std::fs::read(written).unwrap(), std::fs::read(made["file"].as_str().unwrap()).unwrap());

    let named = out.join("moth.png");
    app.ok("export_png", json!({ "id": id, "dest": path_arg(&named) }));
    let (kind, message) = app.err("export_png", json!({ "id": id, "dest": path_arg(&named) }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("already exists"), "{message}");
    let (kind, message) = app.err("export_png", json!({ "id": id, "dest": "moth.png" }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("full path"), "{message}");

    // The opener is swapped for a script that records what it was asked to show.
    let shown = tmp.path().join("shown.txt");
    let script = tmp.path().join("opener.sh");
    std::fs::write(&script, format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", shown.display())).unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&script).status().unwrap();
    // SAFETY: only this test reads CHRYSALIS_OPENER; std serialises its own env access.
    unsafe { std::env::set_var("CHRYSALIS_OPENER", &script) };
    let folder = app.ok("reveal_in_file_manager", json!({ "id": id }));
    let images = Path::new(made["file"].as_str().unwrap()).parent().unwrap().to_str().unwrap().to_owned();
    assert_eq!(folder, json!(images));
    for _ in 0..100 {
        if shown.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&shown).unwrap(), images);
    let root = app.ok("reveal_in_file_manager", json!({ "id": null }));
    assert_eq!(root, app.ok("project_info", json!({}))["root"]);
    unsafe { std::env::set_var("CHRYSALIS_OPENER", "/nonexistent/opener") };
    let (kind, message) = app.err("reveal_in_file_manager", json!({ "id": id }));
    assert_eq!(kind, "storage");
    assert!(message.contains("Open that folder yourself"), "{message}");
    unsafe { std::env::remove_var("CHRYSALIS_OPENER") };
}

#[test]
fn cancel_stops_a_generation_and_records_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let answers = Arc::new(Mutex::new(Vec::new()));
    let seen = answers.clone();
    let app = studio_with(
        AppState::with_secrets(Box::new(MemoryStore::default())),
        Arc::new(move |webview, _event| {
            let mut answers = seen.lock().unwrap();
            if answers.is_empty() {
                let cmd = |c, args| invoke(webview, c, args).unwrap_or_else(|e| e["kind"].clone());
                answers.push(cmd("generate", json!({ "request": procedural_request(1), "onProgress": CHANNEL })));
                // Browsing the gallery works while an image is being made.
                answers.push(cmd("list_generations", json!({})));
                answers.push(cmd("cancel_job", json!({})));
            }
        }),
    );
    app.ok("create_project", json!({ "dir": path_arg(tmp.path()) }));
    let (kind, _) = app.err("generate", json!({ "request": procedural_request(5), "onProgress": CHANNEL }));
    assert_eq!(kind, "cancelled");
    assert_eq!(*answers.lock().unwrap(), [json!("busy"), json!([]), json!(true)]);
    assert_eq!(app.ok("list_generations", json!({})), json!([]));
    assert_eq!(app.ok("cancel_job", json!({})), json!(false));
}

#[test]
fn bad_requests_say_what_to_do() {
    let app = studio();
    assert_eq!(app.err("list_generations", json!({})).0, "noProject");
    assert_eq!(app.err("generate", json!({ "request": procedural_request(1), "onProgress": CHANNEL })).0, "noProject");
    assert_eq!(app.err("reveal_in_file_manager", json!({ "id": null })).0, "noProject");

    let tmp = tempfile::tempdir().unwrap();
    app.ok("create_project", json!({ "dir": path_arg(tmp.path()) }));
    let (kind, message) = app.err("get_generation", json!({ "id": 99 }));
    assert_eq!(kind, "notFound");
    assert!(message.contains("#99"), "{message}");

    let mut request = procedural_request(1);
    request["engine"]["style"] = json!("cubism");
    let (kind, message) = app.err("generate", json!({ "request": request, "onProgress": CHANNEL }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("flow-field"), "lists the known styles: {message}");

    let mut request = procedural_request(1);
    request["width"] = json!(100);
    let (kind, message) = app.err("generate", json!({ "request": request, "onProgress": CHANNEL }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("256"), "{message}");

    let made = app.ok("generate", json!({ "request": procedural_request(2), "onProgress": CHANNEL }));
    let mut request = procedural_request(3);
    request["img2img"] = json!({ "parent_id": made["id"], "strength": 0.5 });
    let (kind, message) = app.err("generate", json!({ "request": request, "onProgress": CHANNEL }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("diffusion model"), "{message}");
}

#[test]
fn model_folders_are_hashed_and_non_models_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, events) = studio_recording(tmp.path());
    let model = tmp.path().join("tiny-sd");
    chrysalis_art::diffusion::testing::write_tiny_model(&model, 3).unwrap();

    let info = app.ok("model_info", json!({ "dir": path_arg(&model) }));
    assert_eq!(info["name"], "tiny-sd");
    assert_eq!(info["short_hash"].as_str().unwrap().len(), 10);
    assert!(info["files"].as_object().unwrap().keys().any(|k| k.starts_with("unet/")), "{info}");
    assert!(info["parameters"].as_u64().unwrap() > 0);
    let sampling = &info["sampling"];
    assert_eq!((sampling["family"].as_str(), sampling["scheduler"].as_str()), (Some("standard"), Some("ddim")));

    let (kind, message) = app.err("model_info", json!({ "dir": path_arg(&tmp.path().join("p")) }));
    assert_eq!(kind, "engine");
    assert!(message.contains("model_index.json"), "{message}");
    let (kind, _) = app.err("model_info", json!({ "dir": "" }));
    assert_eq!(kind, "invalidInput");

    // img2img from a gallery image with the tiny model: the source's size, its parent kept,
    // and a regeneration that needs (and gets) the model folder.
    let source = app.ok("generate", json!({ "request": procedural_request(9), "onProgress": CHANNEL }));
    events.lock().unwrap().clear();
    let request = json!({
        "engine": { "kind": "diffusion", "model_dir": path_arg(&model), "steps": 3, "guidance": 1.0,
                    "scheduler": "ddim", "dtype": "f32" },
        "prompt": "a moth", "negative_prompt": "", "seed": 5, "width": 64, "height": 64, "stage": 0,
        "img2img": { "parent_id": source["id"], "strength": 0.5 },
    });
    let made = app.ok("generate", json!({ "request": request, "onProgress": CHANNEL }));
    assert_eq!(made["parent_id"], source["id"]);
    assert_eq!((made["width"].clone(), made["height"].clone()), (json!(256), json!(256)));
    assert_eq!(made["model_hash"], info["short_hash"]);
    assert_eq!(made["engine_label"], "tiny-sd");
    assert_eq!(made["recipe"]["engine"]["init_image"]["sha256"], source["sha256"]);
    assert!(events.lock().unwrap().iter().any(|e| e["phase"].as_str().is_some_and(|p| !p.is_empty())));

    let (kind, message) =
        app.err("regenerate_check", json!({ "id": made["id"], "modelDir": null, "onProgress": CHANNEL }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("model folder"), "{message}");
    let check =
        app.ok("regenerate_check", json!({ "id": made["id"], "modelDir": path_arg(&model), "onProgress": CHANNEL }));
    assert_eq!(check["identical"], true, "{check}");
}

/// A single-file checkpoint (A1111 / ComfyUI / Civitai `.safetensors`) is a model too: its
/// hash is A1111's (the file's SHA-256, first 10 hex digits).
/// The Create screen's device picker: the CPU with its free memory (GPUs in CUDA builds);
/// a request for a GPU the build lacks, or a device name that means nothing, is refused
/// before anything is made; the CPU (named or not) makes recipes without a device key.
#[test]
fn devices_are_offered_and_a_missing_gpu_is_refused_before_generating() {
    let tmp = tempfile::tempdir().unwrap();
    let app = studio();
    app.ok("create_project", json!({ "dir": path_arg(tmp.path()) }));
    let devices = app.ok("diffusion_devices", json!({}));
    assert_eq!(devices["devices"][0]["id"], "cpu", "{devices}");
    assert!(devices["devices"][0]["label"].as_str().unwrap().starts_with("CPU ("), "{devices}");
    assert!(devices["devices"][0]["free_bytes"].as_u64().unwrap() > 0, "{devices}");
    let cuda_in_build = devices["cuda_in_build"].as_bool().unwrap();

    let model = tmp.path().join("tiny-sd");
    chrysalis_art::diffusion::testing::write_tiny_model(&model, 3).unwrap();
    let request = |device: Value| {
        json!({
            "engine": { "kind": "diffusion", "model_dir": path_arg(&model), "steps": 2, "guidance": 1.0,
                        "scheduler": "ddim", "dtype": "f32", "device": device },
            "prompt": "a moth", "negative_prompt": "", "seed": 5, "width": 64, "height": 64, "stage": 0,
            "img2img": null,
        })
    };
    let (kind, message) = app.err("generate", json!({ "request": request(json!("tpu")), "onProgress": CHANNEL }));
    assert_eq!(kind, "engine");
    assert!(message.contains("Unknown device 'tpu': use cpu, cuda"), "{message}");
    if !cuda_in_build {
        let (kind, message) =
            app.err("generate", json!({ "request": request(json!("cuda:0")), "onProgress": CHANNEL }));
        assert_eq!(kind, "engine");
        assert!(message.contains("compiled without CUDA"), "{message}");
    }
    assert_eq!(app.ok("list_generations", json!({})).as_array().unwrap().len(), 0, "nothing was recorded");
    for device in [json!("cpu"), Value::Null] {
        let made = app.ok("generate", json!({ "request": request(device), "onProgress": CHANNEL }));
        assert!(made["recipe"]["engine"].get("device").is_none(), "{made}");
    }
}

/// The Create screen's backend picker: candle always, libtorch with whether this build has
/// it. In a build without libtorch a request for it is refused before anything is made,
/// naming the build to make; libtorch on a GPU is refused in every build; candle (named or
/// not) makes recipes without a backend key.
#[test]
fn backends_are_offered_and_a_missing_libtorch_is_refused_before_generating() {
    let tmp = tempfile::tempdir().unwrap();
    let app = studio();
    app.ok("create_project", json!({ "dir": path_arg(tmp.path()) }));
    let devices = app.ok("diffusion_devices", json!({}));
    let torch_in_build = chrysalis_art::diffusion::torch_compiled();
    assert_eq!(
        devices["backends"],
        json!([
            { "id": "candle", "label": "candle", "in_build": true },
            { "id": "torch", "label": "libtorch", "in_build": torch_in_build },
        ]),
        "{devices}"
    );

    let model = tmp.path().join("tiny-sd");
    chrysalis_art::diffusion::testing::write_tiny_model(&model, 3).unwrap();
    let request = |backend: Value, device: &str| {
        json!({
            "engine": { "kind": "diffusion", "model_dir": path_arg(&model), "steps": 2, "guidance": 1.0,
                        "scheduler": "ddim", "dtype": "f32", "device": device, "backend": backend },
            "prompt": "a moth", "negative_prompt": "", "seed": 5, "width": 64, "height": 64, "stage": 0,
            "img2img": null,
        })
    };
    // A name that is no backend does not reach the command (Tauri refuses the arguments).
    let refused = app.call("generate", json!({ "request": request(json!("onnx"), "cpu"), "onProgress": CHANNEL }));
    assert!(refused.unwrap_err().to_string().contains("onnx"));
    if !torch_in_build {
        let (kind, message) =
            app.err("generate", json!({ "request": request(json!("torch"), "cpu"), "onProgress": CHANNEL }));
        assert_eq!(kind, "engine");
        assert!(message.contains("has no libtorch backend"), "{message}");
        assert!(message.contains("scripts/setup-torch.sh"), "{message}");
        assert!(message.contains("scripts/studio.sh --torch"), "the app's own build is named: {message}");
    }
    let (kind, _) = app.err("generate", json!({ "request": request(json!("torch"), "cuda:0"), "onProgress": CHANNEL }));
    assert_eq!(kind, "engine");
    assert_eq!(app.ok("list_generations", json!({})).as_array().unwrap().len(), 0, "nothing was recorded");
    for backend in [json!("candle"), Value::Null] {
        let made = app.ok("generate", json!({ "request": request(backend, "cpu"), "onProgress": CHANNEL }));
        assert!(made["recipe"]["engine"].get("backend").is_none(), "{made}");
    }
    if torch_in_build {
        let made = app.ok("generate", json!({ "request": request(json!("torch"), "cpu"), "onProgress": CHANNEL }));
        assert_eq!(made["recipe"]["engine"]["backend"], "torch", "{made}");
    }
}

#[test]
fn single_file_checkpoints_are_models() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _events) = studio_recording(tmp.path());
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/art/tests/fixtures/single_file/sd1-tiny.safetensors");
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(&file).unwrap()))
    };
    let info = app.ok("model_info", json!({ "dir": path_arg(&file) }));
    assert_eq!(info["name"], "sd1-tiny");
    assert_eq!(info["short_hash"], sha[..10]);
    assert_eq!(info["files"], json!({ "checkpoint.safetensors": sha }));
    let (kind, message) = app.err("model_info", json!({ "dir": path_arg(&tmp.path().join("x.ckpt")) }));
    assert_eq!(kind, "engine");
    assert!(message.contains(".safetensors"), "{message}");
}

#[test]
fn tokens_go_to_the_keyring_and_never_come_back() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    let app = studio_with(AppState::with_secrets(Box::new(store.clone())), Arc::new(|_, _| {}));
    app.ok("create_project", json!({ "dir": path_arg(tmp.path()) }));
    let args = json!({ "backend": "pinata", "endpoint": "https://api.pinata.cloud" });

    let status = app.ok("credential_status", args.clone());
    assert_eq!(status["account"], "pinata@api.pinata.cloud");
    assert_eq!(status["env"], "PINATA_JWT");
    assert_eq!(status["in_keyring"], false);
    assert_eq!(status["keyring_error"], Value::Null);

    let token = "eyJhbGciOiJIUzI1NiJ9.very-secret-token";
    let mut set = args.clone();
    set["token"] = json!(format!("  {token}\n"));
    let status = app.ok("set_credential", set);
    assert_eq!(status["in_keyring"], true);
    assert!(!status.to_string().contains("very-secret"), "the token never comes back: {status}");
    assert!(store.holds(token), "stored trimmed, under the CLI's account");
    assert_eq!(app.ok("credential_status", args.clone())["in_keyring"], true);

    // Nothing of it in the project folder.
    for entry in std::fs::read_dir(tmp.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(17).any(|w| w == b"very-secret-token"), "{} holds the token", path.display());
        }
    }

    assert_eq!(app.ok("delete_credential", args.clone())["in_keyring"], false);
    assert!(!store.holds(token));

    let mut empty = args.clone();
    empty["token"] = json!("   ");
    assert_eq!(app.err("set_credential", empty).0, "invalidInput");
    let (kind, message) =
        app.err("credential_status", json!({ "backend": "arweave", "endpoint": "https://arweave.net" }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("pinata"), "{message}");
    assert_eq!(app.err("credential_status", json!({ "backend": "psa", "endpoint": " " })).0, "invalidInput");
}

#[test]
fn without_a_keyring_saving_fails_and_says_use_the_environment() {
    let app = studio_with(AppState::with_secrets(Box::new(MemoryStore::unavailable())), Arc::new(|_, _| {}));
    let args = json!({ "backend": "psa", "endpoint": "https://pins.example/psa", "token": "t0k3n" });
    let (kind, message) = app.err("set_credential", args.clone());
    assert_eq!(kind, "keyring");
    assert!(message.contains("CHRYSALIS_PSA_TOKEN"), "{message}");
    assert!(!message.contains("t0k3n"), "{message}");
    let status = app.ok("credential_status", json!({ "backend": "psa", "endpoint": "https://pins.example/psa" }));
    assert_eq!(status["in_keyring"], false);
    assert!(status["keyring_error"].as_str().is_some_and(|e| !e.is_empty()), "{status}");
    assert_eq!(
        app.err("delete_credential", json!({ "backend": "psa", "endpoint": "https://pins.example/psa" })).0,
        "keyring"
    );
}

/// A diffusion generation with a kohya LoRA (the sd15 fixture's, see
/// crates/art/tests/diffusers_equivalence.rs): the recipe records the LoRA's SHA-256 and
/// weight, the image differs from the one without it, regeneration needs the LoRA file (and
/// is identical with it), and an SDXL LoRA is refused naming its key.
#[test]
fn generate_with_a_lora_records_it_and_regenerates_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _events) = studio_recording(tmp.path());
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/art/tests/fixtures/diffusers/sd15");
    let lora = fixture.join("lora/tiny_kohya.safetensors");
    let sha = hex::encode(Sha256::digest(std::fs::read(&lora).unwrap()));
    let request = |loras: Value| {
        json!({
            "engine": { "kind": "diffusion", "model_dir": path_arg(&fixture), "steps": 2, "guidance": 1.0,
                        "scheduler": "ddim", "dtype": "f32", "loras": loras },
            "prompt": "a moth", "negative_prompt": "", "seed": 5, "width": 64, "height": 64, "stage": 0,
            "img2img": null,
        })
    };
    let with = app.ok(
        "generate",
        json!({ "request": request(json!([{ "path": path_arg(&lora), "weight": 0.8 }])), "onProgress": CHANNEL }),
    );
    assert_eq!(
        with["recipe"]["engine"]["loras"],
        json!([{ "name": "tiny_kohya.safetensors", "sha256": sha, "weight": 0.8 }])
    );
    let without = app.ok("generate", json!({ "request": request(json!([])), "onProgress": CHANNEL }));
    assert!(without["recipe"]["engine"].get("loras").is_none(), "{}", without["recipe"]);
    assert_ne!(with["sha256"], without["sha256"], "the LoRA must change the image");

    let regen = |files: Value| json!({ "id": with["id"], "modelDir": path_arg(&fixture), "loraFiles": files, "onProgress": CHANNEL });
    let (_, message) = app.err("regenerate_check", regen(Value::Null));
    assert!(message.contains("LoRA") && message.contains(&sha), "{message}");
    let check = app.ok("regenerate_check", regen(json!([path_arg(&lora)])));
    assert_eq!(check["identical"], true, "{check}");

    let sdxl = tmp.path().join("sdxl.safetensors");
    let key = "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight";
    // A safetensors file by hand: header length, JSON header, then the tensor's 4x32 f16 zeros.
    let header = format!(r#"{{"{key}":{{"dtype":"F16","shape":[4,32],"data_offsets":[0,256]}}}}"#);
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend([0u8; 256]);
    std::fs::write(&sdxl, bytes).unwrap();
    let (kind, message) = app.err(
        "generate",
        json!({ "request": request(json!([{ "path": path_arg(&sdxl), "weight": 1.0 }])), "onProgress": CHANNEL }),
    );
    assert_eq!(kind, "engine");
    assert!(message.contains(key) && message.contains("SDXL"), "{message}");
}

/// A few-step model: `model_info` says what it expects (an LCMScheduler config: LCM, 4
/// steps, guidance 1 = off), and `generate` runs the LCM sampler without guidance.
#[test]
fn few_step_models_report_their_sampling_and_generate_with_lcm() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _events) = studio_recording(tmp.path());
    let model = tmp.path().join("tiny-lcm");
    chrysalis_art::diffusion::testing::write_tiny_model(&model, 4).unwrap();
    let sched = model.join("scheduler/scheduler_config.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&sched).unwrap()).unwrap();
    cfg["_class_name"] = json!("LCMScheduler");
    std::fs::write(&sched, serde_json::to_vec(&cfg).unwrap()).unwrap();

    let info = app.ok("model_info", json!({ "dir": path_arg(&model) }));
    let s = &info["sampling"];
    assert_eq!((s["family"].as_str(), s["scheduler"].as_str()), (Some("LCM"), Some("lcm")), "{info}");
    assert_eq!((s["steps"].as_u64(), s["max_steps"].as_u64()), (Some(4), Some(8)));
    assert_eq!((s["guidance"].as_f64(), s["guidance_off"].as_bool()), (Some(1.0), Some(true)));
    assert!(s["source"].as_str().unwrap().contains("LCMScheduler"), "{info}");

    let request = json!({
        "engine": { "kind": "diffusion", "model_dir": path_arg(&model), "steps": s["steps"], "guidance": s["guidance"],
                    "scheduler": s["scheduler"], "dtype": "f32" },
        "prompt": "a moth", "negative_prompt": "", "seed": 5, "width": 64, "height": 64, "stage": 0,
    });
    let made = app.ok("generate", json!({ "request": request, "onProgress": CHANNEL }));
    assert_eq!(made["recipe"]["engine"]["scheduler"], "lcm");
    assert_eq!(made["recipe"]["engine"]["steps"], 4);
    let check =
        app.ok("regenerate_check", json!({ "id": made["id"], "modelDir": path_arg(&model), "onProgress": CHANNEL }));
    assert_eq!(check["identical"], true, "{check}");
}
