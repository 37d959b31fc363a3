# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""zoho_thrive_role_vars: unknown role variables are named, with the closest known one."""

from __future__ import annotations

import typing as t

from ansible_collections.zohothrive.oauth.plugins.modules import zoho_thrive_role_vars as module

KNOWN = ["thrive_tokens_config_format", "thrive_tokens_config_path", "thrive_tokens_client_secret"]
ROLE = "zohothrive.oauth.thrive_tokens"


def test_unknown_names_get_the_closest_known_one() -> None:
    given = ["thrive_tokens_config_fromat", "thrive_tokens_config_path", "thrive_tokens_config_fromat", "other_var", "thrive_tokens_zzz"]
    assert module.unknown_names(prefix="thrive_tokens_", known=KNOWN, given=given) == [
        {"name": "thrive_tokens_config_fromat", "closest": "thrive_tokens_config_format"},
        {"name": "thrive_tokens_zzz", "closest": ""},
    ]


def test_a_misspelled_prefix_is_reported_only_when_close_to_a_known_name() -> None:
    given = ["thrive_token_config_format", "thrivetokens_config_path", "thrive_api_url", "thrive_tenant"]
    assert module.unknown_names(prefix="thrive_tokens_", known=KNOWN, given=given) == [
        {"name": "thrive_token_config_format", "closest": "thrive_tokens_config_format"},
        {"name": "thrivetokens_config_path", "closest": "thrive_tokens_config_path"},
    ]


def test_internal_names_are_not_reported() -> None:
    assert module.unknown_names(prefix="__thrive_tokens_", known=[], given=["__thrive_tokens_values"]) == []


def test_module_warns_once_per_name(run_module: t.Any) -> None:
    result = run_module(
        module, {"role": ROLE, "prefix": "thrive_tokens_", "known": KNOWN, "given": ["thrive_tokens_client_secrte", "thrive_tokens_client_secrte"]}
    )
    assert result["changed"] is False
    assert result["unknown"] == [{"name": "thrive_tokens_client_secrte", "closest": "thrive_tokens_client_secret"}]
    assert result.warning_messages == [
        f"{ROLE} does not know the variable thrive_tokens_client_secrte, so it has no effect. Did you mean thrive_tokens_client_secret? "
        f"The role's variables are listed by ansible-doc -t role {ROLE}."
    ]


def test_nothing_unknown_means_no_warning(run_module: t.Any) -> None:
    result = run_module(module, {"role": ROLE, "prefix": "thrive_tokens_", "known": KNOWN, "given": KNOWN})
    assert result["unknown"] == [] and result.warning_messages == []
