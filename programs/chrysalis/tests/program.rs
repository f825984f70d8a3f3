//! The program running natively inside solana-program-test's bank, next to the real SPL
//! Token-2022 and Associated Token Account binaries that solana-program-test ships.
//!
//! Native mode (`processor!` + `prefer_bpf(false)`) runs our Rust code directly: `msg!` and
//! `emit!` output never reaches the transaction logs there, so events are checked through
//! their self-CPI (`emit_cpi!`), which the bank records as an inner instruction.

use anchor_lang::prelude::Clock;
use anchor_lang::{
    AnchorDeserialize, Discriminator, InstructionData, ToAccountMetas,
    error::ErrorCode as AnchorErrorCode,
    event::EVENT_IX_TAG_LE,
    prelude::Pubkey,
    solana_program::{bpf_loader_upgradeable, instruction::Instruction},
};
use anchor_spl::token_interface::{
    spl_token_2022::{
        extension::{
            BaseStateWithExtensions, StateWithExtensions, group_member_pointer::GroupMemberPointer,
            metadata_pointer::MetadataPointer,
        },
        state::{Account as TokenAccountState, Mint as MintState},
    },
    spl_token_metadata_interface::state::TokenMetadata,
};
use chrysalis::{
    events::*,
    merkle::ItemTree,
    state::{Collection, CreatorShare, Stage, UnlockRule},
};
use solana_keypair::Keypair;
use solana_program_test::{BanksClient, BanksClientError, ProgramTest, ProgramTestContext, processor};
use solana_signer::Signer;
use solana_transaction::{InstructionError, Transaction, TransactionError};

const TOKEN_2022: Pubkey = anchor_lang::pubkey!("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");
const ASSOCIATED_TOKEN: Pubkey = anchor_lang::pubkey!("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");

struct Sandbox {
    banks: BanksClient,
    payer: Keypair,
    ctx: ProgramTestContext,
}

