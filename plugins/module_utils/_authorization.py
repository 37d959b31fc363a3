# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Authorization URL builder, callback URL parser, and checks of secret-bearing inputs.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: the controller.

Nothing here talks to the network. Messages never repeat a code, token or callback URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import typing as t
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from ansible_collections.zohothrive.oauth.plugins.module_utils._dc import DATA_CENTERS, data_center_for_accounts_server
from ansible_collections.zohothrive.oauth.plugins.module_utils._errors import ZohoAuthorizationDeniedError, ZohoInputError
from ansible_collections.zohothrive.oauth.plugins.module_utils._fingerprint import fingerprint

AUTH_PATH = "/oauth/v2/auth"
ACCESS_TYPES = ("offline", "online")
MAX_SECRET_LENGTH = 2048
_SCOPE_RE = re.compile(r"[A-Za-z0-9_.\-]+")


# Options whose values Zoho issues or compares byte for byte (client credentials, codes, tokens, the callback URL):
# all of them are printable ASCII, so the same rule applies to each, in every module (issue 7, item 4).
CREDENTIAL_OPTIONS = ("client_id", "client_secret", "code", "refresh_token", "access_token", "callback_url", "code_verifier", "expected_state")

# Names of the characters that most often end up in a pasted or file-read value without being seen.
_CHARACTER_NAMES = {
    " ": "space",
    "\t": "tab",
    "\n": "line break",
    "\r": "carriage return",
    "\x00": "NUL character",
    "\x7f": "DEL character",
    "\u00a0": "no-break space",
    "\u00ad": "soft hyphen",
    "\u200b": "zero-width space",
    "\u200c": "zero-width non-joiner",
    "\u200d": "zero-width joiner",
    "\u200e": "left-to-right mark",
    "\u200f": "right-to-left mark",
    "\u2028": "line separator",
    "\u2029": "paragraph separator",
    "\u202e": "right-to-left override",
    "\u2060": "word joiner",
    "\ufeff": "byte-order mark",
}
# What a visible non-ASCII character is, by the first letter of its Unicode category (its code point is not shown).
_VISIBLE_KINDS = {"L": "letter", "M": "combining mark", "N": "digit", "P": "punctuation mark", "S": "symbol"}


def is_invisible(ch: str) -> bool:
    """Whether ``ch`` is whitespace or an invisible control or format character (Unicode categories Cc and Cf)."""
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")


def _character(ch: str) -> tuple[str, str]:
    """``(noun, code point)`` describing ``ch`` for a message; the code point is ``""`` for a visible character.

    A visible non-ASCII character is described by its kind only, so that no part of the value is repeated.
    """
    category = unicodedata.category(ch)
    code = f"U+{ord(ch):04X}"
    if ch in _CHARACTER_NAMES:
        return _CHARACTER_NAMES[ch], code
    if ch.isspace():
        return "space character", code
    if category == "Cc":
        return "control character", code
    if category == "Cf":
        return "invisible format character", code
    return f"non-ASCII {_VISIBLE_KINDS.get(category[:1], 'character')}", ""


def credential_flaw(value: str) -> str | None:
    """What makes ``value`` unusable as a credential after its padding is removed, else None; never repeats the value.

    For example ``whitespace (a space, tab or line break) inside the value (the first: a line break, U+000A, at character 21)``.
    """
    found = _flaw(value)
    return found[0] if found else None


def _flaw(value: str) -> tuple[str, str] | None:
    """``(what is wrong, advice)`` for the first character inside ``value`` that is not printable ASCII, else None."""
    start, end = _core(value)
    for position, ch in enumerate(value[start:end], start=start + 1):
        if "\x21" <= ch <= "\x7e":
            continue
        noun, code = _character(ch)
        article = "an" if noun[:1] in "aeiou" else "a"
        where = f"{article} {noun}, {code}, at character {position}" if code else f"{article} {noun} at character {position}"
        if ch.isspace():
            return (
                f"whitespace (a space, tab or line break) inside the value (the first: {where})",
                "Zoho's client IDs, secrets, codes, tokens and callback URLs never contain whitespace: check the variable or vault "
                "file for two values run together, a wrapped line or a paste error.",
            )
        if not code:
            return (
                f"control or non-ASCII characters inside the value (the first: {where})",
                "Zoho's client IDs, secrets, codes, tokens and callback URLs are printable ASCII: check for a paste or templating error.",
            )
        return (
            f"control or non-ASCII characters inside the value (the first: {where})",
            "Zoho's client IDs, secrets, codes, tokens and callback URLs are printable ASCII, and this character is invisible: text "
            "copied from chat tools, wikis, web pages or word processors can carry such characters, and UTF-16 files hold NUL "
            "characters. Copy the value again from the Zoho API console, or type it.",
        )
    return None


