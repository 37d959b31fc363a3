# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Typed errors: hierarchy, flags, fail_json arguments and the Zoho error-code mapping."""

from __future__ import annotations

import re

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils import _errors
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import (
    ZohoAPIError,
    ZohoAuthorizationDeniedError,
    ZohoCodeMayBeSpentError,
    ZohoDependencyError,
    ZohoInputError,
    ZohoInvalidClientError,
    ZohoInvalidClientSecretError,
    ZohoInvalidCodeError,
    ZohoInvalidRedirectURIError,
    ZohoInvalidTokenError,
    ZohoNotProcessedError,
    ZohoOAuthError,
    ZohoProtocolError,
    ZohoServerError,
    ZohoThrottledError,
    ZohoTLSError,
    ZohoTokenStoreError,
    ZohoTransportError,
    ZohoUnexpectedError,
    answer_snippet,
    api_error,
    operation_name,
    redact,
    sanitize_server_text,
    secret_forms,
)

URL = "https://accounts.zoho.eu"


def test_every_error_is_a_zoho_oauth_error() -> None:
    for name in _errors.__all__:
        obj = getattr(_errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, ZohoOAuthError), name


@pytest.mark.parametrize(
    ("cls", "base"),
    [
        (ZohoAuthorizationDeniedError, ZohoInputError),
        (ZohoTLSError, ZohoTransportError),
        (ZohoInvalidCodeError, ZohoAPIError),
        (ZohoInvalidClientError, ZohoAPIError),
        (ZohoInvalidClientSecretError, ZohoAPIError),
        (ZohoInvalidRedirectURIError, ZohoAPIError),
        (ZohoThrottledError, ZohoAPIError),
        (ZohoInvalidTokenError, ZohoAPIError),
    ],
)
def test_hierarchy(cls: type, base: type) -> None:
    assert issubclass(cls, base)


@pytest.mark.parametrize(
    ("error", "unknown"),
    [
        (ZohoInputError("x"), False),
        (ZohoDependencyError("x"), False),
        (ZohoTokenStoreError("x"), False),
        (ZohoAPIError("x"), False),
        (ZohoInvalidCodeError("x"), False),
        (ZohoTLSError("x"), False),
        (ZohoTransportError("x", sent=False), False),
        (ZohoTransportError("x", sent=True), True),
        (ZohoServerError("x"), True),
        (ZohoProtocolError("x"), True),
        (ZohoCodeMayBeSpentError("x"), True),
        (ZohoNotProcessedError("x", http_status=404), False),  # issue 7: the code is still usable
        (ZohoUnexpectedError("x", sent=False), False),
        (ZohoUnexpectedError("x", sent=True), True),
    ],
)
def test_outcome_unknown_flags(error: ZohoOAuthError, unknown: bool) -> None:
    assert error.outcome_unknown is unknown


def test_unexpected_error_keeps_whether_it_was_sent() -> None:
    error = ZohoUnexpectedError("Unexpected error (RuntimeError).", sent=True, http_status=200)
    assert error.sent is True and error.fail_kwargs() == {"msg": "Unexpected error (RuntimeError).", "http_status": 200}


def test_tls_error_means_nothing_was_sent() -> None:
    error = ZohoTLSError("bad cert")
    assert error.sent is False


def test_fail_kwargs() -> None:
    error = ZohoOAuthError("It broke.", error_code="invalid_code", http_status=200, hint="x")
    assert str(error) == "It broke."
    assert error.fail_kwargs() == {"msg": "It broke.", "error_code": "invalid_code", "http_status": 200, "hint": "x"}
    assert ZohoInputError("Bad.").fail_kwargs() == {"msg": "Bad."}


# -- sanitising server text ------------------------------------------------------------------


def test_sanitize_server_text_removes_control_and_non_ascii() -> None:
    assert sanitize_server_text("a\r\nb\x1b[31mc\u202ed") == "a b [31mc d"
    assert sanitize_server_text("  x  ") == "x"
    assert sanitize_server_text(None) == "None"


def test_sanitize_server_text_truncates() -> None:
    text = sanitize_server_text("y" * 500)
    assert len(text) == 160 and text.endswith("...")
    assert len(sanitize_server_text("y" * 500, limit=20)) == 20


