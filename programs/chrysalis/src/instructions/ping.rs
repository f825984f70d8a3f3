use anchor_lang::prelude::*;

use crate::events::Pinged;

/// Accounts of [`ping`](crate::chrysalis::ping).
///
/// `#[event_cpi]` appends the `event_authority` PDA and the `program` account that `emit_cpi!`
/// needs (see [`crate::events`]).
#[event_cpi]
#[derive(Accounts)]
pub struct Ping<'info> {
    /// Whoever pings; must sign so the event proves who called.
    pub caller: Signer<'info>,
}

pub fn handle_ping(ctx: Context<Ping>, note: u64) -> Result<()> {
    emit_cpi!(Pinged { caller: ctx.accounts.caller.key(), note });
    Ok(())
}
