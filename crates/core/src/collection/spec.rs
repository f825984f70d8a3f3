//! The collection spec (`collection.toml`): what a collection is, before anything is made.
//!
//! `assets/collection.example.toml` is the commented reference for every key. This module
//! parses it ([`CollectionSpec::from_toml`], errors name the line, column and table) and
//! checks it ([`CollectionSpec::validate`], which returns *every* problem at once, each with
//! the path of the field, so an editor can show them next to the fields as the user types).
//!
//! Units are chosen so that nothing is rounded behind the user's back:
//! - creator shares are **basis points** (`share_bps`, 10 000 = 100 %), exactly what the
//!   on-chain program stores; the Metaplex JSON's percent shares are derived from them;
//! - `royalty_bps` is basis points too (500 = 5 %);
//! - `price` is SOL written as a decimal (`"1.5"`, or a TOML number), converted to lamports
//!   exactly (at most 9 decimals; more is an error, never rounded);
//! - trait quotas are item **counts** (`count = 100`) or **percents** (`percent = 12.5`) that
//!   must come to a whole number of items (12.5 % of 1 000 = 125 is fine, 12.5 % of 100 is an
//!   error); one value per trait may leave its quota out and takes the rest.
//!
//! The spec is engine-agnostic data: core does not know which procedural styles or
//! parameters exist. [`CollectionSpec::validate_recipes`] takes the engine's own check (the
//! art crate's) as a hook and runs it on a sample recipe of every stage and trait value.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::recipe::{DType, Recipe, Scheduler};

/// Limits shared with the on-chain program (`programs/chrysalis/src/state.rs`).
pub const MAX_NAME_LEN: usize = 32;
pub const MAX_SYMBOL_LEN: usize = 10;
pub const MAX_CREATORS: usize = 16;
pub const MAX_STAGES: usize = 8;
pub const TOTAL_SHARES_BPS: u32 = 10_000;
/// Largest collection the planner accepts (item indexes are `u32` on chain; this keeps plans
/// and their reports a sensible size).
pub const MAX_SIZE: u32 = 100_000;
/// Lamports in one SOL.
pub const LAMPORTS_PER_SOL: u64 = 1_000_000_000;
/// The attribute name the metadata uses for the stage; no trait may take it.
pub const STAGE_ATTRIBUTE: &str = "Stage";

/// A whole collection, as written in `collection.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CollectionSpec {
    /// Collection name; items are named `"{name} #{index + 1}"`. At most 32 bytes.
    pub name: String,
    /// Ticker-like symbol, at most 10 bytes.
    pub symbol: String,
    #[serde(default)]
    pub description: String,
    /// Number of items.
    pub size: u32,
    /// The collection seed: every item's seed derives from it and the item index, and the
    /// planner's search is seeded by it (0 ..= 2^63-1: TOML integers are signed).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub external_url: Option<String>,
    #[serde(default)]
    pub creators: Vec<CreatorSpec>,
    /// Secondary-sale royalty in basis points (500 = 5 %).
    #[serde(default)]
    pub royalty_bps: u32,
    /// Mint price in SOL as a decimal text (`"0.25"`); TOML numbers are accepted too.
    #[serde(default)]
    pub price: Price,
    pub art: ArtSpec,
    #[serde(default)]
    pub traits: Vec<TraitSpec>,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    pub stages: Vec<StageSpec>,
}

/// A creator and their share of mint proceeds and royalties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CreatorSpec {
    /// Solana address, base58 (32 bytes).
    pub address: String,
    /// Share in basis points; all creators' shares sum to 10 000.
    pub share_bps: u32,
}

/// The engine and base recipe every item starts from, tagged by `engine`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "engine", rename_all = "snake_case")]
pub enum ArtSpec {
    Procedural(ProceduralArt),
    Diffusion(DiffusionArt),
}

/// The built-in procedural engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ProceduralArt {
    /// Style name, e.g. `growth`.
    pub style: String,
    pub width: u32,
    pub height: u32,
    /// Base parameters; trait values may override them per item. Parameters left out are
    /// defaulted by the engine (some from the item's seed, e.g. `palette`).
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
}

