//! What amazon-ec2-metadata-mock v1.13.0 answers for a path, so `imdspec aemm` can give an
//! AEMM user's tests the same listings, values, JSON layout and notice timing (observed:
//! `conformance/aemm/DIFFERENCES.md`). The protocol around it (tokens, methods, headers)
//! stays the faithful server's; this only decides status, `Content-Type` and body of a read
//! the server has let through.
//!
//! AEMM's layout: every `*.paths` key that also has a `*.values` key is served at its path;
//! `/`, `/latest`, `/latest/meta-data` and `/latest/dynamic` list what is registered; any
//! other path is listed by substring match over the registered routes; one trailing slash
//! is dropped before routing; the notices of the subcommand appear at their due time.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Mutex;

use imds_model::Timestamp;
use imds_model::scenario::event_date;
use serde_json::Value;

use crate::args::Command;
use crate::config::Config;
use crate::plan::parse_rfc3339;

/// AEMM's 404 page (Go's `http.Error` adds the last newline).
pub const NOT_FOUND_PAGE: &str = "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n\
<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\
\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n \
<head>\n  <title>404 - Not Found</title>\n </head>\n <body>\n  <h1>404 - Not Found</h1>\n \
</body>\n</html>\n";

/// AEMM's 401 page (`--imdsv2` without a valid token).
pub const UNAUTHORIZED_PAGE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" \
\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n   <head>\n      \
<title>401 - Unauthorized</title>\n   </head>\n   <body>\n      <h1>401 - Unauthorized</h1>\n   \
</body>\n</html>\n";

/// The `Content-Type` of Go's `http.Error` pages.
pub const ERROR_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// Go struct field order of AEMM's JSON values (Go writes struct fields in declaration
/// order; serde_json's maps are sorted). `?` marks a pointer (`null` when unset), `[]` a list.
const JSON_FIELDS: &[(&str, &[&str])] = &[
    (
        "iam-info",
        &[
            "Code",
            "LastUpdated",
            "InstanceProfileArn",
            "InstanceProfileId",
        ],
    ),
    (
        "iam-security-credentials",
        &[
            "Code",
            "LastUpdated",
            "Type",
            "AccessKeyId",
            "SecretAccessKey",
            "Token",
            "Expiration",
        ],
    ),
    ("elastic-inference-accelerator", &["version_2018_04_12{}"]),
    (
        "version_2018_04_12",
        &[
            "elastic-inference-accelerator-id",
            "elastic-inference-accelerator-type",
        ],
    ),
    (
        "instance-identity-document",
        &[
            "accountId",
            "imageId",
            "availabilityZone",
            "ramdiskId?",
            "kernelId?",
            "devpayProductCodes?",
            "marketplaceProductCodes[]",
            "version",
            "privateIp",
            "billingProducts?",
            "instanceId",
            "pendingTime",
            "architecture",
            "instanceType",
            "region",
        ],
    ),
];

/// The one path AEMM serves as compact JSON in `text/plain` (its default elastic-inference path).
const JSON_TEXT_PATH: &str =
    "/latest/meta-data/elastic-inference/associations/eia-bfa21c7904f64a82a21b9f4540169ce1";

/// One answer: status, `Content-Type`, body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
}

impl Answer {
    fn text(body: impl Into<String>) -> Answer {
        Answer {
            status: 200,
            content_type: "text/plain",
            body: body.into(),
        }
    }

    /// AEMM's 404.
    pub fn not_found() -> Answer {
        Answer {
            status: 404,
            content_type: ERROR_CONTENT_TYPE,
            body: NOT_FOUND_PAGE.to_owned(),
        }
    }

    /// AEMM's 401.
    pub fn unauthorized() -> Answer {
        Answer {
            status: 401,
            content_type: ERROR_CONTENT_TYPE,
            body: UNAUTHORIZED_PAGE.to_owned(),
        }
    }
}

/// A registered leaf.
#[derive(Clone, Debug, PartialEq)]
enum Leaf {
    /// A `metadata.values` / `dynamic.values` entry (string or JSON).
    Value {
        key: String,
        value: Value,
    },
    /// `userdata.values.userdata`, decoded.
    UserData(String),
    SpotAction,
    SpotTerminationTime,
    Rebalance,
    Events,
    AsgState,
}

/// The three notice families, each with its own set of clients (`mock-ip-count`).
#[derive(Clone, Copy, Debug)]
enum Family {
    Spot = 0,
    Events = 1,
    Asg = 2,
}

