"""Zoho's limits as state (issue 8, item 4): real ansible-playbook runs, the emulator (TLS verified), both token stores.

The emulator enforces Zoho's limits itself (10 access tokens per refresh token per 10 minutes, the
exchange counting as one; 20 live refresh tokens per user and client, the 21st evicting the oldest),
so these tests prove that the collection refuses before Zoho would: the emulator's counters show
what reached it. The file store and a real OpenBao server (the vault store) run the same tests.
"""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import pytest
from test_role_thrive_tokens import Site, assert_ok

from conftest import Emulator, PlaybookRun, write

SECRET_PATH = "zohothrive/limits"
STORES = ["file", "vault"]


class Store:
    """One token store as the modules (``token_cache`` or ``vault``) and the role (``thrive_tokens_*``) name it."""

    def __init__(self, kind: str, tmp_path: Path, kv: t.Any = None) -> None:
        self.kind = kind
        self.path = tmp_path / "controller" / "tokens.json"
        self.kv = kv
        self.token = kv.token("zohothrive/") if kv is not None else None

    @property
    def module_options(self) -> dict[str, t.Any]:
        if self.kind == "file":
            return {"token_cache": str(self.path)}
        return {"vault": {"url": self.kv.server.addr, "token": self.token, "engine_mount_point": self.kv.mount, "path": SECRET_PATH}}

    def role_vars(self) -> dict[str, t.Any]:
        if self.kind == "file":
            return {"thrive_tokens_token_cache": str(self.path)}
        return {
            "thrive_tokens_store": "vault",
            "thrive_tokens_vault_url": self.kv.server.addr,
            "thrive_tokens_vault_token": self.token,
            "thrive_tokens_vault_engine_mount_point": self.kv.mount,
            "thrive_tokens_vault_path": SECRET_PATH,
        }

    def document(self) -> dict[str, t.Any]:
        """The whole store document, as the core keeps it."""
        if self.kind == "file":
            return json.loads(self.path.read_text(encoding="utf-8"))
        answer = self.kv.client().secrets.kv.v2.read_secret_version(path=SECRET_PATH, mount_point=self.kv.mount, raise_on_deleted_version=True)
        return answer["data"]["data"]["zohothrive_store"]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "vault":
        return Store("vault", tmp_path, request.getfixturevalue("openbao_kv"))
    return Store("file", tmp_path)


def play(emulator: Emulator, store: Store, tasks: str) -> str:
    """A localhost play whose zoho_thrive modules use the emulator and the store; the report file collects what is checked."""
    defaults = {
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "accounts_url": emulator.url,
        "ca_path": emulator.ca_path,
        **store.module_options,
    }
    return f"""
- name: Zoho's limits
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/zohothrive.oauth.zoho_thrive: {json.dumps(defaults)}
  tasks:
{tasks}
"""


def run_play(ansible_playbook: t.Callable[..., PlaybookRun], tmp_path: Path, text: str, extra: dict[str, t.Any]) -> tuple[PlaybookRun, dict[str, t.Any]]:
    report = tmp_path / "report.json"
    variables = write(tmp_path / "vars.json", json.dumps({**extra, "report": str(report)}))
    variables.chmod(0o600)
    run = ansible_playbook(write(tmp_path / "limits.yml", text), "-e", f"@{variables}")
    return run, json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}


