//! The seeded search for a trait assignment.
//!
//! Quotas are kept exact by construction: each trait is a column holding exactly its
//! values' counts, and the only move is swapping two items' values of one trait. Starting
//! from a greedy fill (each item in seeded order takes the value, among those with quota
//! left, that breaks the fewest rules with what it already has), a local search repairs the
//! remaining defects, i.e. rule breaks and items sharing a combination: it picks a defective
//! item, a trait (one of a broken rule's, when there is one), tries a few swap partners and
//! takes the best swap if it does not make things worse (and, rarely, a worse one to leave
//! a local minimum). Everything random comes from one SplitMix64 stream seeded by the
//! collection seed, so the result is deterministic. An attempt stops at zero defects or
//! after a step budget proportional to the size; after [`ATTEMPTS`] attempts from fresh
//! greedy starts it reports `no_assignment` with what is still broken in the best one.
//!
//! The search is a heuristic: it cannot prove that no assignment exists. The checks in
//! [`super::check`] catch the classic impossibilities first; a spec so tight that almost
//! every allowed combination must be used (uniqueness with barely enough combinations for
//! a value) may be refused although an assignment exists, and the message says so.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::check::{Conflict, ConflictKind, Model};
use super::spec::RuleKind;

/// SplitMix64: small, fast, and fully specified (so plans never change with a crate bump).
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x6368_7279_7361_6c69) // "chrysali"
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by rejection so no value is favoured.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return (x % n) as usize;
            }
        }
    }
}

/// A multiply-xorshift hasher for the combination keys: the keys are already well spread
/// numbers, and std's SipHash dominates the search time in debug builds. Only counting
/// uses the map (never its iteration order), so the plan stays deterministic.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z ^ (z >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0 ^ u64::from_le_bytes(buf)).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
        }
    }
}

/// The search state.
///
/// A row's combination key is its values read as a mixed-radix number (trait t's digit
/// weighs the product of the earlier traits' value counts), kept up to date by each swap in
/// O(1). It is exact while the number of combinations fits 128 bits; beyond that the key
/// wraps, which can only make two *different* rows look alike (a false duplicate the search
/// then separates), never hide a real duplicate. The plan's final uniqueness check compares
/// the rows themselves.
struct State<'a> {
    model: &'a Model,
    rows: Vec<Vec<u16>>,
    keys: Vec<u128>,
    radix: Vec<u128>,
    viol: Vec<u32>,
    /// `members[t][v]`: the items whose trait `t` is `v`; `pos[t][i]`: where item `i` is in
    /// its list. Lets a repair draw partners that have exactly the value it needs.
    members: Vec<Vec<Vec<usize>>>,
    pos: Vec<Vec<usize>>,
    combos: HashMap<u128, u32, BuildHasherDefault<KeyHasher>>,
    unique: bool,
    cost: u64,
    /// Items that may be defective (checked lazily when drawn).
    bad: Vec<usize>,
    in_bad: Vec<bool>,
}

