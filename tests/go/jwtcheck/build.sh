#!/bin/sh
# Build the jwtcheck cross-check tool offline, against the nats-io/jwt v2
# sources that Debian packages under /usr/share/gocode
# (apt-get install golang-go golang-github-nats-io-jwt-dev).
#
# usage: tests/go/jwtcheck/build.sh OUTPUT_BINARY
set -eu

if [ "$#" -ne 1 ]; then
    echo "usage: $0 OUTPUT_BINARY" >&2
    exit 2
fi
out=$1
case "$out" in
    /*) ;;
    *) out="$(pwd)/$out" ;;
esac
src_dir=$(cd "$(dirname "$0")" && pwd)
gopath=${JWTCHECK_GOPATH:-/usr/share/gocode}

if [ ! -d "$gopath/src/github.com/nats-io/jwt/v2" ]; then
    echo "$0: $gopath/src/github.com/nats-io/jwt/v2 is missing;" \
        "install golang-github-nats-io-jwt-dev" >&2
    exit 1
fi

# GOPATH mode resolves imports from the Debian sources; GOPROXY=off makes
# sure nothing is fetched. A private build cache keeps the build working
# where $HOME is read-only.
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
cd "$src_dir"
GOPATH="$gopath" GO111MODULE=off GOFLAGS='' GOPROXY=off GOCACHE="$cache" \
    go build -o "$out" .
