# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Glue between AnsibleModule and the Zoho OAuth core (the module-side option adapter).

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

The argument spec below is paired 1:1 with the ``zohothrive.oauth.connection`` doc fragment.
Every module of the ``zohothrive.oauth.zoho_thrive`` action group accepts all of it, so one
``module_defaults`` block serves the whole group. Nothing here calls ``fail_json``: errors are
raised as ``ZohoOAuthError`` and each module's ``main()`` reports them.
"""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible.module_utils.common.parameters import remove_values

from ansible_collections.zohothrive.oauth.plugins.module_utils._client import (
    DEFAULT_TIMEOUT,
    HAS_REQUESTS,
    MIN_TIMEOUT,
    REQUESTS_IMPORT_ERROR,
    RetryPolicy,
    ZohoOAuthClient,
    check_ca_path,
    check_timeout,
)
from ansible_collections.zohothrive.oauth.plugins.module_utils._dc import DATA_CENTER_CODES, DEFAULT_DATA_CENTER, resolve_accounts_url
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoDependencyError, ZohoInputError
from ansible_collections.zohothrive.oauth.plugins.module_utils._flows import Credentials, Outcome, result_warnings

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
    }


def argument_spec(**module_options: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """The connection options plus a module's own options."""
    spec = connection_argument_spec()
    spec.update(module_options)
    return spec


def require_options(module: AnsibleModule, *names: str) -> None:
    """Check options that may come from module_defaults or the environment, with a clear message."""
    env = {"client_id": "ZOHO_THRIVE_CLIENT_ID", "client_secret": "ZOHO_THRIVE_CLIENT_SECRET"}
    missing = [name for name in names if module.params.get(name) in (None, "")]
    if missing:
        hints = [f"{name} (or the environment variable {env[name]})" if name in env else name for name in missing]
        raise ZohoInputError(f"Missing required option(s): {', '.join(hints)}. Nothing was sent to Zoho.")


def accounts_url_from_params(module: AnsibleModule) -> str:
    return resolve_accounts_url(data_center=module.params["data_center"], accounts_url=module.params["accounts_url"])


def client_from_params(module: AnsibleModule, *, accounts_url: str | None = None, retry: RetryPolicy | None = None) -> ZohoOAuthClient:
    """Build the HTTP client from the connection options.

    Every connection option is checked here, before a module records anything (the token
    cache's in-flight entry) or sends anything: ``accounts_url`` must parse with valid host
    labels, ``timeout`` must be ``MIN_TIMEOUT``..``MAX_TIMEOUT`` seconds, and ``ca_path`` (when
    certificates are validated) must be a readable CA file or directory. Raises
    :class:`ZohoInputError` (message names the option, the fix and "Nothing was sent") or
    :class:`ZohoDependencyError`.
    """
    if not HAS_REQUESTS:
        raise ZohoDependencyError(missing_required_lib("requests"), exception=_format_import_error())
    timeout = check_timeout(module.params["timeout"], minimum=MIN_TIMEOUT)
    url = accounts_url or accounts_url_from_params(module)
    if module.params["validate_certs"] and module.params["ca_path"]:
        check_ca_path(module.params["ca_path"])
    if not module.params["validate_certs"]:
        module.warn(
            "validate_certs is false: the Zoho accounts server's TLS certificate is not checked, so the client secret and "
            "tokens can be intercepted. Use ca_path for a private CA instead."
        )
    return ZohoOAuthClient(
        url,
        client_id=module.params["client_id"],
        client_secret=module.params["client_secret"],
        validate_certs=module.params["validate_certs"],
        ca_path=module.params["ca_path"],
        timeout=timeout,
        retry=retry or RetryPolicy(),
        on_retry=module.warn,
    )


def report_outcome(module: AnsibleModule, result: dict[str, t.Any], outcome: Outcome | Credentials) -> None:
    """Warn about what the flow reported and add ``store_error`` to ``result`` when the cache failed after Zoho answered."""
    for warning in result_warnings(outcome):
        module.warn(warning)
    if outcome.store_error is not None:
        result["store_error"] = outcome.store_error


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


def _format_import_error() -> str | None:
    if REQUESTS_IMPORT_ERROR is None:
        return None
    import traceback

    return "".join(traceback.format_exception(type(REQUESTS_IMPORT_ERROR), REQUESTS_IMPORT_ERROR, REQUESTS_IMPORT_ERROR.__traceback__))


__all__ = (
    "accounts_url_from_params",
    "argument_spec",
    "client_from_params",
    "connection_argument_spec",
    "exit_revealing",
    "report_outcome",
    "require_options",
)
