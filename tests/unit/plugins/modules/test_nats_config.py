# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nats_config module: render, validate with the real nats-server, install."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.cmsgs.nats.plugins.modules import nats_config
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary, needs_nats_server

pytestmark = needs_nats_server

BASE = {"server_name": "nats-1", "listen": "127.0.0.1:4222", "max_payload": 1048576}


@pytest.fixture
def run(capsys, monkeypatch, tmp_path):
    def runner(config, check_mode=False, diff=False, **extra):
        args = {"path": str(tmp_path / "nats-server.conf"), "config": config, "nats_server_binary": nats_server_binary()}
        args.update(extra)
        return run_module(nats_config.main, capsys, monkeypatch, check_mode=check_mode, diff=diff, **args)
    return runner


def _text(tmp_path):
    return (tmp_path / "nats-server.conf").read_text()


def test_first_install_writes_a_validated_file_with_owner_and_mode(run, tmp_path):
    result = run(BASE)
    assert result["changed"] and result["content_changed"] and result["restart_required"]
    path = tmp_path / "nats-server.conf"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert 'server_name: "nats-1"' in _text(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["nats-server.conf"]  # no candidate left behind


def test_second_run_changes_nothing(run):
    run(BASE)
    again = run(BASE)
    assert not again["changed"] and not again["restart_required"]


def test_reloadable_change_does_not_ask_for_a_restart(run):
    run(BASE)
    result = run(dict(BASE, max_payload=2097152))
    assert result["changed"] and not result["restart_required"]


def test_listen_change_asks_for_a_restart(run):
    run(BASE)
    result = run(dict(BASE, listen="127.0.0.1:4223"))
    assert result["changed"] and result["restart_required"]


def test_a_configuration_nats_server_rejects_leaves_the_live_file(run, tmp_path):
    run(BASE)
    before = _text(tmp_path)
    result = run(dict(BASE, no_such_setting=1))
    assert result["failed"]
    assert 'unknown field "no_such_setting"' in result["msg"]
    assert str(tmp_path / "nats-server.conf") in result["msg"]  # the live name, not the candidate's
    assert _text(tmp_path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["nats-server.conf"]


def test_check_mode_reports_without_writing(run, tmp_path):
    result = run(BASE, check_mode=True)
    assert result["changed"]
    assert not (tmp_path / "nats-server.conf").exists()


def test_check_mode_still_validates(run, tmp_path):
    run(BASE)
    result = run(dict(BASE, no_such_setting=1), check_mode=True)
    assert result["failed"]


def test_diff_masks_secrets(run):
    config = dict(BASE, authorization={"user": "app", "password": "hunter2"})
    result = run(config, diff=True)
    assert "hunter2" not in json.dumps(result)
    assert 'password: "********"' in result["diff"][0]["after"]


def test_mode_drift_is_fixed_without_rewriting(run, tmp_path):
    run(BASE)
    os.chmod(tmp_path / "nats-server.conf", 0o644)
    result = run(BASE)
    assert result["changed"] and not result["content_changed"] and not result["restart_required"]
    assert stat.S_IMODE((tmp_path / "nats-server.conf").stat().st_mode) == 0o640


def test_unit_is_installed_with_the_configuration_and_a_change_needs_a_restart(run, tmp_path):
    unit = tmp_path / "units" / "nats-server.service"
    unit.parent.mkdir()
    first = run(BASE, unit_path=str(unit), unit_content="[Service]\nExecStart=/bin/true\n")
    assert first["unit_changed"]
    assert first["unit_active"] is False and first["unit_enabled"] is False  # no such unit on this machine
    assert unit.read_text() == "[Service]\nExecStart=/bin/true\n"
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    same = run(BASE, unit_path=str(unit), unit_content="[Service]\nExecStart=/bin/true\n")
    assert not same["changed"]
    changed = run(BASE, unit_path=str(unit), unit_content="[Service]\nExecStart=/bin/false\n")
    assert changed["unit_changed"] and changed["restart_required"] and not changed["content_changed"]


def test_a_replaced_watched_file_changes_the_file_for_a_reload(run, tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("one")
    run(BASE, watch_files=[str(cert)])
    assert not run(BASE, watch_files=[str(cert)])["changed"]
    cert.write_text("two")
    result = run(BASE, watch_files=[str(cert)])
    assert result["content_changed"] and not result["restart_required"]
    assert "one" not in _text(tmp_path) and "two" not in _text(tmp_path)  # digests only
