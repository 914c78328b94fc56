# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import os
import pwd
import signal
import stat

import pytest

from ansible_collections.cmsgs.nats.plugins.module_utils.volume_layout import (
    VolumeLayoutError,
    apply,
    format_deviation,
    format_mode,
    normalize_entries,
    parse_mode,
    plan,
    run_layout,
)

ME = pwd.getpwuid(os.geteuid()).pw_name
MY_GROUP = grp.getgrgid(os.getegid()).gr_name
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


@pytest.mark.parametrize('text', ['0980', '64', '10640', 'rw-r-----', '0X40', ' 06 '])
def test_parse_mode_refuses_bad_strings(text):
    with pytest.raises(VolumeLayoutError) as err:
        parse_mode(text, 'entries[0]')
    assert str(err.value) == "entries[0]: mode %r is not an octal mode of 3 or 4 digits such as '0640'" % text


@pytest.mark.parametrize('value, example, message', [
    (416, 0o640, "seed_mode: mode must be a quoted octal string such as '0640', got 416 (int); "
                 "unquoted YAML numbers like 0640 arrive as the decimal 416, quote the mode"),
    (384, 0o600, "seed_mode: mode must be a quoted octal string such as '0600', got 384 (int); "
                 "unquoted YAML numbers like 0600 arrive as the decimal 384, quote the mode"),
    (True, 0o640, "seed_mode: mode must be a quoted octal string such as '0640', got True (bool); "
                  "unquoted YAML numbers like 0640 arrive as the decimal 416, quote the mode"),
    (None, 0o640, "seed_mode: mode must be a quoted octal string such as '0640', got None (NoneType); "
                  "unquoted YAML numbers like 0640 arrive as the decimal 416, quote the mode"),
])
def test_a_mode_that_is_no_string_is_refused_with_the_quoted_example(value, example, message):
    with pytest.raises(VolumeLayoutError) as err:
        parse_mode(value, 'seed_mode', example=example)
    assert str(err.value) == message


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


def _planned(root, entries, follow=False):
    return plan(normalize_entries(root, entries), follow)


def test_a_file_replaced_between_check_and_change_is_left_alone(vol, tmp_path):
    # Another process swaps SYS.jwt for a different file after the check: the
    # change must not land on the newcomer (it is not the inode that was checked).
    steps = _planned(str(vol), [{'path': 'SYS.jwt', 'mode': '0600'}])
    newcomer = tmp_path / 'newcomer'
    newcomer.write_text('y')
    newcomer.chmod(0o644)
    os.rename(str(newcomer), str(vol / 'SYS.jwt'))
    with pytest.raises(VolumeLayoutError, match=r'^%s was replaced while being checked, run again$' % (vol / 'SYS.jwt')):
        apply(steps)
    assert meta(vol / 'SYS.jwt')[2] == 0o644


def test_a_file_swapped_for_a_symlink_to_itself_is_not_followed(vol, tmp_path):
    # The symlink leads to the very inode that was checked, now outside the
    # volume: only O_NOFOLLOW stops the chmod from going through the link.
    steps = _planned(str(vol), [{'path': 'SYS.jwt', 'mode': '0600'}])
    moved = tmp_path / 'moved-out'
    os.rename(str(vol / 'SYS.jwt'), str(moved))
    (vol / 'SYS.jwt').symlink_to(moved)
    message = (r'^cannot set permissions on %s: Too many levels of symbolic links '
               r'\(does the task run with become: true\?\)$' % (vol / 'SYS.jwt'))
    with pytest.raises(VolumeLayoutError, match=message):
        apply(steps)
    assert meta(moved)[2] == 0o644


def test_follow_still_works_through_a_link_swapped_in_for_the_same_inode(vol, tmp_path):
    steps = _planned(str(vol), [{'path': 'SYS.jwt', 'mode': '0600'}], follow=True)
    moved = tmp_path / 'moved-out'
    os.rename(str(vol / 'SYS.jwt'), str(moved))
    (vol / 'SYS.jwt').symlink_to(moved)
    apply(steps, follow=True)
    assert meta(moved)[2] == 0o600


