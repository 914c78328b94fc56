# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The jwt_operator, jwt_account and jwt_user modules, run through main()."""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import stat

import pytest

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.modules import jwt_account, jwt_operator, jwt_user
from ansible_collections.cmsgs.nats.tests.unit.module_runner import enable_tracebacks, run_module, warning_texts

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing groups needs root")


@pytest.fixture
def run(capsys, monkeypatch):
    """Run a module's main() with arguments; return its JSON result."""
    def runner(module, check_mode=False, diff=False, **args):
        return run_module(module.main, capsys, monkeypatch, check_mode=check_mode, diff=diff, **args)
    return runner


@pytest.fixture
def nsc(tmp_path):
    return str(tmp_path / "nsc")


@pytest.fixture
def ncred(tmp_path):
    path = tmp_path / "ncred"
    (path / "creds").mkdir(parents=True)
    return path


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def warnings_of(result):
    """Warnings as text; ansible-core 2.19 returns them as structured events."""
    return json.dumps(result.get("warnings", []))


def seeds_under(root):
    """Every seed in the keys dir, to prove none of them leaks.

    Tests compare them in a comprehension, never in an assert operand, so
    that a failure does not print them.
    """
    found = []
    for directory, _dirs, files in os.walk(root):
        found += [open(os.path.join(directory, f)).read() for f in files if f.endswith(".nk")]
    return found


def system_sequence(run, nsc, ncred, check_mode=False):
    """The role's order: operator, SYS, operator with SYS, system user."""
    return [
        run(jwt_operator, check_mode=check_mode, name="REGION1", nsc_dir=nsc,
            account_server_url="https://acs.example.com/jwt/v1"),
        run(jwt_account, check_mode=check_mode, name="SYS", operator="REGION1", nsc_dir=nsc,
            jwt_dest=str(ncred / "SYS.jwt")),
        run(jwt_operator, check_mode=check_mode, name="REGION1", nsc_dir=nsc, system_account="SYS",
            jwt_dest=str(ncred / "REGION1.jwt")),
        run(jwt_user, check_mode=check_mode, name="sys", account="SYS", operator="REGION1", nsc_dir=nsc,
            creds_dest=str(ncred / "creds" / "sys.creds")),
    ]


def test_operator_check_apply_check_apply(run, nsc):
    checked = run(jwt_operator, check_mode=True, diff=True, name="REGION1", nsc_dir=nsc, signing_keys=1)
    assert checked["changed"] is True
    assert checked["public_key"] == checked["signing_keys"][0] == "(key created on apply)"
    assert checked["diff"]["before"] == "" and '"name": "REGION1"' in checked["diff"]["after"]
    # The keys check mode made up are not the ones an apply creates: the diff hides them too.
    planned = json.loads(checked["diff"]["after"])
    assert (planned["sub"], planned["nats"]["signing_keys"]) == ("(key created on apply)", ["(key created on apply)"])
    assert not os.path.exists(nsc)

    applied = run(jwt_operator, name="REGION1", nsc_dir=nsc, signing_keys=1)
    assert applied["changed"] is True
    assert nats_jwt.is_public_key(applied["public_key"], "operator")
    assert applied["jwt_path"] == os.path.join(nsc, "stores", "REGION1", "REGION1.jwt")
    assert open(applied["jwt_path"]).read() == applied["jwt"]

    rechecked = run(jwt_operator, check_mode=True, diff=True, name="REGION1", nsc_dir=nsc, signing_keys=1)
    assert rechecked["changed"] is False
    assert rechecked["diff"]["before"] == rechecked["diff"]["after"]
    again = run(jwt_operator, name="REGION1", nsc_dir=nsc, signing_keys=1)
    assert (again["changed"], again["jwt"], again["public_key"]) == (False, applied["jwt"], applied["public_key"])


