"""The wheel carries the collection's JWT code byte for byte, and the console script."""

import configparser
import subprocess
import sys
import zipfile

import pytest

from ansible_collections.cmsgs.nats.tests.unit.acs.region import PACKAGE_DIR, SHARED_JWT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # A copy of the tree keeps the build's leftovers out of the repository.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-build-isolation", "--no-deps",
                    "--wheel-dir", str(out), PACKAGE_DIR], check=True, timeout=300, capture_output=True)
    subprocess.run(["rm", "-rf", PACKAGE_DIR + "/build", PACKAGE_DIR + "/src/cmsgs_acs.egg-info"], check=True)
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
    for dependency in ("aiohttp", "nats-py", "nkeys", "PyNaCl"):
        assert "Requires-Dist: %s" % dependency in metadata


def test_the_source_tree_has_no_second_copy():
    import os
    assert not os.path.exists(os.path.join(PACKAGE_DIR, "src", "cmsgs_acs", "nats_jwt.py"))
