"""The thrive_tokens role when hosts, the store or the play cannot be trusted (issue 6, items 3, 5 and 8).

Real ansible-playbook runs against the emulator, as in test_role_thrive_tokens.py:
- one host's file must not be able to plant values on the others (forged access token, expiry,
  API domain, refresh token);
- tokens Zoho issued are delivered even when the controller's store cannot record them, the run
  then fails loudly, and the next run recovers them from the hosts without a new code (a real
  full file system: a 4 KiB tmpfs);
- partial plays (--limit, --tags, --start-at-task) never spend a code blindly and never fail with
  an internal error.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import Emulator
from test_role_thrive_tokens import Site, assert_ok, changed_hosts, sha256

FORGED_API_DOMAIN = "https://evil.example"


@pytest.fixture()
def site(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> Site:
    return Site(tmp_path / "site", fresh_emulator, ansible_playbook, ["json", "yaml", "ini", "env"])


def forge_json(site: Site, host: str, **values: object) -> None:
    path = site.config(host)
    data = json.loads(path.read_text())
    data.update(values)
    path.write_text(json.dumps(data))


# -- item 3: one host must not be able to poison the others ------------------------------------------


def test_a_host_cannot_plant_an_access_token_expiry_or_api_domain(site: Site) -> None:
    site.new_code()
    assert_ok(site.run())
    genuine = site.read(site.hosts[1])
    forged_access = "1000.forgedforgedforgedforgedforged.forgedforgedforgedforgedforged"
    forge_json(site, site.hosts[0], access_token=forged_access, expires_at="99999999999", api_domain=FORGED_API_DOMAIN)
    site.cache.unlink()  # the documented normal case on a CI runner: no controller store

    run = site.run()
    assert_ok(run)
    assert site.emulator.state()["exchanges"] == 1
    for host in site.hosts:
        values = site.read(host)
        assert values["access_token"] != forged_access
        assert values["api_domain"] == "https://www.zohoapis.com"
        assert int(values["expires_at"]) < 99999999999
        assert values["refresh_token"] == genuine["refresh_token"]
    store = site.cache.read_text()
    assert forged_access not in store and FORGED_API_DOMAIN not in store
    # The forgery was repaired on its own host too, and the next run is quiet.
    assert_ok(again := site.run())
    assert changed_hosts(again) == set()


def test_a_forged_refresh_token_on_most_hosts_is_proven_false_and_skipped(site: Site) -> None:
    code = site.new_code()
    assert_ok(site.run())
    genuine = site.read(site.hosts[0])["refresh_token"]
    forged = "1000.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef"
    # Three of four hosts now claim the current code with a refresh token Zoho never issued.
    forge_json(site, site.hosts[0], refresh_token=forged)
    for host in site.hosts[1:3]:
        text = site.config(host).read_text().replace(genuine, forged)
        site.config(host).write_text(text)
    site.cache.unlink()

    run = site.run()
    assert_ok(run)
    state = site.emulator.state()
    assert state["exchanges"] == 1  # the real token was found; the code was not sent again
    assert {site.read(host)["refresh_token"] for host in site.hosts} == {genuine}
    assert all(site.read(host)["code_fingerprint"] == sha256(code) for host in site.hosts)
    assert forged not in run.output


def test_hosts_cannot_undo_a_rotation_with_an_older_genuine_token(site: Site) -> None:
    """An older refresh token of this client passes the proving refresh; two valid claims for one code are refused."""
    site.new_code()
    assert_ok(site.run())
    old = site.read(site.hosts[0])["refresh_token"]
    site.new_code()
    assert_ok(site.run())
    new = site.read(site.hosts[0])["refresh_token"]
    for host in site.hosts[:3]:  # most hosts now claim the current code with the old (still valid) token
        site.config(host).write_text(site.config(host).read_text().replace(new, old))
    site.cache.unlink()
    before = {host: site.config(host).read_bytes() for host in site.hosts}

    run = site.run()
    assert run.returncode != 0
    assert "different refresh tokens that Zoho accepts" in run.output and "None of them was adopted" in run.output
    assert old not in run.output and new not in run.output
    assert {host: site.config(host).read_bytes() for host in site.hosts} == before  # nothing written anywhere
    assert site.emulator.state()["exchanges"] == 2


# -- item 5: tokens Zoho issued are never discarded ---------------------------------------------------


@pytest.fixture()
def full_store(site: Site):
    """The controller's store on a 4 KiB tmpfs: the in-flight record fits, the tokens do not (ENOSPC)."""
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs and must run as root (as CI does)")
    directory = site.cache.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k,mode=0700", "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=False)


