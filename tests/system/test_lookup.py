"""The zohothrive.oauth.access_token lookup, driven by ansible-playbook against the emulator (TLS verified) and a real OpenBao.

What a playbook sees: a fresh access token where it templates the lookup; a token minted once and
then reused (within the task from the process cache; across tasks, hosts and runs from the store,
a file or the vault); options from the call, then variables, then environment variables, then
ansible.cfg; clear failures that show no secret and no traceback; nothing secret at -vvv.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
import typing as t
from pathlib import Path

import pytest
import requests
from test_secret_leaks import forms

from conftest import BIN, Emulator, PlaybookRun, write

SECRET_PATH = "zohothrive/lookup"

# One task that uses the token as an API call would: it sends it to the emulator's introspection endpoint.
USE_TOKEN = """
    - name: {name}
      ansible.builtin.uri:
        url: "{{{{ zoho_admin_url }}}}/introspect"
        method: POST
        body_format: json
        body:
          token: "{{{{ {token} }}}}"
        ca_path: "{{{{ zoho_ca_path }}}}"
      register: {register}
      no_log: true
"""

CHECK = """
    - name: Every token was valid
      ansible.builtin.assert:
        that: {checks}
        quiet: true
"""


def playbook(tasks: str, *, play_vars: str = "") -> str:
    return f"""
- hosts: localhost
  gather_facts: false
  vars_files:
    - vars.json
  vars:
    zoho_thrive_accounts_url: "{{{{ zoho_url }}}}"
    zoho_thrive_ca_path: "{{{{ zoho_ca_path }}}}"
{play_vars}
  tasks:
{tasks}
"""


def uses(*registers: str, token: str = "thrive_token") -> str:
    tasks = "".join(USE_TOKEN.format(name=f"Call the API ({register})", token=token, register=register) for register in registers)
    checks = json.dumps([f"{register}.json.active and {register}.json.kind == 'access'" for register in registers])
    return tasks + CHECK.format(checks=checks)


class Site:
    """A controller directory with vars.json (the secrets, never on the command line) and the emulator's refresh token."""

    def __init__(self, emulator: Emulator, run: t.Callable[..., PlaybookRun], root: Path) -> None:
        self.emulator = emulator
        self._run = run
        self.root = root
        self.cache = root / "controller" / "tokens.json"
        self.refresh_token = self.new_refresh_token()
        self.vars: dict[str, t.Any] = {
            "zoho_url": emulator.url,
            "zoho_admin_url": emulator.admin_url,
            "zoho_ca_path": emulator.ca_path,
            "zoho_refresh_token": self.refresh_token,
            "zoho_thrive_client_id": emulator.client_id,
            "zoho_thrive_client_secret": emulator.client_secret,
        }

    def new_refresh_token(self) -> str:
        """Exchange a fresh code at the emulator directly (test setup, not the collection)."""
        answer = requests.post(
            f"{self.emulator.url}/oauth/v2/token",
            data={
                "grant_type": "authorization_code",
                "client_id": self.emulator.client_id,
                "client_secret": self.emulator.client_secret,
                "code": self.emulator.mint_code(),
            },
            verify=self.emulator.ca_path,
            timeout=30,
        )
        return str(answer.json()["refresh_token"])

    def run(self, text: str, *args: str, env: dict[str, str] | None = None) -> PlaybookRun:
        write(self.root / "vars.json", json.dumps(self.vars))
        return self._run(write(self.root / "site.yml", text), *args, env=env)

    def refreshes(self) -> int:
        return int(self.emulator.state()["refreshes"])


def assert_ok(run: PlaybookRun) -> None:
    assert run.returncode == 0, run.output[-6000:]


@pytest.fixture()
def site(fresh_emulator: Emulator, ansible_playbook: t.Callable[..., PlaybookRun], tmp_path: Path) -> Site:
    return Site(fresh_emulator, ansible_playbook, tmp_path / "site")


