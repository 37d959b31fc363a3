# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read and merge managed keys in application config files (json, yaml, ini, env).

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: targets. Standard library only (tests/unit/plugins/test_boundary.py checks it).

Runs on target hosts that may have nothing but a bare system Python: json, ini and env need only
the standard library; yaml needs PyYAML, which is imported only when a yaml file is handled.

A merge is byte-faithful: every byte that is not a managed entry stays exactly as it was, in every
format. Only the value of a managed entry is rewritten (its key, indentation, separator and, where
the format has them, quoting style and trailing comment stay), and missing keys are added where
the format puts them, following the file's own conventions (line endings, indentation, separators,
byte-order mark). Values are read as the program that consumes the file reads them (json.loads,
yaml.safe_load, configparser, and for env files both sh and systemd's EnvironmentFile=), so a value
that a consumer reads differently counts as different and is repaired. Merging a file that already
holds the values returns the identical text, so an unchanged file is never rewritten.

What a format cannot hold safely is refused with a message that names the cause and the fix, and
the file is left alone (see the module's documentation for the table). A file that cannot be
parsed raises ConfigFileError too. Messages name the file, the problem and the fix, and never
contain a value of a managed key (nor any line of the file: parser messages that quote the file
are not passed on). Option names are written between backticks (see _labels.py).
"""

from __future__ import annotations

import configparser
import contextlib
import errno
import grp
import io
import json
import os
import pwd
import re
import stat
import time
import typing as t

from ansible_collections.zohothrive.oauth.plugins.module_utils._fileio import (
    O_CLOEXEC,
    O_NOFOLLOW,
    O_NONBLOCK,
    FileIOError,
    Location,
    MissingDirectoryError,
    open_location,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._fingerprint import fingerprint as value_fingerprint

FORMATS = ("json", "yaml", "ini", "env")
DEFAULT_SECTION = "zoho_thrive"
BACKUPS_KEPT = 3
BOM = "\ufeff"

Value = t.Union[str, int]


class ConfigFileError(Exception):
    """A config file cannot be read, merged or written. The message never contains a managed value."""


class Merge(t.NamedTuple):
    """The result of :func:`merge`.

    ``text`` is the new full text, ``changed_keys`` the managed keys whose entries it rewrote or
    added. ``warnings`` are for the operator (never a value). ``line_endings`` is ``(before,
    after)``, for example ``("CRLF", "LF")``, when the merge converted the file's line endings.
    """

    text: str
    changed_keys: list[str]
    warnings: tuple[str, ...] = ()
    line_endings: tuple[str, str] | None = None


# -- validation ---------------------------------------------------------------------------------

_KEY_PATTERNS = {
    "json": re.compile(r".+", re.DOTALL),
    "yaml": re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*"),
    "ini": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"),
    "env": re.compile(r"[A-Za-z_][A-Za-z0-9_]*"),
}
_KEY_RULES = {
    "json": "a non-empty string",
    "yaml": "a letter or _ followed by letters, digits, _, . or -",
    "ini": "letters, digits, _, . or - (not starting with . or -)",
    "env": "a letter or _ followed by letters, digits or _",
}
# sh and systemd's EnvironmentFile= read these unquoted and unchanged.
_ENV_SAFE = re.compile(r"[A-Za-z0-9_./:@%+,=-]*")
# Characters that neither quoting style represents identically for sh and systemd.
_ENV_REFUSED = re.compile(r"['\\\x00-\x1f\x7f]")


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigFileError(f"Unknown config file format {fmt!r} in `format`; use one of {', '.join(FORMATS)}.")


def check_section(section: str, *, path: str) -> None:
    if not section or section != section.strip() or "\n" in section or "\r" in section:
        raise ConfigFileError(
            f"Invalid `ini_section` {section!r} for {path}: a section name must be non-empty, on one line, without surrounding spaces."
        )


def check_keys(keys: t.Iterable[str], fmt: str, *, path: str, option: str = "values") -> list[str]:
    """Validate managed key names for ``fmt``; return them as a list. ``option`` names where they came from."""
    check_format(fmt)
    result = []
    for key in keys:
        if not isinstance(key, str) or not _KEY_PATTERNS[fmt].fullmatch(key):
            raise ConfigFileError(f"Cannot manage the key {key!r} of `{option}` in the {fmt} file {path}: a key must be {_KEY_RULES[fmt]}.")
        result.append(key)
    if fmt == "ini":
        seen: dict[str, str] = {}
        for key in result:
            if key.lower() in seen and seen[key.lower()] != key:
                raise ConfigFileError(
                    f"The keys {seen[key.lower()]!r} and {key!r} of `{option}` are the same ini option for {path} (ini keys ignore case); "
                    "give only one."
                )
            seen[key.lower()] = key
    return result


def check_values(values: t.Mapping[str, t.Any], fmt: str, *, path: str) -> dict[str, Value]:
    """Validate the managed keys and values for ``fmt``. Messages name the key, never the value."""
    if not values:
        raise ConfigFileError(f"Nothing to write to {path}: give at least one managed key in `values`.")
    check_keys(values, fmt, path=path)
    result: dict[str, Value] = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ConfigFileError(f"Cannot write {key} to {path}: its value in `values` must be a string or an integer, not {type(value).__name__}.")
        text = str(value)
        if fmt == "ini" and ("\n" in text or "\r" in text or text != text.strip()):
            raise ConfigFileError(
                f"Cannot write {key} to the ini file {path}: its value contains a line break or leading or trailing whitespace, "
                "which an ini file cannot hold unchanged."
            )
        if fmt == "env" and _ENV_REFUSED.search(text):
            raise ConfigFileError(
                f"Cannot write {key} to the env file {path}: its value contains a single quote, a backslash, a line break or another "
                "control character, which sh and systemd's EnvironmentFile= would not both read unchanged."
            )
        result[key] = value
    return result


def changed_keys(current: t.Mapping[str, t.Any], desired: t.Mapping[str, Value]) -> list[str]:
    """The keys of ``desired`` whose current value differs, in the order of ``desired``.

    The comparison is type-exact (``"5"`` differs from ``5``, and ``True`` from ``1``): for json and
    yaml the type is part of the value. Compare string forms for ini and env.
    """
    return [key for key, value in desired.items() if key not in current or type(current[key]) is not type(value) or current[key] != value]


def fingerprint(value: Value | None) -> str | None:
    """The collection's fingerprint (``_fingerprint.fingerprint``) of the value's string form, or None for a missing value."""
    return None if value is None else value_fingerprint(value)


def _as_text(value: t.Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    # Not a value this collection writes (bool, float, list, mapping, date): report its JSON form.
    return json.dumps(value, default=str)


# -- text conventions shared by the formats -----------------------------------------------------

_LINE_END = re.compile(r"\r\n|\r|\n")
_LINE_END_NAMES = {"\r\n": "CRLF", "\n": "LF"}


def _split_bom(text: str | None) -> tuple[str, str]:
    """``(bom, body)``: the UTF-8 byte-order mark the file starts with ("" if none) and the rest."""
    text = text or ""
    return (BOM, text[1:]) if text.startswith(BOM) else ("", text)


def _split_lines(text: str) -> list[str]:
    """Lines with their line ends. Unlike ``str.splitlines`` only ``\\n`` ends a line (a CRLF line keeps its ``\\r\\n``)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _line_end(line: str) -> str:
    """The line end of one line from :func:`_split_lines`: CRLF, LF or "" (the last line of a file without a final newline)."""
    return "\r\n" if line.endswith("\r\n") else "\n" if line.endswith("\n") else ""


def _lone_cr_line(text: str) -> int | None:
    """Number of the first line holding a carriage return that is not part of a CRLF line end, if any."""
    index = re.search(r"\r(?!\n)", text)
    return None if index is None else text.count("\n", 0, index.start()) + 1


def _newline(text: str, path: str) -> str:
    """The line end that new lines of ``text`` get: CRLF or LF (LF when the file has none yet).

    Raises ConfigFileError for a file whose lines cannot all be followed: a lone carriage return,
    or a mix of CRLF and LF line ends.
    """
    line = _lone_cr_line(text)
    if line is not None:
        raise ConfigFileError(
            f"Cannot edit {path} safely: line {line} holds a carriage return (CR) that is not followed by a line feed, which some "
            "programs read as a line end and others as part of the line. Convert the file to LF (or CRLF) line endings, for "
            "example with dos2unix; it was not changed."
        )
    first: dict[str, int] = {}
    for number, match in enumerate(_LINE_END.finditer(text), start=1):
        first.setdefault(match.group(), number)
    if len(first) > 1:
        crlf_line, lf_line = first["\r\n"], first["\n"]
        raise ConfigFileError(
            f"Cannot edit {path} safely: it mixes line endings (line {crlf_line} ends with CRLF, line {lf_line} with LF only), so a "
            "written line cannot follow the file's convention. Convert it to one kind (dos2unix for LF, unix2dos for CRLF); it was "
            "not changed."
        )
    return next(iter(first), "\n")


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Replace the ``(start, end, new)`` spans of ``text``; spans must not overlap."""
    out = []
    position = 0
    for start, end, new in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        out.append(text[position:start])
        out.append(new)
        position = end
    out.append(text[position:])
    return "".join(out)


def _append_lines(lines: list[str], new: list[str], newline: str) -> list[str]:
    if lines and not _line_end(lines[-1]):
        lines[-1] += newline
    return lines + new


# -- json ---------------------------------------------------------------------------------------
#
# Only the value tokens of the managed top-level members are replaced; new members follow the
# last one with the same separators and indentation. Line ends are whitespace to JSON, so any
# style is kept as it is.

_JSON_WS = re.compile(r"[ \t\n\r]*")


class _JsonMember(t.NamedTuple):
    key: str
    lead_start: int  # after the "{" or "," before the member
    key_start: int
    key_end: int
    value_start: int
    value_end: int


def _json_load(text: str | None, path: str) -> dict[str, t.Any]:
    body = _split_bom(text)[1]
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno}: {exc.msg})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ConfigFileError(f"Cannot parse {path} as JSON{where}. Fix the file or choose the right `format`; it was not changed.") from None
    if not isinstance(data, dict):
        raise ConfigFileError(
            f"{path} holds a JSON {type(data).__name__}, not an object; the managed keys need a top-level JSON object. It was not changed."
        )
    return data


def _json_members(body: str) -> tuple[int, list[_JsonMember], int]:
    """Where the top-level object of ``body`` (valid JSON) opens and closes, and its members' spans."""
    decoder = json.JSONDecoder()
    position = _JSON_WS.match(body, 0).end() + 1  # after "{"
    opened = position
    members = []
    while True:
        lead_start = position
        position = _JSON_WS.match(body, position).end()
        if body[position] == "}":
            return opened, members, position
        key, key_end = json.decoder.scanstring(body, position + 1)
        value_start = _JSON_WS.match(body, _JSON_WS.match(body, key_end).end() + 1).end()  # after ":"
        _value, value_end = decoder.raw_decode(body, value_start)
        members.append(_JsonMember(key, lead_start, position, key_end, value_start, value_end))
        position = _JSON_WS.match(body, value_end).end()
        if body[position] == "}":
            return opened, members, position
        position += 1  # ","


def _merge_json(text: str | None, values: dict[str, Value], path: str) -> Merge:
    data = _json_load(text, path)
    changed = changed_keys(data, values)
    if not changed and text is not None:
        return Merge(text, [])
    bom, body = _split_bom(text)
    ascii_only = body.isascii()  # a file with raw non-ASCII text gets raw non-ASCII values too

    def dump(value: Value) -> str:
        return json.dumps(value, ensure_ascii=ascii_only)

    if not body.strip():
        newline = "\r\n" if "\r\n" in body else "\n"
        members = f",{newline}".join(f"  {dump(key)}: {dump(values[key])}" for key in changed)
        return Merge(f"{bom}{{{newline}{members}{newline}}}{newline}", changed)
    opened, members, closed = _json_members(body)
    edits = [(member.value_start, member.value_end, dump(values[member.key])) for member in members if member.key in changed]
    present = {member.key for member in members}
    new_keys = [key for key in changed if key not in present]
    if new_keys and members:
        last = members[-1]
        lead = body[last.lead_start : last.key_start]
        colon = body[last.key_end : last.value_start]
        if len(members) == 1 and not lead:
            lead = " " if " " in colon else ""
        edits.append((last.value_end, last.value_end, "".join(f",{lead}{dump(key)}{colon}{dump(values[key])}" for key in new_keys)))
    elif new_keys:
        match = _LINE_END.search(body)
        newline = match.group() if match else "\n"
        inner = f",{newline}".join(f"  {dump(key)}: {dump(values[key])}" for key in new_keys)
        edits.append((opened, closed, f"{newline}{inner}{newline}"))
    new_body = _apply(body, edits)
    expected = dict(data)
    expected.update(values)
    after = json.loads(new_body)
    if after != expected or changed_keys(after, values):  # a safety net: the edits above are exact
        raise ConfigFileError(f"Cannot update the JSON file {path} safely; edit it by hand. It was not changed.")
    return Merge(bom + new_body, changed)


# -- yaml ---------------------------------------------------------------------------------------
#
# The file is composed with PyYAML, which gives the exact position of every top-level key and
# value. A one-line scalar value is replaced in place, in its own quoting style when that style
# can hold the new value (its trailing comment stays); a value over several lines (a block
# scalar, a block collection) is replaced by one line. New keys go after the last entry of the
# document, before an explicit end marker (``...``). The result is parsed again, and the merge is
# refused if anything but the managed keys would change.

# Plain words that YAML 1.1 (PyYAML) reads as booleans or null: such keys are written quoted.
_YAML_SPECIAL_WORDS = frozenset("yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF null Null NULL".split())
_YAML_STR = "tag:yaml.org,2002:str"
# Characters that YAML 1.1 (PyYAML) reads as line ends besides CR and LF.
_YAML_BREAKS = {"\x85": "U+0085 (NEXT LINE)", "\u2028": "U+2028 (LINE SEPARATOR)", "\u2029": "U+2029 (PARAGRAPH SEPARATOR)"}


def _yaml_lib(path: str) -> t.Any:
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise ConfigFileError(
            f"Cannot handle the YAML file {path}: the Python library PyYAML is missing on this host. Install it for the Python "
            "that runs Ansible modules (the python3-yaml package, or PyYAML with pip), or choose another `format`."
        ) from None
    return yaml


def _yaml_error(exc: t.Any, path: str) -> ConfigFileError:
    # The YAML error text quotes the offending line, which may hold a secret: pass on the position only.
    if getattr(exc, "problem", None) == "but found another document":
        return ConfigFileError(
            f"{path} holds more than one YAML document (the next one starts on line {exc.problem_mark.line + 1}); the module "
            "manages the keys of a file with one document. Move the managed keys into a file of their own; it was not changed."
        )
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    if mark is not None and getattr(mark, "buffer", None) and mark.buffer[mark.index : mark.index + 1] == "\t":
        # YAML 1.2 allows a tab as separation in some places (before a comment, after "key:"); PyYAML does not.
        return ConfigFileError(
            f"Cannot parse {path} as YAML{where}: line {mark.line + 1} has a tab where YAML as PyYAML reads it does not allow "
            "one (PyYAML takes tabs only inside values and comments, not in indentation or as the blank before a value or a "
            "comment). Replace it with spaces; it was not changed."
        )
    return ConfigFileError(f"Cannot parse {path} as YAML{where}. Fix the file or choose the right `format`; it was not changed.")


def _yaml_load(text: str | None, path: str, yaml: t.Any) -> dict[t.Any, t.Any]:
    body = _split_bom(text)[1]
    if not body.strip():
        return {}
    try:
        data = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(
            f"{path} holds a YAML {type(data).__name__}, not a mapping; the managed keys need a top-level mapping. It was not changed."
        )
    return data


def _yaml_key(key: str) -> str:
    return f'"{key}"' if key in _YAML_SPECIAL_WORDS else key


def _yaml_scalar(value: Value) -> str:
    """``value`` as a plain integer or a double-quoted string that YAML reads back exactly."""
    if isinstance(value, int):
        return str(value)
    out = ['"']
    for char in value:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _yaml_render(value: Value, style: str | None, yaml: t.Any) -> str:
    """``value`` in the quoting ``style`` of the value it replaces (None: plain) when that style holds it exactly, else double-quoted."""
    if isinstance(value, int):
        return str(value)
    candidate = {None: value, "'": "'" + value.replace("'", "''") + "'"}.get(style)
    if candidate and "\n" not in candidate and "\r" not in candidate:
        try:
            # Read back alone and followed by a comment, as it may be in the file.
            if all(yaml.safe_load(f"k: {candidate}{tail}\n") == {"k": value} for tail in ("", " # c")):
                return candidate
        except yaml.YAMLError:
            pass
    return _yaml_scalar(value)


def _yaml_layout(body: str, path: str, yaml: t.Any) -> tuple[t.Any, int | None]:
    """The top-level mapping node (None for an empty document) and where an explicit document end marker starts."""
    try:
        root = yaml.compose(body, Loader=yaml.SafeLoader)
        events = list(yaml.parse(body, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:  # not expected: safe_load has parsed the same text
        raise _yaml_error(exc, path) from None
    if not isinstance(root, yaml.MappingNode):
        root = None  # an empty document (safe_load refused anything else but a mapping)
    elif root.flow_style:
        raise ConfigFileError(
            f"Cannot edit {path} safely: its top-level mapping is written in flow style ({{key: value, ...}}); the module edits block "
            "style, one key: value entry per line. Rewrite the file in block style or choose another `format`; it was not changed."
        )
    ends = [event.start_mark.index for event in events if isinstance(event, yaml.DocumentEndEvent) and event.explicit]
    return root, (ends[0] if ends else None)


def _yaml_value_edit(body: str, key_node: t.Any, value_node: t.Any, value: Value, newline: str, yaml: t.Any) -> tuple[int, int, str]:
    """The edit that gives the top-level key of ``key_node`` the value ``value``."""
    start, end = value_node.start_mark.index, value_node.end_mark.index
    style = getattr(value_node, "style", None)
    if isinstance(value_node, yaml.ScalarNode) and style in (None, "'", '"') and value_node.start_mark.line == value_node.end_mark.line:
        scalar = _yaml_render(value, style, yaml)
        if start == end and body[start - 1 : start] not in (" ", "\t"):  # an empty value: "key:" gets "key: value"
            scalar = " " + scalar
        return start, end, scalar
    # A value over several lines: the key's line up to the colon stays, the value's lines are replaced.
    lines = _split_lines(body)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    key_line, key_column = key_node.start_mark.line, key_node.start_mark.column
    colon = key_node.end_mark.index + len(body[key_node.end_mark.index :]) - len(body[key_node.end_mark.index :].lstrip(" \t"))
    if body[colon : colon + 1] != ":":  # a complex key ("? key"): not a line of its own
        return -1, -1, ""
    rest = lines[key_line][colon - starts[key_line] + 1 :].rstrip("\r\n")
    comment = re.fullmatch(r"[ \t]*(?:[|>][1-9+-]{0,2})?([ \t]+#.*)?", rest)
    end_line = value_node.end_mark.line + (0 if value_node.end_mark.column == 0 else 1)
    while end_line - 1 > key_line:
        last = lines[end_line - 1]
        indent = len(last) - len(last.lstrip(" "))
        if last.strip() and not (last.lstrip().startswith("#") and indent <= key_column):
            break
        end_line -= 1  # blank lines and comments at the key's indentation or less after the value stay
    line = body[starts[key_line] : colon + 1] + " " + _yaml_render(value, '"', yaml) + ((comment.group(1) or "") if comment else "")
    return starts[key_line], starts[end_line] if end_line < len(lines) else len(body), line + newline


def _merge_yaml(text: str | None, values: dict[str, Value], path: str) -> Merge:
    yaml = _yaml_lib(path)
    before = _yaml_load(text, path, yaml)
    changed = changed_keys(before, values)
    if not changed and text is not None:
        return Merge(text, [])
    bom, body = _split_bom(text)
    newline = _newline(body, path)
    for char, name in _YAML_BREAKS.items():
        if char in body:
            raise ConfigFileError(
                f"Cannot edit {path} safely: line {body.count(chr(10), 0, body.index(char)) + 1} holds the character {name}, which "
                "YAML reads as a line end. Replace it (for example with a space); it was not changed."
            )
    root, document_end = _yaml_layout(body, path, yaml) if body.strip() else (None, None)
    edits = []
    present = set()
    for key_node, value_node in root.value if root is not None else ():
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _YAML_STR and key_node.value in values:
            present.add(key_node.value)
            if key_node.value in changed:  # every occurrence: safe_load keeps the last one
                edit = _yaml_value_edit(body, key_node, value_node, values[key_node.value], newline, yaml)
                if edit[0] < 0:
                    raise ConfigFileError(
                        f"Cannot edit {path} safely: the key {key_node.value!r} is written as a complex key (? key), not as key: value "
                        "on a line of its own. Rewrite the entry in block style or choose another `format`; it was not changed."
                    )
                edits.append(edit)
    indent = " " * (root.start_mark.column if root is not None else 0)
    added = "".join(f"{indent}{_yaml_key(key)}: {_yaml_scalar(values[key])}{newline}" for key in changed if key not in present)
    if added:
        at = len(body) if document_end is None else document_end
        edits.append((at, at, ("" if at == 0 or body[at - 1] == "\n" else newline) + added))
    new_body = _apply(body, edits)
    # Text editing is only safe for top-level scalar keys: prove the result means what was intended.
    expected = dict(before)
    expected.update(values)
    try:
        after = _yaml_load(new_body, path, yaml)
    except ConfigFileError:
        after = None
    if after != expected or changed_keys(after, values):
        raise ConfigFileError(
            f"Cannot update the YAML file {path} safely: writing the managed keys would change other values too (for example an "
            "anchor on a managed value that another entry uses as an alias, a tag or a merge key). The managed keys must be "
            "top-level keys with plain values of their own. Edit the file by hand or choose another `format`; it was not changed."
        )
    return Merge(bom + new_body, changed)


# -- ini ----------------------------------------------------------------------------------------
#
# Read as configparser reads a file opened in text mode (universal newlines, no interpolation,
# ";" and "#" start a comment only at the start of a line). A managed option keeps its key as
# spelled, its indentation and its separator; new options follow the last option of the section.

# configparser's own patterns (RawConfigParser.SECTCRE and OPTCRE), applied to stripped lines.
_INI_SECTION = re.compile(r"\[(?P<header>.+)\]")
_INI_OPTION = re.compile(r"(?P<option>.*?)\s*(?P<vi>[=:])\s*(?P<value>.*)$")


def _ini_parser(text: str | None, path: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    body = _split_bom(text)[1]
    if not body:
        return parser
    try:
        parser.read_file(io.StringIO(body, newline=None), source=path)
    except configparser.Error as exc:
        # configparser's messages quote the offending line, which may hold a secret: pass on the line number only.
        lineno = getattr(exc, "lineno", None)
        if lineno is None and getattr(exc, "errors", None):
            lineno = exc.errors[0][0]
        where = f" (line {lineno})" if lineno else ""
        raise ConfigFileError(
            f"Cannot parse {path} as an ini file{where}: {type(exc).__name__}. Python's configparser must be able to read it (every "
            "option inside a [section], no duplicate sections or options). Fix the file or choose the right `format`; it was not changed."
        ) from None
    return parser


def _ini_snapshot(parser: configparser.ConfigParser) -> list[tuple[str, dict[str, str]]]:
    return [(configparser.DEFAULTSECT, dict(parser.defaults()))] + [(name, dict(parser.items(name, raw=True))) for name in parser.sections()]


def _ini_current(parser: configparser.ConfigParser, section: str, keys: t.Iterable[str]) -> dict[str, str | None]:
    if section != configparser.DEFAULTSECT and not parser.has_section(section):
        return {key: None for key in keys}
    return {key: parser.get(section, key, raw=True, fallback=None) for key in keys}


def _ini_scan(lines: list[str]) -> list[tuple[str, str | None, str | None, int]]:
    """Classify each line as configparser reads it: ``(kind, section, option, owner)``.

    ``kind`` is header, option, continuation, blank or comment; ``option`` is the lower-cased
    option name of an option line and ``owner`` the index of the option line a continuation
    belongs to (configparser: a line indented deeper than its option line continues the value).
    """
    result: list[tuple[str, str | None, str | None, int]] = []
    section: str | None = None
    option_index = -1
    indent_level = 0
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            result.append(("blank", section, None, -1))
            continue
        if stripped.startswith(("#", ";")):
            result.append(("comment", section, None, -1))
            continue
        indent = len(line) - len(line.lstrip())
        if section is not None and option_index >= 0 and indent > indent_level:
            result.append(("continuation", section, None, option_index))
            continue
        indent_level = indent
        header = _INI_SECTION.match(stripped)
        if header:
            section = header.group("header")
            option_index = -1
            result.append(("header", section, None, -1))
            continue
        option = _INI_OPTION.match(stripped)
        option_index = index
        result.append(("option", section, option.group("option").rstrip().lower() if option else None, -1))
    return result


def _ini_parts(line: str) -> tuple[str, str]:
    """``(prefix, end)`` of an option line: its text up to the value (indentation, key as spelled, separator) and its line end."""
    end = _line_end(line)
    content = line[: len(line) - len(end)]
    indent = content[: len(content) - len(content.lstrip())]
    option = _INI_OPTION.match(content.strip())
    if option is None:  # not expected: _ini_scan calls it an option line
        return content, end
    prefix = indent + content.strip()[: option.start("value")]
    if not option.group("value") and prefix[-2:-1].isspace():  # "key =" with no value: "key = new"
        prefix += " "
    return prefix, end


def _ini_option(indent: str, key: str, separator: str, value: Value, newline: str) -> str:
    text = str(value)
    return f"{indent}{key}{separator}{text}{newline}" if text else f"{indent}{key}{separator.rstrip()}{newline}"


def _merge_ini(text: str | None, values: dict[str, Value], section: str, path: str) -> Merge:
    before = _ini_parser(text, path)
    current = _ini_current(before, section, values)
    changed = changed_keys(current, {key: str(value) for key, value in values.items()})
    if not changed and text is not None:
        return Merge(text, [])
    bom, body = _split_bom(text)
    newline = _newline(body, path)
    lines = _split_lines(body)
    scan = _ini_scan(lines)
    wanted = {key.lower(): key for key in changed}
    replace: dict[int, str] = {}
    drop: set[int] = set()
    last_content = -1
    # New options look like the section's last option (indentation and separator), else like the file's first one.
    section_style: tuple[str, str] | None = None
    file_style: tuple[str, str] | None = None
    for index, (kind, line_section, option, owner) in enumerate(scan):
        if kind == "option":
            prefix = _ini_parts(lines[index])[0]
            indent = prefix[: len(prefix) - len(prefix.lstrip())]
            spelled = _INI_OPTION.match(lines[index].strip())
            if spelled:
                style = (indent, prefix[len(indent) + len(spelled.group("option")) :])
                file_style = file_style or style
                section_style = style if line_section == section else section_style
        if line_section != section or kind in ("blank", "comment"):
            continue
        last_content = index
        if kind == "option" and option in wanted:
            prefix, end = _ini_parts(lines[index])
            replace[index] = f"{prefix}{values[wanted.pop(option)]}{end}"
        elif kind == "continuation" and owner in replace:
            # The old value's lines and the blank lines among them (configparser reads those as part of the value); comment
            # lines among them are not part of it and stay.
            drop.update(number for number in range(owner + 1, index + 1) if scan[number][0] != "comment")
    out: list[str] = []
    if last_content >= 0:
        indent, separator = section_style or file_style or ("", " = ")
        new_lines = [_ini_option(indent, key, separator, values[key], newline) for key in wanted.values()]
        for index, line in enumerate(lines):
            if index not in drop:
                out.append(replace.get(index, line))
            if index == last_content and new_lines:
                if not _line_end(out[-1]):
                    out[-1] += newline
                out.extend(new_lines)
    else:
        separator = (file_style or ("", " = "))[1]
        blank = [newline] if lines and lines[-1].strip() else []
        new_lines = [_ini_option("", key, separator, values[key], newline) for key in wanted.values()]
        out = _append_lines(list(lines), blank + [f"[{section}]{newline}"] + new_lines, newline)
    new_body = "".join(out)
    # Prove the edit means what was intended: the managed options set, everything else the same.
    expected = _ini_parser(text, path)
    if section != configparser.DEFAULTSECT and not expected.has_section(section):
        expected.add_section(section)
    for key in changed:
        expected.set(section, key, str(values[key]))
    try:
        after = _ini_snapshot(_ini_parser(new_body, path))
    except ConfigFileError:
        after = None
    if after != _ini_snapshot(expected):
        raise ConfigFileError(
            f"Cannot update the ini file {path} safely: merging the keys into [{section}] would change other settings. "
            "Edit the file by hand; it was not changed."
        )
    return Merge(bom + new_body, changed)


# -- env ----------------------------------------------------------------------------------------
#
# An env file has two consumers that must read the same values: sh (". file", "set -a; . file";
# dash and bash) and systemd's EnvironmentFile=. Both are modelled for the whole file: sh by a
# lexer of the few forms a KEY=value line can take (_sh_*), systemd by its own parser
# (_systemd_env, after src/basic/env-file.c), in two versions: before 254 a comment that ends in
# a backslash goes on over the next line (systemd/systemd#27975; Debian 12 and RHEL 9 ship 252).
#
# A line must be blank, a comment or one assignment "KEY=value" (optionally "export KEY=value")
# that both read on that line alone. Anything sh reads as more (a command, an operator, several
# words or assignments, a command substitution, arithmetic, an assigning ${...}) or continues over
# the next line, for sh or for systemd, is refused with the line and the cause: it could hide or
# override a managed line for one of them. A managed value counts as held only where sh, systemd
# 254+ and systemd before 254 all read exactly it; anything else is rewritten: "export" is dropped
# (systemd ignores such a line), and a line that systemd before 254 reads as part of a comment gets
# a blank line before it. A file with CRLF line ends is converted to LF (sh reads the CR as part
# of a value, systemd as a line end), with a warning. A byte-order mark, a lone CR and a NUL are
# refused.

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
# ${NAME}, ${#NAME}, ${NAME:-word}, ${NAME+word}, ${NAME%word}...: a word without quotes, $, backquotes or backslashes.
_SH_BRACED = re.compile(r"\{#?(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(?:(?::?[-+]|##?|%%?)[^}$`\"'\\]*)?\}")
_SH_BRACED_SPECIAL = re.compile(r"\{#?(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(:?[=?])")
_SH_PARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-]")

_SH_OPEN_QUOTE = (
    "opens a quote that it does not close, so sh reads the following lines as part of this one (multi-line values are not "
    "supported). Put the value on one line"
)
_SH_BACKSLASH = "ends with a backslash, so sh reads the next line as part of this one. Remove the backslash or put the value on one line"
_SH_SUBSTITUTION = (
    "runs a command when sh reads it ($(...) or a backquote), which systemd's EnvironmentFile= keeps as text, and sh may read "
    "the following lines as part of it. Write the value itself"
)
_SH_ARITHMETIC = (
    "computes a value when sh reads it ($((...)) or $[...]), which can also assign variables, and systemd's EnvironmentFile= "
    "keeps it as text. Write the value itself"
)
_SH_ANSI_C = "uses $'...' quoting, which bash and dash read differently and systemd's EnvironmentFile= not at all. Use single quotes"
_SH_BRACE_ASSIGN = (
    "assigns a variable inside a parameter expansion (${NAME=...} or ${NAME:=...}) when sh reads it, which systemd's "
    "EnvironmentFile= does not do. Write the value itself"
)
_SH_BRACE_STOP = (
    "has a parameter expansion ${NAME?...} or ${NAME:?...}, which makes sh stop reading the file when the variable is unset, "
    "while systemd's EnvironmentFile= reads on. Write the value itself"
)
_SH_BRACE_OTHER = (
    "has a parameter expansion ${...} that the module cannot read to its end (quotes, $, a backquote or a backslash inside it, "
    "or no closing brace on the line), so it cannot tell what sh reads there and on the following lines. Write the value itself"
)


class _EnvRefusal(Exception):
    """A line that sh and systemd cannot both read as one assignment; the message is the cause, after "line N "."""


def _sh_command(detail: str) -> _EnvRefusal:
    return _EnvRefusal(
        f"is not a KEY=value line but a shell command ({detail}): sh runs it, which can set or unset variables, while systemd's "
        "EnvironmentFile= reads it differently or not at all. Write one KEY=value assignment per line (quote a value that holds "
        "blanks: KEY='a b')"
    )


def _sh_dollar(content: str, index: int, *, quoted: bool) -> tuple[int, str | None]:
    """sh at the ``$`` at ``index``: ``(end, text)``; text is None where sh expands something."""
    following = content[index + 1 : index + 2]
    if following == "(":
        raise _EnvRefusal(_SH_ARITHMETIC if content.startswith("((", index + 1) else _SH_SUBSTITUTION)
    if following == "[":  # bash's old arithmetic; dash keeps it as text
        raise _EnvRefusal(_SH_ARITHMETIC)
    if following == "{":
        braced = _SH_BRACED.match(content, index + 1)
        if braced is None:
            special = _SH_BRACED_SPECIAL.match(content, index + 1)
            raise _EnvRefusal(_SH_BRACE_OTHER if special is None else _SH_BRACE_ASSIGN if special.group(1).endswith("=") else _SH_BRACE_STOP)
        return braced.end(), None
    if not quoted and following == "'":
        raise _EnvRefusal(_SH_ANSI_C)
    if not quoted and following == '"':  # bash's $"..." (translated); the quote itself is read next
        return index + 1, None
    parameter = _SH_PARAMETER.match(content, index + 1)
    if parameter:
        return parameter.end(), None
    return index + 1, "$"  # a $ that starts nothing is an ordinary character


def _sh_double_quoted(content: str, index: int) -> tuple[int, str | None]:
    """sh inside double quotes, from after the opening quote: ``(end, text)``; text is None where sh expands something."""
    out: list[str] | None = []
    while True:
        if index >= len(content):
            raise _EnvRefusal(_SH_OPEN_QUOTE)
        char = content[index]
        if char == '"':
            return index + 1, None if out is None else "".join(out)
        if char == "`":
            raise _EnvRefusal(_SH_SUBSTITUTION)
        if char == "\\":
            if index + 1 >= len(content):
                raise _EnvRefusal(_SH_OPEN_QUOTE)
            following = content[index + 1]
            chunk: str | None = following if following in '$`"\\' else "\\" + following
            index += 2
        elif char == "$":
            index, chunk = _sh_dollar(content, index, quoted=True)
        else:
            chunk = char
            index += 1
        if chunk is None:
            out = None
        elif out is not None:
            out.append(chunk)


def _sh_words(content: str) -> list[tuple[str, str | None]]:
    """The words sh reads on one line, ``(as written, text after quote removal)``; text is None where sh expands something.

    A carriage return is an ordinary character, as for sh. Raises _EnvRefusal for anything that
    goes on over the next line, runs a command, or that the module does not model.
    """
    words: list[tuple[str, str | None]] = []
    index, size = 0, len(content)
    while True:
        while index < size and content[index] in " \t":
            index += 1
        if index >= size or content[index] == "#":  # a comment starts only at the start of a word
            return words
        start = index
        out: list[str] | None = []
        while index < size and content[index] not in " \t":
            char = content[index]
            chunk: str | None
            if char == "'":
                close = content.find("'", index + 1)
                if close < 0:
                    raise _EnvRefusal(_SH_OPEN_QUOTE)
                chunk, index = content[index + 1 : close], close + 1
            elif char == '"':
                index, chunk = _sh_double_quoted(content, index + 1)
            elif char == "\\":
                if index + 1 >= size:
                    raise _EnvRefusal(_SH_BACKSLASH)
                chunk, index = content[index + 1], index + 2
            elif char == "$":
                index, chunk = _sh_dollar(content, index, quoted=False)
            elif char == "`":
                raise _EnvRefusal(_SH_SUBSTITUTION)
            elif char in ";&|<>()":
                raise _sh_command(f"the operator {char!r}")
            elif char == "~" and (index == start or content[index - 1] in ":="):
                chunk, index = None, index + 1  # tilde expansion
            else:
                chunk, index = char, index + 1
            if chunk is None:
                out = None
            elif out is not None:
                out.append(chunk)
        words.append((content[start:index], None if out is None else "".join(out)))


def _sh_line(content: str) -> tuple[str, bool, str | None] | None:
    """How sh reads one line: None for a blank or comment line, else ``(key, export, value)`` of its one assignment.

    ``value`` is None where sh expands something ($NAME, ${NAME}, ~). Raises _EnvRefusal for any
    other line.
    """
    words = _sh_words(content)
    if not words:
        return None
    export = words[0][0] == "export"
    rest = words[1:] if export else words
    first = _ENV_ASSIGNMENT.match(rest[0][0]) if rest else None
    if first is not None and len(rest) == 1:
        key = first.group(1)
        value = rest[0][1]
        return key, export, None if value is None else value[len(key) + 1 :]
    if export:
        raise _sh_command("export followed by something other than one KEY=value")
    if len(words) > 1 and _ENV_NAME.fullmatch(words[0][0]) and words[1][0].startswith("="):
        raise _sh_command("a blank before =, so sh runs the key as a command")
    if first is not None and words[0][0] == first.group(0):
        raise _sh_command("a blank after =, so sh runs the value as a command")
    if first is not None and all(_ENV_ASSIGNMENT.match(word[0]) for word in words):
        raise _sh_command("several assignments on one line")
    if first is not None:
        raise _sh_command("several words: sh runs the word after a blank outside quotes as a command")
    raise _sh_command("it does not start with KEY=")


_SYSTEMD_ASSIGNING = ("pre-value", "value", "value-escape", "single", "double", "double-escape")


def _systemd_env(text: str, *, comment_escapes: bool = False) -> tuple[dict[int, tuple[str, str]], list[str]]:
    """systemd's parser of EnvironmentFile= files (src/basic/env-file.c, parse_env_file_internal) over the whole text.

    Returns the assignments by the index of the line each starts on, ``{index: (key, value)}``
    (invalid names included; systemd ignores them), and the parser's state at the start of each
    line, one more entry for the end of the text ("" where a new line starts afresh, else for
    example "comment" or "value"). ``comment_escapes``: systemd before 254, where a backslash at
    the end of a comment continues the comment on the next line (systemd/systemd#27975).
    """
    assignments: dict[int, tuple[str, str]] = {}
    starts = [""]
    state = "pre-key"
    key: list[str] = []
    value: list[str] = []
    key_blank = value_blank = -1  # where trailing blanks of the key or of an unquoted value start
    line = begin = 0

    def push() -> None:
        if state == "value" and value_blank >= 0:
            del value[value_blank:]
        assignments[begin] = ("".join(key[:key_blank] if key_blank >= 0 else key), "".join(value))

    for char in text:
        newline = char in "\n\r"  # systemd ends a line at CR as well as at LF
        if state == "pre-key":
            if char in "#;":
                state = "comment"
            elif char not in " \t\n\r":
                state, key, key_blank, begin = "key", [char], -1, line
        elif state == "key":
            if newline:
                state = "pre-key"  # a line without "=" is ignored
            elif char == "=":
                state, value, value_blank = "pre-value", [], -1
            else:
                if char not in " \t":
                    key_blank = -1
                elif key_blank < 0:
                    key_blank = len(key)
                key.append(char)
        elif state in ("pre-value", "value") and newline:
            push()
            state = "pre-key"
        elif state == "pre-value":
            if char == "'":
                state = "single"
            elif char == '"':
                state = "double"
            elif char == "\\":
                state = "value-escape"
            elif char not in " \t":
                state = "value"
                value.append(char)
        elif state == "value":
            if char == "\\":
                state, value_blank = "value-escape", -1
            else:
                if char not in " \t":
                    value_blank = -1
                elif value_blank < 0:
                    value_blank = len(value)
                value.append(char)
        elif state == "value-escape":
            state = "value"
            if not newline:  # an escaped line end is dropped: the value goes on over the next line
                value.append(char)
        elif state == "single":
            if char == "'":
                state = "pre-value"
            else:
                value.append(char)
        elif state == "double":
            if char == '"':
                state = "pre-value"
            elif char == "\\":
                state = "double-escape"
            else:
                value.append(char)
        elif state == "double-escape":
            state = "double"
            if char in '"\\`$':
                value.append(char)
            elif char != "\n":
                value.extend(("\\", char))
        elif state == "comment":
            if char == "\\":
                state = "comment-escape"
            elif newline:
                state = "pre-key"
        else:  # comment-escape
            state = "comment" if comment_escapes or not newline else "pre-key"
        if char == "\n":
            line += 1
            starts.append("" if state == "pre-key" else state)
    if state in _SYSTEMD_ASSIGNING:
        push()
    return assignments, starts


def _env_systemd(raw: str) -> str:
    """What systemd's EnvironmentFile= assigns from the line ``KEY=<raw>``."""
    return _systemd_env("K=" + raw)[0].get(0, ("K", ""))[1]


class _EnvLine(t.NamedTuple):
    """One line of an env file as sh and systemd read it (see :func:`_env_scan`)."""

    text: str  # the line with its line end
    key: str | None  # the variable it assigns for sh; None for a blank or comment line
    indent: str
    export: bool
    raw: str  # what follows "=", without trailing blanks and line end
    sh: str | None  # what sh assigns; None where sh expands something
    systemd: str | None  # what systemd's EnvironmentFile= (version 254 and later) assigns; None: it ignores the line
    old_systemd: str | None  # the same for systemd before 254
    swallowed: bool  # systemd before 254 reads the line as part of a comment above it
    sh_sets: bool = True  # False: the CR at its end makes sh run the line as a command instead (a blank before the CR)

    def read(self) -> str:
        """The value as sh reads it; as systemd reads the text where sh expands something."""
        if self.sh is not None:
            return self.sh
        return self.systemd if self.systemd is not None else _env_systemd(self.raw)

    def holds(self, value: Value) -> bool:
        """Whether sh, systemd 254+ and systemd before 254 all read exactly ``value`` from the line."""
        return self.sh_sets and self.sh == self.systemd == self.old_systemd == str(value)


def _env_refused(path: str, number: int, cause: str) -> ConfigFileError:
    return ConfigFileError(f"Cannot parse {path} as an env file: line {number} {cause}; it was not changed.")


def _env_scan(text: str | None, path: str) -> list[_EnvLine]:
    """Each line of ``text`` as sh and both systemd versions read it. Lines keep their line end (and a CR before it).

    Raises ConfigFileError for a file that they do not all read line by line as blank lines,
    comments and single assignments.
    """
    text = text or ""
    if text.startswith(BOM):
        raise ConfigFileError(
            f"Cannot use the env file {path}: the file starts with a UTF-8 byte-order mark, which sh reads as part of the first "
            r"line and systemd's EnvironmentFile= as part of the first key. Remove it (for example: sed -i '1s/^\xEF\xBB\xBF//' FILE); "
            "it was not changed."
        )
    lone = _lone_cr_line(text)
    if lone is not None:
        raise ConfigFileError(
            f"Cannot use the env file {path}: line {lone} holds a carriage return (CR) that is not followed by a line feed; systemd's "
            "EnvironmentFile= reads it as a line end, sh as part of the line. Convert the file to LF line endings (for example "
            "with dos2unix); it was not changed."
        )
    if "\0" in text:
        number = text.count("\n", 0, text.index("\0")) + 1
        raise _env_refused(path, number, "holds a NUL character, where systemd's EnvironmentFile= stops reading the file. Remove it")
    lines = _split_lines(text)
    ended = text if not text or text.endswith("\n") else text + "\n"  # judged as if a line followed: one may be appended
    assignments, starts = _systemd_env(ended)
    old_assignments, old_starts = _systemd_env(ended, comment_escapes=True)
    result: list[_EnvLine] = []
    for index, line in enumerate(lines):
        content = line[:-1] if line.endswith("\n") else line
        body = content[:-1] if content.endswith("\r") else content  # a CRLF file is judged as it is after conversion
        try:
            sh = _sh_line(body)
        except _EnvRefusal as exc:
            raise _env_refused(path, index + 1, str(exc)) from None
        if starts[index + 1]:
            raise _env_refused(
                path,
                index + 1,
                "makes systemd's EnvironmentFile= read the line after it as part of its value (a backslash at the end of the line, "
                "which sh reads as part of a comment), while sh does not. Remove the backslash",
            )
        swallowed = bool(old_starts[index])
        if sh is None:
            result.append(_EnvLine(line, None, "", False, "", None, None, None, swallowed))
            continue
        key, export, value = sh
        sh_sets = True
        if body != content:  # sh reads the CR before the line end as part of the line
            try:
                with_cr = _sh_line(content)
            except _EnvRefusal:
                with_cr = None
            sh_sets = with_cr is not None and with_cr[0] == key
            value = with_cr[2] if with_cr is not None and sh_sets else None
        systemd = assignments.get(index)
        old = None if swallowed else old_assignments.get(index)
        result.append(
            _EnvLine(
                line,
                key,
                body[: len(body) - len(body.lstrip(" \t"))],
                export,
                body.split("=", 1)[1].rstrip(" \t"),
                value,
                systemd[1] if systemd is not None and systemd[0] == key else None,
                old[1] if old is not None and old[0] == key else None,
                swallowed,
                sh_sets,
            )
        )
    return result


def _env_style(raw: str) -> str:
    """The quoting of a value as written: ``'``, ``"`` or "" (unquoted)."""
    return raw[0] if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"" else ""


def _env_render(value: Value, style: str = "") -> str:
    """``value`` as both sh and systemd read it, in the quoting ``style`` of the file where that is exact."""
    text = str(value)
    if style == '"' and not re.search(r'[$`"\\]', text):
        return f'"{text}"'
    if style == "'":
        return f"'{text}'"
    return text if _ENV_SAFE.fullmatch(text) else f"'{text}'"


def _env_current(scan: list[_EnvLine], keys: t.Iterable[str]) -> dict[str, str | None]:
    found = {line.key: line.read() for line in scan if line.key is not None and line.sh_sets}  # the last assignment wins
    return {key: found.get(key) for key in keys}


def _env_readings(scan: list[_EnvLine]) -> list[dict[str, str | None]]:
    """What sh, systemd 254+ and systemd before 254 end up with for every key the file sets."""
    sh = {line.key: line.sh for line in scan if line.key is not None and line.sh_sets}
    systemd = {line.key: line.systemd for line in scan if line.key is not None and line.systemd is not None}
    old = {line.key: line.old_systemd for line in scan if line.key is not None and line.old_systemd is not None}
    return [sh, systemd, old]


def _env_converted(before: list[_EnvLine], text: str, values: dict[str, Value], path: str) -> list[_EnvLine]:
    """The scan of ``text``, the file converted from CRLF to LF; refuses a conversion that changes what systemd reads."""
    try:
        after = _env_scan(text, path)
    except ConfigFileError as exc:
        converted = (
            "as an env file once its CRLF line endings are converted to LF (which the module must do: sh reads every carriage "
            "return as part of a value):"
        )
        raise ConfigFileError(str(exc).replace("as an env file:", converted, 1)) from None
    for index, (old, new) in enumerate(zip(before, after)):
        if new.swallowed and not old.swallowed and new.key is not None and new.key not in values:
            comment = max(number for number in range(index) if not after[number].swallowed) + 1
            raise ConfigFileError(
                f"Cannot convert the env file {path} from CRLF to LF line endings safely: the comment on line {comment} ends with a "
                f"backslash, so with LF line endings systemd before version 254 (Debian 12, RHEL 9) would read line {index + 1} as "
                f"part of that comment and no longer set its variable. Remove the backslash at the end of line {comment} (or put a "
                "blank line after it); it was not changed."
            )
    return after


def _env_swallows_appended(text: str) -> bool:
    """Whether systemd before 254 would read a line appended to ``text`` as part of a comment."""
    if not text:
        return False
    return bool(_systemd_env(text if text.endswith("\n") else text + "\n", comment_escapes=True)[1][-1])


def _merge_env(text: str | None, values: dict[str, Value], path: str) -> Merge:
    scan = _env_scan(text, path)
    # A managed line that sh read with a CR at its end was damaged even where the conversion to LF alone repairs it.
    rewritten = {line.key for line in scan if line.key in values and not line.holds(values[line.key])}
    crlf = "\r\n" in (text or "")
    if crlf:
        scan = _env_converted(scan, (text or "").replace("\r\n", "\n"), values, path)
    present = {line.key for line in scan if line.key is not None}
    out: list[str] = []
    style = ""  # quoting of new entries: that of the file's last assignment
    for line in scan:
        if line.key is None:
            out.append(line.text)
            continue
        style = _env_style(line.raw)
        if line.key in values and not line.holds(values[line.key]):  # every occurrence
            # "export" goes (systemd ignores such a line); a line that systemd before 254 reads as part of the comment
            # above it gets a blank line before it, which ends that comment there.
            blank = "\n" if line.swallowed else ""
            out.append(f"{blank}{line.indent}{line.key}={_env_render(values[line.key], style)}{_line_end(line.text)}")
            rewritten.add(line.key)
        else:
            out.append(line.text)
    changed = [key for key in values if key in rewritten or key not in present]
    if not changed and not crlf and text is not None:
        return Merge(text, [])
    new = [f"{key}={_env_render(values[key], style)}\n" for key in values if key not in present]
    if new and _env_swallows_appended("".join(out)):
        new[0] = "\n" + new[0]
    new_text = "".join(_append_lines(out, new, "\n"))
    # Prove the result: the managed keys held everywhere, every other key read as before by sh and both systemd versions.
    try:
        after = _env_scan(new_text, path)
    except ConfigFileError:
        after = None
    readings = [{key: value for key, value in reading.items() if key not in values} for reading in _env_readings(scan)]
    if (
        after is None
        or any(not line.holds(values[line.key]) for line in after if line.key in values)
        or {line.key for line in after if line.key is not None} != present | set(values)
        or [{key: value for key, value in reading.items() if key not in values} for reading in _env_readings(after)] != readings
    ):
        raise ConfigFileError(f"Cannot update the env file {path} safely; edit it by hand. It was not changed.")
    if not crlf:
        return Merge(new_text, changed)
    warning = (
        f"{path} had Windows (CRLF) line endings. sh reads the carriage return at the end of a line as part of the value (systemd's "
        "EnvironmentFile= does not), so the values sh saw were not the values in the file. The file is written with LF line "
        "endings; save it with LF line endings when you edit it (for example with dos2unix)."
    )
    return Merge(new_text, changed, (warning,), ("CRLF", "LF"))


# -- public API ---------------------------------------------------------------------------------


def merge(text: str | None, fmt: str, values: t.Mapping[str, Value], *, section: str = DEFAULT_SECTION, path: str = "the config file") -> Merge:
    """Merge ``values`` into ``text`` (None: no file yet) and return the new full text.

    ``path`` is used in messages only. The returned text is ``text`` itself when it already holds
    every value and needs no repair. Raises ConfigFileError for a file that cannot be parsed or
    edited safely (the message names the cause and the fix).
    """
    desired = check_values(values, fmt, path=path)
    if fmt == "json":
        return _merge_json(text, desired, path)
    if fmt == "yaml":
        return _merge_yaml(text, desired, path)
    if fmt == "ini":
        check_section(section, path=path)
        return _merge_ini(text, desired, section, path)
    return _merge_env(text, desired, path)


def parse_values(
    text: str | None, fmt: str, keys: t.Iterable[str], *, section: str = DEFAULT_SECTION, path: str = "the config file", option: str = "values"
) -> dict[str, str | None]:
    """Current values of ``keys`` in ``text`` as strings (None when missing), as the consuming program reads them.

    json: json.loads; yaml: yaml.safe_load (non-string values in their JSON form); ini:
    configparser on the file opened in text mode; env: as sh reads the last assignment of each key
    (as systemd's EnvironmentFile= reads it where sh would expand something, such as $HOME or ~).
    Raises ConfigFileError for unparsable text. ``option`` names where the keys came from.
    """
    keys = check_keys(keys, fmt, path=path, option=option)
    if fmt == "json":
        data = _json_load(text, path)
    elif fmt == "yaml":
        data = _yaml_load(text, path, _yaml_lib(path)) if text and text.strip() else {}
    elif fmt == "ini":
        return _ini_current(_ini_parser(text, path), section, keys)
    else:
        return _env_current(_env_scan(text, path), keys)
    return {key: _as_text(data.get(key)) for key in keys}


def read_managed(path: str, fmt: str, keys: t.Iterable[str], *, section: str = DEFAULT_SECTION) -> dict[str, str | None]:
    """Current values of ``keys`` in the file at ``path``; all None when the file does not exist."""
    return parse_values(read_text(path), fmt, keys, section=section, path=path)


# -- files --------------------------------------------------------------------------------------
#
# Target hosts are not trusted: every function below works on a Location (a directory opened by
# _fileio.open_location, which refuses links and untrusted directories) and opens files relative
# to it with O_NOFOLLOW, so a link planted as the file, the lock, a backup or a temporary file is
# refused, never followed. A plain path is accepted too, for callers that own the directory: it is
# opened the same way, without following a final link.

Target = t.Union[str, Location]


@contextlib.contextmanager
def _located(target: Target) -> t.Iterator[Location | None]:
    """The target as a Location; None when a directory on the way does not exist."""
    if isinstance(target, Location):
        yield target
        return
    try:
        location = open_location(target)
    except MissingDirectoryError:
        yield None
        return
    except FileIOError as exc:
        raise ConfigFileError(str(exc)) from None
    with location:
        yield location


def _link_refused(location: Location) -> ConfigFileError:
    return ConfigFileError(f"{location.path} is a symbolic link; it is not followed. Point `path` at the real file.")


def file_stat(target: Target) -> os.stat_result | None:
    """``lstat`` of an existing regular file, None when there is none. A link or an untrusted entry is refused."""
    with _located(target) as location:
        if location is None:
            return None
        try:
            result = os.stat(location.name, dir_fd=location.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigFileError(
                f"Cannot inspect {location.path}: {exc.strerror or exc}. Run the task with become if the file belongs to another user."
            ) from None
        if stat.S_ISLNK(result.st_mode):
            raise _link_refused(location)
        _check_regular(location, result)
        return result


def read_file(target: Target) -> tuple[str | None, os.stat_result | None]:
    """The file's text (UTF-8) and the ``fstat`` of the descriptor it was read from; ``(None, None)`` when it does not exist.

    Opened with ``O_NOFOLLOW`` (a link is refused) and ``O_NONBLOCK`` (a FIFO cannot block), and
    checked to be a regular file through the descriptor, so what is checked is what is read.
    """
    with _located(target) as location:
        if location is None:
            return None, None
        try:
            fd = os.open(location.name, os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, dir_fd=location.dir_fd)
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise _link_refused(location) from None
            raise ConfigFileError(
                f"Cannot read {location.path}: {exc.strerror or exc}. Run the task with become if the file belongs to another user."
            ) from None
        try:
            result = os.fstat(fd)
            _check_regular(location, result)
        except BaseException:
            os.close(fd)
            raise
        with os.fdopen(fd, "rb") as handle:
            try:
                data = handle.read()
            except OSError as exc:
                raise ConfigFileError(f"Cannot read {location.path}: {exc.strerror or exc}.") from None
    try:
        return data.decode("utf-8"), result
    except UnicodeDecodeError:
        raise ConfigFileError(f"{location.path} is not UTF-8 text; convert it to UTF-8 first. It was not changed.") from None


def read_text(target: Target) -> str | None:
    """The file's text (UTF-8), or None when it does not exist (see :func:`read_file`)."""
    return read_file(target)[0]


def set_attributes(location: Location, expected: os.stat_result, *, mode: int, uid: int = -1, gid: int = -1) -> None:
    """Change the owner, group and mode of the existing file through its descriptor (``fchown``, ``fchmod``).

    The file is opened with ``O_NOFOLLOW`` and must still be the one that was read (``expected``).
    """
    try:
        fd = os.open(location.name, os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, dir_fd=location.dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise _link_refused(location) from None
        raise ConfigFileError(f"Cannot set the mode, owner or group of {location.path}: {exc.strerror or exc}.") from None
    try:
        current = os.fstat(fd)
        if (current.st_dev, current.st_ino) != (expected.st_dev, expected.st_ino):
            raise ConfigFileError(f"{location.path} was replaced while this task ran; run it again.")
        _check_regular(location, current)
        if uid != -1 or gid != -1:
            os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    except OSError as exc:
        raise ConfigFileError(f"Cannot set the mode, owner or group of {location.path}: {exc.strerror or exc}.") from None
    finally:
        os.close(fd)


def _check_regular(location: Location, result: os.stat_result) -> None:
    if not stat.S_ISREG(result.st_mode):
        raise ConfigFileError(f"{location.path} exists but is not a regular file; give the path of the config file itself in `path`.")
    try:
        location.check(result)
    except FileIOError as exc:
        raise ConfigFileError(str(exc)) from None


def parse_mode(mode: t.Any) -> int:
    """File permission bits from an octal string such as ``'0640'``, ``'640'`` or ``'0o640'``, or an integer.

    Strings are read as octal, as ansible-core's file modules do. An integer is taken as the number
    it is, except one whose decimal digits read like an octal mode (all of them 0-7, for example
    640): YAML makes an unquoted ``mode: 640`` the number 640, which is the mode 01200, so such an
    integer is refused, naming the quoted form. Integers that are the same either way (0-7) and
    integers with an 8 or a 9 (an unquoted ``0600`` arrives as 384) are accepted. Raises
    ConfigFileError; the message names the option as `mode`.
    """
    if isinstance(mode, int) and not isinstance(mode, bool):
        digits = str(mode)
        if re.fullmatch(r"[0-7]+", digits) and int(digits, 8) != mode:
            quoted = digits.zfill(4)
            meaning = f"the mode 0{mode:03o}" if mode <= 0o7777 else "no valid mode (it is above 07777 in octal)"
            raise ConfigFileError(
                f"`mode` is the integer {mode}, which is ambiguous: its digits read like the octal mode '{quoted}', but the number "
                f"{mode} is {meaning}. (YAML reads an unquoted 640 as the number 640, and an unquoted 0640 as the number 416.) Give "
                f"the mode as a quoted octal string, for example '{quoted}'."
            )
        number = mode
    elif isinstance(mode, str) and re.fullmatch(r"(?:0o)?[0-7]{3,4}", mode.strip()):
        number = int(mode.strip().replace("0o", ""), 8)
    else:
        shown = repr(mode) if isinstance(mode, (str, int, float)) or mode is None else type(mode).__name__
        raise ConfigFileError(
            f"Invalid `mode` {shown}: give an octal string such as '0640' (quoted in YAML); symbolic modes such as u=rw are not supported."
        )
    if not 0 <= number <= 0o7777:
        raise ConfigFileError(f"Invalid `mode` {mode!r}: it must be between 0000 and 07777 in octal.")
    return number


def resolve_uid(owner: str | None) -> int:
    """uid of a user name or numeric id; -1 for None (leave the owner alone)."""
    if owner is None:
        return -1
    if owner.isdigit():
        return int(owner)
    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise ConfigFileError(f"Unknown user {owner!r} in `owner` on this host: create the user first or give a numeric uid.") from None


def resolve_gid(group: str | None) -> int:
    """gid of a group name or numeric id; -1 for None (leave the group alone)."""
    if group is None:
        return -1
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ConfigFileError(f"Unknown group {group!r} in `group` on this host: create the group first or give a numeric gid.") from None


def lock_path(path: str) -> str:
    """The lock file that serialises writers of ``path``: a hidden file next to it."""
    directory, name = os.path.split(path)
    return os.path.join(directory, lock_name(name))


def lock_name(name: str) -> str:
    """The name of the lock file of the file ``name``, in the same directory."""
    return f".{name}.lock"


def backup_stamp() -> str:
    """UTC time stamp of backup names, so that names sort by age."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime())


def _backup_pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.escape(os.path.basename(path)) + r"\.(\d{8}T\d{6})(?:-(\d+))?\.bak")


def list_backups(target: Target) -> list[str]:
    """Backups of the file made by :func:`write_backup`, oldest first (paths).

    Only regular files of the user running this count: in a directory that others can write to
    (a sticky one), a file planted under a backup's name is neither counted nor ever deleted.
    """
    with _located(target) as location:
        if location is None:
            return []
        pattern = _backup_pattern(location.name)
        found = []
        for name in os.listdir(location.dir_fd):
            match = pattern.fullmatch(name)
            if match and _own_regular_file(name, location.dir_fd):
                found.append((match.group(1), int(match.group(2) or 0), os.path.join(location.directory, name)))
        return [entry[2] for entry in sorted(found)]


def _own_regular_file(name: str, dir_fd: int) -> bool:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid()


def write_backup(target: Target, data: bytes, *, keep: int = BACKUPS_KEPT, stamp: str | None = None) -> str:
    """Save ``data`` (the file's previous content) as ``<path>.<stamp>.bak``, mode 0600; keep the ``keep`` newest.

    A second backup within the same second gets ``-1``, ``-2``... after the stamp. Created with
    ``O_CREAT | O_EXCL | O_NOFOLLOW`` in the file's directory, so a planted name is skipped,
    never followed; old backups are removed by name in that directory.
    """
    stamp = stamp or backup_stamp()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC
    with _located(target) as location:
        if location is None:
            raise ConfigFileError(f"Cannot create a backup of {target}: its directory does not exist.")
        path, dir_fd = location.path, location.dir_fd
        number = 0
        while True:
            name = f"{location.name}.{stamp}.bak" if number == 0 else f"{location.name}.{stamp}-{number}.bak"
            backup = os.path.join(location.directory, name)
            try:
                fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
                break
            except FileExistsError:
                number += 1
            except OSError as exc:
                raise ConfigFileError(f"Cannot create the backup {backup}: {exc.strerror or exc}. {path} was not changed.") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            os.unlink(name, dir_fd=dir_fd)
            raise ConfigFileError(f"Cannot write the backup {backup}: {exc.strerror or exc}. {path} was not changed.") from None
        # The new backup always stays, even if a clock set back makes it sort before older ones.
        older = [old for old in list_backups(location) if old != backup]
        for old in older[: max(len(older) - keep + 1, 0)]:
            try:
                os.unlink(os.path.basename(old), dir_fd=dir_fd)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise ConfigFileError(f"Cannot remove the old backup {old}: {exc.strerror or exc}.") from None
        return backup


__all__ = (
    "BACKUPS_KEPT",
    "DEFAULT_SECTION",
    "FORMATS",
    "ConfigFileError",
    "Merge",
    "Value",
    "backup_stamp",
    "changed_keys",
    "check_format",
    "check_keys",
    "check_section",
    "check_values",
    "file_stat",
    "fingerprint",
    "list_backups",
    "lock_name",
    "lock_path",
    "merge",
    "parse_mode",
    "parse_values",
    "read_file",
    "read_managed",
    "read_text",
    "resolve_gid",
    "resolve_uid",
    "set_attributes",
    "write_backup",
)
