# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters as Ansible finds them: each registered under the name the roles call
and its documentation file carries; and the thin filters that only hand on to
plugins/module_utils, called through their registered names."""

from __future__ import annotations

import importlib
import pathlib
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.filter import region1_bootstrap, tls_checks
from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt

TOP = pathlib.Path(region1_bootstrap.__file__).resolve().parents[2]
FILTER_DIR = TOP / "plugins" / "filter"


def registered():
    names = {}
    for path in sorted(FILTER_DIR.glob("*.py")):
        module = importlib.import_module("ansible_collections.cmsgs.nats.plugins.filter." + path.stem)
        for name, function in module.FilterModule().filters().items():
            assert name not in names, "%s is registered by %s and %s" % (name, names[name], path.name)
            assert callable(function), name
            names[name] = path.name
    return names


def test_every_filter_is_documented_under_its_registered_name():
    assert sorted(registered()) == sorted(path.stem for path in FILTER_DIR.glob("*.yml"))


def test_every_filter_the_roles_call_is_registered():
    called = set()
    for pattern in ("roles/*/tasks/*.yml", "roles/*/vars/*.yml", "roles/*/handlers/*.yml", "roles/*/templates/*.j2"):
        for path in TOP.glob(pattern):
            called |= set(re.findall(r"\|\s*cmsgs\.nats\.(\w+)", path.read_text(encoding="utf-8")))
    assert "region1_bootstrap_plan" in called and "tls_check_problems" in called
    assert sorted(called - set(registered())) == []


def test_region1_bootstrap_plan_reads_survey_strings_and_names_a_bad_one():
    plan = region1_bootstrap.FilterModule().filters()["region1_bootstrap_plan"]
    variables = {
        "region1_bootstrap_ncred_dir": "/srv/ncred", "region1_bootstrap_nsc_dir": "/srv/nsc",
        "region1_bootstrap_ncred_readonly": "true", "region1_bootstrap_region1_token": "",
        "region1_bootstrap_primary_acs_fqdn": "", "region1_bootstrap_account_server_user": "cmaccount",
        "region1_bootstrap_server_group": "cmsgs",
    }
    result = plan(variables)
    assert result["problems"] == [] and result["readonly"] is True and result["token_given"] is False
    # The layout the role found on the host is handed on: an [ncred] JWT without its store entity is an orphan.
    found = [{"path": "/srv/ncred/REGION1.jwt", "exists": True}, {"path": "/srv/nsc/stores/REGION1/REGION1.jwt", "exists": False}]
    assert plan(variables, found)["orphans"] == ["/srv/ncred/REGION1.jwt"]
    with pytest.raises(AnsibleFilterError,
                       match=r"^region1_bootstrap_plan: region1_bootstrap_ncred_readonly must be true or false"):
        plan(dict(variables, region1_bootstrap_ncred_readonly="sometimes"))


def test_tls_check_problems_keeps_unreadable_files_out_only_in_check_mode():
    problems = tls_checks.FilterModule().filters()["tls_check_problems"]
    results = [{"problems": [
        {"file": "/srv/certs/cmserver/cert.pem", "rule": "expired", "message": "expired on 2026-01-01"},
        {"file": "/srv/certs/cmserver/ca.pem", "rule": "unreadable", "message": "cannot read the CA"}]}]
    expired = "/srv/certs/cmserver/cert.pem [expired]: expired on 2026-01-01"
    assert problems(results) == [expired, "/srv/certs/cmserver/ca.pem [unreadable]: cannot read the CA"]
    assert problems(results, check_mode=False) == problems(results)
    assert problems(results, check_mode=True) == [expired]


def test_region1_bootstrap_plan_names_the_missing_jwt_libraries(monkeypatch):
    monkeypatch.setattr(nats_jwt, "HAS_NKEYS", False)
    with pytest.raises(AnsibleFilterError) as failure:
        region1_bootstrap.FilterModule().filters()["region1_bootstrap_plan"]({})
    assert str(failure.value) == "the Python libraries nkeys and PyNaCl are needed on the controller to read NATS JWTs"
