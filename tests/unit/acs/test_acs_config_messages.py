# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole text of every configuration error, and the values each key accepts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.cmsgs.nats.tests.unit.acs.region import acs_config, use_source_tree

use_source_tree()

from cmsgs_acs.config import ConfigError, load, parse  # noqa: E402

SRC = "the configuration"
KNOWN = ("delete_expired, listen_host, listen_port, log_level, max_body_bytes, nats_tls_ca_path, nats_urls, "
         "operator_jwt, operator_jwt_path, operator_public_key, pack_max, primary_url, request_timeout_seconds, "
         "store_dir, sync_interval_seconds, sys_creds_path, system_account_jwt_path")


@pytest.mark.parametrize("change, message", [
    ({"delete_expired": "maybe"}, "delete_expired must be true or false, not 'maybe'"),
    ({"delete_expired": 1}, "delete_expired must be true or false, not 1"),
    ({"listen_port": "ninety"}, "listen_port must be a whole number, not 'ninety'"),
    ({"listen_port": True}, "listen_port must be a whole number, not True"),
    ({"listen_port": 0}, "listen_port must be between 1 and 65535, not 0"),
    ({"listen_port": "65536"}, "listen_port must be between 1 and 65535, not 65536"),
    ({"max_body_bytes": 1023}, "max_body_bytes must be between 1024 and 1049600, not 1023"),
    ({"max_body_bytes": 1049601}, "max_body_bytes must be between 1024 and 1049600, not 1049601"),
    ({"pack_max": -1}, "pack_max must be between 0 and 1000000, not -1"),
    ({"pack_max": 1000001}, "pack_max must be between 0 and 1000000, not 1000001"),
    ({"request_timeout_seconds": "soon"}, "request_timeout_seconds must be a number of seconds, not 'soon'"),
    ({"request_timeout_seconds": False}, "request_timeout_seconds must be a number of seconds, not False"),
    ({"request_timeout_seconds": "0"},
     "request_timeout_seconds must be more than 0 and at most 3600 seconds, not '0'"),
    ({"sync_interval_seconds": 3600.5},
     "sync_interval_seconds must be more than 0 and at most 3600 seconds, not 3600.5"),
    ({"listen_host": 5}, "listen_host must be a string, not 5"),
    ({"primary_url": 5}, "primary_url must be a string, not 5"),
    ({"nats_urls": 5}, "nats_urls must be a list of nats:// URLs, not 5"),
    ({"nats_urls": ["nats://a:4222", 5]}, "nats_urls must be a list of nats:// URLs, not ['nats://a:4222', 5]"),
    ({"nats_urls": "nats://a:4222,http://b"}, "nats_urls: 'http://b' is not a nats:// or tls:// URL"),
    ({"primary_url": " primary:9090/ "},
     "primary_url must be an http:// or https:// URL (or empty on the primary), not 'primary:9090'"),
    ({"operator_jwt": "x"}, "%s sets both operator_jwt_path and operator_jwt; keep one" % SRC),
    ({"operator_jwt_path": ""},
     "%s needs operator_jwt_path (or operator_jwt): without the operator no pushed account can be trusted" % SRC),
    ({"operator_public_key": "ABC"},
     "operator_public_key must be the operator's public key (56 characters starting with O), not 'ABC'; "
     "or leave it empty not to pin the operator"),
    ({"store_dir": " "}, "%s needs store_dir, the folder that holds the account JWTs" % SRC),
    ({"log_level": "Loud"}, "log_level must be one of debug, info, warning, error, not 'loud'"),
    ({"nats_urls": "nats://a:4222", "sys_creds_path": None},
     "nats_urls is set but sys_creds_path is empty: notifying the servers needs a user of the system account"),
    ({"nats_tls_ca_path": "/nonexistent/ca.pem"},
     "nats_tls_ca_path /nonexistent/ca.pem is not a file; give the CA bundle that signed the NATS servers' "
     "certificates, or leave it empty"),
    ({"listen_prot": 1, "a_key": 2}, "%s has unknown keys a_key, listen_prot; the known keys are %s" % (SRC, KNOWN)),
])
def test_each_bad_value_gets_its_whole_message(region, tmp_path, change, message):
    data = acs_config(region, tmp_path)
    data.update(change)
    with pytest.raises(ConfigError) as raised:
        parse(data)
    assert str(raised.value) == message


def test_a_configuration_that_is_not_an_object_is_named():
    with pytest.raises(ConfigError) as raised:
        parse(["store_dir"], "the configuration file /etc/acs.json")
    assert str(raised.value) == "the configuration file /etc/acs.json must be a JSON object"


