//! The metadata path tree built from an [`Instance`]: directories, leaves, and the version
//! ("since") and option gates that decide what each request can see.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::body::{Body, ec2_json};
pub(crate) use crate::categories::Gate;
use crate::categories::{CATEGORIES, Category, Item, LISTING_ORDER};
use crate::clock::Timestamp;
use crate::instance::{Credentials, Instance};
use crate::version::Version;

/// One line of a directory listing and the child it leads to.
#[derive(Clone, Debug)]
pub(crate) struct Child {
    /// The line as served (`iam/`, `0=my-key`, `meta-data`).
    pub line: String,
    /// The path segment it names.
    pub segment: String,
    pub since: Version,
    pub gate: Gate,
}

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Dir { children: Vec<Child> },
    Leaf { body: Body },
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub node: Node,
    pub since: Version,
    pub gate: Gate,
}

/// The whole path space under one version prefix, keyed by the path below it
/// (`""` is the version root, `meta-data/iam` a directory).
#[derive(Clone, Debug)]
pub(crate) struct Tree {
    pub nodes: HashMap<String, Entry>,
    pub last_modified: String,
    launch: Timestamp,
    instance: Instance,
}

struct Builder {
    nodes: HashMap<String, Entry>,
}

impl Builder {
    fn dir_entry(&mut self, path: &str, since: Version, gate: Gate) {
        let e = self.nodes.entry(path.to_owned()).or_insert(Entry {
            node: Node::Dir {
                children: Vec::new(),
            },
            since,
            gate,
        });
        e.since = e.since.min(since);
        if gate == Gate::Always {
            e.gate = Gate::Always;
        }
    }

    /// Adds one item of `category`: its leaf (or empty directory) and every parent
    /// directory, with listing lines.
    fn add(&mut self, category: &Category, item: Item) {
        let (since, gate) = (category.since, category.gate);
        // Segments with the `{…}`s filled in; a name holding `/` spans several segments, as a
        // path does. An override of how a name is listed applies to its last segment.
        let mut names = item.names.into_iter();
        let mut segments: Vec<(String, Option<String>)> = Vec::new();
        for part in category.path.trim_end_matches('/').split('/') {
            if part.starts_with('{') {
                let (name, line) = names.next().unwrap_or_default();
                let pieces: Vec<&str> = name.split('/').collect();
                let last = pieces.len() - 1;
                for (n, piece) in pieces.into_iter().enumerate() {
                    let line = if n == last { line.clone() } else { None };
                    segments.push((piece.to_owned(), line));
                }
            } else {
                segments.push((part.to_owned(), None));
            }
        }
        let path = segments
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>()
            .join("/");
        self.dir_entry("", since, gate);
        for depth in 0..segments.len() {
            let (segment, line) = &segments[depth];
            let parent = segments[..depth]
                .iter()
                .map(|(s, _)| s.as_str())
                .collect::<Vec<_>>()
                .join("/");
            let here = if parent.is_empty() {
                segment.clone()
            } else {
                format!("{parent}/{segment}")
            };
            let last = depth + 1 == segments.len();
            let is_dir = !last || item.body.is_none();
            let text = match line {
                Some(l) => l.clone(),
                None if parent.is_empty() => segment.clone(),
                None if is_dir => format!("{segment}/"),
                None => segment.clone(),
            };
            if let Some(Entry {
                node: Node::Dir { children },
                ..
            }) = self.nodes.get_mut(&parent)
            {
                match children.iter_mut().find(|c| c.segment == *segment) {
                    Some(c) => {
                        c.since = c.since.min(since);
                        if gate == Gate::Always {
                            c.gate = Gate::Always;
                        }
                    }
                    None => children.push(Child {
                        line: text,
                        segment: segment.clone(),
                        since,
                        gate,
                    }),
                }
            }
            if is_dir {
                self.dir_entry(&here, since, gate);
            }
        }
        if let Some(body) = item.body {
            self.nodes.insert(
                path,
                Entry {
                    node: Node::Leaf { body },
                    since,
                    gate,
                },
            );
        }
    }
}

