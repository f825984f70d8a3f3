//! The commands, called through Tauri's IPC on the mock runtime (no display needed), the
//! way the UI calls them: JSON arguments in, JSON result or `{ kind, message }` error out,
//! progress through a channel.

mod support;

use std::sync::{Arc, Mutex};

use chrysalis_studio::AppState;
use serde_json::json;
use support::{CHANNEL, OnEvent, Studio, invoke, path_arg};
use tauri::Manager;
use tauri::test::MockRuntime;

/// The app with its real configuration, capabilities and default state on the mock runtime.
/// `on_event` sees every message sent through a channel, in order, on the job's thread.
fn studio_with(on_event: Arc<OnEvent>) -> Studio {
    support::studio_with(AppState::default(), on_event)
}

fn studio() -> Studio {
    studio_with(Arc::new(|_, _| {}))
}

#[test]
fn create_shows_info_and_keeps_the_project_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("moths");
    let app = studio();

    let info = app.ok("create_project", json!({ "dir": path_arg(&dir), "name": "Moths of Night" }));
    assert_eq!(info["name"], "Moths of Night");
    assert_eq!(info["root"], path_arg(&dir.canonicalize().unwrap()));
    assert!(info["schema_version"].as_u64().unwrap() >= 1, "{info}");
    assert!(dir.join("chrysalis.toml").is_file());

    assert_eq!(app.ok("project_info", json!({})), info);
}

#[test]
fn create_without_a_name_uses_the_folder_name() {
    let tmp = tempfile::tempdir().unwrap();
    let app = studio();
    let info = app.ok("create_project", json!({ "dir": path_arg(&tmp.path().join("luna")), "name": "  " }));
    assert_eq!(info["name"], "luna");
}

#[test]
fn open_an_existing_project() {
    let tmp = tempfile::tempdir().unwrap();
    drop(chrysalis_core::Project::create(tmp.path(), Some("Existing")).unwrap());
    let app = studio();
    let info = app.ok("open_project", json!({ "dir": path_arg(tmp.path()) }));
    assert_eq!(info["name"], "Existing");
    assert_eq!(app.ok("project_info", json!({}))["name"], "Existing");
}

#[test]
fn errors_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let app = studio();

    let (kind, message) = app.err("open_project", json!({ "dir": path_arg(tmp.path()) }));
    assert_eq!(kind, "notAProject");
    assert!(message.contains("chrysalis.toml"), "{message}");
    assert!(message.contains(tmp.path().to_str().unwrap()), "names the folder: {message}");

    let (kind, _) = app.err("open_project", json!({ "dir": path_arg(&tmp.path().join("nowhere")) }));
    assert_eq!(kind, "notFound");

    app.ok("create_project", json!({ "dir": path_arg(tmp.path()), "name": "P" }));
    let (kind, message) = app.err("create_project", json!({ "dir": path_arg(tmp.path()) }));
    assert_eq!(kind, "alreadyProject");
    assert!(message.contains("open it"), "{message}");

    let (kind, message) = app.err("create_project", json!({ "dir": "relative/folder" }));
    assert_eq!(kind, "invalidInput");
    assert!(message.contains("full path"), "{message}");
    let (kind, _) = app.err("open_project", json!({ "dir": "   " }));
    assert_eq!(kind, "invalidInput");
    let (kind, _) = app.err("create_project", json!({ "dir": path_arg(&tmp.path().join("x")), "name": "bad\nname" }));
    assert_eq!(kind, "invalidInput");

    // A failed open keeps the project that was open.
    assert_eq!(app.ok("project_info", json!({}))["name"], "P");
}

#[test]
fn commands_that_need_a_project_say_so() {
    let app = studio();
    assert_eq!(app.err("project_info", json!({})).0, "noProject");
    assert_eq!(app.err("check_project", json!({ "onProgress": CHANNEL })).0, "noProject");
    assert_eq!(app.ok("cancel_job", json!({})), json!(false));
}

