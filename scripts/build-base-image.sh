#!/usr/bin/env bash
# Make the local base image the container tests build deploy/docker/Dockerfile on, once, and
# cache it outside the repository. No container registry is needed: the base is a Debian
# `debootstrap --variant=minbase` root file system (python3, venv, pip, ca-certificates) taken
# from the Debian mirror this machine's apt sources already name, imported into a private
# podman storage. Prints the image reference on stdout (last line).
#
#   LLM_EXPORTER_TEST_CACHE  cache root (default: $HOME/.cache/llm-exporter-tests)
#
# The podman configuration lives in "$CACHE/podman" (containers.conf, storage.conf): runc,
# cgroupfs, file events, explicit rlimits and the overlay driver, which is what works as root in
# a sandbox without systemd. Tests use the same files (tests/deploy/podman.py).
# Re-running is cheap: nothing is done when the image is already in the storage.
set -euo pipefail

CACHE="${LLM_EXPORTER_TEST_CACHE:-$HOME/.cache/llm-exporter-tests}"
ROOT="$CACHE/podman"
SUITE="${BASE_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}"
IMAGE="localhost/llm-exporter-test-base:$SUITE"
PACKAGES="python3,python3-venv,python3-pip,python-is-python3,ca-certificates"

log() { echo "build-base-image: $*" >&2; }

mkdir -p "$ROOT/storage" "$ROOT/run"
cat >"$ROOT/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat >"$ROOT/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$ROOT/storage"
runroot = "$ROOT/run"
EOF
export CONTAINERS_CONF="$ROOT/containers.conf" CONTAINERS_STORAGE_CONF="$ROOT/storage.conf"

exec 9>"$ROOT/base.lock"
flock 9  # another run may be making the same image right now
if podman image exists "$IMAGE"; then
  echo "$IMAGE"
  exit 0
fi

# The first Debian mirror named by apt (deb822 .sources or one-line sources.list).
mirror=$(
  { grep -hs -E '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
    grep -hs -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
      sed -E 's/^deb (\[[^]]*\] )?//' | awk '{print $1}'
  } | grep -v -E 'security|updates' | head -n 1
) || true
[ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt/sources.list*"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/llm-exporter-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "debootstrap $SUITE from $mirror (about a minute)"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/log/*.log
tar --numeric-owner -C "$work/rootfs" -c . |
  podman import --change 'CMD ["/bin/bash"]' - "$IMAGE" >&2
echo "$IMAGE"
