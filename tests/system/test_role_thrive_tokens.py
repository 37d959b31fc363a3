"""The thrive_tokens role, end to end: real ansible-playbook runs against the emulator.

Hosts are local-connection inventory hosts with their own config files. They run the bare
Debian system Python (no `requests`) or Python 3.9, so the tests also prove that targets never
need `requests` and that the target-side module runs on 3.9. The controller phase runs with
the venv's Python.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import Emulator, PlaybookRun, write

BARE_PYTHON = "/usr/bin/python3"  # Debian's system Python: no requests
PY39 = next(iter(sorted(Path("/root/.pyenv/versions").glob("3.9*/bin/python3.9"))), None) if Path("/root/.pyenv/versions").is_dir() else None

PLAYBOOK = """
- name: Deliver Zoho Thrive tokens
  hosts: apps
  gather_facts: false
  {serial}
  roles:
    - role: zohothrive.oauth.thrive_tokens
  handlers:
    - name: Restart the application
      ansible.builtin.file:
        path: "{{{{ thrive_tokens_config_path }}}}.restarted"
        state: touch
        mode: "0600"
      listen: zoho thrive tokens changed
"""


class Site:
    """A little fleet of hosts, its inventory, its vars and its runs."""

    def __init__(self, root: Path, emulator: Emulator, ansible_playbook, formats: list[str]) -> None:
        self.root = root
        self.emulator = emulator
        self._run = ansible_playbook
        self.formats = formats
        self.hosts = [f"app{n}" for n in range(1, len(formats) + 1)]
        self.cache = root / "controller" / "tokens.json"
        self.vars: dict[str, object] = {
            "thrive_tokens_client_id": emulator.client_id,
            "thrive_tokens_client_secret": emulator.client_secret,
            "thrive_tokens_accounts_url": emulator.url,
            "thrive_tokens_ca_path": emulator.ca_path,
            "thrive_tokens_token_cache": str(self.cache),
        }
        self.serial = ""
        lines = ["[apps]"]
        for host, fmt in zip(self.hosts, formats):
            interpreter = str(PY39) if PY39 and fmt != "yaml" and host == "app1" else BARE_PYTHON
            (root / host).mkdir(parents=True, exist_ok=True)
            lines.append(
                f"{host} ansible_connection=local ansible_python_interpreter={interpreter} "
                f"thrive_tokens_config_format={fmt} thrive_tokens_config_path={self.config(host)}"
            )
        write(root / "inventory.ini", "\n".join(lines) + "\n")

    def config(self, host: str) -> Path:
        fmt = self.formats[self.hosts.index(host)]
        suffix = {"json": "json", "yaml": "yml", "ini": "ini", "env": "env"}[fmt]
        return self.root / host / f"app.{suffix}"

    def new_code(self) -> str:
        code = self.emulator.mint_code(ttl=600)
        self.vars["thrive_tokens_grant_code"] = code
        return code

    def run(self, *args: str) -> PlaybookRun:
        vars_file = write(self.root / "vars.json", json.dumps(self.vars))
        os.chmod(vars_file, 0o600)
        playbook = write(self.root / "site.yml", PLAYBOOK.format(serial=self.serial))
        return self._run(playbook, "-e", f"@{vars_file}", *args, inventory=str(self.root / "inventory.ini"))

    def read(self, host: str) -> dict[str, str]:
        """The managed values in a host's file, by logical name."""
        path = self.config(host)
        fmt = self.formats[self.hosts.index(host)]
        text = path.read_text()
        if fmt == "json":
            data = json.loads(text)
        elif fmt == "yaml":
            data = yaml.safe_load(text)
        elif fmt == "ini":
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(text)
            data = dict(parser["zoho_thrive"])
        else:
            names = ("refresh_token", "access_token", "api_domain", "expires_at", "code_fingerprint", "accounts_url")
            script = '. "$1"; ' + " ".join(f'printf "%s\\0" "${{ZOHO_THRIVE_{name.upper()}}}";' for name in names)
            shell = subprocess.run(["sh", "-c", script, "sh", str(path)], capture_output=True, text=True, check=True, env={})
            return dict(zip(names, shell.stdout.split("\0")))
        return {key: str(value) for key, value in data.items()}


