#!/usr/bin/env bash
# make mutation: mutmut over plugins/module_utils, plugins/filter, plugins/modules,
# plugins/action, plugins/plugin_utils
# (and extensions/acs/src when present) against the unit tests, then the score
# per folder and every survivor not explained in tests/mutation/equivalent.md.
#
# mutmut names a mutant after its file's path, and the tests import the
# collection as ansible_collections.cmsgs.nats: so the run happens in
# .cache/mutation, where the tree is linked in at ansible_collections/cmsgs/nats.
# Results are kept there; a second run only tries mutants of changed functions.
# `tests/mutation/run.sh NAME...` re-runs chosen mutants, `--fresh` starts over.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
stage="$repo/.cache/mutation"
bin="$repo/.venv/bin"
jobs="${MUTATION_JOBS:-$(nproc)}"

if [ "${1:-}" = "--fresh" ]; then
  rm -rf "$stage"
  shift
fi
mkdir -p "$stage/ansible_collections/cmsgs"
ln -sfn ../../../.. "$stage/ansible_collections/cmsgs/nats"
# No [pytest] pythonpath here: the original tree must not shadow mutants/.
printf '[pytest]\n' > "$stage/pytest.ini"
cp "$repo/tests/mutation/setup.cfg" "$stage/setup.cfg"
if [ -d "$repo/extensions/acs/src" ]; then
  # A src/ layout mutmut knows: module names lose the "src." prefix.
  ln -sfn ../../extensions/acs/src "$stage/src"
  python3 - "$stage/setup.cfg" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
text = text.replace("source_paths=\n", "source_paths=\n    src\n", 1)
# The package's tests live in tests/unit/acs and are copied with tests/unit.
# They put <collection>/extensions/acs/src first on sys.path; that folder is
# not copied, so the mutated package under mutants/src is what they import.
open(path, "w").write(text)
PY
fi

cd "$stage"
start=$(date +%s)
# mutmut draws a progress line per mutant; keep only its summary lines.
"$bin/mutmut" run --max-children "$jobs" "$@" 2>&1 | tr '\r' '\n' | grep -v -E '^\S+ +([0-9]+/[0-9]+ |Generating|Running|Listing|Checking)' || true
echo "mutmut run took $(( $(date +%s) - start ))s with $jobs workers"
"$bin/python" "$repo/tests/mutation/report.py" "$stage/mutants" "$repo/tests/mutation/equivalent.md"
