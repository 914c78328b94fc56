# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role variable is a default and is documented, with the same value in both places.

defaults/main.yml is what a play gets; meta/argument_specs.yml is what
`ansible-doc -t role` shows and what role argument validation checks. They
must not drift apart.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

ROLES = sorted(p.parent.parent for p in pathlib.Path(__file__).resolve().parents[3].glob("roles/*/meta/argument_specs.yml"))


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_defaults_and_argument_specs_list_the_same_variables(role):
    defaults = _load(role / "defaults" / "main.yml")
    options = _load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(set(defaults) - set(options)) == [], "in defaults/main.yml but not in meta/argument_specs.yml"
    assert sorted(set(options) - set(defaults)) == [], "in meta/argument_specs.yml but not in defaults/main.yml"


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_documented_defaults_match(role):
    defaults = _load(role / "defaults" / "main.yml")
    options = _load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    mismatched = {
        name: (spec.get("default"), defaults[name])
        for name, spec in options.items()
        if name in defaults and spec.get("default") != defaults[name]
    }
    assert mismatched == {}


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_variable_is_described_and_typed(role):
    options = _load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert [name for name, spec in options.items() if not spec.get("description") or not spec.get("type")] == []


def test_roles_are_found():
    assert "nats_server" in [r.name for r in ROLES]
