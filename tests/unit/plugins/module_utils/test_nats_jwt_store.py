# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operators, accounts and users in an nsc store, planned and applied."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.cmsgs.nats.tests.unit.secret_forms import leaked_forms, seed_forms

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt, nsc_store
from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import (
    MissingParentError,
    NscPaths,
    StoreError,
    plan_account,
    plan_operator,
    plan_user,
)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def applied(outcome):
    outcome.plan.apply()
    return outcome


def seed_file_holds(path, public_key):
    """Whether path holds, without a newline, the seed of public_key.

    Seeds are compared here, not in an assert, so that a failing test does
    not print them.
    """
    with open(path, encoding="utf-8") as handle:
        seed = handle.read()
    return not seed.endswith("\n") and nats_jwt.KeyPair(seed).public_key == public_key


def creds_of(path):
    """(jwt, public key of the seed) from a .creds file, the seed kept inside."""
    with open(path, encoding="utf-8") as handle:
        token, seed = nats_jwt.parse_creds(handle.read())
    return token, nats_jwt.KeyPair(seed).public_key


def leaks(secrets, text):
    """How many of the secrets occur in text (a number, never the secrets)."""
    return sum(1 for secret in secrets if secret in text)


def all_files(root):
    found = {}
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8") as handle:
                found[path] = handle.read()
    return found


@pytest.fixture
def paths(tmp_path):
    return NscPaths(str(tmp_path / "nsc"))


def system_sequence(paths):
    """What a role does: operator, SYS, operator with SYS, system user."""
    return [
        applied(plan_operator(paths, "REGION1", account_server_url="https://acs.example.com/jwt/v1")),
        applied(plan_account(paths, "REGION1", "SYS")),
        applied(plan_operator(paths, "REGION1", system_account="SYS")),
        applied(plan_user(paths, "REGION1", "SYS", "sys")),
    ]


@pytest.fixture
def region(paths):
    return system_sequence(paths)


# --- the system account sequence -------------------------------------------

def test_system_sequence_builds_a_chain_nats_server_accepts(paths, region):
    operator = nats_jwt.decode(open(paths.operator_jwt("REGION1")).read())
    sys_account = nats_jwt.decode(open(paths.account_jwt("REGION1", "SYS")).read())
    sys_user = nats_jwt.decode(open(paths.user_jwt("REGION1", "SYS", "sys")).read())
    assert operator.nats["system_account"] == sys_account.subject
    assert operator.nats["account_server_url"] == "https://acs.example.com/jwt/v1"
    assert nats_jwt.signed_by(sys_account, operator)
    assert nats_jwt.signed_by(sys_user, sys_account)
    assert [o.changed for o in region] == [True, True, True, True]


def test_the_same_sequence_again_changes_nothing(paths, region):
    before = all_files(paths.store_dir)
    again = system_sequence(paths)
    assert [o.changed for o in again] == [False, False, False, False]
    assert all_files(paths.store_dir) == before
    final_operator = region[2].token
    assert [o.token for o in again] == [final_operator, region[1].token, final_operator, region[3].token]


def test_store_layout_and_modes_are_those_of_nsc(paths, region):
    operator, sys_account, _again, sys_user = region
    marker = json.loads(open(os.path.join(paths.store_dir, "REGION1", ".nsc")).read())
    assert marker == {"managed": False, "name": "REGION1", "kind": "operator", "version": "1"}
    assert os.path.isdir(paths.accounts_dir("REGION1"))
    for outcome in (operator, sys_account, sys_user):
        key = outcome.entity.public_key
        seed_path = os.path.join(paths.keys_dir, "keys", key[0], key[1:3], key + ".nk")
        assert seed_file_holds(seed_path, key)
        assert mode_of(seed_path) == 0o600
    for directory, _dirs, files in os.walk(os.path.dirname(paths.store_dir)):
        assert mode_of(directory) == 0o700, directory
        for name in files:
            assert mode_of(os.path.join(directory, name)) == 0o600, name


def test_creds_file_holds_the_user_jwt_and_seed(paths, region):
    sys_user = region[3]
    creds_path = os.path.join(paths.keys_dir, "creds", "REGION1", "SYS", "sys.creds")
    assert sys_user.extra["creds_path"] == creds_path
    assert creds_of(creds_path) == (sys_user.token, sys_user.entity.public_key)


# --- check mode: plans write nothing ---------------------------------------

