# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A shared token store (issue 8): check-and-set writes, re-decided on conflict; exactly one controller sends a code.

The backend here keeps its document in memory with a version number, which is all a
check-and-set store is. The same behaviours run against a real OpenBao server in the contract
suite; these tests pin the decisions of the core, deterministically, step by step.
"""

from __future__ import annotations

import copy
import json
import time
import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import TokenSet, ZohoOAuthClient
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoCodeMayBeSpentError, ZohoInvalidCodeError, ZohoTokenStoreError
from ansible_collections.zohothrive.oauth.plugins.module_utils._flows import SOURCE_CACHE, exchange_code
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import (
    CAS_ATTEMPTS,
    DONE,
    IN_FLIGHT,
    CodeClaimedElsewhere,
    StoreBackend,
    StoreConflict,
    TokenCache,
)
from ansible_collections.zohothrive.oauth.tests.unit.fakes import FakeSession, Recorder, json_response, sentinel, token_payload

SECRET = sentinel("secret")
CODE = sentinel("code")
CODE_FP = fingerprint(CODE)
AT = sentinel("access")
RT = sentinel("refresh")
ACCOUNTS = "https://accounts.zoho.eu"


class MemoryBackend(StoreBackend):
    """A check-and-set store in memory: a document and its version, as KV version 2 keeps them."""

    shared = True
    where = "memory://test"

    def __init__(self) -> None:
        self.document: dict[str, t.Any] | None = None
        self.version = 0
        self.writes = 0
        self.summaries: list[dict[str, t.Any]] = []
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
        self.summaries.append(summary)
        return self.version


def tokens(access: str = AT, refresh: str | None = RT) -> TokenSet:
    return TokenSet(access_token=access, refresh_token=refresh, expires_in=3600, expires_at=int(time.time()) + 3600, api_domain="https://www.zohoapis.eu")


def controller(backend: MemoryBackend, sleep: t.Callable[[float], None] | None = None) -> TokenCache:
    return TokenCache(backend=backend, sleep=sleep or Recorder())


def test_a_conflict_is_re_read_and_re_decided_never_written_over() -> None:
    backend = MemoryBackend()
    first, second = controller(backend), controller(backend)
    with first.locked():
        first.set_current_code("client@server", "a" * 64)
    with second.locked():  # read now, before the other write below
        backend.before_write = lambda: controller(backend).add_replaced("client@server", ["old-token"])
        second.record_deployments("client@server", {"app1": "f" * 64}, census=False)
    stored = backend.document
    assert stored is not None
    assert stored["replaced"]["client@server"] == ["old-token"]  # the other controller's write survived
    assert stored["current"]["client@server"] == "a" * 64
    assert stored["deployments"]["client@server"]["hosts"]["app1"][""]["refresh_fp"] == "f" * 64


def test_exactly_one_controller_wins_the_in_flight_record() -> None:
    backend = MemoryBackend()
    winner, loser = controller(backend), controller(backend)
    winner.load()
    loser.load()  # both saw an empty store
    winner.begin_exchange(CODE_FP, accounts_url=ACCOUNTS, client_id="1000.ID")
    with pytest.raises(CodeClaimedElsewhere, match="Another controller recorded this grant code"):
        loser.begin_exchange(CODE_FP, accounts_url=ACCOUNTS, client_id="1000.ID")
    assert backend.document is not None and backend.document["codes"][CODE_FP]["state"] == IN_FLIGHT
    loser.abandon_exchange(CODE_FP)  # not its record: it stays
    assert CODE_FP in backend.document["codes"]
    winner.abandon_exchange(CODE_FP)
    assert CODE_FP not in backend.document["codes"]


def test_the_loser_of_the_race_waits_for_the_winners_tokens_and_sends_nothing() -> None:
    backend = MemoryBackend()
    other = controller(backend)
    other.load()
    other.begin_exchange(CODE_FP, accounts_url=ACCOUNTS, client_id="1000.ID")  # the winner is sending the code
    session = FakeSession()
    client = ZohoOAuthClient(ACCOUNTS, client_id="1000.ID", client_secret=SECRET, session=session, sleep=Recorder())

    def sleep(_seconds: float) -> None:
        other.finish_exchange(CODE_FP, tokens())  # the winner's answer arrives while this one waits

    outcome = exchange_code(client, CODE, cache=controller(backend, sleep=sleep), check_mode=False)
    assert session.calls == []  # never sent from here
    assert (outcome.changed, outcome.source) == (False, SOURCE_CACHE)
    assert outcome.tokens is not None and outcome.tokens.refresh_token == RT


def test_the_loser_that_races_at_the_write_waits_too() -> None:
    backend = MemoryBackend()
    session = FakeSession()
    client = ZohoOAuthClient(ACCOUNTS, client_id="1000.ID", client_secret=SECRET, session=session, sleep=Recorder())
    other = controller(backend)

    def other_claims_first() -> None:
        other.load()
        other.begin_exchange(CODE_FP, accounts_url=ACCOUNTS, client_id="1000.ID")

    backend.before_write = other_claims_first
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        other.finish_exchange(CODE_FP, tokens())

    outcome = exchange_code(client, CODE, cache=controller(backend, sleep=sleep), check_mode=False)
    assert session.calls == []
    assert waited and outcome.tokens is not None and outcome.tokens.access_token == AT


def test_a_winner_that_never_finishes_leaves_the_code_unsent_and_says_so() -> None:
    backend = MemoryBackend()
    other = controller(backend)
    other.load()
    other.begin_exchange(CODE_FP, accounts_url=ACCOUNTS, client_id="1000.ID")
    session = FakeSession()
    client = ZohoOAuthClient(ACCOUNTS, client_id="1000.ID", client_secret=SECRET, session=session, sleep=Recorder(), timeout=5)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    cache = TokenCache(backend=backend, sleep=sleep, monotonic=lambda: now[0])
    with pytest.raises(ZohoCodeMayBeSpentError, match="not sent again"):
        exchange_code(client, CODE, cache=cache, check_mode=False)
    assert session.calls == []
    assert 60.0 <= now[0] <= 62.0  # a bounded wait: at least a minute (two requests of 5 s would be less)


def test_when_the_winner_gives_its_claim_up_this_controller_claims_the_code_and_zoho_decides() -> None:
    """Zoho refused the winner's request, maybe for the winner's own wrong secret: the code may still work, so it is tried once from here."""
    backend = MemoryBackend()
    other = controller(backend)
    other.load()
    other.begin_exchange(CODE_FP, accounts_url=ACCOUNTS, client_id="1000.ID")
    session = FakeSession()
    session.add(json_response({"error": "invalid_code"}))  # the code was spent after all: Zoho's own answer reaches the operator
    client = ZohoOAuthClient(ACCOUNTS, client_id="1000.ID", client_secret=SECRET, session=session, sleep=Recorder())
    cache = controller(backend, sleep=lambda _seconds: other.abandon_exchange(CODE_FP))
    with pytest.raises(ZohoInvalidCodeError, match="Zoho rejected the grant code"):
        exchange_code(client, CODE, cache=cache, check_mode=False)
    assert len(session.calls) == 1
    assert backend.document is not None and CODE_FP not in backend.document["codes"]  # refused: nothing stays recorded


def test_when_the_winner_gives_its_claim_up_a_still_valid_code_is_exchanged_here() -> None:
    backend = MemoryBackend()
    other = controller(backend)
    other.load()
    other.begin_exchange(CODE_FP, accounts_url=ACCOUNTS, client_id="1000.ID")
    session = FakeSession()
    session.add(json_response(token_payload(access_token=AT, refresh_token=RT, api_domain="https://www.zohoapis.eu")))
    client = ZohoOAuthClient(ACCOUNTS, client_id="1000.ID", client_secret=SECRET, session=session, sleep=Recorder())
    cache = controller(backend, sleep=lambda _seconds: other.abandon_exchange(CODE_FP))
    outcome = exchange_code(client, CODE, cache=cache, check_mode=False)
    assert outcome.tokens is not None and outcome.tokens.refresh_token == RT and len(session.calls) == 1
    assert backend.document is not None and backend.document["codes"][CODE_FP]["state"] == DONE


def test_the_winner_exchanges_once_and_writes_back_the_documented_fields() -> None:
    backend = MemoryBackend()
    session = FakeSession()
    session.add(json_response(token_payload(access_token=AT, refresh_token=RT, api_domain="https://www.zohoapis.eu")))
    client = ZohoOAuthClient(ACCOUNTS, client_id="1000.ID", client_secret=SECRET, session=session, sleep=Recorder())
    cache = controller(backend)
    outcome = exchange_code(client, CODE, cache=cache, check_mode=False)
    assert len(session.calls) == 1 and outcome.tokens is not None
    assert backend.document is not None and backend.document["codes"][CODE_FP]["state"] == DONE
    with cache.locked():
        cache.set_current_code("1000.ID@" + ACCOUNTS, CODE_FP)
    summary = backend.summaries[-1]
    assert {key: summary[key] for key in ("refresh_token", "access_token", "api_domain", "code_fingerprint", "client_id")} == {
        "refresh_token": RT,
        "access_token": AT,
        "api_domain": "https://www.zohoapis.eu",
        "code_fingerprint": CODE_FP,
        "client_id": "1000.ID",
    }
    assert CODE not in json.dumps(backend.document) and SECRET not in json.dumps(backend.document) + json.dumps(summary)


def test_a_store_that_keeps_changing_gives_up_cleanly() -> None:
    class Busy(MemoryBackend):
        def write(self, document: dict[str, t.Any], version: t.Any, summary: dict[str, t.Any]) -> t.Any:
            raise StoreConflict()

    busy = Busy()
    cache = controller(busy)
    with pytest.raises(ZohoTokenStoreError, match=f"changed under this run {CAS_ATTEMPTS} times"):
        cache.set_current_code("client@server", "a" * 64)
    assert busy.document is None
