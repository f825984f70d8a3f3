//! `chrysalis evolve`, `warp`, `royalties` and `wallet`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrysalis_chain::client::{LAMPORTS_PER_SOL, sol};
use chrysalis_chain::network::Network;
use chrysalis_chain::{Signer, wallet};
use chrysalis_core::CancelToken;
use chrysalis_pipeline::PipelineEvent;
use chrysalis_pipeline::chain::{Chain, parse_network};
use chrysalis_pipeline::evolve::{self, EvolveReport};
use chrysalis_pipeline::journal::Journal;
use chrysalis_pipeline::royalties;
use clap::{Args, Subcommand};

use crate::output::Output;
use crate::project_cmds::open_project;
use crate::publish_cmds::{ChainArgs, PhaseBars};

#[derive(Debug, Args)]
pub struct EvolveArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Crank every evolution whose time rule is unlocked now (the default without --index).
    #[arg(long)]
    pub due: bool,
    /// Evolve this NFT (owner or creator trigger; signed by --wallet).
    #[arg(long, value_name = "N", requires = "to_stage")]
    pub index: Option<u32>,
    /// The stage to evolve --index to (one stage at a time up to it).
    #[arg(long, value_name = "S", requires = "index")]
    pub to_stage: Option<u8>,
}

#[derive(Debug, Args)]
pub struct WarpArgs {
    /// How far: 30s, 10m, 2h, 7d, 1w, 1d12h.
    pub duration: String,
    /// The project folder; defaults to the project containing the current directory.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RoyaltiesArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Pay the creators what the vault holds for them.
    #[arg(long)]
    pub distribute: bool,
    /// Pay this many SOL into the vault first, as a marketplace pays a secondary-sale royalty.
    #[arg(long, value_name = "SOL")]
    pub pay: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Create a new keypair file (0600); refuses to overwrite.
    New {
        /// Where; default ~/.config/solana/id.json.
        path: Option<PathBuf>,
    },
    /// The wallet's address.
    Address(WalletArgs),
    /// The wallet's balance.
    Balance(WalletArgs),
    /// Airdrop SOL (sandbox, localnet, devnet).
    Airdrop {
        /// How many SOL.
        sol: String,
        #[command(flatten)]
        wallet: WalletArgs,
    },
}

#[derive(Debug, Args)]
pub struct WalletArgs {
    /// sandbox, localnet, devnet, mainnet-beta or an RPC URL. Default: the Solana CLI
    /// config's `json_rpc_url`, else sandbox inside a project, else devnet.
    #[arg(long, value_name = "NETWORK")]
    pub network: Option<String>,
    /// Keypair file. Default: the project's wallet in the sandbox, else ~/.config/solana/id.json.
    #[arg(long, value_name = "KEYPAIR")]
    pub wallet: Option<PathBuf>,
    /// The project folder (for the sandbox).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
}

fn print_evolve(out: &Output, r: &EvolveReport) -> anyhow::Result<()> {
    let rows = vec![
        ("Collection", r.collection.clone()),
        ("Evolved", r.evolved.len().to_string()),
        ("Clock", r.now.to_string()),
    ];
    out.data(r, &rows)?;
    if !out.is_json() {
        for e in &r.evolved {
            crate::output::line(&format!(
                "  #{:<4} {}  stage {} → {}  {}",
                e.index, e.mint, e.from_stage, e.to_stage, e.uri
            ));
        }
    }
    Ok(())
}

pub fn evolve(out: &Output, args: EvolveArgs, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    let project = open_project(args.chain.project.as_deref())?;
    project.require_writable("evolving")?;
    let chain = Chain::open(project.root(), &args.chain.options())?;
    let wallet = chain.wallet(Some(project.root()), args.chain.wallet.as_deref())?;
    if chain.network().allows_airdrop() {
        chain.ensure_funds(&wallet.pubkey(), LAMPORTS_PER_SOL / 10)?;
    }
    let journal = Journal::new(project.db());
    let mut bars = PhaseBars::new(out);
    let mut on = |e: &PipelineEvent| bars.on_event(e);
    let report = match (args.index, args.to_stage) {
        (Some(i), Some(s)) if !args.due => {
            evolve::evolve_one(project.root(), &chain, &journal, &wallet, i, s, &mut on, cancel)
        }
        (Some(_), _) => bail!("--index/--to-stage and --due are separate: evolve one NFT or crank all due ones"),
        _ => evolve::evolve_due(project.root(), &chain, &journal, &wallet, &mut on, cancel),
    };
    bars.finish();
    print_evolve(out, &report?)?;
    Ok(ExitCode::SUCCESS)
}

