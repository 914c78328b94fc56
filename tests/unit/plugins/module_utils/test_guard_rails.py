# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""System folders and root refused however they are spelled; their own subfolders accepted."""

from __future__ import annotations

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils import guard_rails
from ansible_collections.cmsgs.nats.plugins.module_utils.role_values import RoleVars


@pytest.mark.parametrize("path", ["/", "//", "/etc", "/etc/", "//etc", "/etc//", "/var/lib", "/var/./lib",
                                  "/var/lib/../lib", "/etc/systemd/system/"])
def test_system_folders_in_any_spelling_are_refused(path):
    assert guard_rails.is_system_folder(path) is True


@pytest.mark.parametrize("path", ["/var/lib/nats-server", "/srv/certs", "/Xetc", "/etcetera", "etc", "var/lib", "",
                                  None, 5, ["/etc"]])
def test_subfolders_look_alikes_relative_paths_and_non_strings_are_not_system_folders(path):
    assert guard_rails.is_system_folder(path) is False


def test_the_problem_names_the_variable_its_value_and_a_folder_to_use_instead():
    v = RoleVars({"nats_server_data_dir": "/var/lib/", "nats_server_config_dir": "/", "nats_server_log_dir": "/var/log/nats"})
    assert guard_rails.system_folder_problems(v, ["nats_server_data_dir", "nats_server_config_dir", "nats_server_log_dir"]) == [
        "nats_server_data_dir ('/var/lib/') is a system folder; the role would hand it to the service. Use a folder"
        " of its own, such as /var/lib/nats-server.",
        "nats_server_config_dir ('/') is a system folder; the role would hand it to the service. Use a folder"
        " of its own, such as /nats-server.",
    ]


@pytest.mark.parametrize("user", ["root", " root ", "0", 0])
def test_root_by_name_or_uid_is_refused_naming_the_variable(user):
    assert guard_rails.root_user_problems(RoleVars({"nats_server_user": user}), ["nats_server_user"]) == [
        "nats_server_user is 'root': a service never runs as root. Set it to a dedicated system account such as cmsgs."]


@pytest.mark.parametrize("user", ["cmsgs", "rooted", "10", ""])
def test_other_accounts_pass(user):
    assert guard_rails.root_user_problems(RoleVars({"nats_server_user": user}), ["nats_server_user"]) == []
