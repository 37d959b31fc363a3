# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Typed errors of the Zoho OAuth core.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: the controller.

Every error carries the operator-facing message: what happened and what to do next. Messages
never contain a secret (client secret, grant code, refresh or access token). When Zoho named an
error code it is kept in ``error_code`` and repeated in the message, so operators can search
for it. Only a module's ``main()`` (or a plugin's entry point) turns these into a failure.
"""

from __future__ import annotations

import base64
import html
import json
import re
import typing as t
from urllib.parse import quote, quote_plus


class ZohoOAuthError(Exception):
    """Base class. ``str(error)`` is the operator-facing message."""

    #: True when the request may have been processed by Zoho although no usable answer came back.
    outcome_unknown = False

    def __init__(self, msg: str, *, error_code: str | None = None, http_status: int | None = None, **details: t.Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.error_code = error_code
        self.http_status = http_status
        self.details = details

    def fail_kwargs(self) -> dict[str, t.Any]:
        """Keyword arguments for ``AnsibleModule.fail_json``."""
        result: dict[str, t.Any] = {"msg": self.msg}
        if self.error_code is not None:
            result["error_code"] = self.error_code
        if self.http_status is not None:
            result["http_status"] = self.http_status
        result.update(self.details)
        return result


class ZohoInputError(ZohoOAuthError):
    """Bad or inconsistent input. Raised before any request is sent."""


class ZohoAuthorizationDeniedError(ZohoInputError):
    """The callback URL reports that the user (or Zoho) refused the authorization."""


class ZohoDependencyError(ZohoOAuthError):
    """A required Python library is missing on the host that runs the code."""


class ZohoTokenStoreError(ZohoOAuthError):
    """The controller-side token cache cannot be read, locked or written."""


class ZohoTransportError(ZohoOAuthError):
    """Network failure: DNS, connection, timeout, reset."""

    def __init__(self, msg: str, *, sent: bool, **kwargs: t.Any) -> None:
        super().__init__(msg, **kwargs)
        self.sent = sent
        self.outcome_unknown = sent


class ZohoTLSError(ZohoTransportError):
    """The server certificate could not be verified. Never retried."""

    def __init__(self, msg: str, **kwargs: t.Any) -> None:
        super().__init__(msg, sent=False, **kwargs)


class ZohoUnexpectedError(ZohoOAuthError):
    """A failure nobody planned for (a library bug, an odd environment), turned into a typed error.

    ``sent`` is True when it happened after the request may have left the machine (then the
    outcome is unknown, as for a lost answer), False when it happened during local preparation.
    The message names the exception type only: its text could quote request data.
    """

    def __init__(self, msg: str, *, sent: bool, **kwargs: t.Any) -> None:
        super().__init__(msg, **kwargs)
        self.sent = sent
        self.outcome_unknown = sent


class ZohoServerError(ZohoOAuthError):
    """HTTP 5xx: Zoho (or something in front of it) failed; the request may have been processed."""

    outcome_unknown = True


class ZohoNotProcessedError(ZohoOAuthError):
    """An HTTP answer that proves the request was not processed by Zoho's token endpoint.

    For example a 404 from a wrong address, a 405, a proxy's 407 or a 429 throttle (see the
    answer table in ``_client.py``). A grant code sent in such a request is still usable, so
    ``outcome_unknown`` is False: a caller's in-flight record of the code may be removed.
    """


class ZohoProtocolError(ZohoOAuthError):
    """An answer that is not what Zoho's protocol promises: HTML, broken JSON, a redirect..."""

    outcome_unknown = True


class ZohoAPIError(ZohoOAuthError):
    """Zoho answered with an error code (often in an HTTP 200 answer)."""


class ZohoInvalidCodeError(ZohoAPIError):
    """``invalid_code``: expired, used or foreign grant code, or a dead refresh token."""


class ZohoInvalidClientError(ZohoAPIError):
    """``invalid_client``: unknown client or wrong data center."""


class ZohoInvalidClientSecretError(ZohoAPIError):
    """``invalid_client_secret``."""


class ZohoInvalidRedirectURIError(ZohoAPIError):
    """``invalid_redirect_uri``."""


class ZohoThrottledError(ZohoAPIError):
    """Zoho's "Access Denied" token-creation throttle."""


class ZohoInvalidTokenError(ZohoAPIError):
    """A revoke request for a token that Zoho does not know (HTTP 400)."""


class ZohoCodeMayBeSpentError(ZohoOAuthError):
    """A grant code reached Zoho, or may have, but no tokens came back. It must not be re-sent."""

    outcome_unknown = True


