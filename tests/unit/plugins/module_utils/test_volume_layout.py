# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils.volume_layout import (
    VolumeLayoutError,
    format_deviation,
    normalize_entries,
    parse_mode,
    run_layout,
)

as_root = pytest.mark.skipif(os.geteuid() != 0, reason='changing owners needs root')
NOBODY, NOGROUP = 65534, 65534


def meta(path):
    st = os.lstat(str(path))
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def snapshot(root):
    """Owner, group and mode of everything under root, to prove nothing changed."""
    found = {'.': meta(root)}
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            found[os.path.relpath(full, str(root))] = meta(full)
    return found


@pytest.fixture
def vol(tmp_path):
    """An [ncred]-like volume with wrong modes and owners everywhere."""
    root = tmp_path / 'ncred'
    root.mkdir(mode=0o755)
    for name in ('REGION1.jwt', 'SYS.jwt'):
        (root / name).write_text('not read by the module')
        (root / name).chmod(0o644)
    return root


NCRED = [
    {'path': '.', 'state': 'directory', 'owner': 'nobody', 'group': 'root', 'mode': '0750'},
    {'path': 'creds', 'state': 'directory', 'owner': 'nobody', 'group': 'root', 'mode': '0750'},
    {'path': 'REGION1.jwt', 'owner': 'root', 'group': 'nogroup', 'mode': '0640'},
    {'path': 'SYS.jwt', 'owner': 'nobody', 'group': 'root', 'mode': '0640'},
    {'path': 'creds/sys.creds', 'owner': 'nobody', 'group': 'root', 'mode': '0600', 'required': False},
]


@pytest.mark.parametrize('text, value', [('0640', 0o640), ('750', 0o750), ('2750', 0o2750)])
def test_parse_mode_accepts_octal_strings(text, value):
    assert parse_mode(text, 'x') == value


@pytest.mark.parametrize('value', [416, 640, True])
def test_parse_mode_refuses_numbers(value):
    with pytest.raises(VolumeLayoutError, match="quoted octal string such as '0640'"):
        parse_mode(value, 'entries[0]')


@pytest.mark.parametrize('text', ['0980', '64', '10640', 'rw-r-----'])
def test_parse_mode_refuses_bad_strings(text):
    with pytest.raises(VolumeLayoutError, match='not an octal mode'):
        parse_mode(text, 'entries[0]')


def test_normalize_resolves_ids_and_sorts_parents_first(tmp_path):
    entries = normalize_entries(str(tmp_path), [
        {'path': 'a/b', 'owner': 4242, 'group': '4343'},
        {'path': 'a', 'owner': 'nobody', 'group': 'nogroup'},
        {'path': '.'},
    ])
    assert [e.path for e in entries] == [str(tmp_path), str(tmp_path / 'a'), str(tmp_path / 'a/b')]
    assert (entries[1].uid, entries[1].gid) == (NOBODY, NOGROUP)
    # Numeric ids need no passwd entry (volumes are shared with containers).
    assert (entries[2].uid, entries[2].gid) == (4242, 4343)
    assert entries[0].state == 'file' and entries[0].required is True


@pytest.mark.parametrize('root, entry, message', [
    (None, {'path': 'x'}, 'is relative, set root'),
    ('/srv/v', {'path': '../etc/shadow'}, 'leaves root /srv/v'),
    ('/srv/v', {'path': 'x', 'state': 'link'}, "state must be 'file' or 'directory'"),
    ('/srv/v', {'path': 'x', 'owner': 'cmaccount-missing'},
     'user cmaccount-missing does not exist: create it before setting permissions on /srv/v'),
    ('/srv/v', {'path': 'x', 'group': 'cmsgs-missing'}, 'group cmsgs-missing does not exist'),
])
def test_normalize_rejects(root, entry, message):
    with pytest.raises(VolumeLayoutError, match=message):
        normalize_entries(root, [entry])


