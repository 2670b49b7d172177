# Sourced by the image scripts: picks the container engine and its settings.
# ENGINE=docker|podman overrides; otherwise docker when `docker info` answers, else podman.
# Podman reads the project's containers.conf (runc, ulimits this machine allows) and registries.conf
# (short names mean docker.io, as with docker), never /etc.
IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$IMAGES_DIR/containers.conf}"
export CONTAINERS_REGISTRIES_CONF="${CONTAINERS_REGISTRIES_CONF:-$IMAGES_DIR/registries.conf}"
if [ -z "${ENGINE:-}" ]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        ENGINE=docker
    elif command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then
        ENGINE=podman
    else
        echo "images: no container engine answers (docker info and podman info both failed);" \
             "run 'make container-tools' to install podman" >&2
        exit 2
    fi
fi
image_exists() {  # image_exists NAME: true when the engine already holds NAME
    if [ "$ENGINE" = podman ]; then podman image exists "$1"; else docker image inspect "$1" >/dev/null 2>&1; fi
}
