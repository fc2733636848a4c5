//! [`Imds`]: the model's rules ([`imds_model::Snapshot::answer`]) shared by concurrent
//! requests and writers.
//!
//! Requests read the snapshot in force without a lock (`arc-swap`). Everything that changes
//! it, or the scenario being played, goes through one [`Writer`], which holds the only lock:
//! a read-modify-write from the control API and a scenario entry firing at the same moment
//! both land, and no request sees new content with old options. The types keep it so: the
//! snapshot cell can be stored to only through a `Writer`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use http::{Request, Response};
use imds_model::scenario::Due;
use imds_model::{
    Clock, Fired, Instance, MetadataOptions, Outcome, Play, Scenario, Snapshot, Timestamp,
    TokenAuthority, TokenKey,
};

use self::guarded::{Guarded, Writer};

/// The reference IMDS for one instance as a server runs it: the model's rules over options,
/// content, token authority and clock, answered from any number of threads at once.
///
/// `handle` takes `&self`, and options or content can be swapped while requests are being
/// handled (the equivalent of `ModifyInstanceMetadataOptions` on a running instance).
pub struct Imds {
    state: Guarded,
    tokens: TokenAuthority,
    clock: Arc<dyn Clock>,
    due: DueGate,
}

/// What a request checks before it may skip the scenario: written only by a [`Writer`]
/// (after each change to the scenario), read by every request without a lock.
struct DueGate {
    /// Milliseconds since the epoch at which the next timed entry is due (`u64::MAX`: none).
    at_ms: AtomicU64,
    /// The request count at which the next request-counted entry is due (`u64::MAX`: none).
    at_request: AtomicU64,
    /// Requests seen since the scenario started, counted only while `at_request` is set.
    requests: AtomicU64,
    /// Set while a `notice-clients` limit is in force: requests then answer under the lock.
    notices_limited: AtomicBool,
}

impl DueGate {
    fn idle() -> DueGate {
        DueGate {
            at_ms: AtomicU64::new(u64::MAX),
            at_request: AtomicU64::new(u64::MAX),
            requests: AtomicU64::new(0),
            notices_limited: AtomicBool::new(false),
        }
    }
}

mod guarded {
    use std::sync::{Arc, Mutex, MutexGuard};

    use arc_swap::{ArcSwap, Guard};
    use imds_model::{Play, Snapshot};

    /// The snapshot in force and the lock every writer holds; the cell is private to this
    /// module, so storing to it takes a [`Writer`].
    pub(super) struct Guarded {
        current: ArcSwap<Snapshot>,
        writer: Mutex<Play>,
    }

    /// Holds the writer lock: the one way to change the snapshot or the scenario being played.
    pub(super) struct Writer<'a> {
        play: MutexGuard<'a, Play>,
        current: &'a ArcSwap<Snapshot>,
    }

    impl Guarded {
        pub(super) fn new(snapshot: Snapshot) -> Guarded {
            Guarded {
                current: ArcSwap::from_pointee(snapshot),
                writer: Mutex::new(Play::default()),
            }
        }

        /// The snapshot in force, without a lock.
        pub(super) fn load(&self) -> Guard<Arc<Snapshot>> {
            self.current.load()
        }

        pub(super) fn write(&self) -> Writer<'_> {
            let play = crate::lock_unpoisoned(&self.writer);
            Writer {
                play,
                current: &self.current,
            }
        }
    }

    impl Writer<'_> {
        /// The snapshot in force; no other writer can replace it while this one lives.
        pub(super) fn snapshot(&self) -> Arc<Snapshot> {
            self.current.load_full()
        }

        pub(super) fn store(&mut self, next: Snapshot) {
            self.current.store(Arc::new(next));
        }

        pub(super) fn play(&mut self) -> &mut Play {
            &mut self.play
        }
    }
}

impl std::fmt::Debug for Imds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imds")
            .field("options", &self.options())
            .finish_non_exhaustive()
    }
}

