//! Cases written in code: the crawl, cross-path consistency, dated versions, and declared
//! options. Each is registered in the catalogue by `check = "<name>"`.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use imds_model::PartialOptions;
use imds_model::Version;
use imds_model::parse::parse_listing;
use imds_observe::infer::{Evidence, Inferred, infer, needs_tags_dir};
use imds_observe::{CompareOptions, Verdict};

use crate::catalogue::{Format, Presence};
use crate::check::Check;
use crate::client::{Request, Response, reply};
pub use crate::ctx::{Crawl, CrawlNode, Probed};
use crate::ctx::{Recorder, RunCtx, Stop, contradiction};

/// Deepest crawl (segments below the version prefix).
pub const MAX_CRAWL_DEPTH: usize = 10;
/// Most paths one crawl visits.
pub const MAX_CRAWL_NODES: usize = 800;
/// Most entries one listing may have before the crawl calls it endless.
pub const MAX_LISTING_ENTRIES: usize = 1000;
/// Most dated versions visited by the version checks.
const MAX_VERSIONS: usize = 64;
/// Most failures listed per check.
const MAX_FAILURES: usize = 50;

/// Runs `check`.
pub async fn run(check: Check, ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    match check {
        Check::CrawlEntriesResolve => entries_resolve(ctx, rec).await,
        Check::CrawlDirectoriesMarked => directories_marked(ctx, rec, false).await,
        Check::CrawlDeepDirectoriesMarked => directories_marked(ctx, rec, true).await,
        Check::CrawlParentsListChildren => parents_list_children(ctx, rec).await,
        Check::CrawlDocumentedFormat => documented_format(ctx, rec).await,
        Check::CrawlAlwaysPresent => always_present(ctx, rec).await,
        Check::CrawlSubListingNoFinalNewline => sub_listing_no_final_newline(ctx, rec).await,
        Check::CrawlNoDuplicateEntries => no_duplicate_entries(ctx, rec).await,
        Check::IdentityInstanceId => {
            identity(ctx, rec, "instanceId", "meta-data/instance-id").await
        }
        Check::IdentityRegion => identity(ctx, rec, "region", "meta-data/placement/region").await,
        Check::IdentityAvailabilityZone => {
            identity(
                ctx,
                rec,
                "availabilityZone",
                "meta-data/placement/availability-zone",
            )
            .await
        }
        Check::IdentityPrivateIp => identity(ctx, rec, "privateIp", "meta-data/local-ipv4").await,
        Check::IdentityImageId => identity(ctx, rec, "imageId", "meta-data/ami-id").await,
        Check::IdentityInstanceType => {
            identity(ctx, rec, "instanceType", "meta-data/instance-type").await
        }
        Check::IdentityAccountOwner => match ctx.discovery.mac.clone() {
            Some(mac) => {
                let p = format!("meta-data/network/interfaces/macs/{mac}/owner-id");
                identity(ctx, rec, "accountId", &p).await;
            }
            None => rec.stop(Stop::Skip("target has no mac".into())),
        },
        Check::MacListed => mac_listed(ctx, rec).await,
        Check::MacSelf => mac_self(ctx, rec).await,
        Check::AzInRegion => az_in_region(ctx, rec).await,
        Check::LocalIpv4OnEni => local_ipv4_on_eni(ctx, rec).await,
        Check::VersionsNoNewerCategories => versions_no_newer(ctx, rec).await,
        Check::VersionsListedServeInstanceId => versions_serve_instance_id(ctx, rec).await,
        Check::DeclaredHttpTokens => declared_tokens(ctx, rec).await,
        Check::DeclaredHttpEndpoint => declared_endpoint(ctx, rec).await,
        Check::DeclaredInstanceMetadataTags => declared_tags(ctx, rec).await,
        Check::ConsistentAnswers => consistent_answers(ctx, rec).await,
    }
}

