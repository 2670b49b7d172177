#!/usr/bin/env bash
# Pushes the built images with the engine that built them: images/push.sh TAG...
# (a tag missing here, e.g. the GPU image on a machine that cannot build it, is named and skipped).
set -euo pipefail
source "$(dirname "$0")/engine.sh"
for tag in "$@"; do
    if image_exists "$tag"; then $ENGINE push "$tag"; else echo "push: $tag was not built here; skipped" >&2; fi
done
