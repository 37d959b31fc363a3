# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""zoho_thrive_ledger: record which host holds which refresh token; revoke a replaced one only when no host holds it."""

from __future__ import annotations

import json
import os
import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import TokenSet
from ansible_collections.zohothrive.oauth.plugins.module_utils._ledger import ledger_identity
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import TokenCache
from ansible_collections.zohothrive.oauth.plugins.modules import zoho_thrive_ledger as module
from ansible_collections.zohothrive.oauth.tests.unit.fakes import json_response, sentinel, tls_failure

SECRET = sentinel("secret")
OLD = sentinel("refresh")
NEW = sentinel("refresh")
AT = sentinel("access")
OLD_FP = fingerprint(OLD)
NEW_FP = fingerprint(NEW)
IDENTITY = ledger_identity("1000.ID", "https://accounts.zoho.eu")
H = ["h1", "h2", "h3"]


@pytest.fixture
def cache_path(tmp_path: t.Any) -> str:
    return str(tmp_path / "controller" / "tokens.json")


def args(cache_path: str, **extra: t.Any) -> dict[str, t.Any]:
    base: dict[str, t.Any] = {
        "client_id": "1000.ID",
        "client_secret": SECRET,
        "data_center": "eu",
        "token_cache": cache_path,
        "inventory_hosts": H,
        "play_hosts": H,
        "hosts": dict.fromkeys(H, NEW_FP),
        "revoke_replaced": True,
    }
    base.update(extra)
    return base


def deployed(cache_path: str, rows: dict[str, str], *, pending: t.Sequence[str] = (OLD,), census: bool = True) -> None:
    """The state after code A reached ``rows`` and code B replaced it (A's token pending revocation)."""
    cache = TokenCache(cache_path)
    with cache.locked():
        cache.record_deployments(IDENTITY, rows, census=census)
        cache.add_replaced(IDENTITY, pending)
        cache.remember_access_token(OLD, TokenSet(access_token=AT, expires_in=3600, expires_at=2_000_000_000))


def on_disk(cache_path: str) -> dict[str, t.Any]:
    with open(cache_path, encoding="utf-8") as handle:
        return json.load(handle)


def test_issue_limit_defers_and_names_the_hosts_that_still_hold_the_old_token(run_module: t.Any, zoho: t.Any, cache_path: str) -> None:
    deployed(cache_path, dict.fromkeys(H, OLD_FP))
    result = run_module(module, args(cache_path, hosts={"h1": NEW_FP}, play_hosts=["h1"], limited=True))
    assert not result.failed and result["changed"] is False
    assert zoho.calls == []  # nothing revoked, nothing sent
    assert result["revoked"] == [] and result["revoked_count"] == 0
    assert result["deferred"] == [{"fingerprint": OLD_FP, "hosts": ["h2", "h3"], "reason": "hosts of the inventory are still recorded as holding it"}]
    assert "h2, h3" in result["messages"][0]
    assert on_disk(cache_path)["replaced"][IDENTITY] == [OLD]
    assert on_disk(cache_path)["deployments"][IDENTITY]["hosts"]["h1"][""]["refresh_fp"] == NEW_FP
    assert OLD not in result.stdout and SECRET not in result.stdout


def test_a_later_full_run_revokes_and_forgets(run_module: t.Any, zoho: t.Any, cache_path: str) -> None:
    deployed(cache_path, {"h1": NEW_FP, "h2": OLD_FP, "h3": OLD_FP})
    zoho.add(json_response({"status": "success"}))
    result = run_module(module, args(cache_path))
    assert result["changed"] is True and result["revoked"] == [OLD_FP] and result["revoked_count"] == 1
    assert result["deferred"] == [] and result["census"] is True
    assert len(zoho.calls) == 1 and zoho.calls[0].url == "https://accounts.zoho.eu/oauth/v2/token/revoke"
    assert zoho.calls[0].data == {"token": OLD}
    data = on_disk(cache_path)
    assert data["replaced"][IDENTITY] == [] and OLD_FP not in data["access_tokens"]
    assert OLD_FP not in data["deployments"][IDENTITY]["tokens"]
    assert OLD not in result.stdout
    again = run_module(module, args(cache_path))
    assert again["changed"] is False and len(zoho.calls) == 1


def test_a_failed_host_still_on_the_old_token_defers(run_module: t.Any, zoho: t.Any, cache_path: str) -> None:
    deployed(cache_path, dict.fromkeys(H, OLD_FP))
    result = run_module(module, args(cache_path, hosts={"h1": NEW_FP, "h2": NEW_FP}))
    assert result["deferred"][0]["hosts"] == ["h3"] and zoho.calls == []


def test_a_token_never_seen_on_a_host_waits_for_a_full_run(run_module: t.Any, zoho: t.Any, cache_path: str) -> None:
    deployed(cache_path, {})
    limited = run_module(module, args(cache_path, hosts={"h1": NEW_FP}, play_hosts=["h1"], limited=True))
    assert limited["deferred"][0]["reason"].startswith("the ledger has not seen every host") and zoho.calls == []
    zoho.add(json_response({"status": "success"}))
    full = run_module(module, args(cache_path))
    assert full["revoked"] == [OLD_FP]


