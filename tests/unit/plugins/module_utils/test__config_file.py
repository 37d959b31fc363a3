# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Merging managed keys into json, yaml, ini and env files, and the file helpers."""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import typing as t

import pytest
import yaml

from ansible_collections.zohothrive.oauth.plugins.module_utils import _config_file
from ansible_collections.zohothrive.oauth.plugins.module_utils._config_file import (
    ConfigFileError,
    Value,
    changed_keys,
    check_values,
    fingerprint,
    list_backups,
    lock_path,
    merge,
    parse_mode,
    parse_values,
    read_managed,
    read_text,
    resolve_gid,
    resolve_uid,
    write_backup,
)

SECRET = "S3CRET-value-1000.abcdef"
PATH = "/etc/app/conf"


def mode_of(path: t.Any) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def sh_value(directory: t.Any, name: str, key: str) -> str:
    """The value ``sh`` gets for ``key`` after sourcing ``name``."""
    result = subprocess.run(["sh", "-c", f'. ./{name}; printf %s "${key}"'], cwd=str(directory), check=True, capture_output=True)
    return result.stdout.decode("utf-8")  # bytes: text mode would turn a CR into a line feed


# -- shared rules -------------------------------------------------------------------------------


def test_changed_keys_is_type_exact_and_ordered() -> None:
    current = {"a": "1", "b": 2, "c": True, "d": "same"}
    desired = {"d": "same", "a": 1, "b": 2, "c": 1, "e": "new"}
    assert changed_keys(current, desired) == ["a", "c", "e"]


def test_fingerprint_is_sha256_of_the_string_form() -> None:
    assert fingerprint("abc") == hashlib.sha256(b"abc").hexdigest()
    assert fingerprint(42) == hashlib.sha256(b"42").hexdigest()
    assert fingerprint(None) is None


@pytest.mark.parametrize("fmt", ["json", "yaml", "ini", "env"])
def test_missing_file_gets_every_key(fmt: str) -> None:
    result = merge(None, fmt, {"refresh_token": SECRET, "expires": 3600}, path=PATH)
    assert result.changed_keys == ["refresh_token", "expires"]
    assert parse_values(result.text, fmt, ["refresh_token", "expires"], path=PATH) == {"refresh_token": SECRET, "expires": "3600"}


@pytest.mark.parametrize("fmt", ["json", "yaml", "ini", "env"])
def test_merge_is_idempotent_and_returns_the_identical_text(fmt: str) -> None:
    values = {"refresh_token": SECRET, "access_token": "1000.a/b:c"}
    first = merge(None, fmt, values, path=PATH).text
    second = merge(first, fmt, values, path=PATH)
    assert second.changed_keys == []
    assert second.text == first


@pytest.mark.parametrize(
    "values, message",
    [
        ({}, "at least one managed key"),
        ({"k": True}, "string or an integer, not bool"),
        ({"k": 1.5}, "string or an integer, not float"),
        ({"k": None}, "string or an integer, not NoneType"),
        ({"k": ["x"]}, "string or an integer, not list"),
    ],
)
def test_values_must_be_strings_or_integers(values: dict[str, t.Any], message: str) -> None:
    with pytest.raises(ConfigFileError, match=message):
        check_values(values, "json", path=PATH)


@pytest.mark.parametrize(
    "fmt, key",
    [("env", "1ABC"), ("env", "A-B"), ("env", "A B"), ("yaml", "a b"), ("yaml", "a:b"), ("ini", "a=b"), ("ini", "[a]"), ("ini", ";x"), ("json", "")],
)
def test_key_names_must_suit_the_format(fmt: str, key: str) -> None:
    with pytest.raises(ConfigFileError, match="Cannot manage the key"):
        merge(None, fmt, {key: "v"}, path=PATH)


def test_unknown_format() -> None:
    with pytest.raises(ConfigFileError, match="Unknown config file format 'toml'"):
        merge(None, "toml", {"a": "b"}, path=PATH)


# -- json ---------------------------------------------------------------------------------------


def test_json_keeps_unrelated_keys_and_their_order() -> None:
    text = '{"name": "app", "refresh_token": "old", "nested": {"a": [1, 2]}, "n": 3}'
    result = merge(text, "json", {"refresh_token": SECRET, "access_token": "new"}, path=PATH)
    assert result.changed_keys == ["refresh_token", "access_token"]
    # Byte-faithful: only the value token is replaced, the new member follows the last one in the file's own style.
    assert result.text == f'{{"name": "app", "refresh_token": "{SECRET}", "nested": {{"a": [1, 2]}}, "n": 3, "access_token": "new"}}'
    assert list(json.loads(result.text)) == ["name", "refresh_token", "nested", "n", "access_token"]


def test_json_unchanged_file_keeps_its_own_formatting() -> None:
    text = '{"refresh_token":"x","other":1}'  # not how json.dumps would write it
    assert merge(text, "json", {"refresh_token": "x"}, path=PATH).text == text


def test_json_integer_and_string_are_different_values() -> None:
    result = merge('{"expires": "3600"}', "json", {"expires": 3600}, path=PATH)
    assert result.changed_keys == ["expires"]
    assert json.loads(result.text) == {"expires": 3600}


@pytest.mark.parametrize("text", ["", "  \n"])
def test_json_empty_file_becomes_an_object(text: str) -> None:
    assert json.loads(merge(text, "json", {"a": "b"}, path=PATH).text) == {"a": "b"}


@pytest.mark.parametrize("text, kind", [("[1, 2]", "list"), ('"x"', "str"), ("3", "int"), ("null", "NoneType")])
def test_json_non_object_is_refused(text: str, kind: str) -> None:
    with pytest.raises(ConfigFileError, match=f"{PATH} holds a JSON {kind}, not an object"):
        merge(text, "json", {"a": "b"}, path=PATH)


def test_json_parse_error_names_the_file_and_position_but_no_content() -> None:
    with pytest.raises(ConfigFileError) as info:
        merge('{"refresh_token": "' + SECRET + '",\n oops}', "json", {"a": "b"}, path=PATH)
    message = str(info.value)
    assert message.startswith(f"Cannot parse {PATH} as JSON (line 2, column 2")
    assert "it was not changed" in message
    assert SECRET not in message


def test_json_read_values_as_strings() -> None:
    text = '{"s": "x", "i": 5, "b": true, "l": [1], "n": null}'
    assert parse_values(text, "json", ["s", "i", "b", "l", "n", "missing"], path=PATH) == {
        "s": "x",
        "i": "5",
        "b": "true",
        "l": "[1]",
        "n": None,
        "missing": None,
    }


# -- yaml ---------------------------------------------------------------------------------------

YAML_TEXT = """\
# Application settings
name: app    # the name
refresh_token: old-token
access_token: |
  old
  multi-line

nested:
  refresh_token: keep-me   # not top level: not managed
list:
- a
- b
# trailing comment
"""


def test_yaml_keeps_comments_and_unrelated_keys_byte_identical() -> None:
    result = merge(YAML_TEXT, "yaml", {"refresh_token": SECRET, "access_token": "new", "added": 7}, path=PATH)
    assert result.changed_keys == ["refresh_token", "access_token", "added"]
    assert result.text == (
        "# Application settings\n"
        "name: app    # the name\n"
        f"refresh_token: {SECRET}\n"  # plain, as the old value was
        'access_token: "new"\n'
        "\n"
        "nested:\n"
        "  refresh_token: keep-me   # not top level: not managed\n"
        "list:\n"
        "- a\n"
        "- b\n"
        "# trailing comment\n"
        "added: 7\n"
    )
    loaded = yaml.safe_load(result.text)
    assert loaded["nested"] == {"refresh_token": "keep-me"} and loaded["list"] == ["a", "b"]


def test_yaml_replaces_a_block_sequence_value_at_the_key_indentation() -> None:
    result = merge("a: 1\ntoken:\n- x\n-\n  - y\nb: 2\n", "yaml", {"token": "t"}, path=PATH)
    assert result.text == 'a: 1\ntoken: "t"\nb: 2\n'


def test_yaml_appends_with_a_line_end_when_the_file_lacks_one() -> None:
    assert merge("a: 1", "yaml", {"t": "v"}, path=PATH).text == 'a: 1\nt: "v"\n'


def test_yaml_plain_value_that_already_matches_is_not_rewritten() -> None:
    text = "refresh_token: 1000.abc  # set by hand\n"
    assert merge(text, "yaml", {"refresh_token": "1000.abc"}, path=PATH).text == text


def test_yaml_string_that_looks_like_a_number_is_rewritten_quoted() -> None:
    result = merge("code: 123\n", "yaml", {"code": "123"}, path=PATH)
    assert result.text == 'code: "123"\n'
    assert yaml.safe_load(result.text) == {"code": "123"}


@pytest.mark.parametrize("value", ['quote " and \\ backslash', "tab\tnew\nline", "caf\u00e9 \u2028 \U0001f600", "# not a comment", "", "yes"])
def test_yaml_any_string_round_trips(value: str) -> None:
    result = merge("other: 1\n", "yaml", {"token": value}, path=PATH)
    assert yaml.safe_load(result.text) == {"other": 1, "token": value}


def test_yaml_special_word_key_is_quoted() -> None:
    result = merge(None, "yaml", {"on": "x"}, path=PATH)
    assert result.text == '"on": "x"\n'
    assert yaml.safe_load(result.text) == {"on": "x"}


def test_yaml_quoted_key_is_found() -> None:
    text = "'refresh_token': old\n\"access_token\": old\n"
    result = merge(text, "yaml", {"refresh_token": "n", "access_token": "m"}, path=PATH)
    assert result.text == "'refresh_token': n\n\"access_token\": m\n"  # the keys stay as written


@pytest.mark.parametrize(
    "text, message",
    [
        ("{refresh_token: old, other: 1}\n", "its top-level mapping is written in flow style"),  # the key is not on a line of its own
        ("token: &anchor old\nother: *anchor\n", "would change other values too"),  # another key uses the old value
        ("? token\n:\n  - old\n", "is written as a complex key"),  # "? token\n: old\n" is edited in place
        ("a: 1\n---\nb: 2\n", "holds more than one YAML document (the next one starts on line 2)"),
    ],
)
def test_yaml_refuses_what_it_cannot_edit_safely(text: str, message: str) -> None:
    with pytest.raises(ConfigFileError, match=re.escape(message)) as info:
        merge(text, "yaml", {"token": "new", "refresh_token": "n"}, path=PATH)
    assert "it was not changed" in str(info.value)


