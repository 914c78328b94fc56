# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the modules that work on an nsc store."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  nsc_dir:
    description:
      - Root of the nsc data, holding C(stores/) and C(keys/) (the C([nsc]) volume).
      - Required unless both O(store_dir) and O(keys_dir) are given.
    type: path
  store_dir:
    description:
      - Directory holding the operator directories. Defaults to C(<nsc_dir>/stores).
    type: path
  keys_dir:
    description:
      - Directory holding C(keys/) with the seeds and C(creds/). Defaults to C(<nsc_dir>/keys).
    type: path
"""
