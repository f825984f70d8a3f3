//! `RpcLedger` against the test kit's `RpcServer` (a JSON-RPC server backed by a sandbox),
//! one injected fault kind per test: every mint lands exactly once and the buyer pays once.

use chrysalis::merkle::ItemTree;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrysalis::errors::ChrysalisError;
use chrysalis::state::{CreatorShare, Stage, UnlockRule};
use chrysalis_chain::client::{self, ChainError, program_error};
use chrysalis_chain::program::CollectionArgs;
use chrysalis_chain::testkit::RpcServer;
use chrysalis_chain::{Keypair, Ledger, LedgerError, Pubkey, RpcLedger, RpcOptions, Sandbox, Signer};

const SOL: u64 = 1_000_000_000;
const PRICE: u64 = SOL / 20;

/// Short timeouts so that faults play out in well under a second each.
fn fast_options() -> RpcOptions {
    RpcOptions {
        max_requests_per_second: None,
        max_retries: 4,
        confirm_timeout: Duration::from_secs(30),
        request_timeout: Duration::from_millis(700),
        poll_interval: Duration::from_millis(20),
        resend_interval: Duration::from_millis(200),
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(200),
        ..RpcOptions::default()
    }
}

struct World {
    server: RpcServer,
    rpc: RpcLedger,
    buyer: Keypair,
    collection: Pubkey,
}

/// A collection (set up directly in the sandbox) and a funded buyer, behind a server.
fn world(options: RpcOptions) -> World {
    let sandbox = Arc::new(Sandbox::new().unwrap());
    let sb: &Sandbox = &sandbox;
    let authority = Keypair::new();
    sb.airdrop(&authority.pubkey(), 2 * SOL).unwrap();
    let group = Keypair::new();
    let args = CollectionArgs {
        name: "Moths".into(),
        symbol: "MOTH".into(),
        uri: "ipfs://bafycollection/c.json".into(),
        creators: vec![
            CreatorShare { address: Keypair::new().pubkey(), share_bps: 6_000 },
            CreatorShare { address: Keypair::new().pubkey(), share_bps: 4_000 },
        ],
        royalty_bps: 500,
        price: PRICE,
        max_supply: 10,
    };
    let collection = client::create_collection(sb, &authority, &group, &args).unwrap().collection;
    let stages = [UnlockRule::At(0), UnlockRule::OwnerTrigger].map(|rule| Stage {
        rule,
        base_uri: "ipfs://bafystage/".into(),
        content_root: [1; 32],
    });
    client::ensure_stages(sb, &authority, &collection, &stages).unwrap();
    client::commit_items(sb, &authority, &collection, items().root()).unwrap();
    let buyer = Keypair::new();
    sb.airdrop(&buyer.pubkey(), SOL).unwrap();
    let server = RpcServer::start(sandbox.clone()).unwrap();
    let rpc = RpcLedger::new(&server.url(), options).unwrap();
    World { server, rpc, buyer, collection }
}

/// The committed item table: recipe `[i; 32]` for each of the 10 indices.
fn items() -> ItemTree {
    ItemTree::new(&(0..10u8).map(|i| [i; 32]).collect::<Vec<_>>()).unwrap()
}

/// Mints `index` through the RPC ledger and checks that exactly one mint and one payment
/// happened: the collection's count, the vault, and the buyer's balance against the estimate.
fn mint_once(w: &World, index: u32) -> client::NftOutcome {
    let sb = w.server.sandbox();
    let state = client::fetch_collection(sb, &w.collection).unwrap().unwrap();
    let cost = client::estimate_mint_cost(&w.rpc, &state, index).unwrap();
    let before = sb.balance(&w.buyer.pubkey()).unwrap();
    let outcome = client::mint_nft(
        &w.rpc,
        &w.buyer,
        &w.collection,
        index,
        [index as u8; 32],
        &items().proof(index).unwrap(),
        false,
    )
    .unwrap();
    let after = client::fetch_collection(sb, &w.collection).unwrap().unwrap();
    assert_eq!(after.account.minted, state.account.minted + 1, "one mint");
    assert_eq!(after.vault_balance, state.vault_balance + PRICE, "one payment");
    assert_eq!(
        before - sb.balance(&w.buyer.pubkey()).unwrap(),
        cost.total,
        "the buyer paid rent, price and one fee once"
    );
    assert_eq!(outcome.nft.stage, 0);
    outcome
}

