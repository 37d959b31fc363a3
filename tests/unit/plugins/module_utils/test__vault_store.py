# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The vault store's settings: each missing or bad one named, with the fix (the store itself runs against OpenBao in tests/system)."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoTokenStoreError
from ansible_collections.zohothrive.oauth.plugins.module_utils._vault_store import DEFAULT_TIMEOUT, check_settings

BASE = {"url": "https://vault.example.test:8200", "token": "s.token", "path": "zohothrive/app"}


def test_defaults() -> None:
    checked = check_settings(BASE)
    assert checked["auth_method"] == "token" and checked["engine_mount_point"] == "secret" and checked["timeout"] == DEFAULT_TIMEOUT
    assert checked["validate_certs"] is True


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"url": None}, "`vault.url`"),
        ({"url": "vault.example.test"}, "must start with https://"),
        ({"auth_method": "ldap"}, "`vault.auth_method` must be one of token, approle"),
        ({"token": None}, "needs `vault.token`"),
        ({"auth_method": "approle"}, "needs `vault.role_id` and `vault.secret_id`"),
        ({"path": ""}, "needs `vault.path`"),
        ({"path": "zohothrive/../other"}, "needs `vault.path`"),
        ({"timeout": 0}, "`vault.timeout` must be a number of seconds from 1 to 3600"),  # not silently the default
        ({"timeout": 3601}, "`vault.timeout` must be a number of seconds from 1 to 3600"),
    ],
)
def test_each_bad_setting_is_named(change: dict[str, t.Any], words: str) -> None:
    with pytest.raises(ZohoTokenStoreError, match=words.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        check_settings(dict(BASE, **change))
