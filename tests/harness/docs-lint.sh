#!/usr/bin/env bash
# make lint: the collection's plugin and role documentation as antsibull-docs
# (the docsite builder) reads it. Linted from a built and installed copy, which
# leaves out everything galaxy.yml's build_ignore does (.venv, .cache, tests).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build --output-path "$work" . >/dev/null
mkdir -p "$work/collections/ansible_collections/cmsgs/nats"
tar -xzf "$work"/cmsgs-nats-*.tar.gz -C "$work/collections/ansible_collections/cmsgs/nats"
cd "$work/collections/ansible_collections/cmsgs/nats"
ANSIBLE_COLLECTIONS_PATH="$work/collections" antsibull-docs lint-collection-docs --plugin-docs .
