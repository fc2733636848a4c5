//! amazon-ec2-metadata-mock (AEMM) as a front end of imdspec: its command line, `AEMM_*`
//! environment variables and JSON config files, turned into an instance, options, a scenario
//! and an address for the faithful server (SPEC.md §8), plus [`View`]: AEMM's own answers
//! (tree, values, JSON layout, timing) that `imdspec aemm` lays over the server's.
//!
//! Pure apart from what it is handed: the environment, the home directory and a file reader
//! come in as arguments, so tests and the fuzzer drive every layer.
//!
//! ```
//! use imds_aemm::{Command, prepare};
//! use imds_model::Timestamp;
//!
//! let args: Vec<String> = ["spot", "-a", "stop", "-x=-1", "-n", "127.0.0.1"]
//!     .map(String::from)
//!     .to_vec();
//! let p = prepare(&args, &[], None, Timestamp::from_secs(1_700_000_000), |_| {
//!     Err(std::io::ErrorKind::NotFound.into())
//! })
//! .unwrap();
//! assert_eq!(p.cli.command, Command::Spot);
//! assert_eq!((p.plan.host.as_str(), p.plan.port), ("127.0.0.1", 1338));
//! assert_eq!(p.plan.scenario.notice_clients, None);
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used))]
// The defaults are one large `json!` literal.
#![recursion_limit = "256"]

pub mod args;
pub mod config;
pub mod plan;
pub mod view;

use std::path::Path;

pub use args::{ArgError, Cli, Command, HELP};
pub use config::{Config, ConfigError};
pub use plan::{Plan, PlanError, plan};
pub use view::{Answer, View};

use imds_model::Timestamp;

/// A command line read through every layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    /// The parsed command line.
    pub cli: Cli,
    /// The effective configuration.
    pub config: Config,
    /// What to serve.
    pub plan: Plan,
}

/// Why AEMM's inputs were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A bad command line (usage error).
    Args(ArgError),
    /// An unreadable config file or a value of the wrong type.
    Config(ConfigError),
    /// A value imdspec (and AEMM) cannot serve.
    Plan(PlanError),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Args(e) => e.fmt(f),
            Error::Config(e) => e.fmt(f),
            Error::Plan(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

/// Reads `args` (without the program name), the environment `env`, the config file (from
/// `-c`, `$AEMM_CONFIG_FILE` or `home/aemm-config.json`, through `read`) with AEMM's
/// precedence, and plans the run. `start` is the process start.
pub fn prepare(
    args: &[String],
    env: &[(String, String)],
    home: Option<&Path>,
    start: Timestamp,
    read: impl Fn(&Path) -> std::io::Result<String>,
) -> Result<Prepared, Error> {
    let cli = Cli::parse(args).map_err(Error::Args)?;
    let config = Config::load(&cli, env, home, start, read).map_err(Error::Config)?;
    let plan = plan(&config, cli.command, start).map_err(Error::Plan)?;
    Ok(Prepared { cli, config, plan })
}
