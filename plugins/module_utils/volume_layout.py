# -*- coding: utf-8 -*-
# Copyright (c) cmsgs.nats maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Owner, group and mode of the files and folders in a shared volume.

The volumes hold credentials and keys, so this code only ever looks at inode
metadata: it never opens a file for reading its content.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import grp
import os
import pwd
import stat

ENFORCE = 'enforce'
AUDIT = 'audit'

_KIND_NAMES = (
    (stat.S_ISDIR, 'directory'),
    (stat.S_ISREG, 'file'),
    (stat.S_ISLNK, 'symlink'),
    (stat.S_ISFIFO, 'fifo'),
    (stat.S_ISSOCK, 'socket'),
    (stat.S_ISCHR, 'character device'),
    (stat.S_ISBLK, 'block device'),
)


class VolumeLayoutError(Exception):
    """A layout that cannot be checked or enforced as given.

    details holds extra result keys (such as the deviations found) for fail_json.
    """

    def __init__(self, msg, **details):
        super(VolumeLayoutError, self).__init__(msg)
        self.details = details


class Entry:
    """One wanted path, validated and with owner/group resolved to ids."""

    def __init__(self, path, state, owner, group, uid, gid, mode, required):
        self.path = path
        self.state = state
        self.owner = owner
        self.group = group
        self.uid = uid
        self.gid = gid
        self.mode = mode
        self.required = required


def parse_mode(value, label, example=0o640):
    """The mode a quoted octal string gives; label names the option in the error.

    Every mode option of the collection is read here.
    """
    # An int here nearly always comes from unquoted YAML (0640 is read as 416),
    # so guessing what was meant would be a silent security bug.
    if isinstance(value, bool) or not isinstance(value, str):
        raise VolumeLayoutError(
            "%s: mode must be a quoted octal string such as '%04o', got %r (%s); "
            "unquoted YAML numbers like %04o arrive as the decimal %d, quote the mode"
            % (label, example, value, type(value).__name__, example, example))
    text = value.strip()
    if not 3 <= len(text) <= 4 or any(c not in '01234567' for c in text):
        raise VolumeLayoutError(
            "%s: mode %r is not an octal mode of 3 or 4 digits such as '%04o'" % (label, value, example))
    return int(text, 8)


def format_mode(mode):
    return '%04o' % mode


# Stands for a user or group that does not exist yet. Only check mode accepts
# it: there, an earlier task of the same run would have created the account.
UNRESOLVED = -2


def _lookup_id(kind, value, label, root, allow_unresolved=False):
    if isinstance(value, bool):
        raise VolumeLayoutError('%s: %s must be a name or a numeric id, got %r' % (label, kind, value))
    if isinstance(value, int):
        if value < 0:
            raise VolumeLayoutError('%s: %s id %d is negative' % (label, kind, value))
        return value
    text = str(value).strip()
    lookup = pwd.getpwnam if kind == 'user' else grp.getgrnam
    try:
        entry = lookup(text)
    except KeyError:
        if text.isdigit():
            return int(text)
        if allow_unresolved:
            return UNRESOLVED
        raise VolumeLayoutError(
            '%s %s does not exist: create it before setting permissions on %s (entry %s)'
            % (kind, text, root or label, label))
    return entry.pw_uid if kind == 'user' else entry.gr_gid


def id_name(kind, number, wanted=None):
    """The name of a uid or gid, or the number itself when it has no name."""
    if number == UNRESOLVED:
        return wanted
    try:
        if kind == 'user':
            return pwd.getpwuid(number).pw_name
        return grp.getgrgid(number).gr_name
    except KeyError:
        return str(number)


def _full_path(root, path, label):
    if not isinstance(path, str) or not path.strip():
        raise VolumeLayoutError('%s: path is required' % label)
    if os.path.isabs(path):
        full = os.path.normpath(path)
    elif root:
        full = os.path.normpath(os.path.join(root, path))
    else:
        raise VolumeLayoutError('%s: path %s is relative, set root or give an absolute path' % (label, path))
    return full


