# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An AWX/Tower job, run by the engine AWX runs every job with (ansible-runner).

The private data dir is laid out as AWX lays it out: project/ (a fresh clone
of this repository, as a project sync leaves it), inventory/hosts (an
executable inventory script printing JSON), env/extravars with the survey's
answers (strings, as every survey answer arrives), env/envvars and
env/settings, and the Region One Token from a custom credential whose
extra_vars injector AWX writes to a file of its own under env/ and hands to
ansible-playbook as -e @file. The operator comes from elsewhere, so its
holder has put SYS.jwt and sys.creds on the [ncred] volume beforehand. The
job writes REGION1 into [ncred], runs the primary account server and the
standalone server in operator mode on a systemd container. It must succeed, the server
must run with the operator of the token, and the token must not appear
anywhere in what the job leaves behind (job events, stdout, command line).
"""

from __future__ import annotations

import json
import re
import shutil
import stat

import ansible_runner
import nats.errors
import pytest

from conftest import BIN, TOP, nats_roundtrip, write_json


def awx_doc_json():
    """The JSON blocks of docs/awx.md: the survey spec and the credential types."""
    text = (TOP / "docs" / "awx.md").read_text()
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def survey_spec():
    (spec,) = [block for block in awx_doc_json() if "spec" in block]
    return spec["spec"]


def token_injector():
    """The extra_vars injector of the Region One Token credential type."""
    (injector,) = [block["extra_vars"] for block in awx_doc_json()
                   if "nats_stack_region1_token" in block.get("extra_vars", {})]
    return injector


def test_the_survey_carries_the_six_stack_options():
    assert [question["variable"] for question in survey_spec()] == [
        "nats_stack_enable_acs", "nats_stack_message_channel_server", "nats_stack_primary_acs_fqdn",
        "nats_stack_acs_managed_nodes", "nats_stack_ncred_readonly", "nats_stack_region1_token"]
    for question in survey_spec():
        if question["type"] == "multiplechoice":
            assert question["default"] in question["choices"].split("\n")


def survey_answers(host):
    """The survey of docs/awx.md answered for this job, and more role switches and
    numbers a survey may carry, all as the strings AWX sends."""
    answers = {question["variable"]: str(question["default"]) for question in survey_spec()}
    # The token comes from the credential, not from the survey.
    del answers["nats_stack_region1_token"]
    answers.update({
        "nats_stack_enable_acs": "primary",
        "nats_stack_message_channel_server": "standalone",
        "nats_stack_primary_acs_fqdn": "acs.region1.test",
        "nats_stack_acs_managed_nodes": host.name,
        "nats_stack_ncred_readonly": "false",
        "region1_bootstrap_ncred_readonly": "false",
        "region1_bootstrap_primary_acs_fqdn": "acs.region1.test",
        "region1_bootstrap_export_sys_creds": "false",
        "nats_server_port": "4222",
        "nats_server_monitor_port": "8222",
        "nats_server_max_payload": "1048576",
        "nats_server_max_connections": "1000",
        "nats_server_limit_nofile": "131072",
        "nats_server_jetstream_enabled": "true",
        "nats_server_debug": "false",
        "nats_server_trace": "false",
        "nats_server_client_tls": "false",
        "nats_server_operator_enabled": "true",
        "nats_server_resolver_type": "full",
        "nats_server_resolver_allow_delete": "false",
        "nats_server_tls_expiry_warning_days": "30",
    })
    assert all(isinstance(value, str) for value in answers.values())
    return answers


def inventory_script(host, system_account_jwt, extra_hostvars=None):
    """AWX hands ansible-playbook an executable script that prints the inventory as JSON."""
    data = {
        "all": {"children": ["acs_primary", "nats_servers"]},
        "acs_primary": {"hosts": [host.name]},
        "nats_servers": {"hosts": [host.name]},
        "_meta": {"hostvars": {host.name: dict(
            host.inventory_vars(),
            **(extra_hostvars or {}),
            # The Region One Token is the operator REGION1 holds and the servers trust
            # (the stack options' defaults give the same; SYS's JWT is public).
            region1_bootstrap_region1_token="{{ nats_stack_region1_token }}",
            nats_server_operator_jwt="{{ nats_stack_region1_token }}",
            nats_server_operator_system_account_jwt=system_account_jwt,
        )}},
    }
    return "#!/bin/sh\ncat <<'INVENTORY'\n%s\nINVENTORY\n" % json.dumps(data, indent=2)


def provision_ncred(host, region1):
    """[ncred] as the holder of the operator provisions it before the first job.

    The token makes REGION1 come from elsewhere, so the job cannot create SYS:
    the account server's SYS.jwt and sys.creds are put on the volume by whoever
    keeps the operator's key (the deployment guide's "Provision the [ncred]
    volume"); the job sets their owners and modes.
    """
    host.put("/srv/ncred/SYS.jwt", region1["system_account_jwt"], mode="0640")
    with open(region1["sys_creds"]) as creds:
        host.put("/srv/ncred/creds/sys.creds", creds.read())


def awx_job_run(pdd, fresh_clone, host, region1, execution_environment=None):
    """A job as AWX runs one, from a private data dir laid out as AWX lays it out,
    on this machine or in an execution environment."""
    ee = execution_environment
    shutil.copytree(fresh_clone, pdd / "project", symlinks=True)
    script = pdd / "inventory" / "hosts"
    script.parent.mkdir(parents=True)
    script.write_text(inventory_script(host, region1["system_account_jwt"],
                                       {"nats_server_local_binary": ee.nats_server} if ee else None))
    script.chmod(stat.S_IRWXU)
    write_json(pdd / "env" / "extravars", survey_answers(host))
    # The collections a project sync installs from collections/requirements.yml go here
    # (Galaxy is out of reach of the tests: community.crypto comes from the `ansible` package).
    (pdd / "requirements_collections").mkdir()
    if ee:
        ee.prepare(pdd)
        envvars = {"ANSIBLE_COLLECTIONS_PATH": ee.collections_path}
    else:
        envvars = {
            "ANSIBLE_COLLECTIONS_PATH": "%s:~/.ansible/collections:/usr/share/ansible/collections"
                                        % (pdd / "requirements_collections"),
            "PATH": "%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" % BIN,
        }
    write_json(pdd / "env" / "envvars", dict(envvars, ANSIBLE_FORCE_COLOR="False"))
    write_json(pdd / "env" / "settings", {"job_timeout": 900, "suppress_ansible_output": True})
    # The "Region One Token" credential type of docs/awx.md: its extra_vars injector, rendered.
    injected = {name: value.replace("{{ region1_token }}", region1["token"]) for name, value in token_injector().items()}
    credential = write_json(pdd / "env" / "tmp_credential_extravars", injected)
    with pytest.MonkeyPatch.context() as patch:
        # The Makefile's ANSIBLE_CONFIG points at this tree; an AWX job has only the project's.
        for name in ("ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS"):
            patch.delenv(name, raising=False)
        return ansible_runner.run(
            private_data_dir=str(pdd), playbook="site.yml",
            cmdline="-e @%s" % (ee.path(pdd, credential) if ee else credential),
            ident="job", quiet=True, **(ee.runner_options() if ee else {}))


def test_a_job_without_the_sys_files_stops_before_anything_changes(fresh_clone, systemd_host, region1, tmp_path):
    systemd_host.exec("rm", "-rf", "/srv/ncred")
    result = awx_job_run(tmp_path / "job", fresh_clone, systemd_host, region1)
    assert (result.status, result.rc) == ("failed", 2)
    output = " ".join(result.stdout.read().split())
    assert "The account server needs /srv/ncred/SYS.jwt, /srv/ncred/creds/sys.creds" in output
    assert "The operator is the Region One Token, made elsewhere" in output
    # REGION1 was not written: the bootstrap creates [ncred] before anything else there.
    assert systemd_host.exec("test", "-e", "/srv/ncred", check=False).returncode == 1


@pytest.fixture(scope="module")
def awx_job(fresh_clone, systemd_host, region1, tmp_path_factory):
    provision_ncred(systemd_host, region1)
    pdd = tmp_path_factory.mktemp("awx") / "job"
    return {"result": awx_job_run(pdd, fresh_clone, systemd_host, region1), "pdd": pdd}


def test_the_job_succeeds(awx_job):
    result = awx_job["result"]
    assert (result.status, result.rc) == ("successful", 0), result.stdout.read()[-6000:]
    assert result.stats["failures"] == {} and result.stats["dark"] == {}


def test_the_server_runs_the_token_operator(awx_job, systemd_host, region1):
    assert systemd_host.exec("systemctl", "is-active", "nats-server").stdout.strip() == "active"
    # The token reached [ncred]/REGION1.jwt (ncred_readonly "false" is false).
    assert systemd_host.exec("cat", "/srv/ncred/REGION1.jwt").stdout.strip() == region1["token"]
    url = "nats://%s:4222" % systemd_host.address
    # Operator mode: a user of the token's operator gets through, an anonymous client does not.
    assert nats_roundtrip(url, b"through the job", user_credentials=region1["sys_creds"]) == b"through the job"
    with pytest.raises(nats.errors.Error):
        nats_roundtrip(url, b"anonymous")


def test_string_answers_are_read_as_values(awx_job, systemd_host):
    config = systemd_host.exec("cat", "/etc/nats-server/nats-server.conf").stdout
    assert "jetstream" in config
    assert '"max_connections": 1000' in config or "max_connections: 1000" in config
    assert '"debug": true' not in config and "debug: true" not in config


def test_the_token_appears_nowhere_in_the_artifacts(awx_job, region1):
    token = region1["token"]
    artifacts = awx_job["pdd"] / "artifacts"
    files = [path for path in artifacts.rglob("*") if path.is_file()]
    events = list((artifacts / "job" / "job_events").glob("*.json"))
    assert len(events) > 50, "the job left too few events to be a real run"
    # The scan would see the token: the events carry the results of both roles' tasks.
    roles = {json.loads(path.read_text()).get("event_data", {}).get("role") for path in events}
    assert {"region1_bootstrap", "nats_server"} <= roles
    leaks = [str(path.relative_to(artifacts)) for path in files if token in path.read_text(errors="replace")]
    assert leaks == []
    # Nor any part of it long enough to identify it (its signature).
    signature = token.rsplit(".", 1)[1]
    assert [p for p in files if signature in p.read_text(errors="replace")] == []
