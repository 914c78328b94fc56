# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a nats-server configuration from data, and tell reloadable changes apart.

The roles assemble the configuration as a dict and hand it here, so no template
ever has to get braces and commas right. Everything that knows the file format
lives in this file. A setting whose value is null is left out, which lets the
roles write optional settings as plain data.
"""

from __future__ import annotations

import hashlib
import json
import re

# Settings nats-server cannot change on SIGHUP: changing any of these needs a
# restart. Dotted paths address nested blocks; a path matches the key itself and
# everything below it. tests/integration_local/test_reload_oracle.py changes each
# one on a running server (the pinned version and Debian's 2.9) and sees the
# reload refused; TLS blocks, cluster name, routes and advertise reload.
RESTART_REQUIRED_PATHS = (
    "listen",
    "host",
    "port",
    "net",
    "http",
    "http_port",
    "https",
    "https_port",
    "monitor_port",
    "server_name",
    "lame_duck_duration",
    "max_pending",
    "cluster.listen",
    "cluster.host",
    "cluster.port",
    "gateway.name",
    "gateway.listen",
    "gateway.host",
    "gateway.port",
    "gateway.advertise",
    "gateway.reject_unknown_cluster",
    "gateway.gateways",
    "gateway.authorization",
    "gateway.connect_retries",
    "leafnodes.listen",
    "leafnodes.host",
    "leafnodes.port",
    "leafnodes.advertise",
    "leafnodes.authorization",
    # 2.9 refuses these three; newer servers reload them.
    "leafnodes.remotes",
    "jetstream.max_memory_store",
    "jetstream.max_file_store",
    "websocket.listen",
    "websocket.host",
    "websocket.port",
    "websocket.advertise",
    "websocket.no_tls",
    "websocket.compression",
    "mqtt.listen",
    "mqtt.host",
    "mqtt.port",
    "operator",
    "operators",
    "system_account",
    "resolver",
    "jetstream.store_dir",
)

# Settings whose values must never leave the host's file: not in a diff, an
# error message, a result or the journal. nats-server reads setting names
# without regard to case (Password is password). Client, cluster, gateway,
# leafnode, websocket and mqtt authorization blocks and account users share
# the password and token names; the JetStream encryption key has five names.
SECRET_KEYS = frozenset((
    "password", "pass", "token", "auth_token", "nkey_seed", "seed", "secret",
    "ek", "encryption_key", "prev_key", "prev_ek", "prev_encryption_key",
))
# Names that are secret only inside a block: "key" is the JetStream encryption
# key, but in a tls block it is a file's path and stays readable.
SECRET_KEYS_IN_BLOCK = {"key": "jetstream"}
MASK = "********"

HEADER = "# Managed by the cmsgs.nats collection: local edits are replaced on the next run.\n"
_FINGERPRINT_PREFIX = "# restart-scope: "
_WATCHED_PREFIX = "# watched: "
_BARE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class NatsConfError(Exception):
    """A value in the configuration data cannot be written as nats-server syntax."""


def _key(name):
    if not isinstance(name, str) or not name:
        raise NatsConfError("configuration keys must be non-empty strings, got %r" % (name,))
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _scalar(value, where):
    # bool before int: bool is an int subclass in Python.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # JSON escaping is a subset of what the nats-server lexer understands
        # inside double quotes, so every string round-trips unchanged.
        return json.dumps(value)
    raise NatsConfError("%s: %r is not a string, number, boolean, list or mapping" % (where, value))


def _render_value(value, indent, where):
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = ["{"]
        for name in sorted(value):
            if value[name] is None:
                continue
            lines.append("%s  %s: %s" % (pad, _key(name), _render_value(value[name], indent + 1, "%s.%s" % (where, name))))
        lines.append(pad + "}")
        return "\n".join(lines)
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [_render_value(item, indent + 1, "%s[%d]" % (where, i)) for i, item in enumerate(value)]
        return "[\n" + "".join("%s  %s\n" % (pad, item) for item in items) + pad + "]"
    if value is None:
        raise NatsConfError("%s: a list cannot hold an empty value" % where)
    return _scalar(value, where)


def _pick(config, path):
    node = config
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def restart_fingerprint(config):
    """Hash of every setting that a reload cannot apply.

    Stored in the rendered file, so a later run can tell a reload from a
    restart without parsing the old file back.
    """
    scope = {path: _pick(config, path) for path in RESTART_REQUIRED_PATHS}
    blob = json.dumps(scope, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def render(config, watched=None):
    """Return the text of a nats-server configuration file for ``config``.

    ``watched`` maps files the server reads (certificates, keys) to their
    digests; they go into the header so that replacing one changes this file
    and the server is reloaded to pick it up.
    """
    if not isinstance(config, dict):
        raise NatsConfError("the configuration must be a mapping, got %s" % type(config).__name__)
    body = "".join(
        "%s: %s\n" % (_key(name), _render_value(config[name], 0, name)) for name in sorted(config) if config[name] is not None
    )
    watched_lines = "".join("%s%s %s\n" % (_WATCHED_PREFIX, path, digest) for path, digest in sorted((watched or {}).items()))
    return HEADER + _FINGERPRINT_PREFIX + restart_fingerprint(config) + "\n" + watched_lines + "\n" + body


def fingerprint_of(text):
    """The restart fingerprint recorded in a rendered file, or None."""
    for line in text.splitlines()[:5]:
        if line.startswith(_FINGERPRINT_PREFIX):
            return line[len(_FINGERPRINT_PREFIX):].strip()
    return None


def _is_secret(name, blocks):
    name = name.lower()
    return name in SECRET_KEYS or SECRET_KEYS_IN_BLOCK.get(name, None) in blocks


# Credentials inside URLs (nats://user:pass@host, nats://token@host) and
# nkey seeds (S + the key type + 56 base32 characters) are secret wherever
# they appear, whatever the setting is called.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s\"']*)(?::(?P<password>[^/@\s\"']*))?@")
_SEED = re.compile(r"\bS[OAUNCPX][A-Z2-7]{56}\b")


def _url_secrets(text):
    found = set()
    for match in _URL_CREDENTIALS.finditer(text):
        found.add(match.group("password") if match.group("password") is not None else match.group("user"))
    return {value for value in found if value} | set(_SEED.findall(text))


def secret_values(config, blocks=()):
    """Every secret string in the configuration data, at any depth.

    The values of secret settings, and the passwords, tokens and seeds
    found inside any string (URLs, mostly). Given to Ansible as no_log
    values, so they are masked in whatever the module returns or logs.
    """
    found = set()
    if isinstance(config, dict):
        for key, value in config.items():
            if isinstance(key, str) and _is_secret(key, blocks) and isinstance(value, (str, int, float)) \
                    and not isinstance(value, bool):
                found.add(str(value))
            else:
                found |= secret_values(value, blocks + (str(key).lower(),))
    elif isinstance(config, (list, tuple)):
        for item in config:
            found |= secret_values(item, blocks)
    elif isinstance(config, str):
        found |= _url_secrets(config)
    return {value for value in found if value}


_SETTING_LINE = re.compile(r'^(?P<lead>\s*"?(?P<name>[A-Za-z_][A-Za-z0-9_]*)"?\s*[:=]?\s*)(?P<value>.*)$')


def _mask_inline(text):
    def url(match):
        if match.group("password") is not None:
            return "%s%s:%s@" % (match.group("scheme"), match.group("user"), MASK)
        return "%s%s@" % (match.group("scheme"), MASK)
    return _SEED.sub(MASK, _URL_CREDENTIALS.sub(url, text))


def redact(text, extra_secrets=()):
    """``text`` fit for diffs and messages: values of secret settings masked.

    Works on text rather than data so that an old file, which may not have been
    written by us, is masked the same way. Blocks are followed by their braces,
    so "key" is masked inside jetstream and left alone in a tls block.
    ``extra_secrets`` are values known to be secret (from the data), masked
    wherever they appear.
    """
    blocks = []
    lines = []
    for line in text.split("\n"):
        stripped = line.strip()
        match = _SETTING_LINE.match(line)
        if stripped.startswith("#"):
            # Not a setting, but an old file's comment may still quote a URL with credentials or a seed.
            lines.append(_mask_inline(line))
            continue
        if match and not stripped.startswith(("}", "]", "{")):
            name, value = match.group("name"), match.group("value").strip()
            if value in ("{", "["):
                blocks.append(name.lower())
            elif _is_secret(name, tuple(blocks)) and value:
                line = '%s"%s"' % (match.group("lead"), MASK)
        elif stripped in ("{", "["):
            blocks.append("")
        elif stripped.startswith(("}", "]")) and blocks:
            blocks.pop()
        lines.append(_mask_inline(line))
    masked = "\n".join(lines)
    for secret in sorted(extra_secrets, key=len, reverse=True):
        masked = masked.replace(secret, MASK)
    return masked


# nats-server's default max_pending (server/const.go MAX_PENDING_SIZE).
DEFAULT_MAX_PENDING = 64 * 1024 * 1024
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)I?B?\s*$", re.IGNORECASE)


def _size(value, name):
    if isinstance(value, bool):
        raise NatsConfError("%s must be a size in bytes, got %r" % (name, value))
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise NatsConfError("%s must be a size in bytes, got %r" % (name, value))
    return int(match.group(1)) * 1024 ** " KMGT".index((match.group(2) or " ").upper())


def check(config):
    """Refuse settings that ``nats-server -t`` passes but the server will not start with."""
    if not isinstance(config, dict):
        return
    payload = config.get("max_payload")
    pending = config.get("max_pending")
    if payload is None:
        return
    payload_bytes = _size(payload, "max_payload")
    pending_bytes = DEFAULT_MAX_PENDING if pending is None else _size(pending, "max_pending")
    if payload_bytes > pending_bytes:
        raise NatsConfError(
            "max_payload (%d) is larger than max_pending (%d%s): nats-server -t accepts this, but the "
            "server refuses to start with it. Lower max_payload (nats_server_max_payload) or raise max_pending."
            % (payload_bytes, pending_bytes, ", nats-server's default" if pending is None else ""))


# A JWT inline in the configuration (operator mode: the operator, the Region One
# Token, and preloaded accounts) is kept out of what the module echoes, as a
# secret setting is: the operator JWT's file on the host is not world-readable.
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def jwt_values(config):
    """Every string in the configuration data, at any depth, that is a JWT."""
    if isinstance(config, dict):
        return set().union(*(jwt_values(value) for value in config.values())) if config else set()
    if isinstance(config, (list, tuple)):
        return set().union(*(jwt_values(item) for item in config)) if config else set()
    if isinstance(config, str) and _JWT.match(config.strip()):
        return {config.strip()}
    return set()
