//! High-level, typed operations on the Chrysalis program over any [`Ledger`].
//!
//! **Every operation reconciles with the chain before acting.** A publish run can be killed
//! at any point, a response can be lost, or the same step can be started twice: so each
//! operation first reads what the chain already holds and only sends what is still missing.
//! An NFT whose mint PDA exists is *minted* (its state is returned, nothing is paid again); a
//! stage that is already on chain is not appended twice; a collection whose PDA exists is
//! compared with what was asked and returned. Results say whether this call sent anything
//! (`signature: Some(..)`) or found the work done (`None`).
//!
//! Together with the ledger's own guarantee (a signed transaction is never applied twice:
//! see [`crate::rpc`]), a crash or retry at any point leaves nothing minted or paid twice.
//!
//! Readers ([`fetch_collection`], [`fetch_nft`], [`due_evolutions`], ...) decode the program's
//! `Collection` account and the Token-2022 mints (metadata, group membership) directly.

use anchor_lang::AccountDeserialize;
use anchor_lang::prelude::Rent;
use anchor_spl::token_interface::{
    spl_token_2022::{
        extension::{BaseStateWithExtensions, ExtensionType, StateWithExtensions},
        state::{Account as TokenAccountState, Mint as MintState},
    },
    spl_token_metadata_interface::state::TokenMetadata,
};
use chrysalis::errors::ChrysalisError;
use chrysalis::state::{Collection, Stage, UnlockRule};
use chrysalis::token_utils::{
    FIELD_COLLECTION, FIELD_MINTED_AT, FIELD_RECIPE, FIELD_ROYALTY_BPS, FIELD_ROYALTY_RECEIVER, FIELD_STAGE, item_uri,
    metadata_tlv_len, mint_len,
};
use serde::Serialize;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use solana_transaction::{InstructionError, Signature, TransactionError};
use spl_token_group_interface::state::TokenGroupMember;

use crate::ledger::{Ledger, LedgerError};
use crate::program::{self, CollectionArgs, PROGRAM_ID, TOKEN_2022_ID};

/// Lamports in one SOL.
pub const LAMPORTS_PER_SOL: u64 = 1_000_000_000;
/// The base fee of one transaction signature on every Solana cluster (and in the sandbox).
pub const LAMPORTS_PER_SIGNATURE: u64 = 5_000;

/// Why a chain operation failed, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(
        "wallet {wallet} has {} SOL, {action} needs ~{} SOL: airdrop (sandbox/devnet) or fund it",
        sol(*have), sol(*need)
    )]
    InsufficientFunds { wallet: Pubkey, have: u64, need: u64, action: String },
    #[error(
        "no Chrysalis collection at {0} on this network: check the network and the address, \
         or create the collection first"
    )]
    CollectionNotFound(Pubkey),
    #[error("account {address} is not a valid {what}: {reason}")]
    Decode { address: Pubkey, what: &'static str, reason: String },
    #[error(
        "a collection already exists at {collection} but differs from the one asked for \
         ({difference}); collections cannot change after creation: use a new group mint \
         keypair to create another"
    )]
    CollectionMismatch { collection: Pubkey, difference: String },
    #[error(
        "the group mint {0} is already used on chain but has no collection (a closed \
         collection keeps its group mint): create the collection with a new group mint keypair"
    )]
    GroupMintInUse(Pubkey),
    #[error("index {index} is outside 0..{max_supply} of collection {collection}")]
    IndexOutOfRange { collection: Pubkey, index: u32, max_supply: u32 },
    #[error("collection {0} has no stage yet: add stage 0 (add_stage) before minting")]
    NoStages(Pubkey),
    #[error("stage {number} of collection {collection}: {problem}")]
    StageConflict { collection: Pubkey, number: u8, problem: String },
    #[error(
        "NFT #{index} of collection {collection} was already minted with recipe {on_chain}, \
         not {asked}: each index holds one artwork, pick another index"
    )]
    RecipeMismatch { collection: Pubkey, index: u32, on_chain: String, asked: String },
    #[error("NFT #{index} of collection {collection} is not minted yet")]
    NftNotFound { collection: Pubkey, index: u32 },
    #[error(
        "collection {collection} mints its items in order and its next index is {next}, not \
         {index}: mint #{next} first (or, if someone minted meanwhile, take the next index)"
    )]
    NotNextIndex { collection: Pubkey, index: u32, next: u32 },
    #[error(
        "collection {0} has not committed its items yet: commit the item table \
         (commit_items) before minting"
    )]
    ItemsNotCommitted(Pubkey),
    #[error(
        "collection {collection} already minted against another item table (root {on_chain}, \
         not {asked}): the recipes of a minted collection cannot change; keep the project's \
         original spec and images, or create a new collection"
    )]
    ItemsConflict { collection: Pubkey, on_chain: String, asked: String },
    #[error("{action} was refused by the chain: {reason}")]
    Refused {
        action: String,
        /// The program's error number (6000 + the `ChrysalisError` variant), when it is one.
        code: Option<u32>,
        reason: String,
    },
}

/// `lamports` as SOL, without trailing zeros (`0.0078`, `1`).
pub fn sol(lamports: u64) -> String {
    let whole = lamports / LAMPORTS_PER_SOL;
    let frac = lamports % LAMPORTS_PER_SOL;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:09}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The program's errors in declaration order (Anchor numbers them 6000, 6001, ...).
