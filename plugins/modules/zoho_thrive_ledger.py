#!/usr/bin/python
# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: zoho_thrive_ledger
short_description: Record which host holds which Zoho Thrive refresh token, and revoke replaced tokens no host holds
version_added: 0.1.0
description:
  - Keeps a deployment ledger in O(token_cache), on the controller. For each client (O(client_id) at the accounts
    server) it records which refresh token each host holds, by SHA-256 fingerprint. It never stores a token in the
    ledger.
  - With O(revoke_replaced=true), it then revokes each refresh token that a newer grant code replaced (the cache's list
    of replaced tokens, which M(zohothrive.oauth.zoho_thrive_credentials) fills with O(zohothrive.oauth.zoho_thrive_credentials#module:track_replaced=true)),
    but only when no host of the inventory is recorded as holding it any more. Otherwise the revoke is deferred, and
    RV(deferred) names the hosts that still hold the token. A later run, once those hosts hold the new token, revokes it.
  - The ledger vouches for a token only after a census, a run that is not limited and that recorded every host of the
    play (O(play_hosts)) since the token was first seen. Until then, a token is revoked only by such a run. A token that
    the ledger has never seen on any host (deployed before the ledger existed) is therefore never revoked by a run with
    O(limited=true), or by a run in which a host of the play is missing from O(hosts).
  - With the file store (O(token_cache)), hosts recorded in the ledger that are not in O(inventory_hosts) do not block a
    revoke (they left the inventory). Their rows are kept and listed in RV(ignored_hosts).
  - With the vault store (O(vault)), shared by controllers that may manage other inventories, such hosts do block a
    revoke. A token that the store records on hosts outside O(inventory_hosts) is deferred, and the message names them.
  - Only tokens in the cache's list of replaced tokens are ever revoked. A token that the role did not mint (provisioned
    by hand, for example) never gets there; revoke it by name with M(zohothrive.oauth.zoho_thrive_revoke).
  - This is the last controller step of the role C(zohothrive.oauth.thrive_tokens), which runs it after every host phase.
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
      - Check mode records nothing, sends nothing, and returns what a real run would revoke and defer.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - A second run records the same rows and has nothing left to revoke.
options:
  token_cache:
    description:
      - The controller's token cache (the same file as O(zohothrive.oauth.zoho_thrive_credentials#module:token_cache)).
        The ledger is a section of it, written under the cache's lock.
      - One of O(token_cache) and O(vault) is required; with O(vault), the ledger is part of the shared store.
    type: path
  hosts:
    description:
      - The hosts whose config file this run wrote or confirmed, each with the SHA-256 fingerprint (64 hex digits) of the
        refresh token it now holds, as M(zohothrive.oauth.zoho_thrive_config) returns it in RV(zohothrive.oauth.zoho_thrive_config#module:fingerprints).
      - Leave out hosts that failed, were unreachable or skipped. Empty values are ignored. A value that is not a
        fingerprint is refused (never pass a token).
    type: dict
    default: {}
  files:
    description:
      - The config file of each host of O(hosts), for example the role's C(thrive_tokens_config_path).
      - A host may hold the client's token in several files (the role applied more than once). The ledger keeps one row
        per file, and a host counts as holding a token while any of its files does, so writing one file never lets the
        token of another be revoked. A host without an entry here is recorded under one unnamed file.
    type: dict
    default: {}
  inventory_hosts:
    description:
      - Every host of the inventory, for example C(groups['all']), not only the hosts of this play and not limited by
        C(--limit). Ledger rows of other hosts are ignored when deciding.
    type: list
    elements: str
    required: true
  play_hosts:
    description:
      - Every host of this play, for example C(ansible_play_hosts_all). A run is a census only when each of them is in
        O(hosts).
    type: list
    elements: str
    required: true
  later_hosts:
    description:
      - Hosts of this play that later C(serial) batches will still write. RV(messages) says that a token that waits only
        for them waits for a later batch of this run, rather than for a later run.
    type: list
    elements: str
    default: []
  limited:
    description:
      - Whether the play runs with C(--limit) (C(ansible_limit is defined)). A limited run is never a census.
    type: bool
    default: false
  revoke_replaced:
    description:
      - Revoke the replaced refresh tokens that no host of the inventory holds. Without it the module only records.
    type: bool
    default: false
  replaced_tokens:
    description:
      - Refresh tokens that this run's credentials step replaces
        (RV(zohothrive.oauth.zoho_thrive_credentials#module:previous_refresh_tokens)).
      - A real run finds them in the store already. Check mode records nothing, so a check-mode credentials step could
        not store them; given here, the prediction includes them and shows the revocation that the real run would make.
    type: list
    elements: str
    default: []
notes:
  - Only the token to revoke is sent to Zoho. O(client_id) and the accounts server name the client whose ledger and
    replaced tokens are used; O(client_secret) is accepted so that one C(module_defaults) block serves the whole group.
  - The ledger is only as complete as the runs that fed it. A host that received a token before this module existed is
    known once a run records it; a census covers every host of the play. Keep O(token_cache) on persistent storage.
    A lost cache loses the list of replaced tokens too, so nothing is revoked by mistake, but nothing is revoked at all.
seealso:
  - module: zohothrive.oauth.zoho_thrive_credentials
  - module: zohothrive.oauth.zoho_thrive_revoke
  - module: zohothrive.oauth.zoho_thrive_config
"""

EXAMPLES = r"""
- name: Record the hosts and revoke what no host holds any more
  zohothrive.oauth.zoho_thrive_ledger:
    client_id: "{{ vault_zoho_client_id }}"
    data_center: eu
    token_cache: ~/.ansible/zohothrive/thrive_tokens.json
    hosts: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'refresh_fp'))) }}
    inventory_hosts: "{{ groups['all'] }}"
    play_hosts: "{{ ansible_play_hosts_all }}"
    limited: "{{ ansible_limit is defined }}"
    revoke_replaced: true
  delegate_to: localhost
  run_once: true
  register: ledger

