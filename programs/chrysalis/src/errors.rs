//! The program's error codes (Anchor numbers them from 6000 up, in declaration order).
//!
//! Append new variants at the end: clients match on the numbers, so never reorder or remove.

use anchor_lang::prelude::*;

#[error_code]
pub enum ChrysalisError {
    /// Placeholder so the enum (and the IDL's `errors`) exists from day one.
    #[msg("This instruction is not implemented yet")]
    NotImplemented,
}
