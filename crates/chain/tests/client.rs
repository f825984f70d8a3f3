//! The typed client (`chrysalis_chain::client`) against the in-process sandbox: every
//! instruction through the builders, idempotent re-runs, readers, cost estimates, and the
//! client's reconciliation under ledger faults (`FaultyLedger`, feature `testkit`).

use chrysalis::errors::ChrysalisError;
use chrysalis::merkle::ItemTree;
use chrysalis::state::{CreatorShare, Stage, UnlockRule};
use chrysalis_chain::client::{self, ChainError, program_error};
use chrysalis_chain::program::{self, CollectionArgs};
use chrysalis_chain::{Keypair, Ledger, Pubkey, Sandbox, Signer};

const SOL: u64 = 1_000_000_000;
const PRICE: u64 = SOL / 10;

fn stage(rule: UnlockRule, n: u8) -> Stage {
    Stage { rule, base_uri: format!("ipfs://bafystage{n}/"), content_root: [n; 32] }
}

/// Stage 0, then one unlocking an hour after the mint, one the holder triggers, one the
/// collection authority triggers.
fn stages() -> Vec<Stage> {
    vec![
        stage(UnlockRule::At(0), 0),
        stage(UnlockRule::AfterMint(3600), 1),
        stage(UnlockRule::OwnerTrigger, 2),
        stage(UnlockRule::CreatorTrigger, 3),
    ]
}

fn args(creators: &[Pubkey]) -> CollectionArgs {
    CollectionArgs {
        name: "Moths".into(),
        symbol: "MOTH".into(),
        uri: "ipfs://bafycollection/collection.json".into(),
        creators: vec![
            CreatorShare { address: creators[0], share_bps: 7_000 },
            CreatorShare { address: creators[1], share_bps: 3_000 },
        ],
        royalty_bps: 500,
        price: PRICE,
        max_supply: 5,
    }
}

fn funded(ledger: &dyn Ledger, lamports: u64) -> Keypair {
    let k = Keypair::new();
    ledger.airdrop(&k.pubkey(), lamports).unwrap();
    k
}

struct Setup {
    authority: Keypair,
    group: Keypair,
    creators: Vec<Pubkey>,
    collection: Pubkey,
}

fn setup(ledger: &dyn Ledger) -> Setup {
    let authority = funded(ledger, 2 * SOL);
    let group = Keypair::new();
    let creators = vec![Keypair::new().pubkey(), Keypair::new().pubkey()];
    let created = client::create_collection(ledger, &authority, &group, &args(&creators)).unwrap();
    assert!(created.signature.is_some());
    let sent = client::ensure_stages(ledger, &authority, &created.collection, &stages()).unwrap();
    assert_eq!(sent.len(), 4);
    let root = items().root();
    assert!(client::commit_items(ledger, &authority, &created.collection, root).unwrap().is_some());
    assert_eq!(client::commit_items(ledger, &authority, &created.collection, root).unwrap(), None, "idempotent");
    Setup { authority, group, creators, collection: created.collection }
}

fn recipe(i: u32) -> [u8; 32] {
    let mut r = [0xAB; 32];
    r[..4].copy_from_slice(&i.to_le_bytes());
    r
}

/// The item table every test collection commits: `recipe(i)` for its 5 indices.
fn items() -> ItemTree {
    ItemTree::new(&(0..5).map(recipe).collect::<Vec<_>>()).unwrap()
}

/// The proof of index `i` (empty out of range).
fn proof(i: u32) -> Vec<[u8; 32]> {
    items().proof(i).unwrap_or_default()
}

