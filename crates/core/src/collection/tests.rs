//! Unit tests of the solver internals; spec-level tests live in crates/core/tests/collection*.rs.

use super::solver::SplitMix;

#[test]
fn splitmix_below_is_in_range_and_deterministic() {
    let mut a = SplitMix::new(5);
    let mut b = SplitMix::new(5);
    for n in 1..200 {
        let x = a.below(n);
        assert!(x < n);
        assert_eq!(x, b.below(n));
    }
}
