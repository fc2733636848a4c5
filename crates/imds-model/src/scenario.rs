//! Scenarios: changes to an instance and its options over time (a spot notice after 10 s,
//! `HttpTokens=required` after the 5th request, …), applied by a pure engine.
//!
//! A scenario file (TOML or JSON, same keys; `imds_files::scenario` decodes it) holds a list
//! of `entry` tables. Each has exactly one
//! trigger — `after = "1h30m"` (since the start), `at = "2026-01-15T10:00:00Z"` or
//! `after-requests = N` (once N requests were seen) — and exactly one action:
//!
//! ```toml
//! [[entry]]
//! after = "10s"
//! spot-interruption = { action = "terminate", time = "+120s" }
//!
//! [[entry]]
//! after-requests = 5
//! options = { HttpTokens = "required" }
//! ```
//!
//! The engine never reads a clock: [`ScenarioState::apply_due`] is given the time and the
//! request count, and applies every entry that is due and has not fired yet, in file order.
//! Times inside actions written `+DURATION` count from the moment the entry fires.
//!
//! A top-level `notice-clients = N` shows notices to the first N client addresses only (as
//! AEMM's `--mock-ip-count` does for DaemonSet tests); see [`Scenario::notice_clients`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::instance::{Credentials, Instance, MaintenanceEvent, SpotAction};
use crate::options::{HopLimit, HttpTokens, MetadataOptions, Toggle};

/// A parsed scenario: its entries in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scenario {
    /// The entries, in file order (the order they are applied in when due together).
    pub entries: Vec<Entry>,
    /// `notice-clients = N`: only the first N distinct client addresses that ask for a
    /// notice path (`spot/`, `events/`, `autoscaling/`) see notices; the others get 404 there
    /// and no such lines in the `meta-data/` listing. `None`: every client (SPEC.md §8).
    pub notice_clients: Option<u32>,
}

/// One scheduled change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// When it fires.
    pub trigger: Trigger,
    /// What it does.
    pub action: Action,
}

/// When an entry fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// This long after the scenario starts.
    After(Duration),
    /// At this instant.
    At(Timestamp),
    /// Once this many requests were seen (the Nth request).
    AfterRequests(u64),
}

/// A time inside an action: fixed, or relative to the moment the entry fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// A fixed instant (`2026-01-15T10:00:00Z`).
    At(Timestamp),
    /// This long after the entry fires (`+120s`).
    Plus(Duration),
}

impl When {
    /// `+DURATION` (`+10s`, `+2m`) or a UTC time (`2026-01-15T10:00:00Z`): the one spelling
    /// of a time in scenario files and on the command line.
    pub fn parse(s: &str) -> Result<When, String> {
        match s.strip_prefix('+') {
            Some(rel) => parse_duration(rel).map(When::Plus),
            None => Timestamp::parse_iso8601(s).map(When::At).ok_or_else(|| {
                format!("`{s}` is neither `+DURATION` (`+10s`) nor a UTC time like `2026-01-15T10:00:00Z`")
            }),
        }
    }

    fn resolve(self, fired: Timestamp) -> Timestamp {
        match self {
            When::At(t) => t,
            When::Plus(d) => fired.plus(d),
        }
    }
}

/// The kind of a spot interruption (SPEC.md §3.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpotKind {
    /// The instance will be terminated (also sets `spot/termination-time`).
    Terminate,
    /// The instance will be stopped.
    Stop,
    /// The instance will be hibernated.
    Hibernate,
}

impl SpotKind {
    fn as_str(self) -> &'static str {
        match self {
            SpotKind::Terminate => "terminate",
            SpotKind::Stop => "stop",
            SpotKind::Hibernate => "hibernate",
        }
    }
}

/// Option changes, in describe-instances' field names (SPEC.md §1.2); `None` leaves a field
/// as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OptionsChange {
    /// `HttpTokens`.
    #[serde(default)]
    pub http_tokens: Option<HttpTokens>,
    /// `HttpPutResponseHopLimit`.
    #[serde(default)]
    pub http_put_response_hop_limit: Option<HopLimit>,
    /// `HttpEndpoint`.
    #[serde(default)]
    pub http_endpoint: Option<Toggle>,
    /// `HttpProtocolIpv6`.
    #[serde(default, rename = "HttpProtocolIpv6")]
    pub http_protocol_ipv6: Option<Toggle>,
    /// `InstanceMetadataTags`.
    #[serde(default)]
    pub instance_metadata_tags: Option<Toggle>,
}

