# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""zoho_thrive_refresh: mint only when the token in hand is about to expire."""

from __future__ import annotations

import json
import time
import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.modules import zoho_thrive_refresh as module
from ansible_collections.zohothrive.oauth.tests.unit.fakes import json_response, sentinel, token_payload

SECRET = sentinel("secret")
RT = sentinel("refresh")
GIVEN = sentinel("given")
MINTED = sentinel("minted")
CLIENT_ID = "1000.CLIENTIDXYZ"
MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def args(**extra: t.Any) -> dict[str, t.Any]:
    base: dict[str, t.Any] = {"client_id": CLIENT_ID, "client_secret": SECRET, "refresh_token": RT}
    base.update(extra)
    return base


def minted() -> t.Any:
    return json_response(token_payload(MINTED, refresh_token=None, api_domain="https://www.zohoapis.eu"))


def test_still_valid_given_token_is_returned_unmasked(run_module: t.Any, zoho: t.Any) -> None:
    expires_at = int(time.time()) + 3600
    result = run_module(module, args(access_token=GIVEN, expires_at=expires_at))
    assert zoho.calls == []
    assert result["changed"] is False and result["source"] == "given"
    assert result["access_token"] == GIVEN  # the real token, not the no_log mask
    assert MASK not in json.dumps({k: v for k, v in result.items() if k != "invocation"})
    assert result["expires_at"] == expires_at
    assert 3590 <= result["expires_in"] <= 3600
    assert result["token_type"] == "Bearer"
    assert result["api_domain"] == "https://www.zohoapis.com"
    assert "refresh_token" not in result
    # The token is printed once, as the result; the arguments stay masked wherever they are echoed.
    assert result.stdout.count(GIVEN) == 1
    echoed = result.echoed_args
    if echoed is not None:
        assert echoed["access_token"] == MASK and echoed["refresh_token"] == MASK and echoed["client_secret"] == MASK
    assert SECRET not in result.stdout and RT not in result.stdout


def test_given_token_keeps_its_api_domain(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(access_token=GIVEN, expires_at=int(time.time()) + 3600, api_domain="https://www.zohoapis.in"))
    assert result["api_domain"] == "https://www.zohoapis.in"
    eu = run_module(module, args(access_token=GIVEN, expires_at=int(time.time()) + 3600, data_center="eu"))
    assert eu["api_domain"] == "https://www.zohoapis.eu"
    assert zoho.calls == []


def test_given_token_with_surrounding_whitespace(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(access_token=GIVEN + "\n", expires_at=int(time.time()) + 3600))
    assert result["access_token"] == GIVEN
    assert zoho.calls == []


