//! `chrysalis cid`, `store` and `car`, run as a user runs them.

use assert_cmd::Command;
use predicates::prelude::*;

fn chrysalis() -> Command {
    let mut cmd = Command::cargo_bin("chrysalis").unwrap();
    cmd.env_remove("RUST_LOG");
    cmd
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn cid_prints_kubos_cid_for_each_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.txt");
    std::fs::write(&f, b"a").unwrap();
    let cid = |layout: &str| stdout_of(chrysalis().args(["cid", f.to_str().unwrap(), "--layout", layout]));
    assert_eq!(cid("v0"), "QmfDmsHTywy6L9Ne5RXsj5YumDedfBLMvCvmaxjBoe6w4d\n");
    assert_eq!(cid("v1"), "bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm\n");
    assert_eq!(cid("v1-2025"), "bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm\n");
    // the default is Kubo's default
    assert_eq!(stdout_of(chrysalis().args(["cid", f.to_str().unwrap()])), cid("v0"));

    let json: serde_json::Value = serde_json::from_str(&stdout_of(chrysalis().args([
        "cid",
        tmp.path().to_str().unwrap(),
        "--layout",
        "v1",
        "--json",
    ])))
    .unwrap();
    assert_eq!(json["kind"], "directory");
    assert_eq!(json["layout"], "v1");
    assert_eq!(json["size"], 1);
    assert!(json["cid"].as_str().unwrap().starts_with("bafybei"));
}

#[test]
fn cid_refuses_bad_input_clearly() {
    chrysalis().args(["cid", "/no/such/file"]).assert().failure().stderr(predicate::str::contains("/no/such/file"));
    chrysalis().args(["cid", ".", "--layout", "v9"]).assert().failure().stderr(predicate::str::contains("v1-2025"));
}

#[test]
fn store_add_cat_and_car_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    chrysalis().args(["init", a.to_str().unwrap()]).assert().success();
    chrysalis().args(["init", b.to_str().unwrap()]).assert().success();
    let stage = tmp.path().join("stage-0");
    std::fs::create_dir_all(stage.join("images")).unwrap();
    let big: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(stage.join("images/0.png"), &big).unwrap();
    std::fs::write(stage.join("0.json"), br#"{"name":"moth #0"}"#).unwrap();

    let added: serde_json::Value = serde_json::from_str(&stdout_of(chrysalis().args([
        "store",
        "add",
        stage.to_str().unwrap(),
        "--layout",
        "v1",
        "--project",
        a.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    let root = added["cid"].as_str().unwrap().to_string();
    assert_eq!(added["name"], "stage-0");
    assert_eq!(added["layout"], "v1");
    assert!(added["new_blocks"].as_u64().unwrap() >= 5);
    // it is the CID `cid` computes
    assert_eq!(stdout_of(chrysalis().args(["cid", stage.to_str().unwrap(), "--layout", "v1"])).trim(), root);
    // adding again writes nothing
    let again: serde_json::Value = serde_json::from_str(&stdout_of(chrysalis().args([
        "store",
        "add",
        stage.to_str().unwrap(),
        "--layout",
        "v1",
        "--project",
        a.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(again["new_blocks"], 0);

    let out = chrysalis()
        .args(["store", "cat", &format!("{root}/images/0.png"), "--project", a.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, big);

    let car = tmp.path().join("stage-0.car");
    chrysalis()
        .args(["car", "export", &root, car.to_str().unwrap(), a.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(&root));
    let imported: serde_json::Value = serde_json::from_str(&stdout_of(chrysalis().args([
        "car",
        "import",
        car.to_str().unwrap(),
        b.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(imported["roots"][0], root.as_str());
    let out = chrysalis()
        .args(["store", "cat", &format!("ipfs://{root}/0.json"), "--project", b.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.stdout, br#"{"name":"moth #0"}"#);
    let roots = stdout_of(chrysalis().args(["store", "roots", "--project", b.to_str().unwrap()]));
    assert!(roots.contains(&root) && roots.contains("stage-0"), "{roots}");

    // a damaged CAR is refused, naming the bad block, and nothing is added
    let mut bytes = std::fs::read(&car).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x55;
    std::fs::write(&car, &bytes).unwrap();
    let c = tmp.path().join("c");
    chrysalis().args(["init", c.to_str().unwrap()]).assert().success();
    chrysalis()
        .args(["car", "import", car.to_str().unwrap(), c.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("does not match its CID"));
    chrysalis()
        .args(["store", "cat", &format!("{root}/0.json"), "--project", c.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("not in the local store"));
}
