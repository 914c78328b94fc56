# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the testinfra tests of every molecule scenario (molecule/conftest.py loads them).

The tests run on the controller. They talk to the deployed servers the way a
user's application would (nats-py over the container's address) and re-run
the scenario's playbooks to check how the roles react to changes and bad input.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time

import nats


def host_address(host):
    """The container's address on docker's bridge, as clients reach it."""
    return host.interface("eth0").addresses[0]


async def _roundtrip(url, subject, payload, connect_options):
    connection = await nats.connect(
        url, connect_timeout=5, allow_reconnect=False, max_reconnect_attempts=0, **connect_options
    )
    try:
        subscription = await connection.subscribe(subject)
        await connection.flush(timeout=5)
        await connection.publish(subject, payload)
        message = await subscription.next_msg(timeout=5)
        return message.data
    finally:
        await connection.close()


def nats_roundtrip(url, subject="cmsgs.test", payload=b"hello", **connect_options):
    """Publish one message through the server at ``url`` and return what came back."""
    return asyncio.run(_roundtrip(url, subject, payload, connect_options))


def file_digest(host, path):
    """sha256 of a file on the host, or None when it is absent."""
    result = host.run("sha256sum %s", path)
    return result.stdout.split()[0] if result.rc == 0 else None


def server_pid(host, service="nats-server"):
    return int(host.check_output("systemctl show -p MainPID --value %s", service))


def monitor_get(host, path, port=8222):
    """GET a monitoring endpoint from inside the host (it listens on loopback)."""
    command = (
        "python3 -c \"import sys,urllib.request;"
        "print(urllib.request.urlopen('http://127.0.0.1:%d%s', timeout=5).read().decode())\"" % (port, path)
    )
    return json.loads(host.check_output(command))


def wait_for(predicate, timeout=30.0, interval=0.5):
    """Poll ``predicate`` until it returns a true value or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception:  # the service may be between processes
            if time.monotonic() >= deadline:
                raise
        if time.monotonic() >= deadline:
            raise AssertionError("condition not met within %.0f s" % timeout)
        time.sleep(interval)


class PlaybookRun:
    """Outcome of one ansible-playbook run against the scenario's hosts."""

    def __init__(self, completed):
        self.rc = completed.returncode
        self.output = completed.stdout + completed.stderr

    def changed_count(self):
        """Sum of changed= over the play recap lines."""
        total = 0
        for line in self.output.splitlines():
            if "changed=" in line and "ok=" in line:
                total += int(line.split("changed=")[1].split()[0])
        return total


def run_ansible_playbook(path, extra_vars=None, options=(), timeout=900):
    """Run a playbook against the scenario's hosts, as molecule itself would.

    Colour is off so that tests can search the output as plain text.
    """
    command = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], path, *options]
    if extra_vars:
        command += ["--extra-vars", json.dumps(extra_vars)]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_FORCE_COLOR", None)
    return PlaybookRun(subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, env=env))
