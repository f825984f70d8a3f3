//! Storage and pinning tokens (Pinata JWT, Pinning Services API token, Kubo RPC token) in
//! the OS keyring, for the Publish screen.
//!
//! - The token goes **only** to the OS keyring (macOS Keychain, Windows Credential Manager,
//!   the Linux kernel keyring), filed exactly where `chrysalis pin --remember` files it
//!   (service `chrysalis`, account `<backend>@<host>`, see
//!   [`chrysalis_storage::remote::credentials`]), so the CLI and the app share it. Nothing
//!   is written to the project folder.
//! - The UI never gets a token back: commands answer only whether one is set and where it
//!   comes from (an environment variable wins over the keyring, as in the CLI).
//! - Without a usable keyring (headless Linux, a container, a locked keychain) saving fails
//!   with a `keyring` error that says to use the environment variable instead; the token is
//!   never kept anywhere else as a fallback.
//!
//! The stores themselves ([`crate::secrets`]) know nothing of the app's state or commands.

use chrysalis_storage::remote::BackendKind;
use chrysalis_storage::remote::credentials::{self as creds, Secret};
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

use crate::error::{CommandError, CommandResult, ErrorKind};
use crate::secrets::{SecretStore, StoreError};
use crate::state::AppState;

/// Whether a backend has a token, and from where. Never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CredentialStatus {
    /// `pinata`, `psa` or `kubo`.
    pub backend: String,
    /// The keyring account: `pinata@api.pinata.cloud`.
    pub account: String,
    /// The environment variable that overrides the keyring.
    pub env: String,
    /// `env` is set: it is used, whatever the keyring holds.
    pub from_env: bool,
    /// The keyring holds a token for this account.
    pub in_keyring: bool,
    /// Why the keyring could not be read, when it could not (then `in_keyring` is false).
    pub keyring_error: Option<String>,
}

fn backend_of(name: &str) -> CommandResult<(BackendKind, &'static str)> {
    let kind = BackendKind::ALL.into_iter().find(|k| k.as_str() == name.trim());
    match kind.and_then(|k| creds::token_env(k).map(|env| (k, env))) {
        Some(found) => Ok(found),
        None => Err(CommandError::new(
            ErrorKind::InvalidInput,
            format!("\"{name}\" takes no token here: tokens are for pinata, psa (a pinning service) and kubo."),
        )),
    }
}

fn endpoint_of(endpoint: &str) -> CommandResult<&str> {
    let endpoint = endpoint.trim();
    if endpoint.is_empty() || endpoint.chars().any(char::is_whitespace) {
        return Err(CommandError::new(
            ErrorKind::InvalidInput,
            "Enter the service's address, for example https://api.pinata.cloud.",
        ));
    }
    Ok(endpoint)
}

fn status(store: &dyn SecretStore, backend: &str, endpoint: &str) -> CommandResult<CredentialStatus> {
    let (kind, env) = backend_of(backend)?;
    let account = creds::keyring_account(kind, endpoint_of(endpoint)?);
    let from_env = std::env::var(env).is_ok_and(|v| !v.trim().is_empty());
    let (in_keyring, keyring_error) = match store.get(&account) {
        Ok(found) => (found.is_some(), None),
        Err(e) => (false, Some(e.to_string())),
    };
    Ok(CredentialStatus {
        backend: kind.as_str().into(),
        account,
        env: env.into(),
        from_env,
        in_keyring,
        keyring_error,
    })
}

fn keyring_error(action: &str, e: StoreError, env: &str) -> CommandError {
    CommandError::new(
        ErrorKind::Keyring,
        format!(
            "The OS keyring could not {action} the token ({e}). Set the environment variable {env} before starting Chrysalis Studio instead; the token is never saved in the project folder."
        ),
    )
}

/// Whether `backend` at `endpoint` has a token, and from where.
#[tauri::command]
pub fn credential_status(
    state: State<'_, AppState>,
    backend: String,
    endpoint: String,
) -> CommandResult<CredentialStatus> {
    status(state.secrets(), &backend, &endpoint)
}

/// Saves `token` for `backend` at `endpoint` in the OS keyring.
#[tauri::command]
pub fn set_credential(
    state: State<'_, AppState>,
    backend: String,
    endpoint: String,
    token: String,
) -> CommandResult<CredentialStatus> {
    let (kind, env) = backend_of(&backend)?;
    let endpoint = endpoint_of(&endpoint)?;
    let token = Secret::new(token.trim());
    if token.expose().is_empty() {
        return Err(CommandError::new(ErrorKind::InvalidInput, "Paste the token first: it is empty."));
    }
    let account = creds::keyring_account(kind, endpoint);
    state.secrets().set(&account, &token).map_err(|e| keyring_error("save", e, env))?;
    tracing::info!(account, "token saved in the OS keyring");
    status(state.secrets(), &backend, endpoint)
}

/// Removes the token for `backend` at `endpoint` from the OS keyring.
#[tauri::command]
pub fn delete_credential(
    state: State<'_, AppState>,
    backend: String,
    endpoint: String,
) -> CommandResult<CredentialStatus> {
    let (kind, env) = backend_of(&backend)?;
    let account = creds::keyring_account(kind, endpoint_of(&endpoint)?);
    state.secrets().delete(&account).map_err(|e| keyring_error("remove", e, env))?;
    status(state.secrets(), &backend, &endpoint)
}
