# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nats_config module: render, validate with the real nats-server, install."""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import stat
import uuid

import pytest

from ansible_collections.cmsgs.nats.plugins.modules import nats_config
from ansible_collections.cmsgs.nats.tests.unit.http_standin import StandIn
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module, script, warning_texts
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary, needs_nats_server
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import NatsServer, Pki, check_config, free_port

pytestmark = needs_nats_server
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners and switching users needs root")
NO_SUCH_USER = "cmsgs-no-such-user"

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


def _current_user():
    return pwd.getpwuid(os.geteuid()).pw_name


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


@as_root
def test_owner_group_and_mode_drift_is_fixed_and_shown_in_the_diff(run, tmp_path):
    path = tmp_path / "nats-server.conf"
    run(BASE)
    text = _text(tmp_path)
    os.chown(path, 1, 1)
    os.chmod(path, 0o644)
    result = run(BASE, diff=True)
    assert result["changed"] and not result["content_changed"] and not result["restart_required"]
    assert (path.stat().st_uid, path.stat().st_gid, stat.S_IMODE(path.stat().st_mode)) == (0, 0, 0o640)
    assert result["diff"] == [
        {"before": text, "after": text, "before_header": str(path), "after_header": str(path)},
        {"before": {"path": str(path), "owner": 1, "group": 1, "mode": "0644"},
         "after": {"path": str(path), "owner": 0, "group": 0, "mode": "0640"}},
    ]


def test_unit_is_installed_with_the_configuration_and_a_change_needs_a_restart(run, tmp_path):
    # A name no host has: with Debian's nats-server package installed,
    # "nats-server.service" would be the host's real, running unit.
    unit = tmp_path / "units" / ("cmsgs-test-%s.service" % uuid.uuid4().hex)
    unit.parent.mkdir()
    first = run(BASE, unit_path=str(unit), unit_content="[Service]\nExecStart=/bin/true\n")
    assert first["unit_changed"]
    assert first["unit_active"] is False and first["unit_enabled"] is False  # no such unit on this machine
    assert unit.read_text() == "[Service]\nExecStart=/bin/true\n"
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    same = run(BASE, unit_path=str(unit), unit_content="[Service]\nExecStart=/bin/true\n")
    assert not same["changed"]
    changed = run(BASE, unit_path=str(unit), unit_content="[Service]\nExecStart=/bin/false\n")
    assert changed["changed"] and changed["unit_changed"] and changed["restart_required"] and not changed["content_changed"]