def use_store(site: Site, kind: str, kv: t.Any = None) -> None:
    """Point the lookup at a store through variables: zoho_thrive_token_cache, or community.hashi_vault's and zoho_thrive_vault_path."""
    if kind == "file":
        site.vars["zoho_thrive_token_cache"] = str(site.cache)
    else:
        site.vars.update(
            ansible_hashi_vault_url=kv.server.addr,
            ansible_hashi_vault_token=kv.token("zohothrive/"),
            ansible_hashi_vault_engine_mount_point=kv.mount,
            zoho_thrive_vault_path=SECRET_PATH,
        )


TOKEN_VAR = """    thrive_token: "{{ lookup('zohothrive.oauth.access_token', zoho_refresh_token, min_ttl=600) }}"
"""


# -- minted once, then reused: within the task, across tasks, across runs -----------------------------------


@pytest.mark.parametrize("kind", ["file", "vault"])
def test_the_store_serves_later_tasks_and_later_runs(site: Site, request: pytest.FixtureRequest, kind: str) -> None:
    kv = request.getfixturevalue("openbao_kv") if kind == "vault" else None
    use_store(site, kind, kv)
    text = playbook(uses("first", "second"), play_vars=TOKEN_VAR)
    first = site.run(text)
    assert_ok(first)
    assert site.refreshes() == 1  # the first task minted; the second found the token in the store
    again = site.run(text)  # a later run: the stored token still has more than min_ttl left
    assert_ok(again)
    assert site.refreshes() == 1
    if kind == "file":
        assert stat.S_IMODE(site.cache.stat().st_mode) == 0o600
    else:
        assert not site.cache.parent.exists()  # nothing on the controller's disk
        stored = kv.client().secrets.kv.v2.read_secret_version(path=SECRET_PATH, mount_point=kv.mount, raise_on_deleted_version=True)
        text_stored = json.dumps(stored["data"]["data"])
        assert site.emulator.state()["access_tokens"][-1]["token"] in text_stored  # the minted one ([0] came with the exchange)
        assert site.refresh_token not in text_stored and site.emulator.client_secret not in text_stored


def test_a_stored_token_with_less_than_min_ttl_left_is_replaced(site: Site) -> None:
    use_store(site, "file")
    text = playbook(uses("call"), play_vars=TOKEN_VAR)
    assert_ok(site.run(text))
    # Time passes: the stored token now has 500 s left, and min_ttl is 600.
    document = json.loads(site.cache.read_text())
    (entry,) = document["access_tokens"].values()
    entry["expires_at"] = int(time.time()) + 500
    site.cache.write_text(json.dumps(document))
    assert_ok(site.run(text))
    assert site.refreshes() == 2


def test_a_loop_in_one_task_mints_once_without_a_store(site: Site) -> None:
    loop = USE_TOKEN.format(name="Call the API for each item", token="thrive_token", register="calls") + "      loop: [1, 2, 3]\n"
    check = CHECK.format(checks=json.dumps(["calls.results | map(attribute='json.active') | list == [true, true, true]"]))
    run = site.run(playbook(loop + check, play_vars=TOKEN_VAR), "-vvv")
    assert_ok(run)
    assert site.refreshes() == 1
    assert run.stdout.count("access token from the process cache") == 2  # items 2 and 3


def test_without_a_store_each_task_mints_its_own(site: Site) -> None:
    """As documented: each task runs in its own worker process, and only a store outlives it."""
    assert_ok(site.run(playbook(uses("first", "second"), play_vars=TOKEN_VAR)))
    assert site.refreshes() == 2


# -- where the options come from -----------------------------------------------------------------------


SOURCES = ["keyword", "vars", "env", "ini"]


@pytest.mark.parametrize("winner", SOURCES)
def test_option_precedence_keyword_then_vars_then_environment_then_ansible_cfg(site: Site, tmp_path: Path, winner: str) -> None:
    """Every source from the winner down gives client_id; only the winner's is the real one, so success proves which was used."""
    present = SOURCES[SOURCES.index(winner):]
    real, bogus = site.emulator.client_id, "1000.NOTTHISONE"
    del site.vars["zoho_thrive_client_id"]
    value = {source: (real if source == winner else bogus) for source in present}
    keyword = f", client_id='{value['keyword']}'" if "keyword" in present else ""
    if "vars" in present:
        site.vars["zoho_thrive_client_id"] = value["vars"]
    env = {"ANSIBLE_CONFIG": str(write(tmp_path / "lookup.cfg", f"[zohothrive_oauth]\nclient_id = {value['ini']}\n" if "ini" in present else "[defaults]\n"))}
    if "env" in present:
        env["ZOHO_THRIVE_CLIENT_ID"] = value["env"]
    token = f"""    thrive_token: "{{{{ lookup('zohothrive.oauth.access_token', zoho_refresh_token{keyword}) }}}}"
"""
    run = site.run(playbook(uses("call"), play_vars=token), env=env)
    assert_ok(run)
    forms_sent = [entry["form"] for entry in site.emulator.log() if entry["form"].get("grant_type") == "refresh_token"]
    assert [form["client_id"] for form in forms_sent] == [real]


