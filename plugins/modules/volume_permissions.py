#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: volume_permissions
short_description: Set or audit owner, group and mode of a whole volume layout in one call
version_added: 0.1.0
author: cmsgs.nats maintainers (!UNKNOWN)
description:
  - Checks the owner, group and mode of every listed path of a shared volume, such as the
    C([ncred]) credentials volume or the C([certs]) volume, and either fixes them
    (O(mode=enforce)) or reports every deviation and fails (O(mode=audit)).
  - In enforce mode, missing directories are created with their owner, group and mode, parents first.
    Files are never created, because their content does not come from this module; a missing
    required file is an error.
  - Only inode metadata is read; file contents (keys, credentials) are never opened for reading.
  - A symlink at a listed path is refused unless O(follow=true), because it could redirect a
    chown or chmod to a file outside the volume. Symlinks in the parents of listed paths are followed.
  - Changes are made through a descriptor opened on the inode that was inspected, so swapping a
    path for a symlink between the check and the change does not redirect the change.
requirements:
  - "A POSIX host. Changing owners needs root (V(become=true))."
attributes:
  check_mode:
    support: full
    description:
      - Reports the deviations and what would be created, and changes nothing on disk.
      - Owners and groups that do not exist yet are assumed to be created by an earlier task of the run
        (a warning says so); outside check mode they are an error.
  diff_mode:
    support: full
    description: >-
      In enforce mode, returns before and after text with one C(path: owner:group mode) line per
      listed path (C(path: absent) for a missing one).
options:
  root:
    description:
      - Base folder of the volume. Relative entry paths are taken relative to it, and no entry may
        point outside it.
      - Without O(root) every entry path must be absolute.
    type: path
  entries:
    description:
      - The paths to check, in any order; they are handled parents first.
      - O(entries[].owner), O(entries[].group) and O(entries[].mode) left out are not checked.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Path of the file or directory, relative to O(root) or absolute. V(.) means O(root) itself.
        type: str
        required: true
      state:
        description:
          - V(directory) is created when missing (enforce mode); V(file) must already exist.
        type: str
        choices: [directory, file]
        default: file
      owner:
        description:
          - User name or numeric uid. A name that does not exist on the host is an error.
        type: raw
      group:
        description:
          - Group name or numeric gid. A name that does not exist on the host is an error.
        type: raw
      mode:
        description:
          - Octal mode as a quoted string of 3 or 4 digits, for example V('0640').
          - Integers are refused, because unquoted YAML V(0640) arrives as the number 416.
        type: raw
      required:
        description:
          - V(true) makes a missing path a deviation (and a missing directory gets created in enforce mode).
          - V(false) checks the path only when it exists and never creates it.
        type: bool
        default: true
  mode:
    description:
      - V(enforce) creates missing directories and fixes owner, group and mode of existing paths.
      - >-
        V(audit) changes nothing and fails when at least one path deviates, listing each deviation
        as a C(path: mode 0644, want 0640) line.
    type: str
    choices: [enforce, audit]
    default: enforce
  follow:
    description:
      - Follow a symlink found at a listed path and manage its target instead of refusing it.
    type: bool
    default: false
notes:
  - Before changing anything, enforce mode checks the whole layout; a missing required file, a path of
    the wrong type, a symlink or a missing unlisted parent folder fails the task with nothing changed.
"""

EXAMPLES = r"""
- name: Set the permissions of the ncred volume
  cmsgs.nats.volume_permissions:
    root: /srv/volumes/ncred
    entries:
      - {path: ., state: directory, owner: cmaccount, group: root, mode: '0750'}
      - {path: creds, state: directory, owner: cmaccount, group: root, mode: '0750'}
      - {path: REGION1.jwt, owner: root, group: cmsgs, mode: '0640'}
      - {path: SYS.jwt, owner: cmaccount, group: root, mode: '0640'}
      - {path: creds/sys.creds, owner: cmaccount, group: root, mode: '0600'}
  become: true

- name: Audit the server certificates without changing them
  cmsgs.nats.volume_permissions:
    root: /srv/volumes/certs
    mode: audit
    entries:
      - {path: cmserver/cert.pem, owner: root, group: nats, mode: '0644'}
      - {path: cmserver/privkey.pem, owner: root, group: nats, mode: '0640'}
      - {path: cmserver/ca.pem, owner: root, group: nats, mode: '0644', required: false}
  become: true

- name: Create the server's config and data folders in one call
  cmsgs.nats.volume_permissions:
    entries:
      - {path: /etc/nats, state: directory, owner: root, group: nats, mode: '0750'}
      - {path: /var/lib/nats, state: directory, owner: nats, group: nats, mode: '0750'}
      - {path: /var/lib/nats/jetstream, state: directory, owner: nats, group: nats, mode: '0700'}
  become: true
"""

RETURN = r"""
deviations:
  description:
    - Every difference found before any change. O(mode=audit) also returns it when it fails.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path of the entry.
      type: str
    field:
      description: What differs.
      type: str
      choices: [exists, state, owner, group, mode]
    current:
      description: The value on disk (V(absent) for a missing path, a name or number for owners and groups).
      type: str
    wanted:
      description: The value the entry asks for.
      type: str
  sample:
    - {path: /srv/volumes/ncred/SYS.jwt, field: mode, current: '0644', wanted: '0640'}
    - {path: /srv/volumes/ncred/creds, field: exists, current: absent, wanted: directory}
created:
  description: Directories created (in check mode, those that would be), parents first.
  returned: always
  type: list
  elements: str
  sample: [/srv/volumes/ncred/creds]
entries:
  description:
    - State of each listed path after the run (in check mode, the predicted state), parents first.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path of the entry.
      type: str
    exists:
      description: Whether the path exists.
      type: bool
    state:
      description: V(file), V(directory), or another file type found there; null when absent.
      type: str
    owner:
      description: Owner name, or the uid when it has no name; null when absent.
      type: str
    group:
      description: Group name, or the gid when it has no name; null when absent.
      type: str
    mode:
      description: Four-digit octal mode; null when absent.
      type: str
  sample:
    - {path: /srv/volumes/ncred/SYS.jwt, exists: true, state: file, owner: cmaccount, group: root, mode: '0640'}
    - {path: /srv/volumes/ncred/REGION1.jwt, exists: false, state: null, owner: null, group: null, mode: null}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmsgs.nats.plugins.module_utils.volume_layout import (
    VolumeLayoutError,
    run_layout,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type='path'),
            entries=dict(type='list', elements='dict', required=True, options=dict(
                path=dict(type='str', required=True),
                state=dict(type='str', choices=['directory', 'file'], default='file'),
                owner=dict(type='raw'),
                group=dict(type='raw'),
                mode=dict(type='raw'),
                required=dict(type='bool', default=True),
            )),
            mode=dict(type='str', choices=['enforce', 'audit'], default='enforce'),
            follow=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    try:
        result = run_layout(
            module.params['root'], module.params['entries'], mode=module.params['mode'],
            follow=module.params['follow'], check_mode=module.check_mode, want_diff=module._diff)
    except VolumeLayoutError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    for name in result.pop('unresolved'):
        module.warn('%s does not exist yet; assuming an earlier task of this run creates it' % name)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
