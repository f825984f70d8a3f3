//! `init`, `info` and `check`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrysalis_core::{CancelToken, Project, ProjectInfo};
use clap::Args;

use crate::output::{self, Output};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder for the new project (created if it does not exist).
    pub dir: PathBuf,
    /// Project name; defaults to the folder's name.
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// The project folder; defaults to the project containing the current directory.
    pub dir: Option<PathBuf>,
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
    let info = project.info()?;
    if !out.is_json() {
        println!("Created project {:?} in {}", info.name, info.root);
    }
    out.data(&info, &info_rows(&info))?;
    Ok(ExitCode::SUCCESS)
}

pub fn info(out: &Output, args: ProjectArgs) -> anyhow::Result<ExitCode> {
    let info = args.open()?.info()?;
    out.data(&info, &info_rows(&info))?;
    Ok(ExitCode::SUCCESS)
}

pub fn check(out: &Output, args: ProjectArgs, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    let project = args.open()?;
    let bar = out.progress("check");
    let report = project.check(&mut |p| bar.update(p), cancel);
    bar.finish();
    let report = report?;
    let rows: Vec<(&str, String)> = report
        .steps
        .iter()
        .map(|s| (s.name.as_str(), format!("{}  {}", if s.ok { "ok  " } else { "FAIL" }, s.detail)))
        .collect();
    out.data(&report, &rows)?;
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
