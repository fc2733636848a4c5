//! `imdspec run`.

use std::process::ExitCode;

use clap::Args;

/// Arguments of `imdspec run`.
#[derive(Debug, Args)]
pub struct RunArgs {}

/// Runs `imdspec run`.
pub fn main(_args: RunArgs) -> ExitCode {
    eprintln!("imdspec run: not built yet");
    ExitCode::from(2)
}
