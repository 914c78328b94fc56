# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Counters for /metrics, in the Prometheus text format (version 0.0.4)."""

from __future__ import annotations

from collections import Counter


class Metrics:
    def __init__(self):
        self.requests = Counter()        # (route, status) -> count
        self.pushes = Counter()          # result -> count
        self.merges = Counter()          # (source, result) -> count
        self.notifications = Counter()   # outcome -> count
        self.acknowledgements = Counter()  # outcome of a server's reply -> count

    def request(self, route: str, status: int):
        self.requests[(route, status)] += 1

    def render(self, store, nats_connected: bool, version: str) -> str:
        lines = []

        def family(name, kind, help_text, samples):
            lines.append("# HELP %s %s" % (name, help_text))
            lines.append("# TYPE %s %s" % (name, kind))
            for labels, value in samples:
                text = ",".join('%s="%s"' % (key, str(val).replace("\\", "\\\\").replace('"', '\\"'))
                                for key, val in labels)
                lines.append("%s{%s} %s" % (name, text, value) if text else "%s %s" % (name, value))

        family("cmsgs_acs_info", "gauge", "Version of the account server.", [((("version", version),), 1)])
        family("cmsgs_acs_http_requests_total", "counter", "HTTP requests by route and status.",
               [((("route", route), ("status", status)), count)
                for (route, status), count in sorted(self.requests.items())])
        family("cmsgs_acs_pushes_total", "counter", "Account JWT pushes by result.",
               [((("result", result),), count) for result, count in sorted(self.pushes.items())])
        family("cmsgs_acs_merges_total", "counter", "JWTs offered by the primary or peers, by source and result.",
               [((("source", source), ("result", result)), count)
                for (source, result), count in sorted(self.merges.items())])
        family("cmsgs_acs_notifications_total", "counter", "Claim update notifications, by outcome.",
               [((("outcome", outcome),), count) for outcome, count in sorted(self.notifications.items())])
        family("cmsgs_acs_notification_acks_total", "counter",
               "Server replies to claim update notifications, by outcome (applied, skipped, failed).",
               [((("outcome", outcome),), count) for outcome, count in sorted(self.acknowledgements.items())])
        family("cmsgs_acs_store_accounts", "gauge", "Account JWTs in the store.", [((), len(store))])
        family("cmsgs_acs_store_bytes", "gauge", "Bytes of account JWTs in the store.", [((), store.size_bytes())])
        family("cmsgs_acs_nats_connected", "gauge",
               "1 while connected to NATS with the lookup, pack and update subscriptions in place.",
               [((), int(nats_connected))])
        return "\n".join(lines) + "\n"
