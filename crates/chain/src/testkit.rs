//! Test kit (feature `testkit`): unreliable chains on demand.
//!
//! - [`RpcServer`]: a Solana JSON-RPC server on `127.0.0.1:<free port>` backed by a
//!   [`Sandbox`], speaking the methods [`RpcLedger`](crate::RpcLedger) uses, with programmable
//!   faults (its `*_next` methods): HTTP 429 with `Retry-After`, stalls past the client's timeout,
//!   dropped transactions, lost responses (processed, answer never sent), blockhashes that
//!   expire early, and status queries that lag behind.
//! - [`FaultyLedger`]: any [`Ledger`] with the same kinds of faults injected at the trait level,
//!   for the pipeline's tests in other crates.
//!
//! The HTTP server is a few dozen lines over `std::net` (one thread per connection, one
//! request per connection, `Connection: close`): enough for a test client, nothing more.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anchor_lang::prelude::Clock;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use solana_hash::Hash;
use solana_instruction::Instruction;
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use solana_transaction::{Signature, Transaction, TransactionError};

use crate::ledger::{AccountData, Ledger, LedgerError};
use crate::sandbox::Sandbox;

/// Faults the [`RpcServer`] injects; each counter applies to that many next occurrences.
#[derive(Debug, Default)]
struct FaultState {
    rate_limited: u32,
    retry_after_secs: u64,
    stalls: u32,
    stall_for: Duration,
    dropped_txs: u32,
    lost_responses: u32,
    expiring_txs: u32,
    hidden_statuses: u32,
    expired: HashSet<Hash>,
    /// Added to the sandbox's slot to make the block height: expiring a blockhash jumps it
    /// past every `lastValidBlockHeight` handed out so far.
    height_offset: u64,
}

/// Blocks a blockhash stays valid for (Solana: 150).
const BLOCKHASH_LIFETIME: u64 = 150;

/// Counters of what the server did, for assertions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Requests per JSON-RPC method (every request, faulty or not).
    pub requests: BTreeMap<String, u32>,
    /// Transactions handed to the sandbox (whatever their outcome).
    pub transactions_processed: u32,
    /// Transactions answered with a signature but never processed.
    pub transactions_dropped: u32,
    /// Answers withheld after processing.
    pub responses_lost: u32,
    /// Requests answered with 429.
    pub rate_limited: u32,
    /// Requests stalled past the client's timeout.
    pub stalled: u32,
}

struct Shared {
    sandbox: Arc<Sandbox>,
    faults: Mutex<FaultState>,
    stats: Mutex<ServerStats>,
    stop: AtomicBool,
}

/// A JSON-RPC server backed by a sandbox. See the module documentation. Stops when dropped.
pub struct RpcServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl RpcServer {
    /// Starts serving `sandbox` on a free port of 127.0.0.1.
    pub fn start(sandbox: Arc<Sandbox>) -> std::io::Result<RpcServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            sandbox,
            faults: Mutex::new(FaultState::default()),
            stats: Mutex::new(ServerStats::default()),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new().name("rpc-testkit".into()).spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    if let Err(e) = serve(&s, conn) {
                        tracing::debug!(error = %e, "testkit connection ended");
                    }
                });
            }
        })?;
        Ok(RpcServer { addr, shared, thread: Some(thread) })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The sandbox behind the server (to inspect the state directly).
    pub fn sandbox(&self) -> &Sandbox {
        &self.shared.sandbox
    }

    pub fn stats(&self) -> ServerStats {
        lock(&self.shared.stats).clone()
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, FaultState> {
        lock(&self.shared.faults)
    }

    /// The next `n` requests get HTTP 429 with `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, n: u32, retry_after_secs: u64) {
        let mut f = self.faults();
        f.rate_limited = n;
        f.retry_after_secs = retry_after_secs;
    }

    /// The next `n` requests sleep `stall_for` (longer than the client's request timeout),
    /// then the connection closes with no answer. A stalled `sendTransaction` is not processed.
    pub fn stall_next(&self, n: u32, stall_for: Duration) {
        let mut f = self.faults();
        f.stalls = n;
        f.stall_for = stall_for;
    }

    /// The next `n` transactions are answered with their signature but never processed.
    pub fn drop_next_transactions(&self, n: u32) {
        self.faults().dropped_txs = n;
    }

    /// The next `n` transactions are processed, but the connection closes without an answer.
    pub fn lose_next_responses(&self, n: u32) {
        self.faults().lost_responses = n;
    }

    /// The blockhashes of the next `n` transactions expire right after they are received
    /// (processed or dropped): the block height jumps past their `lastValidBlockHeight`,
    /// `isBlockhashValid` says false, a transaction using one is refused with
    /// `BlockhashNotFound`, and `getLatestBlockhash` moves to a new one.
    pub fn expire_blockhash_of_next_transactions(&self, n: u32) {
        self.faults().expiring_txs = n;
    }

    /// The next `n` `getSignatureStatuses` answer "unknown" for every signature (a node whose
    /// status cache lags behind).
    pub fn hide_next_statuses(&self, n: u32) {
        self.faults().hidden_statuses = n;
    }
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Takes one from a fault counter; whether it applied.
fn take(counter: &mut u32) -> bool {
    if *counter > 0 {
        *counter -= 1;
        true
    } else {
        false
    }
}