const PROGRAM_ERRORS: [ChrysalisError; 37] = {
    use ChrysalisError::*;
    [
        NotImplemented,
        InvalidName,
        InvalidSymbol,
        InvalidUri,
        TooManyCreators,
        SharesMustSumTo10000,
        ZeroShare,
        DuplicateCreator,
        InvalidRoyalty,
        InvalidMaxSupply,
        TooManyStages,
        StagesLocked,
        NoStages,
        IndexOutOfRange,
        SoldOut,
        ArithmeticOverflow,
        AlreadyAtStage,
        StageSkipped,
        NoMoreStages,
        StageNotUnlocked,
        NotOwner,
        NotCollectionAuthority,
        BadMetadata,
        CreatorMismatch,
        CreatorNotWritable,
        VaultUnderfunded,
        CollectionNotEmpty,
        VaultOwes,
        InvalidRule,
        InvalidCreator,
        ReservedCreator,
        AccountAlreadyInUse,
        ItemsNotCommitted,
        NotNextIndex,
        InvalidItemProof,
        ItemsLocked,
        InvalidItemRoot,
    ]
};

/// Turns a failed transaction into [`ChainError::Refused`] naming the program's reason; other
/// ledger errors pass through.
fn refused(action: impl Into<String>, e: LedgerError) -> ChainError {
    let action = action.into();
    match e {
        LedgerError::Failed { error, signature } => {
            let (code, reason) = match &error {
                TransactionError::InstructionError(_, InstructionError::Custom(code)) => {
                    let reason = code
                        .checked_sub(6000)
                        .and_then(|i| PROGRAM_ERRORS.get(i as usize))
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| format!("error code {code} (see the program's errors)"));
                    (Some(*code), reason)
                }
                other => (None, other.to_string()),
            };
            ChainError::Refused { action, code, reason: format!("{reason} (transaction {signature})") }
        }
        other => ChainError::Ledger(other),
    }
}

/// The program's error number of a [`ChainError::Refused`], as the `ChrysalisError` variant.
pub fn program_error(e: &ChainError) -> Option<ChrysalisError> {
    match e {
        ChainError::Refused { code: Some(code), .. } => {
            code.checked_sub(6000).and_then(|i| PROGRAM_ERRORS.get(i as usize)).copied()
        }
        _ => None,
    }
}

// -------------------------------------------------------------------------------------------
// Readers
// -------------------------------------------------------------------------------------------

/// A collection as the chain holds it.
#[derive(Clone, Debug)]
pub struct CollectionState {
    pub address: Pubkey,
    pub vault: Pubkey,
    /// Lamports in the vault (its rent-exempt minimum + what it owes creators + new income).
    pub vault_balance: u64,
    /// The decoded `chrysalis::state::Collection` account.
    pub account: Collection,
}

impl CollectionState {
    /// The creators' wallets, in the collection's order (what `mint_nft` / distribute pass).
    pub fn creator_wallets(&self) -> Vec<Pubkey> {
        self.account.creators.iter().map(|c| c.address).collect()
    }

    /// Lamports split to creators but not yet paid out.
    pub fn total_owed(&self) -> u64 {
        self.account.creators.iter().map(|c| c.owed).sum()
    }
}

/// An NFT as its Token-2022 mint describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NftState {
    pub mint: Pubkey,
    pub name: String,
    pub symbol: String,
    pub uri: String,
    pub update_authority: Option<Pubkey>,
    /// The `stage` field.
    pub stage: u8,
    /// The `recipe` field: the recipe hash, lowercase hex.
    pub recipe: String,
    /// The `collection` field: the collection's group mint.
    pub collection_group_mint: Option<Pubkey>,
    /// The `minted_at` field (only stored when a stage unlocks some time after the mint).
    pub minted_at: Option<i64>,
    /// The TokenGroup this mint is a member of, and its member number.
    pub group: Option<Pubkey>,
    pub member_number: Option<u64>,
    pub supply: u64,
    /// Every additional metadata field, as stored.
    pub additional_metadata: Vec<(String, String)>,
}

/// Reads and decodes a collection; `None` if no account is there.
pub fn fetch_collection(ledger: &dyn Ledger, collection: &Pubkey) -> Result<Option<CollectionState>, ChainError> {
    let Some(acc) = ledger.get_account(collection)? else {
        return Ok(None);
    };
    let decode = |reason: String| ChainError::Decode { address: *collection, what: "Chrysalis collection", reason };
    if acc.owner != PROGRAM_ID {
        return Err(decode(format!("it belongs to program {}", acc.owner)));
    }
    let account = Collection::try_deserialize(&mut acc.data.as_slice()).map_err(|e| decode(e.to_string()))?;
    let vault = program::vault_pda(collection);
    let vault_balance = ledger.balance(&vault)?;
    Ok(Some(CollectionState { address: *collection, vault, vault_balance, account }))
}

/// [`fetch_collection`], with a clear error when it does not exist.
pub fn require_collection(ledger: &dyn Ledger, collection: &Pubkey) -> Result<CollectionState, ChainError> {
    fetch_collection(ledger, collection)?.ok_or(ChainError::CollectionNotFound(*collection))
}

fn field<'a>(md: &'a TokenMetadata, key: &str) -> Option<&'a str> {
    md.additional_metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Reads and decodes an NFT mint; `None` if no account is there.
