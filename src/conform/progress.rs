//! Feedback while a run goes: a live line on a terminal (phase, requests, failures,
//! elapsed time), drawn by `indicatif`; one line per phase when stderr is not a
//! terminal (CI logs); or nothing. Never on stdout, which carries the report.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How a run reports its progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Nothing (library callers, tests, `--no-progress`).
    Quiet,
    /// One plain line as each phase starts.
    Lines,
    /// One line redrawn in place, on a terminal.
    Live,
}

/// The progress of one run.
pub(super) struct Progress {
    feedback: Feedback,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub(super) fn new(feedback: Feedback) -> Self {
        let bar = (feedback == Feedback::Live).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} conform {prefix}: {msg} [{elapsed}]")
            {
                bar.set_style(style);
            }
            bar.set_prefix("starting");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { feedback, bar }
    }

    /// A phase starts.
    pub(super) fn phase(&self, name: &str, requests: u64, failures: u64) {
        match (&self.bar, self.feedback) {
            (Some(bar), _) => {
                bar.set_prefix(name.to_owned());
                bar.set_message(counts(requests, failures));
            }
            (None, Feedback::Lines) => {
                eprintln!("conform: {name} ({} so far)", counts(requests, failures));
            }
            _ => {}
        }
    }

    /// A request was answered.
    pub(super) fn tick(&self, requests: u64, failures: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(counts(requests, failures));
        }
    }

    /// The run is over: the live line is removed before the report is printed.
    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn counts(requests: u64, failures: u64) -> String {
    format!("{requests} requests, {failures} failures")
}
