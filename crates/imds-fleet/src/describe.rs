//! `aws ec2 describe-instances` output, streamed: the document is never held whole (a large
//! fleet's output is hundreds of MB); each instance's id, `State.Name` and declared
//! `MetadataOptions` are handed over as they are read, and everything else is skipped.
//!
//! Every shape the CLI prints is taken: the whole output (`Reservations`), a reservation, an
//! instance, arrays of these (nested as `--query` leaves them), `{InstanceId,
//! MetadataOptions}` queries and bare options objects. A bad value is reported as
//! `FILE:LINE:COL: FIELD: instance ID: MESSAGE`.

use std::fmt;
use std::path::Path;

use imds_diag::{Seg, render_path};
use imds_model::{HopLimit, HttpTokens, LoadError, OptionsState, PartialOptions, Toggle};
use serde::de::{self, DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One instance as describe-instances output declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribedInstance {
    /// `InstanceId`, when given.
    pub instance_id: Option<String>,
    /// The instance's `State.Name` (`running`, `stopped`, …), when given.
    pub instance_state: Option<String>,
    /// The options the file declares (only the fields present).
    pub options: PartialOptions,
    /// `MetadataOptions.State` (`pending`/`applied`), when given.
    pub state: Option<OptionsState>,
}

/// Separates the parts of an error message while it travels up through serde.
const MARK: char = '\u{1}';

/// Reads describe-instances output from `reader`, calling `each` for every instance in file
/// order. `file` names the input in errors.
pub fn each_instance<R: std::io::Read>(
    file: &Path,
    reader: R,
    each: &mut dyn FnMut(DescribedInstance),
) -> Result<(), LoadError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut state = State {
        path: Vec::new(),
        each,
    };
    let result = Node { st: &mut state }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    result.map_err(|e| error(file, &e))
}

/// The [`LoadError`] for a serde_json error, with the field and instance a value error
/// carries (see [`MARK`]).
fn error(file: &Path, e: &serde_json::Error) -> LoadError {
    let text = e.to_string();
    let (mut line, mut column) = (e.line().max(1), e.column().max(1));
    let Some(rest) = text.strip_prefix(MARK) else {
        let message = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(m, _)| m);
        let message = if e.is_eof() {
            format!("truncated: {message}")
        } else {
            message.to_owned()
        };
        return LoadError {
            file: file.to_owned(),
            line,
            column,
            field: render_path(&[]),
            message,
        };
    };
    let mut parts = rest.splitn(3, MARK);
    let field = parts.next().unwrap_or_default().to_owned();
    let id = parts.next().unwrap_or_default();
    let inner = parts.next().unwrap_or_default();
    // The inner error's own position is the value's; the outer one is where it surfaced.
    let inner = match inner.rsplit_once(" at line ") {
        Some((m, at)) => {
            if let Some((l, c)) = at.split_once(" column ")
                && let (Ok(l), Ok(c)) = (l.trim().parse(), c.trim().parse::<usize>())
            {
                (line, column) = (l, c.max(1));
            }
            m
        }
        None => inner,
    };
    let inner = inner.split(MARK).next_back().unwrap_or(inner);
    let message = if id.is_empty() {
        inner.to_owned()
    } else {
        format!("instance {id}: {inner}")
    };
    LoadError {
        file: file.to_owned(),
        line,
        column,
        field,
        message,
    }
}

struct State<'a> {
    path: Vec<Seg>,
    each: &'a mut dyn FnMut(DescribedInstance),
}

/// Any value: arrays and containers are walked, instances handed over, the rest skipped.
struct Node<'s, 'a> {
    st: &'s mut State<'a>,
}

/// The keys that matter; every other key is skipped without being kept.
enum Key {
    Reservations,
    Instances,
    InstanceId,
    State,
    MetadataOptions,
    Option(&'static str),
    Other,
}

const OPTION_KEYS: [&str; 5] = PartialOptions::FIELDS;

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "Reservations" => Key::Reservations,
                    "Instances" => Key::Instances,
                    "InstanceId" => Key::InstanceId,
                    "State" => Key::State,
                    "MetadataOptions" => Key::MetadataOptions,
                    _ => match OPTION_KEYS.iter().find(|k| **k == s) {
                        Some(k) => Key::Option(k),
                        None => Key::Other,
                    },
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// `State` is the instance's `{Code, Name}` or, in a bare options object, a string.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StateValue {
    Instance {
        #[serde(rename = "Name", default)]
        name: Option<String>,
    },
    Options(String),
    Other(IgnoredAny),
}

