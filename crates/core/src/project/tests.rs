use std::collections::BTreeMap;

use super::*;

/// Every file under `dir` with its bytes, to prove a refused open changed nothing.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.clone(), fs::read(&p).unwrap()))
        .collect()
}

fn set_user_version(dir: &Path, version: u32) {
    let conn = Connection::open(dir.join(DATABASE_FILE)).unwrap();
    conn.execute_batch(&format!("PRAGMA user_version = {version}")).unwrap();
}

#[test]
fn create_then_open_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("my-collection");
    let created = Project::create(&dir, None).unwrap();
    assert_eq!(created.name(), "my-collection");
    let info = created.info().unwrap();
    drop(created);

    let opened = Project::open(&dir).unwrap();
    assert_eq!(opened.info().unwrap(), info);
    assert_eq!(info.schema_version, migrations::latest_version());
    assert_eq!(info.root, dir.canonicalize().unwrap().display().to_string());
    assert!(info.created.ends_with('Z'), "{}", info.created);
}

#[test]
fn database_uses_wal_and_foreign_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let project = Project::create(tmp.path(), Some("p")).unwrap();
    let mode: String = project.db().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let fk: bool = project.db().query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
    assert!(fk);
    drop(project);
    let reopened = Project::open(tmp.path()).unwrap();
    let fk: bool = reopened.db().query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
    assert!(fk, "foreign keys must be on for every connection, not only the first");
}

#[test]
fn explicit_name_is_trimmed_and_validated() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Project::create(&tmp.path().join("a"), Some("  Moths of Night  ")).unwrap();
    assert_eq!(p.name(), "Moths of Night");
    for bad in ["", "   ", "bad\nname", &"x".repeat(65)] {
        let err = Project::create(&tmp.path().join("b"), Some(bad)).unwrap_err();
        assert_eq!(err.kind(), "invalid_name", "{bad:?}: {err}");
        assert!(!tmp.path().join("b").join(CONFIG_FILE).exists());
    }
}

#[test]
fn creating_twice_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    Project::create(tmp.path(), Some("p")).unwrap();
    let err = Project::create(tmp.path(), Some("q")).unwrap_err();
    assert_eq!(err.kind(), "already_project");
    assert_eq!(Project::open(tmp.path()).unwrap().name(), "p");
}

#[test]
fn create_on_a_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("f");
    fs::write(&file, b"x").unwrap();
    assert_eq!(Project::create(&file, None).unwrap_err().kind(), "not_a_directory");
}

#[test]
fn interrupted_create_can_be_repeated() {
    // A create killed after the database but before chrysalis.toml leaves no project.
    let tmp = tempfile::tempdir().unwrap();
    Project::create(tmp.path(), Some("p")).unwrap();
    fs::remove_file(tmp.path().join(CONFIG_FILE)).unwrap();
    assert_eq!(Project::open(tmp.path()).unwrap_err().kind(), "not_a_project");
    let again = Project::create(tmp.path(), Some("p")).unwrap();
    assert_eq!(again.info().unwrap().schema_version, migrations::latest_version());
}

#[test]
fn open_refuses_a_folder_that_is_not_a_project() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("notes.txt"), b"hello").unwrap();
    let before = snapshot(tmp.path());
    let err = Project::open(tmp.path()).unwrap_err();
    assert_eq!(err.kind(), "not_a_project");
    assert!(err.to_string().contains("create a project there"), "{err}");
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn open_refuses_a_missing_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Project::open(&tmp.path().join("nope")).unwrap_err();
    assert_eq!(err.kind(), "not_found");
    assert!(!tmp.path().join("nope").exists());
}

#[test]
fn open_refuses_a_missing_database_without_recreating_it() {
    let tmp = tempfile::tempdir().unwrap();
    Project::create(tmp.path(), Some("p")).unwrap();
    fs::remove_file(tmp.path().join(DATABASE_FILE)).unwrap();
    let err = Project::open(tmp.path()).unwrap_err();
    assert_eq!(err.kind(), "missing_database");
    assert!(!tmp.path().join(DATABASE_FILE).exists());
}

