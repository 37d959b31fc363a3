# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Token flows on top of the client and the token cache: exchange at most once, mint only when needed.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Modules (and later the lookup plugin) call these functions; they decide from local state first and
call Zoho only when nothing usable is known. Every decision that may call Zoho happens under the
cache's exclusive lock, so concurrent runs call Zoho once and the others reuse the result. In
check mode nothing is locked, written or sent; the functions predict instead.
"""

from __future__ import annotations

import time
import typing as t
from collections import Counter
from dataclasses import dataclass, field, replace

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import TokenSet, ZohoOAuthClient
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import (
    ZohoCodeMayBeSpentError,
    ZohoInputError,
    ZohoOAuthError,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import TokenCache

# Where a token came from.
SOURCE_GIVEN = "given"
SOURCE_CACHE = "cache"
SOURCE_CANDIDATES = "candidates"
SOURCE_ZOHO = "zoho"
SOURCE_NONE = "none"


@dataclass
class Outcome:
    """``tokens`` is None when a check-mode run predicts that Zoho would be called."""

    changed: bool
    tokens: TokenSet | None
    source: str


@dataclass(frozen=True)
class Candidate:
    """Tokens already deployed somewhere (for example a host's config file)."""

    code_fingerprint: str | None = None
    refresh_token: str | None = None
    access_token: str | None = None
    expires_at: int | None = None
    api_domain: str | None = None

    @classmethod
    def from_mapping(cls, data: t.Mapping[str, t.Any]) -> Candidate:
        def text(name: str) -> str | None:
            value = data.get(name)
            return str(value).strip() if value not in (None, "") else None

        expires = data.get("expires_at")
        try:
            expires_at = int(str(expires).strip()) if expires not in (None, "") else None
        except ValueError:
            expires_at = None
        return cls(
            code_fingerprint=text("code_fingerprint"),
            refresh_token=text("refresh_token"),
            access_token=text("access_token"),
            expires_at=expires_at,
            api_domain=text("api_domain"),
        )


@dataclass
class Credentials:
    """Result of :func:`ensure_credentials`."""

    found: bool
    changed: bool = False
    exchanged: bool = False
    refreshed: bool = False
    code_fingerprint: str | None = None
    tokens: TokenSet | None = None
    source: str = SOURCE_NONE
    previous_refresh_tokens: list[str] = field(default_factory=list)


def is_fresh(tokens: TokenSet | None, *, min_ttl: int, now: float) -> bool:
    return tokens is not None and bool(tokens.access_token) and tokens.expires_at - now > min_ttl


def in_flight_error(entry: t.Mapping[str, t.Any], cache: TokenCache) -> ZohoCodeMayBeSpentError:
    return ZohoCodeMayBeSpentError(
        f"The token cache {cache.path} records that this grant code was sent to {entry.get('accounts_url')} at epoch "
        f"{entry.get('started')} without tokens coming back (the run failed or was killed). The code may already be spent, "
        "so it is not sent again. Generate a new code. If Zoho did issue a refresh token, check Connected Apps in Zoho "
        "Accounts and revoke the unused one."
    )


def _exchange_journaled(client: ZohoOAuthClient, cache: TokenCache, code: str, code_fp: str, **kwargs: t.Any) -> TokenSet:
    """Exchange with an in-flight record, under the caller's lock. Never re-sends a code with a record."""
    entry = cache.code_entry(code_fp)
    if entry:
        raise in_flight_error(entry, cache)
    cache.begin_exchange(code_fp, accounts_url=client.accounts_url, client_id=client.client_id)
    try:
        tokens = client.exchange_code(code, **kwargs)
    except ZohoCodeMayBeSpentError:
        raise  # keep the in-flight record: the code must never be sent again
    except ZohoOAuthError:
        cache.abandon_exchange(code_fp)  # Zoho definitely refused it, or it was never sent
        raise
    cache.finish_exchange(code_fp, tokens)
    return tokens


def exchange_code(
    client: ZohoOAuthClient,
    code: str,
    *,
    cache: TokenCache | None,
    check_mode: bool,
    redirect_uri: str | None = None,
    code_verifier: str | None = None,
) -> Outcome:
    """Exchange ``code`` at most once when a cache is given."""
    if cache is None:
        if check_mode:
            return Outcome(True, None, SOURCE_NONE)
        return Outcome(True, client.exchange_code(code, redirect_uri=redirect_uri, code_verifier=code_verifier), SOURCE_ZOHO)
    code_fp = fingerprint(code)
    if check_mode:
        cache.load()  # read only: no lock file and no directory are created in check mode
        return _predict_exchange(cache, code_fp)
    with cache.locked():
        tokens = cache.code_tokens(code_fp)
        if tokens is not None:
            return Outcome(False, tokens, SOURCE_CACHE)
        tokens = _exchange_journaled(client, cache, code, code_fp, redirect_uri=redirect_uri, code_verifier=code_verifier)
    return Outcome(True, tokens, SOURCE_ZOHO)


def _predict_exchange(cache: TokenCache, code_fp: str) -> Outcome:
    tokens = cache.code_tokens(code_fp)
    if tokens is not None:
        return Outcome(False, tokens, SOURCE_CACHE)
    entry = cache.code_entry(code_fp)
    if entry:
        raise in_flight_error(entry, cache)
    return Outcome(True, None, SOURCE_NONE)


def ensure_access_token(
    client: ZohoOAuthClient,
    refresh_token: str,
    *,
    cache: TokenCache | None,
    min_ttl: int,
    check_mode: bool,
    given: TokenSet | None = None,
) -> Outcome:
    """Return an access token with more than ``min_ttl`` seconds left, minting only when needed."""
    if is_fresh(given, min_ttl=min_ttl, now=time.time()):
        return Outcome(False, given, SOURCE_GIVEN)
    if cache is None:
        if check_mode:
            return Outcome(True, None, SOURCE_NONE)
        return Outcome(True, _mint(client, None, refresh_token), SOURCE_ZOHO)
    if check_mode:
        cached = cache.load().access_token_for(refresh_token)
        return Outcome(False, cached, SOURCE_CACHE) if is_fresh(cached, min_ttl=min_ttl, now=time.time()) else Outcome(True, None, SOURCE_NONE)
    with cache.locked():
        cached = cache.access_token_for(refresh_token)
        if is_fresh(cached, min_ttl=min_ttl, now=time.time()):
            return Outcome(False, cached, SOURCE_CACHE)  # another run (or fork) minted it meanwhile
        tokens = _mint(client, cache, refresh_token)
    return Outcome(True, tokens, SOURCE_ZOHO)


def _mint(client: ZohoOAuthClient, cache: TokenCache | None, refresh_token: str) -> TokenSet:
    """One refresh at Zoho, stored in the cache (when there is one) before anything else can fail."""
    minted = client.refresh(refresh_token)
    if cache is not None:
        cache.remember_access_token(refresh_token, minted)
    return minted


def ensure_credentials(
    client: ZohoOAuthClient,
    cache: TokenCache,
    *,
    code: str | None,
    candidates: t.Sequence[Candidate] = (),
    allow_exchange: bool = True,
    min_ttl: int | None = 300,
    check_mode: bool = False,
    track_replaced: bool = False,
) -> Credentials:
    """The role's controller step: a refresh token for the current code, and a fresh access token.

    Order: the cache (tokens stored for the code), then ``candidates`` issued from the same code
    (adopted into the cache: a controller that lost its cache never re-exchanges a code whose
    tokens are deployed), then, if ``allow_exchange``, one exchange. Without ``code`` the cache's
    current code for this client is used, else the code the candidates agree on. With
    ``min_ttl`` None no access token is needed and nothing is refreshed.

    ``found`` is False (and nothing is sent) when nothing is known and exchanging is not allowed.

    With ``track_replaced``, refresh tokens of earlier codes that this code replaces are kept in
    the cache until they are revoked, and returned in ``previous_refresh_tokens`` on every run.
    """
    identity = f"{client.client_id}@{client.accounts_url}"
    if check_mode:
        cache.load()
        return _credentials(client, cache, identity, code, candidates, allow_exchange, min_ttl, check_mode=True, track=track_replaced)
    with cache.locked():
        return _credentials(client, cache, identity, code, candidates, allow_exchange, min_ttl, check_mode=False, track=track_replaced)


def _credentials(
    client: ZohoOAuthClient,
    cache: TokenCache,
    identity: str,
    code: str | None,
    candidates: t.Sequence[Candidate],
    allow_exchange: bool,
    min_ttl: int | None,
    *,
    check_mode: bool,
    track: bool,
) -> Credentials:
    code_fp = fingerprint(code) if code else cache.current_code(identity) or _agreed_fingerprint(candidates)
    if code_fp is None:
        if allow_exchange:
            raise ZohoInputError(
                "No grant code was given, and neither the token cache nor the given candidates hold tokens for this client. "
                "Generate a self-client code in the Zoho API console and pass it as the grant code."
            )
        return Credentials(found=False)

    result = Credentials(found=True, code_fingerprint=code_fp)
    tokens = cache.code_tokens(code_fp)
    result.source = SOURCE_CACHE
    if tokens is None:
        adopted = _adopt(code_fp, candidates)
        entry = cache.code_entry(code_fp)
        if adopted is not None:
            # Tokens from this code are deployed: adopt them, even over an in-flight record (nothing is sent).
            tokens, result.source = adopted, SOURCE_CANDIDATES
            if not check_mode:
                cache.finish_exchange(code_fp, adopted)
        elif entry:
            raise in_flight_error(entry, cache)
        elif not allow_exchange:
            return Credentials(found=False, code_fingerprint=code_fp)
        elif code is None:
            raise ZohoInputError("The stored tokens for this client are gone. Pass a new grant code.")
        else:
            result.exchanged = result.changed = True
            result.source = SOURCE_ZOHO
            if check_mode:
                if track:
                    result.previous_refresh_tokens = _replaced(cache, identity, code_fp, None, candidates)
                return result
            tokens = _exchange_journaled(client, cache, code, code_fp)

    if tokens is None:  # every branch above either set tokens or returned
        raise RuntimeError("internal error: no tokens after the exchange step")
    if not tokens.refresh_token:
        raise ZohoInputError(
            "The tokens for this grant code have no refresh token: the code was generated for online access. Generate a "
            "self-client code with offline access (the default) and try again."
        )
    if track:
        result.previous_refresh_tokens = _replaced(cache, identity, code_fp, tokens.refresh_token, candidates)
        if not check_mode:
            cache.add_replaced(identity, result.previous_refresh_tokens)
    if not check_mode:
        cache.set_current_code(identity, code_fp)

    if min_ttl is not None:
        now = time.time()
        best = _best_access_token(tokens, cache.access_token_for(tokens.refresh_token), candidates)
        if is_fresh(best, min_ttl=min_ttl, now=now):
            tokens = best
        elif check_mode:
            result.refreshed = result.changed = True
            tokens = replace(tokens, access_token="")
        else:
            minted = _mint(client, cache, tokens.refresh_token)
            tokens = replace(minted, refresh_token=minted.refresh_token or tokens.refresh_token)
            result.refreshed = result.changed = True
    result.tokens = tokens
    return result


def _agreed_fingerprint(candidates: t.Sequence[Candidate]) -> str | None:
    fingerprints = {c.code_fingerprint for c in candidates if c.code_fingerprint and c.refresh_token}
    if len(fingerprints) > 1:
        raise ZohoInputError(
            f"The candidates (for example the hosts' config files) hold tokens from {len(fingerprints)} different grant codes "
            "and no grant code was given to choose between them. Pass the current grant code."
        )
    return fingerprints.pop() if fingerprints else None


def _adopt(code_fp: str, candidates: t.Sequence[Candidate]) -> TokenSet | None:
    """Tokens of the candidates issued from ``code_fp``: the most common refresh token, the latest access token."""
    matching = [c for c in candidates if c.code_fingerprint == code_fp and c.refresh_token]
    if not matching:
        return None
    refresh_token = Counter(c.refresh_token for c in matching).most_common(1)[0][0]
    same = [c for c in matching if c.refresh_token == refresh_token]
    with_access = [c for c in same if c.access_token and c.expires_at]
    latest = max(with_access, key=lambda c: t.cast(int, c.expires_at)) if with_access else same[0]
    expires_at = latest.expires_at or 0
    return TokenSet(
        access_token=latest.access_token or "",
        refresh_token=refresh_token,
        api_domain=latest.api_domain,
        token_type="Bearer",
        expires_at=expires_at,
        expires_in=max(0, expires_at - int(time.time())),
    )


def _best_access_token(tokens: TokenSet, cached: TokenSet | None, candidates: t.Sequence[Candidate]) -> TokenSet:
    """The known access token of this refresh token that expires last."""
    options = [tokens]
    if cached is not None:
        options.append(replace(cached, refresh_token=tokens.refresh_token))
    for c in candidates:
        if c.refresh_token == tokens.refresh_token and c.access_token and c.expires_at:
            options.append(
                replace(
                    tokens,
                    access_token=c.access_token,
                    expires_at=c.expires_at,
                    expires_in=max(0, c.expires_at - int(time.time())),
                    api_domain=c.api_domain or tokens.api_domain,
                )
            )
    usable = [o for o in options if o.access_token]
    return max(usable, key=lambda o: o.expires_at) if usable else tokens


def _replaced(
    cache: TokenCache, identity: str, code_fp: str, refresh_token: str | None, candidates: t.Sequence[Candidate]
) -> list[str]:
    """Refresh tokens this code replaces: those already awaiting revocation, the cache's previous current
    code's, and deployed ones issued from other codes."""
    found = cache.replaced_tokens(identity)
    previous_fp = cache.current_code(identity)
    if previous_fp and previous_fp != code_fp:
        previous = cache.code_tokens(previous_fp)
        if previous is not None and previous.refresh_token:
            found.append(previous.refresh_token)
    found.extend(c.refresh_token for c in candidates if c.refresh_token and c.code_fingerprint != code_fp)
    return [rt for rt in dict.fromkeys(found) if rt != refresh_token]


__all__ = (
    "Candidate",
    "Credentials",
    "Outcome",
    "SOURCE_CACHE",
    "SOURCE_CANDIDATES",
    "SOURCE_GIVEN",
    "SOURCE_NONE",
    "SOURCE_ZOHO",
    "ensure_access_token",
    "ensure_credentials",
    "exchange_code",
    "in_flight_error",
    "is_fresh",
)
