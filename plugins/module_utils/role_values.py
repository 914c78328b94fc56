# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read role variables the same way whether YAML or a survey gave them.

An AWX survey hands every answer over as a string: "false" must mean false and
"4222" must mean 4222, exactly as the YAML values false and 4222 do. Anything
else is refused with a message that names the variable, so a typo never turns
into a silently truthy string.
"""

from __future__ import annotations

import re

# The spellings ansible.module_utils.parsing.convert_bool accepts.
_TRUE = frozenset(("true", "yes", "on", "y", "t", "1"))
_FALSE = frozenset(("false", "no", "off", "n", "f", "0"))
_INTEGER_RE = re.compile(r"^[+-]?[0-9]+$")


class RoleValueError(ValueError):
    """A role variable holds a value of the wrong kind; the text names it and says what fits."""


def as_bool(name, value):
    """True or False from a YAML boolean or its string spelling."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise RoleValueError("%s must be true or false (or the strings 'true'/'false'), got %r." % (name, value))


def as_int(name, value, minimum=None, maximum=None):
    """An integer from a YAML number or a string of digits, optionally within bounds."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER_RE.match(value.strip()):
        number = int(value.strip())
    if number is None:
        raise RoleValueError("%s must be a whole number, got %r." % (name, value))
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise RoleValueError("%s must be between %s and %s, got %s." % (name, _bound(minimum), _bound(maximum), number))
    return number


def _bound(limit):
    return "any" if limit is None else limit


class RoleVars:
    """A role's variables, read through as_bool and as_int.

    Rules and builders read every boolean and number through this one object,
    so a survey string and a YAML value always mean the same thing.
    """

    def __init__(self, values):
        self._values = dict(values or {})

    def __contains__(self, name):
        return name in self._values

    def raw(self, name, default=None):
        return self._values.get(name, default)

    def bool(self, name, default=False):
        return as_bool(name, self._values.get(name, default))

    def int(self, name, minimum=None, maximum=None):
        return as_int(name, self._values.get(name), minimum, maximum)

    def str(self, name, default=""):
        value = self._values.get(name, default)
        return "" if value is None else str(value)

    def list(self, name):
        value = self._values.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, (list, tuple)):
            return list(value)
        raise RoleValueError("%s must be a list, got %r." % (name, value))


def collect_problems(rules, variables):
    """Every problem every rule finds, in rule order, each once.

    A rule that meets a value of the wrong kind reports that instead of
    stopping the others: the user sees every mistake in one run.
    """
    problems = []
    for rule in rules:
        try:
            found = list(rule(variables))
        except RoleValueError as exc:
            found = [str(exc)]
        for problem in found:
            if problem not in problems:
                problems.append(problem)
    return problems
