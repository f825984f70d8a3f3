//! The embedded ledger: an in-process solana-program-test bank running the Chrysalis program
//! natively (`processor!`, `prefer_bpf(false)`) next to the real SPL Token-2022 / Token / ATA
//! SBF binaries that solana-program-test ships.
//!
//! The bank lives on a tokio runtime the sandbox owns; every [`Ledger`] call blocks on it, so
//! callers need no async runtime (and must not call it from inside one).
//!
//! **Persistence.** [`Sandbox::open`] keeps its state in `<dir>/sandbox.json`: after every
//! state change the accounts that transactions touched (except programs, sysvars and the
//! bank's throw-away payer) and the clock's unix time are written there atomically, and the
//! next `open` puts them back into a fresh bank. Transaction history and signatures are not
//! kept: a reopened sandbox reports earlier signatures as unknown.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use anchor_lang::prelude::Clock;
use anchor_lang::solana_program::system_instruction;
use serde::{Deserialize, Serialize};
use solana_hash::Hash;
use solana_program_test::{
    BanksClient, BanksClientError, ProgramTest, ProgramTestBanksClientExt, ProgramTestContext, processor,
};
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use solana_transaction::{Signature, Transaction, TransactionError};

use crate::ledger::{AccountData, Ledger, LedgerError, sign};

/// File name of the saved state inside the directory given to [`Sandbox::open`].
pub const STATE_FILE: &str = "sandbox.json";
const STATE_VERSION: u32 = 1;
/// Default slot length (ms) used to turn a warp in seconds into slots.
const MS_PER_SLOT: i64 = 400;

/// Owners whose accounts belong to the bank itself (programs, program data, sysvars): never
/// saved, the bank recreates them.
const BANK_OWNERS: [&str; 6] = [
    "NativeLoader1111111111111111111111111111111",
    "Sysvar1111111111111111111111111111111111111",
    "BPFLoader1111111111111111111111111111111111",
    "BPFLoader2111111111111111111111111111111111",
    "BPFLoaderUpgradeab1e11111111111111111111111",
    "LoaderV411111111111111111111111111111111111",
];

/// The in-process sandbox ledger. See the module documentation.
pub struct Sandbox {
    // Field order is drop order: the bank context goes before the runtime that drives it.
    ctx: Mutex<ProgramTestContext>,
    persist: Option<Persist>,
    rt: tokio::runtime::Runtime,
}

struct Persist {
    path: PathBuf,
    /// Last known state of every account a transaction touched (None: it does not exist).
    accounts: Mutex<BTreeMap<Pubkey, Option<AccountData>>>,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    unix_timestamp: i64,
    accounts: Vec<SavedAccount>,
}

#[derive(Serialize, Deserialize)]
struct SavedAccount {
    pubkey: String,
    lamports: u64,
    owner: String,
    /// Standard base64.
    data: String,
}

fn backend(e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Backend(e.to_string())
}

impl Sandbox {
    /// A fresh sandbox whose state is dropped with it.
    pub fn new() -> Result<Self, LedgerError> {
        Self::start(None)
    }

