use anchor_lang::{
    prelude::*,
    system_program::{Transfer, transfer},
};
use anchor_spl::{
    associated_token::{AssociatedToken, Create, create as create_ata, get_associated_token_address_with_program_id},
    token_interface::{
        GroupMemberPointerInitialize, InitializeMint2, MetadataPointerInitialize, MintTo, SetAuthority, Token2022,
        TokenMemberInitialize, TokenMetadataInitialize, TokenMetadataUpdateField, group_member_pointer_initialize,
        initialize_mint2, metadata_pointer_initialize, mint_to, set_authority,
        spl_token_2022::{extension::ExtensionType, instruction::AuthorityType},
        spl_token_metadata_interface::state::Field,
        token_member_initialize, token_metadata_initialize, token_metadata_update_field,
    },
};

use crate::{
    create::create_account, errors::ChrysalisError, events::NftMinted, merkle, payout::pay_owed, state::*,
    token_utils::*,
};

/// Accounts of [`mint_nft`](crate::chrysalis::mint_nft).
///
/// Remaining accounts (optional): all the creators' wallets, writable, in the collection's
/// order, to pay them in this transaction; without them the price waits, already split, in
/// the vault for `distribute_royalties`.
#[event_cpi]
#[derive(Accounts)]
#[instruction(index: u32)]
pub struct MintNft<'info> {
    /// Pays the price, the rent of the mint and of their token account, and receives the NFT.
    #[account(mut)]
    pub buyer: Signer<'info>,
    #[account(
        mut,
        seeds = [COLLECTION_SEED, collection.group_mint.as_ref()],
        bump = collection.bump,
    )]
    pub collection: Box<Account<'info, Collection>>,
    /// CHECK: the collection's TokenGroup mint (address checked); Token-2022 updates its size.
    #[account(mut, address = collection.group_mint)]
    pub group_mint: UncheckedAccount<'info>,
    /// The collection's vault; receives the price.
    #[account(mut, seeds = [VAULT_SEED, collection.key().as_ref()], bump = collection.vault_bump)]
    pub vault: SystemAccount<'info>,
    /// The NFT: a Token-2022 mint at `["nft", collection, index_le]` (so each index is minted
    /// once), decimals 0, with MetadataPointer and GroupMemberPointer pointing at itself.
    /// CHECK: created by the handler (`create.rs`: Anchor's `init` fails on a pre-funded address).
    #[account(mut, seeds = [NFT_SEED, collection.key().as_ref(), &index.to_le_bytes()], bump)]
    pub mint: UncheckedAccount<'info>,
    /// The buyer's associated token account for the NFT, created by the handler once the mint
    /// exists (the ATA program accepts a pre-funded address).
    /// CHECK: the address is checked below.
    #[account(
        mut,
        address = get_associated_token_address_with_program_id(&buyer.key(), &mint.key(), &token_program.key()),
    )]
    pub buyer_token: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token2022>,
    pub associated_token_program: Program<'info, AssociatedToken>,
    pub system_program: Program<'info, System>,
}

/// Longest proof accepted: a tree over `u32` indices is at most 32 levels deep.
const MAX_PROOF_LEN: usize = 32;

