# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_push against a small account server on loopback that records every request."""

from __future__ import annotations

import http.server
import threading

import pytest
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import NscPaths, plan_account, plan_operator
from ansible_collections.cmsgs.nats.plugins.modules import acs_push
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module
from ansible_collections.cmsgs.nats.tests.unit.plugins.module_utils.tls_testlib import Pki

try:  # ansible-core 2.19 and later return a failure's traceback only when asked to
    from ansible.module_utils._internal import _traceback
except ImportError:
    _traceback = None


class FakeAccountServer(http.server.ThreadingHTTPServer):
    """Stores what is posted under /jwt/v1/accounts/<key>; answers POST with post_status.

    get_status, when set, answers every GET with it and get_body instead of the store.
    A set stall makes every request wait until release is set (or 5 s), as a hung server does.
    """

    scheme = "http"

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.store = {}
        self.requests = []
        self.post_status = 200
        self.post_body = b""
        self.store_posts = True
        self.get_status = None
        self.get_body = b""
        self.stall = False
        self.release = threading.Event()

    @property
    def url(self):
        return "%s://127.0.0.1:%d/jwt/v1" % (self.scheme, self.server_address[1])


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self, status, body=b"", content_type="text/plain"):
        if self.server.stall:
            self.server.release.wait(5)
        self.send_response(status)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.server.requests.append(("GET", self.path, self.headers.get("Content-Type"), b""))
        key = self.path.rsplit("/", 1)[-1]
        if self.server.get_status is not None:
            self._answer(self.server.get_status, self.server.get_body)
        elif key in self.server.store:
            self._answer(200, self.server.store[key], "application/jwt")
        else:
            self._answer(404, b"no matching account JWT\n")

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(("POST", self.path, self.headers.get("Content-Type"), body))
        if self.server.post_status == 200 and self.server.store_posts:
            self.server.store[self.path.rsplit("/", 1)[-1]] = body
        self._answer(self.server.post_status, self.server.post_body)


def _serve(instance):
    thread = threading.Thread(target=instance.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)
    thread.start()
    yield instance
    instance.release.set()
    instance.shutdown()
    instance.server_close()


@pytest.fixture
def server():
    yield from _serve(FakeAccountServer())


@pytest.fixture
def tls_server(tmp_path):
    """The account server behind https, with a certificate from a CA of the test's own."""
    pki = Pki(tmp_path)
    context = pki.server_context("acs")
    instance = FakeAccountServer()
    instance.scheme = "https"
    instance.socket = context.wrap_socket(instance.socket, server_side=True)
    instance.ca_path = pki.ca_path
    yield from _serve(instance)


@pytest.fixture(scope="module")
def accounts(tmp_path_factory):
    """Two versions of one account and an operator JWT, issued in a throwaway store."""
    paths = NscPaths(str(tmp_path_factory.mktemp("nsc")))
    operator = plan_operator(paths, "REGION1")
    operator.plan.apply()
    first = plan_account(paths, "REGION1", "APP")
    first.plan.apply()
    second = plan_account(paths, "REGION1", "APP", limits={"conn": 1})
    second.plan.apply()
    return {"first": first.token, "second": second.token, "operator": operator.token,
            "key": nats_jwt.decode(first.token).subject}


@pytest.fixture
def push(capsys, monkeypatch):
    def runner(check_mode=False, diff=False, **args):
        return run_module(acs_push.main, capsys, monkeypatch, check_mode=check_mode, diff=diff, **args)
    return runner


def posts(server):
    return [r for r in server.requests if r[0] == "POST"]


def warning_texts(result):
    """The warnings' texts, as ansible-core 2.19 and later wrap each one in an event."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


@pytest.fixture
def keys():
    """An operator key and an account key of the test's own, to sign small account JWTs."""
    return nats_jwt.KeyPair(nats_jwt.new_seed("operator")), nats_jwt.KeyPair(nats_jwt.new_seed("account"))


