//! The Solana side of Chrysalis: the program client, wallets and the `Ledger` trait with its
//! RPC and in-process sandbox backends.
//!
//! - [`wallet`]: Solana CLI keypair files and the CLI's `config.yml` RPC URL.
//! - [`ledger`]: the synchronous [`Ledger`] interface the pipeline uses.
//! - [`sandbox`]: the embedded backend, a solana-program-test bank running our program natively.
//! - [`rpc`]: the backend of a real cluster over JSON-RPC (retries, rate limit, no double send).
//! - [`network`]: cluster names/URLs and [`connect`].
//! - [`program`]: instruction builders for every instruction of the program.
//! - [`client`]: typed, idempotent operations and readers over any [`Ledger`].
//! - `testkit` (feature `testkit`): a fault-injecting RPC server and `FaultyLedger` for tests.
//!
//! The instruction and account types come from the program crate itself (`chrysalis`,
//! feature `no-entrypoint`), so client and program cannot drift apart. The operations in
//! [`client`] read the chain first and send only what is missing, so a rerun never creates,
//! mints or evolves twice.
//!
//! Chain never reads images or the metadata files it points at: it deals in addresses,
//! instructions, accounts and 32-byte hashes, and depends on neither chrysalis-art nor
//! chrysalis-storage. Its I/O is the cluster (JSON-RPC over blocking HTTP), keypair files,
//! the Solana CLI's config and the sandbox's state file.
//!
//! Start reading at [`ledger`], then [`client`].

pub mod client;
pub mod ledger;
pub mod network;
pub mod program;
pub mod rpc;
pub mod sandbox;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod wallet;

pub use client::{ChainError, CollectionState, CostEstimate, NftState};
pub use ledger::{AccountData, Ledger, LedgerError};
pub use network::{Network, UnknownNetwork, connect};
pub use rpc::{Commitment, RpcLedger, RpcOptions};
pub use sandbox::Sandbox;
pub use wallet::WalletError;

/// Re-exported so callers can name keys, signers and transactions without extra dependencies.
pub use solana_keypair::Keypair;
pub use solana_pubkey::Pubkey;
pub use solana_signer::Signer;
pub use solana_transaction::{Signature, Transaction, TransactionError};
