# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""REGION1: the bootstrap on the primary ACS host and a NATS server in operator mode, accounts from the ACS.

Tests run against the ACS host (``host``) and reach the NATS host through the
``nats_host`` fixture. Playbook runs go through ``playbook()``, which keeps
every output so the last test can look for seeds in all of them.
"""

from __future__ import annotations

import asyncio
import json
import re

import nats
import pytest
import testinfra
from acs_runs import OUTPUTS, playbook, servers
from nats_testlib import file_digest, host_address, nats_roundtrip, server_pid

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import (
    NscPaths,
    plan_account,
    plan_operator,
    plan_user,
)

testinfra_hosts = ["cmsgs-acs-primary"]

NCRED = "/srv/ncred"
NSC = "/srv/nsc"
FQDN = "acs.region1.test"
CONFIG = "/etc/nats-server/nats-server.conf"
# The stack's layout of [ncred]: path -> (type, owner, group, mode).
SEED_LAYOUT = {
    NCRED: ("directory", "cmaccount", "root", 0o750),
    NCRED + "/creds": ("directory", "cmaccount", "root", 0o750),
    NCRED + "/REGION1.jwt": ("file", "root", "cmsgs", 0o640),
    NCRED + "/SYS.jwt": ("file", "cmaccount", "root", 0o640),
    NCRED + "/creds/sys.creds": ("file", "cmaccount", "root", 0o600),
}
# An nkeys seed: 'S', the key type, then 56 base32 characters.
SEED_PATTERN = re.compile(r"S[OAU][A-Z2-7]{56}")


def bootstrap(extra_vars=None, *options):
    """The REGION1 playbook alone, with the scenario's Primary ACS FQDN."""
    return playbook("region1", dict({"region1_bootstrap_primary_acs_fqdn": FQDN}, **(extra_vars or {})), *options)


def tree_state(host, *roots):
    """Digest, owner, group and mode of every file and folder below roots."""
    listing = host.check_output("find %s -printf '%%p %%u %%g %%m %%y\\n' | sort", " ".join(roots))
    digests = host.check_output("find %s -type f -print0 | sort -z | xargs -0 -r sha256sum", " ".join(roots))
    return listing + "\n" + digests


def read_jwt(host, path, kind):
    return nats_jwt.decode(host.file(path).content_string, expected_kind=kind)


@pytest.fixture(scope="module")
def nats_host(request):
    return testinfra.get_host("ansible://cmsgs-acs-nats", ansible_inventory=request.config.option.ansible_inventory)


@pytest.fixture(scope="module")
def secondary_host(request):
    return testinfra.get_host("ansible://cmsgs-acs-secondary", ansible_inventory=request.config.option.ansible_inventory)


@pytest.fixture()
def app_creds(host, tmp_path):
    """The app user's creds from the ACS host's nsc store, as a file on the controller."""
    path = tmp_path / "app.creds"
    path.write_text(host.file(NSC + "/keys/creds/REGION1/APP/app.creds").content_string)
    path.chmod(0o600)
    return str(path)


def foreign_region(root):
    """Operator, SYS, APP and user app of a second operator, made on the controller."""
    paths = NscPaths(str(root))
    plan_operator(paths, "REGION1").plan.apply()
    plan_account(paths, "REGION1", "SYS").plan.apply()
    operator = plan_operator(paths, "REGION1", system_account="SYS")
    operator.plan.apply()
    plan_account(paths, "REGION1", "APP").plan.apply()
    user = plan_user(paths, "REGION1", "APP", "app")
    user.plan.apply()
    return {"operator_jwt": operator.token, "creds": user.extra["creds_path"],
            "account_jwt": open(paths.account_jwt("REGION1", "APP")).read()}


# --- the files of the bootstrap ----------------------------------------------

def test_ncred_matches_the_seed_layout(host):
    for path, (kind, owner, group, mode) in SEED_LAYOUT.items():
        entry = host.file(path)
        assert entry.is_directory if kind == "directory" else entry.is_file, path
        assert (entry.user, entry.group, entry.mode) == (owner, group, mode), path


def test_system_accounts_exist_without_login_shell(host):
    cmaccount = host.user("cmaccount")
    assert cmaccount.exists
    assert cmaccount.shell in ("/usr/sbin/nologin", "/sbin/nologin")
    assert host.group("cmsgs").exists


