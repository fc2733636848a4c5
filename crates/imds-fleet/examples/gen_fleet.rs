//! Writes a synthetic fleet for `just bench-fleet`: `gen_fleet DIR N` puts N instances' probe
//! outputs under DIR/observed (Run Command's S3 layout) and DIR/declared.json.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: gen_fleet DIR N");
        std::process::exit(2);
    };
    let n: usize = n.parse()?;
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir)?;
    let files =
        imds_fleet::synth::write_fleet(&dir.join("observed"), &dir.join("declared.json"), n)?;
    println!(
        "{files} probe files for {n} instances under {}",
        dir.display()
    );
    Ok(())
}
