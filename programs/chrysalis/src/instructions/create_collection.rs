use anchor_lang::prelude::*;
use anchor_spl::token_interface::{
    GroupPointerInitialize, InitializeMint2, MetadataPointerInitialize, Token2022, TokenGroupInitialize,
    TokenMetadataInitialize, TokenMetadataUpdateField, group_pointer_initialize, initialize_mint2,
    metadata_pointer_initialize, spl_token_2022::extension::ExtensionType, spl_token_metadata_interface::state::Field,
    token_group_initialize, token_metadata_initialize, token_metadata_update_field,
};

use crate::{
    create::create_account,
    errors::ChrysalisError,
    events::CollectionCreated,
    state::*,
    token_utils::{FIELD_ROYALTY_BPS, FIELD_ROYALTY_RECEIVER, metadata_tlv_len, mint_len, top_up},
};

/// Parameters of [`create_collection`](crate::chrysalis::create_collection). Stages are added
/// afterwards with `add_stage` (8 stages with their URIs would not fit one transaction next to
/// 16 creators).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct CollectionArgs {
    pub name: String,
    pub symbol: String,
    /// The collection's own metadata URI (on the group mint).
    pub uri: String,
    /// 1 to 16 distinct creators, shares in basis points summing to 10 000, none zero.
    pub creators: Vec<CreatorShare>,
    /// Secondary-sale royalty in basis points (≤ 10 000), published in the metadata JSON.
    pub royalty_bps: u16,
    /// Mint price in lamports (may be 0).
    pub price: u64,
    /// Indices 0..max_supply can be minted, each once.
    pub max_supply: u32,
}

/// Accounts of [`create_collection`](crate::chrysalis::create_collection).
#[event_cpi]
#[derive(Accounts)]
pub struct CreateCollection<'info> {
    /// Pays all rent and becomes the collection authority.
    #[account(mut)]
    pub authority: Signer<'info>,
    /// The collection's state, at `["collection", group_mint]`.
    /// CHECK: created by the handler (`create.rs`: Anchor's `init` fails on a pre-funded address).
    #[account(mut, seeds = [COLLECTION_SEED, group_mint.key().as_ref()], bump)]
    pub collection: UncheckedAccount<'info>,
    /// A fresh Token-2022 mint (new keypair) that becomes the TokenGroup; the collection PDA
    /// is its mint authority and the group's and metadata's update authority.
    /// CHECK: a new keypair's address (it signs); created by the handler, like `collection`.
    #[account(mut, signer)]
    pub group_mint: UncheckedAccount<'info>,
    /// The royalty and proceeds vault, `["vault", collection]`, a system account funded here
    /// to its rent-exempt minimum so that any payment into it succeeds.
    #[account(mut, seeds = [VAULT_SEED, collection.key().as_ref()], bump)]
    pub vault: SystemAccount<'info>,
    pub token_program: Program<'info, Token2022>,
    pub system_program: Program<'info, System>,
}

fn validate(args: &CollectionArgs) -> Result<()> {
    require!(!args.name.is_empty() && args.name.len() <= MAX_NAME_LEN, ChrysalisError::InvalidName);
    require!(args.symbol.len() <= MAX_SYMBOL_LEN, ChrysalisError::InvalidSymbol);
    require!(args.uri.len() <= MAX_URI_LEN, ChrysalisError::InvalidUri);
    require!(!args.creators.is_empty() && args.creators.len() <= MAX_CREATORS, ChrysalisError::TooManyCreators);
    let mut total: u32 = 0;
    for (i, c) in args.creators.iter().enumerate() {
        require!(c.share_bps > 0, ChrysalisError::ZeroShare);
        require!(args.creators[..i].iter().all(|o| o.address != c.address), ChrysalisError::DuplicateCreator);
        // The runtime demotes reserved addresses to read-only: every payout to one would fail.
        require!(!crate::reserved::is_reserved(&c.address), ChrysalisError::ReservedCreator);
        total = total.checked_add(u32::from(c.share_bps)).ok_or(ChrysalisError::ArithmeticOverflow)?;
    }
    require!(total == u32::from(TOTAL_SHARES_BPS), ChrysalisError::SharesMustSumTo10000);
    require!(args.royalty_bps <= TOTAL_SHARES_BPS, ChrysalisError::InvalidRoyalty);
    require!(args.max_supply > 0, ChrysalisError::InvalidMaxSupply);
    Ok(())
}

