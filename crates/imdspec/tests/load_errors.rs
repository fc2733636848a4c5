//! Every loader — instance, metadata options, scenario, AEMM config, case catalogue, client
//! scenario catalogue — fed the same classes of broken input answers in one shape,
//! `FILE:LINE:COL: KEY: MESSAGE`, pointing at the key at fault.

use std::path::{Path, PathBuf};

use imds_aemm::{Cli, Config, ConfigError};
use imds_client_check::Scenarios;
use imds_conformance::Catalogue;
use imds_model::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Syntax,
    UnknownKeyNearMiss,
    WrongType,
    BadValue,
    MissingRequiredKey,
}

/// Loads `text` as `file` with the named loader; the error (or AEMM's warning, since AEMM
/// ignores unknown keys) as shown to a user.
fn load(loader: &str, file: &str, text: &str) -> String {
    let path = Path::new(file);
    let err = match loader {
        "instance" => imds_model::Instance::from_text(file, text, imds_model::InstanceFormat::Toml)
            .err()
            .map(|e| e.to_string()),
        "options" => imds_files::options::metadata_options(path, text)
            .err()
            .map(|e| e.to_string()),
        "scenario" => imds_files::scenario::parse_file(path, text)
            .err()
            .map(|e| e.to_string()),
        "aemm" => {
            let cli = Cli::parse(&["-c".to_owned(), file.to_owned()]).unwrap();
            let text = text.to_owned();
            match Config::load(&cli, &[], None, Timestamp::from_secs(1_768_470_000), |_| {
                Ok(text.clone())
            }) {
                Err(ConfigError::File(e)) => Some(e.to_string()),
                Err(other) => panic!("not a file error: {other}"),
                Ok(c) => c.warnings.first().cloned(),
            }
        }
        "cases" => Catalogue::from_sources(&[(PathBuf::from(file), text.to_owned())], None)
            .err()
            .map(|e| e.to_string()),
        "clients" => Scenarios::from_sources(&[(PathBuf::from(file), text.to_owned())])
            .err()
            .map(|e| e.to_string()),
        other => panic!("no loader {other}"),
    };
    err.unwrap_or_else(|| panic!("{loader}: {file} loaded:\n{text}"))
}

const CASE: &str = r#"[[case]]
id = "token.put.ok"
summary = "A token PUT works"
doc = "https://docs.aws.amazon.com/x"
level = "must"

[[case.step]]
method = "PUT"
path = "/latest/api/token"
expect.status = 200
"#;

const CLIENT: &str = r#"[[scenario]]
id = "tokens.a"
summary = "s"
doc = "https://example.invalid/"
level = "must"
[scenario.expect]
exit = "zero"
"#;

