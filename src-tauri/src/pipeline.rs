//! The Publish, Mint, Evolve and Royalties screens' commands. Each converts its arguments,
//! calls `chrysalis_pipeline` on the blocking pool (the window never waits) and maps
//! errors; progress streams through a Tauri [`Channel`] as the pipeline's own
//! [`PipelineEvent`]s.
//!
//! ## Resuming
//! Nothing here remembers a job: the pipeline journals every step in the project database
//! and reconciles with the files, the store and the chain when it runs again. So "resume
//! after the app was closed mid-way" is simply running the same command again; the Publish
//! screen reads [`publish_status`] on open to offer exactly that.
//!
//! ## Several machines
//! The Publish screen exports shard jobs (`shard_export`), runs one when the open project is
//! a job folder (`shard_job`, `shard_run`) and imports a job's results (`shard_inspect`,
//! `shard_import`): see `chrysalis_pipeline::shard_jobs` for what a job folder holds.
//!
//! ## Long jobs
//! Publishing, minting and cranking evolutions are jobs (`AppState::start_job`): one at a
//! time, cancelled by `cancel_job` at the pipeline's next checkpoint. Chain access goes
//! through the one open chain of [`crate::chain`].

// `PipelineError` is the pipeline's own (large) error type; it is mapped to the small
// `CommandError` at each command's edge, so boxing it here would only add noise.
#![allow(clippy::result_large_err)]

use std::path::PathBuf;

use chrysalis_chain::Signer;
use chrysalis_core::collection::CollectionSpec;
use chrysalis_core::{CancelToken, Project};
use chrysalis_pipeline::creators::{self, CreatorStatus};
use chrysalis_pipeline::evolve::{self, EvolveReport};
use chrysalis_pipeline::journal::Journal;
use chrysalis_pipeline::merge::{self, ImportReport};
use chrysalis_pipeline::royalties::{self, RoyaltiesReport};
use chrysalis_pipeline::shard::{self, ShardJob};
use chrysalis_pipeline::shard_jobs::{self, JobsExport, ShardCheck};
use chrysalis_pipeline::studio::{self, MintEstimate, MintRecord, PublishStatus, RoyaltyEvent, Timeline};
use chrysalis_pipeline::verify::{self, VerifyReport};
use chrysalis_pipeline::{
    Only, PipelineError, PipelineEvent, PublishOptions, PublishReport, SPEC_FILE, publish_with_chain,
};
use chrysalis_storage::Layout;
use chrysalis_storage::remote::arweave::{self, Arweave, wallet::Wallet as ArweaveWallet};
use chrysalis_storage::remote::credentials::{self as creds, Secret};
use chrysalis_storage::remote::kubo::{self, Kubo};
use chrysalis_storage::remote::pinata::{self, Pinata};
use chrysalis_storage::remote::psa::PinningService;
use chrysalis_storage::remote::{BackendKind, Pinner};
use serde::{Deserialize, Serialize};
use tauri::State;
use tauri::ipc::Channel;
use ts_rs::TS;

use crate::chain::{ChainRequest, project_root, with_chain};
use crate::commands::{blocking, parse_path};
use crate::error::{CommandError, CommandResult, ErrorKind, pipeline_error, sentence};
use crate::secrets::SecretStore;
use crate::state::{AppState, lock};

// ---------------------------------------------------------------------------------------
// Types the UI sends

/// Where the Publish screen sends the files (the local store always gets them too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PublishRequest {
    /// `local`, `kubo`, `psa` (a pinning service), `pinata` or `arweave`.
    pub backend: String,
    /// The backend's address; `None`: its default (Kubo on 127.0.0.1:5001, Pinata's API,
    /// arweave.net). A pinning service has no default.
    pub endpoint: Option<String>,
    /// Arweave only: the JWK wallet file that pays (it stays where it is).
    pub arweave_wallet: Option<String>,
    /// UnixFS layout of every CID: `v0` (Kubo's default), `v1` or `v1-2025`.
    pub layout: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Registers a job, runs `work` with the project and the job's cancel token on the blocking
