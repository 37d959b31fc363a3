# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Data-center table and exact-match validation of accounts servers (RFC 9700 mix-up defence)."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils._dc import (
    DATA_CENTER_CODES,
    DATA_CENTERS,
    DEFAULT_DATA_CENTER,
    check_origin,
    data_center_for_accounts_server,
    data_center_of_origin,
    get_data_center,
    host_problem,
    normalize_accounts_url,
    resolve_accounts_url,
    vet_api_domain,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInputError

EXPECTED = {
    "us": ("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "eu": ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "in": ("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "au": ("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "jp": ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "ca": ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "sa": ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    "uk": ("https://accounts.zoho.uk", "https://www.zohoapis.uk"),
    "cn": ("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
}


# -- the table ----------------------------------------------------------------------------


def test_table_has_the_nine_known_data_centers() -> None:
    assert len(DATA_CENTERS) == 9
    assert set(DATA_CENTER_CODES) == set(EXPECTED)
    for code, (accounts_url, api_domain) in EXPECTED.items():
        dc = DATA_CENTERS[code]
        assert (dc.code, dc.accounts_url, dc.api_domain) == (code, accounts_url, api_domain)


def test_default_data_center_is_us() -> None:
    assert DEFAULT_DATA_CENTER == "us"
    assert resolve_accounts_url(data_center=None, accounts_url=None) == "https://accounts.zoho.com"


def test_accounts_urls_are_unique_https_without_trailing_slash() -> None:
    urls = [dc.accounts_url for dc in DATA_CENTERS.values()]
    assert len(set(urls)) == len(urls)
    for url in urls:
        assert url.startswith("https://") and not url.endswith("/")


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_get_data_center(code: str) -> None:
    assert get_data_center(code).accounts_url == EXPECTED[code][0]


@pytest.mark.parametrize("code", ["xx", "EU", " eu", "", "ae"])
def test_get_data_center_refuses_unknown_codes(code: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        get_data_center(code)
    message = str(info.value)
    assert "Unknown Zoho data center" in message
    assert "`data_center`" in message and "`accounts_url`" in message  # option names marked for the role's labels
    for known in EXPECTED:
        assert known in message  # the message lists the valid codes


# -- exact-match acceptance ------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_every_table_entry_matches_itself(code: str) -> None:
    url = EXPECTED[code][0]
    assert data_center_for_accounts_server(url).code == code
    assert data_center_for_accounts_server(url + "/").code == code


@pytest.mark.parametrize(
    ("server", "code"),
    [
        ("https://accounts.zoho.com.", "us"),  # trailing dot of a fully qualified name
        ("https://accounts.zoho.eu./", "eu"),
        ("https://ACCOUNTS.ZOHO.EU", "eu"),  # host names are case-insensitive
        ("HTTPS://Accounts.Zoho.Com.Au", "au"),
        ("https://accounts.zohocloud.ca", "ca"),
    ],
)
def test_trailing_dot_and_case_are_normalised(server: str, code: str) -> None:
    assert data_center_for_accounts_server(server).code == code


# -- refusals --------------------------------------------------------------------------------

REFUSED = [
    "http://accounts.zoho.com",  # not https
    "ftp://accounts.zoho.com",
    "accounts.zoho.com",  # no scheme
    "//accounts.zoho.com",
    "https://user:pw@accounts.zoho.com",  # userinfo
    "https://accounts.zoho.com@evil.tld",
    "https://evil.tld@accounts.zoho.com",
    "https://@accounts.zoho.com",
    "https://accounts.zoho.com:443",  # port, even the default one
    "https://accounts.zoho.com:8443",
    "https://accounts.zoho.com:",
    "https://accounts.zoho.com:99999",
    "https://accounts.zoho.com/oauth",  # path
    "https://accounts.zoho.com//",
    "https://accounts.zoho.com?x=1",  # query
    "https://accounts.zoho.com/?",
    "https://accounts.zoho.com#frag",  # fragment
    "https://accounts.zoho.com/#",
    "https://accounts.zoho.com.evil.tld",  # suffix tricks
    "https://evil.tld/?accounts.zoho.com",
    "https://evil.tld/accounts.zoho.com",
    "https://evilaccounts.zoho.com",
    "https://accounts.zoho.co",
    "https://zoho.com",
    "https://accounts.zoho.ae",  # not in the table
    "https://accounts.zoh\u043e.com",  # Cyrillic o: a unicode look-alike
    "https://\u0430ccounts.zoho.com",  # Cyrillic a
    "https://xn--ccounts-2fg.zoho.com",  # punycode of a look-alike
    "https://accounts.zoho.com\\@evil.tld",
    "https://accounts.zoho.com\t",
    " https://accounts.zoho.com",
    "https://accounts.zoho.com\n",
    "https://[::1]",
    "",
]


@pytest.mark.parametrize("server", REFUSED)
def test_refuses_anything_but_an_exact_table_entry(server: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        data_center_for_accounts_server(server)
    assert "is not a known Zoho accounts server" in str(info.value)
    assert "no request was sent" in str(info.value)


@pytest.mark.parametrize("value", [None, 42, b"https://accounts.zoho.com", ["https://accounts.zoho.com"]])
def test_refuses_non_strings(value: object) -> None:
    with pytest.raises(ZohoInputError) as info:
        data_center_for_accounts_server(value)  # type: ignore[arg-type]
    assert f"of type {type(value).__name__}" in str(info.value)


def test_refusal_names_the_source() -> None:
    with pytest.raises(ZohoInputError) as info:
        data_center_for_accounts_server("https://evil.tld", source="accounts-server of the callback URL")
    assert str(info.value).startswith("The accounts-server of the callback URL 'https://evil.tld'")


@pytest.mark.parametrize(
    ("server", "secret"),
    [
        ("https://zuser:ZPASS123@accounts.zoho.com", "ZPASS123"),
        ("https://zuser:ZPASS123@accounts.zoho.com", "zuser"),
        ("https://ZTOKEN999@evil.tld/", "ZTOKEN999"),
        ("https://evil.tld/?token=ZQUERY777", "ZQUERY777"),
        ("https://evil.tld/?accounts.zoho.com&code=ZQUERY777", "ZQUERY777"),
        ("https://evil.tld/#access_token=ZFRAG555", "ZFRAG555"),
        ("https://a:ZPW1@evil.tld:8443/p?q=ZQ2#ZF3", "ZPW1"),
        ("https://a:ZPW1@evil.tld:8443/p?q=ZQ2#ZF3", "ZQ2"),
        ("https://a:ZPW1@evil.tld:8443/p?q=ZQ2#ZF3", "ZF3"),
    ],
)
def test_refusal_message_hides_userinfo_query_and_fragment(server: str, secret: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        data_center_for_accounts_server(server)
    assert secret not in str(info.value)
    assert "hidden" in str(info.value)


def test_refusal_message_is_bounded() -> None:
    with pytest.raises(ZohoInputError) as info:
        data_center_for_accounts_server("https://" + "a" * 5000 + ".tld")
    assert "a" * 200 not in str(info.value)
    assert len(str(info.value)) < 1000


# -- operator-supplied accounts_url ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://accounts.zoho.eu", "https://accounts.zoho.eu"),
        ("https://accounts.zoho.eu/", "https://accounts.zoho.eu"),
        ("https://zoho-proxy.example.internal:8443", "https://zoho-proxy.example.internal:8443"),  # trusted: any host and port
        ("https://zoho-proxy.example.internal:8443/", "https://zoho-proxy.example.internal:8443"),
        ("https://[::1]:9443/", "https://[::1]:9443"),
    ],
)
def test_normalize_accounts_url_accepts_plain_https(url: str, expected: str) -> None:
    assert normalize_accounts_url(url) == expected


# -- issue 7 item 2: accounts_url is a bare origin; a path is refused before anything is recorded or sent -------


@pytest.mark.parametrize(
    ("url", "fix"),
    [
        # The slip of the issue: the full token URL. It used to be sent to /oauth/v2/token/oauth/v2/token (404).
        ("https://accounts.zoho.eu/oauth/v2/token", "https://accounts.zoho.eu"),
        ("https://accounts.zoho.eu/oauth/v2/token/", "https://accounts.zoho.eu"),
        ("https://accounts.zoho.eu/oauth/v2/token/revoke", "https://accounts.zoho.eu"),
        ("https://accounts.zoho.eu/oauth/v2/auth", "https://accounts.zoho.eu"),
        ("https://accounts.zoho.eu/oauth/v2", "https://accounts.zoho.eu"),
        ("https://127.0.0.1:9443/zoho/", "https://127.0.0.1:9443"),
        ("https://proxy.example.com:8443/accounts", "https://proxy.example.com:8443"),
        ("https://accounts.zoho.eu//", "https://accounts.zoho.eu"),
        ("https://[::1]:9443/oauth/v2/token", "https://[::1]:9443"),
    ],
)
def test_normalize_accounts_url_refuses_a_path_and_names_the_bare_origin(url: str, fix: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        normalize_accounts_url(url)
    message = str(info.value)
    assert message.startswith("Invalid `accounts_url`")
    assert "bare origin" in message
    assert f"Use {fix!r}" in message
    assert "Nothing was sent" in message


def test_the_full_token_url_slip_names_the_token_path() -> None:
    with pytest.raises(ZohoInputError) as info:
        normalize_accounts_url("https://accounts.zoho.eu/oauth/v2/token")
    assert "Use 'https://accounts.zoho.eu', without /oauth/v2/token" in str(info.value)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://zuser:ZPASS42@accounts.zoho.eu/oauth/v2/token", "ZPASS42"),
        ("https://accounts.zoho.eu/oauth/v2/token?client_secret=ZSEC42", "ZSEC42"),
        ("https://accounts.zoho.eu/x#ZFRAG42", "ZFRAG42"),
    ],
)
def test_the_suggested_origin_never_carries_a_secret(url: str, secret: str) -> None:
    with pytest.raises(ZohoInputError) as info:
        normalize_accounts_url(url)
    assert secret not in str(info.value)
    assert "Use 'https://accounts.zoho.eu'" in str(info.value)


def test_every_caller_gets_the_bare_origin_rule() -> None:
    with pytest.raises(ZohoInputError) as info:
        resolve_accounts_url(data_center="eu", accounts_url="https://accounts.zoho.eu/oauth/v2/token")
    assert "without /oauth/v2/token" in str(info.value)


@pytest.mark.parametrize(
    ("url", "problem", "secret"),
    [
        ("http://accounts.zoho.eu", "must start with https://", None),
        ("accounts.zoho.eu", "must start with https://", None),
        ("https://", "has no host name", None),
        ("https://zuser:ZPASS42@accounts.zoho.eu", "must not contain user information", "ZPASS42"),
        ("https://accounts.zoho.eu/?client_secret=ZSEC42", "must not contain a query string or fragment", "ZSEC42"),
        ("https://accounts.zoho.eu#ZFRAG42", "must not contain a query string or fragment", "ZFRAG42"),
        ("https://accounts.zoho.eu?", "must not contain a query string or fragment", None),
        ("https://accounts.zoho.eu:99999", "is not a valid URL", None),
        ("https://accounts.zoho.eu /x", "is not a valid URL", None),
        ("https://accounts.zoh\u043e.eu", "is not a valid URL", None),
        # issue 6 item 4: these passed here and failed only inside urllib3, after the code was recorded as in flight
        ("https://accounts..zoho.eu", "empty label", None),
        ("https://" + "a" * 64 + ".zoho.eu", "label of 64 characters", None),
        ("https://.zoho.eu", "empty label", None),
        ("https://accounts.zoho.eu..", "empty label", None),
        ("https://accounts-.zoho.eu", "may contain only letters", None),
        ("https://acc%20ounts.zoho.eu", "may contain only letters", None),
        ("https://" + ".".join(["a" * 63] * 5), "at most 253", None),
        ("https://accounts.zoho.eu:0", "port 0", None),
        ("https://zuser:ZPASS42@accounts..zoho.eu", "must not contain user information", "ZPASS42"),
    ],
)
def test_normalize_accounts_url_refusals(url: str, problem: str, secret: str | None) -> None:
    with pytest.raises(ZohoInputError) as info:
        normalize_accounts_url(url)
    assert problem in str(info.value)
    assert str(info.value).startswith("Invalid `accounts_url`")
    assert "Nothing was sent" in str(info.value)
    if secret:
        assert secret not in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["https://proxy.corp.example.", "https://" + "a" * 63 + ".example.com", "https://[::1]:8443", "https://10.0.0.1", "https://my_proxy.corp.example"],
)
def test_normalize_accounts_url_accepts_edge_hosts(url: str) -> None:
    assert normalize_accounts_url(url) == url


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        (None, "no host name"),
        ("", "no host name"),
        ("a..b", "empty label"),
        ("a" * 64, "64 characters"),
        ("xn--\u00e9", "must be ASCII"),
        ("-a.b", "may contain only letters"),
        ("127.0.0.1", None),
        ("::1", None),
        ("accounts.zoho.eu.", None),
        ("a" * 63, None),
    ],
)
def test_host_problem(host: str | None, problem: str | None) -> None:
    found = host_problem(host)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_data_center_urls_have_no_host_problem() -> None:
    for dc in DATA_CENTERS.values():
        assert normalize_accounts_url(dc.accounts_url) == dc.accounts_url


