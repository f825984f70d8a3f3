//! Which parts of `rust-unixfs` 0.6 agree with Kubo? We build our own DAGs (see
//! `src/importer.rs`); this test records, against our Kubo-checked importer, what the crate
//! gets right and where it differs, so the choice can be revisited when it changes.
//!
//! Found (rust-unixfs 0.6.0):
//! - files, `FileAdder` with `Chunker::Size` and `BalancedCollector::with_branching_factor`:
//!   same CIDs as Kubo for CIDv0 dag-pb leaves and CIDv1 raw leaves, single- and multi-level
//!   balanced trees, 174 or 1024 links — so its tree shape is right. It returns blocks as
//!   owned `Vec`s per push and has no progress, cancellation or hidden-file handling.
//! - folders, `BufferingTreeBuilder`: same CIDs for plain and HAMT-sharded directories with
//!   Kubo's default names+CIDs estimate (`>` 256 KiB, as current Kubo), but it has no
//!   block-bytes estimate, so `unixfs-v1-2025` folders near the threshold can differ; it
//!   buffers the whole tree in memory and knows no symlinks.

use chrysalis_storage::testdata::{PseudoRandom, write_folder};
use chrysalis_storage::{Cid, Importer, Layout, cid_of_dir};
use rust_unixfs::dir::builder::{BufferingTreeBuilder, TreeOptions};
use rust_unixfs::file::adder::{BalancedCollector, Chunker, FileAdder};
use std::io::Read;

fn theirs(data: &[u8], version: cid::Version, chunk: usize, links: usize) -> Cid {
    let mut adder = FileAdder::builder()
        .with_cid_version(version)
        .with_chunker(Chunker::Size(chunk))
        .with_collector(BalancedCollector::with_branching_factor(links))
        .build();
    let mut last = None;
    let mut rest = data;
    while !rest.is_empty() {
        let (blocks, used) = adder.push(rest);
        last = blocks.last().map(|b| b.0).or(last);
        rest = &rest[used..];
    }
    adder.finish().last().map(|b| b.0).or(last).expect("a root")
}

fn ours(data: &[u8], layout: Layout, chunk: usize, links: usize) -> Cid {
    let mut r = data;
    Importer::new(layout).tree_shape(chunk, links).add_reader(&mut r, data.len() as u64).unwrap().cid
}

#[test]
fn rust_unixfs_files_agree_with_kubo_shapes() {
    let chunk = 64;
    for links in [174usize, 1024] {
        let full = links * chunk;
        let mut sizes = vec![0, 1, chunk, chunk + 1, full, full + 1, 3 * full + 17];
        if links == 174 {
            sizes.push(links * full + 1); // three levels
        }
        for n in sizes {
            let mut data = Vec::new();
            PseudoRandom::new(n as u64, n as u64).read_to_end(&mut data).unwrap();
            for (layout, version) in [(Layout::V0, cid::Version::V0), (Layout::V1, cid::Version::V1)] {
                assert_eq!(
                    theirs(&data, version, chunk, links),
                    ours(&data, layout, chunk, links),
                    "{n} bytes, {links} links, {layout}"
                );
            }
        }
    }
}

fn theirs_dir(dir: &std::path::Path, version: cid::Version) -> Cid {
    let mut opts = TreeOptions::default();
    opts.cid_version(version);
    let mut builder = BufferingTreeBuilder::new(opts);
    let layout = if version == cid::Version::V0 { Layout::V0 } else { Layout::V1 };
    let mut names: Vec<_> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    for name in names {
        let added = chrysalis_storage::cid_of_file(&dir.join(&name), layout).unwrap();
        builder.put_link(&format!("root/{name}"), added.cid, added.dag_size).unwrap();
    }
    let mut root = None;
    for node in builder.build() {
        let node = node.unwrap();
        if node.path == "root" {
            root = Some(node.cid);
        }
    }
    root.expect("a root")
}

#[test]
fn rust_unixfs_folders_agree_with_kubo_for_the_default_estimate() {
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("small");
    write_folder(&small, 3, |i| 10 * i as u64).unwrap();
    let big = tmp.path().join("big");
    write_folder(&big, 7000, |_| 5).unwrap();
    for (layout, version) in [(Layout::V0, cid::Version::V0), (Layout::V1, cid::Version::V1)] {
        assert_eq!(theirs_dir(&small, version), cid_of_dir(&small, layout).unwrap().cid, "{layout}");
        assert_eq!(theirs_dir(&big, version), cid_of_dir(&big, layout).unwrap().cid, "{layout} sharded");
    }
}
