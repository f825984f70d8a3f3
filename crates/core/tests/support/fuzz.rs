//! The harness shared by every crate's `tests/fuzz.rs` (each includes this file with
//! `#[path = "…/core/tests/support/fuzz.rs"] mod fuzz;`): property-based fuzzing with proptest
//! on the stable toolchain, so the targets run in CI as ordinary tests.
//!
//! A target feeds a parser inputs from [`input`] (arbitrary bytes, and far more often a valid
//! sample file with random edits: byte flips, insertions, deletions, truncations, repeats,
//! numbers and strings swapped for awkward ones) or from [`json_input`] (the same sample with
//! edits made to its JSON tree: a field set to another type, an awkward number, a long list,
//! removed, added). The property is always that the parser returns `Ok` or an `Err` whose
//! message is not empty, never panics, never hangs and never asks for absurd memory; targets
//! add round trips where they are cheap.
//!
//! Environment:
//! - `CHRYSALIS_FUZZ_CASES` (else `PROPTEST_CASES`): cases per target; each target's default
//!   keeps the whole fuzz suite to a few seconds in CI.
//! - `CHRYSALIS_FUZZ_SECONDS`: run each target for this long instead (batches of cases until
//!   the time is up); `scripts/fuzz.sh` sets it.
//! - `CHRYSALIS_FUZZ_HANG_SECONDS` (default 60): one case running longer than this is a hang;
//!   its input is written to `$CARGO_TARGET_TMPDIR/fuzz-<target>-input.txt` and the process
//!   aborts (proptest cannot shrink a case that never returns).
//! - `CHRYSALIS_FUZZ_MAX_ALLOC` (default 1 GiB): a single allocation above this is refused and
//!   the input that asked for it is printed (and saved like a hang) before the process aborts.
//!
//! Failing cases are shrunk and their seeds saved to `tests/proptest-regressions/fuzz.txt` of
//! the crate, which every later run replays first; commit that file when it records a bug.

#![allow(dead_code)] // each target uses part of the harness

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestError, TestRunner};
use serde_json::Value;

/// Where failing seeds are saved, per crate.
const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/proptest-regressions/fuzz.txt");

// ---------------------------------------------------------------------------------- running

/// Runs the property `test` on inputs from `strategy`: `default_cases` of them, or as many as
/// `CHRYSALIS_FUZZ_CASES` / `PROPTEST_CASES` / `CHRYSALIS_FUZZ_SECONDS` say (module docs).
/// Prints `fuzz <name>: <n> cases in <s> s` and panics with the shrunk input on a failure.
pub fn fuzz<T, S>(name: &str, default_cases: u32, strategy: S, test: impl Fn(T) -> Result<(), TestCaseError>)
where
    T: fmt::Debug + Clone + Send + 'static,
    S: Strategy<Value = T>,
{
    MAX_ALLOC.store(env_u64("CHRYSALIS_FUZZ_MAX_ALLOC").map_or(1 << 30, |n| n as usize), Ordering::Relaxed);
    start_watchdog();
    let cases = env_u64("CHRYSALIS_FUZZ_CASES").or_else(|| env_u64("PROPTEST_CASES")).map(|n| n as u32);
    let budget = env_u64("CHRYSALIS_FUZZ_SECONDS").map(Duration::from_secs);
    let start = Instant::now();
    let mut total: u64 = 0;
    // Timed runs go in batches that aim at ~20 s each, so the end is not overshot by much.
    let mut batch = cases.unwrap_or(if budget.is_some() { 64 } else { default_cases }).max(1);
    loop {
        let config = Config {
            cases: batch,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
            // Shrinking is cheap for edit lists; bound it anyway so a slow case cannot stall it.
            max_shrink_time: 120_000,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        let batch_start = Instant::now();
        let result = runner.run(&strategy, |value| {
            let _case = Case::enter(name, &value);
            test(value)
        });
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, value)) => {
                eprintln!("fuzz {name}: FAILED after {total} cases: {reason}");
                // Once more with panic messages on, for the location and backtrace.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(value.clone())));
                panic!("fuzz {name}: {reason}\nminimal failing input: {value:#?}");
            }
            Err(TestError::Abort(reason)) => panic!("fuzz {name}: aborted: {reason}"),
        }
        total += u64::from(batch);
        let Some(budget) = budget else { break };
        let elapsed = start.elapsed();
        if elapsed >= budget {
            break;
        }
        let per_case = batch_start.elapsed().as_secs_f64() / f64::from(batch);
        let aim = (budget - elapsed).min(Duration::from_secs(20)).as_secs_f64();
        batch = ((aim / per_case.max(1e-6)) as u32).clamp(1, 1_000_000);
    }
    let notes = NOTES.with(|n| std::mem::take(&mut *n.borrow_mut()));
    let notes: Vec<String> = notes.iter().map(|(k, n)| format!("{k} {n}")).collect();
    eprintln!(
        "fuzz {name}: {total} cases in {:.1} s, no failure (reached: {})",
        start.elapsed().as_secs_f64(),
        notes.join(", ")
    );
}