def test_explicit_accounts_url_wins_over_data_center() -> None:
    assert resolve_accounts_url(data_center="eu", accounts_url="https://proxy.example.com/") == "https://proxy.example.com"
    assert resolve_accounts_url(data_center="eu", accounts_url=None) == "https://accounts.zoho.eu"
    assert resolve_accounts_url(data_center="eu", accounts_url="") == "https://accounts.zoho.eu"


def test_resolve_refuses_an_unknown_data_center() -> None:
    with pytest.raises(ZohoInputError):
        resolve_accounts_url(data_center="mars", accounts_url=None)


# -- api_domain from answers (issue 6, item 3) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("answered", "expected"),
    [
        ("https://api.test.example:8443", "https://api.test.example:8443"),
        ("https://api.test.example/", "https://api.test.example/"),
        ("http://api.test.example", None),
        ("https://user@api.test.example", None),
        ("https://api.test.example/path", None),
        ("https://api.test.example?x=1", None),
        ("https://api.tést.example", None),
        (None, None),
    ],
)
def test_an_explicit_accounts_url_accepts_a_bare_https_api_domain(answered: str | None, expected: str | None) -> None:
    vetted, warning = vet_api_domain(answered, "https://accounts.test.example:8443")
    assert vetted == expected
    assert (warning is not None) == (answered is not None and expected is None)


