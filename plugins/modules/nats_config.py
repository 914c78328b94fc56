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
  binary_candidate:
    description:
      - A new nats-server binary, copied beside the live one. The configuration (the new text, or the
        file in place when its text is unchanged) is checked with it first; only then does it replace
        O(nats_server_binary), in one rename. A binary that rejects the configuration is left where
        it is and the live one keeps running. A path that does not exist means no new binary.
    type: path
  binary_source:
    description:
      - A nats-server binary on the controller that the host should run, read by the action. When
        the host's O(nats_server_binary) has another checksum, the action copies this file to the
        host as O(binary_candidate) and the task goes on as with a candidate. When it has the same,
        nothing is copied and the re-run makes one module call for binary, configuration and unit.
      - The live binary's owner and mode are set to root and C(0755) in place, without a restart.
      - In check mode nothing is copied; a different binary is reported in RV(binary_changed).
    type: path
  binary_sha1:
    description:
      - The sha1 of O(binary_source), when the play already knows it; the action reads it otherwise.
    type: str
  binary_upload:
    description:
      - Set by the action, not by a task. The copy of O(binary_source) on the host, installed as
        O(binary_candidate) (root, C(0755)) in one rename.
    type: path
  validate_as:
    description:
      - The service user, who runs C(nats-server -t) (through C(setpriv)) so the check reads the
        configuration, certificates and keys with the server's rights. A key only root can read
        then fails the check instead of the next start.
      - In check mode a user that does not exist yet is replaced by the current one, with a warning.
    type: str
  monitor_url:
    description:
      - Base URL of the running server's monitoring port. When given and the server runs, its
        C(/varz) version and configuration digest are compared with the binary and the file in
        place before anything is replaced; a difference (left by a run that failed before its
        restart) is reported in RV(drift) and asks for a restart.
    type: str
  owner:
    description: Owner of the file.
    type: str
    default: root
  group:
    description: Group of the file; the server's group, so the server can read it.
    type: str
    default: root
  mode:
    description: Mode of the file, as a quoted octal string.
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
  - Secrets stay in the configuration file. Values of settings named C(password), C(pass), C(token),
    C(auth_token), C(nkey_seed), C(seed), C(secret), the JetStream encryption keys (C(key), C(ek),
    C(encryption_key) and their C(prev_) forms), in any letter case and at any depth, credentials
    inside URLs and nkey seeds anywhere are masked in the diff, the result, error messages and the
    invocation line the module logs to the host's journal.
  - nats-server -t accepts a C(max_payload) above C(max_pending) (64 MiB unless set), which the
    server then refuses to start with; the module refuses it first.
  - With a url resolver (C(resolver) set to C(URL(...))), nats-server fetches that URL at every start
    and exits unless it answers 200, which nats-server -t does not try. Before it installs anything,
    or when the server is not running, the module makes the same request from the host (the
    C(resolver_tls) files, 1.9 seconds) and fails without changing anything when it does not get 200.
    In check mode that is a warning, since a check run of a new stack comes before the account server is up.
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
      when the old file was not written by this module, when the systemd unit or the binary changed,
      or when the running server does not run what was on disk (RV(drift)).
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
binary_changed:
  description:
    - True when O(binary_candidate) replaced the binary (a restart is needed); in check mode, when
      the host's binary differs from O(binary_source).
  returned: always
  type: bool
  sample: false
binary_needed:
  description:
    - True when the host's binary differs from O(binary_source) and no copy was given yet; nothing
      was changed, and the action copies the binary and calls the module again.
  returned: when O(binary_source) is given
  type: bool
  sample: false
drift:
  description:
    - What the running server runs differently from the binary and the file in place before this
      run, one sentence each; empty when it matches, when it is not running or without O(monitor_url).
  returned: always
  type: list
  elements: str
  sample: []
previous_path:
  description: The configuration this run replaced (or an earlier run), kept for a rollback; null if none.
  returned: always
  type: str
  sample: /etc/nats-server/nats-server.conf.previous
