# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The configuration file: JSON, one object, the keys below and no others.

Values may arrive as strings (an Ansible survey answer is always a string):
"9090" is a port, "false" is false. Every error names the key and says
what would be accepted, before anything starts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from cmsgs_acs import nats_jwt


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass
class Config:
    store_dir: str
    operator_jwt: str
    listen_host: str = "127.0.0.1"
    listen_port: int = 9090
    system_account_jwt_path: str = ""
    sys_creds_path: str = ""
    nats_urls: list = field(default_factory=list)
    primary_url: str = ""
    max_body_bytes: int = 64 * 1024
    request_timeout_seconds: float = 5.0
    pack_max: int = 10000
    delete_expired: bool = False
    log_level: str = "info"
    # How often a secondary pulls the primary's pack, and how often any
    # instance with NATS asks its peers for theirs (hash protocol).
    sync_interval_seconds: float = 10.0
    # CA bundle for tls:// NATS URLs whose servers use a private CA.
    nats_tls_ca_path: str = ""
    # The operator's public key, pinned: the operator JWT must have it as subject.
    operator_public_key: str = ""
    # Where the operator JWT came from, for messages: the key, or the key and its file.
    operator_source: str = "operator_jwt"

    @property
    def is_secondary(self) -> bool:
        return bool(self.primary_url)


def _boolean(key, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError("%s must be true or false, not %r" % (key, value))


def _integer(key, value, low, high):
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ConfigError("%s must be a whole number, not %r" % (key, value)) from None
    if not low <= number <= high:
        raise ConfigError("%s must be between %d and %d, not %d" % (key, low, high, number))
    return number


def _seconds(key, value):
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(str(value).strip())
    except ValueError:
        raise ConfigError("%s must be a number of seconds, not %r" % (key, value)) from None
    if not 0 < number <= 3600:
        raise ConfigError("%s must be more than 0 and at most 3600 seconds, not %r" % (key, value))
    return number


def _text(key, value):
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError("%s must be a string, not %r" % (key, value))
    return value.strip()


def _url_list(key, value):
    if value is None or value == "":
        return []
    if isinstance(value, str):
        # A survey gives one string; accept "nats://a:4222,nats://b:4222".
        value = [part for part in value.replace(" ", ",").split(",") if part]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError("%s must be a list of nats:// URLs, not %r" % (key, value))
    urls = [item.strip() for item in value if item.strip()]
    for url in urls:
        if not url.startswith(("nats://", "tls://")):
            raise ConfigError("%s: %r is not a nats:// or tls:// URL" % (key, url))
    return urls


def _http_url(key, value):
    url = _text(key, value).rstrip("/")
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError("%s must be an http:// or https:// URL (or empty on the primary), not %r" % (key, url))
    return url


_PARSERS = {
    "listen_host": _text,
    "listen_port": lambda k, v: _integer(k, v, 1, 65535),
    "store_dir": _text,
    "operator_jwt_path": _text,
    "operator_jwt": _text,
    "system_account_jwt_path": _text,
    "sys_creds_path": _text,
    "nats_urls": _url_list,
    "primary_url": _http_url,
    "max_body_bytes": lambda k, v: _integer(k, v, 1024, 1024 * 1024 + 1024),
    "request_timeout_seconds": _seconds,
    "pack_max": lambda k, v: _integer(k, v, 0, 1000000),
    "delete_expired": _boolean,
    "log_level": _text,
    "sync_interval_seconds": _seconds,
    "nats_tls_ca_path": _text,
    "operator_public_key": _text,
}


def parse(data: dict, source: str = "the configuration") -> Config:
    """Check every key of a decoded configuration and build a Config."""
    if not isinstance(data, dict):
        raise ConfigError("%s must be a JSON object" % source)
    unknown = sorted(set(data) - set(_PARSERS))
    if unknown:
        raise ConfigError("%s has unknown keys %s; the known keys are %s"
                          % (source, ", ".join(unknown), ", ".join(sorted(_PARSERS))))
    values = {key: _PARSERS[key](key, value) for key, value in data.items()}

    operator_path = values.pop("operator_jwt_path", "")
    operator_inline = values.pop("operator_jwt", "")
    if operator_path and operator_inline:
        raise ConfigError("%s sets both operator_jwt_path and operator_jwt; keep one" % source)
    if operator_path:
        try:
            with open(operator_path, encoding="ascii") as handle:
                operator_inline = handle.read().strip()
        except (OSError, UnicodeError) as exc:
            raise ConfigError("operator_jwt_path %s cannot be read: %s" % (operator_path, exc)) from None
    if not operator_inline:
        raise ConfigError("%s needs operator_jwt_path (or operator_jwt): without the operator "
                          "no pushed account can be trusted" % source)
    values["operator_source"] = "operator_jwt_path %s" % operator_path if operator_path else "operator_jwt"
    pin = values.get("operator_public_key", "")
    if pin and not nats_jwt.is_public_key(pin, nats_jwt.OPERATOR):
        raise ConfigError("operator_public_key must be the operator's public key (56 characters starting with O), "
                          "not %r; or leave it empty not to pin the operator" % pin)
    if not values.get("store_dir"):
        raise ConfigError("%s needs store_dir, the folder that holds the account JWTs" % source)
    level = values.get("log_level", "info").lower() or "info"
    if level not in LOG_LEVELS:
        raise ConfigError("log_level must be one of %s, not %r" % (", ".join(LOG_LEVELS), level))
    values["log_level"] = level
    if not values.get("listen_host"):
        values.pop("listen_host", None)
    if values.get("nats_urls") and not values.get("sys_creds_path"):
        raise ConfigError("nats_urls is set but sys_creds_path is empty: notifying the servers "
                          "needs a user of the system account")
    ca_path = values.get("nats_tls_ca_path")
    if ca_path and not os.path.isfile(ca_path):
        raise ConfigError("nats_tls_ca_path %s is not a file; give the CA bundle that signed the NATS "
                          "servers' certificates, or leave it empty" % ca_path)
    return Config(operator_jwt=operator_inline, **values)


def load(path: str) -> Config:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise ConfigError("the configuration file %s cannot be read: %s" % (path, exc)) from None
    except ValueError as exc:
        raise ConfigError("the configuration file %s is not valid JSON: %s" % (path, exc)) from None
    return parse(data, "the configuration file %s" % path)