thread_local! {
    static NOTES: std::cell::RefCell<BTreeMap<&'static str, u64>> = const { std::cell::RefCell::new(BTreeMap::new()) };
}

/// Counts a milestone a case reached (`"parsed"`, `"planned"`): the summary line shows how
/// many cases got how deep, so a target whose inputs never get past the first check shows.
pub fn note(what: &'static str) {
    NOTES.with(|n| *n.borrow_mut().entry(what).or_default() += 1);
}

/// `Err` unless `message` (an error's text) says something.
pub fn check_message(what: &str, message: &str) -> Result<(), TestCaseError> {
    if message.trim().is_empty() {
        return Err(TestCaseError::fail(format!("{what} returned an error with an empty message")));
    }
    Ok(())
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(text.trim().parse().unwrap_or_else(|_| panic!("{name}={text:?} is not a whole number")))
}

// ------------------------------------------------------------- hang and memory watchdogs

struct Current {
    target: String,
    started: Instant,
    input: Box<dyn fmt::Debug + Send>,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);
static MAX_ALLOC: AtomicUsize = AtomicUsize::new(1 << 30);
static REPORTING: AtomicBool = AtomicBool::new(false);

thread_local! {
    static IN_CASE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Records the case being run, for the watchdogs, and keeps its panics quiet (proptest
/// reports the shrunk one; printing every panic met while shrinking buries it); cleared on
/// drop, also when the case panics.
struct Case;

impl Case {
    fn enter<T: fmt::Debug + Clone + Send + 'static>(target: &str, value: &T) -> Case {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !IN_CASE.with(std::cell::Cell::get) {
                    default(info);
                }
            }));
        });
        let current = Current { target: target.to_string(), started: Instant::now(), input: Box::new(value.clone()) };
        *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(current);
        IN_CASE.with(|c| c.set(true));
        Case
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        IN_CASE.with(|c| c.set(false));
        *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

fn start_watchdog() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let limit = Duration::from_secs(env_u64("CHRYSALIS_FUZZ_HANG_SECONDS").unwrap_or(60));
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let guard = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(c) = guard.as_ref()
                    && c.started.elapsed() > limit
                {
                    report(c, &format!("one case ran for more than {} s (a hang)", limit.as_secs()));
                    std::process::abort();
                }
            }
        });
    });
}

/// Prints (and saves) the input of the case that misbehaved, before the process aborts.
fn report(c: &Current, what: &str) {
    if REPORTING.swap(true, Ordering::SeqCst) {
        return;
    }
    let text = format!("{:#?}", c.input);
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{}-input.txt", c.target));
    let saved = std::fs::write(&path, &text).map(|()| path.display().to_string()).unwrap_or_else(|e| e.to_string());
    let shown: String = text.chars().take(4000).collect();
    eprintln!("fuzz {}: {what}; input saved to {saved}:\n{shown}", c.target);
    REPORTING.store(false, Ordering::SeqCst);
}

/// The system allocator with a ceiling on single allocations: a parser that sizes a buffer
/// from a number in its input must not be able to exhaust memory, and the fuzz run should say
/// which input made it try.
pub struct CappedAlloc;