impl OptionsChange {
    /// Sets in `o` the fields this change gives; the others stay.
    pub fn apply(&self, o: &mut MetadataOptions) {
        if let Some(v) = self.http_tokens {
            o.http_tokens = v;
        }
        if let Some(v) = self.http_put_response_hop_limit {
            o.http_put_response_hop_limit = v;
        }
        if let Some(v) = self.http_endpoint {
            o.http_endpoint = v;
        }
        if let Some(v) = self.http_protocol_ipv6 {
            o.http_protocol_ipv6 = v;
        }
        if let Some(v) = self.instance_metadata_tags {
            o.instance_metadata_tags = v;
        }
    }
}

/// A new scheduled maintenance event (SPEC.md §3.11). Times are fixed (EC2's `21 Jan 2026
/// 09:00:43 GMT` form, or a UTC `…Z` time converted to it) or `+DURATION` from the moment the
/// entry fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// `Code`, e.g. `system-reboot`.
    pub code: String,
    /// `State` (normally `active`).
    pub state: String,
    /// `Description`.
    pub description: String,
    /// `EventId`; derived from the entry's position when not given.
    pub id: Option<String>,
    /// `NotBefore`.
    pub not_before: EventTime,
    /// `NotAfter`, if any.
    pub not_after: Option<EventTime>,
    /// `NotBeforeDeadline`, if any.
    pub not_before_deadline: Option<EventTime>,
}

/// A maintenance event time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventTime {
    /// A fixed time, already in EC2's form.
    Fixed(String),
    /// This long after the entry fires.
    Plus(Duration),
}

impl EventTime {
    fn resolve(&self, fired: Timestamp) -> String {
        match self {
            EventTime::Fixed(s) => s.clone(),
            EventTime::Plus(d) => event_date(fired.plus(*d)),
        }
    }
}

/// What an entry does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Sets `spot/instance-action` (and `spot/termination-time` for terminate).
    SpotInterruption {
        /// What will happen.
        action: SpotKind,
        /// When it will happen.
        time: When,
    },
    /// Sets `events/recommendations/rebalance`.
    RebalanceRecommendation {
        /// `noticeTime`; the firing moment when absent.
        notice_time: Option<When>,
    },
    /// Adds a scheduled maintenance event.
    MaintenanceEvent(NewEvent),
    /// Changes an event's state; `completed` or `canceled` moves it to the history.
    MaintenanceEventState {
        /// `EventId` of the event.
        id: String,
        /// The new `State`.
        state: String,
    },
    /// Sets `autoscaling/target-lifecycle-state`.
    AsgLifecycle(String),
    /// Changes metadata options.
    Options(OptionsChange),
    /// Issues new IAM role credentials (new keys, `LastUpdated` now, expiry six hours on).
    /// Those times are then fixed: they no longer follow the clock's hourly rotation, so a
    /// run longer than six hours after the rotation serves expired credentials.
    RotateCredentials,
    /// Replaces the instance's tags.
    Tags(BTreeMap<String, String>),
    /// Replaces the user data (as text).
    UserData(String),
}

impl Trigger {
    /// Parses a command-line WHEN: `+DURATION` after the start (`+10s`) or a UTC time
    /// (`2026-01-15T10:00:00Z`).
    pub fn parse_when(s: &str) -> Result<Trigger, String> {
        When::parse(s).map(|w| match w {
            When::Plus(d) => Trigger::After(d),
            When::At(t) => Trigger::At(t),
        })
    }
}

impl std::str::FromStr for SpotKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "terminate" => Ok(SpotKind::Terminate),
            "stop" => Ok(SpotKind::Stop),
            "hibernate" => Ok(SpotKind::Hibernate),
            _ => Err(format!(
                "`{s}` is not a spot action: use terminate, stop or hibernate"
            )),
        }
    }
}

/// Scheduled maintenance event codes EC2 uses (SPEC.md §3.11; the list is in
/// <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instances-status-check_sched.html>).
pub const EVENT_CODES: [&str; 5] = [
    "instance-reboot",
    "system-reboot",
    "system-maintenance",
    "instance-retirement",
    "instance-stop",
];