def test_a_plan_that_is_not_applied_writes_nothing(paths):
    outcome = plan_operator(paths, "REGION1", signing_keys=2)
    assert outcome.changed
    assert not os.path.exists(os.path.dirname(paths.store_dir))
    result = outcome.result(check_mode=True)
    assert result["public_key"] == nsc_store.PLANNED_KEY
    assert result["signing_keys"] == [nsc_store.PLANNED_KEY] * 2
    assert result["jwt"] is None
    assert outcome.entity.public_key not in json.dumps(outcome.diff(check_mode=True))


def test_check_mode_of_an_existing_entity_shows_real_keys(paths, region):
    outcome = plan_account(paths, "REGION1", "SYS", limits={"conn": 5})
    result = outcome.result(check_mode=True)
    assert outcome.changed and result["public_key"] == region[1].entity.public_key
    diff = outcome.diff(check_mode=True)
    assert '"conn": -1' in diff["before"] and '"conn": 5' in diff["after"]
    assert nats_jwt.decode(open(paths.account_jwt("REGION1", "SYS")).read()).nats["limits"]["conn"] == -1


def test_diff_shows_the_claims_before_and_after_as_indented_json(paths, region):
    outcome = plan_account(paths, "REGION1", "SYS", limits={"conn": 5})
    diff = outcome.diff(check_mode=False)
    path = paths.account_jwt("REGION1", "SYS")
    assert (diff["before_header"], diff["after_header"]) == (path, path)
    assert sorted(diff) == ["after", "after_header", "before", "before_header"]
    existing = nats_jwt.decode(open(path).read())
    for text, claims in ((diff["before"], existing.claims), (diff["after"], outcome.claims)):
        assert json.loads(text) == nats_jwt.comparable(claims)
        # Two spaces a level, one key a line, so a diff shows the changed setting alone.
        assert text.startswith('{\n  "') and text.endswith("\n}\n")
        assert '\n    "limits": {\n' in text


def test_diff_never_shows_seeds_or_creds(paths):
    operator = applied(plan_operator(paths, "REGION1"))
    applied(plan_account(paths, "REGION1", "SYS"))
    outcome = plan_user(paths, "REGION1", "SYS", "sys")
    shown = json.dumps([outcome.diff(False), outcome.result(False)])
    leaked = leaks([outcome.entity.pair.seed, operator.entity.pair.seed], shown)
    assert leaked == 0
    # Nor as base64 of the seed or the raw key bytes behind it.
    assert leaked_forms(seed_forms(outcome.entity.pair.seed) + seed_forms(operator.entity.pair.seed), shown) == 0
    assert "NKEY SEED" not in shown


# --- keys are never replaced -----------------------------------------------

def test_a_jwt_without_its_seed_is_an_error_not_a_new_key(paths, region):
    seed_path = paths.seed(region[1].entity.public_key)
    os.unlink(seed_path)
    with pytest.raises(StoreError, match="seed %s is missing" % seed_path):
        plan_account(paths, "REGION1", "SYS")
    assert not os.path.exists(seed_path)
    keys = [name for _d, _s, files in os.walk(paths.keys_dir) for name in files if name.endswith(".nk")]
    assert len(keys) == 2


def test_a_seed_of_another_key_is_refused_naming_both_keys(paths, region):
    operator_key, account_key = region[0].entity.public_key, region[1].entity.public_key
    with open(paths.seed(operator_key)) as source, open(paths.seed(account_key), "w") as target:
        target.write(source.read())
    with pytest.raises(StoreError) as err:
        plan_account(paths, "REGION1", "SYS")
    assert str(err.value) == "%s holds the seed of %s, not of %s; restore the right file" % (
        paths.seed(account_key), operator_key, account_key)


def test_a_readable_seed_is_made_private_again(paths, region):
    seed_path = paths.seed(region[3].entity.public_key)
    os.chmod(seed_path, 0o644)
    outcome = applied(plan_user(paths, "REGION1", "SYS", "sys"))
    assert outcome.changed and outcome.plan.paths == [seed_path]
    assert mode_of(seed_path) == 0o600
    assert outcome.token == region[3].token


def test_a_corrupt_store_jwt_is_reported_with_its_path(paths, region):
    path = paths.account_jwt("REGION1", "SYS")
    with open(path, "a") as handle:
        handle.write("x")
    with pytest.raises(StoreError, match="%s is not a valid NATS account JWT" % path):
        plan_account(paths, "REGION1", "SYS")


# --- claims ----------------------------------------------------------------

