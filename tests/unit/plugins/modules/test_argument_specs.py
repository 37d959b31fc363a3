# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Properties every module's argument spec must have, captured from the real AnsibleModule call.

Each module's ``main()`` runs with ``AnsibleModule`` replaced, in that module's namespace, by a
recorder that keeps the keyword arguments and stops ``main()`` with a sentinel exception.
"""

from __future__ import annotations

import importlib
import json
import os
import typing as t

import pytest
import yaml

from ansible_collections.zohothrive.oauth.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.zohothrive.oauth.plugins.module_utils._authorization import CREDENTIAL_OPTIONS
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoInputError
from ansible_collections.zohothrive.oauth.plugins.module_utils._labels import OPTION_LABELS_SPEC
from ansible_collections.zohothrive.oauth.plugins.module_utils._module import connection_argument_spec, failure, warn, warner
from ansible_collections.zohothrive.oauth.tests.unit.fakes import json_response, sentinel, token_payload

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MODULES_DIR = os.path.join(COLLECTION_ROOT, "plugins", "modules")
FQCN_PREFIX = "zohothrive.oauth."

SECRET_OPTIONS = {"client_secret", "code", "callback_url", "refresh_token", "access_token", "code_verifier", "expected_state", "values"}
# Modules that run on target hosts and never talk to Zoho: outside the action group, no connection options.
TARGET_SIDE_MODULES = {"zoho_thrive_config", "zoho_thrive_config_info"}
# Helpers of the role that never talk to Zoho and take no secret: outside the action group, no connection options.
HELPER_MODULES = {"zoho_thrive_role_vars"}
# Modules that take no secret at all: the helpers, and the reading module (it returns values, it is given none).
NO_SECRET_INPUT = HELPER_MODULES | {"zoho_thrive_config_info"}
CONNECTION_OPTIONS = ("client_id", "client_secret", "data_center", "accounts_url", "validate_certs", "ca_path", "timeout", "option_labels")


def module_names() -> list[str]:
    return sorted(name[:-3] for name in os.listdir(MODULES_DIR) if name.endswith(".py") and not name.startswith("_"))


def zoho_module_names() -> list[str]:
    return [name for name in module_names() if name not in TARGET_SIDE_MODULES | HELPER_MODULES]


class _Captured(Exception):
    pass


def captured_kwargs(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, t.Any]:
    module = importlib.import_module(f"ansible_collections.zohothrive.oauth.plugins.modules.{name}")
    seen: list[dict[str, t.Any]] = []

    class Recorder:
        def __init__(self, **kwargs: t.Any) -> None:
            seen.append(kwargs)
            raise _Captured

    monkeypatch.setattr(module, "AnsibleModule", Recorder)
    with pytest.raises(_Captured):
        module.main()
    assert len(seen) == 1
    return seen[0]


def walk_options(spec: dict[str, t.Any], prefix: str = "") -> t.Iterator[tuple[str, str, dict[str, t.Any]]]:
    """Yield ``(path, name, option)`` for every option, suboptions included."""
    for name, option in spec.items():
        path = f"{prefix}{name}"
        yield path, name, option
        if isinstance(option.get("options"), dict):
            yield from walk_options(option["options"], prefix=f"{path}.")


def test_the_known_modules_are_found() -> None:
    # The other tests iterate over module_names(): make sure the discovery really finds modules.
    assert {"zoho_thrive_auth_url", "zoho_thrive_ledger", "zoho_thrive_refresh", "zoho_thrive_revoke", "zoho_thrive_token_exchange"} <= set(module_names())


def test_walk_options_finds_suboptions() -> None:
    spec = {"a": {"type": "dict", "options": {"refresh_token": {"type": "str"}, "b": {"type": "dict", "options": {"code": {}}}}}}
    assert [path for path, _unused, _unused in walk_options(spec)] == ["a", "a.refresh_token", "a.b", "a.b.code"]


@pytest.mark.parametrize("name", module_names())
def test_secret_options_are_no_log(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = captured_kwargs(name, monkeypatch)["argument_spec"]
    secrets = [(path, option) for path, leaf, option in walk_options(spec) if leaf in SECRET_OPTIONS]
    assert secrets or name in NO_SECRET_INPUT, "every module but the helpers and the reader has at least one secret-bearing option"
    for path, option in secrets:
        assert option.get("no_log") is True, f"{name}: option {path} must be no_log=True"


@pytest.mark.parametrize("name", zoho_module_names())
def test_every_module_accepts_the_connection_options(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = captured_kwargs(name, monkeypatch)["argument_spec"]
    reference = connection_argument_spec()
    assert tuple(reference) == CONNECTION_OPTIONS
    assert reference["option_labels"] == OPTION_LABELS_SPEC  # module_defaults for the group can set it
    for option in CONNECTION_OPTIONS:
        assert option in spec, f"{name} does not accept {option}"
        assert spec[option] == reference[option], f"{name} redefines the connection option {option}"


@pytest.mark.parametrize("name", module_names())
def test_every_module_supports_check_mode(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert captured_kwargs(name, monkeypatch).get("supports_check_mode") is True


@pytest.mark.parametrize("name", zoho_module_names())
def test_every_module_documents_the_connection_fragment_and_action_group(name: str) -> None:
    module = importlib.import_module(f"ansible_collections.zohothrive.oauth.plugins.modules.{name}")
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == name
    fragments = doc.get("extends_documentation_fragment", [])
    assert "zohothrive.oauth.connection" in fragments
    assert "zohothrive.oauth.connection.action_group" in fragments


def test_connection_doc_fragment_matches_the_argument_spec() -> None:
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    reference = connection_argument_spec()
    assert set(documented) == set(reference)
    for option, spec in reference.items():
        doc = documented[option]
        assert doc["type"] == spec["type"], option
        assert doc.get("default") == spec.get("default"), option
        assert doc.get("choices") == spec.get("choices"), option
        assert bool(doc.get("no_log")) is False  # no_log lives in the spec, not the docs
    assert reference["client_secret"]["no_log"] is True


def _action_group() -> list[str]:
    with open(os.path.join(COLLECTION_ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        runtime = yaml.safe_load(handle)
    group = runtime["action_groups"]["zoho_thrive"]
    return [entry[len(FQCN_PREFIX):] if entry.startswith(FQCN_PREFIX) else entry for entry in group if isinstance(entry, str)]


def test_every_module_is_in_the_action_group_and_vice_versa() -> None:
    group = _action_group()
    assert len(group) == len(set(group)), "duplicate entries in the zoho_thrive action group"
    assert sorted(group) == zoho_module_names()
    assert not (TARGET_SIDE_MODULES | HELPER_MODULES) & set(group)


@pytest.mark.parametrize("name", sorted(TARGET_SIDE_MODULES | HELPER_MODULES))
def test_target_side_modules_take_no_connection_options(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = captured_kwargs(name, monkeypatch)["argument_spec"]
    # option_labels is not about Zoho: a module outside the group may take it too, with the same meaning.
    assert not (set(CONNECTION_OPTIONS) - {"option_labels"}) & set(spec), f"{name} runs on targets and must not take Zoho connection options"
    assert spec.get("option_labels", OPTION_LABELS_SPEC) == OPTION_LABELS_SPEC


# -- every module: one whitespace rule for credentials (issue 7, item 4) and option_labels ------------------

CLIENT_ID = "1000.CLIENTIDXYZ"
SECRET = sentinel("secret")
CODE = sentinel("code")
RT = sentinel("refresh")
AT = sentinel("access")
LABELS = {
    "client_id": "thrive_tokens_client_id",
    "client_secret": "thrive_tokens_client_secret",
    "accounts_url": "thrive_tokens_accounts_url",
    "code": "thrive_tokens_grant_code",
}
ECHO_WARNING = "`client_secret` had a trailing newline, removed; values made with `echo` without `-n` end in one"

# The credential options each module has (checked against its argument spec below).
CREDENTIALS = {
    "zoho_thrive_auth_url": ("client_id", "client_secret"),
    "zoho_thrive_credentials": ("client_id", "client_secret", "code"),
    "zoho_thrive_ledger": ("client_id", "client_secret"),
    "zoho_thrive_refresh": ("client_id", "client_secret", "refresh_token", "access_token"),
    "zoho_thrive_revoke": ("client_id", "client_secret", "refresh_token"),
    "zoho_thrive_token_exchange": ("client_id", "client_secret", "code", "callback_url", "code_verifier", "expected_state"),
}
# Modules that send the client secret to Zoho.
SENDS_SECRET = {"zoho_thrive_credentials", "zoho_thrive_refresh", "zoho_thrive_token_exchange"}


def load(name: str) -> t.Any:
    return importlib.import_module(f"ansible_collections.zohothrive.oauth.plugins.modules.{name}")


def case(name: str, tmp_path: t.Any) -> tuple[dict[str, t.Any], list[t.Any]]:
    """Arguments with which ``name`` runs to success, and Zoho's scripted answers for that run."""
    cache = str(tmp_path / "c" / "tokens.json")
    base: dict[str, t.Any] = {"client_id": CLIENT_ID, "client_secret": SECRET}
    if name == "zoho_thrive_auth_url":
        return dict(base, scopes=["Thrive.Referral.CREATE"], redirect_uri="https://app.example.com/cb"), []
    if name == "zoho_thrive_ledger":
        return dict(base, token_cache=cache, inventory_hosts=[], play_hosts=[]), []
    if name == "zoho_thrive_revoke":
        return dict(base, refresh_token=RT, token_cache=cache), [json_response({"status": "success"})]
    if name == "zoho_thrive_refresh":
        return dict(base, refresh_token=RT, token_cache=cache), [json_response(token_payload(AT, refresh_token=None))]
    return dict(base, code=CODE, token_cache=cache), [json_response(token_payload(AT, refresh_token=RT))]


