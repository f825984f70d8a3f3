//! Chrysalis Studio, the desktop face of Chrysalis: a thin Tauri 2 shell whose commands
//! convert arguments, call the library crates and stream progress to the Svelte UI.
//!
//! Each module holds the `#[tauri::command]`s of one area ([`commands`]: the project; [`art`],
//! [`collection`], [`chain`], [`pipeline`], [`credentials`]) and [`builder`] registers them.
//! [`AppState`] is the open project and the one running job's `CancelToken`; work runs off
//! the main thread, progress goes out through a Tauri `Channel`, and every failure becomes a
//! [`CommandError`] (`{ kind, message }`). The types the UI sees are generated into
//! `ui/src/lib/bindings/` with ts-rs, never written by hand; storage tokens go to the OS
//! keyring ([`secrets`]).
//!
//! No business logic lives here: a rule the CLI needs too belongs in a library crate (the
//! screens' read-only summaries are in `chrysalis_pipeline::studio`).
//!
//! Start reading at [`builder`], then [`pipeline`].

pub mod art;
pub mod chain;
pub mod collection;
pub mod commands;
pub mod credentials;
pub mod error;
pub mod pipeline;
pub mod secrets;
pub mod state;

use std::path::PathBuf;

use tauri::{Manager, Runtime};

pub use commands::ProgressEvent;
pub use error::{CommandError, ErrorKind};
pub use state::AppState;

/// Environment variable naming a project folder to open at startup (the first command-line
/// argument does the same).
pub const PROJECT_ENV: &str = "CHRYSALIS_PROJECT";

/// Everything the app registers, on any runtime (the tests use Tauri's mock runtime).
pub fn builder<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder_with_state(builder, AppState::default())
}

/// [`builder`] with a given state (tests use an in-memory token store).
pub fn builder_with_state<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        // Native open/save dialogs for the UI's "Browse…" buttons (model folder, keypair,
        // PNG export). The UI calls the plugin itself; it only hands back a chosen path.
        .plugin(tauri_plugin_dialog::init())
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::create_project,
            commands::open_project,
            commands::project_info,
            commands::check_project,
            commands::cancel_job,
            art::engine_catalog,
            art::model_info,
            art::diffusion_devices,
            art::generate,
            art::list_generations,
            art::get_generation,
            art::generation_image,
            art::stage_image,
            art::regenerate_check,
            art::export_png,
            art::reveal_in_file_manager,
            credentials::credential_status,
            credentials::set_credential,
            credentials::delete_credential,
            collection::collection_load,
            collection::collection_check,
            collection::collection_save,
            collection::collection_render,
            collection::collection_plan,
            collection::collection_preview,
            chain::network_info,
            chain::wallet_info,
            chain::wallet_create,
            chain::wallet_airdrop,
            chain::open_explorer,
            pipeline::publish_status,
            pipeline::use_demo_collection,
            pipeline::creators_status,
            pipeline::confirm_creator,
            pipeline::publish_run,
            pipeline::shard_export,
            pipeline::shard_job,
            pipeline::shard_run,
            pipeline::shard_inspect,
            pipeline::shard_import,
            pipeline::mint_estimate,
            pipeline::mint_run,
            pipeline::mint_list,
            pipeline::evolve_timeline,
            pipeline::evolve_due,
            pipeline::evolve_trigger,
            pipeline::warp_clock,
            pipeline::royalties_show,
            pipeline::royalties_pay,
            pipeline::royalties_distribute,
            pipeline::verify_nft,
        ])
}

/// The project folder named at startup: `CHRYSALIS_PROJECT`, else the first argument that
/// is not an option.
pub fn startup_project() -> Option<String> {
    std::env::var(PROJECT_ENV)
        .ok()
        .filter(|p| !p.trim().is_empty())
        .or_else(|| std::env::args().skip(1).find(|a| !a.starts_with('-')))
}

/// Open the startup project, remembering why it failed so the UI can say so.
pub fn open_startup_project(state: &AppState, dir: &str) {
    let opened = commands::parse_dir(dir)
        .and_then(|path: PathBuf| chrysalis_core::Project::open(&path).map_err(CommandError::from));
    match opened {
        Ok(project) => {
            tracing::info!("opened project {dir}");
            state.set_project(project);
        }
        Err(e) => {
            tracing::warn!("could not open startup project {dir}: {e}");
            state.set_startup_error(e);
        }
    }
}

/// Start the desktop app.
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .try_init();

    builder(tauri::Builder::default())
        .setup(|app| {
            if let Some(dir) = startup_project() {
                open_startup_project(&app.state::<AppState>(), &dir);
            }
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("Chrysalis Studio failed to start");
}