/// When a notice is due: a trigger time, else `delay` seconds after the start.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Due(i64);

impl Due {
    fn new(cfg: &Config, delay_key: &str, trigger_key: &str, start: Timestamp) -> Due {
        let trigger = cfg.str(trigger_key);
        if !trigger.is_empty()
            && let Some(t) = parse_rfc3339(trigger)
        {
            return Due(secs(t));
        }
        Due(secs(start).saturating_add(cfg.int(delay_key)))
    }

    fn reached(self, now: Timestamp) -> bool {
        secs(now) >= self.0
    }
}

fn secs(t: Timestamp) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

/// AEMM's answers for one effective configuration and subcommand.
#[derive(Debug)]
pub struct View {
    leaves: BTreeMap<String, Leaf>,
    /// Registered routes below `/latest/meta-data/`, `/latest/dynamic/`, `/latest/user-data/`
    /// (prefix removed), sorted, as AEMM's listings search them.
    meta: Vec<String>,
    dynamic: Vec<String>,
    userdata: Vec<String>,
    spot_action: String,
    spot_time: String,
    rebalance_time: String,
    events: [String; 3],
    event_id: String,
    event_times: [String; 3],
    notice: Due,
    rebalance: Due,
    asg: Due,
    ip_count: i64,
    clients: Mutex<[BTreeSet<IpAddr>; 3]>,
}

impl View {
    /// AEMM's tree for `cfg` run as `command`, started at `start`.
    pub fn new(cfg: &Config, command: Command, start: Timestamp) -> View {
        let mut leaves = BTreeMap::new();
        for (section, prefix) in [("metadata", "metadata"), ("dynamic", "dynamic")] {
            let paths = format!("{prefix}.paths.");
            for key in cfg.keys().filter_map(|k| k.strip_prefix(&paths)) {
                let path = cfg.str(&format!("{paths}{key}"));
                let value_key = format!("{section}.values.{key}");
                if path.is_empty() || !cfg.keys().any(|k| k == value_key) {
                    continue;
                }
                leaves.insert(
                    path.to_owned(),
                    Leaf::Value {
                        key: key.to_owned(),
                        value: cfg.get(&value_key).clone(),
                    },
                );
            }
        }
        let ud_path = cfg.str("userdata.paths.userdata");
        if !ud_path.is_empty() {
            use base64::Engine as _;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(cfg.str("userdata.values.userdata"))
                .unwrap_or_default();
            leaves.insert(
                ud_path.to_owned(),
                Leaf::UserData(String::from_utf8_lossy(&raw).into_owned()),
            );
        }
        let path = |k: &str| cfg.str(&format!("metadata.paths.{k}")).to_owned();
        if command.spot() {
            leaves.insert(path("spot"), Leaf::SpotAction);
            leaves.insert(path("spot-termination-time"), Leaf::SpotTerminationTime);
            leaves.insert(path("rebalance-rec-time"), Leaf::Rebalance);
        }
        if command.events() {
            leaves.insert(path("events"), Leaf::Events);
        }
        if command.asg() {
            leaves.insert(path("target-lifecycle-state"), Leaf::AsgState);
        }
        leaves.remove("");
        let trimmed = |prefix: &str| -> Vec<String> {
            let mut v: Vec<String> = leaves
                .keys()
                .filter(|p| p.starts_with(prefix))
                .filter_map(|p| {
                    let rest = &p[prefix.len()..];
                    (rest.len() >= 4).then(|| rest.trim_start_matches('/').to_owned())
                })
                .collect();
            v.sort();
            v
        };
        // AEMM sorts the routes of /latest/dynamic first, then user-data, then meta-data.
        let dynamic = trimmed("/latest/dynamic");
        let userdata: Vec<String> = trimmed("/latest/user-data");
        let meta: Vec<String> = leaves
            .keys()
            .filter(|p| !p.starts_with("/latest/dynamic") && !p.starts_with("/latest/user-data"))
            .filter_map(|p| p.strip_prefix("/latest/meta-data"))
            .filter(|rest| rest.len() >= 4)
            .map(|rest| rest.trim_start_matches('/').to_owned())
            .collect();
        let mut meta = meta;
        meta.sort();
        let t = |k: &str| {
            parse_rfc3339(cfg.str(k))
                .map(event_date)
                .unwrap_or_else(|| "1 Jan 0001 00:00:00 GMT".to_owned())
        };
        View {
            leaves,
            meta,
            dynamic,
            userdata,
            spot_action: cfg.str("spot.action").to_owned(),
            spot_time: cfg.str("spot.time").to_owned(),
            rebalance_time: cfg.str("spot.rebalance-rec-time").to_owned(),
            events: [
                cfg.str("events.code").to_owned(),
                format!("The instance is scheduled for {}", cfg.str("events.code")),
                cfg.str("events.state").to_owned(),
            ],
            event_id: cfg.str("metadata.values.event-id").to_owned(),
            event_times: [
                t("events.not-before"),
                t("events.not-after"),
                t("events.not-before-deadline"),
            ],
            notice: Due::new(cfg, "mock-delay-sec", "mock-trigger-time", start),
            rebalance: Due::new(cfg, "rebalance-delay-sec", "rebalance-trigger-time", start),
            asg: Due::new(
                cfg,
                "asg-termination-delay-sec",
                "asg-termination-trigger-time",
                start,
            ),
            ip_count: cfg.int("mock-ip-count"),
            clients: Mutex::new(Default::default()),
        }
    }

