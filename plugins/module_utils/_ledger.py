# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The deployment ledger's decision: which replaced refresh tokens may be revoked now, and which must wait.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: the controller.

The token cache (``_token_store.TokenCache``) records, for each client identity
(``"<client_id>@<accounts_url>"``), which refresh token each host holds, by SHA-256 fingerprint
(never the token). This module decides, from that ledger, for each refresh token awaiting
revocation (``TokenCache.replaced_tokens``; only tokens the cache recorded for this client ever
get there, never a token found only on a host):

- revocable when no host of the inventory is recorded as holding it, and either the ledger has
  followed the token since a census (a run over every host of the play, without ``--limit``,
  that recorded every one of them), or this run is such a census;
- deferred otherwise, with the inventory hosts still recorded as holding it, and the hosts of
  the play this run could not confirm when the ledger cannot vouch for the token.

Hosts recorded in the ledger but absent from the inventory (decommissioned, or from another
inventory sharing the cache) do not block a revoke; they are reported, and their rows are kept.
Plain Python: no Ansible objects; errors are ``ZohoInputError``.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInputError
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import TokenCache

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")

REASON_UNUSED = "no host of the inventory is recorded as holding it"
REASON_HELD = "hosts of the inventory are still recorded as holding it"
REASON_LIMITED = (
    "the ledger has not seen every host since this token was deployed, and this run is limited (--limit): "
    "a run over every host, without --limit, completes the revoke"
)
REASON_HELD_OUTSIDE = (
    "hosts outside this inventory, recorded in the shared token store by another controller or inventory, still hold it"
)
REASON_UNCONFIRMED = (
    "the ledger has not seen every host since this token was deployed, and this run could not confirm every host of the "
    "play (unreachable, failed or skipped): a run in which every host writes its file completes the revoke"
)


def ledger_identity(client_id: str | None, accounts_url: str) -> str:
    """The key of a client's entries in the token cache: current code, replaced tokens and deployment ledger."""
    return f"{client_id}@{accounts_url}"


def check_fingerprints(hosts: t.Mapping[str, t.Any]) -> dict[str, str]:
    """``{host: fingerprint}`` with empty values left out; anything but a SHA-256 hex digest is refused.

    The message never repeats the value: a caller that passed a token by mistake must not see it printed.
    """
    checked: dict[str, str] = {}
    for host, value in hosts.items():
        if value in (None, ""):
            continue
        text = str(value).strip().lower()
        if not _FINGERPRINT.fullmatch(text):
            raise ZohoInputError(
                f"`hosts`[{host!r}] is not a SHA-256 fingerprint (64 hex digits). Pass the fingerprint that "
                "zohothrive.oauth.zoho_thrive_config returns for the refresh token, never the token itself."
            )
        checked[str(host)] = text
    return checked


def is_census(*, play_hosts: t.Iterable[str], recorded_hosts: t.Iterable[str], limited: bool) -> bool:
    """True when this run is not limited and recorded every host of the play."""
    return not limited and set(play_hosts) <= set(recorded_hosts)


@dataclass(frozen=True)
class Decision:
    """What happens to one replaced refresh token. ``token`` is kept out of ``repr`` and of :meth:`as_dict`."""

    fingerprint: str
    revocable: bool
    reason: str
    hosts: tuple[str, ...] = ()  # deferred: inventory hosts holding it, or (unconfirmed) hosts of the play not confirmed
    token: str = field(default="", repr=False)
    ignored: tuple[str, ...] = ()  # hosts outside the inventory still recorded as holding it (they do not block)

    def as_dict(self) -> dict[str, t.Any]:
        """``{"fingerprint", "hosts", "reason"}``: safe to print."""
        return {"fingerprint": self.fingerprint, "hosts": list(self.hosts), "reason": self.reason}


@dataclass(frozen=True)
class Plan:
    """The decisions for every pending token, and the ledger rows the decision ignored."""

    decisions: tuple[Decision, ...]
    ignored_hosts: tuple[str, ...]  # hosts with a ledger row that are not in the inventory
    census: bool

    @property
    def revocable(self) -> list[Decision]:
        return [d for d in self.decisions if d.revocable]

    @property
    def deferred(self) -> list[Decision]:
        return [d for d in self.decisions if not d.revocable]


