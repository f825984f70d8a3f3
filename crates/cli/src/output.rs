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
            line(&serde_json::to_string_pretty(value)?);
        } else {
            let width = human.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (label, value) in human {
                line(&format!("{label:<width$}  {value}"));
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
            ProgressStyle::with_template(
                "{prefix:.bold} [{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} {msg} (ETA {eta})",
            )
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

/// The real standard output, once [`reserve_stdout()`] moved everything else off it.
static REAL_STDOUT: std::sync::OnceLock<std::sync::Mutex<std::fs::File>> = std::sync::OnceLock::new();

/// Prints one line of command output on the real stdout (see [`reserve_stdout`]); commands
/// that run the sandbox print through this (and [`Output::data`]) instead of `println!`.
pub fn line(text: &str) {
    match REAL_STDOUT.get() {
        Some(out) => {
            use std::io::Write;
            let mut f = out.lock().unwrap_or_else(|p| p.into_inner());
            // Like println!: a closed stdout is not worth a second error.
            let _ = writeln!(f, "{text}").and_then(|()| f.flush());
        }
        None => println!("{text}"),
    }
}

/// Stdout must carry only the command's output (in JSON mode: one JSON document), but code
/// we do not control writes to it: the Chrysalis program running natively in the sandbox
/// logs each instruction with `msg!`, which off-chain is a `println!`. So: keep a duplicate
/// of the real stdout for [`line()`] / [`Output::data`] and point file descriptor 1 elsewhere
/// for everything else: at stderr when `program_logs` (`-v`: the program's `Instruction: ...`
/// lines help debugging), else at /dev/null, since they mean nothing to an artist and would
/// drown the progress lines. Unix only (elsewhere stdout is left as it is).
pub fn reserve_stdout(program_logs: bool) {
    #[cfg(unix)]
    {
        use std::os::fd::FromRawFd;
        // SAFETY: plain descriptor calls on the process's own standard streams; `saved` is a
        // fresh descriptor owned by the File from here on.
        unsafe {
            let saved = libc::dup(1);
            if saved < 0 {
                return;
            }
            let target = if program_logs { 2 } else { libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY) };
            if target < 0 || libc::dup2(target, 1) < 0 {
                libc::close(saved);
                return;
            }
            if target != 2 {
                libc::close(target);
            }
            let _ = REAL_STDOUT.set(std::sync::Mutex::new(std::fs::File::from_raw_fd(saved)));
        }
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