@pytest.mark.parametrize('path', ['/srv/v2/secret', '../v2/secret', '/srv/vx', '/srv'])
def test_a_sibling_sharing_the_roots_prefix_is_outside_the_root(path):
    with pytest.raises(VolumeLayoutError, match='path leaves root /srv/v, remove the ".." parts'):
        normalize_entries('/srv/v', [{'path': path}])


@pytest.mark.parametrize('root', ['/srv/v', '/srv/v/', '/srv//v'])
def test_the_root_itself_and_paths_below_it_are_inside(root):
    entries = normalize_entries(root, [{'path': '.', 'state': 'directory'}, {'path': '/srv/v/a'}, {'path': 'b/../c'}])
    assert [e.path for e in entries] == ['/srv/v', '/srv/v/a', '/srv/v/c']


def test_a_relative_root_is_refused():
    with pytest.raises(VolumeLayoutError, match='root srv/v must be an absolute path'):
        normalize_entries('srv/v', [{'path': 'a'}])


@pytest.mark.parametrize('state', ['file', 'directory'])
def test_a_dangling_symlink_is_an_error_when_following(vol, state):
    (vol / 'gone').symlink_to(vol / 'never-there')
    before = snapshot(vol)
    with pytest.raises(VolumeLayoutError, match=r'^%s is a symlink to a missing target, fix or remove the link$' % (vol / 'gone')):
        run_layout(str(vol), [{'path': 'gone', 'state': state, 'mode': '0600', 'required': False}], follow=True)
    assert snapshot(vol) == before
    assert not (vol / 'never-there').exists()


def test_a_dangling_symlink_is_refused_as_a_symlink_without_follow(vol):
    (vol / 'gone').symlink_to(vol / 'never-there')
    with pytest.raises(VolumeLayoutError, match='gone is a symlink; a symlink could redirect'):
        run_layout(str(vol), [{'path': 'gone', 'mode': '0600'}])


def test_a_fifo_swapped_in_does_not_hang_the_run(vol, tmp_path):
    # Opening a FIFO without O_NONBLOCK waits for a writer forever.
    steps = _planned(str(vol), [{'path': 'SYS.jwt', 'mode': '0600'}])
    # Made while the checked file still exists, so the FIFO gets another inode.
    os.mkfifo(str(tmp_path / 'fifo'), 0o644)
    os.rename(str(tmp_path / 'fifo'), str(vol / 'SYS.jwt'))
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail('opening the FIFO blocked'))
    signal.alarm(5)
    try:
        with pytest.raises(VolumeLayoutError, match='was replaced while being checked'):
            apply(steps)
    finally:
        signal.alarm(0)
    assert meta(vol / 'SYS.jwt')[2] == 0o644


def test_a_symlink_loop_cannot_be_inspected(vol):
    (vol / 'loop').symlink_to(vol / 'loop')
    with pytest.raises(VolumeLayoutError, match=r'^cannot inspect %s: Too many levels of symbolic links$' % (vol / 'loop')):
        run_layout(str(vol), [{'path': 'loop'}], follow=True)


def test_entries_after_one_without_changes_are_still_applied(vol):
    run_layout(str(vol), [{'path': 'REGION1.jwt', 'mode': '0640'}])
    result = run_layout(str(vol), [{'path': 'REGION1.jwt', 'mode': '0640'}, {'path': 'SYS.jwt', 'mode': '0600'}])
    assert result['changed'] is True
    assert meta(vol / 'SYS.jwt')[2] == 0o600


def test_a_directory_created_without_a_mode_is_private(vol):
    result = run_layout(str(vol), [{'path': 'new', 'state': 'directory'}])
    assert result['created'] == [str(vol / 'new')]
    assert meta(vol / 'new')[2] == 0o700


@as_root
def test_a_group_change_keeps_the_owner_and_an_owner_change_keeps_the_group(vol):
    os.chown(str(vol / 'SYS.jwt'), NOBODY, 0)
    run_layout(str(vol), [{'path': 'SYS.jwt', 'group': 'nogroup'}])
    assert meta(vol / 'SYS.jwt')[:2] == (NOBODY, NOGROUP)
    run_layout(str(vol), [{'path': 'SYS.jwt', 'owner': 'root'}])
    assert meta(vol / 'SYS.jwt')[:2] == (0, NOGROUP)


