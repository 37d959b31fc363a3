# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Zoho data centers and accounts-server validation.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: the controller.

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

from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInputError, redact


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
_DEFAULT_PORTS = {"https": 443, "http": 80}


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
        or ":" in parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or server.endswith("?")
        or server.endswith("#")
    ):
        raise ZohoInputError(refusal)
    authority, problem = _canonical_authority(parts.netloc, parts.scheme)
    dc = None if problem else _HOST_TO_DC.get(authority)
    if dc is None:
        raise ZohoInputError(refusal)
    return dc


def data_center_of_origin(url: t.Any) -> DataCenter | None:
    """The data center whose accounts server a trusted origin names, in any spelling :func:`check_origin` accepts, or None.

    For configuration the operator wrote (``accounts_url``): ``HTTPS://ACCOUNTS.ZOHO.EU:443/`` is
    the EU accounts server. An untrusted value goes through :func:`data_center_for_accounts_server`.
    """
    try:
        parts = urlsplit(check_origin(url, https_only=False))
    except ZohoInputError:
        return None
    if parts.scheme != "https" or ":" in parts.netloc:
        return None
    return _HOST_TO_DC.get(parts.netloc)


def normalize_accounts_url(url: str) -> str:
    """Validate an operator-supplied ``accounts_url`` and return its canonical origin (see :func:`check_origin`).

    It is trusted configuration (it may name a private proxy or a test server), but it still
    carries the client secret, so it must be a bare ``https`` origin.
    Raises :class:`ZohoInputError`.
    """
    return check_origin(url, https_only=True)


