//! Keeping tokens, credentials and user data out of reports and logs.
//!
//! One place decides what a secret looks like, so that the runner's reports and client-check's
//! copies of a client's output hide the same things. Secrets are found by what a value is
//! (an IMDS token, an access key id, a secret key, a session token, user data), never by the
//! words around it: a port, an environment variable's name or an instance id stays readable.

use std::sync::LazyLock;

use regex::Regex;

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("constant regex: {e}"))
}

static SECRET_JSON: LazyLock<Regex> =
    LazyLock::new(|| regex(r#"("(?:SecretAccessKey|Token)"\s*:\s*)"(?:[^"\\]|\\.)*""#));

/// `token=…`, `SecretAccessKey: …`, `password=…`: a name that says "secret", then the value.
/// The name must end in the secret word, so `…-token-ttl-seconds: 21600` is left alone.
static SECRET_ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r#"(?i)\b([A-Za-z0-9_.-]*(?:token|secret|secretaccesskey|secret_access_key|password|passwd|credentials?)["']?\s*[:=]\s*["']?)([^\s"',;&]+)"#,
    )
});

/// An IMDS session token (EC2's and ours start with `AQAE`, URL-safe base64), an access key
/// id, or a run of 40+ standard base64 characters mixing upper case, lower case and digits (a
/// secret access key, a session token). `_` and `-` end such a run, so `SOME_VARIABLE_NAME`
/// and `meta-data` paths are never one.
static SECRET_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"\bAQAE[A-Za-z0-9_=+/-]{16,}|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|[A-Za-z0-9+/]{40,}={0,2}")
});

/// Request headers whose values are secrets (the model's one list).
pub use imds_model::{SECRET_HEADERS, is_secret_header};

/// True when `run` (base64-ish characters only) looks like key material rather than a word:
/// it mixes upper case, lower case and digits.
fn looks_random(run: &str) -> bool {
    run.bytes().any(|b| b.is_ascii_uppercase())
        && run.bytes().any(|b| b.is_ascii_lowercase())
        && run.bytes().any(|b| b.is_ascii_digit())
}

/// Free text (a client's output line, an error message) with its secrets replaced by
/// `<redacted>`.
pub fn redact_text(text: &str) -> String {
    let assigned = SECRET_ASSIGNMENT.replace_all(text, |c: &regex::Captures<'_>| {
        let value = &c[2];
        // `token=<redacted>` (already hidden) and `password=` alone need no more.
        if value.starts_with("<redacted") {
            c[0].to_owned()
        } else {
            format!("{}<redacted>", &c[1])
        }
    });
    SECRET_VALUE
        .replace_all(&assigned, |c: &regex::Captures<'_>| {
            let m = &c[0];
            if m.starts_with("AQAE")
                || m.starts_with("AKIA")
                || m.starts_with("ASIA")
                || looks_random(m)
            {
                "<redacted>".to_owned()
            } else {
                m.to_owned()
            }
        })
        .into_owned()
}

/// Redacts secrets unless the user asked to see them (`--show-secrets`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Redactor {
    /// Leave everything as it is.
    pub show_secrets: bool,
}

impl Redactor {
    /// A request header value as it may be shown.
    pub fn header_value(&self, name: &str, value: &str) -> String {
        if self.show_secrets {
            value.to_owned()
        } else if name.eq_ignore_ascii_case(imds_model::TOKEN_HEADER.as_str()) {
            format!("<redacted token, {} chars>", value.len())
        } else if is_secret_header(name) {
            "<redacted>".to_owned()
        } else {
            value.to_owned()
        }
    }

    /// True when a response body to `method path` carries something secret as a whole
    /// (a token, user data).
    fn whole_body_secret(method: &str, path: &str) -> Option<&'static str> {
        let p = path.split('?').next().unwrap_or(path).trim_end_matches('/');
        // Broader than the classifier on purpose: a token handed out to a PUT the model would
        // refuse (another prefix, a lower-case method) is still a secret.
        if imds_model::classify(method, p).is_token_request()
            || (method.eq_ignore_ascii_case("PUT") && p.ends_with("/api/token"))
        {
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
        assert_eq!(r.header_value("Authorization", "AWS4 k"), "<redacted>");
        assert_eq!(
            r.header_value("X-aws-ec2-metadata-token-ttl-seconds", "21600"),
            "21600"
        );
        let open = Redactor { show_secrets: true };
        assert_eq!(open.body("PUT", "/latest/api/token", 200, b"AQAE"), "AQAE");
    }

    #[test]
    fn text_keeps_ordinary_words_and_hides_values_that_are_secrets() {
        // The line client-check once mangled: the variable's name must stay, the value go.
        assert_eq!(
            redact_text("refusing: AWS_EC2_METADATA_SERVICE_ENDPOINT is unset; token=abc"),
            "refusing: AWS_EC2_METADATA_SERVICE_ENDPOINT is unset; token=<redacted>"
        );
        for kept in [
            "GET http://127.0.0.1:41234/latest/meta-data/instance-id -> 200",
            "instance i-0123456789abcdef0 in eu-west-1a, ami-0abcdef1234567890",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6",
            "X-aws-ec2-metadata-token-ttl-seconds: 21600",
            "/latest/meta-data/iam/security-credentials/my-role-with-a-long-name-indeed",
            "deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef",
            "token=<redacted>",
        ] {
            assert_eq!(redact_text(kept), kept);
        }
        let imds_token = "AQAEAHx7bEJvU3pDc1hUZ2hLQ0w5TWZ1c3hVQ29PRmZkTnB3dWt6Zw==";
        let secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let session = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6example";
        for (line, secret) in [
            (format!("got {imds_token} from PUT"), imds_token),
            (
                "key AKIAIOSFODNN7EXAMPLE ok".to_owned(),
                "AKIAIOSFODNN7EXAMPLE",
            ),
            (
                "key ASIAIOSFODNN7EXAMPLE ok".to_owned(),
                "ASIAIOSFODNN7EXAMPLE",
            ),
            (format!("secret {secret_key} end"), secret_key),
            (format!("session {session}"), session),
            (format!("\"Token\": \"{session}\""), session),
            ("token=abc123".to_owned(), "abc123"),
            ("SecretAccessKey: hunter2".to_owned(), "hunter2"),
            ("AWS_SESSION_TOKEN='xyz'".to_owned(), "xyz"),
        ] {
            let shown = redact_text(&line);
            assert!(!shown.contains(secret), "{line} -> {shown}");
            assert!(shown.contains("<redacted>"), "{line} -> {shown}");
        }
    }
}