#[test]
fn open_refuses_a_newer_schema_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    Project::create(tmp.path(), Some("p")).unwrap();
    let newer = migrations::latest_version() + 1;
    set_user_version(tmp.path(), newer);
    let before = snapshot(tmp.path());
    let err = Project::open(tmp.path()).unwrap_err();
    match &err {
        ProjectError::SchemaTooNew { found, supported, .. } => {
            assert_eq!((*found, *supported), (newer, migrations::latest_version()));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert!(err.to_string().contains("update Chrysalis"), "{err}");
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn open_refuses_garbage_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    Project::create(tmp.path(), Some("p")).unwrap();
    fs::write(tmp.path().join(DATABASE_FILE), b"this is not a database, it is a grocery list\n".repeat(200)).unwrap();
    let before = snapshot(tmp.path());
    let err = Project::open(tmp.path()).unwrap_err();
    assert_eq!(err.kind(), "corrupt", "{err}");
    assert!(err.to_string().contains(DATABASE_FILE), "{err}");
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn open_refuses_damaged_pages_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let project = Project::create(tmp.path(), Some("p")).unwrap();
    for i in 0..2000 {
        project.journal("filler", &serde_json::json!({ "i": i, "pad": "x".repeat(100) })).unwrap();
    }
    drop(project); // checkpoints the WAL into the main file
    let db = tmp.path().join(DATABASE_FILE);
    let mut bytes = fs::read(&db).unwrap();
    assert!(bytes.len() > 8 * 4096);
    // Keep the header (page 1) intact, smash interior pages.
    for b in &mut bytes[4096 * 2..4096 * 6] {
        *b = 0xA5;
    }
    fs::write(&db, &bytes).unwrap();
    let before = snapshot(tmp.path());
    let err = Project::open(tmp.path()).unwrap_err();
    assert_eq!(err.kind(), "corrupt", "{err}");
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn open_refuses_bad_settings_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    Project::create(tmp.path(), Some("p")).unwrap();
    let cfg = tmp.path().join(CONFIG_FILE);
    fs::write(&cfg, "[project]\nname = 3\n").unwrap();
    let err = Project::open(tmp.path()).unwrap_err();
    assert_eq!(err.kind(), "bad_config");
    assert!(err.to_string().contains(CONFIG_FILE), "{err}");

    fs::write(&cfg, "[project]\nname = \"p\"\nformat = 99\ncreated = \"x\"\nshiny = true\n").unwrap();
    let err = Project::open(tmp.path()).unwrap_err();
    assert_eq!(err.kind(), "config_too_new", "{err}");
}

#[test]
fn older_schema_is_upgraded_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    // A database from before any migration: an empty file SQLite created.
    fs::write(
        tmp.path().join(CONFIG_FILE),
        format!("[project]\nname = \"old\"\nformat = {CONFIG_FORMAT}\ncreated = \"2026-01-01T00:00:00Z\"\n"),
    )
    .unwrap();
    Connection::open(tmp.path().join(DATABASE_FILE)).unwrap().execute_batch("CREATE TABLE t(x)").unwrap();
    let project = Project::open(tmp.path()).unwrap();
    assert_eq!(project.info().unwrap().schema_version, migrations::latest_version());
    let kinds: Vec<String> = project
        .db()
        .prepare("SELECT kind FROM journal")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kinds, ["project.migrated"]);
}

#[test]
fn check_reports_progress_and_passes_on_a_healthy_project() {
    let tmp = tempfile::tempdir().unwrap();
    let project = Project::create(tmp.path(), Some("p")).unwrap();
    let mut seen = Vec::new();
    let report = project.check(&mut |p| seen.push(p.clone()), &CancelToken::new()).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.steps.len(), 4);
    assert_eq!(seen.first().unwrap().step, 0);
    let last = seen.last().unwrap();
    assert_eq!((last.step, last.total), (4, 4));
    assert!(seen.windows(2).all(|w| w[0].step <= w[1].step));
}

#[test]
fn check_finds_an_edited_settings_file_and_a_tampered_history() {
    let tmp = tempfile::tempdir().unwrap();
    let project = Project::create(tmp.path(), Some("p")).unwrap();
    fs::write(tmp.path().join(CONFIG_FILE), "nonsense").unwrap();
    project.db().execute("DELETE FROM schema_migrations", []).unwrap();
    let report = project.check(&mut |_| {}, &CancelToken::new()).unwrap();
    assert!(!report.ok);
    let failed: Vec<&str> = report.steps.iter().filter(|s| !s.ok).map(|s| s.name.as_str()).collect();
    assert_eq!(failed, ["settings", "schema history"]);
}

#[test]
fn check_stops_when_cancelled() {
    let tmp = tempfile::tempdir().unwrap();
    let project = Project::create(tmp.path(), Some("p")).unwrap();
    let cancel = CancelToken::new();
    let mut steps = 0;
    let err = project
        .check(
            &mut |_| {
                steps += 1;
                if steps == 2 {
                    cancel.cancel();
                }
            },
            &cancel,
        )
        .unwrap_err();
    assert_eq!(err.kind(), "cancelled");
    assert_eq!(steps, 2, "no check may start after cancellation");
}
