//! Which Solana cluster to talk to, and [`connect`]ing a [`Ledger`] to it.
//!
//! A [`Network`] is written the way people say it: `sandbox`, `localnet`, `devnet`,
//! `mainnet-beta`, or the http(s) URL of any RPC node. That string form is also its serde form,
//! so project files and settings store it readably.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ledger::{Ledger, LedgerError};
use crate::rpc::{RpcLedger, RpcOptions};
use crate::sandbox::Sandbox;

/// A Solana cluster (or the embedded sandbox).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Network {
    /// The in-process sandbox bank (no network at all).
    Sandbox,
    /// A `solana-test-validator` on this machine (`http://127.0.0.1:8899`).
    Localnet,
    Devnet,
    MainnetBeta,
    /// Any other RPC node, by URL (`http://` or `https://`).
    Custom(String),
}

/// A network name that is neither a known cluster nor an http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown network {0:?}: use sandbox, localnet, devnet, mainnet-beta, or an RPC URL \
     starting with http:// or https://"
)]
pub struct UnknownNetwork(pub String);

impl Network {
    /// The JSON-RPC URL (`None` for the sandbox, which has none).
    pub fn rpc_url(&self) -> Option<&str> {
        match self {
            Network::Sandbox => None,
            Network::Localnet => Some("http://127.0.0.1:8899"),
            Network::Devnet => Some("https://api.devnet.solana.com"),
            Network::MainnetBeta => Some("https://api.mainnet-beta.solana.com"),
            Network::Custom(url) => Some(url),
        }
    }

    /// Whether SOL can be had for free there (sandbox: its bank's payer; localnet and devnet:
    /// their faucets). Mainnet and unknown clusters: no.
    pub fn allows_airdrop(&self) -> bool {
        matches!(self, Network::Sandbox | Network::Localnet | Network::Devnet)
    }

    /// Whether real money is at stake (mainnet-beta). A custom URL may be mainnet too: callers
    /// that need to be careful should treat `Custom` as possibly real.
    pub fn is_mainnet(&self) -> bool {
        matches!(self, Network::MainnetBeta)
    }

    /// A Solana Explorer link for an address or a transaction signature. `None` where the
    /// public explorer cannot see the cluster (sandbox, localnet).
    pub fn explorer_url(&self, address_or_signature: &str) -> Option<String> {
        let kind = if address_or_signature.len() > 50 { "tx" } else { "address" };
        let base = format!("https://explorer.solana.com/{kind}/{address_or_signature}");
        match self {
            Network::Sandbox | Network::Localnet => None,
            Network::MainnetBeta => Some(base),
            Network::Devnet => Some(format!("{base}?cluster=devnet")),
            Network::Custom(url) => Some(format!("{base}?cluster=custom&customUrl={}", percent_encode(url))),
        }
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for a URL in a query.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl FromStr for Network {
    type Err = UnknownNetwork;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "sandbox" => return Ok(Network::Sandbox),
            "localnet" | "localhost" => return Ok(Network::Localnet),
            "devnet" => return Ok(Network::Devnet),
            "mainnet-beta" | "mainnet" => return Ok(Network::MainnetBeta),
            _ => {}
        }
        let lower = t.to_ascii_lowercase();
        let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.starts_with('/') && !t.contains(' ') => {
                Ok(Network::Custom(t.to_string()))
            }
            _ => Err(UnknownNetwork(s.to_string())),
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Network::Sandbox => "sandbox",
            Network::Localnet => "localnet",
            Network::Devnet => "devnet",
            Network::MainnetBeta => "mainnet-beta",
            Network::Custom(url) => url,
        })
    }
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A [`Ledger`] for `network`: the sandbox kept in `sandbox_dir` (created if needed), or an
/// [`RpcLedger`] on the cluster's URL with `options`. Nothing is contacted yet for RPC: the
/// first call finds out whether the node answers.
pub fn connect(
    network: &Network,
    sandbox_dir: &Path,
    options: RpcOptions,
) -> Result<Box<dyn Ledger + Send + Sync>, LedgerError> {
    match network.rpc_url() {
        None => Ok(Box::new(Sandbox::open(sandbox_dir)?)),
        Some(url) => Ok(Box::new(RpcLedger::new(url, options)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls_parse_and_print_back() {
        for (text, net) in [
            ("sandbox", Network::Sandbox),
            ("localnet", Network::Localnet),
            ("devnet", Network::Devnet),
            ("mainnet-beta", Network::MainnetBeta),
            ("https://rpc.example.com/key", Network::Custom("https://rpc.example.com/key".into())),
            ("http://127.0.0.1:8899", Network::Custom("http://127.0.0.1:8899".into())),
        ] {
            assert_eq!(text.parse::<Network>().unwrap(), net, "{text}");
            assert_eq!(net.to_string(), text);
            let json = serde_json::to_string(&net).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Network>(&json).unwrap(), net);
        }
        assert_eq!(" Devnet ".parse::<Network>().unwrap(), Network::Devnet);
    }

    #[test]
    fn anything_else_is_refused_with_the_choices() {
        for bad in ["", "testnet2", "ftp://x", "https://", "http:///path", "devnet x"] {
            let err = bad.parse::<Network>().unwrap_err().to_string();
            assert!(err.contains("mainnet-beta") && err.contains("http"), "{err}");
        }
        assert!(serde_json::from_str::<Network>("\"nowhere\"").is_err());
    }

    #[test]
    fn rpc_urls_airdrops_and_explorer_links() {
        assert_eq!(Network::Sandbox.rpc_url(), None);
        assert_eq!(Network::Localnet.rpc_url(), Some("http://127.0.0.1:8899"));
        assert_eq!(Network::Devnet.rpc_url(), Some("https://api.devnet.solana.com"));
        assert!(Network::Sandbox.allows_airdrop());
        assert!(Network::Localnet.allows_airdrop());
        assert!(Network::Devnet.allows_airdrop());
        assert!(!Network::MainnetBeta.allows_airdrop());
        assert!(!Network::Custom("https://x".into()).allows_airdrop());

        let addr = "JDWLCiBwmhWaVpMzTBXikMJSdUgTpjWvNgXv4kt6Daq9";
        let sig = "5".repeat(88);
        assert_eq!(Network::Sandbox.explorer_url(addr), None);
        assert_eq!(Network::Localnet.explorer_url(&sig), None);
        assert_eq!(
            Network::MainnetBeta.explorer_url(addr).unwrap(),
            format!("https://explorer.solana.com/address/{addr}")
        );
        assert_eq!(
            Network::Devnet.explorer_url(&sig).unwrap(),
            format!("https://explorer.solana.com/tx/{sig}?cluster=devnet")
        );
        assert_eq!(
            Network::Custom("https://rpc.example.com:8899/k".into()).explorer_url(addr).unwrap(),
            format!(
                "https://explorer.solana.com/address/{addr}?cluster=custom&customUrl=\
                 https%3A%2F%2Frpc.example.com%3A8899%2Fk"
            )
        );
    }
}
