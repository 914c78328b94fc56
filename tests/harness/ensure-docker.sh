#!/usr/bin/env bash
# Make sure a docker daemon answers. On a Debian/Ubuntu machine where we are root,
# install docker.io and start dockerd ourselves (CI machines and fresh VMs have
# only a client or nothing); anywhere else, say what to install and stop.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "No docker daemon answers. Install Docker (https://docs.docker.com/engine/install/)," >&2
  echo "start it, and make sure this user may use it (docker info must work)." >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "Installing docker.io from the OS packages..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "Starting dockerd..."
  mkdir -p /var/log
  setsid dockerd >/var/log/cmsgs-nats-dockerd.log 2>&1 < /dev/null &
  # Whoever started the harness (CI) may stop this daemon again when done.
  echo $! > /run/cmsgs-nats-dockerd.pid
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && exit 0
    sleep 1
  done
  echo "dockerd did not answer within 60 s; see /var/log/cmsgs-nats-dockerd.log" >&2
  exit 1
fi