pub fn handle_mint_nft<'info>(
    ctx: Context<'info, MintNft<'info>>,
    index: u32,
    recipe_hash: [u8; 32],
    proof: Vec<[u8; 32]>,
) -> Result<()> {
    let accounts = &mut *ctx.accounts;
    let collection_key = accounts.collection.key();
    let mint_key = accounts.mint.key();

    // Checks and bookkeeping first.
    let price = accounts.collection.price;
    let dust;
    let (needs_mint_time, name, symbol, uri, group_key, bump) = {
        let c = &mut accounts.collection;
        require!(!c.stages.is_empty(), ChrysalisError::NoStages);
        require!(c.minted < c.max_supply, ChrysalisError::SoldOut);
        require!(index < c.max_supply, ChrysalisError::IndexOutOfRange);
        // The next index, never the buyer's pick (README: sequential assignment).
        require!(index == c.minted, ChrysalisError::NotNextIndex);
        // Only the recipe committed for this index before the first mint.
        require!(c.items_root != [0; 32], ChrysalisError::ItemsNotCommitted);
        require!(
            proof.len() <= MAX_PROOF_LEN
                && merkle::verify(&c.items_root, merkle::item_leaf(index, &recipe_hash), &proof),
            ChrysalisError::InvalidItemProof
        );
        c.minted = c.minted.checked_add(1).ok_or(ChrysalisError::ArithmeticOverflow)?;
        // The price is split by share right here; the lamports are paid below when the
        // creators' wallets are passed, else they wait (owed) in the vault for
        // `distribute_royalties` (see README: 1 232-byte limit, fresh wallets).
        dust = c.credit_split(price)?;
        (
            c.stages.iter().any(|s| matches!(s.rule, UnlockRule::AfterMint(_))),
            item_name(&c.name, index),
            c.symbol.clone(),
            item_uri(&c.stages[0].base_uri, index),
            c.group_mint,
            c.bump,
        )
    };
    let buyer = accounts.buyer.to_account_info();
    let system_program = accounts.system_program.to_account_info();
    if price > 0 {
        transfer(
            CpiContext::new(
                system_program.key(),
                Transfer { from: buyer.clone(), to: accounts.vault.to_account_info() },
            ),
            price,
        )?;
    }
    let paid = if ctx.remaining_accounts.is_empty() {
        0
    } else {
        pay_owed(
            &mut accounts.collection,
            &collection_key,
            &accounts.vault.to_account_info(),
            ctx.remaining_accounts,
            &system_program,
        )?
    };

    let recipe = hex32(&recipe_hash);
    let group_str = group_key.to_string();
    let minted_at = Clock::get()?.unix_timestamp.to_string();
    // `minted_at` costs 27 bytes of rent per NFT: only stored when a stage needs it.
    // Marketplaces read royalties per NFT: the same two fields as the group mint's.
    let royalty_str = accounts.collection.royalty_bps.to_string();
    let vault_str = accounts.vault.key().to_string();
    let all_fields: [(&str, &str); 6] = [
        (FIELD_STAGE, "0"),
        (FIELD_RECIPE, &recipe),
        (FIELD_COLLECTION, &group_str),
        (FIELD_ROYALTY_BPS, &royalty_str),
        (FIELD_ROYALTY_RECEIVER, &vault_str),
        (FIELD_MINTED_AT, &minted_at),
    ];
    let fields = if needs_mint_time { &all_fields[..] } else { &all_fields[..5] };

    let seeds: &[&[u8]] = &[COLLECTION_SEED, group_key.as_ref(), &[bump]];
    let signer = &[seeds];
    let token_program_id = accounts.token_program.key();
    let token_program = accounts.token_program.to_account_info();
    let authority = accounts.collection.to_account_info();
    let mint_info = accounts.mint.to_account_info();

    // The mint, with room for its two pointer extensions (Token-2022 grows it for the rest).
    let index_bytes = index.to_le_bytes();
    let mint_seeds: &[&[u8]] = &[NFT_SEED, collection_key.as_ref(), &index_bytes, &[ctx.bumps.mint]];
    create_account(
        &buyer,
        &mint_info,
        &system_program,
        mint_len(&[ExtensionType::MetadataPointer, ExtensionType::GroupMemberPointer])?,
        &token_program_id,
        &[mint_seeds],
    )?;
    metadata_pointer_initialize(
        CpiContext::new(
            token_program_id,
            MetadataPointerInitialize { token_program_id: token_program.clone(), mint: mint_info.clone() },
        ),
        Some(collection_key),
        Some(mint_key),
    )?;
    group_member_pointer_initialize(
        CpiContext::new(
            token_program_id,
            GroupMemberPointerInitialize { token_program_id: token_program.clone(), mint: mint_info.clone() },
        ),
        Some(collection_key),
        Some(mint_key),
    )?;
    initialize_mint2(
        CpiContext::new(token_program_id, InitializeMint2 { mint: mint_info.clone() }),
        0,
        &collection_key,
        None,
    )?;
    create_ata(CpiContext::new(
        accounts.associated_token_program.key(),
        Create {
            payer: buyer.clone(),
            associated_token: accounts.buyer_token.to_account_info(),
            authority: buyer.clone(),
            mint: mint_info.clone(),
            system_program: system_program.clone(),
            token_program: token_program.clone(),
        },
    ))?;

    // Pay the rent of the mint's final size before Token-2022 grows it.
    let final_len = mint_len(&[
        ExtensionType::MetadataPointer,
        ExtensionType::GroupMemberPointer,
        ExtensionType::TokenGroupMember,
    ])?
    .checked_add(metadata_tlv_len(&name, &symbol, &uri, fields)?)
    .ok_or(ChrysalisError::ArithmeticOverflow)?;
    top_up(&buyer, &mint_info, &system_program, final_len)?;

    token_member_initialize(CpiContext::new_with_signer(
        token_program_id,
        TokenMemberInitialize {
            program_id: token_program.clone(),
            member: mint_info.clone(),
            member_mint: mint_info.clone(),
            member_mint_authority: authority.clone(),
            group: accounts.group_mint.to_account_info(),
            group_update_authority: authority.clone(),
        },
        signer,
    ))?;
    token_metadata_initialize(
        CpiContext::new_with_signer(
            token_program_id,
            TokenMetadataInitialize {
                program_id: token_program.clone(),
                metadata: mint_info.clone(),
                update_authority: authority.clone(),
                mint_authority: authority.clone(),
                mint: mint_info.clone(),
            },
            signer,
        ),
        name,
        symbol,
        uri,
    )?;
    for &(key, value) in fields {
        token_metadata_update_field(
            CpiContext::new_with_signer(
                token_program_id,
                TokenMetadataUpdateField {
                    program_id: token_program.clone(),
                    metadata: mint_info.clone(),
                    update_authority: authority.clone(),
                },
                signer,
            ),
            Field::Key(key.to_string()),
            value.to_string(),
        )?;
    }

    // Supply 1, then no one can ever mint again.
    mint_to(
        CpiContext::new_with_signer(
            token_program_id,
            MintTo {
                mint: mint_info.clone(),
                to: accounts.buyer_token.to_account_info(),
                authority: authority.clone(),
            },
            signer,
        ),
        1,
    )?;
    set_authority(
        CpiContext::new_with_signer(
            token_program_id,
            SetAuthority { current_authority: authority, account_or_mint: mint_info },
            signer,
        ),
        AuthorityType::MintTokens,
        None,
    )?;

    let event = NftMinted {
        collection: collection_key,
        mint: mint_key,
        buyer: accounts.buyer.key(),
        index,
        recipe_hash,
        price,
        dust,
        paid,
    };
    emit_cpi!(event);
    Ok(())
}
