//! `imdspec serve`: the reference IMDS on loopback until SIGINT/SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use imds_model::scenario::{Entry, Trigger};
use imds_model::{Instance, Scenario};
use imds_server::{Fault, Faults, ImdsServer, ServerError};

use crate::options_args::OptionFlags;

/// The end of `imdspec serve --help`.
pub const AFTER_HELP: &str = "\
Instance options not given take EC2's defaults: --http-tokens optional, --http-endpoint \
enabled, --http-put-response-hop-limit 1, --http-protocol-ipv6 disabled, \
--instance-metadata-tags disabled.

Exit codes:
  0  stopped by SIGINT or SIGTERM
  1  the server could not start (address in use, ...)
  2  usage error (bad flag, unreadable --instance, --scenario or --journal file)

Example:
  imdspec serve --listen 127.0.0.1:1338 --http-tokens required --journal requests.jsonl";

/// Arguments of `imdspec serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Instance content to serve (TOML or JSON, the model's field names); default: a built-in
    /// realistic instance.
    #[arg(long, value_name = "FILE")]
    instance: Option<PathBuf>,
    /// Address to listen on (repeatable; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1338", value_parser = parse_listen)]
    listen: Vec<SocketAddr>,
    /// Write one JSON line per request to FILE, emptied first (tokens and credentials redacted).
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// Misbehave on purpose (repeatable): token-put=STATUS|hang[xN], get=STATUS|hang[xN],
    /// revoke-tokens-after=N, endpoint=reset.
    #[arg(long = "fault", value_name = "SPEC", value_parser = parse_fault)]
    faults: Vec<Fault>,
    /// Also serve iam/security-credentials-extended/ for the instance's role (as EC2 does only
    /// for allow-listed accounts); same as `extended-credentials = true` under `[iam]` in an
    /// instance file. Default: 404.
    #[arg(long)]
    extended_credentials: bool,
    /// Serve the instance content of an amazon-ec2-metadata-mock config file (its
    /// `metadata`, `dynamic` and `userdata` values, over AEMM's defaults) instead of
    /// --instance; notices come from the scenario flags. See README, "imdspec aemm: migrating from amazon-ec2-metadata-mock".
    #[arg(long, value_name = "FILE", conflicts_with = "instance")]
    aemm_config: Option<PathBuf>,
    /// Play a scenario file (TOML or JSON): timed changes such as spot notices or option
    /// changes, counted from the start. See README.
    #[arg(long, value_name = "FILE", help_heading = "Scenario")]
    scenario: Option<PathBuf>,
    /// Post a spot interruption notice (terminate, stop or hibernate) at WHEN: `+DURATION`
    /// after the start (`+10s`) or a UTC time (`2026-01-15T10:00:00Z`); default at once.
    #[arg(long, value_name = "ACTION[@WHEN]", help_heading = "Scenario")]
    spot_interruption: Vec<String>,
    /// Post a rebalance recommendation at WHEN (default at once).
    #[arg(long, value_name = "WHEN", num_args = 0..=1, require_equals = true,
          default_missing_value = "+0s", help_heading = "Scenario")]
    rebalance_recommendation: Option<String>,
    /// Schedule a maintenance event with CODE (system-reboot, instance-stop, ...) at WHEN,
    /// due a week later (default at once).
    #[arg(long, value_name = "CODE[@WHEN]", help_heading = "Scenario")]
    maintenance_event: Vec<String>,
    /// Set the Auto Scaling target lifecycle state to Terminated at WHEN (default at once).
    #[arg(long, value_name = "WHEN", num_args = 0..=1, require_equals = true,
          default_missing_value = "+0s", help_heading = "Scenario")]
    asg_termination: Option<String>,
    /// The options the server enforces (unset: EC2's defaults, see below).
    #[command(
        flatten,
        next_help_heading = "Instance options (what the server enforces)"
    )]
    options: OptionFlags,
}

/// An IP address and port; a host name gets a hint, since the server binds addresses only.
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>().map_err(|_| {
        let port = s.rsplit_once(':').map_or("1338", |(_, p)| p);
        let port = if port.chars().all(|c| c.is_ascii_digit()) && !port.is_empty() {
            port
        } else {
            "1338"
        };
        format!(
            "{s:?} is not an IP address and port; use e.g. 127.0.0.1:{port} or [::1]:{port} \
             (host names such as localhost are not resolved)"
        )
    })
}

fn parse_fault(spec: &str) -> Result<Fault, String> {
    spec.parse::<Fault>().map_err(|e| e.to_string())
}

