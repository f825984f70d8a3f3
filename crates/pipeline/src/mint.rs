//! Steps 5 and 6, **collection** and **mint**, on any [`Chain`].
//!
//! Each change goes through `chrysalis_chain::client`, which reads the chain first: a
//! collection PDA that exists is compared with what the project asks (and returned), a stage
//! already on chain must equal the project's (else the run stops: stages cannot change), and
//! an index whose mint PDA exists is minted (nothing is paid again). The journal row is
//! written `sending` before and `created`/`added`/`minted` after each change; a row left at
//! `sending` by a kill is settled by the next run's reading of the chain.
//!
//! The collection's group mint keypair is made under `<project>/keys/` before
//! `create_collection` is sent, so a rerun signs with the same key and finds the same PDA.

use chrysalis::merkle::ItemTree;
use std::path::Path;

use chrysalis::state::{Stage, UnlockRule};
use chrysalis_chain::client::{self, CollectionState};
use chrysalis_chain::program::{self, CollectionArgs, CreatorShare};
use chrysalis_chain::{Keypair, Pubkey, Signer};
use chrysalis_core::CancelToken;
use chrysalis_core::collection::plan::UnlockPlan;
use serde::{Deserialize, Serialize};

use super::chain::Chain;
use super::generate::StageOutput;
use super::journal::{CollectionRow, Journal};
use super::plan::Planned;
use super::{OnEvent, Phase, PipelineError, PipelineEvent, keys};

/// The collection on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CollectionReport {
    pub network: String,
    pub collection: String,
    pub group_mint: String,
    pub vault: String,
    pub authority: String,
    pub uri: String,
    /// Whether `create_collection` was sent in this run (false: found on chain).
    pub created_now: bool,
    /// Stages added in this run.
    pub stages_added_now: u32,
}

/// One minted item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MintLine {
    pub index: u32,
    pub mint: String,
    pub stage: u32,
    pub uri: String,
    pub recipe: String,
    /// `None`: already minted before this run.
    pub signature: Option<String>,
}

/// The on-chain unlock rule of a planned stage (stage 0's rule is ignored by the program).
pub fn unlock_rule(u: &UnlockPlan) -> UnlockRule {
    match *u {
        UnlockPlan::Mint => UnlockRule::AfterMint(0),
        UnlockPlan::At { unix } => UnlockRule::At(unix),
        UnlockPlan::AfterMint { seconds } => UnlockRule::AfterMint(seconds),
        UnlockPlan::Owner => UnlockRule::OwnerTrigger,
        UnlockPlan::Creator => UnlockRule::CreatorTrigger,
    }
}

/// The on-chain stages of a planned, published collection.
pub fn chain_stages(planned: &Planned, outputs: &[StageOutput]) -> Vec<Stage> {
    planned
        .plan
        .stages
        .iter()
        .zip(outputs)
        .map(|(p, o)| Stage {
            rule: unlock_rule(&p.unlock),
            base_uri: o.base_uri.clone(),
            content_root: o.content_root_bytes(),
        })
        .collect()
}

/// The collection's address on the chain's network, from the project's group mint key.
pub fn collection_address(project_root: &Path, chain: &Chain) -> Option<Pubkey> {
    keys::pubkey_of(&keys::key_path(project_root, &keys::group_mint_file(&chain.label())))
        .map(|g| program::collection_pda(&g))
}

/// A rough upper bound of what publishing `items` costs the wallet (rent + fees + prices),
/// used to airdrop enough in the sandbox and to refuse early elsewhere.
pub fn budget(items: u64, price: u64) -> u64 {
    const COLLECTION: u64 = 50_000_000; // collection + vault + group mint rent, 8 stages, fees
    const PER_MINT: u64 = 12_000_000; // mint + token account rent (~7.8 M) and fees, with margin
    COLLECTION + items * (PER_MINT + price)
}

