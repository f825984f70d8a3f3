//! Pipeline benchmark (`cargo bench -p chrysalis-pipeline --bench pipeline`; prints figures).
//!
//! 1. **Items per second** for plan + generate + metadata + CID of a procedural collection
//!    (default 1 000 items, one stage, 512², style `growth`), each phase timed on its own.
//!    `--items N` (or `CHRYSALIS_BENCH_ITEMS=N`) shortens it; `--side PX` changes the size.
//! 2. **Lamports per NFT** in the sandbox: a 40-item collection at 256² (price 0) is published and
//!    minted; the wallet's balance is read when minting starts and when it ends, so the
//!    figure is what one mint costs its buyer (rent of the mint and token accounts + fee),
//!    without the one-off collection costs, which are printed apart.
//!
//! Generation is timed with one worker and with one per core, and the speed-up printed (the
//! bytes are the same either way). On whatever else the machine is doing: treat the figures
//! as conservative.

use std::path::Path;
use std::time::Instant;

use chrysalis_chain::Signer;
use chrysalis_core::{CancelToken, Project};
use chrysalis_pipeline::chain::{Chain, ChainOptions};
use chrysalis_pipeline::journal::Journal;
use chrysalis_pipeline::publish::{PublishOptions, publish_with_chain};
use chrysalis_pipeline::{Phase, PipelineEvent, generate, plan};
use chrysalis_storage::Layout;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn values(name: &str, n: u32, count: u32, param: Option<&str>) -> String {
    let vals: Vec<String> = (0..n)
        .map(|i| match param {
            Some(p) => format!("{{ value = \"{name} {i}\", count = {count}, params = {{ {p} = {} }} }}", i + 1),
            None => format!("{{ value = \"{name} {i}\", count = {count} }}"),
        })
        .collect();
    format!("[[traits]]\nname = \"{name}\"\nvalues = [{}]\n", vals.join(", "))
}

/// A spec of `items` (a multiple of 40) with enough trait combinations to be unique.
fn spec(items: u32, side: u32, price: &str) -> String {
    let mut s = format!(
        "name = \"Bench\"\nsymbol = \"B\"\nsize = {items}\nseed = 5\nprice = \"{price}\"\n\n[[creators]]\naddress = \"AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf\"\nshare_bps = 10000\n\n[art]\nengine = \"procedural\"\nstyle = \"growth\"\nwidth = {side}\nheight = {side}\n\n"
    );
    s.push_str(&values("Palette", 8, items / 8, Some("palette")));
    s.push_str(&values("Roots", 5, items / 5, Some("roots")));
    s.push_str(&values("Mark", 10, items / 10, None));
    s.push_str(&values("Eyes", 4, items / 4, None));
    s.push_str("\n[[stages]]\nname = \"Seed\"\nunlock = \"mint\"\n");
    s
}

fn project(dir: &Path, text: &str) -> Project {
    let p = Project::create(dir, Some("bench")).expect("project");
    std::fs::write(dir.join("collection.toml"), text).expect("spec");
    p
}

/// Plan, generate with `jobs` workers, metadata: the seconds of each phase.
fn run(items: u32, side: u32, jobs: usize) -> [f64; 3] {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = project(dir.path(), &spec(items, side, "0"));
    let journal = Journal::new(p.db());
    let cancel = CancelToken::new();
    let t = Instant::now();
    let planned = plan::plan_project(p.root(), &journal, "sandbox", &mut |_| {}).expect("plan");
    let t_plan = t.elapsed().as_secs_f64();
    let t = Instant::now();
    generate::generate_images(p.root(), &planned, &journal, jobs, None, &mut |_| {}, &cancel).expect("generate");
    let t_gen = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let items = generate::item_tree(p.root(), &planned).expect("item table");
    generate::write_metadata(p.root(), &planned, &items, Layout::V0, &journal, &mut |_| {}, &cancel).expect("metadata");
    [t_plan, t_gen, t.elapsed().as_secs_f64()]
}

