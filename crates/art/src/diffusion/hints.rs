//! What sampling a model expects: sampler, steps and guidance.
//!
//! Few-step models are distilled for a handful of steps and no (or little) guidance; run
//! with SD's usual 20-50 guided steps they give burnt or washed-out images. Nothing in the
//! weights says so, so the hint comes from what a model folder carries, first match wins:
//!
//! 1. `chrysalis.json` next to the model (in a folder; `NAME.chrysalis.json` beside a
//!    single `.safetensors` file): our own hint file, every field optional, e.g.
//!    `{"scheduler": "lcm", "steps": 4, "min_steps": 2, "max_steps": 8, "guidance": 1.0,
//!    "max_guidance": 2.0, "note": "LCM-distilled"}`. Fields it omits come from the rules below.
//! 2. `scheduler/scheduler_config.json` naming `LCMScheduler`: an LCM model, 4 steps
//!    (1 to 8, at most `original_inference_steps`), guidance 1 (up to 2).
//! 3. A turbo model (SD-Turbo, SDXL-Turbo style adversarial distillation): the folder's or
//!    file's name, `model_index.json`'s `_name_or_path`, or `README.md`'s text names
//!    `turbo` ("sd-turbo", "sdxl-turbo", "sd_turbo", …) or "adversarial diffusion
//!    distillation": Euler-ancestral, 1 step (up to 4), guidance 0 (off).
//! 4. Likewise a name or README naming "lcm" / "latent consistency": LCM as in 2.
//! 5. Otherwise a standard model: DDIM, 20 steps, guidance 7.5.
//!
//! A hint only fills in defaults: a recipe says what was run, and any sampler runs any model.

use std::path::{Path, PathBuf};

use chrysalis_core::recipe::Scheduler;
use serde::Deserialize;

use super::error::DiffusionError;
use super::scheduler::NoiseSchedule;

/// The hint file's name inside a model folder.
pub const HINT_FILE: &str = "chrysalis.json";

/// What kind of sampling a model was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFamily {
    /// Many guided steps (SD 1.x / 2.x as trained).
    Standard,
    /// Latent Consistency Model: few steps, guidance off or low.
    Lcm,
    /// Adversarially distilled (SD-Turbo style): 1-4 steps, guidance off.
    Turbo,
}

impl ModelFamily {
    pub fn name(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Lcm => "LCM",
            Self::Turbo => "turbo",
        }
    }
}

/// The sampling a model expects, and where that was read.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingHint {
    pub family: ModelFamily,
    pub scheduler: Scheduler,
    /// The suggested number of steps, and the range the model is meant for.
    pub steps: u32,
    pub min_steps: u32,
    pub max_steps: u32,
    /// The suggested guidance scale (≤ 1: guidance off, one UNet pass per step), and the
    /// most the model is meant for.
    pub guidance: f64,
    pub max_guidance: f64,
    /// Where the hint came from, for a person ("scheduler/scheduler_config.json names LCMScheduler").
    pub source: String,
    /// Free text from the hint file, if any.
    pub note: Option<String>,
}

impl SamplingHint {
    fn standard() -> Self {
        Self {
            family: ModelFamily::Standard,
            scheduler: Scheduler::Ddim,
            steps: 20,
            min_steps: 10,
            max_steps: 150,
            guidance: 7.5,
            max_guidance: 20.0,
            source: "no few-step marker found: a standard model".into(),
            note: None,
        }
    }

    fn lcm(schedule: &NoiseSchedule, source: String) -> Self {
        let max = (schedule.max_lcm_steps() as u32).min(8);
        Self {
            family: ModelFamily::Lcm,
            scheduler: Scheduler::Lcm,
            steps: 4.min(max),
            min_steps: 1,
            max_steps: max,
            guidance: 1.0,
            max_guidance: 2.0,
            source,
            note: None,
        }
    }

    fn turbo(source: String) -> Self {
        Self {
            family: ModelFamily::Turbo,
            scheduler: Scheduler::EulerAncestral,
            steps: 1,
            min_steps: 1,
            max_steps: 4,
            guidance: 0.0,
            max_guidance: 0.0,
            source,
            note: None,
        }
    }

    /// Whether the suggested guidance runs without classifier-free guidance.
    pub fn guidance_off(&self) -> bool {
        self.guidance <= 1.0
    }

    /// Whether a run of `steps` at `guidance` is within what a few-step model expects (a
    /// standard model fits any run). Guidance up to 1 always fits: it means "off".
    pub fn fits(&self, steps: u32, guidance: f64) -> bool {
        self.family == ModelFamily::Standard
            || ((self.min_steps..=self.max_steps).contains(&steps) && guidance <= self.max_guidance.max(1.0))
    }
}