/// GET `/latest/{path}` (or an absolute path) with the session token (tokenless in optional
/// mode when there is none); `None` when it could not be sent.
async fn fetch(ctx: &Arc<RunCtx>, rec: &mut Recorder, path: &str) -> Option<Response> {
    let token = ctx.session_or_fallback(rec)?;
    let full = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/latest/{path}")
    };
    let mut req = Request::get(full);
    if let Some(t) = token {
        req = req.token(&t);
    }
    ctx.exchange(rec, None, req).await
}

/// Like [`fetch`], but anything but 200 is a failure; returns the body text.
async fn fetch_ok(ctx: &Arc<RunCtx>, rec: &mut Recorder, path: &str) -> Option<String> {
    let r = fetch(ctx, rec, path).await?;
    if r.status != 200 {
        rec.fail(None, path, "200", r.status.to_string());
        return None;
    }
    Some(r.text())
}

async fn crawl(ctx: &Arc<RunCtx>) -> &Crawl {
    ctx.crawl.get_or_init(|| do_crawl(ctx.clone())).await
}

async fn do_crawl(ctx: Arc<RunCtx>) -> Crawl {
    let mut out = Crawl::default();
    // (path, fetch as dir, line, listed as dir)
    let mut level: Vec<(String, bool, String, bool)> = vec![
        ("meta-data".into(), true, "meta-data".into(), true),
        ("dynamic".into(), true, "dynamic".into(), true),
    ];
    let token = ctx.session.clone();
    let mut depth = 0;
    while !level.is_empty() {
        depth += 1;
        if depth > MAX_CRAWL_DEPTH {
            out.capped = Some(format!(
                "crawl stopped at depth {MAX_CRAWL_DEPTH} (endless nesting?)"
            ));
            break;
        }
        let mut set = tokio::task::JoinSet::new();
        for (i, (path, as_dir, _, _)) in level.iter().enumerate() {
            let url = format!("/latest/{path}{}", if *as_dir { "/" } else { "" });
            let mut req = Request::get(url);
            if let Some(t) = &token {
                req = req.token(t);
            }
            let ctx = ctx.clone();
            set.spawn(async move {
                let result = ctx.client.send(&req).await;
                (i, req, result)
            });
        }
        let mut answers = Vec::new();
        while let Some(j) = set.join_next().await {
            if let Ok(a) = j {
                answers.push(a);
            }
        }
        answers.sort_by_key(|(i, _, _)| *i);
        let mut next = Vec::new();
        for (i, req, result) in answers {
            let (path, as_dir, line, listed_as_dir) = level[i].clone();
            if !matches!(&result, Ok(r) if r.status == 200) && out.odd_exchanges.len() < 10 {
                out.odd_exchanges.push(ctx.record(None, &req, &result));
            }
            let mut node = CrawlNode {
                status: None,
                error: None,
                body: Bytes::new(),
                listing: None,
                listing_error: None,
                line,
                listed_as_dir,
                fetched_as_dir: as_dir,
            };
            match result {
                Err(e) => node.error = Some(e.to_string()),
                Ok(r) => {
                    node.status = Some(r.status);
                    node.body = r.body.clone();
                    if as_dir && r.status == 200 {
                        match parse_listing(&r.body) {
                            Err(e) => node.listing_error = Some(e.to_string()),
                            Ok(l) if l.entries.len() > MAX_LISTING_ENTRIES => {
                                out.capped = Some(format!(
                                    "listing /latest/{path}/ has {} entries (cap {MAX_LISTING_ENTRIES})",
                                    l.entries.len()
                                ));
                            }
                            Ok(l) => {
                                for e in &l.entries {
                                    let child = format!("{path}/{}", e.segment());
                                    let child_dir = e.is_dir
                                        || e.name.contains('=')
                                        || ctx.catalogue.is_documented_dir(&child);
                                    let printed = if e.is_dir {
                                        format!("{}/", e.name)
                                    } else {
                                        e.name.clone()
                                    };
                                    next.push((child, child_dir, printed, e.is_dir));
                                }
                                node.listing = Some(l);
                            }
                        }
                    }
                }
            }
            out.nodes.insert(path, node);
        }
        if out.nodes.len() + next.len() > MAX_CRAWL_NODES {
            out.capped = Some(format!(
                "crawl stopped after {MAX_CRAWL_NODES} paths (endless listing?)"
            ));
            break;
        }
        next.retain(|(p, ..)| !out.nodes.contains_key(p));
        level = next;
    }
    out
}

