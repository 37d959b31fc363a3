# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Zoho's token limits as state: the decisions, on counts that the token store keeps.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: the controller.

Zoho Accounts enforces two limits that break deployments silently or for a long time (facts
sheet, section 6 "Limits"):

- **the mint throttle**: at most 10 access tokens per refresh token per 10 minutes. The 11th
  request is refused ("Access Denied") and so is every other one for the rest of the window. The
  exchange that created a refresh token counts as its first mint.
- **the refresh-token cap**: at most 20 refresh tokens per user and client. The 21st silently
  deletes the oldest, even if it is in use, and its access tokens with it.

The token store (``_token_store.TokenCache``) records each mint of each refresh token (by
fingerprint) for 10 minutes and each refresh token it exchanged for a client until it is
revoked. This module decides, from those records, before anything is sent: refuse the 11th mint
(:func:`mint_refusal`), warn as the cap approaches and refuse the exchange that would evict
(:func:`cap_check`). The records are a lower bound of Zoho's own counts: the apps on the hosts
mint from the same refresh token, and refresh tokens are exchanged elsewhere (the API console,
other tools), without the store seeing it.

Plain Python: no Ansible objects. Errors are :class:`ZohoLimitError` subclasses, raised before
anything is sent; their ``fail_kwargs()`` carry the counts.
"""

from __future__ import annotations

import math
import typing as t
from dataclasses import dataclass

from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoOAuthError

MINT_LIMIT = 10  # access tokens per refresh token per window (facts sheet §6)
MINT_WINDOW = 600  # seconds: the throttle's window (facts sheet §6)
REFRESH_TOKEN_CAP = 20  # live refresh tokens per user and client (facts sheet §6)
CAP_WARNING_FROM = 18  # warn when an exchange brings a client's live refresh tokens to this many or more
# An in-flight exchange counts as a refresh token about to exist for this long: the longest an exchange can take (a 3600 s
# timeout, after up to 60 s of connection retries), with a margin. An older record is an attempt that died.
PENDING_EXCHANGE_SECONDS = 3900

MINT_LIMIT_TEXT = "Zoho allows 10 access tokens per refresh token per 10 minutes"
REVOKE_HINT = (
    "revoke the refresh tokens that are no longer used with zohothrive.oauth.zoho_thrive_revoke (or the thrive_tokens "
    "role's thrive_tokens_revoke_replaced) using this token store, which then stops counting them. Tokens revoked "
    "elsewhere (Zoho Accounts > Sessions > Connected Apps) still count here, since the store cannot see that: once "
    "Zoho shows fewer than 20 for the client, set `allow_refresh_token_eviction` for one run (Zoho then deletes nothing)"
)


class ZohoLimitError(ZohoOAuthError):
    """A Zoho limit would be exceeded: refused locally, before anything was sent."""


class ZohoMintLimitError(ZohoLimitError):
    """The refresh token's 10-minute window is full (or Zoho's throttle answered): no access token is requested."""


class ZohoRefreshTokenCapError(ZohoLimitError):
    """The exchange would make a 21st live refresh token for the client, and Zoho would delete the oldest."""


def epoch_up(value: float) -> int:
    """Whole epoch seconds, rounded up: a recorded mint never counts as earlier than Zoho's."""
    return int(math.ceil(value))


def _time_of(entry: t.Any) -> float | None:
    at = entry.get("at") if isinstance(entry, dict) else None
    return float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else None


def pruned(entries: t.Any, now: float) -> list[dict[str, t.Any]]:
    """The stored mint entries (``[{"at": epoch, "id": str}, ...]``) that still count at ``now``; others are dropped.

    A mint at ``at`` counts while ``now < at + MINT_WINDOW`` (Zoho's sliding window). Anything
    unreadable is dropped too.
    """
    if not isinstance(entries, list):
        return []
    return [entry for entry in entries if (at := _time_of(entry)) is not None and now < at + MINT_WINDOW]


@dataclass(frozen=True)
class MintWindow:
    """One refresh token's window at some moment.

    ``mints``: mints counted (the last 10 minutes). ``frees_at``: epoch when the oldest counted
    mint leaves the window (None when none is counted), or when Zoho's block ends if later.
    ``opens_at``: epoch from which a mint is allowed again (None when one is allowed now).
    ``blocked_until``: Zoho's throttle answered, nothing is sent before this epoch (None: no block).
    """

    mints: int
    frees_at: int | None
    opens_at: int | None
    blocked_until: int | None = None

    @property
    def full(self) -> bool:
        return self.opens_at is not None


def mint_window(entries: t.Any, now: float, *, blocked_until: t.Any = None) -> MintWindow:
    """The window of a refresh token from its stored mint entries (see :func:`pruned`) at ``now`` (epoch seconds)."""
    times = sorted(_time_of(entry) or 0.0 for entry in pruned(entries, now))
    blocked = epoch_up(blocked_until) if isinstance(blocked_until, (int, float)) and not isinstance(blocked_until, bool) and blocked_until > now else None
    frees_at = epoch_up(times[0] + MINT_WINDOW) if times else None
    opens_at = epoch_up(times[len(times) - MINT_LIMIT] + MINT_WINDOW) if len(times) >= MINT_LIMIT else None
    if blocked is not None:
        opens_at = max(opens_at or 0, blocked)
        frees_at = max(frees_at or 0, blocked)
    return MintWindow(mints=len(times), frees_at=frees_at, opens_at=opens_at, blocked_until=blocked)


