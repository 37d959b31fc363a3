#!/usr/bin/python
# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: zoho_thrive_config
short_description: Write Zoho OAuth tokens into an application config file
version_added: 0.1.0
description:
  - Sets managed keys, for example C(refresh_token) and C(access_token), in a JSON, YAML, ini or env file on the target
    host, and leaves everything else in the file as it was.
  - Only the managed keys change. Unrelated keys, sections, comments and their order stay byte-identical, except that a
    JSON file is re-serialised with two-space indentation when a value changes. Missing keys are appended.
  - The file is replaced atomically (a temporary file of mode 0600 in the same directory, flushed to disk and renamed
    over the old one), so readers see the old or the new file, never a mix, and the file is never more readable than
    O(mode). A file that already holds the values is not touched.
  - A file that cannot be parsed is never rewritten; the task fails and names the file.
  - With O(state=read) the module reads the current values of O(read_keys) instead, for example to decide whether new
    tokens are needed.
  - Runs on the target host with nothing but Python's standard library, except for O(format=yaml).
author:
  - Zoho Thrive OAuth maintainers (@zohothrive)
extends_documentation_fragment:
  - zohothrive.oauth.attributes
attributes:
  check_mode:
    support: full
    details:
      - The values given are compared as they are, so a task may pass placeholder values in check mode.
  diff_mode:
    support: full
    details:
      - The diff lists the managed key names and whether each is added, changed or unchanged, plus the file's mode, owner
        and group. It never contains a value or a fingerprint of one.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  path:
    description:
      - The config file. A symbolic link is followed and the file it points to is updated.
      - Its directory must exist.
    type: path
    required: true
  format:
    description:
      - How the file is read and written.
      - V(json) needs a top-level object; an empty or missing file becomes a new object.
      - V(yaml) needs a top-level mapping in block style. The managed keys must be top-level keys with scalar values;
        their lines are edited in place and the values written as double-quoted strings (integers plain). The result
        is parsed again and the task fails, writing nothing, if anything but the managed keys would change. Needs
        PyYAML on the target.
      - V(ini) edits the options of the section O(ini_section), creating the section at the end if it is missing. The
        file must be readable by Python's C(configparser) (no duplicate sections or options, no option outside a
        section). Option names ignore case. Values are written as C(key = value), without interpolation.
      - V(env) writes C(KEY=value) lines (an existing C(export KEY=value) keeps its C(export)). Values are written so
        that both C(sh) (C(. file)) and systemd's C(EnvironmentFile=) read them unchanged, unquoted when they contain
        only letters, digits and C(_./:@%+,=-), otherwise in single quotes. A key set several times is updated
        everywhere.
    type: str
    choices: [json, yaml, ini, env]
    default: json
  ini_section:
    description:
      - The section of the managed keys when O(format=ini).
    type: str
    default: zoho_thrive
  state:
    description:
      - V(present) writes O(values) into the file.
      - V(read) changes nothing and returns the current values of O(read_keys) in RV(current_values). Those are
        secrets, so set C(no_log) on the task.
    type: str
    choices: [present, read]
    default: present
  values:
    description:
      - Managed key names and the values to write, strings or integers. Required with O(state=present).
      - Every value is treated as a secret and masked in all output of the task, so do not manage short values such
        as port numbers with this module.
      - With O(format=ini) a value must not contain a line break or start or end with whitespace. With O(format=env)
        it must not contain a single quote, a backslash, a line break or another control character. Key names must
        suit the format, for example C([A-Za-z_][A-Za-z0-9_]*) for V(env).
    type: dict
  read_keys:
    description:
      - Key names whose current values O(state=read) returns. Required with O(state=read).
    type: list
    elements: str
  read_aliases:
    description:
      - Names to return the values of O(read_keys) under in RV(current_values), in the same order, for example the
        logical names C(refresh_token) and C(access_token) for the keys C(ZOHO_THRIVE_REFRESH_TOKEN) and
        C(ZOHO_THRIVE_ACCESS_TOKEN) of an env file. Defaults to O(read_keys) themselves.
    type: list
    elements: str
  mode:
    description:
      - Permissions of the file, as an octal string such as V('0640') (quote it in YAML) or an integer.
      - Applied to new and existing files, like O(ansible.builtin.file#module:mode).
      - The default keeps the tokens readable by the file's owner only. Give the application's group read access
        with O(group) and V('0640') rather than making the file world-readable, which triggers a warning.
    type: raw
    default: '0600'
  owner:
    description:
      - Name or numeric id of the user that should own the file.
      - If not set, a new file belongs to the user running the module and an existing file keeps its owner.
    type: str
  group:
    description:
      - Name or numeric id of the group of the file.
      - If not set, a new file gets the default group and an existing file keeps its group.
    type: str
  backup:
    description:
      - Before replacing the file, keep a copy of the old one as C(<path>.<YYYYmmddTHHMMSS>.bak) (UTC time), mode
        0600. Only the 3 newest backups of the file are kept; older ones are deleted.
      - Backups hold old tokens, so they are off by default.
    type: bool
    default: false
requirements:
  - PyYAML on the target host, only for O(format=yaml) (the C(python3-yaml) package on most distributions).
notes:
  - Writers of one file take turns through a lock file C(.<name>.lock) next to it, which is left in place.
  - Replacing an existing file keeps its owner and group unless O(owner) or O(group) say otherwise; that needs root
    when they differ from the user running the module. The new file gets the default SELinux context of its directory.
  - Inline comments on the line of a managed key in a YAML file are dropped when the value changes.
seealso:
  - module: zohothrive.oauth.zoho_thrive_refresh
  - module: zohothrive.oauth.zoho_thrive_token_exchange
"""

EXAMPLES = r"""
- name: Write the tokens into the application's JSON config
  zohothrive.oauth.zoho_thrive_config:
    path: /etc/myapp/zoho.json
    values:
      refresh_token: "{{ zoho_refresh_token }}"
      access_token: "{{ zoho_access_token }}"
    owner: root
    group: myapp
    mode: "0640"
  no_log: true

- name: Write the tokens into a systemd EnvironmentFile and keep a backup
  zohothrive.oauth.zoho_thrive_config:
    path: /etc/default/myapp
    format: env
    values:
      ZOHO_REFRESH_TOKEN: "{{ zoho_refresh_token }}"
    backup: true
  no_log: true

- name: Write into the [zoho] section of an ini file
  zohothrive.oauth.zoho_thrive_config:
    path: /etc/myapp/myapp.ini
    format: ini
    ini_section: zoho
    values:
      refresh_token: "{{ zoho_refresh_token }}"
  no_log: true

- name: Read the refresh token currently configured
  zohothrive.oauth.zoho_thrive_config:
    path: /etc/myapp/settings.yml
    format: yaml
    state: read
    read_keys: [refresh_token]
  register: current
  no_log: true
"""

RETURN = r"""
changed_keys:
  description: Managed keys that were added or rewritten (or would be, in check mode).
  returned: O(state=present)
  type: list
  elements: str
  sample: [access_token]
fingerprints:
  description:
    - SHA-256 hex digest of each managed key's value now in the file; V(null) for a key the file does not hold.
    - In check mode the values before the (predicted) change.
    - Digests of random tokens are not secret. They let a play compare values without reading them.
  returned: always
  type: dict
  sample: {refresh_token: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
created:
  description: Whether the file was created (or would be, in check mode).
  returned: O(state=present)
  type: bool
backup_file:
  description: The backup of the previous file.
  returned: when O(backup=true) and the file was replaced
  type: str
  sample: /etc/myapp/zoho.json.20260115T093000.bak
exists:
  description: Whether the file exists.
  returned: O(state=read)
  type: bool
current_values:
  description:
    - The current value of each of O(read_keys) as a string, V(null) when the file does not hold it, keyed by the key
      name or its O(read_aliases) entry. Secret.
    - Named so because C(values) cannot be reached with dot notation in Jinja.
  returned: O(state=read)
  type: dict
  sample: {refresh_token: "1000.xxxx.yyyy"}
"""

import grp
import os
import pwd
import stat
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zohothrive.oauth.plugins.module_utils._config_file import (
    FORMATS,
    ConfigFileError,
    check_keys,
    check_values,
    file_stat,
    fingerprint,
    lock_path,
    merge,
    parse_mode,
    parse_values,
    read_text,
    resolve_gid,
    resolve_uid,
    write_backup,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._fileio import FileIOError, atomic_write, exclusive_lock

LOCK_TIMEOUT = 120.0


class Plan(t.NamedTuple):
    before: str | None  # None: the file does not exist
    after: str
    changed_keys: list[str]
    current: dict[str, str | None]
    attributes: dict[str, tuple[str, str]]  # mode/owner/group that differ: (now, wanted)
    uid: int  # for the replacement file; -1 leaves it to the system
    gid: int

    @property
    def changed(self) -> bool:
        return self.before != self.after or bool(self.attributes)


def make_plan(path: str, params: dict[str, t.Any], mode: int, uid: int, gid: int) -> Plan:
    fmt, section = params["format"], params["ini_section"]
    st = file_stat(path)
    before = read_text(path) if st is not None else None
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
    return Plan(before, merged.text, merged.changed_keys, current, attributes, uid, gid)


def apply_plan(path: str, plan: Plan, mode: int, *, backup: bool) -> str | None:
    """Write the planned change; return the backup file, if one was made."""
    backup_file = None
    if plan.before != plan.after:
        if backup and plan.before is not None:
            backup_file = write_backup(path, plan.before.encode("utf-8"))
        atomic_write(path, plan.after.encode("utf-8"), mode=mode, uid=plan.uid, gid=plan.gid)
        return backup_file
    try:
        if "owner" in plan.attributes or "group" in plan.attributes:
            os.chown(path, plan.uid if "owner" in plan.attributes else -1, plan.gid if "group" in plan.attributes else -1)
        if "mode" in plan.attributes:
            os.chmod(path, mode)
    except OSError as exc:
        raise ConfigFileError(f"Cannot set the mode, owner or group of {path}: {exc.strerror or exc}.") from None
    return None


def diff(plan: Plan, values: dict[str, t.Any]) -> dict[str, str]:
    """Key names and states only: never a value, never a fingerprint."""
    before = ["(file): absent\n"] if plan.before is None else []
    after = ["(file): created\n"] if plan.before is None else []
    for name, (now, wanted) in plan.attributes.items():
        before.append(f"(file {name}): {now}\n")
        after.append(f"(file {name}): {wanted}\n")
    for key in values:
        was_set = plan.current.get(key) is not None
        before.append(f"{key}: {'set' if was_set else 'absent'}\n")
        state = "unchanged" if key not in plan.changed_keys else "changed" if was_set else "added"
        after.append(f"{key}: {state}\n")
    return {"before": "".join(before), "after": "".join(after)}


def present(module: AnsibleModule, path: str) -> dict[str, t.Any]:
    params = module.params
    values = check_values(params["values"] or {}, params["format"], path=path)
    mode = parse_mode(params["mode"])
    if mode & 0o007:
        module.warn(f"mode {mode:04o} lets every user of the host access {path}, which holds secrets.")
    uid, gid = resolve_uid(params["owner"]), resolve_gid(params["group"])
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        if not module.check_mode:
            raise ConfigFileError(
                f"Cannot create {path}: the directory {directory} does not exist. Create it first, for example with ansible.builtin.file "
                "and state=directory."
            )
        module.warn(f"The directory {directory} does not exist; a real run fails unless an earlier task creates it.")
        plan = Plan(None, "", list(values), dict.fromkeys(values), {}, uid, gid)
    else:
        plan = make_plan(path, dict(params, values=values), mode, uid, gid)
    backup_file = None
    if plan.changed and not module.check_mode:
        with exclusive_lock(lock_path(path), timeout=LOCK_TIMEOUT):
            plan = make_plan(path, dict(params, values=values), mode, uid, gid)  # another writer may have been first
            backup_file = apply_plan(path, plan, mode, backup=params["backup"])
    now_in_file = plan.current if module.check_mode else {key: str(value) for key, value in values.items()}
    result: dict[str, t.Any] = {
        "changed": plan.changed,
        "changed_keys": plan.changed_keys,
        "created": plan.before is None,
        "fingerprints": {key: fingerprint(value) for key, value in now_in_file.items()},
    }
    if backup_file:
        result["backup_file"] = backup_file
    if module._diff:
        result["diff"] = dict(diff(plan, values), before_header=path, after_header=path)
    return result


def read(module: AnsibleModule, path: str) -> dict[str, t.Any]:
    params = module.params
    keys = check_keys(params["read_keys"], params["format"], path=path)
    aliases = params["read_aliases"] or keys
    if len(aliases) != len(keys) or len(set(aliases)) != len(aliases):
        raise ConfigFileError(f"read_aliases must name each of the {len(keys)} read_keys once, in the same order.")
    text = read_text(path)
    values = parse_values(text, params["format"], keys, section=params["ini_section"], path=path)
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


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "format": {"type": "str", "choices": list(FORMATS), "default": "json"},
            "ini_section": {"type": "str", "default": "zoho_thrive"},
            "state": {"type": "str", "choices": ["present", "read"], "default": "present"},
            "values": {"type": "dict", "no_log": True},
            "read_keys": {"type": "list", "elements": "str", "no_log": False},
            "read_aliases": {"type": "list", "elements": "str"},
            "mode": {"type": "raw", "default": "0600"},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "backup": {"type": "bool", "default": False},
        },
        required_if=[("state", "present", ["values"]), ("state", "read", ["read_keys"])],
        supports_check_mode=True,
    )
    path = os.path.realpath(module.params["path"])
    try:
        result = present(module, path) if module.params["state"] == "present" else read(module, path)
    except (ConfigFileError, FileIOError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
