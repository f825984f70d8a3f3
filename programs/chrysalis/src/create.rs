//! Creating accounts at addresses that someone may already have sent lamports to.
//!
//! Every account this program creates lives at a predictable address: the collection PDA
//! (`["collection", group_mint]`), each NFT mint (`["nft", collection, index]`), and the group
//! mint as soon as its creating transaction is seen. The System program's `CreateAccount`
//! refuses an address that holds any lamports, so a stranger who sends 890 880 lamports to
//! NFT #7's address would make it unmintable forever. Anchor 1.2.2's `init` answers that with
//! `CreateAccountAllowPrefund` (SIMD-0312), which older runtimes (Agave 3.1, our
//! solana-program-test) do not have: there the same transfer still bricks the index.
//!
//! [`create_account`] works on both: an empty address gets a plain `CreateAccount`; a funded
//! one gets what it lacks for rent exemption, then `Allocate` and `Assign`, the three steps
//! every runtime has. The gift stays with the account (the payer pays less), and an address
//! that already holds data or belongs to another program is refused, so nothing is ever
//! created twice.

use anchor_lang::{
    prelude::*,
    system_program::{self, Allocate, Assign, CreateAccount},
};

use crate::{errors::ChrysalisError, token_utils::top_up};

/// Creates `account` with `space` zeroed bytes, owned by `owner` and rent-exempt, paid by
/// `payer`. `signer_seeds` sign for a PDA; a keypair account signs the transaction instead
/// (pass `&[]`).
///
/// Fails with [`ChrysalisError::AccountAlreadyInUse`] when the address already holds data or
/// is owned by a program other than the System program.
pub fn create_account<'info>(
    payer: &AccountInfo<'info>,
    account: &AccountInfo<'info>,
    system: &AccountInfo<'info>,
    space: usize,
    owner: &Pubkey,
    signer_seeds: &[&[&[u8]]],
) -> Result<()> {
    if account.lamports() == 0 {
        let rent = Rent::get()?.minimum_balance(space);
        return system_program::create_account(
            CpiContext::new_with_signer(
                system.key(),
                CreateAccount { from: payer.clone(), to: account.clone() },
                signer_seeds,
            ),
            rent,
            space as u64,
            owner,
        );
    }
    // Someone funded the address first. It may only hold lamports: data, or an owner other
    // than the System program, means it already exists (an index minted twice, say).
    require!(account.owner == &system_program::ID && account.data_is_empty(), ChrysalisError::AccountAlreadyInUse);
    require_keys_neq!(payer.key(), account.key(), ChrysalisError::AccountAlreadyInUse);
    top_up(payer, account, system, space)?;
    system_program::allocate(
        CpiContext::new_with_signer(system.key(), Allocate { account_to_allocate: account.clone() }, signer_seeds),
        space as u64,
    )?;
    system_program::assign(
        CpiContext::new_with_signer(system.key(), Assign { account_to_assign: account.clone() }, signer_seeds),
        owner,
    )
}
