//! The built-in procedural engine: deterministic generative art from a seed, a style and
//! named parameters, with no weights.
//!
//! # Styles
//! | style | what it draws |
//! |---|---|
//! | `flow-field` | evenly spaced ink strokes tracing a seeded angle field; each stage threads finer strokes into the gaps and blooms accent colour |
//! | `growth` | a branching, space-filling organism (coral, mycelium, winter tree) whose branches thicken as it grows; later stages blossom |
//! | `reaction-diffusion` | a Gray-Scott reaction spreading from seeded colonies, shaded like cut paper and coloured by age (growth rings) |
//!
//! Every style's parameters, ranges and defaults are in [`STYLES`] ([`StyleInfo::params`]);
//! `chrysalis generate --help` and the desktop app list them from there. A parameter whose
//! default is [`ParamDefault::Seeded`] (e.g. `palette`) is drawn from the seed when the
//! recipe does not set it, so every seed of a collection looks different.
//!
//! # Stages
//! `recipe.stage` (0 to [`MAX_STAGE`]) is *growth*, not a new picture: every style runs the
//! same seeded process further. Stage N's canvas is stage N-1's painting with more painted
//! over it (flow field, growth) or the same simulation run longer (reaction-diffusion), so
//! what was there stays there.
//!
//! # Determinism
//! All randomness comes from [`rng::Rng`] (ChaCha8 keyed by seed, style and stream); all
//! transcendental maths goes through `libm` (pure Rust, identical on every platform); all
//! work is single-threaded and in a fixed order; no hash maps. [`ENGINE_VERSION`] is
//! bumped whenever any output pixel of any recipe would change.

mod canvas;
mod flow;
mod growth;
mod noise;
pub mod palette;
mod reaction;
pub mod rng;

use std::collections::BTreeMap;

use chrysalis_core::recipe::{EngineSpec, ProceduralSpec, RECIPE_FORMAT};
use chrysalis_core::{CancelToken, Recipe};

use crate::engine::{Attribute, Engine, GenProgress, GeneratedImage, RgbImage};
use crate::error::ArtError;

/// Version of the procedural algorithms: bumped whenever any output pixel would change.
pub const ENGINE_VERSION: u32 = 1;
/// Smallest and largest side, in pixels.
pub const MIN_SIDE: u32 = 256;
pub const MAX_SIDE: u32 = 2048;
/// Highest evolution stage the styles define.
pub const MAX_STAGE: u32 = 9;

/// Where a parameter's value comes from when the recipe does not set it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamDefault {
    /// This value.
    Value(f64),
    /// Drawn uniformly from the range with the recipe's seed (integers: each equally likely).
    Seeded,
}

/// One named parameter of a style.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub min: f64,
    pub max: f64,
    /// Must be a whole number.
    pub integer: bool,
    pub default: ParamDefault,
    pub doc: &'static str,
}

impl ParamSpec {
    /// `0.5..=3 (default 1)` or `0..=9, whole (default: from the seed)`.
    pub fn describe_range(&self) -> String {
        let whole = if self.integer { ", whole" } else { "" };
        let default = match self.default {
            ParamDefault::Value(v) => format!("default {v}"),
            ParamDefault::Seeded => "default: from the seed".into(),
        };
        format!("{}..={}{whole} ({default})", self.min, self.max)
    }
}

