//! Token-2022 helpers: sizes of the mints we build, rent top-ups before Token-2022 grows an
//! account, and reading an NFT's metadata back.
//!
//! Token-2022 reallocates a mint when it adds a TokenGroup, TokenGroupMember or TokenMetadata
//! entry (or grows a metadata field) but never pays for the extra bytes: whoever asks must
//! have transferred the rent first. We compute the final size ourselves (return data, which
//! `get_account_data_size` relies on, does not exist in native tests).

use anchor_lang::{
    prelude::*,
    system_program::{Transfer, transfer},
};
use anchor_spl::token_interface::{
    spl_token_2022::{
        extension::{BaseStateWithExtensions, ExtensionType, StateWithExtensions},
        state::Mint as MintState,
    },
    spl_token_metadata_interface::state::TokenMetadata,
};

use crate::errors::ChrysalisError;

/// Additional metadata keys every NFT carries.
pub const FIELD_STAGE: &str = "stage";
pub const FIELD_RECIPE: &str = "recipe";
pub const FIELD_COLLECTION: &str = "collection";
pub const FIELD_MINTED_AT: &str = "minted_at";
/// Additional metadata keys of the collection's group mint.
pub const FIELD_ROYALTY_BPS: &str = "royalty_bps";
pub const FIELD_ROYALTY_RECEIVER: &str = "royalty_receiver";

/// Size of a TokenMetadata TLV entry (header included) with these values.
pub fn metadata_tlv_len(name: &str, symbol: &str, uri: &str, fields: &[(&str, &str)]) -> Result<usize> {
    // Same layout as TokenMetadata's borsh: 2 pubkeys, 3 strings, a vec of string pairs.
    let strings = |s: &str| 4usize.checked_add(s.len());
    let mut len = 4usize // TLV header
        .checked_add(64)
        .and_then(|l| l.checked_add(strings(name)?))
        .and_then(|l| l.checked_add(strings(symbol)?))
        .and_then(|l| l.checked_add(strings(uri)?))
        .and_then(|l| l.checked_add(4))
        .ok_or(ChrysalisError::ArithmeticOverflow)?;
    for (k, v) in fields {
        len = len
            .checked_add(strings(k).ok_or(ChrysalisError::ArithmeticOverflow)?)
            .and_then(|l| l.checked_add(strings(v)?))
            .ok_or(ChrysalisError::ArithmeticOverflow)?;
    }
    Ok(len)
}

/// Length of a mint with these fixed-size extensions.
pub fn mint_len(extensions: &[ExtensionType]) -> Result<usize> {
    ExtensionType::try_calculate_account_len::<MintState>(extensions).map_err(Into::into)
}

/// Transfers from `payer` whatever `account` lacks to be rent-exempt at `target_len` bytes.
pub fn top_up<'info>(
    payer: &AccountInfo<'info>,
    account: &AccountInfo<'info>,
    system_program: &AccountInfo<'info>,
    target_len: usize,
) -> Result<()> {
    let needed = Rent::get()?.minimum_balance(target_len);
    let missing = needed.saturating_sub(account.lamports());
    if missing > 0 {
        transfer(
            CpiContext::new(system_program.key(), Transfer { from: payer.clone(), to: account.clone() }),
            missing,
        )?;
    }
    Ok(())
}

/// The TokenMetadata stored in a Token-2022 mint.
pub fn read_metadata(mint: &AccountInfo) -> Result<TokenMetadata> {
    let data = mint.try_borrow_data()?;
    let state = StateWithExtensions::<MintState>::unpack(&data).map_err(|_| error!(ChrysalisError::BadMetadata))?;
    state.get_variable_len_extension::<TokenMetadata>().map_err(|_| error!(ChrysalisError::BadMetadata))
}

/// The value of an additional metadata field.
pub fn field<'a>(md: &'a TokenMetadata, key: &str) -> Option<&'a str> {
    md.additional_metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Lowercase hex of 32 bytes.
pub fn hex32(bytes: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// An NFT's name: `"<collection name> #<index + 1>"`, counted from 1 as Sugar and the
/// marketplaces show it, and exactly the name its metadata JSON carries (the planner's
/// `item_name`), so wallets that read the chain and tools that read the JSON agree.
pub fn item_name(collection_name: &str, index: u32) -> String {
    format!("{collection_name} #{}", u64::from(index) + 1)
}

/// `base + index + ".json"`.
pub fn item_uri(base: &str, index: u32) -> String {
    format!("{base}{index}.json")
}
