//! Solana CLI wallets: keypair files (a JSON array of the 64 bytes `secret ‖ public`, as
//! `solana-keygen` writes them) and the RPC URL from the CLI's `config.yml`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use solana_keypair::Keypair;
use solana_signer::Signer;

/// Length of a keypair file's byte array: 32 secret bytes then the 32-byte public key.
pub const KEYPAIR_FILE_LEN: usize = 64;

/// Why a keypair file or the CLI configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("keypair file {0} does not exist (create one with `solana-keygen new`)")]
    Missing(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("keypair file {path} is not a JSON array of bytes: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("keypair file {path} holds {len} bytes, expected {KEYPAIR_FILE_LEN}")]
    WrongLength { path: PathBuf, len: usize },
    #[error("keypair file {path} is not a valid ed25519 keypair: {reason}")]
    BadKey { path: PathBuf, reason: String },
    /// The second half of the file is not the public key of the first: the file was damaged
    /// or edited by hand.
    #[error(
        "keypair file {path} does not hold a matching pair: its public half is {stored}, but its secret half belongs to {derived}; the file is damaged or was edited, restore it from a backup"
    )]
    MismatchedHalves { path: PathBuf, stored: String, derived: String },
    #[error("refusing to overwrite existing keypair file {0}")]
    AlreadyExists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("no home directory (HOME is not set)")]
    NoHome,
}

fn home() -> Result<PathBuf, WalletError> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from).ok_or(WalletError::NoHome)
}

/// The Solana CLI's default keypair: `~/.config/solana/id.json`.
pub fn default_keypair_path() -> Result<PathBuf, WalletError> {
    Ok(home()?.join(".config/solana/id.json"))
}

/// The Solana CLI's configuration file: `~/.config/solana/cli/config.yml`.
pub fn default_cli_config_path() -> Result<PathBuf, WalletError> {
    Ok(home()?.join(".config/solana/cli/config.yml"))
}

/// Parses a keypair file's contents (`path` only names it in errors).
pub fn parse_keypair(text: &str, path: &Path) -> Result<Keypair, WalletError> {
    let bytes: Vec<u8> = serde_json::from_str(text)
        .map_err(|e| WalletError::Malformed { path: path.to_owned(), reason: e.to_string() })?;
    if bytes.len() != KEYPAIR_FILE_LEN {
        return Err(WalletError::WrongLength { path: path.to_owned(), len: bytes.len() });
    }
    // The public half must be the secret half's own public key: name both when it is not.
    let secret: [u8; 32] = bytes[..32].try_into().expect("length checked above");
    let derived = Keypair::new_from_array(secret).pubkey();
    if derived.as_ref() != &bytes[32..] {
        return Err(WalletError::MismatchedHalves {
            path: path.to_owned(),
            stored: bs58_of(&bytes[32..]),
            derived: derived.to_string(),
        });
    }
    Keypair::try_from(bytes.as_slice())
        .map_err(|e| WalletError::BadKey { path: path.to_owned(), reason: e.to_string() })
}

/// `bytes` (32 of them) as a base58 address, for messages.
fn bs58_of(bytes: &[u8]) -> String {
    let array: [u8; 32] = bytes.try_into().expect("a public key half is 32 bytes");
    solana_pubkey::Pubkey::new_from_array(array).to_string()
}

/// A warning when the keypair file at `path` can be read by other users of this machine, as
/// ssh warns about a private key: anyone who can read it can spend from the wallet. `None`
/// when only its owner can read it (or on systems without Unix permissions).
pub fn keypair_file_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Some(format!(
                "keypair file {} can be read by other users (mode {mode:04o}): anyone on this machine can spend from this wallet; run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    None
}

/// Reads a Solana CLI keypair file.
pub fn read_keypair(path: &Path) -> Result<Keypair, WalletError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(WalletError::Missing(path.to_owned()));
        }
        Err(source) => {
            return Err(WalletError::Read { path: path.to_owned(), source });
        }
    };
    let keypair = parse_keypair(&text, path)?;
    if let Some(warning) = keypair_file_warning(path) {
        tracing::warn!("{warning}");
    }
    Ok(keypair)
}

/// Reads the default keypair (`~/.config/solana/id.json`).
pub fn read_default_keypair() -> Result<Keypair, WalletError> {
    read_keypair(&default_keypair_path()?)
}

/// The keypair file format: `[b0,b1,...,b63]`, as `solana-keygen` writes it.
pub fn keypair_to_json(keypair: &Keypair) -> String {
    serde_json::to_string(&keypair.to_bytes().to_vec()).expect("a byte vector serializes")
}

/// Creates a new random keypair and writes it to `path` (parent folders are created), readable
/// by its owner only (mode 0600 on Unix). Never overwrites: an existing file is an error.
pub fn create_keypair_file(path: &Path) -> Result<Keypair, WalletError> {
    let keypair = Keypair::new();
    write_keypair_file(&keypair, path)?;
    Ok(keypair)
}

/// Writes `keypair` to a new file at `path` (mode 0600 on Unix); refuses to overwrite.
pub fn write_keypair_file(keypair: &Keypair, path: &Path) -> Result<(), WalletError> {
    let werr = |source| WalletError::Write { path: path.to_owned(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(werr)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(WalletError::AlreadyExists(path.to_owned()));
        }
        Err(e) => return Err(werr(e)),
    };
    file.write_all(keypair_to_json(keypair).as_bytes()).and_then(|()| file.sync_all()).map_err(werr)
}

