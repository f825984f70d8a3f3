//! Keys the pipeline creates itself, as Solana CLI keypair files under `<project>/keys/`
//! (mode 0600), never in the project database.
//!
//! A key is written **before** the transaction that needs it and read back on every rerun,
//! so a run killed between "key made" and "transaction confirmed" signs again with the same
//! key (and finds its account on chain) instead of making a second collection. Writing is
//! atomic: a temporary file (0600, synced) renamed into place, so a kill never leaves a
//! half-written key behind.

use std::fs;
use std::path::{Path, PathBuf};

use chrysalis_chain::wallet;
use chrysalis_chain::{Keypair, Pubkey, Signer};

use super::{KEYS_DIR, PipelineError};

/// The sandbox artist wallet: creator, collection authority and buyer in the sandbox.
pub const ARTIST_KEY: &str = "artist.json";

/// File name of the TokenGroup mint keypair of the collection on `network`.
pub fn group_mint_file(network: &str) -> String {
    let safe: String = network.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!("group-mint.{safe}.json")
}

/// `<project>/keys/<name>`.
pub fn key_path(project_root: &Path, name: &str) -> PathBuf {
    project_root.join(KEYS_DIR).join(name)
}

/// Reads the keypair at `path`, or makes a new one there (atomically, 0600) if there is none.
pub fn load_or_create(path: &Path) -> Result<Keypair, PipelineError> {
    if path.exists() {
        return Ok(wallet::read_keypair(path)?);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(PipelineError::io(dir))?;
    let tmp = path.with_extension("json.tmp");
    // A temporary file left by a killed run holds no key anyone used: replace it.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(PipelineError::io(&tmp)(e)),
    }
    let key = Keypair::new();
    wallet::write_keypair_file(&key, &tmp)?;
    fs::rename(&tmp, path).map_err(PipelineError::io(path))?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    tracing::info!(path = %path.display(), pubkey = %key.pubkey(), "created key file");
    Ok(key)
}

/// The public key in a keypair file, if the file exists and is valid.
pub fn pubkey_of(path: &Path) -> Option<Pubkey> {
    wallet::read_keypair(path).ok().map(|k| k.pubkey())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_then_reused_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_path(dir.path(), "k.json");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        assert_eq!(a.pubkey(), b.pubkey());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // A stale temporary file from a killed run does not block or change anything.
        fs::write(path.with_extension("json.tmp"), b"[1,2").unwrap();
        assert_eq!(load_or_create(&path).unwrap().pubkey(), a.pubkey());
    }

    #[test]
    fn a_damaged_key_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_path(dir.path(), "k.json");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, b"[1,2,3]").unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("k.json"), "{err}");
    }

    #[test]
    fn network_names_make_safe_file_names() {
        assert_eq!(group_mint_file("sandbox"), "group-mint.sandbox.json");
        assert_eq!(group_mint_file("https://x.io:8899/a"), "group-mint.https___x_io_8899_a.json");
    }
}
