#!/usr/bin/env bash
# Start a private Docker Engine by hand, with the same flags as the tests' `dockerd` fixture
# (tests/support/dockerd.py): no iptables, no bridge, its own socket, data-root, exec-root and
# containerd namespace, so it neither touches the host's network nor any other dockerd.
#
#   usage: scripts/start-dockerd.sh [DIR]      (default DIR: /tmp/dockwright-dockerd)
#   then:  export DOCKER_HOST=unix://DIR/docker.sock
#          /usr/bin/docker run --rm --network host IMAGE ...
#          DOCKER_BUILDKIT=1 /usr/bin/docker build --network none -t NAME CONTEXT
#   stop:  scripts/stop-dockerd.sh [DIR]
#
# Keep DIR short: unix socket paths (ours and containerd's under exec/) max out at 107 bytes.
set -euo pipefail

dir=${1:-/tmp/dockwright-dockerd}
dockerd=$(PATH="$PATH:/usr/sbin:/sbin" command -v dockerd || true)
if [[ -z "$dockerd" || ! -x /usr/bin/docker ]]; then
    echo "dockerd or /usr/bin/docker missing: apt-get install -y docker.io" >&2
    exit 1
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sock="$dir/docker.sock"
if [[ -f "$dir/dockerd.pid" ]] && kill -0 "$(cat "$dir/dockerd.pid")" 2>/dev/null; then
    echo "dockerd already running in $dir" >&2
    echo "export DOCKER_HOST=unix://$sock"
    exit 0
fi
mkdir -p "$dir/data" "$dir/exec" "$dir/client-config"
echo '{}' > "$dir/daemon.json"

storage_driver=${DOCKWRIGHT_TEST_DOCKER_STORAGE_DRIVER:-}
if [[ -z "$storage_driver" ]]; then
    fstype=$(stat -f -c %T "$dir/data")
    if grep -qw overlay /proc/filesystems && [[ "$fstype" != overlayfs && "$fstype" != aufs ]]; then
        storage_driver=overlay2
    else
        storage_driver=vfs
    fi
fi
namespace="dwtest-$(basename "$dir")"

# nohup + setsid: the daemon outlives this shell.
setsid nohup "$dockerd" \
    --iptables=false \
    --ip6tables=false \
    --bridge=none \
    --shutdown-timeout=5 \
    --storage-driver="$storage_driver" \
    --data-root="$dir/data" \
    --exec-root="$dir/exec" \
    --pidfile="$dir/dockerd.pid" \
    --config-file="$dir/daemon.json" \
    --containerd-namespace="$namespace" \
    --containerd-plugins-namespace="$namespace-plugins" \
    --host="unix://$sock" \
    > "$dir/dockerd.log" 2>&1 < /dev/null &

for _ in $(seq 1 300); do
    if DOCKER_CONFIG="$dir/client-config" /usr/bin/docker -H "unix://$sock" version >/dev/null 2>&1; then
        echo "dockerd is up (storage driver $storage_driver, log $dir/dockerd.log); run:" >&2
        echo "export DOCKER_HOST=unix://$sock"
        exit 0
    fi
    sleep 0.2
done
echo "dockerd did not answer within 60 s; last lines of $dir/dockerd.log:" >&2
tail -n 30 "$dir/dockerd.log" >&2
exit 1