#[test]
fn a_clean_mint_reads_and_sends_over_rpc() {
    let w = world(fast_options());
    // Reads over RPC agree with the sandbox.
    let sb = w.server.sandbox();
    assert_eq!(w.rpc.balance(&w.buyer.pubkey()).unwrap(), sb.balance(&w.buyer.pubkey()).unwrap());
    assert_eq!(w.rpc.clock().unwrap().unix_timestamp, sb.now().unwrap());
    assert!(w.rpc.get_account(&Pubkey::new_unique()).unwrap().is_none());
    let via_rpc = client::fetch_collection(&w.rpc, &w.collection).unwrap().unwrap();
    assert_eq!(via_rpc.account.name, "Moths");
    let fresh = Keypair::new().pubkey();
    w.rpc.airdrop(&fresh, 12_345_678).unwrap();
    assert_eq!(sb.balance(&fresh).unwrap(), 12_345_678);

    let m = mint_once(&w, 0);
    assert!(m.signature.is_some());
    assert_eq!(w.rpc.signature_status(&m.signature.unwrap()).unwrap(), Some(Ok(())));
    assert_eq!(w.server.stats().transactions_processed, 1);
    assert_eq!(w.rpc.name(), format!("rpc {}", w.server.url()));
}

#[test]
fn rate_limits_are_retried_after_the_servers_delay() {
    let w = world(fast_options());
    w.server.rate_limit_next(2, 1);
    let start = Instant::now();
    mint_once(&w, 0);
    assert!(start.elapsed() >= Duration::from_secs(2), "Retry-After (1 s, twice) was honoured");
    let stats = w.server.stats();
    assert_eq!(stats.rate_limited, 2);
    assert_eq!(stats.transactions_processed, 1);
}

#[test]
fn timeouts_are_retried() {
    let w = world(fast_options());
    w.server.stall_next(2, Duration::from_millis(1_500));
    mint_once(&w, 0);
    let stats = w.server.stats();
    assert_eq!(stats.stalled, 2);
    assert_eq!(stats.transactions_processed, 1);
}

#[test]
fn a_dropped_transaction_is_resent_unchanged() {
    let w = world(fast_options());
    w.server.drop_next_transactions(1);
    let m = mint_once(&w, 0);
    let stats = w.server.stats();
    assert_eq!(stats.transactions_dropped, 1);
    assert_eq!(stats.transactions_processed, 1);
    assert!(stats.requests["sendTransaction"] >= 2);
    assert!(m.signature.is_some());
}

#[test]
fn a_lost_response_is_found_by_its_status_and_never_resent() {
    let w = world(fast_options());
    w.server.lose_next_responses(1);
    let m = mint_once(&w, 0);
    let stats = w.server.stats();
    assert_eq!(stats.responses_lost, 1);
    assert_eq!(stats.transactions_processed, 1);
    assert_eq!(stats.requests["sendTransaction"], 1, "the status check found it");
    assert!(m.signature.is_some());
}

#[test]
fn an_expired_unseen_transaction_is_signed_again_once() {
    let w = world(fast_options());
    w.server.drop_next_transactions(1);
    w.server.expire_blockhash_of_next_transactions(1);
    mint_once(&w, 0);
    let stats = w.server.stats();
    assert_eq!(stats.transactions_dropped, 1);
    assert_eq!(stats.transactions_processed, 1);
    // Expiry was judged by block height against the blockhash's lastValidBlockHeight.
    assert!(stats.requests.get("getBlockHeight").is_some_and(|n| *n >= 1));
}

/// A transaction signed elsewhere (its blockhash not handed out by this ledger): expiry is
/// judged by `isBlockhashValid`, and `send_transaction` never signs anew itself.
#[test]
fn a_foreign_signed_transaction_that_expired_unseen_is_reported_expired() {
    let w = world(fast_options());
    let sb = w.server.sandbox();
    let to = Keypair::new().pubkey();
    let ix = anchor_lang::solana_program::system_instruction::transfer(&w.buyer.pubkey(), &to, SOL / 100);
    let tx = chrysalis_chain::ledger::sign(&[ix], &[&w.buyer], sb.latest_blockhash().unwrap()).unwrap();
    w.server.drop_next_transactions(1);
    w.server.expire_blockhash_of_next_transactions(1);
    let err = w.rpc.send_transaction(&tx).unwrap_err();
    assert!(matches!(err, LedgerError::Expired { signature } if signature == tx.signatures[0]), "{err}");
    assert_eq!(sb.balance(&to).unwrap(), 0, "never processed");
    let stats = w.server.stats();
    assert_eq!(stats.transactions_processed, 0);
    assert!(stats.requests.get("isBlockhashValid").is_some_and(|n| *n >= 1));
    // The same bytes again: still refused as expired, never processed.
    assert!(matches!(w.rpc.send_transaction(&tx).unwrap_err(), LedgerError::Expired { .. }));
    assert_eq!(sb.balance(&to).unwrap(), 0);
}

