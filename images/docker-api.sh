#!/usr/bin/env bash
# Prints a DOCKER_HOST whose Docker API answers, for `slimpipe run --runner container` (kfp's DockerRunner):
# the DOCKER_HOST already set, else a Docker engine on its default socket, else podman's Docker API, which
# this script starts in the background (`podman system service`, with the project's containers.conf).
# Usage: export DOCKER_HOST=$(images/docker-api.sh)
set -euo pipefail
IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$IMAGES_DIR/containers.conf}"
SOCKET="${SLIMPIPE_PODMAN_SOCKET:-/run/podman/podman.sock}"

answers() {  # answers unix:///path: the Docker API there replies to _ping
    curl -sf --max-time 5 --unix-socket "${1#unix://}" http://d/_ping >/dev/null 2>&1
}

if [ -n "${DOCKER_HOST:-}" ] && answers "$DOCKER_HOST"; then echo "$DOCKER_HOST"; exit 0; fi
if answers unix:///var/run/docker.sock; then echo unix:///var/run/docker.sock; exit 0; fi
# A service this script started records its pid and containers.conf beside the socket. One whose
# containers.conf is gone (a deleted checkout) would start containers without the project's ulimits and
# runtime, so it is stopped and started again with this checkout's.
STATE="$SOCKET.slimpipe"
if answers "unix://$SOCKET"; then
    read -r pid conf < "$STATE" 2>/dev/null || { echo "unix://$SOCKET"; exit 0; }  # not ours: use it as it is
    if [ -f "$conf" ] || ! kill -0 "$pid" 2>/dev/null; then echo "unix://$SOCKET"; exit 0; fi
    echo "docker-api: restarting podman's service (pid $pid): its containers.conf $conf is gone" >&2
    kill "$pid"
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
fi
command -v podman >/dev/null || { echo "docker-api: no Docker API answers and podman is missing; run 'make container-tools'" >&2; exit 2; }
mkdir -p "$(dirname "$SOCKET")"
rm -f "$SOCKET"
nohup setsid podman system service --time=0 "unix://$SOCKET" >"${TMPDIR:-/tmp}/slimpipe-podman-service.log" 2>&1 &
echo "$! $CONTAINERS_CONF" > "$STATE"
for _ in $(seq 1 60); do
    if answers "unix://$SOCKET"; then echo "unix://$SOCKET"; exit 0; fi
    sleep 0.5
done
echo "docker-api: podman's Docker API did not answer at $SOCKET within 30 s; see ${TMPDIR:-/tmp}/slimpipe-podman-service.log" >&2
exit 2
