# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller-side durable token cache: a JSON file, mode 0600, replaced atomically under a lock.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

It holds two things:
- a ledger of grant codes, keyed by the SHA-256 fingerprint of the code (never the code). An
  entry is ``in_flight`` from just before the code is sent until tokens are stored, then
  ``done`` with the tokens. A code with an entry is never sent again;
- the newest access token minted from each refresh token, keyed by the refresh token's
  fingerprint, so repeated or concurrent runs reuse it instead of minting another (Zoho allows
  10 mints per refresh token per 10 minutes).

The whole read-decide-call-write sequence runs under an exclusive lock, so concurrent runs
(forks, parallel playbooks) call Zoho once and the others reuse the result. Every change is
written to disk before the caller goes on (nothing Zoho issued is lost if a later step fails).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import time
import typing as t
from dataclasses import replace

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import TokenSet
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


class TokenCache:
    """A token cache file. Use :meth:`locked` for anything that may call Zoho."""

    def __init__(
        self,
        path: str,
        *,
        clock: t.Callable[[], float] = time.time,
        lock_timeout: float = 300.0,
        warn: t.Callable[[str], None] | None = None,
    ) -> None:
        """``warn`` receives each warning once (modules pass ``module.warn``); they are also kept in ``warnings``."""
        given = os.path.abspath(os.path.expanduser(path))
        # A link (persistent storage on a CI runner) is resolved once, here: the real file is locked
        # and replaced, so the link survives and every link to one file shares one lock file.
        self.path = os.path.realpath(given)
        self.link = given if given != self.path else None
        self.lock_path = self.path + ".lock"
        self.clock = clock
        self.lock_timeout = lock_timeout
        self.warnings: list[str] = []
        self._warn = warn
        self._locked = False
        self._data: dict[str, t.Any] = _empty()

    # -- locking and persistence ---------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> t.Iterator[TokenCache]:
        """Hold the cache's exclusive lock and load the current content."""
        self._ensure_directory()
        try:
            # remove=True: the lock file exists only while a run holds it (lock-then-verify in _fileio).
            with exclusive_lock(self.lock_path, timeout=self.lock_timeout, remove=True):
                self._locked = True
                try:
                    self.load()
                    yield self
                finally:
                    self._locked = False
        except FileIOError as exc:
            raise ZohoTokenStoreError(f"Token cache: {exc}") from None

    def load(self) -> TokenCache:
        """Read the file (a missing file is an empty cache). Never rewrites a file it cannot parse.

        The file must belong to the user running this and must not be writable by others; a file
        that others can read is tightened to 0600 with a warning (see :meth:`_check_file`).
        """
        self._check_directory()
        try:
            fd = os.open(self.path, os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        except FileNotFoundError:
            self._data = _empty()
            return self
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise ZohoTokenStoreError(
                    f"The token cache {self.path} was replaced by a symbolic link after it was resolved; it is not followed. "
                    "Check who changes it, then point `token_cache` at the real file."
                ) from None
            raise ZohoTokenStoreError(f"Cannot read the token cache {self.path}: {exc.strerror or exc}.") from None
        try:
            self._check_file(fd)
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
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT
            or not isinstance(data.get("codes"), dict)
            or not all(isinstance(data.get(section, {}), dict) for section in ("access_tokens", "current", "replaced", "deployments"))
        ):
            raise ZohoTokenStoreError(
                f"The token cache {self.path} is not a valid zohothrive.oauth token cache; it was left untouched. "
                "Move it aside (it may hold tokens worth keeping) or point `token_cache` at another file."
            )
        if data.get("version") != VERSION:
            raise ZohoTokenStoreError(
                f"The token cache {self.path} has format version {data.get('version')!r}, which this collection version does "
                f"not know ({VERSION}). Upgrade the collection, or point `token_cache` at another file."
            )
        data.setdefault("access_tokens", {})
        data.setdefault("current", {})
        data.setdefault("replaced", {})
        data.setdefault("deployments", {})
        self._data = data
        return self

    def _save(self) -> None:
        payload = json.dumps(self._data, indent=1, sort_keys=True).encode("utf-8") + b"\n"
        try:
            atomic_write(self.path, payload, mode=0o600)
        except FileIOError as exc:
            raise ZohoTokenStoreError(f"Token cache: {exc}") from None

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

    def _note(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            if self._warn is not None:
                self._warn(message)

    def _check_directory(self) -> None:
        directory = os.path.dirname(self.path)
        try:
            st = os.stat(directory)
        except OSError:
            return  # missing: created 0700 by _ensure_directory, or an empty cache for load()
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

    def _check_file(self, fd: int) -> None:
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
        if mode & 0o077 and not self._locked:  # a read without the lock (check mode) changes nothing
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

    def begin_exchange(self, code_fingerprint: str, *, accounts_url: str, client_id: str | None) -> None:
        """Record, durably, that the code is about to be sent."""
        self._data["codes"][code_fingerprint] = {
            "state": IN_FLIGHT,
            "started": int(self.clock()),
            "accounts_url": accounts_url,
            "client_id": client_id,
        }
        self._save()

    def finish_exchange(self, code_fingerprint: str, tokens: TokenSet) -> None:
        """Record the tokens of a code. Optional fields they lack keep the values an earlier entry of the code stored."""
        entry = self._data["codes"].setdefault(code_fingerprint, {})
        stored = entry.get("tokens")
        if isinstance(stored, dict):
            tokens = keep_known(tokens, stored)
        entry.update(state=DONE, finished=int(self.clock()), tokens=tokens.as_dict())
        if tokens.refresh_token:
            self._keep_newest_access_token(tokens.refresh_token, tokens)
        self._save()

    def abandon_exchange(self, code_fingerprint: str) -> None:
        """Forget an in-flight entry after Zoho definitely refused the request (nothing was issued)."""
        if self._data["codes"].pop(code_fingerprint, None) is not None:
            self._save()

    # -- current code per client ----------------------------------------------------------

    def current_code(self, identity: str) -> str | None:
        """Fingerprint of the code whose tokens are current for ``identity`` (client and server)."""
        value = self._data.get("current", {}).get(identity)
        return value if isinstance(value, str) else None

    def set_current_code(self, identity: str, code_fingerprint: str) -> None:
        current = self._data.setdefault("current", {})
        if current.get(identity) != code_fingerprint:
            current[identity] = code_fingerprint
            self._save()

    # -- replaced refresh tokens awaiting revocation ------------------------------------------

    def replaced_tokens(self, identity: str) -> list[str]:
        tokens = self._data.get("replaced", {}).get(identity)
        return [str(token) for token in tokens] if isinstance(tokens, list) else []

    def add_replaced(self, identity: str, tokens: t.Iterable[str]) -> None:
        """Remember refresh tokens replaced by a newer code until they are revoked."""
        pending = self.replaced_tokens(identity)
        added = [token for token in tokens if token and token not in pending]
        if added:
            self._data.setdefault("replaced", {})[identity] = pending + added
            self._save()

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

    def remember_access_token(self, refresh_token: str, tokens: TokenSet) -> None:
        """Store the access token minted from ``refresh_token``; fields the answer lacked keep their stored values."""
        merged = self._put_access_entry(refresh_token, tokens)
        if tokens.refresh_token and tokens.refresh_token != refresh_token:
            # Zoho does not rotate refresh tokens today; if it ever does, keep the new one findable.
            self._put_access_entry(tokens.refresh_token, merged)
        self._save()

    def _put_access_entry(self, refresh_token: str, tokens: TokenSet) -> TokenSet:
        key = fingerprint(refresh_token)
        stored = self._data["access_tokens"].get(key)
        merged = keep_known(tokens, stored) if isinstance(stored, dict) else tokens
        self._data["access_tokens"][key] = _access_entry(merged)
        return merged

    def forget_refresh_token(self, refresh_token: str) -> bool:
        """Forget a revoked refresh token: its cached access token and any pending revocation.

        Returns True if anything was forgotten.
        """
        forgotten = self._data["access_tokens"].pop(fingerprint(refresh_token), None) is not None
        for identity, tokens in list(self._data.get("replaced", {}).items()):
            if isinstance(tokens, list) and refresh_token in tokens:
                self._data["replaced"][identity] = [token for token in tokens if token != refresh_token]
                forgotten = True
        if forgotten:
            self._save()
        return forgotten

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
        if changed:
            self._save()
        return changed

    def forget_deployed_token(self, identity: str, refresh_fp: str) -> None:
        """Drop a revoked token's ledger record (host rows stay: they say what each host holds)."""
        known = self._data.get("deployments", {}).get(identity, {})
        if isinstance(known, dict) and isinstance(known.get("tokens"), dict) and known["tokens"].pop(refresh_fp, None) is not None:
            self._save()


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


__all__ = ("DONE", "IN_FLIGHT", "OPTIONAL_FIELDS", "TokenCache", "is_absent", "keep_known")
