"""No secret reaches the output, at any verbosity, in any output format, even when tasks fail.

Pattern: ansible/ansible test/integration/targets/no_log. Every secret is a unique value; the
test greps everything Ansible printed or logged for it, in raw, URL-encoded, base64 and JSON
forms. A positive control proves the grep finds a secret that is printed on purpose.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path

import pytest

from conftest import Emulator, write

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars_files:
    - vars.json
  module_defaults:
    group/zohothrive.oauth.zoho_thrive:
      client_id: "{{ zoho_client_id }}"
      client_secret: "{{ zoho_client_secret }}"
      accounts_url: "{{ zoho_url }}"
      ca_path: "{{ zoho_ca_path }}"
      timeout: 5
  tasks:
    - name: Exchange the code (succeeds; the task hides its result)
      zohothrive.oauth.zoho_thrive_token_exchange:
        code: "{{ zoho_code }}"
        token_cache: "{{ cache_path }}"
      register: grant
      no_log: true

    - name: Refresh (succeeds; hidden)
      zohothrive.oauth.zoho_thrive_refresh:
        refresh_token: "{{ grant.refresh_token }}"
        min_ttl: 4000
      register: fresh
      no_log: true

    - name: Reuse the still-valid token (succeeds; hidden)
      when: fresh.access_token is defined
      zohothrive.oauth.zoho_thrive_refresh:
        refresh_token: "{{ grant.refresh_token }}"
        access_token: "{{ fresh.access_token }}"
        expires_at: "{{ fresh.expires_at }}"
      register: reused
      no_log: true

    - name: Exchange the same code again (fails with invalid_code; result shown)
      zohothrive.oauth.zoho_thrive_token_exchange:
        code: "{{ zoho_code }}"
      ignore_errors: true

    - name: Refresh with a wrong client secret (fails; result shown)
      zohothrive.oauth.zoho_thrive_refresh:
        refresh_token: "{{ grant.refresh_token }}"
        client_secret: "{{ zoho_client_secret }}-but-wrong"
      ignore_errors: true

    # GHSA-h653-95qw-h2mp: an invalid option must not expose the values of the valid no_log
    # options. (A secret put into an unknown option cannot be known as secret by anyone.)
    - name: An invalid extra option next to secrets (fails in argument validation)
      zohothrive.oauth.zoho_thrive_refresh:
        refresh_token: "{{ grant.refresh_token }}"
        access_token: "{{ fresh.access_token | default(grant.refresh_token) }}"
        expires_at: "{{ fresh.expires_at | default(0) }}"
        client_secret: "{{ zoho_client_secret }}"
        not_an_option: harmless
      ignore_errors: true

    - name: A code of the wrong type (fails in argument validation)
      zohothrive.oauth.zoho_thrive_token_exchange:
        code: ["{{ zoho_code }}", "{{ grant.refresh_token }}"]
      ignore_errors: true

    - name: A callback URL that carries the code and a hostile server (refused)
      zohothrive.oauth.zoho_thrive_token_exchange:
        callback_url: "https://app.example.com/cb?code={{ zoho_code }}&accounts-server=https://evil.example"
      ignore_errors: true

    - name: Queue four HTTP 503 answers in the emulator
      ansible.builtin.uri:
        url: "{{ zoho_admin_url }}/faults"
        method: POST
        body_format: json
        body:
          path: /oauth/v2/token
          faults: "{{ [{'kind': 'status', 'status': 503, 'body': 'busy', 'headers': {'Retry-After': '0'}}] * 4 }}"
        ca_path: "{{ zoho_ca_path }}"
      check_mode: false

    - name: Refresh into server errors (retried, then fails; result shown)
      zohothrive.oauth.zoho_thrive_refresh:
        refresh_token: "{{ grant.refresh_token }}"
        min_ttl: 4000
      ignore_errors: true

    - name: Revoke (succeeds)
      zohothrive.oauth.zoho_thrive_revoke:
        refresh_token: "{{ grant.refresh_token }}"

    - name: Revoke again (Zoho says invalid; warning)
      zohothrive.oauth.zoho_thrive_revoke:
        refresh_token: "{{ grant.refresh_token }}"

    - name: Positive control (only when asked)
      ansible.builtin.debug:
        msg: "{{ fresh.access_token }}"
      when: leak_on_purpose | default(false) | bool
"""


