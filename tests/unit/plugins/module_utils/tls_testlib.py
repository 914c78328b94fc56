# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers of the TLS tests: certificates made on the spot, a real nats-server
on loopback ports, and a runner for module main() functions."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary

SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)

# The suites of the stack's spec as nats-server 2.12+ spells them.
SPEC_SUITES_GO = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
]


def make_key(kind="p256"):
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "p521":
        return ec.generate_private_key(ec.SECP521R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind == "dsa":
        # A key type Go cannot verify signatures of: 1024 bits to keep the test fast.
        return dsa.generate_private_key(key_size=1024)
    if kind == "ed448":
        return ed448.Ed448PrivateKey.generate()
    raise ValueError(kind)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_cert(common_name, key, issuer=None, issuer_key=None, ca=False, sans=(), ekus=(SERVER_AUTH, CLIENT_AUTH),
              digital_signature=True, not_before=None, not_after=None):
    """Issue a certificate; issuer None makes it self-signed.

    sans: host names and IP strings. ekus None leaves the extension out.
    """
    signer_key = issuer_key or key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.subject if issuer is not None else _name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - DAY)
        .not_valid_after(not_after or NOW + 90 * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=digital_signature, content_commitment=False,
            key_encipherment=not ca and isinstance(key, rsa.RSAPrivateKey),
            data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
            encipher_only=False, decipher_only=False,
        ), critical=True)
    )
    if sans:
        entries = []
        for san in sans:
            try:
                entries.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                entries.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    if ekus is not None and not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=False)
    algorithm = None if isinstance(signer_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()
    return builder.sign(signer_key, algorithm)


def file_lines(*paths):
    """The base64 lines of PEM files, to show that none of them leaked into an output."""
    lines = []
    for path in paths:
        with open(path) as handle:
            lines.extend(line for line in handle.read().splitlines() if line and not line.startswith("-----"))
    return lines


def cert_pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key, password=None):
    encryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


class Pki(object):
    """A CA with helpers to write leaf certificate sets as files."""

    def __init__(self, directory, name="Test NATS CA", kind="p256"):
        self.dir = directory
        self.ca_key = make_key(kind)
        self.ca = make_cert(name, self.ca_key, ca=True)
        self.ca_path = self.write("ca-%s.pem" % name.replace(" ", "_"), cert_pem(self.ca))

    def write(self, filename, data):
        path = os.path.join(str(self.dir), filename)
        with open(path, "wb") as handle:
            handle.write(data)
        if b"PRIVATE KEY" in data or filename.endswith(".key"):
            # As installed: a key readable by others is itself a finding.
            os.chmod(path, 0o600)
        return path

    def leaf(self, prefix, kind="p256", sans=("localhost", "127.0.0.1"), issuer=None, issuer_key=None, **kwargs):
        """Write <prefix>-cert.pem and <prefix>-key.pem; return (cert path, key path, cert, key)."""
        key = make_key(kind)
        cert = make_cert(prefix, key, issuer or self.ca, issuer_key or self.ca_key, sans=sans, **kwargs)
        return (self.write(prefix + "-cert.pem", cert_pem(cert)), self.write(prefix + "-key.pem", key_pem(key)),
                cert, key)

    def server_context(self, prefix, client_certificates=False):
        """A server-side TLS context with a new leaf <prefix> of this CA; asking clients for one of its leaves too."""
        cert, key, _cert, _key = self.leaf(prefix)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        if client_certificates:
            context.load_verify_locations(self.ca_path)
            context.verify_mode = ssl.CERT_REQUIRED
        return context


# ------------------------------------------------------------------ nats-server


def openssl_binary():
    return shutil.which("openssl")


needs_openssl = pytest.mark.skipif(openssl_binary() is None, reason="openssl command not found")


