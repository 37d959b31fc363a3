# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""zoho_thrive_auth_url: builds the consent URL; never talks to the network."""

from __future__ import annotations

import base64
import hashlib
import typing as t
from urllib.parse import parse_qs, urlsplit

from ansible_collections.zohothrive.oauth.plugins.modules import zoho_thrive_auth_url as module
from ansible_collections.zohothrive.oauth.tests.unit.fakes import sentinel

CLIENT_ID = "1000.CLIENTIDXYZ"
REDIRECT = "https://app.example.com/oauth/zoho/callback"


def args(**extra: t.Any) -> dict[str, t.Any]:
    base: dict[str, t.Any] = {"client_id": CLIENT_ID, "scopes": ["Thrive.Referral.CREATE"], "redirect_uri": REDIRECT}
    base.update(extra)
    return base


def query_of(url: str) -> dict[str, str]:
    parsed = parse_qs(urlsplit(url).query)
    assert all(len(v) == 1 for v in parsed.values())
    return {k: v[0] for k, v in parsed.items()}


def test_generates_a_state_when_omitted(run_module: t.Any, zoho: t.Any) -> None:
    first = run_module(module, args())
    second = run_module(module, args())
    assert first["changed"] is False
    assert len(first["state"]) >= 43
    assert first["state"] != second["state"]
    assert query_of(first["url"])["state"] == first["state"]
    assert "code_verifier" not in first
    assert zoho.calls == []


def test_url(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(scopes=["Thrive.Referral.CREATE", "ZohoThrive.advocates.READ"], state="my-state", prompt="consent"))
    parts = urlsplit(result["url"])
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "accounts.zoho.com", "/oauth/v2/auth")
    assert query_of(result["url"]) == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "scope": "Thrive.Referral.CREATE,ZohoThrive.advocates.READ",
        "redirect_uri": REDIRECT,
        "access_type": "offline",
        "state": "my-state",
        "prompt": "consent",
    }
    assert result["state"] == "my-state"


def test_data_center_and_accounts_url(run_module: t.Any, zoho: t.Any) -> None:
    assert run_module(module, args(data_center="cn"))["url"].startswith("https://accounts.zoho.com.cn/oauth/v2/auth?")
    explicit = run_module(module, args(data_center="cn", accounts_url="https://accounts.zoho.eu/"))
    assert explicit["url"].startswith("https://accounts.zoho.eu/oauth/v2/auth?")


def test_pkce(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(pkce=True, access_type="online"))
    verifier = result["code_verifier"]
    query = query_of(result["url"])
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")
    assert query["code_challenge"] == expected
    assert query["code_challenge_method"] == "S256"
    assert query["access_type"] == "online"
    assert verifier not in result["url"]


def test_check_mode_gives_the_same_answer(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(state="s1"), check_mode=True)
    assert result["changed"] is False and query_of(result["url"])["state"] == "s1"


def test_missing_client_id_names_the_environment_variable(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, {"scopes": ["Thrive.Referral.CREATE"], "redirect_uri": REDIRECT})
    assert result.failed and "ZOHO_THRIVE_CLIENT_ID" in result["msg"]


def test_client_id_from_the_environment(run_module: t.Any, zoho: t.Any, monkeypatch: t.Any) -> None:
    monkeypatch.setenv("ZOHO_THRIVE_CLIENT_ID", "1000.ENVID")
    result = run_module(module, {"scopes": ["Thrive.Referral.CREATE"], "redirect_uri": REDIRECT})
    assert query_of(result["url"])["client_id"] == "1000.ENVID"


def test_client_secret_from_module_defaults_is_accepted_and_never_shown(run_module: t.Any, zoho: t.Any) -> None:
    secret = sentinel("secret")
    result = run_module(module, args(client_secret=secret))
    assert not result.failed
    assert secret not in result.stdout


def test_bad_scope(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(scopes=["Thrive.Referral.CREATE Other.x.READ"]))
    assert result.failed and "one scope per list item" in result["msg"]


def test_bad_redirect_uri(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(redirect_uri="/relative/cb"))
    assert result.failed and "`redirect_uri` must be an absolute" in result["msg"]
