# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The store: atomic writes, expiry policy, merges from the primary or peers, the pack hash."""

from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.cmsgs.nats.tests.unit.acs.client import make_service, run, snapshot
from ansible_collections.cmsgs.nats.tests.unit.acs.region import new_account, now, use_source_tree

use_source_tree()

from cmsgs_acs import nats_jwt  # noqa: E402
from cmsgs_acs import store as store_module  # noqa: E402
from cmsgs_acs.nats_jwt import ACCOUNT  # noqa: E402
from cmsgs_acs.nats_link import _account_of, _reply_outcome  # noqa: E402


def _expired_store(region, store_dir):
    account, live = new_account(), new_account()
    os.makedirs(store_dir)
    (store_dir / (account.public_key + ".jwt")).write_text(
        region.mint(account, issued_at=now() - 100, expires=now() - 10))
    (store_dir / (live.public_key + ".jwt")).write_text(region.mint(live, expires=now() + 3600))
    return account.public_key, live.public_key


@pytest.mark.parametrize("delete_expired", [False, True])
def test_expired_jwts_are_kept_unless_cleanup_is_asked_for(region, tmp_path, delete_expired):
    store_dir = tmp_path / "store"
    expired, live = _expired_store(region, store_dir)
    service = make_service(region, store_dir, delete_expired=delete_expired)
    run(service.expire())
    assert (store_dir / (expired + ".jwt")).exists() is not delete_expired
    assert (service.store.get(expired) is None) is delete_expired
    assert (store_dir / (live + ".jwt")).exists()


def test_the_pack_hash_is_the_xor_of_the_sha256_of_unexpired_jwts(region, tmp_path):
    store_dir = tmp_path / "store"
    expired, live = _expired_store(region, store_dir)
    service = make_service(region, store_dir)
    data = (store_dir / (live + ".jwt")).read_bytes()
    assert service.store.pack_hash() == hashlib.sha256(data).digest()
    assert service.store.pack_lines() == [live.encode() + b"|" + data]


def test_a_merge_keeps_the_newer_jwt_and_checks_trust(region, foreign_region, tmp_path):
    account = new_account()
    newer = region.mint(account, limits={"conn": 2}, issued_at=now())
    older = region.mint(account, limits={"conn": 9}, issued_at=now() - 50)
    service = make_service(region, tmp_path / "store")
    assert run(service.merge(account.public_key, newer.encode(), "primary")) == "stored"
    before = snapshot(tmp_path / "store")
    assert run(service.merge(account.public_key, older.encode(), "primary")) == "unchanged"
    assert run(service.merge(account.public_key, foreign_region.mint(account, issued_at=now() + 9).encode(),
                             "peer")) == "refused"
    counts = run(service.merge_pack([b"garbage-line", b"", account.public_key.encode() + b"|" + newer.encode()],
                                    "primary"))
    assert counts == {"refused": 1, "unchanged": 1}
    assert snapshot(tmp_path / "store") == before
    assert service.metrics.merges[("primary", "stored")] == 1


def test_a_failed_write_leaves_the_old_file_and_no_temporary(region, tmp_path, monkeypatch):
    account = new_account()
    service = make_service(region, tmp_path / "store")
    first = region.mint(account, issued_at=now() - 5)
    assert run(service.push(account.public_key, first.encode()))[0] == 200

    def failing_replace(source, target):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(store_module.os, "replace", failing_replace)
    status, message = run(service.push(account.public_key, region.mint(account, limits={"conn": 1}).encode()))
    assert status == 500 and "error saving JWT: No space left on device" in message
    assert os.listdir(tmp_path / "store") == [account.public_key + ".jwt"]
    assert (tmp_path / "store" / (account.public_key + ".jwt")).read_text() == first
    assert service.store.get(account.public_key).data == first.encode()


def test_subjects_and_server_replies_are_read_as_nats_server_writes_them():
    pub = new_account().public_key
    assert _account_of("$SYS.ACCOUNT.%s.CLAIMS.UPDATE" % pub) == pub
    assert _account_of("$SYS.REQ.ACCOUNT.%s.CLAIMS.LOOKUP" % pub) == pub
    assert _account_of("$SYS.REQ.CLAIMS.PACK") == ""
    applied = b'{"server":{"name":"n1"},"data":{"account":"A","code":200,"message":"jwt updated"}}'
    skipped = b'{"server":{"name":"n2"},"data":{"account":"A","code":200,"message":"jwt update skipped"}}'
    failed = b'{"server":{"name":"n3"},"error":{"account":"A","code":500,"description":"bad"}}'
    peer = b'{"server":{"name":"cmsgs-acs"},"data":{"account":"A","code":200,"message":"Updated jwt"}}'
    assert [_reply_outcome(r) for r in (applied, skipped, failed, peer, b"nonsense", b"[]")] == [
        ("applied", "n1"), ("skipped", "n2"), ("failed", "n3"), ("peer", "cmsgs-acs"), ("failed", "?"), ("failed", "?")]


