# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit files installed root-owned 0644 with a diff, and a unit's state as systemctl tells it."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import systemd_unit

UNIT = "[Unit]\nDescription=NATS server \u2013 east\n\n[Service]\nExecStart=/usr/local/bin/nats-server -c /etc/nats-server/nats.conf\n"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the unit is chowned to root:root, which needs root")


@needs_root
def test_a_new_unit_is_written_root_owned_0644_with_its_diff(tmp_path):
    # A setgid folder of another group would hand its group to a new file: the unit is still root's.
    os.chown(tmp_path, 0, 1)
    os.chmod(tmp_path, 0o2755)
    path = str(tmp_path / "nats-server.service")
    changed, diff = systemd_unit.install_unit(path, UNIT)
    assert changed is True
    assert diff == {"before": "", "after": UNIT, "before_header": path, "after_header": path}
    info = os.stat(path)
    assert stat.S_IMODE(info.st_mode) == 0o644 and (info.st_uid, info.st_gid) == (0, 0)
    assert systemd_unit.read_text(path) == UNIT


@needs_root
def test_an_unchanged_unit_is_left_alone_and_a_changed_one_shows_the_old_text(tmp_path):
    path = str(tmp_path / "nats-server.service")
    systemd_unit.install_unit(path, UNIT)
    os.chown(path, 1, 1)  # an owner change only: the text is the same, nothing to write
    assert systemd_unit.install_unit(path, UNIT) == (False, {"before": UNIT, "after": UNIT, "before_header": path,
                                                             "after_header": path})
    assert os.stat(path).st_uid == 1
    newer = UNIT.replace("east", "west")
    changed, diff = systemd_unit.install_unit(path, newer)
    assert changed is True and diff["before"] == UNIT and diff["after"] == newer
    assert (os.stat(path).st_uid, os.stat(path).st_gid) == (0, 0)


def test_check_mode_reports_the_change_and_writes_nothing(tmp_path):
    path = str(tmp_path / "nats-server.service")
    assert systemd_unit.install_unit(path, UNIT, check_mode=True)[0] is True
    assert not os.path.exists(path) and systemd_unit.read_text(path) is None


class Module:
    """What unit_state uses of AnsibleModule, running commands for real."""

    def __init__(self, bin_dir):
        self.bin_dir = bin_dir

    def get_bin_path(self, name):
        path = os.path.join(self.bin_dir, name)
        return path if os.access(path, os.X_OK) else None

    def run_command(self, args):
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr


def systemctl(tmp_path, active, enabled):
    """A systemctl that answers is-active/is-enabled --quiet for nats-server.service as systemd would."""
    script = tmp_path / "systemctl"
    script.write_text(
        "#!/bin/sh\n"
        'echo "$@" >> %s/calls\n'
        'case "$1 $2 $3" in\n'
        '  "is-active --quiet nats-server.service") exit %d ;;\n'
        '  "is-enabled --quiet nats-server.service") exit %d ;;\n'
        "esac\n"
        'echo "unexpected: $@"\n'
        "exit 4\n" % (tmp_path, 0 if active else 3, 0 if enabled else 1))
    script.chmod(0o755)
    return Module(str(tmp_path))


@pytest.mark.parametrize("active, enabled", [(True, False), (False, True), (True, True), (False, False)])
def test_unit_state_asks_systemctl_about_the_unit_by_name(tmp_path, active, enabled):
    module = systemctl(tmp_path, active, enabled)
    state = systemd_unit.unit_state(module, "/etc/systemd/system/nats-server.service")
    assert state == {"unit_active": active, "unit_enabled": enabled}
    assert (tmp_path / "calls").read_text().splitlines() == [
        "is-active --quiet nats-server.service", "is-enabled --quiet nats-server.service"]


def test_without_systemctl_the_unit_is_neither_active_nor_enabled(tmp_path):
    assert systemd_unit.unit_state(Module(str(tmp_path)), "nats-server.service") == {
        "unit_active": False, "unit_enabled": False}
