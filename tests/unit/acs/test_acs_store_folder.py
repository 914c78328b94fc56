# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening the store folder: its mode, the files it skips or refuses (and the
log lines saying so), leftover temporaries, and writes that never go through
the system temporary folder."""

from __future__ import annotations

import logging
import os
import tempfile

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.tests.unit.acs.client import run
from ansible_collections.cmsgs.nats.tests.unit.acs.region import new_account, now, use_source_tree

use_source_tree()

from cmsgs_acs import store as store_module  # noqa: E402

STORE_LOGGER = "cmsgs_acs.store"


def _lines(caplog, level: int = logging.DEBUG) -> list:
    return [r.getMessage() for r in caplog.records if r.name == STORE_LOGGER and r.levelno >= level]


def _open(store_dir, caplog=None):
    store = store_module.Store(str(store_dir))
    if caplog is None:
        store.open()
    else:
        with caplog.at_level(logging.INFO, logger=STORE_LOGGER):
            store.open()
    return store


def _refuse_chmod(monkeypatch):
    """The folder belongs to someone else: chmod is refused, as the kernel refuses it."""
    def chmod(path, mode):
        raise PermissionError(1, "Operation not permitted", str(path))
    monkeypatch.setattr(store_module.os, "chmod", chmod)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize("existing", [False, True])
def test_a_0700_folder_needs_no_chmod_and_gives_no_warning(tmp_path, monkeypatch, caplog, umask_022, existing):
    store_dir = tmp_path / "store"
    if existing:
        os.mkdir(store_dir, 0o700)
    _refuse_chmod(monkeypatch)
    store = _open(store_dir, caplog)
    assert oct(os.stat(store_dir).st_mode & 0o777) == oct(0o700)
    assert _lines(caplog) == ["store %s holds 0 accounts" % store.directory]


def test_a_folder_open_to_others_is_made_0700(tmp_path):
    store_dir = tmp_path / "store"
    os.mkdir(store_dir)
    os.chmod(store_dir, 0o750)
    _open(store_dir)
    assert oct(os.stat(store_dir).st_mode & 0o777) == oct(0o700)


def test_a_folder_open_to_others_and_not_ours_is_warned_about(tmp_path, monkeypatch, caplog):
    store_dir = tmp_path / "store"
    os.mkdir(store_dir)
    os.chmod(store_dir, 0o755)
    _refuse_chmod(monkeypatch)
    store = _open(store_dir, caplog)
    assert _lines(caplog, logging.WARNING) == [
        "store %s has mode 0755 and is not ours to change; it should be 0700" % store.directory]


def test_the_store_opens_and_writes_when_the_system_temporary_folder_is_unusable(region, tmp_path, monkeypatch):
    account = new_account()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-tmp"))
    store = _open(tmp_path / "store")
    token = region.mint(account)
    assert run(store.save(nats_jwt.decode(token)))[0] is True
    assert os.listdir(tmp_path / "store") == [account.public_key + ".jwt"]
    assert (tmp_path / "store" / (account.public_key + ".jwt")).read_text() == token


def test_a_leftover_temporary_is_removed_and_the_accounts_after_it_load(region, tmp_path, caplog):
    account = new_account()
    store_dir = tmp_path / "store"
    os.makedirs(store_dir)
    (store_dir / ".tmp-abc123").write_text("half a JWT")
    (store_dir / (account.public_key + ".jwt")).write_text(region.mint(account))
    store = _open(store_dir, caplog)
    assert _lines(caplog) == ["removing %s, left over from an interrupted write" % (store_dir / ".tmp-abc123"),
                              "store %s holds 1 accounts" % store.directory]
    assert os.listdir(store_dir) == [account.public_key + ".jwt"]
    assert store.get(account.public_key) is not None


def test_other_files_and_folders_are_skipped_without_a_word(region, tmp_path, caplog):
    account = new_account()
    store_dir = tmp_path / "store"
    os.makedirs(store_dir / "backup.jwt")
    (store_dir / ".keep").write_text("")
    (store_dir / "README").write_text("account JWTs, one a file\n")
    (store_dir / (account.public_key + ".jwt")).write_text(region.mint(account))
    store = _open(store_dir, caplog)
    assert _lines(caplog) == ["store %s holds 1 accounts" % store.directory]
    assert [entry.pub for entry in store.live_entries()] == [account.public_key]


def test_files_that_hold_no_account_jwt_of_their_name_are_ignored_with_an_error(region, tmp_path, caplog):
    account, other = new_account(), new_account()
    user = nats_jwt.KeyPair(nats_jwt.new_seed(nats_jwt.USER))
    user_token = nats_jwt.sign_claims(nats_jwt.build_claims(nats_jwt.USER, "u", user.public_key, account.public_key,
                                                            {"pub": {}, "sub": {}}), account)
    store_dir = tmp_path / "store"
    os.makedirs(store_dir)
    # "A.jwt" and "AA.jwt" sort before every account key, so the account is read after them.
    (store_dir / "A.jwt").write_text("garbage")
    (store_dir / "AA.jwt").write_text(region.mint(other))
    (store_dir / (user.public_key + ".jwt")).write_text(user_token)
    (store_dir / (account.public_key + ".jwt")).write_text(region.mint(account))
    store = _open(store_dir, caplog)
    assert _lines(caplog, logging.ERROR) == [
        "ignoring %s: not an account JWT (a JWT has three dot-separated segments, this one has 1)"
        % (store_dir / "A.jwt"),
        "ignoring %s: it holds the JWT of account %s" % (store_dir / "AA.jwt", other.public_key),
        "ignoring %s: not an account JWT (expected an account JWT, found a user JWT)"
        % (store_dir / (user.public_key + ".jwt")),
    ]
    assert _lines(caplog, logging.INFO)[-1] == "store %s holds 1 accounts" % store.directory
    assert [entry.pub for entry in store.live_entries()] == [account.public_key]


def test_deleting_expired_jwts_without_a_time_judges_them_now(region, tmp_path):
    expired, live = new_account(), new_account()
    store_dir = tmp_path / "store"
    os.makedirs(store_dir)
    (store_dir / (expired.public_key + ".jwt")).write_text(region.mint(expired, issued_at=now() - 99,
                                                                       expires=now() - 9))
    (store_dir / (live.public_key + ".jwt")).write_text(region.mint(live, expires=now() + 3600))
    store = _open(store_dir)
    assert run(store.delete_expired()) == [expired.public_key]
    assert os.listdir(store_dir) == [live.public_key + ".jwt"]
