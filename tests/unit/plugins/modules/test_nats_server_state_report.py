# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nats_server_state's result and failure message, with the real nats-server binary
on disk and a monitoring port whose /varz answers what each test says."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_runtime
from ansible_collections.cmsgs.nats.plugins.modules import nats_server_state
from ansible_collections.cmsgs.nats.tests.unit.module_runner import HostCommands, run_module
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary, needs_nats_server
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import free_port

pytestmark = needs_nats_server

STALE = "sha256:" + "0" * 64


class MonitorPort:
    """An HTTP monitoring port: /varz answers the given documents in turn, the last one from then on;
    /healthz answers ``health`` (status and document) in turn when set, else as /varz does."""

    def __init__(self, answers, health=None):
        self.answers = list(answers)
        self.health = list(health or [])
        self.asked = 0
        self.health_asked = 0
        port = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status = 200
                if self.path == "/healthz" and port.health:
                    status, document = port.health[min(port.health_asked, len(port.health) - 1)]
                    port.health_asked += 1
                else:
                    document = port.answers[min(port.asked, len(port.answers) - 1)]
                    port.asked += 1
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def config(tmp_path):
    """A configuration file on disk with the digest and version the binary reports for it."""
    path = str(tmp_path / "nats-server.conf")
    with open(path, "w") as handle:
        handle.write('server_name: "state-1"\nlisten: "127.0.0.1:%d"\n' % free_port())
    _rc, _message, digest = nats_runtime.check_file(HostCommands(), nats_server_binary(), path)
    version = nats_runtime.binary_version(HostCommands(), nats_server_binary())
    assert digest and version
    return {"path": path, "digest": digest, "version": version}


@pytest.fixture
def monitor():
    ports = []

    def start(*answers, health=None):
        ports.append(MonitorPort(answers, health))
        return ports[-1]
    yield start
    for port in ports:
        port.close()


def run(capsys, monkeypatch, config, **args):
    args.setdefault("config_path", config["path"])
    args.setdefault("nats_server_binary", nats_server_binary())
    return run_module(nats_server_state.main, capsys, monkeypatch, **args)


def varz(config, digest=None, version=None, name="state-1"):
    return {"server_name": name, "version": version or config["version"], "config_digest": digest or config["digest"]}


def test_a_server_that_runs_what_is_on_disk_passes_and_changes_nothing(capsys, monkeypatch, config, monitor):
    port = monitor(varz(config))
    result = run(capsys, monkeypatch, config, monitor_url=port.url)
    assert result.get("failed") is not True, result
    assert result["changed"] is False
    assert (result["server_name"], result["running"], result["method"], result["differences"]) == ("state-1", True, "digest", [])
    assert result["running_digest"] == result["file_digest"] == config["digest"]


def test_expect_current_waits_for_a_reload_applied_after_the_signal(capsys, monkeypatch, config, monitor):
    # The first answer still shows the old configuration: the reload lands a moment later.
    port = monitor(varz(config, digest=STALE), varz(config))
    result = run(capsys, monkeypatch, config, monitor_url=port.url, wait_seconds=5)
    assert result.get("failed") is not True, result
    assert result["changed"] is False and result["differences"] == []
    assert port.asked == 2


def test_expect_report_answers_at_once_with_what_the_server_runs_now(capsys, monkeypatch, config, monitor):
    port = monitor(varz(config, digest=STALE), varz(config))
    result = run(capsys, monkeypatch, config, monitor_url=port.url, expect="report", wait_seconds=5)
    assert result.get("failed") is not True, result
    assert result["changed"] is False
    assert result["differences"] == ["it runs the configuration %s, the file on disk is %s" % (STALE, config["digest"])]
    assert port.asked == 1