def small_account(keys, **extra):
    """A minimal account JWT, and its claims as the diff shows them: sorted, 2-space indented."""
    operator, account = keys
    claims = dict(nats_jwt.build_claims("account", "APP", account.public_key, operator.public_key, {}), **extra)
    shown = "".join('  "%s": %s,\n' % item for item in sorted(extra.items()))
    text = ('{\n%s  "iss": "%s",\n  "name": "APP",\n  "nats": {\n    "default_permissions": {\n      "pub": {},\n'
            '      "sub": {}\n    },\n    "limits": {},\n    "type": "account",\n    "version": 2\n  },\n'
            '  "sub": "%s"\n}\n' % (shown, operator.public_key, account.public_key))
    return nats_jwt.sign_claims(claims, operator), text


def test_a_new_account_is_posted_as_nsc_push_sends_it_then_nothing_changes(server, accounts, push):
    result = push(url=server.url, jwt=accounts["first"])
    assert result["changed"] is True and result["status"] == 200 and result["message"] == ""
    assert result["public_key"] == accounts["key"]
    assert result["account_url"] == server.url + "/accounts/" + accounts["key"]
    # Asked first, posted as nsc posts (only the POST says what it carries), then read back.
    path = "/jwt/v1/accounts/" + accounts["key"]
    assert server.requests == [("GET", path, None, b""), ("POST", path, "application/jwt", accounts["first"].encode()),
                               ("GET", path, None, b"")]
    again = push(url=server.url, jwt=accounts["first"] + "\n")
    assert again["changed"] is False and again["public_key"] == accounts["key"]
    assert len(posts(server)) == 1


def test_the_account_path_is_joined_as_nsc_joins_it(server, accounts, push):
    assert push(url=server.url + "/", jwt=accounts["first"])["account_url"] == \
        server.url + "/accounts/" + accounts["key"]
    # A URL without a path puts the accounts at the root.
    root = "http://127.0.0.1:%d" % server.server_address[1]
    assert push(url=root, jwt=accounts["first"])["account_url"] == root + "/accounts/" + accounts["key"]
    assert server.requests[-1] == ("GET", "/accounts/" + accounts["key"], None, b"")


def test_a_url_that_is_not_http_is_refused_before_any_request(server, accounts, push):
    result = push(url="nats://127.0.0.1:4222", jwt=accounts["first"])
    assert result["failed"] is True
    assert result["msg"] == ("url must be an http:// or https:// URL such as http://acs-1:9090/jwt/v1, "
                             "not 'nats://127.0.0.1:4222'")


def test_an_https_account_server_is_trusted_through_ca_path(tls_server, accounts, push):
    result = push(url=tls_server.url, jwt=accounts["first"], ca_path=tls_server.ca_path)
    assert result.get("failed") is not True, result
    assert result["changed"] is True and result["account_url"].startswith("https://127.0.0.1:")
    assert posts(tls_server)[0][3] == accounts["first"].encode()


def test_check_mode_reports_the_change_without_posting_and_diff_shows_the_limit(server, accounts, push):
    push(url=server.url, jwt=accounts["first"])
    result = push(check_mode=True, diff=True, url=server.url, jwt=accounts["second"])
    assert result["changed"] is True and "status" not in result
    assert len(posts(server)) == 1
    assert '"conn": -1' in result["diff"]["before"] and '"conn": 1' in result["diff"]["after"]
    assert '"iat"' not in result["diff"]["after"]


@pytest.mark.parametrize("held", ["nothing", "garbage", "an expired version"])
def test_diff_shows_the_claims_the_server_holds_whatever_it_holds(server, push, keys, held):
    token, after = small_account(keys)
    key = keys[1].public_key
    if held == "garbage":
        server.store[key] = b"garbage"
        before = "(not a JWT: a JWT has three dot-separated segments, this one has 1)\n"
    elif held == "an expired version":
        # An account that has run out is still shown by its claims, not as an error.
        expired, before = small_account(keys, exp=1)
        server.store[key] = expired.encode()
    else:
        before = ""
    result = push(check_mode=True, diff=True, url=server.url, jwt=token)
    url = server.url + "/accounts/" + key
    assert result["changed"] is True
    assert result["diff"] == dict(before=before, after=after, before_header=url, after_header=url)


@pytest.mark.parametrize("reason, shown", [(b"untrusted issuer in request\n", "untrusted issuer in request"),
                                           (b"bad issuer \xff\n", "bad issuer \ufffd")],
                         ids=["text", "not utf-8"])