#[test]
fn create_collection_and_stages_are_idempotent_and_read_back() {
    let sb = Sandbox::new().unwrap();
    let s = setup(&sb);

    // Re-runs send nothing.
    let again = client::create_collection(&sb, &s.authority, &s.group, &args(&s.creators)).unwrap();
    assert_eq!(again.signature, None);
    assert_eq!(again.collection, s.collection);
    assert!(client::ensure_stages(&sb, &s.authority, &s.collection, &stages()).unwrap().is_empty());

    // Different parameters for the same group mint: refused, saying what differs.
    let mut other = args(&s.creators);
    other.price = 1;
    let err = client::create_collection(&sb, &s.authority, &s.group, &other).unwrap_err();
    assert!(matches!(err, ChainError::CollectionMismatch { .. }), "{err}");
    assert!(err.to_string().contains("price"), "{err}");
    let err = client::add_stage(&sb, &s.authority, &s.collection, 1, &stage(UnlockRule::At(5), 9)).unwrap_err();
    assert!(matches!(err, ChainError::StageConflict { number: 1, .. }), "{err}");
    let err = client::add_stage(&sb, &s.authority, &s.collection, 6, &stage(UnlockRule::At(5), 9)).unwrap_err();
    assert!(err.to_string().contains("earlier ones first"), "{err}");

    // The reader decodes what was written.
    let c = client::fetch_collection(&sb, &s.collection).unwrap().unwrap();
    assert_eq!(c.account.authority, s.authority.pubkey());
    assert_eq!(c.account.group_mint, s.group.pubkey());
    assert_eq!(c.account.name, "Moths");
    assert_eq!(c.account.price, PRICE);
    assert_eq!(c.account.max_supply, 5);
    assert_eq!(c.account.minted, 0);
    assert_eq!(c.account.stages, stages());
    assert_eq!(c.creator_wallets(), s.creators);
    assert_eq!(c.vault, program::vault_pda(&s.collection));
    let rent = client::rent(&sb).unwrap();
    assert_eq!(c.vault_balance, rent.minimum_balance(0));
    assert!(client::fetch_collection(&sb, &Pubkey::new_unique()).unwrap().is_none());
    // A non-collection account is refused by name.
    let err = client::fetch_collection(&sb, &s.group.pubkey()).unwrap_err();
    assert!(matches!(err, ChainError::Decode { .. }), "{err}");
}

#[test]
fn collection_cost_estimate_matches_what_the_authority_paid() {
    let sb = Sandbox::new().unwrap();
    let authority = funded(&sb, 2 * SOL);
    let group = Keypair::new();
    let creators = [Keypair::new().pubkey(), Keypair::new().pubkey()];
    let a = args(&creators);
    let est = client::estimate_collection_cost(&sb, &group.pubkey(), &a).unwrap();
    let before = sb.balance(&authority.pubkey()).unwrap();
    client::create_collection(&sb, &authority, &group, &a).unwrap();
    let paid = before - sb.balance(&authority.pubkey()).unwrap();
    assert_eq!(paid, est.total, "estimate {est:?}");
}

