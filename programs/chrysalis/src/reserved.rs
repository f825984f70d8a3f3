//! Addresses the runtime reserves: the system program (the all-zero key), the sysvars and the
//! built-in programs. A transaction that marks one of them writable gets it demoted to
//! read-only, so paying one always fails: as a creator, such an address would make every
//! payout to it fail. `create_collection` refuses them (the list is the runtime's
//! reserved-account list, agave-reserved-account-keys 3.1). Programs and program-owned
//! accounts cannot be told apart from their address: the client refuses those before it
//! sends `create_collection`, and a payout skips any creator it cannot pay.

use anchor_lang::prelude::*;

/// Every reserved address, built-in programs first, then the sysvars.
pub const RESERVED: [Pubkey; 31] = [
    pubkey!("11111111111111111111111111111111"),
    pubkey!("AddressLookupTab1e1111111111111111111111111"),
    pubkey!("BPFLoader2111111111111111111111111111111111"),
    pubkey!("BPFLoader1111111111111111111111111111111111"),
    pubkey!("BPFLoaderUpgradeab1e11111111111111111111111"),
    pubkey!("ComputeBudget111111111111111111111111111111"),
    pubkey!("Config1111111111111111111111111111111111111"),
    pubkey!("Ed25519SigVerify111111111111111111111111111"),
    pubkey!("Feature111111111111111111111111111111111111"),
    pubkey!("LoaderV411111111111111111111111111111111111"),
    pubkey!("KeccakSecp256k11111111111111111111111111111"),
    pubkey!("Secp256r1SigVerify1111111111111111111111111"),
    pubkey!("StakeConfig11111111111111111111111111111111"),
    pubkey!("Stake11111111111111111111111111111111111111"),
    pubkey!("Vote111111111111111111111111111111111111111"),
    pubkey!("ZkE1Gama1Proof11111111111111111111111111111"),
    pubkey!("ZkTokenProof1111111111111111111111111111111"),
    pubkey!("NativeLoader1111111111111111111111111111111"),
    pubkey!("Sysvar1111111111111111111111111111111111111"),
    pubkey!("SysvarC1ock11111111111111111111111111111111"),
    pubkey!("SysvarEpochRewards1111111111111111111111111"),
    pubkey!("SysvarEpochSchedu1e111111111111111111111111"),
    pubkey!("SysvarFees111111111111111111111111111111111"),
    pubkey!("Sysvar1nstructions1111111111111111111111111"),
    pubkey!("SysvarLastRestartS1ot1111111111111111111111"),
    pubkey!("SysvarRecentB1ockHashes11111111111111111111"),
    pubkey!("SysvarRent111111111111111111111111111111111"),
    pubkey!("SysvarRewards111111111111111111111111111111"),
    pubkey!("SysvarS1otHashes111111111111111111111111111"),
    pubkey!("SysvarS1otHistory11111111111111111111111111"),
    pubkey!("SysvarStakeHistory1111111111111111111111111"),
];

/// Whether `key` is reserved by the runtime.
pub fn is_reserved(key: &Pubkey) -> bool {
    RESERVED.contains(key)
}
