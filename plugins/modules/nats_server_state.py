#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nats_server_state
short_description: Check that a running nats-server runs the binary and the configuration on disk
version_added: 0.1.0
author: cmsgs.nats maintainers (!UNKNOWN)
description:
  - Compares the version and the configuration digest the server reports in C(/varz) with the
    version of the binary on disk and the digest C(nats-server -t) computes for the configuration
    file (the same value for the same file).
  - A reload of a setting nats-server cannot reload is refused by the server, yet C(kill -HUP)
    succeeds and C(/healthz) answers 200; this check is what tells that the server did not take
    the new file.
  - nats-server before 2.10 reports no digest; then the configuration's load time in C(/varz)
    must be later than the file's modification time, and RV(method) says C(load_time).
  - With O(expect=current) the task fails, naming the server, when anything differs.
options:
  config_path:
    description: The configuration file the server was started with.
    type: path
    required: true
  nats_server_binary:
    description: The binary on disk; its version and its C(-t) digest of O(config_path) are compared.
    type: path
    required: true
  monitor_url:
    description: Base URL of the server's monitoring port.
    type: str
    default: http://127.0.0.1:8222
  run_as:
    description: The service user, who runs C(nats-server -t) so the file is read as the server reads it.
    type: str
  expect:
    description:
      - C(current) fails the task when the server does not run what is on disk.
      - C(report) only reports the differences.
    type: str
    choices: [current, report]
    default: current
  previous_path:
    description: The kept previous configuration, named in the failure message as the way back.
    type: path
  wait_seconds:
    description:
      - How long a server that does not run what is on disk is asked again; a reload is applied
        after the signal returns.
    type: int
    default: 10
  require_healthy:
    description:
      - Also require C(/healthz) to answer 200 (with JetStream on, its streams current), asking again
        every quarter second within O(wait_seconds).
      - Waits for a server that was just started or restarted without a wait of its own.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
"""

EXAMPLES = r"""
- name: Check nats-server runs the configuration on disk
  cmsgs.nats.nats_server_state:
    config_path: /etc/nats-server/nats-server.conf
    nats_server_binary: /usr/local/bin/nats-server
    monitor_url: http://127.0.0.1:8222
    run_as: cmsgs
"""

RETURN = r"""
server_name:
  description: The name the server reports in C(/varz), which the failure message names.
  returned: always
  type: str
  sample: nats-1
running:
  description: Whether the server answered on its monitoring port.
  returned: always
  type: bool
  sample: true
running_version:
  description: The version the server reports.
  returned: always
  type: str
  sample: 2.15.1
running_digest:
  description: The configuration digest the server reports; null before nats-server 2.10.
  returned: always
  type: str
  sample: sha256:d8a841a35d671fe17e642a877bb4da6be88acadf29e04424ded74e1f5a410644
file_digest:
  description: The digest C(nats-server -t) computes for the file on disk; null before 2.10.
  returned: always
  type: str
  sample: sha256:d8a841a35d671fe17e642a877bb4da6be88acadf29e04424ded74e1f5a410644
method:
  description: How the configuration was compared, C(digest) or C(load_time) (servers without a digest).
  returned: always
  type: str
  sample: digest
healthy:
  description: Whether C(/healthz) answered 200.
  returned: when O(require_healthy=true)
  type: bool
  sample: true
differences:
  description: What differs, one sentence each; empty when the server runs what is on disk (and is healthy, with O(require_healthy=true)).
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cmsgs.nats.plugins.module_utils.nats_runtime import RuntimeCheckError, inspect


def main():
    module = AnsibleModule(
        argument_spec={
            "config_path": {"type": "path", "required": True},
            "nats_server_binary": {"type": "path", "required": True},
            "monitor_url": {"type": "str", "default": "http://127.0.0.1:8222"},
            "run_as": {"type": "str"},
            "expect": {"type": "str", "choices": ["current", "report"], "default": "current"},
            "previous_path": {"type": "path"},
            "wait_seconds": {"type": "int", "default": 10},
            "require_healthy": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        state = inspect(module, params["nats_server_binary"], params["config_path"], params["monitor_url"], params["run_as"],
                        wait_seconds=params["wait_seconds"] if params["expect"] == "current" else 0,
                        healthy=params["require_healthy"])
    except RuntimeCheckError as exc:
        module.fail_json(msg=str(exc))
    if params["expect"] == "current" and state["differences"]:
        rollback = ""
        if params["previous_path"]:
            rollback = (" The configuration it replaced is kept in %s: copy it back over %s and reload to roll back,"
                        " or fix the setting and run again (the next run restarts a server that runs something else"
                        " than the disk)." % (params["previous_path"], params["config_path"]))
        server = " ".join(part for part in ("nats-server", state["server_name"]) if part)
        if state["running"] and state.get("healthy") is False and len(state["differences"]) == 1:
            server += " (version %s)" % (state["running_version"] or "unknown")
            hint = "It runs what is on disk but is not ready; its journal and /healthz say why."
        elif state["running"]:
            server += " (version %s)" % (state["running_version"] or "unknown")
            hint = "A reload of a setting nats-server cannot reload is refused although the signal succeeds."
        else:
            hint = "The service's journal says why it is not up."
        module.fail_json(
            msg="%s at %s does not run what is on disk: %s. %s%s"
                % (server, params["monitor_url"], "; ".join(state["differences"]), hint, rollback),
            **state)
    module.exit_json(changed=False, **state)


if __name__ == "__main__":
    main()
