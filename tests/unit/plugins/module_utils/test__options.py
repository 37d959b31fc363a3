# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_options: one way to read options (from a module's params or a plugin's get_option) and to build the client and the store.

Modules (through _module.client_from_params and _module.token_store) and the lookup plugin
build the Zoho client and the token store from an ``OptionAdapter``; these tests pin the
adapter's interface and show that both kinds of source give the same client and store.
"""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils import _module, _options, _vault_store
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInputError, ZohoTokenStoreError
from ansible_collections.zohothrive.oauth.plugins.module_utils._options import (
    FLAT_VAULT_LABELS,
    OptionAdapter,
    accounts_url_of,
    apply_late_env,
    build_client,
    build_token_store,
    clean_credentials,
    require_filled,
    vault_settings,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import FileBackend
from ansible_collections.zohothrive.oauth.tests.unit.fakes import sentinel

SECRET = sentinel("secret")
RT = sentinel("refresh")
CLIENT_ID = "1000.CLIENTIDXYZ"


def connection(**extra: t.Any) -> dict[str, t.Any]:
    """The connection options as a module's params hold them after argument parsing (defaults filled)."""
    params: dict[str, t.Any] = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "data_center": "us",
        "accounts_url": None,
        "validate_certs": True,
        "ca_path": None,
        "timeout": 30,
        "option_labels": {},
    }
    params.update(extra)
    return params


class FakeModule:
    """What the adapter and _module use of an AnsibleModule: params, warn, no_log_values."""

    def __init__(self, params: dict[str, t.Any]) -> None:
        self.params = params
        self.warnings: list[str] = []
        self.no_log_values: set[str] = set()
        self.argument_spec: dict[str, t.Any] = {"client_secret": {"no_log": True}, "refresh_token": {"no_log": True}}

    def warn(self, text: str) -> None:
        self.warnings.append(text)


class FakePlugin:
    """What the adapter uses of an AnsiblePlugin: get_option (KeyError for an unknown option), set_option, has_option."""

    def __init__(self, options: dict[str, t.Any]) -> None:
        self._options = dict(options)

    def get_option(self, name: str, hostvars: t.Any = None) -> t.Any:
        if name not in self._options:
            raise KeyError(name)
        return self._options[name]

    def set_option(self, name: str, value: t.Any) -> None:
        self._options[name] = value

    def has_option(self, name: str) -> bool:
        return name in self._options


def flat_vault(**extra: t.Any) -> dict[str, t.Any]:
    """The lookup's flat vault options, as the plugin resolves them (defaults filled)."""
    options = {f"vault_{name}": None for name in _options.VAULT_SETTINGS}
    options.update(vault_engine_mount_point="secret", vault_validate_certs=True, vault_timeout=30)
    options.update(extra)
    return options


# -- the interface -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dict", "module", "plugin"])
def test_the_adapter_reads_and_writes_every_kind_of_source_alike(kind: str) -> None:
    data = {"client_id": CLIENT_ID, "timeout": 30, "ca_path": None}
    if kind == "dict":
        options = OptionAdapter.from_dict(data)
    elif kind == "module":
        options = OptionAdapter.from_module(FakeModule(data))
    else:
        options = OptionAdapter.from_plugin(FakePlugin(data), warn=lambda text: None)
    assert options.get_option("client_id") == CLIENT_ID
    with pytest.raises(KeyError):
        options.get_option("no_such_option")
    assert options.get_option_default("no_such_option", "fallback") == "fallback"
    assert options.get_option_default("ca_path", "unused") is None  # a known option's None is its value
    assert options.has_option("timeout") and not options.has_option("no_such_option")
    assert options.get_options("client_id", "ca_path") == {"client_id": CLIENT_ID, "ca_path": None}
    assert options.get_filled_options("client_id", "ca_path", "timeout") == {"client_id": CLIENT_ID, "timeout": 30}
    options.set_option("ca_path", "/etc/ssl/ca.pem")
    assert options.get_option("ca_path") == "/etc/ssl/ca.pem"


def test_a_module_adapter_writes_through_to_the_params_and_warns_through_the_module() -> None:
    module = FakeModule({"ca_path": None})
    options = OptionAdapter.from_module(module)
    options.set_option("ca_path", "/ca.pem")
    options.warn("careful")
    assert module.params["ca_path"] == "/ca.pem"
    assert module.warnings == ["careful"]