# ---------------------------------------------------------------------------------------------
# Mapping of Zoho error codes to messages.

_THROTTLE_CODES = frozenset({"access denied", "access_denied_throttle"})
_REVOKE_HINT = (
    "The refresh token was revoked, or deleted because the user exceeded Zoho's limit of 20 refresh tokens per client "
    "(the oldest is removed silently)"
)


HIDDEN = "<hidden>"
_REDACT_WINDOW = 4096  # characters of server text looked at: messages quote at most a few hundred
_MIN_SECRET = 4  # shorter values sent are not searched for (they would hide ordinary words)
_MIN_PIECE = 8  # a piece of a value sent this long, anywhere in the text, is hidden

# Values that must never appear in a message even when the server did not echo one of the values sent: Zoho-shaped
# codes and tokens (1000.…), long hexadecimal runs (a Zoho client secret is 42 hex digits), long opaque runs of letters
# and digits (base64url, JWT parts), and the value of any secret-looking field in JSON, form or header syntax.
_TOKEN_SHAPE = re.compile(r"1000\.[A-Za-z0-9._-]{4,}")
_HEX_RUN = re.compile(r"[0-9A-Fa-f]{32,}")
_OPAQUE_RUN = re.compile(r"[A-Za-z0-9_-]{40,}")
_SECRET_NAMES = r"(?:access_token|refresh_token|id_token|client_secret|code|token|code_verifier|password)"
_SECRET_FIELD = re.compile(rf"""(?i)(["']{_SECRET_NAMES}["']\s*:\s*["']?|\b{_SECRET_NAMES}=)[^"'&\s,;}}<]+""")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def secret_forms(secret: str) -> list[str]:
    """The spellings of ``secret`` that a server may echo, lower-cased (ASCII only, so lengths are kept).

    The value itself; URL-encoded (``quote`` and ``quote_plus``, either case of the hex digits);
    JSON-escaped (with ``/`` escaped or not); HTML-escaped; and base64 (standard and URL-safe) at
    each of the three alignments it can have inside a longer encoded text, keeping only the
    characters that depend on the secret alone, so that the form is found whatever surrounds it.
    """
    forms = {secret, html.escape(secret), json.dumps(secret)[1:-1], json.dumps(secret)[1:-1].replace("/", "\\/")}
    for encoded in (quote(secret, safe=""), quote_plus(secret, safe="")):
        forms.update((encoded, re.sub(r"%[0-9A-F]{2}", lambda match: match.group(0).lower(), encoded)))
    data = secret.encode("utf-8", errors="surrogatepass")
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + data).decode("ascii")
            # Only the characters whose 6 bits all come from the secret: the same whatever precedes or follows it.
            forms.add(text[(8 * shift + 5) // 6 : 8 * (shift + len(data)) // 6])
    return sorted({form.translate(_ASCII_LOWER) for form in forms if len(form) >= _MIN_SECRET}, key=len, reverse=True)


def redact(text: str, secrets: t.Iterable[t.Any] = ()) -> str:
    """THE redaction of text chosen by a server, before it reaches a message or a result field.

    Hidden (each run replaced by ``<hidden>``):

    - every value of ``secrets`` (the values sent in the request: client secret, grant code,
      refresh token...; values under 4 characters are skipped) in any of its
      :func:`secret_forms`, compared without ASCII case; any piece of 8 or more characters of such
      a form, wherever it is; and a beginning of 4 or more characters at the very end of the text
      (a body read only in part, or text cut short, can end inside one);
    - token-shaped strings, whatever was sent: Zoho codes and tokens (``1000.…``), runs of 32 or
      more hexadecimal digits, runs of 40 or more letters, digits, ``-`` and ``_`` that mix letters
      and digits, and the value of any secret-looking field (``code=…``, ``"client_secret": "…"``).
    """
    wanted = [form for secret in secrets if isinstance(secret, str) and len(secret) >= _MIN_SECRET for form in secret_forms(secret)]
    if wanted:
        text = _hide_forms(text, wanted)
    text = _TOKEN_SHAPE.sub(HIDDEN, text)
    text = _HEX_RUN.sub(HIDDEN, text)
    text = _OPAQUE_RUN.sub(lambda match: HIDDEN if re.search("[0-9]", match.group(0)) and re.search("[A-Za-z]", match.group(0)) else match.group(0), text)
    return _SECRET_FIELD.sub(lambda match: match.group(1) + HIDDEN, text)


def _hide_forms(text: str, forms: t.Sequence[str]) -> str:
    """Replace every run of ``text`` covered by a form, a piece of one, or a beginning of one at the end by ``<hidden>``."""
    low = text.translate(_ASCII_LOWER)
    hidden = bytearray(len(text))

    def cover(start: int, stop: int) -> None:
        hidden[start:stop] = b"\1" * (stop - start)

    pieces = {form[i : i + _MIN_PIECE] for form in forms if len(form) >= _MIN_PIECE for i in range(len(form) - _MIN_PIECE + 1)}
    if pieces:
        for i in range(len(low) - _MIN_PIECE + 1):
            if low[i : i + _MIN_PIECE] in pieces:
                cover(i, i + _MIN_PIECE)
    for form in forms:
        start = low.find(form)
        while start >= 0:
            cover(start, start + len(form))
            start = low.find(form, start + 1)
        for size in range(min(len(form), len(low)), _MIN_SECRET - 1, -1):
            if low.endswith(form[:size]):
                cover(len(low) - size, len(low))
                break
    if not any(hidden):
        return text
    return "".join(HIDDEN if flag else text[i] for i, flag in enumerate(hidden) if not (flag and i and hidden[i - 1]))


def sanitize_server_text(value: t.Any, *, limit: int = 160, secrets: t.Iterable[t.Any] = ()) -> str:
    """Make text chosen by the server safe and short enough for a one-line message (or a result field).

    The text goes through :func:`redact` (with ``secrets``, the values sent in the request), then
    control and non-ASCII characters become spaces and it is cut to ``limit`` characters.
    """
    secrets = list(secrets)
    text = redact(str(value)[:_REDACT_WINDOW], secrets)
    text = redact(re.sub(r"[^\x20-\x7e]+", " ", text).strip(), secrets)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_HTML_DROP = re.compile(r"(?is)<(script|style)\b.*?</\1\s*>|<!--.*?-->")
_HTML_TITLE = re.compile(r"(?is)<title\b[^>]*>(.*?)</title\s*>")
_HTML_TAG = re.compile(r"(?s)<[^>]*>")


def answer_snippet(body: bytes | None, *, content_type: str | None = None, secrets: t.Iterable[t.Any] = (), limit: int = 80) -> str:
    """A short, secret-free, one-line summary of an HTTP answer body, for a message.

    HTML gives its ``<title>`` (or its text without tags); other bodies give their first
    characters. The text goes through :func:`redact` with ``secrets`` (the values sent), so
    neither they nor token-shaped strings appear, also when the body was cut inside one.
    Returns ``""`` for a missing or empty body.
    """
    if not body:
        return ""
    text = body.decode("utf-8", errors="replace")
    kind = (content_type or "").lower()
    if "html" in kind or "xml" in kind or text.lstrip()[:1] == "<":
        text = _HTML_DROP.sub(" ", text)
        title = _HTML_TITLE.search(text)
        text = html.unescape(_HTML_TAG.sub(" ", title.group(1) if title and title.group(1).strip() else text))
    secrets = list(secrets)
    text = redact(text[:_REDACT_WINDOW], secrets)
    return sanitize_server_text(" ".join(re.sub(r"[^\x20-\x7e]+", " ", text).split()), limit=limit, secrets=secrets)


# The error codes Zoho's token endpoint answers with (zoho-oauth-facts.md, "Errors"), matched without case.
KNOWN_ERROR_CODES = frozenset(
    {
        "invalid_code",
        "invalid_client",
        "invalid_client_secret",
        "invalid_redirect_uri",
        "invalid_token",
        "invalid_request",
        "invalid_scope",
        "unsupported_grant_type",
        "access_denied",
    }
    | _THROTTLE_CODES
)


def api_error(
    *,
    operation: str,
    error_code: str,
    accounts_url: str,
    http_status: int | None = None,
    description: t.Any = None,
    secrets: t.Iterable[t.Any] = (),
) -> ZohoAPIError:
    """Build the typed error for an ``{"error": ...}`` answer of the token endpoint.

    ``operation`` is one of ``exchange``, ``refresh`` or ``revoke``. ``error_code`` and
    ``description`` are the server's text: both go through :func:`sanitize_server_text` with
    ``secrets`` (every value sent in the request), so neither the message nor ``error_code``
    can repeat a client secret, grant code or token that Zoho echoed.
    """
    secrets = list(secrets)
    # Zoho's own error codes are our vocabulary, not server text that could carry a secret: matched as they are, so that
    # a secret that happens to share a piece with one (a client secret ending in "t_secret") never hides the code.
    given = str(error_code).strip()
    known = given.lower() in KNOWN_ERROR_CODES
    code = given if known else sanitize_server_text(error_code, limit=80, secrets=secrets)
    where = f"at {accounts_url}"
    key = code.lower()
    detail = f" Zoho says: {sanitize_server_text(description, secrets=secrets)}." if description else ""
    cls: type[ZohoAPIError] = ZohoAPIError
    if key in _THROTTLE_CODES or (key == "access_denied" and operation == "refresh"):
        cls = ZohoThrottledError
        text = (
            f"Zoho is throttling token requests (error: {code}) {where}. Zoho lets each refresh token mint at most 10 access "
            "tokens per 10 minutes and refuses further requests for the rest of that window. Reuse the access token you already "
            "have (it is valid for an hour: use `token_cache`, or pass `access_token` and `expires_at` to "
            "zohothrive.oauth.zoho_thrive_refresh so that a still-valid token is not replaced), and try again after about 10 minutes."
        )
    elif key == "invalid_code" and operation == "exchange":
        cls = ZohoInvalidCodeError
        text = (
            f"Zoho rejected the grant code (error: invalid_code) {where}. The code has expired (a redirect code lives about "
            "1 to 3 minutes, a self-client code 3 to 10 minutes), was already used (a code works only once), or was issued in "
            "another data center than this accounts server. Generate a new code, exchange it promptly, and check `data_center` "
            "or `accounts_url`."
        )
    elif key == "invalid_code":
        cls = ZohoInvalidCodeError
        text = (
            f"Zoho rejected the refresh token (error: invalid_code) {where}. {_REVOKE_HINT}, or it belongs to another data "
            "center. Exchange a new grant code to get a new refresh token."
        )
    elif key == "invalid_client":
        cls = ZohoInvalidClientError
        text = (
            f"Zoho does not recognise the client (error: invalid_client) {where}. Check `client_id` and `client_secret`: both "
            "must be copied completely from the same client in the Zoho API console. Also check that the request goes to the "
            "accounts server of the user's data center (`data_center` or `accounts_url`): a client used outside its home data "
            "center needs Multi-DC enabled for that data center in the Zoho API console."
        )
    elif key == "invalid_client_secret":
        cls = ZohoInvalidClientSecretError
        text = (
            f"Zoho rejected the client secret (error: invalid_client_secret) {where}: the client ID is known, but `client_secret` "
            "does not belong to it. Copy the current secret of this client from the Zoho API console (regenerating it there "
            "replaces the old one). Only if the client has a separate secret per data center (Multi-DC): use the one of this "
            "data center."
        )
    elif key == "invalid_redirect_uri":
        cls = ZohoInvalidRedirectURIError
        text = (
            f"Zoho rejected the redirect URI (error: invalid_redirect_uri) {where}. `redirect_uri` must match a URI registered "
            "for the client exactly (scheme, host, path and trailing slash) and the one used to get the code. Self-client codes "
            "need no `redirect_uri`: omit it."
        )
    elif operation == "revoke":
        cls = ZohoInvalidTokenError
        text = (
            f"Zoho does not accept this refresh token for revocation (error: {code}) {where}: it is already revoked or unknown, "
            "or it was issued in another data center (Zoho gives the same answer then)."
        )
    else:
        text = f"Zoho refused the {_OPERATION_NAMES.get(operation, operation)} request (error: {code}) {where}."
    return cls(text + detail, error_code=code, http_status=http_status)


_OPERATION_NAMES = {"exchange": "grant code exchange", "refresh": "token refresh", "revoke": "token revocation"}


def operation_name(operation: str) -> str:
    return _OPERATION_NAMES.get(operation, operation)


__all__ = (
    "HIDDEN",
    "ZohoAPIError",
    "ZohoAuthorizationDeniedError",
    "ZohoCodeMayBeSpentError",
    "ZohoDependencyError",
    "ZohoInputError",
    "ZohoInvalidClientError",
    "ZohoInvalidClientSecretError",
    "ZohoInvalidCodeError",
    "ZohoInvalidRedirectURIError",
    "ZohoInvalidTokenError",
    "ZohoNotProcessedError",
    "ZohoOAuthError",
    "ZohoProtocolError",
    "ZohoServerError",
    "ZohoTLSError",
    "ZohoThrottledError",
    "ZohoTokenStoreError",
    "ZohoTransportError",
    "ZohoUnexpectedError",
    "answer_snippet",
    "api_error",
    "operation_name",
    "redact",
    "sanitize_server_text",
    "secret_forms",
)
