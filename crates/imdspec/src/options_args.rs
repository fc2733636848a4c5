//! The instance-option flags shared by `serve`, `run` and `probe`, named as the AWS CLI's
//! `aws ec2 modify-instance-metadata-options` names them.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use imds_model::{HopLimit, HttpTokens, OptionsState, Toggle};

/// Instance metadata option flags. Every flag is optional: what is not given is either
/// EC2's default (`serve`) or detected from the endpoint (`run`, `probe`).
#[derive(Clone, Debug, Default, Args)]
pub struct OptionFlags {
    /// HttpTokens: optional (IMDSv1 and v2) or required (IMDSv2 only).
    #[arg(long, value_name = "optional|required")]
    pub http_tokens: Option<HttpTokens>,
    /// HttpEndpoint: enabled or disabled.
    #[arg(long, value_name = "enabled|disabled")]
    pub http_endpoint: Option<Toggle>,
    /// HttpPutResponseHopLimit: 1..=64.
    #[arg(long, value_name = "1..=64")]
    pub http_put_response_hop_limit: Option<HopLimit>,
    /// HttpProtocolIpv6: enabled or disabled.
    #[arg(long, value_name = "enabled|disabled")]
    pub http_protocol_ipv6: Option<Toggle>,
    /// InstanceMetadataTags: enabled or disabled.
    #[arg(long, value_name = "enabled|disabled")]
    pub instance_metadata_tags: Option<Toggle>,
    /// JSON from `aws ec2 describe-instances` (the whole output, or a --query for
    /// MetadataOptions); only the fields it has are declared, flags given beside it win.
    #[arg(long, value_name = "FILE")]
    pub metadata_options: Option<PathBuf>,
    /// Which instance of a --metadata-options file holding several.
    #[arg(long, value_name = "ID", requires = "metadata_options")]
    pub instance_id: Option<String>,
}

/// Options as declared on the command line: the model's one partial-options type, shared by
/// `run` and `probe`.
pub use imds_model::PartialOptions as DeclaredOptions;

impl OptionFlags {
    /// Reads `--metadata-options` (if given) and lays the flags over it.
    pub fn declared(&self) -> anyhow::Result<DeclaredOptions> {
        self.declared_with_state().map(|(d, _)| d)
    }

    /// [`OptionFlags::declared`], and the file's `State` when it gives one.
    pub fn declared_with_state(&self) -> anyhow::Result<(DeclaredOptions, Option<OptionsState>)> {
        let (file, state) = match &self.metadata_options {
            Some(path) => {
                // The error names the file, line, column and key itself.
                imds_files::partial_options(path, self.instance_id.as_deref())
                    .context("--metadata-options")?
            }
            None => (DeclaredOptions::default(), None),
        };
        let flags = DeclaredOptions {
            http_tokens: self.http_tokens,
            http_endpoint: self.http_endpoint,
            http_put_response_hop_limit: self.http_put_response_hop_limit,
            http_protocol_ipv6: self.http_protocol_ipv6,
            instance_metadata_tags: self.instance_metadata_tags,
        };
        Ok((flags.or(file), state))
    }
}
