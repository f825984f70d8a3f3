//! The sandbox ledger: a solana-program-test bank running the Chrysalis program natively.

use anchor_lang::{InstructionData, ToAccountMetas};
use chrysalis_chain::{Keypair, Ledger, LedgerError, Pubkey, Sandbox, Signer, TransactionError};
use solana_instruction::Instruction;

const SOL: u64 = 1_000_000_000;

fn ping_ix(caller: Pubkey, note: u64) -> Instruction {
    Instruction {
        program_id: chrysalis::ID,
        accounts: chrysalis::accounts::Ping {
            caller,
            event_authority: chrysalis::EVENT_AUTHORITY_AND_BUMP.0,
            program: chrysalis::ID,
        }
        .to_account_metas(None),
        data: chrysalis::instruction::Ping { note }.data(),
    }
}

#[test]
fn airdrop_funds_a_fresh_wallet_and_repeats_are_not_deduplicated() {
    let sb = Sandbox::new().unwrap();
    let wallet = Keypair::new().pubkey();
    assert_eq!(sb.balance(&wallet).unwrap(), 0);
    assert!(sb.get_account(&wallet).unwrap().is_none());
    sb.airdrop(&wallet, 2 * SOL).unwrap();
    assert_eq!(sb.balance(&wallet).unwrap(), 2 * SOL);
    // The same airdrop again is a second, distinct transfer.
    sb.airdrop(&wallet, 2 * SOL).unwrap();
    assert_eq!(sb.balance(&wallet).unwrap(), 4 * SOL);
    let account = sb.get_account(&wallet).unwrap().unwrap();
    assert_eq!(account.lamports, 4 * SOL);
    assert!(!account.executable);
}

#[test]
fn ping_goes_through_send_and_a_resend_is_not_processed_twice() {
    let sb = Sandbox::new().unwrap();
    let caller = Keypair::new();
    sb.airdrop(&caller.pubkey(), SOL).unwrap();
    let sig = sb.send(&[ping_ix(caller.pubkey(), 42)], &[&caller]).unwrap();
    let after_first = sb.balance(&caller.pubkey()).unwrap();
    assert!(after_first < SOL, "the caller paid the fee");

    // The same signed transaction sent again: reported as done, not executed (no second fee).
    let blockhash = sb.latest_blockhash().unwrap();
    let tx = chrysalis_chain::ledger::sign(&[ping_ix(caller.pubkey(), 7)], &[&caller], blockhash).unwrap();
    let first = sb.send_transaction(&tx).unwrap();
    let paid = sb.balance(&caller.pubkey()).unwrap();
    assert_eq!(paid, after_first - 5_000);
    assert_eq!(sb.send_transaction(&tx).unwrap(), first);
    assert_eq!(sb.balance(&caller.pubkey()).unwrap(), paid);
    assert_ne!(sig, first);
}

#[test]
fn a_failing_transaction_is_reported_with_its_error() {
    let sb = Sandbox::new().unwrap();
    let caller = Keypair::new();
    sb.airdrop(&caller.pubkey(), SOL).unwrap();
    // The caller does not sign the ping: Anchor refuses it (AccountNotSigner = 3010).
    let mut ix = ping_ix(caller.pubkey(), 1);
    ix.accounts[0].is_signer = false;
    let payer = Keypair::new();
    sb.airdrop(&payer.pubkey(), SOL).unwrap();
    let err = sb.send(&[ix], &[&payer]).unwrap_err();
    match err {
        LedgerError::Failed { error: TransactionError::InstructionError(0, e), .. } => {
            assert_eq!(e, solana_instruction::error::InstructionError::Custom(3010))
        }
        other => panic!("expected a failed instruction, got {other:?}"),
    }
    // No signer at all.
    assert!(matches!(sb.send(&[ping_ix(caller.pubkey(), 1)], &[]), Err(LedgerError::NoSigner)));
}

#[test]
fn warp_moves_the_clock_forward() {
    let sb = Sandbox::new().unwrap();
    let before = sb.clock().unwrap();
    let thirty_days = 30 * 24 * 3600;
    let clock = sb.warp_forward(thirty_days).unwrap();
    assert_eq!(clock.unix_timestamp, before.unix_timestamp + thirty_days);
    assert!(clock.slot > before.slot);
    assert!(sb.now().unwrap() >= before.unix_timestamp + thirty_days);
    // Transactions still work after the warp.
    let caller = Keypair::new();
    sb.airdrop(&caller.pubkey(), SOL).unwrap();
    sb.send(&[ping_ix(caller.pubkey(), 1)], &[&caller]).unwrap();
    assert!(sb.now().unwrap() >= before.unix_timestamp + thirty_days);
    assert!(sb.warp_forward(0).is_err());
}

fn system_program() -> Pubkey {
    "11111111111111111111111111111111".parse().unwrap()
}

