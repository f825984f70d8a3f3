//! `init`, `info` and `check` (the project's checks and the spec's, from chrysalis-pipeline).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrysalis_chain::client::sol;
use chrysalis_core::{CancelToken, Project, ProjectInfo};
use chrysalis_pipeline::info::{self, CollectionInfo};
use clap::Args;
use serde::Serialize;

use crate::output::{self, Output};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder for the new project (created if it does not exist).
    pub dir: PathBuf,
    /// Project name; defaults to the folder's name.
    #[arg(long)]
    pub name: Option<String>,
    /// The creator paid by the starter collection.toml: defaults to your own wallet (the
    /// Solana CLI's default keypair, else a new Sandbox wallet in the project).
    #[arg(long, value_name = "ADDRESS")]
    pub creator: Option<String>,
    /// Do not write a starter collection.toml.
    #[arg(long, conflicts_with = "creator")]
    pub no_collection: bool,
}

#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// The project folder; defaults to the project containing the current directory.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The project folder; defaults to the project containing the current directory.
    pub dir: Option<PathBuf>,
    /// Also read what the vault owes from a real network (devnet, mainnet, an RPC URL). The
    /// sandbox is always read; without this flag `info` never waits on an RPC node.
    #[arg(long)]
    pub chain: bool,
}

/// `info --json`: the project, and its collection on each network it was published to.
#[derive(Debug, Serialize)]
struct InfoReport {
    #[serde(flatten)]
    project: ProjectInfo,
    collections: Vec<CollectionInfo>,
}

impl ProjectArgs {
    fn open(&self) -> anyhow::Result<Project> {
        open_project(self.dir.as_deref())
    }
}

/// Opens `dir`, or else the project containing the current directory (as git finds its
/// repository), for every command that takes an optional project folder.
pub fn open_project(dir: Option<&Path>) -> anyhow::Result<Project> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            chrysalis_core::project::find_root(&cwd).unwrap_or(cwd)
        }
    };
    Ok(Project::open(&dir)?)
}

fn info_rows(info: &ProjectInfo) -> Vec<(&'static str, String)> {
    vec![
        ("Project", info.name.clone()),
        ("Path", info.root.clone()),
        ("Created", info.created.clone()),
        ("Schema", format!("{} (this Chrysalis: {})", info.schema_version, info.latest_schema_version)),
        ("Database", output::bytes(info.database_bytes)),
    ]
}

pub fn init(out: &Output, args: InitArgs) -> anyhow::Result<ExitCode> {
    let project = Project::create(&args.dir, args.name.as_deref())?;
    let creator = if args.no_collection {
        None
    } else {
        chrysalis_pipeline::creators::write_starter_spec(&project, args.creator.as_deref())?
    };
    let info = project.info()?;
    if !out.is_json() {
        println!("Created project {:?} in {}", info.name, info.root);
        if let Some(c) = creator {
            println!(
                "Wrote collection.toml (the demo collection: 12 items, 3 stages), paying {c}: edit it to make it yours"
            );
        }
    }
    out.data(&info, &info_rows(&info))?;
    Ok(ExitCode::SUCCESS)
}

pub fn info(out: &Output, args: InfoArgs) -> anyhow::Result<ExitCode> {
    let project = open_project(args.dir.as_deref())?;
    let report = InfoReport { project: project.info()?, collections: info::collections(&project, args.chain)? };
    let mut rows = info_rows(&report.project);
    for c in &report.collections {
        rows.extend(collection_rows(c));
    }
    out.data(&report, &rows)?;
    Ok(ExitCode::SUCCESS)
}

fn collection_rows(c: &CollectionInfo) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("Network", c.network.clone()),
        (
            "Collection",
            if c.status == "created" { c.collection.clone() } else { format!("{} ({})", c.collection, c.status) },
        ),
        ("Minted", format!("{} of {}", c.minted, c.total)),
    ];
    if !c.nfts.is_empty() {
        let mut by_stage = std::collections::BTreeMap::<u32, u32>::new();
        for n in &c.nfts {
            *by_stage.entry(n.stage).or_default() += 1;
        }
        let stages: Vec<String> = by_stage.iter().map(|(s, n)| format!("{n} at stage {s}")).collect();
        rows.push(("Stages", stages.join(", ")));
    }
    match (&c.royalties, &c.royalties_note) {
        (Some(r), _) => {
            let owed: u64 = r.creators.iter().map(|c| c.owed).sum();
            rows.push((
                "Owed",
                format!("{} SOL to {} creator(s), {} SOL not split yet", sol(owed), r.creators.len(), sol(r.unsplit)),
            ));
        }
        (None, Some(note)) => rows.push(("Owed", note.clone())),
        (None, None) => {}
    }
    rows
}

pub fn check(out: &Output, args: ProjectArgs, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    let project = args.open()?;
    let bar = out.progress("check");
    let report = chrysalis_pipeline::check::check_project(&project, &mut |p| bar.update(p), cancel);
    bar.finish();
    let report = report?;
    let rows: Vec<(&str, String)> = report
        .steps
        .iter()
        .map(|s| {
            let mark = match (s.ok, &s.warning) {
                (false, _) => "FAIL",
                (true, Some(_)) => "WARN",
                (true, None) => "ok  ",
            };
            let warning = s.warning.as_deref().map(|w| format!("\n      warning: {w}")).unwrap_or_default();
            (s.name.as_str(), format!("{mark}  {}{warning}", s.detail))
        })
        .collect();
    out.data(&report, &rows)?;
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[derive(Debug, Args)]
pub struct CreatorsArgs {
    /// The project folder; defaults to the project containing the current directory.
    pub dir: Option<PathBuf>,
    /// Confirm ADDRESS as yours or a collaborator's: proceeds and royalties are paid to it
    /// (repeatable). Your own wallets count as confirmed without this.
    #[arg(long = "confirm", value_name = "ADDRESS")]
    pub confirm: Vec<String>,
}

/// `chrysalis creators`: who collection.toml pays, and whether each address is confirmed.
pub fn creators(out: &Output, args: CreatorsArgs) -> anyhow::Result<ExitCode> {
    use chrysalis_pipeline::creators;
    let project = open_project(args.dir.as_deref())?;
    for address in &args.confirm {
        creators::confirm(&project, address, "confirmed")?;
    }
    let path = project.root().join(chrysalis_pipeline::SPEC_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let spec = chrysalis_core::collection::CollectionSpec::from_toml(&text)?;
    let statuses = creators::status(&project, &spec)?;
    let rows: Vec<(&str, String)> = statuses
        .iter()
        .map(|c| {
            let share = format!("{} %", f64::from(c.share_bps) / 100.0);
            let state = match &c.how {
                Some(how) => format!("confirmed: {how}"),
                None => "NOT CONFIRMED: paid on chain; confirm with --confirm if it is yours".to_string(),
            };
            (c.address.as_str(), format!("{share:>7}  {state}"))
        })
        .collect();
    out.data(&statuses, &rows)?;
    Ok(ExitCode::SUCCESS)
}
