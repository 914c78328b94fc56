# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters through which the nats_server role takes its decisions.

Each takes the role's variables as one mapping (vars/main.yml builds it from
every nats_server_* variable) and calls plugins/module_utils/nats_server_plan.py,
where the rules and builders live and are unit tested. The documentation of
each filter is in the YAML file of the same name next to this one.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.plugin_utils.lazy_import import lazy_module
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleValueError, RoleVars

# Imported on first use, not when ansible-core loads this file (plugin_utils/lazy_import.py).
plan = lazy_module("ansible_collections.cmsgs.nats.plugins.module_utils.nats_server_plan")

_VERSION_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")
# Keyed by path, size and modification time: a replaced binary is read again.
_BINARY_FACTS = {}
# Seconds a controller binary may take to print its version; one that hangs has none.
VERSION_TIMEOUT = 30


def _call(name, function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except (plan.PlanError, RoleValueError) as exc:
        raise AnsibleFilterError("%s: %s" % (name, exc)) from None


def nats_server_run(variables):
    return _call("nats_server_run", plan.run_plan, variables)


def nats_server_preflight(variables):
    return _call("nats_server_preflight", plan.preflight_problems, variables)


def nats_server_warnings(variables):
    return _call("nats_server_warnings", plan.preflight_warnings, variables)


def nats_server_operator(variables, operator_jwt_read=None, system_account_jwt_read=None):
    if not plan.nats_jwt.HAS_NKEYS:
        raise AnsibleFilterError("the Python libraries nkeys and PyNaCl are needed on the controller to read NATS JWTs")
    return _call("nats_server_operator", plan.operator_plan, variables, operator_jwt_read, system_account_jwt_read)


def nats_server_tls_sets(variables):
    return _call("nats_server_tls_sets", plan.tls_sets, variables)


def nats_server_watch_files(tls_sets):
    return _call("nats_server_watch_files", plan.watch_files, tls_sets)


def nats_server_config(variables, package_version="", operator=None, tls_checks=None, check_mode=False, binary_facts=None):
    role_vars = RoleVars(variables)
    # Only TLS settings depend on the version, so a run without TLS never asks the binary.
    version = (_installed_version(role_vars, package_version, binary_facts or {})
               if _call("nats_server_config", plan.tls_in_use, role_vars) else "")
    return _call("nats_server_config", plan.server_config, role_vars, version, operator, tls_checks, check_mode)


def _installed_version(role_vars, package_version, binary_facts):
    """The version the hosts run: the release asked for, the local binary's answer, or the package's.

    The local binary's comes from what tasks/binary.yml read once for the play;
    a run that skipped the install tasks (by tag) reads it here.
    """
    method = role_vars.str("nats_server_install_method")
    if method == "release":
        return role_vars.str("nats_server_version")
    if method == "local":
        binary = role_vars.str("nats_server_local_binary")
        facts = binary_facts if binary_facts.get("path") == binary else nats_server_binary_facts(binary)
        # Facts of nats_server_binary_facts, read for the play or here: they always hold a version.
        return facts["version"]
    return package_version or ""


def nats_server_folders(variables):
    return _call("nats_server_folders", plan.folders, variables)


def nats_server_binary_facts(path):
    """path, sha1 and version of a nats-server binary on the controller.

    tasks/binary.yml asks once for the play and keeps the answer as a fact;
    the cache spares a second read and `--version` call within one
    controller process (a binary replaced since is read again).
    """
    try:
        stat = os.stat(path)
    except (OSError, TypeError) as exc:
        raise AnsibleFilterError("nats_server_binary_facts: cannot read %r: %s" % (path, exc)) from None
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in _BINARY_FACTS:
        digest = hashlib.sha1()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        try:
            output = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT,
                                    check=False).stdout
        except (OSError, subprocess.SubprocessError):
            output = ""
        match = _VERSION_RE.search(output)
        _BINARY_FACTS[key] = {"path": path, "sha1": digest.hexdigest(), "version": match.group(0) if match else ""}
    return dict(_BINARY_FACTS[key])


def nats_server_local_address(address):
    return plan.local_address(address)


def nats_server_apply_state(config_result, binary_result=None, start_result=None, check_mode=False):
    return _call("nats_server_apply_state", plan.apply_state, config_result, binary_result, start_result, check_mode)


class FilterModule:
    """Decisions of the nats_server role."""

    def filters(self):
        return {
            "nats_server_run": nats_server_run,
            "nats_server_preflight": nats_server_preflight,
            "nats_server_warnings": nats_server_warnings,
            "nats_server_operator": nats_server_operator,
            "nats_server_tls_sets": nats_server_tls_sets,
            "nats_server_watch_files": nats_server_watch_files,
            "nats_server_config": nats_server_config,
            "nats_server_folders": nats_server_folders,
            "nats_server_binary_facts": nats_server_binary_facts,
            "nats_server_local_address": nats_server_local_address,
            "nats_server_apply_state": nats_server_apply_state,
        }