impl State<'_> {
    fn row_breaks(&self, row: &[u16]) -> u32 {
        self.model
            .rules
            .iter()
            .filter(|r| {
                let has_a = row[r.a.0] as usize == r.a.1;
                let has_b = row[r.b.0] as usize == r.b.1;
                match r.kind {
                    RuleKind::Exclude => has_a && has_b,
                    RuleKind::Require => has_a && !has_b,
                }
            })
            .count() as u32
    }

    fn combo_remove(&mut self, i: usize) {
        if !self.unique {
            return;
        }
        let c = self.combos.get_mut(&self.keys[i]).expect("every row is counted");
        if *c > 1 {
            self.cost -= 1;
        }
        *c -= 1;
        if *c == 0 {
            self.combos.remove(&self.keys[i]);
        }
    }

    fn combo_add(&mut self, i: usize) {
        if !self.unique {
            return;
        }
        let c = self.combos.entry(self.keys[i]).or_insert(0);
        if *c > 0 {
            self.cost += 1;
        }
        *c += 1;
    }

    /// Swaps trait `t` between items `r` and `s` (its own inverse), keeping the cost exact.
    fn swap(&mut self, r: usize, s: usize, t: usize) {
        self.combo_remove(r);
        self.combo_remove(s);
        self.cost -= u64::from(self.viol[r] + self.viol[s]);
        let (vr, vs) = (self.rows[r][t], self.rows[s][t]);
        self.rows[r][t] = vs;
        self.rows[s][t] = vr;
        let (pr, ps) = (self.pos[t][r], self.pos[t][s]);
        self.members[t][vr as usize][pr] = s;
        self.members[t][vs as usize][ps] = r;
        self.pos[t][r] = ps;
        self.pos[t][s] = pr;
        let w = self.radix[t];
        self.keys[r] =
            self.keys[r].wrapping_sub(w.wrapping_mul(u128::from(vr))).wrapping_add(w.wrapping_mul(u128::from(vs)));
        self.keys[s] =
            self.keys[s].wrapping_sub(w.wrapping_mul(u128::from(vs))).wrapping_add(w.wrapping_mul(u128::from(vr)));
        self.viol[r] = self.row_breaks(&self.rows[r]);
        self.viol[s] = self.row_breaks(&self.rows[s]);
        self.cost += u64::from(self.viol[r] + self.viol[s]);
        self.combo_add(r);
        self.combo_add(s);
    }

    fn is_bad(&self, i: usize) -> bool {
        self.viol[i] > 0 || (self.unique && self.combos.get(&self.keys[i]).is_some_and(|&c| c > 1))
    }

    fn mark(&mut self, i: usize) {
        if !self.in_bad[i] && self.is_bad(i) {
            self.in_bad[i] = true;
            self.bad.push(i);
        }
    }
}

/// Finds rows (one value index per trait, per item) meeting every quota, rule and, when the
/// spec has traits, uniqueness. Call after [`super::check::check`] found no conflict.
pub(crate) fn solve(model: &Model, seed: u64) -> Result<Vec<Vec<u16>>, Conflict> {
    let n = model.size as usize;
    let traits = model.counts.len();
    if traits == 0 {
        return Ok(vec![Vec::new(); n]);
    }
    let mut rng = SplitMix::new(seed);
    // A few attempts from different greedy starts: a start can lead the local search into a
    // corner of a tight spec that another start avoids.
    let budget: u64 = 30_000 + 300 * n as u64;
    let mut steps = 0;
    let mut best: Option<State<'_>> = None;
    for _ in 0..ATTEMPTS {
        let (st, used) = attempt(model, &mut rng, budget);
        steps += used;
        if st.cost == 0 {
            tracing::debug!(steps, items = n, "trait assignment found");
            return Ok(st.rows);
        }
        if best.as_ref().is_none_or(|b| st.cost < b.cost) {
            best = Some(st);
        }
    }
    let st = best.expect("at least one attempt");
    // Report what is still broken.
    let mut constraints = Vec::new();
    let mut parts = Vec::new();
    for r in &model.rules {
        let on = st
            .rows
            .iter()
            .filter(|row| {
                let has_a = row[r.a.0] as usize == r.a.1;
                let has_b = row[r.b.0] as usize == r.b.1;
                match r.kind {
                    RuleKind::Exclude => has_a && has_b,
                    RuleKind::Require => has_a && !has_b,
                }
            })
            .count();
        if on > 0 {
            let verb = if r.kind == RuleKind::Exclude { "excludes" } else { "requires" };
            parts.push(format!(
                "rule {} ({} {verb} {}) broken on {on} items",
                r.index + 1,
                model.label(r.a),
                model.label(r.b)
            ));
            constraints.push(format!("rules[{}]", r.index));
        }
    }
    let dups: u32 = st.combos.values().filter(|&&c| c > 1).map(|c| c - 1).sum();
    if dups > 0 {
        parts.push(format!("{dups} items repeat another item's trait combination"));
        constraints.extend((0..traits).map(|t| format!("traits[{t}]")));
    }
    Err(Conflict {
        kind: ConflictKind::NoAssignment,
        message: format!(
            "found no assignment that satisfies the quotas, rules and unique combinations (searched {steps} steps; closest: {}). Either none exists or the spec leaves almost no slack: loosen the rules or quotas named, or add trait values",
            parts.join("; ")
        ),
        constraints,
    })
}