/// The `json_rpc_url:` value of a Solana CLI `config.yml` text, if set. Only that top-level key
/// is read (plain, single- or double-quoted scalar; a trailing `# comment` is ignored).
pub fn parse_json_rpc_url(yaml: &str) -> Option<String> {
    for line in yaml.lines() {
        let Some(rest) = line.strip_prefix("json_rpc_url:") else {
            continue;
        };
        let rest = rest.trim();
        let value = if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
            let inner = &rest[1..];
            inner[..inner.find(q)?].to_string()
        } else {
            let v = match rest.find(" #") {
                Some(i) => &rest[..i],
                None => rest,
            };
            v.trim().to_string()
        };
        return (!value.is_empty()).then_some(value);
    }
    None
}

/// The RPC URL from the Solana CLI configuration at `path`: `Ok(None)` when the file does not
/// exist or does not set `json_rpc_url`.
pub fn rpc_url_from_cli_config(path: &Path) -> Result<Option<String>, WalletError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(parse_json_rpc_url(&text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(WalletError::Read { path: path.to_owned(), source }),
    }
}

/// The RPC URL from `~/.config/solana/cli/config.yml`, when present.
pub fn default_rpc_url() -> Result<Option<String>, WalletError> {
    rpc_url_from_cli_config(&default_cli_config_path()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use solana_signer::Signer;

    #[test]
    fn round_trips_a_created_keypair_file_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/id.json");
        let kp = create_keypair_file(&path).unwrap();
        let back = read_keypair(&path).unwrap();
        assert_eq!(kp.pubkey(), back.pubkey());
        assert_eq!(kp.to_bytes(), back.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn refuses_to_overwrite_and_keeps_the_old_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.json");
        let first = create_keypair_file(&path).unwrap();
        let err = create_keypair_file(&path).unwrap_err();
        assert!(matches!(err, WalletError::AlreadyExists(_)), "{err}");
        assert_eq!(read_keypair(&path).unwrap().pubkey(), first.pubkey());
    }

    #[test]
    fn reads_the_solana_keygen_format() {
        let kp = Keypair::new_from_array([7; 32]);
        let json = format!("[{}]\n", kp.to_bytes().iter().map(u8::to_string).collect::<Vec<_>>().join(","));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        fs::write(&path, json).unwrap();
        assert_eq!(read_keypair(&path).unwrap().pubkey(), kp.pubkey());
    }

    #[test]
    fn missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.json");
        let err = read_keypair(&path).unwrap_err();
        assert!(matches!(err, WalletError::Missing(ref p) if p == &path));
        assert!(err.to_string().contains("nope.json"));
    }

    #[test]
    fn malformed_json_is_refused() {
        let p = Path::new("k.json");
        for text in ["", "{\"a\":1}", "[1,2,", "[1,2,300]", "[-1]", "\"abc\""] {
            let err = parse_keypair(text, p).unwrap_err();
            assert!(matches!(err, WalletError::Malformed { .. }), "{text}: {err}");
        }
    }

    #[test]
    fn wrong_length_is_refused() {
        let p = Path::new("k.json");
        let err = parse_keypair(&serde_json::to_string(&vec![1u8; 32]).unwrap(), p).unwrap_err();
        assert!(matches!(err, WalletError::WrongLength { len: 32, .. }), "{err}");
        assert!(err.to_string().contains("32 bytes"));
    }

    #[test]
    fn mismatched_public_key_is_refused() {
        let mut bytes = Keypair::new_from_array([9; 32]).to_bytes();
        bytes[40] ^= 1;
        let text = serde_json::to_string(&bytes.to_vec()).unwrap();
        let err = parse_keypair(&text, Path::new("k.json")).unwrap_err();
        assert!(matches!(err, WalletError::MismatchedHalves { .. }), "{err}");
        // The message names both keys and what to do, not just "signature error".
        let real = Keypair::new_from_array([9; 32]).pubkey().to_string();
        let msg = err.to_string();
        assert!(
            msg.contains(&real) && msg.contains("does not hold a matching pair") && msg.contains("backup"),
            "{msg}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_keypair_readable_by_others_is_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        create_keypair_file(&path).unwrap();
        assert_eq!(keypair_file_warning(&path), None, "0600 as written");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let warning = keypair_file_warning(&path).expect("0644 is readable by others");
        assert!(warning.contains("mode 0644") && warning.contains("chmod 600"), "{warning}");
        // Still read: a warning, as ssh gives, not a refusal.
        read_keypair(&path).unwrap();
    }

    #[test]
    fn parses_json_rpc_url_from_cli_config() {
        let yaml = "---\njson_rpc_url: https://api.devnet.solana.com\nwebsocket_url: ''\n\
                    keypair_path: /home/a/.config/solana/id.json\ncommitment: confirmed\n";
        assert_eq!(parse_json_rpc_url(yaml).as_deref(), Some("https://api.devnet.solana.com"));
        assert_eq!(
            parse_json_rpc_url("json_rpc_url: \"http://localhost:8899\" # local\n").as_deref(),
            Some("http://localhost:8899")
        );
        assert_eq!(parse_json_rpc_url("json_rpc_url: 'http://x:1'").as_deref(), Some("http://x:1"));
        assert_eq!(parse_json_rpc_url("json_rpc_url: ''\n"), None);
        assert_eq!(parse_json_rpc_url("websocket_url: ws://x\n"), None);
        assert_eq!(parse_json_rpc_url("  json_rpc_url: nested\n"), None);
    }

    #[test]
    fn cli_config_file_is_optional() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yml");
        assert_eq!(rpc_url_from_cli_config(&path).unwrap(), None);
        fs::write(&path, "json_rpc_url: https://api.mainnet-beta.solana.com\n").unwrap();
        assert_eq!(rpc_url_from_cli_config(&path).unwrap().as_deref(), Some("https://api.mainnet-beta.solana.com"));
    }
}