def with_option(name: str, tmp_path: t.Any, option: str, value: str) -> dict[str, t.Any]:
    args, _answers = case(name, tmp_path)
    args[option] = value
    if option == "callback_url":
        args.pop("code")
    if option == "access_token":
        args["expires_at"] = 1
    return args


@pytest.mark.parametrize("name", zoho_module_names())
def test_the_credential_table_matches_the_argument_specs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = captured_kwargs(name, monkeypatch)["argument_spec"]
    assert set(CREDENTIALS[name]) == set(spec) & set(CREDENTIAL_OPTIONS)


@pytest.mark.parametrize(("name", "option"), [(name, option) for name, options in sorted(CREDENTIALS.items()) for option in options])
@pytest.mark.parametrize("inside", ["1000.abc def", "1000.abc\ndef", "1000.abc\tdef\n"], ids=["space", "newline", "tab"])
def test_whitespace_inside_a_credential_is_refused_before_anything_is_sent(
    run_module: t.Any, zoho: t.Any, tmp_path: t.Any, name: str, option: str, inside: str
) -> None:
    result = run_module(load(name), with_option(name, tmp_path, option, inside))
    assert result.failed
    assert result["msg"].startswith(f"`{option}` contains whitespace (a space, tab or line break) inside the value")
    assert "nothing was sent to Zoho" in result["msg"]
    assert zoho.calls == [] and zoho.session.prepared == 0
    assert not (tmp_path / "c").exists()  # no cache directory, file or lock: nothing was recorded either
    for part in inside.split():
        assert part not in result["msg"]
    assert SECRET not in result.stdout