async fn crawl_or_error<'a>(ctx: &'a Arc<RunCtx>, rec: &mut Recorder) -> Option<&'a Crawl> {
    if ctx.session.is_none() && ctx.session_or_fallback(rec).is_none() {
        return None;
    }
    let c = crawl(ctx).await;
    if let Some(why) = &c.capped {
        rec.error(why.clone());
        rec.exchanges.extend(c.odd_exchanges.iter().cloned());
        return None;
    }
    Some(c)
}

fn cap_failures(rec: &mut Recorder) {
    if rec.failures.len() > MAX_FAILURES {
        let more = rec.failures.len() - MAX_FAILURES;
        rec.failures.truncate(MAX_FAILURES);
        rec.notes.push(format!("{more} more failures not listed"));
    }
}

async fn entries_resolve(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected.push(
        "every entry of every listing under /latest/meta-data/ and /latest/dynamic/ answers 200"
            .into(),
    );
    let Some(c) = crawl_or_error(ctx, rec).await else {
        return;
    };
    for (path, n) in &c.nodes {
        if let Some(e) = &n.error {
            rec.error(format!("/latest/{path}: {e}"));
        } else if n.status != Some(200) {
            let slash = if n.fetched_as_dir { "/" } else { "" };
            rec.fail(
                None,
                format!("/latest/{path}{slash}"),
                format!("200 (listed as {:?})", n.line),
                n.status.map_or("no answer".into(), |s| s.to_string()),
            );
        }
    }
    if !rec.failures.is_empty() || rec.stop.is_some() {
        rec.exchanges.extend(c.odd_exchanges.iter().cloned());
    }
    cap_failures(rec);
}

/// `deep = false`: entries of the top-level `meta-data/` and `dynamic/` listings (captured);
/// `deep = true`: everything below them (mostly never captured, so only should-level).
async fn directories_marked(ctx: &Arc<RunCtx>, rec: &mut Recorder, deep: bool) {
    rec.expected.push(format!(
        "directories {} are listed with a trailing '/' (public-keys' N=name lines excepted), and what is listed with '/' answers a listing",
        if deep { "below the top-level listings" } else { "in the meta-data/ and dynamic/ listings" }
    ));
    let Some(c) = crawl_or_error(ctx, rec).await else {
        return;
    };
    for (path, n) in &c.nodes {
        let depth = path.matches('/').count();
        if depth == 0 || (depth > 1) != deep {
            continue;
        }
        let is_dir = ctx.catalogue.is_documented_dir(path) || n.listing.is_some();
        if is_dir && !n.listed_as_dir && !n.line.contains('=') {
            rec.fail(
                None,
                format!("/latest/{path}"),
                format!("listed as {:?}/", n.line),
                format!("listed as {:?}", n.line),
            );
        }
        if n.listed_as_dir
            && let Some(e) = &n.listing_error
        {
            rec.fail(
                None,
                format!("/latest/{path}/"),
                "a listing".to_owned(),
                e.clone(),
            );
        }
    }
    cap_failures(rec);
}