MINT_TASKS = """
    - name: Exchange the code (the first mint of its refresh token)
      zohothrive.oauth.zoho_thrive_token_exchange:
        code: "{{ code }}"
      register: exchanged
      no_log: true

    - name: Mint an access token on every run (a min_ttl above an access token's lifetime never reuses one)
      zohothrive.oauth.zoho_thrive_refresh:
        refresh_token: "{{ exchanged.refresh_token }}"
        min_ttl: 3700
      loop: "{{ range(10) | list }}"
      register: minted
      ignore_errors: true
      no_log: true

    - name: Ask once more in check mode
      zohothrive.oauth.zoho_thrive_refresh:
        refresh_token: "{{ exchanged.refresh_token }}"
        min_ttl: 3700
      check_mode: true
      register: predicted
      ignore_errors: true
      no_log: true

    - name: Keep the counts and the messages (no token)
      ansible.builtin.copy:
        dest: "{{ report }}"
        mode: "0600"
        content: >-
          {{ {'exchanged': exchanged | dict2items | selectattr('key', 'in', ['live_refresh_tokens', 'mints_in_window', 'window_frees_at'])
                                     | items2dict,
              'minted': minted.results | map('dict2items')
                                       | map('selectattr', 'key', 'in', ['failed', 'msg', 'mints_in_window', 'window_frees_at', 'window_frees_in'])
                                       | map('items2dict') | list,
              'predicted': {'failed': predicted.failed | default(false), 'msg': predicted.msg | default('')}} | to_json }}
"""


def test_the_eleventh_mint_is_refused_locally_and_zoho_sees_only_ten(
    fresh_emulator: Emulator, ansible_playbook: t.Callable[..., PlaybookRun], tmp_path: Path, store: Store
) -> None:
    code = fresh_emulator.mint_code(ttl=600)
    run, report = run_play(ansible_playbook, tmp_path, play(fresh_emulator, store, MINT_TASKS), {"code": code})
    assert_ok(run)  # the refused mint was ignored; everything else succeeded
    state = fresh_emulator.state()
    assert (state["exchanges"], state["refreshes"], state["token_requests"]) == (1, 9, 10)  # Zoho saw ten mints, never an eleventh
    assert "Access Denied" not in json.dumps(fresh_emulator.log())  # Zoho's throttle never answered: it never had to

    assert report["exchanged"]["mints_in_window"] == 1 and report["exchanged"]["live_refresh_tokens"] == 1
    minted = report["minted"]
    assert [item.get("mints_in_window") for item in minted[:9]] == list(range(2, 11))
    refused = minted[9]
    assert refused["failed"] and "Refused locally" in refused["msg"] and "Nothing was sent" in refused["msg"]
    assert "`min_ttl`" in refused["msg"] and "lower bound" in refused["msg"]
    assert refused["mints_in_window"] == 10 and 0 < refused["window_frees_in"] <= 600
    assert f"epoch {refused['window_frees_at']} (in " in refused["msg"]
    assert report["predicted"]["failed"] and "Refused locally" in report["predicted"]["msg"]  # check mode predicts it
    assert fresh_emulator.state()["token_requests"] == 10

    document = store.document()
    assert [len(entries) for entries in document["limits"]["mints"].values()] == [10]
    assert code not in json.dumps(document)


EXCHANGE_TASKS = """
    - name: Exchange nineteen grant codes, as nineteen rotations without revocation would
      zohothrive.oauth.zoho_thrive_token_exchange:
        code: "{{ item }}"
      loop: "{{ codes[:19] }}"
      register: exchanged
      no_log: true

    - name: Exchange the twentieth
      zohothrive.oauth.zoho_thrive_token_exchange:
        code: "{{ codes[19] }}"
      register: twentieth
      no_log: true

    - name: Keep the counts and the warnings (no token)
      ansible.builtin.copy:
        dest: "{{ report }}"
        mode: "0600"
        content: >-
          {{ {'live': (exchanged.results + [twentieth]) | map(attribute='live_refresh_tokens', default=None) | list,
              'warnings': twentieth.warnings | default([])} | to_json }}
"""


