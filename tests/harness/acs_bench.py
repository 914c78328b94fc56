# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Account server benchmark: GET throughput beside nginx, push-to-applied latency.

1. GET /jwt/v1/accounts/<pub> with wrk (32 connections, a rotating set of
   accounts), against cmsgs-acs and against nginx serving the same store
   folder as static files, on this host, in this run.
2. Push-to-applied: a real nats-server resolves through the service and
   has the account loaded (a client is connected); each round POSTs a JWT
   with a new connection limit and polls the server's /accountz until the
   server reports that limit. The time from the POST to that report is the
   latency.

Run by tests/harness/bench.sh acs; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from ansible_collections.cmsgs.nats.tests.integration_local.acs_processes import (
    Acs,
    NatsServer,
    build_wheel_lib,
    free_port,
    http,
    url_resolver,
    wait_until,
)
from ansible_collections.cmsgs.nats.tests.unit.acs.region import Region, new_account, now, write_config
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary

NGINX_CONF = """
worker_processes %(workers)s;
daemon off;
pid %(root)s/nginx.pid;
error_log %(root)s/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path %(root)s/body;
    proxy_temp_path %(root)s/proxy;
    fastcgi_temp_path %(root)s/fastcgi;
    uwsgi_temp_path %(root)s/uwsgi;
    scgi_temp_path %(root)s/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        location /jwt/v1/accounts/ {
            alias %(store)s/;
            default_type application/jwt;
            try_files $uri.jwt =404;
            etag on;
        }
    }
}
"""

WRK_SCRIPT = """
local keys = {%(keys)s}
local i = 0
request = function()
    i = i + 1
    return wrk.format("GET", "/jwt/v1/accounts/" .. keys[(i %% #keys) + 1])
end
"""


def wrk(url: str, script: str, connections: int, seconds: int, threads: int) -> dict:
    output = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--latency",
                             "-s", script, url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = _duration_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    p50 = _duration_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "non_2xx": int(errors.group(1)) if errors else 0}


def _duration_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def bench_get(lib, region, root, accounts: int, connections: int, seconds: int, rounds: int):
    """wrk against each server in turn, rounds times; the best round of each is kept.

    The host is shared: taking turns and keeping each server's best round
    compares the servers under the same, least disturbed conditions.
    """
    # At info level each logs the event loop it serves on (and a line per
    # push, none per GET): the labels below are checked, not assumed.
    acs = Acs(lib, root, region, name="bench-acs", log_level="info")
    plain = Acs(lib, root, region, name="bench-acs-asyncio", uvloop=False, log_level="info")
    with contextlib.ExitStack() as stack:
        acs.start()
        stack.callback(acs.stop)
        keys = []
        for index in range(accounts):
            account = new_account()
            assert acs.post(account.public_key, region.mint(account, name="B%d" % index))[0] == 200
            keys.append(account.public_key)
        script = os.path.join(root, "rotate.lua")
        with open(script, "w") as handle:
            handle.write(WRK_SCRIPT % {"keys": ", ".join('"%s"' % k for k in keys)})
        shutil.copytree(acs.store_dir, plain.store_dir)
        plain.start()
        stack.callback(plain.stop)
        # nginx serves the very files the service wrote; its workers must be able to read them.
        static = os.path.join(root, "static")
        shutil.copytree(acs.store_dir, static)
        os.chmod(static, 0o755)
        for name in os.listdir(static):
            os.chmod(os.path.join(static, name), 0o644)
        for server, loop in ((acs, "uvloop"), (plain, "asyncio")):
            assert "event loop %s" % loop in server.log(), "%s does not run on %s:\n%s" % (server.url, loop, server.log())
        targets = {"cmsgs-acs": acs.url, "acs (asyncio)": plain.url}
        for workers in ("1", "auto"):
            targets["nginx (%s)" % workers] = stack.enter_context(nginx_serving(root, static, workers))
        for name, url in targets.items():
            status, body, _headers = http("GET", url + "/jwt/v1/accounts/" + keys[0])
            assert status == 200 and body == acs.get(keys[0])[1], "%s does not serve the JWT" % name
            wrk(url, script, connections, 2, 2)  # warm-up
        best = {}
        for _round in range(rounds):
            for name, url in targets.items():
                figures = wrk(url, script, connections, seconds, 2)
                if name not in best or figures["rps"] > best[name]["rps"]:
                    best[name] = figures
        return best


