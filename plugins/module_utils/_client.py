# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""HTTP client for Zoho Accounts' token endpoints: exchange, refresh and revoke.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: the controller.

Rules this file enforces (reliability-security notes, sections 1 and 4):
- secrets travel only in a form-encoded POST body, never in the URL;
- redirects are never followed (a 307/308 would re-send the body elsewhere);
- TLS is verified unless the operator says otherwise; ~/.netrc is never consulted;
- success means a JSON object with a non-empty ``access_token`` and no ``error`` key, in a 2xx or
  4xx answer, because Zoho answers most errors with HTTP 200;
- every other answer is classified by :data:`ANSWER_TABLE` by what it proves about the request:
  not processed (the grant code is still usable), refused by Zoho, or unknown (the code may be
  spent); see :func:`classify_answer` (issue 7);
- retries: anything whose request cannot have been sent, or was proven not processed by a
  throttle (429, 425), may be retried; refresh and revoke are also retried on 5xx, 2xx answers
  that are not JSON, and failures after sending, with capped full-jitter backoff that honours
  ``Retry-After``. A grant code that may have reached Zoho is never re-sent;
- every wait is bounded: ``timeout`` is a total deadline per attempt (connect, send, headers and
  body), kept by socket timeouts and by a watchdog that cuts the connection once it has passed;
  answers over :data:`MAX_RESPONSE_BYTES` are refused, and retries stop once
  ``RetryPolicy.max_total`` seconds have passed;
- options are checked before anything is recorded or sent, and every failure inside the client
  surfaces as a typed :class:`ZohoOAuthError` (never a raw exception), classified as "nothing
  was sent" or "the request may have reached Zoho".
"""

from __future__ import annotations

import email.utils
import functools
import http
import json
import math
import os
import random
import re
import socket
import ssl
import threading
import time
import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

from ansible_collections.zohothrive.oauth.plugins.module_utils._dc import check_origin, host_problem
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import (
    ZohoCodeMayBeSpentError,
    ZohoInputError,
    ZohoNotProcessedError,
    ZohoOAuthError,
    ZohoProtocolError,
    ZohoServerError,
    ZohoTLSError,
    ZohoTransportError,
    ZohoUnexpectedError,
    answer_snippet,
    api_error,
    operation_name,
    sanitize_server_text,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._tokens import DEFAULT_EXPIRES_IN, TokenSet, optional_text, parse_scope

try:
    import requests
    from requests.adapters import HTTPAdapter
    from requests.auth import AuthBase
    from urllib3.exceptions import ConnectTimeoutError, LocationValueError, NewConnectionError
except ImportError as _import_error:  # pragma: no cover - exercised by the sanity import test
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR: ImportError | None = _import_error
    AuthBase = HTTPAdapter = object  # type: ignore[assignment,misc]
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

TOKEN_PATH = "/oauth/v2/token"
REVOKE_PATH = "/oauth/v2/token/revoke"
USER_AGENT = "zohothrive.oauth (Ansible collection)"
DEFAULT_TIMEOUT = 30
CONNECT_TIMEOUT_CAP = 10
MIN_TIMEOUT = 1  # seconds; bounds of the timeout option (the client itself accepts any value above 0)
MAX_TIMEOUT = 3600
MAX_RESPONSE_BYTES = 1024 * 1024  # a Zoho token answer is well under 2 KiB
_READ_CHUNK = 16 * 1024
_SNIPPET_BYTES = 16 * 1024  # read of an answer whose status alone decides: enough for a message
_WATCHDOG_GRACE = 0.5  # seconds after the deadline: a socket read timing out at the deadline reports first, with its own message


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with full-jitter exponential backoff."""

    attempts: int = 4  # first try plus up to three retries
    base_delay: float = 1.0
    max_delay: float = 8.0
    max_retry_after: float = 30.0  # a longer Retry-After fails fast instead of blocking the play
    max_total: float = 60.0  # no retry starts later than this many seconds after the first attempt started


NO_RETRY = RetryPolicy(attempts=1)


def parse_expires_in(payload: t.Mapping[str, t.Any], *, secrets: t.Iterable[str] = ()) -> int:
    """Lifetime in seconds: ``expires_in_sec`` when present (legacy answers, where
    ``expires_in`` is then in milliseconds), else ``expires_in``; :data:`DEFAULT_EXPIRES_IN` when
    both are absent (missing, null, empty or blank). Raises :class:`ZohoProtocolError` for a
    value that is not a whole number of seconds between 1 and 366 days; the value quoted in its
    message is redacted (``secrets``: the values sent in the request)."""
    raw = payload.get("expires_in_sec")
    if _absent(raw):
        raw = payload.get("expires_in")
    if _absent(raw):
        return DEFAULT_EXPIRES_IN
    try:
        seconds = int(str(raw).strip())
    except (TypeError, ValueError):
        raise ZohoProtocolError(
            f"Zoho's answer has a non-numeric expiry ({sanitize_server_text(raw, limit=40, secrets=secrets)!r}); cannot compute when the access "
            "token expires."
        ) from None
    if seconds <= 0 or seconds > 366 * 86400:
        raise ZohoProtocolError(f"Zoho's answer has an implausible expiry of {seconds} seconds.")
    return seconds


