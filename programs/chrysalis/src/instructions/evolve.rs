use anchor_lang::prelude::*;
use anchor_spl::token_interface::{
    Mint, Token2022, TokenAccount, TokenMetadataUpdateField, spl_token_metadata_interface::state::Field,
    token_metadata_update_field,
};

use crate::{errors::ChrysalisError, events::NftEvolved, state::*, token_utils::*};

/// Accounts of [`evolve`](crate::chrysalis::evolve).
#[event_cpi]
#[derive(Accounts)]
#[instruction(index: u32)]
pub struct Evolve<'info> {
    /// Whoever evolves: anyone for time stages, the owner or the collection authority for
    /// trigger stages. Pays the rent if the metadata grows.
    #[account(mut)]
    pub caller: Signer<'info>,
    #[account(
        seeds = [COLLECTION_SEED, collection.group_mint.as_ref()],
        bump = collection.bump,
    )]
    pub collection: Box<Account<'info, Collection>>,
    /// The NFT, found by its index: a mint of another collection cannot be substituted.
    #[account(
        mut,
        seeds = [NFT_SEED, collection.key().as_ref(), &index.to_le_bytes()],
        bump,
        mint::token_program = token_program,
    )]
    pub mint: Box<InterfaceAccount<'info, Mint>>,
    /// For an owner-triggered stage: the caller's token account holding the NFT.
    #[account(token::mint = mint, token::token_program = token_program)]
    pub owner_token: Option<Box<InterfaceAccount<'info, TokenAccount>>>,
    pub token_program: Program<'info, Token2022>,
    pub system_program: Program<'info, System>,
}

/// Advances NFT `index` to `to_stage`, which must be exactly its current stage + 1 and whose
/// rule must allow it now.
pub fn handle_evolve(ctx: Context<Evolve>, index: u32, to_stage: u8) -> Result<()> {
    let accounts = &mut *ctx.accounts;
    let mint_info = accounts.mint.to_account_info();
    let md = read_metadata(&mint_info)?;
    let current: u8 = field(&md, FIELD_STAGE).and_then(|s| s.parse().ok()).ok_or(ChrysalisError::BadMetadata)?;
    require!(to_stage > current, ChrysalisError::AlreadyAtStage);
    let next = current.checked_add(1).ok_or(ChrysalisError::ArithmeticOverflow)?;
    let collection = &accounts.collection;
    require!(usize::from(next) < collection.stages.len(), ChrysalisError::NoMoreStages);
    require!(to_stage == next, ChrysalisError::StageSkipped);
    let stage = &collection.stages[usize::from(next)];
    let now = Clock::get()?.unix_timestamp;
    let caller = accounts.caller.key();
    match stage.rule {
        UnlockRule::At(t) => require!(now >= t, ChrysalisError::StageNotUnlocked),
        UnlockRule::AfterMint(secs) => {
            let minted_at: i64 =
                field(&md, FIELD_MINTED_AT).and_then(|s| s.parse().ok()).ok_or(ChrysalisError::BadMetadata)?;
            let unlock = minted_at.checked_add(secs).ok_or(ChrysalisError::ArithmeticOverflow)?;
            require!(now >= unlock, ChrysalisError::StageNotUnlocked);
        }
        UnlockRule::OwnerTrigger => {
            let token = accounts.owner_token.as_ref().ok_or(ChrysalisError::NotOwner)?;
            require!(token.owner == caller && token.amount == 1, ChrysalisError::NotOwner);
        }
        UnlockRule::CreatorTrigger => {
            require_keys_eq!(caller, collection.authority, ChrysalisError::NotCollectionAuthority)
        }
    }

    // Pay for growth first: the new URI and stage may be longer than the old ones.
    let uri = item_uri(&stage.base_uri, index);
    let stage_str = next.to_string();
    let old_stage_len = field(&md, FIELD_STAGE).map_or(0, str::len);
    // Upper bound of the size after each update (the URI first, then the stage).
    let grow = uri
        .len()
        .saturating_sub(md.uri.len())
        .checked_add(stage_str.len().saturating_sub(old_stage_len))
        .ok_or(ChrysalisError::ArithmeticOverflow)?;
    let new_len = mint_info.data_len().checked_add(grow).ok_or(ChrysalisError::ArithmeticOverflow)?;
    drop(md);
    top_up(&accounts.caller.to_account_info(), &mint_info, &accounts.system_program.to_account_info(), new_len)?;

    let group_key = collection.group_mint;
    let seeds: &[&[u8]] = &[COLLECTION_SEED, group_key.as_ref(), &[collection.bump]];
    let signer = &[seeds];
    for (f, value) in [(Field::Uri, uri), (Field::Key(FIELD_STAGE.to_string()), stage_str)] {
        token_metadata_update_field(
            CpiContext::new_with_signer(
                accounts.token_program.key(),
                TokenMetadataUpdateField {
                    program_id: accounts.token_program.to_account_info(),
                    metadata: mint_info.clone(),
                    update_authority: accounts.collection.to_account_info(),
                },
                signer,
            ),
            f,
            value,
        )?;
    }
    let event =
        NftEvolved { collection: accounts.collection.key(), mint: mint_info.key(), index, stage: next, by: caller };
    emit_cpi!(event);
    Ok(())
}
