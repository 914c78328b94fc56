"""Fixtures shared by the testinfra tests of every molecule scenario."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from nats_testlib import PlaybookRun


@pytest.fixture(scope="session")
def run_playbook():
    """Run a playbook against the scenario's inventory, as molecule itself would."""

    def run(playbook=None, extra_vars=None, check=False):
        playbook = playbook or os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
        command = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook]
        if extra_vars:
            command += ["--extra-vars", json.dumps(extra_vars)]
        if check:
            command.append("--check")
        completed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        return PlaybookRun(completed)

    return run
