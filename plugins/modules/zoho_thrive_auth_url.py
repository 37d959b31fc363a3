#!/usr/bin/python
# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: zoho_thrive_auth_url
short_description: Build the Zoho Accounts authorization URL for a Zoho Thrive client
version_added: 0.1.0
description:
  - Builds the URL that sends a user to Zoho Accounts to grant a server-based client access to Zoho Thrive.
  - After consent Zoho redirects the browser to O(redirect_uri) with a one-time grant code; pass that callback URL to
    M(zohothrive.oauth.zoho_thrive_token_exchange) with O(zohothrive.oauth.zoho_thrive_token_exchange#module:expected_state)
    set to RV(state).
  - Sends nothing over the network and never reports a change.
  - Self clients need no authorization URL; their code comes from the Zoho API console.
author:
  - Zoho Thrive OAuth maintainers (@zohothrive)
extends_documentation_fragment:
  - zohothrive.oauth.connection
  - zohothrive.oauth.connection.action_group
  - zohothrive.oauth.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - It builds a URL and sends nothing; it never reports a change.
options:
  scopes:
    description:
      - Scopes to request, one per item, for example V(Thrive.Referral.CREATE). They are joined with commas.
    type: list
    elements: str
    required: true
  redirect_uri:
    description:
      - Redirect URI registered for the client in the Zoho API console. It must match exactly, trailing slash included.
    type: str
    required: true
  access_type:
    description:
      - V(offline) also returns a refresh token (on the first consent, or every time with O(prompt=consent)).
      - V(online) returns an access token only.
    type: str
    choices: [offline, online]
    default: offline
  prompt:
    description:
      - Set to V(consent) to make Zoho ask for consent again, which is needed to get another refresh token.
    type: str
    choices: [consent]
  state:
    description:
      - Opaque anti-CSRF value that Zoho echoes back in the callback.
      - When omitted, a random value is generated with the operating system's CSPRNG and returned as RV(state).
    type: str
  pkce:
    description:
      - Add a PKCE S256 challenge and return the matching RV(code_verifier) for the exchange.
      - Zoho documents PKCE for mobile and desktop clients; check that your client type accepts it before enabling it.
    type: bool
    default: false
notes:
  - O(client_id) is required, directly, through C(module_defaults) or through the environment.
  - Only O(client_id), O(data_center) and O(accounts_url) of the connection options are used; the others are accepted so that
    one C(module_defaults) block serves the whole action group.
  - Users normally start at C(https://accounts.zoho.com); Zoho then sends them on to their own data center, which the
    callback names. Users in China start at C(https://accounts.zoho.com.cn) (O(data_center=cn)).
seealso:
  - module: zohothrive.oauth.zoho_thrive_token_exchange
  - name: Zoho Accounts authorization request
    description: Zoho's description of the authorization request parameters.
    link: https://www.zoho.com/accounts/protocol/oauth/web-apps/authorization.html
"""

EXAMPLES = r"""
- name: Build the consent URL for a server-based client
  zohothrive.oauth.zoho_thrive_auth_url:
    client_id: "{{ zoho_client_id }}"
    scopes:
      - Thrive.Referral.CREATE
    redirect_uri: https://app.example.com/oauth/zoho/callback
    prompt: consent
  register: zoho_auth

- name: Show the URL to open in a browser
  ansible.builtin.debug:
    msg: "Open {{ zoho_auth.url }} and paste the URL you are redirected to."

- name: Keep the state for the exchange step
  ansible.builtin.set_fact:
    zoho_expected_state: "{{ zoho_auth.state }}"
"""

RETURN = r"""
url:
  description: The authorization URL to open in a browser.
  returned: success
  type: str
  sample: https://accounts.zoho.com/oauth/v2/auth?response_type=code&client_id=1000.ABC&scope=Thrive.Referral.CREATE&redirect_uri=...
state:
  description: The state sent in the URL (generated when O(state) was omitted). Compare it with the callback's.
  returned: success
  type: str
  sample: 3q2-7wQ2mN1pX0v5ZtY8cRkL4sHjD6fGbA9eUiOo_Ws
code_verifier:
  description: PKCE code verifier to pass to the exchange. Treat it as a secret.
  returned: when O(pkce=true)
  type: str
  sample: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import (
    build_authorization_url,
    generate_pkce_pair,
    generate_state,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoOAuthError
from ansible_collections.zohothrive.oauth.plugins.module_utils._module import accounts_url_from_params, argument_spec, failure, prepare, require_options


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(
            scopes={"type": "list", "elements": "str", "required": True},
            redirect_uri={"type": "str", "required": True},
            access_type={"type": "str", "choices": ["offline", "online"], "default": "offline"},
            prompt={"type": "str", "choices": ["consent"]},
            state={"type": "str", "no_log": False},
            pkce={"type": "bool", "default": False},
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        prepare(module)
        require_options(module, "client_id")
        state = params["state"] if params["state"] is not None else generate_state()
        verifier, challenge = generate_pkce_pair() if params["pkce"] else (None, None)
        url = build_authorization_url(
            accounts_url=accounts_url_from_params(module),
            client_id=params["client_id"],
            scopes=params["scopes"],
            redirect_uri=params["redirect_uri"],
            access_type=params["access_type"],
            prompt=params["prompt"],
            state=state,
            code_challenge=challenge,
        )
    except ZohoOAuthError as exc:
        module.fail_json(**failure(module, exc))
    result = {"changed": False, "url": url, "state": state}
    if verifier:
        result["code_verifier"] = verifier
    module.exit_json(**result)


if __name__ == "__main__":
    main()
