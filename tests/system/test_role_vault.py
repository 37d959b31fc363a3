"""The thrive_tokens role on the shared vault store (issue 8): real ansible-playbook, a real OpenBao server, the emulator.

A "controller" here is a run with no token cache file of its own: everything it knows comes from
the vault secret, as on CI runners and Automation Platform nodes that forget everything.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
from test_role_thrive_tokens import Site, assert_ok, changed_hosts

from conftest import Emulator, PlaybookRun

SECRET_PATH = "zohothrive/app"


@pytest.fixture()
def site(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path, openbao_kv: t.Any) -> Site:
    site = Site(tmp_path / "site", fresh_emulator, ansible_playbook, ["json", "yaml", "ini", "env"])
    site.vars.pop("thrive_tokens_token_cache")
    site.vars.update(
        thrive_tokens_store="vault",
        thrive_tokens_vault_url=openbao_kv.server.addr,
        thrive_tokens_vault_token=openbao_kv.token("zohothrive/"),
        thrive_tokens_vault_engine_mount_point=openbao_kv.mount,
        thrive_tokens_vault_path=SECRET_PATH,
    )
    site.kv = openbao_kv  # type: ignore[attr-defined]
    return site


def secret(site: Site) -> dict[str, t.Any]:
    answer = site.kv.client().secrets.kv.v2.read_secret_version(  # type: ignore[attr-defined]
        path=SECRET_PATH, mount_point=site.kv.mount, raise_on_deleted_version=True  # type: ignore[attr-defined]
    )
    return answer["data"]["data"]


def host_reads(run: PlaybookRun) -> int:
    """How many hosts ran the read pass (the task that reads each host's file before the exchange)."""
    block = run.stdout.split("Read the managed keys on each host of this batch]", 1)
    return 0 if len(block) == 1 else len([line for line in block[1].split("TASK [")[0].splitlines() if line.startswith("ok: [")])


def test_the_vault_store_exchanges_once_reads_no_host_and_holds_the_tokens(site: Site) -> None:
    code = site.new_code()
    first = site.run()
    assert_ok(first)
    assert host_reads(first) == 0  # the store is authoritative: no read pass
    assert site.emulator.state()["exchanges"] == 1 and site.emulator.state()["token_requests"] == 1
    assert not site.cache.exists() and not site.cache.parent.exists()  # nothing on the controller's disk
    stored = secret(site)
    refresh = {site.read(host)["refresh_token"] for host in site.hosts}
    assert refresh == {stored["refresh_token"]}
    assert stored["code_fingerprint"] == site.read(site.hosts[0])["code_fingerprint"]
    assert stored["access_token"] == site.read(site.hosts[0])["access_token"]
    text = json.dumps(stored)
    assert code not in text and site.emulator.client_secret not in text

    again = site.run()  # another controller (nothing local either): the vault knows everything
    assert_ok(again)
    assert changed_hosts(again) == set()
    assert host_reads(again) == 0
    assert site.emulator.state()["token_requests"] == 1  # nothing sent


def test_rotation_on_the_vault_store_revokes_once_no_host_holds_the_old_token(site: Site) -> None:
    site.vars["thrive_tokens_revoke_replaced"] = True
    site.new_code()
    assert_ok(site.run())
    old = secret(site)["refresh_token"]
    site.new_code()
    rotated = site.run()
    assert_ok(rotated)
    assert site.emulator.state()["exchanges"] == 2 and site.emulator.state()["revokes"] == 1
    assert secret(site)["refresh_token"] != old
    assert not site.emulator.admin("POST", "introspect", {"token": old})["active"]
    assert {site.read(host)["refresh_token"] for host in site.hosts} == {secret(site)["refresh_token"]}


def test_a_token_that_another_inventorys_hosts_hold_is_not_revoked_from_here(site: Site, fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> None:
    """Two controllers manage two inventories through one vault secret: one's rotation must not revoke the other's token."""
    site.vars["thrive_tokens_revoke_replaced"] = True
    other = Site(tmp_path / "other", fresh_emulator, ansible_playbook, ["json", "env"])
    other.hosts = ["b1", "b2"]
    lines = ["[apps]"]
    for host, fmt in zip(other.hosts, other.formats):
        (other.root / host).mkdir(parents=True, exist_ok=True)
        lines.append(
            f"{host} ansible_connection=local ansible_python_interpreter=/usr/bin/python3 "
            f"thrive_tokens_config_format={fmt} thrive_tokens_config_path={other.config(host)}"
        )
    (other.root / "inventory.ini").write_text("\n".join(lines) + "\n")
    site.new_code()
    assert_ok(site.run())
    other.vars = site.vars  # the same client, code and vault secret
    assert_ok(other.run())  # the store knows the code: b1 and b2 get its token, no exchange
    first = secret(site)["refresh_token"]
    assert {other.read(host)["refresh_token"] for host in other.hosts} == {first}
    site.new_code()
    rotated = site.run()
    assert_ok(rotated)
    assert site.emulator.state()["revokes"] == 0  # b1 and b2 still use it
    assert site.emulator.admin("POST", "introspect", {"token": first})["active"]
    assert "b1, b2, outside this inventory" in " ".join(rotated.stdout.split())
    assert_ok(other.run())  # the other controller's hosts get the new token, and it revokes the old one
    assert site.emulator.state()["revokes"] == 1
    assert not site.emulator.admin("POST", "introspect", {"token": first})["active"]


def test_approle_login_through_the_role(site: Site) -> None:
    approle = site.kv.approle("zohothrive/")  # type: ignore[attr-defined]
    site.vars.pop("thrive_tokens_vault_token")
    site.vars.update(thrive_tokens_vault_auth_method="approle", thrive_tokens_vault_role_id=approle.role_id, thrive_tokens_vault_secret_id=approle.secret_id)
    site.new_code()
    run = site.run("-vvv")
    assert_ok(run)
    assert secret(site)["refresh_token"]
    assert approle.secret_id not in run.output  # no_log all the way


def test_a_sealed_vault_stops_the_run_before_anything_is_sent(site: Site) -> None:
    site.new_code()
    site.kv.server.seal()  # type: ignore[attr-defined]
    try:
        run = site.run()
    finally:
        site.kv.server.unseal()  # type: ignore[attr-defined]
    assert run.returncode != 0
    assert "sealed" in run.output and "Unseal it" in run.output
    assert site.emulator.state()["token_requests"] == 0  # the code is still usable
    assert not any(site.config(host).exists() for host in site.hosts)
    assert_ok(site.run())  # and works once the vault is back
    assert site.emulator.state()["exchanges"] == 1


def test_a_missing_vault_path_is_named_in_the_roles_words(site: Site) -> None:
    site.new_code()
    site.vars["thrive_tokens_vault_path"] = ""
    run = site.run()
    assert run.returncode != 0
    assert "thrive_tokens_vault_path must name the secret" in " ".join(run.output.split())
    assert site.emulator.state()["token_requests"] == 0


def test_permission_denied_names_the_role_variables(site: Site) -> None:
    site.new_code()
    site.vars["thrive_tokens_vault_token"] = site.kv.token("elsewhere/")  # type: ignore[attr-defined]
    run = site.run()
    assert run.returncode != 0
    assert "permission denied" in run.output and "`thrive_tokens_vault_token`" in run.output
    assert site.kv.server.token not in run.output  # type: ignore[attr-defined]
    assert site.emulator.state()["token_requests"] == 0
