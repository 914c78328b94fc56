#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: jwt_account
short_description: Manage a NATS account JWT in an nsc store
version_added: 0.1.0
author: cmsgs.nats maintainers (!UNKNOWN)
description:
  - Creates or updates the JWT of a NATS account under an operator in an nsc store, in the layout the
    C(nsc) tool uses, signed by the operator or by one of its signing keys.
  - The account's key is created once, when neither its JWT nor its seed exist. When the JWT exists but
    its seed is missing the module fails instead of creating a new key, which would orphan its users.
  - The JWT is signed again only when a claim other than C(iat) and C(jti) changes. Claims this module
    has no option for (imports, exports, revocations, mappings, tags, ...) are kept as stored, so edits
    made with C(nsc) survive.
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
    description: Shows the account claims before and after, without C(iat) and C(jti). Seeds are never shown.
options:
  name:
    description:
      - Name of the account, also its directory name in the store (for example V(SYS)).
    type: str
    required: true
  operator:
    description:
      - Name of the operator the account belongs to. It must exist, see M(cmsgs.nats.jwt_operator).
    type: str
    required: true
  limits:
    description:
      - Connection and subscription limits. V(-1) means unlimited.
      - When given, every limit not set here is unlimited again (and O(limits.wildcards) true).
        When not given, a new account is unlimited and an existing one keeps its limits.
      - A limit of V(0) is a limit of zero; O(limits.conn=0) makes nats-server refuse every connection.
    type: dict
    suboptions:
      conn:
        description: Maximum number of client connections.
        type: int
        default: -1
      leaf:
        description: Maximum number of leaf node connections.
        type: int
        default: -1
      subs:
        description: Maximum number of subscriptions.
        type: int
        default: -1
      data:
        description: Maximum number of bytes in flight.
        type: int
        default: -1
      payload:
        description: Maximum message payload in bytes.
        type: int
        default: -1
      imports:
        description: Maximum number of imports.
        type: int
        default: -1
      exports:
        description: Maximum number of exports.
        type: int
        default: -1
      wildcards:
        description: Whether exports may contain wildcards.
        type: bool
        default: true
      disallow_bearer:
        description: Whether users of this account are refused bearer tokens.
        type: bool
        default: false
  jetstream:
    description:
      - Account-wide JetStream limits. JetStream is enabled for the account when O(jetstream.mem_storage) or
        O(jetstream.disk_storage) is not V(0). V(-1) means unlimited.
      - When given, every limit not set here is V(0) again, and per-tier limits set with C(nsc) are removed.
        When not given, a new account has JetStream off and an existing one keeps its limits.
    type: dict
    suboptions:
      mem_storage:
        description: Maximum bytes of memory storage across all streams (V(0) disables memory storage).
        type: int
        default: 0
      disk_storage:
        description: Maximum bytes of disk storage across all streams (V(0) disables disk storage).
        type: int
        default: 0
      streams:
        description: Maximum number of streams.
        type: int
        default: 0
      consumer:
        description: Maximum number of consumers.
        type: int
        default: 0
      max_ack_pending:
        description: Maximum number of pending acknowledgements per consumer.
        type: int
        default: 0
      mem_max_stream_bytes:
        description: Maximum bytes of one memory stream.
        type: int
        default: 0
      disk_max_stream_bytes:
        description: Maximum bytes of one disk stream.
        type: int
        default: 0
      max_bytes_required:
        description: Whether every stream must declare a maximum size.
        type: bool
        default: false
  signing_keys:
    description:
      - Number of account signing keys to have. Missing ones are created and their seeds stored;
        existing ones are always kept, also when there are more.
      - When not given the stored signing keys are kept.
    type: int
  use_signing_key:
    description:
      - Sign the account with one of the operator's signing keys instead of the operator's own key.
      - The operator needs a signing key whose seed is in the keys directory.
      - Leave it false for the system account.
    type: bool
    default: false
seealso:
  - module: cmsgs.nats.jwt_operator
  - module: cmsgs.nats.jwt_user
"""

EXAMPLES = r"""
- name: Create the system account and publish its JWT for the account server
  cmsgs.nats.jwt_account:
    name: SYS
    operator: REGION1
    nsc_dir: /srv/nsc
    jwt_dest: /srv/ncred/SYS.jwt
    jwt_owner: cmaccount
    jwt_group: root

- name: Create an application account with limits and JetStream
  cmsgs.nats.jwt_account:
    name: APP
    operator: REGION1
    nsc_dir: /srv/nsc
    use_signing_key: true
    signing_keys: 1
    limits:
      conn: 100
      payload: 1048576
    jetstream:
      mem_storage: 1073741824
      disk_storage: -1
      streams: 10
"""

RETURN = r"""
public_key:
  description: Public key of the account, the subject of its JWT.
  returned: success
  type: str
  sample: ACZUGUD7EY54UAKYEV7W3UNVTLKWKWUR3FRUXLOUXXMIWHUYWEH5GQQ4
jwt:
  description:
    - The account JWT (public data).
    - In check mode, null when the account would be created.
  returned: success
  type: str
  sample: eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOi...
jwt_path:
  description: Path of the account JWT in the store.
  returned: success
  type: str
  sample: /srv/nsc/stores/REGION1/accounts/SYS/SYS.jwt
signing_keys:
  description: Public keys of the account's signing keys.
  returned: success
  type: list
  elements: str
  sample: [ACUWLNJ426BIUIXA5HAWRBI2ZLCVK7YN6EDIVJ2JVL4QF7XPVJJH6LMY]
"""

from ansible_collections.cmsgs.nats.plugins.module_utils.nsc_store import (
    copy_from_params,
    new_module,
    paths_from_params,
    plan_account,
    run_module,
)


def _int_options(names, default):
    return {name: dict(type="int", default=default) for name in names}


def main():
    limits = _int_options(("conn", "leaf", "subs", "data", "payload", "imports", "exports"), -1)
    limits.update(wildcards=dict(type="bool", default=True), disallow_bearer=dict(type="bool", default=False))
    jetstream = _int_options(("mem_storage", "disk_storage", "streams", "consumer", "max_ack_pending",
                              "mem_max_stream_bytes", "disk_max_stream_bytes"), 0)
    jetstream.update(max_bytes_required=dict(type="bool", default=False))
    options = dict(
        name=dict(type="str", required=True),
        operator=dict(type="str", required=True),
        limits=dict(type="dict", options=limits),
        jetstream=dict(type="dict", options=jetstream),
        signing_keys=dict(type="int", no_log=False),
        use_signing_key=dict(type="bool", default=False, no_log=False),
    )
    module = new_module(options, "jwt", "0640")
    params = module.params

    def planner():
        return plan_account(
            paths_from_params(params),
            params["operator"],
            params["name"],
            limits=params["limits"],
            jetstream=params["jetstream"],
            signing_keys=params["signing_keys"],
            use_signing_key=params["use_signing_key"],
        )

    run_module(module, planner, lambda outcome: [copy_from_params(params, "jwt", outcome.token)])


if __name__ == "__main__":
    main()
