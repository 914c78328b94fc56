# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role variables read the same whether YAML or a survey (strings) gave them.

The roles' Jinja reads every boolean and number a user can set through these
two filters; the Python decisions use module_utils/role_values directly.
Documented in role_bool.yml and role_int.yml next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.module_utils import role_values


def role_bool(value, name):
    try:
        return role_values.as_bool(name, value)
    except role_values.RoleValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def role_int(value, name, minimum=None, maximum=None):
    try:
        return role_values.as_int(name, value, minimum, maximum)
    except role_values.RoleValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """Survey-safe booleans and numbers."""

    def filters(self):
        return {"role_bool": role_bool, "role_int": role_int}
