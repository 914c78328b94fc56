#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nats_server_plan
short_description: Work out a nats_server host's topology and what its variables decide, once per run
version_added: 0.1.0
author: cmsgs.nats maintainers (!UNKNOWN)
description:
  - Used by the C(cmsgs.nats.nats_server) role, whose variables it reads; it fails when called
    from outside that role.
  - Reads this server's part of the topology (cluster, routes, gateway, peers) from the stack's plan
    when the play made one (C(nats_stack_plan)), else from the inventory, as the
    P(cmsgs.nats.nats_server_topology#filter) filter does.
  - Then templates every C(nats_server_*) variable with that topology already known, and works out
    what they decide, as the P(cmsgs.nats.nats_server_run#filter) filter does.
  - The role registers the result as C(_nats_server_plan) and reads both from it for the rest of the
    run, instead of templating every variable and deriving the topology again in each task.
  - Runs on the controller only; nothing is read from or changed on the host.
options: {}
attributes:
  check_mode:
    support: full
    description: Changes nothing, so it runs the same in check mode.
  diff_mode:
    support: N/A
    description: Changes nothing, so there is no difference to show.
notes:
  - The result holds no variable's value (a fact shows in verbose output, and
    C(nats_server_config_extra) may hold a password), only what follows from the values.
"""

EXAMPLES = r"""
- name: Work out this server's topology and what the variables decide, once for this run
  cmsgs.nats.nats_server_plan:
  register: _nats_server_plan

- name: Stop on the problems it found
  ansible.builtin.fail:
    msg: "{{ _nats_server_plan.run.problems }}"
  when: _nats_server_plan.run.problems | length > 0
"""

RETURN = r"""
topology:
  description:
    - This server's part of the topology, as P(cmsgs.nats.nats_server_topology#filter) returns it;
      empty for a server in no cluster.
  returned: always
  type: dict
  sample: {"cluster_name": "c1", "routes": ["nats-route://nats-2:6222"]}
run:
  description:
    - C(problems) and C(warnings) (lists of sentences, each naming a variable), C(tls_sets),
      C(watch_files), C(layout) and C(operator_enabled), as P(cmsgs.nats.nats_server_run#filter)
      returns them.
  returned: always
  type: dict
  sample: {"problems": [], "warnings": [], "tls_sets": [], "watch_files": [], "operator_enabled": false,
           "layout": {"entries": [], "writable_paths": []}}
"""
