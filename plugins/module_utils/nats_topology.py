# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NATS topology that an inventory describes, and the seed's stack options.

The inventory is the topology: ``nats_servers`` holds every message server and
has one child group per cluster. From the groups and the hosts' inventory
variables this module derives, for every server, its cluster, the routes to
the other members, its gateway and the peer clusters' gateway URLs, and what
the server advertises when it sits behind NAT. Nothing here talks to a host:
the same answer comes out on every run, and the unit tests cover each rule.

Problems are collected, never raised one at a time: each message names the
host and the variable (or group) to change, and a play reports them together
before anything changes anywhere.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

SERVERS_GROUP = "nats_servers"
ACS_PRIMARY_GROUP = "acs_primary"
ACS_SECONDARY_GROUP = "acs_secondary"
# Groups that are never clusters, whatever hosts they hold.
_RESERVED_GROUPS = frozenset(["all", "ungrouped", SERVERS_GROUP, ACS_PRIMARY_GROUP, ACS_SECONDARY_GROUP])

KIND_NONE = "none"
KIND_STANDALONE = "standalone"
KIND_CLUSTER = "cluster"
KIND_HYPER = "hyper-cluster"
MESSAGE_CHANNEL_SERVERS = (KIND_NONE, KIND_STANDALONE, KIND_CLUSTER, KIND_HYPER)
ENABLE_ACS = ("primary", "secondary", "none")

DEFAULT_PORTS = {"client": 4222, "cluster": 6222, "gateway": 7222}
# The inventory variables of a server that shape the topology, with the port each names.
PORT_VARIABLES = {
    "client": "nats_server_port",
    "cluster": "nats_server_cluster_port",
    "gateway": "nats_server_gateway_port",
}
NAME_VARIABLE = "nats_server_name"
CLUSTER_VARIABLE = "nats_server_cluster_name"
ADVERTISE_VARIABLE = "nats_server_advertise_address"
# Every hostvar the topology reads, so a caller can pass only these.
HOST_VARIABLES = (NAME_VARIABLE, CLUSTER_VARIABLE, ADVERTISE_VARIABLE, "ansible_host") + tuple(PORT_VARIABLES.values())

# nats-server refuses spaces in server and cluster names; dots and wildcards
# would clash with subjects ($SYS.SERVER.<name>...).
_NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.:-]+)$")
# A managed node may also carry a port after a bracketed IPv6 address.
_NODE_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\](:[0-9]+)?|[A-Za-z0-9_.:-]+)$")

_TRUE = frozenset(["true", "yes", "on", "1", "y", "t"])
_FALSE = frozenset(["false", "no", "off", "0", "n", "f"])


class _Missing(object):
    pass


MISSING = _Missing()


def parse_bool(value, name):
    """(bool, problem) from a YAML value or a survey string; "false" is false."""
    if isinstance(value, bool):
        return value, None
    # The numbers 0 and 1 read as their text, "0" and "1".
    text = str(value).strip().lower()
    if text in _TRUE:
        return True, None
    if text in _FALSE:
        return False, None
    return None, "%s is %r: give true or false." % (name, value)


def parse_port(value, name):
    """(int, problem) from a YAML number or a string such as "6222"."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 0 < int(text) < 65536:
        return None, "%s is %r: give a TCP port between 1 and 65535." % (name, value)
    return int(text), None


def _choice(value, name, choices, aliases=None):
    text = str(value).strip().lower().replace("_", "-")
    text = (aliases or {}).get(text, text)
    if text in choices:
        return text, None
    return None, "%s is %r: give one of %s." % (name, value, ", ".join(choices))


def _url_host(address):
    """An address as it goes into a URL: IPv6 literals in brackets."""
    return "[%s]" % address if ":" in address and not address.startswith("[") else address


def _host_list(value, name):
    """A list from YAML or from a survey's text (comma, space or newline separated)."""
    if value is None or value == "":
        return [], None
    if isinstance(value, (list, tuple)):
        items = [str(item).strip() for item in value]
    elif isinstance(value, str):
        items = [item.strip() for item in re.split(r"[\s,]+", value)]
    else:
        return None, "%s is %r: give a list of host names or nats:// URLs." % (name, value)
    return [item for item in items if item], None


def cluster_groups(groups, explicit=None):
    """The groups that are clusters: children of nats_servers.

    ``groups`` (the magic variable) is flat, so a child group is recognised as
    a group whose hosts all are message servers. ``explicit`` names them when
    the inventory has other such groups.
    """
    servers = set(groups.get(SERVERS_GROUP) or [])
    if explicit:
        return sorted(explicit)
    return sorted(
        name for name, members in groups.items()
        if name not in _RESERVED_GROUPS and members and set(members) <= servers
    )


