# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the distribution tests: the collection as users receive it.

An AWX/Tower project is a fresh clone of the repository; a Galaxy user gets the
built tarball. Both deploy onto one systemd container (the harness image),
shared by the tests of this folder and removed at the end.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import ansible_collections.community.docker as docker_collection
import nats
import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import (
    NscPaths,
    plan_account,
    plan_operator,
    plan_user,
)

TOP = Path(__file__).resolve().parents[2]
BIN = TOP / ".venv" / "bin"
HARNESS = TOP / "tests" / "harness"
HOST = "cmsgs-awx-1"
# Environment variables a developer's shell or the Makefile may set and AWX never does.
FOREIGN_ENV = ("ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS")


def clean_env(**extra):
    """The environment of a user's shell: the venv's tools, no collection path or config."""
    env = {key: value for key, value in os.environ.items() if key not in FOREIGN_ENV}
    env["PATH"] = "%s:%s" % (BIN, env.get("PATH", ""))
    env.update(extra)
    return env


def run(argv, cwd="/", env=None, timeout=900):
    """Run a command, failing the test with its output when it fails.

    The default working folder is one without an ansible.cfg: this tree's
    would make the collection in it visible.
    """
    completed = subprocess.run(
        [str(arg) for arg in argv], cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=timeout,
        check=False)
    if completed.returncode != 0:
        pytest.fail("%s exited with %d\n--- stdout\n%s\n--- stderr\n%s" % (
            " ".join(map(str, argv)), completed.returncode, completed.stdout[-6000:], completed.stderr[-3000:]))
    return completed


@pytest.fixture(scope="session")
def fresh_clone(tmp_path_factory):
    """The repository as AWX syncs a project (with this tree's uncommitted state)."""
    path = tmp_path_factory.mktemp("project") / "project"
    run([HARNESS / "fresh-clone.sh", path])
    return path


class SystemdHost:
    def __init__(self, name, address):
        self.name = name
        self.address = address

    def exec(self, *argv, check=True):
        completed = subprocess.run(["docker", "exec", self.name, *argv], capture_output=True, text=True, timeout=60,
                                   check=False)
        if check and completed.returncode != 0:
            pytest.fail("%s on %s: %s" % (" ".join(argv), self.name, completed.stderr or completed.stdout))
        return completed

    def put(self, path, content, mode="0600"):
        """A file on the host as an operator provisions a volume: as root, with ``mode``."""
        parent = path.rsplit("/", 1)[0]
        completed = subprocess.run(
            ["docker", "exec", "-i", self.name, "sh", "-c",
             'umask 077 && mkdir -p "$1" && cat > "$2" && chmod "$3" "$2"', "put", parent, path, mode],
            input=content, capture_output=True, text=True, timeout=60, check=False)
        if completed.returncode != 0:
            pytest.fail("writing %s on %s: %s" % (path, self.name, completed.stderr))

    def inventory_vars(self):
        """How Ansible reaches the container (docker exec as root, the venv's nats-server)
        and the address the controller's test client reaches it at (its name is docker's)."""
        return {
            "ansible_connection": "community.docker.docker",
            "nats_stack_verify_address": self.address,
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_become": False,
            "nats_server_install_method": "local",
            "nats_server_local_binary": str(BIN / "nats-server"),
        }


@pytest.fixture(scope="session")
def systemd_host():
    """One systemd container for every test here; a lock keeps parallel runs apart."""
    with open("/tmp/cmsgs-distribution.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run([HARNESS / "ensure-docker.sh"])
        run([HARNESS / "systemd-host.sh", "remove", HOST])
        address = run([HARNESS / "systemd-host.sh", "start", HOST]).stdout.strip()
        try:
            yield SystemdHost(HOST, address)
        finally:
            run([HARNESS / "systemd-host.sh", "remove", HOST])


async def _roundtrip(url, payload, connect_options):
    connection = await nats.connect(
        url, connect_timeout=5, allow_reconnect=False, max_reconnect_attempts=0, **connect_options)
    try:
        subscription = await connection.subscribe("cmsgs.distribution")
        await connection.flush(timeout=5)
        await connection.publish("cmsgs.distribution", payload)
        return (await subscription.next_msg(timeout=5)).data
    finally:
        await connection.close()


def nats_roundtrip(url, payload=b"hello", **connect_options):
    """Publish one message through the server at ``url`` as a client does; what came back."""
    return asyncio.run(_roundtrip(url, payload, connect_options))


def write_json(path, data, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    path.chmod(mode)
    return path


class ExecutionEnvironment:
    """How ansible-runner starts a job in the execution environment image, as AWX does:
    the private data dir mounted at /runner, ansible-playbook run inside the image.

    The test host is reached with `docker exec` (AWX would use the machine
    credential's SSH key): the docker client and socket go into the container, and
    community.docker where a project sync puts the collections a job needs. The
    nats-server binary the hosts get is mounted where the inventory says.
    """

    nats_server = "/opt/cmsgs-test/nats-server"
    collections_path = "/runner/requirements_collections:/usr/share/ansible/collections"

    def __init__(self, image):
        self.image = image

    def prepare(self, pdd):
        collections = pdd / "requirements_collections" / "ansible_collections" / "community"
        collections.mkdir(parents=True, exist_ok=True)
        shutil.copytree(list(docker_collection.__path__)[0], collections / "docker",
                        ignore=shutil.ignore_patterns("__pycache__"))

    def path(self, pdd, path):
        """Where a file of the private data dir is inside the container."""
        return "/runner/%s" % path.relative_to(pdd)

    def runner_options(self):
        return {
            "process_isolation": True, "process_isolation_executable": "docker", "container_image": self.image,
            "container_volume_mounts": [
                "/var/run/docker.sock:/var/run/docker.sock",
                "%s:/usr/local/bin/docker:ro" % shutil.which("docker"),
                "%s:%s:ro" % (os.path.realpath(BIN / "nats-server"), self.nats_server)],
            "container_options": ["--group-add=%d" % os.stat("/var/run/docker.sock").st_gid],
        }

    def ran_the_job(self, pdd, ident="job"):
        """Whether ansible-runner started the job in this image, not on this machine."""
        command = json.loads((pdd / "artifacts" / ident / "command").read_text())["command"]
        return command[:2] == ["docker", "run"] and self.image in command


def applied(outcome):
    outcome.plan.apply()
    return outcome


@pytest.fixture(scope="session")
def region1(tmp_path_factory):
    """A REGION1 operator held by the user (its JWT is the token), SYS and a sys user."""
    paths = NscPaths(str(tmp_path_factory.mktemp("user-nsc")))
    applied(plan_operator(paths, "REGION1"))
    sys_account = applied(plan_account(paths, "REGION1", "SYS"))
    operator = applied(plan_operator(paths, "REGION1", system_account="SYS"))
    user = applied(plan_user(paths, "REGION1", "SYS", "sys"))
    with open(operator.entity.jwt_path) as jwt:
        token = jwt.read().strip()
    return {"token": token, "system_account_jwt": sys_account.token, "sys_creds": user.extra["creds_path"]}
