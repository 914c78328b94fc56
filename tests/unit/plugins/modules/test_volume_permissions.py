# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

import pytest


from ansible_collections.cmsgs.nats.plugins.modules import volume_permissions
from ansible_collections.cmsgs.nats.tests.unit.module_runner import run_module, warning_texts

as_root = pytest.mark.skipif(os.geteuid() != 0, reason='changing owners needs root')


def mode_of(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


@pytest.fixture
def vol(tmp_path):
    root = tmp_path / 'certs'
    root.mkdir()
    (root / 'privkey.pem').write_text('secret key material')
    (root / 'privkey.pem').chmod(0o644)
    return root


LAYOUT = [
    {'path': 'cmserver', 'state': 'directory', 'owner': 'root', 'group': 'nogroup', 'mode': '0750'},
    {'path': 'privkey.pem', 'owner': 0, 'group': 65534, 'mode': '0640'},
]


@as_root
def test_check_then_apply_then_idempotent(vol, capsys, monkeypatch):
    checked = run_module(volume_permissions.main, capsys, monkeypatch, check_mode=True, diff=True, root=str(vol), entries=LAYOUT)
    assert checked['changed'] is True and checked['created'] == [str(vol / 'cmserver')]
    assert not (vol / 'cmserver').exists() and mode_of(vol / 'privkey.pem') == 0o644
    assert checked['diff']['after'] == '%s: root:nogroup 0750\n%s: root:nogroup 0640\n' % (
        vol / 'cmserver', vol / 'privkey.pem')

    applied = run_module(volume_permissions.main, capsys, monkeypatch, diff=True, root=str(vol), entries=LAYOUT)
    assert applied['changed'] is True
    assert applied['diff'] == checked['diff']
    assert mode_of(vol / 'cmserver') == 0o750 and os.lstat(str(vol / 'cmserver')).st_gid == 65534
    assert mode_of(vol / 'privkey.pem') == 0o640

    again = run_module(volume_permissions.main, capsys, monkeypatch, root=str(vol), entries=LAYOUT)
    assert again['changed'] is False and again['deviations'] == []
    assert 'secret key material' not in json.dumps([checked, applied, again])


def test_audit_fails_listing_deviations(vol, capsys, monkeypatch):
    result = run_module(volume_permissions.main, capsys, monkeypatch, root=str(vol), mode='audit',
                        entries=[{'path': 'privkey.pem', 'mode': '0640'}, {'path': 'ca.pem'}])
    assert result['failed'] is True
    assert result['msg'].splitlines()[1:] == [
        '%s: missing, want file' % (vol / 'ca.pem'),
        '%s: mode 0644, want 0640' % (vol / 'privkey.pem'),
    ]
    assert [d['field'] for d in result['deviations']] == ['exists', 'mode']
    assert mode_of(vol / 'privkey.pem') == 0o644


def test_integer_mode_is_refused(vol, capsys, monkeypatch):
    result = run_module(volume_permissions.main, capsys, monkeypatch, root=str(vol), entries=[{'path': 'privkey.pem', 'mode': 416}])
    assert result['failed'] is True
    assert 'privkey.pem' in result['msg'] and "quoted octal string such as '0640'" in result['msg']
    assert mode_of(vol / 'privkey.pem') == 0o644


def test_unknown_user_names_user_and_entry(vol, capsys, monkeypatch):
    result = run_module(volume_permissions.main, capsys, monkeypatch, root=str(vol), entries=[{'path': 'privkey.pem', 'owner': 'cmaccount-absent'}])
    assert result['failed'] is True
    assert result['msg'].startswith('user cmaccount-absent does not exist: create it before setting permissions on %s' % vol)


def test_symlink_refused_by_module(vol, capsys, monkeypatch):
    (vol / 'cert.pem').symlink_to(vol / 'privkey.pem')
    result = run_module(volume_permissions.main, capsys, monkeypatch, root=str(vol), entries=[{'path': 'cert.pem', 'mode': '0600'}])
    assert result['failed'] is True and 'is a symlink' in result['msg']
    assert mode_of(vol / 'privkey.pem') == 0o644


def test_follow_sets_the_mode_of_the_symlink_s_target(vol, capsys, monkeypatch):
    (vol / 'cert.pem').symlink_to(vol / 'privkey.pem')
    result = run_module(volume_permissions.main, capsys, monkeypatch, root=str(vol), follow=True,
                        entries=[{'path': 'cert.pem', 'mode': '0600'}])
    assert result.get('failed') is not True and result['changed'] is True
    assert mode_of(vol / 'privkey.pem') == 0o600
    assert (vol / 'cert.pem').is_symlink()


def test_check_mode_warns_about_a_user_an_earlier_task_creates(vol, capsys, monkeypatch):
    # In check mode the task that would create the user has not run, so its absence is no error.
    result = run_module(volume_permissions.main, capsys, monkeypatch, check_mode=True, root=str(vol),
                        entries=[{'path': 'privkey.pem', 'owner': 'cmaccount-absent'}])
    assert result.get('failed') is not True and result['changed'] is True
    assert warning_texts(result) == ['cmaccount-absent does not exist yet; assuming an earlier task of this run creates it']


def test_missing_required_file_fails(vol, capsys, monkeypatch):
    result = run_module(volume_permissions.main, capsys, monkeypatch, root=str(vol), entries=[{'path': 'cmserver/cert.pem'}])
    assert result['failed'] is True
    assert '%s: required file is missing' % (vol / 'cmserver/cert.pem') in result['msg']