def test_normalize_rejects_duplicates():
    with pytest.raises(VolumeLayoutError, match=r'listed twice \(also as entries\[0\]\)'):
        normalize_entries('/srv/v', [{'path': 'a'}, {'path': '/srv/v/a'}])


@as_root
def test_enforce_creates_fixes_and_is_idempotent(vol):
    result = run_layout(str(vol), NCRED)
    assert result['changed'] is True
    assert result['created'] == [str(vol / 'creds')]
    assert meta(vol) == (NOBODY, 0, 0o750)
    assert meta(vol / 'creds') == (NOBODY, 0, 0o750)
    assert meta(vol / 'REGION1.jwt') == (0, NOGROUP, 0o640)
    assert meta(vol / 'SYS.jwt') == (NOBODY, 0, 0o640)
    assert {'path': str(vol / 'SYS.jwt'), 'field': 'mode', 'current': '0644', 'wanted': '0640'} in result['deviations']
    sys_jwt = [e for e in result['entries'] if e['path'] == str(vol / 'SYS.jwt')][0]
    assert sys_jwt == {'path': str(vol / 'SYS.jwt'), 'exists': True, 'state': 'file',
                       'owner': 'nobody', 'group': 'root', 'mode': '0640'}
    creds = [e for e in result['entries'] if e['path'] == str(vol / 'creds/sys.creds')][0]
    assert creds['exists'] is False

    again = run_layout(str(vol), NCRED)
    assert again['changed'] is False
    assert again['deviations'] == [] and again['created'] == []


@as_root
def test_chown_keeps_setuid_setgid_bits(vol):
    # The kernel clears setuid/setgid of a regular file on chown.
    run_layout(str(vol), [{'path': 'SYS.jwt', 'owner': 'nobody', 'group': 'nogroup', 'mode': '6750'}])
    assert meta(vol / 'SYS.jwt') == (NOBODY, NOGROUP, 0o6750)
    # Also when the entry does not manage the mode.
    run_layout(str(vol), [{'path': 'SYS.jwt', 'owner': 'root'}])
    assert meta(vol / 'SYS.jwt') == (0, NOGROUP, 0o6750)


def test_check_mode_changes_nothing_and_predicts(vol):
    before = snapshot(vol)
    result = run_layout(str(vol), NCRED, check_mode=True, want_diff=True)
    assert snapshot(vol) == before
    assert result['changed'] is True
    assert result['created'] == [str(vol / 'creds')]
    predicted = dict((e['path'], e) for e in result['entries'])
    assert predicted[str(vol / 'creds')]['mode'] == '0750'
    assert predicted[str(vol / 'REGION1.jwt')]['group'] == 'nogroup'
    assert '%s: absent\n' % (vol / 'creds') in result['diff']['before']
    assert '%s: nobody:root 0750\n' % (vol / 'creds') in result['diff']['after']


@as_root
def test_diff_lists_owner_group_mode_per_path(vol):
    result = run_layout(str(vol), NCRED[2:4], want_diff=True)
    assert result['diff']['before'] == '%s: root:root 0644\n%s: root:root 0644\n' % (
        vol / 'REGION1.jwt', vol / 'SYS.jwt')
    assert result['diff']['after'] == '%s: root:nogroup 0640\n%s: nobody:root 0640\n' % (
        vol / 'REGION1.jwt', vol / 'SYS.jwt')
    assert 'not read' not in repr(result)


def test_audit_fails_with_every_deviation_and_changes_nothing(vol):
    before = snapshot(vol)
    with pytest.raises(VolumeLayoutError) as err:
        run_layout(str(vol), NCRED, mode='audit')
    assert snapshot(vol) == before
    lines = str(err.value).splitlines()
    assert lines[0] == 'audit found 7 deviation(s) from the wanted layout:'
    assert '%s: mode 0644, want 0640' % (vol / 'SYS.jwt') in lines
    assert '%s: owner root, want nobody' % (vol / 'SYS.jwt') in lines
    assert '%s: missing, want directory' % (vol / 'creds') in lines
    # Not required and absent: no deviation.
    assert not any('sys.creds' in line for line in lines)
    assert len(err.value.details['deviations']) == 7