@pytest.mark.parametrize("text, kind", [("- a\n- b\n", "list"), ("just text\n", "str")])
def test_yaml_non_mapping_is_refused(text: str, kind: str) -> None:
    with pytest.raises(ConfigFileError, match=f"holds a YAML {kind}, not a mapping"):
        merge(text, "yaml", {"a": "b"}, path=PATH)


def test_yaml_parse_error_names_the_file_and_position_but_no_content() -> None:
    with pytest.raises(ConfigFileError) as info:
        merge(f'a: 1\nrefresh_token: "{SECRET}\\q"\n', "yaml", {"a": "b"}, path=PATH)
    message = str(info.value)
    assert message.startswith(f"Cannot parse {PATH} as YAML (line 2")
    assert SECRET not in message and "\\q" not in message


def test_yaml_empty_or_comment_only_file_is_an_empty_mapping() -> None:
    assert merge("# only a comment\n", "yaml", {"a": "b"}, path=PATH).text == '# only a comment\na: "b"\n'


def test_yaml_without_pyyaml_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # makes ``import yaml`` raise ImportError
    with pytest.raises(ConfigFileError, match="PyYAML is missing on this host.*python3-yaml"):
        merge("a: 1\n", "yaml", {"a": "b"}, path=PATH)
    # Reading a missing file needs no parser at all.
    assert parse_values(None, "yaml", ["a"], path=PATH) == {"a": None}


# -- ini ----------------------------------------------------------------------------------------

INI_TEXT = """\
; global comment
[DEFAULT]
shared = 1

[app]
# app comment
name: app

[zoho_thrive]
# managed by ansible
Refresh_Token = old
  continued
access_token=keep-me
other = unrelated ; not an inline comment for configparser


[later]
x = y
"""


def test_ini_replaces_and_appends_inside_the_section_only() -> None:
    result = merge(INI_TEXT, "ini", {"refresh_token": SECRET, "expires": 60, "access_token": "keep-me"}, path=PATH)
    assert result.changed_keys == ["refresh_token", "expires"]
    assert result.text == INI_TEXT.replace("Refresh_Token = old\n  continued\n", f"Refresh_Token = {SECRET}\n").replace(
        "other = unrelated ; not an inline comment for configparser\n",
        "other = unrelated ; not an inline comment for configparser\nexpires = 60\n",
    )
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(result.text)
    assert dict(parser.items("zoho_thrive", raw=True)) == {
        "shared": "1",
        "refresh_token": SECRET,
        "access_token": "keep-me",
        "other": "unrelated ; not an inline comment for configparser",
        "expires": "60",
    }


def test_ini_creates_the_section_at_the_end() -> None:
    assert merge("[app]\nname = x", "ini", {"token": "v"}, path=PATH).text == "[app]\nname = x\n\n[zoho_thrive]\ntoken = v\n"
    assert merge("[app]\nname = x\n\n", "ini", {"token": "v"}, section="zoho", path=PATH).text == "[app]\nname = x\n\n[zoho]\ntoken = v\n"
    assert merge(None, "ini", {"token": ""}, path=PATH).text == "[zoho_thrive]\ntoken =\n"


def test_ini_section_names_are_case_sensitive_like_configparser() -> None:
    result = merge("[Zoho_Thrive]\ntoken = a\n", "ini", {"token": "b"}, path=PATH)
    assert result.text == "[Zoho_Thrive]\ntoken = a\n\n[zoho_thrive]\ntoken = b\n"


def test_ini_value_inherited_from_default_counts_as_current() -> None:
    text = "[DEFAULT]\ntoken = a\n\n[zoho_thrive]\n"
    assert merge(text, "ini", {"token": "a"}, path=PATH).text == text
    assert merge(text, "ini", {"token": "b"}, path=PATH).text == text + "token = b\n"


def test_ini_default_section_can_be_managed() -> None:
    result = merge("[DEFAULT]\ntoken = a\n\n[x]\ny = 1\n", "ini", {"token": "b"}, section="DEFAULT", path=PATH)
    assert result.text == "[DEFAULT]\ntoken = b\n\n[x]\ny = 1\n"


@pytest.mark.parametrize("value", [f"{SECRET}\nlines", f"{SECRET}\rreturn", f" {SECRET}", f"{SECRET}\t"])
def test_ini_refuses_values_it_cannot_hold_unchanged(value: str) -> None:
    with pytest.raises(ConfigFileError, match="line break or leading or trailing whitespace") as info:
        merge(None, "ini", {"token": value}, path=PATH)
    assert SECRET not in str(info.value)


def test_ini_keys_that_differ_in_case_only_are_refused() -> None:
    with pytest.raises(ConfigFileError, match="ini keys ignore case"):
        merge(None, "ini", {"Token": "a", "token": "b"}, path=PATH)


@pytest.mark.parametrize("section", ["", " padded", "two\nlines"])
def test_ini_bad_section_name(section: str) -> None:
    with pytest.raises(ConfigFileError, match="Invalid `ini_section`"):
        merge(None, "ini", {"token": "a"}, section=section, path=PATH)


@pytest.mark.parametrize(
    "text, kind",
    [
        (f"token = {SECRET}\n[zoho_thrive]\n", "MissingSectionHeaderError"),
        (f"[zoho_thrive]\ntoken = {SECRET}\ntoken = b\n", "DuplicateOptionError"),
        (f"[zoho_thrive]\n[zoho_thrive]\nx = {SECRET}\n", "DuplicateSectionError"),
        (f"[zoho_thrive]\n{SECRET}\n", "ParsingError"),
    ],
)
def test_ini_unparsable_file_is_refused_without_content(text: str, kind: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        merge(text, "ini", {"token": "a"}, path=PATH)
    message = str(info.value)
    assert message.startswith(f"Cannot parse {PATH} as an ini file (line ")
    assert kind in message and "it was not changed" in message
    assert SECRET not in message


def test_ini_read_values() -> None:
    assert parse_values(INI_TEXT, "ini", ["refresh_token", "shared", "missing"], path=PATH) == {
        "refresh_token": "old\ncontinued",
        "shared": "1",
        "missing": None,
    }
    assert parse_values("[other]\na = 1\n", "ini", ["a"], path=PATH) == {"a": None}


# -- env ----------------------------------------------------------------------------------------

ENV_TEXT = """\
# Environment of myapp
export PATH_PREFIX=/opt/app
  TOKEN=old # not a comment for systemd

TOKEN="old again"
OTHER='x y'
"""


def test_env_updates_every_occurrence_and_keeps_everything_else() -> None:
    result = merge(ENV_TEXT, "env", {"TOKEN": "1000.abc", "NEW_KEY": "a b"}, path=PATH)
    assert result.changed_keys == ["TOKEN", "NEW_KEY"]
    assert result.text == (
        "# Environment of myapp\n"
        "export PATH_PREFIX=/opt/app\n"
        "  TOKEN=1000.abc\n"  # the comment went with the old value: systemd reads it as part of the value
        "\n"
        'TOKEN="1000.abc"\n'  # in the quoting the line had
        "OTHER='x y'\n"
        "NEW_KEY='a b'\n"
    )


def test_env_export_is_dropped_from_a_managed_line_and_kept_elsewhere() -> None:
    """systemd's EnvironmentFile= ignores an "export KEY=value" line; "set -a; . file" exports the variable without it."""
    result = merge("export A=1\nexport TOKEN=a\n  export\tTOKEN='b c' # x\n", "env", {"TOKEN": "b c"}, path=PATH)
    assert result.text == "export A=1\nTOKEN='b c'\n  TOKEN='b c'\n" and result.changed_keys == ["TOKEN"]
    assert merge(result.text, "env", {"TOKEN": "b c"}, path=PATH).changed_keys == []


@pytest.mark.parametrize(
    "line, value",
    [("TOKEN='a b'", "a b"), ('TOKEN="a b"', "a b"), ("TOKEN=abc", "abc"), ("TOKEN='abc'", "abc"), ('TOKEN="abc"', "abc"), ("TOKEN=a\\ b", "a b")],
)
def test_env_equivalent_quoting_is_left_alone(line: str, value: str) -> None:
    assert merge(line + "\n", "env", {"TOKEN": value}, path=PATH).text == line + "\n"


@pytest.mark.parametrize("line", ['TOKEN="$HOME"', "TOKEN=$HOME", 'TOKEN="${HOME}"', "TOKEN=~/x", "TOKEN=x # c", "export TOKEN=x", "TOKEN='x'y\"z\""])
def test_env_ambiguous_forms_are_rewritten(line: str) -> None:
    value = parse_values(line + "\n", "env", ["TOKEN"], path=PATH)["TOKEN"]
    result = merge(line + "\n", "env", {"TOKEN": value}, path=PATH)
    assert result.changed_keys == ["TOKEN"]
    assert result.text != line + "\n"


@pytest.mark.parametrize("value", ["1000.abc/def:ghi@x%y+z,w=v-u_", "a b$c`d\"e#f~g;h&i|j*k?l(m)n<o>p{q}r!s", "", "caf\u00e9"])
def test_env_values_round_trip_through_sh(tmp_path: t.Any, value: str) -> None:
    text = merge("# header\n", "env", {"TOKEN": value}, path=PATH).text
    quoted = text.split("TOKEN=", 1)[1].rstrip("\n")
    assert quoted == (value if value in ("1000.abc/def:ghi@x%y+z,w=v-u_", "") else f"'{value}'")
    (tmp_path / "app.env").write_text(text, encoding="utf-8")
    assert sh_value(tmp_path, "app.env", "TOKEN") == value
    assert parse_values(text, "env", ["TOKEN"], path=PATH) == {"TOKEN": value}


@pytest.mark.parametrize("bad", ["'", "\\", "\n", "\t", "\x07", "\x7f", "\r", "\x00"])
def test_env_refuses_values_sh_and_systemd_would_read_differently(bad: str) -> None:
    with pytest.raises(ConfigFileError, match="sh and systemd's EnvironmentFile= would not both read unchanged") as info:
        merge(None, "env", {"TOKEN": f"{SECRET}{bad}x"}, path=PATH)
    assert SECRET not in str(info.value)


def test_env_integer_value() -> None:
    assert merge(None, "env", {"EXPIRES": 3600}, path=PATH).text == "EXPIRES=3600\n"


@pytest.mark.parametrize(
    "text, line",
    [
        (f"if true; then TOKEN={SECRET}; fi\n", "line 1 is not a KEY=value"),
        (f'# multi-line value\nTOKEN="{SECRET}\nmore"\n', "line 2 opens a quote that it does not close"),
        (f"A=1\nTOKEN='{SECRET}\n", "line 2 opens a quote that it does not close"),
        (f"A=1\nTOKEN={SECRET}\\\n", "line 2 ends with a backslash, so sh reads the next line as part of this one"),
        (f"A=1\n{SECRET}\n", "line 2 is not a KEY=value"),
    ],
)
def test_env_unparsable_line_is_refused_without_content(text: str, line: str) -> None:
    with pytest.raises(ConfigFileError, match=f"Cannot parse {PATH} as an env file: {line}") as info:
        merge(text, "env", {"TOKEN": "a"}, path=PATH)
    assert SECRET not in str(info.value)


def test_env_read_strips_matching_quotes_and_takes_the_last_assignment() -> None:
    assert parse_values(ENV_TEXT, "env", ["TOKEN", "OTHER", "PATH_PREFIX", "MISSING"], path=PATH) == {
        "TOKEN": "old again",
        "OTHER": "x y",
        "PATH_PREFIX": "/opt/app",
        "MISSING": None,
    }
    assert parse_values("A='x\"'\n", "env", ["A"], path=PATH) == {"A": 'x"'}


def test_crlf_env_file_is_converted_to_lf_with_a_warning() -> None:
    result = merge("A=1\r\nTOKEN=a\r\n", "env", {"TOKEN": "b"}, path=PATH)
    assert result.text == "A=1\nTOKEN=b\n"
    assert result.line_endings == ("CRLF", "LF") and len(result.warnings) == 1
    assert result.warnings[0].startswith(f"{PATH} had Windows (CRLF) line endings.")


# -- files --------------------------------------------------------------------------------------


def test_read_managed_missing_file(tmp_path: t.Any) -> None:
    assert read_managed(str(tmp_path / "nope.json"), "json", ["a", "b"]) == {"a": None, "b": None}


def test_read_managed_existing_file(tmp_path: t.Any) -> None:
    (tmp_path / "app.env").write_text("A=1\n", encoding="utf-8")
    assert read_managed(str(tmp_path / "app.env"), "env", ["A"]) == {"A": "1"}


def test_read_text_refuses_directories_and_non_utf8(tmp_path: t.Any) -> None:
    with pytest.raises(ConfigFileError, match="is not a regular file"):
        read_text(str(tmp_path))
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ConfigFileError, match="is not a regular file"):
        read_text(str(tmp_path / "fifo"))  # must not block
    (tmp_path / "latin1").write_bytes(b"a=\xe9\n")
    with pytest.raises(ConfigFileError, match="is not UTF-8 text"):
        read_text(str(tmp_path / "latin1"))