#[test]
fn check_streams_progress_then_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let app = studio_with(Arc::new(move |_, event| seen.lock().unwrap().push(event)));
    app.ok("create_project", json!({ "dir": path_arg(tmp.path()) }));

    let report = app.ok("check_project", json!({ "onProgress": CHANNEL }));
    assert_eq!(report["ok"], true, "{report}");

    let events = events.lock().unwrap();
    let (last, progress) = events.split_last().expect("events were streamed");
    assert_eq!(*last, json!({ "event": "finished", "report": report }));
    assert!(progress.len() >= 2, "{events:?}");
    let total = progress[0]["total"].as_u64().unwrap();
    let steps: Vec<u64> = progress.iter().map(|e| e["step"].as_u64().unwrap()).collect();
    for event in progress {
        assert_eq!(event["event"], "progress", "{event}");
        assert_eq!(event["total"].as_u64(), Some(total), "{event}");
        assert!(event["message"].as_str().is_some_and(|m| !m.is_empty()), "{event}");
    }
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "steps go forward: {steps:?}");
    assert_eq!(steps.last(), Some(&total), "the last progress is complete: {steps:?}");
}

/// The app's Check runs the spec's check too: a collection.toml with a syntax error fails
/// the report at the spec's step, naming the line.
#[test]
fn check_reports_a_broken_spec() {
    let tmp = tempfile::tempdir().unwrap();
    let app = studio();
    app.ok("create_project", json!({ "dir": path_arg(tmp.path()) }));
    std::fs::write(tmp.path().join("collection.toml"), "name = \"Moths\"\nsize = = 3\n").unwrap();
    let report = app.ok("check_project", json!({ "onProgress": CHANNEL }));
    assert_eq!(report["ok"], false, "{report}");
    let steps = report["steps"].as_array().unwrap();
    let spec = steps.last().unwrap();
    assert_eq!(spec["name"], "collection.toml");
    assert_eq!(spec["ok"], false);
    assert!(spec["detail"].as_str().unwrap().contains("line 2"), "{spec}");
    assert!(steps[..steps.len() - 1].iter().all(|s| s["ok"] == true), "only the spec fails: {report}");
}

#[test]
fn cancel_stops_a_running_check() {
    let tmp = tempfile::tempdir().unwrap();
    let answers = Arc::new(Mutex::new(Vec::new()));
    let seen = answers.clone();
    // On the first progress event, while the job runs: try the commands a running job must
    // refuse, then cancel it, as the UI's buttons would.
    let app = studio_with(Arc::new(move |webview, _event| {
        let mut answers = seen.lock().unwrap();
        if answers.is_empty() {
            let cmd = |c, args| invoke(webview, c, args).unwrap_or_else(|e| e["kind"].clone());
            answers.push(cmd("check_project", json!({ "onProgress": CHANNEL })));
            answers.push(cmd("open_project", json!({ "dir": "/" })));
            answers.push(cmd("cancel_job", json!({})));
        }
    }));
    app.ok("create_project", json!({ "dir": path_arg(tmp.path()) }));

    let (kind, message) = app.err("check_project", json!({ "onProgress": CHANNEL }));
    assert_eq!(kind, "cancelled", "{message}");
    assert_eq!(*answers.lock().unwrap(), [json!("busy"), json!("busy"), json!(true)]);

    // The job is gone: nothing left to cancel, and a new check runs to the end.
    assert_eq!(app.ok("cancel_job", json!({})), json!(false));
    answers.lock().unwrap().push(json!("done"));
    assert_eq!(app.ok("check_project", json!({ "onProgress": CHANNEL }))["ok"], true);
}

#[test]
fn startup_project_opens_or_explains_once() {
    let tmp = tempfile::tempdir().unwrap();
    let app = studio();
    let state = app.window.state::<chrysalis_studio::AppState>();

    chrysalis_studio::open_startup_project(&state, tmp.path().to_str().unwrap());
    let (kind, message) = app.err("project_info", json!({}));
    assert_eq!(kind, "notAProject", "{message}");
    assert_eq!(app.err("project_info", json!({})).0, "noProject", "the startup error shows once");

    drop(chrysalis_core::Project::create(tmp.path(), Some("Startup")).unwrap());
    chrysalis_studio::open_startup_project(&state, tmp.path().to_str().unwrap());
    assert_eq!(app.ok("project_info", json!({}))["name"], "Startup");
}

#[test]
fn the_dialog_plugin_is_registered_and_only_open_and_save_are_granted() {
    let app = studio();
    // The plugin set itself up (the UI's "Browse…" buttons call its open/save commands; a
    // real dialog cannot be shown on the mock runtime, so they are not called here).
    assert!(app.window.try_state::<tauri_plugin_dialog::Dialog<MockRuntime>>().is_some());
    // The capability grants dialog:allow-open and dialog:allow-save, nothing else of it.
    let refused =
        app.call("plugin:dialog|message", json!({ "message": "hi" })).expect_err("message dialogs are not granted");
    let refused = refused.to_string();
    assert!(refused.contains("not allowed"), "{refused}");
}