# -- Zoho error code mapping ------------------------------------------------------------------


def test_invalid_code_on_exchange_speaks_of_the_grant_code() -> None:
    error = api_error(operation="exchange", error_code="invalid_code", accounts_url=URL, http_status=200)
    assert error.__class__ is ZohoInvalidCodeError
    assert "invalid_code" in error.msg and URL in error.msg
    assert "grant code" in error.msg
    assert "refresh token" not in error.msg.split("Generate")[0]
    assert "expired" in error.msg and "already used" in error.msg
    assert error.error_code == "invalid_code" and error.http_status == 200


@pytest.mark.parametrize("operation", ["refresh", "revoke"])
def test_invalid_code_on_refresh_speaks_of_the_refresh_token(operation: str) -> None:
    error = api_error(operation=operation, error_code="invalid_code", accounts_url=URL)
    assert error.__class__ is ZohoInvalidCodeError
    assert "invalid_code" in error.msg
    assert "rejected the refresh token" in error.msg
    assert "20 refresh tokens" in error.msg  # the silent eviction is the usual cause
    assert "grant code" in error.msg  # the remedy: exchange a new one


@pytest.mark.parametrize(
    ("code", "cls", "words"),
    [
        ("invalid_client", ZohoInvalidClientError, "client_id"),
        ("invalid_client_secret", ZohoInvalidClientSecretError, "client_secret"),
        ("invalid_redirect_uri", ZohoInvalidRedirectURIError, "redirect_uri"),
    ],
)
@pytest.mark.parametrize("operation", ["exchange", "refresh"])
def test_client_errors(code: str, cls: type, words: str, operation: str) -> None:
    error = api_error(operation=operation, error_code=code, accounts_url=URL, http_status=200)
    assert error.__class__ is cls
    assert f"(error: {code})" in error.msg
    assert words in error.msg
    assert error.error_code == code


@pytest.mark.parametrize("code", ["Access Denied", "access denied", "ACCESS DENIED", "access_denied_throttle"])
@pytest.mark.parametrize("operation", ["exchange", "refresh"])
def test_throttle(code: str, operation: str) -> None:
    error = api_error(
        operation=operation,
        error_code=code,
        accounts_url=URL,
        description="You have made too many requests continuously. Please try again after some time.",
    )
    assert error.__class__ is ZohoThrottledError
    assert f"(error: {code})" in error.msg
    assert re.search(r"10 access tokens per 10 minutes", error.msg)
    assert "Zoho says: You have made too many requests continuously." in error.msg
    assert error.error_code == code


def test_access_denied_code_on_refresh_is_the_throttle() -> None:
    assert api_error(operation="refresh", error_code="access_denied", accounts_url=URL).__class__ is ZohoThrottledError
    assert api_error(operation="exchange", error_code="access_denied", accounts_url=URL).__class__ is ZohoAPIError


def test_unknown_code_on_revoke_is_invalid_token() -> None:
    error = api_error(operation="revoke", error_code="invalid_token", accounts_url=URL, http_status=400)
    assert error.__class__ is ZohoInvalidTokenError
    assert "(error: invalid_token)" in error.msg
    assert "another data center" in error.msg
    assert error.http_status == 400


def test_unknown_code_is_a_generic_api_error() -> None:
    error = api_error(operation="refresh", error_code="invalid_scope", accounts_url=URL, description="Enter a valid scope")
    assert error.__class__ is ZohoAPIError
    assert error.msg == f"Zoho refused the token refresh request (error: invalid_scope) at {URL}. Zoho says: Enter a valid scope."


def test_server_chosen_code_and_description_are_sanitised() -> None:
    error = api_error(operation="refresh", error_code="bad\r\n\x1b[2Jcode" + "z" * 200, accounts_url=URL, description="line1\nline2")
    assert "\n" not in error.msg and "\r" not in error.msg and "\x1b" not in error.msg
    assert error.error_code is not None and len(error.error_code) <= 80
    assert "line1 line2" in error.msg


def test_operation_names() -> None:
    assert operation_name("exchange") == "grant code exchange"
    assert operation_name("refresh") == "token refresh"
    assert operation_name("revoke") == "token revocation"
    assert operation_name("other") == "other"


