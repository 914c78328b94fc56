#!/usr/bin/env bash
# The repository as AWX/Tower uses a project: a fresh clone, no `make`, no
# collections path from the environment, a HOME with nothing installed. Every
# playbook must find cmsgs.nats (through the committed collections/ link) and
# its dependencies, and ansible-lint must pass there as it does in the tree.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin="$top/.venv/bin"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$top/tests/harness/fresh-clone.sh" "$work/project"
mkdir -p "$work/home"

# What AWX starts a job with: the project's ansible.cfg (found in the working
# folder), no ANSIBLE_CONFIG or collections path set, an empty home.
in_project() {
  (cd "$work/project" && env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_COLLECTIONS_PATHS \
    HOME="$work/home" PATH="$bin:$PATH" "$@")
}

for playbook in site.yml playbooks/*.yml; do
  in_project ansible-playbook --syntax-check "$playbook" >/dev/null
  echo "syntax-check ok: $playbook"
done
in_project ansible-lint --offline
