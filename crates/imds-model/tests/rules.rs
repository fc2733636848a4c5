//! The spec's rules, one request at a time, through `Model::handle`.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use imds_model::{
    Clock, HttpTokens, Instance, ManualClock, MetadataOptions, Model, Timestamp, Toggle, TokenKey,
};

struct Fixture {
    imds: RefCell<Model>,
    clock: Arc<ManualClock>,
}

fn fixture(options: MetadataOptions) -> Fixture {
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_768_470_000)));
    let imds = RefCell::new(Model::new(
        options,
        Instance::default(),
        &TokenKey::new([9; 32]),
    ));
    Fixture { imds, clock }
}

fn required() -> MetadataOptions {
    MetadataOptions {
        http_tokens: HttpTokens::Required,
        ..MetadataOptions::default()
    }
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

impl Fixture {
    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .imds
            .borrow_mut()
            .handle(&req.body(()).unwrap(), self.clock.now());
        Answer {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: String::from_utf8_lossy(resp.body()).into_owned(),
        }
    }

    fn token(&self, ttl: &str) -> String {
        let a = self.send(
            "PUT",
            "/latest/api/token",
            &[("x-aws-ec2-metadata-token-ttl-seconds", ttl)],
        );
        assert_eq!(a.status, 200);
        a.body
    }

    fn get(&self, path: &str, token: Option<&str>) -> Answer {
        match token {
            Some(t) => self.send("GET", path, &[("x-aws-ec2-metadata-token", t)]),
            None => self.send("GET", path, &[]),
        }
    }
}

fn header<'a>(a: &'a Answer, name: &str) -> Option<&'a str> {
    a.headers.get(name).map(|v| v.to_str().unwrap())
}

#[test]
fn token_put_echoes_ttl_and_looks_like_ec2() {
    let f = fixture(MetadataOptions::default());
    let a = f.send(
        "PUT",
        "/latest/api/token",
        &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        header(&a, "x-aws-ec2-metadata-token-ttl-seconds"),
        Some("21600")
    );
    assert_eq!(header(&a, "content-type"), Some("text/plain"));
    assert_eq!(header(&a, "server"), Some("EC2ws"));
    assert_eq!(a.body.len(), 56);
    assert!(!a.body.ends_with('\n'));
}

#[test]
fn bad_ttls_are_400() {
    let f = fixture(MetadataOptions::default());
    assert_eq!(f.send("PUT", "/latest/api/token", &[]).status, 400);
    for ttl in ["0", "21601", "-1", "abc", ""] {
        let a = f.send(
            "PUT",
            "/latest/api/token",
            &[("x-aws-ec2-metadata-token-ttl-seconds", ttl)],
        );
        assert_eq!(a.status, 400, "ttl {ttl:?}");
    }
}

#[test]
fn token_path_variants() {
    let f = fixture(MetadataOptions::default());
    let ttl = [("x-aws-ec2-metadata-token-ttl-seconds", "60")];
    let a = f.send("PUT", "/latest/api/token/", &ttl);
    assert_eq!((a.status, a.body.as_str()), (403, ""));
    assert_eq!(f.send("PUT", "/2021-03-23/api/token", &ttl).status, 403);
    let a = f.send("GET", "/latest/api/token", &[]);
    assert_eq!(a.status, 405);
    assert_eq!(header(&a, "allow"), Some("OPTIONS, PUT"));
    let xff = [
        ("x-aws-ec2-metadata-token-ttl-seconds", "60"),
        ("x-forwarded-for", "10.0.0.1"),
    ];
    assert_eq!(f.send("PUT", "/latest/api/token", &xff).status, 403);
}

#[test]
fn auth_matrix() {
    for tokens in [HttpTokens::Optional, HttpTokens::Required] {
        let f = fixture(MetadataOptions {
            http_tokens: tokens,
            ..MetadataOptions::default()
        });
        let t = f.token("21600");
        let path = "/latest/meta-data/instance-id";
        let a = f.get(path, Some(&t));
        assert_eq!(a.status, 200);
        assert_eq!(a.body, "i-0123456789abcdef0");
        assert_eq!(
            header(&a, "x-aws-ec2-metadata-token-ttl-seconds"),
            Some("21600")
        );
        let tokenless = f.get(path, None);
        let want = if tokens == HttpTokens::Required {
            401
        } else {
            200
        };
        assert_eq!(tokenless.status, want);
        assert!(header(&tokenless, "x-aws-ec2-metadata-token-ttl-seconds").is_none());
        assert_eq!(f.get(path, Some("garbage")).status, 401);
        f.clock.advance(Duration::from_secs(1));
        let later = f.get(path, Some(&t));
        assert_eq!(
            header(&later, "x-aws-ec2-metadata-token-ttl-seconds"),
            Some("21599")
        );
    }
}

#[test]
fn tokens_expire_exactly_at_ttl() {
    let f = fixture(required());
    let t = f.token("2");
    f.clock.advance(Duration::from_millis(1999));
    assert_eq!(f.get("/latest/meta-data/ami-id", Some(&t)).status, 200);
    f.clock.advance(Duration::from_millis(1));
    assert_eq!(f.get("/latest/meta-data/ami-id", Some(&t)).status, 401);
}

