# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The token store on HashiCorp Vault or OpenBao (plugins/module_utils/_vault_store.py). The
    # sub-option names and environment fallbacks are community.hashi_vault's.
    DOCUMENTATION = r"""
options:
  vault:
    description:
      - Keep the token store in a HashiCorp Vault or OpenBao KV version 2 secret instead of the O(token_cache) file, so that
        every controller (CI runners, AWX and Automation Platform nodes) shares one store.
      - Every write is a check-and-set on the version read, so two controllers never overwrite each other. A grant code is
        sent by exactly one controller, the one whose in-flight record was written first; the others wait for its tokens
        (up to two request timeouts, at least a minute) and never send the code.
      - 'The secret holds, for people and other jobs (for example C(community.hashi_vault.vault_kv2_get)): C(refresh_token),
        C(access_token), C(expires_at) (epoch seconds), C(api_domain), C(accounts_url), C(code_fingerprint) (SHA-256 of the
        grant code), C(client_id) and C(updated_at) (epoch seconds) of the current tokens; and C(zohothrive_store), the whole
        store (grant-code records, access tokens per refresh token, the deployment ledger, and the counters of the Zoho limits:
        the mints of each refresh token in the last 10 minutes and the live refresh tokens of each client). Never the grant
        code or the client secret.'
      - Mutually exclusive with O(token_cache).
    type: dict
    suboptions:
      url:
        description:
          - URL of the vault, for example C(https://vault.example.com:8200).
          - If not set, the environment variable E(ANSIBLE_HASHI_VAULT_ADDR) or E(VAULT_ADDR) is used.
        type: str
      namespace:
        description:
          - Vault Enterprise namespace.
          - If not set, the environment variable E(ANSIBLE_HASHI_VAULT_NAMESPACE) or E(VAULT_NAMESPACE) is used.
        type: str
      auth_method:
        description:
          - How to log in. V(token) uses O(vault.token); V(approle) logs in with O(vault.role_id) and O(vault.secret_id).
          - If not set, the environment variable E(ANSIBLE_HASHI_VAULT_AUTH_METHOD) is used, else V(token).
        type: str
        choices: [token, approle]
      token:
        description:
          - Vault token for O(vault.auth_method=token).
          - If not set, the environment variable E(ANSIBLE_HASHI_VAULT_TOKEN) or E(VAULT_TOKEN) is used.
        type: str
      role_id:
        description:
          - AppRole role ID for O(vault.auth_method=approle).
          - If not set, the environment variable E(ANSIBLE_HASHI_VAULT_ROLE_ID) is used.
        type: str
      secret_id:
        description:
          - AppRole secret ID for O(vault.auth_method=approle).
          - If not set, the environment variable E(ANSIBLE_HASHI_VAULT_SECRET_ID) is used.
        type: str
      engine_mount_point:
        description: Mount point of the KV version 2 secrets engine.
        type: str
        default: secret
      path:
        description:
          - Path of the secret in the engine, for example C(zohothrive/myapp). Use one path per Zoho client. The policy needs
            C(create), C(read) and C(update) on C(<engine_mount_point>/data/<path>), and C(read) on
            C(<engine_mount_point>/metadata/<path>).
        type: str
        required: true
      ca_cert:
        description:
          - CA bundle to verify the vault's TLS certificate.
          - If not set, the environment variable E(ANSIBLE_HASHI_VAULT_CA_CERT) or E(VAULT_CACERT) is used.
        type: path
      validate_certs:
        description: Whether to verify the vault's TLS certificate.
        type: bool
        default: true
      timeout:
        description:
          - Seconds to wait for each request to the vault.
          - If not set, the environment variable E(ANSIBLE_HASHI_VAULT_TIMEOUT) is used.
        type: int
        default: 30
requirements:
  - hvac (Python library, on the host that runs the module, when O(vault) is used)
"""
