# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service_account module: the commands it runs, and once for real as root."""

from __future__ import annotations

import grp
import os
import pathlib
import pwd
import shutil
import subprocess
import sys
import uuid
from types import SimpleNamespace

import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmsgs.nats.plugins.modules import service_account
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
        for group in state["groups"].values():
            if group.gr_gid == gid:
                return group
        raise KeyError(gid)  # as grp does for a gid without a group entry

    def run_command(self, argv, **_kwargs):
        state["commands"].append(argv)
        return 0, "", ""

    monkeypatch.setattr(service_account.pwd, "getpwnam", getpwnam)
    monkeypatch.setattr(service_account.grp, "getgrnam", getgrnam)
    monkeypatch.setattr(service_account.grp, "getgrgid", getgrgid)
    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    return state


def _existing(state, shell="/usr/sbin/nologin", home="/var/lib/svc", gid=990):
    state["groups"]["svcgrp"] = SimpleNamespace(gr_name="svcgrp", gr_gid=990)
    state["users"]["svc"] = SimpleNamespace(pw_name="svc", pw_uid=991, pw_gid=gid, pw_dir=home, pw_shell=shell)


def _login_account_refusal(variable, name, uid, shell):
    return ("%s is '%s', an existing login account (uid %d, shell %s): making it a service account would take "
            "its shell away. Set it to a dedicated system account such as cmsgs." % (variable, name, uid, shell))


def test_fresh_host_gets_group_then_user(accounts, capsys, monkeypatch):
    result = run_module(service_account.main, capsys, monkeypatch, **ARGS)
    assert result["changed"] and result["created"] == ["group", "user"]
    assert accounts["commands"] == [
        ["groupadd", "--system", "svcgrp"],
        ["useradd", "--system", "--gid", "svcgrp", "--home-dir", "/var/lib/svc", "--no-create-home",
         "--shell", "/usr/sbin/nologin", "svc"],
    ]


def test_existing_accounts_run_nothing(accounts, capsys, monkeypatch):
    _existing(accounts)
    result = run_module(service_account.main, capsys, monkeypatch, **ARGS)
    assert not result["changed"]
    assert accounts["commands"] == []
    assert (result["uid"], result["gid"]) == (991, 990)


def test_a_login_shell_is_taken_away(accounts, capsys, monkeypatch):
    _existing(accounts, shell="/bin/bash")
    result = run_module(service_account.main, capsys, monkeypatch, diff=True, **ARGS)
    assert result["changed"]
    assert accounts["commands"] == [["usermod", "--gid", "svcgrp", "--home", "/var/lib/svc", "--shell", "/usr/sbin/nologin", "svc"]]
    assert result["diff"] == {
        "before": {"group": "svcgrp", "home": "/var/lib/svc", "shell": "/bin/bash"},
        "after": {"group": "svcgrp", "home": "/var/lib/svc", "shell": "/usr/sbin/nologin"},
        "before_header": "svc", "after_header": "svc",
    }


def test_a_primary_gid_without_a_group_entry_shows_as_its_number(accounts, capsys, monkeypatch):
    # The group behind gid 4242 was deleted; the diff still says which gid the user had.
    _existing(accounts, gid=4242)
    result = run_module(service_account.main, capsys, monkeypatch, diff=True, **ARGS)
    assert result["changed"]
    assert accounts["commands"] == [["usermod", "--gid", "svcgrp", "--home", "/var/lib/svc", "--shell", "/usr/sbin/nologin", "svc"]]
    assert result["diff"]["before"] == {"group": "gid 4242", "home": "/var/lib/svc", "shell": "/usr/sbin/nologin"}