def test_a_known_api_domain_is_kept_when_the_answer_has_none() -> None:
    eu, eu_api = "https://accounts.zoho.eu", "https://www.zohoapis.eu"
    assert vet_api_domain(None, eu, known=eu_api)[0] == eu_api
    assert vet_api_domain(None, eu, known="https://evil.example")[0] == eu_api
    assert vet_api_domain(None, "https://accounts.test.example", known="https://api.test.example")[0] == "https://api.test.example"


# -- one canonical origin for every spelling of a server (finding: a new ledger identity per spelling) -----------------

EU_SPELLINGS = [
    "https://accounts.zoho.eu",
    "https://accounts.zoho.eu/",
    "HTTPS://ACCOUNTS.ZOHO.EU",
    "https://Accounts.Zoho.Eu/",
    "https://accounts.zoho.eu:443",
    "https://accounts.zoho.eu:443/",
    "https://accounts.zoho.eu:0443",
    "https://accounts.zoho.eu:",
    "https://accounts.zoho.eu.",
    "https://accounts.zoho.eu./",
    "HTTPS://ACCOUNTS.ZOHO.EU.:443/",
]


@pytest.mark.parametrize("url", EU_SPELLINGS)
def test_every_spelling_of_an_accounts_server_gives_one_origin(url: str) -> None:
    assert normalize_accounts_url(url) == "https://accounts.zoho.eu"
    assert resolve_accounts_url(data_center="us", accounts_url=url) == "https://accounts.zoho.eu"
    assert check_origin(url, https_only=False) == "https://accounts.zoho.eu"


