"""Config files stay byte-faithful through the thrive_tokens role (issue 7, items 1, 6 and 7).

Real ansible-playbook runs against the emulator, on local-connection hosts that each own one
config file. What the role writes is read back the way the application reads it: sh and bash for
env files, json.loads, yaml.safe_load and configparser for the others, and compared byte for byte.
"""

from __future__ import annotations

import configparser
import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import Emulator, PlaybookRun, write

BARE_PYTHON = "/usr/bin/python3"  # Debian's system Python, with PyYAML, as on a target host
TOKEN = re.compile(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}")  # a Zoho refresh token: 70 characters

PLAYBOOK = """
- name: Deliver Zoho Thrive tokens
  hosts: apps
  gather_facts: false
  roles:
    - role: zohothrive.oauth.thrive_tokens
"""


class Fleet:
    """Hosts with one config file each (format and initial bytes given), their inventory, vars and runs."""

    def __init__(self, root: Path, emulator: Emulator, ansible_playbook, files: dict[str, tuple[str, bytes]]) -> None:
        self.root = root
        self.emulator = emulator
        self._run = ansible_playbook
        self.formats = {host: fmt for host, (fmt, _content) in files.items()}
        self.vars: dict[str, object] = {
            "thrive_tokens_client_id": emulator.client_id,
            "thrive_tokens_client_secret": emulator.client_secret,
            "thrive_tokens_accounts_url": emulator.url,
            "thrive_tokens_ca_path": emulator.ca_path,
            "thrive_tokens_token_cache": str(root / "controller" / "tokens.json"),
            "thrive_tokens_grant_code": emulator.mint_code(ttl=600),
        }
        lines = ["[apps]"]
        for host, (fmt, content) in files.items():
            path = self.config(host)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            os.chmod(path, 0o600)
            lines.append(
                f"{host} ansible_connection=local ansible_python_interpreter={BARE_PYTHON} "
                f"thrive_tokens_config_format={fmt} thrive_tokens_config_path={path}"
            )
        write(root / "inventory.ini", "\n".join(lines) + "\n")

    def config(self, host: str) -> Path:
        suffix = {"json": "json", "yaml": "yml", "ini": "ini", "env": "env"}[self.formats[host]]
        return self.root / host / f"app.{suffix}"

    def run(self, *args: str) -> PlaybookRun:
        vars_file = write(self.root / "vars.json", json.dumps(self.vars))
        os.chmod(vars_file, 0o600)
        playbook = write(self.root / "site.yml", PLAYBOOK)
        return self._run(playbook, "-e", f"@{vars_file}", *args, inventory=str(self.root / "inventory.ini"))


