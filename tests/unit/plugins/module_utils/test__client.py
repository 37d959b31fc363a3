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
import socket
import ssl
import threading
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
    ZohoTransportError,
)
from ansible_collections.zohothrive.oauth.tests.unit.fakes import (
    NOW,
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
    assert call.kwargs == {"timeout": (10.0, 30.0), "allow_redirects": False, "verify": True}
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
    assert call.kwargs["allow_redirects"] is False
    session.assert_secrets_only_in_body(*ALL_SECRETS)
    assert tokens.access_token == "1000.new.access"
    assert tokens.refresh_token is None  # Zoho's refresh answer carries none


def test_revoke_request_shape() -> None:
    client, session, _unused = make(json_response({"status": "success"}))
    assert client.revoke(RT) is None
    call = session.calls[0]
    assert call.url == "https://accounts.zoho.com/oauth/v2/token/revoke"
    assert call.data == {"token": RT}  # only the token: no client secret is sent for revocation
    assert call.kwargs["allow_redirects"] is False
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
        ({"ca_path": "/etc/zoho/ca.pem"}, "/etc/zoho/ca.pem", (10.0, 30.0)),
        ({"ca_path": "/etc/zoho/ca.pem", "validate_certs": False}, False, (10.0, 30.0)),
        ({"timeout": 5}, True, (5.0, 5.0)),
        ({"timeout": 120}, True, (10.0, 120.0)),
    ],
)
def test_tls_and_timeout_settings_reach_requests(kwargs: dict[str, t.Any], verify: t.Any, timeout: tuple[float, float]) -> None:
    client, session, _unused = make(json_response(token_payload()), **kwargs)
    client.refresh(RT)
    assert session.calls[0].kwargs["verify"] == verify
    assert session.calls[0].kwargs["timeout"] == timeout


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


def test_error_key_wins_over_an_access_token() -> None:
    client, _unused, _unused = make(json_response(dict(token_payload(), error="invalid_code")), retry=NO_RETRY)
    with pytest.raises(ZohoInvalidCodeError):
        client.refresh(RT)


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


def test_non_json_4xx_is_a_definite_refusal_and_not_retried() -> None:
    client, session, sleep = make(html_response(status=400))
    with pytest.raises(ZohoProtocolError) as info:
        client.refresh(RT)
    assert len(session.calls) == 1 and sleep.delays == []
    assert "HTTP 400" in info.value.msg


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
        (None, []),
        ("", []),
    ],
)
def test_scope_parsing(value: t.Any, scopes: list[str]) -> None:
    assert parse_scope(value) == scopes
    assert parse_token_response({"access_token": "1000.x", "scope": value}, now=NOW).scope == scopes


def test_optional_fields_of_the_answer() -> None:
    tokens = parse_token_response({"access_token": "1000.x", "refresh_token": "", "api_domain": 5, "token_type": None}, now=NOW)
    assert tokens.refresh_token is None and tokens.api_domain is None and tokens.token_type is None


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
    pytest.param(json_response({}, status=429, headers={"Retry-After": "1"}), id="429"),
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


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_redirects_are_never_followed(status: int, operation: str) -> None:
    redirect = FakeResponse(status, b"", {"Location": "https://evil.example/oauth/v2/token"})
    client, session, sleep = make(redirect, success_for(operation))
    with pytest.raises(ZohoOAuthError) as info:
        run(operation, client)
    assert len(session.calls) == 1 and sleep.delays == []
    assert session.calls[0].kwargs["allow_redirects"] is False
    assert f"redirect (HTTP {status})" in info.value.msg
    assert "evil.example" not in info.value.msg
    if operation == "exchange":
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
