# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The flow layer: exchange at most once, mint only when needed, adopt deployed tokens, track replaced ones."""

from __future__ import annotations

import json
import os
import time
import typing as t
from dataclasses import replace

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import NO_RETRY, TokenSet, ZohoOAuthClient
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import (
    ZohoAPIError,
    ZohoCodeMayBeSpentError,
    ZohoInputError,
    ZohoInvalidCodeError,
    ZohoOAuthError,
    ZohoTLSError,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._flows import (
    SOURCE_CACHE,
    SOURCE_CANDIDATES,
    SOURCE_GIVEN,
    SOURCE_NONE,
    SOURCE_ZOHO,
    Candidate,
    Credentials,
    ensure_access_token,
    ensure_credentials,
    exchange_code,
    is_fresh,
    result_warnings,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import DONE, IN_FLIGHT, TokenCache
from ansible_collections.zohothrive.oauth.tests.unit.fakes import (
    FakeSession,
    Recorder,
    connection_refused,
    json_response,
    read_timeout,
    reset_after_send,
    sentinel,
    tls_failure,
    token_payload,
)

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
ACCOUNTS = "https://accounts.zoho.eu"
TOKEN_URL = ACCOUNTS + "/oauth/v2/token"
IDENTITY = f"{CLIENT_ID}@{ACCOUNTS}"
API_DOMAIN = "https://www.zohoapis.eu"


# -- helpers ------------------------------------------------------------------------------------------


@pytest.fixture
def session() -> FakeSession:
    return FakeSession()


@pytest.fixture
def client(session: FakeSession) -> ZohoOAuthClient:
    return ZohoOAuthClient(ACCOUNTS, client_id=CLIENT_ID, client_secret=SECRET, session=session, sleep=Recorder())


@pytest.fixture
def cache_path(tmp_path: t.Any) -> str:
    return str(tmp_path / "controller" / "tokens.json")


def new_cache(path: str) -> TokenCache:
    """A fresh TokenCache object for the file, as another run (process) would build it."""
    return TokenCache(path, lock_timeout=5)


def token_set(access: str = AT, refresh: str | None = RT, *, ttl: int = 3600) -> TokenSet:
    now = int(time.time())
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        api_domain=API_DOMAIN,
        token_type="Bearer",
        expires_in=max(0, ttl),
        expires_at=now + ttl,
        scope=["Thrive.Referral.CREATE"],
    )


def seed(path: str, code_fp: str, tokens: TokenSet, *, current: bool = True) -> None:
    """Store tokens for a code as a finished exchange (and make it the current code)."""
    cache = new_cache(path)
    with cache.locked():
        cache.finish_exchange(code_fp, tokens)
        if current:
            cache.set_current_code(IDENTITY, code_fp)


def candidate(code_fp: str | None, refresh: str | None, access: str | None = None, *, ttl: int | None = None) -> Candidate:
    """What a host's file reports. Its access token, expiry and API domain must never be used."""
    return Candidate.from_mapping(
        {
            "code_fingerprint": code_fp,
            "refresh_token": refresh,
            "access_token": access,
            "expires_at": int(time.time()) + ttl if ttl is not None else None,
            "api_domain": API_DOMAIN,
        }
    )


def exchanged(access: str = AT, refresh: str | None = RT, *, expires_in: int = 3600) -> t.Any:
    return json_response(token_payload(access, refresh_token=refresh, api_domain=API_DOMAIN, expires_in=expires_in))


def minted(access: str = MINTED, *, expires_in: int = 3600) -> t.Any:
    return json_response(token_payload(access, refresh_token=None, api_domain=API_DOMAIN, expires_in=expires_in))


def on_disk(path: str) -> dict[str, t.Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def snapshot(directory: str) -> dict[str, tuple[bytes, int, int]] | None:
    """Every file of a directory with its bytes, mtime and inode (None when the directory is absent)."""
    if not os.path.isdir(directory):
        return None
    result = {}
    for name in sorted(os.listdir(directory)):
        full = os.path.join(directory, name)
        with open(full, "rb") as handle:
            content = handle.read()
        info = os.stat(full)
        result[name] = (content, info.st_mtime_ns, info.st_ino)
    return result


def grant_types(session: FakeSession) -> list[str]:
    return [call.data["grant_type"] for call in session.calls]


# -- is_fresh and Candidate.from_mapping ------------------------------------------------------------


def test_is_fresh() -> None:
    now = time.time()
    assert is_fresh(token_set(ttl=3600), min_ttl=300, now=now)
    assert not is_fresh(token_set(ttl=200), min_ttl=300, now=now)
    assert not is_fresh(token_set(access=""), min_ttl=0, now=now)
    assert not is_fresh(None, min_ttl=0, now=now)


def test_candidate_from_mapping() -> None:
    parsed = Candidate.from_mapping(
        {"code_fingerprint": f" {CODE_FP}\n", "refresh_token": RT + "\n", "access_token": "", "expires_at": " 1800000000 ", "api_domain": None}
    )
    assert parsed == Candidate(code_fingerprint=CODE_FP, refresh_token=RT)
    forged = Candidate.from_mapping({"access_token": AT, "expires_at": 99999999999, "api_domain": "https://evil.example"})
    assert forged == Candidate()  # nothing a host may not tell us is even kept
    assert Candidate.from_mapping({}) == Candidate()
    # issue 7 item 4: a refresh token with whitespace inside is never sent, whoever builds the candidate
    assert Candidate.from_mapping({"code_fingerprint": CODE_FP, "refresh_token": RT[:10] + "\n" + RT[10:]}) == Candidate(code_fingerprint=CODE_FP)


# -- exchange_code ----------------------------------------------------------------------------------


def test_exchange_without_a_cache(client: ZohoOAuthClient, session: FakeSession) -> None:
    session.add(exchanged())
    outcome = exchange_code(client, CODE, cache=None, check_mode=False, redirect_uri="https://app.example.com/cb", code_verifier="V")
    assert outcome.changed is True and outcome.source == SOURCE_ZOHO
    assert outcome.tokens is not None and outcome.tokens.access_token == AT and outcome.tokens.refresh_token == RT
    assert len(session.calls) == 1
    assert session.calls[0].url == TOKEN_URL
    assert session.calls[0].data == {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "code": CODE,
        "redirect_uri": "https://app.example.com/cb",
        "code_verifier": "V",
    }
    session.assert_secrets_only_in_body(SECRET, CODE)


def test_exchange_without_a_cache_in_check_mode_sends_nothing(client: ZohoOAuthClient, session: FakeSession) -> None:
    outcome = exchange_code(client, CODE, cache=None, check_mode=True)
    assert (outcome.changed, outcome.tokens, outcome.source) == (True, None, SOURCE_NONE)
    assert session.calls == []


def test_exchange_with_a_cache_happens_once(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(exchanged())
    first = exchange_code(client, CODE, cache=new_cache(cache_path), check_mode=False)
    assert first.changed is True and first.source == SOURCE_ZOHO
    content = open(cache_path, "rb").read()
    second = exchange_code(client, CODE, cache=new_cache(cache_path), check_mode=False)
    assert second.changed is False and second.source == SOURCE_CACHE
    assert second.tokens is not None and first.tokens is not None
    assert second.tokens.access_token == first.tokens.access_token == AT
    assert second.tokens.refresh_token == RT
    assert second.tokens.expires_at == first.tokens.expires_at
    assert len(session.calls) == 1
    assert open(cache_path, "rb").read() == content  # a hit does not rewrite the file
    entry = on_disk(cache_path)["codes"][CODE_FP]
    assert entry["state"] == DONE and entry["accounts_url"] == ACCOUNTS and entry["client_id"] == CLIENT_ID
    assert CODE not in content.decode() and SECRET not in content.decode()


def test_in_flight_code_is_never_resent(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    cache = new_cache(cache_path)
    with cache.locked():
        cache.begin_exchange(CODE_FP, accounts_url=ACCOUNTS, client_id=CLIENT_ID)
    content = open(cache_path, "rb").read()
    session.add(exchanged())  # would be a success: it must not be asked for
    for check_mode in (False, True):
        with pytest.raises(ZohoCodeMayBeSpentError) as info:
            exchange_code(client, CODE, cache=new_cache(cache_path), check_mode=check_mode)
        assert cache_path in info.value.msg and f"was sent to {ACCOUNTS}" in info.value.msg
        assert "Generate a new code" in info.value.msg
    assert session.calls == []
    assert open(cache_path, "rb").read() == content


@pytest.mark.parametrize(
    ("step", "error"),
    [
        pytest.param(json_response({"error": "invalid_code"}), ZohoInvalidCodeError, id="invalid_code"),
        pytest.param(json_response({"error": "invalid_client"}), ZohoAPIError, id="invalid_client"),
        pytest.param(tls_failure(), ZohoTLSError, id="tls"),
    ],
)
def test_definite_refusal_abandons_the_in_flight_entry(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str, step: t.Any, error: type[ZohoOAuthError]
) -> None:
    session.add(step)
    with pytest.raises(error):
        exchange_code(client, CODE, cache=new_cache(cache_path), check_mode=False)
    assert len(session.calls) == 1
    assert on_disk(cache_path)["codes"] == {}
    session.add(exchanged())
    again = exchange_code(client, CODE, cache=new_cache(cache_path), check_mode=False)  # nothing was issued: may try again
    assert again.changed is True and again.source == SOURCE_ZOHO
    assert len(session.calls) == 2


def test_connection_refused_before_sending_abandons_the_entry(session: FakeSession, cache_path: str) -> None:
    client = ZohoOAuthClient(ACCOUNTS, client_id=CLIENT_ID, client_secret=SECRET, session=session, retry=NO_RETRY)
    session.add(connection_refused())
    with pytest.raises(ZohoOAuthError) as info:
        exchange_code(client, CODE, cache=new_cache(cache_path), check_mode=False)
    assert not isinstance(info.value, ZohoCodeMayBeSpentError)
    assert on_disk(cache_path)["codes"] == {}


@pytest.mark.parametrize(
    "step",
    [
        pytest.param(reset_after_send(), id="reset-after-send"),
        pytest.param(read_timeout(), id="read-timeout"),
        pytest.param(json_response({}, status=502), id="http-502"),
    ],
)
def test_ambiguous_failure_keeps_the_in_flight_entry(client: ZohoOAuthClient, session: FakeSession, cache_path: str, step: t.Any) -> None:
    session.add(step)
    with pytest.raises(ZohoCodeMayBeSpentError):
        exchange_code(client, CODE, cache=new_cache(cache_path), check_mode=False)
    assert len(session.calls) == 1  # an exchange is never retried once it may have reached Zoho
    entry = on_disk(cache_path)["codes"][CODE_FP]
    assert entry["state"] == IN_FLIGHT and entry["accounts_url"] == ACCOUNTS
    session.add(exchanged())
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        exchange_code(client, CODE, cache=new_cache(cache_path), check_mode=False)
    assert "records that this grant code was sent" in info.value.msg
    assert len(session.calls) == 1
    assert CODE not in info.value.msg and SECRET not in info.value.msg


def test_check_mode_never_creates_the_cache_directory_file_or_lock(client: ZohoOAuthClient, session: FakeSession, tmp_path: t.Any) -> None:
    directory = tmp_path / "controller"
    path = str(directory / "tokens.json")
    outcome = exchange_code(client, CODE, cache=new_cache(path), check_mode=True)
    assert (outcome.changed, outcome.tokens, outcome.source) == (True, None, SOURCE_NONE)
    assert not directory.exists()
    directory.mkdir()
    exchange_code(client, CODE, cache=new_cache(path), check_mode=True)
    assert os.listdir(directory) == []
    assert session.calls == []


def test_check_mode_with_a_cache_hit_reads_only(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    seed(cache_path, CODE_FP, token_set(), current=False)
    assert not os.path.lexists(cache_path + ".lock")  # a lock file exists only while the lock is held
    before = snapshot(os.path.dirname(cache_path))
    outcome = exchange_code(client, CODE, cache=new_cache(cache_path), check_mode=True)
    assert outcome.changed is False and outcome.source == SOURCE_CACHE
    assert outcome.tokens is not None and outcome.tokens.access_token == AT
    assert snapshot(os.path.dirname(cache_path)) == before  # no lock file, no rewrite
    assert session.calls == []


# -- ensure_access_token --------------------------------------------------------------------------


def test_fresh_given_token_sends_nothing(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    given = token_set(ttl=3600)
    for check_mode in (False, True):
        outcome = ensure_access_token(client, RT, cache=new_cache(cache_path), min_ttl=300, check_mode=check_mode, given=given)
        assert outcome.changed is False and outcome.source == SOURCE_GIVEN and outcome.tokens is given
    assert session.calls == []
    assert not os.path.exists(os.path.dirname(cache_path))


def test_stale_given_token_is_refreshed(client: ZohoOAuthClient, session: FakeSession) -> None:
    session.add(minted())
    outcome = ensure_access_token(client, RT, cache=None, min_ttl=300, check_mode=False, given=token_set(ttl=200))
    assert outcome.changed is True and outcome.source == SOURCE_ZOHO
    assert outcome.tokens is not None and outcome.tokens.access_token == MINTED
    assert len(session.calls) == 1
    assert session.calls[0].data == {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": SECRET, "refresh_token": RT}


def test_second_run_within_min_ttl_reuses_the_cached_token(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(minted())
    first = ensure_access_token(client, RT, cache=new_cache(cache_path), min_ttl=300, check_mode=False)
    second = ensure_access_token(client, RT, cache=new_cache(cache_path), min_ttl=300, check_mode=False, given=token_set(ttl=10))
    assert first.changed is True and first.source == SOURCE_ZOHO
    assert second.changed is False and second.source == SOURCE_CACHE
    assert second.tokens is not None and second.tokens.access_token == MINTED
    assert first.tokens is not None and second.tokens.expires_at == first.tokens.expires_at
    assert len(session.calls) == 1
    assert RT not in open(cache_path, encoding="utf-8").read()


def test_cached_token_below_min_ttl_is_replaced(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    other = sentinel("minted")
    session.add(minted(other, expires_in=200), minted())
    ensure_access_token(client, RT, cache=new_cache(cache_path), min_ttl=300, check_mode=False)
    outcome = ensure_access_token(client, RT, cache=new_cache(cache_path), min_ttl=300, check_mode=False)
    assert outcome.changed is True and outcome.tokens is not None and outcome.tokens.access_token == MINTED
    assert len(session.calls) == 2
    found = new_cache(cache_path).load().access_token_for(RT)
    assert found is not None and found.access_token == MINTED


def test_ensure_access_token_check_mode_predictions(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    no_cache = ensure_access_token(client, RT, cache=None, min_ttl=300, check_mode=True)
    assert (no_cache.changed, no_cache.tokens, no_cache.source) == (True, None, SOURCE_NONE)
    empty = ensure_access_token(client, RT, cache=new_cache(cache_path), min_ttl=300, check_mode=True)
    assert (empty.changed, empty.tokens, empty.source) == (True, None, SOURCE_NONE)
    assert not os.path.exists(os.path.dirname(cache_path))

    cache = new_cache(cache_path)
    with cache.locked():
        cache.remember_access_token(RT, token_set(MINTED, None, ttl=1000))
    assert not os.path.lexists(cache.lock_path)  # a lock file exists only while the lock is held
    before = snapshot(os.path.dirname(cache_path))
    hit = ensure_access_token(client, RT, cache=new_cache(cache_path), min_ttl=300, check_mode=True)
    assert hit.changed is False and hit.source == SOURCE_CACHE
    assert hit.tokens is not None and hit.tokens.access_token == MINTED
    stale = ensure_access_token(client, RT, cache=new_cache(cache_path), min_ttl=1200, check_mode=True)
    assert (stale.changed, stale.tokens, stale.source) == (True, None, SOURCE_NONE)
    assert snapshot(os.path.dirname(cache_path)) == before
    assert session.calls == []


# -- ensure_credentials: lookup, exchange, cache ----------------------------------------------------


def test_store_lookup_without_exchange_finds_nothing(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, allow_exchange=False)
    assert result == Credentials(found=False, code_fingerprint=CODE_FP)
    assert result.tokens is None and result.source == SOURCE_NONE and result.changed is False
    assert session.calls == []
    assert not os.path.exists(cache_path)


def test_exchange_stores_the_tokens_and_the_current_code(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(exchanged())
    result = ensure_credentials(client, new_cache(cache_path), code=CODE)
    assert result.found and result.exchanged and result.changed and not result.refreshed
    assert result.source == SOURCE_ZOHO and result.code_fingerprint == CODE_FP
    assert result.tokens is not None and result.tokens.access_token == AT and result.tokens.refresh_token == RT
    assert result.previous_refresh_tokens == []
    assert grant_types(session) == ["authorization_code"]
    assert session.calls[0].data["code"] == CODE
    data = on_disk(cache_path)
    assert data["codes"][CODE_FP]["state"] == DONE
    assert data["codes"][CODE_FP]["tokens"]["refresh_token"] == RT
    assert data["current"] == {IDENTITY: CODE_FP}
    raw = open(cache_path, encoding="utf-8").read()
    assert CODE not in raw and SECRET not in raw
    session.assert_secrets_only_in_body(SECRET, CODE)


def test_second_call_is_served_from_the_cache(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(exchanged())
    first = ensure_credentials(client, new_cache(cache_path), code=CODE)
    content = open(cache_path, "rb").read()
    for allow_exchange in (True, False):
        again = ensure_credentials(client, new_cache(cache_path), code=CODE, allow_exchange=allow_exchange)
        assert again.found and not again.changed and not again.exchanged and not again.refreshed
        assert again.source == SOURCE_CACHE and again.code_fingerprint == CODE_FP
        assert again.tokens is not None and first.tokens is not None
        assert again.tokens.refresh_token == RT and again.tokens.access_token == AT
        assert again.tokens.expires_at == first.tokens.expires_at
    assert len(session.calls) == 1
    assert open(cache_path, "rb").read() == content


def test_lost_cache_adopts_the_hosts_tokens(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(exchanged())
    ensure_credentials(client, new_cache(cache_path), code=CODE)
    os.unlink(cache_path)  # a fresh CI runner: the controller lost its cache
    deployed = [candidate(CODE_FP, RT, AT, ttl=3000), candidate(CODE_FP, RT, AT, ttl=3000)]
    session.add(minted())
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=deployed)
    # One refresh proves the hosts' refresh token and brings a trusted access token; the code is not sent again.
    assert result.found and result.changed and not result.exchanged and result.refreshed
    assert result.source == SOURCE_CANDIDATES
    assert result.tokens is not None and result.tokens.refresh_token == RT and result.tokens.access_token == MINTED
    assert grant_types(session) == ["authorization_code", "refresh_token"]
    assert session.calls[1].data["refresh_token"] == RT
    data = on_disk(cache_path)
    assert data["codes"][CODE_FP]["state"] == DONE
    assert data["codes"][CODE_FP]["tokens"]["refresh_token"] == RT
    assert data["current"] == {IDENTITY: CODE_FP}
    # From now on the cache answers, without candidates.
    again = ensure_credentials(client, new_cache(cache_path), code=CODE, allow_exchange=False)
    assert again.found and again.source == SOURCE_CACHE and again.tokens is not None and again.tokens.refresh_token == RT
    assert again.tokens.access_token == MINTED and not again.changed
    assert len(session.calls) == 2


def test_adoption_proves_the_most_common_refresh_token_and_never_uses_a_host_access_token(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    stray, later = sentinel("refresh"), sentinel("access")
    deployed = [
        candidate(CODE_FP, stray, sentinel("access"), ttl=3500),
        candidate(CODE_FP, RT, AT, ttl=1000),
        candidate(CODE_FP, RT, later, ttl=3000),
        candidate(CODE_FP, RT),
    ]
    session.add(minted())
    session.add(json_response({"error": "invalid_code"}))  # the stray claim is checked too: Zoho refuses it
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=deployed)
    assert result.source == SOURCE_CANDIDATES
    assert result.tokens is not None and result.tokens.refresh_token == RT and result.tokens.access_token == MINTED
    assert [call.data["refresh_token"] for call in session.calls] == [RT, stray]


def test_candidates_of_another_code_do_not_prevent_the_exchange(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(exchanged())
    deployed = [candidate(OLD_FP, OLD_RT, sentinel("access"), ttl=3000)]
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=deployed, track_replaced=True)
    assert result.exchanged and result.changed and result.source == SOURCE_ZOHO
    assert result.tokens is not None and result.tokens.refresh_token == RT
    # A token known only from hosts (another code's, or provisioned by hand) was not minted by this cache: never tracked for revocation.
    assert result.previous_refresh_tokens == []
    assert grant_types(session) == ["authorization_code"]
    assert on_disk(cache_path)["replaced"] == {}


def test_without_track_replaced_nothing_is_remembered(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(exchanged())
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=[candidate(OLD_FP, OLD_RT)])
    assert result.exchanged and result.previous_refresh_tokens == []
    assert on_disk(cache_path)["replaced"] == {}


def test_in_flight_code_is_not_exchanged_again(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    cache = new_cache(cache_path)
    with cache.locked():
        cache.begin_exchange(CODE_FP, accounts_url=ACCOUNTS, client_id=CLIENT_ID)
    for check_mode in (False, True):
        with pytest.raises(ZohoCodeMayBeSpentError) as info:
            ensure_credentials(client, new_cache(cache_path), code=CODE, check_mode=check_mode)
        assert "Generate a new code" in info.value.msg
    assert session.calls == []


def test_ambiguous_exchange_failure_is_journaled(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(reset_after_send())
    with pytest.raises(ZohoCodeMayBeSpentError):
        ensure_credentials(client, new_cache(cache_path), code=CODE)
    assert on_disk(cache_path)["codes"][CODE_FP]["state"] == IN_FLIGHT
    assert on_disk(cache_path)["current"] == {}
    with pytest.raises(ZohoCodeMayBeSpentError):
        ensure_credentials(client, new_cache(cache_path), code=CODE)
    assert len(session.calls) == 1


def test_refused_exchange_can_be_retried(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(json_response({"error": "invalid_code"}))
    with pytest.raises(ZohoInvalidCodeError):
        ensure_credentials(client, new_cache(cache_path), code=CODE)
    assert on_disk(cache_path)["codes"] == {}
    session.add(exchanged())
    assert ensure_credentials(client, new_cache(cache_path), code=CODE).exchanged
    assert grant_types(session) == ["authorization_code", "authorization_code"]


# -- ensure_credentials without a code ------------------------------------------------------------


def test_without_a_code_the_current_code_is_used(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    seed(cache_path, CODE_FP, token_set())
    result = ensure_credentials(client, new_cache(cache_path), code=None, allow_exchange=False)
    assert result.found and result.source == SOURCE_CACHE and result.code_fingerprint == CODE_FP
    assert result.tokens is not None and result.tokens.refresh_token == RT
    assert session.calls == []


def test_current_code_is_per_client_and_server(session: FakeSession, cache_path: str) -> None:
    seed(cache_path, CODE_FP, token_set())
    other = ZohoOAuthClient("https://accounts.zoho.com", client_id=CLIENT_ID, client_secret=SECRET, session=session)
    result = ensure_credentials(other, new_cache(cache_path), code=None, allow_exchange=False)
    assert result == Credentials(found=False)
    assert session.calls == []


@pytest.mark.parametrize("allow_exchange", [False, True])
def test_without_a_code_agreeing_candidates_are_adopted(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str, allow_exchange: bool
) -> None:
    deployed = [candidate(CODE_FP, RT, AT, ttl=3000), candidate(CODE_FP, RT, AT, ttl=3000), candidate(None, None)]
    session.add(minted())
    result = ensure_credentials(client, new_cache(cache_path), code=None, candidates=deployed, allow_exchange=allow_exchange)
    assert result.found and result.source == SOURCE_CANDIDATES and result.code_fingerprint == CODE_FP
    assert result.changed and not result.exchanged and result.refreshed
    assert result.tokens is not None and result.tokens.refresh_token == RT and result.tokens.access_token == MINTED
    assert on_disk(cache_path)["current"] == {IDENTITY: CODE_FP}
    assert on_disk(cache_path)["codes"][CODE_FP]["state"] == DONE
    assert grant_types(session) == ["refresh_token"]


def test_without_a_code_disagreeing_candidates_are_refused(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    deployed = [candidate(CODE_FP, RT), candidate(OLD_FP, OLD_RT)]
    with pytest.raises(ZohoInputError) as info:
        ensure_credentials(client, new_cache(cache_path), code=None, candidates=deployed)
    assert "2 different grant codes" in info.value.msg and "Pass the current grant code" in info.value.msg
    assert RT not in info.value.msg and OLD_RT not in info.value.msg
    assert session.calls == []


def test_a_code_chooses_between_disagreeing_candidates(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    deployed = [candidate(CODE_FP, RT, AT, ttl=3000), candidate(OLD_FP, OLD_RT)]
    session.add(minted())
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=deployed, track_replaced=True)
    assert result.source == SOURCE_CANDIDATES and result.tokens is not None and result.tokens.refresh_token == RT
    assert result.previous_refresh_tokens == []  # OLD_RT is known only from a host: the cache never minted it
    assert [call.data["refresh_token"] for call in session.calls] == [RT]


def test_without_a_code_and_nothing_known(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    assert ensure_credentials(client, new_cache(cache_path), code=None, allow_exchange=False) == Credentials(found=False)
    with pytest.raises(ZohoInputError) as info:
        ensure_credentials(client, new_cache(cache_path), code=None, allow_exchange=True)
    assert "No grant code was given" in info.value.msg and "Generate a self-client code" in info.value.msg
    assert session.calls == []


def test_without_a_code_when_the_current_codes_tokens_are_gone(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    cache = new_cache(cache_path)
    with cache.locked():
        cache.set_current_code(IDENTITY, CODE_FP)
    with pytest.raises(ZohoInputError) as info:
        ensure_credentials(client, new_cache(cache_path), code=None)
    assert "Pass a new grant code" in info.value.msg
    assert session.calls == []


# -- ensure_credentials: min_ttl -----------------------------------------------------------------


def test_host_access_tokens_are_never_used_even_when_they_expire_later(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    seed(cache_path, CODE_FP, token_set(AT, RT, ttl=100))
    forged = sentinel("access")
    deployed = [
        candidate(CODE_FP, RT, sentinel("access"), ttl=1000),
        candidate(CODE_FP, RT, forged, ttl=99999999),
        candidate(OLD_FP, OLD_RT, sentinel("access"), ttl=3500),
    ]
    session.add(minted())
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=deployed)
    assert result.source == SOURCE_CACHE and result.refreshed and result.changed
    assert result.tokens is not None and result.tokens.access_token == MINTED and result.tokens.refresh_token == RT
    assert result.tokens.api_domain == API_DOMAIN
    assert grant_types(session) == ["refresh_token"]


def test_a_newer_cached_access_token_wins_over_the_codes_tokens(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    seed(cache_path, CODE_FP, token_set(AT, RT, ttl=100))
    cache = new_cache(cache_path)
    with cache.locked():
        cache.remember_access_token(RT, token_set(MINTED, None, ttl=3000))
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=[candidate(CODE_FP, RT, AT, ttl=2000)])
    assert not result.refreshed
    assert result.tokens is not None and result.tokens.access_token == MINTED and result.tokens.refresh_token == RT
    assert session.calls == []


def test_stale_access_token_is_refreshed_exactly_once(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    seed(cache_path, CODE_FP, token_set(AT, RT, ttl=100))
    session.add(minted())
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=[candidate(CODE_FP, RT, AT, ttl=100)])
    assert result.refreshed and result.changed and not result.exchanged and result.source == SOURCE_CACHE
    assert result.tokens is not None and result.tokens.access_token == MINTED and result.tokens.refresh_token == RT
    assert grant_types(session) == ["refresh_token"]
    assert session.calls[0].data["refresh_token"] == RT
    found = new_cache(cache_path).load().access_token_for(RT)
    assert found is not None and found.access_token == MINTED
    again = ensure_credentials(client, new_cache(cache_path), code=CODE)
    assert not again.refreshed and again.tokens is not None and again.tokens.access_token == MINTED
    assert len(session.calls) == 1


def test_min_ttl_decides_what_is_stale(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    seed(cache_path, CODE_FP, token_set(AT, RT, ttl=1000))
    kept = ensure_credentials(client, new_cache(cache_path), code=CODE, min_ttl=900)
    assert not kept.refreshed and session.calls == []
    session.add(minted())
    replaced = ensure_credentials(client, new_cache(cache_path), code=CODE, min_ttl=1100)
    assert replaced.refreshed and replaced.tokens is not None and replaced.tokens.access_token == MINTED
    assert len(session.calls) == 1


def test_without_min_ttl_nothing_is_refreshed(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    seed(cache_path, CODE_FP, token_set(AT, RT, ttl=-100))  # the access token has expired
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, min_ttl=None)
    assert result.found and not result.refreshed and not result.changed
    assert result.tokens is not None and result.tokens.refresh_token == RT
    assert session.calls == []


def test_adopted_candidates_without_access_tokens_are_refreshed_once(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    session.add(minted())
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=[candidate(CODE_FP, RT)])
    assert result.source == SOURCE_CANDIDATES and result.refreshed and result.changed and not result.exchanged
    assert result.tokens is not None and result.tokens.access_token == MINTED and result.tokens.refresh_token == RT
    assert grant_types(session) == ["refresh_token"]


def test_adoption_keeps_a_newer_access_token_already_in_the_cache(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    """The cache keeps the newest access token per refresh token (for example minted by zoho_thrive_refresh
    with the same token_cache). Adopting candidates whose access token is older must not replace it and
    cause a needless mint (Zoho allows 10 per refresh token per 10 minutes)."""
    cache = new_cache(cache_path)
    with cache.locked():
        cache.remember_access_token(RT, token_set(MINTED, None, ttl=3000))
    session.add(minted(sentinel("minted")))  # answered, so that a needless mint shows as a failed assertion below
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=[candidate(CODE_FP, RT, AT, ttl=100)])
    assert result.source == SOURCE_CANDIDATES
    assert session.calls == [], "a still-valid cached access token was replaced by the adopted (older) one, then minted again"
    assert not result.refreshed
    assert result.tokens is not None and result.tokens.access_token == MINTED
    found = new_cache(cache_path).load().access_token_for(RT)
    assert found is not None and found.access_token == MINTED


# -- ensure_credentials: rotation and replaced refresh tokens ---------------------------------


def test_rotation_tracks_the_previous_refresh_token_until_it_is_forgotten(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    session.add(exchanged(sentinel("access"), OLD_RT))
    first = ensure_credentials(client, new_cache(cache_path), code=OLD_CODE, track_replaced=True)
    assert first.exchanged and first.previous_refresh_tokens == []
    session.add(exchanged())
    rotated = ensure_credentials(client, new_cache(cache_path), code=CODE, track_replaced=True)
    assert rotated.exchanged and rotated.tokens is not None and rotated.tokens.refresh_token == RT
    assert rotated.previous_refresh_tokens == [OLD_RT]
    data = on_disk(cache_path)
    assert data["current"] == {IDENTITY: CODE_FP}
    assert data["replaced"] == {IDENTITY: [OLD_RT]}
    # The old token stays listed on every run (also the role's lookup without a code) until revoked.
    for code in (CODE, None):
        again = ensure_credentials(client, new_cache(cache_path), code=code, allow_exchange=False, track_replaced=True)
        assert again.source == SOURCE_CACHE and again.previous_refresh_tokens == [OLD_RT]
    # zoho_thrive_revoke with token_cache forgets it.
    cache = new_cache(cache_path)
    with cache.locked():
        assert cache.forget_refresh_token(OLD_RT) is True
    after = ensure_credentials(client, new_cache(cache_path), code=CODE, allow_exchange=False, track_replaced=True)
    assert after.previous_refresh_tokens == []
    assert new_cache(cache_path).load().replaced_tokens(IDENTITY) == []
    assert grant_types(session) == ["authorization_code", "authorization_code"]


def test_replaced_tokens_are_listed_once_and_never_the_current_one(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    seed(cache_path, OLD_FP, token_set(sentinel("access"), OLD_RT))
    session.add(exchanged())
    deployed = [candidate(OLD_FP, OLD_RT), candidate(OLD_FP, OLD_RT), candidate(None, RT)]
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=deployed, track_replaced=True)
    assert result.exchanged and result.previous_refresh_tokens == [OLD_RT]
    assert on_disk(cache_path)["replaced"] == {IDENTITY: [OLD_RT]}


def test_returning_to_an_earlier_code_tracks_the_one_it_replaces(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    seed(cache_path, OLD_FP, token_set(sentinel("access"), OLD_RT))
    seed(cache_path, CODE_FP, token_set())  # CODE is current now
    result = ensure_credentials(client, new_cache(cache_path), code=OLD_CODE, track_replaced=True)
    assert result.source == SOURCE_CACHE and result.tokens is not None and result.tokens.refresh_token == OLD_RT
    assert result.previous_refresh_tokens == [RT]
    assert on_disk(cache_path)["current"] == {IDENTITY: OLD_FP}
    assert session.calls == []


# -- ensure_credentials: check mode ---------------------------------------------------------------


def test_check_mode_predicts_an_exchange_and_creates_nothing(client: ZohoOAuthClient, session: FakeSession, tmp_path: t.Any) -> None:
    path = str(tmp_path / "controller" / "tokens.json")
    result = ensure_credentials(client, new_cache(path), code=CODE, check_mode=True)
    assert result.found and result.exchanged and result.changed and not result.refreshed
    assert result.source == SOURCE_ZOHO and result.code_fingerprint == CODE_FP
    # Nothing but the API domain is predictable (issue 7 item 5: the role writes it, never "")
    assert result.tokens == TokenSet(access_token="", expires_in=0, expires_at=0, api_domain=API_DOMAIN)
    lookup = ensure_credentials(client, new_cache(path), code=CODE, allow_exchange=False, check_mode=True)
    assert lookup == Credentials(found=False, code_fingerprint=CODE_FP)
    assert not (tmp_path / "controller").exists()
    assert session.calls == []


def _seeded_without_lock(path: str, tokens: TokenSet, code_fp: str = CODE_FP) -> dict[str, tuple[bytes, int, int]] | None:
    seed(path, code_fp, tokens)
    assert not os.path.lexists(path + ".lock")  # a lock file exists only while the lock is held
    return snapshot(os.path.dirname(path))


def test_check_mode_with_a_fresh_cache_hit(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    before = _seeded_without_lock(cache_path, token_set())
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, check_mode=True)
    assert result.found and not result.changed and not result.exchanged and not result.refreshed
    assert result.tokens is not None and result.tokens.access_token == AT and result.tokens.refresh_token == RT
    assert snapshot(os.path.dirname(cache_path)) == before
    assert session.calls == []


def test_check_mode_predicts_a_refresh(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    before = _seeded_without_lock(cache_path, token_set(ttl=100))
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, check_mode=True)
    assert result.found and result.refreshed and result.changed and not result.exchanged
    assert result.tokens is not None and result.tokens.access_token == "" and result.tokens.refresh_token == RT
    assert snapshot(os.path.dirname(cache_path)) == before
    assert session.calls == []


def test_check_mode_adoption_writes_nothing(client: ZohoOAuthClient, session: FakeSession, tmp_path: t.Any) -> None:
    path = str(tmp_path / "controller" / "tokens.json")
    result = ensure_credentials(client, new_cache(path), code=CODE, candidates=[candidate(CODE_FP, RT, AT, ttl=3000)], check_mode=True)
    # The proof refresh would mint: predicted, not sent; the host's access token is not offered.
    assert result.found and result.source == SOURCE_CANDIDATES and result.changed and result.refreshed
    assert result.tokens is not None and result.tokens.access_token == "" and result.tokens.refresh_token == RT
    stale = ensure_credentials(client, new_cache(path), code=None, candidates=[candidate(CODE_FP, RT)], check_mode=True)
    assert stale.source == SOURCE_CANDIDATES and stale.refreshed and stale.changed
    assert not (tmp_path / "controller").exists()
    assert session.calls == []


def test_check_mode_predicts_replaced_tokens_without_writing(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    before = _seeded_without_lock(cache_path, token_set(sentinel("access"), OLD_RT), OLD_FP)
    predicted = ensure_credentials(
        client, new_cache(cache_path), code=CODE, candidates=[candidate(OLD_FP, OLD_RT)], check_mode=True, track_replaced=True
    )
    assert predicted.exchanged and predicted.tokens is not None and not predicted.tokens.access_token and not predicted.tokens.refresh_token
    assert predicted.previous_refresh_tokens == [OLD_RT]
    assert snapshot(os.path.dirname(cache_path)) == before
    assert session.calls == []


# -- ensure_credentials: online codes -----------------------------------------------------------


def test_online_code_is_refused_and_not_exchanged_again(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(exchanged(refresh=None))
    for _attempt in range(2):
        with pytest.raises(ZohoInputError) as info:
            ensure_credentials(client, new_cache(cache_path), code=CODE)
        assert "offline access" in info.value.msg and "no refresh token" in info.value.msg
    assert len(session.calls) == 1  # the code was exchanged once; its (online) tokens are in the cache
    assert on_disk(cache_path)["codes"][CODE_FP]["state"] == DONE
    assert on_disk(cache_path)["current"] == {}


# -- untrusted candidates: proof by refresh (issue 6, item 3) -------------------------------------


def test_a_forged_refresh_token_is_skipped_and_the_next_candidate_proven(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    forged = sentinel("refresh")
    # Two hosts were made to report a forged token under the current code's fingerprint; one holds the real one.
    deployed = [candidate(CODE_FP, forged, sentinel("access"), ttl=99999999), candidate(CODE_FP, forged), candidate(CODE_FP, RT)]
    session.add(json_response({"error": "invalid_code"}))
    session.add(minted())
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=deployed)
    assert result.source == SOURCE_CANDIDATES and not result.exchanged
    assert result.tokens is not None and result.tokens.refresh_token == RT and result.tokens.access_token == MINTED
    assert [call.data["refresh_token"] for call in session.calls] == [forged, RT]
    assert any(fingerprint(forged)[:12] in warning for warning in result.warnings)
    assert not any(forged in warning for warning in result.warnings)
    assert on_disk(cache_path)["codes"][CODE_FP]["tokens"]["refresh_token"] == RT


def test_two_valid_refresh_tokens_claiming_one_code_are_refused(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    """Hosts given an older genuine token under the current code's fingerprint must not undo a rotation."""
    deployed = [candidate(CODE_FP, OLD_RT), candidate(CODE_FP, OLD_RT), candidate(CODE_FP, RT)]
    session.add(minted())
    session.add(minted(sentinel("minted")))
    with pytest.raises(ZohoInputError) as info:
        ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=deployed)
    assert "2 different refresh tokens that Zoho accepts" in info.value.msg and "None of them was adopted" in info.value.msg
    assert fingerprint(OLD_RT)[:12] in info.value.msg and OLD_RT not in info.value.msg and RT not in info.value.msg
    assert grant_types(session) == ["refresh_token", "refresh_token"]  # never the code
    again = new_cache(cache_path).load()
    assert again.code_tokens(CODE_FP) is None and again.access_token_for(OLD_RT) is None and again.access_token_for(RT) is None


def test_too_many_claimed_tokens_are_refused_before_anything_is_sent(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    deployed = [candidate(CODE_FP, sentinel("refresh")) for _host in range(6)]
    with pytest.raises(ZohoInputError) as info:
        ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=deployed)
    assert "6 different refresh tokens" in info.value.msg and "Nothing was sent" in info.value.msg
    assert session.calls == []


def test_when_every_candidate_is_refused_the_code_is_exchanged(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    forged = sentinel("refresh")
    session.add(json_response({"error": "invalid_code"}))
    session.add(exchanged())
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=[candidate(CODE_FP, forged)])
    assert result.exchanged and result.source == SOURCE_ZOHO
    assert result.tokens is not None and result.tokens.refresh_token == RT
    assert grant_types(session) == ["refresh_token", "authorization_code"]


def test_a_client_problem_during_the_proof_is_not_blamed_on_the_candidate(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    session.add(json_response({"error": "invalid_client_secret"}))
    with pytest.raises(ZohoAPIError) as info:
        ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=[candidate(CODE_FP, RT), candidate(CODE_FP, OLD_RT)])
    assert "invalid_client_secret" in info.value.msg
    assert len(session.calls) == 1  # not retried with the next candidate, and the code was not sent


def test_a_forged_api_domain_from_a_host_never_travels(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    deployed = [Candidate.from_mapping({"code_fingerprint": CODE_FP, "refresh_token": RT, "api_domain": "https://evil.example"})]
    session.add(json_response(token_payload(MINTED, refresh_token=None, expires_in=3600)))  # the answer names no api_domain
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=deployed)
    assert result.tokens is not None and result.tokens.api_domain == API_DOMAIN  # the data center's own


# -- api_domain: only the data center's, or the explicit accounts_url's -----------------------------


@pytest.mark.parametrize(
    "answered",
    ["https://evil.example", "https://www.zohoapis.com", "http://www.zohoapis.eu", "https://www.zohoapis.eu.evil.example", "javascript:x"],
)
def test_an_api_domain_of_another_data_center_is_replaced(client: ZohoOAuthClient, session: FakeSession, cache_path: str, answered: str) -> None:
    session.add(json_response(token_payload(AT, refresh_token=RT, api_domain=answered, expires_in=3600)))
    result = ensure_credentials(client, new_cache(cache_path), code=CODE)
    assert result.tokens is not None and result.tokens.api_domain == API_DOMAIN
    assert any("does not belong to data center eu" in warning for warning in result.warnings)
    assert on_disk(cache_path)["codes"][CODE_FP]["tokens"]["api_domain"] == API_DOMAIN


def test_the_data_centers_api_domain_is_accepted_in_any_case(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(json_response(token_payload(AT, refresh_token=RT, api_domain="https://WWW.ZohoAPIs.eu/", expires_in=3600)))
    result = ensure_credentials(client, new_cache(cache_path), code=CODE)
    assert result.tokens is not None and result.tokens.api_domain == "https://WWW.ZohoAPIs.eu/" and result.warnings == []


def test_a_refresh_without_api_domain_keeps_the_known_one(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    seed(cache_path, CODE_FP, token_set(AT, RT, ttl=100))
    session.add(json_response(token_payload(MINTED, refresh_token=None, expires_in=3600)))
    result = ensure_credentials(client, new_cache(cache_path), code=CODE)
    assert result.refreshed and result.tokens is not None and result.tokens.api_domain == API_DOMAIN


# -- an absent value never erases a known one (issue 7, item 3) -------------------------------------------

PROXY = "https://zoho-proxy.example.test"  # an explicit accounts_url outside the table: no data center of its own
PROXY_API = "https://api.zoho-proxy.example.test"
US_API = "https://www.zohoapis.com"


# How an answer leaves out api_domain/scope/token_type: missing, null, empty, blank.
LACKING = [
    pytest.param({}, id="missing"),
    pytest.param({"api_domain": None, "scope": None, "token_type": None}, id="null"),
    pytest.param({"api_domain": "", "scope": "", "token_type": ""}, id="empty"),
    pytest.param({"api_domain": "  ", "scope": " ", "token_type": " "}, id="blank"),
]


def lacking(access: str, refresh: str | None = None, **how: t.Any) -> t.Any:
    """A token answer with only access_token and expires_in (and refresh_token), plus the fields of ``how``."""
    payload: dict[str, t.Any] = {"access_token": access, "expires_in": 3600}
    if refresh is not None:
        payload["refresh_token"] = refresh
    payload.update(how)
    return json_response(payload)


@pytest.fixture
def proxy_client(session: FakeSession) -> ZohoOAuthClient:
    return ZohoOAuthClient(PROXY, client_id=CLIENT_ID, client_secret=SECRET, session=session, sleep=Recorder())


def proxy_tokens(access: str = AT, refresh: str | None = RT, *, ttl: int = 3600) -> TokenSet:
    return replace(token_set(access, refresh, ttl=ttl), api_domain=PROXY_API)


@pytest.mark.parametrize("how", LACKING)
def test_issue_input_a_refresh_answer_without_api_domain_keeps_the_stored_one(
    proxy_client: ZohoOAuthClient, session: FakeSession, cache_path: str, how: dict[str, t.Any]
) -> None:
    # issue 7 item 3: the role wrote api_domain "" over a known-good value. Behind an explicit accounts_url the
    # data center table has no answer, so only the stored value can keep it.
    cache = new_cache(cache_path)
    with cache.locked():
        cache.finish_exchange(CODE_FP, proxy_tokens(ttl=100))
        cache.set_current_code(f"{CLIENT_ID}@{PROXY}", CODE_FP)
    session.add(lacking(MINTED, **how))
    result = ensure_credentials(proxy_client, new_cache(cache_path), code=CODE, default_api_domain=US_API)
    assert result.refreshed and result.tokens is not None and result.tokens.access_token == MINTED
    assert result.tokens.api_domain == PROXY_API
    assert result.tokens.scope == ["Thrive.Referral.CREATE"] and result.tokens.token_type == "Bearer"
    stored = on_disk(cache_path)["access_tokens"][fingerprint(RT)]
    assert stored["api_domain"] == PROXY_API and stored["scope"] == ["Thrive.Referral.CREATE"]
    # and the next run, served from the cache, says the same
    again = ensure_credentials(proxy_client, new_cache(cache_path), code=CODE, default_api_domain=US_API)
    assert again.tokens is not None and again.tokens.api_domain == PROXY_API and again.tokens.scope == ["Thrive.Referral.CREATE"]


@pytest.mark.parametrize("how", LACKING)
def test_a_refresh_answer_without_scope_keeps_the_codes_scope(client: ZohoOAuthClient, session: FakeSession, cache_path: str, how: dict[str, t.Any]) -> None:
    seed(cache_path, CODE_FP, token_set(AT, RT, ttl=100))
    session.add(lacking(MINTED, **how))
    result = ensure_credentials(client, new_cache(cache_path), code=CODE)
    assert result.tokens is not None and result.tokens.access_token == MINTED
    assert (result.tokens.api_domain, result.tokens.scope, result.tokens.token_type) == (API_DOMAIN, ["Thrive.Referral.CREATE"], "Bearer")


@pytest.mark.parametrize("how", LACKING)
def test_ensure_access_token_keeps_the_cached_fields(proxy_client: ZohoOAuthClient, session: FakeSession, cache_path: str, how: dict[str, t.Any]) -> None:
    session.add(lacking(AT, api_domain=PROXY_API, scope="Thrive.Referral.CREATE", token_type="Bearer"), lacking(MINTED, **how))
    ensure_access_token(proxy_client, RT, cache=new_cache(cache_path), min_ttl=300, check_mode=False, default_api_domain=US_API)
    outcome = ensure_access_token(proxy_client, RT, cache=new_cache(cache_path), min_ttl=4000, check_mode=False, default_api_domain=US_API)
    assert outcome.changed and outcome.tokens is not None and outcome.tokens.access_token == MINTED
    assert (outcome.tokens.api_domain, outcome.tokens.scope, outcome.tokens.token_type) == (PROXY_API, ["Thrive.Referral.CREATE"], "Bearer")


def test_ensure_access_token_without_a_cache_keeps_the_given_tokens_fields(proxy_client: ZohoOAuthClient, session: FakeSession) -> None:
    session.add(lacking(MINTED))
    given = proxy_tokens(ttl=10)
    outcome = ensure_access_token(proxy_client, RT, cache=None, min_ttl=300, check_mode=False, given=given, default_api_domain=US_API)
    assert outcome.tokens is not None and outcome.tokens.api_domain == PROXY_API and outcome.tokens.scope == ["Thrive.Referral.CREATE"]


def test_nothing_known_behind_an_explicit_accounts_url_gives_the_default(proxy_client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(lacking(MINTED), lacking(AT, RT))
    minted_ = ensure_access_token(proxy_client, RT, cache=None, min_ttl=300, check_mode=False, default_api_domain=US_API)
    assert minted_.tokens is not None and minted_.tokens.api_domain == US_API
    exchanged_ = exchange_code(proxy_client, CODE, cache=new_cache(cache_path), check_mode=False, default_api_domain=US_API)
    assert exchanged_.tokens is not None and exchanged_.tokens.api_domain == US_API
    # The default is a fallback, not a stored value: the cache keeps saying "unknown".
    assert on_disk(cache_path)["codes"][CODE_FP]["tokens"]["api_domain"] in (None, "")


def test_nothing_known_at_a_table_server_gives_its_data_centers_api_domain(client: ZohoOAuthClient, session: FakeSession, cache_path: str) -> None:
    session.add(lacking(AT, RT))
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, default_api_domain=US_API)
    assert result.tokens is not None and result.tokens.api_domain == API_DOMAIN  # eu's, from the table, not the default
    assert result.tokens.scope in (None, [])  # no scope is invented


def test_an_exchange_without_api_domain_keeps_the_clients_previous_one(
    proxy_client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    cache = new_cache(cache_path)
    with cache.locked():
        cache.finish_exchange(OLD_FP, proxy_tokens(AT, OLD_RT))
        cache.set_current_code(f"{CLIENT_ID}@{PROXY}", OLD_FP)
    session.add(lacking(MINTED, RT))
    result = ensure_credentials(proxy_client, new_cache(cache_path), code=CODE, default_api_domain=US_API)
    assert result.exchanged and result.tokens is not None and result.tokens.api_domain == PROXY_API
    assert on_disk(cache_path)["codes"][CODE_FP]["tokens"]["api_domain"] == PROXY_API


def test_adoption_behind_an_explicit_accounts_url_never_leaves_the_api_domain_empty(
    proxy_client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    # A fresh controller (no cache) adopting the hosts' token: the hosts' api_domain is untrusted, so the default.
    session.add(lacking(MINTED))
    result = ensure_credentials(proxy_client, new_cache(cache_path), code=CODE, candidates=[candidate(CODE_FP, RT)], default_api_domain=US_API)
    assert result.source == SOURCE_CANDIDATES and result.tokens is not None and result.tokens.api_domain == US_API


def test_check_mode_predictions_carry_the_api_domain(client: ZohoOAuthClient, session: FakeSession, tmp_path: t.Any) -> None:
    path = str(tmp_path / "c" / "tokens.json")
    adopted = ensure_credentials(client, new_cache(path), code=CODE, candidates=[candidate(CODE_FP, RT)], check_mode=True, default_api_domain=US_API)
    assert adopted.tokens is not None and adopted.tokens.api_domain == API_DOMAIN  # what a real run gives for an answer without one
    seed(path, CODE_FP, token_set(AT, RT, ttl=100))
    refreshed = ensure_credentials(client, new_cache(path), code=CODE, check_mode=True, default_api_domain=US_API)
    assert refreshed.refreshed and refreshed.tokens is not None and refreshed.tokens.api_domain == API_DOMAIN
    assert session.calls == []


def test_a_predicted_exchange_carries_the_api_domain_a_real_run_would_return(
    proxy_client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    nothing = ensure_credentials(proxy_client, new_cache(cache_path), code=CODE, check_mode=True, default_api_domain=US_API)
    assert nothing.exchanged and nothing.tokens is not None and nothing.tokens.api_domain == US_API
    cache = new_cache(cache_path)
    with cache.locked():
        cache.finish_exchange(OLD_FP, proxy_tokens(AT, OLD_RT))
        cache.set_current_code(f"{CLIENT_ID}@{PROXY}", OLD_FP)
    known = ensure_credentials(proxy_client, new_cache(cache_path), code=CODE, check_mode=True, default_api_domain=US_API)
    assert known.exchanged and known.tokens is not None and known.tokens.api_domain == PROXY_API
    assert session.calls == []


# -- tokens Zoho issued are never discarded because the store fails (issue 6, item 5) ---------------


class DiskFull:
    """Makes the token cache's writes fail with ENOSPC from the ``fail_from``-th write on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail_from: int) -> None:
        from ansible_collections.zohothrive.oauth.plugins.module_utils import _token_store
        from ansible_collections.zohothrive.oauth.plugins.module_utils._fileio import FileIOError

        real = _token_store.atomic_write
        self.writes = 0

        def atomic_write(path: str, data: bytes, **kwargs: t.Any) -> None:
            self.writes += 1
            if self.writes >= fail_from:
                raise FileIOError(f"Cannot write {path}: No space left on device. The previous file, if any, is unchanged.")
            real(path, data, **kwargs)

        monkeypatch.setattr(_token_store, "atomic_write", atomic_write)


def test_exchanged_tokens_survive_a_cache_that_cannot_be_written(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    DiskFull(monkeypatch, fail_from=2)  # the in-flight record is written; the tokens are not
    session.add(exchanged())
    session.add(minted())
    result = ensure_credentials(client, new_cache(cache_path), code=CODE, track_replaced=True)
    assert result.exchanged and result.tokens is not None and result.tokens.refresh_token == RT and result.tokens.access_token == AT
    assert result.store_error is not None and "No space left on device" in result.store_error
    assert any("could not record them" in warning for warning in result_warnings(result))
    assert on_disk(cache_path)["codes"][CODE_FP]["state"] == IN_FLIGHT
    monkeypatch.undo()
    # The next run, with the store repaired: the hosts hold the tokens, so they are recovered without sending the code.
    again = ensure_credentials(client, new_cache(cache_path), code=CODE, candidates=[candidate(CODE_FP, RT)])
    assert again.source == SOURCE_CANDIDATES and not again.exchanged and again.store_error is None
    assert again.tokens is not None and again.tokens.refresh_token == RT
    assert grant_types(session) == ["authorization_code", "refresh_token"]
    assert on_disk(cache_path)["codes"][CODE_FP]["state"] == DONE


def test_a_cache_that_cannot_record_the_in_flight_entry_sends_nothing(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    DiskFull(monkeypatch, fail_from=1)
    with pytest.raises(ZohoOAuthError) as info:
        ensure_credentials(client, new_cache(cache_path), code=CODE)
    assert "No space left on device" in info.value.msg and not info.value.outcome_unknown
    assert session.calls == []
    monkeypatch.undo()
    session.add(exchanged())
    assert ensure_credentials(client, new_cache(cache_path), code=CODE).exchanged  # the code is still usable


def test_a_minted_access_token_survives_a_cache_that_cannot_be_written(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(cache_path, CODE_FP, token_set(AT, RT, ttl=100))
    DiskFull(monkeypatch, fail_from=1)
    session.add(minted())
    result = ensure_credentials(client, new_cache(cache_path), code=CODE)
    assert result.refreshed and result.tokens is not None and result.tokens.access_token == MINTED
    assert result.store_error is not None
    session.add(minted(sentinel("minted")))
    outcome = ensure_access_token(client, RT, cache=new_cache(cache_path), min_ttl=300, check_mode=False)
    assert outcome.tokens is not None and outcome.store_error is not None and "No space left" in outcome.store_error


def test_a_stand_alone_exchange_returns_its_tokens_when_the_cache_fails(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    DiskFull(monkeypatch, fail_from=2)
    session.add(exchanged())
    outcome = exchange_code(client, CODE, cache=new_cache(cache_path), check_mode=False)
    assert outcome.tokens is not None and outcome.tokens.refresh_token == RT and outcome.store_error is not None


def test_a_lookup_of_an_in_flight_code_lets_the_caller_look_on_the_hosts(
    client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    cache = new_cache(cache_path)
    with cache.locked():
        cache.begin_exchange(CODE_FP, accounts_url=ACCOUNTS, client_id=CLIENT_ID)
    lookup = ensure_credentials(client, new_cache(cache_path), code=CODE, allow_exchange=False)
    assert lookup.found is False and lookup.code_fingerprint == CODE_FP
    assert session.calls == []


# -- a known api_domain given without an access token (ensure_access_token's known_api_domain) -------------------


@pytest.mark.parametrize("how", LACKING)
def test_a_known_api_domain_without_a_given_token_survives_an_answer_without_one(
    proxy_client: ZohoOAuthClient, session: FakeSession, cache_path: str, how: dict[str, t.Any]
) -> None:
    session.add(lacking(MINTED, **how), lacking(AT, **how))
    bare = ensure_access_token(proxy_client, RT, cache=None, min_ttl=300, check_mode=False, known_api_domain=PROXY_API, default_api_domain=US_API)
    assert bare.tokens is not None and bare.tokens.access_token == MINTED and bare.tokens.api_domain == PROXY_API
    cached = ensure_access_token(
        proxy_client, RT, cache=new_cache(cache_path), min_ttl=300, check_mode=False, known_api_domain=PROXY_API, default_api_domain=US_API
    )
    assert cached.tokens is not None and cached.tokens.api_domain == PROXY_API
    # It is a known value now, stored like one: a later run without the option still has it.
    assert on_disk(cache_path)["access_tokens"][fingerprint(RT)]["api_domain"] == PROXY_API


def test_an_api_domain_stored_for_the_refresh_token_wins_over_the_known_one(
    proxy_client: ZohoOAuthClient, session: FakeSession, cache_path: str
) -> None:
    session.add(lacking(AT, api_domain=PROXY_API), lacking(MINTED))
    ensure_access_token(proxy_client, RT, cache=new_cache(cache_path), min_ttl=300, check_mode=False, default_api_domain=US_API)
    other = "https://api2.zoho-proxy.example.test"
    outcome = ensure_access_token(
        proxy_client, RT, cache=new_cache(cache_path), min_ttl=4000, check_mode=False, known_api_domain=other, default_api_domain=US_API
    )
    assert outcome.tokens is not None and outcome.tokens.access_token == MINTED and outcome.tokens.api_domain == PROXY_API


def test_an_answers_api_domain_wins_over_the_known_one(proxy_client: ZohoOAuthClient, session: FakeSession) -> None:
    answered = "https://api2.zoho-proxy.example.test"
    session.add(lacking(MINTED, api_domain=answered))
    outcome = ensure_access_token(proxy_client, RT, cache=None, min_ttl=300, check_mode=False, known_api_domain=PROXY_API, default_api_domain=US_API)
    assert outcome.tokens is not None and outcome.tokens.api_domain == answered


@pytest.mark.parametrize("known", ["https://www.zohoapis.com", "https://api.zoho-proxy.example.test.evil.tld/path", "http://www.zohoapis.eu"])
def test_a_known_api_domain_is_vetted_like_a_stored_one(client: ZohoOAuthClient, session: FakeSession, known: str) -> None:
    # At eu's accounts server only eu's API domain is acceptable: another data center's (or anything else) is not kept.
    session.add(lacking(MINTED))
    outcome = ensure_access_token(client, RT, cache=None, min_ttl=300, check_mode=False, known_api_domain=known, default_api_domain=US_API)
    assert outcome.tokens is not None and outcome.tokens.api_domain == API_DOMAIN


def test_a_known_api_domain_fills_a_given_token_that_names_none(proxy_client: ZohoOAuthClient, session: FakeSession) -> None:
    given = replace(proxy_tokens(ttl=3600), api_domain=None)
    outcome = ensure_access_token(
        proxy_client, RT, cache=None, min_ttl=300, check_mode=False, given=given, known_api_domain=PROXY_API, default_api_domain=US_API
    )
    assert outcome.source == SOURCE_GIVEN and outcome.tokens is not None and outcome.tokens.api_domain == PROXY_API
    assert session.calls == []