@pytest.mark.parametrize("name", zoho_module_names())
def test_a_trailing_newline_on_the_client_secret_is_removed_with_a_warning(run_module: t.Any, zoho: t.Any, tmp_path: t.Any, name: str) -> None:
    # issue 7 item 4: `echo secret | ansible-vault encrypt_string` stores "secret\n"; Zoho answered invalid_client_secret.
    args, answers = case(name, tmp_path)
    zoho.add(*answers)
    result = run_module(load(name), dict(args, client_secret=SECRET + "\n", client_id=CLIENT_ID + "\r\n"))
    assert not result.failed, result.get("msg")
    assert any(w.startswith(ECHO_WARNING) for w in result.warning_messages)
    assert any(w.startswith("`client_id` had a trailing Windows line break (CR LF), removed") for w in result.warning_messages)
    if name in SENDS_SECRET:
        assert zoho.calls[0].data["client_secret"] == SECRET and zoho.calls[0].data["client_id"] == CLIENT_ID
    assert SECRET not in result.stdout  # not in the warnings, and the cleaned value is masked wherever the arguments are echoed
    assert SECRET[:12] not in json.dumps(result.warning_messages)


@pytest.mark.parametrize("name", zoho_module_names())
def test_the_environment_fallbacks_follow_the_same_rule(
    run_module: t.Any, zoho: t.Any, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    args, answers = case(name, tmp_path)
    del args["client_secret"], args["client_id"]
    monkeypatch.setenv("ZOHO_THRIVE_CLIENT_SECRET", SECRET + "\n")
    monkeypatch.setenv("ZOHO_THRIVE_CLIENT_ID", CLIENT_ID + "\n")
    zoho.add(*answers)
    result = run_module(load(name), args)
    assert not result.failed, result.get("msg")
    from_env = "`client_secret` (from the environment variable ZOHO_THRIVE_CLIENT_SECRET) had a trailing newline"
    assert any(w.startswith(from_env) for w in result.warning_messages)
    if name in SENDS_SECRET:
        assert zoho.calls[0].data["client_secret"] == SECRET and zoho.calls[0].data["client_id"] == CLIENT_ID
    assert SECRET not in result.stdout
    monkeypatch.setenv("ZOHO_THRIVE_CLIENT_SECRET", "1000.two\nvalues")
    refused = run_module(load(name), args)
    assert refused.failed and refused["msg"].startswith("`client_secret` (from the environment variable ZOHO_THRIVE_CLIENT_SECRET) contains whitespace")


# -- invisible characters: Zoho's credentials are printable ASCII ---------------------------------------

HEX_SECRET = "9c1f0e2a7b3d4c5e6f708192a3b4c5d6e7f8091a2b"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        pytest.param("client_secret", HEX_SECRET + "\u200b", id="secret-trailing-zero-width-space"),
        pytest.param("client_secret", "\ufeff" + HEX_SECRET, id="secret-leading-bom-from-a-file"),
        pytest.param("client_secret", HEX_SECRET[:20] + "\u00ad" + HEX_SECRET[20:], id="secret-soft-hyphen-inside"),
        pytest.param("client_id", "\u2060" + CLIENT_ID, id="client-id-word-joiner"),
        pytest.param("client_secret", HEX_SECRET + "\x00", id="secret-trailing-nul"),
    ],
)
def test_invisible_characters_in_client_credentials_are_never_sent(run_module: t.Any, zoho: t.Any, option: str, value: str) -> None:
    # str.isspace() lets U+200B, U+FEFF, U+2060, U+00AD and NUL through; Zoho then answers invalid_client(_secret).
    zoho.add(json_response(token_payload(AT, refresh_token=RT)))
    arguments = {"client_id": CLIENT_ID, "client_secret": HEX_SECRET, "code": CODE, option: value}
    result = run_module(load("zoho_thrive_token_exchange"), arguments)
    sent = [call.data.get(option) for call in zoho.calls]
    assert value not in sent, f"{option} with an invisible character was sent to Zoho: {sent!r}"
    # Either refused before sending, naming the option, or cleaned with a warning that names it.
    assert result.failed or any(f"`{option}`" in warning for warning in result.warning_messages)


