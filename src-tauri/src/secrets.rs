//! Where storage and pinning tokens are kept: the OS keyring ([`OsKeyring`]) in the app, an
//! in-memory map ([`MemoryStore`]) in tests, both behind [`SecretStore`]. This file knows no
//! command and no app state: `state` holds a store, `credentials` answers the UI with it.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrysalis_storage::remote::credentials::{KEYRING_SERVICE, Secret};

/// Why a secret store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// There is no usable keyring on this machine, or it refused access.
    #[error("{0}")]
    Unavailable(String),
}

/// Where tokens are kept: the OS keyring in the app, an in-memory map in tests.
pub trait SecretStore: Send + Sync {
    fn get(&self, account: &str) -> Result<Option<Secret>, StoreError>;
    fn set(&self, account: &str, token: &Secret) -> Result<(), StoreError>;
    /// Removes the token; `Ok(false)` when there was none.
    fn delete(&self, account: &str) -> Result<bool, StoreError>;
}

/// A shared store (tests keep a handle to look inside).
impl<T: SecretStore + ?Sized> SecretStore for std::sync::Arc<T> {
    fn get(&self, account: &str) -> Result<Option<Secret>, StoreError> {
        (**self).get(account)
    }
    fn set(&self, account: &str, token: &Secret) -> Result<(), StoreError> {
        (**self).set(account, token)
    }
    fn delete(&self, account: &str) -> Result<bool, StoreError> {
        (**self).delete(account)
    }
}

/// The OS keyring through the `keyring` crate, under [`KEYRING_SERVICE`].
#[derive(Debug, Default)]
pub struct OsKeyring;

fn keyring_failure(e: keyring::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl SecretStore for OsKeyring {
    fn get(&self, account: &str) -> Result<Option<Secret>, StoreError> {
        let entry = keyring::Entry::new(KEYRING_SERVICE, account).map_err(keyring_failure)?;
        match entry.get_password() {
            Ok(value) if !value.trim().is_empty() => Ok(Some(Secret::new(value.trim()))),
            Ok(_) | Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_failure(e)),
        }
    }

    fn set(&self, account: &str, token: &Secret) -> Result<(), StoreError> {
        keyring::Entry::new(KEYRING_SERVICE, account)
            .and_then(|e| e.set_password(token.expose()))
            .map_err(keyring_failure)
    }

    fn delete(&self, account: &str) -> Result<bool, StoreError> {
        let entry = keyring::Entry::new(KEYRING_SERVICE, account).map_err(keyring_failure)?;
        match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(keyring_failure(e)),
        }
    }
}

/// Tokens in memory, for tests (the keyring crate's own mock forgets between entries).
/// `unavailable` makes it behave like a machine without a keyring.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tokens: Mutex<BTreeMap<String, String>>,
    pub unavailable: bool,
}

impl MemoryStore {
    pub fn unavailable() -> Self {
        Self { unavailable: true, ..Self::default() }
    }

    fn tokens(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        // A test that panicked while holding the lock left the map consistent.
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether any stored token equals `value` (tests check what was stored, and where).
    pub fn holds(&self, value: &str) -> bool {
        self.tokens().values().any(|v| v == value)
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.unavailable {
            Err(StoreError::Unavailable("no keyring service on this machine (test)".into()))
        } else {
            Ok(())
        }
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, account: &str) -> Result<Option<Secret>, StoreError> {
        self.check()?;
        Ok(self.tokens().get(account).map(Secret::new))
    }

    fn set(&self, account: &str, token: &Secret) -> Result<(), StoreError> {
        self.check()?;
        self.tokens().insert(account.to_owned(), token.expose().to_owned());
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<bool, StoreError> {
        self.check()?;
        Ok(self.tokens().remove(account).is_some())
    }
}
