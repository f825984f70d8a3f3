//! Validation of a [`CollectionSpec`]: every rule a spec must meet, one function per section
//! of `collection.toml`, each problem at the path of the field it is about, with a message
//! that says what to do. Everything is reported at once, so an editor can show each problem
//! beside its field while the user types.

use std::collections::{BTreeMap, BTreeSet};

use super::values::{decode_address, parse_duration, parse_rfc3339, parse_sol};
use super::{
    ArtSpec, CollectionSpec, Growth, MAX_CREATORS, MAX_NAME_LEN, MAX_SIZE, MAX_STAGES, MAX_SYMBOL_LEN, Problem,
    STAGE_ATTRIBUTE, TOTAL_SHARES_BPS, TraitValueSpec, Unlock,
};
use crate::recipe::{Backend, DType};

impl CollectionSpec {
    /// Every problem with the spec, each naming its field. Empty = valid. Engine specifics
    /// (style names, parameter ranges, sizes an engine supports) are checked by
    /// [`crate::collection::plan::validate_recipes`] with the engine's own check.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Problems::default();
        identity(self, &mut p);
        money(self, &mut p);
        art(self, &mut p);
        traits(self, &mut p);
        rules(self, &mut p);
        stages(self, &mut p);
        p.0
    }
}

/// The problems found so far, in the order the sections are checked.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: String, message: String) {
        self.0.push(Problem::new(path, message));
    }
}

/// The name, symbol, size, seed and external URL.
fn identity(spec: &CollectionSpec, p: &mut Problems) {
    if spec.name.trim().is_empty() {
        p.add("name".into(), "is empty; give the collection a name".into());
    } else if spec.name.len() > MAX_NAME_LEN {
        p.add("name".into(), format!("is {} bytes, at most {MAX_NAME_LEN} fit on chain", spec.name.len()));
    }
    if spec.symbol.len() > MAX_SYMBOL_LEN {
        p.add("symbol".into(), format!("is {} bytes, at most {MAX_SYMBOL_LEN} fit on chain", spec.symbol.len()));
    }
    if spec.size == 0 {
        p.add("size".into(), "is 0; a collection needs at least 1 item".into());
    } else if spec.size > MAX_SIZE {
        p.add("size".into(), format!("is {}, at most {MAX_SIZE} items are supported", spec.size));
    }
    if spec.seed > i64::MAX as u64 {
        p.add("seed".into(), format!("{} does not fit TOML's integers; use at most {}", spec.seed, i64::MAX));
    }
    if let Some(url) = &spec.external_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        p.add("external_url".into(), format!("\"{url}\" is not an http(s) URL"));
    }
}

/// Creators, their shares, the royalty and the price.
fn money(spec: &CollectionSpec, p: &mut Problems) {
    if spec.creators.is_empty() {
        p.add("creators".into(), "is empty; add at least one creator (address and share_bps)".into());
    }
    if spec.creators.len() > MAX_CREATORS {
        p.add("creators".into(), format!("has {} creators, at most {MAX_CREATORS} fit on chain", spec.creators.len()));
    }
    let mut seen = BTreeSet::new();
    for (i, c) in spec.creators.iter().enumerate() {
        if let Err(e) = decode_address(&c.address) {
            p.add(format!("creators[{i}].address"), e);
        } else if !seen.insert(c.address.as_str()) {
            p.add(format!("creators[{i}].address"), format!("{} is listed twice; merge the shares", c.address));
        }
        if c.share_bps == 0 {
            p.add(format!("creators[{i}].share_bps"), "is 0; remove the creator or give them a share".into());
        }
    }
    let sum: u64 = spec.creators.iter().map(|c| u64::from(c.share_bps)).sum();
    if !spec.creators.is_empty() && sum != u64::from(TOTAL_SHARES_BPS) {
        p.add(
            "creators".into(),
            format!("shares sum to {} bps, they must sum to {} (100 %)", group(sum), group(TOTAL_SHARES_BPS as u64)),
        );
    }
    if spec.royalty_bps > TOTAL_SHARES_BPS {
        p.add("royalty_bps".into(), format!("is {} bps, more than 10 000 (100 %)", group(spec.royalty_bps as u64)));
    }
    if let Err(e) = parse_sol(&spec.price.0) {
        p.add("price".into(), e);
    }
}

