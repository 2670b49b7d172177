#!/usr/bin/env bash
# Builds python:3.11-slim-bookworm from Debian packages, for machines that cannot pull it (air-gapped, or a
# registry that is not reachable): debootstrap --variant=minbase bookworm, Debian's python3 (3.11), pip,
# venv and ca-certificates, `python`/`pip` links, the EXTERNALLY-MANAGED marker removed, imported and
# tagged as the image the Dockerfiles name, so they stay unchanged. Needs root (debootstrap).
# Skips the work when the tag already exists; FORCE=1 rebuilds. DEBIAN_MIRROR overrides the mirror,
# which is otherwise the one this machine's apt uses (/etc/apt/sources.list*), else deb.debian.org.
set -euo pipefail
source "$(dirname "$0")/../engine.sh"
TAG=${BASE_TAG:-docker.io/library/python:3.11-slim-bookworm}
SUITE=bookworm

if [ "${FORCE:-0}" != 1 ] && image_exists "$TAG"; then
    echo "base-images: $TAG exists ($ENGINE); FORCE=1 rebuilds it"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "base-images: debootstrap missing; run 'make container-tools'" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "base-images: debootstrap needs root (sudo make base-images)" >&2; exit 2; }

# The mirror apt uses for SUITE (deb822 .sources or one-line .list), and the one for SUITE-security.
apt_mirror() {  # apt_mirror SUITE: first URI whose suites include exactly SUITE
    local suite=$1 f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        case $f in
        *.sources) awk -v s="$suite" '
              /^[ \t]*$/ { if (uri && ok && deb) { print uri; exit } uri=""; ok=0; deb=0; next }
              /^URIs:/   { uri=$2 }
              /^Types:/  { for (i=2;i<=NF;i++) if ($i=="deb") deb=1 }
              /^Suites:/ { for (i=2;i<=NF;i++) if ($i==s) ok=1 }
              END        { if (uri && ok && deb) print uri }' "$f" ;;
        *) awk -v s="$suite" '$1=="deb" { i=2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++;
                                        if ($(i+1)==s) { print $i; exit } }' "$f" ;;
        esac
    done | head -n1
}
MIRROR=${DEBIAN_MIRROR:-$(apt_mirror "$SUITE")}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-$(apt_mirror "$SUITE-security")}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
echo "base-images: debootstrap $SUITE from $MIRROR${SECURITY:+ (security: $SECURITY)}"

ROOTFS=$(mktemp -d "${TMPDIR:-/var/tmp}/slimpipe-base.XXXXXX")
trap 'rm -rf "$ROOTFS"' EXIT
start=$(date +%s)
debootstrap --variant=minbase ${KEYRING:+$( [ -r "$KEYRING" ] && echo --keyring="$KEYRING")} \
    --include=python3,python3-pip,python3-venv,ca-certificates \
    "$SUITE" "$ROOTFS" "$MIRROR"

# apt sources inside the image: the same mirrors, with updates and security when this machine has them.
{
    echo "Types: deb"; echo "URIs: $MIRROR"; echo "Suites: $SUITE $SUITE-updates"; echo "Components: main"
    echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    if [ -n "$SECURITY" ]; then
        echo; echo "Types: deb"; echo "URIs: $SECURITY"; echo "Suites: $SUITE-security"; echo "Components: main"
        echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    fi
} > "$ROOTFS/etc/apt/sources.list.d/debian.sources"
rm -f "$ROOTFS/etc/apt/sources.list"
# Like the official images (debian:bookworm-slim's apt.conf.d/docker-*): apt keeps no package caches
# (/var/cache/apt/*.bin, 80 MB after an update) nor downloaded .debs, and fetches no translations.
cat > "$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
echo 'Acquire::Languages "none";' > "$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
# Like the official slim images: no documentation, and later apt installs skip it too.
printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    > "$ROOTFS/etc/dpkg/dpkg.cfg.d/slim"
find "$ROOTFS/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
rm -rf "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/*
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/log/*.log
find "$ROOTFS/usr/lib/python3" "$ROOTFS/usr/lib/python3.11" -name __pycache__ -prune -exec rm -rf {} +
# pip installs system-wide, as in the official image (PEP 668 marker removed); python/pip names exist.
rm -f "$ROOTFS"/usr/lib/python3.*/EXTERNALLY-MANAGED
ln -sf python3 "$ROOTFS/usr/bin/python"
ln -sf pip3 "$ROOTFS/usr/bin/pip"

tar -C "$ROOTFS" -c . | $ENGINE import \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$TAG"
$ENGINE run --rm --network none "$TAG" sh -c 'python --version && pip --version' 
echo "base-images: $TAG built in $(( $(date +%s) - start )) s"
