# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read and merge managed keys in application config files (json, yaml, ini, env).

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on target hosts that may have nothing but a bare system Python: json, ini and env need only
the standard library; yaml needs PyYAML, which is imported only when a yaml file is handled.

A merge changes only the managed keys. Unrelated keys, sections, comments and their order stay
byte-identical where the format allows (json is re-serialised when something changes), missing
keys are appended, and merging a file that already holds the values returns the identical text,
so an unchanged file is never rewritten. A file that cannot be parsed raises ConfigFileError and
is left alone. Messages name the file, the problem and the fix, and never contain a value of a
managed key (nor any line of the file: parser messages that quote the file are not passed on).
"""

from __future__ import annotations

import configparser
import contextlib
import errno
import grp
import hashlib
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

FORMATS = ("json", "yaml", "ini", "env")
DEFAULT_SECTION = "zoho_thrive"
BACKUPS_KEPT = 3

Value = t.Union[str, int]


class ConfigFileError(Exception):
    """A config file cannot be read, merged or written. The message never contains a managed value."""


class Merge(t.NamedTuple):
    """The result of :func:`merge`: the new full text and the managed keys whose entries it rewrote or added."""

    text: str
    changed_keys: list[str]


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
        raise ConfigFileError(f"Unknown config file format {fmt!r}; use one of {', '.join(FORMATS)}.")


def check_section(section: str, *, path: str) -> None:
    if not section or section != section.strip() or "\n" in section or "\r" in section:
        raise ConfigFileError(f"Invalid ini section name {section!r} for {path}: it must be non-empty, on one line, without surrounding spaces.")


def check_keys(keys: t.Iterable[str], fmt: str, *, path: str) -> list[str]:
    """Validate managed key names for ``fmt``; return them as a list."""
    check_format(fmt)
    result = []
    for key in keys:
        if not isinstance(key, str) or not _KEY_PATTERNS[fmt].fullmatch(key):
            raise ConfigFileError(f"Cannot manage the key {key!r} in the {fmt} file {path}: a key must be {_KEY_RULES[fmt]}.")
        result.append(key)
    if fmt == "ini":
        seen: dict[str, str] = {}
        for key in result:
            if key.lower() in seen and seen[key.lower()] != key:
                raise ConfigFileError(
                    f"The keys {seen[key.lower()]!r} and {key!r} are the same ini option for {path} (ini keys ignore case); give only one."
                )
            seen[key.lower()] = key
    return result


def check_values(values: t.Mapping[str, t.Any], fmt: str, *, path: str) -> dict[str, Value]:
    """Validate the managed keys and values for ``fmt``. Messages name the key, never the value."""
    if not values:
        raise ConfigFileError(f"Nothing to write to {path}: give at least one managed key in values.")
    check_keys(values, fmt, path=path)
    result: dict[str, Value] = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ConfigFileError(f"Cannot write {key} to {path}: its value must be a string or an integer, not {type(value).__name__}.")
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
    """SHA-256 hex digest of the value's string form, or None for a missing value."""
    if value is None:
        return None
    return hashlib.sha256(str(value).encode("utf-8", "surrogatepass")).hexdigest()