async fn start() -> Sandbox {
    let mut pt = ProgramTest::new("chrysalis", chrysalis::ID, processor!(chrysalis::process_instruction));
    pt.prefer_bpf(false);
    let ctx = pt.start_with_context().await;
    Sandbox { banks: ctx.banks_client.clone(), payer: ctx.payer.insecure_clone(), ctx }
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
    chrysalis::accounts::Ping { caller, event_authority: chrysalis::EVENT_AUTHORITY_AND_BUMP.0, program: chrysalis::ID }
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
    let inner = details.inner_instructions.expect("inner instructions are recorded");
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
    let data = event_data[0].strip_prefix(EVENT_IX_TAG_LE).expect("event CPI data starts with Anchor's event tag");
    let body = data.strip_prefix(Pinged::DISCRIMINATOR).expect("event is a Pinged");
    let event = Pinged::try_from_slice(body).unwrap();
    assert_eq!(event, Pinged { caller, note });

    // The real execution succeeds and its logs show the call and the event self-CPI.
    let res = sb.banks.process_transaction_with_metadata(tx).await.unwrap();
    assert_eq!(res.result, Ok(()));
    let logs = res.metadata.expect("metadata").log_messages;
    let id = chrysalis::ID;
    for expected in
        [format!("Program {id} invoke [1]"), format!("Program {id} invoke [2]"), format!("Program {id} success")]
    {
        assert!(logs.contains(&expected), "missing log {expected:?} in {logs:#?}");
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
    assert_eq!(anchor_code(err), u32::from(AnchorErrorCode::AccountNotSigner));
}

#[tokio::test]
async fn ping_refuses_a_forged_event_authority() {
    let mut sb = start().await;
    let mut ix = ping_ix(sb.payer.pubkey(), 1);
    ix.accounts[1].pubkey = Keypair::new().pubkey();
    let tx = sb.tx(&[ix], &[]).await;
    let err = sb.banks.process_transaction(tx).await.unwrap_err();
    assert_eq!(anchor_code(err), u32::from(AnchorErrorCode::ConstraintAddress));
}

#[tokio::test]
async fn a_signed_caller_other_than_the_payer_can_ping() {
    let mut sb = start().await;
    let caller = Keypair::new();
    let tx = sb.tx(&[ping_ix(caller.pubkey(), 7)], &[&caller]).await;
    sb.banks.process_transaction(tx).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Collections, mints, evolution, royalties.
// ---------------------------------------------------------------------------------------------

const LAMPORTS_PER_SOL: u64 = 1_000_000_000;
const ERR_BASE: u32 = 6000;

/// Our error code as the number clients see.
fn code(e: chrysalis::errors::ChrysalisError) -> u32 {
    ERR_BASE + e as u32
}

#[allow(unused_imports)]
use chrysalis::errors::ChrysalisError as E;

fn collection_pda(group_mint: &Pubkey) -> Pubkey {
    chrysalis::state::collection_address(group_mint).0
}
fn vault_pda(collection: &Pubkey) -> Pubkey {
    chrysalis::state::vault_address(collection).0
}
fn nft_pda(collection: &Pubkey, index: u32) -> Pubkey {
    chrysalis::state::nft_mint_address(collection, index).0
}
fn ata(owner: &Pubkey, mint: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[owner.as_ref(), TOKEN_2022.as_ref(), mint.as_ref()], &ASSOCIATED_TOKEN).0
}
fn event_authority() -> Pubkey {
    chrysalis::EVENT_AUTHORITY_AND_BUMP.0
}
fn system_program() -> Pubkey {
    anchor_lang::system_program::ID
}

fn ix(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction { program_id: chrysalis::ID, accounts: accounts.to_account_metas(None), data: data.data() }
}

/// A collection under test: its keys and the creators' keypairs.
struct Coll {
    authority: Keypair,
    group_mint: Pubkey,
    collection: Pubkey,
    vault: Pubkey,
    creators: Vec<Pubkey>,
    /// The committed stage-0 recipe hash of every index (`commit_items`).
    recipes: Vec<[u8; 32]>,
}

/// The recipe hashes a test collection commits: `[i; 32]` for index i (mod 256).
fn recipes(max_supply: u32) -> Vec<[u8; 32]> {
    (0..max_supply).map(|i| [i as u8; 32]).collect()
}

impl Coll {
    fn tree(&self) -> ItemTree {
        ItemTree::new(&self.recipes).expect("a collection has items")
    }

    /// The proof of `index` (empty out of range: the program must refuse it).
    fn proof(&self, index: u32) -> Vec<[u8; 32]> {
        self.tree().proof(index).unwrap_or_default()
    }
}

fn commit_items_ix(authority: Pubkey, collection: Pubkey, items_root: [u8; 32]) -> Instruction {
    ix(
        chrysalis::accounts::CommitItems {
            authority,
            collection,
            event_authority: event_authority(),
            program: chrysalis::ID,
        },
        chrysalis::instruction::CommitItems { items_root },
    )
}

fn args(creators: &[(Pubkey, u16)], price: u64, max_supply: u32) -> chrysalis::CollectionArgs {
    chrysalis::CollectionArgs {
        name: "Chrysalis Moths".into(),
        symbol: "MOTH".into(),
        uri: "ipfs://bafycollection/collection.json".into(),
        creators: creators.iter().map(|&(address, share_bps)| CreatorShare { address, share_bps }).collect(),
        royalty_bps: 500,
        price,
        max_supply,
    }
}

fn create_collection_ix(authority: Pubkey, group_mint: Pubkey, args: chrysalis::CollectionArgs) -> Instruction {
    let collection = collection_pda(&group_mint);
    ix(
        chrysalis::accounts::CreateCollection {
            authority,
            collection,
            group_mint,
            vault: vault_pda(&collection),
            token_program: TOKEN_2022,
            system_program: system_program(),
            event_authority: event_authority(),
            program: chrysalis::ID,
        },
        chrysalis::instruction::CreateCollection { args },
    )
}

fn stage(rule: UnlockRule, n: u8) -> Stage {
    Stage { rule, base_uri: format!("ipfs://bafystage{n}/"), content_root: [n; 32] }
}

fn add_stage_ix(authority: Pubkey, collection: Pubkey, stage: Stage) -> Instruction {
    ix(
        chrysalis::accounts::AddStage {
            authority,
            collection,
            event_authority: event_authority(),
            program: chrysalis::ID,
        },
        chrysalis::instruction::AddStage { stage },
    )
}

fn mint_ix(buyer: Pubkey, c: &Coll, index: u32, recipe_hash: [u8; 32]) -> Instruction {
    let mint = nft_pda(&c.collection, index);
    ix(
        chrysalis::accounts::MintNft {
            buyer,
            collection: c.collection,
            group_mint: c.group_mint,
            vault: c.vault,
            mint,
            buyer_token: ata(&buyer, &mint),
            token_program: TOKEN_2022,
            associated_token_program: ASSOCIATED_TOKEN,
            system_program: system_program(),
            event_authority: event_authority(),
            program: chrysalis::ID,
        },
        chrysalis::instruction::MintNft { index, recipe_hash, proof: c.proof(index) },
    )
}

/// The Anchor/custom error code of instruction `i` of a failed transaction.
fn err_at(err: BanksClientError, i: u8) -> u32 {
    match err.unwrap() {
        TransactionError::InstructionError(j, InstructionError::Custom(code)) if j == i => code,
        other => panic!("expected a custom error from instruction {i}, got {other:?}"),
    }
}

impl Sandbox {
    async fn send(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> Result<(), BanksClientError> {
        let tx = self.tx(ixs, signers).await;
        self.banks.process_transaction(tx).await
    }

    /// Sends a single instruction that must fail with `expected`.
    async fn fails(&mut self, ixs: &[Instruction], signers: &[&Keypair], expected: u32) {
        let err = self.send(ixs, signers).await.expect_err("transaction should fail");
        assert_eq!(err_at(err, u8::try_from(ixs.len() - 1).unwrap()), expected);
    }

    async fn fund(&mut self, to: &Pubkey, lamports: u64) {
        let ix = anchor_lang::solana_program::system_instruction::transfer(&self.payer.pubkey(), to, lamports);
        self.send(&[ix], &[]).await.unwrap();
    }

    async fn funded(&mut self, lamports: u64) -> Keypair {
        let k = Keypair::new();
        self.fund(&k.pubkey(), lamports).await;
        k
    }

    async fn lamports(&mut self, key: &Pubkey) -> u64 {
        self.banks.get_balance(*key).await.unwrap()
    }

    async fn collection(&mut self, key: &Pubkey) -> Collection {
        let acc = self.banks.get_account(*key).await.unwrap().expect("collection exists");
        anchor_lang::AccountDeserialize::try_deserialize(&mut acc.data.as_slice()).unwrap()
    }

    async fn metadata(&mut self, mint: &Pubkey) -> TokenMetadata {
        let acc = self.banks.get_account(*mint).await.unwrap().expect("mint exists");
        let state = StateWithExtensions::<MintState>::unpack(&acc.data).unwrap();
        state.get_variable_len_extension::<TokenMetadata>().unwrap()
    }

    async fn set_time(&mut self, unix: i64) {
        let mut clock: Clock = self.banks.get_sysvar().await.unwrap();
        clock.unix_timestamp = unix;
        self.ctx.set_sysvar(&clock);
    }

    /// Creates a collection with these creators (shares) and stages.
    async fn make_collection(&mut self, shares: &[u16], price: u64, max_supply: u32, stages: &[Stage]) -> Coll {
        let authority = self.funded(LAMPORTS_PER_SOL).await;
        let group = Keypair::new();
        let creators: Vec<Pubkey> = shares.iter().map(|_| Keypair::new().pubkey()).collect();
        let pairs: Vec<(Pubkey, u16)> = creators.iter().copied().zip(shares.iter().copied()).collect();
        let create = create_collection_ix(authority.pubkey(), group.pubkey(), args(&pairs, price, max_supply));
        self.send(&[create], &[&authority, &group]).await.unwrap();
        let collection = collection_pda(&group.pubkey());
        for s in stages {
            let add = add_stage_ix(authority.pubkey(), collection, s.clone());
            self.send(&[add], &[&authority]).await.unwrap();
        }
        let c = Coll {
            authority,
            group_mint: group.pubkey(),
            collection,
            vault: vault_pda(&collection),
            creators,
            recipes: recipes(max_supply),
        };
        self.commit(&c).await;
        c
    }

    /// Commits `c.recipes` (the authority signs).
    async fn commit(&mut self, c: &Coll) {
        let commit = commit_items_ix(c.authority.pubkey(), c.collection, c.tree().root());
        self.send(&[commit], &[&c.authority]).await.unwrap();
    }

    /// Sets a collection's `minted` count directly in the bank, as if that many NFTs had been
    /// minted, so a test can reach a far index without minting every one before it.
    async fn fast_forward(&mut self, c: &Coll, minted: u32) {
        let mut acc = self.banks.get_account(c.collection).await.unwrap().unwrap();
        let mut state = self.collection(&c.collection).await;
        state.minted = minted;
        let mut data = Vec::new();
        anchor_lang::AccountSerialize::try_serialize(&state, &mut data).unwrap();
        acc.data[..data.len()].copy_from_slice(&data);
        self.ctx.set_account(&c.collection, &acc.into());
    }

    async fn mint(&mut self, buyer: &Keypair, c: &Coll, index: u32) -> Result<(), BanksClientError> {
        let ix = mint_ix(buyer.pubkey(), c, index, c.recipes.get(index as usize).copied().unwrap_or_default());
        self.send(&[ix], &[buyer]).await
    }
}

fn basic_stages() -> Vec<Stage> {
    vec![
        stage(UnlockRule::At(0), 0),
        stage(UnlockRule::AfterMint(3600), 1),
        stage(UnlockRule::OwnerTrigger, 2),
        stage(UnlockRule::CreatorTrigger, 3),
        stage(UnlockRule::At(2_000_000_000), 4),
    ]
}

/// Decodes the events our program emitted in a simulated transaction.
async fn simulate_events(sb: &mut Sandbox, ixs: &[Instruction], signers: &[&Keypair]) -> Vec<Vec<u8>> {
    let tx = sb.tx(ixs, signers).await;
    let sim = sb.banks.simulate_transaction(tx.clone()).await.unwrap();
    assert_eq!(sim.result, Some(Ok(())), "simulation failed: {sim:?}");
    let inner = sim.simulation_details.unwrap().inner_instructions.unwrap();
    inner
        .iter()
        .flatten()
        .filter(|ii| tx.message.account_keys[usize::from(ii.instruction.program_id_index)] == chrysalis::ID)
        .filter_map(|ii| ii.instruction.data.strip_prefix(EVENT_IX_TAG_LE).map(<[u8]>::to_vec))
        .collect()
}

fn decode<T: AnchorDeserialize + Discriminator>(events: &[Vec<u8>]) -> T {
    let body = events.iter().find_map(|e| e.strip_prefix(T::DISCRIMINATOR)).expect("event present");
    T::try_from_slice(body).unwrap()
}

#[tokio::test]
async fn create_collection_builds_group_mint_state_and_vault() {
    let mut sb = start().await;
    let authority = sb.funded(LAMPORTS_PER_SOL).await;
    let group = Keypair::new();
    let creators = [(Keypair::new().pubkey(), 7_000), (Keypair::new().pubkey(), 3_000)];
    let create = create_collection_ix(authority.pubkey(), group.pubkey(), args(&creators, 1_000, 10));
    let events = simulate_events(&mut sb, std::slice::from_ref(&create), &[&authority, &group]).await;
    let ev: CollectionCreated = decode(&events);
    let collection = collection_pda(&group.pubkey());
    assert_eq!(ev.collection, collection);
    assert_eq!(ev.creators, 2);
    sb.send(&[create], &[&authority, &group]).await.unwrap();

    let c = sb.collection(&collection).await;
    assert_eq!(c.authority, authority.pubkey());
    assert_eq!(c.group_mint, group.pubkey());
    assert_eq!(c.price, 1_000);
    assert_eq!(c.max_supply, 10);
    assert_eq!(c.creators.len(), 2);
    assert!(c.stages.is_empty());

    let md = sb.metadata(&group.pubkey()).await;
    assert_eq!(md.name, "Chrysalis Moths");
    assert_eq!(
        md.additional_metadata,
        vec![
            ("royalty_bps".to_string(), "500".to_string()),
            ("royalty_receiver".to_string(), vault_pda(&collection).to_string()),
        ]
    );
    assert_eq!(Option::<Pubkey>::from(md.update_authority), Some(collection));
    let acc = sb.banks.get_account(group.pubkey()).await.unwrap().unwrap();
    let state = StateWithExtensions::<MintState>::unpack(&acc.data).unwrap();
    let rent = sb.banks.get_rent().await.unwrap();
    assert_eq!(acc.lamports, rent.minimum_balance(acc.data.len()), "group mint rent exact");
    let group_ext = state.get_extension::<spl_token_group_interface::state::TokenGroup>().unwrap();
    assert_eq!(u64::from(group_ext.max_size), 10);
    let vault = vault_pda(&collection);
    let rent0 = sb.banks.get_rent().await.unwrap().minimum_balance(0);
    assert_eq!(sb.lamports(&vault).await, rent0);

    // Re-initialisation: the same group mint again (Anchor `init` finds it in use).
    sb.ctx.get_new_latest_blockhash().await.unwrap();
    let again = create_collection_ix(authority.pubkey(), group.pubkey(), args(&creators, 5, 10));
    assert!(sb.send(&[again], &[&authority, &group]).await.is_err());
    assert_eq!(sb.collection(&collection).await.price, 1_000);
}

#[tokio::test]
async fn mint_nft_creates_a_token_2022_nft_and_prints_its_cost() {
    let mut sb = start().await;
    let price = 100_000_000; // 0.1 SOL
    let c = sb.make_collection(&[5_000, 3_000, 2_000], price, 100, &basic_stages()).await;
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    sb.fast_forward(&c, 42).await; // index 42: a two-digit name and URI
    let ix = mint_ix(buyer.pubkey(), &c, 42, c.recipes[42]);
    let events = simulate_events(&mut sb, std::slice::from_ref(&ix), &[&buyer]).await;
    let ev: NftMinted = decode(&events);
    assert_eq!(ev.index, 42);
    assert_eq!(ev.price, price);
    assert_eq!(ev.dust, 0);
    assert_eq!(ev.paid, 0, "no wallets passed: the price waits in the vault");

    let before = sb.lamports(&buyer.pubkey()).await;
    let payer_before = sb.lamports(&sb.payer.pubkey()).await;
    let tx = {
        let blockhash = sb.banks.get_latest_blockhash().await.unwrap();
        // The buyer pays the fees here (fee payer), so their balance shows everything.
        Transaction::new_signed_with_payer(&[ix], Some(&buyer.pubkey()), &[&buyer], blockhash)
    };
    sb.banks.process_transaction(tx).await.unwrap();
    let after = sb.lamports(&buyer.pubkey()).await;
    assert_eq!(sb.lamports(&sb.payer.pubkey()).await, payer_before);
    let cost = before - after - price;
    let mint = nft_pda(&c.collection, 42);
    let mint_rent = sb.lamports(&mint).await;
    let ata_rent = sb.lamports(&ata(&buyer.pubkey(), &mint)).await;
    let fees = cost - mint_rent - ata_rent;
    println!(
        "COST PER NFT (buyer, excluding the price): {cost} lamports = {:.6} SOL \
         (mint rent {mint_rent}, token account rent {ata_rent}, fees {fees}); goal 0.0046 SOL",
        cost as f64 / LAMPORTS_PER_SOL as f64
    );
    assert_eq!(fees, 5_000, "one signature");

    // Mint: supply 1, decimals 0, no mint authority, pointers at itself, group member.
    let acc = sb.banks.get_account(mint).await.unwrap().unwrap();
    assert_eq!(acc.owner, TOKEN_2022);
    let rent = sb.banks.get_rent().await.unwrap();
    assert_eq!(acc.lamports, rent.minimum_balance(acc.data.len()), "mint rent exact, no overpay");
    let state = StateWithExtensions::<MintState>::unpack(&acc.data).unwrap();
    assert_eq!(state.base.supply, 1);
    assert_eq!(state.base.decimals, 0);
    assert!(state.base.mint_authority.is_none());
    let mp = state.get_extension::<MetadataPointer>().unwrap();
    assert_eq!(Option::<Pubkey>::from(mp.metadata_address), Some(mint));
    let gp = state.get_extension::<GroupMemberPointer>().unwrap();
    assert_eq!(Option::<Pubkey>::from(gp.member_address), Some(mint));
    let member = state.get_extension::<spl_token_group_interface::state::TokenGroupMember>().unwrap();
    assert_eq!(member.group, c.group_mint);
    assert_eq!(u64::from(member.member_number), 1);

    let md = sb.metadata(&mint).await;
    assert_eq!(md.name, "Chrysalis Moths #43", "index 42 is the 43rd item: names count from 1, as the JSON does");
    assert_eq!(md.symbol, "MOTH");
    assert_eq!(md.uri, "ipfs://bafystage0/42.json");
    assert_eq!(Option::<Pubkey>::from(md.update_authority), Some(c.collection));
    let get = |k: &str| md.additional_metadata.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.clone());
    assert_eq!(get("stage").as_deref(), Some("0"));
    assert_eq!(get("recipe"), Some("2a".repeat(32)), "the recipe committed for index 42");
    assert_eq!(get("collection"), Some(c.group_mint.to_string()));
    assert_eq!(get("royalty_bps").as_deref(), Some("500"), "marketplaces read royalties per NFT");
    assert_eq!(get("royalty_receiver"), Some(c.vault.to_string()));
    assert!(get("minted_at").is_some());

    // The buyer's ATA holds it.
    let tacc = sb.banks.get_account(ata(&buyer.pubkey(), &mint)).await.unwrap().unwrap();
    let t = StateWithExtensions::<TokenAccountState>::unpack(&tacc.data).unwrap();
    assert_eq!(t.base.amount, 1);
    assert_eq!(t.base.owner, buyer.pubkey());

    // The price sits in the vault, already split by share.
    let rent0 = rent.minimum_balance(0);
    assert_eq!(sb.lamports(&c.vault).await, rent0 + price);
    let col = sb.collection(&c.collection).await;
    assert_eq!(col.minted, 43);
    let owed: Vec<u64> = col.creators.iter().map(|c| c.owed).collect();
    assert_eq!(owed, vec![50_000_000, 30_000_000, 20_000_000]);
}

fn evolve_ix(caller: Pubkey, c: &Coll, index: u32, to_stage: u8, owner_token: Option<Pubkey>) -> Instruction {
    ix(
        chrysalis::accounts::Evolve {
            caller,
            collection: c.collection,
            mint: nft_pda(&c.collection, index),
            owner_token,
            token_program: TOKEN_2022,
            system_program: system_program(),
            event_authority: event_authority(),
            program: chrysalis::ID,
        },
        chrysalis::instruction::Evolve { index, to_stage },
    )
}

fn distribute_ix(c: &Coll, wallets: &[Pubkey]) -> Instruction {
    let mut i = ix(
        chrysalis::accounts::DistributeRoyalties {
            collection: c.collection,
            vault: c.vault,
            system_program: system_program(),
            event_authority: event_authority(),
            program: chrysalis::ID,
        },
        chrysalis::instruction::DistributeRoyalties {},
    );
    i.accounts.extend(wallets.iter().map(|w| anchor_lang::solana_program::instruction::AccountMeta::new(*w, false)));
    i
}

fn update_authority_ix(authority: Pubkey, new_authority: Pubkey, collection: Pubkey) -> Instruction {
    ix(
        chrysalis::accounts::UpdateAuthority {
            authority,
            new_authority,
            collection,
            event_authority: event_authority(),
            program: chrysalis::ID,
        },
        chrysalis::instruction::UpdateAuthority {},
    )
}

fn close_ix(authority: Pubkey, c: &Coll) -> Instruction {
    ix(
        chrysalis::accounts::CloseCollection {
            authority,
            collection: c.collection,
            vault: c.vault,
            system_program: system_program(),
            event_authority: event_authority(),
            program: chrysalis::ID,
        },
        chrysalis::instruction::CloseCollection {},
    )
}

async fn stage_of(sb: &mut Sandbox, c: &Coll, index: u32) -> (String, String) {
    let md = sb.metadata(&nft_pda(&c.collection, index)).await;
    let stage = md.additional_metadata.iter().find(|(k, _)| k == "stage").unwrap().1.clone();
    (stage, md.uri)
}

#[tokio::test]
async fn evolve_walks_every_rule_and_refuses_early_skipped_and_repeated() {
    let mut sb = start().await;
    let c = sb.make_collection(&[10_000], 0, 10, &basic_stages()).await;
    let owner = sb.funded(LAMPORTS_PER_SOL).await;
    let t0 = 1_800_000_000;
    sb.set_time(t0).await;
    sb.fast_forward(&c, 3).await;
    sb.mint(&owner, &c, 3).await.unwrap();
    let crank = sb.funded(LAMPORTS_PER_SOL).await;
    let owner_ata = ata(&owner.pubkey(), &nft_pda(&c.collection, 3));

    // Stage 1: AfterMint(3600), permissionless. Too early, skipped, then fine.
    sb.fails(&[evolve_ix(crank.pubkey(), &c, 3, 1, None)], &[&crank], code(E::StageNotUnlocked)).await;
    sb.fails(&[evolve_ix(crank.pubkey(), &c, 3, 2, None)], &[&crank], code(E::StageSkipped)).await;
    sb.fails(&[evolve_ix(crank.pubkey(), &c, 3, 0, None)], &[&crank], code(E::AlreadyAtStage)).await;
    sb.set_time(t0 + 3600).await;
    let events = simulate_events(&mut sb, &[evolve_ix(crank.pubkey(), &c, 3, 1, None)], &[&crank]).await;
    let ev: NftEvolved = decode(&events);
    assert_eq!((ev.index, ev.stage, ev.by), (3, 1, crank.pubkey()));
    sb.send(&[evolve_ix(crank.pubkey(), &c, 3, 1, None)], &[&crank]).await.unwrap();
    assert_eq!(stage_of(&mut sb, &c, 3).await, ("1".into(), "ipfs://bafystage1/3.json".into()));
    // Repeated evolution.
    sb.ctx.get_new_latest_blockhash().await.unwrap();
    sb.fails(&[evolve_ix(crank.pubkey(), &c, 3, 1, None)], &[&crank], code(E::AlreadyAtStage)).await;

    // Stage 2: owner trigger. A stranger, the owner without their token account, a stranger
    // with the owner's token account: all refused.
    sb.fails(&[evolve_ix(crank.pubkey(), &c, 3, 2, None)], &[&crank], code(E::NotOwner)).await;
    sb.fails(&[evolve_ix(owner.pubkey(), &c, 3, 2, None)], &[&owner], code(E::NotOwner)).await;
    sb.fails(&[evolve_ix(crank.pubkey(), &c, 3, 2, Some(owner_ata))], &[&crank], code(E::NotOwner)).await;
    sb.send(&[evolve_ix(owner.pubkey(), &c, 3, 2, Some(owner_ata))], &[&owner]).await.unwrap();
    assert_eq!(stage_of(&mut sb, &c, 3).await.0, "2");

    // Stage 3: creator trigger. The owner is refused, the collection authority succeeds.
    sb.fails(&[evolve_ix(owner.pubkey(), &c, 3, 3, Some(owner_ata))], &[&owner], code(E::NotCollectionAuthority)).await;
    let auth = c.authority.insecure_clone();
    sb.send(&[evolve_ix(auth.pubkey(), &c, 3, 3, None)], &[&auth]).await.unwrap();
    assert_eq!(stage_of(&mut sb, &c, 3).await.0, "3");

    // Stage 4: At(2e9), permissionless.
    sb.fails(&[evolve_ix(crank.pubkey(), &c, 3, 4, None)], &[&crank], code(E::StageNotUnlocked)).await;
    sb.set_time(2_000_000_000).await;
    sb.send(&[evolve_ix(crank.pubkey(), &c, 3, 4, None)], &[&crank]).await.unwrap();
    assert_eq!(stage_of(&mut sb, &c, 3).await, ("4".into(), "ipfs://bafystage4/3.json".into()));
    // Past the last stage.
    sb.fails(&[evolve_ix(crank.pubkey(), &c, 3, 5, None)], &[&crank], code(E::NoMoreStages)).await;

    // The mint stays exactly rent-exempt through all the growth.
    let acc = sb.banks.get_account(nft_pda(&c.collection, 3)).await.unwrap().unwrap();
    let rent = sb.banks.get_rent().await.unwrap();
    assert!(acc.lamports >= rent.minimum_balance(acc.data.len()));
}

#[tokio::test]
async fn evolve_grows_the_uri_and_tops_up_rent() {
    let mut sb = start().await;
    let long =
        Stage { rule: UnlockRule::At(0), base_uri: format!("ipfs://{}/", "b".repeat(80)), content_root: [9; 32] };
    let c = sb.make_collection(&[10_000], 0, 10, &[stage(UnlockRule::At(0), 0), long]).await;
    let owner = sb.funded(LAMPORTS_PER_SOL).await;
    sb.mint(&owner, &c, 0).await.unwrap();
    let mint = nft_pda(&c.collection, 0);
    let before = sb.banks.get_account(mint).await.unwrap().unwrap();
    sb.send(&[evolve_ix(owner.pubkey(), &c, 0, 1, None)], &[&owner]).await.unwrap();
    let after = sb.banks.get_account(mint).await.unwrap().unwrap();
    assert!(after.data.len() > before.data.len());
    let rent = sb.banks.get_rent().await.unwrap();
    assert_eq!(after.lamports, rent.minimum_balance(after.data.len()));
}

#[tokio::test]
async fn distribute_splits_by_share_keeps_dust_and_waits_for_fresh_wallets() {
    let mut sb = start().await;
    let price = 1_000_003; // not divisible: dust
    let c = sb.make_collection(&[3_333, 3_333, 3_334], price, 10, &basic_stages()).await;
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    sb.mint(&buyer, &c, 0).await.unwrap();
    let col = sb.collection(&c.collection).await;
    let owed: Vec<u64> = col.creators.iter().map(|c| c.owed).collect();
    // floor(1_000_003 * 3333 / 10000) = 333_300, floor(.. * 3334 / 10000) = 333_401; dust 2.
    assert_eq!(owed, vec![333_300, 333_300, 333_401]);

    // All three wallets are fresh: 333k lamports would leave them below rent: nothing paid.
    let events = simulate_events(&mut sb, &[distribute_ix(&c, &c.creators)], &[]).await;
    let ev: RoyaltiesDistributed = decode(&events);
    assert_eq!(ev.paid, 0);
    assert_eq!(ev.split, 2, "only the dust is new");
    sb.send(&[distribute_ix(&c, &c.creators)], &[]).await.unwrap();
    for w in c.creators.clone() {
        assert_eq!(sb.lamports(&w).await, 0);
    }
    // Royalties arrive (a marketplace pays the vault); creator 0 funds their wallet.
    let royalties = 9_000_000;
    let vault = c.vault;
    sb.fund(&vault, royalties).await;
    sb.fund(&c.creators[0], 1_000_000).await;
    sb.ctx.get_new_latest_blockhash().await.unwrap();
    sb.send(&[distribute_ix(&c, &c.creators)], &[]).await.unwrap();
    // New = 9_000_000 + dust 2 (wait: the 2 dust lamports were split as 0/0/0 and stay).
    let col = sb.collection(&c.collection).await;
    let rent0 = sb.banks.get_rent().await.unwrap().minimum_balance(0);
    // Each creator's total entitlement: floor splits of 1_000_003 then of 9_000_002.
    let second = [2_999_700u64, 2_999_700, 3_000_600]; // floor(9_000_002 * s / 10000)
    let expect_total = [333_300 + second[0], 333_300 + second[1], 333_401 + second[2]];
    // All wallets can now receive (each total is above the rent minimum of an empty account).
    for (i, w) in c.creators.iter().enumerate() {
        let extra = if i == 0 { 1_000_000 } else { 0 };
        assert_eq!(sb.lamports(w).await, expect_total[i] + extra, "creator {i}");
        assert_eq!(col.creators[i].owed, 0);
    }
    let paid: u64 = expect_total.iter().sum();
    let dust = 1_000_003 + 9_000_000 - paid;
    assert_eq!(sb.lamports(&vault).await, rent0 + dust);
    assert!(dust < 3 + 3);

    // Nothing is paid twice: a third call pays nothing.
    sb.ctx.get_new_latest_blockhash().await.unwrap();
    let events = simulate_events(&mut sb, &[distribute_ix(&c, &c.creators)], &[]).await;
    let ev: RoyaltiesDistributed = decode(&events);
    assert_eq!(ev.paid, 0);
}

#[tokio::test]
async fn distribute_refuses_wrong_missing_or_reordered_creators() {
    let mut sb = start().await;
    let c = sb.make_collection(&[5_000, 5_000], 1_000_000_000, 10, &basic_stages()).await;
    let buyer = sb.funded(2 * LAMPORTS_PER_SOL).await;
    sb.mint(&buyer, &c, 0).await.unwrap();
    let thief = Keypair::new().pubkey();
    sb.fails(&[distribute_ix(&c, &[c.creators[0], thief])], &[], code(E::CreatorMismatch)).await;
    sb.fails(&[distribute_ix(&c, &[c.creators[1], c.creators[0]])], &[], code(E::CreatorMismatch)).await;
    sb.fails(&[distribute_ix(&c, &[c.creators[0]])], &[], code(E::CreatorMismatch)).await;
    // A creator listed twice (duplicate mutable account) is refused too.
    sb.fails(&[distribute_ix(&c, &[c.creators[0], c.creators[0]])], &[], code(E::CreatorMismatch)).await;
    // A creator passed read-only cannot be paid in this call: it is skipped and stays owed,
    // and the others are paid (a caller cannot block anyone's payout this way).
    let mut readonly = distribute_ix(&c, &c.creators);
    let n = readonly.accounts.len();
    readonly.accounts[n - 1].is_writable = false;
    sb.send(&[readonly], &[]).await.unwrap();
    assert_eq!(sb.lamports(&c.creators[0]).await, 500_000_000);
    assert_eq!(sb.lamports(&c.creators[1]).await, 0);
    assert_eq!(sb.collection(&c.collection).await.creators[1].owed, 500_000_000);
    sb.send(&[distribute_ix(&c, &c.creators)], &[]).await.unwrap();
    assert_eq!(sb.lamports(&c.creators[0]).await, 500_000_000);
    assert_eq!(sb.lamports(&c.creators[1]).await, 500_000_000);
}

/// The attack: a creator list with an address the runtime reserves (the all-zero key, a
/// sysvar, a built-in program) would make every payout to it fail, and with it, the
/// distribution. Such creators are refused at creation, naming the reason.
#[tokio::test]
async fn reserved_creator_addresses_are_refused() {
    let mut sb = start().await;
    let authority = sb.funded(LAMPORTS_PER_SOL).await;
    let me = Keypair::new().pubkey();
    for reserved in [
        Pubkey::default(),
        anchor_lang::pubkey!("SysvarRent111111111111111111111111111111111"),
        anchor_lang::pubkey!("Vote111111111111111111111111111111111111111"),
        anchor_lang::pubkey!("BPFLoaderUpgradeab1e11111111111111111111111"),
    ] {
        let group = Keypair::new();
        let ix =
            create_collection_ix(authority.pubkey(), group.pubkey(), args(&[(me, 5_000), (reserved, 5_000)], 1, 10));
        sb.fails(&[ix], &[&authority, &group], code(E::ReservedCreator)).await;
    }
}

/// The attack: an executable creator (here the Token-2022 program, not a reserved address)
/// can never receive lamports. It must not block the other creators: its share stays owed,
/// everyone else is paid.
#[tokio::test]
async fn an_unpayable_creator_never_blocks_the_others() {
    let mut sb = start().await;
    let authority = sb.funded(LAMPORTS_PER_SOL).await;
    let group = Keypair::new();
    let me = Keypair::new().pubkey();
    let create = create_collection_ix(
        authority.pubkey(),
        group.pubkey(),
        args(&[(me, 6_000), (TOKEN_2022, 4_000)], 1_000_000_000, 10),
    );
    sb.send(&[create], &[&authority, &group]).await.unwrap();
    let collection = collection_pda(&group.pubkey());
    let add = add_stage_ix(authority.pubkey(), collection, basic_stages()[0].clone());
    sb.send(&[add], &[&authority]).await.unwrap();
    let c = Coll {
        authority,
        group_mint: group.pubkey(),
        collection,
        vault: vault_pda(&collection),
        creators: vec![me, TOKEN_2022],
        recipes: recipes(10),
    };
    sb.commit(&c).await;
    let buyer = sb.funded(2 * LAMPORTS_PER_SOL).await;
    sb.mint(&buyer, &c, 0).await.unwrap();
    sb.send(&[distribute_ix(&c, &c.creators)], &[]).await.unwrap();
    assert_eq!(sb.lamports(&me).await, 600_000_000, "the payable creator is paid");
    let col = sb.collection(&c.collection).await;
    assert_eq!(col.creators[0].owed, 0);
    assert_eq!(col.creators[1].owed, 400_000_000, "the program's share stays owed, in the vault");
}

#[tokio::test]
async fn update_authority_needs_both_signatures_and_moves_control() {
    let mut sb = start().await;
    let c = sb.make_collection(&[10_000], 0, 10, &[]).await;
    let new = sb.funded(LAMPORTS_PER_SOL).await;
    let stranger = sb.funded(LAMPORTS_PER_SOL).await;
    let auth = c.authority.insecure_clone();
    // A stranger cannot take it.
    sb.fails(
        &[update_authority_ix(stranger.pubkey(), stranger.pubkey(), c.collection)],
        &[&stranger],
        code(E::NotCollectionAuthority),
    )
    .await;
    // The new authority must sign.
    let mut unsigned = update_authority_ix(auth.pubkey(), new.pubkey(), c.collection);
    unsigned.accounts[1].is_signer = false;
    sb.fails(&[unsigned], &[&auth], u32::from(AnchorErrorCode::AccountNotSigner)).await;
    let ok = update_authority_ix(auth.pubkey(), new.pubkey(), c.collection);
    let events = simulate_events(&mut sb, std::slice::from_ref(&ok), &[&auth, &new]).await;
    let ev: AuthorityUpdated = decode(&events);
    assert_eq!(ev.new_authority, new.pubkey());
    sb.send(&[ok], &[&auth, &new]).await.unwrap();
    assert_eq!(sb.collection(&c.collection).await.authority, new.pubkey());
    // The old authority lost control; the new one has it.
    sb.fails(
        &[add_stage_ix(auth.pubkey(), c.collection, stage(UnlockRule::At(0), 0))],
        &[&auth],
        code(E::NotCollectionAuthority),
    )
    .await;
    sb.send(&[add_stage_ix(new.pubkey(), c.collection, stage(UnlockRule::At(0), 0))], &[&new]).await.unwrap();
}

#[tokio::test]
async fn close_collection_refunds_and_cannot_be_revived() {
    let mut sb = start().await;
    let c = sb.make_collection(&[10_000], 0, 10, &[stage(UnlockRule::At(0), 0)]).await;
    let auth = c.authority.insecure_clone();
    let stranger = sb.funded(LAMPORTS_PER_SOL).await;
    sb.fails(&[close_ix(stranger.pubkey(), &c)], &[&stranger], code(E::NotCollectionAuthority)).await;
    let before = sb.lamports(&auth.pubkey()).await;
    let coll_rent = sb.lamports(&c.collection).await;
    let vault = sb.lamports(&c.vault).await;
    let events = simulate_events(&mut sb, &[close_ix(auth.pubkey(), &c)], &[&auth]).await;
    let ev: CollectionClosed = decode(&events);
    assert_eq!(ev.refunded, coll_rent + vault);
    sb.send(&[close_ix(auth.pubkey(), &c)], &[&auth]).await.unwrap();
    assert_eq!(sb.lamports(&auth.pubkey()).await, before + coll_rent + vault);
    assert!(sb.banks.get_account(c.collection).await.unwrap().is_none());
    assert_eq!(sb.lamports(&c.vault).await, 0);
    // Closed: minting or adding stages now fails, and the collection cannot be re-created
    // (its group mint already exists).
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    let err = sb.mint(&buyer, &c, 0).await.unwrap_err();
    assert_eq!(err_at(err, 0), u32::from(AnchorErrorCode::AccountNotInitialized));
    sb.fails(
        &[add_stage_ix(auth.pubkey(), c.collection, stage(UnlockRule::At(0), 1))],
        &[&auth],
        u32::from(AnchorErrorCode::AccountNotInitialized),
    )
    .await;
    // Revival inside one transaction: close, then use it again in the next instruction.
    let c2 = sb.make_collection(&[10_000], 0, 10, &[]).await;
    let auth2 = c2.authority.insecure_clone();
    sb.fails(
        &[close_ix(auth2.pubkey(), &c2), add_stage_ix(auth2.pubkey(), c2.collection, stage(UnlockRule::At(0), 0))],
        &[&auth2],
        u32::from(AnchorErrorCode::AccountNotInitialized),
    )
    .await;
}

#[tokio::test]
async fn close_collection_refuses_once_minted() {
    let mut sb = start().await;
    let c = sb.make_collection(&[10_000], 0, 10, &[stage(UnlockRule::At(0), 0)]).await;
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    sb.mint(&buyer, &c, 0).await.unwrap();
    let auth = c.authority.insecure_clone();
    sb.fails(&[close_ix(auth.pubkey(), &c)], &[&auth], code(E::CollectionNotEmpty)).await;
}

// ---------------------------------------------------------------------------------------------
// Input validation: every error of create_collection, add_stage and mint_nft.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_collection_refuses_bad_parameters() {
    let mut sb = start().await;
    let authority = sb.funded(LAMPORTS_PER_SOL).await;
    let a = Keypair::new().pubkey();
    let b = Keypair::new().pubkey();
    let ok = || args(&[(a, 6_000), (b, 4_000)], 1, 10);
    let mut cases: Vec<(chrysalis::CollectionArgs, E)> = Vec::new();
    let mut x = ok();
    x.name = String::new();
    cases.push((x, E::InvalidName));
    let mut x = ok();
    x.name = "n".repeat(33);
    cases.push((x, E::InvalidName));
    let mut x = ok();
    x.symbol = "S".repeat(11);
    cases.push((x, E::InvalidSymbol));
    let mut x = ok();
    x.uri = "u".repeat(129);
    cases.push((x, E::InvalidUri));
    cases.push((args(&[], 1, 10), E::TooManyCreators));
    let seventeen: Vec<(Pubkey, u16)> =
        (0..17).map(|i| (Keypair::new().pubkey(), if i == 0 { 10_000 - 16 } else { 1 })).collect();
    cases.push((args(&seventeen, 1, 10), E::TooManyCreators));
    cases.push((args(&[(a, 6_000), (b, 3_999)], 1, 10), E::SharesMustSumTo10000));
    // Shares that would wrap a u16 sum back to 10 000 are refused (summed in u32).
    cases.push((args(&[(a, 65_535), (b, 10_001)], 1, 10), E::SharesMustSumTo10000));
    cases.push((args(&[(a, 10_000), (b, 0)], 1, 10), E::ZeroShare));
    // Duplicate creator (a duplicate mutable account in the making).
    cases.push((args(&[(a, 5_000), (a, 5_000)], 1, 10), E::DuplicateCreator));
    let mut x = ok();
    x.royalty_bps = 10_001;
    cases.push((x, E::InvalidRoyalty));
    cases.push((args(&[(a, 10_000)], 1, 0), E::InvalidMaxSupply));
    for (bad, expected) in cases {
        let group = Keypair::new();
        let ix = create_collection_ix(authority.pubkey(), group.pubkey(), bad);
        sb.fails(&[ix], &[&authority, &group], code(expected)).await;
    }
    // The vault or the collection itself as a creator.
    let group = Keypair::new();
    let collection = collection_pda(&group.pubkey());
    let ix = create_collection_ix(authority.pubkey(), group.pubkey(), args(&[(vault_pda(&collection), 10_000)], 1, 10));
    sb.fails(&[ix], &[&authority, &group], code(E::InvalidCreator)).await;
    let ix = create_collection_ix(authority.pubkey(), group.pubkey(), args(&[(collection, 10_000)], 1, 10));
    sb.fails(&[ix], &[&authority, &group], code(E::InvalidCreator)).await;
    // 16 creators fit in one transaction.
    let sixteen: Vec<(Pubkey, u16)> = (0..16).map(|_| (Keypair::new().pubkey(), 625)).collect();
    let ix = create_collection_ix(authority.pubkey(), group.pubkey(), args(&sixteen, 1, 10));
    sb.send(&[ix], &[&authority, &group]).await.unwrap();
    assert_eq!(sb.collection(&collection).await.creators.len(), 16);
}

