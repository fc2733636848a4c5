//! `HttpPutResponseHopLimit` where it really takes effect: across a router.
//!
//! On loopback the limit can only be read back from the socket (imds-server's transport
//! tests). Here the test builds three network namespaces joined by veth pairs:
//!
//! ```text
//! server ns (imdspec serve)      router ns (forwards)           container ns (probe, run)
//! 198.18.1.1/24  ---- veth ----  198.18.1.2 | 198.18.2.1  ---- veth ----  198.18.2.2/24
//! 2001:db8:1::1/64               2001:db8:1::2 | 2001:db8:2::1            2001:db8:2::2/64
//! ```
//!
//! The container is two hops from the server, the router one: a token answer sent with IP TTL
//! (hop limit) 1 reaches the router but is dropped on its way to the container, while the
//! metadata GETs (not hop-limited) get through; with 2 the token arrives too. Addresses are
//! from the benchmarking (198.18.0.0/15) and documentation (2001:db8::/32) ranges only, and
//! the namespaces are deleted when the test ends, also when it fails.
//!
//! Creating namespaces needs root (CI runs as root). Under `CI=true` not being able to is a
//! failure; elsewhere the tests return early, after checking that CI is not `true`.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Serve, imdspec_in, output_within, text};
use serde_json::Value;

const SERVER_V4: &str = "198.18.1.1";
const SERVER_V6: &str = "2001:db8:1::1";
/// Indexes into [`Topology::names`].
const SERVER: usize = 0;
const ROUTER: usize = 1;
const CONTAINER: usize = 2;
/// Each veth end: its namespace, its (namespace-local) name and its addresses.
const ADDRESSES: [(usize, &str, &str, &str); 4] = [
    (SERVER, "s0", "198.18.1.1/24", "2001:db8:1::1/64"),
    (ROUTER, "r0", "198.18.1.2/24", "2001:db8:1::2/64"),
    (ROUTER, "r1", "198.18.2.1/24", "2001:db8:2::1/64"),
    (CONTAINER, "c0", "198.18.2.2/24", "2001:db8:2::2/64"),
];
/// Default routes: the server's and the container's, through the router.
const ROUTES: [(usize, &str, &str); 2] = [
    (SERVER, "198.18.1.2", "2001:db8:1::2"),
    (CONTAINER, "198.18.2.1", "2001:db8:2::1"),
];
/// How many probes (each at most about 2 s) the container makes before the topology counts
/// as broken: IPv6 neighbour discovery takes a moment after the links come up.
const REACH_TRIES: u32 = 20;

/// The three namespaces; deleted on drop.
struct Topology {
    names: [String; 3],
}

/// Runs `ip ARGS`; the error names the command and what `ip` said.
fn ip(args: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    let out = output_within(cmd);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            text(&out.stderr).trim()
        ))
    }
}

impl Topology {
    /// Builds the topology, or says why it cannot be built here.
    fn build() -> Result<Topology, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let names = ["srv", "rtr", "ctr"].map(|role| format!("imdspec-{role}-{tag}"));
        if Command::new("ip").arg("-V").output().is_err() {
            return Err("the `ip` command (iproute2) is not installed".into());
        }
        // The guard exists before the first namespace, so a half-built topology is removed.
        let topo = Topology { names };
        let [s, r, c] = &topo.names;
        for n in &topo.names {
            ip(&["netns", "add", n])?;
            ip(&["-n", n, "link", "set", "lo", "up"])?;
        }
        ip(&[
            "-n", s, "link", "add", "s0", "type", "veth", "peer", "name", "r0", "netns", r,
        ])?;
        ip(&[
            "-n", r, "link", "add", "r1", "type", "veth", "peer", "name", "c0", "netns", c,
        ])?;
        for (ns, link, v4, v6) in ADDRESSES {
            let n = &topo.names[ns];
            ip(&["-n", n, "addr", "add", v4, "dev", link])?;
            // nodad: the address is usable at once instead of after duplicate detection.
            ip(&["-n", n, "-6", "addr", "add", v6, "dev", link, "nodad"])?;
            ip(&["-n", n, "link", "set", link, "up"])?;
        }
        for (ns, v4, v6) in ROUTES {
            let n = &topo.names[ns];
            ip(&["-n", n, "route", "add", "default", "via", v4])?;
            ip(&["-n", n, "-6", "route", "add", "default", "via", v6])?;
        }
        // Forwarding is per namespace: only the router's is turned on.
        let out = output_within({
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", r, "sh", "-c"]).arg(
                "echo 1 > /proc/sys/net/ipv4/ip_forward && \
                 echo 1 > /proc/sys/net/ipv6/conf/all/forwarding",
            );
            cmd
        });
        if !out.status.success() {
            return Err(format!("router forwarding: {}", text(&out.stderr)));
        }
        Ok(topo)
    }

    /// The prefix that runs a command in namespace `ns`.
    fn exec(&self, ns: usize) -> Vec<&str> {
        vec!["ip", "netns", "exec", &self.names[ns]]
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Deleting a namespace removes its veth ends (and with them their peers).
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}

