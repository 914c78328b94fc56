# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tls_certs role's decisions: every preflight rule with a good and a bad case, the volume layout,
subjectAltName entries, and the shared list of TLS check problems."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_certs_plan as plan
from ansible_collections.cmsgs.nats.plugins.module_utils import tls_spec
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleVars, collect_problems

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "tls_certs"


def role_defaults(**overrides):
    values = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    values.update(tls_certs_gateway_name="", tls_certs_gateway_peers=[],
                  tls_certs_verify_names=[], tls_certs_pki_dir="/home/ops/inventory/pki", tls_certs_host_names=["nats-1"],
                  tls_certs_owner="cmsgs", tls_certs_group="cmsgs")
    values.update(overrides)
    return values


GENERATE = {"tls_certs_mode": "generate"}
PREFLIGHT_CASES = {
    "certs_dir_is_absolute": ({"tls_certs_dir": "/srv/c"}, {"tls_certs_dir": "srv/certs"}, "tls_certs_dir ('srv/certs')"),
    "pki_dir_is_absolute": ({"tls_certs_pki_dir": "pki"}, dict(GENERATE, tls_certs_pki_dir="pki"),
                            "tls_certs_pki_dir ('pki') must be an absolute path on the controller"),
    "gateway_has_a_cluster_name": ({"tls_certs_purposes": ["gateway"], "tls_certs_gateway_name": "east"},
                                   {"tls_certs_purposes": ["gateway"]}, "tls_certs_gateway_name ('') is not a cluster name"),
    "peers_are_cluster_names": ({"tls_certs_purposes": ["client"], "tls_certs_gateway_peers": ["bad name"]},
                                {"tls_certs_purposes": ["gateway"], "tls_certs_gateway_peers": ["west", "bad name"]},
                                "tls_certs_gateway_peers (['west', 'bad name'])"),
    "renewal_fits_validity": (dict(GENERATE, tls_certs_renew_days="30", tls_certs_valid_days="365"),
                              dict(GENERATE, tls_certs_valid_days=4000),
                              "tls_certs_renew_days (30) must be less than tls_certs_valid_days (4000)"),
    "generated_certificates_have_names": ({"tls_certs_host_names": []}, dict(GENERATE, tls_certs_host_names=[]),
                                          "tls_certs_host_names is empty"),
    "certs_dir_is_not_a_system_folder": ({"tls_certs_dir": "/srv/certs"}, {"tls_certs_dir": "/srv"},
                                         "tls_certs_dir ('/srv') is a system folder"),
    "owner_is_not_root": ({"tls_certs_owner": "cmsgs"}, {"tls_certs_owner": "root"}, "tls_certs_owner is 'root'"),
}


def rule_named(name):
    return next(rule for rule in plan.PREFLIGHT_RULES if rule.__name__ == name)


def test_every_preflight_rule_has_a_good_and_a_bad_case():
    assert sorted(rule.__name__ for rule in plan.PREFLIGHT_RULES) == sorted(PREFLIGHT_CASES)


@pytest.mark.parametrize("name", sorted(PREFLIGHT_CASES))
def test_preflight_rule_passes_its_good_case(name):
    assert collect_problems([rule_named(name)], RoleVars(role_defaults(**PREFLIGHT_CASES[name][0]))) == []


@pytest.mark.parametrize("name", sorted(PREFLIGHT_CASES))
def test_preflight_rule_reports_its_bad_case(name):
    _good, bad, words = PREFLIGHT_CASES[name]
    problems = collect_problems([rule_named(name)], RoleVars(role_defaults(**bad)))
    assert len(problems) == 1 and words in problems[0], problems


def test_a_survey_string_that_is_no_number_is_named():
    assert plan.preflight_problems(role_defaults(tls_certs_mode="generate", tls_certs_valid_days="a year")) == [
        "tls_certs_valid_days must be a whole number, got 'a year'."]


def test_layout_covers_each_purpose_and_peer():
    entries = plan.layout(role_defaults(tls_certs_purposes=["client", "gateway"], tls_certs_gateway_peers=["west"]))
    assert entries[0] == {"path": "/srv", "state": "directory", "owner": "root", "mode": "0755"}
    assert [e["path"] for e in entries[1:]] == [
        "/srv/certs",
        "/srv/certs/cmserver", "/srv/certs/cmserver/cert.pem", "/srv/certs/cmserver/ca.pem", "/srv/certs/cmserver/privkey.pem",
        "/srv/certs/cmgateway", "/srv/certs/cmgateway/cert.pem", "/srv/certs/cmgateway/ca.pem", "/srv/certs/cmgateway/privkey.pem",
        "/srv/certs/cmgwpeers", "/srv/certs/cmgwpeers/west", "/srv/certs/cmgwpeers/west/cert.pem", "/srv/certs/cmgwpeers/west/ca.pem",
    ]
    key = entries[5]
    assert key == {"path": "/srv/certs/cmserver/privkey.pem", "state": "file", "owner": "cmsgs", "group": "cmsgs",
                   "mode": "0600", "required": False}
    # Certificates and CAs: readable by all, written by root, and optional here
    # (generate mode installs them next; the check names a missing one).
    for public in (entries[3], entries[4], entries[12], entries[13]):
        assert public == {"path": public["path"], "state": "file", "owner": "root", "group": "cmsgs",
                          "mode": "0644", "required": False}, public
    assert entries[2] == {"path": "/srv/certs/cmserver", "state": "directory", "owner": "root", "group": "cmsgs",
                          "mode": "0750"}


