#!/usr/bin/python
# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: zoho_thrive_refresh
short_description: Get a valid Zoho Thrive access token from a refresh token, minting only when needed
version_added: 0.1.0
description:
  - Returns an access token that stays valid for at least O(min_ttl) seconds.
  - While the given O(access_token) (or the one in O(token_cache)) has more than O(min_ttl) seconds left, nothing is sent
    and the same token is returned with C(changed=false). Otherwise a new access token is minted with the refresh token,
    with C(changed=true).
  - Zoho lets each refresh token mint only 10 access tokens per 10 minutes, so reusing tokens matters. With
    O(token_cache), repeated and concurrent runs mint once and share the result.
  - Zoho's refresh answer carries no refresh token, so keep using the one you have.
  - A field that Zoho's answer leaves out never erases a known value. The API domain, scope and token type of the new
    access token are then those stored in O(token_cache) for the refresh token; an API domain not stored there is the given
    O(api_domain), with or without O(access_token). An API domain known nowhere is the data center's (see
    RV(api_domain)); it is never empty.
  - 'B(The result holds an access token.) Set C(no_log: true) on tasks that register it.'
author:
  - Zoho Thrive OAuth maintainers (@zohothrive)
extends_documentation_fragment:
  - zohothrive.oauth.connection
  - zohothrive.oauth.connection.action_group
  - zohothrive.oauth.attributes
  - zohothrive.oauth.answers
  - zohothrive.oauth.vault_store
attributes:
  check_mode:
    support: full
    details:
      - Check mode sends nothing. It returns the still-valid token with C(changed=false) when there is one, else
        C(changed=true) without a token.
      - With a token store it predicts a refusal by Zoho's throttle (see the notes), and records nothing.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - With a token store, a second run returns the stored access token while it has more than O(min_ttl) seconds
        left. Without one (no O(token_cache) or O(vault), and no still-valid O(access_token)), every run mints a new
        token and reports a change.
options:
  refresh_token:
    description:
      - The refresh token.
      - Surrounding whitespace and invisible characters (such as the newline that C(echo) adds, or a byte-order mark
        from a file) are removed with a warning; any other character outside printable ASCII inside the value is
        refused before anything is sent.
    type: str
    required: true
  access_token:
    description:
      - The access token currently in use. Requires O(expires_at).
      - Surrounding whitespace and invisible characters (such as the newline that C(echo) adds, or a byte-order mark
        from a file) are removed with a warning; any other character outside printable ASCII inside the value is
        refused before anything is sent.
    type: str
  expires_at:
    description:
      - When O(access_token) expires, in seconds since the epoch (as returned in RV(expires_at)).
    type: int
  api_domain:
    description:
      - API domain belonging to O(refresh_token) (and to O(access_token)), returned unchanged when O(access_token) is
        reused, and kept for a new token when Zoho's answer names none, whether or not O(access_token) is given. A value
        stored in O(token_cache) for the refresh token takes precedence.
      - Used for a new token only if it belongs to the accounts server's data center (any bare C(https://) origin for an
        O(accounts_url) outside Zoho's list); otherwise it is not used, with a warning.
      - Defaults to the API domain of the accounts server's data center, or of O(data_center) when O(accounts_url) names
        a server outside Zoho's list (a proxy or a test server).
    type: str
  min_ttl:
    description:
      - Minimum number of seconds the returned access token must stay valid. A token with less time left is replaced.
    type: int
    default: 300
  token_cache:
    description:
      - Path of the JSON token cache shared with M(zohothrive.oauth.zoho_thrive_token_exchange). It keeps the newest access
        token per refresh token (keyed by a SHA-256 fingerprint), mode C(0600), replaced atomically under a lock.
    type: path
