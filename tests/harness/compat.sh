#!/usr/bin/env bash
# The lowest ansible-core the collection declares (meta/runtime.yml), in a venv
# of its own under .cache: the unit tests, then a molecule converge of the
# standalone scenario whose ansible-playbook is that version's.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
venv=.cache/compat-venv
requirements=tests/compat/requirements-lowest.txt

if [ ! -f "$venv/.installed" ] || [ "$requirements" -nt "$venv/.installed" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  touch "$venv/.installed"
fi
version=$("$venv/bin/python" -c 'import ansible.release; print(ansible.release.__version__)')
lowest=$(sed -n 's/^requires_ansible: *">=\([0-9.]*\),.*/\1/p' meta/runtime.yml)
case "$version" in
  "${lowest%.*}".*) ;;
  *) echo "compat venv has ansible-core $version, meta/runtime.yml declares $lowest as the lowest" >&2; exit 1 ;;
esac
echo "ansible-core $version: unit tests"
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit

echo "ansible-core $version: molecule converge of the standalone scenario"
# molecule from the main venv; ansible-playbook (and its modules) from this one.
PATH="$top/$venv/bin:$top/.venv/bin:$PATH"
export PATH
lock=/tmp/cmsgs-molecule-standalone.lock
trap 'flock "$lock" "$top/.venv/bin/molecule" destroy -s standalone >/dev/null 2>&1 || true' EXIT
flock "$lock" bash -c '
  set -euo pipefail
  molecule destroy -s standalone >/dev/null
  molecule converge -s standalone
  ansible-playbook --version | head -1
'