def test_relabel_and_warnings_use_the_callers_names() -> None:
    seen: list[str] = []
    options = OptionAdapter.from_plugin(FakePlugin({}), warn=seen.append, labels=FLAT_VAULT_LABELS)
    options.warn("Check `vault.url` and `vault.token`.")
    assert seen == ["Check `vault_url` and `vault_token`."]
    assert options.relabel("Give either `vault` or `token_cache`.") == "Give either `vault_path` or `token_cache`."


def test_origin_names_where_a_value_came_from() -> None:
    origins = {"client_secret": "env: ZOHO_THRIVE_CLIENT_SECRET", "client_id": "var: zoho_thrive_client_id", "timeout": "Direct"}
    options = OptionAdapter.from_plugin(FakePlugin({"client_id": "x"}), warn=lambda text: None, origin=origins.get)
    assert options.origin("client_secret") == "the environment variable ZOHO_THRIVE_CLIENT_SECRET"
    assert options.origin("client_id") == "the variable zoho_thrive_client_id"
    assert options.origin("timeout") is None  # given in the call itself: nothing to add
    assert options.origin("ca_path") is None
    assert OptionAdapter.from_plugin(FakePlugin({}), warn=lambda text: None, origin={"x": "/etc/ansible/ansible.cfg"}.get).origin("x") == (
        "the configuration file /etc/ansible/ansible.cfg"
    )


# -- community.hashi_vault's low-precedence environment variables -------------------------------------------


def test_late_binding_environment_variables_fill_only_what_no_other_source_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_ADDR", "http://late.example:8200")
    monkeypatch.setenv("VAULT_TOKEN", "late-token")
    monkeypatch.delenv("VAULT_CACERT", raising=False)
    options = OptionAdapter.from_plugin(FakePlugin(flat_vault(vault_token="given-token")), warn=lambda text: None)
    apply_late_env(options)
    assert options.get_option("vault_url") == "http://late.example:8200"
    assert options.origin("vault_url") == "the environment variable VAULT_ADDR"
    assert options.get_option("vault_token") == "given-token"  # any other source wins over VAULT_TOKEN
    assert options.get_option("vault_ca_cert") is None


