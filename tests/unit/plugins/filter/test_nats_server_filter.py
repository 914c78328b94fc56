# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nats_server filters: errors as filter errors, the controller binary read once, docs for each."""

from __future__ import annotations

import base64
import hashlib
import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.filter import nats_server as nats_server_filter
from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt
from ansible_collections.cmsgs.nats.plugins.module_utils.nats_jwt import KeyPair
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary
from ansible_collections.cmsgs.nats.tests.unit.nats_server_vars import role_defaults

FILTER_DIR = pathlib.Path(nats_server_filter.__file__).resolve().parent


def fake_binary(tmp_path, version="2.15.1"):
    counter = tmp_path / "calls"
    binary = tmp_path / "nats-server"
    binary.write_text("#!/bin/sh\necho x >> %s\necho 'nats-server: v%s'\n" % (counter, version))
    binary.chmod(0o755)
    return binary, counter


def test_every_filter_has_its_documentation():
    names = sorted(nats_server_filter.FilterModule().filters())
    for name in names:
        doc = yaml.safe_load((FILTER_DIR / (name + ".yml")).read_text())
        assert doc["DOCUMENTATION"]["name"] == name and doc["EXAMPLES"] and doc["RETURN"]


def test_binary_facts_run_the_binary_once_however_often_asked(tmp_path):
    binary, counter = fake_binary(tmp_path)
    first = nats_server_filter.nats_server_binary_facts(str(binary))
    for _attempt in range(5):
        assert nats_server_filter.nats_server_binary_facts(str(binary)) == first
    assert first["version"] == "2.15.1" and len(first["sha1"]) == 40 and first["path"] == str(binary)
    assert counter.read_text().count("x") == 1


def test_the_local_version_comes_from_the_facts_read_for_the_play(tmp_path):
    binary, counter = fake_binary(tmp_path, "2.10.4")
    values = role_defaults(nats_server_install_method="local", nats_server_local_binary=str(binary), nats_server_client_tls=True)
    facts = {"path": str(binary), "sha1": "0" * 40, "version": "2.15.1"}
    assert nats_server_filter.nats_server_config(values, binary_facts=facts)["tls"]["min_version"] == "1.2"
    assert not counter.exists()
    # Facts of another binary (or none, when the install tasks were skipped by tag): the local one is asked.
    other = dict(facts, path="/elsewhere/nats-server")
    assert nats_server_filter.nats_server_config(values, binary_facts=other)["tls"]["min_version"] is None
    assert counter.read_text().count("x") == 1


def test_local_method_tls_is_spelled_for_the_local_binary(tmp_path):
    binary, _counter = fake_binary(tmp_path, "2.10.4")
    values = role_defaults(nats_server_install_method="local", nats_server_local_binary=str(binary), nats_server_client_tls=True)
    assert nats_server_filter.nats_server_config(values)["tls"]["min_version"] is None
    assert nats_server_filter.nats_server_config(dict(values, nats_server_install_method="package"),
                                                 package_version="nats-server: v2.15.1")["tls"]["min_version"] == "1.2"


def test_without_tls_the_binary_is_never_asked(tmp_path):
    binary, counter = fake_binary(tmp_path)
    values = role_defaults(nats_server_install_method="local", nats_server_local_binary=str(binary))
    nats_server_filter.nats_server_config(values)
    assert not counter.exists()


def test_bad_values_are_filter_errors_naming_the_variable():
    with pytest.raises(AnsibleFilterError, match="nats_server_config: nats_server_port must be a whole number"):
        nats_server_filter.nats_server_config(role_defaults(nats_server_port="42x"))
    with pytest.raises(AnsibleFilterError, match="nats_server_binary_facts: cannot read"):
        nats_server_filter.nats_server_binary_facts("/nonexistent/nats-server")


FILTERS = nats_server_filter.FilterModule().filters()


def operator_jwts():
    operator = KeyPair(nats_jwt.new_seed("operator"))
    system = KeyPair(nats_jwt.new_seed("account"))
    operator_jwt = nats_jwt.sign_claims(nats_jwt.build_claims(
        "operator", "REGION1", operator.public_key, operator.public_key, {"system_account": system.public_key}), operator)
    system_jwt = nats_jwt.sign_claims(nats_jwt.build_claims("account", "SYS", system.public_key, operator.public_key, {}),
                                      operator)
    return operator_jwt, system_jwt, system.public_key


def slurped(text):
    return {"content": base64.b64encode(text.encode()).decode(), "encoding": "base64"}


