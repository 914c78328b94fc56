# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files replaced in one step: a new inode renamed over the old name, created with its final mode and
owner, no temporary file left behind whatever fails."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import atomic_file

TEXT = "listen: 0.0.0.0:4222\n# \u00e9t\u00e9\n"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another owner needs root")


def test_a_new_file_gets_its_mode_and_utf8_text_and_no_temporary_file_stays(tmp_path):
    path = tmp_path / "nats.conf"
    atomic_file.write_atomic(str(path), TEXT, 0o640)
    assert path.read_bytes() == TEXT.encode("utf-8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["nats.conf"]


def test_bytes_are_written_as_they_are(tmp_path):
    path = tmp_path / "nats-server"
    atomic_file.write_atomic(str(path), b"\x7fELF\x00\xff", 0o755)
    assert path.read_bytes() == b"\x7fELF\x00\xff" and stat.S_IMODE(path.stat().st_mode) == 0o755


def test_the_old_file_is_replaced_by_a_new_inode_not_rewritten(tmp_path):
    path = tmp_path / "nats.conf"
    path.write_text("old\n")
    reader = tmp_path / "held-open-by-the-server"
    os.link(path, reader)
    atomic_file.write_atomic(str(path), TEXT, 0o640)
    # Whoever holds the old inode still reads the whole old text, never a half-written new one.
    assert reader.read_text() == "old\n" and path.read_text(encoding="utf-8") == TEXT
    assert path.stat().st_ino != reader.stat().st_ino


@needs_root
def test_owner_and_group_are_set_and_minus_one_keeps_the_callers(tmp_path):
    owned = tmp_path / "owned"
    atomic_file.write_atomic(str(owned), TEXT, 0o600, 1, 2)
    assert (owned.stat().st_uid, owned.stat().st_gid) == (1, 2)
    group_only = tmp_path / "group-only"
    atomic_file.write_atomic(str(group_only), TEXT, 0o640, -1, 2)
    assert (group_only.stat().st_uid, group_only.stat().st_gid) == (os.geteuid(), 2)
    user_only = tmp_path / "user-only"
    atomic_file.write_atomic(str(user_only), TEXT, 0o640, 1)
    assert (user_only.stat().st_uid, user_only.stat().st_gid) == (1, os.getegid())


def test_a_temporary_file_sits_beside_the_target_until_committed(tmp_path):
    path = tmp_path / "nats.conf"
    temp = atomic_file.write_temp(str(path), TEXT, 0o640, prefix=".nats-server.")
    assert os.path.dirname(temp) == str(tmp_path) and os.path.basename(temp).startswith(".nats-server.")
    assert stat.S_IMODE(os.stat(temp).st_mode) == 0o640 and not path.exists()
    atomic_file.commit(temp, str(path))
    assert path.read_text(encoding="utf-8") == TEXT and os.listdir(tmp_path) == ["nats.conf"]
    default = atomic_file.write_temp(str(path), TEXT, 0o600)
    assert os.path.basename(default).startswith(".tmp-")
    atomic_file.discard(default)
    atomic_file.discard(default)  # already gone: fine
    assert os.listdir(tmp_path) == ["nats.conf"]


def test_a_failed_write_or_rename_leaves_no_temporary_file(tmp_path):
    with pytest.raises(TypeError):
        atomic_file.write_atomic(str(tmp_path / "nats.conf"), 42, 0o640)
    assert os.listdir(tmp_path) == []
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-folder" / "inside").write_text("x")
    with pytest.raises(OSError):
        atomic_file.write_atomic(str(tmp_path / "a-folder"), TEXT, 0o640)
    assert sorted(os.listdir(tmp_path)) == ["a-folder"]


def test_a_name_without_a_folder_is_written_in_the_current_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    atomic_file.write_atomic("nats.conf", TEXT, 0o640)
    assert (tmp_path / "nats.conf").read_text(encoding="utf-8") == TEXT and os.listdir(tmp_path) == ["nats.conf"]
    atomic_file.fsync_folder("")


def test_a_mode_that_cannot_be_set_leaves_no_temporary_file(tmp_path):
    # Fails between the temporary file's creation and its first byte.
    with pytest.raises(TypeError):
        atomic_file.write_atomic(str(tmp_path / "nats.conf"), TEXT, "0640")
    assert os.listdir(tmp_path) == []


@needs_root
def test_the_group_alone_is_set_for_any_group(tmp_path):
    path = tmp_path / "group-1"
    atomic_file.write_atomic(str(path), TEXT, 0o640, -1, 1)
    assert (path.stat().st_uid, path.stat().st_gid) == (os.geteuid(), 1)


def test_the_folder_of_the_target_is_flushed_after_the_rename(tmp_path, monkeypatch):
    # Without it a power cut can bring back the old name: the folder itself must reach the disk.
    target_folder = tmp_path / "conf"
    target_folder.mkdir()
    monkeypatch.chdir(tmp_path)
    flushed = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: flushed.append(os.readlink("/proc/self/fd/%d" % fd)) or real_fsync(fd))
    atomic_file.write_atomic(str(target_folder / "nats.conf"), TEXT, 0o640)
    assert flushed[-1] == str(target_folder)
