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

/// Options as declared on the command line; `None` where nothing was said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeclaredOptions {
    /// HttpTokens, if declared.
    pub http_tokens: Option<HttpTokens>,
    /// HttpEndpoint, if declared.
    pub http_endpoint: Option<Toggle>,
    /// HttpPutResponseHopLimit, if declared.
    pub http_put_response_hop_limit: Option<HopLimit>,
    /// HttpProtocolIpv6, if declared.
    pub http_protocol_ipv6: Option<Toggle>,
    /// InstanceMetadataTags, if declared.
    pub instance_metadata_tags: Option<Toggle>,
}

impl DeclaredOptions {
    /// Fills what was not declared with EC2's defaults.
    pub fn or_defaults(&self) -> MetadataOptions {
        let d = MetadataOptions::default();
        MetadataOptions {
            http_tokens: self.http_tokens.unwrap_or(d.http_tokens),
            http_endpoint: self.http_endpoint.unwrap_or(d.http_endpoint),
            http_put_response_hop_limit: self
                .http_put_response_hop_limit
                .unwrap_or(d.http_put_response_hop_limit),
            http_protocol_ipv6: self.http_protocol_ipv6.unwrap_or(d.http_protocol_ipv6),
            instance_metadata_tags: self
                .instance_metadata_tags
                .unwrap_or(d.instance_metadata_tags),
            ..d
        }
    }

    /// True when nothing was declared.
    pub fn is_empty(&self) -> bool {
        *self == DeclaredOptions::default()
    }
}

impl OptionFlags {
    /// Reads `--metadata-options` (if given) and lays the flags over it.
    pub fn declared(&self) -> anyhow::Result<DeclaredOptions> {
        let mut d = DeclaredOptions::default();
        if let Some(path) = &self.metadata_options {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--metadata-options {}: cannot read", path.display()))?;
            let o = MetadataOptions::from_describe_instances_json(&text)
                .with_context(|| format!("--metadata-options {}", path.display()))?;
            d = DeclaredOptions {
                http_tokens: Some(o.http_tokens),
                http_endpoint: Some(o.http_endpoint),
                http_put_response_hop_limit: Some(o.http_put_response_hop_limit),
                http_protocol_ipv6: Some(o.http_protocol_ipv6),
                instance_metadata_tags: Some(o.instance_metadata_tags),
            };
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
