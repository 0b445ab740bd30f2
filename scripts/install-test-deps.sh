#!/usr/bin/env bash
# Installs what sessiongate's tests need on a fresh Debian machine, and nothing that is
# already there: tmux (apt), Node 22 and the npm test clients (tests/clients, from the npm
# registry), the Python test clients (a venv in .venv, from PyPI). Idempotent and quick on a
# second run. Needs root for apt (as CI and the developers' machines run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need_apt=()
command -v tmux >/dev/null || need_apt+=(tmux)
command -v curl >/dev/null || need_apt+=(curl)
# Headless Chromium for the login-page test (driven by playwright-core; never downloaded by it).
dpkg -s chromium >/dev/null 2>&1 || need_apt+=(chromium)
if ((${#need_apt[@]})); then
  echo "== apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! rustup component list --installed 2>/dev/null | grep -q '^clippy'; then
  rustup component add clippy rustfmt
fi

venv="$root/.venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import mcp' 2>/dev/null \
   || [[ "$root/tests/clients/requirements.txt" -nt "$venv/.installed" ]]; then
  echo "== pip install -r tests/clients/requirements.txt (into .venv)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/tests/clients/requirements.txt"
  touch "$venv/.installed"
fi

clients="$root/tests/clients"
if [[ ! -x "$clients/node_modules/.bin/conformance" || "$clients/package-lock.json" -nt "$clients/node_modules/.package-lock.json" ]]; then
  echo "== npm ci (tests/clients)"
  (cd "$clients" && npm ci --no-audit --no-fund --loglevel=error)
fi
