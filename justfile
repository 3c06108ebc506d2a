# Developer tasks. The README's two commands and .ci/run do not need just.

default:
    @just --list

# Everything CI runs.
ci:
    bash .ci/run

# The README's test command.
test:
    cargo test --workspace --all-features

# Format check, clippy and the dependency rule.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --all-features -- -D warnings
    bash .ci/check-deps

fmt:
    cargo fmt --all

# The zero-configuration demo.
demo:
    cargo run -p pganalytics-server -- demo

# Ingest benchmark: N simulated collectors over TLS against a release server (see docs/performance.md).
bench collectors="200" seconds="60":
    cargo run --release -p pganalytics-loadgen -- --collectors {{collectors}} --seconds {{seconds}}
