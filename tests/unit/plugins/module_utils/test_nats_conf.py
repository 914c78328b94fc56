# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering nats-server configuration from data, checked by the real nats-server."""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary, needs_nats_server
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_conf import (
    NatsConfError,
    fingerprint_of,
    redact,
    render,
    restart_fingerprint,
    secret_values,
)

NATS_SERVER = nats_server_binary()


def _accepted(tmp_path, text):
    path = tmp_path / "nats.conf"
    path.write_text(text)
    return subprocess.run([NATS_SERVER, "-t", "-c", str(path)], capture_output=True, text=True, check=False)


@needs_nats_server
def test_rendered_configuration_is_accepted_by_nats_server(tmp_path):
    config = {
        "server_name": "nats-1",
        "listen": "0.0.0.0:4222",
        "http": "127.0.0.1:8222",
        "max_payload": 1048576,
        "debug": False,
        "lame_duck_duration": "30s",
        "jetstream": {"store_dir": str(tmp_path / "js"), "max_file_store": "1G", "max_memory_store": None},
        "authorization": {"users": [{"user": "a", "password": 'p"w\\x'}]},
        "cluster": {"name": "east", "listen": "0.0.0.0:6222", "routes": ["nats-route://n2:6222", "nats-route://n3:6222"]},
    }
    result = _accepted(tmp_path, render(config))
    assert result.returncode == 0, result.stderr


@needs_nats_server
def test_an_unknown_setting_is_rejected_by_nats_server(tmp_path):
    result = _accepted(tmp_path, render({"listen": "0.0.0.0:4222", "no_such_setting": 1}))
    assert result.returncode != 0
    assert 'unknown field "no_such_setting"' in result.stderr


def test_keys_are_sorted_and_nulls_left_out():
    text = render({"b": 1, "a": {"z": None, "y": True}, "c": None})
    body = text.split("\n\n", 1)[1]
    assert body == "a: {\n  y: true\n}\nb: 1\n"


def test_keys_that_are_not_identifiers_are_quoted_and_strings_escaped():
    body = render({"weird-key": 'say "hi"\n'}).split("\n\n", 1)[1]
    assert body == '"weird-key": "say \\"hi\\"\\n"\n'


def test_lists_render_one_item_per_line():
    body = render({"routes": ["a", "b"], "empty": []}).split("\n\n", 1)[1]
    assert body == 'empty: []\nroutes: [\n  "a"\n  "b"\n]\n'


@pytest.mark.parametrize("bad", [{"x": object()}, {"x": [None]}, {"": 1}])
def test_values_that_cannot_be_written_are_refused(bad):
    with pytest.raises(NatsConfError):
        render(bad)


def test_restart_fingerprint_ignores_reloadable_settings():
    base = {"listen": "0.0.0.0:4222", "max_payload": 1, "cluster": {"name": "c", "routes": ["a"]}}
    assert restart_fingerprint(base) == restart_fingerprint(dict(base, max_payload=2, debug=True))
    assert restart_fingerprint(base) == restart_fingerprint(dict(base, cluster={"name": "c", "routes": ["a", "b"]}))


@pytest.mark.parametrize(
    "change",
    [
        {"listen": "0.0.0.0:4223"},
        {"server_name": "other"},
        {"cluster": {"name": "d", "routes": ["a"]}},
        {"operator": "eyJ..."},
        {"system_account": "AB"},
        {"jetstream": {"store_dir": "/elsewhere"}},
    ],
)
def test_restart_fingerprint_covers_settings_a_reload_cannot_apply(change):
    base = {"listen": "0.0.0.0:4222", "cluster": {"name": "c", "routes": ["a"]}, "jetstream": {"store_dir": "/js"}}
    assert restart_fingerprint(base) != restart_fingerprint(dict(base, **change))


def test_the_fingerprint_is_recorded_in_the_file():
    config = {"listen": "0.0.0.0:4222"}
    assert fingerprint_of(render(config)) == restart_fingerprint(config)
    assert fingerprint_of("listen: 4222\n") is None


def test_watched_files_change_the_text_but_not_the_fingerprint():
    config = {"listen": "0.0.0.0:4222"}
    one = render(config, watched={"/certs/cert.pem": "aaa"})
    two = render(config, watched={"/certs/cert.pem": "bbb"})
    assert one != two
    assert fingerprint_of(one) == fingerprint_of(two)
    assert "# watched: /certs/cert.pem aaa" in one


def test_redact_masks_secret_settings():
    text = render({"authorization": {"user": "app", "password": "hunter2", "token": "t0k"}})
    masked = redact(text)
    assert "hunter2" not in masked and "t0k" not in masked
    assert 'user: "app"' in masked
    assert 'password: "********"' in masked


def test_secret_values_are_found_at_any_depth():
    config = {"authorization": {"users": [{"user": "a", "password": "pw1"}], "token": "tok"}, "debug": True}
    assert secret_values(config) == {"pw1", "tok"}