def test_an_absent_optional_entry_is_described_as_absent(vol):
    result = run_layout(str(vol), [{'path': 'maybe', 'required': False, 'mode': '0600'}])
    assert result['entries'] == [{'path': str(vol / 'maybe'), 'exists': False, 'state': None, 'owner': None,
                                  'group': None, 'mode': None}]
    assert result['changed'] is False


def test_check_mode_names_accounts_that_do_not_exist_yet(tmp_path):
    entries = [{'path': str(tmp_path), 'state': 'directory', 'owner': 'cmsgs-not-yet', 'group': 'cmsgs-not-yet-g'}]
    result = run_layout(None, entries, check_mode=True)
    assert (result['entries'][0]['owner'], result['entries'][0]['group']) == ('cmsgs-not-yet', 'cmsgs-not-yet-g')
    assert result['unresolved'] == ['cmsgs-not-yet', 'cmsgs-not-yet-g']


def test_audit_names_a_wrong_kind(vol):
    (vol / 'dir').mkdir()
    with pytest.raises(VolumeLayoutError) as err:
        run_layout(str(vol), [{'path': 'dir', 'state': 'file'}], mode='audit')
    assert str(err.value).splitlines()[1] == '%s: is a directory, want file' % (vol / 'dir')


@pytest.mark.parametrize('key, value, message', [
    ('owner', True, 'entries[0] (/srv/v/x): user must be a name or a numeric id, got True'),
    ('group', False, 'entries[0] (/srv/v/x): group must be a name or a numeric id, got False'),
    ('owner', -1, 'entries[0] (/srv/v/x): user id -1 is negative'),
    ('group', -5, 'entries[0] (/srv/v/x): group id -5 is negative'),
])
def test_an_owner_or_group_that_is_no_id_is_refused_naming_the_entry(key, value, message):
    # YAML turns `owner: yes` into True, which would otherwise be uid 1.
    with pytest.raises(VolumeLayoutError) as err:
        normalize_entries('/srv/v', [{'path': 'x', key: value}])
    assert str(err.value) == message


@as_root
def test_current_owners_and_groups_are_named_from_their_own_databases_or_by_number(vol):
    # 65534 is the user nobody but the group nogroup; 4242/4343 have no name at all.
    os.chown(str(vol / 'REGION1.jwt'), 4242, 4343)
    os.chown(str(vol / 'SYS.jwt'), NOBODY, NOGROUP)
    region1, sys_jwt = str(vol / 'REGION1.jwt'), str(vol / 'SYS.jwt')
    entries = [{'path': 'REGION1.jwt', 'owner': 'root', 'group': 'root'},
               {'path': 'SYS.jwt', 'owner': 'root', 'group': 'root', 'mode': '0600'}]
    deviations = [
        {'path': region1, 'field': 'owner', 'current': '4242', 'wanted': 'root'},
        {'path': region1, 'field': 'group', 'current': '4343', 'wanted': 'root'},
        {'path': sys_jwt, 'field': 'owner', 'current': 'nobody', 'wanted': 'root'},
        {'path': sys_jwt, 'field': 'group', 'current': 'nogroup', 'wanted': 'root'},
        {'path': sys_jwt, 'field': 'mode', 'current': '0644', 'wanted': '0600'},
    ]
    with pytest.raises(VolumeLayoutError) as err:
        run_layout(str(vol), entries, mode='audit')
    assert err.value.details == {'deviations': deviations, 'entries': [
        {'path': region1, 'exists': True, 'state': 'file', 'owner': '4242', 'group': '4343', 'mode': '0644'},
        {'path': sys_jwt, 'exists': True, 'state': 'file', 'owner': 'nobody', 'group': 'nogroup', 'mode': '0644'},
    ]}
    result = run_layout(str(vol), entries)
    assert result == {'changed': True, 'unresolved': [], 'deviations': deviations, 'created': [], 'entries': [
        {'path': region1, 'exists': True, 'state': 'file', 'owner': 'root', 'group': 'root', 'mode': '0644'},
        {'path': sys_jwt, 'exists': True, 'state': 'file', 'owner': 'root', 'group': 'root', 'mode': '0600'},
    ]}
    assert meta(vol / 'REGION1.jwt') == (0, 0, 0o644) and meta(vol / 'SYS.jwt') == (0, 0, 0o600)


