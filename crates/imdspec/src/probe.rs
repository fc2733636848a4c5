//! `imdspec probe`.

use std::process::ExitCode;

use clap::Args;

/// Arguments of `imdspec probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {}

/// Runs `imdspec probe`.
pub fn main(_args: ProbeArgs) -> ExitCode {
    eprintln!("imdspec probe: not built yet");
    ExitCode::from(2)
}