async fn probed(ctx: &Arc<RunCtx>) -> &Probed {
    ctx.probed
        .get_or_init(|| async {
            let c = crawl(ctx).await;
            let d = &ctx.discovery;
            let mut entries = Vec::new();
            let mut set = tokio::task::JoinSet::new();
            for (i, p) in ctx.catalogue.paths.iter().enumerate() {
                let mut concrete = p.path.clone();
                let mut ok = true;
                for (name, value) in [
                    ("{mac}", &d.mac),
                    ("{role}", &d.role),
                    ("{index}", &d.key_index),
                    ("{key}", &d.tag_key),
                ] {
                    if concrete.contains(name) {
                        match value {
                            Some(v) => concrete = concrete.replace(name, v),
                            None => ok = false,
                        }
                    }
                }
                if !ok || concrete.contains('{') {
                    continue;
                }
                if let Some(n) = c.nodes.get(&concrete) {
                    entries.push((concrete, i, n.status, n.body.clone()));
                    continue;
                }
                let slash = if ctx.catalogue.is_documented_dir(&concrete) {
                    "/"
                } else {
                    ""
                };
                let mut req = Request::get(format!("/latest/{concrete}{slash}"));
                if let Some(t) = &ctx.session {
                    req = req.token(t);
                }
                let client = ctx.client.clone();
                set.spawn(async move {
                    let r = client.send(&req).await.ok();
                    (
                        concrete,
                        i,
                        r.as_ref().map(|r| r.status),
                        r.map(|r| r.body).unwrap_or_default(),
                    )
                });
            }
            while let Some(j) = set.join_next().await {
                if let Ok(e) = j {
                    entries.push(e);
                }
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Probed { entries }
        })
        .await
}

async fn parents_list_children(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected
        .push("every documented path that answers 200 is listed by its parent directory".into());
    let Some(c) = crawl_or_error(ctx, rec).await else {
        return;
    };
    let p = probed(ctx).await;
    for (path, _, status, _) in &p.entries {
        if *status != Some(200) || c.nodes.contains_key(path) {
            continue;
        }
        let Some((parent, name)) = path.rsplit_once('/') else {
            continue;
        };
        if c.nodes.get(parent).is_none_or(|n| n.listing.is_none()) {
            // Its parent is not listed either; that parent's own parent is the one to blame.
            if c.nodes.contains_key(parent) || !parent.contains('/') {
                rec.fail(
                    None,
                    format!("/latest/{path}"),
                    format!("listed by /latest/{parent}/"),
                    "parent answered no listing".to_owned(),
                );
            }
            continue;
        }
        rec.fail(
            None,
            format!("/latest/{path}"),
            format!("listed by /latest/{parent}/ as {name:?} (it answers 200)"),
            "missing from the listing".to_owned(),
        );
    }
    cap_failures(rec);
}

fn format_ok(format: &Format, body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    match format {
        Format::Regex(r) => r
            .is_match(&text)
            .then_some(())
            .ok_or_else(|| format!("matching /{r}/")),
        Format::Lines(r) => {
            let ok = !text.is_empty() && text.split('\n').all(|l| r.is_match(l));
            ok.then_some(())
                .ok_or_else(|| format!("lines matching /{r}/"))
        }
        Format::Enum(words) => words
            .iter()
            .any(|w| *w == text)
            .then_some(())
            .ok_or_else(|| format!("one of {words:?}")),
        Format::JsonKeys(keys) => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(m)) => match keys.iter().find(|k| !m.contains_key(*k)) {
                None => Ok(()),
                Some(k) => Err(format!("a JSON object with key {k:?}")),
            },
            _ => Err(format!("a JSON object with keys {keys:?}")),
        },
        Format::JsonArray => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Array(_)) => Ok(()),
            _ => Err("a JSON array".into()),
        },
    }
}