@pytest.mark.parametrize(
    "mode, expected",
    [("0600", 0o600), ("640", 0o640), ("0o644", 0o644), (" 0640 ", 0o640), (0o600, 0o600), (0o750, 0o750), ("2750", 0o2750), (0, 0), (7, 7)],
)
def test_parse_mode(mode: t.Any, expected: int) -> None:
    assert parse_mode(mode) == expected


@pytest.mark.parametrize("mode", ["u=rw", "0800", "06000000", True, None, 1.5, 0o10000, -1, [6, 4, 0]])
def test_parse_mode_refuses(mode: t.Any) -> None:
    with pytest.raises(ConfigFileError, match="Invalid `mode`"):
        parse_mode(mode)


def test_resolve_owner_and_group() -> None:
    assert resolve_uid(None) == -1 and resolve_gid(None) == -1
    assert resolve_uid("1234") == 1234 and resolve_gid("4321") == 4321
    assert resolve_uid("root") == 0 and resolve_gid("root") == 0
    with pytest.raises(ConfigFileError, match="Unknown user 'no-such-user-zt'"):
        resolve_uid("no-such-user-zt")
    with pytest.raises(ConfigFileError, match="Unknown group 'no-such-group-zt'"):
        resolve_gid("no-such-group-zt")


def test_lock_path_is_hidden_next_to_the_file() -> None:
    assert lock_path("/etc/app/zoho.json") == "/etc/app/.zoho.json.lock"


def test_backup_is_0600_even_with_umask_000(tmp_path: t.Any, umask_000: None) -> None:
    target = str(tmp_path / "app.json")
    backup = write_backup(target, b"old content", stamp="20260101T000000")
    assert backup == target + ".20260101T000000.bak"
    assert mode_of(backup) == 0o600
    with open(backup, "rb") as handle:
        assert handle.read() == b"old content"


def test_backups_in_the_same_second_get_a_counter(tmp_path: t.Any) -> None:
    target = str(tmp_path / "app.json")
    names = [write_backup(target, str(n).encode(), stamp="20260101T000000", keep=10) for n in range(3)]
    assert names == [target + ".20260101T000000.bak", target + ".20260101T000000-1.bak", target + ".20260101T000000-2.bak"]
    assert list_backups(target) == names


def test_only_the_newest_backups_of_the_same_file_are_kept(tmp_path: t.Any) -> None:
    target = str(tmp_path / "app.json")
    (tmp_path / "other.json.20200101T000000.bak").write_bytes(b"another file's backup")
    (tmp_path / "app.json.notes.bak").write_bytes(b"not one of ours")
    for day in range(1, 6):
        write_backup(target, f"v{day}".encode(), stamp=f"202601{day:02d}T000000")
    assert [os.path.basename(name) for name in list_backups(target)] == [
        "app.json.20260103T000000.bak",
        "app.json.20260104T000000.bak",
        "app.json.20260105T000000.bak",
    ]
    assert (tmp_path / "other.json.20200101T000000.bak").exists()
    assert (tmp_path / "app.json.notes.bak").exists()


def test_new_backup_survives_a_clock_set_back(tmp_path: t.Any) -> None:
    target = str(tmp_path / "app.json")
    for day in range(5, 8):
        write_backup(target, b"x", stamp=f"202601{day:02d}T000000")
    newest = write_backup(target, b"after clock reset", stamp="20250101T000000")
    assert os.path.exists(newest)
    assert len(list_backups(target)) == 3


def test_private_module_declares_its_api() -> None:
    assert "merge" in _config_file.__all__ and "ConfigFileError" in _config_file.__all__
    for name in _config_file.__all__:
        assert hasattr(_config_file, name), name


# -- files are opened without following links (issue 6, item 1) -----------------------------------


def test_file_functions_refuse_a_link_as_the_file(tmp_path: t.Any) -> None:
    (tmp_path / "real.env").write_text("A=1\n")
    (tmp_path / "app.env").symlink_to(tmp_path / "real.env")
    for call in (lambda: read_text(str(tmp_path / "app.env")), lambda: _config_file.file_stat(str(tmp_path / "app.env"))):
        with pytest.raises(ConfigFileError, match="app.env is a symbolic link.*; it is not followed"):
            call()


def test_read_file_returns_the_fstat_of_what_it_read(tmp_path: t.Any) -> None:
    (tmp_path / "app.env").write_text("A=1\n")
    text, st = _config_file.read_file(str(tmp_path / "app.env"))
    assert text == "A=1\n" and st is not None and os.path.samestat(st, os.stat(tmp_path / "app.env"))
    assert _config_file.read_file(str(tmp_path / "missing" / "app.env")) == (None, None)


def test_backup_never_follows_a_planted_name(tmp_path: t.Any) -> None:
    target = str(tmp_path / "app.json")
    (tmp_path / "app.json.20260101T000000.bak").symlink_to(tmp_path / "planted")
    backup = write_backup(target, b"old", stamp="20260101T000000")
    assert backup == target + ".20260101T000000-1.bak"
    assert not (tmp_path / "planted").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a planted file to another user needs root")
def test_planted_backup_names_never_make_pruning_delete_real_backups(tmp_path: t.Any) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: everybody may create files, only owners delete them
    target = str(shared / "app.json")
    real = [write_backup(target, f"v{day}".encode(), stamp=f"202601{day:02d}T000000") for day in (1, 2)]
    for day in (1, 2):  # another user's files named like newer backups
        planted = shared / f"app.json.9999010{day}T000000.bak"
        planted.write_bytes(b"planted")
        os.chown(planted, 65534, 65534)
    newest = write_backup(target, b"v3", stamp="20260103T000000")
    assert all(os.path.exists(name) for name in real + [newest])  # three of ours: nothing pruned
    assert (shared / "app.json.99990101T000000.bak").exists() and (shared / "app.json.99990102T000000.bak").exists()
    assert list_backups(target) == real + [newest]


def test_lock_name() -> None:
    assert _config_file.lock_name("zoho.env") == ".zoho.env.lock"


# -- issue 7, item 1: byte-faithful merges (the inputs of the issue) --------------------------------

ISSUE_RT = "1000." + "a" * 32 + "." + "b" * 32  # 70 characters, like a Zoho refresh token


def test_issue_input_crlf_env_file_is_repaired_and_then_stable(tmp_path: t.Any) -> None:
    text = "LOG_LEVEL=info\r\nZOHO_THRIVE_REFRESH_TOKEN=1000.old.old\r\n"
    (tmp_path / "app.env").write_bytes(text.encode())
    assert sh_value(tmp_path, "app.env", "ZOHO_THRIVE_REFRESH_TOKEN") == "1000.old.old\r"  # what sh really reads
    assert parse_values(text, "env", ["ZOHO_THRIVE_REFRESH_TOKEN"], path=PATH) == {"ZOHO_THRIVE_REFRESH_TOKEN": "1000.old.old\r"}
    values = {"ZOHO_THRIVE_REFRESH_TOKEN": ISSUE_RT, "ZOHO_THRIVE_ACCESS_TOKEN": "1000.x.y"}
    first = merge(text, "env", values, path=PATH)
    assert first.text == f"LOG_LEVEL=info\nZOHO_THRIVE_REFRESH_TOKEN={ISSUE_RT}\nZOHO_THRIVE_ACCESS_TOKEN=1000.x.y\n"
    assert first.changed_keys == ["ZOHO_THRIVE_REFRESH_TOKEN", "ZOHO_THRIVE_ACCESS_TOKEN"]
    assert first.line_endings == ("CRLF", "LF")
    assert any("CRLF" in note and "sh" in note for note in first.warnings)
    (tmp_path / "app.env").write_bytes(first.text.encode())
    assert sh_value(tmp_path, "app.env", "ZOHO_THRIVE_REFRESH_TOKEN") == ISSUE_RT
    assert sh_value(tmp_path, "app.env", "LOG_LEVEL") == "info"  # repaired too: sh read "info\r" before
    second = merge(first.text, "env", values, path=PATH)
    assert second.changed_keys == [] and second.text == first.text and second.warnings == ()