/// A procedural style.
pub struct StyleInfo {
    /// The name recipes use, e.g. `flow-field`.
    pub name: &'static str,
    /// The name shown to people and written as the `Style` attribute.
    pub title: &'static str,
    pub description: &'static str,
    pub params: &'static [ParamSpec],
    render: fn(&mut Job<'_>) -> Result<Rendered, ArtError>,
}

/// What a style's renderer hands back.
struct Rendered {
    image: RgbImage,
    /// Style-specific attributes, after the common ones.
    attributes: Vec<Attribute>,
}

const PALETTE_DOC: &str =
    "palette index (Moth Night, Sumi, Kyoto, Abyss, Ember, Lichen, Aurora, Porcelain, Dune, Orchid)";

const fn palette_param() -> ParamSpec {
    ParamSpec { name: "palette", min: 0.0, max: 9.0, integer: true, default: ParamDefault::Seeded, doc: PALETTE_DOC }
}

/// Every style, in a fixed order.
pub static STYLES: &[StyleInfo] = &[
    StyleInfo {
        name: "flow-field",
        title: "Flow Field",
        description: "Evenly spaced ink strokes tracing a seeded angle field. Each stage threads finer strokes into the gaps; from stage 2 accent colour blooms where the first strokes began.",
        params: &[
            palette_param(),
            ParamSpec {
                name: "density",
                min: 0.5,
                max: 3.0,
                integer: false,
                default: ParamDefault::Value(1.0),
                doc: "how closely strokes pack",
            },
            ParamSpec {
                name: "length",
                min: 0.2,
                max: 3.0,
                integer: false,
                default: ParamDefault::Value(1.0),
                doc: "longest stroke, relative",
            },
            ParamSpec {
                name: "scale",
                min: 0.5,
                max: 4.0,
                integer: false,
                default: ParamDefault::Value(1.2),
                doc: "size of the field's features (higher = more, smaller eddies)",
            },
            ParamSpec {
                name: "turbulence",
                min: 0.0,
                max: 2.0,
                integer: false,
                default: ParamDefault::Seeded,
                doc: "how much the flow turns",
            },
            ParamSpec {
                name: "weight",
                min: 0.25,
                max: 3.0,
                integer: false,
                default: ParamDefault::Value(1.0),
                doc: "stroke thickness, relative",
            },
        ],
        render: flow::render,
    },
    StyleInfo {
        name: "growth",
        title: "Growth",
        description: "A branching organism growing from seeded roots, avoiding itself until it fills its space. Branches thicken as they carry more growth; from stage 2 the tips blossom.",
        params: &[
            palette_param(),
            ParamSpec {
                name: "roots",
                min: 1.0,
                max: 7.0,
                integer: true,
                default: ParamDefault::Seeded,
                doc: "how many organisms start",
            },
            ParamSpec {
                name: "density",
                min: 0.5,
                max: 2.5,
                integer: false,
                default: ParamDefault::Value(1.0),
                doc: "how closely branches pack",
            },
            ParamSpec {
                name: "branching",
                min: 0.2,
                max: 3.0,
                integer: false,
                default: ParamDefault::Value(1.0),
                doc: "how often branches split",
            },
            ParamSpec {
                name: "spread",
                min: 0.15,
                max: 1.4,
                integer: false,
                default: ParamDefault::Value(0.6),
                doc: "angle between a branch and its parent, radians",
            },
            ParamSpec {
                name: "wander",
                min: 0.0,
                max: 1.0,
                integer: false,
                default: ParamDefault::Seeded,
                doc: "how much branches meander",
            },
            ParamSpec {
                name: "weight",
                min: 0.25,
                max: 3.0,
                integer: false,
                default: ParamDefault::Value(1.0),
                doc: "branch thickness, relative",
            },
        ],
        render: growth::render,
    },
    StyleInfo {
        name: "reaction-diffusion",
        title: "Reaction-Diffusion",
        description: "A Gray-Scott reaction spreading from seeded colonies, shaded like cut paper and coloured by when each part grew. Each stage shows the next band of growth.",
        params: &[
            palette_param(),
            ParamSpec {
                name: "pattern",
                min: 0.0,
                max: 4.0,
                integer: true,
                default: ParamDefault::Seeded,
                doc: "0 ripples, 1 fingerprint, 2 lace, 3 maze, 4 coral",
            },
            ParamSpec {
                name: "colonies",
                min: 1.0,
                max: 12.0,
                integer: true,
                default: ParamDefault::Seeded,
                doc: "how many places the reaction starts",
            },
            ParamSpec {
                name: "scale",
                min: 0.75,
                max: 2.0,
                integer: false,
                default: ParamDefault::Value(1.0),
                doc: "size of the pattern's features",
            },
            ParamSpec {
                name: "relief",
                min: 0.0,
                max: 2.0,
                integer: false,
                default: ParamDefault::Value(1.0),
                doc: "depth of the paper-cut shading",
            },
        ],
        render: reaction::render,
    },
];

/// The style named `name`.
pub fn style(name: &str) -> Result<&'static StyleInfo, ArtError> {
    STYLES
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ArtError::UnknownStyle { style: name.to_string(), known: style_names() })
}