def test_only_real_claim_changes_reissue(paths, region):
    assert not plan_account(paths, "REGION1", "SYS", limits={}).changed
    changed = applied(plan_account(paths, "REGION1", "SYS", limits={"conn": 10, "payload": 1024}))
    assert changed.plan.paths == [paths.account_jwt("REGION1", "SYS")]
    limits = nats_jwt.decode(changed.token).nats["limits"]
    assert (limits["conn"], limits["payload"], limits["subs"], limits["wildcards"]) == (10, 1024, -1, True)
    assert not plan_account(paths, "REGION1", "SYS").changed
    assert not plan_account(paths, "REGION1", "SYS", limits={"conn": 10, "payload": 1024}).changed


def test_limits_given_again_reset_what_they_leave_out(paths, region):
    applied(plan_account(paths, "REGION1", "SYS", limits={"conn": 10, "wildcards": False}))
    outcome = applied(plan_account(paths, "REGION1", "SYS", limits={"subs": 3}))
    limits = nats_jwt.decode(outcome.token).nats["limits"]
    assert (limits["conn"], limits["subs"], limits["wildcards"]) == (-1, 3, True)


def test_jetstream_is_its_own_group(paths, region):
    outcome = applied(plan_account(paths, "REGION1", "SYS", limits={"conn": 7},
                                   jetstream={"mem_storage": -1, "disk_storage": 1024, "streams": 2}))
    limits = nats_jwt.decode(outcome.token).nats["limits"]
    assert (limits["conn"], limits["mem_storage"], limits["disk_storage"], limits["streams"]) == (7, -1, 1024, 2)
    kept = applied(plan_account(paths, "REGION1", "SYS", limits={"conn": 8}))
    assert nats_jwt.decode(kept.token).nats["limits"]["disk_storage"] == 1024
    off = applied(plan_account(paths, "REGION1", "SYS", jetstream={}))
    limits = nats_jwt.decode(off.token).nats["limits"]
    assert "disk_storage" not in limits and limits["conn"] == 8


def test_merge_limits_reads_missing_fields_as_zero_and_drops_tiers():
    stored = {"conn": 5, "tiered_limits": {"R1": {"disk_storage": -1}}}
    kept = nsc_store.merge_limits(stored, None, None)
    assert kept["conn"] == 5 and kept["subs"] == 0 and kept["wildcards"] is False
    assert kept["tiered_limits"] == stored["tiered_limits"]
    assert "tiered_limits" not in nsc_store.merge_limits(stored, None, {"disk_storage": -1})


def test_merge_limits_of_a_token_without_limits_is_every_field_at_zero():
    assert nsc_store.merge_limits({}, None, None) == {
        "subs": 0, "data": 0, "payload": 0, "imports": 0, "exports": 0, "wildcards": False,
        "conn": 0, "leaf": 0, "disallow_bearer": False,
        "mem_storage": 0, "disk_storage": 0, "streams": 0, "consumer": 0, "max_ack_pending": 0,
        "mem_max_stream_bytes": 0, "disk_max_stream_bytes": 0, "max_bytes_required": False,
    }


def test_a_zero_connection_limit_warns(paths, region):
    outcome = plan_account(paths, "REGION1", "SYS", limits={"conn": 0})
    assert outcome.warnings == ["limits.conn is 0: nats-server will refuse every connection to this account; "
                                "use -1 for no limit"]
    assert not plan_account(paths, "REGION1", "SYS").warnings


def test_claims_set_with_nsc_survive_a_reissue(paths, region):
    account = nats_jwt.decode(region[1].token)
    nats = {k: v for k, v in account.nats.items() if k not in ("type", "version")}
    nats.update(tags=["edited"], description="set with nsc")
    claims = nats_jwt.build_claims("account", "SYS", account.subject, account.issuer, nats)
    operator_pair = nsc_store.load_key(paths, account.issuer)
    with open(paths.account_jwt("REGION1", "SYS"), "w") as handle:
        handle.write(nats_jwt.sign_claims(claims, operator_pair))
    outcome = applied(plan_account(paths, "REGION1", "SYS", limits={"conn": 3}))
    nats = nats_jwt.decode(outcome.token).nats
    assert nats["tags"] == ["edited"] and nats["description"] == "set with nsc"


def test_options_left_out_keep_stored_operator_values(paths, region):
    outcome = applied(plan_operator(paths, "REGION1", operator_service_urls=["nats://a:4222", "nats://a:4222"]))
    nats = nats_jwt.decode(outcome.token).nats
    assert nats["operator_service_urls"] == ["nats://a:4222"]
    assert nats["system_account"] == region[1].entity.public_key
    cleared = applied(plan_operator(paths, "REGION1", account_server_url="", system_account=""))
    nats = nats_jwt.decode(cleared.token).nats
    assert "account_server_url" not in nats and "system_account" not in nats


