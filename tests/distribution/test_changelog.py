# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The changelog is kept as antsibull-changelog fragments: they must lint, and a
release built from them (in a fresh clone) must carry every fragment's entries
and list the collection's modules and filters."""

from __future__ import annotations

import re
import shutil

import yaml

from conftest import BIN, clean_env, run


def test_fragments_lint(fresh_clone):
    run([BIN / "antsibull-changelog", "lint"], cwd=fresh_clone)


def test_a_release_carries_every_fragment(fresh_clone, tmp_path):
    # A release consumes the fragments: make it in a copy of its own.
    tree = shutil.copytree(fresh_clone, tmp_path / "tree", symlinks=True)
    version = yaml.safe_load((tree / "galaxy.yml").read_text())["version"]
    fragments = {path.name: yaml.safe_load(path.read_text())
                 for path in sorted((tree / "changelogs" / "fragments").glob("*.yml"))}
    assert fragments
    run([BIN / "antsibull-changelog", "release", "--version", version, "--date", "2026-01-01"],
        cwd=tree, env=clean_env())
    changelog = (tree / "CHANGELOG.md").read_text()
    # The markdown escapes punctuation; compare letters and digits only.
    plain = re.sub(r"[^a-z0-9]+", "", re.sub(r"<[^>]+>", "", changelog).lower())
    for name, fragment in fragments.items():
        for section, entries in fragment.items():
            for entry in [entries] if isinstance(entries, str) else entries:
                words = re.sub(r"<[^>]+>", "", entry)
                assert re.sub(r"[^a-z0-9]+", "", words.replace("``", "").lower()) in plain, (name, section)
    for module in (tree / "plugins" / "modules").glob("*.py"):
        assert "cmsgs.nats.%s" % module.stem in changelog.replace("\\", "")