def _core(value: str) -> tuple[int, int]:
    """Start and end of ``value`` without its padding (:func:`is_invisible` characters at either end)."""
    start, end = 0, len(value)
    while start < end and is_invisible(value[start]):
        start += 1
    while end > start and is_invisible(value[end - 1]):
        end -= 1
    return start, end


def tidy_credential(value: str, what: str) -> tuple[str, str | None]:
    """The rule for a credential input: return ``(value without surrounding padding, warning or None)``.

    Zoho's client IDs, secrets, codes, tokens and callback URLs are printable ASCII (``!`` to ``~``).
    ``what`` names the value for messages, options between backticks: ``"`client_secret`"``,
    ``"`client_secret` (from the environment variable ZOHO_THRIVE_CLIENT_SECRET)"``.

    Surrounding whitespace and invisible control or format characters (:func:`is_invisible`:
    line breaks, a byte-order mark U+FEFF, zero-width spaces U+200B..U+200D, U+2060, NUL, ...)
    are removed with a warning naming them and the likely cause: ``echo secret |
    ansible-vault encrypt_string`` stores ``secret`` plus a newline, ``lookup('file')`` keeps the
    byte-order mark an editor such as Notepad writes at the start of a file, and Zoho would
    refuse either as ``invalid_client_secret``. A value that is only padding becomes ``""``
    without a warning (the caller's "missing" check then names it). Any other character outside
    printable ASCII, inside the value, cannot be a harmless accident: :class:`ZohoInputError`
    naming the option, the kind of character and its position (:func:`credential_flaw`), never
    the value.
    """
    subject = what[:1].upper() + what[1:]
    flaw = _flaw(value)
    if flaw is not None:
        raise ZohoInputError(f"{subject} contains {flaw[0]}, so it was refused and nothing was sent to Zoho. {flaw[1]}")
    start, end = _core(value)
    text = value[start:end]
    if text == value or not text:
        return text, None
    leading, trailing = value[:start], value[end:]
    return text, f"{subject} had {_padding(leading, trailing)}, removed; {_padding_cause(leading, trailing)}"


def _padding(leading: str, trailing: str) -> str:
    """What was removed, for example ``a trailing newline`` or ``a leading byte-order mark (U+FEFF)``."""
    if leading and trailing and all(ch.isspace() for ch in leading + trailing):
        return "leading and trailing whitespace"
    return " and ".join(_side(chars, side) for chars, side in ((leading, "leading"), (trailing, "trailing")) if chars)


def _side(chars: str, side: str) -> str:
    if all(ch.isspace() for ch in chars):
        if side == "leading":
            return "leading whitespace"
        if chars == "\n":
            return "a trailing newline"
        if chars == "\r\n":
            return "a trailing Windows line break (CR LF)"
        if set(chars) <= {"\r", "\n"}:
            return "trailing line breaks"
        return "trailing whitespace"
    if len(chars) == 1:
        noun, code = _character(chars)
        return f"a {side} {noun} ({code})"  # "a leading byte-order mark (U+FEFF)"
    codes = ", ".join(f"U+{ord(ch):04X}" for ch in dict.fromkeys(chars))
    return f"{side} invisible characters ({codes})"


def _padding_cause(leading: str, trailing: str) -> str:
    """The likely cause of the padding and its fix; one for each story the two ends tell."""
    causes = []
    bom_first = leading.startswith("\ufeff")
    if bom_first:
        causes.append(
            "a file saved by an editor such as Windows Notepad starts with a byte-order mark (BOM), and lookup('file') keeps it; "
            "save the file as UTF-8 without BOM."
        )
    others = (leading[1:] if bom_first else leading) + trailing
    if any(unicodedata.category(ch) == "Cf" for ch in others):
        causes.append(
            "text copied from chat tools, wikis, web pages or word processors can carry invisible characters; copy the value "
            "again from the Zoho API console, or type it."
        )
    if any(unicodedata.category(ch) == "Cc" and not ch.isspace() for ch in others):
        causes.append("control characters such as NUL come from a binary or UTF-16 file or a tool that pads values; check where the value came from.")
    spaces_before = "".join(ch for ch in leading if ch.isspace())
    spaces_after = "".join(ch for ch in trailing if ch.isspace())
    if spaces_before:
        causes.append("check the variable or vault file it came from for stray spaces or line breaks.")
    elif "\r" in spaces_after:
        causes.append("files saved with Windows line endings (CR LF) end every line in one; save the file with Unix (LF) line endings.")
    elif spaces_after and set(spaces_after) <= {"\n"}:
        causes.append(
            "values made with `echo` without `-n` end in one (for example `echo VALUE | ansible-vault encrypt_string`); use "
            "printf '%s' VALUE or echo -n."
        )
    elif spaces_after or not causes:
        causes.append("check the variable or vault file it came from for stray spaces or line breaks.")
    return " ".join([causes[0]] + [cause[:1].upper() + cause[1:] for cause in causes[1:]])