NO_SCHEME = "account_server_url %r needs a scheme, e.g. https://acs.example.com/jwt/v1"
NOT_NATS = "operator_service_urls %r: only nats:// or tls:// URLs are allowed"
HOST_PORT_ONLY = "operator_service_urls %r: give host and port only, without credentials or a path"


@pytest.mark.parametrize("option, value, message", [
    ("account_server_url", "acs.example.com/jwt/v1", NO_SCHEME % "acs.example.com/jwt/v1"),
    ("operator_service_urls", ["a:4222"], NOT_NATS % "a:4222"),
    ("operator_service_urls", ["//a:4222"], "operator_service_urls '//a:4222' needs a scheme, "
                                            "e.g. https://acs.example.com/jwt/v1"),
    ("operator_service_urls", ["http://a:4222"], NOT_NATS % "http://a:4222"),
    ("operator_service_urls", ["nats://a:4222", "wss://a:443"], NOT_NATS % "wss://a:443"),
    ("operator_service_urls", ["nats://user:pw@a:4222"], HOST_PORT_ONLY % "nats://user:pw@a:4222"),
    ("operator_service_urls", ["nats://user@a:4222"], HOST_PORT_ONLY % "nats://user@a:4222"),
    ("operator_service_urls", ["tls://:pw@a:4222"], HOST_PORT_ONLY % "tls://:pw@a:4222"),
    ("operator_service_urls", ["nats://a:4222/x"], HOST_PORT_ONLY % "nats://a:4222/x"),
])
def test_bad_operator_urls_are_refused(paths, option, value, message):
    with pytest.raises(StoreError) as err:
        plan_operator(paths, "REGION1", **{option: value})
    assert str(err.value) == message


def test_operator_urls_of_any_scheme_case_are_kept(paths):
    urls = ["nats://a:4222", "TLS://b:4222", "nats://a:4222"]
    outcome = plan_operator(paths, "REGION1", account_server_url="HTTP://acs:9090/jwt/v1",
                            operator_service_urls=urls)
    nats = outcome.claims["nats"]
    assert (nats["account_server_url"], nats["operator_service_urls"]) == (
        "HTTP://acs:9090/jwt/v1", ["nats://a:4222", "TLS://b:4222"])


# --- signing keys ----------------------------------------------------------

def test_signing_keys_are_added_and_never_removed(paths, region):
    two = applied(plan_operator(paths, "REGION1", signing_keys=2))
    keys = two.extra["signing_keys"]
    assert len(keys) == 2 and all(nats_jwt.is_public_key(k, "operator") for k in keys)
    assert all(os.path.exists(paths.seed(k)) for k in keys)
    assert not plan_operator(paths, "REGION1", signing_keys=1).changed
    assert plan_operator(paths, "REGION1", signing_keys=1).extra["signing_keys"] == keys
    with pytest.raises(StoreError, match="0 or more"):
        plan_operator(paths, "REGION1", signing_keys=-1)


def test_zero_signing_keys_is_allowed_and_a_negative_count_refused(paths, region):
    assert plan_operator(paths, "REGION1", signing_keys=0).extra["signing_keys"] == []
    with pytest.raises(StoreError) as err:
        plan_account(paths, "REGION1", "SYS", signing_keys=-1)
    assert str(err.value) == "signing_keys must be 0 or more, not -1"


@pytest.mark.parametrize("plan", [
    lambda paths, **options: plan_operator(paths, "REGION1", **options),
    lambda paths, **options: plan_account(paths, "REGION1", "SYS", **options),
])
def test_check_mode_shows_stored_signing_keys_and_hides_only_new_ones(paths, region, plan):
    stored = applied(plan(paths, signing_keys=1)).extra["signing_keys"]
    kept = applied(plan(paths)).extra["signing_keys"]
    checked = plan(paths, signing_keys=2).result(check_mode=True)
    assert kept == stored and checked["signing_keys"] == [stored[0], nsc_store.PLANNED_KEY]
    # The token would be signed anew with the new key in it: it is not shown either.
    assert (checked["public_key"], checked["jwt"]) == (plan(paths).entity.public_key, None)


def test_a_new_account_in_check_mode_shows_placeholders(paths, region):
    checked = plan_account(paths, "REGION1", "APP").result(check_mode=True)
    assert (checked["public_key"], checked["jwt"]) == (nsc_store.PLANNED_KEY, None)