pub fn fetch_nft(ledger: &dyn Ledger, mint: &Pubkey) -> Result<Option<NftState>, ChainError> {
    let Some(acc) = ledger.get_account(mint)? else {
        return Ok(None);
    };
    let decode = |reason: String| ChainError::Decode { address: *mint, what: "Token-2022 NFT mint", reason };
    if acc.owner != TOKEN_2022_ID {
        return Err(decode(format!("it belongs to program {}", acc.owner)));
    }
    let state = StateWithExtensions::<MintState>::unpack(&acc.data).map_err(|e| decode(e.to_string()))?;
    let md =
        state.get_variable_len_extension::<TokenMetadata>().map_err(|e| decode(format!("no token metadata: {e}")))?;
    let member = state.get_extension::<TokenGroupMember>().ok();
    let stage = field(&md, FIELD_STAGE)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| decode("its metadata has no numeric `stage` field".into()))?;
    let recipe = field(&md, FIELD_RECIPE).unwrap_or_default().to_string();
    let update_authority: Option<Pubkey> = Option::from(md.update_authority);
    Ok(Some(NftState {
        mint: *mint,
        name: md.name.clone(),
        symbol: md.symbol.clone(),
        uri: md.uri.clone(),
        update_authority,
        stage,
        recipe,
        collection_group_mint: field(&md, FIELD_COLLECTION).and_then(|s| s.parse().ok()),
        minted_at: field(&md, FIELD_MINTED_AT).and_then(|s| s.parse().ok()),
        group: member.map(|m| m.group),
        member_number: member.map(|m| u64::from(m.member_number)),
        supply: state.base.supply,
        additional_metadata: md.additional_metadata.clone(),
    }))
}

/// NFT `index` of a collection, if minted.
pub fn fetch_nft_at(ledger: &dyn Ledger, collection: &Pubkey, index: u32) -> Result<Option<NftState>, ChainError> {
    fetch_nft(ledger, &program::nft_mint_pda(collection, index))
}

/// How many of NFT `mint` `owner` holds in their associated token account (0 or 1; 0 when the
/// account does not exist).
pub fn nft_amount_held(ledger: &dyn Ledger, mint: &Pubkey, owner: &Pubkey) -> Result<u64, ChainError> {
    let ata = program::token_account(owner, mint);
    let Some(acc) = ledger.get_account(&ata)? else {
        return Ok(0);
    };
    let state = StateWithExtensions::<TokenAccountState>::unpack(&acc.data).map_err(|e| ChainError::Decode {
        address: ata,
        what: "Token-2022 token account",
        reason: e.to_string(),
    })?;
    Ok(state.base.amount)
}

/// The index of `mint` in a collection (searching `0..max_supply`), if it is one of its NFTs.
/// Costs one PDA derivation per index (about a millisecond each).
pub fn find_nft_index(collection: &Pubkey, mint: &Pubkey, max_supply: u32) -> Option<u32> {
    (0..max_supply).find(|i| program::nft_mint_pda(collection, *i) == *mint)
}

/// An evolution a permissionless crank may run now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueEvolution {
    pub index: u32,
    pub mint: Pubkey,
    pub to_stage: u8,
    pub rule: UnlockRule,
}

/// The minted NFTs whose next stage has a time rule (`At`, `AfterMint`) that is unlocked at
/// `now`: what anyone may evolve right away. Reads each index until all `minted` NFTs are
/// found.
pub fn due_evolutions(
    ledger: &dyn Ledger,
    collection: &CollectionState,
    now: i64,
) -> Result<Vec<DueEvolution>, ChainError> {
    let c = &collection.account;
    let mut due = Vec::new();
    let mut found = 0u32;
    for index in 0..c.max_supply {
        if found >= c.minted {
            break;
        }
        let mint = program::nft_mint_pda(&collection.address, index);
        let Some(nft) = fetch_nft(ledger, &mint)? else {
            continue;
        };
        found += 1;
        let Some(next) = nft.stage.checked_add(1) else {
            continue;
        };
        let Some(stage) = c.stages.get(usize::from(next)) else {
            continue;
        };
        let unlocked = match stage.rule {
            UnlockRule::At(t) => now >= t,
            UnlockRule::AfterMint(secs) => nft.minted_at.is_some_and(|m| now >= m.saturating_add(secs)),
            UnlockRule::OwnerTrigger | UnlockRule::CreatorTrigger => false,
        };
        if unlocked {
            due.push(DueEvolution { index, mint, to_stage: next, rule: stage.rule });
        }
    }
    Ok(due)
}

/// The cluster's rent parameters (from the rent sysvar).
pub fn rent(ledger: &dyn Ledger) -> Result<Rent, ChainError> {
    let id = anchor_lang::pubkey!("SysvarRent111111111111111111111111111111111");
    let acc = ledger.get_account(&id)?.ok_or_else(|| ChainError::Decode {
        address: id,
        what: "rent sysvar",
        reason: "the cluster has none".into(),
    })?;
    let bad = || ChainError::Decode {
        address: id,
        what: "rent sysvar",
        reason: format!("{} bytes, expected 17", acc.data.len()),
    };
    let d = acc.data.get(..17).ok_or_else(bad)?;
    let lamports_per_byte_year = u64::from_le_bytes(d[..8].try_into().map_err(|_| bad())?);
    let exemption_threshold = f64::from_le_bytes(d[8..16].try_into().map_err(|_| bad())?);
    #[allow(deprecated)]
    Ok(Rent { lamports_per_byte_year, exemption_threshold, burn_percent: d[16] })
}

