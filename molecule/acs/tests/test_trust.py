# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator is pinned: a swapped REGION1.jwt or SYS.jwt never reaches the servers,
and a bearer user's JWT, a credential, never reaches the output."""

from __future__ import annotations

import os

import pytest
import testinfra
from nats_testlib import host_address, monitor_get, nats_roundtrip, run_ansible_playbook, server_pid

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import NscPaths, plan_account, plan_operator

testinfra_hosts = ["cmsgs-acs-primary"]

NCRED = "/srv/ncred"
NSC = "/srv/nsc"
CONFIG = "/etc/nats-server/nats-server.conf"
SWAPPED = "/srv/swapped-ncred"


def converge(extra_vars=None, *options):
    path = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    return run_ansible_playbook(path, extra_vars, options, timeout=600)


@pytest.fixture(scope="module")
def nats_host(request):
    return testinfra.get_host("ansible://cmsgs-acs-nats", ansible_inventory=request.config.option.ansible_inventory)


@pytest.fixture()
def app_creds(host, tmp_path):
    path = tmp_path / "app.creds"
    path.write_text(host.file(NSC + "/keys/creds/REGION1/APP/app.creds").content_string)
    path.chmod(0o600)
    return str(path)


def impostor(root):
    """An operator named REGION1 with its own SYS, as someone able to write [ncred] could make."""
    paths = NscPaths(str(root))
    plan_operator(paths, "REGION1").plan.apply()
    plan_account(paths, "REGION1", "SYS").plan.apply()
    operator = plan_operator(paths, "REGION1", system_account="SYS")
    operator.plan.apply()
    return {"operator": operator.token, "sys": open(paths.account_jwt("REGION1", "SYS")).read()}


def running_operator(nats_host):
    """The operator the server runs: the JWT inline in its configuration, and the process."""
    text = nats_host.file(CONFIG).content_string
    return text, server_pid(nats_host)


def _swapped_ncred(nats_host, region1_jwt, sys_jwt):
    """[ncred] on the server host with the stack's modes, holding the given JWTs."""
    nats_host.run_expect([0], "install -d -m 0750 %s", SWAPPED)
    for name, content in (("REGION1.jwt", region1_jwt), ("SYS.jwt", sys_jwt)):
        nats_host.run_expect([0], "printf '%%s' %s > %s/%s && chmod 0640 %s/%s", content, SWAPPED, name, SWAPPED, name)


FILE_VARS = {
    "nats_server_operator_jwt": "",
    "nats_server_operator_jwt_file": SWAPPED + "/REGION1.jwt",
    "nats_server_operator_system_account_jwt": "",
    "nats_server_operator_system_account_jwt_file": SWAPPED + "/SYS.jwt",
}


# The server resolves accounts through the account server here, yet a SYS.jwt
# it is given is held to the pin too: the account server serves SYS from the
# same [ncred] file (and refuses a swapped one itself).
@pytest.mark.parametrize("swapped", ["REGION1.jwt", "SYS.jwt"])
def test_a_swapped_jwt_under_the_pinned_key_is_refused_and_the_server_keeps_its_operator(
        host, nats_host, app_creds, tmp_path, swapped):
    genuine = {name: host.file(NCRED + "/" + name).content_string.strip() for name in ("REGION1.jwt", "SYS.jwt")}
    key = nats_jwt.decode(genuine["REGION1.jwt"]).subject
    other = impostor(tmp_path / "impostor-nsc")
    files = dict(genuine)
    files[swapped] = other["operator"] if swapped == "REGION1.jwt" else other["sys"]
    _swapped_ncred(nats_host, files["REGION1.jwt"], files["SYS.jwt"])
    before = running_operator(nats_host)
    assert genuine["REGION1.jwt"] in before[0]
    try:
        run = converge(dict(FILE_VARS, nats_server_operator_public_key=key))
        assert run.rc != 0
        flat = " ".join(run.output.split())
        assert "%s/%s" % (SWAPPED, swapped) in flat, run.output
        assert "operator %s" % key in flat
        assert run.changed_count() == 0
        # Still the old operator: same configuration, same process, its users still served.
        assert running_operator(nats_host) == before
        assert nats_roundtrip("nats://%s:4222" % host_address(nats_host), subject="region1.trust",
                              user_credentials=app_creds) == b"hello"
        assert monitor_get(nats_host, "/healthz") == {"status": "ok"}

        # The genuine files under the same pin: accepted, nothing to change.
        _swapped_ncred(nats_host, genuine["REGION1.jwt"], genuine["SYS.jwt"])
        run = converge(dict(FILE_VARS, nats_server_operator_public_key=key))
        assert run.rc == 0, run.output
        assert run.changed_count() == 0, run.output
    finally:
        nats_host.run_expect([0], "rm -rf %s", SWAPPED)


def test_the_region_one_token_as_the_pin_refuses_another_operator(host, nats_host, tmp_path):
    token = host.file(NCRED + "/REGION1.jwt").content_string.strip()
    other = impostor(tmp_path / "impostor-nsc")
    before = running_operator(nats_host)
    run = converge({"nats_server_operator_jwt": other["operator"], "nats_server_operator_system_account_jwt": other["sys"],
                    "nats_server_operator_public_key": token, "nats_server_resolver_preload": []})
    assert run.rc != 0
    assert "nats_server_operator_jwt holds operator %s" % nats_jwt.decode(other["operator"]).subject in " ".join(run.output.split())
    assert running_operator(nats_host) == before


# --- a bearer user's JWT ----------------------------------------------------------

BEARER_PLAY = """
- name: Issue a bearer-token user
  hosts: acs_primary
  gather_facts: false
  vars:
    ansible_python_interpreter: /opt/cmsgs-nats/python/bin/python
  tasks:
    - name: Create the bearer user
      cmsgs.nats.jwt_user:
        name: "{{ bearer_user }}"
        account: APP
        operator: REGION1
        nsc_dir: /srv/nsc
        bearer_token: true
        permissions: "{{ bearer_permissions | default(omit) }}"
      register: bearer
"""


def test_a_bearer_users_jwt_appears_in_no_output_at_v(host, tmp_path):
    playbook = tmp_path / "bearer.yml"
    playbook.write_text(BEARER_PLAY)
    first = run_ansible_playbook(str(playbook), {"bearer_user": "device"}, ["-v", "--diff"])
    assert first.rc == 0, first.output
    again = run_ansible_playbook(str(playbook), {"bearer_user": "device",
                                                 "bearer_permissions": {"sub": {"allow": ["devices.>"]}}},
                                 ["-vvv", "--diff"])
    assert again.rc == 0, again.output
    token = host.file(NSC + "/stores/REGION1/accounts/APP/users/device.jwt").content_string.strip()
    assert nats_jwt.decode(token).nats["bearer_token"] is True
    outputs = first.output + again.output
    # The signature makes the JWT a credential: neither it nor the whole token is shown.
    assert (token in outputs, token.split(".")[2] in outputs) == (False, False)
    assert "device.jwt" in outputs