impl Imds {
    /// A service with these options and content, tokens keyed by `key`, time from `clock`.
    pub fn new(
        options: MetadataOptions,
        instance: Instance,
        key: &TokenKey,
        clock: Arc<dyn Clock>,
    ) -> Imds {
        Imds {
            state: Guarded::new(Snapshot::new(options, instance)),
            tokens: TokenAuthority::new(key),
            clock,
            due: DueGate::idle(),
        }
    }

    /// Answers one request. The request body is ignored (IMDS requests have none).
    pub fn handle<B>(&self, req: &Request<B>) -> Response<Bytes> {
        self.handle_with_outcome(req).0
    }

    /// Answers one request and says why.
    pub fn handle_with_outcome<B>(&self, req: &Request<B>) -> (Response<Bytes>, Outcome) {
        let now = self.clock.now();
        self.play_due(now);
        if self.due.notices_limited.load(Ordering::Acquire) {
            // `notice-clients` admits clients first come, first served: one at a time.
            let mut w = self.state.write();
            let snapshot = w.snapshot();
            return snapshot.answer(&self.tokens, req, now, w.play().notices());
        }
        self.state.load().answer(&self.tokens, req, now, None)
    }

    /// Counts this request and applies the scenario entries now due. Costs two atomic loads
    /// (and a count, while an entry waits for one) until an entry is due.
    fn play_due(&self, now: Timestamp) {
        let counting = self.due.at_request.load(Ordering::Acquire) != u64::MAX;
        let seen = if counting {
            self.due.requests.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            0
        };
        let timed_due = now.as_millis() >= self.due.at_ms.load(Ordering::Acquire);
        let counted_due = counting && seen >= self.due.at_request.load(Ordering::Acquire);
        if !timed_due && !counted_due {
            return;
        }
        let mut w = self.state.write();
        let seen = self.due.requests.load(Ordering::Acquire);
        let current = w.snapshot();
        if let Some(next) = w.play().apply_due(now, seen, &current) {
            w.store(next);
        }
        self.publish(&mut w);
    }

    /// Tells requests, through the gate's atomics, what the writer's scenario waits for next.
    fn publish(&self, w: &mut Writer<'_>) {
        let play = w.play();
        let Due { at, after_requests } = play.next_due();
        self.due
            .notices_limited
            .store(play.notices().is_some(), Ordering::Release);
        self.due
            .at_request
            .store(after_requests.unwrap_or(u64::MAX), Ordering::Release);
        self.due
            .at_ms
            .store(at.map_or(u64::MAX, Timestamp::as_millis), Ordering::Release);
    }

    /// Plays `scenario` from the clock's now, replacing any earlier one; requests are counted
    /// from here. Entries already due fire on the next request (SPEC.md §3.11).
    pub fn set_scenario(&self, scenario: Scenario) {
        let mut w = self.state.write();
        *w.play() = Play::start(scenario, self.clock.now());
        self.due.requests.store(0, Ordering::Release);
        self.publish(&mut w);
    }

    /// The scenario entries applied so far, in the order they fired (for logs).
    pub fn scenario_fired(&self) -> Vec<Fired> {
        self.state.write().play().fired().to_vec()
    }

    /// Whether requests need a [`ClientAddr`](imds_model::ClientAddr): true while a
    /// `notice-clients` limit is in force. A front end may skip attaching one otherwise (it
    /// costs an allocation per request).
    pub fn wants_client_addr(&self) -> bool {
        self.due.notices_limited.load(Ordering::Acquire)
    }

    /// The options in force.
    pub fn options(&self) -> MetadataOptions {
        self.state.load().options()
    }

    /// Replaces the options; later requests see the new ones. Cheap: the content built from
    /// the instance is kept.
    pub fn set_options(&self, options: MetadataOptions) {
        self.update_options(|_| options);
    }

    /// Changes the options from the ones in force, as one step: no scenario entry or other
    /// writer lands between the read and the write. Returns the new options.
    pub fn update_options(
        &self,
        change: impl FnOnce(MetadataOptions) -> MetadataOptions,
    ) -> MetadataOptions {
        let mut w = self.state.write();
        let current = w.snapshot();
        let options = change(current.options());
        w.store(current.with_options(options));
        options
    }