def mint_refusal(window: MintWindow, now: float, *, refresh_fp: str, where: str, reusable_until: int | None = None) -> ZohoMintLimitError:
    """The error for a mint that ``window`` does not allow at ``now``: when it is allowed again, and how to need none.

    ``refresh_fp``: the refresh token's fingerprint (only its beginning is shown); ``where``: the
    store, for the message; ``reusable_until``: expiry (epoch) of the newest access token the store
    holds for this refresh token, when it is still valid.
    """
    opens_at = window.opens_at or epoch_up(now)
    wait = max(0, opens_at - epoch_up(now))
    if window.blocked_until is not None and window.blocked_until >= opens_at:
        why = (
            f"Zoho refused a request for the refresh token {refresh_fp[:12]}... with its throttle (\"Access Denied\"), so the token "
            f"store {where} sends nothing for it until that window ends. {MINT_LIMIT_TEXT}, and the apps on the hosts mint from "
            "the same refresh token without the store seeing it."
        )
    else:
        why = (
            f"The refresh token {refresh_fp[:12]}... has minted {window.mints} access tokens in the last 10 minutes (recorded in "
            f"the token store {where}), and {MINT_LIMIT_TEXT}: another request would make Zoho refuse every request for it for the "
            "rest of its window. The count is a lower bound: the apps on the hosts mint from the same refresh token without the "
            "store seeing it."
        )
    reuse = (
        f" The store holds an access token of this refresh token that is valid until epoch {reusable_until}: a `min_ttl` below "
        f"its {max(0, reusable_until - epoch_up(now))} s left returns it without minting."
        if reusable_until is not None and reusable_until > now
        else ""
    )
    msg = (
        f"Refused locally, to stay within Zoho's token-creation throttle. Nothing was sent. {why} A new access token can be "
        f"requested from epoch {opens_at} (in {wait} s). Meanwhile reuse the access tokens already minted: each is valid for "
        "an hour, and a run mints only when the token it has expires within `min_ttl` seconds, so keep `min_ttl` well below "
        f"3600 (the default is 300) and let runs share the token store.{reuse}"
    )
    return ZohoMintLimitError(msg, mints_in_window=window.mints, window_frees_at=opens_at, window_frees_in=wait)


def cap_check(
    live: t.Sequence[tuple[str, int]], pending: int, *, allow_eviction: bool, client: str, where: str
) -> str | None:
    """Decide an exchange against Zoho's cap of 20 refresh tokens per user and client.

    ``live``: ``(fingerprint, epoch exchanged)`` of the client's live refresh tokens that the store
    knows, oldest first; ``pending``: other exchanges of the client in flight; ``client``: the
    client as messages name it; ``where``: the store. Returns a warning (the exchange brings the
    count to :data:`CAP_WARNING_FROM` or more, or evicts with ``allow_eviction``) or None. Raises
    :class:`ZohoRefreshTokenCapError` when the exchange would make more than
    :data:`REFRESH_TOKEN_CAP` and ``allow_eviction`` is false.
    """
    after = len(live) + pending + 1
    counted = f"{len(live)} exchanged through this store and not revoked" + (f", {pending} more in flight" if pending else "")
    if after > REFRESH_TOKEN_CAP:
        oldest = f" (fingerprint {live[0][0][:12]}..., exchanged at epoch {live[0][1]})" if live else ""
        if not allow_eviction:
            raise ZohoRefreshTokenCapError(
                f"Refused locally: exchanging this grant code would give client {client} a 21st live refresh token. The token store "
                f"{where} counts {len(live) + pending} ({counted}), and Zoho keeps at most {REFRESH_TOKEN_CAP} per user and client: "
                f"it would silently delete the oldest one{oldest}, even if hosts still use it, and its access tokens with it. "
                f"Nothing was sent; the grant code is still unused. First {REVOKE_HINT}. To exchange anyway and let Zoho delete the "
                "oldest, set `allow_refresh_token_eviction`. The count is a lower bound: refresh tokens made elsewhere (the API "
                "console, other tools) count at Zoho too.",
                live_refresh_tokens=len(live) + pending,
            )
        return (
            f"`allow_refresh_token_eviction` is set: the token store {where} counts {counted} for client {client} before this "
            f"exchange, so unless some of them were revoked outside this store, Zoho now deletes the oldest one{oldest} and its "
            f"access tokens, and hosts that still use it get invalid_code. The store stops counting it. Next time, {REVOKE_HINT}."
        )
    if after >= CAP_WARNING_FROM:
        return (
            f"The token store {where} counts {after} live refresh tokens for client {client} with this exchange, and Zoho keeps at "
            f"most {REFRESH_TOKEN_CAP} per user and client: a 21st silently deletes the oldest, even if it is in use. Before the next "
            f"grant code, {REVOKE_HINT}."
        )
    return None


@dataclass(frozen=True)
class Counts:
    """The counts a module returns. None: not known to this run (the field is left out)."""

    mints_in_window: int | None = None
    window_frees_at: int | None = None
    live_refresh_tokens: int | None = None

    def result_fields(self) -> dict[str, t.Any]:
        """``mints_in_window`` with ``window_frees_at`` (which may be None), and ``live_refresh_tokens``, when known."""
        fields: dict[str, t.Any] = {}
        if self.mints_in_window is not None:
            fields.update(mints_in_window=self.mints_in_window, window_frees_at=self.window_frees_at)
        if self.live_refresh_tokens is not None:
            fields["live_refresh_tokens"] = self.live_refresh_tokens
        return fields


__all__ = (
    "CAP_WARNING_FROM",
    "MINT_LIMIT",
    "MINT_WINDOW",
    "PENDING_EXCHANGE_SECONDS",
    "REFRESH_TOKEN_CAP",
    "Counts",
    "MintWindow",
    "ZohoLimitError",
    "ZohoMintLimitError",
    "ZohoRefreshTokenCapError",
    "cap_check",
    "epoch_up",
    "mint_refusal",
    "mint_window",
    "pruned",
)
