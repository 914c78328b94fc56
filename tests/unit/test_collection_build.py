# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A built collection carries no key: a private CA or nsc keys left in the tree
(the CA folder's old default was <inventory>/pki) stay out of the tarball."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GALAXY = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
SEED = "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4"
# A PEM private key with a body, or an nkey seed (code that names the PEM
# header, as the certificate checks do, is not a key).
PRIVATE = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=]{16}|\bS[OAUNCPX][A-Z2-7]{56}\b")
BODY = b"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg"

# Where key material ends up in a working tree: next to an inventory (the old
# default), at the top, and an nsc store copied in by hand.
PLANTED = {
    "inventories/production/pki/client/ca.key": b"-----BEGIN EC PRIVATE KEY-----\n" + BODY + b"\n-----END EC PRIVATE KEY-----\n",
    "inventories/production/pki/client/ca.pem": b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    "inventories/production/pki/client/nats-1/privkey.pem": b"-----BEGIN PRIVATE KEY-----\n" + BODY + b"\n-----END PRIVATE KEY-----\n",
    "pki/gateway/ca.key": b"-----BEGIN EC PRIVATE KEY-----\n" + BODY + b"\n-----END EC PRIVATE KEY-----\n",
    "playbooks/files/sys.creds": b"-----BEGIN USER NKEY SEED-----\n" + SEED.encode() + b"\n------END USER NKEY SEED------\n",
    "playbooks/files/keys/U/AB/UABC.nk": SEED.encode(),
}


@pytest.mark.skipif(not os.path.exists(GALAXY), reason="ansible-galaxy not found")
def test_the_built_collection_holds_no_key(tmp_path):
    tree = tmp_path / "tree"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        source = os.path.join(ROOT, name)
        if os.path.isfile(source):
            os.makedirs(os.path.dirname(tree / name), exist_ok=True)
            shutil.copy2(source, tree / name)
    for name, data in PLANTED.items():
        os.makedirs(os.path.dirname(tree / name), exist_ok=True)
        (tree / name).write_bytes(data)
    built = subprocess.run([GALAXY, "collection", "build", "--output-path", str(tmp_path / "out"), str(tree)],
                           capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    (tarball,) = (tmp_path / "out").iterdir()
    with tarfile.open(tarball) as archive:
        members = [member for member in archive.getmembers() if member.isfile()]
        names = [member.name for member in members]
        holding_keys = [member.name for member in members if PRIVATE.search(archive.extractfile(member).read())]
    assert "roles/tls_certs/defaults/main.yml" in names  # the build did pick up the tree
    assert [name for name in names if "pki" in name.split("/") or name.endswith((".key", ".creds", ".nk"))] == []
    assert holding_keys == []
