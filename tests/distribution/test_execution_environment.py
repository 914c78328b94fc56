# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment: the definition builds an ansible-builder 3
context offline, installing what the collection needs on an AWX controller;
the image, built from a base made here, runs a job as AWX runs one."""

from __future__ import annotations

import json
import os
import shutil
import stat

import ansible_collections.community.docker as docker_collection
import ansible_runner
import pytest
import yaml

from conftest import BIN, TOP, nats_roundtrip, run, write_json

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


def test_a_job_in_the_image_deploys_the_standalone_server(ee_image, fresh_clone, systemd_host, tmp_path):
    """As AWX runs a job: ansible-runner starts the execution environment with the
    private data dir mounted at /runner, and ansible-playbook runs inside it."""
    pdd = tmp_path / "job"
    shutil.copytree(fresh_clone, pdd / "project", symlinks=True)
    # The test host is reached with `docker exec` (AWX would use the machine credential's
    # SSH key): the docker client and socket go into the container, and community.docker
    # where a project sync puts the collections a job needs.
    collections = pdd / "requirements_collections" / "ansible_collections" / "community"
    collections.mkdir(parents=True)
    shutil.copytree(list(docker_collection.__path__)[0], collections / "docker", ignore=shutil.ignore_patterns("__pycache__"))
    docker_client = shutil.which("docker")
    nats_server = "/opt/cmsgs-test/nats-server"
    hostvars = dict(systemd_host.inventory_vars(), nats_server_local_binary=nats_server)
    script = pdd / "inventory" / "hosts"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\ncat <<'INVENTORY'\n%s\nINVENTORY\n" % json.dumps({
        "all": {"children": ["nats_servers"], "vars": {"nats_stack_insecure_no_client_auth": True}},
        "nats_servers": {"hosts": [systemd_host.name]},
        "_meta": {"hostvars": {systemd_host.name: hostvars}}}))
    script.chmod(stat.S_IRWXU)
    # Survey answers, as strings: a plain server, no account server.
    write_json(pdd / "env" / "extravars", {
        "nats_stack_enable_acs": "none", "nats_stack_message_channel_server": "standalone",
        "nats_stack_ncred_readonly": "false", "nats_server_jetstream_enabled": "false"})
    write_json(pdd / "env" / "envvars", {
        "ANSIBLE_COLLECTIONS_PATH": "/runner/requirements_collections:/usr/share/ansible/collections",
        "ANSIBLE_FORCE_COLOR": "False"})
    write_json(pdd / "env" / "settings", {"job_timeout": 900, "suppress_ansible_output": True})
    socket_group = os.stat("/var/run/docker.sock").st_gid
    with pytest.MonkeyPatch.context() as patch:
        for name in ("ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS"):
            patch.delenv(name, raising=False)
        result = ansible_runner.run(
            private_data_dir=str(pdd), playbook="site.yml", ident="job", quiet=True,
            process_isolation=True, process_isolation_executable="docker", container_image=ee_image,
            container_volume_mounts=[
                "/var/run/docker.sock:/var/run/docker.sock",
                "%s:/usr/local/bin/docker:ro" % docker_client,
                "%s:%s:ro" % (os.path.realpath(BIN / "nats-server"), nats_server)],
            container_options=["--group-add=%d" % socket_group])
    assert (result.status, result.rc) == ("successful", 0), result.stdout.read()[-6000:]
    # It ran in the image, not on this machine.
    command = json.loads((pdd / "artifacts" / "job" / "command").read_text())["command"]
    assert command[:2] == ["docker", "run"] and ee_image in command
    assert systemd_host.exec("systemctl", "is-active", "nats-server").stdout.strip() == "active"
    assert nats_roundtrip("nats://%s:4222" % systemd_host.address, b"from the EE") == b"from the EE"