#[tokio::test]
async fn add_stage_refuses_strangers_bad_stages_and_locks_after_first_mint() {
    let mut sb = start().await;
    let c = sb.make_collection(&[10_000], 0, 10, &[]).await;
    let auth = c.authority.insecure_clone();
    let stranger = sb.funded(LAMPORTS_PER_SOL).await;
    let add = |who: Pubkey, s: Stage| add_stage_ix(who, c.collection, s);
    sb.fails(&[add(stranger.pubkey(), stage(UnlockRule::At(0), 0))], &[&stranger], code(E::NotCollectionAuthority))
        .await;
    let mut unsigned = add(auth.pubkey(), stage(UnlockRule::At(0), 0));
    unsigned.accounts[0].is_signer = false;
    sb.fails(&[unsigned], &[], u32::from(AnchorErrorCode::AccountNotSigner)).await;
    let mut long = stage(UnlockRule::At(0), 0);
    long.base_uri = "u".repeat(97);
    sb.fails(&[add(auth.pubkey(), long)], &[&auth], code(E::InvalidUri)).await;
    sb.fails(&[add(auth.pubkey(), stage(UnlockRule::At(-1), 0))], &[&auth], code(E::InvalidRule)).await;
    sb.fails(&[add(auth.pubkey(), stage(UnlockRule::AfterMint(-5), 0))], &[&auth], code(E::InvalidRule)).await;
    // Minting needs a stage.
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    let err = sb.mint(&buyer, &c, 0).await.unwrap_err();
    assert_eq!(err_at(err, 0), code(E::NoStages));
    let events = simulate_events(&mut sb, &[add(auth.pubkey(), stage(UnlockRule::At(0), 0))], &[&auth]).await;
    let ev: StageAdded = decode(&events);
    assert_eq!(ev, StageAdded { collection: c.collection, stage: 0, content_root: [0; 32] });
    for n in 0..8 {
        sb.send(&[add(auth.pubkey(), stage(UnlockRule::At(i64::from(n)), n))], &[&auth]).await.unwrap();
    }
    assert_eq!(sb.collection(&c.collection).await.stages[7], stage(UnlockRule::At(7), 7));
    sb.fails(&[add(auth.pubkey(), stage(UnlockRule::At(9), 9))], &[&auth], code(E::TooManyStages)).await;
    let c2 = sb.make_collection(&[10_000], 0, 10, &[stage(UnlockRule::At(0), 0)]).await;
    sb.mint(&buyer, &c2, 0).await.unwrap();
    let auth2 = c2.authority.insecure_clone();
    sb.fails(
        &[add_stage_ix(auth2.pubkey(), c2.collection, stage(UnlockRule::At(1), 1))],
        &[&auth2],
        code(E::StagesLocked),
    )
    .await;
}

