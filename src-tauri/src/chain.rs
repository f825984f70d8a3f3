//! The Mint screen's network and wallet commands, and the one open chain every chain command
//! shares. The work is `chrysalis_pipeline` and `chrysalis_chain`; this file converts
//! arguments, keeps the connection and maps errors.
//!
//! ## One open chain, used by one command at a time
//! Opening the Sandbox (an in-process Solana bank) takes about a second, and two handles on
//! the same `<project>/sandbox/` would each save their own view of its accounts over the
//! other's. So the app keeps **one** open [`Chain`] (the last project and network used) in a
//! process-wide slot, and every chain command runs its work while holding that slot's lock:
//! only one handle exists and only one command writes through it at a time. A command for
//! another project or network replaces it.
//!
//! The Sandbox's state is saved to `<project>/sandbox/` after every change, so closing the app
//! at any moment loses nothing. Running the `chrysalis` CLI on the same project *while* the
//! app holds its Sandbox open is not supported: each process would keep its own bank.
//!
//! The slot is a `static`, never dropped: the Sandbox owns a tokio runtime, which must not be
//! dropped inside Tauri's async runtime. The work (and any replacement, which drops the old
//! chain) always runs on the blocking pool.

// `PipelineError` is the pipeline's own (large) error type; it is mapped to the small
// `CommandError` at each command's edge, so boxing it here would only add noise.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrysalis_chain::{Network, Signer, wallet};
use chrysalis_core::Project;
use chrysalis_pipeline::PipelineError;
use chrysalis_pipeline::chain::{Chain, ChainOptions, parse_network, resolve_wallet};
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

use crate::commands::{blocking, parse_path};
use crate::error::{CommandError, CommandResult, ErrorKind, pipeline_error};
use crate::state::{AppState, lock};

/// Lamports in one SOL.
pub const LAMPORTS_PER_SOL: u64 = 1_000_000_000;
/// The most one airdrop may ask for (devnet's faucet refuses more; the sandbox does not care).
pub const MAX_AIRDROP_SOL: f64 = 5.0;

/// Which chain and wallet a command works on, as the UI sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ChainRequest {
    /// `sandbox`, `localnet`, `devnet`, `mainnet-beta` or an RPC URL.
    pub network: String,
    /// A Solana CLI keypair file (absolute path). `None`: the project's own wallet in the
    /// Sandbox, else the Solana CLI's default `~/.config/solana/id.json`.
    pub wallet: Option<String>,
}

impl ChainRequest {
    /// The pipeline's options: the network checked, the wallet path made absolute.
    pub fn options(&self) -> CommandResult<(Network, ChainOptions)> {
        let network = parse_network(self.network.trim()).map_err(pipeline_error)?;
        let wallet = match self.wallet.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
            Some(w) => Some(parse_path(w, "the wallet's keypair file", "~/.config/solana/id.json")?),
            None => None,
        };
        Ok((network.clone(), ChainOptions { network: network.to_string(), wallet }))
    }
}

/// What the UI shows about a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NetworkInfo {
    /// The canonical name (`sandbox`, `devnet`, or the URL).
    pub name: String,
    pub rpc_url: Option<String>,
    /// Free SOL can be had there (Sandbox, localnet, devnet).
    pub allows_airdrop: bool,
    /// Real money: ask before spending.
    pub is_mainnet: bool,
    /// The public Solana Explorer can show its accounts.
    pub has_explorer: bool,
}

impl From<&Network> for NetworkInfo {
    fn from(n: &Network) -> Self {
        NetworkInfo {
            name: n.to_string(),
            rpc_url: n.rpc_url().map(str::to_owned),
            allows_airdrop: n.allows_airdrop(),
            is_mainnet: n.is_mainnet(),
            has_explorer: n.explorer_url("11111111111111111111111111111111").is_some(),
        }
    }
}

/// The wallet that signs and pays on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct WalletInfo {
    pub address: String,
    /// The keypair file, when one was named (`None`: the project's Sandbox wallet or the
    /// Solana CLI default).
    pub path: Option<String>,
    #[ts(type = "number")]
    pub balance: u64,
    pub network: NetworkInfo,
    pub explorer_url: Option<String>,
    /// Said when the keypair file can be read by other users of this machine (as ssh warns).
    pub warning: Option<String>,
}

struct OpenChain {
    root: PathBuf,
    network: String,
    chain: Chain,
}

/// The one open chain (see the module docs).
static OPEN: Mutex<Option<OpenChain>> = Mutex::new(None);

/// Runs `work` on the project's chain for `network`, opening (or reusing) it. Call it from
/// the blocking pool only.
pub fn with_chain<T>(
    root: &Path,
    network: &Network,
    work: impl FnOnce(&Chain) -> Result<T, PipelineError>,
) -> Result<T, PipelineError> {
    let mut slot = lock(&OPEN);
    let label = network.to_string();
    let reuse = slot.as_ref().is_some_and(|o| o.root == root && o.network == label);
    if !reuse {
        // Drop the old handle first: its sandbox state is already saved.
        *slot = None;
        let chain = Chain::open(root, &ChainOptions { network: label.clone(), wallet: None })?;
        tracing::info!(network = %label, root = %root.display(), "opened the chain");
        *slot = Some(OpenChain { root: root.to_path_buf(), network: label, chain });
    }
    let open = slot.as_ref().expect("the chain was just opened");
    work(&open.chain)
}

