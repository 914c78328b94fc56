# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the inventory of `make demo` / `make bench` for a topology.

usage: demo_inventory.py TOPOLOGY PREFIX DIR [--plain] [--servers N]
TOPOLOGY: standalone | cluster | hypercluster. The hosts are systemd containers
named PREFIX-acs, PREFIX-east-1, ... (tests/harness/systemd-host.sh). --plain
writes a plain cluster (no TLS, no operator mode, no ACS) for the benchmark.
Prints the container names, one a line: the ACS host first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

LAYOUTS = {"standalone": {"solo": 1}, "cluster": {"east": 3}, "hypercluster": {"east": 2, "west": 2}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("topology", choices=sorted(LAYOUTS))
    parser.add_argument("prefix")
    parser.add_argument("dir")
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--servers", type=int)
    options = parser.parse_args()
    layout = dict(LAYOUTS[options.topology])
    if options.servers:
        layout = {"solo": 1} if options.servers == 1 else {"east": options.servers}
    venv_bin = os.path.join(os.getcwd(), ".venv", "bin")
    host_vars = {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3"}
    server_vars = {
        "ansible_become": False,
        "nats_server_install_method": "local",
        "nats_server_local_binary": os.path.join(venv_bin, "nats-server"),
    }
    if options.plain:
        # No certificate role runs, so no facts give the address; the controller
        # reaches each container at the address docker gave it.
        server_vars.update(
            nats_stack_insecure_no_client_auth=True,
            nats_server_cluster_tls=False,
            nats_stack_verify_address="{{ (lookup('pipe', 'docker inspect ' ~ inventory_hostname) | from_json)[0]"
            ".NetworkSettings.Networks.values() | map(attribute='IPAddress') | select | first }}",
        )
    else:
        server_vars.update(
            tls_certs_mode="generate",
            tls_certs_pki_dir=os.path.join(os.path.abspath(options.dir), "pki"),
            nats_server_client_tls=True,
            nats_server_client_tls_custom_ca=True,
            nats_server_resolver_type="full",
            nats_server_jetstream_enabled=True,
            nats_stack_verify_address="{{ ansible_facts['default_ipv4']['address'] }}",
        )
    clusters = {}
    names = []
    for cluster, count in layout.items():
        members = {}
        for index in range(1, count + 1):
            name = "%s-%s-%d" % (options.prefix, "nats" if cluster == "solo" else cluster, index)
            members[name] = {}
            names.append(name)
        clusters[cluster] = {"hosts": members}
    children = {"nats_servers": {"vars": server_vars}}
    if layout == {"solo": 1}:
        children["nats_servers"]["hosts"] = clusters["solo"]["hosts"]
    else:
        children["nats_servers"]["children"] = clusters
    if not options.plain:
        acs = "%s-acs" % options.prefix
        children["acs_primary"] = {"hosts": {acs: {"ansible_become": False}}}
        names.insert(0, acs)
    inventory = {"all": {"vars": dict(host_vars, nats_stack_primary_acs_fqdn="acs.demo.test"), "children": children}}
    os.makedirs(options.dir, exist_ok=True)
    with open(os.path.join(options.dir, "hosts.yml"), "w", encoding="utf-8") as handle:
        handle.write("# Written by tests/harness/demo_inventory.py.\n" + json.dumps(inventory, indent=2) + "\n")
    print("\n".join(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
