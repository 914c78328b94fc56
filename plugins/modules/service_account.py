#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: service_account
short_description: Ensure a service's system group and user, without a login shell, in one call
version_added: 0.1.0
author: cmsgs.nats maintainers (!UNKNOWN)
description:
  - Creates the system group and the system user a service runs as, with that group as its primary
    group, no login shell and no home folder created, using the host's C(groupadd), C(useradd) and
    C(usermod).
  - Existing accounts are kept (uid and gid never change); only the primary group, shell and home of
    the user are corrected.
  - Does in one module call what M(ansible.builtin.group) and M(ansible.builtin.user) do in two,
    which matters on re-runs where nothing changes.
  - Refuses, before changing anything, C(root) (or any user with uid 0) and an existing human account
    (a uid of at least C(UID_MIN) from C(/etc/login.defs), 1000 when it is not set, with a login shell);
    turning such an account into a service account would lock a person out or run a service as root.
  - Called C(cmsgs.nats.system_account) before 0.2.0; that name still works and is deprecated
    (in this collection a "system account" is the NATS C(SYS) account).
options:
  name:
    description: Name of the user.
    type: str
    required: true
  group:
    description: Name of the user's primary group; created as a system group when missing.
    type: str
    required: true
  home:
    description:
      - Home folder recorded for the user (not created).
      - When not given, an existing user keeps its home and a new one gets C(/nonexistent).
    type: path
  variable:
    description:
      - Name of the variable that holds O(name), for the message when the account is refused.
    type: str
    default: name
  shell:
    description: Login shell; the default refuses logins.
    type: path
    default: /usr/sbin/nologin
  folders:
    description:
      - Folders the service owns, made or corrected right after the account, as
        M(cmsgs.nats.volume_permissions) does in enforce mode; one call for both on a re-run.
      - They are checked first. When one cannot be made (a file or a symlink in its place, a missing
        parent), the task fails naming it and neither the account nor a folder changes.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the folder.
        type: str
        required: true
      state:
        description: V(directory); V(file) checks an existing file instead.
        type: str
        choices: [directory, file]
        default: directory
      owner:
        description: User name or numeric uid; the account of O(name) may be one the task creates.
        type: raw
      group:
        description: Group name or numeric gid; O(group) may be one the task creates.
        type: raw
      mode:
        description: Octal mode as a quoted string of 3 or 4 digits, for example V('0750').
        type: raw
      required:
        description: V(false) checks the path only when it exists and never creates it.
        type: bool
        default: true
attributes:
  check_mode:
    support: full
    description: Reports what would be created or corrected without changing the account databases.
  diff_mode:
    support: full
    description:
      - Returns the account's group, home and shell before and after, and with O(folders) a second
        diff with a line per folder (its path, owner, group and mode) before and after.
requirements:
  - groupadd, useradd and usermod (shadow-utils / passwd)
"""

EXAMPLES = r"""
- name: Create the account nats-server runs as
  cmsgs.nats.service_account:
    name: cmsgs
    group: cmsgs
    home: /var/lib/nats-server
    variable: nats_server_user

- name: Create the account and the folders it owns in one call
  cmsgs.nats.service_account:
    name: cmsgs
    group: cmsgs
    folders:
      - {path: /etc/nats-server, owner: root, group: cmsgs, mode: '0750'}
      - {path: /var/lib/nats-server, owner: cmsgs, group: cmsgs, mode: '0750'}
"""

RETURN = r"""
uid:
  description: The user's id (absent in check mode when the user would be created).
  returned: success
  type: int
  sample: 998
gid:
  description: The primary group's id (absent in check mode when the group would be created).
  returned: success
  type: int
  sample: 998
created:
  description: What was (or in check mode would be) created.
  returned: always
  type: list
  elements: str
  sample: [group, user]
folders:
  description:
    - With O(folders), what M(cmsgs.nats.volume_permissions) returns for them (C(deviations), C(created)
      and C(entries)).
  returned: when O(folders) is not empty
  type: dict
  sample: {"deviations": [], "created": ["/var/lib/nats-server"], "entries": []}