#[test]
fn mint_evolve_distribute_with_idempotent_reruns() {
    let sb = Sandbox::new().unwrap();
    let s = setup(&sb);
    let buyer = funded(&sb, 2 * SOL);
    let buyer2 = funded(&sb, 2 * SOL);
    let state = client::fetch_collection(&sb, &s.collection).unwrap().unwrap();

    // Mint #0, and check the estimate against the balance change.
    let est = client::estimate_mint_cost(&sb, &state, 0).unwrap();
    let before = sb.balance(&buyer.pubkey()).unwrap();
    let m0 = client::mint_nft(&sb, &buyer, &s.collection, 0, recipe(0), &proof(0), false).unwrap();
    let paid = before - sb.balance(&buyer.pubkey()).unwrap();
    assert!(m0.signature.is_some());
    assert_eq!(est.price, PRICE);
    assert!(paid.abs_diff(est.rent + est.price) <= est.fees && paid <= est.total, "paid {paid}, estimate {est:?}");
    assert_eq!(paid, est.total, "the estimate is exact in the sandbox");

    // The NFT reads back with everything the program wrote.
    let nft = &m0.nft;
    assert_eq!(nft.mint, program::nft_mint_pda(&s.collection, 0));
    assert_eq!(nft.name, "Moths #1", "counted from 1, as the metadata JSON names it");
    assert_eq!(nft.symbol, "MOTH");
    assert_eq!(nft.uri, "ipfs://bafystage0/0.json");
    assert_eq!(nft.stage, 0);
    assert_eq!(nft.recipe, client::recipe_hex(&recipe(0)));
    assert_eq!(nft.collection_group_mint, Some(s.group.pubkey()));
    assert_eq!(nft.group, Some(s.group.pubkey()));
    assert_eq!(nft.member_number, Some(1));
    assert_eq!(nft.supply, 1);
    assert_eq!(nft.update_authority, Some(s.collection));
    let now = sb.now().unwrap();
    assert!(nft.minted_at.is_some_and(|t| (t - now).abs() < 5));
    assert_eq!(client::nft_amount_held(&sb, &nft.mint, &buyer.pubkey()).unwrap(), 1);
    assert_eq!(client::nft_amount_held(&sb, &nft.mint, &buyer2.pubkey()).unwrap(), 0);
    assert_eq!(client::find_nft_index(&s.collection, &nft.mint, 5), Some(0));
    assert_eq!(client::find_nft_index(&s.collection, &Pubkey::new_unique(), 5), None);

    // Re-minting #0: nothing sent, nothing paid; another recipe for #0 is refused.
    let balance = sb.balance(&buyer.pubkey()).unwrap();
    let again = client::mint_nft(&sb, &buyer, &s.collection, 0, recipe(0), &proof(0), false).unwrap();
    assert_eq!(again.signature, None);
    assert_eq!(again.nft, m0.nft);
    assert_eq!(sb.balance(&buyer.pubkey()).unwrap(), balance);
    let err = client::mint_nft(&sb, &buyer, &s.collection, 0, recipe(9), &proof(0), false).unwrap_err();
    assert!(matches!(err, ChainError::RecipeMismatch { index: 0, .. }), "{err}");
    let err = client::mint_nft(&sb, &buyer, &s.collection, 5, recipe(5), &proof(5), false).unwrap_err();
    assert!(matches!(err, ChainError::IndexOutOfRange { .. }), "{err}");
    // Items go out in order: #3 before #1 is refused before anything is sent.
    let err = client::mint_nft(&sb, &buyer, &s.collection, 3, recipe(3), &proof(3), false).unwrap_err();
    assert!(matches!(err, ChainError::NotNextIndex { index: 3, next: 1, .. }), "{err}");
    assert!(err.to_string().contains("next index is 1"), "{err}");
    // The item table is locked once something is minted.
    let err = client::commit_items(&sb, &s.authority, &s.collection, [7; 32]).unwrap_err();
    assert!(matches!(err, ChainError::ItemsConflict { .. }), "{err}");

    // #1 unpaid too; distribute pays both prices out, once.
    client::mint_nft(&sb, &buyer, &s.collection, 1, recipe(1), &proof(1), false).unwrap();
    let before: Vec<u64> = s.creators.iter().map(|c| sb.balance(c).unwrap()).collect();
    let d = client::distribute_royalties(&sb, &buyer2, &s.collection).unwrap();
    assert!(d.signature.is_some());
    assert_eq!(d.paid, 2 * PRICE);
    assert_eq!(d.still_owed, 0);
    let after: Vec<u64> = s.creators.iter().map(|c| sb.balance(c).unwrap()).collect();
    assert_eq!(after[0] - before[0], 2 * PRICE * 7 / 10);
    assert_eq!(after[1] - before[1], 2 * PRICE * 3 / 10);
    let again = client::distribute_royalties(&sb, &buyer2, &s.collection).unwrap();
    assert_eq!(again.signature, None);
    assert_eq!(again.paid, 0);
    let again_balances: Vec<u64> = s.creators.iter().map(|c| sb.balance(c).unwrap()).collect();
    assert_eq!(again_balances, after, "no double payment");

    // #2 paid to the creators in the mint transaction itself.
    client::mint_nft(&sb, &buyer2, &s.collection, 2, recipe(2), &proof(2), true).unwrap();
    let paid_now: Vec<u64> = s.creators.iter().map(|c| sb.balance(c).unwrap()).collect();
    assert_eq!(paid_now[0] - after[0], PRICE * 7 / 10);
    assert_eq!(paid_now[1] - after[1], PRICE * 3 / 10);
    let state = client::fetch_collection(&sb, &s.collection).unwrap().unwrap();
    assert_eq!(state.account.minted, 3);
    assert_eq!(state.total_owed(), 0);

    // Nothing is due before the hour; everything after it.
    let now = sb.now().unwrap();
    assert!(client::due_evolutions(&sb, &state, now).unwrap().is_empty());
    let err = client::evolve(&sb, &buyer2, &s.collection, 0, 1).unwrap_err();
    assert!(matches!(program_error(&err), Some(ChrysalisError::StageNotUnlocked)), "{err}");
    sb.warp_forward(3601).unwrap();
    let now = sb.now().unwrap();
    let due = client::due_evolutions(&sb, &state, now).unwrap();
    assert_eq!(due.iter().map(|d| (d.index, d.to_stage)).collect::<Vec<_>>(), vec![(0, 1), (1, 1), (2, 1)]);
    assert!(due.iter().all(|d| d.rule == UnlockRule::AfterMint(3600)));

    // A time stage: anyone may evolve; a re-run sends nothing.
    let stranger = funded(&sb, SOL);
    let e = client::evolve(&sb, &stranger, &s.collection, 0, 1).unwrap();
    assert!(e.signature.is_some());
    assert_eq!(e.nft.stage, 1);
    assert_eq!(e.nft.uri, "ipfs://bafystage1/0.json");
    assert_eq!(client::evolve(&sb, &stranger, &s.collection, 0, 1).unwrap().signature, None);
    let due = client::due_evolutions(&sb, &state, now).unwrap();
    assert_eq!(due.iter().map(|d| d.index).collect::<Vec<_>>(), vec![1, 2]);

    // Owner trigger: refused for a stranger, done by the holder.
    let err = client::evolve(&sb, &stranger, &s.collection, 0, 2).unwrap_err();
    assert!(matches!(program_error(&err), Some(ChrysalisError::NotOwner)), "{err}");
    assert!(err.to_string().contains("owner"), "{err}");
    let e = client::evolve(&sb, &buyer, &s.collection, 0, 2).unwrap();
    assert_eq!(e.nft.stage, 2);

    // Creator trigger: refused for the holder, done by the authority.
    let err = client::evolve(&sb, &buyer, &s.collection, 0, 3).unwrap_err();
    assert!(matches!(program_error(&err), Some(ChrysalisError::NotCollectionAuthority)), "{err}");
    let e = client::evolve(&sb, &s.authority, &s.collection, 0, 3).unwrap();
    assert_eq!(e.nft.stage, 3);
    assert_eq!(e.nft.uri, "ipfs://bafystage3/0.json");

    // Skipping a stage is refused before anything is sent.
    let err = client::evolve(&sb, &s.authority, &s.collection, 1, 3).unwrap_err();
    assert!(matches!(err, ChainError::StageConflict { .. }), "{err}");
    let err = client::evolve(&sb, &s.authority, &s.collection, 4, 1).unwrap_err();
    assert!(matches!(err, ChainError::NftNotFound { index: 4, .. }), "{err}");
}