/// The engine and its base recipe (engine specifics are the engine's own check).
fn art(spec: &CollectionSpec, p: &mut Problems) {
    let (w, h) = (spec.art.width(), spec.art.height());
    for (key, v) in [("art.width", w), ("art.height", h)] {
        if v == 0 || v > 8192 {
            p.add(key.into(), format!("{v} is not a usable side; use 1 to 8192 pixels (the engine may narrow this)"));
        }
    }
    match &spec.art {
        ArtSpec::Procedural(a) => {
            if a.style.trim().is_empty() {
                p.add("art.style".into(), "is empty; name a procedural style, e.g. growth".into());
            }
            for (k, v) in &a.params {
                if !v.is_finite() {
                    p.add(format!("art.params.{k}"), format!("{v} is not a finite number"));
                }
            }
        }
        ArtSpec::Diffusion(d) => {
            if d.model.trim().is_empty() {
                p.add("art.model".into(), "is empty; give the model folder".into());
            }
            if d.steps == 0 {
                p.add("art.steps".into(), "is 0; use at least 1 step".into());
            }
            if !d.guidance.is_finite() || d.guidance < 0.0 {
                p.add("art.guidance".into(), format!("{} must be a finite number ≥ 0", d.guidance));
            }
            // A pair no build can run: refused here rather than when generating.
            if d.backend == Some(Backend::Torch) && d.device.is_some_and(|c| !c.is_cpu()) {
                p.add(
                    "art.backend".into(),
                    "libtorch runs on the CPU only; leave `device` out (or set it to \"cpu\"), or use backend = \"candle\" on the GPU".into(),
                );
            }
            if d.dtype == Some(DType::Bf16) && d.backend != Some(Backend::Torch) && d.device.is_none_or(|c| c.is_cpu())
            {
                p.add(
                    "art.dtype".into(),
                    "bf16 runs with backend = \"torch\" (or on a GPU); candle has no bf16 matrix product on the CPU: use \"f16\" or \"f32\"".into(),
                );
            }
            for (i, l) in d.loras.iter().enumerate() {
                if l.file.trim().is_empty() {
                    p.add(format!("art.loras[{i}].file"), "is empty; give the LoRA's .safetensors file".into());
                }
                if !l.weight.is_finite() {
                    p.add(format!("art.loras[{i}].weight"), format!("{} is not a finite number", l.weight));
                }
            }
        }
    }
}