def normalize_entries(root, entries, allow_unresolved=False):
    """Validate the raw entry dicts and return Entry objects, parents first."""
    if root is not None:
        if not os.path.isabs(root):
            raise VolumeLayoutError('root %s must be an absolute path' % root)
        root = os.path.normpath(root)
    if not entries:
        raise VolumeLayoutError('entries is empty: list at least one path')
    result = []
    seen = {}
    for index, raw in enumerate(entries):
        label = 'entries[%d]' % index
        full = _full_path(root, raw.get('path'), label)
        label = '%s (%s)' % (label, full)
        if root and full != root and not full.startswith(root.rstrip('/') + '/'):
            raise VolumeLayoutError('%s: path leaves root %s, remove the ".." parts' % (label, root))
        if full in seen:
            raise VolumeLayoutError('%s: path is listed twice (also as entries[%d]), keep one' % (label, seen[full]))
        seen[full] = index
        state = raw.get('state') or 'file'
        if state not in ('file', 'directory'):
            raise VolumeLayoutError("%s: state must be 'file' or 'directory', got %r" % (label, state))
        owner, group, mode = raw.get('owner'), raw.get('group'), raw.get('mode')
        result.append(Entry(
            path=full,
            state=state,
            owner=None if owner is None else str(owner),
            group=None if group is None else str(group),
            uid=None if owner is None else _lookup_id('user', owner, label, root, allow_unresolved),
            gid=None if group is None else _lookup_id('group', group, label, root, allow_unresolved),
            mode=None if mode is None else parse_mode(mode, label),
            required=True if raw.get('required') is None else bool(raw.get('required')),
        ))
    # A parent sorts before its children, so creation can go in list order.
    result.sort(key=lambda e: e.path.rstrip('/').split('/'))
    return result


def _kind(st_mode):
    for test, name in _KIND_NAMES:
        if test(st_mode):
            return name
    return 'unknown'


def inspect(path, follow):
    """Current metadata of path (None when absent), never its content."""
    try:
        st = os.lstat(path)
        if follow and stat.S_ISLNK(st.st_mode):
            st = os.stat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            if follow and os.path.islink(path):
                raise VolumeLayoutError('%s is a symlink to a missing target, fix or remove the link' % path)
            return None
        raise VolumeLayoutError('cannot inspect %s: %s' % (path, exc.strerror))
    return {
        'kind': _kind(st.st_mode), 'uid': st.st_uid, 'gid': st.st_gid,
        'mode': stat.S_IMODE(st.st_mode), 'dev': st.st_dev, 'ino': st.st_ino,
    }


def describe(entry, current):
    """The state of one path as returned to the user."""
    if current is None:
        return {'path': entry.path, 'exists': False, 'state': None, 'owner': None, 'group': None, 'mode': None}
    return {
        'path': entry.path, 'exists': True, 'state': current['kind'],
        'owner': id_name('user', current['uid'], entry.owner), 'group': id_name('group', current['gid'], entry.group),
        'mode': format_mode(current['mode']),
    }


def _deviation(path, field, current, wanted):
    return {'path': path, 'field': field, 'current': current, 'wanted': wanted}


def format_deviation(dev):
    if dev['field'] == 'exists':
        return '%s: missing, want %s' % (dev['path'], dev['wanted'])
    if dev['field'] == 'state':
        return '%s: is a %s, want %s' % (dev['path'], dev['current'], dev['wanted'])
    return '%s: %s %s, want %s' % (dev['path'], dev['field'], dev['current'], dev['wanted'])


class Step:
    """What one entry needs: its deviations and, if fixable, how to fix them."""

    def __init__(self, entry, current):
        self.entry = entry
        self.current = current
        self.deviations = []
        self.create = False
        self.chown = False
        self.chmod = False
        self.problem = None

    @property
    def changes(self):
        return self.create or self.chown or self.chmod

    def predicted(self):
        if self.current is None and not self.create:
            return None
        after = dict(self.current or {'kind': self.entry.state, 'uid': os.geteuid(), 'gid': os.getegid(), 'mode': 0o700})
        for key, value in (('uid', self.entry.uid), ('gid', self.entry.gid), ('mode', self.entry.mode)):
            if value is not None:
                after[key] = value
        return after


