//! `imdspec serve`.

use std::process::ExitCode;

use clap::Args;

/// Arguments of `imdspec serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Runs `imdspec serve`.
pub fn main(_args: ServeArgs) -> ExitCode {
    eprintln!("imdspec serve: not built yet");
    ExitCode::from(2)
}