def test_late_binding_ignores_options_the_source_does_not_have(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_ADDR", "http://late.example:8200")
    options = OptionAdapter.from_dict({"client_id": CLIENT_ID})
    apply_late_env(options)
    assert not options.has_option("vault_url")


# -- the vault settings: nested (modules) or flat (the lookup) ------------------------------------------------


def test_vault_settings_of_a_module_are_its_vault_option() -> None:
    vault = {"url": "http://bao:8200", "token": "t", "path": "zohothrive/app"}
    assert vault_settings(OptionAdapter.from_module(FakeModule({"vault": vault}))) == vault
    assert vault_settings(OptionAdapter.from_module(FakeModule({"vault": None}))) is None
    assert vault_settings(OptionAdapter.from_module(FakeModule({}))) is None  # a module without the option


def test_flat_vault_options_are_gathered_and_vault_path_selects_the_store() -> None:
    options = OptionAdapter.from_plugin(FakePlugin(flat_vault(vault_url="http://bao:8200", vault_token="t", vault_path="zohothrive/app")), warn=print)
    settings = vault_settings(options)
    assert settings is not None and set(settings) == set(_options.VAULT_SETTINGS)
    assert settings["url"] == "http://bao:8200" and settings["path"] == "zohothrive/app" and settings["engine_mount_point"] == "secret"
    # Connection settings shared with community.hashi_vault (ANSIBLE_HASHI_VAULT_*, ansible_hashi_vault_*) select nothing on their own.
    shared_only = OptionAdapter.from_plugin(FakePlugin(flat_vault(vault_url="http://bao:8200", vault_token="t")), warn=print)
    assert vault_settings(shared_only) is None


# -- the store ------------------------------------------------------------------------------------------


class RecordingVault:
    """Stands in for VaultBackend: records the settings it was built with (no hvac, no server)."""

    built: list[dict[str, t.Any]] = []

    shared = True
    noun = "token store"
    elsewhere = "point `vault.path` at another secret"

    def __init__(self, settings: t.Mapping[str, t.Any]) -> None:
        self.settings = dict(settings)
        self.where = f"{settings['url']} (secret/{settings['path']})"
        RecordingVault.built.append(self.settings)


@pytest.fixture
def recording_vault(monkeypatch: pytest.MonkeyPatch) -> type[RecordingVault]:
    RecordingVault.built = []
    monkeypatch.setattr(_options, "VaultBackend", RecordingVault)
    return RecordingVault


def test_a_file_store_from_either_source(tmp_path: t.Any) -> None:
    path = str(tmp_path / "c" / "tokens.json")
    for options in (
        OptionAdapter.from_module(FakeModule({"token_cache": path, "vault": None})),
        OptionAdapter.from_plugin(FakePlugin(dict(flat_vault(), token_cache=path)), warn=print),
    ):
        store = build_token_store(options)
        assert store is not None and isinstance(store.backend, FileBackend) and store.path == path
    assert not (tmp_path / "c").exists()  # building a store reads and writes nothing


def test_a_vault_store_from_either_source_gets_the_same_settings(recording_vault: type[RecordingVault]) -> None:
    nested = {name: None for name in _options.VAULT_SETTINGS}
    nested.update(url="http://bao:8200", token="t", path="zohothrive/app", engine_mount_point="secret", validate_certs=True, timeout=30)
    module_store = build_token_store(OptionAdapter.from_module(FakeModule({"vault": nested, "token_cache": None})))
    flat = flat_vault(vault_url="http://bao:8200", vault_token="t", vault_path="zohothrive/app", token_cache=None)
    plugin_store = build_token_store(OptionAdapter.from_plugin(FakePlugin(flat), warn=print))
    assert module_store is not None and plugin_store is not None and module_store.shared
    assert recording_vault.built[0] == recording_vault.built[1] == nested


def test_no_store_unless_required() -> None:
    assert build_token_store(OptionAdapter.from_dict({"token_cache": None})) is None
    with pytest.raises(ZohoInputError, match="A token store is needed: set `token_cache`"):
        build_token_store(OptionAdapter.from_dict({"token_cache": None}), required=True)


def test_both_stores_are_refused_in_the_callers_words(recording_vault: type[RecordingVault], tmp_path: t.Any) -> None:
    flat = flat_vault(vault_url="http://bao:8200", vault_token="t", vault_path="zohothrive/app", token_cache=str(tmp_path / "t.json"))
    options = OptionAdapter.from_plugin(FakePlugin(flat), warn=print, labels=FLAT_VAULT_LABELS)
    with pytest.raises(ZohoInputError) as refused:
        build_token_store(options)
    assert options.relabel(str(refused.value)).startswith("Give either `vault_path` (a token store shared by every controller) or `token_cache`")
    assert recording_vault.built == []


def test_module_token_store_is_the_adapter_path(recording_vault: type[RecordingVault], tmp_path: t.Any) -> None:
    module = FakeModule({"vault": {"url": "http://bao:8200", "token": "t", "path": "p"}, "token_cache": str(tmp_path / "t.json")})
    with pytest.raises(ZohoInputError, match="Give either `vault`"):
        _module.token_store(module)
    module.params["token_cache"] = None
    store = _module.token_store(module)
    assert store is not None and recording_vault.built == [{"url": "http://bao:8200", "token": "t", "path": "p"}]


def test_unusable_vault_settings_name_the_flat_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_vault_store, "HAS_HVAC", True)  # the settings are checked before hvac is used
    options = OptionAdapter.from_plugin(FakePlugin(flat_vault(vault_path="zohothrive/app")), warn=print, labels=FLAT_VAULT_LABELS)
    with pytest.raises(ZohoTokenStoreError) as refused:
        build_token_store(options)
    assert options.relabel(str(refused.value)).startswith("The vault token store needs `vault_url` (or the environment variable VAULT_ADDR)")


# -- the client ---------------------------------------------------------------------------------------


class RecordingClient:
    def __init__(self, accounts_url: str, **kwargs: t.Any) -> None:
        self.accounts_url = accounts_url
        self.kwargs = kwargs


