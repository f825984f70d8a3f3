//! Read-only summaries for the desktop studio's Publish, Mint, Evolve and Royalties screens.
//!
//! The pipeline's other modules *do* things (publish, mint, evolve, pay); a screen also needs
//! to *show* where a project stands before and after: which stage folders are pinned where,
//! what minting will cost, each NFT's timeline (its stage, the next stage's unlock rule and
//! when it is due), and the payments and distributions made. Those answers come from the
//! journal (what this project did) and the chain (what is true now); nothing here writes
//! either, so the screens may call these as often as they refresh.
//!
//! They live in this library, not in the desktop shell, so that the rules (when is a stage
//! due, what counts as "published") exist once, next to the code that acts on them.

use std::path::Path;

use chrysalis::state::UnlockRule;
use chrysalis_chain::client::{self, CollectionState};
use chrysalis_chain::{Network, program};
use chrysalis_core::Project;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::chain::Chain;
use super::evolve::project_collection;
use super::journal::Journal;
use super::{PipelineError, SPEC_FILE, generate, mint, sha256_hex};

// ---------------------------------------------------------------------------------------
// Publish

/// The plan the journal holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlannedStatus {
    pub items: u32,
    pub stages: u32,
    pub spec_sha256: String,
    /// Whether `collection.toml` still has those bytes (false: it changed since, publishing
    /// again will plan, generate and pin the new version).
    pub current: bool,
}

/// The folder roots of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StageCids {
    pub stage: u32,
    pub images_cid: Option<String>,
    pub metadata_cid: Option<String>,
    /// `ipfs://<metadata-cid>/`: what the chain stores for this stage.
    pub base_uri: Option<String>,
}

/// Where one folder was pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PinRecord {
    pub stage: u32,
    /// `images`, `metadata` or `collection`.
    pub folder: String,
    /// `local`, `kubo`, `psa`, `pinata` or `arweave`.
    pub backend: String,
    pub endpoint: String,
    pub cid: String,
    /// `verified` (every byte checked) or `pending` (the backend has not confirmed yet).
    pub status: String,
    /// Unix seconds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub updated_at: i64,
}

/// How far publishing got, from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PublishStatus {
    /// The project has a `collection.toml`.
    pub has_spec: bool,
    pub planned: Option<PlannedStatus>,
    /// Images generated and journaled, summed over stages: how far an interrupted run got
    /// (out of `planned.items * planned.stages`).
    pub images_ready: u32,
    /// Items whose metadata JSON is written, summed over stages.
    pub files_ready: u32,
    pub stages: Vec<StageCids>,
    pub pins: Vec<PinRecord>,
    /// Every stage's images and metadata and the collection JSON are verified in the local
    /// store, for the current spec: minting can start.
    pub complete: bool,
}