pub fn handle_create_collection(ctx: Context<CreateCollection>, args: CollectionArgs) -> Result<()> {
    validate(&args)?;
    let accounts = &mut *ctx.accounts;
    let collection_key = accounts.collection.key();
    let group_key = accounts.group_mint.key();
    let vault_key = accounts.vault.key();
    require!(
        args.creators.iter().all(|c| c.address != vault_key && c.address != collection_key),
        ChrysalisError::InvalidCreator
    );

    // Fund the vault to its rent-exempt minimum (royalty payments of any size then succeed).
    top_up(
        &accounts.authority.to_account_info(),
        &accounts.vault.to_account_info(),
        &accounts.system_program.to_account_info(),
        0,
    )?;

    // The collection's state account and the group mint, each created so that lamports sent
    // to its address beforehand cannot block it.
    let authority = accounts.authority.to_account_info();
    let system = accounts.system_program.to_account_info();
    let bump = ctx.bumps.collection;
    let seeds: &[&[u8]] = &[COLLECTION_SEED, group_key.as_ref(), &[bump]];
    let signer = &[seeds];
    create_account(
        &authority,
        &accounts.collection.to_account_info(),
        &system,
        8 + Collection::INIT_SPACE,
        &crate::ID,
        signer,
    )?;
    let token_program = accounts.token_program.key();
    let group_info = accounts.group_mint.to_account_info();
    create_account(
        &authority,
        &group_info,
        &system,
        mint_len(&[ExtensionType::MetadataPointer, ExtensionType::GroupPointer])?,
        &token_program,
        &[],
    )?;
    metadata_pointer_initialize(
        CpiContext::new(
            token_program,
            MetadataPointerInitialize {
                token_program_id: accounts.token_program.to_account_info(),
                mint: group_info.clone(),
            },
        ),
        Some(collection_key),
        Some(group_key),
    )?;
    group_pointer_initialize(
        CpiContext::new(
            token_program,
            GroupPointerInitialize {
                token_program_id: accounts.token_program.to_account_info(),
                mint: group_info.clone(),
            },
        ),
        Some(collection_key),
        Some(group_key),
    )?;
    initialize_mint2(CpiContext::new(token_program, InitializeMint2 { mint: group_info }), 0, &collection_key, None)?;

    // The group's metadata names the royalty and its receiver (the vault), for marketplaces.
    let royalty_str = args.royalty_bps.to_string();
    let vault_str = vault_key.to_string();
    let royalty_fields: [(&str, &str); 2] = [(FIELD_ROYALTY_BPS, &royalty_str), (FIELD_ROYALTY_RECEIVER, &vault_str)];

    // Token-2022 grows the group mint for TokenGroup and TokenMetadata: pay that rent first.
    let final_len =
        mint_len(&[ExtensionType::MetadataPointer, ExtensionType::GroupPointer, ExtensionType::TokenGroup])?
            .checked_add(metadata_tlv_len(&args.name, &args.symbol, &args.uri, &royalty_fields)?)
            .ok_or(ChrysalisError::ArithmeticOverflow)?;
    top_up(
        &accounts.authority.to_account_info(),
        &accounts.group_mint.to_account_info(),
        &accounts.system_program.to_account_info(),
        final_len,
    )?;

    token_group_initialize(
        CpiContext::new_with_signer(
            token_program,
            TokenGroupInitialize {
                program_id: accounts.token_program.to_account_info(),
                group: accounts.group_mint.to_account_info(),
                mint: accounts.group_mint.to_account_info(),
                mint_authority: accounts.collection.to_account_info(),
            },
            signer,
        ),
        Some(collection_key),
        u64::from(args.max_supply),
    )?;
    token_metadata_initialize(
        CpiContext::new_with_signer(
            token_program,
            TokenMetadataInitialize {
                program_id: accounts.token_program.to_account_info(),
                metadata: accounts.group_mint.to_account_info(),
                update_authority: accounts.collection.to_account_info(),
                mint_authority: accounts.collection.to_account_info(),
                mint: accounts.group_mint.to_account_info(),
            },
            signer,
        ),
        args.name.clone(),
        args.symbol.clone(),
        args.uri.clone(),
    )?;
    for (key, value) in royalty_fields {
        token_metadata_update_field(
            CpiContext::new_with_signer(
                token_program,
                TokenMetadataUpdateField {
                    program_id: accounts.token_program.to_account_info(),
                    metadata: accounts.group_mint.to_account_info(),
                    update_authority: accounts.collection.to_account_info(),
                },
                signer,
            ),
            Field::Key(key.to_string()),
            value.to_string(),
        )?;
    }

    let collection = Collection {
        authority: accounts.authority.key(),
        group_mint: group_key,
        bump,
        vault_bump: ctx.bumps.vault,
        royalty_bps: args.royalty_bps,
        price: args.price,
        max_supply: args.max_supply,
        minted: 0,
        creators: args
            .creators
            .iter()
            .map(|c| Creator { address: c.address, share_bps: c.share_bps, owed: 0 })
            .collect(),
        stages: Vec::new(),
        name: args.name,
        symbol: args.symbol,
        uri: args.uri,
        items_root: [0; 32],
    };
    let event = CollectionCreated {
        collection: collection_key,
        group_mint: group_key,
        authority: collection.authority,
        vault: vault_key,
        price: collection.price,
        max_supply: collection.max_supply,
        royalty_bps: collection.royalty_bps,
        creators: u8::try_from(collection.creators.len()).unwrap_or(u8::MAX),
    };
    // Written with its discriminator, as Anchor's `init` would on exit.
    collection.try_serialize(&mut &mut accounts.collection.try_borrow_mut_data()?[..])?;
    emit_cpi!(event);
    Ok(())
}
