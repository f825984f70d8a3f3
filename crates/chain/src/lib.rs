//! The Solana side of Chrysalis: the program client, wallets and the `Ledger` trait with its
//! RPC and in-process sandbox backends.
