# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Glue between AnsibleModule and the Zoho OAuth core (the module-side option adapter).

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: the controller.

The argument spec below is paired 1:1 with the ``zohothrive.oauth.connection`` doc fragment.
Every module of the ``zohothrive.oauth.zoho_thrive`` action group accepts all of it, so one
``module_defaults`` block serves the whole group. Nothing here calls ``fail_json``: errors are
raised as ``ZohoOAuthError`` and each module's ``main()`` reports them through :func:`failure`.

Every module's ``main()`` follows the same steps: build ``AnsibleModule``; inside its one
``try``, call :func:`prepare` first (it checks ``option_labels`` and applies the credential
rule (printable ASCII, padding removed) to the parsed options, before anything is recorded or sent); send each warning
through :func:`warn` (or a callable from :func:`warner`) and each failure through
:func:`failure`, so that options are named as the operator knows them (``option_labels``).
"""

from __future__ import annotations

import os
import typing as t

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.parameters import remove_values

from ansible_collections.zohothrive.oauth.plugins.module_utils._client import (
    DEFAULT_TIMEOUT,
    RetryPolicy,
    ZohoOAuthClient,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import CREDENTIAL_OPTIONS, credential_flaw, tidy_credential
from ansible_collections.zohothrive.oauth.plugins.module_utils._dc import (
    DATA_CENTER_CODES,
    DATA_CENTERS,
    DEFAULT_DATA_CENTER,
    data_center_of_origin,
    resolve_accounts_url,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInputError, ZohoOAuthError
from ansible_collections.zohothrive.oauth.plugins.module_utils._flows import Credentials, Outcome, result_warnings
from ansible_collections.zohothrive.oauth.plugins.module_utils._labels import OPTION_LABELS_SPEC, check_labels, relabel
from ansible_collections.zohothrive.oauth.plugins.module_utils._options import (
    ENV_HINTS,
    OptionAdapter,
    build_client,
    build_token_store,
    clean_credentials,
    require_filled,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._token_store import OPTIONAL_FIELDS, TokenCache, is_absent
from ansible_collections.zohothrive.oauth.plugins.module_utils._tokens import TokenSet
from ansible_collections.zohothrive.oauth.plugins.module_utils._vault_store import AUTH_METHODS

if t.TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule


def connection_argument_spec() -> dict[str, dict[str, t.Any]]:
    """Options shared by every module in the action group (see the ``connection`` doc fragment)."""
    return {
        "client_id": {"type": "str", "fallback": (env_fallback, ["ZOHO_THRIVE_CLIENT_ID"])},
        "client_secret": {"type": "str", "no_log": True, "fallback": (env_fallback, ["ZOHO_THRIVE_CLIENT_SECRET"])},
        "data_center": {
            "type": "str",
            "default": DEFAULT_DATA_CENTER,
            "choices": list(DATA_CENTER_CODES),
            "fallback": (env_fallback, ["ZOHO_THRIVE_DATA_CENTER"]),
        },
        "accounts_url": {"type": "str", "fallback": (env_fallback, ["ZOHO_THRIVE_ACCOUNTS_URL"])},
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
        "option_labels": dict(OPTION_LABELS_SPEC),
    }


# The environment variables behind the connection options that may hold a credential.
ENV_FALLBACKS = ENV_HINTS  # the environment fallbacks of the connection options (one table, in _options)


def vault_argument_spec() -> dict[str, dict[str, t.Any]]:
    """The ``vault`` option (the token store on HashiCorp Vault or OpenBao), see the ``vault_store`` doc fragment.

    Sub-option names and environment fallbacks follow community.hashi_vault.
    """
    return {
        "vault": {
            "type": "dict",
            "options": {
                "url": {"type": "str", "fallback": (env_fallback, ["ANSIBLE_HASHI_VAULT_ADDR", "VAULT_ADDR"])},
                "namespace": {"type": "str", "fallback": (env_fallback, ["ANSIBLE_HASHI_VAULT_NAMESPACE", "VAULT_NAMESPACE"])},
                "auth_method": {"type": "str", "choices": list(AUTH_METHODS), "fallback": (env_fallback, ["ANSIBLE_HASHI_VAULT_AUTH_METHOD"])},
                "token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["ANSIBLE_HASHI_VAULT_TOKEN", "VAULT_TOKEN"])},
                "role_id": {"type": "str", "fallback": (env_fallback, ["ANSIBLE_HASHI_VAULT_ROLE_ID"])},
                "secret_id": {"type": "str", "no_log": True, "fallback": (env_fallback, ["ANSIBLE_HASHI_VAULT_SECRET_ID"])},
                "engine_mount_point": {"type": "str", "default": "secret"},
                "path": {"type": "str", "required": True},
                "ca_cert": {"type": "path", "fallback": (env_fallback, ["ANSIBLE_HASHI_VAULT_CA_CERT", "VAULT_CACERT"])},
                "validate_certs": {"type": "bool", "default": True},
                "timeout": {"type": "int", "default": 30, "fallback": (env_fallback, ["ANSIBLE_HASHI_VAULT_TIMEOUT"])},
            },
        }
    }


def token_store(module: AnsibleModule, *, required: bool = False) -> TokenCache | None:
    """The token store the options name: ``vault`` (shared, on Vault/OpenBao), else ``token_cache`` (a file), else None.

    Read through the option adapter (``_options.build_token_store``), the one path that the
    lookup plugin uses too. Raises :class:`ZohoInputError` when both are given, or neither and
    ``required``; ``ZohoTokenStoreError`` for unusable vault settings; :class:`ZohoDependencyError` without hvac.
    """
    return build_token_store(_options_of(module), required=required)


def _options_of(module: AnsibleModule) -> OptionAdapter:
    """The module's options behind the adapter; warnings go through :func:`warn` (``option_labels``).

    An option whose value is that of its environment fallback (``ENV_FALLBACKS``) is reported as
    coming from that variable, so that a warning about it names where to fix it.
    """

    def origin(name: str) -> str | None:
        variable = ENV_FALLBACKS.get(name)
        return f"env: {variable}" if variable and os.environ.get(variable) == module.params.get(name) else None

    return OptionAdapter.from_module(module, warn=warner(module), origin=origin)


def argument_spec(**module_options: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """The connection options plus a module's own options."""
    spec = connection_argument_spec()
    spec.update(module_options)
    return spec