def test_a_later_run_with_the_same_claims_keeps_every_token(paths, region):
    later = region[2].claims.get("iat", 0) + 1000
    again = [plan_operator(paths, "REGION1", issued_at=later),
             plan_account(paths, "REGION1", "SYS", issued_at=later),
             plan_user(paths, "REGION1", "SYS", "sys", issued_at=later)]
    assert [(o.changed, o.token) for o in again] == [
        (False, region[2].token), (False, region[1].token), (False, region[3].token)]


def test_a_store_that_cannot_be_written_names_the_file(tmp_path):
    outcome = plan_operator(NscPaths("/proc/nsc"), "REGION1")
    with pytest.raises(StoreError) as err:
        outcome.plan.apply()
    seed = NscPaths("/proc/nsc").seed(outcome.entity.public_key)
    assert str(err.value).startswith("cannot write %s: [Errno " % seed), str(err.value)


def test_accounts_and_users_can_be_signed_by_signing_keys(paths, region):
    operator = applied(plan_operator(paths, "REGION1", signing_keys=1))
    app = applied(plan_account(paths, "REGION1", "APP", signing_keys=1, use_signing_key=True))
    user = applied(plan_user(paths, "REGION1", "APP", "app", use_signing_key=True))
    app_jwt, user_jwt = nats_jwt.decode(app.token), nats_jwt.decode(user.token)
    assert app_jwt.issuer == operator.extra["signing_keys"][0]
    assert user_jwt.issuer == app.extra["signing_keys"][0]
    assert user_jwt.nats["issuer_account"] == app.entity.public_key
    assert nats_jwt.signed_by(app_jwt, nats_jwt.decode(operator.token))
    assert nats_jwt.signed_by(user_jwt, app_jwt)
    back = applied(plan_user(paths, "REGION1", "APP", "app"))
    assert nats_jwt.decode(back.token).issuer == app.entity.public_key
    assert "issuer_account" not in nats_jwt.decode(back.token).nats


def test_use_signing_key_needs_a_signing_key(paths, region):
    with pytest.raises(StoreError) as err:
        plan_account(paths, "REGION1", "APP", use_signing_key=True)
    assert str(err.value) == (
        "use_signing_key is set, but operator REGION1 has no signing key whose seed is in %s; "
        "give it signing keys first (option signing_keys)" % os.path.join(paths.keys_dir, "keys"))


def hidden_seed(paths, key):
    """Move a seed away (as if lost) and return how to put it back."""
    os.replace(paths.seed(key), paths.seed(key) + ".away")
    return lambda: os.replace(paths.seed(key) + ".away", paths.seed(key))


def test_the_signing_key_that_signed_a_token_keeps_signing_it(paths, region):
    first, second = applied(plan_operator(paths, "REGION1", signing_keys=2)).extra["signing_keys"]
    restore = hidden_seed(paths, first)
    app = applied(plan_account(paths, "REGION1", "APP", signing_keys=2, use_signing_key=True))
    app_first, app_second = app.extra["signing_keys"]
    restore_app = hidden_seed(paths, app_first)
    user = applied(plan_user(paths, "REGION1", "APP", "app", use_signing_key=True))
    restore()
    restore_app()
    assert (nats_jwt.decode(app.token).issuer, nats_jwt.decode(user.token).issuer) == (second, app_second)
    # With every seed back, the first key would be chosen for a new token; these stay as they are.
    again = [plan_account(paths, "REGION1", "APP", use_signing_key=True),
             plan_user(paths, "REGION1", "APP", "app", use_signing_key=True)]
    assert [(o.changed, o.token) for o in again] == [(False, app.token), (False, user.token)]
    new_user = plan_user(paths, "REGION1", "APP", "new", use_signing_key=True)
    assert new_user.claims["iss"] == app_first


def test_reissuing_without_the_signers_seed_says_which_seed_is_missing(paths, region):
    operator_key = region[2].entity.public_key
    hidden_seed(paths, operator_key)
    with pytest.raises(StoreError) as err:
        plan_account(paths, "REGION1", "SYS", limits={"conn": 10})
    assert str(err.value) == ("cannot sign: the seed of %s is missing at %s; restore it from a backup"
                              % (operator_key, paths.seed(operator_key)))


# --- parents and names -----------------------------------------------------

def test_missing_parents_are_reported_as_such(paths):
    no_operator = ("operator REGION1 not found: %s does not exist; create it first with cmsgs.nats.jwt_operator"
                   % paths.operator_jwt("REGION1"))
    for plan in (lambda: plan_account(paths, "REGION1", "SYS"), lambda: plan_user(paths, "REGION1", "SYS", "sys")):
        with pytest.raises(MissingParentError) as err:
            plan()
        assert str(err.value) == no_operator
    applied(plan_operator(paths, "REGION1"))
    with pytest.raises(MissingParentError) as err:
        plan_user(paths, "REGION1", "SYS", "sys")
    assert str(err.value) == ("account SYS not found: %s does not exist; create it first with cmsgs.nats.jwt_account"
                              % paths.account_jwt("REGION1", "SYS"))
    with pytest.raises(MissingParentError, match="system_account: account SYS not found"):
        plan_operator(paths, "REGION1", system_account="SYS")