def test_system_sequence_is_idempotent_and_publishes_copies(run, nsc, ncred):
    first = system_sequence(run, nsc, ncred)
    assert [r["changed"] for r in first] == [True, True, True, True]
    second = system_sequence(run, nsc, ncred)
    assert [r["changed"] for r in second] == [False, False, False, False]
    checked = system_sequence(run, nsc, ncred, check_mode=True)
    assert [r["changed"] for r in checked] == [False, False, False, False]

    operator, sys_account, sys_user = second[2], second[1], second[3]
    assert (ncred / "REGION1.jwt").read_text() == operator["jwt"]
    assert (ncred / "SYS.jwt").read_text() == sys_account["jwt"]
    assert mode_of(ncred / "SYS.jwt") == 0o640
    assert mode_of(ncred / "creds" / "sys.creds") == 0o600
    same_creds = (ncred / "creds" / "sys.creds").read_text() == open(sys_user["creds_path"]).read()
    assert same_creds
    assert nats_jwt.decode(operator["jwt"]).nats["system_account"] == sys_account["public_key"]


def test_no_seed_or_creds_in_any_output(run, nsc, ncred, capsys):
    results = system_sequence(run, nsc, ncred)
    results.append(run(jwt_user, check_mode=True, diff=True, name="sys", account="SYS", operator="REGION1",
                       nsc_dir=nsc, permissions={"pub": {"allow": ["x"]}}))
    shown = json.dumps(results)
    seeds = seeds_under(os.path.join(nsc, "keys"))
    assert len(seeds) == 3
    leaked = sum(1 for seed in seeds if seed in shown)
    assert leaked == 0
    assert "NKEY SEED" not in shown


def test_a_new_user_in_check_mode_shows_placeholders_not_a_token(run, nsc, ncred):
    system_sequence(run, nsc, ncred)
    checked = run(jwt_user, check_mode=True, diff=True, name="app", account="SYS", operator="REGION1", nsc_dir=nsc)
    assert (checked["changed"], checked["public_key"], checked["jwt"]) == (True, "(key created on apply)", None)
    assert json.loads(checked["diff"]["after"])["sub"] == "(key created on apply)"
    assert not os.path.exists(checked["jwt_path"]) and not os.path.exists(checked["creds_path"])


def test_user_diff_shows_permission_changes(run, nsc, ncred):
    system_sequence(run, nsc, ncred)
    result = run(jwt_user, diff=True, name="sys", account="SYS", operator="REGION1", nsc_dir=nsc,
                 permissions={"pub": {"allow": ["orders.>"]}, "sub": {"deny": ["secret.>"]}})
    assert result["changed"] is True
    before, after = json.loads(result["diff"]["before"]), json.loads(result["diff"]["after"])
    assert before["nats"]["pub"] == {} and after["nats"]["pub"] == {"allow": ["orders.>"]}
    assert after["nats"]["sub"] == {"deny": ["secret.>"]}
    assert "iat" not in after and "jti" not in after


def test_a_missing_seed_fails_with_the_path(run, nsc, ncred):
    first = system_sequence(run, nsc, ncred)
    key = first[1]["public_key"]
    seed_path = os.path.join(nsc, "keys", "keys", "A", key[1:3], key + ".nk")
    os.unlink(seed_path)
    result = run(jwt_account, name="SYS", operator="REGION1", nsc_dir=nsc)
    assert result["failed"] is True
    assert result["msg"] == (
        "%s belongs to account %s, but its seed %s is missing. Restore the seed from a backup; "
        "a new key would orphan everything signed by the old one" % (first[1]["jwt_path"], key, seed_path))
    assert not os.path.exists(seed_path)


def test_account_without_operator_fails_but_check_mode_predicts_a_change(run, nsc):
    missing = ("operator REGION1 not found: %s does not exist; create it first with cmsgs.nats.jwt_operator"
               % os.path.join(nsc, "stores", "REGION1", "REGION1.jwt"))
    failed = run(jwt_account, name="SYS", operator="REGION1", nsc_dir=nsc)
    assert (failed["failed"], failed["msg"]) == (True, missing)
    checked = run(jwt_account, check_mode=True, name="SYS", operator="REGION1", nsc_dir=nsc)
    assert (checked["changed"], warning_texts(checked)) == (True, ["check mode: " + missing])
    assert not os.path.exists(nsc)


def test_account_limits_and_warning(run, nsc):
    run(jwt_operator, name="REGION1", nsc_dir=nsc)
    result = run(jwt_account, name="APP", operator="REGION1", nsc_dir=nsc, limits={"conn": 0, "payload": 512},
                 jetstream={"disk_storage": -1})
    limits = nats_jwt.decode(result["jwt"]).nats["limits"]
    assert "conn" not in limits and limits["payload"] == 512 and limits["disk_storage"] == -1
    assert limits["subs"] == -1 and limits["wildcards"] is True
    assert warning_texts(result) == ["limits.conn is 0: nats-server will refuse every connection to this "
                                     "account; use -1 for no limit"]