@pytest.fixture
def mixed(vol, tmp_path):
    """Entries of every kind of trouble, each after one that needs nothing or cannot be fixed."""
    outside = tmp_path / 'outside'
    outside.write_text('x')
    (vol / 'b-link').symlink_to(outside)
    (vol / 'c-dir').mkdir()
    (vol / 'c-dir').chmod(0o750)
    (vol / 'd.jwt').write_text('x')
    (vol / 'd.jwt').chmod(0o644)
    entries = [
        {'path': 'a-optional', 'required': False, 'mode': '0600'},
        {'path': 'b-link', 'mode': '0600'},
        {'path': 'c-dir', 'mode': '0600'},
        {'path': 'd.jwt', 'mode': '0600'},
        {'path': 'e-new', 'state': 'directory', 'mode': '0750'},
        {'path': 'f/g', 'state': 'directory'},
        {'path': 'h.creds', 'mode': '0600'},
    ]
    link_mode = format_mode(stat.S_IMODE(os.lstat(str(vol / 'b-link')).st_mode))
    before = [
        {'path': str(vol / 'a-optional'), 'exists': False, 'state': None, 'owner': None, 'group': None, 'mode': None},
        {'path': str(vol / 'b-link'), 'exists': True, 'state': 'symlink', 'owner': ME, 'group': MY_GROUP, 'mode': link_mode},
        {'path': str(vol / 'c-dir'), 'exists': True, 'state': 'directory', 'owner': ME, 'group': MY_GROUP, 'mode': '0750'},
        {'path': str(vol / 'd.jwt'), 'exists': True, 'state': 'file', 'owner': ME, 'group': MY_GROUP, 'mode': '0644'},
        {'path': str(vol / 'e-new'), 'exists': False, 'state': None, 'owner': None, 'group': None, 'mode': None},
        {'path': str(vol / 'f/g'), 'exists': False, 'state': None, 'owner': None, 'group': None, 'mode': None},
        {'path': str(vol / 'h.creds'), 'exists': False, 'state': None, 'owner': None, 'group': None, 'mode': None},
    ]
    deviations = [
        {'path': str(vol / 'b-link'), 'field': 'state', 'current': 'symlink', 'wanted': 'file'},
        {'path': str(vol / 'c-dir'), 'field': 'state', 'current': 'directory', 'wanted': 'file'},
        {'path': str(vol / 'd.jwt'), 'field': 'mode', 'current': '0644', 'wanted': '0600'},
        {'path': str(vol / 'e-new'), 'field': 'exists', 'current': 'absent', 'wanted': 'directory'},
        {'path': str(vol / 'f/g'), 'field': 'exists', 'current': 'absent', 'wanted': 'directory'},
        {'path': str(vol / 'h.creds'), 'field': 'exists', 'current': 'absent', 'wanted': 'file'},
    ]
    return entries, before, deviations


def test_audit_reports_every_entry_past_ones_it_cannot_fix(vol, mixed):
    entries, before, deviations = mixed
    with pytest.raises(VolumeLayoutError) as err:
        run_layout(str(vol), entries, mode='audit')
    assert str(err.value) == 'audit found 6 deviation(s) from the wanted layout:\n' + '\n'.join([
        '%s: is a symlink, want file' % (vol / 'b-link'),
        '%s: is a directory, want file' % (vol / 'c-dir'),
        '%s: mode 0644, want 0600' % (vol / 'd.jwt'),
        '%s: missing, want directory' % (vol / 'e-new'),
        '%s: missing, want directory' % (vol / 'f/g'),
        '%s: missing, want file' % (vol / 'h.creds'),
    ])
    assert err.value.details == {'deviations': deviations, 'entries': before}


