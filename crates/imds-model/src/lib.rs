//! A pure, deterministic reference model of the EC2 Instance Metadata Service (IMDS).
//!
//! # Guarantees
//! This crate does no I/O: no sockets, no files read behind your back (only
//! [`Instance::from_file`] and [`Scenario::load`] when you call them), no async runtime, no
//! global random number generator, and it never reads the system clock on its own. Time comes
//! in through the [`Clock`] trait ([`SystemClock`] for servers, [`ManualClock`] for tests);
//! token keys come in through [`TokenKey`]. Given the same key, clock readings and requests,
//! [`Imds::handle`] gives the same responses.
//!
//! # Where the rules come from
//! Every behaviour follows the project's spec, `conformance/SPEC.md`. Where the spec marks a
//! rule \[M\] or \[L\], the choice made is written beside the code with the spec section.
//!
//! ```
//! use std::sync::Arc;
//! use imds_model::{Imds, Instance, ManualClock, MetadataOptions, Timestamp, TokenKey};
//!
//! let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_700_000_000)));
//! let imds = Imds::new(MetadataOptions::default(), Instance::default(), &TokenKey::new([7; 32]), clock);
//! let req = http::Request::put("/latest/api/token")
//!     .header("x-aws-ec2-metadata-token-ttl-seconds", "60")
//!     .body(())
//!     .unwrap();
//! let resp = imds.handle(&req);
//! assert_eq!(resp.status(), 200);
//! assert_eq!(resp.body().len(), 56);
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod clock;
pub mod control;
pub mod instance;
pub mod instance_fields;
mod kind;
pub mod load;
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
pub use instance::{Instance, InstanceError, InstanceFormat, UnauthorizedBody};
pub use kind::{RequestKind, SECRET_HEADERS, classify, is_secret_header};
pub use load::LoadError;
pub use options::{
    HopLimit, HttpTokens, MetadataOptions, OptionsError, OptionsState, PartialOptions, Toggle,
};
pub use scenario::{Fired, Scenario, ScenarioState};
pub use service::{
    ClientAddr, FORWARDED_FOR, Imds, Outcome, ReasonPhrase, TOKEN_HEADER, TTL_HEADER,
    error_response,
};
pub use token::{TokenAuthority, TokenCheck, TokenKey};
pub use version::Version;
