# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP API of nats-account-server v1 (the routes nsc and nats-server use)."""

from __future__ import annotations

import asyncio
import base64
import json
import time

from aiohttp import hdrs, web

from cmsgs_acs.service import Service

JWT_TYPE = "application/jwt"
TEXT_TYPE = "text/plain"
# An ETag lets a client revalidate cheaply; no-cache keeps a cache in front
# (the load balancer) from hiding a pushed change for the JWT's lifetime.
CACHE_CONTROL = "no-cache"
PROBE_HEADERS = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache", "Expires": "0"}

HELP = """cmsgs-acs %(version)s: account server for NATS operator %(operator)s (%(operator_key)s)

GET  /jwt/v1/accounts/<account>   the account JWT (application/jwt, ETag; If-None-Match gives 304)
       ?text=true                 as text/plain
       ?decode=true               header and claims as indented JSON
       ?check=true                404 if the JWT has expired
       ?notify=true               publish the claim update to the servers again
GET  /jwt/v1/accounts/            200, empty: the probe nats-server sends at start
POST /jwt/v1/accounts/<account>   store an account JWT (the body), as `nsc push` sends it;
                                  400 bad or untrusted JWT, 409 older than the stored one, 413 too large%(post_note)s
GET  /jwt/v1/operator             the operator JWT (?text=true, ?decode=true)
GET  /jwt/v1/pack?max=N           every unexpired account as <account>|<jwt> lines
GET  /healthz                     200 while serving
GET  /metrics                     counters in the Prometheus text format
"""


def _text(status: int, message: str, headers=None) -> web.Response:
    return web.Response(status=status, text=message + "\n", content_type=TEXT_TYPE, headers=headers)


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1", "yes")


def _decoded_text(token: str) -> str:
    """Header and claims, indented, as upstream's ?decode=true shows them."""
    parts = token.split(".")
    sections = []
    for part in parts[:2]:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        sections.append(json.dumps(json.loads(raw), indent=4))
    return "\n".join(sections) + "\n"