# -- issue 6/7: option names are marked for the role's labels; the advice does not mislead ---------------------


@pytest.mark.parametrize(
    ("operation", "code", "options"),
    [
        ("exchange", "invalid_code", ["`data_center`", "`accounts_url`"]),
        ("exchange", "invalid_client", ["`client_id`", "`client_secret`", "`data_center`", "`accounts_url`"]),
        ("refresh", "invalid_client_secret", ["`client_secret`"]),
        ("exchange", "invalid_redirect_uri", ["`redirect_uri`"]),
        ("refresh", "Access Denied", ["`token_cache`", "`access_token`", "`expires_at`"]),
    ],
)
def test_messages_mark_option_names(operation: str, code: str, options: list[str]) -> None:
    message = api_error(operation=operation, error_code=code, accounts_url=URL).msg
    for option in options:
        assert option in message
    unmarked = re.sub(r"`[a-z_]+`|invalid_[a-z_]+", "", message)  # Zoho's error codes are not option names
    for name in ("client_id", "client_secret", "data_center", "accounts_url", "redirect_uri", "token_cache", "expires_at"):
        assert name not in unmarked, name


def test_invalid_client_secret_advice_leads_with_the_likely_cause() -> None:
    message = api_error(operation="exchange", error_code="invalid_client_secret", accounts_url=URL).msg
    assert "the client ID is known, but `client_secret` does not belong to it" in message
    assert message.index("current secret of this client") < message.index("Multi-DC")
    assert message.count("Multi-DC") == 1 and "Only if" in message


def test_invalid_client_advice_names_both_credentials() -> None:
    message = api_error(operation="refresh", error_code="invalid_client", accounts_url=URL).msg
    assert "copied completely from the same client" in message


# -- issue 7 item 2: a short, secret-free snippet of an answer body ------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1><p>nginx</p></body></html>", "text/html", "404 Not Found"),
        (
            b"<html><head><title> </title><style>p{}</style></head><body><p>Bad &amp; <b>ugly</b></p><script>x()</script></body></html>",
            "text/html",
            "Bad & ugly",
        ),
        (b"<!-- a comment --><p>Proxy says no</p>", None, "Proxy says no"),
        (b"Service\r\n  Unavailable\n", "text/plain", "Service Unavailable"),
        (b'{"error": "not_found"}', "application/json", '{"error": "not_found"}'),
        (b"", "text/html", ""),
        (None, "text/html", ""),
        (b"\xff\xfe caf\xc3\xa9 \x1b[31m", "text/plain", "caf [31m"),
    ],
)
def test_answer_snippet(body: bytes | None, content_type: str | None, expected: str) -> None:
    assert answer_snippet(body, content_type=content_type) == expected


def test_answer_snippet_is_short() -> None:
    assert len(answer_snippet(b"y" * 5000)) == 80 and answer_snippet(b"y" * 5000).endswith("...")
    assert len(answer_snippet(b"y" * 5000, limit=20)) == 20


@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=authorization_code&client_id=1000.ID&client_secret=s3cr3tValue&code=abcdEFGH",
        b'{"access_token": "opaqueAT", "refresh_token":"opaqueRT", "code" : "opaqueCODE", "client_secret": "s3cr3tValue"}',
        b"<html><title>Echo</title></html>",
        b"token=opaqueAT&x=1",
    ],
)
def test_answer_snippet_hides_secret_looking_values(body: bytes) -> None:
    text = answer_snippet(body, limit=500)
    for value in ("s3cr3tValue", "abcdEFGH", "opaqueAT", "opaqueRT", "opaqueCODE"):
        assert value not in text


def test_answer_snippet_hides_the_values_sent_and_zoho_shaped_tokens() -> None:
    secret = "ZSEC" + "q" * 40
    text = answer_snippet(f"you sent {secret} and 1000.abc123.def456".encode(), secrets=[secret, "ab"], limit=500)
    assert secret not in text and "abc123" not in text
    assert text == "you sent <hidden> and <hidden>"