fn create_collection_ix(authority: Pubkey, group_mint: Pubkey) -> Instruction {
    let collection = chrysalis::state::collection_address(&group_mint).0;
    Instruction {
        program_id: chrysalis::ID,
        accounts: chrysalis::accounts::CreateCollection {
            authority,
            collection,
            group_mint,
            vault: chrysalis::state::vault_address(&collection).0,
            token_program: anchor_spl_token_2022(),
            system_program: system_program(),
            event_authority: chrysalis::EVENT_AUTHORITY_AND_BUMP.0,
            program: chrysalis::ID,
        }
        .to_account_metas(None),
        data: chrysalis::instruction::CreateCollection {
            args: chrysalis::CollectionArgs {
                name: "Chrysalis Moths".into(),
                symbol: "MOTH".into(),
                uri: "ipfs://bafycollection/collection.json".into(),
                creators: vec![chrysalis::state::CreatorShare { address: authority, share_bps: 10_000 }],
                royalty_bps: 500,
                price: 1_000_000,
                max_supply: 12,
            },
        }
        .data(),
    }
}

fn anchor_spl_token_2022() -> Pubkey {
    "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb".parse().unwrap()
}

fn add_stage_ix(authority: Pubkey, collection: Pubkey) -> Instruction {
    Instruction {
        program_id: chrysalis::ID,
        accounts: chrysalis::accounts::AddStage {
            authority,
            collection,
            event_authority: chrysalis::EVENT_AUTHORITY_AND_BUMP.0,
            program: chrysalis::ID,
        }
        .to_account_metas(None),
        data: chrysalis::instruction::AddStage {
            stage: chrysalis::state::Stage {
                rule: chrysalis::state::UnlockRule::CreatorTrigger,
                base_uri: "ipfs://bafystage1/".into(),
                content_root: [1; 32],
            },
        }
        .data(),
    }
}

#[test]
fn state_survives_closing_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Keypair::new();
    let group_mint = Keypair::new();
    let collection = chrysalis::state::collection_address(&group_mint.pubkey()).0;
    let vault = chrysalis::state::vault_address(&collection).0;
    let keys = [authority.pubkey(), group_mint.pubkey(), collection, vault];

    let (saved, now) = {
        let sb = Sandbox::open(dir.path()).unwrap();
        sb.airdrop(&authority.pubkey(), 2 * SOL).unwrap();
        sb.send(&[create_collection_ix(authority.pubkey(), group_mint.pubkey())], &[&authority, &group_mint]).unwrap();
        sb.warp_forward(24 * 3600).unwrap();
        let saved: Vec<_> = keys.iter().map(|k| sb.get_account(k).unwrap().unwrap()).collect();
        assert_eq!(saved[2].owner, chrysalis::ID);
        assert_eq!(saved[1].owner, anchor_spl_token_2022());
        (saved, sb.now().unwrap())
    };
    assert!(dir.path().join(chrysalis_chain::sandbox::STATE_FILE).exists());

    let sb = Sandbox::open(dir.path()).unwrap();
    for (key, before) in keys.iter().zip(&saved) {
        assert_eq!(sb.get_account(key).unwrap().as_ref(), Some(before), "{key}");
    }
    assert!(sb.now().unwrap() >= now, "the clock does not go back");
    // The program works on the restored accounts.
    sb.send(&[add_stage_ix(authority.pubkey(), collection)], &[&authority]).unwrap();
    let err = sb
        .send(&[create_collection_ix(authority.pubkey(), group_mint.pubkey())], &[&authority, &group_mint])
        .unwrap_err();
    assert!(matches!(err, LedgerError::Failed { .. }), "{err}");
    drop(sb);

    // The stage added after reopening is kept too.
    let sb = Sandbox::open(dir.path()).unwrap();
    let grown = sb.get_account(&collection).unwrap().unwrap();
    assert_ne!(grown.data, saved[2].data);
}

#[test]
fn a_damaged_state_file_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(chrysalis_chain::sandbox::STATE_FILE);
    std::fs::write(&path, b"{ not json").unwrap();
    let err = Sandbox::open(dir.path()).err().expect("refused");
    assert!(matches!(err, LedgerError::State { .. }), "{err}");
    assert!(err.to_string().contains("sandbox.json"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"{ not json");
}

#[test]
fn the_sandbox_is_a_shareable_ledger_object() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Sandbox>();
    let sb = Sandbox::new().unwrap();
    let ledger: &dyn Ledger = &sb;
    let wallet = Keypair::new().pubkey();
    ledger.airdrop(&wallet, SOL).unwrap();
    assert_eq!(ledger.balance(&wallet).unwrap(), SOL);
    assert!(ledger.now().unwrap() > 0);
    assert!(sb.state_path().is_none());
}

#[test]
fn the_sandboxs_program_is_builtin_not_upgradeable() {
    let sb = Sandbox::new().unwrap();
    let control = chrysalis_chain::client::program_control(&sb).unwrap();
    assert_eq!(control, chrysalis_chain::client::ProgramControl::Builtin);
}
