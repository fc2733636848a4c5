//! Reading the files imdspec loads. This crate reads instance, metadata-options and scenario
//! files; decodes the options ([`options`]) and scenario ([`scenario`](mod@scenario)) formats
//! into the model's types (the model decodes instance content itself, since its merge rules are
//! IMDS's); and holds the one catalogue loader the case and client-scenario catalogues share
//! ([`catalogue`]). Every failure, a missing file included, is an [`imds_diag::LoadError`]
//! shown as `FILE:LINE:COL: FIELD: MESSAGE`.

pub mod catalogue;
pub mod instance_fields;
pub mod options;
pub mod scenario;

use std::path::{Path, PathBuf};

use imds_diag::Format;
pub use imds_diag::LoadError;
use imds_model::{
    Instance, InstanceFormat, MetadataOptions, OptionsState, PartialOptions, Scenario,
};

/// Reads a file as text; a file that cannot be read is a [`LoadError`] naming it.
pub fn read(file: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(file).map_err(|e| imds_diag::unreadable(file, &e))
}

/// Every `*.toml` file directly in `dir` (not in its subdirectories), sorted by name, with
/// its text: the rule the compiled-in catalogues ([`catalogue::embedded`]) follow too.
pub fn toml_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, LoadError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| imds_diag::unreadable(dir, &e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| read(&f).map(|text| (f, text)))
        .collect()
}

/// Reads an instance file over the built-in instance; the format follows the extension
/// (`.json`, else TOML).
pub fn instance(file: &Path) -> Result<Instance, LoadError> {
    let format = match Format::of(file) {
        Format::Json => InstanceFormat::Json,
        Format::Toml => InstanceFormat::Toml,
    };
    Instance::from_text(&file.display().to_string(), &read(file)?, format)
}

/// Reads a scenario file; the format follows the extension (`.json`, else TOML).
pub fn scenario(file: &Path) -> Result<Scenario, LoadError> {
    scenario::parse_file(file, &read(file)?)
}

/// Reads a describe-instances options file holding one instance's options
/// ([`options::metadata_options`]).
pub fn metadata_options(file: &Path) -> Result<MetadataOptions, LoadError> {
    options::metadata_options(file, &read(file)?)
}

/// Reads what `aws ec2 describe-instances` printed, declaring only the options it gives
/// ([`options::declared_options`]); `instance_id` picks one of several.
pub fn partial_options(
    file: &Path,
    instance_id: Option<&str>,
) -> Result<(PartialOptions, Option<OptionsState>), LoadError> {
    options::declared_options(file, &read(file)?, instance_id)
}
