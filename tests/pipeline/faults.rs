//! Injected ledger faults during a publish and a royalty payment: timeouts, HTTP 429s,
//! transactions dropped before they land, answers lost after they landed, expired
//! blockhashes. The pipeline retries after reconciling with the chain, so nothing is minted,
//! added or paid twice, and the run still finishes.

use std::sync::Arc;
use std::time::Duration;

use chrysalis_chain::network::Network;
use chrysalis_chain::testkit::{FaultyLedger, LedgerFaults};
use chrysalis_chain::{Keypair, Ledger, Sandbox, Signer};
use chrysalis_core::CancelToken;
use chrysalis_pipeline::chain::Chain;
use chrysalis_pipeline::journal::Journal;
use chrysalis_pipeline::publish::{PublishOptions, publish_with_chain};
use chrysalis_pipeline::{Phase, PipelineEvent, royalties};
use chrysalis_tests::{SOL, artist, on_chain, project_with_spec, small_spec};

const ITEMS: u32 = 6;
const PRICE: u64 = SOL / 100;

/// A rotating set of faults, one set injected before each mint.
fn faults_for(k: u64) -> LedgerFaults {
    match k % 5 {
        0 => LedgerFaults { lost_responses: 1, ..Default::default() },
        1 => LedgerFaults { dropped_transactions: 1, timeouts: 1, ..Default::default() },
        2 => LedgerFaults { expired_blockhashes: 2, ..Default::default() },
        3 => LedgerFaults { rate_limited: 2, lost_responses: 1, ..Default::default() },
        _ => LedgerFaults { timeouts: 2, dropped_transactions: 1, lost_responses: 1, ..Default::default() },
    }
}

#[test]
fn faults_during_publish_and_payment_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let creator = Keypair::new().pubkey();
    let project = project_with_spec(dir.path(), &small_spec("Faulty", ITEMS, 2, 256, "0.01", &creator));
    let faulty = Arc::new(FaultyLedger::new(Sandbox::open(&dir.path().join("sandbox")).unwrap()));
    let mut chain = Chain::from_ledger(Network::Sandbox, Box::new(faulty.clone()));
    chain.backoff = Duration::from_millis(5);
    chain.attempts = 12;

    // Faults from the first chain call on (airdrop, collection, stages) ...
    faulty.set_faults(LedgerFaults {
        timeouts: 2,
        rate_limited: 1,
        lost_responses: 2,
        dropped_transactions: 1,
        expired_blockhashes: 1,
    });
    // ... and a fresh set before every mint.
    let mut mints_seen = 0u64;
    let report = {
        let mut on = |e: &PipelineEvent| {
            if e.phase == Phase::Mint {
                faulty.set_faults(faults_for(mints_seen));
                mints_seen += 1;
            }
        };
        publish_with_chain(&project, &PublishOptions::default(), None, &chain, &mut on, &CancelToken::new())
            .expect("publish finishes despite the faults")
    };
    assert_eq!(report.mints.len(), ITEMS as usize);
    assert!(mints_seen >= u64::from(ITEMS), "faults were injected around every mint");

    let buyer = artist(dir.path());
    drop(chain);
    drop(faulty);
    let c = on_chain(dir.path(), ITEMS, &buyer).unwrap();
    assert_eq!(c.minted, ITEMS, "each item counted once");
    assert_eq!(c.mint_accounts, (0..ITEMS).collect::<Vec<_>>());
    assert!(c.held.iter().all(|h| *h == 1), "one token per buyer account: {:?}", c.held);
    assert_eq!(c.stages, 2, "stages added once each");
    assert_eq!(c.vault_balance, c.vault_rent + u64::from(ITEMS) * PRICE, "each price paid once");

    // A royalty payment whose answer is lost, then one dropped, then one expired: paid once.
    let faulty = Arc::new(FaultyLedger::new(Sandbox::open(&dir.path().join("sandbox")).unwrap()));
    let mut chain = Chain::from_ledger(Network::Sandbox, Box::new(faulty.clone()));
    chain.backoff = Duration::from_millis(5);
    let wallet = chain.wallet(Some(dir.path()), None).unwrap();
    let journal = Journal::new(project.db());
    let vault_before = chain.balance(&c.collection_vault()).unwrap();
    for faults in [
        LedgerFaults { lost_responses: 1, ..Default::default() },
        LedgerFaults { dropped_transactions: 2, ..Default::default() },
        LedgerFaults { expired_blockhashes: 1, timeouts: 1, ..Default::default() },
    ] {
        faulty.set_faults(faults);
        royalties::royalties(dir.path(), &chain, &journal, &wallet, Some(SOL / 10), false, &mut |_| {}).unwrap();
    }
    let vault_after = chain.balance(&c.collection_vault()).unwrap();
    assert_eq!(vault_after - vault_before, 3 * SOL / 10, "three payments, each landed exactly once");

    // Distribution with a lost answer pays the creator what is owed, once.
    faulty.set_faults(LedgerFaults { lost_responses: 1, ..Default::default() });
    let r = royalties::royalties(dir.path(), &chain, &journal, &wallet, None, true, &mut |_| {}).unwrap();
    let creator_balance = faulty.inner().balance(&creator).unwrap();
    assert_eq!(creator_balance, u64::from(ITEMS) * PRICE + 3 * SOL / 10, "creator paid once: {r:?}");
}

trait VaultOf {
    fn collection_vault(&self) -> chrysalis_chain::Pubkey;
}

impl VaultOf for chrysalis_tests::OnChain {
    fn collection_vault(&self) -> chrysalis_chain::Pubkey {
        chrysalis_chain::program::vault_pda(&self.collection)
    }
}