/// Wraps a value error with the field's path, for [`error`].
fn at<E: de::Error>(path: &[Seg], id: Option<&str>, e: impl fmt::Display) -> E {
    E::custom(format!(
        "{MARK}{}{MARK}{}{MARK}{e}",
        render_path(path),
        id.unwrap_or("")
    ))
}

/// Declared options being read, field by field.
#[derive(Default)]
struct Options {
    options: PartialOptions,
    state: Option<OptionsState>,
    any: bool,
}

impl Options {
    /// Reads one option's value; `key` is one of [`OPTION_KEYS`] or `State`.
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let o = &mut self.options;
        match key {
            "HttpTokens" => o.http_tokens = Some(map.next_value::<HttpTokens>()?),
            "HttpEndpoint" => o.http_endpoint = Some(map.next_value::<Toggle>()?),
            "InstanceMetadataTags" => o.instance_metadata_tags = Some(map.next_value::<Toggle>()?),
            "HttpProtocolIpv6" => o.http_protocol_ipv6 = Some(map.next_value::<Toggle>()?),
            "HttpPutResponseHopLimit" => {
                o.http_put_response_hop_limit = Some(map.next_value::<HopLimit>()?)
            }
            "State" => self.state = Some(map.next_value::<OptionsState>()?),
            _ => {
                map.next_value::<IgnoredAny>()?;
                return Ok(());
            }
        }
        self.any = true;
        Ok(())
    }
}

/// A `MetadataOptions` object.
struct OptionsSeed;

