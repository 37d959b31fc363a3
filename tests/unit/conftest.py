# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures shared by the unit tests.

- Every test runs without the ``ZOHO_THRIVE_*`` environment variables, so a developer's shell
  cannot change a result.
- ``run_module`` runs a module's ``main()`` with the given arguments and returns its parsed JSON
  result (``exit_json`` and ``fail_json`` both end in ``SystemExit``).
- ``zoho`` replaces the HTTP layer of the modules: ``ZohoOAuthClient`` is built with a scripted
  :class:`FakeSession` and a sleep recorder, and the constructor arguments are kept.
"""

from __future__ import annotations

import json
import os
import typing as t

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings

from ansible_collections.zohothrive.oauth.plugins.module_utils import _client, _options
from ansible_collections.zohothrive.oauth.tests.unit.fakes import FakeSession, Recorder

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19
    patch_module_args = None

ENV_VARS = ("ZOHO_THRIVE_CLIENT_ID", "ZOHO_THRIVE_CLIENT_SECRET", "ZOHO_THRIVE_DATA_CENTER", "ZOHO_THRIVE_ACCOUNTS_URL")


@pytest.fixture
def umask_000() -> t.Iterator[None]:
    """Run a test under umask 000, where a careless create would be world-writable."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


class ModuleResult(dict):
    """The parsed JSON a module printed, plus the exit status and the raw output."""

    rc: int
    stdout: str

    @property
    def failed(self) -> bool:
        return bool(self.get("failed"))

    @property
    def warning_messages(self) -> list[str]:
        """Warning texts, whether the profile returns plain strings or WarningSummary objects."""
        messages = []
        for warning in self.get("warnings", []):
            if isinstance(warning, dict):
                warning = (warning.get("event") or {}).get("msg", warning.get("msg"))
            messages.append(str(warning))
        return messages


def _args_context(monkeypatch: pytest.MonkeyPatch, args: dict[str, t.Any]) -> t.Any:
    if patch_module_args is not None:
        return patch_module_args(args)
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8"))
    if hasattr(basic, "_ANSIBLE_PROFILE"):
        monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy")
    return _NullContext()


class _NullContext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: t.Any) -> None:
        return None


@pytest.fixture
def run_module(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> t.Callable[..., ModuleResult]:
    """Run ``module.main()`` with ``args`` and return the parsed result."""
    try:
        from ansible.module_utils import _internal
    except ImportError:  # pragma: no cover - older ansible-core
        _internal = None
    if _internal is not None and hasattr(_internal, "is_controller"):
        monkeypatch.setattr(_internal, "is_controller", False)  # module-side warnings end up in the result

    def run(module: t.Any, args: dict[str, t.Any], *, check_mode: bool = False) -> ModuleResult:
        # Warnings are kept in a process-wide dict: start each run from an empty one.
        monkeypatch.setattr(ansible_warnings, "_global_warnings", {})
        monkeypatch.setattr(ansible_warnings, "_global_deprecations", {})
        full = dict(args)
        if check_mode:
            full["_ansible_check_mode"] = True
        capsys.readouterr()  # drop anything printed before
        with _args_context(monkeypatch, full):
            with pytest.raises(SystemExit) as exit_info:
                module.main()
        out = capsys.readouterr().out
        lines = [line for line in out.splitlines() if line.strip()]
        assert lines, "the module printed nothing"
        result = ModuleResult(json.loads(lines[-1]))
        result.rc = int(exit_info.value.code or 0)
        result.stdout = out
        assert result.rc == (1 if result.failed else 0), f"exit status {result.rc} does not match failed={result.failed}"
        return result

    return run


class ZohoHTTP:
    """What the ``zoho`` fixture gives a test: the fake session and what the modules asked for."""

    def __init__(self) -> None:
        self.session = FakeSession()
        self.sleep = Recorder()
        self.clients: list[dict[str, t.Any]] = []

    def add(self, *steps: t.Any) -> ZohoHTTP:
        self.session.add(*steps)
        return self

    @property
    def calls(self) -> list[t.Any]:
        return self.session.calls


@pytest.fixture
def zoho(monkeypatch: pytest.MonkeyPatch) -> ZohoHTTP:
    """Build every module's ZohoOAuthClient with a scripted fake session and no real sleeping."""
    http = ZohoHTTP()
    real_client = _client.ZohoOAuthClient

    def build(accounts_url: str, **kwargs: t.Any) -> _client.ZohoOAuthClient:
        http.clients.append(dict(kwargs, accounts_url=accounts_url))
        kwargs.setdefault("session", http.session)
        kwargs.setdefault("sleep", http.sleep)
        return real_client(accounts_url, **kwargs)

    monkeypatch.setattr(_options, "ZohoOAuthClient", build)

    def no_real_session() -> t.NoReturn:
        raise AssertionError("a real requests.Session was created: the test would reach the network")

    monkeypatch.setattr(_client.requests, "Session", no_real_session)
    return http