def test_a_volume_at_the_top_of_the_tree_has_the_root_folder_as_parent():
    entries = plan.layout(role_defaults(tls_certs_dir="/certs", tls_certs_purposes=["client"]))
    assert entries[0] == {"path": "/", "state": "directory", "owner": "root", "mode": "0755"}
    assert entries[1]["path"] == "/certs"


def test_role_values_already_read_are_taken_as_they_are():
    # The filters hand over a RoleVars they built; it is not wrapped a second time.
    values = RoleVars(role_defaults(tls_certs_purposes=["cluster"]))
    assert [e["path"] for e in plan.layout(values)][2] == "/srv/certs/cmcluster"


def test_peers_are_left_out_without_a_gateway():
    entries = plan.layout(role_defaults(tls_certs_purposes=["client"], tls_certs_gateway_peers=["west"]))
    assert not [e for e in entries if "cmgwpeers" in e["path"]]


def test_san_entries_tell_addresses_from_names():
    assert plan.san_entries(["nats-1.example.com", "192.0.2.10", "2001:db8::1", "nats-1"]) == [
        "DNS:nats-1.example.com", "IP:192.0.2.10", "IP:2001:db8::1", "DNS:nats-1"]


def test_tls_check_problems_are_listed_once_and_unreadable_files_wait_in_check_mode():
    results = [
        {"problems": [{"file": "/srv/certs/cmserver/cert.pem", "rule": "expired", "message": "expired on 2026-01-01"}]},
        {"problems": [{"file": "/srv/certs/cmserver/cert.pem", "rule": "expired", "message": "expired on 2026-01-01"},
                      {"file": "/srv/certs/cmgateway/ca.pem", "rule": "unreadable", "message": "cannot read the CA"}]},
        {"skipped": True},
    ]
    assert tls_spec.problems_from_checks(results) == [
        "/srv/certs/cmserver/cert.pem [expired]: expired on 2026-01-01",
        "/srv/certs/cmgateway/ca.pem [unreadable]: cannot read the CA",
    ]
    assert tls_spec.problems_from_checks(results, check_mode=True) == ["/srv/certs/cmserver/cert.pem [expired]: expired on 2026-01-01"]


def test_own_checks_check_the_client_ca_only_when_it_is_private():
    checks = plan.own_checks(role_defaults(tls_certs_purposes=["client", "cluster"]))
    assert checks == [
        {"purpose": "client", "cert": "/srv/certs/cmserver/cert.pem", "key": "/srv/certs/cmserver/privkey.pem", "ca": None},
        {"purpose": "cluster", "cert": "/srv/certs/cmcluster/cert.pem", "key": "/srv/certs/cmcluster/privkey.pem",
         "ca": "/srv/certs/cmcluster/ca.pem"},
    ]
    assert plan.own_checks(role_defaults(tls_certs_mode="generate"))[0]["ca"] == "/srv/certs/cmserver/ca.pem"
    assert plan.own_checks(role_defaults(tls_certs_mode="generate", tls_certs_client_custom_ca="false"))[0]["ca"] is None
    assert plan.own_checks(role_defaults(tls_certs_client_custom_ca="true"))[0]["ca"] == "/srv/certs/cmserver/ca.pem"


PLANS = [{"names": ["east-1", "10.0.0.1"], "purposes": ["client", "gateway"], "gateway": "east"},
         {"names": ["east-2"], "purposes": ["gateway"], "gateway": "east"},
         {"names": ["west-1"], "purposes": ["gateway"], "gateway": "west"},
         {"names": ["east-3"], "purposes": ["client"], "gateway": "east"}]


def test_a_ca_set_is_self_signed_in_its_purpose_folder():
    assert plan.issue_set(role_defaults(), "cluster") == {
        "common_name": "cmsgs.nats cluster CA", "dir": "/home/ops/inventory/pki/cluster",
        "key": "/home/ops/inventory/pki/cluster/ca.key", "cert": "/home/ops/inventory/pki/cluster/ca.pem",
        "purpose": None, "names": [], "exact_names": True}


def test_a_host_certificate_names_the_host_exactly():
    leaf = plan.issue_set(role_defaults(), "client", "nats-1", PLANS, ["nats-1", "10.0.0.9"])
    assert leaf["cert"] == "/home/ops/inventory/pki/client/nats-1/cert.pem"
    # The folder issue.yml creates before the key is written into it.
    assert leaf["dir"] == "/home/ops/inventory/pki/client/nats-1" and leaf["common_name"] == "nats-1"
    assert leaf["ca"] == "/home/ops/inventory/pki/client/ca.pem" and leaf["ca_key"] == "/home/ops/inventory/pki/client/ca.key"
    assert leaf["names"] == ["nats-1", "10.0.0.9"] and leaf["exact_names"] is True


def test_a_gateway_certificate_names_every_gateway_host_of_its_cluster():
    leaf = plan.issue_set(role_defaults(), "gateway", "east", PLANS, ["ignored"])
    assert leaf["names"] == ["east-1", "10.0.0.1", "east-2"] and leaf["exact_names"] is False
    assert leaf["common_name"] == "east"
