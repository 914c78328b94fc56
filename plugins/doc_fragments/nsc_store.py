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

    # The extra copy of the operator or account JWT (jwt_operator, jwt_account).
    JWT_COPY = r"""
options:
  jwt_dest:
    description:
      - Also keep a copy of the JWT at this path, for example C([ncred]/REGION1.jwt) for the operator
        or C([ncred]/SYS.jwt) for the system account.
      - Its directory must exist.
    type: path
  jwt_owner:
    description:
      - Owner of the O(jwt_dest) copy.
    type: str
  jwt_group:
    description:
      - Group of the O(jwt_dest) copy.
    type: str
  jwt_mode:
    description:
      - Mode of the O(jwt_dest) copy, a quoted octal string. A mode that lets others read or the group
        write (such as C('0644')), or an unquoted number, is refused.
    type: raw
    default: "0640"
"""
