# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module_utils that a filter file imports on first use instead of when the file loads.

The first time a task names any filter of a collection, ansible-core loads every
filter file of that collection, in the task's own worker process, and compiles
each collection module it imports (the collection loader keeps no bytecode).
A filter file that imports its rules at the top makes every such task pay for
all of them (about 0.1 s a task and host for this collection), though it calls
one filter. Through :func:`lazy_module`, a task pays only for the modules of the
filters it calls.
"""

from __future__ import annotations

import importlib


class LazyModule:
    """Stands for a module; the first attribute read imports it, each later one is a dict lookup."""

    __slots__ = ("_name",)

    def __init__(self, name):
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self._name), attribute)

    def __setattr__(self, attribute, value):
        # A test that patches the stand-in would patch nothing the filters read.
        raise AttributeError("set %s on the module %s itself, not on its lazy stand-in" % (attribute, self._name))

    def __repr__(self):
        return "<lazy module %s>" % self._name


def lazy_module(name):
    """A stand-in for the collection module ``name`` (a full dotted name)."""
    return LazyModule(name)
