# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The controller-side token cache: permissions, the grant-code ledger, access tokens, locking."""

from __future__ import annotations

import json
import re
import os
import stat
import threading
import time
import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils import _fileio
from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import TokenSet
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoTokenStoreError
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import DONE, FORMAT, IN_FLIGHT, VERSION, TokenCache, is_absent, keep_known
from ansible_collections.zohothrive.oauth.tests.unit.fakes import NOW, sentinel

CODE = sentinel("code")
CODE_FP = fingerprint(CODE)
RT = sentinel("refresh")
AT = sentinel("access")


def tokens(access: str = AT, refresh: str | None = RT, *, expires_at: int = int(NOW) + 3600) -> TokenSet:
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        api_domain="https://www.zohoapis.eu",
        token_type="Bearer",
        expires_in=3600,
        expires_at=expires_at,
        scope=["Thrive.Referral.CREATE"],
    )


def mode_of(path: t.Any) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def on_disk(cache: TokenCache) -> dict[str, t.Any]:
    with open(cache.path, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture
def cache(tmp_path: t.Any) -> TokenCache:
    return TokenCache(str(tmp_path / "private" / "tokens.json"), clock=lambda: NOW, lock_timeout=5)


# -- files and permissions ----------------------------------------------------------------------


def test_first_use_creates_a_0700_directory_and_0600_files(cache: TokenCache) -> None:
    old = os.umask(0o022)
    try:
        with cache.locked():
            cache.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id="1000.ID")
    finally:
        os.umask(old)
    directory = os.path.dirname(cache.path)
    assert mode_of(directory) == 0o700
    assert mode_of(cache.path) == 0o600
    assert sorted(os.listdir(directory)) == ["tokens.json"]  # the lock file exists only while the lock is held


def test_the_lock_file_is_0600_while_held_and_gone_after(cache: TokenCache) -> None:
    with cache.locked():
        assert mode_of(cache.lock_path) == 0o600
    assert not os.path.lexists(cache.lock_path)


def test_file_stays_0600_under_umask_000(cache: TokenCache) -> None:
    old = os.umask(0)
    try:
        with cache.locked():
            cache.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
            cache.finish_exchange(CODE_FP, tokens())
    finally:
        os.umask(old)
    assert mode_of(cache.path) == 0o600


def test_path_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert TokenCache("~/x/tokens.json").path == str(tmp_path / "x" / "tokens.json")
    assert TokenCache("~/x/tokens.json").lock_path == str(tmp_path / "x" / "tokens.json.lock")


def test_every_save_is_an_atomic_replace(cache: TokenCache) -> None:
    with cache.locked():
        cache.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
        first = os.stat(cache.path).st_ino
        cache.finish_exchange(CODE_FP, tokens())
        second = os.stat(cache.path).st_ino
    assert first != second
    assert sorted(os.listdir(os.path.dirname(cache.path))) == ["tokens.json"]  # no temporary or lock file left


def test_missing_file_is_an_empty_cache(cache: TokenCache) -> None:
    cache.load()
    assert cache.code_entry(CODE_FP) is None
    assert cache.access_token_for(RT) is None
    assert not os.path.exists(os.path.dirname(cache.path))  # reading creates nothing


# -- grant-code ledger ------------------------------------------------------------------------------


def test_in_flight_then_done(cache: TokenCache) -> None:
    with cache.locked():
        cache.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id="1000.ID")
        data = on_disk(cache)  # written before the code is sent
        assert data["format"] == FORMAT and data["version"] == VERSION
        claim = data["codes"][CODE_FP].pop("claim")
        assert re.fullmatch(r"[0-9a-f]{16}", claim)  # whose record this is: only its writer abandons it
        assert data["codes"][CODE_FP] == {
            "state": IN_FLIGHT,
            "started": int(NOW),
            "accounts_url": "https://accounts.zoho.eu",
            "client_id": "1000.ID",
        }
        assert cache.code_tokens(CODE_FP) is None
        cache.finish_exchange(CODE_FP, tokens())
    entry = on_disk(cache)["codes"][CODE_FP]
    assert entry["state"] == DONE
    assert entry["finished"] == int(NOW)
    assert entry["tokens"]["access_token"] == AT and entry["tokens"]["refresh_token"] == RT
    raw = open(cache.path, encoding="utf-8").read()
    assert CODE not in raw  # only the fingerprint of the code is stored


