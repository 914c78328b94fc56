# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the account server trusts at start: the pinned operator, and a SYS account JWT
that is that operator's system account, signed by it. Anything else stops it with
exit status 2 before it serves, naming the file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import ACCOUNT, OPERATOR, KeyPair
from ansible_collections.cmsgs.nats.tests.unit.acs.region import acs_config, use_source_tree

use_source_tree()

from cmsgs_acs.config import ConfigError, parse  # noqa: E402
from cmsgs_acs.service import Service  # noqa: E402


# Every run of base32 long enough to be a key. The message names public keys
# (56 characters, checked with their CRC); a seed (58, starting with S) or any
# other run is a leak. A bare seed pattern would also match inside a public key
# that happens to hold "S" and a type letter.
KEY_LIKE_RUN = re.compile(r"[A-Z2-7]{52,}")


def leaked_key_material(text):
    """The base32 runs of text that are not whole public keys."""
    return [run for run in KEY_LIKE_RUN.findall(text) if nats_jwt.key_kind(run) is None]


def _write(directory, name, token):
    path = os.path.join(str(directory), name)
    with open(path, "w") as handle:
        handle.write(token)
    return path


def _system_account(region, signer):
    """An account JWT for region's SYS key, signed by signer."""
    claims = nats_jwt.build_claims(ACCOUNT, "SYS", region.sys_pub, signer.public_key,
                                   {"limits": dict(nats_jwt.DEFAULT_ACCOUNT_LIMITS)})
    return nats_jwt.sign_claims(claims, signer)


def _start(region, tmp_path, **change):
    return Service(parse(dict(acs_config(region, tmp_path / "store"), **change)))


# --- the pinned operator ------------------------------------------------------------


def test_the_pinned_key_of_the_configured_operator_starts(region, tmp_path):
    service = _start(region, tmp_path, operator_public_key=region.operator_key)
    assert service.operator.public_key == region.operator_key


def test_an_operator_jwt_under_another_key_than_the_pin_is_refused_naming_the_file(region, foreign_region,
                                                                                   tmp_path):
    with pytest.raises(ValueError) as raised:
        _start(region, tmp_path, operator_jwt_path=foreign_region.operator_jwt_path,
               system_account_jwt_path="", operator_public_key=region.operator_key)
    message = str(raised.value)
    assert "operator_jwt_path %s holds operator %s" % (foreign_region.operator_jwt_path,
                                                       foreign_region.operator_key) in message
    assert "operator_public_key pins operator %s" % region.operator_key in message


def test_an_inline_operator_jwt_is_named_as_operator_jwt(region, foreign_region, tmp_path):
    with pytest.raises(ValueError, match="^operator_jwt holds operator %s" % foreign_region.operator_key):
        _start(region, tmp_path, operator_jwt_path="", operator_jwt=foreign_region.operator_token,
               system_account_jwt_path="", operator_public_key=region.operator_key)


def test_without_a_pin_any_operator_jwt_is_taken(foreign_region, tmp_path):
    assert _start(foreign_region, tmp_path).operator.public_key == foreign_region.operator_key


@pytest.mark.parametrize("pin", ["not-a-key", "A" + "B" * 55])
def test_a_pin_that_is_not_an_operator_key_is_a_configuration_error(region, tmp_path, pin):
    with pytest.raises(ConfigError, match="operator_public_key must be the operator's public key"):
        parse(dict(acs_config(region, tmp_path), operator_public_key=pin))


def test_an_account_key_as_the_pin_is_a_configuration_error(region, tmp_path):
    with pytest.raises(ConfigError, match="operator_public_key must be"):
        parse(dict(acs_config(region, tmp_path), operator_public_key=region.sys_pub))


# --- the system account JWT -------------------------------------------------------------


def test_the_system_account_signed_by_an_operator_signing_key_is_served(region, tmp_path):
    path = _write(tmp_path, "SYS.jwt", _system_account(region, region.signing_key))
    service = _start(region, tmp_path, system_account_jwt_path=path, operator_public_key=region.operator_key)
    _entry, served = service.lookup(region.sys_pub)
    assert served.decode() == open(path).read()


def test_the_system_account_key_signed_by_another_operator_is_refused(region, foreign_region, tmp_path):
    # Same subject as the genuine SYS, but another operator's signing key vouches for it.
    path = _write(tmp_path, "SYS.jwt", _system_account(region, foreign_region.signing_key))
    with pytest.raises(ValueError) as raised:
        _start(region, tmp_path, system_account_jwt_path=path)
    message = str(raised.value)
    assert "system_account_jwt_path %s holds account %s signed by %s" % (
        path, region.sys_pub, foreign_region.signing_key.public_key) in message
    assert "neither the key of operator REGION1 (%s)" % region.operator_key in message


def test_another_operators_system_account_is_refused(region, foreign_region, tmp_path):
    with pytest.raises(ValueError, match="system_account_jwt_path %s holds account %s, but operator REGION1 names %s"
                       % (foreign_region.sys_jwt_path, foreign_region.sys_pub, region.sys_pub)):
        _start(region, tmp_path, system_account_jwt_path=foreign_region.sys_jwt_path)


def test_an_operator_that_names_no_system_account_has_no_sys_to_serve(region, tmp_path):
    operator = KeyPair(nats_jwt.new_seed(OPERATOR))
    token = nats_jwt.sign_claims(nats_jwt.build_claims(OPERATOR, "REGION1", operator.public_key,
                                                       operator.public_key, {}), operator)
    operator_path = _write(tmp_path, "REGION1.jwt", token)
    with pytest.raises(ValueError, match="cannot be the system account of operator REGION1 .*which names none"):
        _start(region, tmp_path, operator_jwt_path=operator_path)
    # Without a SYS file to serve, that operator is still usable.
    assert _start(region, tmp_path, operator_jwt_path=operator_path, system_account_jwt_path="").operator.system_account == ""


def test_the_command_line_exits_2_naming_the_swapped_file_and_no_secret(region, foreign_region, tmp_path):
    swapped = _write(tmp_path, "SYS.jwt", _system_account(region, foreign_region.signing_key))
    path = tmp_path / "acs.json"
    path.write_text(json.dumps(dict(acs_config(region, tmp_path / "store"), system_account_jwt_path=swapped,
                                    operator_public_key=region.operator_key,
                                    nats_urls=["nats://127.0.0.1:4222"])))
    bootstrap = ("import sys; from ansible_collections.cmsgs.nats.tests.unit.acs.region import use_source_tree; "
                 "use_source_tree(); from cmsgs_acs.cli import main; main(sys.argv[1:])")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    result = subprocess.run([sys.executable, "-c", bootstrap, "--config", str(path)], env=env, check=False,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "system_account_jwt_path %s" % swapped in result.stderr
    # With nats_urls set, as in production: nothing of the sys creds is shown either.
    assert leaked_key_material(result.stderr) == [], result.stderr
    assert not os.path.exists(str(tmp_path / "store")), "the store was created before the checks"
