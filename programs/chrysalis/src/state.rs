//! On-chain account types (`#[account]`). Empty in phase 1.
//!
//! Keep accounts small and `Box<Account<..>>` big ones in accounts structs: native tests do
//! not enforce SBF's 4 KiB stack frames, the real runtime does.
