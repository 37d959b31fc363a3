# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Zoho's limits as state (issue 8, item 4): the mints of each refresh token in the last 10 minutes, and the live
refresh tokens of each client, kept in the token store and decided on one document version.

Every test runs on a fake clock (epoch seconds that the test moves); the flows go through a scripted fake of
Zoho (``FakeSession``), which fails the test on any request it was not told to expect, so "nothing was sent" is checked
by construction.
"""

from __future__ import annotations

import copy
import json
import time
import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils import _limits
from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import NO_RETRY, TokenSet, ZohoOAuthClient
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import (
    ZohoCodeMayBeSpentError,
    ZohoInvalidCodeError,
    ZohoOAuthError,
    ZohoThrottledError,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._flows import ensure_access_token, ensure_credentials, exchange_code, result_warnings
from ansible_collections.zohothrive.oauth.plugins.module_utils._limits import (
    CAP_WARNING_FROM,
    MINT_LIMIT,
    MINT_WINDOW,
    REFRESH_TOKEN_CAP,
    Counts,
    ZohoLimitError,
    ZohoMintLimitError,
    ZohoRefreshTokenCapError,
    cap_check,
    mint_refusal,
    mint_window,
    pruned,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import IN_FLIGHT, StoreBackend, StoreConflict, TokenCache
from ansible_collections.zohothrive.oauth.tests.unit.fakes import FakeSession, Recorder, json_response, read_timeout, sentinel, token_payload

SECRET = sentinel("secret")
RT = sentinel("refresh")
RT_FP = fingerprint(RT)
CLIENT_ID = "1000.CLIENTIDXYZ"
ACCOUNTS = "https://accounts.zoho.eu"
IDENTITY = f"{CLIENT_ID}@{ACCOUNTS}"
API_DOMAIN = "https://www.zohoapis.eu"
T0 = 1_800_000_000


class Clock:
    """A clock the test moves: ``clock()`` is epoch seconds."""

    def __init__(self, now: float = T0) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class MemoryBackend(StoreBackend):
    """A check-and-set store in memory (as in test__token_store_shared): a document and its version."""

    shared = True
    where = "memory://limits"

    def __init__(self) -> None:
        self.document: dict[str, t.Any] | None = None
        self.version = 0
        self.writes = 0
        self.before_write: t.Callable[[], None] | None = None

    def read(self, *, exclusive: bool) -> tuple[dict[str, t.Any] | None, t.Any]:
        return copy.deepcopy(self.document), self.version

    def write(self, document: dict[str, t.Any], version: t.Any, summary: dict[str, t.Any]) -> t.Any:
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook()  # another controller writes first
        if version != self.version:
            raise StoreConflict()
        self.document = json.loads(json.dumps(document))
        self.version += 1
        self.writes += 1
        return self.version


def minted(access: str | None = None) -> t.Any:
    return json_response(token_payload(access or sentinel("minted"), refresh_token=None, api_domain=API_DOMAIN))


def exchanged(refresh: str = RT) -> t.Any:
    return json_response(token_payload(sentinel("access"), refresh_token=refresh, api_domain=API_DOMAIN))


def issued(refresh: str | None = None) -> TokenSet:
    """Tokens of an exchange, as the store records them."""
    return TokenSet(access_token=sentinel("access"), refresh_token=refresh or sentinel("refresh"), expires_in=3600, expires_at=T0 + 3600)


def seed_live(cache: TokenCache, count: int) -> None:
    """``count`` earlier exchanges of the client through the store."""
    for number in range(count):
        cache.finish_exchange(fingerprint(f"old{number}"), issued(), identity=IDENTITY, exchanged=True)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def session() -> FakeSession:
    return FakeSession()


@pytest.fixture
def client(session: FakeSession) -> ZohoOAuthClient:
    return ZohoOAuthClient(ACCOUNTS, client_id=CLIENT_ID, client_secret=SECRET, session=session, sleep=Recorder())


@pytest.fixture
def path(tmp_path: t.Any) -> str:
    return str(tmp_path / "controller" / "tokens.json")


def store(path: str, clock: Clock) -> TokenCache:
    """A fresh TokenCache for the file, as another run would build it, on the test's clock."""
    return TokenCache(path, clock=clock, lock_timeout=5)


