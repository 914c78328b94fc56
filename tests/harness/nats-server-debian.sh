#!/usr/bin/env bash
# Debian's nats-server (the 2.9 line) for the reload-or-restart oracle, unpacked
# under .cache/nats-server-debian: downloaded with apt, never installed, so no
# service is set up or started on this machine.
set -euo pipefail

dest="${1:-.cache/nats-server-debian}"
binary="$dest/root/usr/sbin/nats-server"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: no apt-get here; the oracle runs on the pinned nats-server only" >&2
  exit 0
fi
mkdir -p "$dest"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && apt-get download nats-server >/dev/null 2>&1); then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    (cd "$work" && apt-get download nats-server >/dev/null)
  else
    echo "note: apt-get download nats-server failed; the oracle runs on the pinned nats-server only" >&2
    exit 0
  fi
fi
dpkg-deb -x "$work"/nats-server_*.deb "$dest/root"
"$binary" --version >&2
echo "$binary"
