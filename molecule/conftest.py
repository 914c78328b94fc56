# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the testinfra tests of every molecule scenario."""

from __future__ import annotations

import os

import pytest
from nats_testlib import run_ansible_playbook


@pytest.fixture(scope="session")
def run_playbook():
    """Run a playbook (the scenario's converge.yml by default) against the scenario's hosts."""

    def run(playbook=None, extra_vars=None, check=False):
        playbook = playbook or os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
        return run_ansible_playbook(playbook, extra_vars, ["--check"] if check else [])

    return run