    /// Opens the sandbox kept in `dir` (created if needed): the accounts and clock saved there
    /// by an earlier sandbox are restored, and every later change is saved there again.
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        fs::create_dir_all(dir).map_err(|e| LedgerError::State { path: dir.to_owned(), reason: e.to_string() })?;
        Self::start(Some(dir.join(STATE_FILE)))
    }

    fn start(state_path: Option<PathBuf>) -> Result<Self, LedgerError> {
        let saved = match &state_path {
            Some(path) => load_state(path)?,
            None => None,
        };
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(backend)?;
        let mut pt = ProgramTest::new("chrysalis", chrysalis::ID, processor!(chrysalis::process_instruction));
        pt.prefer_bpf(false);
        let mut known = BTreeMap::new();
        let mut saved_time = None;
        if let Some(state) = saved {
            saved_time = Some(state.unix_timestamp);
            for (pubkey, account) in state.accounts {
                pt.add_account_with_base64_data(pubkey, account.lamports, account.owner, &base64_encode(&account.data));
                known.insert(pubkey, Some(account));
            }
        }
        let ctx = rt.block_on(pt.start_with_context());
        let sandbox = Sandbox {
            ctx: Mutex::new(ctx),
            persist: state_path.map(|path| Persist { path, accounts: Mutex::new(known) }),
            rt,
        };
        if let Some(t) = saved_time {
            let now = sandbox.now()?;
            if t > now {
                sandbox.warp_forward(t - now)?;
            }
        }
        Ok(sandbox)
    }

    fn banks(&self) -> BanksClient {
        self.lock().banks_client.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProgramTestContext> {
        // A panic while holding the lock leaves the context usable: take it back.
        self.ctx.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The bank's funded payer (airdrops come from it).
    pub fn payer(&self) -> Pubkey {
        self.lock().payer.pubkey()
    }

    /// A blockhash different from `after`, waiting for the bank to produce one (the test kit's
    /// RPC server uses it to replace a blockhash it declared expired).
    pub fn new_blockhash(&self, after: &Hash) -> Result<Hash, LedgerError> {
        let mut banks = self.banks();
        self.rt.block_on(banks.get_new_latest_blockhash(after)).map_err(backend)
    }

    /// Where this sandbox saves its state, if it is persistent.
    pub fn state_path(&self) -> Option<&Path> {
        self.persist.as_ref().map(|p| p.path.as_path())
    }

    /// Moves the clock `seconds` forward: warps the bank to a later slot (about one per 400 ms,
    /// at least one) and sets the clock sysvar's `unix_timestamp` to the old time + `seconds`.
    /// Returns the new clock. `seconds` must be positive.
    pub fn warp_forward(&self, seconds: i64) -> Result<Clock, LedgerError> {
        if seconds <= 0 {
            return Err(LedgerError::Backend(format!(
                "warp_forward needs a positive number of seconds, got {seconds}"
            )));
        }
        let clock = {
            let mut ctx = self.lock();
            let banks = ctx.banks_client.clone();
            let before: Clock = self.rt.block_on(banks.get_sysvar()).map_err(backend)?;
            let slots = (seconds.saturating_mul(1000) / MS_PER_SLOT).max(1) as u64;
            ctx.warp_to_slot(before.slot.saturating_add(slots)).map_err(backend)?;
            let mut clock: Clock = self.rt.block_on(banks.get_sysvar()).map_err(backend)?;
            clock.unix_timestamp = before.unix_timestamp.saturating_add(seconds);
            ctx.set_sysvar(&clock);
            clock
        };
        self.save()?;
        Ok(clock)
    }

    /// Writes the state file now (a no-op for a non-persistent sandbox). Called after every
    /// change; atomic (temporary file + rename), so a kill leaves the previous or the new state.
    pub fn save(&self) -> Result<(), LedgerError> {
        let Some(persist) = &self.persist else {
            return Ok(());
        };
        let unix_timestamp = self.now()?;
        let accounts = persist.accounts.lock().unwrap_or_else(|p| p.into_inner());
        let state = StateFile {
            version: STATE_VERSION,
            unix_timestamp,
            accounts: accounts
                .iter()
                .filter_map(|(k, a)| a.as_ref().map(|a| (k, a)))
                .map(|(k, a)| SavedAccount {
                    pubkey: k.to_string(),
                    lamports: a.lamports,
                    owner: a.owner.to_string(),
                    data: base64_encode(&a.data),
                })
                .collect(),
        };
        let serr = |e: &dyn std::fmt::Display| LedgerError::State { path: persist.path.clone(), reason: e.to_string() };
        let json = serde_json::to_vec(&state).map_err(|e| serr(&e))?;
        let tmp = persist.path.with_extension("json.tmp");
        fs::write(&tmp, json)
            .and_then(|()| fs::File::open(&tmp)?.sync_all())
            .and_then(|()| fs::rename(&tmp, &persist.path))
            .map_err(|e| serr(&e))
    }

    /// Refreshes the remembered state of `keys` and saves (persistent sandboxes only).
    fn record(&self, keys: &[Pubkey]) -> Result<(), LedgerError> {
        let Some(persist) = &self.persist else {
            return Ok(());
        };
        let payer = self.payer();
        let bank_owners: Vec<Pubkey> =
            BANK_OWNERS.iter().map(|s| Pubkey::from_str(s).expect("valid builtin id")).collect();
        let mut fresh = Vec::new();
        for key in keys.iter().filter(|k| **k != payer) {
            let account = self.get_account(key)?;
            let keep = match &account {
                Some(a) => !a.executable && !bank_owners.contains(&a.owner),
                None => true,
            };
            if keep {
                fresh.push((*key, account));
            }
        }
        persist.accounts.lock().unwrap_or_else(|p| p.into_inner()).extend(fresh);
        self.save()
    }

    fn status(&self, signature: &Signature) -> Result<Option<Result<(), TransactionError>>, LedgerError> {
        let status = self.rt.block_on(self.banks().get_transaction_status(*signature)).map_err(backend)?;
        Ok(status.map(|s| match s.err {
            None => Ok(()),
            Some(e) => Err(e),
        }))
    }
}

impl Ledger for Sandbox {
    fn balance(&self, pubkey: &Pubkey) -> Result<u64, LedgerError> {
        self.rt.block_on(self.banks().get_balance(*pubkey)).map_err(backend)
    }

    fn airdrop(&self, pubkey: &Pubkey, lamports: u64) -> Result<Signature, LedgerError> {
        let payer = self.lock().payer.insecure_clone();
        let ix = system_instruction::transfer(&payer.pubkey(), pubkey, lamports);
        let signers: [&dyn Signer; 1] = [&payer];
        let mut blockhash = self.latest_blockhash()?;
        // Two equal airdrops in one slot would be the same transaction (and deduplicated):
        // wait for a new blockhash instead.
        loop {
            let tx = sign(std::slice::from_ref(&ix), &signers, blockhash)?;
            if self.status(&tx.signatures[0])?.is_none() {
                return self.send_transaction(&tx);
            }
            let mut banks = self.banks();
            blockhash = self.rt.block_on(banks.get_new_latest_blockhash(&blockhash)).map_err(backend)?;
        }
    }

    fn get_account(&self, pubkey: &Pubkey) -> Result<Option<AccountData>, LedgerError> {
        let account = self.rt.block_on(self.banks().get_account(*pubkey)).map_err(backend)?;
        Ok(account.map(|a| AccountData {
            lamports: a.lamports,
            owner: a.owner,
            data: a.data,
            executable: a.executable,
        }))
    }

    fn latest_blockhash(&self) -> Result<Hash, LedgerError> {
        self.rt.block_on(self.banks().get_latest_blockhash()).map_err(backend)
    }

    fn send_transaction(&self, tx: &Transaction) -> Result<Signature, LedgerError> {
        let signature = *tx.signatures.first().ok_or(LedgerError::NoSigner)?;
        // Already processed: report the earlier outcome, do not send again.
        if let Some(outcome) = self.status(&signature)? {
            return outcome.map(|()| signature).map_err(|error| LedgerError::Failed { signature, error });
        }
        let result = self.rt.block_on(self.banks().process_transaction(tx.clone()));
        // Fees are charged even when the transaction fails: record in both cases.
        self.record(&tx.message.account_keys)?;
        match result {
            Ok(()) => Ok(signature),
            Err(BanksClientError::TransactionError(TransactionError::AlreadyProcessed)) => {
                match self.status(&signature)? {
                    Some(Err(error)) => Err(LedgerError::Failed { signature, error }),
                    _ => Ok(signature),
                }
            }
            Err(BanksClientError::TransactionError(error))
            | Err(BanksClientError::SimulationError { err: error, .. }) => {
                Err(LedgerError::Failed { signature, error })
            }
            Err(e) => Err(backend(e)),
        }
    }

    fn clock(&self) -> Result<Clock, LedgerError> {
        self.rt.block_on(self.banks().get_sysvar::<Clock>()).map_err(backend)
    }

    fn signature_status(&self, signature: &Signature) -> Result<Option<Result<(), TransactionError>>, LedgerError> {
        self.status(signature)
    }

    fn warp_forward(&self, seconds: i64) -> Result<Clock, LedgerError> {
        Sandbox::warp_forward(self, seconds)
    }

    fn name(&self) -> String {
        match self.state_path() {
            Some(path) => format!("sandbox ({})", path.display()),
            None => "sandbox (in memory)".to_string(),
        }
    }
}

struct LoadedState {
    unix_timestamp: i64,
    accounts: Vec<(Pubkey, AccountData)>,
}

/// Reads a saved state; `Ok(None)` when there is none yet. A damaged file is an error naming
/// it (never silently replaced by an empty sandbox).
fn load_state(path: &Path) -> Result<Option<LoadedState>, LedgerError> {
    let serr = |reason: String| LedgerError::State { path: path.to_owned(), reason };
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(serr(e.to_string())),
    };
    let state: StateFile = serde_json::from_slice(&bytes).map_err(|e| serr(e.to_string()))?;
    if state.version != STATE_VERSION {
        return Err(serr(format!("unsupported version {} (expected {STATE_VERSION})", state.version)));
    }
    let mut accounts = Vec::with_capacity(state.accounts.len());
    for a in state.accounts {
        let key = |s: &str| Pubkey::from_str(s).map_err(|e| serr(format!("bad public key {s:?}: {e}")));
        let pubkey = key(&a.pubkey)?;
        let owner = key(&a.owner)?;
        let data = base64_decode(&a.data).ok_or_else(|| serr(format!("account {pubkey}: data is not valid base64")))?;
        accounts.push((pubkey, AccountData { lamports: a.lamports, owner, data, executable: false }));
    }
    Ok(Some(LoadedState { unix_timestamp: state.unix_timestamp, accounts }))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(B64[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard padded base64; `None` if it is not.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (ci, chunk) in bytes.chunks(4).enumerate() {
        let last = ci + 1 == bytes.len() / 4;
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            let v = B64.iter().position(|b| *b == c)? as u32;
            n = (n << 6) | v;
        }
        n <<= 6 * pad as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_known_vectors() {
        for (raw, enc) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(raw), enc);
            assert_eq!(base64_decode(enc).as_deref(), Some(raw));
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)), Some(all));
        for bad in ["Zg=", "Z===", "Zg==Zm8=", "Zm9*", "===="] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }
}