STATE = "S-9f3c1e7a2b5d8c0e"
VERIFIER = "v" * 43 + "-_.~"
CALLBACK = f"https://app.example.com/cb?code={CODE}&location=us&state={STATE}"
# A valid value of each credential option, and where the cleaned value must arrive at Zoho (None: it is not sent).
VALID = {
    "client_id": (CLIENT_ID, "client_id"),
    "client_secret": (SECRET, "client_secret"),
    "code": (CODE, "code"),
    "refresh_token": (RT, "refresh_token"),
    "access_token": (AT, None),
    "callback_url": (CALLBACK, None),
    "code_verifier": (VERIFIER, "code_verifier"),
    "expected_state": (STATE, None),
}
PAIRS = [(name, option) for name, options in sorted(CREDENTIALS.items()) for option in options]


def with_valid(name: str, tmp_path: t.Any, option: str, value: str) -> dict[str, t.Any]:
    args = with_option(name, tmp_path, option, value)
    if option == "expected_state":
        args.pop("code")
        args["callback_url"] = CALLBACK
    if option == "callback_url":
        args["expected_state"] = STATE
    return args


@pytest.mark.parametrize(("name", "option"), PAIRS)
@pytest.mark.parametrize(
    "inside",
    ["1000.abc\u200bdef", "1000.abc\u00addef", "1000.abc\ufeffdef", "1000.abc\x00def", "1000.abc\u2060def", "1000.abc\u00e9def"],
    ids=["zero-width-space", "soft-hyphen", "byte-order-mark", "nul", "word-joiner", "accented-letter"],
)
def test_a_character_outside_printable_ascii_inside_a_credential_is_refused_before_anything_is_sent(
    run_module: t.Any, zoho: t.Any, tmp_path: t.Any, name: str, option: str, inside: str
) -> None:
    result = run_module(load(name), with_option(name, tmp_path, option, inside))
    assert result.failed
    assert zoho.calls == [] and zoho.session.prepared == 0
    if "\x00" in inside and option == "client_id" and "embedded null character" in result["msg"]:
        # Where AnsibleModule logs to syslog, it refuses a NUL in an option it logs (not no_log) before the module's code runs.
        return
    assert result["msg"].startswith(f"`{option}` contains control or non-ASCII characters inside the value (the first: ")
    assert "at character 9)" in result["msg"] and "nothing was sent to Zoho" in result["msg"]
    assert not (tmp_path / "c").exists()
    assert "1000.abc" not in result["msg"] and "def" not in result["msg"].split("printable ASCII")[0]
    assert SECRET not in result.stdout


