//! `imdspec aemm`: amazon-ec2-metadata-mock's command line on the faithful server. The
//! arguments go to `imds-aemm` untouched (AEMM's flag syntax is not clap's).

use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use imds_aemm::{Answer, Error, HELP, Prepared, View, prepare};
use imds_model::{Clock as _, Outcome, SystemClock};
use imds_server::{ImdsServer, Overlay, OverlayAnswer, OverlayRequest};

/// The usage line of bad-flag errors.
const USAGE: &str = "imdspec aemm [spot|events|asglifecycle] [FLAGS]";

/// Arguments of `imdspec aemm`: AEMM's own, passed through.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct AemmArgs {
    /// AEMM's subcommand and flags (see `imdspec aemm --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<OsString>,
}

/// Which expectations apply when `imdspec run` is pointed at this server.
pub const TARGET_NOTE: &str = "note: AEMM's paths, values and timing over EC2's protocol; \
`imdspec run` against it: --target imdspec-aemm (conformance/targets/imdspec-aemm.toml; \
README.md, \"imdspec aemm: migrating from amazon-ec2-metadata-mock\")";

/// AEMM's answers (listings, values, JSON layout, notice timing) in place of the model's for
/// every read the model let through, and AEMM's 401 page on its 401s; tokens, methods and
/// options stay the model's (README's migration table says why).
///
/// `open_listings` (`--imdsv2-open-listings`): the listings AEMM's `--imdsv2` leaves
/// unchecked are answered without a token too.
fn aemm_layout(view: View, open_listings: bool) -> Overlay {
    std::sync::Arc::new(move |r: &OverlayRequest<'_>| {
        let a = match r.outcome {
            Outcome::Served | Outcome::NotFound => view.answer(r.path, r.peer, r.now),
            Outcome::TokenMissing | Outcome::TokenInvalid | Outcome::TokenExpired
                if open_listings && view.unchecked(r.path) =>
            {
                view.answer(r.path, r.peer, r.now)
            }
            Outcome::TokenMissing | Outcome::TokenInvalid | Outcome::TokenExpired => {
                Answer::unauthorized()
            }
            _ => return None,
        };
        Some(OverlayAnswer {
            status: a.status,
            content_type: Some(a.content_type.to_owned()),
            body: a.body.into(),
        })
    })
}

/// Where AEMM's `-s` writes when no file is named.
fn default_save_path(home: Option<&Path>) -> PathBuf {
    home.map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        .join(".ec2-metadata-mock")
        .join(".aemm-config-used.json")
}

fn save(p: &Prepared, home: Option<&Path>) -> Result<PathBuf, String> {
    let path = p
        .cli
        .save_path
        .as_ref()
        .map_or_else(|| default_save_path(home), PathBuf::from);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&path, p.config.to_json()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The address to bind: the host as an IP, or resolved (IPv4 first, as Go's listener does).
fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("server.hostname {host:?}: {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("server.hostname {host:?} resolves to no address"))
}

/// Runs `imdspec aemm`.
pub fn main(args: AemmArgs) -> ExitCode {
    let mut words = Vec::with_capacity(args.args.len());
    for a in args.args {
        match a.into_string() {
            Ok(s) => words.push(s),
            Err(a) => return crate::usage::error(USAGE, format!("argument {a:?} is not UTF-8")),
        }
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let start = SystemClock.now();
    let prepared = match prepare(&words, &env, home.as_deref(), start, |p| {
        std::fs::read_to_string(p)
    }) {
        Ok(p) => p,
        Err(Error::Args(e)) => return crate::usage::error(USAGE, e),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if prepared.cli.help {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    if prepared.cli.version {
        println!("imdspec {} (aemm)", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    for w in prepared
        .config
        .warnings
        .iter()
        .chain(&prepared.plan.warnings)
    {
        eprintln!("warning: {w}");
    }
    for w in &prepared.cli.ignored {
        eprintln!("warning: argument {w:?} ignored");
    }
    if let Some(path) = &prepared.config.file_used {
        eprintln!("Using configuration from file: {}", path.display());
    }
    if prepared.config.bool("save-config-to-file") {
        match save(&prepared, home.as_deref()) {
            Ok(path) => println!(
                "Successfully saved final configuration to local file {}",
                path.display()
            ),
            // AEMM carries on when it cannot save; so do we, loudly.
            Err(e) => eprintln!("warning: cannot save the configuration: {e}"),
        }
    }
    let view = View::new(&prepared.config, prepared.cli.command, start);
    let open_listings = prepared.config.bool("imdsv2-open-listings");
    let plan = prepared.plan;
    let addr = match resolve(&plan.host, plan.port) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let server = ImdsServer::builder()
            .options(plan.options)
            .instance(plan.instance)
            .scenario(plan.scenario)
            .listen(addr)
            .journal_capacity(0)
            .overlay(aemm_layout(view, open_listings))
            .start()
            .await;
        let server = match server {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        crate::serve::announce(&server);
        eprintln!("{TARGET_NOTE}");
        crate::serve::wait_for_signal().await;
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}
