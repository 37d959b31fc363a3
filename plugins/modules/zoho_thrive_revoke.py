#!/usr/bin/python
# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: zoho_thrive_revoke
short_description: Revoke a Zoho Thrive refresh token
version_added: 0.1.0
description:
  - Revokes a refresh token at Zoho Accounts. Every access token minted from it stops working too.
  - A token that Zoho reports as already invalid gives a warning and C(changed=false) instead of a failure, so that
    clean-up plays can be re-run. Zoho gives the same answer for a token of another data center, so check O(data_center)
    when the warning is unexpected.
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
    support: partial
    details:
      - Check mode sends nothing and cannot know whether Zoho still considers the token valid, so it always predicts
        C(changed=true).
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - A second run finds the token already invalid, which is a warning and no change.
options:
  refresh_token:
    description:
      - The refresh token to revoke.
      - Surrounding whitespace and invisible characters (such as the newline that C(echo) adds, or a byte-order mark
        from a file) are removed with a warning; any other character outside printable ASCII inside the value is
        refused before anything is sent.
    type: str
    required: true
  token_cache:
    description:
      - Token cache of M(zohothrive.oauth.zoho_thrive_refresh). The cached access token of the revoked refresh token is
        removed from it.
    type: path
notes:
  - Only the token is sent to Zoho; O(client_id) and O(client_secret) are accepted so that one C(module_defaults) block
    serves the whole action group.
seealso:
  - module: zohothrive.oauth.zoho_thrive_token_exchange
  - name: Zoho revoke refresh token
    description: Zoho's description of token revocation.
    link: https://www.zoho.com/accounts/protocol/oauth/revoke-refresh-token.html
"""

EXAMPLES = r"""
- name: Revoke the refresh token that was replaced
  zohothrive.oauth.zoho_thrive_revoke:
    data_center: eu
    refresh_token: "{{ old_refresh_token }}"
  delegate_to: localhost
  run_once: true
  no_log: true
"""

RETURN = r"""
revoked:
  description: Whether Zoho confirmed the revocation. False when the token was already invalid, and in check mode.
  returned: always
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import clean_secret
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInvalidTokenError, ZohoOAuthError
from ansible_collections.zohothrive.oauth.plugins.module_utils._module import (
    argument_spec,
    client_from_params,
    failure,
    prepare,
    token_store,
    vault_argument_spec,
    warn,
)


def revoke(module: AnsibleModule) -> tuple[bool, bool]:
    """Return ``(changed, revoked)``."""
    refresh_token = clean_secret(module.params["refresh_token"], "`refresh_token`")
    client = client_from_params(module)
    if module.check_mode:
        return True, False
    try:
        client.revoke(refresh_token)
        revoked = True
    except ZohoInvalidTokenError as exc:
        warn(module, f"{exc.msg} Nothing was revoked.")
        revoked = False
    # Either way the refresh token is dead now: its cached access token is of no further use.
    store = token_store(module)
    if store is not None:
        with store.locked() as cache:
            cache.forget_refresh_token(refresh_token)
    return revoked, revoked


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(
            **vault_argument_spec(),
            refresh_token={"type": "str", "required": True, "no_log": True},
            token_cache={"type": "path"},
        ),
        supports_check_mode=True,
        mutually_exclusive=[("token_cache", "vault")],
    )
    try:
        prepare(module)
        changed, revoked = revoke(module)
    except ZohoOAuthError as exc:
        module.fail_json(**failure(module, exc))
    module.exit_json(changed=changed, revoked=revoked)


if __name__ == "__main__":
    main()