/// What an action costs the wallet that pays for it, in lamports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CostEstimate {
    /// Rent of the accounts it creates (kept in them, not burnt).
    pub rent: u64,
    /// Transaction fees (signatures + priority fee).
    pub fees: u64,
    /// The price paid to the collection.
    pub price: u64,
    pub total: u64,
}

fn anchor_err(e: anchor_lang::error::Error) -> ChainError {
    ChainError::Decode { address: PROGRAM_ID, what: "account size", reason: e.to_string() }
}

/// The exact size a newly minted NFT's mint account ends up with (the program's own formula).
fn nft_mint_len(c: &CollectionState, index: u32, now: i64) -> Result<usize, ChainError> {
    let a = &c.account;
    let stage0 = a.stages.first().ok_or(ChainError::NoStages(c.address))?;
    let name = chrysalis::token_utils::item_name(&a.name, index);
    let uri = item_uri(&stage0.base_uri, index);
    let recipe = "0".repeat(64);
    let group = a.group_mint.to_string();
    let minted_at = now.to_string();
    let royalty = a.royalty_bps.to_string();
    let vault = c.vault.to_string();
    let mut fields: Vec<(&str, &str)> = vec![
        (FIELD_STAGE, "0"),
        (FIELD_RECIPE, &recipe),
        (FIELD_COLLECTION, &group),
        (FIELD_ROYALTY_BPS, &royalty),
        (FIELD_ROYALTY_RECEIVER, &vault),
    ];
    if a.stages.iter().any(|s| matches!(s.rule, UnlockRule::AfterMint(_))) {
        fields.push((FIELD_MINTED_AT, &minted_at));
    }
    let base =
        mint_len(&[ExtensionType::MetadataPointer, ExtensionType::GroupMemberPointer, ExtensionType::TokenGroupMember])
            .map_err(anchor_err)?;
    Ok(base + metadata_tlv_len(&name, &a.symbol, &uri, &fields).map_err(anchor_err)?)
}

/// Size of a Token-2022 associated token account (with its ImmutableOwner extension).
fn token_account_len() -> Result<usize, ChainError> {
    ExtensionType::try_calculate_account_len::<TokenAccountState>(&[ExtensionType::ImmutableOwner])
        .map_err(|e| ChainError::Decode { address: TOKEN_2022_ID, what: "token account size", reason: e.to_string() })
}

/// What minting NFT `index` of `collection` costs its buyer: the rent of the NFT mint (at its
/// final size, metadata included) and of the buyer's token account, the price, and the fee of
/// one signature plus the ledger's priority fee.
pub fn estimate_mint_cost(
    ledger: &dyn Ledger,
    collection: &CollectionState,
    index: u32,
) -> Result<CostEstimate, ChainError> {
    let rent_params = rent(ledger)?;
    let now = ledger.now()?;
    let rent = rent_params.minimum_balance(nft_mint_len(collection, index, now)?)
        + rent_params.minimum_balance(token_account_len()?);
    let fees = LAMPORTS_PER_SIGNATURE + ledger.priority_fee_lamports();
    let price = collection.account.price;
    Ok(CostEstimate { rent, fees, price, total: rent + fees + price })
}

/// What creating a collection with `args` costs its authority: the collection account, the
/// vault's rent-exempt minimum, the group mint at its final size, and two signatures' fees.
pub fn estimate_collection_cost(
    ledger: &dyn Ledger,
    group_mint: &Pubkey,
    args: &CollectionArgs,
) -> Result<CostEstimate, ChainError> {
    let r = rent(ledger)?;
    let vault = program::vault_pda(&program::collection_pda(group_mint));
    let royalty = args.royalty_bps.to_string();
    let vault_str = vault.to_string();
    let group_len = mint_len(&[ExtensionType::MetadataPointer, ExtensionType::GroupPointer, ExtensionType::TokenGroup])
        .map_err(anchor_err)?
        + metadata_tlv_len(
            &args.name,
            &args.symbol,
            &args.uri,
            &[(FIELD_ROYALTY_BPS, &royalty), (FIELD_ROYALTY_RECEIVER, &vault_str)],
        )
        .map_err(anchor_err)?;
    use anchor_lang::Space;
    let rent = r.minimum_balance(8 + Collection::INIT_SPACE) + r.minimum_balance(0) + r.minimum_balance(group_len);
    let fees = 2 * LAMPORTS_PER_SIGNATURE + ledger.priority_fee_lamports();
    Ok(CostEstimate { rent, fees, price: 0, total: rent + fees })
}

fn ensure_funds(ledger: &dyn Ledger, wallet: &Pubkey, need: u64, action: &str) -> Result<(), ChainError> {
    let have = ledger.balance(wallet)?;
    if have < need {
        return Err(ChainError::InsufficientFunds { wallet: *wallet, have, need, action: action.to_string() });
    }
    Ok(())
}

// -------------------------------------------------------------------------------------------
// Operations
// -------------------------------------------------------------------------------------------

/// The result of [`create_collection`].
#[derive(Clone, Debug)]
pub struct CollectionCreated {
    pub collection: Pubkey,
    /// `None`: the collection was already on chain, as asked; nothing was sent.
    pub signature: Option<Signature>,
    pub state: CollectionState,
}