def test_done_tokens_are_returned_with_a_recomputed_lifetime(tmp_path: t.Any) -> None:
    path = str(tmp_path / "tokens.json")
    writer = TokenCache(path, clock=lambda: NOW)
    with writer.locked():
        writer.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
        writer.finish_exchange(CODE_FP, tokens())
    reader = TokenCache(path, clock=lambda: NOW + 1000).load()
    stored = reader.code_tokens(CODE_FP)
    assert stored is not None
    assert stored.access_token == AT and stored.refresh_token == RT
    assert stored.expires_at == int(NOW) + 3600 and stored.expires_in == 2600
    assert stored.scope == ["Thrive.Referral.CREATE"] and stored.api_domain == "https://www.zohoapis.eu"


def test_finish_also_records_the_access_token_of_the_new_refresh_token(cache: TokenCache) -> None:
    with cache.locked():
        cache.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
        cache.finish_exchange(CODE_FP, tokens())
    reloaded = TokenCache(cache.path, clock=lambda: NOW).load()
    found = reloaded.access_token_for(RT)
    assert found is not None and found.access_token == AT
    entry = on_disk(cache)["access_tokens"][fingerprint(RT)]
    assert "refresh_token" not in entry and "expires_in" not in entry


def test_abandon_removes_the_in_flight_entry(cache: TokenCache) -> None:
    with cache.locked():
        cache.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
        cache.abandon_exchange(CODE_FP)
    assert on_disk(cache)["codes"] == {}
    mtime = os.stat(cache.path).st_mtime_ns
    with cache.locked():
        cache.abandon_exchange(CODE_FP)  # nothing to forget: no write
    assert os.stat(cache.path).st_mtime_ns == mtime


def test_in_flight_entry_survives_a_reload(cache: TokenCache) -> None:
    with cache.locked():
        cache.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
    reloaded = TokenCache(cache.path).load()
    entry = reloaded.code_entry(CODE_FP)
    assert entry is not None and entry["state"] == IN_FLIGHT
    assert reloaded.code_tokens(CODE_FP) is None


# -- access tokens per refresh token ----------------------------------------------------------------


def test_access_token_per_refresh_token(cache: TokenCache) -> None:
    other_rt, other_at = sentinel("refresh"), sentinel("access")
    with cache.locked():
        cache.remember_access_token(RT, tokens(AT, None))
        cache.remember_access_token(other_rt, tokens(other_at, None, expires_at=int(NOW) + 100))
    reloaded = TokenCache(cache.path, clock=lambda: NOW).load()
    first, second = reloaded.access_token_for(RT), reloaded.access_token_for(other_rt)
    assert first is not None and first.access_token == AT and first.expires_in == 3600
    assert second is not None and second.access_token == other_at and second.expires_in == 100
    assert reloaded.access_token_for(sentinel("refresh")) is None
    raw = open(cache.path, encoding="utf-8").read()
    assert RT not in raw and other_rt not in raw  # keyed by fingerprint
    assert set(on_disk(cache)["access_tokens"]) == {fingerprint(RT), fingerprint(other_rt)}


def test_newer_access_token_replaces_the_older(cache: TokenCache) -> None:
    newer = sentinel("access")
    with cache.locked():
        cache.remember_access_token(RT, tokens(AT, None))
        cache.remember_access_token(RT, tokens(newer, None, expires_at=int(NOW) + 3599))
    found = TokenCache(cache.path, clock=lambda: NOW).load().access_token_for(RT)
    assert found is not None and found.access_token == newer


