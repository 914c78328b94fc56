# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment definition builds an ansible-builder 3 context
offline, installing what the collection needs on an AWX controller."""

from __future__ import annotations

import yaml

from conftest import BIN, run


def test_ansible_builder_creates_the_build_context(fresh_clone, tmp_path):
    context = tmp_path / "context"
    run([BIN / "ansible-builder", "create", "-f", fresh_clone / "execution-environment.yml", "-c", context,
         "--output-filename", "Containerfile"], cwd=fresh_clone)
    containerfile = (context / "Containerfile").read_text()
    # The base image can be swapped at build time, and the collections' needs are introspected.
    assert 'ARG EE_BASE_IMAGE="' in containerfile
    assert "introspect.py introspect" in containerfile
    runtime = yaml.safe_load((fresh_clone / "meta" / "runtime.yml").read_text())["requires_ansible"]
    lowest, highest = (part.lstrip("<>=") for part in runtime.split(","))
    assert 'ANSIBLE_INSTALL_REFS="ansible-core>=%s,<%s ansible-runner' % (lowest[:4], highest[:4]) in containerfile
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    wanted = {entry["name"]: entry.get("version") for entry in galaxy["collections"]}
    assert wanted == {"cmsgs.nats": None, "community.crypto": ">=2.10.0"}
    assert (context / "_build" / "scripts" / "assemble").is_file()
