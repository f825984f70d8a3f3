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
//! parameters exist. [`super::plan::validate_recipes`] takes the engine's own check (the
//! art crate's) as a hook and runs it on a sample recipe of every stage and trait value.
//! The spec knows nothing of planning: the planner reads the spec, never the reverse.
//!
//! Where things are:
//! - this file: the types as `collection.toml` spells them, their serde, reading and writing;
//! - [`validate`](self::CollectionSpec::validate) (`validate.rs`): every rule a spec must
//!   meet, one function per section, with the messages a user reads;
//! - [`edit`] (`edit.rs`): a spec written back over the file it came from, keeping its
//!   comments and key order (what the desktop app's form saves);
//! - `values.rs`: the text forms of values (SOL amounts, durations, RFC 3339 times, base58
//!   addresses), parsed exactly.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::recipe::{Backend, DType, DeviceClass, Scheduler};

pub mod edit;
mod validate;
mod values;

use validate::explicit_count;
pub use validate::percent_count;
pub use values::{decode_address, parse_duration, parse_rfc3339, parse_sol};

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
    /// Model folder (diffusers layout) or single-file `.safetensors` checkpoint (SD 1.x/2.x),
    /// relative to the project folder or absolute.
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
    /// The kind of processor that makes the images, `cpu` when left out. It is part of
    /// every item's recipe (committed on chain), so it is chosen here, before planning:
    /// images from a CPU and a GPU differ in their last bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub device: Option<DeviceClass>,
    /// The tensor library that makes the images, `candle` when left out; `torch` (libtorch)
    /// needs a build with it. Part of every item's recipe like `device`: candle's and
    /// libtorch's images differ in their last bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub backend: Option<Backend>,
    /// kohya-layout LoRA files merged into the model for every item, in order: the style
    /// that holds a collection together. Each item's recipe records their hashes and weights.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<LoraFile>>", optional))]
    pub loras: Vec<LoraFile>,
    pub width: u32,
    pub height: u32,
}

/// A LoRA file of a diffusion collection, relative to the project folder or absolute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct LoraFile {
    pub file: String,
    /// 1.0 applies it as trained (default).
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
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
    #[error("collection.toml has {}", format_problems(.0))]
    Invalid(Vec<Problem>),
}

/// `problems` for a person to read: a count, then one problem per line. Problems that say
/// the same thing about several fields are merged into one line naming every field, so a
/// sentence that holds for each value of a trait is read once.
///
/// ```text
/// 2 problems:
///   - name: is empty; give the collection a name
///   - traits[0].values[0].params, traits[0].values[1].params: unknown parameter "x"
/// ```
pub fn format_problems(problems: &[Problem]) -> String {
    // (message, paths), in the order each message first appears.
    let mut merged: Vec<(&str, Vec<&str>)> = Vec::new();
    for p in problems {
        match merged.iter_mut().find(|(message, _)| *message == p.message) {
            Some((_, paths)) => paths.push(&p.path),
            None => merged.push((&p.message, vec![&p.path])),
        }
    }
    let n = merged.len();
    let mut out = format!("{n} problem{}:", if n == 1 { "" } else { "s" });
    for (message, paths) in merged {
        let paths: Vec<&str> = paths.into_iter().filter(|p| !p.is_empty()).collect();
        out.push_str("\n  - ");
        if !paths.is_empty() {
            out.push_str(&paths.join(", "));
            out.push_str(": ");
        }
        out.push_str(message);
    }
    out
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

    /// The spec as fresh TOML, in the field order above. No comments: to write an edited
    /// spec back over the file it came from, keeping that file's comments, key order and
    /// formatting, use [`CollectionSpec::to_toml_over`].
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a collection spec always serializes to TOML")
    }

    /// The spec written over `original` (the text it was read from, e.g. before a form
    /// edit): only the values that differ are rewritten, removed or added; comments, key
    /// order and the formatting of everything else are kept ([`edit::apply`]).
    pub fn to_toml_over(&self, original: &str) -> String {
        edit::apply(original, self)
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

    /// The top-level keys of `collection.toml` whose values differ between `self` and
    /// `other`, in file order (comments and formatting are not values: they never count).
    pub fn changed_fields(&self, other: &CollectionSpec) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut diff = |name: &'static str, differs: bool| {
            if differs {
                out.push(name);
            }
        };
        diff("name", self.name != other.name);
        diff("symbol", self.symbol != other.symbol);
        diff("description", self.description != other.description);
        diff("size", self.size != other.size);
        diff("seed", self.seed != other.seed);
        diff("external_url", self.external_url != other.external_url);
        diff("creators", self.creators != other.creators);
        diff("royalty_bps", self.royalty_bps != other.royalty_bps);
        diff("price", self.price_lamports().ok() != other.price_lamports().ok() || self.price != other.price);
        diff("art", self.art != other.art);
        diff("traits", self.traits != other.traits);
        diff("rules", self.rules != other.rules);
        diff("stages", self.stages != other.stages);
        out
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
