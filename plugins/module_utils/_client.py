# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""HTTP client for Zoho Accounts' token endpoints: exchange, refresh and revoke.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Rules this file enforces (reliability-security notes, sections 1 and 4):
- secrets travel only in a form-encoded POST body, never in the URL;
- redirects are never followed (a 307/308 would re-send the body elsewhere);
- TLS is verified unless the operator says otherwise; ~/.netrc is never consulted;
- success means a JSON object with a non-empty ``access_token`` and no ``error`` key, whatever
  the HTTP status, because Zoho answers most errors with HTTP 200;
- retries: anything whose request cannot have been sent may be retried; refresh and revoke are
  also retried on 429, 5xx and failures after sending, with capped full-jitter backoff that
  honours ``Retry-After``. A grant code that may have reached Zoho is never re-sent.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
import typing as t
from dataclasses import dataclass, field

from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import (
    ZohoCodeMayBeSpentError,
    ZohoOAuthError,
    ZohoProtocolError,
    ZohoServerError,
    ZohoTLSError,
    ZohoTransportError,
    api_error,
    operation_name,
    sanitize_server_text,
)

try:
    import requests
    from requests.auth import AuthBase
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
except ImportError as _import_error:  # pragma: no cover - exercised by the sanity import test
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR: ImportError | None = _import_error
    AuthBase = object  # type: ignore[assignment,misc]
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

TOKEN_PATH = "/oauth/v2/token"
REVOKE_PATH = "/oauth/v2/token/revoke"
USER_AGENT = "zohothrive.oauth (Ansible collection)"
DEFAULT_TIMEOUT = 30
CONNECT_TIMEOUT_CAP = 10


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with full-jitter exponential backoff."""

    attempts: int = 4  # first try plus up to three retries
    base_delay: float = 1.0
    max_delay: float = 8.0
    max_retry_after: float = 30.0  # a longer Retry-After fails fast instead of blocking the play


NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class TokenSet:
    """Tokens from a successful exchange or refresh. ``expires_in`` is in seconds."""

    access_token: str
    expires_in: int
    expires_at: int
    api_domain: str | None = None
    token_type: str | None = None
    scope: list[str] = field(default_factory=list)
    refresh_token: str | None = None

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "api_domain": self.api_domain,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "expires_at": self.expires_at,
            "scope": list(self.scope),
        }

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any], *, now: float) -> TokenSet:
        """Rebuild from :meth:`as_dict` output (a cache entry); ``expires_in`` is recomputed."""
        expires_at = int(data["expires_at"])
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token"),
            api_domain=data.get("api_domain"),
            token_type=data.get("token_type"),
            expires_in=max(0, expires_at - int(now)),
            expires_at=expires_at,
            scope=list(data.get("scope") or []),
        )


def parse_scope(value: t.Any) -> list[str]:
    """Zoho separates scopes with commas or spaces; return them as a list."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = str(value).replace(",", " ").split()
    return [item.strip() for item in items if item.strip()]


def parse_expires_in(payload: t.Mapping[str, t.Any]) -> int:
    """Lifetime in seconds: ``expires_in_sec`` when present (legacy answers, where
    ``expires_in`` is then in milliseconds), else ``expires_in``."""
    raw = payload.get("expires_in_sec", payload.get("expires_in"))
    if raw is None:
        return 3600  # Zoho documents one hour; some answers omit the field
    try:
        seconds = int(str(raw).strip())
    except (TypeError, ValueError):
        raise ZohoProtocolError(
            f"Zoho's answer has a non-numeric expiry ({sanitize_server_text(raw, limit=40)!r}); cannot compute when the access "
            "token expires."
        ) from None
    if seconds <= 0 or seconds > 366 * 86400:
        raise ZohoProtocolError(f"Zoho's answer has an implausible expiry of {seconds} seconds.")
    return seconds


def parse_token_response(payload: t.Any, *, now: float) -> TokenSet:
    """Apply the success rule to a decoded JSON answer. Raises unless it is a success."""
    if not isinstance(payload, dict):
        raise ZohoProtocolError(f"Zoho answered with JSON of type {type(payload).__name__}, not an object.")
    access_token = payload.get("access_token")
    if "error" in payload or not isinstance(access_token, str) or not access_token.strip():
        raise ZohoProtocolError("Zoho's answer carries no access_token.")
    expires_in = parse_expires_in(payload)
    refresh_token = payload.get("refresh_token")
    return TokenSet(
        access_token=access_token,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        api_domain=payload.get("api_domain") if isinstance(payload.get("api_domain"), str) else None,
        token_type=payload.get("token_type") if isinstance(payload.get("token_type"), str) else None,
        expires_in=expires_in,
        expires_at=int(now) + expires_in,
        scope=parse_scope(payload.get("scope")),
    )