notes:
  - O(client_id) and O(client_secret) are required, directly, through C(module_defaults) or through the environment.
  - Zoho lets each refresh token mint at most 10 access tokens per 10 minutes (the exchange that created it counts as one)
    and then refuses every request for it for the rest of the window. With a token store (O(token_cache) or O(vault)) that
    window is state, shared by every controller that uses the store. Before each mint a slot is taken in it (a
    check-and-set write on O(vault), so two controllers never both take the last one); the 11th is refused before anything
    is sent, and the message says when the window frees (epoch and seconds, also in the failure's C(window_frees_at) and
    C(window_frees_in)) and how reusing the access token avoids it (O(min_ttl)). A retried request takes a slot per
    attempt, since the attempt before may have minted. When Zoho answers with its throttle anyway, nothing more is sent for
    that refresh token for 10 minutes.
  - The count is a lower bound of Zoho's. The applications on the hosts mint access tokens from the same refresh token
    without the store seeing it, so Zoho may refuse earlier than the store; reuse tokens (O(min_ttl)) on the hosts too.
seealso:
  - module: zohothrive.oauth.zoho_thrive_token_exchange
  - module: zohothrive.oauth.zoho_thrive_revoke
"""

EXAMPLES = r"""
- name: Get an access token valid for at least 10 more minutes
  zohothrive.oauth.zoho_thrive_refresh:
    client_id: "{{ zoho_client_id }}"
    client_secret: "{{ vault_zoho_client_secret }}"
    data_center: eu
    refresh_token: "{{ vault_zoho_refresh_token }}"
    min_ttl: 600
    token_cache: "{{ lookup('ansible.builtin.env', 'HOME') }}/.zohothrive/tokens.json"
  delegate_to: localhost
  run_once: true
  no_log: true
  register: zoho_access

- name: Reuse the token from an earlier step while it is still valid
  zohothrive.oauth.zoho_thrive_refresh:
    refresh_token: "{{ vault_zoho_refresh_token }}"
    access_token: "{{ zoho_access.access_token }}"
    expires_at: "{{ zoho_access.expires_at }}"
  no_log: true
  register: zoho_access
"""

RETURN = r"""
access_token:
  description: An access token valid for at least O(min_ttl) seconds.
  returned: success, not in check mode when a new token would be minted
  type: str
  sample: "1000.aaaa.bbbb"
expires_in:
  description: Seconds until RV(access_token) expires.
  returned: success, not in check mode when a new token would be minted
  type: int
  sample: 3600
expires_at:
  description: When RV(access_token) expires, in integer seconds since the epoch (UTC).
  returned: success, not in check mode when a new token would be minted
  type: int
  sample: 1795000000
api_domain:
  description:
    - Base URL of Zoho's APIs for the user's data center. Never empty.
    - From Zoho's answer; when the answer has none, the value stored for the refresh token (O(token_cache)) or given
      (O(api_domain)); when none is known, the API domain of the accounts server's data center (of O(data_center) for an
      O(accounts_url) outside Zoho's list).
  returned: success, not in check mode when a new token would be minted
  type: str
  sample: https://www.zohoapis.com
token_type:
  description: Token type, from Zoho's answer or, when it has none, the stored value.
  returned: when known
  type: str
  sample: Bearer