- name: Say which hosts still hold a replaced token
  ansible.builtin.debug:
    msg: "{{ ledger.messages }}"
  when: ledger.deferred | length > 0
  run_once: true
"""

RETURN = r"""
recorded:
  description: The hosts recorded (or confirmed) in the ledger by this run. In check mode, those that would be.
  returned: always
  type: list
  elements: str
  sample: [app1.example.com, app2.example.com]
census:
  description: Whether this run is a census (not limited, every host of the play recorded).
  returned: always
  type: bool
  sample: true
revoked:
  description:
    - SHA-256 fingerprints of the replaced refresh tokens revoked by this run (in check mode, that would be). Never a token.
  returned: always
  type: list
  elements: str
  sample: [3f1c2d5e8a9b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d]
revoked_count:
  description: The number of elements of RV(revoked).
  returned: always
  type: int
  sample: 1
already_invalid:
  description:
    - Fingerprints of replaced tokens that Zoho reported as already invalid. They are forgotten like revoked ones.
  returned: always
  type: list
  elements: str
  sample: []
deferred:
  description: The replaced refresh tokens that are not revoked yet, and why. Empty unless O(revoke_replaced=true).
  returned: always
  type: list
  elements: dict
  contains:
    fingerprint:
      description: SHA-256 fingerprint of the token.
      type: str
    hosts:
      description:
        - The inventory hosts still recorded as holding it; or, when the ledger cannot vouch for the token yet, the hosts
          of the play that this run did not confirm.
      type: list
      elements: str
    reason:
      description: Why it waits, in words.
      type: str
  sample:
    - fingerprint: 9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b
      hosts: [app2.example.com, app3.example.com]
      reason: hosts of the inventory are still recorded as holding it
ignored_hosts:
  description: Hosts with a ledger row that are not in O(inventory_hosts). Their rows are kept; they block a revoke only with the vault store.
  returned: always
  type: list
  elements: str
  sample: [retired.example.com]
messages:
  description:
    - One line per deferred token, naming the hosts and what completes the revoke. Never contains a token.
  returned: always
  type: list
  elements: str
  sample:
    - "The replaced refresh token 9a8b7c6d5e4f… is not revoked yet: app2.example.com, app3.example.com still hold(s) it.
      A run that writes the new token to those hosts (without --limit, or with them in it) completes the revoke."
