//! Arweave wallets: RSA keys in JWK form (the `arweave-keyfile-*.json` every Arweave wallet
//! exports), signing with RSA-PSS / SHA-256 (salt length 32), as Arweave requires.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pss::{Signature, SigningKey, VerifyingKey};
use rsa::sha2::{Digest, Sha256};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{BoxedUint, PrivateKey, PublicKey};
use serde::Deserialize;

use crate::remote::RemoteError;

/// base64url without padding, Arweave's encoding for every binary field.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url (padding tolerated).
pub fn from_b64url(s: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).map_err(|e| format!("invalid base64url: {e}"))
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    n: String,
    e: String,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
}

/// An Arweave wallet (private key). `Debug` shows the address only.
pub struct Wallet {
    key: PrivateKey,
    owner: Vec<u8>,
    address: String,
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wallet").field("address", &self.address).finish_non_exhaustive()
    }
}

fn wallet_err(msg: impl Into<String>) -> RemoteError {
    RemoteError::Wallet(msg.into())
}

impl Wallet {
    /// Reads a JWK wallet file.
    pub fn from_file(path: &Path) -> Result<Wallet, RemoteError> {
        let text = std::fs::read_to_string(path).map_err(RemoteError::io(path))?;
        Wallet::from_jwk(&text).map_err(|e| match e {
            RemoteError::Wallet(m) => RemoteError::Wallet(format!("`{}`: {m}", path.display())),
            other => other,
        })
    }

    /// Parses a JWK (JSON) RSA private key.
    pub fn from_jwk(json: &str) -> Result<Wallet, RemoteError> {
        let jwk: Jwk = serde_json::from_str(json).map_err(|e| wallet_err(format!("not a JWK key file: {e}")))?;
        if jwk.kty != "RSA" {
            return Err(wallet_err(format!("key type {:?} is not RSA; Arweave wallets are RSA keys", jwk.kty)));
        }
        let field = |name: &str, v: &Option<String>| -> Result<BoxedUint, RemoteError> {
            let s = v.as_deref().ok_or_else(|| {
                wallet_err(format!(
                    "it has no `{name}`: this is a public key, not a wallet (Arweave signs with the private key)"
                ))
            })?;
            let bytes = from_b64url(s).map_err(|e| wallet_err(format!("`{name}`: {e}")))?;
            Ok(BoxedUint::from_be_slice_vartime(&bytes))
        };
        let owner = from_b64url(&jwk.n).map_err(|e| wallet_err(format!("`n`: {e}")))?;
        let n = BoxedUint::from_be_slice_vartime(&owner);
        let e = field("e", &Some(jwk.e.clone()))?;
        let d = field("d", &jwk.d)?;
        let p = field("p", &jwk.p)?;
        let q = field("q", &jwk.q)?;
        let key = PrivateKey::from_components(n, e, d, vec![p, q])
            .map_err(|e| wallet_err(format!("the RSA key is not valid: {e}")))?;
        let address = b64url(&Sha256::digest(&owner));
        Ok(Wallet { key, owner, address })
    }

    /// The wallet address: base64url(SHA-256(modulus)).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The public modulus, as transactions carry it in `owner`.
    pub fn owner(&self) -> &[u8] {
        &self.owner
    }

    /// RSA-PSS (SHA-256, 32-byte salt) signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, RemoteError> {
        // The salt comes from the OS RNG (rsa's `getrandom` feature).
        let signer = SigningKey::<Sha256>::new(self.key.clone());
        let sig: Signature = signer.try_sign(message).map_err(|e| wallet_err(format!("signing failed: {e}")))?;
        Ok(sig.to_vec())
    }
}

/// Checks an RSA-PSS (SHA-256) signature made by the key whose modulus is `owner`.
pub fn verify_signature(owner: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(public) = PublicKey::new(BoxedUint::from_be_slice_vartime(owner), BoxedUint::from(65_537u64)) else {
        return false;
    };
    let Ok(sig) = Signature::try_from(signature) else { return false };
    VerifyingKey::<Sha256>::new(public).verify(message, &sig).is_ok()
}
