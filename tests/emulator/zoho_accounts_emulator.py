# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-alone emulator of the Zoho Accounts OAuth 2.0 token endpoints.

A test tool, not a mock of the collection: it imports nothing from it and only reproduces what
Zoho Accounts is known to do (see the collection's Zoho OAuth reference notes), including the odd
parts: errors as HTTP 200 JSON, ``invalid_code`` for dead refresh tokens, the refresh throttle,
the 20-refresh-token cap and the legacy ``expires_in_sec`` format.

It serves HTTPS only, on 127.0.0.1, with a throwaway CA made by ``trustme`` at startup.
Tests drive it through a JSON admin API under ``/_emulator/KEY/`` (faults, clock, introspection),
where KEY is random per start and written only to the owner-only ``emulator.json``: other local
users can reach the port, but neither the admin API nor the client secrets.

Usage (``trustme`` must be installed: on a fresh clone, ``make venv`` and ``.venv/bin/python``)::

    .venv/bin/python tests/emulator/zoho_accounts_emulator.py start --state-dir DIR --clients-file FILE
    .venv/bin/python tests/emulator/zoho_accounts_emulator.py mint-code --state-dir DIR --client-id ID
    .venv/bin/python tests/emulator/zoho_accounts_emulator.py stop --state-dir DIR
"""

from __future__ import annotations

import argparse
import contextlib
import http
import http.client
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import stat
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN_PATH = "/oauth/v2/token"
REVOKE_PATH = "/oauth/v2/token/revoke"
OAUTH_PATHS = (TOKEN_PATH, REVOKE_PATH)
ADMIN_PREFIX = "/_emulator"
HEALTH_PATH = f"{ADMIN_PREFIX}/health"  # readiness: open to anyone, says nothing else

INFO_FILE = "emulator.json"
CA_FILE = "ca.pem"
LOG_FILE = "emulator.log"

DEFAULT_API_DOMAIN = "https://www.zohoapis.com"
DEFAULT_SCOPES = ("Thrive.Referral.CREATE",)
ACCESS_TOKEN_LIFETIME = 3600
MAX_BODY = 1024 * 1024
MAX_FAULT_DELAY = 60.0

DEFAULT_CONFIG: dict[str, Any] = {
    "throttle_limit": 10,
    "throttle_window": 600,
    "throttle_status": 200,
    "refresh_token_cap": 20,
    "rotate_refresh_tokens": False,
}

THROTTLE_BODY = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. Please try again after some time.",
    "status": "failure",
}

# Faults that answer instead of Zoho: the request is never processed.
REPLACING_FAULTS = frozenset({"status", "html", "broken_json", "non_object_json", "reset_before", "redirect", "deep_json"})
# Faults that let Zoho process the request (the code is used, tokens are minted) and then spoil or delay the answer.
PROCESSING_FAULTS = frozenset({"reset_after", "slow", "drip", "oversize"})
FAULT_KINDS = REPLACING_FAULTS | PROCESSING_FAULTS
MAX_DRIP_INTERVAL_MS = 10_000
MAX_OVERSIZE = 64 * 1024 * 1024
MAX_DEPTH = 1_000_000
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

HTML_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Zoho Accounts</title></head>"
    "<body><h1>Something went wrong</h1><p>Please try again after some time.</p></body></html>\n"
)
# What the accounts server answers for a path it does not have (for example /oauth/v2/token/oauth/v2/token, the
# doubled path of an accounts_url that already ends with the token path): an HTML page, not Zoho's JSON.
NOT_FOUND_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Zoho Accounts - 404</title></head>"
    "<body><h1>404</h1><p>The page you are looking for is not found.</p></body></html>\n"
)
# Bodies of a `status` fault by `body_kind`: what proxies, load balancers and error pages send.
BODY_KINDS = ("html", "empty", "text", "json")

# Python packages that `serve` and `start` need beyond the standard library, and how to get them.
DEPENDENCIES = ("trustme",)


def zoho_token() -> str:
    """Return a value shaped like Zoho's codes and tokens: ``1000.<32 hex>.<32 hex>``."""
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


@dataclass
class Client:
    client_id: str
    client_secret: str
    scope_separator: str = " "
    legacy_expiry: bool = False
    api_domain: str = DEFAULT_API_DOMAIN


@dataclass
class GrantCode:
    code: str
    client_id: str
    scopes: list[str]
    expires_at: float
    redirect_uri: str | None
    access_type: str
    user: str
    used: bool = False


@dataclass
class RefreshToken:
    token: str
    client_id: str
    user: str
    scopes: list[str]
    created: float
    revoked: bool = False
    evicted: bool = False
    mint_times: list[float] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return not (self.revoked or self.evicted)


@dataclass
class AccessToken:
    token: str
    client_id: str
    scopes: list[str]
    expires_at: float
    parent: RefreshToken | None
    revoked: bool = False

    def active(self, now: float) -> bool:
        parent_live = self.parent is None or self.parent.live
        return parent_live and not self.revoked and now < self.expires_at


@dataclass
class Reply:
    """One HTTP answer; ``outcome`` is what the request log records for it."""

    status: int
    body: bytes
    content_type: str = "application/json;charset=UTF-8"  # "" sends no Content-Type header
    headers: dict[str, str] = field(default_factory=dict)
    outcome: str = "success"
    drip_ms: int | None = None  # write the answer one byte at a time, this many milliseconds apart
    drip_head: bool = False  # drip the status line and headers too, not only the body
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length


def json_reply(payload: Any, status: int = 200, outcome: str = "success") -> Reply:
    return Reply(status=status, body=json.dumps(payload).encode(), outcome=outcome)


class OAuthError(Exception):
    """A Zoho-style failure answer: by default HTTP 200 with ``{"error": ...}``."""

    def __init__(self, error: str, status: int = 200, payload: dict[str, Any] | None = None) -> None:
        super().__init__(error)
        self.reply = json_reply(payload or {"error": error}, status=status, outcome=error)


class UsageError(Exception):
    """Bad command-line input; main() prints the message as one line and exits 2."""


class AdminError(Exception):
    """A bad admin API call; answered as HTTP ``status`` with ``{"error": message}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _field(payload: dict[str, Any], name: str, kinds: type | tuple[type, ...], default: Any = None, required: bool = False) -> Any:
    """Read one admin payload field with a type check (``bool`` never passes for a number)."""
    if name not in payload or payload[name] is None:
        if required:
            raise AdminError(f"'{name}' is required")
        return default
    value = payload[name]
    wants_bool = kinds is bool or (isinstance(kinds, tuple) and bool in kinds)
    if not isinstance(value, kinds) or (isinstance(value, bool) and not wants_bool):
        raise AdminError(f"'{name}' has the wrong type")
    return value


class EmulatorState:
    """Everything the emulator knows. Every public method takes the single lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: dict[str, Client] = {}
        self._clear()

    def _clear(self) -> None:
        self.codes: dict[str, GrantCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.faults: dict[str, deque[dict[str, Any]]] = {}
        self.log: list[dict[str, Any]] = []
        self.log_seq = 0
        self.counters = {"exchanges": 0, "refreshes": 0, "revokes": 0, "token_requests": 0, "requests": 0, "evictions": 0}
        self.clock_offset = 0.0
        self.config = dict(DEFAULT_CONFIG)

    def now(self) -> float:
        return time.time() + self.clock_offset

    # ---- OAuth endpoints ----------------------------------------------------------------

    def token_request(self, params: dict[str, str]) -> Reply:
        with self.lock:
            try:
                grant_type = params.get("grant_type")
                if grant_type == "authorization_code":
                    return self._exchange(params)
                if grant_type == "refresh_token":
                    return self._refresh(params)
                raise OAuthError("unsupported_grant_type")
            except OAuthError as exc:
                return exc.reply

    def revoke_request(self, params: dict[str, str]) -> Reply:
        with self.lock:
            token = params.get("token", "")
            refresh = self.refresh_tokens.get(token)
            access = self.access_tokens.get(token)
            if refresh is not None and refresh.live:
                refresh.revoked = True  # its access tokens die with it, see AccessToken.active
            elif access is not None and access.active(self.now()):
                access.revoked = True
            else:
                return json_reply({"status": "failure", "error": "invalid_token"}, status=400, outcome="invalid_token")
            self.counters["revokes"] += 1
            return json_reply({"status": "success"})

    def _authenticate(self, params: dict[str, str], *required: str) -> Client:
        if any(not params.get(name) for name in ("client_id", "client_secret", *required)):
            raise OAuthError("invalid_request")
        client = self.clients.get(params["client_id"])
        if client is None:
            raise OAuthError("invalid_client")
        if not secrets.compare_digest(client.client_secret.encode(), params["client_secret"].encode()):
            raise OAuthError("invalid_client_secret")
        return client

    def _exchange(self, params: dict[str, str]) -> Reply:
        client = self._authenticate(params, "code")
        grant = self.codes.get(params["code"])
        if grant is None or grant.used or grant.client_id != client.client_id or self.now() >= grant.expires_at:
            raise OAuthError("invalid_code")
        # Self-client codes carry no redirect_uri and accept any (or none).
        if grant.redirect_uri is not None and params.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError("invalid_redirect_uri")
        grant.used = True
        refresh = self._mint_refresh_token(client, grant.user, grant.scopes) if grant.access_type == "offline" else None
        access = self._mint_access_token(client, grant.scopes, refresh)
        self.counters["exchanges"] += 1
        return self._token_reply(client, access, refresh)

    def _refresh(self, params: dict[str, str]) -> Reply:
        client = self._authenticate(params, "refresh_token")
        refresh = self.refresh_tokens.get(params["refresh_token"])
        if refresh is None or not refresh.live or refresh.client_id != client.client_id:
            raise OAuthError("invalid_code")
        now = self.now()
        refresh.mint_times = [t for t in refresh.mint_times if t > now - self.config["throttle_window"]]
        if len(refresh.mint_times) >= self.config["throttle_limit"]:
            raise OAuthError("Access Denied", status=self.config["throttle_status"], payload=THROTTLE_BODY)
        new_refresh = None
        if self.config["rotate_refresh_tokens"]:
            refresh.revoked = True
            refresh = new_refresh = self._mint_refresh_token(client, refresh.user, refresh.scopes)
        access = self._mint_access_token(client, refresh.scopes, refresh)
        self.counters["refreshes"] += 1
        return self._token_reply(client, access, new_refresh)

    def _mint_refresh_token(self, client: Client, user: str, scopes: list[str]) -> RefreshToken:
        # Zoho keeps at most N refresh tokens per user and client and silently deletes the oldest.
        held = [rt for rt in self.refresh_tokens.values() if rt.live and rt.client_id == client.client_id and rt.user == user]
        excess = len(held) + 1 - self.config["refresh_token_cap"]  # counting the one about to be minted
        for oldest in held[: max(excess, 0)]:
            oldest.evicted = True
            self.counters["evictions"] += 1
        refresh = RefreshToken(token=zoho_token(), client_id=client.client_id, user=user, scopes=list(scopes), created=self.now())
        self.refresh_tokens[refresh.token] = refresh  # dicts keep insertion order: oldest first
        return refresh

    def _mint_access_token(self, client: Client, scopes: list[str], parent: RefreshToken | None) -> AccessToken:
        now = self.now()
        access = AccessToken(token=zoho_token(), client_id=client.client_id, scopes=list(scopes), expires_at=now + ACCESS_TOKEN_LIFETIME, parent=parent)
        self.access_tokens[access.token] = access
        if parent is not None:
            parent.mint_times.append(now)
        return access

    @staticmethod
    def _token_reply(client: Client, access: AccessToken, refresh: RefreshToken | None) -> Reply:
        payload: dict[str, Any] = {"access_token": access.token}
        if refresh is not None:
            payload["refresh_token"] = refresh.token
        payload["scope"] = client.scope_separator.join(access.scopes)
        payload["api_domain"] = client.api_domain
        payload["token_type"] = "Bearer"
        if client.legacy_expiry:
            payload["expires_in_sec"] = ACCESS_TOKEN_LIFETIME
            payload["expires_in"] = ACCESS_TOKEN_LIFETIME * 1000
        else:
            payload["expires_in"] = ACCESS_TOKEN_LIFETIME
        return json_reply(payload)

    # ---- faults and request log ---------------------------------------------------------

    def pop_fault(self, path: str) -> dict[str, Any] | None:
        with self.lock:
            queue = self.faults.get(path)
            return queue.popleft() if queue else None

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.log_seq += 1
            self.log.append({"seq": self.log_seq, "time": self.now(), **entry})
            self.counters["requests"] += 1  # every request outside the admin API, whatever its path
            if entry["method"] == "POST" and entry["path"] == TOKEN_PATH:
                self.counters["token_requests"] += 1

    # ---- admin API ----------------------------------------------------------------------

    def add_client(self, client_id: str, client_secret: str) -> None:
        with self.lock:
            self.clients[client_id] = Client(client_id, client_secret)

    def admin_register_client(self, payload: dict[str, Any]) -> dict[str, Any]:
        client_id = _field(payload, "client_id", str, required=True)
        with self.lock:
            current = self.clients.get(client_id)
            client = Client(
                client_id=client_id,
                client_secret=_field(payload, "client_secret", str, current.client_secret if current else None, required=current is None),
                scope_separator=_field(payload, "scope_separator", str, current.scope_separator if current else " "),
                legacy_expiry=_field(payload, "legacy_expiry", bool, current.legacy_expiry if current else False),
                api_domain=_field(payload, "api_domain", str, current.api_domain if current else DEFAULT_API_DOMAIN),
            )
            self.clients[client_id] = client
            return {
                "client_id": client.client_id,
                "scope_separator": client.scope_separator,
                "legacy_expiry": client.legacy_expiry,
                "api_domain": client.api_domain,
            }

    def admin_mint_code(self, payload: dict[str, Any]) -> dict[str, Any]:
        client_id = _field(payload, "client_id", str, required=True)
        scopes = _field(payload, "scope", (list, str), list(DEFAULT_SCOPES))
        scopes = [scopes] if isinstance(scopes, str) else scopes
        if not scopes or not all(isinstance(s, str) and s for s in scopes):
            raise AdminError("'scope' must be a non-empty list of strings")
        ttl = _field(payload, "ttl", (int, float), 180)
        if ttl <= 0:
            raise AdminError("'ttl' must be positive")
        access_type = _field(payload, "access_type", str, "offline")
        if access_type not in ("offline", "online"):
            raise AdminError("'access_type' must be 'offline' or 'online'")
        with self.lock:
            if client_id not in self.clients:
                raise AdminError(f"unknown client_id {client_id!r}")
            grant = GrantCode(
                code=zoho_token(),
                client_id=client_id,
                scopes=scopes,
                expires_at=self.now() + ttl,
                redirect_uri=_field(payload, "redirect_uri", str),
                access_type=access_type,
                user=_field(payload, "user", str, "default"),
            )
            self.codes[grant.code] = grant
            return {"code": grant.code, "expires_at": grant.expires_at}

    def admin_add_faults(self, payload: dict[str, Any]) -> dict[str, Any]:
        path = _field(payload, "path", str, TOKEN_PATH)
        if not path.startswith("/") or path.startswith(ADMIN_PREFIX):
            raise AdminError("'path' must be an absolute path outside /_emulator")
        faults = [_normalize_fault(fault) for fault in _field(payload, "faults", list, required=True)]
        with self.lock:
            self.faults.setdefault(path, deque()).extend(faults)
            return self._fault_queues()

    def admin_get_faults(self, _payload: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return self._fault_queues()

    def admin_clear_faults(self, _payload: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.faults.clear()
            return self._fault_queues()

    def _fault_queues(self) -> dict[str, Any]:
        return {"faults": {path: list(queue) for path, queue in self.faults.items() if queue}}

    def admin_get_log(self, _payload: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return {"requests": [dict(entry) for entry in self.log]}

    def admin_clear_log(self, _payload: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.log.clear()
            return {"requests": []}

    def admin_state(self, _payload: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            now = self.now()
            return {
                "now": now,
                **self.counters,
                "refresh_tokens": [
                    {"token": rt.token, "client_id": rt.client_id, "user": rt.user, "created": rt.created, "revoked": rt.revoked, "evicted": rt.evicted}
                    for rt in self.refresh_tokens.values()
                ],
                "access_tokens": [
                    {
                        "token": at.token,
                        "client_id": at.client_id,
                        "refresh_token": at.parent.token if at.parent else None,
                        "expires_at": at.expires_at,
                        "active": at.active(now),
                    }
                    for at in self.access_tokens.values()
                ],
                "codes": [
                    {"code": gc.code, "client_id": gc.client_id, "user": gc.user, "used": gc.used, "expires_at": gc.expires_at} for gc in self.codes.values()
                ],
                "config": dict(self.config),
            }

    def admin_introspect(self, payload: dict[str, Any]) -> dict[str, Any]:
        token = _field(payload, "token", str, required=True)
        with self.lock:
            now = self.now()
            if (access := self.access_tokens.get(token)) is not None:
                return {"active": access.active(now), "kind": "access", "expires_at": access.expires_at, "client_id": access.client_id, "scope": access.scopes}
            if (refresh := self.refresh_tokens.get(token)) is not None:
                return {
                    "active": refresh.live,
                    "kind": "refresh",
                    "expires_at": None,
                    "client_id": refresh.client_id,
                    "scope": refresh.scopes,
                    "user": refresh.user,
                    "revoked": refresh.revoked,
                    "evicted": refresh.evicted,
                }
            return {"active": False, "kind": None, "expires_at": None}

    def admin_config(self, payload: dict[str, Any]) -> dict[str, Any]:
        update: dict[str, Any] = {}
        for key in payload:
            if key not in DEFAULT_CONFIG:
                raise AdminError(f"unknown config key {key!r}")
            if key == "rotate_refresh_tokens":
                update[key] = _field(payload, key, bool, required=True)
                continue
            number = _field(payload, key, (int, float) if key == "throttle_window" else int, required=True)
            if number <= 0 or (key == "throttle_status" and not 100 <= number <= 599):
                raise AdminError(f"'{key}' is out of range")
            update[key] = number
        with self.lock:
            self.config.update(update)
            return dict(self.config)

    def admin_clock(self, payload: dict[str, Any]) -> dict[str, Any]:
        advance = _field(payload, "advance", (int, float), 0)
        if advance < 0:
            raise AdminError("the clock only moves forward")
        with self.lock:
            self.clock_offset += advance
            return {"now": self.now(), "offset": self.clock_offset}

    def admin_reset(self, _payload: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._clear()
            return {"ok": True, "clients": sorted(self.clients)}


def _status_body(status: int, body_kind: str, *, explicit: bool) -> tuple[str, str]:
    """Default body and Content-Type of a `status` fault (the Zoho-style error page unless ``body_kind`` says otherwise)."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    if body_kind == "empty":
        return "", ""
    if body_kind == "text":
        return f"{status} {phrase}\n", "text/plain;charset=UTF-8"
    if body_kind == "json":
        return json.dumps({"error": phrase.lower().replace(" ", "_"), "status": status}), "application/json;charset=UTF-8"
    page = HTML_ERROR_PAGE if explicit or status == 503 else HTML_ERROR_PAGE.replace("Zoho Accounts", f"{status} {phrase}")
    return page, "text/html;charset=UTF-8"


def _normalize_fault(fault: Any) -> dict[str, Any]:
    """Validate one fault and fill in its defaults, so that serving it cannot fail."""
    if not isinstance(fault, dict) or fault.get("kind") not in FAULT_KINDS:
        raise AdminError(f"each fault must be an object with 'kind' in {sorted(FAULT_KINDS)}")
    kind = fault["kind"]
    if kind == "status":
        status = _field(fault, "status", int, 503)
        if not 100 <= status <= 599:
            raise AdminError("'status' must be an HTTP status")
        headers = _field(fault, "headers", dict, {})
        if not all(isinstance(value, str) for value in headers.values()):
            raise AdminError("'headers' must map names to strings")
        body_kind = _field(fault, "body_kind", str, "html")
        if body_kind not in BODY_KINDS:
            raise AdminError(f"'body_kind' must be one of {list(BODY_KINDS)}")
        body, content_type = _status_body(status, body_kind, explicit="body" in fault)
        return {
            "kind": kind,
            "status": status,
            "body": _field(fault, "body", str, body),
            "content_type": _field(fault, "content_type", str, content_type),
            "headers": headers,
            "process": _field(fault, "process", bool, False),
        }
    if kind == "slow":
        delay = _field(fault, "delay", (int, float), 1.0)
        if not 0 <= delay <= MAX_FAULT_DELAY:
            raise AdminError(f"'delay' must be between 0 and {MAX_FAULT_DELAY}")
        return {"kind": kind, "delay": delay}
    if kind == "drip":
        interval = _field(fault, "interval_ms", int, 500)
        if not 1 <= interval <= MAX_DRIP_INTERVAL_MS:
            raise AdminError(f"'interval_ms' must be between 1 and {MAX_DRIP_INTERVAL_MS}")
        part = _field(fault, "part", str, "body")
        if part not in ("body", "all"):
            raise AdminError("'part' must be 'body' or 'all'")
        return {"kind": kind, "interval_ms": interval, "part": part}
    if kind == "oversize":
        size = _field(fault, "size", int, 2 * 1024 * 1024)
        if not 1 <= size <= MAX_OVERSIZE:
            raise AdminError(f"'size' must be between 1 and {MAX_OVERSIZE}")
        return {"kind": kind, "size": size, "chunked": _field(fault, "chunked", bool, False)}
    if kind == "deep_json":
        depth = _field(fault, "depth", int, 100_000)
        if not 1 <= depth <= MAX_DEPTH:
            raise AdminError(f"'depth' must be between 1 and {MAX_DEPTH}")
        return {"kind": kind, "depth": depth}
    if kind == "redirect":
        status = _field(fault, "status", int, 307)
        if status not in REDIRECT_STATUSES:
            raise AdminError(f"'status' must be one of {sorted(REDIRECT_STATUSES)}")
        return {"kind": kind, "status": status, "location": _field(fault, "location", str)}  # None: filled in when served
    return {"kind": kind}


# --------------------------------------------------------------------------------------------
# HTTP server
# --------------------------------------------------------------------------------------------

AdminRoute = Callable[[EmulatorState, dict[str, Any]], dict[str, Any]]

ADMIN_ROUTES: dict[tuple[str, str], AdminRoute] = {
    ("GET", "/health"): lambda _state, _payload: {"ok": True},
    ("POST", "/clients"): EmulatorState.admin_register_client,
    ("POST", "/codes"): EmulatorState.admin_mint_code,
    ("GET", "/faults"): EmulatorState.admin_get_faults,
    ("POST", "/faults"): EmulatorState.admin_add_faults,
    ("DELETE", "/faults"): EmulatorState.admin_clear_faults,
    ("GET", "/log"): EmulatorState.admin_get_log,
    ("DELETE", "/log"): EmulatorState.admin_clear_log,
    ("GET", "/state"): EmulatorState.admin_state,
    ("POST", "/introspect"): EmulatorState.admin_introspect,
    ("GET", "/config"): lambda state, _payload: state.admin_config({}),
    ("POST", "/config"): EmulatorState.admin_config,
    ("POST", "/clock"): EmulatorState.admin_clock,
    ("POST", "/reset"): EmulatorState.admin_reset,
}


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, state: EmulatorState, tls: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", port), EmulatorHandler)
        self.state = state
        # The admin API lives under ADMIN_PREFIX/admin_key/; only emulator.json (owner-only) tells it.
        self.admin_key = secrets.token_urlsafe(24)
        # The handshake runs in the handler thread, so a stalled client cannot block accept().
        self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() does a reverse DNS lookup that can stall; the name is known.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.server_port}"

    @property
    def admin_url(self) -> str:
        return f"{self.base_url}{ADMIN_PREFIX}/{self.admin_key}"

    def admin_route(self, path: str) -> str | None:
        """The admin route of a path under ADMIN_PREFIX ("/state"), or None without the right key."""
        if path == HEALTH_PATH:
            return "/health"
        key, _sep, route = path.removeprefix(f"{ADMIN_PREFIX}/").partition("/")
        return f"/{route}" if secrets.compare_digest(key.encode(), self.admin_key.encode()) else None


class EmulatorHandler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # drops idle keep-alive connections
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid the delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        """The request line without its admin key or query string (both may carry secrets), and
        with everything but printable ASCII escaped: a client must not forge log lines."""
        text = (format % args).replace(self.server.admin_key, "KEY")
        text = re.sub(r"\?[^\s\"]*", "?...", text)
        text = re.sub(r"[^\x20-\x7e]", lambda match: ascii(match.group())[1:-1], text)
        sys.stderr.write(f"{self.address_string()} - - [{self.log_date_time_string()}] {text}\n")

    def version_string(self) -> str:
        return "ZohoAccountsEmulator/1.0"

    def handle(self) -> None:
        try:
            self.connection.do_handshake()
            super().handle()
        except (ssl.SSLError, OSError) as exc:  # TLS refusals by clients, resets, timeouts
            self.close_connection = True
            self.log_message("connection dropped: %s", exc)

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        self._dispatch()

    def do_POST(self) -> None:  # pylint: disable=invalid-name
        self._dispatch()

    def do_DELETE(self) -> None:  # pylint: disable=invalid-name
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            url = urlsplit(self.path)
        except ValueError:  # "http://[x/...": not a request target anybody could mean
            self.close_connection = True
            self._send(json_reply({"error": "bad_request_target"}, status=400, outcome="bad_request_target"))
            return
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._send(json_reply({"error": "length_required"}, status=411, outcome="length_required"))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._send(json_reply({"error": "bad_content_length"}, status=400, outcome="bad_content_length"))
            return
        body = self.rfile.read(length)
        if url.path == ADMIN_PREFIX or url.path.startswith(f"{ADMIN_PREFIX}/"):
            route = self.server.admin_route(url.path)
            self._send(json_reply({"error": "not_found"}, status=404) if route is None else self._admin(route, body))
        else:
            self._oauth(url.path, url.query, body)

    def _admin(self, route: str, body: bytes) -> Reply:
        handler = ADMIN_ROUTES.get((self.command, route))
        if handler is None:
            if any(path == route for _method, path in ADMIN_ROUTES):
                return json_reply({"error": "method_not_allowed"}, status=405)
            return json_reply({"error": "not_found"}, status=404)
        try:
            payload = json.loads(body) if body.strip() else {}
            if not isinstance(payload, dict):
                raise AdminError("the body must be a JSON object")
            return json_reply(handler(self.server.state, payload))
        except ValueError:
            return json_reply({"error": "the body is not valid JSON"}, status=400)
        except AdminError as exc:
            return json_reply({"error": str(exc)}, status=exc.status)

    def _oauth(self, path: str, query_string: str, body: bytes) -> None:
        state = self.server.state
        content_type = self.headers.get("Content-Type", "")
        query = _first_values(query_string)
        form = {}
        if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            form = _first_values(body.decode("utf-8", errors="replace"))
        fault = state.pop_fault(path) or {"kind": None}
        kind = fault["kind"]
        if kind == "slow":
            time.sleep(fault["delay"])
        # Zoho reads parameters from both the query string and the body; the body wins.
        if kind in REPLACING_FAULTS and not fault.get("process"):
            reply = self._fault_reply(fault)
        else:
            reply = self._process(path, {**query, **form})
        if kind == "status" and fault.get("process"):
            # Processed (the code is used), then something in front of Zoho answers instead: the log keeps Zoho's outcome.
            replaced = self._fault_reply(fault)
            if replaced is not None:
                replaced.outcome = reply.outcome
            reply = replaced or reply
        answer = None if kind == "reset_after" else reply
        if answer is not None and kind == "drip":
            answer.drip_ms = fault["interval_ms"]
            answer.drip_head = fault["part"] == "all"
        if answer is not None and kind == "oversize":
            answer.body = _oversized(answer.body, fault["size"])
            answer.chunked = fault["chunked"]

        state.record(
            {
                "method": self.command,
                "path": path,
                "query_string": query_string,
                "query": query,
                "form": form,
                "content_type": content_type or None,
                "fault": kind,
                "outcome": reply.outcome if reply else "fault",
                "status": answer.status if answer else None,
            }
        )
        if answer is None:
            self._reset_connection()
        else:
            self._send(answer)

    def _process(self, path: str, params: dict[str, str]) -> Reply:
        state = self.server.state
        if path not in OAUTH_PATHS:
            return Reply(status=404, body=NOT_FOUND_PAGE.encode(), content_type="text/html;charset=UTF-8", outcome="not_found")
        if self.command != "POST":
            reply = json_reply({"error": "method_not_allowed"}, status=405, outcome="method_not_allowed")
            reply.headers["Allow"] = "POST"
            return reply
        return state.token_request(params) if path == TOKEN_PATH else state.revoke_request(params)

    def _fault_reply(self, fault: dict[str, Any]) -> Reply | None:
        """The answer a replacing fault gives; None means: drop the connection instead."""
        kind = fault["kind"]
        if kind == "status":
            return Reply(fault["status"], fault["body"].encode(), fault["content_type"], dict(fault["headers"]), outcome="fault")
        if kind == "html":
            return Reply(status=200, body=HTML_ERROR_PAGE.encode(), content_type="text/html;charset=UTF-8", outcome="fault")
        if kind == "broken_json":
            return Reply(status=200, body=b'{"access_token":"1000.', outcome="fault")
        if kind == "non_object_json":
            return Reply(status=200, body=b'["not","an","object"]', outcome="fault")
        if kind == "deep_json":
            return Reply(status=200, body=b"[" * fault["depth"] + b"]" * fault["depth"], outcome="fault")
        if kind == "redirect":
            # The default target is this server (a 404), so a client that follows it never leaves the machine.
            location = fault["location"] or f"{self.server.base_url}/oauth/v2/moved"
            return Reply(fault["status"], b"", "text/plain", {"Location": location}, outcome="fault")
        return None  # reset_before

    def _send(self, reply: Reply) -> None:
        if reply.drip_ms is not None or reply.chunked:
            self.close_connection = True  # a client may give up half-way: never reuse such a connection
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        body = reply.body
        if reply.chunked:
            body = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536]) for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
        if reply.drip_ms is None:
            self.end_headers()
            self.wfile.write(body)
            return
        head = b"".join(getattr(self, "_headers_buffer", []))
        self._headers_buffer = []
        self.wfile.write(b"" if reply.drip_head else head + b"\r\n")
        self._drip((head + b"\r\n" if reply.drip_head else b"") + body, reply.drip_ms / 1000)

    def _drip(self, data: bytes, interval: float) -> None:
        """Write ``data`` one byte at a time; stop quietly when the client hangs up."""
        self.log_message('"%s %s" dripping %d bytes, one every %g s (fault)', self.command, self.path.split("?")[0], len(data), interval)
        try:
            for index in range(len(data)):
                self.wfile.write(data[index : index + 1])
                time.sleep(interval)
        except OSError:
            self.close_connection = True

    def _reset_connection(self) -> None:
        """Drop the connection without an answer; linger 0 makes the kernel send RST, not FIN."""
        self.close_connection = True
        self.log_message('"%s %s" connection reset without an answer (fault)', self.command, self.path.split("?")[0])
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


def _oversized(body: bytes, size: int) -> bytes:
    """The same JSON answer with its access token padded so that the body is at least ``size`` bytes."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return body + b" " * max(0, size - len(body))
    token = str(payload.get("access_token", "1000."))
    payload["access_token"] = token + "a" * max(0, size - len(body))
    return json.dumps(payload).encode()


def _first_values(encoded: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in parse_qsl(encoded, keep_blank_values=True):
        values.setdefault(key, value)
    return values


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


MAX_SMALL_FILE = 1024 * 1024  # emulator.json, ca.pem, a clients file
MAX_SYMLINKS = 40


def _trusted_owners() -> set[int]:
    return {0, os.geteuid()}


def _open_dir(value: str, where: str, create: bool = False, private: bool = True) -> int | None:
    """Open a directory by walking its path one component at a time, and check every step.

    Every directory on the way must belong to root or to the caller, and no other user may write
    to it unless it is sticky (like /tmp, where only an entry's owner can rename it). A symlink is
    followed only when it belongs to root or the caller (its directory already passed). So nobody
    else can swap a component between the check and the use: every later file operation goes
    through the returned descriptor (O_DIRECTORY). With private, the last directory must be the
    caller's, with no rights for anybody else. With create, missing directories are made (the last one 0700);
    without, a missing one returns None. Raises UsageError (where names the option).
    """
    owners = _trusted_owners()
    pending = [part for part in os.path.abspath(value).split("/") if part]
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    walked, hops = "", 0
    try:
        while pending:
            name = pending.pop(0)
            try:
                child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    return None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o700 if not pending else 0o755, dir_fd=fd)
                child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                try:
                    link: os.stat_result | None = os.lstat(name, dir_fd=fd)
                except OSError:
                    link = None
                if link is None or not stat.S_ISLNK(link.st_mode):
                    raise UsageError(f"{where} {value}: {walked}/{name} is not a directory ({exc.strerror})") from None
                if link.st_uid not in owners:
                    raise UsageError(
                        f"{where} {value}: the symlink {walked}/{name} belongs to uid {link.st_uid}, not to you or root; give the real path"
                    ) from None
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise UsageError(f"{where} {value}: too many symlinks on the way") from None
                target = os.readlink(name, dir_fd=fd)
                pending = [part for part in target.split("/") if part] + pending
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
                    walked = ""
                continue
            os.close(fd)
            fd = child
            walked = f"{walked}/{name}"
            st = os.fstat(fd)
            if st.st_uid not in owners:
                raise UsageError(
                    f"{where} {value}: {walked} belongs to uid {st.st_uid}, not to you (uid {os.geteuid()}) or root; choose a directory of your own"
                )
            if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
                raise UsageError(f"{where} {value}: {walked} is writable by other users (mode {st.st_mode & 0o7777:04o}); choose a directory of your own")
        st = os.fstat(fd)
        if private and st.st_uid != os.geteuid():
            raise UsageError(f"{where} {value} is owned by uid {st.st_uid}, not by you (uid {os.geteuid()}): choose a directory of your own")
        if private and st.st_mode & 0o077:
            raise UsageError(
                f"{where} {value} is open to other users (mode {st.st_mode & 0o7777:04o}): it will hold secrets; "
                f"choose a new directory (it is created 0700) or run chmod 700 {value}"
            )
        result, fd = fd, -1
        return result
    finally:
        if fd >= 0:
            os.close(fd)


def _state_dir(value: str, create: bool = False) -> int | None:
    """The --state-dir, opened and checked by _open_dir. Raises UsageError."""
    return _open_dir(value, "--state-dir", create=create)


def _read_small(name: str, dir_fd: int | None, where: str, shown: str | None = None) -> bytes | None:
    """The bytes of a regular file of the caller's, at most MAX_SMALL_FILE; None if it does not exist.

    Never follows a symlink and never blocks on a FIFO. Raises UsageError.
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"{where}: cannot open it ({exc.strerror}); it must be a regular file of yours, not a symlink") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{where}: not a regular file; give a file of yours")
        if st.st_uid != os.geteuid() or st.st_mode & 0o077:
            raise UsageError(
                f"{where} can be read or changed by other users (mode {st.st_mode & 0o7777:04o}, owner uid {st.st_uid}): "
                f"it holds secrets; make it yours and run chmod 600 {shown or name}"
            )
        chunks, size = [], 0
        while size <= MAX_SMALL_FILE and (chunk := os.read(fd, 65536)):
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > MAX_SMALL_FILE:
        raise UsageError(f"{where}: larger than {MAX_SMALL_FILE} bytes")
    return data


def _write_atomic(dir_fd: int, name: str, text: str) -> None:
    """Replace name in the directory dir_fd with text, readable by its owner only."""
    tmp = f".{name}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp, dir_fd=dir_fd)
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd), "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def _unlink(dir_fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
        os.unlink(name, dir_fd=dir_fd)


def _open_log(state_fd: int, state_dir: str, log_file: str | None) -> int:
    """A descriptor appending to the log (request lines name the admin key and may carry secrets).

    The default lives in the state directory. A --log-file elsewhere gets the same checks on its
    directory; an existing one must be a regular file of the caller's with one link, and is made 0600.
    Raises UsageError.
    """
    if not log_file:
        return _open_private_append(state_fd, LOG_FILE, f"the log {os.path.join(state_dir, LOG_FILE)}")
    dir_fd, name = _open_parent(log_file, "--log-file")
    try:
        return _open_private_append(dir_fd, name, f"--log-file {log_file}")
    finally:
        os.close(dir_fd)


def _open_parent(path: str, option: str) -> tuple[int, str]:
    """The directory of a file option's path, opened and checked by _open_dir (others may read it,
    but nobody else can swap it), and the file's name in it. Raises UsageError."""
    parent, name = os.path.split(os.path.abspath(path))
    if not name:
        raise UsageError(f"{option} {path}: give a file name, not a directory")
    dir_fd = _open_dir(parent, f"{option}'s directory", private=False)
    if dir_fd is None:
        raise UsageError(f"{option} {path}: its directory does not exist; create it first")
    return dir_fd, name


def _open_private_append(dir_fd: int, name: str, where: str) -> int:
    """Open name in dir_fd to read and append: created 0600, or an existing regular file of the
    caller's with a single link (never a symlink or a FIFO), made 0600. Raises UsageError."""
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
    try:
        fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    except OSError as exc:
        raise UsageError(f"{where}: cannot open it ({exc.strerror}); it must be a regular file of yours, not a symlink") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_nlink != 1:
        os.close(fd)
        raise UsageError(f"{where}: not a regular file of yours with a single link; remove it, or choose a new file name or directory")
    os.fchmod(fd, 0o600)
    return fd


def _read_info(state_fd: int) -> dict[str, Any] | None:
    """emulator.json, checked: None when it is missing, unreadable or not the emulator's own shape."""
    try:
        data = _read_small(INFO_FILE, state_fd, INFO_FILE)
        info = json.loads(data) if data is not None else None
    except (UsageError, ValueError):
        return None
    if not isinstance(info, dict):
        return None

    def whole_number(value: Any, below: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and 0 < value < below  # bool is an int

    if not (whole_number(info.get("pid"), 2**31) and whole_number(info.get("port"), 65536)):
        return None
    if not all(isinstance(info.get(key), str) for key in ("url", "admin_url", "ca_path")):
        return None
    return info


def _cadata(state_fd: int) -> str | None:
    try:
        data = _read_small(CA_FILE, state_fd, CA_FILE)
    except UsageError:
        return None
    return data.decode("ascii", errors="replace") if data is not None else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its new parent) is not alive
        stat_line = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return True
    return stat_line.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_emulator(pid: int, state_fd: int) -> bool:
    """Only signal our own serve process for this very state directory (serve runs in it).

    Guards against a reused pid from a stale emulator.json, and against an emulator.json that names
    another process.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        cwd = os.stat(f"/proc/{pid}/cwd")
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # without procfs we cannot tell: trust the pid file
    except OSError:
        return False
    here = os.fstat(state_fd)
    ours = Path(__file__).name.encode() in cmdline and b"serve" in cmdline.split(b"\0")
    return ours and (cwd.st_dev, cwd.st_ino) == (here.st_dev, here.st_ino)


def admin_call(info: dict[str, Any], cadata: str, method: str, route: str, payload: dict[str, Any] | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """Call the admin API (info["admin_url"]) over TLS verified against cadata, the emulator's CA. Raises OSError or ValueError."""
    context = ssl.create_default_context(cadata=cadata)
    conn = http.client.HTTPSConnection("127.0.0.1", info["port"], context=context, timeout=timeout)
    try:
        body = json.dumps(payload).encode() if payload is not None else None
        conn.request(method, f"{urlsplit(info['admin_url']).path}{route}", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = json.loads(response.read() or b"{}")
    finally:
        conn.close()
    if response.status != http.HTTPStatus.OK or not isinstance(data, dict):
        # Not the URL: it carries the admin key.
        raise ValueError(f"{method} {ADMIN_PREFIX}/KEY{route} answered {response.status}: {data}")
    return data


def _healthy(info: dict[str, Any], state_fd: int) -> bool:
    cadata = _cadata(state_fd)
    try:
        return cadata is not None and admin_call(info, cadata, "GET", "/health", timeout=2.0).get("ok") is True
    except (OSError, ValueError):
        return False


def _running_info(state_fd: int) -> dict[str, Any] | None:
    info = _read_info(state_fd)
    if info and _pid_alive(info["pid"]) and _is_emulator(info["pid"], state_fd) and _healthy(info, state_fd):
        return info
    return None


def _parse_client(value: str) -> tuple[str, str]:
    client_id, sep, secret = value.partition(":")
    if not (client_id and sep and secret):
        raise argparse.ArgumentTypeError("expected ID:SECRET, both non-empty (the value is not shown: it may hold a secret)")
    return client_id, secret


def _read_clients(name: str) -> list[tuple[str, str]]:
    """Clients from a --clients-file: one ID:SECRET per line; blank lines, # comments and the
    spaces around a line are skipped.

    "-" reads standard input. A file must be a regular file of the caller's that other users
    cannot read, like an SSH key. Errors name the line by number, never by content. Raises UsageError.
    """
    where = f"--clients-file {name}"
    if name == "-":
        data: bytes | None = sys.stdin.buffer.read(MAX_SMALL_FILE + 1)
        if len(data) > MAX_SMALL_FILE:
            raise UsageError(f"{where}: larger than {MAX_SMALL_FILE} bytes")
    else:
        dir_fd, base = _open_parent(name, "--clients-file")
        try:
            data = _read_small(base, dir_fd, where, shown=name)
        finally:
            os.close(dir_fd)
        if data is None:
            raise UsageError(f"{where}: no such file; give a file of ID:SECRET lines, or - for standard input")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not UTF-8 text") from None
    clients: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            client = _parse_client(line.strip())
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"{where} line {number}: {exc}") from None
        if any(client[0] == known for known, _secret in clients):
            raise UsageError(f"{where} line {number}: a second line for the same client id; keep one ID:SECRET line per client")
        clients.append(client)
    return clients


def _clients(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The clients of --client and --clients-file, each id once. Raises UsageError."""
    clients = [*(args.client or []), *(_read_clients(args.clients_file) if args.clients_file else [])]
    ids = [client_id for client_id, _secret in clients]
    if len(set(ids)) != len(ids):
        raise UsageError("a client id is given twice (--client, --clients-file); give each client once")
    return clients


def missing_dependency() -> str | None:
    """The name of a package that `serve` needs and this interpreter cannot import, else None."""
    for name in DEPENDENCIES:
        try:
            __import__(name)
        except ImportError as exc:  # also a package of its own that is missing (trustme needs cryptography)
            return exc.name or name
    return None


def dependency_hint(missing: str, command: str) -> str:
    """One line for stderr: what is missing, for which interpreter, and the command that works on a fresh clone."""
    script = Path(__file__).resolve()
    root = script.parents[2]  # the repository: tests/emulator/<script>
    where = "" if Path.cwd().resolve() == root else f" in {root}"
    return (
        f"{script.name}: error: the Python package '{missing}' is missing for {sys.executable}. On a fresh clone, run{where}: "
        f"make venv && .venv/bin/python {script.relative_to(root)} {command} ..."
    )


def _tls_context(state_fd: int) -> ssl.SSLContext:
    # Imported here: only `serve` needs it, and main() checks that it is there first.
    import trustme  # pylint: disable=import-outside-toplevel

    ca = trustme.CA(organization_name="Zoho Accounts emulator (throwaway test CA)")
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    server_cert.configure_cert(context)
    _write_atomic(state_fd, CA_FILE, ca.cert_pem.bytes().decode("ascii"))
    return context


def _handoff(args: argparse.Namespace, state_fd: int) -> list[tuple[str, str]]:
    """The clients that start handed over on standard input (JSON), after checking that this is the
    very directory start checked. Raises UsageError."""
    try:
        handoff = json.loads(sys.stdin.buffer.read())  # from start, whose checks capped the clients
        clients = [(str(client_id), str(secret)) for client_id, secret in handoff["clients"]]
        expected = tuple(handoff["state_dir"])
    except (ValueError, KeyError, TypeError):
        raise UsageError("--from-start: standard input is not what start hands over; run start, or serve without it") from None
    here = os.fstat(state_fd)
    if expected != (here.st_dev, here.st_ino):
        raise UsageError(f"--state-dir {args.state_dir} was replaced while the emulator started; start it again")
    return clients


def cmd_serve(args: argparse.Namespace) -> int:
    state_fd = _state_dir(args.state_dir, create=True)
    assert state_fd is not None
    clients = _handoff(args, state_fd) if args.from_start else _clients(args)
    os.fchdir(state_fd)  # stop and start recognise their serve process by it (/proc/PID/cwd)
    context = _tls_context(state_fd)
    state = EmulatorState()
    for client_id, secret in clients:
        state.add_client(client_id, secret)

    server = EmulatorServer(args.port, state, context)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="emulator-http", daemon=True)
    thread.start()

    ca_path = os.path.join(os.path.abspath(args.state_dir), CA_FILE)
    info = {"url": server.base_url, "port": server.server_port, "ca_path": ca_path, "pid": os.getpid(), "admin_url": server.admin_url}
    _write_atomic(state_fd, INFO_FILE, json.dumps(info, indent=2) + "\n")
    print(f"zoho accounts emulator listening on {server.base_url} (pid {os.getpid()})", file=sys.stderr, flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.shutdown()
        server.server_close()
        if (_read_info(state_fd) or {}).get("pid") == os.getpid():
            _unlink(state_fd, INFO_FILE)
        print("zoho accounts emulator stopped", file=sys.stderr, flush=True)
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    clients = _clients(args)  # read (and checked) before anything is made or started
    state_fd = _state_dir(args.state_dir, create=True)
    assert state_fd is not None
    if (info := _running_info(state_fd)) is not None:
        print(json.dumps(info, indent=2))
        return 0
    _unlink(state_fd, INFO_FILE)  # stale: its process is gone or not ours
    log_fd = _open_log(state_fd, args.state_dir, args.log_file)
    # The clients go to serve on a pipe, never on its command line: /proc/PID/cmdline is world-readable.
    command = [sys.executable, str(Path(__file__).resolve()), "serve", "--state-dir", os.path.abspath(args.state_dir), "--port", str(args.port), "--from-start"]
    with open(log_fd, "a+b") as log:
        # Not a with-block: the server must outlive this command.
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return _await_serve(args, process, clients, state_fd, log)


def _await_serve(args: argparse.Namespace, process: subprocess.Popen[bytes], clients: list[tuple[str, str]], state_fd: int, log: Any) -> int:
    """Hand the clients to serve and wait until it answers; on failure, show the end of its log."""
    here = os.fstat(state_fd)
    try:
        assert process.stdin is not None
        with process.stdin:
            with contextlib.suppress(BrokenPipeError):  # serve died at once; its log says why, below
                process.stdin.write(json.dumps({"clients": clients, "state_dir": [here.st_dev, here.st_ino]}).encode())
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and process.poll() is None:
            info = _read_info(state_fd)
            if info and info["pid"] == process.pid and _healthy(info, state_fd):
                print(json.dumps(info, indent=2))
                return 0
            time.sleep(0.05)
    except BaseException:
        process.kill()
        process.wait()
        raise

    if process.poll() is None:
        process.kill()
        process.wait()
    log.seek(max(0, os.fstat(log.fileno()).st_size - 20000))
    tail = log.read().decode("utf-8", errors="replace").splitlines()[-30:]
    log_name = args.log_file or os.path.join(args.state_dir, LOG_FILE)
    print(f"emulator did not become ready (exit code {process.returncode}); last lines of {log_name}:", file=sys.stderr)
    print("\n".join(tail), file=sys.stderr)
    return 1


def cmd_stop(args: argparse.Namespace) -> int:
    state_fd = _state_dir(args.state_dir)
    if state_fd is None:
        print("emulator not running")
        return 0
    info = _read_info(state_fd)
    pid = info["pid"] if info else None
    if pid is None or not _pid_alive(pid) or not _is_emulator(pid, state_fd):
        _unlink(state_fd, INFO_FILE)
        print("emulator not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(pid):
        print(f"emulator pid {pid} ignored SIGTERM; sending SIGKILL", file=sys.stderr)
        os.kill(pid, signal.SIGKILL)
        while _pid_alive(pid) and time.monotonic() < deadline + args.timeout:
            time.sleep(0.05)
    _unlink(state_fd, INFO_FILE)
    print(f"emulator pid {pid} stopped")
    return 0


def cmd_mint_code(args: argparse.Namespace) -> int:
    state_fd = _state_dir(args.state_dir)
    info = _running_info(state_fd) if state_fd is not None else None
    cadata = _cadata(state_fd) if state_fd is not None else None
    if info is None or cadata is None:
        print(f"no running emulator in {args.state_dir}", file=sys.stderr)
        return 1
    payload: dict[str, Any] = {"client_id": args.client_id, "access_type": args.access_type, "user": args.user}
    for key, value in (("scope", args.scope), ("ttl", args.ttl), ("redirect_uri", args.redirect_uri)):
        if value is not None:
            payload[key] = value
    try:
        print(admin_call(info, cadata, "POST", "/codes", payload)["code"])
    except (OSError, ValueError) as exc:
        print(f"mint-code failed: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Zoho Accounts OAuth 2.0 emulator (HTTPS on 127.0.0.1, for tests only).")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_state_dir(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--state-dir", required=True, help="holds ca.pem, emulator.json and emulator.log")
        return sub

    for name, help_text in (("serve", "run in the foreground until SIGTERM/SIGINT"), ("start", "run in the background, print emulator.json")):
        sub = with_state_dir(name, help_text)
        sub.add_argument("--port", type=int, default=0, help="0 picks a free port")
        sub.add_argument(
            "--client", type=_parse_client, action="append", metavar="ID:SECRET",
            help="register a client (repeatable); other local users can see it in the process list while the command runs",
        )
        sub.add_argument("--clients-file", metavar="FILE", help="register the clients of FILE (- for standard input): ID:SECRET lines, mode 0600")
        if name == "serve":
            sub.add_argument("--from-start", action="store_true", help=argparse.SUPPRESS)  # clients and the directory's identity on stdin
        if name == "start":
            sub.add_argument("--log-file", help="default: STATE_DIR/emulator.log")
            sub.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for readiness")

    stop = with_state_dir("stop", "stop the background emulator")
    stop.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for exit")

    mint = with_state_dir("mint-code", "mint a grant code and print it")
    mint.add_argument("--client-id", required=True)
    mint.add_argument("--scope", action="append", help="repeatable; default Thrive.Referral.CREATE")
    mint.add_argument("--ttl", type=float, help="seconds of validity (default 180)")
    mint.add_argument("--redirect-uri", help="bind the code to this redirect_uri (default: self-client code)")
    mint.add_argument("--access-type", choices=("offline", "online"), default="offline")
    mint.add_argument("--user", default="default")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("serve", "start") and (missing := missing_dependency()) is not None:
        print(dependency_hint(missing, args.command), file=sys.stderr)
        return 2
    commands = {"serve": cmd_serve, "start": cmd_start, "stop": cmd_stop, "mint-code": cmd_mint_code}
    try:
        return commands[args.command](args)
    except (UsageError, OSError) as exc:
        print(f"{Path(__file__).name}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