def test_answer_snippet_hides_a_secret_cut_at_the_end_of_a_partial_body() -> None:
    secret = "ZSEC" + "q" * 40
    text = answer_snippet(f"echo {secret[:12]}".encode(), secrets=[secret], limit=500)
    assert secret[:6] not in text and text == "echo <hidden>"


def test_answer_snippet_hides_an_entity_encoded_secret() -> None:
    secret = "ZSEC" + "q" * 40
    body = ("<html><body>" + "".join(f"&#{ord(ch)};" for ch in secret) + "</body></html>").encode()
    assert secret not in answer_snippet(body, content_type="text/html", secrets=[secret], limit=500)


# -- the one redaction of server text (finding: Zoho's error text repeated the client secret) ---------------------------

HEX_SECRET = "9c1f0e2a7b3d4c5e6f708192a3b4c5d6e7f8091a2b"  # a real Zoho client secret is 42 hex digits, no 1000. prefix
PLAIN = "Zx9Qw7Er5Ty3Ui1OpAs8Df6Gh4Jk2Lz0XcVbNmQwEr"  # no token shape at all: only the values sent can hide it
ODD = 'a/b+c=d&e f%g\\h"i<j>k'  # characters that every encoding spells differently


def _base64_inside(prefix: bytes, secret: str, *, urlsafe: bool = False) -> tuple[str, str]:
    """``secret`` base64-encoded between other bytes, and the characters of that encoding that only the secret determines."""
    import base64  # pylint: disable=import-outside-toplevel

    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    text = encode(prefix + secret.encode() + b"tail").decode()
    return text, text[(8 * len(prefix) + 5) // 6 : 8 * (len(prefix) + len(secret.encode())) // 6]


def _echoes(secret: str) -> dict[str, tuple[str, str]]:
    """Ways a server may echo ``secret``: name -> (the echo, the part of it that must not remain)."""
    import html as html_lib  # pylint: disable=import-outside-toplevel
    import json  # pylint: disable=import-outside-toplevel
    from urllib.parse import quote, quote_plus  # pylint: disable=import-outside-toplevel

    def same(text: str) -> tuple[str, str]:
        return text, text

    return {
        "raw": same(secret),
        "upper-case": same(secret.upper()),
        "quote": same(quote(secret, safe="")),
        "quote-lower-hex": same(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe=""))),
        "quote_plus": same(quote_plus(secret)),
        "json": same(json.dumps(secret)[1:-1]),
        "json-escaped-slash": same(json.dumps(secret)[1:-1].replace("/", "\\/")),
        "html": same(html_lib.escape(secret)),
        "base64": _base64_inside(b"", secret),
        "base64-offset-1": _base64_inside(b"x", secret),
        "base64-offset-2": _base64_inside(b"xy", secret),
        "base64-offset-3": _base64_inside(b"xyz", secret),
        "urlsafe-base64-offset-1": _base64_inside(b"x", secret, urlsafe=True),
        "basic-auth": _base64_inside(b"1000.CLIENT:", secret),
    }


@pytest.mark.parametrize("secret", [HEX_SECRET, PLAIN, ODD], ids=["hex", "plain", "odd"])
@pytest.mark.parametrize("echo", list(_echoes(PLAIN)))
def test_redact_hides_every_spelling_of_a_value_sent(secret: str, echo: str) -> None:
    echoed, evidence = _echoes(secret)[echo]
    text = redact(f"Zoho says: {echoed} is not valid", [secret])
    assert text.startswith("Zoho says: ") and text.endswith(" is not valid") and "<hidden>" in text
    for size in (8, 12):  # no piece of what only the secret determines is left
        for start in range(len(evidence) - size + 1):
            assert evidence[start : start + size] not in text, (echoed, text)


@pytest.mark.parametrize("secret", [HEX_SECRET, PLAIN], ids=["hex", "plain"])
def test_redact_hides_pieces_of_a_value_sent(secret: str) -> None:
    for piece in (secret[:8], secret[-8:], secret[10:30], secret[:21], secret[21:]):
        assert piece not in redact(f"you sent {piece}!", [secret])
    assert redact(f"cut short: {secret[:5]}", [secret]) == "cut short: <hidden>"  # a body read in part ends inside one