/// Differences between an existing collection and `args` (empty: the same).
fn collection_differences(c: &Collection, authority: &Pubkey, args: &CollectionArgs) -> Vec<String> {
    let mut d = Vec::new();
    if c.authority != *authority {
        d.push(format!("authority {} vs {authority}", c.authority));
    }
    if c.name != args.name {
        d.push(format!("name {:?} vs {:?}", c.name, args.name));
    }
    if c.symbol != args.symbol {
        d.push(format!("symbol {:?} vs {:?}", c.symbol, args.symbol));
    }
    if c.uri != args.uri {
        d.push(format!("uri {:?} vs {:?}", c.uri, args.uri));
    }
    if c.price != args.price {
        d.push(format!("price {} vs {}", c.price, args.price));
    }
    if c.max_supply != args.max_supply {
        d.push(format!("max supply {} vs {}", c.max_supply, args.max_supply));
    }
    if c.royalty_bps != args.royalty_bps {
        d.push(format!("royalty {} vs {} bps", c.royalty_bps, args.royalty_bps));
    }
    let on_chain: Vec<(Pubkey, u16)> = c.creators.iter().map(|x| (x.address, x.share_bps)).collect();
    let asked: Vec<(Pubkey, u16)> = args.creators.iter().map(|x| (x.address, x.share_bps)).collect();
    if on_chain != asked {
        d.push("creators or shares".to_string());
    }
    d
}

/// Creates the collection of `group_mint` (a fresh keypair the caller keeps, e.g. in the
/// project, so that a re-run finds the same collection), paid by `authority`. If it already
/// exists with the same parameters it is returned as is; with different ones, an error.
pub fn create_collection(
    ledger: &dyn Ledger,
    authority: &Keypair,
    group_mint: &Keypair,
    args: &CollectionArgs,
) -> Result<CollectionCreated, ChainError> {
    let collection = program::collection_pda(&group_mint.pubkey());
    let check_existing = |state: CollectionState| {
        let diff = collection_differences(&state.account, &authority.pubkey(), args);
        if diff.is_empty() {
            Ok(CollectionCreated { collection, signature: None, state })
        } else {
            Err(ChainError::CollectionMismatch { collection, difference: diff.join(", ") })
        }
    };
    if let Some(state) = fetch_collection(ledger, &collection)? {
        return check_existing(state);
    }
    if ledger.get_account(&group_mint.pubkey())?.is_some() {
        return Err(ChainError::GroupMintInUse(group_mint.pubkey()));
    }
    let cost = estimate_collection_cost(ledger, &group_mint.pubkey(), args)?;
    ensure_funds(ledger, &authority.pubkey(), cost.total, "creating the collection")?;
    let ix = program::create_collection(&authority.pubkey(), &group_mint.pubkey(), args.clone());
    let sent = ledger.send(&[ix], &[authority, group_mint]);
    match sent {
        Ok(signature) => {
            tracing::info!(%collection, %signature, "collection created");
            Ok(CollectionCreated {
                collection,
                signature: Some(signature),
                state: require_collection(ledger, &collection)?,
            })
        }
        Err(e) => {
            // Someone (an earlier run whose answer was lost) may have created it meanwhile.
            if let Some(state) = fetch_collection(ledger, &collection)? {
                return check_existing(state);
            }
            Err(refused("creating the collection", e))
        }
    }
}

/// Makes stage `number` of `collection` equal `stage`: appends it when the collection has
/// exactly `number` stages; returns `None` (nothing sent) when that stage is already there and
/// equal; refuses when it is there and different, or when earlier stages are missing.
pub fn add_stage(
    ledger: &dyn Ledger,
    authority: &Keypair,
    collection: &Pubkey,
    number: u8,
    stage: &Stage,
) -> Result<Option<Signature>, ChainError> {
    let state = require_collection(ledger, collection)?;
    let stages = &state.account.stages;
    let conflict = |problem: String| ChainError::StageConflict { collection: *collection, number, problem };
    match stages.get(usize::from(number)) {
        Some(existing) if existing == stage => return Ok(None),
        Some(existing) => {
            return Err(conflict(format!("already on chain and different ({existing:?}); stages cannot change")));
        }
        None if stages.len() < usize::from(number) => {
            return Err(conflict(format!(
                "the collection has only {} stage(s): add the earlier ones first",
                stages.len()
            )));
        }
        None => {}
    }
    ensure_funds(
        ledger,
        &authority.pubkey(),
        LAMPORTS_PER_SIGNATURE + ledger.priority_fee_lamports(),
        "adding a stage",
    )?;
    let ix = program::add_stage(&authority.pubkey(), collection, stage.clone());
    match ledger.send(&[ix], &[authority]) {
        Ok(sig) => Ok(Some(sig)),
        Err(e) => {
            let after = require_collection(ledger, collection)?;
            if after.account.stages.get(usize::from(number)) == Some(stage) {
                return Ok(None);
            }
            Err(refused(format!("adding stage {number}"), e))
        }
    }
}

/// [`add_stage`] for every stage in order: the collection ends up with exactly these stages
/// (or an error says which one differs). Returns the signatures of the stages sent now.
pub fn ensure_stages(
    ledger: &dyn Ledger,
    authority: &Keypair,
    collection: &Pubkey,
    stages: &[Stage],
) -> Result<Vec<Signature>, ChainError> {
    let mut sent = Vec::new();
    for (n, stage) in stages.iter().enumerate() {
        let number = u8::try_from(n).map_err(|_| ChainError::StageConflict {
            collection: *collection,
            number: u8::MAX,
            problem: "too many stages".into(),
        })?;
        sent.extend(add_stage(ledger, authority, collection, number, stage)?);
    }
    Ok(sent)
}

