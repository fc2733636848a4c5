//! `imdspec client-check --all`: every installed driver of `conformance/clients/drivers/`
//! against the same scenarios, written as `MATRIX.md` and `MATRIX.json`.
//!
//! Under `CI=true` a driver that is not installed fails the run (exit 3); elsewhere it is
//! skipped with its reason printed, and its column says why.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use imds_client_check::matrix::{self, Column, Matrix, Places};
use imds_client_check::{Scenario, Scenarios};
use imds_report::{Outcome, Report};

/// What `--all` needs from the command line.
pub struct MatrixArgs {
    /// Repository root.
    pub root: PathBuf,
    /// Only these drivers (empty: all).
    pub drivers: Vec<String>,
    /// Where the matrix files go.
    pub matrix_dir: Option<PathBuf>,
    /// Scenarios and targets from here instead of the compiled-in ones.
    pub clients_dir: Option<PathBuf>,
    /// Per-scenario timeout.
    pub timeout: Duration,
    /// Scenarios of one client at a time.
    pub concurrency: usize,
    /// Should-level failures fail the run too.
    pub strict: bool,
}

const USAGE: &str = "imdspec client-check --all [--root DIR] [--driver NAME]... [--matrix-dir DIR]";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Runs the matrix; exit 0 when every installed client meets its expectations and the
/// known-bad one is caught, 1 when not, 2 on a usage error, 3 when a driver is missing in CI.
pub fn main(args: &MatrixArgs, catalogue: &Scenarios, selected: Vec<Scenario>) -> ExitCode {
    let started = Instant::now();
    let drivers_dir = args.root.join("conformance/clients/drivers");
    let mut drivers = match matrix::load_drivers(&drivers_dir) {
        Ok(d) => d,
        Err(e) => return crate::usage::error(USAGE, e),
    };
    for name in &args.drivers {
        if !drivers.iter().any(|d| &d.name == name) {
            let known: Vec<&str> = drivers.iter().map(|d| d.name.as_str()).collect();
            return crate::usage::error(
                USAGE,
                format!(
                    "--driver {name}: no such driver (known: {})",
                    known.join(", ")
                ),
            );
        }
    }
    if !args.drivers.is_empty() {
        drivers.retain(|d| args.drivers.contains(&d.name));
    }
    let mut expectations = Vec::new();
    for d in &drivers {
        match matrix::driver_expectations(d, args.clients_dir.as_deref()) {
            Ok(e) => expectations.push(e),
            Err(e) => return crate::usage::error(USAGE, e),
        }
    }
    let matrix_dir = args
        .matrix_dir
        .clone()
        .unwrap_or_else(|| args.root.join("conformance/clients"));
    let places = Places::new(&args.root);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut columns: Vec<Column> = Vec::new();
    let mut failed = Vec::new();
    let mut missing = Vec::new();
    for (driver, expect) in drivers.iter().zip(&expectations) {
        let done = runtime.block_on(matrix::run_driver(
            driver,
            &places,
            &selected,
            catalogue,
            expect.as_ref(),
            args.timeout,
            args.concurrency,
        ));
        match &done.run {
            None => {
                let why = done.column.not_run.clone().unwrap_or_default();
                if in_ci() {
                    eprintln!(
                        "error: client {} cannot run under CI=true: {why}",
                        driver.name
                    );
                } else {
                    eprintln!("skipped client {}: {why}", driver.name);
                }
                missing.push(driver.name.clone());
            }
            Some(run) => {
                let s = &run.summary;
                println!(
                    "{:<14} {:>3} pass {:>3} xfail {:>3} fail {:>3} xpass {:>3} error {:>3} n/a  {:>6.1} s",
                    driver.name,
                    s.pass,
                    s.xfail,
                    s.fail,
                    s.xpass,
                    s.error,
                    done.column.cells.len().saturating_sub(s.total),
                    done.elapsed.as_secs_f64()
                );
                let report = Report {
                    command: "imdspec client-check --all",
                    runs: vec![run.clone()],
                    strict: args.strict,
                };
                let bad_caught = run.cases.iter().any(|c| matches!(c.outcome, Outcome::Fail));
                if driver.known_bad {
                    if !bad_caught {
                        eprintln!("error: the known-bad client {} failed nothing", driver.name);
                        failed.push(driver.name.clone());
                    }
                } else if report.exit_code() != 0 {
                    eprint!("{}", imds_client_check::human(&report, false, false));
                    failed.push(driver.name.clone());
                }
            }
        }
        columns.push(done.column);
    }
    let matrix = Matrix::new(&selected, columns);
    if let Err(e) = write_matrix(&matrix_dir, &matrix) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "matrix of {} clients × {} scenarios in {:.1} s: {}",
        matrix.columns.len(),
        matrix.rows.len(),
        started.elapsed().as_secs_f64(),
        matrix_dir.join("MATRIX.md").display()
    );
    if !missing.is_empty() && in_ci() {
        return ExitCode::from(3);
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("clients that failed the run: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}

fn write_matrix(dir: &Path, matrix: &Matrix) -> Result<(), String> {
    for (name, text) in [
        ("MATRIX.md", matrix.to_markdown()),
        ("MATRIX.json", matrix.to_json()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