fn style_names() -> String {
    STYLES.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// A style's parameters after defaults: every name the style takes, with its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Params(BTreeMap<&'static str, f64>);

impl Params {
    pub fn get(&self, name: &str) -> f64 {
        *self.0.get(name).unwrap_or_else(|| panic!("style reads undeclared parameter {name}"))
    }

    pub fn int(&self, name: &str) -> usize {
        self.get(name) as usize
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        self.0.iter().map(|(k, v)| (*k, *v))
    }
}

/// Checks `given` against the style and fills in defaults.
pub fn resolve_params(style: &StyleInfo, given: &BTreeMap<String, f64>, seed: u64) -> Result<Params, ArtError> {
    if let Some(name) = given.keys().find(|k| !style.params.iter().any(|p| p.name == k.as_str())) {
        return Err(ArtError::UnknownParam {
            style: style.name.into(),
            name: name.clone(),
            known: style.params.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
        });
    }
    let mut out = BTreeMap::new();
    for spec in style.params {
        let value = match given.get(spec.name) {
            Some(&v) => {
                if !v.is_finite() || v < spec.min || v > spec.max || (spec.integer && v.fract() != 0.0) {
                    let whole = if spec.integer { "a whole number " } else { "" };
                    return Err(ArtError::ParamRange {
                        style: style.name.into(),
                        name: spec.name.into(),
                        value: v,
                        expected: format!("expected {whole}from {} to {}", spec.min, spec.max),
                    });
                }
                v
            }
            None => match spec.default {
                ParamDefault::Value(v) => v,
                ParamDefault::Seeded => {
                    let mut rng = rng::Rng::new(seed, style.name, &format!("param:{}", spec.name));
                    if spec.integer {
                        spec.min + rng.below((spec.max - spec.min) as usize + 1) as f64
                    } else {
                        // Rounded to 3 decimals so the value reads well in attributes.
                        libm::round(rng.range(spec.min, spec.max) * 1000.0) / 1000.0
                    }
                }
            },
        };
        out.insert(spec.name, value);
    }
    Ok(Params(out))
}

/// A recipe for the procedural engine, with the current engine version.
pub fn recipe(style: &str, seed: u64, width: u32, height: u32, stage: u32, params: BTreeMap<String, f64>) -> Recipe {
    Recipe {
        format: RECIPE_FORMAT,
        engine: EngineSpec::Procedural(ProceduralSpec { engine_version: ENGINE_VERSION, style: style.into(), params }),
        seed,
        width,
        height,
        stage,
        prompt: String::new(),
        negative_prompt: String::new(),
    }
}

/// Everything a style's renderer sees: the resolved inputs, and progress/cancel plumbing.
pub(crate) struct Job<'a> {
    pub seed: u64,
    pub width: usize,
    pub height: usize,
    pub stage: u32,
    pub style: &'static StyleInfo,
    pub params: Params,
    total: u32,
    done: u32,
    on_progress: &'a mut dyn FnMut(&GenProgress),
    cancel: &'a CancelToken,
}

impl Job<'_> {
    pub fn rng(&self, stream: &str) -> rng::Rng {
        rng::Rng::new(self.seed, self.style.name, stream)
    }

    pub fn palette(&self) -> &'static palette::Palette {
        &palette::PALETTES[self.params.int("palette")]
    }

    /// Declares how many steps the job has (once, before the first [`Job::step`]).
    pub fn begin(&mut self, total: u32, phase: &'static str) -> Result<(), ArtError> {
        self.total = total.max(1);
        self.done = 0;
        self.cancel.check()?;
        (self.on_progress)(&GenProgress::new(0, self.total, phase));
        Ok(())
    }

    /// One step done: reports it and stops if cancelled.
    pub fn step(&mut self, phase: &'static str) -> Result<(), ArtError> {
        self.cancel.check()?;
        self.done = (self.done + 1).min(self.total);
        (self.on_progress)(&GenProgress::new(self.done, self.total, phase));
        Ok(())
    }

    /// The final report, with a preview of the finished image.
    fn finish(&mut self, image: &RgbImage) {
        self.done = self.total;
        (self.on_progress)(
            &GenProgress::new(self.total, self.total, "done").with_preview(crate::engine::preview(image)),
        );
    }
}

