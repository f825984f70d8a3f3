use anchor_lang::prelude::*;

use crate::{errors::ChrysalisError, events::StageAdded, state::*};

/// Accounts of [`add_stage`](crate::chrysalis::add_stage).
#[event_cpi]
#[derive(Accounts)]
pub struct AddStage<'info> {
    /// Pays for nothing (the collection account is allocated at its maximum size); must be
    /// the collection authority.
    pub authority: Signer<'info>,
    #[account(
        mut,
        seeds = [COLLECTION_SEED, collection.group_mint.as_ref()],
        bump = collection.bump,
        has_one = authority @ ChrysalisError::NotCollectionAuthority,
    )]
    pub collection: Box<Account<'info, Collection>>,
}

/// Appends a stage. Stage 0 is the stage NFTs are minted at (its rule is ignored). Refused
/// once the first NFT is minted: the art is committed before anyone buys.
pub fn handle_add_stage(ctx: Context<AddStage>, stage: Stage) -> Result<()> {
    let collection = &mut ctx.accounts.collection;
    require!(collection.minted == 0, ChrysalisError::StagesLocked);
    require!(collection.stages.len() < MAX_STAGES, ChrysalisError::TooManyStages);
    require!(stage.base_uri.len() <= MAX_STAGE_URI_LEN, ChrysalisError::InvalidUri);
    if let UnlockRule::At(t) | UnlockRule::AfterMint(t) = stage.rule {
        require!(t >= 0, ChrysalisError::InvalidRule);
    }
    let number = u8::try_from(collection.stages.len()).map_err(|_| ChrysalisError::TooManyStages)?;
    let content_root = stage.content_root;
    collection.stages.push(stage);
    let collection_key = collection.key();
    emit_cpi!(StageAdded { collection: collection_key, stage: number, content_root });
    Ok(())
}
