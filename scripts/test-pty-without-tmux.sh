#!/usr/bin/env bash
# Runs every PTY test (the backend contract and the end-to-end MCP tests on the PTY backend)
# with tmux absent from PATH, to prove that `--backend pty` needs no tmux.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

shadow="$(mktemp -d)"
trap 'rm -rf "$shadow"' EXIT
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [[ -d "$d" ]] || continue
  for f in "$d"/*; do
    name="${f##*/}"
    [[ "$name" == tmux ]] && continue
    [[ -x "$f" && ! -e "$shadow/$name" ]] && ln -s "$f" "$shadow/$name"
  done
done
if PATH="$shadow" command -v tmux >/dev/null; then
  echo "tmux is still reachable" >&2
  exit 1
fi
echo "tmux hidden: PATH=$shadow"
PATH="$shadow" cargo test -p sessiongate-tests --test it pty::
