#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: jwt_operator
short_description: Manage a NATS operator JWT in an nsc store
version_added: 0.1.0
author: cmsgs.nats maintainers (!UNKNOWN)
description:
  - Creates or updates the JWT of a NATS operator in an nsc store, in the layout the C(nsc) tool uses,
    so that C(nsc) can keep working on the same store.
  - The operator's key is created once, when neither its JWT nor its seed exist. When the JWT exists but
    its seed is missing the module fails instead of creating a new key, which would orphan every account
    signed by the old one.
  - The JWT is signed again only when a claim other than C(iat) and C(jti) changes.
  - Options that are not given keep the value stored in the JWT, so a play can first create the operator,
    then its system account, then point O(system_account) at it.
requirements:
  - nkeys (Python library, with PyNaCl)
extends_documentation_fragment:
  - cmsgs.nats.nsc_store
  - cmsgs.nats.nsc_store.jwt_copy
attributes:
  check_mode:
    support: full
    description: Reports what would change without writing a file. Keys that would be created are shown as placeholders.
  diff_mode:
    support: full
    description: Shows the operator claims before and after, without C(iat) and C(jti). Seeds are never shown.
options:
  name:
    description:
      - Name of the operator, also the name of its directory in the store (for example V(REGION1)).
    type: str
    required: true
  account_server_url:
    description:
      - URL of the account server, for example V(https://acs.example.com/jwt/v1). C(nsc push) sends account
        JWTs to C(<url>/accounts/<public key>).
      - An empty string removes it. When not given the stored value is kept.
    type: str
  operator_service_urls:
    description:
      - C(nats://) or C(tls://) URLs of servers that tools such as C(nsc) can connect to.
      - An empty list removes them. When not given the stored value is kept.
    type: list
    elements: str
  system_account:
    description:
      - The system account, by account name in this operator's store or by public key.
      - A named account must exist already and be signed by this operator, so create it with
        M(cmsgs.nats.jwt_account) first.
      - An empty string removes it. When not given the stored value is kept.
    type: str
  signing_keys:
    description:
      - Number of operator signing keys to have. Missing ones are created and their seeds stored;
        existing ones are always kept, also when there are more.
      - When not given the stored signing keys are kept.
    type: int
seealso:
  - module: cmsgs.nats.jwt_account
  - module: cmsgs.nats.jwt_user
"""

EXAMPLES = r"""
- name: Create the REGION1 operator with one signing key
  cmsgs.nats.jwt_operator:
    name: REGION1
    nsc_dir: /srv/nsc
    account_server_url: https://acs.example.com/jwt/v1
    signing_keys: 1

- name: Create the system account, signed by the operator itself
  cmsgs.nats.jwt_account:
    name: SYS
    operator: REGION1
    nsc_dir: /srv/nsc

- name: Make SYS the system account and publish the operator JWT
  cmsgs.nats.jwt_operator:
    name: REGION1
    nsc_dir: /srv/nsc
    system_account: SYS
    jwt_dest: /srv/ncred/REGION1.jwt
    jwt_owner: root
    jwt_group: cmsgs
    jwt_mode: "0640"
"""

RETURN = r"""
public_key:
  description: Public key of the operator, the subject of its JWT.
  returned: success
  type: str
  sample: ODD267ZQOXFQLRDPEJTNASD3BZRXIBT5LRP2VSUTG7PTGZ3ADHOR5QUY
jwt:
  description:
    - The operator JWT (public data).
    - In check mode, null when the operator would be created.
  returned: success
  type: str
  sample: eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOi...
jwt_path:
  description: Path of the operator JWT in the store.
  returned: success
  type: str
  sample: /srv/nsc/stores/REGION1/REGION1.jwt
signing_keys:
  description: Public keys of the operator's signing keys.
  returned: success
  type: list
  elements: str
  sample: [OALTCSB6OGLVQLC74OPVTVPSHGPYCB4NVV2KXEWRWIYVJS47IXH4RVTW]
"""

from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import (
    copy_from_params,
    new_module,
    paths_from_params,
    plan_operator,
    run_module,
)


def main():
    options = dict(
        name=dict(type="str", required=True),
        account_server_url=dict(type="str"),
        operator_service_urls=dict(type="list", elements="str"),
        system_account=dict(type="str"),
        signing_keys=dict(type="int", no_log=False),
    )
    module = new_module(options, "jwt", "0640")
    params = module.params

    def planner():
        return plan_operator(
            paths_from_params(params),
            params["name"],
            account_server_url=params["account_server_url"],
            operator_service_urls=params["operator_service_urls"],
            system_account=params["system_account"],
            signing_keys=params["signing_keys"],
        )

    run_module(module, planner, lambda outcome: [copy_from_params(params, "jwt", outcome.token)])


if __name__ == "__main__":
    main()
