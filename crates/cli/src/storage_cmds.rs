//! `cid`, `car export|import` and `store add|cat|ls`: CIDs and the local content-addressed
//! store.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrysalis_core::CancelToken;
use chrysalis_storage::{Importer, Layout, LocalStore, NullSink, pins};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::output::{self, Output};
use crate::project_cmds::open_project;

#[derive(Debug, Args)]
pub struct CidArgs {
    /// A file or a folder.
    pub path: PathBuf,
    /// v0 = Kubo's default (`ipfs add`), v1 = `ipfs add --cid-version=1`, v1-2025 = the
    /// unixfs-v1-2025 profile.
    #[arg(long, default_value = "v0")]
    pub layout: Layout,
    /// Include files and folders whose names start with `.` (`ipfs add --hidden`).
    #[arg(long)]
    pub hidden: bool,
}

#[derive(Debug, Subcommand)]
pub enum CarCommand {
    /// Write CID and every block under it from the project's store to OUT.car (CAR v1).
    Export {
        /// A CID, or CID/path inside it.
        cid: String,
        /// The CAR file to write (replaced atomically).
        out: PathBuf,
        /// The project folder; defaults to the project containing the current directory.
        dir: Option<PathBuf>,
    },
    /// Verify every block of IN.car and, if all are good, add them to the project's store.
    Import {
        /// A CAR v1 file.
        car: PathBuf,
        /// The project folder; defaults to the project containing the current directory.
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Add a file or folder to the project's store and record its root.
    Add {
        path: PathBuf,
        #[arg(long, default_value = "v0")]
        layout: Layout,
        /// Name to record the root under (default: the file or folder name).
        #[arg(long)]
        name: Option<String>,
        /// Include entries whose names start with `.`.
        #[arg(long)]
        hidden: bool,
        /// The project folder; defaults to the project containing the current directory.
        #[arg(long)]
        project: Option<PathBuf>,
    },
    /// Write the file at CID[/path] to stdout (or --output), verifying every block.
    Cat {
        target: String,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[arg(long)]
        project: Option<PathBuf>,
    },
    /// List the folder at CID[/path].
    Ls {
        target: String,
        #[arg(long)]
        project: Option<PathBuf>,
    },
    /// List the roots recorded in the project.
    Roots {
        #[arg(long)]
        project: Option<PathBuf>,
    },
}

fn storage_err(e: chrysalis_storage::StorageError) -> anyhow::Error {
    match e {
        chrysalis_storage::StorageError::Cancelled(c) => anyhow::Error::new(c),
        other => anyhow::Error::new(other),
    }
}

/// `chrysalis cid PATH`: like `ipfs add -Qn`, nothing is stored.
pub fn cid(out: &Output, args: CidArgs, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    let bar = out.byte_progress("hashing");
    let mut on_progress = |p: &chrysalis_core::Progress| bar.update(p);
    let mut sink = NullSink;
    let added = Importer::new(args.layout)
        .sink(&mut sink)
        .include_hidden(args.hidden)
        .on_progress(&mut on_progress)
        .cancel(cancel)
        .add_path(&args.path)
        .map_err(storage_err)?;
    bar.finish();
    if out.is_json() {
        out.data(&added, &[])?;
    } else {
        println!("{}", added.cid);
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct StoreAdded<'a> {
    name: &'a str,
    #[serde(flatten)]
    added: &'a chrysalis_storage::Added,
    new_blocks: u64,
    existing_blocks: u64,
}

pub fn store(out: &Output, cmd: StoreCommand, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    match cmd {
        StoreCommand::Add { path, layout, name, hidden, project } => {
            let project = open_project(project.as_deref())?;
            let store = LocalStore::open(project.root()).map_err(storage_err)?;
            let bar = out.byte_progress("adding");
            let mut on_progress = |p: &chrysalis_core::Progress| bar.update(p);
            let mut sink = store.sink();
            let added = Importer::new(layout)
                .sink(&mut sink)
                .include_hidden(hidden)
                .on_progress(&mut on_progress)
                .cancel(cancel)
                .add_path(&path)
                .map_err(storage_err)?;
            let (new_blocks, existing_blocks) = (sink.written, sink.present);
            store.flush().map_err(storage_err)?;
            bar.finish();
            let name = name.unwrap_or_else(|| {
                path.canonicalize()
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_default()
            });
            pins::record_added(project.db(), &name, &added).map_err(storage_err)?;
            project.journal(
                "storage.added",
                &serde_json::json!({ "name": name, "cid": added.cid.to_string(), "layout": added.layout }),
            )?;
            let report = StoreAdded { name: &name, added: &added, new_blocks, existing_blocks };
            out.data(
                &report,
                &[
                    ("Added", added.cid.to_string()),
                    ("Name", name.clone()),
                    ("Layout", added.layout.to_string()),
                    ("Content", format!("{} in {} file(s)", output::bytes(added.size), added.files)),
                    ("Blocks", format!("{new_blocks} new, {existing_blocks} already stored")),
                ],
            )?;
        }
        StoreCommand::Cat { target, output: dest, project } => {
            let project = open_project(project.as_deref())?;
            let store = LocalStore::open(project.root()).map_err(storage_err)?;
            let mut reader = store.cat(&target).map_err(storage_err)?;
            match dest {
                Some(path) => {
                    let tmp = path.with_extension("partial");
                    let mut f =
                        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
                    let n = copy_cancellable(&mut reader, &mut f, cancel)?;
                    f.sync_all()?;
                    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
                    if !out.is_json() {
                        eprintln!("wrote {} ({})", path.display(), output::bytes(n));
                    }
                }
                None => {
                    let stdout = io::stdout();
                    let mut lock = stdout.lock();
                    copy_cancellable(&mut reader, &mut lock, cancel)?;
                    lock.flush()?;
                }
            }
        }
        StoreCommand::Ls { target, project } => {
            let project = open_project(project.as_deref())?;
            let store = LocalStore::open(project.root()).map_err(storage_err)?;
            let entries = store.ls(&target).map_err(storage_err)?;
            if out.is_json() {
                out.data(&entries, &[])?;
            } else {
                for e in &entries {
                    println!("{}  {:>10}  {}", e.cid, e.dag_size, e.name);
                }
            }
        }
        StoreCommand::Roots { project } => {
            let project = open_project(project.as_deref())?;
            let roots = pins::list(project.db()).map_err(storage_err)?;
            if out.is_json() {
                out.data(&roots, &[])?;
            } else {
                for r in &roots {
                    let layout = r.layout.map_or("-", |l| l.as_str());
                    println!("{}  {:<7}  {:>10}  {}", r.cid, layout, output::bytes(r.bytes), r.name);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn copy_cancellable(reader: &mut dyn io::Read, writer: &mut dyn Write, cancel: &CancelToken) -> anyhow::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        cancel.check()?;
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        writer.write_all(&buf[..n])?;
        total += n as u64;
    }
}

#[derive(Serialize)]
struct CarReport<'a, T: Serialize> {
    path: &'a Path,
    #[serde(flatten)]
    summary: &'a T,
}

pub fn car(out: &Output, cmd: CarCommand, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    match cmd {
        CarCommand::Export { cid, out: path, dir } => {
            let project = open_project(dir.as_deref())?;
            let store = LocalStore::open(project.root()).map_err(storage_err)?;
            let root = store.resolve(&cid).map_err(storage_err)?;
            cancel.check()?;
            let summary = store.export_car_file(&root, &path).map_err(storage_err)?;
            out.data(
                &CarReport { path: &path, summary: &summary },
                &[
                    ("Wrote", path.display().to_string()),
                    ("Root", root.to_string()),
                    ("Blocks", summary.blocks.to_string()),
                    ("Size", output::bytes(summary.bytes)),
                ],
            )?;
        }
        CarCommand::Import { car, dir } => {
            let project = open_project(dir.as_deref())?;
            let store = LocalStore::open(project.root()).map_err(storage_err)?;
            cancel.check()?;
            let imported = store.import_car(&car).map_err(storage_err)?;
            let name = car.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "car".into());
            for root in &imported.roots {
                pins::record(project.db(), &name, root, None, 0).map_err(storage_err)?;
            }
            project.journal(
                "storage.car_imported",
                &serde_json::json!({ "car": car.display().to_string(), "roots": imported.roots.iter().map(|r| r.to_string()).collect::<Vec<_>>() }),
            )?;
            let roots: Vec<String> = imported.roots.iter().map(|r| r.to_string()).collect();
            out.data(
                &CarReport { path: &car, summary: &imported },
                &[
                    ("Imported", car.display().to_string()),
                    ("Roots", roots.join(", ")),
                    ("Blocks", format!("{} ({} new), every one verified", imported.blocks, imported.new_blocks)),
                    ("Size", output::bytes(imported.bytes)),
                ],
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