fn respond(conn: &mut TcpStream, status: &str, extra: &str, body: &str) -> std::io::Result<()> {
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n{extra}\r\n{body}",
        body.len()
    )?;
    conn.flush()
}

/// Serves one request on `conn`.
fn serve(s: &Shared, mut conn: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if line.is_empty() {
        return Ok(()); // the wake-up connection of Drop, or a probe
    }
    let mut len = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let method = request.get("method").and_then(Value::as_str).unwrap_or("").to_string();
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let params = request.get("params").cloned().unwrap_or(json!([]));
    *lock(&s.stats).requests.entry(method.clone()).or_default() += 1;

    let (rate_limited, retry_after, stall) = {
        let mut f = lock(&s.faults);
        let limited = take(&mut f.rate_limited);
        let stall = (!limited && take(&mut f.stalls)).then_some(f.stall_for);
        (limited, f.retry_after_secs, stall)
    };
    if rate_limited {
        lock(&s.stats).rate_limited += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": 429, "message": "Too many requests"}});
        return respond(
            &mut conn,
            "429 Too Many Requests",
            &format!("Retry-After: {retry_after}\r\n"),
            &body.to_string(),
        );
    }
    if let Some(d) = stall {
        lock(&s.stats).stalled += 1;
        std::thread::sleep(d);
        return Ok(()); // closes without an answer
    }

    let answer = match handle(s, &method, &params) {
        Handled::Result(v) => json!({"jsonrpc": "2.0", "id": id, "result": v}),
        Handled::Error(code, message, data) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message, "data": data}})
        }
        Handled::NoAnswer => return Ok(()),
    };
    respond(&mut conn, "200 OK", "", &answer.to_string())
}

enum Handled {
    Result(Value),
    Error(i64, String, Value),
    NoAnswer,
}

fn context(s: &Shared) -> Value {
    let slot = s.sandbox.clock().map(|c| c.slot).unwrap_or(0);
    json!({"slot": slot})
}

fn with_context(s: &Shared, value: Value) -> Handled {
    Handled::Result(json!({"context": context(s), "value": value}))
}

fn invalid(message: impl Into<String>) -> Handled {
    Handled::Error(-32602, message.into(), Value::Null)
}

fn backend(e: LedgerError) -> Handled {
    Handled::Error(-32603, e.to_string(), Value::Null)
}

fn pubkey_param(params: &Value, i: usize) -> Result<Pubkey, Handled> {
    params
        .get(i)
        .and_then(Value::as_str)
        .and_then(|p| Pubkey::from_str(p).ok())
        .ok_or_else(|| invalid(format!("param {i} must be a public key")))
}

fn block_height(s: &Shared) -> Result<u64, Handled> {
    let slot = s.sandbox.clock().map_err(backend)?.slot;
    Ok(slot + lock(&s.faults).height_offset)
}

fn handle(s: &Shared, method: &str, params: &Value) -> Handled {
    match handle_inner(s, method, params) {
        Ok(h) | Err(h) => h,
    }
}

