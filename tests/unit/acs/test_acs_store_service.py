# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service's one push path and its merges: the answers a pusher gets, the
log lines and metrics an operator reads, and the start-up checks of the SYS
account JWT and the SYS creds (their whole error messages)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import load_key
from ansible_collections.cmsgs.nats.tests.unit.acs.client import make_service, run, running
from ansible_collections.cmsgs.nats.tests.unit.acs.region import new_account, now, use_source_tree

use_source_tree()

from cmsgs_acs import __version__  # noqa: E402
from cmsgs_acs import store as store_module  # noqa: E402
from cmsgs_acs.nats_link import NatsLink  # noqa: E402

PUSH_LOGGER = "cmsgs_acs.push"


def _metrics(service) -> list:
    async def scenario():
        async with running(service) as client:
            response = await client.get("/metrics")
            assert response.status == 200
            return (await response.text()).splitlines()
    return run(scenario())


def _push_lines(caplog) -> list:
    return [r.getMessage() for r in caplog.records if r.name == PUSH_LOGGER]


def _lines(caplog, logger: str, level: int = logging.DEBUG) -> list:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno >= level]


def _signed_without(claims: dict, signer, *dropped) -> str:
    """A JWT signed as sign_claims does, but without the named claims (an old or foreign tool's JWT)."""
    final = {k: v for k, v in dict(claims, iat=now() - 5, jti="J").items() if k not in dropped}
    signing_input = (nats_jwt._b64encode(nats_jwt.go_json(nats_jwt.HEADER)) + "."
                     + nats_jwt._b64encode(nats_jwt.go_json(nats_jwt.arrange_claims(final))))
    return signing_input + "." + nats_jwt._b64encode(signer.sign(signing_input.encode("ascii")))


def _fail_writes(monkeypatch):
    def failing_replace(source, target):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(store_module.os, "replace", failing_replace)


# --- push: the answer, the log line, the metric ---------------------------------


def test_a_stored_push_answers_its_jti_and_iat_and_counts_every_push(region, tmp_path, caplog):
    account = new_account()
    service = make_service(region, tmp_path / "store")
    first, second = region.mint(account, issued_at=now() - 9), region.mint(account, issued_at=now() - 5)
    with caplog.at_level(logging.INFO, logger=PUSH_LOGGER):
        answers = [run(service.push(account.public_key, token.encode())) for token in (first, second, second)]
    jti, iat = nats_jwt.decode(second).claims["jti"], nats_jwt.decode(second).claims["iat"]
    assert answers[1] == (200, "jti %s, iat %d" % (jti, iat))
    assert answers[2] == (200, "the same JWT is stored already")
    assert _push_lines(caplog)[1:] == [
        "push account=%s result=stored status=200 reason=jti %s, iat %d" % (account.public_key, jti, iat),
        "push account=%s result=unchanged status=200 reason=the same JWT is stored already" % account.public_key]
    metrics = _metrics(service)
    assert 'cmsgs_acs_pushes_total{result="stored"} 2' in metrics
    assert 'cmsgs_acs_pushes_total{result="unchanged"} 1' in metrics
    assert 'cmsgs_acs_info{version="%s"} 1' % __version__ in metrics


def test_a_jwt_without_iat_or_jti_is_stored_as_issued_at_0_with_an_empty_etag(region, tmp_path):
    account = new_account()
    claims = nats_jwt.build_claims(nats_jwt.ACCOUNT, "OLD", account.public_key, region.signing_key.public_key,
                                   {"limits": dict(nats_jwt.DEFAULT_ACCOUNT_LIMITS)})
    token = _signed_without(claims, region.signing_key, "iat", "jti")
    service = make_service(region, tmp_path / "store")
    assert run(service.push(account.public_key, token.encode())) == (200, "jti None, iat 0")

    async def scenario():
        async with running(service) as client:
            response = await client.get("/jwt/v1/accounts/" + account.public_key)
            assert response.status == 200 and (await response.text()) == token
            assert response.headers["ETag"] == '""'
    run(scenario())