def test_rotated_refresh_token_is_findable_too(cache: TokenCache) -> None:
    rotated = sentinel("refresh")
    with cache.locked():
        cache.remember_access_token(RT, tokens(AT, rotated))
    reloaded = TokenCache(cache.path, clock=lambda: NOW).load()
    for refresh in (RT, rotated):
        found = reloaded.access_token_for(refresh)
        assert found is not None and found.access_token == AT


# -- an absent value never erases a known one (issue 7, item 3) --------------------------------------------

API_EU = "https://www.zohoapis.eu"
SCOPE = ["Thrive.Referral.CREATE"]


def bare(access: str, refresh: str | None = None, *, expires_at: int = int(NOW) + 3600, **optional: t.Any) -> TokenSet:
    """A TokenSet as an answer without the optional fields gives it (``optional`` sets some of them)."""
    return TokenSet(access_token=access, refresh_token=refresh, expires_in=3600, expires_at=expires_at, **optional)


# The ways an answer (or an older cache entry) says "absent": today's client gives None; older ones gave "" and [].
ABSENT = [
    pytest.param({}, id="missing"),
    pytest.param({"api_domain": None, "token_type": None, "scope": None}, id="none"),
    pytest.param({"api_domain": "", "token_type": "", "scope": []}, id="empty"),
    pytest.param({"api_domain": "  ", "token_type": " ", "scope": []}, id="blank"),
]


@pytest.mark.parametrize("absent", ABSENT)
def test_a_refresh_answer_without_optional_fields_keeps_the_stored_ones(cache: TokenCache, absent: dict[str, t.Any]) -> None:
    newer = sentinel("access")
    with cache.locked():
        cache.remember_access_token(RT, tokens(AT, None))
        cache.remember_access_token(RT, bare(newer, expires_at=int(NOW) + 3599, **absent))
    found = TokenCache(cache.path, clock=lambda: NOW).load().access_token_for(RT)
    assert found is not None and found.access_token == newer and found.expires_at == int(NOW) + 3599
    assert (found.api_domain, found.token_type, found.scope) == (API_EU, "Bearer", SCOPE)
    assert on_disk(cache)["access_tokens"][fingerprint(RT)]["api_domain"] == API_EU


def test_a_value_in_the_answer_replaces_the_stored_one(cache: TokenCache) -> None:
    newer = sentinel("access")
    with cache.locked():
        cache.remember_access_token(RT, tokens(AT, None))
        cache.remember_access_token(RT, bare(newer, api_domain="https://www.zohoapis.in", scope=["Thrive.Other.READ"]))
    found = TokenCache(cache.path, clock=lambda: NOW).load().access_token_for(RT)
    assert found is not None
    assert (found.api_domain, found.token_type, found.scope) == ("https://www.zohoapis.in", "Bearer", ["Thrive.Other.READ"])


def test_a_rotated_refresh_token_gets_the_kept_fields_too(cache: TokenCache) -> None:
    rotated = sentinel("refresh")
    with cache.locked():
        cache.remember_access_token(RT, tokens(AT, None))
        cache.remember_access_token(RT, bare(sentinel("access"), rotated))
    found = TokenCache(cache.path, clock=lambda: NOW).load().access_token_for(rotated)
    assert found is not None and found.api_domain == API_EU and found.scope == SCOPE