def clean_secret(value: t.Any, what: str) -> str:
    """Check a code or token and return it without surrounding padding (the rule of :func:`tidy_credential`).

    ``what`` names it for messages, options between backticks (for example ``"`refresh_token`"``
    or ``"the code in `callback_url`"``). Module options have been through
    :func:`tidy_credential` already, with its warning; here the padding is removed silently.
    Raises :class:`ZohoInputError` for a non-string, an empty or over-long value, or any
    character inside it that is not printable ASCII; the message never repeats the value.
    """
    subject = what[:1].upper() + what[1:]
    if not isinstance(value, str):
        raise ZohoInputError(f"{subject} must be a string, not {type(value).__name__}.")
    text, _warning = tidy_credential(value, what)  # raises for anything but printable ASCII inside
    if not text:
        raise ZohoInputError(f"{subject} is empty. Provide the value itself (for example from Ansible Vault).")
    if len(text) > MAX_SECRET_LENGTH:
        raise ZohoInputError(
            f"{subject} is {len(text)} characters long; Zoho's are far shorter (about 70). Check that the right variable is used."
        )
    return text


def generate_state() -> str:
    """A CSRF ``state`` value from the operating system's CSPRNG."""
    return secrets.token_urlsafe(32)


def generate_pkce_pair() -> tuple[str, str]:
    """Return ``(code_verifier, code_challenge)`` for PKCE with S256 (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")
    return verifier, challenge


def build_authorization_url(
    *,
    accounts_url: str,
    client_id: str,
    scopes: t.Sequence[str],
    redirect_uri: str,
    access_type: str = "offline",
    prompt: str | None = None,
    state: str,
    code_challenge: str | None = None,
) -> str:
    """Build ``{accounts}/oauth/v2/auth?...``. Scopes are joined with commas, as Zoho expects."""
    if not client_id or not client_id.strip():
        raise ZohoInputError("`client_id` is required to build the authorization URL (or set ZOHO_THRIVE_CLIENT_ID).")
    clean_scopes = [s.strip() for s in scopes if s is not None and str(s).strip()]
    if not clean_scopes:
        raise ZohoInputError("`scopes` must name at least one scope, for example Thrive.Referral.CREATE.")
    for scope in clean_scopes:
        if not _SCOPE_RE.fullmatch(scope):
            raise ZohoInputError(
                f"Invalid scope {scope!r} in `scopes`: give one scope per list item (Service.scope.OPERATION, for example "
                "Thrive.Referral.CREATE), without spaces or commas."
            )
    if access_type not in ACCESS_TYPES:
        raise ZohoInputError(f"`access_type` must be one of {', '.join(ACCESS_TYPES)}, not {access_type!r}.")
    check_redirect_uri(redirect_uri)
    if not state:
        raise ZohoInputError("`state` must not be empty: omit it to have a random one generated.")
    params = {
        "response_type": "code",
        "client_id": client_id.strip(),
        "scope": ",".join(clean_scopes),
        "redirect_uri": redirect_uri,
        "access_type": access_type,
        "state": state,
    }
    if prompt:
        params["prompt"] = prompt
    if code_challenge:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    return f"{accounts_url.rstrip('/')}{AUTH_PATH}?{urlencode(params)}"


def check_redirect_uri(redirect_uri: t.Any) -> str:
    if not isinstance(redirect_uri, str) or not redirect_uri:
        raise ZohoInputError("`redirect_uri` is required: use a URI registered for the client in the Zoho API console.")
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in redirect_uri):
        raise ZohoInputError(
            "`redirect_uri` must be an absolute http:// or https:// URI without spaces, exactly as registered for the client "
            "in the Zoho API console."
        )
    return redirect_uri


@dataclass(frozen=True)
class Callback:
    """What Zoho's redirect back to the client carries."""

    code: str
    location: str | None
    accounts_server: str | None
    state: str | None

    @property
    def accounts_url(self) -> str | None:
        """The validated accounts server (table entry), or None when the callback names none."""
        if self.accounts_server:
            return data_center_for_accounts_server(self.accounts_server, source="accounts-server of `callback_url`").accounts_url
        if self.location:
            return DATA_CENTERS[self.location].accounts_url
        return None


