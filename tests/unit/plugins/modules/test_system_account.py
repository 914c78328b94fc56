"""The system_account module: the commands it runs, and once for real as root."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import uuid
from types import SimpleNamespace

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmsgs.nats.plugins.modules import system_account
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module

ARGS = {"name": "svc", "group": "svcgrp", "home": "/var/lib/svc"}


@pytest.fixture
def accounts(monkeypatch):
    """Fake account databases and a recorder for the commands the module runs."""
    state = {"users": {}, "groups": {}, "commands": []}

    def getpwnam(name):
        return state["users"][name]

    def getgrnam(name):
        return state["groups"][name]

    def getgrgid(gid):
        return next(g for g in state["groups"].values() if g.gr_gid == gid)

    def run_command(self, argv, **_kwargs):
        state["commands"].append(argv)
        return 0, "", ""

    monkeypatch.setattr(system_account.pwd, "getpwnam", getpwnam)
    monkeypatch.setattr(system_account.grp, "getgrnam", getgrnam)
    monkeypatch.setattr(system_account.grp, "getgrgid", getgrgid)
    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    return state


def _existing(state, shell="/usr/sbin/nologin", home="/var/lib/svc"):
    state["groups"]["svcgrp"] = SimpleNamespace(gr_name="svcgrp", gr_gid=990)
    state["users"]["svc"] = SimpleNamespace(pw_name="svc", pw_uid=991, pw_gid=990, pw_dir=home, pw_shell=shell)


def test_fresh_host_gets_group_then_user(accounts, capsys, monkeypatch):
    result = run_module(system_account.main, capsys, monkeypatch, **ARGS)
    assert result["changed"] and result["created"] == ["group", "user"]
    assert accounts["commands"] == [
        ["groupadd", "--system", "svcgrp"],
        ["useradd", "--system", "--gid", "svcgrp", "--home-dir", "/var/lib/svc", "--no-create-home",
         "--shell", "/usr/sbin/nologin", "svc"],
    ]


def test_existing_accounts_run_nothing(accounts, capsys, monkeypatch):
    _existing(accounts)
    result = run_module(system_account.main, capsys, monkeypatch, **ARGS)
    assert not result["changed"]
    assert accounts["commands"] == []
    assert (result["uid"], result["gid"]) == (991, 990)


def test_a_login_shell_is_taken_away(accounts, capsys, monkeypatch):
    _existing(accounts, shell="/bin/bash")
    result = run_module(system_account.main, capsys, monkeypatch, diff=True, **ARGS)
    assert result["changed"]
    assert accounts["commands"] == [["usermod", "--gid", "svcgrp", "--home", "/var/lib/svc", "--shell", "/usr/sbin/nologin", "svc"]]
    assert result["diff"]["before"]["shell"] == "/bin/bash"
    assert result["diff"]["after"]["shell"] == "/usr/sbin/nologin"


def test_check_mode_reports_and_runs_nothing(accounts, capsys, monkeypatch):
    result = run_module(system_account.main, capsys, monkeypatch, check_mode=True, **ARGS)
    assert result["changed"] and result["created"] == ["group", "user"]
    assert accounts["commands"] == []


def test_a_failing_command_fails_the_task(accounts, capsys, monkeypatch):
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, argv, **kw: (9, "", "groupadd: GID not unique"))
    result = run_module(system_account.main, capsys, monkeypatch, **ARGS)
    assert result["failed"]
    assert "groupadd --system svcgrp failed (rc 9): groupadd: GID not unique" == result["msg"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd"), reason="creating accounts needs root and useradd")
def test_real_accounts_are_created_once(capsys, monkeypatch):
    name = "cmsgs-t%s" % uuid.uuid4().hex[:6]
    args = {"name": name, "group": name, "home": "/nonexistent"}
    try:
        first = run_module(system_account.main, capsys, monkeypatch, **args)
        assert first["changed"] and first["created"] == ["group", "user"]
        user = pwd.getpwnam(name)
        assert user.pw_shell == "/usr/sbin/nologin"
        assert grp.getgrgid(user.pw_gid).gr_name == name
        assert not os.path.exists("/nonexistent")
        again = run_module(system_account.main, capsys, monkeypatch, **args)
        assert not again["changed"]
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        subprocess.run(["groupdel", name], check=False, capture_output=True)