def test_expiring_token_is_refreshed(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(minted())
    result = run_module(module, args(access_token=GIVEN, expires_at=int(time.time()) + 120, data_center="eu"))
    assert result["changed"] is True and result["source"] == "zoho"
    assert result["access_token"] == MINTED
    assert result["api_domain"] == "https://www.zohoapis.eu"
    assert "refresh_token" not in result  # Zoho's refresh answer has none: keep using the old one
    assert len(zoho.calls) == 1
    call = zoho.calls[0]
    assert call.url == "https://accounts.zoho.eu/oauth/v2/token"
    assert call.data == {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": SECRET, "refresh_token": RT}
    zoho.session.assert_secrets_only_in_body(SECRET, RT, GIVEN)
    assert SECRET not in result.stdout and RT not in result.stdout and GIVEN not in result.stdout


def test_min_ttl_decides(run_module: t.Any, zoho: t.Any) -> None:
    expires_at = int(time.time()) + 1000
    kept = run_module(module, args(access_token=GIVEN, expires_at=expires_at, min_ttl=900))
    assert kept["changed"] is False and zoho.calls == []
    zoho.add(minted())
    replaced = run_module(module, args(access_token=GIVEN, expires_at=expires_at, min_ttl=1100))
    assert replaced["changed"] is True and replaced["access_token"] == MINTED
    assert len(zoho.calls) == 1


def test_without_a_given_token_it_refreshes(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(minted())
    result = run_module(module, args())
    assert result["changed"] is True and result["access_token"] == MINTED
    assert len(zoho.calls) == 1


def test_rotated_refresh_token_is_returned_with_a_warning(run_module: t.Any, zoho: t.Any) -> None:
    new_rt = sentinel("refresh")
    zoho.add(json_response(token_payload(MINTED, refresh_token=new_rt)))
    result = run_module(module, args())
    assert result["refresh_token"] == new_rt
    assert any("new refresh token" in w for w in result.warning_messages)


def test_access_token_requires_expires_at(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(access_token=GIVEN))
    assert result.failed and "parameters are required together: access_token, expires_at" in result["msg"]
    assert zoho.calls == []


def test_negative_min_ttl(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(min_ttl=-1))
    assert result.failed and "min_ttl" in result["msg"]
    assert zoho.calls == []


def test_missing_client_secret(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, {"client_id": CLIENT_ID, "refresh_token": RT})
    assert result.failed and "ZOHO_THRIVE_CLIENT_SECRET" in result["msg"]
    assert zoho.calls == []


def test_bad_refresh_token_is_refused_before_sending(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(refresh_token="1000.two words"))
    assert result.failed and "`refresh_token` contains whitespace" in result["msg"]
    assert zoho.calls == []


# -- check mode ---------------------------------------------------------------------------------------


def test_check_mode_with_a_valid_token(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(access_token=GIVEN, expires_at=int(time.time()) + 3600), check_mode=True)
    assert result["changed"] is False and result["access_token"] == GIVEN
    assert zoho.calls == []


def test_check_mode_with_an_expiring_token_sends_nothing(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(access_token=GIVEN, expires_at=int(time.time()) + 10), check_mode=True)
    assert result["changed"] is True and result["source"] == "none"
    assert "access_token" not in result
    assert zoho.calls == []


def test_check_mode_with_a_cache(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = str(tmp_path / "c" / "tokens.json")
    empty = run_module(module, args(token_cache=cache), check_mode=True)
    assert empty["changed"] is True and "access_token" not in empty
    assert not (tmp_path / "c").exists()
    zoho.add(minted())
    run_module(module, args(token_cache=cache))
    hit = run_module(module, args(token_cache=cache), check_mode=True)
    assert hit["changed"] is False and hit["source"] == "cache" and hit["access_token"] == MINTED
    assert len(zoho.calls) == 1


# -- token cache -------------------------------------------------------------------------------------------


def test_cache_mints_once(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(minted())
    first = run_module(module, args(token_cache=str(cache)))
    second = run_module(module, args(token_cache=str(cache)))
    assert len(zoho.calls) == 1
    assert first["changed"] is True and first["source"] == "zoho"
    assert second["changed"] is False and second["source"] == "cache"
    assert second["access_token"] == first["access_token"] == MINTED
    assert second["expires_at"] == first["expires_at"]
    data = json.loads(cache.read_text())
    assert data["access_tokens"][fingerprint(RT)]["access_token"] == MINTED
    assert RT not in cache.read_text() and SECRET not in cache.read_text()


def test_cache_is_bypassed_when_its_token_is_too_old(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(json_response(token_payload(GIVEN, refresh_token=None, expires_in=200)), minted())
    run_module(module, args(token_cache=str(cache)))
    result = run_module(module, args(token_cache=str(cache)))  # 200 s left < min_ttl 300
    assert result["changed"] is True and result["access_token"] == MINTED
    assert len(zoho.calls) == 2
    assert json.loads(cache.read_text())["access_tokens"][fingerprint(RT)]["access_token"] == MINTED


def test_cache_is_per_refresh_token(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = str(tmp_path / "tokens.json")
    other_rt, other_at = sentinel("refresh"), sentinel("minted")
    zoho.add(minted(), json_response(token_payload(other_at, refresh_token=None)))
    run_module(module, args(token_cache=cache))
    other = run_module(module, args(token_cache=cache, refresh_token=other_rt))
    assert other["changed"] is True and other["access_token"] == other_at
    assert [call.data["refresh_token"] for call in zoho.calls] == [RT, other_rt]


def test_given_valid_token_wins_over_the_cache(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    result = run_module(module, args(token_cache=str(cache), access_token=GIVEN, expires_at=int(time.time()) + 3600))
    assert result["source"] == "given" and zoho.calls == []
    assert not cache.exists()


# -- failures -------------------------------------------------------------------------------------------------


def test_dead_refresh_token(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(json_response({"error": "invalid_code"}))
    result = run_module(module, args())
    assert result.failed and result["error_code"] == "invalid_code"
    assert "rejected the refresh token" in result["msg"]
    assert len(zoho.calls) == 1
    assert RT not in result.stdout and SECRET not in result.stdout


def test_throttle(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(json_response({"error": "Access Denied", "error_description": "You have made too many requests continuously."}))
    result = run_module(module, args())
    assert result.failed and result["error_code"] == "Access Denied"
    assert "10 access tokens per 10 minutes" in result["msg"]
    assert len(zoho.calls) == 1


def test_server_errors_are_retried_with_warnings(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(json_response({}, status=503, headers={"Retry-After": "2"}), json_response({}, status=502), minted())
    result = run_module(module, args())
    assert result["changed"] is True and result["access_token"] == MINTED
    assert len(zoho.calls) == 3
    assert zoho.sleep.delays[0] == 2.0 and 0 <= zoho.sleep.delays[1] <= 2.0
    retries = [w for w in result.warning_messages if w.startswith("Retrying the token refresh request")]
    assert len(retries) == 2
    assert SECRET not in result.stdout and RT not in result.stdout


def test_malformed_cache_fails_cleanly(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    content = json.dumps({"format": "zohothrive.oauth token cache", "version": 1, "codes": {}, "access_tokens": []})
    cache.write_text(content)
    result = run_module(module, args(token_cache=str(cache)))  # must be a failure message, not a traceback
    assert result.failed and str(cache) in result["msg"]
    assert zoho.calls == []
    assert cache.read_text() == content


def test_missing_requests(run_module: t.Any, zoho: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.zohothrive.oauth.plugins.module_utils import _options

    monkeypatch.setattr(_options, "HAS_REQUESTS", False)
    result = run_module(module, args())
    assert result.failed and "Failed to import the required Python library (requests)" in result["msg"]
    assert zoho.calls == []


# -- an absent value never erases a known one (issue 7, item 3) -------------------------------------------

PROXY = "https://zoho-proxy.example.test"  # an explicit accounts_url outside Zoho's table
PROXY_API = "https://api.zoho-proxy.example.test"
MISSING = object()


def answer_with(access: str = MINTED, api_domain: t.Any = MISSING, scope: t.Any = MISSING, token_type: t.Any = MISSING) -> t.Any:
    """A refresh answer with each optional field left out (MISSING), null (None), empty or blank."""
    payload = token_payload(access, refresh_token=None)
    for name, value in (("api_domain", api_domain), ("scope", scope), ("token_type", token_type)):
        if value is MISSING:
            payload.pop(name, None)
        else:
            payload[name] = value
    return json_response(payload)


@pytest.mark.parametrize("absent", [MISSING, None, "", "  "], ids=["missing", "null", "empty", "blank"])
def test_issue_input_a_refresh_answer_without_api_domain_keeps_the_cached_one(run_module: t.Any, zoho: t.Any, tmp_path: t.Any, absent: t.Any) -> None:
    # issue 7 item 3: an answer without api_domain erased the known value (ZOHO_THRIVE_API_DOMAIN= on every host).
    cache = str(tmp_path / "tokens.json")
    first_at = sentinel("minted")
    zoho.add(answer_with(first_at, api_domain=PROXY_API, scope="Thrive.Referral.CREATE", token_type="Bearer"))
    zoho.add(answer_with(MINTED, api_domain=absent, scope=absent, token_type=absent))
    first = run_module(module, args(accounts_url=PROXY, token_cache=cache))
    second = run_module(module, args(accounts_url=PROXY, token_cache=cache, min_ttl=4000))
    assert first["access_token"] == first_at and second["access_token"] == MINTED and second["source"] == "zoho"
    for result in (first, second):
        assert result["api_domain"] == PROXY_API
        assert result["scope"] == ["Thrive.Referral.CREATE"] and result["token_type"] == "Bearer"
    stored = json.loads(open(cache, encoding="utf-8").read())["access_tokens"][fingerprint(RT)]
    assert stored["access_token"] == MINTED and stored["api_domain"] == PROXY_API and stored["scope"] == ["Thrive.Referral.CREATE"]
    third = run_module(module, args(accounts_url=PROXY, token_cache=cache))
    assert third["source"] == "cache" and third["api_domain"] == PROXY_API


def test_a_given_api_domain_survives_an_answer_without_one(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(answer_with())
    result = run_module(module, args(accounts_url=PROXY, access_token=GIVEN, expires_at=int(time.time()) + 10, api_domain=PROXY_API))
    assert result["access_token"] == MINTED and result["api_domain"] == PROXY_API


def test_a_given_api_domain_survives_an_answer_without_one_when_no_access_token_is_given(run_module: t.Any, zoho: t.Any) -> None:
    # The usual call of a play that stores the refresh token and the API domain, but not the short-lived access token:
    # the known api_domain was replaced by the data_center default, without a word.
    zoho.add(answer_with())
    result = run_module(module, args(accounts_url=PROXY, api_domain=PROXY_API))
    assert not result.failed
    assert result["api_domain"] == PROXY_API, "the known api_domain was replaced by the data_center default"


def test_a_given_api_domain_is_stored_with_the_new_token(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = str(tmp_path / "tokens.json")
    zoho.add(answer_with())
    first = run_module(module, args(accounts_url=PROXY, api_domain=PROXY_API, token_cache=cache))
    assert first["api_domain"] == PROXY_API
    # The next run, without the option, is served from the cache with the same API domain.
    again = run_module(module, args(accounts_url=PROXY, token_cache=cache))
    assert again["source"] == "cache" and again["api_domain"] == PROXY_API


def test_the_api_domain_stored_for_the_refresh_token_wins_over_the_given_one(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = str(tmp_path / "tokens.json")
    zoho.add(answer_with(sentinel("minted"), api_domain=PROXY_API), answer_with())
    run_module(module, args(accounts_url=PROXY, token_cache=cache))
    result = run_module(module, args(accounts_url=PROXY, token_cache=cache, min_ttl=4000, api_domain="https://api2.zoho-proxy.example.test"))
    assert result["source"] == "zoho" and result["api_domain"] == PROXY_API


def test_zohos_api_domain_wins_over_the_given_one(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(answer_with(api_domain="https://api2.zoho-proxy.example.test"))
    result = run_module(module, args(accounts_url=PROXY, api_domain=PROXY_API))
    assert result["api_domain"] == "https://api2.zoho-proxy.example.test"
    assert not any("`api_domain`" in w for w in result.warning_messages)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # another data center's API domain at a table server
        ({"data_center": "eu", "api_domain": "https://www.zohoapis.com"}, "https://www.zohoapis.eu"),
        # not a bare https origin behind a proxy
        ({"accounts_url": PROXY, "api_domain": "http://api.zoho-proxy.example.test"}, "https://www.zohoapis.com"),
        ({"accounts_url": PROXY, "api_domain": "https://api.zoho-proxy.example.test/crm/v2"}, "https://www.zohoapis.com"),
    ],
)
def test_a_given_api_domain_that_does_not_belong_to_the_accounts_server_is_not_used_and_warned_about(
    run_module: t.Any, zoho: t.Any, extra: dict[str, t.Any], expected: str
) -> None:
    zoho.add(answer_with())
    result = run_module(module, args(**extra))
    assert not result.failed and result["api_domain"] == expected
    assert any(w.startswith("`api_domain` does not belong to the accounts server") for w in result.warning_messages), result.warning_messages


@pytest.mark.parametrize("given", ["https://www.zohoapis.eu", "https://www.zohoapis.eu/", "HTTPS://WWW.ZOHOAPIS.EU"])
def test_a_given_api_domain_of_the_data_center_is_accepted_without_a_warning(run_module: t.Any, zoho: t.Any, given: str) -> None:
    zoho.add(answer_with())
    result = run_module(module, args(data_center="eu", api_domain=given))
    assert result["api_domain"] == given and not any("`api_domain`" in w for w in result.warning_messages)


def test_check_mode_with_only_a_given_api_domain_sends_nothing(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(accounts_url=PROXY, api_domain=PROXY_API), check_mode=True)
    assert result["changed"] is True and "access_token" not in result and zoho.calls == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "https://www.zohoapis.com"),
        ({"data_center": "jp"}, "https://www.zohoapis.jp"),
        ({"accounts_url": "https://accounts.zoho.com.au"}, "https://www.zohoapis.com.au"),
        ({"accounts_url": PROXY, "data_center": "eu"}, "https://www.zohoapis.eu"),
    ],
)
def test_nothing_known_gives_the_data_centers_api_domain(run_module: t.Any, zoho: t.Any, extra: dict[str, t.Any], expected: str) -> None:
    zoho.add(answer_with())
    minted_ = run_module(module, args(**extra))
    reused = run_module(module, args(access_token=GIVEN, expires_at=int(time.time()) + 3600, **extra))
    assert minted_["api_domain"] == expected and reused["api_domain"] == expected
    assert "scope" not in minted_  # nothing is invented
    assert len(zoho.calls) == 1


def test_a_refresh_answer_without_expiry_gets_zohos_documented_hour(run_module: t.Any, zoho: t.Any) -> None:
    payload = token_payload(MINTED, refresh_token=None)
    del payload["expires_in"]
    zoho.add(json_response(payload))
    result = run_module(module, args())
    assert result["expires_in"] == 3600 and result["expires_at"] >= int(time.time()) + 3590


def test_a_min_ttl_no_token_can_meet_warns_that_every_run_mints(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    zoho.add(minted())
    result = run_module(module, args(token_cache=str(tmp_path / "c.json"), min_ttl=3600))
    assert not result.failed
    assert any("`min_ttl` is 3600 seconds" in warning and "every run mints" in warning for warning in result.warning_messages)
