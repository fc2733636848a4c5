//! `imdspec serve`: the reference IMDS on loopback until SIGINT/SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use imds_model::scenario::{Entry, Trigger};
use imds_model::{Clock as _, Instance, ManualClock, Scenario, SystemClock};
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
  2  usage error (bad flag, unreadable --instance, --scenario or --journal file,
     a --control address that is not loopback)

SIGHUP re-reads --instance and --scenario (the scenario restarts from then, and both become
what the control API's POST /reset returns to); when either file is bad, nothing changes and
stderr says why.

Example:
  imdspec serve --listen 127.0.0.1:1338 --http-tokens required --journal requests.jsonl";

/// Arguments of `imdspec serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Instance content to serve (TOML or JSON, the model's field names); default: a built-in
    /// realistic instance.
    #[arg(long, value_name = "FILE")]
    instance: Option<PathBuf>,
    /// Print the instance that would be served (the built-in one, or --instance) as a
    /// commented TOML instance file, every key explained, then exit.
    #[arg(long)]
    print_instance: bool,
    /// Address to listen on (repeatable; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1338", value_parser = parse_listen)]
    listen: Vec<SocketAddr>,
    /// Write one JSON line per request to FILE, emptied first (tokens and credentials redacted).
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// Misbehave on purpose (repeatable): token-put=ACTION[xN], get=ACTION[xN],
    /// get[GLOB]=ACTION[xN] (only paths matching GLOB), revoke-tokens-after=N, endpoint=reset;
    /// ACTION is a status 400..=599, hang, delay:Nms|Ns, or one change to the model's answer:
    /// drop-ttl, ttl:VALUE, drop-header:NAME, header:NAME:VALUE, content-type:VALUE,
    /// status:CODE, truncate:N, trailing-newline, line:N:TEXT (crates/imds-server/README.md).
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
    /// Serve the control API (JSON over HTTP: options, instance, scenario, clock, journal,
    /// faults, reset) on ADDR, loopback only; port 0 picks a free one. See README.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen, help_heading = "Control")]
    control: Option<SocketAddr>,
    /// `system`: the wall clock. `manual`: time stands still at the start unless moved with
    /// the control API's `POST /clock/advance`.
    #[arg(
        long,
        value_name = "system|manual",
        default_value = "system",
        help_heading = "Control"
    )]
    clock: String,
    /// The options the server enforces (unset: EC2's defaults, see below).
    #[command(
        flatten,
        next_help_heading = "Instance options (what the server enforces)"
    )]
    options: OptionFlags,
}

/// How many requests `GET /journal` can return (the newest are kept).
const CONTROL_JOURNAL_CAPACITY: usize = 10_000;

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
    /// The instance to serve: `--instance`, `--aemm-config` or the built-in one, with
    /// `--extended-credentials`.
    fn instance(&self) -> Result<Instance, String> {
        let mut instance = match (&self.instance, &self.aemm_config) {
            (Some(path), _) => {
                imds_files::instance(path).map_err(|e| format!("--instance: {e}"))?
            }
            (None, Some(path)) => aemm_instance(path).map_err(|e| format!("--aemm-config: {e}"))?,
            (None, None) => Instance::default(),
        };
        if self.extended_credentials {
            instance
                .enable_extended_credentials()
                .map_err(|e| format!("--extended-credentials: {e}"))?;
        }
        Ok(instance)
    }

    /// The file's entries, then the shortcuts'; `None` when there are none.
    fn scenario(&self) -> Result<Option<Scenario>, String> {
        let mut entries = match &self.scenario {
            Some(path) => {
                imds_files::scenario(path)
                    .map_err(|e| format!("--scenario: {e}"))?
                    .entries
            }
            None => Vec::new(),
        };
        // Checked here rather than by clap, so a bad value gets the usage line too.
        let bad = |flag: &str, value: &str, e: String| format!("{flag} {value:?}: {e}");
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
    let instance = match args.instance() {
        Ok(i) => i,
        Err(e) => return usage_error(e),
    };
    if args.print_instance {
        print!("{}", imds_files::instance_fields::starter_file(&instance));
        return ExitCode::SUCCESS;
    }
    let scenario = match args.scenario() {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let faults = args
        .faults
        .iter()
        .fold(Faults::none(), |f, x| f.with(x.clone()));
    // Checked here rather than by clap, so a bad value gets the usage line too.
    let manual = match args.clock.as_str() {
        "system" => false,
        "manual" => true,
        other => {
            return usage_error(format!(
                "--clock {other:?}: use `system` (the wall clock) or `manual` (stands still \
                 unless advanced through the control API)"
            ));
        }
    };
    if let Some(addr) = args.control.filter(|a| !a.ip().is_loopback()) {
        return usage_error(format!(
            "--control {addr}: the control API listens on loopback only (e.g. 127.0.0.1:0 \
             or [::1]:0), since it changes what the server answers"
        ));
    }
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
            // A long-running server keeps its journal in the file only, unless the control
            // API is there to read it.
            .journal_capacity(if args.control.is_some() {
                CONTROL_JOURNAL_CAPACITY
            } else {
                0
            });
        if let Some(addr) = args.control {
            builder = builder.control(addr);
        }
        if manual {
            builder =
                builder.manual_clock(std::sync::Arc::new(ManualClock::new(SystemClock.now())));
        }
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
        announce(&server);
        tokio::select! {
            _ = wait_for_signal() => {}
            _ = reload_on_hangup(&args, &server) => {}
        }
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Prints where the server listens: a `listening on URL` line per listener, then
/// `control on URL` when the control API is open (test harnesses wait for these lines).
pub(crate) fn announce(server: &ImdsServer) {
    let mut out = std::io::stdout().lock();
    for url in server.urls() {
        let _ = writeln!(out, "listening on {url}");
    }
    if let Some(url) = server.control_url() {
        let _ = writeln!(out, "control on {url}");
    }
    let _ = out.flush();
}

/// On each SIGHUP, re-reads `--instance` and `--scenario` and applies both, or neither when
/// either is bad (the old state stays and stderr says why). Never returns.
async fn reload_on_hangup(args: &ServeArgs, server: &ImdsServer) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        return std::future::pending().await;
    };
    while hangup.recv().await.is_some() {
        match args.instance().and_then(|i| Ok((i, args.scenario()?))) {
            Ok((instance, scenario)) => {
                server.reload(instance, scenario);
                eprintln!("SIGHUP: reloaded the instance and scenario");
            }
            Err(e) => eprintln!("SIGHUP: {e}; nothing changed"),
        }
    }
    std::future::pending().await
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
