//! The pipeline's view of a chain: a [`Ledger`] (the project's sandbox or an RPC cluster),
//! the network's name (the journal's key), wallets, account readers, and one careful way to
//! send a transaction: [`Chain::send_payment`].
//!
//! # Sending without doing anything twice
//! State changes go through `chrysalis_chain::client`, whose operations read the chain
//! before sending ("does the mint PDA of item 7 exist?") and only send what is missing.
//! [`Chain::op`] re-runs such an operation after a transient error (a timeout, a 429, a
//! dropped transaction, an expired blockhash): the re-run reconciles first, so a transaction
//! that landed late is found, not repeated. The program refuses repeats too (mint PDAs per
//! index, `create_collection` on an existing PDA, evolve to the current stage). Payments,
//! which no state on chain can tell apart, go through [`Chain::send_payment`]: one signed
//! transaction re-sent as is, signed anew only once the ledger says it expired unprocessed.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrysalis_chain::client::{self, ChainError, CollectionState};
use chrysalis_chain::network::{Network, connect};
use chrysalis_chain::{Keypair, Ledger, LedgerError, Pubkey, Signature, Signer, wallet};
use serde::{Deserialize, Serialize};

use super::{PipelineError, SANDBOX_DIR, keys};

/// Which chain and which wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChainOptions {
    /// `sandbox` (default), `localnet`, `devnet`, `mainnet-beta` or an RPC URL.
    pub network: String,
    /// A Solana CLI keypair file. Default: the project's own wallet in the sandbox
    /// (`keys/artist.json`, made on first use and airdropped), else the Solana CLI's
    /// `~/.config/solana/id.json`.
    pub wallet: Option<PathBuf>,
}

impl Default for ChainOptions {
    fn default() -> Self {
        ChainOptions { network: "sandbox".into(), wallet: None }
    }
}

/// A connected chain. See the module documentation.
pub struct Chain {
    network: Network,
    ledger: Box<dyn Ledger + Send + Sync>,
    /// Attempts per change before giving up on transient errors.
    pub attempts: u32,
    /// First wait between attempts (doubles each time).
    pub backoff: Duration,
}

impl Chain {
    /// Connects to `options.network` for the project at `project_root` (the sandbox lives in
    /// `<project>/sandbox/`).
    pub fn open(project_root: &Path, options: &ChainOptions) -> Result<Chain, PipelineError> {
        let network = parse_network(&options.network)?;
        let ledger = connect(&network, &project_root.join(SANDBOX_DIR), Default::default())?;
        Ok(Chain::from_ledger(network, ledger))
    }

