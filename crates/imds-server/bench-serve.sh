#!/usr/bin/env bash
# Load benchmark (`just bench-serve [SECONDS] [CONNECTIONS]`): wrk against a release
# `imdspec serve` (token-bearing leaf GET) and, side by side in the same run, against the bare
# hyper server of examples/bare.rs (constant body), once with `Connection: close` like IMDS
# and once with keep-alive; and `imdspec serve` again with a scenario still playing (so every
# request checks it) and `--control` open (so every request is also kept in the in-memory
# journal the control API reads). Rounds are interleaved so background load hits both alike.
# Loopback only. Prints requests/s, p99 latency, peak RSS and the ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."

secs="${1:-10}"
conns="${2:-32}"
rounds="${ROUNDS:-3}"
path=/latest/meta-data/instance-id

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    else
        echo "bench-serve: wrk is missing; install it (Debian: apt-get install -y wrk)" >&2
        exit 1
    fi
fi

cargo build --release -q -p imdspec --bin imdspec
cargo build --release -q -p imds-server --example bare

work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# start NAME CMD...: runs CMD in the background, waits for its `listening on URL` line.
start() {
    local name="$1"; shift
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=("$!")
    echo "$!" >"$work/$name.pid"
    for _ in $(seq 200); do
        if grep -q '^listening on ' "$work/$name.out" 2>/dev/null; then
            sed -n 's/^listening on //p' "$work/$name.out" | head -1 >"$work/$name.url"
            return
        fi
        sleep 0.05
    done
    echo "bench-serve: $name did not start" >&2
    cat "$work/$name.err" >&2
    exit 1
}

# A scenario with one entry fired at once and one a day away: it stays live for the whole run.
cat >"$work/scenario.toml" <<'TOML'
[[entry]]
after = "0s"
rebalance-recommendation = {}

[[entry]]
after = "24h"
spot-interruption = { action = "terminate" }
TOML

start serve target/release/imdspec serve --listen 127.0.0.1:0
start serve_ctl target/release/imdspec serve --listen 127.0.0.1:0 --control 127.0.0.1:0 \
    --scenario "$work/scenario.toml"
start bare_close target/release/examples/bare 127.0.0.1:0 --close
start bare_keepalive target/release/examples/bare 127.0.0.1:0

# Each imdspec server keys its own tokens; the bare servers ignore the header.
for name in serve serve_ctl; do
    token="$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$(cat "$work/$name.url")/latest/api/token")"
    [ "${#token}" = 56 ] || { echo "bench-serve: no token from $name" >&2; exit 1; }
    # Sanity: the token is accepted, so the benchmark measures served GETs, not 401s.
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "X-aws-ec2-metadata-token: $token" "$(cat "$work/$name.url")$path")"
    [ "$code" = 200 ] || { echo "bench-serve: $name token GET answered $code" >&2; exit 1; }
    echo "$token" >"$work/$name.token"
done
cp "$work/serve.token" "$work/bare_close.token"
cp "$work/serve.token" "$work/bare_keepalive.token"
# The control listener is up and the scenario has fired its first entry.
control="$(sed -n 's/^control on //p' "$work/serve_ctl.out")"
curl -sf "$control/scenario" | grep -q rebalance || { echo "bench-serve: scenario not playing" >&2; exit 1; }

# run NAME ROUND: one wrk run; keeps the output for parsing.
run() {
    wrk -t2 -c"$conns" -d"${secs}s" --latency \
        -H "X-aws-ec2-metadata-token: $(cat "$work/$1.token")" \
        "$(cat "$work/$1.url")$path" >"$work/$1.$2.wrk"
    if grep -q 'Non-2xx' "$work/$1.$2.wrk"; then
        echo "bench-serve: $1 answered non-2xx responses" >&2
        cat "$work/$1.$2.wrk" >&2
        exit 1
    fi
}

for r in $(seq "$rounds"); do
    for name in serve serve_ctl bare_close bare_keepalive; do run "$name" "$r"; done
done

# to_ms VALUE: wrk latency (e.g. 812.00us, 1.20ms, 1.01s) in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else printf "%s", v }'
}

# summary NAME: best req/s over the rounds, and the p99 of that round.
summary() {
    local best=0 best_round=1
    for r in $(seq "$rounds"); do
        local rps
        rps="$(awk '/^Requests\/sec:/ {print $2}' "$work/$1.$r.wrk")"
        if awk -v a="$rps" -v b="$best" 'BEGIN { exit !(a > b) }'; then best="$rps"; best_round="$r"; fi
    done
    local p99
    p99="$(awk '$1 == "99%" {print $2}' "$work/$1.$best_round.wrk")"
    local rss
    rss="$(awk '/^VmHWM:/ {print $2}' "/proc/$(cat "$work/$1.pid")/status")"
    printf '%s %s %s %s\n' "$best" "$(to_ms "$p99")" "$((rss / 1024))" "$best_round"
}

read -r s_rps s_p99 s_rss _ < <(summary serve)
read -r x_rps x_p99 x_rss _ < <(summary serve_ctl)
read -r c_rps c_p99 c_rss _ < <(summary bare_close)
read -r k_rps k_p99 k_rss _ < <(summary bare_keepalive)

echo
echo "wrk -t2 -c$conns -d${secs}s, $rounds interleaved rounds (best round shown), $(nproc) cores shared with wrk"
printf '%-34s %12s %10s %13s\n' server 'requests/s' 'p99 (ms)' 'peak RSS (MiB)'
printf '%-34s %12s %10s %13s\n' 'imdspec serve (token GET)' "$s_rps" "$s_p99" "$s_rss"
printf '%-34s %12s %10s %13s\n' '  + scenario, --control, journal' "$x_rps" "$x_p99" "$x_rss"
printf '%-34s %12s %10s %13s\n' 'bare hyper, Connection: close' "$c_rps" "$c_p99" "$c_rss"
printf '%-34s %12s %10s %13s\n' 'bare hyper, keep-alive' "$k_rps" "$k_p99" "$k_rss"
awk -v s="$s_rps" -v x="$x_rps" -v c="$c_rps" -v k="$k_rps" 'BEGIN {
    printf "ratio vs bare (Connection: close, like for like): %.2f (target >= 0.70)\n", s / c
    printf "  with scenario + --control:                      %.2f (target >= 0.90)\n", x / c
    printf "ratio vs bare keep-alive (ceiling):               %.2f\n", s / k }'