def on_disk(path: str) -> dict[str, t.Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def mints_of(document: dict[str, t.Any] | None, refresh_fp: str = RT_FP) -> list[dict[str, t.Any]]:
    return ((document or {}).get("limits", {}).get("mints", {})).get(refresh_fp, [])


# -- the window, as pure logic ------------------------------------------------------------------------


def test_zohos_documented_limits() -> None:
    # Facts sheet §6: 10 access tokens per refresh token per 10 minutes; 20 refresh tokens per user and client.
    assert (MINT_LIMIT, MINT_WINDOW, REFRESH_TOKEN_CAP) == (10, 600, 20)
    assert CAP_WARNING_FROM == 18


def test_a_mint_counts_for_exactly_ten_minutes() -> None:
    entries = [{"at": T0, "id": "a"}]
    assert mint_window(entries, T0 + 599).mints == 1
    assert mint_window(entries, T0 + 600).mints == 0  # Zoho's window: a mint at T counts while now < T + 600
    assert mint_window(entries, T0 + 10).frees_at == T0 + 600
    assert mint_window([], T0).frees_at is None


def test_the_window_is_full_at_ten_and_opens_when_its_oldest_leaves() -> None:
    entries = [{"at": T0 + i * 10, "id": str(i)} for i in range(MINT_LIMIT)]
    state = mint_window(entries, T0 + 100)
    assert state.mints == 10 and state.full
    assert state.frees_at == T0 + 600 and state.opens_at == T0 + 600
    assert not mint_window(entries, T0 + 600).full  # the first one left: one slot free
    assert mint_window(entries[:9], T0 + 100).full is False


def test_more_than_ten_counted_opens_when_enough_have_left() -> None:
    # Two attempts of one refresh (a retry after a lost answer) both count: the window opens once two have left.
    entries = [{"at": T0 + i, "id": str(i)} for i in range(MINT_LIMIT + 1)]
    state = mint_window(entries, T0 + 20)
    assert state.mints == 11 and state.full
    assert state.opens_at == T0 + 1 + MINT_WINDOW


def test_zohos_own_throttle_blocks_until_its_time() -> None:
    state = mint_window([], T0, blocked_until=T0 + 300)
    assert state.full and state.opens_at == T0 + 300 and state.blocked_until == T0 + 300
    assert not mint_window([], T0 + 300, blocked_until=T0 + 300).full


def test_pruning_drops_old_and_unreadable_entries() -> None:
    entries = [{"at": T0 - 601, "id": "old"}, {"at": T0 - 5, "id": "new"}, {"at": "soon"}, "garbage", {"id": "no time"}]
    assert pruned(entries, T0) == [{"at": T0 - 5, "id": "new"}]
    assert pruned("not a list", T0) == []
    assert mint_window(entries, T0).mints == 1


def test_the_refusal_says_when_the_window_frees_how_min_ttl_avoids_it_and_that_nothing_was_sent() -> None:
    entries = [{"at": T0 + i, "id": str(i)} for i in range(MINT_LIMIT)]
    state = mint_window(entries, T0 + 100)
    error = mint_refusal(state, T0 + 100, refresh_fp=RT_FP, where="/x/tokens.json", reusable_until=T0 + 3000)
    assert isinstance(error, ZohoMintLimitError) and isinstance(error, ZohoLimitError) and isinstance(error, ZohoOAuthError)
    assert not error.outcome_unknown
    msg = error.msg
    assert "Nothing was sent" in msg
    assert f"epoch {T0 + 600}" in msg and "in 500 s" in msg
    assert "`min_ttl`" in msg and "10 access tokens per refresh token per 10 minutes" in msg
    assert "lower bound" in msg  # the apps on the hosts mint too, unseen
    assert f"{RT_FP[:12]}" in msg and RT not in msg and RT_FP not in msg  # a short fingerprint, never the token
    assert f"epoch {T0 + 3000}" in msg  # the access token still held, which a smaller min_ttl would reuse
    assert error.fail_kwargs()["mints_in_window"] == 10
    assert error.fail_kwargs()["window_frees_at"] == T0 + 600 and error.fail_kwargs()["window_frees_in"] == 500


def test_a_refusal_after_zohos_throttle_says_zoho_refused() -> None:
    state = mint_window([], T0, blocked_until=T0 + 450)
    error = mint_refusal(state, T0 + 50, refresh_fp=RT_FP, where="memory://x")
    assert "Zoho refused" in error.msg and f"epoch {T0 + 450}" in error.msg and "in 400 s" in error.msg


# -- the refresh-token cap, as pure logic --------------------------------------------------------------


def live(count: int) -> list[tuple[str, int]]:
    return [(f"{i:064x}", T0 + i) for i in range(count)]


@pytest.mark.parametrize("count", [0, 5, CAP_WARNING_FROM - 2])
def test_no_warning_well_below_the_cap(count: int) -> None:
    assert cap_check(live(count), 0, allow_eviction=False, client=IDENTITY, where="w") is None


@pytest.mark.parametrize("count", [CAP_WARNING_FROM - 1, REFRESH_TOKEN_CAP - 2, REFRESH_TOKEN_CAP - 1])
def test_a_warning_as_the_count_approaches_twenty(count: int) -> None:
    warning = cap_check(live(count), 0, allow_eviction=False, client=IDENTITY, where="w")
    assert warning is not None and f"{count + 1} live refresh tokens" in warning and "20" in warning
    assert "Connected Apps" in warning and "zohothrive.oauth.zoho_thrive_revoke" in warning


def test_the_exchange_that_would_make_a_twenty_first_is_refused() -> None:
    with pytest.raises(ZohoRefreshTokenCapError) as info:
        cap_check(live(REFRESH_TOKEN_CAP), 0, allow_eviction=False, client=IDENTITY, where="/x/tokens.json")
    msg = info.value.msg
    assert "`allow_refresh_token_eviction`" in msg and "Connected Apps" in msg and "zohothrive.oauth.zoho_thrive_revoke" in msg
    assert "21" in msg and "silently" in msg and "Nothing was sent" in msg and "still unused" in msg
    assert f"{0:064x}"[:12] in msg  # the oldest, the one Zoho would delete
    assert info.value.fail_kwargs()["live_refresh_tokens"] == REFRESH_TOKEN_CAP


def test_exchanges_in_flight_elsewhere_count_toward_the_cap() -> None:
    with pytest.raises(ZohoRefreshTokenCapError, match="in flight"):
        cap_check(live(REFRESH_TOKEN_CAP - 1), 1, allow_eviction=False, client=IDENTITY, where="w")


def test_with_the_option_the_eviction_is_allowed_with_a_warning() -> None:
    warning = cap_check(live(REFRESH_TOKEN_CAP), 0, allow_eviction=True, client=IDENTITY, where="w")
    assert warning is not None and "`allow_refresh_token_eviction`" in warning and "deletes the oldest" in warning
    assert f"{0:064x}"[:12] in warning


def test_counts_become_result_fields() -> None:
    assert Counts().result_fields() == {}
    assert Counts(mints_in_window=3, window_frees_at=T0).result_fields() == {"mints_in_window": 3, "window_frees_at": T0}
    assert Counts(mints_in_window=0, window_frees_at=None, live_refresh_tokens=2).result_fields() == {
        "mints_in_window": 0,
        "window_frees_at": None,
        "live_refresh_tokens": 2,
    }


# -- the counters in the token store -------------------------------------------------------------------


def test_ten_reservations_then_a_local_refusal_that_writes_nothing(path: str, clock: Clock) -> None:
    cache = store(path, clock)
    with cache.locked():
        for _number in range(MINT_LIMIT):
            cache.reserve_mint(RT)
            clock.advance(1)
    before = open(path, "rb").read()
    with store(path, clock).locked() as again, pytest.raises(ZohoMintLimitError):
        again.reserve_mint(RT)
    assert open(path, "rb").read() == before
    assert len(mints_of(on_disk(path))) == MINT_LIMIT
    assert RT not in open(path, encoding="utf-8").read()  # keyed by fingerprint only


def test_the_window_slides_and_old_mints_are_pruned(path: str, clock: Clock) -> None:
    with store(path, clock).locked() as cache:
        for _number in range(MINT_LIMIT):
            cache.reserve_mint(RT)
    clock.advance(MINT_WINDOW)
    with store(path, clock).locked() as cache:
        assert cache.mint_window(RT).mints == 0
        cache.reserve_mint(RT)
    assert [entry["at"] for entry in mints_of(on_disk(path))] == [T0 + MINT_WINDOW]  # the old ones are gone


def test_a_released_reservation_frees_its_slot(path: str, clock: Clock) -> None:
    with store(path, clock).locked() as cache:
        reservation = cache.reserve_mint(RT)
        assert cache.release_mint(RT, reservation) is True
        assert cache.release_mint(RT, reservation) is False
        assert cache.mint_window(RT).mints == 0


def test_a_settled_mint_counts_from_when_zoho_answered(path: str, clock: Clock) -> None:
    with store(path, clock).locked() as cache:
        reservation = cache.reserve_mint(RT)
        clock.advance(25.2)  # the answer came late: Zoho may have minted at any moment until now
        cache.remember_access_token(RT, TokenSet(access_token=sentinel("a"), expires_in=3600, expires_at=T0 + 3600), settle=[reservation])
    assert [entry["at"] for entry in mints_of(on_disk(path))] == [T0 + 26]  # rounded up: never earlier than Zoho's


def test_an_exchange_counts_as_one_mint_and_one_live_refresh_token(path: str, clock: Clock) -> None:
    tokens = issued(RT)
    with store(path, clock).locked() as cache:
        cache.finish_exchange(fingerprint("code"), tokens, identity=IDENTITY, exchanged=True)
        assert cache.mint_window(RT).mints == 1
        assert cache.live_refresh_tokens(IDENTITY) == [(RT_FP, T0)]
        assert cache.counts(RT, IDENTITY) == Counts(mints_in_window=1, window_frees_at=T0 + 600, live_refresh_tokens=1)


def test_finish_exchange_without_the_new_keywords_counts_nothing(path: str, clock: Clock) -> None:
    tokens = issued(RT)
    with store(path, clock).locked() as cache:
        cache.finish_exchange(fingerprint("code"), tokens)
        assert cache.mint_window(RT).mints == 0 and cache.live_refresh_tokens(IDENTITY) == []
    assert "limits" not in on_disk(path)  # an existing caller's document keeps its shape


def test_zoho_knows_at_most_twenty_so_an_allowed_eviction_forgets_the_oldest(path: str, clock: Clock) -> None:
    with store(path, clock).locked() as cache:
        for number in range(REFRESH_TOKEN_CAP + 1):
            cache.finish_exchange(fingerprint(f"code{number}"), issued(RT if number == 0 else None), identity=IDENTITY, exchanged=True)
            clock.advance(1)
        known = cache.live_refresh_tokens(IDENTITY)
    assert len(known) == REFRESH_TOKEN_CAP and RT_FP not in dict(known)


def test_revoking_through_the_store_forgets_the_live_token_and_its_window(path: str, clock: Clock) -> None:
    tokens = issued(RT)
    with store(path, clock).locked() as cache:
        cache.finish_exchange(fingerprint("code"), tokens, identity=IDENTITY, exchanged=True)
        assert cache.forget_refresh_token(RT) is True
        assert cache.live_refresh_tokens(IDENTITY) == [] and cache.mint_window(RT).mints == 0
    assert RT_FP not in json.dumps(on_disk(path)["limits"])


def test_a_token_zoho_reports_invalid_leaves_only_its_clients_count(path: str, clock: Clock) -> None:
    other = "1000.OTHER@https://accounts.zoho.com"
    tokens = issued(RT)
    with store(path, clock).locked() as cache:
        cache.finish_exchange(fingerprint("code"), tokens, identity=IDENTITY, exchanged=True)
        cache.finish_exchange(fingerprint("code2"), tokens, identity=other, exchanged=True)
        assert cache.forget_live_refresh_token(IDENTITY, RT) is True
        assert cache.forget_live_refresh_token(IDENTITY, RT) is False
        assert cache.live_refresh_tokens(IDENTITY) == [] and len(cache.live_refresh_tokens(other)) == 1


def test_pending_exchanges_are_recent_in_flight_records_of_the_same_client(path: str, clock: Clock) -> None:
    with store(path, clock).locked() as cache:
        cache.begin_exchange(fingerprint("a"), accounts_url=ACCOUNTS, client_id=CLIENT_ID)
        cache.begin_exchange(fingerprint("b"), accounts_url="https://accounts.zoho.com", client_id=CLIENT_ID)
        cache.begin_exchange(fingerprint("c"), accounts_url=ACCOUNTS, client_id="1000.OTHER")
        assert cache.pending_exchanges(CLIENT_ID, ACCOUNTS) == 1
        clock.advance(_limits.PENDING_EXCHANGE_SECONDS)
        assert cache.pending_exchanges(CLIENT_ID, ACCOUNTS) == 0  # an attempt that long dead is no longer counted


def test_a_guard_refuses_the_in_flight_record_on_the_document_it_was_decided_on(path: str, clock: Clock) -> None:
    def refuse() -> None:
        raise ZohoRefreshTokenCapError("no")

    with store(path, clock).locked() as cache:
        with pytest.raises(ZohoRefreshTokenCapError):
            cache.begin_exchange(fingerprint("a"), accounts_url=ACCOUNTS, client_id=CLIENT_ID, guard=refuse)
        assert cache.code_entry(fingerprint("a")) is None


def test_a_store_without_limits_reads_as_empty_and_a_damaged_section_is_refused(path: str, clock: Clock) -> None:
    cache = store(path, clock)
    cache.backend._ensure_directory()  # type: ignore[attr-defined]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"format": "zohothrive.oauth token cache", "version": 1, "codes": {}}, handle)
    assert cache.load().mint_window(RT).mints == 0 and cache.live_refresh_tokens(IDENTITY) == []
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"format": "zohothrive.oauth token cache", "version": 1, "codes": {}, "limits": []}, handle)
    with pytest.raises(ZohoOAuthError, match="not a valid zohothrive.oauth token cache"):
        store(path, clock).load()


