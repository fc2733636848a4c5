//! The SSM Command document and the Ansible tasks in `deploy/` cannot run here: they must
//! parse, have the shape their tools require, run the probe command README documents, and
//! put its output where `imdspec fleet report` reads it.

use std::path::Path;
use std::process::Command;

use serde_norway::Value;

fn file(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn yaml(rel: &str) -> Value {
    serde_norway::from_str(&file(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn readme() -> String {
    file("../../README.md")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// `{{ name }}` replaced by each parameter's default.
fn with_defaults(doc: &Value, text: &str) -> String {
    let mut out = text.to_owned();
    for (name, p) in doc["parameters"].as_mapping().unwrap() {
        out = out.replace(&format!("{{{{ {} }}}}", s(name)), s(&p["default"]));
    }
    assert!(!out.contains("{{"), "undeclared parameter in {text}");
    out
}

/// The parameter types the SSM document schema allows.
const SSM_PARAMETER_TYPES: [&str; 6] = [
    "String",
    "StringList",
    "Boolean",
    "Integer",
    "MapList",
    "StringMap",
];

/// The schema's required fields (schemaVersion 2.2, a description, mainSteps of action, name
/// and inputs; every parameter typed, its default allowed), and a script that runs the probe
/// README documents with the endpoint the parameters give.
#[test]
fn ssm_document_is_a_run_shell_script_command_running_the_documented_probe() {
    let doc = yaml("deploy/imds-probe.ssm.yaml");
    assert_eq!(s(&doc["schemaVersion"]), "2.2");
    assert!(!s(&doc["description"]).is_empty());
    let steps = doc["mainSteps"].as_sequence().unwrap();
    assert_eq!(steps.len(), 1);
    let step = &steps[0];
    assert_eq!(s(&step["action"]), "aws:runShellScript");
    assert!(s(&step["name"]).chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(
        step["inputs"]["timeoutSeconds"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .is_ok()
    );
    for (name, p) in doc["parameters"].as_mapping().unwrap() {
        assert!(
            SSM_PARAMETER_TYPES.contains(&s(&p["type"])),
            "{name:?}: type {:?}",
            p["type"]
        );
        assert!(!s(&p["description"]).is_empty(), "{name:?}");
        if let Some(allowed) = p["allowedValues"].as_sequence() {
            assert!(
                allowed.contains(&p["default"]),
                "{name:?}: default not allowed"
            );
        }
    }
    let commands: Vec<String> = step["inputs"]["runCommand"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| with_defaults(&doc, s(c)))
        .collect();
    let script = commands.join("\n");
    let probe = script
        .lines()
        .find(|l| l.contains(" probe "))
        .expect("a probe command")
        .trim();
    assert_eq!(
        probe,
        "\"$imdspec\" probe --format jsonl --endpoint http://169.254.169.254 || rc=$?"
    );
    // Nothing is installed before the checksum matched.
    let verify = script
        .find("verify \"$tmp/$name\"")
        .expect("a checksum check");
    for install in ["dpkg -i", "rpm -U", "tar -xzf"] {
        assert!(
            script.find(install).unwrap() > verify,
            "{install} before the check"
        );
    }
    let readme = readme();
    assert!(readme.contains("imdspec probe --format jsonl"));
    assert!(readme.contains("file://crates/imds-fleet/deploy/imds-probe.ssm.yaml"));
    // README's send-command prefix is the one it copies back from.
    assert!(readme.contains("--output-s3-key-prefix imds-probe"));
    assert!(readme.contains("s3://my-bucket/imds-probe/ observed/"));
    assert!(readme.contains("imdspec fleet report --declared declared.json observed/"));
}

/// The script's exit status: 1 and 3 from the probe are findings, anything else fails. An
/// imdspec already on PATH (a stand-in shell function here) is not reinstalled.
#[test]
fn ssm_script_keeps_findings_and_fails_on_errors() {
    let doc = yaml("deploy/imds-probe.ssm.yaml");
    let script: Vec<&str> = doc["mainSteps"][0]["inputs"]["runCommand"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    let script = with_defaults(&doc, &script.join("\n"))
        .replace("imdspec='imdspec'", "imdspec='imdspec_stub'")
        // Never the real endpoint, even from a stand-in.
        .replace("http://169.254.169.254", "http://127.0.0.1:9");
    for (probe_rc, want) in [(0, 0), (1, 0), (3, 0), (2, 2), (101, 101)] {
        // A stand-in for imdspec that prints its arguments and exits with `probe_rc`.
        let stub = format!("imdspec_stub() {{ echo \"$*\"; return {probe_rc}; }}\n");
        // SSM Agent runs the script with `sh -c` (dash on Debian and Ubuntu).
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{stub}{script}"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(want), "probe exit {probe_rc}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "probe --format jsonl --endpoint http://127.0.0.1:9\n"
        );
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "no install");
    }
}

/// The one module each task uses (its key with the `ansible.builtin.` prefix), in order.
fn modules(tasks: &[Value]) -> Vec<&str> {
    tasks
        .iter()
        .map(|t| {
            let keys: Vec<&str> = t
                .as_mapping()
                .unwrap()
                .keys()
                .map(s)
                .filter(|k| k.starts_with("ansible.builtin.") || *k == "block")
                .collect();
            assert_eq!(keys.len(), 1, "one module per task: {t:?}");
            keys[0]
        })
        .collect()
}

#[test]
fn ansible_tasks_install_when_missing_after_the_checksum_then_probe_and_write_one_file_per_host() {
    let tasks = yaml("deploy/imds-probe.ansible.yml");
    let tasks = tasks.as_sequence().expect("a task list");
    for t in tasks {
        assert!(!s(&t["name"]).is_empty());
    }
    assert_eq!(
        modules(tasks),
        [
            "ansible.builtin.shell",
            "block",
            "ansible.builtin.command",
            "ansible.builtin.copy"
        ]
    );
    let found = s(&tasks[0]["register"]);
    assert_eq!(s(&tasks[0]["ansible.builtin.shell"]), "command -v imdspec");
    assert_eq!(tasks[0]["failed_when"].as_bool(), Some(false));

    // The install block runs only where imdspec is missing, and installs nothing before the
    // package's SHA-256 matched, whether it came from a URL or from the controller.
    let install = &tasks[1];
    assert_eq!(s(&install["when"]), format!("{found}.rc != 0"));
    assert_eq!(install["become"].as_bool(), Some(true));
    let steps = install["block"].as_sequence().unwrap();
    assert_eq!(
        modules(steps),
        [
            "ansible.builtin.assert",
            "ansible.builtin.set_fact",
            "ansible.builtin.get_url",
            "ansible.builtin.copy",
            "ansible.builtin.stat",
            "ansible.builtin.assert",
            "ansible.builtin.apt",
            "ansible.builtin.command",
            "ansible.builtin.unarchive",
        ]
    );
    let get_url = &steps[2]["ansible.builtin.get_url"];
    assert_eq!(
        s(&get_url["checksum"]),
        "sha256:{{ imdspec_package_sha256 }}"
    );
    assert_eq!(s(&steps[2]["when"]), "imdspec_package_url is defined");
    assert_eq!(s(&steps[3]["when"]), "imdspec_package_url is not defined");
    let stat = &steps[4];
    assert_eq!(
        s(&stat["ansible.builtin.stat"]["checksum_algorithm"]),
        "sha256"
    );
    let check = steps[5]["ansible.builtin.assert"]["that"]
        .as_sequence()
        .unwrap();
    assert_eq!(
        s(&check[0]),
        format!(
            "{}.stat.checksum == imdspec_package_sha256",
            s(&stat["register"])
        )
    );
    for (step, ext) in [(6, "deb"), (7, "rpm"), (8, "tar[.]gz")] {
        assert_eq!(
            s(&steps[step]["when"]),
            format!("imdspec_package is match('.*[.]{ext}$')")
        );
    }
    assert_eq!(
        s(&steps[6]["ansible.builtin.apt"]["deb"]),
        "{{ imdspec_package }}"
    );
    let unarchive = &steps[8]["ansible.builtin.unarchive"];
    assert_eq!(unarchive["remote_src"].as_bool(), Some(true));
    assert_eq!(unarchive["include"][0], "./imdspec");

    let argv: Vec<&str> = tasks[2]["ansible.builtin.command"]["argv"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert_eq!(argv[..4].join(" "), "imdspec probe --format jsonl");
    assert!(readme().contains(&argv[..4].join(" ")));
    assert_eq!(
        argv[4..],
        [
            "--endpoint",
            "{{ imdspec_endpoint | default('http://169.254.169.254') }}"
        ]
    );
    let register = s(&tasks[2]["register"]);
    assert!(s(&tasks[2]["failed_when"]).contains("[0, 1, 3]"));
    let copy = &tasks[3]["ansible.builtin.copy"];
    assert!(s(&copy["content"]).contains(&format!("{register}.stdout")));
    let dest = s(&copy["dest"]);
    assert!(dest.ends_with("/{{ inventory_hostname }}.jsonl"), "{dest}");
    assert_eq!(s(&tasks[3]["delegate_to"]), "localhost");
    assert!(readme().contains("crates/imds-fleet/deploy/imds-probe.ansible.yml"));
}

/// What both write lands where the report reads it: a `stdout` under the instance id, or a
/// `.jsonl` per host.
#[test]
fn their_outputs_are_read_by_the_report() {
    let line = {
        let text = imds_fleet::synth::probe_output(0, "jsonl").unwrap();
        assert_eq!(text.lines().count(), 1);
        text
    };
    let mut fleet = imds_fleet::Fleet::new(None);
    fleet.add_bytes(
        Path::new(
            "imds-probe/1b2c/i-00000000000000000/awsrunShellScript/0.awsrunShellScript/stdout",
        ),
        line.as_bytes(),
    );
    fleet.add_bytes(Path::new("observed/web-1.jsonl"), line.as_bytes());
    let r = fleet.finish();
    assert_eq!(r.totals.files, 2);
    assert_eq!(r.totals.unreadable, 0);
}
