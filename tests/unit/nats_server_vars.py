# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nats_server role's defaults as a play templates them, for the plan tests."""

from __future__ import annotations

import pathlib

import yaml

ROLE = pathlib.Path(__file__).resolve().parents[2] / "roles" / "nats_server"


def role_defaults(**overrides):
    """defaults/main.yml with its few Jinja values resolved as a play without TLS or ACS would."""
    values = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    values.update(
        nats_server_name="nats-1",
        nats_server_release_cache_dir="/home/ops/.cache/cmsgs.nats",
        nats_server_jetstream_store_dir="/var/lib/nats-server/jetstream",
        nats_server_resolver_url="",
        nats_server_resolver_dir="/var/lib/nats-server/resolver",
        # The topology of a server alone (cmsgs.nats.nats_topology).
        nats_server_cluster_name="",
        nats_server_cluster_routes=[],
        nats_server_gateway_name="",
        nats_server_gateway_peers=[],
        nats_server_user="cmsgs",
        nats_server_group="cmsgs",
        nats_server_operator_public_key="",
    )
    leftover = [name for name, value in values.items() if isinstance(value, str) and "{{" in value]
    assert leftover == [], "resolve these templated defaults here: %s" % leftover
    values.update(overrides)
    return values
