//! The program's error codes (Anchor numbers them from 6000 up, in declaration order).
//!
//! Append new variants at the end: clients match on the numbers, so never reorder or remove.

use anchor_lang::prelude::*;

#[error_code]
pub enum ChrysalisError {
    /// Placeholder kept so the numbers of the variants below never move.
    #[msg("This instruction is not implemented yet")]
    NotImplemented,
    #[msg("Collection name is empty or longer than 32 bytes")]
    InvalidName,
    #[msg("Collection symbol is longer than 10 bytes")]
    InvalidSymbol,
    #[msg("URI is longer than allowed (128 bytes for the collection, 96 for a stage)")]
    InvalidUri,
    #[msg("A collection needs 1 to 16 creators")]
    TooManyCreators,
    #[msg("Creator shares must sum to exactly 10000 basis points")]
    SharesMustSumTo10000,
    #[msg("A creator share must be greater than zero")]
    ZeroShare,
    #[msg("The same creator is listed twice")]
    DuplicateCreator,
    #[msg("Royalty basis points must be at most 10000")]
    InvalidRoyalty,
    #[msg("Max supply must be greater than zero")]
    InvalidMaxSupply,
    #[msg("A collection has at most 8 stages")]
    TooManyStages,
    #[msg("Stages are locked once the first NFT is minted")]
    StagesLocked,
    #[msg("The collection has no stage yet")]
    NoStages,
    #[msg("The index is outside 0..max_supply")]
    IndexOutOfRange,
    #[msg("Every NFT of this collection has been minted")]
    SoldOut,
    #[msg("Arithmetic overflow")]
    ArithmeticOverflow,
    #[msg("The NFT is already at or past this stage")]
    AlreadyAtStage,
    #[msg("Stages must be reached one at a time")]
    StageSkipped,
    #[msg("The NFT is at its last stage")]
    NoMoreStages,
    #[msg("This stage is not unlocked yet")]
    StageNotUnlocked,
    #[msg("Only the NFT's owner may trigger this stage (pass their token account holding it)")]
    NotOwner,
    #[msg("Only the collection authority may do this")]
    NotCollectionAuthority,
    #[msg("The NFT's on-chain metadata is missing or malformed")]
    BadMetadata,
    #[msg("Remaining accounts must be the collection's creators, in order")]
    CreatorMismatch,
    #[msg("A creator account must be writable")]
    CreatorNotWritable,
    #[msg("The vault holds less than its rent-exempt minimum plus what it owes")]
    VaultUnderfunded,
    #[msg("Only a collection with no minted NFT can be closed")]
    CollectionNotEmpty,
    #[msg("The vault still owes creators: distribute first")]
    VaultOwes,
    #[msg("A time rule needs a non-negative value")]
    InvalidRule,
    #[msg("A creator cannot be the collection or its vault")]
    InvalidCreator,
    #[msg(
        "A creator is a reserved address (the system program, a sysvar or a built-in program) that can never be paid: use a wallet"
    )]
    ReservedCreator,
    #[msg("This address is already in use: it holds data or belongs to another program (an index minted twice?)")]
    AccountAlreadyInUse,
    #[msg("The collection has not committed its items yet (commit_items): nothing can be minted before")]
    ItemsNotCommitted,
    #[msg("Items are minted in order: this is not the next index")]
    NotNextIndex,
    #[msg("The recipe hash and proof do not match the collection's committed items")]
    InvalidItemProof,
    #[msg("The item commitment is locked once the first NFT is minted")]
    ItemsLocked,
    #[msg("An item root of all zeros commits nothing")]
    InvalidItemRoot,
}
