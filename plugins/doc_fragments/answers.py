# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # What each answer of the accounts server proves about the request, in particular about a single-use grant code.
    # The table the code uses is ANSWER_TABLE in plugins/module_utils/_client.py; a unit test checks that every status
    # it counts as "not processed" is listed here.
    DOCUMENTATION = r"""
options: {}
notes:
  - "Every answer of the accounts server is classified by what it proves about the request, and so about a single-use
    grant code: B(not processed) (the code is still usable), B(refused) by Zoho, or B(unknown) (the code may be spent).
    A grant code is never sent again unless the earlier attempt is proven not processed."
  - "B(Not processed), whatever the body is (HTML, empty, text or JSON), because the server refused the request before
    acting on it: a connection that failed before the request was sent (DNS, refused, connect timeout, TLS verification,
    a proxy that refused the tunnel); HTTP 404 and 410 (no token endpoint at that address: O(accounts_url) must be a
    bare origin, see below); 405 and 501 (the address does not accept the POST request); 307 and 308 (a redirect that
    asks to repeat the request elsewhere; redirects are never followed); 407 (a proxy asks for credentials); 511 (a
    captive portal); 411, 413, 414, 415, 417 and 431 (the request's size or form was refused before it was read);
    421, 426 and 505 (wrong server or protocol); 429 and 425 (throttled before processing). The module fails with a
    message that says so, quotes the status, the content type and a short, secret-free beginning of the body, and names
    the likely fix; a grant code stays usable, and the token cache keeps no record of it. 429 and 425 are retried with
    backoff within the retry limits, honouring C(Retry-After), a grant code exchange included; the other answers of
    this class are not retried."
  - "B(Refused) by Zoho: only Zoho's own error object at a status Zoho refuses with: HTTP 200 or 400 with a JSON object
    whose C(error) is a string, such as C({\"error\": \"invalid_code\"}) (Zoho answers most errors with HTTP 200), with
    at most C(error_description), C(error_uri) and a textual C(status) besides; and HTTP 400 to a revocation. The
    message names Zoho's error code. Such an answer is never retried; a refused grant code is not recorded as spent,
    Zoho has said why it was refused. A JSON error of any other shape or at any other status (a gateway's
    C({\"status\": 408, \"error\": \"Request Timeout\", \"path\": ...}), C({\"error\": {\"code\": 409}}), or
    C({\"error\": \"invalid_code\"}) with 408 or 502) proves nothing about Zoho: it stays in the class of its status."
  - "Text of the answer that a message or C(error_code) quotes (Zoho's error code and description, the body's beginning,
    headers) never repeats a value sent in the request (client secret, grant code, refresh token or token to revoke),
    raw, URL-encoded, JSON- or HTML-escaped, base64-encoded or in part, nor anything shaped like a token."
  - "B(Unknown), so a grant code may be spent: no answer, or an answer cut short, after the request was sent (a timeout,
    a reset, a TLS failure after the handshake); any other 5xx (500, 502, 503, 504...), because a proxy may send 502,
    503 or 504 after it forwarded the request; any other 4xx (400 without Zoho's error object; 401, 403, 408, 409...
    whatever the body), because Zoho or a proxy may send it after the request was forwarded (a proxy's 408 included);
    any other redirect (300 to 306; a 303 in particular may follow a processed request); a 2xx answer that is HTML,
    text, empty, not valid JSON, or JSON without tokens and without Zoho's error object at HTTP 200; a 2xx or other 4xx
    answer over 1 MiB. A grant code exchange then fails with a message that the code may be spent, and the token cache
    records it, so that the code is never sent again; generate a new code. A token refresh or revocation is retried on
    5xx, on 2xx answers that are not JSON and on failures after sending."
  - "Tokens in the answer always count: a JSON object with a non-empty C(access_token) and no C(error) key is a success
    whatever its 2xx or 4xx status."
  - "O(accounts_url) must be a bare origin: C(https://), a host and an optional port, with at most one trailing C(/).
    Anything with a path, query, fragment or user information, such as the full token URL
    C(https://accounts.zoho.eu/oauth/v2/token), is refused before anything is recorded or sent, and the message names
    the origin to use instead; the collection adds C(/oauth/v2/token) itself. It is used in its canonical form
    (see O(accounts_url))."
"""
