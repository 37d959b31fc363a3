# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The access_token lookup: the refresh flow of the modules, in-process, with options resolved like community.hashi_vault's.

Precedence, highest first: the term or a keyword, then variables, then environment variables,
then ansible.cfg, then community.hashi_vault's low-precedence environment variables (VAULT_ADDR,
VAULT_TOKEN, VAULT_CACERT, VAULT_NAMESPACE), then the default.

Every test here is marked ``controller`` and runs in a forked process of its own (see
``tests/unit/conftest.py``): the lookup needs Ansible's controller, and a process that imported
the controller cannot run module code the way a target does.
"""

from __future__ import annotations

import json
import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils import _options, _vault_store
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoTokenStoreError
from ansible_collections.zohothrive.oauth.tests.unit.fakes import json_response, sentinel, token_payload

SECRET = sentinel("secret")
RT = sentinel("refresh")
RT2 = sentinel("refresh2")
MINTED = sentinel("minted")
MINTED2 = sentinel("minted2")
CLIENT_ID = "1000.CLIENTIDXYZ"

pytestmark = pytest.mark.controller  # each test runs in a process of its own (tests/unit/conftest.py)
CONNECTION = {"client_id": CLIENT_ID, "client_secret": SECRET}


def minted(token: str = MINTED, expires_in: int = 3600) -> t.Any:
    return json_response(token_payload(token, refresh_token=None, expires_in=expires_in))


def everything_shown(lookup: t.Any, *extra: str) -> str:
    return "\n".join([*lookup.warnings, *lookup.verbose, *extra])


# -- what it returns, and when it sends -----------------------------------------------------------


def test_a_refresh_token_term_gives_a_fresh_access_token(lookup: t.Any) -> None:
    lookup.zoho.add(minted())
    assert lookup(RT, **CONNECTION) == [MINTED]
    (form,) = lookup.forms()
    assert form == {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": SECRET, "refresh_token": RT}
    assert lookup.zoho.calls[0].url == "https://accounts.zoho.com/oauth/v2/token"


def test_the_same_identity_again_in_this_process_sends_nothing(lookup: t.Any) -> None:
    lookup.zoho.add(minted())
    first = lookup(RT, **CONNECTION)
    again = lookup(RT, min_ttl=600, **CONNECTION)
    assert first == again == [MINTED]
    assert len(lookup.zoho.calls) == 1
    assert any("process cache" in line for line in lookup.verbose)


def test_a_cached_token_with_too_little_time_left_is_replaced(lookup: t.Any) -> None:
    lookup.zoho.add(minted(MINTED, expires_in=400), minted(MINTED2))
    assert lookup(RT, min_ttl=300, **CONNECTION) == [MINTED]
    assert lookup(RT, min_ttl=300, **CONNECTION) == [MINTED]  # 400 s left > 300: reused
    assert lookup(RT, min_ttl=500, **CONNECTION) == [MINTED2]  # 400 s left < 500: minted
    assert len(lookup.zoho.calls) == 2


@pytest.mark.parametrize(
    "other",
    [
        {"client_id": "1000.OTHERCLIENT"},
        {"data_center": "eu"},
    ],
    ids=["client_id", "accounts_url"],
)
def test_the_process_cache_is_per_credential_identity(lookup: t.Any, other: dict[str, t.Any]) -> None:
    lookup.zoho.add(minted(MINTED), minted(MINTED2))
    assert lookup(RT, **CONNECTION) == [MINTED]
    assert lookup(RT, **dict(CONNECTION, **other)) == [MINTED2]
    assert len(lookup.zoho.calls) == 2


def test_the_process_cache_is_per_store(lookup: t.Any, tmp_path: t.Any) -> None:
    lookup.zoho.add(minted(MINTED), minted(MINTED2))
    assert lookup(RT, **CONNECTION) == [MINTED]  # no store
    cache = tmp_path / "c" / "tokens.json"
    assert lookup(RT, token_cache=str(cache), **CONNECTION) == [MINTED2]  # a store that knows nothing yet
    assert cache.exists()


def test_a_file_store_serves_a_new_process(lookup: t.Any, tmp_path: t.Any) -> None:
    cache = str(tmp_path / "c" / "tokens.json")
    lookup.zoho.add(minted())
    assert lookup(RT, token_cache=cache, **CONNECTION) == [MINTED]
    lookup.module.forget_tokens()  # what another worker process (another task) starts with
    assert lookup(RT, token_cache=cache, **CONNECTION) == [MINTED]
    assert len(lookup.zoho.calls) == 1
    assert any("token store" in line for line in lookup.verbose)
    assert MINTED in (tmp_path / "c" / "tokens.json").read_text() and RT not in (tmp_path / "c" / "tokens.json").read_text()


def test_several_terms_give_one_token_each(lookup: t.Any) -> None:
    lookup.zoho.add(minted(MINTED), minted(MINTED2))
    assert lookup(RT, RT2, **CONNECTION) == [MINTED, MINTED2]
    assert [form["refresh_token"] for form in lookup.forms()] == [RT, RT2]


def test_the_refresh_token_keyword(lookup: t.Any) -> None:
    lookup.zoho.add(minted())
    assert lookup(refresh_token=RT, **CONNECTION) == [MINTED]


@pytest.mark.parametrize(
    ("terms", "kwargs", "words"),
    [
        ((RT,), {"refresh_token": RT2}, "either as the term or as `refresh_token`, not both"),
        ((), {}, "No refresh token was given"),
        ((RT,), {"min_ttl": -1}, "`min_ttl` must be"),
        ((RT,), {"min_ttl": 3600}, "`min_ttl` must be"),
        ((RT[:12] + " " + RT[12:],), {}, "The refresh token (the term) contains whitespace"),
        ((42,), {}, "must be a string"),
        (("  ",), {}, "is empty"),
    ],
    ids=["both", "none", "negative-min-ttl", "min-ttl-beyond-lifetime", "inner-space", "not-a-string", "blank"],
)
def test_bad_input_fails_before_anything_is_sent(lookup: t.Any, terms: tuple[t.Any, ...], kwargs: dict[str, t.Any], words: str) -> None:
    with pytest.raises(lookup.error_type) as failed:
        lookup(*terms, **dict(CONNECTION, **kwargs))
    assert words in str(failed.value)
    assert lookup.zoho.calls == []
    assert RT[12:] not in str(failed.value) and SECRET not in str(failed.value)


def test_missing_credentials_name_their_environment_variables(lookup: t.Any) -> None:
    with pytest.raises(lookup.error_type) as failed:
        lookup(RT)
    assert str(failed.value) == (
        "Missing required option(s): `client_id` (or the variable zoho_thrive_client_id or the environment variable ZOHO_THRIVE_CLIENT_ID), "
        "`client_secret` (or the variable zoho_thrive_client_secret or the environment variable ZOHO_THRIVE_CLIENT_SECRET). Nothing was sent to Zoho."
    )
    assert lookup.zoho.calls == []


# -- errors: the core's message, never a traceback, never a secret ------------------------------------------


def test_zohos_refusal_is_a_lookup_error_with_the_cores_message(lookup: t.Any) -> None:
    lookup.zoho.add(json_response({"error": "invalid_code"}))
    with pytest.raises(lookup.error_type) as failed:
        lookup(RT, **CONNECTION)
    message = str(failed.value)
    assert "invalid_code" in message and "refresh" in message
    assert failed.value.__cause__ is None and failed.value.__suppress_context__  # no chained core traceback
    assert SECRET not in message and RT not in message


def test_before_ansible_core_2_19_the_failure_is_also_a_warning(lookup: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """There, no_log on the task would hide the failure's message; it holds no secret."""
    monkeypatch.setattr(lookup.module, "NO_LOG_HIDES_LOOKUP_ERRORS", True)
    with pytest.raises(lookup.error_type) as failed:
        lookup(RT, client_id=CLIENT_ID)
    assert lookup.warnings == [f"zohothrive.oauth.access_token: {failed.value}"]


