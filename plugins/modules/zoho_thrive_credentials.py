#!/usr/bin/python
# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: zoho_thrive_credentials
short_description: Ensure Zoho Thrive credentials for a grant code, exchanging at most once and refreshing only when needed
version_added: 0.1.0
description:
  - The controller-side step of the C(zohothrive.oauth.thrive_tokens) role, usable on its own. It returns a refresh token
    issued from O(code) and, unless O(access_token_needed=false), an access token valid for at least O(min_ttl) seconds.
  - It looks in this order, and calls Zoho only when it must. First O(token_cache), which records every code it exchanged
    (keyed by the code's SHA-256 fingerprint). Then O(candidates), refresh tokens already deployed elsewhere, such as
    the config files of the hosts. Candidates are untrusted. A refresh token that claims the same code is adopted into
    the cache only after one refresh at Zoho proves that it belongs to this client (that refresh also supplies the
    access token and API domain), so a controller that lost its cache (a fresh CI runner) never exchanges a code whose
    tokens are already deployed, and one host cannot plant values for the others. Only then, with
    O(allow_exchange=true), the code is exchanged, once.
  - An API domain is returned only if it belongs to the data center of the accounts server (for an explicit
    O(accounts_url) outside the table, a bare C(https) origin from its answer); otherwise the data center's own is used,
    with a warning.
  - A field that Zoho's answer leaves out never erases a known value. A new access token keeps the API domain, scope and
    token type stored for the code; an exchange without an API domain keeps the one stored for the client's previous code.
    An API domain known nowhere is the data center's (of O(data_center) for an O(accounts_url) outside Zoho's list), so
    RV(api_domain) is never empty.
  - If Zoho issued tokens but O(token_cache) cannot record them (disk full, read-only, permissions), the tokens are still
    returned, with a warning and RV(store_error), so that they can be delivered before the problem is reported.
  - Without O(code), the cache's current code for this client and accounts server is used, else the code the candidates
    agree on.
  - The decision and any call to Zoho happen under the cache's exclusive lock, so concurrent runs call Zoho once.
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
      - Check mode sends nothing and writes nothing. It predicts RV(exchanged) and RV(refreshed); tokens that would be
        minted are not returned.
      - It predicts a refusal by Zoho's limits (see the notes) and the refresh-token warning, and records nothing.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - With the same code, a second run finds the stored credentials and reports no change, unless the stored access
        token has fewer than O(min_ttl) seconds left and a new one is minted.