def test_tokens_reach_the_hosts_when_the_store_is_full_and_the_next_run_recovers_them(site: Site, full_store: Path) -> None:
    code = site.new_code()
    run = site.run()
    assert run.returncode != 0
    assert "could not record them" in run.output and "No space left on device" in run.output, run.output[-6000:]
    assert code not in run.output
    for host in site.hosts:
        values = site.read(host)
        assert values["refresh_token"].startswith("1000.") and values["code_fingerprint"] == sha256(code)
    assert site.emulator.state()["exchanges"] == 1
    refresh_token = site.read(site.hosts[0])["refresh_token"]
    assert site.emulator.admin("POST", "introspect", {"token": refresh_token})["active"]

    # Repair the store: keep what it holds (the in-flight record of the code), on a file system with room.
    saved = site.cache.read_bytes()
    subprocess.run(["umount", str(full_store)], check=True)
    site.cache.write_bytes(saved)
    os.chmod(site.cache, 0o600)
    assert json.loads(saved)["codes"][sha256(code)]["state"] == "in_flight"

    again = site.run()
    assert_ok(again)
    assert site.emulator.state()["exchanges"] == 1  # recovered from the hosts, without a new code
    assert {site.read(host)["refresh_token"] for host in site.hosts} == {refresh_token}
    assert json.loads(site.cache.read_text())["codes"][sha256(code)]["state"] == "done"


# -- item 8: partial plays never spend a code blindly ---------------------------------------------------


def test_a_limited_play_does_not_exchange_a_code_the_controller_does_not_know(site: Site) -> None:
    site.new_code()
    assert_ok(site.run())  # another controller (or a lost CI runner) used the code for app1..app4
    site.cache.unlink()
    newhost = "app5"
    site.hosts.append(newhost)
    site.formats.append("json")
    (site.root / newhost).mkdir()
    inventory = site.root / "inventory.ini"
    inventory.write_text(
        inventory.read_text()
        + f"{newhost} ansible_connection=local ansible_python_interpreter=/usr/bin/python3 "
        f"thrive_tokens_config_format=json thrive_tokens_config_path={site.config(newhost)}\n"
    )
    limited = site.run("--limit", newhost)
    assert limited.returncode != 0
    assert "--limit" in limited.output and "thrive_tokens_allow_limited_exchange" in limited.output
    assert "Run the play without --limit" in limited.output
    assert site.emulator.state()["exchanges"] == 1  # the spent code was not sent again
    assert not site.config(newhost).exists()

    # What the message advises works: a full run adopts the other hosts' tokens for the new host.
    full = site.run()
    assert_ok(full)
    assert site.emulator.state()["exchanges"] == 1
    assert len({site.read(host)["refresh_token"] for host in site.hosts}) == 1


def test_a_limited_play_may_exchange_when_the_operator_allows_it(site: Site) -> None:
    site.new_code()
    site.vars["thrive_tokens_allow_limited_exchange"] = True
    run = site.run("--limit", site.hosts[0])
    assert_ok(run)
    assert site.emulator.state()["exchanges"] == 1
    assert site.config(site.hosts[0]).exists() and not site.config(site.hosts[1]).exists()


def test_a_limited_play_with_a_known_code_just_works(site: Site) -> None:
    site.new_code()
    assert_ok(site.run("--limit", f"{site.hosts[0]},{site.hosts[1]}", "-e", "thrive_tokens_allow_limited_exchange=true"))
    rest = site.run("--limit", f"{site.hosts[2]},{site.hosts[3]}")  # the controller's store knows the code now
    assert_ok(rest)
    assert site.emulator.state()["exchanges"] == 1
    assert len({site.read(host)["refresh_token"] for host in site.hosts}) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("--tags", "thrive_tokens_hosts"),
        ("--skip-tags", "thrive_tokens_controller"),
        ("--start-at-task", "zohothrive.oauth.thrive_tokens : Write the Zoho Thrive tokens into the config file"),
    ],
    ids=["tags", "skip-tags", "start-at-task"],
)
def test_skipping_the_controller_phase_names_the_tags_to_include(site: Site, args: tuple[str, ...]) -> None:
    site.new_code()
    run = site.run(*args)
    assert run.returncode != 0
    assert "the controller phase did not run" in run.output
    assert "--tags thrive_tokens" in run.output and "thrive_tokens_controller" in run.output
    assert "'__thrive_tokens_stored' is undefined" not in run.output  # the old internal error
    assert site.emulator.state()["token_requests"] == 0
    assert not any(site.config(host).exists() for host in site.hosts)


def test_a_partial_run_with_the_advised_tags_works(site: Site) -> None:
    site.new_code()
    assert_ok(site.run("--tags", "thrive_tokens_controller,thrive_tokens_hosts"))
    assert len({site.read(host)["refresh_token"] for host in site.hosts}) == 1