def test_the_vault_store_from_community_hashi_vaults_environment_variables(site: Site, openbao_kv: t.Any) -> None:
    """VAULT_ADDR and VAULT_TOKEN (community.hashi_vault's low-precedence names), the path from ZOHO_THRIVE_VAULT_PATH."""
    site.vars["ansible_hashi_vault_engine_mount_point"] = openbao_kv.mount
    env = {"VAULT_ADDR": openbao_kv.server.addr, "VAULT_TOKEN": openbao_kv.token("zohothrive/"), "ZOHO_THRIVE_VAULT_PATH": SECRET_PATH}
    text = playbook(uses("first", "second"), play_vars=TOKEN_VAR)
    assert_ok(site.run(text, env=env))
    assert_ok(site.run(text, env=env))
    assert site.refreshes() == 1
    assert not site.cache.parent.exists()


# -- failures: clear, secret-free, no traceback --------------------------------------------------------------


FAILURES: dict[str, tuple[dict[str, t.Any], str]] = {
    "revoked": ({}, "invalid_code"),
    "wrong-secret": ({"zoho_thrive_client_secret": "WRONG-SECRET-VALUE"}, "client secret"),
    "missing-client-id": ({"zoho_thrive_client_id": None}, "ZOHO_THRIVE_CLIENT_ID"),
    "space-inside-secret": (
        {"zoho_thrive_client_secret": "ZSEC inner space"},
        "`client_secret` (from the variable zoho_thrive_client_secret) contains whitespace",
    ),
    "both-stores": (
        {"zoho_thrive_token_cache": "/tmp/x.json", "zoho_thrive_vault_path": "p", "ansible_hashi_vault_url": "http://127.0.0.1:9"},
        "Give either `vault_path`",
    ),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_failures_are_clear_and_secret_free(site: Site, case: str) -> None:
    changes, words = FAILURES[case]
    if case == "revoked":
        requests.post(f"{site.emulator.url}/oauth/v2/token/revoke", data={"token": site.refresh_token}, verify=site.emulator.ca_path, timeout=30)
    for name, value in changes.items():
        if value is None:
            site.vars.pop(name, None)
        else:
            site.vars[name] = value
    before = site.emulator.state()["token_requests"]
    run = site.run(playbook(uses("call", token="lookup('zohothrive.oauth.access_token', zoho_refresh_token)")))
    assert run.returncode != 0
    text = " ".join(run.output.split())
    assert words in text, run.output[-3000:]
    assert "Traceback" not in run.output
    for secret in (site.emulator.client_secret, site.refresh_token, "WRONG-SECRET-VALUE", "ZSEC inner space"):
        assert not any(form in run.output for form in forms(secret)), secret
    if case not in ("revoked", "wrong-secret"):
        assert site.emulator.state()["token_requests"] == before  # refused before anything was sent


def test_padding_is_removed_with_a_warning(site: Site) -> None:
    site.vars["zoho_thrive_client_secret"] = site.emulator.client_secret + "\n"
    run = site.run(playbook(uses("call"), play_vars=TOKEN_VAR))
    assert_ok(run)
    text = " ".join(run.output.split())
    assert "`client_secret` (from the variable zoho_thrive_client_secret) had a trailing newline, removed" in text


# -- nothing secret at -vvv -------------------------------------------------------------------------------


LEAK_TASKS = """
    - name: Fails at Zoho with a wrong client secret, for a refresh token the store does not know (the lookup's error is shown)
      ansible.builtin.uri:
        url: "{{ zoho_admin_url }}/introspect"
        method: POST
        body_format: json
        body:
          token: "{{ lookup('zohothrive.oauth.access_token', zoho_other_refresh_token, client_secret=zoho_wrong_secret) }}"
        ca_path: "{{ zoho_ca_path }}"
      ignore_errors: true

    - name: Fails locally with whitespace inside the refresh token (shown)
      ansible.builtin.uri:
        url: "{{ zoho_admin_url }}/introspect"
        method: POST
        body_format: json
        body:
          token: "{{ lookup('zohothrive.oauth.access_token', zoho_refresh_token[:10] ~ ' ' ~ zoho_refresh_token[10:]) }}"
        ca_path: "{{ zoho_ca_path }}"
      ignore_errors: true

    - name: Fails at the vault with a token without rights (shown)
      ansible.builtin.uri:
        url: "{{ zoho_admin_url }}/introspect"
        method: POST
        body_format: json
        body:
          token: "{{ lookup('zohothrive.oauth.access_token', zoho_refresh_token, vault_path='elsewhere/x', vault_token=zoho_weak_vault_token) }}"
        ca_path: "{{ zoho_ca_path }}"
      ignore_errors: true

    - name: Positive control (only when asked)
      ansible.builtin.debug:
        msg: "{{ thrive_token }}"
      when: leak_on_purpose | default(false) | bool
"""


def leak_run(site: Site, kv: t.Any, *args: str) -> tuple[PlaybookRun, dict[str, str]]:
    use_store(site, "vault", kv)
    site.vars["zoho_weak_vault_token"] = kv.token("nothing-here/")
    site.vars["zoho_wrong_secret"] = site.emulator.client_secret + "-wrong"
    site.vars["zoho_other_refresh_token"] = site.new_refresh_token()
    site.vars["zoho_thrive_client_secret"] = site.emulator.client_secret + "\n"  # a warning that must not show the value
    run = site.run(playbook(uses("first", "second") + LEAK_TASKS, play_vars=TOKEN_VAR), *args)
    state = site.emulator.state()
    secrets = {
        "client_secret": site.emulator.client_secret,
        "vault_token": site.vars["ansible_hashi_vault_token"],
        "weak_vault_token": site.vars["zoho_weak_vault_token"],
        "wrong_secret": site.vars["zoho_wrong_secret"],
        "root_token": kv.server.token,
    }
    secrets.update({f"refresh_token_{n}": r["token"] for n, r in enumerate(state["refresh_tokens"])})
    secrets.update({f"access_token_{n}": a["token"] for n, a in enumerate(state["access_tokens"])})
    return run, secrets


def leaked(output: str, secrets: dict[str, str]) -> set[str]:
    return {name for name, value in secrets.items() for form in forms(value) if form in output}


def test_nothing_secret_at_vvv(site: Site, openbao_kv: t.Any) -> None:
    run, secrets = leak_run(site, openbao_kv, "-vvv")
    assert_ok(run)
    text = " ".join(run.output.split())
    assert "access token from Zoho (minted)" in text and "invalid_client_secret" in text  # the run did what it should
    assert "contains whitespace" in text and "permission denied" in text
    assert site.refreshes() == 1 and len(secrets) >= 8  # one token minted; Zoho refused the other refresh
    assert not leaked(run.output, secrets)


def test_positive_control_finds_a_printed_token(site: Site, openbao_kv: t.Any) -> None:
    run, secrets = leak_run(site, openbao_kv, "-v", "-e", "leak_on_purpose=true")
    assert_ok(run)
    assert any(name.startswith("access_token_") for name in leaked(run.output, secrets))


# -- the documentation ------------------------------------------------------------------------------------


def test_ansible_doc_renders_the_lookup(collections_path: str, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR="1", HOME=str(tmp_path))
    shown = subprocess.run(
        [str(BIN / "ansible-doc"), "-t", "lookup", "zohothrive.oauth.access_token"], capture_output=True, text=True, env=env, check=False
    )
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    for words in ("min_ttl", "vault_path", "ZOHO_THRIVE_CLIENT_SECRET", "ansible_hashi_vault_url", "no_log", "EXAMPLES", "RETURN"):
        assert words in text, words
    assert "[WARNING]" not in shown.stderr