fn handle_inner(s: &Shared, method: &str, params: &Value) -> Result<Handled, Handled> {
    let sb = &s.sandbox;
    Ok(match method {
        "getHealth" => Handled::Result(json!("ok")),
        "getSlot" => Handled::Result(json!(sb.clock().map_err(backend)?.slot)),
        "getBlockHeight" => Handled::Result(json!(block_height(s)?)),
        "getBalance" => {
            let key = pubkey_param(params, 0)?;
            with_context(s, json!(sb.balance(&key).map_err(backend)?))
        }
        "getAccountInfo" => {
            let key = pubkey_param(params, 0)?;
            let value = match sb.get_account(&key).map_err(backend)? {
                None => Value::Null,
                Some(a) => json!({
                    "lamports": a.lamports,
                    "owner": a.owner.to_string(),
                    "data": [B64.encode(&a.data), "base64"],
                    "executable": a.executable,
                    "rentEpoch": u64::MAX,
                    "space": a.data.len(),
                }),
            };
            with_context(s, value)
        }
        "getLatestBlockhash" => {
            let mut hash = sb.latest_blockhash().map_err(backend)?;
            while lock(&s.faults).expired.contains(&hash) {
                hash = sb.new_blockhash(&hash).map_err(backend)?;
            }
            let last_valid = block_height(s)? + BLOCKHASH_LIFETIME;
            with_context(s, json!({"blockhash": hash.to_string(), "lastValidBlockHeight": last_valid}))
        }
        "isBlockhashValid" => {
            let hash = params
                .get(0)
                .and_then(Value::as_str)
                .and_then(|h| Hash::from_str(h).ok())
                .ok_or_else(|| invalid("param 0 must be a blockhash"))?;
            let valid = !lock(&s.faults).expired.contains(&hash);
            with_context(s, json!(valid))
        }
        "getSignatureStatuses" => {
            let sigs = params
                .get(0)
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("param 0 must be a list of signatures"))?;
            let hidden = take(&mut lock(&s.faults).hidden_statuses);
            let mut out = Vec::new();
            for sig in sigs {
                let sig =
                    sig.as_str().and_then(|x| Signature::from_str(x).ok()).ok_or_else(|| invalid("bad signature"))?;
                let status = if hidden { None } else { sb.signature_status(&sig).map_err(backend)? };
                out.push(match status {
                    None => Value::Null,
                    Some(result) => {
                        let err = match result {
                            Ok(()) => Value::Null,
                            Err(e) => serde_json::to_value(&e).unwrap_or(Value::Null),
                        };
                        json!({
                            "slot": 0,
                            "confirmations": Value::Null,
                            "err": err,
                            "confirmationStatus": "finalized",
                        })
                    }
                });
            }
            with_context(s, Value::Array(out))
        }
        "requestAirdrop" => {
            let key = pubkey_param(params, 0)?;
            let lamports = params.get(1).and_then(Value::as_u64).ok_or_else(|| invalid("param 1 must be lamports"))?;
            Handled::Result(json!(sb.airdrop(&key, lamports).map_err(backend)?.to_string()))
        }
        "sendTransaction" => send_transaction(s, params)?,
        other => Handled::Error(-32601, format!("Method not found: {other}"), Value::Null),
    })
}

fn send_transaction(s: &Shared, params: &Value) -> Result<Handled, Handled> {
    let wire = params
        .get(0)
        .and_then(Value::as_str)
        .and_then(|t| B64.decode(t).ok())
        .ok_or_else(|| invalid("param 0 must be a base64 transaction"))?;
    let tx: Transaction = bincode::deserialize(&wire).map_err(|e| invalid(format!("bad transaction: {e}")))?;
    let signature = *tx.signatures.first().ok_or_else(|| invalid("unsigned"))?;
    let blockhash = tx.message.recent_blockhash;
    let (drop_it, lose_answer, expire) = {
        let mut f = lock(&s.faults);
        if f.expired.contains(&blockhash) {
            return Err(Handled::Error(
                -32002,
                "Transaction simulation failed: Blockhash not found".into(),
                json!({"err": "BlockhashNotFound", "logs": []}),
            ));
        }
        let d = take(&mut f.dropped_txs);
        let l = !d && take(&mut f.lost_responses);
        let e = take(&mut f.expiring_txs);
        if e {
            f.expired.insert(blockhash);
            f.height_offset += BLOCKHASH_LIFETIME + 1;
        }
        (d, l, e)
    };
    if expire {
        tracing::debug!(%blockhash, "testkit: blockhash expired early");
    }
    if drop_it {
        lock(&s.stats).transactions_dropped += 1;
        return Ok(Handled::Result(json!(signature.to_string())));
    }
    lock(&s.stats).transactions_processed += 1;
    let outcome = s.sandbox.send_transaction(&tx);
    if lose_answer {
        lock(&s.stats).responses_lost += 1;
        return Ok(Handled::NoAnswer);
    }
    match outcome {
        Ok(sig) => Ok(Handled::Result(json!(sig.to_string()))),
        Err(LedgerError::Failed { error, .. }) => Ok(Handled::Error(
            -32002,
            format!("Transaction simulation failed: {error}"),
            json!({"err": serde_json::to_value(&error).unwrap_or(Value::Null), "logs": []}),
        )),
        Err(e) => Err(backend(e)),
    }
}

// -------------------------------------------------------------------------------------------
// FaultyLedger
// -------------------------------------------------------------------------------------------

