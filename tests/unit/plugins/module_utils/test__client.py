# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The HTTP client: request shape, success rule, error mapping and the retry policy.

Most tests script a fake ``requests`` session (see ``fakes.py``) and record the delays the
client asks to sleep for. A few run against sockets on 127.0.0.1 to check that the exceptions
real ``requests`` raises are classified the same way as the scripted ones.
"""

from __future__ import annotations

import email.utils
import json
import os
import socket
import ssl
import threading
import time
import types
import typing as t
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest
import requests

from ansible_collections.zohothrive.oauth.plugins.module_utils import _client
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import (
    NO_RETRY,
    RetryPolicy,
    TokenSet,
    ZohoOAuthClient,
    parse_expires_in,
    parse_scope,
    parse_token_response,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import (
    ZohoAPIError,
    ZohoCodeMayBeSpentError,
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
    ZohoTransportError,
)
from ansible_collections.zohothrive.oauth.tests.unit.fakes import (
    NOW,
    FakeMonotonic,
    FakeResponse,
    FakeSession,
    Recorder,
    connect_timeout,
    connection_refused,
    html_response,
    json_response,
    read_timeout,
    reset_after_send,
    sentinel,
    tls_failure,
    token_payload,
)

SECRET = sentinel("secret")
CODE = sentinel("code")
RT = sentinel("refresh")
CLIENT_ID = "1000.CLIENTIDXYZ"
ALL_SECRETS = (SECRET, CODE, RT)
OPERATIONS = ("exchange", "refresh", "revoke")


def make(*steps: t.Any, retry: RetryPolicy = RetryPolicy(), **kwargs: t.Any) -> tuple[ZohoOAuthClient, FakeSession, Recorder]:
    session = FakeSession(*steps)
    sleep = Recorder()
    kwargs.setdefault("client_id", CLIENT_ID)
    kwargs.setdefault("client_secret", SECRET)
    kwargs.setdefault("monotonic", FakeMonotonic())
    client = ZohoOAuthClient(
        kwargs.pop("accounts_url", "https://accounts.zoho.com"), session=session, sleep=sleep, clock=lambda: NOW, retry=retry, **kwargs
    )
    return client, session, sleep


def success_for(operation: str) -> FakeResponse:
    return json_response({"status": "success"}) if operation == "revoke" else json_response(token_payload())


def run(operation: str, client: ZohoOAuthClient) -> t.Any:
    if operation == "exchange":
        return client.exchange_code(CODE)
    if operation == "refresh":
        return client.refresh(RT)
    return client.revoke(RT)


def assert_secret_free(text: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in text
        assert secret[-16:] not in text


@pytest.fixture
def upper_bound_jitter(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Make full jitter deterministic: every backoff uses its upper bound. Returns the bounds asked for."""
    bounds: list[tuple[float, float]] = []

    def uniform(a: float, b: float) -> float:
        bounds.append((a, b))
        return b

    monkeypatch.setattr(_client.random, "uniform", uniform)
    return bounds


# -- request shape ---------------------------------------------------------------------------


def test_exchange_request_shape() -> None:
    client, session, sleep = make(json_response(token_payload()))
    tokens = client.exchange_code(CODE, redirect_uri="https://app.example.com/cb", code_verifier="VERIFIER-1")
    assert len(session.calls) == 1
    call = session.calls[0]
    assert call.url == "https://accounts.zoho.com/oauth/v2/token"
    assert call.data == {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "code": CODE,
        "redirect_uri": "https://app.example.com/cb",
        "code_verifier": "VERIFIER-1",
    }
    # stream=True: the client reads the body itself, within the deadline and the size limit. The request goes to the
    # transport adapter, which never follows redirects (the session is bypassed: it would read a 3xx body in full).
    assert call.kwargs == {"timeout": (10.0, 30.0), "verify": True, "stream": True, "proxies": {}, "cert": None}
    session.assert_secrets_only_in_body(*ALL_SECRETS)
    assert sleep.delays == []
    assert tokens.access_token == "1000.access.token"
    assert tokens.refresh_token == "1000.refresh.token"
    assert tokens.expires_in == 3600 and tokens.expires_at == int(NOW) + 3600
    assert tokens.api_domain == "https://www.zohoapis.com" and tokens.token_type == "Bearer"
    assert tokens.scope == ["Thrive.Referral.CREATE"]


def test_exchange_omits_unset_optional_fields() -> None:
    client, session, _unused = make(json_response(token_payload()))
    client.exchange_code(CODE)
    assert set(session.calls[0].data) == {"grant_type", "client_id", "client_secret", "code"}


def test_refresh_request_shape() -> None:
    client, session, _unused = make(json_response(token_payload("1000.new.access", refresh_token=None)), accounts_url="https://accounts.zoho.eu/")
    tokens = client.refresh(RT)
    call = session.calls[0]
    assert call.url == "https://accounts.zoho.eu/oauth/v2/token"
    assert call.data == {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": SECRET, "refresh_token": RT}
    assert call.kwargs["stream"] is True
    session.assert_secrets_only_in_body(*ALL_SECRETS)
    assert tokens.access_token == "1000.new.access"
    assert tokens.refresh_token is None  # Zoho's refresh answer carries none


def test_revoke_request_shape() -> None:
    client, session, _unused = make(json_response({"status": "success"}))
    assert client.revoke(RT) is None
    call = session.calls[0]
    assert call.url == "https://accounts.zoho.com/oauth/v2/token/revoke"
    assert call.data == {"token": RT}  # only the token: no client secret is sent for revocation
    assert call.kwargs["stream"] is True
    session.assert_secrets_only_in_body(*ALL_SECRETS)


def test_code_with_form_metacharacters_is_encoded_not_injected() -> None:
    nasty = "1000.abc&client_secret=EVIL&grant_type=x"
    client, session, _unused = make(json_response(token_payload()))
    client.exchange_code(nasty)
    body = requests.Request("POST", session.calls[0].url, data=session.calls[0].data).prepare().body
    assert isinstance(body, str)
    fields = parse_qs(body, strict_parsing=True)
    assert fields["client_secret"] == [SECRET]
    assert fields["grant_type"] == ["authorization_code"]
    assert fields["code"] == [nasty]


@pytest.mark.parametrize(
    ("kwargs", "verify", "timeout"),
    [
        ({}, True, (10.0, 30.0)),
        ({"validate_certs": False}, False, (10.0, 30.0)),
        ({"ca_path": "CA"}, "CA", (10.0, 30.0)),
        ({"ca_path": "CA", "validate_certs": False}, False, (10.0, 30.0)),
        ({"ca_path": "/no/such/ca.pem", "validate_certs": False}, False, (10.0, 30.0)),  # ignored without validation
        ({"timeout": 5}, True, (5.0, 5.0)),
        ({"timeout": 120}, True, (10.0, 120.0)),
    ],
)
def test_tls_and_timeout_settings_reach_requests(kwargs: dict[str, t.Any], verify: t.Any, timeout: tuple[float, float], ca_file: str) -> None:
    kwargs = {name: ca_file if value == "CA" else value for name, value in kwargs.items()}
    verify = ca_file if verify == "CA" else verify
    client, session, _unused = make(json_response(token_payload()), **kwargs)
    client.refresh(RT)
    assert session.calls[0].kwargs["verify"] == verify
    assert session.calls[0].kwargs["timeout"] == timeout


@pytest.fixture(name="ca_file")
def fixture_ca_file(tmp_path: t.Any) -> str:
    """A readable PEM file holding one throwaway CA certificate."""
    trustme = pytest.importorskip("trustme")
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


def test_default_session_never_uses_netrc(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine accounts.zoho.com login netrcuser password netrcpass\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    # Positive control: a plain session does pick the credentials up.
    plain = requests.Session().prepare_request(requests.Request("POST", "https://accounts.zoho.com/oauth/v2/token", data={"a": "b"}))
    assert "Authorization" in plain.headers
    session = ZohoOAuthClient("https://accounts.zoho.com").session
    assert isinstance(session, requests.Session)
    prepared = session.prepare_request(requests.Request("POST", "https://accounts.zoho.com/oauth/v2/token", data={"a": "b"}))
    assert "Authorization" not in prepared.headers
    assert session.headers["User-Agent"].startswith("zohothrive.oauth")
    assert session.headers["Accept"] == "application/json"


# -- success rule ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 400, 401, 404])
def test_success_is_a_json_object_with_access_token_whatever_the_status(status: int) -> None:
    client, session, _unused = make(json_response(token_payload("1000.tok"), status=status), retry=NO_RETRY)
    assert client.refresh(RT).access_token == "1000.tok"


@pytest.mark.parametrize(
    "payload",
    [
        {"token_type": "Bearer"},
        {"access_token": ""},
        {"access_token": "   "},
        {"access_token": None},
        {"access_token": 12345},
        {"access_token": ["1000.x"]},
    ],
)
@pytest.mark.parametrize("operation", ["exchange", "refresh"])
def test_no_usable_access_token_is_a_failure(payload: dict[str, t.Any], operation: str) -> None:
    client, session, _unused = make(json_response(payload), retry=NO_RETRY)
    with pytest.raises(ZohoOAuthError) as info:
        run(operation, client)
    assert "carries no access_token" in info.value.msg
    assert "HTTP 200" in info.value.msg
    assert len(session.calls) == 1


@pytest.mark.parametrize(("payload", "kind"), [([], "list"), ("1000.tok", "str"), (None, "NoneType"), (7, "int"), ([token_payload()], "list")])
def test_non_object_json_is_a_failure(payload: t.Any, kind: str) -> None:
    client, _unused, _unused = make(json_response(payload), retry=NO_RETRY)
    with pytest.raises(ZohoProtocolError) as info:
        client.refresh(RT)
    assert f"JSON of type {kind}, not an object" in info.value.msg


def test_an_error_key_beside_tokens_is_neither_a_success_nor_a_refusal() -> None:
    # Not a success (the error key), and not Zoho's error object either (tokens beside it): the outcome is unknown.
    client, _unused, _unused = make(json_response(dict(token_payload(), error="invalid_code")), retry=NO_RETRY)
    with pytest.raises(ZohoProtocolError) as info:
        client.refresh(RT)
    assert info.value.outcome_unknown is True
    client, _unused, _unused = make(json_response(dict(token_payload(), error="invalid_code")), retry=NO_RETRY)
    with pytest.raises(ZohoCodeMayBeSpentError):
        client.exchange_code(CODE)


@pytest.mark.parametrize(
    ("response", "words"),
    [
        (html_response(), "an HTML page"),
        (FakeResponse(200, b'{"access_token": "1000.x", ', {"Content-Type": "application/json"}), "not valid JSON (Content-Type: application/json)"),
        (FakeResponse(200, b"\xff\xfe\x00garbage", {"Content-Type": "application/json"}), "not valid JSON"),
        (FakeResponse(200, b"", {}), "not valid JSON (Content-Type: unknown)"),
    ],
)
def test_html_or_broken_json_is_a_failure(response: FakeResponse, words: str) -> None:
    client, session, _unused = make(response, retry=NO_RETRY)
    with pytest.raises(ZohoProtocolError) as info:
        client.refresh(RT)
    assert words in info.value.msg
    assert "HTTP 200" in info.value.msg
    assert "<html>" not in info.value.msg  # the body is never quoted
    assert info.value.http_status == 200


def test_non_json_400_is_unknown_and_not_retried() -> None:
    client, session, sleep = make(html_response(status=400))
    with pytest.raises(ZohoProtocolError) as info:
        client.refresh(RT)
    assert len(session.calls) == 1 and sleep.delays == []
    assert "HTTP 400" in info.value.msg and info.value.outcome_unknown is True


@pytest.mark.parametrize(
    ("payload", "seconds"),
    [
        ({"expires_in": 3600}, 3600),
        ({"expires_in": "3600"}, 3600),
        ({"expires_in": 3600000, "expires_in_sec": 3600}, 3600),  # legacy answer: expires_in in ms
        ({"expires_in_sec": 1800, "expires_in": 3600}, 1800),
        ({}, 3600),
    ],
)
def test_expiry(payload: dict[str, t.Any], seconds: int) -> None:
    assert parse_expires_in(payload) == seconds
    tokens = parse_token_response(dict(payload, access_token="1000.x"), now=NOW)
    assert tokens.expires_in == seconds
    assert tokens.expires_at == int(NOW) + seconds


@pytest.mark.parametrize("payload", [{"expires_in": "soon"}, {"expires_in": 0}, {"expires_in": -5}, {"expires_in_sec": 10**9}, {"expires_in": [1]}])
def test_bad_expiry_is_a_protocol_error(payload: dict[str, t.Any]) -> None:
    with pytest.raises(ZohoProtocolError):
        parse_expires_in(payload)


@pytest.mark.parametrize(
    ("value", "scopes"),
    [
        ("Thrive.Referral.CREATE", ["Thrive.Referral.CREATE"]),
        ("A.b.READ,A.b.CREATE", ["A.b.READ", "A.b.CREATE"]),
        ("A.b.READ A.b.CREATE", ["A.b.READ", "A.b.CREATE"]),
        ("A.b.READ, A.b.CREATE ,", ["A.b.READ", "A.b.CREATE"]),
        (["A.b.READ", " A.b.CREATE "], ["A.b.READ", "A.b.CREATE"]),
        # issue 7 item 3: no scope is "absent" (None), never [], so that a caller keeps the scope it knows
        (None, None),
        ("", None),
        ("   ", None),
        (" , ,", None),
        ([], None),
        (["", " "], None),
    ],
)
def test_scope_parsing(value: t.Any, scopes: list[str] | None) -> None:
    assert parse_scope(value) == scopes
    assert parse_token_response({"access_token": "1000.x", "scope": value}, now=NOW).scope == scopes


def test_optional_fields_of_the_answer() -> None:
    tokens = parse_token_response({"access_token": "1000.x", "refresh_token": "", "api_domain": 5, "token_type": None}, now=NOW)
    assert tokens.refresh_token is None and tokens.api_domain is None and tokens.token_type is None


@pytest.mark.parametrize("value", [None, "", "   ", "\t\n", 0, [], {}, False], ids=repr)
@pytest.mark.parametrize("name", ["api_domain", "token_type", "scope"])
def test_absent_null_or_blank_optional_fields_are_none_never_empty(name: str, value: t.Any) -> None:
    # issue 7 item 3: a refresh answer without api_domain wrote api_domain: "" over a known-good value everywhere.
    payload = dict(token_payload())
    payload[name] = value
    tokens = parse_token_response(payload, now=NOW)
    assert getattr(tokens, name) is None
    assert tokens.as_dict()[name] is None
    missing = dict(token_payload())
    del missing[name]
    assert getattr(parse_token_response(missing, now=NOW), name) is None


def test_present_optional_fields_are_kept_and_stripped() -> None:
    tokens = parse_token_response(token_payload(api_domain=" https://www.zohoapis.eu ", token_type="Bearer\n", scope=" A.b.READ "), now=NOW)
    assert (tokens.api_domain, tokens.token_type, tokens.scope) == ("https://www.zohoapis.eu", "Bearer", ["A.b.READ"])


@pytest.mark.parametrize(
    "payload",
    [{}, {"expires_in": None}, {"expires_in": ""}, {"expires_in": "  "}, {"expires_in_sec": None}, {"expires_in_sec": "", "expires_in": None}],
    ids=repr,
)
def test_absent_expiry_is_the_documented_hour(payload: dict[str, t.Any]) -> None:
    assert parse_expires_in(payload) == 3600 == _client.DEFAULT_EXPIRES_IN
    assert parse_token_response(dict(payload, access_token="1000.x"), now=NOW).expires_in == 3600


def test_a_null_legacy_expiry_falls_back_to_expires_in_seconds() -> None:
    assert parse_expires_in({"expires_in_sec": None, "expires_in": 1800}) == 1800


def test_tokenset_round_trip_recomputes_expires_in() -> None:
    tokens = parse_token_response(token_payload(), now=NOW)
    data = tokens.as_dict()
    assert data == {
        "access_token": "1000.access.token",
        "refresh_token": "1000.refresh.token",
        "api_domain": "https://www.zohoapis.com",
        "token_type": "Bearer",
        "expires_in": 3600,
        "expires_at": int(NOW) + 3600,
        "scope": ["Thrive.Referral.CREATE"],
    }
    later = TokenSet.from_dict(data, now=NOW + 600)
    assert later.expires_in == 3000 and later.expires_at == tokens.expires_at and later.access_token == tokens.access_token
    assert TokenSet.from_dict(data, now=NOW + 7200).expires_in == 0
    assert TokenSet.from_dict(data, now=NOW) == tokens


def test_tokenset_round_trip_keeps_absent_fields_absent() -> None:
    tokens = parse_token_response({"access_token": "1000.x"}, now=NOW)
    data = tokens.as_dict()
    assert data["scope"] is None and data["api_domain"] is None and data["token_type"] is None and data["refresh_token"] is None
    assert TokenSet.from_dict(data, now=NOW) == tokens
    assert TokenSet.from_dict(json.loads(json.dumps(data)), now=NOW) == tokens


@pytest.mark.parametrize(
    "old",
    [
        {"scope": [], "api_domain": "", "token_type": "", "refresh_token": ""},
        {"scope": "", "api_domain": "  ", "token_type": None},
        {},  # an entry written before the optional fields existed
    ],
    ids=["empty-values", "blank-values", "missing"],
)
def test_tokenset_from_old_cache_entries_reads_empty_values_as_absent(old: dict[str, t.Any]) -> None:
    tokens = TokenSet.from_dict(dict(old, access_token="1000.x", expires_at=int(NOW) + 60), now=NOW)
    assert (tokens.scope, tokens.api_domain, tokens.token_type, tokens.refresh_token) == (None, None, None, None)
    assert tokens.expires_in == 60


def test_tokenset_from_dict_keeps_stored_values() -> None:
    data = {"access_token": "1000.x", "expires_at": int(NOW) + 60, "scope": ["A.b.READ"], "api_domain": "https://www.zohoapis.eu"}
    tokens = TokenSet.from_dict(dict(data, token_type="Bearer", refresh_token="1000.r"), now=NOW)
    assert (tokens.scope, tokens.api_domain, tokens.token_type, tokens.refresh_token) == (["A.b.READ"], "https://www.zohoapis.eu", "Bearer", "1000.r")
    assert TokenSet.from_dict(dict(data, scope="A.b.READ,B.c.ALL"), now=NOW).scope == ["A.b.READ", "B.c.ALL"]  # a scope string, as Zoho sends it


# -- error mapping through the client -------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("invalid_code", ZohoInvalidCodeError),
        ("invalid_client", ZohoInvalidClientError),
        ("invalid_client_secret", ZohoInvalidClientSecretError),
        ("invalid_redirect_uri", ZohoInvalidRedirectURIError),
        ("Access Denied", ZohoThrottledError),
        ("invalid_scope", ZohoAPIError),
    ],
)
@pytest.mark.parametrize("operation", ["exchange", "refresh"])
@pytest.mark.parametrize("status", [200, 400])
def test_zoho_error_codes(code: str, cls: type, operation: str, status: int) -> None:
    client, session, sleep = make(json_response({"error": code}, status=status))
    with pytest.raises(ZohoAPIError) as info:
        run(operation, client)
    assert info.value.__class__ is cls
    assert f"(error: {code})" in info.value.msg
    assert info.value.error_code == code and info.value.http_status == status
    assert "https://accounts.zoho.com" in info.value.msg
    assert_secret_free(info.value.msg)
    assert len(session.calls) == 1 and sleep.delays == []  # a definite answer is never retried


