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
    check,
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
    # nats-server reloads a new cluster name, TLS files and advertise settings.
    assert restart_fingerprint(base) == restart_fingerprint(dict(base, cluster={"name": "d", "routes": ["a"]}))
    assert restart_fingerprint(base) == restart_fingerprint(dict(base, cluster={
        "name": "c", "routes": ["a"], "advertise": "h:1", "no_advertise": True, "tls": {"cert_file": "x"}}))
    assert restart_fingerprint(base) == restart_fingerprint(dict(base, gateway=None, tls={"cert_file": "x"}))


@pytest.mark.parametrize(
    "change",
    [
        {"listen": "0.0.0.0:4223"},
        {"server_name": "other"},
        {"cluster": {"name": "c", "routes": ["a"], "listen": "0.0.0.0:6223"}},
        {"operator": "eyJ..."},
        {"system_account": "AB"},
        {"jetstream": {"store_dir": "/elsewhere"}},
    ],
)
def test_restart_fingerprint_covers_settings_a_reload_cannot_apply(change):
    base = {"listen": "0.0.0.0:4222", "cluster": {"name": "c", "routes": ["a"]}, "jetstream": {"store_dir": "/js"}}
    assert restart_fingerprint(base) != restart_fingerprint(dict(base, **change))


# Each of these was seen refused by a reload on a real server
# (tests/integration_local/test_reload_oracle.py); the paths are spelled out
# here so that dropping one from the list fails a unit test as well.
@pytest.mark.parametrize("path", [
    "listen", "host", "port", "net", "http", "http_port", "https", "https_port", "monitor_port", "server_name",
    "lame_duck_duration", "max_pending",
    "cluster.listen", "cluster.host", "cluster.port",
    "gateway.name", "gateway.listen", "gateway.host", "gateway.port", "gateway.advertise",
    "gateway.reject_unknown_cluster", "gateway.gateways", "gateway.authorization", "gateway.connect_retries",
    "leafnodes.listen", "leafnodes.host", "leafnodes.port", "leafnodes.advertise", "leafnodes.authorization",
    "leafnodes.remotes",
    "websocket.listen", "websocket.host", "websocket.port", "websocket.advertise", "websocket.no_tls",
    "websocket.compression",
    "mqtt.listen", "mqtt.host", "mqtt.port",
    "operator", "operators", "system_account", "resolver",
    "jetstream.store_dir", "jetstream.max_memory_store", "jetstream.max_file_store",
])
def test_each_setting_a_reload_refuses_changes_the_fingerprint(path):
    def config(value):
        top, _dot, nested = path.partition(".")
        return {"listen": "0.0.0.0:4222", top: {nested: value} if nested else value}
    assert restart_fingerprint(config("one")) != restart_fingerprint(config("two"))


def test_a_nested_path_also_covers_what_is_below_it():
    base = {"gateway": {"name": "g", "gateways": [{"name": "h", "urls": ["nats://a:7222"]}]}}
    other = {"gateway": {"name": "g", "gateways": [{"name": "h", "urls": ["nats://b:7222"]}]}}
    assert restart_fingerprint(base) != restart_fingerprint(other)


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


def test_secret_values_take_the_password_or_the_token_of_a_url_and_seeds_in_any_string():
    seed = "SU" + "A" * 56
    config = {"leafnodes": {"remotes": [
        {"url": "nats://leaf:leafpw@h:7422"},
        {"urls": ["tls://s3cr3t-tok@h:7422", "nats://nobody:@h:7422", "nats://h:7422"]},
        {"credentials": "/etc/nats/leaf.creds", "note": "seed %s kept here" % seed},
    ]}}
    assert secret_values(config) == {"leafpw", "s3cr3t-tok", seed}


def test_jwt_values_finds_every_inline_jwt_and_nothing_else():
    from ansible_collections.cmsgs.nats.plugins.module_utils.nats_conf import jwt_values

    operator = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJPQUJDIn0.c2lnbmF0dXJl"
    account = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJBQUJDIn0.b3RoZXI"
    config = {
        "operator": operator,
        "resolver_preload": {"AABC": account},
        "listen": "0.0.0.0:4222",
        "tls": {"cert_file": "/srv/certs/cmserver/cert.pem"},
        "list": [1, True, None, "eyJ.not-a-jwt"],
    }
    assert jwt_values(config) == {operator, account}
    assert jwt_values({"operator": "/srv/ncred/REGION1.jwt"}) == set()