/// (loader, file, class, text, the key the message must name).
fn inputs() -> Vec<(&'static str, &'static str, Class, String, &'static str)> {
    use Class::*;
    vec![
        ("instance", "i.toml", Syntax, "region = \n".into(), "(file)"),
        (
            "instance",
            "i.toml",
            UnknownKeyNearMiss,
            "instance-typ = \"m5.large\"\n".into(),
            "instance-typ",
        ),
        (
            "instance",
            "i.toml",
            WrongType,
            "ami-launch-index = \"one\"\n".into(),
            "ami-launch-index",
        ),
        (
            "instance",
            "i.toml",
            BadValue,
            "instance-id = \"x-1\"\n".into(),
            "instance-id",
        ),
        (
            "instance",
            "i.toml",
            MissingRequiredKey,
            "[[public-keys]]\nname = \"k\"\n".into(),
            "public-keys[1].openssh-key",
        ),
        (
            "options",
            "o.json",
            Syntax,
            "{\"HttpTokens\": }".into(),
            "(file)",
        ),
        (
            "options",
            "o.json",
            UnknownKeyNearMiss,
            "{\"HttpTokenz\": \"required\"}".into(),
            "HttpTokenz",
        ),
        (
            "options",
            "o.json",
            WrongType,
            "{\"HttpPutResponseHopLimit\": \"two\"}".into(),
            "HttpPutResponseHopLimit",
        ),
        (
            "options",
            "o.json",
            BadValue,
            "{\"HttpTokens\": \"sometimes\"}".into(),
            "HttpTokens",
        ),
        ("scenario", "s.toml", Syntax, "[[entry]\n".into(), "(file)"),
        (
            "scenario",
            "s.toml",
            UnknownKeyNearMiss,
            "[[entry]]\naftr = \"1s\"\nuser-data = \"x\"\n".into(),
            "entry[1].aftr",
        ),
        (
            "scenario",
            "s.toml",
            WrongType,
            "[[entry]]\nafter-requests = \"3\"\nuser-data = \"x\"\n".into(),
            "entry[1].after-requests",
        ),
        (
            "scenario",
            "s.toml",
            BadValue,
            "[[entry]]\nafter = \"soon\"\nuser-data = \"x\"\n".into(),
            "entry[1].after",
        ),
        (
            "scenario",
            "s.toml",
            MissingRequiredKey,
            "[[entry]]\nuser-data = \"x\"\n".into(),
            "entry[1]",
        ),
        (
            "aemm",
            "a.json",
            Syntax,
            "{\"mock-delay-sec\": }".into(),
            "(file)",
        ),
        (
            "aemm",
            "a.json",
            UnknownKeyNearMiss,
            "{\"mock-delay-secs\": 1}".into(),
            "mock-delay-secs",
        ),
        (
            "aemm",
            "a.json",
            WrongType,
            "{\"mock-delay-sec\": [1]}".into(),
            "mock-delay-sec",
        ),
        (
            "aemm",
            "a.json",
            BadValue,
            "{\n  \"imdsv2\": \"maybe\"\n}".into(),
            "imdsv2",
        ),
        (
            "cases",
            "token.toml",
            Syntax,
            CASE.replace("level = \"must\"", "level = "),
            "(file)",
        ),
        (
            "cases",
            "token.toml",
            UnknownKeyNearMiss,
            CASE.replace("expect.status", "expect.statuz"),
            "case[1].step[1].expect.statuz",
        ),
        (
            "cases",
            "token.toml",
            WrongType,
            CASE.replace("= 200", "= \"ok\""),
            "case[1].step[1].expect.status",
        ),
        (
            "cases",
            "token.toml",
            BadValue,
            CASE.replace("\"must\"", "\"maybe\""),
            "case[1].level",
        ),
        (
            "cases",
            "token.toml",
            MissingRequiredKey,
            CASE.replace("summary = \"A token PUT works\"\n", ""),
            "case[1].summary",
        ),
        (
            "clients",
            "tokens.toml",
            Syntax,
            CLIENT.replace("level = \"must\"", "level = "),
            "(file)",
        ),
        (
            "clients",
            "tokens.toml",
            UnknownKeyNearMiss,
            CLIENT.replace("exit =", "exits ="),
            "scenario[1].expect.exits",
        ),
        (
            "clients",
            "tokens.toml",
            WrongType,
            CLIENT.replace(
                "[scenario.expect]",
                "[scenario.expect]\nrequests-max = \"few\"",
            ),
            "scenario[1].expect.requests-max",
        ),
        (
            "clients",
            "tokens.toml",
            BadValue,
            CLIENT.replace("\"must\"", "\"maybe\""),
            "scenario[1].level",
        ),
        (
            "clients",
            "tokens.toml",
            MissingRequiredKey,
            CLIENT.replace("summary = \"s\"\n", ""),
            "scenario[1].summary",
        ),
    ]
}

#[test]
fn every_loader_names_file_line_column_and_key() {
    let mut seen = std::collections::BTreeSet::new();
    for (loader, file, class, text, key) in inputs() {
        let shown = load(loader, file, &text);
        let ctx = format!("{loader} {class:?}: {shown}");
        let rest = shown
            .strip_prefix(&format!("{file}:"))
            .unwrap_or_else(|| panic!("does not start with the file: {ctx}"));
        let mut parts = rest.splitn(4, ": ");
        let position = parts.next().unwrap_or_default();
        let (line, column) = position
            .split_once(':')
            .unwrap_or_else(|| panic!("no LINE:COL: {ctx}"));
        let line: usize = line.parse().unwrap_or_else(|_| panic!("line: {ctx}"));
        let column: usize = column.parse().unwrap_or_else(|_| panic!("column: {ctx}"));
        assert!(line >= 1 && column >= 1, "{ctx}");
        assert_eq!(parts.next(), Some(key), "{ctx}");
        let message = parts.collect::<Vec<_>>().join(": ");
        assert!(!message.trim().is_empty(), "{ctx}");
        if class == Class::UnknownKeyNearMiss {
            assert!(message.contains("did you mean `"), "{ctx}");
        }
        // Syntax errors sit on a line of the text, not on line 1 by default.
        if class == Class::Syntax && text.lines().count() > 1 {
            assert!(line > 1, "{ctx}");
        }
        seen.insert((loader, format!("{class:?}")));
    }
    // Each loader met every class that applies to it (AEMM has no required keys).
    assert_eq!(seen.len(), 6 * 5 - 2, "{seen:?}");
}
