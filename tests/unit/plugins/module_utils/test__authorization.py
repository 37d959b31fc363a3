# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Authorization URL builder, callback parser, state check and secret-input checks."""

from __future__ import annotations

import base64
import hashlib
import re
import typing as t
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils import _authorization
from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import (
    Callback,
    build_authorization_url,
    check_redirect_uri,
    check_state,
    clean_secret,
    fingerprint,
    generate_pkce_pair,
    generate_state,
    parse_callback_url,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoAuthorizationDeniedError, ZohoInputError

CODE = "1000.5f0e2b7c9d1a4e3f8b6c0a9d2e7f1b3c.8a4d6e2f0b9c1a7e3d5f"
CB = "https://app.example.com/oauth/zoho/callback"


def callback_url(**params: str) -> str:
    query = "&".join(f"{quote(k, safe='-')}={quote(v, safe='')}" for k, v in params.items())
    return f"{CB}?{query}"


# -- clean_secret ------------------------------------------------------------------------------


@pytest.mark.parametrize("padded", [CODE + "\n", "\n" + CODE + "\r\n", "  " + CODE + "\t ", CODE])
def test_clean_secret_strips_surrounding_whitespace(padded: str) -> None:
    assert clean_secret(padded, "grant code") == CODE


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("\n\t\r\n", "is empty"),
        ("1000.Qx7 def", "whitespace, control or non-ASCII"),  # internal space
        ("1000.Qx7\x00def", "whitespace, control or non-ASCII"),  # NUL
        ("1000.Qx7\x7fdef", "whitespace, control or non-ASCII"),
        ("1000.Qx7\u00e9def", "whitespace, control or non-ASCII"),  # non-ASCII
        ("1000.Qx7\u202edef", "whitespace, control or non-ASCII"),  # RTL override
        ("1000.Qx7\ndef", "whitespace, control or non-ASCII"),
        ("Z" * 10_000, "10000 characters long"),
    ],
)
def test_clean_secret_refusals_never_repeat_the_value(value: str, words: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        clean_secret(value, "grant code")
    message = str(info.value)
    assert words in message
    assert "grant code" in message
    stripped = value.strip()
    if stripped:
        assert stripped not in message
        assert stripped[:8] not in message


def test_clean_secret_length_boundary() -> None:
    assert clean_secret("A" * 2048, "code") == "A" * 2048
    with pytest.raises(ZohoInputError):
        clean_secret("A" * 2049, "code")


@pytest.mark.parametrize("value", [None, 123, ["1000.x"], {"code": "1000.x"}, b"1000.x"])
def test_clean_secret_refuses_non_strings(value: t.Any) -> None:
    with pytest.raises(ZohoInputError) as info:
        clean_secret(value, "refresh token")
    assert f"must be a string, not {type(value).__name__}" in str(info.value)


def test_clean_secret_keeps_url_special_characters_for_form_encoding() -> None:
    # A value carrying '&client_secret=' stays one value; the HTTP layer form-encodes it.
    assert clean_secret("1000.a&client_secret=x", "code") == "1000.a&client_secret=x"


# -- fingerprint, state, PKCE ----------------------------------------------------------------


def test_fingerprint_is_sha256_hex() -> None:
    assert fingerprint("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert fingerprint(CODE) != fingerprint(CODE + "x")


def test_generate_state_is_random_and_url_safe() -> None:
    states = {generate_state() for _unused in range(50)}
    assert len(states) == 50
    for state in states:
        assert len(state) >= 43  # 32 random bytes
        assert re.fullmatch(r"[A-Za-z0-9_-]+", state)


def test_pkce_pair_is_s256() -> None:
    verifier, challenge = generate_pkce_pair()
    assert 43 <= len(verifier) <= 128  # RFC 7636 section 4.1
    assert re.fullmatch(r"[A-Za-z0-9._~-]+", verifier)
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")
    assert challenge == expected
    assert "=" not in challenge
    assert generate_pkce_pair()[0] != verifier


def test_pkce_matches_the_rfc_7636_example(monkeypatch: pytest.MonkeyPatch) -> None:
    # RFC 7636 appendix B.
    monkeypatch.setattr(_authorization.secrets, "token_urlsafe", lambda n: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    assert generate_pkce_pair() == ("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")


# -- authorization URL ---------------------------------------------------------------------------


def build(**overrides: t.Any) -> str:
    kwargs: dict[str, t.Any] = {
        "accounts_url": "https://accounts.zoho.com",
        "client_id": "1000.CLIENTID",
        "scopes": ["Thrive.Referral.CREATE"],
        "redirect_uri": CB,
        "state": "STATE123",
    }
    kwargs.update(overrides)
    return build_authorization_url(**kwargs)


def query_of(url: str) -> dict[str, str]:
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


def test_authorization_url_defaults() -> None:
    url = build()
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "accounts.zoho.com", "/oauth/v2/auth")
    assert query_of(url) == {
        "response_type": "code",
        "client_id": "1000.CLIENTID",
        "scope": "Thrive.Referral.CREATE",
        "redirect_uri": CB,
        "access_type": "offline",
        "state": "STATE123",
    }


def test_authorization_url_joins_scopes_with_commas() -> None:
    url = build(scopes=["Thrive.Referral.CREATE", " ZohoThrive.advocates.READ ", "", None])
    assert query_of(url)["scope"] == "Thrive.Referral.CREATE,ZohoThrive.advocates.READ"


def test_authorization_url_options() -> None:
    url = build(accounts_url="https://accounts.zoho.eu/", access_type="online", prompt="consent", code_challenge="CHALLENGE")
    assert url.startswith("https://accounts.zoho.eu/oauth/v2/auth?")
    query = query_of(url)
    assert query["access_type"] == "online"
    assert query["prompt"] == "consent"
    assert query["code_challenge"] == "CHALLENGE"
    assert query["code_challenge_method"] == "S256"


def test_authorization_url_without_prompt_or_pkce_has_no_such_parameters() -> None:
    query = query_of(build())
    assert "prompt" not in query and "code_challenge" not in query and "code_challenge_method" not in query


def test_authorization_url_encodes_state_and_redirect() -> None:
    url = build(state="a&b=c#d", redirect_uri="https://app.example.com/cb?x=1")
    query = query_of(url)
    assert query["state"] == "a&b=c#d"
    assert query["redirect_uri"] == "https://app.example.com/cb?x=1"
    assert "#" not in url


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"client_id": ""}, "ZOHO_THRIVE_CLIENT_ID"),
        ({"client_id": "  "}, "ZOHO_THRIVE_CLIENT_ID"),
        ({"scopes": []}, "at least one scope"),
        ({"scopes": ["", "  "]}, "at least one scope"),
        ({"scopes": ["Thrive.Referral.CREATE,Other.x.READ"]}, "one scope per list item"),
        ({"scopes": ["Thrive Referral"]}, "one scope per list item"),
        ({"access_type": "forever"}, "access_type must be one of offline, online"),
        ({"redirect_uri": ""}, "redirect_uri is required"),
        ({"redirect_uri": "app.example.com/cb"}, "absolute http:// or https:// URI"),
        ({"redirect_uri": "javascript:alert(1)"}, "absolute http:// or https:// URI"),
        ({"redirect_uri": "https://app.example.com/c b"}, "without spaces"),
        ({"state": ""}, "state must not be empty"),
    ],
)
def test_authorization_url_refusals(overrides: dict[str, t.Any], words: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        build(**overrides)
    assert words in str(info.value)


def test_check_redirect_uri_accepts_http_and_https() -> None:
    assert check_redirect_uri("http://localhost:8080/cb") == "http://localhost:8080/cb"
    assert check_redirect_uri(CB + "/") == CB + "/"  # a trailing slash is kept: it must match exactly


# -- callback parser -----------------------------------------------------------------------------


def test_parse_full_callback() -> None:
    cb = parse_callback_url(callback_url(state="S1", code=CODE, location="eu", **{"accounts-server": "https://accounts.zoho.eu"}))
    assert cb == Callback(code=CODE, location="eu", accounts_server="https://accounts.zoho.eu", state="S1")
    assert cb.accounts_url == "https://accounts.zoho.eu"


def test_parse_callback_with_location_only() -> None:
    cb = parse_callback_url(callback_url(code=CODE, location="IN"))
    assert cb.location == "in"
    assert cb.accounts_server is None and cb.state is None
    assert cb.accounts_url == "https://accounts.zoho.in"


def test_parse_callback_without_location() -> None:
    cb = parse_callback_url(callback_url(code=CODE))
    assert cb.location is None and cb.accounts_url is None


def test_parse_callback_accounts_server_names_the_table_entry() -> None:
    cb = parse_callback_url(callback_url(code=CODE, **{"accounts-server": "https://ACCOUNTS.zoho.com.au/"}))
    assert cb.accounts_url == "https://accounts.zoho.com.au"


def test_parse_callback_strips_the_code() -> None:
    assert parse_callback_url(callback_url(code=" " + CODE + "\n")).code == CODE
    assert parse_callback_url("  " + callback_url(code=CODE) + "\n").code == CODE


def test_parse_callback_in_fragment() -> None:
    cb = parse_callback_url(f"{CB}#code={CODE}&location=jp&state=S")
    assert (cb.code, cb.location, cb.state) == (CODE, "jp", "S")


def secret_free(error: BaseException) -> str:
    message = str(error)
    assert CODE not in message
    assert CODE[:12] not in message
    return message


def test_callback_access_denied() -> None:
    with pytest.raises(ZohoAuthorizationDeniedError) as info:
        parse_callback_url(callback_url(error="access_denied", state="S", code=CODE))
    message = secret_free(info.value)
    assert "error=access_denied" in message
    assert "10 per client per 10 minutes" in message
    assert info.value.error_code == "access_denied"
    assert isinstance(info.value, ZohoInputError)


def test_callback_other_error_is_sanitised() -> None:
    with pytest.raises(ZohoAuthorizationDeniedError) as info:
        parse_callback_url(callback_url(error="server_error<script>alert(1)</script>\r\nX", code=CODE))
    message = secret_free(info.value)
    assert "<" not in message and "\r" not in message and "\n" not in message
    assert "error=server_errorscriptalert1script" in message


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"{CB}?code={CODE}&code=1000.other", "'code' more than once"),
        (f"{CB}?code={CODE}&code={CODE}", "'code' more than once"),
        (f"{CB}?code={CODE}&state=a&state=b", "'state' more than once"),
        (f"{CB}?code={CODE}&location=eu&location=us", "'location' more than once"),
        (f"{CB}?state=S&location=eu", "no code parameter"),
        (f"{CB}?code=&state=S", "code in callback_url is empty"),
        (CB, "no code parameter"),
        (f"{CB}?code={CODE}&location=mars", "not a known Zoho data center"),
        (f"{CB}?code={CODE}&location=us&accounts-server=https%3A%2F%2Faccounts.zoho.eu", "name different data centers"),
        (f"{CB}?code={CODE}&accounts-server=https%3A%2F%2Faccounts.zoho.com.evil.tld", "not a known Zoho accounts server"),
        (f"{CB}?code={CODE}&accounts-server=http%3A%2F%2Faccounts.zoho.com", "not a known Zoho accounts server"),
        (f"{CB}?code={CODE}&accounts-server=https%3A%2F%2Fevil.tld%2F%3Faccounts.zoho.com", "not a known Zoho accounts server"),
        (f"{CB}?code={CODE}%20x", "whitespace, control or non-ASCII"),
        ("", "callback_url is empty"),
        ("   ", "callback_url is empty"),
        (f"{CB}?code={CODE}&" + "&".join(f"p{i}=v" for i in range(60)), "too many or malformed parameters"),
    ],
)
def test_callback_refusals_never_repeat_the_code(url: str, words: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        parse_callback_url(url)
    assert words in secret_free(info.value)


def test_callback_non_string() -> None:
    with pytest.raises(ZohoInputError):
        parse_callback_url(None)


# -- state check ------------------------------------------------------------------------------------


def cb_with_state(state: str | None) -> Callback:
    return Callback(code=CODE, location=None, accounts_server=None, state=state)


def test_check_state_match_and_absence() -> None:
    check_state(cb_with_state("S-123"), "S-123")
    check_state(cb_with_state(None), None)


@pytest.mark.parametrize(
    ("state", "expected", "words"),
    [
        (None, "S-123", "carries no state"),
        ("S-123", None, "expected_state is required"),
        ("S-123", "S-124", "does not match expected_state"),
        ("S-123", "S-1234", "does not match expected_state"),
        ("S-123", "s-123", "does not match expected_state"),
        ("", "S-123", "does not match expected_state"),
    ],
)
def test_check_state_refusals(state: str | None, expected: str | None, words: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        check_state(cb_with_state(state), expected)
    assert words in str(info.value)
    for value in (state, expected):
        if value:
            assert value not in str(info.value)


def test_check_state_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[t.Any, t.Any]] = []
    real = _authorization.hmac.compare_digest

    def spy(a: t.Any, b: t.Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(_authorization.hmac, "compare_digest", spy)
    check_state(cb_with_state("S-\u00e9"), "S-\u00e9")
    with pytest.raises(ZohoInputError):
        check_state(cb_with_state("S-1"), "S-2")
    assert seen == [("S-\u00e9".encode("utf-8"), "S-\u00e9".encode("utf-8")), (b"S-1", b"S-2")]
