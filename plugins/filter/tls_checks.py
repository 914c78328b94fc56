# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the roles turn tls_cert_check results into a list of problems.

Documented in tls_check_problems.yml next to this file.
"""

from __future__ import annotations

from ansible_collections.cmsgs.nats.plugins.plugin_utils.lazy_import import lazy_module

# Imported on first use, not when ansible-core loads this file (plugin_utils/lazy_import.py).
tls_spec = lazy_module("ansible_collections.cmsgs.nats.plugins.module_utils.tls_spec")


def tls_check_problems(results, check_mode=False):
    return tls_spec.problems_from_checks(results, check_mode=check_mode)


class FilterModule:
    """TLS check results as problems."""

    def filters(self):
        return {"tls_check_problems": tls_check_problems}