def _kind_of(cluster_members, server_count):
    if server_count == 0:
        return KIND_NONE
    if server_count == 1:
        return KIND_STANDALONE
    return KIND_HYPER if len(cluster_members) > 1 else KIND_CLUSTER


def _verify_subscribers(host, cluster, clusters, kind):
    """Servers that receive the verification message this server publishes.

    One on another member of its cluster (over a route) and, in a
    hyper-cluster, one in the next cluster (over a gateway), so that every
    route and gateway direction carries at least one message.
    """
    if kind == KIND_STANDALONE:
        return [host]
    members = clusters[cluster]
    position = members.index(host)
    subscribers = []
    if len(members) > 1:
        subscribers.append(members[(position + 1) % len(members)])
    if kind == KIND_HYPER:
        names = sorted(clusters)
        other = clusters[names[(names.index(cluster) + 1) % len(names)]]
        subscribers.append(other[position % len(other)])
    return subscribers


def derive(groups, hostvars, message_channel_server="", explicit_cluster_groups=None):
    """The topology of the inventory.

    groups: the ``groups`` magic variable; hostvars: host -> its inventory
    variables (only HOST_VARIABLES are read); message_channel_server: the
    stack option, empty to take the topology the inventory shows.

    Returns a dict: kind, clusters (name -> servers), servers, hosts (server
    -> its part: cluster_name, routes, gateway_name, gateway_peers, advertise,
    client_url, route_tls, verify_subscribers, ...) and problems (strings).
    """
    problems = []
    wanted = ""
    if message_channel_server not in (None, ""):
        wanted, problem = _choice(message_channel_server, "nats_stack_message_channel_server",
                                  MESSAGE_CHANNEL_SERVERS, {"hypercluster": KIND_HYPER})
        if problem:
            problems.append(problem)
    servers = list(groups.get(SERVERS_GROUP) or [])
    result = {"kind": KIND_NONE, "clusters": {}, "servers": servers, "hosts": {}, "problems": problems}
    if wanted == KIND_NONE or problems:
        return result

    candidates = cluster_groups(groups, explicit_cluster_groups)
    membership = {}
    for name in candidates:
        for host in groups.get(name) or []:
            membership.setdefault(host, []).append(name)

    def var(host, name, default=MISSING):
        value = (hostvars.get(host) or {}).get(name, MISSING)
        return default if value is MISSING or value is None else value

    # Which cluster each server is in.
    cluster_of = {}
    ambiguous = []
    for host in servers:
        override = str(var(host, CLUSTER_VARIABLE, "")).strip()
        if override:
            cluster_of[host] = override
        elif len(membership.get(host, [])) > 1:
            ambiguous.append(host)
            problems.append(
                "%s is in %d cluster groups (%s): a server belongs to one cluster; take it out of all but one,"
                " or set %s on it." % (host, len(membership[host]), ", ".join(membership[host]), CLUSTER_VARIABLE))
        elif membership.get(host):
            cluster_of[host] = membership[host][0]
    clusters = {}
    for host in servers:
        if host in cluster_of:
            clusters.setdefault(cluster_of[host], []).append(host)
    kind = _kind_of(clusters, len(servers))
    if len(servers) > 1:
        unplaced = [host for host in servers if host not in cluster_of and len(membership.get(host, [])) <= 1]
        for host in unplaced:
            problems.append(
                "%s is in %s but in no cluster group%s: put it in the child group of %s named after its cluster,"
                " or set %s on it." % (host, SERVERS_GROUP, " (%s)" % ", ".join(sorted(clusters)) if clusters else "",
                                       SERVERS_GROUP, CLUSTER_VARIABLE))

    for name in sorted(clusters):
        if not _NAME_RE.match(name):
            problems.append(
                "cluster name %r (group or %s of %s) is not usable by nats-server: use letters, digits, '-' and '_'."
                % (name, CLUSTER_VARIABLE, ", ".join(clusters[name])))
        # A server placed nowhere yet would make its clusters look small.
        if kind == KIND_HYPER and len(clusters[name]) < 2 and not ambiguous:
            problems.append(
                "cluster %s has one server (%s): in a hyper-cluster every cluster needs at least two; add servers"
                " to group %s or move this one into another cluster." % (name, clusters[name][0], name))

    if wanted:
        described = {
            KIND_NONE: "no message server",
            KIND_STANDALONE: "one server",
            KIND_CLUSTER: "one cluster (%s) of %d servers" % (", ".join(clusters), len(servers)),
            KIND_HYPER: "%d clusters (%s)" % (len(clusters), ", ".join(sorted(clusters))),
        }[kind]
        if wanted != kind:
            hint = {
                KIND_STANDALONE: "exactly one host in %s" % SERVERS_GROUP,
                KIND_CLUSTER: "two or more hosts in one child group of %s" % SERVERS_GROUP,
                KIND_HYPER: "two or more child groups of %s, each a cluster of two or more" % SERVERS_GROUP,
            }[wanted]
            problems.append(
                "nats_stack_message_channel_server is %r but the inventory describes %s: a %s needs %s."
                % (wanted, described, wanted, hint))
    result["kind"] = kind
    result["clusters"] = clusters

    # Names, addresses and ports, each checked once per host.
    parts = {}
    for host in servers:
        name = str(var(host, NAME_VARIABLE, host)).strip()
        if not _NAME_RE.match(name):
            problems.append("%s of %s is %r: use letters, digits, '.', '-' and '_', no spaces."
                            % (NAME_VARIABLE, host, name))
        advertise = str(var(host, ADVERTISE_VARIABLE, "")).strip()
        # _HOST_RE refuses a scheme (no "/"); one colon is host:port, an IPv6 literal has two or more.
        if advertise and (not _HOST_RE.match(advertise) or advertise.count(":") == 1):
            problems.append("%s of %s is %r: give the bare host name or address that peers and clients reach it"
                            " at (no scheme, no port)." % (ADVERTISE_VARIABLE, host, advertise))
            advertise = ""
        ports = {}
        for listener, variable in PORT_VARIABLES.items():
            port, problem = parse_port(var(host, variable, DEFAULT_PORTS[listener]), "%s of %s" % (variable, host))
            if problem:
                problems.append(problem)
            ports[listener] = port or DEFAULT_PORTS[listener]
        address = advertise or str(var(host, "ansible_host", host)).strip() or host
        parts[host] = {"server_name": name, "address": address, "advertised": bool(advertise), "ports": ports}

    _duplicates(problems, parts, lambda part: part["server_name"], NAME_VARIABLE,
                "server names must be unique across the topology")
    # Hosts sharing one address usually share every port: one message per listener that clashes first.
    reported = set()
    for listener in ("client", "cluster", "gateway"):
        if listener == "gateway" and kind != KIND_HYPER:
            continue
        _duplicates(problems, parts, lambda part, listener=listener: "%s:%d" % (part["address"], part["ports"][listener]),
                    "%s/ansible_host and %s" % (ADVERTISE_VARIABLE, PORT_VARIABLES[listener]),
                    "each server needs an address of its own", reported)

    for host in servers:
        part = parts[host]
        cluster = cluster_of.get(host, "") if kind in (KIND_CLUSTER, KIND_HYPER) else ""
        members = clusters.get(cluster, []) if cluster else []
        address = _url_host(part["address"])
        record = {
            "kind": kind,
            "server_name": part["server_name"],
            "address": part["address"],
            "client_url": "nats://%s:%d" % (address, part["ports"]["client"]),
            "cluster_name": cluster,
            "cluster_members": members,
            "routes": [
                "nats-route://%s:%d" % (_url_host(parts[peer]["address"]), parts[peer]["ports"]["cluster"])
                for peer in members if peer != host
            ],
            # Routes carry TLS whenever there is another member to talk to.
            "route_tls": len(members) > 1,
            "gateway_name": cluster if kind == KIND_HYPER else "",
            "gateway_peers": [
                {"name": other, "urls": ["nats://%s:%d" % (_url_host(parts[peer]["address"]), parts[peer]["ports"]["gateway"])
                                         for peer in clusters[other]]}
                for other in sorted(clusters) if kind == KIND_HYPER and other != cluster
            ],
            "advertise": {},
            "verify_subscribers": [],
        }
        if part["advertised"]:
            record["advertise"]["client"] = "%s:%d" % (address, part["ports"]["client"])
            if record["cluster_name"]:
                record["advertise"]["cluster"] = "%s:%d" % (address, part["ports"]["cluster"])
            if record["gateway_name"]:
                record["advertise"]["gateway"] = "%s:%d" % (address, part["ports"]["gateway"])
        if kind == KIND_STANDALONE or cluster:
            record["verify_subscribers"] = _verify_subscribers(host, cluster, clusters, kind)
        result["hosts"][host] = record
    return result


