"""The thrive_tokens role's deployment ledger: a revoke never breaks a host (issue 6, item 2).

Real ansible-playbook runs against the emulator. The emulator's introspection tells whether Zoho
still accepts a refresh token, which is what a host's application depends on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from conftest import Emulator, PlaybookRun
from test_role_thrive_tokens import Site, assert_ok, recap, sha256


@pytest.fixture()
def fleet(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> Site:
    site = Site(tmp_path / "site", fresh_emulator, ansible_playbook, ["json", "env", "json"])
    site.vars["thrive_tokens_revoke_replaced"] = True
    site.vars["thrive_tokens_allow_limited_exchange"] = True  # --limit with a new code: the operator's explicit choice
    return site


def active(site: Site, token: str) -> bool:
    return bool(site.emulator.admin("POST", "introspect", {"token": token})["active"])


def held(site: Site) -> dict[str, str]:
    return {host: site.read(host)["refresh_token"] for host in site.hosts}


def assert_no_secrets(site: Site, run: PlaybookRun, *tokens: str) -> None:
    for secret in (site.emulator.client_secret, *tokens):
        assert secret not in run.output


def deferral_lines(run: PlaybookRun) -> list[str]:
    return [line for line in run.stdout.splitlines() if "is not revoked yet" in line or "in a later serial batch" in line]


def set_host_vars(site: Site, host: str, extra: str) -> None:
    inventory = site.root / "inventory.ini"
    lines = [line + f" {extra}" if line.split(" ", 1)[0] == host else line for line in inventory.read_text().splitlines()]
    inventory.write_text("\n".join(lines) + "\n")


def test_limit_defers_the_revoke_until_a_full_run(fleet: Site) -> None:
    """The issue's input: code A on app1..app3, then code B with --limit app1."""
    fleet.new_code()
    assert_ok(fleet.run())
    old = fleet.read("app1")["refresh_token"]

    fleet.new_code()
    limited = fleet.run("--limit", "app1", "-v")
    assert_ok(limited)
    assert fleet.read("app1")["refresh_token"] != old
    assert held(fleet)["app2"] == old and held(fleet)["app3"] == old
    assert active(fleet, old), "the old refresh token was revoked while app2 and app3 still use it"
    assert fleet.emulator.state()["revokes"] == 0
    assert any("app2, app3" in line and sha256(old)[:12] in line for line in deferral_lines(limited))
    assert_no_secrets(fleet, limited, old, fleet.read("app1")["refresh_token"])

    full = fleet.run("-v")
    assert_ok(full)
    new = fleet.read("app1")["refresh_token"]
    assert set(held(fleet).values()) == {new}
    assert not active(fleet, old) and active(fleet, new)
    assert fleet.emulator.state()["revokes"] == 1
    assert deferral_lines(full) == []
    assert_no_secrets(fleet, full, old, new)
    assert_ok(again := fleet.run())
    assert fleet.emulator.state()["revokes"] == 1 and not any(c.get("changed") for c in recap(again).values())


def test_limited_runs_that_reach_every_holder_complete_the_revoke(fleet: Site) -> None:
    """The ledger knows app2 and app3 were the last holders: --limit app2,app3 may finish the job."""
    fleet.new_code()
    assert_ok(fleet.run())
    old = fleet.read("app1")["refresh_token"]
    fleet.new_code()
    assert_ok(fleet.run("--limit", "app1"))
    assert_ok(fleet.run("--limit", "app2"))
    assert active(fleet, old)  # app3 still holds it
    assert_ok(last := fleet.run("--limit", "app3"))
    assert not active(fleet, old) and fleet.emulator.state()["revokes"] == 1
    assert deferral_lines(last) == []


def hand_made_refresh_token(emulator: Emulator) -> str:
    """A refresh token someone got by hand (not through the role) for the same client."""
    code = emulator.mint_code(ttl=600)
    answer = requests.post(
        f"{emulator.url}/oauth/v2/token",
        data={"grant_type": "authorization_code", "client_id": emulator.client_id, "client_secret": emulator.client_secret, "code": code},
        verify=emulator.ca_path,
        timeout=30,
    ).json()
    return answer["refresh_token"]


