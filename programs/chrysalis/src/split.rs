//! The split rule, shared by mint proceeds and royalties.
//!
//! Creator `i` gets `floor(amount * share_i / 10 000)` (computed in `u128`, so it is exact to
//! the lamport for any `u64`); the remainder, at most `n - 1` lamports for `n` creators, is
//! *dust*: nobody gets it now, it stays in the vault and joins the next distribution. So
//! `sum(parts) + dust == amount` always, and no creator is ever favoured by rounding.

use crate::errors::ChrysalisError;
use anchor_lang::prelude::*;

/// Writes each creator's part into `parts[..shares.len()]` and returns the dust.
/// Fails if the shares do not sum to 10 000 or there are more shares than `parts`.
pub fn split(amount: u64, shares: &[u16], parts: &mut [u64]) -> Result<u64> {
    require!(shares.len() <= parts.len(), ChrysalisError::TooManyCreators);
    let total: u32 = shares.iter().map(|&s| u32::from(s)).sum();
    require!(total == u32::from(crate::state::TOTAL_SHARES_BPS), ChrysalisError::SharesMustSumTo10000);
    let mut paid: u64 = 0;
    for (part, &share) in parts.iter_mut().zip(shares) {
        let p = u128::from(amount).checked_mul(u128::from(share)).ok_or(ChrysalisError::ArithmeticOverflow)?
            / u128::from(crate::state::TOTAL_SHARES_BPS);
        // p <= amount because share <= 10 000.
        *part = u64::try_from(p).map_err(|_| ChrysalisError::ArithmeticOverflow)?;
        paid = paid.checked_add(*part).ok_or(ChrysalisError::ArithmeticOverflow)?;
    }
    amount.checked_sub(paid).ok_or_else(|| error!(ChrysalisError::ArithmeticOverflow))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Collection, Creator, MAX_CREATORS};
    use proptest::prelude::*;

    /// 1..=16 positive shares summing to 10 000 (cut points of 0..10 000).
    fn shares() -> impl Strategy<Value = Vec<u16>> {
        (1usize..=MAX_CREATORS).prop_flat_map(|n| {
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

    fn collection(shares: &[u16]) -> Collection {
        Collection {
            authority: Pubkey::default(),
            group_mint: Pubkey::default(),
            bump: 0,
            vault_bump: 0,
            royalty_bps: 0,
            price: 0,
            max_supply: 1,
            minted: 0,
            name: String::new(),
            symbol: String::new(),
            uri: String::new(),
            creators: shares
                .iter()
                .map(|&s| Creator { address: Pubkey::new_unique(), share_bps: s, owed: 0 })
                .collect(),
            stages: Vec::new(),
        }
    }

    proptest! {
        /// paid + dust = amount; each part is exactly floor(amount * share / 10 000); the
        /// dust is less than one lamport per creator.
        #[test]
        fn split_is_exact(amount in any::<u64>(), shares in shares()) {
            let mut parts = [0u64; MAX_CREATORS];
            let dust = split(amount, &shares, &mut parts).unwrap();
            let paid: u128 = parts.iter().map(|&p| u128::from(p)).sum();
            prop_assert_eq!(paid + u128::from(dust), u128::from(amount));
            for (i, &s) in shares.iter().enumerate() {
                prop_assert_eq!(
                    u128::from(parts[i]),
                    u128::from(amount) * u128::from(s) / 10_000
                );
            }
            prop_assert_eq!(&parts[shares.len()..], &[0u64; MAX_CREATORS][shares.len()..]);
            prop_assert!(dust < shares.len() as u64);
        }

        /// Shares that do not sum to 10 000 are refused, whatever the amount.
        #[test]
        fn bad_shares_are_refused(
            amount in any::<u64>(),
            shares in proptest::collection::vec(any::<u16>(), 1..=MAX_CREATORS),
        ) {
            let total: u32 = shares.iter().map(|&s| u32::from(s)).sum();
            prop_assume!(total != 10_000);
            let mut parts = [0u64; MAX_CREATORS];
            prop_assert!(split(amount, &shares, &mut parts).is_err());
        }

        /// Over many deposits (mint prices, royalties), with dust carried to the next split as
        /// the vault does: owed + final dust = everything deposited; no creator falls more than
        /// one lamport per deposit short of their exact share of the whole, and re-split dust
        /// (under one lamport per creator per deposit) is the most anyone gets above it.
        #[test]
        fn ledger_conserves_lamports(
            deposits in proptest::collection::vec(0u64..1_000_000_000_000, 1..20),
            shares in shares(),
        ) {
            let mut c = collection(&shares);
            let mut dust = 0u64;
            for d in &deposits {
                dust = c.credit_split(d + dust).unwrap();
            }
            let total: u128 = deposits.iter().map(|&d| u128::from(d)).sum();
            let owed: u128 = c.creators.iter().map(|c| u128::from(c.owed)).sum();
            prop_assert_eq!(owed + u128::from(dust), total);
            prop_assert!(dust < shares.len() as u64);
            for cr in &c.creators {
                let exact = total * u128::from(cr.share_bps) / 10_000;
                let k = deposits.len() as u128;
                prop_assert!(u128::from(cr.owed) + k >= exact);
                prop_assert!(u128::from(cr.owed) <= exact + k * shares.len() as u128);
            }
        }
    }

    #[test]
    fn owed_overflow_is_an_error() {
        let mut c = collection(&[10_000]);
        c.creators[0].owed = u64::MAX;
        let err = c.credit_split(1).unwrap_err();
        assert_eq!(err, error!(ChrysalisError::ArithmeticOverflow));
        let mut c = collection(&[5_000, 5_000]);
        c.creators[0].owed = u64::MAX;
        c.creators[1].owed = 1;
        assert_eq!(c.total_owed().unwrap_err(), error!(ChrysalisError::ArithmeticOverflow));
    }

    #[test]
    fn too_many_shares_is_an_error() {
        let mut parts = [0u64; 2];
        assert!(split(1, &[5_000, 3_000, 2_000], &mut parts).is_err());
    }
}