def test_nsc_store_is_laid_out_as_nsc_expects(host):
    store = NSC + "/stores/REGION1"
    assert json.loads(host.file(store + "/.nsc").content_string) == {
        "managed": False, "name": "REGION1", "kind": "operator", "version": "1"}
    for folder in (store, store + "/accounts/SYS", store + "/accounts/SYS/users"):
        assert host.file(folder).mode == 0o700, folder
    operator = read_jwt(host, store + "/REGION1.jwt", "operator")
    seed_file = host.file("%s/keys/keys/O/%s/%s.nk" % (NSC, operator.subject[1:3], operator.subject))
    assert seed_file.is_file and seed_file.mode == 0o600
    assert host.file(store + "/accounts/SYS/users/sys.jwt").is_file
    assert host.file(NSC + "/keys/creds/REGION1/SYS/sys.creds").mode == 0o600


def test_the_jwts_tie_region1_sys_and_sys_together(host):
    operator = read_jwt(host, NCRED + "/REGION1.jwt", "operator")
    system_account = read_jwt(host, NCRED + "/SYS.jwt", "account")
    user_jwt, _seed = nats_jwt.parse_creds(host.file(NCRED + "/creds/sys.creds").content_string)
    user = nats_jwt.decode(user_jwt, expected_kind="user")
    assert operator.name == "REGION1"
    assert operator.nats["account_server_url"] == "https://%s/jwt/v1" % FQDN
    assert operator.nats["system_account"] == system_account.subject
    assert system_account.name == "SYS"
    assert nats_jwt.signed_by(system_account, operator)
    assert user.name == "sys" and nats_jwt.signed_by(user, system_account)
    # Unlimited connections: a SYS account with conn 0 would lock the account server out.
    assert system_account.nats["limits"]["conn"] == -1
    # [ncred] publishes exactly what the store holds.
    for published, stored in ((NCRED + "/REGION1.jwt", NSC + "/stores/REGION1/REGION1.jwt"),
                              (NCRED + "/SYS.jwt", NSC + "/stores/REGION1/accounts/SYS/SYS.jwt"),
                              (NCRED + "/creds/sys.creds", NSC + "/keys/creds/REGION1/SYS/sys.creds")):
        assert file_digest(host, published) == file_digest(host, stored), published


def test_a_second_bootstrap_leaves_every_file_identical(host):
    before = tree_state(host, NCRED, NSC)
    run = bootstrap()
    assert run.rc == 0, run.output
    assert run.changed_count() == 0, run.output
    assert tree_state(host, NCRED, NSC) == before


def test_readonly_ncred_with_a_wrong_mode_fails_listing_it_and_changes_nothing(host):
    host.run_expect([0], "chmod 0644 %s/SYS.jwt", NCRED)
    before = tree_state(host, NCRED, NSC)
    run = bootstrap({"region1_bootstrap_ncred_readonly": True})
    assert run.rc != 0
    assert "%s/SYS.jwt: mode 0644, want 0640" % NCRED in run.output
    assert "region1_bootstrap_ncred_readonly is true" in run.output
    assert run.changed_count() == 0
    assert tree_state(host, NCRED, NSC) == before
    # A writable run puts the stack's mode back, and touches nothing else.
    run = bootstrap()
    assert run.rc == 0, run.output
    assert host.file(NCRED + "/SYS.jwt").mode == 0o640
    assert run.changed_count() == 1, run.output


def test_readonly_ncred_as_the_stack_expects_passes_and_shares_the_jwts(host):
    before = tree_state(host, NCRED, NSC)
    run = playbook("converge", {"region1_bootstrap_ncred_readonly": True})
    assert run.rc == 0, run.output
    # The servers got the same JWTs from the read-only volume: nothing to change.
    assert run.changed_count() == 0, run.output
    assert tree_state(host, NCRED, NSC) == before


# --- the NATS server in operator mode ------------------------------------------

def test_the_server_runs_with_the_operator_inline_and_no_ncred(host, nats_host):
    config = nats_host.file(CONFIG)
    assert (config.user, config.group, config.mode) == ("root", "cmsgs", 0o640)
    text = config.content_string
    operator_jwt = host.file(NCRED + "/REGION1.jwt").content_string.strip()
    system_account = read_jwt(host, NCRED + "/SYS.jwt", "account").subject
    assert 'operator: "%s"' % operator_jwt in text
    assert 'system_account: "%s"' % system_account in text
    # Accounts come from the primary account server.
    assert "URL(http://cmsgs-acs-primary:9090/jwt/v1/accounts/)" in text
    assert not nats_host.file("/srv/ncred").exists
    assert nats_host.service("nats-server").is_running


def test_an_app_user_publishes_and_receives(nats_host, app_creds):
    url = "nats://%s:4222" % host_address(nats_host)
    assert nats_roundtrip(url, subject="region1.orders", payload=b"order 42", user_credentials=app_creds) == b"order 42"


