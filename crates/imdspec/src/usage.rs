//! Usage errors, printed alike by every subcommand (clap's layout, exit code 2).

use std::fmt::Display;
use std::path::Path;
use std::process::ExitCode;

/// Prints `error: MESSAGE`, the subcommand's usage line and the `--help` hint; exit code 2.
pub fn error(usage: &str, message: impl Display) -> ExitCode {
    eprintln!("error: {message}\n\nUsage: {usage}\n\nFor more information, try '--help'.");
    ExitCode::from(2)
}

/// Refuses an `--output` path that cannot be written, before any work starts.
pub fn check_output(usage: &str, output: Option<&Path>) -> Result<(), ExitCode> {
    match output.map(|p| (p, imds_report::report::check_writable(p))) {
        Some((path, Err(e))) => Err(error(
            usage,
            format!("--output {}: cannot write there: {e}", path.display()),
        )),
        _ => Ok(()),
    }
}
