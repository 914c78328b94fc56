# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's half of cmsgs.nats.nats_config: the new binary, copied only when needed.

With ``binary_source`` the module is first asked with the binary's sha1 alone.
When the host already runs that binary (every re-run), that one call checks
the binary, the configuration and the unit. When it does not, the module
changes nothing and says so; the binary is then copied to a temporary folder
on the host and the module is called again to install it as the candidate,
check the configuration with it and put both in place.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.hashing import checksum

MODULE = "cmsgs.nats.nats_config"


def file_sha1(path):
    """sha1 of a file on the controller (what copy compares), as the module computes it on the host."""
    try:
        digest = checksum(path)
    except AnsibleError as exc:
        raise AnsibleActionFail("nats_config: cannot read binary_source %s on the controller: %s"
                                % (path, exc.__cause__ or exc)) from None
    if digest is None:
        raise AnsibleActionFail("nats_config: cannot read binary_source %s on the controller: no such file" % path)
    return digest


class ActionModule(ActionBase):
    # False, though a new binary is copied: ActionBase would otherwise make a
    # remote folder up front on every run (three commands on the host); the
    # folder is made here only when a binary is copied.
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # unused: see TRANSFERS_FILES
        args = dict(self._task.args)
        if args.get("binary_upload"):
            raise AnsibleActionFail("nats_config: binary_upload is set by the action; give binary_source instead")
        source = args.get("binary_source")
        if source and not args.get("binary_sha1"):
            args["binary_sha1"] = file_sha1(source)
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        if not result.get("binary_needed") or result.get("failed"):
            return result

        folder = self._make_tmp_path()
        try:
            upload = self._connection._shell.join_path(folder, os.path.basename(source))
            self._transfer_file(source, upload)
            self._fixup_perms2((folder, upload))
            args["binary_upload"] = upload
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        finally:
            self._remove_tmp_path(folder)
        return result
