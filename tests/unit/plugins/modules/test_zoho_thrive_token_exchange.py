# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""zoho_thrive_token_exchange: run main() with a scripted Zoho."""

from __future__ import annotations

import json
import os
import stat
import typing as t
from urllib.parse import quote

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils import _options
from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import RetryPolicy
from ansible_collections.zohothrive.oauth.plugins.modules import zoho_thrive_token_exchange as module
from ansible_collections.zohothrive.oauth.tests.unit.fakes import (
    connection_refused,
    json_response,
    read_timeout,
    sentinel,
    tls_failure,
    token_payload,
)

SECRET = sentinel("secret")
CODE = sentinel("code")
AT = sentinel("access")
RT = sentinel("refresh")
STATE = "st4te-" + sentinel("state")[-20:]
CLIENT_ID = "1000.CLIENTIDXYZ"
US_TOKEN = "https://accounts.zoho.com/oauth/v2/token"
EU_TOKEN = "https://accounts.zoho.eu/oauth/v2/token"


def args(**extra: t.Any) -> dict[str, t.Any]:
    base: dict[str, t.Any] = {"client_id": CLIENT_ID, "client_secret": SECRET}
    if "callback_url" not in extra:
        base["code"] = CODE
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def ok() -> t.Any:
    return json_response(token_payload(AT, refresh_token=RT))


def callback(**params: str) -> str:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return f"https://app.example.com/oauth/zoho/callback?{query}"


def assert_no_secret_in(text: str) -> None:
    for secret in (SECRET, CODE):
        assert secret not in text


# -- plain exchange -----------------------------------------------------------------------------