@pytest.fixture(autouse=True)
def recording_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every client built here records its arguments instead of opening a session."""
    monkeypatch.setattr(_options, "ZohoOAuthClient", RecordingClient)


def built(options: OptionAdapter, **kwargs: t.Any) -> RecordingClient:
    client = build_client(options, **kwargs)
    assert isinstance(client, RecordingClient)
    return client


def test_module_and_plugin_sources_build_the_same_client() -> None:
    params = connection(data_center="eu", timeout=12)
    from_module = built(OptionAdapter.from_module(FakeModule(dict(params))))
    from_plugin = built(OptionAdapter.from_plugin(FakePlugin(params), warn=print))
    assert from_module.accounts_url == from_plugin.accounts_url == "https://accounts.zoho.eu"
    on_retry = (from_module.kwargs.pop("on_retry"), from_plugin.kwargs.pop("on_retry"))
    assert from_module.kwargs == from_plugin.kwargs
    assert from_module.kwargs["client_secret"] == SECRET and from_module.kwargs["timeout"] == 12.0
    assert all(callable(callback) for callback in on_retry)


def test_an_explicit_accounts_url_wins_and_is_canonical() -> None:
    options = OptionAdapter.from_dict(connection(accounts_url="HTTPS://Accounts.Zoho.EU:443/"))
    assert accounts_url_of(options) == "https://accounts.zoho.eu"
    assert built(options).accounts_url == "https://accounts.zoho.eu"
    assert built(options, accounts_url="https://accounts.zoho.in").accounts_url == "https://accounts.zoho.in"


def test_validate_certs_off_warns_through_the_adapter() -> None:
    seen: list[str] = []
    built(OptionAdapter.from_plugin(FakePlugin(connection(validate_certs=False)), warn=seen.append))
    assert len(seen) == 1 and seen[0].startswith("`validate_certs` is false")


@pytest.mark.parametrize(("change", "words"), [({"timeout": 0}, "`timeout` must be a number of seconds"), ({"ca_path": "/nonexistent/ca.pem"}, "`ca_path`")])
def test_connection_options_are_checked_before_anything_is_built(change: dict[str, t.Any], words: str) -> None:
    with pytest.raises(ZohoInputError, match=words):
        built(OptionAdapter.from_dict(connection(**change)))


def test_missing_requests_is_a_dependency_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_options, "HAS_REQUESTS", False)
    with pytest.raises(_options.ZohoDependencyError, match="requests"):
        built(OptionAdapter.from_dict(connection()))


def test_module_client_from_params_is_the_adapter_path() -> None:
    module = FakeModule(connection(validate_certs=False, option_labels={"validate_certs": "thrive_tokens_validate_certs"}))
    client = _module.client_from_params(module)
    assert isinstance(client, RecordingClient) and client.accounts_url == "https://accounts.zoho.com"
    assert module.warnings and module.warnings[0].startswith("`thrive_tokens_validate_certs` is false")  # option_labels still apply


# -- credentials and required options ------------------------------------------------------------------


def test_credential_padding_is_removed_with_a_warning_naming_the_source() -> None:
    seen: list[str] = []
    protected: list[str] = []
    plugin = FakePlugin({"client_id": CLIENT_ID + "\n", "client_secret": "\ufeff" + SECRET, "refresh_token": None})
    origins = {"client_id": "var: zoho_thrive_client_id", "client_secret": "env: ZOHO_THRIVE_CLIENT_SECRET"}
    options = OptionAdapter.from_plugin(plugin, warn=seen.append, origin=origins.get, protect=lambda name, value: protected.append((name, value)))
    clean_credentials(options)
    assert options.get_option("client_id") == CLIENT_ID and options.get_option("client_secret") == SECRET
    assert seen[0].startswith("`client_id` (from the variable zoho_thrive_client_id) had a trailing newline, removed;")
    assert seen[1].startswith("`client_secret` (from the environment variable ZOHO_THRIVE_CLIENT_SECRET) had a leading byte-order mark (U+FEFF)")
    assert protected == [("client_id", CLIENT_ID), ("client_secret", SECRET)]
    assert not any(SECRET in text or CLIENT_ID in text for text in seen)


def test_a_module_masks_a_cleaned_value_of_a_no_log_option_only() -> None:
    module = FakeModule({"client_id": CLIENT_ID + " ", "client_secret": SECRET + " ", "refresh_token": RT})
    clean_credentials(OptionAdapter.from_module(module))
    assert module.params["client_id"] == CLIENT_ID and module.params["client_secret"] == SECRET
    assert module.no_log_values == {SECRET}  # the cleaned secret is hidden like the original; the client ID is not a secret
    assert len(module.warnings) == 2


def test_whitespace_inside_a_credential_is_refused_without_showing_it() -> None:
    options = OptionAdapter.from_plugin(FakePlugin({"client_secret": SECRET[:10] + " " + SECRET[10:]}), warn=print)
    with pytest.raises(ZohoInputError) as refused:
        clean_credentials(options)
    assert str(refused.value).startswith("`client_secret` contains whitespace")
    assert SECRET[:10] not in str(refused.value)


def test_required_options_name_their_environment_variables() -> None:
    options = OptionAdapter.from_dict({"client_id": "", "client_secret": None, "timeout": 30})
    with pytest.raises(ZohoInputError) as missing:
        require_filled(options, "client_id", "client_secret", "timeout")
    assert str(missing.value) == (
        "Missing required option(s): `client_id` (or the environment variable ZOHO_THRIVE_CLIENT_ID), `client_secret` "
        "(or the environment variable ZOHO_THRIVE_CLIENT_SECRET). Nothing was sent to Zoho."
    )