@contextlib.contextmanager
def nginx_serving(root, static, workers):
    port = free_port()
    conf = os.path.join(root, "nginx-%s.conf" % workers)
    with open(conf, "w") as handle:
        handle.write(NGINX_CONF % {"root": root, "port": port, "store": static, "workers": workers})
    nginx = subprocess.Popen(["nginx", "-c", conf, "-p", root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = "http://127.0.0.1:%d" % port
        wait_until(lambda: _answers_any(url), 10, what="nginx")
        yield url
    finally:
        nginx.terminate()
        nginx.wait(10)


def _answers_any(url):
    try:
        http("GET", url, timeout=1)
        return True
    except OSError:
        return False


def bench_push_to_applied(lib, region, root, rounds: int):
    binary = nats_server_binary()
    acs = Acs(lib, root, region, name="push-acs", log_level="warning")
    monitor_port = free_port()
    server = NatsServer(binary, root, region, name="push-nats", resolver=url_resolver(acs))
    with open(server.config_path) as handle:
        server_config = json.load(handle)
    server_config["http"] = "127.0.0.1:%d" % monitor_port
    with open(server.config_path, "w") as handle:
        json.dump(server_config, handle)
    acs.config["nats_urls"] = [server.url]
    write_config(acs.config_path, acs.config)
    acs.start()
    account = new_account()
    base = now()
    assert acs.post(account.public_key, region.mint(account, limits={"conn": 1000}, issued_at=base))[0] == 200
    server.start()
    try:
        wait_until(lambda: acs.metric("cmsgs_acs_nats_connected") == 1, 20, what="ACS connected to NATS")
        creds = region.user_creds(account, "bench", root)
        accountz = "http://127.0.0.1:%d/accountz?acc=%s" % (monitor_port, account.public_key)

        def limit_reported():
            with urllib.request.urlopen(accountz, timeout=2) as response:
                detail = json.load(response).get("account_detail") or {}
            return ((detail.get("decoded_jwt") or {}).get("nats") or {}).get("limits", {}).get("conn")

        async def measure():
            import nats
            client = await nats.connect(server.url, user_credentials=creds)  # loads the account
            try:
                latencies = []
                for index in range(rounds):
                    limit = 100 + index
                    token = region.mint(account, limits={"conn": limit}, issued_at=base + 1 + index)
                    started = time.perf_counter()
                    status = await asyncio.to_thread(acs.post, account.public_key, token)
                    assert status[0] == 200, status
                    while await asyncio.to_thread(limit_reported) != limit:
                        if time.perf_counter() - started > 5:
                            raise AssertionError("limit %d not reported within 5 s" % limit)
                    latencies.append((time.perf_counter() - started) * 1000)
                return latencies
            finally:
                await client.close()

        return asyncio.run(measure())
    finally:
        server.stop()
        acs.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--wrk-rounds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="cmsgs-acs-bench-")
    os.chmod(root, 0o755)  # nginx workers run unprivileged and must reach static/
    try:
        region = Region(os.path.join(root, "region"))
        lib = build_wheel_lib(os.path.join(root, "wheel"))
        results = bench_get(lib, region, root, args.accounts, args.connections, args.seconds, args.wrk_rounds)
        latencies = bench_push_to_applied(lib, region, root, args.rounds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    acs = results["cmsgs-acs"]
    print("account server benchmark: GET /jwt/v1/accounts/<pub> with wrk, %d accounts, %d connections, "
          "best of %d rounds of %d s" % (args.accounts, args.connections, args.wrk_rounds, args.seconds))
    print("  (cmsgs-acs runs on uvloop, acs (asyncio) on the standard loop; nginx (N) serves the same files")
    print("   with worker_processes N; load average %.1f on %d cores)" % (os.getloadavg()[0], os.cpu_count()))
    for name, figures in results.items():
        print("  %-13s %9.0f requests/s   p50 %6.2f ms   p99 %6.2f ms   non-2xx %d"
              % (name, figures["rps"], figures["p50_ms"], figures["p99_ms"], figures["non_2xx"]))
    for name in ("nginx (1)", "nginx (auto)"):
        print("  cmsgs-acs/%s throughput: %.2f (aim >= 0.33)" % (name, acs["rps"] / results[name]["rps"]))
    print("  cmsgs-acs p99 at %d connections: %.2f ms (aim < 5 ms)" % (args.connections, acs["p99_ms"]))
    print("push-to-applied (POST until nats-server's /accountz reports the new conn limit), %d rounds" % args.rounds)
    print("  p50 %.1f ms   p99 %.1f ms   max %.1f ms   mean %.1f ms (aim p99 < 200 ms)"
          % (percentile(latencies, 0.5), percentile(latencies, 0.99), max(latencies), statistics.mean(latencies)))


if __name__ == "__main__":
    sys.exit(main())
