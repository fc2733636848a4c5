//! Writes a synthetic fleet for `just bench-fleet`: `gen_fleet DIR N` puts N instances' probe
//! outputs under DIR/observed and DIR/declared.json; `gen_fleet DIR N per-host` writes one
//! file per host, a thousand to a directory, instead of Run Command's S3 layout (three
//! directories per instance: 1,000,000 instances would take 16 GB of directory blocks).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: gen_fleet DIR N [run-command|per-host]");
        std::process::exit(2);
    };
    let n: usize = n.parse()?;
    let layout = match args.next().as_deref() {
        None | Some("run-command") => imds_fleet::synth::Layout::RunCommand,
        Some("per-host") => imds_fleet::synth::Layout::PerHost,
        Some(other) => {
            eprintln!("usage: gen_fleet DIR N [run-command|per-host] (not {other:?})");
            std::process::exit(2);
        }
    };
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir)?;
    let files = imds_fleet::synth::write_fleet_as(
        &dir.join("observed"),
        &dir.join("declared.json"),
        n,
        layout,
    )?;
    println!(
        "{files} probe files for {n} instances under {}",
        dir.display()
    );
    Ok(())
}