def test_a_new_group_named_like_the_users_orphaned_gid_still_gets_the_user(accounts, capsys, monkeypatch):
    # The user's gid 4242 has no group entry and the wanted group is named "4242": groupadd picks
    # its own gid, so the user must still be moved into the new group.
    _existing(accounts, gid=4242)
    del accounts["groups"]["svcgrp"]
    result = run_module(service_account.main, capsys, monkeypatch, name="svc", group="4242")
    assert result["changed"] is True and result["created"] == ["group"]
    assert accounts["commands"][0] == ["groupadd", "--system", "4242"]
    assert accounts["commands"][1][:3] == ["usermod", "--gid", "4242"]


def test_check_mode_reports_and_runs_nothing(accounts, capsys, monkeypatch):
    result = run_module(service_account.main, capsys, monkeypatch, check_mode=True, **ARGS)
    assert result["changed"] and result["created"] == ["group", "user"]
    assert accounts["commands"] == []


def test_a_failing_command_fails_the_task(accounts, capsys, monkeypatch):
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, argv, **kw: (9, "", "groupadd: GID not unique"))
    result = run_module(service_account.main, capsys, monkeypatch, **ARGS)
    assert result["failed"]
    assert "groupadd --system svcgrp failed (rc 9): groupadd: GID not unique" == result["msg"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd"), reason="creating accounts needs root and useradd")
def test_real_accounts_are_created_once(capsys, monkeypatch):
    name = "cmsgs-t%s" % uuid.uuid4().hex[:6]
    args = {"name": name, "group": name, "home": "/nonexistent"}
    try:
        first = run_module(service_account.main, capsys, monkeypatch, **args)
        assert first["changed"] and first["created"] == ["group", "user"]
        user = pwd.getpwnam(name)
        assert user.pw_shell == "/usr/sbin/nologin"
        assert grp.getgrgid(user.pw_gid).gr_name == name
        assert not os.path.exists("/nonexistent")
        again = run_module(service_account.main, capsys, monkeypatch, **args)
        assert not again["changed"]
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        subprocess.run(["groupdel", name], check=False, capture_output=True)


# --- guard rails --------------------------------------------------------------

@pytest.mark.parametrize("name, users", [
    pytest.param("root", {"root": 0}, id="root"),
    # Refused by name before useradd could create a second "root".
    pytest.param("root", {}, id="root-missing-from-passwd"),
    # Another name for uid 0 is root all the same.
    pytest.param("toor", {"toor": 0}, id="other-name-for-uid-0"),
])
def test_root_is_refused_before_anything_changes(accounts, capsys, monkeypatch, name, users):
    accounts["groups"]["root"] = SimpleNamespace(gr_name="root", gr_gid=0)
    for user, uid in users.items():
        accounts["users"][user] = SimpleNamespace(pw_name=user, pw_uid=uid, pw_gid=0, pw_dir="/root", pw_shell="/bin/bash")
    result = run_module(service_account.main, capsys, monkeypatch, name=name, group="root", variable="nats_server_user")
    assert result["failed"]
    assert result["msg"] == ("nats_server_user is '%s': a service never runs as root. "
                             "Set it to a dedicated system account such as cmsgs." % name)
    assert accounts["commands"] == []


def test_a_person_s_login_account_is_refused(accounts, capsys, monkeypatch):
    accounts["groups"]["alice"] = SimpleNamespace(gr_name="alice", gr_gid=1000)
    accounts["users"]["alice"] = SimpleNamespace(pw_name="alice", pw_uid=1000, pw_gid=1000, pw_dir="/home/alice", pw_shell="/bin/bash")
    result = run_module(service_account.main, capsys, monkeypatch, name="alice", group="cmsgs", variable="tls_certs_owner")
    assert result["failed"] and result["msg"] == _login_account_refusal("tls_certs_owner", "alice", 1000, "/bin/bash")
    assert accounts["commands"] == []


def test_a_high_uid_without_a_login_shell_is_a_service_account(accounts, capsys, monkeypatch):
    accounts["groups"]["svcgrp"] = SimpleNamespace(gr_name="svcgrp", gr_gid=1500)
    accounts["users"]["svc"] = SimpleNamespace(pw_name="svc", pw_uid=1500, pw_gid=1500, pw_dir="/var/lib/svc", pw_shell="/usr/sbin/nologin")
    result = run_module(service_account.main, capsys, monkeypatch, **ARGS)
    assert not result.get("failed") and not result["changed"]


def test_uid_min_comes_from_login_defs(tmp_path):
    defs = tmp_path / "login.defs"
    defs.write_text("# UID_MIN 5\nUID_MIN\t\t 2000\n")
    assert service_account.uid_min(str(defs)) == 2000
    assert service_account.uid_min(str(tmp_path / "missing")) == 1000


def test_the_host_s_etc_login_defs_decides_who_is_a_person(accounts, capsys, monkeypatch, tmp_path):
    # This host starts human accounts at 500, so bob (uid 600, bash) is a person, not a service.
    defs = tmp_path / "login.defs"
    defs.write_text("UID_MIN 500\n")
    real_open = open

    def host_open(path, *args, **kwargs):
        return real_open(str(defs) if path == "/etc/login.defs" else path, *args, **kwargs)

    monkeypatch.setattr(service_account, "open", host_open, raising=False)
    accounts["groups"]["svcgrp"] = SimpleNamespace(gr_name="svcgrp", gr_gid=600)
    accounts["users"]["bob"] = SimpleNamespace(pw_name="bob", pw_uid=600, pw_gid=600, pw_dir="/home/bob", pw_shell="/bin/bash")
    result = run_module(service_account.main, capsys, monkeypatch, name="bob", group="svcgrp")
    assert result["failed"] and result["msg"] == _login_account_refusal("name", "bob", 600, "/bin/bash")
    assert accounts["commands"] == []


def test_a_login_defs_byte_that_is_not_utf_8_neither_hides_uid_min_nor_fails(tmp_path):
    # Older hosts keep Latin-1 comments in login.defs (0xe9 is "é" there, not UTF-8).
    defs = tmp_path / "login.defs"
    defs.write_bytes(b"# Plage des UID r\xe9serv\xe9s aux comptes humains\nUID_MIN 2000\n")
    assert service_account.uid_min(str(defs)) == 2000


def test_login_defs_is_read_as_utf_8_whatever_the_locale(tmp_path):
    # login.defs may carry UTF-8 comments; a host whose Python runs in an ASCII locale must still
    # find UID_MIN. The locale is fixed at interpreter start, hence the child interpreter.
    defs = tmp_path / "login.defs"
    defs.write_text("# Plage des UID réservés aux comptes humains\nUID_MIN 2000\n", encoding="utf-8")
    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0", PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.run(
        [sys.executable, "-c", "import sys; from %s import uid_min; print(uid_min(sys.argv[1]))" % service_account.__name__, str(defs)],
        env=env, capture_output=True, text=True, check=False)
    assert (child.returncode, child.stdout) == (0, "2000\n"), child.stderr


