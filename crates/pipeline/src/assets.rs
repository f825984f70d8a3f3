//! Files the pipeline ships inside the binary. A leaf: it imports nothing of the crate, so
//! any module can use it (the demo runs it, `creators` makes a starter spec of it).

/// The demo collection's spec (12 items, 3 stages, procedural), as shipped in
/// `assets/demo/collection.toml`.
pub const DEMO_SPEC: &str = include_str!("../../../assets/demo/collection.toml");
