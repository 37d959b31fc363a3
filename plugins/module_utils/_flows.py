# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Token flows on top of the client and the token cache: exchange at most once, mint only when needed.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: the controller.

Modules (and later the lookup plugin) call these functions; they decide from local state first and
call Zoho only when nothing usable is known. Every decision that may call Zoho happens under the
cache's exclusive lock, so concurrent runs call Zoho once and the others reuse the result. In
check mode nothing is locked, written or sent; the functions predict instead.

Zoho's limits are state in the store (``_limits.py``): a mint takes a slot in its refresh token's
10-minute window before it is sent, and an exchange is checked against the client's live refresh
tokens on the same document as its in-flight record. A mint or an exchange that a limit forbids is
refused locally (``_limits.ZohoLimitError``), check mode included, and nothing is sent.
"""

from __future__ import annotations

import time
import typing as t
from collections import Counter
from dataclasses import dataclass, field, replace

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import credential_flaw, fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import ZohoOAuthClient
from ansible_collections.zohothrive.oauth.plugins.module_utils._dc import vet_api_domain
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import (
    ZohoCodeMayBeSpentError,
    ZohoInputError,
    ZohoInvalidCodeError,
    ZohoInvalidTokenError,
    ZohoOAuthError,
    ZohoThrottledError,
    ZohoTokenStoreError,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._ledger import ledger_identity
from ansible_collections.zohothrive.oauth.plugins.module_utils._limits import MINT_WINDOW, Counts, ZohoLimitError, cap_check, epoch_up
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import (
    IN_FLIGHT,
    MINT_CLAIM_SECONDS,
    CodeClaimedElsewhere,
    MintClaimedElsewhere,
    MintedElsewhere,
    TokenCache,
    is_absent,
    keep_known,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._tokens import DEFAULT_EXPIRES_IN, TokenSet

# At most this many distinct refresh tokens claimed for one code are checked at Zoho (one refresh each).
MAX_CLAIMED_TOKENS = 5

# Optional fields a new access token takes over from the stored tokens of its refresh token when Zoho's answer
# lacks them. The API domain is handled by ``_vetted`` (its known value must be acceptable for the server).
INHERITED_FIELDS = ("token_type", "scope")

# Where a token came from.
SOURCE_GIVEN = "given"
SOURCE_CACHE = "cache"
SOURCE_CANDIDATES = "candidates"
SOURCE_ZOHO = "zoho"
SOURCE_NONE = "none"


@dataclass
class Outcome:
    """``tokens`` is None when a check-mode run predicts that Zoho would be called.

    ``store_error`` is set when Zoho issued tokens but the token cache could not record them
    (disk full, read-only, permissions): the tokens are still returned, so that the caller can
    deliver them, and the caller must then report the store problem loudly.

    ``limits``: the store's counts after this run (before it in check mode), None without a store
    or when no store was read.
    """

    changed: bool
    tokens: TokenSet | None
    source: str
    store_error: str | None = None
    warnings: list[str] = field(default_factory=list)
    limits: Counts | None = field(default=None, compare=False)  # reporting only: not part of what the outcome is


@dataclass(frozen=True)
class Candidate:
    """A refresh token already deployed somewhere (for example a host's config file). Untrusted.

    A host can write anything into its own file, so only two things are taken from it: the
    refresh token, which is adopted only after a refresh at Zoho proves that it belongs to this
    client (the refresh also supplies the access token and ``api_domain``), and the fingerprint
    of the code it claims to come from, which only orders the candidates. Access tokens, expiry
    times and API domains reported by hosts are never read (issue 6, item 3).
    """

    code_fingerprint: str | None = None
    refresh_token: str | None = None

    @classmethod
    def from_mapping(cls, data: t.Mapping[str, t.Any]) -> Candidate:
        """Build from a mapping such as ``zoho_thrive_config``'s ``current_values``; other keys are ignored."""

        def text(name: str) -> str | None:
            value = data.get(name)
            found = str(value).strip() if value not in (None, "") else ""
            # The credential rule (printable ASCII only): a damaged value is never sent (the module warns about it).
            return found if found and credential_flaw(found) is None else None

        return cls(code_fingerprint=text("code_fingerprint"), refresh_token=text("refresh_token"))


@dataclass
class Credentials:
    """Result of :func:`ensure_credentials`. ``store_error`` and ``warnings`` as in :class:`Outcome`."""

    found: bool
    changed: bool = False
    exchanged: bool = False
    refreshed: bool = False
    code_fingerprint: str | None = None
    tokens: TokenSet | None = None
    source: str = SOURCE_NONE
    previous_refresh_tokens: list[str] = field(default_factory=list)
    store_error: str | None = None
    warnings: list[str] = field(default_factory=list)
    in_flight: bool = False  # not found, but the store records that the code was sent (tokens may be on the hosts)
    limits: Counts | None = field(default=None, compare=False)  # as in Outcome


def is_fresh(tokens: TokenSet | None, *, min_ttl: int, now: float) -> bool:
    return tokens is not None and bool(tokens.access_token) and tokens.expires_at - now > min_ttl


def min_ttl_warning(min_ttl: int) -> str | None:
    """A warning when ``min_ttl`` (seconds) is more than any access token can have left, else None.

    Zoho's access tokens live :data:`_tokens.DEFAULT_EXPIRES_IN` seconds (facts sheet, section 6), so
    with such a ``min_ttl`` every run mints, and Zoho allows 10 mints per refresh token per 10 minutes.
    The lookup refuses such a value, since it runs for every task and host that uses it.
    """
    if min_ttl < DEFAULT_EXPIRES_IN:
        return None
    return (
        f"`min_ttl` is {min_ttl} seconds, and Zoho's access tokens live {DEFAULT_EXPIRES_IN}: no token is ever fresh enough, so every "
        "run mints a new one, and Zoho allows 10 per refresh token per 10 minutes (the token store refuses the 11th). Use a "
        f"value below {DEFAULT_EXPIRES_IN} (the default is 300) unless a new token on every run is what you want."
    )


def in_flight_error(entry: t.Mapping[str, t.Any], cache: TokenCache) -> ZohoCodeMayBeSpentError:
    return ZohoCodeMayBeSpentError(
        f"The token cache {cache.path} (`token_cache`) records that this grant code was sent to {entry.get('accounts_url')} at "
        f"epoch {entry.get('started')} without tokens coming back (the run failed or was killed). The code may already be spent, "
        "so it is not sent again. Generate a new code and pass it as `code`. If Zoho did issue a refresh token, check Connected Apps in Zoho "
        "Accounts and revoke the unused one."
    )


def _persist(result: Outcome | Credentials, write: t.Callable[[], None]) -> None:
    """Record in the cache something Zoho has already issued, without ever losing it.

    A store failure here (disk full, read-only file system, permissions) must not discard
    tokens that exist only in memory now: the first failure is kept in ``result.store_error``,
    later writes of the same run are skipped, and the caller still receives the tokens, delivers
    them and then reports the store problem (issue 6, item 5).
    """
    if result.store_error is not None:
        return
    try:
        write()
    except ZohoTokenStoreError as exc:
        result.store_error = exc.msg


def _vetted(result: Outcome | Credentials, tokens: TokenSet, accounts_url: str, known: str | None = None) -> TokenSet:
    """``tokens`` with an API domain that may be written (``_dc.vet_api_domain``); a replaced one is warned about.

    An answer without an API domain keeps ``known`` (the stored value, if acceptable), else gets
    the data center's. The result is None only for an accounts server outside the table with
    nothing known; :func:`_completed` then gives the caller's default.
    """
    api_domain, warning = vet_api_domain(None if is_absent(tokens.api_domain) else tokens.api_domain, accounts_url, known=known or None)
    if warning:
        result.warnings.append(warning)
    return tokens if api_domain == tokens.api_domain else replace(tokens, api_domain=api_domain)


def _completed(tokens: TokenSet | None, default_api_domain: str | None) -> TokenSet | None:
    """What a flow returns: ``tokens`` with ``default_api_domain`` when they name no API domain (never ``""``).

    The default is not written to the cache: a stored value always comes from an answer, so a
    later change of the default (another ``data_center``) still takes effect.
    """
    if tokens is None or not is_absent(tokens.api_domain):
        return tokens
    return replace(tokens, api_domain=default_api_domain or None)


def result_warnings(result: Outcome | Credentials) -> list[str]:
    """Operator-facing warnings of a result, the store problem (if any) last and spelled out."""
    found = list(result.warnings)
    if result.store_error is not None:
        found.append(
            f"Zoho issued tokens, but the token cache could not record them: {result.store_error} The tokens are returned "
            "anyway so that they can be delivered; repair `token_cache` before the next run (the thrive_tokens role then "
            "recovers them from the hosts, without a new grant code)."
        )
    return found


class _OtherControllerGaveUp(Exception):
    """The other controller's in-flight record of the code is gone: Zoho refused its request, or it was never sent.

    Its refusal may have been its own (a wrong client secret): the code may still be usable, so
    this controller claims it once itself (:func:`_exchange_journaled`).
    """


def _exchange_journaled(
    client: ZohoOAuthClient,
    cache: TokenCache,
    code: str,
    code_fp: str,
    result: Outcome | Credentials,
    *,
    known_api_domain: str | None = None,
    allow_eviction: bool = False,
    **kwargs: t.Any,
) -> TokenSet:
    """:func:`_exchange_claimed`; when another controller's claim of the code is given up while waiting, claim it once from here."""
    for _attempt in range(2):
        try:
            return _exchange_claimed(client, cache, code, code_fp, result, known_api_domain=known_api_domain, allow_eviction=allow_eviction, **kwargs)
        except _OtherControllerGaveUp:
            continue
    raise ZohoInvalidCodeError(
        f"Other controllers sent this grant code to {client.accounts_url} twice while this one waited, and Zoho refused it both "
        f"times (their records in the token store {cache.backend.where} are gone, so no tokens were issued). If their client "
        "secret was wrong the code may still work: run again; otherwise generate a new code and pass it as `code`."
    )


def _exchange_claimed(
    client: ZohoOAuthClient,
    cache: TokenCache,
    code: str,
    code_fp: str,
    result: Outcome | Credentials,
    *,
    known_api_domain: str | None = None,
    allow_eviction: bool = False,
    **kwargs: t.Any,
) -> TokenSet:
    """Exchange under the caller's lock, with an in-flight record written immediately before the code may leave.

    Never sends a code that has a record. The record is written by the client's ``before_send``
    hook, after every local check that can fail (URL, CA bundle, options); a failure known to
    happen before anything was sent removes it again, so a still-valid code stays usable. A
    failure after sending keeps it: the code may be spent and is never sent again. Tokens that
    came back are returned even when the cache cannot store them (``result.store_error``).

    Zoho's refresh-token cap is checked on the document the in-flight record is written to
    (:func:`_cap_guard`): an exchange that would evict is refused, with nothing recorded or sent,
    unless ``allow_eviction``. The new refresh token is counted for the client, and the exchange
    as its first mint.
    """
    entry = cache.code_entry(code_fp)
    if entry and cache.shared and entry.get("state") == IN_FLIGHT:
        return _tokens_of_other_controller(client, cache, code_fp, result, entry)
    if entry:
        raise in_flight_error(entry, cache)
    recorded: list[bool] = []
    cap_warning: list[str] = []

    def record() -> None:
        cache.begin_exchange(
            code_fp, accounts_url=client.accounts_url, client_id=client.client_id, guard=_cap_guard(client, cache, allow_eviction, cap_warning)
        )
        recorded.append(True)

    try:
        tokens = client.exchange_code(code, before_send=record, **kwargs)
    except CodeClaimedElsewhere:
        # Another controller's check-and-set write of the in-flight record won: it sends the code, not this one.
        return _tokens_of_other_controller(client, cache, code_fp, result, cache.code_entry(code_fp) or {})
    except ZohoCodeMayBeSpentError:
        raise  # keep the in-flight record: the code must never be sent again
    except ZohoOAuthError as exc:
        if recorded:
            try:
                cache.abandon_exchange(code_fp)  # Zoho definitely refused it, or it was never sent
            except ZohoTokenStoreError as store:
                exc.msg = f"{exc.msg} The token cache could not clear its record of this attempt either ({store.msg})"
                exc.args = (exc.msg,)
        raise
    tokens = _vetted(result, tokens, client.accounts_url, known_api_domain)
    result.warnings.extend(cap_warning)
    identity = ledger_identity(client.client_id, client.accounts_url)
    _persist(result, lambda: cache.finish_exchange(code_fp, tokens, identity=identity, exchanged=True))
    return tokens


def _cap_guard(client: ZohoOAuthClient, cache: TokenCache, allow_eviction: bool, warnings: list[str]) -> t.Callable[[], None]:
    """The check of Zoho's refresh-token cap for :meth:`TokenCache.begin_exchange`, decided on the document being written.

    Raises ``_limits.ZohoRefreshTokenCapError``; its warning, if any, replaces the content of ``warnings``.
    """

    def guard() -> None:
        warnings[:] = [warning for warning in [_cap_decision(client, cache, allow_eviction)] if warning]

    return guard


def _cap_decision(client: ZohoOAuthClient, cache: TokenCache, allow_eviction: bool) -> str | None:
    """``_limits.cap_check`` for an exchange by ``client`` on the store's current document (raises, or a warning or None)."""
    return cap_check(
        cache.live_refresh_tokens(ledger_identity(client.client_id, client.accounts_url)),
        cache.pending_exchanges(client.client_id, client.accounts_url),
        allow_eviction=allow_eviction,
        client=f"{client.client_id} at {client.accounts_url}",
        where=cache.backend.where,
    )


def _tokens_of_other_controller(
    client: ZohoOAuthClient, cache: TokenCache, code_fp: str, result: Outcome | Credentials, entry: t.Mapping[str, t.Any]
) -> TokenSet:
    """On a shared store, another controller is exchanging the code: wait for its tokens, never send the code.

    Waits up to :func:`other_controller_wait` seconds. Raises :class:`ZohoCodeMayBeSpentError`
    if its exchange does not finish by then (it may have died after sending), and
    :class:`_OtherControllerGaveUp` if its record disappeared (Zoho refused its request, perhaps
    for its own wrong client secret; the caller then claims the code itself).
    """
    tokens = cache.wait_for_code(code_fp, timeout=other_controller_wait(client))
    if tokens is not None:
        result.changed = False
        result.source = SOURCE_CACHE
        if isinstance(result, Credentials):
            result.exchanged = False
        return tokens
    current = cache.code_entry(code_fp)
    if current is None:
        raise _OtherControllerGaveUp()
    raise in_flight_error(current or entry, cache)


def other_controller_wait(client: ZohoOAuthClient) -> float:
    """Seconds to wait for another controller's exchange of the same code: two of its requests, at least a minute."""
    return max(60.0, 2.0 * float(client.timeout))


def exchange_code(
    client: ZohoOAuthClient,
    code: str,
    *,
    cache: TokenCache | None,
    check_mode: bool,
    redirect_uri: str | None = None,
    code_verifier: str | None = None,
    default_api_domain: str | None = None,
    allow_refresh_token_eviction: bool = False,
) -> Outcome:
    """Exchange ``code`` at most once when a cache is given.

    Raises :class:`ZohoCodeMayBeSpentError` for a code with an in-flight record, and the
    client's errors. A cache that cannot store the answer sets ``store_error`` instead.
    ``default_api_domain`` is returned when neither the answer nor the cache names an API domain.

    With a cache, an exchange that would give the client a 21st live refresh token (Zoho then
    deletes the oldest) raises ``_limits.ZohoRefreshTokenCapError`` before anything is recorded
    or sent, check mode included, unless ``allow_refresh_token_eviction``; from 18 on, a warning.
    ``limits`` holds the client's live refresh tokens and the new refresh token's window.
    """
    outcome = _exchange_code(
        client, code, cache=cache, check_mode=check_mode, redirect_uri=redirect_uri, code_verifier=code_verifier, allow_eviction=allow_refresh_token_eviction
    )
    outcome.tokens = _completed(outcome.tokens, default_api_domain)
    if cache is not None:
        outcome.limits = cache.counts(outcome.tokens.refresh_token if outcome.tokens else None, ledger_identity(client.client_id, client.accounts_url))
    return outcome


def _exchange_code(
    client: ZohoOAuthClient,
    code: str,
    *,
    cache: TokenCache | None,
    check_mode: bool,
    redirect_uri: str | None,
    code_verifier: str | None,
    allow_eviction: bool,
) -> Outcome:
    if cache is None:
        if check_mode:
            return Outcome(True, None, SOURCE_NONE)
        outcome = Outcome(True, None, SOURCE_ZOHO)
        outcome.tokens = _vetted(outcome, client.exchange_code(code, redirect_uri=redirect_uri, code_verifier=code_verifier), client.accounts_url)
        return outcome
    code_fp = fingerprint(code)
    if check_mode:
        cache.load()  # read only: no lock file and no directory are created in check mode
        return _predict_exchange(client, cache, code_fp, allow_eviction)
    with cache.locked():
        tokens = cache.code_tokens(code_fp)
        if tokens is not None:
            return Outcome(False, tokens, SOURCE_CACHE)
        outcome = Outcome(True, None, SOURCE_ZOHO)
        outcome.tokens = _exchange_journaled(
            client, cache, code, code_fp, outcome, redirect_uri=redirect_uri, code_verifier=code_verifier, allow_eviction=allow_eviction
        )
    return outcome


def _predict_exchange(client: ZohoOAuthClient, cache: TokenCache, code_fp: str, allow_eviction: bool) -> Outcome:
    tokens = cache.code_tokens(code_fp)
    if tokens is not None:
        return Outcome(False, tokens, SOURCE_CACHE)
    entry = cache.code_entry(code_fp)
    if entry:
        raise in_flight_error(entry, cache)
    outcome = Outcome(True, None, SOURCE_NONE)
    warning = _cap_decision(client, cache, allow_eviction)  # the real run's refusal, predicted
    if warning:
        outcome.warnings.append(warning)
    return outcome


def ensure_access_token(
    client: ZohoOAuthClient,
    refresh_token: str,
    *,
    cache: TokenCache | None,
    min_ttl: int,
    check_mode: bool,
    given: TokenSet | None = None,
    known_api_domain: str | None = None,
    default_api_domain: str | None = None,
) -> Outcome:
    """Return an access token with more than ``min_ttl`` seconds left, minting only when needed.

    A new token's optional fields that Zoho's answer lacks (API domain, scope, token type) keep
    the values stored for the refresh token in ``cache``, else those of ``given``. Its API domain
    is then ``known_api_domain`` (the caller's known value for this refresh token, given without
    an access token); any known API domain is used only if it is acceptable for the accounts
    server (``_dc.vet_api_domain``). An API domain known nowhere is the data center's, else
    ``default_api_domain``. Never ``""``.

    With a cache, a mint takes a slot in the refresh token's 10-minute window first
    (:func:`_refresh_counted`); when the window is full, ``_limits.ZohoMintLimitError`` is raised
    and nothing is sent, check mode included. ``limits`` then holds the window, unless the given
    token was used (the store was not read).
    """
    if known_api_domain and given is not None and is_absent(given.api_domain):
        given = replace(given, api_domain=known_api_domain)
    outcome = _ensure_access_token(
        client, refresh_token, cache=cache, min_ttl=min_ttl, check_mode=check_mode, given=given, known_api_domain=known_api_domain
    )
    outcome.tokens = _completed(outcome.tokens, default_api_domain)
    if cache is not None and outcome.source != SOURCE_GIVEN:
        outcome.limits = cache.counts(refresh_token)
    return outcome


def _ensure_access_token(
    client: ZohoOAuthClient,
    refresh_token: str,
    *,
    cache: TokenCache | None,
    min_ttl: int,
    check_mode: bool,
    given: TokenSet | None,
    known_api_domain: str | None = None,
) -> Outcome:
    if is_fresh(given, min_ttl=min_ttl, now=time.time()):
        return Outcome(False, given, SOURCE_GIVEN)
    if cache is None:
        if check_mode:
            return Outcome(True, None, SOURCE_NONE)
        outcome = Outcome(True, None, SOURCE_ZOHO)
        outcome.tokens = _mint(client, None, refresh_token, outcome, known=given, known_api_domain=known_api_domain)
        return outcome
    if check_mode:
        cached = cache.load().access_token_for(refresh_token)
        if is_fresh(cached, min_ttl=min_ttl, now=time.time()):
            return Outcome(False, cached, SOURCE_CACHE)
        cache.check_mint(refresh_token)  # the real run's refusal, predicted
        return Outcome(True, None, SOURCE_NONE)

    def reusable(tokens: TokenSet) -> bool:
        return is_fresh(tokens, min_ttl=min_ttl, now=time.time())

    with cache.locked():
        cached = cache.access_token_for(refresh_token)
        known = keep_known(cached, given) if cached is not None else given
        outcome = Outcome(True, None, SOURCE_ZOHO)
        tokens, minted = _mint_once(client, cache, refresh_token, outcome, reusable=reusable, known=known, known_api_domain=known_api_domain)
    if not minted:
        return Outcome(False, tokens, SOURCE_CACHE)  # another run (or fork, or controller) minted it meanwhile
    outcome.tokens = tokens
    return outcome


def _mint_once(
    client: ZohoOAuthClient,
    cache: TokenCache,
    refresh_token: str,
    result: Outcome | Credentials,
    *,
    reusable: t.Callable[[TokenSet], bool],
    known: TokenSet | None = None,
    known_api_domain: str | None = None,
) -> tuple[TokenSet, bool]:
    """A usable access token for ``refresh_token``: the stored one if ``reusable``, else one minted here; ``(tokens, minted)``.

    Call it in the store's session (``cache.locked()``). With a file store the lock keeps other runs
    out, so the decision holds. A shared store has no such lock: a mint is claimed in the store
    first (``TokenCache.reserve_mint`` with ``reuse_if``), and while another controller's claim is in
    flight this one reads the store again until that controller's token is there, its claim is
    released, or :data:`_token_store.MINT_CLAIM_SECONDS` have passed (then ``ZohoTokenStoreError``,
    nothing sent). So controllers that share a store mint once.
    """
    deadline = cache.monotonic() + MINT_CLAIM_SECONDS
    interval = 0.25
    while True:
        stored = cache.access_token_for(refresh_token)
        if stored is not None and reusable(stored):
            return stored, False
        try:
            return _mint(client, cache, refresh_token, result, known=known, known_api_domain=known_api_domain, reuse_if=reusable), True
        except MintedElsewhere as exc:
            return exc.tokens, False
        except MintClaimedElsewhere:
            if cache.monotonic() >= deadline:
                raise ZohoTokenStoreError(
                    f"Another controller has been minting an access token from this refresh token through the token store "
                    f"{cache.backend.where} for {MINT_CLAIM_SECONDS} seconds without recording it; nothing was sent from here. "
                    "Run again: a claim that old no longer holds anyone back."
                ) from None
            cache.sleep(min(interval, max(0.0, deadline - cache.monotonic())))
            interval = min(interval * 2, 2.0)
            cache.load()


def _mint(
    client: ZohoOAuthClient,
    cache: TokenCache | None,
    refresh_token: str,
    result: Outcome | Credentials,
    *,
    known: TokenSet | None = None,
    known_api_domain: str | None = None,
    reuse_if: t.Callable[[TokenSet], bool] | None = None,
) -> TokenSet:
    """One refresh at Zoho, recorded in the cache (when there is one) before anything else can fail.

    ``known``: the stored (trusted) tokens of this refresh token, whose API domain, scope and
    token type the new token keeps when Zoho's answer lacks them. ``known_api_domain``: the API
    domain the caller knows for this refresh token, used when ``known`` names none. With a cache,
    the refresh is counted in the refresh token's window (:func:`_refresh_counted`); ``reuse_if``
    is passed to the first ``TokenCache.reserve_mint`` (it may raise ``MintedElsewhere`` or
    ``MintClaimedElsewhere``, with nothing sent).
    """
    stored_api_domain = known.api_domain if known is not None and not is_absent(known.api_domain) else None
    answer, slots = (
        (client.refresh(refresh_token), []) if cache is None else _refresh_counted(client, cache, refresh_token, result, reuse_if=reuse_if)
    )
    minted = _vetted(result, answer, client.accounts_url, stored_api_domain or known_api_domain)
    if known is not None:
        minted = keep_known(minted, known, INHERITED_FIELDS)
    if cache is not None:
        _persist(result, lambda: cache.remember_access_token(refresh_token, minted, settle=slots))
    return minted


def _refresh_counted(
    client: ZohoOAuthClient,
    cache: TokenCache,
    refresh_token: str,
    result: Outcome | Credentials,
    *,
    reuse_if: t.Callable[[TokenSet], bool] | None = None,
) -> tuple[TokenSet, list[str]]:
    """``client.refresh`` with every attempt counted in the refresh token's 10-minute window before it is sent.

    Returns the answer and the slots taken (``TokenCache.reserve_mint``), which the caller settles
    when it records the new token. A retry takes another slot first, because the attempt before
    may have minted. Raises ``_limits.ZohoMintLimitError`` when the window is full (nothing more
    is sent), and the client's errors; then the slot of a request that Zoho refused, or that was
    never sent, is given back; one whose outcome is unknown keeps counting. Zoho's throttle answer
    blocks the refresh token in the store for the rest of a window. A file store that cannot be
    written does not stop the mint (the run holds its lock, so nobody else mints meanwhile): it is
    sent uncounted and ``result.store_error`` says why. A shared store that cannot be written
    raises ``ZohoTokenStoreError`` and nothing is sent, since other controllers may be minting.
    """
    slots: list[str] = []
    slot = _reserve(cache, refresh_token, result, reuse_if=reuse_if)
    if slot is not None:
        slots.append(slot)
    previous = client.on_retry

    def on_retry(message: str) -> None:
        again = _reserve(cache, refresh_token, result)  # may refuse: then the retry is not sent
        if again is not None:
            slots.append(again)
        if previous is not None:
            previous(message)

    client.on_retry = on_retry
    try:
        return client.refresh(refresh_token), slots
    except (ZohoLimitError, ZohoTokenStoreError):
        raise  # from on_retry: the attempts before keep their slots
    except ZohoThrottledError as exc:
        until = epoch_up(cache.clock()) + MINT_WINDOW
        if _after_failure(exc, lambda: cache.block_minting(refresh_token, until, release=slots[-1] if slots else None)):
            exc.msg = f"{exc.msg} The token store sends nothing more for this refresh token until epoch {until}."
            exc.args = (exc.msg,)
        raise
    except ZohoOAuthError as exc:
        if slots and not exc.outcome_unknown:
            _after_failure(exc, lambda: cache.release_mint(refresh_token, slots[-1]))
        if isinstance(exc, ZohoInvalidCodeError):  # revoked, or deleted by Zoho's cap: no longer a live refresh token
            _after_failure(exc, lambda: cache.forget_live_refresh_token(ledger_identity(client.client_id, client.accounts_url), refresh_token))
        raise
    finally:
        client.on_retry = previous


def _reserve(
    cache: TokenCache, refresh_token: str, result: Outcome | Credentials, *, reuse_if: t.Callable[[TokenSet], bool] | None = None
) -> str | None:
    """A slot in the refresh token's window (``TokenCache.reserve_mint``); None when a file store cannot be written."""
    try:
        return cache.reserve_mint(refresh_token, reuse_if=reuse_if)
    except ZohoLimitError:
        raise
    except ZohoTokenStoreError as exc:
        if cache.shared:
            raise
        # As for tokens already issued (_persist): a failing file store must not stop the run from getting an access token.
        if result.store_error is None:
            result.store_error = exc.msg
        return None


def _after_failure(exc: ZohoOAuthError, change: t.Callable[[], t.Any]) -> bool:
    """Record Zoho's limits after a failed request; True if recorded. A store problem is added to ``exc``'s message instead."""
    try:
        change()
        return True
    except ZohoTokenStoreError as store:
        exc.msg = f"{exc.msg} The token store could not record this for Zoho's limits: {store.msg}"
        exc.args = (exc.msg,)
        return False


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
    default_api_domain: str | None = None,
    allow_refresh_token_eviction: bool = False,
) -> Credentials:
    """The role's controller step: a refresh token for the current code, and a fresh access token.

    Order: the cache (tokens stored for the code), then ``candidates`` that claim the same code
    (each adopted only after one refresh at Zoho proves it belongs to this client, unless the
    cache already minted from it; a controller that lost its cache never re-exchanges a code
    whose tokens are deployed), then, if ``allow_exchange``, one exchange. Without ``code`` the
    cache's current code for this client is used, else the code the candidates agree on. With
    ``min_ttl`` None no access token is needed and nothing is refreshed, except the proof.

    ``found`` is False (and nothing is sent) when nothing is known and exchanging is not allowed.
    ``store_error`` is set, and the tokens are still returned, when Zoho issued tokens that the
    cache could not record.

    With ``track_replaced``, the refresh token of the cache's previous code for this client is
    kept in the cache until it is revoked, and returned in ``previous_refresh_tokens`` on every
    run. Tokens reported by candidates are never tracked: the role did not necessarily mint them.

    An optional field that Zoho's answer lacks never erases a stored one: a new access token
    keeps the API domain, scope and token type stored for the code; an exchange without an API
    domain keeps the one stored for the client's previous code. An API domain known nowhere is
    the data center's, else ``default_api_domain``; the result never holds ``""``.

    Zoho's limits (``_limits.py``), check mode included: a mint is refused when its refresh
    token's 10-minute window is full, and an exchange that would give the client a 21st live
    refresh token unless ``allow_refresh_token_eviction``; both with nothing sent. ``limits``
    holds the refresh token's window and the client's live refresh tokens.
    """
    identity = ledger_identity(client.client_id, client.accounts_url)
    options = {"allow_eviction": allow_refresh_token_eviction, "track": track_replaced}
    if check_mode:
        cache.load()
        result = _credentials(client, cache, identity, code, candidates, allow_exchange, min_ttl, check_mode=True, **options)
    else:
        with cache.locked():
            result = _credentials(client, cache, identity, code, candidates, allow_exchange, min_ttl, check_mode=False, **options)
    result.tokens = _completed(result.tokens, default_api_domain)
    result.limits = cache.counts(result.tokens.refresh_token if result.tokens is not None else None, identity)
    return result


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
    allow_eviction: bool,
) -> Credentials:
    code_fp = fingerprint(code) if code else cache.current_code(identity) or _agreed_fingerprint(candidates)
    if code_fp is None:
        if allow_exchange:
            raise ZohoInputError(
                "No grant code was given, and neither the token cache nor the given candidates hold tokens for this client. "
                "Generate a self-client code in the Zoho API console and pass it as `code`."
            )
        return Credentials(found=False)

    result = Credentials(found=True, code_fingerprint=code_fp)
    tokens = cache.code_tokens(code_fp)
    result.source = SOURCE_CACHE
    if tokens is None:
        tokens = _adopt(client, cache, code_fp, candidates, result, check_mode=check_mode, known_api_domain=_client_api_domain(cache, identity))
        entry = cache.code_entry(code_fp)
        if tokens is not None:
            result.source = SOURCE_CANDIDATES
            if not check_mode:
                # Proven tokens of this code are deployed: record them, even over an in-flight record (nothing is sent).
                proven = tokens
                _persist(result, lambda: cache.finish_exchange(code_fp, proven, identity=identity))
        elif not allow_exchange:
            # Nothing is sent either way; a caller that may still look elsewhere (the hosts) gets to.
            return Credentials(found=False, code_fingerprint=code_fp, warnings=result.warnings, in_flight=entry is not None)
        elif entry and not (cache.shared and entry.get("state") == IN_FLIGHT):
            raise in_flight_error(entry, cache)  # on a shared store, _exchange_journaled waits for the other controller
        elif code is None:
            raise ZohoInputError("The stored tokens for this client are gone. Pass a new grant code as `code`.")
        else:
            result.exchanged = result.changed = True
            result.source = SOURCE_ZOHO
            known_api_domain = _client_api_domain(cache, identity)
            if check_mode:
                if entry is None:  # the real run's refusal or warning, predicted (another controller's exchange of it: none)
                    result.warnings.extend(warning for warning in [_cap_decision(client, cache, allow_eviction)] if warning)
                if track:
                    result.previous_refresh_tokens = _replaced(cache, identity, code_fp, None)
                # Only the API domain is predictable: what an answer without one gives (the real run's, at a table server).
                predicted = vet_api_domain(None, client.accounts_url, known=known_api_domain)[0]
                result.tokens = TokenSet(access_token="", expires_in=0, expires_at=0, api_domain=predicted)
                return result
            tokens = _exchange_journaled(client, cache, code, code_fp, result, known_api_domain=known_api_domain, allow_eviction=allow_eviction)

    if tokens is None:  # every branch above either set tokens or returned
        raise ZohoTokenStoreError("internal error: no tokens after the exchange step; nothing else was sent.")
    if not tokens.refresh_token:
        raise ZohoInputError(
            "The tokens for this grant code have no refresh token: the code was generated for online access. Generate a "
            "self-client code with offline access (the default) and pass it as `code`."
        )
    if track:
        result.previous_refresh_tokens = _replaced(cache, identity, code_fp, tokens.refresh_token)
        if not check_mode:
            pending = result.previous_refresh_tokens
            _persist(result, lambda: cache.add_replaced(identity, pending))
    if not check_mode:
        _persist(result, lambda: cache.set_current_code(identity, code_fp))

    if min_ttl is not None:
        now = time.time()
        best = _best_access_token(tokens, cache.access_token_for(tokens.refresh_token))
        if is_fresh(best, min_ttl=min_ttl, now=now):
            tokens = best
        elif check_mode:
            cache.check_mint(tokens.refresh_token)  # the real run's refusal, predicted
            result.refreshed = result.changed = True
            tokens = replace(tokens, access_token="")
        else:

            def reusable(candidate: TokenSet) -> bool:
                return is_fresh(candidate, min_ttl=min_ttl, now=time.time())

            fresh, minted = _mint_once(client, cache, tokens.refresh_token, result, reusable=reusable, known=tokens)
            tokens = replace(fresh, refresh_token=fresh.refresh_token or tokens.refresh_token)
            if minted:
                result.refreshed = result.changed = True
    result.tokens = tokens
    return result


