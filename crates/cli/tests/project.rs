//! The project commands, run as a user runs them: through the built `chrysalis` binary.

use assert_cmd::Command;
use predicates::prelude::*;

fn chrysalis() -> Command {
    let mut cmd = Command::cargo_bin("chrysalis").unwrap();
    cmd.env_remove("RUST_LOG");
    cmd
}

#[test]
fn init_then_info_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("moths");
    chrysalis()
        .args(["init", dir.to_str().unwrap(), "--name", "Moths of Night"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Created project \"Moths of Night\""));

    let out = chrysalis().args(["info", dir.to_str().unwrap(), "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["name"], "Moths of Night");
    assert_eq!(info["schema_version"], info["latest_schema_version"]);
    assert_eq!(info["root"], dir.canonicalize().unwrap().to_str().unwrap());
}

#[test]
fn info_finds_the_project_from_a_subfolder() {
    let tmp = tempfile::tempdir().unwrap();
    chrysalis().args(["init", tmp.path().to_str().unwrap(), "--name", "p"]).assert().success();
    let sub = tmp.path().join("images/stage-0");
    std::fs::create_dir_all(&sub).unwrap();
    chrysalis()
        .current_dir(&sub)
        .arg("info")
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^Project\s+p$").unwrap());
}

#[test]
fn info_outside_a_project_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    chrysalis()
        .args(["info", tmp.path().to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("is not a Chrysalis project"))
        .stderr(predicate::str::contains("chrysalis init"));
}

#[test]
fn init_twice_fails_and_keeps_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    chrysalis().args(["init", dir, "--name", "first"]).assert().success();
    chrysalis().args(["init", dir, "--name", "second"]).assert().failure().stderr(predicate::str::contains("already"));
    chrysalis().args(["info", dir]).assert().success().stdout(predicate::str::contains("first"));
}

#[test]
fn check_reports_each_step() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    chrysalis().args(["init", dir]).assert().success();
    let out = chrysalis().args(["check", dir, "--json"]).output().unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    // The project's four checks, then the spec's (a project without one passes it).
    assert_eq!(report["steps"].as_array().unwrap().len(), 5);
    assert_eq!(report["steps"][4]["name"], "collection.toml");
    assert_eq!(report["steps"][4]["ok"], true);

    std::fs::write(tmp.path().join("chrysalis.toml"), "[project]\nname = \"renamed\"\nformat = 1\ncreated = \"x\"\n")
        .unwrap();
    // A changed settings file is still valid, so the project opens and checks clean.
    chrysalis().args(["check", dir]).assert().success().stdout(predicate::str::contains("settings"));
}

/// `check` checks the spec too, as `publish --only plan` does: a syntax error fails it,
/// naming the line, and a good spec passes with what was planned.
#[test]
fn check_checks_the_collection_spec() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    chrysalis().args(["init", dir]).assert().success();
    let demo = include_str!("../../../assets/demo/collection.toml");
    std::fs::write(tmp.path().join("collection.toml"), demo).unwrap();
    let out = chrysalis().args(["check", dir, "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let spec = &report["steps"][4];
    assert_eq!(spec["ok"], true, "{report}");
    assert!(spec["detail"].as_str().unwrap().contains("12 items"), "{spec}");

    std::fs::write(tmp.path().join("collection.toml"), demo.replacen("size =", "size ==", 1)).unwrap();
    chrysalis()
        .args(["check", dir])
        .assert()
        .failure()
        .stdout(predicate::str::contains("collection.toml"))
        .stdout(predicate::str::contains("line "))
        .stdout(predicate::str::contains("FAIL"));
}

#[test]
fn help_is_available_on_every_command() {
    for cmd in [&["--help"][..], &["init", "--help"], &["info", "--help"], &["check", "--help"]] {
        chrysalis().args(cmd).assert().success().stdout(predicate::str::contains("Usage"));
    }
}

#[test]
fn verbose_logs_go_to_stderr_not_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let out = chrysalis().args(["-vv", "init", tmp.path().to_str().unwrap(), "--json"]).output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("stdout is pure JSON even with -vv");
    assert!(String::from_utf8_lossy(&out.stderr).contains("applied migration"));
}