#[test]
fn not_found_carries_the_remaining_ttl() {
    let f = fixture(MetadataOptions::default());
    let t = f.token("100");
    let a = f.get("/latest/meta-data/nope", Some(&t));
    assert_eq!(a.status, 404);
    assert_eq!(header(&a, "content-type"), Some("text/html"));
    assert!(a.body.contains("<title>404 - Not Found</title>"));
    assert_eq!(
        header(&a, "x-aws-ec2-metadata-token-ttl-seconds"),
        Some("100")
    );
}

#[test]
fn endpoint_disabled_is_403_everywhere() {
    let f = fixture(MetadataOptions {
        http_endpoint: Toggle::Disabled,
        ..MetadataOptions::default()
    });
    let put = f.send(
        "PUT",
        "/latest/api/token",
        &[("x-aws-ec2-metadata-token-ttl-seconds", "60")],
    );
    assert_eq!(put.status, 403);
    assert_eq!(f.get("/latest/meta-data/", None).status, 403);
}

#[test]
fn listings_have_slashes_and_no_final_newline() {
    let f = fixture(MetadataOptions::default());
    let a = f.get("/latest/meta-data/", None);
    assert_eq!(a.status, 200);
    assert!(a.body.lines().any(|l| l == "iam/"));
    assert!(a.body.lines().any(|l| l == "ami-id"));
    assert!(!a.body.ends_with('\n'));
    assert!(
        !a.body.lines().any(|l| l == "tags/"),
        "tags are off by default"
    );
    assert_eq!(f.get("/latest/meta-data", None).body, a.body);
    assert_eq!(
        f.get("/latest/meta-data/public-keys/", None).body,
        "0=imdspec-key"
    );
    assert_eq!(
        f.get("/latest/meta-data/public-keys/0/", None).body,
        "openssh-key"
    );
    let macs = f.get("/latest/meta-data/network/interfaces/macs/", None);
    assert_eq!(macs.body, "0e:49:61:0f:c3:11/");
    let root = f.get("/", None);
    assert!(root.body.starts_with("1.0\n"));
    assert!(root.body.ends_with("\nlatest"));
    assert_eq!(
        f.get("/latest/", None).body,
        "dynamic\nmeta-data\nuser-data"
    );
}

#[test]
fn tags_follow_the_option() {
    let f = fixture(MetadataOptions {
        instance_metadata_tags: Toggle::Enabled,
        ..MetadataOptions::default()
    });
    assert!(
        f.get("/latest/meta-data/", None)
            .body
            .lines()
            .any(|l| l == "tags/")
    );
    assert_eq!(
        f.get("/latest/meta-data/tags/instance", None).body,
        "Environment\nName"
    );
    assert_eq!(
        f.get("/latest/meta-data/tags/instance/Name", None).body,
        "imdspec-reference"
    );
    f.imds.borrow_mut().set_options(MetadataOptions::default());
    assert_eq!(
        f.get("/latest/meta-data/tags/instance/Name", None).status,
        404
    );
    // The listing kept from the build must not show `tags/` once the option is off, and
    // must show it again when it is back on (options change without a rebuild).
    let listed = |f: &Fixture| {
        f.get("/latest/meta-data/", None)
            .body
            .lines()
            .any(|l| l == "tags/")
    };
    assert!(!listed(&f));
    f.imds.borrow_mut().set_options(MetadataOptions {
        instance_metadata_tags: Toggle::Enabled,
        ..MetadataOptions::default()
    });
    assert!(listed(&f));
    assert_eq!(
        f.get("/latest/meta-data/tags/instance/Name", None).status,
        200
    );
}

#[test]
fn dated_versions_serve_only_older_categories() {
    let f = fixture(MetadataOptions::default());
    assert_eq!(f.get("/2009-04-04/meta-data/instance-id", None).status, 200);
    assert_eq!(
        f.get("/2009-04-04/meta-data/placement/region", None).status,
        404
    );
    let listing = f.get("/2009-04-04/meta-data/placement/", None);
    assert_eq!(listing.body, "availability-zone");
    assert_eq!(f.get("/2099-01-01/meta-data/instance-id", None).status, 404);
    assert_eq!(f.get("/1.0/meta-data/mac", None).status, 404);
}

#[test]
fn credentials_are_ec2_formatted_json() {
    let f = fixture(MetadataOptions::default());
    let a = f.get("/latest/meta-data/iam/security-credentials/", None);
    assert_eq!(a.body, "imdspec-role");
    let c = f.get(
        "/latest/meta-data/iam/security-credentials/imdspec-role",
        None,
    );
    assert_eq!(header(&c, "content-type"), Some("text/plain"));
    assert!(
        c.body
            .starts_with("{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : ")
    );
    let v: serde_json::Value = serde_json::from_str(&c.body).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 7);
    assert_eq!(v["Type"], "AWS-HMAC");
}

#[test]
fn head_has_headers_but_no_body() {
    let f = fixture(MetadataOptions::default());
    let a = f.send("HEAD", "/latest/meta-data/instance-id", &[]);
    assert_eq!(a.status, 200);
    assert_eq!(a.body, "");
    assert_eq!(header(&a, "content-length"), Some("19"));
}

#[test]
fn other_methods_on_metadata_are_405() {
    let f = fixture(MetadataOptions::default());
    let a = f.send("POST", "/latest/meta-data/instance-id", &[]);
    assert_eq!(a.status, 405);
    assert_eq!(header(&a, "allow"), Some("GET, HEAD"));
}