options:
  code:
    description:
      - The grant code (usually a self-client code from Ansible Vault).
      - Surrounding whitespace and invisible characters (such as the newline that C(echo) adds, or a byte-order mark
        from a file) are removed with a warning; any other character outside printable ASCII inside the value is
        refused before anything is sent.
      - Needed only until tokens exist for it in O(token_cache) or O(candidates).
    type: str
  token_cache:
    description:
      - Path of the JSON token cache on the host that runs the module (the controller). See
        M(zohothrive.oauth.zoho_thrive_token_exchange) for its properties.
      - One of O(token_cache) and O(vault) is required.
    type: path
  candidates:
    description:
      - Refresh tokens already deployed elsewhere, for example read from the hosts' config files by
        M(zohothrive.oauth.zoho_thrive_config). They are untrusted; see the description for how one is adopted.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description:
          - The host the candidate was read from (its inventory name). Only names it in warnings, for example
            C(the refresh token read from app3:/etc/app/zoho.env).
        type: str
      file:
        description:
          - The config file the candidate was read from, on O(candidates[].host). Only names it in warnings.
        type: str
      code_fingerprint:
        description:
          - SHA-256 hex digest of the code the refresh token claims to come from. Candidates that claim the current code
            are tried first, the most common refresh token first.
        type: str
      refresh_token:
        description:
          - The refresh token. Surrounding whitespace and invisible characters (a byte-order mark, zero-width spaces, NUL)
            are removed with a warning; a token with whitespace or any other character outside printable ASCII inside is
            not used (and not sent), with a warning naming the host and file when given.
        type: str
      access_token:
        description:
          - Ignored. An access token reported by a host is never used, because any host can write any value into its own
            file. Accepted so that older playbooks keep working.
        type: str
      expires_at:
        description:
          - Ignored, like O(candidates[].access_token).
        type: raw
      api_domain:
        description:
          - Ignored, like O(candidates[].access_token).
        type: str
  allow_exchange:
    description:
      - Whether the code may be exchanged when neither the cache nor the candidates hold tokens for it.
      - With V(false) the module sends nothing in that case and returns RV(found=false).
    type: bool
    default: true
  access_token_needed:
    description:
      - Whether an access token valid for O(min_ttl) seconds is needed. With V(false) nothing is refreshed.
    type: bool
    default: true
  min_ttl:
    description:
      - Minimum number of seconds the returned access token must stay valid.
    type: int
    default: 300
  track_replaced:
    description:
      - Keep the refresh token that this code replaces (the one O(token_cache) holds for the previous code of this client)
        in O(token_cache) until it is revoked, and return it in RV(previous_refresh_tokens) on every run.
      - Only tokens that O(token_cache) recorded are tracked. A refresh token known only from O(candidates), for example
        one provisioned by hand, is never tracked for revocation; revoke it by name with M(zohothrive.oauth.zoho_thrive_revoke).
      - M(zohothrive.oauth.zoho_thrive_revoke) with the same O(token_cache) removes a revoked token from that list.
    type: bool
    default: false
  allow_refresh_token_eviction:
    description:
      - Exchange the code even when the token store counts 20 live refresh tokens for this client, so that Zoho silently
        deletes the oldest one and its access tokens; hosts that still use it then fail with C(invalid_code). The run warns
        and the store stops counting the deleted one.
      - By default that exchange is refused before anything is recorded or sent, so the code stays usable. Revoke the
        refresh tokens that are no longer used instead, with M(zohothrive.oauth.zoho_thrive_revoke) and the same token
        store (or O(track_replaced) with the C(zohothrive.oauth.thrive_tokens) role's revocation), which then stops
        counting them. Tokens revoked in Zoho Accounts (Sessions > Connected Apps) still count in the store, which cannot
        see that; once Zoho shows fewer than 20 for the client, set this option for one run.
    type: bool
    default: false
notes:
  - O(client_id) and O(client_secret) are required, directly, through C(module_defaults) or through the environment.
  - Zoho's limits are state in the token store (O(token_cache) or O(vault)), shared by every controller that uses it.
  - Zoho lets each refresh token mint at most 10 access tokens per 10 minutes (the exchange that created it counts as one)
    and then refuses every request for it for the rest of the window. Before each mint, the proof of a candidate included,
    a slot is taken in the refresh token's window (a check-and-set write on O(vault), so two controllers never both take
    the last one); the 11th is refused before anything is sent, and the message says when the window frees and how
    reusing the access token avoids it (O(min_ttl)). A retried request takes a slot per attempt. When Zoho answers with
    its throttle anyway, nothing more is sent for that refresh token for 10 minutes.
  - Zoho keeps at most 20 refresh tokens per user and client; a 21st silently deletes the oldest, even if it is in use.
    The store counts the refresh tokens that exchanges through it made (or that it adopted) and that were not revoked since
    (M(zohothrive.oauth.zoho_thrive_revoke) and M(zohothrive.oauth.zoho_thrive_ledger) with the same store stop counting
    one, and so does Zoho answering C(invalid_code) for it). An exchange that brings the count to 18 or more warns; the
    exchange that would make a 21st is refused before anything is sent, unless O(allow_refresh_token_eviction=true).
  - The counts are a lower bound of Zoho's. The applications on the hosts mint access tokens without the store seeing it,
    and refresh tokens made elsewhere (the API console, other tools, another token store) count at Zoho too. The store
    counts per client and accounts server, whatever the Zoho user; with several users of one client it refuses early.
seealso:
  - module: zohothrive.oauth.zoho_thrive_token_exchange
  - module: zohothrive.oauth.zoho_thrive_refresh
  - module: zohothrive.oauth.zoho_thrive_config
"""

EXAMPLES = r"""
- name: Credentials for the vaulted code, exchanged at most once
  zohothrive.oauth.zoho_thrive_credentials:
    client_id: "{{ vault_zoho_client_id }}"
    client_secret: "{{ vault_zoho_client_secret }}"
    data_center: eu
    code: "{{ vault_zoho_grant_code }}"
    token_cache: "{{ lookup('ansible.builtin.env', 'HOME') }}/.zohothrive/tokens.json"
  delegate_to: localhost
  run_once: true
  no_log: true
  register: zoho_credentials