def _absent(value: t.Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_token_response(payload: t.Any, *, now: float, secrets: t.Iterable[str] = ()) -> TokenSet:
    """Apply the success rule to a decoded JSON answer. Raises :class:`ZohoProtocolError` unless it is a success.

    Optional fields that are absent, null, empty or blank come out as None (see :class:`TokenSet`).
    ``secrets`` (the values sent in the request) are hidden in any server text a message quotes.
    """
    if not isinstance(payload, dict):
        raise ZohoProtocolError(f"Zoho answered with JSON of type {type(payload).__name__}, not an object.")
    if not _is_token_success(payload):
        raise ZohoProtocolError("Zoho's answer carries no access_token.")
    access_token = payload["access_token"]
    expires_in = parse_expires_in(payload, secrets=secrets)
    return TokenSet(
        access_token=access_token,
        refresh_token=optional_text(payload.get("refresh_token")),
        api_domain=optional_text(payload.get("api_domain")),
        token_type=optional_text(payload.get("token_type")),
        expires_in=expires_in,
        expires_at=int(now) + expires_in,
        scope=parse_scope(payload.get("scope")),
    )


#: The form fields whose values are secret (the grant code, client secret, refresh token or token to revoke, PKCE
#: verifier). Server text never quotes them in any spelling: see :func:`_errors.redact`. ``grant_type`` and
#: ``redirect_uri`` are not secret, and hiding pieces of them would hide ordinary words; ``client_id`` is not secret
#: and always has the 1000. shape that is hidden anyway.
SECRET_FORM_FIELDS = ("client_secret", "code", "code_verifier", "refresh_token", "token")


def sent_secrets(form: t.Mapping[str, t.Any]) -> list[str]:
    """The secret values of a request's form, for :func:`_errors.redact`."""
    return [value for name, value in form.items() if name in SECRET_FORM_FIELDS and isinstance(value, str) and value]


def _is_token_success(payload: t.Any) -> bool:
    """The success rule of the token endpoint: a JSON object with a non-empty ``access_token`` and no ``error`` key."""
    if not isinstance(payload, dict) or "error" in payload:
        return False
    access_token = payload.get("access_token")
    return isinstance(access_token, str) and bool(access_token.strip())


def _is_revoke_success(payload: t.Any) -> bool:
    return isinstance(payload, dict) and payload.get("status") == "success" and "error" not in payload


#: The statuses at which Zoho refuses a request with its error object: HTTP 200 for the token endpoint's errors
#: (confirmed by raw answers: {"error": "invalid_client"} and others come with 200), and 400 for the revocation of an
#: unknown token and, by some reports, for the "Access Denied" throttle. A proxy that forwarded the request reports its
#: own failure with another status (408, 502, 504...), so a JSON error at any other status proves nothing about Zoho.
ZOHO_REFUSAL_STATUSES = frozenset({200, 400})
_ZOHO_ERROR_KEYS = frozenset({"error", "error_description", "error_uri", "status"})


def _is_zoho_error(payload: t.Any) -> bool:
    """Zoho's own error shape: a JSON object whose ``error`` is Zoho's error code, a non-empty string.

    Besides ``error`` it may hold only ``error_description`` and ``error_uri`` (strings or null) and a
    textual ``status`` such as ``"failure"`` (Zoho's throttle answer). Anything else is another
    server's error: an object as ``error`` (``{"error": {"code": 409}}``), a numeric ``status``, or
    fields like ``path``, ``timestamp`` or ``message`` (Spring, Envoy, nginx and API gateways).
    """
    if not isinstance(payload, dict):
        return False
    error = payload.get("error")
    if not isinstance(error, str) or not error.strip() or not set(payload) <= _ZOHO_ERROR_KEYS:
        return False
    for key in ("error_description", "error_uri"):
        if payload.get(key) is not None and not isinstance(payload[key], str):
            return False
    status = payload.get("status", "failure")
    return isinstance(status, str) and not status.strip().lstrip("+-").isdigit()


def _has_error(payload: t.Any) -> bool:
    """True for a JSON object with an ``error`` key of any shape (for messages: it is not proof of Zoho's refusal)."""
    return isinstance(payload, dict) and "error" in payload


# ---------------------------------------------------------------------------------------------
# What an HTTP answer proves about the request (issue 7, item 2). The one table the client uses.

SUCCESS = "success"  # the request was processed and succeeded
NOT_PROCESSED = "not_processed"  # proven not processed by Zoho's token endpoint: a grant code in it is still usable
REFUSED = "refused"  # Zoho processed the request and refused it, naming the reason
UNKNOWN = "unknown"  # the request may have been processed: a grant code in it may be spent

RETRY_NEVER = "never"
RETRY_ALWAYS = "always"  # proven not processed and transient: any operation may repeat it, a grant code exchange too
RETRY_IDEMPOTENT = "idempotent"  # refresh and revoke only (repeating them is harmless)

ANY_BODY = "any"
SUCCESS_BODY = "success"  # exchange/refresh: a JSON object with a non-empty access_token and no error key; revoke: status=success
ERROR_BODY = "error"  # Zoho's own error object: see _is_zoho_error
NOT_JSON_BODY = "not_json"  # empty, HTML, text, cut short, or otherwise not valid JSON


class _NotJSON:
    """The decoded "payload" of a body that is not valid JSON (JSON ``null`` decodes to None, so None cannot mean that)."""

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: t.Any = _NotJSON()

OPERATIONS = frozenset({"exchange", "refresh", "revoke"})


@dataclass(frozen=True)
class AnswerClass:
    """One row of :data:`ANSWER_TABLE`.

    A row matches an answer when its HTTP status is in ``statuses`` (empty: any status), its body
    meets ``body`` (one of the ``*_BODY`` conditions) and the operation is in ``operations``.
    ``outcome`` is what the answer proves (``SUCCESS``, ``NOT_PROCESSED``, ``REFUSED`` or
    ``UNKNOWN``); ``retry`` whether another attempt may follow (``RETRY_*``). ``answer``
    describes the answers of the row, ``proves`` why the outcome follows and ``fix`` what the
    operator should check (all for messages and the ``zohothrive.oauth.answers`` doc fragment).
    """

    name: str
    statuses: frozenset[int]
    outcome: str
    answer: str
    proves: str
    fix: str = ""
    body: str = ANY_BODY
    operations: frozenset[str] = OPERATIONS
    retry: str = RETRY_NEVER


def _statuses(*codes: int | range) -> frozenset[int]:
    found: set[int] = set()
    for code in codes:
        found.update(code if isinstance(code, range) else (code,))
    return frozenset(found)


_ORIGIN_FIX = (
    "Set `accounts_url` to the bare origin of a Zoho accounts server, such as https://accounts.zoho.eu (the collection adds "
    "/oauth/v2/token itself), or leave it unset and set `data_center`"
)
_PROXY_FIX = "Check the proxy settings (HTTPS_PROXY, ALL_PROXY, NO_PROXY) of the host that runs the module, and `accounts_url`"

#: Every answer class, in matching order (the first matching row wins). Rows are chosen conservatively: an answer is
#: NOT_PROCESSED only when HTTP semantics (RFC 9110, 6585, 8470) say that the server refused the request before acting
#: on it, in a way that a server which consumed the code would not use. Anything else that is not Zoho's own success or
#: error answer is UNKNOWN. 408 and 503 are UNKNOWN: proxies send them after forwarding the request (an upstream timeout
#: or reset). A 303, and in practice a 301 or 302, may follow a processed POST; a 307 or 308 asks to repeat the request.
#: Only Zoho's own error object at a status Zoho uses for refusals (:data:`ZOHO_REFUSAL_STATUSES`) is REFUSED: a proxy
#: or gateway may report its own failure as JSON with an "error" key too (Spring: {"status": 408, "error": "Request
#: Timeout", "path": ...}), and such an answer stays in the row of its status.
ANSWER_TABLE: tuple[AnswerClass, ...] = (
    AnswerClass(
        "success",
        _statuses(range(200, 300), range(400, 500)),
        SUCCESS,
        "a 2xx or 4xx answer with tokens: a JSON object with a non-empty access_token and no error key (revocation: status=success)",
        "Zoho processed the request and issued the tokens",
        body=SUCCESS_BODY,
    ),
    AnswerClass(
        "redirect-elsewhere",
        _statuses(307, 308),
        NOT_PROCESSED,
        "a redirect that asks to repeat the request elsewhere (HTTP 307, 308)",
        "the server did not process the request but sent it elsewhere; redirects are never followed because they would re-send the secrets",
        "Set `accounts_url` (or `data_center`) to the accounts server that answers itself",
    ),
    AnswerClass(
        "no-endpoint",
        _statuses(404, 410),
        NOT_PROCESSED,
        "not found or gone (HTTP 404, 410), whatever the body",
        "there is no token endpoint at this address",
        _ORIGIN_FIX,
    ),
    AnswerClass(
        "method-not-allowed",
        _statuses(405, 501),
        NOT_PROCESSED,
        "method not allowed or not implemented (HTTP 405, 501)",
        "the server at this address does not accept the POST request, so it is not a Zoho token endpoint",
        _ORIGIN_FIX,
    ),
    AnswerClass(
        "proxy-authentication",
        _statuses(407),
        NOT_PROCESSED,
        "proxy authentication required (HTTP 407)",
        "a proxy between this host and Zoho asks for credentials and did not forward the request",
        "Give the proxy's credentials in the HTTPS_PROXY URL, or list the accounts server in NO_PROXY",
    ),
    AnswerClass(
        "network-authentication",
        _statuses(511),
        NOT_PROCESSED,
        "network authentication required (HTTP 511)",
        "a captive portal or network gateway intercepted the request before it reached Zoho",
        "Sign this host in to the network, or use a network with direct access to Zoho",
    ),
    AnswerClass(
        "request-refused",
        _statuses(411, 413, 414, 415, 417, 431),
        NOT_PROCESSED,
        "the request's size or form refused before it was read (HTTP 411, 413, 414, 415, 417, 431)",
        "the server refused to read the request, so it could not see the code or the token in its body",
        "Something between this host and Zoho (a proxy or firewall) limits or rewrites requests. " + _PROXY_FIX,
    ),
    AnswerClass(
        "wrong-server-or-protocol",
        _statuses(421, 426, 505),
        NOT_PROCESSED,
        "misdirected request, upgrade required or HTTP version not supported (HTTP 421, 426, 505)",
        "the server does not serve this host name or protocol for the request",
        _PROXY_FIX,
    ),
    AnswerClass(
        "throttled",
        _statuses(425, 429),
        NOT_PROCESSED,
        "too many requests or too early (HTTP 429, 425), whatever the body",
        "the server throttled the request before processing it",
        "Wait a few minutes (or what Retry-After says) and run again; the request is retried within the retry limits",
        retry=RETRY_ALWAYS,
    ),
    AnswerClass(
        "revoke-refused",
        _statuses(400),
        REFUSED,
        "a revocation answered with HTTP 400, whatever the body",
        "Zoho answers the revocation of an unknown, revoked or foreign token with HTTP 400",
        operations=frozenset({"revoke"}),
    ),
    AnswerClass(
        "zoho-error",
        ZOHO_REFUSAL_STATUSES,
        REFUSED,
        "HTTP 200 or 400 with Zoho's own error object: a JSON object whose error is a string, such as {\"error\": \"invalid_code\"}, "
        "with at most error_description, error_uri and a textual status besides",
        "Zoho processed the request and refused it (Zoho answers most errors with HTTP 200)",
        body=ERROR_BODY,
    ),
    AnswerClass(
        "server-error",
        _statuses(range(500, 600)),
        UNKNOWN,
        "any other 5xx answer (500, 502, 503, 504...), whatever the body",
        "Zoho, or a proxy that may already have forwarded the request, failed while handling it",
        "Try again later",
        retry=RETRY_IDEMPOTENT,
    ),
    AnswerClass(
        "other-redirect",
        _statuses(range(300, 400)),
        UNKNOWN,
        "any other redirect (HTTP 300 to 306)",
        "a 303, and in practice a 301 or 302, may be sent after the request was processed; redirects are never followed",
        "Check `accounts_url` and `data_center`",
    ),
    AnswerClass(
        "2xx-not-json",
        _statuses(range(200, 300)),
        UNKNOWN,
        "a 2xx answer that is not JSON: HTML, text, empty or cut short",
        "a proxy, captive portal or outage is in the way, or `accounts_url` does not point at a Zoho accounts server",
        body=NOT_JSON_BODY,
        retry=RETRY_IDEMPOTENT,
    ),
    AnswerClass(
        "2xx-without-tokens",
        _statuses(range(200, 300)),
        UNKNOWN,
        "any other 2xx answer with JSON: neither tokens nor Zoho's error object at HTTP 200 (an error object of another "
        "shape, or at 201 to 299, included)",
        "the answer does not follow Zoho's protocol",
    ),
    AnswerClass(
        "other-4xx",
        _statuses(range(400, 500)),
        UNKNOWN,
        "any other 4xx answer (400 without Zoho's error object; 401, 403, 408, 409, 422... whatever the body, a JSON error "
        "object included)",
        "it proves no refusal by Zoho, and it may come from a proxy after the request was forwarded",
    ),
    AnswerClass(
        "other-status",
        frozenset(),
        UNKNOWN,
        "any other status (1xx, or outside 100 to 599)",
        "the answer does not follow HTTP or Zoho's protocol",
    ),
)


def classify_answer(status: int, payload: t.Any, *, operation: str) -> AnswerClass:
    """The first row of :data:`ANSWER_TABLE` that matches an answer.

    ``payload`` is the decoded JSON body, or :data:`NOT_JSON` for a body that is not valid JSON
    (or could not be read); ``operation`` is ``exchange``, ``refresh`` or ``revoke``. The body
    matters only for the success and error rows: a status that proves the request was not
    processed decides whatever the body is (HTML, empty, text or JSON).
    """
    for row in ANSWER_TABLE:
        if row.statuses and status not in row.statuses:
            continue
        if operation not in row.operations:
            continue
        if row.body == SUCCESS_BODY and not (_is_revoke_success(payload) if operation == "revoke" else _is_token_success(payload)):
            continue
        if row.body == ERROR_BODY and not _is_zoho_error(payload):
            continue
        if row.body == NOT_JSON_BODY and payload is not NOT_JSON:
            continue
        return row
    return ANSWER_TABLE[-1]  # pragma: no cover - the last row matches every answer


def _status_decides(status: int) -> bool:
    """True when the status alone decides (unless the body shows a success): the body is then read only for the message."""
    if not (200 <= status < 300 or 400 <= status < 500):
        return True
    return any(row.outcome == NOT_PROCESSED and status in row.statuses for row in ANSWER_TABLE)


class _NoNetrcAuth(AuthBase):  # type: ignore[misc,valid-type]
    """Explicit no-op auth, so that requests never falls back to ~/.netrc credentials."""

    def __call__(self, r: t.Any) -> t.Any:
        return r


class _Retryable(Exception):
    """Internal: a failed attempt and whether repeating it can be safe.

    ``before_send``: repeating it is safe for every operation, a grant code exchange included,
    because nothing was sent or the answer proved that the request was not processed (a 429).
    Otherwise only an idempotent operation (refresh, revoke) may repeat it.
    """

    def __init__(self, error: ZohoOAuthError, *, before_send: bool, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.before_send = before_send
        self.retry_after = retry_after


class _SendHook:
    """Calls the caller's ``before_send`` at most once per operation and remembers whether it ran."""

    def __init__(self, callback: t.Callable[[], None] | None) -> None:
        self.callback = callback
        self.fired = False
        self.error: BaseException | None = None

    def fire(self) -> None:
        if self.fired:
            return
        self.fired = True
        if self.callback is not None:
            try:
                self.callback()
            except BaseException as exc:
                self.error = exc
                raise


_ATTEMPT = threading.local()  # .watchdog: the watchdog of the attempt running in this thread, if any


class _Watchdog:
    """Cuts the connection of one attempt once its deadline has passed, so that no read can outlast it.

    Socket timeouts bound each read, not the wait for the whole status line and headers: a server that drips
    header bytes would otherwise hold an attempt open far beyond ``timeout``. Used as a context manager around
    the attempt: after ``seconds`` a timer thread shuts down the socket of every connection that reported itself
    (see :class:`_WatchedConnection`), so that a blocked read returns. :attr:`cut` then says what was
    interrupted: ``"connect"`` (nothing was sent) or ``"answer"`` (the request may have been sent). Leaving the
    block stops the timer and waits for its thread: nothing is cut after that.
    """

    def __init__(self, seconds: float) -> None:
        self.cut: str | None = None
        #: True once a connection of this attempt is established (connected, TLS handshake done): from then on
        #: bytes of the request may have left, so any failure, a TLS one included, is "after sending".
        self.established = False
        self._connections: list[t.Any] = []
        self._connecting = False
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        try:
            self._timer.start()
        except RuntimeError:  # no thread available: the socket timeouts still bound every read
            pass
        _ATTEMPT.watchdog = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        _ATTEMPT.watchdog = None
        with self._lock:
            self._done = True
        self._timer.cancel()
        if self._timer.ident is not None:
            self._timer.join()

    def watch(self, connection: t.Any, *, connecting: bool) -> None:
        """Called by a connection in use for this attempt, while it connects and when it sends a request."""
        with self._lock:
            if all(known is not connection for known in self._connections):
                self._connections.append(connection)
            self._connecting = connecting

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
            sockets = [sock for sock in (_os_socket(getattr(connection, "sock", None)) for connection in self._connections) if sock is not None]
            if sockets:
                self.cut = "connect" if self._connecting else "answer"  # set first: the read this unblocks must see it
            for sock in sockets:
                try:
                    # The plain socket's shutdown: SSLSocket.shutdown would also drop the TLS state that the blocked reader uses.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass


class _WatchedConnection:
    """Mixin for urllib3 connection classes: a connection reports itself to the watchdog of the attempt using it."""

    def connect(self) -> None:
        watchdog: _Watchdog | None = getattr(_ATTEMPT, "watchdog", None)
        if watchdog is None:
            super().connect()  # type: ignore[misc]
            return
        watchdog.watch(self, connecting=True)  # before connecting: a proxy's CONNECT answer that drips is cut too
        try:
            super().connect()  # type: ignore[misc]
            watchdog.established = True
        finally:
            watchdog.watch(self, connecting=False)

    def request(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        watchdog: _Watchdog | None = getattr(_ATTEMPT, "watchdog", None)
        if watchdog is not None:  # also a kept-alive connection, which does not connect again
            watchdog.watch(self, connecting=False)
            if getattr(self, "sock", None) is not None:
                watchdog.established = True
        return super().request(*args, **kwargs)  # type: ignore[misc]


@functools.lru_cache(maxsize=None)
def _watched_pool(pool_cls: type) -> type:
    """``pool_cls`` (a urllib3 connection pool class) with connections that report to the watchdog; made once per class."""
    connection_cls = pool_cls.ConnectionCls  # type: ignore[attr-defined]
    if issubclass(connection_cls, _WatchedConnection):
        return pool_cls
    watched = type(f"_Watched{connection_cls.__name__}", (_WatchedConnection, connection_cls), {})
    return type(f"_Watched{pool_cls.__name__}", (pool_cls,), {"ConnectionCls": watched})


def _watch_pools(manager: t.Any) -> t.Any:
    """Make the pools that urllib3's pool manager ``manager`` creates use watched connections; returns ``manager``."""
    manager.pool_classes_by_scheme = {scheme: _watched_pool(cls) for scheme, cls in manager.pool_classes_by_scheme.items()}
    return manager


class _WatchedAdapter(HTTPAdapter):  # type: ignore[misc,valid-type]
    """requests' transport adapter, with connections (direct or through a proxy) that the attempt's watchdog can cut."""

    def init_poolmanager(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: t.Any, **proxy_kwargs: t.Any) -> t.Any:
        return _watch_pools(super().proxy_manager_for(proxy, **proxy_kwargs))


def _os_socket(sock: t.Any) -> socket.socket | None:
    """The operating-system socket under a connection's ``sock`` (a socket, an SSLSocket, or urllib3's SSLTransport)."""
    if not isinstance(sock, socket.socket):
        sock = getattr(sock, "socket", None)  # SSLTransport: TLS inside the TLS of an HTTPS proxy
    return sock if isinstance(sock, socket.socket) else None


def check_timeout(value: t.Any, *, option: str = "timeout", minimum: float = 0.0) -> float:
    """Return ``value`` as seconds (float) or raise :class:`ZohoInputError`.

    Accepted: a finite int or float above ``minimum`` (or equal to it when it is above 0) and at
    most :data:`MAX_TIMEOUT`. ``bool`` is refused. Huge values would crash deep inside the socket
    layer (OverflowError) only after the request was sent, so they are refused up front.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value > minimum or (minimum > 0 and value == minimum)) and value <= MAX_TIMEOUT:
        return float(value)
    low = f"at least {minimum:g}" if minimum > 0 else "above 0"
    raise ZohoInputError(
        f"{_option(option)} must be a number of seconds {low} and at most {MAX_TIMEOUT}, not {value!r}. It is the total time allowed for one "
        f"request to Zoho (connect, send and receive); the default is {DEFAULT_TIMEOUT}. Nothing was sent."
    )


def _option(option: str) -> str:
    """An option name marked for the operator's labels (`name`); a description of another source is left as it is."""
    return f"`{option}`" if re.fullmatch(r"[a-z_]+", option) else option


def check_ca_path(path: t.Any, *, option: str = "ca_path") -> str:
    """Check that ``path`` names a readable PEM CA bundle file or a readable CA directory.

    A file is loaded into an :class:`ssl.SSLContext` so that a file without certificates is
    reported now, with the option's name, rather than as a TLS failure later. Returns ``path``.
    Raises :class:`ZohoInputError`.
    """
    name = _option(option)
    fix = (
        f"Point {name} at a readable PEM file of CA certificates (or a directory prepared with c_rehash / openssl rehash), "
        "for example the CA of your corporate proxy. Nothing was sent."
    )
    shown = repr(path) if isinstance(path, str) and len(path) <= 200 else f"of type {type(path).__name__}"
    if not isinstance(path, str) or not path or "\x00" in path:
        raise ZohoInputError(f"{name} {shown} is not a file path. {fix}")
    if os.path.isdir(path):
        if not os.access(path, os.R_OK | os.X_OK):
            raise ZohoInputError(f"{name} {shown} is a directory that this user cannot read. {fix}")
        return path
    if not os.path.exists(path):
        raise ZohoInputError(f"{name} {shown} does not exist (check for a typo). {fix}")
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ZohoInputError(f"{name} {shown} is not a readable file. {fix}")
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ZohoInputError(
            f"{name} {shown} could not be loaded as CA certificates ({type(exc).__name__}: {sanitize_server_text(exc, limit=120)}). {fix}"
        ) from None
    return path


class ZohoOAuthClient:
    """Talks to one Zoho accounts server. Plain Python: no Ansible objects.

    ``timeout`` (seconds, float) is a total deadline for one attempt of one request: connecting
    (at most :data:`CONNECT_TIMEOUT_CAP` of it), sending, and receiving the status, headers and
    body. ``monotonic`` measures that deadline; ``clock`` (epoch seconds) is used only for
    expiry times and HTTP-date ``Retry-After`` values. Raises :class:`ZohoInputError` at
    construction for an unusable URL, timeout or ``ca_path``: nothing can have been sent then.
    """

    def __init__(
        self,
        accounts_url: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        validate_certs: bool = True,
        ca_path: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        on_retry: t.Callable[[str], None] | None = None,
        session: t.Any = None,
        sleep: t.Callable[[float], None] = time.sleep,
        clock: t.Callable[[], float] = time.time,
        monotonic: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.accounts_url = _check_base_url(accounts_url)
        self.client_id = client_id
        self.client_secret = client_secret
        if validate_certs and ca_path:
            check_ca_path(ca_path)
        self.verify: bool | str = (ca_path or True) if validate_certs else False
        self.timeout = check_timeout(timeout)
        self.retry = retry
        self.on_retry = on_retry
        self.sleep = sleep
        self.clock = clock
        self.monotonic = monotonic
        self._session = session

    # -- public operations ---------------------------------------------------------------

    def exchange_code(
        self,
        code: str,
        *,
        redirect_uri: str | None = None,
        code_verifier: str | None = None,
        before_send: t.Callable[[], None] | None = None,
    ) -> TokenSet:
        """Exchange a grant code. Never re-sends the code once it may have reached Zoho.

        ``before_send`` (for example: record "in flight" in the token cache) is called exactly
        once, after every local step that can fail (URL, request preparation, proxy choice, CA
        bundle check) and immediately before the first connection attempt. If it raises, that
        exception propagates unchanged and nothing is sent. If preparation fails, it is not
        called. Errors raised after it ran have ``outcome_unknown`` False when the request
        cannot have left the machine (DNS, refused, connect timeout, TLS, invalid URL, proxy),
        when the answer proves that it was not processed (:class:`ZohoNotProcessedError`, see
        :data:`ANSWER_TABLE`) or when Zoho refused it (:class:`ZohoAPIError`); the code is then
        still usable, or Zoho has said why not. They are :class:`ZohoCodeMayBeSpentError`
        otherwise.
        """
        form = self._client_form("authorization_code")
        form["code"] = code
        if redirect_uri:
            form["redirect_uri"] = redirect_uri
        if code_verifier:
            form["code_verifier"] = code_verifier
        hook = _SendHook(before_send)
        try:
            status, payload = self._post_json(self.token_url, form, operation="exchange", idempotent=False, hook=hook)
            return self._token_result(status, payload, operation="exchange", form=form)
        except ZohoOAuthError as exc:
            if exc is hook.error or not exc.outcome_unknown:
                raise
            raise ZohoCodeMayBeSpentError(
                f"{exc.msg} The grant code reached Zoho, or may have, but no tokens came back, so the code may already be spent; "
                "it is not sent again. Generate a new code. If Zoho did issue a refresh token, it counts against the 20 "
                "refresh tokens per user: check Connected Apps in Zoho Accounts and revoke the unused one.",
                error_code=exc.error_code,
                http_status=exc.http_status,
            ) from exc

    def refresh(self, refresh_token: str) -> TokenSet:
        """Mint a new access token. Zoho's answer carries no refresh token; the caller keeps its own."""
        form = self._client_form("refresh_token")
        form["refresh_token"] = refresh_token
        status, payload = self._post_json(self.token_url, form, operation="refresh", idempotent=True)
        return self._token_result(status, payload, operation="refresh", form=form)

    def revoke(self, refresh_token: str) -> None:
        """Revoke a refresh token (and every access token minted from it).

        Raises :class:`ZohoInvalidTokenError` when Zoho says the token is not valid. The token
        may come from a cache rather than from a module option (so Ansible could not mask it):
        no message ever quotes it, in any spelling, even when Zoho's answer echoes it.
        """
        form = {"token": refresh_token}
        status, payload = self._post_json(self.revoke_url, form, operation="revoke", idempotent=True)
        try:
            if _is_revoke_success(payload):
                return
            zoho_error = _is_zoho_error(payload)
            if status == 400 or zoho_error:
                raise api_error(
                    operation="revoke",
                    error_code=payload["error"] if zoho_error else "invalid_token",
                    accounts_url=self.accounts_url,
                    http_status=status,
                    description=payload.get("error_description") if zoho_error else None,
                    secrets=sent_secrets(form),
                )
        except ZohoOAuthError:
            raise
        # Last resort: never a traceback.
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise ZohoProtocolError(
                f"Zoho's answer to the revocation request at {self.accounts_url} (HTTP {status}) could not be read ({type(exc).__name__}); "
                "the refresh token may still be valid.",
                http_status=status,
            ) from None
        raise ZohoProtocolError(
            f"Zoho answered the revocation request at {self.accounts_url} with HTTP {status} but without status=success; "
            "the refresh token may still be valid.",
            http_status=status,
        )

    @property
    def token_url(self) -> str:
        return self.accounts_url + TOKEN_PATH

    @property
    def revoke_url(self) -> str:
        return self.accounts_url + REVOKE_PATH

    # -- internals -----------------------------------------------------------------------

    def _client_form(self, grant_type: str) -> dict[str, str]:
        return {"grant_type": grant_type, "client_id": self.client_id or "", "client_secret": self.client_secret or ""}

    def _token_result(self, status: int, payload: t.Any, *, operation: str, form: dict[str, str]) -> TokenSet:
        """Tokens from an answer that :func:`classify_answer` found a success, or the typed error of Zoho's refusal.

        Zoho's error code and description are redacted with the values of ``form`` (the request sent).
        """
        secrets = sent_secrets(form)
        try:
            if _is_zoho_error(payload):
                raise api_error(
                    operation=operation,
                    error_code=payload["error"],
                    accounts_url=self.accounts_url,
                    http_status=status,
                    description=payload.get("error_description"),
                    secrets=secrets,
                )
            return parse_token_response(payload, now=self.clock(), secrets=secrets)
        except ZohoProtocolError as exc:
            raise ZohoProtocolError(
                f"Zoho answered the {operation_name(operation)} request at {self.accounts_url} with HTTP {status}, but not with "
                f"usable tokens: {exc.msg}",
                http_status=status,
            ) from None
        except ZohoOAuthError:
            raise
        # Last resort: never a traceback.
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise ZohoProtocolError(
                f"Zoho answered the {operation_name(operation)} request at {self.accounts_url} with HTTP {status}, but the answer "
                f"could not be read ({type(exc).__name__}).",
                http_status=status,
            ) from None

    @property
    def session(self) -> t.Any:
        if self._session is None:
            session = requests.Session()
            session.auth = _NoNetrcAuth()
            for prefix in ("https://", "http://"):
                session.mount(prefix, _WatchedAdapter())  # the deadline of an attempt can cut its connection
            # identity: the body size limit counts the bytes on the wire, and no decompression bomb can hide behind it.
            session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "identity"})
            self._session = session
        return self._session

    def _post_json(
        self, url: str, form: dict[str, str], *, operation: str, idempotent: bool, hook: _SendHook | None = None
    ) -> tuple[int, t.Any]:
        """POST ``form`` and return ``(status, decoded JSON)``, retrying only when safe.

        A retry starts only while the time since the first attempt started, plus the backoff
        delay, stays within ``retry.max_total`` seconds; so one call lasts at most about
        ``max_total + timeout`` seconds.
        """
        hook = hook or _SendHook(None)
        started = self.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(url, form, operation=operation, hook=hook)
            except _Retryable as failure:
                safe = failure.before_send or idempotent
                delay = self._delay(attempt, failure.retry_after) if safe and attempt < self.retry.attempts else None
                if delay is not None and self.monotonic() - started + delay > self.retry.max_total:
                    delay = None
                if delay is None:
                    raise failure.error from None
                if self.on_retry:
                    self.on_retry(
                        f"Retrying the {operation_name(operation)} request ({attempt}/{self.retry.attempts - 1}) in "
                        f"{delay:.1f}s: {failure.error.msg}"
                    )
                self.sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None) -> float | None:
        if retry_after is not None:
            return retry_after if retry_after <= self.retry.max_retry_after else None
        return random.uniform(0, min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1)))

    def _prepare(self, url: str, form: dict[str, str], *, action: str) -> tuple[t.Any, t.Any, dict[str, t.Any]]:
        """Build the request and choose adapter, proxy and CA bundle, without any network access.

        Returns ``(sender, prepared request, keyword arguments for sender.send)``; the sender is
        the session's transport adapter (or the session itself when it has no ``get_adapter``). Raises
        :class:`ZohoInputError` (nothing was sent) for anything that would fail later anyway.
        """
        try:
            prepared = self.session.prepare_request(requests.Request("POST", url, data=form))
            settings = dict(self.session.merge_environment_settings(prepared.url, {}, True, self.verify, None))
            # The transport adapter, not Session.send: Session.send reads the whole body of a 3xx answer (without any
            # size limit) even with allow_redirects=False, and an adapter never follows redirects.
            get_adapter = getattr(self.session, "get_adapter", None)
            sender = get_adapter(prepared.url) if callable(get_adapter) else self.session
        except requests.exceptions.RequestException as exc:
            raise ZohoInputError(f"Could not prepare {action}: {_reason(exc, secrets=sent_secrets(form))}. Check `accounts_url`. Nothing was sent.") from None
        verify = settings.get("verify", self.verify)
        if isinstance(verify, str) and verify != self.verify:
            # From REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE: the same check as for ca_path.
            check_ca_path(verify, option="the CA bundle named by REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE")
        proxy = requests.utils.select_proxy(prepared.url, settings.get("proxies") or {})
        if proxy:
            try:
                proxy_host = urlsplit(proxy if "://" in proxy else f"http://{proxy}").hostname
            except ValueError:
                proxy_host = None
            if not proxy_host or host_problem(proxy_host):
                raise ZohoInputError(
                    f"The proxy chosen for {action} from the HTTPS_PROXY/ALL_PROXY environment variables has no valid host name. "
                    "Fix the variable, or list the accounts server in NO_PROXY. Nothing was sent."
                )
        settings = {name: settings.get(name) for name in ("verify", "cert", "proxies")}
        return sender, prepared, settings

    def _attempt(self, url: str, form: dict[str, str], *, operation: str, hook: _SendHook) -> tuple[int, t.Any]:
        action = f"the {operation_name(operation)} request to {self.accounts_url}"
        deadline = self.monotonic() + self.timeout
        try:
            sender, prepared, settings = self._prepare(url, form, action=action)
        except ZohoOAuthError:
            raise
        # Last resort: never a traceback.
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise ZohoUnexpectedError(
                f"Unexpected error ({type(exc).__name__}) while preparing {action}. Nothing was sent. {_REPORT}", sent=False
            ) from None
        hook.fire()  # may raise: then nothing is sent, and the caller's exception propagates unchanged
        remaining = max(deadline - self.monotonic(), 0.001)
        settings.update(stream=True, timeout=(min(remaining, CONNECT_TIMEOUT_CAP), remaining))
        with _Watchdog(remaining + _WATCHDOG_GRACE) as watchdog:
            try:
                response = sender.send(prepared, **settings)
            except _SEND_ERRORS as exc:
                raise self._cut_failure(watchdog, action) or self._send_failure(
                    exc, action=action, form=form, established=watchdog.established
                ) from None
            # Last resort: never a traceback.
            except Exception as exc:  # pylint: disable=broad-exception-caught
                raise self._cut_failure(watchdog, action) or ZohoUnexpectedError(
                    f"Unexpected error ({type(exc).__name__}) during {action}, after the request may have been sent. {_REPORT}", sent=True
                ) from None
            try:
                return self._receive(response, deadline=deadline, action=action, watchdog=watchdog, operation=operation, form=form)
            except (ZohoOAuthError, _Retryable):
                raise
            # Last resort: never a traceback.
            except Exception as exc:  # pylint: disable=broad-exception-caught
                raise ZohoUnexpectedError(
                    f"Unexpected error ({type(exc).__name__}) while reading the answer to {action}. {_REPORT}",
                    sent=True,
                    http_status=getattr(response, "status_code", None),
                ) from None
            finally:
                _close_quietly(response)

    def _cut_failure(self, watchdog: _Watchdog, action: str) -> _Retryable | None:
        """The failure to report when the watchdog has cut the connection (whatever exception that caused), else None."""
        if watchdog.cut == "connect":
            return _Retryable(
                ZohoTransportError(f"Timed out connecting for {action}: no connection within {self.timeout:g}s. Nothing was sent.", sent=False),
                before_send=True,
            )
        return self._deadline_failure(action, None) if watchdog.cut else None

    def _send_failure(self, exc: BaseException, *, action: str, form: dict[str, str], established: bool = False) -> BaseException:
        """Map an exception of ``session.send`` to a typed error (or :class:`_Retryable`).

        ``established``: the attempt's connection was up (handshake done) before the failure, so the
        request may have been sent. A TLS error then is a broken answer, not a failed verification.
        """
        reason = _reason(exc, secrets=sent_secrets(form))
        if isinstance(exc, requests.exceptions.SSLError) and established:
            return _Retryable(
                ZohoTransportError(f"The TLS connection failed after the request was sent for {action}: {reason}.", sent=True),
                before_send=False,
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return ZohoTLSError(
                f"TLS verification failed for {action}: {reason}. Fix the server certificate, or point `ca_path` at the CA "
                "bundle that signed it (for example a corporate proxy CA). Nothing was sent."
            )
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return _Retryable(ZohoTransportError(f"Timed out connecting for {action}: {reason}. Nothing was sent.", sent=False), before_send=True)
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return _Retryable(
                ZohoTransportError(
                    f"No answer within {self.timeout:g}s to {action}, after the request was sent. Raise `timeout` if Zoho is slow.", sent=True
                ),
                before_send=False,
            )
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema, LocationValueError)):
            # Raised while choosing the connection (host name, proxy URL), before any connection is made.
            return ZohoInputError(f"Invalid URL for {action}: {reason}. Check `accounts_url` and the proxy variables. Nothing was sent.")
        if isinstance(exc, requests.exceptions.ConnectionError):
            before = _failed_before_send(exc)
            what = "Could not connect" if before else "The connection failed after the request was sent"
            return _Retryable(ZohoTransportError(f"{what} for {action}: {reason}.", sent=not before), before_send=before)
        if isinstance(exc, requests.exceptions.RequestException):
            # For example a body cut short (ChunkedEncodingError): the request was sent.
            return _Retryable(ZohoTransportError(f"HTTP error for {action}: {reason}.", sent=True), before_send=False)
        # A plain OSError: requests wraps every I/O error of the connection itself, so an unwrapped one comes from
        # loading the CA bundle (HTTPAdapter.cert_verify), before the connection is opened.
        return ZohoTLSError(
            f"Could not load the CA certificates for {action}: {reason}. Check `ca_path` (or REQUESTS_CA_BUNDLE). Nothing was sent."
        )

    def _receive(
        self, response: t.Any, *, deadline: float, action: str, watchdog: _Watchdog, operation: str, form: dict[str, str]
    ) -> tuple[int, t.Any]:
        """Read the answer within the deadline and size limit and classify it with :func:`classify_answer`.

        Returns ``(status, decoded JSON)`` for a success or a refusal by Zoho; raises the typed error
        of any other answer class (wrapped in :class:`_Retryable` when its row allows a retry).
        """
        status = response.status_code
        headers = response.headers
        if watchdog.cut or self.monotonic() >= deadline:  # a cut can leave http.client with truncated headers
            raise self._deadline_failure(action, status)
        if _status_decides(status):
            # The status proves the outcome unless the body is a success: a read failure then only costs the message its snippet.
            try:
                body: bytes | None = self._read_body(
                    response, deadline=deadline, action=action, watchdog=watchdog, cap=_SNIPPET_BYTES, secrets=sent_secrets(form)
                )
            except (_Retryable, ZohoOAuthError):
                body = None
        else:
            body = self._read_body(response, deadline=deadline, action=action, watchdog=watchdog, secrets=sent_secrets(form))
        payload = _decode_json(body)
        row = classify_answer(status, payload, operation=operation)
        if row.outcome in (SUCCESS, REFUSED):
            return status, payload
        error = self._answer_error(row, status, headers, body, payload, action=action, operation=operation, form=form)
        if row.retry == RETRY_NEVER:
            raise error
        retry_after = _retry_after(headers.get("Retry-After"), now=self.clock())
        raise _Retryable(error, before_send=row.retry == RETRY_ALWAYS, retry_after=retry_after)

    def _answer_error(
        self,
        row: AnswerClass,
        status: int,
        headers: t.Any,
        body: bytes | None,
        payload: t.Any,
        *,
        action: str,
        operation: str,
        form: dict[str, str],
    ) -> ZohoOAuthError:
        """The typed error for an answer that is neither a success nor Zoho's refusal.

        Every piece of the answer that the message quotes (Content-Type, the body's beginning, a
        detail of the JSON) is redacted with the secret values of ``form``, the request sent.
        """
        secrets = sent_secrets(form)
        content_type = sanitize_server_text(headers.get("Content-Type") or "unknown", limit=60, secrets=secrets)
        snippet = answer_snippet(body, content_type=content_type, secrets=secrets)
        if body is None:
            shown = "a body that could not be read"
        elif not body.strip():
            shown = "an empty body"
        else:
            shown = f"a body starting '{snippet}'" if snippet else "a body without readable text"
        answer = f"HTTP {status} ({_phrase(status)}Content-Type: {content_type}; {shown})"
        if row.outcome == NOT_PROCESSED:
            still = {
                "exchange": "The grant code was not processed and is still usable"
                + ("." if row.retry == RETRY_ALWAYS else ": fix the cause and run again before it expires."),
                "refresh": "The refresh token was not used and is unaffected.",
                "revoke": "Nothing was revoked.",
            }[operation]
            redirect = " a redirect," if 300 <= status < 400 else ""
            return ZohoNotProcessedError(
                f"The server answered {action} with{redirect} {answer}, which proves that the request was not processed: "
                f"{row.proves}. {still} {row.fix}.",
                http_status=status,
            )
        if row.name == "server-error":
            return ZohoServerError(f"Zoho answered {action} with {answer}: a server error. {row.fix}.", http_status=status)
        if row.name == "other-redirect":
            return ZohoProtocolError(
                f"Zoho answered {action} with a redirect, {answer}; redirects are never followed because they would re-send "
                f"secrets elsewhere, and this one may have been sent after the request was processed. {row.fix}.",
                http_status=status,
            )
        if row.name == "2xx-not-json":
            kind = "an HTML page" if "html" in content_type.lower() else f"a body that is not valid JSON (Content-Type: {content_type})"
            quoted = f", starting '{snippet}'" if snippet else ""
            return ZohoProtocolError(
                f"Zoho answered {action} with HTTP {status} and {kind}{quoted}. This usually means a proxy, captive portal or outage "
                "is in the way, or `accounts_url` does not point at a Zoho accounts server.",
                http_status=status,
            )
        if row.name == "2xx-without-tokens":
            if operation == "revoke":
                return ZohoProtocolError(
                    f"Zoho answered the revocation request at {self.accounts_url} with HTTP {status} but without status=success; "
                    "the refresh token may still be valid.",
                    http_status=status,
                )
            try:
                parse_token_response(payload, now=self.clock(), secrets=secrets)
                detail = "Zoho's answer carries no access_token."  # pragma: no cover - a success never reaches this row
            except ZohoProtocolError as exc:
                detail = exc.msg
            if _has_error(payload):
                detail += f" Its error object ('{snippet}') is not Zoho's refusal: {_NOT_ZOHO_REFUSAL}."
            return ZohoProtocolError(
                f"Zoho answered the {operation_name(operation)} request at {self.accounts_url} with HTTP {status}, but not with "
                f"usable tokens: {detail}",
                http_status=status,
            )
        outcome = "the refresh token may still be valid" if operation == "revoke" else "the outcome is unknown"
        error_object = f"with an error object that is not Zoho's refusal ({_NOT_ZOHO_REFUSAL})" if _has_error(payload) else "without Zoho's error object"
        return ZohoProtocolError(
            f"Zoho answered {action} with {answer}, {error_object}, so {outcome}: {row.proves}. Check `accounts_url`, "
            "`data_center` and the proxy settings.",
            http_status=status,
        )

    def _deadline_failure(self, action: str, status: int | None) -> _Retryable:
        return _Retryable(
            ZohoTransportError(
                f"No complete answer within {self.timeout:g}s to {action}, after the request was sent (timeout is the total time "
                "for one request: connect, send and receive). Raise timeout if Zoho or a proxy is slow.",
                sent=True,
                http_status=status,
            ),
            before_send=False,
        )

    def _read_body(
        self, response: t.Any, *, deadline: float, action: str, watchdog: _Watchdog, cap: int | None = None, secrets: t.Sequence[str] = ()
    ) -> bytes:
        """Read at most :data:`MAX_RESPONSE_BYTES` before ``deadline`` (monotonic seconds).

        Reads in chunks with at most one socket read each, so a server that drips bytes cannot
        outlast the deadline (and ``watchdog`` cuts a read that still would). Raises :class:`ZohoProtocolError` for an oversized or encoded
        body, :class:`_Retryable` for a deadline passed or a connection broken while reading. With ``cap``
        (bytes), only the first ``cap`` bytes are read and returned, whatever the size of the body.
        ``secrets`` (the values sent) are hidden in any header value a message quotes.
        """
        status = response.status_code
        headers = response.headers
        too_big = ZohoProtocolError(
            f"Zoho's answer to {action} (HTTP {status}) is larger than {MAX_RESPONSE_BYTES // 1024} KiB and was refused without "
            "being read further. The request itself was sent. A token answer is under 2 KiB, so something between this host and "
            "Zoho (a proxy or captive portal) or a wrong accounts_url is the likely cause.",
            http_status=status,
        )
        limit = MAX_RESPONSE_BYTES if cap is None else min(cap, MAX_RESPONSE_BYTES)
        length = (headers.get("Content-Length") or "").strip()
        if cap is None and re.fullmatch(r"[0-9]+", length) and int(length) > MAX_RESPONSE_BYTES:
            raise too_big
        encoding = (headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise ZohoProtocolError(
                f"Zoho answered {action} (HTTP {status}) with Content-Encoding {sanitize_server_text(encoding, limit=30, secrets=secrets)!r} although "
                "the request asked for none; the answer was not read.",
                http_status=status,
            )
        raw = getattr(response, "raw", None)
        if raw is None:  # a response object without a stream (test doubles): the limit still applies
            content = bytes(response.content or b"")
            if cap is not None:
                return content[:limit]
            if len(content) > MAX_RESPONSE_BYTES:
                raise too_big
            return content
        read = _one_read(raw)
        body = bytearray()
        while True:
            remaining = deadline - self.monotonic()
            if remaining <= 0:
                raise self._deadline_failure(action, status)
            _set_read_timeout(raw, remaining)
            try:
                chunk = read(min(_READ_CHUNK, limit + 1 - len(body)))
            # Any read failure happens after sending.
            except Exception as exc:  # pylint: disable=broad-exception-caught
                if watchdog.cut or self.monotonic() >= deadline:
                    raise self._deadline_failure(action, status) from None
                raise _Retryable(
                    ZohoTransportError(
                        f"The connection broke while reading the answer to {action} (HTTP {status}), after the request was sent: "
                        f"{type(exc).__name__}.",
                        sent=True,
                        http_status=status,
                    ),
                    before_send=False,
                ) from None
            if not chunk:
                if watchdog.cut:  # the end of a body cut short, which http.client may not report as an error
                    raise self._deadline_failure(action, status)
                return bytes(body)
            body += chunk
            if cap is not None and len(body) >= limit:
                return bytes(body[:limit])
            if len(body) > MAX_RESPONSE_BYTES:
                raise too_big


_REPORT = "This is unexpected; please report it with the ansible-core, Python and requests versions in use."
_NOT_ZOHO_REFUSAL = 'Zoho refuses with HTTP 200 or 400 and {"error": "<code>"}, so it may come from a proxy or gateway'


if HAS_REQUESTS:
    _SEND_ERRORS: tuple[type[BaseException], ...] = (requests.exceptions.RequestException, LocationValueError, OSError)
else:  # pragma: no cover
    _SEND_ERRORS = (OSError,)


def _check_base_url(url: t.Any) -> str:
    """Check the accounts server URL before anything can be sent; return it without a trailing slash.

    The same bare-origin rule as for `accounts_url` (:func:`_dc.check_origin`), with ``http`` also
    accepted for local test servers: the token paths are added here, so a path would be doubled.
    """
    return check_origin(url, https_only=False)


def _decode_json(body: bytes | None) -> t.Any:
    """The decoded JSON of a body, or :data:`NOT_JSON` (also for a body that could not be read)."""
    if body is None:
        return NOT_JSON
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: JSON nested deeper than the interpreter's recursion limit.
        return NOT_JSON


def _phrase(status: int) -> str:
    """``Not Found; `` for a status that HTTP names, else ``""``."""
    try:
        return f"{http.HTTPStatus(status).phrase}; "
    except ValueError:
        return ""


def _one_read(raw: t.Any) -> t.Callable[[int], bytes]:
    """A reader that returns after at most one read from the socket (``read1``), whatever the urllib3 version."""
    if callable(getattr(raw, "read1", None)):  # urllib3 >= 2.3 and test doubles
        return lambda amt: raw.read1(amt, decode_content=False)
    fp = getattr(raw, "_fp", None)  # urllib3 1.26 / 2.0-2.2: the http.client response underneath
    if fp is not None and callable(getattr(fp, "read1", None)):
        return fp.read1
    return lambda amt: raw.read(amt, decode_content=False)  # pragma: no cover - last fallback: still bounded by the size limit


def _set_read_timeout(raw: t.Any, seconds: float) -> None:
    """Best effort: make the next socket read wait at most ``seconds``."""
    connection = getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None and callable(getattr(sock, "settimeout", None)):
        try:
            sock.settimeout(max(seconds, 0.001))
        except (OSError, ValueError, OverflowError):
            pass


def _close_quietly(response: t.Any) -> None:
    close = getattr(response, "close", None)
    if callable(close):
        try:
            close()
        # Closing must not mask the result.
        except Exception:  # pylint: disable=broad-exception-caught
            pass


def _failed_before_send(exc: BaseException) -> bool:
    """True when a requests ConnectionError happened while connecting (nothing was sent)."""
    seen: set[int] = set()
    stack: list[t.Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (NewConnectionError, ConnectTimeoutError, LocationValueError, requests.exceptions.ProxyError)):
            return True
        if isinstance(item, BaseException):
            stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return False


def _reason(exc: BaseException, *, secrets: t.Iterable[str] = ()) -> str:
    """A short, secret-free description of a requests exception (no URLs, which may hold queries).

    The text goes through the one redaction (:func:`_errors.sanitize_server_text`) with ``secrets``
    (the secret values of the form): a proxy's or server's words can be part of it.
    """
    seen: set[int] = set()
    current: t.Any = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "reason", None) or (current.args[0] if getattr(current, "args", None) else None)
        if isinstance(inner, BaseException):
            current = inner
            continue
        break
    name = type(current).__name__
    try:
        text = str(current)
    except Exception:  # pylint: disable=broad-exception-caught
        text = ""
    # Drop anything that looks like a URL or a request line; keep the human part.
    text = " ".join(word for word in text.split() if "://" not in word and "?" not in word)
    return sanitize_server_text(f"{name}: {text}" if text else name, limit=200, secrets=secrets)


