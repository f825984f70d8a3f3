//! Who gets paid: the creator addresses in `collection.toml`, and whether the artist
//! confirmed each one.
//!
//! Mint proceeds and royalties are split to these addresses on chain, for good. An address
//! copied from an example or a friend's project pays someone else, so every address the
//! artist did not confirm is pointed out: by `chrysalis check`, by `chrysalis creators`, on
//! the app's Mint screen, and as a warning when publishing to a real network. The artist's
//! own wallets (the project's Sandbox wallet, the Solana CLI's default keypair) count as
//! confirmed without asking; any other address is confirmed once, explicitly, and the
//! project database remembers it (table `confirmed_creators`).
//!
//! A new project starts from [`write_starter_spec`]: the demo collection with the artist's
//! own wallet as its only creator, never someone else's address.

use std::path::Path;

use chrysalis_chain::wallet;
use chrysalis_chain::{Pubkey, Signer};
use chrysalis_core::Project;
use chrysalis_core::collection::spec::CollectionSpec;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::assets::DEMO_SPEC;
use super::chain::parse_pubkey;
use super::{PipelineError, SPEC_FILE, keys};

/// One creator of the spec, and whether the artist confirmed the address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CreatorStatus {
    pub address: String,
    pub share_bps: u32,
    pub confirmed: bool,
    /// How it was confirmed: `own wallet (Sandbox)`, `own wallet (Solana CLI)`, `init`,
    /// `confirmed`; `None` while it is not.
    #[cfg_attr(feature = "ts", ts(optional))]
    pub how: Option<String>,
}

/// The artist's own wallets that exist on this machine, with where each comes from.
pub fn own_wallets(project_root: &Path) -> Vec<(Pubkey, &'static str)> {
    let mut out = Vec::new();
    if let Some(k) = keys::pubkey_of(&keys::key_path(project_root, keys::ARTIST_KEY)) {
        out.push((k, "own wallet (Sandbox)"));
    }
    if let Some(k) = wallet::default_keypair_path().ok().and_then(|p| keys::pubkey_of(&p)) {
        out.push((k, "own wallet (Solana CLI)"));
    }
    out
}

/// Records `address` as confirmed by the artist (`how`: in words, e.g. `confirmed`).
pub fn confirm(project: &Project, address: &str, how: &str) -> Result<(), PipelineError> {
    project.require_writable("confirming a creator")?;
    let key = parse_pubkey(address.trim(), "the creator address")?;
    project.db().execute(
        "INSERT INTO confirmed_creators (address, how, confirmed_at) VALUES (?1, ?2, unixepoch())
         ON CONFLICT (address) DO NOTHING",
        params![key.to_string(), how],
    )?;
    Ok(())
}

/// Every creator of `spec` with its confirmation.
pub fn status(project: &Project, spec: &CollectionSpec) -> Result<Vec<CreatorStatus>, PipelineError> {
    let own = own_wallets(project.root());
    let mut out = Vec::with_capacity(spec.creators.len());
    for c in &spec.creators {
        let how = match own.iter().find(|(k, _)| k.to_string() == c.address) {
            Some((_, how)) => Some((*how).to_string()),
            None => project
                .db()
                .query_row("SELECT how FROM confirmed_creators WHERE address = ?1", params![c.address], |r| r.get(0))
                .optional()?,
        };
        out.push(CreatorStatus { address: c.address.clone(), share_bps: c.share_bps, confirmed: how.is_some(), how });
    }
    Ok(out)
}

/// The warning for `spec`'s unconfirmed creators, if any: what it means and what to do.
pub fn warning(project: &Project, spec: &CollectionSpec) -> Result<Option<String>, PipelineError> {
    let unconfirmed: Vec<String> = status(project, spec)?
        .into_iter()
        .filter(|c| !c.confirmed)
        .map(|c| format!("{} ({} %)", c.address, f64::from(c.share_bps) / 100.0))
        .collect();
    if unconfirmed.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "{} creator address{} in collection.toml {} not confirmed as yours or a collaborator's: {}. Mint proceeds and royalties are paid to {} on chain; if you do not know {}, replace {} with your own wallet, else confirm with `chrysalis creators --confirm ADDRESS` (or on the Mint screen)",
        unconfirmed.len(),
        if unconfirmed.len() == 1 { "" } else { "es" },
        if unconfirmed.len() == 1 { "is" } else { "are" },
        unconfirmed.join(", "),
        if unconfirmed.len() == 1 { "it" } else { "them" },
        if unconfirmed.len() == 1 { "it" } else { "them" },
        if unconfirmed.len() == 1 { "it" } else { "them" },
    )))
}

