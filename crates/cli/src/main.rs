//! `chrysalis`: the command-line face of Chrysalis. Every command is a thin layer over the
//! library crates, which the desktop app shares.

mod output;
mod project_cmds;

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
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
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
            ExitCode::FAILURE
        }
    }
}