/// How far ahead a maintenance event built by [`Entry::maintenance_event`] is scheduled.
pub const EVENT_NOTICE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Entries built in code, for command-line shortcuts; the same as the file's entries.
impl Entry {
    /// A spot interruption notice of `kind`, for two minutes after it fires.
    pub fn spot_interruption(trigger: Trigger, kind: SpotKind) -> Entry {
        Entry {
            trigger,
            action: Action::SpotInterruption {
                action: kind,
                time: When::Plus(SPOT_NOTICE),
            },
        }
    }

    /// A rebalance recommendation noticed when it fires.
    pub fn rebalance_recommendation(trigger: Trigger) -> Entry {
        Entry {
            trigger,
            action: Action::RebalanceRecommendation { notice_time: None },
        }
    }

    /// An active maintenance event with `code` (one of [`EVENT_CODES`]), due
    /// [`EVENT_NOTICE`] after it fires.
    pub fn maintenance_event(trigger: Trigger, code: &str) -> Result<Entry, String> {
        if !EVENT_CODES.contains(&code) {
            return Err(format!(
                "`{code}` is not a maintenance event code: use one of {}",
                EVENT_CODES.join(", ")
            ));
        }
        Ok(Entry {
            trigger,
            action: Action::MaintenanceEvent(NewEvent {
                code: code.into(),
                state: "active".into(),
                description: code.into(),
                id: None,
                not_before: EventTime::Plus(EVENT_NOTICE),
                not_after: None,
                not_before_deadline: None,
            }),
        })
    }

    /// An Auto Scaling termination: the target lifecycle state becomes `Terminated`.
    pub fn asg_termination(trigger: Trigger) -> Entry {
        Entry {
            trigger,
            action: Action::AsgLifecycle("Terminated".into()),
        }
    }
}

/// One entry applied by [`ScenarioState::apply_due`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fired {
    /// The entry's 0-based position in the scenario.
    pub index: usize,
    /// The moment it was applied.
    pub at: Timestamp,
    /// What changed, in words (for logs).
    pub summary: String,
}

/// A scenario being played: which entries have fired, counted from `start`.
#[derive(Clone, Debug)]
pub struct ScenarioState {
    scenario: Scenario,
    start: Timestamp,
    fired: Vec<bool>,
}

impl ScenarioState {
    /// A scenario starting at `start`; nothing has fired yet.
    pub fn new(scenario: Scenario, start: Timestamp) -> Self {
        let fired = vec![false; scenario.entries.len()];
        ScenarioState {
            scenario,
            start,
            fired,
        }
    }

    /// The scenario being played.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// True once every entry has fired.
    pub fn finished(&self) -> bool {
        self.fired.iter().all(|f| *f)
    }

    /// Whether some entry not fired yet is due at `now` with `requests_seen` requests seen:
    /// what [`Self::apply_due`] would apply, found without touching an instance (the hot path
    /// asks this on every request while a scenario plays).
    pub fn any_due(&self, now: Timestamp, requests_seen: u64) -> bool {
        self.scenario
            .entries
            .iter()
            .zip(&self.fired)
            .any(|(entry, fired)| !fired && self.is_due(entry.trigger, now, requests_seen))
    }

    /// When the next entry not fired yet is due, by time and by request count: before both,
    /// [`Self::any_due`] is false, so a server can compare against these instead of asking.
    pub fn next_due(&self) -> Due {
        let mut due = Due::default();
        for (entry, _) in self
            .scenario
            .entries
            .iter()
            .zip(&self.fired)
            .filter(|(_, f)| !**f)
        {
            match entry.trigger {
                Trigger::After(d) => due.at = min_some(due.at, self.start.plus(d)),
                Trigger::At(t) => due.at = min_some(due.at, t),
                Trigger::AfterRequests(n) => {
                    due.after_requests = min_some(due.after_requests, n);
                }
            }
        }
        due
    }

    fn is_due(&self, trigger: Trigger, now: Timestamp, requests_seen: u64) -> bool {
        match trigger {
            Trigger::After(d) => self.start.plus(d) <= now,
            Trigger::At(t) => t <= now,
            Trigger::AfterRequests(n) => requests_seen >= n,
        }
    }