def test_a_hand_provisioned_token_is_never_revoked(fleet: Site) -> None:
    manual = hand_made_refresh_token(fleet.emulator)
    for host in fleet.hosts:  # provisioned by hand: no code_fingerprint
        path = fleet.config(host)
        if fleet.formats[fleet.hosts.index(host)] == "env":
            path.write_text(f"ZOHO_THRIVE_REFRESH_TOKEN={manual}\n")
        else:
            path.write_text(json.dumps({"refresh_token": manual}) + "\n")
        path.chmod(0o600)
    revokes = fleet.emulator.state()["revokes"]

    fleet.new_code()
    first = fleet.run("-v")
    assert_ok(first)
    assert manual not in held(fleet).values()
    assert active(fleet, manual), "the role revoked a refresh token it did not mint"
    assert fleet.emulator.state()["revokes"] == revokes
    assert_no_secrets(fleet, first, manual)

    fleet.new_code()  # a later rotation revokes the role's own token, still not the hand-made one
    mine = fleet.read("app1")["refresh_token"]
    assert_ok(fleet.run())
    assert not active(fleet, mine) and active(fleet, manual)
    assert fleet.emulator.state()["revokes"] == revokes + 1


@pytest.mark.parametrize(
    "breakage",
    [
        "thrive_tokens_config_owner=no-such-user-zt",  # the write fails on that host
        "ansible_python_interpreter=/nonexistent/python3",  # no module can run there: the host fails
        "ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_timeout=5",  # unreachable
    ],
    ids=["write-failed", "host-failed", "unreachable"],
)
def test_a_failed_or_unreachable_host_defers_the_revoke(fleet: Site, breakage: str) -> None:
    fleet.new_code()
    assert_ok(fleet.run())
    old = fleet.read("app1")["refresh_token"]
    fleet.new_code()
    assert_ok(fleet.run("--limit", "app1"))  # the controller now holds the new code's tokens

    inventory = (fleet.root / "inventory.ini").read_text()
    set_host_vars(fleet, "app2", breakage)
    partial = fleet.run()
    assert partial.returncode != 0
    counters = recap(partial)["app2"]
    assert counters.get("failed", 0) + counters.get("unreachable", 0) >= 1
    assert fleet.read("app2")["refresh_token"] == old and fleet.read("app3")["refresh_token"] != old
    assert active(fleet, old)
    assert fleet.emulator.state()["revokes"] == 0
    lines = deferral_lines(partial)
    assert any("app2 still hold" in line for line in lines) and not any("app3" in line for line in lines), partial.stdout[-3000:]

    (fleet.root / "inventory.ini").write_text(inventory)
    assert_ok(fleet.run())
    assert not active(fleet, old) and fleet.emulator.state()["revokes"] == 1


def test_a_rotation_with_a_failing_host_defers_the_revoke(fleet: Site) -> None:
    fleet.new_code()
    assert_ok(fleet.run())
    old = fleet.read("app1")["refresh_token"]
    inventory = (fleet.root / "inventory.ini").read_text()
    set_host_vars(fleet, "app3", "thrive_tokens_config_owner=no-such-user-zt")
    fleet.new_code()
    partial = fleet.run()
    assert partial.returncode != 0 and recap(partial)["app3"]["failed"] == 1
    assert active(fleet, old) and fleet.emulator.state()["revokes"] == 0
    assert any("app3 still hold" in line for line in deferral_lines(partial)), partial.stdout[-3000:]
    (fleet.root / "inventory.ini").write_text(inventory)
    assert_ok(fleet.run())
    assert not active(fleet, old) and fleet.emulator.state()["revokes"] == 1


