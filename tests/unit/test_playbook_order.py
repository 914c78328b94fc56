# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The order site.yml runs the stack in: nats-server with the url resolver exits at start while
the account server does not answer, so the account servers come before every message server."""

from __future__ import annotations

import os

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def _load(name):
    with open(os.path.join(ROOT, "playbooks", name)) as handle:
        return yaml.safe_load(handle)


def _imports(name):
    return [play["ansible.builtin.import_playbook"] for play in _load(name) if "ansible.builtin.import_playbook" in play]


def test_site_runs_the_checks_then_region1_then_the_account_servers_then_the_servers_then_the_message():
    assert _imports("site.yml") == ["checks.yml", "region1.yml", "acs.yml", "standalone.yml", "cluster.yml",
                                    "hypercluster.yml", "verify.yml"]


def test_the_account_servers_run_primary_first_and_each_waits_until_it_answers():
    assert [play["hosts"] for play in _load("acs.yml")] == ["acs_primary", "acs_secondary"]
    with open(os.path.join(ROOT, "roles", "acs", "tasks", "service.yml")) as handle:
        tasks = yaml.safe_load(handle)
    names = [task["name"] for task in tasks]
    wait = tasks[names.index("Wait until the account server answers /healthz")]
    assert wait["ansible.builtin.uri"]["url"].endswith("/healthz") and wait["until"] == "_acs_health.status == 200"
    assert names.index("Start the account server at boot and now") < names.index(wait["name"])