#[test]
fn a_wallet_without_enough_sol_is_told_what_to_do() {
    let sb = Sandbox::new().unwrap();
    let s = setup(&sb);
    let poor = funded(&sb, 1_000_000);
    let err = client::mint_nft(&sb, &poor, &s.collection, 0, recipe(0), &proof(0), false).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ChainError::InsufficientFunds { .. }), "{text}");
    assert!(
        text.contains(&poor.pubkey().to_string()) && text.contains("0.001 SOL") && text.contains("airdrop"),
        "{text}"
    );
    assert_eq!(client::sol(7_800_000), "0.0078");
    assert_eq!(client::sol(2 * SOL), "2");
}

#[test]
fn authority_handover_and_closing_an_empty_collection() {
    let sb = Sandbox::new().unwrap();
    let s = setup(&sb);
    let next = funded(&sb, SOL);
    let sig = client::update_authority(&sb, &s.authority, &next, &s.collection).unwrap();
    assert!(sig.is_some());
    assert_eq!(client::update_authority(&sb, &s.authority, &next, &s.collection).unwrap(), None);
    let c = client::fetch_collection(&sb, &s.collection).unwrap().unwrap();
    assert_eq!(c.account.authority, next.pubkey());
    // The old authority can no longer close it; the new one can.
    let err = client::close_collection(&sb, &s.authority, &s.collection).unwrap_err();
    assert!(matches!(program_error(&err), Some(ChrysalisError::NotCollectionAuthority)), "{err}");
    let before = sb.balance(&next.pubkey()).unwrap();
    assert!(client::close_collection(&sb, &next, &s.collection).unwrap().is_some());
    assert!(sb.balance(&next.pubkey()).unwrap() > before);
    assert!(client::fetch_collection(&sb, &s.collection).unwrap().is_none());
    assert_eq!(client::close_collection(&sb, &next, &s.collection).unwrap(), None);
    // Its group mint stays behind: re-creating with the same keypair is refused clearly.
    let err = client::create_collection(&sb, &next, &s.group, &args(&s.creators)).unwrap_err();
    assert!(matches!(err, ChainError::GroupMintInUse(_)), "{err}");
    assert!(err.to_string().contains("new group mint keypair"), "{err}");
}