"""

RETURN = r"""
found:
  description: Whether credentials are known. False only with O(allow_exchange=false) when nothing is known.
  returned: always
  type: bool
  sample: true
in_flight:
  description:
    - Whether the store records that the code was sent to Zoho without recording its tokens (a run died, or the store
      failed after Zoho answered). Set only with RV(found=false); the tokens may then be on the hosts, so look there (and
      pass them as O(candidates)) before giving up on the code.
  returned: always
  type: bool
  sample: false
exchanged:
  description: Whether the code was (or, in check mode, would be) exchanged.
  returned: always
  type: bool
  sample: false
refreshed:
  description: Whether a new access token was (or, in check mode, would be) minted.
  returned: always
  type: bool
  sample: true
source:
  description: Where the refresh token came from.
  returned: always
  type: str
  choices: [cache, candidates, zoho, none]
  sample: cache
code_fingerprint:
  description: SHA-256 hex digest of the code the tokens belong to (or would belong to).
  returned: when known
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
refresh_token:
  description: The refresh token.
  returned: when RV(found), unless a check-mode run predicts an exchange
  type: str
  sample: "1000.xxxx.yyyy"
refresh_token_fingerprint:
  description:
    - SHA-256 hex digest of RV(refresh_token), as the deployment ledger and the C(fingerprints) that
      M(zohothrive.oauth.zoho_thrive_config) returns compute it. Not secret.
  returned: with RV(refresh_token)
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
access_token:
  description: An access token valid for at least O(min_ttl) seconds.
  returned: when RV(found) and O(access_token_needed), unless a check-mode run predicts a mint
  type: str
  sample: "1000.aaaa.bbbb"
expires_at:
  description: When RV(access_token) expires, in integer seconds since the epoch (UTC).
  returned: with RV(access_token)
  type: int
  sample: 1795000000
expires_in:
  description: Seconds until RV(access_token) expires.
  returned: with RV(access_token)
  type: int
  sample: 3599
