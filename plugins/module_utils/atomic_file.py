# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replace a file in one step that survives a crash or a power cut.

Every module that writes a file goes through here. The new text goes into a
temporary file in the target's own folder (a rename is only atomic within one
file system), which gets its final mode, owner and group before any byte is
written, so a secret is never readable by others, not even for a moment. The
file is flushed to disk before the rename and the folder after it: without the
second fsync a power cut can bring back the old name, or an empty file.
"""

from __future__ import annotations

import os
import tempfile


def fsync_folder(folder):
    """Flush a folder's entries (a rename or a new name) to disk."""
    handle = os.open(folder or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_temp(path, data, mode, uid=-1, gid=-1, prefix=".tmp-"):
    """Write ``data`` to a new file beside ``path`` and flush it; return its name.

    The caller renames it into place with :func:`commit` or removes it with
    :func:`discard`. ``data`` is text (written as UTF-8) or bytes; ``uid`` and
    ``gid`` of -1 keep the caller's.
    """
    folder = os.path.dirname(path) or "."
    handle, temp_path = tempfile.mkstemp(dir=folder, prefix=prefix)
    try:
        os.fchmod(handle, mode)
        if uid != -1 or gid != -1:
            os.fchown(handle, uid, gid)
        with os.fdopen(handle, "wb") as out:
            handle = None
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        if handle is not None:
            os.close(handle)
        discard(temp_path)
        raise
    return temp_path


def commit(temp_path, path):
    """Rename a file made by :func:`write_temp` over ``path`` and flush the folder."""
    os.replace(temp_path, path)
    fsync_folder(os.path.dirname(path))


def discard(temp_path):
    """Remove a temporary file that will not be used; a missing one is fine."""
    try:
        os.unlink(temp_path)
    except FileNotFoundError:
        pass


def write_atomic(path, data, mode, uid=-1, gid=-1):
    """Replace ``path`` with ``data`` in one step, created with its final mode and owner."""
    temp_path = write_temp(path, data, mode, uid, gid)
    try:
        commit(temp_path, path)
    except BaseException:
        discard(temp_path)
        raise