def plan(entries, follow=False):
    """Compare the disk with the entries; return one Step per entry, parents first."""
    steps = []
    will_exist = set()  # folders this run creates
    for entry in entries:
        current = inspect(entry.path, follow)
        step = Step(entry, current)
        steps.append(step)
        path = entry.path
        if current is None:
            if not entry.required:
                continue
            step.deviations.append(_deviation(path, 'exists', 'absent', entry.state))
            parent = os.path.dirname(path)
            if entry.state == 'file':
                step.problem = ('%s: required file is missing; this module never creates files, '
                                'put it in place first or set required: false' % path)
            elif parent not in will_exist and not os.path.isdir(parent):
                step.problem = ('%s: parent folder %s does not exist, add it to entries as a directory'
                                % (path, parent))
            else:
                step.create = True
                will_exist.add(path)
            continue
        if current['kind'] == 'symlink':
            step.problem = ('%s is a symlink; a symlink could redirect the chown/chmod elsewhere, '
                            'replace it with the real %s or set follow: true' % (path, entry.state))
            step.deviations.append(_deviation(path, 'state', 'symlink', entry.state))
            continue
        if current['kind'] != entry.state:
            step.problem = '%s is a %s, want %s: remove or move it first' % (path, current['kind'], entry.state)
            step.deviations.append(_deviation(path, 'state', current['kind'], entry.state))
            continue
        # An existing path is not added to will_exist: os.path.isdir above
        # already finds an existing folder, and a file must stay no parent.
        if entry.uid is not None and entry.uid != current['uid']:
            step.chown = True
            step.deviations.append(_deviation(path, 'owner', id_name('user', current['uid']), entry.owner))
        if entry.gid is not None and entry.gid != current['gid']:
            step.chown = True
            step.deviations.append(_deviation(path, 'group', id_name('group', current['gid']), entry.group))
        if entry.mode is not None and entry.mode != current['mode']:
            step.chmod = True
            step.deviations.append(_deviation(path, 'mode', format_mode(current['mode']), format_mode(entry.mode)))
    return steps


def _apply_step(step, follow):
    entry = step.entry
    if step.create:
        # Private until owner and mode are set, so nobody can slip a file in meanwhile.
        os.mkdir(entry.path, 0o700)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)
    if not follow:
        flags |= os.O_NOFOLLOW
    # Working on a descriptor pins the inode that was inspected: a path swapped
    # for a symlink in between cannot redirect the change. Opening reads nothing.
    fd = os.open(entry.path, flags)
    try:
        st = os.fstat(fd)
        if not step.create and (st.st_dev, st.st_ino) != (step.current['dev'], step.current['ino']):
            raise VolumeLayoutError('%s was replaced while being checked, run again' % entry.path)
        if step.create or step.chown:
            os.fchown(fd, -1 if entry.uid is None else entry.uid, -1 if entry.gid is None else entry.gid)
        # chown clears setuid/setgid of files, so the mode is checked again after it.
        mode = entry.mode
        if mode is None:
            mode = 0o700 if step.create else step.current['mode']
        if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


def apply(steps, follow=False):
    """Carry out the planned creations and fixes, in plan order (parents first)."""
    for step in steps:
        if not step.changes:
            continue
        try:
            _apply_step(step, follow)
        except OSError as exc:
            raise VolumeLayoutError('cannot set permissions on %s: %s (does the task run with become: true?)'
                                    % (step.entry.path, exc.strerror))


def diff_line(entry, current):
    if current is None:
        return '%s: absent' % entry.path
    return '%s: %s:%s %s' % (entry.path, id_name('user', current['uid'], entry.owner),
                             id_name('group', current['gid'], entry.group), format_mode(current['mode']))


def run_layout(root, entries, mode=ENFORCE, follow=False, check_mode=False, want_diff=False):
    """Audit or enforce a layout; return the module result, or raise VolumeLayoutError."""
    normalized = normalize_entries(root, entries, allow_unresolved=check_mode and mode == ENFORCE)
    steps = plan(normalized, follow)
    deviations = [dev for step in steps for dev in step.deviations]
    before = [describe(step.entry, step.current) for step in steps]
    if mode == AUDIT:
        if deviations:
            raise VolumeLayoutError(
                'audit found %d deviation(s) from the wanted layout:\n%s'
                % (len(deviations), '\n'.join(format_deviation(dev) for dev in deviations)),
                deviations=deviations, entries=before)
        return {'changed': False, 'deviations': [], 'created': [], 'entries': before}

    problems = [step.problem for step in steps if step.problem]
    if problems:
        raise VolumeLayoutError('cannot enforce the layout, nothing was changed:\n%s' % '\n'.join(problems),
                                deviations=deviations, entries=before)
    changed = any(step.changes for step in steps)
    if changed and not check_mode:
        apply(steps, follow)
        after = [inspect(step.entry.path, follow) for step in steps]
    else:
        after = [step.predicted() for step in steps]
    result = {
        'changed': changed,
        'unresolved': sorted(set(
            [e.owner for e in normalized if e.uid == UNRESOLVED] + [e.group for e in normalized if e.gid == UNRESOLVED])),
        'deviations': deviations,
        'created': [step.entry.path for step in steps if step.create],
        'entries': [describe(step.entry, state) for step, state in zip(steps, after)],
    }
    if want_diff:
        result['diff'] = {
            'before_header': root or 'volume layout', 'after_header': root or 'volume layout',
            'before': ''.join(diff_line(step.entry, step.current) + '\n' for step in steps),
            'after': ''.join(diff_line(step.entry, state) + '\n' for step, state in zip(steps, after)),
        }
    return result