def test_operator_urls_are_signed_into_its_jwt(run, nsc):
    # nsc push reads the account server URL from the operator JWT, nsc tools the service URLs.
    urls = ["nats://nats1.example.com:4222", "tls://nats2.example.com:4222"]
    result = run(jwt_operator, name="REGION1", nsc_dir=nsc, account_server_url="https://acs.example.com/jwt/v1",
                 operator_service_urls=urls)
    claims = nats_jwt.decode(result["jwt"]).nats
    assert (claims["account_server_url"], claims["operator_service_urls"]) == ("https://acs.example.com/jwt/v1", urls)


def test_signing_keys_through_the_modules(run, nsc):
    operator = run(jwt_operator, name="REGION1", nsc_dir=nsc, signing_keys=1)
    account = run(jwt_account, name="APP", operator="REGION1", nsc_dir=nsc, signing_keys=1, use_signing_key=True)
    user = run(jwt_user, name="app", account="APP", operator="REGION1", nsc_dir=nsc, use_signing_key=True)
    assert nats_jwt.decode(account["jwt"]).issuer == operator["signing_keys"][0]
    decoded = nats_jwt.decode(user["jwt"])
    assert decoded.issuer == account["signing_keys"][0]
    assert decoded.nats["issuer_account"] == account["public_key"]


def test_a_copy_needs_an_existing_directory(run, nsc, tmp_path):
    run(jwt_operator, name="REGION1", nsc_dir=nsc)
    dest = tmp_path / "absent" / "REGION1.jwt"
    result = run(jwt_operator, name="REGION1", nsc_dir=nsc, jwt_dest=str(dest))
    assert (result["failed"], result["msg"]) == (
        True, "cannot copy to %s: directory %s does not exist; create it first" % (dest, dest.parent))


def test_a_copy_that_cannot_be_written_names_the_file(run, nsc):
    # /proc exists but takes no new file, for root too (like a read-only mount).
    result = run(jwt_operator, name="REGION1", nsc_dir=nsc, jwt_dest="/proc/REGION1.jwt")
    assert result["failed"] is True
    assert re.fullmatch(r"cannot write /proc/REGION1\.jwt: \[Errno \d+\] .+", result["msg"]), result["msg"]


