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
  - Only the managed keys change, in every format. Every byte that is not a managed entry stays exactly as it was, that is
    unrelated keys, sections, comments, their order, blank lines, indentation, non-ASCII text, a UTF-8 byte-order mark and
    a missing final line break. A written entry follows the file's own conventions (line endings, indentation, separator,
    quoting). Missing keys are added where the format puts them. See O(format) for what each format does and refuses.
  - Values are compared as the program that reads the file reads them (C(json.loads), C(yaml.safe_load), Python's
    C(configparser), and for env files both C(sh) and systemd's C(EnvironmentFile=)), so a value that the application
    would read differently, for example with a trailing carriage return, counts as different and is repaired.
  - The file is replaced atomically (a temporary file of mode 0600 in the same directory, flushed to disk and renamed
    over the old one), so readers see the old or the new file, never a mix, and the file is never more readable than
    O(mode). A file that already holds the values is not touched.
  - A file that cannot be parsed, or that the module cannot edit without changing something else, is never rewritten;
    the task fails, naming the file, the exact cause (for example a line that mixes line endings) and the fix.
  - To read the current values, use M(zohothrive.oauth.zoho_thrive_config_info) (O(state=read) is deprecated).
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
  idempotent:
    support: full
    details:
      - A file that already holds the values, mode, owner and group is not touched.
options:
  path:
    description:
      - The config file. Its directory must exist.
      - A symbolic link as the file itself is not followed unless O(follow=true); the task fails and names the link.
        Links to directories on the way are followed.
      - Every directory on the way must belong to root, to the user running the module or to O(owner), and must not
        be writable by its group or by all users unless it has the sticky bit (like C(/tmp)); otherwise the task
        fails, because whoever can write there could redirect the write to another file. See the notes.
    type: path
    required: true
  follow:
    description:
      - Whether a symbolic link given as O(path) is followed, as in O(ansible.builtin.file#module:follow). The file it
        points to is then read and replaced, and the link is kept.
      - Even then the link is refused if it belongs to a user other than root and points at something that user does
        not own, or if a directory on the way, of the link or of the file it points to, is not trusted (see O(path)).
    type: bool
    default: false
  format:
    description:
      - How the file is read and written.
      - V(json) needs a top-level object; an empty, whitespace-only or missing file becomes a new object. Only the value
        of a managed top-level member is replaced (members of nested objects are never touched); new members follow the
        last member with its indentation and separators. Line endings are whitespace to JSON and stay as they are.
      - V(yaml) needs one document with a top-level mapping in block style (document markers C(---) and C(...), and
        directives, are fine). A managed key's value is replaced in place; a one-line value keeps its quoting style
        (plain, single or double quotes) when that style holds the new value exactly, else it is double-quoted
        (integers plain), and a trailing comment on its line stays. A value over several lines (a block scalar or a
        collection) becomes one line. New keys go after the last entry, before an end marker C(...). The result is
        parsed again and the task fails, writing nothing, if anything but the managed keys would change. A tab where
        PyYAML does not allow one (in indentation, or as the blank before a value or a comment) is refused, naming its line
        and column. Needs PyYAML on the target.
      - V(ini) edits the options of the section O(ini_section), creating the section at the end if it is missing. The
        file is read as Python's C(configparser) reads it (no interpolation; C(;) and C(#) start a comment only at the
        start of a line, so text after a value is part of it). It must have no duplicate sections or options and no option
        outside a section. Section names are case-sensitive, option names are not. A managed option keeps its spelling,
        indentation and separator (C(key = value), C(key=value), a colon instead of C(=), tabs); new options copy the section's
        last option. A multi-line value becomes one line; comment lines among its lines stay.
      - V(env) writes C(KEY=value) lines. Values are written so that both C(sh) (C(. file), C(set -a; . file); dash and
        bash) and systemd's C(EnvironmentFile=) (before and since version 254) read them unchanged, in the quoting the line
        had when that is exact, otherwise unquoted when they contain only letters, digits and C(_./:@%+,=-), else in single
        quotes. A managed line that they read differently (a trailing C(# comment), C($) or C(~), a carriage return) is
        rewritten, and its trailing comment goes with the old value. A key set several times is updated everywhere.
      - In an V(env) file a managed C(export KEY=value) line loses its C(export) when it is written, because systemd's
        C(EnvironmentFile=) ignores such a line (it logs C(invalid variable name "export KEY")). C(set -a; . file) and
        C(EnvironmentFile=) export every variable of the file anyway; a script that sources the file without C(set -a) and
        needs the variable in its child processes must export it itself. C(export) lines of other keys stay as they are.
      - A managed V(env) line right after a comment that ends with a backslash gets a blank line before it, and new keys
        never directly follow such a comment, because systemd before version 254 (Debian 12, RHEL 9) reads the line after
        it as part of the comment. A CRLF file in which the conversion to LF would make such a comment hide another key is
        refused, naming the comment's line.
      - Every line of an V(env) file must be blank, a comment or one C(KEY=value) assignment that C(sh) and systemd both
        read on that line alone; otherwise the task fails, naming the line and the cause. That refuses a line that C(sh) runs
        as a command (an operator such as C(;), C(&&) or C(|), several words or assignments, a blank before or after C(=),
        C(export) without one C(KEY=value)), a line that goes on over the next one for C(sh) or for systemd (an unclosed
        quote, a backslash at the end, also after a C(# comment) that only C(sh) sees as one), a command substitution,
        backquotes, arithmetic expansion, a parameter expansion that assigns (C(${KEY:=...})) or stops C(sh)
        (C(${KEY:?...})), C($'...') quoting and a NUL character. Such a line can hide a managed line from one of the
        two or override it, and the module cannot rewrite it without changing what it means.
      - Line endings. V(json) keeps any. V(yaml) and V(ini) keep LF or CRLF and write new lines the same way; a file
        that mixes CRLF and LF, or holds a lone carriage return, is refused when it has to be edited, naming the line
        (convert it with C(dos2unix) or C(unix2dos)). V(env) files are converted from CRLF to LF, with a warning, because C(sh)
        reads the carriage return as part of every value and systemd does not, so such a file never gave the
        application the values it shows. A lone carriage return in an env file is refused.
      - A UTF-8 byte-order mark is kept in V(json), V(yaml) and V(ini) files (and ignored when reading them, as
        programs that can read such files do); an V(env) file that starts with one is refused, because C(sh) and
        systemd read it as part of the first line. Files must be UTF-8.
      - Empty (0 bytes) and whitespace-only files are treated as files without entries. Appended entries always end with
        a line break, also in a file that had none at its end.
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
        secrets, so set C(no_log) on the task. Deprecated (to be removed in 2.0.0); use
        M(zohothrive.oauth.zoho_thrive_config_info), which returns the same.
    type: str
    choices: [present, read]
    default: present
  values:
    description:
      - Managed key names and the values to write, strings or integers. Required with O(state=present) (it may be
        empty in check mode when O(pending) names keys).
      - Every value is treated as a secret and masked in all output of the task, so do not manage short values such
        as port numbers with this module.
      - With O(format=ini) a value must not contain a line break or start or end with whitespace. With O(format=env)
        it must not contain a single quote, a backslash, a line break or another control character. Key names must
        suit the format, for example C([A-Za-z_][A-Za-z0-9_]*) for V(env).
    type: dict
  pending:
    description:
      - Managed keys that a real run will give a value that is not known yet, for check mode. For example the role
        C(zohothrive.oauth.thrive_tokens) cannot know in check mode the tokens that a real run would mint, so it names
        their keys here instead of passing a placeholder value.
      - The module predicts everything for them as for a new value (C(changed), RV(changed_keys), the diff, and a
        refusal a real run would meet) and never writes or returns a value for them. RV(fingerprints) shows their
        current values.
      - Only with check mode; a real run with O(pending) fails, since it has nothing to write for them. A key may not be
        both in O(values) and in O(pending).
    type: list
    elements: str
    default: []
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
      - Permissions of the file, as an octal string such as V('0640') or V('640') (quote it in YAML; a string is always
        read as octal), or an integer.
      - An integer whose decimal digits read like an octal mode, such as the V(640) that an unquoted C(640) in YAML
        gives, is refused, because the number 640 is the mode C(01200). Quote the mode instead. Integers that mean the same
        either way (V(0) to V(7)) and integers with an 8 or a 9 among their digits are taken as the number they are (an
        unquoted C(0600) arrives as 384, which is C(0600)); an unquoted C(0640) arrives as 416 and is refused like
        V(640). Symbolic modes (C(u=rw)) are not supported.
      - Applied to new and existing files, like O(ansible.builtin.file#module:mode).
      - The default keeps the tokens readable by the file's owner only. Give the application's group read access
        with O(group) and V('0640') rather than making the file world-readable, which triggers a warning.
    type: raw
    default: '0600'
  owner:
    description:
      - Name or numeric id of the user that should own the file.
      - If not set, a new file belongs to the user running the module and an existing file keeps its owner.
      - Directories of this user on the way to the file are trusted (see O(path)); with O(state=read) that is all it
        does.
    type: str
  group:
    description:
      - Name or numeric id of the group of the file.
      - If not set, a new file gets the default group and an existing file keeps its group.
    type: str
  option_labels:
    description:
      - How messages and warnings name this module's options, for roles that expose them under other names; maps option
        name to label.
      - For example, with V(thrive_tokens_config_mode) as the label of V(mode), a failure names C(`thrive_tokens_config_mode`)
        instead of C(`mode`).
    type: dict
    default: {}
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
  - Writers of one file take turns through a lock file C(.<name>.lock) next to it, which exists only while a run writes
    the file; no lock file is left behind. The file is held with C(flock) and deleted by the holder before it lets go;
    a waiter checks after getting the lock that the name still leads to the file it locked, and starts over otherwise
    (lock-then-verify), so deleting the file never lets two writers in at once. A lock file was chosen over locking the
    directory (which leaves nothing even while running) because C(flock) on a directory fails on NFS, serialises every
    file of the directory and can be held by any user who can read the directory.
  - Earlier versions left C(.<name>.lock) in place. The next run that writes or checks the file (not in check mode, not
    with O(state=read)) removes it, but only if it is a regular, empty file with no other hard link, owned by root or
    the user running the module; anything else with that name is left alone. A C(.<name>.lock) that a process killed
    while writing leaves behind is removed the same way.
  - The target host is not trusted. The module often runs as root (C(become)) in directories that other users own,
    so it walks O(path) one directory at a time from C(/), like systemd-tmpfiles, and refuses a path that someone
    other than root, the user running the module or O(owner) could have changed. Nothing owned by an unprivileged
    user may lead to something owned by another user (a link or a hard link planted to make root change another
    file), and in a sticky shared directory only entries of those trusted users are used. Check mode refuses the
    same paths.
  - The file, its lock file, backups and the temporary file are opened relative to the opened directory, with
    C(O_NOFOLLOW) (a planted link is refused, never followed), created with C(O_EXCL), and owner and mode are set
    through the open file, never by path.
  - Replacing an existing file keeps its owner and group unless O(owner) or O(group) say otherwise; that needs root
    when they differ from the user running the module. The new file gets the default SELinux context of its directory.
  - Messages name options between backticks, for example C(`mode`); O(option_labels) renames them.
seealso:
  - module: zohothrive.oauth.zoho_thrive_config_info
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
path:
  description: The config file's path as given in O(path), made absolute (links not resolved).
  returned: always
  type: str
  sample: /etc/myapp/zoho.json
created:
  description: Whether the file was created (or would be, in check mode).
  returned: O(state=present)
  type: bool
  sample: false
backup_file:
  description: The backup of the previous file.
  returned: when O(backup=true) and the file was replaced
  type: str
  sample: /etc/myapp/zoho.json.20260115T093000.bak
exists:
  description: Whether the file exists.
  returned: O(state=read)
  type: bool
  sample: true
current_values:
  description:
    - The current value of each of O(read_keys) as a string, V(null) when the file does not hold it, keyed by the key
      name or its O(read_aliases) entry. Secret.
    - Named so because C(values) cannot be reached with dot notation in Jinja.
  returned: O(state=read)
  type: dict
  sample: {refresh_token: "1000.xxxx.yyyy"}
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zohothrive.oauth.plugins.module_utils._config_file import FORMATS, ConfigFileError
from ansible_collections.zohothrive.oauth.plugins.module_utils._config_task import read_config, write_config
from ansible_collections.zohothrive.oauth.plugins.module_utils._fileio import FileIOError
from ansible_collections.zohothrive.oauth.plugins.module_utils._labels import OPTION_LABELS_SPEC, check_labels, relabel


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "format": {"type": "str", "choices": list(FORMATS), "default": "json"},
            "ini_section": {"type": "str", "default": "zoho_thrive"},
            "state": {"type": "str", "choices": ["present", "read"], "default": "present"},
            "values": {"type": "dict", "no_log": True},
            "pending": {"type": "list", "elements": "str", "default": [], "no_log": False},
            "read_keys": {"type": "list", "elements": "str", "no_log": False},
            "read_aliases": {"type": "list", "elements": "str"},
            "mode": {"type": "raw", "default": "0600"},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "backup": {"type": "bool", "default": False},
            "follow": {"type": "bool", "default": False},
            "option_labels": dict(OPTION_LABELS_SPEC),
        },
        required_if=[("state", "present", ["values"]), ("state", "read", ["read_keys"])],
        supports_check_mode=True,
    )
    try:
        labels = check_labels(module.params["option_labels"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    def warn(message: str) -> None:
        module.warn(relabel(message, labels))

    path = os.path.abspath(module.params["path"])
    try:
        if module.params["state"] == "present":
            result = write_config(module.params, path, check_mode=module.check_mode, diff_mode=module._diff, warn=warn)
        else:
            module.deprecate(
                "`state=read` is deprecated: use the module zohothrive.oauth.zoho_thrive_config_info, with `keys` and `aliases` "
                "instead of `read_keys` and `read_aliases`.",
                version="2.0.0",
                collection_name="zohothrive.oauth",
            )
            result = read_config(module.params, path, keys_option="read_keys", aliases_option="read_aliases")
    except (ConfigFileError, FileIOError) as exc:
        module.fail_json(msg=relabel(str(exc), labels))
    module.exit_json(path=path, **result)


if __name__ == "__main__":
    main()