/// Our hint file: every field optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HintFile {
    scheduler: Option<Scheduler>,
    steps: Option<u32>,
    min_steps: Option<u32>,
    max_steps: Option<u32>,
    guidance: Option<f64>,
    max_guidance: Option<f64>,
    note: Option<String>,
}

/// The hint file for a model at `path` (a folder or a single file), if there is one.
pub fn hint_file_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(HINT_FILE)
    } else {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        path.with_file_name(format!("{stem}.{HINT_FILE}"))
    }
}

fn contains_any(text: &str, words: &[&str]) -> bool {
    let lower = text.to_ascii_lowercase();
    words.iter().any(|w| lower.contains(w))
}

const TURBO_WORDS: &[&str] = &["turbo", "adversarial diffusion distillation"];
const LCM_WORDS: &[&str] = &["lcm", "latent consistency"];

/// Reads the hint for the model at `path` (folder or single file) whose noise schedule is
/// `schedule` (see the module docs). Only a damaged hint file is an error.
pub fn read_hint(path: &Path, schedule: &NoiseSchedule) -> Result<SamplingHint, DiffusionError> {
    let detected = detect(path, schedule);
    let file = hint_file_path(path);
    if !file.is_file() {
        return Ok(detected);
    }
    let text = std::fs::read_to_string(&file).map_err(|e| DiffusionError::io(&file, e))?;
    let h: HintFile = serde_json::from_str(&text).map_err(|e| DiffusionError::bad_config(&file, e.to_string()))?;
    // A file naming a sampler starts from that sampler's family defaults.
    let base = match h.scheduler {
        None => detected,
        Some(s) if s == detected.scheduler => detected,
        Some(Scheduler::Lcm) => SamplingHint::lcm(schedule, String::new()),
        // Euler (ancestral) without guidance: a turbo-style model.
        Some(Scheduler::EulerAncestral | Scheduler::Euler) if h.guidance.is_some_and(|g| g <= 1.0) => {
            SamplingHint::turbo(String::new())
        }
        Some(_) => SamplingHint::standard(),
    };
    let hint = SamplingHint {
        family: base.family,
        scheduler: h.scheduler.unwrap_or(base.scheduler),
        steps: h.steps.unwrap_or(base.steps),
        min_steps: h.min_steps.unwrap_or(base.min_steps),
        max_steps: h.max_steps.unwrap_or(base.max_steps),
        guidance: h.guidance.unwrap_or(base.guidance),
        max_guidance: h.max_guidance.unwrap_or(base.max_guidance.max(h.guidance.unwrap_or(0.0))),
        source: format!("{HINT_FILE} ({})", file.display()),
        note: h.note,
    };
    let bad = |m: String| Err(DiffusionError::bad_config(&file, m));
    if hint.min_steps == 0 || !(hint.min_steps..=hint.max_steps).contains(&hint.steps) {
        return bad(format!(
            "`steps` {} must lie in `min_steps`..=`max_steps` ({}..={}), and `min_steps` must be at least 1",
            hint.steps, hint.min_steps, hint.max_steps
        ));
    }
    if !(hint.guidance.is_finite() && hint.guidance >= 0.0 && hint.guidance <= hint.max_guidance) {
        return bad(format!(
            "`guidance` {} must be a number from 0 to `max_guidance` ({})",
            hint.guidance, hint.max_guidance
        ));
    }
    if hint.scheduler == Scheduler::Lcm && hint.max_steps as usize > schedule.max_lcm_steps() {
        return bad(format!(
            "`max_steps` {} is more than the LCM sampler can take with this model ({}, its `original_inference_steps`)",
            hint.max_steps,
            schedule.max_lcm_steps()
        ));
    }
    Ok(hint)
}

