#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: jwt_user
short_description: Manage a NATS user JWT and its credentials in an nsc store
version_added: 0.1.0
author: cmsgs.nats maintainers (!UNKNOWN)
description:
  - Creates or updates the JWT of a NATS user under an account in an nsc store, in the layout the C(nsc)
    tool uses, and keeps the user's C(.creds) file at C(<keys_dir>/creds/<operator>/<account>/<name>.creds).
  - The user's key is created once, when neither its JWT nor its seed exist. When the JWT exists but its
    seed is missing the module fails instead of creating a new key.
  - The JWT is signed again only when a claim other than C(iat) and C(jti) changes. Claims this module
    has no option for (limits, source networks, times, tags, ...) are kept as stored.
  - The C(.creds) contents and the seed are never returned or shown.
requirements:
  - nkeys (Python library, with PyNaCl)
extends_documentation_fragment:
  - cmsgs.nats.nsc_store
attributes:
  check_mode:
    support: full
    description: Reports what would change without writing a file. Keys that would be created are shown as placeholders.
  diff_mode:
    support: full
    description: Shows the user claims before and after, without C(iat) and C(jti). Seeds and credentials are never shown.
options:
  name:
    description:
      - Name of the user, also the name of its JWT and C(.creds) files (for example V(sys)).
    type: str
    required: true
  account:
    description:
      - Name of the account the user belongs to. It must exist, see M(cmsgs.nats.jwt_account).
    type: str
    required: true
  operator:
    description:
      - Name of the operator the account belongs to.
    type: str
    required: true
  permissions:
    description:
      - Subjects the user may or may not publish and subscribe to. Empty lists mean no restriction.
      - When given, lists not set here are emptied. When not given, a new user has no restrictions and an
        existing one keeps its permissions.
    type: dict
    suboptions:
      pub:
        description: Publish permissions.
        type: dict
        suboptions:
          allow:
            description: Subjects the user may publish to.
            type: list
            elements: str
          deny:
            description: Subjects the user may not publish to.
            type: list
            elements: str
      sub:
        description: Subscribe permissions. An entry may name a queue group as C(subject queue).
        type: dict
        suboptions:
          allow:
            description: Subjects the user may subscribe to.
            type: list
            elements: str
          deny:
            description: Subjects the user may not subscribe to.
            type: list
            elements: str
  bearer_token:
    description:
      - Let the JWT alone authenticate the user, without proving possession of the seed.
      - Keep it false unless a client cannot sign the server's nonce.
      - Such a JWT is itself a credential, so it is masked in the result, the diff and every message;
        read it from RV(jwt_path) as the store's owner.
    type: bool
    default: false
  use_signing_key:
    description:
      - Sign the user with one of the account's signing keys instead of the account's own key. The JWT then
        names the account in C(issuer_account).
      - The account needs a signing key whose seed is in the keys directory.
    type: bool
    default: false
  creds_dest:
    description:
      - Also keep a copy of the C(.creds) file at this path, for example C([ncred]/creds/sys.creds).
      - Its directory must exist.
    type: path
  creds_owner:
    description:
      - Owner of the O(creds_dest) copy.
    type: str
  creds_group:
    description:
      - Group of the O(creds_dest) copy.
    type: str
  creds_mode:
    description:
      - Mode of the O(creds_dest) copy, a quoted octal string. It holds the user's seed, so a mode that
        lets the group or others in (such as C('0640')) or an unquoted number is refused.
    type: raw
    default: "0600"
seealso:
  - module: cmsgs.nats.jwt_operator
  - module: cmsgs.nats.jwt_account
"""

EXAMPLES = r"""
- name: Create the system user and copy its credentials for the account server
  cmsgs.nats.jwt_user:
    name: sys
    account: SYS
    operator: REGION1
    nsc_dir: /srv/nsc
    creds_dest: /srv/ncred/creds/sys.creds
    creds_owner: cmaccount
    creds_group: root
    creds_mode: "0600"

- name: Create an application user that may only work on orders
  cmsgs.nats.jwt_user:
    name: orders
    account: APP
    operator: REGION1
    nsc_dir: /srv/nsc
    use_signing_key: true
    permissions:
      pub:
        allow: ["orders.>", "_INBOX.>"]
        deny: ["orders.admin.>"]
      sub:
        allow: ["orders.*", "_INBOX.>"]
"""

RETURN = r"""
public_key:
  description: Public key of the user, the subject of its JWT.
  returned: success
  type: str
  sample: UDLHA6MN4QRI6WGCYLZDH7L7CW2ML5NQNQZWK3ZFYBVYVTQS7O4GSUMC
jwt:
  description:
    - The user JWT (public data, but together with the seed it lets a client connect).
    - In check mode, null when the user would be created.
    - Masked for a O(bearer_token=true) user, whose JWT alone lets a client connect.
  returned: success
  type: str
  sample: eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOi...
jwt_path:
  description: Path of the user JWT in the store.
  returned: success
  type: str
  sample: /srv/nsc/stores/REGION1/accounts/SYS/users/sys.jwt
creds_path:
  description: Path of the user's C(.creds) file in the keys directory (its contents are never returned).
  returned: success
  type: str
  sample: /srv/nsc/keys/creds/REGION1/SYS/sys.creds
"""

from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import (
    copy_from_params,
    new_module,
    paths_from_params,
    plan_user,
    run_module,
)


def main():
    subject_lists = dict(
        allow=dict(type="list", elements="str"),
        deny=dict(type="list", elements="str"),
    )
    options = dict(
        name=dict(type="str", required=True),
        account=dict(type="str", required=True),
        operator=dict(type="str", required=True),
        permissions=dict(type="dict", options=dict(
            pub=dict(type="dict", options=subject_lists),
            sub=dict(type="dict", options=subject_lists),
        )),
        bearer_token=dict(type="bool", default=False, no_log=False),
        use_signing_key=dict(type="bool", default=False, no_log=False),
    )
    module = new_module(options, "creds", "0600")
    params = module.params

    def planner():
        outcome = plan_user(
            paths_from_params(params),
            params["operator"],
            params["account"],
            params["name"],
            permissions=params["permissions"],
            bearer_token=params["bearer_token"],
            use_signing_key=params["use_signing_key"],
            creds_copies=[params["creds_dest"]],
        )
        # The server checks no nonce signature for a bearer user: its JWT is a
        # password, kept out of the result, the diff and messages like a seed.
        if params["bearer_token"]:
            module.no_log_values.add(outcome.token)
        return outcome

    run_module(module, planner, lambda outcome: [copy_from_params(params, "creds", outcome.creds)])


if __name__ == "__main__":
    main()
