//! The options a user says the instance has, to compare with what the probe sees.

/// Options as declared by the user; `None` where nothing was said. The model's one partial
/// options type, under the name the probe's API has always used; its
/// `from_describe_instances_json` reads `--metadata-options` files.
pub type DeclaredOptions = imds_model::PartialOptions;