/// The starter `collection.toml` of a new project: the demo collection (12 items, 3 stages,
/// procedural) with `creator` as its only creator.
pub fn starter_spec(creator: &Pubkey) -> String {
    let demo = CollectionSpec::from_toml(DEMO_SPEC).expect("the demo spec parses");
    let placeholder = format!("\"{}\"", demo.creators[0].address);
    DEMO_SPEC.replacen(&placeholder, &format!("\"{creator}\""), 1)
}

/// The artist's own wallet, to pay in a new spec: the Solana CLI's default keypair when
/// there is one, else the project's Sandbox wallet (made now if it does not exist yet).
pub fn artist_wallet(project_root: &Path) -> Result<Pubkey, PipelineError> {
    match wallet::default_keypair_path().ok().and_then(|p| keys::pubkey_of(&p)) {
        Some(k) => Ok(k),
        None => Ok(keys::load_or_create(&keys::key_path(project_root, keys::ARTIST_KEY))?.pubkey()),
    }
}

/// Writes the starter spec into `project` unless it already has a `collection.toml`, with
/// `creator`, or else the artist's own wallet (the Solana CLI's default keypair when there
/// is one, else the project's Sandbox wallet, made now), as its only creator, confirmed.
/// Returns the creator, or `None` when a spec was already there (never overwritten).
pub fn write_starter_spec(project: &Project, creator: Option<&str>) -> Result<Option<Pubkey>, PipelineError> {
    let path = project.root().join(SPEC_FILE);
    if path.exists() {
        return Ok(None);
    }
    let creator = match creator {
        Some(text) => parse_pubkey(text.trim(), "--creator")?,
        None => artist_wallet(project.root())?,
    };
    confirm(project, &creator.to_string(), "init")?;
    let text = starter_spec(&creator);
    chrysalis_art::png_meta::write_atomic(&path, text.as_bytes())
        .map_err(|e| PipelineError::Io { path: path.clone(), source: std::io::Error::other(e.to_string()) })?;
    Ok(Some(creator))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_spec_pays_only_the_artist() {
        let me = Pubkey::new_unique();
        let text = starter_spec(&me);
        let spec = CollectionSpec::from_toml(&text).unwrap();
        assert!(spec.validate().is_empty(), "{:?}", spec.validate());
        assert_eq!(spec.creators.len(), 1);
        assert_eq!(spec.creators[0].address, me.to_string());
        assert_eq!(spec.creators[0].share_bps, 10_000);
        let demo = CollectionSpec::from_toml(DEMO_SPEC).unwrap();
        assert!(!text.contains(&demo.creators[0].address), "no stranger's address is left");
    }

    #[test]
    fn unconfirmed_creators_are_named_until_confirmed() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::create(dir.path(), Some("p")).unwrap();
        let stranger = Pubkey::new_unique().to_string();
        let mut spec = CollectionSpec::from_toml(DEMO_SPEC).unwrap();
        spec.creators[0].address = stranger.clone();
        let said = warning(&project, &spec).unwrap().expect("a stranger is not confirmed");
        assert!(said.contains(&stranger) && said.contains("100 %") && said.contains("--confirm"), "{said}");
        confirm(&project, &stranger, "confirmed").unwrap();
        assert_eq!(warning(&project, &spec).unwrap(), None);
        assert_eq!(status(&project, &spec).unwrap()[0].how.as_deref(), Some("confirmed"));
        assert!(confirm(&project, "not an address", "confirmed").is_err());

        // The project's own Sandbox wallet counts without asking.
        let own = keys::load_or_create(&keys::key_path(project.root(), keys::ARTIST_KEY)).unwrap();
        spec.creators[0].address = own.pubkey().to_string();
        assert_eq!(warning(&project, &spec).unwrap(), None);
        assert_eq!(status(&project, &spec).unwrap()[0].how.as_deref(), Some("own wallet (Sandbox)"));
    }

    #[test]
    fn the_starter_spec_is_written_once_with_the_artist_confirmed() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::create(dir.path(), Some("p")).unwrap();
        let me = Pubkey::new_unique();
        assert_eq!(write_starter_spec(&project, Some(&me.to_string())).unwrap(), Some(me));
        let spec = CollectionSpec::from_toml(&std::fs::read_to_string(dir.path().join(SPEC_FILE)).unwrap()).unwrap();
        assert_eq!(spec.creators[0].address, me.to_string());
        assert_eq!(warning(&project, &spec).unwrap(), None, "the creator init wrote is confirmed");
        assert_eq!(write_starter_spec(&project, None).unwrap(), None, "an existing spec is never overwritten");
    }
}