def _as_text(value: t.Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    # Not a value this collection writes (bool, float, list, mapping, date): report its JSON form.
    return json.dumps(value, default=str)


def _split_lines(text: str) -> list[str]:
    """Lines with their line ends. Unlike ``str.splitlines`` only ``\\n`` ends a line, as for the parsers."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _append_lines(lines: list[str], new: list[str]) -> list[str]:
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines + new


# -- json ---------------------------------------------------------------------------------------


def _json_load(text: str | None, path: str) -> dict[str, t.Any]:
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno}: {exc.msg})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ConfigFileError(f"Cannot parse {path} as JSON{where}. Fix the file or choose the right format; it was not changed.") from None
    if not isinstance(data, dict):
        raise ConfigFileError(
            f"{path} holds a JSON {type(data).__name__}, not an object; the managed keys need a top-level JSON object. It was not changed."
        )
    return data


def _merge_json(text: str | None, values: dict[str, Value], path: str) -> Merge:
    data = _json_load(text, path)
    changed = changed_keys(data, values)
    if not changed and text is not None:
        return Merge(text, [])
    data.update((key, values[key]) for key in changed)  # existing keys keep their place, new ones are appended
    return Merge(json.dumps(data, indent=2) + "\n", changed)


# -- yaml ---------------------------------------------------------------------------------------

# Plain words that YAML 1.1 (PyYAML) reads as booleans or null: such keys are written quoted.
_YAML_SPECIAL_WORDS = frozenset("yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF null Null NULL".split())


def _yaml_lib(path: str) -> t.Any:
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise ConfigFileError(
            f"Cannot handle the YAML file {path}: the Python library PyYAML is missing on this host. Install it for the Python "
            "that runs Ansible modules (the python3-yaml package, or PyYAML with pip)."
        ) from None
    return yaml


def _yaml_load(text: str | None, path: str, yaml: t.Any) -> dict[t.Any, t.Any]:
    if text is None or not text.strip():
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # The YAML error text quotes the offending line, which may hold a secret: pass on the position only.
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigFileError(f"Cannot parse {path} as YAML{where}. Fix the file or choose the right format; it was not changed.") from None
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


def _yaml_block_end(lines: list[str], start: int) -> int:
    """Index after the last line of the value of the top-level key on line ``start``.

    The value goes on over indented lines and over ``-`` sequence entries, which YAML allows at the
    key's own indentation. Blank and comment lines inside the value go with it; those after it stay.
    """
    end = start + 1
    index = start + 1
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        if line[0] in " \t" or stripped == "-" or line.startswith("- "):
            index += 1
            end = index
            continue
        break
    return end


def _merge_yaml(text: str | None, values: dict[str, Value], path: str) -> Merge:
    yaml = _yaml_lib(path)
    before = _yaml_load(text, path, yaml)
    changed = changed_keys(before, values)
    if not changed and text is not None:
        return Merge(text, [])
    lines = _split_lines(text or "")
    for key in changed:
        forms = [f'"{key}"', f"'{key}'"] + ([] if key in _YAML_SPECIAL_WORDS else [key])
        pattern = re.compile(r"(?:%s)[ \t]*:(?=[ \t\r\n]|$)" % "|".join(re.escape(form) for form in forms))
        new_line = f"{_yaml_key(key)}: {_yaml_scalar(values[key])}\n"
        found = False
        index = 0
        while index < len(lines):
            if pattern.match(lines[index]):
                # An inline comment on the key's own line goes with the old value.
                lines[index:_yaml_block_end(lines, index)] = [new_line]
                found = True
            index += 1
        if not found:
            lines = _append_lines(lines, [new_line])
    new_text = "".join(lines)
    # Text editing is only safe for top-level scalar keys: prove the result means what was intended.
    expected = dict(before)
    expected.update(values)
    try:
        after = _yaml_load(new_text, path, yaml)
    except ConfigFileError:
        after = None
    if after != expected or changed_keys(after, values):
        raise ConfigFileError(
            f"Cannot update the YAML file {path} safely: the managed keys must be top-level scalar keys in block style "
            f"(key: value), one document per file. Edit the file by hand or choose another format; it was not changed."
        )
    return Merge(new_text, changed)


# -- ini ----------------------------------------------------------------------------------------

# configparser's own patterns (RawConfigParser.SECTCRE and OPTCRE), applied to stripped lines.
_INI_SECTION = re.compile(r"\[(?P<header>.+)\]")
_INI_OPTION = re.compile(r"(?P<option>.*?)\s*(?P<vi>[=:])\s*(?P<value>.*)$")


def _ini_parser(text: str | None, path: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    if not text:
        return parser
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        # configparser's messages quote the offending line, which may hold a secret: pass on the line number only.
        lineno = getattr(exc, "lineno", None)
        if lineno is None and getattr(exc, "errors", None):
            lineno = exc.errors[0][0]
        where = f" (line {lineno})" if lineno else ""
        raise ConfigFileError(
            f"Cannot parse {path} as an ini file{where}: {type(exc).__name__}. Python's configparser must be able to read it (every "
            "option inside a [section], no duplicate sections or options). Fix the file or choose the right format; it was not changed."
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


def _ini_line(line: str, value: Value) -> str:
    """``key = value`` keeping the line's indentation and the key as spelled in the file."""
    indent = line[: len(line) - len(line.lstrip())]
    option = _INI_OPTION.match(line.strip())
    key = option.group("option").rstrip() if option else line.strip()
    text = str(value)
    return f"{indent}{key} = {text}\n" if text else f"{indent}{key} =\n"


def _merge_ini(text: str | None, values: dict[str, Value], section: str, path: str) -> Merge:
    before = _ini_parser(text, path)
    current = _ini_current(before, section, values)
    changed = changed_keys(current, {key: str(value) for key, value in values.items()})
    if not changed and text is not None:
        return Merge(text, [])
    lines = _split_lines(text or "")
    scan = _ini_scan(lines)
    wanted = {key.lower(): key for key in changed}
    replace: dict[int, str] = {}
    drop: set[int] = set()
    last_content = -1
    for index, (kind, line_section, option, owner) in enumerate(scan):
        if line_section != section or kind in ("blank", "comment"):
            continue
        last_content = index
        if kind == "option" and option in wanted:
            replace[index] = _ini_line(lines[index], values[wanted.pop(option)])
        elif kind == "continuation" and owner in replace:
            drop.update(range(owner + 1, index + 1))  # the old value's lines, with any blank or comment lines among them
    new_lines = [f"{key} = {values[key]}\n" if str(values[key]) else f"{key} =\n" for key in wanted.values()]
    out: list[str] = []
    for index, line in enumerate(lines):
        if index not in drop:
            out.append(replace.get(index, line))
        if index == last_content and new_lines:
            if not out[-1].endswith("\n"):
                out[-1] += "\n"
            out.extend(new_lines)
    if last_content < 0:
        separator = ["\n"] if out and out[-1].strip() else []
        out = _append_lines(out, separator + [f"[{section}]\n"] + new_lines)
    new_text = "".join(out)
    # Prove the edit means what was intended: the managed options set, everything else the same.
    expected = _ini_parser(text, path)
    if section != configparser.DEFAULTSECT and not expected.has_section(section):
        expected.add_section(section)
    for key in changed:
        expected.set(section, key, str(values[key]))
    try:
        after = _ini_snapshot(_ini_parser(new_text, path))
    except ConfigFileError:
        after = None
    if after != _ini_snapshot(expected):
        raise ConfigFileError(
            f"Cannot update the ini file {path} safely: merging the keys into [{section}] would change other settings. "
            "Edit the file by hand; it was not changed."
        )
    return Merge(new_text, changed)


# -- env ----------------------------------------------------------------------------------------

_ENV_LINE = re.compile(r"(?P<lead>[ \t]*(?:export[ \t]+)?)(?P<key>[A-Za-z_][A-Za-z0-9_]*)(?P<space>[ \t]*=[ \t]*)(?P<raw>.*?)[ \t]*")


def _env_scan(text: str | None, path: str) -> list[tuple[str, re.Match[str] | None]]:
    """``(line, match)`` per line; match is None for blank and comment lines."""
    result: list[tuple[str, re.Match[str] | None]] = []
    for number, line in enumerate(_split_lines(text or ""), start=1):
        body = line.rstrip("\r\n")
        stripped = body.strip()
        if not stripped or stripped.startswith("#"):
            result.append((line, None))
            continue
        match = _ENV_LINE.fullmatch(body)
        if match is None:
            raise ConfigFileError(
                f"Cannot parse {path} as an env file: line {number} is not a KEY=value assignment, a comment or a blank line "
                "(multi-line values are not supported either). Fix the file or choose the right format; it was not changed."
            )
        result.append((line, match))
    return result


def _env_unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw


def _env_render(value: Value) -> str:
    text = str(value)
    return text if _ENV_SAFE.fullmatch(text) else f"'{text}'"


def _env_holds(match: re.Match[str], value: Value) -> bool:
    """Whether the assignment gives exactly ``value`` to both sh and systemd."""
    if match.group("space") != "=":
        return False
    text = str(value)
    forms = {_env_render(value), f"'{text}'"}
    if not re.search(r'[$`"\\]', text):  # double quotes are literal only without these
        forms.add(f'"{text}"')
    return match.group("raw") in forms


def _env_current(scan: list[tuple[str, re.Match[str] | None]], keys: t.Iterable[str]) -> dict[str, str | None]:
    found: dict[str, str] = {}
    for _line, match in scan:
        if match is not None:
            found[match.group("key")] = _env_unquote(match.group("raw"))  # the last assignment wins
    return {key: found.get(key) for key in keys}


def _merge_env(text: str | None, values: dict[str, Value], path: str) -> Merge:
    scan = _env_scan(text, path)
    present = {match.group("key") for _line, match in scan if match is not None}
    rewritten: set[str] = set()
    out: list[str] = []
    for line, match in scan:
        key = match.group("key") if match is not None else None
        if match is not None and key in values and not _env_holds(match, values[key]):
            body = line.rstrip("\r\n")
            line = f"{match.group('lead')}{key}={_env_render(values[key])}{line[len(body):]}"  # every occurrence
            rewritten.add(key)
        out.append(line)
    changed = [key for key in values if key in rewritten or key not in present]
    if not changed and text is not None:
        return Merge(text, [])
    out = _append_lines(out, [f"{key}={_env_render(values[key])}\n" for key in values if key not in present])
    return Merge("".join(out), changed)


# -- public API ---------------------------------------------------------------------------------


def merge(text: str | None, fmt: str, values: t.Mapping[str, Value], *, section: str = DEFAULT_SECTION, path: str = "the config file") -> Merge:
    """Merge ``values`` into ``text`` (None: no file yet) and return the new full text.

    ``path`` is used in messages only. The returned text is ``text`` itself when it already holds
    every value.
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


def parse_values(text: str | None, fmt: str, keys: t.Iterable[str], *, section: str = DEFAULT_SECTION, path: str = "the config file") -> dict[str, str | None]:
    """Current values of ``keys`` in ``text`` as strings (None when missing). Raises for unparsable text."""
    keys = check_keys(keys, fmt, path=path)
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
    return ConfigFileError(f"{location.path} is a symbolic link; it is not followed. Point the task at the real file.")


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
        raise ConfigFileError(f"{location.path} exists but is not a regular file; give the path of the config file itself.")
    try:
        location.check(result)
    except FileIOError as exc:
        raise ConfigFileError(str(exc)) from None


def parse_mode(mode: t.Any) -> int:
    """File permission bits from an int or an octal string such as ``'0640'``."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        number = mode
    elif isinstance(mode, str) and re.fullmatch(r"(?:0o)?[0-7]{3,4}", mode.strip()):
        number = int(mode.strip().replace("0o", ""), 8)
    else:
        raise ConfigFileError(f"Invalid mode {mode!r}: give an octal string such as '0640' (quoted in YAML) or an integer.")
    if not 0 <= number <= 0o7777:
        raise ConfigFileError(f"Invalid mode {mode!r}: it must be between 0000 and 07777 in octal.")
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
        raise ConfigFileError(f"Unknown user {owner!r} on this host: create the user first or give a numeric uid.") from None


def resolve_gid(group: str | None) -> int:
    """gid of a group name or numeric id; -1 for None (leave the group alone)."""
    if group is None:
        return -1
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ConfigFileError(f"Unknown group {group!r} on this host: create the group first or give a numeric gid.") from None


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
