#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nats_config
short_description: Render, validate and install a nats-server configuration and its systemd unit
version_added: 0.1.0
author: cmsgs.nats maintainers (!UNKNOWN)
description:
  - Renders a nats-server configuration file from a mapping, compares it with the file in place,
    checks the new text with C(nats-server -t) and only then replaces the live file atomically.
  - A configuration that nats-server rejects never replaces the running one; the task fails with
    nats-server's own message.
  - Tells whether the change can be applied with a reload (SIGHUP) or needs a restart, so handlers
    can choose.
  - Optionally installs the service's systemd unit in the same call; a changed unit needs a restart.
  - One module call per host on a run with nothing to change.
options:
  path:
    description: Where the configuration file lives on the host.
    type: path
    required: true
  config:
    description:
      - The configuration as data. Keys are nats-server settings; values are strings, numbers,
        booleans, lists or mappings. Keys are written in sorted order so the file is stable.
    type: dict
    required: true
  nats_server_binary:
    description:
      - The nats-server binary used to validate the rendered text (C(nats-server -t -c FILE)).
      - In check mode a missing binary (a host not yet installed) skips validation with a warning.
    type: path
    required: true
  owner:
    description: Owner of the file.
    type: str
    default: root
  group:
    description: Group of the file; the server's group, so the server can read it.
    type: str
    default: root
  mode:
    description: Mode of the file, as an octal string.
    type: str
    default: '0640'
  watch_files:
    description:
      - Files the server reads at start and on reload, such as certificates and keys. Their sha256
        digests are recorded in the configuration's header, so replacing one changes the file and
        the caller's handler reloads the server (a reload re-reads them).
      - A file that is absent is recorded as absent. Contents are never returned.
    type: list
    elements: path
    default: []
  unit_path:
    description:
      - Where the systemd unit lives, written root-owned with mode 0644. Requires O(unit_content).
    type: path
  unit_content:
    description: The full text of the systemd unit (rendered by the caller).
    type: str
attributes:
  check_mode:
    support: full
    description: Reports whether the file would change and validates the new text without writing it.
  diff_mode:
    support: full
    description: Returns the old and new text, with the values of secret settings masked.
requirements:
  - nats-server on the host (for validation)
notes:
  - Values of settings named C(password), C(token), C(nkey_seed), C(seed) or C(secret) are masked in
    diffs and messages.
"""

EXAMPLES = r"""
- name: Install the nats-server configuration
  cmsgs.nats.nats_config:
    path: /etc/nats-server/nats-server.conf
    config:
      server_name: nats-1
      listen: 0.0.0.0:4222
      http: 127.0.0.1:8222
    nats_server_binary: /usr/local/bin/nats-server
    owner: root
    group: cmsgs
    mode: '0640'
    unit_path: /etc/systemd/system/nats-server.service
    unit_content: "{{ lookup('ansible.builtin.template', 'nats-server.service.j2') }}"
    watch_files:
      - /srv/certs/cmserver/cert.pem
      - /srv/certs/cmserver/privkey.pem
  register: nats_config_result
  notify: Apply nats-server configuration

- name: Tell whether the change needs a restart
  ansible.builtin.debug:
    msg: "restart needed: {{ nats_config_result.restart_required }}"
"""

RETURN = r"""
path:
  description: The configuration file.
  returned: always
  type: str
  sample: /etc/nats-server/nats-server.conf
restart_required:
  description:
    - True when the change touches a setting nats-server cannot reload (listen ports, server name,
      cluster and gateway addresses, operator, system account, resolver, JetStream store folder), or
      when the old file was not written by this module, or when the systemd unit changed.
  returned: always
  type: bool
  sample: false
unit_changed:
  description: True when the systemd unit's text changed (systemd needs a daemon-reload).
  returned: always
  type: bool
  sample: false
unit_active:
  description:
    - Whether systemd reported the unit active before any restart this run triggers. Lets the caller
      skip a separate service call on runs with nothing to do.
  returned: when O(unit_path) is given
  type: bool
  sample: true
unit_enabled:
  description: Whether systemd reported the unit enabled.
  returned: when O(unit_path) is given
  type: bool
  sample: true
content_changed:
  description: True when the file's text changed (False when only owner, group or mode changed).
  returned: always
  type: bool
  sample: true
