//! The `Ledger` interface: everything the pipeline needs from a Solana cluster, synchronous
//! (the CLI has no async runtime; a backend may own one internally).

use anchor_lang::prelude::Clock;
use solana_hash::Hash;
use solana_instruction::Instruction;
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use solana_transaction::{Signature, Transaction, TransactionError};

/// An account as the ledger holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountData {
    pub lamports: u64,
    pub owner: Pubkey,
    pub data: Vec<u8>,
    pub executable: bool,
}

/// Why a ledger call failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The transaction was processed (or simulated) and failed: nothing it does took effect.
    #[error("transaction {signature} failed: {error}")]
    Failed { signature: Signature, error: TransactionError },
    /// `send` needs at least one signer: the first one pays the fee.
    #[error("a transaction needs at least one signer (the fee payer)")]
    NoSigner,
    /// Signing failed (a signer the message does not need, or one it needs is missing).
    #[error("cannot sign the transaction: {0}")]
    Sign(String),
    /// The backend itself failed (I/O, RPC, the bank).
    #[error("ledger backend error: {0}")]
    Backend(String),
    /// Saving or loading the sandbox state.
    #[error("sandbox state {path}: {reason}")]
    State { path: std::path::PathBuf, reason: String },
    /// This backend cannot do that (e.g. warping the clock of a real cluster).
    #[error("{0}")]
    Unsupported(String),
    /// The transaction was sent but no outcome was seen before the deadline. It may still
    /// land while its blockhash is valid: check its signature (or simply re-run the operation,
    /// which reconciles with the chain first) before sending anything again.
    #[error(
        "transaction {signature} was not confirmed within {waited_s} s; it may still land: \
         re-run the operation (it checks the chain first) rather than sending a new one"
    )]
    Unconfirmed { signature: Signature, waited_s: u64 },
    /// The transaction's blockhash expired and the cluster never saw its signature: it can
    /// never land. Signing the same instructions again with a fresh blockhash is safe.
    #[error("transaction {signature} expired unprocessed (its blockhash is no longer valid)")]
    Expired { signature: Signature },
}

impl LedgerError {
    /// Whether the operation may simply be retried later (network trouble, a deadline) as
    /// opposed to a definite refusal ([`LedgerError::Failed`], bad input).
    pub fn is_transient(&self) -> bool {
        matches!(self, LedgerError::Backend(_) | LedgerError::Unconfirmed { .. } | LedgerError::Expired { .. })
    }
}

/// The chain as the pipeline sees it. Every call blocks until it has an answer.
pub trait Ledger {
    /// Lamports held by `pubkey` (0 for an account that does not exist).
    fn balance(&self, pubkey: &Pubkey) -> Result<u64, LedgerError>;

    /// Gives `lamports` to `pubkey` (sandbox: from the bank's payer; devnet: the faucet).
    fn airdrop(&self, pubkey: &Pubkey, lamports: u64) -> Result<Signature, LedgerError>;

    /// The account at `pubkey`, if it exists.
    fn get_account(&self, pubkey: &Pubkey) -> Result<Option<AccountData>, LedgerError>;

    /// A recent blockhash to sign transactions with.
    fn latest_blockhash(&self) -> Result<Hash, LedgerError>;

    /// Sends an already signed transaction, idempotently: if its signature has already been
    /// processed it is not sent again, and the earlier outcome is returned (`Ok` for a
    /// success, [`LedgerError::Failed`] for a failure). Returns once it is confirmed.
    fn send_transaction(&self, tx: &Transaction) -> Result<Signature, LedgerError>;

    /// Builds, signs and sends one transaction of `instructions`; `signers[0]` pays the fee.
    ///
    /// The transaction is signed with [`latest_blockhash`](Ledger::latest_blockhash): the same
    /// instructions and signers sent twice within one blockhash's lifetime make the same
    /// transaction (same signature), which [`send_transaction`](Ledger::send_transaction)
    /// processes once. Callers that mean a second, equal transfer must wait for a new
    /// blockhash (the sandbox's [`airdrop`](Ledger::airdrop) does).
    fn send(&self, instructions: &[Instruction], signers: &[&dyn Signer]) -> Result<Signature, LedgerError> {
        let tx = sign(instructions, signers, self.latest_blockhash()?)?;
        self.send_transaction(&tx)
    }

    /// The cluster's clock sysvar.
    fn clock(&self) -> Result<Clock, LedgerError>;

    /// The cluster's unix time (the clock sysvar's `unix_timestamp`), in seconds.
    fn now(&self) -> Result<i64, LedgerError> {
        Ok(self.clock()?.unix_timestamp)
    }

