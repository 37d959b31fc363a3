# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test doubles shared by the unit tests: a scripted fake of ``requests.Session``.

A :class:`FakeSession` answers requests from a script, one step per request. A step is a
:class:`FakeResponse` or an exception instance (raised as if ``requests`` had raised it).
Every request is recorded, so tests can assert how many requests were sent, where, and that
secrets travelled only in ``data=``. A request beyond the end of the script fails the test.

The client prepares a request (``prepare_request``, ``merge_environment_settings``), then
sends it (``send``); the older ``post()`` path is kept for tests that call it directly. A
:class:`FakeResponse` body is read through ``raw.read1()`` in the given ``chunks``; ``on_read``
runs before each read (for example to advance a fake monotonic clock).
"""

from __future__ import annotations

import json
import typing as t
import uuid
from dataclasses import dataclass, field

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

NOW = 1_800_000_000.0  # fixed clock for client tests (epoch seconds)
TOKEN_URL_US = "https://accounts.zoho.com/oauth/v2/token"


def sentinel(kind: str) -> str:
    """A unique, Zoho-looking secret that cannot occur by accident in any message."""
    return f"1000.ZSEC{kind}{uuid.uuid4().hex}"


@dataclass
class FakeResponse:
    status_code: int = 200
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None  # how raw.read1() hands out the body; default: 16 KiB pieces of content
    on_read: t.Callable[[], None] | None = None
    read_error: BaseException | None = None  # raised by raw.read1() once the chunks are exhausted
    closed: bool = field(default=False, init=False)
    _raw: t.Any = field(default=None, init=False, repr=False)

    @property
    def raw(self) -> FakeRaw:
        if self._raw is None:
            chunks = self.chunks if self.chunks is not None else [self.content[i : i + 16384] for i in range(0, len(self.content), 16384)]
            self._raw = FakeRaw(list(chunks), self.on_read, self.read_error)
        return self._raw

    def close(self) -> None:
        self.closed = True


class FakeRaw:
    """The ``raw`` stream of a :class:`FakeResponse`: ``read1`` returns at most one chunk per call."""

    def __init__(self, chunks: list[bytes], on_read: t.Callable[[], None] | None, read_error: BaseException | None) -> None:
        self.chunks = chunks
        self.on_read = on_read
        self.read_error = read_error
        self.reads = 0
        self.bytes_read = 0

    def read1(self, amt: int = -1, decode_content: bool = False) -> bytes:
        self.reads += 1
        if self.on_read is not None:
            self.on_read()
        if not self.chunks:
            if self.read_error is not None:
                raise self.read_error
            return b""
        chunk = self.chunks.pop(0)
        if 0 < amt < len(chunk):
            self.chunks.insert(0, chunk[amt:])
            chunk = chunk[:amt]
        self.bytes_read += len(chunk)
        return chunk


def json_response(payload: t.Any, *, status: int = 200, headers: dict[str, str] | None = None) -> FakeResponse:
    merged = {"Content-Type": "application/json;charset=UTF-8"}
    merged.update(headers or {})
    return FakeResponse(status_code=status, content=json.dumps(payload).encode("utf-8"), headers=merged)


def html_response(*, status: int = 200, headers: dict[str, str] | None = None) -> FakeResponse:
    merged = {"Content-Type": "text/html; charset=utf-8"}
    merged.update(headers or {})
    body = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
    return FakeResponse(status_code=status, content=body, headers=merged)


def token_payload(access_token: str = "1000.access.token", *, refresh_token: str | None = "1000.refresh.token", **extra: t.Any) -> dict[str, t.Any]:
    payload: dict[str, t.Any] = {
        "access_token": access_token,
        "api_domain": "https://www.zohoapis.com",
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "Thrive.Referral.CREATE",
    }
    if refresh_token is not None:
        payload["refresh_token"] = refresh_token
    payload.update(extra)
    return payload


# -- realistic requests exceptions ---------------------------------------------------------


def connection_refused() -> requests.exceptions.ConnectionError:
    """What requests raises when the TCP connection is refused (nothing was sent)."""
    inner = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/oauth/v2/token", inner))


def connect_timeout() -> requests.exceptions.ConnectTimeout:
    return requests.exceptions.ConnectTimeout("Connection to accounts.zoho.com timed out. (connect timeout=10)")


def read_timeout() -> requests.exceptions.ReadTimeout:
    return requests.exceptions.ReadTimeout("HTTPSConnectionPool(host='accounts.zoho.com', port=443): Read timed out. (read timeout=30)")


def reset_after_send() -> requests.exceptions.ConnectionError:
    """What requests raises when the peer resets the connection after the request went out."""
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")))


def tls_failure() -> requests.exceptions.SSLError:
    return requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain")


# -- the fake session ----------------------------------------------------------------------


@dataclass
class Call:
    url: str
    data: t.Any
    kwargs: dict[str, t.Any]


class FakeSession:
    """Scripted stand-in for ``requests.Session``; records every request sent (``send()`` or ``post()``).

    ``prepare_request`` builds a real :class:`requests.PreparedRequest` (so URL errors are real)
    and ``merge_environment_settings`` ignores the environment (no proxies, no CA variables).
    ``prepared`` counts the requests prepared, sent or not.
    """

    def __init__(self, *steps: t.Any) -> None:
        self.steps: list[t.Any] = list(steps)
        self.calls: list[Call] = []
        self.headers: dict[str, str] = {}
        self.auth: t.Any = None
        self.prepared = 0

    def add(self, *steps: t.Any) -> FakeSession:
        self.steps.extend(steps)
        return self

    def prepare_request(self, request: t.Any) -> requests.PreparedRequest:
        self.prepared += 1
        prepared = requests.PreparedRequest()
        prepared.prepare(method=request.method, url=request.url, headers=dict(self.headers), data=request.data)
        prepared.fake_form = request.data  # type: ignore[attr-defined]
        return prepared

    def merge_environment_settings(self, url: str, proxies: t.Any, stream: t.Any, verify: t.Any, cert: t.Any) -> dict[str, t.Any]:
        return {"proxies": dict(proxies or {}), "stream": stream, "verify": verify, "cert": cert}

    def send(self, prepared: t.Any, **kwargs: t.Any) -> FakeResponse:
        return self._answer(Call(url=prepared.url, data=getattr(prepared, "fake_form", prepared.body), kwargs=kwargs))

    def post(self, url: str, data: t.Any = None, **kwargs: t.Any) -> FakeResponse:
        return self._answer(Call(url=url, data=data, kwargs=kwargs))

    def _answer(self, call: Call) -> FakeResponse:
        self.calls.append(call)
        if not self.steps:
            raise AssertionError(f"unexpected request #{len(self.calls)} to {call.url}: the test scripted no further answer")
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step

    def assert_secrets_only_in_body(self, *secrets: str) -> None:
        """Each secret must be absent from every URL, header and keyword argument but ``data``."""
        for call in self.calls:
            for secret in secrets:
                assert secret not in call.url, f"secret in URL {call.url}"
                assert secret not in repr(call.kwargs), "secret outside the form body"
                assert secret not in repr(self.headers), "secret in a session header"


class FakeMonotonic:
    """A monotonic clock (seconds) that moves only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """Records the delays a client asked to sleep for, instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class TrackedList(list):
    """A recorder a test fills from inside a module run, copied back after the run.

    Module runs happen in a forked process (``run_module`` in ``conftest.py``); register the
    list with ``run_module.track(the_list)`` so the parent sees what the child appended.
    """

    def child_start(self) -> None:
        return None

    def export_state(self) -> list[t.Any]:
        return list(self)

    def absorb_state(self, state: list[t.Any]) -> None:
        self[:] = state


__all__ = (
    "NOW",
    "TOKEN_URL_US",
    "Call",
    "FakeMonotonic",
    "FakeRaw",
    "FakeResponse",
    "FakeSession",
    "Recorder",
    "TrackedList",
    "connect_timeout",
    "connection_refused",
    "html_response",
    "json_response",
    "read_timeout",
    "reset_after_send",
    "sentinel",
    "tls_failure",
    "token_payload",
)