/// Where publishing stands for `project` (reads the journal and the spec file only).
pub fn publish_status(project: &Project) -> Result<PublishStatus, PipelineError> {
    let root = project.root();
    let conn = project.db();
    let spec = std::fs::read(root.join(SPEC_FILE)).ok();
    let spec_sha = spec.as_deref().map(sha256_hex);
    let planned = conn
        .query_row("SELECT items, stages, spec_sha256 FROM pipeline_plan WHERE id = 1", [], |r| {
            Ok((r.get::<_, u32>(0)?, r.get::<_, u32>(1)?, r.get::<_, String>(2)?))
        })
        .optional()?
        .map(|(items, stages, sha)| PlannedStatus {
            items,
            stages,
            current: spec_sha.as_deref() == Some(sha.as_str()),
            spec_sha256: sha,
        });
    let images_ready: u32 =
        conn.query_row("SELECT count(*) FROM pipeline_items WHERE image_sha256 IS NOT NULL", [], |r| r.get(0))?;
    let files_ready: u32 =
        conn.query_row("SELECT count(*) FROM pipeline_items WHERE metadata_cid IS NOT NULL", [], |r| r.get(0))?;
    let stages: Vec<StageCids> = Journal::new(conn)
        .stages()?
        .into_iter()
        .map(|s| StageCids {
            stage: s.stage,
            images_cid: s.images_cid,
            metadata_cid: s.metadata_cid,
            base_uri: s.base_uri,
        })
        .collect();
    let mut stmt = conn.prepare(
        "SELECT stage, folder, backend, endpoint, cid, status, updated_at FROM pipeline_pins ORDER BY backend, stage, folder",
    )?;
    let pins = stmt
        .query_map([], |r| {
            Ok(PinRecord {
                stage: r.get(0)?,
                folder: r.get(1)?,
                backend: r.get(2)?,
                endpoint: r.get(3)?,
                cid: r.get(4)?,
                status: r.get(5)?,
                updated_at: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let complete = is_complete(planned.as_ref(), &stages, &pins);
    Ok(PublishStatus { has_spec: spec.is_some(), planned, images_ready, files_ready, stages, pins, complete })
}

/// Every planned stage has both folders verified in the local store under the CIDs the
/// metadata uses, and the collection JSON is verified there too.
fn is_complete(planned: Option<&PlannedStatus>, stages: &[StageCids], pins: &[PinRecord]) -> bool {
    let Some(plan) = planned.filter(|p| p.current && p.stages > 0) else {
        return false;
    };
    let local_ok = |stage: u32, folder: &str, cid: Option<&str>| {
        pins.iter().any(|p| {
            p.backend == "local"
                && p.stage == stage
                && p.folder == folder
                && p.status == "verified"
                && cid.is_none_or(|c| c == p.cid)
        })
    };
    (0..plan.stages).all(|s| {
        stages.iter().find(|row| row.stage == s).is_some_and(|row| {
            row.images_cid.is_some()
                && row.metadata_cid.is_some()
                && local_ok(s, "images", row.images_cid.as_deref())
                && local_ok(s, "metadata", row.metadata_cid.as_deref())
        })
    }) && local_ok(0, "collection", None)
}

// ---------------------------------------------------------------------------------------
// Mint

/// One NFT the journal recorded on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MintRecord {
    pub index: u32,
    pub mint: String,
    pub owner: String,
    /// `sending`, `minted` or `failed`.
    pub status: String,
    pub signature: Option<String>,
    /// Solana Explorer page of the mint (public clusters only).
    pub explorer_url: Option<String>,
}

/// The project's mints on `network`, from the journal (no chain access).
pub fn mint_records(project: &Project, network: &Network) -> Result<Vec<MintRecord>, PipelineError> {
    Ok(Journal::new(project.db())
        .mints(&network.to_string())?
        .into_iter()
        .map(|m| MintRecord {
            index: m.item,
            explorer_url: network.explorer_url(&m.mint),
            mint: m.mint,
            owner: m.owner,
            status: m.status,
            signature: m.signature,
        })
        .collect())
}

/// What minting the rest of the collection costs the wallet, before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MintEstimate {
    pub network: String,
    pub items: u32,
    /// Already on chain (nothing is paid for these again).
    pub minted: u32,
    /// The price the program charges per mint (paid to the creators, by share).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub price: u64,
    /// Creating the collection and its stages (0 when it exists already).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub collection: u64,
    /// One more NFT: rent of its mint and token account, fees, and the price.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub per_item: u64,
    /// Everything still to do.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total: u64,
    /// `true`: computed by the program's own size formulas against the cluster's rent (the
    /// collection exists). `false`: an upper bound, because the collection's final sizes are
    /// only known once it is created.
    pub exact: bool,
    /// Who can change the program, and with it every NFT's metadata, on this network.
    pub program: ProgramControlView,
}

/// [`client::ProgramControl`] for the app: what it is and what it means for the artist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProgramControlView {
    /// `immutable`, `upgradeable`, `builtin` or `missing`.
    pub kind: String,
    /// The upgrade authority's address, when there is one.
    pub authority: Option<String>,
    /// One sentence for the screen.
    pub note: String,
}

impl From<client::ProgramControl> for ProgramControlView {
    fn from(c: client::ProgramControl) -> Self {
        use client::ProgramControl as P;
        let (kind, authority, note) = match c {
            P::Immutable => {
                ("immutable", None, "The program is final: nobody can change its code or your NFTs' rules.".to_string())
            }
            P::Upgradeable { authority } => {
                let note = format!(
                    "Whoever holds the program's upgrade key ({authority}) can deploy new code, and new code could rewrite every NFT's metadata. Before a real launch, check that the key is final or held by a multisig you trust (programs/chrysalis/README.md, \"Upgrade risk\")."
                );
                ("upgradeable", Some(authority), note)
            }
            P::Builtin => (
                "builtin",
                None,
                "The sandbox runs the program built into this app: nothing can upgrade it.".to_string(),
            ),
            P::Missing => ("missing", None, "The Chrysalis program is not deployed on this network.".to_string()),
        };
        Self { kind: kind.into(), authority, note }
    }
}

/// Estimates what publishing's mint step will cost on `chain` for the project's current spec.
pub fn mint_estimate(project: &Project, chain: &Chain) -> Result<MintEstimate, PipelineError> {
    let root = project.root();
    let spec_path = root.join(SPEC_FILE);
    let text = std::fs::read_to_string(&spec_path).map_err(|_| PipelineError::NoSpec { path: spec_path.clone() })?;
    let planned = super::plan::plan_text(&text, &spec_path, root)?;
    let items = planned.plan.items.len() as u32;
    let price = planned.plan.price_lamports;
    let existing = match mint::collection_address(root, chain) {
        Some(address) => chain.collection(&address)?,
        None => None,
    };
    let program = ProgramControlView::from(chain.op("reading the program", client::program_control)?);
    let estimate = match existing {
        Some(state) => {
            let minted = state.account.minted.min(items);
            let per_item = if minted < items {
                chain.op("estimating a mint", |l| client::estimate_mint_cost(l, &state, minted))?.total
            } else {
                0
            };
            MintEstimate {
                network: chain.label(),
                items,
                minted,
                price,
                collection: 0,
                per_item,
                total: per_item * u64::from(items - minted),
                exact: true,
                program,
            }
        }
        None => {
            let collection = mint::budget(0, 0);
            let per_item = mint::budget(1, price) - collection;
            MintEstimate {
                network: chain.label(),
                items,
                minted: 0,
                price,
                collection,
                per_item,
                total: mint::budget(u64::from(items), price),
                exact: false,
                program,
            }
        }
    };
    Ok(estimate)
}

// ---------------------------------------------------------------------------------------
// Evolve

/// A stage's unlock rule, as the chain holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "snake_case")]
pub enum RuleView {
    /// From this unix time on; anyone may evolve.
    At {
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        unix: i64,
    },
    /// This long after each NFT's mint; anyone may evolve.
    AfterMint {
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        seconds: i64,
    },
    /// Only the NFT's holder may evolve it.
    Owner,
    /// Only the collection's authority (the artist) may evolve it.
    Creator,
}

impl From<UnlockRule> for RuleView {
    fn from(r: UnlockRule) -> Self {
        match r {
            UnlockRule::At(unix) => RuleView::At { unix },
            UnlockRule::AfterMint(seconds) => RuleView::AfterMint { seconds },
            UnlockRule::OwnerTrigger => RuleView::Owner,
            UnlockRule::CreatorTrigger => RuleView::Creator,
        }
    }
}

/// One stage of the collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StageRule {
    pub stage: u32,
    /// Stage 0's rule is ignored (every NFT is minted at stage 0).
    pub rule: RuleView,
    pub base_uri: String,
}