def _duplicates(problems, parts, key, variable, why, reported=None):
    seen = {}
    for host, part in parts.items():
        seen.setdefault(key(part), []).append(host)
    for value, hosts in sorted(seen.items()):
        if len(hosts) > 1 and (reported is None or tuple(hosts) not in reported):
            if reported is not None:
                reported.add(tuple(hosts))
            problems.append("%s and %s share %s %r (%s): %s." % (
                ", ".join(hosts[:-1]), hosts[-1], "their" if variable == NAME_VARIABLE else "the address", value,
                variable, why))


# ------------------------------------------------------------ stack options

STACK_OPTIONS = (
    "nats_stack_enable_acs",
    "nats_stack_message_channel_server",
    "nats_stack_primary_acs_fqdn",
    "nats_stack_acs_managed_nodes",
    "nats_stack_ncred_readonly",
    "nats_stack_region1_token",
)


def stack_options(raw, groups, acs_primary_address=""):
    """The seed's stack options, read the way a survey answers them.

    raw: option name -> value as the play sees it (missing or empty means
    "take the default"). Returns a dict with the normalised options under
    their short names (enable_acs, message_channel_server, primary_acs_fqdn,
    acs_managed_nodes, ncred_readonly, region1_token) and problems.
    """
    problems = []

    def given(name):
        value = raw.get(name)
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    primaries = list(groups.get(ACS_PRIMARY_GROUP) or [])
    secondaries = list(groups.get(ACS_SECONDARY_GROUP) or [])
    options = {}

    enable_acs = given("nats_stack_enable_acs")
    if enable_acs is None:
        options["enable_acs"] = "primary" if primaries else "none"
    else:
        options["enable_acs"], problem = _choice(enable_acs, "nats_stack_enable_acs", ENABLE_ACS)
        if problem:
            problems.append(problem)

    channel = given("nats_stack_message_channel_server")
    options["message_channel_server"] = ""
    if channel is not None:
        options["message_channel_server"], problem = _choice(
            channel, "nats_stack_message_channel_server", MESSAGE_CHANNEL_SERVERS, {"hypercluster": KIND_HYPER})
        if problem:
            problems.append(problem)
            options["message_channel_server"] = ""

    fqdn = given("nats_stack_primary_acs_fqdn")
    options["primary_acs_fqdn"] = str(fqdn).strip() if fqdn is not None else str(acs_primary_address or "").strip()
    # _HOST_RE refuses a scheme or a path: neither holds a "/".
    if options["primary_acs_fqdn"] and not _HOST_RE.match(options["primary_acs_fqdn"]):
        problems.append("nats_stack_primary_acs_fqdn is %r: give the host name alone, such as acs.example.com"
                        " (no scheme, no path)." % options["primary_acs_fqdn"])

    nodes, problem = _host_list(given("nats_stack_acs_managed_nodes"), "nats_stack_acs_managed_nodes")
    if problem:
        problems.append(problem)
    options["acs_managed_nodes"] = nodes or []
    for node in options["acs_managed_nodes"]:
        bare = node.split("://", 1)[1] if node.startswith(("nats://", "tls://")) else node
        if not _NODE_RE.match(bare):
            problems.append("nats_stack_acs_managed_nodes holds %r: give host names, host:port, [IPv6]:port or "
                            "nats:// URLs." % node)

    readonly = given("nats_stack_ncred_readonly")
    options["ncred_readonly"] = False
    if readonly is not None:
        options["ncred_readonly"], problem = parse_bool(readonly, "nats_stack_ncred_readonly")
        if problem:
            problems.append(problem)
            options["ncred_readonly"] = False

    token = given("nats_stack_region1_token")
    options["region1_token"] = str(token).strip() if token is not None else ""
    if options["region1_token"] and options["region1_token"].count(".") != 2:
        # The token itself is a secret of sorts: never echo it.
        problems.append("nats_stack_region1_token is not a JWT (three dot-separated parts): paste the REGION1"
                        " operator JWT, or leave it empty to use [ncred]/REGION1.jwt.")

    if options["enable_acs"] == "primary" and len(primaries) != 1:
        problems.append("nats_stack_enable_acs is 'primary' but the %s group has %d hosts%s: put exactly one host"
                        " in it." % (ACS_PRIMARY_GROUP, len(primaries),
                                     " (%s)" % ", ".join(primaries) if primaries else ""))
    if options["enable_acs"] == "secondary":
        if not secondaries:
            problems.append("nats_stack_enable_acs is 'secondary' but the %s group is empty: list the hosts that"
                            " run the secondary account servers." % ACS_SECONDARY_GROUP)
        if not options["primary_acs_fqdn"]:
            problems.append("nats_stack_enable_acs is 'secondary': set nats_stack_primary_acs_fqdn to the primary"
                            " account server the secondaries replicate from.")
    return {"options": options, "problems": problems}