def test_without_home_an_existing_user_keeps_its_home(accounts, capsys, monkeypatch):
    _existing(accounts, home="/var/lib/nats-server")
    result = run_module(service_account.main, capsys, monkeypatch, name="svc", group="svcgrp")
    assert not result["changed"] and accounts["commands"] == []


def test_without_home_a_new_user_gets_nonexistent(accounts, capsys, monkeypatch):
    result = run_module(service_account.main, capsys, monkeypatch, diff=True, name="svc", group="svcgrp")
    assert result["changed"] and result["created"] == ["group", "user"]
    assert accounts["commands"][1] == ["useradd", "--system", "--gid", "svcgrp", "--home-dir", "/nonexistent", "--no-create-home",
                                       "--shell", "/usr/sbin/nologin", "svc"]
    assert result["diff"]["after"] == {"group": "svcgrp", "home": "/nonexistent", "shell": "/usr/sbin/nologin"}


def test_the_old_module_name_is_routed_here():
    runtime = yaml.safe_load((pathlib.Path(service_account.__file__).resolve().parents[2] / "meta" / "runtime.yml").read_text())
    route = runtime["plugin_routing"]["modules"]["system_account"]
    assert route["redirect"] == "cmsgs.nats.service_account"
    assert route["deprecation"]["removal_version"]


