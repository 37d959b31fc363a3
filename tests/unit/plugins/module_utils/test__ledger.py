# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The deployment ledger: what the token cache records, and when a replaced refresh token may be revoked."""

from __future__ import annotations

import json
import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import TokenSet
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInputError, ZohoTokenStoreError
from ansible_collections.zohothrive.oauth.plugins.module_utils._ledger import (
    REASON_HELD,
    REASON_LIMITED,
    REASON_UNCONFIRMED,
    check_fingerprints,
    describe,
    is_census,
    ledger_identity,
    plan,
    plan_from_cache,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import TokenCache
from ansible_collections.zohothrive.oauth.tests.unit.fakes import sentinel

IDENTITY = ledger_identity("1000.ID", "https://accounts.zoho.eu")
OLD = sentinel("refresh")
NEW = sentinel("refresh")
OLD_FP = fingerprint(OLD)
NEW_FP = fingerprint(NEW)
H = ["h1", "h2", "h3"]


def on_disk(path: str) -> dict[str, t.Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def decide(pending: t.Sequence[str] = (OLD,), **overrides: t.Any) -> t.Any:
    options: dict[str, t.Any] = {
        "rows": {},
        "followed": set(),
        "inventory_hosts": H,
        "play_hosts": H,
        "recorded_hosts": H,
        "limited": False,
    }
    options.update(overrides)
    return plan(pending, **options)


# -- identity and input checks -----------------------------------------------------------------


def test_identity_is_the_one_the_flows_use() -> None:
    assert ledger_identity("1000.ID", "https://accounts.zoho.eu") == "1000.ID@https://accounts.zoho.eu"
    assert ledger_identity(None, "https://accounts.zoho.com") == "None@https://accounts.zoho.com"


def test_fingerprints_are_checked_and_empty_ones_dropped() -> None:
    assert check_fingerprints({"h1": NEW_FP.upper(), "h2": "", "h3": None}) == {"h1": NEW_FP}


def test_a_token_passed_as_fingerprint_is_refused_without_being_repeated() -> None:
    with pytest.raises(ZohoInputError) as info:
        check_fingerprints({"h1": NEW})
    assert "h1" in info.value.msg and "never the token itself" in info.value.msg
    assert NEW not in info.value.msg


def test_census_needs_every_play_host_and_no_limit() -> None:
    assert is_census(play_hosts=H, recorded_hosts=H, limited=False)
    assert not is_census(play_hosts=H, recorded_hosts=H, limited=True)
    assert not is_census(play_hosts=H, recorded_hosts=H[:2], limited=False)


# -- the decision --------------------------------------------------------------------------------


def test_issue_limit_h1_defers_while_h2_and_h3_hold_the_old_token() -> None:
    """Code A on h1..h3, then code B with --limit h1: the old token waits, naming h2 and h3."""
    result = decide(rows={"h1": NEW_FP, "h2": OLD_FP, "h3": OLD_FP}, followed={OLD_FP}, play_hosts=["h1"], recorded_hosts=["h1"], limited=True)
    (decision,) = result.decisions
    assert not decision.revocable and decision.reason == REASON_HELD and decision.hosts == ("h2", "h3")
    assert decision.fingerprint == OLD_FP and OLD not in repr(decision) and OLD not in json.dumps(decision.as_dict())


def test_a_later_full_run_completes_the_revoke() -> None:
    result = decide(rows=dict.fromkeys(H, NEW_FP), followed={OLD_FP, NEW_FP})
    assert [d.fingerprint for d in result.revocable] == [OLD_FP] and result.deferred == []


def test_a_followed_token_no_host_holds_is_revoked_even_by_a_limited_run() -> None:
    """After the deferral, --limit h2,h3 brings the last holders to the new token: the ledger vouches for the rest."""
    result = decide(rows=dict.fromkeys(H, NEW_FP), followed={OLD_FP}, play_hosts=["h2", "h3"], recorded_hosts=["h2", "h3"], limited=True)
    assert result.revocable and not result.census


def test_a_host_outside_the_play_that_holds_it_blocks() -> None:
    result = decide(rows={"h1": NEW_FP, "h2": NEW_FP, "h3": OLD_FP}, followed={OLD_FP}, play_hosts=["h1", "h2"], recorded_hosts=["h1", "h2"])
    assert result.deferred[0].hosts == ("h3",)


def test_an_unreachable_or_failed_host_still_recorded_with_it_blocks() -> None:
    result = decide(rows={"h1": NEW_FP, "h2": NEW_FP, "h3": OLD_FP}, followed={OLD_FP}, recorded_hosts=["h1", "h2"])
    assert not result.census and result.deferred[0].hosts == ("h3",)


def test_a_host_already_on_the_new_token_that_fails_now_does_not_block() -> None:
    result = decide(rows=dict.fromkeys(H, NEW_FP), followed={OLD_FP}, recorded_hosts=["h1", "h2"])
    assert result.revocable


@pytest.mark.parametrize("limited, recorded, reason", [(True, H, REASON_LIMITED), (False, ["h1", "h2"], REASON_UNCONFIRMED)])
def test_a_token_the_ledger_never_followed_waits_for_a_census(limited: bool, recorded: list[str], reason: str) -> None:
    """Deployed before the ledger existed: hosts nobody recorded may hold it."""
    result = decide(rows={host: NEW_FP for host in recorded}, limited=limited, recorded_hosts=recorded)
    (decision,) = result.deferred
    assert decision.reason == reason
    assert decision.hosts == (() if limited else ("h3",))


def test_a_token_the_ledger_never_followed_is_revoked_by_a_census() -> None:
    assert decide(rows=dict.fromkeys(H, NEW_FP)).revocable


def test_a_token_seen_only_by_a_limited_run_is_not_followed() -> None:
    """Upgrade path: h2 and h3 got the token before the ledger existed; a limited run saw it only on h1."""
    result = decide(rows={"h1": NEW_FP}, followed=set(), play_hosts=["h1"], recorded_hosts=["h1"], limited=True)
    assert result.deferred and result.deferred[0].reason == REASON_LIMITED


def test_hosts_outside_the_inventory_are_ignored_and_reported() -> None:
    result = decide(rows={**dict.fromkeys(H, NEW_FP), "retired": OLD_FP}, followed={OLD_FP})
    (decision,) = result.revocable
    assert decision.ignored == ("retired",) and result.ignored_hosts == ("retired",)


def test_each_pending_token_is_decided_once() -> None:
    older = sentinel("refresh")
    result = decide([OLD, older, OLD], rows={"h1": NEW_FP, "h2": OLD_FP, "h3": NEW_FP}, followed={OLD_FP, fingerprint(older)})
    assert [(d.fingerprint, d.revocable) for d in result.decisions] == [(OLD_FP, False), (fingerprint(older), True)]


def test_describe_names_hosts_and_never_a_token() -> None:
    result = decide(rows={"h1": NEW_FP, "h2": OLD_FP, "h3": OLD_FP}, followed={OLD_FP}, play_hosts=["h1"], recorded_hosts=["h1"], limited=True)
    (line,) = describe(result)
    assert "h2, h3" in line and OLD_FP[:12] in line and OLD not in line


# -- the token cache's ledger ------------------------------------------------------------------------


def seeded(path: str, pending: t.Sequence[str] = (OLD,)) -> TokenCache:
    cache = TokenCache(path)
    with cache.locked():
        cache.add_replaced(IDENTITY, pending)
    return cache


def test_record_writes_fingerprints_never_tokens(tmp_path: t.Any) -> None:
    path = str(tmp_path / "tokens.json")
    cache = seeded(path)
    with cache.locked():
        assert cache.record_deployments(IDENTITY, {"h1": OLD_FP}, census=False) is True
        assert cache.record_deployments(IDENTITY, {"h1": OLD_FP}, census=False) is False  # unchanged: no write
    ledger = on_disk(path)["deployments"][IDENTITY]
    assert ledger["hosts"]["h1"][""]["refresh_fp"] == OLD_FP and isinstance(ledger["hosts"]["h1"][""]["recorded"], int)
    assert ledger["tokens"][OLD_FP]["census"] is False
    text = open(path, encoding="utf-8").read()
    assert OLD not in text.split('"replaced"')[0]  # only the pending list (which must hold the token to revoke it) has it
    assert NEW not in text


def test_a_census_marks_every_known_token_followed(tmp_path: t.Any) -> None:
    cache = seeded(str(tmp_path / "tokens.json"))
    with cache.locked():
        cache.record_deployments(IDENTITY, {"h1": OLD_FP}, census=False)
        assert cache.census_fingerprints(IDENTITY) == set()
        cache.record_deployments(IDENTITY, {"h2": OLD_FP}, census=True)
        assert cache.census_fingerprints(IDENTITY) == {OLD_FP}
        cache.record_deployments(IDENTITY, {"h1": NEW_FP}, census=False)
        assert cache.census_fingerprints(IDENTITY) == {OLD_FP}  # a token first seen later is not followed yet
    assert cache.deployed_fingerprints(IDENTITY) == {"h1": {"": NEW_FP}, "h2": {"": OLD_FP}}


def test_a_host_holds_a_token_while_any_of_its_files_does(tmp_path: t.Any) -> None:
    """The role applied twice on one host: writing the new token to one file must not free the old one of the other."""
    path = str(tmp_path / "tokens.json")
    cache = seeded(path)
    with cache.locked():
        cache.record_deployments(IDENTITY, dict.fromkeys(H, OLD_FP), census=True, files=dict.fromkeys(H, "/etc/app.json"))
        cache.record_deployments(IDENTITY, dict.fromkeys(H, OLD_FP), census=True, files=dict.fromkeys(H, "/etc/worker.json"))
    this_run = {"h1": NEW_FP, "h2": NEW_FP, "h3": NEW_FP}
    result = plan_from_cache(
        cache, IDENTITY, hosts=this_run, files=dict.fromkeys(H, "/etc/app.json"), inventory_hosts=H, play_hosts=H, limited=False
    )
    assert not result.revocable and result.deferred[0].hosts == tuple(H)
    assert cache.deployed_fingerprints(IDENTITY)["h1"] == {"/etc/app.json": OLD_FP, "/etc/worker.json": OLD_FP}  # read only
    both = plan_from_cache(cache, IDENTITY, hosts=this_run, files=dict.fromkeys(H, "/etc/worker.json"), inventory_hosts=H, play_hosts=H, limited=False)
    assert not both.revocable  # each file moved on in a different run: still held until both are recorded
    with cache.locked():
        cache.record_deployments(IDENTITY, this_run, census=True, files=dict.fromkeys(H, "/etc/app.json"))
        cache.record_deployments(IDENTITY, this_run, census=True, files=dict.fromkeys(H, "/etc/worker.json"))
    assert plan_from_cache(cache, IDENTITY, hosts={}, inventory_hosts=H, play_hosts=H, limited=False).revocable


def test_a_cache_without_a_ledger_loads_as_empty(tmp_path: t.Any) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"format": "zohothrive.oauth token cache", "version": 1, "codes": {}}))
    path.chmod(0o600)
    cache = TokenCache(str(path)).load()
    assert cache.deployed_fingerprints(IDENTITY) == {} and cache.census_fingerprints(IDENTITY) == set()


