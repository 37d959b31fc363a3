# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""zoho_thrive_credentials: the role's controller step, run through main() with a scripted Zoho."""

from __future__ import annotations

import json
import os
import time
import typing as t

import pytest
import yaml

from ansible.module_utils import basic

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import TokenCache
from ansible_collections.zohothrive.oauth.plugins.modules import zoho_thrive_credentials as module
from ansible_collections.zohothrive.oauth.tests.unit.fakes import TrackedList, json_response, reset_after_send, sentinel, token_payload

SECRET = sentinel("secret")
CODE = sentinel("code")
CODE_FP = fingerprint(CODE)
OLD_CODE = sentinel("code")
OLD_FP = fingerprint(OLD_CODE)
AT = sentinel("access")
RT = sentinel("refresh")
OLD_RT = sentinel("refresh")
MINTED = sentinel("minted")
CLIENT_ID = "1000.CLIENTIDXYZ"
MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
EU = "https://accounts.zoho.eu"
EU_TOKEN = EU + "/oauth/v2/token"


def args(cache: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    base: dict[str, t.Any] = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "data_center": "eu",
        "code": CODE,
        "token_cache": str(cache),
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def exchanged(access: str = AT, refresh: str | None = RT) -> t.Any:
    return json_response(token_payload(access, refresh_token=refresh, api_domain="https://www.zohoapis.eu"))


def minted(access: str = MINTED) -> t.Any:
    return json_response(token_payload(access, refresh_token=None, api_domain="https://www.zohoapis.eu"))


def host(code_fp: str, refresh: str, access: str | None = None, expires_at: t.Any = None) -> dict[str, t.Any]:
    """A candidate as zoho_thrive_config reads it from a host's config file."""
    entry: dict[str, t.Any] = {"code_fingerprint": code_fp, "refresh_token": refresh, "api_domain": "https://www.zohoapis.eu"}
    if access is not None:
        entry["access_token"] = access
    if expires_at is not None:
        entry["expires_at"] = expires_at
    return entry


def outside_invocation(result: t.Mapping[str, t.Any]) -> str:
    return json.dumps({k: v for k, v in result.items() if k != "invocation"})


# -- found = false, exchange, cache -----------------------------------------------------------------


def test_lookup_without_exchange_finds_nothing(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "ctl" / "tokens.json"
    result = run_module(module, args(cache, allow_exchange=False))
    assert not result.failed
    assert result["changed"] is False and result["found"] is False
    assert result["exchanged"] is False and result["refreshed"] is False and result["source"] == "none"
    assert result["code_fingerprint"] == CODE_FP
    assert result["accounts_url"] == EU
    assert result["previous_refresh_tokens"] == []
    for key in ("access_token", "refresh_token", "expires_at", "expires_in"):
        assert key not in result
    assert zoho.calls == []
    assert not cache.exists()


def test_exchange(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(exchanged())
    result = run_module(module, args(cache, code=CODE + "\n"))
    assert result["changed"] is True and result["found"] is True and result["exchanged"] is True
    assert result["refreshed"] is False and result["source"] == "zoho"
    assert result["access_token"] == AT and result["refresh_token"] == RT
    assert result["api_domain"] == "https://www.zohoapis.eu" and result["token_type"] == "Bearer"
    assert result["expires_in"] == 3600 and isinstance(result["expires_at"], int)
    assert result["code_fingerprint"] == CODE_FP and result["accounts_url"] == EU
    assert result["previous_refresh_tokens"] == []
    assert len(zoho.calls) == 1
    assert zoho.calls[0].url == EU_TOKEN
    assert zoho.calls[0].data == {"grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": SECRET, "code": CODE}
    zoho.session.assert_secrets_only_in_body(SECRET, CODE)
    assert SECRET not in result.stdout and CODE not in result.stdout
    content = cache.read_text()
    assert CODE not in content and SECRET not in content


def test_second_run_is_served_from_the_cache(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(exchanged())
    first = run_module(module, args(cache))
    lookup = run_module(module, args(cache, allow_exchange=False))
    without_code = run_module(module, args(cache, code=None, allow_exchange=False))
    for again in (lookup, without_code):
        assert again["changed"] is False and again["found"] is True and again["source"] == "cache"
        assert again["access_token"] == AT and again["refresh_token"] == RT
        assert again["expires_at"] == first["expires_at"] and again["code_fingerprint"] == CODE_FP
    assert len(zoho.calls) == 1


def test_adopted_tokens_equal_to_no_log_inputs_are_returned_unmasked(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    expires_at = int(time.time()) + 3000
    candidates = [host(CODE_FP, RT, AT, expires_at), host(CODE_FP, RT, AT, str(expires_at))]
    zoho.add(minted(AT))  # the proving refresh answers with a value equal to a no_log input
    result = run_module(module, args(cache, candidates=candidates))
    assert [call.data["grant_type"] for call in zoho.calls] == ["refresh_token"]
    assert result["changed"] is True and result["found"] is True and result["source"] == "candidates"
    assert result["exchanged"] is False and result["refreshed"] is True
    assert result["refresh_token"] == RT and result["access_token"] == AT  # the real tokens, not the no_log mask
    assert result["expires_at"] != expires_at  # Zoho's expiry, never the host's
    assert MASK not in outside_invocation(result)
    assert result.stdout.count(RT) == 1 and result.stdout.count(AT) == 1  # once each, as the result
    echoed = result.echoed_args  # masked wherever the arguments are echoed
    if echoed is not None:
        assert echoed["code"] == MASK and echoed["client_secret"] == MASK
        assert all(c["refresh_token"] == MASK and c["access_token"] == MASK for c in echoed["candidates"])
    assert SECRET not in result.stdout and CODE not in result.stdout
    stored = TokenCache(str(cache)).load().code_tokens(CODE_FP)
    assert stored is not None and stored.refresh_token == RT


def test_previous_refresh_tokens_are_returned_unmasked(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(exchanged(sentinel("access"), OLD_RT))
    run_module(module, args(cache, code=OLD_CODE))  # the cache minted OLD_RT: only such a token is ever tracked
    zoho.add(exchanged())
    candidates = [host(OLD_FP, OLD_RT, sentinel("access"), int(time.time()) + 3000)]
    result = run_module(module, args(cache, candidates=candidates, track_replaced=True))
    assert result["exchanged"] is True and result["refresh_token"] == RT
    assert result["previous_refresh_tokens"] == [OLD_RT]
    assert MASK not in outside_invocation(result)
    assert result.stdout.count(OLD_RT) == 1  # once, in previous_refresh_tokens
    if result.echoed_args is not None:
        assert result.echoed_args["candidates"][0]["refresh_token"] == MASK
    assert json.loads(cache.read_text())["replaced"] == {f"{CLIENT_ID}@{EU}": [OLD_RT]}
    # Later runs keep reporting it until zoho_thrive_revoke (with token_cache) forgets it.
    again = run_module(module, args(cache, allow_exchange=False, track_replaced=True))
    assert again["previous_refresh_tokens"] == [OLD_RT] and len(zoho.calls) == 2


def test_stale_access_token_is_refreshed(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(minted())
    candidates = [host(CODE_FP, RT, AT, int(time.time()) + 100)]
    result = run_module(module, args(cache, candidates=candidates))
    assert result["changed"] is True and result["refreshed"] is True and result["source"] == "candidates"
    assert result["access_token"] == MINTED and result["refresh_token"] == RT
    assert [call.data["grant_type"] for call in zoho.calls] == ["refresh_token"]


def test_unknown_expiry_counts_as_stale(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(minted())
    result = run_module(module, args(cache, candidates=[host(CODE_FP, RT, AT, "tomorrow")]))
    assert result["refreshed"] is True and result["access_token"] == MINTED
    assert len(zoho.calls) == 1


def test_access_token_not_needed(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    candidates = [host(CODE_FP, RT, AT, int(time.time()) + 10)]
    zoho.add(minted())
    result = run_module(module, args(cache, candidates=candidates, access_token_needed=False))
    assert result["found"] is True and result["refresh_token"] == RT
    for key in ("access_token", "expires_at", "expires_in"):
        assert key not in result
    assert len(zoho.calls) == 1  # the proof that the hosts' refresh token is this client's, nothing more
    again = run_module(module, args(cache, access_token_needed=False))
    assert again["changed"] is False and again["source"] == "cache" and len(zoho.calls) == 1


# -- check mode -------------------------------------------------------------------------------------------


def test_check_mode_predicts_an_exchange_and_creates_nothing(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "ctl" / "tokens.json"
    result = run_module(module, args(cache), check_mode=True)
    assert result["changed"] is True and result["found"] is True and result["exchanged"] is True
    assert result["source"] == "zoho" and result["code_fingerprint"] == CODE_FP
    assert "refresh_token" not in result and "access_token" not in result
    assert result["api_domain"] == "https://www.zohoapis.eu"  # predictable, and what the real run returns
    for key in ("expires_at", "expires_in", "token_type", "scope"):
        assert key not in result
    assert zoho.calls == []
    assert not (tmp_path / "ctl").exists()


def test_check_mode_predicts_a_refresh_and_writes_nothing(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    candidates = [host(CODE_FP, RT, AT, int(time.time()) + 100)]
    result = run_module(module, args(cache, candidates=candidates), check_mode=True)
    assert result["changed"] is True and result["refreshed"] is True and result["exchanged"] is False
    assert result["source"] == "candidates" and result["refresh_token"] == RT
    assert "access_token" not in result and "expires_at" not in result
    assert zoho.calls == []
    assert os.listdir(tmp_path) == []


# -- failures ----------------------------------------------------------------------------------------------


def test_no_code_and_nothing_known(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    result = run_module(module, args(cache, code=None))
    assert result.failed and "No grant code was given" in result["msg"]
    assert zoho.calls == []
    lookup = run_module(module, args(cache, code=None, allow_exchange=False))
    assert not lookup.failed and lookup["found"] is False and "code_fingerprint" not in lookup


def test_disagreeing_candidates_without_a_code(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    result = run_module(module, args(cache, code=None, candidates=[host(CODE_FP, RT), host(OLD_FP, OLD_RT)]))
    assert result.failed and "2 different grant codes" in result["msg"]
    assert RT not in result.stdout and OLD_RT not in result.stdout
    assert zoho.calls == []


def test_online_code(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(exchanged(refresh=None))
    result = run_module(module, args(cache))
    assert result.failed and "offline access" in result["msg"]
    assert len(zoho.calls) == 1
    assert AT not in result.stdout and CODE not in result.stdout


def test_code_that_may_be_spent(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(reset_after_send())
    first = run_module(module, args(cache))
    assert first.failed and "may already be spent" in first["msg"]
    second = run_module(module, args(cache))
    assert second.failed and f"records that this grant code was sent to {EU}" in second["msg"]
    assert len(zoho.calls) == 1
    assert CODE not in first.stdout + second.stdout and SECRET not in first.stdout + second.stdout


def test_refused_code(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    zoho.add(json_response({"error": "invalid_code"}))
    result = run_module(module, args(tmp_path / "tokens.json"))
    assert result.failed and result["error_code"] == "invalid_code"
    assert "Zoho rejected the grant code" in result["msg"]


def test_negative_min_ttl(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path / "tokens.json", min_ttl=-1))
    assert result.failed and "min_ttl" in result["msg"]
    assert zoho.calls == []
    assert os.listdir(tmp_path) == []


def test_missing_client_secret(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path / "tokens.json", client_secret=None))
    assert result.failed and "ZOHO_THRIVE_CLIENT_SECRET" in result["msg"]
    assert zoho.calls == []


def test_bad_code_is_refused_before_sending(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path / "tokens.json", code="1000.two words"))
    assert result.failed and "`code` contains whitespace" in result["msg"]
    assert zoho.calls == []


def test_corrupt_cache_is_a_message(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    cache.write_text("{not json")
    result = run_module(module, args(cache))
    assert result.failed and str(cache) in result["msg"] and "not a valid zohothrive.oauth token cache" in result["msg"]
    assert cache.read_text() == "{not json"
    assert zoho.calls == []


def test_validate_certs_false_warns_once(run_module: t.Any, zoho: t.Any, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """ansible-core 2.19+ folds identical warnings into one; 2.17 and 2.18 (supported) print each call."""
    warned = TrackedList()
    run_module.track(warned)
    real_warn = basic.AnsibleModule.warn

    def recording_warn(self: t.Any, warning: str, *rest: t.Any, **kwargs: t.Any) -> None:
        warned.append(warning)
        real_warn(self, warning, *rest, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "warn", recording_warn)
    zoho.add(exchanged())
    result = run_module(module, args(tmp_path / "tokens.json", validate_certs=False))
    assert result["exchanged"] is True
    assert len([w for w in result.warning_messages if w.startswith("`validate_certs` is false")]) == 1
    assert len([w for w in warned if w.startswith("`validate_certs` is false")]) == 1


def test_tokens_reach_the_caller_when_the_cache_cannot_record_them(
    run_module: t.Any, zoho: t.Any, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ansible_collections.zohothrive.oauth.plugins.module_utils import _token_store
    from ansible_collections.zohothrive.oauth.plugins.module_utils._fileio import FileIOError

    real, writes = _token_store.atomic_write, []

    def disk_full_after_the_in_flight_record(path: str, data: bytes, **kwargs: t.Any) -> None:
        writes.append(path)
        if len(writes) > 1:
            raise FileIOError(f"Cannot write {path}: No space left on device.")
        real(path, data, **kwargs)

    monkeypatch.setattr(_token_store, "atomic_write", disk_full_after_the_in_flight_record)
    cache = tmp_path / "tokens.json"
    zoho.add(exchanged())
    result = run_module(module, args(cache))
    assert not result.failed and result["exchanged"] is True
    assert result["refresh_token"] == RT and result["access_token"] == AT
    assert "No space left on device" in result["store_error"]
    assert any("could not record them" in warning for warning in result.warning_messages)
    assert RT not in result["store_error"] and AT not in result["store_error"]


def test_host_reported_access_token_expiry_and_api_domain_are_ignored(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    forged = {
        "code_fingerprint": CODE_FP,
        "refresh_token": RT,
        "access_token": sentinel("access"),
        "expires_at": 99999999999,
        "api_domain": "https://evil.example",
    }
    zoho.add(minted())
    result = run_module(module, args(tmp_path / "tokens.json", candidates=[forged]))
    assert result["access_token"] == MINTED and result["api_domain"] == "https://www.zohoapis.eu"
    assert result["expires_at"] < 99999999999


# -- an absent value never erases a known one (issue 7, item 3) -------------------------------------------

PROXY = "https://zoho-proxy.example.test"  # an explicit accounts_url outside Zoho's table
PROXY_API = "https://api.zoho-proxy.example.test"


def lacking(access: str, refresh: str | None = None, **fields: t.Any) -> t.Any:
    """An answer with access_token and expires_in only (plus refresh_token and ``fields``)."""
    payload: dict[str, t.Any] = {"access_token": access, "expires_in": 3600}
    if refresh is not None:
        payload["refresh_token"] = refresh
    payload.update(fields)
    return json_response(payload)


@pytest.mark.parametrize("absent", [{}, {"api_domain": None, "scope": None}, {"api_domain": "", "scope": ""}], ids=["missing", "null", "empty"])
def test_issue_input_a_refresh_answer_without_api_domain_keeps_the_known_one(
    run_module: t.Any, zoho: t.Any, tmp_path: t.Any, absent: dict[str, t.Any]
) -> None:
    # issue 7 item 3: the role's controller step, run twice; the second run refreshes and Zoho's answer lacks
    # api_domain and scope. The role writes what this returns to every host: it must be the known value, never "".
    cache = tmp_path / "tokens.json"
    zoho.add(lacking(AT, RT, api_domain=PROXY_API, scope="Thrive.Referral.CREATE", token_type="Bearer"))
    zoho.add(lacking(MINTED, **absent))
    first = run_module(module, args(cache, accounts_url=PROXY))
    second = run_module(module, args(cache, accounts_url=PROXY, allow_exchange=False, min_ttl=4000))
    assert first["exchanged"] is True and second["refreshed"] is True and second["access_token"] == MINTED
    for result in (first, second):
        assert result["api_domain"] == PROXY_API
        assert result["scope"] == ["Thrive.Referral.CREATE"] and result["token_type"] == "Bearer"
    third = run_module(module, args(cache, accounts_url=PROXY, allow_exchange=False))
    assert third["changed"] is False and third["api_domain"] == PROXY_API and third["scope"] == ["Thrive.Referral.CREATE"]
    assert len(zoho.calls) == 2


def test_a_fresh_controller_behind_a_proxy_returns_the_data_centers_api_domain(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    # The hosts' api_domain is untrusted and the answer names none: the data_center option's API domain, never "".
    zoho.add(lacking(MINTED))
    hosts = [host(CODE_FP, RT)]
    result = run_module(module, args(tmp_path / "tokens.json", accounts_url=PROXY, candidates=hosts))
    assert result["source"] == "candidates" and result["api_domain"] == "https://www.zohoapis.eu"


def test_a_new_code_without_api_domain_keeps_the_clients_known_one(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(lacking(AT, OLD_RT, api_domain=PROXY_API), lacking(MINTED, RT))
    run_module(module, args(cache, accounts_url=PROXY, code=OLD_CODE))
    rotated = run_module(module, args(cache, accounts_url=PROXY))
    assert rotated["exchanged"] is True and rotated["refresh_token"] == RT
    assert rotated["api_domain"] == PROXY_API


def test_check_mode_predicts_the_api_domain_a_real_run_returns(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    hosts = [host(CODE_FP, RT)]
    predicted = run_module(module, args(cache, candidates=hosts), check_mode=True)
    zoho.add(lacking(MINTED))
    real = run_module(module, args(cache, candidates=hosts))
    assert predicted["api_domain"] == real["api_domain"] == "https://www.zohoapis.eu"


# -- the whitespace rule for refresh tokens read from hosts (issue 7, item 4) --------------------------------


def test_a_hosts_refresh_token_with_a_trailing_newline_is_stripped_with_a_warning(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    zoho.add(minted())
    result = run_module(module, args(tmp_path / "tokens.json", candidates=[host(CODE_FP, RT + "\r\n")]))
    assert result["source"] == "candidates" and result["refresh_token"] == RT
    assert zoho.calls[0].data["refresh_token"] == RT
    assert any(
        w.startswith("The refresh token of `candidates` item 0 (read from a host) had a trailing Windows line break (CR LF), removed")
        for w in result.warning_messages
    )
    assert RT not in json.dumps(result.warning_messages)


def test_a_hosts_refresh_token_with_whitespace_inside_is_never_sent(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    other = sentinel("refresh")
    damaged = other[:20] + "\n" + other[20:]
    zoho.add(exchanged())
    result = run_module(module, args(tmp_path / "tokens.json", candidates=[host(CODE_FP, damaged)]))
    assert result["source"] == "zoho" and result["exchanged"] is True  # the damaged claim was skipped, the code exchanged
    assert [call.data["grant_type"] for call in zoho.calls] == ["authorization_code"]
    assert any(
        w.startswith("The refresh token of `candidates` item 0 (read from a host) contains whitespace (a space, tab or line break) inside the value")
        and w.endswith("; it is not used (nothing is sent with it).")
        for w in result.warning_messages
    )
    assert other[:20] not in result.stdout


# -- invisible characters in a host's refresh token, and which host and file it came from ----------------------


def test_a_damaged_hosts_token_is_named_by_its_host_and_file(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    # The warning said "`candidates` item 0 (read from a host)", naming neither the host nor the file to repair.
    other = sentinel("refresh")
    damaged = dict(host(CODE_FP, other[:20] + "\u200b" + other[20:]), host="app3", file="/etc/app/zoho.env")
    zoho.add(minted())
    result = run_module(module, args(tmp_path / "tokens.json", candidates=[dict(host(CODE_FP, RT + "\n"), host="app1"), damaged]))
    assert not result.failed, result.get("msg")
    assert result["source"] == "candidates" and zoho.calls[0].data["refresh_token"] == RT
    assert any(
        w.startswith(
            "The refresh token read from app3:/etc/app/zoho.env (`candidates` item 1) contains control or non-ASCII characters inside "
            "the value (the first: a zero-width space, U+200B, at character 21); it is not used (nothing is sent with it)."
        )
        for w in result.warning_messages
    ), result.warning_messages
    assert any(w.startswith("The refresh token read from host app1 (`candidates` item 0) had a trailing newline, removed") for w in result.warning_messages)
    assert all(other[:20] not in str(call.data) for call in zoho.calls)
    assert other[:20] not in result.stdout


@pytest.mark.parametrize(
    ("where", "named"),
    [
        ({"host": "app3", "file": "/etc/app/zoho.env"}, "The refresh token read from app3:/etc/app/zoho.env (`candidates` item 0)"),
        ({"file": "/etc/app/zoho.env"}, "The refresh token read from /etc/app/zoho.env (`candidates` item 0)"),
        ({"host": "app3"}, "The refresh token read from host app3 (`candidates` item 0)"),
        ({}, "The refresh token of `candidates` item 0 (read from a host)"),
        ({"host": "", "file": None}, "The refresh token of `candidates` item 0 (read from a host)"),
        # A name cannot smuggle line breaks or option markers (`...`, relabelled by option_labels) into the warning.
        ({"host": "app`code`\n3", "file": "/etc/zoho.env"}, "The refresh token read from app?code??3:/etc/zoho.env (`candidates` item 0)"),
    ],
)
def test_a_hosts_token_with_invisible_padding_is_stripped_and_named(
    run_module: t.Any, zoho: t.Any, tmp_path: t.Any, where: dict[str, t.Any], named: str
) -> None:
    zoho.add(minted())
    candidate = dict(host(CODE_FP, "\ufeff" + RT), **where)
    result = run_module(module, args(tmp_path / "tokens.json", candidates=[candidate]))
    assert result["source"] == "candidates" and result["refresh_token"] == RT
    assert zoho.calls[0].data["refresh_token"] == RT
    assert any(w.startswith(f"{named} had a leading byte-order mark (U+FEFF), removed") for w in result.warning_messages), result.warning_messages
    assert RT not in json.dumps(result.warning_messages)


def test_a_very_long_host_or_file_name_is_shortened_in_the_warning(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    zoho.add(exchanged())
    candidate = dict(host(CODE_FP, "1000.a\x00b"), host="h" * 500, file="/" + "d" * 500)
    result = run_module(module, args(tmp_path / "tokens.json", candidates=[candidate]))
    warning = next(w for w in result.warning_messages if "`candidates` item 0" in w)
    assert "h" * 117 + "..." in warning and "h" * 118 not in warning and "d" * 117 not in warning
    assert "a NUL character, U+0000, at character 7" in warning


def test_host_and_file_are_documented_candidate_suboptions() -> None:
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]["candidates"]["suboptions"]
    assert set(documented) == set(module.CANDIDATE_OPTIONS)
    assert module.CANDIDATE_OPTIONS["host"] == {"type": "str"} and module.CANDIDATE_OPTIONS["file"] == {"type": "str"}
