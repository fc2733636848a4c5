//! The IMDS conformance runner: point it at any base URL and get a verdict per documented rule.
//!
//! The pieces, in the order a run uses them:
//! - [`catalogue`] loads the case files (`conformance/cases/*.toml`) and the documented path
//!   catalogue (`conformance/paths.toml`), refusing bad files with file, line, column and field;
//! - [`client`] (from `imds-observe`, shared with the other observers) is a small, honest HTTP/1.1 client (per-request timeouts split by phase, body
//!   cap, no redirects, rate cap, bounded concurrency, backoff on 429/503);
//! - [`runner`] detects the target's options, selects and runs the cases concurrently, and
//!   evaluates them ([`eval`] for the data cases, [`checks`] for the crawl and consistency
//!   cases written in code);
//! - [`check`] names the cases written in code, [`target`] holds plain data about the target
//!   and [`ctx`] the run context every case gets (the module graph has no cycle; a test keeps
//!   it so);
//! - [`expectations`] turns known failures into `xfail`/`xpass` ([`Catalogue::stale`] names
//!   the entries that match no case) and [`report`] renders human text, versioned JSON and
//!   JUnit XML: both live in `imds-report`, shared with client-check, and are re-exported here.
//!
//! The runner talks HTTP only: it never links the reference server.

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod catalogue;
/// The HTTP client (shared by every observer, in `imds-observe`).
pub use imds_observe::client;
/// Redaction (shared by every observer, in `imds-observe`).
pub use imds_observe::redact;
pub mod check;
pub mod checks;
pub mod ctx;
pub mod eval;
/// Known failures per target (shared with client-check, in `imds-report`).
pub use imds_report::expectations;
/// Results and their renderings (shared with client-check, in `imds-report`).
pub use imds_report::report;
pub mod runner;
pub mod target;

pub use catalogue::{Catalogue, CatalogueError, Level};
pub use client::{Client, ClientConfig, ClientError};
pub use expectations::Expectations;
pub use imds_diag::LoadError;
pub use report::{Outcome, Report};
pub use runner::{RunConfig, RunError, TargetOptions};
