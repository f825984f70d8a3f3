//! The feasibility check: can the quotas, rules and uniqueness all hold at once?
//!
//! [`check`] runs before anything is generated and names the classic conflicts with the
//! constraints involved, so the user knows what to change:
//!
//! | kind | what it means |
//! |---|---|
//! | `unknown_reference` | a rule names a trait or value that does not exist |
//! | `quota_sum` | a trait's quotas do not add up to the collection size |
//! | `requires_own_trait` | a value requires another value of its own trait (an item has one) |
//! | `requires_two_values` | a value requires (directly or through other rules) two values of one trait |
//! | `requires_excluded` | a value requires values that exclude each other or it |
//! | `require_short` | values requiring X are on more items than X is (e.g. 300 items need X, 200 have it) |
//! | `exclude_overfull` | values excluding X are on more items than lack X (pigeonhole) |
//! | `too_few_combinations` | the rules leave fewer distinct trait combinations than items |
//! | `value_too_few_combinations` | a value is on more items than there are distinct combinations with it |
//! | `no_assignment` | the checks pass but the seeded search found no assignment ([`super::solver`]) |
//!
//! Rules: `exclude A, B` means no item has both; `require A, B` means every item with A has B.
//! A require closure is followed transitively (A → B → C means A needs C too).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::spec::{CollectionSpec, RuleKind};

/// One reason a spec cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Conflict {
    pub kind: ConflictKind,
    /// For a person: what conflicts, with numbers, and what to change.
    pub message: String,
    /// The spec paths of the constraints involved, e.g. `traits[1]`, `rules[0]`.
    pub constraints: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    UnknownReference,
    QuotaSum,
    RequiresOwnTrait,
    RequiresTwoValues,
    RequiresExcluded,
    RequireShort,
    ExcludeOverfull,
    TooFewCombinations,
    ValueTooFewCombinations,
    NoAssignment,
}

/// A value: (trait index, value index).
pub(crate) type Val = (usize, usize);

/// A rule resolved to indexes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub kind: RuleKind,
    pub a: Val,
    pub b: Val,
    /// Index in `spec.rules`.
    pub index: usize,
}

/// The spec reduced to numbers: counts per trait value and resolved rules.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub size: u32,
    pub counts: Vec<Vec<u32>>,
    pub rules: Vec<Rule>,
    /// `Trait = Value` labels for messages.
    pub labels: Vec<Vec<String>>,
}

impl Model {
    /// Resolves quotas and rule references; conflicts for those that do not resolve.
    pub fn from_spec(spec: &CollectionSpec) -> Result<Self, Vec<Conflict>> {
        let mut conflicts = Vec::new();
        let mut counts = Vec::new();
        for (t, (tr, vc)) in spec.traits.iter().zip(spec.value_counts()).enumerate() {
            let sum: u64 = vc.iter().flatten().map(|&c| u64::from(c)).sum();
            if vc.iter().any(Option::is_none) || sum != u64::from(spec.size) {
                let missing = vc.iter().filter(|c| c.is_none()).count();
                let mut message = format!(
                    "quotas of trait \"{}\" add up to {sum} items but the collection has {}",
                    tr.name, spec.size
                );
                if missing > 0 {
                    message.push_str(&format!(
                        " ({missing} value(s) have no usable quota: a percent that is not a whole number of items, or more than one value without a quota)"
                    ));
                }
                message.push_str("; every item has exactly one value of every trait, so they must add up to the size");
                conflicts.push(Conflict {
                    kind: ConflictKind::QuotaSum,
                    message,
                    constraints: vec![format!("traits[{t}]"), "size".into()],
                });
            }
            counts.push(vc.into_iter().map(|c| c.unwrap_or(0)).collect::<Vec<_>>());
        }
        let find = |trait_name: &str, value: &str| -> Option<Val> {
            let t = spec.traits.iter().position(|t| t.name == trait_name)?;
            let v = spec.traits[t].values.iter().position(|v| v.value == value)?;
            Some((t, v))
        };
        let mut rules = Vec::new();
        for (i, r) in spec.rules.iter().enumerate() {
            match (find(&r.when.trait_name, &r.when.value), find(&r.then.trait_name, &r.then.value)) {
                (Some(a), Some(b)) => rules.push(Rule { kind: r.kind, a, b, index: i }),
                (a, _) => {
                    let missing = if a.is_none() { &r.when } else { &r.then };
                    conflicts.push(Conflict {
                        kind: ConflictKind::UnknownReference,
                        message: format!(
                            "rule {} names {missing}, which is not a trait value of this collection",
                            i + 1
                        ),
                        constraints: vec![format!("rules[{i}]")],
                    });
                }
            }
        }
        if !conflicts.is_empty() {
            return Err(conflicts);
        }
        let labels = spec
            .traits
            .iter()
            .map(|t| t.values.iter().map(|v| format!("{} = {}", t.name, v.value)).collect())
            .collect();
        Ok(Self { size: spec.size, counts, rules, labels })
    }