def test_enforce_names_every_problem_and_changes_nothing(vol, mixed):
    entries, before, deviations = mixed
    untouched = snapshot(vol)
    with pytest.raises(VolumeLayoutError) as err:
        run_layout(str(vol), entries)
    assert str(err.value) == 'cannot enforce the layout, nothing was changed:\n' + '\n'.join([
        '%s is a symlink; a symlink could redirect the chown/chmod elsewhere, '
        'replace it with the real file or set follow: true' % (vol / 'b-link'),
        '%s is a directory, want file: remove or move it first' % (vol / 'c-dir'),
        '%s: parent folder %s does not exist, add it to entries as a directory' % (vol / 'f/g', vol / 'f'),
        '%s: required file is missing; this module never creates files, '
        'put it in place first or set required: false' % (vol / 'h.creds'),
    ])
    assert err.value.details == {'deviations': deviations, 'entries': before}
    assert snapshot(vol) == untouched


def test_nested_folders_are_created_in_one_run(vol):
    result = run_layout(str(vol), [{'path': 'a/b', 'state': 'directory', 'mode': '0750'},
                                   {'path': 'a', 'state': 'directory', 'mode': '0750'}])
    assert result['created'] == [str(vol / 'a'), str(vol / 'a/b')]
    assert meta(vol / 'a/b')[2] == 0o750


def test_a_folder_under_a_file_is_refused_before_anything_changes(vol):
    # The file exists and needs nothing, but a folder cannot be made inside it.
    untouched = snapshot(vol)
    with pytest.raises(VolumeLayoutError) as err:
        run_layout(str(vol), [{'path': 'REGION1.jwt', 'mode': '0600'}, {'path': 'SYS.jwt'},
                              {'path': 'SYS.jwt/sub', 'state': 'directory'}])
    assert str(err.value) == ('cannot enforce the layout, nothing was changed:\n'
                              '%s: parent folder %s does not exist, add it to entries as a directory'
                              % (vol / 'SYS.jwt/sub', vol / 'SYS.jwt'))
    assert snapshot(vol) == untouched


def test_the_diff_is_headed_by_the_root_or_else_by_volume_layout(vol):
    sys_jwt = vol / 'SYS.jwt'
    result = run_layout(str(vol), [{'path': 'SYS.jwt', 'mode': '0600'}], want_diff=True)
    assert result['diff'] == {'before_header': str(vol), 'after_header': str(vol),
                              'before': '%s: %s:%s 0644\n' % (sys_jwt, ME, MY_GROUP),
                              'after': '%s: %s:%s 0600\n' % (sys_jwt, ME, MY_GROUP)}
    result = run_layout(None, [{'path': str(sys_jwt), 'mode': '0640'}], want_diff=True)
    assert result['diff'] == {'before_header': 'volume layout', 'after_header': 'volume layout',
                              'before': '%s: %s:%s 0600\n' % (sys_jwt, ME, MY_GROUP),
                              'after': '%s: %s:%s 0640\n' % (sys_jwt, ME, MY_GROUP)}


def test_no_diff_unless_asked(vol):
    result = run_layout(str(vol), [{'path': 'SYS.jwt', 'mode': '0600'}])
    assert result == {'changed': True, 'unresolved': [], 'created': [],
                      'deviations': [{'path': str(vol / 'SYS.jwt'), 'field': 'mode', 'current': '0644', 'wanted': '0600'}],
                      'entries': [{'path': str(vol / 'SYS.jwt'), 'exists': True, 'state': 'file',
                                   'owner': ME, 'group': MY_GROUP, 'mode': '0600'}]}


def test_follow_reports_the_target_after_the_change(vol, tmp_path):
    outside = tmp_path / 'target'
    outside.write_text('x')
    outside.chmod(0o600)
    (vol / 'link').symlink_to(outside)
    result = run_layout(str(vol), [{'path': 'link', 'mode': '0640'}], follow=True)
    assert result['entries'] == [{'path': str(vol / 'link'), 'exists': True, 'state': 'file',
                                  'owner': ME, 'group': MY_GROUP, 'mode': '0640'}]


def test_check_mode_predicts_a_new_folder_as_private_and_owned_by_the_caller(vol):
    result = run_layout(str(vol), [{'path': 'new', 'state': 'directory'}], check_mode=True, want_diff=True)
    assert result['entries'] == [{'path': str(vol / 'new'), 'exists': True, 'state': 'directory',
                                  'owner': ME, 'group': MY_GROUP, 'mode': '0700'}]
    assert result['diff']['after'] == '%s: %s:%s 0700\n' % (vol / 'new', ME, MY_GROUP)
    assert not (vol / 'new').exists()