# -- option names in the operator's words (option_labels) ----------------------------------------


def labels_of(module: AnsibleModule) -> dict[str, str]:
    """The module's ``option_labels`` if they are valid, else ``{}`` (:func:`prepare` reports invalid ones)."""
    try:
        return check_labels(module.params.get("option_labels"))
    except ValueError:
        return {}


def warn(module: AnsibleModule, text: str) -> None:
    """``module.warn`` with the options named as the operator knows them (``option_labels``)."""
    module.warn(relabel(text, labels_of(module)))


def warner(module: AnsibleModule) -> t.Callable[[str], None]:
    """A one-argument warning callable for the core (token cache, retries) that relabels like :func:`warn`."""
    return lambda text: warn(module, text)


def failure(module: AnsibleModule, exc: ZohoOAuthError, **extra: t.Any) -> dict[str, t.Any]:
    """Keyword arguments for ``module.fail_json`` (called by ``main()`` only): ``exc``'s, ``msg`` relabeled, plus ``extra``.

    A ``msg`` in ``extra`` replaces the exception's message (and is relabeled too).
    """
    kwargs = dict(exc.fail_kwargs(), **extra)
    kwargs["msg"] = relabel(str(kwargs.get("msg", exc.msg)), labels_of(module))
    return kwargs


# -- the first step of every main(): option_labels and the credential rule ------------------------


def prepare(module: AnsibleModule) -> None:
    """Check ``option_labels``, then apply the credential rule (printable ASCII, padding removed) to the parsed options.

    Call it first inside ``main()``'s ``try``: nothing has been recorded or sent yet. Raises
    :class:`ZohoInputError` for invalid ``option_labels`` or a credential with whitespace
    inside it (see :func:`clean_credential_params`).
    """
    try:
        check_labels(module.params.get("option_labels"))
    except ValueError as exc:
        raise ZohoInputError(f"{exc} Nothing was sent to Zoho.") from None
    clean_credential_params(module)


def clean_credential_params(module: AnsibleModule) -> None:
    """Apply the one credential rule to every credential option and to the tokens read from hosts, in place.

    The options are ``_authorization.CREDENTIAL_OPTIONS`` that the module has (``client_id``,
    ``client_secret``, ``code``, ``refresh_token``, ``access_token``, ``callback_url``, ...),
    whether they came from the task, ``module_defaults`` or an environment variable, cleaned by
    ``_options.clean_credentials`` (the path the lookup plugin uses too): Zoho's credentials
    are printable ASCII, so surrounding whitespace and invisible characters (a newline from
    ``echo`` without ``-n``, a byte-order mark, zero-width spaces, NUL) are removed with a
    warning naming the option and the likely cause, and any other character outside printable
    ASCII raises :class:`ZohoInputError` naming the option, never the value. The cleaned value
    of a ``no_log`` option is masked in output like the original. The ``refresh_token`` of each
    ``candidates`` item gets the same rule, except that a damaged one is skipped with a warning:
    one host's damaged file must not stop the others.
    """
    clean_credentials(_options_of(module), [name for name in CREDENTIAL_OPTIONS if name in module.params])
    if isinstance(module.params.get("candidates"), list):
        module.params["candidates"] = _clean_candidates(module, module.params["candidates"])


def _clean_candidates(module: AnsibleModule, candidates: list[t.Any]) -> list[t.Any]:
    kept = []
    for index, candidate in enumerate(candidates):
        value = candidate.get("refresh_token") if isinstance(candidate, dict) else None
        if not isinstance(value, str):
            kept.append(candidate)
            continue
        what = _candidate_token(candidate, index)
        flaw = credential_flaw(value)
        if flaw is not None:
            warn(module, f"{what[:1].upper()}{what[1:]} contains {flaw}; it is not used (nothing is sent with it).")
            continue
        text, warning = tidy_credential(value, what)
        if warning:
            warn(module, warning)
        if text and text != value:
            module.no_log_values.add(text)
        kept.append(dict(candidate, refresh_token=text))
    return kept