def test_a_replaced_watched_file_changes_the_file_for_a_reload(run, tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("one")
    run(BASE, watch_files=[str(cert)])
    assert not run(BASE, watch_files=[str(cert)])["changed"]
    cert.write_text("two")
    result = run(BASE, watch_files=[str(cert)])
    assert result["content_changed"] and not result["restart_required"]
    assert "one" not in _text(tmp_path) and "two" not in _text(tmp_path)  # digests only


# --- what the result and the diff say ---------------------------------------

def test_the_result_of_a_first_install_names_the_file_and_what_changed(run, tmp_path):
    result = run(BASE)
    fields = {name: result[name] for name in ("path", "changed", "content_changed", "unit_changed", "binary_changed",
                                              "drift", "previous_path", "restart_required")}
    # Handlers and conditions read these as booleans and lists: None is not False.
    assert fields == {"path": str(tmp_path / "nats-server.conf"), "changed": True, "content_changed": True,
                      "unit_changed": False, "binary_changed": False, "drift": [], "previous_path": None,
                      "restart_required": True}
    assert "unit_active" not in result and "warnings" not in result


def test_the_diff_of_a_first_install_shows_an_empty_file_before_and_the_units_text(run, tmp_path):
    path, unit = tmp_path / "nats-server.conf", tmp_path / ("cmsgs-test-%s.service" % uuid.uuid4().hex)
    result = run(BASE, diff=True, unit_path=str(unit), unit_content="[Service]\nExecStart=/bin/true\n")
    assert result["diff"] == [
        {"before": "", "after": _text(tmp_path), "before_header": str(path), "after_header": str(path)},
        {"before": "", "after": "[Service]\nExecStart=/bin/true\n", "before_header": str(unit), "after_header": str(unit)},
    ]


def test_the_kept_previous_file_is_reported_on_every_later_run(run, tmp_path):
    previous = str(tmp_path / "nats-server.conf.previous")
    assert run(BASE)["previous_path"] is None  # nothing replaced yet
    assert run(dict(BASE, max_payload=2097152))["previous_path"] == previous
    # A later run with nothing to change still points at the file a rollback needs.
    again = run(dict(BASE, max_payload=2097152))
    assert not again["changed"] and again["previous_path"] == previous


@as_root
def test_the_kept_previous_file_has_the_live_files_owner_group_and_mode(run, tmp_path):
    # The previous file holds the same secrets: it is readable by exactly whom the live file was.
    group = grp.getgrgid(1).gr_name
    run(BASE, group=group, mode="0640")
    result = run(dict(BASE, max_payload=2097152), group=group, mode="0640")
    kept = os.stat(result["previous_path"])
    assert (kept.st_uid, kept.st_gid, stat.S_IMODE(kept.st_mode)) == (0, 1, 0o640)


def test_check_mode_does_not_write_the_unit(run, tmp_path):
    unit = tmp_path / ("cmsgs-test-%s.service" % uuid.uuid4().hex)
    result = run(BASE, check_mode=True, unit_path=str(unit), unit_content="[Service]\nExecStart=/bin/true\n")
    assert result["changed"] and result["unit_changed"] and result["restart_required"]
    assert not unit.exists()


def test_a_unit_path_without_its_content_is_refused(run, tmp_path):
    unit = tmp_path / "nats-server.service"
    result = run(BASE, unit_path=str(unit))
    assert result["failed"] and result["msg"] == "parameters are required together: unit_path, unit_content"
    assert not unit.exists() and not (tmp_path / "nats-server.conf").exists()


# --- mode, owner and group ---------------------------------------------------

@pytest.mark.parametrize("mode", ["0648", "06400", "0X44", "64", ""])
def test_a_mode_that_is_not_three_or_four_octal_digits_is_refused(run, tmp_path, mode):
    result = run(BASE, mode=mode)
    assert result["failed"] and result["msg"] == "mode must be a quoted octal string such as '0640', got %r" % mode
    assert not (tmp_path / "nats-server.conf").exists()


def test_a_three_digit_mode_is_accepted(run, tmp_path):
    assert not run(BASE, mode="644").get("failed")
    assert stat.S_IMODE((tmp_path / "nats-server.conf").stat().st_mode) == 0o644


@pytest.mark.parametrize("owner, group", [(NO_SUCH_USER, "root"), ("root", "cmsgs-no-such-group")])
def test_an_owner_or_group_missing_on_the_host_is_reported_and_nothing_is_written(run, tmp_path, owner, group):
    result = run(BASE, owner=owner, group=group)
    assert result["failed"] and result["msg"] == "owner %s or group %s does not exist on the host" % (owner, group)
    assert list(tmp_path.iterdir()) == []


# --- the file in place ---------------------------------------------------------

def test_a_file_with_windows_line_endings_is_rewritten(run, tmp_path):
    run(BASE)
    path = tmp_path / "nats-server.conf"
    path.write_bytes(_text(tmp_path).replace("\n", "\r\n").encode())  # the same settings, edited on Windows
    result = run(BASE)
    assert result["changed"] and result["content_changed"]
    assert b"\r" not in path.read_bytes()


def test_check_mode_reports_a_change_to_a_file_that_is_not_utf8(run, tmp_path):
    (tmp_path / "nats-server.conf").write_bytes(b"# \xe9dit\xe9 \xe0 la main\nlisten: 127.0.0.1:4222\n")  # Latin-1
    result = run(BASE, check_mode=True)
    assert not result.get("failed") and result["changed"] and result["content_changed"] and result["restart_required"]


def test_a_file_that_is_not_utf8_is_replaced_and_kept_byte_for_byte_as_the_previous(run, tmp_path):
    latin1 = b"# \xe9dit\xe9 \xe0 la main\nlisten: 127.0.0.1:4222\n"
    (tmp_path / "nats-server.conf").write_bytes(latin1)
    result = run(BASE)
    assert not result.get("failed") and result["changed"] and result["content_changed"]
    assert 'server_name: "nats-1"' in _text(tmp_path)
    assert (tmp_path / "nats-server.conf.previous").read_bytes() == latin1  # the rollback is the file as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nats-server.conf", "nats-server.conf.previous"]


def test_a_previous_file_that_cannot_be_kept_leaves_the_live_file_and_no_candidate(run, tmp_path):
    path = tmp_path / "nats-server.conf"
    run(BASE)
    before = path.read_bytes()
    (tmp_path / "nats-server.conf.previous").mkdir()  # a folder where the kept copy would go
    result = run({**BASE, "max_payload": 65536})
    assert result["failed"] and result["msg"] == (
        "could not keep the configuration being replaced as %s.previous (Is a directory); the live file %s was left as it is"
        % (path, path))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nats-server.conf", "nats-server.conf.previous"]


def test_a_watched_file_that_is_absent_is_recorded_as_absent(run, tmp_path):
    cert = tmp_path / "cert.pem"
    run(BASE, watch_files=[str(cert)])
    assert "\n# watched: %s absent\n" % cert in _text(tmp_path)
    cert.write_text("one")  # the certificate arrives: the server must reload to read it
    result = run(BASE, watch_files=[str(cert)])
    assert result["content_changed"] and not result["restart_required"]
    assert "%s absent" % cert not in _text(tmp_path)


# --- validation ----------------------------------------------------------------

@pytest.fixture
def recording_binary(tmp_path):
    """nats-server behind a script that notes each file it checks: its path, owner, group and mode."""
    record = tmp_path / "checked.txt"
    binary = script(tmp_path, "nats-server", 'stat -c "%%n %%u %%g %%a" "$3" >> %s\nexec %s "$@"' % (record, nats_server_binary()))
    return binary, record


def test_the_candidate_is_checked_beside_the_live_file_with_its_owner_and_mode(run, tmp_path, recording_binary):
    binary, record = recording_binary
    assert run(BASE, nats_server_binary=binary, mode="0600")["changed"]
    # One folder, so the rename is atomic and relative includes resolve as for the live file.
    assert re.fullmatch(r"%s/\.nats-server\.\S+ 0 0 600\n" % re.escape(str(tmp_path)), record.read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checked.txt", "nats-server", "nats-server.conf"]


def test_check_mode_on_a_host_without_the_owner_checks_a_candidate_of_the_current_user(run, tmp_path, recording_binary):
    # The server's user and group are made by an earlier task, which check mode did not run.
    binary, record = recording_binary
    result = run(BASE, check_mode=True, nats_server_binary=binary, owner=NO_SUCH_USER, group="cmsgs-no-such-group")
    assert not result.get("failed") and result["changed"]
    assert re.fullmatch(r"%s/\.nats-server\.\S+ %d %d 640\n" % (re.escape(str(tmp_path)), os.geteuid(), os.getegid()),
                        record.read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checked.txt", "nats-server"]


@pytest.mark.parametrize("missing", ["binary", "folder"])
def test_check_mode_on_a_host_without_nats_server_skips_validation_with_a_warning(run, tmp_path, missing):
    binary = str(tmp_path / "bin" / "nats-server") if missing == "binary" else nats_server_binary()
    path = tmp_path / ("etc" if missing == "folder" else "") / "nats-server.conf"
    result = run(BASE, check_mode=True, path=str(path), nats_server_binary=binary)
    assert not result.get("failed") and result["changed"]
    assert warning_texts(result) == ["%s is not installed yet; the configuration was not validated" % binary]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("as_user", [False, True], ids=["as the caller", "as the service user"])
def test_a_rejected_configuration_is_reported_in_full_with_the_live_files_name(run, tmp_path, as_user):
    # nats-server names the file it read: the candidate's name is replaced by the live one.
    binary = script(tmp_path, "nats-server", 'echo "nats-server: $3:4:1: unknown field \\"bogus\\"" >&2\nexit 1')
    path = str(tmp_path / "nats-server.conf")
    extra = {"validate_as": _current_user()} if as_user else {}
    result = run(BASE, nats_server_binary=binary, **extra)
    assert result["failed"]
    assert result["msg"] == (
        "nats-server rejected the new configuration for %s%s; the live file was left as it is. "
        'nats-server said: nats-server: %s:4:1: unknown field "bogus"'
        % (path, " (checked as user %s)" % _current_user() if as_user else "", path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nats-server"]


def test_a_service_user_missing_on_the_host_fails_the_check_and_leaves_no_candidate(run, tmp_path):
    result = run(BASE, validate_as=NO_SUCH_USER)
    assert result["failed"]
    assert result["msg"] == "user %s does not exist; it is needed to check the configuration as the server would read it" % NO_SUCH_USER
    assert list(tmp_path.iterdir()) == []


def test_check_mode_checks_as_the_current_user_when_the_service_user_is_not_made_yet(run, tmp_path):
    result = run(BASE, check_mode=True, validate_as=NO_SUCH_USER)
    assert not result.get("failed") and result["changed"]
    assert warning_texts(result) == ["user %s does not exist yet; the configuration was checked as %s" % (NO_SUCH_USER, _current_user())]
    assert list(tmp_path.iterdir()) == []


def test_check_mode_checks_as_an_existing_service_user_without_a_warning(run):
    result = run(BASE, check_mode=True, validate_as=_current_user())
    assert not result.get("failed") and result["changed"] and "warnings" not in result


# --- a new binary ----------------------------------------------------------------

@pytest.fixture
def live_binary(tmp_path):
    """A copy of nats-server where the module replaces it, and a file it installed."""
    live = tmp_path / "nats-server"
    shutil.copy(nats_server_binary(), live)
    return str(live)


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_new_binary_accepting_the_file_in_place_replaces_the_old_and_asks_for_a_restart(run, tmp_path, live_binary, check_mode):
    run(BASE, nats_server_binary=live_binary)
    candidate = tmp_path / "nats-server.new"
    shutil.copy(nats_server_binary(), candidate)
    os.truncate(live_binary, 0)  # tells the old binary from the new one
    result = run(BASE, check_mode=check_mode, nats_server_binary=live_binary, binary_candidate=str(candidate))
    assert not result.get("failed")
    assert result["changed"] and result["binary_changed"] and result["restart_required"] and not result["content_changed"]
    assert candidate.exists() is check_mode
    assert (os.path.getsize(live_binary) == 0) is check_mode


def test_a_new_binary_rejecting_the_file_in_place_is_reported_and_left_aside(run, tmp_path, live_binary):
    run(BASE, nats_server_binary=live_binary)
    candidate = script(tmp_path, "nats-server.new", "echo 'nats-server: unknown field \"max_payload\"' >&2\nexit 1")
    result = run(BASE, nats_server_binary=live_binary, binary_candidate=candidate)
    assert result["failed"]
    assert result["msg"] == ('the new nats-server binary %s rejects the configuration %s, so it did not replace %s: '
                             'nats-server: unknown field "max_payload"' % (candidate, tmp_path / "nats-server.conf", live_binary))
    assert os.path.exists(candidate) and os.path.getsize(live_binary) == os.path.getsize(nats_server_binary())


@as_root
def test_a_new_binary_checks_the_file_in_place_as_the_service_user(run, tmp_path, live_binary):
    run(BASE, nats_server_binary=live_binary)
    candidate = tmp_path / "nats-server.new"
    shutil.copy(nats_server_binary(), candidate)
    # pytest's tmp_path is root's alone: nobody cannot read the file there, root can.
    result = run(BASE, nats_server_binary=live_binary, binary_candidate=str(candidate), validate_as="nobody")
    assert result["failed"]
    assert result["msg"].startswith("the new nats-server binary %s rejects the configuration %s, so it did not replace %s: "
                                    % (candidate, tmp_path / "nats-server.conf", live_binary))
    assert "permission denied" in result["msg"].lower()
    assert candidate.exists()


def test_a_binary_candidate_that_does_not_exist_means_no_new_binary(run, tmp_path):
    run(BASE)
    result = run(BASE, binary_candidate=str(tmp_path / "nats-server.new"))
    assert not result.get("failed") and not result["changed"] and result["binary_changed"] is False


# --- the running server compared with the disk ----------------------------------

@pytest.fixture
def served(run, tmp_path):
    """The module's file, served by a nats-server that then falls behind: the file changes, no reload follows.

    Yields (configuration now on disk, monitor URL).
    """
    client, monitor = free_port(), free_port()
    config = dict(BASE, listen="127.0.0.1:%d" % client, http="127.0.0.1:%d" % monitor)
    run(config)
    server = NatsServer(tmp_path, _text(tmp_path), [client, monitor], name="nats-server").start()
    try:
        changed = dict(config, max_payload=2097152)
        assert run(changed)["content_changed"]
        yield changed, "http://127.0.0.1:%d" % monitor
    finally:
        server.stop()


@pytest.fixture
def systemctl(tmp_path, monkeypatch):
    """A systemctl on PATH that reports the unit active (rc 0) or not (rc 3), and enabled."""
    folder = tmp_path / "bin"
    folder.mkdir()

    def reports(active):
        script(folder, "systemctl", 'case "$1" in is-active) exit %d;; *) exit 0;; esac' % (0 if active else 3))
        monkeypatch.setenv("PATH", "%s:%s" % (folder, os.environ["PATH"]))
    return reports


@pytest.mark.parametrize("active", [True, False], ids=["active unit", "inactive unit"])
def test_the_running_server_is_compared_only_when_its_unit_is_active(run, tmp_path, served, systemctl, active):
    config, url = served
    unit = {"unit_path": str(tmp_path / ("cmsgs-test-%s.service" % uuid.uuid4().hex)), "unit_content": "[Service]\n"}
    run(config, **unit)
    systemctl(active)
    result = run(config, monitor_url=url, **unit)
    assert (result["unit_active"], result["unit_enabled"]) == (active, True)
    assert not result["content_changed"] and not result["unit_changed"]
    if active:
        assert len(result["drift"]) == 1
        assert re.fullmatch(r"it runs the configuration sha256:[0-9a-f]{64}, the file on disk is sha256:[0-9a-f]{64}", result["drift"][0])
        assert result["changed"] and result["restart_required"]
        assert warning_texts(result) == ["nats-server does not run what is on disk (%s); it will be restarted" % result["drift"][0]]
    else:
        # A stopped unit starts on the file in place anyway.
        assert result["drift"] == [] and not result["changed"] and not result["restart_required"]
        assert "warnings" not in result


def test_a_first_install_with_a_monitor_url_compares_nothing(run):
    result = run(BASE, monitor_url="http://127.0.0.1:%d" % free_port())
    assert result["drift"] == [] and "warnings" not in result


def test_a_file_in_place_that_nats_server_rejects_is_not_compared_with_the_running_server(run, tmp_path):
    path = tmp_path / "nats-server.conf"
    path.write_text("listen: [\n")  # left broken by hand
    _rc, said = check_config(path)
    result = run(BASE, monitor_url="http://127.0.0.1:%d" % free_port())
    assert result["content_changed"] and result["drift"] == []
    assert warning_texts(result) == ["could not compare the running server with %s: %s -t rejects %s: %s"
                                     % (path, nats_server_binary(), path, said.strip())]


def test_the_running_server_is_compared_as_the_current_user_before_the_service_user_exists(run):
    run(BASE)
    result = run(BASE, validate_as=NO_SUCH_USER, monitor_url="http://127.0.0.1:%d" % free_port())
    assert not result.get("failed") and not result["changed"] and result["drift"] == []
    assert "warnings" not in result


@as_root
def test_the_running_server_is_compared_as_the_service_user(run, tmp_path):
    run(BASE)
    path = tmp_path / "nats-server.conf"
    # pytest's tmp_path is root's alone: the service user cannot read the file there.
    result = run(BASE, validate_as="nobody", monitor_url="http://127.0.0.1:%d" % free_port())
    assert not result.get("failed") and result["drift"] == []
    [warning] = warning_texts(result)
    assert warning.startswith("could not compare the running server with %s: %s -t rejects %s: " % (path, nats_server_binary(), path))
    assert "permission denied" in warning


# --- the binary from the controller (binary_source, through the action) ----------

def _sha1(path):
    with open(path, "rb") as handle:
        return hashlib.sha1(handle.read()).hexdigest()


def test_a_host_that_runs_the_controller_s_binary_needs_no_copy(run, tmp_path, live_binary):
    first = run(BASE, nats_server_binary=live_binary, binary_source="/controller/nats-server", binary_sha1=_sha1(live_binary))
    assert not first.get("failed") and first["binary_needed"] is False and first["binary_changed"] is False
    again = run(BASE, nats_server_binary=live_binary, binary_source="/controller/nats-server", binary_sha1=_sha1(live_binary))
    assert again["changed"] is False and again["restart_required"] is False


def test_another_binary_on_the_host_changes_nothing_and_asks_for_the_copy(run, tmp_path, live_binary):
    result = run(BASE, nats_server_binary=live_binary, binary_source="/controller/nats-server", binary_sha1="0" * 40)
    assert result == {"path": str(tmp_path / "nats-server.conf"), "changed": False, "binary_needed": True,
                      "invocation": result["invocation"]}
    assert not (tmp_path / "nats-server.conf").exists()


def test_a_host_without_nats_server_asks_for_the_copy(run, tmp_path):
    result = run(BASE, nats_server_binary=str(tmp_path / "absent"), binary_source="/c/nats-server", binary_sha1="0" * 40)
    assert result["binary_needed"] is True and not (tmp_path / "nats-server.conf").exists()


def test_check_mode_predicts_the_new_binary_and_its_restart(run, tmp_path, live_binary):
    run(BASE, nats_server_binary=live_binary)
    result = run(BASE, check_mode=True, nats_server_binary=live_binary, binary_source="/c/nats-server", binary_sha1="0" * 40,
                 binary_candidate=live_binary + ".candidate")
    assert (result["binary_needed"], result["binary_changed"], result["restart_required"], result["changed"]) == (False, True, True, True)


def test_a_bad_configuration_fails_before_any_binary_is_asked_for(run, tmp_path, live_binary):
    # A payload above max_pending passes nats-server -t but not a start: no copy is worth making for it.
    result = run(dict(BASE, max_payload="2MB", max_pending="1MB"), nats_server_binary=live_binary,
                 binary_source="/c/nats-server", binary_sha1="0" * 40)
    assert result["failed"] is True and "binary_needed" not in result and result["msg"].startswith("max_payload (2097152)")


def test_the_copied_binary_becomes_the_candidate_and_then_the_live_binary(run, tmp_path, live_binary):
    run(BASE, nats_server_binary=live_binary)
    upload = tmp_path / "upload"
    shutil.copy(nats_server_binary(), upload)
    upload.chmod(0o600)
    os.truncate(live_binary, 0)  # tells the old binary from the new one
    result = run(BASE, nats_server_binary=live_binary, binary_source="/c/nats-server", binary_sha1=_sha1(upload),
                 binary_candidate=live_binary + ".candidate", binary_upload=str(upload))
    assert not result.get("failed"), result
    assert result["binary_changed"] and result["restart_required"] and result["binary_needed"] is False
    assert _sha1(live_binary) == _sha1(upload) and not os.path.exists(live_binary + ".candidate")
    assert stat.S_IMODE(os.stat(live_binary).st_mode) == 0o755


def test_an_upload_without_a_candidate_path_is_refused(run, tmp_path):
    result = run(BASE, binary_source="/c/nats-server", binary_sha1="0" * 40, binary_upload=str(tmp_path / "upload"))
    assert result["failed"] and result["msg"] == "binary_upload needs binary_candidate, the path the new binary waits at"


def test_binary_source_without_its_sha1_is_refused(run):
    result = run(BASE, binary_source="/c/nats-server")
    assert result["failed"] and result["msg"] == "binary_source needs binary_sha1 (the action reads it on the controller)"


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_candidate_left_by_an_earlier_run_is_not_used_when_the_host_runs_the_wanted_binary(run, tmp_path, live_binary, check_mode):
    run(BASE, nats_server_binary=live_binary)
    left = script(tmp_path, "nats-server.candidate", "exit 1")
    result = run(BASE, check_mode=check_mode, nats_server_binary=live_binary, binary_source="/c/nats-server",
                 binary_sha1=_sha1(live_binary), binary_candidate=left)
    assert not result.get("failed"), result
    assert result["binary_changed"] is False and result["changed"] is False
    assert os.path.exists(left) is check_mode


@as_root
def test_the_live_binary_gets_root_and_0755_in_place_without_a_restart(run, tmp_path, live_binary):
    run(BASE, nats_server_binary=live_binary)
    os.chmod(live_binary, 0o775)
    os.chown(live_binary, 65534, 65534)
    result = run(BASE, nats_server_binary=live_binary, binary_source="/c/nats-server", binary_sha1=_sha1(live_binary))
    assert result["changed"] is True and result["restart_required"] is False and result["binary_changed"] is False
    info = os.stat(live_binary)
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o755, 0, 0)


# --- the url resolver, which nats-server fetches at every start -----------------

@pytest.fixture
def resolver():
    started = []

    def start(status=200, tls=None):
        started.append(StandIn(status, tls, path="/jwt/v1/accounts/"))
        return started[-1]
    yield start
    for server in started:
        server.stop()


def _with_resolver(url, **extra):
    return dict(BASE, resolver="URL(%s)" % url, **extra)


def test_a_url_resolver_that_answers_200_is_fetched_as_nats_server_fetches_it(run, tmp_path, resolver):
    acs = resolver()
    result = run(_with_resolver(acs.url))
    assert result["changed"] and not result.get("failed"), result
    assert acs.targets == ["/jwt/v1/accounts/"]
    assert "URL(%s)" % acs.url in _text(tmp_path)


def test_a_url_resolver_that_does_not_answer_stops_the_change_before_anything_is_written(run, tmp_path):
    run(BASE)
    before = _text(tmp_path)
    url = "http://127.0.0.1:%d/jwt/v1/accounts/" % free_port()
    result = run(_with_resolver(url))
    assert result["failed"]
    assert result["msg"].startswith(
        "nats-server would not start with this configuration: its url resolver %s, which it fetches at every start "
        "(and exits when that fails), cannot be used from this host, it does not answer: " % url)
    assert result["msg"].endswith(
        "Bring the account server up first (site.yml runs the account servers before the message servers, "
        "playbooks/acs.yml runs them alone), or correct nats_server_resolver_url. The configuration, the unit and "
        "the binary were left as they are.")
    assert _text(tmp_path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["nats-server.conf"]


def test_in_check_mode_a_url_resolver_that_does_not_answer_is_a_warning(run, tmp_path):
    # A check run of a new stack predicts the account server's start without making it.
    run(BASE)
    url = "http://127.0.0.1:%d/jwt/v1/accounts/" % free_port()
    result = run(_with_resolver(url), check_mode=True)
    assert not result.get("failed") and result["changed"], result
    [warning] = warning_texts(result)
    assert warning.startswith("nats-server would not start with this configuration: its url resolver %s, " % url)
    assert warning.endswith("or correct nats_server_resolver_url. A run stops here unless the account server "
                            "answers by then.")
    assert [p.name for p in tmp_path.iterdir()] == ["nats-server.conf"]


def test_a_url_resolver_that_answers_anything_but_200_stops_the_change(run, tmp_path, resolver):
    # nats-server takes only 200: a 404 (a wrong path) or a 503 stops its start.
    acs = resolver(status=404)
    result = run(_with_resolver(acs.url))
    assert result["failed"] and "cannot be used from this host, it answers 404 Not Found." in result["msg"]
    assert not (tmp_path / "nats-server.conf").exists()


def test_an_unchanged_configuration_is_not_held_up_by_a_resolver_that_is_down(run, resolver):
    acs = resolver()
    config = _with_resolver(acs.url)
    run(config)
    acs.stop()
    again = run(config)
    assert not again.get("failed") and not again["changed"], again


def test_a_stopped_unit_with_its_resolver_down_is_refused_because_it_would_be_started(run, tmp_path, resolver, systemctl):
    acs = resolver()
    config = _with_resolver(acs.url)
    unit = {"unit_path": str(tmp_path / ("cmsgs-test-%s.service" % uuid.uuid4().hex)), "unit_content": "[Service]\n"}
    systemctl(True)
    run(config, **unit)
    acs.stop()
    assert not run(config, **unit).get("failed")
    systemctl(False)
    result = run(config, **unit)
    assert result["failed"] and "would not start with this configuration" in result["msg"]
    # A new unit is a restart too.
    systemctl(True)
    result = run(config, **dict(unit, unit_content="[Service]\nRestart=always\n"))
    assert result["failed"] and "would not start with this configuration" in result["msg"]
    with open(unit["unit_path"]) as handle:
        assert handle.read() == "[Service]\n"


def test_an_https_resolver_is_checked_with_the_resolver_tls_ca_and_client_certificate(run, tmp_path, resolver):
    (tmp_path / "pki").mkdir()
    pki = Pki(tmp_path / "pki")
    client_cert, client_key, _c, _k = pki.leaf("client")
    acs = resolver(tls=pki.server_context("acs", client_certificates=True))
    with_ca = {"ca_file": pki.ca_path, "cert_file": client_cert, "key_file": client_key}
    # Without the private CA the load balancer's certificate is not trusted.
    refused = run(_with_resolver(acs.url, resolver_tls={"cert_file": client_cert, "key_file": client_key}))
    assert refused["failed"] and "CERTIFICATE_VERIFY_FAILED" in refused["msg"], refused
    # Without a client certificate the server refuses the handshake.
    refused = run(_with_resolver(acs.url, resolver_tls={"ca_file": pki.ca_path}))
    assert refused["failed"] and "does not answer" in refused["msg"], refused
    assert acs.targets == []
    result = run(_with_resolver(acs.url, resolver_tls=with_ca))
    assert not result.get("failed"), result
    assert acs.targets == ["/jwt/v1/accounts/"]
    # insecure: true skips the verification, as it does for nats-server.
    insecure = run(_with_resolver(acs.url, resolver_tls={"insecure": True, "cert_file": client_cert,
                                                         "key_file": client_key}))
    assert not insecure.get("failed"), insecure


def test_a_new_binary_waits_while_the_resolver_is_down(run, tmp_path, resolver, live_binary):
    acs = resolver()
    config = _with_resolver(acs.url)
    run(config, nats_server_binary=live_binary)
    acs.stop()
    candidate = tmp_path / "nats-server.new"
    shutil.copy(nats_server_binary(), candidate)
    os.truncate(live_binary, 0)  # tells the old binary from the new one
    result = run(config, nats_server_binary=live_binary, binary_candidate=str(candidate))
    assert result["failed"] and "would not start with this configuration" in result["msg"]
    assert os.path.getsize(live_binary) == 0 and candidate.exists()


def test_a_binary_a_check_run_would_copy_is_a_start_too(run, resolver, live_binary):
    acs = resolver()
    config = _with_resolver(acs.url)
    run(config, nats_server_binary=live_binary)
    acs.stop()
    result = run(config, check_mode=True, nats_server_binary=live_binary, binary_source="/c/nats-server",
                 binary_sha1="0" * 40)
    assert result["binary_changed"] and not result["content_changed"], result
    assert [text[:51] for text in warning_texts(result)] == ["nats-server would not start with this configuration"]


def test_a_server_behind_its_file_is_not_restarted_while_the_resolver_is_down(run, tmp_path, resolver, systemctl):
    acs = resolver()
    client, monitor = free_port(), free_port()
    config = dict(BASE, listen="127.0.0.1:%d" % client, http="127.0.0.1:%d" % monitor)
    run(config)
    server = NatsServer(tmp_path, _text(tmp_path), [client, monitor], name="nats-server").start()
    try:
        # Written with its unit, but not loaded: the server runs the file before it.
        with_resolver = _with_resolver(acs.url, listen=config["listen"], http=config["http"])
        unit = {"unit_path": str(tmp_path / ("cmsgs-test-%s.service" % uuid.uuid4().hex)), "unit_content": "[Service]\n"}
        systemctl(True)
        assert run(with_resolver, **unit)["content_changed"]
        acs.stop()
        result = run(with_resolver, monitor_url="http://127.0.0.1:%d" % monitor, **unit)
    finally:
        server.stop()
    # Nothing is new but the server is behind its file: it would be restarted, so the run stops.
    assert result["failed"] and "would not start with this configuration" in result["msg"], result