def parse_callback_url(url: t.Any) -> Callback:
    """Parse the URL Zoho redirected the browser to after consent.

    Refuses, before any request: whitespace inside the URL, a denial (``error=...``), a missing or repeated ``code``, an
    ``accounts-server`` that is not exactly a known Zoho server, and a ``location`` that is
    unknown or disagrees with ``accounts-server``.
    """
    if not isinstance(url, str) or not url.strip():
        raise ZohoInputError("`callback_url` is empty: paste the full URL the browser was redirected to after consent.")
    text, _warning = tidy_credential(url, "`callback_url`")  # the module warned about surrounding whitespace already
    parts = urlsplit(text)
    query = parts.query or ""
    if not query and parts.fragment and "=" in parts.fragment:
        query = parts.fragment  # some clients receive the parameters in the fragment
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=False, max_num_fields=50)
    except ValueError:
        raise ZohoInputError("`callback_url` has too many or malformed parameters; paste the URL exactly as received.") from None

    if "error" in params:
        error = params["error"][0]
        if error == "access_denied":
            raise ZohoAuthorizationDeniedError(
                "The authorization was denied (error=access_denied): the user clicked Deny, or Zoho refused to issue more grant "
                "codes (at most 10 per client per 10 minutes). Start the authorization again, and wait 10 minutes if it was the "
                "rate limit.",
                error_code="access_denied",
            )
        safe = re.sub(r"[^A-Za-z0-9_.\- ]", "", error)[:60]
        raise ZohoAuthorizationDeniedError(
            f"`callback_url` reports an authorization error (error={safe}); no code was issued. Start the authorization again.",
            error_code=safe or None,
        )

    def single(name: str) -> str | None:
        values = params.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise ZohoInputError(f"`callback_url` carries the parameter {name!r} more than once; refusing an ambiguous callback.")
        return values[0]

    code = single("code")
    if code is None:
        raise ZohoInputError("`callback_url` has no code parameter: paste the full URL the browser was redirected to after consent.")
    code = clean_secret(code, "the code in `callback_url`")
    location = single("location")
    accounts_server = single("accounts-server")
    state = single("state")

    if location is not None:
        location = location.strip().lower()
        if location not in DATA_CENTERS:
            raise ZohoInputError(
                f"The location {location[:20]!r} in `callback_url` is not a known Zoho data center ({', '.join(DATA_CENTERS)}); "
                "no request was sent."
            )
    if accounts_server is not None:
        dc = data_center_for_accounts_server(accounts_server, source="accounts-server of `callback_url`")
        if location is not None and dc.code != location:
            raise ZohoInputError(
                f"The location ({location}) and accounts-server ({dc.accounts_url}) of `callback_url` name different data centers; "
                "refusing an inconsistent callback. No request was sent."
            )
    return Callback(code=code, location=location, accounts_server=accounts_server, state=state)


def check_state(callback: Callback, expected_state: str | None) -> None:
    """Compare the callback's state with the expected one in constant time."""
    if callback.state is None and expected_state is None:
        return
    if callback.state is None:
        raise ZohoInputError(
            "`expected_state` is set but `callback_url` carries no state; refusing it (possible CSRF or a truncated URL)."
        )
    if expected_state is None:
        raise ZohoInputError(
            "`callback_url` carries a state, so `expected_state` is required: pass the state returned by "
            "zohothrive.oauth.zoho_thrive_auth_url."
        )
    if not hmac.compare_digest(callback.state.encode("utf-8"), expected_state.encode("utf-8")):
        raise ZohoInputError(
            "The state in `callback_url` does not match `expected_state`; refusing it (possible CSRF, or a callback from another "
            "authorization). No request was sent."
        )


__all__ = (
    "ACCESS_TYPES",
    "CREDENTIAL_OPTIONS",
    "Callback",
    "build_authorization_url",
    "check_redirect_uri",
    "check_state",
    "clean_secret",
    "credential_flaw",
    "fingerprint",
    "generate_pkce_pair",
    "generate_state",
    "is_invisible",
    "parse_callback_url",
    "tidy_credential",
)
