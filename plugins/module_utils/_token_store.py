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
import json
import os
import time
import typing as t

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import fingerprint
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import TokenSet
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoTokenStoreError
from ansible_collections.zohothrive.oauth.plugins.module_utils._fileio import FileIOError, atomic_write, exclusive_lock

FORMAT = "zohothrive.oauth token cache"
VERSION = 1
IN_FLIGHT = "in_flight"
DONE = "done"


class TokenCache:
    """A token cache file. Use :meth:`locked` for anything that may call Zoho."""

    def __init__(self, path: str, *, clock: t.Callable[[], float] = time.time, lock_timeout: float = 300.0) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))
        self.lock_path = self.path + ".lock"
        self.clock = clock
        self.lock_timeout = lock_timeout
        self._data: dict[str, t.Any] = _empty()

    # -- locking and persistence ---------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> t.Iterator[TokenCache]:
        """Hold the cache's exclusive lock and load the current content."""
        self._ensure_directory()
        try:
            with exclusive_lock(self.lock_path, timeout=self.lock_timeout):
                self.load()
                yield self
        except FileIOError as exc:
            raise ZohoTokenStoreError(f"Token cache: {exc}") from None

    def load(self) -> TokenCache:
        """Read the file (a missing file is an empty cache). Never rewrites a file it cannot parse."""
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            self._data = _empty()
            return self
        except OSError as exc:
            raise ZohoTokenStoreError(f"Cannot read the token cache {self.path}: {exc.strerror or exc}.") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT
            or not isinstance(data.get("codes"), dict)
            or not all(isinstance(data.get(section, {}), dict) for section in ("access_tokens", "current", "replaced"))
        ):
            raise ZohoTokenStoreError(
                f"The token cache {self.path} is not a valid zohothrive.oauth token cache; it was left untouched. "
                "Move it aside (it may hold tokens worth keeping) or point token_cache at another file."
            )
        if data.get("version") != VERSION:
            raise ZohoTokenStoreError(
                f"The token cache {self.path} has format version {data.get('version')!r}, which this collection version does "
                f"not know ({VERSION}). Upgrade the collection, or point token_cache at another file."
            )
        data.setdefault("access_tokens", {})
        data.setdefault("current", {})
        data.setdefault("replaced", {})
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
                    "(it may hold tokens worth keeping) or point token_cache at another file."
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
        entry = self._data["codes"].setdefault(code_fingerprint, {})
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
            self._data["access_tokens"][fingerprint(refresh_token)] = _access_entry(tokens)

    def remember_access_token(self, refresh_token: str, tokens: TokenSet) -> None:
        self._data["access_tokens"][fingerprint(refresh_token)] = _access_entry(tokens)
        if tokens.refresh_token and tokens.refresh_token != refresh_token:
            # Zoho does not rotate refresh tokens today; if it ever does, keep the new one findable.
            self._data["access_tokens"][fingerprint(tokens.refresh_token)] = _access_entry(tokens)
        self._save()

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


def _empty() -> dict[str, t.Any]:
    return {"format": FORMAT, "version": VERSION, "codes": {}, "access_tokens": {}, "current": {}, "replaced": {}}


def _access_entry(tokens: TokenSet) -> dict[str, t.Any]:
    entry = tokens.as_dict()
    entry.pop("refresh_token", None)
    entry.pop("expires_in", None)
    return entry


__all__ = ("DONE", "IN_FLIGHT", "TokenCache")
