//! `chrysalis`: the command-line face of Chrysalis. Every command is a thin layer over the
//! library crates, which the desktop app shares.
//!
//! This crate is the binary only. `main.rs` parses the command line (clap), sets up logging
//! and turns Ctrl-C into the process's `CancelToken`; each `*_cmds.rs` turns one command's
//! arguments into library calls and renders the result; `output.rs` owns stdout (aligned
//! text, `--json`, indicatif progress bars that only a terminal sees). Errors are `anyhow`,
//! printed once here with a hint where the CLI knows the next step.
//!
//! No business logic lives here: what the desktop app needs too belongs in a library crate,
//! most of it in chrysalis-pipeline. tests/Cargo.toml compiles this same file as the
//! `chrysalis-e2e` binary, so a dependency added here must be added there too.
//!
//! Start reading at `Command` below, then `publish_cmds.rs`.

mod art_cmds;
mod chain_cmds;
mod demo_cmds;
mod output;
mod pin_cmds;
mod project_cmds;
mod publish_cmds;
mod storage_cmds;
mod verify_cmds;

use std::process::ExitCode;
use std::sync::OnceLock;

use chrysalis_core::CancelToken;
use clap::{Parser, Subcommand};

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
    /// Show a project's name, location and schema, and its collection: address per network,
    /// minted of total, each NFT's stage and what the vault owes.
    Info(project_cmds::InfoArgs),
    /// Verify a project's settings, database and collection.toml, with progress. Ctrl-C
    /// cancels.
    Check(project_cmds::ProjectArgs),
    /// List who collection.toml pays and whether each address is confirmed as yours or a
    /// collaborator's; --confirm ADDRESS confirms one.
    Creators(project_cmds::CreatorsArgs),
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
    /// Describe a diffusion model (folder or .safetensors file): its hash, size, and which
    /// sampler, steps and guidance it expects (LCM and turbo models take 1-8 steps without
    /// guidance); `generate` uses those as its defaults.
    ModelInfo(art_cmds::ModelInfoArgs),
    /// List where diffusion can run (the CPU, and CUDA GPUs in builds with CUDA) with the
    /// memory free on each, and the backends this build has (candle; libtorch in builds with
    /// it); `generate --device` takes the first column, `generate --backend` candle or torch.
    Devices(art_cmds::DevicesArgs),
    /// Re-run the recipe inside a Chrysalis PNG; with --check, fail unless the result is
    /// byte-for-byte identical. Ctrl-C cancels.
    Regenerate(art_cmds::RegenerateArgs),
    /// Publish the project's collection.toml: plan, generate every item at every stage,
    /// write metadata, pin, create the collection on chain and mint. Resumable: a rerun
    /// after any failure, kill or Ctrl-C reconciles with the chain and the store.
    Publish(Box<publish_cmds::PublishArgs>),
    /// Crank every due time-based evolution (--due), or evolve one NFT (--index N --to-stage S).
    Evolve(chain_cmds::EvolveArgs),
    /// Move the project sandbox's clock forward (e.g. `7d`), so stages unlock in seconds.
    Warp(chain_cmds::WarpArgs),
    /// Show the collection's vault and each creator's share and owed; --pay SOL pays a
    /// simulated royalty in, --distribute pays the creators.
    Royalties(chain_cmds::RoyaltiesArgs),
    /// Solana CLI keypair files: new, address, balance, airdrop.
    #[command(subcommand)]
    Wallet(chain_cmds::WalletCommand),
    /// Verify an NFT: chain → metadata → bytes by CID → content root → regenerate → identical.
    Verify(verify_cmds::VerifyArgs),
    /// Merge the images of a shard (`publish --only generate --shard K/N` on another
    /// machine) into this project, each checked against the recipe planned for it.
    ImportShard(publish_cmds::ImportShardArgs),
    /// Write one shard job folder per machine (the spec, shard.json and a README with the
    /// command to run there), to generate the collection on several machines.
    ExportShards(publish_cmds::ExportShardsArgs),
    /// The whole path in a new project on embedded defaults: 12 items × 3 stages, generated,
    /// published, minted in the sandbox, warped, evolved, royalties paid and distributed,
    /// every NFT verified.
    Demo(demo_cmds::DemoArgs),
}

