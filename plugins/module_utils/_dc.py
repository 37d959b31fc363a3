# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Zoho data centers and accounts-server validation.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

The table below is the only place in the collection that knows which accounts servers exist.
A server named by untrusted input (for example the ``accounts-server`` parameter of a callback
URL) is accepted only when it matches an entry exactly (RFC 9700 section 4.4, mix-up defence):
no suffix or pattern matching, ever.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInputError


@dataclass(frozen=True)
class DataCenter:
    code: str
    accounts_url: str
    api_domain: str


# Source: Zoho Accounts multi-DC documentation and the official Python SDK (see
# docs/zoho-oauth-facts in the project notes). UK's location code and API domain are the least
# certain entries; they follow Zoho's naming pattern.
DATA_CENTERS: dict[str, DataCenter] = {
    dc.code: dc
    for dc in (
        DataCenter("us", "https://accounts.zoho.com", "https://www.zohoapis.com"),
        DataCenter("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
        DataCenter("in", "https://accounts.zoho.in", "https://www.zohoapis.in"),
        DataCenter("au", "https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
        DataCenter("jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp"),
        DataCenter("ca", "https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
        DataCenter("sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa"),
        DataCenter("uk", "https://accounts.zoho.uk", "https://www.zohoapis.uk"),
        DataCenter("cn", "https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    )
}

DATA_CENTER_CODES: tuple[str, ...] = tuple(DATA_CENTERS)
DEFAULT_DATA_CENTER = "us"

_HOST_TO_DC: dict[str, DataCenter] = {urlsplit(dc.accounts_url).hostname or "": dc for dc in DATA_CENTERS.values()}


def get_data_center(code: str) -> DataCenter:
    """Return the data center for a location code such as ``eu``."""
    try:
        return DATA_CENTERS[code]
    except KeyError:
        raise ZohoInputError(
            f"Unknown Zoho data center {code!r} in `data_center`. Use one of: {', '.join(DATA_CENTER_CODES)}, or set `accounts_url` explicitly."
        ) from None


def data_center_for_accounts_server(server: str, *, source: str = "accounts server") -> DataCenter:
    """Match an untrusted accounts-server URL exactly against the table.

    Accepted: ``https://<known host>`` with an optional single trailing ``/``. Refused: any
    other scheme, userinfo, port, path, query, fragment, non-ASCII or look-alike host.
    ``source`` names where the value came from in the error message.
    """
    refusal = (
        f"The {source} {_describe(server)} is not a known Zoho accounts server, so no request was sent. "
        f"Expected exactly one of: {', '.join(dc.accounts_url for dc in DATA_CENTERS.values())}. "
        "If you really use another server, set `accounts_url` explicitly."
    )
    if not isinstance(server, str) or not server.isascii() or any(ch.isspace() or ch == "\\" for ch in server):
        raise ZohoInputError(refusal)
    try:
        parts = urlsplit(server)
        port = parts.port
    except ValueError:
        raise ZohoInputError(refusal) from None
    if (
        parts.scheme != "https"
        or parts.username is not None
        or parts.password is not None
        or "@" in parts.netloc
        or port is not None
        or parts.netloc.endswith(":")
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or server.endswith("?")
        or server.endswith("#")
    ):
        raise ZohoInputError(refusal)
    host = (parts.hostname or "").rstrip(".").lower()
    dc = _HOST_TO_DC.get(host)
    if dc is None:
        raise ZohoInputError(refusal)
    return dc


def normalize_accounts_url(url: str) -> str:
    """Validate an operator-supplied ``accounts_url`` and return it without a trailing slash.

    It is trusted configuration (it may name a private proxy or a test server), but it still
    carries the client secret, so it must be a bare ``https`` origin: see :func:`check_origin`.
    Raises :class:`ZohoInputError`.
    """
    return check_origin(url, https_only=True)


def check_origin(url: t.Any, *, https_only: bool = True) -> str:
    """Return ``url`` as a bare origin without a trailing slash, or raise :class:`ZohoInputError`.

    A bare origin is a scheme (``https``, or also ``http`` when ``https_only`` is false), a host and an
    optional port, with at most one trailing ``/``: no user information, path, query or fragment. The
    token and revocation paths are added by the client, so a path here would be sent to a URL that does
    not exist (``https://HOST/oauth/v2/token`` became ``/oauth/v2/token/oauth/v2/token``, which answers
    404: issue 7). Checked without network access; the message names `accounts_url`, the problem and,
    when only the extra parts are wrong, the origin to use instead (never with user information, query
    or fragment, which may hold secrets).
    """
    if not isinstance(url, str):
        raise ZohoInputError(f"Invalid `accounts_url` {_describe(url)}: it must be a string such as https://accounts.zoho.eu. Nothing was sent.")
    problem = None
    fix = ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts = None
        port = None
    if parts is None or not url.isascii() or any(ch.isspace() or ch == "\\" for ch in url):
        problem = "it is not a valid URL"
    elif parts.scheme != "https" and (https_only or parts.scheme != "http"):
        problem = "it must start with https://" + (" (the client secret is sent to it)" if https_only else "")
    elif not parts.hostname:
        problem = "it has no host name"
    elif port == 0:
        problem = "port 0 is not a valid port"
    else:
        problem = host_problem(parts.hostname)
        origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        if problem is None:
            fix = f" Use {origin!r}."
        if parts.username is not None or "@" in parts.netloc:
            problem = "it must not contain user information; it must be a bare origin (scheme, host and optional port)"
        elif parts.query or parts.fragment or url.endswith(("?", "#")):
            problem = "it must not contain a query string or fragment; it must be a bare origin (scheme, host and optional port)"
        elif parts.path not in ("", "/") and problem is None:
            problem = "it must be a bare origin (scheme, host and optional port), without a path"
            if parts.path.rstrip("/").startswith("/oauth/"):
                problem += "; the collection adds /oauth/v2/token itself"
                fix = f" Use {origin!r}, without {_token_path_shown(parts.path)}."
        elif problem is None:
            return url.rstrip("/")
    if problem:
        raise ZohoInputError(f"Invalid `accounts_url` {_describe(url)}: {problem}.{fix} Nothing was sent.")
    return url.rstrip("/")  # pragma: no cover - every branch above either returns or sets a problem


def _token_path_shown(path: str) -> str:
    """The Zoho OAuth path the operator appended, for the fix in a message (a known path, or /oauth/v2/token)."""
    stripped = path.rstrip("/")
    return stripped if stripped in ("/oauth/v2/token", "/oauth/v2/token/revoke", "/oauth/v2/auth", "/oauth/v2") else "/oauth/v2/token"


_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?")


def host_problem(host: str | None) -> str | None:
    """Return why ``host`` (as ``urlsplit().hostname`` gives it) cannot be connected to, or None.

    Checked without any network access, so that a typo is reported before anything is recorded
    or sent: an IP address literal is accepted; a name must be ASCII, at most 253 characters,
    with one optional trailing dot, and every dot-separated label 1 to 63 characters of letters,
    digits, ``-`` and ``_``, not starting or ending with ``-`` (RFC 1035/1123; the IDNA codec that
    urllib3 applies refuses empty and over-long labels with a raw ``UnicodeError``).
    """
    if not host:
        return "it has no host name"
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    if not name.isascii():
        return "the host name must be ASCII (write an internationalised name in its xn-- form)"
    if len(name) > 253:
        return f"the host name is {len(name)} characters long; at most 253 are allowed"
    for label in name.split("."):
        if not label:
            return "the host name has an empty label (two dots in a row, or a leading dot)"
        if len(label) > 63:
            return f"the host name has a label of {len(label)} characters; each dot-separated part may have at most 63"
        if not _LABEL.fullmatch(label):
            return "the host name may contain only letters, digits, '-' and '_' between dots, and no part may start or end with '-'"
    try:
        name.encode("idna")
    except UnicodeError:
        return "the host name cannot be encoded for DNS (IDNA)"
    return None


def vet_api_domain(api_domain: str | None, accounts_url: str, *, known: str | None = None) -> tuple[str | None, str | None]:
    """Return ``(api_domain to use, warning or None)`` for an ``api_domain`` taken from Zoho's answer.

    - For an accounts server of the table, only that data center's API domain is accepted
      (compared without case and trailing slash); anything else is replaced, with a warning.
    - For an explicit ``accounts_url`` outside the table (a proxy, a test server), the value is
      accepted if it is a bare ``https`` origin that :func:`normalize_accounts_url` accepts: it
      came over the TLS connection the operator configured.
    - A missing or refused value falls back to ``known`` (the stored value) if that is
      acceptable, then to the data center's API domain, then to None.
    """
    try:
        data_center: DataCenter | None = data_center_for_accounts_server(accounts_url)
    except ZohoInputError:
        data_center = None

    def acceptable(value: str) -> bool:
        if data_center is not None:
            return value.rstrip("/").lower() == data_center.api_domain
        try:
            return not urlsplit(normalize_accounts_url(value)).path
        except ZohoInputError:
            return False

    if api_domain and acceptable(api_domain):
        return api_domain, None
    fallback = known if known and acceptable(known) else (data_center.api_domain if data_center else None)
    if not api_domain:
        return fallback, None
    owner = f"data center {data_center.code}" if data_center else "that accounts server"
    instead = f" ({fallback} is used instead)." if fallback else "."
    return fallback, f"The answer from {accounts_url} names an API domain ({_describe(api_domain)}) that does not belong to {owner}; it is not used{instead}"


def resolve_accounts_url(*, data_center: str | None, accounts_url: str | None) -> str:
    """Return the accounts server base URL: an explicit ``accounts_url`` wins over ``data_center``."""
    if accounts_url:
        return normalize_accounts_url(accounts_url)
    return get_data_center(data_center or DEFAULT_DATA_CENTER).accounts_url


def _describe(value: t.Any) -> str:
    """Quote a URL for an error message without userinfo, query or fragment (they may hold secrets)."""
    if not isinstance(value, str):
        return f"of type {type(value).__name__}"
    text = re.sub(r"[?#].*", "?<query hidden>", value, flags=re.DOTALL)
    if "@" in text:
        scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*:/*", text)
        text = (scheme.group(0) if scheme else "") + "<userinfo hidden>@" + text.rpartition("@")[2]
    if len(text) > 100:
        text = text[:97] + "..."
    return repr(text)


__all__ = (
    "DATA_CENTERS",
    "DATA_CENTER_CODES",
    "DEFAULT_DATA_CENTER",
    "DataCenter",
    "check_origin",
    "data_center_for_accounts_server",
    "get_data_center",
    "host_problem",
    "normalize_accounts_url",
    "resolve_accounts_url",
    "vet_api_domain",
)