def test_store_messages_use_the_lookups_option_names(lookup: t.Any, tmp_path: t.Any) -> None:
    with pytest.raises(lookup.error_type) as failed:
        lookup(RT, token_cache=str(tmp_path / "t.json"), vault_path="zohothrive/app", vault_url="http://127.0.0.1:9", vault_token="x", **CONNECTION)
    assert str(failed.value).startswith("Give either `vault_path` (a token store shared by every controller) or `token_cache` (a file), not both.")
    assert lookup.zoho.calls == []


# -- the credential rule ------------------------------------------------------------------------------


def test_padding_from_the_environment_is_removed_with_a_warning(lookup: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOHO_THRIVE_CLIENT_SECRET", SECRET + "\n")
    lookup.zoho.add(minted())
    assert lookup(RT + "\r\n", client_id=CLIENT_ID) == [MINTED]
    assert lookup.forms()[0]["client_secret"] == SECRET and lookup.forms()[0]["refresh_token"] == RT
    assert any(w.startswith("`client_secret` (from the environment variable ZOHO_THRIVE_CLIENT_SECRET) had a trailing newline") for w in lookup.warnings)
    assert any(w.startswith("The refresh token (the term) had a trailing Windows line break (CR LF), removed") for w in lookup.warnings)
    assert SECRET not in everything_shown(lookup) and RT not in everything_shown(lookup)


def test_a_control_character_inside_the_client_secret_is_refused(lookup: t.Any) -> None:
    with pytest.raises(lookup.error_type) as failed:
        lookup(RT, client_id=CLIENT_ID, client_secret=SECRET[:8] + "\u200b" + SECRET[8:])
    assert str(failed.value).startswith("`client_secret` contains control or non-ASCII characters inside the value")
    assert lookup.zoho.calls == []


# -- precedence: keyword, then variables, then environment, then ansible.cfg --------------------------------


@pytest.fixture
def ini(lookup: t.Any, monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> t.Callable[[str], None]:
    """Make Ansible's configuration manager read ``text`` as ansible.cfg."""

    def use(text: str) -> None:
        # A new file each time: the configuration manager caches each file's values by path.
        path = tmp_path / f"ansible-{len(list(tmp_path.glob('ansible-*.cfg')))}.cfg"
        path.write_text(text)
        monkeypatch.setattr(lookup.config, "_config_file", str(path))
        monkeypatch.setitem(lookup.config._parsers, str(path), None)  # pylint: disable=protected-access

    return use


SOURCES = ["keyword", "vars", "env", "ini"]


@pytest.mark.parametrize("winner", SOURCES)
def test_client_id_precedence(lookup: t.Any, monkeypatch: pytest.MonkeyPatch, ini: t.Callable[[str], None], winner: str) -> None:
    """Every source from the winner down is set, each to its own value; the winner's value reaches Zoho."""
    present = SOURCES[SOURCES.index(winner):]
    kwargs: dict[str, t.Any] = {"client_secret": SECRET}
    variables: dict[str, t.Any] = {}
    if "keyword" in present:
        kwargs["client_id"] = "1000.FROMKEYWORD"
    if "vars" in present:
        variables["zoho_thrive_client_id"] = "1000.FROMVARS"
    if "env" in present:
        monkeypatch.setenv("ZOHO_THRIVE_CLIENT_ID", "1000.FROMENV")
    ini("[zohothrive_oauth]\nclient_id = 1000.FROMINI\n" if "ini" in present else "[defaults]\n")
    lookup.zoho.add(minted())
    lookup(RT, variables=variables, **kwargs)
    assert lookup.forms()[0]["client_id"] == {"keyword": "1000.FROMKEYWORD", "vars": "1000.FROMVARS", "env": "1000.FROMENV", "ini": "1000.FROMINI"}[winner]


class RecordingVault:
    """Stands in for VaultBackend: records its settings, then refuses to be read (nothing is sent to Zoho)."""

    built: list[dict[str, t.Any]] = []
    shared = True
    noun = "token store"
    elsewhere = "point `vault.path` at another secret"
    where = "recorded"

    def __init__(self, settings: t.Mapping[str, t.Any]) -> None:
        RecordingVault.built.append(dict(settings))

    def session(self) -> t.Any:
        raise ZohoTokenStoreError("recorded only")


@pytest.fixture
def vault_settings(lookup: t.Any, monkeypatch: pytest.MonkeyPatch) -> t.Callable[..., dict[str, t.Any]]:
    monkeypatch.setattr(_options, "VaultBackend", RecordingVault)

    def run(variables: dict[str, t.Any] | None = None, **kwargs: t.Any) -> dict[str, t.Any]:
        RecordingVault.built = []
        with pytest.raises(lookup.error_type, match="recorded only"):
            lookup(RT, variables=variables, **dict(CONNECTION, **kwargs))
        (settings,) = RecordingVault.built
        return settings

    return run


def test_vault_url_follows_community_hashi_vault(
    vault_settings: t.Callable[..., dict[str, t.Any]], monkeypatch: pytest.MonkeyPatch, ini: t.Callable[[str], None]
) -> None:
    monkeypatch.setenv("VAULT_ADDR", "http://vault-addr:8200")
    ini("[defaults]\n")
    assert vault_settings(vault_path="p")["url"] == "http://vault-addr:8200"  # the low-precedence variable alone
    ini("[hashi_vault_collection]\nurl = http://ini:8200\n")
    assert vault_settings(vault_path="p")["url"] == "http://ini:8200"  # ansible.cfg beats VAULT_ADDR
    monkeypatch.setenv("ANSIBLE_HASHI_VAULT_ADDR", "http://env:8200")
    assert vault_settings(vault_path="p")["url"] == "http://env:8200"
    assert vault_settings({"ansible_hashi_vault_url": "http://vars:8200"}, vault_path="p")["url"] == "http://vars:8200"
    assert vault_settings({"ansible_hashi_vault_url": "http://vars:8200"}, vault_path="p", vault_url="http://kw:8200")["url"] == "http://kw:8200"


def test_vault_token_and_path_sources(vault_settings: t.Callable[..., dict[str, t.Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "from-vault-token")
    monkeypatch.setenv("ZOHO_THRIVE_VAULT_PATH", "zohothrive/env")
    settings = vault_settings(vault_url="http://bao:8200")
    assert settings["token"] == "from-vault-token" and settings["path"] == "zohothrive/env"
    settings = vault_settings({"ansible_hashi_vault_token": "from-vars", "zoho_thrive_vault_path": "zohothrive/vars"}, vault_url="http://bao:8200")
    assert settings["token"] == "from-vars" and settings["path"] == "zohothrive/vars"
    assert settings["engine_mount_point"] == "secret" and settings["validate_certs"] is True and settings["timeout"] == 30


def test_vault_options_without_vault_path_leave_the_vault_alone(lookup: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """ANSIBLE_HASHI_VAULT_* may be set for community.hashi_vault's own lookups: only vault_path selects the vault store."""
    monkeypatch.setenv("ANSIBLE_HASHI_VAULT_ADDR", "http://127.0.0.1:9")
    monkeypatch.setenv("VAULT_TOKEN", "irrelevant")
    lookup.zoho.add(minted())
    assert lookup(RT, **CONNECTION) == [MINTED]


def test_an_unusable_vault_setting_is_named_as_the_lookup_option(lookup: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_vault_store, "HAS_HVAC", True)  # the settings are checked before hvac is used
    with pytest.raises(lookup.error_type) as failed:
        lookup(RT, vault_path="zohothrive/app", vault_url="http://bao:8200", vault_auth_method="approle", **CONNECTION)
    assert str(failed.value) == "`vault_auth_method` approle needs `vault_role_id` and `vault_secret_id`."


# -- nothing secret in what the lookup shows ----------------------------------------------------------------


def test_verbose_messages_name_sources_by_fingerprint_only(lookup: t.Any, tmp_path: t.Any) -> None:
    lookup.zoho.add(minted())
    lookup(RT, token_cache=str(tmp_path / "t.json"), **CONNECTION)
    lookup(RT, token_cache=str(tmp_path / "t.json"), **CONNECTION)
    shown = everything_shown(lookup)
    assert lookup.verbose and "Zoho" in shown and "process cache" in shown
    for secret in (SECRET, RT, MINTED, json.dumps(RT)):
        assert secret not in shown