#[test]
fn a_landed_transaction_with_an_expired_blockhash_is_not_signed_again() {
    let w = world(fast_options());
    w.server.lose_next_responses(1);
    w.server.expire_blockhash_of_next_transactions(1);
    mint_once(&w, 0);
    let stats = w.server.stats();
    assert_eq!(stats.transactions_processed, 1);
    assert_eq!(stats.requests["sendTransaction"], 1);
}

/// The worst case: the answer is lost, the blockhash expires, and the node's status cache lags
/// so the ledger cannot see that it landed. `send` then signs again; the second transaction is
/// refused by the program (the mint exists) and `mint_nft` reconciles: still one mint, one
/// price (only a second fee).
#[test]
fn a_lagging_status_cache_still_cannot_cause_a_double_mint() {
    let w = world(fast_options());
    let sb = w.server.sandbox();
    w.server.lose_next_responses(1);
    w.server.expire_blockhash_of_next_transactions(1);
    w.server.hide_next_statuses(10_000);
    let before = client::fetch_collection(sb, &w.collection).unwrap().unwrap();
    let buyer_before = sb.balance(&w.buyer.pubkey()).unwrap();
    let state = before.clone();
    let cost = client::estimate_mint_cost(sb, &state, 0).unwrap();
    let m = client::mint_nft(&w.rpc, &w.buyer, &w.collection, 0, [0; 32], &items().proof(0).unwrap(), false).unwrap();
    w.server.hide_next_statuses(0);
    assert_eq!(m.nft.recipe, client::recipe_hex(&[0; 32]));
    let after = client::fetch_collection(sb, &w.collection).unwrap().unwrap();
    assert_eq!(after.account.minted, 1);
    assert_eq!(after.vault_balance, before.vault_balance + PRICE);
    assert_eq!(w.server.stats().transactions_processed, 2);
    let paid = buyer_before - sb.balance(&w.buyer.pubkey()).unwrap();
    assert_eq!(paid, cost.total + client::LAMPORTS_PER_SIGNATURE, "one extra fee, no more");
}

#[test]
fn program_errors_come_back_through_rpc_by_name() {
    let w = world(fast_options());
    mint_once(&w, 0);
    let stranger = Keypair::new();
    w.server.sandbox().airdrop(&stranger.pubkey(), SOL).unwrap();
    let err = client::evolve(&w.rpc, &stranger, &w.collection, 0, 1).unwrap_err();
    assert!(matches!(program_error(&err), Some(ChrysalisError::NotOwner)), "{err}");
    // The holder may.
    let e = client::evolve(&w.rpc, &w.buyer, &w.collection, 0, 1).unwrap();
    assert_eq!(e.nft.stage, 1);
}

#[test]
fn priority_fees_are_added_and_estimated() {
    let w = world(RpcOptions {
        priority_fee_micro_lamports: Some(50_000),
        compute_unit_limit: Some(300_000),
        ..fast_options()
    });
    assert_eq!(w.rpc.priority_fee_lamports(), 15_000);
    mint_once(&w, 0);
}

#[test]
fn an_unreachable_node_is_a_clear_transient_error() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let rpc =
        RpcLedger::new(&format!("http://127.0.0.1:{port}"), RpcOptions { max_retries: 1, ..fast_options() }).unwrap();
    let err = rpc.balance(&Pubkey::new_unique()).unwrap_err();
    assert!(matches!(err, LedgerError::Backend(_)) && err.is_transient(), "{err}");
    assert!(err.to_string().contains("getBalance"), "{err}");
    let err = client::fetch_collection(&rpc, &Pubkey::new_unique()).unwrap_err();
    assert!(matches!(err, ChainError::Ledger(_)), "{err}");
}
