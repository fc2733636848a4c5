//! What every IMDS check reports, shared by the conformance runner (`imds-conformance`) and
//! the client checker (`imds-client-check`) so that their results render, exit and carry
//! known failures one way, without either borrowing the other's internals:
//! - [`Level`] says how much a failed case matters;
//! - [`report`] holds outcomes, per-case and per-run results, failure grouping by cause
//!   ([`report::cause_of`]) and the renderings: human text, versioned JSON, JUnit XML;
//! - [`expectations`] reads per-target known failures and turns them into `xfail`/`xpass`.
//!
//! Pure data and text, apart from reading an expectations file and checking that an output
//! file is writable.

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod expectations;
pub mod report;

pub use expectations::Expectations;
pub use report::{CaseResult, Failure, Outcome, Report, RunResult};

/// How much a case's failure matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// A rule the spec marks \[H\]: failing it fails the run.
    Must,
    /// A rule the spec marks \[M\]: fails the run only with `--strict`.
    Should,
    /// A rule the spec marks \[L\], or an identity hint: recorded, never fails the run.
    Info,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::Info => "info",
        })
    }
}