def test_a_ledger_section_of_the_wrong_type_is_refused(tmp_path: t.Any) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"format": "zohothrive.oauth token cache", "version": 1, "codes": {}, "deployments": []}))
    path.chmod(0o600)
    with pytest.raises(ZohoTokenStoreError):
        TokenCache(str(path)).load()


def test_damaged_rows_are_skipped_not_fatal(tmp_path: t.Any) -> None:
    path = str(tmp_path / "tokens.json")
    cache = seeded(path)
    with cache.locked():
        cache.record_deployments(IDENTITY, {"h1": OLD_FP}, census=True)
    data = on_disk(path)
    data["deployments"][IDENTITY]["hosts"]["h2"] = "garbage"
    data["deployments"][IDENTITY]["tokens"]["x"] = 1
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    cache = TokenCache(path).load()
    assert cache.deployed_fingerprints(IDENTITY) == {"h1": {"": OLD_FP}} and cache.census_fingerprints(IDENTITY) == {OLD_FP}


def test_forget_deployed_token_keeps_the_host_rows(tmp_path: t.Any) -> None:
    path = str(tmp_path / "tokens.json")
    cache = seeded(path)
    with cache.locked():
        cache.record_deployments(IDENTITY, {"retired": OLD_FP}, census=True)
        cache.forget_deployed_token(IDENTITY, OLD_FP)
    assert OLD_FP not in on_disk(path)["deployments"][IDENTITY]["tokens"]
    assert cache.deployed_fingerprints(IDENTITY) == {"retired": {"": OLD_FP}}


