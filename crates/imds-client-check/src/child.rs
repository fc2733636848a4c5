//! Running the client under test: its environment (always the loopback endpoint), a timeout
//! that kills it and everything it started, and a capped tail of its output.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::process::Stdio;
use std::time::{Duration, Instant};

use imds_observe::redact::redact_text;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::judge::ChildExit;
use crate::scenario::ENDPOINT_VAR;

/// Inherited variables that would steer the client away from the scenario: credentials,
/// profiles, IMDS settings, proxies. Every inherited `AWS_*` variable goes too.
const DROPPED: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// The environment of one client run: the inherited one without `AWS_*` and proxy
/// variables, credential files pointed at `/dev/null`, the scenario's variables, and last
/// (so nothing can replace it) the endpoint of the scenario's loopback server.
pub fn child_env(
    inherited: impl IntoIterator<Item = (OsString, OsString)>,
    endpoint: &str,
    scenario: &BTreeMap<String, String>,
) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = inherited
        .into_iter()
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            !k.starts_with("AWS_") && !DROPPED.contains(&k.as_ref())
        })
        .collect();
    for k in ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"] {
        env.insert(k.into(), "/dev/null".into());
    }
    for (k, v) in scenario {
        env.insert(k.into(), v.into());
    }
    env.insert(ENDPOINT_VAR.into(), endpoint.into());
    env
}

/// Where `program` would be started from: itself when it names a path, else the first
/// executable of that name on `PATH`. Checked once before any scenario runs.
pub fn find_program(program: &str) -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::PermissionsExt as _;
    let runnable = |p: &std::path::Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = std::path::PathBuf::from(program);
        return if runnable(&p) {
            Ok(p)
        } else if p.exists() {
            Err(format!("{program} is not an executable file"))
        } else {
            Err(format!("{program} does not exist"))
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| runnable(p))
        .ok_or_else(|| format!("{program} is not on PATH"))
}

/// How a client run went.
#[derive(Debug)]
pub struct ChildRun {
    /// How it ended.
    pub exit: ChildExit,
    /// The last lines of its standard error and output (secrets redacted).
    pub output: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

/// Output kept per stream; the client is not ours, so its output is capped.
const OUTPUT_CAP: usize = 16 * 1024;
/// Output lines shown per run.
const OUTPUT_LINES: usize = 12;

async fn tail(mut r: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut keep = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return keep,
            Ok(n) => {
                keep.extend_from_slice(&buf[..n]);
                if keep.len() > OUTPUT_CAP {
                    keep.drain(..keep.len() - OUTPUT_CAP);
                }
            }
        }
    }
}

/// Longest output line shown, in characters.
const OUTPUT_LINE_CHARS: usize = 240;