impl CappedAlloc {
    fn refuse(size: usize) -> bool {
        if size <= MAX_ALLOC.load(Ordering::Relaxed) {
            return false;
        }
        if let Ok(guard) = CURRENT.try_lock()
            && let Some(c) = guard.as_ref()
        {
            report(c, &format!("the code under test asked for {size} bytes in one allocation (refused)"));
        }
        true
    }
}

// SAFETY: forwards to `System`, refusing (null) only allocations above the ceiling, which
// callers must handle anyway.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::refuse(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if Self::refuse(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if Self::refuse(new_size) {
            return std::ptr::null_mut();
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

// ------------------------------------------------------------------------------- inputs

/// One fuzz input: the bytes a parser gets, and how they were made (sample and edits).
#[derive(Clone)]
pub struct Input {
    pub bytes: Vec<u8>,
    pub how: String,
}

impl Input {
    /// The bytes as text, as a reader with `from_utf8_lossy` (or a user's editor) would see them.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes): b\"{}\"", self.how, self.bytes.len(), self.bytes.escape_ascii())
    }
}

/// Tokens worth inserting into any format: boundary numbers, odd JSON/TOML syntax, Unicode.
pub const COMMON_TOKENS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "2",
    "7",
    "8",
    "31",
    "32",
    "33",
    "64",
    "65",
    "255",
    "256",
    "1000",
    "65535",
    "65536",
    "100000",
    "100001",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "1e309",
    "-1e309",
    "1e-320",
    "0.5",
    "0.1",
    "1.0000000001",
    "nan",
    "inf",
    "-inf",
    "NaN",
    "Infinity",
    "true",
    "false",
    "null",
    "\"\"",
    "\"",
    "'",
    "\\",
    "\\u0000",
    "\\ud800",
    "\\uDFFF",
    "[",
    "]",
    "{",
    "}",
    "[]",
    "{}",
    "[[",
    "]]",
    ",",
    ":",
    "=",
    ".",
    "#",
    "\n",
    "\r\n",
    "\t",
    " ",
    "\0",
    "'''",
    "\"\"\"",
    "é",
    "\u{fffd}",
    "\u{feff}",
    "\u{202e}",
    "𝔸",
    "🦋",
    "\u{7f}",
];

/// Awkward numbers (a subset of [`COMMON_TOKENS`]) for [`Edit::Number`].
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "3",
    "31",
    "32",
    "64",
    "65",
    "255",
    "256",
    "1000",
    "65536",
    "100000",
    "100001",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "1e308",
    "1e309",
    "0.5",
    "1.5",
    "-0.5",
    "nan",
];

