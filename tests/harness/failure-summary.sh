#!/usr/bin/env bash
# What failed in a `make test` log, printed last so that the end of the output
# names it: a CI record that keeps only the tail of a long log still shows the
# failing tests, their first assertion lines and the make targets that stopped.
set -euo pipefail
log=${1:?usage: failure-summary.sh LOG}
plain=$(sed -e 's/\x1b\[[0-9;]*m//g' "$log")

echo
echo "==================== what failed (from $log) ===================="
# pytest's short summary lines, one per failing test, from every lane.
grep -E '^(FAILED|ERROR) [^ ]+(::| - )' <<<"$plain" | cut -c1-400 || echo "(no pytest failure lines)"
echo "---- first assertion lines of each failure ----"
# A failure's "E   " lines; ansible output inside them is cut to keep this short.
awk '/^___+ .* ___+$/ { name = $0; shown = 0 }
     /^E   / && shown < 12 { if (shown == 0) print name; print substr($0, 1, 300); shown++ }' <<<"$plain" \
  | head -n 120 || true
echo "---- lint and sanity findings ----"
# ansible-test sanity, ansible-lint and ruff name the file and line of each finding.
grep -E '^(ERROR: [^ ]+:[0-9]+:|FATAL: |[^ ]+\.(py|yml|yaml):[0-9]+(:[0-9]+)?: )' <<<"$plain" | cut -c1-300 | head -n 60 || true
echo "---- targets that stopped ----"
# molecule prints a CRITICAL line for the absent default scenario on every call: not a failure.
grep -E '^make(\[[0-9]+\])?: \*\*\*|CRITICAL|ERROR +(Verifier|Molecule|.*failed)' <<<"$plain" \
  | grep -v "molecule/default/molecule.yml' glob failed" | cut -c1-300 || true
