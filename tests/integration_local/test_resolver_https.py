# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The URL resolver over HTTPS, through a TLS-terminating proxy, with a private CA.

A real account server (the cmsgs-acs wheel) listens on plain HTTP on
loopback; a TLS proxy in this test stands for the load balancer in front of
it, with a certificate for localhost from a private CA. nats-server runs in
operator mode with the configuration the nats_server role renders for
nats_server_resolver_url https://localhost:PORT/jwt/v1/accounts/ and
nats_server_resolver_tls_ca_file:

* with that CA's file, the server starts and admits a user of an account
  pushed to the account server, the lookups going through the proxy;
* with another CA's file, nats-server 2.15.1 refuses the proxy's certificate
  in the handshake of its start-up probe and exits with status 1 without
  listening, so nobody is admitted.

Run: python -m pytest tests/integration_local/test_resolver_https.py
"""

from __future__ import annotations

import asyncio
import ssl
import threading

import pytest

from ansible_collections.cmsgs.nats.tests.integration_local import test_acs_service as service_tests
from ansible_collections.cmsgs.nats.tests.integration_local.acs_processes import Acs, http, nsc_push
from ansible_collections.cmsgs.nats.tests.integration_local.role_rendered import rendered_config, role_variables
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import NatsServer, Pki, free_port

pytestmark = service_tests.pytestmark
# The account server tests' fixtures and helpers, shared rather than copied.
lib, region, processes = service_tests.lib, service_tests.region, service_tests.processes
start, admitted = service_tests.start, service_tests.admitted


class TlsProxy:
    """TLS on 127.0.0.1:port, forwarded as plain TCP to 127.0.0.1:upstream_port.

    It counts the connections that reach it and keeps the handshakes' errors,
    to show which side refused what.
    """

    def __init__(self, cert_path, key_path, upstream_port):
        self.port = free_port()
        self.upstream_port = upstream_port
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert_path, key_path)
        self.connections = 0
        self.handshakes = 0
        self.handshake_errors = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = None

    def start(self):
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", self.port), self.loop).result(10)
        return self

    def stop(self):
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _shutdown(self):
        """Stop listening and end the connections still piped, so no task outlives the loop."""
        self.server.close()
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _handle(self, reader, writer):
        self.connections += 1
        try:
            await writer.start_tls(self.context)
        except (ssl.SSLError, ConnectionError, OSError) as exc:
            self.handshake_errors.append(str(exc))
            writer.transport.abort()
            return
        self.handshakes += 1
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    @staticmethod
    async def _pipe(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


@pytest.fixture(scope="module")
def pkis(tmp_path_factory):
    root = tmp_path_factory.mktemp("resolver-pki")
    balancer = Pki(root, name="Load Balancer CA")
    return {"balancer": balancer, "other": Pki(root, name="Other CA"),
            "proxy": balancer.leaf("proxy", sans=("localhost",))}


@pytest.fixture
def account_server(lib, region, tmp_path, processes, pkis):
    """The account server with APP pushed as nsc pushes it, behind the TLS proxy."""
    acs = start(processes, Acs(lib, tmp_path, region))
    status, body, _headers = nsc_push(acs.url + "/jwt/v1", region.app_pub, region.app.entity.jwt_path)
    assert (status, body) == (200, b"")
    cert_path, key_path, _cert, _key = pkis["proxy"]
    proxy = TlsProxy(cert_path, key_path, acs.port).start()
    try:
        yield {"acs": acs, "proxy": proxy}
    finally:
        proxy.stop()


def https_server(directory, region, proxy_port, ca_file):
    """A nats-server configured by the role for the resolver behind the proxy."""
    client_port, monitor_port = free_port(), free_port()
    with open(region.sys_jwt_path) as handle:
        system_account_jwt = handle.read()
    variables = role_variables(
        directory, nats_server_name="nats-https", nats_server_port=client_port, nats_server_monitor_port=monitor_port,
        nats_server_operator_enabled=True, nats_server_operator_jwt=region.operator_token,
        nats_server_operator_system_account_jwt=system_account_jwt,
        nats_server_operator_public_key=region.operator_key, nats_server_resolver_type="url",
        nats_server_resolver_url="https://localhost:%d/jwt/v1/accounts/" % proxy_port,
        nats_server_resolver_tls_ca_file=ca_file)
    server = NatsServer(str(directory), rendered_config(variables), [client_port, monitor_port], name="nats-https")
    server.url = "nats://127.0.0.1:%d" % client_port
    return server


def request_count(acs, route):
    """Requests the account server answered with 200 on route, from its /metrics."""
    _status, body, _headers = http("GET", acs.url + "/metrics")
    prefix = 'cmsgs_acs_http_requests_total{route="%s",status="200"} ' % route
    return sum(float(line[len(prefix):]) for line in body.decode().splitlines() if line.startswith(prefix))


def read(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def test_the_rendered_configuration_names_the_https_resolver_and_its_ca(tmp_path, region, pkis):
    proxy_port = free_port()
    text = read(https_server(tmp_path, region, proxy_port, pkis["balancer"].ca_path).config_path)
    assert 'resolver: "URL(https://localhost:%d/jwt/v1/accounts/)"' % proxy_port in text
    assert 'resolver_tls: {\n  ca_file: "%s"\n}' % pkis["balancer"].ca_path in text


def test_with_the_balancers_ca_a_user_of_a_pushed_account_is_admitted(tmp_path, region, pkis, account_server):
    server = https_server(tmp_path, region, account_server["proxy"].port, pkis["balancer"].ca_path)
    try:
        server.start()
        assert admitted(server.url, region.app_creds) == b"order 42"
    finally:
        server.stop()
    proxy = account_server["proxy"]
    assert proxy.handshakes >= 1 and proxy.handshake_errors == []
    # nats-server knows only the proxy's URL: its start-up probe and the
    # account lookups reached the account server through it.
    assert request_count(account_server["acs"], "accounts_probe_slash") >= 1
    assert request_count(account_server["acs"], "account") >= 1


def test_with_a_ca_that_does_not_vouch_for_the_balancer_the_server_does_not_start(
        tmp_path, region, pkis, account_server):
    server = https_server(tmp_path, region, account_server["proxy"].port, pkis["other"].ca_path)
    try:
        with pytest.raises(RuntimeError, match="did not listen"):
            server.start()
    finally:
        server.stop()
    assert server.proc.returncode == 1
    log = read(server.log_path)
    assert ('could not fetch <"https://localhost:%d/jwt/v1/accounts/">' % account_server["proxy"].port) in log
    assert "x509: certificate signed by unknown authority" in log
    # The server reached the proxy and refused its certificate in the handshake;
    # no request reached the account server.
    proxy = account_server["proxy"]
    assert proxy.connections >= 1 and proxy.handshakes == 0
    assert any("BAD_CERTIFICATE" in error for error in proxy.handshake_errors), proxy.handshake_errors
    assert request_count(account_server["acs"], "accounts_probe_slash") == 0
    assert request_count(account_server["acs"], "account") == 0
