#!/usr/bin/env bash
# sessiongate's whole test run, as CI runs it: installs what is missing, then formatting,
# lints, the release build, every Rust test (unit and end-to-end against the real binary),
# and the MCP conformance suite against the real binary.
#
#   bash scripts/test-all.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n==== %s (%s)\n' "$1" "$(date +%T)"; }

step "install test dependencies"
bash scripts/install-test-deps.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build --release"
cargo build --release -p sessiongate
export SESSIONGATE_BIN="$root/target/release/sessiongate"

step "cargo test --workspace"
cargo test --workspace

step "PTY backend with tmux absent from PATH"
bash scripts/test-pty-without-tmux.sh

step "MCP conformance suite"
bash tests/conformance/run.sh

step "load benchmark at a tiny size (keeps tests/load working; numbers not asserted)"
cargo run -q --release -p sessiongate-tests --bin load -- --clients 2 --sessions 2 --seconds 1

step "done"
