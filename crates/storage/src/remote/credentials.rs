//! Credentials for the remote backends: from environment variables or the OS keyring, held
//! in a [`Secret`] that never prints.
//!
//! Tokens are looked up in this order:
//! 1. the backend's environment variable (`CHRYSALIS_PSA_TOKEN`, `PINATA_JWT`,
//!    `CHRYSALIS_KUBO_TOKEN`);
//! 2. the OS keyring (macOS Keychain, Windows Credential Manager, the Linux kernel keyring),
//!    service `chrysalis`, account `<backend>@<host>` — saved there by
//!    [`remember_token`] (`chrysalis pin --remember`).
//!
//! Nothing is ever written to the project folder: the project database records the backend
//! and the endpoint only. The Arweave wallet stays where the user keeps it (`--wallet` or
//! `CHRYSALIS_ARWEAVE_WALLET`); only its public address is recorded.

use std::fmt;

use super::BackendKind;

/// The keyring service name every Chrysalis credential is filed under.
pub const KEYRING_SERVICE: &str = "chrysalis";

/// Environment variable with the Pinning Services API bearer token.
pub const PSA_TOKEN_ENV: &str = "CHRYSALIS_PSA_TOKEN";
/// Environment variable with the Pinata JWT.
pub const PINATA_JWT_ENV: &str = "PINATA_JWT";
/// Environment variable with an optional bearer token for a Kubo RPC API behind
/// `API.Authorizations` (or a reverse proxy).
pub const KUBO_TOKEN_ENV: &str = "CHRYSALIS_KUBO_TOKEN";
/// Environment variable with the path of the Arweave JWK wallet file.
pub const ARWEAVE_WALLET_ENV: &str = "CHRYSALIS_ARWEAVE_WALLET";

/// A credential. `Debug` shows only that it is there; there is no `Display`; the bytes are
/// wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it (an `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Overwrite the buffer before it is freed; `black_box` keeps the writes alive.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&mut bytes);
    }
}

/// Where a token came from (never the token itself), for messages and JSON output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Env(&'static str),
    Keyring { account: String },
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Env(var) => write!(f, "environment variable {var}"),
            TokenSource::Keyring { account } => write!(f, "OS keyring ({KEYRING_SERVICE}/{account})"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "{} needs a token: set {env} (or save one in the OS keyring with `chrysalis pin --remember` while {env} is set)",
        backend.display_name()
    )]
    Missing { backend: BackendKind, env: &'static str },

    #[error("the OS keyring could not {action} the {} token: {message}", backend.display_name())]
    Keyring { backend: BackendKind, action: &'static str, message: String },

    #[error("{env} is set but empty")]
    Empty { env: &'static str },
}

/// The environment variable holding `backend`'s token, if it takes one.
pub fn token_env(backend: BackendKind) -> Option<&'static str> {
    match backend {
        BackendKind::Psa => Some(PSA_TOKEN_ENV),
        BackendKind::Pinata => Some(PINATA_JWT_ENV),
        BackendKind::Kubo => Some(KUBO_TOKEN_ENV),
        BackendKind::Local | BackendKind::Arweave => None,
    }
}

/// The keyring account for `backend` at `endpoint`: `psa@api.example.com`.
pub fn keyring_account(backend: BackendKind, endpoint: &str) -> String {
    format!("{backend}@{}", host_of(endpoint))
}

fn host_of(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// Finds `backend`'s token for `endpoint`: environment first, then the OS keyring. `Ok(None)`
/// when there is none (the caller decides whether that is an error).
pub fn find_token(backend: BackendKind, endpoint: &str) -> Result<Option<(Secret, TokenSource)>, CredentialError> {
    let Some(env) = token_env(backend) else { return Ok(None) };
    if let Ok(value) = std::env::var(env) {
        let value = value.trim();
        if value.is_empty() {
            return Err(CredentialError::Empty { env });
        }
        return Ok(Some((Secret::new(value), TokenSource::Env(env))));
    }
    let account = keyring_account(backend, endpoint);
    match keyring::Entry::new(KEYRING_SERVICE, &account).and_then(|e| e.get_password()) {
        Ok(value) if !value.trim().is_empty() => {
            Ok(Some((Secret::new(value.trim()), TokenSource::Keyring { account })))
        }
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(None),
        // No keyring on this machine (headless Linux, a container): behave as if empty, but
        // say so in the logs so a user wondering why their saved token is ignored finds out.
        Err(e) => {
            tracing::debug!(backend = %backend, "OS keyring unavailable: {e}");
            Ok(None)
        }
    }
}

/// Like [`find_token`], but a missing token is an error that names the variable to set.
pub fn require_token(backend: BackendKind, endpoint: &str) -> Result<(Secret, TokenSource), CredentialError> {
    find_token(backend, endpoint)?
        .ok_or(CredentialError::Missing { backend, env: token_env(backend).unwrap_or("the token variable") })
}

/// Saves `token` in the OS keyring for `backend` at `endpoint`, so later runs need no
/// environment variable.
pub fn remember_token(backend: BackendKind, endpoint: &str, token: &Secret) -> Result<String, CredentialError> {
    let account = keyring_account(backend, endpoint);
    keyring::Entry::new(KEYRING_SERVICE, &account)
        .and_then(|e| e.set_password(token.expose()))
        .map_err(|e| CredentialError::Keyring { backend, action: "save", message: e.to_string() })?;
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("eyJhbGciOi.super-secret");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        let wrapped = Some((s.clone(), TokenSource::Env(PINATA_JWT_ENV)));
        assert!(!format!("{wrapped:?}").contains("super-secret"));
        assert_eq!(s.expose(), "eyJhbGciOi.super-secret");
    }

    #[test]
    fn keyring_accounts_name_backend_and_host() {
        assert_eq!(keyring_account(BackendKind::Psa, "https://api.pinata.cloud/psa"), "psa@api.pinata.cloud");
        assert_eq!(keyring_account(BackendKind::Kubo, "http://127.0.0.1:5001"), "kubo@127.0.0.1:5001");
    }

    #[test]
    fn keyring_round_trip_with_the_mock_store() {
        // The mock keeps entries in memory per Entry object only, so this checks our error
        // mapping, not persistence: a fresh entry has no password.
        keyring::set_default_credential_builder(keyring::mock::default_credential_builder());
        let found = find_token(BackendKind::Arweave, "http://x").unwrap();
        assert!(found.is_none(), "arweave takes no token");
        remember_token(BackendKind::Psa, "https://psa.example", &Secret::new("t")).unwrap();
    }
}