def test_a_write_is_flushed_then_renamed_then_the_folder_flushed(tmp_path, monkeypatch):
    """What no crash test on a live kernel can show: the order of the syscalls."""
    events = []
    real_fsync, real_replace = store_module.os.fsync, store_module.os.replace

    def fsync(fd):
        events.append(("fsync", os.path.realpath("/proc/self/fd/%d" % fd)))
        real_fsync(fd)

    def replace(source, target):
        events.append(("replace", os.path.basename(source).startswith(".tmp-"), str(target)))
        real_replace(source, target)

    monkeypatch.setattr(store_module.os, "fsync", fsync)
    monkeypatch.setattr(store_module.os, "replace", replace)
    store_module.write_atomic(str(tmp_path), "A.jwt", b"token")
    target = str(tmp_path / "A.jwt")
    assert [event[0] for event in events] == ["fsync", "replace", "fsync"]
    assert os.path.basename(events[0][1]).startswith(".tmp-")
    assert events[1] == ("replace", True, target)
    assert events[2] == ("fsync", str(tmp_path))
    assert (tmp_path / "A.jwt").read_bytes() == b"token"
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o600)


def _open_store(store_dir, tokens):
    os.makedirs(store_dir, exist_ok=True)
    for account, token in tokens:
        (store_dir / (account.public_key + ".jwt")).write_text(token)
    store = store_module.Store(str(store_dir))
    store.open()
    return store


def test_a_pack_holds_every_live_jwt_in_key_order_and_its_hash_is_the_xor_of_all(region, tmp_path):
    accounts = sorted((new_account() for _count in range(3)), key=lambda pair: pair.public_key)
    store = _open_store(tmp_path / "store", [(a, region.mint(a, expires=now() + 3600)) for a in accounts])
    datas = [(tmp_path / "store" / (a.public_key + ".jwt")).read_bytes() for a in accounts]
    xor = 0
    for data in datas:
        xor ^= int.from_bytes(hashlib.sha256(data).digest(), "big")
    assert store.pack_hash() == xor.to_bytes(32, "big")
    lines = [a.public_key.encode() + b"|" + data for a, data in zip(accounts, datas)]
    assert store.pack_lines() == lines
    assert store.pack_lines(limit=1) == lines[:1] and store.pack_lines(limit=0) == []


def test_expiry_is_judged_at_the_time_asked_about(region, tmp_path):
    account, ancient = new_account(), new_account()
    expires = now() + 3600
    store = _open_store(tmp_path / "store", [(account, region.mint(account, expires=expires)),
                                             (ancient, region.mint(ancient, issued_at=0, expires=1))])
    assert [entry.pub for entry in store.live_entries()] == [account.public_key]
    # At its exp second a JWT still counts; after it, it is left out of packs and their hash.
    assert [entry.pub for entry in store.live_entries(now=expires)] == [account.public_key]
    assert store.pack_lines(now=expires + 1) == [] and store.pack_hash(now=expires + 1) == bytes(32)
    assert sorted(run(store.delete_expired(now=expires))) == [ancient.public_key]
    assert run(store.delete_expired(now=expires + 1)) == [account.public_key]
    assert len(store) == 0 and sorted(os.listdir(tmp_path / "store")) == []


def test_a_push_older_than_the_stored_jwt_is_refused_naming_both(region, tmp_path):
    account = new_account()
    store = _open_store(tmp_path / "store", [(account, region.mint(account, issued_at=now()))])
    older = nats_jwt.decode(region.mint(account, issued_at=now() - 60), expected_kind=ACCOUNT)
    with pytest.raises(store_module.OlderJwt) as failure:
        run(store.save(older))
    assert str(failure.value) == "older JWT"
    assert failure.value.current is store.get(account.public_key) and failure.value.offered.iat == older.claims["iat"]
    assert run(store.save(older, refuse_older=False)) == (False, store.get(account.public_key))