def test_exchange(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(ok())
    result = run_module(module, args(code=CODE + "\n", redirect_uri="https://app.example.com/cb", code_verifier=" VERIFIER-1\n"))
    assert result["changed"] is True and result["cached"] is False
    assert result["access_token"] == AT and result["refresh_token"] == RT
    assert result["api_domain"] == "https://www.zohoapis.com" and result["token_type"] == "Bearer"
    assert result["expires_in"] == 3600 and isinstance(result["expires_at"], int)
    assert result["scope"] == ["Thrive.Referral.CREATE"]
    assert result["code_fingerprint"] == fingerprint(CODE)
    assert result["accounts_url"] == "https://accounts.zoho.com"
    assert len(zoho.calls) == 1
    call = zoho.calls[0]
    assert call.url == US_TOKEN
    assert call.data == {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "code": CODE,  # stripped
        "redirect_uri": "https://app.example.com/cb",
        "code_verifier": "VERIFIER-1",
    }
    assert call.kwargs["verify"] is True and call.kwargs["stream"] is True  # sent via the adapter: redirects are never followed
    zoho.session.assert_secrets_only_in_body(SECRET, CODE)
    assert_no_secret_in(result.stdout)
    # issue 7 item 4: surrounding whitespace is removed with a warning that names the option and the cause
    assert sorted(result.warning_messages) == sorted(
        [
            "`code` had a trailing newline, removed; values made with `echo` without `-n` end in one (for example "
            "`echo VALUE | ansible-vault encrypt_string`); use printf '%s' VALUE or echo -n.",
            "`code_verifier` had leading and trailing whitespace, removed; check the variable or vault file it came from "
            "for stray spaces or line breaks.",
        ]
    )


def test_exchange_in_another_data_center(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(ok())
    result = run_module(module, args(data_center="eu"))
    assert zoho.calls[0].url == EU_TOKEN
    assert result["accounts_url"] == "https://accounts.zoho.eu"


@pytest.fixture(name="ca_file")
def fixture_ca_file(tmp_path: t.Any) -> str:
    trustme = pytest.importorskip("trustme")
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


def test_connection_options_reach_the_client(run_module: t.Any, zoho: t.Any, ca_file: str) -> None:
    zoho.add(ok())
    run_module(module, args(ca_path=ca_file, timeout=45))
    assert zoho.calls[0].kwargs["verify"] == ca_file
    connect, total = zoho.calls[0].kwargs["timeout"]
    assert connect == 10.0 and 44.0 < total <= 45.0  # what is left of the 45 s deadline when the request goes out
    built = zoho.clients[0]
    assert built["timeout"] == 45
    assert built["client_id"] == CLIENT_ID and built["client_secret"] == SECRET
    assert built["retry"] == RetryPolicy()


def test_validate_certs_false_warns(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(ok())
    result = run_module(module, args(validate_certs=False))
    assert zoho.calls[0].kwargs["verify"] is False
    assert any("`validate_certs` is false" in w for w in result.warning_messages)


def test_no_refresh_token_warns(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(json_response(token_payload(AT, refresh_token=None)))
    result = run_module(module, args())
    assert result["changed"] is True
    assert result["refresh_token"] is None
    assert any("no refresh token" in w for w in result.warning_messages)


def test_environment_fallbacks(run_module: t.Any, zoho: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOHO_THRIVE_CLIENT_ID", "1000.FROMENV")
    monkeypatch.setenv("ZOHO_THRIVE_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("ZOHO_THRIVE_DATA_CENTER", "eu")
    zoho.add(ok())
    result = run_module(module, {"code": CODE})
    assert result["changed"] is True
    assert zoho.calls[0].url == EU_TOKEN
    assert zoho.calls[0].data["client_id"] == "1000.FROMENV" and zoho.calls[0].data["client_secret"] == SECRET
    assert SECRET not in result.stdout


# -- refusals before anything is sent ----------------------------------------------------------------


def test_missing_client_secret_names_the_environment_variable(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, {"client_id": CLIENT_ID, "code": CODE})
    assert result.failed
    assert "`client_secret` (or the environment variable ZOHO_THRIVE_CLIENT_SECRET)" in result["msg"]
    assert "Nothing was sent" in result["msg"]
    assert zoho.calls == []


def test_missing_client_id_names_the_environment_variable(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, {"client_secret": SECRET, "code": CODE})
    assert result.failed and "ZOHO_THRIVE_CLIENT_ID" in result["msg"]
    assert zoho.calls == []


def test_missing_requests_is_reported(run_module: t.Any, zoho: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_options, "HAS_REQUESTS", False)
    result = run_module(module, args())
    assert result.failed
    assert "Failed to import the required Python library (requests)" in result["msg"]
    assert zoho.calls == []


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"code": "1000.Qx7 inner space"}, "`code` contains whitespace (a space, tab or line break) inside the value"),
        ({"code": "1000.Qx7\u00e9"}, "`code` contains control or non-ASCII characters"),
        ({"code": "   "}, "is empty"),
        ({"code": "Z" * 10_000}, "characters long"),
        ({"code_verifier": "bad verifier"}, "`code_verifier` contains whitespace"),
        ({"redirect_uri": "not a uri"}, "`redirect_uri` must be an absolute"),
        ({"timeout": 0}, "`timeout` must be a number of seconds at least 1 and at most 3600, not 0"),
        ({"timeout": -5}, "`timeout` must be a number of seconds at least 1 and at most 3600, not -5"),
        # issue 6 item 4: crashed with OverflowError in socket.settimeout after Zoho had answered
        ({"timeout": 99999999999}, "`timeout` must be a number of seconds at least 1 and at most 3600, not 99999999999"),
        ({"timeout": 3601}, "at most 3600"),
        # issue 6 item 4: failed only inside urllib3, after the in-flight record (InvalidURL / raw UnicodeError)
        ({"accounts_url": "https://accounts..zoho.eu"}, "empty label"),
        ({"accounts_url": "https://" + "a" * 64 + ".zoho.eu"}, "label of 64 characters"),
        ({"accounts_url": "https://.accounts.zoho.eu"}, "empty label"),
        ({"accounts_url": "https://-accounts.zoho.eu"}, "may contain only letters"),
        ({"accounts_url": "https://acc!ounts.zoho.eu"}, "may contain only letters"),
        ({"accounts_url": "https://" + ".".join(["a" * 60] * 5)}, "at most 253"),
        ({"accounts_url": "https://accounts.zoho.eu:0"}, "port 0"),
        # issue 6 item 4: a ca_path typo failed with "Could not find a suitable TLS CA certificate bundle" after the record
        ({"ca_path": "/etc/zoho/no-such-ca.pem"}, "`ca_path` '/etc/zoho/no-such-ca.pem' does not exist"),
        ({"ca_path": "/dev/null"}, "is not a readable file"),
        ({"accounts_url": "http://accounts.zoho.eu"}, "must start with https://"),
        ({"expected_state": STATE}, "`expected_state` is only used with `callback_url`"),
    ],
)
def test_bad_input_is_refused_before_sending(run_module: t.Any, zoho: t.Any, extra: dict[str, t.Any], words: str) -> None:
    result = run_module(module, args(**extra))
    assert result.failed
    assert words in result["msg"]
    assert zoho.calls == []
    assert zoho.session.prepared == 0
    assert_no_secret_in(result.stdout)


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"ca_path": "/etc/zoho/no-such-ca.pem"}, id="ca-path-typo"),
        pytest.param({"accounts_url": "https://accounts..zoho.eu"}, id="empty-label"),
        pytest.param({"accounts_url": "https://" + "a" * 64 + ".zoho.eu"}, id="64-char-label"),
        pytest.param({"timeout": 99999999999}, id="huge-timeout"),
    ],
)
def test_bad_option_leaves_the_code_usable(run_module: t.Any, zoho: t.Any, tmp_path: t.Any, extra: dict[str, t.Any]) -> None:
    """Issue 6 item 4: a bad option is refused before the cache records the code, so a corrected run still works."""
    cache = str(tmp_path / "tokens.json")
    failed = run_module(module, args(token_cache=cache, **extra))
    assert failed.failed and "Nothing was sent" in failed["msg"]
    assert "may already be spent" not in failed["msg"]
    assert zoho.calls == []
    zoho.add(ok())
    fixed = run_module(module, args(token_cache=cache))
    assert fixed["changed"] is True and fixed["access_token"] == AT
    assert len(zoho.calls) == 1