api_domain:
  description:
    - Base URL of Zoho's APIs for the user's data center. Never empty.
    - When a check-mode run predicts an exchange, the API domain the real run would return if Zoho's answer named none
      (at a Zoho accounts server, always the real run's).
  returned: when RV(found)
  type: str
  sample: https://www.zohoapis.eu
accounts_url:
  description: The accounts server used.
  returned: always
  type: str
  sample: https://accounts.zoho.eu
previous_refresh_tokens:
  description:
    - Refresh tokens issued from earlier codes that this code replaces and that are not revoked yet. Revoke them once every
      consumer has the new refresh token.
  returned: always, empty unless O(track_replaced=true)
  type: list
  elements: str
  sample: []
store_error:
  description:
    - Set when Zoho issued tokens but O(token_cache) could not record them (disk full, read-only, permissions). The
      tokens are returned anyway, with a warning, so that they can be delivered; repair the cache before the next run.
  returned: when the cache could not be written after Zoho answered
  type: str
  sample: "Token cache: Cannot write /root/.ansible/zohothrive/tokens.json: No space left on device."
live_refresh_tokens:
  description:
    - Live refresh tokens of this client at this accounts server that the token store counts (made by exchanges through it,
      or adopted, and not revoked), after this run; in check mode, before it. Zoho keeps at most 20 per user and client.
      A lower bound (see the notes).
  returned: always
  type: int
  sample: 1
mints_in_window:
  description:
    - Access tokens minted from RV(refresh_token) in the last 10 minutes as the token store recorded them (an exchange
      counts as one), after this run; in check mode, before it. Zoho refuses an 11th, and so does the collection, before
      sending it. A lower bound (see the notes).
  returned: when the refresh token is known
  type: int
  sample: 2
window_frees_at:
  description:
    - When the oldest mint counted in RV(mints_in_window) leaves the 10-minute window (from then on, a full window allows a
      mint again), in integer seconds since the epoch (UTC). Null when no mint is counted.
  returned: with RV(mints_in_window)
  type: int
  sample: 1795000600
"""

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import clean_secret, fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInputError, ZohoOAuthError
from ansible_collections.zohothrive.oauth.plugins.module_utils._flows import Candidate, Credentials, ensure_credentials, min_ttl_warning
from ansible_collections.zohothrive.oauth.plugins.module_utils._module import (
    argument_spec,
    client_from_params,
    default_api_domain,
    exit_revealing,
    failure,
    prepare,
    report_outcome,
    require_options,
    token_fields,
    token_store,
    vault_argument_spec,
    warn,
)

CANDIDATE_OPTIONS = {
    "host": {"type": "str"},
    "file": {"type": "str"},
    "code_fingerprint": {"type": "str"},
    "refresh_token": {"type": "str", "no_log": True},
    "access_token": {"type": "str", "no_log": True},
    "expires_at": {"type": "raw"},
    "api_domain": {"type": "str"},
}


def credentials(module: AnsibleModule) -> tuple[Credentials, str]:
    """Return the outcome and the accounts server used."""
    params = module.params
    require_options(module, "client_id", "client_secret")
    if params["min_ttl"] < 0:
        raise ZohoInputError(f"`min_ttl` must be zero or a positive number of seconds, not {params['min_ttl']}.")
    if min_ttl_warning(params["min_ttl"]):
        warn(module, min_ttl_warning(params["min_ttl"]))
    code = clean_secret(params["code"], "`code`") if params["code"] is not None else None
    client = client_from_params(module)
    outcome = ensure_credentials(
        client,
        token_store(module, required=True),
        code=code,
        candidates=[Candidate.from_mapping(c) for c in params["candidates"] or []],
        allow_exchange=params["allow_exchange"],
        min_ttl=params["min_ttl"] if params["access_token_needed"] else None,
        check_mode=module.check_mode,
        track_replaced=params["track_replaced"],
        default_api_domain=default_api_domain(module, client.accounts_url),
        allow_refresh_token_eviction=params["allow_refresh_token_eviction"],
    )
    return outcome, client.accounts_url


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(
            **vault_argument_spec(),
            code={"type": "str", "no_log": True},
            token_cache={"type": "path"},
            candidates={"type": "list", "elements": "dict", "default": [], "options": CANDIDATE_OPTIONS},
            allow_exchange={"type": "bool", "default": True},
            access_token_needed={"type": "bool", "default": True},
            min_ttl={"type": "int", "default": 300},
            track_replaced={"type": "bool", "default": False},
            allow_refresh_token_eviction={"type": "bool", "default": False},
        ),
        supports_check_mode=True,
        required_one_of=[("token_cache", "vault")],
        mutually_exclusive=[("token_cache", "vault")],
    )
    try:
        prepare(module)
        outcome, accounts_url = credentials(module)
    except ZohoOAuthError as exc:
        module.fail_json(**failure(module, exc))
    result: dict[str, t.Any] = {
        "changed": outcome.changed,
        "found": outcome.found,
        "in_flight": outcome.in_flight,
        "exchanged": outcome.exchanged,
        "refreshed": outcome.refreshed,
        "source": outcome.source,
        "accounts_url": accounts_url,
        "previous_refresh_tokens": outcome.previous_refresh_tokens,
    }
    if outcome.code_fingerprint:
        result["code_fingerprint"] = outcome.code_fingerprint
    if outcome.limits is not None:
        result.update(outcome.limits.result_fields())
    tokens = outcome.tokens
    if tokens is not None:
        result.update({key: value for key, value in token_fields(tokens).items() if value not in (None, "")})
        if tokens.refresh_token:
            result["refresh_token_fingerprint"] = fingerprint(tokens.refresh_token)
        if not result.get("access_token") or not module.params["access_token_needed"]:
            for key in ("access_token", "expires_at", "expires_in", "token_type", "scope"):
                result.pop(key, None)
    report_outcome(module, result, outcome)
    # Tokens may equal no_log inputs (adopted candidates); return them usable, not masked.
    reveal = [tokens.access_token, tokens.refresh_token] if tokens is not None else []
    exit_revealing(module, result, reveal=reveal + outcome.previous_refresh_tokens)


if __name__ == "__main__":
    main()
