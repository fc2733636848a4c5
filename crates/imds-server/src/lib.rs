//! The reference EC2 IMDS model served over HTTP/1.1 with hyper 1.
//!
//! The model (`imds_model`) holds every IMDS rule; this crate shares it between concurrent
//! requests ([`Imds`]), maps hyper requests to [`Imds::handle_with_outcome`] and back, and
//! adds what belongs to a server: connection and header caps, a header read timeout, the IP
//! hop limit on token PUT responses, a request journal, scripted faults (misbehaviour on
//! purpose, for testing clients) and the [`control`] API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), imds_server::ServerError> {
//! use std::sync::Arc;
//! use imds_model::{HttpTokens, ManualClock, MetadataOptions, Timestamp};
//!
//! let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_700_000_000)));
//! let server = imds_server::ImdsServer::builder()
//!     .options(MetadataOptions { http_tokens: HttpTokens::Required, ..Default::default() })
//!     .clock(clock.clone())
//!     .start()
//!     .await?;
//! println!("{}/latest/meta-data/instance-id", server.url());
//! // Later requests see new options at once, like ModifyInstanceMetadataOptions.
//! server.imds().set_options(MetadataOptions::default());
//! clock.advance(std::time::Duration::from_secs(21_600)); // every token issued so far expires
//! # Ok(()) }
//! ```
//!
//! Dropping an [`ImdsServer`] stops it: listeners close at once and connections finish the
//! request they are serving. [`ImdsServer::shutdown`] does the same and waits for them.

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod control;
mod controller;
mod faults;
#[doc(hidden)]
pub mod fuzzing;
mod hop;
mod imds;
mod journal;
mod overlay;
mod service;