/// Stable Diffusion from a model folder on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct DiffusionArt {
    /// Model folder (diffusers layout), relative to the project folder or absolute.
    pub model: String,
    /// Base prompt; trait values add their `prompt` fragments after it.
    pub prompt: String,
    #[serde(default)]
    pub negative_prompt: String,
    pub steps: u32,
    pub guidance: f64,
    pub scheduler: Scheduler,
    /// `f32` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub dtype: Option<DType>,
    pub width: u32,
    pub height: u32,
}

impl ArtSpec {
    pub fn width(&self) -> u32 {
        match self {
            Self::Procedural(p) => p.width,
            Self::Diffusion(d) => d.width,
        }
    }

    pub fn height(&self) -> u32 {
        match self {
            Self::Procedural(p) => p.height,
            Self::Diffusion(d) => d.height,
        }
    }

    /// `"procedural"` or `"diffusion"`.
    pub fn engine_name(&self) -> &'static str {
        match self {
            Self::Procedural(_) => "procedural",
            Self::Diffusion(_) => "diffusion",
        }
    }
}

/// A trait (e.g. `Background`) and its values with their quotas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct TraitSpec {
    pub name: String,
    pub values: Vec<TraitValueSpec>,
}

/// One value of a trait: its quota and what it changes in the recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct TraitValueSpec {
    pub value: String,
    /// Exactly this many items get the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub count: Option<u32>,
    /// This percent of the items get the value; must be a whole number of items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub percent: Option<f64>,
    /// Procedural only: parameters this value sets (over the base `art.params`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<BTreeMap<String, f64>>"))]
    pub params: BTreeMap<String, f64>,
    /// A prompt fragment added to the item's prompt (diffusion: what to draw; procedural:
    /// kept as the image's title).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<String>"))]
    pub prompt: String,
}

/// A rule between two trait values, checked on every item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub kind: RuleKind,
    /// The value the rule is about.
    #[serde(rename = "if")]
    #[cfg_attr(feature = "ts", ts(rename = "if"))]
    pub when: ValueRef,
    /// `exclude`: an item with `if` never has this; `require`: an item with `if` always has it.
    pub then: ValueRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    Exclude,
    Require,
}

/// `{ trait = "Background", value = "Night" }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ValueRef {
    #[serde(rename = "trait")]
    #[cfg_attr(feature = "ts", ts(rename = "trait"))]
    pub trait_name: String,
    pub value: String,
}

impl fmt::Display for ValueRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.trait_name, self.value)
    }
}

/// An evolution stage: when it unlocks and how its art grows from the previous stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub name: String,
    pub unlock: Unlock,
    /// Procedural: the engine's stage number (defaults to the stage's index). Diffusion:
    /// absent for stage 0 (text to image), `{ img2img = "prompt", strength = 0.5 }` after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub growth: Option<Growth>,
}

/// When a stage may be reached. Stage 0 is always `"mint"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Unlock {
    /// The stage every item is minted at (stage 0 only).
    Mint,
    /// This long after the item's mint: `"30s"`, `"10m"`, `"2h"`, `"7d"`, `"1w"`, `"1d12h"`.
    AfterMint(String),
    /// From this moment on, RFC 3339 (`"2027-01-01T00:00:00Z"`).
    At(String),
    /// When the item's owner triggers it.
    Owner,
    /// When the collection's creator (authority) triggers it.
    Creator,
}

/// How a stage's art grows from the previous stage's.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(untagged)]
pub enum Growth {
    /// Procedural: run the same seeded process to this stage.
    Stage(u32),
    /// Diffusion: img2img from the previous stage's image with this prompt and strength.
    Img2img {
        img2img: String,
        /// 0 keeps the previous image, 1 ignores it.
        strength: f64,
    },
}

/// A price in SOL as the user wrote it (`"0.25"`); [`parse_sol`] turns it into lamports.
/// Deserializes from a string, an integer or a float (floats through their shortest
/// decimal form, which is what the user typed for any price with ≤ 15 digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Price(pub String);

impl Default for Price {
    fn default() -> Self {
        Self("0".into())
    }
}

impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a price in SOL, e.g. \"0.5\" or 0.5")]
        enum Raw {
            Text(String),
            Int(i64),
            Float(f64),
        }
        Ok(Price(match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Int(i) => i.to_string(),
            Raw::Float(f) => f.to_string(),
        }))
    }
}