    /// The instance content in force.
    pub fn instance(&self) -> Arc<Instance> {
        self.state.load().instance().clone()
    }

    /// Replaces the instance content; later requests see the new one.
    pub fn set_instance(&self, instance: Instance) {
        let mut w = self.state.write();
        let next = w.snapshot().with_instance(instance);
        w.store(next);
    }

    /// Changes the instance from the one in force, as one step (see
    /// [`update_options`](Self::update_options)); when `change` fails nothing changes.
    pub fn try_update_instance<E>(
        &self,
        change: impl FnOnce(&Instance) -> Result<Instance, E>,
    ) -> Result<Arc<Instance>, E> {
        let mut w = self.state.write();
        let next = w.snapshot().with_instance(change(w.snapshot().instance())?);
        let instance = next.instance().clone();
        w.store(next);
        Ok(instance)
    }

    /// Sets options and instance together (one swap: no request sees one without the other)
    /// and stops the scenario being played, if any, with its `notice-clients` limit.
    pub fn reset(&self, options: MetadataOptions, instance: Instance) {
        let mut w = self.state.write();
        w.store(Snapshot::new(options, instance));
        *w.play() = Play::default();
        self.publish(&mut w);
    }

    /// The clock this service reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Issues a token directly (as a PUT would), for tests that need one without HTTP.
    pub fn issue_token(&self, ttl: u32) -> String {
        self.tokens.issue(self.clock.now(), ttl).token
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use imds_model::scenario::{Entry, SpotKind, Trigger};
    use imds_model::{HttpTokens, ManualClock};

    use super::*;

    fn imds(clock: &Arc<ManualClock>) -> Imds {
        Imds::new(
            MetadataOptions::default(),
            Instance::default(),
            &TokenKey::new([3; 32]),
            clock.clone(),
        )
    }

    fn spot_status(imds: &Imds) -> u16 {
        let req = Request::get("/latest/meta-data/spot/instance-action")
            .body(())
            .expect("request");
        imds.handle(&req).status().as_u16()
    }

    #[test]
    fn a_timed_entry_fires_on_the_first_request_at_its_time_not_before() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_768_470_000)));
        let imds = imds(&clock);
        imds.set_scenario(Scenario {
            entries: vec![Entry::spot_interruption(
                Trigger::After(Duration::from_secs(3600)),
                SpotKind::Terminate,
            )],
            notice_clients: None,
        });
        assert_eq!(imds.due.at_ms.load(Ordering::Acquire), 1_768_473_600_000);
        // Not counting: no entry waits for a request count.
        assert_eq!(imds.due.at_request.load(Ordering::Acquire), u64::MAX);
        clock.advance(Duration::from_millis(3_599_999));
        assert_eq!(spot_status(&imds), 404);
        assert_eq!(imds.due.requests.load(Ordering::Acquire), 0);
        clock.advance(Duration::from_millis(1));
        assert_eq!(spot_status(&imds), 200);
        assert_eq!(imds.scenario_fired().len(), 1);
        // Finished: every request skips the scenario again.
        assert_eq!(imds.due.at_ms.load(Ordering::Acquire), u64::MAX);
    }

    #[test]
    fn a_counted_entry_fires_on_exactly_its_request_from_any_thread() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_768_470_000)));
        let imds = Arc::new(imds(&clock));
        imds.set_scenario(Scenario {
            entries: vec![Entry {
                trigger: Trigger::AfterRequests(101),
                action: imds_model::scenario::Action::Options(
                    imds_model::scenario::OptionsChange {
                        http_tokens: Some(HttpTokens::Required),
                        ..Default::default()
                    },
                ),
            }],
            notice_clients: None,
        });
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let imds = imds.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        assert_eq!(spot_status(&imds), 404);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(imds.options().http_tokens, HttpTokens::Optional);
        // Request 101 is answered under the new options.
        assert_eq!(spot_status(&imds), 401);
        assert_eq!(imds.options().http_tokens, HttpTokens::Required);
        assert_eq!(imds.due.at_request.load(Ordering::Acquire), u64::MAX);
    }
}
