#!/usr/bin/env bash
# Load benchmark (`just bench-serve [SECONDS] [CONNECTIONS]`): wrk against a release
# `imdspec serve` (token-bearing leaf GET), side by side in the same run with
#   - `imdspec serve` as termination-handler tests run it: `--control`, `--journal FILE` and a
#     spot interruption an hour away (a scenario playing, every request journaled);
#   - nginx (Debian's) answering the same path with a constant body and `Connection: close`
#     (`keepalive_timeout 0`, access log off): the reference the ratios are quoted against;
#   - with BARE=1, also the bare hyper server of examples/bare.rs, with `Connection: close` and
#     keep-alive (building the example builds imds-server's dev-dependencies, aws-lc-sys too);
#   - with BASELINE=PATH, also that imdspec binary (e.g. one built from the commit before a
#     change) as full-featured serve: before and after in the same rounds.
# Rounds are interleaved so background load hits every server alike. Loopback only. Prints
# requests/s, p99 latency, peak RSS and the ratios. Needs wrk and nginx (installed with
# apt-get when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/../.."

secs="${1:-10}"
conns="${2:-32}"
rounds="${ROUNDS:-3}"
path=/latest/meta-data/instance-id

need() {
    local cmd="$1" pkg="$2"
    command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] && return
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y "$pkg" >/dev/null || { apt-get update >/dev/null && apt-get install -y "$pkg" >/dev/null; }
    else
        echo "bench-serve: $cmd is missing; install it (Debian: apt-get install -y $pkg)" >&2
        exit 1
    fi
}
need wrk wrk
need nginx nginx-light
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

cargo build --release -q -p imdspec --bin imdspec
bare="${BARE:-0}"
[ "$bare" = 1 ] && cargo build --release -q -p imds-server --example bare

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

start serve target/release/imdspec serve --listen 127.0.0.1:0
# What termination-handler tests run: control API, journal file, an interruption an hour away.
start serve_full target/release/imdspec serve --listen 127.0.0.1:0 --control 127.0.0.1:0 \
    --journal "$work/journal.jsonl" --spot-interruption terminate@+1h
servers="serve serve_full nginx"
baseline="${BASELINE:-}"
if [ -n "$baseline" ]; then
    start base_full "$baseline" serve --listen 127.0.0.1:0 --control 127.0.0.1:0 \
        --journal "$work/base_journal.jsonl" --spot-interruption terminate@+1h
    servers="$servers base_full"
fi
if [ "$bare" = 1 ]; then
    start bare_close target/release/examples/bare 127.0.0.1:0 --close
    start bare_keepalive target/release/examples/bare 127.0.0.1:0
    servers="$servers bare_close bare_keepalive"
fi

# nginx on a free port, its own prefix in $work, no access log, `Connection: close` on every
# answer (keepalive_timeout 0), the same 19-byte body as the bare server.
nginx_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_timeout 0;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        location = $path { default_type text/plain; return 200 "i-0123456789abcdef0"; }
    }
}
NGINX
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" >"$work/nginx.out" 2>"$work/nginx.err" &
pids+=("$!")
echo "$!" >"$work/nginx.pid"
echo "http://127.0.0.1:$nginx_port" >"$work/nginx.url"
for _ in $(seq 200); do
    curl -sf -o /dev/null "http://127.0.0.1:$nginx_port$path" && break
    sleep 0.05
done
curl -sf -D - -o /dev/null "http://127.0.0.1:$nginx_port$path" | grep -qi '^connection: close' ||
    { echo "bench-serve: nginx did not start or keeps connections open" >&2; cat "$work/nginx.err" >&2; exit 1; }

# Each imdspec server keys its own tokens; the bare servers ignore the header.
imdspec_servers="serve serve_full"
[ -n "$baseline" ] && imdspec_servers="$imdspec_servers base_full"
for name in $imdspec_servers; do
    token="$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$(cat "$work/$name.url")/latest/api/token")"
    [ "${#token}" = 56 ] || { echo "bench-serve: no token from $name" >&2; exit 1; }
    # Sanity: the token is accepted, so the benchmark measures served GETs, not 401s.
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "X-aws-ec2-metadata-token: $token" "$(cat "$work/$name.url")$path")"
    [ "$code" = 200 ] || { echo "bench-serve: $name token GET answered $code" >&2; exit 1; }
    echo "$token" >"$work/$name.token"
done
for name in nginx bare_close bare_keepalive; do cp "$work/serve.token" "$work/$name.token"; done
# The control listener is up, the scenario is playing (nothing fired yet) and requests are
# journaled to the file.
control="$(sed -n 's/^control on //p' "$work/serve_full.out")"
curl -sf "$control/scenario" | grep -q '"fired":\[\]' || { echo "bench-serve: scenario not playing" >&2; exit 1; }