/// Makes the collection's committed item table equal `items_root`: returns `None` (nothing
/// sent) when it already is; sends `commit_items` while nothing is minted; refuses when the
/// collection already minted against another root.
pub fn commit_items(
    ledger: &dyn Ledger,
    authority: &Keypair,
    collection: &Pubkey,
    items_root: [u8; 32],
) -> Result<Option<Signature>, ChainError> {
    let state = require_collection(ledger, collection)?;
    let conflict = |on_chain: [u8; 32]| ChainError::ItemsConflict {
        collection: *collection,
        on_chain: hex::encode(on_chain),
        asked: hex::encode(items_root),
    };
    if state.account.items_root == items_root {
        return Ok(None);
    }
    if state.account.minted > 0 {
        return Err(conflict(state.account.items_root));
    }
    ensure_funds(
        ledger,
        &authority.pubkey(),
        LAMPORTS_PER_SIGNATURE + ledger.priority_fee_lamports(),
        "committing the items",
    )?;
    let ix = program::commit_items(&authority.pubkey(), collection, items_root);
    match ledger.send(&[ix], &[authority]) {
        Ok(sig) => Ok(Some(sig)),
        Err(e) => {
            let after = require_collection(ledger, collection)?;
            if after.account.items_root == items_root {
                return Ok(None);
            }
            if after.account.minted > 0 {
                return Err(conflict(after.account.items_root));
            }
            Err(refused("committing the items", e))
        }
    }
}

/// Who can change the program's code on a network, and so every NFT's metadata: the
/// collection PDA is their update authority, and new code could use it any way it likes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProgramControl {
    /// Nobody: deployed without an upgrade authority, or made final.
    Immutable,
    /// Whoever holds this key (a wallet, or a multisig's vault) can deploy new code.
    Upgradeable { authority: String },
    /// Built into the in-process sandbox (nothing to upgrade).
    Builtin,
    /// The program is not deployed on this network.
    Missing,
}

const UPGRADEABLE_LOADER: Pubkey = anchor_lang::pubkey!("BPFLoaderUpgradeab1e11111111111111111111111");
const NATIVE_LOADER: Pubkey = anchor_lang::pubkey!("NativeLoader1111111111111111111111111111111");

/// Reads [`ProgramControl`] from the program account and, for the upgradeable loader, its
/// program-data account (decoded with the loader's own state type).
pub fn program_control(ledger: &dyn Ledger) -> Result<ProgramControl, ChainError> {
    use anchor_lang::solana_program::bpf_loader_upgradeable::UpgradeableLoaderState as State;
    let Some(program) = ledger.get_account(&PROGRAM_ID)? else {
        return Ok(ProgramControl::Missing);
    };
    if program.owner == NATIVE_LOADER || !program.executable {
        return Ok(ProgramControl::Builtin);
    }
    if program.owner != UPGRADEABLE_LOADER {
        return Ok(ProgramControl::Immutable); // the old loaders cannot upgrade
    }
    let bad =
        |reason: &str| ChainError::Decode { address: PROGRAM_ID, what: "upgradeable program", reason: reason.into() };
    let decode = |data: &[u8]| State::try_deserialize_unchecked(&mut &data[..]).ok();
    let Some(State::Program { programdata_address }) = decode(&program.data) else {
        return Err(bad("not a Program account of the upgradeable loader"));
    };
    let data = ledger.get_account(&programdata_address)?.ok_or_else(|| bad("its program-data account is missing"))?;
    match decode(&data.data) {
        Some(State::ProgramData { upgrade_authority_address: None, .. }) => Ok(ProgramControl::Immutable),
        Some(State::ProgramData { upgrade_authority_address: Some(authority), .. }) => {
            Ok(ProgramControl::Upgradeable { authority: authority.to_string() })
        }
        _ => Err(bad("not a ProgramData account")),
    }
}

/// The result of [`mint_nft`] and [`evolve`].
#[derive(Clone, Debug)]
pub struct NftOutcome {
    pub index: u32,
    pub mint: Pubkey,
    /// `None`: the chain already held this (minted / at that stage); nothing was sent.
    pub signature: Option<Signature>,
    pub nft: NftState,
}

