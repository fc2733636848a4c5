//! `imdspec`: the reference model, server, conformance runner and probe for EC2 IMDS.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod aemm;
mod client_check;
mod client_matrix;
mod embedded;
mod fail_on;
mod fleet;
mod options_args;
mod probe;
mod run;
mod serve;
mod usage;

/// imdspec: what correct EC2 instance metadata behaviour is, and whether an endpoint has it.
#[derive(Debug, Parser)]
#[command(name = "imdspec", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the reference IMDS over HTTP on loopback.
    #[command(after_help = serve::AFTER_HELP)]
    Serve(serve::ServeArgs),
    /// Check an endpoint (or, with none given, our own reference server) against the spec.
    #[command(after_help = run::AFTER_HELP)]
    Run(run::RunArgs),
    /// From inside an instance: what does this endpoint really enforce?
    #[command(after_help = probe::AFTER_HELP)]
    Probe(probe::ProbeArgs),
    /// Run a program that uses an IMDS client against scripted servers and judge its requests.
    #[command(after_help = client_check::AFTER_HELP)]
    ClientCheck(client_check::ClientCheckArgs),
    /// Run amazon-ec2-metadata-mock's command line (flags, AEMM_* variables, config files) on
    /// the faithful server; `imdspec aemm --help` lists AEMM's flags.
    Aemm(aemm::AemmArgs),
    /// Join probe outputs of a whole fleet with the control plane's view.
    Fleet(fleet::FleetArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve(args) => serve::main(args),
        Command::Run(args) => run::main(args),
        Command::Probe(args) => probe::main(args),
        Command::ClientCheck(args) => client_check::main(args),
        Command::Aemm(args) => aemm::main(args),
        Command::Fleet(args) => fleet::main(args),
    }
}