def test_without_revoke_replaced_it_only_records(run_module: t.Any, zoho: t.Any, cache_path: str) -> None:
    deployed(cache_path, {"h1": OLD_FP})
    result = run_module(module, args(cache_path, revoke_replaced=False))
    assert result["changed"] is False and result["revoked"] == [] and result["deferred"] == [] and zoho.calls == []
    assert result["recorded"] == H
    assert on_disk(cache_path)["deployments"][IDENTITY]["hosts"]["h1"][""]["refresh_fp"] == NEW_FP


def test_check_mode_records_nothing_sends_nothing_and_predicts(run_module: t.Any, zoho: t.Any, cache_path: str) -> None:
    deployed(cache_path, dict.fromkeys(H, OLD_FP))
    before = open(cache_path, encoding="utf-8").read()
    result = run_module(module, args(cache_path), check_mode=True)
    assert result["changed"] is True and result["revoked"] == [OLD_FP]
    assert zoho.calls == [] and open(cache_path, encoding="utf-8").read() == before
    limited = run_module(module, args(cache_path, hosts={"h1": NEW_FP}, play_hosts=["h1"], limited=True), check_mode=True)
    assert limited["changed"] is False and limited["deferred"][0]["hosts"] == ["h2", "h3"]


def test_check_mode_without_a_cache_creates_nothing(run_module: t.Any, zoho: t.Any, cache_path: str) -> None:
    result = run_module(module, args(cache_path), check_mode=True)
    assert not result.failed and result["revoked"] == []
    assert not os.path.exists(os.path.dirname(cache_path))


def test_already_invalid_token_is_forgotten_with_a_warning(run_module: t.Any, zoho: t.Any, cache_path: str) -> None:
    deployed(cache_path, dict.fromkeys(H, OLD_FP))
    zoho.add(json_response({"error": "invalid_token"}, status=400))
    result = run_module(module, args(cache_path))
    assert not result.failed and result["changed"] is False
    assert result["already_invalid"] == [OLD_FP] and result["revoked"] == []
    assert any("already invalid" in w for w in result.warning_messages)
    assert on_disk(cache_path)["replaced"][IDENTITY] == []


@pytest.mark.parametrize("step, words", [(json_response({"error": "invalid_client"}), "invalid_client"), (tls_failure(), "TLS verification failed")])
def test_a_failed_revoke_fails_keeps_the_token_pending_and_names_the_fix(run_module: t.Any, zoho: t.Any, cache_path: str, step: t.Any, words: str) -> None:
    deployed(cache_path, dict.fromkeys(H, OLD_FP))
    zoho.add(step)
    result = run_module(module, args(cache_path))
    assert result.failed and words in result["msg"] and "next run" in result["msg"] and "`revoke_replaced`" in result["msg"]
    data = on_disk(cache_path)
    assert data["replaced"][IDENTITY] == [OLD] and OLD_FP in data["access_tokens"]
    assert data["deployments"][IDENTITY]["hosts"]["h1"][""]["refresh_fp"] == NEW_FP  # the hosts were recorded first
    assert OLD not in result.stdout and SECRET not in result.stdout


def test_hosts_outside_the_inventory_do_not_block_and_are_reported(run_module: t.Any, zoho: t.Any, cache_path: str) -> None:
    deployed(cache_path, {**dict.fromkeys(H, OLD_FP), "retired": OLD_FP})
    zoho.add(json_response({"status": "success"}))
    result = run_module(module, args(cache_path))
    assert result["revoked"] == [OLD_FP] and result["ignored_hosts"] == ["retired"]
    assert any("retired" in w and "not in `inventory_hosts`" in w for w in result.warning_messages)
    assert "retired" in on_disk(cache_path)["deployments"][IDENTITY]["hosts"]  # the row is kept


def test_a_host_outside_the_play_but_in_the_inventory_blocks(run_module: t.Any, zoho: t.Any, cache_path: str) -> None:
    deployed(cache_path, {**dict.fromkeys(H, OLD_FP), "other": OLD_FP})
    result = run_module(module, args(cache_path, inventory_hosts=[*H, "other"]))
    assert result["deferred"][0]["hosts"] == ["other"] and zoho.calls == []


def test_another_clients_ledger_is_not_used(run_module: t.Any, zoho: t.Any, cache_path: str) -> None:
    deployed(cache_path, dict.fromkeys(H, OLD_FP))
    result = run_module(module, args(cache_path, client_id="1000.OTHER"))
    assert result["revoked"] == [] and result["deferred"] == [] and zoho.calls == []


def test_a_token_in_place_of_a_fingerprint_is_refused_unseen(run_module: t.Any, zoho: t.Any, cache_path: str) -> None:
    result = run_module(module, args(cache_path, hosts={"h1": NEW}))
    assert result.failed and "never the token itself" in result["msg"]
    assert NEW not in result["msg"] and not os.path.exists(cache_path)