#[tokio::test]
async fn mint_refuses_out_of_range_repeated_index_and_unsigned_buyer() {
    let mut sb = start().await;
    let c = sb.make_collection(&[10_000], 1_000, 2, &basic_stages()).await;
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    let err = sb.mint(&buyer, &c, 2).await.unwrap_err();
    assert_eq!(err_at(err, 0), code(E::IndexOutOfRange));
    sb.mint(&buyer, &c, 0).await.unwrap();
    // Index 0 again: it is no longer the next index.
    let other = sb.funded(LAMPORTS_PER_SOL).await;
    let before = sb.banks.get_account(nft_pda(&c.collection, 0)).await.unwrap().unwrap();
    let err = sb.mint(&other, &c, 0).await.unwrap_err();
    assert_eq!(err_at(err, 0), code(E::NotNextIndex));
    // Re-initialisation, should the count ever be wrong: with `minted` set back to 0, index
    // 0's mint exists (owned by Token-2022, with data), so creating it is refused and nothing
    // changes: the first buyer keeps the NFT.
    sb.fast_forward(&c, 0).await;
    let err = sb.mint(&other, &c, 0).await.unwrap_err();
    assert_eq!(err_at(err, 0), code(E::AccountAlreadyInUse));
    assert_eq!(sb.banks.get_account(nft_pda(&c.collection, 0)).await.unwrap().unwrap(), before);
    assert!(sb.banks.get_account(ata(&other.pubkey(), &nft_pda(&c.collection, 0))).await.unwrap().is_none());
    sb.fast_forward(&c, 1).await;
    sb.mint(&other, &c, 1).await.unwrap();
    assert_eq!(sb.collection(&c.collection).await.minted, 2);
    let err = sb.mint(&other, &c, 1).await.unwrap_err();
    assert_eq!(err_at(err, 0), code(E::SoldOut));
    // Missing signer: claiming to be a buyer without their signature.
    let c2 = sb.make_collection(&[10_000], 1_000, 2, &basic_stages()).await;
    let mut ix = mint_ix(buyer.pubkey(), &c2, 0, [0; 32]);
    ix.accounts[0].is_signer = false;
    sb.fails(&[ix], &[], u32::from(AnchorErrorCode::AccountNotSigner)).await;
    // A buyer who cannot pay the price fails in the System program, nothing minted.
    let poor = sb.funded(3_000_000).await;
    let c3 = sb.make_collection(&[10_000], LAMPORTS_PER_SOL, 2, &basic_stages()).await;
    assert!(sb.mint(&poor, &c3, 0).await.is_err());
    assert!(sb.banks.get_account(nft_pda(&c3.collection, 0)).await.unwrap().is_none());
}

