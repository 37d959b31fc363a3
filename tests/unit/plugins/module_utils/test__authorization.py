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
    CREDENTIAL_OPTIONS,
    Callback,
    build_authorization_url,
    check_redirect_uri,
    check_state,
    clean_secret,
    credential_flaw,
    fingerprint,
    generate_pkce_pair,
    generate_state,
    is_invisible,
    parse_callback_url,
    tidy_credential,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoAuthorizationDeniedError, ZohoInputError

CODE = "1000.5f0e2b7c9d1a4e3f8b6c0a9d2e7f1b3c.8a4d6e2f0b9c1a7e3d5f"
CB = "https://app.example.com/oauth/zoho/callback"


def callback_url(**params: str) -> str:
    query = "&".join(f"{quote(k, safe='-')}={quote(v, safe='')}" for k, v in params.items())
    return f"{CB}?{query}"


# -- tidy_credential: one whitespace rule for every credential input (issue 7, item 4) ------------------

SECRET_VALUE = "9f3c1e7a2b5d8c0e4f6a1b3d5c7e9f0a2b4c6d8e"


@pytest.mark.parametrize(
    ("padded", "padding", "cause"),
    [
        # issue 7 item 4: `echo secret | ansible-vault encrypt_string` stores the secret plus a newline
        (SECRET_VALUE + "\n", "had a trailing newline, removed", "values made with `echo` without `-n` end in one"),
        (SECRET_VALUE + "\r\n", "had a trailing Windows line break (CR LF), removed", "Windows line endings"),
        (SECRET_VALUE + "\n\n", "had trailing line breaks, removed", "`echo` without `-n`"),
        (SECRET_VALUE + " \t", "had trailing whitespace, removed", "stray spaces or line breaks"),
        ("  " + SECRET_VALUE, "had leading whitespace, removed", "stray spaces or line breaks"),
        ("\n" + SECRET_VALUE + "\n", "had leading and trailing whitespace, removed", "stray spaces or line breaks"),
        (SECRET_VALUE + "\u00a0", "had trailing whitespace, removed", "stray spaces"),  # a no-break space from a web page
    ],
)
def test_tidy_credential_strips_and_warns_with_the_option_and_the_cause(padded: str, padding: str, cause: str) -> None:
    value, warning = tidy_credential(padded, "`client_secret`")
    assert value == SECRET_VALUE
    assert warning is not None
    assert warning.startswith(f"`client_secret` {padding}; ")
    assert cause in warning
    assert SECRET_VALUE not in warning and SECRET_VALUE[:8] not in warning


@pytest.mark.parametrize("clean", [SECRET_VALUE, "1000.ABC", "https://app.example.com/cb?code=1000.a&location=eu"])
def test_tidy_credential_leaves_a_clean_value_alone(clean: str) -> None:
    assert tidy_credential(clean, "`client_id`") == (clean, None)


@pytest.mark.parametrize("blank", ["", " ", "\n", "\r\n\t "])
def test_tidy_credential_turns_a_blank_value_into_an_empty_one_silently(blank: str) -> None:
    # The caller's "missing option" check then names the option; a warning about padding would only confuse.
    assert tidy_credential(blank, "`client_secret`") == ("", None)


