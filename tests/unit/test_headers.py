# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every source file of the collection opens with the same license header, and COPYING holds the licence."""

from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PY_HEADER = [
    "# -*- coding: utf-8 -*-",
    "# Copyright (c) cmsgs.nats maintainers",
    "# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)",
]
PY_FILES = sorted(
    path for folder in ("plugins", "tests", "molecule") for path in (ROOT / folder).rglob("*.py")
    if "output" not in path.relative_to(ROOT).parts
)
DOC_FILES = sorted((ROOT / "plugins" / "filter").glob("*.yml"))


@pytest.mark.parametrize("path", PY_FILES, ids=[str(p.relative_to(ROOT)) for p in PY_FILES])
def test_python_files_open_with_the_header(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("#!"):
        lines = lines[1:]
    assert lines[:3] == PY_HEADER


@pytest.mark.parametrize("path", DOC_FILES, ids=[p.name for p in DOC_FILES])
def test_plugin_doc_files_open_with_the_header(path):
    assert path.read_text(encoding="utf-8").splitlines()[:3] == ["---"] + PY_HEADER[1:]


def test_copying_is_the_gpl3_the_headers_point_at():
    text = (ROOT / "COPYING").read_text(encoding="utf-8")
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE") and "Version 3, 29 June 2007" in text