    /// A chain over any ledger (tests wrap the sandbox in a fault-injecting one).
    pub fn from_ledger(network: Network, ledger: Box<dyn Ledger + Send + Sync>) -> Chain {
        Chain { network, ledger, attempts: 8, backoff: Duration::from_millis(200) }
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The journal's key for this network.
    pub fn label(&self) -> String {
        self.network.to_string()
    }

    pub fn ledger(&self) -> &dyn Ledger {
        self.ledger.as_ref()
    }

    /// The wallet that signs and pays (see [`resolve_wallet`]).
    pub fn wallet(&self, project_root: Option<&Path>, explicit: Option<&Path>) -> Result<Keypair, PipelineError> {
        resolve_wallet(&self.network, project_root, explicit)
    }

    /// Makes sure `who` holds at least `need` lamports: airdrops the difference (plus a
    /// margin) where the network allows it, else fails naming the shortfall.
    pub fn ensure_funds(&self, who: &Pubkey, need: u64) -> Result<u64, PipelineError> {
        let have = self.ledger.balance(who)?;
        if have >= need {
            return Ok(have);
        }
        if !self.network.allows_airdrop() {
            return Err(PipelineError::InsufficientFunds {
                address: who.to_string(),
                have,
                need,
                hint: format!("send SOL to it on {} and run again", self.network),
            });
        }
        let amount = (need - have).saturating_add(1_000_000_000);
        tracing::info!(%who, amount, "airdrop");
        self.retry(|| self.ledger.airdrop(who, amount).map(|_| ()))?;
        Ok(self.ledger.balance(who)?)
    }

    /// Runs a read (or an idempotent call) with the retry policy for transient errors.
    pub fn retry<T>(&self, mut f: impl FnMut() -> Result<T, LedgerError>) -> Result<T, PipelineError> {
        let mut wait = self.backoff;
        let mut attempt = 1;
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e) if e.is_transient() && attempt < self.attempts => {
                    tracing::warn!(attempt, "transient ledger error, retrying: {e}");
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Runs a chain operation of `chrysalis_chain::client` (each of which reads the chain
    /// first and only sends what is missing) again after transient errors: a timeout, a 429,
    /// a dropped transaction or an expired blockhash. Every retry starts by reconciling, so a
    /// transaction that landed late is found instead of being sent again.
    pub fn op<T>(
        &self,
        what: &str,
        mut f: impl FnMut(&dyn Ledger) -> Result<T, ChainError>,
    ) -> Result<T, PipelineError> {
        let mut wait = self.backoff;
        let mut attempt = 1;
        loop {
            match f(self.ledger.as_ref()) {
                Ok(v) => return Ok(v),
                Err(ChainError::Ledger(e)) if e.is_transient() && attempt < self.attempts => {
                    tracing::warn!(attempt, "{what}: {e}; checking the chain and retrying");
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends one *non-idempotent* transaction (a payment): it is signed once and that same
    /// signed transaction is re-sent after transient errors (a ledger processes a signature at
    /// most once); only when the ledger reports it expired unprocessed is it signed again.
    /// `journal` receives the signature before the first send.
    pub fn send_payment(
        &self,
        instructions: &[anchor_lang::solana_program::instruction::Instruction],
        signers: &[&dyn Signer],
        journal: &mut dyn FnMut(&Signature) -> Result<(), PipelineError>,
    ) -> Result<Signature, PipelineError> {
        let mut wait = self.backoff;
        let mut attempt = 1;
        let mut tx =
            chrysalis_chain::ledger::sign(instructions, signers, self.retry(|| self.ledger.latest_blockhash())?)?;
        journal(&tx.signatures[0])?;
        loop {
            match self.ledger.send_transaction(&tx) {
                Ok(sig) => return Ok(sig),
                Err(LedgerError::Expired { .. }) if attempt < self.attempts => {
                    tx = chrysalis_chain::ledger::sign(
                        instructions,
                        signers,
                        self.retry(|| self.ledger.latest_blockhash())?,
                    )?;
                    journal(&tx.signatures[0])?;
                }
                Err(e) if e.is_transient() && attempt < self.attempts => {
                    tracing::warn!(attempt, "payment not confirmed yet, re-sending the same signed transaction: {e}");
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e.into()),
            }
            attempt += 1;
        }
    }

    /// The raw account, with retries.
    pub fn account(&self, key: &Pubkey) -> Result<Option<chrysalis_chain::AccountData>, PipelineError> {
        self.retry(|| self.ledger.get_account(key))
    }

    /// The collection at `address`, if it exists.
    pub fn collection(&self, address: &Pubkey) -> Result<Option<CollectionState>, PipelineError> {
        self.op("reading the collection", |l| client::fetch_collection(l, address))
    }

    /// The NFT at `mint`, if it exists.
    pub fn nft(&self, mint: &Pubkey) -> Result<Option<client::NftState>, PipelineError> {
        self.op("reading an NFT", |l| client::fetch_nft(l, mint))
    }

    /// Whether an account exists at `key`.
    pub fn exists(&self, key: &Pubkey) -> Result<bool, PipelineError> {
        Ok(self.account(key)?.is_some())
    }

    pub fn balance(&self, key: &Pubkey) -> Result<u64, PipelineError> {
        self.retry(|| self.ledger.balance(key))
    }

    pub fn now(&self) -> Result<i64, PipelineError> {
        self.retry(|| self.ledger.now())
    }
}

/// The wallet that signs and pays: `explicit`, else the sandbox's project wallet
/// (`<project>/keys/artist.json`, made on first use), else the Solana CLI's default keypair.
pub fn resolve_wallet(
    network: &Network,
    project_root: Option<&Path>,
    explicit: Option<&Path>,
) -> Result<Keypair, PipelineError> {
    if let Some(path) = explicit {
        return Ok(wallet::read_keypair(path)?);
    }
    match (network, project_root) {
        (Network::Sandbox, Some(root)) => keys::load_or_create(&keys::key_path(root, keys::ARTIST_KEY)),
        (Network::Sandbox, None) => Err(PipelineError::Invalid(
            "the sandbox wallet lives in a project: pass --project DIR or --wallet KEYPAIR".into(),
        )),
        _ => wallet::read_default_keypair().map_err(|e| {
            PipelineError::Network(format!(
                "{e}; pass --wallet KEYPAIR or create one with `chrysalis wallet new ~/.config/solana/id.json`"
            ))
        }),
    }
}

/// Parses a network name, with the error naming the choices.
pub fn parse_network(text: &str) -> Result<Network, PipelineError> {
    Network::from_str(text).map_err(|e| PipelineError::Network(e.to_string()))
}

/// Parses a base-58 address, naming `what` in the error.
pub fn parse_pubkey(text: &str, what: &str) -> Result<Pubkey, PipelineError> {
    Pubkey::from_str(text.trim())
        .map_err(|e| PipelineError::Invalid(format!("{what} {text:?} is not a Solana address: {e}")))
}