@pytest.mark.parametrize(
    "inside",
    [
        "9f3c1e7a2b5d 8c0e4f6a",
        "9f3c1e7a2b5d\t8c0e4f6a",
        "9f3c1e7a2b5d\n8c0e4f6a",  # two vault values run together
        "9f3c1e7a2b5d\r\n8c0e4f6a",
        "9f3c1e7a2b5d\u00a08c0e4f6a",
        "9f3c1e7a2b5d\u20288c0e4f6a",  # LINE SEPARATOR
        " 9f3c1e7a2b5d 8c0e4f6a\n",  # padded too: still refused, not half-repaired
    ],
)
def test_tidy_credential_refuses_whitespace_inside_without_repeating_the_value(inside: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        tidy_credential(inside, "`client_secret` (from the environment variable ZOHO_THRIVE_CLIENT_SECRET)")
    message = str(info.value)
    assert message.startswith("`client_secret` (from the environment variable ZOHO_THRIVE_CLIENT_SECRET) contains whitespace")
    assert "nothing was sent to Zoho" in message
    for part in inside.split():
        assert part not in message


# -- invisible characters: Zoho's credentials are printable ASCII ------------------------------------------


@pytest.mark.parametrize(
    ("padded", "padding", "cause"),
    [
        # lookup('file') of a file that Windows Notepad saved as "UTF-8" (with a byte-order mark)
        ("\ufeff" + SECRET_VALUE, "had a leading byte-order mark (U+FEFF), removed", "saved by an editor such as Windows Notepad"),
        (SECRET_VALUE + "\u200b", "had a trailing zero-width space (U+200B), removed", "copied from chat tools, wikis"),
        ("\u2060" + SECRET_VALUE, "had a leading word joiner (U+2060), removed", "copied from chat tools"),
        ("\u200c" + SECRET_VALUE, "had a leading zero-width non-joiner (U+200C), removed", "copied from chat tools"),
        (SECRET_VALUE + "\u200d", "had a trailing zero-width joiner (U+200D), removed", "copied from chat tools"),
        (SECRET_VALUE + "\u00ad", "had a trailing soft hyphen (U+00AD), removed", "copied from chat tools"),
        (SECRET_VALUE + "\x00", "had a trailing NUL character (U+0000), removed", "binary or UTF-16 file"),
        (SECRET_VALUE + "\x1b", "had a trailing control character (U+001B), removed", "binary or UTF-16 file"),
        (SECRET_VALUE + "\u2061", "had a trailing invisible format character (U+2061), removed", "copied from chat tools"),
        ("\ufeff\u200b" + SECRET_VALUE, "had leading invisible characters (U+FEFF, U+200B), removed", "Windows Notepad"),
        # a BOM file that also ends in a newline: both causes are named
        ("\ufeff" + SECRET_VALUE + "\n", "had a leading byte-order mark (U+FEFF) and a trailing newline, removed", "`echo` without `-n`"),
        (" \u200b" + SECRET_VALUE, "had leading invisible characters (U+0020, U+200B), removed", "stray spaces"),
    ],
)
def test_tidy_credential_strips_invisible_characters_around_the_value_and_names_them(padded: str, padding: str, cause: str) -> None:
    value, warning = tidy_credential(padded, "`client_secret`")
    assert value == SECRET_VALUE
    assert warning is not None
    assert warning.startswith(f"`client_secret` {padding}; ")
    assert cause in warning
    assert SECRET_VALUE not in warning and SECRET_VALUE[:8] not in warning


def test_a_byte_order_mark_and_a_newline_get_both_causes() -> None:
    _value, warning = tidy_credential("\ufeff" + SECRET_VALUE + "\n", "`client_secret`")
    assert warning is not None and "byte-order mark (BOM)" in warning and "UTF-8 without BOM" in warning and "echo -n" in warning


@pytest.mark.parametrize(
    ("inside", "kind", "position"),
    [
        (SECRET_VALUE[:20] + "\u00ad" + SECRET_VALUE[20:], "a soft hyphen, U+00AD, at character 21", 21),
        (SECRET_VALUE[:5] + "\u200b" + SECRET_VALUE[5:], "a zero-width space, U+200B, at character 6", 6),
        (SECRET_VALUE[:5] + "\ufeff" + SECRET_VALUE[5:], "a byte-order mark, U+FEFF, at character 6", 6),  # two files concatenated
        (SECRET_VALUE[:9] + "\u2060" + SECRET_VALUE[9:], "a word joiner, U+2060, at character 10", 10),
        (SECRET_VALUE[:9] + "\x00" + SECRET_VALUE[9:], "a NUL character, U+0000, at character 10", 10),
        (SECRET_VALUE[:9] + "\x7f" + SECRET_VALUE[9:], "a DEL character, U+007F, at character 10", 10),
        (SECRET_VALUE[:9] + "\x85" + SECRET_VALUE[9:], "U+0085, at character 10", 10),  # NEXT LINE counts as whitespace
        (SECRET_VALUE[:9] + "\u202e" + SECRET_VALUE[9:], "a right-to-left override, U+202E, at character 10", 10),
        (SECRET_VALUE[:9] + "\U000e0001" + SECRET_VALUE[9:], "an invisible format character, U+E0001, at character 10", 10),
        # the position counts the padding, as the operator sees the value
        ("\ufeff" + SECRET_VALUE[:3] + "\u200b" + SECRET_VALUE[3:] + "\n", "a zero-width space, U+200B, at character 5", 5),
    ],
)
def test_tidy_credential_refuses_invisible_characters_inside_naming_kind_and_position(inside: str, kind: str, position: int) -> None:
    with pytest.raises(ZohoInputError) as info:
        tidy_credential(inside, "`client_secret`")
    message = str(info.value)
    assert message.startswith("`client_secret` contains ")
    assert kind in message
    assert f"at character {position})" in message
    assert "nothing was sent to Zoho" in message
    for part in re.split(r"[^\x21-\x7e]+", inside):
        if len(part) >= 4:
            assert part not in message


@pytest.mark.parametrize("letter", ["\u00e9", "\u0430", "\uff21", "\U0001f600", "\u0301"])
def test_a_visible_non_ascii_character_is_refused_by_kind_only(letter: str) -> None:
    # Its code point would repeat a character of the value: only its kind and position are named.
    with pytest.raises(ZohoInputError) as info:
        tidy_credential(SECRET_VALUE[:7] + letter + SECRET_VALUE[7:], "`client_secret`")
    message = str(info.value)
    assert "control or non-ASCII characters inside the value (the first: a non-ASCII " in message
    assert "at character 8" in message
    assert letter not in message and f"{ord(letter):04X}" not in message
    assert SECRET_VALUE[:7] not in message and SECRET_VALUE[7:15] not in message


def test_every_character_outside_printable_ascii_is_refused_inside_a_credential() -> None:
    # The whole Basic Multilingual Plane, plus some astral characters: printable ASCII is the only thing accepted.
    for code in list(range(0x10000)) + [0x1D173, 0xE0001, 0xE007F, 0x1F600, 0x10FFFD]:
        ch = chr(code)
        value = "1000.ab" + ch + "cd"
        if 0x21 <= code <= 0x7E:
            assert tidy_credential(value, "`code`") == (value, None)
            continue
        with pytest.raises(ZohoInputError):
            tidy_credential(value, "`code`")
        assert credential_flaw(value) is not None


@pytest.mark.parametrize("ch", ["\x00", "\x01", "\t", "\x0b", "\x7f", "\x85", "\u00a0", "\u00ad", "\u180e", "\u200b", "\u200e", "\u2060", "\u3000", "\ufeff"])
def test_invisible_characters_are_padding_at_either_end(ch: str) -> None:
    assert is_invisible(ch)
    value, warning = tidy_credential(ch + SECRET_VALUE + ch, "`refresh_token`")
    assert value == SECRET_VALUE and warning is not None and warning.startswith("`refresh_token` had ")


@pytest.mark.parametrize("ch", ["\u00e9", "\u2800", "\ue000", "\U0001f600"])
def test_visible_or_private_characters_at_an_end_are_not_padding(ch: str) -> None:
    # Only whitespace and invisible control/format characters are removed; anything else at an end is refused.
    assert not is_invisible(ch)
    with pytest.raises(ZohoInputError):
        tidy_credential(SECRET_VALUE + ch, "`refresh_token`")


@pytest.mark.parametrize("blank", ["\ufeff", "\u200b\n", "\x00\x00"])
def test_a_value_of_only_invisible_characters_becomes_empty_silently(blank: str) -> None:
    assert tidy_credential(blank, "`client_secret`") == ("", None)


def test_credential_flaw_describes_without_the_value() -> None:
    assert credential_flaw(SECRET_VALUE) is None
    assert credential_flaw("\ufeff" + SECRET_VALUE + "\n") is None  # padding only
    flaw = credential_flaw(SECRET_VALUE[:4] + "\u200b" + SECRET_VALUE[4:])
    assert flaw == "control or non-ASCII characters inside the value (the first: a zero-width space, U+200B, at character 5)"
    assert credential_flaw("1000.a b") == "whitespace (a space, tab or line break) inside the value (the first: a space, U+0020, at character 7)"


def test_tidy_credential_names_a_phrase_capitalised() -> None:
    value, warning = tidy_credential("1000.r\n", "the refresh token of `candidates` item 2 (read from a host)")
    assert value == "1000.r"
    assert warning is not None and warning.startswith("The refresh token of `candidates` item 2 (read from a host) had a trailing newline")


def test_the_credential_options_are_the_documented_list() -> None:
    # issue 7 item 4 names these; code_verifier and expected_state are pasted secrets too.
    assert set(CREDENTIAL_OPTIONS) == {
        "client_id",
        "client_secret",
        "code",
        "refresh_token",
        "access_token",
        "callback_url",
        "code_verifier",
        "expected_state",
    }


def test_callback_url_with_surrounding_whitespace_is_parsed() -> None:
    parsed = parse_callback_url("\n  " + callback_url(code=CODE, location="eu") + " \r\n")
    assert parsed.code == CODE and parsed.location == "eu"


# -- clean_secret ------------------------------------------------------------------------------


@pytest.mark.parametrize("padded", [CODE + "\n", "\n" + CODE + "\r\n", "  " + CODE + "\t ", CODE])
def test_clean_secret_strips_surrounding_whitespace(padded: str) -> None:
    assert clean_secret(padded, "`code`") == CODE


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("\n\t\r\n", "is empty"),
        ("1000.Qx7 def", "contains whitespace (a space, tab or line break) inside the value"),  # internal space
        ("1000.Qx7\x00def", "control or non-ASCII"),  # NUL
        ("1000.Qx7\x7fdef", "control or non-ASCII"),
        ("1000.Qx7\u00e9def", "control or non-ASCII"),  # non-ASCII
        ("1000.Qx7\u202edef", "control or non-ASCII"),  # RTL override
        ("1000.Qx7\ndef", "contains whitespace (a space, tab or line break) inside the value"),
        ("1000.Qx7\u00a0def", "contains whitespace (a space, tab or line break) inside the value"),  # no-break space
        ("Z" * 10_000, "10000 characters long"),
    ],
)
def test_clean_secret_refusals_never_repeat_the_value(value: str, words: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        clean_secret(value, "`code`")
    message = str(info.value)
    assert words in message
    assert message.startswith("`code` ")
    stripped = value.strip()
    if stripped:
        assert stripped not in message
        assert stripped[:8] not in message


@pytest.mark.parametrize("padded", ["\ufeff" + CODE, CODE + "\u200b", "\u2060" + CODE + "\x00", "\ufeff" + CODE + "\r\n"])
def test_clean_secret_strips_invisible_padding(padded: str) -> None:
    assert clean_secret(padded, "`code`") == CODE


@pytest.mark.parametrize("blank", ["\ufeff", "\u200b \n"])
def test_clean_secret_of_only_invisible_characters_is_empty(blank: str) -> None:
    with pytest.raises(ZohoInputError, match="^`code` is empty"):
        clean_secret(blank, "`code`")


def test_a_callback_url_read_from_a_file_with_a_byte_order_mark_is_parsed() -> None:
    parsed = parse_callback_url("\ufeff" + callback_url(code=CODE, location="eu") + "\n")
    assert parsed.code == CODE and parsed.location == "eu"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (callback_url(code=CODE)[:30] + "\u200b" + callback_url(code=CODE)[30:], "`callback_url` contains control or non-ASCII characters"),
        (f"{CB}?code={CODE[:10]}%E2%80%8B{CODE[10:]}", "The code in `callback_url` contains control or non-ASCII characters"),  # encoded U+200B
        (f"{CB}?code={CODE[:10]}%EF%BB%BF{CODE[10:]}", "The code in `callback_url` contains control or non-ASCII characters"),  # encoded BOM
    ],
)
def test_invisible_characters_in_a_callback_url_are_refused(url: str, words: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        parse_callback_url(url)
    assert words in secret_free(info.value)


def test_percent_encoded_invisible_padding_around_the_code_is_stripped_like_whitespace() -> None:
    assert parse_callback_url(f"{CB}?code=%EF%BB%BF{CODE}%E2%80%8B&location=eu").code == CODE


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
        ({"access_type": "forever"}, "`access_type` must be one of offline, online"),
        ({"redirect_uri": ""}, "`redirect_uri` is required"),
        ({"redirect_uri": "app.example.com/cb"}, "absolute http:// or https:// URI"),
        ({"redirect_uri": "javascript:alert(1)"}, "absolute http:// or https:// URI"),
        ({"redirect_uri": "https://app.example.com/c b"}, "without spaces"),
        ({"state": ""}, "`state` must not be empty"),
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
        (f"{CB}?code=&state=S", "The code in `callback_url` is empty"),
        (CB, "no code parameter"),
        (f"{CB}?code={CODE}&location=mars", "not a known Zoho data center"),
        (f"{CB}?code={CODE}&location=us&accounts-server=https%3A%2F%2Faccounts.zoho.eu", "name different data centers"),
        (f"{CB}?code={CODE}&accounts-server=https%3A%2F%2Faccounts.zoho.com.evil.tld", "not a known Zoho accounts server"),
        (f"{CB}?code={CODE}&accounts-server=http%3A%2F%2Faccounts.zoho.com", "not a known Zoho accounts server"),
        (f"{CB}?code={CODE}&accounts-server=https%3A%2F%2Fevil.tld%2F%3Faccounts.zoho.com", "not a known Zoho accounts server"),
        (f"{CB}?code={CODE}%20x", "The code in `callback_url` contains whitespace"),
        (f"{CB}?code={CODE}%01x", "The code in `callback_url` contains control or non-ASCII characters"),
        (f"{CB}?code={CODE}&state=S\nlocation=eu", "`callback_url` contains whitespace"),  # a URL wrapped across lines
        (f"{CB} ?code={CODE}", "`callback_url` contains whitespace"),
        ("", "`callback_url` is empty"),
        ("   ", "`callback_url` is empty"),
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
        ("S-123", None, "`expected_state` is required"),
        ("S-123", "S-124", "does not match `expected_state`"),
        ("S-123", "S-1234", "does not match `expected_state`"),
        ("S-123", "s-123", "does not match `expected_state`"),
        ("", "S-123", "does not match `expected_state`"),
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