# -- check-and-set: the check and the count on one document version ------------------------------------------


def test_two_controllers_cannot_both_take_the_tenth_slot(clock: Clock) -> None:
    backend = MemoryBackend()
    seeding = TokenCache(backend=backend, clock=clock)
    for _number in range(MINT_LIMIT - 1):
        seeding.reserve_mint(RT)
    first, second = TokenCache(backend=backend, clock=clock), TokenCache(backend=backend, clock=clock)
    first.load()
    second.load()  # both saw nine: one slot left
    first.reserve_mint(RT)
    writes = backend.writes
    with pytest.raises(ZohoMintLimitError):
        second.reserve_mint(RT)  # its write conflicts, the document is read again, and the decision is made again
    assert backend.writes == writes
    assert len(mints_of(backend.document)) == MINT_LIMIT


def test_a_conflicting_write_of_the_tenth_slot_is_re_decided(clock: Clock) -> None:
    backend = MemoryBackend()
    seeding = TokenCache(backend=backend, clock=clock)
    for _number in range(MINT_LIMIT - 1):
        seeding.reserve_mint(RT)
    other = TokenCache(backend=backend, clock=clock)
    mine = TokenCache(backend=backend, clock=clock)
    mine.load()
    other.load()
    backend.before_write = lambda: other.reserve_mint(RT)  # the other controller writes between our read and our write
    with pytest.raises(ZohoMintLimitError):
        mine.reserve_mint(RT)
    assert len(mints_of(backend.document)) == MINT_LIMIT