/// The open project's root folder.
pub(crate) fn project_root(state: &AppState) -> CommandResult<(crate::state::SharedProject, PathBuf)> {
    let project = state.project()?;
    let root = lock(&project).root().to_path_buf();
    Ok((project, root))
}

fn describe_wallet(
    project: Option<&Project>,
    chain: &Chain,
    options: &ChainOptions,
) -> Result<WalletInfo, PipelineError> {
    let keypair = resolve_wallet(chain.network(), project.map(Project::root), options.wallet.as_deref())?;
    let address = keypair.pubkey().to_string();
    Ok(WalletInfo {
        balance: chain.balance(&keypair.pubkey())?,
        path: options.wallet.as_ref().map(|p| p.display().to_string()),
        network: chain.network().into(),
        explorer_url: chain.network().explorer_url(&address),
        warning: options.wallet.as_deref().and_then(chrysalis_chain::wallet::keypair_file_warning),
        address,
    })
}

/// What the UI should know about `network` (checks the name; connects to nothing).
#[tauri::command]
pub fn network_info(network: String) -> CommandResult<NetworkInfo> {
    let n = parse_network(network.trim()).map_err(pipeline_error)?;
    Ok((&n).into())
}

/// The wallet's address and balance on the chosen network.
#[tauri::command]
pub async fn wallet_info(state: State<'_, AppState>, chain: ChainRequest) -> CommandResult<WalletInfo> {
    let (network, options) = chain.options()?;
    let (project, root) = project_root(&state)?;
    blocking(move || {
        with_chain(&root, &network, |c| {
            let project = lock(&project);
            describe_wallet(Some(&*project), c, &options)
        })
        .map_err(pipeline_error)
    })
    .await
}

/// Creates a new keypair file at `path` (never overwriting one) and returns its address.
/// The file is readable by its owner only; keep it safe: it *is* the wallet.
#[tauri::command]
pub async fn wallet_create(path: String) -> CommandResult<String> {
    let path = parse_path(&path, "where to save the new keypair file", "~/.config/solana/chrysalis.json")?;
    blocking(move || {
        let key = wallet::create_keypair_file(&path).map_err(|e| pipeline_error(e.into()))?;
        tracing::info!(path = %path.display(), "created a keypair file");
        Ok(key.pubkey().to_string())
    })
    .await
}

/// Asks the network for free SOL (Sandbox, localnet, devnet only) and returns the wallet's
/// new balance.
#[tauri::command]
pub async fn wallet_airdrop(state: State<'_, AppState>, chain: ChainRequest, sol: f64) -> CommandResult<WalletInfo> {
    let (network, options) = chain.options()?;
    if !network.allows_airdrop() {
        return Err(CommandError::new(
            ErrorKind::InvalidInput,
            format!("{network} gives no free SOL. Send SOL to this wallet from an exchange or another wallet."),
        ));
    }
    if !sol.is_finite() || sol <= 0.0 || sol > MAX_AIRDROP_SOL {
        return Err(CommandError::new(
            ErrorKind::InvalidInput,
            format!("Ask for more than 0 and at most {MAX_AIRDROP_SOL} SOL per airdrop."),
        ));
    }
    let lamports = (sol * LAMPORTS_PER_SOL as f64).round() as u64;
    let (project, root) = project_root(&state)?;
    blocking(move || {
        with_chain(&root, &network, |c| {
            let project = lock(&project);
            let key = resolve_wallet(c.network(), Some(project.root()), options.wallet.as_deref())?;
            c.retry(|| c.ledger().airdrop(&key.pubkey(), lamports).map(|_| ()))?;
            describe_wallet(Some(&*project), c, &options)
        })
        .map_err(pipeline_error)
    })
    .await
}

/// Where the explorer links we generate point (`chrysalis_chain::Network::explorer_url`).
const EXPLORER_PREFIX: &str = "https://explorer.solana.com/";

/// Opens a Solana Explorer link in the default browser. The window cannot navigate away to
/// a web page itself, and only explorer links are accepted, so a page cannot use this to
/// open anything else.
#[tauri::command]
pub async fn open_explorer(url: String) -> CommandResult<()> {
    if !url.starts_with(EXPLORER_PREFIX) || url.chars().any(char::is_whitespace) {
        return Err(CommandError::new(
            ErrorKind::InvalidInput,
            format!("Only Solana Explorer links ({EXPLORER_PREFIX}...) open from here, not `{url}`."),
        ));
    }
    let (program, mut args) = crate::art::opener();
    args.push(url.clone());
    let mut child = std::process::Command::new(&program).args(&args).spawn().map_err(|e| {
        CommandError::new(
            ErrorKind::Storage,
            format!("Could not start {program} to open the explorer ({e}). Copy the link instead: {url}"),
        )
    })?;
    // Reap it in the background so it never lingers as a zombie.
    std::thread::spawn(move || child.wait());
    Ok(())
}