impl<'de> DeserializeSeed<'de> for OptionsSeed {
    type Value = Options;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Options, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for OptionsSeed {
    type Value = Options;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a MetadataOptions object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Options, A::Error> {
        let mut out = Options::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            // The failing key travels with the error, ahead of serde's own message.
            out.read(&key, &mut map)
                .map_err(|e| A::Error::custom(format!("{key}{MARK}{e}")))?;
        }
        Ok(out)
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("describe-instances output")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            self.st.path.push(Seg::Index(i));
            let more = seq.next_element_seed(Node { st: &mut *self.st })?;
            self.st.path.pop();
            if more.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut id: Option<String> = None;
        let mut instance_state: Option<String> = None;
        let mut declared: Option<Options> = None;
        let mut bare = Options::default();
        let mut container = false;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Reservations | Key::Instances => {
                    let name = if matches!(key, Key::Reservations) {
                        "Reservations"
                    } else {
                        "Instances"
                    };
                    container = true;
                    self.st.path.push(Seg::key(name));
                    map.next_value_seed(Node { st: &mut *self.st })?;
                    self.st.path.pop();
                }
                Key::InstanceId => {
                    id = match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::String(s) => Some(s),
                        _ => None,
                    }
                }
                Key::State => match map.next_value::<StateValue>()? {
                    StateValue::Instance { name } => instance_state = name,
                    StateValue::Options(s) => {
                        let state =
                            serde_json::from_value::<OptionsState>(s.into()).map_err(|e| {
                                let mut path = self.st.path.clone();
                                path.push(Seg::key("State"));
                                at::<A::Error>(&path, None, e)
                            })?;
                        bare.state = Some(state);
                        bare.any = true;
                    }
                    StateValue::Other(_) => {}
                },
                Key::MetadataOptions => {
                    declared = Some(map.next_value_seed(OptionsSeed).map_err(|e| {
                        let text = e.to_string();
                        let (key, inner) = text.split_once(MARK).unwrap_or(("", &text));
                        let mut path = self.st.path.clone();
                        path.push(Seg::key("MetadataOptions"));
                        if !key.is_empty() {
                            path.push(Seg::key(key));
                        }
                        at::<A::Error>(&path, id.as_deref(), inner)
                    })?);
                }
                Key::Option(name) => bare.read(name, &mut map).map_err(|e| {
                    let mut path = self.st.path.clone();
                    path.push(Seg::key(name));
                    at::<A::Error>(&path, None, e)
                })?,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if container {
            return Ok(());
        }
        let found = match declared {
            Some(o) => Some((id, instance_state, o)),
            None if bare.any => Some((None, None, bare)),
            None => None,
        };
        if let Some((instance_id, instance_state, o)) = found {
            (self.st.each)(DescribedInstance {
                instance_id,
                instance_state,
                options: o.options,
                state: o.state,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Result<Vec<DescribedInstance>, LoadError> {
        let mut out = Vec::new();
        each_instance(Path::new("d.json"), text.as_bytes(), &mut |i| out.push(i))?;
        Ok(out)
    }

    #[test]
    fn every_instance_of_a_fleet_is_read_with_its_state() {
        let full = r#"{"Reservations": [
            {"Instances": [{"InstanceId": "i-0aaa", "MetadataOptions":
                {"State": "applied", "HttpTokens": "required", "HttpPutResponseHopLimit": 2}}]},
            {"Instances": [{"InstanceId": "i-0bbb", "MetadataOptions":
                {"HttpEndpoint": "enabled"}}]}]}"#;
        let got = all(full).unwrap();
        let ids: Vec<_> = got.iter().map(|d| d.instance_id.as_deref()).collect();
        assert_eq!(ids, [Some("i-0aaa"), Some("i-0bbb")]);
        assert_eq!(got[0].options.http_tokens, Some(HttpTokens::Required));
        assert_eq!(
            got[0]
                .options
                .http_put_response_hop_limit
                .map(HopLimit::get),
            Some(2)
        );
        assert_eq!(got[0].state, Some(OptionsState::Applied));
        assert_eq!(got[1].options.http_endpoint, Some(Toggle::Enabled));
        let fleet = r#"{"Reservations": [{"Instances": [
            {"InstanceId": "i-1", "State": {"Code": 80, "Name": "stopped"},
             "MetadataOptions": {"State": "pending", "HttpTokens": "optional"}},
            {"InstanceId": "i-2", "MetadataOptions": {"HttpTokens": "sometimes"}}]}]}"#;
        let e = all(fleet).unwrap_err();
        assert_eq!(
            (e.line, e.column, e.field.as_str()),
            (
                4,
                79,
                "Reservations[1].Instances[2].MetadataOptions.HttpTokens"
            ),
            "{e}"
        );
        assert!(e.message.starts_with("instance i-2: "), "{e}");
        assert!(
            e.to_string().starts_with("d.json:4:79: Reservations[1]"),
            "{e}"
        );
        let ok = fleet.replace("sometimes", "required");
        let got = all(&ok).unwrap();
        assert_eq!(got[0].instance_state.as_deref(), Some("stopped"));
        assert_eq!(got[0].state, Some(OptionsState::Pending));
        assert_eq!(got[1].instance_state, None);
        assert_eq!(got[1].options.http_tokens, Some(HttpTokens::Required));
    }

    #[test]
    fn every_shape_the_cli_prints_is_read() {
        let query =
            r#"[[{"InstanceId": "i-0aaa", "MetadataOptions": {"HttpTokens": "optional"}}]]"#;
        assert_eq!(
            all(query).unwrap()[0].instance_id.as_deref(),
            Some("i-0aaa")
        );
        let bare = r#"[{"HttpTokens": "required", "State": "pending"}]"#;
        let got = all(bare).unwrap();
        assert_eq!(got[0].instance_id, None);
        assert_eq!(got[0].state, Some(OptionsState::Pending));
        let e = all(r#"{"Reservations": ["#).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (1, "(file)"), "{e}");
        assert!(e.message.starts_with("truncated: "), "{e}");
        let e = all(r#"{"Reservations": [] } x"#).unwrap_err();
        assert_eq!((e.line, e.column), (1, 23), "{e}");
    }
}