def _candidate_token(candidate: t.Mapping[str, t.Any], index: int) -> str:
    """The refresh token of a ``candidates`` item, named for messages by the host and file it was read from, when given.

    For example ``the refresh token read from app3:/etc/app/zoho.env (`candidates` item 0)``.
    """
    host, path = (_shown(candidate.get(key)) for key in ("host", "file"))
    if host and path:
        return f"the refresh token read from {host}:{path} (`candidates` item {index})"
    if host or path:
        return f"the refresh token read from {'host ' + host if host else path} (`candidates` item {index})"
    return f"the refresh token of `candidates` item {index} (read from a host)"


def _shown(value: t.Any) -> str:
    """A host name or path for a message: printable ASCII, backticks (option name markers) replaced, at most 120 characters."""
    if not isinstance(value, str):
        return ""
    text = "".join(ch if " " <= ch <= "~" and ch != "`" else "?" for ch in value.strip())
    return text if len(text) <= 120 else text[:117] + "..."


def require_options(module: AnsibleModule, *names: str) -> None:
    """Check options that may come from module_defaults or the environment, with a clear message (``_options.require_filled``)."""
    require_filled(_options_of(module), *names)


def accounts_url_from_params(module: AnsibleModule) -> str:
    return resolve_accounts_url(data_center=module.params["data_center"], accounts_url=module.params["accounts_url"])


def default_api_domain(module: AnsibleModule, accounts_url: str) -> str:
    """The API domain to use when neither Zoho's answer nor a stored value names one (never empty).

    The data center table's API domain: of the accounts server's own data center when it is in
    the table, else (an explicit ``accounts_url`` outside the table, such as a proxy or a test
    server) of the ``data_center`` option.
    """
    own = data_center_of_origin(accounts_url)
    if own is not None:
        return own.api_domain
    return DATA_CENTERS.get(module.params.get("data_center") or DEFAULT_DATA_CENTER, DATA_CENTERS[DEFAULT_DATA_CENTER]).api_domain


def client_from_params(module: AnsibleModule, *, accounts_url: str | None = None, retry: RetryPolicy | None = None) -> ZohoOAuthClient:
    """Build the HTTP client from the connection options, through the option adapter (``_options.build_client``).

    Every connection option is checked there, before a module records anything (the token
    cache's in-flight entry) or sends anything: ``accounts_url`` must parse with valid host
    labels, ``timeout`` must be ``MIN_TIMEOUT``..``MAX_TIMEOUT`` seconds, and ``ca_path`` (when
    certificates are validated) must be a readable CA file or directory. Raises
    :class:`ZohoInputError` (message names the option, the fix and "Nothing was sent") or
    :class:`ZohoDependencyError`.
    """
    return build_client(_options_of(module), accounts_url=accounts_url, retry=retry)


def report_outcome(module: AnsibleModule, result: dict[str, t.Any], outcome: Outcome | Credentials) -> None:
    """Warn about what the flow reported and add ``store_error`` to ``result`` when the cache failed after Zoho answered."""
    for warning in result_warnings(outcome):
        warn(module, warning)
    if outcome.store_error is not None:
        result["store_error"] = outcome.store_error


def token_fields(tokens: TokenSet) -> dict[str, t.Any]:
    """The result keys of ``tokens``; optional fields that are absent (None, ``""``, an empty list) are left out.

    The optional fields are ``_token_store.OPTIONAL_FIELDS`` (API domain, token type, scope). The
    flows never leave the API domain absent, so ``api_domain`` is there and never ``""``.
    """
    return {key: value for key, value in tokens.as_dict().items() if key not in OPTIONAL_FIELDS or not is_absent(value)}


def exit_revealing(module: AnsibleModule, result: dict[str, t.Any], *, reveal: t.Iterable[str | None] = ()) -> t.NoReturn:
    """``exit_json`` that returns the given values in clear even though they were no_log inputs.

    AnsibleModule masks any result value equal to a no_log input. A module that hands back a
    still-valid access token it was given would return ``VALUE_SPECIFIED_IN_NO_LOG_PARAMETER``
    instead of a usable token. The echoed module arguments stay masked.
    """
    invocation = {"module_args": remove_values(module.params, module.no_log_values)}
    for value in reveal:
        if value:
            module.no_log_values.discard(value)
    module.exit_json(invocation=invocation, **result)


__all__ = (
    "ENV_FALLBACKS",
    "accounts_url_from_params",
    "argument_spec",
    "clean_credential_params",
    "client_from_params",
    "connection_argument_spec",
    "default_api_domain",
    "exit_revealing",
    "failure",
    "labels_of",
    "prepare",
    "report_outcome",
    "require_options",
    "token_fields",
    "warn",
    "warner",
)