def test_the_twenty_first_refresh_token_is_refused_until_eviction_is_allowed(
    fresh_emulator: Emulator, ansible_playbook: t.Callable[..., PlaybookRun], tmp_path: Path, store: Store
) -> None:
    codes = [fresh_emulator.mint_code(ttl=900) for _number in range(20)]
    run, report = run_play(ansible_playbook, tmp_path, play(fresh_emulator, store, EXCHANGE_TASKS), {"codes": codes})
    assert_ok(run)
    assert fresh_emulator.state()["exchanges"] == 20
    first_refresh = next(token for token in fresh_emulator.state()["refresh_tokens"] if not token["evicted"])["token"]

    site = Site(tmp_path / "site", fresh_emulator, ansible_playbook, ["json"])
    site.vars.pop("thrive_tokens_token_cache")
    site.vars.update(store.role_vars())
    code = site.new_code()

    predicted = site.run("--check")
    assert predicted.returncode != 0
    refused = site.run()
    assert refused.returncode != 0
    for failed in (predicted, refused):
        text = " ".join(failed.output.split())
        assert "Refused locally" in text and "21st live refresh token" in text
        assert "`thrive_tokens_allow_refresh_token_eviction`" in text  # the option, in the role's words
        assert "Connected Apps" in text and "zohothrive.oauth.zoho_thrive_revoke" in text
        assert code not in failed.output and fresh_emulator.client_secret not in failed.output
    state = fresh_emulator.state()
    assert state["exchanges"] == 20 and state["evictions"] == 0  # Zoho never deleted anything
    assert fresh_emulator.admin("POST", "introspect", {"token": first_refresh})["active"]
    assert not site.config(site.hosts[0]).exists()
    assert any(entry["code"] == code and not entry.get("used") for entry in state["codes"])  # the code is still unused
    assert report["live"] == list(range(1, 21))  # what the twenty exchanges returned
    # The warning as the count approached 20 (ansible-core before 2.19 shows no warning of a no_log task, but registers it).
    assert "counts 20 live refresh tokens" in " ".join((run.output + json.dumps(report["warnings"])).split())

    site.vars["thrive_tokens_allow_refresh_token_eviction"] = True
    allowed = site.run()
    assert_ok(allowed)
    text = " ".join(allowed.output.split())
    assert "`thrive_tokens_allow_refresh_token_eviction` is set" in text and "deletes the oldest" in text
    state = fresh_emulator.state()
    assert state["exchanges"] == 21 and state["evictions"] == 1  # the eviction happened, as allowed
    assert not fresh_emulator.admin("POST", "introspect", {"token": first_refresh})["active"]
    live = store.document()["limits"]["live"]
    assert [len(tokens) for tokens in live.values()] == [20]  # Zoho holds 20: the store stopped counting the deleted one
    assert site.read(site.hosts[0])["refresh_token"]


@pytest.fixture()
def core(collections_path: str) -> t.Any:
    """The collection's token store and limits, imported from the collection under test (as ansible-playbook loads them)."""
    if collections_path not in sys.path:
        sys.path.insert(0, collections_path)
    from ansible_collections.zohothrive.oauth.plugins.module_utils import _limits, _token_store, _vault_store  # pylint: disable=import-outside-toplevel

    return type("Core", (), {"limits": _limits, "store": _token_store, "vault": _vault_store})


def test_two_controllers_on_a_real_vault_cannot_both_take_the_tenth_slot(core: t.Any, openbao_kv: t.Any) -> None:
    settings = {"url": openbao_kv.server.addr, "token": openbao_kv.token("zohothrive/"), "engine_mount_point": openbao_kv.mount, "path": SECRET_PATH}

    def controller() -> t.Any:
        return core.store.TokenCache(backend=core.vault.VaultBackend(settings))

    refresh_token = "1000.refresh-token-of-the-race"
    seeding = controller()
    for _number in range(9):
        seeding.reserve_mint(refresh_token)
    first, second = controller().load(), controller().load()  # both read nine mints: one slot left
    first.reserve_mint(refresh_token)
    with pytest.raises(core.limits.ZohoMintLimitError, match="Refused locally"):
        second.reserve_mint(refresh_token)  # its check-and-set write conflicts; re-read, the window is full
    store = Store("vault", Path("/nonexistent"), openbao_kv)
    assert [len(entries) for entries in store.document()["limits"]["mints"].values()] == [10]
    metadata = openbao_kv.client().secrets.kv.v2.read_secret_metadata(path=SECRET_PATH, mount_point=openbao_kv.mount)
    assert metadata["data"]["current_version"] == 10  # ten writes: the refused one wrote nothing