def test_a_server_that_runs_something_else_fails_naming_each_difference_and_the_way_back(capsys, monkeypatch, config, monitor):
    port = monitor(varz(config, digest=STALE, version="2.14.6"))
    previous = config["path"] + ".previous"
    result = run(capsys, monkeypatch, config, monitor_url=port.url, previous_path=previous, wait_seconds=0)
    assert result["failed"] is True and result["running_digest"] == STALE
    assert result["msg"] == (
        "nats-server state-1 (version 2.14.6) at %s does not run what is on disk: "
        "it runs version 2.14.6, the binary on disk is %s; it runs the configuration %s, the file on disk is %s. "
        "A reload of a setting nats-server cannot reload is refused although the signal succeeds. "
        "The configuration it replaced is kept in %s: copy it back over %s and reload to roll back, "
        "or fix the setting and run again (the next run restarts a server that runs something else than the disk)."
        % (port.url, config["version"], STALE, config["digest"], previous, config["path"])
    )


def test_a_server_that_does_not_answer_fails_without_a_name_or_version(capsys, monkeypatch, config):
    url = "http://127.0.0.1:%d" % free_port()
    result = run(capsys, monkeypatch, config, monitor_url=url, wait_seconds=0)
    assert result["failed"] is True and result["running"] is False
    # Without previous_path there is no way back to name.
    assert result["msg"] == (
        "nats-server at %s does not run what is on disk: "
        "the server does not answer on its monitoring port. "
        "The service's journal says why it is not up." % url
    )


def test_the_file_is_checked_as_the_service_user(capsys, monkeypatch, config):
    # The module never reaches the monitoring port: the user it should read the file as is missing.
    result = run(capsys, monkeypatch, config, run_as="cmsgs-no-such-user", monitor_url="http://127.0.0.1:%d" % free_port())
    assert result["failed"] is True
    assert result["msg"] == ("user cmsgs-no-such-user does not exist; "
                             "it is needed to check the configuration as the server would read it")


def test_a_server_whose_varz_names_no_version_is_said_to_run_an_unknown_one(capsys, monkeypatch, config, monitor):
    # A monitoring proxy that strips fields, or a build without a version string.
    answer = varz(config, digest=STALE)
    answer["version"] = ""
    port = monitor(answer)
    result = run(capsys, monkeypatch, config, monitor_url=port.url, wait_seconds=0)
    assert result["failed"] is True and result["running_version"] is None
    assert result["msg"].startswith(
        "nats-server state-1 (version unknown) at %s does not run what is on disk: "
        "it runs a version its /varz does not name, the binary on disk is %s; " % (port.url, config["version"]))


UNAVAILABLE = (503, {"status": "unavailable", "error": "JetStream has not yet been initialized"})


def test_require_healthy_waits_for_a_server_just_started_to_answer_healthz(capsys, monkeypatch, config, monitor):
    port = monitor(varz(config), health=[UNAVAILABLE, UNAVAILABLE, (200, {"status": "ok"})])
    result = run(capsys, monkeypatch, config, monitor_url=port.url, require_healthy=True, wait_seconds=5)
    assert result.get("failed") is not True, result
    assert (result["healthy"], result["differences"], port.health_asked) == (True, [], 3)


def test_a_server_that_stays_unhealthy_fails_saying_it_is_not_ready(capsys, monkeypatch, config, monitor):
    port = monitor(varz(config), health=[UNAVAILABLE])
    result = run(capsys, monkeypatch, config, monitor_url=port.url, require_healthy=True, wait_seconds=0)
    assert result["failed"] is True and result["healthy"] is False
    assert result["msg"] == (
        "nats-server state-1 (version %s) at %s does not run what is on disk: "
        "its /healthz answers 503: JetStream has not yet been initialized. "
        "It runs what is on disk but is not ready; its journal and /healthz say why." % (config["version"], port.url))


def test_an_unhealthy_server_that_runs_something_else_is_told_about_the_reload(capsys, monkeypatch, config, monitor):
    port = monitor(varz(config, digest=STALE), health=[UNAVAILABLE])
    result = run(capsys, monkeypatch, config, monitor_url=port.url, require_healthy=True, wait_seconds=0)
    assert result["failed"] is True and len(result["differences"]) == 2
    assert "A reload of a setting nats-server cannot reload is refused" in result["msg"]


def test_without_require_healthy_healthz_is_not_asked(capsys, monkeypatch, config, monitor):
    port = monitor(varz(config), health=[UNAVAILABLE])
    result = run(capsys, monkeypatch, config, monitor_url=port.url, wait_seconds=0)
    assert result.get("failed") is not True, result
    assert "healthy" not in result and port.health_asked == 0
