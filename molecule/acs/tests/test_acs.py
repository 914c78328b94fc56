# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The account servers (primary, secondary) and a NATS server resolving accounts through them.

Account JWTs are signed on the controller with the REGION1 operator key read
from the primary's [nsc] volume and sent as `nsc push` sends them; clients
are nats-py with real creds. These tests run before test_region1.py and leave
both account servers running.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import itertools
import json
import os
import socket
import subprocess
import threading
import time
from urllib.parse import urlsplit

import nats
import pytest
import testinfra
from acs_runs import playbook, servers
from nats_testlib import file_digest, host_address, nats_roundtrip, server_pid, wait_for

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import ACCOUNT, USER, KeyPair

testinfra_hosts = ["cmsgs-acs-primary"]

NCRED = "/srv/ncred"
NSC = "/srv/nsc"
STORE = NSC + "/acs"
CONFIG = "/etc/cmsgs-acs/acs.json"
UNIT = "cmsgs-acs"


# --- helpers -----------------------------------------------------------------------

def http_request(base, method, path, body=None, headers=None, timeout=10):
    """One request; returns (status, body bytes)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def nsc_push(base, token_bytes):
    """POST /jwt/v1/accounts/<sub> as nsc push does: Go's http.Post with application/jwt and the file's bytes."""
    subject = json.loads(nats_jwt._b64decode(token_bytes.decode().split(".")[1]))["sub"]
    headers = {"User-Agent": "Go-http-client/1.1", "Content-Type": "application/jwt", "Accept-Encoding": "gzip"}
    return http_request(base, "POST", "/jwt/v1/accounts/" + subject, token_bytes, headers)


def served(base, public_key):
    status, body = http_request(base, "GET", "/jwt/v1/accounts/" + public_key)
    return body.decode() if status == 200 else None


def healthy(base):
    try:
        return http_request(base, "GET", "/healthz", timeout=2)[0] == 200
    except OSError:
        return False


def mint(signer, account, name, limits=None, issued_at=None, expires=None):
    """An account JWT for ``account`` signed by ``signer`` (the operator key)."""
    nats_claims = {"limits": dict(nats_jwt.DEFAULT_ACCOUNT_LIMITS, **nats_jwt.DEFAULT_JETSTREAM_LIMITS, **(limits or {})),
                   "default_permissions": {"pub": {}, "sub": {}}}
    claims = nats_jwt.build_claims(ACCOUNT, name, account.public_key, signer.public_key, nats_claims)
    if expires is not None:
        claims["exp"] = expires
    return nats_jwt.sign_claims(claims, signer, issued_at)


def user_creds(account, name, directory):
    user = KeyPair(nats_jwt.new_seed(USER))
    claims = nats_jwt.build_claims(USER, name, user.public_key, account.public_key,
                                   dict({"pub": {}, "sub": {}}, **nats_jwt.DEFAULT_USER_LIMITS))
    path = os.path.join(str(directory), "%s.creds" % name)
    with open(path, "w") as handle:
        handle.write(nats_jwt.render_creds(nats_jwt.sign_claims(claims, account), user.seed))
    os.chmod(path, 0o600)
    return path


def store_state(host):
    """Name and sha256 of every file in the store."""
    return host.check_output("cd %s && find . -type f -print0 | sort -z | xargs -0 -r sha256sum", STORE)


def store_accounts(host):
    listing = host.check_output("cd %s && find . -maxdepth 1 -name '*.jwt' -printf '%%f\\n' | sort", STORE)
    return [name[:-4] for name in listing.split()]


def restart_and_wait(host, base, action="restart"):
    host.run_expect([0], "systemctl %s %s", action, UNIT)
    wait_for(lambda: healthy(base), timeout=60)


def new_account():
    return KeyPair(nats_jwt.new_seed(ACCOUNT))


# --- fixtures ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def secondary(request):
    return testinfra.get_host("ansible://cmsgs-acs-secondary", ansible_inventory=request.config.option.ansible_inventory)


@pytest.fixture(scope="module")
def nats_host(request):
    return testinfra.get_host("ansible://cmsgs-acs-nats", ansible_inventory=request.config.option.ansible_inventory)


@pytest.fixture(scope="module")
def primary_url(host):
    return "http://%s:9090" % host_address(host)


@pytest.fixture(scope="module")
def secondary_url(secondary):
    return "http://%s:9090" % host_address(secondary)


@pytest.fixture(scope="module")
def nats_url(nats_host):
    return "nats://%s:4222" % host_address(nats_host)


@pytest.fixture(scope="module")
def operator_key(host):
    """REGION1's signing key pair from the primary's [nsc] (never shown: KeyPair hides the seed)."""
    operator = nats_jwt.decode(host.file(NCRED + "/REGION1.jwt").content_string)
    path = "%s/keys/keys/O/%s/%s.nk" % (NSC, operator.subject[1:3], operator.subject)
    return KeyPair(host.file(path).content_string.strip())


@pytest.fixture(scope="module")
def pushed(host, primary_url, operator_key, tmp_path_factory):
    """An account pushed as nsc pushes it, and creds of a user of it."""
    account = new_account()
    token = mint(operator_key, account, "PUSHED")
    status, body = nsc_push(primary_url, token.encode())
    assert (status, body) == (200, b"")
    return {"account": account, "token": token,
            "creds": user_creds(account, "pushed-user", tmp_path_factory.mktemp("pushed"))}


# --- the deployment ------------------------------------------------------------------

def test_the_service_runs_sandboxed_as_cmaccount_from_its_own_environment(host, secondary):
    for acs in (host, secondary):
        show = acs.check_output("systemctl show %s -p User -p ActiveState -p NoNewPrivileges -p ProtectSystem "
                                "-p ProtectHome -p PrivateTmp -p MemoryDenyWriteExecute -p Restart "
                                "-p StartLimitIntervalUSec", UNIT)
        properties = dict(line.split("=", 1) for line in show.splitlines())
        assert properties == {"User": "cmaccount", "ActiveState": "active", "NoNewPrivileges": "yes",
                              "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                              "MemoryDenyWriteExecute": "yes", "Restart": "always",
                              "StartLimitIntervalUSec": "0"}
        config = acs.file(CONFIG)
        assert (config.user, config.group, config.mode) == ("root", "cmaccount", 0o640)
        store = acs.file(STORE)
        assert (store.user, store.mode) == ("cmaccount", 0o700)
        assert acs.file("/opt/cmsgs-nats/acs/bin/cmsgs-acs").is_file
        # Installed from wheels alone: the host has no compiler.
        assert acs.run("command -v gcc cc").rc != 0
        # The store is reached through [nsc] without the right to list it.
        assert acs.run("runuser -u cmaccount -- ls %s", NSC).rc != 0


def test_the_configuration_carries_the_operator_inline_and_the_sys_files(host, secondary):
    operator_jwt = host.file(NCRED + "/REGION1.jwt").content_string.strip()
    primary = json.loads(host.file(CONFIG).content_string)
    assert primary["operator_jwt"] == operator_jwt
    assert (primary["system_account_jwt_path"], primary["sys_creds_path"]) == (
        NCRED + "/SYS.jwt", NCRED + "/creds/sys.creds")
    assert primary["primary_url"] == ""
    assert primary["nats_urls"] == ["nats://cmsgs-acs-nats:4222"]
    # cmaccount cannot read REGION1.jwt (640 root:cmsgs), so it must not be needed.
    assert host.run("runuser -u cmaccount -- cat %s/REGION1.jwt", NCRED).rc != 0
    second = json.loads(secondary.file(CONFIG).content_string)
    assert second["primary_url"] == "http://cmsgs-acs-primary:9090"
    assert second["operator_jwt"] == operator_jwt
    creds = secondary.file(second["sys_creds_path"])
    assert (creds.user, creds.mode) == ("cmaccount", 0o600)


def test_region1_and_sys_are_served_after_the_seed_initialisation(host, primary_url, secondary_url):
    system_account = nats_jwt.decode(host.file(NCRED + "/SYS.jwt").content_string)
    for base in (primary_url, secondary_url):
        assert http_request(base, "GET", "/jwt/v1/operator")[1].decode().strip() == \
            host.file(NCRED + "/REGION1.jwt").content_string.strip()
        assert served(base, system_account.subject) == system_account.token
        # The url resolver's start-up probe.
        assert http_request(base, "GET", "/jwt/v1/accounts/") == (200, b"")


def test_the_account_the_playbook_created_was_pushed(host, primary_url):
    app = host.file(NSC + "/stores/REGION1/accounts/APP/APP.jwt").content_string.strip()
    assert served(primary_url, nats_jwt.decode(app).subject) == app


# --- pushes --------------------------------------------------------------------------

def test_a_user_of_an_account_pushed_as_nsc_pushes_it_is_admitted(pushed, nats_url):
    assert nats_roundtrip(nats_url, subject="pushed.hello", payload=b"hi", user_credentials=pushed["creds"]) == b"hi"


async def _hold_then_connect(url, creds):
    """Keep one connection open and try a second; return the second's error, or None."""
    options = dict(user_credentials=creds, connect_timeout=5, allow_reconnect=False, max_reconnect_attempts=0)
    first = await nats.connect(url, **options)
    try:
        try:
            second = await nats.connect(url, **options)
        except Exception as exc:  # nats-py raises the server's -ERR
            return str(exc)
        await second.close()
        return None
    finally:
        await first.close()