def test_redact_merges_a_run_into_one_marker() -> None:
    assert redact(f"x {PLAIN}{PLAIN} y", [PLAIN]) == "x <hidden> y"


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "407 Proxy Authentication Required: Authorization needed for https://accounts.zoho.eu/oauth/v2/token/revoke"
    assert redact(text, [PLAIN, "ab", "", None]) == text  # values under 4 characters, or not strings, are not searched for
    assert redact("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz") == "z" * 52  # a long run without digits


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"secret {HEX_SECRET}", "secret <hidden>"),
        ("token 1000.0a1b2c3d.f9e8d7c6", "token <hidden>"),
        ("jwt eyJhbGciOiJIUzI1NiJ9abcdefghijklmnopqrstuvwxyz0123456789", "jwt <hidden>"),
        ("client_secret=whatever&x=1", "client_secret=<hidden>&x=1"),
        ('{"refresh_token": "opaque"}', '{"refresh_token": "<hidden>"}'),
    ],
)
def test_redact_hides_token_shaped_strings_whatever_was_sent(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_secret_forms_are_lower_case_and_longest_first() -> None:
    forms = secret_forms(ODD)
    assert forms == sorted(forms, key=len, reverse=True)
    assert all(form == form.lower() for form in forms)
    assert "a%2fb%2bc%3dd%26e%20f%25g%5ch%22i%3cj%3ek" in forms


def test_sanitize_server_text_redacts_with_the_values_sent() -> None:
    assert sanitize_server_text(f"bad secret {PLAIN}\r\n", secrets=[PLAIN]) == "bad secret <hidden>"
    assert sanitize_server_text(f"bad secret {HEX_SECRET}") == "bad secret <hidden>"


def test_sanitize_server_text_looks_at_a_bounded_window() -> None:
    import time  # pylint: disable=import-outside-toplevel

    started = time.monotonic()
    text = sanitize_server_text("y" * (1024 * 1024) + PLAIN, secrets=[PLAIN])
    assert time.monotonic() - started < 5 and len(text) == 160


@pytest.mark.parametrize("secret", [HEX_SECRET, PLAIN], ids=["hex", "plain"])
def test_api_error_redacts_zohos_code_and_description(secret: str) -> None:
    error = api_error(
        operation="exchange",
        error_code=f"invalid_client_secret {secret}",
        accounts_url=URL,
        http_status=200,
        description=f"client_secret {secret} is not valid",
        secrets=[secret],
    )
    for text in (error.msg, str(error.error_code), repr(error.fail_kwargs())):
        assert secret not in text and secret[:12] not in text and secret[-12:] not in text
    assert error.error_code == "invalid_client_secret <hidden>"
    assert "Zoho says: client_secret <hidden> is not valid." in error.msg


def test_answer_snippet_redacts_every_spelling_of_the_values_sent() -> None:
    for echo in _echoes(PLAIN).values():
        text = answer_snippet(f"echo: {echo[0]}".encode(), content_type="text/plain", secrets=[PLAIN], limit=500)
        assert PLAIN[:8] not in text and PLAIN[-8:] not in text and "<hidden>" in text


@pytest.mark.parametrize("secret", ["ZSEC_wrong_but_secret", "my-invalid_client-secret-1", "xx_redirect_uri_yy"])
def test_a_secret_that_shares_a_piece_with_zohos_error_code_never_hides_the_code(secret: str) -> None:
    """Zoho's error codes are matched as our vocabulary before any redaction, so the advice for them always comes."""
    for code in ("invalid_client_secret", "invalid_client", "invalid_redirect_uri", "INVALID_CLIENT_SECRET"):
        error = api_error(operation="exchange", error_code=code, accounts_url="https://accounts.zoho.eu", secrets=[secret])
        assert f"(error: {code.lower()})" in error.msg.lower()
        assert "<hidden>" not in error.msg.split("(error:")[1].split(")")[0]
        assert not error.msg.startswith("Zoho refused the grant code exchange request")  # the advice for the code, not the generic one
    echoed = api_error(operation="exchange", error_code=secret, accounts_url="https://accounts.zoho.eu", secrets=[secret])
    assert secret not in echoed.msg  # a code that is not Zoho's is server text: redacted
