# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The option adapter: one way to read options, from a module or from a plugin, and what is built from them.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: the controller.

Modules keep their options in ``AnsibleModule.params`` (argument spec, ``module_defaults``,
environment fallbacks); plugins resolve theirs through Ansible's configuration manager (term or
keyword, then variables, then environment variables, then ansible.cfg, then the default) and read
them with ``get_option``. An :class:`OptionAdapter` hides the difference behind one interface
(``get_option``, ``get_option_default``, ``has_option``, ``set_option``, ``get_options``,
``get_filled_options``, ``warn``, ``relabel``, ``origin``), in the manner of community.hashi_vault's
``HashiVaultOptionAdapter``, so that the Zoho client (:func:`build_client`) and the token store
(:func:`build_token_store`) are built by the same code for the modules (through
``_module.client_from_params`` and ``_module.token_store``) and for the ``access_token`` lookup.

The vault store's settings are one ``vault`` dictionary for modules and flat ``vault_<name>``
options for plugins (whose every option resolves from its own keyword, variable, environment
variable and ansible.cfg key); :func:`vault_settings` reads either. Messages name them
``vault.<name>``; a plugin passes :data:`FLAT_VAULT_LABELS` so that they read ``vault_<name>``.

Nothing here calls ``fail_json`` or raises Ansible errors: the core's typed exceptions
(``_errors.py``) propagate, and each entry point (a module's ``main()``, a plugin's ``run()``)
reports them.
"""

from __future__ import annotations

import os
import typing as t

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import CREDENTIAL_OPTIONS, tidy_credential
from ansible_collections.zohothrive.oauth.plugins.module_utils._client import (
    HAS_REQUESTS,
    MIN_TIMEOUT,
    REQUESTS_IMPORT_ERROR,
    RetryPolicy,
    ZohoOAuthClient,
    check_ca_path,
    check_timeout,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._dc import resolve_accounts_url
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoDependencyError, ZohoInputError
from ansible_collections.zohothrive.oauth.plugins.module_utils._labels import relabel
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import TokenCache
from ansible_collections.zohothrive.oauth.plugins.module_utils._vault_store import VaultBackend

# The settings of the vault token store (``_vault_store.check_settings``), with community.hashi_vault's names.
VAULT_SETTINGS = ("url", "namespace", "auth_method", "token", "role_id", "secret_id", "engine_mount_point", "path", "ca_cert", "validate_certs", "timeout")

# How a plugin's flat options are named in messages that name the module's ``vault`` sub-options.
# ``vault`` itself is the choice of the vault store, which ``vault_path`` makes for a plugin.
FLAT_VAULT_LABELS = {"vault": "vault_path", **{f"vault.{name}": f"vault_{name}" for name in VAULT_SETTINGS}}

# community.hashi_vault's low-precedence environment variables: read only when no other source
# (keyword, variable, ANSIBLE_HASHI_VAULT_* variable, ansible.cfg) set the option, so that every
# Ansible-specific setting wins over a generic one meant for the vault CLI.
LATE_ENV = {
    "vault_url": ("VAULT_ADDR",),
    "vault_token": ("VAULT_TOKEN",),
    "vault_ca_cert": ("VAULT_CACERT",),
    "vault_namespace": ("VAULT_NAMESPACE",),
}

# The environment variables behind the connection options that may hold a credential (also the modules' fallbacks).
ENV_HINTS = {"client_id": "ZOHO_THRIVE_CLIENT_ID", "client_secret": "ZOHO_THRIVE_CLIENT_SECRET"}

_MISSING = object()


class OptionAdapter:
    """One interface over a module's params or a plugin's resolved options.

    Build one with :meth:`from_module`, :meth:`from_plugin` or :meth:`from_dict`. ``getter``
    raises ``KeyError`` for an option the source does not have. ``warn`` receives operator
    warnings (already in the caller's words: :meth:`warn` relabels with ``labels`` first).
    ``origin`` maps an option name to where its value came from, in Ansible's words
    (``env: NAME``, ``var: NAME``, a configuration file's path, ``Direct``, ``default``), or None.
    ``protect`` receives an option's name and a value derived from it (a cleaned credential), so
    that a module can mask it in output like the original when the option is ``no_log``.
    """

    def __init__(
        self,
        getter: t.Callable[[str], t.Any],
        *,
        haver: t.Callable[[str], bool],
        setter: t.Callable[[str, t.Any], None],
        warn: t.Callable[[str], None] | None = None,
        labels: t.Mapping[str, str] | None = None,
        origin: t.Callable[[str], str | None] | None = None,
        protect: t.Callable[[str, str], None] | None = None,
    ) -> None:
        self._getter = getter
        self._haver = haver
        self._setter = setter
        self._warn = warn
        self.labels = dict(labels or {})
        self._origin = origin
        self._protect = protect
        self._origins: dict[str, str] = {}  # origins of values set here (late-binding environment variables)

    @classmethod
    def from_dict(cls, data: dict[str, t.Any], **kwargs: t.Any) -> OptionAdapter:
        """Options held in a plain dictionary (tests, or options gathered by other means)."""
        return cls(data.__getitem__, haver=data.__contains__, setter=data.__setitem__, **kwargs)

    @classmethod
    def from_module(
        cls, module: t.Any, *, warn: t.Callable[[str], None] | None = None, origin: t.Callable[[str], str | None] | None = None
    ) -> OptionAdapter:
        """An ``AnsibleModule``'s params. ``warn`` defaults to ``module.warn``; a cleaned ``no_log`` value joins ``module.no_log_values``."""
        params = module.params

        def protect(name: str, value: str) -> None:
            if ((getattr(module, "argument_spec", None) or {}).get(name) or {}).get("no_log"):
                module.no_log_values.add(value)

        return cls(params.__getitem__, haver=params.__contains__, setter=params.__setitem__, warn=warn or module.warn, origin=origin, protect=protect)

    @classmethod
    def from_plugin(
        cls,
        plugin: t.Any,
        *,
        warn: t.Callable[[str], None],
        labels: t.Mapping[str, str] | None = None,
        origin: t.Callable[[str], str | None] | None = None,
        protect: t.Callable[[str, str], None] | None = None,
    ) -> OptionAdapter:
        """A plugin's options, read with its ``get_option`` (after ``set_options``), as community.hashi_vault does.

        Every read goes through the configuration manager's accessors, never a copy, so that
        what Ansible resolves (and reports, such as deprecations) is what is used.
        """
        return cls(plugin.get_option, haver=plugin.has_option, setter=plugin.set_option, warn=warn, labels=labels, origin=origin, protect=protect)

    # -- reading and writing -----------------------------------------------------------------

    def get_option(self, name: str) -> t.Any:
        """The option's value; ``KeyError`` if the source has no such option."""
        return self._getter(name)

    def get_option_default(self, name: str, default: t.Any = None) -> t.Any:
        """The option's value (None included), or ``default`` if the source has no such option."""
        try:
            return self._getter(name)
        except KeyError:
            return default

    def has_option(self, name: str) -> bool:
        return bool(self._haver(name))

    def set_option(self, name: str, value: t.Any, *, origin: str | None = None) -> None:
        """Set a value; ``origin`` (in Ansible's words, such as ``env: VAULT_ADDR``) is reported by :meth:`origin`."""
        self._setter(name, value)
        if origin is not None:
            self._origins[name] = origin
        else:
            self._origins.pop(name, None)

    def get_options(self, *names: str) -> dict[str, t.Any]:
        """``{name: value}`` for each of ``names``; ``KeyError`` for one the source does not have."""
        return {name: self.get_option(name) for name in names}

    def get_filled_options(self, *names: str) -> dict[str, t.Any]:
        """``{name: value}`` for each of ``names`` that the source has and whose value is not None."""
        found = {name: self.get_option_default(name, _MISSING) for name in names}
        return {name: value for name, value in found.items() if value is not _MISSING and value is not None}

    # -- the caller's words ------------------------------------------------------------------

    def relabel(self, text: str) -> str:
        """``text`` with each backtick-marked option name in the caller's words (``labels``)."""
        return relabel(text, self.labels)

    def warn(self, text: str) -> None:
        """Send an operator warning (relabeled) to the caller; dropped when the caller gave no ``warn``."""
        if self._warn is not None:
            self._warn(self.relabel(text))

    def protect(self, name: str, value: str) -> None:
        """Report ``value``, derived from option ``name``, to the caller's masking (see the class docstring)."""
        if self._protect is not None and value:
            self._protect(name, value)

    def origin(self, name: str) -> str | None:
        """Where the option's value came from, for a message (``the environment variable NAME``), or None if nothing worth saying."""
        found = self._origins.get(name)
        if found is None and self._origin is not None:
            try:
                found = self._origin(name)
            except KeyError:
                found = None
        if not isinstance(found, str) or found in ("Direct", "default") or found.startswith("keyword:"):
            return None
        if found.startswith("env: "):
            return f"the environment variable {found[5:]}"
        if found.startswith("var: "):
            return f"the variable {found[5:]}"
        if found.startswith("cli: "):
            return None
        return f"the configuration file {found}"


def apply_late_env(options: OptionAdapter, table: t.Mapping[str, t.Sequence[str]] | None = None) -> None:
    """Fill each option of ``table`` that the source has and left None from the first of its environment variables that is set.

    These are community.hashi_vault's low-precedence variables (``VAULT_ADDR``, ...): a plugin
    reads them after every other source, ansible.cfg included. Modules list them as the last
    ``env_fallback`` of the ``vault`` sub-options instead. ``table`` defaults to :data:`LATE_ENV`.
    """
    for name, variables in (LATE_ENV if table is None else table).items():
        if not options.has_option(name) or options.get_option(name) is not None:
            continue
        for variable in variables:
            value = os.environ.get(variable)
            if value:
                options.set_option(name, value, origin=f"env: {variable}")
                break


def clean_credentials(options: OptionAdapter, names: t.Iterable[str] = CREDENTIAL_OPTIONS) -> None:
    """Apply the one credential rule (``_authorization.tidy_credential``) to each of ``names`` the source has, in place.

    Surrounding whitespace and invisible characters are removed with a warning naming the
    option and where its value came from (``options.origin``); any other character outside
    printable ASCII inside a value raises :class:`ZohoInputError` naming the option, never the
    value. A cleaned value is passed to ``options.protect``.
    """
    for name in names:
        value = options.get_option_default(name)
        if not isinstance(value, str):
            continue
        source = options.origin(name)
        text, warning = tidy_credential(value, f"`{name}`" + (f" (from {source})" if source else ""))
        if warning:
            options.warn(warning)
        if text != value:
            options.set_option(name, text)
            options.protect(name, text)


def require_filled(options: OptionAdapter, *names: str, sources: t.Mapping[str, str] | None = None) -> None:
    """Raise :class:`ZohoInputError` naming each of ``names`` that is unset or empty, and where else it may come from.

    ``sources`` maps an option to a phrase such as ``the environment variable ZOHO_THRIVE_CLIENT_ID``
    (the default, from :data:`ENV_HINTS`).
    """
    sources = {name: f"the environment variable {variable}" for name, variable in ENV_HINTS.items()} if sources is None else sources
    missing = [name for name in names if options.get_option_default(name) in (None, "")]
    if missing:
        shown = [f"`{name}` (or {sources[name]})" if name in sources else f"`{name}`" for name in missing]
        raise ZohoInputError(f"Missing required option(s): {', '.join(shown)}. Nothing was sent to Zoho.")


def accounts_url_of(options: OptionAdapter) -> str:
    """The accounts server, canonical: ``accounts_url`` if set, else that of ``data_center`` (``_dc.resolve_accounts_url``)."""
    return resolve_accounts_url(data_center=options.get_option_default("data_center"), accounts_url=options.get_option_default("accounts_url"))


def build_client(
    options: OptionAdapter,
    *,
    accounts_url: str | None = None,
    retry: RetryPolicy | None = None,
) -> ZohoOAuthClient:
    """Build the Zoho client from the connection options (``client_id``, ``client_secret``, ``data_center``,
    ``accounts_url``, ``validate_certs``, ``ca_path``, ``timeout`` in seconds).

    Every connection option is checked here, before anything is recorded (a token store's
    in-flight entry) or sent: ``timeout`` must be ``MIN_TIMEOUT``..``MAX_TIMEOUT`` seconds,
    ``accounts_url`` (when not given as ``accounts_url`` here) must parse with valid host
    labels, and ``ca_path`` (when certificates are validated) must be a readable CA file or
    directory. ``validate_certs`` false is warned about. Retries are warned about through
    ``options.warn``. Raises
    :class:`ZohoInputError` (the message names the option, the fix and "Nothing was sent") or
    :class:`ZohoDependencyError` without requests.
    """
    if not HAS_REQUESTS:
        raise ZohoDependencyError(missing_required_lib("requests"), exception=_import_error_text())
    timeout = check_timeout(options.get_option("timeout"), minimum=MIN_TIMEOUT)
    url = accounts_url or accounts_url_of(options)
    validate_certs = options.get_option("validate_certs")
    ca_path = options.get_option_default("ca_path")
    if validate_certs and ca_path:
        check_ca_path(ca_path)
    if not validate_certs:
        options.warn(
            "`validate_certs` is false: the Zoho accounts server's TLS certificate is not checked, so the client secret and "
            "tokens can be intercepted. Use `ca_path` for a private CA instead."
        )
    return ZohoOAuthClient(
        url,
        client_id=options.get_option("client_id"),
        client_secret=options.get_option("client_secret"),
        validate_certs=validate_certs,
        ca_path=ca_path,
        timeout=timeout,
        retry=retry or RetryPolicy(),
        on_retry=options.warn,
    )


def _import_error_text() -> str | None:
    """The traceback of the failed ``requests`` import, for ``fail_json``'s ``exception`` (shown with -vvv)."""
    if REQUESTS_IMPORT_ERROR is None:
        return None
    import traceback  # pylint: disable=import-outside-toplevel

    return "".join(traceback.format_exception(type(REQUESTS_IMPORT_ERROR), REQUESTS_IMPORT_ERROR, REQUESTS_IMPORT_ERROR.__traceback__))


def vault_settings(options: OptionAdapter) -> dict[str, t.Any] | None:
    """The vault store's settings (``VAULT_SETTINGS`` names), or None when the vault store is not chosen.

    A module's ``vault`` dictionary as it is; a plugin's flat ``vault_<name>`` options gathered
    when ``vault_path`` is set. Only ``vault_path`` chooses the vault store: the connection
    settings may be set for community.hashi_vault's own plugins (``ANSIBLE_HASHI_VAULT_*``,
    ``ansible_hashi_vault_*``, ansible.cfg ``[hashi_vault_collection]``) and choose nothing.
    """
    if options.has_option("vault"):
        return options.get_option("vault") or None
    if not options.get_option_default("vault_path"):
        return None
    return {name: options.get_option_default(f"vault_{name}") for name in VAULT_SETTINGS}


def build_token_store(options: OptionAdapter, *, required: bool = False) -> TokenCache | None:
    """The token store the options name: the vault (shared, on Vault/OpenBao), else ``token_cache`` (a file), else None.

    Nothing is read, written or contacted here. Raises :class:`ZohoInputError` when both are
    given, or neither and ``required``; ``ZohoTokenStoreError`` for unusable vault settings;
    :class:`ZohoDependencyError` without hvac. The store's notes go to ``options.warn``.
    """
    vault = vault_settings(options)
    path = options.get_option_default("token_cache")
    if vault and path:
        raise ZohoInputError("Give either `vault` (a token store shared by every controller) or `token_cache` (a file), not both.")
    if vault:
        return TokenCache(backend=VaultBackend(vault), warn=options.warn)
    if path:
        return TokenCache(path, warn=options.warn)
    if required:
        raise ZohoInputError("A token store is needed: set `token_cache` (a file on the controller) or `vault`.")
    return None


__all__ = (
    "ENV_HINTS",
    "FLAT_VAULT_LABELS",
    "LATE_ENV",
    "VAULT_SETTINGS",
    "OptionAdapter",
    "accounts_url_of",
    "apply_late_env",
    "build_client",
    "build_token_store",
    "clean_credentials",
    "require_filled",
    "vault_settings",
)
