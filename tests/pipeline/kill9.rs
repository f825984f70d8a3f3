//! `kill -9` at random points of `chrysalis publish`, then reruns: every item ends minted
//! exactly once, every price is in the vault exactly once, and nothing is lost (the stage
//! CIDs are the ones an uninterrupted run makes).
//!
//! The binary is spawned, killed with SIGKILL after a random delay (a seeded RNG), killed
//! again at a random point of the resumed run, then run to completion. Even trials spread
//! the first kill over a whole uninterrupted run (measured first), so kills land in
//! planning, generation, pinning and the chain steps; odd trials wait for the collection to
//! be on chain and kill within the ~200 ms the mints take.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrysalis_chain::{Keypair, Signer};
use chrysalis_tests::chrysalis_bin;
use chrysalis_tests::{SOL, artist, on_chain, project_with_spec, small_spec};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

const ITEMS: u32 = 6;
const STAGES: u32 = 2;
const PRICE: u64 = SOL / 100;
const TRIALS: u32 = 10;

fn publish_cmd(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(chrysalis_bin!());
    cmd.args(["--json", "publish", "--project"]).arg(dir).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Without `--json`: the binary prints a line on stderr as each phase ends.
fn publish_cmd_verbose(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(chrysalis_bin!());
    cmd.args(["publish", "--project"]).arg(dir);
    cmd
}

fn stage_cids(dir: &std::path::Path) -> Vec<(u32, String, String)> {
    let conn = rusqlite::Connection::open(dir.join("chrysalis.db")).unwrap();
    let mut stmt = conn.prepare("SELECT stage, images_cid, metadata_cid FROM pipeline_stages ORDER BY stage").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

fn journaled_mints(dir: &std::path::Path) -> Vec<(u32, String)> {
    let conn = rusqlite::Connection::open(dir.join("chrysalis.db")).unwrap();
    let mut stmt =
        conn.prepare("SELECT item, status FROM chain_mints WHERE network = 'sandbox' ORDER BY item").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

/// Runs publish to completion and returns its JSON report.
fn publish_to_end(dir: &std::path::Path) -> serde_json::Value {
    let out = publish_cmd(dir).output().unwrap();
    assert!(
        out.status.success(),
        "publish after the kills failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    // With --json, stdout holds the JSON report and nothing else.
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not one JSON report ({e}): {text}"))
}

#[test]
fn kill_9_at_random_points_then_rerun_mints_every_item_exactly_once() {
    let creator = Keypair::new().pubkey();
    let spec = small_spec("Kill Nine", ITEMS, STAGES, 256, "0.01", &creator);

    // An uninterrupted run: the reference CIDs and the time span to kill within.
    let reference = tempfile::tempdir().unwrap();
    project_with_spec(reference.path(), &spec);
    let t0 = Instant::now();
    let report = publish_to_end(reference.path());
    let full = t0.elapsed();
    assert_eq!(report["minted_now"], ITEMS);
    let expected_cids = stage_cids(reference.path());
    assert_eq!(expected_cids.len(), STAGES as usize);
    eprintln!("uninterrupted publish: {full:?}");

    // Once more on a fresh project: the first run also paid for loading the binary.
    let warm_dir = tempfile::tempdir().unwrap();
    project_with_spec(warm_dir.path(), &spec);
    let t0 = Instant::now();
    publish_to_end(warm_dir.path());
    let full = full.min(t0.elapsed());
    eprintln!("uninterrupted publish, warm: {full:?}");

    let mut rng = ChaCha8Rng::seed_from_u64(0x006b_696c_6c39);
    let span_ms = (full.as_millis() as u64 * 9 / 10).max(10);
    let mut kills_before_end = 0;
    let mut kills_while_minting = 0;
    for trial in 0..TRIALS {
        let dir = tempfile::tempdir().unwrap();
        project_with_spec(dir.path(), &spec);
        let mut killed_at = Vec::new();
        for attempt in 0..2 {
            let mut child =
                publish_cmd_verbose(dir.path()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
            let stderr = child.stderr.take().unwrap();
            let (tx, rx) = std::sync::mpsc::channel::<String>();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
            let (when, delay) = if attempt == 0 && trial % 2 == 1 {
                // Odd trials: wait until the collection is on chain, then kill within the
                // first 80 ms of the six mints (they took ~200 ms once; a kill after they end
                // interrupts nothing).
                let deadline = Instant::now() + Duration::from_secs(60);
                while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    if line.trim_start().starts_with("collection") {
                        break;
                    }
                }
                ("after the collection", Duration::from_millis(rng.next_u64() % 80))
            } else if attempt == 0 {
                // Even trials: stratified over a whole run, so kills land in every phase.
                let strata = u64::from(TRIALS / 2);
                let stratum = (span_ms / strata).max(1);
                ("from the start", Duration::from_millis(u64::from(trial / 2) * stratum + rng.next_u64() % stratum))
            } else {
                ("from the start of a resumed run", Duration::from_millis(rng.next_u64() % span_ms))
            };
            std::thread::sleep(delay);
            let finished = child.try_wait().unwrap().is_some();
            child.kill().ok(); // SIGKILL
            child.wait().unwrap();
            if !finished {
                kills_before_end += 1;
                // Where it died: how far the chain got (for the log and the coverage check).
                let got = chrysalis_chain::wallet::read_keypair(&dir.path().join("keys/artist.json"))
                    .ok()
                    .and_then(|k| on_chain(dir.path(), ITEMS, &k.pubkey()))
                    .map(|c| c.mint_accounts.len());
                eprintln!("trial {trial}: killed {delay:?} {when}, mints on chain: {got:?}");
                if got.is_some_and(|n| n < ITEMS as usize) {
                    kills_while_minting += 1;
                }
                killed_at.push(delay);
            }
        }
        let report = publish_to_end(dir.path());
        let buyer = artist(dir.path());
        let chain = on_chain(dir.path(), ITEMS, &buyer).expect("the collection exists after the final run");
        let ctx = format!("trial {trial}, killed at {killed_at:?}");
        assert_eq!(chain.minted, ITEMS, "{ctx}: the collection counts each mint once");
        assert_eq!(chain.mint_accounts, (0..ITEMS).collect::<Vec<_>>(), "{ctx}: every index minted");
        assert!(chain.held.iter().all(|h| *h == 1), "{ctx}: each buyer account holds exactly one: {:?}", chain.held);
        assert_eq!(chain.stages, STAGES as usize, "{ctx}: every stage added once");
        assert_eq!(
            chain.vault_balance,
            chain.vault_rent + u64::from(ITEMS) * PRICE,
            "{ctx}: the vault holds each price exactly once"
        );
        assert_eq!(chain.total_owed, u64::from(ITEMS) * PRICE, "{ctx}: the creator is owed each price once");
        assert_eq!(stage_cids(dir.path()), expected_cids, "{ctx}: the stage folders are the uninterrupted run's");
        let mints = journaled_mints(dir.path());
        assert_eq!(mints.len(), ITEMS as usize, "{ctx}");
        assert!(mints.iter().all(|(_, s)| s == "minted"), "{ctx}: journal {mints:?}");
        assert_eq!(report["mints"].as_array().unwrap().len(), ITEMS as usize, "{ctx}");
        // Once more: nothing left to do, nothing sent.
        let again = publish_to_end(dir.path());
        assert_eq!(again["minted_now"], 0, "{ctx}: a finished publish mints nothing more");
        assert_eq!(again["generate"]["generated"], 0, "{ctx}: and generates nothing");
    }
    // The kills must have interrupted real work, or the test proves nothing.
    assert!(kills_before_end >= TRIALS, "only {kills_before_end} kills landed before a run ended");
    assert!(kills_while_minting >= 1, "no kill landed between the collection and the last mint");
}

/// Ctrl-C (SIGINT) during generation stops `chrysalis publish` cleanly: exit status 130,
/// "cancelled" on stderr, and the next run finishes the job without redoing what was done.
#[test]
fn ctrl_c_cancels_publish_cleanly_and_a_rerun_finishes() {
    // Big enough that generation outlasts the signal's way in: the 6-item, 2-stage 256²
    // collection now publishes, mints included, in under a second, before a fixed-delay
    // Ctrl-C arrives. 3 stages at 1024² take seconds.
    let creator = Keypair::new().pubkey();
    let dir = tempfile::tempdir().unwrap();
    project_with_spec(dir.path(), &small_spec("Interrupted", ITEMS, 3, 1024, "0.01", &creator));
    let mut child = publish_cmd_verbose(dir.path()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The plan line comes when generation starts; interrupt at the first image made.
    let plan_line = rx.recv_timeout(Duration::from_secs(60)).expect("publish reports its plan");
    assert!(plan_line.contains("plan"), "{plan_line}");
    let first = rx.iter().find(|l| l.contains("generated #")).expect("publish reports each image it makes");
    // SAFETY: signalling our own child process by its id.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    // Every line up to the end of stderr: the reader thread ends (and the channel closes) at
    // EOF, so the last lines are not lost to a race with it.
    let rest: Vec<String> = rx.iter().collect();
    assert_eq!(status.code(), Some(130), "exit status after Ctrl-C; stderr: {first} {rest:?}");
    assert!(rest.iter().any(|l| l.contains("cancelled")), "{rest:?}");
    let report = publish_to_end(dir.path());
    // Generation runs on every core, so the Ctrl-C may land once minting has begun: what
    // counts is that every item ends up minted, once, over both runs.
    assert!(report["minted_now"].as_u64().unwrap() <= u64::from(ITEMS), "{report}");
    assert_eq!(report["mints"].as_array().unwrap().len(), ITEMS as usize, "every item minted once");
    assert!(
        report["generate"]["reused"].as_u64().unwrap() > 0,
        "work done before Ctrl-C is kept: {}",
        report["generate"]
    );
}