/// The procedural engine. Stateless: everything it needs is in the recipe.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProceduralEngine;

impl ProceduralEngine {
    /// Validates a procedural recipe: engine kind and version, size, stage, style, params.
    pub fn check(recipe: &Recipe) -> Result<(&'static StyleInfo, Params), ArtError> {
        let spec = match &recipe.engine {
            EngineSpec::Procedural(p) => p,
            EngineSpec::Diffusion(_) => return Err(ArtError::WrongEngine { engine: "procedural", kind: "diffusion" }),
        };
        if spec.engine_version != ENGINE_VERSION {
            return Err(ArtError::EngineVersion {
                engine: "procedural",
                found: spec.engine_version,
                supported: ENGINE_VERSION,
            });
        }
        let (w, h) = (recipe.width, recipe.height);
        if !(MIN_SIDE..=MAX_SIDE).contains(&w) || !(MIN_SIDE..=MAX_SIDE).contains(&h) {
            return Err(ArtError::Size { engine: "procedural", width: w, height: h, min: MIN_SIDE, max: MAX_SIDE });
        }
        if recipe.stage > MAX_STAGE {
            return Err(ArtError::Stage { stage: recipe.stage, max: MAX_STAGE });
        }
        let style = style(&spec.style)?;
        let params = resolve_params(style, &spec.params, recipe.seed)?;
        Ok((style, params))
    }

    /// The NFT attributes of the image `recipe` makes, without making it.
    pub fn attributes(recipe: &Recipe) -> Result<Vec<Attribute>, ArtError> {
        let (style, params) = Self::check(recipe)?;
        Ok(common_attributes(style, &params, recipe.stage))
    }
}

fn common_attributes(style: &StyleInfo, params: &Params, stage: u32) -> Vec<Attribute> {
    vec![
        Attribute::new("Style", style.title),
        Attribute::new("Palette", palette::PALETTES[params.int("palette")].name),
        Attribute::new("Stage", stage.to_string()),
    ]
}

impl Engine for ProceduralEngine {
    fn name(&self) -> &str {
        "procedural"
    }

    fn generate(
        &self,
        recipe: &Recipe,
        _init: Option<&RgbImage>,
        on_progress: &mut dyn FnMut(&GenProgress),
        cancel: &CancelToken,
    ) -> Result<GeneratedImage, ArtError> {
        recipe.validate()?;
        let (style, params) = Self::check(recipe)?;
        cancel.check()?;
        let mut job = Job {
            seed: recipe.seed,
            width: recipe.width as usize,
            height: recipe.height as usize,
            stage: recipe.stage,
            style,
            params,
            total: 1,
            done: 0,
            on_progress,
            cancel,
        };
        let rendered = (style.render)(&mut job)?;
        job.finish(&rendered.image);
        let mut attributes = common_attributes(style, &job.params, recipe.stage);
        attributes.extend(rendered.attributes);
        Ok(GeneratedImage { image: rendered.image, attributes })
    }
}