class _NoNetrcAuth(AuthBase):  # type: ignore[misc,valid-type]
    """Explicit no-op auth, so that requests never falls back to ~/.netrc credentials."""

    def __call__(self, r: t.Any) -> t.Any:
        return r


class _Retryable(Exception):
    """Internal: a failed attempt and whether repeating it can be safe."""

    def __init__(self, error: ZohoOAuthError, *, before_send: bool, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.before_send = before_send
        self.retry_after = retry_after


class ZohoOAuthClient:
    """Talks to one Zoho accounts server. Plain Python: no Ansible objects."""

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
    ) -> None:
        self.accounts_url = accounts_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.verify: bool | str = (ca_path or True) if validate_certs else False
        self.timeout = (min(float(timeout), CONNECT_TIMEOUT_CAP), float(timeout))
        self.retry = retry
        self.on_retry = on_retry
        self.sleep = sleep
        self.clock = clock
        self._session = session

    # -- public operations ---------------------------------------------------------------

    def exchange_code(self, code: str, *, redirect_uri: str | None = None, code_verifier: str | None = None) -> TokenSet:
        """Exchange a grant code. Never re-sends the code once it may have reached Zoho."""
        form = self._client_form("authorization_code")
        form["code"] = code
        if redirect_uri:
            form["redirect_uri"] = redirect_uri
        if code_verifier:
            form["code_verifier"] = code_verifier
        try:
            status, payload = self._post_json(self.token_url, form, operation="exchange", idempotent=False)
            return self._token_result(status, payload, operation="exchange")
        except ZohoOAuthError as exc:
            if exc.outcome_unknown:
                raise ZohoCodeMayBeSpentError(
                    f"{exc.msg} The grant code reached Zoho, or may have, but no tokens came back, so the code may already be spent; "
                    "it is not sent again. Generate a new code. If Zoho did issue a refresh token, it counts against the 20 "
                    "refresh tokens per user: check Connected Apps in Zoho Accounts and revoke the unused one.",
                    error_code=exc.error_code,
                    http_status=exc.http_status,
                ) from exc
            raise

    def refresh(self, refresh_token: str) -> TokenSet:
        """Mint a new access token. Zoho's answer carries no refresh token; the caller keeps its own."""
        form = self._client_form("refresh_token")
        form["refresh_token"] = refresh_token
        status, payload = self._post_json(self.token_url, form, operation="refresh", idempotent=True)
        return self._token_result(status, payload, operation="refresh")

    def revoke(self, refresh_token: str) -> None:
        """Revoke a refresh token (and every access token minted from it).

        Raises :class:`ZohoInvalidTokenError` when Zoho says the token is not valid.
        """
        status, payload = self._post_json(self.revoke_url, {"token": refresh_token}, operation="revoke", idempotent=True)
        if status == 400:
            raise api_error(
                operation="revoke",
                error_code=str(payload.get("error") or "invalid_token") if isinstance(payload, dict) else "invalid_token",
                accounts_url=self.accounts_url,
                http_status=status,
            )
        if isinstance(payload, dict) and payload.get("status") == "success" and "error" not in payload:
            return
        if isinstance(payload, dict) and payload.get("error"):
            raise api_error(
                operation="revoke",
                error_code=str(payload["error"]),
                accounts_url=self.accounts_url,
                http_status=status,
                description=payload.get("error_description"),
            )
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

    def _token_result(self, status: int, payload: t.Any, *, operation: str) -> TokenSet:
        if isinstance(payload, dict) and "error" in payload:
            raise api_error(
                operation=operation,
                error_code=str(payload.get("error")),
                accounts_url=self.accounts_url,
                http_status=status,
                description=payload.get("error_description"),
            )
        try:
            return parse_token_response(payload, now=self.clock())
        except ZohoProtocolError as exc:
            raise ZohoProtocolError(
                f"Zoho answered the {operation_name(operation)} request at {self.accounts_url} with HTTP {status}, but not with "
                f"usable tokens: {exc.msg}",
                http_status=status,
            ) from None

    @property
    def session(self) -> t.Any:
        if self._session is None:
            session = requests.Session()
            session.auth = _NoNetrcAuth()
            session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
            self._session = session
        return self._session

    def _post_json(self, url: str, form: dict[str, str], *, operation: str, idempotent: bool) -> tuple[int, t.Any]:
        """POST ``form`` and return ``(status, decoded JSON)``, retrying only when safe."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(url, form, operation=operation)
            except _Retryable as failure:
                safe = failure.before_send or idempotent
                delay = self._delay(attempt, failure.retry_after) if safe and attempt < self.retry.attempts else None
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

    def _attempt(self, url: str, form: dict[str, str], *, operation: str) -> tuple[int, t.Any]:
        action = f"the {operation_name(operation)} request to {self.accounts_url}"
        try:
            response = self.session.post(url, data=form, timeout=self.timeout, allow_redirects=False, verify=self.verify)
        except requests.exceptions.SSLError as exc:
            raise ZohoTLSError(
                f"TLS verification failed for {action}: {_reason(exc)}. Fix the server certificate, or point ca_path at the CA "
                "bundle that signed it (for example a corporate proxy CA). Nothing was sent."
            ) from None
        except requests.exceptions.ConnectTimeout as exc:
            raise _Retryable(
                ZohoTransportError(f"Timed out connecting for {action}: {_reason(exc)}. Nothing was sent.", sent=False),
                before_send=True,
            ) from None
        except requests.exceptions.ReadTimeout:
            raise _Retryable(
                ZohoTransportError(
                    f"No answer within {self.timeout[1]:g}s to {action}, after the request was sent. Raise timeout if Zoho is slow.",
                    sent=True,
                ),
                before_send=False,
            ) from None
        except requests.exceptions.ConnectionError as exc:
            before = _failed_before_send(exc)
            what = "Could not connect" if before else "The connection failed after the request was sent"
            raise _Retryable(
                ZohoTransportError(f"{what} for {action}: {_reason(exc)}.", sent=not before),
                before_send=before,
            ) from None
        except requests.exceptions.RequestException as exc:
            # For example a body cut short (ChunkedEncodingError): the request was sent.
            raise _Retryable(ZohoTransportError(f"HTTP error for {action}: {_reason(exc)}.", sent=True), before_send=False) from None

        status = response.status_code
        if 300 <= status < 400:
            raise ZohoProtocolError(
                f"Zoho answered {action} with a redirect (HTTP {status}); redirects are never followed because they would "
                "re-send secrets elsewhere. Check accounts_url / data_center.",
                http_status=status,
            )
        if status == 429 or status >= 500:
            raise _Retryable(
                ZohoServerError(
                    f"Zoho answered {action} with HTTP {status}"
                    + (" (too many requests)." if status == 429 else " (server error).")
                    + " Try again later.",
                    http_status=status,
                ),
                before_send=False,
                retry_after=_retry_after(response.headers.get("Retry-After"), now=self.clock()),
            )
        try:
            payload = json.loads(response.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            if 400 <= status < 500:
                return status, None  # a definite refusal; callers judge it by status
            content_type = sanitize_server_text(response.headers.get("Content-Type", "unknown"), limit=60)
            kind = "an HTML page" if "html" in content_type.lower() else f"a body that is not valid JSON (Content-Type: {content_type})"
            raise _Retryable(
                ZohoProtocolError(
                    f"Zoho answered {action} with HTTP {status} and {kind}. This usually means a proxy, captive portal or outage "
                    "is in the way, or accounts_url does not point at a Zoho accounts server.",
                    http_status=status,
                ),
                before_send=False,
            ) from None
        return status, payload


def _failed_before_send(exc: BaseException) -> bool:
    """True when a requests ConnectionError happened while connecting (nothing was sent)."""
    seen: set[int] = set()
    stack: list[t.Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (NewConnectionError, ConnectTimeoutError, requests.exceptions.ProxyError)):
            return True
        if isinstance(item, BaseException):
            stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return False


def _reason(exc: BaseException) -> str:
    """A short, secret-free description of a requests exception (no URLs, which may hold queries)."""
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
    text = str(current)
    # Drop anything that looks like a URL or a request line; keep the human part.
    text = " ".join(word for word in text.split() if "://" not in word and "?" not in word)
    return sanitize_server_text(f"{name}: {text}" if text else name, limit=200)


def _retry_after(value: str | None, *, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed is None:
        return None
    return max(0.0, parsed.timestamp() - now)


__all__ = (
    "DEFAULT_TIMEOUT",
    "HAS_REQUESTS",
    "NO_RETRY",
    "REQUESTS_IMPORT_ERROR",
    "REVOKE_PATH",
    "RetryPolicy",
    "TOKEN_PATH",
    "TokenSet",
    "ZohoOAuthClient",
    "parse_expires_in",
    "parse_scope",
    "parse_token_response",
)
