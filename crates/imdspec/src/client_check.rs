//! `imdspec client-check`.

use std::process::ExitCode;

use clap::Args;

/// Arguments of `imdspec client-check`.
#[derive(Debug, Args)]
pub struct ClientCheckArgs {}

/// Runs `imdspec client-check`.
pub fn main(_args: ClientCheckArgs) -> ExitCode {
    eprintln!("imdspec client-check: not built yet");
    ExitCode::from(2)
}
