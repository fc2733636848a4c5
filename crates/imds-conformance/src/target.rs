//! Plain data about the target: the options as far as known and the content found before
//! the cases run. Imports nothing from the rest of the crate.

use crate::catalogue::Need;

/// Target options as far as they are known; `None` where unknown. The model's one partial
/// options type, under the name the runner's API has always used.
pub type TargetOptions = imds_model::PartialOptions;

/// Instance content found before the cases run, for placeholders and `needs`.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// First IAM role name.
    pub role: Option<String>,
    /// Primary MAC.
    pub mac: Option<String>,
    /// First public key index.
    pub key_index: Option<String>,
    /// First visible tag key.
    pub tag_key: Option<String>,
    /// User data present.
    pub user_data: bool,
}

impl Discovery {
    pub(crate) fn has(&self, need: Need) -> bool {
        match need {
            Need::Role => self.role.is_some(),
            Need::PublicKey => self.key_index.is_some(),
            Need::UserData => self.user_data,
            Need::Tag => self.tag_key.is_some(),
            Need::Mac => self.mac.is_some(),
        }
    }

    /// Fills `{role}`, `{mac}`, `{key_index}`, `{tag_key}`.
    pub fn expand(&self, path: &str) -> Option<String> {
        let mut out = path.to_owned();
        for (name, value) in [
            ("{role}", &self.role),
            ("{mac}", &self.mac),
            ("{key_index}", &self.key_index),
            ("{tag_key}", &self.tag_key),
        ] {
            if out.contains(name) {
                out = out.replace(name, value.as_deref()?);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_expands_placeholders() {
        let d = Discovery {
            role: Some("r".into()),
            ..Discovery::default()
        };
        assert_eq!(d.expand("/a/{role}/b").as_deref(), Some("/a/r/b"));
        assert_eq!(d.expand("/a/{mac}"), None);
        assert_eq!(d.expand("/a").as_deref(), Some("/a"));
    }
}
