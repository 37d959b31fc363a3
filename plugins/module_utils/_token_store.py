# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller-side durable token store: one JSON document, on a backend.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: the controller.

Backends (:class:`StoreBackend`):
- :class:`FileBackend` (the default, ``token_cache``): a JSON file, mode 0600, replaced
  atomically under an exclusive lock. Nothing else writes it while the lock is held.
- a shared backend (``_vault_store.VaultBackend``): every write is a check-and-set on the
  version that was read. A conflict means another controller wrote meanwhile: the document is
  read again and the change re-decided on the new content (:meth:`TokenCache._change`), never
  written over it.

It holds:
- a ledger of grant codes, keyed by the SHA-256 fingerprint of the code (never the code). An
  entry is ``in_flight`` from just before the code is sent until tokens are stored, then
  ``done`` with the tokens. A code with an entry is never sent again;
- the newest access token minted from each refresh token, keyed by the refresh token's
  fingerprint, so repeated or concurrent runs reuse it instead of minting another (Zoho allows
  10 mints per refresh token per 10 minutes);
- Zoho's limits as state (``_limits.py``): the mints of each refresh token in the last 10
  minutes, and the live refresh tokens of each client. A slot in a refresh token's window is
  taken (a write, check-and-set on a shared backend) before a mint is sent, so two controllers
  never both take the 10th.

