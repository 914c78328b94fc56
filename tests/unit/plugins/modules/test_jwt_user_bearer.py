# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bearer_token user's JWT authenticates on its own: jwt_user treats it as a credential."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.modules import jwt_account, jwt_operator, jwt_user
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module


@pytest.fixture
def run(capsys, monkeypatch):
    def runner(module, check_mode=False, diff=False, **args):
        return run_module(module.main, capsys, monkeypatch, check_mode=check_mode, diff=diff, **args)
    return runner


@pytest.fixture
def nsc(tmp_path, run):
    store = str(tmp_path / "nsc")
    run(jwt_operator, name="REGION1", nsc_dir=store)
    run(jwt_account, name="APP", operator="REGION1", nsc_dir=store)
    return store


def user(run, nsc, bearer, **options):
    return run(jwt_user, name="device", account="APP", operator="REGION1", nsc_dir=nsc,
               bearer_token=bearer, **options)


def stored_jwt(nsc):
    with open(os.path.join(nsc, "stores", "REGION1", "accounts", "APP", "users", "device.jwt")) as handle:
        return handle.read()


def test_a_bearer_users_jwt_is_in_no_result_or_diff(run, nsc):
    results = [
        user(run, nsc, True, diff=True),
        user(run, nsc, True, diff=True, check_mode=True),
        user(run, nsc, True, diff=True, permissions={"pub": {"allow": ["devices.>"]}}),
    ]
    token = stored_jwt(nsc)
    assert nats_jwt.decode(token).nats["bearer_token"] is True
    shown = json.dumps(results)
    # Neither the whole token nor its signature (the part that makes it a credential).
    assert (token in shown, token.split(".")[2] in shown) == (False, False)
    assert results[0]["jwt"] != token and results[0]["jwt_path"].endswith("device.jwt")
    # The claims stay visible: they are what a reviewer needs to see in a diff.
    assert '"bearer_token": true' in results[2]["diff"]["after"]


def test_a_user_that_signs_the_nonce_still_returns_its_jwt(run, nsc):
    result = user(run, nsc, False)
    assert result["jwt"] == stored_jwt(nsc)
    assert nats_jwt.decode(result["jwt"]).nats.get("bearer_token", False) is False
