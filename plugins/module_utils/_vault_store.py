# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The token store on HashiCorp Vault or OpenBao: one KV version 2 secret, written with check-and-set.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: the controller.

Controller side only (needs ``hvac``, the client library community.hashi_vault uses).

The secret at ``engine_mount_point``/``path`` holds:

- the documented fields of the current tokens, for people and other jobs to read with
  ``community.hashi_vault.vault_kv2_get`` (write-back): ``refresh_token``, ``access_token``,
  ``expires_at`` (epoch seconds), ``api_domain``, ``accounts_url``, ``code_fingerprint``
  (SHA-256 of the grant code, never the code), ``client_id`` and ``updated_at`` (epoch seconds);
- ``zohothrive_store``: the whole store document (grant-code records, access tokens per refresh
  token, the deployment ledger), as the file store keeps it.

Every write is a KV v2 check-and-set on the version that was read (``cas=0`` creates), so two
controllers never overwrite each other: the loser gets :class:`StoreConflict` and the core reads
again and re-decides. The client secret and the grant code are never stored.
"""

from __future__ import annotations

import typing as t

from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoDependencyError, ZohoTokenStoreError
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import StoreBackend, StoreConflict

try:
    import hvac
    import hvac.exceptions
    import requests.exceptions

    HAS_HVAC = True
    HVAC_IMPORT_ERROR: BaseException | None = None
except ImportError as exc:  # pragma: no cover - depends on the controller
    HAS_HVAC = False
    HVAC_IMPORT_ERROR = exc

DOCUMENT_FIELD = "zohothrive_store"
AUTH_METHODS = ("token", "approle")
DEFAULT_MOUNT = "secret"
DEFAULT_TIMEOUT = 30


class VaultBackend(StoreBackend):
    """One KV v2 secret as the token store (see the module docstring for its fields).

    ``settings`` use community.hashi_vault's option names: ``url``, ``namespace``, ``auth_method``
    (``token`` or ``approle``), ``token``, ``role_id``, ``secret_id``, ``engine_mount_point``,
    ``path``, ``ca_cert``, ``validate_certs``, ``timeout`` (seconds). Messages name them ``vault.NAME``. Raises
    :class:`ZohoDependencyError` without ``hvac`` and ``ZohoTokenStoreError`` for unusable settings.
    """

    shared = True
    noun = "token store"

    def __init__(self, settings: t.Mapping[str, t.Any], *, client: t.Any = None) -> None:
        if not HAS_HVAC and client is None:
            raise ZohoDependencyError("The vault token store needs the Python library hvac on the controller: pip install hvac.")
        self.settings = check_settings(settings)
        self.mount = self.settings["engine_mount_point"]
        self.secret_path = self.settings["path"]
        self.where = f"{self.settings['url']} ({self.mount}/{self.secret_path})"
        self.elsewhere = "point `vault.path` at another secret"
        self._client = client
        self._logged_in = client is not None
        self._mount_checked = False

    # -- connection -------------------------------------------------------------------------

    @property
    def client(self) -> t.Any:
        if self._client is None:
            settings = self.settings
            verify: bool | str = settings["ca_cert"] or True if settings["validate_certs"] else False
            self._client = hvac.Client(url=settings["url"], namespace=settings["namespace"] or None, verify=verify, timeout=settings["timeout"])
        if not self._logged_in:
            self._login()
        return self._client

    def _login(self) -> None:
        settings = self.settings
        with self._faults("log in to"):
            if settings["auth_method"] == "approle":
                self._client.auth.approle.login(role_id=settings["role_id"], secret_id=settings["secret_id"])
            else:
                self._client.token = settings["token"]
        self._logged_in = True

    # -- StoreBackend -------------------------------------------------------------------------

    def read(self, *, exclusive: bool) -> tuple[dict[str, t.Any] | None, t.Any]:
        """The stored document and its KV version; ``(None, 0)`` when the secret does not exist yet."""
        client = self.client
        self._check_mount()
        with self._faults("read"):
            try:
                answer = client.secrets.kv.v2.read_secret_version(path=self.secret_path, mount_point=self.mount, raise_on_deleted_version=True)
            except hvac.exceptions.InvalidPath as exc:
                return None, _version_without_data(exc)
        data = (answer or {}).get("data") or {}
        version = (data.get("metadata") or {}).get("version")
        fields = data.get("data")
        if not isinstance(fields, dict) or not isinstance(version, int):
            raise ZohoTokenStoreError(f"The token store {self.where} answered without a KV version 2 secret; it was left untouched.")
        document = fields.get(DOCUMENT_FIELD)
        if document is None:
            raise ZohoTokenStoreError(
                f"The secret {self.where} exists but was not written by zohothrive.oauth (it has no {DOCUMENT_FIELD} field); it was "
                f"left untouched. Point `vault.path` at a secret of its own."
            )
        if not isinstance(document, dict):
            raise ZohoTokenStoreError(f"The {DOCUMENT_FIELD} field of {self.where} is not a JSON object; it was left untouched. Move it aside.")
        return document, version

    def write(self, document: dict[str, t.Any], version: t.Any, summary: dict[str, t.Any]) -> t.Any:
        """Write the fields and the document with ``cas=version``; the new version, or :class:`StoreConflict`."""
        secret = {key: value for key, value in summary.items() if value is not None}
        secret[DOCUMENT_FIELD] = document
        client = self.client
        with self._faults("write"):
            try:
                answer = client.secrets.kv.v2.create_or_update_secret(
                    path=self.secret_path, secret=secret, cas=int(version or 0), mount_point=self.mount
                )
            except hvac.exceptions.InvalidRequest as exc:
                if "check-and-set" in str(exc):
                    raise StoreConflict() from None
                raise
        new_version = ((answer or {}).get("data") or {}).get("version")
        if not isinstance(new_version, int):
            raise ZohoTokenStoreError(f"The token store {self.where} did not confirm the write with a KV version; check the mount.")
        return new_version

    def _check_mount(self) -> None:
        """Refuse a mount that is not KV version 2 before the first read.

        A KV version 1 engine accepts version 2 calls without an error (a write stores a key named
        ``data/<path>``, and ``cas`` is ignored, so two controllers could both "win" a code): its
        version is read from ``sys/internal/ui/mounts/<mount>``, which a token limited to the
        path may read.
        """
        if self._mount_checked:
            return
        with self._faults("inspect the secrets engine of"):
            try:
                answer = self._client.adapter.get(f"/v1/sys/internal/ui/mounts/{self.mount}")
            except (hvac.exceptions.InvalidPath, hvac.exceptions.Forbidden):
                # The vault answers "permission denied" for a mount that does not exist, for one the token may not use, and
                # for any path when the token itself is invalid: tell the last apart first (a valid token may look itself up).
                self._check_token()
                raise ZohoTokenStoreError(
                    f"The vault at {self.settings['url']} has no secrets engine at `vault.engine_mount_point` {self.mount!r} that this "
                    f"login may use. Fix `vault.engine_mount_point`, give the policy rights on {self.mount}/data/{self.secret_path}, or "
                    f"enable a KV version 2 engine there (bao secrets enable -version=2 -path={self.mount} kv). Nothing was changed."
                ) from None
        data = (answer or {}).get("data") if isinstance(answer, dict) else None
        engine = (data or {}).get("type")
        version = str(((data or {}).get("options") or {}).get("version") or "1")
        if engine not in ("kv", "generic") or version != "2":
            kind = f"KV version {version}" if engine in ("kv", "generic") else f"a {engine or 'unknown'} engine"
            raise ZohoTokenStoreError(
                f"`vault.engine_mount_point` {self.mount!r} at {self.settings['url']} is {kind}, not KV version 2: it would ignore "
                "check-and-set, so two controllers could both send one grant code. Use a KV version 2 mount."
            )
        self._mount_checked = True

    def _check_token(self) -> None:
        """Raise ``ZohoTokenStoreError`` naming the login when the vault does not accept the token at all (expired, revoked, mistyped)."""
        try:
            self._client.auth.token.lookup_self()
        except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
            what = (
                "the token that the AppRole login gave"
                if self.settings["auth_method"] == "approle"
                else "`vault.token` (or VAULT_TOKEN): it is expired, revoked or mistyped"
            )
            raise ZohoTokenStoreError(
                f"The vault at {self.settings['url']} does not accept {what}. Log in again and pass the new token. Nothing was changed."
            ) from None
        except Exception:  # pylint: disable=broad-exception-caught
            return  # cannot tell: the caller's message stands

    def _faults(self, action: str) -> t.ContextManager[None]:
        return _VaultFaults(self, action)


class _VaultFaults:
    """Turn every vault failure into a ``ZohoTokenStoreError`` that names the cause and the fix, never a secret."""

    def __init__(self, backend: VaultBackend, action: str) -> None:
        self.backend = backend
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: t.Any) -> bool:
        if exc is None or isinstance(exc, (StoreConflict, ZohoTokenStoreError)):
            return False
        where = self.backend.where
        what = f"Could not {self.action} the token store {where}"
        if isinstance(exc, hvac.exceptions.VaultDown):
            raise ZohoTokenStoreError(f"{what}: the vault is sealed or in maintenance. Unseal it, then run again. Nothing was changed.") from None
        if isinstance(exc, hvac.exceptions.InvalidRequest) and "invalid role or secret id" in str(exc).lower():
            raise ZohoTokenStoreError(
                f"{what}: the vault refused the AppRole login. Check `vault.role_id` and `vault.secret_id`. Nothing was changed."
            ) from None
        if isinstance(exc, (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized)):
            who = "the AppRole" if self.backend.settings["auth_method"] == "approle" else "the token"
            raise ZohoTokenStoreError(
                f"{what}: permission denied. Give {who} a policy with create, read and update on "
                f"{self.backend.mount}/data/{self.backend.secret_path} (and read on {self.backend.mount}/metadata/"
                f"{self.backend.secret_path}), or check `vault.token`/`vault.role_id`/`vault.secret_id`. Nothing was changed."
            ) from None
        if isinstance(exc, hvac.exceptions.InvalidPath):
            raise ZohoTokenStoreError(
                f"{what}: the vault has no KV version 2 engine at `vault.engine_mount_point` {self.backend.mount!r} (or the path is not "
                "allowed there). Enable one (bao secrets enable -version=2 -path=MOUNT kv) or fix `vault.engine_mount_point`."
            ) from None
        if isinstance(exc, requests.exceptions.SSLError):
            raise ZohoTokenStoreError(f"{what}: its TLS certificate could not be verified. Set `vault.ca_cert` to the vault's CA bundle.") from None
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            raise ZohoTokenStoreError(
                f"{what}: the vault did not answer ({type(exc).__name__}). Check `vault.url` and that the vault is running. "
                "Nothing was changed by this step; tokens Zoho already issued are still delivered."
            ) from None
        if isinstance(exc, hvac.exceptions.VaultError):
            errors = "; ".join(str(error)[:160] for error in (getattr(exc, "errors", None) or [])) or type(exc).__name__
            if "upgrading" in errors or "kv version 1" in errors.lower() or "unsupported path" in errors.lower():
                raise ZohoTokenStoreError(f"{what}: `vault.engine_mount_point` {self.backend.mount!r} is not a KV version 2 engine ({errors}).") from None
            raise ZohoTokenStoreError(f"{what}: {errors}.") from None
        raise ZohoTokenStoreError(f"{what}: unexpected {type(exc).__name__}.") from None


def _version_without_data(exc: BaseException) -> int:
    """The version a write must name after a read found no current data, taken from that same answer.

    0 when the secret never existed (a create, ``cas=0``, fails if another controller creates it
    first); the newest version when that one was deleted or destroyed (the vault's 404 answer
    carries its metadata). A separate metadata lookup is not used: it could see a version that
    another controller wrote after the read, and the write would then replace that controller's
    record (two controllers would both send one grant code).
    """
    body = getattr(exc, "json", None)
    data = body.get("data") if isinstance(body, dict) else None
    metadata = data.get("metadata") if isinstance(data, dict) else None
    version = metadata.get("version") if isinstance(metadata, dict) else None
    return version if isinstance(version, int) and version > 0 else 0


def check_settings(settings: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Return the vault settings with defaults, or raise ``ZohoTokenStoreError`` naming the missing or bad one."""
    checked = {
        "url": settings.get("url"),
        "namespace": settings.get("namespace"),
        "auth_method": settings.get("auth_method") or "token",
        "token": settings.get("token"),
        "role_id": settings.get("role_id"),
        "secret_id": settings.get("secret_id"),
        "engine_mount_point": (settings.get("engine_mount_point") or DEFAULT_MOUNT).strip("/"),
        "path": (settings.get("path") or "").strip("/"),
        "ca_cert": settings.get("ca_cert"),
        "validate_certs": settings.get("validate_certs", True) is not False,
        "timeout": DEFAULT_TIMEOUT if settings.get("timeout") in (None, "") else settings.get("timeout"),
    }
    if not checked["url"]:
        raise ZohoTokenStoreError("The vault token store needs `vault.url` (or the environment variable VAULT_ADDR).")
    if not str(checked["url"]).startswith(("https://", "http://")):
        raise ZohoTokenStoreError("`vault.url` must start with https:// (or http:// for a local development server).")
    if checked["auth_method"] not in AUTH_METHODS:
        raise ZohoTokenStoreError(f"`vault.auth_method` must be one of {', '.join(AUTH_METHODS)}, not {checked['auth_method']!r}.")
    if checked["auth_method"] == "token" and not checked["token"]:
        raise ZohoTokenStoreError("`vault.auth_method` token needs `vault.token` (or the environment variable VAULT_TOKEN).")
    if checked["auth_method"] == "approle" and not (checked["role_id"] and checked["secret_id"]):
        raise ZohoTokenStoreError("`vault.auth_method` approle needs `vault.role_id` and `vault.secret_id`.")
    if not checked["path"] or ".." in checked["path"].split("/"):
        raise ZohoTokenStoreError("The vault token store needs `vault.path`, the secret's path in the KV engine (for example zohothrive/myapp).")
    if not isinstance(checked["timeout"], int) or not 1 <= checked["timeout"] <= 3600:
        raise ZohoTokenStoreError("`vault.timeout` must be a number of seconds from 1 to 3600.")
    return checked


__all__ = ("AUTH_METHODS", "DOCUMENT_FIELD", "HAS_HVAC", "VaultBackend", "check_settings")
