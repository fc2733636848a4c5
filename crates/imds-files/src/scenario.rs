//! Scenario files decoded into the model's [`Scenario`]: each `[[entry]]` has exactly one
//! trigger and one action (see `imds_model::scenario`). Errors name file, line, column and key,
//! and point at the later of two clashing keys.

use std::collections::BTreeMap;
use std::path::Path;

use imds_diag::{Format, LoadError, Seg, Source};
use imds_model::Timestamp;
use imds_model::instance::{valid_event_time, valid_tag_key};
use imds_model::scenario::{
    Action, Entry, EventTime, NewEvent, OptionsChange, SPOT_NOTICE, Scenario, SpotKind, Trigger,
    When, check_event_state, check_lifecycle, event_date, parse_duration,
};
use serde::Deserialize;

const TRIGGERS: [&str; 3] = ["after", "at", "after-requests"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    #[serde(default)]
    notice_clients: Option<u32>,
    #[serde(default)]
    entry: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawEntry {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    after_requests: Option<u64>,
    #[serde(default)]
    spot_interruption: Option<RawSpot>,
    #[serde(default)]
    rebalance_recommendation: Option<RawRebalance>,
    #[serde(default)]
    maintenance_event: Option<RawEvent>,
    #[serde(default)]
    maintenance_event_state: Option<RawEventState>,
    #[serde(default)]
    asg_lifecycle: Option<String>,
    #[serde(default)]
    options: Option<OptionsChange>,
    #[serde(default)]
    rotate_credentials: Option<Empty>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    user_data: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSpot {
    action: SpotKind,
    #[serde(default)]
    time: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRebalance {
    #[serde(default)]
    notice_time: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawEvent {
    code: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    id: Option<String>,
    not_before: String,
    #[serde(default)]
    not_after: Option<String>,
    #[serde(default)]
    not_before_deadline: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawEventState {
    id: String,
    state: String,
}

/// Decodes scenario text; JSON when `file` ends in `.json`, else TOML. `file` is used in
/// errors and to pick the format.
pub fn parse_file(file: &Path, text: &str) -> Result<Scenario, LoadError> {
    parse(file, text, Format::of(file))
}

/// Decodes scenario text in the given format; `file` is only used in errors.
pub fn parse(file: &Path, text: &str, format: Format) -> Result<Scenario, LoadError> {
    let src = Source { file, text, format };
    let raw: RawFile = src.parse()?;
    let entries = raw
        .entry
        .into_iter()
        .enumerate()
        .map(|(n, e)| entry(&src, n, e))
        .collect::<Result<_, _>>()?;
    Ok(Scenario {
        entries,
        notice_clients: raw.notice_clients,
    })
}

fn entry(src: &Source<'_>, n: usize, e: RawEntry) -> Result<Entry, LoadError> {
    let at = |field: &[&str], message: String| {
        let mut path = vec![Seg::key("entry"), Seg::Index(n)];
        path.extend(field.iter().map(|f| Seg::key(*f)));
        src.at_field(&path, message)
    };

    let mut triggers = Vec::new();
    if let Some(s) = &e.after {
        let d = parse_duration(s).map_err(|m| at(&["after"], m))?;
        triggers.push(("after", Trigger::After(d)));
    }
    if let Some(s) = &e.at {
        let t = Timestamp::parse_iso8601(s).ok_or_else(|| {
            at(
                &["at"],
                format!("`{s}` is not a UTC time like `2026-01-15T10:00:00Z`"),
            )
        })?;
        triggers.push(("at", Trigger::At(t)));
    }
    if let Some(n) = e.after_requests {
        if n == 0 {
            return Err(at(
                &["after-requests"],
                "must be at least 1 (the Nth request)".into(),
            ));
        }
        triggers.push(("after-requests", Trigger::AfterRequests(n)));
    }
    let trigger = match triggers.as_slice() {
        [(_, t)] => *t,
        [] => {
            return Err(at(
                &[],
                format!(
                    "no trigger: give one of {}",
                    TRIGGERS.map(|t| format!("`{t}`")).join(", ")
                ),
            ));
        }
        [(first, _), (second, _), ..] => {
            return Err(at(
                &[later(src, n, first, second)],
                format!("two triggers (`{first}` and `{second}`): an entry has exactly one"),
            ));
        }
    };

    let mut actions: Vec<(&str, Action)> = Vec::new();
    if let Some(s) = e.spot_interruption {
        let time = match &s.time {
            Some(t) => When::parse(t).map_err(|m| at(&["spot-interruption", "time"], m))?,
            None => When::Plus(SPOT_NOTICE),
        };
        actions.push((
            "spot-interruption",
            Action::SpotInterruption {
                action: s.action,
                time,
            },
        ));
    }
    if let Some(r) = e.rebalance_recommendation {
        let notice_time = r
            .notice_time
            .as_deref()
            .map(When::parse)
            .transpose()
            .map_err(|m| at(&["rebalance-recommendation", "notice-time"], m))?;
        actions.push((
            "rebalance-recommendation",
            Action::RebalanceRecommendation { notice_time },
        ));
    }
    if let Some(ev) = e.maintenance_event {
        let state = ev.state.unwrap_or_else(|| "active".into());
        check_event_state(&state).map_err(|m| at(&["maintenance-event", "state"], m))?;
        let time = |s: &str, field: &str| -> Result<EventTime, LoadError> {
            match s.strip_prefix('+') {
                Some(rel) => parse_duration(rel)
                    .map(EventTime::Plus)
                    .map_err(|m| at(&["maintenance-event", field], m)),
                None => fixed_event_time(s)
                    .map(EventTime::Fixed)
                    .map_err(|m| at(&["maintenance-event", field], m)),
            }
        };
        let not_before = time(&ev.not_before, "not-before")?;
        let not_after = ev
            .not_after
            .as_deref()
            .map(|s| time(s, "not-after"))
            .transpose()?;
        let not_before_deadline = ev
            .not_before_deadline
            .as_deref()
            .map(|s| time(s, "not-before-deadline"))
            .transpose()?;
        actions.push((
            "maintenance-event",
            Action::MaintenanceEvent(NewEvent {
                description: ev.description.unwrap_or_else(|| ev.code.clone()),
                code: ev.code,
                state,
                id: ev.id,
                not_before,
                not_after,
                not_before_deadline,
            }),
        ));
    }
    if let Some(s) = e.maintenance_event_state {
        check_event_state(&s.state).map_err(|m| at(&["maintenance-event-state", "state"], m))?;
        actions.push((
            "maintenance-event-state",
            Action::MaintenanceEventState {
                id: s.id,
                state: s.state,
            },
        ));
    }
    if let Some(s) = e.asg_lifecycle {
        check_lifecycle(&s).map_err(|m| at(&["asg-lifecycle"], m))?;
        actions.push(("asg-lifecycle", Action::AsgLifecycle(s)));
    }
    if let Some(o) = e.options {
        actions.push(("options", Action::Options(o)));
    }
    if e.rotate_credentials.is_some() {
        actions.push(("rotate-credentials", Action::RotateCredentials));
    }
    if let Some(tags) = e.tags {
        if let Some(bad) = tags.keys().find(|k| !valid_tag_key(k)) {
            return Err(at(
                &["tags", bad],
                format!("`{bad}` is not a tag key IMDS can serve (SPEC.md §3.10)"),
            ));
        }
        actions.push(("tags", Action::Tags(tags)));
    }
    if let Some(text) = e.user_data {
        actions.push(("user-data", Action::UserData(text)));
    }
    match actions.len() {
        1 => {}
        0 => {
            return Err(at(
                &[],
                "no action: give one of `spot-interruption`, `rebalance-recommendation`, \
                 `maintenance-event`, `maintenance-event-state`, `asg-lifecycle`, `options`, \
                 `rotate-credentials`, `tags`, `user-data`"
                    .into(),
            ));
        }
        _ => {
            let (first, second) = (actions[0].0, actions[1].0);
            return Err(at(
                &[later(src, n, first, second)],
                format!("two actions (`{first}` and `{second}`): an entry has exactly one"),
            ));
        }
    }
    let action = actions.pop().map(|(_, a)| a);
    match action {
        Some(action) => Ok(Entry { trigger, action }),
        None => Err(at(&[], "no action".into())),
    }
}

/// Of two keys of entry `n`, the one written later in the file (the one to point at).
fn later<'k>(src: &Source<'_>, n: usize, a: &'k str, b: &'k str) -> &'k str {
    let pos = |k: &str| src.locate(&[Seg::key("entry"), Seg::Index(n), Seg::key(k)]);
    if pos(a) > pos(b) { a } else { b }
}

/// An event time as written: EC2's form as is, or a UTC `…Z` time turned into EC2's form.
fn fixed_event_time(s: &str) -> Result<String, String> {
    if let Some(t) = Timestamp::parse_iso8601(s) {
        return Ok(event_date(t));
    }
    if valid_event_time(s) {
        return Ok(s.to_owned());
    }
    Err(format!(
        "`{s}` is not `+DURATION`, a UTC time like `2026-01-15T10:00:00Z`, or EC2's form \
         like `1 Jan 2021 02:00:00 GMT`"
    ))
}