content_changed:
  description: True when the file's text changed (False when only owner, group or mode changed).
  returned: always
  type: bool
  sample: true
"""

import hashlib
import os
import pwd
import grp

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.cmsgs.nats.plugins.module_utils import atomic_file
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_conf import (
    NatsConfError,
    check,
    fingerprint_of,
    jwt_values,
    redact,
    render,
    restart_fingerprint,
    secret_values,
)
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_runtime import (
    RuntimeCheckError,
    check_file,
    inspect,
    resolver_problem,
)
from ansible_collections.cmsgs.nats.plugins.module_utils.systemd_unit import install_unit, read_text, unit_state


class ValidationError(Exception):
    """nats-server refused the rendered configuration."""


def _read(path):
    try:
        with open(path, "rb") as handle:
            return to_text(handle.read(), errors="surrogate_or_strict")
    except FileNotFoundError:
        return None


def _ids(owner, group):
    try:
        return pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid
    except KeyError:
        raise ValidationError("owner %s or group %s does not exist on the host" % (owner, group)) from None


def _user_exists(user):
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False


def _validate(module, binary, path, text, secrets):
    """Write ``text`` beside ``path`` with the live file's owner and mode and check it.

    The candidate lives in the destination folder, so the later rename is
    atomic and relative includes resolve as they will for the live file. It is
    checked by the server's own user (O(validate_as)): a key that user cannot
    read fails here instead of at the next start. Returns the candidate's name.
    """
    params = module.params
    try:
        uid, gid = _ids(params["owner"], params["group"])
    except ValidationError:
        if not module.check_mode:
            raise
        # Check mode on a fresh host: the server's group is made by an earlier task.
        uid, gid = -1, -1
    candidate = atomic_file.write_temp(path, text, int(params["mode"], 8), uid, gid, prefix=".nats-server.")
    user = params["validate_as"]
    if user and module.check_mode and not _user_exists(user):
        module.warn("user %s does not exist yet; the configuration was checked as %s" % (user, pwd.getpwuid(os.geteuid()).pw_name))
        user = None
    try:
        rc, message, _digest = check_file(module, binary, candidate, user)
    except RuntimeCheckError as exc:
        atomic_file.discard(candidate)
        raise ValidationError(str(exc)) from None
    if rc != 0:
        atomic_file.discard(candidate)
        raise ValidationError(
            "nats-server rejected the new configuration for %s%s; the live file was left as it is. "
            "nats-server said: %s" % (path, " (checked as user %s)" % user if user else "",
                                      redact(message.replace(candidate, path), secrets))
        )
    return candidate


def _keep_previous(path, old):
    """Keep the configuration being replaced as <path>.previous, for a rollback.

    Byte for byte: ``old`` came from :func:`_read`, whose surrogates stand for
    the bytes of a file that is not UTF-8 (one edited in Latin-1, say).
    """
    st = os.stat(path)
    atomic_file.write_atomic(path + ".previous", to_bytes(old, errors="surrogate_or_strict"), st.st_mode & 0o7777, st.st_uid, st.st_gid)
    return path + ".previous"


def _install_config(module, path, text, old, binary, secrets):
    """Validate and write the configuration; return the path of the kept previous file."""
    if module.check_mode:
        if os.path.exists(binary) and os.path.isdir(os.path.dirname(path)):
            atomic_file.discard(_validate(module, binary, path, text, secrets))
        else:
            module.warn("%s is not installed yet; the configuration was not validated" % binary)
        return None
    candidate = _validate(module, binary, path, text, secrets)
    try:
        previous = _keep_previous(path, old) if old is not None else None
    except OSError as exc:
        atomic_file.discard(candidate)
        raise ValidationError(
            "could not keep the configuration being replaced as %s.previous (%s); the live file %s was left as it is"
            % (path, exc.strerror or exc, path)) from None
    atomic_file.commit(candidate, path)
    return previous


def _check_binary_candidate(module, path, binary, secrets):
    """A new binary must accept the configuration in place before it replaces the old one."""
    rc, message, _digest = check_file(module, binary, path, module.params["validate_as"])
    if rc != 0:
        raise ValidationError(
            "the new nats-server binary %s rejects the configuration %s, so it did not replace %s: %s"
            % (binary, path, module.params["nats_server_binary"], redact(message, secrets)))


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


def _drift(module, path, binary, active):
    """Differences between the running server and the files in place before this run.

    A run that failed after writing a file or a binary leaves the server on
    the old one; the next run restarts it even though nothing is new.
    """
    params = module.params
    if not (params["monitor_url"] and active and os.path.exists(path) and os.path.exists(binary)):
        return []
    user = params["validate_as"] if params["validate_as"] and _user_exists(params["validate_as"]) else None
    try:
        state = inspect(module, binary, path, params["monitor_url"], user)
    except RuntimeCheckError as exc:
        module.warn("could not compare the running server with %s: %s" % (path, exc))
        return []
    if not state["running"]:
        return []
    return state["differences"]


def _live_binary(module, binary, wanted_sha1):
    """Whether the live binary is the wanted one; its owner and mode are set to root and 0755 if so."""
    if not os.path.isfile(binary) or module.sha1(binary) != wanted_sha1:
        return False, False
    file_args = module.load_file_common_arguments({"path": binary, "owner": "root", "group": "root", "mode": "0755"})
    return True, module.set_fs_attributes_if_different(file_args, False)


def _install_upload(upload, candidate):
    """The binary the action copied to the host, made the candidate (root, 0755) in one rename."""
    if not candidate:
        raise NatsConfError("binary_upload needs binary_candidate, the path the new binary waits at")
    with open(upload, "rb") as handle:
        atomic_file.write_atomic(candidate, handle.read(), 0o755, 0, 0)


def run(module, secrets):
    params = module.params
    path = params["path"]
    binary = params["nats_server_binary"]
    check(params["config"])
    binary_predicted = binary_attributes_changed = False
    candidate_binary = params["binary_candidate"] if params["binary_candidate"] and os.path.exists(params["binary_candidate"]) else None
    if params["binary_upload"]:
        if not module.check_mode:
            _install_upload(params["binary_upload"], params["binary_candidate"])
            candidate_binary = params["binary_candidate"]
    elif params["binary_source"]:
        if not params["binary_sha1"]:
            raise NatsConfError("binary_source needs binary_sha1 (the action reads it on the controller)")
        current, binary_attributes_changed = _live_binary(module, binary, params["binary_sha1"])
        if not current and not module.check_mode:
            # Nothing changes before the new binary is on the host: the action copies it and asks again.
            return {"path": path, "changed": False, "binary_needed": True}
        binary_predicted = not current
        if current and candidate_binary:
            # Left by a run whose new binary rejected the configuration, and no longer asked for.
            if not module.check_mode:
                atomic_file.discard(candidate_binary)
            candidate_binary = None
    text = render(params["config"], watched=_digests(params["watch_files"]))
    old = _read(path)
    content_changed = old != text
    restart_required = content_changed and (old is None or fingerprint_of(old) != restart_fingerprint(params["config"]))
    diff = {"before": redact(old or "", secrets), "after": redact(text, secrets), "before_header": path, "after_header": path}

    unit_changed = False
    unit_status = {}
    diffs = [diff]
    if params["unit_path"]:
        unit_status = unit_state(module, params["unit_path"])
    # Compared before anything is replaced: the server should run the old files.
    drift = _drift(module, path, binary, unit_status.get("unit_active", bool(params["monitor_url"]) and not params["unit_path"]))

    starts = (content_changed or binary_predicted or bool(candidate_binary) or bool(drift)
              or (params["unit_path"] and (not unit_status["unit_active"]
                                           or read_text(params["unit_path"]) != params["unit_content"])))
    problem = resolver_problem(params["config"]) if starts else None
    if problem and module.check_mode:
        # A check run of a new stack comes before the account server it would start.
        module.warn("%s. A run stops here unless the account server answers by then." % problem)
    elif problem:
        # Whatever this run installs, the server is started or reloaded with it.
        raise ValidationError("%s. The configuration, the unit and the binary were left as they are." % problem)

    previous = None
    if content_changed:
        previous = _install_config(module, path, text, old, candidate_binary or binary, secrets)
        attributes_changed = False
    else:
        if candidate_binary:
            _check_binary_candidate(module, path, candidate_binary, secrets)
        file_args = module.load_file_common_arguments(
            {"path": path, "owner": params["owner"], "group": params["group"], "mode": params["mode"]}
        )
        attributes_diff = {"before": {"path": path}, "after": {"path": path}}
        attributes_changed = module.set_fs_attributes_if_different(file_args, False, diff=attributes_diff)
        diffs.append(attributes_diff)

    binary_changed = binary_predicted
    if candidate_binary:
        binary_changed = True
        if not module.check_mode:
            atomic_file.commit(candidate_binary, binary)

    if params["unit_path"]:
        unit_changed, unit_diff = install_unit(params["unit_path"], params["unit_content"], module.check_mode)
        diffs.append(unit_diff)

    for difference in drift:
        module.warn("nats-server does not run what is on disk (%s); it will be restarted" % difference)

    result = {
        "path": path,
        "changed": content_changed or attributes_changed or unit_changed or binary_changed or binary_attributes_changed or bool(drift),
        "content_changed": content_changed,
        "unit_changed": unit_changed,
        "binary_changed": binary_changed,
        "drift": drift,
        "previous_path": previous or (path + ".previous" if os.path.exists(path + ".previous") else None),
        "restart_required": restart_required or unit_changed or binary_changed or bool(drift),
    }
    result.update(unit_status)
    if params["binary_source"]:
        result["binary_needed"] = False
    if module._diff:
        result["diff"] = diffs
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "config": {"type": "dict", "required": True},
            "nats_server_binary": {"type": "path", "required": True},
            "binary_candidate": {"type": "path"},
            "binary_source": {"type": "path"},
            "binary_sha1": {"type": "str"},
            "binary_upload": {"type": "path"},
            "validate_as": {"type": "str"},
            "monitor_url": {"type": "str"},
            "owner": {"type": "str", "default": "root"},
            "group": {"type": "str", "default": "root"},
            "mode": {"type": "str", "default": "0640"},
            "watch_files": {"type": "list", "elements": "path", "default": []},
            "unit_path": {"type": "path"},
            "unit_content": {"type": "str"},
        },
        required_together=[("unit_path", "unit_content")],
        supports_check_mode=True,
        # The invocation is logged below, once the secrets in the config are
        # known: AnsibleModule would otherwise send them to the journal.
        no_log=True,
    )
    # Mask secret settings (passwords, tokens, keys, credentials in URLs)
    # wherever Ansible echoes values, the module's own arguments included,
    # without hiding the rest of the configuration.
    secrets = secret_values(module.params["config"]) | jwt_values(module.params["config"])
    # The invocation line shows the config as a Python repr, which doubles
    # backslashes and may escape quotes: mask those spellings too.
    module.no_log_values.update(secrets | {repr(value)[1:-1] for value in secrets})
    module.no_log = False
    module._log_invocation()
    try:
        if not isinstance(module.params["mode"], str) or len(module.params["mode"].strip()) not in (3, 4) \
                or any(c not in "01234567" for c in module.params["mode"].strip()):
            raise NatsConfError("mode must be a quoted octal string such as '0640', got %r" % module.params["mode"])
        module.exit_json(**run(module, secrets))
    except (NatsConfError, ValidationError, RuntimeCheckError) as exc:
        module.fail_json(msg=redact(str(exc), secrets))


if __name__ == "__main__":
    main()