class HttpApi:
    def __init__(self, service: Service):
        self.service = service
        self.config = service.config
        self.entries = service.store.entries

    def application(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes)
        # The account route first: the router tries routes in order, and
        # nearly every request is a GET of an account.
        self._add(app, "GET", "/jwt/v1/accounts/{pub}", self.get_account, "account")
        self._add(app, "POST", "/jwt/v1/accounts/{pub}", self.post_account, "account_push")
        self._add(app, "GET", "/jwt/v1/accounts", self.probe, "accounts_probe")
        self._add(app, "GET", "/jwt/v1/accounts/", self.probe, "accounts_probe_slash")
        self._add(app, "GET", "/jwt/v1/operator", self.get_operator, "operator")
        self._add(app, "GET", "/jwt/v1/pack", self.pack, "pack")
        self._add(app, "GET", "/jwt/v1/help", self.help, "help")
        self._add(app, "GET", "/healthz", self.healthz, "healthz")
        self._add(app, "GET", "/metrics", self.metrics, "metrics")
        self._answer_the_rest(app)
        return app

    def _add(self, app: web.Application, method: str, path: str, handler, route: str):
        add = app.router.add_get if method == hdrs.METH_GET else app.router.add_post  # add_get answers HEAD too
        add(path, self._counted(route, handler), name=route)

    def _counted(self, route: str, handler):
        """The handler, counting its answers for /metrics by route and status.

        A wrapper per route, not a middleware: any middleware makes aiohttp
        build a chain of two more coroutines for every request, which costs
        the hot GET about a tenth of its time.
        """
        count = self.service.metrics.request

        async def counted(request: web.Request) -> web.StreamResponse:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                count(route, exc.status)
                raise
            count(route, response.status)
            return response
        return counted

    def _answer_the_rest(self, app: web.Application):
        """The router's own 404 and 405 answers, counted as route "unknown".

        Without a middleware the router's answers would go uncounted, so a
        catch-all route per path takes the methods the path lacks and raises
        what the router raises (405 with the same Allow header), and one
        catch-all route takes every other path (404). Only a request target
        that is no path at all (OPTIONS's "*") still gets the router's 404,
        uncounted.
        """
        methods_by_path: dict = {}
        last_resource = {}
        for resource in app.router.resources():
            path = resource.canonical
            methods_by_path.setdefault(path, set()).update(route.method for route in resource)
            last_resource[path] = resource

        def refuse_method(allowed):
            async def method_not_allowed(request: web.Request):
                raise web.HTTPMethodNotAllowed(request.method, allowed)
            return method_not_allowed

        async def not_found(request: web.Request):
            raise web.HTTPNotFound()

        for path, resource in last_resource.items():
            resource.add_route(hdrs.METH_ANY, self._counted("unknown", refuse_method(methods_by_path[path])))
        # [\s\S]: a path may hold an encoded newline, which "." would not match.
        app.router.add_route(hdrs.METH_ANY, r"/{path:[\s\S]*}", self._counted("unknown", not_found))

    async def probe(self, request: web.Request) -> web.Response:
        return web.Response(status=200, headers=PROBE_HEADERS)

    async def get_account(self, request: web.Request) -> web.Response:
        pub = request.match_info["pub"]
        entry = self.entries.get(pub)
        if entry is not None and not request.query_string:
            # The hot path (nats-server's fetch): no query, a stored account.
            inm = request.headers.get("If-None-Match")
            if inm is not None and entry.etag in inm:
                return web.Response(status=304)
            return web.Response(body=entry.data, headers=entry.headers)
        if "jti" in request.query:
            return _text(501, "lookup by jti is no longer supported")
        check, text, decode = _flag(request, "check"), _flag(request, "text"), _flag(request, "decode")
        entry, data = self.service.lookup(pub)
        if data is None:
            data = await self._lookup_over_nats(pub)
            if data is None:
                return _text(404, "no matching account JWT for %s" % pub)
        if entry is not None:
            if check and entry.expired(time.time()):
                return web.Response(status=404)
            if _flag(request, "notify"):
                nats_link = self.service.nats
                if nats_link is None or not nats_link.connected:
                    return _text(500, "error sending notification of change: %s" % (
                        "nats_urls is empty" if nats_link is None else "NATS is not connected"))
                nats_link.notify(entry)
            inm = request.headers.get("If-None-Match")
            if inm and entry.etag in inm:
                return web.Response(status=304)
        if decode:
            return web.Response(text=_decoded_text(data.decode("ascii")), content_type=TEXT_TYPE)
        headers = {"Cache-Control": CACHE_CONTROL}
        if entry is not None:
            headers["ETag"] = entry.etag
        return web.Response(body=data, headers=headers, content_type=TEXT_TYPE if text else JWT_TYPE)

    async def _lookup_over_nats(self, pub: str):
        nats_link = self.service.nats
        if nats_link is None or not nats_link.connected:
            return None
        return await nats_link.lookup(pub)

    async def post_account(self, request: web.Request) -> web.Response:
        pub = request.match_info["pub"]
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return self._too_large(pub)
        try:
            body = await asyncio.wait_for(request.read(), self.config.request_timeout_seconds)
        except web.HTTPRequestEntityTooLarge:
            return self._too_large(pub)
        except asyncio.TimeoutError:
            self.service._pushed(pub, 408, "refused", "the body did not arrive in time")
            return _text(408, "the request body did not arrive within %g seconds" % self.config.request_timeout_seconds)
        status, message = await self.service.push(pub, body)
        if status == 200:
            return web.Response(status=200)
        headers = {"Allow": "GET"} if status == 405 else None
        return _text(status, message, headers)

    def _too_large(self, pub: str) -> web.Response:
        return _text(*self.service.too_large(pub))

    async def get_operator(self, request: web.Request) -> web.Response:
        token = self.service.operator.token
        if _flag(request, "decode"):
            return web.Response(text=_decoded_text(token), content_type=TEXT_TYPE)
        return web.Response(text=token, content_type=TEXT_TYPE if _flag(request, "text") else JWT_TYPE)

    async def pack(self, request: web.Request) -> web.Response:
        allowed = self.config.pack_max
        raw = request.query.get("max")
        if raw is None or raw == "":
            limit = allowed
        else:
            try:
                limit = int(raw)
            except ValueError:
                return _text(400, 'bad max parameter "%s": give a whole number' % raw)
            if limit > allowed:
                return _text(400, 'bad max parameter "%s", no more than %d are allowed' % (raw, allowed))
        body = b"\n".join(self.service.store.pack_lines(limit)) if limit != 0 else b""
        return web.Response(body=body, content_type=TEXT_TYPE)

    async def help(self, request: web.Request) -> web.Response:
        operator = self.service.operator
        note = ("\n                                  (405 here: this is a secondary, push to %s)" % self.config.primary_url
                if self.config.is_secondary else "")
        return web.Response(text=HELP % {"version": self.service.version, "operator": operator.name,
                                         "operator_key": operator.public_key, "post_note": note},
                            content_type=TEXT_TYPE)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def metrics(self, request: web.Request) -> web.Response:
        text = self.service.metrics.render(self.service.store, self.service.nats_connected, self.service.version)
        return web.Response(body=text.encode("utf-8"),
                            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