"""

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInvalidTokenError, ZohoOAuthError
from ansible_collections.zohothrive.oauth.plugins.module_utils._ledger import (
    Plan,
    check_fingerprints,
    describe,
    is_census,
    ledger_identity,
    plan_from_cache,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._module import (
    argument_spec,
    client_from_params,
    failure,
    prepare,
    token_store,
    vault_argument_spec,
    warn,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import TokenCache


class _RevokeFailed(Exception):
    def __init__(self, error: ZohoOAuthError, fingerprint: str, result: dict[str, t.Any]) -> None:
        super().__init__(error.msg)
        self.error = error
        self.fingerprint = fingerprint
        self.result = result


def run(module: AnsibleModule) -> dict[str, t.Any]:
    params = module.params
    hosts = check_fingerprints(params["hosts"] or {})
    client = client_from_params(module)
    identity = ledger_identity(client.client_id, client.accounts_url)
    cache = token_store(module, required=True)
    files = {str(host): str(path) for host, path in (params["files"] or {}).items() if path not in (None, "")}
    options = {
        "hosts": hosts,
        "files": files,
        "inventory_hosts": params["inventory_hosts"],
        "play_hosts": params["play_hosts"],
        "limited": params["limited"],
    }
    census = is_census(play_hosts=params["play_hosts"], recorded_hosts=hosts, limited=params["limited"])
    result: dict[str, t.Any] = {
        "recorded": sorted(hosts),
        "census": census,
        "revoked": [],
        "already_invalid": [],
        "deferred": [],
        "ignored_hosts": [],
        "messages": [],
    }
    if module.check_mode:
        cache.load()  # read only: no lock file and no directory are created in check mode
        decided = plan_from_cache(cache, identity, replaced=params["replaced_tokens"], **options)
        _report(result, decided, params)
        if params["revoke_replaced"]:
            result["revoked"] = [d.fingerprint for d in decided.revocable]
        return result
    with cache.locked():
        cache.record_deployments(identity, hosts, census=census, files=files)
        decided = plan_from_cache(cache, identity, **options)
        _report(result, decided, params)
        if params["revoke_replaced"]:
            _revoke(module, client, cache, identity, decided, result)
    return result


def _report(result: dict[str, t.Any], decided: Plan, params: dict[str, t.Any]) -> None:
    result["ignored_hosts"] = list(decided.ignored_hosts)
    if params["revoke_replaced"]:
        result["deferred"] = [d.as_dict() for d in decided.deferred]
        result["messages"] = describe(decided, expected=params["later_hosts"])


def _revoke(module: AnsibleModule, client: t.Any, cache: TokenCache, identity: str, decided: Plan, result: dict[str, t.Any]) -> None:
    for decision in decided.revocable:
        if decision.ignored:
            warn(
                module,
                f"The replaced refresh token {decision.fingerprint[:12]}… is recorded on {', '.join(decision.ignored)}, which "
                "is not in `inventory_hosts`; it is revoked anyway. If those hosts still run, use the inventory that holds them.",
            )
        try:
            client.revoke(decision.token)
            result["revoked"].append(decision.fingerprint)
        except ZohoInvalidTokenError as exc:
            warn(module, f"The replaced refresh token {decision.fingerprint[:12]}… was already invalid: {exc.msg} It is forgotten.")
            result["already_invalid"].append(decision.fingerprint)
        except ZohoOAuthError as exc:
            raise _RevokeFailed(exc, decision.fingerprint, result) from None
        # Either way the token is dead now: forget its cached access token, its pending revocation and its ledger record.
        cache.forget_refresh_token(decision.token)
        cache.forget_deployed_token(identity, decision.fingerprint)


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(
            **vault_argument_spec(),
            token_cache={"type": "path"},
            hosts={"type": "dict", "default": {}},
            files={"type": "dict", "default": {}},
            inventory_hosts={"type": "list", "elements": "str", "required": True},
            play_hosts={"type": "list", "elements": "str", "required": True},
            later_hosts={"type": "list", "elements": "str", "default": []},
            limited={"type": "bool", "default": False},
            revoke_replaced={"type": "bool", "default": False},
            replaced_tokens={"type": "list", "elements": "str", "default": [], "no_log": True},
        ),
        supports_check_mode=True,
        required_one_of=[("token_cache", "vault")],
        mutually_exclusive=[("token_cache", "vault")],
    )
    try:
        prepare(module)
        result = run(module)
    except _RevokeFailed as exc:
        partial = exc.result
        module.fail_json(
            **failure(
                module,
                exc.error,
                msg=(
                    f"The hosts were recorded, but revoking the replaced refresh token {exc.fingerprint[:12]}… failed: {exc.error.msg} "
                    "It stays pending in `token_cache`, and the next run with `revoke_replaced` retries."
                ),
                revoked=partial["revoked"],
                revoked_count=len(partial["revoked"]),
                already_invalid=partial["already_invalid"],
            )
        )
    except ZohoOAuthError as exc:
        module.fail_json(**failure(module, exc))
    module.exit_json(changed=bool(result["revoked"]), revoked_count=len(result["revoked"]), **result)


if __name__ == "__main__":
    main()
