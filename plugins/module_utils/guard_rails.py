# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inputs that would damage a host, refused by every role's preflight.

A service folder is chowned and chmodded to the service (volume_permissions):
pointed at /etc or /var/lib it would lock the host's own programs out. A
service running as root undoes the unit's hardening. Subfolders such as
/var/lib/nats-server are what these variables are for and are accepted.
"""

from __future__ import annotations

import posixpath

SYSTEM_FOLDERS = frozenset((
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt",
    "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/include",
    "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/local", "/usr/local/bin", "/usr/local/etc", "/usr/local/lib",
    "/usr/local/sbin", "/usr/local/share", "/usr/sbin", "/usr/share", "/usr/src", "/var", "/var/backups",
    "/var/cache", "/var/lib", "/var/local", "/var/lock", "/var/log", "/var/mail", "/var/opt", "/var/run",
    "/var/spool", "/var/tmp", "/etc/systemd", "/etc/systemd/system",
))


def is_system_folder(path):
    """True for a system folder itself (also spelled with a trailing or doubled slash), not its subfolders."""
    if not isinstance(path, str) or not path.startswith("/"):
        return False
    normal = posixpath.normpath(path)
    # normpath keeps a leading '//' (POSIX allows it a meaning); it is still the root here.
    return ("/" + normal.lstrip("/")) in SYSTEM_FOLDERS


def system_folder_problems(v, names):
    """One problem per variable of names (read from v) that holds a system folder."""
    return [
        "%s ('%s') is a system folder; the role would hand it to the service. Use a folder of its own, such as "
        "%s/nats-server." % (name, v.str(name), posixpath.normpath(v.str(name)).rstrip("/"))
        for name in names
        if is_system_folder(v.str(name))
    ]


def root_user_problems(v, names):
    """One problem per variable of names that names root as a service's user."""
    return [
        "%s is 'root': a service never runs as root. Set it to a dedicated system account such as cmsgs." % name
        for name in names
        if v.str(name).strip() in ("root", "0")
    ]
