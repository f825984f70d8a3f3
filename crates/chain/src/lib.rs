//! The Solana side of Chrysalis: the program client, wallets and the `Ledger` trait with its
//! RPC and in-process sandbox backends.
//!
//! - [`wallet`]: Solana CLI keypair files and the CLI's `config.yml` RPC URL.
//! - [`ledger`]: the synchronous [`Ledger`] interface the pipeline uses.
//! - [`sandbox`]: the embedded backend, a solana-program-test bank running our program natively.

pub mod ledger;
pub mod sandbox;
pub mod wallet;

pub use ledger::{AccountData, Ledger, LedgerError};
pub use sandbox::Sandbox;
pub use wallet::WalletError;

/// Re-exported so callers can name keys, signers and transactions without extra dependencies.
pub use solana_keypair::Keypair;
pub use solana_pubkey::Pubkey;
pub use solana_signer::Signer;
pub use solana_transaction::{Signature, Transaction, TransactionError};
