# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe the TLS of a NATS port the way a peer connects to it.

On a client port nats-server first sends a plain ``INFO {...}`` line and the client
then starts TLS on the same socket. On route and gateway ports (and on client ports
with ``handshake_first``) the TLS handshake comes first and INFO follows inside TLS.

``openssl s_client`` has no NATS start-TLS, and Python's ssl module can neither limit
a client's key-exchange groups to X25519 nor report the group that was negotiated.
So the probe reads INFO itself, then relays the rest of the stream through an
ephemeral port on 127.0.0.1 to an ``openssl s_client`` run with the options under
test, and parses what s_client prints. Only the parsed fields leave this file: the
raw output holds session secrets (master key, PSK) and is never returned.
"""

from __future__ import annotations

import json
import re
import selectors
import socket
import subprocess
import tempfile
import threading
import time

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_spec

TLS_VERSION_FLAGS = {"1.2": "-tls1_2", "1.3": "-tls1_3"}
TLS13_SUITES = (
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
)

# Spellings people use for the same group: nats-server config names, OpenSSL
# curve names and the IANA/RFC names. OpenSSL's -groups takes the canonical ones.
_GROUP_ALIASES = {
    "x25519": "X25519",
    "x448": "X448",
    "p-256": "P-256",
    "p256": "P-256",
    "curvep256": "P-256",
    "prime256v1": "P-256",
    "secp256r1": "P-256",
    "p-384": "P-384",
    "p384": "P-384",
    "curvep384": "P-384",
    "secp384r1": "P-384",
    "p-521": "P-521",
    "p521": "P-521",
    "curvep521": "P-521",
    "secp521r1": "P-521",
}

_MAX_INFO_BYTES = 1024 * 1024
_CONNECT_LINE = (
    b'CONNECT {"verbose":false,"pedantic":false,"tls_required":false,'
    b'"name":"cmsgs.nats tls_probe","lang":"python","version":"0.1.0","protocol":1}\r\nPING\r\n'
)

_NEW_RE = re.compile(r"^New, (\S+), Cipher is (\S+)", re.M)
_SESSION_PROTOCOL_RE = re.compile(r"^\s+Protocol\s*:\s*(\S+)", re.M)
_GROUP_RE = re.compile(r"^Negotiated TLS1\.3 group: (\S+)", re.M)
_TEMP_KEY_RE = re.compile(r"^(?:Server|Peer) Temp Key: (.+)$", re.M)
_VERIFY_CODE_RE = re.compile(r"^\s*Verify return code: (\d+) \((.*)\)", re.M)
_VERIFY_ERROR_RE = re.compile(r"^verify error:num=\d+:(.+)$", re.M)
_PEER_CERT_RE = re.compile(
    r"^Server certificate\r?\n(-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----)", re.M | re.S
)
# What the server sends after the handshake reaches s_client's stdout unbuffered,
# so it can land in the middle of s_client's own (buffered) report. NATS lines end
# in CRLF, s_client's in LF, which tells them apart.
_NATS_LINE_RE = re.compile(r"(INFO (\{[^\r\n]*\})|PING|PONG|\+OK|-ERR [^\r\n]*)[ \t]*\r\n")
# OpenSSL 3 error lines: <thread>:error:<code>:<library>:<function>:<reason>:<file>:<line>:<data>
_OPENSSL_ERROR_RE = re.compile(r"^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]*):[^:]*:\d+:?(.*)$", re.M)
# Errors the local s_client raises before the server has a say.
_CLIENT_SETUP_ERRORS = ("no ciphers available", "no cipher match", "error setting", "failed to set")


class ProbeError(Exception):
    """The probe itself could not run (as opposed to the server refusing it)."""


def canonical_group(name):
    """X25519, P-256, ... for any common spelling; unknown names are kept as given."""
    return _GROUP_ALIASES.get(str(name).strip().lower(), str(name).strip())


def cipher_table(openssl):
    """Map IANA suite names to OpenSSL names, as the installed openssl knows them."""
    try:
        proc = subprocess.run(
            [openssl, "ciphers", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProbeError("cannot run %s ciphers: %s" % (openssl, exc))
    table = {}
    for line in proc.stdout.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "-":
            table[parts[0]] = parts[2]
    if not table:
        raise ProbeError("%s ciphers -stdname listed no suites; is it OpenSSL 1.1.1 or newer?" % openssl)
    return table


def openssl_cipher_list(names, tls_version, table):
    """The s_client spelling of the suites to offer.

    TLS 1.3 suites keep their IANA names (-ciphersuites); TLS 1.2 suites are given
    by IANA name (the stack's short CHACHA20 spelling included) or OpenSSL name.
    """
    if tls_version == "1.3":
        wrong = [name for name in names if name not in TLS13_SUITES]
        if wrong:
            raise ProbeError(
                "option ciphers: %s cannot be offered in TLS 1.3, whose suites are %s; the TLS 1.2 "
                "suites that nats-server's cipher_suites restricts are probed with tls_version=1.2"
                % (", ".join(wrong), ", ".join(TLS13_SUITES))
            )
        return list(names)
    known_openssl = set(table.values())
    result = []
    for name in names:
        iana = tls_spec.iana_cipher_name(name)
        if iana in table:
            result.append(table[iana])
        elif name in known_openssl:
            result.append(name)
        else:
            raise ProbeError(
                "option ciphers: %r is not a TLS suite the installed openssl knows; "
                "use IANA names such as TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" % name
            )
    return result


def parse_info(line):
    """Parse one `INFO {...}` protocol line into a dict."""
    text = line.decode("utf-8", "replace").strip()
    if not text.startswith("INFO "):
        raise ProbeError("the server's first line is not a NATS INFO line: %r" % text[:80])
    try:
        return json.loads(text[5:])
    except ValueError as exc:
        raise ProbeError("the server's INFO line is not valid JSON: %s" % exc)


def _recv_before(sock, deadline):
    """The next bytes from ``sock``: b"" when it was closed, None once ``deadline`` passed.

    Other socket errors propagate to the caller, which knows what they mean.
    """
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        sock.settimeout(remaining)
        try:
            return sock.recv(65536)
        except socket.timeout:
            continue


def read_info(sock, deadline):
    """Read the plain INFO line; return (info dict, bytes received after it)."""
    buffer = b""
    while b"\n" not in buffer:
        try:
            chunk = _recv_before(sock, deadline)
        except OSError as exc:
            raise ProbeError("reading INFO failed: %s" % exc)
        if chunk is None:
            raise ProbeError(
                "no INFO line from the server within the timeout; route and gateway ports "
                "(and client ports with handshake_first) start with TLS: set tls_first=true"
            )
        if not chunk:
            raise ProbeError(
                "the server closed the connection before sending INFO; route and gateway ports "
                "(and client ports with handshake_first) start with TLS: set tls_first=true"
            )
        buffer += chunk
        if len(buffer) > _MAX_INFO_BYTES:
            raise ProbeError("the server sent more than 1 MiB without a line break; is this a NATS port?")
    line, rest = buffer.split(b"\n", 1)
    return parse_info(line), rest


def _temp_key_group(text):
    # "X25519, 253 bits" or "ECDH, prime256v1, 256 bits" (OpenSSL 3.0) or "ECDH, P-256, 256 bits".
    parts = [p.strip() for p in text.split(",")]
    if parts[0] == "ECDH" and len(parts) > 1:
        return canonical_group(parts[1])
    return canonical_group(parts[0])


def _error_reasons(text):
    """OpenSSL error reasons, with the verify errors that explain them.

    Verify errors alone are not failures: without a CA file s_client reports an
    unverifiable chain and carries on.
    """
    reasons = []
    for match in _OPENSSL_ERROR_RE.finditer(text):
        reason = match.group(1).strip()
        data = match.group(2).strip()
        if data:
            reason = "%s (%s)" % (reason, data)
        if reason not in reasons:
            reasons.append(reason)
    if not reasons:
        return reasons
    for match in _VERIFY_ERROR_RE.finditer(text):
        reason = "verify error: %s" % match.group(1).strip()
        if reason not in reasons:
            reasons.append(reason)
    return reasons


def parse_s_client(text):
    """Pick the outcome of a handshake out of `openssl s_client` output.

    Handles OpenSSL 3.0 (Server Temp Key for both versions) and newer releases
    (Negotiated TLS1.3 group, Peer Temp Key).
    """
    parsed = {
        "protocol": None, "cipher": None, "group": None, "peer_cert_pem": None,
        "verify_code": None, "verify_message": None, "errors": [], "info": None,
    }
    for match in _NATS_LINE_RE.finditer(text):
        if match.group(2) and parsed["info"] is None:
            try:
                parsed["info"] = json.loads(match.group(2))
            except ValueError:
                pass
    text = _NATS_LINE_RE.sub("", text)
    parsed["errors"] = _error_reasons(text)
    new = _NEW_RE.search(text)
    if new and new.group(1) != "(NONE)" and new.group(2) != "(NONE)":
        parsed["protocol"], parsed["cipher"] = new.group(1), new.group(2)
    elif new is None:
        session = _SESSION_PROTOCOL_RE.search(text)
        parsed["protocol"] = session.group(1) if session else None
    group = _GROUP_RE.search(text)
    temp_key = _TEMP_KEY_RE.search(text)
    if group:
        parsed["group"] = canonical_group(group.group(1))
    elif temp_key:
        parsed["group"] = _temp_key_group(temp_key.group(1))
    cert = _PEER_CERT_RE.search(text)
    if cert:
        parsed["peer_cert_pem"] = cert.group(1)
    verify = _VERIFY_CODE_RE.search(text)
    if verify:
        parsed["verify_code"] = int(verify.group(1))
        parsed["verify_message"] = verify.group(2)
    return parsed


class _Relay(threading.Thread):
    """Copies bytes between the local s_client connection and the server socket."""

    def __init__(self, listener, upstream, initial, deadline):
        super().__init__(daemon=True)
        self._listener = listener
        self._upstream = upstream
        self._initial = initial
        self._deadline = deadline
        self._stop_event = threading.Event()
        self.connected = threading.Event()
        self.finished = threading.Event()
        self.last_activity = time.monotonic()
        self.server_bytes = 0
        self.server_closed_at = None
        self.deadline_reached = False
        self.error = None

    def stop(self):
        self._stop_event.set()

    def run(self):
        downstream = None
        try:
            downstream = self._accept()
            if downstream is None:
                return
            self.connected.set()
            if self._initial:
                downstream.sendall(self._initial)
            self._pump(downstream)
        finally:
            if downstream is not None:
                downstream.close()
            self.finished.set()

    def _accept(self):
        # Short waits, so that an s_client which gave up before connecting does
        # not hold the probe until the deadline.
        self._listener.settimeout(0.05)
        while not self._stop_event.is_set() and time.monotonic() < self._deadline:
            try:
                return self._listener.accept()[0]
            except socket.timeout:
                continue
            except OSError as exc:
                self.error = "openssl s_client did not connect to the relay: %s" % exc
                return None
        self.error = "openssl s_client did not connect to the relay"
        return None

    def _pump(self, downstream):
        peers = {downstream: self._upstream, self._upstream: downstream}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
            while not self._stop_event.is_set() and time.monotonic() < self._deadline:
                for key, _events in selector.select(timeout=0.05):
                    source = key.fileobj
                    try:
                        data = source.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        if source is self._upstream:
                            self.server_closed_at = time.monotonic()
                        return
                    if source is self._upstream:
                        self.server_bytes += len(data)
                    self.last_activity = time.monotonic()
                    target = peers[source]
                    # A timeout makes the socket blocking for this send, bounded by the deadline.
                    target.settimeout(max(0.01, self._deadline - time.monotonic()))
                    try:
                        target.sendall(data)
                    except OSError:
                        return
                    finally:
                        target.setblocking(False)
            # Closing s_client's side now makes it report "unexpected eof", which
            # is the deadline's doing, not the server's: say so.
            self.deadline_reached = not self._stop_event.is_set()


def s_client_argv(openssl, port, tls_version, groups=None, ciphers=None, client_cert=None,
                  client_key=None, ca_file=None, server_name=None):
    """Build the s_client command line for one handshake through the relay."""
    if tls_version not in TLS_VERSION_FLAGS:
        raise ProbeError("option tls_version must be one of %s, not %r" % (", ".join(TLS_VERSION_FLAGS), tls_version))
    argv = [openssl, "s_client", "-connect", "127.0.0.1:%d" % port, TLS_VERSION_FLAGS[tls_version]]
    if groups:
        argv += ["-groups", ":".join(canonical_group(g) for g in groups)]
    if ciphers:
        if tls_version == "1.3":
            argv += ["-ciphersuites", ":".join(ciphers)]
        else:
            # SECLEVEL=0 lets the client offer whatever is under test: the point is
            # to learn what the server accepts, not what this client would allow.
            argv += ["-cipher", ":".join(ciphers) + ":@SECLEVEL=0"]
    if client_cert:
        argv += ["-cert", client_cert]
    if client_key:
        argv += ["-key", client_key]
    if ca_file:
        argv += ["-CAfile", ca_file, "-verify_return_error"]
    if server_name:
        if _is_ip(server_name):
            argv += ["-noservername"]
            if ca_file:
                argv += ["-verify_ip", server_name]
        else:
            argv += ["-servername", server_name]
            if ca_file:
                argv += ["-verify_hostname", server_name]
    else:
        argv += ["-noservername"]
    return argv


def _is_ip(name):
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
    except (OSError, ValueError):
        return False
    return True


def _connect(host, port, deadline):
    started = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=max(0.01, deadline - started))
    except OSError as exc:
        raise ProbeError("cannot connect to %s:%s: %s" % (host, port, exc))
    return sock, time.monotonic() - started


def _version_label(protocol):
    return protocol[len("TLSv"):] if protocol and protocol.startswith("TLSv") else protocol


def _refused_by(errors):
    for reason in errors:
        if "alert" in reason or "unexpected eof" in reason:
            return "server"
    return "client" if errors else "server"


class _Handshake(object):
    """What one relayed s_client run left behind."""

    def __init__(self, text, timed_out, stdin_closed_at, relay):
        self.text = text
        self.timed_out = timed_out or relay.deadline_reached
        self.relay = relay
        # A server that drops the connection right after the handshake (nats-server
        # does so for a client certificate missing from pinned_certs) refused it.
        self.closed_by_server = relay.server_closed_at is not None and (
            stdin_closed_at is None or relay.server_closed_at < stdin_closed_at
        )


def _run_s_client(argv, relay, deadline, settle):
    """Run s_client until it ends, closing its stdin once the handshake has settled.

    s_client does not read stdin before its handshake completes; once it reads EOF
    it closes the connection. Waiting for the link to go quiet first lets it catch
    a TLS 1.3 alert the server sends after the handshake (a refused client certificate).
    """
    with tempfile.TemporaryFile() as output:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise ProbeError("cannot run %s: %s" % (argv[0], exc))
        timed_out = False
        stdin_closed_at = None
        try:
            while proc.poll() is None:
                now = time.monotonic()
                if now >= deadline:
                    timed_out = True
                    break
                quiet = relay.server_bytes and now - relay.last_activity >= settle
                if stdin_closed_at is None and (quiet or relay.finished.is_set()):
                    proc.stdin.close()
                    stdin_closed_at = now
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)
            if not proc.stdin.closed:
                proc.stdin.close()
        output.seek(0)
        return output.read().decode("utf-8", "replace"), timed_out, stdin_closed_at


def _relayed_handshake(upstream, initial, deadline, settle, make_argv):
    """Serve the rest of the upstream stream on 127.0.0.1 to an s_client."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        argv = make_argv(listener.getsockname()[1])
        relay = _Relay(listener, upstream, initial, deadline)
        relay.start()
        try:
            text, timed_out, stdin_closed_at = _run_s_client(argv, relay, deadline, settle)
        finally:
            relay.stop()
            relay.join(timeout=5)
    finally:
        listener.close()
    return _Handshake(text, timed_out, stdin_closed_at, relay)


def probe_tls(host, port, tls_version="1.3", groups=None, ciphers=None, client_cert=None, client_key=None,
              ca_file=None, server_name=None, tls_first=False, timeout=10.0, openssl="openssl"):
    """Try one TLS handshake on a NATS port; return what was negotiated or why not."""
    deadline = time.monotonic() + timeout
    table = cipher_table(openssl) if tls_version != "1.3" else {}
    openssl_ciphers = openssl_cipher_list(ciphers, tls_version, table) if ciphers else None

    def make_argv(relay_port):
        return s_client_argv(openssl, relay_port, tls_version, groups, openssl_ciphers,
                             client_cert, client_key, ca_file, server_name)

    upstream, rtt = _connect(host, port, deadline)
    info = None
    try:
        initial = b""
        if not tls_first:
            info, initial = read_info(upstream, deadline)
        handshake = _relayed_handshake(upstream, initial, deadline, max(0.3, 4 * rtt), make_argv)
    finally:
        upstream.close()

    parsed = parse_s_client(handshake.text)
    errors = parsed["errors"]
    if not handshake.relay.connected.is_set() or any(e.lower().startswith(_CLIENT_SETUP_ERRORS) for e in errors):
        raise ProbeError(
            "openssl s_client could not start the handshake (%s); check the options groups, ciphers, "
            "client_cert_path, client_key_path and ca_path"
            % ("; ".join(errors) or handshake.relay.error or "no error printed")
        )
    negotiated = parsed["cipher"] is not None
    by_openssl = {v: k for k, v in table.items()}
    result = {
        "accepted": False,
        "refused_by": None,
        "error": None,
        "tls_version": _version_label(parsed["protocol"]) if negotiated else None,
        "cipher": by_openssl.get(parsed["cipher"], parsed["cipher"]),
        "cipher_openssl": parsed["cipher"],
        "group": parsed["group"] if negotiated else None,
        "server_cert": None,
        "verify_code": parsed["verify_code"],
        "verify_message": parsed["verify_message"],
        "info": parsed["info"] if tls_first else info,
    }
    if parsed["peer_cert_pem"] and tls_spec.HAS_CRYPTOGRAPHY:
        cert = tls_spec.load_certificates(parsed["peer_cert_pem"].encode("ascii"))[0]
        result["server_cert"] = tls_spec.describe_certificate(cert)

    if handshake.timed_out:
        result["error"] = "the handshake did not finish within %s seconds" % timeout
        result["refused_by"] = "server"
    elif not negotiated or errors:
        result["error"] = "; ".join(errors) or "the server closed the connection during the handshake"
        result["refused_by"] = _refused_by(errors)
    elif handshake.closed_by_server:
        result["error"] = "the server closed the connection right after the handshake"
        result["refused_by"] = "server"
    else:
        result["accepted"] = True
    return result


def probe_plain(host, port, tls_first=False, timeout=10.0):
    """Talk plain NATS (CONNECT, PING) and report whether the server answers.

    On a port that requires TLS nats-server answers -ERR 'Secure Connection - TLS
    Required' or just closes the connection.
    """
    deadline = time.monotonic() + timeout
    result = {"accepted": False, "refused_by": None, "info": None, "reply": None, "error": None}
    sock, _rtt = _connect(host, port, deadline)
    try:
        buffer = b""
        if not tls_first:
            result["info"], buffer = read_info(sock, deadline)
        sock.sendall(_CONNECT_LINE)
        while True:
            lines = buffer.split(b"\r\n")
            for raw in lines[:-1]:
                line = raw.decode("utf-8", "replace").strip()
                if line in ("PONG", "+OK"):
                    result["accepted"], result["reply"] = True, line
                    return result
                if line.startswith("-ERR"):
                    result["reply"] = line
                    result["error"] = line[len("-ERR"):].strip().strip("'")
                    result["refused_by"] = "server"
                    return result
            try:
                chunk = _recv_before(sock, deadline)
            except OSError as exc:
                chunk = b""
                result["error"] = "the server reset the connection: %s" % exc
            if chunk is None:
                result["error"] = "no reply to CONNECT and PING within %s seconds" % timeout
                result["refused_by"] = "server"
                return result
            if not chunk:
                result["error"] = result["error"] or "the server closed the connection without a reply"
                result["refused_by"] = "server"
                return result
            buffer += chunk
    finally:
        sock.close()