def test_a_served_jwt_carries_its_etag_no_cache_and_the_jwt_type(region, tmp_path):
    account = new_account()
    token = region.mint(account)
    service = make_service(region, tmp_path / "store")
    assert run(service.push(account.public_key, token.encode()))[0] == 200

    async def scenario():
        async with running(service) as client:
            response = await client.get("/jwt/v1/accounts/" + account.public_key)
            assert (await response.text()) == token
            assert response.headers["ETag"] == '"%s"' % nats_jwt.decode(token).claims["jti"]
            assert response.headers["Cache-Control"] == "no-cache"
            assert response.headers["Content-Type"] == "application/jwt"
    run(scenario())


def test_a_secondary_refuses_a_push_naming_the_primary(region, tmp_path, caplog):
    account = new_account()
    service = make_service(region, tmp_path / "store", primary_url="http://primary.example:9090")
    message = "this account server is a secondary; push to the primary at http://primary.example:9090"
    with caplog.at_level(logging.INFO, logger=PUSH_LOGGER):
        assert run(service.push(account.public_key, region.mint(account).encode())) == (405, message)
    assert _push_lines(caplog) == [
        "push account=%s result=refused status=405 reason=%s" % (account.public_key, message)]
    assert 'cmsgs_acs_pushes_total{result="refused"} 1' in _metrics(service)


def test_a_body_of_exactly_max_body_bytes_is_taken_and_one_byte_more_is_413(region, tmp_path, caplog):
    account = new_account()
    body = region.mint(account, issued_at=now() - 5).encode().ljust(1024, b"\n")
    service = make_service(region, tmp_path / "store", max_body_bytes=1024)
    assert run(service.push(account.public_key, body))[0] == 200
    message = "the body is larger than max_body_bytes (1024 bytes); an account JWT is a few kilobytes"
    with caplog.at_level(logging.INFO, logger=PUSH_LOGGER):
        assert run(service.push(account.public_key, body + b"\n")) == (413, message)
    assert _push_lines(caplog) == [
        "push account=%s result=refused status=413 reason=%s" % (account.public_key, message)]


def test_an_older_push_is_409_naming_both_issue_times_and_the_stored_jti(region, tmp_path):
    account = new_account()
    stored = region.mint(account, issued_at=now() - 10)
    service = make_service(region, tmp_path / "store")
    assert run(service.push(account.public_key, stored.encode()))[0] == 200
    # One reading of the clock: a second boundary between two would change the expected time.
    older_at = now() - 60
    status, message = run(service.push(account.public_key, region.mint(account, issued_at=older_at).encode()))
    claims = nats_jwt.decode(stored).claims
    assert status == 409
    assert message == (
        "refused: the stored JWT of account %s was issued at %d (jti %s); this one was issued at %d and is older. "
        "Push a JWT issued after the stored one." % (account.public_key, claims["iat"], claims["jti"], older_at))


def test_a_failed_write_is_500_with_the_reason_logged_and_counted_as_error(region, tmp_path, monkeypatch, caplog):
    account = new_account()
    service = make_service(region, tmp_path / "store")
    _fail_writes(monkeypatch)
    with caplog.at_level(logging.INFO, logger="cmsgs_acs"):
        answer = run(service.push(account.public_key, region.mint(account).encode()))
    assert answer == (500, "error saving JWT: No space left on device")
    assert _lines(caplog, "cmsgs_acs", logging.ERROR) == [
        "cannot write the JWT of %s to %s: [Errno 28] No space left on device" % (account.public_key,
                                                                                  service.store.directory)]
    assert _push_lines(caplog) == [
        "push account=%s result=error status=500 reason=error saving JWT: No space left on device"
        % account.public_key]
    monkeypatch.undo()
    assert 'cmsgs_acs_pushes_total{result="error"} 1' in _metrics(service)


def test_the_push_log_shows_a_validation_refusal_on_one_line(region, tmp_path, caplog):
    account = new_account()
    service = make_service(region, tmp_path / "store")
    expired = region.mint(account, issued_at=now() - 100, expires=now() - 50)
    with caplog.at_level(logging.INFO, logger=PUSH_LOGGER):
        status, message = run(service.push(account.public_key, expired.encode()))
    assert status == 400 and "\n" in message
    assert _push_lines(caplog) == ["push account=%s result=refused status=400 reason=%s" % (
        account.public_key, message.replace("\n", " "))]


