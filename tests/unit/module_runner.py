# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process the way Ansible runs it on a host."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common import warnings

try:  # ansible-core 2.19 and later; 2.17 has neither the switch nor the profiles.
    from ansible.module_utils import _internal
except ImportError:
    _internal = None


def run_module(main, capsys, monkeypatch, check_mode=False, diff=False, **args):
    """Call ``main`` with ``args`` (plus check and diff mode); return its JSON result."""
    args.update(_ansible_check_mode=check_mode, _ansible_diff=diff)
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())
    if _internal is not None:
        monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy")
        # Once controller code (ansible.errors) is imported by any test, ansible-core
        # sends module warnings to the controller's display instead of the result; a
        # module runs on the host, where they land in the result.
        monkeypatch.setattr(_internal, "is_controller", False)
    # Warnings live in process-wide stores; a host runs one module per process.
    monkeypatch.setattr(warnings, "_global_warnings", type(warnings._global_warnings)())
    monkeypatch.setattr(warnings, "_global_deprecations", type(warnings._global_deprecations)())
    with pytest.raises(SystemExit):
        main()
    return json.loads(capsys.readouterr().out)


def warning_texts(result):
    """Each warning's message, whether a plain string or a 2.19 event."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def enable_tracebacks(monkeypatch):
    """Have failures carry their traceback, as -vvv asks for it (ansible-core 2.19 and later)."""
    try:
        from ansible.module_utils._internal import _traceback
    except ImportError:  # before ansible-core 2.19 the traceback is always returned
        return
    monkeypatch.setattr(_traceback, "_is_traceback_enabled", lambda event: True)


class HostCommands:
    """Enough of AnsibleModule for nats_runtime's helpers: real commands, real PATH, each command recorded."""

    def __init__(self):
        self.commands = []

    def run_command(self, argv):
        self.commands.append(list(argv))
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    @staticmethod
    def get_bin_path(name, required=False):
        found = shutil.which(name)
        if required and not found:  # AnsibleModule fails the module here
            raise LookupError("Failed to find required executable %s" % name)
        return found


def script(folder, name, body):
    """An executable shell script named name in folder, standing in for a host command; its path."""
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)
