# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The wheel carries the collection's JWT code byte for byte, and the console script."""

import configparser
import os
import subprocess
import sys
import zipfile

import pytest

from ansible_collections.cmsgs.nats.tests.unit.acs.region import PACKAGE_DIR, SHARED_JWT


def _tree(top):
    return sorted(os.path.relpath(os.path.join(d, n), top) for d, dirs, files in os.walk(top)
                  for n in dirs + files if "__pycache__" not in d and n != "__pycache__")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    before = _tree(PACKAGE_DIR)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-build-isolation", "--no-deps",
                    "--wheel-dir", str(out), PACKAGE_DIR], check=True, timeout=300, capture_output=True)
    # The build works in a scratch folder: an installed collection may be read-only.
    assert _tree(PACKAGE_DIR) == before
    (path,) = out.glob("cmsgs_acs-*.whl")
    return path


def test_the_wheel_holds_an_identical_copy_of_nats_jwt(wheel):
    with zipfile.ZipFile(wheel) as archive:
        copied = archive.read("cmsgs_acs/nats_jwt.py")
    with open(SHARED_JWT, "rb") as handle:
        assert copied == handle.read()


def test_the_wheel_declares_the_console_script_and_dependencies(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    parser = configparser.ConfigParser()
    parser.read_string(entry_points)
    assert parser["console_scripts"]["cmsgs-acs"] == "cmsgs_acs.cli:main"
    for dependency in ("aiohttp", "multidict", "nats-py", "nkeys", "PyNaCl"):
        assert "Requires-Dist: %s" % dependency in metadata


def test_the_source_tree_has_no_second_copy():
    assert not os.path.exists(os.path.join(PACKAGE_DIR, "src", "cmsgs_acs", "nats_jwt.py"))
