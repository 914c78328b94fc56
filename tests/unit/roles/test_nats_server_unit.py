# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nats-server unit outlasts an account server outage at boot.

With the URL resolver, nats-server exits with status 1 while the account
server does not answer (tests/integration_local/test_acs_outage_at_boot.py
shows it with the real binary). The unit must then start it again, every
few seconds, for as long as it takes: systemd's default start limit (five
starts in ten seconds) would otherwise leave the server failed for good
once the account server is back.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import jinja2
import pytest
import yaml

ROLE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "nats_server"
TEMPLATE = ROLE / "templates" / "nats-server.service.j2"
# What nats-server exits with when the resolver probe fails.
PROBE_FAILURE_STATUS = 1


def render(**overrides) -> str:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    values = {
        "ansible_managed": "Ansible managed",
        "nats_server_name": "nats1",
        "nats_server_user": "cmnats",
        "nats_server_group": "cmnats",
        "_nats_server_binary": "/usr/local/bin/nats-server",
        "_nats_server_config_file": "/etc/nats-server/nats-server.conf",
        "_nats_server_layout": {"writable_paths": ["/var/lib/nats-server"]},
    }
    for name in ("nats_server_lame_duck_duration", "nats_server_lame_duck_grace_period", "nats_server_limit_nofile",
                 "nats_server_port", "nats_server_monitor_port"):
        values[name] = defaults[name]
    values.update(overrides)
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.from_string(TEMPLATE.read_text()).render(**values)


def sections(text: str) -> dict:
    """{section: {key: [values in order]}} of a unit file."""
    parsed, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = parsed.setdefault(line[1:-1], {})
            continue
        key, _sep, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return parsed


def seconds(span: str) -> float:
    """A systemd time span such as 5s, 500ms, 1min 30s or a bare number (seconds)."""
    units = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", span):
        total += float(number) * units[unit or "s"]
    return total


@pytest.fixture(scope="module")
def unit():
    return sections(render())


def test_a_failed_start_is_restarted(unit):
    restart = unit["Service"]["Restart"][-1]
    # on-failure and always restart an exit status other than 0; on-abnormal,
    # on-abort and on-watchdog would leave a server whose probe failed down.
    assert restart in ("on-failure", "always")
    prevented = " ".join(unit["Service"].get("RestartPreventExitStatus", []))
    assert str(PROBE_FAILURE_STATUS) not in prevented.split()
    assert str(PROBE_FAILURE_STATUS) not in " ".join(unit["Service"].get("SuccessExitStatus", [])).split()


def test_the_restarts_never_stop(unit):
    # The start limit is a [Unit] setting; 0 turns it off.
    assert unit["Unit"].get("StartLimitIntervalSec") == ["0"]
    assert "StartLimitIntervalSec" not in unit["Service"] and "StartLimitBurst" not in unit["Service"]
    assert "StartLimitAction" not in unit["Unit"]


def test_the_restarts_are_paced(unit):
    # Not a busy loop while the account server is away, and back within
    # seconds once it answers.
    delay = seconds(unit["Service"]["RestartSec"][-1])
    assert 1 <= delay <= 30
    assert "RestartSteps" not in unit["Service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not found")
def test_systemd_reads_every_restart_setting(tmp_path):
    path = tmp_path / "nats-server.service"
    path.write_text(render(_nats_server_binary="/bin/true"))
    result = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    ignored = [line for line in result.stderr.splitlines() if "Unknown key" in line or "ignoring" in line.lower()]
    assert not [line for line in ignored if re.search(r"Restart|StartLimit", line)], result.stderr
