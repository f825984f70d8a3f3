use anchor_lang::prelude::*;

use crate::{errors::ChrysalisError, events::RoyaltiesDistributed, payout::pay_owed, state::*};

/// Accounts of [`distribute_royalties`](crate::chrysalis::distribute_royalties).
///
/// Remaining accounts: the collection's creator wallets, writable, in the collection's order.
#[event_cpi]
#[derive(Accounts)]
pub struct DistributeRoyalties<'info> {
    #[account(
        mut,
        seeds = [COLLECTION_SEED, collection.group_mint.as_ref()],
        bump = collection.bump,
    )]
    pub collection: Box<Account<'info, Collection>>,
    /// The collection's vault (marketplaces pay royalties here; mint prices land here).
    #[account(mut, seeds = [VAULT_SEED, collection.key().as_ref()], bump = collection.vault_bump)]
    pub vault: SystemAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// Callable by anyone. Once anything is minted, splits the vault's new lamports (balance above
/// its rent-exempt minimum and above what it already owes) by share, then pays every creator what they are owed,
/// except a creator whose wallet would stay below its rent-exempt minimum (a fresh wallet
/// receiving a small amount): that creator's part stays owed, in the vault, until a later
/// call can pay it. Dust (the split's rounding remainder) stays unassigned for the next call.
pub fn handle_distribute_royalties<'info>(ctx: Context<'info, DistributeRoyalties<'info>>) -> Result<()> {
    let accounts = &mut *ctx.accounts;
    let collection_key = accounts.collection.key();
    let vault_info = accounts.vault.to_account_info();
    let collection = &mut accounts.collection;

    let reserved = Rent::get()?
        .minimum_balance(0)
        .checked_add(collection.total_owed()?)
        .ok_or(ChrysalisError::ArithmeticOverflow)?;
    let new = vault_info.lamports().checked_sub(reserved).ok_or(ChrysalisError::VaultUnderfunded)?;
    // Before the first mint nothing in the vault is proceeds or royalties (there is nothing to
    // sell yet): whatever a stranger sent stays unassigned, so it can never leave creators
    // "owed" a few lamports their fresh wallets cannot receive, which would block
    // close_collection. Closing refunds it to the authority.
    let (new, dust) = if collection.minted == 0 { (0, new) } else { (new, collection.credit_split(new)?) };
    let paid = pay_owed(
        collection,
        &collection_key,
        &vault_info,
        ctx.remaining_accounts,
        &accounts.system_program.to_account_info(),
    )?;
    let still_owed = collection.total_owed()?;
    let event = RoyaltiesDistributed { collection: collection_key, split: new, dust, paid, still_owed };
    emit_cpi!(event);
    Ok(())
}