/// Runs the `chrysalis` binary with `args` as a user who cannot write `dir`'s files. As root
/// (CI) permission bits do not bind, so the binary is copied where anyone can run it and run
/// as `nobody`; as anyone else, the bits suffice.
#[cfg(unix)]
fn run_without_write_access(scratch: &std::path::Path, args: &[&str]) -> std::process::Output {
    use std::os::unix::fs::PermissionsExt;
    let bin = assert_cmd::cargo::cargo_bin("chrysalis");
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        let copy = scratch.join("chrysalis-bin");
        if !copy.exists() {
            std::fs::copy(&bin, &copy).unwrap();
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(copy);
        c
    } else {
        std::process::Command::new(bin)
    };
    cmd.args(args).env_remove("RUST_LOG").env("HOME", scratch).output().unwrap()
}

/// A read-only project folder: `info` and `check` work (nothing is written), commands that
/// must write say that the folder is read-only and what to do, once.
#[cfg(unix)]
#[test]
fn a_read_only_project_can_still_be_read() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = tempfile::tempdir().unwrap();
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = scratch.path().join("gallery");
    let d = dir.to_str().unwrap();
    chrysalis().args(["init", d, "--name", "frozen"]).assert().success();
    let demo = include_str!("../../../assets/demo/collection.toml");
    std::fs::write(dir.join("collection.toml"), demo).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::set_permissions(entry.unwrap().path(), std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let before: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();

    let info = run_without_write_access(scratch.path(), &["info", d, "--json"]);
    assert!(info.status.success(), "info on a read-only project: {}", String::from_utf8_lossy(&info.stderr));
    let json: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(json["name"], "frozen");

    let check = run_without_write_access(scratch.path(), &["check", d]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    let publish = run_without_write_access(scratch.path(), &["publish", "--project", d]);
    assert_eq!(publish.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&publish.stderr);
    assert!(stderr.contains("is read-only") && stderr.contains("publishing needs to write"), "{stderr}");
    assert_eq!(stderr.matches("is read-only").count(), 1, "said once: {stderr}");
    assert!(!stderr.contains("Error code 14"), "{stderr}");

    let after: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before, after, "nothing was written");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `init` writes a starter collection.toml that pays the artist's own wallet, never a
/// stranger; `check` warns about a creator address nobody confirmed, and `creators
/// --confirm` settles it.
#[test]
fn init_pays_the_artist_and_unconfirmed_creators_are_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mine");
    let d = dir.to_str().unwrap();
    chrysalis()
        .env("HOME", tmp.path())
        .args(["init", d])
        .assert()
        .success()
        .stdout(predicate::str::contains("Wrote collection.toml"));
    let spec = std::fs::read_to_string(dir.join("collection.toml")).unwrap();
    let artist = chrysalis_chain::wallet::read_keypair(&dir.join("keys/artist.json")).unwrap();
    use chrysalis_chain::Signer;
    let me = artist.pubkey().to_string();
    assert!(spec.contains(&format!("address = \"{me}\"")), "the starter spec pays the project's own wallet");
    let out = chrysalis().env("HOME", tmp.path()).args(["check", d, "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["steps"][4]["warning"].is_null(), "own wallet: no warning: {report}");

    // A stranger's address (here: the one the demo spec ships with) is pointed out.
    let stranger = "AQRPaiSTBjFWRB2p9goEdYQER8inVm9JJF13Ri2kjAtf";
    std::fs::write(dir.join("collection.toml"), spec.replace(&me, stranger)).unwrap();
    chrysalis()
        .env("HOME", tmp.path())
        .args(["check", d])
        .assert()
        .success()
        .stdout(predicate::str::contains("WARN"))
        .stdout(predicate::str::contains(stranger))
        .stdout(predicate::str::contains("not confirmed"));
    chrysalis()
        .env("HOME", tmp.path())
        .args(["creators", d])
        .assert()
        .success()
        .stdout(predicate::str::contains("NOT CONFIRMED"));
    chrysalis()
        .env("HOME", tmp.path())
        .args(["creators", d, "--confirm", stranger])
        .assert()
        .success()
        .stdout(predicate::str::contains("confirmed: confirmed"));
    let out = chrysalis().env("HOME", tmp.path()).args(["check", d, "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["steps"][4]["warning"].is_null(), "confirmed: {report}");
    // --creator names it explicitly; --no-collection writes none.
    let other = tmp.path().join("other");
    chrysalis().args(["init", other.to_str().unwrap(), "--creator", stranger]).assert().success();
    assert!(std::fs::read_to_string(other.join("collection.toml")).unwrap().contains(stranger));
    let bare = tmp.path().join("bare");
    chrysalis().args(["init", bare.to_str().unwrap(), "--no-collection"]).assert().success();
    assert!(!bare.join("collection.toml").exists());
}
