# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Properties every module's argument spec must have, captured from the real AnsibleModule call.

Each module's ``main()`` runs with ``AnsibleModule`` replaced, in that module's namespace, by a
recorder that keeps the keyword arguments and stops ``main()`` with a sentinel exception.
"""

from __future__ import annotations

import importlib
import os
import typing as t

import pytest
import yaml

from ansible_collections.zohothrive.oauth.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.zohothrive.oauth.plugins.module_utils._module import connection_argument_spec

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MODULES_DIR = os.path.join(COLLECTION_ROOT, "plugins", "modules")
FQCN_PREFIX = "zohothrive.oauth."

SECRET_OPTIONS = {"client_secret", "code", "callback_url", "refresh_token", "access_token", "code_verifier", "expected_state", "values"}
# Modules that run on target hosts and never talk to Zoho: outside the action group, no connection options.
TARGET_SIDE_MODULES = {"zoho_thrive_config"}
CONNECTION_OPTIONS = ("client_id", "client_secret", "data_center", "accounts_url", "validate_certs", "ca_path", "timeout")


def module_names() -> list[str]:
    return sorted(name[:-3] for name in os.listdir(MODULES_DIR) if name.endswith(".py") and not name.startswith("_"))


def zoho_module_names() -> list[str]:
    return [name for name in module_names() if name not in TARGET_SIDE_MODULES]


class _Captured(Exception):
    pass


def captured_kwargs(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, t.Any]:
    module = importlib.import_module(f"ansible_collections.zohothrive.oauth.plugins.modules.{name}")
    seen: list[dict[str, t.Any]] = []

    class Recorder:
        def __init__(self, **kwargs: t.Any) -> None:
            seen.append(kwargs)
            raise _Captured

    monkeypatch.setattr(module, "AnsibleModule", Recorder)
    with pytest.raises(_Captured):
        module.main()
    assert len(seen) == 1
    return seen[0]


def walk_options(spec: dict[str, t.Any], prefix: str = "") -> t.Iterator[tuple[str, str, dict[str, t.Any]]]:
    """Yield ``(path, name, option)`` for every option, suboptions included."""
    for name, option in spec.items():
        path = f"{prefix}{name}"
        yield path, name, option
        if isinstance(option.get("options"), dict):
            yield from walk_options(option["options"], prefix=f"{path}.")


def test_the_known_modules_are_found() -> None:
    # The other tests iterate over module_names(): make sure the discovery really finds modules.
    assert {"zoho_thrive_auth_url", "zoho_thrive_ledger", "zoho_thrive_refresh", "zoho_thrive_revoke", "zoho_thrive_token_exchange"} <= set(module_names())


def test_walk_options_finds_suboptions() -> None:
    spec = {"a": {"type": "dict", "options": {"refresh_token": {"type": "str"}, "b": {"type": "dict", "options": {"code": {}}}}}}
    assert [path for path, _unused, _unused in walk_options(spec)] == ["a", "a.refresh_token", "a.b", "a.b.code"]


@pytest.mark.parametrize("name", module_names())
def test_secret_options_are_no_log(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = captured_kwargs(name, monkeypatch)["argument_spec"]
    secrets = [(path, option) for path, leaf, option in walk_options(spec) if leaf in SECRET_OPTIONS]
    assert secrets, "every module has at least one secret-bearing option"
    for path, option in secrets:
        assert option.get("no_log") is True, f"{name}: option {path} must be no_log=True"


@pytest.mark.parametrize("name", zoho_module_names())
def test_every_module_accepts_the_connection_options(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = captured_kwargs(name, monkeypatch)["argument_spec"]
    reference = connection_argument_spec()
    assert tuple(reference) == CONNECTION_OPTIONS
    for option in CONNECTION_OPTIONS:
        assert option in spec, f"{name} does not accept {option}"
        assert spec[option] == reference[option], f"{name} redefines the connection option {option}"


@pytest.mark.parametrize("name", module_names())
def test_every_module_supports_check_mode(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert captured_kwargs(name, monkeypatch).get("supports_check_mode") is True


@pytest.mark.parametrize("name", zoho_module_names())
def test_every_module_documents_the_connection_fragment_and_action_group(name: str) -> None:
    module = importlib.import_module(f"ansible_collections.zohothrive.oauth.plugins.modules.{name}")
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == name
    fragments = doc.get("extends_documentation_fragment", [])
    assert "zohothrive.oauth.connection" in fragments
    assert "zohothrive.oauth.connection.action_group" in fragments


def test_connection_doc_fragment_matches_the_argument_spec() -> None:
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    reference = connection_argument_spec()
    assert set(documented) == set(reference)
    for option, spec in reference.items():
        doc = documented[option]
        assert doc["type"] == spec["type"], option
        assert doc.get("default") == spec.get("default"), option
        assert doc.get("choices") == spec.get("choices"), option
        assert bool(doc.get("no_log")) is False  # no_log lives in the spec, not the docs
    assert reference["client_secret"]["no_log"] is True


def _action_group() -> list[str]:
    with open(os.path.join(COLLECTION_ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        runtime = yaml.safe_load(handle)
    group = runtime["action_groups"]["zoho_thrive"]
    return [entry[len(FQCN_PREFIX):] if entry.startswith(FQCN_PREFIX) else entry for entry in group if isinstance(entry, str)]


def test_every_module_is_in_the_action_group_and_vice_versa() -> None:
    group = _action_group()
    assert len(group) == len(set(group)), "duplicate entries in the zoho_thrive action group"
    assert sorted(group) == zoho_module_names()
    assert not TARGET_SIDE_MODULES & set(group)


@pytest.mark.parametrize("name", sorted(TARGET_SIDE_MODULES))
def test_target_side_modules_take_no_connection_options(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = captured_kwargs(name, monkeypatch)["argument_spec"]
    assert not set(CONNECTION_OPTIONS) & set(spec), f"{name} runs on targets and must not take Zoho connection options"