// ---------------------------------------------------------------------------------------------
// Sealevel attacks: forged, substituted and confused accounts.
// ---------------------------------------------------------------------------------------------

/// Plants `data` at a fresh address, owned by `owner`.
fn plant(sb: &mut Sandbox, owner: Pubkey, data: Vec<u8>) -> Pubkey {
    let key = Keypair::new().pubkey();
    let account = solana_account::Account { lamports: LAMPORTS_PER_SOL, data, owner, executable: false, rent_epoch: 0 };
    sb.ctx.set_account(&key, &account.into());
    key
}

#[tokio::test]
async fn forged_collections_vaults_mints_and_group_mints_are_refused() {
    let mut sb = start().await;
    let c = sb.make_collection(&[10_000], 1_000, 10, &basic_stages()).await;
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    sb.mint(&buyer, &c, 0).await.unwrap();
    let real = sb.banks.get_account(c.collection).await.unwrap().unwrap();

    // Wrong owner: a byte-for-byte copy of the collection owned by another program.
    let fake_owner = plant(&mut sb, Keypair::new().pubkey(), real.data.clone());
    // Forged collection: a copy owned by our program at a non-PDA address (its authority
    // field could say anything; here it names the attacker).
    let attacker = sb.funded(LAMPORTS_PER_SOL).await;
    let mut forged: Collection = anchor_lang::AccountDeserialize::try_deserialize(&mut real.data.as_slice()).unwrap();
    forged.authority = attacker.pubkey();
    let mut forged_data = Vec::new();
    anchor_lang::AccountSerialize::try_serialize(&forged, &mut forged_data).unwrap();
    forged_data.resize(real.data.len(), 0);
    let fake_pda = plant(&mut sb, chrysalis::ID, forged_data.clone());
    // Bump substitution: the real address's data with another bump.
    let mut bumped = forged.clone();
    bumped.authority = c.authority.pubkey();
    bumped.bump = bumped.bump.wrapping_sub(1);
    let mut bumped_data = Vec::new();
    anchor_lang::AccountSerialize::try_serialize(&bumped, &mut bumped_data).unwrap();
    bumped_data.resize(real.data.len(), 0);
    // Type confusion: our program's account with another discriminator.
    let mut confused = real.data.clone();
    confused[..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let confused_key = plant(&mut sb, chrysalis::ID, confused);

    let with_collection = |key: Pubkey| {
        let mut ix = evolve_ix(attacker.pubkey(), &c, 0, 1, None);
        ix.accounts[1].pubkey = key;
        ix
    };
    sb.fails(&[with_collection(fake_owner)], &[&attacker], u32::from(AnchorErrorCode::AccountOwnedByWrongProgram))
        .await;
    sb.fails(&[with_collection(fake_pda)], &[&attacker], u32::from(AnchorErrorCode::ConstraintSeeds)).await;
    sb.fails(&[with_collection(confused_key)], &[&attacker], u32::from(AnchorErrorCode::AccountDiscriminatorMismatch))
        .await;
    // The forged collection cannot be used to trigger creator stages or add stages either.
    let mut add = add_stage_ix(attacker.pubkey(), fake_pda, stage(UnlockRule::At(0), 0));
    add.accounts[1].is_writable = true;
    sb.fails(&[add], &[&attacker], u32::from(AnchorErrorCode::ConstraintSeeds)).await;
    // Type confusion the other way: a Token-2022 mint passed as the collection.
    sb.fails(&[with_collection(c.group_mint)], &[&attacker], u32::from(AnchorErrorCode::AccountOwnedByWrongProgram))
        .await;

    // Forged vault: the price cannot be diverted to another account.
    let mut ix = mint_ix(buyer.pubkey(), &c, 1, [1; 32]);
    ix.accounts[3].pubkey = attacker.pubkey();
    sb.fails(&[ix], &[&buyer], u32::from(AnchorErrorCode::ConstraintSeeds)).await;
    let mut ix = distribute_ix(&c, &c.creators);
    ix.accounts[1].pubkey = attacker.pubkey();
    sb.fails(&[ix], &[], u32::from(AnchorErrorCode::ConstraintSeeds)).await;
    // Forged group mint.
    let other = sb.make_collection(&[10_000], 0, 10, &basic_stages()).await;
    let mut ix = mint_ix(buyer.pubkey(), &c, 1, [1; 32]);
    ix.accounts[2].pubkey = other.group_mint;
    sb.fails(&[ix], &[&buyer], u32::from(AnchorErrorCode::ConstraintAddress)).await;
    // Mint substitution: another index's mint, or a mint of another collection.
    let mut ix = evolve_ix(attacker.pubkey(), &c, 0, 1, None);
    sb.mint(&buyer, &other, 0).await.unwrap();
    ix.accounts[2].pubkey = nft_pda(&other.collection, 0);
    sb.fails(&[ix], &[&attacker], u32::from(AnchorErrorCode::ConstraintSeeds)).await;
    let mut ix = mint_ix(buyer.pubkey(), &c, 1, [1; 32]);
    ix.accounts[4].pubkey = nft_pda(&c.collection, 2);
    ix.accounts[5].pubkey = ata(&buyer.pubkey(), &nft_pda(&c.collection, 2));
    sb.fails(&[ix], &[&buyer], u32::from(AnchorErrorCode::ConstraintSeeds)).await;
    // Owner proof with a token account of another NFT (same owner) is refused.
    let auth = other.authority.insecure_clone();
    let other_ata = ata(&buyer.pubkey(), &nft_pda(&other.collection, 0));
    let _ = auth;
    sb.set_time(i64::MAX / 2).await;
    sb.send(&[evolve_ix(attacker.pubkey(), &c, 0, 1, None)], &[&attacker]).await.unwrap();
    sb.fails(
        &[evolve_ix(buyer.pubkey(), &c, 0, 2, Some(other_ata))],
        &[&buyer],
        u32::from(AnchorErrorCode::ConstraintTokenMint),
    )
    .await;

    // Bump substitution: the real collection's address, its stored bump changed.
    let mut account = real.clone();
    account.data = bumped_data;
    sb.ctx.set_account(&c.collection, &account.into());
    sb.fails(
        &[evolve_ix(attacker.pubkey(), &c, 0, 2, None)],
        &[&attacker],
        u32::from(AnchorErrorCode::ConstraintSeeds),
    )
    .await;
}

#[tokio::test]
async fn duplicate_mutable_accounts_are_refused() {
    let mut sb = start().await;
    let c = sb.make_collection(&[10_000], 1_000, 10, &basic_stages()).await;
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    // The buyer's wallet passed as the vault: refused (seeds), never a self-payment.
    let mut ix = mint_ix(buyer.pubkey(), &c, 0, [0; 32]);
    ix.accounts[3].pubkey = buyer.pubkey();
    let err = sb.send(&[ix], &[&buyer]).await.unwrap_err();
    let code_ = err_at(err, 0);
    assert!(
        code_ == u32::from(AnchorErrorCode::ConstraintDuplicateMutableAccount)
            || code_ == u32::from(AnchorErrorCode::ConstraintSeeds),
        "got {code_}"
    );
    // Every mutable slot is pinned to its own address (seeds or `address`) or owner, so one
    // account in two mutable slots is refused by that check before Anchor's duplicate check.
    let pinned = [
        u32::from(AnchorErrorCode::ConstraintDuplicateMutableAccount),
        u32::from(AnchorErrorCode::ConstraintSeeds),
        u32::from(AnchorErrorCode::ConstraintAddress),
        u32::from(AnchorErrorCode::AccountNotSystemOwned),
        u32::from(AnchorErrorCode::AccountOwnedByWrongProgram),
    ];
    let slots = [(1usize, 2usize), (1, 3), (2, 3), (3, 1), (4, 3)];
    for (from, to) in slots {
        let mut ix = mint_ix(buyer.pubkey(), &c, 0, [0; 32]);
        ix.accounts[to].pubkey = ix.accounts[from].pubkey;
        let err = sb.send(&[ix], &[&buyer]).await.unwrap_err();
        let got = err_at(err, 0);
        assert!(pinned.contains(&got), "slots {from}->{to}: got {got}");
    }
    // Distribute with a creator twice: refused (see distribute_refuses_...), and
    // create_collection refuses a creator listed twice (DuplicateCreator).
}

/// The attack: before any mint, a stranger sends dust to the vault and calls the
/// permissionless distribute, hoping to leave each fresh creator wallet "owed" a few lamports
/// it cannot receive (below its rent minimum), so that close_collection fails with VaultOwes
/// for good. Nothing is split before the first mint: the dust stays unassigned, nobody is
/// owed anything, and closing refunds it to the authority.
#[tokio::test]
async fn a_strangers_dust_cannot_block_close_collection() {
    let mut sb = start().await;
    let c = sb.make_collection(&[5_000, 3_000, 2_000], 0, 10, &[]).await;
    sb.fund(&c.vault, 16).await;
    // Anyone may call distribute: the bank's payer stands for the stranger.
    let ix = distribute_ix(&c, &c.creators);
    sb.send(&[ix], &[]).await.unwrap();
    assert!(sb.collection(&c.collection).await.creators.iter().all(|cr| cr.owed == 0), "nothing is owed before a mint");
    let auth = c.authority.insecure_clone();
    let before = sb.lamports(&auth.pubkey()).await;
    let vault = sb.lamports(&c.vault).await;
    sb.send(&[close_ix(auth.pubkey(), &c)], &[&auth]).await.unwrap();
    let after = sb.lamports(&auth.pubkey()).await;
    assert!(after + 10_000 >= before + vault, "the vault, dust included, went back to the authority (minus the fee)");
    assert!(sb.banks.get_account(c.vault).await.unwrap().is_none_or(|a| a.lamports == 0));
}

/// Wire size of a signed transaction (Solana's packet limit is 1 232 bytes).
fn wire_size(tx: &Transaction) -> usize {
    1 + 64 * tx.signatures.len() + tx.message.serialize().len()
}

#[tokio::test]
async fn sixteen_creators_fit_every_transaction_and_get_paid() {
    let mut sb = start().await;
    let shares = [625u16; 16];
    let price = LAMPORTS_PER_SOL;
    let mut stages = Vec::new();
    for n in 0..8u8 {
        let mut s = stage(UnlockRule::At(0), n);
        s.base_uri = format!("ipfs://{}/", "b".repeat(88)); // 96 bytes, the maximum
        stages.push(s);
    }
    let authority = sb.funded(LAMPORTS_PER_SOL).await;
    let group = Keypair::new();
    let creators: Vec<Pubkey> = shares.iter().map(|_| Keypair::new().pubkey()).collect();
    let pairs: Vec<(Pubkey, u16)> = creators.iter().copied().zip(shares).collect();
    let mut a = args(&pairs, price, 100);
    a.name = "N".repeat(32);
    a.symbol = "S".repeat(10);
    a.uri = "u".repeat(128);
    let create = create_collection_ix(authority.pubkey(), group.pubkey(), a);
    // The authority pays the fees: two signatures (authority, group mint).
    let blockhash = sb.banks.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(&[create], Some(&authority.pubkey()), &[&authority, &group], blockhash);
    let size = wire_size(&tx);
    println!("create_collection, 16 creators, longest strings: {size} bytes");
    assert!(size <= 1232, "{size}");
    sb.banks.process_transaction(tx).await.unwrap();
    let collection = collection_pda(&group.pubkey());
    for s in stages {
        let tx = sb.tx(&[add_stage_ix(authority.pubkey(), collection, s)], &[&authority]).await;
        assert!(wire_size(&tx) <= 1232);
        sb.banks.process_transaction(tx).await.unwrap();
    }
    let c = Coll {
        authority,
        group_mint: group.pubkey(),
        collection,
        vault: vault_pda(&collection),
        creators: creators.clone(),
        recipes: recipes(100),
    };
    sb.commit(&c).await;
    // The last two indices: the longest names, URIs and proofs.
    sb.fast_forward(&c, 98).await;
    let buyer = sb.funded(3 * LAMPORTS_PER_SOL).await;
    let tx = sb.tx(&[mint_ix(buyer.pubkey(), &c, 98, c.recipes[98])], &[&buyer]).await;
    let size = wire_size(&tx);
    println!("mint_nft without creator wallets: {size} bytes");
    assert!(size <= 1232);
    sb.banks.process_transaction(tx).await.unwrap();
    let tx = sb.tx(&[distribute_ix(&c, &creators)], &[]).await;
    let size = wire_size(&tx);
    println!("distribute_royalties, 16 creators: {size} bytes");
    assert!(size <= 1232);
    sb.banks.process_transaction(tx).await.unwrap();
    for w in &creators {
        assert_eq!(sb.lamports(w).await, price / 16);
    }
    let rent0 = sb.banks.get_rent().await.unwrap().minimum_balance(0);
    assert_eq!(sb.lamports(&c.vault).await, rent0);

    // Paid in the mint transaction itself: the 16 wallets as remaining accounts still fit.
    let mut ix = mint_ix(buyer.pubkey(), &c, 99, c.recipes[99]);
    ix.accounts.extend(creators.iter().map(|w| anchor_lang::solana_program::instruction::AccountMeta::new(*w, false)));
    let blockhash = sb.banks.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(&[ix.clone()], Some(&buyer.pubkey()), &[&buyer], blockhash);
    let size = wire_size(&tx);
    println!("mint_nft paying 16 creators directly: {size} bytes");
    assert!(size <= 1232, "{size}");
    let events = simulate_events(&mut sb, &[ix], &[&buyer]).await;
    let ev: NftMinted = decode(&events);
    assert_eq!(ev.paid, price);
    sb.banks.process_transaction(tx).await.unwrap();
    for w in &creators {
        assert_eq!(sb.lamports(w).await, 2 * (price / 16));
    }
    assert_eq!(sb.lamports(&c.vault).await, rent0);
    assert!(sb.collection(&c.collection).await.creators.iter().all(|c| c.owed == 0));
}

#[tokio::test]
async fn mint_with_wallets_pays_who_can_receive_and_keeps_the_rest_owed() {
    let mut sb = start().await;
    let price = 1_000_000; // 500k each: below a fresh wallet's rent-exempt minimum
    let c = sb.make_collection(&[5_000, 5_000], price, 10, &basic_stages()).await;
    sb.fund(&c.creators[0], 1_000_000).await; // creator 0's wallet exists
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    let mut ix = mint_ix(buyer.pubkey(), &c, 0, [0; 32]);
    ix.accounts
        .extend(c.creators.iter().map(|w| anchor_lang::solana_program::instruction::AccountMeta::new(*w, false)));
    sb.send(&[ix], &[&buyer]).await.unwrap();
    assert_eq!(sb.lamports(&c.creators[0]).await, 1_500_000);
    assert_eq!(sb.lamports(&c.creators[1]).await, 0);
    let col = sb.collection(&c.collection).await;
    assert_eq!((col.creators[0].owed, col.creators[1].owed), (0, 500_000));
    // Wrong wallets in a mint are refused like in a distribution.
    let mut ix = mint_ix(buyer.pubkey(), &c, 1, [1; 32]);
    ix.accounts.extend(
        [c.creators[1], c.creators[0]]
            .iter()
            .map(|w| anchor_lang::solana_program::instruction::AccountMeta::new(*w, false)),
    );
    sb.fails(&[ix], &[&buyer], code(E::CreatorMismatch)).await;
}

#[tokio::test]
async fn mint_without_after_mint_stages_stores_no_mint_time_and_costs_less() {
    let mut sb = start().await;
    let c =
        sb.make_collection(&[10_000], 0, 100, &[stage(UnlockRule::At(0), 0), stage(UnlockRule::OwnerTrigger, 1)]).await;
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    sb.fast_forward(&c, 42).await;
    let before = sb.lamports(&buyer.pubkey()).await;
    let blockhash = sb.banks.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(
        &[mint_ix(buyer.pubkey(), &c, 42, c.recipes[42])],
        Some(&buyer.pubkey()),
        &[&buyer],
        blockhash,
    );
    sb.banks.process_transaction(tx).await.unwrap();
    let cost = before - sb.lamports(&buyer.pubkey()).await;
    println!(
        "COST PER NFT without AfterMint stages: {cost} lamports = {:.6} SOL; goal 0.0046 SOL",
        cost as f64 / LAMPORTS_PER_SOL as f64
    );
    let md = sb.metadata(&nft_pda(&c.collection, 42)).await;
    let keys: Vec<&str> = md.additional_metadata.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["stage", "recipe", "collection", "royalty_bps", "royalty_receiver"]);
    let acc = sb.banks.get_account(nft_pda(&c.collection, 42)).await.unwrap().unwrap();
    let rent = sb.banks.get_rent().await.unwrap();
    assert_eq!(acc.lamports, rent.minimum_balance(acc.data.len()));
    // Owner-triggered evolution still works without the field.
    let ata_ = ata(&buyer.pubkey(), &nft_pda(&c.collection, 42));
    sb.send(&[evolve_ix(buyer.pubkey(), &c, 42, 1, Some(ata_))], &[&buyer]).await.unwrap();
    assert_eq!(stage_of(&mut sb, &c, 42).await.0, "1");
}