def test_plan_does_not_follow_symlinks_unless_asked(vol, tmp_path):
    (vol / 'link').symlink_to(vol / 'SYS.jwt')
    steps = plan(normalize_entries(str(vol), [{'path': 'link', 'mode': '0600'}]))
    assert steps[0].problem.startswith('%s is a symlink;' % (vol / 'link'))
    assert steps[0].changes is False


@pytest.mark.parametrize('root, entries, message', [
    ('/srv/v', [], 'entries is empty: list at least one path'),
    ('srv/v', [{'path': 'a'}], 'root srv/v must be an absolute path'),
    ('/srv/v', [{'state': 'file'}], 'entries[0]: path is required'),
    ('/srv/v', [{'path': 'a'}, {'path': ''}], 'entries[1]: path is required'),
    ('/srv/v', [{'path': '  '}], 'entries[0]: path is required'),
    (None, [{'path': 'x'}], 'entries[0]: path x is relative, set root or give an absolute path'),
    ('/srv/v', [{'path': '../etc'}], 'entries[0] (/srv/etc): path leaves root /srv/v, remove the ".." parts'),
    ('/srv/v', [{'path': 'a'}, {'path': 'b'}, {'path': '/srv/v/b/'}],
     'entries[2] (/srv/v/b): path is listed twice (also as entries[1]), keep one'),
    ('/srv/v', [{'path': 'a', 'state': 'link'}], "entries[0] (/srv/v/a): state must be 'file' or 'directory', got 'link'"),
    ('/srv/v', [{'path': 'a', 'owner': 'cmsgs-missing'}],
     'user cmsgs-missing does not exist: create it before setting permissions on /srv/v (entry entries[0] (/srv/v/a))'),
    ('/srv/v', [{'path': 'a', 'group': 'cmsgs-missing'}],
     'group cmsgs-missing does not exist: create it before setting permissions on /srv/v (entry entries[0] (/srv/v/a))'),
    (None, [{'path': '/srv/v/a', 'group': 'cmsgs-missing'}],
     'group cmsgs-missing does not exist: create it before setting permissions on entries[0] (/srv/v/a) '
     '(entry entries[0] (/srv/v/a))'),
])
def test_each_bad_entry_is_named_in_the_error(root, entries, message):
    with pytest.raises(VolumeLayoutError) as err:
        normalize_entries(root, entries)
    assert str(err.value) == message


def test_normalized_entries_keep_names_ids_and_defaults(tmp_path):
    entries = normalize_entries('/srv/v', [
        {'path': 'b', 'state': 'directory', 'owner': 4242, 'group': 'nogroup', 'mode': '0750', 'required': False},
        {'path': 'a'},
    ])
    assert [vars(e) for e in entries] == [
        {'path': '/srv/v/a', 'state': 'file', 'owner': None, 'group': None, 'uid': None, 'gid': None,
         'mode': None, 'required': True},
        {'path': '/srv/v/b', 'state': 'directory', 'owner': '4242', 'group': 'nogroup', 'uid': 4242, 'gid': NOGROUP,
         'mode': 0o750, 'required': False},
    ]


def test_entries_sort_by_path_components_so_parents_come_first():
    # By component, "node/a" belongs right after "node"; a plain string sort
    # would put "node-b" ('-' < '/') in between.
    entries = normalize_entries('/srv/v', [{'path': p} for p in ('nodeX', 'node-b', 'node/a', 'nodeA', 'node')])
    assert [e.path for e in entries] == ['/srv/v/node', '/srv/v/node/a', '/srv/v/node-b', '/srv/v/nodeA', '/srv/v/nodeX']
    # A trailing space is part of a name, so "b " sorts after "b".
    assert [e.path for e in normalize_entries('/srv/v', [{'path': 'b '}, {'path': 'b'}])] == ['/srv/v/b', '/srv/v/b ']


@pytest.mark.parametrize('root, path, full', [
    ('/', 'etc/nats', '/etc/nats'),
    ('/srv/volX', 'a', '/srv/volX/a'),
])
def test_paths_below_a_root_of_any_spelling_are_inside(root, path, full):
    assert [e.path for e in normalize_entries(root, [{'path': path}])] == [full]