/// The token every long job of this process watches; Ctrl-C cancels it.
fn cancel_token() -> &'static CancelToken {
    static TOKEN: OnceLock<CancelToken> = OnceLock::new();
    TOKEN.get_or_init(CancelToken::new)
}

fn init_logging(verbose: u8) {
    let filter = log_filter(verbose, std::env::var("RUST_LOG").ok().as_deref());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// The log filter for `-v` repeated `verbose` times, or for `RUST_LOG` when it is set.
///
/// Two modules are capped whatever was asked: ureq-proto's TRACE output dumps raw request
/// bytes, bearer tokens included, so it never goes past DEBUG (and below `-vv` it stays as
/// quiet as everything else: a cap, never a raise); the sandbox's bank talks to itself over
/// tarpc, which warns about tracing plumbing on every request (noise for a CLI user).
fn log_filter(verbose: u8, rust_log: Option<&str>) -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::filter::LevelFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = rust_log.and_then(|r| EnvFilter::try_new(r).ok()).unwrap_or_else(|| EnvFilter::new(default));
    let asked = filter.max_level_hint().unwrap_or(LevelFilter::TRACE);
    let ureq_cap = asked.min(LevelFilter::DEBUG);
    let directive = |d: String| d.parse().expect("a directive made from a level name");
    filter
        .add_directive(directive(format!("ureq_proto={ureq_cap}")))
        .add_directive(directive("tarpc=error".into()))
        .add_directive(directive("solana_metrics=error".into()))
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
    // Commands that run the sandbox, whose program logs go to stdout, print only through
    // `output`, which keeps the real stdout for their results (JSON or text) alone.
    let runs_program = matches!(
        cli.command,
        Command::Publish(_)
            | Command::Evolve(_)
            | Command::Warp(_)
            | Command::Royalties(_)
            | Command::Wallet(_)
            | Command::Verify(_)
            | Command::Demo(_)
            | Command::Info(_)
    );
    if runs_program {
        output::reserve_stdout(cli.verbose > 0);
    }
    let out = output::Output::new(cli.json);
    let result = match cli.command {
        Command::Init(args) => project_cmds::init(&out, args),
        Command::Info(args) => project_cmds::info(&out, args),
        Command::Check(args) => project_cmds::check(&out, args, cancel_token()),
        Command::Creators(args) => project_cmds::creators(&out, args),
        Command::Pin(args) => pin_cmds::pin(&out, args, cancel_token()),
        Command::Cid(args) => storage_cmds::cid(&out, args, cancel_token()),
        Command::Car(cmd) => storage_cmds::car(&out, cmd, cancel_token()),
        Command::Store(cmd) => storage_cmds::store(&out, cmd, cancel_token()),
        Command::Generate(args) => art_cmds::generate(&out, *args, cancel_token()),
        Command::Recipe(args) => art_cmds::recipe(&out, args),
        Command::ModelInfo(args) => art_cmds::model_info(&out, args),
        Command::Devices(args) => art_cmds::devices(&out, args),
        Command::Regenerate(args) => art_cmds::regenerate(&out, args, cancel_token()),
        Command::Publish(args) => publish_cmds::publish(&out, *args, cancel_token()),
        Command::ImportShard(args) => publish_cmds::import_shard(&out, args, cancel_token()),
        Command::ExportShards(args) => publish_cmds::export_shards(&out, args, cancel_token()),
        Command::Evolve(args) => chain_cmds::evolve(&out, args, cancel_token()),
        Command::Warp(args) => chain_cmds::warp(&out, args),
        Command::Royalties(args) => chain_cmds::royalties(&out, args),
        Command::Wallet(cmd) => chain_cmds::wallet_cmd(&out, cmd),
        Command::Verify(args) => verify_cmds::verify(&out, args, cancel_token()),
        Command::Demo(args) => demo_cmds::demo(&out, args, cancel_token()),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_cancelled(&err) {
                eprintln!("cancelled");
                return ExitCode::from(130);
            }
            eprintln!("error: {}", error_text(&err));
            if let Some(hint) = hint_for(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each said once. Library errors put their cause in
/// their own message (the desktop app shows only that message) *and* expose it as
/// `source()`, so anyhow's `{:#}` would print every cause twice; a cause whose text the line
/// already holds is skipped.
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let msg = cause.to_string();
        if msg.is_empty() || text.contains(&msg) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&msg);
    }
    text
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

/// Whether `err` is a cancellation anywhere along its chain of causes: a Ctrl-C that lands
/// inside a step (a pin, say) comes back wrapped in that step's error ("publishing stage 0
/// images: cancelled …") and must still exit 130, not 1. `#[error(transparent)]` variants
/// hide the inner `Cancelled` from the chain, so each crate's variant is matched by name.
fn is_cancelled(err: &anyhow::Error) -> bool {
    use chrysalis_storage::StorageError;
    use chrysalis_storage::remote::PublishError;
    let storage = |e: &StorageError| matches!(e, StorageError::Cancelled(_));
    err.chain().any(|e| {
        e.is::<chrysalis_core::Cancelled>()
            || matches!(e.downcast_ref(), Some(chrysalis_core::ProjectError::Cancelled(_)))
            || matches!(e.downcast_ref(), Some(chrysalis_pipeline::PipelineError::Cancelled(_)))
            || matches!(e.downcast_ref(), Some(chrysalis_art::ArtError::Cancelled(_)))
            || e.downcast_ref::<StorageError>().is_some_and(storage)
            || matches!(
                e.downcast_ref::<PublishError>(),
                Some(PublishError::Cancelled(_)) | Some(PublishError::Storage(StorageError::Cancelled(_)))
            )
    })
}

#[cfg(test)]
mod tests {

    /// A Ctrl-C caught inside the pin step comes back as "publishing …: cancelled": still a
    /// cancellation (exit 130), however deep it sits; other failures are not.
    #[test]
    fn cancellations_are_found_through_wrapping_errors() {
        use chrysalis_storage::StorageError;
        use chrysalis_storage::remote::PublishError;
        let publish =
            |source| chrysalis_pipeline::PipelineError::Publish { what: "stage 0 images (local)".into(), source };
        for cancelled in [
            anyhow::Error::new(publish(PublishError::Cancelled(chrysalis_core::Cancelled))),
            anyhow::Error::new(publish(PublishError::Storage(StorageError::Cancelled(chrysalis_core::Cancelled)))),
            anyhow::Error::new(chrysalis_core::Cancelled).context("generating"),
        ] {
            assert!(super::is_cancelled(&cancelled), "{cancelled:#}");
        }
        let failed = anyhow::Error::new(publish(PublishError::NotFound { path: "x".into() }));
        assert!(!super::is_cancelled(&failed), "{failed:#}");
    }
    use super::{error_text, log_filter};

    /// Like our library errors: the cause in the message *and* as `source()`.
    #[derive(Debug)]
    struct Outer {
        source: std::io::Error,
    }

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot read x.json: {}", self.source)
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    /// A library error that repeats its cause in its message is printed with the cause once;
    /// context anyhow adds, and causes the message does not repeat, still appear.
    #[test]
    fn every_cause_is_printed_once() {
        let inner = || std::io::Error::other("disk on fire");
        let e = anyhow::Error::new(Outer { source: inner() });
        assert_eq!(error_text(&e), "cannot read x.json: disk on fire");
        let e = e.context("loading the model");
        assert_eq!(error_text(&e), "loading the model: cannot read x.json: disk on fire");
        let plain = anyhow::Error::new(inner()).context("step");
        assert_eq!(error_text(&plain), "step: disk on fire");
    }

    /// ureq-proto is capped at DEBUG (its TRACE carries tokens) and never raised above the
    /// level asked for: without `-v` a remote pin prints no debug lines.
    #[test]
    fn ureq_proto_is_capped_never_raised() {
        let directives = |v: u8, env: Option<&str>| log_filter(v, env).to_string();
        assert!(directives(0, None).contains("ureq_proto=warn"), "{}", directives(0, None));
        assert!(directives(1, None).contains("ureq_proto=info"));
        assert!(directives(2, None).contains("ureq_proto=debug"));
        assert!(directives(3, None).contains("ureq_proto=debug"));
        assert!(directives(0, Some("trace")).contains("ureq_proto=debug"));
        assert!(directives(0, Some("error")).contains("ureq_proto=error"));
        assert!(!directives(0, None).contains("ureq_proto=trace"));
    }
}
