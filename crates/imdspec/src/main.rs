//! `imdspec`: the reference model, server, conformance runner and probe for EC2 IMDS.

use clap::Parser;

/// imdspec: what correct EC2 instance metadata behaviour is, and whether an endpoint has it.
#[derive(Debug, Parser)]
#[command(name = "imdspec", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