def _client_api_domain(cache: TokenCache, identity: str) -> str | None:
    """The API domain stored for the client's current code (same client, same accounts server: same data center)."""
    current_fp = cache.current_code(identity)
    try:
        current = cache.code_tokens(current_fp) if current_fp else None
    except ZohoTokenStoreError:
        return None  # a damaged entry of another code only costs this fallback; the code in hand is handled as before
    return current.api_domain if current is not None and not is_absent(current.api_domain) else None


def _agreed_fingerprint(candidates: t.Sequence[Candidate]) -> str | None:
    fingerprints = {c.code_fingerprint for c in candidates if c.code_fingerprint and c.refresh_token}
    if len(fingerprints) > 1:
        raise ZohoInputError(
            f"`candidates` (the hosts' config files) hold tokens from {len(fingerprints)} different grant codes "
            "and no grant code was given to choose between them. Pass the current grant code as `code`."
        )
    return fingerprints.pop() if fingerprints else None


def _adopt(
    client: ZohoOAuthClient,
    cache: TokenCache,
    code_fp: str,
    candidates: t.Sequence[Candidate],
    result: Credentials,
    *,
    check_mode: bool,
    known_api_domain: str | None = None,
) -> TokenSet | None:
    """The candidate refresh token of ``code_fp`` proven to belong to this client, with a fresh access token; else None.

    A refresh token from which the (trusted) cache has already minted is proven without a call.
    Otherwise one refresh at Zoho per distinct claimed token proves it and supplies the access
    token, expiry and API domain; one that Zoho refuses (``invalid_code``/``invalid_token``:
    forged, revoked or another client's) is skipped with a warning. A grant code yields exactly
    one refresh token, so when more than one claimed token proves valid, some hosts were altered
    (for example given an older genuine token under the current code's fingerprint, to undo a
    rotation): nothing is adopted and :class:`ZohoInputError` says so. So is a claim of more than
    :data:`MAX_CLAIMED_TOKENS` distinct tokens, before anything is sent. Check mode sends
    nothing: it predicts the refresh with the most common claim.
    """
    claims = [token for token, _count in Counter(c.refresh_token for c in candidates if c.code_fingerprint == code_fp and c.refresh_token).most_common()]
    if len(claims) > MAX_CLAIMED_TOKENS:
        raise ZohoInputError(_ambiguous_claims(f"{len(claims)} different refresh tokens", claims, checked=False))
    proven: list[tuple[str, TokenSet, list[str]]] = []
    for refresh_token in claims:
        cached = cache.access_token_for(refresh_token)
        if cached is not None:
            return replace(cached, refresh_token=refresh_token)
        if check_mode:
            cache.check_mint(refresh_token)  # the proof is a mint: the real run's refusal, predicted
            result.refreshed = result.changed = True
            predicted = vet_api_domain(None, client.accounts_url, known=known_api_domain)[0]  # what an answer without one gives
            return TokenSet(access_token="", refresh_token=refresh_token, expires_in=0, expires_at=0, api_domain=predicted)
        try:
            answer, slots = _refresh_counted(client, cache, refresh_token, result)
            minted = _vetted(result, answer, client.accounts_url, known_api_domain)
        except (ZohoInvalidCodeError, ZohoInvalidTokenError):
            result.warnings.append(
                f"A refresh token that hosts report for this grant code (fingerprint {fingerprint(refresh_token)[:12]}...) was "
                "refused by Zoho; it is not used."
            )
            continue
        proven.append((refresh_token, minted, slots))
    if len(proven) > 1:
        raise ZohoInputError(_ambiguous_claims(f"{len(proven)} different refresh tokens that Zoho accepts", [rt for rt, _m, _s in proven], checked=True))
    if not proven:
        return None
    refresh_token, minted, slots = proven[0]
    _persist(result, lambda: cache.remember_access_token(refresh_token, minted, settle=slots))
    result.refreshed = result.changed = True
    return replace(minted, refresh_token=minted.refresh_token or refresh_token)