def recap(run: PlaybookRun) -> dict[str, dict[str, int]]:
    counters = {}
    for host, rest in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", run.stdout, flags=re.MULTILINE):
        counters[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", rest)}
    return counters


def assert_ok(run: PlaybookRun) -> None:
    assert run.returncode == 0, run.output[-6000:]


def sourced(path: Path, *names: str) -> dict[str, dict[str, str]]:
    """What sh and bash read for ``names`` after ``set -a; . file`` (bytes compared, so a CR shows)."""
    results = {}
    for shell in ("sh", "bash"):
        script = 'set -a; . "$1"; ' + " ".join(f'printf "%s\\0" "${name}";' for name in names)
        run = subprocess.run([shell, "-c", script, shell, str(path)], capture_output=True, check=True, env={"PATH": os.environ["PATH"]})
        results[shell] = dict(zip(names, (value.decode("utf-8") for value in run.stdout.split(b"\0"))))
    return results


@pytest.fixture()
def fleet(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path):
    def make(files: dict[str, tuple[str, bytes]]) -> Fleet:
        return Fleet(tmp_path / "site", fresh_emulator, ansible_playbook, files)

    return make


def test_issue_input_crlf_env_file_is_repaired_and_the_second_run_changes_nothing(fleet) -> None:
    site = fleet({"app1": ("env", b"LOG_LEVEL=info\r\nZOHO_THRIVE_REFRESH_TOKEN=1000.old.old\r\n")})
    path = site.config("app1")
    assert sourced(path, "ZOHO_THRIVE_REFRESH_TOKEN")["sh"]["ZOHO_THRIVE_REFRESH_TOKEN"] == "1000.old.old\r"  # the damage

    first = site.run()
    assert_ok(first)
    assert recap(first)["app1"]["changed"] >= 1
    assert "had Windows (CRLF) line endings" in " ".join(first.output.split())  # the conversion is announced (warnings wrap on 2.17)
    content = path.read_bytes()
    assert b"\r" not in content and content.startswith(b"LOG_LEVEL=info\nZOHO_THRIVE_REFRESH_TOKEN=")
    for shell, values in sourced(path, "ZOHO_THRIVE_REFRESH_TOKEN", "LOG_LEVEL").items():
        token = values["ZOHO_THRIVE_REFRESH_TOKEN"]
        assert len(token) == 70 and TOKEN.fullmatch(token), shell
        assert values["LOG_LEVEL"] == "info", shell
    assert site.emulator.admin("POST", "introspect", {"token": sourced(path, "ZOHO_THRIVE_REFRESH_TOKEN")["sh"]["ZOHO_THRIVE_REFRESH_TOKEN"]})["active"]

    mtime = path.stat().st_mtime_ns
    second = site.run()
    assert_ok(second)
    assert recap(second)["app1"]["changed"] == 0
    assert path.stat().st_mtime_ns == mtime and path.read_bytes() == content
    assert "CRLF" not in second.output


def test_issue_input_yaml_with_document_markers(fleet) -> None:
    site = fleet({"app1": ("yaml", b"---\n# generator\nlog_level: info\n...\n")})
    path = site.config("app1")
    first = site.run()
    assert_ok(first)
    text = path.read_text()
    assert text.startswith("---\n# generator\nlog_level: info\n") and text.endswith("\n...\n")
    data = yaml.safe_load(text)
    assert data["log_level"] == "info" and TOKEN.fullmatch(data["refresh_token"])
    second = site.run()
    assert_ok(second)
    assert recap(second)["app1"]["changed"] == 0 and path.read_text() == text


def test_every_format_keeps_its_conventions_through_the_role(fleet) -> None:
    files = {
        "app1": ("json", b'\xef\xbb\xbf{\r\n\t"database": {"refresh_token": "nested, not managed"},\r\n\t"name": "Zo\xc3\xab"\r\n}\r\n'),
        "app2": ("yaml", b"\xef\xbb\xbf# settings\r\nname: Zo\xc3\xab  # owner\r\nrefresh_token: 'old'  # set by the role\r\n"),
        "app3": ("ini", b"; main\r\n[DEFAULT]\r\nshared = 1\r\n\r\n[zoho_thrive]\r\n\trefresh_token\t=\told\r\n"),
        "app4": ("env", b"# env\n\texport PATH_EXTRA=/opt/bin  # tools\nZOHO_THRIVE_REFRESH_TOKEN='old'\n"),
    }
    site = fleet(files)
    assert_ok(site.run())
    json_bytes = site.config("app1").read_bytes()
    assert json_bytes.startswith(b'\xef\xbb\xbf{\r\n\t"database": {"refresh_token": "nested, not managed"},\r\n\t"name": "Zo\xc3\xab",\r\n\t"')
    loaded = json.loads(json_bytes)
    assert loaded["database"] == {"refresh_token": "nested, not managed"} and TOKEN.fullmatch(loaded["refresh_token"])
    yaml_bytes = site.config("app2").read_bytes()
    assert yaml_bytes.startswith(b"\xef\xbb\xbf# settings\r\nname: Zo\xc3\xab  # owner\r\nrefresh_token: '1000.")
    assert b"'  # set by the role\r\n" in yaml_bytes
    assert TOKEN.fullmatch(yaml.safe_load(yaml_bytes.decode("utf-8"))["refresh_token"])
    ini_bytes = site.config("app3").read_bytes()
    assert ini_bytes.startswith(b"; main\r\n[DEFAULT]\r\nshared = 1\r\n\r\n[zoho_thrive]\r\n\trefresh_token\t=\t1000.")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_file(io.StringIO(ini_bytes.decode("utf-8"), newline=None))
    assert TOKEN.fullmatch(parser["zoho_thrive"]["refresh_token"]) and parser["zoho_thrive"]["shared"] == "1"
    env_bytes = site.config("app4").read_bytes()
    assert env_bytes.startswith(b"# env\n\texport PATH_EXTRA=/opt/bin  # tools\nZOHO_THRIVE_REFRESH_TOKEN='1000.")
    assert TOKEN.fullmatch(sourced(site.config("app4"), "ZOHO_THRIVE_REFRESH_TOKEN")["bash"]["ZOHO_THRIVE_REFRESH_TOKEN"])
    for host in ("app1", "app2", "app3"):
        content = site.config(host).read_bytes()
        assert content.count(b"\n") == content.count(b"\r\n"), f"{host}: a written line does not end with CRLF"
    written = {host: site.config(host).read_bytes() for host in files}
    second = site.run()
    assert_ok(second)
    assert all(counts["changed"] == 0 for host, counts in recap(second).items() if host in files)
    assert {host: site.config(host).read_bytes() for host in files} == written


def test_no_lock_file_is_left_and_old_ones_are_removed(fleet) -> None:
    site = fleet({"app1": ("env", b"A=1\n"), "app2": ("json", b"{}\n")})
    (site.config("app1").parent / ".app.env.lock").write_bytes(b"")  # left by an earlier version
    assert_ok(site.run())
    for host in ("app1", "app2"):
        assert sorted(os.listdir(site.config(host).parent)) == [site.config(host).name]


def test_unquoted_integer_mode_is_refused_in_the_roles_words(fleet) -> None:
    site = fleet({"app1": ("env", b"A=1\n")})
    site.vars["thrive_tokens_config_mode"] = 640  # what an unquoted `thrive_tokens_config_mode: 640` gives
    run = site.run()
    assert run.returncode != 0
    # The role's preflight or the module refuses it; either way in the role's words, naming the quoted form.
    assert "thrive_tokens_config_mode" in run.output and re.search(r"""["']0640["']""", run.output)
    assert site.config("app1").read_bytes() == b"A=1\n" and oct(site.config("app1").stat().st_mode & 0o7777) == "0o600"
