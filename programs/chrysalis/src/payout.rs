//! Paying creators what the collection's ledger owes them, from the vault.

use anchor_lang::{
    prelude::*,
    system_program::{Transfer, transfer},
};

use crate::{
    errors::ChrysalisError,
    state::{Collection, VAULT_SEED},
};

/// Pays every creator their whole `owed` from the vault. `wallets` must be the creators'
/// wallets, in the collection's order. A creator whose wallet cannot be paid now is skipped
/// and stays owed: one passed read-only or executable, or one that would stay below its
/// rent-exempt minimum after the payment (a fresh wallet receiving a small amount: the
/// transfer would fail with InsufficientFundsForRent).
/// Returns the lamports paid.
pub fn pay_owed<'info>(
    collection: &mut Collection,
    collection_key: &Pubkey,
    vault: &AccountInfo<'info>,
    wallets: &[AccountInfo<'info>],
    system_program: &AccountInfo<'info>,
) -> Result<u64> {
    let rent = Rent::get()?;
    require!(wallets.len() == collection.creators.len(), ChrysalisError::CreatorMismatch);
    let vault_seeds: &[&[u8]] = &[VAULT_SEED, collection_key.as_ref(), &[collection.vault_bump]];
    let mut paid: u64 = 0;
    for (creator, wallet) in collection.creators.iter_mut().zip(wallets) {
        require_keys_eq!(wallet.key(), creator.address, ChrysalisError::CreatorMismatch);
        let amount = creator.owed;
        // A wallet that cannot take the payment (passed read-only, or demoted to read-only by
        // the runtime, or since turned into a program) must never block the others: its
        // share stays owed for a later call.
        if amount == 0 || !wallet.is_writable || wallet.executable {
            continue;
        }
        let after = wallet.lamports().checked_add(amount).ok_or(ChrysalisError::ArithmeticOverflow)?;
        if after < rent.minimum_balance(wallet.data_len()) {
            continue;
        }
        creator.owed = 0;
        transfer(
            CpiContext::new_with_signer(
                system_program.key(),
                Transfer { from: vault.clone(), to: wallet.clone() },
                &[vault_seeds],
            ),
            amount,
        )?;
        paid = paid.checked_add(amount).ok_or(ChrysalisError::ArithmeticOverflow)?;
    }
    Ok(paid)
}