def test_throttle_message_through_the_client() -> None:
    client, _unused, _unused = make(json_response({"error": "Access Denied", "error_description": "You have made too many requests continuously."}))
    with pytest.raises(ZohoThrottledError) as info:
        client.refresh(RT)
    assert "10 access tokens per 10 minutes" in info.value.msg
    assert "Zoho says: You have made too many requests continuously." in info.value.msg


def test_invalid_code_wording_differs_between_exchange_and_refresh() -> None:
    messages = {}
    for operation in ("exchange", "refresh"):
        client, _unused, _unused = make(json_response({"error": "invalid_code"}))
        with pytest.raises(ZohoInvalidCodeError) as info:
            run(operation, client)
        messages[operation] = info.value.msg
    assert "rejected the grant code" in messages["exchange"]
    assert "rejected the refresh token" in messages["refresh"]


# -- retry policy: the grant code is never re-sent once it may have reached Zoho -------------------

MAY_HAVE_REACHED_ZOHO = [
    pytest.param(read_timeout(), id="read-timeout"),
    pytest.param(reset_after_send(), id="reset-after-send"),
    pytest.param(json_response({"error": "oops"}, status=500), id="500"),
    pytest.param(html_response(status=502), id="502-html"),
    pytest.param(json_response({}, status=503, headers={"Retry-After": "1"}), id="503-retry-after"),
    pytest.param(FakeResponse(504, b"", {}), id="504"),
    pytest.param(html_response(), id="200-html"),
    pytest.param(FakeResponse(200, b'{"access_tok', {"Content-Type": "application/json"}), id="200-truncated-json"),
    pytest.param(json_response({"token_type": "Bearer"}), id="200-no-access-token"),
    pytest.param(requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(10 bytes read)"), id="truncated-body"),
]


@pytest.mark.parametrize("failure", MAY_HAVE_REACHED_ZOHO)
def test_exchange_is_never_resent_after_it_may_have_reached_zoho(failure: t.Any) -> None:
    client, session, sleep = make(failure, json_response(token_payload()))
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        client.exchange_code(CODE)
    assert len(session.calls) == 1
    assert sleep.delays == []
    assert "may already be spent" in info.value.msg
    assert "not sent again" in info.value.msg
    assert "Generate a new code" in info.value.msg
    assert info.value.outcome_unknown is True
    assert_secret_free(info.value.msg)


def test_spent_error_keeps_the_http_status() -> None:
    client, _unused, _unused = make(json_response({}, status=503))
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        client.exchange_code(CODE)
    assert info.value.http_status == 503
    assert "HTTP 503" in info.value.msg


@pytest.mark.parametrize("failure", [connection_refused, connect_timeout, lambda: requests.exceptions.ProxyError("Cannot connect to proxy.")])
def test_exchange_is_retried_when_nothing_was_sent(failure: t.Callable[[], BaseException]) -> None:
    client, session, sleep = make(failure(), failure(), json_response(token_payload()))
    assert client.exchange_code(CODE).access_token == "1000.access.token"
    assert len(session.calls) == 3
    assert all(call.data == session.calls[0].data for call in session.calls)
    assert len(sleep.delays) == 2
    assert 0 <= sleep.delays[0] <= 1.0 and 0 <= sleep.delays[1] <= 2.0


def test_exchange_gives_up_after_capped_attempts_without_spending_the_code() -> None:
    client, session, sleep = make(*(connection_refused() for _unused in range(6)))
    with pytest.raises(ZohoTransportError) as info:
        client.exchange_code(CODE)
    assert not isinstance(info.value, ZohoCodeMayBeSpentError)
    assert info.value.sent is False and info.value.outcome_unknown is False
    assert "Could not connect" in info.value.msg
    assert len(session.calls) == 4  # first try plus three retries
    assert len(sleep.delays) == 3


def test_exchange_connect_then_read_timeout_sends_the_code_once_more_at_most() -> None:
    # The first attempt never left (connect timeout); the second may have reached Zoho: stop there.
    client, session, sleep = make(connect_timeout(), read_timeout(), json_response(token_payload()))
    with pytest.raises(ZohoCodeMayBeSpentError):
        client.exchange_code(CODE)
    assert len(session.calls) == 2 and len(sleep.delays) == 1


# -- retry policy: refresh and revoke ------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["refresh", "revoke"])
def test_retry_after_is_honoured(operation: str) -> None:
    client, session, sleep = make(
        json_response({}, status=503, headers={"Retry-After": "2"}),
        json_response({}, status=429, headers={"Retry-After": " 3 "}),
        success_for(operation),
    )
    run(operation, client)
    assert len(session.calls) == 3
    assert sleep.delays == [2.0, 3.0]


def test_retry_after_http_date() -> None:
    client, _unused, sleep = make(
        json_response({}, status=503, headers={"Retry-After": email.utils.formatdate(NOW + 7, usegmt=True)}),
        json_response({}, status=503, headers={"Retry-After": email.utils.formatdate(NOW - 60, usegmt=True)}),
        json_response(token_payload()),
    )
    client.refresh(RT)
    assert sleep.delays == [7.0, 0.0]


@pytest.mark.parametrize("operation", ["refresh", "revoke"])
@pytest.mark.parametrize("retry_after", ["31", "120", email.utils.formatdate(NOW + 3600, usegmt=True)])
def test_long_retry_after_fails_fast(operation: str, retry_after: str) -> None:
    client, session, sleep = make(json_response({}, status=503, headers={"Retry-After": retry_after}), success_for(operation))
    with pytest.raises(ZohoServerError) as info:
        run(operation, client)
    assert len(session.calls) == 1 and sleep.delays == []
    assert info.value.http_status == 503


def test_retry_after_at_the_cap_is_waited_for() -> None:
    client, _unused, sleep = make(json_response({}, status=503, headers={"Retry-After": "30"}), json_response(token_payload()))
    client.refresh(RT)
    assert sleep.delays == [30.0]


def test_unparseable_retry_after_falls_back_to_jitter(upper_bound_jitter: list[tuple[float, float]]) -> None:
    client, _unused, sleep = make(json_response({}, status=503, headers={"Retry-After": "soon-ish"}), json_response(token_payload()))
    client.refresh(RT)
    assert sleep.delays == [1.0]


@pytest.mark.parametrize("operation", ["refresh", "revoke"])
@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(read_timeout, id="read-timeout"),
        pytest.param(reset_after_send, id="reset-after-send"),
        pytest.param(connection_refused, id="refused"),
        pytest.param(lambda: json_response({}, status=500), id="500"),
        pytest.param(lambda: html_response(status=502), id="502-html"),
        pytest.param(lambda: json_response({}, status=429), id="429"),
        pytest.param(html_response, id="200-html"),
    ],
)
def test_refresh_and_revoke_are_retried_with_backoff(
    operation: str, failure: t.Callable[[], t.Any], upper_bound_jitter: list[tuple[float, float]]
) -> None:
    client, session, sleep = make(failure(), failure(), failure(), success_for(operation))
    run(operation, client)
    assert len(session.calls) == 4
    assert all(call.data == session.calls[0].data for call in session.calls)
    assert sleep.delays == [1.0, 2.0, 4.0]  # full jitter up to base * 2**n
    assert upper_bound_jitter == [(0, 1.0), (0, 2.0), (0, 4.0)]


