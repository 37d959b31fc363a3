# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""zoho_thrive_revoke: revoke a refresh token; an already-invalid token is a warning."""

from __future__ import annotations

import json
import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils import _options
from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import TokenSet
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import TokenCache
from ansible_collections.zohothrive.oauth.plugins.modules import zoho_thrive_revoke as module
from ansible_collections.zohothrive.oauth.tests.unit.fakes import json_response, sentinel, tls_failure

SECRET = sentinel("secret")
RT = sentinel("refresh")
AT = sentinel("access")


def args(**extra: t.Any) -> dict[str, t.Any]:
    base: dict[str, t.Any] = {"refresh_token": RT}
    base.update(extra)
    return base


def seed_cache(path: str, *refresh_tokens: str) -> None:
    cache = TokenCache(path)
    with cache.locked():
        for refresh in refresh_tokens:
            cache.remember_access_token(refresh, TokenSet(access_token=AT, expires_in=3600, expires_at=2_000_000_000))


def test_revoke(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(json_response({"status": "success"}))
    result = run_module(module, args(refresh_token=RT + "\n", data_center="eu", client_id="1000.ID", client_secret=SECRET))
    assert result["changed"] is True and result["revoked"] is True
    assert len(zoho.calls) == 1
    assert zoho.calls[0].url == "https://accounts.zoho.eu/oauth/v2/token/revoke"
    assert zoho.calls[0].data == {"token": RT}  # stripped; the client secret is not sent
    zoho.session.assert_secrets_only_in_body(RT, SECRET)
    assert RT not in result.stdout and SECRET not in result.stdout
    assert [w.split(",")[0] for w in result.warning_messages] == ["`refresh_token` had a trailing newline"]


def test_already_invalid_token_is_a_warning(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(json_response({"error": "invalid_token"}, status=400))
    result = run_module(module, args())
    assert not result.failed
    assert result["changed"] is False and result["revoked"] is False
    warnings = result.warning_messages
    assert len(warnings) == 1
    assert "(error: invalid_token)" in warnings[0] and "Nothing was revoked." in warnings[0]
    assert len(zoho.calls) == 1
    assert RT not in result.stdout


def test_check_mode_sends_nothing(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = str(tmp_path / "tokens.json")
    seed_cache(cache, RT)
    result = run_module(module, args(token_cache=cache), check_mode=True)
    assert result["changed"] is True and result["revoked"] is False
    assert zoho.calls == []
    assert fingerprint(RT) in json.loads(open(cache, encoding="utf-8").read())["access_tokens"]


@pytest.mark.parametrize("answer", [json_response({"status": "success"}), json_response({"error": "invalid_token"}, status=400)])
def test_cached_access_token_is_forgotten(run_module: t.Any, zoho: t.Any, tmp_path: t.Any, answer: t.Any) -> None:
    cache = str(tmp_path / "tokens.json")
    other = sentinel("refresh")
    seed_cache(cache, RT, other)
    zoho.add(answer)
    run_module(module, args(token_cache=cache))
    remaining = json.loads(open(cache, encoding="utf-8").read())["access_tokens"]
    assert set(remaining) == {fingerprint(other)}


def test_server_errors_are_retried(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(json_response({}, status=503, headers={"Retry-After": "1"}), json_response({"status": "success"}))
    result = run_module(module, args())
    assert result["revoked"] is True
    assert len(zoho.calls) == 2 and zoho.sleep.delays == [1.0]


@pytest.mark.parametrize(
    ("step", "words"),
    [
        (json_response({"error": "invalid_client"}), "invalid_client"),
        (json_response({"status": "failure"}), "without status=success"),
        (tls_failure(), "TLS verification failed"),
    ],
)
def test_failures(run_module: t.Any, zoho: t.Any, tmp_path: t.Any, step: t.Any, words: str) -> None:
    cache = str(tmp_path / "tokens.json")
    seed_cache(cache, RT)
    zoho.add(step)
    result = run_module(module, args(token_cache=cache))
    assert result.failed and words in result["msg"]
    assert len(zoho.calls) == 1
    assert RT not in result.stdout
    # The token may still be alive: its cached access token is kept.
    assert fingerprint(RT) in json.loads(open(cache, encoding="utf-8").read())["access_tokens"]


def test_bad_token_is_refused_before_sending(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(refresh_token="  "))
    assert result.failed and "`refresh_token` is empty" in result["msg"]
    assert zoho.calls == []


def test_missing_requests(run_module: t.Any, zoho: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_options, "HAS_REQUESTS", False)
    result = run_module(module, args())
    assert result.failed and "Failed to import the required Python library (requests)" in result["msg"]
    assert zoho.calls == []