def test_the_operator_filter_takes_the_jwts_read_on_the_host():
    operator_jwt, system_jwt, system_id = operator_jwts()
    values = role_defaults(nats_server_operator_enabled="true", nats_server_resolver_type="full",
                           nats_server_operator_jwt_file="/srv/ncred/REGION1.jwt",
                           nats_server_operator_system_account_jwt_file="/srv/ncred/SYS.jwt")
    disabled = {"enabled": False, "problems": [], "jwt": "", "settings": {}}
    assert FILTERS["nats_server_operator"](role_defaults()) == disabled
    operator = FILTERS["nats_server_operator"](values, operator_jwt_read=slurped(operator_jwt + "\n"),
                                               system_account_jwt_read=slurped(system_jwt))
    assert operator["problems"] == [] and operator["jwt"] == operator_jwt
    assert operator["settings"]["operator"] == operator_jwt and operator["settings"]["system_account"] == system_id
    assert FILTERS["nats_server_config"](values, operator=operator)["operator"] == operator_jwt
    with pytest.raises(AnsibleFilterError, match=r"^nats_server_operator: nats_server_operator_enabled must be true"):
        FILTERS["nats_server_operator"](role_defaults(nats_server_operator_enabled="maybe"))


def test_only_a_check_mode_run_may_configure_operator_mode_without_the_jwt():
    values = role_defaults(nats_server_operator_enabled="true")
    not_read = {"enabled": True, "problems": [], "jwt": "", "settings": {}}
    with pytest.raises(AnsibleFilterError, match=r"^nats_server_config: operator mode cannot be configured"):
        FILTERS["nats_server_config"](values, operator=not_read)
    assert "operator" not in FILTERS["nats_server_config"](values, operator=not_read, check_mode=True)


def test_missing_jwt_libraries_are_named(monkeypatch):
    monkeypatch.setattr(nats_jwt, "HAS_NKEYS", False)
    with pytest.raises(AnsibleFilterError) as failure:
        FILTERS["nats_server_operator"](role_defaults())
    assert str(failure.value) == ("the Python libraries nkeys and PyNaCl are needed on the controller to read NATS"
                                  " JWTs")


def test_tls_sets_and_their_watched_files_come_through_the_filters():
    values = role_defaults(nats_server_client_tls="true")
    sets = FILTERS["nats_server_tls_sets"](values)
    assert [(s["label"], s["cert"], s["key"]) for s in sets] == [
        ("cmserver", "/srv/certs/cmserver/cert.pem", "/srv/certs/cmserver/privkey.pem")]
    assert FILTERS["nats_server_watch_files"](sets) == ["/srv/certs/cmserver/cert.pem", "/srv/certs/cmserver/privkey.pem"]
    assert FILTERS["nats_server_tls_sets"](role_defaults()) == []
    with pytest.raises(AnsibleFilterError, match=r"^nats_server_tls_sets: nats_server_client_tls must be true or false"):
        FILTERS["nats_server_tls_sets"](role_defaults(nats_server_client_tls="maybe"))


def test_folders_come_through_the_filter():
    folders = FILTERS["nats_server_folders"](role_defaults())
    assert folders["writable_paths"] == ["/var/lib/nats-server"]
    assert folders["entries"][0] == {"path": "/etc/nats-server", "state": "directory", "owner": "root",
                                     "group": "cmsgs", "mode": "0750"}
    with pytest.raises(AnsibleFilterError, match=r"^nats_server_folders: nats_server_jetstream_enabled must be true"):
        FILTERS["nats_server_folders"](role_defaults(nats_server_jetstream_enabled="maybe"))


def test_the_run_plan_comes_through_the_filter():
    assert FILTERS["nats_server_run"](role_defaults())["layout"] == FILTERS["nats_server_folders"](role_defaults())
    assert FILTERS["nats_server_run"](role_defaults(nats_server_user="root"))["problems"][0].startswith("nats_server_user is 'root'")
    # A value no rule can read is named with the filter, as the other filters name theirs.
    with pytest.raises(AnsibleFilterError, match=r"^nats_server_run: nats_server_jetstream_enabled must be true"):
        FILTERS["nats_server_run"](role_defaults(nats_server_jetstream_enabled="maybe"))


def test_preflight_and_warnings_come_through_the_filters():
    assert FILTERS["nats_server_preflight"](role_defaults()) == []
    problems = FILTERS["nats_server_preflight"](role_defaults(nats_server_user="root"))
    assert len(problems) == 1 and problems[0].startswith("nats_server_user is 'root'"), problems
    assert FILTERS["nats_server_warnings"](role_defaults()) == []
    assert FILTERS["nats_server_warnings"](role_defaults(nats_server_operator_enabled="true")) == [
        "nats_server_operator_public_key is empty: the servers trust whatever operator JWT this run reads. Pin the"
        " operator's key (or give the Region One Token as nats_stack_region1_token)."]