def test_crlf_env_file_already_holding_the_values_is_still_repaired() -> None:
    """The damage is in the file, not in the values: a file that sh reads wrongly is never reported as unchanged."""
    text = "ZOHO_THRIVE_REFRESH_TOKEN=1000.old.old\r\n"
    result = merge(text, "env", {"ZOHO_THRIVE_REFRESH_TOKEN": "1000.old.old"}, path=PATH)
    assert result.changed_keys == ["ZOHO_THRIVE_REFRESH_TOKEN"]
    assert result.text == "ZOHO_THRIVE_REFRESH_TOKEN=1000.old.old\n"


def test_issue_input_yaml_with_document_markers() -> None:
    text = "---\n# generator\nlog_level: info\n...\n"
    result = merge(text, "yaml", {"refresh_token": ISSUE_RT, "expires_at": 5}, path=PATH)
    assert result.text == f'---\n# generator\nlog_level: info\nrefresh_token: "{ISSUE_RT}"\nexpires_at: 5\n...\n'
    assert yaml.safe_load(result.text) == {"log_level": "info", "refresh_token": ISSUE_RT, "expires_at": 5}
    assert merge(result.text, "yaml", {"refresh_token": ISSUE_RT, "expires_at": 5}, path=PATH).changed_keys == []


# -- issue 7, item 6: an unquoted YAML mode ---------------------------------------------------------