#[test]
fn connect_gives_the_sandbox_or_an_rpc_ledger() {
    use chrysalis_chain::{Network, RpcOptions, connect};
    let dir = tempfile::tempdir().unwrap();
    let ledger = connect(&Network::Sandbox, dir.path(), RpcOptions::default()).unwrap();
    assert!(ledger.name().starts_with("sandbox"), "{}", ledger.name());
    let wallet = Keypair::new().pubkey();
    ledger.airdrop(&wallet, SOL).unwrap();
    assert_eq!(ledger.balance(&wallet).unwrap(), SOL);
    let clock = ledger.warp_forward(60).unwrap();
    assert_eq!(ledger.now().unwrap(), clock.unix_timestamp);
    // The boxed ledger serves the client functions directly.
    assert!(client::fetch_collection(ledger.as_ref(), &Pubkey::new_unique()).unwrap().is_none());
    drop(ledger);
    assert!(dir.path().join(chrysalis_chain::sandbox::STATE_FILE).exists());

    let rpc = connect(&"devnet".parse().unwrap(), dir.path(), RpcOptions::default()).unwrap();
    assert_eq!(rpc.name(), "rpc https://api.devnet.solana.com");
    // Nothing is contacted yet; only the sandbox can warp its clock.
    let err = rpc.warp_forward(10).unwrap_err();
    assert!(err.to_string().contains("only available in the sandbox"), "{err}");
}

#[cfg(feature = "testkit")]
mod faults {
    use super::*;
    use chrysalis_chain::LedgerError;
    use chrysalis_chain::testkit::{FaultyLedger, LedgerFaults};

    /// Mints #0..#2 through a ledger that drops, loses, expires and times out; re-running
    /// each failed operation (as the pipeline does) never mints or charges twice.
    #[test]
    fn ledger_faults_never_mint_or_charge_twice() {
        let sb = Sandbox::new().unwrap();
        let s = setup(&sb);
        let buyer = funded(&sb, 2 * SOL);
        let state = client::fetch_collection(&sb, &s.collection).unwrap().unwrap();
        let cost = client::estimate_mint_cost(&sb, &state, 0).unwrap();
        let faulty = FaultyLedger::new(&sb);
        let start = sb.balance(&buyer.pubkey()).unwrap();

        let scenarios = [
            LedgerFaults { lost_responses: 1, ..Default::default() },
            LedgerFaults { dropped_transactions: 1, ..Default::default() },
            LedgerFaults { expired_blockhashes: 1, timeouts: 1, rate_limited: 1, ..Default::default() },
        ];
        for (index, faults) in (0u32..).zip(scenarios) {
            faulty.set_faults(faults);
            let mut attempts = 0;
            let outcome = loop {
                attempts += 1;
                match client::mint_nft(&faulty, &buyer, &s.collection, index, recipe(index), &proof(index), false) {
                    Ok(o) => break o,
                    Err(ChainError::Ledger(e)) => {
                        assert!(e.is_transient(), "{e}");
                        assert!(attempts < 10, "never succeeded: {e}");
                    }
                    Err(e) => panic!("unexpected error: {e}"),
                }
            };
            assert_eq!(outcome.nft.stage, 0);
            assert_eq!(outcome.nft.recipe, client::recipe_hex(&recipe(index)));
        }
        let c = client::fetch_collection(&sb, &s.collection).unwrap().unwrap();
        assert_eq!(c.account.minted, 3);
        let rent = client::rent(&sb).unwrap();
        assert_eq!(c.vault_balance, rent.minimum_balance(0) + 3 * PRICE);
        // Exactly three mints' worth left the buyer: no price, rent or fee paid twice.
        assert_eq!(start - sb.balance(&buyer.pubkey()).unwrap(), 3 * cost.total);
        assert_eq!(faulty.transactions_forwarded(), 3);

        // A lost answer is reconciled within the same call (the mint is found on chain).
        faulty.set_faults(LedgerFaults { lost_responses: 1, ..Default::default() });
        let o = client::mint_nft(&faulty, &buyer, &s.collection, 3, recipe(3), &proof(3), false).unwrap();
        assert_eq!(o.signature, None);
        assert_eq!(o.nft.stage, 0);

        // A distribution whose answer is lost is not paid again on the re-run.
        faulty.set_faults(LedgerFaults { lost_responses: 1, ..Default::default() });
        let before: Vec<u64> = s.creators.iter().map(|c| sb.balance(c).unwrap()).collect();
        let err = client::distribute_royalties(&faulty, &buyer, &s.collection).unwrap_err();
        assert!(matches!(err, ChainError::Ledger(LedgerError::Unconfirmed { .. })), "{err}");
        let rerun = client::distribute_royalties(&faulty, &buyer, &s.collection).unwrap();
        assert_eq!(rerun.signature, None);
        let after: Vec<u64> = s.creators.iter().map(|c| sb.balance(c).unwrap()).collect();
        assert_eq!(after[0] - before[0], 4 * PRICE * 7 / 10);
        assert_eq!(after[1] - before[1], 4 * PRICE * 3 / 10);
    }
}
