//! `chrysalis check` and the desktop app's Check: the project's own checks (settings,
//! database; [`chrysalis_core::Project::check`]) and then the collection spec, planned exactly
//! as `publish --only plan` plans it (parse, validate, the engine's parameter checks,
//! feasibility of every quota and rule), without writing a file or a journal row. A creator
//! address the artist never confirmed is a warning on the spec's step (see [`super::creators`]).

use chrysalis_core::project::{CheckReport, CheckStep};
use chrysalis_core::{CancelToken, Progress, Project};

use super::PipelineError;
use super::SPEC_FILE;
use super::plan::plan_text;

/// The name of the spec's step in a [`CheckReport`].
pub const SPEC_STEP: &str = "collection.toml";

/// Every check of the project, then the spec's. Problems are in the report (`ok` false and
/// the step's `detail` saying what is wrong); an error means a check could not run.
pub fn check_project(
    project: &Project,
    on_progress: &mut dyn FnMut(&Progress),
    cancel: &CancelToken,
) -> Result<CheckReport, PipelineError> {
    // The project's checks count as steps 0..n of n + 1: the spec is the last one.
    let mut report = project.check(
        &mut |p: &Progress| {
            if p.step < p.total {
                on_progress(&Progress::new(p.step, p.total + 1, p.message.clone()));
            }
        },
        cancel,
    )?;
    cancel.check()?;
    let total = report.steps.len() as u64 + 1;
    on_progress(&Progress::new(total - 1, total, format!("checking {SPEC_STEP}")));
    let step = spec_step(project);
    report.ok &= step.ok;
    report.steps.push(step);
    on_progress(&Progress::new(total, total, "done"));
    Ok(report)
}

fn spec_step(project: &Project) -> CheckStep {
    let root = project.root();
    let path = root.join(SPEC_FILE);
    let step = |ok: bool, detail: String| CheckStep { name: SPEC_STEP.to_string(), ok, detail, warning: None };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return step(true, "no collection yet (write collection.toml, or design one in the app)".into());
        }
        Err(e) => return step(false, format!("cannot read {}: {e}", path.display())),
    };
    match plan_text(&text, &path, root) {
        Ok(planned) => CheckStep {
            warning: super::creators::warning(project, &planned.spec).unwrap_or_else(|e| Some(e.to_string())),
            ..step(
                true,
                format!(
                    "{} items x {} stage(s) planned: every quota and rule holds",
                    planned.plan.items.len(),
                    planned.plan.stages.len()
                ),
            )
        },
        Err(e) => step(false, e.to_string()),
    }
}