impl Tree {
    /// Builds the tree for `instance` from the category table ([`CATEGORIES`]).
    pub fn build(instance: &Instance) -> Tree {
        let i = instance;
        let mut b = Builder {
            nodes: HashMap::new(),
        };
        for category in CATEGORIES {
            for item in category.items(i) {
                b.add(category, item);
            }
        }
        for (path, entry) in &mut b.nodes {
            let Node::Dir { children } = &mut entry.node else {
                continue;
            };
            match LISTING_ORDER.iter().find(|(dir, _)| dir == path) {
                Some((_, order)) => children.sort_by_key(|c| {
                    order
                        .iter()
                        .position(|s| *s == c.segment)
                        .unwrap_or(order.len())
                }),
                None => children.sort_by(|a, b| a.line.cmp(&b.line)),
            }
        }
        let launch = Timestamp::parse_iso8601(&i.launch_time).unwrap_or_default();
        Tree {
            nodes: b.nodes,
            last_modified: launch.to_http_date(),
            launch,
            instance: i.clone(),
        }
    }

    /// Renders a leaf body at time `now`.
    pub fn render(&self, body: &Body, now: Timestamp) -> Bytes {
        let i = &self.instance;
        match body {
            Body::Static(b) => b.clone(),
            Body::IamInfo => {
                let Some(role) = &i.iam else {
                    return Bytes::new();
                };
                let (updated, _) = credential_times(&role.credentials, self.launch, now);
                Bytes::from(ec2_json(&[
                    ("Code", json!("Success")),
                    ("LastUpdated", json!(updated)),
                    ("InstanceProfileArn", json!(role.instance_profile_arn)),
                    ("InstanceProfileId", json!(role.instance_profile_id)),
                ]))
            }
            Body::RoleCredentials { extended } => {
                let Some(role) = &i.iam else {
                    return Bytes::new();
                };
                let mut doc = credentials_fields(&role.credentials, self.launch, now);
                if *extended {
                    doc.push(("AccountId", json!(i.account_id)));
                }
                Bytes::from(ec2_json(&doc))
            }
            Body::IdentityInfo => {
                let Some(c) = &i.identity_credentials else {
                    return Bytes::new();
                };
                let (updated, _) = credential_times(c, self.launch, now);
                Bytes::from(ec2_json(&[
                    ("Code", json!("Success")),
                    ("LastUpdated", json!(updated)),
                    ("AccountId", json!(i.account_id)),
                ]))
            }
            Body::IdentityCredentials => {
                let Some(c) = &i.identity_credentials else {
                    return Bytes::new();
                };
                Bytes::from(ec2_json(&credentials_fields(c, self.launch, now)))
            }
        }
    }
}

/// Credentials rotate hourly (offset by launch time) and expire six hours after issue.
fn credential_times(c: &Credentials, launch: Timestamp, now: Timestamp) -> (String, String) {
    let period = 3600;
    let now_s = now.as_secs().max(launch.as_secs());
    let issued = now_s - (now_s - launch.as_secs()) % period;
    let updated = c
        .last_updated
        .clone()
        .unwrap_or_else(|| Timestamp::from_secs(issued).to_iso8601());
    let expires = c
        .expiration
        .clone()
        .unwrap_or_else(|| Timestamp::from_secs(issued + 6 * 3600).to_iso8601());
    (updated, expires)
}

fn credentials_fields(
    c: &Credentials,
    launch: Timestamp,
    now: Timestamp,
) -> Vec<(&'static str, Value)> {
    let (updated, expires) = credential_times(c, launch, now);
    vec![
        ("Code", json!("Success")),
        ("LastUpdated", json!(updated)),
        ("Type", json!("AWS-HMAC")),
        ("AccessKeyId", json!(c.access_key_id)),
        ("SecretAccessKey", json!(c.secret_access_key)),
        ("Token", json!(c.token)),
        ("Expiration", json!(expires)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_rotate_hourly_and_last_six_hours() {
        let c = Credentials::default();
        let launch = Timestamp::parse_iso8601("2026-01-15T09:30:00Z").unwrap();
        let now = Timestamp::parse_iso8601("2026-01-15T12:45:10Z").unwrap();
        let (u, e) = credential_times(&c, launch, now);
        assert_eq!(u, "2026-01-15T12:30:00Z");
        assert_eq!(e, "2026-01-15T18:30:00Z");
    }
}
