"""The token store contract, run against both backends: the file and a real OpenBao server (issue 8).

Each test drives the collection's own core (plugins/module_utils) with a real store and the HTTPS
Zoho emulator: exactly-once exchange across controller processes, check-and-set writes that are
re-decided, durable records, write-back of documented fields, and vault faults that leave nothing
spent or lost. Nothing is mocked.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
import typing as t
from pathlib import Path

import pytest

from conftest import Emulator

STORES = ["file", "vault"]


class Store:
    """How a test (or a controller process) names one store: the settings of ``token_store``."""

    def __init__(self, kind: str, tmp_path: Path, kv: t.Any = None, token: str | None = None) -> None:
        self.kind = kind
        self.path = str(tmp_path / "controller" / "tokens.json")
        self.kv = kv
        self.token = token

    @property
    def vault(self) -> dict[str, t.Any]:
        return {"url": self.kv.server.addr, "token": self.token or self.kv.server.token, "engine_mount_point": self.kv.mount, "path": "zohothrive/app"}

    def open(self, core: t.Any) -> t.Any:
        if self.kind == "file":
            return core.store.TokenCache(self.path, lock_timeout=30)
        return core.store.TokenCache(backend=core.vault.VaultBackend(self.vault))

    def spec(self) -> dict[str, t.Any]:
        return {"kind": self.kind, "path": self.path, "vault": self.vault if self.kind == "vault" else None}


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "vault":
        return Store("vault", tmp_path, request.getfixturevalue("openbao_kv"))
    return Store("file", tmp_path)


def client(core: t.Any, emulator: Emulator, **options: t.Any) -> t.Any:
    return core.client.ZohoOAuthClient(
        emulator.url, client_id=emulator.client_id, client_secret=emulator.client_secret, ca_path=emulator.ca_path, **options
    )


def test_an_exchange_is_recorded_durably_and_never_repeated(core: t.Any, store: Store, fresh_emulator: Emulator) -> None:
    code = fresh_emulator.mint_code()
    first = core.flows.exchange_code(client(core, fresh_emulator), code, cache=store.open(core), check_mode=False)
    again = core.flows.exchange_code(client(core, fresh_emulator), code, cache=store.open(core), check_mode=False)
    assert (first.changed, again.changed) == (True, False)
    assert first.tokens.refresh_token == again.tokens.refresh_token
    assert fresh_emulator.state()["exchanges"] == 1
    stored = store.open(core).load()
    assert stored.code_tokens(core.auth.fingerprint(code)).refresh_token == first.tokens.refresh_token


CONTROLLER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from ansible_collections.zohothrive.oauth.plugins.module_utils import _client, _flows, _token_store, _vault_store
    spec = json.loads(sys.argv[2])
    if spec["kind"] == "file":
        cache = _token_store.TokenCache(spec["path"], lock_timeout=60)
    else:
        cache = _token_store.TokenCache(backend=_vault_store.VaultBackend(spec["vault"]))
    zoho = _client.ZohoOAuthClient(spec["url"], client_id=spec["client_id"], client_secret=spec["client_secret"], ca_path=spec["ca_path"])
    sys.stdin.readline()  # every controller starts at the same moment
    try:
        if "min_ttl" in spec:  # the role's controller step: the stored credentials of the code, refreshed below min_ttl
            outcome = _flows.ensure_credentials(zoho, cache, code=spec["code"], min_ttl=spec["min_ttl"], check_mode=False)
        elif "code" in spec:
            outcome = _flows.exchange_code(zoho, spec["code"], cache=cache, check_mode=False)
        else:
            outcome = _flows.ensure_access_token(zoho, spec["refresh_token"], cache=cache, min_ttl=300, check_mode=False)
        tokens = outcome.tokens
        print(json.dumps({"changed": outcome.changed, "refresh": tokens.refresh_token, "access": tokens.access_token}))
    except Exception as exc:
        print(json.dumps({"error": type(exc).__name__, "msg": str(exc)}))
    """
)


def controller_spec(store: Store, emulator: Emulator, **task: t.Any) -> dict[str, t.Any]:
    """What a controller process needs: the store, the accounts server, and the ``code`` to exchange or ``refresh_token`` to mint from."""
    return dict(
        store.spec(), url=emulator.url, client_id=emulator.client_id, client_secret=emulator.client_secret, ca_path=emulator.ca_path, **task
    )


