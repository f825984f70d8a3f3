//! `chrysalis pin PATH --to local|kubo|psa|pinata|arweave`: publish a file or folder,
//! resumably and verified, recording every step in the project.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use chrysalis_core::{CancelToken, Progress, Project};
use chrysalis_storage::Layout;
use chrysalis_storage::remote::arweave::{self, Arweave, wallet::Wallet};
use chrysalis_storage::remote::credentials::{self, TokenSource};
use chrysalis_storage::remote::kubo::{self, Kubo};
use chrysalis_storage::remote::local::Local;
use chrysalis_storage::remote::pinata::{self, Pinata};
use chrysalis_storage::remote::psa::{PinningService, PollPolicy};
use chrysalis_storage::remote::publish::Action;
use chrysalis_storage::remote::{
    BackendKind, Pinner, PublishError, PublishOptions, PublishReport, Publisher, RetryPolicy, UploadStatus,
};
use clap::Args;
use indicatif::HumanBytes;

use crate::output::Output;

/// Exit code when everything was uploaded but some of it is not final yet (an Arweave
/// transaction not in a block, a pin still `pinning`): run the same command later.
pub const EXIT_PENDING: u8 = 75;

#[derive(Debug, Args)]
pub struct PinArgs {
    /// The file or folder to publish.
    pub path: PathBuf,

    /// Where to: local (the project's store), kubo (a Kubo/IPFS Desktop node), psa (an IPFS
    /// Pinning Services API), pinata, arweave.
    #[arg(long, value_name = "BACKEND")]
    pub to: BackendKind,

    /// The backend's URL. Defaults: kubo http://127.0.0.1:5001, pinata
    /// https://uploads.pinata.cloud/v3, arweave https://arweave.net; psa has none.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// UnixFS layout of the CIDs: v0 (Kubo's default), v1 (--cid-version=1) or v1-2025.
    #[arg(long, default_value = "v0", value_name = "LAYOUT")]
    pub layout: Layout,

    /// The project that records the uploads; defaults to the project holding PATH, else the
    /// one holding the current directory.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,

    /// Uploads at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub jobs: usize,

    /// Retries of a request that failed for a reason that may pass (network, 429, 5xx).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub retries: u32,

    /// Publish hidden files (names starting with a dot) inside a folder, as `ipfs add --hidden`.
    #[arg(long)]
    pub hidden: bool,

    /// Arweave: the JWK wallet file that pays (never copied into the project).
    #[arg(long, value_name = "JWK", env = credentials::ARWEAVE_WALLET_ENV)]
    pub wallet: Option<PathBuf>,

    /// Arweave: blocks on top of a transaction's block before it counts as verified.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub confirmations: u64,

    /// Arweave: seconds to wait for confirmation (0: do not wait; publish again later).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub confirm_timeout: u64,

    /// psa: a multiaddr of a node that already holds the content (repeatable).
    #[arg(long = "origin", value_name = "MULTIADDR")]
    pub origins: Vec<String>,

    /// psa: seconds to wait for the service to report `pinned`.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub pin_timeout: u64,

    /// Save the token found in the environment (CHRYSALIS_PSA_TOKEN, PINATA_JWT,
    /// CHRYSALIS_KUBO_TOKEN) in the OS keyring, so later runs need no variable.
    #[arg(long)]
    pub remember: bool,
}

