//! Arweave path manifests (`application/x.arweave-manifest+json`): a transaction whose data
//! maps paths to transaction ids, so `ar://MANIFEST/3.json` resolves like `ipfs://CID/3.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The manifest's content type, which gateways look for.
pub const CONTENT_TYPE: &str = "application/x.arweave-manifest+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathEntry {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub path: String,
}

/// A manifest, version 0.2.0 (0.1.0 plus `fallback`; we never set it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexEntry>,
    pub paths: BTreeMap<String, PathEntry>,
}

impl Manifest {
    /// A manifest for `paths` (name inside the folder → transaction id). The index (what
    /// `ar://MANIFEST` alone shows) is `index.html`, else `index.json`, else the first path:
    /// some gateways (arlocal among them) resolve sub-paths only when an index is set.
    pub fn new(paths: impl IntoIterator<Item = (String, String)>) -> Manifest {
        let paths: BTreeMap<String, PathEntry> = paths.into_iter().map(|(p, id)| (p, PathEntry { id })).collect();
        let index = ["index.html", "index.json"]
            .iter()
            .find(|p| paths.contains_key(**p))
            .map(|p| p.to_string())
            .or_else(|| paths.keys().next().cloned())
            .map(|path| IndexEntry { path });
        Manifest { manifest: "arweave/paths".into(), version: "0.2.0".into(), index, paths }
    }

    /// The JSON bytes (keys sorted, so the same folder gives the same manifest).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest always serializes")
    }

    /// The transaction id `path` resolves to.
    pub fn resolve(&self, path: &str) -> Option<&str> {
        self.paths.get(path.trim_start_matches('/')).map(|e| e.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_paths() {
        let m = Manifest::new([("1.json".to_string(), "B".repeat(43)), ("0.json".to_string(), "A".repeat(43))]);
        assert_eq!(m.index.as_ref().unwrap().path, "0.json");
        assert_eq!(m.resolve("/1.json"), Some("B".repeat(43).as_str()));
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert!(
            text.starts_with(r#"{"manifest":"arweave/paths","version":"0.2.0","index":{"path":"0.json"}"#),
            "{text}"
        );
        let m = Manifest::new([("a.png".to_string(), "x".into()), ("index.html".to_string(), "y".into())]);
        assert_eq!(m.index.unwrap().path, "index.html");
    }
}
