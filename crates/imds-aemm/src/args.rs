//! AEMM's command line, read the way its flag library (pflag, under cobra) reads it:
//! `--flag value`, `--flag=value`, `-f value`, `-f=value`, `-fvalue`, clustered booleans
//! (`-Is`), a value that starts with `-` (`--mock-ip-count -1`), `--` ending the flags, and
//! global flags before or after the subcommand.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// Which mocks a run serves: all of them, or one subcommand's family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// No subcommand: spot, events and Auto Scaling together.
    All,
    /// `spot`: spot interruption and rebalance recommendation.
    Spot,
    /// `events` (aliases `se`, `scheduledevents`): one scheduled maintenance event.
    Events,
    /// `asglifecycle` (aliases `autoscaling`, `asg`): the target lifecycle state.
    AsgLifecycle,
}

impl Command {
    /// The subcommand a word names, aliases included.
    pub fn from_word(word: &str) -> Option<Command> {
        match word {
            "spot" => Some(Command::Spot),
            "events" | "se" | "scheduledevents" => Some(Command::Events),
            "asglifecycle" | "autoscaling" | "asg" => Some(Command::AsgLifecycle),
            _ => None,
        }
    }

    /// Whether spot notices (and rebalance recommendations) are served.
    pub fn spot(self) -> bool {
        matches!(self, Command::All | Command::Spot)
    }

    /// Whether the maintenance event is served.
    pub fn events(self) -> bool {
        matches!(self, Command::All | Command::Events)
    }

    /// Whether `autoscaling/target-lifecycle-state` is served.
    pub fn asg(self) -> bool {
        matches!(self, Command::All | Command::AsgLifecycle)
    }
}

/// What a flag's value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Bool,
    /// `-s`: a boolean, or (an imdspec extension) `=PATH` to write somewhere else.
    Save,
}

/// Where a flag is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Global,
    Only(Command),
}

struct Flag {
    long: &'static str,
    short: Option<char>,
    key: &'static str,
    kind: Kind,
    scope: Scope,
}

const fn flag(
    long: &'static str,
    short: Option<char>,
    key: &'static str,
    kind: Kind,
    scope: Scope,
) -> Flag {
    Flag {
        long,
        short,
        key,
        kind,
        scope,
    }
}

use Kind::{Bool, Int, Save, Str};
use Scope::{Global, Only};

/// Every flag AEMM documents, with the config key it sets.
const FLAGS: &[Flag] = &[
    flag("port", Some('p'), "server.port", Str, Global),
    flag("hostname", Some('n'), "server.hostname", Str, Global),
    flag("imdsv2", Some('I'), "imdsv2", Bool, Global),
    // imdspec's own: AEMM's unchecked catch-all listings under --imdsv2 (README).
    flag(
        "imdsv2-open-listings",
        None,
        "imdsv2-open-listings",
        Bool,
        Global,
    ),
    flag("config-file", Some('c'), "config-file", Str, Global),
    flag("mock-delay-sec", Some('d'), "mock-delay-sec", Int, Global),
    flag("mock-trigger-time", None, "mock-trigger-time", Str, Global),
    flag("mock-ip-count", Some('x'), "mock-ip-count", Int, Global),
    flag(
        "rebalance-delay-sec",
        None,
        "rebalance-delay-sec",
        Int,
        Global,
    ),
    flag(
        "rebalance-trigger-time",
        None,
        "rebalance-trigger-time",
        Str,
        Global,
    ),
    flag(
        "asg-termination-delay-sec",
        None,
        "asg-termination-delay-sec",
        Int,
        Global,
    ),
    flag(
        "asg-termination-trigger-time",
        None,
        "asg-termination-trigger-time",
        Str,
        Global,
    ),
    flag(
        "save-config-to-file",
        Some('s'),
        "save-config-to-file",
        Save,
        Global,
    ),
    flag(
        "watch-config-file",
        Some('w'),
        "watch-config-file",
        Bool,
        Global,
    ),
    flag("action", Some('a'), "spot.action", Str, Only(Command::Spot)),
    flag("time", Some('t'), "spot.time", Str, Only(Command::Spot)),
    flag(
        "rebalance-rec-time",
        Some('r'),
        "spot.rebalance-rec-time",
        Str,
        Only(Command::Spot),
    ),
    flag("code", Some('o'), "events.code", Str, Only(Command::Events)),
    flag(
        "state",
        Some('t'),
        "events.state",
        Str,
        Only(Command::Events),
    ),
    flag(
        "not-before",
        Some('b'),
        "events.not-before",
        Str,
        Only(Command::Events),
    ),
    flag(
        "not-after",
        Some('a'),
        "events.not-after",
        Str,
        Only(Command::Events),
    ),
    flag(
        "not-before-deadline",
        Some('l'),
        "events.not-before-deadline",
        Str,
        Only(Command::Events),
    ),
];