def forms(secret: str) -> set[str]:
    """The raw value and the encodings Ansible's masking does not cover."""
    return {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        base64.b64encode(secret.encode()).decode(),
        json.dumps(secret)[1:-1],
    }


def prepare(emulator: Emulator, tmp_path: Path) -> tuple[Path, Path]:
    """Write the playbook and its vars file (secrets in a file, not on the command line)."""
    code = emulator.mint_code()
    cache = tmp_path / "cache" / "tokens.json"
    write(
        tmp_path / "vars.json",
        json.dumps(
            {
                "zoho_client_id": emulator.client_id,
                "zoho_client_secret": emulator.client_secret,
                "zoho_url": emulator.url,
                "zoho_admin_url": emulator.admin_url,
                "zoho_ca_path": emulator.ca_path,
                "zoho_code": code,
                "cache_path": str(cache),
            }
        ),
    )
    return write(tmp_path / "playbook.yml", PLAYBOOK), cache


def secrets_of_run(emulator: Emulator) -> dict[str, str]:
    """Every secret of the run: the client secret and everything the emulator issued."""
    state = emulator.state()
    secrets = {"client_secret": emulator.client_secret}
    secrets.update({f"code_{n}": c["code"] for n, c in enumerate(state["codes"])})
    secrets.update({f"refresh_token_{n}": r["token"] for n, r in enumerate(state["refresh_tokens"])})
    secrets.update({f"access_token_{n}": a["token"] for n, a in enumerate(state["access_tokens"])})
    assert len(secrets) >= 5, secrets.keys()  # the run really minted codes and tokens
    return secrets


SCENARIOS = {
    "vvv": (["-vvv"], {}),
    "vvvv-display-args": (["-vvvv"], {"ANSIBLE_DISPLAY_ARGS_TO_STDOUT": "1"}),
    "yaml-results": (["-vvv"], {"ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml"}),
    "minimal-callback": (["-vvv"], {"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal"}),
    "no-log-env": (["-vvv"], {"ANSIBLE_NO_LOG": "1"}),
}


def leaked(run_output: str, secrets: dict[str, str]) -> set[str]:
    return {name for name, value in secrets.items() for form in forms(value) if form in run_output}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_secret_in_any_output(scenario: str, fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> None:
    args, env = SCENARIOS[scenario]
    playbook, cache = prepare(fresh_emulator, tmp_path)
    run = ansible_playbook(playbook, *args, env=env)
    assert run.returncode == 0, run.output[-4000:]
    assert "Exchange the code" in run.output or "zoho_thrive_token_exchange" in run.output  # output was captured
    assert fresh_emulator.state()["revokes"] == 1  # the play ran to its end
    assert not leaked(run.output, secrets_of_run(fresh_emulator))


def test_no_secret_in_check_diff_output(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> None:
    playbook, cache = prepare(fresh_emulator, tmp_path)
    first = ansible_playbook(playbook)
    assert first.returncode == 0, first.output[-4000:]
    before = fresh_emulator.state()["token_requests"]
    run = ansible_playbook(playbook, "-vvv", "--check", "--diff")
    assert run.returncode == 0, run.output[-4000:]
    # Check mode sent nothing to the token endpoint: only the explicit fault-queueing uri task ran.
    assert fresh_emulator.state()["token_requests"] == before
    assert not leaked(run.output, secrets_of_run(fresh_emulator))


def test_positive_control_finds_a_printed_token(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> None:
    playbook, cache = prepare(fresh_emulator, tmp_path)
    run = ansible_playbook(playbook, "-v", "-e", "leak_on_purpose=true")
    assert run.returncode == 0, run.output[-4000:]
    found = leaked(run.output, secrets_of_run(fresh_emulator))
    assert any(name.startswith("access_token_") for name in found), found
