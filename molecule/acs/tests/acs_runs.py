# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the scenario's test modules share: the playbook runs, and every output for the final search for seeds."""

from __future__ import annotations

import os

from nats_testlib import run_ansible_playbook

OUTPUTS = []


def playbook(name="converge", extra_vars=None, *options):
    """Run a playbook of the scenario (converge, app_account) or of the collection; keep its output."""
    scenario = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], name + ".yml")
    if os.path.exists(scenario):
        path = scenario
    else:
        path = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks", name + ".yml")
    run = run_ansible_playbook(path, extra_vars, options, timeout=600)
    OUTPUTS.append(run.output)
    return run


def servers(acs_host, extra_vars=None, *options):
    """The standalone playbook alone, in operator mode as the converge deploys it (REGION1 read on the ACS host)."""
    operator = {"nats_server_operator_enabled": True,
                "nats_server_operator_jwt": acs_host.file("/srv/ncred/REGION1.jwt").content_string}
    return playbook("standalone", dict(operator, **(extra_vars or {})), *options)
