//! [`RpcLedger`]: the [`Ledger`] of a real cluster (localnet, devnet, mainnet-beta or any RPC
//! URL), over Solana's JSON-RPC.
//!
//! **Why our own small JSON-RPC client** (over ureq, blocking) rather than the
//! `solana-rpc-client` that anchor-client brings: we must see the HTTP layer itself, i.e. the
//! status code and `Retry-After` of a 429, a 5xx, a timeout as opposed to a refusal, and decide
//! per call whether a retry is safe. `solana-rpc-client` folds these into one error type, and
//! its blocking client drives a tokio runtime of its own (which must not be dropped inside
//! another one; the desktop app runs one). Eight methods are all we need: `getBalance`,
//! `getAccountInfo`, `getLatestBlockhash`, `getBlockHeight`, `isBlockhashValid`,
//! `sendTransaction`, `getSignatureStatuses`, `requestAirdrop`.
//!
//! **Transport.** Every request waits its turn under a rate limit
//! ([`RpcOptions::max_requests_per_second`]; public endpoints allow about 10/s per client).
//! Read-only calls that fail transiently (a timeout, a dropped connection, HTTP 429 or 5xx,
//! "node is behind") are retried up to [`RpcOptions::max_retries`] times with exponential
//! backoff and jitter, waiting at least as long as a `Retry-After` header asks.
//!
//! **No transaction is ever applied twice.** A Solana transaction is identified by its first
//! signature, and the runtime refuses a signature it has already processed, so *re-sending the
//! same signed bytes is always safe*. Signing the same instructions again with a new blockhash
//! is not: that is a different transaction, which would mint or pay a second time if the first
//! one landed after all. So [`RpcLedger::send_transaction`] works like this:
//!
//! 1. Query the signature's status. Seen (at any commitment)? Then never send again: wait for
//!    it to reach the configured commitment and report its outcome.
//! 2. Not seen: (re)send the same signed transaction, then poll its status.
//! 3. Before any resend, query the status again (step 1), then ask whether the transaction's
//!    blockhash has expired: for a blockhash this ledger handed out, whether the block height
//!    passed the `lastValidBlockHeight` that came with it (a lagging node reports a lower
//!    height: it errs on the safe side); for any other, `isBlockhashValid`. Both are asked at
//!    the commitment the blockhash was fetched at, at least `confirmed`
//!    ([`RpcLedger::expiry_commitment`]): every later block descends from that bank, so once it
//!    sees the blockhash expired the transaction can never land. (Asking at `finalized` would
//!    be wrong the other way round: the finalized bank, ~32 slots behind, does not know a fresh
//!    blockhash yet.) Query the status one last time (it may have landed just before); still
//!    unknown means it never will: report [`LedgerError::Expired`].
//! 4. A lost answer (a timeout after the node processed it) is just "not seen yet": the next
//!    status query finds it.
//!
//! Only [`RpcLedger::send`] (which owns the instructions and signers) reacts to
//! [`LedgerError::Expired`] by signing again with a fresh blockhash: the one case where that
//! is provably safe. If the deadline ([`RpcOptions::confirm_timeout`]) passes first, it reports
//! [`LedgerError::Unconfirmed`] and sends nothing more; the client operations in
//! [`crate::client`] reconcile with the chain when re-run.
//!
//! Transactions given to [`RpcLedger::send_transaction`] must be signed with a blockhash
//! from this ledger's [`latest_blockhash`](Ledger::latest_blockhash) (or an older one), which
//! is fetched at the same commitment as the expiry check.
//!
//! **Blocking.** Every call blocks the calling thread (HTTP, sleeps between polls): call it
//! from plain threads, or `spawn_blocking` inside an async runtime.
//!
//! **Priority fees.** With [`RpcOptions::priority_fee_micro_lamports`] (and/or
//! [`RpcOptions::compute_unit_limit`]) `send` prepends the Compute Budget program's
//! `SetComputeUnitLimit` / `SetComputeUnitPrice` instructions.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anchor_lang::prelude::Clock;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use solana_hash::Hash;
use solana_instruction::Instruction;
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use solana_transaction::{Signature, Transaction, TransactionError};