def _retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None when absent or unusable.

    Accepted: 1 to 9 ASCII digits, or an HTTP-date (RFC 9110 section 10.2.3). Anything else,
    including non-ASCII digits such as ``²`` that ``str.isdigit`` accepts, is ignored.
    """
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,9}", value):
        return float(value)
    if not value.isascii() or len(value) > 64:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
        seconds = parsed.timestamp() - now if parsed is not None else None
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


__all__ = (
    "ANSWER_TABLE",
    "AnswerClass",
    "DEFAULT_EXPIRES_IN",
    "DEFAULT_TIMEOUT",
    "HAS_REQUESTS",
    "MAX_RESPONSE_BYTES",
    "MAX_TIMEOUT",
    "MIN_TIMEOUT",
    "NOT_JSON",
    "NOT_PROCESSED",
    "NO_RETRY",
    "REFUSED",
    "REQUESTS_IMPORT_ERROR",
    "REVOKE_PATH",
    "RetryPolicy",
    "SECRET_FORM_FIELDS",
    "SUCCESS",
    "TOKEN_PATH",
    "TokenSet",
    "UNKNOWN",
    "ZOHO_REFUSAL_STATUSES",
    "ZohoOAuthClient",
    "check_ca_path",
    "check_timeout",
    "classify_answer",
    "parse_expires_in",
    "parse_scope",
    "parse_token_response",
    "sent_secrets",
)