# ------------------------------------------------------- transport security

INSECURE_NO_AUTH_VARIABLE = "nats_stack_insecure_no_client_auth"
# Client authentication that would let clients in without REGION1 credentials.
_CLIENT_AUTH_KEYS = ("authorization", "accounts", "no_auth_user", "users")
SECURITY_VARIABLES = ("nats_server_cluster_tls", "nats_server_gateway_tls", "nats_server_config_extra",
                      "nats_server_operator_enabled", "nats_server_resolver_type", INSECURE_NO_AUTH_VARIABLE)


def _tls_off(block):
    """True when a config_extra block takes TLS away: null, or a tls key set to null/false/{}."""
    if block is None:
        return True
    if not isinstance(block, dict) or "tls" not in block:
        return False
    return block["tls"] in (None, False, {}, "")


def _find_key(value, key, path=""):
    if isinstance(value, dict):
        for name, item in value.items():
            here = "%s.%s" % (path, name) if path else str(name)
            if name == key:
                yield here
            yield from _find_key(item, key, here)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _find_key(item, key, "%s[%d]" % (path, index))


def config_extra_tls_problems(host, extra, route_tls, gateway):
    """Why nats_server_config_extra would let plain text in or take route or gateway TLS away."""
    problems = []
    for path in _find_key(extra, "allow_non_tls"):
        problems.append("nats_server_config_extra of %s sets %s: the stack never accepts plain-text connections;"
                        " remove it." % (host, path))
    if route_tls and "cluster" in extra and _tls_off(extra["cluster"]):
        problems.append("nats_server_config_extra of %s turns route TLS off (cluster.tls): routes between the"
                        " servers of a cluster carry TLS; remove it." % host)
    if gateway and "gateway" in extra and _tls_off(extra["gateway"]):
        problems.append("nats_server_config_extra of %s turns gateway TLS off (gateway.tls): traffic between"
                        " clusters must be TLS; remove it." % host)
    return problems


