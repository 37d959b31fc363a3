# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures for the lookup plugin's unit tests.

- ``lookup`` loads ``zohothrive.oauth.access_token`` and runs it; its options are resolved by
  Ansible's configuration manager, as in a playbook. Under ``ansible-test units`` (which installs
  the collection finder) the plugin loader loads it. A plain pytest run over a copy at
  ``.../ansible_collections/zohothrive/oauth`` has imported the collection as an ordinary
  package, which the finder cannot take over: the plugin is then built as the loader builds it
  (its documented options registered with the configuration manager under its name).
- The lookup's Zoho client gets a scripted fake session (``lookup.zoho``), its process-level
  token cache starts empty, and its warnings and verbose messages are recorded.
- No environment variable that the lookup reads is inherited from the developer's shell.
"""

from __future__ import annotations

import sys
import typing as t

import pytest
import yaml

from ansible.utils.collection_loader import AnsibleCollectionConfig

from ansible_collections.zohothrive.oauth.plugins.module_utils import _client, _options
from ansible_collections.zohothrive.oauth.tests.unit.fakes import FakeSession, Recorder

NAME = "zohothrive.oauth.access_token"
ENVIRONMENT = (
    "ZOHO_THRIVE_CLIENT_ID",
    "ZOHO_THRIVE_CLIENT_SECRET",
    "ZOHO_THRIVE_DATA_CENTER",
    "ZOHO_THRIVE_ACCOUNTS_URL",
    "ZOHO_THRIVE_TOKEN_CACHE",
    "ZOHO_THRIVE_VAULT_PATH",
    "ANSIBLE_HASHI_VAULT_ADDR",
    "ANSIBLE_HASHI_VAULT_TOKEN",
    "ANSIBLE_HASHI_VAULT_NAMESPACE",
    "ANSIBLE_HASHI_VAULT_AUTH_METHOD",
    "ANSIBLE_HASHI_VAULT_ROLE_ID",
    "ANSIBLE_HASHI_VAULT_SECRET_ID",
    "ANSIBLE_HASHI_VAULT_CA_CERT",
    "ANSIBLE_HASHI_VAULT_TIMEOUT",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_CACERT",
    "VAULT_NAMESPACE",
)


class Lookup:
    """The loaded lookup plugin, its fake Zoho, and what it displayed."""

    def __init__(self, plugin: t.Any, module: t.Any, zoho: FakeSession) -> None:
        self.plugin = plugin
        self.module = module
        self.zoho = zoho
        self.warnings: list[str] = []
        self.verbose: list[str] = []
        from ansible import constants  # the controller: imported in the forked test only
        from ansible.errors import AnsibleLookupError

        self.config = constants.config
        self.error_type = AnsibleLookupError

    def __call__(self, *terms: t.Any, variables: dict[str, t.Any] | None = None, **kwargs: t.Any) -> list[t.Any]:
        return self.plugin.run(list(terms), variables=variables or {}, **kwargs)

    def forms(self) -> list[dict[str, t.Any]]:
        return [dict(call.data) for call in self.zoho.calls]


class RecordingDisplay:
    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup

    def warning(self, msg: str, *args: t.Any, **kwargs: t.Any) -> None:
        self._lookup.warnings.append(msg)

    def _verbose(self, msg: str, *args: t.Any, **kwargs: t.Any) -> None:
        self._lookup.verbose.append(msg)

    v = vv = vvv = vvvv = vvvvv = debug = display = _verbose


def _load() -> t.Any:
    # Imported here, in the forked test process (tests marked ``controller``).
    from ansible import constants as C
    from ansible.plugins.loader import lookup_loader

    if AnsibleCollectionConfig.collection_finder is not None:
        return lookup_loader.get(NAME)
    from ansible_collections.zohothrive.oauth.plugins.lookup import access_token

    C.config.initialize_plugin_configuration_definitions("lookup", NAME, yaml.safe_load(access_token.DOCUMENTATION)["options"])
    plugin = access_token.LookupModule()
    plugin._load_name = NAME  # pylint: disable=protected-access
    return plugin


@pytest.fixture
def lookup(monkeypatch: pytest.MonkeyPatch) -> t.Iterator[Lookup]:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    plugin = _load()
    assert plugin is not None, f"{NAME} was not found by the plugin loader"
    module = sys.modules[type(plugin).__module__]
    session = FakeSession()
    result = Lookup(plugin, module, session)
    real_client = _client.ZohoOAuthClient

    def build(accounts_url: str, **kwargs: t.Any) -> _client.ZohoOAuthClient:
        kwargs.setdefault("session", session)
        kwargs.setdefault("sleep", Recorder())
        return real_client(accounts_url, **kwargs)

    monkeypatch.setattr(_options, "ZohoOAuthClient", build)
    monkeypatch.setattr(module, "display", RecordingDisplay(result))
    module.forget_tokens()
    yield result
    module.forget_tokens()