def check_origin(url: t.Any, *, https_only: bool = True) -> str:
    """Return ``url`` as a canonical bare origin, or raise :class:`ZohoInputError`.

    A bare origin is a scheme (``https``, or also ``http`` when ``https_only`` is false), a host and an
    optional port, with at most one trailing ``/``: no user information, path, query or fragment. The
    token and revocation paths are added by the client, so a path here would be sent to a URL that does
    not exist (``https://HOST/oauth/v2/token`` became ``/oauth/v2/token/oauth/v2/token``, which answers
    404: issue 7). Checked without network access; the message names `accounts_url`, the problem and,
    when only the extra parts are wrong, the origin to use instead (never with user information, query
    or fragment, which may hold secrets).

    This is the one place that writes an origin canonically, so that every spelling of the same server
    gives the same client, token cache entry, ledger identity and returned ``accounts_url``: scheme and
    host in lower case, no default port (443 for https, 80 for http), no leading zeros in the port, an
    IPv6 address in its compressed form, no trailing slash, and no trailing dot for a host of the data
    center table (see :func:`_canonical_host`). A bracketed host must be an IPv6 address, followed by
    nothing or by ``:PORT``.
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
        authority, problem = _canonical_authority(parts.netloc.rpartition("@")[2], parts.scheme)
        origin = f"{parts.scheme}://{authority}"
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
            return origin
    if problem:
        raise ZohoInputError(f"Invalid `accounts_url` {_describe(url)}: {problem}.{fix} Nothing was sent.")
    raise ZohoInputError(f"Invalid `accounts_url` {_describe(url)}. Nothing was sent.")  # pragma: no cover - every branch above returns or sets a problem


def _canonical_authority(authority: str, scheme: str) -> tuple[str, str | None]:
    """``(host[:port] in canonical form, None)`` for the authority of a URL without user information, or ``("", problem)``.

    A host in brackets must be an IPv6 address (without a zone) and may be followed only by
    ``:PORT``; ``[v1.x]`` or ``[::1]x`` are refused here rather than failing later inside urllib3.
    A port must be 1 to 65535 in ASCII digits; the scheme's default port is dropped.
    """
    if authority.startswith("["):
        inside, closed, rest = authority[1:].partition("]")
        if not closed:
            return "", "it is not a valid URL"
        if "%" in inside:
            return "", "an IPv6 address with a zone (%) is not supported"
        try:
            host = f"[{ipaddress.IPv6Address(inside).compressed}]"
        except ValueError:
            return "", "the host in brackets must be an IPv6 address, such as [::1]"
        if rest and not rest.startswith(":"):
            return "", "only a port (:PORT) may follow an IPv6 address in brackets"
        port_text = rest[1:]
    else:
        name, _colon, port_text = authority.partition(":")
        if ":" in port_text:
            return "", "it is not a valid URL (an IPv6 address must be written in brackets, such as [::1])"
        problem = host_problem(name)
        if problem:
            return "", problem
        host = _canonical_host(name)
    if port_text:
        if not re.fullmatch(r"[0-9]{1,5}", port_text) or int(port_text) > 65535:
            return "", "the port must be a number from 1 to 65535"
        if int(port_text) == 0:
            return "", "port 0 is not a valid port"
        if int(port_text) != _DEFAULT_PORTS.get(scheme):
            host += f":{int(port_text)}"
    return host, None


def _canonical_host(name: str) -> str:
    """A host name or IPv4 address (not in brackets) in canonical form.

    Lower case; an IPv4 address in dotted decimal. The trailing dot of a fully qualified name is
    dropped only for a host of the data center table: Zoho's public names mean the same with and
    without it. For any other host it is kept, because ``proxy.`` is an absolute name while
    ``proxy`` may resolve through the DNS search domains to a different host.
    """
    host = name.lower()
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    if host.endswith(".") and host[:-1] in _HOST_TO_DC:
        return host[:-1]
    return host


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


def vet_api_domain(
    api_domain: str | None, accounts_url: str, *, known: str | None = None, secrets: t.Iterable[str] = ()
) -> tuple[str | None, str | None]:
    """Return ``(api_domain to use, warning or None)`` for an ``api_domain`` taken from Zoho's answer.

    - For an accounts server of the table, only that data center's API domain is accepted
      (compared without case and trailing slash); anything else is replaced, with a warning.
    - For an explicit ``accounts_url`` outside the table (a proxy, a test server), the value is
      accepted if it is a bare ``https`` origin that :func:`normalize_accounts_url` accepts: it
      came over the TLS connection the operator configured.
    - A missing or refused value falls back to ``known`` (the stored value) if that is
      acceptable, then to the data center's API domain, then to None.

    The warning quotes the answer's value through the one redaction (:func:`_errors.redact`), with
    ``secrets`` (the values sent in the request) when the caller passes them.
    """
    data_center = data_center_of_origin(accounts_url)

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
    shown = _describe(api_domain, secrets=secrets)
    return fallback, f"The answer from {accounts_url} names an API domain ({shown}) that does not belong to {owner}; it is not used{instead}"


def resolve_accounts_url(*, data_center: str | None, accounts_url: str | None) -> str:
    """Return the accounts server base URL: an explicit ``accounts_url`` wins over ``data_center``."""
    if accounts_url:
        return normalize_accounts_url(accounts_url)
    return get_data_center(data_center or DEFAULT_DATA_CENTER).accounts_url


def _describe(value: t.Any, *, secrets: t.Iterable[str] = ()) -> str:
    """Quote a URL for an error message without userinfo, query or fragment (they may hold secrets).

    What is left goes through the one redaction (:func:`_errors.redact`): token-shaped strings and
    ``secrets`` are hidden, so a value from a server never carries them into a message.
    """
    if not isinstance(value, str):
        return f"of type {type(value).__name__}"
    text = re.sub(r"[?#].*", "?<query hidden>", value, flags=re.DOTALL)
    if "@" in text:
        scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*:/*", text)
        text = (scheme.group(0) if scheme else "") + "<userinfo hidden>@" + text.rpartition("@")[2]
    text = redact(text[:4096], secrets)
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
    "data_center_of_origin",
    "get_data_center",
    "host_problem",
    "normalize_accounts_url",
    "resolve_accounts_url",
    "vet_api_domain",
)
