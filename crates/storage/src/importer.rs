//! UnixFS importing: files and folders to blocks and CIDs, exactly as Kubo builds them.
//!
//! Files are cut by a fixed-size chunker into leaves (raw blocks, or dag-pb UnixFS File
//! nodes for [`Layout::V0`]) and linked into Kubo's *balanced* tree: nodes of at most
//! `max_links` children, every subtree full except the rightmost, the tree as shallow as the
//! leaf count allows. The tree is built bottom-up while reading, holding one partial node per
//! level, so memory stays constant whatever the file's size.
//!
//! Folders become UnixFS directories (links sorted by name); a directory past the layout's
//! size threshold becomes a HAMT shard (see [`crate::hamt`]). Inside folders, symbolic links
//! are stored as UnixFS symlinks, as `ipfs add -r` does. Hidden entries (names starting
//! with `.`) are skipped unless asked for, as `ipfs add -r` does without `--hidden`.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use chrysalis_core::{CancelToken, Progress};
use cid::{Cid, Version};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::block::{DAG_PB, RAW, cid_for, cid_from_digest};
use crate::dag::{LinkInfo, NodeWriter};
use crate::error::StorageError;
use crate::layout::{HAMT_THRESHOLD_BYTES, Layout, ShardEstimation};
use crate::pb::{self, DataType, UnixFsOut};

/// Receives every block an import makes, children before parents.
pub trait BlockSink {
    /// Whether the sink needs the blocks' bytes. A CID-only import says no, and leaves are
    /// then hashed in place without being assembled.
    fn wants_blocks(&self) -> bool {
        true
    }

    fn put(&mut self, cid: &Cid, block: &[u8]) -> Result<(), StorageError>;
}

/// A sink that keeps nothing: CIDs only (`ipfs add --only-hash`).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl BlockSink for NullSink {
    fn wants_blocks(&self) -> bool {
        false
    }

    fn put(&mut self, _: &Cid, _: &[u8]) -> Result<(), StorageError> {
        Ok(())
    }
}

/// Collects blocks in memory (tests, small imports).
impl BlockSink for Vec<crate::Block> {
    fn put(&mut self, cid: &Cid, block: &[u8]) -> Result<(), StorageError> {
        self.push(crate::Block { cid: *cid, data: block.to_vec() });
        Ok(())
    }
}

/// What a path turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
}

/// The result of an import: the root CID and the layout that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Added {
    #[serde(with = "cid_string")]
    pub cid: Cid,
    pub layout: Layout,
    pub kind: EntryKind,
    /// Bytes of file content (a folder: of all its files).
    pub size: u64,
    /// Cumulative size of the DAG's blocks: the `Tsize` a parent link to this root carries.
    pub dag_size: u64,
    /// Files in it (1 for a file).
    pub files: u64,
}

/// Serializes a [`Cid`] as its canonical string (base58btc for v0, base32 for v1).
pub mod cid_string {
    use cid::Cid;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(cid: &Cid, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(cid)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cid, D::Error> {
        let s = String::deserialize(d)?;
        Cid::try_from(s.as_str()).map_err(D::Error::custom)
    }
}

/// The CID of a file, as `ipfs add -Qn FILE` with `layout`'s settings.
pub fn cid_of_file(path: &Path, layout: Layout) -> Result<Added, StorageError> {
    Importer::new(layout).add_file(path)
}

/// The CID of a folder, as `ipfs add -Qnr DIR` with `layout`'s settings (hidden entries
/// skipped, as without `--hidden`).
pub fn cid_of_dir(path: &Path, layout: Layout) -> Result<Added, StorageError> {
    Importer::new(layout).add_dir(path)
}

/// The CID of a file or a folder.
pub fn cid_of_path(path: &Path, layout: Layout) -> Result<Added, StorageError> {
    Importer::new(layout).add_path(path)
}

/// The CID of bytes in memory, as a file.
pub fn cid_of_bytes(data: &[u8], layout: Layout) -> Cid {
    let mut reader = data;
    Importer::new(layout).add_reader(&mut reader, data.len() as u64).expect("reading from memory cannot fail").cid
}

/// The CID of everything `reader` yields, as a file, read in constant memory.
pub fn cid_of_reader(reader: &mut dyn Read, layout: Layout) -> Result<Added, StorageError> {
    Importer::new(layout).add_reader(reader, 0)
}

/// An import with options: where blocks go, progress in bytes, cancellation, hidden files.
pub struct Importer<'a> {
    layout: Layout,
    include_hidden: bool,
    sink: Option<&'a mut dyn BlockSink>,
    on_progress: Option<&'a mut dyn FnMut(&Progress)>,
    cancel: Option<&'a CancelToken>,
    /// Chunk size and links per node when not the layout's (tests of deep trees only).
    shape: Option<(usize, usize)>,
    done: u64,
    total: u64,
    buf: Vec<u8>,
    block: Vec<u8>,
}

