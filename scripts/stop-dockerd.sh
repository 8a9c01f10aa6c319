#!/usr/bin/env bash
# Stop a private dockerd started by scripts/start-dockerd.sh or by the tests' fixture.
#
#   usage: scripts/stop-dockerd.sh [DIR ...]   (default DIR: /tmp/dockwright-dockerd)
#          scripts/stop-dockerd.sh --stale     every /tmp/dwd-* left by a test run whose
#                                              pytest process is gone (used by .ci/run)
#
# Removes its containers, stops dockerd, kills leftover containerd/shim processes that name
# DIR, unmounts what is left under DIR and deletes DIR.
set -euo pipefail

stop_one() {
    local dir=$1 pid="" ns
    [[ -d "$dir" ]] || return 0
    dir=$(cd "$dir" && pwd)
    ns="dwtest-$(basename "$dir")"
    ns=${ns/dwtest-dwd-/dwtest-}   # the fixture names its namespace after the dir's suffix
    if [[ -f "$dir/dockerd.pid" ]]; then
        pid=$(cat "$dir/dockerd.pid")
    fi
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        local ids
        ids=$(DOCKER_CONFIG="$dir/client-config" timeout 20 /usr/bin/docker -H "unix://$dir/docker.sock" ps -aq 2>/dev/null || true)
        if [[ -n "$ids" ]]; then
            # shellcheck disable=SC2086
            DOCKER_CONFIG="$dir/client-config" timeout 60 /usr/bin/docker -H "unix://$dir/docker.sock" rm -f $ids >/dev/null 2>&1 || true
        fi
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    # containerd and its shims name our directory (or our namespace) on their command line.
    local p cmd
    for p in /proc/[0-9]*; do
        [[ "${p#/proc/}" == "$$" ]] && continue
        cmd=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null || true)
        if [[ "$cmd" == *"$dir/"* || "$cmd" == *"-namespace $ns "* ]]; then
            kill -KILL "${p#/proc/}" 2>/dev/null || true
        fi
    done
    sleep 0.2
    # Unmount leftovers, deepest first.
    awk -v root="$dir/" 'index($5, root) == 1 { print $5 }' /proc/self/mountinfo \
        | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2- \
        | while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
    rm -rf "$dir"
    echo "stopped dockerd in $dir" >&2
}

if [[ "${1:-}" == "--stale" ]]; then
    shopt -s nullglob
    for dir in /tmp/dwd-*/; do
        dir=${dir%/}
        [[ -f "$dir/owner.pid" ]] || continue
        owner=$(cat "$dir/owner.pid")
        if ! kill -0 "$owner" 2>/dev/null; then
            stop_one "$dir"
        fi
    done
    exit 0
fi

if [[ $# -eq 0 ]]; then
    set -- /tmp/dockwright-dockerd
fi
for dir in "$@"; do
    stop_one "$dir"
done
