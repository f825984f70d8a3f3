//! Where command results go: aligned text for people, JSON for scripts, and progress bars
//! that show only on a terminal and never in JSON mode.

use std::time::Duration;

use chrysalis_core::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `value` as pretty JSON in JSON mode, else the `human` rows as aligned
    /// `label  value` lines.
    pub fn data<T: Serialize>(&self, value: &T, human: &[(&str, String)]) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            let width = human.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (label, value) in human {
                println!("{label:<width$}  {value}");
            }
        }
        Ok(())
    }

    /// A progress bar on stderr; hidden in JSON mode and when stderr is not a terminal.
    pub fn progress(&self, what: &str) -> JobBar {
        let bar = if self.json {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
        } else {
            ProgressBar::new(0)
        };
        bar.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} {msg} (ETA {eta})")
                .expect("static template is valid")
                .progress_chars("█▉▊▋▌▍▎▏ "),
        );
        bar.set_prefix(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        JobBar(bar)
    }

    /// Like [`Output::progress`], for jobs whose units are bytes: shows bytes done, total,
    /// throughput and ETA.
    pub fn byte_progress(&self, what: &str) -> JobBar {
        let bar = self.progress(what);
        bar.0.set_style(
            ProgressStyle::with_template(
                "{prefix:.bold} [{elapsed_precise}] {wide_bar:.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec} {msg} (ETA {eta})",
            )
            .expect("static template is valid")
            .progress_chars("█▉▊▋▌▍▎▏ "),
        );
        bar
    }
}

pub struct JobBar(ProgressBar);

impl JobBar {
    pub fn update(&self, p: &Progress) {
        if p.total > 0 {
            self.0.set_length(p.total);
        }
        self.0.set_position(p.step);
        self.0.set_message(p.message.clone());
    }

    pub fn finish(self) {
        self.0.finish_and_clear();
    }
}

/// Human-readable byte counts (binary units, as file managers show them).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_are_humane() {
        assert_eq!(super::bytes(0), "0 B");
        assert_eq!(super::bytes(1023), "1023 B");
        assert_eq!(super::bytes(1536), "1.5 KiB");
        assert_eq!(super::bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