    /// Whether AEMM answers `path` without checking the token under `--imdsv2`: its
    /// catch-all (the listings below the top ones, unknown paths) is not wrapped by the check.
    pub fn unchecked(&self, path: &str) -> bool {
        let path = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p,
            _ => path,
        };
        let checked = [
            "/",
            "/latest",
            "/latest/meta-data",
            "/latest/dynamic",
            "/latest/api/token",
        ];
        !checked.contains(&path) && !self.leaves.contains_key(path)
    }

    /// AEMM's answer to a read of `path` by `client` at `now` (the token already checked).
    pub fn answer(&self, path: &str, client: IpAddr, now: Timestamp) -> Answer {
        let path = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p,
            _ => path,
        };
        match path {
            "/" => return Answer::text("latest\n"),
            "/latest" => return Answer::text("dynamic\nmeta-data\nuser-data\n"),
            "/latest/meta-data" => return Answer::text(top_listing(&self.meta)),
            "/latest/dynamic" => return Answer::text(top_listing(&self.dynamic)),
            _ => {}
        }
        match self.leaves.get(path) {
            Some(leaf) => self.leaf(path, leaf, client, now),
            None => self.listing(path),
        }
    }

    fn leaf(&self, path: &str, leaf: &Leaf, client: IpAddr, now: Timestamp) -> Answer {
        let family = match leaf {
            Leaf::SpotAction | Leaf::SpotTerminationTime | Leaf::Rebalance => Some(Family::Spot),
            Leaf::Events => Some(Family::Events),
            Leaf::AsgState => Some(Family::Asg),
            _ => None,
        };
        if let Some(f) = family
            && !self.eligible(f, client)
        {
            return Answer::not_found();
        }
        match leaf {
            Leaf::Value { key, value } => match value {
                Value::String(s) => Answer::text(s.clone()),
                Value::Null => Answer::text(""),
                Value::Bool(_) | Value::Number(_) => Answer::text(value.to_string()),
                _ if path == JSON_TEXT_PATH => Answer::text(go_compact(&ordered(key, value))),
                _ => json_answer(&go_indent(&ordered(key, value))),
            },
            Leaf::UserData(s) => Answer {
                status: 200,
                content_type: "application/octet-stream",
                body: s.clone(),
            },
            Leaf::SpotAction | Leaf::SpotTerminationTime => {
                if !self.notice.reached(now) {
                    return Answer::not_found();
                }
                let time = if self.spot_time.is_empty() {
                    Timestamp::from_secs(now.as_secs().saturating_add(120)).to_iso8601()
                } else {
                    self.spot_time.clone()
                };
                if matches!(leaf, Leaf::SpotTerminationTime) {
                    return Answer::text(time);
                }
                json_answer(&go_indent(&Ordered::Object(vec![
                    ("action".into(), Ordered::Str(self.spot_action.clone())),
                    ("time".into(), Ordered::Str(time)),
                ])))
            }
            Leaf::Rebalance => {
                if !self.rebalance.reached(now) {
                    return Answer::not_found();
                }
                let time = if self.rebalance_time.is_empty() {
                    now.to_iso8601()
                } else {
                    self.rebalance_time.clone()
                };
                json_answer(&go_indent(&Ordered::Object(vec![(
                    "noticeTime".into(),
                    Ordered::Str(time),
                )])))
            }
            Leaf::Events => {
                if !self.notice.reached(now) {
                    return Answer::not_found();
                }
                let [code, description, state] = &self.events;
                let [nb, na, nbd] = &self.event_times;
                let event = Ordered::Object(
                    [
                        ("Code", code),
                        ("Description", description),
                        ("State", state),
                        ("EventId", &self.event_id),
                        ("NotBefore", nb),
                        ("NotAfter", na),
                        ("NotBeforeDeadline", nbd),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), Ordered::Str(v.clone())))
                    .collect(),
                );
                json_answer(&go_indent(&Ordered::List(vec![event])))
            }
            Leaf::AsgState => Answer::text(if self.asg.reached(now) {
                "Terminated"
            } else {
                "InService"
            }),
        }
    }

    /// `mock-ip-count`: the first N distinct clients of a family get its notices.
    fn eligible(&self, family: Family, client: IpAddr) -> bool {
        if self.ip_count < 0 {
            return true;
        }
        let Ok(mut sets) = self.clients.lock() else {
            return true;
        };
        let set = &mut sets[family as usize];
        if set.contains(&client) {
            return true;
        }
        if i64::try_from(set.len()).unwrap_or(i64::MAX) < self.ip_count {
            set.insert(client);
            return true;
        }
        false
    }

    /// AEMM's catch-all: every registered route containing the request (prefix removed),
    /// cut after its next segment.
    fn listing(&self, path: &str) -> Answer {
        let (routes, trimmed) = if path.starts_with("/latest/meta-data") {
            (&self.meta, strip(path, "/latest/meta-data/"))
        } else if path.starts_with("/latest/dynamic") {
            (&self.dynamic, strip(path, "/latest/dynamic/"))
        } else if path.starts_with("/latest/user-data") {
            (&self.userdata, strip(path, "/latest/user-data/"))
        } else {
            return Answer::not_found();
        };
        let prefix = format!("{trimmed}/");
        let found: BTreeSet<String> = routes
            .iter()
            .filter(|r| r.contains(trimmed))
            .map(|r| cut(r.strip_prefix(&prefix).unwrap_or(r)))
            .collect();
        if found.is_empty() {
            return Answer::not_found();
        }
        Answer::text(found.into_iter().collect::<Vec<_>>().join("\n"))
    }
}