@pytest.mark.parametrize(("name", "option"), PAIRS)
def test_invisible_padding_around_any_credential_is_removed_with_a_warning_and_never_sent(
    run_module: t.Any, zoho: t.Any, tmp_path: t.Any, name: str, option: str
) -> None:
    clean, field = VALID[option]
    _args, answers = case(name, tmp_path)
    zoho.add(*answers)
    result = run_module(load(name), with_valid(name, tmp_path, option, "\ufeff" + clean + "\u200b"))
    assert not result.failed, result.get("msg")
    expected = f"`{option}` had a leading byte-order mark (U+FEFF) and a trailing zero-width space (U+200B), removed; "
    assert any(w.startswith(expected) and "Notepad" in w for w in result.warning_messages), result.warning_messages
    sent = [value for call in zoho.calls for value in call.data.values()]
    assert not any("\ufeff" in str(value) or "\u200b" in str(value) for value in sent)
    if name == "zoho_thrive_revoke":
        field = "token" if option == "refresh_token" else None  # a revocation sends only the token
    if field is not None and name in SENDS_SECRET | {"zoho_thrive_revoke"}:
        assert zoho.calls[0].data[field] == clean
    if option == "callback_url":
        assert zoho.calls[0].data["code"] == CODE
    if option != "client_id":
        assert clean not in json.dumps(result.warning_messages)