def test_ca_path_without_certificates_is_refused(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("this is not a certificate\n")
    result = run_module(module, args(ca_path=str(not_pem)))
    assert result.failed
    assert "could not be loaded as CA certificates" in result["msg"] and "Nothing was sent" in result["msg"]
    assert zoho.calls == []


def test_ca_path_is_not_checked_without_certificate_validation(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(ok())
    result = run_module(module, args(ca_path="/etc/zoho/no-such-ca.pem", validate_certs=False))
    assert result["changed"] is True
    assert zoho.calls[0].kwargs["verify"] is False


def test_code_and_callback_are_mutually_exclusive(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(code=CODE, callback_url=callback(code=CODE)))
    assert result.failed and "mutually exclusive" in result["msg"]
    assert zoho.calls == []


def test_code_or_callback_is_required(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, {"client_id": CLIENT_ID, "client_secret": SECRET})
    assert result.failed and "one of the following is required: code, callback_url" in result["msg"]


# -- callback URLs ------------------------------------------------------------------------------------------


def test_callback_with_state_requires_expected_state(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(callback_url=callback(state=STATE, code=CODE, location="eu")))
    assert result.failed
    assert "`expected_state` is required" in result["msg"]
    assert zoho.calls == []
    assert CODE not in result.stdout and STATE not in result.stdout


def test_callback_state_mismatch(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(callback_url=callback(state=STATE, code=CODE), expected_state=STATE + "x"))
    assert result.failed and "does not match `expected_state`" in result["msg"]
    assert zoho.calls == []


def test_expected_state_without_state_in_the_callback(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(callback_url=callback(code=CODE), expected_state=STATE))
    assert result.failed and "carries no state" in result["msg"]
    assert zoho.calls == []


def test_callback_goes_to_its_accounts_server(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(ok())
    url = callback(state=STATE, code=CODE, location="eu", **{"accounts-server": "https://accounts.zoho.eu"})
    result = run_module(module, args(callback_url=url, expected_state=STATE, data_center="us"))
    assert result["changed"] is True and result["access_token"] == AT
    assert result["accounts_url"] == "https://accounts.zoho.eu"
    assert [call.url for call in zoho.calls] == [EU_TOKEN]
    assert zoho.calls[0].data["code"] == CODE
    assert result["code_fingerprint"] == fingerprint(CODE)
    assert CODE not in result.stdout and STATE not in result.stdout


def test_callback_location_without_server(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(ok())
    result = run_module(module, args(callback_url=callback(code=CODE, location="jp")))
    assert zoho.calls[0].url == "https://accounts.zoho.jp/oauth/v2/token"
    assert result["accounts_url"] == "https://accounts.zoho.jp"


def test_callback_without_location_uses_data_center(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(ok())
    run_module(module, args(callback_url=callback(code=CODE), data_center="in"))
    assert zoho.calls[0].url == "https://accounts.zoho.in/oauth/v2/token"


def test_explicit_accounts_url_wins_over_the_callback_server(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(ok())
    url = callback(code=CODE, location="eu", **{"accounts-server": "https://accounts.zoho.eu"})
    result = run_module(module, args(callback_url=url, accounts_url="https://zoho-proxy.example.com/"))
    assert [call.url for call in zoho.calls] == ["https://zoho-proxy.example.com/oauth/v2/token"]
    assert result["accounts_url"] == "https://zoho-proxy.example.com"


@pytest.mark.parametrize(
    "params",
    [
        {"code": CODE, "accounts-server": "https://accounts.zoho.com.evil.tld"},
        {"code": CODE, "accounts-server": "https://evil.tld/?accounts.zoho.com"},
        {"code": CODE, "location": "us", "accounts-server": "https://accounts.zoho.eu"},
        {"code": CODE, "location": "mars"},
        {"error": "access_denied"},
    ],
)
def test_bad_callbacks_send_nothing(run_module: t.Any, zoho: t.Any, params: dict[str, str]) -> None:
    result = run_module(module, args(callback_url=callback(**params)))
    assert result.failed
    assert zoho.calls == []
    assert CODE not in result.stdout


def test_denied_callback_names_the_error(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(callback_url=callback(error="access_denied")))
    assert result.failed and result["error_code"] == "access_denied"
    assert "denied" in result["msg"]


# -- check mode -----------------------------------------------------------------------------------------------


def test_check_mode_sends_nothing(run_module: t.Any, zoho: t.Any) -> None:
    result = run_module(module, args(), check_mode=True)
    assert result["changed"] is True and result["cached"] is False
    assert "access_token" not in result
    assert result["code_fingerprint"] == fingerprint(CODE)
    assert zoho.calls == []


def test_check_mode_with_an_empty_cache_creates_nothing(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "private" / "tokens.json"
    result = run_module(module, args(token_cache=str(cache)), check_mode=True)
    assert result["changed"] is True and "access_token" not in result
    assert zoho.calls == []
    assert not (tmp_path / "private").exists()


def test_check_mode_with_a_cache_hit(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = str(tmp_path / "tokens.json")
    zoho.add(ok())
    first = run_module(module, args(token_cache=cache))
    result = run_module(module, args(token_cache=cache), check_mode=True)
    assert result["changed"] is False and result["cached"] is True
    assert result["access_token"] == first["access_token"] == AT
    assert len(zoho.calls) == 1


# -- token cache ------------------------------------------------------------------------------------------------


def test_second_run_with_the_same_code_sends_nothing(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "private" / "tokens.json"
    zoho.add(ok())
    first = run_module(module, args(token_cache=str(cache)))
    assert first["changed"] is True and first["cached"] is False
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cache.parent).st_mode) == 0o700
    content = cache.read_text()
    assert CODE not in content and SECRET not in content

    second = run_module(module, args(token_cache=str(cache), code=CODE + "\n"))
    assert len(zoho.calls) == 1  # nothing sent the second time
    assert second["changed"] is False and second["cached"] is True
    for key in ("access_token", "refresh_token", "expires_at", "api_domain", "token_type", "scope", "code_fingerprint"):
        assert second[key] == first[key], key
    assert cache.read_text() == content  # a cache hit does not rewrite the file


def test_code_that_may_be_spent_is_never_resent(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(read_timeout(), ok())
    first = run_module(module, args(token_cache=str(cache)))
    assert first.failed
    assert "may already be spent" in first["msg"]
    assert len(zoho.calls) == 1
    entry = json.loads(cache.read_text())["codes"][fingerprint(CODE)]
    assert entry["state"] == "in_flight" and entry["accounts_url"] == "https://accounts.zoho.com"

    second = run_module(module, args(token_cache=str(cache)))
    assert second.failed
    assert "records that this grant code was sent to https://accounts.zoho.com" in second["msg"]
    assert "Generate a new code" in second["msg"]
    assert len(zoho.calls) == 1
    assert_no_secret_in(first.stdout + second.stdout)

    checked = run_module(module, args(token_cache=str(cache)), check_mode=True)
    assert checked.failed and "records that this grant code was sent" in checked["msg"]
    assert len(zoho.calls) == 1


@pytest.mark.parametrize(
    ("step", "error_code"),
    [
        (json_response({"error": "invalid_code"}), "invalid_code"),
        (json_response({"error": "invalid_client"}), "invalid_client"),
        (tls_failure(), None),
    ],
)
def test_definite_refusal_forgets_the_code(run_module: t.Any, zoho: t.Any, tmp_path: t.Any, step: t.Any, error_code: str | None) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(step)
    result = run_module(module, args(token_cache=str(cache)))
    assert result.failed
    assert result.get("error_code") == error_code
    assert json.loads(cache.read_text())["codes"] == {}
    assert_no_secret_in(result.stdout)
    zoho.add(ok())
    again = run_module(module, args(token_cache=str(cache)))  # nothing was issued, so trying again is allowed
    assert again["changed"] is True and len(zoho.calls) == 2


def test_connection_refused_everywhere_forgets_the_code(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(*(connection_refused() for _unused in range(4)))
    result = run_module(module, args(token_cache=str(cache)))
    assert result.failed and "Could not connect" in result["msg"]
    assert len(zoho.calls) == 4 and len(zoho.sleep.delays) == 3
    assert len([w for w in result.warning_messages if w.startswith("Retrying the grant code exchange request")]) == 3
    assert json.loads(cache.read_text())["codes"] == {}


def test_tokens_are_stored_for_the_refresh_module(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = tmp_path / "tokens.json"
    zoho.add(ok())
    run_module(module, args(token_cache=str(cache)))
    data = json.loads(cache.read_text())
    assert data["access_tokens"][fingerprint(RT)]["access_token"] == AT


# -- an absent value never erases a known one (issue 7, item 3) -------------------------------------------

PROXY = "https://zoho-proxy.example.test"  # an explicit accounts_url outside Zoho's table (a proxy, a test server)
MISSING = object()


def answer_with(api_domain: t.Any = MISSING, scope: t.Any = MISSING, token_type: t.Any = MISSING) -> t.Any:
    """Zoho's answer with each optional field left out (MISSING), null (None), empty or blank."""
    payload = token_payload(AT, refresh_token=RT)
    for name, value in (("api_domain", api_domain), ("scope", scope), ("token_type", token_type)):
        if value is MISSING:
            payload.pop(name, None)
        else:
            payload[name] = value
    return json_response(payload)


@pytest.mark.parametrize("absent", [MISSING, None, "", "   "], ids=["missing", "null", "empty", "blank"])
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "https://www.zohoapis.com"),
        ({"data_center": "eu"}, "https://www.zohoapis.eu"),
        ({"accounts_url": "https://accounts.zoho.in"}, "https://www.zohoapis.in"),  # the server's own data center
        ({"accounts_url": PROXY, "data_center": "au"}, "https://www.zohoapis.com.au"),  # outside the table: data_center's
        ({"accounts_url": PROXY}, "https://www.zohoapis.com"),
    ],
)
def test_an_answer_without_api_domain_gives_the_data_centers_own(
    run_module: t.Any, zoho: t.Any, extra: dict[str, t.Any], expected: str, absent: t.Any
) -> None:
    zoho.add(answer_with(api_domain=absent, scope=absent, token_type=absent))
    result = run_module(module, args(**extra))
    assert not result.failed, result.get("msg")
    assert result["api_domain"] == expected
    assert "scope" not in result and "token_type" not in result  # nothing is invented for them
    assert result["access_token"] == AT and result["refresh_token"] == RT


def test_a_callbacks_server_gives_the_api_domain_when_the_answer_has_none(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(answer_with())
    url = callback(code=CODE, location="eu", **{"accounts-server": "https://accounts.zoho.eu"})
    result = run_module(module, args(callback_url=url))
    assert zoho.calls[0].url == EU_TOKEN
    assert result["api_domain"] == "https://www.zohoapis.eu"


def test_the_cache_returns_what_the_answer_gave_and_never_an_empty_api_domain(run_module: t.Any, zoho: t.Any, tmp_path: t.Any) -> None:
    cache = str(tmp_path / "tokens.json")
    zoho.add(answer_with(api_domain="", scope="Thrive.Referral.CREATE"))
    first = run_module(module, args(accounts_url=PROXY, data_center="eu", token_cache=cache))
    second = run_module(module, args(accounts_url=PROXY, data_center="eu", token_cache=cache))
    assert len(zoho.calls) == 1 and second["cached"] is True
    for result in (first, second):
        assert result["api_domain"] == "https://www.zohoapis.eu"
        assert result["scope"] == ["Thrive.Referral.CREATE"]
    assert '"api_domain": ""' not in open(cache, encoding="utf-8").read()


def test_a_proxy_answer_naming_its_own_api_domain_is_kept(run_module: t.Any, zoho: t.Any) -> None:
    zoho.add(answer_with(api_domain="https://api.zoho-proxy.example.test", scope="A.b.READ,A.c.READ", token_type="Bearer"))
    result = run_module(module, args(accounts_url=PROXY))
    assert result["api_domain"] == "https://api.zoho-proxy.example.test"
    assert result["scope"] == ["A.b.READ", "A.c.READ"] and result["token_type"] == "Bearer"
