# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Route peers restricted by pinned keys and by the route URLs' host names.

Four nats-servers on loopback, each configured as the nats_server role renders
it from its variables, with route TLS from one private CA (cmcluster/ under
each server's certs folder):

* a and b pin the keys of a, b and d (nats_server_cluster_pinned_certs) and
  check peers' names against their route URLs (nats_server_cluster_verify_known_urls,
  the routes name localhost);
* c has a certificate from the same CA for localhost, but its key is not pinned;
* d's key is pinned, but its certificate names intruder.example, no route URL's host.

c and d dial a and b. a and b must form the cluster and carry messages; c
and d must be refused, for the reason the server logs, and see no traffic.

Run: python -m pytest tests/integration_local/test_route_pinning.py
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.request

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import tls_spec
from ansible_collections.cmsgs.nats.tests.integration_local.role_rendered import rendered_config, role_variables
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import (
    NatsServer,
    Pki,
    cert_pem,
    free_port,
    key_pem,
    make_cert,
    make_key,
)

nats = pytest.importorskip("nats")
pytestmark = pytest.mark.skipif(nats_server_binary() is None, reason="nats-server binary not found")

CLIENT_TIMEOUT = 5
# Routes are retried about every second; a refusal shows within a few tries.
FORM_TIMEOUT = 15
NAMES = ("a", "b", "c", "d")
SANS = {"a": ("localhost",), "b": ("localhost",), "c": ("localhost",), "d": ("intruder.example", "127.0.0.1")}


def install_route_cert(pki, root, name):
    """cmcluster/{cert,privkey,ca}.pem of one server, issued by pki; returns the certificate."""
    folder = os.path.join(name, "certs", "cmcluster")
    os.makedirs(os.path.join(root, folder))
    key = make_key()
    cert = make_cert("route " + name, key, pki.ca, pki.ca_key, sans=SANS[name])
    pki.write(os.path.join(folder, "cert.pem"), cert_pem(cert))
    pki.write(os.path.join(folder, "privkey.pem"), key_pem(key))
    pki.write(os.path.join(folder, "ca.pem"), cert_pem(pki.ca))
    return cert


def routez(server):
    with urllib.request.urlopen("http://127.0.0.1:%d/routez" % server.monitor_port, timeout=5) as response:
        return json.load(response)


def route_peers(server):
    return sorted({route.get("remote_name") for route in routez(server).get("routes") or []})


def log_text(server):
    with open(server.log_path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def wait_for(predicate, what, timeout=FORM_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("%s not seen within %ss" % (what, timeout))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("route-pinning"))
    pki = Pki(root, name="Private Route CA")
    certs = {name: install_route_cert(pki, root, name) for name in NAMES}
    ports = {name: (free_port(), free_port(), free_port()) for name in NAMES}  # client, monitor, route
    route_url = {name: "nats-route://localhost:%d" % ports[name][2] for name in NAMES}
    # The keys as tls_cert_check reports them (spki_sha256).
    pins = [tls_spec.spki_sha256(certs[name]) for name in ("a", "b", "d")]
    trust = {
        "a": dict(nats_server_cluster_pinned_certs=pins, nats_server_cluster_verify_known_urls=True),
        "b": dict(nats_server_cluster_pinned_certs=pins, nats_server_cluster_verify_known_urls=True),
        "c": {},
        "d": dict(nats_server_cluster_pinned_certs=pins),
    }
    # Every server lists a and b: c and d try to join, a and b dial each other only.
    routes = [route_url["a"], route_url["b"]]
    servers = {}
    try:
        for name in NAMES:
            client_port, monitor_port, route_port = ports[name]
            variables = role_variables(
                os.path.join(root, name), nats_server_name=name, nats_server_port=client_port,
                nats_server_monitor_port=monitor_port, nats_server_cluster_name="east",
                nats_server_cluster_port=route_port, nats_server_cluster_routes=routes, **trust[name])
            server = NatsServer(os.path.join(root, name), rendered_config(variables),
                                [client_port, monitor_port, route_port], name=name)
            server.monitor_port = monitor_port
            server.url = "nats://127.0.0.1:%d" % client_port
            servers[name] = server.start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def test_the_rendered_route_tls_block_pins_and_checks_known_urls(cluster):
    with open(cluster["a"].config_path) as handle:
        text = handle.read()
    assert "pinned_certs" in text and "verify_cert_and_check_known_urls: true" in text
    with open(cluster["c"].config_path) as handle:
        assert "pinned_certs" not in handle.read()


def test_the_pinned_servers_form_the_cluster_and_the_others_are_refused(cluster):
    a, b, c, d = (cluster[name] for name in NAMES)
    wait_for(lambda: "b" in route_peers(a) and "a" in route_peers(b), "a route between a and b")
    # c's key is not pinned: a refuses it in the TLS handshake.
    wait_for(lambda: "TLS route handshake error: certificate not pinned" in log_text(a), "the pinning refusal in a's log")
    # d's is, and its handshake succeeds; the known-URL check then refuses it
    # as an unauthorized route (nats-server logs no finer reason), and d is told so.
    wait_for(lambda: "Router connection closed: Authentication Failure" in log_text(a), "the known-URL refusal in a's log")
    wait_for(lambda: "Route Error 'Authorization Violation'" in log_text(d), "the refusal in d's log")
    time.sleep(2)  # a few more of c's and d's retries
    assert route_peers(a) == ["b"] and route_peers(b) == ["a"]
    assert route_peers(c) == [] and route_peers(d) == []
    # b refuses c as a does.
    assert "TLS route handshake error: certificate not pinned" in log_text(b)


async def _crossing(cluster):
    options = dict(connect_timeout=CLIENT_TIMEOUT, allow_reconnect=False, max_reconnect_attempts=0)
    on_a = await nats.connect(cluster["a"].url, **options)
    on_b = await nats.connect(cluster["b"].url, **options)
    on_c = await nats.connect(cluster["c"].url, **options)
    try:
        received_a = await on_a.subscribe("orders.created")
        received_c = await on_c.subscribe("orders.created")
        await on_a.flush(timeout=CLIENT_TIMEOUT)
        await on_c.flush(timeout=CLIENT_TIMEOUT)
        # Interest crosses the route asynchronously: publish until a sees it.
        deadline = time.monotonic() + CLIENT_TIMEOUT
        while True:
            await on_b.publish("orders.created", b"order 42")
            await on_b.flush(timeout=CLIENT_TIMEOUT)
            try:
                message = await received_a.next_msg(timeout=0.5)
                break
            except nats.errors.TimeoutError:
                if time.monotonic() > deadline:
                    raise
        with pytest.raises(nats.errors.TimeoutError):
            await received_c.next_msg(timeout=1)
        return message.data
    finally:
        for client in (on_a, on_b, on_c):
            await client.close()


def test_a_message_crosses_the_pinned_route_and_not_to_the_refused_server(cluster):
    wait_for(lambda: "b" in route_peers(cluster["a"]), "a route between a and b")
    assert asyncio.run(asyncio.wait_for(_crossing(cluster), 4 * CLIENT_TIMEOUT)) == b"order 42"