/// Refuses, before the collection is created, a creator whose address is a program or an
/// account some program owns: lamports sent there are locked (a program's cannot even be
/// credited), so such a creator would never see their share. The program itself refuses
/// the runtime's reserved addresses; these two it cannot tell from the address alone.
fn check_creators_are_wallets(chain: &Chain, creators: &[(Pubkey, u16)]) -> Result<(), PipelineError> {
    for (address, _) in creators {
        if let Some(account) = chain.account(address)? {
            let why = if account.executable {
                Some("is a program".to_string())
            } else if account.owner != chrysalis_chain::program::SYSTEM_PROGRAM_ID {
                Some(format!("is an account owned by the program {}", account.owner))
            } else {
                None
            };
            if let Some(why) = why {
                return Err(PipelineError::Invalid(format!(
                    "creator {address} {why}: mint proceeds and royalties sent there could never be spent. Put a wallet's address in collection.toml"
                )));
            }
        }
    }
    Ok(())
}

/// Step 5: the collection and its stages, created where missing.
#[allow(clippy::too_many_arguments)]
pub fn ensure_collection(
    project_root: &Path,
    chain: &Chain,
    journal: &Journal<'_>,
    planned: &Planned,
    outputs: &[StageOutput],
    tree: &ItemTree,
    wallet: &Keypair,
    creators: &[(Pubkey, u16)],
    uri: &str,
    on_event: OnEvent<'_>,
    cancel: &CancelToken,
) -> Result<(CollectionReport, CollectionState), PipelineError> {
    let label = chain.label();
    check_creators_are_wallets(chain, creators)?;
    let group = keys::load_or_create(&keys::key_path(project_root, &keys::group_mint_file(&label)))?;
    let collection = program::collection_pda(&group.pubkey());
    let args = CollectionArgs {
        name: planned.spec.name.clone(),
        symbol: planned.spec.symbol.clone(),
        uri: uri.to_string(),
        creators: creators.iter().map(|(a, s)| CreatorShare { address: *a, share_bps: *s }).collect(),
        royalty_bps: u16::try_from(planned.spec.royalty_bps).unwrap_or(u16::MAX),
        price: planned.plan.price_lamports,
        max_supply: planned.plan.items.len() as u32,
    };
    let stages = chain_stages(planned, outputs);
    let total = 2 + stages.len() as u64;
    on_event(&PipelineEvent::new(Phase::Collection, 0, total, format!("collection {collection} on {label}")));
    journal.begin_collection(&CollectionRow {
        network: label.clone(),
        group_mint: group.pubkey().to_string(),
        collection: collection.to_string(),
        authority: wallet.pubkey().to_string(),
        spec_sha256: planned.spec_sha256.clone(),
        uri: uri.to_string(),
        status: "sending".into(),
        signature: None,
    })?;
    journal.record_collection_spec(&label, &planned.spec_text)?;
    cancel.check()?;
    let created = chain.op("creating the collection", |l| client::create_collection(l, wallet, &group, &args))?;
    journal.finish_collection(&label, created.signature.map(|s| s.to_string()).as_deref())?;
    on_event(&PipelineEvent::new(
        Phase::Collection,
        1,
        total,
        if created.signature.is_some() { "collection created" } else { "collection already on chain" },
    ));
    let mut added = 0;
    for (n, stage) in stages.iter().enumerate() {
        cancel.check()?;
        let number = n as u8;
        journal.begin_stage(&label, n as u32, &stage.base_uri, &hex::encode(stage.content_root))?;
        let sig = chain.op("adding a stage", |l| client::add_stage(l, wallet, &collection, number, stage))?;
        journal.finish_stage(&label, n as u32, sig.map(|s| s.to_string()).as_deref())?;
        added += u32::from(sig.is_some());
        on_event(
            &PipelineEvent::new(
                Phase::Collection,
                2 + n as u64,
                total,
                format!("stage {n} {} ({})", if sig.is_some() { "added" } else { "already on chain" }, stage.base_uri),
            )
            .stage(n as u32),
        );
    }
    // The item table, fixed before the first mint (idempotent: read first, sent when missing).
    cancel.check()?;
    let root = tree.root();
    let sig = chain.op("committing the items", |l| client::commit_items(l, wallet, &collection, root))?;
    on_event(&PipelineEvent::new(
        Phase::Collection,
        total,
        total,
        format!(
            "item table {} ({} items, root {})",
            if sig.is_some() { "committed" } else { "already on chain" },
            tree.len(),
            &hex::encode(root)[..16]
        ),
    ));
    let state = chain
        .collection(&collection)?
        .ok_or_else(|| PipelineError::NotReady(format!("collection {collection} vanished from {label}")))?;
    let report = CollectionReport {
        network: label,
        collection: collection.to_string(),
        group_mint: group.pubkey().to_string(),
        vault: state.vault.to_string(),
        authority: state.account.authority.to_string(),
        uri: uri.to_string(),
        created_now: created.signature.is_some(),
        stages_added_now: added,
    };
    Ok((report, state))
}