/// `WHAT[@WHEN]`: the part before `@` and the trigger (at once without `@`).
fn split_when(s: &str) -> Result<(&str, Trigger), String> {
    match s.split_once('@') {
        Some((what, when)) => Ok((what, Trigger::parse_when(when)?)),
        None => Ok((s, Trigger::After(std::time::Duration::ZERO))),
    }
}

fn parse_spot(s: &str) -> Result<Entry, String> {
    let (kind, when) = split_when(s)?;
    Ok(Entry::spot_interruption(when, kind.parse()?))
}

fn parse_event(s: &str) -> Result<Entry, String> {
    let (code, when) = split_when(s)?;
    Entry::maintenance_event(when, code)
}

impl ServeArgs {
    /// The file's entries, then the shortcuts'; `None` when there are none.
    fn scenario(&self) -> Result<Option<Scenario>, ExitCode> {
        let mut entries = match &self.scenario {
            Some(path) => match Scenario::load(path) {
                Ok(s) => s.entries,
                Err(e) => return Err(usage_error(format!("--scenario: {e}"))),
            },
            None => Vec::new(),
        };
        // Checked here rather than by clap, so a bad value gets the usage line too.
        let bad =
            |flag: &str, value: &str, e: String| usage_error(format!("{flag} {value:?}: {e}"));
        for v in &self.spot_interruption {
            entries.push(parse_spot(v).map_err(|e| bad("--spot-interruption", v, e))?);
        }
        if let Some(v) = &self.rebalance_recommendation {
            let when =
                Trigger::parse_when(v).map_err(|e| bad("--rebalance-recommendation", v, e))?;
            entries.push(Entry::rebalance_recommendation(when));
        }
        for v in &self.maintenance_event {
            entries.push(parse_event(v).map_err(|e| bad("--maintenance-event", v, e))?);
        }
        if let Some(v) = &self.asg_termination {
            let when = Trigger::parse_when(v).map_err(|e| bad("--asg-termination", v, e))?;
            entries.push(Entry::asg_termination(when));
        }
        Ok((!entries.is_empty()).then_some(Scenario {
            entries,
            ..Scenario::default()
        }))
    }
}

/// The instance an AEMM config file describes; its warnings go to stderr.
fn aemm_instance(path: &std::path::Path) -> Result<Instance, imds_aemm::Error> {
    use imds_model::Clock as _;
    let args = ["-c".to_owned(), path.display().to_string()];
    let now = imds_model::SystemClock.now();
    let p = imds_aemm::prepare(&args, &[], None, now, |p| std::fs::read_to_string(p))?;
    for w in p.config.warnings.iter().chain(&p.plan.warnings) {
        eprintln!("warning: --aemm-config: {w}");
    }
    Ok(p.plan.instance)
}

/// A bad flag value or file: exit 2 with the message and a usage line, like clap does.
const USAGE: &str = "imdspec serve [OPTIONS]";

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    crate::usage::error(USAGE, message)
}

/// Runs `imdspec serve`.
pub fn main(args: ServeArgs) -> ExitCode {
    let options = match args.options.declared() {
        Ok(d) => d.or_defaults(),
        Err(e) => return usage_error(format!("{e:#}")),
    };
    let mut instance = match &args.instance {
        Some(path) => match Instance::from_file(path) {
            Ok(i) => i,
            Err(e) => return usage_error(format!("--instance: {e}")),
        },
        None => match &args.aemm_config {
            Some(path) => match aemm_instance(path) {
                Ok(i) => i,
                Err(e) => return usage_error(format!("--aemm-config: {e}")),
            },
            None => Instance::default(),
        },
    };
    if args.extended_credentials
        && let Err(e) = instance.enable_extended_credentials()
    {
        return usage_error(format!("--extended-credentials: {e}"));
    }
    let scenario = match args.scenario() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let faults = args.faults.iter().fold(Faults::none(), |f, x| f.with(*x));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let mut builder = ImdsServer::builder()
            .options(options)
            .instance(instance)
            .faults(faults)
            // A long-running server keeps its journal in the file only.
            .journal_capacity(0);
        if let Some(scenario) = scenario {
            builder = builder.scenario(scenario);
        }
        for addr in &args.listen {
            builder = builder.listen(*addr);
        }
        if let Some(path) = &args.journal {
            builder = builder.journal_file(path);
        }
        let server = match builder.start().await {
            Ok(s) => s,
            Err(ServerError::Journal { path, source }) => {
                return usage_error(format!("--journal {}: {source}", path.display()));
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut out = std::io::stdout().lock();
        for url in server.urls() {
            let _ = writeln!(out, "listening on {url}");
        }
        let _ = out.flush();
        drop(out);
        wait_for_signal().await;
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