async fn documented_format(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected.push(
        "every documented path present on the target has the documented format (conformance/paths.toml)".into(),
    );
    let Some(c) = crawl_or_error(ctx, rec).await else {
        return;
    };
    let p = probed(ctx).await;
    let mut seen = HashSet::new();
    let candidates = c
        .nodes
        .iter()
        .filter(|(_, n)| !n.fetched_as_dir)
        .map(|(path, n)| (path.clone(), n.status, n.body.clone()))
        .chain(
            p.entries
                .iter()
                .map(|(path, _, s, b)| (path.clone(), *s, b.clone())),
        );
    for (path, status, body) in candidates {
        if status != Some(200) || !seen.insert(path.clone()) {
            continue;
        }
        let Some(doc) = ctx.catalogue.documented(&path) else {
            continue;
        };
        let Some(format) = &doc.format else {
            continue;
        };
        if let Some(why) = crate::eval::unusable_role_body(&format!("/latest/{path}"), 200, &body) {
            rec.notes.push(format!("/latest/{path} not checked: {why}"));
            continue;
        }
        if let Err(want) = format_ok(format, &body) {
            let shown = ctx
                .redactor
                .body("GET", &format!("/latest/{path}"), 200, &body);
            let shown = if shown.len() > 200 {
                format!("{}…", &shown[..shown.floor_char_boundary(200)])
            } else {
                shown
            };
            rec.fail(None, format!("/latest/{path}"), want, format!("{shown:?}"));
        }
    }
    cap_failures(rec);
}

async fn always_present(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected
        .push("every path documented as present on all instances answers 200".into());
    if ctx.session.is_none() && ctx.session_or_fallback(rec).is_none() {
        return;
    }
    let p = probed(ctx).await;
    for (path, i, status, _) in &p.entries {
        if ctx.catalogue.paths[*i].presence == Presence::Always && *status != Some(200) {
            rec.fail(
                None,
                format!("/latest/{path}"),
                "200".to_owned(),
                status.map_or("no answer".into(), |s| s.to_string()),
            );
        }
    }
}

async fn sub_listing_no_final_newline(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected
        .push("listings below meta-data/ and dynamic/ do not end with a line feed".into());
    let Some(c) = crawl_or_error(ctx, rec).await else {
        return;
    };
    for (path, n) in &c.nodes {
        if path.contains('/') && n.listing.is_some() && n.body.ends_with(b"\n") {
            rec.fail(
                None,
                format!("/latest/{path}/"),
                "no final LF".to_owned(),
                "ends with LF".to_owned(),
            );
        }
    }
    cap_failures(rec);
}

async fn no_duplicate_entries(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected.push("no listing names an entry twice".into());
    let Some(c) = crawl_or_error(ctx, rec).await else {
        return;
    };
    for (path, n) in &c.nodes {
        if let Some(l) = &n.listing {
            let mut seen = HashSet::new();
            for e in &l.entries {
                if !seen.insert(e.segment()) {
                    rec.fail(
                        None,
                        format!("/latest/{path}/"),
                        "each entry once".to_owned(),
                        format!("{:?} twice", e.name),
                    );
                }
            }
        }
    }
}

async fn identity(ctx: &Arc<RunCtx>, rec: &mut Recorder, key: &str, path: &str) {
    rec.expected.push(format!(
        "dynamic/instance-identity/document {key} equals /latest/{path}"
    ));
    let Some(doc) = fetch_ok(ctx, rec, "dynamic/instance-identity/document").await else {
        return;
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&doc) else {
        rec.fail(None, "identity document", "JSON", "not JSON");
        return;
    };
    let want = doc.get(key).cloned().unwrap_or(serde_json::Value::Null);
    let Some(r) = fetch(ctx, rec, path).await else {
        return;
    };
    if let Some(why) = ctx.absent_by_age(path, r.status) {
        rec.stop(Stop::Skip(why));
        return;
    }
    match (r.status, &want) {
        (404, serde_json::Value::Null) => {}
        (200, serde_json::Value::String(s)) if r.text().trim() == s => {}
        (status, _) => rec.fail(
            None,
            format!("/latest/{path}"),
            format!("{want} (the document's {key})"),
            if status == 200 {
                format!("{:?}", r.text())
            } else {
                format!("status {status}")
            },
        ),
    }
}