/// pool, and always finishes the job.
async fn job<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Project, &CancelToken) -> Result<T, PipelineError> + Send + 'static,
) -> CommandResult<T> {
    let project = state.project()?;
    let (id, cancel) = state.start_job()?;
    let token = cancel.clone();
    let result = blocking(move || {
        let project = lock(&project);
        work(&project, &token).map_err(pipeline_error)
    })
    .await;
    state.finish_job(id);
    result.map_err(|e| if cancel.is_cancelled() { CommandError::cancelled() } else { e })
}

/// Sends pipeline events to the UI; a closed window only means nobody watches.
fn sender(channel: Channel<PipelineEvent>) -> impl FnMut(&PipelineEvent) {
    move |e: &PipelineEvent| {
        if let Err(err) = channel.send(e.clone()) {
            tracing::debug!("progress not delivered: {err}");
        }
    }
}

fn parse_layout(layout: Option<&str>) -> CommandResult<Layout> {
    match layout.map(str::trim).filter(|l| !l.is_empty()) {
        None => Ok(Layout::V0),
        Some(l) => {
            l.parse().map_err(|e| CommandError::new(ErrorKind::InvalidInput, format!("{e}. Choose v0, v1 or v1-2025.")))
        }
    }
}

/// A backend's token: its environment variable wins (as in the CLI), else the keyring.
fn token(store: &dyn SecretStore, kind: BackendKind, endpoint: &str) -> CommandResult<Option<Secret>> {
    if let Some(env) = creds::token_env(kind)
        && let Ok(v) = std::env::var(env)
        && !v.trim().is_empty()
    {
        return Ok(Some(Secret::new(v.trim())));
    }
    store.get(&creds::keyring_account(kind, endpoint)).map_err(|e| {
        CommandError::new(
            ErrorKind::Keyring,
            format!(
                "The OS keyring could not be read ({e}). Set {} before starting Chrysalis Studio instead.",
                creds::token_env(kind).unwrap_or("the token's environment variable")
            ),
        )
    })
}

fn missing_token(kind: BackendKind) -> CommandError {
    CommandError::new(
        ErrorKind::InvalidInput,
        format!(
            "{} needs a token: save it under \"Token\" on this screen (it goes to the OS keyring) or set {}.",
            kind.display_name(),
            creds::token_env(kind).unwrap_or("its environment variable")
        ),
    )
}

/// The remote backend of a publish request (`None` for the local store alone).
fn remote(store: &dyn SecretStore, request: &PublishRequest) -> CommandResult<Option<Box<dyn Pinner>>> {
    let kind = BackendKind::ALL.into_iter().find(|k| k.as_str() == request.backend.trim()).ok_or_else(|| {
        CommandError::new(
            ErrorKind::InvalidInput,
            format!("Unknown backend \"{}\": choose local, kubo, psa, pinata or arweave.", request.backend),
        )
    })?;
    let endpoint = request.endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty());
    Ok(match kind {
        BackendKind::Local => None,
        BackendKind::Kubo => {
            let url = endpoint.unwrap_or(kubo::DEFAULT_ENDPOINT);
            Some(Box::new(Kubo::new(url, token(store, kind, url)?)) as Box<dyn Pinner>)
        }
        BackendKind::Psa => {
            let Some(url) = endpoint else {
                return Err(CommandError::new(
                    ErrorKind::InvalidInput,
                    "Enter the pinning service's API address, for example https://api.pinata.cloud/psa.",
                ));
            };
            let tok = token(store, kind, url)?.ok_or_else(|| missing_token(kind))?;
            Some(Box::new(PinningService::new(url, tok)) as Box<dyn Pinner>)
        }
        BackendKind::Pinata => {
            let key = endpoint.unwrap_or(pinata::DEFAULT_UPLOADS);
            let jwt = token(store, kind, key)?.ok_or_else(|| missing_token(kind))?;
            Some(Box::new(match endpoint {
                Some(url) => Pinata::with_endpoints(url, url, jwt),
                None => Pinata::new(jwt),
            }) as Box<dyn Pinner>)
        }
        BackendKind::Arweave => {
            let url = endpoint.unwrap_or(arweave::DEFAULT_ENDPOINT);
            let Some(path) = request.arweave_wallet.as_deref().map(str::trim).filter(|p| !p.is_empty()) else {
                return Err(CommandError::new(
                    ErrorKind::InvalidInput,
                    "Arweave needs a wallet to pay for storage: choose its JWK key file (it stays where it is).",
                ));
            };
            let path = parse_path(path, "the Arweave wallet file", "~/arweave-key.json")?;
            let wallet = ArweaveWallet::from_file(&path).map_err(|e| {
                CommandError::new(
                    ErrorKind::InvalidInput,
                    format!("The Arweave wallet {} cannot be used: {e}.", path.display()),
                )
            })?;
            Some(Box::new(Arweave::new(url, Some(wallet))) as Box<dyn Pinner>)
        }
    })
}