    pub fn label(&self, v: Val) -> &str {
        &self.labels[v.0][v.1]
    }

    pub fn count(&self, v: Val) -> u32 {
        self.counts[v.0][v.1]
    }

    fn values(&self) -> impl Iterator<Item = Val> + '_ {
        self.counts.iter().enumerate().flat_map(|(t, vs)| (0..vs.len()).map(move |v| (t, v)))
    }

    /// Do values `x` and `y` exclude each other by a direct rule? (Values of one trait
    /// exclude each other anyway: an item has one.)
    fn excluded(&self, x: Val, y: Val) -> Option<usize> {
        self.rules
            .iter()
            .find(|r| r.kind == RuleKind::Exclude && ((r.a == x && r.b == y) || (r.a == y && r.b == x)))
            .map(|r| r.index)
    }

    /// Everything `x` requires, directly or transitively, with the rules on the way.
    fn closure(&self, x: Val) -> (BTreeSet<Val>, BTreeSet<usize>) {
        let mut seen = BTreeSet::new();
        let mut via = BTreeSet::new();
        let mut stack = vec![x];
        while let Some(cur) = stack.pop() {
            for r in self.rules.iter().filter(|r| r.kind == RuleKind::Require && r.a == cur) {
                via.insert(r.index);
                if r.b != x && seen.insert(r.b) {
                    stack.push(r.b);
                }
            }
        }
        (seen, via)
    }

    /// Does a (partial) row, filled for traits `0..row.len()`, break a rule?
    fn breaks(&self, row: &[u16]) -> bool {
        let n = row.len();
        self.rules.iter().any(|r| {
            if r.a.0 >= n || r.b.0 >= n {
                return false;
            }
            let has_a = row[r.a.0] as usize == r.a.1;
            let has_b = row[r.b.0] as usize == r.b.1;
            match r.kind {
                RuleKind::Exclude => has_a && has_b,
                RuleKind::Require => has_a && !has_b,
            }
        })
    }

    /// Distinct rule-abiding combinations of values with a non-zero quota (with `fixed`
    /// forced), counting up to `cap`. `None` when the search exceeds its work budget.
    fn combinations(&self, fixed: Option<Val>, cap: u64) -> Option<u64> {
        let mut budget: u64 = 2_000_000;
        let mut row = Vec::with_capacity(self.counts.len());
        let mut found = 0;
        self.count_from(&mut row, fixed, cap, &mut found, &mut budget).then_some(found)
    }

    fn count_from(&self, row: &mut Vec<u16>, fixed: Option<Val>, cap: u64, found: &mut u64, budget: &mut u64) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let t = row.len();
        if t == self.counts.len() {
            *found += 1;
            return true;
        }
        for v in 0..self.counts[t].len() {
            if *found >= cap {
                return true;
            }
            if self.counts[t][v] == 0 || fixed.is_some_and(|f| f.0 == t && f.1 != v) {
                continue;
            }
            row.push(v as u16);
            let ok = self.breaks(row) || self.count_from(row, fixed, cap, found, budget);
            row.pop();
            if !ok {
                return false;
            }
        }
        true
    }
}

