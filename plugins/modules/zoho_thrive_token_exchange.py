#!/usr/bin/python
# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: zoho_thrive_token_exchange
short_description: Exchange a Zoho grant code for Zoho Thrive access and refresh tokens
version_added: 0.1.0
description:
  - Exchanges a one-time grant code (from a self client in the Zoho API console, or from the callback of a server-based
    client) for an access token and, with offline access, a refresh token.
  - A grant code lives about a minute (self-client codes 3 to 10 minutes) and works only once. With O(token_cache) the
    tokens are stored before the module returns and a later run with the same code sends nothing and returns the stored
    tokens, so re-running a playbook never burns the code or mints a second refresh token.
  - A code that may have reached Zoho is never sent again, not even on a network error; the error then says that the code
    may be spent.
  - 'B(The result holds tokens.) Set C(no_log: true) on tasks that register it.'
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
      - Check mode sends nothing. It reports C(changed=false) and the stored tokens when O(token_cache) already holds
        tokens for the code, else C(changed=true) without tokens.
      - It predicts a refusal by Zoho's refresh-token cap (see the notes) and its warning, and records nothing.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - With O(token_cache) or O(vault), a second run returns the stored tokens and sends nothing. Without a store,
        the second run sends the code again, and Zoho refuses it (a code works once).
