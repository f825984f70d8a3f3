use anchor_lang::{
    prelude::*,
    system_program::{Transfer, transfer},
};

use crate::{errors::ChrysalisError, events::CollectionClosed, state::*};

/// Accounts of [`close_collection`](crate::chrysalis::close_collection).
#[event_cpi]
#[derive(Accounts)]
pub struct CloseCollection<'info> {
    #[account(mut)]
    pub authority: Signer<'info>,
    #[account(
        mut,
        seeds = [COLLECTION_SEED, collection.group_mint.as_ref()],
        bump = collection.bump,
        has_one = authority @ ChrysalisError::NotCollectionAuthority,
        close = authority,
    )]
    pub collection: Box<Account<'info, Collection>>,
    #[account(mut, seeds = [VAULT_SEED, collection.key().as_ref()], bump = collection.vault_bump)]
    pub vault: SystemAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// Closes a collection nobody minted from: refunds the state account's and the vault's
/// lamports to the authority. The group mint stays (Token-2022 mints without a close
/// authority cannot be closed), which also means the collection can never be re-created at
/// the same address.
pub fn handle_close_collection(ctx: Context<CloseCollection>) -> Result<()> {
    let accounts = &mut *ctx.accounts;
    require!(accounts.collection.minted == 0, ChrysalisError::CollectionNotEmpty);
    require!(accounts.collection.total_owed()? == 0, ChrysalisError::VaultOwes);
    let collection_key = accounts.collection.key();
    let vault_lamports = accounts.vault.lamports();
    let seeds: &[&[u8]] = &[VAULT_SEED, collection_key.as_ref(), &[accounts.collection.vault_bump]];
    if vault_lamports > 0 {
        transfer(
            CpiContext::new_with_signer(
                accounts.system_program.key(),
                Transfer { from: accounts.vault.to_account_info(), to: accounts.authority.to_account_info() },
                &[seeds],
            ),
            vault_lamports,
        )?;
    }
    let refunded = vault_lamports
        .checked_add(accounts.collection.to_account_info().lamports())
        .ok_or(ChrysalisError::ArithmeticOverflow)?;
    let event = CollectionClosed { collection: collection_key, authority: accounts.authority.key(), refunded };
    emit_cpi!(event);
    Ok(())
}
