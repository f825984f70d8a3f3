//! The app on Tauri's mock runtime, called the way the UI calls it: JSON arguments in, JSON
//! result or `{ kind, message }` error out, channel messages to a callback.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use chrysalis_studio::AppState;
use serde_json::Value;
use tauri::ipc::{CallbackFn, InvokeBody, InvokeResponseBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, Webview, WebviewWindow, WebviewWindowBuilder};

/// The id the UI's `Channel` would have; any number works with the mock runtime.
pub const CHANNEL: &str = "__CHANNEL__:4242";

pub type OnEvent = dyn Fn(&Webview<MockRuntime>, Value) + Send + Sync;

pub struct Studio {
    pub app: App<MockRuntime>,
    pub window: WebviewWindow<MockRuntime>,
}

/// The app with its real configuration and capabilities and the given state. `on_event`
/// sees every channel message, in order, on the job's thread.
pub fn studio_with(state: AppState, on_event: Arc<OnEvent>) -> Studio {
    let app = chrysalis_studio::builder_with_state(mock_builder(), state)
        .channel_interceptor(move |webview, _callback, _index, body| {
            let InvokeResponseBody::Json(json) = body else { panic!("binary channel message") };
            on_event(webview, serde_json::from_str(json).unwrap());
            true
        })
        .build(tauri::generate_context!())
        .expect("the app builds on the mock runtime");
    let window = match app.get_webview_window("main") {
        Some(window) => window,
        None => WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap(),
    };
    Studio { app, window }
}

pub fn invoke(webview: &Webview<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(&AsWebview(webview), request).map(|body| body.deserialize::<Value>().unwrap())
}

/// `get_ipc_response` takes anything that is `AsRef<Webview>`, which `Webview` is not.
struct AsWebview<'a>(&'a Webview<MockRuntime>);

impl AsRef<Webview<MockRuntime>> for AsWebview<'_> {
    fn as_ref(&self) -> &Webview<MockRuntime> {
        self.0
    }
}

impl Studio {
    pub fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        invoke(self.window.as_ref(), cmd, args)
    }

    pub fn ok(&self, cmd: &str, args: Value) -> Value {
        self.call(cmd, args).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    /// The `{ kind, message }` error of a command that must fail.
    pub fn err(&self, cmd: &str, args: Value) -> (String, String) {
        let err = self.call(cmd, args).expect_err(cmd);
        (err["kind"].as_str().unwrap().to_owned(), err["message"].as_str().unwrap().to_owned())
    }
}

pub fn path_arg(dir: &Path) -> Value {
    Value::from(dir.to_str().unwrap())
}