@pytest.mark.parametrize("operation", ["refresh", "revoke"])
def test_refresh_and_revoke_give_up_after_capped_attempts(operation: str) -> None:
    client, session, sleep = make(*(json_response({}, status=503) for _unused in range(6)))
    with pytest.raises(ZohoServerError) as info:
        run(operation, client)
    assert len(session.calls) == 4
    assert len(sleep.delays) == 3
    for n, delay in enumerate(sleep.delays):
        assert 0 <= delay <= 2**n
    assert "HTTP 503" in info.value.msg


def test_backoff_is_capped(upper_bound_jitter: list[tuple[float, float]]) -> None:
    client, session, sleep = make(*(json_response({}, status=500) for _unused in range(7)), retry=RetryPolicy(attempts=7))
    with pytest.raises(ZohoServerError):
        client.refresh(RT)
    assert len(session.calls) == 7
    assert sleep.delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_no_retry_policy() -> None:
    client, session, sleep = make(json_response({}, status=500), json_response(token_payload()), retry=NO_RETRY)
    with pytest.raises(ZohoServerError):
        client.refresh(RT)
    assert len(session.calls) == 1 and sleep.delays == []


def test_refresh_is_retried_after_a_body_cut_short() -> None:
    # reliability-security.md section 4: "Read timeout / reset / EOF after send" -> refresh: retry with backoff.
    # A body cut short after the request went out surfaces from requests as ChunkedEncodingError.
    client, session, sleep = make(
        requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(10 bytes read, 90 more expected)"),
        json_response(token_payload()),
    )
    assert client.refresh(RT).access_token == "1000.access.token"
    assert len(session.calls) == 2 and len(sleep.delays) == 1


def test_on_retry_reports_each_retry_without_secrets() -> None:
    messages: list[str] = []
    client, session, _unused = make(
        json_response({}, status=503, headers={"Retry-After": "1"}), read_timeout(), json_response(token_payload()), on_retry=messages.append
    )
    client.refresh(RT)
    assert len(messages) == 2
    assert messages[0].startswith("Retrying the token refresh request (1/3) in 1.0s: ")
    assert "HTTP 503" in messages[0]
    assert messages[1].startswith("Retrying the token refresh request (2/3) in ")
    assert "No answer within 30s" in messages[1]
    for message in messages:
        assert_secret_free(message)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_tls_failure_is_never_retried(operation: str) -> None:
    client, session, sleep = make(tls_failure(), success_for(operation))
    with pytest.raises(ZohoTLSError) as info:
        run(operation, client)
    assert len(session.calls) == 1 and sleep.delays == []
    assert "TLS verification failed" in info.value.msg
    assert "ca_path" in info.value.msg and "Nothing was sent" in info.value.msg
    assert "CERTIFICATE_VERIFY_FAILED" in info.value.msg
    assert info.value.sent is False


@pytest.mark.parametrize("status", [300, 301, 302, 303, 305, 307, 308])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_redirects_are_never_followed(status: int, operation: str) -> None:
    redirect = FakeResponse(status, b"", {"Location": "https://evil.example/oauth/v2/token"})
    client, session, sleep = make(redirect, success_for(operation))
    with pytest.raises(ZohoOAuthError) as info:
        run(operation, client)
    assert len(session.calls) == 1 and sleep.delays == []
    assert "allow_redirects" not in session.calls[0].kwargs  # sent through the adapter, which never follows redirects
    assert f"a redirect, HTTP {status} (" in info.value.msg
    assert "evil.example" not in info.value.msg
    if status in (307, 308):  # "repeat the request elsewhere": this server did not process it (issue 7 item 2)
        assert isinstance(info.value, ZohoNotProcessedError) and info.value.outcome_unknown is False
    elif operation == "exchange":  # a 303 (and in practice a 301 or 302) may follow a processed POST
        assert isinstance(info.value, ZohoCodeMayBeSpentError)
    else:
        assert isinstance(info.value, ZohoProtocolError)


def test_transport_messages_drop_urls_and_queries() -> None:
    error = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='accounts.zoho.com', port=443): Max retries exceeded with url: /oauth/v2/token?code=" + CODE
    )
    client, _unused, _unused = make(error, retry=NO_RETRY)
    with pytest.raises(ZohoTransportError) as info:
        client.refresh(RT)
    assert_secret_free(info.value.msg)


# -- revoke answers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (json_response({"error": "invalid_token"}, status=400), "invalid_token"),
        (FakeResponse(400, b"", {}), "invalid_token"),
        (html_response(status=400), "invalid_token"),
        (json_response({"status": "failure"}, status=400), "invalid_token"),
        (json_response({"error": "invalid_code"}, status=400), "invalid_code"),
    ],
)
def test_revoke_400_means_the_token_is_not_valid(response: FakeResponse, code: str) -> None:
    client, session, sleep = make(response)
    with pytest.raises(ZohoAPIError) as info:
        client.revoke(RT)
    assert info.value.http_status == 400 and info.value.error_code == code
    assert len(session.calls) == 1 and sleep.delays == []
    assert_secret_free(info.value.msg)


def test_revoke_400_is_an_invalid_token_error() -> None:
    client, _unused, _unused = make(json_response({"error": "invalid_token"}, status=400))
    with pytest.raises(ZohoInvalidTokenError) as info:
        client.revoke(RT)
    assert "already revoked or unknown" in info.value.msg


def test_revoke_error_in_a_200_answer() -> None:
    client, _unused, _unused = make(json_response({"error": "invalid_client"}))
    with pytest.raises(ZohoInvalidClientError):
        client.revoke(RT)


@pytest.mark.parametrize("payload", [{"status": "failure"}, {}, [], {"status": "success", "error": ""}])
def test_revoke_without_status_success_is_not_a_success(payload: t.Any) -> None:
    client, _unused, _unused = make(json_response(payload))
    with pytest.raises(ZohoProtocolError) as info:
        client.revoke(RT)
    assert "HTTP 200 but without status=success" in info.value.msg
    assert "may still be valid" in info.value.msg


# -- real sockets on 127.0.0.1 ----------------------------------------------------------------------------------


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def test_real_connection_refused_is_retried_for_the_exchange(no_proxy: None) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
    try:
        port = closed.getsockname()[1]
        sleep = Recorder()
        client = ZohoOAuthClient(f"https://127.0.0.1:{port}", client_id=CLIENT_ID, client_secret=SECRET, sleep=sleep, timeout=5)
        with pytest.raises(ZohoTransportError) as info:
            client.exchange_code(CODE)
    finally:
        closed.close()
    assert not isinstance(info.value, ZohoCodeMayBeSpentError)
    assert info.value.sent is False
    assert len(sleep.delays) == 3  # classified as "nothing sent", so all attempts were used
    assert_secret_free(info.value.msg)


class _SilentServer:
    """Accepts connections, reads what the client sends, and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _unused = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            conn.settimeout(5)
            try:
                self.received.append(conn.recv(65536))
            except OSError:
                self.received.append(b"")

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def test_real_read_timeout_spends_the_code_and_is_not_resent(no_proxy: None) -> None:
    server = _SilentServer()
    try:
        sleep = Recorder()
        client = ZohoOAuthClient(f"http://127.0.0.1:{server.port}", client_id=CLIENT_ID, client_secret=SECRET, sleep=sleep, timeout=1)
        with pytest.raises(ZohoCodeMayBeSpentError) as info:
            client.exchange_code(CODE)
    finally:
        server.close()
    assert len(server.conns) == 1
    assert server.received[0].startswith(b"POST /oauth/v2/token HTTP/1.1")
    assert sleep.delays == []
    assert "No answer within 1s" in info.value.msg


def test_real_read_timeout_is_retried_for_refresh(no_proxy: None) -> None:
    server = _SilentServer()
    try:
        sleep = Recorder()
        client = ZohoOAuthClient(
            f"http://127.0.0.1:{server.port}", client_id=CLIENT_ID, client_secret=SECRET, sleep=sleep, timeout=1, retry=RetryPolicy(attempts=2)
        )
        with pytest.raises(ZohoTransportError) as info:
            client.refresh(RT)
    finally:
        server.close()
    assert len(server.conns) == 2
    assert len(sleep.delays) == 1
    assert info.value.sent is True


class _TLSServer:
    """A one-answer-per-request HTTPS server with a trustme certificate for 127.0.0.1."""

    def __init__(self, cert: t.Any, payload: dict[str, t.Any]) -> None:
        received: list[tuple[str, bytes]] = []
        self.received = received
        self.connections = 0
        body = json.dumps(payload).encode("utf-8")

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length", "0"))
                received.append((self.path, self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: t.Any) -> None:
                return None

        outer = self

        class Server(HTTPServer):
            def get_request(self) -> t.Any:
                outer.connections += 1
                return super().get_request()

            def handle_error(self, request: t.Any, client_address: t.Any) -> None:
                return None

        self.httpd = Server(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tls_server(tmp_path: t.Any, no_proxy: None) -> t.Iterator[tuple[_TLSServer, str]]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = _TLSServer(cert, token_payload("1000.tls.token"))
    try:
        yield server, str(ca_file)
    finally:
        server.close()


def _corrupt_tls_after_the_request(cert: t.Any) -> tuple[socket.socket, list[bytes]]:
    """A TLS server that reads each whole request, then answers with a corrupt TLS record instead of HTTP."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                raw, _unused = listener.accept()
            except OSError:
                return
            with raw:
                try:
                    raw.settimeout(5)
                    with context.wrap_socket(raw, server_side=True) as conn:
                        received.append(_read_request(conn))
                        os.write(conn.fileno(), b"\x17\x03\x03\x00\x20" + b"\x5a" * 32)  # a record that no key decrypts
                except (OSError, ssl.SSLError):
                    continue

    threading.Thread(target=serve, daemon=True).start()
    return listener, received


def test_real_tls_failure_after_the_request_may_have_spent_the_code(no_proxy: None, tmp_path: t.Any) -> None:
    """A TLS error while reading the answer happens after the code was sent: never "nothing was sent"."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    listener, received = _corrupt_tls_after_the_request(ca.issue_cert("127.0.0.1"))
    sent: list[bool] = []
    try:
        client = ZohoOAuthClient(
            f"https://127.0.0.1:{listener.getsockname()[1]}", client_id=CLIENT_ID, client_secret=SECRET, ca_path=str(ca_file), timeout=5
        )
        with pytest.raises(ZohoCodeMayBeSpentError) as info:
            client.exchange_code(CODE, before_send=lambda: sent.append(True))
        refresh = ZohoOAuthClient(
            f"https://127.0.0.1:{listener.getsockname()[1]}",
            client_id=CLIENT_ID,
            client_secret=SECRET,
            ca_path=str(ca_file),
            timeout=5,
            sleep=Recorder(),
        )
        with pytest.raises(ZohoOAuthError) as refreshed:
            refresh.refresh(RT)
    finally:
        listener.close()
    assert info.value.outcome_unknown is True and "Nothing was sent" not in info.value.msg
    assert sent == [True] and sum(CODE.encode() in request for request in received) == 1
    assert refreshed.value.outcome_unknown is True and len(received) > 2  # a refresh is retried, as after any failure after sending


def test_real_certificate_failure_sends_nothing(no_proxy: None, tmp_path: t.Any) -> None:
    """The other side of the same rule: a handshake that fails verification happened before anything was sent."""
    trustme = pytest.importorskip("trustme")
    ca_file = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))  # not the CA that signed the server's certificate
    listener, received = _corrupt_tls_after_the_request(trustme.CA().issue_cert("127.0.0.1"))
    try:
        client = ZohoOAuthClient(
            f"https://127.0.0.1:{listener.getsockname()[1]}", client_id=CLIENT_ID, client_secret=SECRET, ca_path=str(ca_file), timeout=5
        )
        with pytest.raises(ZohoTLSError) as info:
            client.exchange_code(CODE)
    finally:
        listener.close()
    assert info.value.outcome_unknown is False and "Nothing was sent" in info.value.msg
    assert received == []


def test_real_truncated_body_is_retried_for_refresh(no_proxy: None) -> None:
    # Same fault as test_refresh_is_retried_after_a_body_cut_short, produced by a real socket:
    # the first answer promises 100 bytes and closes after 11, the second is complete.
    body = json.dumps(token_payload("1000.second.try")).encode("utf-8")
    answers = [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"access_to",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
    ]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    requests_seen: list[bytes] = []

    def serve() -> None:
        for answer in answers:
            try:
                conn, _unused = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                requests_seen.append(conn.recv(65536))
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        sleep = Recorder()
        client = ZohoOAuthClient(f"http://127.0.0.1:{port}", client_id=CLIENT_ID, client_secret=SECRET, sleep=sleep, timeout=5)
        try:
            tokens = client.refresh(RT)
        finally:
            outcome = (len(requests_seen), list(sleep.delays))
    finally:
        listener.close()
    assert outcome[0] == 2 and len(outcome[1]) == 1
    assert tokens.access_token == "1000.second.try"


def test_real_tls_failure_is_not_retried(tls_server: tuple[_TLSServer, str]) -> None:
    server, _unused = tls_server
    sleep = Recorder()
    client = ZohoOAuthClient(f"https://127.0.0.1:{server.port}", client_id=CLIENT_ID, client_secret=SECRET, sleep=sleep, timeout=5)
    with pytest.raises(ZohoTLSError) as info:
        client.refresh(RT)
    assert server.received == []  # the handshake failed: nothing was sent
    assert server.connections == 1 and sleep.delays == []
    assert "TLS verification failed" in info.value.msg


def test_real_tls_with_ca_path(tls_server: tuple[_TLSServer, str]) -> None:
    server, ca_file = tls_server
    client = ZohoOAuthClient(f"https://127.0.0.1:{server.port}", client_id=CLIENT_ID, client_secret=SECRET, ca_path=ca_file, timeout=5)
    tokens = client.refresh(RT)
    assert tokens.access_token == "1000.tls.token"
    assert len(server.received) == 1
    path, body = server.received[0]
    assert path == "/oauth/v2/token"  # no query string: secrets travel in the body
    assert parse_qs(body.decode("ascii")) == {
        "grant_type": ["refresh_token"],
        "client_id": [CLIENT_ID],
        "client_secret": [SECRET],
        "refresh_token": [RT],
    }


# -- issue 6 item 4: "may be spent" only when the request may have reached Zoho --------------------------------


class _Journal:
    """Stands in for the token cache's in-flight record: counts before_send calls, can refuse."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.calls = 0
        self.error = error
        self.sent_at_call: list[int] = []

    def __call__(self) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error


