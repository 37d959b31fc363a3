# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pytest plugin: a real OpenBao server per test session, and a fresh KV v2 mount per test.

Load it with `-p openbao_fixtures` (tests/openbao on sys.path), or import the fixtures into a
conftest.py; see tests/openbao/README.md. Fixtures:

    openbao              session  plain-HTTP dev server (root token), started once, stopped at the end
    openbao_tls          session  the same over HTTPS with the dev CA (ca_cert set); started on first use
    openbao_kv           function a new KV v2 mount on `openbao`, unmounted (data deleted) after the test
    openbao_kv_factory   function make more mounts: openbao_kv_factory(version=1, server=openbao_tls, ...)
    openbao_factory      function private servers for destructive tests (stop, seal, pause), stopped after

ZT_OPENBAO_STATE_DIR (and ZT_OPENBAO_TLS_STATE_DIR) make the session fixtures use a server that
`openbao.py start --state-dir DIR` already started (left running), or start one there.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import typing as t
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # loaded as a plugin from another directory
    sys.path.insert(0, str(HERE))

import openbao as bao  # noqa: E402  pylint: disable=wrong-import-position

if t.TYPE_CHECKING:
    import hvac


def hvac_client(server: bao.OpenBao, token: str | None = None, **kwargs: t.Any) -> hvac.Client:
    """An hvac.Client for `server` (root token unless `token`; "" for none), TLS verified against its CA."""
    import hvac  # pylint: disable=import-outside-toplevel,redefined-outer-name

    kwargs.setdefault("url", server.addr)
    kwargs.setdefault("verify", server.verify)
    kwargs.setdefault("timeout", 10)
    return hvac.Client(token=server.token if token is None else (token or None), **kwargs)


@dataclasses.dataclass(frozen=True)
class KvMount:
    """A KV mount that belongs to one test, with helpers for credentials limited to a path in it."""

    server: bao.OpenBao
    mount: str
    version: int = 2

    def client(self, token: str | None = None, **kwargs: t.Any) -> hvac.Client:
        return hvac_client(self.server, token, **kwargs)

    def policy(self, prefix: str, capabilities: t.Sequence[str] = ("create", "read", "update", "delete", "list")) -> str:
        """Create a policy granting `capabilities` on MOUNT/{data,metadata}/PREFIX[/*] only; return its name."""
        name = f"{self.mount}-{uuid.uuid4().hex[:8]}"
        self.server.put_policy(name, bao.kv2_policy(self.mount, prefix, capabilities))
        return name

    def token(self, prefix: str, capabilities: t.Sequence[str] = ("create", "read", "update", "delete", "list")) -> str:
        """A token whose only rights (besides `default`) are `capabilities` under PREFIX in this mount."""
        return self.server.create_token([self.policy(prefix, capabilities)])

    def approle(self, prefix: str, capabilities: t.Sequence[str] = ("create", "read", "update", "delete", "list")) -> bao.AppRoleCredentials:
        """An AppRole (at auth/approle) whose tokens carry a policy limited to PREFIX in this mount."""
        return self.server.create_approle(f"{self.mount}-{uuid.uuid4().hex[:8]}", [self.policy(prefix, capabilities)])


def _session_server(tmp_path_factory: pytest.TempPathFactory, env_name: str, tls: bool) -> t.Iterator[bao.OpenBao]:
    configured = os.environ.get(env_name)
    state_dir = Path(configured) if configured else tmp_path_factory.mktemp("openbao-tls" if tls else "openbao")
    already_running = bao.running(state_dir) is not None
    try:
        server = bao.start(state_dir, tls=tls)
    except bao.OpenBaoError as exc:
        pytest.fail(f"could not start OpenBao in {state_dir}: {exc}", pytrace=False)
    if tls and not server.ca_cert:
        pytest.fail(f"{env_name}={state_dir} runs a plain-HTTP OpenBao; openbao_tls needs one started with --tls", pytrace=False)
    try:
        yield server
    finally:
        if not already_running:  # leave a server that someone else started alone
            bao.stop(state_dir)


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[bao.OpenBao]:
    """The session's plain-HTTP OpenBao dev server (root token in .token, KV v2 at secret/)."""
    yield from _session_server(tmp_path_factory, "ZT_OPENBAO_STATE_DIR", tls=False)


@pytest.fixture(scope="session")
def openbao_tls(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[bao.OpenBao]:
    """The session's HTTPS OpenBao dev server; .ca_cert is the PEM to verify it with."""
    yield from _session_server(tmp_path_factory, "ZT_OPENBAO_TLS_STATE_DIR", tls=True)


@pytest.fixture()
def openbao_kv_factory(openbao: bao.OpenBao) -> t.Iterator[t.Callable[..., KvMount]]:
    """make(version=2, cas_required=False, server=None) -> KvMount; every mount is removed after the test."""
    made: list[KvMount] = []

    def make(version: int = 2, *, cas_required: bool = False, server: bao.OpenBao | None = None) -> KvMount:
        target = server or openbao
        mount = f"zt-kv{version}-{uuid.uuid4().hex[:12]}"
        target.enable_kv(mount, version, cas_required=cas_required)
        kv = KvMount(target, mount, version)
        made.append(kv)
        return kv

    yield make
    for kv in made:
        # A test may have stopped or sealed a private server (openbao_factory); nothing to clean there.
        if bao.running(kv.server.state_dir) is not None and kv.server.health().get("sealed") is False:
            kv.server.disable_mount(kv.mount)


@pytest.fixture()
def openbao_kv(openbao_kv_factory: t.Callable[..., KvMount]) -> KvMount:
    """A fresh, empty KV v2 mount on the session server, for this test only."""
    return openbao_kv_factory()


@pytest.fixture()
def openbao_factory(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[t.Callable[..., bao.OpenBao]]:
    """make(tls=False) -> a private OpenBao server for this test (to stop, seal or pause); stopped after."""
    state_dirs: list[Path] = []

    def make(tls: bool = False) -> bao.OpenBao:
        state_dir = tmp_path_factory.mktemp("openbao-private")
        state_dirs.append(state_dir)
        return bao.start(state_dir, tls=tls)

    yield make
    for state_dir in state_dirs:
        bao.stop(state_dir)