/// A mutex's guard even when a thread panicked while holding it: every lock here guards data
/// that stays consistent between statements, and a mock must keep answering.
fn lock_unpoisoned<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use imds_model::scenario::OptionsChange;
use imds_model::{
    Clock, Instance, ManualClock, MetadataOptions, Scenario, SystemClock, Timestamp, TokenKey,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

pub use controller::ControlResponse;
pub use faults::{
    EndpointFault, FAULT_SYNTAX, Fault, FaultAction, FaultSpecError, Faults, Reshape, Scripted,
};
pub use hop::AppliedHopLimit;
pub use imds::Imds;
pub use journal::{JournalEntry, token_fingerprint};
pub use overlay::{Overlay, OverlayAnswer, OverlayRequest};

use crate::control::{ControlError, ControlRequest};
use crate::controller::{Controller, StartState};
use crate::faults::FaultState;
use crate::hop::{HopControl, HopIo};
use crate::journal::Journal;
use crate::service::{Conn, Shared};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A listen address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The operating system's random number generator failed (token key).
    #[error("cannot get random bytes for the token key: {0}")]
    Random(String),
    /// The journal file could not be opened.
    #[error("cannot open journal file {path}: {source}")]
    Journal {
        /// The file asked for.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The control listener was given an address that is not loopback.
    #[error("the control API listens on loopback only (127.0.0.1 or [::1]), not {0}")]
    ControlNotLoopback(SocketAddr),
}

/// Transport limits. The defaults suit both tests and `imdspec serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (request line and headers) in bytes; larger gets 431.
    pub max_header_bytes: usize,
    /// Most header lines in one request; more gets 431.
    pub max_headers: usize,
    /// A client must send a complete request head within this time (also bounds idle
    /// keep-alive connections), or the connection is closed.
    pub header_read_timeout: Duration,
    /// Most simultaneous connections over all listeners; further clients wait in the backlog.
    pub max_connections: usize,
    /// How long a `hang` fault holds a request before closing the connection unanswered.
    pub hang_limit: Duration,
    /// How long a shutdown waits for in-flight connections before giving up on them.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            hang_limit: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Journal capacity kept in memory by default (oldest entries are dropped beyond it).
pub const DEFAULT_JOURNAL_CAPACITY: usize = 65_536;

/// Configures and starts an [`ImdsServer`].
#[must_use]
pub struct ImdsServerBuilder {
    options: MetadataOptions,
    instance: Instance,
    clock: Arc<dyn Clock>,
    listen: Vec<SocketAddr>,
    faults: Faults,
    limits: Limits,
    journal_capacity: usize,
    journal_file: Option<PathBuf>,
    scenario: Option<Scenario>,
    control: Option<SocketAddr>,
    manual: Option<Arc<ManualClock>>,
    overlay: Option<Overlay>,
}

impl std::fmt::Debug for ImdsServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImdsServerBuilder")
            .field("options", &self.options)
            .field("listen", &self.listen)
            .field("faults", &self.faults)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Default for ImdsServerBuilder {
    fn default() -> Self {
        ImdsServerBuilder {
            options: MetadataOptions::default(),
            instance: Instance::default(),
            clock: Arc::new(SystemClock),
            listen: Vec::new(),
            faults: Faults::default(),
            limits: Limits::default(),
            journal_capacity: DEFAULT_JOURNAL_CAPACITY,
            journal_file: None,
            scenario: None,
            control: None,
            manual: None,
            overlay: None,
        }
    }
}

impl ImdsServerBuilder {
    /// The instance metadata options to start with (default: EC2's defaults).
    pub fn options(mut self, options: MetadataOptions) -> Self {
        self.options = options;
        self
    }

    /// The instance content to serve (default: [`Instance::default`]).
    pub fn instance(mut self, instance: Instance) -> Self {
        self.instance = instance;
        self
    }

    /// The clock tokens and credentials are timed by (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Adds a listen address (repeatable; default one listener on `127.0.0.1:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen.push(addr);
        self
    }

    /// Scripted faults in force from the start (default: none).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Transport limits (default: [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How many journal entries to keep in memory (0: none); see [`ImdsServer::journal`].
    pub fn journal_capacity(mut self, entries: usize) -> Self {
        self.journal_capacity = entries;
        self
    }

    /// Also write the journal to `path` as JSON lines (the file is truncated first).
    pub fn journal_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.journal_file = Some(path.into());
        self
    }

    /// A scenario the model plays from the moment the server starts (default: none); see
    /// [`Imds::set_scenario`].
    pub fn scenario(mut self, scenario: Scenario) -> Self {
        self.scenario = Some(scenario);
        self
    }

    /// Time from a hand-moved clock that the control API (`POST /clock/advance`) and
    /// [`ImdsServer::advance_clock`] may move; replaces [`clock`](Self::clock).
    pub fn manual_clock(mut self, clock: Arc<ManualClock>) -> Self {
        self.clock = clock.clone();
        self.manual = Some(clock);
        self
    }

    /// Also serve the control API (JSON over HTTP) on `addr`, which must be loopback; port 0
    /// picks a free one (see [`ImdsServer::control_url`]).
    pub fn control(mut self, addr: SocketAddr) -> Self {
        self.control = Some(addr);
        self
    }

    /// Another layout in front of the model: see [`Overlay`] (default: none, the model's
    /// answers as they are).
    pub fn overlay(mut self, overlay: Overlay) -> Self {
        self.overlay = Some(overlay);
        self
    }

    /// Binds every listener and starts serving on the current tokio runtime.
    pub async fn start(self) -> Result<ImdsServer, ServerError> {
        if let Some(addr) = self.control.filter(|a| !controller::is_loopback(*a)) {
            return Err(ServerError::ControlNotLoopback(addr));
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| ServerError::Random(e.to_string()))?;
        let start = StartState {
            options: self.options,
            instance: self.instance.clone(),
            scenario: self.scenario.clone(),
            faults: self.faults.clone(),
        };
        let imds = Arc::new(Imds::new(
            self.options,
            self.instance,
            &TokenKey::new(key),
            self.clock.clone(),
        ));
        if let Some(scenario) = self.scenario {
            imds.set_scenario(scenario);
        }
        let journal = Journal::new(self.journal_capacity, self.journal_file.as_deref())?;
        let addrs = if self.listen.is_empty() {
            vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))]
        } else {
            self.listen
        };
        let mut listeners = Vec::with_capacity(addrs.len());
        for addr in addrs {
            listeners.push(bind(addr).await?);
        }
        let control_listener = match self.control {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let (shared, http, shutdown_tx) = serving(
            imds.clone(),
            self.clock.clone(),
            journal,
            self.faults,
            self.limits,
            self.overlay,
        );
        let controller = Arc::new(Controller {
            imds: imds.clone(),
            shared: shared.clone(),
            clock: self.clock,
            manual: self.manual,
            start: std::sync::Mutex::new(start),
        });
        let addrs: Vec<SocketAddr> = listeners.iter().map(|(_, a)| *a).collect();
        let mut tasks: Vec<JoinHandle<()>> = listeners
            .into_iter()
            .map(|(listener, local)| {
                tokio::spawn(accept_loop(listener, local, shared.clone(), http.clone()))
            })
            .collect();
        let control_addr = control_listener.map(|(listener, local)| {
            tasks.push(tokio::spawn(controller::serve(
                listener,
                controller.clone(),
                shared.shutdown.clone(),
            )));
            local
        });
        Ok(ImdsServer {
            imds,
            addrs,
            control_addr,
            controller,
            shared,
            shutdown: shutdown_tx,
            tasks,
        })
    }
}