def _ambiguous_claims(what: str, tokens: t.Sequence[str], *, checked: bool) -> str:
    shown = ", ".join(f"{fingerprint(token)[:12]}..." for token in tokens[:MAX_CLAIMED_TOKENS])
    return (
        f"The hosts' config files claim {what} for the current grant code (fingerprints {shown}), but a code yields "
        f"exactly one, so some files were changed by hand or tampered with. {'None' if checked else 'Nothing was sent and none'} "
        "of them was adopted. Restore the controller's token store (`token_cache`) if you have it, or check the hosts' files; a new grant "
        "code replaces them all."
    )


def _best_access_token(tokens: TokenSet, cached: TokenSet | None) -> TokenSet:
    """The trusted access token of this refresh token that expires last: the code's own or the cache's newest."""
    options = [tokens]
    if cached is not None:
        options.append(keep_known(replace(cached, refresh_token=tokens.refresh_token), tokens))
    usable = [o for o in options if o.access_token]
    return max(usable, key=lambda o: o.expires_at) if usable else tokens


def _replaced(cache: TokenCache, identity: str, code_fp: str, refresh_token: str | None) -> list[str]:
    """Refresh tokens this code replaces: those already awaiting revocation and the cache's previous current code's.

    Only tokens the cache recorded for this client (exchanged by it, or adopted after proof) are
    ever listed; a token found only on hosts (provisioned by hand, for example) never is.
    """
    found = cache.replaced_tokens(identity)
    previous_fp = cache.current_code(identity)
    if previous_fp and previous_fp != code_fp:
        previous = cache.code_tokens(previous_fp)
        if previous is not None and previous.refresh_token:
            found.append(previous.refresh_token)
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
    "result_warnings",
)
