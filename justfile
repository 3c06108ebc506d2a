# Developer tasks. The README's two commands and .ci/run do not need just.

default:
    @just --list

# Everything CI runs.
ci:
    bash .ci/run

# The README's test command.
test:
    cargo test --workspace --all-features

# Format check, clippy, the dependency rule and the shells' import circles.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --all-features -- -D warnings
    bash .ci/check-deps
    python3 .ci/import-cycles apps/server/src apps/agent/src

fmt:
    cargo fmt --all

# The zero-configuration demo.
demo:
    cargo run -p pganalytics-server -- demo

# Ingest benchmark: N simulated collectors over TLS against a release server (see docs/performance.md).
bench collectors="200" seconds="60":
    cargo run --release -p pganalytics-loadgen -- --collectors {{collectors}} --seconds {{seconds}}

# Agent budget: 10,000 tables, the exporter side by side, a 1M-line log (see docs/performance.md).
bench-agent tables="10000" log_lines="1000000":
    cargo build --release -p pganalytics-agent
    cargo run --release -p pganalytics-loadgen --bin agent-budget -- --tables {{tables}} --log-lines {{log_lines}}

# Alert evaluation: the built-in rules over N servers' data, database time per cycle (see docs/performance.md).
bench-alerts servers="500":
    cargo run --release -p pganalytics-loadgen --bin alert-bench -- --servers {{servers}}

# Storage tiers: N servers × D days written, rolled up and queried (see docs/performance.md).
bench-tiers servers="500" days="30":
    cargo run --release -p pganalytics-loadgen --bin tier-bench -- --servers {{servers}} --days {{days}}

# Log search: text search against trigram indexes on the same events (see docs/performance.md).
bench-log-search events="2000000":
    cargo run --release -p pganalytics-loadgen --bin log-search-bench -- --events {{events}}

# Abuse benchmark: hostile requests against the release server binary, peak RSS and health latency (see docs/performance.md).
bench-abuse:
    cargo build --release -p pganalytics-server -p pganalytics-loadgen
    ./target/release/abuse

# Debian packages of the server and the agent into target/debian/ (see docs/deployment.md).
debs:
    bash docker/debian/build.sh

# The packages' and images' tests in Docker (needs a running engine, debootstrap, docker-compose).
test-deploy:
    PGANALYTICS_CONTAINER_TESTS=1 cargo test -p pganalytics-server --test deploy -- --nocapture

# Rewrite grafana/dashboards/*.json from grafana/generate.py.
dashboards:
    python3 grafana/generate.py