def plan(
    pending: t.Sequence[str],
    *,
    rows: t.Mapping[str, str | t.Collection[str]],
    followed: t.Collection[str],
    inventory_hosts: t.Collection[str],
    play_hosts: t.Collection[str],
    recorded_hosts: t.Collection[str],
    limited: bool,
    outside_hosts_block: bool = False,
) -> Plan:
    """Decide, for each pending refresh token, whether it may be revoked now.

    ``pending``: refresh tokens awaiting revocation (tokens; only their fingerprints leave this function).
    ``rows``: ``{host: fingerprint, or the fingerprints of all its config files}``, the ledger after this run's hosts
    were recorded. A host holds a token while any of its files does.
    ``followed``: fingerprints the ledger has followed since a census (``TokenCache.census_fingerprints``).
    ``inventory_hosts``: every host of the inventory; rows of other hosts are ignored.
    ``play_hosts``: every host of this play; ``recorded_hosts``: those whose file this run confirmed.
    ``limited``: the play runs with ``--limit``.
    ``outside_hosts_block``: rows of hosts outside the inventory make a token wait too. A shared store (Vault) holds
    the rows that other controllers recorded for their inventories, which this run cannot see: a token one of those
    hosts holds is not revoked from here (:data:`REASON_HELD_OUTSIDE`). A file store's stray rows are of hosts that
    left the inventory, and do not block (they are listed in ``ignored_hosts``).
    """
    inventory = set(inventory_hosts)
    census = is_census(play_hosts=play_hosts, recorded_hosts=recorded_hosts, limited=limited)
    unconfirmed = tuple(sorted(set(play_hosts) - set(recorded_hosts)))
    decisions = []
    for token in dict.fromkeys(pending):
        refresh_fp = fingerprint(token)
        holding = sorted(host for host, held in rows.items() if refresh_fp in ({held} if isinstance(held, str) else held))
        holders = tuple(host for host in holding if host in inventory)
        ignored = tuple(host for host in holding if host not in inventory)
        if holders:
            decisions.append(Decision(refresh_fp, False, REASON_HELD, holders, token, ignored))
        elif ignored and outside_hosts_block:
            decisions.append(Decision(refresh_fp, False, REASON_HELD_OUTSIDE, ignored, token, ()))
        elif census or refresh_fp in followed:
            decisions.append(Decision(refresh_fp, True, REASON_UNUSED, (), token, ignored))
        elif limited:
            decisions.append(Decision(refresh_fp, False, REASON_LIMITED, unconfirmed, token, ignored))
        else:
            decisions.append(Decision(refresh_fp, False, REASON_UNCONFIRMED, unconfirmed, token, ignored))
    return Plan(tuple(decisions), tuple(sorted(host for host in rows if host not in inventory)), census)


def plan_from_cache(
    cache: TokenCache,
    identity: str,
    *,
    hosts: t.Mapping[str, str],
    inventory_hosts: t.Collection[str],
    play_hosts: t.Collection[str],
    limited: bool,
    files: t.Mapping[str, str] | None = None,
    replaced: t.Iterable[str] = (),
) -> Plan:
    """:func:`plan` for the cache's pending tokens, with ``hosts`` (``{host: fingerprint}`` of this run, in the config
    file ``files[host]``) laid over the recorded rows. Reads only: after :meth:`TokenCache.record_deployments` it sees
    the same rows, and in check mode it predicts what recording would lead to. ``replaced``: refresh tokens that this
    run's credentials step replaces but (in check mode) could not record; they are planned like recorded ones."""
    by_file = {host: dict(held) for host, held in cache.deployed_fingerprints(identity).items()}
    for host, refresh_fp in hosts.items():
        by_file.setdefault(host, {})[(files or {}).get(host, "")] = refresh_fp
    rows = {host: set(held.values()) for host, held in by_file.items()}
    followed = cache.census_fingerprints(identity)
    census = is_census(play_hosts=play_hosts, recorded_hosts=hosts, limited=limited)
    if census:  # recording marks every token the ledger knows, this run's included
        followed = followed.union(*rows.values())
    # Never the current code's token, even if it is listed (a rollback to an older code): hosts are meant to hold it.
    current_fp = cache.current_code(identity)
    current = cache.code_tokens(current_fp) if current_fp else None
    pending = [token for token in cache.replaced_tokens(identity) if current is None or token != current.refresh_token]
    pending += [token for token in replaced if token and token not in pending]
    return plan(
        pending,
        rows=rows,
        followed=followed,
        inventory_hosts=inventory_hosts,
        play_hosts=play_hosts,
        recorded_hosts=hosts,
        limited=limited,
        outside_hosts_block=cache.shared,
    )


def describe(plan_: Plan, *, expected: t.Collection[str] = ()) -> list[str]:
    """One secret-free line per deferred token, for the operator.

    A token that waits only for ``expected`` hosts (later serial batches of the same run) is said to wait for them:
    if they fail, or the play stops before them, that line is the run's last word on it.
    """
    lines = []
    for decision in plan_.deferred:
        short = decision.fingerprint[:12]
        if decision.hosts and set(decision.hosts) <= set(expected):
            lines.append(
                f"The replaced refresh token {short}… waits for {', '.join(decision.hosts)}, in a later serial batch of this run; "
                "it is revoked once they hold the new token."
            )
        elif decision.reason == REASON_HELD_OUTSIDE:
            lines.append(
                f"The replaced refresh token {short}… is not revoked: {', '.join(decision.hosts)}, outside this inventory, "
                "still hold(s) it according to the shared token store (another controller or inventory recorded them). Run "
                "the play that manages those hosts with the new code (it revokes the token once they hold the new one), or "
                "revoke it by hand once they do."
            )
        elif decision.reason == REASON_HELD:
            lines.append(
                f"The replaced refresh token {short}… is not revoked yet: {', '.join(decision.hosts)} still hold(s) it. "
                "A run that writes the new token to those hosts (without --limit, or with them in it) completes the revoke."
            )
        else:
            waiting = f" Hosts of this play not confirmed in this run: {', '.join(decision.hosts)}." if decision.hosts else ""
            lines.append(f"The replaced refresh token {short}… is not revoked yet: {decision.reason}.{waiting}")
    return lines


__all__ = (
    "Decision",
    "Plan",
    "check_fingerprints",
    "describe",
    "is_census",
    "ledger_identity",
    "plan",
    "plan_from_cache",
)