    /// Applies, in file order, every entry that is due at `now` with `requests_seen`
    /// requests seen and has not fired yet. Calling it again with the same inputs does
    /// nothing.
    pub fn apply_due(
        &mut self,
        now: Timestamp,
        requests_seen: u64,
        instance: &mut Instance,
        options: &mut MetadataOptions,
    ) -> Vec<Fired> {
        let mut out = Vec::new();
        for (index, entry) in self.scenario.entries.iter().enumerate() {
            if self.fired[index] {
                continue;
            }
            if !self.is_due(entry.trigger, now, requests_seen) {
                continue;
            }
            self.fired[index] = true;
            let summary = apply(index, &entry.action, now, instance, options);
            out.push(Fired {
                index,
                at: now,
                summary,
            });
        }
        out
    }
}

/// The earlier of `a` (if any) and `b`.
fn min_some<T: Ord + Copy>(a: Option<T>, b: T) -> Option<T> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// When a scenario's next entry is due ([`ScenarioState::next_due`]); `None`: no entry waits
/// for that kind of trigger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Due {
    /// The earliest moment a timed entry is due.
    pub at: Option<Timestamp>,
    /// The fewest requests seen at which a request-counted entry is due.
    pub after_requests: Option<u64>,
}

fn apply(
    index: usize,
    action: &Action,
    now: Timestamp,
    i: &mut Instance,
    o: &mut MetadataOptions,
) -> String {
    match action {
        Action::SpotInterruption { action, time } => {
            let t = time.resolve(now).to_iso8601();
            i.spot_instance_action = Some(SpotAction {
                action: action.as_str().to_owned(),
                time: t.clone(),
            });
            if *action == SpotKind::Terminate {
                i.spot_termination_time = Some(t.clone());
            }
            format!("spot interruption: {} at {t}", action.as_str())
        }
        Action::RebalanceRecommendation { notice_time } => {
            let t = notice_time.map_or(now, |w| w.resolve(now)).to_iso8601();
            i.rebalance_notice_time = Some(t.clone());
            format!("rebalance recommendation at {t}")
        }
        Action::MaintenanceEvent(e) => {
            let event_id =
                e.id.clone()
                    .unwrap_or_else(|| format!("instance-event-{}", hex_id(index, now, 17)));
            let event = MaintenanceEvent {
                code: e.code.clone(),
                description: e.description.clone(),
                event_id: event_id.clone(),
                not_before: e.not_before.resolve(now),
                not_after: e.not_after.as_ref().map(|t| t.resolve(now)),
                not_before_deadline: e.not_before_deadline.as_ref().map(|t| t.resolve(now)),
                state: e.state.clone(),
            };
            if finished_state(&e.state) {
                i.maintenance_events.history.push(event);
            } else {
                i.maintenance_events.scheduled.push(event);
            }
            format!("maintenance event {event_id} ({}) {}", e.code, e.state)
        }
        Action::MaintenanceEventState { id, state } => {
            let events = &mut i.maintenance_events;
            let Some(pos) = events.scheduled.iter().position(|e| &e.event_id == id) else {
                if let Some(e) = events.history.iter_mut().find(|e| &e.event_id == id) {
                    e.state = state.clone();
                    return format!("maintenance event {id} (in history) is now {state}");
                }
                return format!("maintenance event {id}: no such event; nothing changed");
            };
            if finished_state(state) {
                let mut e = events.scheduled.remove(pos);
                e.state = state.clone();
                events.history.push(e);
                format!("maintenance event {id} is now {state} (moved to history)")
            } else {
                events.scheduled[pos].state = state.clone();
                format!("maintenance event {id} is now {state}")
            }
        }
        Action::AsgLifecycle(s) => {
            i.autoscaling_target_lifecycle_state = Some(s.clone());
            format!("auto scaling target lifecycle state {s}")
        }
        Action::Options(change) => {
            change.apply(o);
            "metadata options changed".to_owned()
        }
        Action::RotateCredentials => match &mut i.iam {
            Some(role) => {
                role.credentials = Credentials {
                    access_key_id: format!("ASIA{}", hex_id(index, now, 16).to_uppercase()),
                    secret_access_key: hex_id(index + 1000, now, 40),
                    token: format!("IQoJb3JpZ2luX2Vj{}", hex_id(index + 2000, now, 64)),
                    last_updated: Some(now.to_iso8601()),
                    // SPEC.md §3.9: role credentials are issued for six hours.
                    expiration: Some(now.plus(Duration::from_secs(6 * 3600)).to_iso8601()),
                };
                format!("credentials of {} rotated", role.role_name)
            }
            None => "rotate credentials: the instance has no IAM role; nothing changed".into(),
        },
        Action::Tags(tags) => {
            i.tags = tags.clone();
            format!("tags replaced ({} tags)", tags.len())
        }
        Action::UserData(text) => {
            i.user_data = Some(text.clone());
            i.user_data_base64 = None;
            "user data replaced".to_owned()
        }
    }
}

