//! The program running natively inside solana-program-test's bank, next to the real SPL
//! Token-2022 and Associated Token Account binaries that solana-program-test ships.
//!
//! Native mode (`processor!` + `prefer_bpf(false)`) runs our Rust code directly: `msg!` and
//! `emit!` output never reaches the transaction logs there, so events are checked through
//! their self-CPI (`emit_cpi!`), which the bank records as an inner instruction.

use anchor_lang::{
    AnchorDeserialize, Discriminator, InstructionData, ToAccountMetas,
    error::ErrorCode as AnchorErrorCode,
    event::EVENT_IX_TAG_LE,
    prelude::Pubkey,
    solana_program::{bpf_loader_upgradeable, instruction::Instruction},
};
use chrysalis::events::Pinged;
use solana_keypair::Keypair;
use solana_program_test::{BanksClient, BanksClientError, ProgramTest, processor};
use solana_signer::Signer;
use solana_transaction::{InstructionError, Transaction, TransactionError};

const TOKEN_2022: Pubkey = anchor_lang::pubkey!("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");
const ASSOCIATED_TOKEN: Pubkey =
    anchor_lang::pubkey!("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");

struct Sandbox {
    banks: BanksClient,
    payer: Keypair,
}

async fn start() -> Sandbox {
    let mut pt = ProgramTest::new(
        "chrysalis",
        chrysalis::ID,
        processor!(chrysalis::process_instruction),
    );
    pt.prefer_bpf(false);
    let ctx = pt.start_with_context().await;
    Sandbox {
        banks: ctx.banks_client,
        payer: ctx.payer,
    }
}

impl Sandbox {
    async fn tx(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> Transaction {
        let blockhash = self.banks.get_latest_blockhash().await.unwrap();
        let mut all: Vec<&Keypair> = vec![&self.payer];
        all.extend_from_slice(signers);
        Transaction::new_signed_with_payer(ixs, Some(&self.payer.pubkey()), &all, blockhash)
    }
}

fn ping_accounts(caller: Pubkey) -> chrysalis::accounts::Ping {
    chrysalis::accounts::Ping {
        caller,
        event_authority: chrysalis::EVENT_AUTHORITY_AND_BUMP.0,
        program: chrysalis::ID,
    }
}

fn ping_ix(caller: Pubkey, note: u64) -> Instruction {
    Instruction {
        program_id: chrysalis::ID,
        accounts: ping_accounts(caller).to_account_metas(None),
        data: chrysalis::instruction::Ping { note }.data(),
    }
}

/// The Anchor error code a failed single-instruction transaction carries.
fn anchor_code(err: BanksClientError) -> u32 {
    match err.unwrap() {
        TransactionError::InstructionError(0, InstructionError::Custom(code)) => code,
        other => panic!("expected a custom error from instruction 0, got {other:?}"),
    }
}

#[tokio::test]
async fn token_2022_and_ata_programs_are_loaded() {
    let sb = start().await;
    for (name, id) in [("Token-2022", TOKEN_2022), ("ATA", ASSOCIATED_TOKEN)] {
        let account = sb
            .banks
            .get_account(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name} program {id} is missing from the bank"));
        assert!(account.executable, "{name} program {id} is not executable");
    }
    // Token-2022 ships as an upgradeable (loader-v3) program, like on mainnet.
    let token_2022 = sb.banks.get_account(TOKEN_2022).await.unwrap().unwrap();
    assert_eq!(token_2022.owner, bpf_loader_upgradeable::ID);
    assert_eq!(TOKEN_2022, anchor_spl::token_2022::ID);
    assert_eq!(ASSOCIATED_TOKEN, anchor_spl::associated_token::ID);
}

#[tokio::test]
async fn ping_emits_pinged_event() {
    let mut sb = start().await;
    let caller = sb.payer.pubkey();
    let note = 0xC0FFEE_u64;
    let tx = sb.tx(&[ping_ix(caller, note)], &[]).await;

    // Simulation exposes inner instructions: the event is the program's CPI to itself.
    let sim = sb.banks.simulate_transaction(tx.clone()).await.unwrap();
    assert_eq!(sim.result, Some(Ok(())), "simulation failed: {sim:?}");
    let details = sim.simulation_details.expect("simulation details");
    let inner = details
        .inner_instructions
        .expect("inner instructions are recorded");
    let event_data: Vec<&[u8]> = inner
        .iter()
        .flatten()
        .filter(|ii| {
            let keys = &tx.message.account_keys;
            keys[usize::from(ii.instruction.program_id_index)] == chrysalis::ID
        })
        .map(|ii| ii.instruction.data.as_slice())
        .collect();
    assert_eq!(event_data.len(), 1, "expected exactly one event CPI");
    let data = event_data[0]
        .strip_prefix(EVENT_IX_TAG_LE)
        .expect("event CPI data starts with Anchor's event tag");
    let body = data
        .strip_prefix(Pinged::DISCRIMINATOR)
        .expect("event is a Pinged");
    let event = Pinged::try_from_slice(body).unwrap();
    assert_eq!(event, Pinged { caller, note });

    // The real execution succeeds and its logs show the call and the event self-CPI.
    let res = sb
        .banks
        .process_transaction_with_metadata(tx)
        .await
        .unwrap();
    assert_eq!(res.result, Ok(()));
    let logs = res.metadata.expect("metadata").log_messages;
    let id = chrysalis::ID;
    for expected in [
        format!("Program {id} invoke [1]"),
        format!("Program {id} invoke [2]"),
        format!("Program {id} success"),
    ] {
        assert!(
            logs.contains(&expected),
            "missing log {expected:?} in {logs:#?}"
        );
    }
}

#[tokio::test]
async fn ping_refuses_a_caller_that_did_not_sign() {
    let mut sb = start().await;
    let stranger = Keypair::new();
    let mut ix = ping_ix(stranger.pubkey(), 1);
    ix.accounts[0].is_signer = false; // claim to be `stranger` without their signature
    let tx = sb.tx(&[ix], &[]).await;
    let err = sb.banks.process_transaction(tx).await.unwrap_err();
    assert_eq!(
        anchor_code(err),
        u32::from(AnchorErrorCode::AccountNotSigner)
    );
}

#[tokio::test]
async fn ping_refuses_a_forged_event_authority() {
    let mut sb = start().await;
    let mut ix = ping_ix(sb.payer.pubkey(), 1);
    ix.accounts[1].pubkey = Keypair::new().pubkey();
    let tx = sb.tx(&[ix], &[]).await;
    let err = sb.banks.process_transaction(tx).await.unwrap_err();
    assert_eq!(
        anchor_code(err),
        u32::from(AnchorErrorCode::ConstraintAddress)
    );
}

#[tokio::test]
async fn a_signed_caller_other_than_the_payer_can_ping() {
    let mut sb = start().await;
    let caller = Keypair::new();
    let tx = sb.tx(&[ping_ix(caller.pubkey(), 7)], &[&caller]).await;
    sb.banks.process_transaction(tx).await.unwrap();
}