def test_the_sys_user_reaches_the_system_account(host, nats_host, tmp_path):
    creds = tmp_path / "sys.creds"
    creds.write_text(host.file(NCRED + "/creds/sys.creds").content_string)
    creds.chmod(0o600)

    async def ping():
        client = await nats.connect("nats://%s:4222" % host_address(nats_host), user_credentials=str(creds),
                                    connect_timeout=5, allow_reconnect=False, max_reconnect_attempts=0)
        try:
            return json.loads((await client.request("$SYS.REQ.SERVER.PING", b"", timeout=5)).data)
        finally:
            await client.close()

    assert asyncio.run(ping())["server"]["name"] == "cmsgs-acs-nats"


def test_a_user_of_another_operator_is_refused(nats_host, tmp_path):
    foreign = foreign_region(tmp_path / "other-nsc")
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        nats_roundtrip("nats://%s:4222" % host_address(nats_host), subject="region1.orders",
                       user_credentials=foreign["creds"])


def test_the_operator_jwt_file_read_as_root_gives_the_same_configuration(host, nats_host):
    """A host that mounts [ncred] with the stack's modes: cmsgs cannot open REGION1.jwt, the role can."""
    nats_host.run_expect([0], "install -d -m 0750 /srv/ncred")
    for name in ("REGION1.jwt", "SYS.jwt"):
        content = host.file(NCRED + "/" + name).content_string
        nats_host.run_expect([0], "printf '%%s' %s > /srv/ncred/%s && chmod 0640 /srv/ncred/%s",
                             content, name, name)
    nats_host.run_expect([0], "chgrp cmsgs /srv/ncred/REGION1.jwt")
    assert nats_host.run("runuser -u cmsgs -- cat /srv/ncred/REGION1.jwt").rc != 0
    before = (file_digest(nats_host, CONFIG), server_pid(nats_host))
    try:
        run = servers(host, {
            "nats_server_operator_jwt": "",
            "nats_server_operator_jwt_file": "/srv/ncred/REGION1.jwt",
            "nats_server_operator_system_account_jwt": "",
            "nats_server_operator_system_account_jwt_file": "/srv/ncred/SYS.jwt",
        })
        assert run.rc == 0, run.output
        assert run.changed_count() == 0, run.output
        assert (file_digest(nats_host, CONFIG), server_pid(nats_host)) == before
    finally:
        nats_host.run_expect([0], "rm -rf /srv/ncred")


def test_the_full_resolver_renders_and_passes_nats_server_validation(host, nats_host):
    before = (file_digest(nats_host, CONFIG), server_pid(nats_host))
    # Check mode still runs nats-server -t on the new text.
    run = servers(host, {"nats_server_resolver_type": "full",
                         "nats_server_operator_system_account_jwt": host.file(NCRED + "/SYS.jwt").content_string},
                  "--check")
    assert run.rc == 0, run.output
    assert (file_digest(nats_host, CONFIG), server_pid(nats_host)) == before


@pytest.mark.parametrize(
    ("extra_vars", "message"),
    [
        (lambda foreign: {"nats_server_resolver_preload": [foreign["account_jwt"]]},
         "nats_server_resolver_preload is only possible with nats_server_resolver_type 'full'"),
        (lambda foreign: {"nats_server_operator_jwt": "not.a.jwt"},
         "nats_server_operator_jwt is not a valid NATS operator JWT"),
        (lambda foreign: {"nats_server_resolver_type": "full", "nats_server_resolver_preload": [foreign["account_jwt"]]},
         "nats_server_resolver_preload holds accounts that this operator did not sign: APP"),
        (lambda foreign: {"nats_server_operator_system_account_jwt": foreign["operator_jwt"]},
         "nats_server_operator_system_account_jwt is not a valid NATS account JWT: expected an account JWT, found an operator JWT"),
    ],
    ids=["preload-with-url", "garbage-operator", "foreign-account", "operator-as-system-account"],
)
def test_wrong_operator_inputs_fail_naming_the_variable(host, nats_host, tmp_path, extra_vars, message):
    foreign = foreign_region(tmp_path / "other-nsc")
    before = (file_digest(nats_host, CONFIG), server_pid(nats_host))
    run = servers(host, extra_vars(foreign))
    assert run.rc != 0
    assert message in " ".join(run.output.split()), run.output
    assert run.changed_count() == 0
    assert (file_digest(nats_host, CONFIG), server_pid(nats_host)) == before


# --- the Region One Token --------------------------------------------------------

TOKEN_NCRED = "/srv/token-ncred"
TOKEN_NSC = "/srv/token-nsc"