@pytest.mark.parametrize("mode, quoted, meant", [(640, "0640", "01200"), (600, "0600", "01130"), (755, "0755", "01363"), (1750, "1750", "03326")])
def test_issue_input_integer_mode_whose_digits_read_as_octal_is_refused(mode: int, quoted: str, meant: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        parse_mode(mode)
    message = str(info.value)
    assert message.startswith(f"`mode` is the integer {mode}")
    assert f"'{quoted}'" in message and meant in message


# -- issue 7, item 1: the class, every format x every kind of text ----------------------------------
#
# Each case: the file before, the managed values, and either the exact file after (every byte that
# is not a managed entry kept) or the refusal (a fragment naming the cause). Accepted cases are then
# read back with the module's reader and the real consumer (json.loads, yaml.safe_load,
# configparser on the file opened in text mode, sh and bash), and merged again.

NEW = "1000.n3w.t0ken"
MATRIX_VALUES = {
    "json": {"token": NEW, "added": "v2"},
    "yaml": {"token": NEW, "added": "v2"},
    "ini": {"token": NEW, "added": "v2"},
    "env": {"TOKEN": NEW, "ADDED": "v2"},
}


class Refused(str):
    """A matrix outcome: the merge is refused with a message containing this text."""


MIXED = "mixes line endings (line 1 ends with CRLF, line 2 with LF only)"
LONE_CR = "line 1 holds a carriage return (CR) that is not followed by a line feed"

MATRIX: dict[str, dict[str, tuple[str, str]]] = {
    "json": {
        "bom": ('\ufeff{\n  "name": "app",\n  "token": "0ld-s3cret"\n}\n', f'\ufeff{{\n  "name": "app",\n  "token": "{NEW}",\n  "added": "v2"\n}}\n'),
        "lf": ('{\n  "name": "app",\n  "token": "0ld-s3cret"\n}\n', f'{{\n  "name": "app",\n  "token": "{NEW}",\n  "added": "v2"\n}}\n'),
        "crlf": ('{\r\n  "name": "app",\r\n  "token": "0ld-s3cret"\r\n}\r\n', f'{{\r\n  "name": "app",\r\n  "token": "{NEW}",\r\n  "added": "v2"\r\n}}\r\n'),
        "mixed": ('{\r\n  "name": "app",\n  "token": "0ld-s3cret"\r\n}\n', f'{{\r\n  "name": "app",\n  "token": "{NEW}",\n  "added": "v2"\r\n}}\n'),
        "lone-cr": ('{\r  "name": "app",\r  "token": "0ld-s3cret"\r}\r', f'{{\r  "name": "app",\r  "token": "{NEW}",\r  "added": "v2"\r}}\r'),
        "non-ascii": ('{"name": "Zo\u00eb \u2713 \u2028", "token": "0ld-s3cret"}', f'{{"name": "Zo\u00eb \u2713 \u2028", "token": "{NEW}", "added": "v2"}}'),
        "markers": (
            '{\n  "nested": {"token": "keep", "list": [1, {"token": 2}]},\n  "token": "0ld-s3cret",\n  "token": "dup"\n}\n',
            f'{{\n  "nested": {{"token": "keep", "list": [1, {{"token": 2}}]}},\n  "token": "{NEW}",\n  "token": "{NEW}",\n  "added": "v2"\n}}\n',
        ),
        "comments": ('{"token": "0ld-s3cret"} // note\n', Refused("Cannot parse /etc/app/conf as JSON (line 1, column 25: Extra data)")),
        "no-final-newline": ('{\n  "token": "0ld-s3cret"\n}', f'{{\n  "token": "{NEW}",\n  "added": "v2"\n}}'),
        "empty": ("", f'{{\n  "token": "{NEW}",\n  "added": "v2"\n}}\n'),
        "whitespace-only": (" \n\t\n", f'{{\n  "token": "{NEW}",\n  "added": "v2"\n}}\n'),
        "tabs": ('{\n\t"name":\t"app",\n\t"token":\t"0ld-s3cret"\n}\n', f'{{\n\t"name":\t"app",\n\t"token":\t"{NEW}",\n\t"added":\t"v2"\n}}\n'),
    },
    "yaml": {
        "bom": ("\ufeffname: app\ntoken: 0ld-s3cret\n", f'\ufeffname: app\ntoken: {NEW}\nadded: "v2"\n'),
        "lf": ("name: app\ntoken: 0ld-s3cret\n", f'name: app\ntoken: {NEW}\nadded: "v2"\n'),
        "crlf": ("name: app\r\ntoken: 0ld-s3cret\r\n", f'name: app\r\ntoken: {NEW}\r\nadded: "v2"\r\n'),
        "mixed": ("name: app\r\ntoken: 0ld-s3cret\n", Refused(MIXED)),
        "lone-cr": ("name: app\rtoken: 0ld-s3cret\r", Refused(LONE_CR)),
        "non-ascii": ("name: Zo\u00eb \u2713 # caf\u00e9\ntoken: 0ld-s3cret\n", f'name: Zo\u00eb \u2713 # caf\u00e9\ntoken: {NEW}\nadded: "v2"\n'),
        "markers": ("%YAML 1.1\n---\nname: app\ntoken: 0ld-s3cret\n...\n", f'%YAML 1.1\n---\nname: app\ntoken: {NEW}\nadded: "v2"\n...\n'),
        "comments": ("name: app # c1\ntoken: '0ld-s3cret' # c2\n# end\n", f"name: app # c1\ntoken: '{NEW}' # c2\n# end\nadded: \"v2\"\n"),
        "no-final-newline": ("name: app\ntoken: 0ld-s3cret", f'name: app\ntoken: {NEW}\nadded: "v2"\n'),
        "empty": ("", f'token: "{NEW}"\nadded: "v2"\n'),
        "whitespace-only": ("  \n\n", f'  \n\ntoken: "{NEW}"\nadded: "v2"\n'),
        "tabs": ('name: "a\tb"\ntoken:\told\n', Refused("Cannot parse /etc/app/conf as YAML (line 2, column 7): line 2 has a tab")),
    },
    "ini": {
        "bom": ("\ufeff[app]\nname = x\n\n[zoho_thrive]\ntoken = 0ld-s3cret\n", f"\ufeff[app]\nname = x\n\n[zoho_thrive]\ntoken = {NEW}\nadded = v2\n"),
        "lf": ("[app]\nname = x\n\n[zoho_thrive]\ntoken = 0ld-s3cret\n", f"[app]\nname = x\n\n[zoho_thrive]\ntoken = {NEW}\nadded = v2\n"),
        "crlf": (
            "[app]\r\nname = x\r\n\r\n[zoho_thrive]\r\ntoken = 0ld-s3cret\r\n",
            f"[app]\r\nname = x\r\n\r\n[zoho_thrive]\r\ntoken = {NEW}\r\nadded = v2\r\n",
        ),
        "mixed": ("[zoho_thrive]\r\ntoken = 0ld-s3cret\n", Refused(MIXED)),
        "lone-cr": ("[zoho_thrive]\rtoken = 0ld-s3cret\r", Refused(LONE_CR)),
        "non-ascii": (
            "[app]\nname = Zo\u00eb \u2713\n; caf\u00e9\n[zoho_thrive]\ntoken = 0ld-s3cret\n",
            f"[app]\nname = Zo\u00eb \u2713\n; caf\u00e9\n[zoho_thrive]\ntoken = {NEW}\nadded = v2\n",
        ),
        "markers": (
            "[DEFAULT]\nshared = 1\n\n[zoho_thrive ]\ntoken = decoy1\n\n[Zoho_Thrive]\ntoken = decoy2\n\n[default]\ntoken = decoy3\n\n"
            "[zoho_thrive] ; the managed section\ntoken = 0ld-s3cret\n\n[later]\nx = y\n",
            "[DEFAULT]\nshared = 1\n\n[zoho_thrive ]\ntoken = decoy1\n\n[Zoho_Thrive]\ntoken = decoy2\n\n[default]\ntoken = decoy3\n\n"
            f"[zoho_thrive] ; the managed section\ntoken = {NEW}\nadded = v2\n\n[later]\nx = y\n",
        ),
        "comments": (
            "[zoho_thrive]\n; full-line comment\n# another\ntoken = 0ld-s3cret ; part of the value for configparser\nother = keep # so is this\n",
            f"[zoho_thrive]\n; full-line comment\n# another\ntoken = {NEW}\nother = keep # so is this\nadded = v2\n",
        ),
        "no-final-newline": ("[zoho_thrive]\ntoken = 0ld-s3cret", f"[zoho_thrive]\ntoken = {NEW}\nadded = v2\n"),
        "empty": ("", f"[zoho_thrive]\ntoken = {NEW}\nadded = v2\n"),
        "whitespace-only": (" \n\t\n", f" \n\t\n[zoho_thrive]\ntoken = {NEW}\nadded = v2\n"),
        "tabs": ("[zoho_thrive]\n\ttoken\t=\told\n\tother\t=\tx\n", f"[zoho_thrive]\n\ttoken\t=\t{NEW}\n\tother\t=\tx\n\tadded\t=\tv2\n"),
    },
    "env": {
        "bom": ("\ufeffNAME=app\nTOKEN=0ld-s3cret\n", Refused("the file starts with a UTF-8 byte-order mark")),
        "lf": ("NAME=app\nTOKEN=0ld-s3cret\n", f"NAME=app\nTOKEN={NEW}\nADDED=v2\n"),
        "crlf": ("NAME=app\r\nTOKEN=0ld-s3cret\r\n", f"NAME=app\nTOKEN={NEW}\nADDED=v2\n"),  # converted, with a warning
        "mixed": ("NAME=app\r\nTOKEN=0ld-s3cret\n", f"NAME=app\nTOKEN={NEW}\nADDED=v2\n"),  # converted, with a warning
        "lone-cr": ("NAME=app\rTOKEN=0ld-s3cret\r", Refused(LONE_CR)),
        "non-ascii": ("NAME='Zo\u00eb \u2713'\n# caf\u00e9\nTOKEN=0ld-s3cret\n", f"NAME='Zo\u00eb \u2713'\n# caf\u00e9\nTOKEN={NEW}\nADDED=v2\n"),
        "markers": (
            "# header\nTOKEN=first\nexport NAME=app\nexport TOKEN='0ld-s3cret'\n",
            f"# header\nTOKEN={NEW}\nexport NAME=app\nTOKEN='{NEW}'\nADDED='v2'\n",  # systemd ignores an export line
        ),
        "comments": ("NAME=app # c\nTOKEN=0ld-s3cret # c2\n", f"NAME=app # c\nTOKEN={NEW}\nADDED=v2\n"),
        "no-final-newline": ("NAME=app\nTOKEN=0ld-s3cret", f"NAME=app\nTOKEN={NEW}\nADDED=v2\n"),
        "empty": ("", f"TOKEN={NEW}\nADDED=v2\n"),
        "whitespace-only": (" \n\t\n", f" \n\t\nTOKEN={NEW}\nADDED=v2\n"),
        "tabs": ("\tNAME=app\n\tTOKEN=0ld-s3cret\t\n", f"\tNAME=app\n\tTOKEN={NEW}\nADDED=v2\n"),
    },
}
MATRIX_CASES = [(fmt, case) for fmt in MATRIX for case in MATRIX[fmt]]
REFUSED = {(fmt, case) for fmt, case in MATRIX_CASES if isinstance(MATRIX[fmt][case][1], Refused)}


def consumer_read(tmp_path: t.Any, fmt: str, data: bytes, keys: list[str]) -> dict[str, str | None]:
    """The values of ``keys`` as the consuming program reads the file ``data``: json.loads, yaml.safe_load, configparser, sh and bash."""
    path = tmp_path / f"consumed.{fmt}"
    path.write_bytes(data)
    if fmt == "json":
        loaded = json.loads(data) if data.strip(b" \t\r\n\xef\xbb\xbf") else {}
        return {key: None if loaded.get(key) is None else str(loaded[key]) for key in keys}
    if fmt == "yaml":
        loaded = yaml.safe_load(data.decode("utf-8")) or {}
        return {key: None if loaded.get(key) is None else str(loaded[key]) for key in keys}
    if fmt == "ini":
        parser = configparser.ConfigParser(interpolation=None)
        with open(path, encoding="utf-8-sig") as handle:  # text mode: universal newlines, as applications read it
            parser.read_file(handle)
        return {key: parser.get("zoho_thrive", key, fallback=None) if parser.has_section("zoho_thrive") else None for key in keys}
    results = []
    for shell in ("sh", "bash"):
        script = 'set -a; . "$1"; ' + " ".join(f'if [ -n "${{{key}+x}}" ]; then printf "%s\\0" "${key}"; else printf "\\1\\0"; fi;' for key in keys)
        run = subprocess.run([shell, "-c", script, shell, str(path)], capture_output=True, check=True, env={"PATH": os.environ["PATH"]})
        results.append({key: None if value == b"\x01" else value.decode("utf-8") for key, value in zip(keys, run.stdout.split(b"\0"))})
    assert results[0] == results[1], "sh and bash disagree"
    return results[0]


UNRELATED = {"json": ["name"], "yaml": ["name"], "ini": ["name", "other"], "env": ["NAME"]}


@pytest.mark.parametrize("fmt, case", MATRIX_CASES, ids=[f"{fmt}-{case}" for fmt, case in MATRIX_CASES])
def test_every_format_with_every_kind_of_text(tmp_path: t.Any, fmt: str, case: str) -> None:
    before, outcome = MATRIX[fmt][case]
    values = MATRIX_VALUES[fmt]
    if (fmt, case) in REFUSED:
        with pytest.raises(ConfigFileError) as info:
            merge(before, fmt, values, path=PATH)
        assert outcome in str(info.value)
        assert "it was not changed" in str(info.value) and "0ld-s3cret" not in str(info.value)
        return
    result = merge(before, fmt, values, path=PATH)
    assert result.text == outcome  # byte for byte: only the managed entries differ
    assert result.changed_keys == list(values)
    converted = fmt == "env" and "\r" in before
    assert bool(result.warnings) is converted and (result.line_endings == ("CRLF", "LF")) is converted
    keys = list(values)
    expected = {key: str(value) for key, value in values.items()}
    assert consumer_read(tmp_path, fmt, result.text.encode("utf-8"), keys) == expected
    assert parse_values(result.text, fmt, keys, path=PATH) == expected
    # Unrelated entries read as before (an env file's CRs were damage, removed on purpose).
    if fmt != "json" or before.strip():
        before_bytes = (before.replace("\r\n", "\n") if converted else before).encode("utf-8")
        unrelated = UNRELATED[fmt]
        assert consumer_read(tmp_path, fmt, result.text.encode("utf-8"), unrelated) == consumer_read(tmp_path, fmt, before_bytes, unrelated)
    again = merge(result.text, fmt, values, path=PATH)
    assert again.changed_keys == [] and again.text == result.text and again.warnings == ()
    if fmt == "env" and os.access(ENV_GENERATOR, os.X_OK):  # and systemd's own parser (version 252 here) reads the same
        assert {key: systemd_value(result.text, tmp_path, key) for key in keys} == expected
        assert systemd_value(result.text, tmp_path, "NAME") == systemd_value(before, tmp_path, "NAME")


@pytest.mark.parametrize("fmt, case", MATRIX_CASES, ids=[f"{fmt}-{case}" for fmt, case in MATRIX_CASES])
def test_the_modules_reader_agrees_with_the_consumer_before_the_merge(tmp_path: t.Any, fmt: str, case: str) -> None:
    before = MATRIX[fmt][case][0]
    keys = list(MATRIX_VALUES[fmt]) + UNRELATED[fmt]
    try:
        read = parse_values(before, fmt, keys, path=PATH)
    except ConfigFileError:  # what the reader refuses, the merge refuses too
        assert (fmt, case) in REFUSED
        return
    assert read == consumer_read(tmp_path, fmt, before.encode("utf-8"), keys)


# -- env: the reader agrees with sh and bash, and with systemd where it says so ---------------------

ENV_LINES = [
    "K=abc",
    "K='a b # c'",
    'K="a b"',
    "K=abc   ",
    "K=abc # comment",
    "K=a'b c'd",
    'K="a\\"b\\\\c\\d"',
    "K=a\\ b",
    "export K=v",
    "  K=v",
    "\tK=v\t",
    "K=v\r",
    "K='v'\r",
    "K=a#b",
    "K=",
    "K=''",
    "K=caf\u00e9",
    'K="x"y\'z\'',
    "K=a=b",
]


@pytest.mark.parametrize("line", ENV_LINES)
def test_env_reader_reads_what_sh_and_bash_read(tmp_path: t.Any, line: str) -> None:
    text = line + "\n"
    assert parse_values(text, "env", ["K"], path=PATH) == consumer_read(tmp_path, "env", text.encode("utf-8"), ["K"])


@pytest.mark.parametrize(
    "raw, systemd",
    [
        ("abc", "abc"),
        ("abc   ", "abc"),
        ("abc # c", "abc # c"),  # systemd has no inline comments
        ("'a b' ", "a b"),
        ('"a\\"b\\\\c\\d"', 'a"b\\c\\d'),  # escapes: only " \\ ` $ lose their backslash
        ("a\\ b", "a b"),
        ("v\r", "v"),  # CR ends the line
        (" v", "v"),  # blanks before the value are skipped
        ("'a'b\"c\"", 'ab"c"'),  # after a closing quote, a quote is an ordinary character (sh reads abc)
        ("", ""),
    ],
)
def test_env_systemd_model(raw: str, systemd: str) -> None:
    assert _config_file._env_systemd(raw) == systemd


@pytest.mark.parametrize(
    "line, value, held",
    [
        ("K=abc", "abc", True),
        ("K='abc'", "abc", True),
        ('K="abc"', "abc", True),
        ("K=abc  ", "abc", True),
        ("export K=abc", "abc", False),  # systemd ignores the line
        ("K=abc # c", "abc", False),  # systemd reads "abc # c"
        ("K=abc\r", "abc", False),  # sh reads "abc\r"
        ('K="$X"', "$X", False),  # sh expands $X
        ("K=a\\bc", "abc", True),  # both read abc
        ("K='a'b\"c\"", 'ab"c"', False),  # sh reads abc
        ("K='a b'", "a b", True),
        ("K=~", "~", False),  # sh reads the home directory
        ("K=${X:-abc}", "abc", False),  # sh expands
    ],
)
def test_env_a_value_is_held_only_where_sh_and_systemd_both_read_it(line: str, value: str, held: bool) -> None:
    result = merge(line + "\n", "env", {"K": value}, path=PATH)
    assert (result.changed_keys == []) is held
    if not held:
        assert parse_values(result.text.replace("\r", ""), "env", ["K"], path=PATH) == {"K": value}


def test_env_new_entries_follow_the_quoting_of_the_files_last_assignment() -> None:
    assert merge("A='x'\n", "env", {"B": "y"}, path=PATH).text == "A='x'\nB='y'\n"
    assert merge('A="x"\n', "env", {"B": "y", "C": "a$b"}, path=PATH).text == "A=\"x\"\nB=\"y\"\nC='a$b'\n"  # $ is not literal in double quotes
    assert merge("A=x\n", "env", {"B": "y"}, path=PATH).text == "A=x\nB=y\n"


@pytest.mark.parametrize("text", ["\ufeffA=1\n", "\ufeff"])
def test_env_bom_is_refused_when_reading_too(text: str) -> None:
    with pytest.raises(ConfigFileError, match="starts with a UTF-8 byte-order mark.*sed -i"):
        parse_values(text, "env", ["A"], path=PATH)


# -- yaml: more of the class ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before, after",
    [
        # block scalar, a comment on its key line stays, blank and comment lines after it stay
        ("a: 1\ntoken: |  # note\n  old\n  lines\n\n# after\nb: 2\n", 'a: 1\ntoken: "N"  # note\n\n# after\nb: 2\n'),
        # a block sequence at the key's indentation, with a comment inside it (goes) and one after it (stays)
        ("token:\n- a\n# inside\n- b\n# after\nb: 2\n", 'token: "N"\n# after\nb: 2\n'),
        # an empty value, with and without a comment
        ("token:\nb: 2\n", "token: N\nb: 2\n"),
        ("token:   # fill me\nb: 2\n", "token: N   # fill me\nb: 2\n"),
        # an indented top-level mapping: new keys get its indentation
        ("---\n  a: 1\n  token: old\n", '---\n  a: 1\n  token: N\n  added: "v"\n'),
        # a duplicated key: safe_load keeps the last, both are written
        ("token: a\nb: 1\ntoken: b\n", "token: N\nb: 1\ntoken: N\n"),
        # a value on the line after its key
        ("token:\n  old\nb: 2\n", "token:\n  N\nb: 2\n"),
        # a multi-line plain scalar
        ("token: old\n  more\nb: 2\n", 'token: "N"\nb: 2\n'),
        # double quotes stay double quotes
        ('token: "old"  # c\n', 'token: "N"  # c\n'),
        # CRLF with a block value
        ("token: |\r\n  old\r\nb: 2\r\n", 'token: "N"\r\nb: 2\r\n'),
        # a BOM and a value over several lines on the first line
        ("\ufefftoken:\n- a\nb: 2\n", '\ufefftoken: "N"\nb: 2\n'),
    ],
)
def test_yaml_values_are_replaced_in_place(before: str, after: str) -> None:
    values: dict[str, Value] = {"token": "N"} if "added" not in after else {"token": "N", "added": "v"}
    result = merge(before, "yaml", values, path=PATH)
    assert result.text == after
    assert yaml.safe_load(result.text.lstrip("\ufeff"))["token"] == "N"