use crate::ledger::{AccountData, Ledger, LedgerError, sign};

/// The Compute Budget program.
pub const COMPUTE_BUDGET_ID: Pubkey = anchor_lang::pubkey!("ComputeBudget111111111111111111111111111111");
/// Compute units a transaction may use when no limit is set (per instruction, Solana's default).
pub const DEFAULT_COMPUTE_UNIT_LIMIT: u32 = 200_000;

/// How final an answer must be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Commitment {
    Processed,
    #[default]
    Confirmed,
    Finalized,
}

impl Commitment {
    pub fn as_str(self) -> &'static str {
        match self {
            Commitment::Processed => "processed",
            Commitment::Confirmed => "confirmed",
            Commitment::Finalized => "finalized",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "processed" => Some(Commitment::Processed),
            "confirmed" => Some(Commitment::Confirmed),
            "finalized" => Some(Commitment::Finalized),
            _ => None,
        }
    }
}

/// How an [`RpcLedger`] talks to its node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RpcOptions {
    /// Reads are made, and sends confirmed, at this commitment.
    pub commitment: Commitment,
    /// Priority fee (micro-lamports per compute unit) added to every transaction `send` signs.
    pub priority_fee_micro_lamports: Option<u64>,
    /// Compute unit limit set on every transaction `send` signs.
    pub compute_unit_limit: Option<u32>,
    /// At most this many requests per second (`None`: no limit).
    pub max_requests_per_second: Option<u32>,
    /// Retries of a transiently failing request, and re-signings of an expired transaction.
    pub max_retries: u32,
    /// How long a transaction may take to confirm before `send` gives up (and reports
    /// [`LedgerError::Unconfirmed`]).
    pub confirm_timeout: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Pause between two status queries of a pending transaction.
    pub poll_interval: Duration,
    /// How long to wait for a sent transaction before sending it again.
    pub resend_interval: Duration,
    /// First backoff delay (doubled per retry, with jitter) and its ceiling.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for RpcOptions {
    fn default() -> Self {
        RpcOptions {
            commitment: Commitment::Confirmed,
            priority_fee_micro_lamports: None,
            compute_unit_limit: None,
            max_requests_per_second: Some(10),
            max_retries: 5,
            confirm_timeout: Duration::from_secs(90),
            request_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            resend_interval: Duration::from_secs(2),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(10),
        }
    }
}

