#!/usr/bin/env bash
# Build the local Debian 12 image the molecule scenarios boot with systemd as PID 1.
# No registry is needed: debootstrap from the machine's own Debian mirror, then
# `docker import`. The tag is reused when it already exists, so only the first run
# pays the ~40 s. MOLECULE_IMAGE names another systemd image and skips the build.
set -euo pipefail

image="${MOLECULE_IMAGE:-cmsgs-nats-test:bookworm}"
if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
if [ -n "${MOLECULE_IMAGE:-}" ]; then
  docker pull "$image"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "debootstrap is needed to build the test image; install it, or set MOLECULE_IMAGE" >&2
    echo "to a systemd-enabled Debian/Ubuntu image you can pull." >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# The mirror this machine already uses (deb822 or one-line sources), so the
# build works wherever apt does.
mirror=$(
  { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
    grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'
  } | grep -v -- '-security' | head -n 1 || true
)
mirror="${mirror:-http://deb.debian.org/debian}"

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
# python3-cryptography and openssl: the TLS check and probe modules run on the hosts.
debootstrap --variant=minbase \
  --include=python3,python3-cffi-backend,python3-cryptography,openssl,systemd,systemd-sysv,dbus,procps,iproute2,ca-certificates \
  bookworm "$rootfs" "$mirror" >/dev/null \
  || { echo "debootstrap failed; see its log above" >&2; exit 1; }
# systemd in a container: no getty, no udev triggers that cannot work there.
rm -f "$rootfs"/etc/systemd/system/getty.target.wants/* \
      "$rootfs"/lib/systemd/system/multi-user.target.wants/getty.target
tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
echo "Built test image $image"