def test_two_controllers_cannot_both_make_the_twentieth_refresh_token(clock: Clock) -> None:
    backend = MemoryBackend()
    seed_live(TokenCache(backend=backend, clock=clock), REFRESH_TOKEN_CAP - 1)
    session = FakeSession()
    second = ZohoOAuthClient(ACCOUNTS, client_id=CLIENT_ID, client_secret=SECRET, session=session, sleep=Recorder())
    code_one, code_two = sentinel("code"), sentinel("code")
    mine = TokenCache(backend=backend, clock=clock)

    def other_claims_first() -> None:  # the other controller records its in-flight exchange between our read and our write
        TokenCache(backend=backend, clock=clock).begin_exchange(fingerprint(code_one), accounts_url=ACCOUNTS, client_id=CLIENT_ID)

    backend.before_write = other_claims_first
    with pytest.raises(ZohoRefreshTokenCapError) as info:
        exchange_code(second, code_two, cache=mine, check_mode=False)
    assert "in flight" in info.value.msg
    assert session.calls == []  # never sent: the code is still usable
    assert fingerprint(code_two) not in (backend.document or {})["codes"]
    assert (backend.document or {})["codes"][fingerprint(code_one)]["state"] == IN_FLIGHT


# -- the flows: mint, refuse, count -------------------------------------------------------------------------