def test_audit_passes_on_matching_layout(vol):
    result = run_layout(str(vol), [{'path': 'SYS.jwt', 'owner': os.geteuid(), 'mode': '0644'}], mode='audit')
    assert result == {'changed': False, 'deviations': [], 'created': [], 'entries': [
        {'path': str(vol / 'SYS.jwt'), 'exists': True, 'state': 'file',
         'owner': result['entries'][0]['owner'], 'group': result['entries'][0]['group'], 'mode': '0644'}]}


def test_symlink_is_refused_and_nothing_changes(vol, tmp_path):
    outside = tmp_path / 'shadow'
    outside.write_text('x')
    outside.chmod(0o600)
    (vol / 'SYS.jwt').unlink()
    (vol / 'SYS.jwt').symlink_to(outside)
    before = snapshot(vol)
    with pytest.raises(VolumeLayoutError, match='SYS.jwt is a symlink.*set follow: true') as err:
        run_layout(str(vol), NCRED[2:4])
    assert snapshot(vol) == before and meta(outside)[2] == 0o600
    assert err.value.details['deviations'][-1]['field'] == 'state'


def test_follow_manages_the_symlink_target(vol, tmp_path):
    outside = tmp_path / 'target'
    outside.write_text('x')
    outside.chmod(0o600)
    (vol / 'link').symlink_to(outside)
    result = run_layout(str(vol), [{'path': 'link', 'mode': '0640'}], follow=True)
    assert result['changed'] is True and meta(outside)[2] == 0o640


def test_missing_required_file_is_an_error_naming_it(vol):
    before = snapshot(vol)
    entries = NCRED[:4] + [dict(NCRED[4], required=True)]
    with pytest.raises(VolumeLayoutError, match=r'sys\.creds: required file is missing') as err:
        run_layout(str(vol), entries)
    # The whole layout is checked first: the fixable entries stayed untouched too.
    assert snapshot(vol) == before
    assert not (vol / 'creds').exists()
    assert 'nothing was changed' in str(err.value)


def test_unlisted_missing_parent_and_wrong_type(vol):
    with pytest.raises(VolumeLayoutError, match='parent folder .*/a does not exist'):
        run_layout(str(vol), [{'path': 'a/b', 'state': 'directory'}])
    with pytest.raises(VolumeLayoutError, match='SYS.jwt is a file, want directory'):
        run_layout(str(vol), [{'path': 'SYS.jwt', 'state': 'directory'}])


def test_format_deviation():
    assert format_deviation({'path': '/v/x', 'field': 'group', 'current': 'root', 'wanted': 'cmsgs'}) == \
        '/v/x: group root, want cmsgs'


def test_check_mode_accepts_accounts_an_earlier_task_would_create(tmp_path):
    # A fresh host in check mode: the role's user task did not really run.
    entries = [{'path': str(tmp_path / 'data'), 'state': 'directory', 'owner': 'cmsgs-not-yet', 'group': 'cmsgs-not-yet',
                'mode': '0750'}]
    result = run_layout(None, entries, check_mode=True, want_diff=True)
    assert result['changed'] is True
    assert result['unresolved'] == ['cmsgs-not-yet']
    assert not (tmp_path / 'data').exists()
    assert 'cmsgs-not-yet:cmsgs-not-yet 0750' in result['diff']['after']
    with pytest.raises(VolumeLayoutError, match='user cmsgs-not-yet does not exist'):
        run_layout(None, entries)
    with pytest.raises(VolumeLayoutError, match='does not exist'):
        run_layout(None, entries, mode='audit', check_mode=True)
