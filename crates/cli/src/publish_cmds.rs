//! `chrysalis publish`: the collection pipeline (plan → generate → metadata → pin →
//! collection → mint) over `chrysalis_pipeline`, with a progress bar per phase.

use std::path::PathBuf;
use std::process::ExitCode;

use chrysalis_core::CancelToken;
use chrysalis_pipeline::publish::{Only, PublishOptions, PublishReport};
use chrysalis_pipeline::{ChainOptions, Phase, PipelineEvent};
use chrysalis_storage::Layout;
use chrysalis_storage::remote::BackendKind;
use chrysalis_storage::remote::credentials;
use clap::Args;

use crate::output::{JobBar, Output};
use crate::pin_cmds::{self, PinArgs};
use crate::project_cmds::open_project;

/// The chain flags every chain command shares.
#[derive(Debug, Args, Clone)]
pub struct ChainArgs {
    /// sandbox (the project's embedded ledger), localnet, devnet, mainnet-beta, or an RPC URL.
    #[arg(long, default_value = "sandbox", value_name = "NETWORK")]
    pub network: String,

    /// Solana CLI keypair file that signs and pays. Default: the project's own wallet in the
    /// sandbox, else ~/.config/solana/id.json.
    #[arg(long, value_name = "KEYPAIR")]
    pub wallet: Option<PathBuf>,

    /// The project folder; defaults to the project containing the current directory.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
}

impl ChainArgs {
    pub fn options(&self) -> ChainOptions {
        ChainOptions { network: self.network.clone(), wallet: self.wallet.clone() }
    }
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub chain: ChainArgs,

    /// Stop after this phase: plan, generate, pin or mint (default: all of them).
    #[arg(long, value_name = "PHASE")]
    pub only: Option<Only>,

    /// Images generated at once (default: one per core). The images are the same whatever
    /// the number; diffusion always makes one at a time, with every core inside it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,

    /// Make only shard K of N (items i with i mod N = K) on this machine, with --only
    /// generate; merge the shards into one project with `chrysalis import-shard`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<chrysalis_pipeline::shard::Shard>,

    /// Also pin every folder to: kubo, psa, pinata or arweave (the local store always gets
    /// them). The flags below are `chrysalis pin`'s.
    #[arg(long, default_value = "local", value_name = "BACKEND")]
    pub backend: BackendKind,

    /// The backend's URL (see `chrysalis pin --help` for defaults).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// UnixFS layout of every CID: v0 (Kubo's default), v1 or v1-2025.
    #[arg(long, default_value = "v0", value_name = "LAYOUT")]
    pub layout: Layout,

    /// Retries of a request that failed for a reason that may pass (network, 429, 5xx).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub retries: u32,

    /// Arweave: the JWK wallet file that pays.
    #[arg(long, value_name = "JWK", env = credentials::ARWEAVE_WALLET_ENV)]
    pub arweave_wallet: Option<PathBuf>,

    /// psa: a multiaddr of a node that already holds the content (repeatable).
    #[arg(long = "origin", value_name = "MULTIADDR")]
    pub origins: Vec<String>,

    /// psa: seconds to wait for the service to report `pinned`.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub pin_timeout: u64,
}

/// Renders pipeline events: one indicatif bar per phase (hidden in JSON mode or off a
/// terminal) and, for people, one line on stderr when a phase ends.
pub struct PhaseBars<'o> {
    out: &'o Output,
    current: Option<(Phase, JobBar, PipelineEvent)>,
}

impl<'o> PhaseBars<'o> {
    pub fn new(out: &'o Output) -> Self {
        PhaseBars { out, current: None }
    }

    pub fn on_event(&mut self, e: &PipelineEvent) {
        if self.current.as_ref().is_none_or(|(p, _, _)| *p != e.phase) {
            self.finish();
            self.current = Some((e.phase, self.out.progress(e.phase.as_str()), e.clone()));
        }
        if let Some((_, bar, last)) = &mut self.current {
            bar.update(&chrysalis_core::Progress::new(e.step, e.total, e.message.clone()));
            *last = e.clone();
        }
    }

    pub fn finish(&mut self) {
        if let Some((phase, bar, last)) = self.current.take() {
            bar.finish();
            if !self.out.is_json() {
                eprintln!("{:>10}  {}", phase.as_str(), last.message);
            }
        }
    }
}

fn remote_pin_args(args: &PublishArgs) -> PinArgs {
    PinArgs {
        path: PathBuf::new(),
        to: args.backend,
        endpoint: args.endpoint.clone(),
        layout: args.layout,
        project: args.chain.project.clone(),
        jobs: 4,
        retries: args.retries,
        hidden: false,
        wallet: args.arweave_wallet.clone(),
        confirmations: 0,
        confirm_timeout: 0,
        origins: args.origins.clone(),
        pin_timeout: args.pin_timeout,
        remember: false,
    }
}

