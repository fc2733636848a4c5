//! The options a user says the instance has, to compare with what the probe sees.

/// Options as declared by the user; `None` where nothing was said. The model's one partial
/// options type, under the name the probe's API has always used; `imds_files::partial_options`
/// reads `--metadata-options` files into it.
pub type DeclaredOptions = imds_model::PartialOptions;
