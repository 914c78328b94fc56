# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The configuration file: survey strings accepted, every mistake named."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.cmsgs.nats.tests.unit.acs.region import acs_config, use_source_tree

use_source_tree()

from cmsgs_acs.config import ConfigError, load, parse  # noqa: E402


def test_strings_are_read_as_numbers_and_booleans(region, tmp_path):
    config = parse(acs_config(region, tmp_path, listen_port="9091", delete_expired="false", pack_max="5",
                              max_body_bytes="2048", request_timeout_seconds="2.5",
                              nats_urls="nats://127.0.0.1:4222, nats://127.0.0.1:4223"))
    assert config.listen_port == 9091 and config.delete_expired is False and config.pack_max == 5
    assert config.max_body_bytes == 2048 and config.request_timeout_seconds == 2.5
    assert config.nats_urls == ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]
    assert config.operator_jwt == region.operator_token
    assert parse(acs_config(region, tmp_path, delete_expired="True")).delete_expired is True


@pytest.mark.parametrize("change, words", [
    ({"listen_prot": 9090}, "unknown keys listen_prot"),
    ({"listen_port": "ninety"}, "listen_port must be a whole number"),
    ({"listen_port": 70000}, "listen_port must be between 1 and 65535"),
    ({"delete_expired": "maybe"}, "delete_expired must be true or false"),
    ({"store_dir": ""}, "needs store_dir"),
    ({"operator_jwt_path": ""}, "needs operator_jwt_path"),
    ({"operator_jwt_path": "/nonexistent/op.jwt"}, "operator_jwt_path /nonexistent/op.jwt cannot be read"),
    ({"operator_jwt": "x"}, "sets both operator_jwt_path and operator_jwt"),
    ({"nats_urls": ["http://x"]}, "is not a nats:// or tls:// URL"),
    ({"nats_urls": ["nats://127.0.0.1:4222"], "sys_creds_path": ""}, "sys_creds_path is empty"),
    ({"primary_url": "primary:9090"}, "primary_url must be an http:// or https:// URL"),
    ({"log_level": "loud"}, "log_level must be one of"),
    ({"request_timeout_seconds": 0}, "request_timeout_seconds must be more than 0"),
    ({"nats_tls_ca_path": "/nonexistent/ca.pem"}, "nats_tls_ca_path /nonexistent/ca.pem is not a file"),
])
def test_a_bad_value_is_named(region, tmp_path, change, words):
    data = acs_config(region, tmp_path)
    data.update(change)
    with pytest.raises(ConfigError, match=words):
        parse(data)


def test_a_file_that_is_not_json_is_named(tmp_path):
    path = tmp_path / "acs.json"
    path.write_text("listen_port: 9090\n")
    with pytest.raises(ConfigError, match="%s is not valid JSON" % path):
        load(str(path))


def test_the_command_line_reports_a_bad_file_and_its_version(region, tmp_path):
    path = tmp_path / "acs.json"
    path.write_text(json.dumps(dict(acs_config(region, tmp_path), listen_port="x")))
    bootstrap = ("import sys; from ansible_collections.cmsgs.nats.tests.unit.acs.region import use_source_tree; "
                 "use_source_tree(); from cmsgs_acs.cli import main; main(sys.argv[1:])")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    result = subprocess.run([sys.executable, "-c", bootstrap, "--config", str(path)], env=env, check=False,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "listen_port must be a whole number, not 'x'" in result.stderr
    version = subprocess.run([sys.executable, "-c", bootstrap, "--version"], env=env, check=False,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("cmsgs-acs ")


@pytest.mark.parametrize("change, words", [
    ({"system_account_jwt_path": "/nonexistent/SYS.jwt"}, "system_account_jwt_path /nonexistent/SYS.jwt is not"),
    ({"nats_urls": ["nats://127.0.0.1:4222"], "sys_creds_path": "/nonexistent/sys.creds"},
     "sys_creds_path /nonexistent/sys.creds cannot be used"),
])
def test_unusable_files_are_named_at_start(region, tmp_path, change, words):
    from cmsgs_acs.service import Service
    with pytest.raises(ValueError, match=words):
        Service(parse(dict(acs_config(region, tmp_path), **change)))


def test_the_system_account_file_must_hold_the_operator_system_account(region, tmp_path):
    from cmsgs_acs.service import Service
    with pytest.raises(ValueError, match="names %s as its system account" % region.sys_pub):
        Service(parse(dict(acs_config(region, tmp_path), system_account_jwt_path=region.app.entity.jwt_path)))


def test_creds_that_are_not_creds_fail_without_showing_them(region, tmp_path):
    from cmsgs_acs.service import Service
    secret = tmp_path / "secret.creds"
    secret.write_text("SUAPY7KLEK2XYYT7PGQZLU2KDBDE43ZPE4JBGTRLR462NVOI2ZM7VKYFKE")
    with pytest.raises(ValueError) as raised:
        Service(parse(dict(acs_config(region, tmp_path), nats_urls="nats://127.0.0.1:4222",
                           sys_creds_path=str(secret))))
    assert "not a .creds file" in str(raised.value) and "SUAPY" not in str(raised.value)