impl RpcOptions {
    /// The priority fee in lamports one transaction pays with these options.
    pub fn priority_fee_lamports(&self) -> u64 {
        let Some(price) = self.priority_fee_micro_lamports else {
            return 0;
        };
        let limit = u128::from(self.compute_unit_limit.unwrap_or(DEFAULT_COMPUTE_UNIT_LIMIT));
        let micro = limit * u128::from(price);
        u64::try_from(micro.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }

    /// The Compute Budget instructions these options put in front of a transaction of
    /// `instructions`: the compute unit limit set in the options, else one sized from
    /// [`compute_units_for`] (so a priority fee is paid on what the transaction can use, not on
    /// 200 000 CU per instruction), and the priority fee when one is set.
    pub fn compute_budget_instructions(&self, instructions: &[Instruction]) -> Vec<Instruction> {
        let mut ixs = Vec::new();
        if let Some(limit) = self.compute_unit_limit.or_else(|| compute_units_for(instructions)) {
            let mut data = vec![2u8];
            data.extend_from_slice(&limit.to_le_bytes());
            ixs.push(Instruction { program_id: COMPUTE_BUDGET_ID, accounts: Vec::new(), data });
        }
        if let Some(price) = self.priority_fee_micro_lamports {
            let mut data = vec![3u8];
            data.extend_from_slice(&price.to_le_bytes());
            ixs.push(Instruction { program_id: COMPUTE_BUDGET_ID, accounts: Vec::new(), data });
        }
        ixs
    }
}

/// The compute unit limit a transaction of `instructions` needs: each of our program's
/// instructions its budget (`chrysalis::compute`), each System program instruction 1 000 CU
/// (a transfer uses 150). `None` when another program is involved (its needs are unknown: the
/// runtime's default applies) or for no instruction at all.
pub fn compute_units_for(instructions: &[Instruction]) -> Option<u32> {
    let system = anchor_lang::system_program::ID;
    let mut total: u32 = 0;
    for ix in instructions {
        let units = if ix.program_id == crate::program::PROGRAM_ID {
            chrysalis::compute::budget_for(&ix.data)?
        } else if ix.program_id == system {
            1_000
        } else {
            return None;
        };
        total = total.saturating_add(units);
    }
    (total > 0).then(|| total.min(MAX_COMPUTE_UNIT_LIMIT))
}

/// The most compute units one transaction may ask for.
pub const MAX_COMPUTE_UNIT_LIMIT: u32 = 1_400_000;

/// Why one JSON-RPC call failed.
#[derive(Debug)]
enum CallError {
    /// Worth retrying: a timeout, a connection problem, HTTP 429/5xx, a node that is behind.
    Transient { reason: String, retry_after: Option<Duration> },
    /// The node answered with a JSON-RPC error.
    Rpc { code: i64, message: String, data: Option<Value> },
    /// Anything else (bad URL, unexpected answer): retrying will not help.
    Fatal(String),
}

impl CallError {
    fn into_ledger(self, url: &str, method: &str) -> LedgerError {
        LedgerError::Backend(match self {
            CallError::Transient { reason, .. } => {
                format!("{method} at {url}: {reason} (gave up after retrying)")
            }
            CallError::Rpc { code, message, .. } => {
                format!("{method} at {url}: RPC error {code}: {message}")
            }
            CallError::Fatal(reason) => format!("{method} at {url}: {reason}"),
        })
    }
}

/// Why one `sendTransaction` failed.
#[derive(Debug)]
enum SendError {
    /// Preflight simulation failed: the transaction was not executed.
    Refused(TransactionError),
    Other(CallError),
}

/// What a status query found.
#[derive(Clone, Debug)]
struct SeenStatus {
    result: Result<(), TransactionError>,
    level: Commitment,
}

/// The ledger of a cluster reached over JSON-RPC. See the module documentation.
pub struct RpcLedger {
    url: String,
    options: RpcOptions,
    agent: ureq::Agent,
    next_slot: Mutex<Instant>,
    request_id: AtomicU64,
    rng: AtomicU64,
    /// `lastValidBlockHeight` of the blockhashes `latest_blockhash` handed out.
    issued: Mutex<HashMap<Hash, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl RpcLedger {
    /// A ledger on the node at `url` (`http://` or `https://`). Contacts nothing yet.
    pub fn new(url: &str, options: RpcOptions) -> Result<Self, LedgerError> {
        let url = url.trim().to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(LedgerError::Backend(format!("RPC URL {url:?} must start with http:// or https://")));
        }
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("chrysalis/", env!("CARGO_PKG_VERSION")))
            .timeout_global(Some(options.request_timeout));
        if url.contains("://127.0.0.1") || url.contains("://localhost") || url.contains("://[::1]") {
            config = config.proxy(None);
        }
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15)
            | 1;
        Ok(RpcLedger {
            url,
            options,
            agent: config.build().new_agent(),
            next_slot: Mutex::new(Instant::now()),
            request_id: AtomicU64::new(1),
            rng: AtomicU64::new(seed),
            issued: Mutex::new(HashMap::new()),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn options(&self) -> &RpcOptions {
        &self.options
    }

    /// Waits for this request's turn under the rate limit.
    fn throttle(&self) {
        let Some(rps) = self.options.max_requests_per_second.filter(|r| *r > 0) else {
            return;
        };
        let interval = Duration::from_secs(1) / rps;
        let wait = {
            let mut next = lock(&self.next_slot);
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + interval;
            at - now
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// A random number (xorshift; only for jitter).
    fn random(&self) -> u64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        x
    }

    /// The pause before retry number `attempt` (0-based): exponential, "equal jitter" (half
    /// fixed, half random), at least what the server's `Retry-After` asked.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.options.backoff_base.saturating_mul(1u32 << attempt.min(16)).min(self.options.backoff_max);
        let half = exp / 2;
        let jitter = if half.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.random() % (half.as_nanos() as u64 + 1))
        };
        (half + jitter).max(retry_after.unwrap_or_default())
    }

