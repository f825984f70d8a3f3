use anchor_lang::prelude::*;

use crate::{errors::ChrysalisError, events::AuthorityUpdated, state::*};

/// Accounts of [`update_authority`](crate::chrysalis::update_authority).
#[event_cpi]
#[derive(Accounts)]
pub struct UpdateAuthority<'info> {
    pub authority: Signer<'info>,
    /// Must sign too, so a mistyped key can never take over (or lock) the collection.
    pub new_authority: Signer<'info>,
    #[account(
        mut,
        seeds = [COLLECTION_SEED, collection.group_mint.as_ref()],
        bump = collection.bump,
        has_one = authority @ ChrysalisError::NotCollectionAuthority,
    )]
    pub collection: Box<Account<'info, Collection>>,
}

/// Hands the collection to `new_authority` (both sign). Creators and shares never change.
pub fn handle_update_authority(ctx: Context<UpdateAuthority>) -> Result<()> {
    let old = ctx.accounts.authority.key();
    let new = ctx.accounts.new_authority.key();
    ctx.accounts.collection.authority = new;
    let event = AuthorityUpdated { collection: ctx.accounts.collection.key(), old_authority: old, new_authority: new };
    emit_cpi!(event);
    Ok(())
}