impl<'a> Importer<'a> {
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            include_hidden: false,
            sink: None,
            on_progress: None,
            cancel: None,
            shape: None,
            done: 0,
            total: 0,
            buf: Vec::new(),
            block: Vec::new(),
        }
    }

    /// Where every block goes (default: nowhere, CIDs only).
    pub fn sink(mut self, sink: &'a mut dyn BlockSink) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Called after each chunk with bytes done / bytes in all (0 when unknown).
    pub fn on_progress(mut self, f: &'a mut dyn FnMut(&Progress)) -> Self {
        self.on_progress = Some(f);
        self
    }

    /// Checked after each chunk; a cancelled import returns [`StorageError::Cancelled`].
    pub fn cancel(mut self, token: &'a CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Include entries whose names start with `.` (`ipfs add --hidden`).
    pub fn include_hidden(mut self, yes: bool) -> Self {
        self.include_hidden = yes;
        self
    }

    /// Overrides the chunk size and links per node, keeping the layout's other settings: only
    /// to test deep trees with small files (the result is no longer the layout's CID).
    #[doc(hidden)]
    pub fn tree_shape(mut self, chunk_size: usize, max_links: usize) -> Self {
        assert!(chunk_size > 0 && max_links > 1, "chunks must hold bytes and nodes two links");
        self.shape = Some((chunk_size, max_links));
        self
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// A file or a folder (a symbolic link given here is followed).
    pub fn add_path(self, path: &Path) -> Result<Added, StorageError> {
        let meta = fs::metadata(path).map_err(|e| not_found_or(path, e))?;
        if meta.is_dir() { self.add_dir(path) } else { self.add_file(path) }
    }

    pub fn add_file(mut self, path: &Path) -> Result<Added, StorageError> {
        let meta = fs::metadata(path).map_err(|e| not_found_or(path, e))?;
        if meta.is_dir() {
            return Err(StorageError::Unsupported {
                path: path.to_path_buf(),
                reason: "it is a folder, not a file".into(),
            });
        }
        if !meta.is_file() {
            return Err(StorageError::Unsupported {
                path: path.to_path_buf(),
                reason: "it is not a regular file (a device, socket or pipe)".into(),
            });
        }
        self.total = meta.len();
        let label = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let root = self.file_at(path, &label)?;
        self.report(&label, true);
        Ok(Added {
            cid: root.cid,
            layout: self.layout,
            kind: EntryKind::File,
            size: root.filesize,
            dag_size: root.tsize,
            files: 1,
        })
    }

    pub fn add_dir(mut self, path: &Path) -> Result<Added, StorageError> {
        let meta = fs::metadata(path).map_err(|e| not_found_or(path, e))?;
        if !meta.is_dir() {
            return Err(StorageError::Unsupported {
                path: path.to_path_buf(),
                reason: "it is a file, not a folder".into(),
            });
        }
        let tree = walk_dir(path, self.include_hidden)?;
        self.total = tree.bytes;
        let files = tree.files;
        let root = self.dir_node(path, "", &tree)?;
        self.report("", true);
        Ok(Added {
            cid: root.cid,
            layout: self.layout,
            kind: EntryKind::Directory,
            size: root.filesize,
            dag_size: root.tsize,
            files,
        })
    }

    /// Everything `reader` yields, as one file. `size_hint` (0 if unknown) is the progress
    /// total.
    pub fn add_reader(mut self, reader: &mut dyn Read, size_hint: u64) -> Result<Added, StorageError> {
        self.total = size_hint;
        let root = self.file(reader, Path::new("<stream>"), "")?;
        self.report("", true);
        Ok(Added {
            cid: root.cid,
            layout: self.layout,
            kind: EntryKind::File,
            size: root.filesize,
            dag_size: root.tsize,
            files: 1,
        })
    }

    // ------------------------------------------------------------ files

    fn file_at(&mut self, path: &Path, label: &str) -> Result<LinkInfo, StorageError> {
        let mut f = fs::File::open(path).map_err(|e| not_found_or(path, e))?;
        self.file(&mut f, path, label)
    }

    fn file(&mut self, reader: &mut dyn Read, path: &Path, label: &str) -> Result<LinkInfo, StorageError> {
        let (chunk, max_links) = self.shape.unwrap_or((self.layout.chunk_size(), self.layout.max_links()));
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(chunk, 0);
        let mut levels: Vec<Vec<LinkInfo>> = vec![Vec::new()];
        let mut leaves = 0u64;
        let result = (|| {
            loop {
                if let Some(c) = self.cancel {
                    c.check()?;
                }
                let n = read_full(reader, &mut buf).map_err(StorageError::io(path))?;
                if n == 0 && leaves > 0 {
                    break;
                }
                let leaf = self.leaf(&buf[..n])?;
                leaves += 1;
                self.done += n as u64;
                self.report(label, false);
                self.push_link(&mut levels, 0, leaf, max_links)?;
                if n < chunk {
                    break;
                }
            }
            self.finish_file(levels)
        })();
        self.buf = buf;
        result
    }

    fn leaf(&mut self, data: &[u8]) -> Result<LinkInfo, StorageError> {
        let n = data.len() as u64;
        let wants = self.sink.as_ref().is_some_and(|s| s.wants_blocks());
        if self.layout.raw_leaves() {
            let cid = cid_for(Version::V1, RAW, data);
            if wants {
                self.put(&cid, data)?;
            }
            return Ok(LinkInfo { cid, tsize: n, filesize: n });
        }
        // dag-pb PBNode { Data: UnixFS { Type: File, Data: data?, filesize: n } }, hashed in
        // three parts so the chunk is never copied.
        let data_field = if n > 0 { 1 + pb::varint_len(n) + data.len() } else { 0 };
        let inner = 2 + data_field + 1 + pb::varint_len(n);
        let mut head = Vec::with_capacity(16);
        head.push(0x0a);
        pb::put_varint(&mut head, inner as u64);
        head.extend_from_slice(&[0x08, DataType::File as u8]);
        if n > 0 {
            head.push(0x12);
            pb::put_varint(&mut head, n);
        }
        let mut tail = Vec::with_capacity(11);
        tail.push(0x18);
        pb::put_varint(&mut tail, n);
        let mut h = Sha256::new();
        h.update(&head);
        h.update(data);
        h.update(&tail);
        let cid = cid_from_digest(self.layout.cid_version(), DAG_PB, h.finalize().into());
        let tsize = (head.len() + data.len() + tail.len()) as u64;
        if wants {
            let mut block = std::mem::take(&mut self.block);
            block.clear();
            block.extend_from_slice(&head);
            block.extend_from_slice(data);
            block.extend_from_slice(&tail);
            let r = self.put(&cid, &block);
            self.block = block;
            r?;
        }
        Ok(LinkInfo { cid, tsize, filesize: n })
    }

    fn push_link(
        &mut self,
        levels: &mut Vec<Vec<LinkInfo>>,
        level: usize,
        link: LinkInfo,
        max: usize,
    ) -> Result<(), StorageError> {
        if levels.len() <= level {
            levels.push(Vec::new());
        }
        levels[level].push(link);
        if levels[level].len() == max {
            let links = std::mem::take(&mut levels[level]);
            let node = self.file_node(&links)?;
            self.push_link(levels, level + 1, node, max)?;
        }
        Ok(())
    }

    /// Closes the partial nodes bottom-up: the result is Kubo's balanced tree, whose every
    /// subtree is full but the last and whose depth is the least that holds every leaf.
    fn finish_file(&mut self, mut levels: Vec<Vec<LinkInfo>>) -> Result<LinkInfo, StorageError> {
        let mut i = 0;
        loop {
            let top = i + 1 == levels.len();
            if top && levels[i].len() == 1 {
                return Ok(levels[i][0]);
            }
            if !levels[i].is_empty() {
                let links = std::mem::take(&mut levels[i]);
                let node = self.file_node(&links)?;
                if top {
                    levels.push(Vec::new());
                }
                levels[i + 1].push(node);
            }
            i += 1;
        }
    }

    fn file_node(&mut self, links: &[LinkInfo]) -> Result<LinkInfo, StorageError> {
        let sizes: Vec<u64> = links.iter().map(|l| l.filesize).collect();
        let filesize: u64 = sizes.iter().sum();
        let data = UnixFsOut {
            kind: Some(DataType::File),
            filesize: Some(filesize),
            blocksizes: &sizes,
            ..Default::default()
        }
        .to_vec();
        self.dag_node(links.iter().map(|l| (&l.cid, "", l.tsize)), &data, filesize)
    }

    fn put(&mut self, cid: &Cid, block: &[u8]) -> Result<(), StorageError> {
        match self.sink.as_mut() {
            Some(sink) => sink.put(cid, block),
            None => Ok(()),
        }
    }

    fn report(&mut self, label: &str, finished: bool) {
        if let Some(f) = self.on_progress.as_mut() {
            let msg = if finished { "done".to_string() } else { label.to_string() };
            f(&Progress::new(self.done, self.total, msg));
        }
    }

    // ------------------------------------------------------------ folders

    fn dir_node(&mut self, path: &Path, rel: &str, tree: &DirTree) -> Result<LinkInfo, StorageError> {
        let mut links: Vec<(String, LinkInfo)> = Vec::with_capacity(tree.entries.len());
        for (name, node) in &tree.entries {
            let child_path = path.join(name);
            let child_rel = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let link = match node {
                Node::File => self.file_at(&child_path, &child_rel)?,
                Node::Dir(sub) => self.dir_node(&child_path, &child_rel, sub)?,
                Node::Symlink(target) => {
                    let data = UnixFsOut {
                        kind: Some(DataType::Symlink),
                        data: Some(target.as_bytes()),
                        ..Default::default()
                    }
                    .to_vec();
                    self.dag_node(std::iter::empty(), &data, 0)?
                }
            };
            links.push((name.clone(), link));
        }
        let filesize = links.iter().map(|(_, l)| l.filesize).sum();
        if self.must_shard(&links) {
            crate::hamt::build(self, links, filesize)
        } else {
            let data = UnixFsOut { kind: Some(DataType::Directory), ..Default::default() }.to_vec();
            self.dag_node(links.iter().map(|(n, l)| (&l.cid, n.as_str(), l.tsize)), &data, filesize)
        }
    }

    /// Kubo's rule: a plain directory becomes a HAMT when its estimated size is strictly
    /// greater than 256 KiB.
    fn must_shard(&self, links: &[(String, LinkInfo)]) -> bool {
        let estimate: usize = match self.layout.shard_estimation() {
            ShardEstimation::LinksBytes => links.iter().map(|(n, l)| n.len() + l.cid.encoded_len()).sum(),
            ShardEstimation::BlockBytes => {
                // The Data field of a plain directory (0a 02 08 01) plus every serialized link.
                4 + links
                    .iter()
                    .map(|(n, l)| pb::link_serialized_size(n.len(), l.cid.encoded_len(), l.tsize))
                    .sum::<usize>()
            }
        };
        estimate > HAMT_THRESHOLD_BYTES
    }
}

fn not_found_or(path: &Path, e: io::Error) -> StorageError {
    if e.kind() == io::ErrorKind::NotFound {
        StorageError::NotFound { path: path.to_path_buf() }
    } else {
        StorageError::Io { path: path.to_path_buf(), source: e }
    }
}

/// Reads until `buf` is full or the stream ends (Kubo's size splitter uses `io.ReadFull`).
fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

// ---------------------------------------------------------------- walking folders

enum Node {
    File,
    Dir(DirTree),
    Symlink(String),
}

struct DirTree {
    /// Sorted by name bytes, as dag-pb requires.
    entries: Vec<(String, Node)>,
    bytes: u64,
    files: u64,
}

fn walk_dir(path: &Path, include_hidden: bool) -> Result<DirTree, StorageError> {
    let mut entries = Vec::new();
    let (mut bytes, mut files) = (0u64, 0u64);
    let read = fs::read_dir(path).map_err(StorageError::io(path))?;
    for entry in read {
        let entry = entry.map_err(StorageError::io(path))?;
        let child: PathBuf = entry.path();
        let name = entry.file_name().into_string().map_err(|raw| StorageError::Unsupported {
            path: child.clone(),
            reason: format!("its name {raw:?} is not valid UTF-8, which UnixFS names must be"),
        })?;
        if !include_hidden && name.starts_with('.') {
            continue;
        }
        let ft = entry.file_type().map_err(StorageError::io(&child))?;
        let node = if ft.is_symlink() {
            let target = fs::read_link(&child).map_err(StorageError::io(&child))?;
            let target = target.into_os_string().into_string().map_err(|_| StorageError::Unsupported {
                path: child.clone(),
                reason: "it is a symbolic link whose target is not valid UTF-8".into(),
            })?;
            Node::Symlink(target)
        } else if ft.is_dir() {
            let sub = walk_dir(&child, include_hidden)?;
            bytes += sub.bytes;
            files += sub.files;
            Node::Dir(sub)
        } else if ft.is_file() {
            bytes += entry.metadata().map_err(StorageError::io(&child))?.len();
            files += 1;
            Node::File
        } else {
            return Err(StorageError::Unsupported {
                path: child,
                reason: "it is not a regular file, folder or symbolic link".into(),
            });
        };
        entries.push((name, node));
    }
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(DirTree { entries, bytes, files })
}

impl NodeWriter for Importer<'_> {
    fn dag_node<'l>(
        &mut self,
        links: impl Iterator<Item = (&'l Cid, &'l str, u64)> + Clone,
        data: &[u8],
        filesize: u64,
    ) -> Result<LinkInfo, StorageError> {
        let children: u64 = links.clone().map(|(_, _, t)| t).sum();
        let mut block = std::mem::take(&mut self.block);
        block.clear();
        pb::encode_node(links, data, &mut block);
        let cid = cid_for(self.layout.cid_version(), DAG_PB, &block);
        let tsize = block.len() as u64 + children;
        let r = self.put(&cid, &block);
        self.block = block;
        r?;
        Ok(LinkInfo { cid, tsize, filesize })
    }
}
