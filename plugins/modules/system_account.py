#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: system_account
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
    description: Home folder recorded for the user (not created).
    type: path
    default: /nonexistent
  shell:
    description: Login shell; the default refuses logins.
    type: path
    default: /usr/sbin/nologin
attributes:
  check_mode:
    support: full
    description: Reports what would be created or corrected without changing the account databases.
  diff_mode:
    support: full
    description: Returns the account's group, home and shell before and after.
requirements:
  - groupadd, useradd and usermod (shadow-utils / passwd)
"""

EXAMPLES = r"""
- name: Create the account nats-server runs as
  cmsgs.nats.system_account:
    name: cmsgs
    group: cmsgs
    home: /var/lib/nats-server
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
"""

import grp
import pwd

from ansible.module_utils.basic import AnsibleModule


def _lookup(database, name):
    try:
        return database(name)
    except KeyError:
        return None


def _describe(user, group_name):
    if user is None:
        return {}
    return {"group": group_name, "home": user.pw_dir, "shell": user.pw_shell}


def _run(module, argv):
    rc, _out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg="%s failed (rc %d): %s" % (" ".join(argv), rc, err.strip()))


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
            "home": {"type": "path", "default": "/nonexistent"},
            "shell": {"type": "path", "default": "/usr/sbin/nologin"},
        },
        supports_check_mode=True,
    )
    name, group_name = module.params["name"], module.params["group"]
    wanted = {"group": group_name, "home": module.params["home"], "shell": module.params["shell"]}

    group = _lookup(grp.getgrnam, group_name)
    user = _lookup(pwd.getpwnam, name)
    current_group = _lookup(grp.getgrgid, user.pw_gid) if user else None
    before = _describe(user, current_group.gr_name if current_group else str(user.pw_gid) if user else None)

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
    user = _lookup(pwd.getpwnam, name)
    if user:
        result["uid"] = user.pw_uid
        result["gid"] = user.pw_gid
    module.exit_json(**result)


if __name__ == "__main__":
    main()