def test_the_eleventh_mint_is_refused_locally_and_never_sent(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    for number in range(MINT_LIMIT):
        session.add(minted())
        outcome = ensure_access_token(client, RT, cache=store(path, clock), min_ttl=3700, check_mode=False)  # never fresh enough
        assert outcome.changed and outcome.limits == Counts(mints_in_window=number + 1, window_frees_at=T0 + 600)
        clock.advance(30)
    with pytest.raises(ZohoMintLimitError) as info:
        ensure_access_token(client, RT, cache=store(path, clock), min_ttl=3700, check_mode=False)
    assert len(session.calls) == MINT_LIMIT  # the fake would fail the test on an eleventh request
    assert f"epoch {T0 + 600}" in info.value.msg and "in 300 s" in info.value.msg
    clock.advance(300)
    session.add(minted())
    assert ensure_access_token(client, RT, cache=store(path, clock), min_ttl=3700, check_mode=False).changed
    assert len(session.calls) == MINT_LIMIT + 1


def test_reusing_a_token_by_min_ttl_costs_no_slot(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    session.add(minted())
    ensure_access_token(client, RT, cache=store(path, clock), min_ttl=300, check_mode=False)
    for _number in range(20):
        outcome = ensure_access_token(client, RT, cache=store(path, clock), min_ttl=300, check_mode=False)
        assert not outcome.changed and outcome.limits is not None and outcome.limits.mints_in_window == 1
    assert len(session.calls) == 1


def test_the_exchange_counts_as_the_first_mint(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    code = sentinel("code")
    session.add(exchanged())
    outcome = exchange_code(client, code, cache=store(path, clock), check_mode=False)
    assert outcome.limits == Counts(mints_in_window=1, window_frees_at=T0 + 600, live_refresh_tokens=1)
    for _number in range(MINT_LIMIT - 1):
        session.add(minted())
        ensure_access_token(client, RT, cache=store(path, clock), min_ttl=3700, check_mode=False)
    with pytest.raises(ZohoMintLimitError):
        ensure_access_token(client, RT, cache=store(path, clock), min_ttl=3700, check_mode=False)
    assert len(session.calls) == MINT_LIMIT


def test_check_mode_predicts_the_refusal_and_records_nothing(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    with store(path, clock).locked() as cache:
        for _number in range(MINT_LIMIT - 1):
            cache.reserve_mint(RT)
    before = open(path, "rb").read()
    predicted = ensure_access_token(client, RT, cache=store(path, clock), min_ttl=3700, check_mode=True)
    assert predicted.changed and predicted.tokens is None and predicted.limits is not None and predicted.limits.mints_in_window == 9
    with store(path, clock).locked() as cache:
        cache.reserve_mint(RT)
    before = open(path, "rb").read()
    with pytest.raises(ZohoMintLimitError):
        ensure_access_token(client, RT, cache=store(path, clock), min_ttl=3700, check_mode=True)
    assert open(path, "rb").read() == before and session.calls == []


def test_zohos_throttle_answer_blocks_the_token_until_its_window_ends(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    # The apps on the hosts minted too, unseen: Zoho's own count is higher than the store's.
    session.add(json_response({"error": "Access Denied", "error_description": "too many requests", "status": "failure"}))
    with pytest.raises(ZohoThrottledError) as info:
        ensure_access_token(client, RT, cache=store(path, clock), min_ttl=300, check_mode=False)
    assert f"until epoch {T0 + 600}" in info.value.msg
    clock.advance(599)
    with pytest.raises(ZohoMintLimitError, match="Zoho refused"):
        ensure_access_token(client, RT, cache=store(path, clock), min_ttl=300, check_mode=False)
    assert len(session.calls) == 1
    clock.advance(1)
    session.add(minted())
    assert ensure_access_token(client, RT, cache=store(path, clock), min_ttl=300, check_mode=False).changed


def test_a_refusal_by_zoho_frees_the_slot_and_an_unknown_outcome_keeps_it(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    session.add(json_response({"error": "invalid_client"}))
    with pytest.raises(ZohoOAuthError):
        ensure_access_token(client, RT, cache=store(path, clock), min_ttl=300, check_mode=False)
    assert store(path, clock).load().mint_window(RT).mints == 0  # Zoho refused: nothing was minted
    no_retry = ZohoOAuthClient(ACCOUNTS, client_id=CLIENT_ID, client_secret=SECRET, session=session, retry=NO_RETRY)
    session.add(read_timeout())
    with pytest.raises(ZohoOAuthError) as info:
        ensure_access_token(no_retry, RT, cache=store(path, clock), min_ttl=300, check_mode=False)
    assert info.value.outcome_unknown
    assert store(path, clock).load().mint_window(RT).mints == 1  # Zoho may have minted: it counts


def test_every_attempt_of_a_retried_refresh_takes_a_slot(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    session.add(json_response({}, status=503), minted())
    outcome = ensure_access_token(client, RT, cache=store(path, clock), min_ttl=300, check_mode=False)
    assert outcome.changed and len(session.calls) == 2
    assert outcome.limits is not None and outcome.limits.mints_in_window == 2  # the first may have been processed


def test_a_retry_is_refused_locally_when_the_window_fills(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    with store(path, clock).locked() as cache:
        for _number in range(MINT_LIMIT - 1):
            cache.reserve_mint(RT)
    session.add(json_response({}, status=503))
    with pytest.raises(ZohoMintLimitError):
        ensure_access_token(client, RT, cache=store(path, clock), min_ttl=300, check_mode=False)
    assert len(session.calls) == 1 and store(path, clock).load().mint_window(RT).mints == MINT_LIMIT


def test_a_refresh_token_zoho_reports_invalid_leaves_the_live_count(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    session.add(exchanged())
    result = ensure_credentials(client, store(path, clock), code=sentinel("code"), min_ttl=300)
    assert result.limits is not None and result.limits.live_refresh_tokens == 1
    session.add(json_response({"error": "invalid_code"}))
    with pytest.raises(ZohoInvalidCodeError):
        ensure_credentials(client, store(path, clock), code=None, min_ttl=3700)
    assert store(path, clock).load().live_refresh_tokens(IDENTITY) == []


def test_the_twenty_first_refresh_token_is_refused_unless_allowed(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    for _number in range(REFRESH_TOKEN_CAP):
        session.add(exchanged(sentinel("refresh")))
        result = ensure_credentials(client, store(path, clock), code=sentinel("code"), min_ttl=300)
        clock.advance(60)
    assert result.limits is not None and result.limits.live_refresh_tokens == REFRESH_TOKEN_CAP
    assert any("20 live refresh tokens" in warning for warning in result_warnings(result))
    oldest = store(path, clock).load().live_refresh_tokens(IDENTITY)[0][0]
    code = sentinel("code")
    for check_mode in (True, False):
        with pytest.raises(ZohoRefreshTokenCapError) as info:
            ensure_credentials(client, store(path, clock), code=code, min_ttl=300, check_mode=check_mode)
        assert oldest[:12] in info.value.msg and "`allow_refresh_token_eviction`" in info.value.msg
    assert len(session.calls) == REFRESH_TOKEN_CAP
    assert fingerprint(code) not in on_disk(path)["codes"]  # no in-flight record: the code is still unused
    session.add(exchanged(sentinel("refresh")))
    allowed = ensure_credentials(client, store(path, clock), code=code, min_ttl=300, allow_refresh_token_eviction=True)
    assert allowed.exchanged and any("`allow_refresh_token_eviction`" in warning and oldest[:12] in warning for warning in allowed.warnings)
    assert allowed.limits is not None and allowed.limits.live_refresh_tokens == REFRESH_TOKEN_CAP
    assert oldest not in dict(store(path, clock).load().live_refresh_tokens(IDENTITY))


def test_the_stand_alone_exchange_warns_and_refuses_like_the_role(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    with store(path, clock).locked() as cache:
        seed_live(cache, CAP_WARNING_FROM - 1)
    predicted = exchange_code(client, sentinel("code"), cache=store(path, clock), check_mode=True)
    assert predicted.changed and any(f"{CAP_WARNING_FROM} live refresh tokens" in warning for warning in predicted.warnings)
    session.add(exchanged(sentinel("refresh")))
    outcome = exchange_code(client, sentinel("code"), cache=store(path, clock), check_mode=False)
    assert outcome.limits is not None and outcome.limits.live_refresh_tokens == CAP_WARNING_FROM
    assert any(f"{CAP_WARNING_FROM} live refresh tokens" in warning for warning in outcome.warnings)


def test_a_refusal_leaves_no_secret_in_the_message(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    with store(path, clock).locked() as cache:
        for _number in range(MINT_LIMIT):
            cache.reserve_mint(RT)
    with pytest.raises(ZohoMintLimitError) as info:
        ensure_access_token(client, RT, cache=store(path, clock), min_ttl=3700, check_mode=False)
    for secret in (RT, SECRET):
        assert secret not in info.value.msg and secret not in json.dumps(info.value.fail_kwargs())


def test_an_exchange_whose_outcome_is_unknown_still_counts_as_pending(client: ZohoOAuthClient, session: FakeSession, path: str, clock: Clock) -> None:
    session.add(read_timeout())
    with pytest.raises(ZohoCodeMayBeSpentError):
        exchange_code(client, sentinel("code"), cache=store(path, clock), check_mode=False)
    assert store(path, clock).load().pending_exchanges(CLIENT_ID, ACCOUNTS) == 1


def test_the_clock_of_the_tests_is_not_the_wall_clock() -> None:
    assert abs(T0 - time.time()) > MINT_WINDOW  # a test that forgot the fake clock would not pass by accident