/// Rules broken by giving value `v` of trait `t` to an item that has `row` for traits `0..t`.
fn partial_breaks(model: &Model, row: &[u16], t: usize, v: usize) -> u32 {
    let get = |tt: usize| -> Option<usize> {
        if tt == t {
            Some(v)
        } else if tt < row.len() {
            Some(row[tt] as usize)
        } else {
            None
        }
    };
    model
        .rules
        .iter()
        .filter(|r| r.a.0 == t || r.b.0 == t)
        .filter(|r| match (get(r.a.0), get(r.b.0)) {
            (Some(a), Some(b)) => match r.kind {
                RuleKind::Exclude => a == r.a.1 && b == r.b.1,
                RuleKind::Require => a == r.a.1 && b != r.b.1,
            },
            _ => false,
        })
        .count() as u32
}

fn shuffle<T>(items: &mut [T], rng: &mut SplitMix) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        items.swap(i, j);
    }
}

/// How many greedy starts [`solve`] tries before it reports `no_assignment`.
const ATTEMPTS: usize = 3;

/// One greedy fill followed by the local search, for at most `budget` steps. Returns the
/// final state (cost 0 = solved) and the steps used.
fn attempt<'a>(model: &'a Model, rng: &mut SplitMix, budget: u64) -> (State<'a>, u64) {
    let n = model.size as usize;
    let traits = model.counts.len();
    // Greedy fill, trait by trait, items in a seeded order.
    let mut rows: Vec<Vec<u16>> = vec![Vec::with_capacity(traits); n];
    for t in 0..traits {
        let mut left: Vec<u32> = model.counts[t].clone();
        let mut order: Vec<usize> = (0..n).collect();
        shuffle(&mut order, rng);
        // Most constrained items first (fewest values that break nothing), so the values a
        // rule ties to particular items are still there when those items come.
        let options = |i: usize| (0..left.len()).filter(|&v| partial_breaks(model, &rows[i], t, v) == 0).count();
        let mut keyed: Vec<(usize, usize)> = order.iter().map(|&i| (options(i), i)).collect();
        keyed.sort_by_key(|&(o, _)| o);
        let order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
        for &i in &order {
            let mut best: Vec<usize> = Vec::new();
            let mut best_score = u32::MAX;
            for (v, &l) in left.iter().enumerate() {
                if l == 0 {
                    continue;
                }
                let score = partial_breaks(model, &rows[i], t, v);
                if score < best_score {
                    best_score = score;
                    best.clear();
                }
                if score == best_score {
                    best.push(v);
                }
            }
            // Prefer values with more quota left among equals, so the tail is not forced.
            let most = best.iter().map(|&v| left[v]).max().unwrap_or(0);
            best.retain(|&v| left[v] * 2 >= most);
            let v = best[rng.below(best.len())];
            left[v] -= 1;
            rows[i].push(v as u16);
        }
    }

    let mut radix = Vec::with_capacity(traits);
    let mut w: u128 = 1;
    for vs in &model.counts {
        radix.push(w);
        w = w.wrapping_mul(vs.len().max(1) as u128);
    }
    let keys = rows
        .iter()
        .map(|row| row.iter().zip(&radix).fold(0u128, |k, (&v, &w)| k.wrapping_add(w.wrapping_mul(u128::from(v)))))
        .collect();
    let mut members: Vec<Vec<Vec<usize>>> = model.counts.iter().map(|vs| vec![Vec::new(); vs.len()]).collect();
    let mut pos = vec![vec![0usize; n]; traits];
    for (i, row) in rows.iter().enumerate() {
        for (t, &v) in row.iter().enumerate() {
            pos[t][i] = members[t][v as usize].len();
            members[t][v as usize].push(i);
        }
    }
    let mut st = State {
        model,
        members,
        pos,
        viol: vec![0; n],
        rows,
        keys,
        radix,
        combos: HashMap::with_capacity_and_hasher(n, Default::default()),
        unique: true,
        cost: 0,
        bad: Vec::new(),
        in_bad: vec![false; n],
    };
    for i in 0..n {
        st.viol[i] = st.row_breaks(&st.rows[i]);
        st.cost += u64::from(st.viol[i]);
        st.combo_add(i);
    }
    for i in 0..n {
        st.mark(i);
    }

    let mut steps = 0;
    let mut tabu = vec![0u64; n * traits];
    let mut best_cost = st.cost;
    const CANDIDATES: usize = 6;
    const UPHILL: usize = 20;
    while st.cost > 0 && steps < budget {
        steps += 1;
        if st.bad.is_empty() {
            // The lazy set lost track (a row became a duplicate through its twin): rebuild.
            for i in 0..n {
                st.mark(i);
            }
            if st.bad.is_empty() {
                break;
            }
        }
        let k = rng.below(st.bad.len());
        let r = st.bad[k];
        if !st.is_bad(r) {
            st.bad.swap_remove(k);
            st.in_bad[r] = false;
            continue;
        }
        // What to change: for a broken rule, the value it needs (require: give the item the
        // required value, or take away the requiring one; exclude: take either away);
        // otherwise (a repeated combination, or now and then anyway) any trait.
        let (t, want) = if st.viol[r] > 0 && rng.below(5) != 0 {
            let row = &st.rows[r];
            let broken: Vec<&super::check::Rule> = model
                .rules
                .iter()
                .filter(|ru| {
                    let has_a = row[ru.a.0] as usize == ru.a.1;
                    let has_b = row[ru.b.0] as usize == ru.b.1;
                    match ru.kind {
                        RuleKind::Exclude => has_a && has_b,
                        RuleKind::Require => has_a && !has_b,
                    }
                })
                .collect();
            let ru = broken[rng.below(broken.len())];
            match (ru.kind, rng.below(2)) {
                (RuleKind::Require, 0) => (ru.b.0, Some(ru.b.1)),
                (_, 0) => (ru.a.0, None),
                (_, _) => (ru.b.0, None),
            }
        } else {
            (rng.below(traits), None)
        };
        if tabu[r * traits + t] > steps && st.cost >= best_cost {
            continue;
        }
        let before = st.cost;
        let mut best: Option<(u64, usize)> = None;
        let mut ties = 0u64;
        for _ in 0..CANDIDATES * 2 {
            let s = match want {
                Some(v) => {
                    let list = &st.members[t][v];
                    if list.is_empty() {
                        break;
                    }
                    list[rng.below(list.len())]
                }
                None => rng.below(n),
            };
            if s == r || st.rows[s][t] == st.rows[r][t] {
                continue;
            }
            st.swap(r, s, t);
            let after = st.cost;
            st.swap(r, s, t);
            // Tabu: a recently changed value stays put unless the move beats the best so far.
            if tabu[s * traits + t] > steps && after >= best_cost {
                continue;
            }
            match best {
                Some((b, _)) if after > b => {}
                Some((b, _)) if after == b => {
                    ties += 1;
                    if rng.below(ties as usize + 1) == 0 {
                        best = Some((after, s));
                    }
                }
                _ => {
                    ties = 0;
                    best = Some((after, s));
                }
            }
        }
        let Some((after, s)) = best else { continue };
        // Downhill and sideways moves always; one step uphill now and then, so the search can
        // leave a local minimum (the tabu keeps it from walking straight back).
        if after <= before || (after == before + 1 && rng.below(UPHILL) == 0) {
            st.swap(r, s, t);
            let tenure = 5 + rng.below(10) as u64;
            tabu[r * traits + t] = steps + tenure;
            tabu[s * traits + t] = steps + tenure;
            best_cost = best_cost.min(st.cost);
            st.mark(r);
            st.mark(s);
        }
    }

    (st, steps)
}
