# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment: the definition builds an ansible-builder 3
context offline, installing what the collection needs on an AWX controller;
the image, built from a base made here, runs a job as AWX runs one."""

from __future__ import annotations

import json

import nats.errors
import pytest
import yaml

from conftest import BIN, TOP, ExecutionEnvironment, nats_roundtrip, run
from test_runner_job import awx_job_run, provision_ncred

EE_IMAGE = "cmsgs-nats-ee:local"


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


@pytest.fixture(scope="module")
def ee_image():
    """The execution environment image, built as `make ee` builds it."""
    run([TOP / "tests" / "harness" / "build-ee.sh", EE_IMAGE], cwd=TOP, timeout=1800)
    return EE_IMAGE


def test_the_image_holds_what_the_collection_needs(ee_image):
    # Its own Python (a venv pip may install into), with the controller libraries and both collections.
    probe = run(["docker", "run", "--rm", ee_image, "sh", "-c",
                 "command -v python3 && command -v ansible-runner && python3 -c 'import nkeys, nacl, cryptography, nats'"
                 " && ansible-galaxy collection list --format json"])
    lines = probe.stdout.splitlines()
    assert lines[:2] == ["/opt/ee/bin/python3", "/opt/ee/bin/ansible-runner"]
    collections = json.loads("\n".join(lines[2:]))["/usr/share/ansible/collections/ansible_collections"]
    assert set(collections) == {"cmsgs.nats", "community.crypto"}


def test_the_awx_job_runs_in_the_image(ee_image, fresh_clone, systemd_host, region1, tmp_path):
    """The AWX job of test_runner_job.py (survey answers as strings, the Region One
    Token as a credential, REGION1, the primary account server and the standalone
    server in operator mode), started by ansible-runner inside the image."""
    ee = ExecutionEnvironment(ee_image)
    systemd_host.exec("rm", "-rf", "/srv/ncred")
    provision_ncred(systemd_host, region1)
    pdd = tmp_path / "job"
    result = awx_job_run(pdd, fresh_clone, systemd_host, region1, ee)
    assert (result.status, result.rc) == ("successful", 0), result.stdout.read()[-6000:]
    assert ee.ran_the_job(pdd)
    assert systemd_host.exec("systemctl", "is-active", "nats-server", "cmsgs-acs").stdout.split() == ["active"] * 2
    url = "nats://%s:4222" % systemd_host.address
    assert nats_roundtrip(url, b"from the EE", user_credentials=region1["sys_creds"]) == b"from the EE"
    with pytest.raises(nats.errors.Error):
        nats_roundtrip(url, b"anonymous")
    signature = region1["token"].rsplit(".", 1)[1]
    artifacts = [path for path in (pdd / "artifacts").rglob("*") if path.is_file()]
    assert len(artifacts) > 50
    assert [str(path) for path in artifacts if signature in path.read_text(errors="replace")] == []