def test_the_region_one_token_is_written_as_region1_jwt(host, tmp_path):
    token = foreign_region(tmp_path / "token-nsc")["operator_jwt"]
    dirs = {"region1_bootstrap_ncred_dir": TOKEN_NCRED, "region1_bootstrap_nsc_dir": TOKEN_NSC}
    run = bootstrap(dict(dirs, region1_bootstrap_region1_token=token))
    assert run.rc == 0, run.output
    assert token not in run.output
    region1 = host.file(TOKEN_NCRED + "/REGION1.jwt")
    assert region1.content_string == token
    assert (region1.user, region1.group, region1.mode) == ("root", "cmsgs", 0o640)
    assert (host.file(TOKEN_NCRED).user, host.file(TOKEN_NCRED).mode) == ("cmaccount", 0o750)
    # No operator was created: no key, no store.
    assert not host.file(TOKEN_NSC).exists
    assert "The account server needs" in " ".join(run.output.split())

    before = tree_state(host, TOKEN_NCRED)
    again = bootstrap(dict(dirs, region1_bootstrap_region1_token=token + "\n"))
    assert again.rc == 0, again.output
    assert again.changed_count() == 0, again.output
    assert tree_state(host, TOKEN_NCRED) == before

    other = foreign_region(tmp_path / "other-token-nsc")["operator_jwt"]
    refused = bootstrap(dict(dirs, region1_bootstrap_region1_token=other))
    assert refused.rc != 0
    assert "holds operator %s" % nats_jwt.decode(token).subject in " ".join(refused.output.split())
    assert other not in refused.output
    assert tree_state(host, TOKEN_NCRED) == before


def test_a_token_that_is_not_an_operator_jwt_fails_before_any_change(host, tmp_path):
    account_jwt = foreign_region(tmp_path / "token-nsc")["account_jwt"]
    before = tree_state(host, NCRED, NSC)
    run = bootstrap({"region1_bootstrap_region1_token": account_jwt})
    assert run.rc != 0
    assert ('region1_bootstrap_region1_token ("Region One Token") is not a valid NATS operator JWT: '
            "expected an operator JWT, found an account JWT") in " ".join(run.output.split())
    assert account_jwt not in run.output
    assert run.changed_count() == 0
    assert tree_state(host, NCRED, NSC) == before


def test_an_operator_in_ncred_without_its_store_is_never_replaced(host):
    fresh = {"region1_bootstrap_ncred_dir": "/srv/orphan-ncred", "region1_bootstrap_nsc_dir": "/srv/orphan-nsc"}
    host.run_expect([0], "install -d /srv/orphan-ncred && cp %s/REGION1.jwt /srv/orphan-ncred/", NCRED)
    try:
        run = bootstrap(fresh)
        assert run.rc != 0
        assert "/srv/orphan-ncred/REGION1.jwt exist in ncred" in " ".join(run.output.split())
        assert file_digest(host, "/srv/orphan-ncred/REGION1.jwt") == file_digest(host, NCRED + "/REGION1.jwt")
        assert not host.file("/srv/orphan-nsc/stores").exists
    finally:
        host.run_expect([0], "rm -rf /srv/orphan-ncred /srv/orphan-nsc")


# --- secrets ---------------------------------------------------------------------

def test_no_seed_appears_in_any_playbook_output_or_journal(host, secondary_host):
    fresh = {"region1_bootstrap_ncred_dir": "/srv/fresh-ncred", "region1_bootstrap_nsc_dir": "/srv/fresh-nsc",
             "region1_bootstrap_export_sys_creds": True}
    run = bootstrap(fresh, "--diff", "-v")
    assert run.rc == 0, run.output
    seeds = set(host.check_output("find %s /srv/fresh-nsc -name '*.nk' -exec awk 1 {} +", NSC).split())
    assert len(seeds) >= 6  # two operators, their SYS and APP accounts, sys and app users
    # The account servers' journals too: they read the sys credentials.
    journals = [acs.check_output("journalctl -u cmsgs-acs --no-pager -o cat") for acs in (host, secondary_host)]
    leaked = sum(1 for output in OUTPUTS + journals for seed in seeds if seed in output)
    pattern_hits = sum(len(SEED_PATTERN.findall(output)) for output in OUTPUTS + journals)
    # Counts only: a failure message must not carry a seed either.
    assert (leaked, pattern_hits) == (0, 0), "seeds found in playbook output"
    host.run_expect([0], "rm -rf /srv/fresh-ncred /srv/fresh-nsc /srv/token-ncred /srv/token-nsc")