/// The hint from the model's own files (rules 2-5 of the module docs).
fn detect(path: &Path, schedule: &NoiseSchedule) -> SamplingHint {
    let read = |p: PathBuf| std::fs::read_to_string(p).ok();
    let json_str = |p: PathBuf, key: &str| {
        read(p)
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get(key).and_then(|s| s.as_str()).map(str::to_string))
    };
    let name = path
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    if path.is_dir() {
        let sched = path.join("scheduler/scheduler_config.json");
        if json_str(sched, "_class_name").as_deref() == Some("LCMScheduler") {
            return SamplingHint::lcm(schedule, "scheduler/scheduler_config.json names LCMScheduler".into());
        }
    }
    let mut texts: Vec<(String, String)> = vec![(format!("the model's name ({name})"), name.clone())];
    if path.is_dir() {
        if let Some(origin) = json_str(path.join("model_index.json"), "_name_or_path") {
            texts.push((format!("model_index.json's `_name_or_path` ({origin})"), origin));
        }
        if let Some(readme) = read(path.join("README.md")) {
            texts.push(("README.md".into(), readme));
        }
    }
    for (what, text) in &texts {
        if contains_any(text, TURBO_WORDS) {
            return SamplingHint::turbo(format!("{what} names a turbo (adversarially distilled) model"));
        }
        if contains_any(text, LCM_WORDS) {
            return SamplingHint::lcm(schedule, format!("{what} names a latent consistency model"));
        }
    }
    SamplingHint::standard()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn hints_come_from_the_scheduler_names_and_hint_file() {
        let schedule = NoiseSchedule::stable_diffusion();
        let tmp = tempfile::tempdir().unwrap();

        let plain = tmp.path().join("sd15");
        write(&plain.join("scheduler/scheduler_config.json"), r#"{"_class_name": "PNDMScheduler"}"#);
        let h = read_hint(&plain, &schedule).unwrap();
        assert_eq!((h.family, h.scheduler, h.steps, h.guidance), (ModelFamily::Standard, Scheduler::Ddim, 20, 7.5));

        let lcm = tmp.path().join("dreamshaper");
        write(&lcm.join("scheduler/scheduler_config.json"), r#"{"_class_name": "LCMScheduler"}"#);
        let h = read_hint(&lcm, &schedule).unwrap();
        assert_eq!((h.family, h.scheduler, h.steps, h.max_steps), (ModelFamily::Lcm, Scheduler::Lcm, 4, 8));
        assert!(h.guidance_off() && h.source.contains("LCMScheduler"), "{h:?}");

        let turbo = tmp.path().join("my-model");
        write(
            &turbo.join("model_index.json"),
            r#"{"_class_name": "StableDiffusionPipeline", "_name_or_path": "stabilityai/sd-turbo"}"#,
        );
        let h = read_hint(&turbo, &schedule).unwrap();
        assert_eq!(
            (h.family, h.scheduler, h.steps, h.max_steps, h.guidance),
            (ModelFamily::Turbo, Scheduler::EulerAncestral, 1, 4, 0.0)
        );
        assert!(h.source.contains("sd-turbo"), "{}", h.source);

        let readme = tmp.path().join("other");
        write(&readme.join("README.md"), "# A model\nDistilled with Latent Consistency distillation.");
        assert_eq!(read_hint(&readme, &schedule).unwrap().family, ModelFamily::Lcm);

        let single = tmp.path().join("sdxl_turbo_v1.safetensors");
        write(&single, "");
        assert_eq!(read_hint(&single, &schedule).unwrap().family, ModelFamily::Turbo);

        // The hint file wins, and fields it omits come from the sampler it names.
        write(&plain.join(HINT_FILE), r#"{"scheduler": "lcm", "steps": 6, "note": "merged LCM-LoRA"}"#);
        let h = read_hint(&plain, &schedule).unwrap();
        assert_eq!(
            (h.family, h.scheduler, h.steps, h.max_steps, h.guidance),
            (ModelFamily::Lcm, Scheduler::Lcm, 6, 8, 1.0)
        );
        assert_eq!(h.note.as_deref(), Some("merged LCM-LoRA"));
        assert!(h.source.starts_with(HINT_FILE), "{}", h.source);
        write(&tmp.path().join("sdxl_turbo_v1.chrysalis.json"), r#"{"steps": 2}"#);
        assert_eq!(read_hint(&single, &schedule).unwrap().steps, 2);
        // An LCM folder whose hint file names Euler a without guidance: turbo-style.
        write(&lcm.join(HINT_FILE), r#"{"scheduler": "euler_ancestral", "guidance": 0}"#);
        let h = read_hint(&lcm, &schedule).unwrap();
        assert_eq!(
            (h.family, h.scheduler, h.steps, h.max_steps),
            (ModelFamily::Turbo, Scheduler::EulerAncestral, 1, 4)
        );
    }

    #[test]
    fn a_damaged_hint_file_is_an_error_naming_it() {
        let schedule = NoiseSchedule::stable_diffusion();
        let tmp = tempfile::tempdir().unwrap();
        for (text, expect) in [
            (r#"{"steps": 4, "stpes": 2}"#, "unknown field `stpes`"),
            (r#"{"scheduler": "plms"}"#, "unknown variant `plms`"),
            (r#"{"steps": 0, "min_steps": 0}"#, "`min_steps` must be at least 1"),
            (r#"{"steps": 30, "max_steps": 8}"#, "`steps` 30 must lie in"),
            (r#"{"guidance": -1}"#, "`guidance` -1 must be"),
            (r#"{"scheduler": "lcm", "max_steps": 80}"#, "`max_steps` 80 is more than the LCM sampler"),
            ("not json", "expected ident"),
        ] {
            write(&tmp.path().join(HINT_FILE), text);
            let msg = read_hint(tmp.path(), &schedule).unwrap_err().to_string();
            assert!(msg.contains(HINT_FILE) && msg.contains(expect), "{text}: {msg}");
        }
    }
}
