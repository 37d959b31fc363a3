# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Self-tests of the Zoho Accounts emulator, against a real instance over verified TLS.

Run with:  python -m pytest tests/emulator/test_emulator.py   (needs requests, trustme, pytest)
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

EMULATOR = Path(__file__).resolve().with_name("zoho_accounts_emulator.py")
TOKEN_RE = re.compile(r"^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$")
CLIENT_ID = "1000.TESTCLIENT"
CLIENT_SECRET = "ZSEC_client_secret_sentinel"
REDIRECT_URI = "https://app.example.test/callback"


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EMULATOR), *args], capture_output=True, text=True, timeout=60, check=check)


@dataclass
class Emulator:
    state_dir: Path
    url: str
    admin_url: str
    ca_path: str
    pid: int

    def admin(self, method: str, route: str, payload: dict[str, Any] | None = None, expect: int = 200) -> Any:
        response = requests.request(method, f"{self.admin_url}{route}", json=payload, verify=self.ca_path, timeout=10)
        assert response.status_code == expect, response.text
        return response.json()

    def post(self, path: str, data: dict[str, str] | None = None, params: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        return requests.post(f"{self.url}{path}", data=data, params=params, verify=self.ca_path, timeout=10, **kwargs)

    def mint(self, **payload: Any) -> str:
        return str(self.admin("POST", "/codes", {"client_id": CLIENT_ID, **payload})["code"])

    def exchange(self, code: str, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET, **extra: str) -> requests.Response:
        form = {"grant_type": "authorization_code", "client_id": client_id, "client_secret": client_secret, "code": code, **extra}
        return self.post("/oauth/v2/token", form)

    def refresh(self, refresh_token: str, client_id: str = CLIENT_ID) -> requests.Response:
        form = {"grant_type": "refresh_token", "client_id": client_id, "client_secret": CLIENT_SECRET, "refresh_token": refresh_token}
        return self.post("/oauth/v2/token", form)

    def new_refresh_token(self, **mint_args: Any) -> str:
        return str(self.exchange(self.mint(**mint_args)).json()["refresh_token"])

    def faults(self, *faults: dict[str, Any], path: str = "/oauth/v2/token") -> None:
        self.admin("POST", "/faults", {"path": path, "faults": list(faults)})

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.admin("GET", "/state")
        return state

    def log(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.admin("GET", "/log")["requests"]
        return entries


@pytest.fixture(name="running", scope="session")
def fixture_running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    state_dir = tmp_path_factory.mktemp("emulator")
    started = run_cli("start", "--state-dir", str(state_dir), "--client", f"{CLIENT_ID}:{CLIENT_SECRET}")
    info = json.loads(started.stdout)
    yield Emulator(state_dir, info["url"], info["admin_url"], info["ca_path"], info["pid"])
    run_cli("stop", "--state-dir", str(state_dir))


@pytest.fixture(name="emu")
def fixture_emu(running: Emulator) -> Emulator:
    running.admin("POST", "/reset")
    return running


# ---- transport and lifecycle ------------------------------------------------------------


def test_emulator_json_describes_a_verified_https_server(emu: Emulator) -> None:
    info = json.loads((emu.state_dir / "emulator.json").read_text())
    assert info["url"] == f"https://127.0.0.1:{info['port']}"
    assert re.fullmatch(re.escape(f"{info['url']}/_emulator/") + r"[A-Za-z0-9_-]{32}", info["admin_url"])
    assert Path(info["ca_path"]).is_absolute() and Path(info["ca_path"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert emu.admin("GET", "/health") == {"ok": True}
    localhost = requests.get(f"https://localhost:{info['port']}/_emulator/health", verify=emu.ca_path, timeout=10)
    assert localhost.json() == {"ok": True}


def test_tls_fails_without_the_ca(emu: Emulator) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{emu.url}/_emulator/health", timeout=10)
    assert emu.admin("GET", "/health") == {"ok": True}  # the failed handshake did not hurt the server


# ---- nothing for other local users: the admin key, private files, no secret on a command line ----


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _client_works(info: dict[str, Any], client_id: str, secret: str) -> bool:
    code = requests.post(f"{info['admin_url']}/codes", json={"client_id": client_id}, verify=info["ca_path"], timeout=10).json()["code"]
    form = {"grant_type": "authorization_code", "client_id": client_id, "client_secret": secret, "code": code}
    return "refresh_token" in requests.post(f"{info['url']}/oauth/v2/token", data=form, verify=info["ca_path"], timeout=10).json()


def test_admin_api_needs_the_key_from_emulator_json(emu: Emulator) -> None:
    # Any local user can reach 127.0.0.1; the request log holds client secrets and the state holds tokens.
    key = emu.admin_url.rsplit("/", 1)[1]
    for guess in ("", "/state", "/log", "/wrong-key/state", f"/{key[:-1]}/state", f"/{key}x/state", f"/{key.upper()}/log"):
        response = requests.get(f"{emu.url}/_emulator{guess}", verify=emu.ca_path, timeout=10)
        assert (response.status_code, response.json()) == (404, {"error": "not_found"}), guess
    denied = requests.post(f"{emu.url}/_emulator/clients", json={"client_id": "1000.X", "client_secret": "s"}, verify=emu.ca_path, timeout=10)
    assert denied.status_code == 404 and "1000.X" not in json.dumps(emu.state())
    assert emu.admin("GET", "/health") == {"ok": True}
    # Readiness stays open to anyone and says nothing else.
    assert requests.get(f"{emu.url}/_emulator/health", verify=emu.ca_path, timeout=10).json() == {"ok": True}
    assert emu.log() == []  # refused admin calls are not OAuth requests either


def test_state_dir_and_its_files_are_private(emu: Emulator) -> None:
    assert emu.state_dir.stat().st_mode & 0o777 == 0o700
    for name in ("emulator.json", "emulator.log"):
        assert (emu.state_dir / name).stat().st_mode & 0o077 == 0, name


def test_a_log_file_elsewhere_is_created_private(tmp_path: Path) -> None:
    log = tmp_path / "elsewhere" / "emu.log"
    log.parent.mkdir()
    run_cli("start", "--state-dir", str(tmp_path / "state"), "--log-file", str(log))
    try:
        assert log.stat().st_mode & 0o077 == 0
    finally:
        run_cli("stop", "--state-dir", str(tmp_path / "state"))


def test_the_client_secret_is_on_no_command_line(tmp_path: Path, running: Emulator) -> None:
    # The session emulator was started with --client ID:SECRET: `start` hands it to `serve` on a pipe.
    assert CLIENT_SECRET.encode() not in _cmdline(running.pid) and b"--from-start" in _cmdline(running.pid)
    secret = "ZSEC_from_a_file_" + os.urandom(8).hex()
    started = subprocess.run(
        [sys.executable, str(EMULATOR), "start", "--state-dir", str(tmp_path), "--clients-file", "-"],
        input=f"# id:secret, one per line\n\n1000.FROMSTDIN:{secret}\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    info = json.loads(started.stdout)
    try:
        assert secret.encode() not in _cmdline(info["pid"])
        assert _client_works(info, "1000.FROMSTDIN", secret)
    finally:
        run_cli("stop", "--state-dir", str(tmp_path))


def test_a_private_clients_file_registers_its_clients(tmp_path: Path) -> None:
    clients = tmp_path / "clients"
    clients.write_text("1000.A:secret-a\n1000.B:secret:with:colons\n")
    clients.chmod(0o600)
    info = json.loads(run_cli("start", "--state-dir", str(tmp_path / "state"), "--clients-file", str(clients)).stdout)
    try:
        assert _client_works(info, "1000.A", "secret-a") and _client_works(info, "1000.B", "secret:with:colons")
        assert not _client_works(info, "1000.B", "secret")
    finally:
        run_cli("stop", "--state-dir", str(tmp_path / "state"))


def _refused(tmp_path: Path, *args: str, stdin: str | None = None) -> str:
    state_dir = tmp_path / "refused-state"
    try:
        result = subprocess.run(
            [sys.executable, str(EMULATOR), "start", "--state-dir", str(state_dir), *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
        )
    finally:  # should it have started after all, it must not outlive the test
        if (state_dir / "emulator.json").exists():
            run_cli("stop", "--state-dir", str(state_dir), check=False)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert not (state_dir / "emulator.json").exists()
    return result.stderr


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_clients_file_other_users_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    clients = tmp_path / "clients"
    clients.write_text("1000.A:do-not-print-me\n")
    clients.chmod(mode)
    error = _refused(tmp_path, "--clients-file", str(clients))
    assert f"--clients-file {clients}" in error and f"mode {mode:04o}" in error and f"chmod 600 {clients}" in error
    assert "do-not-print-me" not in error


@pytest.mark.parametrize(
    ("content", "line"), [("1000.A\n", 1), ("# ok\n1000.A:s\n:nosuchid\n", 3), ("1000.A:\n", 1), ("1000.A:s\n1000.A:t\n", 2)]
)
def test_a_bad_clients_line_is_named_by_number_not_content(tmp_path: Path, content: str, line: int) -> None:
    error = _refused(tmp_path, "--clients-file", "-", stdin=content)
    assert f"--clients-file - line {line}:" in error and "ID:SECRET" in error
    assert "nosuchid" not in error and ":s\n" not in error


def test_a_bad_client_argument_is_not_echoed(tmp_path: Path) -> None:
    result = run_cli("start", "--state-dir", str(tmp_path), "--client", "a-pasted-secret-without-id", check=False)
    assert result.returncode == 2 and "expected ID:SECRET" in result.stderr and "a-pasted-secret" not in result.stderr


def test_a_shared_state_dir_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "refused-state"
    shared.mkdir()
    shared.chmod(0o777)
    error = _refused(tmp_path)
    assert f"--state-dir {shared}: {shared} is writable by other users (mode 0777)" in error
    assert not (shared / "ca.pem").exists()


def test_a_state_dir_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to hand a directory to another user")
    theirs = tmp_path / "refused-state"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    error = _refused(tmp_path)
    assert f"--state-dir {theirs}: {theirs} belongs to uid 65534" in error


def test_a_readable_state_dir_of_our_own_is_refused_not_changed(tmp_path: Path) -> None:
    # Changing an existing directory's mode would lock others out of it (say, one a symlink led to).
    ours = tmp_path / "refused-state"
    ours.mkdir()
    ours.chmod(0o755)
    error = _refused(tmp_path)
    assert f"--state-dir {ours} is open to other users (mode 0755)" in error and f"chmod 700 {ours}" in error
    assert ours.stat().st_mode & 0o777 == 0o755


# ---- what a hostile local user could plant (a review found these; each failed before its fix) ----

NOBODY = 65534


def _as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to hand files to another user")


def _give_away(*paths: Path) -> None:
    for path in paths:
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)


def test_a_log_file_symlink_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    loot = tmp_path / "loot"
    loot.write_text("")
    (tmp_path / "emu.log").symlink_to(loot)
    error = _refused(tmp_path, "--log-file", str(tmp_path / "emu.log"))
    assert f"--log-file {tmp_path / 'emu.log'}: cannot open it" in error and "not a symlink" in error
    assert loot.read_text() == ""


def test_an_existing_log_of_ours_is_made_private_and_never_names_the_key(tmp_path: Path) -> None:
    log = tmp_path / "old.log"
    log.write_text("an older run\n")
    log.chmod(0o644)
    state = tmp_path / "state"
    info = json.loads(run_cli("start", "--state-dir", str(state), "--log-file", str(log)).stdout)
    try:
        assert log.stat().st_mode & 0o777 == 0o600
        requests.get(f"{info['admin_url']}/state", verify=info["ca_path"], timeout=10).raise_for_status()
        form = {"client_secret": "ZSEC_in_the_query"}
        requests.post(f"{info['url']}/oauth/v2/token", params=form, verify=info["ca_path"], timeout=10)
    finally:
        run_cli("stop", "--state-dir", str(state))
    text = log.read_text()
    key = info["admin_url"].rsplit("/", 1)[1]
    assert "GET /_emulator/KEY/state" in text and "POST /oauth/v2/token?..." in text
    assert key not in text and "ZSEC_in_the_query" not in text


@pytest.mark.parametrize("log", ["a-directory", "no-such-dir/emu.log"])
def test_a_log_file_that_cannot_be_a_file_is_one_line(tmp_path: Path, log: str) -> None:
    (tmp_path / "a-directory").mkdir()
    assert "--log-file" in _refused(tmp_path, "--log-file", str(tmp_path / log))


def test_a_state_dir_symlink_of_another_user_is_refused_and_its_target_unchanged(tmp_path: Path) -> None:
    _as_root()
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o755)
    victim.chmod(0o755)
    (tmp_path / "refused-state").symlink_to(victim)
    _give_away(tmp_path / "refused-state")
    error = _refused(tmp_path)
    assert f"the symlink {tmp_path / 'refused-state'} belongs to uid {NOBODY}" in error
    assert victim.stat().st_mode & 0o777 == 0o755 and list(victim.iterdir()) == []


def test_a_state_dir_symlink_of_ours_to_an_open_directory_is_refused_unchanged(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    victim.chmod(0o755)
    (tmp_path / "refused-state").symlink_to(victim)
    assert "is open to other users (mode 0755)" in _refused(tmp_path)
    assert victim.stat().st_mode & 0o777 == 0o755 and list(victim.iterdir()) == []


def test_a_state_dir_inside_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    # Its owner could swap the state directory for another one between the check and the use.
    _as_root()
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    _give_away(theirs)
    result = run_cli("start", "--state-dir", str(theirs / "emu"), check=False)
    if result.returncode == 0:
        run_cli("stop", "--state-dir", str(theirs / "emu"))
    assert result.returncode == 2 and f"{theirs} belongs to uid {NOBODY}" in result.stderr
    assert not (theirs / "emu").exists()


def test_a_state_dir_below_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = run_cli("start", "--state-dir", str(tmp_path / "file" / "emu"), check=False)
    assert result.returncode == 2 and "is not a directory" in result.stderr and "Traceback" not in result.stderr


def test_serve_refuses_a_state_dir_that_changed_since_start_checked_it(tmp_path: Path) -> None:
    handoff = json.dumps({"clients": [], "state_dir": [0, 0]})
    result = subprocess.run(
        [sys.executable, str(EMULATOR), "serve", "--state-dir", str(tmp_path), "--from-start"],
        input=handoff, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2 and "was replaced while the emulator started" in result.stderr
    assert not (tmp_path / "emulator.json").exists()


def test_stop_never_signals_an_emulator_of_another_state_dir(tmp_path: Path, running: Emulator) -> None:
    (tmp_path / "emulator.json").write_text(json.dumps({"pid": running.pid, "port": 1, "url": "u", "admin_url": "a", "ca_path": "c"}))
    (tmp_path / "emulator.json").chmod(0o600)
    assert run_cli("stop", "--state-dir", str(tmp_path)).stdout == "emulator not running\n"
    assert running.admin("GET", "/health") == {"ok": True}


@pytest.mark.parametrize(
    "info",
    [
        '{"pid": 99999999999999999999, "port": 1, "url": "u", "admin_url": "a", "ca_path": "c"}',
        '{"pid": true, "port": 1}',
        '{"pid": 1, "port": [1]}',
        '{"pid": 1, "port": 70000, "url": "u", "admin_url": "a", "ca_path": "c"}',
        "[1, 2]",
        "not json",
    ],
)
def test_stop_and_mint_code_read_a_bad_emulator_json_as_not_running(tmp_path: Path, info: str) -> None:
    (tmp_path / "emulator.json").write_text(info)
    (tmp_path / "emulator.json").chmod(0o600)
    stop = run_cli("stop", "--state-dir", str(tmp_path), check=False)
    assert (stop.returncode, stop.stdout, stop.stderr) == (0, "emulator not running\n", "")
    (tmp_path / "emulator.json").write_text(info)
    mint = run_cli("mint-code", "--state-dir", str(tmp_path), "--client-id", CLIENT_ID, check=False)
    assert (mint.returncode, mint.stdout) == (1, "") and mint.stderr == f"no running emulator in {tmp_path}\n"


def test_an_emulator_json_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "emulator.json", 0o600)
    assert run_cli("stop", "--state-dir", str(tmp_path)).stdout == "emulator not running\n"  # run_cli has a 60 s timeout
    os.mkfifo(tmp_path / "emulator.json", 0o600)
    assert run_cli("mint-code", "--state-dir", str(tmp_path), "--client-id", CLIENT_ID, check=False).returncode == 1


def test_an_emulator_json_of_another_user_is_not_trusted(tmp_path: Path, running: Emulator) -> None:
    _as_root()
    forged = tmp_path / "emulator.json"
    forged.write_text((running.state_dir / "emulator.json").read_text())
    _give_away(forged)
    assert run_cli("stop", "--state-dir", str(tmp_path)).stdout == "emulator not running\n"
    assert run_cli("mint-code", "--state-dir", str(tmp_path), "--client-id", CLIENT_ID, check=False).returncode == 1
    assert running.admin("GET", "/health") == {"ok": True}


def _serve_processes(state_dir: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in cmdline and str(state_dir).encode() in cmdline:
                found.append(int(proc.name))
    return found


@pytest.mark.parametrize(
    ("stdin", "message"),
    [(b"1000.X:top\xffsecret\n", "not UTF-8 text"), (b"x" * (1024 * 1024 + 1), "larger than 1048576 bytes")],
)
def test_bad_bytes_on_stdin_start_nothing(tmp_path: Path, stdin: bytes, message: str) -> None:
    state_dir = tmp_path / "state"
    result = subprocess.run(
        [sys.executable, str(EMULATOR), "start", "--state-dir", str(state_dir), "--clients-file", "-"],
        input=stdin, capture_output=True, timeout=60, check=False,
    )
    left = _serve_processes(state_dir)
    for pid in left:
        os.kill(pid, signal.SIGTERM)
    assert result.returncode == 2 and message in result.stderr.decode() and b"Traceback" not in result.stderr
    assert not left


def test_a_clients_file_that_is_not_a_regular_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir(mode=0o700)
    os.mkfifo(tmp_path / "fifo", 0o600)
    (tmp_path / "binary").write_bytes(b"1000.A:\xff\n")
    (tmp_path / "binary").chmod(0o600)
    assert "not a regular file" in _refused(tmp_path, "--clients-file", str(tmp_path / "dir"))
    assert "not a regular file" in _refused(tmp_path, "--clients-file", str(tmp_path / "fifo"))
    assert "not UTF-8 text" in _refused(tmp_path, "--clients-file", str(tmp_path / "binary"))
    assert "no such file" in _refused(tmp_path, "--clients-file", str(tmp_path / "missing"))


def test_client_arguments_reach_serve_exactly(tmp_path: Path) -> None:
    info = json.loads(run_cli("start", "--state-dir", str(tmp_path), "--client", "1000.X:sec ", "--client", "#1000.Y:s").stdout)
    try:
        assert _client_works(info, "1000.X", "sec ") and not _client_works(info, "1000.X", "sec")
        assert _client_works(info, "#1000.Y", "s")
    finally:
        run_cli("stop", "--state-dir", str(tmp_path))


def test_a_client_given_twice_is_refused_by_start(tmp_path: Path) -> None:
    error = _refused(tmp_path, "--client", "1000.A:one", "--clients-file", "-", stdin="1000.A:two\n")
    assert "a client id is given twice" in error and "one" not in error.split("given twice")[0]


def _raw_request(emu: Emulator, request: bytes) -> bytes:
    context = ssl.create_default_context(cafile=emu.ca_path)
    port = int(emu.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(request)
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "request_line",
    [
        b'GET /x\x1b[2K\x1b[1G127.0.0.1 - - [x] "FAKE"\xc2\x85forged HTTP/1.1',
        b'POST /oauth/v2/token\r127.0.0.1 - - [x] "POST /_emulator/KEY/clients HTTP/1.1" 200 - HTTP/1.1',
        b"GET /a\xe2\x80\xa8forged HTTP/1.1",
    ],
)
def test_a_request_line_cannot_forge_log_lines(emu: Emulator, request_line: bytes) -> None:
    log = emu.state_dir / "emulator.log"
    before = log.read_bytes()
    _raw_request(emu, request_line + b"\r\nConnection: close\r\n\r\n")
    emu.admin("GET", "/health")  # the line above is written before the health check answers
    added = log.read_bytes()[len(before):].decode("utf-8")
    assert added.count("\n") == len(added.splitlines()), added  # no line break but the real ones
    assert not any(ch in added for ch in "\x1b\r\x85\u2028")
    # Every line is one the emulator began: the forged text stays inside, escaped.
    assert all(re.match(r"127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4} [\d:]{8}\] ", line) for line in added.splitlines()), added
    assert not re.search(r"\n127\.0\.0\.1 - - \[x\]", added)


def test_a_request_target_urlsplit_cannot_parse_gets_a_400(emu: Emulator) -> None:
    answer = _raw_request(emu, b"GET http://[x/oauth/v2/token HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert "Traceback" not in (emu.state_dir / "emulator.log").read_text()


def test_a_clients_file_below_a_symlink_of_another_user_is_refused(tmp_path: Path) -> None:
    _as_root()
    secrets_dir = tmp_path / "root-only"
    secrets_dir.mkdir(mode=0o700)
    (secrets_dir / "creds").write_text("alice:hunter2\n")
    (secrets_dir / "creds").chmod(0o600)
    (tmp_path / "theirs").symlink_to(secrets_dir)
    _give_away(tmp_path / "theirs")
    error = _refused(tmp_path, "--clients-file", str(tmp_path / "theirs" / "creds"))
    assert f"the symlink {tmp_path / 'theirs'} belongs to uid {NOBODY}" in error and "hunter2" not in error


def test_a_planted_default_log_is_refused(tmp_path: Path) -> None:
    _as_root()
    state_dir = tmp_path / "refused-state"
    state_dir.mkdir(mode=0o700)
    (state_dir / "emulator.log").write_text("")
    _give_away(state_dir / "emulator.log")
    assert "not a regular file of yours with a single link" in _refused(tmp_path)
    os.unlink(state_dir / "emulator.log")
    os.mkfifo(state_dir / "emulator.log", 0o600)
    assert "not a regular file of yours with a single link" in _refused(tmp_path)


def test_a_large_valid_clients_file_survives_the_handoff(tmp_path: Path) -> None:
    clients = "".join(f"1000.C{n}:{'é' * 100}\n" for n in range(3000))  # about 650 kB, JSON-escaped about 2 MB
    started = subprocess.run(
        [sys.executable, str(EMULATOR), "start", "--state-dir", str(tmp_path), "--clients-file", "-"],
        input=clients, capture_output=True, text=True, timeout=60, check=False,
    )
    try:
        assert started.returncode == 0, started.stderr
        assert _client_works(json.loads(started.stdout), "1000.C2999", "é" * 100)
    finally:
        run_cli("stop", "--state-dir", str(tmp_path))


def test_bad_clients_create_no_state_dir(tmp_path: Path) -> None:
    _refused(tmp_path, "--clients-file", "-", stdin="no-colon\n")
    assert not (tmp_path / "refused-state").exists()


def test_an_emulator_json_that_is_a_directory_reads_as_not_running(tmp_path: Path) -> None:
    (tmp_path / "emulator.json").mkdir()
    stop = run_cli("stop", "--state-dir", str(tmp_path), check=False)
    assert (stop.returncode, stop.stdout, stop.stderr) == (0, "emulator not running\n", "")


def test_start_again_reports_the_running_instance(emu: Emulator) -> None:
    again = json.loads(run_cli("start", "--state-dir", str(emu.state_dir)).stdout)
    assert again["pid"] == emu.pid and again["url"] == emu.url


def test_start_stop_lifecycle(tmp_path: Path) -> None:
    info = json.loads(run_cli("start", "--state-dir", str(tmp_path)).stdout)
    assert requests.get(f"{info['url']}/_emulator/health", verify=info["ca_path"], timeout=10).ok
    assert run_cli("stop", "--state-dir", str(tmp_path)).returncode == 0
    assert not (tmp_path / "emulator.json").exists()
    assert "stopped" in (tmp_path / "emulator.log").read_text()
    assert run_cli("stop", "--state-dir", str(tmp_path)).returncode == 0  # not running: still fine


@pytest.mark.parametrize(("missing", "command"), [("trustme", "start"), ("cryptography", "start"), ("trustme", "serve")])
def test_a_missing_dependency_fails_with_a_one_line_hint(tmp_path: Path, missing: str, command: str) -> None:
    # issue 7 item 8: `python3 ... start` on a fresh clone (no trustme) printed a ModuleNotFoundError traceback.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "trustme.py").write_text(f"raise ModuleNotFoundError(\"No module named '{missing}'\", name={missing!r})\n")
    state_dir = tmp_path / "state"
    result = subprocess.run(
        [sys.executable, str(EMULATOR), command, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(shadow)},
    )
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"the Python package '{missing}' is missing for {sys.executable}" in lines[0]
    assert f"make venv && .venv/bin/python tests/emulator/zoho_accounts_emulator.py {command} ..." in lines[0]
    # Only the venv: `python3 -m pip install` fails on an externally managed system Python (Debian, Ubuntu; PEP 668).
    assert "pip install" not in lines[0] and "python3 -m" not in lines[0]
    assert not (state_dir / "emulator.json").exists()  # nothing was started


def test_mint_code_cli_prints_only_the_code(emu: Emulator) -> None:
    out = run_cli("mint-code", "--state-dir", str(emu.state_dir), "--client-id", CLIENT_ID, "--scope", "A.b.READ", "--scope", "C.d.ALL")
    code = out.stdout.strip()
    assert TOKEN_RE.match(code) and out.stdout == f"{code}\n"
    assert emu.exchange(code).json()["scope"] == "A.b.READ C.d.ALL"
    failed = run_cli("mint-code", "--state-dir", str(emu.state_dir), "--client-id", "nobody", check=False)
    assert failed.returncode == 1 and failed.stdout == "" and "unknown client_id" in failed.stderr


# ---- code exchange ----------------------------------------------------------------------


def test_exchange_success_and_single_use(emu: Emulator) -> None:
    code = emu.mint()
    response = emu.exchange(code)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "api_domain", "token_type", "expires_in", "scope"}
    assert TOKEN_RE.match(body["access_token"]) and TOKEN_RE.match(body["refresh_token"])
    assert body["api_domain"] == "https://www.zohoapis.com"
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 3600, "Thrive.Referral.CREATE")
    assert response.headers["Content-Length"] == str(len(response.content))

    again = emu.exchange(code)
    assert (again.status_code, again.json()) == (200, {"error": "invalid_code"})
    state = emu.state()
    assert (state["exchanges"], state["token_requests"]) == (1, 2)
    assert state["codes"][0]["used"] is True
    assert emu.admin("POST", "/introspect", {"token": body["access_token"]})["active"] is True


def test_expired_code_via_clock(emu: Emulator) -> None:
    code = emu.mint(ttl=60)
    assert emu.admin("POST", "/clock", {"advance": 61})["now"] > time.time() + 60
    assert emu.exchange(code).json() == {"error": "invalid_code"}


def test_invalid_client_vs_invalid_client_secret(emu: Emulator) -> None:
    code = emu.mint()
    assert emu.exchange(code, client_id="1000.UNKNOWN").json() == {"error": "invalid_client"}
    assert emu.exchange(code, client_secret="wrong").json() == {"error": "invalid_client_secret"}
    assert "access_token" in emu.exchange(code).json()  # failed client checks do not burn the code


def test_a_non_ascii_client_secret_is_compared_not_crashed_on(emu: Emulator) -> None:
    # secrets.compare_digest refuses non-ASCII str: the server dropped the connection with a traceback.
    assert emu.exchange(emu.mint(), client_secret="wrong-é").json() == {"error": "invalid_client_secret"}


def test_code_of_another_client_is_invalid(emu: Emulator) -> None:
    emu.admin("POST", "/clients", {"client_id": "1000.OTHER", "client_secret": CLIENT_SECRET})
    code = emu.mint()
    assert emu.exchange(code, client_id="1000.OTHER").json() == {"error": "invalid_code"}


def test_invalid_redirect_uri_keeps_the_code(emu: Emulator) -> None:
    code = emu.mint(redirect_uri=REDIRECT_URI)
    assert emu.exchange(code).json() == {"error": "invalid_redirect_uri"}
    assert emu.exchange(code, redirect_uri=f"{REDIRECT_URI}/").json() == {"error": "invalid_redirect_uri"}
    assert "access_token" in emu.exchange(code, redirect_uri=REDIRECT_URI).json()
    self_client_code = emu.mint()
    assert "access_token" in emu.exchange(self_client_code, redirect_uri="https://anything.test/").json()


def test_legacy_expiry_comma_scope_and_api_domain(emu: Emulator) -> None:
    emu.admin("POST", "/clients", {"client_id": CLIENT_ID, "legacy_expiry": True, "scope_separator": ",", "api_domain": "https://www.zohoapis.eu"})
    try:
        body = emu.exchange(emu.mint(scope=["Thrive.Referral.CREATE", "ZohoCRM.users.READ"])).json()
        assert (body["expires_in_sec"], body["expires_in"]) == (3600, 3600000)
        assert body["scope"] == "Thrive.Referral.CREATE,ZohoCRM.users.READ"
        assert body["api_domain"] == "https://www.zohoapis.eu"
        refreshed = emu.refresh(body["refresh_token"]).json()
        assert (refreshed["expires_in_sec"], refreshed["expires_in"]) == (3600, 3600000)
    finally:
        emu.admin("POST", "/clients", {"client_id": CLIENT_ID, "legacy_expiry": False, "scope_separator": " ", "api_domain": "https://www.zohoapis.com"})


def test_online_code_gives_no_refresh_token(emu: Emulator) -> None:
    body = emu.exchange(emu.mint(access_type="online")).json()
    assert "access_token" in body and "refresh_token" not in body


def test_request_errors(emu: Emulator) -> None:
    assert emu.post("/oauth/v2/token", {"client_id": CLIENT_ID}).json() == {"error": "unsupported_grant_type"}
    assert emu.post("/oauth/v2/token", {"grant_type": "password"}).json() == {"error": "unsupported_grant_type"}
    missing_code = {"grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert emu.post("/oauth/v2/token", missing_code).json() == {"error": "invalid_request"}
    get = requests.get(f"{emu.url}/oauth/v2/token", verify=emu.ca_path, timeout=10)
    assert (get.status_code, get.headers["Allow"]) == (405, "POST")
    assert requests.get(f"{emu.url}/oauth/v2/token/revoke", verify=emu.ca_path, timeout=10).status_code == 405
    assert emu.post("/oauth/v2/auth").status_code == 404
    assert emu.admin("POST", "/codes", {"client_id": "nobody"}, expect=400)["error"].startswith("unknown client_id")


def test_an_unknown_path_answers_an_html_404_like_the_real_server(emu: Emulator) -> None:
    # The doubled path of an accounts_url that already ends with /oauth/v2/token (issue 7 item 2).
    code = emu.mint()
    form = {"grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code}
    response = emu.post("/oauth/v2/token/oauth/v2/token", form)
    assert response.status_code == 404 and response.headers["Content-Type"].startswith("text/html")
    assert "<title>Zoho Accounts - 404</title>" in response.text
    state = emu.state()
    assert (state["requests"], state["token_requests"], state["exchanges"]) == (1, 0, 0)
    assert emu.log()[-1]["outcome"] == "not_found"
    assert "access_token" in emu.exchange(code).json()  # not processed: the code still works
    assert emu.state()["requests"] == 2


# ---- refresh, throttle, cap, revoke -----------------------------------------------------


def test_refresh_never_returns_a_refresh_token(emu: Emulator) -> None:
    refresh_token = emu.new_refresh_token()
    body = emu.refresh(refresh_token).json()
    assert set(body) == {"access_token", "api_domain", "token_type", "expires_in", "scope"}
    introspection = emu.admin("POST", "/introspect", {"token": body["access_token"]})
    assert (introspection["active"], introspection["kind"]) == (True, "access")
    assert introspection["expires_at"] == pytest.approx(emu.state()["now"] + 3600, abs=5)
    emu.admin("POST", "/clock", {"advance": 3601})
    assert emu.admin("POST", "/introspect", {"token": body["access_token"]})["active"] is False
    assert emu.admin("POST", "/introspect", {"token": refresh_token})["kind"] == "refresh"
    assert emu.refresh("1000.unknown.token").json() == {"error": "invalid_code"}
    assert emu.state()["refreshes"] == 1


def test_rotation_when_configured(emu: Emulator) -> None:
    emu.admin("POST", "/config", {"rotate_refresh_tokens": True})
    old = emu.new_refresh_token()
    new = emu.refresh(old).json()["refresh_token"]
    assert new != old and TOKEN_RE.match(new)
    assert emu.refresh(old).json() == {"error": "invalid_code"}
    assert "access_token" in emu.refresh(new).json()


def test_throttle_after_ten_mints(emu: Emulator) -> None:
    refresh_token = emu.new_refresh_token()  # the exchange is mint number 1
    for _mint in range(2, 11):  # mints 2 to 10 are allowed
        assert "access_token" in emu.refresh(refresh_token).json()
    throttled = emu.refresh(refresh_token)
    assert throttled.status_code == 200
    assert throttled.json() == {
        "error": "Access Denied",
        "error_description": "You have made too many requests continuously. Please try again after some time.",
        "status": "failure",
    }
    assert emu.admin("POST", "/config", {"throttle_status": 400})["throttle_status"] == 400
    assert emu.refresh(refresh_token).status_code == 400
    emu.admin("POST", "/clock", {"advance": 601})
    assert "access_token" in emu.refresh(refresh_token).json()
    assert emu.state()["refreshes"] == 10


def test_revoke_success_then_400(emu: Emulator) -> None:
    refresh_token = emu.new_refresh_token()
    access_token = emu.refresh(refresh_token).json()["access_token"]
    first = emu.post("/oauth/v2/token/revoke", params={"token": refresh_token})  # Zoho's documented query form
    assert (first.status_code, first.json()) == (200, {"status": "success"})
    second = emu.post("/oauth/v2/token/revoke", {"token": refresh_token})
    assert (second.status_code, second.json()) == (400, {"status": "failure", "error": "invalid_token"})
    assert emu.post("/oauth/v2/token/revoke", {"token": "1000.nope.nope"}).status_code == 400
    assert emu.admin("POST", "/introspect", {"token": access_token})["active"] is False
    assert emu.refresh(refresh_token).json() == {"error": "invalid_code"}
    assert emu.state()["revokes"] == 1


def test_twenty_first_refresh_token_evicts_the_oldest(emu: Emulator) -> None:
    tokens = [emu.new_refresh_token() for _index in range(20)]
    oldest_access = emu.refresh(tokens[0]).json()["access_token"]
    other_user = emu.new_refresh_token(user="someone-else")
    assert emu.state()["evictions"] == 0
    tokens.append(emu.new_refresh_token())

    state = emu.state()
    assert state["evictions"] == 1
    evicted = [rt["token"] for rt in state["refresh_tokens"] if rt["evicted"]]
    assert evicted == [tokens[0]]
    assert emu.refresh(tokens[0]).json() == {"error": "invalid_code"}
    assert emu.admin("POST", "/introspect", {"token": oldest_access})["active"] is False
    assert "access_token" in emu.refresh(tokens[1]).json()
    assert "access_token" in emu.refresh(other_user).json()


# ---- faults -----------------------------------------------------------------------------


def test_fault_status(emu: Emulator) -> None:
    emu.faults({"kind": "status", "status": 503, "body": "<html>down</html>", "content_type": "text/html", "headers": {"Retry-After": "1"}})
    code = emu.mint()
    response = emu.exchange(code)
    assert (response.status_code, response.text, response.headers["Retry-After"]) == (503, "<html>down</html>", "1")
    assert response.headers["Content-Type"] == "text/html"
    assert "access_token" in emu.exchange(code).json()  # not processed: the code survived
    assert emu.state()["token_requests"] == 2


@pytest.mark.parametrize(
    ("kind", "content_type", "check"),
    [
        ("html", "text/html", lambda text: text.lstrip().startswith("<!DOCTYPE html>")),
        ("broken_json", "application/json", lambda text: text.startswith("{") and not _parses(text)),
        ("non_object_json", "application/json", lambda text: json.loads(text) == ["not", "an", "object"]),
    ],
)
def test_fault_bad_bodies(emu: Emulator, kind: str, content_type: str, check: Any) -> None:
    emu.faults({"kind": kind})
    code = emu.mint()
    response = emu.exchange(code)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(content_type)
    assert check(response.text)
    assert "access_token" in emu.exchange(code).json()


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_fault_reset_before_leaves_the_code_unused(emu: Emulator) -> None:
    emu.faults({"kind": "reset_before"})
    code = emu.mint()
    with pytest.raises(requests.exceptions.ConnectionError):
        emu.exchange(code)
    assert "access_token" in emu.exchange(code).json()
    assert [entry["fault"] for entry in emu.log()] == ["reset_before", None]


def test_fault_reset_after_consumes_the_code(emu: Emulator) -> None:
    emu.faults({"kind": "reset_after"})
    code = emu.mint()
    with pytest.raises(requests.exceptions.ConnectionError):
        emu.exchange(code)
    assert emu.exchange(code).json() == {"error": "invalid_code"}
    assert emu.state()["exchanges"] == 1
    assert [(entry["fault"], entry["outcome"]) for entry in emu.log()] == [("reset_after", "success"), (None, "invalid_code")]


def test_fault_slow(emu: Emulator) -> None:
    emu.faults({"kind": "slow", "delay": 0.3})
    started = time.monotonic()
    response = emu.exchange(emu.mint())
    assert time.monotonic() - started >= 0.3
    assert "access_token" in response.json()
    emu.faults({"kind": "slow", "delay": 0.5})
    with pytest.raises(requests.exceptions.ReadTimeout):  # how a client sees an answer that comes too late
        requests.post(f"{emu.url}/oauth/v2/token", data={"grant_type": "x"}, verify=emu.ca_path, timeout=0.1)
    # The server still handles it: wait for that, or it would land in the next test's log.
    deadline = time.monotonic() + 10
    while len(emu.log()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [entry["fault"] for entry in emu.log()] == ["slow", "slow"]


def test_fault_drip_body_processes_then_dribbles(emu: Emulator) -> None:
    emu.faults({"kind": "drip", "interval_ms": 200})
    code = emu.mint()
    started = time.monotonic()
    response = requests.post(
        f"{emu.url}/oauth/v2/token",
        data={"grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code},
        verify=emu.ca_path,
        timeout=5,
        stream=True,
    )
    assert response.status_code == 200  # the headers come at once
    first = response.raw.read(3)
    assert first == b'{"a' and time.monotonic() - started >= 0.4  # three bytes, about 200 ms apart
    response.close()
    assert emu.state()["exchanges"] == 1  # processed: the code is spent although the answer never arrived
    assert [(entry["fault"], entry["outcome"]) for entry in emu.log()] == [("drip", "success")]
    assert emu.exchange(code).json() == {"error": "invalid_code"}


def test_fault_drip_all_delays_the_headers_too(emu: Emulator) -> None:
    emu.faults({"kind": "drip", "interval_ms": 100, "part": "all"})
    with pytest.raises(requests.exceptions.ReadTimeout):
        # a per-read timeout never fires on a drip: only the client's own deadline can stop it; here the headers take > 1 s
        requests.post(f"{emu.url}/oauth/v2/token", data={"grant_type": "x"}, verify=emu.ca_path, timeout=(5, 0.05))


def test_fault_drip_validation(emu: Emulator) -> None:
    emu.admin("POST", "/faults", {"path": "/oauth/v2/token", "faults": [{"kind": "drip", "interval_ms": 0}]}, expect=400)
    emu.admin("POST", "/faults", {"path": "/oauth/v2/token", "faults": [{"kind": "drip", "part": "head"}]}, expect=400)


@pytest.mark.parametrize("chunked", [False, True])
def test_fault_oversize_pads_the_access_token(emu: Emulator, chunked: bool) -> None:
    emu.faults({"kind": "oversize", "size": 2 * 1024 * 1024, "chunked": chunked})
    code = emu.mint()
    response = emu.exchange(code)
    assert len(response.content) >= 2 * 1024 * 1024
    assert ("Content-Length" in response.headers) is not chunked
    assert response.headers.get("Transfer-Encoding") == ("chunked" if chunked else None)
    token = response.json()["access_token"]
    assert TOKEN_RE.match(token[:70]) and token.endswith("aaaa") and len(token) >= 2 * 1024 * 1024 - 300
    assert emu.state()["exchanges"] == 1 and emu.exchange(code).json() == {"error": "invalid_code"}


def test_fault_deep_json(emu: Emulator) -> None:
    emu.faults({"kind": "deep_json", "depth": 100_000})
    code = emu.mint()
    response = emu.exchange(code)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    assert response.content == b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(response.content)
    assert "access_token" in emu.exchange(code).json()  # not processed: the code survived
    emu.admin("POST", "/faults", {"path": "/oauth/v2/token", "faults": [{"kind": "deep_json", "depth": 0}]}, expect=400)


def test_fault_status_with_a_non_ascii_retry_after(emu: Emulator) -> None:
    emu.faults({"kind": "status", "status": 503, "headers": {"Retry-After": "\u00b2"}})
    response = emu.exchange(emu.mint())
    assert response.status_code == 503
    assert response.raw.headers["Retry-After"] == "\u00b2"  # sent as the Latin-1 byte 0xB2


def test_fault_redirect(emu: Emulator) -> None:
    emu.faults({"kind": "redirect", "status": 308, "location": "https://accounts.zoho.eu/oauth/v2/token"}, {"kind": "redirect"})
    code = emu.mint()
    response = emu.post("/oauth/v2/token", {"code": code}, allow_redirects=False)
    assert (response.status_code, response.headers["Location"]) == (308, "https://accounts.zoho.eu/oauth/v2/token")
    default = emu.post("/oauth/v2/token", {"code": code}, allow_redirects=False)
    assert (default.status_code, default.headers["Location"]) == (307, f"{emu.url}/oauth/v2/moved")
    assert "access_token" in emu.exchange(code).json()


@pytest.mark.parametrize(
    ("body_kind", "content_type", "body"),
    [
        ("html", "text/html;charset=UTF-8", "<title>404 Not Found</title>"),
        ("empty", None, ""),
        ("text", "text/plain;charset=UTF-8", "404 Not Found\n"),
        ("json", "application/json;charset=UTF-8", '{"error": "not_found", "status": 404}'),
    ],
)
def test_fault_status_body_kinds(emu: Emulator, body_kind: str, content_type: str | None, body: str) -> None:
    emu.faults({"kind": "status", "status": 404, "body_kind": body_kind})
    code = emu.mint()
    response = emu.exchange(code)
    assert response.status_code == 404
    assert response.headers.get("Content-Type") == content_type
    assert body in response.text if body else response.content == b""
    assert "access_token" in emu.exchange(code).json()  # a replacing fault: the request was not processed


@pytest.mark.parametrize("status", [405, 407, 413, 429, 501, 511])
def test_fault_status_drives_every_not_processed_row(emu: Emulator, status: int) -> None:
    emu.faults({"kind": "status", "status": status, "body_kind": "text", "headers": {"Retry-After": "0"}})
    code = emu.mint()
    response = emu.exchange(code)
    assert (response.status_code, response.headers["Content-Type"], response.headers["Retry-After"]) == (status, "text/plain;charset=UTF-8", "0")
    assert "access_token" in emu.exchange(code).json()


def test_fault_status_after_processing_spends_the_code(emu: Emulator) -> None:
    # A proxy's 502 after Zoho processed the exchange: what an "unknown" answer hides.
    emu.faults({"kind": "status", "status": 502, "body_kind": "html", "process": True})
    code = emu.mint()
    response = emu.exchange(code)
    assert response.status_code == 502 and "<title>502 Bad Gateway</title>" in response.text
    entry = emu.log()[-1]
    assert (entry["fault"], entry["outcome"], entry["status"]) == ("status", "success", 502)
    assert emu.exchange(code).json() == {"error": "invalid_code"}  # the code was used
    assert emu.state()["exchanges"] == 1


def test_fault_status_validation(emu: Emulator) -> None:
    for fault in ({"kind": "status", "body_kind": "xml"}, {"kind": "status", "process": "yes"}, {"kind": "status", "status": 99}):
        emu.admin("POST", "/faults", {"faults": [fault]}, expect=400)
    explicit = {"kind": "status", "status": 418, "body": "short and stout", "content_type": "text/plain", "body_kind": "json"}
    emu.faults(explicit)
    response = emu.post("/oauth/v2/token", {})
    assert (response.status_code, response.text, response.headers["Content-Type"]) == (418, "short and stout", "text/plain")


def test_faults_are_a_fifo_per_path_and_can_be_cleared(emu: Emulator) -> None:
    emu.faults({"kind": "status", "status": 502}, {"kind": "html"})
    emu.faults({"kind": "status", "status": 500}, path="/oauth/v2/token/revoke")
    assert emu.post("/oauth/v2/token", {}).status_code == 502
    assert emu.post("/oauth/v2/token/revoke", {"token": "x"}).status_code == 500
    assert emu.post("/oauth/v2/token", {}).headers["Content-Type"].startswith("text/html")
    assert emu.post("/oauth/v2/token", {}).json() == {"error": "unsupported_grant_type"}
    emu.faults({"kind": "html"})
    assert emu.admin("DELETE", "/faults") == {"faults": {}}
    assert emu.post("/oauth/v2/token", {}).json() == {"error": "unsupported_grant_type"}
    assert emu.admin("POST", "/faults", {"faults": [{"kind": "explode"}]}, expect=400)


# ---- request log, config, reset ---------------------------------------------------------


def test_request_log_records_query_vs_form(emu: Emulator) -> None:
    code = emu.mint()
    emu.exchange(code)
    emu.post("/oauth/v2/token", params={"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": "r"})
    form_entry, query_entry = emu.log()  # admin calls are never logged

    assert CLIENT_SECRET not in form_entry["query_string"] and form_entry["query"] == {}
    assert form_entry["form"]["client_secret"] == CLIENT_SECRET and form_entry["form"]["code"] == code
    assert form_entry["content_type"] == "application/x-www-form-urlencoded"
    assert (form_entry["method"], form_entry["path"], form_entry["outcome"], form_entry["fault"]) == ("POST", "/oauth/v2/token", "success", None)

    assert f"client_secret={CLIENT_SECRET}" in query_entry["query_string"]
    assert query_entry["query"]["refresh_token"] == "r" and query_entry["form"] == {}
    assert query_entry["outcome"] == "invalid_code" and query_entry["seq"] == form_entry["seq"] + 1

    assert emu.admin("DELETE", "/log") == {"requests": []}
    assert emu.log() == []


def test_config_validation_and_reset(emu: Emulator) -> None:
    config = emu.admin("POST", "/config", {"throttle_limit": 2, "throttle_window": 60, "refresh_token_cap": 3})
    assert config == {"throttle_limit": 2, "throttle_window": 60, "throttle_status": 200, "refresh_token_cap": 3, "rotate_refresh_tokens": False}
    emu.admin("POST", "/config", {"bogus": 1}, expect=400)
    emu.admin("POST", "/config", {"throttle_limit": True}, expect=400)
    emu.admin("POST", "/clock", {"advance": -1}, expect=400)
    emu.admin("POST", "/clock", {"advance": 100})
    emu.exchange(emu.mint())

    emu.admin("POST", "/reset")
    state = emu.state()
    assert (state["exchanges"], state["token_requests"], state["requests"], state["codes"], state["refresh_tokens"]) == (0, 0, 0, [], [])
    assert state["config"]["throttle_limit"] == 10 and state["now"] < time.time() + 50
    assert emu.log() == []
    assert "access_token" in emu.exchange(emu.mint()).json()  # clients survive a reset