@pytest.mark.parametrize(
    "old, new, written",
    [
        ("plain", "it's", "it's"),
        ("plain", "yes", '"yes"'),  # plain would read as a boolean
        ("plain", "a: b", '"a: b"'),
        ("plain", "x #y", '"x #y"'),
        ("plain", "", '""'),
        ("'single'", "it's", "'it''s'"),
        ("'single'", "caf\u00e9", "'caf\u00e9'"),
        ("'single'", "tab\there", "'tab\there'"),
        ("'single'", "line\nbreak", '"line\\x0abreak"'),
        ('"double"', "plain-enough", '"plain-enough"'),
    ],
)
def test_yaml_quoting_style_is_kept_when_it_holds_the_value(old: str, new: str, written: str) -> None:
    result = merge(f"token: {old}  # c\n", "yaml", {"token": new}, path=PATH)
    assert result.text == f"token: {written}  # c\n"
    assert yaml.safe_load(result.text) == {"token": new}


@pytest.mark.parametrize("char, name", [("\u2028", "U+2028 (LINE SEPARATOR)"), ("\x85", "U+0085 (NEXT LINE)")])
def test_yaml_unicode_line_ends_are_refused_naming_the_line(char: str, name: str) -> None:
    with pytest.raises(ConfigFileError, match=re.escape(f"line 2 holds the character {name}")):
        merge(f"a: 1\nb: 'x{char}y'\ntoken: old\n", "yaml", {"token": "N"}, path=PATH)


def test_yaml_mixed_line_endings_are_accepted_while_nothing_is_written() -> None:
    text = "name: app\r\ntoken: N\n"
    assert merge(text, "yaml", {"token": "N"}, path=PATH).text == text
    assert parse_values(text, "yaml", ["token"], path=PATH) == {"token": "N"}


# -- json: more of the class ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before, after",
    [
        ("{}", '{\n  "token": "N"\n}'),
        ("{ }\n", '{\n  "token": "N"\n}\n'),
        ("{\r\n}\r\n", '{\r\n  "token": "N"\r\n}\r\n'),
        ('{"a":1}', '{"a":1,"token":"N"}'),
        ('{"a": 1}', '{"a": 1, "token": "N"}'),
        ('{"a": 1, "b": 2}', '{"a": 1, "b": 2, "token": "N"}'),
        ('{"tok\\u0065n": 1}', '{"tok\\u0065n": "N"}'),  # the key is matched as JSON reads it and stays as written
        ('{"token": {"deep": [1, 2]}}', '{"token": "N"}'),
        ('{"token": null}', '{"token": "N"}'),
    ],
)
def test_json_edits_are_exact(before: str, after: str) -> None:
    assert merge(before, "json", {"token": "N"}, path=PATH).text == after


def test_json_non_ascii_values_follow_the_file() -> None:
    assert merge('{"a": "x"}', "json", {"t": "caf\u00e9"}, path=PATH).text == '{"a": "x", "t": "caf\\u00e9"}'
    assert merge('{"a": "\u00fc"}', "json", {"t": "caf\u00e9"}, path=PATH).text == '{"a": "\u00fc", "t": "caf\u00e9"}'


def test_json_integer_values() -> None:
    assert merge('{"n": "5"}', "json", {"n": 5}, path=PATH).text == '{"n": 5}'


# -- ini: more of the class -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before, after",
    [
        ("[zoho_thrive]\ntoken: old\n", "[zoho_thrive]\ntoken: N\nadded: v\n"),
        ("[zoho_thrive]\ntoken=old\n", "[zoho_thrive]\ntoken=N\nadded=v\n"),
        ("[zoho_thrive]\ntoken =\n", "[zoho_thrive]\ntoken = N\nadded = v\n"),
        ("[a]\nx: 1\n", "[a]\nx: 1\n\n[zoho_thrive]\ntoken: N\nadded: v\n"),  # a new section copies the file's separator
        ("[zoho_thrive]\ntoken = old\n  continued\n\n  more\nb = 1\n", "[zoho_thrive]\ntoken = N\nb = 1\nadded = v\n"),
    ],
)
def test_ini_edits_follow_the_file(before: str, after: str) -> None:
    assert merge(before, "ini", {"token": "N", "added": "v"}, path=PATH).text == after


def test_ini_reader_reads_lone_cr_files_as_applications_do() -> None:
    assert parse_values("[zoho_thrive]\rtoken = a\rother = b\r", "ini", ["token", "other"], path=PATH) == {"token": "a", "other": "b"}


@pytest.mark.parametrize(
    "before, after",
    [
        ("---\n...\n", '---\ntoken: "N"\n...\n'),  # an empty document between markers
        ("--- # generator\n", '--- # generator\ntoken: "N"\n'),
        ("a: 1\n...\n# after the end\n", 'a: 1\ntoken: "N"\n...\n# after the end\n'),
    ],
)
def test_yaml_new_keys_go_inside_the_document(before: str, after: str) -> None:
    assert merge(before, "yaml", {"token": "N"}, path=PATH).text == after


# -- env: what sh, bash and systemd's EnvironmentFile= really read (review of issue 7) ---------------
#
# A managed value counts as held only where sh, bash and systemd (before and since version 254) all
# read exactly it; a line that one of them reads differently is rewritten, and a line whose meaning
# the module cannot model for all of them is refused, naming the line and the cause. The evidence
# comes from the real shells and from systemd's own env-file parser on this host (the environment.d
# generator uses the same parser as EnvironmentFile=, plus a $-expansion that the tests avoid).

ENV_KEY = "ZOHO_THRIVE_REFRESH_TOKEN"
ENV_NEW = "1000.new.token"
ENV_GENERATOR = "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator"
needs_generator = pytest.mark.skipif(not os.access(ENV_GENERATOR, os.X_OK), reason="systemd's environment.d generator is not installed")


def shell_value(shell: str, text: str, tmp_path: t.Any, key: str = ENV_KEY) -> str | None:
    """What ``shell`` has in ``key`` after ``set -a; . file`` of a file holding ``text`` (None: unset, or the shell gave up)."""
    path = tmp_path / "shell.env"
    path.write_bytes(text.encode())
    script = f'set -a; . "$1" 2>/dev/null; if [ -n "${{{key}+x}}" ]; then printf %s "${key}"; else printf UNSET; fi'
    out = subprocess.run([shell, "-c", script, shell, str(path)], capture_output=True, env={}, check=False).stdout.decode()
    return None if out in ("UNSET", "") else out


def systemd_value(text: str, tmp_path: t.Any, key: str = ENV_KEY) -> str | None:
    """What systemd's env-file parser gives ``key`` (via systemd-environment-d-generator); None: not set (or empty)."""
    conf = tmp_path / "xdg" / "environment.d"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "10-app.conf").write_bytes(text.encode())
    run = subprocess.run([ENV_GENERATOR], capture_output=True, env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, check=False)
    for line in run.stdout.decode().splitlines():
        if line.startswith(key + "="):
            value = line[len(key) + 1 :]
            if value[:1] != '"':
                return value
            # Quoted for the shell, with C escapes for control characters (systemd's shell_maybe_quote).
            escapes = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
            return re.sub(r"\\(x[0-9a-fA-F]{2}|.)", lambda m: chr(int(m[1][1:], 16)) if len(m[1]) == 3 else escapes.get(m[1], m[1]), value[1:-1])
    return None


def systemd_version() -> int:
    run = subprocess.run(["systemctl", "--version"], capture_output=True, text=True, check=False)
    words = run.stdout.split()
    return int(words[1]) if len(words) > 1 and words[1].isdigit() else 0