def test_an_unreadable_operator_file_is_named_with_the_reason(region, tmp_path):
    binary = tmp_path / "op.jwt"
    binary.write_text("op\u00e9", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        parse(acs_config(region, tmp_path, operator_jwt_path=str(binary)))
    assert str(raised.value).startswith("operator_jwt_path %s cannot be read: " % binary)
    assert "'ascii' codec can't decode byte 0xc3 in position 2" in str(raised.value)


@pytest.mark.parametrize("text, expected", [
    ("yes", True), (" ON ", True), ("1", True), ("no", False), ("off", False), ("0", False), ("", False),
    (True, True), (False, False),
])
def test_survey_booleans_are_understood(region, tmp_path, text, expected):
    assert parse(acs_config(region, tmp_path, delete_expired=text)).delete_expired is expected


@pytest.mark.parametrize("key, value, expected", [
    ("listen_port", " 1 ", 1), ("listen_port", 65535, 65535),
    ("max_body_bytes", "1024", 1024), ("max_body_bytes", 1049600, 1049600),
    ("pack_max", "0", 0), ("pack_max", 1000000, 1000000),
    ("request_timeout_seconds", " 3600 ", 3600.0), ("sync_interval_seconds", "0.25", 0.25),
])
def test_numbers_at_their_limits_are_accepted(region, tmp_path, key, value, expected):
    assert getattr(parse(acs_config(region, tmp_path, **{key: value})), key) == expected


def test_defaults_and_tidied_values(region, tmp_path):
    data = {"store_dir": " %s " % tmp_path, "operator_jwt": " %s " % region.operator_token, "listen_host": "",
            "nats_urls": " nats://a:4222  tls://b:4222,", "sys_creds_path": region.sys_creds,
            "primary_url": "https://ACS-X//", "log_level": "WARNING", "system_account_jwt_path": None}
    config = parse(data)
    assert (config.store_dir, config.operator_jwt, config.listen_host) == (
        str(tmp_path), region.operator_token, "127.0.0.1")
    assert config.nats_urls == ["nats://a:4222", "tls://b:4222"]
    assert config.primary_url == "https://ACS-X" and config.is_secondary
    assert config.log_level == "warning" and config.system_account_jwt_path == ""
    assert config.operator_source == "operator_jwt"
    assert (config.listen_port, config.max_body_bytes, config.request_timeout_seconds, config.pack_max,
            config.delete_expired, config.sync_interval_seconds) == (9090, 65536, 5.0, 10000, False, 10.0)


@pytest.mark.parametrize("value", [None, "", []])
def test_no_nats_urls_means_none(region, tmp_path, value):
    config = parse(acs_config(region, tmp_path, nats_urls=value, sys_creds_path="", log_level=""))
    assert config.nats_urls == [] and config.log_level == "info" and not config.is_secondary


def test_the_operator_file_is_named_as_the_source(region, tmp_path):
    config = parse(acs_config(region, tmp_path, operator_public_key=region.operator_key))
    assert config.operator_source == "operator_jwt_path %s" % region.operator_jwt_path
    assert config.operator_jwt == region.operator_token and config.operator_public_key == region.operator_key


def test_load_names_the_file_in_every_message(region, tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(ConfigError) as raised:
        load(str(missing))
    assert str(raised.value) == ("the configuration file %s cannot be read: [Errno 2] No such file or directory: "
                                 "'%s'" % (missing, missing))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError) as raised:
        load(str(bad))
    assert str(raised.value).startswith("the configuration file %s is not valid JSON: Expecting" % bad)
    accented = tmp_path / "accented.json"
    accented.write_text('{"store_dir": "%s/d\u00e9p\u00f4t", "listen_port": 1}' % tmp_path, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load(str(accented))
    assert str(raised.value) == ("the configuration file %s needs operator_jwt_path (or operator_jwt): without the "
                                 "operator no pushed account can be trusted" % accented)


@pytest.mark.parametrize("extra, host", [({}, "127.0.0.1"), ({"listen_host": " "}, "127.0.0.1"),
                                         ({"listen_host": " 0.0.0.0 "}, "0.0.0.0"), ({"listen_host": "::1"}, "::1")])
def test_the_listen_host_is_kept_or_defaults_to_loopback(region, tmp_path, extra, host):
    config = parse(dict({"store_dir": str(tmp_path), "operator_jwt": region.operator_token}, **extra))
    assert config.listen_host == host and config.listen_port == 9090


LOAD_UNDER_ASCII_LOCALE = """
import json, sys
from ansible_collections.cmsgs.nats.tests.unit.acs.region import use_source_tree
use_source_tree()
from cmsgs_acs.config import load
print(json.dumps(load(sys.argv[1]).store_dir))
"""


def test_the_file_is_read_as_utf_8_under_a_c_locale(region, tmp_path):
    # systemd starts services with LANG unset (the C locale): a store folder named
    # in UTF-8 must read the same there as in the UTF-8 shell that wrote the file.
    store_dir = str(tmp_path / "comptes-région")
    path = tmp_path / "acs.json"
    path.write_bytes(json.dumps(acs_config(region, store_dir), ensure_ascii=False).encode("utf-8"))
    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0",
               PYTHONPATH=os.pathsep.join(os.path.abspath(entry) for entry in sys.path if entry))
    result = subprocess.run([sys.executable, "-X", "utf8=0", "-c", LOAD_UNDER_ASCII_LOCALE, str(path)],
                            capture_output=True, text=True, env=env, check=False)
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == store_dir == load(str(path)).store_dir
