# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nats_config action: one module call when the host runs the controller's binary,
a copy and a second call when it does not. The module's side is in test_nats_config.py;
the copy over a real connection runs in every molecule scenario's first converge."""

from __future__ import annotations

import hashlib
import os
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.cmsgs.nats.plugins.action import nats_config as action_plugin


class Recorder:
    """Stands for the host: answers module calls in turn and records what the action did."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []
        self.task_vars = []

    def __call__(self, module_name, module_args, task_vars):
        self.calls.append(("module", module_name, dict(module_args)))
        self.task_vars.append(task_vars)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)


def make_action(args, host):
    task = Task()
    task.args = dict(args)
    connection = mock.MagicMock()
    connection._shell.join_path = lambda *parts: "/".join(parts)
    connection._shell.tmpdir = None
    action = action_plugin.ActionModule(task, connection, mock.MagicMock(check_mode=False), loader=None, templar=None,
                                        shared_loader_obj=None)
    action._execute_module = host
    action._make_tmp_path = lambda: host.calls.append(("mkdir",)) or "/root/.ansible/tmp/t1"
    action._transfer_file = lambda source, dest: host.calls.append(("copy", source, dest))
    action._fixup_perms2 = lambda paths: host.calls.append(("perms",) + tuple(paths))
    action._remove_tmp_path = lambda path: host.calls.append(("rmdir", path))
    return action


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "nats-server"
    path.write_bytes(b"a nats-server build\n" * 1000)
    return path


def test_a_host_that_runs_the_binary_gets_one_call_and_no_copy(source):
    host = Recorder({"changed": False, "binary_needed": False})
    result = make_action({"path": "/etc/nats-server/nats-server.conf", "binary_source": str(source)}, host).run(task_vars={})
    assert result["changed"] is False and result["binary_needed"] is False
    # The action read the sha1 itself, as the module computes it on the host.
    assert host.calls == [("module", "cmsgs.nats.nats_config", {
        "path": "/etc/nats-server/nats-server.conf", "binary_source": str(source),
        "binary_sha1": hashlib.sha1(source.read_bytes()).hexdigest()})]


def test_a_given_sha1_is_passed_on_without_reading_the_file():
    host = Recorder({"changed": False, "binary_needed": False})
    make_action({"binary_source": "/nowhere/nats-server", "binary_sha1": "ab" * 20}, host).run(task_vars={})
    assert host.calls[0][2]["binary_sha1"] == "ab" * 20


def test_a_host_with_another_binary_gets_a_copy_and_a_second_call(source):
    host = Recorder({"changed": False, "binary_needed": True}, {"changed": True, "binary_changed": True, "binary_needed": False})
    result = make_action({"binary_source": str(source), "binary_sha1": "cd" * 20}, host).run(task_vars={})
    assert result["changed"] is True and result["binary_changed"] is True and result["binary_needed"] is False
    upload = "/root/.ansible/tmp/t1/nats-server"
    assert host.calls[1:] == [
        ("mkdir",), ("copy", str(source), upload), ("perms", "/root/.ansible/tmp/t1", upload),
        ("module", "cmsgs.nats.nats_config", {"binary_source": str(source), "binary_sha1": "cd" * 20, "binary_upload": upload}),
        ("rmdir", "/root/.ansible/tmp/t1"),
    ]


def test_the_copy_is_removed_when_the_second_call_breaks(source):
    host = Recorder({"binary_needed": True}, RuntimeError("connection lost"))
    with pytest.raises(RuntimeError):
        make_action({"binary_source": str(source), "binary_sha1": "cd" * 20}, host).run(task_vars={})
    assert host.calls[-1] == ("rmdir", "/root/.ansible/tmp/t1")


def test_a_failed_first_call_copies_nothing(source):
    host = Recorder({"failed": True, "msg": "max_payload (2097152) is larger than max_pending", "binary_needed": True})
    result = make_action({"binary_source": str(source), "binary_sha1": "cd" * 20}, host).run(task_vars={})
    assert result["failed"] is True and len(host.calls) == 1


def test_without_binary_source_the_module_is_called_once_as_given():
    host = Recorder({"changed": True})
    make_action({"path": "/etc/nats-server/nats-server.conf"}, host).run(task_vars={})
    assert host.calls == [("module", "cmsgs.nats.nats_config", {"path": "/etc/nats-server/nats-server.conf"})]


def test_binary_upload_in_a_task_is_refused():
    host = Recorder()
    with pytest.raises(AnsibleActionFail, match="^nats_config: binary_upload is set by the action; give binary_source instead$"):
        make_action({"binary_source": "/c/nats-server", "binary_upload": "/tmp/x"}, host).run(task_vars={})
    assert host.calls == []


def test_an_unreadable_binary_source_is_named(tmp_path):
    missing = tmp_path / "nats-server"
    with pytest.raises(AnsibleActionFail) as err:
        make_action({"binary_source": str(missing)}, Recorder()).run(task_vars={})
    assert str(err.value) == "nats_config: cannot read binary_source %s on the controller: no such file" % missing


def test_a_binary_source_that_cannot_be_opened_says_why(tmp_path, monkeypatch):
    path = tmp_path / "nats-server"
    path.write_bytes(b"x")
    real_open = open

    def refusing_open(name, *args, **kwargs):
        # The tests run as root, whom a file mode does not stop.
        # ansible-core before 2.19 opens the file by its name in bytes.
        if os.fsdecode(name) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args, **kwargs)
    monkeypatch.setattr("builtins.open", refusing_open)
    with pytest.raises(AnsibleActionFail) as err:
        make_action({"binary_source": str(path)}, Recorder()).run(task_vars={})
    # The reason's wording is ansible-core's, which changed in 2.19.
    assert str(err.value).startswith("nats_config: cannot read binary_source %s on the controller: " % path)
    assert str(err.value).endswith("Permission denied")


def test_no_remote_folder_is_made_up_front():
    # ActionBase makes one for actions that transfer files; this one makes its own, only for a copy.
    assert action_plugin.ActionModule.TRANSFERS_FILES is False


def test_both_module_calls_get_the_tasks_variables(source):
    # The module's interpreter, become settings and connection come from them.
    host = Recorder({"changed": False, "binary_needed": True}, {"changed": True, "binary_needed": False})
    task_vars = {"ansible_python_interpreter": "/usr/bin/python3"}
    make_action({"binary_source": str(source), "binary_sha1": "cd" * 20}, host).run(task_vars=task_vars)
    assert host.task_vars == [task_vars, task_vars]


def test_a_run_warns_of_nothing(source):
    # ActionBase warns when given a tmp folder, which this action never asks for.
    with mock.patch("ansible.plugins.action.display.warning") as warning:
        make_action({"binary_source": str(source), "binary_sha1": "cd" * 20},
                    Recorder({"changed": False, "binary_needed": False})).run(task_vars={})
    warning.assert_not_called()