def test_a_bare_file_name_as_dest_is_written_in_the_working_directory(run, nsc, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(jwt_operator, name="REGION1", nsc_dir=nsc, jwt_dest="REGION1.jwt")
    assert result["changed"] is True
    assert (tmp_path / "REGION1.jwt").read_text() == result["jwt"]


def test_paths_starting_with_a_tilde_are_under_the_home_directory(run, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "ncred").mkdir()
    one = run(jwt_operator, name="REGION1", nsc_dir="~/nsc", jwt_dest="~/ncred/REGION1.jwt")
    assert one["jwt_path"] == str(tmp_path / "nsc" / "stores" / "REGION1" / "REGION1.jwt")
    assert (tmp_path / "ncred" / "REGION1.jwt").read_text() == one["jwt"]
    two = run(jwt_operator, name="REGION2", store_dir="~/stores", keys_dir="~/keys")
    assert two["jwt_path"] == str(tmp_path / "stores" / "REGION2" / "REGION2.jwt")
    key = two["public_key"]
    assert os.path.exists(tmp_path / "keys" / "keys" / "O" / key[1:3] / (key + ".nk"))


def test_store_and_keys_dirs_given_separately_hold_the_whole_chain(run, tmp_path):
    where = dict(store_dir=str(tmp_path / "stores"), keys_dir=str(tmp_path / "keys"))
    operator = run(jwt_operator, name="REGION1", **where)
    account = run(jwt_account, name="APP", operator="REGION1", **where)
    user = run(jwt_user, name="app", account="APP", operator="REGION1", **where)
    assert [operator["jwt_path"], account["jwt_path"], user["jwt_path"], user["creds_path"]] == [
        str(tmp_path / "stores" / "REGION1" / "REGION1.jwt"),
        str(tmp_path / "stores" / "REGION1" / "accounts" / "APP" / "APP.jwt"),
        str(tmp_path / "stores" / "REGION1" / "accounts" / "APP" / "users" / "app.jwt"),
        str(tmp_path / "keys" / "creds" / "REGION1" / "APP" / "app.creds"),
    ]
    assert sorted(os.listdir(tmp_path / "keys" / "keys")) == ["A", "O", "U"]
    assert not os.path.exists(tmp_path / "stores" / "keys") and not os.path.exists(tmp_path / "keys" / "REGION1")


def test_a_changed_copy_is_put_back_and_reported(run, nsc, ncred):
    system_sequence(run, nsc, ncred)
    copy = ncred / "creds" / "sys.creds"
    stored = open(os.path.join(nsc, "keys", "creds", "REGION1", "SYS", "sys.creds")).read()
    copy.write_text("edited by hand\n")
    os.chmod(str(copy), 0o600)
    result = run(jwt_user, name="sys", account="SYS", operator="REGION1", nsc_dir=nsc, creds_dest=str(copy))
    assert result["changed"] is True
    restored = copy.read_text() == stored
    assert restored and mode_of(copy) == 0o600


def test_a_copy_in_check_mode_is_not_written(run, nsc, ncred):
    run(jwt_operator, name="REGION1", nsc_dir=nsc)
    result = run(jwt_operator, check_mode=True, name="REGION1", nsc_dir=nsc, jwt_dest=str(ncred / "REGION1.jwt"))
    assert result["changed"] is True and not (ncred / "REGION1.jwt").exists()


@as_root
def test_copy_owner_group_and_mode_are_kept(run, nsc, ncred):
    args = dict(name="REGION1", nsc_dir=nsc, jwt_dest=str(ncred / "REGION1.jwt"), jwt_owner="nobody",
                jwt_group="nogroup", jwt_mode="0640")
    assert run(jwt_operator, **args)["changed"] is True
    copy = os.stat(str(ncred / "REGION1.jwt"))
    assert (copy.st_uid, copy.st_gid) == (pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
    assert run(jwt_operator, **args)["changed"] is False
    os.chmod(str(ncred / "REGION1.jwt"), 0o644)
    assert run(jwt_operator, **args)["changed"] is True
    assert mode_of(ncred / "REGION1.jwt") == 0o640


def test_store_location_is_required(run):
    result = run(jwt_operator, name="REGION1")
    assert result["failed"] is True and "set nsc_dir" in result["msg"]


def test_missing_nkeys_is_reported(run, nsc, monkeypatch):
    monkeypatch.setattr(nats_jwt, "HAS_NKEYS", False)
    monkeypatch.setattr(nats_jwt, "NKEYS_IMPORT_ERROR", "Traceback: No module named 'nkeys'")
    enable_tracebacks(monkeypatch)
    result = run(jwt_user, name="u", account="A", operator="O", nsc_dir=nsc)
    assert result["failed"] is True
    assert result["msg"] == missing_required_lib("nkeys")
    assert "No module named 'nkeys'" in json.dumps(result.get("exception"))


def test_a_lost_operator_jwt_beside_accounts_is_refused_not_replaced(run, nsc, ncred):
    first = system_sequence(run, nsc, ncred)
    run(jwt_account, name="APP", operator="REGION1", nsc_dir=nsc)
    operator_jwt = os.path.join(nsc, "stores", "REGION1", "REGION1.jwt")
    accounts = os.path.join(nsc, "stores", "REGION1", "accounts")
    seeds_before = sorted(seeds_under(nsc))
    os.unlink(operator_jwt)
    result = run(jwt_operator, name="REGION1", nsc_dir=nsc)
    assert result["failed"]
    assert result["msg"] == (
        "the operator JWT %s is missing, but %s still holds 2 account JWT(s) (APP, SYS) signed by %s. "
        "A new operator key would orphan them, so none was made. Restore %s (and its seed under %s) "
        "from a backup or from a server's copy of the operator JWT; to start a new operator on purpose, "
        "move %s out of the way first"
        % (operator_jwt, accounts, first[0]["public_key"], operator_jwt, os.path.join(nsc, "keys", "keys", "O"),
           accounts))
    assert not os.path.exists(operator_jwt)
    assert sorted(seeds_under(nsc)) == seeds_before  # no new operator key


def test_a_lost_user_jwt_beside_its_creds_is_refused_and_the_creds_kept(run, nsc, ncred):
    system_sequence(run, nsc, ncred)
    user_jwt = os.path.join(nsc, "stores", "REGION1", "accounts", "SYS", "users", "sys.jwt")
    store_creds = os.path.join(nsc, "keys", "creds", "REGION1", "SYS", "sys.creds")
    copy = ncred / "creds" / "sys.creds"
    kept = [open(store_creds).read(), copy.read_text()]
    os.unlink(user_jwt)
    result = run(jwt_user, name="sys", account="SYS", operator="REGION1", nsc_dir=nsc, creds_dest=str(copy))
    assert result["failed"]
    both = "%s and %s" % (store_creds, copy)
    assert result["msg"] == (
        "the user JWT %s is missing, but %s exists. A new user key would overwrite it and lock out "
        "every client that uses it, so none was made. Restore %s from a backup (the JWT is also the "
        "first block of the .creds file), or remove %s to issue new credentials on purpose"
        % (user_jwt, both, user_jwt, both))
    assert [open(store_creds).read(), copy.read_text()] == kept
    # The copy alone is protected too: a fresh store must not overwrite a deployed .creds.
    os.unlink(store_creds)
    result = run(jwt_user, name="sys", account="SYS", operator="REGION1", nsc_dir=nsc, creds_dest=str(copy))
    assert result["failed"] and str(copy) in result["msg"]
    assert copy.read_text() == kept[1]


@pytest.mark.parametrize("mode", ["0640", "0604", "0660", "0644", 384, 0o600, True, "600x"])
def test_creds_mode_refuses_open_or_unquoted_modes(run, nsc, ncred, mode):
    system_sequence(run, nsc, ncred)
    result = run(jwt_user, name="app", account="SYS", operator="REGION1", nsc_dir=nsc,
                 creds_dest=str(ncred / "creds" / "app.creds"), creds_mode=mode)
    assert result["failed"] and "creds_mode" in result["msg"]
    if not isinstance(mode, str):
        assert "quoted octal string such as '0600'" in result["msg"]
    assert not os.path.exists(os.path.join(nsc, "stores", "REGION1", "accounts", "SYS", "users", "app.jwt"))
    assert not (ncred / "creds" / "app.creds").exists()


@pytest.mark.parametrize("mode", ["0644", "0660", "0666", 416])
def test_jwt_mode_refuses_world_readable_group_writable_or_unquoted(run, nsc, ncred, mode):
    result = run(jwt_operator, name="REGION1", nsc_dir=nsc, jwt_dest=str(ncred / "REGION1.jwt"), jwt_mode=mode)
    assert result["failed"] and "jwt_mode" in result["msg"]
    assert not os.path.exists(nsc) and not (ncred / "REGION1.jwt").exists()


@pytest.mark.parametrize("module, args, message", [
    (jwt_user, dict(account="SYS", operator="REGION1", creds_mode="0640"),
     "creds_mode '0640' gives access to group or others; use at most '0600'"),
    (jwt_user, dict(account="SYS", operator="REGION1", creds_mode="0601"),
     "creds_mode '0601' gives access to group or others; use at most '0600'"),
    (jwt_operator, dict(jwt_mode="0644"),
     "jwt_mode '0644' gives access to others, or lets the group write; use at most '0640'"),
    (jwt_account, dict(operator="REGION1", jwt_mode="0660"),
     "jwt_mode '0660' gives access to others, or lets the group write; use at most '0640'"),
])
def test_a_too_open_copy_mode_is_refused_with_the_mode_to_use(run, nsc, module, args, message):
    result = run(module, name="X", nsc_dir=nsc, **args)
    assert (result["failed"], result["msg"]) == (True, message)
    assert not os.path.exists(nsc)


@pytest.mark.parametrize("mode", ["0600", "0400", "600"])
def test_creds_mode_accepts_owner_only_modes(run, nsc, ncred, mode):
    system_sequence(run, nsc, ncred)
    result = run(jwt_user, name="app", account="SYS", operator="REGION1", nsc_dir=nsc,
                 creds_dest=str(ncred / "creds" / "app.creds"), creds_mode=mode)
    assert not result.get("failed"), result.get("msg")
    assert mode_of(ncred / "creds" / "app.creds") == int(mode, 8)
