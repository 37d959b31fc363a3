# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: access_token
short_description: A Zoho Thrive access token valid for at least min_ttl seconds, minted only when needed
version_added: 0.1.0
author:
  - Zoho Thrive OAuth maintainers (@zohothrive)
description:
  - 'Returns an access token for each refresh token, valid for at least O(min_ttl) seconds, for tasks that call Zoho Thrive''s
    API themselves, for example with M(ansible.builtin.uri) and the header C(Authorization: Zoho-oauthtoken <token>).'
  - It runs the flow of M(zohothrive.oauth.zoho_thrive_refresh) on the controller, in the Ansible process itself (no
    module is run), with the same token stores. A token is minted from the refresh token only when none with more than
    O(min_ttl) seconds left is known; Zoho lets each refresh token mint only 10 access tokens per 10 minutes.
  - 'Where a known token is looked for, in order: this process''s cache, which holds each token per credential identity
    (client ID, accounts server, refresh token and store) and serves every later use of the lookup within one task (each
    item of a loop, each use of a templated variable); then the token store, O(token_cache) (a file) or the vault secret
    at O(vault_path), which serves the other tasks, the other hosts and later runs.'
  - Without a store, each task that uses the lookup mints its own token, because Ansible runs every task of every host in
    a separate worker process. Set O(token_cache) or O(vault_path) whenever the lookup is used by more than one task.
  - 'Options are resolved as for every Ansible plugin and as community.hashi_vault resolves its own, from the highest
    precedence: the term or a keyword of the call, then a variable, then an environment variable, then C(ansible.cfg),
    then, for the vault options, community.hashi_vault''s low-precedence environment variables E(VAULT_ADDR),
    E(VAULT_TOKEN), E(VAULT_CACERT) and E(VAULT_NAMESPACE), then the default.'
  - The vault store's settings are flat options named C(vault_<setting>), one for each sub-option of the modules'
    O(zohothrive.oauth.zoho_thrive_refresh#module:vault) option, with community.hashi_vault's names for the connection
    (variables C(ansible_hashi_vault_*), environment variables C(ANSIBLE_HASHI_VAULT_*), C(ansible.cfg) section
    C([hashi_vault_collection])), so one set of settings serves community.hashi_vault's lookups and this one. A lookup
    option cannot be a dictionary whose keys each resolve from their own variable, environment variable and C(ansible.cfg)
    key, hence the flat names; the C(vault_) prefix keeps them apart from the Zoho connection's own O(validate_certs) and
    O(timeout). Only O(vault_path) chooses the vault store, so settings meant for community.hashi_vault choose nothing.
  - Client IDs, secrets and tokens are printable ASCII. Surrounding whitespace and invisible characters (such as the
    newline that C(echo) adds, or a byte-order mark from a file) are removed from O(_terms), O(refresh_token),
    O(client_id) and O(client_secret) with a warning; any other character outside printable ASCII inside a value is
    refused before anything is sent.
  - B(The result is a secret.) Lookups have no C(no_log); see the notes.
options:
  _terms:
    description:
      - The refresh tokens, one access token is returned for each. Give either terms or O(refresh_token).
    type: list
    elements: str
  refresh_token:
    description:
      - The refresh token, as a keyword instead of a term.
    type: str
  min_ttl:
    description:
      - Minimum number of seconds the returned access token must stay valid. A known token with less time left is replaced.
      - Must be less than 3600, the lifetime of Zoho's access tokens.
    type: int
    default: 300
  client_id:
    description:
      - Client ID of the Zoho API console client (a self client or a server-based client).
    type: str
    env:
      - name: ZOHO_THRIVE_CLIENT_ID
    ini:
      - section: zohothrive_oauth
        key: client_id
    vars:
      - name: zoho_thrive_client_id
  client_secret:
    description:
      - Client secret of the Zoho API console client. Keep it in Ansible Vault.
      - It has no C(ansible.cfg) key, so that it is never kept in clear in a configuration file.
      - It is sent only in the body of HTTPS POST requests, never in a URL.
    type: str
    env:
      - name: ZOHO_THRIVE_CLIENT_SECRET
    vars:
      - name: zoho_thrive_client_secret
  data_center:
    description:
      - Zoho data center whose accounts server is used, for example V(eu) for C(https://accounts.zoho.eu). Ignored when
        O(accounts_url) is set.
    type: str
    default: us
    choices: [us, eu, in, au, jp, ca, sa, uk, cn]
    env:
      - name: ZOHO_THRIVE_DATA_CENTER
    ini:
      - section: zohothrive_oauth
        key: data_center
    vars:
      - name: zoho_thrive_data_center
  accounts_url:
    description:
      - Origin of the accounts server, for example C(https://accounts.zoho.eu); overrides O(data_center). It may name a
        proxy or a test server. It must be a bare C(https://) origin, as for the modules' O(zohothrive.oauth.zoho_thrive_refresh#module:accounts_url).
    type: str
    env:
      - name: ZOHO_THRIVE_ACCOUNTS_URL
    ini:
      - section: zohothrive_oauth
        key: accounts_url
    vars:
      - name: zoho_thrive_accounts_url
  validate_certs:
    description:
      - Whether to verify the accounts server's TLS certificate. Turning this off exposes the client secret and tokens
        to interception and triggers a warning; prefer O(ca_path).
    type: bool
    default: true
    ini:
      - section: zohothrive_oauth
        key: validate_certs
    vars:
      - name: zoho_thrive_validate_certs
  ca_path:
    description:
      - PEM file (or C(openssl rehash) directory) of CA certificates used to verify the accounts server.
    type: path
    ini:
      - section: zohothrive_oauth
        key: ca_path
    vars:
      - name: zoho_thrive_ca_path
  timeout:
    description:
      - Total time in seconds allowed for one request to Zoho, from 1 to 3600, as for the modules.
    type: int
    default: 30
    ini:
      - section: zohothrive_oauth
        key: timeout
    vars:
      - name: zoho_thrive_timeout
  token_cache:
    description:
      - Path of the JSON token cache on the controller, shared with the modules' O(zohothrive.oauth.zoho_thrive_refresh#module:token_cache).
        It keeps the newest access token per refresh token (keyed by a SHA-256 fingerprint), mode C(0600), replaced
        atomically under a lock.
      - Mutually exclusive with O(vault_path).
    type: path
    env:
      - name: ZOHO_THRIVE_TOKEN_CACHE
    ini:
      - section: zohothrive_oauth
        key: token_cache
    vars:
      - name: zoho_thrive_token_cache
  vault_path:
    description:
      - Keep the token store in this HashiCorp Vault or OpenBao KV version 2 secret, shared by every controller, instead of
        O(token_cache). It is the modules' O(zohothrive.oauth.zoho_thrive_refresh#module:vault.path), in the engine at
        O(vault_engine_mount_point); the secret and its fields are described there.
      - Setting it chooses the vault store; the other C(vault_*) options only say how to reach the vault.
    type: str
    env:
      - name: ZOHO_THRIVE_VAULT_PATH
    ini:
      - section: zohothrive_oauth
        key: vault_path
    vars:
      - name: zoho_thrive_vault_path
  vault_url:
    description:
      - URL of the vault, for example C(https://vault.example.com:8200).
      - If no other source sets it, the environment variable E(VAULT_ADDR) is used.
    type: str
    env:
      - name: ANSIBLE_HASHI_VAULT_ADDR
    ini:
      - section: hashi_vault_collection
        key: url
    vars:
      - name: ansible_hashi_vault_url
      - name: ansible_hashi_vault_addr
  vault_namespace:
    description:
      - Vault Enterprise namespace.
      - If no other source sets it, the environment variable E(VAULT_NAMESPACE) is used.
    type: str
    env:
      - name: ANSIBLE_HASHI_VAULT_NAMESPACE
    ini:
      - section: hashi_vault_collection
        key: namespace
    vars:
      - name: ansible_hashi_vault_namespace
  vault_auth_method:
    description:
      - How to log in to the vault. V(token) uses O(vault_token); V(approle) logs in with O(vault_role_id) and
        O(vault_secret_id). Unset means V(token).
    type: str
    choices: [token, approle]
    env:
      - name: ANSIBLE_HASHI_VAULT_AUTH_METHOD
    ini:
      - section: hashi_vault_collection
        key: auth_method
    vars:
      - name: ansible_hashi_vault_auth_method
  vault_token:
    description:
      - Vault token for O(vault_auth_method=token). A secret; it has no C(ansible.cfg) key.
      - If no other source sets it, the environment variable E(VAULT_TOKEN) is used.
    type: str
    env:
      - name: ANSIBLE_HASHI_VAULT_TOKEN
    vars:
      - name: ansible_hashi_vault_token
  vault_role_id:
    description:
      - AppRole role ID for O(vault_auth_method=approle).
    type: str
    env:
      - name: ANSIBLE_HASHI_VAULT_ROLE_ID
    ini:
      - section: hashi_vault_collection
        key: role_id
    vars:
      - name: ansible_hashi_vault_role_id
  vault_secret_id:
    description:
      - AppRole secret ID for O(vault_auth_method=approle). A secret; it has no C(ansible.cfg) key.
    type: str
    env:
      - name: ANSIBLE_HASHI_VAULT_SECRET_ID
    vars:
      - name: ansible_hashi_vault_secret_id
  vault_engine_mount_point:
    description:
      - Mount point of the KV version 2 secrets engine.
    type: str
    default: secret
    vars:
      - name: ansible_hashi_vault_engine_mount_point
  vault_ca_cert:
    description:
      - CA bundle to verify the vault's TLS certificate.
      - If no other source sets it, the environment variable E(VAULT_CACERT) is used.
    type: path
    env:
      - name: ANSIBLE_HASHI_VAULT_CA_CERT
    ini:
      - section: hashi_vault_collection
        key: ca_cert
    vars:
      - name: ansible_hashi_vault_ca_cert
  vault_validate_certs:
    description:
      - Whether to verify the vault's TLS certificate.
    type: bool
    default: true
    vars:
      - name: ansible_hashi_vault_validate_certs
  vault_timeout:
    description:
      - Seconds to wait for each request to the vault.
    type: int
    default: 30
    env:
      - name: ANSIBLE_HASHI_VAULT_TIMEOUT
    ini:
      - section: hashi_vault_collection
        key: timeout
    vars:
      - name: ansible_hashi_vault_timeout
requirements:
  - requests (Python library, on the controller)
  - hvac (Python library, on the controller, when O(vault_path) is used)
notes:
  - B(Keep the token out of output.) Lookups have no C(no_log) of their own, and Ansible shows a task's arguments, with the
    token the lookup put there, in verbose output (C(-vvv)). Use the lookup only in the arguments of tasks that set
    C(no_log) to V(true), as the examples do, or in a variable that only such tasks use; never in C(debug), in a C(name),
    or in a fact that is registered or cached. Variables are templated lazily, so a variable holding the lookup calls it
    where it is used, inside the task that uses it.
  - With a store, Zoho's limit of 10 mints per refresh token per 10 minutes is counted in the store as for
    M(zohothrive.oauth.zoho_thrive_refresh) (see its notes), and a mint that the limit forbids fails before anything is sent.
  - Lookups do not know check mode, so the lookup may mint a token in C(--check) runs too.
  - Failures name Zoho's error code and the option to fix, and never contain a secret. The refresh token is named in
    messages by the first characters of its SHA-256 fingerprint only. Before ansible-core 2.19, C(no_log) on a task
    also hides why its arguments could not be templated, so the lookup shows its failure message as a warning too.
  - A token the lookup reuses was verified by Zoho when it was minted, with the client secret of that time.
seealso:
  - module: zohothrive.oauth.zoho_thrive_refresh
    description: The same flow as a module, which also returns the expiry time and API domain.
  - plugin: community.hashi_vault.vault_kv2_get
    plugin_type: lookup
    description: Reads the vault store's documented fields (write-back) from the same secret.
"""

EXAMPLES = r"""
- name: Call Zoho Thrive's API with a token that stays valid for this task
  ansible.builtin.uri:
    url: https://www.zohoapis.eu/thrive/v1/referrals
    headers:
      Authorization: "Zoho-oauthtoken {{ lookup('zohothrive.oauth.access_token', vault_zoho_refresh_token) }}"
  vars:
    zoho_thrive_client_id: "{{ vault_zoho_client_id }}"
    zoho_thrive_client_secret: "{{ vault_zoho_client_secret }}"
    zoho_thrive_data_center: eu
    zoho_thrive_token_cache: "{{ lookup('ansible.builtin.env', 'HOME') }}/.ansible/zohothrive/tokens.json"
  no_log: true  # the header holds the token

# With zoho_thrive_client_id, zoho_thrive_client_secret and zoho_thrive_token_cache set for the play
# (or ZOHO_THRIVE_CLIENT_ID, ZOHO_THRIVE_CLIENT_SECRET and ZOHO_THRIVE_TOKEN_CACHE in the environment):
- name: Create the referrals, one token for every item (and for later tasks and runs while it has 10 minutes left)
  ansible.builtin.uri:
    url: https://www.zohoapis.com/thrive/v1/referrals
    method: POST
    headers:
      Authorization: "Zoho-oauthtoken {{ lookup('zohothrive.oauth.access_token', vault_zoho_refresh_token, min_ttl=600) }}"
    body_format: json
    body: "{{ item }}"
  loop: "{{ referrals }}"
  no_log: true

- name: The token store on HashiCorp Vault or OpenBao, reached with community.hashi_vault's settings
  ansible.builtin.uri:
    url: https://www.zohoapis.com/thrive/v1/referrals
    headers:
      Authorization: "Zoho-oauthtoken {{ lookup('zohothrive.oauth.access_token', refresh_token=vault_zoho_refresh_token, vault_path='zohothrive/myapp') }}"
  vars:
    ansible_hashi_vault_url: https://vault.example.com:8200
    ansible_hashi_vault_auth_method: approle
    ansible_hashi_vault_role_id: "{{ vault_approle_role_id }}"
    ansible_hashi_vault_secret_id: "{{ vault_approle_secret_id }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description:
    - One access token for each refresh token, in order, each valid for at least O(min_ttl) seconds.
    - 'B(Secrets.) Use them only in tasks with C(no_log: true).'
  type: list
  elements: str
"""

import re
import threading
import time
import typing as t

from ansible import constants as C
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.release import __version__ as ansible_version
from ansible.utils.display import Display

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import clean_secret, fingerprint, tidy_credential
from ansible_collections.zohothrive.oauth.plugins.module_utils._tokens import DEFAULT_EXPIRES_IN, TokenSet
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInputError, ZohoOAuthError
from ansible_collections.zohothrive.oauth.plugins.module_utils._flows import SOURCE_CACHE, ensure_access_token, is_fresh, result_warnings
from ansible_collections.zohothrive.oauth.plugins.module_utils._options import (
    ENV_HINTS,
    FLAT_VAULT_LABELS,
    OptionAdapter,
    accounts_url_of,
    apply_late_env,
    build_client,
    build_token_store,
    clean_credentials,
    require_filled,
)

if t.TYPE_CHECKING:
    from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import TokenCache

display = Display()

# Before ansible-core 2.19, a task with no_log hides why its arguments could not be templated, the lookup's
# failure message included ("the output has been hidden"). The message holds no secret, so it is also shown as a
# warning there; later versions show the failure itself.
NO_LOG_HIDES_LOOKUP_ERRORS = tuple(int(part) for part in re.findall(r"\d+", ansible_version)[:2]) < (2, 19)

# The process-level cache: (client ID, accounts server, refresh token fingerprint, store) -> the newest tokens known.
# Never the refresh token or the client secret as a key. A worker process inherits the cache of the process it
# was forked from and loses what it adds when it ends.
_TOKENS: dict[tuple[str, str, str, str], TokenSet] = {}
_LOCK = threading.Lock()

# Where a missing credential may come from, for the message.
SOURCES = {
    name: f"the variable zoho_thrive_{name} or the environment variable {variable}" for name, variable in ENV_HINTS.items()
}


def forget_tokens() -> None:
    """Empty this process's cache (tests; a fresh worker process starts with what its parent had)."""
    with _LOCK:
        _TOKENS.clear()


class LookupModule(LookupBase):
    def run(self, terms: list[t.Any], variables: dict[str, t.Any] | None = None, **kwargs: t.Any) -> list[str]:
        own = self._own_variables(variables)
        self.set_options(var_options=own, direct=kwargs)
        options = OptionAdapter.from_plugin(self, warn=display.warning, labels=FLAT_VAULT_LABELS, origin=lambda name: self._origin(name, kwargs, own))
        try:
            return self._access_tokens(terms, options)
        except ZohoOAuthError as exc:
            # The core's message names the problem, the option and the fix, and never a secret; its traceback adds nothing.
            message = options.relabel(exc.msg)
            if NO_LOG_HIDES_LOOKUP_ERRORS:
                display.warning(f"zohothrive.oauth.access_token: {message}")
            raise AnsibleLookupError(message) from None

    def _own_variables(self, variables: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
        """The variables that set this lookup's options, templated (``zoho_thrive_client_secret: "{{ vault_secret }}"``).

        Ansible hands a lookup the play's variables as written; only these few are templated, so
        that an unrelated variable that cannot be templated here never breaks the lookup. The
        templar renders what Ansible trusts as a template, as it would anywhere else.
        """
        if not variables:
            return {}
        found = {name: variables[name] for name in C.config.get_plugin_vars("lookup", self._load_name) if name in variables}
        if self._templar is None:
            return found
        return {name: self._templar.template(value) for name, value in found.items()}

    def _origin(self, name: str, direct: t.Mapping[str, t.Any], variables: t.Mapping[str, t.Any] | None) -> str | None:
        """Where the option's value came from, in the configuration manager's words (``env: NAME``, ``var: NAME``, a file)."""
        if name in direct:
            return "Direct"
        return t.cast(str, self.get_option_and_origin(name, hostvars=variables)[1])

    def _access_tokens(self, terms: list[t.Any], options: OptionAdapter) -> list[str]:
        apply_late_env(options)
        refresh_tokens = _refresh_tokens(terms, options)
        clean_credentials(options, ("client_id", "client_secret"))
        min_ttl = options.get_option("min_ttl")
        if not 0 <= min_ttl < DEFAULT_EXPIRES_IN:
            raise ZohoInputError(
                f"`min_ttl` must be from 0 to {DEFAULT_EXPIRES_IN - 1} seconds, not {min_ttl}: Zoho's access tokens live {DEFAULT_EXPIRES_IN} "
                "seconds, so no token could satisfy a larger one and every use would mint. Nothing was sent to Zoho."
            )
        require_filled(options, "client_id", "client_secret", sources=SOURCES)
        accounts_url = accounts_url_of(options)
        store = build_token_store(options)
        where = _store_identity(store)
        client = None
        found = []
        for refresh_token in refresh_tokens:
            key = (options.get_option("client_id"), accounts_url, fingerprint(refresh_token), where)
            shown = f"refresh token {key[2][:12]}..."
            with _LOCK:
                known = _TOKENS.get(key)
            if known is not None and is_fresh(known, min_ttl=min_ttl, now=time.time()):
                display.vvv(f"zohothrive.oauth.access_token: {shown}: access token from the process cache.")
                found.append(known.access_token)
                continue
            if client is None:
                client = build_client(options, accounts_url=accounts_url)
            outcome = ensure_access_token(client, refresh_token, cache=store, min_ttl=min_ttl, check_mode=False)
            for warning in result_warnings(outcome):
                options.warn(warning)
            if outcome.tokens is None:  # only a check-mode prediction has none
                raise ZohoOAuthError("internal error: no access token after the refresh step.")
            source = f"the token store {store.path}" if outcome.source == SOURCE_CACHE and store is not None else "Zoho (minted)"
            display.vvv(f"zohothrive.oauth.access_token: {shown}: access token from {source}.")
            with _LOCK:
                _TOKENS[key] = outcome.tokens
            found.append(outcome.tokens.access_token)
        return found


def _refresh_tokens(terms: list[t.Any], options: OptionAdapter) -> list[str]:
    """The refresh tokens (terms, or the keyword), each under the credential rule; names them for messages, never shows them."""
    keyword = options.get_option("refresh_token")
    if keyword is not None and terms:
        raise ZohoInputError("Give the refresh token either as the term or as `refresh_token`, not both. Nothing was sent to Zoho.")
    if keyword is not None:
        given = [(keyword, "`refresh_token`", options.origin("refresh_token"))]
    elif terms:
        given = [(term, "the refresh token (the term)" if len(terms) == 1 else f"the refresh token of term {n}", None) for n, term in enumerate(terms, 1)]
    else:
        raise ZohoInputError(
            "No refresh token was given: pass it as the term, lookup('zohothrive.oauth.access_token', refresh_token), or as "
            "`refresh_token`. Nothing was sent to Zoho."
        )
    cleaned = []
    for value, what, source in given:
        what = what + (f" (from {source})" if source else "")
        if isinstance(value, str):
            value, warning = tidy_credential(value, what)  # refuses anything but printable ASCII inside
            if warning:
                options.warn(warning)
        cleaned.append(clean_secret(value, what))
    return cleaned


def _store_identity(store: TokenCache | None) -> str:
    """The store, as part of the process cache's key: its kind and where it is (never a credential)."""
    if store is None:
        return ""
    settings = getattr(store.backend, "settings", None) or {}
    return f"{type(store.backend).__name__}:{store.backend.where}:{settings.get('namespace') or ''}"
