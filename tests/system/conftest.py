"""Fixtures for system tests: real ansible-playbook runs against the Zoho Accounts emulator.

These tests drive the collection exactly as users do (ansible-playbook, the installed
collection, TLS verification on) and inspect what reached the emulator and what was printed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import typing as t
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]

# A real OpenBao server for the vault token store (tests/openbao/README.md).
sys.path.insert(0, str(REPO / "tests" / "openbao"))
from openbao_fixtures import (  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
    openbao,
    openbao_factory,
    openbao_kv,
    openbao_kv_factory,
    openbao_tls,
)
EMULATOR = REPO / "tests" / "emulator" / "zoho_accounts_emulator.py"
BIN = Path(sys.executable).parent


@dataclass
class Emulator:
    url: str
    admin_url: str
    ca_path: str
    client_id: str
    client_secret: str

    def admin(self, method: str, path: str, payload: dict[str, t.Any] | None = None) -> t.Any:
        response = requests.request(method, f"{self.admin_url}/{path.lstrip('/')}", json=payload, verify=self.ca_path, timeout=30)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self.admin("POST", "reset", {})
        # Every client setting explicitly: a test that changed one (api_domain) must not leak into the next.
        self.admin("POST", "clients", {"client_id": self.client_id, "client_secret": self.client_secret, "api_domain": "https://www.zohoapis.com"})

    def mint_code(self, **options: t.Any) -> str:
        return self.admin("POST", "codes", {"client_id": self.client_id, **options})["code"]

    def state(self) -> dict[str, t.Any]:
        return self.admin("GET", "state")

    def log(self) -> list[dict[str, t.Any]]:
        return self.admin("GET", "log")["requests"]

    def faults(self, faults: list[dict[str, t.Any]], path: str = "/oauth/v2/token") -> None:
        self.admin("POST", "faults", {"path": path, "faults": faults})


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    state_dir = tmp_path_factory.mktemp("emulator")
    client_id = f"1000.SYSTEST{uuid.uuid4().hex[:12].upper()}"
    client_secret = f"ZSEC_{uuid.uuid4().hex}"
    started = subprocess.run(
        [sys.executable, str(EMULATOR), "start", "--state-dir", str(state_dir), "--clients-file", "-"],
        input=f"{client_id}:{client_secret}\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode == 0, f"emulator did not start:\n{started.stdout}\n{started.stderr}"
    info = json.loads(started.stdout)
    try:
        yield Emulator(info["url"], info["admin_url"], info["ca_path"], client_id, client_secret)
    finally:
        subprocess.run([sys.executable, str(EMULATOR), "stop", "--state-dir", str(state_dir)], check=False)


@pytest.fixture()
def fresh_emulator(emulator: Emulator) -> Emulator:
    emulator.reset()
    return emulator


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """ANSIBLE_COLLECTIONS_PATH holding this checkout as zohothrive.oauth."""
    configured = os.environ.get("ANSIBLE_COLLECTIONS_PATH")
    if configured and (Path(configured) / "ansible_collections" / "zohothrive" / "oauth" / "galaxy.yml").is_file():
        return configured
    root = tmp_path_factory.mktemp("collections")
    target = root / "ansible_collections" / "zohothrive"
    target.mkdir(parents=True)
    (target / "oauth").symlink_to(REPO)
    return str(root)


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str
    log: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr + self.log


@pytest.fixture()
def ansible_playbook(collections_path: str, tmp_path: Path) -> t.Callable[..., PlaybookRun]:
    """Run ansible-playbook with an isolated HOME, a log file and the given arguments."""

    def run(playbook: str | Path, *args: str, env: dict[str, str] | None = None, inventory: str | None = None) -> PlaybookRun:
        log_path = tmp_path / f"ansible-{uuid.uuid4().hex[:8]}.log"
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "ZOHO_THRIVE_"))
        }
        environment.update(
            {
                "ANSIBLE_COLLECTIONS_PATH": collections_path,
                "ANSIBLE_LOG_PATH": str(log_path),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_RETRY_FILES_ENABLED": "0",
                "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
                # The hosts' temporary files: the local connection would use ~USER/.ansible/tmp, whatever HOME says.
                "ANSIBLE_REMOTE_TMP": str(tmp_path / "ansible-remote"),
                "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                "ANSIBLE_HOST_KEY_CHECKING": "0",
            }
        )
        environment.update(env or {})
        command = [str(BIN / "ansible-playbook"), "-i", inventory or "localhost,", "-c", "local", str(playbook), *args]
        completed = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=tmp_path, check=False)
        log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
        return PlaybookRun(completed.returncode, completed.stdout, completed.stderr, log)

    return run


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def which(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} not found"
    return found


@pytest.fixture(scope="session")
def wheel_collections(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A collections path holding community.hashi_vault, from the pinned `ansible` wheel (requirements-wheel-collections.txt).

    Galaxy is not reachable from CI; the documented playbook of docs/examples uses its lookup.
    """
    cache = REPO / ".build" / "downloads"
    cache.mkdir(parents=True, exist_ok=True)
    download = subprocess.run(
        # The package's own Requires-Python (>=3.12) does not concern a wheel that is only unpacked: ask for that Python's wheel.
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version=3.12", "--require-hashes"]
        + ["-r", str(Path(__file__).with_name("requirements-wheel-collections.txt")), "-d", str(cache)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert download.returncode == 0, download.stdout + download.stderr
    wheel = next(cache.glob("ansible-14.5.0-*.whl"))
    root = tmp_path_factory.mktemp("wheel-collections")
    prefix = "ansible_collections/community/hashi_vault/"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(root, [name for name in archive.namelist() if name.startswith(prefix)])
    assert (root / prefix / "plugins" / "lookup" / "vault_kv2_get.py").is_file()
    return str(root)