@pytest.mark.parametrize("path, shown", [
    ("x" * 80, "x" * 64),
    ("SA" + "B" * 56, "[seed]"),
])
def test_the_push_log_shows_a_path_account_cut_to_64_characters_and_seeds_hidden(
        region, tmp_path, caplog, path, shown):
    account = new_account()
    service = make_service(region, tmp_path / "store")
    with caplog.at_level(logging.INFO, logger=PUSH_LOGGER):
        status, _message = run(service.push(path, region.mint(account).encode()))
    assert status == 400
    [line] = _push_lines(caplog)
    assert line.startswith("push account=%s result=refused status=400 reason=pub keys don't match" % shown)
    assert "SAB" not in line


def test_a_push_whose_client_hangs_up_during_the_write_is_still_stored_served_and_logged(
        region, tmp_path, monkeypatch, caplog):
    account = new_account()
    service = make_service(region, tmp_path / "store")
    token = region.mint(account)
    writing, release = threading.Event(), threading.Event()
    real_write = store_module.write_atomic

    def held_write(*args):
        writing.set()
        release.wait(10)
        real_write(*args)
    monkeypatch.setattr(store_module, "write_atomic", held_write)

    async def scenario():
        push = asyncio.ensure_future(service.push(account.public_key, token.encode()))
        await asyncio.to_thread(writing.wait, 10)
        # What aiohttp does to the handler when the client hangs up (handler_cancellation).
        push.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await push
        for _attempt in range(250):
            if _push_lines(caplog):
                return
            await asyncio.sleep(0.02)
    with caplog.at_level(logging.INFO, logger=PUSH_LOGGER):
        run(scenario())
    assert service.store.get(account.public_key).data == token.encode()
    with open(os.path.join(service.store.directory, account.public_key + ".jwt"), "rb") as handle:
        assert handle.read() == token.encode()
    assert [line.split(" reason=")[0] for line in _push_lines(caplog)] == [
        "push account=%s result=stored status=200" % account.public_key]


def test_a_stored_push_while_nats_is_down_is_kept_to_notify_on_reconnect(region, tmp_path, caplog):
    account = new_account()
    service = make_service(region, tmp_path / "store")
    service.nats = NatsLink(service, ["nats://127.0.0.1:4222"], region.sys_creds, sync_interval=3600)
    with caplog.at_level(logging.INFO, logger="cmsgs_acs"):
        assert run(service.push(account.public_key, region.mint(account).encode()))[0] == 200
    assert _lines(caplog, "cmsgs_acs.nats", logging.WARNING) == [
        "account %s: not notified, NATS is not connected; will notify on reconnect" % account.public_key]
    assert 'cmsgs_acs_notifications_total{outcome="deferred"} 1' in _metrics(service)


# --- merges from the primary and peers ------------------------------------------


def test_a_refused_merge_is_logged_on_one_line_naming_account_and_source(region, tmp_path, caplog):
    account = new_account()
    service = make_service(region, tmp_path / "store")
    expired = region.mint(account, issued_at=now() - 100, expires=now() - 50)
    with caplog.at_level(logging.INFO, logger="cmsgs_acs"):
        assert run(service.merge("y" * 70, region.mint(account).encode(), "peer")) == "refused"
        assert run(service.merge(account.public_key, expired.encode(), "primary")) == "refused"
    lines = _lines(caplog, "cmsgs_acs", logging.WARNING)
    assert lines[0] == ("not taking the JWT of %s from peer: pub keys don't match: the path names %s, the JWT's "
                        "subject is %s" % ("y" * 64, "y" * 70, account.public_key))
    assert lines[1].startswith("not taking the JWT of %s from primary: The server was unable to update your "
                               "account JWT. One or more validation issues occurred. \t - claim is expired"
                               % account.public_key)
    assert len(lines) == 2 and "\n" not in lines[1]


def test_a_stored_merge_is_logged_when_debugging_and_counted_by_the_first_word_of_the_source(region, tmp_path,
                                                                                             caplog):
    first, second = new_account(), new_account()
    service = make_service(region, tmp_path / "store")
    tokens = [region.mint(first), region.mint(second)]
    with caplog.at_level(logging.DEBUG, logger="cmsgs_acs"):
        for account, token in zip((first, second), tokens):
            assert run(service.merge(account.public_key, token.encode(), "peer nats-2")) == "stored"
    assert _lines(caplog, "cmsgs_acs") == [
        "took the JWT of %s from peer nats-2 (jti %s)" % (account.public_key, nats_jwt.decode(token).claims["jti"])
        for account, token in zip((first, second), tokens)]
    assert 'cmsgs_acs_merges_total{source="peer",result="stored"} 2' in _metrics(service)