/// Errors that honest use cannot reach (the program creates every NFT mint and alone can move
/// the vault's lamports), checked with accounts planted directly in the bank.
#[tokio::test]
async fn defensive_errors_bad_metadata_and_underfunded_vault() {
    use anchor_lang::solana_program::{program_option::COption, program_pack::Pack};
    let mut sb = start().await;
    let c = sb.make_collection(&[10_000], 1_000_000, 10, &basic_stages()).await;
    // A Token-2022 mint at NFT 5's address, without metadata.
    let mut data = vec![0u8; MintState::LEN];
    MintState::pack(
        MintState {
            mint_authority: COption::None,
            supply: 1,
            decimals: 0,
            is_initialized: true,
            freeze_authority: COption::None,
        },
        &mut data,
    )
    .unwrap();
    let account = solana_account::Account {
        lamports: LAMPORTS_PER_SOL,
        data,
        owner: TOKEN_2022,
        executable: false,
        rent_epoch: 0,
    };
    sb.ctx.set_account(&nft_pda(&c.collection, 5), &account.into());
    let crank = sb.funded(LAMPORTS_PER_SOL).await;
    sb.fails(&[evolve_ix(crank.pubkey(), &c, 5, 1, None)], &[&crank], code(E::BadMetadata)).await;

    // A vault holding less than it owes.
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    sb.mint(&buyer, &c, 0).await.unwrap();
    let rent0 = sb.banks.get_rent().await.unwrap().minimum_balance(0);
    let vault = solana_account::Account {
        lamports: rent0 + 10,
        data: vec![],
        owner: system_program(),
        executable: false,
        rent_epoch: 0,
    };
    sb.ctx.set_account(&c.vault, &vault.into());
    sb.fails(&[distribute_ix(&c, &c.creators)], &[], code(E::VaultUnderfunded)).await;
}