/// Every conflict that makes the spec impossible to plan, found without searching. Empty
/// does not guarantee a plan (the search has the last word), but every classic conflict is
/// caught here with its constraints named. Call it on a spec whose `validate()` is empty.
pub fn check(spec: &CollectionSpec) -> Vec<Conflict> {
    let model = match Model::from_spec(spec) {
        Ok(m) => m,
        Err(conflicts) => return conflicts,
    };
    let mut out = Vec::new();
    let rule_paths = |via: &BTreeSet<usize>| via.iter().map(|i| format!("rules[{i}]")).collect::<Vec<_>>();

    // Requirements, followed transitively.
    let values: Vec<Val> = model.values().collect();
    for &x in &values {
        if model.count(x) == 0 {
            continue;
        }
        let (req, via) = model.closure(x);
        if req.is_empty() {
            continue;
        }
        let with_x: Vec<Val> = std::iter::once(x).chain(req.iter().copied()).collect();
        if let Some(&own) = req.iter().find(|r| r.0 == x.0 && r.1 != x.1) {
            out.push(Conflict {
                kind: ConflictKind::RequiresOwnTrait,
                message: format!(
                    "{} requires {}, another value of the same trait, but an item has one value per trait; {} items cannot satisfy it",
                    model.label(x),
                    model.label(own),
                    model.count(x)
                ),
                constraints: rule_paths(&via),
            });
            continue;
        }
        let mut two = None;
        for a in &req {
            if let Some(b) = req.iter().find(|b| b.0 == a.0 && b.1 > a.1) {
                two = Some((*a, *b));
                break;
            }
        }
        if let Some((a, b)) = two {
            out.push(Conflict {
                kind: ConflictKind::RequiresTwoValues,
                message: format!(
                    "{} requires both {} and {}, two values of one trait; an item has only one",
                    model.label(x),
                    model.label(a),
                    model.label(b)
                ),
                constraints: rule_paths(&via),
            });
            continue;
        }
        let mut clash = None;
        'outer: for (i, &a) in with_x.iter().enumerate() {
            for &b in &with_x[i + 1..] {
                if let Some(rule) = model.excluded(a, b) {
                    clash = Some((a, b, rule));
                    break 'outer;
                }
            }
        }
        if let Some((a, b, rule)) = clash {
            let mut c = rule_paths(&via);
            c.push(format!("rules[{rule}]"));
            out.push(Conflict {
                kind: ConflictKind::RequiresExcluded,
                message: format!(
                    "{} requires {} and {}, but {} excludes {}; an item with {} cannot exist",
                    model.label(x),
                    model.label(a),
                    model.label(b),
                    model.label(a),
                    model.label(b),
                    model.label(x)
                ),
                constraints: c,
            });
        }
    }
    if !out.is_empty() {
        return out;
    }

    // Counting: items that need X must fit on the items that have X; items that exclude X
    // must fit on the items without it. Values of one trait are on disjoint items, so their
    // counts add up.
    let closures: Vec<(Val, BTreeSet<Val>, BTreeSet<usize>)> = values
        .iter()
        .map(|&v| {
            let (c, via) = model.closure(v);
            (v, c, via)
        })
        .collect();
    for &x in &values {
        for t in 0..model.counts.len() {
            if t == x.0 {
                continue;
            }
            let needers: Vec<&(Val, BTreeSet<Val>, BTreeSet<usize>)> =
                closures.iter().filter(|(v, c, _)| v.0 == t && model.count(*v) > 0 && c.contains(&x)).collect();
            let need: u64 = needers.iter().map(|(v, _, _)| u64::from(model.count(*v))).sum();
            if need > u64::from(model.count(x)) {
                let names = needers
                    .iter()
                    .map(|(v, _, _)| format!("{} ({})", model.label(*v), model.count(*v)))
                    .collect::<Vec<_>>();
                let via: BTreeSet<usize> = needers.iter().flat_map(|(_, _, via)| via.iter().copied()).collect();
                out.push(Conflict {
                    kind: ConflictKind::RequireShort,
                    message: format!(
                        "{} require {}: {need} items need it but its quota is {}; raise its quota or lower theirs",
                        names.join(", "),
                        model.label(x),
                        model.count(x)
                    ),
                    constraints: rule_paths(&via),
                });
            }
            // Exclusions, including those inherited through requirements.
            let mut via = BTreeSet::new();
            let mut excluders = Vec::new();
            for (v, c, vvia) in closures.iter().filter(|(v, _, _)| v.0 == t && model.count(*v) > 0) {
                let hit = std::iter::once(v).chain(c.iter()).find_map(|z| model.excluded(*z, x));
                if let Some(rule) = hit {
                    via.insert(rule);
                    via.extend(vvia.iter().copied());
                    excluders.push(*v);
                }
            }
            let busy: u64 = excluders.iter().map(|v| u64::from(model.count(*v))).sum();
            let free = u64::from(model.size - model.count(x).min(model.size));
            if model.count(x) > 0 && busy > free {
                let names =
                    excluders.iter().map(|v| format!("{} ({})", model.label(*v), model.count(*v))).collect::<Vec<_>>();
                out.push(Conflict {
                    kind: ConflictKind::ExcludeOverfull,
                    message: format!(
                        "{} exclude {}: they are on {busy} items, but only {free} of the {} items lack {} (its quota is {})",
                        names.join(", "),
                        model.label(x),
                        model.size,
                        model.label(x),
                        model.count(x)
                    ),
                    constraints: rule_paths(&via),
                });
            }
        }
    }
    if !out.is_empty() {
        return out;
    }

    // Uniqueness: enough distinct combinations, overall and per value.
    if !model.counts.is_empty() {
        let size = u64::from(model.size);
        if let Some(n) = model.combinations(None, size)
            && n < size
        {
            out.push(Conflict {
                kind: ConflictKind::TooFewCombinations,
                message: format!(
                    "the traits and rules allow only {n} distinct combinations but the collection has {size} items, each with its own combination; add trait values or traits, or lower the size"
                ),
                constraints: (0..model.counts.len()).map(|t| format!("traits[{t}]")).chain(rule_paths(&model.rules.iter().map(|r| r.index).collect())).collect(),
            });
            return out;
        }
        for &x in &values {
            let c = u64::from(model.count(x));
            if c == 0 {
                continue;
            }
            if let Some(n) = model.combinations(Some(x), c)
                && n < c
            {
                out.push(Conflict {
                    kind: ConflictKind::ValueTooFewCombinations,
                    message: format!(
                        "{} is asked for {c} items but only {n} distinct combinations contain it; lower its quota or add values to the other traits",
                        model.label(x)
                    ),
                    constraints: vec![format!("traits[{}].values[{}]", x.0, x.1)],
                });
            }
        }
    }
    out
}