impl<'de> Deserialize<'de> for Growth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(
            untagged,
            expecting = "a procedural stage number (e.g. `growth = 3`) or `{ img2img = \"prompt\", strength = 0.5 }`"
        )]
        enum Raw {
            Stage(u32),
            Img2img { img2img: String, strength: f64 },
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Stage(n) => Growth::Stage(n),
            Raw::Img2img { img2img, strength } => Growth::Img2img { img2img, strength },
        })
    }
}

/// One problem with a spec, at a field path such as `creators[1].share_bps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Problem {
    /// Dotted path of the field, with `[i]` for list items (0-based), e.g.
    /// `traits[0].values[2].percent`; empty for the spec as a whole.
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// A `collection.toml` that cannot be read as a spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[error("{}", self.describe())]
pub struct ParseError {
    /// What is wrong, as the TOML reader says it.
    pub message: String,
    /// 1-based line and column of the offending text (0 when unknown).
    pub line: u32,
    pub column: u32,
    /// The table header the offending line sits under, e.g. `[[traits.values]]`.
    #[cfg_attr(feature = "ts", ts(optional))]
    pub table: Option<String>,
}

impl ParseError {
    fn describe(&self) -> String {
        let mut s = String::from("collection.toml");
        if self.line > 0 {
            s.push_str(&format!(" line {}, column {}", self.line, self.column));
        }
        if let Some(t) = &self.table {
            s.push_str(&format!(" (in {t})"));
        }
        format!("{s}: {}", self.message.trim_end())
    }
}

/// A spec that cannot be used: unreadable, or readable with problems.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("collection.toml has {} problem(s): {}", .0.len(), join_problems(.0))]
    Invalid(Vec<Problem>),
}

pub(crate) fn join_problems(problems: &[Problem]) -> String {
    problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
}

impl CollectionSpec {
    /// Reads a spec from TOML text. Errors name the line, column and table; unknown keys
    /// are errors (a typo never silently drops a setting). Does not validate: see
    /// [`CollectionSpec::validate`] or [`CollectionSpec::from_toml_valid`].
    pub fn from_toml(text: &str) -> Result<Self, ParseError> {
        toml::from_str(text).map_err(|e| {
            let (line, column, table) = match e.span() {
                Some(span) => locate(text, span.start),
                None => (0, 0, None),
            };
            ParseError { message: e.message().to_string(), line, column, table }
        })
    }

    /// Reads and validates a spec.
    pub fn from_toml_valid(text: &str) -> Result<Self, SpecError> {
        let spec = Self::from_toml(text)?;
        let problems = spec.validate();
        if problems.is_empty() { Ok(spec) } else { Err(SpecError::Invalid(problems)) }
    }