def test_system_account_may_be_a_public_key(paths):
    key = nats_jwt.KeyPair(nats_jwt.new_seed("account")).public_key
    outcome = plan_operator(paths, "REGION1", system_account=key)
    assert outcome.claims["nats"]["system_account"] == key


def test_a_system_account_of_another_operator_is_refused(tmp_path, paths, region):
    other = NscPaths(str(tmp_path / "other"))
    foreign_operator = applied(plan_operator(other, "REGION1"))
    applied(plan_account(other, "REGION1", "SYS"))
    os.replace(other.account_jwt("REGION1", "SYS"), paths.account_jwt("REGION1", "SYS"))
    with pytest.raises(StoreError) as err:
        plan_operator(paths, "REGION1", system_account="SYS")
    assert str(err.value) == (
        "system_account: account SYS was signed by %s, which is not a key of operator REGION1; "
        "re-issue it with cmsgs.nats.jwt_account" % foreign_operator.entity.public_key)


def test_a_missing_system_account_says_how_to_create_it(paths):
    applied(plan_operator(paths, "REGION1"))
    with pytest.raises(MissingParentError) as err:
        plan_operator(paths, "REGION1", system_account="SYS")
    assert str(err.value) == (
        "system_account: account SYS not found at %s; create it with cmsgs.nats.jwt_account first, "
        "or give its public key" % paths.account_jwt("REGION1", "SYS"))


@pytest.mark.parametrize("plan", [
    lambda paths: plan_account(paths, "REGION1", "SYS"),
    lambda paths: plan_user(paths, "REGION1", "SYS", "sys"),
])
def test_an_operator_file_holding_an_account_jwt_is_refused(paths, region, plan):
    path = paths.operator_jwt("REGION1")
    os.replace(paths.account_jwt("REGION1", "SYS"), path)
    with pytest.raises(StoreError) as err:
        plan(paths)
    assert str(err.value) == (
        "%s is not a valid NATS operator JWT (expected an operator JWT, found an account JWT); restore it from "
        "a backup or remove it and its seed to start that operator afresh" % path)


def test_a_system_account_file_holding_a_user_jwt_is_refused(paths, region):
    path = paths.account_jwt("REGION1", "SYS")
    os.replace(paths.user_jwt("REGION1", "SYS", "sys"), path)
    with pytest.raises(StoreError) as err:
        plan_operator(paths, "REGION1", system_account="SYS")
    assert str(err.value) == (
        "%s is not a valid NATS account JWT (expected an account JWT, found a user JWT); restore it from "
        "a backup or remove it and its seed to start that account afresh" % path)


@pytest.mark.parametrize("name", ["", " SYS", "a/b", "..", "tab\tname"])
def test_names_nsc_cannot_store_are_refused(paths, name):
    with pytest.raises(StoreError, match="name"):
        plan_operator(paths, name)


@pytest.mark.parametrize("plan, args, message", [
    (plan_user, ("", "SYS", "sys"), "operator must be a non-empty name"),
    (plan_user, ("REGION1", "", "sys"), "account must be a non-empty name"),
    (plan_user, ("REGION1", "SYS", ""), "name must be a non-empty name"),
    (plan_user, ("REGION 1 ", "SYS", "sys"),
     "operator 'REGION 1 ' has leading or trailing spaces, which nsc strips; remove them"),
    (plan_account, ("", "SYS"), "operator must be a non-empty name"),
    (plan_account, ("REGION1", "a/b"), "name 'a/b' cannot be used as a file name; use letters, digits, '-' or '_'"),
    (plan_operator, ("..",), "name '..' cannot be used as a file name; use letters, digits, '-' or '_'"),
    (plan_operator, (".",), "name '.' cannot be used as a file name; use letters, digits, '-' or '_'"),
])
def test_each_bad_name_is_refused_naming_its_option(paths, region, plan, args, message):
    with pytest.raises(StoreError) as err:
        plan(paths, *args)
    assert str(err.value) == message


