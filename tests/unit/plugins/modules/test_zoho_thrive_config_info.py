# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""zoho_thrive_config_info: reading the managed keys, split from zoho_thrive_config's state=read (issue 9, item 3).

The same reads as the deprecated state=read, under the new option names, plus the deprecation path.
"""

from __future__ import annotations

import hashlib
import os
import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.modules import zoho_thrive_config
from ansible_collections.zohothrive.oauth.plugins.modules import zoho_thrive_config_info as module

RT = "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_returns_current_values_and_fingerprints_and_changes_nothing(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.env"
    target.write_text(f"export REFRESH_TOKEN='{RT}'\n")
    before = (target.read_bytes(), os.stat(target).st_mtime_ns)
    result = run_module(module, {"path": str(target), "format": "env", "keys": ["REFRESH_TOKEN", "ACCESS_TOKEN"]})
    assert result["changed"] is False and result["exists"] is True and result["path"] == str(target)
    assert result["current_values"] == {"REFRESH_TOKEN": RT, "ACCESS_TOKEN": None}
    assert result["fingerprints"] == {"REFRESH_TOKEN": sha(RT), "ACCESS_TOKEN": None}
    assert (target.read_bytes(), os.stat(target).st_mtime_ns) == before
    assert sorted(os.listdir(tmp_path)) == ["app.env"]


def test_returns_values_under_their_aliases(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.env"
    target.write_text(f"ZOHO_THRIVE_REFRESH_TOKEN={RT}\n")
    args = {"path": str(target), "format": "env", "keys": ["ZOHO_THRIVE_REFRESH_TOKEN", "ZOHO_THRIVE_ACCESS_TOKEN"]}
    result = run_module(module, dict(args, aliases=["refresh_token", "access_token"]))
    assert result["current_values"] == {"refresh_token": RT, "access_token": None}


@pytest.mark.parametrize("aliases", [["only_one"], ["same", "same"]])
def test_aliases_must_match_the_keys_one_to_one(run_module: t.Any, tmp_path: t.Any, aliases: list[str]) -> None:
    target = tmp_path / "app.env"
    target.write_text(f"A={RT}\n")
    result = run_module(module, {"path": str(target), "format": "env", "keys": ["A", "B"], "aliases": aliases})
    assert result.failed and "`aliases` must name each of the 2 `keys` once" in result["msg"]
    assert RT not in result["msg"]


def test_a_missing_file_reads_as_empty(run_module: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, {"path": str(tmp_path / "none.yml"), "format": "yaml", "keys": ["a"]}, check_mode=True)
    assert result["changed"] is False and result["exists"] is False
    assert result["current_values"] == {"a": None} and result["fingerprints"] == {"a": None}


def test_an_unparsable_file_fails_naming_the_line(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.ini"
    target.write_text(f"token = {RT}\n")
    result = run_module(module, {"path": str(target), "format": "ini", "keys": ["token"]})
    assert result.failed and f"Cannot parse {target} as an ini file (line 1)" in result["msg"]
    assert RT not in result["msg"]


def test_a_link_is_refused_unless_followed(run_module: t.Any, tmp_path: t.Any) -> None:
    real = tmp_path / "real.env"
    real.write_text(f"A={RT}\n")
    link = tmp_path / "link.env"
    link.symlink_to(real)
    refused = run_module(module, {"path": str(link), "format": "env", "keys": ["A"]})
    assert refused.failed and "`follow`" in refused["msg"]
    followed = run_module(module, {"path": str(link), "format": "env", "keys": ["A"], "follow": True})
    assert followed["current_values"] == {"A": RT}


def test_a_bad_key_name_names_the_option_in_the_callers_words(run_module: t.Any, tmp_path: t.Any) -> None:
    args = {"path": str(tmp_path / "a.env"), "format": "env", "keys": ["1bad"], "option_labels": {"keys": "thrive_tokens_keys"}}
    result = run_module(module, args)
    assert result.failed and "`thrive_tokens_keys`" in result["msg"]


def test_state_read_of_zoho_thrive_config_still_works_and_is_deprecated(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.env"
    target.write_text(f"A={RT}\n")
    old = run_module(zoho_thrive_config, {"path": str(target), "format": "env", "state": "read", "read_keys": ["A"]})
    new = run_module(module, {"path": str(target), "format": "env", "keys": ["A"]})
    assert {key: old[key] for key in ("exists", "current_values", "fingerprints", "path")} == {
        key: new[key] for key in ("exists", "current_values", "fingerprints", "path")
    }
    deprecations = [entry.get("msg", entry) if isinstance(entry, dict) else entry for entry in old.get("deprecations", [])]
    assert any("zohothrive.oauth.zoho_thrive_config_info" in str(text) for text in deprecations), old