fn finished_state(s: &str) -> bool {
    matches!(s, "completed" | "canceled")
}

/// Deterministic hex, different per entry and firing moment (new keys must differ from the
/// old ones, and the model has no random source).
fn hex_id(index: usize, now: Timestamp, len: usize) -> String {
    let mut out = String::new();
    let mut round = 0u32;
    while out.len() < len {
        let digest = Sha256::new()
            .chain_update(b"imdspec-scenario")
            .chain_update((index as u64).to_be_bytes())
            .chain_update(now.as_millis().to_be_bytes())
            .chain_update(round.to_be_bytes())
            .finalize();
        out.extend(digest.iter().map(|b| format!("{b:02x}")));
        round += 1;
    }
    out.truncate(len);
    out
}

/// EC2's event date form: `21 Jan 2026 09:00:43 GMT` (day not zero-padded, SPEC.md §3.11).
pub fn event_date(t: Timestamp) -> String {
    // The HTTP date is `Wed, 21 Jan 2026 09:00:43 GMT`; drop the weekday and the day's zero.
    let http = t.to_http_date();
    let rest = http.split_once(", ").map_or(http.as_str(), |(_, r)| r);
    rest.strip_prefix('0').unwrap_or(rest).to_owned()
}

/// Parses a duration: one or more `<number><unit>` parts, units `h`, `m`, `s`, `ms`
/// (`10s`, `2m`, `1h30m`, `500ms`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration (write e.g. `10s`, `2m`, `1h30m`, `500ms`)");
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else {
            return Err(bad());
        };
        rest = &rest[len..];
        let part = unit.checked_mul(u32::try_from(n).map_err(|_| bad())?);
        total = part.and_then(|p| total.checked_add(p)).ok_or_else(bad)?;
    }
    Ok(total)
}

const EVENT_STATES: [&str; 3] = ["active", "completed", "canceled"];
/// Spot notices give two minutes' warning (SPEC.md §3.11).
pub const SPOT_NOTICE: Duration = Duration::from_secs(120);

/// A maintenance event state EC2 uses: `active`, `completed` or `canceled`.
pub fn check_event_state(s: &str) -> Result<(), String> {
    if EVENT_STATES.contains(&s) {
        return Ok(());
    }
    Err(match imds_diag::suggest(s, EVENT_STATES) {
        Some(k) => format!("unknown state `{s}`; did you mean `{k}`?"),
        None => format!("unknown state `{s}` (expected `active`, `completed` or `canceled`)"),
    })
}

/// An Auto Scaling lifecycle state (SPEC.md §3.11): `Detached`, `InService`, `Standby`,
/// `Terminated` or `Warmed:*`.
pub fn check_lifecycle(s: &str) -> Result<(), String> {
    const KNOWN: [&str; 4] = ["Detached", "InService", "Standby", "Terminated"];
    if KNOWN.contains(&s) || s.strip_prefix("Warmed:").is_some_and(|w| !w.is_empty()) {
        return Ok(());
    }
    Err(match imds_diag::suggest(s, KNOWN) {
        Some(k) => format!("unknown lifecycle state `{s}`; did you mean `{k}`?"),
        None => format!(
            "unknown lifecycle state `{s}` (expected `Detached`, `InService`, `Standby`, \
             `Terminated` or `Warmed:…`)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        let s = |n| Duration::from_secs(n);
        assert_eq!(parse_duration("10s"), Ok(s(10)));
        assert_eq!(parse_duration("2m"), Ok(s(120)));
        assert_eq!(parse_duration("1h30m"), Ok(s(5400)));
        assert_eq!(parse_duration("1m500ms"), Ok(Duration::from_millis(60_500)));
        for bad in ["", "10", "s", "1x", "1h 2m", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_dates_are_ec2_form() {
        assert_eq!(
            event_date(Timestamp::parse_iso8601("2026-01-05T03:00:09Z").unwrap()),
            "5 Jan 2026 03:00:09 GMT"
        );
        assert_eq!(
            event_date(Timestamp::parse_iso8601("2019-01-21T09:00:43Z").unwrap()),
            "21 Jan 2019 09:00:43 GMT"
        );
    }
}