scope:
  description: Granted scopes, as a list, from Zoho's answer or, when it has none, the stored value.
  returned: when known (Zoho's answer or O(token_cache) names them), not in check mode when a new token would be minted
  type: list
  elements: str
  sample: [Thrive.Referral.CREATE]
refresh_token:
  description: A new refresh token, only if Zoho ever starts rotating refresh tokens. Store it in place of the old one.
  returned: when Zoho's answer carries a refresh token
  type: str
  sample: "1000.xxxx.yyyy"
source:
  description: Where RV(access_token) came from.
  returned: always
  type: str
  choices: [given, cache, zoho, none]
  sample: cache
mints_in_window:
  description:
    - Access tokens minted from O(refresh_token) in the last 10 minutes as the token store recorded them (the exchange that
      created it counts as one), this run's included; in check mode, before the run. Zoho refuses an 11th, and so does
      this module, before sending it. A lower bound (see the notes).
  returned: with a token store (O(token_cache) or O(vault)), unless the given O(access_token) was returned
  type: int
  sample: 3
window_frees_at:
  description:
    - When the oldest mint counted in RV(mints_in_window) leaves the 10-minute window (from then on, a full window allows a
      mint again), in integer seconds since the epoch (UTC). Null when no mint is counted.
  returned: with RV(mints_in_window)
  type: int
  sample: 1795000600
store_error:
  description:
    - Set when Zoho issued tokens but O(token_cache) could not record them (disk full, read-only, permissions). The
      tokens are returned anyway, with a warning, so that they can be delivered; repair the cache before the next run.
  returned: when the cache could not be written after Zoho answered
  type: str
  sample: "Token cache: Cannot write /root/.ansible/zohothrive/tokens.json: No space left on device."
"""

import time
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import clean_secret
from ansible_collections.zohothrive.oauth.plugins.module_utils._tokens import TokenSet
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInputError, ZohoOAuthError
from ansible_collections.zohothrive.oauth.plugins.module_utils._dc import vet_api_domain
from ansible_collections.zohothrive.oauth.plugins.module_utils._flows import SOURCE_ZOHO, Outcome, ensure_access_token, min_ttl_warning
from ansible_collections.zohothrive.oauth.plugins.module_utils._module import (
    accounts_url_from_params,
    argument_spec,
    client_from_params,
    default_api_domain,
    exit_revealing,
    failure,
    prepare,
    report_outcome,
    require_options,
    token_fields,
    warn,
    token_store,
    vault_argument_spec,
)


def refresh(module: AnsibleModule) -> Outcome:
    params = module.params
    require_options(module, "client_id", "client_secret")
    refresh_token = clean_secret(params["refresh_token"], "`refresh_token`")
    min_ttl = params["min_ttl"]
    if min_ttl < 0:
        raise ZohoInputError(f"`min_ttl` must be zero or a positive number of seconds, not {min_ttl}.")
    if min_ttl_warning(min_ttl):
        warn(module, min_ttl_warning(min_ttl))
    accounts_url = accounts_url_from_params(module)
    fallback_api_domain = default_api_domain(module, accounts_url)
    known_api_domain = (params["api_domain"] or "").strip() or None
    given = None
    if params["access_token"] is not None:
        expires_at = int(params["expires_at"])
        given = TokenSet(
            access_token=clean_secret(params["access_token"], "`access_token`"),
            expires_at=expires_at,
            expires_in=max(0, expires_at - int(time.time())),
            api_domain=known_api_domain or fallback_api_domain,
            token_type="Bearer",
        )
    outcome = ensure_access_token(
        client_from_params(module, accounts_url=accounts_url),
        refresh_token,
        cache=token_store(module),
        min_ttl=min_ttl,
        check_mode=module.check_mode,
        given=given,
        known_api_domain=known_api_domain,  # kept for a new token when Zoho's answer names none, with or without access_token
        default_api_domain=fallback_api_domain,
    )
    if known_api_domain and outcome.source == SOURCE_ZOHO and vet_api_domain(None, accounts_url, known=known_api_domain)[0] != known_api_domain:
        warn(
            module,
            f"`api_domain` does not belong to the accounts server {accounts_url} (an API domain of another data center, or not a "
            "bare https:// origin), so it is not used for the new access token; its API domain comes from Zoho's answer or the data "
            "center's table. Correct `api_domain` or `data_center`/`accounts_url`.",
        )
    return outcome


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(
            **vault_argument_spec(),
            refresh_token={"type": "str", "required": True, "no_log": True},
            access_token={"type": "str", "no_log": True},
            expires_at={"type": "int"},
            api_domain={"type": "str"},
            min_ttl={"type": "int", "default": 300},
            token_cache={"type": "path"},
        ),
        required_together=[("access_token", "expires_at")],
        supports_check_mode=True,
        mutually_exclusive=[("token_cache", "vault")],
    )
    try:
        prepare(module)
        outcome = refresh(module)
    except ZohoOAuthError as exc:
        module.fail_json(**failure(module, exc))
    tokens = outcome.tokens
    result: dict[str, t.Any] = {"changed": outcome.changed, "source": outcome.source}
    if outcome.limits is not None:
        result.update(outcome.limits.result_fields())
    if tokens is not None:
        result.update(token_fields(tokens))
        if not tokens.refresh_token:
            result.pop("refresh_token", None)
        else:
            warn(module, "Zoho returned a new refresh token: store the returned refresh_token and pass it as `refresh_token` from now on.")
    report_outcome(module, result, outcome)
    # A reused access token may equal a no_log input; return it usable, not masked.
    exit_revealing(module, result, reveal=[tokens.access_token] if tokens is not None else [])


if __name__ == "__main__":
    main()