    /// One JSON-RPC request, no retry.
    fn call_once(&self, method: &str, params: &Value) -> Result<Value, CallError> {
        self.throttle();
        let id = self.request_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let sent =
            self.agent.post(&self.url).header("Content-Type", "application/json").send(body.to_string().as_bytes());
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return Err(match e {
                    ureq::Error::Timeout(_)
                    | ureq::Error::Io(_)
                    | ureq::Error::HostNotFound
                    | ureq::Error::ConnectionFailed
                    | ureq::Error::Protocol(_)
                    | ureq::Error::BodyStalled => CallError::Transient { reason: e.to_string(), retry_after: None },
                    other => CallError::Fatal(other.to_string()),
                });
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp.body_mut().with_config().limit(64 * 1024 * 1024).read_to_string();
        if status == 429 || status >= 500 {
            return Err(CallError::Transient { reason: format!("HTTP {status}"), retry_after });
        }
        let text =
            text.map_err(|e| CallError::Transient { reason: format!("reading the answer: {e}"), retry_after: None })?;
        if status != 200 {
            return Err(CallError::Fatal(format!("HTTP {status}: {}", text.chars().take(300).collect::<String>())));
        }
        let mut answer: Value = serde_json::from_str(&text)
            .map_err(|e| CallError::Fatal(format!("the answer is not JSON ({e}): is this a Solana RPC URL?")))?;
        if let Some(err) = answer.get("error") {
            let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
            let message = err.get("message").and_then(Value::as_str).unwrap_or("").to_string();
            // -32005: node is behind; -32004: block not available yet.
            if code == -32005 || code == -32004 {
                return Err(CallError::Transient { reason: format!("RPC error {code}: {message}"), retry_after });
            }
            return Err(CallError::Rpc { code, message, data: err.get("data").cloned() });
        }
        answer
            .get_mut("result")
            .map(Value::take)
            .ok_or_else(|| CallError::Fatal("the answer has neither result nor error".into()))
    }

    /// A JSON-RPC request, retried on transient failures (only for calls that are safe to
    /// repeat: every read, and `sendTransaction` of the same signed bytes).
    fn call(&self, method: &str, params: Value) -> Result<Value, LedgerError> {
        let mut attempt = 0;
        loop {
            match self.call_once(method, &params) {
                Ok(v) => return Ok(v),
                Err(CallError::Transient { reason, retry_after }) if attempt < self.options.max_retries => {
                    let pause = self.backoff(attempt, retry_after);
                    tracing::debug!(method, %reason, ?pause, attempt, "RPC call failed; retrying");
                    std::thread::sleep(pause);
                    attempt += 1;
                }
                Err(e) => return Err(e.into_ledger(&self.url, method)),
            }
        }
    }

    fn commitment(&self) -> Value {
        json!({"commitment": self.options.commitment.as_str()})
    }

    /// The status of `signature` if the node has seen it (at any commitment).
    fn status(&self, signature: &Signature) -> Result<Option<SeenStatus>, LedgerError> {
        let v =
            self.call("getSignatureStatuses", json!([[signature.to_string()], {"searchTransactionHistory": true}]))?;
        let Some(s) = v.get("value").and_then(|v| v.get(0)).filter(|s| !s.is_null()) else {
            return Ok(None);
        };
        let result = match s.get("err") {
            None | Some(Value::Null) => Ok(()),
            Some(err) => Err(parse_tx_error(err)
                .ok_or_else(|| LedgerError::Backend(format!("unrecognised transaction error {err}")))?),
        };
        let level = s
            .get("confirmationStatus")
            .and_then(Value::as_str)
            .and_then(Commitment::parse)
            // Old nodes: `confirmations: null` means rooted.
            .unwrap_or(if s.get("confirmations").is_some_and(Value::is_null) {
                Commitment::Finalized
            } else {
                Commitment::Processed
            });
        Ok(Some(SeenStatus { result, level }))
    }