def security_problems(host, record, variables):
    """Why this server's variables would weaken the stack's transport security or client auth.

    record: the host's part of derive(); variables: its inventory variables
    (SECURITY_VARIABLES). Route TLS is required whenever the cluster has another
    member, gateway TLS always, and no client gets in without REGION1
    credentials unless INSECURE_NO_AUTH_VARIABLE asks for it by name.
    Returns (problems, insecure_no_auth).
    """
    problems = []
    insecure = False
    if variables.get(INSECURE_NO_AUTH_VARIABLE) not in (None, ""):
        insecure, problem = parse_bool(variables[INSECURE_NO_AUTH_VARIABLE], "%s of %s" % (INSECURE_NO_AUTH_VARIABLE, host))
        if problem:
            problems.append(problem)
            insecure = False
    for variable, needed, why in (
            ("nats_server_cluster_tls", record.get("route_tls"), "routes between the servers of a cluster carry TLS"),
            ("nats_server_gateway_tls", bool(record.get("gateway_name")), "traffic between clusters must be TLS")):
        if needed and variables.get(variable) not in (None, ""):
            value, problem = parse_bool(variables[variable], "%s of %s" % (variable, host))
            if problem:
                problems.append(problem)
            elif not value:
                problems.append("%s of %s is false: %s; remove the variable." % (variable, host, why))
    extra = variables.get("nats_server_config_extra") or {}
    if not isinstance(extra, dict):
        problems.append("nats_server_config_extra of %s is not a mapping." % host)
        extra = {}
    problems.extend(config_extra_tls_problems(host, extra, record.get("route_tls"), bool(record.get("gateway_name"))))
    if not insecure:
        operator = variables.get("nats_server_operator_enabled")
        if operator not in (None, ""):
            value, problem = parse_bool(operator, "nats_server_operator_enabled of %s" % host)
            if problem:
                problems.append(problem)
            elif not value:
                problems.append(
                    "nats_server_operator_enabled of %s is false: the stack admits only clients with REGION1"
                    " credentials; remove it, or set %s: true to run without client authentication."
                    % (host, INSECURE_NO_AUTH_VARIABLE))
        for key in _CLIENT_AUTH_KEYS:
            if key in extra:
                problems.append(
                    "nats_server_config_extra of %s sets %s: in operator mode clients authenticate with REGION1"
                    " credentials only; remove it." % (host, key))
    return problems, insecure