def test_before_send_is_called_once_right_before_the_first_request() -> None:
    journal = _Journal()
    session = FakeSession(json_response(token_payload()))
    original_send = session.send

    def send(prepared: t.Any, **kwargs: t.Any) -> t.Any:
        assert journal.calls == 1, "before_send must run before anything is sent"
        return original_send(prepared, **kwargs)

    session.send = send  # type: ignore[method-assign]
    client = ZohoOAuthClient("https://accounts.zoho.com", client_id=CLIENT_ID, client_secret=SECRET, session=session, sleep=Recorder())
    assert client.exchange_code(CODE, before_send=journal).access_token == "1000.access.token"
    assert journal.calls == 1 and len(session.calls) == 1


def test_before_send_is_called_once_across_retries_of_unsent_attempts() -> None:
    journal = _Journal()
    client, session, sleep = make(connection_refused(), connect_timeout(), json_response(token_payload()))
    client.exchange_code(CODE, before_send=journal)
    assert journal.calls == 1 and len(session.calls) == 3 and len(sleep.delays) == 2


def test_before_send_failure_propagates_unchanged_and_nothing_is_sent() -> None:
    class JournalFull(Exception):
        pass

    journal = _Journal(JournalFull("disk full"))
    client, session, _unused = make(json_response(token_payload()))
    with pytest.raises(JournalFull):
        client.exchange_code(CODE, before_send=journal)
    assert session.calls == [] and journal.calls == 1


def test_before_send_zoho_error_is_not_rewrapped_as_spent() -> None:
    refusal = ZohoCodeMayBeSpentError("The token cache records this code as in flight.")
    client, session, _unused = make(json_response(token_payload()))
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        client.exchange_code(CODE, before_send=_Journal(refusal))
    assert info.value is refusal and session.calls == []


class _BrokenPrepare(FakeSession):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def prepare_request(self, request: t.Any) -> t.Any:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(requests.exceptions.InvalidURL("Invalid URL: label empty or too long"), id="invalid-url"),
        pytest.param(UnicodeError("label empty or too long"), id="raw-unicode-error"),
        pytest.param(RuntimeError("something odd"), id="unexpected"),
    ],
)
def test_before_send_is_not_called_when_preparation_fails(error: BaseException) -> None:
    journal = _Journal()
    client = ZohoOAuthClient(
        "https://accounts.zoho.com", client_id=CLIENT_ID, client_secret=SECRET, session=_BrokenPrepare(error), sleep=Recorder()
    )
    with pytest.raises(ZohoOAuthError) as info:
        client.exchange_code(CODE, before_send=journal)
    assert journal.calls == 0
    assert info.value.outcome_unknown is False and not isinstance(info.value, ZohoCodeMayBeSpentError)
    assert "Nothing was sent" in info.value.msg


def test_malformed_proxy_is_refused_before_before_send(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    journal = _Journal()
    client = ZohoOAuthClient("https://accounts.zoho.com", client_id=CLIENT_ID, client_secret=SECRET, sleep=Recorder())
    with pytest.raises(ZohoOAuthError) as info:
        client.exchange_code(CODE, before_send=journal)
    assert journal.calls == 0 and info.value.outcome_unknown is False
    assert "HTTPS_PROXY" in info.value.msg and "Nothing was sent" in info.value.msg


def test_missing_ca_bundle_from_the_environment_is_refused_before_before_send(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/no/such/bundle.pem")
    journal = _Journal()
    client = ZohoOAuthClient("https://accounts.zoho.com", client_id=CLIENT_ID, client_secret=SECRET, sleep=Recorder())
    with pytest.raises(ZohoOAuthError) as info:
        client.exchange_code(CODE, before_send=journal)
    assert journal.calls == 0 and info.value.outcome_unknown is False
    assert "REQUESTS_CA_BUNDLE" in info.value.msg and "does not exist" in info.value.msg


NOTHING_LEFT_THE_MACHINE = [
    # What requests/urllib3 raise from send() before a connection exists; the first three escaped as "sent" before.
    pytest.param(OSError("Could not find a suitable TLS CA certificate bundle, invalid path: /etc/zoho/ca.pem"), "CA certificates", id="ca-bundle"),
    pytest.param(requests.exceptions.InvalidURL("Failed to parse: 'accounts..zoho.eu', label empty or too long"), "Invalid URL", id="invalid-url"),
    pytest.param(
        _client.LocationValueError("Failed to parse: 'aaaa.zoho.eu', label empty or too long"), "Invalid URL", id="raw-location-parse-error"
    ),
    pytest.param(requests.exceptions.InvalidProxyURL("Please check proxy URL."), "Invalid URL", id="invalid-proxy-url"),
    pytest.param(requests.exceptions.ProxyError("Cannot connect to proxy."), "Could not connect", id="proxy-error"),
    pytest.param(connection_refused(), "Could not connect", id="refused"),
    pytest.param(connect_timeout(), "Timed out connecting", id="connect-timeout"),
    pytest.param(tls_failure(), "TLS verification failed", id="tls"),
]


@pytest.mark.parametrize(("failure", "words"), NOTHING_LEFT_THE_MACHINE)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_failures_before_connecting_are_not_spent(failure: BaseException, words: str, operation: str) -> None:
    journal = _Journal()
    client, session, _unused = make(failure, retry=NO_RETRY)
    with pytest.raises(ZohoOAuthError) as info:
        if operation == "exchange":
            client.exchange_code(CODE, before_send=journal)
        else:
            run(operation, client)
    assert not isinstance(info.value, ZohoCodeMayBeSpentError)
    assert info.value.outcome_unknown is False
    assert words in info.value.msg
    assert len(session.calls) == 1
    assert journal.calls == (1 if operation == "exchange" else 0)
    assert_secret_free(info.value.msg)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(OSError("Could not find a suitable TLS CA certificate bundle, invalid path: /x"), id="ca-bundle"),
        pytest.param(requests.exceptions.InvalidURL("bad host"), id="invalid-url"),
    ],
)
def test_definite_local_failures_are_not_retried(failure: BaseException) -> None:
    client, session, sleep = make(failure, json_response(token_payload()))
    with pytest.raises(ZohoOAuthError):
        client.exchange_code(CODE)
    assert len(session.calls) == 1 and sleep.delays == []


def test_unexpected_error_after_before_send_is_outcome_unknown() -> None:
    client, session, sleep = make(RuntimeError(f"weird library bug quoting {CODE}"), json_response(token_payload()))
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        client.exchange_code(CODE, before_send=_Journal())
    assert "Unexpected error (RuntimeError)" in info.value.msg
    assert len(session.calls) == 1 and sleep.delays == []
    assert_secret_free(info.value.msg)


@pytest.mark.parametrize("operation", ["refresh", "revoke"])
def test_unexpected_error_is_typed_for_refresh_and_revoke(operation: str) -> None:
    client, _unused, _unused = make(TypeError("odd"))
    with pytest.raises(ZohoOAuthError) as info:
        run(operation, client)
    assert "Unexpected error (TypeError)" in info.value.msg and info.value.outcome_unknown is True


def test_transport_reason_hides_form_values() -> None:
    client, _unused, _unused = make(requests.exceptions.ConnectionError(f"odd failure near {SECRET} and {RT}"), retry=NO_RETRY)
    with pytest.raises(ZohoTransportError) as info:
        client.refresh(RT)
    assert_secret_free(info.value.msg)
    assert "<hidden>" in info.value.msg


# -- issue 6 item 4: options are validated when the client is built --------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://accounts..zoho.eu", "empty label"),
        ("https://" + "a" * 64 + ".zoho.eu", "label of 64 characters"),
        ("https://accounts.zoho.eu..", "empty label"),
        ("https://acc ounts.zoho.eu", "not a valid URL"),
        ("https://accounts.zoh\u043e.eu", "not a valid URL"),
        ("https://accounts.zoho.eu:99999", "not a valid URL"),
        ("ftp://accounts.zoho.eu", "must start with https://"),
        ("https://", "no host name"),
    ],
)
def test_client_refuses_an_unusable_accounts_url(url: str, words: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        ZohoOAuthClient(url, session=FakeSession())
    assert words in info.value.msg and "Nothing was sent" in info.value.msg


def test_client_accepts_ip_literals_and_a_trailing_dot() -> None:
    for url in ("https://127.0.0.1:8443", "https://[::1]:8443", "https://accounts.zoho.eu.", "https://" + "a" * 63 + ".zoho.eu"):
        ZohoOAuthClient(url, session=FakeSession())


@pytest.mark.parametrize("timeout", [0, -1, 3601, 99999999999, float("inf"), float("nan"), True, "30", None])
def test_client_refuses_an_unusable_timeout(timeout: t.Any) -> None:
    with pytest.raises(ZohoInputError) as info:
        ZohoOAuthClient("https://accounts.zoho.com", session=FakeSession(), timeout=timeout)
    assert "`timeout` must be a number of seconds" in info.value.msg and "Nothing was sent" in info.value.msg


def test_client_refuses_a_missing_or_unusable_ca_path(tmp_path: t.Any) -> None:
    not_pem = tmp_path / "notpem.pem"
    not_pem.write_text("hello\n")
    for path, words in ((str(tmp_path / "typo.pem"), "does not exist"), (str(not_pem), "could not be loaded"), ("", None)):
        if words is None:
            ZohoOAuthClient("https://accounts.zoho.com", session=FakeSession(), ca_path=path)  # empty: the default CA store
            continue
        with pytest.raises(ZohoInputError) as info:
            ZohoOAuthClient("https://accounts.zoho.com", session=FakeSession(), ca_path=path)
        assert words in info.value.msg and "ca_path" in info.value.msg and "Nothing was sent" in info.value.msg


def test_client_accepts_a_ca_directory(tmp_path: t.Any) -> None:
    client = ZohoOAuthClient("https://accounts.zoho.com", session=FakeSession(), ca_path=str(tmp_path))
    assert client.verify == str(tmp_path)


# -- issue 6 item 4: no raw exception from what the server sends ------------------------------------------------


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "1\u00b2", "+5", "-1", "1.5", "0x10", "9" * 10, "Mon, 99 Foo 2026 99:99:99 GMT", "\x00", ""])
@pytest.mark.parametrize("operation", ["refresh", "revoke"])
def test_odd_retry_after_is_ignored(value: str, operation: str, upper_bound_jitter: list[tuple[float, float]]) -> None:
    client, session, sleep = make(json_response({}, status=503, headers={"Retry-After": value}), success_for(operation))
    run(operation, client)
    assert sleep.delays == [1.0]  # the jittered backoff, as without the header
    assert len(session.calls) == 2


def test_odd_retry_after_on_an_exchange_still_reports_a_spent_code() -> None:
    client, _unused, sleep = make(json_response({}, status=503, headers={"Retry-After": "\u00b2"}))
    with pytest.raises(ZohoCodeMayBeSpentError):
        client.exchange_code(CODE)
    assert sleep.delays == []


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("body", [_nested(100_000), b'{"a":' * 100_000 + b"1" + b"}" * 100_000], ids=["array", "object"])
def test_deeply_nested_json_is_a_protocol_error(body: bytes) -> None:
    client, _unused, _unused = make(FakeResponse(200, body, {"Content-Type": "application/json"}), retry=NO_RETRY)
    with pytest.raises(ZohoProtocolError) as info:
        client.refresh(RT)
    assert "not valid JSON" in info.value.msg


def test_deeply_nested_json_spends_the_code_without_a_traceback() -> None:
    client, _unused, _unused = make(FakeResponse(200, _nested(100_000), {"Content-Type": "application/json"}))
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        client.exchange_code(CODE)
    assert "not valid JSON" in info.value.msg