def test_a_merge_that_cannot_be_written_is_logged_and_counted_as_error(region, tmp_path, monkeypatch, caplog):
    account = new_account()
    service = make_service(region, tmp_path / "store")
    _fail_writes(monkeypatch)
    with caplog.at_level(logging.INFO, logger="cmsgs_acs"):
        assert run(service.merge(account.public_key, region.mint(account).encode(), "primary")) == "error"
    assert _lines(caplog, "cmsgs_acs", logging.ERROR) == [
        "cannot write the JWT of %s from primary: [Errno 28] No space left on device" % account.public_key]
    monkeypatch.undo()
    assert 'cmsgs_acs_merges_total{source="primary",result="error"} 1' in _metrics(service)
    assert os.listdir(tmp_path / "store") == []


def test_a_pack_counts_malformed_and_non_ascii_lines_as_refused_and_names_the_account(region, tmp_path, caplog):
    account = new_account()
    service = make_service(region, tmp_path / "store")
    token = region.mint(account)
    lines = [b"no separator here", "\u00e9t\u00e9".encode() + b"|" + token.encode(),
             account.public_key.encode() + b"|" + token.encode() + b"|extra"]
    with caplog.at_level(logging.INFO, logger="cmsgs_acs"):
        assert run(service.merge_pack(lines, "nats-pack")) == {"refused": 3}
    warnings = _lines(caplog, "cmsgs_acs", logging.WARNING)
    assert warnings[0] == "ignoring a malformed pack line from nats-pack"
    assert warnings[1].startswith("not taking the JWT of \ufffd\ufffdt\ufffd\ufffd from nats-pack: pub keys don't "
                                  "match")
    assert warnings[2].startswith("not taking the JWT of %s from nats-pack: bad JWT in request" % account.public_key)
    assert len(warnings) == 3


# --- expiry ----------------------------------------------------------------------


def test_deleting_expired_jwts_logs_each_account(region, tmp_path, caplog):
    expired, live = new_account(), new_account()
    store_dir = tmp_path / "store"
    os.makedirs(store_dir)
    (store_dir / (expired.public_key + ".jwt")).write_text(region.mint(expired, issued_at=now() - 99,
                                                                       expires=now() - 9))
    (store_dir / (live.public_key + ".jwt")).write_text(region.mint(live))
    service = make_service(region, store_dir, delete_expired=True)
    with caplog.at_level(logging.INFO, logger="cmsgs_acs"):
        run(service.expire())
    assert _lines(caplog, "cmsgs_acs") == ["deleted the expired JWT of account %s" % expired.public_key]
    assert os.listdir(store_dir) == [live.public_key + ".jwt"]


# --- start-up checks ---------------------------------------------------------------


def test_without_a_system_account_jwt_an_unknown_account_is_404(region, tmp_path):
    service = make_service(region, tmp_path / "store", system_account_jwt_path="")

    async def scenario():
        async with running(service) as client:
            assert (await client.get("/jwt/v1/accounts/" + new_account().public_key)).status == 404
            assert (await client.get("/jwt/v1/accounts/" + region.sys_pub)).status == 404
    run(scenario())


def _write(path, text) -> str:
    with open(str(path), "w") as handle:
        handle.write(text)
    return str(path)


def test_an_expired_system_account_jwt_is_still_served(region, tmp_path):
    sys_key = load_key(region.paths, region.sys_pub)
    token = region.mint(sys_key, name="SYS", issued_at=now() - 99, expires=now() - 9)
    service = make_service(region, tmp_path / "store", system_account_jwt_path=_write(tmp_path / "SYS.jwt", token))
    assert service.lookup(region.sys_pub) == (None, token.encode())


