# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Score per folder and the survivors of the last mutmut run.

Reads mutmut's per-file results (mutants/**/*.py.meta) and
tests/mutation/equivalent.md, whose lines "- `MUTANT`: reason" name survivors
that behave exactly like the original code. Those are reported as equivalent
and left out of the score; every other survivor is listed. Exits 1 when a
survivor is neither killed nor explained.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import re
import sys

# mutmut's exit codes (mutmut/stats.py)
KILLED, SURVIVED = {1, 3}, {0}
TIMEOUT = {36, 24, -24, 152, 255}
NO_TESTS = {5, 33}


def equivalents(path):
    found = {}
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            match = re.match(r"^- `([^`]+)`: (.+)$", line.strip())
            if match:
                found[match.group(1)] = match.group(2)
    return found


def folder_of(meta_path, mutants):
    rel = os.path.relpath(meta_path, mutants)
    rel = rel.replace("ansible_collections/cmsgs/nats/", "", 1)
    if rel.startswith("src/"):
        rel = "extensions/acs/" + rel
    return os.path.dirname(rel)


def main(mutants, equivalent_md):
    explained = equivalents(equivalent_md)
    counts = collections.defaultdict(collections.Counter)
    survivors = collections.defaultdict(list)
    # Listed as equivalent but tried and no longer surviving: the list is stale.
    stale = []
    for meta in sorted(glob.glob(os.path.join(mutants, "**", "*.py.meta"), recursive=True)):
        folder = folder_of(meta, mutants)
        with open(meta, encoding="utf-8") as handle:
            results = json.load(handle)["exit_code_by_key"]
        for name, code in sorted(results.items()):
            if name in explained and code is not None and code not in SURVIVED:
                stale.append(name)
            if code in KILLED or code in TIMEOUT:
                counts[folder]["killed"] += 1
            elif code in SURVIVED and name in explained:
                counts[folder]["equivalent"] += 1
            elif code in SURVIVED:
                counts[folder]["survived"] += 1
                survivors[folder].append(name)
            elif code in NO_TESTS:
                counts[folder]["no tests"] += 1
                survivors[folder].append(name + " (no test runs this code)")
            elif code is None:
                counts[folder]["not checked"] += 1
            else:
                counts[folder]["other"] += 1
                survivors[folder].append("%s (exit %s)" % (name, code))
    print("\nmutation score per folder (killed / (mutants - equivalent)):")
    unexplained = 0
    for folder in sorted(counts):
        c = counts[folder]
        tried = c["killed"] + c["survived"] + c["no tests"] + c["other"]
        score = 100.0 * c["killed"] / tried if tried else 0.0
        print("  %-28s %5.1f%%  killed %d, survived %d, equivalent %d, no tests %d%s" % (
            folder, score, c["killed"], c["survived"], c["equivalent"], c["no tests"],
            ", not checked %d" % c["not checked"] if c["not checked"] else ""))
        unexplained += len(survivors[folder])
    for folder in sorted(survivors):
        if survivors[folder]:
            print("\nsurvivors in %s (see one with: cd .cache/mutation && ../../.venv/bin/mutmut show NAME):" % folder)
            for name in survivors[folder]:
                print("  " + name)
    if stale:
        print("\nlisted in %s but no longer surviving (remove them): %s" % (
            os.path.relpath(equivalent_md), ", ".join(sorted(stale))))
    if explained:
        print("\n%d survivor(s) explained in %s" % (len(explained), os.path.relpath(equivalent_md)))
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