def env_held(text: str, value: str = ENV_NEW) -> bool:
    """True when the module leaves ``text`` alone (changed=0) for ENV_KEY=value; a refusal claims nothing."""
    try:
        result = merge(text, "env", {ENV_KEY: value}, path=PATH)
    except ConfigFileError:
        return False
    return result.text == text and not result.changed_keys


# `export KEY=value`: systemd reads "export KEY" as the name, which is invalid, and ignores the line.


def test_env_export_line_of_a_managed_key_is_not_held() -> None:
    text = f"LOG_LEVEL=info\nexport {ENV_KEY}={ENV_NEW}\n"
    assert not env_held(text), "changed=0, but systemd's EnvironmentFile= ignores an 'export KEY=value' line"


def test_env_rewritten_export_line_is_a_line_systemd_reads(tmp_path: t.Any) -> None:
    text = f"export {ENV_KEY}=1000.old.token\n"
    merged = merge(text, "env", {ENV_KEY: ENV_NEW}, path=PATH).text
    assert f"{ENV_KEY}={ENV_NEW}" in merged.splitlines(), f"no line that systemd reads: {merged!r}"
    if os.access(ENV_GENERATOR, os.X_OK):
        assert systemd_value(merged, tmp_path) == ENV_NEW
    assert shell_value("sh", merged, tmp_path) == ENV_NEW and shell_value("bash", merged, tmp_path) == ENV_NEW


@needs_generator
def test_env_export_line_is_ignored_by_systemds_parser(tmp_path: t.Any) -> None:
    """Evidence for the two tests above, from systemd's own parser on this host."""
    text = f"export {ENV_KEY}={ENV_NEW}\n"
    assert shell_value("sh", text, tmp_path) == ENV_NEW
    assert systemd_value(text, tmp_path) is None
    assert parse_values(text, "env", [ENV_KEY], path=PATH)[ENV_KEY] == ENV_NEW  # the reader reports what sh reads ...
    assert not env_held(text)  # ... and the merge does not count it as held


# A construct that sh continues over the next lines hides the managed line from sh.


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f'LOG_DIR="$HOME/logs\n{ENV_KEY}={ENV_NEW}\nOTHER=1 # "\n', id="unclosed-double-quote-after-dollar"),
        pytest.param(f"STAMP=$(date\n{ENV_KEY}={ENV_NEW}\nEND=1)\n", id="unclosed-command-substitution"),
        pytest.param(f"STAMP=`date\n{ENV_KEY}={ENV_NEW}\nEND=1`\n", id="unclosed-backquote"),
        pytest.param(f'DIR=${{X:-"}}\n{ENV_KEY}={ENV_NEW}\nB=1 # "}}\n', id="unclosed-parameter-expansion"),
    ],
)
def test_env_line_that_sh_continues_over_the_managed_line_is_refused(text: str, tmp_path: t.Any) -> None:
    for shell in ("sh", "bash"):
        assert shell_value(shell, text, tmp_path) != ENV_NEW  # the consumer does not get the value ...
    assert not env_held(text), "... yet the module reports changed=0 (it should repair or refuse)"
    with pytest.raises(ConfigFileError, match=f"Cannot parse {PATH} as an env file: line 1 "):
        merge(text, "env", {ENV_KEY: ENV_NEW}, path=PATH)


# A later line that assigns the managed key for sh, behind another assignment or a command.


@pytest.mark.parametrize(
    "later",
    [
        pytest.param(f"A=1; {ENV_KEY}=1000.old.token", id="semicolon"),
        pytest.param(f"LOG_LEVEL=info {ENV_KEY}=1000.old.token", id="two-assignments-on-one-line"),
        pytest.param(f"A=1 && {ENV_KEY}=1000.old.token", id="and-list"),
    ],
)
def test_env_later_assignment_that_wins_for_sh_is_refused(later: str, tmp_path: t.Any) -> None:
    text = f"{ENV_KEY}={ENV_NEW}\n{later}\n"
    assert shell_value("sh", text, tmp_path) == "1000.old.token"  # sh reads the old token ...
    assert not env_held(text), "... yet the module reports changed=0"
    with pytest.raises(ConfigFileError, match="line 2 is not a KEY=value line but a shell command"):
        merge(text, "env", {ENV_KEY: ENV_NEW}, path=PATH)


# A comment ending in a backslash swallows the next line for systemd before 254 (Debian 12, RHEL 9, Ubuntu 22.04).


def test_env_managed_line_after_a_comment_ending_in_a_backslash_is_not_held(tmp_path: t.Any) -> None:
    text = f"# token for the app \\\n{ENV_KEY}={ENV_NEW}\n"
    if os.access(ENV_GENERATOR, os.X_OK) and 0 < systemd_version() < 254:
        assert systemd_value(text, tmp_path) is None  # systemd/systemd#27975, fixed in v254
    assert not env_held(text), "changed=0, but systemd < 254 reads the managed line as part of the comment"


# YAML: a tab is named as the cause, not only its position.