    /// The spec as TOML (what the desktop app saves after a form edit). Comments of the
    /// original file are not kept.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a collection spec always serializes to TOML")
    }

    /// The price in lamports, or why the price text is not a valid SOL amount.
    pub fn price_lamports(&self) -> Result<u64, String> {
        parse_sol(&self.price.0)
    }

    /// The item count each trait value is asked for: `None` where the quota is missing or
    /// not a whole number of items (validation reports those).
    pub fn value_counts(&self) -> Vec<Vec<Option<u32>>> {
        self.traits
            .iter()
            .map(|t| {
                let fixed: u64 = t.values.iter().filter_map(|v| explicit_count(v, self.size)).map(u64::from).sum();
                let open = t.values.iter().filter(|v| v.count.is_none() && v.percent.is_none()).count();
                t.values
                    .iter()
                    .map(|v| {
                        if v.count.is_none() && v.percent.is_none() {
                            // The one value without a quota takes the rest.
                            (open == 1 && fixed <= u64::from(self.size)).then(|| self.size - fixed as u32)
                        } else {
                            explicit_count(v, self.size)
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// Every problem with the spec, each naming its field. Empty = valid. Engine specifics
    /// (style names, parameter ranges, sizes an engine supports) are checked by
    /// [`CollectionSpec::validate_recipes`] with the engine's own check.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        let mut add = |path: String, msg: String| p.push(Problem::new(path, msg));

        // Identity.
        if self.name.trim().is_empty() {
            add("name".into(), "is empty; give the collection a name".into());
        } else if self.name.len() > MAX_NAME_LEN {
            add("name".into(), format!("is {} bytes, at most {MAX_NAME_LEN} fit on chain", self.name.len()));
        }
        if self.symbol.len() > MAX_SYMBOL_LEN {
            add("symbol".into(), format!("is {} bytes, at most {MAX_SYMBOL_LEN} fit on chain", self.symbol.len()));
        }
        if self.size == 0 {
            add("size".into(), "is 0; a collection needs at least 1 item".into());
        } else if self.size > MAX_SIZE {
            add("size".into(), format!("is {}, at most {MAX_SIZE} items are supported", self.size));
        }
        if self.seed > i64::MAX as u64 {
            add("seed".into(), format!("{} does not fit TOML's integers; use at most {}", self.seed, i64::MAX));
        }
        if let Some(url) = &self.external_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            add("external_url".into(), format!("\"{url}\" is not an http(s) URL"));
        }

        // Money.
        if self.creators.is_empty() {
            add("creators".into(), "is empty; add at least one creator (address and share_bps)".into());
        }
        if self.creators.len() > MAX_CREATORS {
            add(
                "creators".into(),
                format!("has {} creators, at most {MAX_CREATORS} fit on chain", self.creators.len()),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, c) in self.creators.iter().enumerate() {
            if let Err(e) = decode_address(&c.address) {
                add(format!("creators[{i}].address"), e);
            } else if !seen.insert(c.address.as_str()) {
                add(format!("creators[{i}].address"), format!("{} is listed twice; merge the shares", c.address));
            }
            if c.share_bps == 0 {
                add(format!("creators[{i}].share_bps"), "is 0; remove the creator or give them a share".into());
            }
        }
        let sum: u64 = self.creators.iter().map(|c| u64::from(c.share_bps)).sum();
        if !self.creators.is_empty() && sum != u64::from(TOTAL_SHARES_BPS) {
            add(
                "creators".into(),
                format!(
                    "shares sum to {} bps, they must sum to {} (100 %)",
                    group(sum),
                    group(TOTAL_SHARES_BPS as u64)
                ),
            );
        }
        if self.royalty_bps > TOTAL_SHARES_BPS {
            add("royalty_bps".into(), format!("is {} bps, more than 10 000 (100 %)", group(self.royalty_bps as u64)));
        }
        if let Err(e) = parse_sol(&self.price.0) {
            add("price".into(), e);
        }

        // Art.
        let (w, h) = (self.art.width(), self.art.height());
        for (key, v) in [("art.width", w), ("art.height", h)] {
            if v == 0 || v > 8192 {
                add(key.into(), format!("{v} is not a usable side; use 1 to 8192 pixels (the engine may narrow this)"));
            }
        }
        match &self.art {
            ArtSpec::Procedural(a) => {
                if a.style.trim().is_empty() {
                    add("art.style".into(), "is empty; name a procedural style, e.g. growth".into());
                }
                for (k, v) in &a.params {
                    if !v.is_finite() {
                        add(format!("art.params.{k}"), format!("{v} is not a finite number"));
                    }
                }
            }
            ArtSpec::Diffusion(d) => {
                if d.model.trim().is_empty() {
                    add("art.model".into(), "is empty; give the model folder".into());
                }
                if d.steps == 0 {
                    add("art.steps".into(), "is 0; use at least 1 step".into());
                }
                if !d.guidance.is_finite() || d.guidance < 0.0 {
                    add("art.guidance".into(), format!("{} must be a finite number ≥ 0", d.guidance));
                }
            }
        }

        // Traits and quotas.
        let procedural = matches!(self.art, ArtSpec::Procedural(_));
        let mut trait_names = BTreeSet::new();
        let mut param_owner: BTreeMap<&str, &str> = BTreeMap::new();
        for (ti, t) in self.traits.iter().enumerate() {
            let tp = format!("traits[{ti}]");
            if t.name.trim().is_empty() {
                add(format!("{tp}.name"), "is empty".into());
            } else if t.name == STAGE_ATTRIBUTE {
                add(
                    format!("{tp}.name"),
                    format!("\"{STAGE_ATTRIBUTE}\" is reserved for the stage attribute; rename the trait"),
                );
            } else if !trait_names.insert(t.name.as_str()) {
                add(format!("{tp}.name"), format!("trait \"{}\" is defined twice", t.name));
            }
            if t.values.is_empty() {
                add(format!("{tp}.values"), format!("trait \"{}\" has no values", t.name));
            }
            let mut value_names = BTreeSet::new();
            let mut open = Vec::new();
            let mut fixed: u64 = 0;
            let mut params_here = BTreeSet::new();
            for (vi, v) in t.values.iter().enumerate() {
                let vp = format!("{tp}.values[{vi}]");
                if v.value.trim().is_empty() {
                    add(format!("{vp}.value"), "is empty".into());
                } else if !value_names.insert(v.value.as_str()) {
                    add(format!("{vp}.value"), format!("\"{}\" appears twice in trait \"{}\"", v.value, t.name));
                }
                match (v.count, v.percent) {
                    (Some(_), Some(_)) => add(format!("{vp}.percent"), "give either count or percent, not both".into()),
                    (Some(c), None) => fixed += u64::from(c),
                    (None, Some(pc)) => {
                        if !pc.is_finite() || !(0.0..=100.0).contains(&pc) {
                            add(format!("{vp}.percent"), format!("{pc} must be from 0 to 100"));
                        } else if let Some(c) = percent_count(pc, self.size) {
                            fixed += u64::from(c);
                        } else {
                            let exact = pc * f64::from(self.size) / 100.0;
                            add(
                                format!("{vp}.percent"),
                                format!(
                                    "{pc} % of {} items is {exact} items, not a whole number; use count = {} or a percent that gives whole items",
                                    self.size,
                                    exact.round()
                                ),
                            );
                        }
                    }
                    (None, None) => open.push(vi),
                }
                if !v.params.is_empty() && !procedural {
                    add(
                        format!("{vp}.params"),
                        "parameters are for the procedural engine; use a prompt fragment with diffusion".into(),
                    );
                }
                for (k, x) in &v.params {
                    if !x.is_finite() {
                        add(format!("{vp}.params.{k}"), format!("{x} is not a finite number"));
                    }
                    params_here.insert(k.as_str());
                }
            }
            for k in params_here {
                if let Some(other) = param_owner.insert(k, t.name.as_str()) {
                    add(
                        format!("{tp}.values"),
                        format!(
                            "parameter \"{k}\" is set by traits \"{other}\" and \"{}\"; an item has both, so only one trait may set it",
                            t.name
                        ),
                    );
                }
            }
            if open.len() > 1 {
                add(
                    format!("{tp}.values[{}]", open[1]),
                    format!(
                        "only one value of trait \"{}\" may leave its quota out (it takes the rest); give count or percent",
                        t.name
                    ),
                );
            }
            if self.size > 0 && !t.values.is_empty() {
                if fixed > u64::from(self.size) {
                    add(
                        format!("{tp}.values"),
                        format!(
                            "quotas of trait \"{}\" add up to {} items, more than the collection's {}",
                            t.name, fixed, self.size
                        ),
                    );
                } else if open.is_empty() && fixed != u64::from(self.size) {
                    add(
                        format!("{tp}.values"),
                        format!(
                            "quotas of trait \"{}\" add up to {} items, the collection has {}; make them add up or leave one value's quota out to take the rest",
                            t.name, fixed, self.size
                        ),
                    );
                }
            }
        }

        // Rules.
        for (ri, r) in self.rules.iter().enumerate() {
            let rp = format!("rules[{ri}]");
            for (key, vr) in [("if", &r.when), ("then", &r.then)] {
                match self.traits.iter().find(|t| t.name == vr.trait_name) {
                    None => add(format!("{rp}.{key}.trait"), format!("no trait is named \"{}\"", vr.trait_name)),
                    Some(t) => {
                        if !t.values.iter().any(|v| v.value == vr.value) {
                            add(
                                format!("{rp}.{key}.value"),
                                format!(
                                    "trait \"{}\" has no value \"{}\" (it has: {})",
                                    t.name,
                                    vr.value,
                                    t.values.iter().map(|v| v.value.as_str()).collect::<Vec<_>>().join(", ")
                                ),
                            );
                        }
                    }
                }
            }
            if r.when == r.then {
                add(format!("{rp}.then"), format!("the rule relates {} to itself", r.when));
            }
        }

        // Stages.
        if self.stages.is_empty() {
            add("stages".into(), "is empty; add at least stage 0 (unlock = \"mint\")".into());
        }
        if self.stages.len() > MAX_STAGES {
            add("stages".into(), format!("has {} stages, at most {MAX_STAGES} fit on chain", self.stages.len()));
        }
        let mut stage_names = BTreeSet::new();
        let mut last_growth: Option<u32> = None;
        for (si, s) in self.stages.iter().enumerate() {
            let sp = format!("stages[{si}]");
            if s.name.trim().is_empty() {
                add(format!("{sp}.name"), "is empty".into());
            } else if !stage_names.insert(s.name.as_str()) {
                add(format!("{sp}.name"), format!("stage \"{}\" is named twice", s.name));
            }
            match (&s.unlock, si) {
                (Unlock::Mint, 0) => {}
                (_, 0) => add(
                    format!("{sp}.unlock"),
                    "stage 0 is the stage items are minted at: use unlock = \"mint\"".into(),
                ),
                (Unlock::Mint, _) => add(
                    format!("{sp}.unlock"),
                    "only stage 0 unlocks at mint; use after_mint, at, owner or creator".into(),
                ),
                (Unlock::AfterMint(d), _) => {
                    if let Err(e) = parse_duration(d) {
                        add(format!("{sp}.unlock.after_mint"), e);
                    }
                }
                (Unlock::At(t), _) => {
                    if let Err(e) = parse_rfc3339(t) {
                        add(format!("{sp}.unlock.at"), e);
                    }
                }
                (Unlock::Owner | Unlock::Creator, _) => {}
            }
            match (&self.art, &s.growth) {
                (ArtSpec::Procedural(_), Some(Growth::Img2img { .. })) => {
                    add(format!("{sp}.growth"), "img2img growth needs the diffusion engine; give a procedural stage number".into())
                }
                (ArtSpec::Procedural(_), g) => {
                    let n = match g {
                        Some(Growth::Stage(n)) => *n,
                        _ => si as u32,
                    };
                    if let Some(prev) = last_growth
                        && n <= prev
                    {
                        add(
                            format!("{sp}.growth"),
                            format!("procedural stage {n} does not grow from the previous stage's {prev}; use a higher number"),
                        );
                    }
                    last_growth = Some(n);
                }
                (ArtSpec::Diffusion(_), Some(Growth::Stage(_))) => add(
                    format!("{sp}.growth"),
                    "a stage number is for the procedural engine; with diffusion use { img2img = \"prompt\", strength = 0.5 }".into(),
                ),
                (ArtSpec::Diffusion(_), Some(Growth::Img2img { strength, .. })) => {
                    if si == 0 {
                        add(format!("{sp}.growth"), "stage 0 has no previous image to grow from; leave growth out".into());
                    } else if !(*strength > 0.0 && *strength <= 1.0) {
                        add(format!("{sp}.growth.strength"), format!("{strength} must be in (0, 1]"));
                    }
                }
                (ArtSpec::Diffusion(_), None) => {
                    if si > 0 {
                        add(
                            format!("{sp}.growth"),
                            "say how this stage grows from the last: { img2img = \"prompt\", strength = 0.5 }".into(),
                        );
                    }
                }
            }
        }
        p
    }

    /// Runs the engine's own check (`check(recipe)`) on a sample recipe of every stage with
    /// the base parameters and of every trait value's parameter overrides, and returns the
    /// problems at the field they come from. The samples use seed 0 and `ctx`'s versions.
    pub fn validate_recipes(
        &self,
        ctx: &super::plan::RecipeContext,
        check: &dyn Fn(&Recipe) -> Result<(), String>,
    ) -> Vec<Problem> {
        let mut problems = Vec::new();
        let no_traits: Vec<Option<&TraitValueSpec>> = Vec::new();
        for si in 0..self.stages.len() {
            if let Some(r) = super::plan::build_recipe(self, ctx, 0, &no_traits, si)
                && let Err(e) = check(&r)
            {
                let path = if si == 0 { "art".to_string() } else { format!("stages[{si}].growth") };
                problems.push(Problem::new(path, e));
            }
        }
        for (ti, t) in self.traits.iter().enumerate() {
            for (vi, v) in t.values.iter().enumerate() {
                if v.params.is_empty() {
                    continue;
                }
                let picks = vec![Some(v)];
                if let Some(r) = super::plan::build_recipe(self, ctx, 0, &picks, 0)
                    && let Err(e) = check(&r)
                {
                    problems.push(Problem::new(format!("traits[{ti}].values[{vi}].params"), e));
                }
            }
        }
        problems
    }

    /// The stage growth of stage `index`, with the procedural default applied.
    pub fn growth_of(&self, index: usize) -> Option<Growth> {
        let s = self.stages.get(index)?;
        match (&self.art, &s.growth) {
            (ArtSpec::Procedural(_), None) => Some(Growth::Stage(index as u32)),
            (_, g) => g.clone(),
        }
    }
}

fn explicit_count(v: &TraitValueSpec, size: u32) -> Option<u32> {
    match (v.count, v.percent) {
        (Some(c), None) => Some(c),
        (None, Some(p)) => percent_count(p, size),
        _ => None,
    }
}

/// `percent` of `size` as a whole item count, or `None` if it is not whole.
pub fn percent_count(percent: f64, size: u32) -> Option<u32> {
    if !percent.is_finite() || !(0.0..=100.0).contains(&percent) {
        return None;
    }
    let exact = percent * f64::from(size) / 100.0;
    let rounded = exact.round();
    // Percents are decimals the user typed (12.5, 33.3): allow float noise, nothing more.
    ((exact - rounded).abs() < 1e-6).then_some(rounded as u32)
}

/// `1234567` -> `1 234 567` (thin grouping for messages).
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

/// 1-based line and column of byte `offset`, and the table header above it.
fn locate(text: &str, offset: usize) -> (u32, u32, Option<String>) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() as u32 + 1;
    let table = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.split('#').next().unwrap_or(l).trim().to_string());
    (line, column, table)
}

/// Parses a SOL amount (`"1"`, `"0.25"`, `"1.000000001"`) into lamports, exactly.
pub fn parse_sol(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad = || format!("\"{text}\" is not a SOL amount; write a decimal such as \"0.5\" (at most 9 decimals)");
    if t.is_empty() || t.starts_with('-') {
        return Err(if t.starts_with('-') { format!("\"{text}\" is negative") } else { bad() });
    }
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let frac_trim = frac.trim_end_matches('0');
    if frac_trim.len() > 9 {
        return Err(format!("\"{text}\" has more than 9 decimals; 1 lamport is 0.000000001 SOL"));
    }
    let too_big = || format!("\"{text}\" SOL is more lamports than fit in 64 bits");
    let w: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| too_big())? };
    let f: u64 = if frac_trim.is_empty() { 0 } else { format!("{frac_trim:0<9}").parse().map_err(|_| bad())? };
    w.checked_mul(LAMPORTS_PER_SOL).and_then(|x| x.checked_add(f)).ok_or_else(too_big)
}

