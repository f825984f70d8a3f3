//! `chrysalis verify MINT`: chain → metadata → bytes → regenerate → identical; each check
//! printed with ✓/✗ and its reason, exit status 1 on any failure (3 when the only finding is
//! a diffusion image that regenerates differently, as another CPU family may).

use std::path::PathBuf;
use std::process::ExitCode;

use chrysalis_core::CancelToken;
use chrysalis_pipeline::chain::{Chain, parse_pubkey};
use chrysalis_pipeline::verify::{self, CheckStatus, Sources, VerifyReport};
use chrysalis_pipeline::{ChainOptions, PipelineEvent};
use chrysalis_storage::LocalStore;
use clap::Args;

use crate::output::Output;
use crate::publish_cmds::PhaseBars;

/// Exit status when everything checks out except a diffusion regeneration that differs.
pub const EXIT_DIFFERS: u8 = 3;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The NFT's mint address.
    pub mint: String,
    /// A project whose local store holds the content (default: the project containing the
    /// current directory, if any; its sandbox is the default network).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// sandbox, localnet, devnet, mainnet-beta or an RPC URL.
    #[arg(long, default_value = "sandbox", value_name = "NETWORK")]
    pub network: String,
    /// A trustless IPFS gateway for content not in the local store, e.g. `https://ipfs.io`.
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,
}

pub fn print_checks(r: &VerifyReport) {
    crate::output::line(&format!(
        "NFT {}{}",
        r.mint,
        r.index.map(|i| format!(" (item #{i}, stage {})", r.stage.unwrap_or(0))).unwrap_or_default()
    ));
    for c in &r.checks {
        let mark = match c.status {
            CheckStatus::Pass => "✓",
            CheckStatus::Fail => "✗",
            CheckStatus::Differs => "≈",
            CheckStatus::Skipped => "-",
        };
        crate::output::line(&format!("  {mark} {:<13} {}", c.name, c.detail));
    }
}

pub fn verify(out: &Output, args: VerifyArgs, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    let mint = parse_pubkey(&args.mint, "mint")?;
    let root = match &args.project {
        Some(p) => Some(p.clone()),
        None => std::env::current_dir().ok().and_then(|d| chrysalis_core::project::find_root(&d)),
    };
    let chain_root = match (&root, args.network.as_str()) {
        (Some(r), _) => r.clone(),
        (None, "sandbox") => anyhow::bail!(
            "the sandbox lives in a project: pass --project DIR (or run inside one), or --network devnet|mainnet-beta|URL"
        ),
        (None, _) => std::env::temp_dir(),
    };
    let chain = Chain::open(&chain_root, &ChainOptions { network: args.network.clone(), wallet: None })?;
    let store = match &root {
        Some(r) => Some(LocalStore::open(r)?),
        None => None,
    };
    let model = root.as_deref().and_then(verify::project_model_dir);
    let sources = Sources { store: store.as_ref(), gateway: args.gateway.as_deref(), model_dir: model.as_deref() };
    let mut bars = PhaseBars::new(out);
    let r = verify::verify(&chain, &mint, &sources, &mut |e: &PipelineEvent| bars.on_event(e), cancel);
    bars.finish();
    let r = r?;
    if out.is_json() {
        out.data(&r, &[])?;
    } else {
        print_checks(&r);
        crate::output::line(if !r.ok {
            "FAILED"
        } else if r.regenerated_differs {
            "OK except regeneration (see ≈)"
        } else {
            "verified"
        });
    }
    Ok(if !r.ok {
        ExitCode::FAILURE
    } else if r.regenerated_differs {
        ExitCode::from(EXIT_DIFFERS)
    } else {
        ExitCode::SUCCESS
    })
}
