# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules need from systemd: install a unit file, ask a unit's state.

One place for it, so every service the collection runs is installed and
queried the same way (root-owned 0644 unit, written atomically).
"""

from __future__ import annotations

import os

from ansible_collections.cmsgs.nats.plugins.module_utils.atomic_file import write_atomic

UNIT_MODE = 0o644


def read_text(path):
    """A file's text, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8")
    except FileNotFoundError:
        return None


def install_unit(path, content, check_mode=False):
    """Write the unit when its text differs; return (changed, diff).

    systemd needs a daemon-reload after a change; the caller's restart does it.
    """
    old = read_text(path)
    changed = old != content
    if changed and not check_mode:
        write_atomic(path, content, UNIT_MODE, 0, 0)
    return changed, {"before": old or "", "after": content, "before_header": path, "after_header": path}


def unit_state(module, unit):
    """Whether systemd has the unit active and enabled (both false without systemd)."""
    systemctl = module.get_bin_path("systemctl")
    if systemctl is None:
        return {"unit_active": False, "unit_enabled": False}
    name = os.path.basename(unit)
    active = module.run_command([systemctl, "is-active", "--quiet", name])[0] == 0
    enabled = module.run_command([systemctl, "is-enabled", "--quiet", name])[0] == 0
    return {"unit_active": active, "unit_enabled": enabled}
