# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that derive the NATS topology and the stack options from the inventory.

The documentation of each filter is in the YAML file of the same name next to this one;
the rules live in plugins/module_utils/nats_topology.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_topology as topology


def _host_variables(hostvars, hosts, names=topology.HOST_VARIABLES):
    """Only the variables the topology reads: templating all of hostvars would cost every host's vars."""
    picked = {}
    for host in hosts:
        try:
            variables = hostvars[host]
        except KeyError:
            raise AnsibleFilterError("nats_topology: %s is in the groups but not in hostvars" % host)
        picked[host] = {name: variables[name] for name in names if name in variables}
    return picked


def nats_topology(hostvars, groups, message_channel_server="", cluster_groups=None):
    if not hasattr(groups, "get"):
        raise AnsibleFilterError("nats_topology: groups must be the groups variable, got %r" % type(groups).__name__)
    if cluster_groups is not None and not is_sequence(cluster_groups):
        raise AnsibleFilterError("nats_topology: cluster_groups must be a list of group names")
    plain_groups = {name: list(members) for name, members in groups.items()}
    servers = plain_groups.get(topology.SERVERS_GROUP, [])
    return topology.derive(plain_groups, _host_variables(hostvars, servers), message_channel_server,
                           list(cluster_groups) if cluster_groups else None)


def nats_stack_options(options, groups, acs_primary_address=""):
    if not hasattr(options, "get") or not hasattr(groups, "get"):
        raise AnsibleFilterError("nats_stack_options: give a dict of the nats_stack_* options and the groups variable")
    plain_groups = {name: list(members) for name, members in groups.items()}
    return topology.stack_options(dict(options), plain_groups, acs_primary_address)


def nats_stack_plan(hostvars, groups, options, acs_primary_address="", cluster_groups=None, run_hosts=None):
    if not hasattr(options, "get") or not hasattr(groups, "get"):
        raise AnsibleFilterError("nats_stack_plan: give hostvars, the groups variable and a dict of the nats_stack_* options")
    plain_groups = {name: list(members) for name, members in groups.items()}
    servers = plain_groups.get(topology.SERVERS_GROUP, [])
    variables = _host_variables(hostvars, servers, topology.HOST_VARIABLES + topology.SECURITY_VARIABLES)
    return topology.stack_plan(dict(options), plain_groups, variables, acs_primary_address,
                               list(cluster_groups) if cluster_groups else None,
                               None if run_hosts is None else list(run_hosts))


def nats_server_topology(hostvars, groups, host, stack_plan=None):
    """One server's part of the topology: from the stack's plan when the stack's checks made
    one for the run, else derived from the inventory (the role used alone)."""
    if stack_plan is not None:
        if not hasattr(stack_plan, "get"):
            raise AnsibleFilterError("nats_server_topology: stack_plan must be the result of nats_stack_plan")
        topology = stack_plan.get("topology") or {}
    else:
        topology = nats_topology(hostvars, groups)
    return (topology.get("hosts") or {}).get(host, {})


def nats_restart_hosts(hostvars, hosts):
    results = {}
    for host in hosts:
        variables = hostvars[host]
        results[host] = {
            "binary": variables["_nats_server_binary_result"] if "_nats_server_binary_result" in variables else {},
            "config": variables["_nats_server_config_result"] if "_nats_server_config_result" in variables else {},
        }
    return topology.restart_hosts(list(hosts), results)


class FilterModule(object):
    def filters(self):
        return {
            "nats_topology": nats_topology,
            "nats_stack_options": nats_stack_options,
            "nats_stack_plan": nats_stack_plan,
            "nats_server_topology": nats_server_topology,
            "nats_restart_hosts": nats_restart_hosts,
        }