    /// What a transaction with this signature became: `None` if the ledger has not seen it,
    /// `Some(Ok(()))` if it succeeded, `Some(Err(e))` if it was processed and failed.
    fn signature_status(&self, signature: &Signature) -> Result<Option<Result<(), TransactionError>>, LedgerError>;

    /// Moves the clock `seconds` forward and returns the new clock. Only the sandbox can.
    fn warp_forward(&self, seconds: i64) -> Result<Clock, LedgerError> {
        let _ = seconds;
        Err(LedgerError::Unsupported(format!(
            "clock warp is only available in the sandbox (this ledger is {})",
            self.name()
        )))
    }

    /// The priority fee (lamports) this ledger adds to every transaction it signs through
    /// [`send`](Ledger::send), for cost estimates. 0 unless configured (RPC).
    fn priority_fee_lamports(&self) -> u64 {
        0
    }

    /// A short human name of the backend for logs and the UI, e.g. `sandbox (/path)` or
    /// `rpc https://api.devnet.solana.com`.
    fn name(&self) -> String {
        "ledger".to_string()
    }
}

/// Every `&L`, `Box<L>` and `Arc<L>` of a ledger is a ledger too, so wrappers (the test kit's
/// `FaultyLedger`) and owners can hold whichever they like.
macro_rules! forward_ledger {
    ($($ty:ty),*) => {$(
        impl<L: Ledger + ?Sized> Ledger for $ty {
            fn balance(&self, pubkey: &Pubkey) -> Result<u64, LedgerError> {
                (**self).balance(pubkey)
            }
            fn airdrop(&self, pubkey: &Pubkey, lamports: u64) -> Result<Signature, LedgerError> {
                (**self).airdrop(pubkey, lamports)
            }
            fn get_account(&self, pubkey: &Pubkey) -> Result<Option<AccountData>, LedgerError> {
                (**self).get_account(pubkey)
            }
            fn latest_blockhash(&self) -> Result<Hash, LedgerError> {
                (**self).latest_blockhash()
            }
            fn send_transaction(&self, tx: &Transaction) -> Result<Signature, LedgerError> {
                (**self).send_transaction(tx)
            }
            fn send(
                &self,
                instructions: &[Instruction],
                signers: &[&dyn Signer],
            ) -> Result<Signature, LedgerError> {
                (**self).send(instructions, signers)
            }
            fn clock(&self) -> Result<Clock, LedgerError> {
                (**self).clock()
            }
            fn now(&self) -> Result<i64, LedgerError> {
                (**self).now()
            }
            fn signature_status(
                &self,
                signature: &Signature,
            ) -> Result<Option<Result<(), TransactionError>>, LedgerError> {
                (**self).signature_status(signature)
            }
            fn warp_forward(&self, seconds: i64) -> Result<Clock, LedgerError> {
                (**self).warp_forward(seconds)
            }
            fn name(&self) -> String {
                (**self).name()
            }
            fn priority_fee_lamports(&self) -> u64 {
                (**self).priority_fee_lamports()
            }
        }
    )*};
}
forward_ledger!(&L, Box<L>, std::sync::Arc<L>);

/// Solana's limit on a serialized transaction (an IPv6 packet minus headers).
pub const PACKET_DATA_SIZE: usize = 1232;
/// Room kept for the Compute Budget instructions an RPC ledger puts in front (two of them,
/// with the Compute Budget program's key: under 100 bytes).
const COMPUTE_BUDGET_ROOM: usize = 100;

/// Whether `instruction`, alone in a transaction that `payer` pays and signs, fits one packet
/// with room for the Compute Budget instructions.
pub fn fits_one_packet(instruction: &Instruction, payer: &Pubkey) -> bool {
    let tx = Transaction::new_with_payer(std::slice::from_ref(instruction), Some(payer));
    let signatures = usize::from(tx.message.header.num_required_signatures);
    // A short-vec length (1 byte below 128), then 64 bytes per signature, then the message.
    let size = 1 + 64 * signatures + tx.message.serialize().len();
    size + COMPUTE_BUDGET_ROOM <= PACKET_DATA_SIZE
}

/// A transaction of `instructions` signed by `signers`, the first of which pays the fee.
pub fn sign(
    instructions: &[Instruction],
    signers: &[&dyn Signer],
    blockhash: Hash,
) -> Result<Transaction, LedgerError> {
    let payer = signers.first().ok_or(LedgerError::NoSigner)?.pubkey();
    let mut tx = Transaction::new_with_payer(instructions, Some(&payer));
    tx.try_sign(signers, blockhash).map_err(|e| LedgerError::Sign(e.to_string()))?;
    Ok(tx)
}