fn find_project(args: &PinArgs) -> anyhow::Result<Project> {
    if let Some(dir) = &args.project {
        return Ok(Project::open(dir)?);
    }
    let start = if args.path.is_dir() {
        args.path.clone()
    } else {
        args.path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let start = start.canonicalize().unwrap_or(start);
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = chrysalis_core::project::find_root(&start).or_else(|| chrysalis_core::project::find_root(&cwd)).ok_or_else(|| {
        anyhow::anyhow!(
            "`chrysalis pin` records every upload in a project so it can resume: run it inside a project, or pass --project DIR (create one with `chrysalis init DIR`)"
        )
    })?;
    Ok(Project::open(&root)?)
}

fn token(
    backend: BackendKind,
    endpoint: &str,
    remember: bool,
) -> anyhow::Result<Option<chrysalis_storage::remote::Secret>> {
    let found = credentials::find_token(backend, endpoint)?;
    if let Some((secret, source)) = &found {
        tracing::info!(backend = %backend, "using the token from {source}");
        if remember {
            match source {
                TokenSource::Env(_) => {
                    let account = credentials::remember_token(backend, endpoint, secret)?;
                    eprintln!(
                        "saved the {backend} token in the OS keyring ({}/{account})",
                        credentials::KEYRING_SERVICE
                    );
                }
                TokenSource::Keyring { .. } => {}
            }
        }
    }
    Ok(found.map(|(s, _)| s))
}

pub(crate) fn backend(args: &PinArgs, project: &Project) -> anyhow::Result<Box<dyn Pinner>> {
    let retry = RetryPolicy { max_attempts: args.retries.saturating_add(1), ..RetryPolicy::default() };
    let endpoint = args.endpoint.as_deref();
    Ok(match args.to {
        BackendKind::Local => Box::new(Local::new(chrysalis_storage::LocalStore::open(project.root())?)),
        BackendKind::Kubo => {
            let url = endpoint.unwrap_or(kubo::DEFAULT_ENDPOINT);
            Box::new(Kubo::new(url, token(BackendKind::Kubo, url, args.remember)?).with_retry(retry))
        }
        BackendKind::Psa => {
            let Some(url) = endpoint else {
                bail!(
                    "--to psa needs --endpoint URL: the pinning service's API root (e.g. https://api.pinata.cloud/psa)"
                );
            };
            let Some(tok) = token(BackendKind::Psa, url, args.remember)? else {
                return Err(credentials::CredentialError::Missing {
                    backend: BackendKind::Psa,
                    env: credentials::PSA_TOKEN_ENV,
                }
                .into());
            };
            let poll = PollPolicy { timeout: Duration::from_secs(args.pin_timeout), ..PollPolicy::default() };
            Box::new(PinningService::new(url, tok).with_origins(args.origins.clone()).with_poll(poll).with_retry(retry))
        }
        BackendKind::Pinata => {
            let key = endpoint.unwrap_or(pinata::DEFAULT_UPLOADS);
            let Some(jwt) = token(BackendKind::Pinata, key, args.remember)? else {
                return Err(credentials::CredentialError::Missing {
                    backend: BackendKind::Pinata,
                    env: credentials::PINATA_JWT_ENV,
                }
                .into());
            };
            let p = match endpoint {
                Some(url) => Pinata::with_endpoints(url, url, jwt),
                None => Pinata::new(jwt),
            };
            Box::new(p.with_retry(retry))
        }
        BackendKind::Arweave => {
            let url = endpoint.unwrap_or(arweave::DEFAULT_ENDPOINT);
            let Some(path) = &args.wallet else {
                bail!(
                    "--to arweave needs a wallet to pay: pass --wallet KEYFILE.json or set {} (the file stays where it is; only its address is recorded)",
                    credentials::ARWEAVE_WALLET_ENV
                );
            };
            let wallet = Wallet::from_file(path)?;
            tracing::info!(address = wallet.address(), "Arweave wallet");
            Box::new(
                Arweave::new(url, Some(wallet))
                    .with_confirmations(args.confirmations, Duration::from_secs(args.confirm_timeout))
                    .with_retry(retry),
            )
        }
    })
}

pub fn pin(out: &Output, args: PinArgs, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    if !args.path.exists() {
        bail!("`{}` does not exist", args.path.display());
    }
    let project = find_project(&args)?;
    let pinner = backend(&args, &project)?;
    let options = PublishOptions { layout: args.layout, jobs: args.jobs.max(1), include_hidden: args.hidden };
    let publisher = Publisher::new(project.db(), pinner.as_ref(), options).project_root(project.root());

    let bar = out.byte_progress("pin");
    let result = publisher.publish(&args.path, &mut |p: &Progress| bar.update(p), cancel);
    bar.finish();
    let report = match result {
        Ok(r) => r,
        Err(PublishError::Cancelled(c)) => return Err(c.into()),
        Err(e) => return Err(e.into()),
    };

    if args.to == BackendKind::Local && report.root.status == UploadStatus::Verified {
        let name = args.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let cid = chrysalis_storage::Cid::try_from(report.root.cid.as_str()).context("the report's CID")?;
        chrysalis_storage::pins::record(project.db(), &name, &cid, Some(args.layout), report.root.size)?;
    }

    print_report(out, &report)?;
    Ok(if report.failed > 0 {
        eprintln!(
            "error: {} of {} item(s) failed; run the same command again to resume (verified items are not uploaded again)",
            report.failed,
            report.items.len()
        );
        ExitCode::FAILURE
    } else if !report.complete() {
        eprintln!("uploaded, but not final yet: run the same command again later to verify");
        ExitCode::from(EXIT_PENDING)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_report(out: &Output, r: &PublishReport) -> anyhow::Result<()> {
    let count = |a: Action| r.items.iter().filter(|i| i.action == a).count();
    let mut rows = vec![
        ("Backend", format!("{} ({})", r.backend, r.endpoint)),
        ("CID", format!("{} (layout {})", r.root.cid, r.layout)),
    ];
    if let Some(uri) = &r.root.uri {
        rows.push(("URI", uri.clone()));
    }
    rows.push(("Status", r.root.status.as_str().to_string()));
    rows.push((
        "Items",
        format!(
            "{} in all: {} uploaded, {} already verified, {} verified only, {} failed, {} pending",
            r.items.len(),
            count(Action::Uploaded),
            count(Action::AlreadyVerified),
            count(Action::VerifiedOnly),
            r.failed,
            r.pending
        ),
    ));
    rows.push(("Sent", HumanBytes(r.bytes_sent).to_string()));
    out.data(r, &rows)?;
    if !out.is_json() {
        for i in r.items.iter().filter(|i| i.error.is_some()) {
            let name = if i.name.is_empty() { "(folder)" } else { &i.name };
            eprintln!("  {name}: {} — {}", i.status.as_str(), i.error.as_deref().unwrap_or_default());
        }
    }
    Ok(())
}