@pytest.mark.parametrize("url", EU_SPELLINGS)
def test_the_data_center_of_every_spelling_is_found(url: str) -> None:
    dc = data_center_of_origin(url)
    assert dc is not None and dc.code == "eu"
    assert data_center_for_accounts_server(normalize_accounts_url(url)).code == "eu"
    assert vet_api_domain(None, url) == ("https://www.zohoapis.eu", None)
    assert vet_api_domain("https://www.zohoapis.eu", url) == ("https://www.zohoapis.eu", None)
    assert vet_api_domain("https://www.zohoapis.com", url)[1] is not None  # another data center's API domain: refused


def test_every_spelling_gives_one_client_and_one_ledger_identity() -> None:
    from ansible_collections.zohothrive.oauth.plugins.module_utils._client import ZohoOAuthClient  # pylint: disable=import-outside-toplevel
    from ansible_collections.zohothrive.oauth.plugins.module_utils._ledger import ledger_identity  # pylint: disable=import-outside-toplevel

    clients = [ZohoOAuthClient(url, client_id="1000.ID") for url in EU_SPELLINGS]
    assert {client.accounts_url for client in clients} == {"https://accounts.zoho.eu"}
    assert {client.token_url for client in clients} == {"https://accounts.zoho.eu/oauth/v2/token"}
    assert {ledger_identity(client.client_id, client.accounts_url) for client in clients} == {"1000.ID@https://accounts.zoho.eu"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://PROXY.Example.COM:8443/", "https://proxy.example.com:8443"),
        ("https://proxy.example.com:08443", "https://proxy.example.com:8443"),
        ("https://proxy.example.com:443", "https://proxy.example.com"),
        ("https://proxy.example.com.", "https://proxy.example.com."),  # an absolute name outside the table keeps its dot
        ("https://[0:0:0:0:0:0:0:1]:443/", "https://[::1]"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://[FE80::A]:9443", "https://[fe80::a]:9443"),
        ("https://127.0.0.1:443", "https://127.0.0.1"),
    ],
)
def test_canonical_origin(url: str, expected: str) -> None:
    assert normalize_accounts_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [("http://127.0.0.1:80", "http://127.0.0.1"), ("http://127.0.0.1:443", "http://127.0.0.1:443"), ("HTTP://LOCALHOST:8080/", "http://localhost:8080")],
)
def test_canonical_origin_of_a_local_test_server(url: str, expected: str) -> None:
    assert check_origin(url, https_only=False) == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://[v1.x]", "must be an IPv6 address"),
        ("https://[v1.x]:443", "must be an IPv6 address"),
        ("https://[zz::1]", "Invalid `accounts_url`"),  # refused by urlsplit in newer Pythons, by the IPv6 check in others
        ("https://[]", "Invalid `accounts_url`"),
        ("https://[::1]x", "only a port (:PORT) may follow"),
        ("https://[::1]x:443", "only a port (:PORT) may follow"),
        ("https://[fe80::1%25eth0]", "zone"),
        ("https://[::1", "not a valid URL"),
        ("https://a:b:c", "not a valid URL"),
        ("https://accounts.zoho.eu:+443", "Invalid `accounts_url`"),
        ("https://[1.2.3.4]", "Invalid `accounts_url`"),
    ],
)
def test_a_host_in_brackets_must_be_an_ipv6_address(url: str, problem: str) -> None:
    for https_only in (True, False):
        with pytest.raises(ZohoInputError) as info:
            check_origin(url, https_only=https_only)
        assert problem in str(info.value) and "Nothing was sent" in str(info.value)