// ---------------------------------------------------------------------------------------
// Publish

/// Where publishing stands (from the journal): what the Publish screen shows on open, and
/// how it knows a run was interrupted and can be resumed.
#[tauri::command]
pub async fn publish_status(state: State<'_, AppState>) -> CommandResult<PublishStatus> {
    let project = state.project()?;
    blocking(move || studio::publish_status(&lock(&project)).map_err(pipeline_error)).await
}

/// Writes the demo collection spec (12 items, 3 stages) into the project, paying the
/// artist's own wallet (never the demo's address), unless it already has a `collection.toml`
/// (never overwritten). Returns whether it was written.
#[tauri::command]
pub async fn use_demo_collection(state: State<'_, AppState>) -> CommandResult<bool> {
    let project = state.project()?;
    state.ensure_idle()?;
    blocking(move || {
        let written = creators::write_starter_spec(&lock(&project), None).map_err(pipeline_error)?;
        Ok(written.is_some())
    })
    .await
}

/// Who collection.toml pays, and whether the artist confirmed each address (the Mint screen
/// warns about any that is not).
#[tauri::command]
pub async fn creators_status(state: State<'_, AppState>) -> CommandResult<Vec<CreatorStatus>> {
    let project = state.project()?;
    blocking(move || {
        let project = lock(&project);
        let path = project.root().join(SPEC_FILE);
        let text = std::fs::read_to_string(&path).map_err(|_| pipeline_error(PipelineError::NoSpec { path }))?;
        let spec = CollectionSpec::from_toml(&text)
            .map_err(|e| CommandError::new(ErrorKind::Spec, sentence(&e.to_string())))?;
        creators::status(&project, &spec).map_err(pipeline_error)
    })
    .await
}

/// Confirms `address` as the artist's or a collaborator's: it is no longer warned about.
#[tauri::command]
pub async fn confirm_creator(state: State<'_, AppState>, address: String) -> CommandResult<()> {
    let project = state.project()?;
    blocking(move || creators::confirm(&lock(&project), &address, "confirmed").map_err(pipeline_error)).await
}