def _refusal(function, *args):
    with pytest.raises(NatsConfError) as failure:
        function(*args)
    return str(failure.value)


def test_refusals_say_where_the_bad_value_is():
    assert _refusal(render, ["listen"]) == "the configuration must be a mapping, got list"
    assert _refusal(render, {"": 1}) == "configuration keys must be non-empty strings, got ''"
    assert _refusal(render, {"cluster": {"routes": [None]}}) == "cluster.routes[0]: a list cannot hold an empty value"
    assert _refusal(render, {"cluster": {"pool": {"size": b"3"}}}).startswith(
        "cluster.pool.size: b'3' is not a string, number, boolean, list or mapping")


def test_scalars_are_spelled_as_nats_server_reads_them():
    body = render({"debug": False, "trace": True, "ping_interval": 1.5, "port": 4222, "tags": {}}).split("\n\n", 1)[1]
    assert body == "debug: false\nping_interval: 1.5\nport: 4222\ntags: {}\ntrace: true\n"


def test_only_the_first_lines_hold_the_fingerprint():
    assert fingerprint_of("\n" * 5 + "# restart-scope: abc\n") is None
    assert fingerprint_of("# a\n# restart-scope: abc \n") == "abc"


@pytest.mark.parametrize("payload, pending, words", [
    ("2MB", "1MB", "max_payload (2097152) is larger than max_pending (1048576): nats-server -t accepts this"),
    (70 * 1024 * 1024, None, "max_payload (73400320) is larger than max_pending (67108864, nats-server's default):"),
    ("1025", "1k", "max_payload (1025) is larger than max_pending (1024):"),
    ("2G", "1gb", "max_payload (2147483648) is larger than max_pending (1073741824):"),
    ("2T", "1 TB", "max_payload (2199023255552) is larger than max_pending (1099511627776):"),
])
def test_a_payload_larger_than_the_pending_limit_is_refused_before_the_server_refuses_to_start(payload, pending, words):
    config = {"max_payload": payload} if pending is None else {"max_payload": payload, "max_pending": pending}
    message = _refusal(check, config)
    assert message.startswith(words), message
    assert message.endswith("Lower max_payload (nats_server_max_payload) or raise max_pending.")


@pytest.mark.parametrize("config", [
    {"max_payload": "64MB"}, {"max_payload": "1MB", "max_pending": 1048576}, {"max_payload": 1024, "max_pending": "1K"},
    {"max_pending": "any text"}, {}, "not a mapping", {"max_payload": " 512 ", "max_pending": "1KiB"},
])
def test_payloads_within_the_pending_limit_pass(config):
    assert check(config) is None


@pytest.mark.parametrize("config, words", [
    ({"max_payload": True}, "max_payload must be a size in bytes, got True"),
    ({"max_payload": "1 megabyte"}, "max_payload must be a size in bytes, got '1 megabyte'"),
    ({"max_payload": 1, "max_pending": "lots"}, "max_pending must be a size in bytes, got 'lots'"),
])
def test_sizes_that_are_no_sizes_are_named(config, words):
    assert _refusal(check, config) == words


def test_redact_follows_blocks_to_tell_a_key_file_from_an_encryption_key():
    text = render({"jetstream": {"key": "s3cret-key", "store_dir": "/js"},
                   "tls": {"key": "/srv/certs/cmserver/privkey.pem"},
                   "leafnodes": {"remotes": [{"url": "nats://u:leafpw@h:7422"}]}})
    masked = redact(text)
    assert "s3cret-key" not in masked and "leafpw" not in masked
    assert 'key: "/srv/certs/cmserver/privkey.pem"' in masked and 'store_dir: "/js"' in masked
    assert "nats://u:********@h:7422" in masked


def test_known_secrets_are_masked_longest_first():
    assert redact("tags: [\"abcdef\"]", extra_secrets={"abc", "abcdef"}) == 'tags: ["********"]'


def test_nested_blocks_are_indented_by_depth_and_every_null_is_left_out():
    body = render({"cluster": {"authorization": None, "pool": {"a": None, "size": 3}, "routes": [{"url": "nats://a:6222"}]},
                   "debug": None}).split("\n\n", 1)[1]
    assert body == ('cluster: {\n  pool: {\n    size: 3\n  }\n  routes: [\n    {\n      url: "nats://a:6222"\n    }\n  ]\n}\n')


