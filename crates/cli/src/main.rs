//! `chrysalis`: the command-line face of Chrysalis. Every command is a thin layer over the
//! library crates, which the desktop app shares.

mod art_cmds;
mod output;
mod pin_cmds;
mod project_cmds;
mod storage_cmds;

use std::process::ExitCode;
use std::sync::OnceLock;

use clap::{Parser, Subcommand};
use chrysalis_core::CancelToken;

/// Generative-art dynamic NFTs on Solana: create, collect, publish, mint, evolve, verify.
#[derive(Debug, Parser)]
#[command(name = "chrysalis", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Print results as JSON on stdout (for scripts); logs and progress stay on stderr.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new project in DIR (created if missing).
    Init(project_cmds::InitArgs),
    /// Show a project's name, location and schema.
    Info(project_cmds::ProjectArgs),
    /// Verify a project's settings and database, with progress. Ctrl-C cancels.
    Check(project_cmds::ProjectArgs),
    /// Publish a file or folder to the local store, Kubo, a pinning service, Pinata or
    /// Arweave: resumable, every upload verified and recorded in the project. Ctrl-C cancels.
    Pin(pin_cmds::PinArgs),
    /// Print the CID of a file or folder as Kubo computes it (`ipfs add -Qn`); nothing is
    /// stored. Ctrl-C cancels.
    Cid(storage_cmds::CidArgs),
    /// Export or import CAR v1 files (a whole folder's DAG in one file).
    #[command(subcommand)]
    Car(storage_cmds::CarCommand),
    /// The project's local content-addressed store: add, cat, ls, roots.
    #[command(subcommand)]
    Store(storage_cmds::StoreCommand),
    /// Make an image with the procedural engine or a diffusion model; its recipe goes inside
    /// the PNG. Progress with ETA; Ctrl-C cancels.
    Generate(Box<art_cmds::GenerateArgs>),
    /// Print the recipe inside a Chrysalis PNG (`--json`: the recipe itself).
    Recipe(art_cmds::RecipeArgs),
    /// Re-run the recipe inside a Chrysalis PNG; with --check, fail unless the result is
    /// byte-for-byte identical. Ctrl-C cancels.
    Regenerate(art_cmds::RegenerateArgs),
}

/// The token every long job of this process watches; Ctrl-C cancels it.
fn cancel_token() -> &'static CancelToken {
    static TOKEN: OnceLock<CancelToken> = OnceLock::new();
    TOKEN.get_or_init(CancelToken::new)
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
        // ureq-proto's TRACE output dumps raw request bytes, bearer tokens included: never
        // show it, whatever -v or RUST_LOG asks (replaces any ureq_proto directive).
        .add_directive("ureq_proto=debug".parse().expect("static directive"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn install_ctrlc() {
    let token = cancel_token().clone();
    // First Ctrl-C asks the running job to stop at its next checkpoint; a second one quits
    // at once for a user who really means it.
    let result = ctrlc::set_handler(move || {
        if token.is_cancelled() {
            std::process::exit(130);
        }
        eprintln!("\ncancelling… (press Ctrl-C again to quit at once)");
        token.cancel();
    });
    if let Err(e) = result {
        tracing::warn!("cannot install the Ctrl-C handler: {e}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    install_ctrlc();
    let out = output::Output::new(cli.json);
    let result = match cli.command {
        Command::Init(args) => project_cmds::init(&out, args),
        Command::Info(args) => project_cmds::info(&out, args),
        Command::Check(args) => project_cmds::check(&out, args, cancel_token()),
        Command::Pin(args) => pin_cmds::pin(&out, args, cancel_token()),
        Command::Cid(args) => storage_cmds::cid(&out, args, cancel_token()),
        Command::Car(cmd) => storage_cmds::car(&out, cmd, cancel_token()),
        Command::Store(cmd) => storage_cmds::store(&out, cmd, cancel_token()),
        Command::Generate(args) => art_cmds::generate(&out, *args, cancel_token()),
        Command::Recipe(args) => art_cmds::recipe(&out, args),
        Command::Regenerate(args) => art_cmds::regenerate(&out, args, cancel_token()),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if err.downcast_ref::<chrysalis_core::Cancelled>().is_some()
                || matches!(err.downcast_ref::<chrysalis_core::ProjectError>(), Some(chrysalis_core::ProjectError::Cancelled(_)))
            {
                eprintln!("cancelled");
                return ExitCode::from(130);
            }
            eprintln!("error: {err:#}");
            if let Some(hint) = hint_for(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The CLI's own next step for errors whose message (shared with the desktop app) cannot
/// name a command.
fn hint_for(err: &anyhow::Error) -> Option<String> {
    use chrysalis_core::ProjectError;
    match err.downcast_ref::<ProjectError>()? {
        ProjectError::NotAProject { dir } | ProjectError::NotFound { dir } => {
            Some(format!("create a project with `chrysalis init {}`", dir.display()))
        }
        _ => None,
    }
}