/// The stage an NFT can move to next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NextStage {
    pub stage: u32,
    pub rule: RuleView,
    /// When a time rule unlocks (unix seconds); `None` for trigger rules, or when the chain
    /// does not know the mint time.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub due_at: Option<i64>,
    /// Unlocked now: "crank all due" will evolve it.
    pub due: bool,
}

/// One NFT's image at one stage, as the project generates it
/// (`build/stage-<s>/images/<index>.png`, [`generate::image_path`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StageImage {
    pub stage: u32,
    /// The file, relative to the project folder.
    pub path: String,
    /// The file is on this computer (a collection published from another computer, or a
    /// build folder cleaned since, has none).
    pub exists: bool,
}

impl StageImage {
    /// NFT `index`'s image at `stage` in the project at `project_root`.
    pub fn of(project_root: &Path, stage: u32, index: u32) -> Self {
        let file = generate::image_path(project_root, stage, index);
        let path = file.strip_prefix(project_root).unwrap_or(&file).to_string_lossy().into_owned();
        Self { stage, path, exists: file.is_file() }
    }
}

/// One NFT's place on its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NftTimeline {
    pub index: u32,
    pub mint: String,
    pub name: String,
    pub stage: u32,
    pub uri: String,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub minted_at: Option<i64>,
    /// `None`: it reached its last stage.
    pub next: Option<NextStage>,
    pub explorer_url: Option<String>,
    /// Its image at the stage it is at.
    pub image: StageImage,
    /// Its image at the next stage; `None` at the last stage.
    pub next_image: Option<StageImage>,
}