# --- folders in the same call ---------------------------------------------------

def _folder(path, mode="0750"):
    return {"path": str(path), "owner": os.geteuid(), "group": os.getegid(), "mode": mode}


def test_folders_are_made_after_the_account_and_a_rerun_changes_nothing(accounts, capsys, monkeypatch, tmp_path):
    _existing(accounts)
    data = tmp_path / "data"
    first = run_module(service_account.main, capsys, monkeypatch, folders=[_folder(tmp_path, "0755"), _folder(data)], **ARGS)
    assert first["changed"] is True and first["created"] == [] and accounts["commands"] == []
    assert first["folders"]["created"] == [str(data)] and oct(data.stat().st_mode & 0o7777) == "0o750"
    again = run_module(service_account.main, capsys, monkeypatch, folders=[_folder(tmp_path, "0755"), _folder(data)], **ARGS)
    assert again["changed"] is False and again["folders"]["created"] == [] and again["folders"]["deviations"] == []
    data.chmod(0o777)
    fixed = run_module(service_account.main, capsys, monkeypatch, diff=True, folders=[_folder(data)], **ARGS)
    assert fixed["changed"] is True and oct(data.stat().st_mode & 0o7777) == "0o750"
    # One diff for the account, one for the folders.
    assert fixed["diff"][0]["before_header"] == "svc" and "0777" in fixed["diff"][1]["before"]
    assert "0750" in fixed["diff"][1]["after"]


def test_a_folder_that_cannot_be_made_fails_before_the_account_changes(accounts, capsys, monkeypatch, tmp_path):
    (tmp_path / "data").write_text("a file where the folder goes")
    result = run_module(service_account.main, capsys, monkeypatch, folders=[_folder(tmp_path / "data")], **ARGS)
    assert result["failed"] is True and accounts["commands"] == []
    assert str(tmp_path / "data") in result["msg"] and result["msg"].endswith("; the account was left as it was")


def test_check_mode_does_not_warn_about_the_account_it_would_create(accounts, capsys, monkeypatch, tmp_path):
    folders = [{"path": str(tmp_path / "data"), "owner": "svc", "group": "svcgrp", "mode": "0750"},
               {"path": str(tmp_path / "logs"), "owner": "someone-else", "group": "svcgrp", "mode": "0750"}]
    result = run_module(service_account.main, capsys, monkeypatch, check_mode=True, folders=folders, **ARGS)
    assert result["changed"] is True and result["created"] == ["group", "user"] and accounts["commands"] == []
    assert result["folders"]["created"] == [str(tmp_path / "data"), str(tmp_path / "logs")]
    assert not (tmp_path / "data").exists()
    # Said once (the check before the account changes does not warn), and not of svc or svcgrp.
    warnings = [w["event"]["msg"] if isinstance(w, dict) else w for w in result["warnings"]]
    assert warnings == ["someone-else does not exist yet; assuming an earlier task of this run creates it"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd"), reason="creating accounts needs root and useradd")
def test_real_account_and_its_folders_in_one_call(capsys, monkeypatch, tmp_path):
    name = "cmsgs-t%s" % uuid.uuid4().hex[:6]
    data = tmp_path / "data"
    args = {"name": name, "group": name, "home": str(data),
            "folders": [{"path": str(data), "owner": name, "group": name, "mode": "0700"}]}
    try:
        first = run_module(service_account.main, capsys, monkeypatch, **args)
        assert first["changed"] and first["created"] == ["group", "user"] and "warnings" not in first
        assert (data.owner(), data.group(), oct(data.stat().st_mode & 0o7777)) == (name, name, "0o700")
        assert run_module(service_account.main, capsys, monkeypatch, **args)["changed"] is False
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        subprocess.run(["groupdel", name], check=False, capture_output=True)
