# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The token set, the data every part of the core passes around: what Zoho issued, as stored and returned.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: the controller.

Standard library only: the token store, the flows and the lookup use it without the HTTP client
(``_client.py`` parses Zoho's answers into it).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

DEFAULT_EXPIRES_IN = 3600  # seconds: Zoho documents one hour for an access token; some answers omit the field


@dataclass(frozen=True)
class TokenSet:
    """Tokens from a successful exchange or refresh. ``expires_in`` is in seconds.

    The optional fields ``api_domain``, ``token_type`` and ``scope`` are None when the answer did
    not carry them (absent, null, empty or only whitespace): "absent", never ``""`` or ``[]``, so
    that a caller can keep the value it already knows (issue 7, item 3). ``scope`` is otherwise a
    non-empty list of scope names. ``refresh_token`` is None when Zoho issued none.
    """

    access_token: str
    expires_in: int
    expires_at: int
    api_domain: str | None = None
    token_type: str | None = None
    scope: list[str] | None = None
    refresh_token: str | None = None

    def as_dict(self) -> dict[str, t.Any]:
        """Plain data (JSON-serialisable); an absent optional field is None."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "api_domain": self.api_domain,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "expires_at": self.expires_at,
            "scope": list(self.scope) if self.scope else None,
        }

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any], *, now: float) -> TokenSet:
        """Rebuild from :meth:`as_dict` output (a cache entry); ``expires_in`` is recomputed.

        Older entries stored an absent scope as ``[]`` and could hold ``""`` for the other
        optional fields: they read back as None (absent), like a field that is missing.
        """
        expires_at = int(data["expires_at"])
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=optional_text(data.get("refresh_token")),
            api_domain=optional_text(data.get("api_domain")),
            token_type=optional_text(data.get("token_type")),
            expires_in=max(0, expires_at - int(now)),
            expires_at=expires_at,
            scope=parse_scope(data.get("scope")),
        )


def optional_text(value: t.Any) -> str | None:
    """A string field of an answer or cache entry: stripped, or None when absent, null, empty, blank or not a string."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def parse_scope(value: t.Any) -> list[str] | None:
    """Zoho separates scopes with commas or spaces; return them as a list, or None when there are none (absent).

    A string or a list of strings (a cache entry) is read; any other type counts as absent.
    """
    if isinstance(value, str):
        items = value.replace(",", " ").split()
    elif isinstance(value, (list, tuple)):
        items = [v for v in value if isinstance(v, str)]
    else:
        return None
    return [item.strip() for item in items if item.strip()] or None


__all__ = ("DEFAULT_EXPIRES_IN", "TokenSet", "optional_text", "parse_scope")
