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
    assert_eq!(report["steps"].as_array().unwrap().len(), 4);

    std::fs::write(tmp.path().join("chrysalis.toml"), "[project]\nname = \"renamed\"\nformat = 1\ncreated = \"x\"\n")
        .unwrap();
    // A changed settings file is still valid, so the project opens and checks clean.
    chrysalis().args(["check", dir]).assert().success().stdout(predicate::str::contains("settings"));
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