/// Every minted NFT of the project's collection on one network, with what is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Timeline {
    pub network: String,
    pub collection: String,
    /// The chain's clock (unix seconds): in the sandbox it moves only when warped.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub now: i64,
    /// The clock can be warped (the sandbox).
    pub can_warp: bool,
    pub authority: String,
    pub stages: Vec<StageRule>,
    pub nfts: Vec<NftTimeline>,
    /// NFTs whose next stage is unlocked now.
    pub due: u32,
}

/// The next stage of an NFT at `stage`, and whether it is due at `now`. The due rule is the
/// one [`client::due_evolutions`] and the program apply.
pub fn next_stage(state: &CollectionState, stage: u8, minted_at: Option<i64>, now: i64) -> Option<NextStage> {
    let next = stage.checked_add(1)?;
    let s = state.account.stages.get(usize::from(next))?;
    let due_at = match s.rule {
        UnlockRule::At(t) => Some(t),
        UnlockRule::AfterMint(secs) => minted_at.map(|m| m.saturating_add(secs)),
        UnlockRule::OwnerTrigger | UnlockRule::CreatorTrigger => None,
    };
    Some(NextStage { stage: u32::from(next), rule: s.rule.into(), due_at, due: due_at.is_some_and(|t| now >= t) })
}

/// The project's collection and every minted NFT's timeline, read from the chain.
pub fn timeline(project_root: &Path, chain: &Chain) -> Result<Timeline, PipelineError> {
    let state = project_collection(project_root, chain)?;
    let now = chain.now()?;
    let network = chain.network();
    let c = &state.account;
    let mut nfts = Vec::new();
    for index in 0..c.max_supply {
        if nfts.len() as u32 >= c.minted {
            break;
        }
        let mint = program::nft_mint_pda(&state.address, index);
        let Some(nft) = chain.nft(&mint)? else { continue };
        let next = next_stage(&state, nft.stage, nft.minted_at, now);
        nfts.push(NftTimeline {
            index,
            mint: mint.to_string(),
            name: nft.name.clone(),
            stage: u32::from(nft.stage),
            uri: nft.uri.clone(),
            minted_at: nft.minted_at,
            image: StageImage::of(project_root, u32::from(nft.stage), index),
            next_image: next.as_ref().map(|n| StageImage::of(project_root, n.stage, index)),
            next,
            explorer_url: network.explorer_url(&mint.to_string()),
        });
    }
    let due = nfts.iter().filter(|n| n.next.as_ref().is_some_and(|x| x.due)).count() as u32;
    Ok(Timeline {
        network: chain.label(),
        collection: state.address.to_string(),
        now,
        can_warp: matches!(network, Network::Sandbox),
        authority: c.authority.to_string(),
        stages: c
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| StageRule { stage: i as u32, rule: s.rule.into(), base_uri: s.base_uri.clone() })
            .collect(),
        nfts,
        due,
    })
}

// ---------------------------------------------------------------------------------------
// Royalties

/// One payment into the vault or one distribution to the creators, from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoyaltyEvent {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    /// `payment` (a sale's royalty paid into the vault) or `distribution` (the vault paid
    /// the creators).
    pub kind: String,
    /// Lamports paid in (payments; 0 for distributions, whose amount the chain split).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub lamports: u64,
    /// `sending`, `done` or `failed`.
    pub status: String,
    pub signature: Option<String>,
    pub error: Option<String>,
    /// Unix seconds (this computer's clock).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: i64,
    pub explorer_url: Option<String>,
}

