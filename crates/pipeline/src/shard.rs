//! Generating one collection on several machines.
//!
//! Every item's seed and recipes derive from the collection seed and its index, so any
//! machine with the same `collection.toml` (and model) makes exactly the same bytes for an
//! item. A collection is split by index: shard `K/N` makes the items `i` with `i mod N = K`
//! (`chrysalis publish --only generate --shard K/N`, images only: the metadata needs every
//! image's folder CID). [`crate::merge::import`] then merges a shard's images into the project, checking
//! each one against the recipe the project plans for it, and the next `publish` keeps them
//! all and writes the metadata: the folder CIDs equal those of a single-machine run.
//!
//! This file holds the split ([`Shard`]); the merge is [`crate::merge`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Shard `index` of `count`: the items whose index is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether item `item` belongs to this shard.
    pub fn includes(&self, item: u32) -> bool {
        item % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a shard: write K/N, e.g. 0/3 for the first of three machines");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(format!("shard {s:?}: K must be from 0 to N-1 (0/{count} … {}/{count})", count.max(1) - 1));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_every_index_once() {
        let shards: Vec<Shard> = ["0/3", "1/3", "2/3"].iter().map(|s| s.parse().unwrap()).collect();
        for i in 0..30 {
            assert_eq!(shards.iter().filter(|s| s.includes(i)).count(), 1, "item {i}");
        }
        assert_eq!(shards[2].to_string(), "2/3");
        for bad in ["3/3", "1", "a/b", "0/0", "-1/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