@pytest.mark.parametrize("absent", ABSENT)
def test_finishing_a_code_again_keeps_its_stored_fields(cache: TokenCache, absent: dict[str, t.Any]) -> None:
    # For example tokens adopted from hosts after a proof refresh, recorded over an earlier entry of the code.
    with cache.locked():
        cache.finish_exchange(CODE_FP, tokens())
        cache.finish_exchange(CODE_FP, bare(sentinel("access"), RT, **absent))
    found = TokenCache(cache.path, clock=lambda: NOW).load().code_tokens(CODE_FP)
    assert found is not None and found.refresh_token == RT
    assert (found.api_domain, found.token_type, found.scope) == (API_EU, "Bearer", SCOPE)
    newest = TokenCache(cache.path, clock=lambda: NOW).load().access_token_for(RT)
    assert newest is not None and newest.api_domain == API_EU


def test_nothing_stored_and_nothing_answered_stays_absent(cache: TokenCache) -> None:
    with cache.locked():
        cache.remember_access_token(RT, bare(AT))
    found = TokenCache(cache.path, clock=lambda: NOW).load().access_token_for(RT)
    assert found is not None and is_absent(found.api_domain) and is_absent(found.scope) and is_absent(found.token_type)


def test_an_older_entry_with_empty_strings_counts_as_absent(cache: TokenCache) -> None:
    cache.backend._ensure_directory()
    stored = {"access_token": AT, "expires_at": int(NOW) + 100, "api_domain": "", "token_type": "", "scope": []}
    data = {"format": FORMAT, "version": VERSION, "codes": {}, "access_tokens": {fingerprint(RT): stored}}
    with open(cache.path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    with cache.locked():
        cache.remember_access_token(RT, bare(sentinel("access"), api_domain=API_EU))
    assert on_disk(cache)["access_tokens"][fingerprint(RT)]["api_domain"] == API_EU


@pytest.mark.parametrize(
    ("value", "absent"),
    [(None, True), ("", True), ("  ", True), ([], True), ((), True), ("x", False), (["s"], False), (0, False)],
)
def test_is_absent(value: t.Any, absent: bool) -> None:
    assert is_absent(value) is absent


def test_keep_known_fills_only_absent_fields_and_only_those_asked_for() -> None:
    known = {"api_domain": API_EU, "token_type": "Bearer", "scope": SCOPE}
    merged = keep_known(bare(AT, api_domain="https://www.zohoapis.in"), known)
    assert (merged.api_domain, merged.token_type, merged.scope) == ("https://www.zohoapis.in", "Bearer", SCOPE)
    only_scope = keep_known(bare(AT), known, ("scope",))
    assert is_absent(only_scope.api_domain) and only_scope.scope == SCOPE
    assert keep_known(bare(AT), None) == bare(AT)
    assert keep_known(bare(AT), tokens()).api_domain == API_EU  # a TokenSet works as well as a stored entry
    assert keep_known(bare(AT), {"scope": "not a list"}).scope in (None, [])  # a malformed stored field is not taken


def test_forget_refresh_token(cache: TokenCache) -> None:
    with cache.locked():
        cache.remember_access_token(RT, tokens(AT, None))
        assert cache.forget_refresh_token(RT) is True
        assert cache.forget_refresh_token(RT) is False
    assert on_disk(cache)["access_tokens"] == {}


def test_broken_access_token_entry_is_ignored(cache: TokenCache) -> None:
    cache.backend._ensure_directory()
    data = {"format": FORMAT, "version": VERSION, "codes": {}, "access_tokens": {fingerprint(RT): {"access_token": AT, "expires_at": "soon"}}}
    with open(cache.path, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    assert cache.load().access_token_for(RT) is None


def test_old_file_without_access_tokens_section(cache: TokenCache) -> None:
    cache.backend._ensure_directory()
    with open(cache.path, "w", encoding="utf-8") as handle:
        json.dump({"format": FORMAT, "version": VERSION, "codes": {}}, handle)
    with cache.locked():
        assert cache.access_token_for(RT) is None
        cache.remember_access_token(RT, tokens(AT, None))
    assert fingerprint(RT) in on_disk(cache)["access_tokens"]


# -- corrupt or foreign files are refused and left alone ------------------------------------------------

CORRUPT = [
    pytest.param(b"", id="empty"),
    pytest.param(b"{not json", id="broken-json"),
    pytest.param(b"\xff\xfe\x00\x01", id="binary"),
    pytest.param(b"[]", id="list"),
    pytest.param(b'{"codes": {}}', id="no-format"),
    pytest.param(json.dumps({"format": "something else", "version": 1, "codes": {}}).encode(), id="foreign-format"),
    pytest.param(json.dumps({"format": FORMAT, "version": 1, "codes": []}).encode(), id="codes-not-a-dict"),
    pytest.param(json.dumps({"format": FORMAT, "version": 99, "codes": {}}).encode(), id="future-version"),
]


@pytest.mark.parametrize("content", CORRUPT)
def test_corrupt_file_is_refused_and_left_byte_identical(cache: TokenCache, content: bytes) -> None:
    cache.backend._ensure_directory()
    with open(cache.path, "wb") as handle:
        handle.write(content)
    os.chmod(cache.path, 0o600)
    before = os.stat(cache.path)
    with pytest.raises(ZohoTokenStoreError) as info:
        with cache.locked():
            cache.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
    assert cache.path in str(info.value)
    assert "`token_cache` at another file" in str(info.value)
    with open(cache.path, "rb") as handle:
        assert handle.read() == content
    after = os.stat(cache.path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    with pytest.raises(ZohoTokenStoreError):
        TokenCache(cache.path).load()  # read-only loading refuses it too


@pytest.mark.parametrize("section", [[], None, "x"], ids=["list", "null", "string"])
def test_access_tokens_section_of_the_wrong_type_is_refused(cache: TokenCache, section: t.Any) -> None:
    """Like a ``codes`` section that is not an object, a broken ``access_tokens`` section makes the file invalid.

    Otherwise ``access_token_for`` dies with AttributeError ('list' object has no attribute 'get') and the
    modules end in a traceback instead of a message.
    """
    cache.backend._ensure_directory()
    content = json.dumps({"format": FORMAT, "version": VERSION, "codes": {}, "access_tokens": section}).encode()
    with open(cache.path, "wb") as handle:
        handle.write(content)
    with pytest.raises(ZohoTokenStoreError) as info:
        with cache.locked():
            cache.access_token_for(RT)
    assert "is not a valid zohothrive.oauth token cache" in str(info.value)
    with open(cache.path, "rb") as handle:
        assert handle.read() == content


def test_unreadable_cache_path(tmp_path: t.Any) -> None:
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(ZohoTokenStoreError) as info:
        TokenCache(str(tmp_path / "dir.json")).load()
    assert "Cannot read the token cache" in str(info.value)


def test_write_failure_is_a_token_store_error(cache: TokenCache, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise OSError(28, "No space left on device")

    with cache.locked():
        monkeypatch.setattr(_fileio.os, "replace", full)
        with pytest.raises(ZohoTokenStoreError) as info:
            cache.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
    assert "No space left on device" in str(info.value)
    assert not os.path.exists(cache.path)


def test_directory_cannot_be_created(tmp_path: t.Any) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ZohoTokenStoreError) as info:
        with TokenCache(str(tmp_path / "file" / "tokens.json")).locked():
            pass
    assert "Cannot create the token cache directory" in str(info.value)


# -- locking --------------------------------------------------------------------------------------------


def test_lock_timeout_while_another_holder_has_it(cache: TokenCache) -> None:
    cache.backend._ensure_directory()
    with _fileio.exclusive_lock(cache.lock_path, timeout=1):
        waiting = TokenCache(cache.path, lock_timeout=0.2)
        with pytest.raises(ZohoTokenStoreError) as info:
            with waiting.locked():
                raise AssertionError("entered the cache while another holder had the lock")
    assert "Timed out after 0.2s" in str(info.value)
    assert str(info.value).startswith("Token cache: ")


def test_waiting_run_sees_what_the_holder_stored(cache: TokenCache, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs with the same code: the second waits for the lock, then finds the tokens (0 exchanges)."""
    waiting = threading.Event()
    released = threading.Event()

    class PollTime:
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(delay: float) -> None:
            # The lock's poll while another run holds it: wait until the first run is done.
            waiting.set()
            released.wait(10)

    monkeypatch.setattr(_fileio, "time", PollTime)
    seen: list[t.Any] = []
    errors: list[BaseException] = []

    def second_run() -> None:
        try:
            other = TokenCache(cache.path, clock=lambda: NOW, lock_timeout=30)
            with other.locked():
                seen.append(other.code_tokens(CODE_FP))
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    with cache.locked():
        cache.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
        thread = threading.Thread(target=second_run)
        thread.start()
        assert waiting.wait(10), "the second run did not wait for the lock"
        assert seen == []  # still waiting while the first run holds the lock
        cache.finish_exchange(CODE_FP, tokens())
    released.set()
    thread.join(30)
    assert not thread.is_alive() and errors == []
    assert len(seen) == 1 and seen[0] is not None and seen[0].access_token == AT


# -- trust in the cache file and its directory (issue 6, item 6) --------------------------------


class TestCacheFileTrust:
    """A symlinked cache is written through; a cache others can read is tightened, one they can change is refused."""

    needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making files of another user needs root")
    OTHER = 65534  # nobody

    @staticmethod
    def private_dir(tmp_path: t.Any, name: str = "private") -> t.Any:
        directory = tmp_path / name
        directory.mkdir(mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
        return directory

    def test_symlinked_cache_writes_through_to_the_real_file_and_keeps_the_link(self, tmp_path: t.Any) -> None:
        persistent = self.private_dir(tmp_path, "persistent") / "tokens.json"
        link = self.private_dir(tmp_path, "runner") / "tokens.json"
        link.symlink_to(persistent)  # dangling until the first save, as on a fresh CI volume
        cache = TokenCache(str(link), clock=lambda: NOW, lock_timeout=5)
        assert (cache.path, cache.link, cache.lock_path) == (str(persistent), str(link), str(persistent) + ".lock")
        with cache.locked():
            cache.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
            cache.finish_exchange(CODE_FP, tokens())
        assert link.is_symlink() and os.readlink(link) == str(persistent)
        assert json.loads(persistent.read_text())["codes"][CODE_FP]["state"] == DONE
        assert sorted(os.listdir(link.parent)) == ["tokens.json"]  # no lock or temporary file next to the link
        assert sorted(os.listdir(persistent.parent)) == ["tokens.json"]
        assert TokenCache(str(link), clock=lambda: NOW).load().code_tokens(CODE_FP) is not None

    def test_two_links_to_one_file_share_one_lock(self, tmp_path: t.Any) -> None:
        real = self.private_dir(tmp_path) / "tokens.json"
        first, second = tmp_path / "first.json", tmp_path / "second.json"
        first.symlink_to(real)
        second.symlink_to(real)
        one, other = TokenCache(str(first), lock_timeout=5), TokenCache(str(second), lock_timeout=0.2)
        assert one.lock_path == other.lock_path == str(real) + ".lock"
        with one.locked():
            with pytest.raises(ZohoTokenStoreError, match="Timed out after 0.2s"):
                with other.locked():
                    pass

    @pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
    def test_cache_readable_by_others_is_tightened_with_a_warning(self, tmp_path: t.Any, mode: int) -> None:
        path = self.private_dir(tmp_path) / "tokens.json"
        with TokenCache(str(path)).locked() as first:
            first.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
        os.chmod(path, mode)
        content = path.read_bytes()
        warned: list[str] = []
        cache = TokenCache(str(path), warn=warned.append)
        with cache.locked():
            assert cache.code_entry(CODE_FP) is not None  # still used: the file is ours
        assert mode_of(path) == 0o600 and path.read_bytes() == content
        assert warned == cache.warnings and len(warned) == 1
        assert f"The token cache {path} was readable by other users (mode {mode:04o}); it is now 0600." in warned[0]

    def test_a_read_without_the_lock_changes_nothing_and_warns(self, tmp_path: t.Any) -> None:
        """Check mode reads the cache without its lock: it must not even tighten the mode."""
        path = self.private_dir(tmp_path) / "tokens.json"
        with TokenCache(str(path)).locked() as first:
            first.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
        os.chmod(path, 0o644)
        warned: list[str] = []
        cache = TokenCache(str(path), warn=warned.append).load()
        assert cache.code_entry(CODE_FP) is not None
        assert mode_of(path) == 0o644
        assert len(warned) == 1 and "is readable by other users (mode 0644); a real run makes it 0600" in warned[0]

    @pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
    def test_cache_writable_by_others_is_refused(self, tmp_path: t.Any, mode: int) -> None:
        path = self.private_dir(tmp_path) / "tokens.json"
        path.write_text(json.dumps({"format": FORMAT, "version": VERSION, "codes": {}}))
        os.chmod(path, mode)
        with pytest.raises(ZohoTokenStoreError, match=f"is writable by other users \\(mode {mode:04o}\\)"):
            TokenCache(str(path)).load()
        assert mode_of(path) == mode  # left untouched

    @needs_root
    def test_cache_of_another_user_is_refused(self, tmp_path: t.Any) -> None:
        path = self.private_dir(tmp_path) / "tokens.json"
        path.write_text(json.dumps({"format": FORMAT, "version": VERSION, "codes": {}}))
        os.chmod(path, 0o600)
        os.chown(path, self.OTHER, self.OTHER)
        with pytest.raises(ZohoTokenStoreError, match="belongs to nobody, not to root who runs this"):
            with TokenCache(str(path)).locked():
                pass

    @pytest.mark.parametrize("mode", [0o770, 0o707, 0o1777])
    def test_directory_writable_by_others_is_refused(self, tmp_path: t.Any, mode: int) -> None:
        directory = tmp_path / "shared"
        directory.mkdir()
        os.chmod(directory, mode)
        with pytest.raises(ZohoTokenStoreError, match="is writable by other users"):
            with TokenCache(str(directory / "tokens.json")).locked():
                pass
        assert os.listdir(directory) == []  # not even the lock file

    @needs_root
    def test_directory_of_another_user_is_refused(self, tmp_path: t.Any) -> None:
        directory = self.private_dir(tmp_path)
        os.chown(directory, self.OTHER, self.OTHER)
        with pytest.raises(ZohoTokenStoreError, match="belongs to nobody, who could replace the cache"):
            TokenCache(str(directory / "tokens.json")).load()

    def test_directory_readable_by_others_warns_once(self, tmp_path: t.Any) -> None:
        directory = tmp_path / "listed"
        directory.mkdir()
        os.chmod(directory, 0o755)
        warned: list[str] = []
        cache = TokenCache(str(directory / "tokens.json"), warn=warned.append)
        with cache.locked():
            cache.begin_exchange(CODE_FP, accounts_url="https://accounts.zoho.eu", client_id=None)
        with cache.locked():
            pass
        assert len(warned) == 1 and "can be listed by other users (mode 0755)" in warned[0]
        assert mode_of(cache.path) == 0o600

    def test_cache_replaced_by_a_link_after_construction_is_not_followed(self, tmp_path: t.Any) -> None:
        directory = self.private_dir(tmp_path)
        cache = TokenCache(str(directory / "tokens.json"))
        (tmp_path / "elsewhere.json").write_text("{}")
        (directory / "tokens.json").symlink_to(tmp_path / "elsewhere.json")
        with pytest.raises(ZohoTokenStoreError, match="was replaced by a symbolic link after it was resolved"):
            cache.load()