async fn mac_listed(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected
        .push("meta-data/mac is listed in network/interfaces/macs/ (with '/')".into());
    let Some(mac) = fetch_ok(ctx, rec, "meta-data/mac").await else {
        return;
    };
    let Some(list) = fetch_ok(ctx, rec, "meta-data/network/interfaces/macs/").await else {
        return;
    };
    let want = format!("{}/", mac.trim());
    if !list.split('\n').any(|l| l == want) {
        rec.fail(
            None,
            "network/interfaces/macs/",
            format!("an entry {want:?}"),
            format!("{list:?}"),
        );
    }
}

async fn mac_self(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected
        .push("network/interfaces/macs/<mac>/mac equals meta-data/mac".into());
    let Some(mac) = fetch_ok(ctx, rec, "meta-data/mac").await else {
        return;
    };
    let mac = mac.trim().to_owned();
    let p = format!("meta-data/network/interfaces/macs/{mac}/mac");
    let Some(inner) = fetch_ok(ctx, rec, &p).await else {
        return;
    };
    if inner.trim() != mac {
        rec.fail(None, p, format!("{mac:?}"), format!("{inner:?}"));
    }
}

async fn az_in_region(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected
        .push("placement/availability-zone starts with placement/region".into());
    let Some(r) = fetch(ctx, rec, "meta-data/placement/region").await else {
        return;
    };
    if let Some(why) = ctx.absent_by_age("meta-data/placement/region", r.status) {
        rec.stop(Stop::Skip(why));
        return;
    }
    if r.status != 200 {
        rec.fail(
            None,
            "meta-data/placement/region",
            "200",
            r.status.to_string(),
        );
        return;
    }
    let region = r.text();
    let Some(az) = fetch_ok(ctx, rec, "meta-data/placement/availability-zone").await else {
        return;
    };
    if !(az.starts_with(region.trim()) && az.len() > region.trim().len()) {
        rec.fail(
            None,
            "placement/availability-zone",
            format!("a zone of {region:?}"),
            format!("{az:?}"),
        );
    }
}

async fn local_ipv4_on_eni(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected
        .push("meta-data/local-ipv4 is one of network/interfaces/macs/<mac>/local-ipv4s".into());
    let Some(r) = fetch(ctx, rec, "meta-data/local-ipv4").await else {
        return;
    };
    if r.status == 404 {
        rec.stop(Stop::Skip("target has no local-ipv4 (IPv6-only?)".into()));
        return;
    }
    let local = r.text();
    let Some(mac) = fetch_ok(ctx, rec, "meta-data/mac").await else {
        return;
    };
    let p = format!(
        "meta-data/network/interfaces/macs/{}/local-ipv4s",
        mac.trim()
    );
    let Some(list) = fetch_ok(ctx, rec, &p).await else {
        return;
    };
    if !list.split('\n').any(|l| l == local.trim()) {
        rec.fail(None, p, format!("contains {local:?}"), format!("{list:?}"));
    }
}

async fn listed_versions(ctx: &Arc<RunCtx>, rec: &mut Recorder) -> Option<Vec<String>> {
    let body = fetch_ok(ctx, rec, "/").await?;
    let l = match parse_listing(body.as_bytes()) {
        Ok(l) => l,
        Err(e) => {
            rec.fail(None, "/", "a listing of versions", e.to_string());
            return None;
        }
    };
    Some(
        l.entries
            .into_iter()
            .map(|e| e.name)
            .filter(|v| Version::parse(v).is_some())
            .take(MAX_VERSIONS)
            .collect(),
    )
}

