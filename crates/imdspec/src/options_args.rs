//! The instance-option flags shared by `serve`, `run` and `probe`, named as the AWS CLI's
//! `aws ec2 modify-instance-metadata-options` names them.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use imds_model::{HopLimit, HttpTokens, MetadataOptions, Toggle};

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
    /// The JSON `aws ec2 describe-instances --query "Reservations[].Instances[].MetadataOptions"`
    /// prints; flags given beside it win.
    #[arg(long, value_name = "FILE")]
    pub metadata_options: Option<PathBuf>,
}

/// Options as declared on the command line; the probe's type, shared with `run`.
pub use imds_probe::DeclaredOptions;

impl OptionFlags {
    /// Reads `--metadata-options` (if given) and lays the flags over it.
    pub fn declared(&self) -> anyhow::Result<DeclaredOptions> {
        let mut d = DeclaredOptions::default();
        if let Some(path) = &self.metadata_options {
            // The error names the file, line, column and key itself.
            let o = MetadataOptions::load(path).context("--metadata-options")?;
            d = DeclaredOptions::all_of(&o);
        }
        d.http_tokens = self.http_tokens.or(d.http_tokens);
        d.http_endpoint = self.http_endpoint.or(d.http_endpoint);
        d.http_put_response_hop_limit = self
            .http_put_response_hop_limit
            .or(d.http_put_response_hop_limit);
        d.http_protocol_ipv6 = self.http_protocol_ipv6.or(d.http_protocol_ipv6);
        d.instance_metadata_tags = self.instance_metadata_tags.or(d.instance_metadata_tags);
        Ok(d)
    }
}