pub fn warp(out: &Output, args: WarpArgs) -> anyhow::Result<ExitCode> {
    let project = open_project(args.project.as_deref())?;
    project.require_writable("warping the sandbox clock")?;
    let chain = Chain::open(project.root(), &Default::default())?;
    let before = chain.now()?;
    let now = evolve::warp(&chain, &args.duration, &mut |_| {})?;
    out.data(
        &serde_json::json!({ "before": before, "now": now }),
        &[("Clock", format!("{before} → {now} (+{} s)", now - before))],
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn royalties(out: &Output, args: RoyaltiesArgs) -> anyhow::Result<ExitCode> {
    let project = open_project(args.chain.project.as_deref())?;
    let chain = Chain::open(project.root(), &args.chain.options())?;
    let wallet = chain.wallet(Some(project.root()), args.chain.wallet.as_deref())?;
    let pay = match &args.pay {
        Some(s) => {
            Some(chrysalis_core::collection::spec::parse_sol(s).map_err(|e| anyhow::anyhow!("--pay {s:?}: {e}"))?)
        }
        None => None,
    };
    if pay.is_some() || args.distribute {
        project.require_writable("paying or distributing royalties")?;
    }
    if chain.network().allows_airdrop() && (pay.is_some() || args.distribute) {
        chain.ensure_funds(&wallet.pubkey(), pay.unwrap_or(0) + LAMPORTS_PER_SOL / 10)?;
    }
    let journal = Journal::new(project.db());
    let mut bars = PhaseBars::new(out);
    let r = royalties::royalties(project.root(), &chain, &journal, &wallet, pay, args.distribute, &mut |e| {
        bars.on_event(e)
    });
    bars.finish();
    let r = r?;
    let mut rows = vec![
        ("Collection", r.collection.clone()),
        ("Vault", format!("{} holds {} SOL ({} SOL not split yet)", r.vault, sol(r.vault_balance), sol(r.unsplit))),
        ("Royalty", format!("{} bps, {} minted", r.royalty_bps, r.minted)),
    ];
    if let Some(p) = r.paid_in {
        rows.push(("Paid in", format!("{} SOL", sol(p))));
    }
    if let Some(d) = r.distributed {
        rows.push(("Distributed", format!("{} SOL", sol(d))));
    }
    out.data(&r, &rows)?;
    if !out.is_json() {
        crate::output::line(&format!(
            "\n{:<44}  {:>6}  {:>14}  {:>14}",
            "creator", "share", "owed (SOL)", "balance (SOL)"
        ));
        for c in &r.creators {
            crate::output::line(&format!(
                "{:<44}  {:>5}%  {:>14}  {:>14}",
                c.address,
                f64::from(c.share_bps) / 100.0,
                sol(c.owed),
                sol(c.balance)
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn wallet_network(args: &WalletArgs) -> anyhow::Result<Network> {
    if let Some(n) = &args.network {
        return Ok(parse_network(n)?);
    }
    if let Some(url) = wallet::default_rpc_url().ok().flatten() {
        return Ok(parse_network(&url)?);
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    if args.project.is_some() || chrysalis_core::project::find_root(&cwd).is_some() {
        return Ok(Network::Sandbox);
    }
    Ok(Network::Devnet)
}

pub fn wallet_cmd(out: &Output, cmd: WalletCommand) -> anyhow::Result<ExitCode> {
    let (args, airdrop) = match cmd {
        WalletCommand::New { path } => {
            let path = match path {
                Some(p) => p,
                None => wallet::default_keypair_path()?,
            };
            let key = wallet::create_keypair_file(&path)?;
            out.data(
                &serde_json::json!({ "path": path, "address": key.pubkey().to_string() }),
                &[("Created", path.display().to_string()), ("Address", key.pubkey().to_string())],
            )?;
            return Ok(ExitCode::SUCCESS);
        }
        WalletCommand::Address(a) => (a, None),
        WalletCommand::Balance(a) => (a, Some(0)),
        WalletCommand::Airdrop { sol, wallet } => {
            let l = chrysalis_core::collection::spec::parse_sol(&sol).map_err(|e| anyhow::anyhow!("{sol:?}: {e}"))?;
            (wallet, Some(l))
        }
    };
    let network = wallet_network(&args)?;
    let project = match (&network, &args.project) {
        (Network::Sandbox, _) => Some(open_project(args.project.as_deref())?),
        _ => None,
    };
    let root = project.as_ref().map(|p| p.root().to_path_buf());
    let key = chrysalis_pipeline::chain::resolve_wallet(&network, root.as_deref(), args.wallet.as_deref())?;
    let Some(amount) = airdrop else {
        out.data(
            &serde_json::json!({ "address": key.pubkey().to_string() }),
            &[("Address", key.pubkey().to_string())],
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    let chain = match &root {
        Some(r) => Chain::open(r, &chrysalis_pipeline::ChainOptions { network: network.to_string(), wallet: None })?,
        None => Chain::open(
            &std::env::temp_dir(),
            &chrysalis_pipeline::ChainOptions { network: network.to_string(), wallet: None },
        )?,
    };
    if amount > 0 {
        if !network.allows_airdrop() {
            bail!("{network} has no faucet: send SOL to {} instead", key.pubkey());
        }
        chain.retry(|| chain.ledger().airdrop(&key.pubkey(), amount))?;
    }
    let balance = chain.balance(&key.pubkey())?;
    out.data(
        &serde_json::json!({ "address": key.pubkey().to_string(), "network": network.to_string(), "lamports": balance }),
        &[("Address", key.pubkey().to_string()), ("Network", network.to_string()), ("Balance", format!("{} SOL", sol(balance)))],
    )?;
    Ok(ExitCode::SUCCESS)
}
