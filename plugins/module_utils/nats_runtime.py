# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a nats-server binary makes of a file, and what the running server runs.

``nats-server -t`` prints the digest of the configuration it parsed
(``sha256:...``, taken over the parsed settings, so comments and layout do not
count), and the running server reports the digest of the configuration it has
loaded as ``config_digest`` in /varz: the same value for the same file. A
reload the server refuses (a setting it cannot reload) leaves the old digest,
although ``kill -HUP`` succeeded and /healthz answers 200.

Servers before 2.10 (Debian bookworm's 2.9.10) print and report no digest;
for them the load time in /varz is compared with the file's modification time:
a refused reload does not move the load time.
"""

from __future__ import annotations

import datetime
import json
import os
import pwd
import re
import time
from urllib.error import HTTPError

from ansible.module_utils.urls import open_url

_DIGEST = re.compile(r"\(sha256:([0-9a-f]{64})\)")
_URL_RESOLVER = re.compile(r"^\s*URL\((.+)\)\s*$")
# What nats-server gives its resolver's requests (DEFAULT_ACCOUNT_FETCH_TIMEOUT).
RESOLVER_TIMEOUT = 1.9
_VERSION = re.compile(r"v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)")


class RuntimeCheckError(Exception):
    """The binary or the running server could not be asked."""


def as_user(module, user, argv):
    """``argv`` run as ``user`` with its groups (setpriv), or as is when user is empty.

    A key the service user cannot read then fails the check as it would fail
    the server, instead of passing because root reads everything.
    """
    if not user:
        return argv
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise RuntimeCheckError("user %s does not exist; it is needed to check the configuration as the server would read it" % user) from None
    if entry.pw_uid == os.geteuid():
        return argv
    setpriv = module.get_bin_path("setpriv", required=True)
    return [setpriv, "--reuid=%d" % entry.pw_uid, "--regid=%d" % entry.pw_gid, "--init-groups", "--"] + list(argv)


def check_file(module, binary, path, user=None):
    """Run ``binary -t -c path`` as ``user``: return (rc, message, digest or None)."""
    rc, stdout, stderr = module.run_command(as_user(module, user, [binary, "-t", "-c", path]))
    message = (stderr or stdout).strip()
    match = _DIGEST.search(message)
    return rc, message, ("sha256:" + match.group(1)) if match and rc == 0 else None


def binary_version(module, binary):
    """The version a binary reports (2.15.1), or None."""
    rc, stdout, stderr = module.run_command([binary, "--version"])
    match = _VERSION.search(stdout or stderr or "")
    return match.group(1) if rc == 0 and match else None


def read_varz(url, timeout=5):
    """The server's /varz as a dict, or None when nothing answers."""
    try:
        response = open_url(url.rstrip("/") + "/varz", timeout=timeout, validate_certs=False)
        return json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError):
        return None


def health_problem(url, timeout=5):
    """Why the server's /healthz does not answer 200, in a sentence, or None when it does."""
    try:
        open_url(url.rstrip("/") + "/healthz", timeout=timeout, validate_certs=False).read()
        return None
    except HTTPError as exc:
        try:
            reason = json.loads(exc.read().decode("utf-8")).get("error") or exc.reason
        except (OSError, ValueError, AttributeError):
            reason = exc.reason
        return "its /healthz answers %d: %s" % (exc.code, reason)
    except OSError as exc:
        return "its /healthz does not answer: %s" % exc


def url_resolver(config):
    """The accounts URL of a configuration's url resolver (``resolver: URL(...)``), or None."""
    match = _URL_RESOLVER.match(config.get("resolver")) if isinstance(config.get("resolver"), str) else None
    return match.group(1).strip() if match else None


