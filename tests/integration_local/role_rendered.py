# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nats-server configuration files as the nats_server role renders them.

The role's variables (its defaults with a test's overrides) go through the
same filters vars/main.yml calls (preflight, operator, TLS sets, config),
the certificate sets through the checks tasks/tls.yml runs, and the result
through nats_conf.render, as cmsgs.nats.nats_config writes it. A test that
starts nats-server on such a file tests what the collection would install.
"""

from __future__ import annotations

import getpass
import os

from ansible_collections.cmsgs.nats.plugins.filter import nats_server as role_filters
from ansible_collections.cmsgs.nats.plugins.module_utils import nats_conf, tls_spec
from ansible_collections.cmsgs.nats.tests.unit.nats_binary import nats_server_binary
from ansible_collections.cmsgs.nats.tests.unit.nats_server_vars import role_defaults


def role_variables(directory, **overrides):
    """The role's variables for a server on loopback whose folders are below directory.

    install_method local makes the filters ask the pinned binary for its
    version, as the role does, so TLS is spelled for nats-server 2.15.1.
    """
    directory = str(directory)
    values = dict(
        nats_server_install_method="local",
        nats_server_local_binary=nats_server_binary(),
        nats_server_listen_address="127.0.0.1",
        nats_server_monitor_address="127.0.0.1",
        nats_server_config_dir=os.path.join(directory, "etc"),
        nats_server_data_dir=os.path.join(directory, "data"),
        nats_server_log_dir=os.path.join(directory, "log"),
        nats_server_certs_dir=os.path.join(directory, "certs"),
        # The server logs to stdout, which the test keeps in a file.
        nats_server_log_file="",
        nats_server_resolver_dir=os.path.join(directory, "data", "resolver"),
        nats_server_user=_service_user(),
        nats_server_jetstream_enabled=False,
        nats_server_operator_enabled=False,
    )
    values.update(overrides)
    return role_defaults(**values)


def _service_user():
    """The keys a test writes belong to the user running it. The certificate checks
    let root or the service user own a key, and the preflight refuses root as the
    service user, so a test run by root keeps the default."""
    user = getpass.getuser()
    return "cmsgs" if user == "root" else user


def tls_checks(variables):
    """What tasks/tls.yml registers: one tls_cert_check result per certificate set."""
    results = []
    for tls_set in role_filters.nats_server_tls_sets(variables):
        report = tls_spec.check_certificate_files(
            tls_set["cert"], tls_set["purpose"], key_path=tls_set.get("key"), ca_path=tls_set.get("ca"),
            names=tls_set.get("names") or [], require_ecdsa=tls_set.get("require_ecdsa"),
            key_owners=tls_set.get("key_owners"), public_ca=tls_set.get("public_ca", "allow"),
        )
        results.append(dict(report["facts"], item=tls_set, problems=report["problems"]))
    return results


def rendered_config(variables):
    """The configuration file's text; the role's preflight and certificate checks must pass first."""
    problems = role_filters.nats_server_preflight(variables)
    assert problems == [], problems
    checks = tls_checks(variables)
    assert tls_spec.problems_from_checks(checks) == []
    operator = role_filters.nats_server_operator(variables) if variables.get("nats_server_operator_enabled") else None
    config = role_filters.nats_server_config(variables, operator=operator, tls_checks=checks)
    return nats_conf.render(config)