/// A word for where `value` sits: below `lo` the first word, below `hi` the second, else
/// the third. Styles pick `lo`/`hi` around their default so the default reads as the middle.
fn grade(value: f64, lo: f64, hi: f64, words: [&'static str; 3]) -> &'static str {
    if value < lo {
        words[0]
    } else if value < hi {
        words[1]
    } else {
        words[2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(style: &str, seed: u64, stage: u32, params: &[(&str, f64)]) -> RgbImage {
        let params = params.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let recipe = recipe(style, seed, 256, 256, stage, params);
        ProceduralEngine.generate(&recipe, None, &mut |_| {}, &CancelToken::new()).unwrap().image
    }

    /// Which pixels carry paint: those that differ clearly from the bare paper.
    fn painted(style: &str, seed: u64, img: &RgbImage, palette: usize) -> Vec<bool> {
        let pal = &palette::PALETTES[palette];
        let mut rng = rng::Rng::new(seed, style, "paper");
        let paper = canvas::Canvas::paper(256, 256, pal.paper, pal.dark, &mut rng).to_image();
        img.pixels().zip(paper.pixels()).map(|(a, b)| distance(a, b) > 30).collect()
    }

    fn distance(a: &image::Rgb<u8>, b: &image::Rgb<u8>) -> u32 {
        (0..3).map(|c| u32::from(a[c].abs_diff(b[c]))).sum()
    }

    /// Stage N grows out of stage N-1: what was painted stays painted, most of it unchanged,
    /// and there is more of it.
    /// `min_unchanged`: the share of stage N-1's paint that must look the same at stage N
    /// (growth thickens old branches, so it repaints more than the others).
    fn assert_grows(style: &str, seed: u64, params: &[(&str, f64)], palette: usize, min_unchanged: f64, last: u32) {
        let mut prev: Option<(RgbImage, Vec<bool>)> = None;
        for stage in 0..=last {
            let img = render(style, seed, stage, params);
            let paint = painted(style, seed, &img, palette);
            if let Some((pimg, ppaint)) = &prev {
                let before = ppaint.iter().filter(|&&p| p).count();
                let now = paint.iter().filter(|&&p| p).count();
                let kept = ppaint.iter().zip(&paint).filter(|&(&a, &b)| a && b).count();
                let unchanged = ppaint
                    .iter()
                    .zip(pimg.pixels().zip(img.pixels()))
                    .filter(|&(&a, (p, q))| a && distance(p, q) <= 30)
                    .count();
                let (kept, unchanged) = (kept as f64 / before as f64, unchanged as f64 / before as f64);
                eprintln!("{style} stage {stage}: painted {before} -> {now}, kept {kept:.3}, unchanged {unchanged:.3}");
                assert!(kept > 0.97, "{style}: stage {stage} lost paint of stage {} ({kept:.3} kept)", stage - 1);
                assert!(
                    unchanged > min_unchanged,
                    "{style}: stage {stage} repainted most of stage {} ({unchanged:.3} unchanged)",
                    stage - 1
                );
                assert!(now as f64 > before as f64 * 1.05, "{style}: stage {stage} did not grow ({before} -> {now})");
            }
            prev = Some((img, paint));
        }
    }

    #[test]
    fn flow_field_stages_grow_out_of_each_other() {
        assert_grows("flow-field", 5, &[("palette", 1.0), ("turbulence", 1.0)], 1, 0.8, 2);
    }

    #[test]
    fn growth_stages_grow_out_of_each_other() {
        assert_grows("growth", 12, &[("palette", 1.0), ("wander", 0.5)], 1, 0.3, 2);
    }

    #[test]
    fn reaction_diffusion_stages_grow_out_of_each_other() {
        assert_grows("reaction-diffusion", 3, &[("palette", 2.0), ("pattern", 1.0), ("colonies", 3.0)], 2, 0.8, 1);
    }

    #[test]
    fn seeded_defaults_equal_the_same_explicit_values() {
        let style = style("growth").unwrap();
        let resolved = resolve_params(style, &BTreeMap::new(), 77).unwrap();
        let explicit: Vec<(&str, f64)> = resolved.iter().collect();
        assert_eq!(render("growth", 77, 0, &[]), render("growth", 77, 0, &explicit));
        // Seeded defaults vary with the seed (over a handful of seeds at least one differs).
        let palettes: Vec<f64> =
            (0..8).map(|s| resolve_params(style, &BTreeMap::new(), s).unwrap().get("palette")).collect();
        assert!(palettes.iter().any(|&p| p != palettes[0]), "{palettes:?}");
    }

    #[test]
    fn every_declared_param_default_is_in_range() {
        for style in STYLES {
            for p in style.params {
                if let ParamDefault::Value(v) = p.default {
                    assert!(v >= p.min && v <= p.max, "{}.{}", style.name, p.name);
                }
                assert!(p.min < p.max, "{}.{}", style.name, p.name);
            }
            let r = resolve_params(style, &BTreeMap::new(), 1).unwrap();
            assert_eq!(r.iter().count(), style.params.len());
            assert!(style.params.iter().any(|p| p.name == "palette"));
        }
        assert_eq!(palette::PALETTES.len(), 10, "the palette param's range and doc list 10 palettes");
    }
}
