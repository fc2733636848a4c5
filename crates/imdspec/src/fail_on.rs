//! `--fail-on CONDITION` of `probe` and `fleet report`: a gate for pipelines. Each library
//! says whether a condition holds; this only names them and turns the answer into 1 or 0.

use std::process::ExitCode;

use clap::ValueEnum;

/// A condition that fails the command (exit 1) when it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// An endpoint answers tokenless requests (IMDSv1 open).
    Imdsv1Open,
    /// An endpoint does not do what the declared options say.
    Differs,
    /// An endpoint answered nothing.
    Unreachable,
    /// An input could not be read.
    Unreadable,
    /// Any of the above.
    Any,
}

/// The conditions `Any` stands for.
const EVERY: [FailOn; 4] = [
    FailOn::Imdsv1Open,
    FailOn::Differs,
    FailOn::Unreachable,
    FailOn::Unreadable,
];

/// 1 when one of `chosen` holds (`holds` is asked about the four plain conditions), else 0.
pub fn exit_code(chosen: &[FailOn], holds: impl Fn(FailOn) -> bool) -> ExitCode {
    let fails = chosen.iter().any(|&c| match c {
        FailOn::Any => EVERY.into_iter().any(&holds),
        c => holds(c),
    });
    ExitCode::from(u8::from(fails))
}