def resolver_problem(config, timeout=RESOLVER_TIMEOUT):
    """Why nats-server would not start with this configuration's url resolver, or None.

    At every start nats-server GETs the resolver URL itself and exits unless
    the answer is 200; ``nats-server -t`` does not make that request. So it is
    made here, from the server's host, the same way: the same URL, the
    resolver_tls CA and client certificate, the same time limit.
    """
    url = url_resolver(config)
    if url is None:
        return None
    tls = config.get("resolver_tls") if isinstance(config.get("resolver_tls"), dict) else {}
    try:
        open_url(url, timeout=timeout, ca_path=tls.get("ca_file"), client_cert=tls.get("cert_file"),
                 client_key=tls.get("key_file"), validate_certs=not tls.get("insecure")).read()
        return None
    except HTTPError as exc:
        reason = "it answers %d %s" % (exc.code, exc.reason)
    except (OSError, ValueError) as exc:
        reason = "it does not answer: %s" % (getattr(exc, "reason", None) or exc)
    return ("nats-server would not start with this configuration: its url resolver %s, which it fetches at "
            "every start (and exits when that fails), cannot be used from this host, %s. Bring the account "
            "server up first (site.yml runs the account servers before the message servers, "
            "playbooks/acs.yml runs them alone), or correct nats_server_resolver_url" % (url, reason))


def _parse_time(text):
    # Go prints nanoseconds; Python's fromisoformat takes microseconds at most.
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text or "")
    if not match:
        return None
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.datetime.fromisoformat("%s.%s%s" % (match.group(1), fraction, zone))


def compare(varz, file_digest, file_mtime, version):
    """What differs between the running server and the disk.

    Returns a dict: ``running`` (bool), ``running_version``,
    ``running_digest``, ``method`` (``digest``, ``load_time`` or ``none``),
    ``version_matches``, ``config_matches`` and ``differences`` (a list of
    sentences, empty when the server runs what is on disk).
    """
    if varz is None:
        return {"running": False, "server_name": None, "running_version": None, "running_digest": None, "method": "none",
                "version_matches": False, "config_matches": False,
                "differences": ["the server does not answer on its monitoring port"]}
    differences = []
    running_version = varz.get("version") or None
    version_matches = version is None or running_version == version
    if not version_matches:
        running = "version %s" % running_version if running_version else "a version its /varz does not name"
        differences.append("it runs %s, the binary on disk is %s" % (running, version))
    running_digest = varz.get("config_digest") or None
    if running_digest and file_digest:
        method = "digest"
        config_matches = running_digest == file_digest
        if not config_matches:
            differences.append("it runs the configuration %s, the file on disk is %s" % (running_digest, file_digest))
    else:
        # No digest on one side (nats-server before 2.10): the configuration
        # must have been loaded after the file was last written.
        method = "load_time"
        loaded = _parse_time(varz.get("config_load_time"))
        written = datetime.datetime.fromtimestamp(file_mtime, datetime.timezone.utc) if file_mtime is not None else None
        config_matches = loaded is not None and written is not None and loaded >= written
        if not config_matches:
            differences.append(
                "this nats-server reports no configuration digest, and it loaded its configuration (%s) "
                "before the file on disk was written (%s)"
                % (varz.get("config_load_time"), written.isoformat() if written else "unknown"))
    return {"running": True, "server_name": varz.get("server_name"), "running_version": running_version, "running_digest": running_digest,
            "method": method, "version_matches": version_matches, "config_matches": config_matches,
            "differences": differences}


def inspect(module, binary, config_path, monitor_url, user=None, wait_seconds=0, clock=time.monotonic, healthy=False):
    """Compare the server at ``monitor_url`` with ``binary`` and ``config_path`` on disk.

    A reload is applied after the signal returns, so a server that still runs
    something else is asked again for up to ``wait_seconds``. With
    ``healthy``, a server whose /healthz does not answer 200 differs too: one
    look every quarter second finds a server that just started as soon as it
    is up, where a wait of its own would look once a second.
    """
    rc, message, digest = check_file(module, binary, config_path, user)
    if rc != 0:
        raise RuntimeCheckError("%s -t rejects %s: %s" % (binary, config_path, message))
    try:
        mtime = os.stat(config_path).st_mtime
    except FileNotFoundError:
        mtime = None
    version = binary_version(module, binary)
    deadline = clock() + wait_seconds
    while True:
        state = compare(read_varz(monitor_url), digest, mtime, version)
        if healthy:
            problem = health_problem(monitor_url) if state["running"] else None
            state["healthy"] = state["running"] and problem is None
            if problem:
                state["differences"].append(problem)
        if not state["differences"] or clock() >= deadline:
            break
        time.sleep(0.25)
    state["file_digest"] = digest
    return state
