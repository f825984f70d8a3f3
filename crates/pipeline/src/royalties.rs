//! `chrysalis royalties`: the collection's vault, each creator's share and what they are owed;
//! `--pay SOL` sends a simulated secondary-sale royalty payment into the vault (a marketplace
//! would), `--distribute` splits the vault's new lamports by share and pays the creators.
//!
//! A payment changes no state that could tell a first attempt from a second, so it goes
//! through [`Chain::send_payment`]: one signed transaction, journaled with its signature
//! before it is sent, re-sent as is after transient errors. Distribution is safe to repeat:
//! the program only splits lamports above what the vault already owes.

use std::path::Path;

use chrysalis_chain::client::{self, CollectionState};
use chrysalis_chain::{Keypair, Signer};
use serde::{Deserialize, Serialize};

use super::chain::Chain;
use super::evolve::project_collection;
use super::journal::Journal;
use super::{OnEvent, Phase, PipelineError, PipelineEvent};

/// One creator's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CreatorLine {
    pub address: String,
    pub share_bps: u16,
    /// Split to them, still in the vault.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub owed: u64,
    /// Their wallet's balance.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub balance: u64,
}

/// The vault and creators, after whatever this run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoyaltiesReport {
    pub collection: String,
    pub vault: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub vault_balance: u64,
    /// Lamports in the vault not yet split (above its rent minimum and what it owes).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unsplit: u64,
    pub royalty_bps: u16,
    pub minted: u32,
    pub creators: Vec<CreatorLine>,
    /// The payment sent in this run (`--pay`), in lamports, with its signature.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub paid_in: Option<u64>,
    pub payment_signature: Option<String>,
    /// Lamports paid out to creators in this run (`--distribute`).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub distributed: Option<u64>,
    pub distribution_signature: Option<String>,
}

fn report(chain: &Chain, state: &CollectionState) -> Result<RoyaltiesReport, PipelineError> {
    let rent = chain.op("reading rent", |l| client::rent(l))?;
    let owed = state.total_owed();
    let mut creators = Vec::new();
    for c in &state.account.creators {
        creators.push(CreatorLine {
            address: c.address.to_string(),
            share_bps: c.share_bps,
            owed: c.owed,
            balance: chain.balance(&c.address)?,
        });
    }
    Ok(RoyaltiesReport {
        collection: state.address.to_string(),
        vault: state.vault.to_string(),
        vault_balance: state.vault_balance,
        unsplit: state.vault_balance.saturating_sub(rent.minimum_balance(0)).saturating_sub(owed),
        royalty_bps: state.account.royalty_bps,
        minted: state.account.minted,
        creators,
        paid_in: None,
        payment_signature: None,
        distributed: None,
        distribution_signature: None,
    })
}

/// Shows the vault; with `pay` sends that many lamports into it from `wallet` first; with
/// `distribute` then pays the creators.
pub fn royalties(
    project_root: &Path,
    chain: &Chain,
    journal: &Journal<'_>,
    wallet: &Keypair,
    pay: Option<u64>,
    distribute: bool,
    on_event: OnEvent<'_>,
) -> Result<RoyaltiesReport, PipelineError> {
    let label = chain.label();
    let state = project_collection(project_root, chain)?;
    let mut payment = None;
    if let Some(lamports) = pay.filter(|l| *l > 0) {
        let id = journal.begin_distribution(&label, "payment", lamports)?;
        let ix = anchor_lang::solana_program::system_instruction::transfer(&wallet.pubkey(), &state.vault, lamports);
        let signers: [&dyn Signer; 1] = [wallet];
        let result = chain.send_payment(&[ix], &signers, &mut |sig| {
            journal.finish_distribution(id, "sending", Some(&sig.to_string()), None)?;
            Ok(())
        });
        match result {
            Ok(sig) => {
                journal.finish_distribution(id, "done", Some(&sig.to_string()), None)?;
                on_event(&PipelineEvent::new(
                    Phase::Royalties,
                    1,
                    2,
                    format!("paid {} SOL into the vault", chrysalis_chain::client::sol(lamports)),
                ));
                payment = Some((lamports, sig.to_string()));
            }
            Err(e) => {
                journal.finish_distribution(id, "failed", None, Some(&e.to_string()))?;
                return Err(e);
            }
        }
    }
    let mut distribution = None;
    if distribute {
        let id = journal.begin_distribution(&label, "distribution", 0)?;
        match chain.op("distributing royalties", |l| client::distribute_royalties(l, wallet, &state.address)) {
            Ok(d) => {
                journal.finish_distribution(id, "done", d.signature.map(|s| s.to_string()).as_deref(), None)?;
                on_event(&PipelineEvent::new(
                    Phase::Royalties,
                    2,
                    2,
                    format!("paid {} SOL to the creators", chrysalis_chain::client::sol(d.paid)),
                ));
                distribution = Some(d);
            }
            Err(e) => {
                journal.finish_distribution(id, "failed", None, Some(&e.to_string()))?;
                return Err(e);
            }
        }
    }
    let after = project_collection(project_root, chain)?;
    let mut r = report(chain, &after)?;
    if let Some((l, s)) = payment {
        r.paid_in = Some(l);
        r.payment_signature = Some(s);
    }
    if let Some(d) = distribution {
        r.distributed = Some(d.paid);
        r.distribution_signature = d.signature.map(|s| s.to_string());
    }
    Ok(r)
}

/// The vault and what it owes each creator, read from the chain; nothing is sent.
pub fn status(project_root: &Path, chain: &Chain) -> Result<RoyaltiesReport, PipelineError> {
    report(chain, &project_collection(project_root, chain)?)
}

/// The collection's royalty in basis points, as on chain.
pub fn royalty_bps_of(project_root: &Path, chain: &Chain) -> Result<u16, PipelineError> {
    Ok(project_collection(project_root, chain)?.account.royalty_bps)
}