/// One random edit of a sample's bytes.
#[derive(Debug, Clone)]
enum Edit {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, Vec<u8>),
    Token(Index, Index),
    Delete(Index, u16),
    Truncate(Index),
    /// Copies `len` bytes from the first index to the second, `times` times (deep nesting,
    /// long lists, huge files).
    Repeat(Index, u16, Index, u16),
    /// Replaces the n-th run of digits with an awkward number.
    Number(Index, Index),
    /// Replaces the n-th double-quoted string with another string (JSON-escaped).
    Text(Index, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    let idx = any::<Index>;
    prop_oneof![
        3 => (idx(), 0u8..8).prop_map(|(i, b)| Edit::Flip(i, b)),
        2 => (idx(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        2 => (idx(), proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Edit::Insert(i, b)),
        3 => (idx(), idx()).prop_map(|(i, t)| Edit::Token(i, t)),
        2 => (idx(), 1u16..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => idx().prop_map(Edit::Truncate),
        1 => (idx(), 1u16..32, idx(), prop_oneof![1u16..4, 100u16..2000]).prop_map(|(a, l, b, t)| Edit::Repeat(a, l, b, t)),
        3 => (idx(), idx()).prop_map(|(n, t)| Edit::Number(n, t)),
        2 => (idx(), awkward_string()).prop_map(|(n, s)| Edit::Text(n, s)),
    ]
}

/// Strings that tend to break things: empty, blank, long, control characters, Unicode.
pub fn awkward_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("\n".to_string()),
        Just("Stage".to_string()),
        (1usize..3000).prop_map(|n| "x".repeat(n)),
        (1usize..200).prop_map(|n| "é🦋".repeat(n)),
        proptest::collection::vec(any::<char>(), 0..24).prop_map(|c| c.into_iter().collect()),
        proptest::collection::vec(0u8..0x20, 1..8).prop_map(|b| b.into_iter().map(char::from).collect()),
    ]
}

fn apply(sample: &[u8], edits: &[Edit], tokens: &[&str]) -> Vec<u8> {
    let mut b = sample.to_vec();
    for e in edits {
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
        match e {
            Edit::Flip(i, bit) if !b.is_empty() => {
                let p = i.index(b.len());
                b[p] ^= 1 << bit;
            }
            Edit::Set(i, v) if !b.is_empty() => {
                let p = i.index(b.len());
                b[p] = *v;
            }
            Edit::Insert(i, bytes) => {
                let p = at(i, b.len());
                b.splice(p..p, bytes.iter().copied());
            }
            Edit::Token(i, t) => {
                let all: Vec<&str> = COMMON_TOKENS.iter().chain(tokens).copied().collect();
                let token = all[t.index(all.len())].as_bytes();
                let p = at(i, b.len());
                b.splice(p..p, token.iter().copied());
            }
            Edit::Delete(i, n) if !b.is_empty() => {
                let p = i.index(b.len());
                let end = (p + usize::from(*n)).min(b.len());
                b.drain(p..end);
            }
            Edit::Truncate(i) => {
                let p = at(i, b.len());
                b.truncate(p);
            }
            Edit::Repeat(from, len, to, times) if !b.is_empty() => {
                let start = from.index(b.len());
                let piece = b[start..(start + usize::from(*len)).min(b.len())].to_vec();
                let p = at(to, b.len());
                let copies: Vec<u8> = piece.iter().copied().cycle().take(piece.len() * usize::from(*times)).collect();
                b.splice(p..p, copies);
            }
            Edit::Number(n, t) => {
                let runs = runs(&b, |c| c.is_ascii_digit());
                if !runs.is_empty() {
                    let (s, e) = runs[n.index(runs.len())];
                    b.splice(s..e, NUMBERS[t.index(NUMBERS.len())].bytes());
                }
            }
            Edit::Text(n, s) => {
                let strings = quoted(&b);
                if !strings.is_empty() {
                    let (s0, e0) = strings[n.index(strings.len())];
                    let json = serde_json::to_string(s).expect("a string serializes");
                    b.splice(s0..e0, json.bytes());
                }
            }
            _ => {}
        }
    }
    b
}

/// `(start, end)` of each maximal run of bytes matching `f`.
fn runs(b: &[u8], f: impl Fn(u8) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if f(b[i]) {
            let s = i;
            while i < b.len() && f(b[i]) {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

/// `(start, end)` of each `"…"` (quotes included), honouring backslash escapes.
fn quoted(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            let s = i;
            i += 1;
            while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            if i < b.len() && b[i] == b'"' {
                out.push((s, i + 1));
            }
        }
        i += 1;
    }
    out
}

/// 1 to 8 random edits of some bytes (see [`input`]), for targets that edit part of a file.
#[derive(Debug, Clone)]
pub struct Edits(Vec<Edit>);

impl Edits {
    /// The edited copy of `bytes`; `tokens` as for [`input`].
    pub fn apply(&self, bytes: &[u8], tokens: &[&str]) -> Vec<u8> {
        apply(bytes, &self.0, tokens)
    }
}

pub fn edits() -> impl Strategy<Value = Edits> {
    proptest::collection::vec(edit(), 1..8).prop_map(Edits)
}

/// Arbitrary bytes (1 in 8) or one of `samples` with 1 to 8 random edits; `tokens` are
/// format-specific words the edits may insert (keys, enum names).
pub fn input(samples: Vec<(&'static str, Vec<u8>)>, tokens: &'static [&'static str]) -> BoxedStrategy<Input> {
    assert!(!samples.is_empty());
    let samples = std::sync::Arc::new(samples);
    let random =
        proptest::collection::vec(any::<u8>(), 0..512).prop_map(|bytes| Input { bytes, how: "random bytes".into() });
    let edited = (any::<Index>(), proptest::collection::vec(edit(), 1..8)).prop_map(move |(s, edits)| {
        let (name, sample) = &samples[s.index(samples.len())];
        Input { bytes: apply(sample, &edits, tokens), how: format!("{name} with edits {edits:?}") }
    });
    prop_oneof![1 => random, 7 => edited].boxed()
}

// ------------------------------------------------------------------ JSON-tree edits

/// A JSON value likely to upset a reader expecting something else.
pub fn awkward_json(tokens: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let word = proptest::sample::select(tokens.to_vec()).prop_map(|s| Value::from(s.to_string()));
    let leaf = prop_oneof![
        3 => awkward_number(),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        2 => word.clone(),
        1 => awkward_string().prop_map(Value::from),
        1 => Just(Value::Object(Default::default())),
    ];
    prop_oneof![
        6 => leaf,
        2 => proptest::collection::vec(awkward_number(), 0..80).prop_map(Value::Array),
        1 => (0usize..80, (1u64..8).prop_map(|k| k * 32)).prop_map(|(n, v)| Value::Array(vec![Value::from(v); n])),
        1 => proptest::collection::vec(word, 0..8).prop_map(Value::Array),
    ]
}

/// One edit of a JSON tree: walk `path` down from the root (each index picks a child of an
/// object or array), then change a child there: most often keeping its type (another number,
/// string, an array element duplicated or dropped), sometimes to any value, or remove or add
/// one.
#[derive(Debug, Clone)]
pub struct JsonEdit {
    path: Vec<Index>,
    op: JsonOp,
}

#[derive(Debug, Clone)]
enum JsonOp {
    Tweak(Index, Tweak),
    Set(Index, Value),
    Remove(Index),
    Add(String, Value),
}

/// A change that keeps a value's type; which field applies depends on that type.
#[derive(Debug, Clone)]
struct Tweak {
    number: Value,
    text: String,
    word: String,
    pick: Index,
    how: u8,
}

fn json_edit(tokens: &'static [&'static str]) -> impl Strategy<Value = JsonEdit> {
    let key = prop_oneof![
        3 => proptest::sample::select(tokens.to_vec()).prop_map(str::to_string),
        1 => awkward_string(),
    ];
    let tweak =
        (awkward_number(), awkward_string(), proptest::sample::select(tokens.to_vec()), any::<Index>(), any::<u8>())
            .prop_map(|(number, text, word, pick, how)| Tweak { number, text, word: word.to_string(), pick, how });
    let op = prop_oneof![
        8 => (any::<Index>(), tweak).prop_map(|(i, t)| JsonOp::Tweak(i, t)),
        2 => (any::<Index>(), awkward_json(tokens)).prop_map(|(i, v)| JsonOp::Set(i, v)),
        1 => any::<Index>().prop_map(JsonOp::Remove),
        1 => (key, awkward_json(tokens)).prop_map(|(k, v)| JsonOp::Add(k, v)),
    ];
    (proptest::collection::vec(any::<Index>(), 0..6), op).prop_map(|(path, op)| JsonEdit { path, op })
}

fn awkward_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (0u64..130).prop_map(Value::from),
        1 => Just(Value::from(u64::MAX)),
        1 => Just(Value::from(i64::MAX)),
        1 => Just(Value::from(i64::MIN)),
        1 => Just(Value::from(u32::MAX)),
        1 => Just(Value::from(u32::MAX as u64 + 1)),
        1 => Just(Value::from(100_000u64)),
        1 => Just(Value::from(100_001u64)),
        1 => Just(Value::from(-1i64)),
        1 => any::<i64>().prop_map(Value::from),
        2 => prop_oneof![Just(0.5), Just(-1.5), Just(1e300), Just(-0.0), Just(1e-310), Just(0.999), Just(33.3), Just(12.5)]
            .prop_map(Value::from),
    ]
}

fn tweak(v: &mut Value, t: &Tweak) {
    match v {
        Value::Number(n) => {
            *v = match t.how % 4 {
                0 | 1 => t.number.clone(),
                2 => n.as_i64().map_or(t.number.clone(), |x| Value::from(x.wrapping_add(1))),
                _ => n.as_i64().map_or(t.number.clone(), |x| Value::from(x.wrapping_mul(10))),
            }
        }
        Value::String(s) => {
            *s = match t.how % 4 {
                0 => t.text.clone(),
                1 => t.word.clone(),
                2 => s.chars().take(t.pick.index(s.chars().count() + 1)).collect(),
                _ => format!("{s}{s}"),
            }
        }
        Value::Bool(b) => *b = !*b,
        Value::Array(a) if !a.is_empty() => {
            let i = t.pick.index(a.len());
            match t.how % 4 {
                0 | 1 => a.insert(i, a[i].clone()),
                2 => {
                    a.remove(i);
                }
                _ => a.reverse(),
            }
        }
        Value::Object(m) if !m.is_empty() => {
            let k = m.keys().nth(t.pick.index(m.len())).expect("in range").clone();
            if t.how.is_multiple_of(2) {
                m.remove(&k);
            } else if let Some(child) = m.get_mut(&k) {
                tweak(child, &Tweak { how: t.how / 2, ..t.clone() });
            }
        }
        _ => *v = t.number.clone(),
    }
}

fn child_mut<'a>(v: &'a mut Value, i: &Index) -> Option<&'a mut Value> {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let k = m.keys().nth(i.index(m.len())).expect("in range").clone();
            m.get_mut(&k)
        }
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            a.get_mut(i.index(n))
        }
        _ => None,
    }
}