fn throughput(items: u32, side: u32) {
    let cores = generate::default_jobs();
    let n = f64::from(items);
    let [t_plan, one, t_meta] = run(items, side, 1);
    let all = if cores > 1 { run(items, side, cores)[1] } else { one };
    println!("plan + generate + metadata + CID, {items} items at {side}², one stage, {cores} core(s):");
    println!("  plan                      {:>9.2} s  {:>9.1} items/s", t_plan, n / t_plan);
    println!("  generate (PNG), 1 thread  {:>9.2} s  {:>9.2} items/s", one, n / one);
    println!("  generate (PNG), {cores:>2} threads{:>1}{:>8.2} s  {:>9.2} items/s", "", all, n / all);
    println!("  speed-up                  {:>9.2}x  ({:.0} % of linear)", one / all, 100.0 * one / all / cores as f64);
    println!("  metadata + CIDs           {:>9.2} s  {:>9.1} items/s", t_meta, n / t_meta);
    let total = t_plan + all + t_meta;
    println!("  all, {cores} threads            {:>9.2} s  {:>9.2} items/s", total, n / total);
}

fn lamports_per_nft(out: &mut dyn std::io::Write) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = project(dir.path(), &spec(40, 256, "0"));
    let chain = Chain::open(p.root(), &ChainOptions::default()).expect("sandbox");
    let wallet = chain.wallet(Some(p.root()), None).expect("wallet").pubkey();
    let mut at_mint_start = None;
    let mut before_chain = None;
    let mut on = |e: &PipelineEvent| {
        if e.phase == Phase::Collection && before_chain.is_none() {
            before_chain = chain.balance(&wallet).ok();
        }
        if e.phase == Phase::Mint && e.step == 0 {
            at_mint_start = chain.balance(&wallet).ok();
        }
    };
    let report = publish_with_chain(&p, &PublishOptions::default(), None, &chain, &mut on, &CancelToken::new())
        .expect("publish");
    let end = chain.balance(&wallet).expect("balance");
    let minted = report.mints.len() as u64;
    let start = at_mint_start.expect("minting started");
    let per = (start - end) / minted;
    let _ = writeln!(out, "sandbox costs (price 0), {minted} NFTs:");
    let _ = writeln!(
        out,
        "  collection + {} stage(s)  {:>12} lamports",
        report.stages.len(),
        before_chain.unwrap_or(start).saturating_sub(start)
    );
    let _ = writeln!(out, "  per NFT                  {per:>12} lamports ({} SOL)", chrysalis_chain::client::sol(per));
}

fn main() {
    // `cargo bench` passes `--bench`; ignore everything but our own flags.
    let items: u32 = arg("--items")
        .or_else(|| std::env::var("CHRYSALIS_BENCH_ITEMS").ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let items = (items / 40).max(1) * 40;
    let side: u32 = arg("--side").and_then(|s| s.parse().ok()).unwrap_or(512);
    // solana-program-test installs a logger that prints every instruction at debug level
    // unless RUST_LOG says otherwise.
    if std::env::var_os("RUST_LOG").is_none() {
        // SAFETY: still single-threaded: nothing has started a thread that reads the env.
        unsafe { std::env::set_var("RUST_LOG", "error") };
    }
    throughput(items, side);
    with_quiet_stdout(lamports_per_nft);
}

/// Runs `f` with the process's stdout pointed at /dev/null, handing it a duplicate of the real
/// stdout for the figures. The program running natively in the sandbox logs each instruction
/// with `msg!`, which off-chain is a `println!`: hundreds of `Instruction: MintNft` lines would
/// bury the figures otherwise.
fn with_quiet_stdout(f: impl FnOnce(&mut dyn std::io::Write)) {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    #[cfg(unix)]
    // SAFETY: plain descriptor calls on the process's own standard output; `saved` is a fresh
    // descriptor owned by the File from here on, and fd 1 is restored before returning.
    unsafe {
        use std::os::fd::FromRawFd;
        let saved = libc::dup(1);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        if saved >= 0 && null >= 0 && libc::dup2(null, 1) >= 0 {
            libc::close(null);
            let restore = libc::dup(saved);
            let mut real = std::fs::File::from_raw_fd(saved);
            f(&mut real);
            let _ = real.flush();
            let _ = std::io::stdout().flush();
            if restore >= 0 {
                libc::dup2(restore, 1);
                libc::close(restore);
            }
            return;
        }
    }
    f(&mut std::io::stdout());
}
