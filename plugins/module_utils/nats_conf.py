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
# restart (nats-server/server/reload.go refuses them). Dotted paths address
# nested blocks; a path matches the key itself and everything below it.
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
    "cluster.name",
    "cluster.listen",
    "cluster.host",
    "cluster.port",
    "cluster.advertise",
    "cluster.no_advertise",
    "gateway.name",
    "gateway.listen",
    "gateway.host",
    "gateway.port",
    "gateway.advertise",
    "gateway.reject_unknown_cluster",
    "gateway.gateways",
    "operator",
    "operators",
    "system_account",
    "resolver",
    "jetstream.store_dir",
)

# Settings that must never be written into a diff or an error message.
SECRET_KEYS = frozenset(("password", "token", "nkey_seed", "seed", "secret"))

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


def secret_values(config):
    """Every value held under a secret setting's name, at any depth."""
    found = set()
    if isinstance(config, dict):
        for key, value in config.items():
            if key in SECRET_KEYS and isinstance(value, (str, int)) and not isinstance(value, bool):
                found.add(str(value))
            else:
                found |= secret_values(value)
    elif isinstance(config, list):
        for item in config:
            found |= secret_values(item)
    return found


_SECRET_LINE = re.compile(r'^(\s*"?(?:%s)"?\s*[:=]\s*).*$' % "|".join(sorted(SECRET_KEYS)), re.MULTILINE)


def redact(text):
    """``text`` fit for diffs and messages: values of secret settings masked.

    Works on text rather than data so that an old file, which may not have been
    written by us, is masked the same way.
    """
    return _SECRET_LINE.sub(r'\g<1>"********"', text)