/// A parsed command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Cli {
    /// The subcommand (or all mocks).
    pub command: Command,
    /// Values given as flags, by config key (`server.port`, `spot.action`, …).
    pub flags: BTreeMap<String, Value>,
    /// `--save-config-to-file=PATH`: where to write the effective config instead of AEMM's
    /// `$HOME/.ec2-metadata-mock/.aemm-config-used.json`.
    pub save_path: Option<String>,
    /// `-h`/`--help` or the `help` subcommand.
    pub help: bool,
    /// `--version`.
    pub version: bool,
    /// Words after the subcommand, which AEMM ignores (so do we, with a warning).
    pub ignored: Vec<String>,
}

/// A command line AEMM would refuse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError(pub String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

fn err<T>(m: impl Into<String>) -> Result<T, ArgError> {
    Err(ArgError(m.into()))
}

fn lookup(command: Command, f: impl Fn(&Flag) -> bool) -> Option<&'static Flag> {
    FLAGS
        .iter()
        .filter(|d| d.scope == Global || d.scope == Only(command))
        .find(|d| f(d))
}

/// Finds the subcommand as cobra does: the first word that is not a flag or a flag's value.
fn find_command(args: &[String]) -> Result<Option<(usize, Command)>, ArgError> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let takes_value = !long.contains('=')
                && !matches!(long, "help" | "version")
                && lookup(Command::All, |d| d.long == long)
                    .is_none_or(|d| !matches!(d.kind, Bool | Save));
            let save_file = long == "save-config-to-file" && save_file_follows(args, i);
            i += if takes_value || save_file { 2 } else { 1 };
            continue;
        }
        if let Some(short) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            let last = short.chars().last();
            let bool_cluster = short.chars().all(|c| {
                c == 'h'
                    || c == 'v'
                    || lookup(Command::All, |d| d.short == Some(c))
                        .is_some_and(|d| matches!(d.kind, Bool | Save))
            });
            let takes_value = short.chars().count() == 1 && !bool_cluster && last.is_some();
            let save_file = last == Some('s') && save_file_follows(args, i);
            i += if takes_value || save_file { 2 } else { 1 };
            continue;
        }
        if a == "help" {
            return Ok(None);
        }
        return match Command::from_word(a) {
            Some(c) => Ok(Some((i, c))),
            None => err(format!(
                "unknown command \"{a}\" for \"ec2-metadata-mock\" (commands: spot, events, \
                 asglifecycle)"
            )),
        };
    }
    Ok(None)
}

/// `-s FILE` (an imdspec extension; AEMM's `-s` is a plain switch): the word after the
/// save flag at `at` is its file unless it is a flag, a subcommand or `help`.
fn save_file_follows(args: &[String], at: usize) -> bool {
    args.get(at + 1)
        .is_some_and(|w| !w.starts_with('-') && w != "help" && Command::from_word(w).is_none())
}

fn typed(d: &Flag, shown: &str, value: &str) -> Result<Value, ArgError> {
    match d.kind {
        Str => Ok(Value::String(value.to_owned())),
        Int => value.trim().parse::<i64>().map(Value::from).or_else(|_| {
            err(format!(
                "invalid argument \"{value}\" for \"{shown}\" flag: not an integer"
            ))
        }),
        Bool | Save => parse_bool(value).map(Value::Bool).ok_or_else(|| {
            ArgError(format!(
                "invalid argument \"{value}\" for \"{shown}\" flag: not a boolean"
            ))
        }),
    }
}