With the file backend, the whole read-decide-call-write sequence runs under the lock, so
concurrent runs (forks, parallel playbooks) call Zoho once and the others reuse the result. With
a shared backend, the in-flight record of a code is a check-and-set write: exactly one
controller wins it and sends the code, and the others wait for its tokens
(:meth:`TokenCache.wait_for_code`). Every change is written before the caller goes on (nothing
Zoho issued is lost if a later step fails).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
import time
import typing as t
from dataclasses import replace

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._tokens import TokenSet
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoTokenStoreError
from ansible_collections.zohothrive.oauth.plugins.module_utils._fileio import (
    O_CLOEXEC,
    O_NOFOLLOW,
    O_NONBLOCK,
    FileIOError,
    atomic_write,
    exclusive_lock,
    user_name,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._limits import (
    PENDING_EXCHANGE_SECONDS,
    REFRESH_TOKEN_CAP,
    Counts,
    MintWindow,
    epoch_up,
    mint_refusal,
    mint_window,
    pruned,
)

FORMAT = "zohothrive.oauth token cache"
VERSION = 1
IN_FLIGHT = "in_flight"
DONE = "done"

# Fields that an answer from Zoho may leave out. An absent one never erases a known value (issue 7, item 3):
# a new answer is merged over the stored entry, field by field, with :func:`keep_known`.
OPTIONAL_FIELDS = ("api_domain", "token_type", "scope")


def is_absent(value: t.Any) -> bool:
    """True for a value that says nothing: None, a blank string or an empty list (Zoho's answer left the field out)."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, (list, tuple)) and not value)


def keep_known(tokens: TokenSet, known: TokenSet | t.Mapping[str, t.Any] | None, fields: t.Iterable[str] = OPTIONAL_FIELDS) -> TokenSet:
    """``tokens`` with each of ``fields`` that it lacks taken from ``known`` (a stored entry or TokenSet) when that has one.

    A value present in ``tokens`` always wins: only an absent one (:func:`is_absent`) is filled.
    ``known`` must be trusted (the token cache, or values the caller gave): nothing is checked here.
    """
    if known is None:
        return tokens
    changes: dict[str, t.Any] = {}
    for name in fields:
        stored = known.get(name) if isinstance(known, t.Mapping) else getattr(known, name, None)
        if not is_absent(getattr(tokens, name, None)) or is_absent(stored):
            continue
        if name == "scope":
            if isinstance(stored, (list, tuple)):
                changes[name] = [str(item) for item in stored]
        elif isinstance(stored, str):
            changes[name] = stored
    return replace(tokens, **changes) if changes else tokens


# How often a change is re-decided after check-and-set conflicts before giving up.
CAS_ATTEMPTS = 8


class StoreConflict(Exception):
    """A check-and-set write lost: the stored document changed since it was read."""


class CodeClaimedElsewhere(ZohoTokenStoreError):
    """Another controller recorded this grant code (in flight or done) between our read and our write.

    Raised by :meth:`TokenCache.begin_exchange` on a shared backend. Nothing was sent: the caller
    waits for the other controller's tokens (:meth:`TokenCache.wait_for_code`) instead.
    """


class MintClaimedElsewhere(Exception):
    """Another controller took a slot to mint an access token from this refresh token and has not recorded the result yet.

    Raised by :meth:`TokenCache.reserve_mint` on a shared backend when the caller can wait (it
    passed ``reuse_if``). Nothing was written or sent: the caller reads the store again until that
    controller's token is there (then uses it) or its claim is settled, released or too old
    (:data:`MINT_CLAIM_SECONDS`), and decides again. Not an operator error.
    """


class MintedElsewhere(Exception):
    """The store already holds an access token that the caller can use (another controller minted it meanwhile).

    Raised by :meth:`TokenCache.reserve_mint`, with nothing written or sent; ``tokens`` is that token.
    """

    def __init__(self, tokens: TokenSet) -> None:
        super().__init__("an access token was stored meanwhile")
        self.tokens = tokens


# How long another controller's unsettled mint claim keeps the others waiting (seconds): longer than one refresh
# with its retries (RetryPolicy.max_total 60 s plus a request timeout), so a claim whose controller died stops
# counting as in flight after that (its slot still counts in the window: Zoho may have minted).
MINT_CLAIM_SECONDS = 120


class StoreBackend:
    """Where the token store's document lives. Subclasses implement :meth:`read` and :meth:`write`.

    ``shared``: other controllers may write the document at any time (check-and-set writes);
    ``where``: the store as messages name it (a path, or a Vault URL and path).
    """

    shared = False
    where = "the token store"
    noun = "token store"  # how messages call it
    elsewhere = "point the store at another place"  # the fix for a store that cannot be used, in messages

    @contextlib.contextmanager
    def session(self) -> t.Iterator[None]:
        """Hold what a read-decide-write sequence needs (the file lock; nothing for a shared store)."""
        yield

    def read(self, *, exclusive: bool) -> tuple[dict[str, t.Any] | None, t.Any]:
        """Return ``(document or None when the store is empty, version)``. ``exclusive``: inside :meth:`session`."""
        raise NotImplementedError

    def write(self, document: dict[str, t.Any], version: t.Any, summary: dict[str, t.Any]) -> t.Any:
        """Store ``document`` if the stored version is still ``version``; return the new version.

        ``summary`` holds the documented top-level fields of the current tokens (write-back), for
        backends that people and other tools read directly. Raises :class:`StoreConflict` when the
        stored document changed since ``version``, and ``ZohoTokenStoreError`` for anything else.
        """
        raise NotImplementedError


class FileBackend(StoreBackend):
    """The token cache file: JSON, mode 0600, in a 0700 directory, replaced atomically under a lock.

    A link (persistent storage on a CI runner) is resolved once: the real file is locked and
    replaced, so the link survives and every link to one file shares one lock file. The lock
    file exists only while a run holds the lock.
    """

    def __init__(self, path: str, *, lock_timeout: float = 300.0, note: t.Callable[[str], None] | None = None) -> None:
        given = os.path.abspath(os.path.expanduser(path))
        self.path = os.path.realpath(given)
        self.link = given if given != self.path else None
        self.lock_path = self.path + ".lock"
        self.where = self.path
        self.noun = "token cache"
        self.elsewhere = "point `token_cache` at another file"
        self.lock_timeout = lock_timeout
        self._note = note or (lambda message: None)

    @contextlib.contextmanager
    def session(self) -> t.Iterator[None]:
        self._ensure_directory()
        try:
            # remove=True: the lock file exists only while a run holds it (lock-then-verify in _fileio).
            with exclusive_lock(self.lock_path, timeout=self.lock_timeout, remove=True):
                yield
        except FileIOError as exc:
            raise ZohoTokenStoreError(f"Token cache: {exc}") from None

    def read(self, *, exclusive: bool) -> tuple[dict[str, t.Any] | None, t.Any]:
        """Read the file (a missing file is an empty store). Never rewrites a file it cannot parse.

        The file must belong to the user running this and must not be writable by others; a file
        that others can read is tightened to 0600 with a warning when ``exclusive`` (see :meth:`_check_file`).
        """
        self._check_directory()
        try:
            fd = os.open(self.path, os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise ZohoTokenStoreError(
                    f"The token cache {self.path} was replaced by a symbolic link after it was resolved; it is not followed. "
                    "Check who changes it, then point `token_cache` at the real file."
                ) from None
            raise ZohoTokenStoreError(f"Cannot read the token cache {self.path}: {exc.strerror or exc}.") from None
        try:
            self._check_file(fd, exclusive=exclusive)
            with os.fdopen(os.dup(fd), "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            raise ZohoTokenStoreError(f"Cannot read the token cache {self.path}: {exc.strerror or exc}.") from None
        finally:
            os.close(fd)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict):
            raise ZohoTokenStoreError(
                f"The token cache {self.path} is not a valid zohothrive.oauth token cache; it was left untouched. "
                "Move it aside (it may hold tokens worth keeping) or point `token_cache` at another file."
            )
        return data, None

    def write(self, document: dict[str, t.Any], version: t.Any, summary: dict[str, t.Any]) -> t.Any:
        payload = json.dumps(document, indent=1, sort_keys=True).encode("utf-8") + b"\n"
        try:
            atomic_write(self.path, payload, mode=0o600)
        except FileIOError as exc:
            raise ZohoTokenStoreError(f"Token cache: {exc}") from None
        return None

    def _ensure_directory(self) -> None:
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise ZohoTokenStoreError(f"Cannot create the token cache directory {directory}: {exc.strerror or exc}.") from None
        self._check_directory()

    # Trust in the cache's file and directory. The cache holds refresh tokens and decides what is
    # sent to Zoho and written to every host, so nobody but the user running the controller may
    # be able to change it: a file of another user, or a directory that others can write to (they
    # could replace the file or plant its lock), is refused, never repaired. A file that others can
    # merely read is ours: tightening it to 0600 loses nothing, so it is fixed with a warning (the
    # tokens may have been copied already, which the warning says). A directory that others can
    # read shows only file names: a warning.

    def _check_directory(self) -> None:
        directory = os.path.dirname(self.path)
        try:
            st = os.stat(directory)
        except OSError:
            return  # missing: created 0700 by _ensure_directory, or an empty cache for read()
        mode = stat.S_IMODE(st.st_mode)
        if st.st_uid not in (0, os.geteuid()):
            raise ZohoTokenStoreError(
                f"The token cache directory {directory} belongs to {user_name(st.st_uid)}, who could replace the cache; it was not used. "
                "Point `token_cache` at a file in a directory of your own, such as ~/.ansible/zohothrive."
            )
        if mode & 0o022:
            raise ZohoTokenStoreError(
                f"The token cache directory {directory} is writable by other users (mode {mode:04o}), who could replace the cache or "
                f"plant its lock file; it was not used. Run chmod go-w {directory}, or point `token_cache` at a private directory."
            )
        if mode & 0o055:
            self._note(
                f"The token cache directory {directory} can be listed by other users (mode {mode:04o}). They see file names only; "
                f"run chmod 700 {directory} to hide them."
            )

    def _check_file(self, fd: int, *, exclusive: bool) -> None:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ZohoTokenStoreError(f"Cannot read the token cache {self.path}: it is not a regular file.")
        mode = stat.S_IMODE(st.st_mode)
        if st.st_uid != os.geteuid():
            raise ZohoTokenStoreError(
                f"The token cache {self.path} belongs to {user_name(st.st_uid)}, not to {user_name(os.geteuid())} who runs this, so its "
                "tokens may not be ours to trust; it was left untouched. Check it, then chown it or point `token_cache` at another file."
            )
        if mode & 0o022:
            raise ZohoTokenStoreError(
                f"The token cache {self.path} is writable by other users (mode {mode:04o}), so its content may have been changed; it "
                f"was left untouched. Check it, run chmod 600 {self.path}, and consider a new grant code."
            )
        if mode & 0o077 and not exclusive:  # a read without the lock (check mode) changes nothing
            self._note(
                f"The token cache {self.path} is readable by other users (mode {mode:04o}); a real run makes it 0600. Anyone who read "
                "it may have copied its refresh tokens: consider a new grant code and revoking the old refresh token."
            )
        elif mode & 0o077:
            os.fchmod(fd, 0o600)
            self._note(
                f"The token cache {self.path} was readable by other users (mode {mode:04o}); it is now 0600. Anyone who read it may "
                "have copied its refresh tokens: consider a new grant code and revoking the old refresh token."
            )


class TokenCache:
    """The token store's document and every decision about it, on a :class:`StoreBackend`.

    ``TokenCache(path)`` is the file store (``token_cache``); ``TokenCache(backend=...)`` any
    other backend. Use :meth:`locked` for anything that may call Zoho.
    """

    def __init__(
        self,
        path: str | None = None,
        *,
        backend: StoreBackend | None = None,
        clock: t.Callable[[], float] = time.time,
        lock_timeout: float = 300.0,
        warn: t.Callable[[str], None] | None = None,
        sleep: t.Callable[[float], None] = time.sleep,
        monotonic: t.Callable[[], float] = time.monotonic,
    ) -> None:
        """``warn`` receives each warning once (modules pass ``module.warn``); they are also kept in ``warnings``."""
        if backend is None:
            if path is None:
                raise ValueError("TokenCache needs a path or a backend")
            backend = FileBackend(path, lock_timeout=lock_timeout, note=self._note)
        self.backend = backend
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic
        self.warnings: list[str] = []
        self._warn = warn
        self._locked = False
        self._data: dict[str, t.Any] = _empty()
        self._version: t.Any = None
        self._claims: dict[str, str] = {}  # code fingerprint -> the claim id of our in-flight record
        self._mint_claims: set[str] = set()  # ids of our own mint reservations (never "elsewhere")

    # The file backend's attributes, which messages and tests use.

    @property
    def path(self) -> str:
        """Where the store is, for messages: the real file of a file store."""
        return getattr(self.backend, "path", self.backend.where)

    @property
    def link(self) -> str | None:
        return getattr(self.backend, "link", None)

    @property
    def lock_path(self) -> str | None:
        return getattr(self.backend, "lock_path", None)

    @property
    def shared(self) -> bool:
        return self.backend.shared

    # -- locking and persistence ---------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> t.Iterator[TokenCache]:
        """Hold the backend's session (the file lock) and load the current content."""
        with self.backend.session():
            self._locked = True
            try:
                self._read(exclusive=True)
                yield self
            finally:
                self._locked = False

    def load(self) -> TokenCache:
        """Read the current content without a session (check mode; nothing is changed)."""
        self._read(exclusive=self._locked)
        return self

    def _read(self, *, exclusive: bool) -> None:
        data, version = self.backend.read(exclusive=exclusive)
        self._data = self._checked(data) if data is not None else _empty()
        self._version = version

    def _checked(self, data: dict[str, t.Any]) -> dict[str, t.Any]:
        if (
            data.get("format") != FORMAT
            or not isinstance(data.get("codes"), dict)
            or not all(isinstance(data.get(section, {}), dict) for section in ("access_tokens", "current", "replaced", "deployments"))
            or not isinstance(data.get("limits", {}), dict)  # created on first use (issue 8): older stores lack it
        ):
            raise ZohoTokenStoreError(
                f"The {self.backend.noun} {self.backend.where} is not a valid zohothrive.oauth {self.backend.noun}; it was left untouched. "
                f"Move it aside (it may hold tokens worth keeping) or {self.backend.elsewhere}."
            )
        if data.get("version") != VERSION:
            raise ZohoTokenStoreError(
                f"The {self.backend.noun} {self.backend.where} has format version {data.get('version')!r}, which this collection version "
                f"does not know ({VERSION}). Upgrade the collection, or {self.backend.elsewhere}."
            )
        for section in ("access_tokens", "current", "replaced", "deployments"):
            data.setdefault(section, {})
        return data

    def _change(self, apply: t.Callable[[], bool]) -> bool:
        """Apply a change to the document and store it; on a check-and-set conflict, read again and re-decide.

        ``apply`` mutates ``self._data`` (read it afresh on every call: it is replaced by a re-read)
        and returns whether anything changed; it may raise to refuse the change on the new content.
        Returns whether something was written.
        """
        for _attempt in range(CAS_ATTEMPTS):
            if not apply():
                return False
            try:
                self._version = self.backend.write(self._data, self._version, self.summary())
                return True
            except StoreConflict:
                self._read(exclusive=self._locked)
        raise ZohoTokenStoreError(
            f"The {self.backend.noun} {self.backend.where} changed under this run {CAS_ATTEMPTS} times in a row (other controllers "
            "writing at the same time); nothing of this change was stored. Run again."
        )

    def summary(self) -> dict[str, t.Any]:
        """The documented fields of the current tokens, for backends that people read directly (write-back).

        ``{"refresh_token", "access_token", "expires_at", "api_domain", "accounts_url",
        "code_fingerprint", "client_id", "updated_at"}`` of the most recently finished code that is
        current for a client; ``{}`` when there is none. The grant code and the client secret are
        never part of the store.
        """
        best: tuple[int, str, dict[str, t.Any]] | None = None
        for code_fp in self._data.get("current", {}).values():
            entry = self.code_entry(code_fp) if isinstance(code_fp, str) else None
            if entry and entry.get("state") == DONE and isinstance(entry.get("tokens"), dict):
                finished = int(entry.get("finished") or 0)
                if best is None or finished > best[0]:
                    best = (finished, code_fp, entry)
        if best is None:
            return {}
        _finished, code_fp, entry = best
        tokens = dict(entry["tokens"])
        refresh_token = tokens.get("refresh_token")
        newest = self.access_token_for(refresh_token) if isinstance(refresh_token, str) and refresh_token else None
        if newest is not None and newest.expires_at >= int(tokens.get("expires_at") or 0):
            tokens.update(access_token=newest.access_token, expires_at=newest.expires_at, api_domain=newest.api_domain or tokens.get("api_domain"))
        return {
            "refresh_token": refresh_token,
            "access_token": tokens.get("access_token"),
            "expires_at": tokens.get("expires_at"),
            "api_domain": tokens.get("api_domain"),
            "accounts_url": entry.get("accounts_url"),
            "code_fingerprint": code_fp,
            "client_id": entry.get("client_id"),
            "updated_at": int(self.clock()),
        }

    def _note(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            if self._warn is not None:
                self._warn(message)

    # -- grant-code ledger ---------------------------------------------------------------

    def code_entry(self, code_fingerprint: str) -> dict[str, t.Any] | None:
        entry = self._data["codes"].get(code_fingerprint)
        return entry if isinstance(entry, dict) else None

    def code_tokens(self, code_fingerprint: str) -> TokenSet | None:
        """Tokens stored for a code whose exchange finished, else None."""
        entry = self.code_entry(code_fingerprint)
        if entry and entry.get("state") == DONE and isinstance(entry.get("tokens"), dict):
            try:
                return TokenSet.from_dict(entry["tokens"], now=self.clock())
            except (KeyError, TypeError, ValueError):
                raise ZohoTokenStoreError(
                    f"The token cache {self.path} has a damaged entry for this code; it was left untouched. Move it aside "
                    "(it may hold tokens worth keeping) or point `token_cache` at another file."
                ) from None
        return None

    def begin_exchange(
        self, code_fingerprint: str, *, accounts_url: str, client_id: str | None, guard: t.Callable[[], None] | None = None
    ) -> None:
        """Record, durably, that the code is about to be sent: the claim that only one controller ever wins.

        The caller has checked that the store knows nothing of the code. If an entry appears
        meanwhile (another controller's check-and-set write won), raises
        :class:`CodeClaimedElsewhere`; nothing was sent, and the caller waits for that controller's
        tokens with :meth:`wait_for_code`. ``guard`` is called after that check, on the same
        document the record is written to (again after every conflict); it may raise to refuse
        the exchange (Zoho's refresh-token cap: ``_limits.cap_check``), and then nothing is recorded.
        """
        claim = self._claims[code_fingerprint] = secrets.token_hex(8)

        def apply() -> bool:
            if self.code_entry(code_fingerprint) is not None:
                raise CodeClaimedElsewhere(
                    f"Another controller recorded this grant code in the token store {self.backend.where} at the same time; it was "
                    "not sent from here."
                )
            if guard is not None:
                guard()
            self._data["codes"][code_fingerprint] = {
                "state": IN_FLIGHT,
                "started": int(self.clock()),
                "accounts_url": accounts_url,
                "client_id": client_id,
                "claim": claim,
            }
            return True

        self._change(apply)

    def finish_exchange(self, code_fingerprint: str, tokens: TokenSet, *, identity: str | None = None, exchanged: bool = False) -> None:
        """Record the tokens of a code. Optional fields they lack keep the values an earlier entry of the code stored.

        With ``identity`` (a client, ``_ledger.ledger_identity``), the refresh token is counted among
        that client's live refresh tokens. With ``exchanged`` (Zoho has just issued the tokens),
        the exchange also counts as the refresh token's first mint, and when the client now counts
        more than Zoho's cap, the oldest are no longer counted: Zoho has deleted them.
        """

        def apply() -> bool:
            entry = self._data["codes"].setdefault(code_fingerprint, {})
            stored = entry.get("tokens")
            merged = keep_known(tokens, stored) if isinstance(stored, dict) else tokens
            entry.pop("claim", None)
            entry.update(state=DONE, finished=int(self.clock()), tokens=merged.as_dict())
            if merged.refresh_token:
                self._keep_newest_access_token(merged.refresh_token, merged)
                if exchanged:
                    self._count_mint(merged.refresh_token, "exchange")
                if identity is not None:
                    self._count_live(identity, merged.refresh_token, evicting=exchanged)
            return True

        self._change(apply)

    def abandon_exchange(self, code_fingerprint: str) -> None:
        """Forget our in-flight entry after Zoho definitely refused the request, or it was never sent (nothing was issued)."""

        def apply() -> bool:
            entry = self.code_entry(code_fingerprint)
            if entry is None or entry.get("state") != IN_FLIGHT or entry.get("claim") != self._claims.get(code_fingerprint):
                return False  # not ours: another controller's record stays
            del self._data["codes"][code_fingerprint]
            return True

        self._change(apply)

    def wait_for_code(self, code_fingerprint: str, *, timeout: float, poll: float = 0.5) -> TokenSet | None:
        """Read the store until another controller's exchange of the code has finished; its tokens, else None.

        Polls with a growing interval (``poll`` to 2 s) until ``timeout`` seconds have passed.
        Returns None if the entry is still in flight then, or disappeared (Zoho refused the code).
        """
        deadline = self.monotonic() + timeout
        interval = poll
        while True:
            self._read(exclusive=self._locked)
            tokens = self.code_tokens(code_fingerprint)
            entry = self.code_entry(code_fingerprint)
            if tokens is not None or entry is None:
                return tokens
            remaining = deadline - self.monotonic()
            if remaining <= 0:
                return None
            self.sleep(min(interval, remaining))
            interval = min(interval * 2, 2.0)

    # -- current code per client ----------------------------------------------------------

    def current_code(self, identity: str) -> str | None:
        """Fingerprint of the code whose tokens are current for ``identity`` (client and server)."""
        value = self._data.get("current", {}).get(identity)
        return value if isinstance(value, str) else None

    def set_current_code(self, identity: str, code_fingerprint: str) -> None:
        def apply() -> bool:
            current = self._data.setdefault("current", {})
            if current.get(identity) == code_fingerprint:
                return False
            current[identity] = code_fingerprint
            return True

        self._change(apply)

    # -- replaced refresh tokens awaiting revocation ------------------------------------------

    def replaced_tokens(self, identity: str) -> list[str]:
        tokens = self._data.get("replaced", {}).get(identity)
        return [str(token) for token in tokens] if isinstance(tokens, list) else []

    def add_replaced(self, identity: str, tokens: t.Iterable[str]) -> None:
        """Remember refresh tokens replaced by a newer code until they are revoked."""
        wanted = [token for token in tokens if token]

        def apply() -> bool:
            pending = self.replaced_tokens(identity)
            added = [token for token in wanted if token not in pending]
            if not added:
                return False
            self._data.setdefault("replaced", {})[identity] = pending + added
            return True

        self._change(apply)

    # -- access tokens per refresh token ---------------------------------------------------

    def access_token_for(self, refresh_token: str) -> TokenSet | None:
        entry = self._data["access_tokens"].get(fingerprint(refresh_token))
        if not isinstance(entry, dict) or not entry.get("access_token"):
            return None
        try:
            return TokenSet.from_dict(entry, now=self.clock())
        except (KeyError, TypeError, ValueError):
            return None

    def _keep_newest_access_token(self, refresh_token: str, tokens: TokenSet) -> None:
        """Store ``tokens``' access token unless the cache already holds one that expires later."""
        known = self.access_token_for(refresh_token)
        if tokens.access_token and (known is None or known.expires_at <= tokens.expires_at):
            self._put_access_entry(refresh_token, tokens)

    def remember_access_token(self, refresh_token: str, tokens: TokenSet, *, settle: t.Collection[str] = ()) -> None:
        """Store the access token minted from ``refresh_token``; fields the answer lacked keep their stored values.

        ``settle``: the reservations (:meth:`reserve_mint`) of this mint; they now count from this
        moment, when Zoho's answer had arrived (Zoho minted at some moment before).
        """

        def apply() -> bool:
            if settle:
                self._settle_mints(refresh_token, settle)
            merged = self._put_access_entry(refresh_token, tokens)
            if tokens.refresh_token and tokens.refresh_token != refresh_token:
                # Zoho does not rotate refresh tokens today; if it ever does, keep the new one findable.
                self._put_access_entry(tokens.refresh_token, merged)
            return True

        self._change(apply)

    def _put_access_entry(self, refresh_token: str, tokens: TokenSet) -> TokenSet:
        key = fingerprint(refresh_token)
        stored = self._data["access_tokens"].get(key)
        merged = keep_known(tokens, stored) if isinstance(stored, dict) else tokens
        self._data["access_tokens"][key] = _access_entry(merged)
        return merged

    def forget_refresh_token(self, refresh_token: str) -> bool:
        """Forget a revoked refresh token: its cached access token, any pending revocation, and its limit counters.

        It no longer counts among any client's live refresh tokens, and its mints are dropped.
        Returns True if anything was forgotten.
        """

        def apply() -> bool:
            forgotten = self._data["access_tokens"].pop(fingerprint(refresh_token), None) is not None
            for identity, tokens in list(self._data.get("replaced", {}).items()):
                if isinstance(tokens, list) and refresh_token in tokens:
                    self._data["replaced"][identity] = [token for token in tokens if token != refresh_token]
                    forgotten = True
            return self._forget_limits(refresh_token) or forgotten

        return self._change(apply)

    # -- deployment ledger: which host holds which refresh token, by fingerprint -------------
    #
    # "deployments": {identity: {
    #     "hosts":  {host: {config file: {"refresh_fp": "<sha256 hex>", "recorded": <epoch first seen holding it>}}},
    #     "tokens": {"<sha256 hex>": {"first_recorded": <epoch>, "census": <bool>}}}}
    #
    # One row per config file: a host may hold the client's token in several files (the role
    # applied more than once), and it holds a token while any of them does. The file is "" when
    # the caller does not name it. Never a token, only fingerprints. "census" is true once a run over every host of the play,
    # without --limit, recorded every host after the token was first seen: from then on the
    # ledger knows every host that received the token (see _ledger.py).

    def deployed_fingerprints(self, identity: str) -> dict[str, dict[str, str]]:
        """``{host: {config file: refresh token fingerprint}}`` recorded for ``identity``; unreadable rows are left out."""
        return deployment_rows(self._data.get("deployments", {}).get(identity))

    def census_fingerprints(self, identity: str) -> set[str]:
        """Fingerprints the ledger has followed since a census (see the section comment)."""
        return census_fingerprints(self._data.get("deployments", {}).get(identity))

    def record_deployments(
        self, identity: str, hosts: t.Mapping[str, str], *, census: bool, files: t.Mapping[str, str] | None = None
    ) -> bool:
        """Record that each host of ``hosts`` holds the refresh token with that fingerprint in its config file ``files[host]``.

        The rows of a host's other files stay. With ``census`` (every host of an unlimited play is
        in ``hosts``), every token the ledger knows is marked as followed. Writes only when
        something changed; returns whether it did.
        """
        def apply() -> bool:
            section = self._data.setdefault("deployments", {})
            entry = section.get(identity)
            if not isinstance(entry, dict):
                entry = section[identity] = {}
            if not isinstance(entry.get("hosts"), dict):
                entry["hosts"] = {}
            if not isinstance(entry.get("tokens"), dict):
                entry["tokens"] = {}
            rows, known = entry["hosts"], entry["tokens"]
            now = int(self.clock())
            changed = False
            for host, refresh_fp in hosts.items():
                host_files = rows.get(host)
                if not isinstance(host_files, dict):
                    host_files = rows[host] = {}
                config_file = (files or {}).get(host, "")
                row = host_files.get(config_file)
                if not isinstance(row, dict) or row.get("refresh_fp") != refresh_fp:
                    host_files[config_file] = {"refresh_fp": refresh_fp, "recorded": now}
                    changed = True
                if not isinstance(known.get(refresh_fp), dict):
                    known[refresh_fp] = {"first_recorded": now, "census": False}
                    changed = True
            if census:
                for record in known.values():
                    if isinstance(record, dict) and record.get("census") is not True:
                        record["census"] = True
                        changed = True
            return changed

        return self._change(apply)

    def forget_deployed_token(self, identity: str, refresh_fp: str) -> None:
        """Drop a revoked token's ledger record (host rows stay: they say what each host holds)."""

        def apply() -> bool:
            known = self._data.get("deployments", {}).get(identity, {})
            return isinstance(known, dict) and isinstance(known.get("tokens"), dict) and known["tokens"].pop(refresh_fp, None) is not None

        self._change(apply)

    # -- Zoho's limits as state (issue 8, item 4; the decisions are in _limits.py) -------------------
    #
    # "limits": {
    #     "mints":   {"<refresh fp>": [{"at": <epoch>, "id": "<hex>"}, ...]},   the last 10 minutes only
    #     "blocked": {"<refresh fp>": <epoch>},   Zoho's throttle answered: nothing is sent for it before then
    #     "live":    {identity: {"<refresh fp>": {"since": <epoch>}}}}   refresh tokens exchanged and not revoked
    #
    # Created on first use (older stores have none). Never a token, only fingerprints. Entries
    # that cannot be read are ignored and dropped by the next write of their part. Every count is
    # decided on the document that the change is written to (check-and-set on a shared store).

    def _limits(self, part: str) -> dict[str, t.Any]:
        """One part of the limits section, for reading (a detached empty dict when there is none)."""
        section = self._data.get("limits")
        found = section.get(part) if isinstance(section, dict) else None
        return found if isinstance(found, dict) else {}

    def _limits_for_update(self, part: str) -> dict[str, t.Any]:
        section = self._data.get("limits")
        if not isinstance(section, dict):
            section = self._data["limits"] = {}
        if not isinstance(section.get(part), dict):
            section[part] = {}
        return section[part]

    def mint_window(self, refresh_token: str) -> MintWindow:
        """The refresh token's window now (``_limits.MintWindow``): its mints of the last 10 minutes and Zoho's block."""
        key = fingerprint(refresh_token)
        return mint_window(self._limits("mints").get(key), self.clock(), blocked_until=self._limits("blocked").get(key))

    def check_mint(self, refresh_token: str) -> None:
        """Raise ``_limits.ZohoMintLimitError`` when the refresh token's window allows no mint now; changes nothing."""
        now = self.clock()
        window = self.mint_window(refresh_token)
        if window.full:
            reusable = self.access_token_for(refresh_token)
            raise mint_refusal(
                window,
                now,
                refresh_fp=fingerprint(refresh_token),
                where=self.backend.where,
                reusable_until=reusable.expires_at if reusable is not None and reusable.expires_at > now else None,
            )

    def reserve_mint(self, refresh_token: str, *, reuse_if: t.Callable[[TokenSet], bool] | None = None) -> str:
        """Take a slot in the refresh token's window before a mint is sent; return the reservation's id.

        Decided and written on one document version: on a check-and-set conflict the document is
        read again and the decision made again, so two controllers never both take the last slot.
        Raises ``_limits.ZohoMintLimitError`` (nothing written) when the window is full, and
        ``ZohoTokenStoreError`` when the store cannot be written. Old mints of every refresh
        token are pruned on the way.

        With ``reuse_if`` (the caller can use a stored token that passes it, and can wait), each
        decision first looks at the document it is written to: a stored access token that passes
        raises :class:`MintedElsewhere`; on a shared backend, another controller's unsettled claim
        of the last :data:`MINT_CLAIM_SECONDS` raises :class:`MintClaimedElsewhere`. So
        controllers that share the store mint once, as runs that share a file store's lock do.
        The reservation is then a claim until :meth:`remember_access_token` settles it or
        :meth:`release_mint` gives it back.
        """
        reservation = secrets.token_hex(8)
        key = fingerprint(refresh_token)

        def apply() -> bool:
            if reuse_if is not None:
                stored = self.access_token_for(refresh_token)
                if stored is not None and reuse_if(stored):
                    raise MintedElsewhere(stored)
                if self.shared and self._claimed_elsewhere(key):
                    raise MintClaimedElsewhere()
            self.check_mint(refresh_token)
            self._prune_limits()
            self._limits_for_update("mints").setdefault(key, []).append({"at": epoch_up(self.clock()), "id": reservation, "claim": True})
            return True

        self._change(apply)
        self._mint_claims.add(reservation)
        return reservation

    def _claimed_elsewhere(self, key: str) -> bool:
        """Whether another controller's mint of the refresh token (fingerprint ``key``) is in flight: claimed, unsettled, recent."""
        now = self.clock()
        for entry in self._limits("mints").get(key) or []:
            if isinstance(entry, dict) and entry.get("claim") is True and entry.get("id") not in self._mint_claims:
                at = entry.get("at")
                if isinstance(at, (int, float)) and not isinstance(at, bool) and now - at < MINT_CLAIM_SECONDS:
                    return True
        return False

    def mint_claimed_elsewhere(self, refresh_token: str) -> bool:
        """Whether, in the content read last, another controller's mint of ``refresh_token`` is in flight (see :meth:`reserve_mint`)."""
        return self.shared and self._claimed_elsewhere(fingerprint(refresh_token))

    def release_mint(self, refresh_token: str, reservation: str) -> bool:
        """Give back a slot whose request was refused by Zoho or never sent (nothing was minted). True if it was found."""
        key = fingerprint(refresh_token)

        def apply() -> bool:
            entries = self._limits("mints").get(key)
            if not isinstance(entries, list) or not any(isinstance(e, dict) and e.get("id") == reservation for e in entries):
                return False
            self._limits_for_update("mints")[key] = [e for e in entries if not (isinstance(e, dict) and e.get("id") == reservation)]
            self._prune_limits()
            return True

        return self._change(apply)

    def block_minting(self, refresh_token: str, until: int, *, release: str | None = None) -> None:
        """Zoho's throttle answered for this refresh token: send nothing for it before ``until`` (epoch seconds).

        ``release``: the reservation of the refused request, given back in the same write (Zoho minted nothing).
        """
        key = fingerprint(refresh_token)

        def apply() -> bool:
            blocked = self._limits_for_update("blocked")
            current = blocked.get(key)
            blocked[key] = max(int(until), int(current) if isinstance(current, (int, float)) and not isinstance(current, bool) else 0)
            entries = self._limits("mints").get(key)
            if release is not None and isinstance(entries, list):
                self._limits_for_update("mints")[key] = [e for e in entries if not (isinstance(e, dict) and e.get("id") == release)]
            self._prune_limits()
            return True

        self._change(apply)

    def _settle_mints(self, refresh_token: str, reservations: t.Collection[str]) -> None:
        entries = self._limits("mints").get(fingerprint(refresh_token))
        now = epoch_up(self.clock())
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("id") in reservations:
                entry["at"] = max(now, int(entry.get("at") or 0))
                entry.pop("claim", None)  # the token is stored: nobody waits for it any more

    def _count_mint(self, refresh_token: str, reason: str) -> None:
        self._prune_limits()
        self._limits_for_update("mints").setdefault(fingerprint(refresh_token), []).append({"at": epoch_up(self.clock()), "id": reason})

    def _prune_limits(self) -> None:
        """Drop mints that left their window, windows left empty, and blocks that ended (only parts that exist)."""
        now = self.clock()
        section = self._data.get("limits")
        if not isinstance(section, dict):
            return
        if isinstance(section.get("mints"), dict):
            mints = {key: pruned(entries, now) for key, entries in section["mints"].items()}
            section["mints"] = {key: entries for key, entries in mints.items() if entries}
        if isinstance(section.get("blocked"), dict):
            section["blocked"] = {
                key: until for key, until in section["blocked"].items() if isinstance(until, (int, float)) and not isinstance(until, bool) and until > now
            }

    def live_refresh_tokens(self, identity: str) -> list[tuple[str, int]]:
        """``(fingerprint, epoch exchanged)`` of the client's live refresh tokens that this store knows, oldest first."""
        known = self._limits("live").get(identity)
        if not isinstance(known, dict):
            return []
        found = [(str(key), int(entry["since"])) for key, entry in known.items() if isinstance(entry, dict) and isinstance(entry.get("since"), int)]
        return sorted(found, key=lambda item: (item[1], item[0]))

    def _count_live(self, identity: str, refresh_token: str, *, evicting: bool) -> None:
        known = self._limits_for_update("live")
        if not isinstance(known.get(identity), dict):
            known[identity] = {}
        known[identity].setdefault(fingerprint(refresh_token), {"since": int(self.clock())})
        if evicting:  # Zoho holds at most REFRESH_TOKEN_CAP: beyond that, it has deleted the oldest
            for key, _since in self.live_refresh_tokens(identity)[:-REFRESH_TOKEN_CAP]:
                known[identity].pop(key, None)

    def forget_live_refresh_token(self, identity: str, refresh_token: str) -> bool:
        """Stop counting a refresh token that Zoho reports invalid (revoked or deleted) for the client. True if it was counted."""
        key = fingerprint(refresh_token)

        def apply() -> bool:
            known = self._limits("live").get(identity)
            if not isinstance(known, dict) or key not in known:
                return False
            del self._limits_for_update("live")[identity][key]
            return True

        return self._change(apply)

    def _forget_limits(self, refresh_token: str) -> bool:
        """Drop every counter of a revoked refresh token (inside an ``apply``); True if there was one."""
        key = fingerprint(refresh_token)
        forgotten = False
        for part in ("mints", "blocked"):
            if key in self._limits(part):
                del self._limits_for_update(part)[key]
                forgotten = True
        for identity, known in self._limits("live").items():
            if isinstance(known, dict) and key in known:
                del self._limits_for_update("live")[identity][key]
                forgotten = True
        return forgotten

    def pending_exchanges(self, client_id: str | None, accounts_url: str) -> int:
        """In-flight exchanges of the client (same ``client_id`` and accounts server) that may still make a refresh token.

        Records older than ``_limits.PENDING_EXCHANGE_SECONDS`` are attempts that died: no longer counted.
        """
        horizon = self.clock() - PENDING_EXCHANGE_SECONDS
        return sum(
            1
            for entry in self._data["codes"].values()
            if isinstance(entry, dict)
            and entry.get("state") == IN_FLIGHT
            and entry.get("client_id") == client_id
            and entry.get("accounts_url") == accounts_url
            and isinstance(entry.get("started"), (int, float))
            and entry["started"] > horizon
        )

    def counts(self, refresh_token: str | None = None, identity: str | None = None) -> Counts:
        """The counts of ``refresh_token``'s window and of ``identity``'s live refresh tokens (each only when given)."""
        counts = Counts()
        if refresh_token:
            window = self.mint_window(refresh_token)
            counts = Counts(mints_in_window=window.mints, window_frees_at=window.frees_at)
        if identity is not None:
            counts = Counts(counts.mints_in_window, counts.window_frees_at, live_refresh_tokens=len(self.live_refresh_tokens(identity)))
        return counts


def _empty() -> dict[str, t.Any]:
    return {"format": FORMAT, "version": VERSION, "codes": {}, "access_tokens": {}, "current": {}, "replaced": {}, "deployments": {}}


def _access_entry(tokens: TokenSet) -> dict[str, t.Any]:
    entry = tokens.as_dict()
    entry.pop("refresh_token", None)
    entry.pop("expires_in", None)
    return entry


def deployment_rows(entry: t.Any) -> dict[str, dict[str, str]]:
    """``{host: {config file: fingerprint}}`` from one identity's ledger entry; anything unreadable is left out."""
    rows = entry.get("hosts") if isinstance(entry, dict) else None
    if not isinstance(rows, dict):
        return {}
    found: dict[str, dict[str, str]] = {}
    for host, host_files in rows.items():
        if isinstance(host_files, dict):
            held = {str(name): row["refresh_fp"] for name, row in host_files.items() if isinstance(row, dict) and isinstance(row.get("refresh_fp"), str)}
            if held:
                found[str(host)] = held
    return found


def census_fingerprints(entry: t.Any) -> set[str]:
    """Fingerprints of one identity's ledger entry that a census has covered."""
    known = entry.get("tokens") if isinstance(entry, dict) else None
    if not isinstance(known, dict):
        return set()
    return {str(fp) for fp, record in known.items() if isinstance(record, dict) and record.get("census") is True}


__all__ = (
    "MINT_CLAIM_SECONDS",
    "MintClaimedElsewhere",
    "MintedElsewhere",
    "DONE",
    "IN_FLIGHT",
    "OPTIONAL_FIELDS",
    "CodeClaimedElsewhere",
    "FileBackend",
    "StoreBackend",
    "StoreConflict",
    "TokenCache",
    "is_absent",
    "keep_known",
)
