# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No secret of a nats-server configuration leaves the host's file: not in the
result, the diff, an error message or the invocation line sent to the journal.

Each case is a configuration the real nats-server accepts, so the file on
disk is known to hold the secret that everything else must hide.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic

from ansible_collections.cmsgs.nats.plugins.module_utils.nats_conf import redact, secret_values
from ansible_collections.cmsgs.nats.plugins.modules import nats_config
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary, needs_nats_server

pytestmark = needs_nats_server

SEED = "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4"
KEY32 = "0123456789abcdef0123456789abcdef"

# (name, configuration, the secrets it holds)
CASES = [
    ("authorization.password", {"authorization": {"user": "app", "password": "pw-Auth1"}}, ["pw-Auth1"]),
    ("authorization.pass", {"authorization": {"user": "app", "pass": "pw-Pass2"}}, ["pw-Pass2"]),
    ("authorization.Password", {"authorization": {"user": "app", "Password": "pw-Cap3"}}, ["pw-Cap3"]),
    ("authorization.token", {"authorization": {"token": "tok-Client4"}}, ["tok-Client4"]),
    ("authorization.users[].password",
     {"authorization": {"users": [{"user": "a", "password": "pw-Users5"}, {"user": "b", "password": "pw-Users6"}]}},
     ["pw-Users5", "pw-Users6"]),
    ("accounts.*.users[].password",
     {"accounts": {"APP": {"users": [{"user": "a", "password": "pw-Acc7"}]}}}, ["pw-Acc7"]),
    ("a password with quotes and backslashes",
     {"authorization": {"user": "app", "password": "pw\\'\"8"}}, ["pw\\'\"8"]),
    ("cluster.authorization and routes with credentials",
     {"cluster": {"name": "c1", "listen": "127.0.0.1:-1",
                  "authorization": {"user": "route", "password": "pw-Route9"},
                  "routes": ["nats-route://route:pw-Route9@127.0.0.1:1", "nats-route://other:pw-Url10@127.0.0.1:2"]}},
     ["pw-Route9", "pw-Url10"]),
    ("gateway.authorization and gateway URLs",
     {"gateway": {"name": "g1", "listen": "127.0.0.1:-1", "authorization": {"user": "gw", "password": "pw-Gw11"},
                  "gateways": [{"name": "g2", "url": "nats://tok-GwUrl12@127.0.0.1:3"}]}},
     ["pw-Gw11", "tok-GwUrl12"]),
    ("leafnodes.authorization and remote URLs",
     {"leafnodes": {"listen": "127.0.0.1:-1", "authorization": {"user": "leaf", "password": "pw-Leaf13"},
                    "remotes": [{"urls": ["nats-leaf://hub:pw-LeafUrl14@127.0.0.1:4"]}]}},
     ["pw-Leaf13", "pw-LeafUrl14"]),
    ("websocket.authorization.password",
     {"websocket": {"port": -1, "no_tls": True, "authorization": {"user": "ws", "password": "pw-Ws15"}}},
     ["pw-Ws15"]),
    ("mqtt.authorization.password",
     {"jetstream": {"store_dir": "JS"}, "mqtt": {"port": -1, "authorization": {"user": "mq", "password": "pw-Mqtt16"}}},
     ["pw-Mqtt16"]),
    ("jetstream.key and prev_key",
     {"jetstream": {"store_dir": "JS", "key": KEY32 + "k17", "prev_key": KEY32 + "p18"}},
     [KEY32 + "k17", KEY32 + "p18"]),
    ("jetstream.ek", {"jetstream": {"store_dir": "JS", "ek": KEY32 + "e19"}}, [KEY32 + "e19"]),
    ("jetstream.encryption_key", {"jetstream": {"store_dir": "JS", "encryption_key": KEY32 + "e20"}}, [KEY32 + "e20"]),
    ("jetstream.prev_encryption_key",
     {"jetstream": {"store_dir": "JS", "key": KEY32 + "k21", "prev_encryption_key": KEY32 + "p22"}},
     [KEY32 + "k21", KEY32 + "p22"]),
    ("jetstream.prev_ek",
     {"jetstream": {"store_dir": "JS", "key": KEY32 + "k23", "prev_ek": KEY32 + "p24"}},
     [KEY32 + "k23", KEY32 + "p24"]),
    ("an nkey seed in any string", {"server_tags": ["seed:" + SEED]}, [SEED]),
]


