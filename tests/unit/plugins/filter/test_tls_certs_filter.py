# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tls_certs role's filters as the role calls them: by name, with the role's
variables, on a real private PKI written the way the role lays it out."""

from __future__ import annotations

import os
import pathlib
import re

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.filter import tls_certs
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import (
    DAY, NOW, cert_pem, key_pem, make_cert, make_key,
)

ROLE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "tls_certs"
FILTERS = tls_certs.FilterModule().filters()
NAMES = ("nats-1", "10.0.0.9")


def role_vars(pki_dir, **overrides):
    values = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    values.update(tls_certs_gateway_name="", tls_certs_gateway_peers=[], tls_certs_verify_names=[],
                  tls_certs_pki_dir=str(pki_dir), tls_certs_host_names=list(NAMES),
                  tls_certs_owner="cmsgs", tls_certs_group="cmsgs")
    values.update(overrides)
    return values


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    if path.endswith(".key") or path.endswith("privkey.pem"):
        os.chmod(path, 0o600)


class ClientPki:
    """<pki>/client/ca.{pem,key} and <pki>/client/nats-1/{cert,privkey}.pem, as tls_certs issues them."""

    def __init__(self, pki_dir, purpose="client"):
        self.dir = str(pki_dir / purpose)
        self.ca_key = make_key()
        self.ca = make_cert("cmsgs.nats client CA", self.ca_key, ca=True)
        write(self.dir + "/ca.pem", cert_pem(self.ca))
        write(self.dir + "/ca.key", key_pem(self.ca_key))

    def leaf(self, sans=NAMES, days=90, issuer=None, issuer_key=None, key=None, target="nats-1"):
        own_key = make_key()
        cert = make_cert(target, own_key, issuer or self.ca, issuer_key or self.ca_key, sans=sans,
                         not_after=NOW + days * DAY)
        write(self.dir + "/%s/cert.pem" % target, cert_pem(cert))
        write(self.dir + "/%s/privkey.pem" % target, key_pem(key or own_key))


def issue_set(variables, names=NAMES):
    return FILTERS["tls_certs_issue_set"](variables, "client", "nats-1", [], list(names))


def test_every_filter_the_role_calls_is_registered_under_that_name():
    called = set()
    for path in ROLE.rglob("*.yml"):
        called |= set(re.findall(r"cmsgs\.nats\.(tls_certs_\w+)", path.read_text(encoding="utf-8")))
    assert called == set(FILTERS) == {"tls_certs_preflight", "tls_certs_layout", "tls_certs_own_checks",
                                      "tls_certs_issue_set", "tls_certs_san_entries"}


def test_preflight_layout_own_checks_and_san_entries_answer_through_the_filter(tmp_path):
    assert FILTERS["tls_certs_preflight"](role_vars(tmp_path)) == []
    problems = FILTERS["tls_certs_preflight"](role_vars(tmp_path, tls_certs_dir="/srv", tls_certs_owner="root"))
    assert [problem.split(" ")[0] for problem in problems] == ["tls_certs_dir", "tls_certs_owner"], problems
    assert FILTERS["tls_certs_layout"](role_vars(tmp_path))[1] == {
        "path": "/srv/certs", "state": "directory", "owner": "root", "group": "cmsgs", "mode": "0750"}
    assert FILTERS["tls_certs_own_checks"](role_vars(tmp_path)) == [
        {"purpose": "client", "cert": "/srv/certs/cmserver/cert.pem", "key": "/srv/certs/cmserver/privkey.pem",
         "ca": None}]
    assert FILTERS["tls_certs_san_entries"](NAMES) == ["DNS:nats-1", "IP:10.0.0.9"]


def test_a_variable_of_the_wrong_kind_is_named_with_the_filter(tmp_path):
    with pytest.raises(AnsibleFilterError, match=r"^tls_certs_layout: tls_certs_purposes must be a list"):
        FILTERS["tls_certs_layout"](role_vars(tmp_path, tls_certs_purposes="client"))
    with pytest.raises(AnsibleFilterError, match=r"^tls_certs_own_checks: 'mqtt'$"):
        FILTERS["tls_certs_own_checks"](role_vars(tmp_path, tls_certs_purposes=["mqtt"]))
    with pytest.raises(AnsibleFilterError, match=r"^tls_certs_issue_set: tls_certs_renew_days must be a whole number"):
        issue_set(role_vars(tmp_path, tls_certs_renew_days="soon"))


def test_a_certificate_not_issued_yet_is_due(tmp_path):
    ClientPki(tmp_path)
    cert = issue_set(role_vars(tmp_path))
    assert cert["cert"] == str(tmp_path / "client" / "nats-1" / "cert.pem")
    assert cert["reasons"] == ["there is no certificate yet"]


def test_a_fitting_certificate_and_its_ca_are_not_due(tmp_path):
    pki = ClientPki(tmp_path)
    pki.leaf()
    assert issue_set(role_vars(tmp_path))["reasons"] == []
    ca_set = FILTERS["tls_certs_issue_set"](role_vars(tmp_path), "client")
    assert ca_set["cert"] == pki.dir + "/ca.pem" and ca_set["reasons"] == []


def test_renewal_follows_tls_certs_renew_days_given_as_a_survey_string(tmp_path):
    ClientPki(tmp_path).leaf(days=20)
    assert issue_set(role_vars(tmp_path, tls_certs_renew_days="10"))["reasons"] == []
    reasons = issue_set(role_vars(tmp_path, tls_certs_renew_days="30"))["reasons"]
    assert len(reasons) == 1 and re.match(r"^it expires in (19|20) days$", reasons[0]), reasons


def test_a_certificate_of_another_ca_or_key_is_due(tmp_path):
    pki = ClientPki(tmp_path)
    other_key = make_key()
    pki.leaf(issuer=make_cert("Other CA", other_key, ca=True), issuer_key=other_key)
    assert issue_set(role_vars(tmp_path))["reasons"] == ["it is not signed by the current CA"]
    pki.leaf(key=make_key())
    assert issue_set(role_vars(tmp_path))["reasons"] == ["it does not belong to the private key"]


def test_a_host_certificate_is_due_for_a_name_it_lacks_or_no_longer_has(tmp_path):
    ClientPki(tmp_path).leaf(sans=["nats-1"])
    assert issue_set(role_vars(tmp_path))["reasons"] == ["its subjectAltNames lack 10.0.0.9"]
    ClientPki(tmp_path).leaf()
    assert issue_set(role_vars(tmp_path), names=["nats-1"])["reasons"] == [
        "its subjectAltNames still hold 10.0.0.9"]


def test_a_gateway_certificate_gains_the_names_of_its_hosts_but_keeps_those_a_limited_run_does_not_see(tmp_path):
    ClientPki(tmp_path, "gateway").leaf(sans=["east-1", "east-2"], target="east")
    both = [{"names": ["east-1"], "purposes": ["gateway"], "gateway": "east"},
            {"names": ["east-2"], "purposes": ["gateway"], "gateway": "east"}]
    variables = role_vars(tmp_path, tls_certs_purposes=["gateway"], tls_certs_gateway_name="east")
    cert = FILTERS["tls_certs_issue_set"](variables, "gateway", "east", both, ["ignored"])
    assert cert["names"] == ["east-1", "east-2"] and cert["reasons"] == []
    # --limit east-1: east-2 is not in the play, its name stays in the certificate.
    assert FILTERS["tls_certs_issue_set"](variables, "gateway", "east", both[:1], ["ignored"])["reasons"] == []
    grown = both + [{"names": ["east-3"], "purposes": ["gateway"], "gateway": "east"}]
    assert FILTERS["tls_certs_issue_set"](variables, "gateway", "east", grown, [])["reasons"] == [
        "its subjectAltNames lack east-3"]
