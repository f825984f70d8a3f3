use anchor_lang::prelude::*;

use crate::{errors::ChrysalisError, events::ItemsCommitted, state::*};

/// Accounts of [`commit_items`](crate::chrysalis::commit_items).
#[event_cpi]
#[derive(Accounts)]
pub struct CommitItems<'info> {
    /// Must be the collection authority.
    pub authority: Signer<'info>,
    #[account(
        mut,
        seeds = [COLLECTION_SEED, collection.group_mint.as_ref()],
        bump = collection.bump,
        has_one = authority @ ChrysalisError::NotCollectionAuthority,
    )]
    pub collection: Box<Account<'info, Collection>>,
}

/// Commits the item table: the Merkle root (see `merkle.rs`) over every index's stage-0
/// recipe hash. `mint_nft` then writes only recipes with a proof against it. It may be set
/// again until the first mint, like the stages, and is locked from then on.
pub fn handle_commit_items(ctx: Context<CommitItems>, items_root: [u8; 32]) -> Result<()> {
    let collection = &mut ctx.accounts.collection;
    require!(collection.minted == 0, ChrysalisError::ItemsLocked);
    require!(items_root != [0; 32], ChrysalisError::InvalidItemRoot);
    collection.items_root = items_root;
    let collection_key = collection.key();
    emit_cpi!(ItemsCommitted { collection: collection_key, items_root });
    Ok(())
}
