# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The push log line hides seeds but names every account in full, also the
accounts whose key holds a seed-like "SA…"/"SX…" run near its start."""

from __future__ import annotations

import logging

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.tests.unit.acs.client import make_service, run
from ansible_collections.cmsgs.nats.tests.unit.acs.region import new_account

from cmsgs_acs.service import SEED_PATTERN, redact_seeds  # noqa: E402  (source tree set up by client)


def _seed_like_account():
    """An account key that the bare seed pattern matches (about one key in forty)."""
    for _attempt in range(5000):
        account = new_account()
        if SEED_PATTERN.search(account.public_key):
            return account
    raise AssertionError("no account key with a seed-like run in 5000 tries")


def test_a_public_key_with_a_seed_like_run_is_not_redacted():
    account = _seed_like_account()
    assert redact_seeds("account %s refused" % account.public_key) == "account %s refused" % account.public_key


def test_seeds_are_redacted_alone_glued_and_truncated():
    seed = nats_jwt.new_seed(nats_jwt.ACCOUNT)
    for text in (seed, "name=" + seed, "NAME" + seed, seed[:54], seed + "XYZ"):
        redacted = redact_seeds(text)
        assert seed[2:54] not in redacted, text
        assert "[seed]" in redacted


def test_the_push_log_line_names_a_seed_like_account_in_full(region, tmp_path, caplog):
    account = _seed_like_account()
    service = make_service(region, tmp_path / "store")
    with caplog.at_level(logging.INFO, logger="cmsgs_acs.push"):
        status, _message = run(service.push(account.public_key, region.mint(account).encode()))
    assert status == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "cmsgs_acs.push"]
    assert lines[-1].startswith("push account=%s result=stored status=200" % account.public_key)