def test_plan_from_cache_lays_this_run_over_the_rows_without_writing(tmp_path: t.Any) -> None:
    path = str(tmp_path / "tokens.json")
    cache = seeded(path)
    with cache.locked():
        cache.record_deployments(IDENTITY, dict.fromkeys(H, OLD_FP), census=True)
    before = open(path, encoding="utf-8").read()
    limited = plan_from_cache(cache.load(), IDENTITY, hosts={"h1": NEW_FP}, inventory_hosts=H, play_hosts=["h1"], limited=True)
    assert limited.deferred[0].hosts == ("h2", "h3")
    full = plan_from_cache(cache.load(), IDENTITY, hosts=dict.fromkeys(H, NEW_FP), inventory_hosts=H, play_hosts=H, limited=False)
    assert [d.token for d in full.revocable] == [OLD]
    assert open(path, encoding="utf-8").read() == before


def test_the_current_codes_token_is_never_planned_for_revocation(tmp_path: t.Any) -> None:
    """A rollback to an older code: its token may still be listed as replaced, but hosts are meant to hold it."""
    path = str(tmp_path / "tokens.json")
    cache = seeded(path)
    code_fp = fingerprint(sentinel("code"))
    with cache.locked():
        cache.finish_exchange(code_fp, TokenSet(access_token="", refresh_token=OLD, expires_at=0, expires_in=0))
        cache.set_current_code(IDENTITY, code_fp)
    decided = plan_from_cache(cache.load(), IDENTITY, hosts=dict.fromkeys(H, NEW_FP), inventory_hosts=H, play_hosts=H, limited=False)
    assert decided.decisions == ()