    /// The commitment at which blockhashes are fetched and their expiry is checked: the
    /// configured one, but at least `confirmed` (see the module documentation).
    pub fn expiry_commitment(&self) -> Commitment {
        self.options.commitment.max(Commitment::Confirmed)
    }

    /// Whether `blockhash` has expired, as seen at
    /// [`expiry_commitment`](Self::expiry_commitment).
    ///
    /// For a blockhash this ledger handed out, by block height: expired once the block height
    /// passed the `lastValidBlockHeight` that came with it. A node that lags behind reports a
    /// lower height, so its error is on the safe side (we wait longer). For any other
    /// blockhash, `isBlockhashValid`.
    fn blockhash_expired(&self, blockhash: &Hash) -> Result<bool, LedgerError> {
        let commitment = json!({"commitment": self.expiry_commitment().as_str()});
        let last_valid = lock(&self.issued).get(blockhash).copied();
        if let Some(last_valid) = last_valid {
            let v = self.call("getBlockHeight", json!([commitment]))?;
            let height = v.as_u64().ok_or_else(|| LedgerError::Backend(format!("getBlockHeight answered {v}")))?;
            return Ok(height > last_valid);
        }
        let v = self.call("isBlockhashValid", json!([blockhash.to_string(), commitment]))?;
        v.get("value")
            .and_then(Value::as_bool)
            .map(|valid| !valid)
            .ok_or_else(|| LedgerError::Backend(format!("isBlockhashValid answered {v}")))
    }

    /// One `sendTransaction`. `Ok(true)`: accepted; `Ok(false)`: the node does not know the
    /// blockhash (expired, or the node is behind); `Refused`: preflight simulation failed
    /// (nothing was executed); other errors: unknown outcome, check the status.
    fn send_raw(&self, wire: &str) -> Result<bool, SendError> {
        let params = json!([wire, {
            "encoding": "base64",
            "skipPreflight": false,
            "preflightCommitment": self.options.commitment.as_str(),
            // We resend ourselves (after checking the status); the node must not.
            "maxRetries": 0,
        }]);
        match self.call_once("sendTransaction", &params) {
            Ok(_) => Ok(true),
            Err(CallError::Rpc { code, message, data }) => {
                match data.as_ref().and_then(|d| d.get("err")).and_then(parse_tx_error) {
                    Some(TransactionError::BlockhashNotFound) => Ok(false),
                    Some(TransactionError::AlreadyProcessed) => Ok(true),
                    Some(e) => Err(SendError::Refused(e)),
                    None => Err(SendError::Other(CallError::Rpc { code, message, data })),
                }
            }
            Err(e) => Err(SendError::Other(e)),
        }
    }

