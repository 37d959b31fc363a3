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
    type: str
  client_secret:
    description:
      - Client secret of the Zoho API console client. Keep it in Ansible Vault.
      - With Multi-DC and a separate secret per data center, give the secret of the data center used.
      - If not set, the environment variable E(ZOHO_THRIVE_CLIENT_SECRET) is used.
      - It is sent only in the body of HTTPS POST requests, never in a URL.
    type: str
  data_center:
    description:
      - Zoho data center whose accounts server is used, for example V(eu) for C(https://accounts.zoho.eu).
      - The tokens of a user live in the user's data center only; a wrong data center shows up as C(invalid_client)
        or C(invalid_code).
      - Ignored when O(accounts_url) is set.
      - If not set, the environment variable E(ZOHO_THRIVE_DATA_CENTER) is used.
    type: str
    default: us
    choices: [us, eu, in, au, jp, ca, sa, uk, cn]
  accounts_url:
    description:
      - Explicit base URL of the accounts server, for example C(https://accounts.zoho.eu).
      - Overrides O(data_center). It is trusted because the operator wrote it, so it may name a proxy or a test server;
        it must use C(https) and carry no user information, query or fragment.
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
      - PEM file of CA certificates used to verify the accounts server, for example a corporate proxy CA.
    type: path
  timeout:
    description:
      - Read timeout in seconds for each request to Zoho. Connecting is limited to the smaller of this and 10 seconds.
    type: int
    default: 30
requirements:
  - requests (Python library, on the host that runs the module, normally the controller)
notes:
  - Zoho answers most errors with HTTP 200. A request counts as successful only when the answer is a JSON object with a
    non-empty C(access_token) and no C(error) key (C(status=success) for revocation).
  - Redirects are never followed and C(~/.netrc) is never consulted. Proxies from the usual C(HTTPS_PROXY) environment
    variables are used.
  - Failure messages name Zoho's error code (for example C(invalid_code)) and never contain a secret.
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