def reset_on_close(sock):
    """Make closing sock send a TCP reset instead of a FIN (SO_LINGER on, 0 seconds)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class FakePort(object):
    """A one-connection TCP server on 127.0.0.1 that plays a script of sends and reads."""

    def __init__(self, script, wait_for_client=False, address="127.0.0.1"):
        self.listener = socket.socket()
        self.listener.bind((address, 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.received = b""
        self.script = script
        # With wait_for_client, the script starts once the test's connect() has
        # returned (client_connected): a reset sent earlier can fail the connect
        # itself on a loaded machine, instead of the read under test.
        self.client_connected = threading.Event()
        if not wait_for_client:
            self.client_connected.set()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn = self.listener.accept()[0]
        conn.settimeout(5)
        self.client_connected.wait(5)
        try:
            for step in self.script:
                if step == "read":
                    self.received += conn.recv(65536)
                elif step == "reset":
                    reset_on_close(conn)
                    break
                elif isinstance(step, float):
                    time.sleep(step)
                else:
                    conn.sendall(step)
        except OSError:
            pass
        finally:
            conn.close()
            self.listener.close()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nats_server_version():
    """The output of `nats-server --version`, for example 'nats-server: v2.15.1'."""
    proc = subprocess.run([nats_server_binary(), "--version"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=30, check=True)
    return proc.stdout.decode("utf-8", "replace").strip()


def check_config(path):
    """Run `nats-server -t -c path`; return (exit code, output)."""
    proc = subprocess.run([nats_server_binary(), "-t", "-c", str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=30, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


class NatsServer(object):
    """A nats-server on 127.0.0.1 with the given configuration text."""

    def __init__(self, directory, config, ports, name="nats"):
        self.dir = str(directory)
        self.config_path = os.path.join(self.dir, name + ".conf")
        self.log_path = os.path.join(self.dir, name + ".log")
        self.ports = ports
        with open(self.config_path, "w") as handle:
            handle.write(config)
        self.proc = None

    def start(self, wait=15.0):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([nats_server_binary(), "-c", self.config_path],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + wait
        pending = list(self.ports)
        while pending:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("nats-server did not listen on %s: %s" % (pending, self.log_tail()))
            try:
                socket.create_connection(("127.0.0.1", pending[0]), timeout=0.5).close()
                pending.pop(0)
            except OSError:
                time.sleep(0.05)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self, lines=20):
        with open(self.log_path, "rb") as handle:
            return b"\n".join(handle.read().splitlines()[-lines:]).decode("utf-8", "replace")


def tls_block(cert, key, ca, extra=""):
    return """{
    cert_file: "%s"
    key_file: "%s"
    ca_file: "%s"
    curve_preferences: ["X25519"]
    cipher_suites: %s
    min_version: "1.2"
    timeout: 5
    %s
  }""" % (cert, key, ca, json.dumps(SPEC_SUITES_GO), extra)


# ---------------------------------------------------------------------- modules


def spec_server(directory):
    """Start a nats-server whose client and route listeners follow the stack's TLS spec.

    Returns a dict: server, client_port, route_port, ca_path, server_cert (object),
    client_cert/client_key (signed by the CA), rogue_cert/rogue_key (another CA).
    """
    directory = str(directory)
    pki = Pki(directory)
    rogue = Pki(os.path.join(directory), name="Rogue CA")
    server_cert_path, server_key_path, server_cert, _key = pki.leaf("server")
    client_cert, client_key, _c, _k = pki.leaf("client")
    rogue_cert, rogue_key, _rc, _rk = rogue.leaf("rogue")
    client_port, route_port = free_port(), free_port()
    config = """
listen: "127.0.0.1:%d"
tls %s
cluster {
  name: "c1"
  listen: "127.0.0.1:%d"
  tls %s
}
""" % (client_port, tls_block(server_cert_path, server_key_path, pki.ca_path),
       route_port, tls_block(server_cert_path, server_key_path, pki.ca_path))
    server = NatsServer(directory, config, [client_port, route_port], name="spec").start()
    return dict(server=server, client_port=client_port, route_port=route_port, ca_path=pki.ca_path,
                server_cert=server_cert, client_cert=client_cert, client_key=client_key,
                rogue_cert=rogue_cert, rogue_key=rogue_key, pki=pki)
