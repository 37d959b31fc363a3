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
    ZohoOAuthError,
    ZohoProtocolError,
    ZohoServerError,
    ZohoThrottledError,
    ZohoTLSError,
    ZohoTokenStoreError,
    ZohoTransportError,
    ZohoUnexpectedError,
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