def test_a_refused_push_fails_with_the_servers_reason(server, accounts, push, reason, shown):
    server.post_status, server.post_body = 400, reason
    result = push(url=server.url, jwt=accounts["first"])
    assert result["failed"] is True
    assert result["msg"] == "the account server refused the account APP (%s) with 400: %s" % (accounts["key"], shown)


@pytest.mark.parametrize("held", [None, "second"])
def test_a_200_without_storing_fails_naming_what_is_served(server, accounts, push, held):
    if held:
        server.store[accounts["key"]] = accounts[held].encode()
    server.store_posts = False
    result = push(url=server.url, jwt=accounts["first"])
    assert result["failed"] is True
    assert result["msg"] == "the account server answered 200 but serves %s for %s" % (
        "another JWT" if held else "nothing", accounts["key"])


def test_a_failing_lookup_fails_with_the_servers_answer(server, accounts, push):
    server.get_status, server.get_body = 500, b"store unavailable\n"
    result = push(url=server.url, jwt=accounts["first"])
    assert result["failed"] is True
    assert result["msg"] == "the account server answered GET %s/accounts/%s with 500: store unavailable" % (
        server.url, accounts["key"])
    assert posts(server) == []


def test_an_error_answer_without_a_body_fails_with_an_empty_reason(server, accounts, push, monkeypatch):
    # Ansible hands the body of an HTTP error it could not read as the text "" instead of bytes.
    monkeypatch.setattr(acs_push, "fetch_url", lambda module, url, **kwargs: (None, dict(status=502, body="", msg="")))
    result = push(url=server.url, jwt=accounts["first"])
    assert result["failed"] is True
    assert result["msg"] == "the account server answered GET %s/accounts/%s with 502: " % (server.url, accounts["key"])


@pytest.mark.parametrize("status", [201, 202])
def test_accepted_is_a_warning_as_in_nsc(server, accounts, push, status):
    server.post_status, server.post_body = status, b"queued for the servers\n"
    result = push(url=server.url, jwt=accounts["first"])
    assert result["changed"] is True and result["status"] == status and result["message"] == "queued for the servers"
    assert warning_texts(result) == ["the account server accepted the push with %d but may not store it yet: "
                                     "queued for the servers" % status]


@pytest.mark.parametrize("which, reason", [("operator", "expected an account JWT, found an operator JWT"),
                                           ("garbage", "a JWT has three dot-separated segments, this one has 1")])
def test_what_is_not_an_account_jwt_fails_before_any_request(server, accounts, push, which, reason):
    token = accounts["operator"] if which == "operator" else "garbage"
    result = push(url=server.url, jwt=token)
    assert result["failed"] is True and result["msg"] == "jwt is not a valid NATS account JWT: " + reason
    assert server.requests == []


def test_an_unreachable_server_fails_naming_it(accounts, push):
    result = push(url="http://127.0.0.1:9/jwt/v1", jwt=accounts["first"], timeout=2)
    assert result["failed"] is True
    assert result["msg"] == ("cannot reach the account server at http://127.0.0.1:9/jwt/v1/accounts/%s: "
                             "Request failed: <urlopen error [Errno 111] Connection refused>" % accounts["key"])


def test_a_server_that_does_not_answer_within_timeout_fails(server, accounts, push):
    # The server answers after 5 s at most (at the end of the test); the module gives up after timeout.
    server.stall = True
    result = push(url=server.url, jwt=accounts["first"], timeout=0.5)
    assert result["failed"] is True
    assert result["msg"] == "cannot reach the account server at %s/accounts/%s: Connection failure: timed out" % (
        server.url, accounts["key"])
    assert posts(server) == []


def test_missing_nkeys_is_reported_with_the_import_error(server, accounts, push, monkeypatch):
    if _traceback is not None:  # as with ANSIBLE_DISPLAY_TRACEBACK=error
        monkeypatch.setattr(_traceback, "_is_traceback_enabled", lambda event: event is _traceback.TracebackEvent.ERROR)
    monkeypatch.setattr(nats_jwt, "HAS_NKEYS", False)
    monkeypatch.setattr(nats_jwt, "NKEYS_IMPORT_ERROR", "Traceback: No module named 'nkeys'")
    result = push(url=server.url, jwt=accounts["first"])
    assert result["failed"] is True and result["msg"] == missing_required_lib("nkeys")
    assert result["exception"] == "Traceback: No module named 'nkeys'"
    assert server.requests == []