"""

import hashlib
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.cmsgs.nats.plugins.module_utils.nats_conf import (
    NatsConfError,
    fingerprint_of,
    redact,
    render,
    restart_fingerprint,
    secret_values,
)


class ValidationError(Exception):
    """nats-server refused the rendered configuration."""


def _read(path):
    try:
        with open(path, "rb") as handle:
            return to_text(handle.read(), errors="surrogate_or_strict")
    except FileNotFoundError:
        return None


def _validate(module, binary, path, text):
    """Run nats-server -t on ``text`` in a file beside ``path``; return that file's name.

    The file is written in the destination folder so the later rename is atomic
    and relative includes resolve as they will for the live file.
    """
    folder = os.path.dirname(path) or "."
    handle, candidate = tempfile.mkstemp(prefix=".nats-server.", suffix=".conf", dir=folder)
    with os.fdopen(handle, "wb") as out:
        out.write(to_bytes(text))
    rc, stdout, stderr = module.run_command([binary, "-t", "-c", candidate])
    if rc != 0:
        os.unlink(candidate)
        message = (stderr or stdout).strip().replace(candidate, path)
        raise ValidationError(
            "nats-server rejected the new configuration for %s; the live file was left as it is. "
            "nats-server said: %s" % (path, redact(message))
        )
    return candidate


def _install_unit(module, path, content):
    """Write the systemd unit when its text differs; return (changed, diff)."""
    old = _read(path)
    changed = old != content
    diff = {"before": old or "", "after": content, "before_header": path, "after_header": path}
    if changed and not module.check_mode:
        handle, candidate = tempfile.mkstemp(prefix=".unit.", dir=os.path.dirname(path))
        with os.fdopen(handle, "wb") as out:
            out.write(to_bytes(content))
        os.chmod(candidate, 0o644)
        os.rename(candidate, path)
    return changed, diff


def _unit_state(module, unit):
    """Whether systemd has the unit active and enabled (both false without systemd)."""
    systemctl = module.get_bin_path("systemctl")
    if systemctl is None:
        return {"unit_active": False, "unit_enabled": False}
    active = module.run_command([systemctl, "is-active", "--quiet", unit])[0] == 0
    enabled = module.run_command([systemctl, "is-enabled", "--quiet", unit])[0] == 0
    return {"unit_active": active, "unit_enabled": enabled}


def _install_config(module, path, text):
    """Validate and write the configuration when its text differs; return whether it did."""
    params = module.params
    if module.check_mode:
        if os.path.exists(params["nats_server_binary"]) and os.path.isdir(os.path.dirname(path)):
            os.unlink(_validate(module, params["nats_server_binary"], path, text))
        else:
            module.warn("%s is not installed yet; the configuration was not validated" % params["nats_server_binary"])
        return
    candidate = _validate(module, params["nats_server_binary"], path, text)
    file_args = module.load_file_common_arguments(
        {"path": candidate, "owner": params["owner"], "group": params["group"], "mode": params["mode"]}
    )
    module.set_fs_attributes_if_different(file_args, False)
    # A rename within one folder is atomic, and unlike atomic_move it keeps the
    # owner and mode just set: the file never exists with looser permissions.
    os.rename(candidate, path)


def _digests(paths):
    """sha256 of each watched file, read as root: the server reads them, we only hash them."""
    digests = {}
    for path in paths:
        try:
            with open(path, "rb") as handle:
                digests[path] = hashlib.sha256(handle.read()).hexdigest()
        except FileNotFoundError:
            digests[path] = "absent"
    return digests


def run(module):
    params = module.params
    path = params["path"]
    text = render(params["config"], watched=_digests(params["watch_files"]))
    old = _read(path)
    content_changed = old != text
    restart_required = content_changed and (old is None or fingerprint_of(old) != restart_fingerprint(params["config"]))
    diff = {"before": redact(old or ""), "after": redact(text), "before_header": path, "after_header": path}

    diffs = [diff]
    if content_changed:
        _install_config(module, path, text)
        attributes_changed = False
    else:
        file_args = module.load_file_common_arguments(
            {"path": path, "owner": params["owner"], "group": params["group"], "mode": params["mode"]}
        )
        attributes_diff = {"before": {"path": path}, "after": {"path": path}}
        attributes_changed = module.set_fs_attributes_if_different(file_args, False, diff=attributes_diff)
        diffs.append(attributes_diff)

    unit_changed = False
    unit_state = {}
    if params["unit_path"]:
        unit_changed, unit_diff = _install_unit(module, params["unit_path"], params["unit_content"])
        diffs.append(unit_diff)
        unit_state = _unit_state(module, os.path.basename(params["unit_path"]))

    result = {
        "path": path,
        "changed": content_changed or attributes_changed or unit_changed,
        "content_changed": content_changed,
        "unit_changed": unit_changed,
        "restart_required": restart_required or unit_changed,
    }
    result.update(unit_state)
    if module._diff:
        result["diff"] = diffs
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "config": {"type": "dict", "required": True},
            "nats_server_binary": {"type": "path", "required": True},
            "owner": {"type": "str", "default": "root"},
            "group": {"type": "str", "default": "root"},
            "mode": {"type": "str", "default": "0640"},
            "watch_files": {"type": "list", "elements": "path", "default": []},
            "unit_path": {"type": "path"},
            "unit_content": {"type": "str"},
        },
        required_together=[("unit_path", "unit_content")],
        supports_check_mode=True,
    )
    # Mask secret settings (passwords, tokens) wherever Ansible echoes values,
    # the module's own arguments included, without hiding the rest of the config.
    module.no_log_values.update(secret_values(module.params["config"]))
    try:
        module.exit_json(**run(module))
    except (NatsConfError, ValidationError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
