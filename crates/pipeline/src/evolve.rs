//! `chrysalis evolve` and `chrysalis warp`: advancing NFTs through their stages.
//!
//! - [`evolve_due`] cranks every evolution whose time rule (`At`, `AfterMint`) is unlocked
//!   now, repeatedly, so an NFT whose stages 1 and 2 are both due reaches stage 2 in one run.
//!   Time stages are permissionless: the wallet only pays the fee.
//! - [`evolve_one`] evolves one NFT to a stage whose rule is an owner or creator trigger (or a
//!   due time stage), signed by the wallet (the holder, or the collection authority).
//! - [`warp`] moves the sandbox's clock forward (no other ledger can).
//!
//! Each evolution is journaled (`chain_evolutions`) before and after; the chain operation
//! reads the NFT's stage first, so a rerun never evolves twice.

use std::path::Path;

use chrysalis_chain::client::{self, CollectionState};
use chrysalis_chain::{Keypair, Pubkey};
use chrysalis_core::CancelToken;
use serde::{Deserialize, Serialize};

use super::chain::Chain;
use super::journal::Journal;
use super::{OnEvent, Phase, PipelineError, PipelineEvent, mint};

/// One evolution made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Evolution {
    pub index: u32,
    pub mint: String,
    pub from_stage: u32,
    pub to_stage: u32,
    pub uri: String,
    /// `None`: it was already at that stage.
    pub signature: Option<String>,
}

/// What an evolve run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EvolveReport {
    pub collection: String,
    /// The chain's clock when the run ended.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub now: i64,
    pub evolved: Vec<Evolution>,
}

/// The project's collection on `chain`, read from the chain.
pub fn project_collection(project_root: &Path, chain: &Chain) -> Result<CollectionState, PipelineError> {
    let address = mint::collection_address(project_root, chain).ok_or_else(|| {
        PipelineError::NotReady(format!(
            "this project has no collection on {} yet: run `chrysalis publish --network {}` first",
            chain.label(),
            chain.label()
        ))
    })?;
    chain.collection(&address)?.ok_or_else(|| {
        PipelineError::NotReady(format!(
            "the collection {address} is not on {} (its creation never landed): run `chrysalis publish` again",
            chain.label()
        ))
    })
}

fn one(
    chain: &Chain,
    journal: &Journal<'_>,
    caller: &Keypair,
    collection: &Pubkey,
    index: u32,
    from: u32,
    to: u8,
) -> Result<Evolution, PipelineError> {
    let label = chain.label();
    let id = journal.begin_evolution(&label, index, from, u32::from(to))?;
    match chain.op("evolving", |l| client::evolve(l, caller, collection, index, to)) {
        Ok(o) => {
            let sig = o.signature.map(|s| s.to_string());
            journal.finish_evolution(id, "evolved", sig.as_deref(), None)?;
            Ok(Evolution {
                index,
                mint: o.mint.to_string(),
                from_stage: from,
                to_stage: u32::from(o.nft.stage),
                uri: o.nft.uri,
                signature: sig,
            })
        }
        Err(e) => {
            journal.finish_evolution(id, "failed", None, Some(&e.to_string()))?;
            Err(e)
        }
    }
}

/// Evolves every NFT whose next time stage is unlocked, until none is due.
pub fn evolve_due(
    project_root: &Path,
    chain: &Chain,
    journal: &Journal<'_>,
    caller: &Keypair,
    on_event: OnEvent<'_>,
    cancel: &CancelToken,
) -> Result<EvolveReport, PipelineError> {
    let state = project_collection(project_root, chain)?;
    let mut evolved = Vec::new();
    loop {
        cancel.check()?;
        let now = chain.now()?;
        let due = chain.op("finding due evolutions", |l| client::due_evolutions(l, &state, now))?;
        if due.is_empty() {
            break;
        }
        let total = due.len() as u64;
        for (k, d) in due.iter().enumerate() {
            cancel.check()?;
            let from = u32::from(d.to_stage).saturating_sub(1);
            let e = one(chain, journal, caller, &state.address, d.index, from, d.to_stage)?;
            on_event(
                &PipelineEvent::new(
                    Phase::Evolve,
                    k as u64 + 1,
                    total,
                    format!("#{} stage {} → {}", d.index, from, e.to_stage),
                )
                .item(d.index)
                .stage(e.to_stage),
            );
            evolved.push(e);
        }
    }
    Ok(EvolveReport { collection: state.address.to_string(), now: chain.now()?, evolved })
}

/// Evolves NFT `index` to `to_stage` (one stage at a time up to it), signed by `caller`.
#[allow(clippy::too_many_arguments)]
pub fn evolve_one(
    project_root: &Path,
    chain: &Chain,
    journal: &Journal<'_>,
    caller: &Keypair,
    index: u32,
    to_stage: u8,
    on_event: OnEvent<'_>,
    cancel: &CancelToken,
) -> Result<EvolveReport, PipelineError> {
    let state = project_collection(project_root, chain)?;
    if usize::from(to_stage) >= state.account.stages.len() {
        return Err(PipelineError::Invalid(format!(
            "stage {to_stage} does not exist: the collection has stages 0..{}",
            state.account.stages.len().saturating_sub(1)
        )));
    }
    let mint = chrysalis_chain::program::nft_mint_pda(&state.address, index);
    let nft = chain
        .nft(&mint)?
        .ok_or_else(|| PipelineError::Invalid(format!("NFT #{index} is not minted in collection {}", state.address)))?;
    let mut evolved = Vec::new();
    let mut stage = nft.stage;
    while stage < to_stage {
        cancel.check()?;
        let next = stage + 1;
        let e = one(chain, journal, caller, &state.address, index, u32::from(stage), next)?;
        on_event(
            &PipelineEvent::new(
                Phase::Evolve,
                u64::from(next),
                u64::from(to_stage),
                format!("#{index} → stage {next}"),
            )
            .item(index),
        );
        evolved.push(e);
        stage = next;
    }
    Ok(EvolveReport { collection: state.address.to_string(), now: chain.now()?, evolved })
}

/// Moves the sandbox clock forward by `duration` (`"7d"`, `"12h"`, `"30m"`, `"1w2d"`);
/// returns the new unix time.
pub fn warp(chain: &Chain, duration: &str, on_event: OnEvent<'_>) -> Result<i64, PipelineError> {
    let seconds = chrysalis_core::collection::spec::parse_duration(duration)
        .map_err(|e| PipelineError::Invalid(format!("duration {duration:?}: {e}")))?;
    if seconds <= 0 {
        return Err(PipelineError::Invalid(format!("warp needs a positive duration, got {duration:?}")));
    }
    let clock = chain.ledger().warp_forward(seconds).map_err(|e| match e {
        chrysalis_chain::LedgerError::Unsupported(m) => PipelineError::Network(m),
        other => other.into(),
    })?;
    on_event(&PipelineEvent::new(Phase::Warp, 1, 1, format!("clock moved {duration} forward")));
    Ok(clock.unix_timestamp)
}
