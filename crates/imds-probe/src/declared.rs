//! The options a user says the instance has, to compare with what the probe sees.

use imds_model::{HopLimit, HttpTokens, MetadataOptions, Toggle};

/// Options as declared by the user; `None` where nothing was said.
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
    /// Every option of `o`, declared.
    pub fn all_of(o: &MetadataOptions) -> DeclaredOptions {
        DeclaredOptions {
            http_tokens: Some(o.http_tokens),
            http_endpoint: Some(o.http_endpoint),
            http_put_response_hop_limit: Some(o.http_put_response_hop_limit),
            http_protocol_ipv6: Some(o.http_protocol_ipv6),
            instance_metadata_tags: Some(o.instance_metadata_tags),
        }
    }

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
