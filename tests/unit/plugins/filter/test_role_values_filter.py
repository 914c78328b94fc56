# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""role_bool and role_int read survey strings as the values they spell, and the
roles read every public boolean and number through them (or ansible's bool and
int filters) wherever Jinja decides something with it."""

from __future__ import annotations

import pathlib
import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.cmsgs.nats.plugins.filter import role_values

TOP = pathlib.Path(role_values.__file__).resolve().parents[2]


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), ("true", True), ("false", False), ("False", False), (" yes ", True),
    ("no", False), ("on", True), ("off", False), ("1", True), ("0", False), (1, True), (0, False),
])
def test_role_bool_reads_yaml_values_and_survey_strings_alike(value, expected):
    assert role_values.role_bool(value, "region1_bootstrap_ncred_readonly") is expected


@pytest.mark.parametrize("value", ["flase", "", None, 2, "true-ish", [True]])
def test_role_bool_refuses_anything_else_naming_the_variable(value):
    with pytest.raises(AnsibleFilterError, match="region1_bootstrap_ncred_readonly must be true or false"):
        role_values.role_bool(value, "region1_bootstrap_ncred_readonly")


@pytest.mark.parametrize("value, expected", [(4222, 4222), ("4222", 4222), (" 30 ", 30), (30.0, 30), ("-1", -1)])
def test_role_int_reads_yaml_values_and_survey_strings_alike(value, expected):
    assert role_values.role_int(value, "nats_server_port") == expected


def test_role_int_refuses_words_and_values_out_of_bounds():
    with pytest.raises(AnsibleFilterError, match="nats_server_port must be a whole number, got '42x'"):
        role_values.role_int("42x", "nats_server_port")
    with pytest.raises(AnsibleFilterError, match="tls_certs_renew_days must be between 0 and any, got -1"):
        role_values.role_int("-1", "tls_certs_renew_days", minimum=0)


def test_role_int_refuses_a_survey_number_above_the_maximum():
    assert role_values.role_int("65535", "nats_server_port", 1, 65535) == 65535
    with pytest.raises(AnsibleFilterError, match=r"^nats_server_port must be between 1 and 65535, got 70000\.$"):
        role_values.role_int("70000", "nats_server_port", 1, 65535)


def test_both_filters_are_documented():
    for name in role_values.FilterModule().filters():
        doc = yaml.safe_load((TOP / "plugins" / "filter" / ("%s.yml" % name)).read_text())
        assert doc["DOCUMENTATION"]["name"] == name


# --- Every role reads its public booleans and numbers survey-safely ------------

CONDITION_KEYS = {"when", "that", "failed_when", "changed_when", "until"}
JINJA_BLOCK = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
CONVERTED = r"(\s*\|\s*default\([^()]*\))?\s*\|\s*(bool|int|cmsgs\.nats\.role_bool|cmsgs\.nats\.role_int)\b"


def typed_variables():
    """Public variables of every role whose argument spec says bool or int."""
    typed = {}
    for spec in TOP.glob("roles/*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            for name, option in (entry.get("options") or {}).items():
                if option.get("type") in ("bool", "int"):
                    typed[name] = option["type"]
    return typed


def expressions(node, condition=False):
    """(expression, is_condition) for every Jinja expression in a YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from expressions(value, condition or key in CONDITION_KEYS)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item, condition)
    elif isinstance(node, str):
        if condition and "{{" not in node:
            yield node, True
        for match in JINJA_BLOCK.finditer(node):
            yield (match.group(1) or match.group(2)), condition or match.group(2) is not None


def unsafe_uses(expression, condition, typed):
    for name, kind in typed.items():
        # Not a part of a longer name, nor a quoted name (a filter's argument).
        for found in re.finditer(r"(?<![\w.'\"])%s\b" % re.escape(name), expression):
            rest = expression[found.end():]
            if re.match(CONVERTED, rest):
                continue
            # A keyword argument of the collection's Python filters, which read it themselves.
            if re.search(r"\b\w+=\s*$", expression[:found.start()]):
                continue
            # Handed on whole (a typed module argument, a message): nothing is decided in Jinja.
            if not condition and expression.strip() == name:
                continue
            if kind == "int" and "map('int')" in rest:
                continue
            yield name


def role_and_playbook_files():
    for pattern in ("roles/*/tasks/*.yml", "roles/*/handlers/*.yml", "roles/*/vars/*.yml", "playbooks/*.yml",
                    "site.yml", "roles/*/templates/*.j2"):
        yield from sorted(TOP.glob(pattern))


def test_roles_read_public_booleans_and_numbers_through_a_conversion():
    typed = typed_variables()
    assert "region1_bootstrap_ncred_readonly" in typed and "nats_server_port" in typed
    problems = []
    for path in role_and_playbook_files():
        text = path.read_text()
        found = ([(m.group(1) or m.group(2), m.group(2) is not None) for m in JINJA_BLOCK.finditer(text)]
                 if path.suffix == ".j2" else list(expressions(yaml.safe_load(text))))
        for expression, condition in found:
            for name in unsafe_uses(expression, condition, typed):
                problems.append("%s: %s in %r" % (path.relative_to(TOP), name, expression.strip()[:80]))
    assert problems == [], "read these through | cmsgs.nats.role_bool/role_int (or | bool / | int):\n" + "\n".join(problems)


def test_the_check_sees_a_bare_boolean():
    typed = {"region1_bootstrap_ncred_readonly": "bool"}
    assert list(unsafe_uses("not region1_bootstrap_ncred_readonly", True, typed)) == ["region1_bootstrap_ncred_readonly"]
    assert list(unsafe_uses("region1_bootstrap_ncred_readonly | bool", True, typed)) == []