async fn versions_no_newer(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected.push(
        "/<version>/meta-data/ lists no category released after <version> (since-versions from conformance/paths.toml)".into(),
    );
    let Some(versions) = listed_versions(ctx, rec).await else {
        return;
    };
    for v in versions {
        let Some(at) = Version::parse(&v).filter(|v| *v != Version::LATEST) else {
            continue;
        };
        let Some(body) = fetch_ok(ctx, rec, &format!("/{v}/meta-data/")).await else {
            continue;
        };
        let Ok(l) = parse_listing(body.as_bytes()) else {
            rec.fail(
                None,
                format!("/{v}/meta-data/"),
                "a listing",
                format!("{body:?}"),
            );
            continue;
        };
        for e in &l.entries {
            if let Some(since) = ctx.catalogue.since_of("meta-data", e.segment())
                && since > at
            {
                rec.fail(
                    None,
                    format!("/{v}/meta-data/"),
                    format!("no {:?} (released {since})", e.name),
                    format!("lists {:?}", e.name),
                );
            }
        }
    }
    cap_failures(rec);
}

async fn versions_serve_instance_id(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected
        .push("every version listed at / serves meta-data/instance-id".into());
    let Some(versions) = listed_versions(ctx, rec).await else {
        return;
    };
    if !versions.iter().any(|v| v == "latest") {
        rec.fail(None, "/", "an entry \"latest\"", format!("{versions:?}"));
    }
    for v in versions {
        let _ = fetch_ok(ctx, rec, &format!("/{v}/meta-data/instance-id")).await;
    }
    cap_failures(rec);
}

/// Fails when the declared option (the only one set in `declared`) differs from the one
/// inferred, by the observers' one comparison.
fn declared_mismatch<T>(
    rec: &mut Recorder,
    name: &str,
    declared: PartialOptions,
    inferred: Inferred<T>,
    observed: impl FnOnce(Option<T>) -> PartialOptions,
) {
    let evidence = inferred.reason;
    let compared = declared.compare(&observed(inferred.value));
    let Some(pair) = compared.pairs.iter().find(|p| p.declared.is_some()) else {
        rec.stop(Stop::Skip(format!("{name} not declared")));
        return;
    };
    match pair.verdict() {
        Verdict::NotDeclared => rec.stop(Stop::Skip(format!("{name} not declared"))),
        Verdict::Unchecked => rec.stop(Stop::Skip(format!(
            "{name} cannot be told from the answers ({evidence})"
        ))),
        Verdict::Holds => {}
        Verdict::Differs => rec.fail(
            None,
            name,
            format!(
                "{name}={} (declared)",
                pair.declared.as_deref().unwrap_or("")
            ),
            format!(
                "behaves as {name}={}: {evidence}",
                pair.observed.as_deref().unwrap_or("")
            ),
        ),
    }
}

/// A token PUT and a tokenless GET of this check's own, recorded; a failed exchange is
/// evidence here (a dropped PUT answer, a reset), not an error of the case.
async fn first_evidence(ctx: &Arc<RunCtx>, rec: &mut Recorder) -> Evidence {
    let mut send = async |req: Request| {
        let result = ctx.send_guarded(&req).await;
        rec.exchanges.push(ctx.record(None, &req, &result));
        reply(&result)
    };
    let put = send(Request::token_put(60)).await;
    let get = send(Request::get("/latest/meta-data/instance-id")).await;
    Evidence::first(put, get)
}

async fn declared_tokens(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected.push(
        "the declared HttpTokens holds: tokenless GET answers 200 (optional) or 401 (required)"
            .into(),
    );
    if ctx.declared.http_tokens.is_none() {
        rec.stop(Stop::Skip("HttpTokens not declared".into()));
        return;
    }
    let evidence = first_evidence(ctx, rec).await;
    let inferred = infer(&evidence).http_tokens;
    let declared = PartialOptions {
        http_tokens: ctx.declared.http_tokens,
        ..PartialOptions::default()
    };
    declared_mismatch(rec, "HttpTokens", declared, inferred, |v| PartialOptions {
        http_tokens: v,
        ..PartialOptions::default()
    });
}