def test_serial_batches_revoke_once_after_the_last_batch(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> None:
    site = Site(tmp_path / "site", fresh_emulator, ansible_playbook, ["json"] * 5)
    site.vars["thrive_tokens_revoke_replaced"] = True
    site.serial = "serial: 2"
    site.new_code()
    assert_ok(site.run())
    old = site.read("app1")["refresh_token"]
    site.new_code()
    rotated = site.run()
    assert_ok(rotated)
    assert len(set(held(site).values())) == 1 and old not in held(site).values()
    assert not active(site, old) and fresh_emulator.state()["revokes"] == 1
    waits = deferral_lines(rotated)  # the first two batches wait for the later ones, and say so
    assert len(waits) == 2 and all("in a later serial batch of this run" in line for line in waits)
    assert "app3, app4, app5" in waits[0] and "app5" in waits[1] and "app3" not in waits[1]
    log = fresh_emulator.log()
    revoke_seq = [entry["seq"] for entry in log if entry["path"].endswith("/revoke")]
    assert len(revoke_seq) == 1


def test_serial_batches_with_a_failing_last_batch_defer(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> None:
    site = Site(tmp_path / "site", fresh_emulator, ansible_playbook, ["json"] * 3)
    site.vars["thrive_tokens_revoke_replaced"] = True
    site.serial = "serial: 2"
    site.new_code()
    assert_ok(site.run())
    old = site.read("app1")["refresh_token"]
    site.new_code()
    site.vars["thrive_tokens_allow_limited_exchange"] = True
    assert_ok(site.run("--limit", "app1"))  # the controller holds the new code's tokens: no host is read first
    set_host_vars(site, "app3", "thrive_tokens_config_owner=no-such-user-zt")  # app3 (the last batch) cannot be written
    run = site.run()
    assert run.returncode != 0 and recap(run)["app3"]["failed"] == 1
    assert site.read("app2")["refresh_token"] != old, run.output[-5000:]
    assert active(site, old) and fresh_emulator.state()["revokes"] == 0
    assert any("app3" in line for line in deferral_lines(run)), run.stdout[-3000:]


def test_check_mode_predicts_and_sends_nothing(fleet: Site) -> None:
    fleet.new_code()
    assert_ok(fleet.run())
    old = fleet.read("app1")["refresh_token"]
    fleet.new_code()
    assert_ok(fleet.run("--limit", "app1"))
    requests_before = fleet.emulator.state()["token_requests"]
    cache_before = fleet.cache.read_bytes()

    limited = fleet.run("--check", "--limit", "app1", "-v")
    assert_ok(limited)
    assert any("app2, app3" in line for line in deferral_lines(limited))

    dry = fleet.run("--check", "-v")
    assert_ok(dry)
    assert re.search(r'"revoked": \[\s*"' + sha256(old), dry.stdout), dry.stdout[-3000:]  # predicted
    assert deferral_lines(dry) == []
    state = fleet.emulator.state()
    assert state["revokes"] == 0 and state["token_requests"] == requests_before
    assert active(fleet, old)
    assert fleet.cache.read_bytes() == cache_before  # nothing recorded
    assert held(fleet)["app2"] == old
    assert_no_secrets(fleet, dry, old)


def test_a_host_with_two_config_files_keeps_the_old_token_until_both_have_the_new_one(
    fleet: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The role applied twice in one play (an app and its worker): one file written must not free the other's token."""
    import test_role_thrive_tokens

    worker = (
        '      vars:\n        thrive_tokens_config_path: "' + str(fleet.root) + '/{{{{ inventory_hostname }}}}/worker/w.json"\n'
        "        thrive_tokens_config_format: json\n"
    )
    twice = test_role_thrive_tokens.PLAYBOOK.replace(
        "    - role: zohothrive.oauth.thrive_tokens\n",
        "    - role: zohothrive.oauth.thrive_tokens\n    - role: zohothrive.oauth.thrive_tokens\n" + worker,
    )
    monkeypatch.setattr(test_role_thrive_tokens, "PLAYBOOK", twice)
    for host in fleet.hosts:
        (fleet.root / host / "worker").mkdir()
    fleet.new_code()
    assert_ok(fleet.run())
    worker_file = fleet.root / "app2" / "worker" / "w.json"
    old = json.loads(worker_file.read_text())["refresh_token"]

    (fleet.root / "app2" / "worker").rename(fleet.root / "app2" / "worker.off")  # app2's worker file cannot be written now
    fleet.new_code()
    partial = fleet.run()
    assert partial.returncode != 0 and recap(partial)["app2"]["failed"] == 1
    assert fleet.read("app2")["refresh_token"] != old  # its main file has the new token
    assert active(fleet, old), "the token that app2's worker file still holds was revoked"

    (fleet.root / "app2" / "worker.off").rename(fleet.root / "app2" / "worker")
    assert_ok(fleet.run())
    assert json.loads(worker_file.read_text())["refresh_token"] != old
    assert not active(fleet, old)  # every file of every host moved on: now it is revoked