/// Mints NFT `index` of `collection` to `buyer` with `recipe_hash`, proved by `proof` against
/// the collection's committed item table ([`chrysalis::merkle::ItemTree::proof`]). Items go out
/// in order: `index` must be the next one. With `pay_creators` the creators are paid in the
/// same transaction when their wallets fit in it (else the price waits in the vault). If the
/// index is already minted with the same recipe, returns it (nothing paid again); with
/// another recipe, an error.
pub fn mint_nft(
    ledger: &dyn Ledger,
    buyer: &Keypair,
    collection: &Pubkey,
    index: u32,
    recipe_hash: [u8; 32],
    proof: &[[u8; 32]],
    pay_creators: bool,
) -> Result<NftOutcome, ChainError> {
    let mint = program::nft_mint_pda(collection, index);
    let recipe = hex::encode(recipe_hash);
    let existing = |nft: NftState| {
        if nft.recipe == recipe {
            Ok(NftOutcome { index, mint, signature: None, nft })
        } else {
            Err(ChainError::RecipeMismatch {
                collection: *collection,
                index,
                on_chain: nft.recipe,
                asked: recipe.clone(),
            })
        }
    };
    if let Some(nft) = fetch_nft(ledger, &mint)? {
        return existing(nft);
    }
    let state = require_collection(ledger, collection)?;
    let c = &state.account;
    if index >= c.max_supply {
        return Err(ChainError::IndexOutOfRange { collection: *collection, index, max_supply: c.max_supply });
    }
    if c.stages.is_empty() {
        return Err(ChainError::NoStages(*collection));
    }
    if c.items_root == [0; 32] {
        return Err(ChainError::ItemsNotCommitted(*collection));
    }
    if index != c.minted {
        return Err(ChainError::NotNextIndex { collection: *collection, index, next: c.minted });
    }
    let cost = estimate_mint_cost(ledger, &state, index)?;
    ensure_funds(ledger, &buyer.pubkey(), cost.total, &format!("minting NFT #{index}"))?;
    let creators = state.creator_wallets();
    let build = |wallets: Option<&[Pubkey]>| {
        program::mint_nft(&buyer.pubkey(), collection, &c.group_mint, index, recipe_hash, proof.to_vec(), wallets)
    };
    // A long proof (a big collection) and 16 wallets may not fit one packet: then the price
    // waits in the vault for `distribute_royalties`, as it does without `pay_creators`.
    let ix = match pay_creators.then(|| build(Some(creators.as_slice()))) {
        Some(ix) if crate::ledger::fits_one_packet(&ix, &buyer.pubkey()) => ix,
        _ => build(None),
    };
    match ledger.send(&[ix], &[buyer]) {
        Ok(signature) => {
            tracing::info!(%collection, index, %mint, %signature, "NFT minted");
            let nft = fetch_nft(ledger, &mint)?.ok_or(ChainError::NftNotFound { collection: *collection, index })?;
            Ok(NftOutcome { index, mint, signature: Some(signature), nft })
        }
        Err(e) => {
            if let Some(nft) = fetch_nft(ledger, &mint)? {
                return existing(nft);
            }
            Err(refused(format!("minting NFT #{index}"), e))
        }
    }
}

/// Evolves NFT `index` to `to_stage` (its stage + 1), signed and paid by `caller`. Already at
/// or past `to_stage`: returns it, nothing sent. For an owner-triggered stage the caller's
/// token account is passed as the proof of holding.
pub fn evolve(
    ledger: &dyn Ledger,
    caller: &Keypair,
    collection: &Pubkey,
    index: u32,
    to_stage: u8,
) -> Result<NftOutcome, ChainError> {
    let mint = program::nft_mint_pda(collection, index);
    let not_found = ChainError::NftNotFound { collection: *collection, index };
    let nft = fetch_nft(ledger, &mint)?.ok_or(not_found)?;
    if nft.stage >= to_stage {
        return Ok(NftOutcome { index, mint, signature: None, nft });
    }
    let state = require_collection(ledger, collection)?;
    let conflict = |problem: String| ChainError::StageConflict { collection: *collection, number: to_stage, problem };
    if usize::from(to_stage) >= state.account.stages.len() {
        return Err(conflict(format!("the collection has only {} stages", state.account.stages.len())));
    }
    if to_stage != nft.stage + 1 {
        return Err(conflict(format!("NFT #{index} is at stage {}: stages are reached one at a time", nft.stage)));
    }
    let owner_token = match state.account.stages[usize::from(to_stage)].rule {
        UnlockRule::OwnerTrigger => {
            let ata = program::token_account(&caller.pubkey(), &mint);
            ledger.get_account(&ata)?.map(|_| ata)
        }
        _ => None,
    };
    ensure_funds(
        ledger,
        &caller.pubkey(),
        LAMPORTS_PER_SIGNATURE + ledger.priority_fee_lamports(),
        &format!("evolving NFT #{index}"),
    )?;
    let ix = program::evolve(&caller.pubkey(), collection, index, to_stage, owner_token);
    let action = format!("evolving NFT #{index} to stage {to_stage}");
    match ledger.send(&[ix], &[caller]) {
        Ok(signature) => {
            let nft = fetch_nft(ledger, &mint)?.ok_or(ChainError::NftNotFound { collection: *collection, index })?;
            Ok(NftOutcome { index, mint, signature: Some(signature), nft })
        }
        Err(e) => {
            if let Some(nft) = fetch_nft(ledger, &mint)?
                && nft.stage >= to_stage
            {
                return Ok(NftOutcome { index, mint, signature: None, nft });
            }
            Err(refused(action, e))
        }
    }
}

/// The result of [`distribute_royalties`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Distribution {
    /// `None`: there was nothing to split or pay; nothing was sent.
    pub signature: Option<Signature>,
    /// Lamports that left the vault for the creators' wallets.
    pub paid: u64,
    /// Lamports still owed after it (creators whose fresh wallet a small payment could not
    /// make rent-exempt).
    pub still_owed: u64,
}

