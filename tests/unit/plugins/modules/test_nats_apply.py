# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply path with the real nats-server: validation as the service user, rules
nats-server -t misses, the kept previous file, a new binary checked before it
replaces the old one, and the running server compared with the disk."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_runtime
from ansible_collections.cmsgs.nats.plugins.modules import nats_config, nats_server_state
from ansible_collections.cmsgs.nats.tests.unit.module_runner import HostCommands, run_module
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary, needs_nats_server

pytestmark = needs_nats_server
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def folder():
    """A folder the unprivileged user can enter (pytest's tmp_path is private to root)."""
    path = tempfile.mkdtemp(prefix="cmsgs-apply-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def ports():
    return {"client": free_port(), "monitor": free_port()}


def base(ports, **extra):
    config = {"server_name": "apply-1", "listen": "127.0.0.1:%d" % ports["client"],
              "http": "127.0.0.1:%d" % ports["monitor"], "max_payload": 1048576}
    config.update(extra)
    return config


@pytest.fixture
def run(capsys, monkeypatch, folder):
    def runner(config, module=nats_config, check_mode=False, diff=False, **extra):
        if module is nats_config:
            args = {"path": os.path.join(folder, "nats-server.conf"), "config": config,
                    "nats_server_binary": nats_server_binary(), "group": "nogroup"}
        else:
            args = {}
        args.update(extra)
        return run_module(module.main, capsys, monkeypatch, check_mode=check_mode, diff=diff, **args)
    return runner


@pytest.fixture
def server(folder, ports):
    """Start nats-server on the folder's configuration; yields a small controller."""
    processes = []

    class Server:
        monitor_url = "http://127.0.0.1:%d" % ports["monitor"]
        config_path = os.path.join(folder, "nats-server.conf")

        def start(self):
            processes.append(subprocess.Popen([nats_server_binary(), "-c", self.config_path],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.wait_healthy()

        def wait_healthy(self):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(self.monitor_url + "/healthz", timeout=1) as response:
                        if response.status == 200:
                            return
                except OSError:
                    time.sleep(0.05)
            raise AssertionError("nats-server did not become healthy")

        def reload(self):
            processes[-1].send_signal(signal.SIGHUP)
            time.sleep(0.3)
            self.wait_healthy()

        def restart(self):
            self.stop()
            self.start()

        def stop(self):
            processes[-1].terminate()
            processes[-1].wait(10)

        def varz(self):
            return nats_runtime.read_varz(self.monitor_url)

    yield Server()
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- validation as the service user ----------------------------------------

def _tls_pair(folder):
    key, cert = os.path.join(folder, "key.pem"), os.path.join(folder, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-subj", "/CN=apply-1", "-days", "2"],
                   check=True, capture_output=True)
    os.chmod(cert, 0o644)
    os.chmod(key, 0o600)  # root's alone: the service user cannot read it
    return cert, key


@as_root
def test_a_key_the_service_user_cannot_read_is_refused(run, folder, ports):
    cert, key = _tls_pair(folder)
    config = base(ports, tls={"cert_file": cert, "key_file": key})
    # As root nats-server -t passes this file, and the server would then not start.
    assert run(config, check_mode=True).get("failed") is not True
    result = run(config, validate_as="nobody")
    assert result["failed"]
    assert "permission denied" in result["msg"] and key in result["msg"] and "nobody" in result["msg"]
    assert not os.path.exists(os.path.join(folder, "nats-server.conf"))
    assert sorted(os.listdir(folder)) == ["cert.pem", "key.pem"]  # no candidate left behind
    os.chown(key, 0, 65534)
    os.chmod(key, 0o640)
    applied = run(config, validate_as="nobody")
    assert applied["changed"] and not applied.get("failed")


# --- rules nats-server -t misses --------------------------------------------

@pytest.mark.parametrize("extra", [
    {"max_payload": 2097152, "max_pending": 1048576},
    {"max_payload": 70 * 1024 * 1024},  # above the default max_pending of 64 MiB
])
def test_max_payload_above_max_pending_is_refused_before_the_server_would_refuse_it(run, folder, ports, extra):
    config = base(ports, **extra)
    probe = os.path.join(folder, "probe.conf")
    with open(probe, "w") as handle:
        handle.write("".join("%s: %s\n" % (k, json.dumps(v)) for k, v in config.items()))
    # What the rule is for: -t passes, the server exits.
    assert subprocess.run([nats_server_binary(), "-t", "-c", probe], capture_output=True, check=False).returncode == 0
    started = subprocess.run([nats_server_binary(), "-c", probe], capture_output=True, text=True, timeout=10, check=False)
    assert started.returncode != 0 and "cannot be higher than max_pending" in started.stderr + started.stdout
    result = run(config)
    assert result["failed"] and "max_payload" in result["msg"] and "max_pending" in result["msg"]
    assert not os.path.exists(os.path.join(folder, "nats-server.conf"))


def test_max_payload_equal_to_max_pending_passes(run, ports):
    assert not run(base(ports, max_payload=1048576, max_pending=1048576)).get("failed")


# --- previous file and new binary -------------------------------------------

def test_the_replaced_configuration_is_kept_for_a_rollback(run, folder, ports):
    run(base(ports))
    first = open(os.path.join(folder, "nats-server.conf")).read()
    result = run(base(ports, max_payload=2097152))
    assert result["previous_path"] == os.path.join(folder, "nats-server.conf.previous")
    assert open(result["previous_path"]).read() == first
    assert os.stat(result["previous_path"]).st_mode & 0o777 == 0o640


def test_a_new_binary_that_rejects_the_configuration_does_not_replace_the_old(run, folder, ports):
    live = os.path.join(folder, "nats-server")
    shutil.copy(nats_server_binary(), live)
    run(base(ports), nats_server_binary=live)
    candidate = os.path.join(folder, "nats-server.candidate")
    with open(candidate, "w") as handle:  # a release that no longer knows a setting in use
        handle.write("#!/bin/sh\necho 'nats-server: unknown field \"max_payload\"' >&2\nexit 1\n")
    os.chmod(candidate, 0o755)
    result = run(base(ports), nats_server_binary=live, binary_candidate=candidate)
    assert result["failed"] and "rejects the configuration" in result["msg"]
    with open(live, "rb") as handle, open(nats_server_binary(), "rb") as original:
        assert handle.read(4096) == original.read(4096)
    # The same holds when the configuration changes in the same run.
    result = run(base(ports, max_payload=2097152), nats_server_binary=live, binary_candidate=candidate)
    assert result["failed"] and 'unknown field "max_payload"' in result["msg"]
    assert "2097152" not in open(os.path.join(folder, "nats-server.conf")).read()


def test_a_new_binary_that_accepts_the_configuration_replaces_the_old_and_asks_for_a_restart(run, folder, ports):
    live = os.path.join(folder, "nats-server")
    with open(live, "w") as handle:
        handle.write("#!/bin/sh\nexit 0\n")
    os.chmod(live, 0o755)
    candidate = os.path.join(folder, "nats-server.candidate")
    shutil.copy(nats_server_binary(), candidate)
    result = run(base(ports), nats_server_binary=live, binary_candidate=candidate)
    assert result["binary_changed"] and result["restart_required"] and not result.get("failed")
    assert not os.path.exists(candidate)
    assert nats_runtime.binary_version(HostCommands(), live) is not None


# --- the running server compared with the disk ------------------------------

def test_the_digest_of_nats_server_t_is_the_digest_the_running_server_reports(run, server, ports):
    run(base(ports))
    server.start()
    _rc, _message, digest = nats_runtime.check_file(HostCommands(), nats_server_binary(), server.config_path)
    assert digest and digest.startswith("sha256:")
    assert server.varz()["config_digest"] == digest


def test_a_refused_reload_is_caught_and_names_the_server(run, server, ports):
    run(base(ports))
    server.start()
    assert not run({}, module=nats_server_state, config_path=server.config_path,
                   nats_server_binary=nats_server_binary(), monitor_url=server.monitor_url).get("failed")
    # websocket cannot be reloaded: the server refuses the reload, keeps running, answers 200.
    changed = run(base(ports, websocket={"port": free_port(), "no_tls": True}))
    server.reload()
    result = run({}, module=nats_server_state, config_path=server.config_path,
                 nats_server_binary=nats_server_binary(), monitor_url=server.monitor_url,
                 previous_path=changed["previous_path"], wait_seconds=1)
    assert result["failed"]
    assert "apply-1" in result["msg"] and changed["previous_path"] in result["msg"]
    assert result["running_digest"] != result["file_digest"]
    server.restart()
    assert not run({}, module=nats_server_state, config_path=server.config_path,
                   nats_server_binary=nats_server_binary(), monitor_url=server.monitor_url).get("failed")


def test_a_reloadable_change_that_was_reloaded_passes_the_check(run, server, ports):
    run(base(ports))
    server.start()
    run(base(ports, max_payload=2097152))
    server.reload()
    result = run({}, module=nats_server_state, config_path=server.config_path,
                 nats_server_binary=nats_server_binary(), monitor_url=server.monitor_url)
    assert not result.get("failed") and result["method"] == "digest" and result["differences"] == []


def test_a_run_after_a_failed_one_restarts_a_server_that_runs_something_else(run, server, ports):
    run(base(ports))
    server.start()
    url = server.monitor_url
    assert run(base(ports), monitor_url=url)["drift"] == []
    # A run that wrote the file and then failed before its reload.
    run(base(ports, max_payload=2097152), monitor_url=url)
    again = run(base(ports, max_payload=2097152), monitor_url=url)
    assert not again["content_changed"]
    assert again["changed"] and again["restart_required"] and again["drift"]
    server.restart()
    settled = run(base(ports, max_payload=2097152), monitor_url=url)
    assert not settled["changed"] and settled["drift"] == []


def test_a_stopped_server_is_no_drift(run, ports):
    run(base(ports))
    result = run(base(ports), monitor_url="http://127.0.0.1:%d" % ports["monitor"])
    assert not result["changed"] and result["drift"] == []


# --- servers without a digest (before 2.10) ----------------------------------

def _iso(when):
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # Go prints nanoseconds


def test_without_a_digest_the_load_time_must_follow_the_file():
    written = time.time()
    now = datetime.datetime.fromtimestamp(written, datetime.timezone.utc)
    later = {"version": "2.9.10", "config_load_time": _iso(now + datetime.timedelta(seconds=2))}
    earlier = {"version": "2.9.10", "config_load_time": _iso(now - datetime.timedelta(seconds=2))}
    ok = nats_runtime.compare(later, None, written, "2.9.10")
    assert ok["method"] == "load_time" and ok["differences"] == []
    stale = nats_runtime.compare(earlier, None, written, "2.9.10")
    assert stale["method"] == "load_time" and "no configuration digest" in stale["differences"][0]
    assert nats_runtime.compare({"version": "2.9.10"}, None, written, "2.9.10")["differences"]


def test_a_different_version_is_a_difference():
    state = nats_runtime.compare({"version": "2.14.6", "config_digest": "sha256:a"}, "sha256:a", 0, "2.15.1")
    assert state["config_matches"] and not state["version_matches"]
    assert "2.14.6" in state["differences"][0] and "2.15.1" in state["differences"][0]