/// The topology, or `None` outside CI when this machine cannot make namespaces.
fn topology() -> Option<Topology> {
    match Topology::build() {
        Ok(t) => Some(t),
        Err(why) => {
            let ci = std::env::var("CI").unwrap_or_default();
            assert_ne!(
                ci, "true",
                "CI=true: network namespaces are required for the hop-limit tests: {why}"
            );
            eprintln!("hop-limit namespace tests not run on this machine: {why}");
            None
        }
    }
}

fn url(host: &str) -> String {
    if host.contains(':') {
        format!("http://[{host}]:1338")
    } else {
        format!("http://{host}:1338")
    }
}

/// `imdspec serve` in the server namespace on both families, with this hop limit and a journal.
fn serve(topo: &Topology, hop_limit: &str, journal: &std::path::Path) -> Serve {
    let v4 = format!("{SERVER_V4}:1338");
    let v6 = format!("[{SERVER_V6}]:1338");
    let journal = journal.display().to_string();
    let args = [
        "--listen",
        &v4,
        "--listen",
        &v6,
        "--http-put-response-hop-limit",
        hop_limit,
        "--journal",
        &journal,
    ];
    let server = Serve::start(&topo.exec(SERVER), &args);
    assert_eq!(server.urls, [url(SERVER_V4), url(SERVER_V6)]);
    server
}

/// `imdspec probe --format json` from namespace `ns`.
fn probe(topo: &Topology, ns: usize, endpoint: &str) -> Value {
    let out = imdspec_in(
        &topo.exec(ns),
        &["probe", "--endpoint", endpoint, "--format", "json"],
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("probe {endpoint}: {e}: {}", text(&out.stderr)))
}

fn primary(p: &Value) -> &Value {
    &p["observations"]["endpoints"][0]
}