pub fn publish(out: &Output, args: PublishArgs, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    let project = open_project(args.chain.project.as_deref())?;
    let remote = match args.backend {
        BackendKind::Local => None,
        _ => Some(pin_cmds::backend(&remote_pin_args(&args), &project)?),
    };
    let options = PublishOptions {
        chain: args.chain.options(),
        layout: args.layout,
        only: args.only,
        jobs: args.jobs,
        shard: args.shard,
    };
    let mut bars = PhaseBars::new(out);
    let result = chrysalis_pipeline::publish(
        &project,
        &options,
        remote.as_deref(),
        &mut |e: &PipelineEvent| bars.on_event(e),
        cancel,
    );
    bars.finish();
    let report = result?;
    print_publish(out, &report)?;
    Ok(ExitCode::SUCCESS)
}

pub fn print_publish(out: &Output, r: &PublishReport) -> anyhow::Result<()> {
    let mut rows = vec![
        ("Collection", format!("{} ({} items × {} stages)", r.plan.name, r.plan.items, r.plan.stages)),
        ("Network", r.network.clone()),
        ("Wallet", r.wallet.clone()),
    ];
    if let Some(g) = &r.generate {
        rows.push(("Images", format!("{} generated, {} kept", g.generated, g.reused)));
    }
    for s in &r.stages {
        rows.push(("Stage", format!("{} {:<10} {} (root {}…)", s.stage, s.name, s.base_uri, &s.content_root[..16])));
    }
    if let Some(c) = &r.collection {
        rows.push(("On chain", format!("{} (vault {})", c.collection, c.vault)));
    }
    if !r.mints.is_empty() {
        rows.push(("Minted", format!("{} of {} ({} in this run)", r.mints.len(), r.plan.items, r.minted_now)));
        rows.push((
            "Spent",
            format!("{} lamports ({} SOL)", r.lamports_spent, chrysalis_chain::client::sol(r.lamports_spent)),
        ));
    }
    out.data(r, &rows)?;
    if !out.is_json() && !r.mints.is_empty() {
        crate::output::line("");
        crate::output::line(&format!("{:>5}  {:<44}  {:>5}  URI", "index", "mint", "stage"));
        for m in &r.mints {
            crate::output::line(&format!("{:>5}  {:<44}  {:>5}  {}", m.index, m.mint, m.stage, m.uri));
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ExportShardsArgs {
    /// The folder to write the job folders into (created if needed; nothing is overwritten).
    pub dest: PathBuf,
    /// How many machines (shards): from 1 to the number of items.
    #[arg(long, value_name = "N")]
    pub machines: u32,
    /// The project whose collection is split; defaults to the project containing the
    /// current directory.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
}

/// `chrysalis export-shards DEST --machines N`: one job folder per machine.
pub fn export_shards(out: &Output, args: ExportShardsArgs, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    let project = crate::project_cmds::open_project(args.project.as_deref())?;
    let export = chrysalis_pipeline::shard_jobs::export(&project, &args.dest, args.machines, cancel)?;
    let mut rows = vec![
        ("Collection", format!("{} ({} items × {} stages)", export.collection, export.items, export.stages)),
        ("Jobs in", export.dest.clone()),
    ];
    if let Some(model) = &export.model {
        rows.push(("Model needed", format!("{model} (the same files on every machine)")));
    }
    for job in &export.jobs {
        let folder = std::path::Path::new(&job.dir).file_name().map(|f| f.to_string_lossy().into_owned());
        rows.push(("Shard", format!("{}  {} images  {}", job.shard, job.images, folder.unwrap_or_default())));
    }
    rows.push((
        "Run there",
        "the command in each folder's README.txt, then `chrysalis import-shard FOLDER` here".into(),
    ));
    out.data(&export, &rows)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ImportShardArgs {
    /// The shard's project folder (where `publish --only generate --shard K/N` ran).
    pub from: PathBuf,
    /// The project to merge into; defaults to the project containing the current directory.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
}

/// `chrysalis import-shard DIR`: merges a shard's images, each checked against its recipe.
pub fn import_shard(out: &Output, args: ImportShardArgs, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    let project = crate::project_cmds::open_project(args.project.as_deref())?;
    let mut bars = PhaseBars::new(out);
    let report = chrysalis_pipeline::merge::import(&project, &args.from, &mut |e| bars.on_event(e), cancel);
    bars.finish();
    let report = report?;
    let mut rows = vec![
        ("Imported", format!("{} image(s)", report.imported)),
        ("Already here", format!("{} image(s)", report.already)),
    ];
    if let Some(shard) = report.shard {
        rows.insert(0, ("Shard", shard.to_string()));
    }
    if report.missing > 0 {
        rows.push(("Not made yet", format!("{} image(s): finish the shard there and import again", report.missing)));
    }
    for r in &report.refused {
        rows.push(("Refused", r.to_string()));
    }
    out.data(&report, &rows)?;
    Ok(if report.refused.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