fn strip<'a>(path: &'a str, prefix: &str) -> &'a str {
    path.strip_prefix(prefix).unwrap_or(path)
}

/// A route cut after its first segment: `a/b/c` → `a/`, `a` → `a`.
fn cut(route: &str) -> String {
    match route.split_once('/') {
        Some((first, _)) => format!("{first}/"),
        None => route.to_owned(),
    }
}

/// `/latest/meta-data` and `/latest/dynamic`: the first segments, sorted, newline-ended.
fn top_listing(routes: &[String]) -> String {
    let set: BTreeSet<String> = routes.iter().map(|r| cut(r)).collect();
    let mut s = set.into_iter().collect::<Vec<_>>().join("\n");
    s.push('\n');
    s
}

fn json_answer(body: &str) -> Answer {
    Answer {
        status: 200,
        content_type: "application/json",
        body: remove_indent_from_lists(body),
    }
}

/// A JSON value with Go's field order.
#[derive(Clone, Debug, PartialEq)]
enum Ordered {
    Null,
    Str(String),
    Raw(String),
    List(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

/// `value` decoded as AEMM's Go type for `key` (declared field order, missing fields empty).
fn ordered(key: &str, value: &Value) -> Ordered {
    let Some((_, fields)) = JSON_FIELDS.iter().find(|(k, _)| *k == key) else {
        return generic(value);
    };
    let fields = fields
        .iter()
        .map(|f| {
            if let Some(name) = f.strip_suffix("{}") {
                (name.to_owned(), ordered(name, &value[name]))
            } else if let Some(name) = f.strip_suffix('?') {
                let v = match &value[name] {
                    Value::Null => Ordered::Null,
                    v => scalar(v),
                };
                (name.to_owned(), v)
            } else if let Some(name) = f.strip_suffix("[]") {
                let v = match &value[name] {
                    Value::Array(a) => Ordered::List(a.iter().map(scalar).collect()),
                    _ => Ordered::Null,
                };
                (name.to_owned(), v)
            } else {
                (f.to_string(), scalar(&value[*f]))
            }
        })
        .collect();
    Ordered::Object(fields)
}

fn scalar(v: &Value) -> Ordered {
    match v {
        Value::String(s) => Ordered::Str(s.clone()),
        Value::Null => Ordered::Str(String::new()),
        v => Ordered::Str(v.to_string()),
    }
}

/// A value of no known Go type: maps are written with sorted keys, as Go writes maps.
fn generic(v: &Value) -> Ordered {
    match v {
        Value::Null => Ordered::Null,
        Value::String(s) => Ordered::Str(s.clone()),
        Value::Array(a) => Ordered::List(a.iter().map(generic).collect()),
        Value::Object(m) => {
            Ordered::Object(m.iter().map(|(k, v)| (k.clone(), generic(v))).collect())
        }
        v => Ordered::Raw(v.to_string()),
    }
}

/// A JSON string as Go's encoder writes it (`<`, `>`, `&`, U+2028 and U+2029 escaped).
fn go_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `json.Marshal`.
fn go_compact(v: &Ordered) -> String {
    match v {
        Ordered::Null => "null".into(),
        Ordered::Str(s) => go_string(s),
        Ordered::Raw(s) => s.clone(),
        Ordered::List(items) => format!(
            "[{}]",
            items.iter().map(go_compact).collect::<Vec<_>>().join(",")
        ),
        Ordered::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{}:{}", go_string(k), go_compact(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// `json.MarshalIndent(v, "", "\t")`.
fn go_indent(v: &Ordered) -> String {
    fn write(v: &Ordered, depth: usize, out: &mut String) {
        let pad = |n: usize| "\t".repeat(n);
        match v {
            Ordered::List(items) if !items.is_empty() => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&pad(depth + 1));
                    write(item, depth + 1, out);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(depth));
                out.push(']');
            }
            Ordered::Object(fields) if !fields.is_empty() => {
                out.push_str("{\n");
                for (i, (k, item)) in fields.iter().enumerate() {
                    out.push_str(&pad(depth + 1));
                    out.push_str(&go_string(k));
                    out.push_str(": ");
                    write(item, depth + 1, out);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(depth));
                out.push('}');
            }
            v => out.push_str(&go_compact(v)),
        }
    }
    let mut out = String::new();
    write(v, 0, &mut out);
    out
}

/// AEMM's `removeIndentFromLists`, as it behaves: lists inside an object are written on one
/// line (the character after each list becomes `,`); a top-level list is left alone.
fn remove_indent_from_lists(s: &str) -> String {
    let mut s = s.to_owned();
    let (mut i, mut j) = (s.find('['), s.find(']'));
    if i == Some(0) {
        return s;
    }
    while let (Some(a), Some(b)) = (i, j) {
        if b < a || b + 1 > s.len() {
            break;
        }
        let list = s[a..=b].to_owned();
        let flat = list.replace(['\t', '\n'], "");
        s = s.replacen(&list, "", 1);
        if a + 1 > s.len() {
            break;
        }
        s = format!("{}{flat},{}", &s[..a], &s[a + 1..]);
        let Some(at) = s.find(&flat) else { break };
        let rest_from = at + flat.len() + 1;
        if rest_from > s.len() {
            break;
        }
        // AEMM looks for the next list in the rest but uses the offsets on the whole text.
        let rest = &s[rest_from..];
        (i, j) = (rest.find('['), rest.find(']'));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_indent_writes_tabs_and_struct_order() {
        let v = serde_json::json!({"Code": "Success", "LastUpdated": "t",
            "InstanceProfileArn": "a", "InstanceProfileId": "i"});
        assert_eq!(
            go_indent(&ordered("iam-info", &v)),
            "{\n\t\"Code\": \"Success\",\n\t\"LastUpdated\": \"t\",\n\t\
             \"InstanceProfileArn\": \"a\",\n\t\"InstanceProfileId\": \"i\"\n}"
        );
    }

    #[test]
    fn lists_inside_objects_go_on_one_line_as_aemm_writes_them() {
        let v = Ordered::Object(vec![
            ("a".into(), Ordered::List(vec![Ordered::Str("x".into())])),
            ("b".into(), Ordered::Str("y".into())),
        ]);
        assert_eq!(
            remove_indent_from_lists(&go_indent(&v)),
            "{\n\t\"a\": [\"x\"],\n\t\"b\": \"y\"\n}"
        );
    }

    #[test]
    fn catch_all_listings_match_by_substring() {
        assert_eq!(
            cut("security-credentials/baskinc-role"),
            "security-credentials/"
        );
        assert_eq!(top_listing(&["a/b".into(), "c".into()]), "a/\nc\n");
    }
}