@pytest.mark.parametrize("name", zoho_module_names())
def test_invisible_characters_in_the_environment_fallbacks_follow_the_same_rule(
    run_module: t.Any, zoho: t.Any, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    args, answers = case(name, tmp_path)
    del args["client_secret"], args["client_id"]
    monkeypatch.setenv("ZOHO_THRIVE_CLIENT_SECRET", "\ufeff" + SECRET)  # export ZOHO_THRIVE_CLIENT_SECRET="$(cat secret.txt)"
    monkeypatch.setenv("ZOHO_THRIVE_CLIENT_ID", "\u2060" + CLIENT_ID)
    zoho.add(*answers)
    result = run_module(load(name), args)
    assert not result.failed, result.get("msg")
    assert any(
        w.startswith("`client_secret` (from the environment variable ZOHO_THRIVE_CLIENT_SECRET) had a leading byte-order mark (U+FEFF)")
        for w in result.warning_messages
    )
    from_env = "`client_id` (from the environment variable ZOHO_THRIVE_CLIENT_ID) had a leading word joiner (U+2060)"
    assert any(w.startswith(from_env) for w in result.warning_messages)
    if name in SENDS_SECRET:
        assert zoho.calls[0].data["client_secret"] == SECRET and zoho.calls[0].data["client_id"] == CLIENT_ID
    assert SECRET not in result.stdout
    monkeypatch.setenv("ZOHO_THRIVE_CLIENT_SECRET", SECRET[:10] + "\u200b" + SECRET[10:])
    refused = run_module(load(name), args)
    assert refused.failed and refused["msg"].startswith(
        "`client_secret` (from the environment variable ZOHO_THRIVE_CLIENT_SECRET) contains control or non-ASCII characters inside the value "
        "(the first: a zero-width space, U+200B, at character 11)"
    )
    assert SECRET[:10] not in refused.stdout


@pytest.mark.parametrize("name", zoho_module_names())
def test_option_labels_name_the_options_in_failures_and_warnings(run_module: t.Any, zoho: t.Any, tmp_path: t.Any, name: str) -> None:
    failed = run_module(load(name), dict(with_option(name, tmp_path, "client_secret", "1000.a b"), option_labels=LABELS))
    assert failed.failed and failed["msg"].startswith("`thrive_tokens_client_secret` contains whitespace")
    args, answers = case(name, tmp_path)
    zoho.add(*answers)
    warned = run_module(load(name), dict(args, client_secret=SECRET + "\n", option_labels=LABELS))
    assert any(w.startswith("`thrive_tokens_client_secret` had a trailing newline") for w in warned.warning_messages)
    assert not any("`client_secret`" in w for w in warned.warning_messages)


@pytest.mark.parametrize("name", zoho_module_names())
def test_a_message_naming_accounts_url_uses_its_label(run_module: t.Any, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    module = load(name)

    def fails(*_args: t.Any, **_kwargs: t.Any) -> t.NoReturn:
        raise ZohoInputError("Check `data_center` and `accounts_url`: the accounts_url option and the code are fine.")

    for function in ("client_from_params", "accounts_url_from_params"):
        if hasattr(module, function):
            monkeypatch.setattr(module, function, fails)
    args, _answers = case(name, tmp_path)
    plain = run_module(module, args)
    labelled = run_module(module, dict(args, option_labels=LABELS))
    assert plain["msg"] == "Check `data_center` and `accounts_url`: the accounts_url option and the code are fine."
    # Only marked names change; unmarked prose (accounts_url, code) and unmapped options stay as they are.
    assert labelled["msg"] == "Check `data_center` and `thrive_tokens_accounts_url`: the accounts_url option and the code are fine."


@pytest.mark.parametrize("labels", [{"client_secret": "bad label!"}, {"1bad": "x"}, {"client_secret": ""}, ["client_secret"]], ids=str)
@pytest.mark.parametrize("name", zoho_module_names())
def test_invalid_option_labels_fail_before_anything_is_sent(run_module: t.Any, zoho: t.Any, tmp_path: t.Any, name: str, labels: t.Any) -> None:
    args, _answers = case(name, tmp_path)
    result = run_module(load(name), dict(args, option_labels=labels))
    assert result.failed and "option_labels" in result["msg"]  # a list is refused by AnsibleModule's type check
    assert zoho.calls == [] and not (tmp_path / "c").exists()


class _FakeModule:
    def __init__(self, labels: t.Any) -> None:
        self.params = {"option_labels": labels}
        self.warnings: list[str] = []

    def warn(self, text: str) -> None:
        self.warnings.append(text)


def test_failure_and_warn_relabel_only_marked_option_names() -> None:
    fake = _FakeModule({"accounts_url": "thrive_tokens_accounts_url", "code": "thrive_tokens_grant_code"})
    error = ZohoInputError("Invalid `accounts_url`: the grant code and the accounts_url value were not sent; pass `code`.", error_code="x")
    kwargs = failure(fake, error)
    assert kwargs == {
        "msg": "Invalid `thrive_tokens_accounts_url`: the grant code and the accounts_url value were not sent; pass `thrive_tokens_grant_code`.",
        "error_code": "x",
    }
    assert failure(fake, error, msg="Set `accounts_url`.", extra=1) == {"msg": "Set `thrive_tokens_accounts_url`.", "error_code": "x", "extra": 1}
    warn(fake, "`accounts_url` and `timeout` and accounts_url")
    warner(fake)("code `code`")
    assert fake.warnings == ["`thrive_tokens_accounts_url` and `timeout` and accounts_url", "code `thrive_tokens_grant_code`"]
    assert failure(_FakeModule({}), error)["msg"] == error.msg
    assert failure(_FakeModule({"x": "bad label!"}), error)["msg"] == error.msg  # invalid labels: the plain names