@pytest.mark.parametrize("value, message", [
    (" SYS", "system_account ' SYS' has leading or trailing spaces, which nsc strips; remove them"),
    ("S/YS", "system_account 'S/YS' cannot be used as a file name; use letters, digits, '-' or '_'"),
])
def test_a_system_account_name_nsc_cannot_store_is_refused(paths, region, value, message):
    with pytest.raises(StoreError) as err:
        plan_operator(paths, "REGION1", system_account=value)
    assert str(err.value) == message


def test_store_and_keys_dirs_can_be_given_separately(tmp_path):
    paths = NscPaths(store_dir=str(tmp_path / "s"), keys_dir=str(tmp_path / "k"))
    outcome = applied(plan_operator(paths, "OP"))
    assert os.path.exists(tmp_path / "s" / "OP" / "OP.jwt")
    assert os.path.exists(paths.seed(outcome.entity.public_key))
    assert paths.seed(outcome.entity.public_key).startswith(str(tmp_path / "k" / "keys"))
    with pytest.raises(StoreError, match="nsc_dir"):
        NscPaths(store_dir=str(tmp_path / "s"))


def test_an_existing_nsc_marker_is_left_alone(paths, region):
    marker = paths.operator_marker("REGION1")
    with open(marker, "w") as handle:
        handle.write('{"managed":true,"name":"REGION1","kind":"operator","version":"1"}')
    assert not plan_operator(paths, "REGION1").changed


# --- users -----------------------------------------------------------------

def test_user_permissions_are_declarative(paths, region):
    outcome = applied(plan_user(paths, "REGION1", "SYS", "sys", permissions={
        "pub": {"allow": ["a.>", "a.>", "b"]}, "sub": {"allow": ["a.* workers"], "deny": ["a.secret"]}}))
    nats = nats_jwt.decode(outcome.token).nats
    assert nats["pub"] == {"allow": ["a.>", "b"]}
    assert nats["sub"] == {"allow": ["a.* workers"], "deny": ["a.secret"]}
    assert not plan_user(paths, "REGION1", "SYS", "sys").changed
    cleared = applied(plan_user(paths, "REGION1", "SYS", "sys", permissions={}))
    assert nats_jwt.decode(cleared.token).nats["pub"] == {}
    assert creds_of(cleared.extra["creds_path"])[0] == cleared.token


@pytest.mark.parametrize("permissions, message", [
    # Only a subscription may name a queue group, after one space.
    ({"pub": {"allow": ["a queue"]}}, "permissions.pub.allow: 'a queue' is not a valid subject (no spaces)"),
    ({"pub": {"deny": ["ok", "a  b"]}}, "permissions.pub.deny: 'a  b' is not a valid subject (no spaces)"),
    ({"pub": {"deny": [5]}}, "permissions.pub.deny: 5 is not a valid subject (no spaces)"),
    ({"sub": {"deny": ["a b c"]}}, "permissions.sub.deny: 'a b c' is not a valid subject (at most 'subject queue')"),
    ({"sub": {"allow": [""]}}, "permissions.sub.allow: '' is not a valid subject (at most 'subject queue')"),
    ({"sub": {"allow": [None]}}, "permissions.sub.allow: None is not a valid subject (at most 'subject queue')"),
])
def test_invalid_subjects_are_refused(paths, region, permissions, message):
    with pytest.raises(StoreError) as err:
        plan_user(paths, "REGION1", "SYS", "sys", permissions=permissions)
    assert str(err.value) == message


def test_an_operator_token_carries_the_given_issue_time(paths):
    outcome = plan_operator(paths, "REGION1", issued_at=1700000000)
    assert nats_jwt.decode(outcome.token, check_times=False).claims["iat"] == 1700000000


def test_a_new_accounts_claims_are_those_nsc_writes(paths, region):
    outcome = plan_account(paths, "REGION1", "APP", issued_at=1700000000)
    claims = nats_jwt.decode(outcome.token, check_times=False).claims
    assert (claims["name"], claims["iat"], claims["iss"]) == ("APP", 1700000000, region[2].entity.public_key)
    nats = claims["nats"]
    assert (nats["default_permissions"], nats["type"], nats["version"]) == ({"pub": {}, "sub": {}}, "account", 2)
    assert nats["limits"] == {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                              "wildcards": True, "conn": -1, "leaf": -1}


def test_a_new_users_claims_are_those_nsc_writes(paths, region):
    outcome = plan_user(paths, "REGION1", "SYS", "app", issued_at=1700000000)
    claims = nats_jwt.decode(outcome.token, check_times=False).claims
    assert (claims["name"], claims["iat"], claims["iss"]) == ("app", 1700000000, region[1].entity.public_key)
    assert claims["nats"] == {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                              "type": "user", "version": 2}


