//! Keeping tokens, credentials and user data out of reports and logs.

use std::sync::LazyLock;

use regex::Regex;

static SECRET_JSON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"("(?:SecretAccessKey|Token)"\s*:\s*)"(?:[^"\\]|\\.)*""#)
        .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

/// Redacts secrets unless the user asked to see them (`--show-secrets`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Redactor {
    /// Leave everything as it is.
    pub show_secrets: bool,
}

impl Redactor {
    /// A request header value as it may be shown.
    pub fn header_value(&self, name: &str, value: &str) -> String {
        if !self.show_secrets && name.eq_ignore_ascii_case(imds_model::TOKEN_HEADER.as_str()) {
            format!("<redacted token, {} chars>", value.len())
        } else {
            value.to_owned()
        }
    }

    /// True when a response body to `method path` carries something secret as a whole
    /// (a token, user data).
    fn whole_body_secret(method: &str, path: &str) -> Option<&'static str> {
        let p = path.split('?').next().unwrap_or(path).trim_end_matches('/');
        if imds_model::classify(method, p).is_token_request() {
            Some("token")
        } else if p.ends_with("/user-data") {
            Some("user-data")
        } else {
            None
        }
    }

    /// A response body as it may be shown (lossy UTF-8).
    pub fn body(&self, method: &str, path: &str, status: u16, body: &[u8]) -> String {
        if self.show_secrets {
            return String::from_utf8_lossy(body).into_owned();
        }
        if status == 200
            && !body.is_empty()
            && let Some(what) = Self::whole_body_secret(method, path)
        {
            return format!("<redacted {what}, {} bytes>", body.len());
        }
        let text = String::from_utf8_lossy(body);
        SECRET_JSON
            .replace_all(&text, r#"$1"<redacted>""#)
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_unless_asked() {
        let r = Redactor::default();
        let creds =
            br#"{ "AccessKeyId" : "ASIA1", "SecretAccessKey" : "s3cr\"et", "Token" : "tok" }"#;
        let shown = r.body(
            "GET",
            "/latest/meta-data/iam/security-credentials/r",
            200,
            creds,
        );
        assert!(
            !shown.contains("s3cr") && !shown.contains("tok\""),
            "{shown}"
        );
        assert!(shown.contains("ASIA1"), "{shown}");
        let t = r.body("PUT", "/latest/api/token", 200, b"AQAEAsecret");
        assert_eq!(t, "<redacted token, 11 bytes>");
        assert!(
            r.body("GET", "/latest/user-data", 200, b"#!/bin/sh")
                .starts_with("<redacted user-data")
        );
        assert_eq!(r.body("GET", "/latest/user-data", 404, b"nf"), "nf");
        assert!(
            r.header_value("X-aws-ec2-metadata-token", "abc")
                .starts_with("<redacted")
        );
        let open = Redactor { show_secrets: true };
        assert_eq!(open.body("PUT", "/latest/api/token", 200, b"AQAE"), "AQAE");
    }
}