/// Payments and distributions on `network`, newest first.
pub fn royalty_history(project: &Project, network: &Network) -> Result<Vec<RoyaltyEvent>, PipelineError> {
    let mut stmt = project.db().prepare(
        "SELECT id, kind, lamports, status, signature, last_error, at FROM chain_distributions
         WHERE network = ?1 ORDER BY id DESC",
    )?;
    let rows = stmt
        .query_map(params![network.to_string()], |r| {
            let signature: Option<String> = r.get(4)?;
            Ok(RoyaltyEvent {
                id: r.get(0)?,
                kind: r.get(1)?,
                lamports: r.get::<_, i64>(2)?.max(0) as u64,
                status: r.get(3)?,
                explorer_url: signature.as_deref().and_then(|s| network.explorer_url(s)),
                signature,
                error: r.get(5)?,
                at: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrysalis::state::{Collection, Stage};
    use chrysalis_chain::Pubkey;

    fn state(rules: &[UnlockRule]) -> CollectionState {
        CollectionState {
            address: Pubkey::new_unique(),
            vault: Pubkey::new_unique(),
            vault_balance: 0,
            account: Collection {
                authority: Pubkey::new_unique(),
                group_mint: Pubkey::new_unique(),
                bump: 0,
                vault_bump: 0,
                royalty_bps: 500,
                price: 0,
                max_supply: 3,
                minted: 0,
                name: "t".into(),
                symbol: "T".into(),
                uri: String::new(),
                creators: vec![],
                stages: rules
                    .iter()
                    .map(|r| Stage { rule: *r, base_uri: "ipfs://x/".into(), content_root: [0; 32] })
                    .collect(),
                items_root: [0; 32],
            },
        }
    }

    #[test]
    fn next_stage_follows_each_rule() {
        let s = state(&[
            UnlockRule::AfterMint(0),
            UnlockRule::AfterMint(86_400),
            UnlockRule::At(5_000_000),
            UnlockRule::OwnerTrigger,
        ]);
        // AfterMint: due a day after the mint time, not before.
        let n = next_stage(&s, 0, Some(1_000), 1_000 + 86_399).unwrap();
        assert_eq!((n.stage, n.due_at, n.due), (1, Some(87_400), false));
        assert!(next_stage(&s, 0, Some(1_000), 87_400).unwrap().due);
        // Without a stored mint time the chain cannot say: never reported due (as the crank).
        let n = next_stage(&s, 0, None, i64::MAX).unwrap();
        assert_eq!((n.due_at, n.due), (None, false));
        // At: a fixed time.
        let n = next_stage(&s, 1, None, 4_999_999).unwrap();
        assert_eq!((n.stage, n.rule, n.due), (2, RuleView::At { unix: 5_000_000 }, false));
        assert!(next_stage(&s, 1, None, 5_000_000).unwrap().due);
        // Triggers are never "due": someone must press the button.
        let n = next_stage(&s, 2, Some(0), i64::MAX).unwrap();
        assert_eq!((n.rule, n.due_at, n.due), (RuleView::Owner, None, false));
        // The last stage has no next.
        assert!(next_stage(&s, 3, Some(0), 0).is_none());
    }

    #[test]
    fn rules_serialize_for_the_ui() {
        let json = serde_json::to_value([
            RuleView::At { unix: 7 },
            RuleView::AfterMint { seconds: 60 },
            RuleView::Owner,
            RuleView::Creator,
        ])
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"kind": "at", "unix": 7},
                {"kind": "after_mint", "seconds": 60},
                {"kind": "owner"},
                {"kind": "creator"}
            ])
        );
    }

    fn pin(stage: u32, folder: &str, cid: &str, status: &str) -> PinRecord {
        PinRecord {
            stage,
            folder: folder.into(),
            backend: "local".into(),
            endpoint: "store".into(),
            cid: cid.into(),
            status: status.into(),
            updated_at: 0,
        }
    }

    #[test]
    fn publishing_is_complete_only_when_every_folder_is_verified_locally_for_the_current_spec() {
        let plan = PlannedStatus { items: 2, stages: 2, spec_sha256: "s".into(), current: true };
        let stages = vec![
            StageCids { stage: 0, images_cid: Some("i0".into()), metadata_cid: Some("m0".into()), base_uri: None },
            StageCids { stage: 1, images_cid: Some("i1".into()), metadata_cid: Some("m1".into()), base_uri: None },
        ];
        let mut pins = vec![
            pin(0, "images", "i0", "verified"),
            pin(0, "metadata", "m0", "verified"),
            pin(1, "images", "i1", "verified"),
            pin(1, "metadata", "m1", "verified"),
            pin(0, "collection", "c", "verified"),
        ];
        assert!(is_complete(Some(&plan), &stages, &pins));
        // A spec edited since the plan is not published.
        let stale = PlannedStatus { current: false, ..plan.clone() };
        assert!(!is_complete(Some(&stale), &stages, &pins));
        assert!(!is_complete(None, &stages, &pins));
        // A pin of an older CID does not count.
        pins[3].cid = "old".into();
        assert!(!is_complete(Some(&plan), &stages, &pins));
        pins[3].cid = "m1".into();
        // Pending (e.g. a remote that has not confirmed) is not verified.
        pins[2].status = "pending".into();
        assert!(!is_complete(Some(&plan), &stages, &pins));
        pins[2].status = "verified".into();
        // Only remote pins: the local store is what verify and the chain step read.
        for p in &mut pins {
            p.backend = "kubo".into();
        }
        assert!(!is_complete(Some(&plan), &stages, &pins));
        for p in &mut pins {
            p.backend = "local".into();
        }
        pins.pop();
        assert!(!is_complete(Some(&plan), &stages, &pins), "the collection JSON is missing");
    }

    #[test]
    fn status_and_history_of_a_fresh_project_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::create(&dir.path().join("p"), Some("p")).unwrap();
        let status = publish_status(&project).unwrap();
        assert!(!status.has_spec);
        assert!(status.planned.is_none());
        assert!(!status.complete);
        assert!(status.pins.is_empty());
        assert!(royalty_history(&project, &Network::Sandbox).unwrap().is_empty());
        assert!(mint_records(&project, &Network::Devnet).unwrap().is_empty());
    }

    #[test]
    fn history_and_mints_come_from_the_journal_with_explorer_links_on_public_clusters() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::create(&dir.path().join("p"), Some("p")).unwrap();
        let j = Journal::new(project.db());
        let id = j.begin_distribution("devnet", "payment", 1234).unwrap();
        j.finish_distribution(id, "done", Some(&"5".repeat(88)), None).unwrap();
        let id = j.begin_distribution("devnet", "distribution", 0).unwrap();
        j.finish_distribution(id, "failed", None, Some("vault empty")).unwrap();
        j.begin_distribution("sandbox", "payment", 9).unwrap();
        let h = royalty_history(&project, &Network::Devnet).unwrap();
        assert_eq!(h.len(), 2, "only devnet rows");
        assert_eq!(
            (h[0].kind.as_str(), h[0].status.as_str(), h[0].error.as_deref()),
            ("distribution", "failed", Some("vault empty"))
        );
        assert_eq!((h[1].lamports, h[1].status.as_str()), (1234, "done"));
        assert!(h[1].explorer_url.as_deref().unwrap().contains("cluster=devnet"));
        let mint = Pubkey::new_unique().to_string();
        j.finish_mint("devnet", 3, &mint, "owner", "r", Some("sig")).unwrap();
        let m = mint_records(&project, &Network::Devnet).unwrap();
        assert_eq!((m[0].index, m[0].status.as_str()), (3, "minted"));
        assert!(m[0].explorer_url.as_deref().unwrap().contains(&mint));
        j.finish_mint("sandbox", 0, &mint, "owner", "r", None).unwrap();
        assert_eq!(mint_records(&project, &Network::Sandbox).unwrap()[0].explorer_url, None, "no public explorer");
    }

    #[test]
    fn a_stage_image_is_the_generated_file_and_says_whether_it_is_here() {
        let dir = tempfile::tempdir().unwrap();
        let missing = StageImage::of(dir.path(), 1, 3);
        let file = generate::image_path(dir.path(), 1, 3);
        assert_eq!(dir.path().join(&missing.path), file);
        assert_eq!(Path::new(&missing.path), Path::new("build/stage-1/images/3.png"));
        assert_eq!((missing.stage, missing.exists), (1, false));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, b"png").unwrap();
        assert!(StageImage::of(dir.path(), 1, 3).exists);
        assert!(!StageImage::of(dir.path(), 2, 3).exists, "another stage's file is another file");
    }
}