fn shorten(line: &str) -> String {
    match line.char_indices().nth(OUTPUT_LINE_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        // The group may already be gone; there is nothing to do about that.
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// Runs `command` with exactly `env`, in its own process group, killing the group when
/// `timeout` passes (and after the client exits, so nothing it started outlives the run).
pub async fn run(
    command: &[String],
    env: &BTreeMap<OsString, OsString>,
    timeout: Duration,
) -> std::io::Result<ChildRun> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| std::io::Error::other("no command given"))?;
    let started = Instant::now();
    let mut child = Command::new(OsStr::new(program))
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start {program:?}: {e}")))?;
    let pid = child.id();
    let stdout = child.stdout.take().map(|s| tokio::spawn(tail(s)));
    let stderr = child.stderr.take().map(|s| tokio::spawn(tail(s)));
    let exit = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => {
            use std::os::unix::process::ExitStatusExt as _;
            match (status.code(), status.signal()) {
                (Some(c), _) => ChildExit::Code(c),
                (None, Some(s)) => ChildExit::Signal(s),
                (None, None) => ChildExit::Code(-1),
            }
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            kill_group(pid);
            let _ = child.kill().await;
            ChildExit::TimedOut(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX))
        }
    };
    kill_group(pid);
    let elapsed = started.elapsed();
    let mut output = Vec::new();
    for (name, task) in [("stderr", stderr), ("stdout", stdout)] {
        let Some(task) = task else { continue };
        // The group is dead, so the pipes close; the bound is for a grandchild that left it.
        let bytes = match tokio::time::timeout(Duration::from_secs(2), task).await {
            Ok(Ok(b)) => b,
            _ => Vec::new(),
        };
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let skip = lines.len().saturating_sub(OUTPUT_LINES);
        output.extend(
            lines[skip..]
                .iter()
                .map(|l| format!("{name}: {}", shorten(&redact_text(l)))),
        );
    }
    Ok(ChildRun {
        exit,
        output,
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_always_the_loopback_server() {
        let inherited = [
            ("PATH", "/usr/bin"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SESSION_TOKEN", "t"),
            ("AWS_PROFILE", "p"),
            (
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                "http://169.254.169.254",
            ),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("HTTP_PROXY", "http://proxy:3128"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let mut scenario = BTreeMap::new();
        scenario.insert("AWS_EC2_METADATA_V1_DISABLED".to_owned(), "true".to_owned());
        let env = child_env(inherited, "http://127.0.0.1:4242", &scenario);
        let get = |k: &str| {
            env.get(OsStr::new(k))
                .map(|v| v.to_string_lossy().into_owned())
        };
        assert_eq!(get(ENDPOINT_VAR).as_deref(), Some("http://127.0.0.1:4242"));
        assert_eq!(get("PATH").as_deref(), Some("/usr/bin"));
        assert_eq!(get("AWS_CONFIG_FILE").as_deref(), Some("/dev/null"));
        assert_eq!(
            get("AWS_SHARED_CREDENTIALS_FILE").as_deref(),
            Some("/dev/null")
        );
        assert_eq!(get("AWS_EC2_METADATA_V1_DISABLED").as_deref(), Some("true"));
        for gone in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_EC2_METADATA_DISABLED",
            "HTTP_PROXY",
        ] {
            assert_eq!(get(gone), None, "{gone}");
        }
        // Even a scenario naming the variable cannot move the endpoint.
        scenario.insert(ENDPOINT_VAR.to_owned(), "http://169.254.169.254".to_owned());
        let env = child_env([], "http://127.0.0.1:1", &scenario);
        assert_eq!(
            env.get(OsStr::new(ENDPOINT_VAR)),
            Some(&OsString::from("http://127.0.0.1:1"))
        );
    }

    #[test]
    fn output_lines_lose_secrets_but_keep_names() {
        let token = "AQAEAabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL==";
        assert_eq!(
            redact_text(&format!("token {token} for i-0123456789abcdef0")),
            "token <redacted> for i-0123456789abcdef0"
        );
        assert_eq!(
            redact_text("refusing: AWS_EC2_METADATA_SERVICE_ENDPOINT is unset; token=abc"),
            "refusing: AWS_EC2_METADATA_SERVICE_ENDPOINT is unset; token=<redacted>"
        );
    }

    #[tokio::test]
    async fn a_hanging_client_and_its_children_are_killed_at_the_timeout() {
        let cmd: Vec<String> = ["sh", "-c", "sleep 30 & sleep 30; echo never"]
            .map(String::from)
            .to_vec();
        let env = child_env(std::env::vars_os(), "http://127.0.0.1:1", &BTreeMap::new());
        let run = run(&cmd, &env, Duration::from_millis(300)).await.unwrap();
        assert_eq!(run.exit, ChildExit::TimedOut(300));
        assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
        assert!(run.output.is_empty(), "{:?}", run.output);
    }

    #[tokio::test]
    async fn exit_status_and_output_are_kept() {
        let cmd: Vec<String> = [
            "sh",
            "-c",
            "echo \"$AWS_EC2_METADATA_SERVICE_ENDPOINT\" >&2; exit 3",
        ]
        .map(String::from)
        .to_vec();
        let env = child_env(std::env::vars_os(), "http://127.0.0.1:9", &BTreeMap::new());
        let run = run(&cmd, &env, Duration::from_secs(10)).await.unwrap();
        assert_eq!(run.exit, ChildExit::Code(3));
        assert_eq!(run.output, ["stderr: http://127.0.0.1:9"]);
        assert!(find_program("sh").is_ok());
        let e = find_program("/nonexistent/imdspec-client").unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let e = find_program("imdspec-no-such-program").unwrap_err();
        assert!(e.contains("not on PATH"), "{e}");
        let e = find_program("/etc/passwd").unwrap_err();
        assert!(e.contains("not an executable"), "{e}");
        let missing = ["/nonexistent/imdspec-client".to_owned()];
        let err = super::run(&missing, &env, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("cannot start"), "{err}");
    }
}