def test_deeply_nested_4xx_is_a_definite_refusal() -> None:
    client, _unused, _unused = make(FakeResponse(400, _nested(100_000), {"Content-Type": "application/json"}))
    with pytest.raises(ZohoInvalidTokenError):
        client.revoke(RT)


# -- issue 6 item 7: every wait is bounded -------------------------------------------------------------------------


def test_oversized_answer_is_refused_while_reading() -> None:
    body = json.dumps(token_payload("1000." + "a" * (2 * 1024 * 1024))).encode()
    response = FakeResponse(200, body, {"Content-Type": "application/json"})
    client, _unused, _unused = make(response, retry=NO_RETRY)
    with pytest.raises(ZohoProtocolError) as info:
        client.refresh(RT)
    assert "larger than 1024 KiB" in info.value.msg and "request itself was sent" in info.value.msg
    assert response.raw.bytes_read <= _client.MAX_RESPONSE_BYTES + 1  # stopped reading at the limit
    assert response.closed


def test_answer_of_exactly_the_limit_is_read() -> None:
    payload = token_payload("1000.x")
    text = json.dumps(payload)
    body = (text[:-1] + ', "pad": "' + "p" * (_client.MAX_RESPONSE_BYTES - len(text) - 11) + '"}').encode()
    assert len(body) == _client.MAX_RESPONSE_BYTES
    client, _unused, _unused = make(FakeResponse(200, body, {"Content-Type": "application/json"}), retry=NO_RETRY)
    assert client.refresh(RT).access_token == "1000.x"


def test_oversized_content_length_is_refused_before_reading() -> None:
    response = FakeResponse(200, b"{}", {"Content-Type": "application/json", "Content-Length": str(50 * 1024 * 1024)})
    client, _unused, _unused = make(response)
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        client.exchange_code(CODE)
    assert "larger than 1024 KiB" in info.value.msg and "may already be spent" in info.value.msg
    assert response.raw.reads == 0


def test_oversized_answer_is_not_retried_for_refresh() -> None:
    big = FakeResponse(200, b"x", {"Content-Length": str(2 * 1024 * 1024)})
    client, session, sleep = make(big, json_response(token_payload()))
    with pytest.raises(ZohoProtocolError):
        client.refresh(RT)
    assert len(session.calls) == 1 and sleep.delays == []


def test_compressed_answer_is_refused() -> None:
    client, _unused, _unused = make(FakeResponse(200, b"\x1f\x8b...", {"Content-Encoding": "gzip"}), retry=NO_RETRY)
    with pytest.raises(ZohoProtocolError) as info:
        client.refresh(RT)
    assert "Content-Encoding 'gzip'" in info.value.msg


def test_default_session_asks_for_an_uncompressed_answer() -> None:
    assert ZohoOAuthClient("https://accounts.zoho.com").session.headers["Accept-Encoding"] == "identity"


def test_timeout_is_a_total_deadline_for_a_dripping_body() -> None:
    clock = FakeMonotonic()
    body = json.dumps(token_payload()).encode()
    drip = FakeResponse(200, body, {"Content-Type": "application/json"}, chunks=[bytes([b]) for b in body], on_read=lambda: clock.advance(1))
    client, _unused, _unused = make(drip, timeout=2, monotonic=clock)
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        client.exchange_code(CODE)
    assert "No complete answer within 2s" in info.value.msg
    assert drip.raw.reads <= 3  # about one read per second of the deadline, not one per byte of the body


def test_dripping_body_is_retried_for_refresh_within_the_deadline() -> None:
    clock = FakeMonotonic()
    body = json.dumps(token_payload()).encode()
    drip = FakeResponse(200, body, {}, chunks=[bytes([b]) for b in body], on_read=lambda: clock.advance(1))
    client, session, sleep = make(drip, json_response(token_payload("1000.second")), timeout=5, monotonic=clock)
    assert client.refresh(RT).access_token == "1000.second"
    assert len(session.calls) == 2 and len(sleep.delays) == 1


def test_headers_arriving_after_the_deadline_count_as_a_timeout() -> None:
    clock = FakeMonotonic()
    session = FakeSession()

    def slow_send(prepared: t.Any, **kwargs: t.Any) -> t.Any:
        session.calls.append(t.cast(t.Any, kwargs))
        clock.advance(31)
        return json_response(token_payload())

    session.send = slow_send  # type: ignore[method-assign]
    client = ZohoOAuthClient("https://accounts.zoho.com", client_id=CLIENT_ID, client_secret=SECRET, session=session, sleep=Recorder(), monotonic=clock)
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        client.exchange_code(CODE)
    assert "No complete answer within 30s" in info.value.msg


def test_read_timeout_passed_to_requests_is_what_is_left_of_the_deadline() -> None:
    clock = FakeMonotonic()
    session = FakeSession(json_response(token_payload()))
    original = session.prepare_request

    def slow_prepare(request: t.Any) -> t.Any:
        clock.advance(25)
        return original(request)

    session.prepare_request = slow_prepare  # type: ignore[method-assign]
    client = ZohoOAuthClient("https://accounts.zoho.com", session=session, sleep=Recorder(), monotonic=clock)
    client.refresh(RT)
    assert session.calls[0].kwargs["timeout"] == (5.0, 5.0)


def test_broken_read_after_headers_is_after_sending() -> None:
    cut = FakeResponse(200, b'{"access_', {}, read_error=requests.exceptions.ConnectionError("reset"))
    client, _unused, _unused = make(cut)
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        client.exchange_code(CODE)
    assert "connection broke while reading the answer" in info.value.msg


def test_total_retry_time_is_capped() -> None:
    clock = FakeMonotonic()
    failures = [json_response({}, status=503, headers={"Retry-After": "25"}) for _unused in range(4)]
    session = FakeSession(*failures)
    original = session.send

    def send(prepared: t.Any, **kwargs: t.Any) -> t.Any:
        clock.advance(5)  # each attempt takes 5 s
        return original(prepared, **kwargs)

    session.send = send  # type: ignore[method-assign]

    def sleep(seconds: float) -> None:
        clock.advance(seconds)

    client = ZohoOAuthClient("https://accounts.zoho.com", session=session, sleep=sleep, monotonic=clock, retry=RetryPolicy(attempts=10))
    with pytest.raises(ZohoServerError):
        client.refresh(RT)
    # 5 + 25 = 30 s before the second attempt; 30 + 5 + 25 = 60 s before the third; a fourth would start at 95 s > 60 s.
    assert len(session.calls) == 3


def test_retry_policy_caps() -> None:
    policy = RetryPolicy()
    assert policy.max_total == 60.0 and policy.max_retry_after == 30.0 and policy.attempts == 4


# -- real sockets: the deadline and the size limit against a live server --------------------------------------------