def test_bearer_token_is_off_unless_asked_for(paths, region):
    assert "bearer_token" not in nats_jwt.decode(region[3].token).nats
    outcome = applied(plan_user(paths, "REGION1", "SYS", "sys", bearer_token=True))
    assert nats_jwt.decode(outcome.token).nats["bearer_token"] is True
    assert plan_user(paths, "REGION1", "SYS", "sys").changed


def test_a_plan_writes_each_file_once_with_what_was_recorded_first(tmp_path):
    path = str(tmp_path / "one" / "file")
    plan = nsc_store.Plan()
    plan.ensure_file(path, "first", 0o600)
    plan.ensure_file(path, "second", 0o600)
    plan.create_file(path, "third", 0o600)
    assert plan.paths == [path]
    plan.apply()
    assert open(path).read() == "first"


# --- files the module cannot use, each named with how to recover ----------

def signed_account(operator_key, name, expires=None):
    """An account JWT signed by operator_key, expired at ``expires`` when given."""
    claims = nats_jwt.build_claims("account", name, nats_jwt.KeyPair(nats_jwt.new_seed("account")).public_key,
                                   operator_key.public_key, {})
    if expires is not None:
        claims["exp"] = expires
    return nats_jwt.sign_claims(claims, operator_key, issued_at=1700000000)


def put(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def test_a_lost_operator_jwt_names_every_key_that_signed_the_accounts_left(paths):
    first = nats_jwt.KeyPair(nats_jwt.new_seed("operator"))
    second = nats_jwt.KeyPair(nats_jwt.new_seed("operator"))
    # An expired account still names its signer; a broken one is skipped, not the end.
    put(paths.account_jwt("OP", "APP"), signed_account(first, "APP", expires=1700000001))
    put(paths.account_jwt("OP", "BAD"), "not a JWT")
    put(paths.account_jwt("OP", "OTHER"), signed_account(second, "OTHER"))
    with pytest.raises(StoreError) as err:
        plan_operator(paths, "OP")
    signers = ", ".join(sorted([first.public_key, second.public_key]))
    assert str(err.value) == (
        "the operator JWT %s is missing, but %s still holds 3 account JWT(s) (APP, BAD, OTHER) signed by %s. "
        "A new operator key would orphan them, so none was made. Restore %s (and its seed under %s) "
        "from a backup or from a server's copy of the operator JWT; to start a new operator on purpose, "
        "move %s out of the way first"
        % (paths.operator_jwt("OP"), paths.accounts_dir("OP"), signers, paths.operator_jwt("OP"),
           os.path.join(paths.keys_dir, "keys", "O"), paths.accounts_dir("OP")))


def test_accounts_left_that_cannot_be_read_are_signed_by_an_unknown_key(paths):
    put(paths.account_jwt("OP", "BAD"), "not a JWT")
    with pytest.raises(StoreError) as err:
        plan_operator(paths, "OP")
    assert "holds 1 account JWT(s) (BAD) signed by an unknown key. " in str(err.value)


def test_an_expired_jwt_in_the_store_is_still_read(paths):
    # nsc keeps expired tokens; re-issuing one needs its claims.
    operator = nats_jwt.KeyPair(nats_jwt.new_seed("operator"))
    put(paths.account_jwt("OP", "OLD"), signed_account(operator, "OLD", expires=1700000001))
    decoded = nsc_store.read_jwt(paths.account_jwt("OP", "OLD"), "account")
    assert (decoded.name, decoded.claims["exp"]) == ("OLD", 1700000001)


def test_a_store_file_that_cannot_be_read_is_named_with_the_reason(paths):
    os.makedirs(paths.operator_jwt("OP"))
    with pytest.raises(StoreError) as err:
        nsc_store.read_text(paths.operator_jwt("OP"))
    assert str(err.value) == "cannot read %s: [Errno 21] Is a directory: %r" % (
        paths.operator_jwt("OP"), paths.operator_jwt("OP"))


def test_a_seed_file_without_a_seed_says_to_restore_it(paths, region):
    seed_path = paths.seed(region[1].entity.public_key)
    with open(seed_path, "w") as handle:
        handle.write("not a seed")
    with pytest.raises(StoreError) as err:
        plan_account(paths, "REGION1", "SYS")
    assert str(err.value) == "%s does not hold an nkeys seed; restore it from a backup" % seed_path


def test_a_store_needs_nsc_dir_or_both_folders():
    with pytest.raises(StoreError) as err:
        NscPaths(keys_dir="/srv/keys")
    assert str(err.value) == "set nsc_dir, or both store_dir and keys_dir"