async fn declared_endpoint(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected.push(
        "the declared HttpEndpoint holds: disabled answers 403 to the token PUT (the documented sign; GETs are only reported)".into(),
    );
    if ctx.declared.http_endpoint.is_none() {
        rec.stop(Stop::Skip("HttpEndpoint not declared".into()));
        return;
    }
    let evidence = first_evidence(ctx, rec).await;
    let inferred = infer(&evidence).http_endpoint;
    let declared = PartialOptions {
        http_endpoint: ctx.declared.http_endpoint,
        ..PartialOptions::default()
    };
    declared_mismatch(rec, "HttpEndpoint", declared, inferred, |v| {
        PartialOptions {
            http_endpoint: v,
            ..PartialOptions::default()
        }
    });
}

async fn declared_tags(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected.push(
        "the declared InstanceMetadataTags holds: meta-data/tags/instance lists tags (enabled), or it or meta-data/tags/ answers 404 (disabled); an empty 200 alone cannot tell".into(),
    );
    if ctx.declared.instance_metadata_tags.is_none() {
        rec.stop(Stop::Skip("InstanceMetadataTags not declared".into()));
        return;
    }
    let mut evidence = first_evidence(ctx, rec).await;
    let Some(r) = fetch(ctx, rec, "meta-data/tags/instance").await else {
        return;
    };
    let tags = reply(&Ok(r));
    evidence.tags_instance = Some(tags);
    if needs_tags_dir(tags) {
        let Some(d) = fetch(ctx, rec, "meta-data/tags/").await else {
            return;
        };
        evidence.tags_dir = Some(reply(&Ok(d)));
    }
    let inferred = infer(&evidence).instance_metadata_tags;
    let declared = ctx.declared.instance_metadata_tags;
    if !inferred.conclusive && inferred.value.is_some() {
        // A 404 fits "disabled", and perhaps "enabled with no tags" too (SPEC §12.19): it
        // agrees with a declared "disabled" and cannot refute a declared "enabled".
        if declared == inferred.value {
            rec.notes.push(format!(
                "consistent with the declared value: {}",
                inferred.reason
            ));
        } else {
            rec.stop(Stop::Inconclusive(format!(
                "InstanceMetadataTags declared enabled, but {}: no tags set, or tags off?",
                inferred.reason
            )));
        }
        return;
    }
    let declared = PartialOptions {
        instance_metadata_tags: declared,
        ..PartialOptions::default()
    };
    declared_mismatch(rec, "InstanceMetadataTags", declared, inferred, |v| {
        PartialOptions {
            instance_metadata_tags: v,
            ..PartialOptions::default()
        }
    });
}

/// Detection's rounds and one more PUT and GET of its own: every answer to the same request
/// should be the same while the options are unchanged; answers of the cases that contradicted
/// the detection count too.
async fn consistent_answers(ctx: &Arc<RunCtx>, rec: &mut Recorder) {
    rec.expected.push(
        "the token PUT and the tokenless GET of meta-data/instance-id get the same answer each time (detection's rounds and one more), and no later answer contradicts the detection".into(),
    );
    let mut send = async |req: Request| {
        let result = ctx.send_guarded(&req).await;
        rec.exchanges.push(ctx.record(None, &req, &result));
        reply(&result)
    };
    let mut puts = ctx.answers.puts.clone();
    let mut gets = ctx.answers.gets.clone();
    // A hop-limited PUT would only wait out its timeout again.
    if !ctx.hop_limited {
        puts.push(send(Request::token_put(60)).await);
    }
    gets.push(send(Request::get("/latest/meta-data/instance-id")).await);
    for (what, replies) in [
        ("token PUT", &puts),
        ("tokenless GET /latest/meta-data/instance-id", &gets),
    ] {
        if let Some(c) = contradiction(replies) {
            rec.fail(
                None,
                what,
                "the same answer each time",
                format!("answered {c}"),
            );
        }
    }
    for later in &ctx.answers.later {
        rec.fail(
            None,
            "answers after detection",
            "what detection found",
            later,
        );
    }
}