# cpu_ticks NAME: user + system CPU time so far of the server's process and its children
# (nginx's workers), in clock ticks. Threads are counted in their process.
cpu_ticks() {
    local pid total=0
    pid="$(cat "$work/$1.pid")"
    for p in "$pid" $(pgrep -P "$pid" 2>/dev/null || true); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# run NAME ROUND: one wrk run; keeps the output, and the server's CPU ticks over the run.
run() {
    local before
    before="$(cpu_ticks "$1")"
    wrk -t2 -c"$conns" -d"${secs}s" --latency \
        -H "X-aws-ec2-metadata-token: $(cat "$work/$1.token")" \
        "$(cat "$work/$1.url")$path" >"$work/$1.$2.wrk"
    echo $(($(cpu_ticks "$1") - before)) >"$work/$1.$2.cpu"
    if grep -q 'Non-2xx' "$work/$1.$2.wrk"; then
        echo "bench-serve: $1 answered non-2xx responses" >&2
        cat "$work/$1.$2.wrk" >&2
        exit 1
    fi
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    for name in $servers; do run "$name" "$r"; done
done

# to_ms VALUE: wrk latency (e.g. 812.00us, 1.20ms, 1.01s) in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else printf "%s", v }'
}

# cpu_per_request NAME: the server's CPU time per request over all rounds, in µs. Unlike
# requests/s this hardly depends on how much CPU other processes leave the server.
cpu_per_request() {
    local ticks=0 requests=0 r
    for r in $(seq "$rounds"); do
        ticks=$((ticks + $(cat "$work/$1.$r.cpu")))
        requests=$((requests + $(awk '/requests in/ {print $1}' "$work/$1.$r.wrk")))
    done
    awk -v t="$ticks" -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }'
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
    # nginx serves from its workers: the largest of them.
    local rss=0 p
    for p in $(cat "$work/$1.pid") $(pgrep -P "$(cat "$work/$1.pid")" 2>/dev/null || true); do
        local r
        r="$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)"
        [ "${r:-0}" -gt "$rss" ] && rss="$r"
    done
    printf '%s %s %s %s\n' "$best" "$(to_ms "$p99")" "$((rss / 1024))" "$best_round"
}

read -r s_rps s_p99 s_rss _ < <(summary serve)
read -r x_rps x_p99 x_rss _ < <(summary serve_full)
read -r n_rps n_p99 n_rss _ < <(summary nginx)
journal_lines="$(wc -l <"$work/journal.jsonl")"

echo
echo "wrk -t2 -c$conns -d${secs}s, $rounds interleaved rounds (best round shown), $(nproc) cores shared with wrk"
echo "load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %12s %10s %13s %14s\n' server 'requests/s' 'p99 (ms)' 'peak RSS (MiB)' 'CPU µs/request'
printf '%-44s %12s %10s %13s %14s\n' 'imdspec serve (token GET)' "$s_rps" "$s_p99" "$s_rss" "$(cpu_per_request serve)"
printf '%-44s %12s %10s %13s %14s\n' '  + --control, --journal, spot in 1h' "$x_rps" "$x_p99" "$x_rss" "$(cpu_per_request serve_full)"
printf '%-44s %12s %10s %13s %14s\n' 'nginx, Connection: close' "$n_rps" "$n_p99" "$n_rss" "$(cpu_per_request nginx)"
if [ -n "$baseline" ]; then
    read -r b_rps b_p99 b_rss _ < <(summary base_full)
    printf '%-44s %12s %10s %13s %14s\n' '  the same, BASELINE binary' "$b_rps" "$b_p99" "$b_rss" "$(cpu_per_request base_full)"
fi
if [ "$bare" = 1 ]; then
    read -r c_rps c_p99 c_rss _ < <(summary bare_close)
    read -r k_rps k_p99 k_rss _ < <(summary bare_keepalive)
    printf '%-44s %12s %10s %13s\n' 'bare hyper, Connection: close' "$c_rps" "$c_p99" "$c_rss"
    printf '%-44s %12s %10s %13s\n' 'bare hyper, keep-alive' "$k_rps" "$k_p99" "$k_rss"
fi
echo "journal file: $journal_lines lines"
# Per round too: the best rounds of two servers may be different rounds.
for r in $(seq "$rounds"); do
    awk -v r="$r" \
        -v s="$(awk '/^Requests\/sec:/ {print $2}' "$work/serve.$r.wrk")" \
        -v x="$(awk '/^Requests\/sec:/ {print $2}' "$work/serve_full.$r.wrk")" \
        -v n="$(awk '/^Requests\/sec:/ {print $2}' "$work/nginx.$r.wrk")" \
        -v b="$([ -n "$baseline" ] && awk '/^Requests\/sec:/ {print $2}' "$work/base_full.$r.wrk" || echo 0)" \
        'BEGIN { printf "round %d: serve %.0f, full %.0f, nginx %.0f: serve/nginx %.2f, full/nginx %.2f", r, s, x, n, s / n, x / n
                 if (b > 0) printf ", baseline full/nginx %.2f", b / n
                 printf "\n" }'
done
awk -v s="$s_rps" -v x="$x_rps" -v n="$n_rps" 'BEGIN {
    printf "imdspec serve / nginx close (best rounds):        %.2f\n", s / n
    printf "  full-featured / nginx close:                    %.2f (target >= 0.90)\n", x / n }'
if [ -n "$baseline" ]; then
    awk -v b="$b_rps" -v x="$x_rps" -v n="$n_rps" 'BEGIN {
        printf "  BASELINE full-featured / nginx close:           %.2f\n", b / n
        printf "  full-featured / BASELINE full-featured:         %.2f\n", x / b }'
fi
if [ "$bare" = 1 ]; then
    awk -v s="$s_rps" -v c="$c_rps" -v k="$k_rps" 'BEGIN {
        printf "imdspec serve / bare hyper close:                 %.2f\n", s / c
        printf "imdspec serve / bare keep-alive (ceiling):        %.2f\n", s / k }'
fi
