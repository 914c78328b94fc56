# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nats_server filters: errors as filter errors, the controller binary read once, docs for each."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.filter import nats_server as nats_server_filter
from ansible_collections.cmsgs.nats.tests.unit.nats_server_vars import role_defaults

FILTER_DIR = pathlib.Path(nats_server_filter.__file__).resolve().parent


def fake_binary(tmp_path, version="2.15.1"):
    counter = tmp_path / "calls"
    binary = tmp_path / "nats-server"
    binary.write_text("#!/bin/sh\necho x >> %s\necho 'nats-server: v%s'\n" % (counter, version))
    binary.chmod(0o755)
    return binary, counter


def test_every_filter_has_its_documentation():
    names = sorted(nats_server_filter.FilterModule().filters())
    for name in names:
        doc = yaml.safe_load((FILTER_DIR / (name + ".yml")).read_text())
        assert doc["DOCUMENTATION"]["name"] == name and doc["EXAMPLES"] and doc["RETURN"]


def test_binary_facts_run_the_binary_once_however_often_asked(tmp_path):
    binary, counter = fake_binary(tmp_path)
    first = nats_server_filter.nats_server_binary_facts(str(binary))
    for _attempt in range(5):
        assert nats_server_filter.nats_server_binary_facts(str(binary)) == first
    assert first["version"] == "2.15.1" and len(first["sha1"]) == 40 and first["path"] == str(binary)
    assert counter.read_text().count("x") == 1


def test_the_local_version_comes_from_the_facts_read_for_the_play(tmp_path):
    binary, counter = fake_binary(tmp_path, "2.10.4")
    values = role_defaults(nats_server_install_method="local", nats_server_local_binary=str(binary), nats_server_client_tls=True)
    facts = {"path": str(binary), "sha1": "0" * 40, "version": "2.15.1"}
    assert nats_server_filter.nats_server_config(values, binary_facts=facts)["tls"]["min_version"] == "1.2"
    assert not counter.exists()
    # Facts of another binary (or none, when the install tasks were skipped by tag): the local one is asked.
    other = dict(facts, path="/elsewhere/nats-server")
    assert nats_server_filter.nats_server_config(values, binary_facts=other)["tls"]["min_version"] is None
    assert counter.read_text().count("x") == 1


def test_local_method_tls_is_spelled_for_the_local_binary(tmp_path):
    binary, _counter = fake_binary(tmp_path, "2.10.4")
    values = role_defaults(nats_server_install_method="local", nats_server_local_binary=str(binary), nats_server_client_tls=True)
    assert nats_server_filter.nats_server_config(values)["tls"]["min_version"] is None
    assert nats_server_filter.nats_server_config(dict(values, nats_server_install_method="package"),
                                                 package_version="nats-server: v2.15.1")["tls"]["min_version"] == "1.2"


def test_without_tls_the_binary_is_never_asked(tmp_path):
    binary, counter = fake_binary(tmp_path)
    values = role_defaults(nats_server_install_method="local", nats_server_local_binary=str(binary))
    nats_server_filter.nats_server_config(values)
    assert not counter.exists()


def test_bad_values_are_filter_errors_naming_the_variable():
    with pytest.raises(AnsibleFilterError, match="nats_server_config: nats_server_port must be a whole number"):
        nats_server_filter.nats_server_config(role_defaults(nats_server_port="42x"))
    with pytest.raises(AnsibleFilterError, match="nats_server_binary_facts: cannot read"):
        nats_server_filter.nats_server_binary_facts("/nonexistent/nats-server")