/// Waits (bounded) until a tokenless GET from `ns` is answered: the routes are in place.
fn wait_reachable(topo: &Topology, ns: usize, endpoint: &str) {
    let mut last = Value::Null;
    for _ in 0..REACH_TRIES {
        last = probe(topo, ns, endpoint);
        if primary(&last)["tokenless_get"]["status"] == 200 {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{endpoint} not reachable from {}: {last:#}", topo.names[ns]);
}

/// Journal lines of answered token PUTs from `peer_ip`: (status, hop_limit).
fn token_puts_from(journal: &std::path::Path, peer_ip: &str) -> Vec<(Value, Value)> {
    std::fs::read_to_string(journal)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["method"] == "PUT" && e["path"] == "/latest/api/token")
        .filter(|e| {
            let peer = e["peer"].as_str().unwrap();
            let ip = peer.rsplit_once(':').unwrap().0;
            ip.trim_matches(['[', ']']) == peer_ip
        })
        .map(|e| (e["status"].clone(), e["hop_limit"].clone()))
        .collect()
}

/// The server's journal file, removed when the test ends.
struct Journal(std::path::PathBuf);

impl Journal {
    fn new(test: &str) -> Journal {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        Journal(std::env::temp_dir().join(format!("imdspec-hop-{test}-{pid}-{n}.jsonl")))
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn hop_limit_1_drops_the_token_answer_two_hops_away_on_both_families() {
    let Some(topo) = topology() else { return };
    let journal = Journal::new("one");
    let _server = serve(&topo, "1", &journal.0);
    for (host, container_ip) in [(SERVER_V4, "198.18.2.2"), (SERVER_V6, "2001:db8:2::2")] {
        let endpoint = url(host);
        wait_reachable(&topo, CONTAINER, &endpoint);
        let p = probe(&topo, CONTAINER, &endpoint);
        let seen = primary(&p);
        // IMDSv1 gets through; the token answer does not.
        assert_eq!(seen["tokenless_get"]["status"], 200, "{endpoint}: {p:#}");
        assert_eq!(
            seen["token_put"]["outcome"], "response-timeout",
            "{endpoint}: {p:#}"
        );
        assert_eq!(p["imdsv2"], "hop-limited", "{endpoint}: {p:#}");
        assert_eq!(p["hop_limit_too_low"], true, "{endpoint}");
        assert_eq!(p["diagnoses"][0]["code"], "hop-limit", "{endpoint}: {p:#}");
        // The server did answer, with TTL 1: the answer was lost on the way.
        let puts = token_puts_from(&journal.0, container_ip);
        assert!(
            !puts.is_empty(),
            "{endpoint}: no token PUT from the container"
        );
        assert!(
            puts.iter()
                .all(|(status, hops)| *status == 200 && *hops == 1),
            "{endpoint}: {puts:?}"
        );
        // One hop away, on the router, the same limit lets the token through.
        let near = probe(&topo, ROUTER, &endpoint);
        assert_eq!(near["imdsv2"], "works", "{endpoint}: {near:#}");
        assert_eq!(primary(&near)["token_put"]["status"], 200, "{endpoint}");
    }
    // The human probe leads with the diagnosis and gives the fix.
    let out = imdspec_in(
        &topo.exec(CONTAINER),
        &["probe", "--endpoint", &url(SERVER_V4)],
    );
    let human = text(&out.stdout);
    let first = human.lines().next().unwrap_or_default();
    assert!(first.contains("hop limit too low"), "{human}");
    assert!(human.contains("--http-put-response-hop-limit 2"), "{human}");
}

#[test]
fn hop_limit_2_lets_the_token_answer_reach_the_container_on_both_families() {
    let Some(topo) = topology() else { return };
    let journal = Journal::new("two");
    let _server = serve(&topo, "2", &journal.0);
    for (host, container_ip) in [(SERVER_V4, "198.18.2.2"), (SERVER_V6, "2001:db8:2::2")] {
        let endpoint = url(host);
        wait_reachable(&topo, CONTAINER, &endpoint);
        let p = probe(&topo, CONTAINER, &endpoint);
        let seen = primary(&p);
        assert_eq!(seen["token_put"]["status"], 200, "{endpoint}: {p:#}");
        assert_eq!(seen["tokenless_get"]["status"], 200, "{endpoint}");
        assert_eq!(p["imdsv2"], "works", "{endpoint}: {p:#}");
        assert_eq!(p["hop_limit_too_low"], false, "{endpoint}");
        let puts = token_puts_from(&journal.0, container_ip);
        assert!(
            !puts.is_empty() && puts.iter().all(|(_, hops)| *hops == 2),
            "{endpoint}: {puts:?}"
        );
    }
}

/// `imdspec run --endpoint … --format json EXTRA…` from the container, the server behind hop
/// limit 1 over IPv4: the exit code and the JSON report (`None` as [`topology`]).
fn run_from_the_container_behind_hop_limit_1(extra: &[&str]) -> Option<(Option<i32>, Value)> {
    let topo = topology()?;
    let journal = Journal::new("run");
    let _server = serve(&topo, "1", &journal.0);
    let endpoint = url(SERVER_V4);
    wait_reachable(&topo, CONTAINER, &endpoint);
    let mut args = vec!["run", "--endpoint", &endpoint, "--format", "json"];
    args.extend(extra);
    let out = imdspec_in(&topo.exec(CONTAINER), &args);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    Some((out.status.code(), report))
}

/// A conformance run that never obtained a token cannot say PASS (issue #20): it ends
/// INCONCLUSIVE (exit 4), the token cases are inconclusive, and the report names the fix.
#[test]
fn run_from_a_container_behind_hop_limit_1_is_inconclusive_with_the_fix() {
    let Some((code, report)) = run_from_the_container_behind_hop_limit_1(&[]) else {
        return;
    };
    assert_eq!(code, Some(4), "{:#}", report["summary"]);
    assert_eq!(report["exit_code"], 4, "{:#}", report["summary"]);
    assert_eq!(report["verdict"], "INCONCLUSIVE", "{:#}", report["summary"]);
    assert_eq!(case_outcome(&report, "token.put.ok"), "inconclusive");
    assert!(
        report
            .to_string()
            .contains("--http-put-response-hop-limit 2"),
        "the report names the fix: {:#}",
        report["summary"]
    );
}

/// Declaring the position (`--http-put-response-hop-limit 1`) turns the same cases into
/// expected skips, and the run passes.
#[test]
fn declared_hop_limit_1_from_the_container_makes_token_cases_expected_skips() {
    let Some((code, report)) =
        run_from_the_container_behind_hop_limit_1(&["--http-put-response-hop-limit", "1"])
    else {
        return;
    };
    assert_eq!(code, Some(0), "{:#}", report["summary"]);
    assert_eq!(case_outcome(&report, "token.put.ok"), "skip");
    assert!(
        report["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .all(|c| c["outcome"] != "inconclusive")
    );
}

fn case_outcome<'a>(report: &'a Value, id: &str) -> &'a str {
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id}"))["outcome"]
        .as_str()
        .expect("outcome")
}