    /// Sends `tx` until it is confirmed, fails, or provably expired. See the module docs.
    fn send_and_confirm(&self, tx: &Transaction) -> Result<Signature, LedgerError> {
        let signature = *tx.signatures.first().ok_or(LedgerError::NoSigner)?;
        let wire = B64.encode(bincode::serialize(tx).map_err(|e| LedgerError::Backend(format!("encoding: {e}")))?);
        let blockhash = tx.message.recent_blockhash;
        let start = Instant::now();
        let deadline = start + self.options.confirm_timeout;
        let mut last_send: Option<Instant> = None;
        let mut node_lacks_blockhash = false;
        let mut send_failures = 0u32;
        loop {
            let seen = match self.status(&signature) {
                Ok(s) => s,
                // Could not ask: unknown, which is never a reason to sign anew.
                Err(e) => {
                    tracing::debug!(%signature, error = %e, "status query failed");
                    if Instant::now() >= deadline {
                        return Err(LedgerError::Unconfirmed { signature, waited_s: start.elapsed().as_secs() });
                    }
                    std::thread::sleep(self.options.poll_interval);
                    continue;
                }
            };
            match seen {
                Some(SeenStatus { result: Err(error), .. }) => {
                    return Err(LedgerError::Failed { signature, error });
                }
                Some(SeenStatus { level, .. }) if level >= self.options.commitment => {
                    return Ok(signature);
                }
                Some(_) => {} // landed, not yet final enough: wait, never resend
                None => {
                    let resend_due =
                        last_send.is_none_or(|t| t.elapsed() >= self.options.resend_interval) || node_lacks_blockhash;
                    if resend_due {
                        // Has the blockhash expired? Then it can never land (final check).
                        if (last_send.is_some() || node_lacks_blockhash)
                            && self.blockhash_expired(&blockhash).unwrap_or(false)
                        {
                            if self.status(&signature).ok().flatten().is_some() {
                                continue;
                            }
                            tracing::info!(%signature, "blockhash expired, transaction never landed");
                            return Err(LedgerError::Expired { signature });
                        }
                        match self.send_raw(&wire) {
                            Ok(accepted) => node_lacks_blockhash = !accepted,
                            Err(SendError::Refused(error)) => {
                                // Refused by preflight simulation: it was not executed. (A
                                // status may still exist if an earlier send landed: loop.)
                                if self.status(&signature).ok().flatten().is_none() {
                                    return Err(LedgerError::Failed { signature, error });
                                }
                            }
                            Err(SendError::Other(CallError::Rpc { code, message, .. })) => {
                                return Err(LedgerError::Backend(format!(
                                    "sendTransaction at {}: RPC error {code}: {message}",
                                    self.url
                                )));
                            }
                            Err(SendError::Other(CallError::Transient { reason, retry_after })) => {
                                tracing::debug!(%signature, %reason, "send failed; checking status before any resend");
                                std::thread::sleep(self.backoff(send_failures, retry_after));
                                send_failures += 1;
                            }
                            Err(SendError::Other(CallError::Fatal(reason))) => {
                                return Err(LedgerError::Backend(format!("sendTransaction at {}: {reason}", self.url)));
                            }
                        }
                        last_send = Some(Instant::now());
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(LedgerError::Unconfirmed { signature, waited_s: start.elapsed().as_secs() });
            }
            std::thread::sleep(self.options.poll_interval);
        }
    }
}

/// A `TransactionError` as JSON-RPC writes it (`"BlockhashNotFound"`,
/// `{"InstructionError":[0,{"Custom":6013}]}`); `None` for a shape we do not know.
fn parse_tx_error(v: &Value) -> Option<TransactionError> {
    serde_json::from_value(v.clone()).ok()
}

fn parse_pubkey(v: Option<&Value>, what: &str) -> Result<Pubkey, LedgerError> {
    v.and_then(Value::as_str)
        .and_then(|s| Pubkey::from_str(s).ok())
        .ok_or_else(|| LedgerError::Backend(format!("RPC answer without a valid {what}")))
}

impl Ledger for RpcLedger {
    fn balance(&self, pubkey: &Pubkey) -> Result<u64, LedgerError> {
        let v = self.call("getBalance", json!([pubkey.to_string(), self.commitment()]))?;
        v.get("value").and_then(Value::as_u64).ok_or_else(|| LedgerError::Backend(format!("getBalance answered {v}")))
    }

    fn airdrop(&self, pubkey: &Pubkey, lamports: u64) -> Result<Signature, LedgerError> {
        let v = self.call("requestAirdrop", json!([pubkey.to_string(), lamports, self.commitment()]))?;
        let signature = v
            .as_str()
            .and_then(|s| Signature::from_str(s).ok())
            .ok_or_else(|| LedgerError::Backend(format!("requestAirdrop answered {v}")))?;
        let deadline = Instant::now() + self.options.confirm_timeout;
        loop {
            match self.status(&signature)? {
                Some(SeenStatus { result: Err(error), .. }) => {
                    return Err(LedgerError::Failed { signature, error });
                }
                Some(s) if s.level >= self.options.commitment => return Ok(signature),
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(LedgerError::Unconfirmed { signature, waited_s: self.options.confirm_timeout.as_secs() });
            }
            std::thread::sleep(self.options.poll_interval);
        }
    }

    fn get_account(&self, pubkey: &Pubkey) -> Result<Option<AccountData>, LedgerError> {
        let v = self.call(
            "getAccountInfo",
            json!([pubkey.to_string(), {"encoding": "base64", "commitment": self.options.commitment.as_str()}]),
        )?;
        let Some(a) = v.get("value").filter(|a| !a.is_null()) else {
            return Ok(None);
        };
        let data = a
            .get("data")
            .and_then(|d| d.get(0))
            .and_then(Value::as_str)
            .and_then(|s| B64.decode(s).ok())
            .ok_or_else(|| LedgerError::Backend(format!("getAccountInfo: bad data in {a}")))?;
        Ok(Some(AccountData {
            lamports: a.get("lamports").and_then(Value::as_u64).unwrap_or(0),
            owner: parse_pubkey(a.get("owner"), "owner")?,
            data,
            executable: a.get("executable").and_then(Value::as_bool).unwrap_or(false),
        }))
    }

    fn latest_blockhash(&self) -> Result<Hash, LedgerError> {
        let v = self.call("getLatestBlockhash", json!([{"commitment": self.expiry_commitment().as_str()}]))?;
        let value = v.get("value");
        let hash = value
            .and_then(|v| v.get("blockhash"))
            .and_then(Value::as_str)
            .and_then(|s| Hash::from_str(s).ok())
            .ok_or_else(|| LedgerError::Backend(format!("getLatestBlockhash answered {v}")))?;
        if let Some(last_valid) = value.and_then(|v| v.get("lastValidBlockHeight")).and_then(Value::as_u64) {
            let mut issued = lock(&self.issued);
            if issued.len() >= 1024 {
                issued.clear(); // old ones fall back to isBlockhashValid
            }
            issued.insert(hash, last_valid);
        }
        Ok(hash)
    }

    /// Sends an already signed transaction and waits for its outcome. It is never signed
    /// again here: an expired blockhash ends in [`LedgerError::Expired`].
    fn send_transaction(&self, tx: &Transaction) -> Result<Signature, LedgerError> {
        self.send_and_confirm(tx)
    }

    /// Prepends the compute budget instructions, signs with a fresh blockhash and sends; signs
    /// again (a new transaction) only after the previous one provably expired unseen.
    fn send(&self, instructions: &[Instruction], signers: &[&dyn Signer]) -> Result<Signature, LedgerError> {
        let mut all = self.options.compute_budget_instructions(instructions);
        all.extend_from_slice(instructions);
        let mut round = 0;
        loop {
            let tx = sign(&all, signers, self.latest_blockhash()?)?;
            match self.send_and_confirm(&tx) {
                Err(LedgerError::Expired { signature }) if round < self.options.max_retries => {
                    tracing::info!(%signature, round, "expired unprocessed; signing again with a fresh blockhash");
                    round += 1;
                    std::thread::sleep(self.options.poll_interval);
                }
                other => return other,
            }
        }
    }

    fn clock(&self) -> Result<Clock, LedgerError> {
        let id = anchor_lang::pubkey!("SysvarC1ock11111111111111111111111111111111");
        let acc =
            self.get_account(&id)?.ok_or_else(|| LedgerError::Backend("the cluster has no clock sysvar".into()))?;
        decode_clock(&acc.data)
    }

    fn signature_status(&self, signature: &Signature) -> Result<Option<Result<(), TransactionError>>, LedgerError> {
        Ok(self.status(signature)?.map(|s| s.result))
    }

    fn priority_fee_lamports(&self) -> u64 {
        self.options.priority_fee_lamports()
    }

    fn name(&self) -> String {
        format!("rpc {}", self.url)
    }
}

/// The clock sysvar's bytes: slot, epoch_start_timestamp, epoch, leader_schedule_epoch,
/// unix_timestamp (little-endian u64/i64).
pub(crate) fn decode_clock(data: &[u8]) -> Result<Clock, LedgerError> {
    let word = |i: usize| -> Result<[u8; 8], LedgerError> {
        data.get(i * 8..i * 8 + 8)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| LedgerError::Backend(format!("clock sysvar of {} bytes", data.len())))
    };
    Ok(Clock {
        slot: u64::from_le_bytes(word(0)?),
        epoch_start_timestamp: i64::from_le_bytes(word(1)?),
        epoch: u64::from_le_bytes(word(2)?),
        leader_schedule_epoch: u64::from_le_bytes(word(3)?),
        unix_timestamp: i64::from_le_bytes(word(4)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_fee_instructions_and_cost() {
        let o = RpcOptions {
            priority_fee_micro_lamports: Some(10_000),
            compute_unit_limit: Some(150_000),
            ..RpcOptions::default()
        };
        let ixs = o.compute_budget_instructions(&[]);
        assert_eq!(ixs.len(), 2);
        assert!(ixs.iter().all(|i| i.program_id == COMPUTE_BUDGET_ID));
        assert_eq!(ixs[0].data, [&[2u8][..], &150_000u32.to_le_bytes()].concat());
        assert_eq!(ixs[1].data, [&[3u8][..], &10_000u64.to_le_bytes()].concat());
        assert_eq!(o.priority_fee_lamports(), 1_500);
        assert_eq!(RpcOptions::default().priority_fee_lamports(), 0);
        assert!(RpcOptions::default().compute_budget_instructions(&[]).is_empty());
    }

    #[test]
    fn the_compute_limit_is_sized_from_our_instructions() {
        let buyer = Pubkey::new_unique();
        let collection = Pubkey::new_unique();
        let mint = crate::program::mint_nft(&buyer, &collection, &Pubkey::new_unique(), 0, [0; 32], vec![], None);
        let transfer = anchor_lang::solana_program::system_instruction::transfer(&buyer, &collection, 1);
        let want = chrysalis::compute::MINT_NFT + 1_000;
        assert_eq!(compute_units_for(&[transfer.clone(), mint.clone()]), Some(want));
        let ixs = RpcOptions::default().compute_budget_instructions(&[transfer, mint.clone()]);
        assert_eq!(ixs.len(), 1, "a limit, no price");
        assert_eq!(ixs[0].data, [&[2u8][..], &want.to_le_bytes()].concat());
        // An explicit limit wins; another program's instruction leaves the default.
        let explicit = RpcOptions { compute_unit_limit: Some(7), ..RpcOptions::default() };
        assert_eq!(explicit.compute_budget_instructions(std::slice::from_ref(&mint))[0].data[1..], 7u32.to_le_bytes());
        let foreign = Instruction { program_id: Pubkey::new_unique(), accounts: vec![], data: vec![] };
        assert_eq!(compute_units_for(&[mint, foreign]), None);
        assert_eq!(compute_units_for(&[]), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let l = RpcLedger::new("http://127.0.0.1:1", RpcOptions::default()).unwrap();
        for attempt in 0..6 {
            let exp = (Duration::from_millis(250) * (1 << attempt)).min(Duration::from_secs(10));
            let d = l.backoff(attempt, None);
            assert!(d >= exp / 2 && d <= exp, "attempt {attempt}: {d:?} vs {exp:?}");
        }
        assert!(l.backoff(0, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        assert!(RpcLedger::new("ftp://x", RpcOptions::default()).is_err());
    }

    #[test]
    fn blockhashes_expire_at_confirmed_commitment_or_stronger() {
        let at = |commitment| {
            RpcLedger::new("http://127.0.0.1:1", RpcOptions { commitment, ..RpcOptions::default() })
                .unwrap()
                .expiry_commitment()
        };
        assert_eq!(at(Commitment::Processed), Commitment::Confirmed);
        assert_eq!(at(Commitment::Confirmed), Commitment::Confirmed);
        assert_eq!(at(Commitment::Finalized), Commitment::Finalized);
    }

    #[test]
    fn transaction_errors_parse_from_rpc_json() {
        assert_eq!(parse_tx_error(&json!("BlockhashNotFound")), Some(TransactionError::BlockhashNotFound));
        assert_eq!(
            parse_tx_error(&json!({"InstructionError": [0, {"Custom": 6013}]})),
            Some(TransactionError::InstructionError(0, solana_transaction::InstructionError::Custom(6013)))
        );
        assert_eq!(parse_tx_error(&json!({"Nonsense": 1})), None);
    }
}