fn is_container(v: &Value) -> bool {
    matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

fn apply_json(root: &mut Value, e: &JsonEdit) {
    let mut cur = root;
    for i in &e.path {
        if !child_mut(cur, i).is_some_and(|c| is_container(c)) {
            break;
        }
        cur = child_mut(cur, i).expect("checked above");
    }
    match &e.op {
        JsonOp::Tweak(i, t) => match child_mut(cur, i) {
            Some(child) => tweak(child, t),
            None => tweak(cur, t),
        },
        JsonOp::Set(i, v) => match child_mut(cur, i) {
            Some(child) => *child = v.clone(),
            None => *cur = v.clone(),
        },
        JsonOp::Remove(i) => match cur {
            Value::Object(m) if !m.is_empty() => {
                let k = m.keys().nth(i.index(m.len())).expect("in range").clone();
                m.remove(&k);
            }
            Value::Array(a) if !a.is_empty() => {
                let n = a.len();
                a.remove(i.index(n));
            }
            _ => {}
        },
        JsonOp::Add(k, v) => match cur {
            Value::Object(m) => {
                m.insert(k.clone(), v.clone());
            }
            Value::Array(a) => a.push(v.clone()),
            _ => {}
        },
    }
}

/// One of `samples` (JSON trees) with 1 to 6 tree edits, written by `write` (JSON text, TOML,
/// ...; `None` when the edited tree cannot be written in that format, which gives the
/// unedited sample). `tokens` are keys and words the edits may use.
pub fn json_input(
    samples: Vec<(&'static str, Value)>,
    tokens: &'static [&'static str],
    write: fn(&Value) -> Option<String>,
) -> BoxedStrategy<Input> {
    assert!(!samples.is_empty());
    let samples = std::sync::Arc::new(samples);
    (any::<Index>(), proptest::collection::vec(json_edit(tokens), 1..6))
        .prop_map(move |(s, edits)| {
            let (name, sample) = &samples[s.index(samples.len())];
            let mut v = sample.clone();
            for e in &edits {
                apply_json(&mut v, e);
            }
            let text = write(&v).or_else(|| write(sample)).unwrap_or_default();
            Input { bytes: text.into_bytes(), how: format!("{name} with tree edits {edits:?}") }
        })
        .boxed()
}

/// [`json_input`]'s writer for JSON files.
pub fn write_json(v: &Value) -> Option<String> {
    serde_json::to_string_pretty(v).ok()
}