/// Faults a [`FaultyLedger`] injects; each counter applies to that many next occurrences.
#[derive(Debug, Default, Clone)]
pub struct LedgerFaults {
    /// Any call fails with a timeout before reaching the inner ledger.
    pub timeouts: u32,
    /// Any call fails as rate limited (HTTP 429) before reaching the inner ledger.
    pub rate_limited: u32,
    /// `send_transaction` reports a timeout and never forwards the transaction.
    pub dropped_transactions: u32,
    /// `send_transaction` forwards the transaction (it takes effect), then reports a timeout.
    pub lost_responses: u32,
    /// `send_transaction` reports the transaction expired and never forwards it.
    pub expired_blockhashes: u32,
}

/// A [`Ledger`] that injects faults in front of another one. `send` signs and goes through
/// this wrapper's `send_transaction`, so transaction faults apply to it too.
pub struct FaultyLedger<L> {
    inner: L,
    faults: Mutex<LedgerFaults>,
    forwarded: Mutex<u32>,
}

impl<L: Ledger> FaultyLedger<L> {
    pub fn new(inner: L) -> Self {
        FaultyLedger { inner, faults: Mutex::new(LedgerFaults::default()), forwarded: Mutex::new(0) }
    }

    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// Replaces the pending faults.
    pub fn set_faults(&self, faults: LedgerFaults) {
        *lock(&self.faults) = faults;
    }

    /// What is still pending.
    pub fn pending_faults(&self) -> LedgerFaults {
        lock(&self.faults).clone()
    }

    /// Transactions that reached the inner ledger.
    pub fn transactions_forwarded(&self) -> u32 {
        *lock(&self.forwarded)
    }

    fn call_fault(&self, what: &str) -> Result<(), LedgerError> {
        let mut f = lock(&self.faults);
        if take(&mut f.timeouts) {
            return Err(LedgerError::Backend(format!("{what}: timed out (injected fault)")));
        }
        if take(&mut f.rate_limited) {
            return Err(LedgerError::Backend(format!("{what}: HTTP 429 Too Many Requests (injected fault)")));
        }
        Ok(())
    }
}

impl<L: Ledger> Ledger for FaultyLedger<L> {
    fn balance(&self, pubkey: &Pubkey) -> Result<u64, LedgerError> {
        self.call_fault("getBalance")?;
        self.inner.balance(pubkey)
    }

    fn airdrop(&self, pubkey: &Pubkey, lamports: u64) -> Result<Signature, LedgerError> {
        self.call_fault("requestAirdrop")?;
        self.inner.airdrop(pubkey, lamports)
    }

    fn get_account(&self, pubkey: &Pubkey) -> Result<Option<AccountData>, LedgerError> {
        self.call_fault("getAccountInfo")?;
        self.inner.get_account(pubkey)
    }

    fn latest_blockhash(&self) -> Result<Hash, LedgerError> {
        self.call_fault("getLatestBlockhash")?;
        self.inner.latest_blockhash()
    }

    fn send_transaction(&self, tx: &Transaction) -> Result<Signature, LedgerError> {
        self.call_fault("sendTransaction")?;
        let signature = *tx.signatures.first().ok_or(LedgerError::NoSigner)?;
        let (dropped, lost, expired) = {
            let mut f = lock(&self.faults);
            let d = take(&mut f.dropped_transactions);
            let e = !d && take(&mut f.expired_blockhashes);
            let l = !d && !e && take(&mut f.lost_responses);
            (d, l, e)
        };
        if dropped {
            return Err(LedgerError::Unconfirmed { signature, waited_s: 0 });
        }
        if expired {
            return Err(LedgerError::Expired { signature });
        }
        *lock(&self.forwarded) += 1;
        let outcome = self.inner.send_transaction(tx);
        if lost {
            return Err(LedgerError::Unconfirmed { signature, waited_s: 0 });
        }
        outcome
    }

    fn send(&self, instructions: &[Instruction], signers: &[&dyn Signer]) -> Result<Signature, LedgerError> {
        let tx = crate::ledger::sign(instructions, signers, self.latest_blockhash()?)?;
        self.send_transaction(&tx)
    }

    fn clock(&self) -> Result<Clock, LedgerError> {
        self.call_fault("clock")?;
        self.inner.clock()
    }

    fn signature_status(&self, signature: &Signature) -> Result<Option<Result<(), TransactionError>>, LedgerError> {
        self.call_fault("getSignatureStatuses")?;
        self.inner.signature_status(signature)
    }

    fn warp_forward(&self, seconds: i64) -> Result<Clock, LedgerError> {
        self.inner.warp_forward(seconds)
    }

    fn priority_fee_lamports(&self) -> u64 {
        self.inner.priority_fee_lamports()
    }

    fn name(&self) -> String {
        format!("faulty {}", self.inner.name())
    }
}