// ---------------------------------------------------------------------------------------------
// Squatting: lamports sent to an address before the program creates an account there.
// ---------------------------------------------------------------------------------------------

/// Rent-exempt minimum of `len` bytes.
async fn rent(sb: &mut Sandbox, len: usize) -> u64 {
    let rent: anchor_lang::prelude::Rent = sb.banks.get_sysvar().await.unwrap();
    rent.minimum_balance(len)
}

#[tokio::test]
async fn pre_funded_collection_group_mint_and_vault_cannot_block_create_collection() {
    let mut sb = start().await;
    // Baseline: what a collection costs its authority with no gifts around.
    let authority = sb.funded(LAMPORTS_PER_SOL).await;
    let group = Keypair::new();
    let creators = [(Keypair::new().pubkey(), 10_000)];
    let before = sb.lamports(&authority.pubkey()).await;
    let create = create_collection_ix(authority.pubkey(), group.pubkey(), args(&creators, 1_000, 10));
    sb.send(&[create], &[&authority, &group]).await.unwrap();
    let baseline = before - sb.lamports(&authority.pubkey()).await;
    // The group mint's metadata holds the vault's address in base58, 43 or 44 characters
    // depending on the key: the bill is compared for the same mint size.
    let baseline_group_len = sb.banks.get_account(group.pubkey()).await.unwrap().unwrap().data.len();

    // The attack: the group mint's address (seen in the pending transaction), the collection
    // PDA derived from it and the vault all hold lamports before `create_collection` runs.
    // 890 880 is the rent of an empty account: the amount that bricked Anchor's `init`.
    let authority = sb.funded(LAMPORTS_PER_SOL).await;
    let group = Keypair::new();
    let collection = collection_pda(&group.pubkey());
    let vault = vault_pda(&collection);
    let gifts = [(group.pubkey(), 890_880), (collection, 890_880), (vault, 900_000)];
    for (to, lamports) in gifts {
        sb.fund(&to, lamports).await;
    }
    let before = sb.lamports(&authority.pubkey()).await;
    let create = create_collection_ix(authority.pubkey(), group.pubkey(), args(&creators, 1_000, 10));
    sb.send(&[create], &[&authority, &group]).await.unwrap();
    let paid = before - sb.lamports(&authority.pubkey()).await;
    // The gifts stay with the accounts and lower the bill by what each account needed (the
    // vault's gift is above its rent-exempt minimum: it saves the authority that minimum).
    let vault_rent = rent(&mut sb, 0).await;
    let group_len = sb.banks.get_account(group.pubkey()).await.unwrap().unwrap().data.len();
    let same_size_baseline = baseline + rent(&mut sb, group_len).await - rent(&mut sb, baseline_group_len).await;
    assert_eq!(paid, same_size_baseline - 890_880 - 890_880 - vault_rent);
    let state = sb.collection(&collection).await;
    assert_eq!((state.group_mint, state.authority, state.max_supply), (group.pubkey(), authority.pubkey(), 10));
    let acc = sb.banks.get_account(collection).await.unwrap().unwrap();
    assert_eq!((acc.owner, acc.lamports), (chrysalis::ID, rent(&mut sb, acc.data.len()).await));
    let acc = sb.banks.get_account(group.pubkey()).await.unwrap().unwrap();
    assert_eq!(acc.owner, TOKEN_2022);
    let mint = StateWithExtensions::<MintState>::unpack(&acc.data).unwrap();
    assert_eq!(mint.base.mint_authority, Some(collection).into());
    assert_eq!(
        mint.get_extension::<MetadataPointer>().unwrap().metadata_address,
        Some(group.pubkey()).try_into().unwrap()
    );
    assert_eq!(sb.lamports(&vault).await, 900_000, "the vault keeps its gift (already rent-exempt)");

    // A gift larger than the rent: the payer pays nothing for that account, and it keeps it all.
    let c = Coll {
        authority,
        group_mint: group.pubkey(),
        collection,
        vault,
        creators: vec![creators[0].0],
        recipes: recipes(10),
    };
    sb.send(&[add_stage_ix(c.authority.pubkey(), collection, stage(UnlockRule::CreatorTrigger, 0))], &[&c.authority])
        .await
        .unwrap();
    sb.commit(&c).await;
    let rich = nft_pda(&collection, 0);
    sb.fund(&rich, LAMPORTS_PER_SOL).await;
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    sb.mint(&buyer, &c, 0).await.unwrap();
    assert!(sb.lamports(&rich).await >= LAMPORTS_PER_SOL, "the gift stays with the mint");
}

#[tokio::test]
async fn pre_funded_nft_mint_and_buyer_token_account_cannot_block_mint_nft() {
    let mut sb = start().await;
    let price = 7_000_000;
    let c = sb.make_collection(&[6_000, 4_000], price, 10, &basic_stages()).await;
    // Baseline: index 0, no gifts.
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    let before = sb.lamports(&buyer.pubkey()).await;
    sb.mint(&buyer, &c, 0).await.unwrap();
    let baseline = before - sb.lamports(&buyer.pubkey()).await;

    // The attack: the next index's mint PDA and the next buyer's ATA for it hold lamports.
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    let mint = nft_pda(&c.collection, 1);
    let token = ata(&buyer.pubkey(), &mint);
    let gifts = [(mint, 890_880), (token, 1_000_000)];
    for (to, lamports) in gifts {
        sb.fund(&to, lamports).await;
    }
    let vault_before = sb.lamports(&c.vault).await;
    let before = sb.lamports(&buyer.pubkey()).await;
    sb.mint(&buyer, &c, 1).await.unwrap();
    assert_eq!(before - sb.lamports(&buyer.pubkey()).await, baseline - gifts.iter().map(|g| g.1).sum::<u64>());
    assert_eq!(sb.lamports(&c.vault).await - vault_before, price, "the vault got the price, no more, no less");
    // A real NFT: supply 1 in the buyer's token account, its mint authority gone, its name right.
    let acc = sb.banks.get_account(token).await.unwrap().unwrap();
    let held = StateWithExtensions::<TokenAccountState>::unpack(&acc.data).unwrap().base;
    assert_eq!((held.mint, held.owner, held.amount), (mint, buyer.pubkey(), 1));
    let acc = sb.banks.get_account(mint).await.unwrap().unwrap();
    assert_eq!(acc.lamports, rent(&mut sb, acc.data.len()).await);
    let state = StateWithExtensions::<MintState>::unpack(&acc.data).unwrap();
    assert_eq!((state.base.supply, state.base.mint_authority), (1, None.into()));
    assert_eq!(sb.metadata(&mint).await.name, "Chrysalis Moths #2");
    assert_eq!(sb.collection(&c.collection).await.minted, 2);
}

