//! What the observers share (`imdspec run`, `imdspec probe`, `imdspec client-check` and
//! `imdspec fleet report`), so that they talk to endpoints, read answers and compare options
//! one way:
//! - [`client`] is the one HTTP/1.1 client for IMDS endpoints (per-request timeouts split by
//!   phase, body cap, no redirects, rate cap, bounded concurrency, backoff on 429/503);
//! - [`redact`] hides tokens and credentials in what reports show;
//! - [`infer`] decides what a target's answers say about its options (pure);
//! - [`compare`] sets declared options against observed ones ([`CompareOptions::compare`]);
//! - [`output`] defines the probe's output format (names, values, the flat summary the fleet
//!   sinks carry) and reads every form of it back, with run reports (pure).

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod client;
pub mod compare;
pub mod infer;
pub mod output;
pub mod redact;

pub use client::{Client, ClientConfig, ClientError};
pub use compare::{CompareOptions, Difference, OptionPair, OptionsComparison, Verdict};
