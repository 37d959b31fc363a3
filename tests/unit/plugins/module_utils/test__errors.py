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
    sanitize_server_text,
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