/// Trait names, values and quotas, and which trait sets which parameter.
fn traits(spec: &CollectionSpec, p: &mut Problems) {
    let procedural = matches!(spec.art, ArtSpec::Procedural(_));
    let mut trait_names = BTreeSet::new();
    let mut param_owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (ti, t) in spec.traits.iter().enumerate() {
        let tp = format!("traits[{ti}]");
        if t.name.trim().is_empty() {
            p.add(format!("{tp}.name"), "is empty".into());
        } else if t.name == STAGE_ATTRIBUTE {
            p.add(
                format!("{tp}.name"),
                format!("\"{STAGE_ATTRIBUTE}\" is reserved for the stage attribute; rename the trait"),
            );
        } else if !trait_names.insert(t.name.as_str()) {
            p.add(format!("{tp}.name"), format!("trait \"{}\" is defined twice", t.name));
        }
        if t.values.is_empty() {
            p.add(format!("{tp}.values"), format!("trait \"{}\" has no values", t.name));
        }
        let mut value_names = BTreeSet::new();
        let mut open = Vec::new();
        let mut fixed: u64 = 0;
        let mut params_here = BTreeSet::new();
        for (vi, v) in t.values.iter().enumerate() {
            let vp = format!("{tp}.values[{vi}]");
            if v.value.trim().is_empty() {
                p.add(format!("{vp}.value"), "is empty".into());
            } else if !value_names.insert(v.value.as_str()) {
                p.add(format!("{vp}.value"), format!("\"{}\" appears twice in trait \"{}\"", v.value, t.name));
            }
            match (v.count, v.percent) {
                (Some(_), Some(_)) => p.add(format!("{vp}.percent"), "give either count or percent, not both".into()),
                (Some(c), None) => fixed += u64::from(c),
                (None, Some(pc)) => {
                    if !pc.is_finite() || !(0.0..=100.0).contains(&pc) {
                        p.add(format!("{vp}.percent"), format!("{pc} must be from 0 to 100"));
                    } else if let Some(c) = percent_count(pc, spec.size) {
                        fixed += u64::from(c);
                    } else {
                        let exact = pc * f64::from(spec.size) / 100.0;
                        p.add(
                            format!("{vp}.percent"),
                            format!(
                                "{pc} % of {} items is {} items, not a whole number; use count = {} or a percent that gives whole items",
                                spec.size,
                                short_decimal(exact),
                                exact.round()
                            ),
                        );
                    }
                }
                (None, None) => open.push(vi),
            }
            if !v.params.is_empty() && !procedural {
                p.add(
                    format!("{vp}.params"),
                    "parameters are for the procedural engine; use a prompt fragment with diffusion".into(),
                );
            }
            for (k, x) in &v.params {
                if !x.is_finite() {
                    p.add(format!("{vp}.params.{k}"), format!("{x} is not a finite number"));
                }
                params_here.insert(k.as_str());
            }
        }
        for k in params_here {
            if let Some(other) = param_owner.insert(k, t.name.as_str()) {
                p.add(
                    format!("{tp}.values"),
                    format!(
                        "parameter \"{k}\" is set by traits \"{other}\" and \"{}\"; an item has both, so only one trait may set it",
                        t.name
                    ),
                );
            }
        }
        if open.len() > 1 {
            p.add(
                format!("{tp}.values[{}]", open[1]),
                format!(
                    "only one value of trait \"{}\" may leave its quota out (it takes the rest); give count or percent",
                    t.name
                ),
            );
        }
        if spec.size > 0 && !t.values.is_empty() {
            if fixed > u64::from(spec.size) {
                p.add(
                    format!("{tp}.values"),
                    format!(
                        "quotas of trait \"{}\" add up to {} items, more than the collection's {}",
                        t.name, fixed, spec.size
                    ),
                );
            } else if open.is_empty() && fixed != u64::from(spec.size) {
                p.add(
                    format!("{tp}.values"),
                    format!(
                        "quotas of trait \"{}\" add up to {} items, the collection has {}; make them add up or leave one value's quota out to take the rest",
                        t.name, fixed, spec.size
                    ),
                );
            }
        }
    }
}