/// Splits the vault's new income by share and pays every creator what they are owed, paid by
/// `payer` (anyone). Sends nothing when there is nothing new and nothing payable, so re-runs
/// never pay twice (the owed amounts live on chain).
pub fn distribute_royalties(
    ledger: &dyn Ledger,
    payer: &Keypair,
    collection: &Pubkey,
) -> Result<Distribution, ChainError> {
    let state = require_collection(ledger, collection)?;
    let r = rent(ledger)?;
    let owed = state.total_owed();
    let new = state.vault_balance.saturating_sub(r.minimum_balance(0)).saturating_sub(owed);
    let mut payable = false;
    for c in &state.account.creators {
        if c.owed == 0 {
            continue;
        }
        let (balance, len) = match ledger.get_account(&c.address)? {
            Some(a) => (a.lamports, a.data.len()),
            None => (0, 0),
        };
        if balance.saturating_add(c.owed) >= r.minimum_balance(len) {
            payable = true;
        }
    }
    if new == 0 && !payable {
        return Ok(Distribution { signature: None, paid: 0, still_owed: owed });
    }
    ensure_funds(
        ledger,
        &payer.pubkey(),
        LAMPORTS_PER_SIGNATURE + ledger.priority_fee_lamports(),
        "distributing royalties",
    )?;
    let ix = program::distribute_royalties(collection, &state.creator_wallets());
    let signature = ledger.send(&[ix], &[payer]).map_err(|e| refused("distributing royalties", e))?;
    let after = require_collection(ledger, collection)?;
    Ok(Distribution {
        signature: Some(signature),
        paid: state.vault_balance.saturating_sub(after.vault_balance),
        still_owed: after.total_owed(),
    })
}

/// Hands the collection to `new_authority` (both sign). Already theirs: nothing sent.
pub fn update_authority(
    ledger: &dyn Ledger,
    authority: &Keypair,
    new_authority: &Keypair,
    collection: &Pubkey,
) -> Result<Option<Signature>, ChainError> {
    let state = require_collection(ledger, collection)?;
    if state.account.authority == new_authority.pubkey() {
        return Ok(None);
    }
    let ix = program::update_authority(&authority.pubkey(), &new_authority.pubkey(), collection);
    ledger.send(&[ix], &[authority, new_authority]).map(Some).map_err(|e| refused("handing over the collection", e))
}

/// Closes a collection nobody minted from (refunds its rent and vault to the authority).
/// Already closed: nothing sent.
pub fn close_collection(
    ledger: &dyn Ledger,
    authority: &Keypair,
    collection: &Pubkey,
) -> Result<Option<Signature>, ChainError> {
    if ledger.get_account(collection)?.is_none() {
        return Ok(None);
    }
    let ix = program::close_collection(&authority.pubkey(), collection);
    ledger.send(&[ix], &[authority]).map(Some).map_err(|e| refused("closing the collection", e))
}

/// The recipe hash as the `recipe` metadata field stores it (lowercase hex).
pub fn recipe_hex(recipe_hash: &[u8; 32]) -> String {
    hex::encode(recipe_hash)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use anchor_lang::prelude::Clock;
    use solana_hash::Hash;
    use solana_transaction::Transaction;

    use super::*;
    use crate::ledger::AccountData;

    /// Accounts only: what `program_control` reads.
    struct Accounts(HashMap<Pubkey, AccountData>);

    impl Ledger for Accounts {
        fn balance(&self, _: &Pubkey) -> Result<u64, LedgerError> {
            unimplemented!()
        }
        fn airdrop(&self, _: &Pubkey, _: u64) -> Result<Signature, LedgerError> {
            unimplemented!()
        }
        fn get_account(&self, pubkey: &Pubkey) -> Result<Option<AccountData>, LedgerError> {
            Ok(self.0.get(pubkey).cloned())
        }
        fn latest_blockhash(&self) -> Result<Hash, LedgerError> {
            unimplemented!()
        }
        fn send_transaction(&self, _: &Transaction) -> Result<Signature, LedgerError> {
            unimplemented!()
        }
        fn clock(&self) -> Result<Clock, LedgerError> {
            unimplemented!()
        }
        fn signature_status(&self, _: &Signature) -> Result<Option<Result<(), TransactionError>>, LedgerError> {
            unimplemented!()
        }
    }

    fn deployed(authority: Option<Pubkey>) -> Accounts {
        let programdata = Pubkey::new_unique();
        let mut program = 2u32.to_le_bytes().to_vec();
        program.extend_from_slice(programdata.as_ref());
        let mut data = 3u32.to_le_bytes().to_vec();
        data.extend_from_slice(&77u64.to_le_bytes());
        match authority {
            Some(a) => {
                data.push(1);
                data.extend_from_slice(a.as_ref());
            }
            None => data.push(0),
        }
        data.extend_from_slice(&[0xCC; 64]); // the program's bytes follow
        let acc = |data: Vec<u8>, executable| AccountData { lamports: 1, owner: UPGRADEABLE_LOADER, data, executable };
        Accounts(HashMap::from([(PROGRAM_ID, acc(program, true)), (programdata, acc(data, false))]))
    }

    #[test]
    fn program_control_reads_the_upgrade_authority() {
        let key = Pubkey::new_unique();
        assert_eq!(
            program_control(&deployed(Some(key))).unwrap(),
            ProgramControl::Upgradeable { authority: key.to_string() }
        );
        assert_eq!(program_control(&deployed(None)).unwrap(), ProgramControl::Immutable);
        assert_eq!(program_control(&Accounts(HashMap::new())).unwrap(), ProgramControl::Missing);
        let mut broken = deployed(Some(key));
        broken.0.get_mut(&PROGRAM_ID).unwrap().data[0] = 9;
        assert!(program_control(&broken).is_err());
    }
}