/// Plans, generates, writes metadata and pins every stage folder to the local store and the
/// chosen backend, streaming progress. Running it again resumes: finished files, CIDs and
/// uploads are kept. Cancellable with `cancel_job`.
#[tauri::command]
pub async fn publish_run(
    state: State<'_, AppState>,
    request: PublishRequest,
    on_event: Channel<PipelineEvent>,
) -> CommandResult<PublishReport> {
    let layout = parse_layout(request.layout.as_deref())?;
    let pinner = remote(state.secrets(), &request)?;
    job(&state, move |project, cancel| {
        // `Only::Pin`: plan, generate, metadata, pin. No chain is touched (`publish` only
        // connects for the mint step, which the Mint screen runs).
        let options = PublishOptions { layout, only: Some(Only::Pin), ..PublishOptions::default() };
        let mut send = sender(on_event);
        let pinner: Option<&dyn Pinner> = pinner.as_deref().map(|p| p as &dyn Pinner);
        chrysalis_pipeline::publish(project, &options, pinner, &mut send, cancel)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Several machines (shard jobs; the logic is `chrysalis_pipeline::shard_jobs`)

/// Writes `count` shard job folders for the open project's collection into `dest`: one
/// project per shard, holding the spec, `shard.json` and a README with the command to run.
/// Nothing is overwritten.
#[tauri::command]
pub async fn shard_export(state: State<'_, AppState>, dest: String, count: u32) -> CommandResult<JobsExport> {
    let dest = parse_path(&dest, "the folder for the shard jobs", "~/Desktop/moth-jobs")?;
    job(&state, move |project, cancel| shard_jobs::export(project, &dest, count, cancel)).await
}

/// The open project's `shard.json` when it is a shard job folder (the Publish screen then
/// offers "Generate this shard"), else `null`.
#[tauri::command]
pub async fn shard_job(state: State<'_, AppState>) -> CommandResult<Option<ShardJob>> {
    let (_, root) = project_root(&state)?;
    blocking(move || shard::read_job(&root).map_err(pipeline_error)).await
}

/// Makes the open job folder's images (its own shard only), streaming progress. Running it
/// again keeps finished images. Cancellable with `cancel_job`.
#[tauri::command]
pub async fn shard_run(state: State<'_, AppState>, on_event: Channel<PipelineEvent>) -> CommandResult<PublishReport> {
    job(&state, move |project, cancel| {
        let mut send = sender(on_event);
        shard_jobs::run(project, None, &mut send, cancel)
    })
    .await
}

/// What the shard folder `dir` holds before it is imported: which shard, how many images,
/// and why it cannot be imported, if it cannot. Reads only.
#[tauri::command]
pub async fn shard_inspect(state: State<'_, AppState>, dir: String) -> CommandResult<ShardCheck> {
    let dir = parse_path(&dir, "the shard's folder", "~/Desktop/moth-jobs/moths-shard-0-of-3")?;
    let project = state.project()?;
    blocking(move || shard_jobs::inspect(&lock(&project), &dir).map_err(pipeline_error)).await
}

/// Copies the shard folder `dir`'s images into the open project, each checked against the
/// recipe planned for it, streaming progress; refused images are listed with the reason and
/// not copied. Safe to run again. Cancellable with `cancel_job`.
#[tauri::command]
pub async fn shard_import(
    state: State<'_, AppState>,
    dir: String,
    on_event: Channel<PipelineEvent>,
) -> CommandResult<ImportReport> {
    let dir = parse_path(&dir, "the shard's folder", "~/Desktop/moth-jobs/moths-shard-0-of-3")?;
    job(&state, move |project, cancel| {
        let mut send = sender(on_event);
        merge::import(project, &dir, &mut send, cancel)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Mint

/// What minting the collection costs on the chosen network, before anything is sent.
#[tauri::command]
pub async fn mint_estimate(state: State<'_, AppState>, chain: ChainRequest) -> CommandResult<MintEstimate> {
    let (network, _) = chain.options()?;
    let (project, root) = project_root(&state)?;
    blocking(move || with_chain(&root, &network, |c| studio::mint_estimate(&lock(&project), c)).map_err(pipeline_error))
        .await
}

/// Creates the collection (with every stage) and mints every item on the chosen network,
/// streaming progress; publishes first whatever is not published yet. Safe to run again:
/// what is on chain is found, not paid twice. Cancellable with `cancel_job`.
#[tauri::command]
pub async fn mint_run(
    state: State<'_, AppState>,
    chain: ChainRequest,
    on_event: Channel<PipelineEvent>,
) -> CommandResult<PublishReport> {
    let (network, options) = chain.options()?;
    let (_, root) = project_root(&state)?;
    job(&state, move |project, cancel| {
        let publish = PublishOptions { chain: options, ..PublishOptions::default() };
        let mut send = sender(on_event);
        with_chain(&root, &network, |c| publish_with_chain(project, &publish, None, c, &mut send, cancel))
    })
    .await
}

/// The project's mints on the chosen network, from its journal (no chain access), with
/// explorer links on public clusters.
#[tauri::command]
pub async fn mint_list(state: State<'_, AppState>, chain: ChainRequest) -> CommandResult<Vec<MintRecord>> {
    let (network, _) = chain.options()?;
    let project = state.project()?;
    blocking(move || studio::mint_records(&lock(&project), &network).map_err(pipeline_error)).await
}

// ---------------------------------------------------------------------------------------
// Evolve

/// Every minted NFT's stage, next unlock rule and due time, and the chain's clock.
#[tauri::command]
pub async fn evolve_timeline(state: State<'_, AppState>, chain: ChainRequest) -> CommandResult<Timeline> {
    let (network, _) = chain.options()?;
    let (_, root) = project_root(&state)?;
    blocking(move || with_chain(&root, &network, |c| studio::timeline(&root, c)).map_err(pipeline_error)).await
}

/// Evolves every NFT whose time rule is unlocked ("crank all due"), streaming progress.
#[tauri::command]
pub async fn evolve_due(
    state: State<'_, AppState>,
    chain: ChainRequest,
    on_event: Channel<PipelineEvent>,
) -> CommandResult<EvolveReport> {
    let (network, options) = chain.options()?;
    let (_, root) = project_root(&state)?;
    job(&state, move |project, cancel| {
        let mut send = sender(on_event);
        with_chain(&root, &network, |c| {
            let caller = c.wallet(Some(&root), options.wallet.as_deref())?;
            if c.network().allows_airdrop() {
                c.ensure_funds(&caller.pubkey(), FEE_FLOAT)?;
            }
            evolve::evolve_due(&root, c, &Journal::new(project.db()), &caller, &mut send, cancel)
        })
    })
    .await
}

/// Lamports kept in a Sandbox/devnet wallet for fees when it signs evolutions and payments.
const FEE_FLOAT: u64 = 50_000_000;

/// Evolves NFT `index` to `to_stage`, signed by the wallet: the holder for an owner trigger,
/// the collection's authority for a creator trigger.
#[tauri::command]
pub async fn evolve_trigger(
    state: State<'_, AppState>,
    chain: ChainRequest,
    index: u32,
    to_stage: u8,
) -> CommandResult<EvolveReport> {
    let (network, options) = chain.options()?;
    let (_, root) = project_root(&state)?;
    job(&state, move |project, cancel| {
        with_chain(&root, &network, |c| {
            let caller = c.wallet(Some(&root), options.wallet.as_deref())?;
            evolve::evolve_one(&root, c, &Journal::new(project.db()), &caller, index, to_stage, &mut |_| {}, cancel)
        })
    })
    .await
}

/// Moves the Sandbox's clock forward by `duration` (`1d`, `12h`, `1w2d`); returns the new
/// unix time. Only the Sandbox has a clock to warp.
#[tauri::command]
pub async fn warp_clock(state: State<'_, AppState>, chain: ChainRequest, duration: String) -> CommandResult<i64> {
    let (network, _) = chain.options()?;
    if network != chrysalis_chain::Network::Sandbox {
        return Err(CommandError::new(
            ErrorKind::InvalidInput,
            format!("Only the Sandbox's clock can be moved; {network} runs on real time."),
        ));
    }
    let (_, root) = project_root(&state)?;
    state.ensure_idle()?;
    blocking(move || {
        with_chain(&root, &network, |c| evolve::warp(c, duration.trim(), &mut |_| {})).map_err(pipeline_error)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Royalties

/// The vault, each creator's share and what they are owed, and the payment history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RoyaltiesView {
    pub report: RoyaltiesReport,
    pub history: Vec<RoyaltyEvent>,
}

fn royalties_job(
    root: PathBuf,
    network: chrysalis_chain::Network,
    wallet: Option<PathBuf>,
    pay: Option<u64>,
    distribute: bool,
) -> impl FnOnce(&Project, &CancelToken) -> Result<RoyaltiesView, PipelineError> + Send + 'static {
    move |project, _cancel| {
        with_chain(&root, &network, |c| {
            let payer = c.wallet(Some(&root), wallet.as_deref())?;
            if c.network().allows_airdrop() && (pay.is_some() || distribute) {
                c.ensure_funds(&payer.pubkey(), pay.unwrap_or(0).saturating_add(FEE_FLOAT))?;
            }
            let report =
                royalties::royalties(&root, c, &Journal::new(project.db()), &payer, pay, distribute, &mut |_| {})?;
            Ok(RoyaltiesView { report, history: studio::royalty_history(project, c.network())? })
        })
    }
}

/// Shows the vault and the history.
#[tauri::command]
pub async fn royalties_show(state: State<'_, AppState>, chain: ChainRequest) -> CommandResult<RoyaltiesView> {
    let (network, options) = chain.options()?;
    let (project, root) = project_root(&state)?;
    let work = royalties_job(root, network, options.wallet, None, false);
    blocking(move || work(&lock(&project), &CancelToken::default()).map_err(pipeline_error)).await
}

/// Sandbox only: pays `lamports` into the vault from the wallet, as a marketplace would on a
/// secondary sale, so the split can be watched. Sent once: a retry never pays twice.
#[tauri::command]
pub async fn royalties_pay(
    state: State<'_, AppState>,
    chain: ChainRequest,
    lamports: u64,
) -> CommandResult<RoyaltiesView> {
    let (network, options) = chain.options()?;
    if network != chrysalis_chain::Network::Sandbox {
        return Err(CommandError::new(
            ErrorKind::InvalidInput,
            format!("A simulated sale only exists in the Sandbox; on {network} royalties come from real sales."),
        ));
    }
    if lamports == 0 {
        return Err(CommandError::new(ErrorKind::InvalidInput, "Enter an amount above 0 SOL."));
    }
    let (_, root) = project_root(&state)?;
    job(&state, royalties_job(root, network, options.wallet, Some(lamports), false)).await
}

/// Splits the vault's new lamports by share and pays every creator.
#[tauri::command]
pub async fn royalties_distribute(state: State<'_, AppState>, chain: ChainRequest) -> CommandResult<RoyaltiesView> {
    let (network, options) = chain.options()?;
    let (_, root) = project_root(&state)?;
    job(&state, royalties_job(root, network, options.wallet, None, true)).await
}

// ---------------------------------------------------------------------------------------
// Verify

/// Checks one NFT end to end: chain -> metadata -> bytes -> regenerate -> identical.
#[tauri::command]
pub async fn verify_nft(state: State<'_, AppState>, chain: ChainRequest, mint: String) -> CommandResult<VerifyReport> {
    let (network, _) = chain.options()?;
    let mint = chrysalis_pipeline::chain::parse_pubkey(&mint, "the mint").map_err(pipeline_error)?;
    let (_, root) = project_root(&state)?;
    job(&state, move |project, cancel| {
        with_chain(&root, &network, |c| {
            let store = chrysalis_storage::LocalStore::open(project.root())?;
            let model = verify::project_model_dir(project.root());
            let sources = verify::Sources { store: Some(&store), gateway: None, model_dir: model.as_deref() };
            verify::verify(c, &mint, &sources, &mut |_| {}, cancel)
        })
    })
    .await
}
