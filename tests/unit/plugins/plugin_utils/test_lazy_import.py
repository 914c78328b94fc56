# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter files load without their rules: a task pays only for the filters it calls."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from ansible_collections.cmsgs.nats.plugins.plugin_utils.lazy_import import lazy_module

COLLECTIONS = pathlib.Path(__file__).resolve().parents[4] / "collections"
FILTERS = pathlib.Path(__file__).resolve().parents[4] / "plugins" / "filter"
PACKAGE = "ansible_collections.cmsgs.nats.plugins.module_utils."


def fresh_python(code):
    """Run ``code`` in a new interpreter that finds the collection as the tests do; return what it prints, as JSON."""
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout)


def test_loading_every_filter_file_imports_only_the_light_module_utils():
    names = sorted(path.stem for path in FILTERS.glob("*.py"))
    loaded = fresh_python(
        "import importlib, json, sys\n"
        "for name in %r:\n"
        "    importlib.import_module('ansible_collections.cmsgs.nats.plugins.filter.' + name)\n"
        "print(json.dumps(sorted(m[len(%r):] for m in sys.modules if m.startswith(%r))))\n"
        % (names, PACKAGE, PACKAGE))
    # The topology filter's rules are needed by the role's argument check on every run; the rest wait for a call.
    assert loaded == ["nats_topology", "role_values"]


def test_a_call_imports_what_that_filter_needs():
    loaded = fresh_python(
        "import json, sys\n"
        "from ansible_collections.cmsgs.nats.plugins.filter import nats_tls\n"
        "before = %r + 'tls_spec' in sys.modules\n"
        "suites = nats_tls.nats_tls_ciphers('2.15.1')\n"
        "print(json.dumps([before, %r + 'tls_spec' in sys.modules, len(suites)]))\n" % (PACKAGE, PACKAGE))
    assert loaded == [False, True, 3]


def test_the_stand_in_reads_the_module_itself():
    stand_in = lazy_module("json")
    assert stand_in.dumps([1]) == "[1]"
    assert stand_in.JSONDecodeError is json.JSONDecodeError
    assert repr(stand_in) == "<lazy module json>"
    with pytest.raises(ModuleNotFoundError):
        assert lazy_module("ansible_collections.cmsgs.nats.plugins.module_utils.no_such_module").anything


def test_patching_the_stand_in_is_refused_with_what_to_patch_instead():
    with pytest.raises(AttributeError, match=r"^set HAS_NKEYS on the module x.y itself, not on its lazy stand-in$"):
        lazy_module("x.y").HAS_NKEYS = False