def test_a_pushed_connection_limit_applies_without_restart(pushed, primary_url, nats_url, nats_host, operator_key):
    import asyncio

    pid = server_pid(nats_host)
    assert asyncio.run(_hold_then_connect(nats_url, pushed["creds"])) is None
    time.sleep(1.1)  # a later iat than the stored JWT
    limited = mint(operator_key, pushed["account"], "PUSHED", limits={"conn": 1})
    assert nsc_push(primary_url, limited.encode()) == (200, b"")
    error = wait_for(lambda: asyncio.run(_hold_then_connect(nats_url, pushed["creds"])), timeout=15)
    assert "maximum" in error.lower() and "connections" in error.lower(), error
    assert server_pid(nats_host) == pid
    pushed["token"] = limited


def _foreign_operator_account(operator_key, account):
    return mint(KeyPair(nats_jwt.new_seed(nats_jwt.OPERATOR)), account, "PUSHED")


BAD_PUSHES = {
    # case: (body and path, status, phrase of the reason)
    "another-operator": (lambda ctx: (_foreign_operator_account(ctx["key"], ctx["account"]), None),
                         400, "untrusted issuer"),
    "user-jwt": (lambda ctx: (open(ctx["creds"]).read().split("\n")[1], ctx["account"].public_key),
                 400, "expected an account JWT"),
    "subject-not-path": (lambda ctx: (mint(ctx["key"], new_account(), "OTHER"), ctx["account"].public_key),
                         400, "pub keys don't match"),
    "older": (lambda ctx: (mint(ctx["key"], ctx["account"], "PUSHED", issued_at=int(time.time()) - 3600), None),
              409, "older"),
    "expired": (lambda ctx: (mint(ctx["key"], ctx["account"], "PUSHED", expires=int(time.time()) - 60), None),
                400, "expired"),
    "oversized": (lambda ctx: ("e" * (70 * 1024), ctx["account"].public_key), 413, "larger than max_body_bytes"),
    "garbage": (lambda ctx: ("this is not a JWT", ctx["account"].public_key), 400, "bad JWT in request"),
}


