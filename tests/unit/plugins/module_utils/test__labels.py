# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_labels: option names in messages, rewritten into the words of the caller (option_labels)."""

from __future__ import annotations

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils._labels import check_labels, relabel

LABELS = {"accounts_url": "thrive_tokens_accounts_url", "code": "thrive_tokens_grant_code", "mode": "thrive_tokens_config_mode"}


def test_marked_names_are_relabelled() -> None:
    text = "Invalid `accounts_url` 'https://x/oauth/v2/token': it has a path. Check `accounts_url` and `data_center`."
    assert relabel(text, LABELS) == (
        "Invalid `thrive_tokens_accounts_url` 'https://x/oauth/v2/token': it has a path. Check `thrive_tokens_accounts_url` and `data_center`."
    )


def test_plain_words_never_change() -> None:
    text = "The grant code may be spent; the file mode is 0600; accounts_url code mode."
    assert relabel(text, LABELS) == text


def test_no_labels_is_identity() -> None:
    assert relabel("Check `code`.", {}) == "Check `code`."


def test_check_labels_accepts_plain_names() -> None:
    assert check_labels(LABELS) == LABELS
    assert check_labels(None) == {}


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        (["code"], "must be a dictionary"),
        ({"not a name": "x"}, "not an option name"),
        ({"code": "two words"}, "not a plain variable name"),
        ({"code": "`x`"}, "not a plain variable name"),
        ({"code": 1}, "not a plain variable name"),
        ({"code": "x" * 101}, "not a plain variable name"),
    ],
)
def test_check_labels_refuses_what_could_mislead(labels: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_labels(labels)


def test_sub_options_are_named_with_a_dot() -> None:
    labels = check_labels({"vault.path": "thrive_tokens_vault_path", "path": "thrive_tokens_config_path"})
    text = "Point `vault.path` at another secret; `path` is the config file; vault.path unmarked stays."
    assert relabel(text, labels) == (
        "Point `thrive_tokens_vault_path` at another secret; `thrive_tokens_config_path` is the config file; vault.path unmarked stays."
    )