/// Parses `"30s"`, `"10m"`, `"2h"`, `"7d"`, `"1w"` or a sum like `"1d12h"` into seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad =
        || format!("\"{text}\" is not a duration; write e.g. \"30s\", \"10m\", \"2h\", \"7d\", \"1w\" or \"1d12h\"");
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for ch in t.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let unit: i64 = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        if num.is_empty() {
            return Err(bad());
        }
        let n: i64 = num.parse().map_err(|_| bad())?;
        total = n.checked_mul(unit).and_then(|x| total.checked_add(x)).ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("\"{text}\" has a number without a unit; add s, m, h, d or w"));
    }
    if total == 0 {
        return Err(format!("\"{text}\" is zero; a later stage must unlock after the mint"));
    }
    Ok(total)
}

/// Parses an RFC 3339 date-time (`2027-01-01T00:00:00Z`, `2027-01-01T09:00:00+09:00`,
/// fractions of a second are dropped) into unix seconds.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let bad = || format!("\"{text}\" is not an RFC 3339 date-time; write e.g. \"2027-01-01T00:00:00Z\"");
    let t = text.trim().as_bytes();
    if t.len() < 19 {
        return Err(bad());
    }
    let num = |a: usize, b: usize| -> Result<i64, String> {
        let s = std::str::from_utf8(&t[a..b]).map_err(|_| bad())?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    if t[4] != b'-' || t[7] != b'-' || !matches!(t[10], b'T' | b't' | b' ') || t[13] != b':' || t[16] != b':' {
        return Err(bad());
    }
    let (y, mo, d, h, mi, s) = (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut i = 19;
    if t.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < t.len() && t[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
    }
    let offset = match t.get(i) {
        Some(b'Z' | b'z') if i + 1 == t.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == t.len() && t[i + 3] == b':' => {
            let o = num(i + 1, i + 3)? * 3600 + num(i + 4, i + 6)? * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return Err(format!("\"{text}\" needs a time zone: end it with Z or an offset like +02:00")),
    };
    let days_in_month = [31, if is_leap(y) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month[(mo - 1) as usize] || h > 23 || mi > 59 || s > 60 {
        return Err(format!("\"{text}\" is not a real date and time"));
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s.min(59) - offset)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Decodes a base58 Solana address into its 32 bytes.
pub fn decode_address(text: &str) -> Result<[u8; 32], String> {
    if text.is_empty() {
        return Err("is empty; give the creator's Solana address (base58)".into());
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(32);
    for ch in text.bytes() {
        let Some(digit) = BASE58.iter().position(|&c| c == ch) else {
            return Err(format!("\"{text}\" is not base58 (character '{}' is not allowed)", ch as char));
        };
        let mut carry = digit as u32;
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = text.bytes().take_while(|&c| c == b'1').count();
    let mut out = vec![0u8; zeros];
    out.extend(bytes.into_iter().skip_while(|&b| b == 0));
    <[u8; 32]>::try_from(out.as_slice())
        .map_err(|_| format!("\"{text}\" decodes to {} bytes, a Solana address has 32", out.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sol_amounts_convert_exactly() {
        assert_eq!(parse_sol("1").unwrap(), 1_000_000_000);
        assert_eq!(parse_sol("0.25").unwrap(), 250_000_000);
        assert_eq!(parse_sol(".5").unwrap(), 500_000_000);
        assert_eq!(parse_sol("1.000000001").unwrap(), 1_000_000_001);
        assert_eq!(parse_sol("0.1000000000").unwrap(), 100_000_000);
        assert!(parse_sol("0.0000000001").unwrap_err().contains("9 decimals"));
        assert!(parse_sol("-1").unwrap_err().contains("negative"));
        assert!(parse_sol("1e3").is_err());
        assert!(parse_sol("").is_err());
        assert!(parse_sol("99999999999999999999").unwrap_err().contains("64 bits"));
    }

    #[test]
    fn durations_parse_units_and_sums() {
        assert_eq!(parse_duration("30s").unwrap(), 30);
        assert_eq!(parse_duration("10m").unwrap(), 600);
        assert_eq!(parse_duration("2h").unwrap(), 7200);
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        assert_eq!(parse_duration("1w").unwrap(), 604_800);
        assert_eq!(parse_duration("1d12h").unwrap(), 129_600);
        for bad in ["", "7", "d", "7x", "0s", "-1d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3339_gives_unix_seconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_rfc3339("2027-01-01T00:00:00Z").unwrap(), 1_798_761_600);
        assert_eq!(parse_rfc3339("2027-01-01T09:00:00+09:00").unwrap(), 1_798_761_600);
        assert_eq!(parse_rfc3339("2024-02-29T12:30:15.250Z").unwrap(), 1_709_209_815);
        assert!(parse_rfc3339("2023-02-29T00:00:00Z").is_err());
        assert!(parse_rfc3339("2027-01-01T00:00:00").unwrap_err().contains("time zone"));
        assert!(parse_rfc3339("tomorrow").is_err());
    }

    #[test]
    fn base58_addresses_decode_to_32_bytes() {
        // The system program: 32 zero bytes.
        assert_eq!(decode_address("11111111111111111111111111111111").unwrap(), [0u8; 32]);
        let token = decode_address("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA").unwrap();
        assert_eq!(hex::encode(token), "06ddf6e1d765a193d9cbe146ceeb79ac1cb485ed5f5b37913a8cf5857eff00a9");
        assert!(decode_address("0OIl").unwrap_err().contains("base58"));
        assert!(decode_address("abc").unwrap_err().contains("32"));
    }

    #[test]
    fn percent_counts_must_be_whole() {
        assert_eq!(percent_count(10.0, 1000), Some(100));
        assert_eq!(percent_count(12.5, 1000), Some(125));
        assert_eq!(percent_count(33.3, 1000), Some(333));
        assert_eq!(percent_count(12.5, 100), None);
    }
}
