#!/usr/bin/env bash
# The JWT unit tests cross-check our tokens with the Go implementation
# (nats-io/jwt as Debian packages it). Install it where we can; elsewhere those
# tests are skipped and say so.
set -euo pipefail

if command -v go >/dev/null 2>&1 && [ -d /usr/share/gocode/src/github.com/nats-io/jwt ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: golang-go and golang-github-nats-io-jwt-dev are not installed;" >&2
  echo "      the Go cross-check of the JWT tests will be skipped." >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-github-nats-io-jwt-dev >/dev/null
