//! A pure, deterministic reference model of the EC2 Instance Metadata Service (IMDS).
//!
//! # Guarantees
//! This crate does no I/O: no sockets, no files (decoders take text; `imds-files` reads
//! instance, options and scenario files and hands their text here), no async runtime, no
//! global random number generator, and it never reads the system clock on its own. Time comes
//! in through the [`Clock`] trait ([`SystemClock`] for servers, [`ManualClock`] for tests);
//! token keys come in through [`TokenKey`]. It holds no locks and starts no threads: the rules
//! are [`Snapshot::answer`] (state, request and clock reading in, response out), a scenario's
//! changes are [`Play::apply_due`], and [`Model`] plays both one request at a time through
//! `&mut self`. Given the same key, clock readings and requests, it gives the same responses.
//! Sharing a model between threads is the server's job (`imds_server::Imds`).
//!
//! # Where the rules come from
//! Every behaviour follows the project's spec, `conformance/SPEC.md`. Where the spec marks a
//! rule \[M\] or \[L\], the choice made is written beside the code with the spec section.
//!
//! ```
//! use imds_model::{Instance, MetadataOptions, Model, Timestamp, TokenKey};
//!
//! let mut model = Model::new(MetadataOptions::default(), Instance::default(), &TokenKey::new([7; 32]));
//! let req = http::Request::put("/latest/api/token")
//!     .header("x-aws-ec2-metadata-token-ttl-seconds", "60")
//!     .body(())
//!     .unwrap();
//! let resp = model.handle(&req, Timestamp::from_secs(1_700_000_000));
//! assert_eq!(resp.status(), 200);
//! assert_eq!(resp.body().len(), 56);
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod body;
pub mod categories;
pub mod clock;
pub mod instance;
mod kind;
pub mod options;
pub mod pages;
pub mod parse;
/// Changes to an instance and its options over time, applied by a pure engine.
pub mod scenario;
mod service;
pub mod token;
mod tree;
pub mod version;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use imds_diag::LoadError;
pub use instance::{Instance, InstanceError, InstanceFormat, UnauthorizedBody};
pub use kind::{RequestKind, SECRET_HEADERS, classify, is_secret_header};
pub use options::{
    HopLimit, HttpTokens, MetadataOptions, OptionsError, OptionsState, PartialOptions, Toggle,
};
pub use scenario::{Due, Fired, Scenario, ScenarioState};
pub use service::{
    ClientAddr, FORWARDED_FOR, Model, NoticeClients, Outcome, Play, ReasonPhrase, Snapshot,
    TOKEN_HEADER, TTL_HEADER, error_response,
};
pub use token::{TokenAuthority, TokenCheck, TokenKey};
pub use version::Version;