def recap(run: PlaybookRun) -> dict[str, dict[str, int]]:
    """PLAY RECAP counters per host."""
    counters = {}
    for host, rest in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", run.stdout, flags=re.MULTILINE):
        counters[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", rest)}
    return counters


def changed_hosts(run: PlaybookRun) -> set[str]:
    return {host for host, counts in recap(run).items() if counts.get("changed")}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture()
def site(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> Site:
    return Site(tmp_path / "site", fresh_emulator, ansible_playbook, ["json", "yaml", "ini", "env"])


def assert_ok(run: PlaybookRun) -> None:
    assert run.returncode == 0, run.output[-6000:]


def test_first_run_writes_every_host_and_rerun_changes_nothing(site: Site) -> None:
    code = site.new_code()
    first = site.run()
    assert_ok(first)
    state = site.emulator.state()
    assert state["exchanges"] == 1 and state["token_requests"] == 1  # one exchange for four hosts, no refresh needed
    refresh_tokens = {site.read(host)["refresh_token"] for host in site.hosts}
    access_tokens = {site.read(host)["access_token"] for host in site.hosts}
    assert len(refresh_tokens) == 1 and len(access_tokens) == 1
    for host in site.hosts:
        values = site.read(host)
        assert values["code_fingerprint"] == sha256(code)
        assert values["api_domain"] == "https://www.zohoapis.com"
        assert values["accounts_url"] == site.emulator.url
        assert int(values["expires_at"]) > 0
        assert stat.S_IMODE(site.config(host).stat().st_mode) == 0o600
        assert Path(f"{site.config(host)}.restarted").exists()  # the user's handler listened to the topic
        text = site.config(host).read_text()
        assert code not in text and site.emulator.client_secret not in text
    assert site.emulator.admin("POST", "introspect", {"token": refresh_tokens.pop()})["active"]
    assert stat.S_IMODE(site.cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(site.cache.parent.stat().st_mode) == 0o700

    mtimes = {host: site.config(host).stat().st_mtime_ns for host in site.hosts}
    second = site.run()
    assert_ok(second)
    assert changed_hosts(second) == set()
    assert site.emulator.state()["token_requests"] == 1  # nothing sent
    assert {host: site.config(host).stat().st_mtime_ns for host in site.hosts} == mtimes


def test_ephemeral_controller_reuses_the_hosts_tokens(site: Site) -> None:
    site.new_code()
    assert_ok(site.run())
    before = {host: site.read(host) for host in site.hosts}
    site.cache.unlink()  # a fresh CI runner: the controller remembers nothing
    again = site.run()
    assert_ok(again)
    assert site.emulator.state()["exchanges"] == 1  # the code is not sent again
    # One refresh proves that the hosts' refresh token belongs to this client and brings a trusted access token:
    # a host's own access token, expiry or API domain is never passed on to the others.
    assert site.emulator.state()["token_requests"] == 2
    assert changed_hosts(again) == set(site.hosts)
    after = {host: site.read(host) for host in site.hosts}
    assert {values["refresh_token"] for values in after.values()} == {before[site.hosts[0]]["refresh_token"]}
    assert len({values["access_token"] for values in after.values()}) == 1
    assert after[site.hosts[0]]["access_token"] != before[site.hosts[0]]["access_token"]
    assert_ok(third := site.run())
    assert changed_hosts(third) == set() and site.emulator.state()["token_requests"] == 2


def test_a_host_that_failed_mid_run_is_completed_by_the_next_run(site: Site) -> None:
    site.new_code()
    broken = site.hosts[2]
    site.config(broken).parent.rename(site.root / "moved-away")  # its directory is missing: the write fails
    first = site.run()
    assert first.returncode != 0
    assert recap(first)[broken]["failed"] == 1
    assert "does not exist" in first.output  # the real reason, not only "output hidden"
    assert site.emulator.state()["exchanges"] == 1
    (site.root / "moved-away").rename(site.config(broken).parent)
    site.cache.unlink()  # and, for good measure, the controller lost its store too
    del site.vars["thrive_tokens_grant_code"]  # no code needed any more: the hosts hold its tokens
    second = site.run()
    assert_ok(second)
    assert broken in changed_hosts(second)  # the others get the proving refresh's access token too
    assert site.emulator.state()["exchanges"] == 1
    assert len({site.read(host)["refresh_token"] for host in site.hosts}) == 1


def test_rotation_exchanges_once_and_revokes_only_after_every_host_has_the_new_token(site: Site) -> None:
    site.vars["thrive_tokens_revoke_replaced"] = True
    site.new_code()
    assert_ok(site.run())
    old = site.read(site.hosts[0])["refresh_token"]

    new_code = site.new_code()
    broken = site.hosts[2]  # the ini host
    site.config(broken).write_text("this is not an ini file\n")  # unparsable: left alone, that host fails
    partial = site.run()
    assert partial.returncode != 0
    assert recap(partial)[broken]["failed"] == 1
    assert str(site.config(broken)) in partial.output  # the error names the file
    assert site.emulator.state()["exchanges"] == 2
    assert site.config(broken).read_text() == "this is not an ini file\n"  # not clobbered
    assert site.emulator.admin("POST", "introspect", {"token": old})["active"]  # not every host has the new one yet

    site.config(broken).write_text("")
    done = site.run()
    assert_ok(done)
    assert site.emulator.state()["exchanges"] == 2  # the new code was exchanged once
    new_tokens = {site.read(host)["refresh_token"] for host in site.hosts}
    assert len(new_tokens) == 1 and old not in new_tokens
    assert all(site.read(host)["code_fingerprint"] == sha256(new_code) for host in site.hosts)
    assert not site.emulator.admin("POST", "introspect", {"token": old})["active"]
    assert site.emulator.state()["revokes"] == 1
    assert_ok(again := site.run())
    assert changed_hosts(again) == set() and site.emulator.state()["revokes"] == 1


def test_check_mode_sends_nothing_and_predicts_changes(site: Site) -> None:
    site.new_code()
    dry = site.run("--check", "--diff")
    assert_ok(dry)
    assert changed_hosts(dry) == set(site.hosts)
    assert site.emulator.state()["token_requests"] == 0
    assert not any(site.config(host).exists() for host in site.hosts)
    assert not site.cache.exists()

    assert_ok(site.run())
    quiet = site.run("--check", "--diff")
    assert_ok(quiet)
    assert changed_hosts(quiet) == set()

    site.new_code()
    rotation = site.run("--check", "--diff")
    assert_ok(rotation)
    assert changed_hosts(rotation) == set(site.hosts)
    assert site.emulator.state()["token_requests"] == 1  # still only the first real exchange


def test_diff_names_keys_and_never_values(site: Site) -> None:
    code = site.new_code()
    run = site.run("--diff", "-vvv")
    assert_ok(run)
    assert "refresh_token" in run.stdout and "ZOHO_THRIVE_REFRESH_TOKEN" in run.stdout
    secrets = [code, site.emulator.client_secret] + [
        value for host in site.hosts for key, value in site.read(host).items() if key in ("refresh_token", "access_token")
    ]
    for secret in secrets:
        assert secret not in run.output


def test_refresh_only_below_min_ttl(site: Site) -> None:
    site.new_code()
    assert_ok(site.run())
    access = site.read(site.hosts[0])["access_token"]
    site.vars["thrive_tokens_min_ttl"] = 4000  # more than the hour a token lives: refresh now
    refreshed = site.run()
    assert_ok(refreshed)
    assert site.emulator.state()["refreshes"] == 1
    assert changed_hosts(refreshed) == set(site.hosts)
    assert {site.read(host)["access_token"] for host in site.hosts} != {access}
    site.vars["thrive_tokens_min_ttl"] = 300
    calm = site.run()
    assert_ok(calm)
    assert changed_hosts(calm) == set()
    assert site.emulator.state()["refreshes"] == 1


def test_unrelated_content_is_kept_in_every_format(site: Site) -> None:
    write(site.config("app1"), json.dumps({"database": {"host": "db1"}, "refresh_token": "old"}, indent=4) + "\n")
    write(site.config("app2"), "# app settings\nlisten: 8080  # port\nrefresh_token: old\n")
    write(site.config("app3"), "; main\n[server]\nport = 8080\n\n[zoho_thrive]\n# managed\nrefresh_token = old\n")
    write(site.config("app4"), "# env\nexport PATH_EXTRA=/opt/bin\nZOHO_THRIVE_REFRESH_TOKEN=old\n")
    for host in site.hosts:
        site.config(host).chmod(0o640)
    site.new_code()
    assert_ok(site.run())
    assert json.loads(site.config("app1").read_text())["database"] == {"host": "db1"}
    assert "# app settings\nlisten: 8080  # port\n" in site.config("app2").read_text()
    ini = site.config("app3").read_text()
    assert ini.startswith("; main\n[server]\nport = 8080\n") and "# managed" in ini
    env = site.config("app4").read_text()
    assert env.startswith("# env\nexport PATH_EXTRA=/opt/bin\n")
    for host in site.hosts:
        assert site.read(host)["refresh_token"] != "old"
        assert stat.S_IMODE(site.config(host).stat().st_mode) == 0o600  # config_mode applies to existing files too


def test_serial_batches_call_zoho_once(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> None:
    site = Site(tmp_path / "site", fresh_emulator, ansible_playbook, ["json"] * 5)
    site.serial = "serial: 2"
    site.new_code()
    run = site.run()
    assert_ok(run)
    assert run.stdout.count("TASK [zohothrive.oauth.thrive_tokens : Write") == 3  # three batches
    state = fresh_emulator.state()
    assert state["exchanges"] == 1
    assert state["token_requests"] == 1  # batches two and three found everything in the token cache
    assert len({site.read(host)["access_token"] for host in site.hosts}) == 1
    assert len({site.read(host)["refresh_token"] for host in site.hosts}) == 1


def test_failures_show_the_real_message_and_no_secret(site: Site) -> None:
    code = site.new_code()
    site.vars["thrive_tokens_client_secret"] = "ZSEC_wrong_but_secret"
    run = site.run("-vvv")
    assert run.returncode != 0
    assert "invalid_client_secret" in run.output
    for secret in (code, "ZSEC_wrong_but_secret", site.emulator.client_secret):
        assert secret not in run.output
    assert site.emulator.state()["exchanges"] == 0


def test_concurrent_runs_on_one_controller_exchange_once(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> None:
    """Two playbook runs at the same time, same code, same token cache: the lock lets one exchange."""
    from concurrent.futures import ThreadPoolExecutor

    sites = [Site(tmp_path / f"site{n}", fresh_emulator, ansible_playbook, ["json", "env"]) for n in (1, 2)]
    code = sites[0].new_code()
    for other in sites[1:]:
        other.cache = sites[0].cache
        other.vars.update(thrive_tokens_grant_code=code, thrive_tokens_token_cache=str(sites[0].cache))
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda s: s.run(), sites))
    for run in runs:
        assert_ok(run)
    assert fresh_emulator.state()["exchanges"] == 1
    assert fresh_emulator.state()["token_requests"] == 1
    assert len({s.read(host)["refresh_token"] for s in sites for host in s.hosts}) == 1


def test_serial_run_finds_the_tokens_on_hosts_of_later_batches(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> None:
    """Ephemeral controller, serial batches, and only hosts outside the first batch still hold the tokens."""
    site = Site(tmp_path / "site", fresh_emulator, ansible_playbook, ["json", "ini", "env", "json"])
    site.new_code()
    assert_ok(site.run())
    site.cache.unlink()
    for host in site.hosts[:2]:
        site.config(host).unlink()  # the first batch's hosts lost their files
    site.serial = "serial: 2"
    again = site.run()
    assert_ok(again)
    assert fresh_emulator.state()["exchanges"] == 1  # adopted from app3/app4, not exchanged again
    assert fresh_emulator.state()["token_requests"] == 2  # the proving refresh
    assert set(site.hosts[:2]) <= changed_hosts(again)
    assert len({site.read(host)["refresh_token"] for host in site.hosts}) == 1


def test_a_later_batch_host_is_read_with_its_own_format_and_key_names(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> None:
    """The key mapping is built for the host it reads: a later batch's env host that renames its keys."""
    site = Site(tmp_path / "site", fresh_emulator, ansible_playbook, ["json", "ini", "env", "json"])
    inventory = site.root / "inventory.ini"
    renamed = "thrive_tokens_keys='{\"refresh_token\": \"APP_REFRESH\", \"code_fingerprint\": \"APP_CODE_FP\"}'"
    inventory.write_text(inventory.read_text().replace("app3 ", f"app3 {renamed} ", 1))
    site.new_code()
    assert_ok(site.run())
    env_file = site.config("app3")
    script = '. "$1"; printf "%s\\0%s" "${APP_REFRESH}" "${ZOHO_THRIVE_REFRESH_TOKEN:-unset}"'
    held, default_name = subprocess.run(["sh", "-c", script, "sh", str(env_file)], capture_output=True, text=True, check=True, env={}).stdout.split("\0")
    assert held and default_name == "unset"
    site.cache.unlink()
    for host in ("app1", "app2", "app4"):
        site.config(host).unlink()  # only app3, in the second batch, still holds the tokens
    site.serial = "serial: 2"
    again = site.run()
    assert_ok(again)
    assert fresh_emulator.state()["exchanges"] == 1  # adopted from app3's renamed keys, not exchanged again
    assert fresh_emulator.state()["token_requests"] == 2  # the proving refresh
    assert {site.read(host)["refresh_token"] for host in ("app1", "app2", "app4")} == {held}


def test_data_center_without_accounts_url_in_check_mode(site: Site) -> None:
    """The usual configuration (a data center, no accounts_url) on every supported ansible-core.

    Check mode sends nothing, so no real Zoho server is contacted, yet the whole role runs with
    an empty accounts_url and ca_path: they must reach the modules as "not set".
    """
    site.new_code()
    del site.vars["thrive_tokens_accounts_url"]
    del site.vars["thrive_tokens_ca_path"]
    site.vars["thrive_tokens_data_center"] = "eu"
    run = site.run("--check")
    assert_ok(run)
    assert changed_hosts(run) == set(site.hosts)
    assert site.emulator.state()["token_requests"] == 0


def test_a_failed_controller_phase_stops_every_host_and_writes_nothing(site: Site) -> None:
    """A failed run_once task ends the play for every host (ansible-core counts the failure on the first one only)."""
    site.new_code()
    site.vars["thrive_tokens_client_secret"] = "ZSEC_wrong_but_secret"
    run = site.run()
    assert run.returncode != 0
    assert not any(site.config(host).exists() for host in site.hosts), run.output[-4000:]
    assert "Write the Zoho Thrive tokens into the config file" not in run.output  # no host reached the host phase