/// The words Go's `strconv.ParseBool` accepts.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl Cli {
    /// Parses AEMM's arguments (without the program name).
    pub fn parse(args: &[String]) -> Result<Cli, ArgError> {
        match find_command(args) {
            Ok(found) => Cli::parse_as(args, found),
            // A bad flag before the unknown word is the clearer error.
            Err(e) => Cli::parse_as(args, None).and(Err(e)),
        }
    }

    fn parse_as(args: &[String], found: Option<(usize, Command)>) -> Result<Cli, ArgError> {
        let command = found.map_or(Command::All, |(_, c)| c);
        let mut cli = Cli {
            command,
            flags: BTreeMap::new(),
            save_path: None,
            help: args.iter().any(|a| a == "help") && found.is_none(),
            version: false,
            ignored: Vec::new(),
        };
        let mut i = 0;
        let mut only_words = false;
        while i < args.len() {
            let a = args[i].as_str();
            i += 1;
            if found.is_some_and(|(at, _)| at == i - 1) {
                continue;
            }
            if only_words || !a.starts_with('-') || a == "-" {
                if !cli.help {
                    cli.ignored.push(a.to_owned());
                }
                continue;
            }
            if a == "--" {
                only_words = true;
                continue;
            }
            if let Some(long) = a.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (long, None),
                };
                match name {
                    "help" => {
                        cli.help = true;
                        continue;
                    }
                    "version" => {
                        cli.version = true;
                        continue;
                    }
                    _ => {}
                }
                let Some(d) = lookup(command, |d| d.long == name) else {
                    return err(format!("unknown flag: --{name}"));
                };
                let shown = format!("--{name}");
                let value = match (inline, d.kind) {
                    (Some(v), _) => v.to_owned(),
                    (None, Save) if save_file_follows(args, i - 1) => {
                        i += 1;
                        args[i - 1].clone()
                    }
                    (None, Bool | Save) => "true".to_owned(),
                    (None, _) => match args.get(i) {
                        Some(v) => {
                            i += 1;
                            v.clone()
                        }
                        None => return err(format!("flag needs an argument: {shown}")),
                    },
                };
                cli.set(d, &shown, &value)?;
                continue;
            }
            // Short flags: a cluster of booleans, then at most one flag taking the rest.
            let mut rest = &a[1..];
            while let Some(c) = rest.chars().next() {
                rest = &rest[c.len_utf8()..];
                if c == 'h' {
                    cli.help = true;
                    continue;
                }
                // cobra gives `--version` the shorthand `-v`.
                if c == 'v' {
                    cli.version = true;
                    continue;
                }
                let Some(d) = lookup(command, |d| d.short == Some(c)) else {
                    return err(format!("unknown shorthand flag: '{c}' in {a}"));
                };
                let shown = format!("-{c}");
                if let Some(v) = rest.strip_prefix('=') {
                    cli.set(d, &shown, v)?;
                    break;
                }
                if d.kind == Save && rest.is_empty() && save_file_follows(args, i - 1) {
                    i += 1;
                    cli.set(d, &shown, &args[i - 1])?;
                    break;
                }
                if matches!(d.kind, Bool | Save) {
                    cli.set(d, &shown, "true")?;
                    continue;
                }
                let value = if rest.is_empty() {
                    match args.get(i) {
                        Some(v) => {
                            i += 1;
                            v.clone()
                        }
                        None => return err(format!("flag needs an argument: '{c}' in {a}")),
                    }
                } else {
                    rest.to_owned()
                };
                cli.set(d, &shown, &value)?;
                break;
            }
        }
        Ok(cli)
    }

    fn set(&mut self, d: &Flag, shown: &str, value: &str) -> Result<(), ArgError> {
        if d.kind == Save && parse_bool(value).is_none() {
            if value.is_empty() {
                return err(format!("{shown}: the file name is empty"));
            }
            self.save_path = Some(value.to_owned());
            self.flags.insert(d.key.to_owned(), Value::Bool(true));
            return Ok(());
        }
        let v = typed(d, shown, value)?;
        self.flags.insert(d.key.to_owned(), v);
        Ok(())
    }
}

/// `imdspec aemm --help`.
pub const HELP: &str = "\
imdspec aemm: amazon-ec2-metadata-mock's command line on imdspec's faithful server.

Usage:
  imdspec aemm [command] [flags]

Commands (none: all of them):
  spot            spot interruption notice and rebalance recommendation
  events          scheduled maintenance event (aliases: se, scheduledevents)
  asglifecycle    Auto Scaling target lifecycle state (aliases: autoscaling, asg)

Global flags:
  -c, --config-file string              JSON config file (default: $AEMM_CONFIG_FILE, else $HOME/aemm-config.json)
  -n, --hostname string                 address to listen on (default: 0.0.0.0)
  -p, --port string                     port to listen on (default: 1338)
  -I, --imdsv2                          require session tokens (HttpTokens=required)
      --imdsv2-open-listings            (imdspec only) with --imdsv2, answer the listings
                                        AEMM leaves unchecked without a token, as AEMM does
  -d, --mock-delay-sec int              seconds after start before spot notice and event appear
      --mock-trigger-time string        RFC 3339 time they appear at (wins over -d)
  -x, --mock-ip-count int               client addresses that see notices (default 2; negative: all)
      --rebalance-delay-sec int         seconds after start before the rebalance recommendation
      --rebalance-trigger-time string   RFC 3339 time of the rebalance recommendation
      --asg-termination-delay-sec int   seconds after start before the lifecycle state is Terminated
      --asg-termination-trigger-time string  RFC 3339 time it becomes Terminated
  -s, --save-config-to-file [PATH]      write the effective config (default path:
                                        $HOME/.ec2-metadata-mock/.aemm-config-used.json)
  -w, --watch-config-file               accepted; the config file is read once

spot flags:
  -a, --action string                   terminate, hibernate or stop (default terminate)
  -t, --time string                     RFC 3339 time in the notice (default: request time + 2 min)
  -r, --rebalance-rec-time string       RFC 3339 noticeTime of the rebalance recommendation

events flags:
  -o, --code string                     instance-reboot, system-reboot (default), system-maintenance,
                                        instance-retirement or instance-stop
  -t, --state string                    active (default), completed or canceled
  -b, --not-before string               RFC 3339 (default: start)
  -a, --not-after string                RFC 3339 (default: start + 7 days)
  -l, --not-before-deadline string      RFC 3339 (default: start + 9 days)

Environment: AEMM_<KEY> for every config key, `-` and `.` written `_` (AEMM_MOCK_DELAY_SEC,
AEMM_SPOT_ACTION, AEMM_SERVER_PORT, AEMM_METADATA_VALUES_INSTANCE_ID, ...).
Precedence: flag > environment > config file > default.
Where imdspec answers as EC2 does rather than as AEMM does, see README (\"imdspec aemm: migrating from amazon-ec2-metadata-mock\").";