def test_each_watched_file_has_its_own_header_line_in_path_order():
    text = render({"listen": "0.0.0.0:4222"}, watched={"/certs/key.pem": "bbb", "/certs/cert.pem": "aaa"})
    assert text.split("\n")[2:5] == ["# watched: /certs/cert.pem aaa", "# watched: /certs/key.pem bbb", ""]


def test_jwts_in_a_list_are_found_too():
    from ansible_collections.cmsgs.nats.plugins.module_utils.nats_conf import jwt_values

    # nats-server takes several trusted operators as a list.
    first = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJPQUJDIn0.c2lnbmF0dXJl"
    second = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJPWFlaIn0.b3RoZXI"
    assert jwt_values({"operator": [first, " %s\n" % second], "accounts": []}) == {first, second}


def test_a_token_alone_in_a_url_is_masked_and_comments_are_not_settings():
    assert redact('leafnodes {\n  remotes = [ { url: "nats://s3cr3t-tok@h:7422" } ]\n}') == (
        'leafnodes {\n  remotes = [ { url: "nats://********@h:7422" } ]\n}')
    assert redact("# password: kept in the vault\nlisten: 4222") == "# password: kept in the vault\nlisten: 4222"


@pytest.mark.parametrize("inner", ['tags: [\n    "a"\n  ]', 'limits\n  {\n    max_mem: 1\n  }', 'tags\n  [\n    "a"\n  ]'])
def test_the_jetstream_key_is_masked_after_a_nested_block_or_list_in_any_brace_style(inner):
    old = 'jetstream {\n  %s\n  key: "s3cret-key"\n}\ntls {\n  key: "/srv/certs/privkey.pem"\n}' % inner
    masked = redact(old)
    assert "s3cret-key" not in masked and '  key: "********"' in masked.split("\n")
    assert '  key: "/srv/certs/privkey.pem"' in masked.split("\n")


def test_a_masked_setting_keeps_its_name_and_layout():
    assert redact('authorization {\n  password = "hunter2"\n}') == 'authorization {\n  password = "********"\n}'


def test_a_blank_line_inside_a_block_does_not_end_it():
    masked = redact('jetstream {\n  store_dir: "/js"\n\n  key: "s3cret-key"\n}')
    assert masked == 'jetstream {\n  store_dir: "/js"\n\n  key: "********"\n}'


def test_the_fingerprint_stays_what_files_already_on_hosts_record():
    # The files on hosts record this value. Were it spelled
    # differently (another JSON encoding, another list of paths), every server
    # would restart once after an upgrade of the collection, its settings unchanged.
    config = {"server_name": "nats-1", "listen": "0.0.0.0:4222", "max_payload": 1048576,
              "cluster": {"name": "east", "listen": "0.0.0.0:6222", "routes": ["nats-route://nats-2:6222"]},
              "jetstream": {"store_dir": "/var/lib/nats-server/jetstream"}}
    assert restart_fingerprint(config) == "d22ea8247414f82097a4a9c465f9bb31e0ad0f947091f38d748c5f720e34606d"


def test_the_fingerprint_does_not_depend_on_the_order_of_keys():
    one = {"gateway": {"name": "east", "listen": "0.0.0.0:7222", "authorization": {"user": "g", "password": "p"}}}
    two = {"gateway": {"authorization": {"password": "p", "user": "g"}, "listen": "0.0.0.0:7222", "name": "east"}}
    assert restart_fingerprint(one) == restart_fingerprint(two)


def test_a_known_secret_inside_another_is_masked_whole():
    # "b" sorts after "ab": masking it first would leave "a" of the longer secret behind.
    assert redact('tags: ["ab", "b"]', extra_secrets={"b", "ab"}) == 'tags: ["********", "********"]'


def test_credentials_and_seeds_quoted_in_a_comment_are_masked_too():
    seed = "SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU"
    old = "# was: nats://admin:hunter2@old-hub:7422\n# user seed %s\nlisten: 4222" % seed
    masked = redact(old)
    assert "hunter2" not in masked and seed not in masked
    assert masked == "# was: nats://admin:********@old-hub:7422\n# user seed ********\nlisten: 4222"
