# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Paired 1:1 with connection_argument_spec() in plugins/module_utils/_module.py.
    DOCUMENTATION = r"""
options:
  client_id:
    description:
      - Client ID of the Zoho API console client (a self client or a server-based client).
      - The same client ID is valid in every data center.
      - If not set, the environment variable E(ZOHO_THRIVE_CLIENT_ID) is used.
      - Surrounding whitespace and invisible characters (such as the newline that C(echo) adds, or a byte-order mark
        from a file) are removed with a warning; any other character outside printable ASCII inside the value is
        refused before anything is sent.
    type: str
  client_secret:
    description:
      - Client secret of the Zoho API console client. Keep it in Ansible Vault.
      - With Multi-DC and a separate secret per data center, give the secret of the data center used.
      - If not set, the environment variable E(ZOHO_THRIVE_CLIENT_SECRET) is used.
      - It is sent only in the body of HTTPS POST requests, never in a URL.
      - Surrounding whitespace and invisible characters (such as the newline that C(echo) adds, or a byte-order mark
        from a file) are removed with a warning; any other character outside printable ASCII inside the value is
        refused before anything is sent.
    type: str
  data_center:
    description:
      - Zoho data center whose accounts server is used, for example V(eu) for C(https://accounts.zoho.eu).
      - The tokens of a user live in the user's data center only; a wrong data center shows up as C(invalid_client)
        or C(invalid_code).
      - Ignored for the accounts server when O(accounts_url) is set. For an O(accounts_url) outside Zoho's list (a proxy or
        a test server), its API domain is still returned when Zoho's answer names none and none is known.
      - If not set, the environment variable E(ZOHO_THRIVE_DATA_CENTER) is used.
    type: str
    default: us
    choices: [us, eu, in, au, jp, ca, sa, uk, cn]
  accounts_url:
    description:
      - Origin of the accounts server, for example C(https://accounts.zoho.eu).
      - Overrides O(data_center). It is trusted because the operator wrote it, so it may name a proxy or a test server.
      - It must be a bare origin, C(https://) with a host and an optional port (one trailing C(/) is accepted), because
        the collection adds C(/oauth/v2/token) and C(/oauth/v2/token/revoke) itself. A path (such as the full token URL
        C(https://accounts.zoho.eu/oauth/v2/token)), a query, a fragment or user information is refused, with the
        origin to use instead in the message.
      - It is checked before anything is recorded or sent, host name included; every dot-separated label must have 1 to
        63 characters (letters, digits, C(-), C(_)), so a typo such as C(https://accounts..zoho.eu) fails with
        "Nothing was sent" and a grant code stays usable. A host in brackets must be an IPv6 address, such as
        C(https://[::1]:8443), followed by nothing or a port.
      - It is used, returned and recorded (token cache, deployment ledger) in one canonical form, so every spelling of
        the same server is the same server. Scheme and host are in lower case, without the default port C(:443),
        without a trailing C(/), and without a trailing dot for an accounts server of Zoho's list. For example C(HTTPS://ACCOUNTS.ZOHO.EU:443/) and
        C(https://accounts.zoho.eu./) both become C(https://accounts.zoho.eu), whose data center is then known (EU). The
        trailing dot of any other host is kept, because C(proxy.) and C(proxy) may resolve to different hosts.
      - If not set, the environment variable E(ZOHO_THRIVE_ACCOUNTS_URL) is used.
    type: str
  validate_certs:
    description:
      - Whether to verify the accounts server's TLS certificate. Turning this off exposes the client secret and tokens
        to interception and triggers a warning; prefer O(ca_path).
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates used to verify the accounts server, for example a corporate proxy CA. A directory
        prepared with C(openssl rehash) is accepted too.
      - With O(validate_certs=true) it must exist, be readable and hold at least one certificate; this is checked before
        anything is recorded or sent, so a typo never marks a grant code as possibly spent.
    type: path
  timeout:
    description:
      - Total time in seconds allowed for one request to Zoho, from connecting to the last byte of the answer
        (connect, send, and receive the status, headers and body). Connecting alone is limited to the smaller of this
        and 10 seconds. A server that answers slowly, even one byte at a time, is cut off when the time is up.
      - Must be between 1 and 3600; other values are refused before anything is sent.
      - When the time runs out after the request was sent, the outcome is unknown. A token refresh or revocation is
        then retried, a grant code exchange is not (the code may be spent).
      - Retries of a refresh or revocation, and of requests that never left this host, start only within 60 seconds of
        the first attempt, so one task waits at most about 60 seconds plus one O(timeout). A C(Retry-After) longer than
        30 seconds fails at once.
    type: int
    default: 30
  option_labels:
    description:
      - Names to use for options in failure messages and warnings, as a dictionary of option name to the name the
        operator knows, for example C(client_secret) to C(thrive_tokens_client_secret).
      - Messages mark every option name they mention; only those marked names are replaced. The
        P(zohothrive.oauth.thrive_tokens#role) role sets this to its own variable names.
      - Each label must be a plain variable name; anything else is refused before anything is sent.
    type: dict
    default: {}
requirements:
  - requests (Python library, on the host that runs the module, normally the controller)
notes:
  - Zoho answers most errors with HTTP 200. A request counts as successful only when the answer is a JSON object with a
    non-empty C(access_token) and no C(error) key (C(status=success) for revocation).
  - Redirects are never followed and C(~/.netrc) is never consulted. Proxies from the usual C(HTTPS_PROXY) environment
    variables are used.
  - Failure messages name Zoho's error code (for example C(invalid_code)) and never contain a secret.
  - Answers larger than 1 MiB are refused (a token answer is under 2 KiB), as soon as C(Content-Length) announces such
    a size or the bytes read exceed it. The request was already sent then, so for a grant code exchange the code may be
    spent, and the module says so, unless the status alone proves that the request was not processed (see the notes on
    answer classes, where a module documents them).
  - The answer is requested without compression (C(Accept-Encoding) C(identity)); a compressed answer is refused.
"""

    # Attribute shared by every module of the action group.
    ACTION_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/zohothrive.oauth.zoho_thrive) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - zohothrive.oauth.zoho_thrive
"""
