# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The /metrics page, line for line: every family's HELP and TYPE, the labels
of each sample and their escaping, the route label of each HTTP route, and the
Content-Type a Prometheus scraper reads."""

from __future__ import annotations

import pytest

from ansible_collections.cmsgs.nats.tests.unit.acs.client import make_service, run, running

from cmsgs_acs.metrics import Metrics  # noqa: E402  (client puts the source tree first)


@pytest.fixture
def store_dir(tmp_path):
    return tmp_path / "store"


def _families(samples: dict) -> str:
    """The whole exposition, with the sample lines of each family given by name."""
    heads = [
        ("cmsgs_acs_info", "gauge", "Version of the account server."),
        ("cmsgs_acs_http_requests_total", "counter", "HTTP requests by route and status."),
        ("cmsgs_acs_pushes_total", "counter", "Account JWT pushes by result."),
        ("cmsgs_acs_merges_total", "counter", "JWTs offered by the primary or peers, by source and result."),
        ("cmsgs_acs_notifications_total", "counter", "Claim update notifications, by outcome."),
        ("cmsgs_acs_notification_acks_total", "counter",
         "Server replies to claim update notifications, by outcome (applied, skipped, failed)."),
        ("cmsgs_acs_store_accounts", "gauge", "Account JWTs in the store."),
        ("cmsgs_acs_store_bytes", "gauge", "Bytes of account JWTs in the store."),
        ("cmsgs_acs_nats_connected", "gauge",
         "1 while connected to NATS with the lookup, pack and update subscriptions in place."),
    ]
    lines = []
    for name, kind, help_text in heads:
        lines += ["# HELP %s %s" % (name, help_text), "# TYPE %s %s" % (name, kind)] + samples.get(name, [])
    return "\n".join(lines) + "\n"


def test_every_family_is_rendered_with_its_labels_in_key_order(region, store_dir):
    service = make_service(region, store_dir)
    metrics = Metrics()
    metrics.request("pack", 200)
    metrics.request("account", 404)
    metrics.request("account", 200)
    metrics.request("account", 200)
    metrics.pushes.update({"stored": 2, "refused": 1})
    metrics.merges.update({("primary", "stored"): 3, ("peer", "refused"): 1})
    metrics.notifications.update({"sent": 4, "deferred": 1})
    metrics.acknowledgements.update({"skipped": 2, "applied": 5, "failed": 1})
    text = metrics.render(service.store, True, "1.2.3")
    assert text == _families({
        "cmsgs_acs_info": ['cmsgs_acs_info{version="1.2.3"} 1'],
        "cmsgs_acs_http_requests_total": [
            'cmsgs_acs_http_requests_total{route="account",status="200"} 2',
            'cmsgs_acs_http_requests_total{route="account",status="404"} 1',
            'cmsgs_acs_http_requests_total{route="pack",status="200"} 1'],
        "cmsgs_acs_pushes_total": ['cmsgs_acs_pushes_total{result="refused"} 1',
                                   'cmsgs_acs_pushes_total{result="stored"} 2'],
        "cmsgs_acs_merges_total": ['cmsgs_acs_merges_total{source="peer",result="refused"} 1',
                                   'cmsgs_acs_merges_total{source="primary",result="stored"} 3'],
        "cmsgs_acs_notifications_total": ['cmsgs_acs_notifications_total{outcome="deferred"} 1',
                                          'cmsgs_acs_notifications_total{outcome="sent"} 4'],
        "cmsgs_acs_notification_acks_total": ['cmsgs_acs_notification_acks_total{outcome="applied"} 5',
                                              'cmsgs_acs_notification_acks_total{outcome="failed"} 1',
                                              'cmsgs_acs_notification_acks_total{outcome="skipped"} 2'],
        "cmsgs_acs_store_accounts": ["cmsgs_acs_store_accounts 0"],
        "cmsgs_acs_store_bytes": ["cmsgs_acs_store_bytes 0"],
        "cmsgs_acs_nats_connected": ["cmsgs_acs_nats_connected 1"],
    })


@pytest.mark.parametrize("version, label", [
    ('1.0"rc', 'version="1.0\\"rc"'),
    ("1.0\\rc", 'version="1.0\\\\rc"'),
    ('a\\"b', 'version="a\\\\\\"b"'),
])
def test_a_label_value_escapes_backslashes_and_quotes(region, store_dir, version, label):
    text = Metrics().render(make_service(region, store_dir).store, False, version)
    assert text.splitlines()[2] == "cmsgs_acs_info{%s} 1" % label


def test_the_metrics_page_counts_each_named_route_and_shows_the_store(region, store_dir):
    service = make_service(region, store_dir)

    async def scenario(client):
        response = await client.post("/jwt/v1/accounts/" + region.app_pub, data=region.app_token)
        assert response.status == 200
        for path in ("/jwt/v1/accounts", "/jwt/v1/accounts/", "/jwt/v1/operator", "/jwt/v1/help",
                     "/jwt/v1/pack", "/healthz", "/metrics"):
            assert (await client.get(path)).status == 200, path
        response = await client.get("/metrics")
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return await response.text()
    text = run(_with(service, scenario))
    assert text == _families({
        "cmsgs_acs_info": ['cmsgs_acs_info{version="%s"} 1' % service.version],
        "cmsgs_acs_http_requests_total": [
            'cmsgs_acs_http_requests_total{route="%s",status="200"} 1' % route
            for route in ("account_push", "accounts_probe", "accounts_probe_slash", "healthz", "help",
                          "metrics", "operator", "pack")],
        "cmsgs_acs_pushes_total": ['cmsgs_acs_pushes_total{result="stored"} 1'],
        "cmsgs_acs_store_accounts": ["cmsgs_acs_store_accounts 1"],
        "cmsgs_acs_store_bytes": ["cmsgs_acs_store_bytes %d" % len(region.app_token)],
        "cmsgs_acs_nats_connected": ["cmsgs_acs_nats_connected 0"],
    })


async def _with(service, scenario):
    async with running(service) as client:
        return await scenario(client)