@pytest.mark.parametrize("case", sorted(BAD_PUSHES))
def test_a_bad_push_gets_its_status_and_leaves_the_store_as_it_was(host, pushed, primary_url, operator_key, case):
    make, status, phrase = BAD_PUSHES[case]
    body, path_key = make({"key": operator_key, "account": pushed["account"], "creds": pushed["creds"]})
    path_key = path_key or pushed["account"].public_key
    before = store_state(host)
    answer = http_request(primary_url, "POST", "/jwt/v1/accounts/" + path_key, body.encode(),
                          {"Content-Type": "application/jwt"})
    assert answer[0] == status, answer
    assert phrase in answer[1].decode(), answer
    assert store_state(host) == before
    assert served(primary_url, pushed["account"].public_key) == pushed["token"]


def test_a_push_to_the_secondary_is_refused_naming_the_primary(pushed, secondary_url, operator_key):
    status, body = nsc_push(secondary_url, mint(operator_key, new_account(), "ELSEWHERE").encode())
    assert status == 405 and b"primary" in body


# --- durability ------------------------------------------------------------------------

def test_restarting_the_account_server_keeps_every_account(host, primary_url, pushed):
    accounts = store_accounts(host)
    assert pushed["account"].public_key in accounts
    before = {key: served(primary_url, key) for key in accounts}
    state = store_state(host)
    restart_and_wait(host, primary_url)
    assert {key: served(primary_url, key) for key in accounts} == before
    assert store_state(host) == state