def _read_request(conn: socket.socket) -> bytes:
    """Read one whole request (headers and Content-Length body): closing with unread data would send a RST."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _unused, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class _ScriptedServer:
    """Accepts one connection, reads the request, then writes ``head`` and drips ``body`` every ``interval`` seconds."""

    def __init__(self, head: bytes, body: bytes, *, interval: float = 0.0, piece: int = 1) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(head, body, interval, piece), daemon=True)
        self.thread.start()

    def _serve(self, head: bytes, body: bytes, interval: float, piece: int) -> None:
        try:
            conn, _unused = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                self.received.append(_read_request(conn))
                conn.sendall(head)
                for start in range(0, len(body), piece):
                    if self.stop.is_set():
                        return
                    conn.sendall(body[start : start + piece])
                    if interval:
                        time.sleep(interval)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


def test_real_dripping_server_is_cut_off_at_the_deadline(no_proxy: None) -> None:
    body = json.dumps(token_payload()).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    server = _ScriptedServer(head, body, interval=0.5)  # about 100 s for the whole body
    started = time.monotonic()
    try:
        client = ZohoOAuthClient(f"http://127.0.0.1:{server.port}", client_id=CLIENT_ID, client_secret=SECRET, sleep=Recorder(), timeout=2)
        with pytest.raises(ZohoCodeMayBeSpentError) as info:
            client.exchange_code(CODE)
    finally:
        server.close()
    assert time.monotonic() - started < 10  # hang guard only; the deadline itself is asserted through the message
    assert "No complete answer within 2s" in info.value.msg


def test_real_dripping_headers_are_cut_off_at_the_deadline(no_proxy: None) -> None:
    # The status line at once, then one header byte every 0.5 s: every socket read returns well within its own timeout,
    # so only the deadline of the whole attempt can end it. The server gives up after about 15 s: a regression fails
    # on the hang guard rather than hanging.
    server = _ScriptedServer(b"HTTP/1.1 200 OK\r\n", b"X-Drip: " + b"." * 22, interval=0.5)
    started = time.monotonic()
    try:
        client = ZohoOAuthClient(f"http://127.0.0.1:{server.port}", client_id=CLIENT_ID, client_secret=SECRET, sleep=Recorder(), timeout=2)
        with pytest.raises(ZohoCodeMayBeSpentError) as info:
            client.exchange_code(CODE)
    finally:
        server.close()
    assert time.monotonic() - started < 10  # hang guard only; the deadline itself is asserted through the message
    assert info.value.outcome_unknown is True
    assert "No complete answer within 2s" in info.value.msg
    assert server.received[0].startswith(b"POST /oauth/v2/token HTTP/1.1")
    assert not [thread for thread in threading.enumerate() if isinstance(thread, threading.Timer)]  # no watchdog outlives the attempt


class _HangingSession(FakeSession):
    """Like FakeSession, but each of the first ``hangs`` sends blocks like a connection would, until the watchdog cuts it.

    The blocked "connection" (one end of a socket pair) reports itself to the attempt's watchdog as connecting or
    not; once cut, send raises ``error``, as requests would for whatever the cut caused.
    """

    def __init__(self, *steps: t.Any, hangs: int, connecting: bool, error: BaseException) -> None:
        super().__init__(*steps)
        self.hangs, self.connecting, self.error = hangs, connecting, error

    def send(self, prepared: t.Any, **kwargs: t.Any) -> t.Any:
        if not self.hangs:
            return super().send(prepared, **kwargs)
        self.hangs -= 1
        ours, theirs = socket.socketpair()
        with ours, theirs:
            _client._ATTEMPT.watchdog.watch(types.SimpleNamespace(sock=ours), connecting=self.connecting)
            ours.settimeout(10)  # hang guard
            assert ours.recv(1) == b""  # the watchdog shut the socket down
        raise self.error


def test_watchdog_cut_while_connecting_sends_nothing_and_is_retried() -> None:
    # A TLS handshake cut by the watchdog fails like a TLS error, but nothing was sent: the exchange may be retried.
    session = _HangingSession(json_response(token_payload()), hangs=1, connecting=True, error=requests.exceptions.SSLError("EOF"))
    sleep = Recorder()
    client = ZohoOAuthClient(
        "https://accounts.zoho.com", client_id=CLIENT_ID, client_secret=SECRET, session=session, sleep=sleep, timeout=0.1, retry=RetryPolicy(attempts=2)
    )
    assert client.exchange_code(CODE).access_token
    assert len(sleep.delays) == 1 and session.hangs == 0


def test_watchdog_cut_after_connecting_may_spend_the_code() -> None:
    session = _HangingSession(hangs=1, connecting=False, error=requests.exceptions.SSLError("EOF"))
    client = ZohoOAuthClient("https://accounts.zoho.com", client_id=CLIENT_ID, client_secret=SECRET, session=session, sleep=Recorder(), timeout=0.1)
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        client.exchange_code(CODE)
    assert "No complete answer within 0.1s" in info.value.msg


def test_watchdog_cuts_nothing_after_the_attempt() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        connection = types.SimpleNamespace(sock=ours)
        with _client._Watchdog(0.05) as watchdog:
            watchdog.watch(connection, connecting=False)
        time.sleep(0.2)
        assert watchdog.cut is None
        theirs.sendall(b"ok")
        assert ours.recv(2) == b"ok"  # still open
        assert getattr(_client._ATTEMPT, "watchdog", None) is None
    assert not [thread for thread in threading.enumerate() if isinstance(thread, threading.Timer)]


def test_real_oversized_answer_is_refused(no_proxy: None) -> None:
    body = b'{"access_token": "1000.' + b"a" * (2 * 1024 * 1024) + b'"}'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536]) for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
    server = _ScriptedServer(head, chunked, piece=65536)
    try:
        client = ZohoOAuthClient(f"http://127.0.0.1:{server.port}", client_id=CLIENT_ID, client_secret=SECRET, sleep=Recorder(), timeout=10)
        with pytest.raises(ZohoProtocolError) as info:
            client.refresh(RT)
    finally:
        server.close()
    assert "larger than 1024 KiB" in info.value.msg


def test_real_oversized_content_length_is_refused(no_proxy: None) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 52428800\r\n\r\n"
    server = _ScriptedServer(head, b"{")
    try:
        client = ZohoOAuthClient(f"http://127.0.0.1:{server.port}", client_id=CLIENT_ID, client_secret=SECRET, sleep=Recorder(), timeout=10)
        with pytest.raises(ZohoCodeMayBeSpentError) as info:
            client.exchange_code(CODE)
    finally:
        server.close()
    assert "larger than 1024 KiB" in info.value.msg


def test_real_ca_path_typo_sends_nothing(no_proxy: None, tmp_path: t.Any) -> None:
    server = _SilentServer()
    try:
        with pytest.raises(ZohoInputError) as info:
            ZohoOAuthClient(f"https://127.0.0.1:{server.port}", client_id=CLIENT_ID, client_secret=SECRET, ca_path=str(tmp_path / "ca.pem"))
    finally:
        server.close()
    assert server.conns == []
    assert "does not exist" in info.value.msg


# -- issue 7 item 2: every answer is classified by what it proves about the request -------------------------------

# The statuses that prove the request was not processed. Kept here by hand, so that a change of the table is a
# deliberate change of this list too.
EXPECTED_NOT_PROCESSED = {307, 308, 404, 405, 407, 410, 411, 413, 414, 415, 417, 421, 425, 426, 429, 431, 501, 505, 511}
THROTTLES = {425, 429}


def _answer(status: int, kind: str, *, headers: dict[str, str] | None = None) -> FakeResponse:
    """An answer of ``status`` whose body is HTML, empty, text/plain, a JSON error object or JSON without an error."""
    extra = dict(headers or {})
    if kind == "html":
        body = b"<!DOCTYPE html><html><head><title>%d Oops</title></head><body><h1>Oops</h1><p>nginx</p></body></html>" % status
        return FakeResponse(status, body, {"Content-Type": "text/html; charset=utf-8", **extra})
    if kind == "empty":
        return FakeResponse(status, b"", extra)
    if kind == "text":
        return FakeResponse(status, b"%d: something is in the way\n" % status, {"Content-Type": "text/plain", **extra})
    if kind == "json-error":
        return json_response({"error": "some_reason", "error_description": "Something."}, status=status, headers=extra)
    if kind == "json":
        return json_response({"message": "Something.", "status": "failure"}, status=status, headers=extra)
    raise AssertionError(kind)


BODY_KINDS = ("html", "empty", "text", "json-error", "json")

# One or more answers per row of ANSWER_TABLE: (status, decoded payload, operation).
ROW_EXAMPLES: dict[str, list[tuple[int, t.Any, str]]] = {
    "success": [
        (200, token_payload(), "exchange"),
        (201, token_payload(), "refresh"),
        (404, token_payload(), "refresh"),
        (200, {"status": "success"}, "revoke"),
    ],
    "redirect-elsewhere": [(307, _client.NOT_JSON, "exchange"), (308, {"error": "moved"}, "refresh"), (307, None, "revoke")],
    "no-endpoint": [(404, _client.NOT_JSON, "exchange"), (404, {"error": "not_found"}, "exchange"), (410, [], "revoke")],
    "method-not-allowed": [(405, _client.NOT_JSON, "exchange"), (501, {"error": "x"}, "refresh")],
    "proxy-authentication": [(407, _client.NOT_JSON, "exchange"), (407, {}, "revoke")],
    "network-authentication": [(511, _client.NOT_JSON, "exchange")],
    "request-refused": [(413, _client.NOT_JSON, "exchange"), (414, {"error": "too_long"}, "refresh"), (411, None, "exchange"), (415, "x", "exchange")],
    "wrong-server-or-protocol": [(421, _client.NOT_JSON, "exchange"), (505, {}, "exchange"), (426, None, "refresh")],
    "throttled": [(429, _client.NOT_JSON, "exchange"), (429, {"error": "Access Denied"}, "refresh"), (425, {}, "exchange")],
    "revoke-refused": [(400, _client.NOT_JSON, "revoke"), (400, {"error": "invalid_token"}, "revoke")],
    "zoho-error": [
        (200, {"error": "invalid_code"}, "exchange"),
        (400, {"error": "invalid_client"}, "refresh"),
        (200, {"error": "invalid_token", "error_description": None}, "revoke"),
        (400, {"error": "Access Denied", "error_description": "You have made too many requests continuously.", "status": "failure"}, "refresh"),
    ],
    "server-error": [(500, _client.NOT_JSON, "exchange"), (503, {"error": "Access Denied"}, "exchange"), (502, token_payload(), "refresh")],
    "other-redirect": [(301, _client.NOT_JSON, "exchange"), (303, {}, "refresh"), (302, None, "revoke")],
    "2xx-not-json": [(200, _client.NOT_JSON, "exchange"), (204, _client.NOT_JSON, "refresh")],
    "2xx-without-tokens": [
        (200, {"token_type": "Bearer"}, "exchange"),
        (200, [], "refresh"),
        (200, {"error": ""}, "exchange"),
        (200, {"status": "failure"}, "revoke"),
        (201, {"error": "invalid_code"}, "exchange"),  # Zoho's shape at a status Zoho does not refuse with
        (200, {"error": {"code": 409}}, "exchange"),  # an error object that is not Zoho's
        (200, {"status": 500, "error": "Internal Server Error", "path": "/oauth/v2/token"}, "refresh"),
    ],
    "other-4xx": [
        (400, _client.NOT_JSON, "exchange"),
        (401, {"message": "x"}, "refresh"),
        (403, None, "exchange"),
        (408, _client.NOT_JSON, "exchange"),
        (403, {"error": "x"}, "revoke"),
        (408, {"timestamp": "2026-11-30T12:00:00.000+00:00", "status": 408, "error": "Request Timeout", "path": "/oauth/v2/token"}, "exchange"),
        (409, {"error": {"code": 409, "message": "upstream aborted", "status": "ABORTED"}}, "exchange"),
        (400, {"error": "Bad Request", "status": 400}, "refresh"),
    ],
    "other-status": [(100, _client.NOT_JSON, "exchange"), (600, {"error": "x"}, "refresh"), (199, token_payload(), "exchange")],
}


def test_every_row_of_the_answer_table_has_examples() -> None:
    names = [row.name for row in _client.ANSWER_TABLE]
    assert len(names) == len(set(names))
    assert set(names) == set(ROW_EXAMPLES)


@pytest.mark.parametrize("name", list(ROW_EXAMPLES))
def test_answer_table_row(name: str) -> None:
    for status, payload, operation in ROW_EXAMPLES[name]:
        assert _client.classify_answer(status, payload, operation=operation).name == name, (status, payload, operation)


def test_the_statuses_that_prove_a_request_was_not_processed() -> None:
    found = {status for row in _client.ANSWER_TABLE if row.outcome == _client.NOT_PROCESSED for status in row.statuses}
    assert found == EXPECTED_NOT_PROCESSED
    # 408 and 503 are sent by proxies after forwarding the request (an upstream timeout or reset): never "not processed".
    assert not found & {400, 401, 403, 408, 500, 502, 503, 504, 300, 301, 302, 303}
    retried = {status for row in _client.ANSWER_TABLE if row.retry == _client.RETRY_ALWAYS for status in row.statuses}
    assert retried == THROTTLES


@pytest.mark.parametrize("status", sorted(EXPECTED_NOT_PROCESSED))
@pytest.mark.parametrize("kind", BODY_KINDS)
def test_a_status_that_proves_nothing_was_processed_decides_whatever_the_body(status: int, kind: str) -> None:
    payload = _client._decode_json(_answer(status, kind).content)  # pylint: disable=protected-access
    for operation in OPERATIONS:
        assert _client.classify_answer(status, payload, operation=operation).outcome == _client.NOT_PROCESSED


@pytest.mark.parametrize("status", sorted(EXPECTED_NOT_PROCESSED))
@pytest.mark.parametrize("kind", BODY_KINDS)
def test_not_processed_answer_leaves_the_code_usable(status: int, kind: str) -> None:
    journal = _Journal()
    client, session, sleep = make(_answer(status, kind), retry=NO_RETRY)
    with pytest.raises(ZohoNotProcessedError) as info:
        client.exchange_code(CODE, before_send=journal)
    error = info.value
    assert error.outcome_unknown is False and not isinstance(error, ZohoCodeMayBeSpentError)
    assert error.http_status == status
    assert f"HTTP {status} (" in error.msg
    assert "which proves that the request was not processed" in error.msg
    assert "The grant code was not processed and is still usable" in error.msg
    assert "may already be spent" not in error.msg
    content_type = {"html": "text/html", "text": "text/plain", "empty": "unknown"}.get(kind, "application/json")
    assert f"Content-Type: {content_type}" in error.msg
    assert ("an empty body" in error.msg) == (kind == "empty")
    assert len(session.calls) == 1 and sleep.delays == [] and journal.calls == 1
    assert_secret_free(error.msg)


@pytest.mark.parametrize("status", sorted(EXPECTED_NOT_PROCESSED))
@pytest.mark.parametrize("operation", ["refresh", "revoke"])
def test_not_processed_answer_for_refresh_and_revoke(status: int, operation: str) -> None:
    client, session, _unused = make(_answer(status, "html"), retry=NO_RETRY)
    with pytest.raises(ZohoNotProcessedError) as info:
        run(operation, client)
    assert info.value.outcome_unknown is False and len(session.calls) == 1
    assert ("refresh token was not used" if operation == "refresh" else "Nothing was revoked") in info.value.msg


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (404, "bare origin of a Zoho accounts server"),
        (410, "`accounts_url`"),
        (405, "`data_center`"),
        (407, "HTTPS_PROXY"),
        (511, "Sign this host in to the network"),
        (413, "proxy or firewall"),
        (421, "NO_PROXY"),
        (429, "Wait a few minutes"),
        (307, "Set `accounts_url` (or `data_center`)"),
    ],
)
def test_not_processed_message_names_the_likely_fix(status: int, words: str) -> None:
    client, _unused, _unused = make(_answer(status, "empty"), retry=NO_RETRY)
    with pytest.raises(ZohoNotProcessedError) as info:
        client.exchange_code(CODE)
    assert words in info.value.msg


UNKNOWN_ANSWERS = [
    *((status, kind) for status in (400, 401, 403, 408, 409, 422, 451) for kind in ("html", "empty", "text", "json")),
    *((status, kind) for status in (500, 502, 503, 504) for kind in BODY_KINDS),
    *((status, kind) for status in (300, 301, 302, 303) for kind in ("html", "empty", "text", "json")),
    *((status, kind) for status in (200, 201, 202, 204) for kind in ("html", "empty", "text", "json")),
]


@pytest.mark.parametrize(("status", "kind"), UNKNOWN_ANSWERS)
def test_an_answer_that_proves_nothing_may_spend_the_code(status: int, kind: str) -> None:
    journal = _Journal()
    client, session, sleep = make(_answer(status, kind), json_response(token_payload()))
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        client.exchange_code(CODE, before_send=journal)
    assert info.value.outcome_unknown is True
    assert f"HTTP {status}" in info.value.msg and "may already be spent" in info.value.msg
    assert len(session.calls) == 1 and sleep.delays == []  # never re-sent
    assert_secret_free(info.value.msg)


@pytest.mark.parametrize("status", sorted(_client.ZOHO_REFUSAL_STATUSES))
@pytest.mark.parametrize("operation", ["exchange", "refresh"])
def test_zoho_error_object_is_a_refusal(status: int, operation: str) -> None:
    client, session, sleep = make(json_response({"error": "invalid_code"}, status=status))
    with pytest.raises(ZohoInvalidCodeError) as info:
        run(operation, client)
    assert info.value.outcome_unknown is False and info.value.http_status == status
    assert len(session.calls) == 1 and sleep.delays == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_zoho_error_object_in_a_5xx_answer_proves_nothing(status: int) -> None:
    client, _unused, _unused = make(json_response({"error": "invalid_code"}, status=status))
    with pytest.raises(ZohoCodeMayBeSpentError):
        client.exchange_code(CODE)


def test_a_throttle_that_proves_nothing_was_processed_is_retried_for_an_exchange() -> None:
    journal = _Journal()
    messages: list[str] = []
    client, session, sleep = make(_answer(429, "html", headers={"Retry-After": "2"}), json_response(token_payload()), on_retry=messages.append)
    assert client.exchange_code(CODE, before_send=journal).access_token == "1000.access.token"
    assert len(session.calls) == 2 and sleep.delays == [2.0] and journal.calls == 1
    assert session.calls[0].data == session.calls[1].data
    assert len(messages) == 1 and "HTTP 429" in messages[0] and "not processed" in messages[0]


def test_throttled_exchange_gives_up_without_spending_the_code() -> None:
    client, session, sleep = make(*(_answer(429, "empty") for _unused in range(5)))
    with pytest.raises(ZohoNotProcessedError) as info:
        client.exchange_code(CODE)
    assert len(session.calls) == 4 and len(sleep.delays) == 3
    assert info.value.outcome_unknown is False and "still usable" in info.value.msg


def test_throttled_exchange_with_a_long_retry_after_fails_fast_and_keeps_the_code() -> None:
    client, session, sleep = make(_answer(429, "text", headers={"Retry-After": "120"}), json_response(token_payload()))
    with pytest.raises(ZohoNotProcessedError):
        client.exchange_code(CODE)
    assert len(session.calls) == 1 and sleep.delays == []


def test_a_throttle_then_a_lost_answer_may_spend_the_code() -> None:
    client, session, _unused = make(_answer(429, "empty", headers={"Retry-After": "1"}), read_timeout(), json_response(token_payload()))
    with pytest.raises(ZohoCodeMayBeSpentError):
        client.exchange_code(CODE)
    assert len(session.calls) == 2


@pytest.mark.parametrize("status", sorted(EXPECTED_NOT_PROCESSED - THROTTLES))
def test_permanent_not_processed_answers_are_not_retried(status: int) -> None:
    for operation in OPERATIONS:
        client, session, sleep = make(_answer(status, "html"), success_for(operation))
        with pytest.raises(ZohoNotProcessedError):
            run(operation, client)
        assert len(session.calls) == 1 and sleep.delays == []


def test_the_message_quotes_a_short_sanitised_snippet() -> None:
    page = b"<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>"
    client, _unused, _unused = make(FakeResponse(404, page, {"Content-Type": "text/html"}))
    with pytest.raises(ZohoNotProcessedError) as info:
        client.exchange_code(CODE)
    assert "a body starting '404 Not Found'" in info.value.msg
    assert "<title>" not in info.value.msg and "<html>" not in info.value.msg


@pytest.mark.parametrize("status", [404, 502, 400])
def test_an_echoed_request_never_reaches_the_message(status: int) -> None:
    echo = f"grant_type=authorization_code&client_id={CLIENT_ID}&client_secret={SECRET}&code={CODE} {SECRET[4:]}".encode()
    client, _unused, _unused = make(FakeResponse(status, echo, {"Content-Type": "text/plain"}))
    with pytest.raises(ZohoOAuthError) as info:
        client.exchange_code(CODE)
    assert_secret_free(info.value.msg)
    assert "<hidden>" in info.value.msg


def test_a_not_processed_answer_whose_body_cannot_be_read_still_proves_it() -> None:
    answer = FakeResponse(404, b"", {"Content-Type": "text/html"}, chunks=[b"<html>"], read_error=ConnectionResetError(104, "reset"))
    client, _unused, _unused = make(answer)
    with pytest.raises(ZohoNotProcessedError) as info:
        client.exchange_code(CODE)
    assert "a body that could not be read" in info.value.msg


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(FakeResponse(404, b"x" * (2 * 1024 * 1024), {"Content-Type": "text/html", "Content-Length": str(2 * 1024 * 1024)}), id="2-MiB"),
        pytest.param(FakeResponse(405, b"\x1f\x8b\x08", {"Content-Type": "text/html", "Content-Encoding": "gzip"}), id="gzip"),
    ],
)
def test_a_not_processed_answer_with_an_odd_body_still_proves_it(answer: FakeResponse) -> None:
    client, _unused, _unused = make(answer)
    with pytest.raises(ZohoNotProcessedError):
        client.exchange_code(CODE)
    assert answer.raw.bytes_read <= 16 * 1024  # only enough for the message is read


def test_a_not_processed_status_after_the_deadline_is_unknown() -> None:
    clock = FakeMonotonic()
    answer = FakeResponse(404, b"", {})

    class _Late(FakeSession):
        def send(self, prepared: t.Any, **kwargs: t.Any) -> FakeResponse:
            clock.advance(60)
            return super().send(prepared, **kwargs)

    session = _Late(answer)
    client = ZohoOAuthClient("https://accounts.zoho.com", session=session, sleep=Recorder(), clock=lambda: NOW, monotonic=clock, timeout=5)
    with pytest.raises(ZohoCodeMayBeSpentError):
        client.exchange_code(CODE)


def test_tokens_in_a_not_processed_status_are_still_tokens() -> None:
    # The success rule wins: tokens that came back exist, whatever the status says.
    client, _unused, _unused = make(json_response(token_payload("1000.tok"), status=404))
    assert client.exchange_code(CODE).access_token == "1000.tok"


@pytest.mark.parametrize("operation", ["refresh", "revoke"])
@pytest.mark.parametrize(("status", "kind"), [(503, "html"), (502, "empty"), (500, "text"), (504, "json"), (200, "html"), (200, "text")])
def test_refresh_and_revoke_keep_retrying_answers_that_prove_nothing(
    operation: str, status: int, kind: str, upper_bound_jitter: list[tuple[float, float]]
) -> None:
    client, session, sleep = make(_answer(status, kind), success_for(operation))
    run(operation, client)
    assert len(session.calls) == 2 and sleep.delays == [1.0]


# -- issue 7 item 2: the full token URL as accounts_url is refused before anything is recorded or sent ----------------


@pytest.mark.parametrize(
    "url",
    [
        "https://accounts.zoho.eu/oauth/v2/token",
        "https://accounts.zoho.eu/oauth/v2/token/",
        "http://127.0.0.1:8443/oauth/v2/token",
        "https://proxy.example.com/zoho",
        "https://accounts.zoho.eu/?x=1",
        "https://user:pw@accounts.zoho.eu",
    ],
)
def test_client_refuses_anything_but_a_bare_origin(url: str) -> None:
    session = FakeSession()
    with pytest.raises(ZohoInputError) as info:
        ZohoOAuthClient(url, session=session)
    assert "bare origin" in info.value.msg and "Nothing was sent" in info.value.msg
    assert info.value.msg.startswith("Invalid `accounts_url`")
    assert session.prepared == 0 and session.calls == []
    assert "pw@" not in info.value.msg


def test_the_token_url_slip_is_refused_with_the_fix() -> None:
    with pytest.raises(ZohoInputError) as info:
        ZohoOAuthClient("https://accounts.zoho.eu/oauth/v2/token", session=FakeSession())
    assert "Use 'https://accounts.zoho.eu', without /oauth/v2/token" in info.value.msg


def test_the_token_url_is_built_from_the_origin_once() -> None:
    for url in ("https://accounts.zoho.eu", "https://accounts.zoho.eu/"):
        client = ZohoOAuthClient(url, session=FakeSession())
        assert client.token_url == "https://accounts.zoho.eu/oauth/v2/token"
        assert client.revoke_url == "https://accounts.zoho.eu/oauth/v2/token/revoke"


# -- issue 7 item 2 end to end with the token cache: what an answer proves decides what the cache keeps ---------------


def _cache(tmp_path: t.Any) -> t.Any:
    from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import TokenCache  # pylint: disable=import-outside-toplevel

    return TokenCache(str(tmp_path / "tokens.json"), lock_timeout=5)


def test_a_wrong_address_answer_leaves_the_code_usable_in_the_cache(tmp_path: t.Any) -> None:
    from ansible_collections.zohothrive.oauth.plugins.module_utils import _flows  # pylint: disable=import-outside-toplevel

    cache = _cache(tmp_path)
    client, session, _unused = make(FakeResponse(404, b"<html><title>Not Found</title></html>", {"Content-Type": "text/html"}), json_response(token_payload()))
    with pytest.raises(ZohoNotProcessedError):
        _flows.exchange_code(client, CODE, cache=cache, check_mode=False)
    assert _cache(tmp_path).load().code_entry(_fingerprint(CODE)) in (None, {})  # no in-flight record is left
    outcome = _flows.exchange_code(client, CODE, cache=_cache(tmp_path), check_mode=False)  # the same code, once fixed
    assert outcome.tokens is not None and outcome.tokens.access_token == "1000.access.token"
    assert len(session.calls) == 2


def test_an_unknown_answer_keeps_the_code_recorded_as_possibly_spent(tmp_path: t.Any) -> None:
    from ansible_collections.zohothrive.oauth.plugins.module_utils import _flows  # pylint: disable=import-outside-toplevel

    client, session, _unused = make(html_response(status=502), json_response(token_payload()))
    with pytest.raises(ZohoCodeMayBeSpentError):
        _flows.exchange_code(client, CODE, cache=_cache(tmp_path), check_mode=False)
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        _flows.exchange_code(client, CODE, cache=_cache(tmp_path), check_mode=False)
    assert "not sent again" in info.value.msg
    assert len(session.calls) == 1


def _fingerprint(code: str) -> str:
    from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint  # pylint: disable=import-outside-toplevel

    return fingerprint(code)


# -- the answer table in the module documentation -----------------------------------------------------------------------


def test_the_answers_doc_fragment_lists_every_row() -> None:
    import yaml  # pylint: disable=import-outside-toplevel

    from ansible_collections.zohothrive.oauth.plugins.doc_fragments.answers import ModuleDocFragment  # pylint: disable=import-outside-toplevel

    notes = " ".join(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["notes"])
    for row in _client.ANSWER_TABLE:
        if row.outcome == _client.NOT_PROCESSED:
            for status in row.statuses:
                assert str(status) in notes, (row.name, status)
    for words in ("not processed", "refused", "may be spent", "408", "503", "303", "Retry-After", "bare origin"):
        assert words in notes, words


# -- a refusal proves itself only in Zoho's own shape, at a status Zoho uses ---------------------------------------------
#
# A gateway that reports its own failure as JSON (Spring: {"status": 408, "error": "Request Timeout", "path": ...}) may have
# forwarded the request: its "error" key proves nothing about Zoho. Counting it as Zoho's refusal removed the in-flight
# record of a grant code that Zoho may have spent, so the next run sent the code again.

# Real Zoho client secrets are 42 hex digits: nothing "1000."-shaped that a token pattern would catch.
HEX_SECRET = "9c1f0e2a7b3d4c5e6f708192a3b4c5d6e7f8091a2b"
ZOHO_CODE = "1000.8d5e1c0a9b7f4e3d2c1b0a9f8e7d6c5b.4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d"
ZOHO_RT = "1000.0a1b2c3d4e5f60718293a4b5c6d7e8f9.f9e8d7c6b5a4938271605f4e3d2c1b0a"
SPRING_408 = {"timestamp": "2026-11-30T12:00:00.000+00:00", "status": 408, "error": "Request Timeout", "path": "/oauth/v2/token"}
GOOGLE_STYLE_409 = {"error": {"code": 409, "message": "upstream aborted", "status": "ABORTED"}}


def hex_client(*steps: t.Any) -> ZohoOAuthClient:
    return ZohoOAuthClient(
        "https://accounts.zoho.eu",
        client_id=CLIENT_ID,
        client_secret=HEX_SECRET,
        session=FakeSession(*steps),
        clock=lambda: NOW,
        monotonic=FakeMonotonic(),
        retry=NO_RETRY,
    )


@pytest.mark.parametrize(
    ("status", "payload"),
    [pytest.param(408, SPRING_408, id="408-spring-error-body"), pytest.param(409, GOOGLE_STYLE_409, id="409-error-object-not-a-zoho-code")],
)
def test_a_proxy_json_error_is_not_proof_that_zoho_refused(status: int, payload: dict[str, t.Any]) -> None:
    assert _client.classify_answer(status, payload, operation="exchange").outcome == _client.UNKNOWN


def test_a_code_is_never_resent_after_a_408_json_answer(tmp_path: t.Any) -> None:
    from ansible_collections.zohothrive.oauth.plugins.module_utils import _flows  # pylint: disable=import-outside-toplevel

    session = FakeSession(json_response(SPRING_408, status=408))
    client = ZohoOAuthClient("https://accounts.zoho.eu", client_id=CLIENT_ID, client_secret=HEX_SECRET, session=session, retry=NO_RETRY)
    with pytest.raises(ZohoOAuthError):
        _flows.exchange_code(client, ZOHO_CODE, cache=_cache(tmp_path), check_mode=False)
    assert _cache(tmp_path).load().code_entry(_fingerprint(ZOHO_CODE)) is not None, "the in-flight record of the code was removed"
    with pytest.raises(ZohoCodeMayBeSpentError):
        _flows.exchange_code(client, ZOHO_CODE, cache=_cache(tmp_path), check_mode=False)
    assert len(session.calls) == 1


# -- Zoho's error text never repeats what was sent ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"error": "invalid_client_secret", "error_description": f"client_secret {HEX_SECRET} is not valid"}, id="secret-in-description"),
        pytest.param(
            {"error": "invalid_request", "error_description": f"grant_type=authorization_code&client_secret={HEX_SECRET}&code={ZOHO_CODE}"},
            id="form-echo-in-description",
        ),
        pytest.param({"error": f"invalid client_secret {HEX_SECRET}"}, id="secret-in-error-code"),
    ],
)
def test_an_exchange_refusal_never_repeats_what_was_sent(payload: dict[str, str]) -> None:
    with pytest.raises(ZohoOAuthError) as info:
        hex_client(json_response(payload)).exchange_code(ZOHO_CODE)
    for text in (str(info.value), str(info.value.error_code), repr(info.value.fail_kwargs())):
        assert HEX_SECRET not in text
        assert ZOHO_CODE not in text


def test_a_revoke_refusal_never_repeats_the_token() -> None:
    answer = json_response({"error": "invalid_token", "error_description": f"the token {ZOHO_RT} is unknown"}, status=400)
    with pytest.raises(ZohoOAuthError) as info:
        hex_client(answer).revoke(ZOHO_RT)
    assert ZOHO_RT not in str(info.value)


# The class: every status, with every shape of JSON error a server may send. Only Zoho's own shape at a status Zoho
# refuses with is a refusal; a status that proves the request was not processed decides whatever the body; anything
# else may have spent the code.
ZOHO_SHAPED = {
    "zoho-code": {"error": "invalid_code"},
    "zoho-code-and-description": {"error": "invalid_client_secret", "error_description": "The client secret is not valid."},
    "zoho-throttle": {"error": "Access Denied", "error_description": "You have made too many requests continuously.", "status": "failure"},
    "zoho-null-description": {"error": "invalid_code", "error_description": None},
}
NOT_ZOHO_SHAPED = {
    "object-error": GOOGLE_STYLE_409,
    "spring": SPRING_408,
    "nginx-json": {"status": 504, "error": "Gateway Timeout"},
    "envoy-json": {"code": 503, "error": "upstream connect error or disconnect/reset before headers", "message": "no healthy upstream"},
    "kong-like": {"message": "An invalid response was received from the upstream server", "error": "bad_gateway", "request_id": "abc"},
    "numeric-text-status": {"error": "invalid_code", "status": "504"},
    "list-error": {"error": ["invalid_code"]},
    "number-error": {"error": 42},
    "bool-error": {"error": True},
    "blank-error": {"error": "  "},
    "object-description": {"error": "invalid_code", "error_description": {"detail": "x"}},
    "tokens-and-error": dict(token_payload(), error="invalid_code"),
}


def _expected_outcome(status: int, payload: t.Any, operation: str) -> str:
    if status in EXPECTED_NOT_PROCESSED:
        return _client.NOT_PROCESSED
    if operation == "revoke" and status == 400:
        return _client.REFUSED
    if status in (200, 400) and payload in ZOHO_SHAPED.values():
        return _client.REFUSED
    return _client.UNKNOWN


@pytest.mark.parametrize("shape", [*ZOHO_SHAPED, *NOT_ZOHO_SHAPED])
def test_every_status_with_every_json_error_shape(shape: str) -> None:
    payload = {**ZOHO_SHAPED, **NOT_ZOHO_SHAPED}[shape]
    for status in range(100, 600):
        for operation in OPERATIONS:
            found = _client.classify_answer(status, payload, operation=operation).outcome
            assert found == _expected_outcome(status, payload, operation), (status, operation, found)


@pytest.mark.parametrize("status", [201, 202, 401, 403, 408, 409, 422, 451, 500, 502, 503, 504])
@pytest.mark.parametrize("shape", ["zoho-code", "spring", "object-error", "nginx-json"])
def test_a_json_error_at_a_status_zoho_does_not_refuse_with_may_spend_the_code(status: int, shape: str) -> None:
    payload = {**ZOHO_SHAPED, **NOT_ZOHO_SHAPED}[shape]
    journal = _Journal()
    client, session, sleep = make(json_response(payload, status=status), json_response(token_payload()))
    with pytest.raises(ZohoCodeMayBeSpentError) as info:
        client.exchange_code(CODE, before_send=journal)
    assert info.value.outcome_unknown is True and info.value.http_status == status
    assert "may already be spent" in info.value.msg and "not sent again" in info.value.msg
    assert len(session.calls) == 1 and sleep.delays == []
    assert_secret_free(info.value.msg)


@pytest.mark.parametrize("status", [201, 401, 403, 408, 409, 422])
def test_a_json_error_at_another_status_says_why_it_proves_nothing(status: int) -> None:
    client, _unused, _unused = make(json_response({"error": "invalid_code"}, status=status), retry=NO_RETRY)
    with pytest.raises(ZohoProtocolError) as info:
        client.refresh(RT)
    assert "not Zoho's refusal" in info.value.msg and "HTTP 200 or 400" in info.value.msg
    assert info.value.error_code is None  # a code that Zoho did not prove it sent is not reported as Zoho's


@pytest.mark.parametrize("shape", list(NOT_ZOHO_SHAPED))
@pytest.mark.parametrize("status", [200, 400])
def test_another_servers_json_error_at_200_or_400_may_spend_the_code(status: int, shape: str) -> None:
    client, session, _unused = make(json_response(NOT_ZOHO_SHAPED[shape], status=status), json_response(token_payload()))
    with pytest.raises(ZohoCodeMayBeSpentError):
        client.exchange_code(CODE)
    assert len(session.calls) == 1


@pytest.mark.parametrize("status", [408, 502, 504])
def test_a_zoho_shaped_error_at_a_proxy_status_keeps_the_code_recorded(tmp_path: t.Any, status: int) -> None:
    from ansible_collections.zohothrive.oauth.plugins.module_utils import _flows  # pylint: disable=import-outside-toplevel

    client, session, _unused = make(json_response({"error": "invalid_code"}, status=status), json_response(token_payload()))
    with pytest.raises(ZohoCodeMayBeSpentError):
        _flows.exchange_code(client, CODE, cache=_cache(tmp_path), check_mode=False)
    assert _cache(tmp_path).load().code_entry(_fingerprint(CODE)) is not None
    with pytest.raises(ZohoCodeMayBeSpentError):
        _flows.exchange_code(client, CODE, cache=_cache(tmp_path), check_mode=False)
    assert len(session.calls) == 1


def test_a_zoho_refusal_at_200_leaves_the_code_unrecorded(tmp_path: t.Any) -> None:
    # The other side of the rule: Zoho's own refusal proves that Zoho did not issue tokens for the code.
    from ansible_collections.zohothrive.oauth.plugins.module_utils import _flows  # pylint: disable=import-outside-toplevel

    client, _unused, _unused = make(json_response({"error": "invalid_client_secret"}))
    with pytest.raises(ZohoInvalidClientSecretError):
        _flows.exchange_code(client, CODE, cache=_cache(tmp_path), check_mode=False)
    assert _cache(tmp_path).load().code_entry(_fingerprint(CODE)) in (None, {})


def test_a_revoke_400_with_another_servers_error_object_names_no_zoho_code() -> None:
    client, _unused, _unused = make(json_response(GOOGLE_STYLE_409, status=400))
    with pytest.raises(ZohoInvalidTokenError) as info:
        client.revoke(RT)
    assert info.value.error_code == "invalid_token" and "{" not in info.value.msg


# The class of finding 2: every piece of server text that reaches a message or a result field is redacted with every
# value sent, in every spelling, also for secrets without the 1000. shape (a Zoho client secret is 42 hex digits).
PLAIN_SECRET = "Zx9Qw7Er5Ty3Ui1OpAs8Df6Gh4Jk2Lz0XcVbNmQwEr"  # no hex run, no 1000. prefix: only the values sent can hide it
PLAIN_CODE = "kT7mB2xQ9vR4nL8wP3zH6jF1cD5sG0aY"


def _spellings(secret: str) -> dict[str, tuple[str, str]]:
    """Ways a server may echo ``secret``: name -> (the echo, a part of it that only the secret determines)."""
    import base64  # pylint: disable=import-outside-toplevel
    from urllib.parse import quote  # pylint: disable=import-outside-toplevel

    basic = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
    shifted = base64.urlsafe_b64encode(b"xy" + secret.encode()).decode()
    return {
        "raw": (secret, secret),
        "upper": (secret.upper(), secret.upper()),
        "url-encoded": (quote(secret + "/+=", safe=""), secret),
        "base64": (base64.b64encode(secret.encode()).decode(), base64.b64encode(secret.encode()).decode()[:-4]),
        "base64-in-basic-auth": (basic, basic[24:-4]),  # the client ID and ':' are the first 17 bytes (23 characters)
        "urlsafe-base64-shifted": (shifted, shifted[4:-4]),
        "json-escaped": (json.dumps(secret + "/").replace("/", "\\/")[1:-1], secret),
        "first-half": (secret[: len(secret) // 2], secret[: len(secret) // 2]),
        "last-half": (secret[len(secret) // 2 :], secret[len(secret) // 2 :]),
        "middle": (secret[6:-6], secret[6:-6]),
    }


def _visible_pieces(secret: str) -> list[str]:
    """Pieces of ``secret`` and of its encodings whose presence in a message counts as a leak."""
    return [evidence for _unused, evidence in _spellings(secret).values()]


def _plain_client(*steps: t.Any, secret: str = PLAIN_SECRET) -> ZohoOAuthClient:
    return ZohoOAuthClient(
        "https://accounts.zoho.eu",
        client_id=CLIENT_ID,
        client_secret=secret,
        session=FakeSession(*steps),
        clock=lambda: NOW,
        monotonic=FakeMonotonic(),
        retry=NO_RETRY,
    )


def _assert_never_shown(error: ZohoOAuthError, *secrets: str) -> None:
    texts = [str(error), str(error.error_code), repr(error.fail_kwargs())]
    for secret in secrets:
        for piece in _visible_pieces(secret):
            for text in texts:
                assert piece not in text, (piece, text)


@pytest.mark.parametrize("spelling", list(_spellings(PLAIN_SECRET)))
@pytest.mark.parametrize("where", ["description", "error-code"])
def test_zohos_error_text_never_shows_the_client_secret_in_any_spelling(spelling: str, where: str) -> None:
    echoed = _spellings(PLAIN_SECRET)[spelling][0]
    payload = {"error": "invalid_client_secret", "error_description": f"client secret {echoed} is not valid"}
    if where == "error-code":
        payload = {"error": f"invalid_client_secret {echoed}"}
    with pytest.raises(ZohoOAuthError) as info:
        _plain_client(json_response(payload)).exchange_code(PLAIN_CODE)
    _assert_never_shown(info.value, PLAIN_SECRET, PLAIN_CODE)
    assert "<hidden>" in str(info.value)


@pytest.mark.parametrize("spelling", list(_spellings(PLAIN_CODE)))
def test_zohos_error_text_never_shows_the_grant_code_in_any_spelling(spelling: str) -> None:
    echoed = _spellings(PLAIN_CODE)[spelling][0]
    with pytest.raises(ZohoOAuthError) as info:
        _plain_client(json_response({"error": "invalid_code", "error_description": f"code {echoed} expired"})).exchange_code(PLAIN_CODE)
    _assert_never_shown(info.value, PLAIN_SECRET, PLAIN_CODE)


@pytest.mark.parametrize("spelling", list(_spellings(PLAIN_CODE)))
@pytest.mark.parametrize("status", [200, 400])
def test_a_revocation_never_shows_the_token_it_revoked(spelling: str, status: int) -> None:
    # zoho_thrive_ledger revokes tokens read from its cache: Ansible cannot mask them, so the message must not carry them.
    token = PLAIN_CODE
    echoed = _spellings(token)[spelling][0]
    for payload in ({"error": "invalid_token", "error_description": f"token {echoed} unknown"}, {"error": f"invalid_token {echoed}"}):
        with pytest.raises(ZohoOAuthError) as info:
            _plain_client(json_response(payload, status=status)).revoke(token)
        _assert_never_shown(info.value, token, PLAIN_SECRET)


@pytest.mark.parametrize("status", [404, 408, 413, 500, 502, 200, 201])
def test_every_answer_class_hides_an_echoed_form_in_any_spelling(status: int) -> None:
    import base64  # pylint: disable=import-outside-toplevel
    from urllib.parse import urlencode  # pylint: disable=import-outside-toplevel

    form = urlencode({"grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": PLAIN_SECRET, "code": PLAIN_CODE})
    for echoed in (form, base64.b64encode(form.encode()).decode(), f"you sent secret {PLAIN_SECRET.upper()} and code {PLAIN_CODE[:20]}"):
        for answer in (
            FakeResponse(status, echoed.encode(), {"Content-Type": "text/plain"}),
            json_response({"message": echoed}, status=status),
            json_response({"error": echoed}, status=status),
            FakeResponse(status, f"<html><title>{echoed}</title></html>".encode(), {"Content-Type": "text/html"}),
        ):
            with pytest.raises(ZohoOAuthError) as info:
                _plain_client(answer).exchange_code(PLAIN_CODE)
            _assert_never_shown(info.value, PLAIN_SECRET, PLAIN_CODE)


def test_a_refresh_never_shows_the_refresh_token_or_secret() -> None:
    for payload in (
        {"error": "invalid_code", "error_description": f"refresh_token {PLAIN_CODE} was revoked; secret {PLAIN_SECRET}"},
        {"access_token": "1000.x", "expires_in": f"{PLAIN_CODE}"},  # a non-numeric expiry quoted in the message
    ):
        with pytest.raises(ZohoOAuthError) as info:
            _plain_client(json_response(payload)).refresh(PLAIN_CODE)
        _assert_never_shown(info.value, PLAIN_CODE, PLAIN_SECRET)


def test_headers_quoted_in_messages_are_redacted() -> None:
    answers = [
        FakeResponse(502, b"", {"Content-Type": f"text/plain; boundary={PLAIN_SECRET}"}),
        FakeResponse(200, b"\x1f\x8b", {"Content-Type": "application/json", "Content-Encoding": PLAIN_SECRET[:20]}),
        FakeResponse(503, b"", {"Retry-After": PLAIN_SECRET}),
    ]
    for answer in answers:
        with pytest.raises(ZohoOAuthError) as info:
            _plain_client(answer).exchange_code(PLAIN_CODE)
        _assert_never_shown(info.value, PLAIN_SECRET, PLAIN_CODE)


def test_a_hex_client_secret_is_hidden_even_where_the_values_sent_are_unknown() -> None:
    # Token-shaped strings are hidden whatever was sent: a 42-hex-digit Zoho client secret, a 1000. token.
    from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import sanitize_server_text  # pylint: disable=import-outside-toplevel

    text = sanitize_server_text(f"secret {HEX_SECRET} token {ZOHO_RT}")
    assert HEX_SECRET not in text and ZOHO_RT not in text and text == "secret <hidden> token <hidden>"
