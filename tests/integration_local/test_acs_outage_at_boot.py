# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A nats-server whose URL resolver's account server is down at boot.

nats-server 2.15.1 probes the resolver URL while it starts and exits with
status 1 when the probe fails: it never listens, so no client (SYS users
included) is admitted, and it does not retry by itself. The stack relies on
systemd starting it again: the unit's Restart=on-failure with no start
limit (tests/unit/roles/test_nats_server_unit.py pins those settings).
This test pins the server's side of that bargain: every start while the
account server is down fails fast with a non-zero status, and the first
start after the account server is up serves a pushed account.

Run: python -m pytest tests/integration_local/test_acs_outage_at_boot.py
"""

from __future__ import annotations

import socket
import time

import pytest

from ansible_collections.cmsgs.nats.tests.integration_local import test_acs_service as service_tests
from ansible_collections.cmsgs.nats.tests.integration_local.acs_processes import Acs, NatsServer, nsc_push, url_resolver

pytestmark = service_tests.pytestmark
# The service tests' fixtures and helpers, shared rather than copied.
lib, region, processes = service_tests.lib, service_tests.region, service_tests.processes
start, admitted, NATS_SERVER = service_tests.start, service_tests.admitted, service_tests.NATS_SERVER
# nats-server gives the probe 1.9 s (DEFAULT_ACCOUNT_FETCH_TIMEOUT); a refused
# connection fails at once. Either way the process is gone well before the
# unit's RestartSec, so systemd's next try is not held up.
FAILED_START_SECONDS = 5


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_a_server_started_while_the_acs_is_down_exits_and_serves_once_started_again(
        lib, region, tmp_path, processes):
    acs = Acs(lib, tmp_path, region)  # not started: its port is free, so connections are refused
    server = NatsServer(NATS_SERVER, tmp_path, region, resolver=url_resolver(acs))
    processes.append(server)

    # Two boots in a row while the account server is down, as systemd's
    # restarts would try: each one exits non-zero, fast, without listening.
    for attempt in (1, 2):
        began = time.monotonic()
        with pytest.raises(AssertionError, match="exited"):
            server.start()
        assert time.monotonic() - began < FAILED_START_SECONDS, "attempt %d took too long to fail" % attempt
        # Restart=on-failure restarts a non-zero exit; an exit 0 would stay down.
        assert server.process.returncode == 1, "attempt %d: exit status %s" % (attempt, server.process.returncode)
        assert not listening(server.port)
    assert server.log().count("could not fetch") == 2
    assert acs.url + "/jwt/v1/accounts/" in server.log()

    # The account server comes up and an account is pushed as nsc pushes it.
    start(processes, acs)
    status, body, _headers = nsc_push(acs.url + "/jwt/v1", region.app_pub, region.app.entity.jwt_path)
    assert (status, body) == (200, b"")

    # The next start (systemd's next try) succeeds and admits the pushed
    # account's user and a SYS user, with no other change.
    server.start()
    assert admitted(server.url, region.app_creds) == b"order 42"
    assert admitted(server.url, region.sys_creds) == b"order 42"
    assert server.process.poll() is None