/// A running reference IMDS server. Dropping it stops it.
pub struct ImdsServer {
    imds: Arc<Imds>,
    addrs: Vec<SocketAddr>,
    control_addr: Option<SocketAddr>,
    controller: Arc<Controller>,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for ImdsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImdsServer")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

/// A listener on `addr` and the address it got (the port, when `addr` asked for port 0).
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ServerError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    // Accepted connections inherit TCP_NODELAY from the listener on Linux, which saves a
    // system call per connection; elsewhere `serve_connection` sets it on each.
    let _ = socket2::SockRef::from(&listener).set_tcp_nodelay(true);
    Ok((listener, local))
}

impl ImdsServer {
    /// A builder with EC2's default options, the default instance and the system clock.
    pub fn builder() -> ImdsServerBuilder {
        ImdsServerBuilder::default()
    }

    /// Starts a server with every default (one listener on `127.0.0.1:0`).
    pub async fn start() -> Result<ImdsServer, ServerError> {
        Self::builder().start().await
    }

    /// The base URL of the first listener, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The base URLs of every listener, in the order they were given.
    pub fn urls(&self) -> Vec<String> {
        self.addrs.iter().map(|a| format!("http://{a}")).collect()
    }

    /// The bound address of the first listener.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The bound addresses of every listener.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The model being served: change options or content while running through it.
    pub fn imds(&self) -> &Arc<Imds> {
        &self.imds
    }

    /// Replaces the scripted faults; their counters start again from zero.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.faults.set(faults);
    }

    /// The scripted faults in force.
    pub fn faults(&self) -> Faults {
        self.shared.faults.get()
    }

    /// The journal entries kept in memory so far, oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.journal.entries()
    }

    /// Forgets the in-memory journal (the file, if any, is kept).
    pub fn clear_journal(&self) {
        self.shared.journal.clear();
    }

    /// Journal entries kept in memory with `seq >= since`, oldest first (`GET /journal`).
    pub fn journal_since(&self, since: u64) -> Vec<JournalEntry> {
        self.shared.journal.entries_since(since)
    }

    /// The control listener's base URL (`http://127.0.0.1:PORT`), if one was asked for.
    pub fn control_url(&self) -> Option<String> {
        self.control_addr.map(|a| format!("http://{a}"))
    }

    /// The control listener's bound address, if one was asked for.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control_addr
    }

    /// Answers one control API request in process, exactly as the control listener would
    /// (see [`control`] for the paths); a refused request changes nothing.
    pub fn control(&self, req: &ControlRequest<'_>) -> ControlResponse {
        self.controller.handle(req)
    }

    /// Changes the options given in `change` and keeps the rest (`PUT /options`, like
    /// ModifyInstanceMetadataOptions); returns the options now in force.
    pub fn change_options(&self, change: &OptionsChange) -> MetadataOptions {
        self.imds
            .update_options(|o| control::apply_options(o, change))
    }

    /// Merges an RFC 7396 JSON merge patch into the instance (`PATCH /instance`; `null` puts
    /// back the start instance's value); a patch whose result the instance loader refuses
    /// changes nothing.
    pub fn patch_instance(&self, patch: &serde_json::Value) -> Result<Arc<Instance>, ControlError> {
        self.controller.patch_instance(&patch.to_string())
    }

    /// Moves the manual clock forward (`POST /clock/advance`); a 409 error when the server
    /// was not built with [`ImdsServerBuilder::manual_clock`].
    pub fn advance_clock(&self, by: Duration) -> Result<Timestamp, ControlError> {
        self.controller.advance_clock(by)
    }

    /// Back to the start state (`POST /reset`): the options, instance and faults the server
    /// was built with, and its scenario played again from now. Tokens already issued stay
    /// valid until their TTL; the journal and the clock are kept.
    pub fn reset(&self) {
        self.controller.reset();
    }

    /// Serves `instance` and plays `scenario` (if any) from now, as a SIGHUP of
    /// `imdspec serve` does after re-reading its files; both become what [`Self::reset`]
    /// returns to. Options and faults are kept.
    pub fn reload(&self, instance: Instance, scenario: Option<Scenario>) {
        self.controller.reload(instance, scenario);
    }

    /// Hop limits set on connections so far, as read back with `getsockopt` after setting.
    pub fn applied_hop_limits(&self) -> Vec<AppliedHopLimit> {
        self.shared.hop_log.entries()
    }

    /// Stops accepting, lets in-flight requests finish (up to [`Limits::shutdown_grace`]) and
    /// returns once every connection has ended or the grace period is over.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        let all = u32::try_from(self.shared.limits.max_connections).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(
            self.shared.limits.shutdown_grace,
            self.shared.connections.acquire_many(all),
        )
        .await;
        // Every request answered is in the journal file before this returns.
        self.shared.journal.sync();
    }
}

