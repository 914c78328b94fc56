# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each module takes exactly the options its documentation promises.

Users write tasks from ansible-doc: an option whose name, type, default,
choices or required flag differs from the page is a bug they meet at run time.
The argument spec is taken from the AnsibleModule each main() builds.
"""

from __future__ import annotations

import importlib
import re

import pytest
import yaml

from ansible.module_utils import basic

from ansible_collections.cmsgs.nats.plugins.doc_fragments import nsc_store as nsc_store_fragment

MODULES = (
    "acs_push", "jwt_account", "jwt_operator", "jwt_user", "nats_config", "nats_message_check",
    "nats_server_state", "service_account", "tls_cert_check", "tls_probe", "volume_permissions",
)
FRAGMENTS = {
    "cmsgs.nats.nsc_store": nsc_store_fragment.ModuleDocFragment.DOCUMENTATION,
    "cmsgs.nats.nsc_store.jwt_copy": nsc_store_fragment.ModuleDocFragment.JWT_COPY,
}


class Built(Exception):
    """Raised in place of AnsibleModule.__init__ once the spec is seen."""


def built_spec(name, monkeypatch):
    seen = {}

    def capture(self, argument_spec, **kwargs):
        seen.update(spec=argument_spec, kwargs=kwargs)
        raise Built()

    monkeypatch.setattr(basic.AnsibleModule, "__init__", capture)
    module = importlib.import_module("ansible_collections.cmsgs.nats.plugins.modules." + name)
    with pytest.raises(Built):
        module.main()
    return module, seen["spec"], seen["kwargs"]


def documented_options(module):
    doc = yaml.safe_load(module.DOCUMENTATION)
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        options.update(yaml.safe_load(FRAGMENTS[fragment])["options"])
    return options


def shape(options, nested):
    """The user-visible shape of each option, what ansible-doc shows; ``nested``
    names the key of suboptions ("options" in a spec, "suboptions" in docs)."""
    return {
        name: {
            "type": option.get("type", "str"),
            "default": option.get("default"),
            "required": option.get("required", False),
            "choices": option.get("choices"),
            "elements": option.get("elements"),
            "aliases": sorted(option.get("aliases") or []),
            "suboptions": shape(option[nested], nested) if option.get(nested) else None,
        }
        for name, option in options.items()
    }


@pytest.mark.parametrize("name", MODULES)
def test_each_option_is_the_one_documented(name, monkeypatch):
    module, spec, _kwargs = built_spec(name, monkeypatch)
    assert shape(spec, "options") == shape(documented_options(module), "suboptions")


@pytest.mark.parametrize("name", MODULES)
def test_each_module_supports_check_mode_as_documented(name, monkeypatch):
    module, _spec, kwargs = built_spec(name, monkeypatch)
    support = yaml.safe_load(module.DOCUMENTATION)["attributes"]["check_mode"]["support"]
    assert kwargs.get("supports_check_mode", False) is (support in ("full", "partial"))


def every_option(spec, prefix=""):
    """(dotted name, option) for each option of a spec, suboptions included."""
    for name, option in spec.items():
        yield prefix + name, option
        if option.get("options"):
            yield from every_option(option["options"], prefix + name + ".")


# Options whose values are secrets: Ansible masks them in the invocation log and
# in every returned string, so a non-secret option hidden too would garble results.
SECRET_OPTIONS = {"nats_message_check": ["creds"]}


@pytest.mark.parametrize("name", MODULES)
def test_only_options_holding_secrets_are_hidden_from_logs(name, monkeypatch):
    _module, spec, _kwargs = built_spec(name, monkeypatch)
    hidden = [option for option, settings in every_option(spec) if settings.get("no_log") is True]
    assert sorted(hidden) == SECRET_OPTIONS.get(name, [])


# ansible-test validate-modules (no-log-needed) wants these names to say no_log
# either way, so that leaving a secret visible is a choice someone made (a path
# names a file, not its content, and is left out).
LOOKS_SECRET = re.compile(r"(?:pass(?!ive)|secret|token|key)", re.I)


@pytest.mark.parametrize("name", MODULES)
def test_options_named_like_secrets_say_whether_they_are(name, monkeypatch):
    _module, spec, _kwargs = built_spec(name, monkeypatch)
    unsaid = [option for option, settings in every_option(spec)
              if LOOKS_SECRET.search(option.rsplit(".", 1)[-1]) and settings.get("type") != "path"
              and settings.get("no_log") is None]
    assert unsaid == []