// ---------------------------------------------------------------------------------------------
// The item commitment: recipes fixed before the first mint, indices assigned in order.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn nothing_mints_before_the_items_are_committed_and_only_the_authority_commits() {
    let mut sb = start().await;
    let authority = sb.funded(LAMPORTS_PER_SOL).await;
    let group = Keypair::new();
    let creators = [(Keypair::new().pubkey(), 10_000)];
    let create = create_collection_ix(authority.pubkey(), group.pubkey(), args(&creators, 0, 4));
    sb.send(&[create], &[&authority, &group]).await.unwrap();
    let collection = collection_pda(&group.pubkey());
    sb.send(&[add_stage_ix(authority.pubkey(), collection, stage(UnlockRule::At(0), 0))], &[&authority]).await.unwrap();
    let c = Coll {
        authority,
        group_mint: group.pubkey(),
        collection,
        vault: vault_pda(&collection),
        creators: vec![creators[0].0],
        recipes: recipes(4),
    };
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    let err = sb.mint(&buyer, &c, 0).await.unwrap_err();
    assert_eq!(err_at(err, 0), code(E::ItemsNotCommitted));
    // A stranger cannot commit (nor can the buyer), and all zeros commits nothing.
    let root = c.tree().root();
    sb.fails(&[commit_items_ix(buyer.pubkey(), collection, root)], &[&buyer], code(E::NotCollectionAuthority)).await;
    let mut unsigned = commit_items_ix(c.authority.pubkey(), collection, root);
    unsigned.accounts[0].is_signer = false;
    sb.fails(&[unsigned], &[], u32::from(AnchorErrorCode::AccountNotSigner)).await;
    let auth = c.authority.insecure_clone();
    sb.fails(&[commit_items_ix(auth.pubkey(), collection, [0; 32])], &[&auth], code(E::InvalidItemRoot)).await;
    // The authority commits (and may change its mind before the first mint).
    sb.send(&[commit_items_ix(auth.pubkey(), collection, [1; 32])], &[&auth]).await.unwrap();
    let events = simulate_events(&mut sb, &[commit_items_ix(auth.pubkey(), collection, root)], &[&auth]).await;
    assert_eq!(decode::<ItemsCommitted>(&events), ItemsCommitted { collection, items_root: root });
    sb.send(&[commit_items_ix(auth.pubkey(), collection, root)], &[&auth]).await.unwrap();
    assert_eq!(sb.collection(&collection).await.items_root, root);
    sb.mint(&buyer, &c, 0).await.unwrap();
    // Locked from the first mint on: the table buyers minted against cannot move.
    sb.ctx.get_new_latest_blockhash().await.unwrap();
    sb.fails(&[commit_items_ix(auth.pubkey(), collection, [2; 32])], &[&auth], code(E::ItemsLocked)).await;
    assert_eq!(sb.collection(&collection).await.items_root, root);
}

#[tokio::test]
async fn a_front_runner_cannot_mint_a_fake_or_borrowed_recipe_nor_pick_an_index() {
    let mut sb = start().await;
    let c = sb.make_collection(&[10_000], 1_000, 8, &basic_stages()).await;
    let attacker = sb.funded(LAMPORTS_PER_SOL).await;
    let proof0 = c.proof(0);
    let with = |recipe: [u8; 32], index: u32, proof: Vec<[u8; 32]>| {
        let mut ix = mint_ix(attacker.pubkey(), &c, index, recipe);
        ix.data =
            anchor_lang::InstructionData::data(&chrysalis::instruction::MintNft { index, recipe_hash: recipe, proof });
        ix
    };
    let bad = code(E::InvalidItemProof);
    // A made-up recipe for index 0, with index 0's real proof.
    sb.fails(&[with([0xee; 32], 0, proof0.clone())], &[&attacker], bad).await;
    // Index 5's recipe copied onto index 0, with either index's proof.
    sb.fails(&[with(c.recipes[5], 0, proof0.clone())], &[&attacker], bad).await;
    sb.fails(&[with(c.recipes[5], 0, c.proof(5))], &[&attacker], bad).await;
    // No proof, a truncated one, one padded with junk, an absurdly long one.
    sb.fails(&[with(c.recipes[0], 0, vec![])], &[&attacker], bad).await;
    sb.fails(&[with(c.recipes[0], 0, proof0[..proof0.len() - 1].to_vec())], &[&attacker], bad).await;
    let mut padded = proof0.clone();
    padded.push([0; 32]);
    sb.fails(&[with(c.recipes[0], 0, padded)], &[&attacker], bad).await;
    sb.fails(&[with(c.recipes[0], 0, vec![[0; 32]; 33])], &[&attacker], bad).await;
    // Picking the rare index 6 (its art is public): not the next index, whatever the proof.
    sb.fails(&[with(c.recipes[6], 6, c.proof(6))], &[&attacker], code(E::NotNextIndex)).await;
    // Nothing of that touched the collection: index 0 still mints, with its own recipe.
    assert_eq!(sb.collection(&c.collection).await.minted, 0);
    assert!(sb.banks.get_account(nft_pda(&c.collection, 0)).await.unwrap().is_none());
    let buyer = sb.funded(LAMPORTS_PER_SOL).await;
    sb.mint(&buyer, &c, 0).await.unwrap();
    assert_eq!(stage_of(&mut sb, &c, 0).await.0, "0", "minted at stage 0");
    let md = sb.metadata(&nft_pda(&c.collection, 0)).await;
    let recipe = md.additional_metadata.iter().find(|(k, _)| k == "recipe").map(|(_, v)| v.clone());
    assert_eq!(recipe, Some(hex32(&c.recipes[0])));
    // Two buyers racing for the same index: the second is told it is not the next one.
    let err = sb.mint(&attacker, &c, 0).await.unwrap_err();
    assert_eq!(err_at(err, 0), code(E::NotNextIndex));
    sb.mint(&attacker, &c, 1).await.unwrap();
}

fn hex32(b: &[u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Compute budgets (`src/compute.rs`): only CPIs are metered natively; check the budgets cover
// them plus the estimated own work, and print the figures the README's table quotes.
// ---------------------------------------------------------------------------------------------

/// Compute units the bank metered for `ixs` (natively: the CPIs only).
async fn metered(sb: &mut Sandbox, ixs: &[Instruction], signers: &[&Keypair]) -> u64 {
    let tx = sb.tx(ixs, signers).await;
    let sim = sb.banks.simulate_transaction(tx).await.unwrap();
    assert_eq!(sim.result, Some(Ok(())), "simulation failed: {sim:?}");
    sim.simulation_details.unwrap().units_consumed
}

#[tokio::test]
async fn compute_budgets_cover_the_measured_cpis() {
    use chrysalis::compute::{self, OWN_WORK, budget_for};
    let mut sb = start().await;
    let mut rows: Vec<(&str, u64, u32)> = Vec::new();
    // create_collection with 16 creators and the longest strings.
    let authority = sb.funded(10 * LAMPORTS_PER_SOL).await;
    let group = Keypair::new();
    let creators: Vec<Pubkey> = (0..16).map(|_| Keypair::new().pubkey()).collect();
    let pairs: Vec<(Pubkey, u16)> = creators.iter().map(|&c| (c, 625)).collect();
    let mut a = args(&pairs, LAMPORTS_PER_SOL, 1 << 16);
    (a.name, a.symbol, a.uri) = ("N".repeat(32), "S".repeat(10), "u".repeat(128));
    let create = create_collection_ix(authority.pubkey(), group.pubkey(), a);
    let budget = |ix: &Instruction| budget_for(&ix.data).expect("one of ours");
    rows.push((
        "create_collection",
        metered(&mut sb, std::slice::from_ref(&create), &[&authority, &group]).await,
        budget(&create),
    ));
    sb.send(&[create], &[&authority, &group]).await.unwrap();
    let collection = collection_pda(&group.pubkey());
    let mut long = stage(UnlockRule::AfterMint(0), 0);
    long.base_uri = format!("ipfs://{}/", "b".repeat(88));
    let add = add_stage_ix(authority.pubkey(), collection, long.clone());
    rows.push(("add_stage", metered(&mut sb, std::slice::from_ref(&add), &[&authority]).await, budget(&add)));
    sb.send(&[add], &[&authority]).await.unwrap();
    long.base_uri = format!("ipfs://{}/", "c".repeat(88));
    sb.send(&[add_stage_ix(authority.pubkey(), collection, long)], &[&authority]).await.unwrap();
    // A 65 536-item table: a 16-hash proof.
    let c = Coll {
        authority,
        group_mint: group.pubkey(),
        collection,
        vault: vault_pda(&collection),
        creators: creators.clone(),
        recipes: recipes(1 << 16),
    };
    let tree = c.tree();
    let commit = commit_items_ix(c.authority.pubkey(), collection, tree.root());
    rows.push((
        "commit_items",
        metered(&mut sb, std::slice::from_ref(&commit), &[&c.authority]).await,
        budget(&commit),
    ));
    sb.send(&[commit], &[&c.authority]).await.unwrap();
    sb.fast_forward(&c, 65_535).await;
    let buyer = sb.funded(10 * LAMPORTS_PER_SOL).await;
    for w in &creators {
        sb.fund(w, LAMPORTS_PER_SOL).await; // payable wallets: every payout CPI runs
    }
    let mut mint = Instruction {
        data: anchor_lang::InstructionData::data(&chrysalis::instruction::MintNft {
            index: 65_535,
            recipe_hash: c.recipes[65_535],
            proof: tree.proof(65_535).unwrap(),
        }),
        ..mint_ix(buyer.pubkey(), &c, 0, [0; 32])
    };
    mint.accounts[4].pubkey = nft_pda(&collection, 65_535);
    mint.accounts[5].pubkey = ata(&buyer.pubkey(), &nft_pda(&collection, 65_535));
    mint.accounts
        .extend(creators.iter().map(|w| anchor_lang::solana_program::instruction::AccountMeta::new(*w, false)));
    rows.push(("mint_nft", metered(&mut sb, std::slice::from_ref(&mint), &[&buyer]).await, budget(&mint)));
    sb.send(&[mint], &[&buyer]).await.unwrap();
    let evolve = evolve_ix(buyer.pubkey(), &c, 65_535, 1, None);
    rows.push(("evolve", metered(&mut sb, std::slice::from_ref(&evolve), &[&buyer]).await, budget(&evolve)));
    sb.fund(&c.vault, LAMPORTS_PER_SOL).await;
    let distribute = distribute_ix(&c, &creators);
    rows.push((
        "distribute_royalties",
        metered(&mut sb, std::slice::from_ref(&distribute), &[]).await,
        budget(&distribute),
    ));
    for (name, cpis, budget) in &rows {
        println!("COMPUTE {name}: CPIs metered {cpis} CU + own work ≤ {OWN_WORK} → budget {budget}");
        assert!(cpis + u64::from(OWN_WORK) <= u64::from(*budget), "{name}: {cpis} CU of CPIs leave too little room");
    }
    // Clients find the budget from the instruction data.
    let m = mint_ix(buyer.pubkey(), &c, 0, [0; 32]);
    assert_eq!(budget_for(&m.data), Some(compute::MINT_NFT));
    assert_eq!(budget_for(&ping_ix(buyer.pubkey(), 1).data), Some(compute::PING));
    assert_eq!(budget_for(&[1, 2, 3]), None);
}