def _resolver_type(hostvars, host):
    """The server's nats_server_resolver_type as the role reads it (url when unset)."""
    return str((hostvars.get(host) or {}).get("nats_server_resolver_type") or "url").strip()


def region1_reach_problems(options, groups, deployed, hostvars, run_hosts):
    """Why this run cannot give its servers REGION1's JWTs: [] when it can.

    The servers take the operator JWT, the system account JWT (for the full
    resolver) and the operator key they pin from the facts the REGION1 play
    publishes on the primary ACS host. A run limited (--limit) to servers
    without that host has none of them. With the Region One Token the operator
    and its key are known; only servers with the full resolver still need SYS.
    deployed: the servers the topology deploys.
    """
    primaries = list(groups.get(ACS_PRIMARY_GROUP) or [])
    if run_hosts is None or options["enable_acs"] != "primary" or not primaries or primaries[0] in run_hosts:
        return []
    servers = [host for host in deployed if host in run_hosts]
    if options["region1_token"]:
        servers = [host for host in servers
                   if _resolver_type(hostvars, host) == "full"]
    if not servers:
        return []
    return ["This run is limited to %s without the primary ACS host %s, whose REGION1 play gives the servers the"
            " operator and system account JWTs and the operator key they pin: add %s to the limit (--limit '%s')."
            % (", ".join(servers), primaries[0], primaries[0], ",".join(list(run_hosts) + [primaries[0]]))]


def stack_plan(raw_options, groups, hostvars, acs_primary_address="", explicit_cluster_groups=None, run_hosts=None):
    """Everything the stack's first play decides: options, topology, transport security.

    hostvars: host -> its inventory variables (HOST_VARIABLES and
    SECURITY_VARIABLES). run_hosts: the hosts this run reaches (after
    --limit), None when unknown. Returns options, topology, insecure_hosts
    (servers that run without client authentication, by name), problems (all
    of them) and deploy_problems (what stops a play that deploys servers, but
    not one that only restarts or checks them).
    """
    read = stack_options(raw_options, groups, acs_primary_address)
    options = read["options"]
    derived = derive(groups, hostvars, options["message_channel_server"], explicit_cluster_groups)
    problems = read["problems"] + derived["problems"]
    insecure_hosts = []
    for host, record in sorted(derived["hosts"].items()):
        found, insecure = security_problems(host, record, hostvars.get(host) or {})
        problems.extend(found)
        if insecure:
            insecure_hosts.append(host)
    if not options["acs_managed_nodes"]:
        options["acs_managed_nodes"] = [derived["hosts"][host]["client_url"] for host in derived["servers"]
                                        if host in derived["hosts"]]
    # Servers with the url resolver (the default) find accounts through an account server.
    resolving = [host for host in derived["hosts"] if host not in insecure_hosts
                 and _resolver_type(hostvars, host) == "url"]
    if resolving and options["enable_acs"] == "none" and not options["primary_acs_fqdn"]:
        problems.append("nats_stack_enable_acs is 'none' and no account server is named: servers resolve accounts"
                        " through an account server; set nats_stack_primary_acs_fqdn to the one they use.")
    return {"options": options, "topology": derived, "insecure_hosts": insecure_hosts, "problems": problems,
            "deploy_problems": region1_reach_problems(options, groups, sorted(derived["hosts"]), hostvars, run_hosts)}


# ---------------------------------------------------------- rolling restarts


def restart_hosts(hosts, results):
    """The hosts whose running server must restart, in the order given.

    results: host -> {"binary": the binary copy's result, "config": nats_config's}.
    A server restarts when its binary changed or its configuration changed in
    a way a reload cannot apply, and only when it was running: a server that
    was not is started, with the others, by the role's start task (a cluster's
    first start must not wait for one member's JetStream health alone).
    """
    chosen = []
    for host in hosts:
        result = results.get(host) or {}
        config = result.get("config") or {}
        binary = result.get("binary") or {}
        if config.get("unit_active") and restart_required(binary, config):
            chosen.append(host)
    return chosen


def restart_required(binary_result, config_result):
    """A server must restart when its binary changed, or its unit or a setting a reload cannot apply."""
    return bool((binary_result or {}).get("changed")) or bool((config_result or {}).get("restart_required"))