def test_the_release_asked_for_decides_how_tls_is_spelled():
    values = role_defaults(nats_server_install_method="release", nats_server_client_tls="true")
    assert FILTERS["nats_server_config"](dict(values, nats_server_version="2.10.4"))["tls"]["min_version"] is None
    assert FILTERS["nats_server_config"](dict(values, nats_server_version="2.15.1"))["tls"]["min_version"] == "1.2"


def test_a_package_whose_version_was_not_read_is_named():
    values = role_defaults(nats_server_install_method="package", nats_server_client_tls="true")
    with pytest.raises(AnsibleFilterError) as failure:
        FILTERS["nats_server_config"](values)
    assert str(failure.value).startswith(
        "nats_server_config: cannot spell the TLS settings for this nats-server: nats-server version '' is not")


def test_binary_facts_of_the_real_server_binary(tmp_path):
    binary = nats_server_binary()
    if binary is None:
        pytest.skip("no nats-server binary here (tests/unit/nats_binary.py says where it looks)")
    copy = tmp_path / "nats-server"
    shutil.copy(binary, copy)
    facts = FILTERS["nats_server_binary_facts"](str(copy))
    assert facts["sha1"] == hashlib.sha1(copy.read_bytes()).hexdigest()
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", facts["version"])
    asked = subprocess.run([str(copy), "--version"], capture_output=True, text=True, check=False)
    assert facts["version"] in asked.stdout


def test_binary_facts_of_a_file_that_does_not_run(tmp_path):
    # Not executable, or exiting with an error: the checksum still tells it, the version stays empty.
    data = tmp_path / "nats-server"
    data.write_bytes(b"not a program\n")
    assert FILTERS["nats_server_binary_facts"](str(data)) == {
        "path": str(data), "sha1": hashlib.sha1(b"not a program\n").hexdigest(), "version": ""}
    failing = tmp_path / "failing"
    failing.write_text("#!/bin/sh\necho 'nats-server: v2.15.1'\nexit 1\n")
    failing.chmod(0o755)
    assert FILTERS["nats_server_binary_facts"](str(failing))["version"] == "2.15.1"
    with pytest.raises(AnsibleFilterError) as failure:
        FILTERS["nats_server_binary_facts"](str(tmp_path / "absent"))
    assert str(failure.value).startswith("nats_server_binary_facts: cannot read %r: " % str(tmp_path / "absent"))


def test_a_binary_that_hangs_has_no_version_and_does_not_hang_the_run(tmp_path, monkeypatch):
    hanging = tmp_path / "nats-server"
    hanging.write_text("#!%s\nimport time\ntime.sleep(5)\nprint('nats-server: v2.15.1')\n" % sys.executable)
    hanging.chmod(0o755)
    monkeypatch.setattr(nats_server_filter, "VERSION_TIMEOUT", 0.5)
    started = time.monotonic()
    assert FILTERS["nats_server_binary_facts"](str(hanging))["version"] == ""
    assert time.monotonic() - started < 4


def test_a_bad_tls_switch_is_named_before_the_version_is_asked():
    with pytest.raises(AnsibleFilterError, match=r"^nats_server_config: nats_server_client_tls must be true or false"):
        FILTERS["nats_server_config"](role_defaults(nats_server_client_tls="maybe"))


def test_gateway_pins_come_from_the_tls_checks_the_role_ran():
    peers = [{"name": "east", "urls": ["nats://east-1:7222"]}, {"name": "west", "urls": ["nats://west-1:7222"]}]
    values = role_defaults(nats_server_install_method="release", nats_server_version="2.15.1",
                           nats_server_cluster_name="east", nats_server_gateway_name="east",
                           nats_server_gateway_peers=peers, nats_server_gateway_pinned_certs="true")
    checks = [{"item": {"purpose": "gateway_peer"}, "spki_sha256": "aa"}]
    config = FILTERS["nats_server_config"](values, tls_checks=checks)
    assert config["gateway"]["tls"]["pinned_certs"] == ["aa"]


def test_the_apply_state_filter_passes_each_result_through():
    apply_state = nats_server_filter.FilterModule().filters()["nats_server_apply_state"]
    # A new binary, a unit written only in check mode, a server started by this run.
    assert apply_state({"unit_active": False, "unit_changed": True}, {"changed": True}, {"changed": True}, True) == {
        "restart_needed": True, "running": True, "unit_pending": True}
    # Outside check mode a changed unit was written: nothing is pending.
    assert apply_state({"unit_active": True, "unit_changed": True}) == {
        "restart_needed": False, "running": True, "unit_pending": False}
    assert apply_state({}, None, None, True) == {"restart_needed": False, "running": False, "unit_pending": False}


def test_the_local_address_filter_reaches_a_wildcard_listener_on_loopback():
    local_address = nats_server_filter.FilterModule().filters()["nats_server_local_address"]
    assert [local_address(a) for a in ("0.0.0.0", "10.1.2.3")] == ["127.0.0.1", "10.1.2.3"]
