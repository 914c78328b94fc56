#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as
# ansible_collections/cmsgs/nats, which is where ansible-test insists on running.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
venv_python="$top/.venv/bin/python"

# ansible-test bootstraps pip into its venvs with a script it downloads from a
# host build machines may not reach; it uses a cached copy first, so place a
# stand-in that installs pip from the standard library under the expected name.
pip_version=$("$venv_python" - <<'PY'
import inspect, re
from ansible_test._internal import python_requirements
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(python_requirements)).group(1))
PY
)
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
standin="$cache/get_pip_${pip_version//./_}.py"
[ -f "$standin" ] || cp "$top/tests/harness/get_pip_standin.py" "$standin"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/cmsgs/nats"
mkdir -p "$dest"
# Only what git tracks or would track: the collection as it will be published.
# collections/ is the AWX project's link back to this tree (not published), and
# .venv is a link in worktrees that a `.venv/` ignore rule does not match.
(cd "$top" && git ls-files -z --cached --others --exclude-standard) \
  | grep -zv -e '^\.venv$' -e '^collections/' \
  | (cd "$top" && tar --null -T - -cf -) | tar -C "$dest" -xf -
cd "$dest"
git init -q && git add -A
PATH="$top/.venv/bin:$PATH" ansible-test sanity --local --python 3.11 --color no "$@"
