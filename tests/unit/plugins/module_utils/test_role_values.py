# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Survey strings and YAML values read the same; garbage is refused naming the variable."""

from __future__ import annotations

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import (
    RoleValueError,
    RoleVars,
    as_bool,
    as_int,
    collect_problems,
)


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), ("true", True), ("false", False), ("False", False), (" yes ", True),
    ("no", False), ("on", True), ("off", False), ("1", True), ("0", False), (1, True), (0, False),
])
def test_booleans_from_yaml_or_survey(value, expected):
    assert as_bool("nats_server_debug", value) is expected


@pytest.mark.parametrize("value", ["maybe", "", None, 2, [], "truee"])
def test_garbage_is_not_a_boolean_and_the_variable_is_named(value):
    with pytest.raises(RoleValueError, match=r"^nats_server_debug must be true or false"):
        as_bool("nats_server_debug", value)


@pytest.mark.parametrize("value, expected", [(4222, 4222), ("4222", 4222), (" 4222 ", 4222), ("-1", -1), (4222.0, 4222)])
def test_numbers_from_yaml_or_survey(value, expected):
    assert as_int("nats_server_port", value) == expected


@pytest.mark.parametrize("value", ["42x", "", None, True, 4.5, "4.5", "0x10"])
def test_garbage_is_not_a_number_and_the_variable_is_named(value):
    with pytest.raises(RoleValueError, match=r"^nats_server_port must be a whole number"):
        as_int("nats_server_port", value)


def test_bounds_are_checked_after_reading():
    assert as_int("nats_server_port", "65535", 1, 65535) == 65535
    with pytest.raises(RoleValueError, match=r"nats_server_port must be between 1 and 65535, got 0"):
        as_int("nats_server_port", "0", 1, 65535)


def test_role_vars_reads_through_the_same_helpers():
    role_vars = RoleVars({"a": "false", "b": "7", "c": None, "d": "x"})
    assert role_vars.bool("a") is False and role_vars.int("b") == 7
    assert role_vars.str("c") == "" and role_vars.list("c") == []
    with pytest.raises(RoleValueError, match="d must be a list"):
        role_vars.list("d")


def test_collect_problems_keeps_going_after_a_bad_value_and_reports_each_once():
    def bad_value(v):
        return ["ok" if v.bool("flag") else "off"]

    def repeats(_v):
        return ["same", "same"]

    assert collect_problems([bad_value, repeats], RoleVars({"flag": "perhaps"})) == [
        "flag must be true or false (or the strings 'true'/'false'), got 'perhaps'.", "same"]


@pytest.mark.parametrize("value, expected", [
    ("TRUE", True), ("Y", True), ("t", True), ("N", False), ("F", False), ("Off", False), ("\tno\n", False),
])
def test_every_spelling_ansible_takes_reads_alike_in_any_case(value, expected):
    assert as_bool("nats_server_debug", value) is expected


def test_refusals_quote_the_value_in_full_messages():
    with pytest.raises(RoleValueError) as failure:
        as_bool("nats_server_debug", "maybe")
    assert str(failure.value) == "nats_server_debug must be true or false (or the strings 'true'/'false'), got 'maybe'."
    with pytest.raises(RoleValueError) as failure:
        as_bool("nats_server_debug", 1.0)
    assert str(failure.value).endswith("got 1.0.")
    with pytest.raises(RoleValueError) as failure:
        as_int("nats_server_port", "42x")
    assert str(failure.value) == "nats_server_port must be a whole number, got '42x'."


@pytest.mark.parametrize("value, minimum, maximum, words", [
    ("65536", 1, 65535, "nats_server_port must be between 1 and 65535, got 65536."),
    ("0", 1, None, "nats_server_port must be between 1 and any, got 0."),
    ("70000", None, 65535, "nats_server_port must be between any and 65535, got 70000."),
])
def test_each_bound_is_checked_and_named(value, minimum, maximum, words):
    with pytest.raises(RoleValueError) as failure:
        as_int("nats_server_port", value, minimum, maximum)
    assert str(failure.value) == words


@pytest.mark.parametrize("value, expected", [("+5", 5), ("1", 1), (0, 0), (-3.0, -3)])
def test_signs_and_edges_of_whole_numbers(value, expected):
    assert as_int("nats_server_port", value, -3, 5) == expected


def test_role_vars_defaults_and_membership():
    role_vars = RoleVars({"port": 4222, "peers": ("east", "west"), "empty": "", "off": "no", "none": None})
    assert "port" in role_vars and "absent" not in role_vars
    assert role_vars.raw("port") == 4222 and role_vars.raw("absent") is None and role_vars.raw("absent", "x") == "x"
    assert role_vars.bool("absent") is False and role_vars.bool("absent", True) is True and role_vars.bool("off") is False
    assert role_vars.str("port") == "4222" and role_vars.str("absent") == "" and role_vars.str("absent", "d") == "d"
    assert role_vars.str("none", "d") == ""
    assert role_vars.list("peers") == ["east", "west"] and role_vars.list("empty") == [] and role_vars.list("absent") == []
    assert role_vars.int("port", 1, 65535) == 4222
    with pytest.raises(RoleValueError, match=r"^absent must be a whole number, got None\.$"):
        role_vars.int("absent")
    with pytest.raises(RoleValueError) as failure:
        role_vars.list("port")
    assert str(failure.value) == "port must be a list, got 4222."
    assert RoleVars(None).list("peers") == []


def test_role_vars_int_checks_both_bounds():
    with pytest.raises(RoleValueError, match=r"^port must be between 1 and 65535, got 0\.$"):
        RoleVars({"port": "0"}).int("port", 1, 65535)
    with pytest.raises(RoleValueError, match=r"^port must be between 1 and 65535, got 65536\.$"):
        RoleVars({"port": 65536}).int("port", 1, 65535)