impl Drop for ImdsServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        // What was journaled so far is written before the caller goes on (say, to read it).
        self.shared.journal.sync();
    }
}

/// One server's shared state, the HTTP/1 settings of its connections and the sender that
/// stops it: what listeners and the fuzz harness alike serve with.
pub(crate) fn serving(
    imds: Arc<Imds>,
    clock: Arc<dyn Clock>,
    journal: Journal,
    faults: Faults,
    limits: Limits,
    overlay: Option<Overlay>,
) -> (Arc<Shared>, http1::Builder, watch::Sender<bool>) {
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        imds,
        clock,
        journal,
        faults: FaultState::new(faults),
        limits,
        connections: Arc::new(Semaphore::new(limits.max_connections)),
        hop_log: Arc::default(),
        shutdown: shutdown_rx,
        next_conn: Default::default(),
        overlay,
    });
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_headers(limits.max_headers)
        // EC2 writes `X-Aws-Ec2-Metadata-Token-Ttl-Seconds`, `Content-Type` (spec §3.6);
        // the order comes from the model, hyper keeps it.
        .title_case_headers(true)
        .keep_alive(true);
    (shared, http, shutdown_tx)
}

async fn accept_loop(
    listener: TcpListener,
    local: SocketAddr,
    shared: Arc<Shared>,
    http: http1::Builder,
) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        // `biased`: the shutdown signal is looked at only while the other branch waits.
        let permit = tokio::select! {
            biased;
            p = shared.connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let accepted = tokio::select! {
            biased;
            a = listener.accept() => a,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            // Out of file descriptors and the like: back off briefly instead of spinning.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = shared.clone();
        let http = http.clone();
        tokio::spawn(async move {
            serve_connection(stream, local, peer, shared, http).await;
            drop(permit);
        });
    }
}

/// Whether accepted connections get TCP_NODELAY from the listener (`bind` sets it there).
const NODELAY_INHERITED: bool = cfg!(any(target_os = "linux", target_os = "android"));

async fn serve_connection(
    stream: TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    shared: Arc<Shared>,
    http: http1::Builder,
) {
    let id = shared
        .next_conn
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if shared.faults.endpoint_fault().is_some() {
        service::reset_connection(&stream, &shared, local, peer, id);
        return;
    }
    if !NODELAY_INHERITED {
        let _ = stream.set_nodelay(true);
    }
    let hop = Arc::new(HopControl::new(local.is_ipv6(), peer));
    let io = TokioIo::new(HopIo::new(stream, hop.clone(), shared.hop_log.clone()));
    let conn = Arc::new(Conn {
        id,
        local,
        peer,
        hop,
    });
    let svc = hyper::service::service_fn({
        let shared = shared.clone();
        move |req| service::handle(shared.clone(), conn.clone(), req)
    });
    let connection = http.serve_connection(io, svc);
    tokio::pin!(connection);
    // Most connections are done in their first poll (request in, answer and close out): the
    // connection goes first and the shutdown signal is subscribed to only when it waits, so
    // those never touch the signal's shared state.
    tokio::select! {
        biased;
        _ = connection.as_mut() => return,
        _ = async {
            let _ = shared.shutdown.clone().wait_for(|s| *s).await;
        } => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(shared.limits.shutdown_grace, connection).await;
}

#[cfg(test)]
mod tests {
    /// `serve_connection` skips setting TCP_NODELAY where the listener passes it on.
    #[tokio::test]
    async fn accepted_connections_have_nodelay() {
        let (listener, local) = super::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let _client = tokio::net::TcpStream::connect(local).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(accepted.nodelay().unwrap() || !super::NODELAY_INHERITED);
    }
}