"""

import grp
import pwd
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmsgs.nats.plugins.module_utils.volume_layout import VolumeLayoutError, run_layout


def _lookup(database, name):
    try:
        return database(name)
    except KeyError:
        return None


def _describe(user, group_name):
    if user is None:
        return {}
    return {"group": group_name, "home": user.pw_dir, "shell": user.pw_shell}


# Shells that refuse a login; any other shell makes an account one a person can use.
NOLOGIN_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "")
DEFAULT_UID_MIN = 1000


def uid_min(path="/etc/login.defs"):
    """The first uid of human accounts on this host (UID_MIN of login.defs)."""
    try:
        # A byte that is not UTF-8 (a Latin-1 comment) must not hide UID_MIN or fail the task.
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                match = re.match(r"^\s*UID_MIN\s+([0-9]+)\s*$", line)
                if match:
                    return int(match.group(1))
    except OSError:
        pass
    return DEFAULT_UID_MIN


def refusal(name, user, variable, first_human_uid):
    """Why this account must not become a service account, or None."""
    if name == "root" or (user is not None and user.pw_uid == 0):
        return ("%s is '%s': a service never runs as root. Set it to a dedicated system account such as cmsgs."
                % (variable, name))
    if user is not None and user.pw_uid >= first_human_uid and user.pw_shell not in NOLOGIN_SHELLS:
        return ("%s is '%s', an existing login account (uid %d, shell %s): making it a service account would take "
                "its shell away. Set it to a dedicated system account such as cmsgs."
                % (variable, name, user.pw_uid, user.pw_shell))
    return None


def _run(module, argv):
    rc, _out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg="%s failed (rc %d): %s" % (" ".join(argv), rc, err.strip()))


def _folders(module, folders, check_mode, names, warn=True):
    """The folders' volume_permissions result, or a failure naming the one that cannot be made.

    ``names`` are the account's user and group, which a check-mode run (or
    the check before the account exists) may not find yet: no warning for them.
    """
    try:
        result = run_layout(None, folders, check_mode=check_mode, want_diff=module._diff)
    except VolumeLayoutError as exc:
        module.fail_json(msg="%s; the account was left as it was" % exc, **exc.details)
    for name in result.pop("unresolved"):
        if warn and name not in names:
            module.warn("%s does not exist yet; assuming an earlier task of this run creates it" % name)
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
            "home": {"type": "path"},
            "shell": {"type": "path", "default": "/usr/sbin/nologin"},
            "variable": {"type": "str", "default": "name"},
            "folders": {"type": "list", "elements": "dict", "default": [], "options": {
                "path": {"type": "str", "required": True},
                "state": {"type": "str", "choices": ["directory", "file"], "default": "directory"},
                "owner": {"type": "raw"},
                "group": {"type": "raw"},
                "mode": {"type": "raw"},
                "required": {"type": "bool", "default": True},
            }},
        },
        supports_check_mode=True,
    )
    folders = module.params["folders"]
    names = (module.params["name"], module.params["group"])
    # Every folder must be possible before the account changes. In check mode
    # this look is the result; otherwise its warnings would be said again.
    checked = _folders(module, folders, True, names, warn=module.check_mode) if folders else None
    name, group_name = module.params["name"], module.params["group"]
    group = _lookup(grp.getgrnam, group_name)
    user = _lookup(pwd.getpwnam, name)
    refused = refusal(name, user, module.params["variable"], uid_min())
    if refused:
        module.fail_json(msg=refused)
    home = module.params["home"] or (user.pw_dir if user else "/nonexistent")
    wanted = {"group": group_name, "home": home, "shell": module.params["shell"]}
    current_group = _lookup(grp.getgrgid, user.pw_gid) if user else None
    # A gid without a group entry reads "gid N": never a group name, so the user is moved into the wanted group
    # even when that group is named "N".
    before = _describe(user, current_group.gr_name if current_group else "gid %d" % user.pw_gid if user else None)

    created = []
    if group is None:
        created.append("group")
        if not module.check_mode:
            _run(module, ["groupadd", "--system", group_name])
    if user is None:
        created.append("user")
        if not module.check_mode:
            _run(module, ["useradd", "--system", "--gid", group_name, "--home-dir", wanted["home"],
                          "--no-create-home", "--shell", wanted["shell"], name])
    elif before != wanted and not module.check_mode:
        _run(module, ["usermod", "--gid", group_name, "--home", wanted["home"], "--shell", wanted["shell"], name])

    changed = bool(created) or before != wanted
    result = {"changed": changed, "created": created}
    if module._diff:
        result["diff"] = {"before": before, "after": wanted, "before_header": name, "after_header": name}
    if folders:
        layout = checked if module.check_mode else _folders(module, folders, False, names)
        result["changed"] = changed or layout.pop("changed")
        if module._diff:
            result["diff"] = [result["diff"], layout.pop("diff")]
        result["folders"] = layout
    user = _lookup(pwd.getpwnam, name)
    if user:
        result["uid"] = user.pw_uid
        result["gid"] = user.pw_gid
    module.exit_json(**result)


if __name__ == "__main__":
    main()
