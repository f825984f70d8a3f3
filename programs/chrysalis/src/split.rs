//! The split rule, shared by mint proceeds and royalties.
//!
//! Creator `i` gets `floor(amount * share_i / 10 000)` (computed in `u128`, so it is exact to
//! the lamport for any `u64`); the remainder, at most `n - 1` lamports for `n` creators, is
//! *dust*: nobody gets it now, it stays in the vault and joins the next distribution. So
//! `sum(parts) + dust == amount` always, and no creator is ever favoured by rounding.
//!
//! This file knows no account: `state` calls it to credit a collection's creators.

use crate::errors::ChrysalisError;
use anchor_lang::prelude::*;

/// Shares are basis points; they sum to exactly this.
pub const TOTAL_SHARES_BPS: u16 = 10_000;

/// Writes each creator's part into `parts[..shares.len()]` and returns the dust.
/// Fails if the shares do not sum to 10 000 or there are more shares than `parts`.
pub fn split(amount: u64, shares: &[u16], parts: &mut [u64]) -> Result<u64> {
    require!(shares.len() <= parts.len(), ChrysalisError::TooManyCreators);
    let total: u32 = shares.iter().map(|&s| u32::from(s)).sum();
    require!(total == u32::from(TOTAL_SHARES_BPS), ChrysalisError::SharesMustSumTo10000);
    let mut paid: u64 = 0;
    for (part, &share) in parts.iter_mut().zip(shares) {
        let p = u128::from(amount).checked_mul(u128::from(share)).ok_or(ChrysalisError::ArithmeticOverflow)?
            / u128::from(TOTAL_SHARES_BPS);
        // p <= amount because share <= 10 000.
        *part = u64::try_from(p).map_err(|_| ChrysalisError::ArithmeticOverflow)?;
        paid = paid.checked_add(*part).ok_or(ChrysalisError::ArithmeticOverflow)?;
    }
    amount.checked_sub(paid).ok_or_else(|| error!(ChrysalisError::ArithmeticOverflow))
}

#[cfg(test)]
pub(crate) mod testing {
    use proptest::prelude::*;

    /// 1..=`max` positive shares summing to 10 000 (cut points of 0..10 000).
    pub(crate) fn shares(max: usize) -> impl Strategy<Value = Vec<u16>> {
        (1usize..=max).prop_flat_map(|n| {
            proptest::sample::subsequence((1u16..10_000).collect::<Vec<_>>(), n - 1).prop_map(|mut cuts| {
                cuts.sort_unstable();
                let mut out = Vec::with_capacity(cuts.len() + 1);
                let mut prev = 0u16;
                for c in cuts.into_iter().chain([10_000]) {
                    out.push(c - prev);
                    prev = c;
                }
                out
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::testing::shares;
    use super::*;
    use proptest::prelude::*;

    /// As many parts as the program's longest creator list (any count would do).
    const PARTS: usize = 16;

    proptest! {
        /// paid + dust = amount; each part is exactly floor(amount * share / 10 000); the
        /// dust is less than one lamport per creator.
        #[test]
        fn split_is_exact(amount in any::<u64>(), shares in shares(PARTS)) {
            let mut parts = [0u64; PARTS];
            let dust = split(amount, &shares, &mut parts).unwrap();
            let paid: u128 = parts.iter().map(|&p| u128::from(p)).sum();
            prop_assert_eq!(paid + u128::from(dust), u128::from(amount));
            for (i, &s) in shares.iter().enumerate() {
                prop_assert_eq!(
                    u128::from(parts[i]),
                    u128::from(amount) * u128::from(s) / 10_000
                );
            }
            prop_assert_eq!(&parts[shares.len()..], &[0u64; PARTS][shares.len()..]);
            prop_assert!(dust < shares.len() as u64);
        }

        /// Shares that do not sum to 10 000 are refused, whatever the amount.
        #[test]
        fn bad_shares_are_refused(
            amount in any::<u64>(),
            shares in proptest::collection::vec(any::<u16>(), 1..=PARTS),
        ) {
            let total: u32 = shares.iter().map(|&s| u32::from(s)).sum();
            prop_assume!(total != 10_000);
            let mut parts = [0u64; PARTS];
            prop_assert!(split(amount, &shares, &mut parts).is_err());
        }
    }

    #[test]
    fn too_many_shares_is_an_error() {
        let mut parts = [0u64; 2];
        assert!(split(1, &[5_000, 3_000, 2_000], &mut parts).is_err());
    }
}