@pytest.fixture
def logged(monkeypatch):
    """Every line the module sends to the journal or syslog."""
    lines = []
    monkeypatch.setattr(basic.AnsibleModule, "_log_to_syslog", lambda self, msg: lines.append(msg))
    monkeypatch.setattr(basic, "has_journal", False)
    return lines


@pytest.fixture
def run(capsys, monkeypatch, tmp_path):
    def runner(config, **extra):
        (tmp_path / "JS").mkdir(exist_ok=True)
        config = json.loads(json.dumps(config).replace('"JS"', json.dumps(str(tmp_path / "JS"))))
        args = {"path": str(tmp_path / "nats-server.conf"), "config": dict({"server_name": "s1", "listen": "127.0.0.1:-1"}, **config),
                "nats_server_binary": nats_server_binary(), "_ansible_verbosity": 4}
        args.update(extra)
        return run_module(nats_config.main, capsys, monkeypatch, diff=True, **args)
    return runner


def _strings(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _spellings(secret):
    """The secret as is, as the file writes it and as a Python repr shows it."""
    return {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]}


def _leaks(secrets, *values):
    """Indexes of the secrets found in any string of values (never printed by an assert)."""
    texts = [text for value in values for text in _strings(value)]
    return [index for index, secret in enumerate(secrets)
            if any(spelling in text for spelling in _spellings(secret) for text in texts)]


@pytest.mark.parametrize("name,config,secrets", CASES, ids=[case[0] for case in CASES])
def test_every_secret_stays_in_the_file(run, logged, tmp_path, name, config, secrets):
    first = run(config)
    assert not first.get("failed"), first.get("msg")
    on_disk = (tmp_path / "nats-server.conf").read_text()
    assert _leaks(secrets, on_disk) == list(range(len(secrets)))  # the server gets them
    assert logged and "Invoked with" in logged[0]
    # A second run with a changed setting: the diff then has both sides.
    second = run(dict(config, max_connections=100))
    assert not second.get("failed"), second.get("msg")
    for result in (first, second):
        assert _leaks(secrets, result) == []
    assert _leaks(secrets, logged) == []
    assert "********" in second["diff"][0]["before"] and "********" in second["diff"][0]["after"]


def test_a_rejected_configuration_does_not_echo_its_secrets(run, logged):
    result = run({"authorization": {"user": "app", "password": "pw-Rejected"}, "no_such_setting": "pw-Rejected"})
    assert result["failed"] and "no_such_setting" in result["msg"]
    assert _leaks(["pw-Rejected"], result, logged) == []


def test_the_rest_of_the_configuration_stays_readable(run, tmp_path):
    result = run({"tls": {"cert_file": "/srv/cert.pem", "key_file": "/srv/key.pem"},
                  "authorization": {"user": "app", "password": "pw-Readable"}}, nats_server_binary="/bin/true")
    after = result["diff"][0]["after"]
    assert 'key_file: "/srv/key.pem"' in after and 'user: "app"' in after and 'server_name: "s1"' in after


def test_an_old_file_is_masked_by_its_text():
    old = ('authorization {\n  PASS = "x1"\n}\njetstream {\n  key: "x2"\n}\ntls {\n  key: "/k.pem"\n}\n'
           'leafnodes { remotes = [ { url: "nats://u:x3@h:1" } ] }\n')
    masked = redact(old)
    assert _leaks(["x1", "x2", "x3"], masked) == []
    assert 'key: "/k.pem"' in masked


def test_secret_values_finds_url_credentials_and_seeds():
    found = secret_values({"routes": ["nats://u:p1@h", "nats://t1@h"], "tags": [SEED], "tls": {"key": "/k"}})
    assert found == {"p1", "t1", SEED}


def test_a_secret_with_quotes_and_backslashes_is_masked_whole_in_the_invocation_line(run, logged):
    # The line shows the config as a Python repr, which escapes the secret: no character of it may stay beside the mask.
    assert not run({"authorization": {"user": "app", "password": "pw\\'\"8"}}).get("failed")
    assert "'authorization': {'user': 'app', 'password': '********'}" in logged[0]


def test_an_inline_jwt_stays_in_the_file(run, logged, tmp_path):
    # An account JWT preloaded in operator mode: the file holding it is not world-readable.
    jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJBQ0NPVU5UIn0.c2lnbmF0dXJlLW9mLXRoZS1vcGVyYXRvcg"
    result = run({"resolver_preload": {"ACCOUNT": jwt}}, nats_server_binary="/bin/true")
    assert not result.get("failed"), result.get("msg")
    assert _leaks([jwt], (tmp_path / "nats-server.conf").read_text()) == [0]
    assert _leaks([jwt], result, logged) == []
