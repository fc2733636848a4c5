# imdspec task runner. CI does not need `just`: it runs .ci/run, which calls cargo directly.
set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Run every test (what README gives).
test:
    cargo test --workspace

# What CI runs: format check, lints, tests.
ready:
    bash .ci/run

# Serve the reference IMDS on loopback.
serve *args:
    cargo run --release -p imdspec -- serve {{args}}

# Run the conformance suite (against the embedded reference server unless --endpoint is given).
run *args:
    cargo run --release -p imdspec -- run {{args}}

# Wall time of the whole conformance suite against the embedded server (all four profiles,
# token-expiry waits included), measured with hyperfine (`apt-get install hyperfine`).
bench-run runs="10":
    cargo build --release -p imdspec
    hyperfine --warmup 1 --runs {{runs}} -N 'target/release/imdspec run --format json --output /dev/null'

# Opt-in: the suite against moto's IMDS mock (needs `moto_server` on PATH) with its known
# deviations (conformance/targets/moto.toml). Tests never depend on this.
run-moto port="5987":
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -p imdspec
    moto_server -H 127.0.0.1 -p {{port}} >/dev/null 2>&1 & pid=$!
    trap 'kill $pid' EXIT
    for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:{{port}}/latest/meta-data/ && break; sleep 0.2; done
    target/release/imdspec run --endpoint http://127.0.0.1:{{port}} --target moto

# Run one fuzz target (stable toolchain, no sanitizer) for SECONDS. New inputs go to
# fuzz/corpus/TARGET (git-ignored); the committed seeds in fuzz/seeds/TARGET are only read.
fuzz target seconds="60":
    cd fuzz && mkdir -p corpus/{{target}} && cargo fuzz run --sanitizer none {{target}} corpus/{{target}} seeds/{{target}} -- -dict=dict/imds.dict -max_total_time={{seconds}}

# Every fuzz target for 30 s.
fuzz-smoke:
    cd fuzz && for t in $(cargo fuzz list); do mkdir -p "corpus/$t" && cargo fuzz run --sanitizer none "$t" "corpus/$t" "seeds/$t" -- -dict=dict/imds.dict -max_total_time=30; done

# All benchmarks.
bench:
    cargo bench --workspace

# Load benchmark: wrk against release `imdspec serve`, the same with --control, --journal and a
# spot interruption playing, and nginx (`Connection: close`), side by side; BARE=1 adds a bare
# hyper server. Installs wrk and nginx-light with apt-get when missing (as root).
bench-serve seconds="10" connections="32":
    bash crates/imds-server/bench-serve.sh {{seconds}} {{connections}}

# Review pending insta snapshots (in-crate ones only: cargo-insta does not see snapshots/model/).
snap:
    cargo insta review

# Re-record the model's snapshots in snapshots/model/ and show what changed (review with git diff).
snap-model:
    INSTA_UPDATE=always cargo test -p imds-model --test snapshots
    git diff --stat -- snapshots/model

# Install every real client of the client matrix (apt, pip venv, npm ci, offline Go builds).
client-install *clients:
    bash conformance/clients/install.sh {{clients}}

# The client matrix: every driver in conformance/clients/drivers/ against every client scenario;
# rewrites conformance/clients/MATRIX.md and MATRIX.json (review with git diff).
client-matrix *args:
    bash conformance/clients/install.sh
    cargo build -p imdspec --bin imdspec --example rust_sdk_client
    target/debug/imdspec client-check --all --root . --concurrency 4 --timeout-ms 25000 {{args}}

# amazon-ec2-metadata-mock's command line on the faithful server (README, "imdspec aemm").
aemm *args:
    cargo run -q -p imdspec -- aemm {{args}}

# Fleet report benchmark: writes a synthetic fleet of N instances (every kind, every probe
# format; 110,000 instances make about 100,800 probe files, 1,091,000 about 1,000,000) under
# target/bench-fleet in LAYOUT (run-command: Run Command's S3 layout, three directories per
# instance; per-host: one file per host, a thousand to a directory, for sizes whose S3 layout
# would not fit on the disk), then measures wall time and peak RSS of `imdspec fleet report`
# over it (GNU time), RUNS times, and removes it. Figures: crates/imds-fleet/README.md.
bench-fleet n="110000" layout="run-command" runs="2":
    cargo build --release -p imdspec
    cargo build --release -p imds-fleet --example gen_fleet
    rm -rf target/bench-fleet
    target/release/examples/gen_fleet target/bench-fleet {{n}} {{layout}}
    for i in $(seq {{runs}}); do \
      /usr/bin/time -f "run $i: %e s wall, %U s user, %S s sys, %M KiB peak RSS" \
        target/release/imdspec fleet report --format json \
        --declared target/bench-fleet/declared.json target/bench-fleet/observed > /dev/null \
        || [ $? -eq 1 ]; \
    done
    rm -rf target/bench-fleet

# Both sizes the fleet README records: about 100,000 and 1,000,000 probe files.
bench-fleet-all runs="2":
    just bench-fleet 110000 run-command {{runs}}
    just bench-fleet 1091000 per-host {{runs}}

# Release artefacts in target/dist/: imdspec for Linux x86_64 and aarch64 (Graviton) linked
# against glibc 2.17 (checked from its versioned symbols), each as a binary, a tarball, a .deb
# and an .rpm with the licences and a man page, and SHA256SUMS over all (zig and cargo-zigbuild
# from PyPI, pinned; dpkg-deb and rpmbuild from Debian: `apt-get install rpm`). Give triples to
# build fewer, e.g. `just dist x86_64-unknown-linux-gnu`.
dist *triples:
    bash crates/imdspec/dist/build.sh {{triples}}
