#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: acs_push
short_description: Push an account JWT to the NATS account server, as nsc push does
version_added: 0.1.0
author: cmsgs.nats maintainers (!UNKNOWN)
description:
  - Sends an account JWT to an account server (the collection's C(cmsgs-acs), or any server with the
    nats-account-server v1 API) with C(POST <url>/accounts/<account public key>) and the raw JWT as
    body, the request C(nsc push) makes. The account server stores it and tells the NATS servers, so
    an account issued with M(cmsgs.nats.jwt_account) becomes live.
  - Asks the account server first (C(GET <url>/accounts/<public key>)) and pushes only when it holds
    another JWT or none, so a re-run changes nothing; after a push, reads the account back and fails
    unless the server serves exactly the pushed JWT.
  - The JWT is decoded and its signature checked before any request; the account server decides
    whether its operator trusts it.
requirements:
  - nkeys (Python library, with PyNaCl)
attributes:
  check_mode:
    support: full
    description: Asks the account server and reports whether a push would change it, without pushing.
  diff_mode:
    support: full
    description: Shows the account claims the server held before and after, without C(iat) and C(jti).
options:
  url:
    description:
      - The account server's API URL, as in the operator's C(account_server_url), for example
        V(http://acs-1.example.com:9090/jwt/v1) or V(https://acs.example.com/jwt/v1).
        C(accounts/<public key>) is appended to its path, as C(nsc push) does.
    type: str
    required: true
  jwt:
    description:
      - The account JWT to push, for example the RV(cmsgs.nats.jwt_account#module:jwt) of M(cmsgs.nats.jwt_account).
    type: str
    required: true
  timeout:
    description: Seconds to wait for each request.
    type: float
    default: 10
  validate_certs:
    description: Check the server's certificate on an V(https) URL.
    type: bool
    default: true
  ca_path:
    description: PEM file of the certificate authorities to trust on an V(https) URL, instead of the system's.
    type: path
seealso:
  - module: cmsgs.nats.jwt_account
"""

EXAMPLES = r"""
- name: Create the APP account
  cmsgs.nats.jwt_account:
    name: APP
    operator: REGION1
    nsc_dir: /srv/nsc
  register: app_account

- name: Make it live on the account server
  cmsgs.nats.acs_push:
    url: http://acs-1.example.com:9090/jwt/v1
    jwt: "{{ app_account.jwt }}"
"""

RETURN = r"""
public_key:
  description: The account's public key, the subject of the JWT.
  returned: success
  type: str
  sample: ACZUGUD7EY54UAKYEV7W3UNVTLKWKWUR3FRUXLOUXXMIWHUYWEH5GQQ4
account_url:
  description: The URL the JWT was (or would be) posted to.
  returned: success
  type: str
  sample: http://acs-1.example.com:9090/jwt/v1/accounts/ACZUGUD7EY54UAKYEV7W3UNVTLKWKWUR3FRUXLOUXXMIWHUYWEH5GQQ4
status:
  description: The HTTP status of the push; absent when nothing was pushed.
  returned: changed and not check mode
  type: int
  sample: 200
message:
  description: What the account server answered to the push (empty on success).
  returned: changed and not check mode
  type: str
  sample: ""
"""

import json
import posixpath
from urllib.parse import urlsplit, urlunsplit

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.urls import fetch_url

from ansible_collections.cmsgs.nats.plugins.module_utils import nats_jwt


class PushError(Exception):
    pass


def account_url(base: str, public_key: str) -> str:
    """<base>/accounts/<key>, joined on the path as nsc's AccountJwtURLFromString does."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PushError("url must be an http:// or https:// URL such as http://acs-1:9090/jwt/v1, not %r" % base)
    path = posixpath.join(parts.path or "/", "accounts", public_key)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _request(module, url, method, data=None):
    response, info = fetch_url(
        module, url, method=method, data=data, timeout=module.params["timeout"],
        headers={"Content-Type": "application/jwt"} if data is not None else None,
        ca_path=module.params["ca_path"])
    status = info.get("status", -1)
    # On an error status the body was already read into info (and the response is spent).
    body = info.get("body")
    if body is None:
        body = response.read() if response is not None else b""
    if isinstance(body, str):
        body = body.encode()
    if status == -1:
        raise PushError("cannot reach the account server at %s: %s" % (url, info.get("msg", "no answer")))
    return status, body.decode("utf-8", "replace")


def served_jwt(module, url):
    """The JWT the account server holds for this account, or None."""
    status, body = _request(module, url, "GET")
    if status == 404:
        return None
    if status != 200:
        raise PushError("the account server answered GET %s with %d: %s" % (url, status, body.strip()))
    return body.strip() or None


def _claims_text(token):
    if token is None:
        return ""
    try:
        claims = nats_jwt.decode(token, check_times=False).claims
    except nats_jwt.JwtError as exc:
        return "(not a JWT: %s)\n" % exc
    return json.dumps(nats_jwt.comparable(claims), indent=2, sort_keys=True) + "\n"


def push(module):
    params = module.params
    try:
        account = nats_jwt.decode(params["jwt"], expected_kind="account")
    except nats_jwt.JwtError as exc:
        raise PushError("jwt is not a valid NATS account JWT: %s" % exc) from None
    url = account_url(params["url"], account.subject)
    result = dict(changed=False, public_key=account.subject, account_url=url)
    before = served_jwt(module, url)
    if before == account.token:
        return result
    result["changed"] = True
    if module._diff:
        result["diff"] = dict(before=_claims_text(before), after=_claims_text(account.token),
                              before_header=url, after_header=url)
    if module.check_mode:
        return result
    status, body = _request(module, url, "POST", data=account.token.encode("ascii"))
    result.update(status=status, message=body.strip())
    if status in (201, 202):
        # nsc treats these as accepted (exit 0); the server may apply them later.
        module.warn("the account server accepted the push with %d but may not store it yet: %s" % (status, body.strip()))
        return result
    if status != 200:
        raise PushError("the account server refused the account %s (%s) with %d: %s"
                        % (account.name, account.subject, status, body.strip()))
    after = served_jwt(module, url)
    if after != account.token:
        raise PushError("the account server answered 200 but serves %s for %s"
                        % ("another JWT" if after else "nothing", account.subject))
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            jwt=dict(type="str", required=True),
            timeout=dict(type="float", default=10),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    if not nats_jwt.HAS_NKEYS:
        module.fail_json(msg=missing_required_lib("nkeys"), exception=nats_jwt.NKEYS_IMPORT_ERROR)
    try:
        module.exit_json(**push(module))
    except PushError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