@pytest.mark.parametrize(
    "text, where",
    [
        pytest.param("log_level: info\t# verbose\nrefresh_token: old\n", "line 1, column 16", id="tab-before-comment"),
        pytest.param("log_level:\tinfo\nrefresh_token: old\n", "line 1, column 11", id="tab-after-colon"),
        pytest.param("a: 1\n\tb: 2\n", "line 2, column 1", id="tab-indentation"),
    ],
)
def test_yaml_tab_refusal_names_the_tab(text: str, where: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        merge(text, "yaml", {"refresh_token": ENV_NEW}, path=PATH)
    message = str(info.value)
    assert "tab" in message.lower() and where in message and "Replace it with spaces" in message, message


# -- env: the rest of the class ---------------------------------------------------------------------

ENV_OLD = "1000.old.token"


@pytest.mark.parametrize(
    "first, cause",
    [
        pytest.param("A='x", "opens a quote that it does not close", id="single-quote"),
        pytest.param('A="x', "opens a quote that it does not close", id="double-quote"),
        pytest.param('A="x\\', "opens a quote that it does not close", id="backslash-in-double-quotes"),
        pytest.param("A=x\\", "ends with a backslash, so sh reads the next line as part of this one", id="trailing-backslash"),
        pytest.param("A=x'y", "opens a quote that it does not close", id="quote-inside-a-word"),
        pytest.param('A=$(echo "', "runs a command when sh reads it", id="quote-in-command-substitution"),
        pytest.param("A=$(echo x # )", "runs a command when sh reads it", id="comment-in-command-substitution"),
        pytest.param('A="a`b', "runs a command when sh reads it", id="backquote-in-double-quotes"),
        pytest.param("A=$((1 +", "computes a value when sh reads it", id="arithmetic"),
        pytest.param("A=${X:-'}", "has a parameter expansion ${...} that the module cannot read to its end", id="quote-in-braces"),
        pytest.param("A=${X", "has a parameter expansion ${...} that the module cannot read to its end", id="unclosed-braces"),
        pytest.param("A=$'x\\'", "uses $'...' quoting", id="ansi-c-quote"),
    ],
)
def test_env_constructs_that_sh_may_continue_are_refused_naming_line_and_cause(tmp_path: t.Any, first: str, cause: str) -> None:
    text = f"{first}\n{ENV_KEY}={ENV_NEW}\nB=1 # ' \" ` ) }}\n"
    assert [shell_value(shell, text, tmp_path) for shell in ("sh", "bash")] != [ENV_NEW, ENV_NEW]  # real sh or bash miss the value
    for call in (lambda: merge(text, "env", {ENV_KEY: ENV_NEW}, path=PATH), lambda: parse_values(text, "env", [ENV_KEY], path=PATH)):
        with pytest.raises(ConfigFileError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"Cannot parse {PATH} as an env file: line 1 {cause}") and message.endswith("it was not changed."), message
        assert ENV_NEW not in message and first not in message


@pytest.mark.parametrize(
    "later, detail",
    [
        pytest.param(f"A=1; {ENV_KEY}={ENV_OLD}", "the operator ';'", id="semicolon"),
        pytest.param(f"A=1 || {ENV_KEY}={ENV_OLD}", "the operator '|'", id="or-list"),
        pytest.param(f"true | {ENV_KEY}={ENV_OLD}", "the operator '|'", id="pipe"),
        pytest.param(f"{ENV_KEY}={ENV_OLD} A=1", "several assignments on one line", id="managed-first"),
        pytest.param(f"A= eval {ENV_KEY}={ENV_OLD}", "a blank after =", id="prefix-assignment-and-eval"),
        pytest.param(f"{ENV_KEY} ={ENV_OLD}", "a blank before =", id="blank-before-equals"),
        pytest.param(f"{ENV_KEY}= {ENV_OLD}", "a blank after =", id="blank-after-equals"),
        pytest.param(f"{ENV_KEY}=1000.old token", "several words", id="unquoted-blank"),
        pytest.param(f"eval {ENV_KEY}={ENV_OLD}", "it does not start with KEY=", id="eval"),
        pytest.param(f"unset {ENV_KEY}", "it does not start with KEY=", id="unset"),
        pytest.param(f"export {ENV_KEY}", "export followed by something other than one KEY=value", id="export-without-value"),
        pytest.param(f"export A=1 {ENV_KEY}={ENV_OLD}", "export followed by something other than one KEY=value", id="export-two"),
        pytest.param(f"{ENV_KEY}+=x", "it does not start with KEY=", id="bash-append"),
        pytest.param("A=(1 2)", "the operator '('", id="bash-array"),
        pytest.param("f() { :; }", "the operator '('", id="function"),
    ],
)
def test_env_shell_commands_are_refused_naming_line_and_cause(tmp_path: t.Any, later: str, detail: str) -> None:
    text = f"{ENV_KEY}={ENV_NEW}\n{later}\n"
    with pytest.raises(ConfigFileError) as info:
        merge(text, "env", {ENV_KEY: ENV_NEW}, path=PATH)
    message = str(info.value)
    assert message.startswith(f"Cannot parse {PATH} as an env file: line 2 is not a KEY=value line but a shell command ({detail}")
    assert ENV_OLD not in message and ENV_NEW not in message and "1000.old" not in message


@pytest.mark.parametrize(
    "later",
    [f"A=${{{ENV_KEY}:={ENV_OLD}}}", f"A=${{{ENV_KEY}={ENV_OLD}}}", f"A=$(({ENV_KEY}=5))", f"A=$[{ENV_KEY}=5]", f"A=${{{ENV_KEY}:?unset}}"],
)
def test_env_expansions_that_assign_or_stop_sh_are_refused(tmp_path: t.Any, later: str) -> None:
    text = f"{ENV_KEY}=\n{later}\n"
    assert shell_value("bash", text, tmp_path) != ""  # bash assigns the key (or stops): the empty value is not what it reads
    with pytest.raises(ConfigFileError, match=f"Cannot parse {PATH} as an env file: line 2 (assigns|computes|has a parameter)"):
        merge(text, "env", {ENV_KEY: ""}, path=PATH)


@pytest.mark.parametrize(
    "line",
    ["A=$HOME", 'A="$HOME/logs"', "A=${HOME}", "A=${X:-/var/log}", "A=${#X}", "A=~/x", "A=a$", 'A="$"', "A=$1", "A=x#y", "A='$(date)'", 'A="a\'b"'],
)
def test_env_lines_whose_expansions_cannot_touch_other_lines_are_accepted(tmp_path: t.Any, line: str) -> None:
    text = f"{line}\n{ENV_KEY}={ENV_OLD}\n"
    result = merge(text, "env", {ENV_KEY: ENV_NEW}, path=PATH)
    assert result.text == f"{line}\n{ENV_KEY}={ENV_NEW}\n"
    for shell in ("sh", "bash"):
        assert shell_value(shell, result.text, tmp_path) == ENV_NEW
        assert shell_value(shell, result.text, tmp_path, "A") == shell_value(shell, text, tmp_path, "A")


@needs_generator
def test_env_line_that_systemd_continues_over_the_managed_line_is_refused(tmp_path: t.Any) -> None:
    """`A=x # note \\`: sh ends the line at the comment, systemd (no comments after a value) reads the next line into A."""
    text = f"A=x # note \\\n{ENV_KEY}={ENV_NEW}\n"
    assert shell_value("sh", text, tmp_path) == ENV_NEW and shell_value("bash", text, tmp_path) == ENV_NEW
    assert systemd_value(text, tmp_path) is None and systemd_value(text, tmp_path, "A") == f"x # note {ENV_KEY}={ENV_NEW}"
    with pytest.raises(ConfigFileError, match="line 1 makes systemd's EnvironmentFile= read the line after it as part of its value"):
        merge(text, "env", {ENV_KEY: ENV_NEW}, path=PATH)


@pytest.mark.parametrize("text", ["A=1\0\n", f"{ENV_KEY}=x\nA=\0\n"])
def test_env_nul_character_is_refused(text: str) -> None:
    with pytest.raises(ConfigFileError, match="holds a NUL character, where systemd's EnvironmentFile= stops reading the file"):
        merge(text, "env", {ENV_KEY: ENV_NEW}, path=PATH)


@pytest.mark.parametrize(
    "before, after",
    [
        # a managed line that systemd < 254 reads as part of the comment gets a blank line before it
        (f"# note \\\n{ENV_KEY}={ENV_OLD}\nA=1\n", f"# note \\\n\n{ENV_KEY}={ENV_NEW}\nA=1\n"),
        (f"# note \\\n{ENV_KEY}={ENV_NEW}\n", f"# note \\\n\n{ENV_KEY}={ENV_NEW}\n"),  # the right value, but not for systemd 252
        (f"# a \\\n# b \\\n{ENV_KEY}={ENV_OLD}\n", f"# a \\\n# b \\\n\n{ENV_KEY}={ENV_OLD.replace('old', 'new')}\n"),  # a chain
        (f"; c \\\n  {ENV_KEY}={ENV_OLD}\n", None),  # ";" is no comment for sh: refused
        # new keys are not appended into a comment either, with or without a final line break
        ("A=1\n# end \\\n", f"A=1\n# end \\\n\n{ENV_KEY}={ENV_NEW}\n"),
        ("A=1\n# end \\", f"A=1\n# end \\\n\n{ENV_KEY}={ENV_NEW}\n"),
        # an even number of backslashes ends the comment: nothing to repair
        (f"# note \\\\\n{ENV_KEY}={ENV_NEW}\n", f"# note \\\\\n{ENV_KEY}={ENV_NEW}\n"),
        ("# end \\\\\n", f"# end \\\\\n{ENV_KEY}={ENV_NEW}\n"),
        # CRLF: converted, and the managed line that the conversion puts into the comment gets its blank line
        (f"# note \\\r\n{ENV_KEY}={ENV_OLD}\r\n", f"# note \\\n\n{ENV_KEY}={ENV_NEW}\n"),
    ],
)
def test_env_comment_ending_in_a_backslash_never_hides_a_managed_line(tmp_path: t.Any, before: str, after: str | None) -> None:
    if after is None:
        with pytest.raises(ConfigFileError, match="line 1 is not a KEY=value line"):
            merge(before, "env", {ENV_KEY: ENV_NEW}, path=PATH)
        return
    result = merge(before, "env", {ENV_KEY: ENV_NEW}, path=PATH)
    assert result.text == after
    assert (result.changed_keys == []) is (after == before)
    for shell in ("sh", "bash"):
        assert shell_value(shell, after, tmp_path) == ENV_NEW
    if os.access(ENV_GENERATOR, os.X_OK):
        assert systemd_value(after, tmp_path) == ENV_NEW
    again = merge(after, "env", {ENV_KEY: ENV_NEW}, path=PATH)
    assert again.text == after and again.changed_keys == []


def test_env_crlf_conversion_that_would_hide_an_unrelated_line_from_systemd_is_refused(tmp_path: t.Any) -> None:
    """With CRLF, systemd's comment backslash escapes the CR and the LF ends the comment; with LF alone it would not."""
    text = f"# note \\\r\nA=1\r\n{ENV_KEY}={ENV_OLD}\r\n"
    if os.access(ENV_GENERATOR, os.X_OK) and 0 < systemd_version() < 254:
        assert systemd_value(text, tmp_path, "A") == "1" and systemd_value(text.replace("\r", ""), tmp_path, "A") is None
    with pytest.raises(ConfigFileError) as info:
        merge(text, "env", {ENV_KEY: ENV_NEW}, path=PATH)
    assert str(info.value).startswith(f"Cannot convert the env file {PATH} from CRLF to LF line endings safely: the comment on line 1 ")
    assert "would read line 2 as part of that comment" in str(info.value)


def test_env_crlf_line_that_systemd_would_continue_after_conversion_is_refused_saying_so() -> None:
    with pytest.raises(ConfigFileError) as info:
        merge(f"A=x # c \\\r\n{ENV_KEY}={ENV_OLD}\r\n", "env", {ENV_KEY: ENV_NEW}, path=PATH)
    assert str(info.value).startswith(f"Cannot parse {PATH} as an env file once its CRLF line endings are converted to LF")
    assert "line 1 makes systemd's EnvironmentFile= read the line after it" in str(info.value)


def test_env_crlf_line_with_a_blank_before_the_cr_is_read_as_sh_reads_it(tmp_path: t.Any) -> None:
    """`A=1 <CR>`: sh runs the command <CR> with A=1 in its environment, so A keeps its earlier value."""
    text = "A=x\r\nA=1 \r\n"
    assert parse_values(text, "env", ["A"], path=PATH) == consumer_read(tmp_path, "env", text.encode(), ["A"]) == {"A": "x\r"}
    result = merge(f"{ENV_KEY}=v \r\n", "env", {ENV_KEY: "v"}, path=PATH)
    assert result.text == f"{ENV_KEY}=v \n" and result.changed_keys == [ENV_KEY]


def test_env_export_dropped_from_a_managed_line_still_exports_under_set_a(tmp_path: t.Any) -> None:
    result = merge(f"export {ENV_KEY}={ENV_OLD}\n", "env", {ENV_KEY: ENV_NEW}, path=PATH)
    (tmp_path / "app.env").write_text(result.text)
    child = subprocess.run(["sh", "-c", "set -a; . ./app.env; exec env"], cwd=str(tmp_path), capture_output=True, text=True, env={}, check=True)
    assert f"{ENV_KEY}={ENV_NEW}" in child.stdout.splitlines()


ENV_SYSTEMD_TEXTS = [
    "A=abc\nB='x y' \nC=\"q\\\"w\\\\e\\z\"\nD= v \nE\n F = g\n",
    "A=x # c\nB='a'b\"c\" d \nC=a\\ b\\\nD=1\n",
    "# c \\\nA=1\n# d \\\\\nB=2\n; e \\\nC=3\n",
    "export A=1\nB=2\nexport\tC=3\n",
    "A=1\r\nB='x'\r\n# c \\\r\nC=3\r\n",
    "A=x\\\n  y\nB=\"two\\\nlines\"\nC='a b\n",  # continued values (the generator prints no line break in a value)
    "A=caf\u00e9\nB=a=b\nC=#x\nD=\"\\$\\`\"\nE=' \t'\n",  # (nor an empty value)
]


@needs_generator
@pytest.mark.parametrize("text", ENV_SYSTEMD_TEXTS)
def test_env_systemd_model_agrees_with_systemds_own_parser(tmp_path: t.Any, text: str) -> None:
    """The model of EnvironmentFile= (before 254 on this host, systemd 252) gives what systemd's parser gives."""
    keys = ["A", "B", "C", "D", "E", "F"]
    assignments = _config_file._systemd_env(text, comment_escapes=systemd_version() < 254)[0]
    model: dict[str, str | None] = {key: None for key in keys}
    for _line, (key, value) in sorted(assignments.items()):
        if key in model:
            model[key] = value
    assert model == {key: systemd_value(text, tmp_path, key) for key in keys}


# -- ini: comment lines among the continuation lines of a managed value stay -------------------------


@pytest.mark.parametrize(
    "before, after",
    [
        ("[zoho_thrive]\ntoken = old\n  c1\n# note\n  c2\nb = 1\n", "[zoho_thrive]\ntoken = N\n# note\nb = 1\n"),
        ("[zoho_thrive]\ntoken = old\n  c1\n  ; indented note\n\n  c2\n# after\nb = 1\n", "[zoho_thrive]\ntoken = N\n  ; indented note\n# after\nb = 1\n"),
    ],
)
def test_ini_comment_lines_inside_a_replaced_multi_line_value_stay(before: str, after: str) -> None:
    result = merge(before, "ini", {"token": "N"}, path=PATH)
    assert result.text == after
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(result.text)
    assert parser.get("zoho_thrive", "token") == "N" and parser.get("zoho_thrive", "b") == "1"
    assert merge(result.text, "ini", {"token": "N"}, path=PATH).changed_keys == []