/// Rules name existing traits and values, and relate two different values.
fn rules(spec: &CollectionSpec, p: &mut Problems) {
    for (ri, r) in spec.rules.iter().enumerate() {
        let rp = format!("rules[{ri}]");
        for (key, vr) in [("if", &r.when), ("then", &r.then)] {
            match spec.traits.iter().find(|t| t.name == vr.trait_name) {
                None => p.add(format!("{rp}.{key}.trait"), format!("no trait is named \"{}\"", vr.trait_name)),
                Some(t) => {
                    if !t.values.iter().any(|v| v.value == vr.value) {
                        p.add(
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
            p.add(format!("{rp}.then"), format!("the rule relates {} to itself", r.when));
        }
    }
}

/// Stage names, unlocks, and how each stage grows out of the one before.
fn stages(spec: &CollectionSpec, p: &mut Problems) {
    if spec.stages.is_empty() {
        p.add("stages".into(), "is empty; add at least stage 0 (unlock = \"mint\")".into());
    }
    if spec.stages.len() > MAX_STAGES {
        p.add("stages".into(), format!("has {} stages, at most {MAX_STAGES} fit on chain", spec.stages.len()));
    }
    let mut stage_names = BTreeSet::new();
    let mut last_growth: Option<u32> = None;
    for (si, s) in spec.stages.iter().enumerate() {
        let sp = format!("stages[{si}]");
        if s.name.trim().is_empty() {
            p.add(format!("{sp}.name"), "is empty".into());
        } else if !stage_names.insert(s.name.as_str()) {
            p.add(format!("{sp}.name"), format!("stage \"{}\" is named twice", s.name));
        }
        match (&s.unlock, si) {
            (Unlock::Mint, 0) => {}
            (_, 0) => {
                p.add(format!("{sp}.unlock"), "stage 0 is the stage items are minted at: use unlock = \"mint\"".into())
            }
            (Unlock::Mint, _) => p.add(
                format!("{sp}.unlock"),
                "only stage 0 unlocks at mint; use after_mint, at, owner or creator".into(),
            ),
            (Unlock::AfterMint(d), _) => {
                if let Err(e) = parse_duration(d) {
                    p.add(format!("{sp}.unlock.after_mint"), e);
                }
            }
            (Unlock::At(t), _) => {
                if let Err(e) = parse_rfc3339(t) {
                    p.add(format!("{sp}.unlock.at"), e);
                }
            }
            (Unlock::Owner | Unlock::Creator, _) => {}
        }
        match (&spec.art, &s.growth) {
            (ArtSpec::Procedural(_), Some(Growth::Img2img { .. })) => {
                p.add(format!("{sp}.growth"), "img2img growth needs the diffusion engine; give a procedural stage number".into())
            }
            (ArtSpec::Procedural(_), g) => {
                let n = match g {
                    Some(Growth::Stage(n)) => *n,
                    _ => si as u32,
                };
                if let Some(prev) = last_growth
                    && n <= prev
                {
                    p.add(
                        format!("{sp}.growth"),
                        format!("procedural stage {n} does not grow from the previous stage's {prev}; use a higher number"),
                    );
                }
                last_growth = Some(n);
            }
            (ArtSpec::Diffusion(_), Some(Growth::Stage(_))) => p.add(
                format!("{sp}.growth"),
                "a stage number is for the procedural engine; with diffusion use { img2img = \"prompt\", strength = 0.5 }".into(),
            ),
            (ArtSpec::Diffusion(_), Some(Growth::Img2img { strength, .. })) => {
                if si == 0 {
                    p.add(format!("{sp}.growth"), "stage 0 has no previous image to grow from; leave growth out".into());
                } else if !(*strength > 0.0 && *strength <= 1.0) {
                    p.add(format!("{sp}.growth.strength"), format!("{strength} must be in (0, 1]"));
                }
            }
            (ArtSpec::Diffusion(_), None) => {
                if si > 0 {
                    p.add(
                        format!("{sp}.growth"),
                        "say how this stage grows from the last: { img2img = \"prompt\", strength = 0.5 }".into(),
                    );
                }
            }
        }
    }
}

pub(super) fn explicit_count(v: &TraitValueSpec, size: u32) -> Option<u32> {
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

/// `x` with at most two decimals and no trailing zeros (`1.3319999999999999` -> `1.33`,
/// `12.5` -> `12.5`, `3.0` -> `3`): what a person wants to read in a message.
fn short_decimal(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_show_short_decimals() {
        assert_eq!(short_decimal(33.3 * 4.0 / 100.0), "1.33");
        assert_eq!(short_decimal(12.5), "12.5");
        assert_eq!(short_decimal(3.0), "3");
        assert_eq!(short_decimal(0.004), "0");
    }

    #[test]
    fn percent_counts_must_be_whole() {
        assert_eq!(percent_count(10.0, 1000), Some(100));
        assert_eq!(percent_count(12.5, 1000), Some(125));
        assert_eq!(percent_count(33.3, 1000), Some(333));
        assert_eq!(percent_count(12.5, 100), None);
    }
}