def test_kill_9_during_a_burst_of_pushes_leaves_whole_jwts_and_keeps_every_200(host, primary_url, operator_key):
    tokens, answered = {}, {}
    lock = threading.Lock()
    killed = threading.Event()
    numbers = itertools.count()
    deadline = time.monotonic() + 90

    def pusher():
        # New accounts are pushed until a push fails after the kill: however
        # long the kill takes to arrive through the connection, it lands in
        # the middle of the burst.
        while time.monotonic() < deadline:
            account = new_account()
            token = mint(operator_key, account, "BURST-%d" % next(numbers))
            try:
                status = nsc_push(primary_url, token.encode())[0]
            except OSError:
                status = None
            with lock:
                tokens[account.public_key], answered[account.public_key] = token, status
                if killed.is_set() and None in answered.values():
                    return

    def killer():
        wait_for(lambda: sum(1 for s in answered.values() if s == 200) >= 10, timeout=30, interval=0.01)
        host.run_expect([0], "systemctl kill --signal=SIGKILL %s", UNIT)
        killed.set()

    kill = threading.Thread(target=killer)
    kill.start()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for worker in [pool.submit(pusher) for _worker in range(8)]:
            worker.result()
    kill.join()
    ok = [key for key, status in answered.items() if status == 200]
    assert killed.is_set() and len(ok) >= 10 and None in answered.values(), answered  # the kill hit the burst
    # Restart=always brings it back.
    wait_for(lambda: healthy(primary_url), timeout=60)
    names = host.check_output("cd %s && find . -type f -name '*.jwt' -printf '%%f\\n'", STORE).split()
    for name in names:
        stored = host.file(STORE + "/" + name).content_string
        assert nats_jwt.decode(stored, check_times=False).subject == name[:-4], name
    for key in ok:
        assert served(primary_url, key) == tokens[key], key


# --- the secondary ------------------------------------------------------------------------