options:
  code:
    description:
      - The grant code.
      - Surrounding whitespace and invisible characters (such as the newline that C(echo) adds, or a byte-order mark
        from a file) are removed with a warning; any other character outside printable ASCII inside the value is
        refused before anything is sent.
      - Mutually exclusive with O(callback_url); one of them is required.
    type: str
  callback_url:
    description:
      - The full URL Zoho redirected the browser to after consent. The code, the data center's accounts server and the
        state are taken from it.
      - Its C(accounts-server) must be exactly one of the known Zoho accounts servers, and agree with its C(location);
        anything else is refused before any request is sent.
      - An explicit O(accounts_url) takes precedence over the callback's server.
      - When the callback carries a C(state), O(expected_state) is required and compared in constant time.
      - Surrounding whitespace and invisible characters (such as the newline that C(echo) adds, or a byte-order mark
        from a file) are removed with a warning; any other character outside printable ASCII inside the value is
        refused before anything is sent.
    type: str
  expected_state:
    description:
      - The state returned by M(zohothrive.oauth.zoho_thrive_auth_url). Only used with O(callback_url).
      - Surrounding whitespace and invisible characters (such as the newline that C(echo) adds, or a byte-order mark
        from a file) are removed with a warning; any other character outside printable ASCII inside the value is
        refused before anything is sent.
    type: str
  redirect_uri:
    description:
      - The redirect URI used to get the code. Omit it for self-client codes.
    type: str
  code_verifier:
    description:
      - PKCE code verifier returned by M(zohothrive.oauth.zoho_thrive_auth_url) with O(zohothrive.oauth.zoho_thrive_auth_url#module:pkce=true).
      - Surrounding whitespace and invisible characters (such as the newline that C(echo) adds, or a byte-order mark
        from a file) are removed with a warning; any other character outside printable ASCII inside the value is
        refused before anything is sent.
    type: str
  token_cache:
    description:
      - Path of a JSON token cache on the host that runs the module (normally the controller). It is created with mode
        C(0600) (its directory C(0700)), replaced atomically and locked while in use, so concurrent runs exchange a code at
        most once.
      - Entries are keyed by the SHA-256 fingerprint of the code; the code itself is never stored.
      - The file holds refresh tokens in clear. Keep it on an encrypted disk or a private directory.
      - The same file can be given to M(zohothrive.oauth.zoho_thrive_refresh).
    type: path
  allow_refresh_token_eviction:
    description:
      - Exchange the code even when the token store counts 20 live refresh tokens for this client, so that Zoho silently
        deletes the oldest one and its access tokens; hosts that still use it then fail with C(invalid_code). The run warns
        and the store stops counting the deleted one.
      - By default that exchange is refused before anything is recorded or sent, so the code stays usable. Revoke the
        refresh tokens that are no longer used instead, with M(zohothrive.oauth.zoho_thrive_revoke) and the same token
        store, which then stops counting them. Tokens revoked in Zoho Accounts (Sessions > Connected Apps) still count in
        the store, which cannot see that; once Zoho shows fewer than 20 for the client, set this option for one run.
      - Only used with a token store (O(token_cache) or O(vault)).
    type: bool
    default: false
notes:
  - O(client_id) and O(client_secret) are required, directly, through C(module_defaults) or through the environment.
  - Zoho keeps at most 20 refresh tokens per user and client; a 21st silently deletes the oldest, even if it is in use. Use
    a token store (O(token_cache) or O(vault)) so that repeated runs do not make new refresh tokens.
  - Zoho's limits are state in the token store, shared by every controller that uses it. The store counts the refresh
    tokens that exchanges through it made and that were not revoked since (M(zohothrive.oauth.zoho_thrive_revoke) and the
    C(zohothrive.oauth.thrive_tokens) role's revocation with the same store stop counting one, and so does Zoho answering
    C(invalid_code) for it). An exchange that brings the count to 18 or more warns; the exchange that would make a 21st is
    refused before anything is sent, unless O(allow_refresh_token_eviction=true). The check and the in-flight record of the
    code are decided on one version of the store (a check-and-set write on O(vault)), so two controllers never both take
    the 20th place; an exchange in flight on another controller counts too.
  - The exchange counts as the first of the 10 access tokens that Zoho lets a refresh token mint per 10 minutes (see
    M(zohothrive.oauth.zoho_thrive_refresh)).
  - The counts are a lower bound of Zoho's. The applications on the hosts mint access tokens without the store seeing it,
    and refresh tokens made elsewhere (the API console, other tools, another token store) count at Zoho too. The store
    counts per client and accounts server, whatever the Zoho user; with several users of one client it refuses early.
seealso:
  - module: zohothrive.oauth.zoho_thrive_auth_url
  - module: zohothrive.oauth.zoho_thrive_refresh
  - module: zohothrive.oauth.zoho_thrive_revoke
  - name: Zoho self client
    description: How to generate a grant code for a self client.
    link: https://www.zoho.com/accounts/protocol/oauth/self-client/authorization-code-flow.html
"""

EXAMPLES = r"""
- name: Exchange a self-client code kept in Ansible Vault
  zohothrive.oauth.zoho_thrive_token_exchange:
    client_id: "{{ vault_zoho_client_id }}"
    client_secret: "{{ vault_zoho_client_secret }}"
    data_center: eu
    code: "{{ vault_zoho_grant_code }}"
    token_cache: "{{ lookup('ansible.builtin.env', 'HOME') }}/.zohothrive/tokens.json"
  delegate_to: localhost
  run_once: true
  no_log: true
  register: zoho_tokens

- name: Exchange the code from a server-based client's callback
  zohothrive.oauth.zoho_thrive_token_exchange:
    client_id: "{{ zoho_client_id }}"
    client_secret: "{{ vault_zoho_client_secret }}"
    callback_url: "{{ pasted_callback_url }}"
    expected_state: "{{ zoho_auth.state }}"
    redirect_uri: https://app.example.com/oauth/zoho/callback
  no_log: true
  register: zoho_tokens
"""

RETURN = r"""
access_token:
  description: 'The access token, valid for RV(expires_in) seconds. Send it as C(Authorization: Zoho-oauthtoken <token>).'
  returned: success, not in check mode unless the tokens came from O(token_cache)
  type: str
  sample: "1000.aaaa.bbbb"
refresh_token:
  description: The refresh token. Zoho returns one only for offline access on first consent or with C(prompt=consent).
  returned: success, not in check mode unless the tokens came from O(token_cache)
  type: str
  sample: "1000.xxxx.yyyy"
api_domain:
  description:
    - Base URL of Zoho's APIs for the user's data center. Never empty.
    - From Zoho's answer; when the answer has none, the API domain of the accounts server's data center (of O(data_center)
      for an O(accounts_url) outside Zoho's list).
  returned: success, not in check mode unless the tokens came from O(token_cache)
  type: str
  sample: https://www.zohoapis.eu
token_type:
  description: Token type.
  returned: when Zoho's answer names it, not in check mode unless the tokens came from O(token_cache)
  type: str
  sample: Bearer
expires_in:
  description: Seconds until the access token expires (from C(expires_in_sec) when Zoho sends it, else C(expires_in)).
  returned: success, not in check mode unless the tokens came from O(token_cache)
  type: int
  sample: 3600
expires_at:
  description: When the access token expires, in integer seconds since the epoch (UTC).
  returned: success, not in check mode unless the tokens came from O(token_cache)
  type: int
  sample: 1795000000
scope:
  description: Granted scopes, as a list, whether Zoho separated them with commas or spaces.
  returned: when Zoho's answer names them, not in check mode unless the tokens came from O(token_cache)
  type: list
  elements: str
  sample: [Thrive.Referral.CREATE]
code_fingerprint:
  description: SHA-256 hex digest of the code. It identifies the code without revealing it.
  returned: always
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
accounts_url:
  description: The accounts server the code was (or would be) exchanged at.
  returned: always
  type: str
  sample: https://accounts.zoho.eu
cached:
  description: Whether the tokens came from O(token_cache) instead of Zoho.
  returned: always
  type: bool
  sample: false
live_refresh_tokens:
  description:
    - Live refresh tokens of this client at this accounts server that the token store counts (made by exchanges through it
      and not revoked), this exchange's included; in check mode, the count before the run. Zoho keeps at most 20 per user
      and client. A lower bound (see the notes).
  returned: with a token store (O(token_cache) or O(vault))
  type: int
  sample: 1
mints_in_window:
  description:
    - Access tokens minted from RV(refresh_token) in the last 10 minutes as the token store recorded them, the exchange
      counting as one. Zoho refuses an 11th, and so does the collection, before sending it. A lower bound (see the notes).
  returned: with a token store, when the tokens hold a refresh token
  type: int
  sample: 1
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

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import (
    check_redirect_uri,
    check_state,
    clean_secret,
    fingerprint,
    parse_callback_url,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._dc import normalize_accounts_url
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInputError, ZohoOAuthError
from ansible_collections.zohothrive.oauth.plugins.module_utils._flows import SOURCE_CACHE, Outcome, exchange_code
from ansible_collections.zohothrive.oauth.plugins.module_utils._module import (
    accounts_url_from_params,
    argument_spec,
    client_from_params,
    default_api_domain,
    failure,
    prepare,
    report_outcome,
    require_options,
    token_fields,
    warn,
    token_store,
    vault_argument_spec,
)


def resolve_code(module: AnsibleModule) -> tuple[str, str]:
    """Return ``(code, accounts_url)`` from either ``code`` or ``callback_url``."""
    params = module.params
    if params["callback_url"] is None:
        if params["expected_state"] is not None:
            raise ZohoInputError("`expected_state` is only used with `callback_url`; remove it, or pass `callback_url` instead of `code`.")
        return clean_secret(params["code"], "`code`"), accounts_url_from_params(module)
    callback = parse_callback_url(params["callback_url"])
    check_state(callback, params["expected_state"])
    if params["accounts_url"]:
        return callback.code, normalize_accounts_url(params["accounts_url"])
    return callback.code, callback.accounts_url or accounts_url_from_params(module)


def exchange(module: AnsibleModule) -> tuple[Outcome, str, str]:
    """Return ``(outcome, code_fingerprint, accounts_url)``."""
    params = module.params
    require_options(module, "client_id", "client_secret")
    code, accounts_url = resolve_code(module)
    redirect_uri = check_redirect_uri(params["redirect_uri"]) if params["redirect_uri"] is not None else None
    verifier = clean_secret(params["code_verifier"], "`code_verifier`") if params["code_verifier"] is not None else None
    client = client_from_params(module, accounts_url=accounts_url)
    outcome = exchange_code(
        client,
        code,
        cache=token_store(module),
        check_mode=module.check_mode,
        redirect_uri=redirect_uri,
        code_verifier=verifier,
        default_api_domain=default_api_domain(module, client.accounts_url),
        allow_refresh_token_eviction=params["allow_refresh_token_eviction"],
    )
    return outcome, fingerprint(code), accounts_url


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(
            **vault_argument_spec(),
            code={"type": "str", "no_log": True},
            callback_url={"type": "str", "no_log": True},
            expected_state={"type": "str", "no_log": True},
            redirect_uri={"type": "str"},
            code_verifier={"type": "str", "no_log": True},
            token_cache={"type": "path"},
            allow_refresh_token_eviction={"type": "bool", "default": False},
        ),
        mutually_exclusive=[("code", "callback_url"), ("token_cache", "vault")],
        required_one_of=[("code", "callback_url")],
        supports_check_mode=True,
    )
    try:
        prepare(module)
        outcome, code_fp, accounts_url = exchange(module)
    except ZohoOAuthError as exc:
        module.fail_json(**failure(module, exc))
    tokens = outcome.tokens
    result: dict[str, t.Any] = {
        "changed": outcome.changed,
        "code_fingerprint": code_fp,
        "accounts_url": accounts_url,
        "cached": outcome.source == SOURCE_CACHE,
    }
    if outcome.limits is not None:
        result.update(outcome.limits.result_fields())
    if tokens is not None:
        result.update(token_fields(tokens))
        if not tokens.refresh_token:
            warn(
                module,
                "Zoho returned no refresh token: the code was granted with access_type=online, or for a user who had already "
                "consented (use prompt=consent to get another refresh token). The access token expires in an hour.",
            )
    report_outcome(module, result, outcome)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
