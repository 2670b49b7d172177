#!/usr/bin/env bash
# Builds an image from a wheel of this repo: images/build.sh cpu|gpu TAG WHEEL
# The build context holds only the wheel and requirements.lock (no source tree, tests or bench).
# pip inside the build gets this machine's pip settings (pip config list) and CA bundle as build
# secrets (pipconf, pipcert), never in a layer; the local folders they name (file:// indexes,
# find-links) are mounted read-only into the build (podman build --volume) or, with docker, which
# cannot mount host folders into a build, served on 127.0.0.1:$PIP_SERVE_PORT (8765) for the build's
# length (builds run with --network host).
set -euo pipefail
source "$(dirname "$0")/engine.sh"
KIND=$1 TAG=$2 WHEEL=$3
ROOT=$(cd "$IMAGES_DIR/.." && pwd)
PYTHON=${PYTHON:-python3}

# The base the Dockerfile names must be here or pullable; the GPU image's CUDA base cannot be had on a
# machine without a registry. SKIP_UNAVAILABLE=1 (make images) then skips it, saying why; else it fails.
BASE=$(sed -n 's/^FROM[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$IMAGES_DIR/$KIND/Dockerfile" | head -n1)
if ! image_exists "$BASE" && ! why=$($ENGINE pull "$BASE" 2>&1 >/dev/null); then
    echo "images: cannot build the $KIND image here: its base $BASE is not present and cannot be pulled:" >&2
    echo "images:   $(printf '%s' "$why" | tail -n1)" >&2
    if [ "${SKIP_UNAVAILABLE:-0}" = 1 ]; then
        echo "images: skipped $TAG; build it where the registry answers with 'make image-gpu'" >&2
        exit 0
    fi
    [ "$KIND" = cpu ] && echo "images: 'make base-images' builds $BASE from Debian packages" >&2
    exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/slimpipe-image.XXXXXX")
SERVER=
cleanup() { [ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$WORK/context" "$WORK/pip"
cp "$WHEEL" "$ROOT/requirements.lock" "$WORK/context/"

args=(--network host -f "$IMAGES_DIR/$KIND/Dockerfile" -t "$TAG"
      --secret "id=pipconf,src=$WORK/pip/pip.conf" --secret "id=pipcert,src=$WORK/pip/cert.pem")
# PIP_FOLDERS=mount|serve: how the build sees them; serve is the default for docker (and for podman-remote).
PIP_FOLDERS=${PIP_FOLDERS:-$([ "$ENGINE" = podman ] && echo mount || echo serve)}
PORT=${PIP_SERVE_PORT:-8765}
if [ "$PIP_FOLDERS" = mount ]; then
    "$PYTHON" "$IMAGES_DIR/pipconf.py" "$WORK/pip" > "$WORK/folders"
    while read -r folder; do
        if [ -d "$folder" ]; then args+=(--volume "$folder:$folder:ro"); fi
    done < "$WORK/folders"
else
    if [ "$ENGINE" = docker ]; then export DOCKER_BUILDKIT=1; fi
    "$PYTHON" "$IMAGES_DIR/pipconf.py" "$WORK/pip" --http "$PORT" > "$WORK/folders"
    mkdir -p "$WORK/serve"
    while read -r folder; do
        [ -d "$folder" ] || continue
        mkdir -p "$WORK/serve$(dirname "$folder")"
        ln -sfn "$folder" "$WORK/serve$folder"
    done < "$WORK/folders"
    "$PYTHON" -m http.server --bind 127.0.0.1 --directory "$WORK/serve" "$PORT" >/dev/null 2>&1 &
    SERVER=$!
    sleep 1; kill -0 "$SERVER" 2>/dev/null || { echo "images: cannot serve pip's folders on 127.0.0.1:$PORT" >&2; exit 2; }
fi
echo "images: $ENGINE build $KIND -> $TAG"
start=$(date +%s)
# EXTRA_BUILD_ARGS: more engine flags, e.g. --no-cache for a cold build.
$ENGINE build "${args[@]}" ${EXTRA_BUILD_ARGS:-} "$WORK/context"
echo "images: $TAG built in $(( $(date +%s) - start )) s"