def test_a_secondary_started_after_the_primary_serves_all_its_accounts(host, secondary, primary_url, secondary_url):
    accounts = store_accounts(host)
    # SYS is served from its file; APP, the pushed accounts and those of the burst are in the store.
    assert len(accounts) > 10
    secondary.run_expect([0], "systemctl stop %s", UNIT)
    try:
        secondary.run_expect([0], "find %s -mindepth 1 -delete", STORE)
    finally:
        restart_and_wait(secondary, secondary_url, "start")
    expected = {key: served(primary_url, key) for key in accounts}
    assert {key: served(secondary_url, key) for key in accounts} == expected
    assert sorted(store_accounts(secondary)) == sorted(accounts)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server_through_secondary(host, secondary_url, tmp_path):
    """A real nats-server on the controller's loopback whose url resolver is the secondary."""
    port = _free_port()
    system_account = nats_jwt.decode(host.file(NCRED + "/SYS.jwt").content_string).subject
    config = tmp_path / "nats.conf"
    config.write_text('listen: "127.0.0.1:%d"\noperator: "%s"\nsystem_account: "%s"\n'
                      'resolver: URL(%s/jwt/v1/accounts/)\n'
                      % (port, host.file(NCRED + "/REGION1.jwt").content_string.strip(), system_account,
                         secondary_url))
    binary = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], ".venv", "bin", "nats-server")
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True, timeout=20)
        yield "nats://127.0.0.1:%d" % port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_with_the_primary_stopped_the_secondary_keeps_clients_admitted(
        host, primary_url, secondary_url, operator_key, tmp_path, request):
    late = new_account()
    token = mint(operator_key, late, "LATE")
    assert nsc_push(primary_url, token.encode()) == (200, b"")
    # The secondary learns it from the primary (NATS notification or its periodic pull).
    wait_for(lambda: served(secondary_url, late.public_key) == token, timeout=30)
    creds = user_creds(late, "late-user", tmp_path)
    host.run_expect([0], "systemctl stop %s", UNIT)
    try:
        assert not healthy(primary_url)
        assert served(secondary_url, late.public_key) == token
        url = request.getfixturevalue("server_through_secondary")
        assert nats_roundtrip(url, subject="late.hello", payload=b"still here", user_credentials=creds) == b"still here"
    finally:
        restart_and_wait(host, primary_url, "start")


def _unit(host, name):
    """One property of the nats-server unit (systemctl show)."""
    return host.check_output("systemctl show nats-server -p %s --value", name).strip()


def test_with_the_account_server_down_no_change_reaches_the_server_and_a_restart_waits_for_it(
        host, nats_host, primary_url, nats_url, pushed):
    """nats-server exits at start while its url resolver does not answer (acs-facts.md section 4)."""
    config = "/etc/nats-server/nats-server.conf"
    before, pid = file_digest(nats_host, config), server_pid(nats_host)
    host.run_expect([0], "systemctl stop %s", UNIT)
    try:
        # A run that changes the server stops before anything is written: a restart now would not come back.
        run = servers(host, {"nats_server_max_connections": 1000})
        assert run.rc != 0
        assert "nats-server would not start with this configuration: its url resolver " \
               "http://cmsgs-acs-primary:9090/jwt/v1/accounts/" in " ".join(run.output.split())
        assert (file_digest(nats_host, config), server_pid(nats_host)) == (before, pid)
        # So does a rolling restart, before the first server stops.
        run = playbook("rolling_restart", {"nats_server_operator_enabled": True})
        assert run.rc != 0
        assert "cmsgs-acs-nats was not restarted: nats-server would not start, since its url resolver " \
               "http://cmsgs-acs-primary:9090/jwt/v1/accounts/" in " ".join(run.output.split())
        assert server_pid(nats_host) == pid
        # A boot while the account server is away: systemd keeps starting the server past its
        # default start limit (five starts in ten seconds) instead of giving up on it.
        nats_host.run_expect([0], "systemctl restart nats-server")
        wait_for(lambda: int(_unit(nats_host, "NRestarts")) >= 6, timeout=90)
        assert _unit(nats_host, "ActiveState") in ("activating", "active")
        assert _unit(nats_host, "Result") != "start-limit-hit"
    finally:
        restart_and_wait(host, primary_url, "start")
    # Once the account server answers, the next try serves clients of its accounts again.
    wait_for(lambda: nats_host.service("nats-server").is_running and _unit(nats_host, "ActiveState") == "active",
             timeout=30)
    reply = wait_for(lambda: nats_roundtrip(nats_url, subject="boot.hello", payload=b"back",
                                            user_credentials=pushed["creds"]), timeout=30)
    assert reply == b"back"