/// Step 6: every planned item minted once, in index order (the program assigns indices in
/// order), to `buyer`, at stage 0 with its stage-0 recipe hash and its proof against the
/// committed item table. The price stays in the vault (split and owed to the creators) until
/// `distribute_royalties`.
#[allow(clippy::too_many_arguments)]
pub fn mint_all(
    chain: &Chain,
    journal: &Journal<'_>,
    planned: &Planned,
    project_root: &Path,
    collection: &Pubkey,
    tree: &ItemTree,
    buyer: &Keypair,
    on_event: OnEvent<'_>,
    cancel: &CancelToken,
) -> Result<Vec<MintLine>, PipelineError> {
    let label = chain.label();
    let total = planned.plan.items.len() as u64;
    let mut lines = Vec::new();
    on_event(&PipelineEvent::new(Phase::Mint, 0, total, "minting"));
    for (k, item) in planned.plan.items.iter().enumerate() {
        cancel.check()?;
        let recipe = super::generate::published_recipe(project_root, item, 0)?;
        let hash = recipe.hash().0;
        let mint = program::nft_mint_pda(collection, item.index);
        journal.begin_mint(&label, item.index, &mint.to_string(), &buyer.pubkey().to_string(), &hex::encode(hash))?;
        let proof = tree.proof(item.index).ok_or_else(|| {
            PipelineError::Invalid(format!(
                "the item table has no item #{}: it was built from another plan",
                item.index
            ))
        })?;
        let outcome =
            match chain.op("minting", |l| client::mint_nft(l, buyer, collection, item.index, hash, &proof, false)) {
                Ok(o) => o,
                Err(e) => {
                    journal.fail_mint(&label, item.index, &e.to_string())?;
                    return Err(e);
                }
            };
        let sig = outcome.signature.map(|s| s.to_string());
        journal.finish_mint(
            &label,
            item.index,
            &mint.to_string(),
            &buyer.pubkey().to_string(),
            &hex::encode(hash),
            sig.as_deref(),
        )?;
        on_event(
            &PipelineEvent::new(
                Phase::Mint,
                k as u64 + 1,
                total,
                format!("#{} {} {mint}", item.index, if sig.is_some() { "minted" } else { "already minted" }),
            )
            .item(item.index),
        );
        lines.push(MintLine {
            index: item.index,
            mint: mint.to_string(),
            stage: u32::from(outcome.nft.stage),
            uri: outcome.nft.uri.clone(),
            recipe: outcome.nft.recipe.clone(),
            signature: sig,
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_unlocks_map_onto_the_program_rules() {
        assert_eq!(unlock_rule(&UnlockPlan::Mint), UnlockRule::AfterMint(0));
        assert_eq!(unlock_rule(&UnlockPlan::At { unix: 1_800_000_000 }), UnlockRule::At(1_800_000_000));
        assert_eq!(unlock_rule(&UnlockPlan::AfterMint { seconds: 86_400 }), UnlockRule::AfterMint(86_400));
        assert_eq!(unlock_rule(&UnlockPlan::Owner), UnlockRule::OwnerTrigger);
        assert_eq!(unlock_rule(&UnlockPlan::Creator), UnlockRule::CreatorTrigger);
    }

    #[test]
    fn the_budget_covers_the_prices() {
        assert!(budget(12, 100_000_000) > 12 * 100_000_000 + 12 * 7_800_000);
    }
}
