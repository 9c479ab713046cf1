#!/usr/bin/env bash
# The slim node install beside the console install, each alone in a fresh venv: how many
# packages, how much disk, the install time (from pip's cache when warm) and `daena-node
# --help` (best of 5). Usage: packaging/node/compare_installs.sh [PYTHON]
set -euo pipefail
checkout="$(cd "$(dirname "$0")/../.." && pwd)"
py=${1:-$checkout/.venv/bin/python}
echo "machine: $(nproc) cores, load $(cut -d" " -f1-3 /proc/loadavg), $("$py" --version), $(date -u +%FT%TZ)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
$py -m pip wheel -q --no-deps -w "$tmp/node" "$checkout/packaging/node" 2>/dev/null
$py -m pip wheel -q --no-deps -w "$tmp/console" "$checkout" 2>/dev/null
for kind in node console; do
  python3 -m venv "$tmp/v-$kind"
  start=$(date +%s.%N)
  "$tmp/v-$kind/bin/pip" install -q "$tmp/$kind"/*.whl 2>/dev/null
  end=$(date +%s.%N)
  n=$("$tmp/v-$kind/bin/pip" list 2>/dev/null | tail -n +3 | wc -l)
  size=$(du -sm "$tmp/v-$kind/lib/python3.11/site-packages" | cut -f1)
  best=999
  for i in 1 2 3 4 5; do
    s=$(date +%s%N); "$tmp/v-$kind/bin/daena-node" --help >/dev/null; e=$(date +%s%N)
    ms=$(( (e - s) / 1000000 )); [ "$ms" -lt "$best" ] && best=$ms
  done
  textual=$("$tmp/v-$kind/bin/python" -c 'import importlib.util as u; print("yes" if u.find_spec("textual") else "no")')
  printf '%-8s packages=%3d site-packages=%4d MB install=%5.1f s daena-node --help best of 5=%4d ms textual=%s\n' \
    "$kind" "$n" "$size" "$(echo "$end - $start" | bc)" "$best" "$textual"
done