@pytest.mark.parametrize("url", ["https://[v1.x]", "https://[::1]x"])
def test_the_client_refuses_a_bracketed_host_before_anything_is_sent(url: str) -> None:
    from ansible_collections.zohothrive.oauth.plugins.module_utils._client import ZohoOAuthClient  # pylint: disable=import-outside-toplevel

    with pytest.raises(ZohoInputError):
        ZohoOAuthClient(url)


@pytest.mark.parametrize("url", ["https://accounts.zoho.eu:443", "https://accounts.zoho.eu:8443", "http://accounts.zoho.eu", "https://[::1]", None, 5])
def test_untrusted_servers_still_need_the_exact_table_spelling(url: t.Any) -> None:
    # data_center_for_accounts_server (a callback's accounts-server) still refuses any port; only trusted configuration is normalised.
    with pytest.raises(ZohoInputError):
        data_center_for_accounts_server(url)
    if url == "https://accounts.zoho.eu:443":
        assert data_center_of_origin(url) is not None and data_center_of_origin(url).code == "eu"  # type: ignore[union-attr]
    else:
        assert data_center_of_origin(url) is None


def test_the_api_domain_warning_never_quotes_a_secret() -> None:
    hex_secret = "9c1f0e2a7b3d4c5e6f708192a3b4c5d6e7f8091a2b"
    plain = "Zx9Qw7Er5Ty3Ui1OpAs8Df6Gh4Jk2Lz0XcVbNmQwEr"
    for answered, secrets in ((f"https://{hex_secret}.evil.example", ()), (f"https://{plain}.evil.example", (plain,)), ("https://1000.abcdef.x", ())):
        vetted, warning = vet_api_domain(answered, "https://accounts.zoho.eu", secrets=secrets)
        assert vetted == "https://www.zohoapis.eu" and warning is not None
        assert hex_secret not in warning and plain not in warning and "1000.abcdef" not in warning and "<hidden>" in warning