def test_a_user_jwt_as_the_system_account_jwt_is_refused(region, tmp_path):
    with open(region.sys_creds) as handle:
        user_token, _seed = nats_jwt.parse_creds(handle.read())
    path = _write(tmp_path / "SYS.jwt", user_token)
    with pytest.raises(ValueError) as failure:
        make_service(region, tmp_path / "store", system_account_jwt_path=path)
    assert str(failure.value) == ("system_account_jwt_path %s is not a readable account JWT: expected an account "
                                  "JWT, found a user JWT" % path)


def test_a_system_account_jwt_needs_an_operator_that_names_one(tmp_path, region):
    operator = nats_jwt.KeyPair(nats_jwt.new_seed(nats_jwt.OPERATOR))
    claims = nats_jwt.build_claims(nats_jwt.OPERATOR, "BARE", operator.public_key, operator.public_key,
                                   {"signing_keys": []})
    operator_path = _write(tmp_path / "BARE.jwt", nats_jwt.sign_claims(claims, operator))
    with pytest.raises(ValueError) as failure:
        make_service(region, tmp_path / "store", operator_jwt_path=operator_path)
    assert str(failure.value) == (
        "system_account_jwt_path %s cannot be the system account of operator BARE (%s), which names none; issue "
        "the operator JWT again with its system account set" % (region.sys_jwt_path, operator.public_key))


def test_a_system_account_jwt_signed_by_another_key_is_refused(region, tmp_path):
    sys_key = load_key(region.paths, region.sys_pub)
    stranger = nats_jwt.KeyPair(nats_jwt.new_seed(nats_jwt.OPERATOR))
    path = _write(tmp_path / "SYS.jwt", region.mint(sys_key, name="SYS", signer=stranger))
    with pytest.raises(ValueError) as failure:
        make_service(region, tmp_path / "store", system_account_jwt_path=path)
    assert str(failure.value) == (
        "system_account_jwt_path %s holds account %s signed by %s, which is neither the key of operator %s (%s) "
        "nor one of its signing keys; put back the SYS.jwt this operator issued"
        % (path, region.sys_pub, stranger.public_key, region.name, region.operator_key))


def _account_creds(region, tmp_path) -> str:
    account = new_account()
    claims = nats_jwt.build_claims(nats_jwt.ACCOUNT, "A", account.public_key, region.signing_key.public_key, {})
    user = nats_jwt.KeyPair(nats_jwt.new_seed(nats_jwt.USER))
    return _write(tmp_path / "account.creds", nats_jwt.render_creds(nats_jwt.sign_claims(claims, region.signing_key),
                                                                    user.seed))


def _expired_user_creds(region, tmp_path) -> str:
    account = load_key(region.paths, region.sys_pub)
    user = nats_jwt.KeyPair(nats_jwt.new_seed(nats_jwt.USER))
    claims = nats_jwt.build_claims(nats_jwt.USER, "old", user.public_key, account.public_key,
                                   dict({"pub": {}, "sub": {}}, **nats_jwt.DEFAULT_USER_LIMITS))
    claims["exp"] = now() - 9
    return _write(tmp_path / "old.creds", nats_jwt.render_creds(nats_jwt.sign_claims(claims, account, now() - 99),
                                                                user.seed))


@pytest.mark.parametrize("creds, reason", [
    ("missing", "No such file or directory"),
    ("account", "not a .creds file of a NATS user"),
    ("not ascii", "not a .creds file of a NATS user"),
])
def test_unusable_sys_creds_fail_at_start_with_the_reason(region, tmp_path, creds, reason):
    if creds == "missing":
        path = str(tmp_path / "missing.creds")
    elif creds == "account":
        path = _account_creds(region, tmp_path)
    else:
        with open(region.sys_creds) as handle:
            text = handle.read()
        path = str(tmp_path / "accented.creds")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("# cr\u00e9dentials\n" + text)
    with pytest.raises(ValueError) as failure:
        make_service(region, tmp_path / "store", nats_urls=["nats://127.0.0.1:4222"], sys_creds_path=path)
    assert str(failure.value) == "sys_creds_path %s cannot be used: %s" % (path, reason)


def test_expired_sys_creds_do_not_stop_the_start(region, tmp_path):
    path = _expired_user_creds(region, tmp_path)
    service = make_service(region, tmp_path / "store", nats_urls=["nats://127.0.0.1:4222"], sys_creds_path=path)
    assert service.nats is None and len(service.store) == 0
