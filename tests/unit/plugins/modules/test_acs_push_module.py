# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""acs_push against a small account server on loopback that records every request."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import NscPaths, plan_account, plan_operator
from ansible_collections.cmsgs.nats.plugins.modules import acs_push
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module


class FakeAccountServer(http.server.ThreadingHTTPServer):
    """Stores what is posted under /jwt/v1/accounts/<key>; answers POST with post_status."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.store = {}
        self.requests = []
        self.post_status = 200
        self.post_body = b""
        self.store_posts = True

    @property
    def url(self):
        return "http://127.0.0.1:%d/jwt/v1" % self.server_address[1]


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self, status, body=b"", content_type="text/plain"):
        self.send_response(status)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.server.requests.append(("GET", self.path, self.headers.get("Content-Type"), b""))
        key = self.path.rsplit("/", 1)[-1]
        if key in self.server.store:
            self._answer(200, self.server.store[key], "application/jwt")
        else:
            self._answer(404, b"no matching account JWT\n")

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(("POST", self.path, self.headers.get("Content-Type"), body))
        if self.server.post_status == 200 and self.server.store_posts:
            self.server.store[self.path.rsplit("/", 1)[-1]] = body
        self._answer(self.server.post_status, self.server.post_body)


@pytest.fixture
def server():
    instance = FakeAccountServer()
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    yield instance
    instance.shutdown()
    instance.server_close()


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


def test_a_new_account_is_posted_as_nsc_push_sends_it_then_nothing_changes(server, accounts, push):
    result = push(url=server.url, jwt=accounts["first"])
    assert result["changed"] is True and result["status"] == 200
    assert result["account_url"] == server.url + "/accounts/" + accounts["key"]
    assert posts(server) == [("POST", "/jwt/v1/accounts/" + accounts["key"], "application/jwt",
                              accounts["first"].encode())]
    again = push(url=server.url, jwt=accounts["first"] + "\n")
    assert again["changed"] is False
    assert len(posts(server)) == 1


def test_the_account_path_is_joined_as_nsc_joins_it(server, accounts, push):
    assert push(url=server.url + "/", jwt=accounts["first"])["account_url"] == \
        server.url + "/accounts/" + accounts["key"]
    with pytest.raises(acs_push.PushError, match="must be an http"):
        acs_push.account_url("nats://127.0.0.1:4222", accounts["key"])


def test_check_mode_reports_the_change_without_posting_and_diff_shows_the_limit(server, accounts, push):
    push(url=server.url, jwt=accounts["first"])
    result = push(check_mode=True, diff=True, url=server.url, jwt=accounts["second"])
    assert result["changed"] is True and "status" not in result
    assert len(posts(server)) == 1
    assert '"conn": -1' in result["diff"]["before"] and '"conn": 1' in result["diff"]["after"]
    assert '"iat"' not in result["diff"]["after"]


def test_a_refused_push_fails_with_the_servers_reason(server, accounts, push):
    server.post_status, server.post_body = 400, b"untrusted issuer in request\n"
    result = push(url=server.url, jwt=accounts["first"])
    assert result["failed"] is True
    assert "refused the account APP" in result["msg"] and "400: untrusted issuer in request" in result["msg"]


def test_a_200_without_storing_fails(server, accounts, push):
    server.store_posts = False
    result = push(url=server.url, jwt=accounts["first"])
    assert result["failed"] is True and "serves nothing" in result["msg"]


def test_accepted_is_a_warning_as_in_nsc(server, accounts, push):
    server.post_status = 202
    result = push(url=server.url, jwt=accounts["first"])
    assert result["changed"] is True and result["status"] == 202
    assert "accepted the push with 202" in json.dumps(result.get("warnings", []))


@pytest.mark.parametrize("which", ["operator", "garbage"])
def test_what_is_not_an_account_jwt_fails_before_any_request(server, accounts, push, which):
    token = accounts["operator"] if which == "operator" else "not.a.jwt"
    result = push(url=server.url, jwt=token)
    assert result["failed"] is True and "jwt is not a valid NATS account JWT" in result["msg"]
    assert server.requests == []


def test_an_unreachable_server_fails_naming_it(accounts, push):
    result = push(url="http://127.0.0.1:9/jwt/v1", jwt=accounts["first"], timeout=2)
    assert result["failed"] is True and "cannot reach the account server at http://127.0.0.1:9/" in result["msg"]
