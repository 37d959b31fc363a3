"""The documented playbooks of the vault store (issue 8, item 2), run as written against OpenBao and the emulator.

docs/examples holds one complete playbook for each way to give the role the client secret and the
grant code: Ansible Vault variables, or community.hashi_vault lookups from the same Vault that
holds the token store. Each test runs the file unchanged; only what points at the real world
(the accounts server, the vault's address and login, the config file's place and owner, become)
is overridden with extra variables or the environment, as a user's inventory would. Each then
rotates the code the way the playbook's comments say, and checks that the hosts and the store
follow with exactly one more exchange.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from conftest import REPO, Emulator, PlaybookRun, write

EXAMPLES = REPO / "docs" / "examples"
STORE_PATH = "zohothrive/myapp"
CLIENT_PATH = "zohothrive/myapp-client"


class Fleet:
    """Two local hosts, their files, and what stands in for the real world in the examples."""

    def __init__(self, root: Path, emulator: Emulator, kv: t.Any) -> None:
        self.root = root
        self.emulator = emulator
        self.kv = kv
        self.hosts = ["web1", "web2"]
        (root / "hosts").mkdir(parents=True)  # /etc/myapp in the examples: the application's package made it
        write(
            root / "inventory.ini",
            "[apps]\n" + "".join(f"{host} ansible_connection=local\n" for host in self.hosts) + "[apps:vars]\nansible_python_interpreter=/usr/bin/python3\n",
        )
        self.overrides: dict[str, t.Any] = {
            "thrive_tokens_accounts_url": emulator.url,
            "thrive_tokens_ca_path": emulator.ca_path,
            "thrive_tokens_config_path": str(root / "hosts" / "{{ inventory_hostname }}.env"),
            "thrive_tokens_config_owner": "root",
            "ansible_become": False,
        }

    def env_file(self, host: str) -> dict[str, str]:
        values = {}
        for line in (self.root / "hosts" / f"{host}.env").read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                values[key] = value
        return values

    def store(self) -> dict[str, t.Any]:
        answer = self.kv.client().secrets.kv.v2.read_secret_version(path=STORE_PATH, mount_point=self.kv.mount, raise_on_deleted_version=True)
        return answer["data"]["data"]

    def run(self, ansible_playbook: t.Callable[..., PlaybookRun], playbook: str, *args: str, env: dict[str, str] | None = None) -> PlaybookRun:
        extra = write(self.root / "overrides.json", json.dumps(self.overrides))
        os.chmod(extra, 0o600)
        run = ansible_playbook(self.root / playbook, "-e", f"@{extra}", *args, inventory=str(self.root / "inventory.ini"), env=env)
        assert run.returncode == 0, run.output[-6000:]
        return run

    def check(self, run: PlaybookRun, *, exchanges: int) -> None:
        state = self.emulator.state()
        assert state["exchanges"] == exchanges, run.output[-4000:]
        stored = self.store()
        for host in self.hosts:
            assert self.env_file(host)["ZOHO_THRIVE_REFRESH_TOKEN"] == stored["refresh_token"]
        secrets = [self.emulator.client_secret, stored["refresh_token"], stored["access_token"]]
        assert not any(secret in run.output for secret in secrets)


@pytest.fixture()
def fleet(tmp_path: Path, fresh_emulator: Emulator, openbao_kv: t.Any) -> Fleet:
    return Fleet(tmp_path / "fleet", fresh_emulator, openbao_kv)


def test_the_ansible_vault_example_runs_as_written(fleet: Fleet, ansible_playbook: t.Callable[..., PlaybookRun]) -> None:
    playbook = (EXAMPLES / "vault_store_ansible_vault.yml").read_text()
    write(fleet.root / "site.yml", playbook)
    approle = fleet.kv.approle("zohothrive/")
    password = write(fleet.root / "vault-pass", "correct horse battery staple\n")
    os.chmod(password, 0o600)
    ansible_vault = str(Path(sys.executable).parent / "ansible-vault")

    def secrets(code: str) -> None:
        text = (
            f"vault_zoho_client_id: {fleet.emulator.client_id}\nvault_zoho_client_secret: {fleet.emulator.client_secret}\n"
            f"vault_zoho_grant_code: {code}\nvault_approle_secret_id: {approle.secret_id}\n"
        )
        target = fleet.root / "zoho_secrets.yml"
        target.unlink(missing_ok=True)
        command = [ansible_vault, "encrypt", "--vault-password-file", str(password), "--output", str(target), "-"]
        subprocess.run(command, input=text, text=True, check=True, capture_output=True)

    fleet.overrides.update(
        thrive_tokens_vault_url=fleet.kv.server.addr,
        thrive_tokens_vault_engine_mount_point=fleet.kv.mount,
        thrive_tokens_vault_role_id=approle.role_id,  # the example's role ID is a placeholder, like its URL
    )
    secrets(fleet.emulator.mint_code(ttl=600))
    first = fleet.run(ansible_playbook, "site.yml", "--vault-password-file", str(password))
    fleet.check(first, exchanges=1)
    again = fleet.run(ansible_playbook, "site.yml", "--vault-password-file", str(password))
    assert "changed=0" in again.stdout and fleet.emulator.state()["token_requests"] == 1  # nothing sent
    old = fleet.store()["refresh_token"]
    secrets(fleet.emulator.mint_code(ttl=600))  # rotation: ansible-vault edit, a new code
    rotated = fleet.run(ansible_playbook, "site.yml", "--vault-password-file", str(password))
    fleet.check(rotated, exchanges=2)
    assert fleet.store()["refresh_token"] != old
    assert fleet.emulator.state()["revokes"] == 1  # thrive_tokens_revoke_replaced: every host has the new token


def test_the_hashi_vault_lookup_example_runs_as_written(
    fleet: Fleet, ansible_playbook: t.Callable[..., PlaybookRun], collections_path: str, wheel_collections: str
) -> None:
    write(fleet.root / "site.yml", (EXAMPLES / "vault_store_hashi_vault.yml").read_text())
    kv2 = fleet.kv.client().secrets.kv.v2
    kv2.create_or_update_secret(
        path=CLIENT_PATH,
        mount_point=fleet.kv.mount,
        secret={"client_id": fleet.emulator.client_id, "client_secret": fleet.emulator.client_secret, "grant_code": fleet.emulator.mint_code(ttl=600)},
    )
    fleet.overrides["zoho_vault_mount"] = fleet.kv.mount
    # One login for the lookups and the store, as the example's comments say (a token here; AppRole works alike).
    env = {
        "ANSIBLE_COLLECTIONS_PATH": f"{collections_path}:{wheel_collections}",
        "VAULT_ADDR": fleet.kv.server.addr,
        "VAULT_TOKEN": fleet.kv.token("zohothrive/"),
    }
    first = fleet.run(ansible_playbook, "site.yml", env=env)
    fleet.check(first, exchanges=1)
    again = fleet.run(ansible_playbook, "site.yml", env=env)
    assert "changed=0" in again.stdout and fleet.emulator.state()["token_requests"] == 1
    old = fleet.store()["refresh_token"]
    kv2.patch(path=CLIENT_PATH, mount_point=fleet.kv.mount, secret={"grant_code": fleet.emulator.mint_code(ttl=600)})  # bao kv patch
    rotated = fleet.run(ansible_playbook, "site.yml", env=env)
    fleet.check(rotated, exchanges=2)
    assert fleet.store()["refresh_token"] != old and fleet.emulator.state()["revokes"] == 1
