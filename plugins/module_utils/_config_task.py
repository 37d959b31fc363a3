# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The config file tasks: plan, apply and diff a merge of managed keys (zoho_thrive_config), read them (zoho_thrive_config_info).

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: targets (and the controller). Standard library only (tests/unit/plugins/test_boundary.py checks it).

The formats themselves (parsing, merging byte-faithfully, refusing what cannot be edited safely)
are in ``_config_file.py``; opening the path without trusting its directories is in ``_fileio.py``.
This file decides what a task does with them. Only the modules' ``main()`` talks to Ansible.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
import typing as t

from ansible_collections.zohothrive.oauth.plugins.module_utils._config_file import (
    ConfigFileError,
    check_keys,
    check_values,
    fingerprint,
    lock_name,
    merge,
    parse_mode,
    parse_values,
    read_file,
    resolve_gid,
    resolve_uid,
    set_attributes,
    write_backup,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._fileio import (
    Location,
    MissingDirectoryError,
    atomic_write_at,
    check_lock_file,
    exclusive_lock,
    lock_file_present,
    open_location,
)

LOCK_TIMEOUT = 120.0
LINK_HINT = "Point `path` at the real file, or set `follow` to true if the link and its directories are trusted."


class Plan(t.NamedTuple):
    before: str | None  # None: the file does not exist
    after: str
    changed_keys: list[str]
    current: dict[str, str | None]
    attributes: dict[str, tuple[str, str]]  # mode/owner/group that differ: (now, wanted)
    uid: int  # for the replacement file; -1 leaves it to the system
    gid: int
    stat: os.stat_result | None = None  # fstat of the file that was read, None if there was none
    warnings: tuple[str, ...] = ()  # from the merge, for the operator
    line_endings: tuple[str, str] | None = None  # (before, after) when the merge converts them

    @property
    def changed(self) -> bool:
        return self.before != self.after or bool(self.attributes)


def make_plan(location: Location, params: t.Mapping[str, t.Any], mode: int, uid: int, gid: int) -> Plan:
    fmt, section, path = params["format"], params["ini_section"], location.path
    before, st = read_file(location)  # opened without following links; st is the descriptor's fstat
    merged = merge(before, fmt, params["values"], section=section, path=path)
    current = parse_values(before, fmt, params["values"], section=section, path=path)
    attributes: dict[str, tuple[str, str]] = {}
    if st is not None:
        if stat.S_IMODE(st.st_mode) != mode:
            attributes["mode"] = (f"{stat.S_IMODE(st.st_mode):04o}", f"{mode:04o}")
        if uid not in (-1, st.st_uid):
            attributes["owner"] = (_user(st.st_uid), _user(uid))
        if gid not in (-1, st.st_gid):
            attributes["group"] = (_group(st.st_gid), _group(gid))
        # A replacement keeps the existing owner and group unless others are asked for.
        uid = st.st_uid if uid == -1 and st.st_uid != os.geteuid() else uid
        gid = st.st_gid if gid == -1 else gid
    return Plan(before, merged.text, merged.changed_keys, current, attributes, uid, gid, st, merged.warnings, merged.line_endings)


def apply_plan(location: Location, plan: Plan, mode: int, *, backup: bool) -> str | None:
    """Write the planned change; return the backup file, if one was made.

    Everything happens relative to the open directory: the backup and the temporary file are
    created with O_EXCL | O_NOFOLLOW, and owner and mode are set through file descriptors.
    """
    backup_file = None
    if plan.before != plan.after:
        if backup and plan.before is not None:
            backup_file = write_backup(location, plan.before.encode("utf-8"))
        atomic_write_at(location.dir_fd, location.name, plan.after.encode("utf-8"), mode=mode, uid=plan.uid, gid=plan.gid, shown=location.path)
        return backup_file
    if plan.attributes and plan.stat is not None:
        set_attributes(
            location,
            plan.stat,
            mode=mode,
            uid=plan.uid if "owner" in plan.attributes else -1,
            gid=plan.gid if "group" in plan.attributes else -1,
        )
    return None


def diff(plan: Plan, values: dict[str, t.Any]) -> dict[str, str]:
    """Key names and states only: never a value, never a fingerprint."""
    before = ["(file): absent\n"] if plan.before is None else []
    after = ["(file): created\n"] if plan.before is None else []
    attributes = dict(plan.attributes)
    if plan.line_endings:
        attributes["line endings"] = plan.line_endings
    for name, (now, wanted) in attributes.items():
        before.append(f"(file {name}): {now}\n")
        after.append(f"(file {name}): {wanted}\n")
    for key in values:
        was_set = plan.current.get(key) is not None
        before.append(f"{key}: {'set' if was_set else 'absent'}\n")
        state = "unchanged" if key not in plan.changed_keys else "changed" if was_set else "added"
        after.append(f"{key}: {state}\n")
    return {"before": "".join(before), "after": "".join(after)}


def locate(params: t.Mapping[str, t.Any], uid: int) -> Location:
    """Open the directory of ``path`` safely (see _fileio.open_location): links and untrusted directories are refused.

    Trusted owners of directories: root, the user running the module and the file's owner.
    Raises MissingDirectoryError when a directory on the way does not exist.
    """
    return open_location(params["path"], follow=params["follow"], trusted_uids=[uid], link_hint=LINK_HINT)


# What check mode merges for a key of `pending` (see that option): never written, never returned.
PENDING_PLACEHOLDER = "zoho-thrive-check-mode-pending-value"


def write_config(params: t.Mapping[str, t.Any], path: str, *, check_mode: bool, diff_mode: bool, warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    """Merge ``params["values"]`` into the config file at ``path``; the result of zoho_thrive_config (see its RETURN).

    ``params`` holds the options of zoho_thrive_config (``format``, ``ini_section``, ``values``,
    ``pending``, ``mode``, ``owner``, ``group``, ``backup``, ``follow``). In check mode nothing is
    written and the result predicts the real run's. Raises :class:`ConfigFileError` or
    ``FileIOError`` with the operator's message (options named between backticks); nothing has
    been written then.
    """
    pending = check_keys(params["pending"] or [], params["format"], path=path, option="pending")
    if pending and not check_mode:
        raise ConfigFileError(
            f"`pending` names keys without a value ({', '.join(pending)}); it is for check mode only. A real run needs every value in `values`."
        )
    both = [key for key in pending if key in (params["values"] or {})]
    if both:
        raise ConfigFileError(f"The keys {', '.join(both)} are both in `values` and in `pending`; give each key in one of them.")
    values = dict(check_values(params["values"], params["format"], path=path)) if params["values"] or not pending else {}
    values.update((key, PENDING_PLACEHOLDER) for key in pending)
    values = check_values(values, params["format"], path=path)
    mode = parse_mode(params["mode"])
    if mode & 0o007:
        warn(f"`mode` {mode:04o} lets every user of the host access {path}, which holds secrets.")
    uid, gid = resolve_uid(params["owner"]), resolve_gid(params["group"])
    try:
        location: Location | None = locate(params, uid)
    except MissingDirectoryError as exc:
        if not check_mode:
            raise ConfigFileError(
                f"Cannot create {path}: the directory {exc.directory} does not exist. Create it first, for example with ansible.builtin.file "
                "and state=directory."
            ) from None
        warn(f"The directory {exc.directory} does not exist; a real run fails unless an earlier task creates it.")
        location = None
    with contextlib.ExitStack() as stack:
        if location is None:
            plan = Plan(None, "", list(values), dict.fromkeys(values), {}, uid, gid)
        else:
            stack.enter_context(location)
            path = location.path
            plan = make_plan(location, dict(params, values=values), mode, uid, gid)
        backup_file = None
        lock = lock_name(location.name) if location is not None else ""
        shown = os.path.join(location.directory, lock) if location is not None else ""
        if check_mode and location is not None and plan.changed:
            check_lock_file(lock, dir_fd=location.dir_fd, shown=shown)  # the refusal a real run would meet
        # A lock file left by an earlier version is taken (and so removed) even when nothing changes.
        if not check_mode and location is not None and (plan.changed or lock_file_present(lock, dir_fd=location.dir_fd)):
            with exclusive_lock(lock, timeout=LOCK_TIMEOUT, dir_fd=location.dir_fd, shown=shown, remove=True):
                plan = make_plan(location, dict(params, values=values), mode, uid, gid)  # another writer may have been first
                backup_file = apply_plan(location, plan, mode, backup=params["backup"])
    for warning in plan.warnings:
        warn(warning)
    now_in_file = plan.current if check_mode else {key: str(value) for key, value in values.items()}
    result: dict[str, t.Any] = {
        "changed": plan.changed,
        "changed_keys": plan.changed_keys,
        "created": plan.before is None,
        "fingerprints": {key: fingerprint(value) for key, value in now_in_file.items()},
    }
    if backup_file:
        result["backup_file"] = backup_file
    if diff_mode:
        result["diff"] = dict(diff(plan, values), before_header=path, after_header=path)
    return result


def read_config(params: t.Mapping[str, t.Any], path: str, *, keys_option: str = "keys", aliases_option: str = "aliases") -> dict[str, t.Any]:
    """The current values of some keys of the config file at ``path``; the result of zoho_thrive_config_info (see its RETURN).

    ``params`` holds ``format``, ``ini_section``, ``follow``, ``owner`` and the key names under
    ``keys_option`` (and the names to return them under, under ``aliases_option``; messages name
    those options). Changes nothing. A missing file or directory reads as a file without the keys.
    Raises :class:`ConfigFileError` or ``FileIOError`` with the operator's message.
    """
    keys = check_keys(params[keys_option], params["format"], path=path, option=keys_option)
    aliases = params.get(aliases_option) or keys
    if len(aliases) != len(keys) or len(set(aliases)) != len(aliases):
        raise ConfigFileError(f"`{aliases_option}` must name each of the {len(keys)} `{keys_option}` once, in the same order.")
    try:
        with locate(params, resolve_uid(params["owner"])) as location:
            path = location.path
            text = read_file(location)[0]
    except MissingDirectoryError:
        text = None
    values = parse_values(text, params["format"], keys, section=params["ini_section"], path=path, option=keys_option)
    named = {alias: values[key] for alias, key in zip(aliases, keys)}
    return {
        "changed": False,
        "exists": text is not None,
        "current_values": named,
        "fingerprints": {alias: fingerprint(value) for alias, value in named.items()},
    }


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


__all__ = ("LOCK_TIMEOUT", "PENDING_PLACEHOLDER", "Plan", "apply_plan", "diff", "locate", "make_plan", "read_config", "write_config")