def start_controller(collections_path: str, spec: dict[str, t.Any]) -> subprocess.Popen[str]:
    """A controller process running :data:`CONTROLLER`, started (told "go") at once."""
    process = subprocess.Popen(
        [sys.executable, "-c", CONTROLLER, collections_path, json.dumps(spec)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    process.stdin.write("go\n")
    process.stdin.flush()
    return process


def outcome_of(process: subprocess.Popen[str]) -> dict[str, t.Any]:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def race(collections_path: str, spec: dict[str, t.Any], count: int) -> list[dict[str, t.Any]]:
    """``count`` controller processes doing the same at the same moment; their outcomes."""
    return [outcome_of(process) for process in [start_controller(collections_path, spec) for _number in range(count)]]


def test_controllers_racing_one_fresh_code_exchange_it_exactly_once(
    core: t.Any, store: Store, fresh_emulator: Emulator, collections_path: str
) -> None:
    code = fresh_emulator.mint_code()
    fresh_emulator.faults([{"kind": "slow", "delay": 1.0}])  # the winner's exchange takes a second: the others must wait
    results = race(collections_path, controller_spec(store, fresh_emulator, code=code), 4)
    assert all("refresh" in result for result in results), results
    assert len({result["refresh"] for result in results}) == 1  # everybody got the same tokens
    assert sorted(result["changed"] for result in results) == [False, False, False, True]
    assert fresh_emulator.state()["exchanges"] == 1


def test_a_controller_waiting_on_a_claim_that_zoho_refused_claims_the_code_itself(
    core: t.Any, openbao_kv: t.Any, fresh_emulator: Emulator, collections_path: str, tmp_path: Path
) -> None:
    """The first controller had a wrong client secret: Zoho refused its request, not the code, so the waiting one exchanges it.

    Vault only: with the file store the lock lets one controller in at a time, so nobody waits on another's claim.
    """
    store = Store("vault", tmp_path, openbao_kv)
    code = fresh_emulator.mint_code()
    fresh_emulator.faults([{"kind": "slow", "delay": 1.5}])  # the first request stays in flight while the second controller starts
    spec = controller_spec(store, fresh_emulator, code=code)

    def controller(secret: str) -> subprocess.Popen[str]:
        return start_controller(collections_path, dict(spec, client_secret=secret))

    wrong = controller("ZSEC_not_this_clients_secret")
    deadline = time.monotonic() + 30
    while store.open(core).load().code_entry(core.auth.fingerprint(code)) is None:  # its claim is recorded: the code is in flight
        assert time.monotonic() < deadline and wrong.poll() is None, "the first controller never claimed the code"
        time.sleep(0.05)
    right = controller(fresh_emulator.client_secret)
    results = [outcome_of(process) for process in (wrong, right)]
    assert "invalid_client_secret" in results[0].get("msg", ""), results
    assert "refresh" in results[1], results  # it waited, saw the claim given up, and exchanged the still-valid code
    assert fresh_emulator.state()["exchanges"] == 1


def test_controllers_racing_to_mint_from_one_refresh_token_mint_once(
    core: t.Any, store: Store, fresh_emulator: Emulator, collections_path: str
) -> None:
    """Zoho allows 10 mints per refresh token per 10 minutes: six controllers needing a token at once must spend one."""
    refresh_token = core.flows.exchange_code(client(core, fresh_emulator), fresh_emulator.mint_code(), cache=None, check_mode=False).tokens.refresh_token
    fresh_emulator.faults([{"kind": "slow", "delay": 1.5}] * 6, path="/oauth/v2/token")  # Zoho's latency: the others must wait, not mint
    results = race(collections_path, controller_spec(store, fresh_emulator, refresh_token=refresh_token), 6)
    assert all("access" in result for result in results), results
    assert len({result["access"] for result in results}) == 1  # everybody got the one token minted
    assert sorted(result["changed"] for result in results) == [False] * 5 + [True]
    assert fresh_emulator.state()["refreshes"] == 1


def test_controllers_refreshing_the_stored_credentials_at_once_mint_once(
    core: t.Any, store: Store, fresh_emulator: Emulator, collections_path: str
) -> None:
    """The role's controller step on several CI runners at once, when the stored access token is too old for min_ttl."""
    code = fresh_emulator.mint_code()
    stored = core.flows.exchange_code(client(core, fresh_emulator), code, cache=store.open(core), check_mode=False).tokens
    while stored.expires_at - time.time() >= 3598:  # the clock must move past min_ttl for the stored token (about 2 s)
        time.sleep(0.1)
    fresh_emulator.faults([{"kind": "slow", "delay": 1.5}] * 6, path="/oauth/v2/token")
    results = race(collections_path, controller_spec(store, fresh_emulator, code=code, min_ttl=3598), 6)  # the stored token is too old now
    assert all("access" in result for result in results), results
    assert len({result["access"] for result in results}) == 1 and stored.access_token not in {result["access"] for result in results}
    assert fresh_emulator.state()["refreshes"] == 1 and fresh_emulator.state()["exchanges"] == 1


def test_every_write_is_check_and_set_and_a_conflict_is_re_decided(core: t.Any, openbao_kv: t.Any, tmp_path: Path) -> None:
    store = Store("vault", tmp_path, openbao_kv)
    mine, theirs = store.open(core), store.open(core)
    mine.load()  # read version 0 (nothing stored)
    theirs.load()
    theirs.set_current_code("1000.OTHER@https://accounts.zoho.eu", "b" * 64)  # another controller writes first
    mine.set_current_code("1000.MINE@https://accounts.zoho.eu", "a" * 64)  # conflicts, is re-read and re-applied
    stored = store.open(core).load()
    assert stored.current_code("1000.OTHER@https://accounts.zoho.eu") == "b" * 64
    assert stored.current_code("1000.MINE@https://accounts.zoho.eu") == "a" * 64
    metadata = openbao_kv.client().secrets.kv.v2.read_secret_metadata(path="zohothrive/app", mount_point=openbao_kv.mount)
    assert metadata["data"]["current_version"] == 2  # two writes, neither lost


def test_a_secret_created_just_after_it_was_read_as_absent_is_never_overwritten(core: t.Any, openbao_kv: t.Any, tmp_path: Path) -> None:
    """The race CI once lost: the store was read as empty, and another controller claimed the code right after that read.

    The version a write names must come from the read's own answer (a later metadata lookup saw
    the other controller's version, so the write replaced its record and both sent the code).
    The real OpenBao server; the other controller's write is made right after this one's read.
    """
    store = Store("vault", tmp_path, openbao_kv)
    mine, theirs = store.open(core), store.open(core)
    kv2 = mine.backend.client.secrets.kv.v2
    read = kv2.read_secret_version

    def then_the_other_controller_claims_the_code(**kwargs: t.Any) -> t.Any:
        kv2.read_secret_version = read  # once
        try:
            return read(**kwargs)
        finally:
            theirs.load()
            theirs.begin_exchange("c" * 64, accounts_url="https://accounts.zoho.eu", client_id="1000.THEIRS")

    kv2.read_secret_version = then_the_other_controller_claims_the_code
    mine.load()
    assert mine.code_entry("c" * 64) is None  # read before the other controller wrote
    with pytest.raises(core.store.CodeClaimedElsewhere):
        mine.begin_exchange("c" * 64, accounts_url="https://accounts.zoho.eu", client_id="1000.MINE")
    assert store.open(core).load().code_entry("c" * 64)["client_id"] == "1000.THEIRS"


@pytest.mark.parametrize("removal", ["delete", "destroy"])
def test_a_secret_whose_newest_version_was_removed_starts_afresh(core: t.Any, openbao_kv: t.Any, tmp_path: Path, removal: str) -> None:
    store = Store("vault", tmp_path, openbao_kv)
    store.open(core).load().set_current_code("1000.OLD@https://accounts.zoho.eu", "a" * 64)
    kv2 = openbao_kv.client().secrets.kv.v2
    if removal == "delete":
        kv2.delete_latest_version_of_secret(path="zohothrive/app", mount_point=openbao_kv.mount)
    else:
        kv2.destroy_secret_versions(path="zohothrive/app", versions=[1], mount_point=openbao_kv.mount)
    fresh = store.open(core).load()
    assert fresh.current_code("1000.OLD@https://accounts.zoho.eu") is None  # a person removed it: it is gone
    fresh.set_current_code("1000.NEW@https://accounts.zoho.eu", "b" * 64)  # written with cas=1, the removed version
    assert store.open(core).load().current_code("1000.NEW@https://accounts.zoho.eu") == "b" * 64
    assert kv2.read_secret_metadata(path="zohothrive/app", mount_point=openbao_kv.mount)["data"]["current_version"] == 2


def test_the_vault_holds_the_documented_fields_for_other_jobs(core: t.Any, openbao_kv: t.Any, tmp_path: Path, fresh_emulator: Emulator) -> None:
    store = Store("vault", tmp_path, openbao_kv)
    code = fresh_emulator.mint_code()
    zoho = client(core, fresh_emulator)
    cache = store.open(core)
    outcome = core.flows.ensure_credentials(zoho, cache, code=code, candidates=[], allow_exchange=True, min_ttl=300, check_mode=False)
    kv2 = openbao_kv.client().secrets.kv.v2
    secret = kv2.read_secret_version(path="zohothrive/app", mount_point=openbao_kv.mount, raise_on_deleted_version=True)["data"]["data"]
    assert secret["refresh_token"] == outcome.tokens.refresh_token
    assert secret["access_token"] == outcome.tokens.access_token
    assert secret["expires_at"] == outcome.tokens.expires_at
    assert secret["code_fingerprint"] == core.auth.fingerprint(code)
    assert secret["accounts_url"] == fresh_emulator.url and secret["client_id"] == fresh_emulator.client_id
    assert secret["api_domain"].startswith("https://")
    text = json.dumps(secret)
    assert code not in text and fresh_emulator.client_secret not in text  # never the code or the client secret


def test_approle_login_works(core: t.Any, openbao_kv: t.Any, tmp_path: Path, fresh_emulator: Emulator) -> None:
    approle = openbao_kv.approle("zohothrive/")
    settings = {
        "url": openbao_kv.server.addr,
        "auth_method": "approle",
        "role_id": approle.role_id,
        "secret_id": approle.secret_id,
        "engine_mount_point": openbao_kv.mount,
        "path": "zohothrive/app",
    }
    code = fresh_emulator.mint_code()
    cache = core.store.TokenCache(backend=core.vault.VaultBackend(settings))
    outcome = core.flows.exchange_code(client(core, fresh_emulator), code, cache=cache, check_mode=False)
    assert outcome.changed and fresh_emulator.state()["exchanges"] == 1


@pytest.mark.parametrize("fault", ["sealed", "permission", "kv1", "no-mount", "down", "bad-token"])
def test_a_vault_fault_before_the_exchange_spends_nothing(
    core: t.Any, openbao_factory: t.Any, openbao_kv_factory: t.Any, tmp_path: Path, fresh_emulator: Emulator, fault: str
) -> None:
    server = openbao_factory()
    kv = openbao_kv_factory(version=1 if fault == "kv1" else 2, server=server)
    settings = {"url": server.addr, "token": server.token, "engine_mount_point": kv.mount, "path": "zohothrive/app", "timeout": 3}
    expected = {
        "sealed": "sealed",
        "permission": "permission denied",
        "kv1": "not KV version 2",
        "no-mount": "no secrets engine",
        "down": "did not answer",
        "bad-token": "does not accept `vault.token` (or VAULT_TOKEN): it is expired, revoked or mistyped",
    }[fault]
    if fault == "sealed":
        server.seal()
    elif fault == "permission":
        settings["token"] = kv.token("somewhere-else/")
    elif fault == "bad-token":
        settings["token"] = "s.expiredorinvented0000000000"
    elif fault == "no-mount":
        settings["engine_mount_point"] = "not-mounted"
    elif fault == "down":
        server.stop()
    code = fresh_emulator.mint_code()
    cache = core.store.TokenCache(backend=core.vault.VaultBackend(settings))
    with pytest.raises(core.errors.ZohoTokenStoreError) as failed:
        core.flows.exchange_code(client(core, fresh_emulator), code, cache=cache, check_mode=False)
    assert expected in failed.value.msg
    assert server.token not in failed.value.msg
    assert fresh_emulator.state()["token_requests"] == 0  # the code was not sent: it is still usable
    assert fresh_emulator.log() == []


def test_a_vault_that_dies_after_the_code_was_sent_loses_no_token(
    core: t.Any, openbao_factory: t.Any, openbao_kv_factory: t.Any, tmp_path: Path, fresh_emulator: Emulator
) -> None:
    server = openbao_factory()
    kv = openbao_kv_factory(server=server)
    settings = {"url": server.addr, "token": server.token, "engine_mount_point": kv.mount, "path": "zohothrive/app", "timeout": 3}
    code = fresh_emulator.mint_code()
    fresh_emulator.faults([{"kind": "slow", "delay": 2.0}])  # Zoho answers after two seconds; the vault dies meanwhile
    cache = core.store.TokenCache(backend=core.vault.VaultBackend(settings))
    stopper = threading.Timer(0.5, server.stop)
    stopper.start()
    try:
        outcome = core.flows.exchange_code(client(core, fresh_emulator), code, cache=cache, check_mode=False)
    finally:
        stopper.join()
    assert outcome.tokens is not None and outcome.tokens.refresh_token  # issued tokens are returned, never dropped
    assert outcome.store_error and "did not answer" in outcome.store_error
    assert fresh_emulator.state()["exchanges"] == 1


@pytest.fixture(scope="session")
def core(collections_path: str) -> t.Any:
    """The collection's core modules, imported from the checkout (as ansible-playbook would load them)."""
    if collections_path not in sys.path:
        sys.path.insert(0, collections_path)
    from ansible_collections.zohothrive.oauth.plugins.module_utils import (  # pylint: disable=import-outside-toplevel
        _authorization,
        _client,
        _errors,
        _flows,
        _token_store,
        _vault_store,
    )

    class Core:
        auth = _authorization
        client = _client
        errors = _errors
        flows = _flows
        store = _token_store
        vault = _vault_store

    return Core
