#!/usr/bin/env bash
# fresh-clone.sh DEST: a git clone of this repository at DEST, as AWX/Tower
# syncs a project, carrying the working tree's uncommitted state too (files git
# tracks or would track, deletions), so what is tested is what a commit of
# this tree would give a user. No .venv, no .cache, nothing git ignores.
set -euo pipefail
dest=${1:?usage: fresh-clone.sh DEST}
top=$(cd "$(dirname "$0")/../.." && pwd)

git clone --quiet --no-hardlinks "$top" "$dest"
# .venv is a link in worktrees, which a `.venv/` ignore rule does not match.
(cd "$top" && git ls-files -z --cached --others --exclude-standard) | grep -zv '^\.venv$' \
  | (cd "$top" && tar --null --no-recursion -T - -cf - 2>/dev/null) | tar -C "$dest" -xf -
(cd "$top" && git ls-files -z --deleted) | (cd "$dest" && xargs -0 -r rm -f --)
