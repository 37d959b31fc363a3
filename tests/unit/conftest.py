# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures shared by the unit tests.

- Every test runs without the ``ZOHO_THRIVE_*`` environment variables, so a developer's shell
  cannot change a result.
- ``run_module`` runs a module's ``main()`` with the given arguments and returns its parsed JSON
  result (``exit_json`` and ``fail_json`` both end in ``SystemExit``).
- ``zoho`` replaces the HTTP layer of the modules: ``ZohoOAuthClient`` is built with a scripted
  :class:`FakeSession` and a sleep recorder, and the constructor arguments are kept.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import select
import signal
import sys
import time
import traceback
import typing as t
import warnings

import pytest
from _pytest.reports import TestReport
from _pytest.runner import runtestprotocol

from ansible_collections.zohothrive.oauth.plugins.module_utils import _client, _options
from ansible_collections.zohothrive.oauth.tests.unit.fakes import FakeSession, Recorder


ENV_VARS = ("ZOHO_THRIVE_CLIENT_ID", "ZOHO_THRIVE_CLIENT_SECRET", "ZOHO_THRIVE_DATA_CENTER", "ZOHO_THRIVE_ACCOUNTS_URL")


@pytest.fixture
def umask_000() -> t.Iterator[None]:
    """Run a test under umask 000, where a careless create would be world-writable."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


class ModuleResult(dict):
    """The parsed JSON a module printed, plus the exit status and the raw output."""

    rc: int
    stdout: str

    @property
    def failed(self) -> bool:
        return bool(self.get("failed"))

    @property
    def echoed_args(self) -> dict[str, t.Any] | None:
        """The arguments the module echoed in ``invocation``, or None where it did not echo them.

        ansible-core up to 2.18 always echoes them; from 2.19 only when the controller asks
        (INJECT_INVOCATION). Tests about masking also count the secrets in the whole output,
        which holds on every version.
        """
        return (self.get("invocation") or {}).get("module_args")

    @property
    def warning_messages(self) -> list[str]:
        """Warning texts from the result: plain strings (up to 2.18) or WarningSummary dicts (2.19+)."""
        messages = []
        for warning in self.get("warnings", []):
            if isinstance(warning, dict):
                warning = (warning.get("event") or {}).get("msg", warning.get("msg"))
            messages.append(str(warning))
        return messages


class Tracked(t.Protocol):
    """State that a module run changes in its own process and the test reads afterwards."""

    def child_start(self) -> None:
        """Called in the child before the module runs."""

    def export_state(self) -> t.Any:
        """Called in the child after the module ran: what to send back (picklable)."""

    def absorb_state(self, state: t.Any) -> None:
        """Called in the parent with what export_state returned."""


class ModuleRunner:
    """Runs a module's ``main()`` the way Ansible runs a module: in a process of its own.

    Each run forks the test process. The child gets its arguments the way a module debugged by
    hand does (``sys.argv[1]`` names a JSON file of ``ANSIBLE_MODULE_ARGS``), prints its result
    to its own stdout and exits; ansible-core's process-wide state (the parsed arguments, the
    recorded warnings and deprecations) dies with it, so nothing leaks from one run into the
    next and no ansible-core internal is touched. This works unchanged on every ansible-core
    the collection supports. Warnings are read from the module's result, as Ansible reads them.

    The child inherits the test's monkeypatches and fakes. What it changes in them (the requests
    the fake Zoho received, a recorder's entries) is sent back over a pipe with the result and
    absorbed by the objects registered with :meth:`track`.
    """

    def __init__(self, tmp_dir: str) -> None:
        self._tmp_dir = tmp_dir
        self._tracked: list[Tracked] = []
        self._runs = 0

    def track(self, obj: Tracked) -> None:
        self._tracked.append(obj)

    def __call__(self, module: t.Any, args: dict[str, t.Any], *, check_mode: bool = False) -> ModuleResult:
        _refuse_controller_process()
        full = dict(args)
        if check_mode:
            full["_ansible_check_mode"] = True
        self._runs += 1
        args_path = os.path.join(self._tmp_dir, f"module-args-{self._runs}.json")
        with open(args_path, "w", encoding="utf-8") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": full}, handle)
        outcome = run_forked(lambda: self._child(module, args_path))
        if "error" in outcome:
            raise AssertionError(f"the module process failed:\n{outcome['error']}")
        report = outcome["value"]
        if "error" in report:
            raise AssertionError(f"the module run raised instead of exiting through exit_json/fail_json:\n{report['error']}")
        for obj, state in zip(self._tracked, report["tracked"]):
            obj.absorb_state(state)
        out = report["stdout"]
        assert out.strip(), f"the module printed nothing (stderr: {report['stderr']!r})"
        try:  # Ansible tolerates text around the result; a module of ours prints exactly one object
            data = json.loads(out)
        except ValueError:
            raise AssertionError(f"the module's stdout is not exactly one JSON object:\n{out[:4000]}") from None
        assert isinstance(data, dict), f"the module printed JSON that is not an object: {out[:200]}"
        assert not report["stderr"], f"the module wrote to stderr: {report['stderr'][:4000]}"
        result = ModuleResult(data)
        result.rc = report["rc"]
        result.stdout = out
        assert result.rc == (1 if result.failed else 0), f"exit status {result.rc} does not match failed={result.failed}"
        return result

    def _child(self, module: t.Any, args_path: str) -> dict[str, t.Any]:
        """Run in the forked child: the module's main(), its output and the tracked state."""
        report: dict[str, t.Any] = {}
        stdout, stderr = io.StringIO(), io.StringIO()
        try:
            for obj in self._tracked:
                obj.child_start()
            sys.argv = [module.__name__, args_path]
            sys.stdout, sys.stderr = stdout, stderr
            try:
                module.main()
            except SystemExit as exit_info:
                report["rc"] = int(exit_info.code or 0)
            else:
                report["error"] = "main() returned without calling exit_json or fail_json"
            report["tracked"] = [obj.export_state() for obj in self._tracked]
        except BaseException:  # noqa: B036 - everything is reported to the parent
            report["error"] = traceback.format_exc()
        report["stdout"], report["stderr"] = stdout.getvalue(), stderr.getvalue()
        return report


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "controller: the test imports Ansible's controller; it runs in a forked process of its own")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """Run a test marked ``controller`` (setup, call, teardown) in a forked process of its own.

    Importing Ansible's controller switches ansible-core 2.19+ into controller mode for the
    whole process, and module runs forked from that process would send their warnings to the
    display. pytest-forked did this job, but it needs ``py.process``, which pytest 9 no longer
    provides. The child sends its reports back through pytest's own report serialisation.
    """
    if item.get_closest_marker("controller") is None:
        return None
    hook = item.ihook
    hook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in _forked_reports(item, nextitem):
        hook.pytest_runtest_logreport(report=report)
    # What earlier, unforked tests set up in this process and nextitem does not need ends here, as
    # pytest's own protocol would end it (pytest has no public API for this step).
    item.session._setupstate.teardown_exact(nextitem)  # pylint: disable=protected-access
    hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test file is all ``controller`` tests or none: fixtures of a wider scope cannot span both."""
    marked: dict[str, set[bool]] = {}
    for item in items:
        marked.setdefault(str(item.fspath), set()).add(item.get_closest_marker("controller") is not None)
    mixed = sorted(path for path, kinds in marked.items() if len(kinds) > 1)
    if mixed:
        raise pytest.UsageError(f"mark every test of a file 'controller' or none: {', '.join(mixed)}")


def _forked_reports(item: pytest.Item, nextitem: pytest.Item | None) -> list[t.Any]:
    def child() -> t.Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            reports = runtestprotocol(item, log=False, nextitem=nextitem)
        return {
            "reports": [item.config.hook.pytest_report_to_serializable(config=item.config, report=report) for report in reports],
            "warnings": [(str(w.message), w.category, w.filename, w.lineno) for w in caught],
        }

    outcome = run_forked(child)
    if "error" in outcome:
        message = f"the forked test process failed:\n{outcome['error']}"
        return [TestReport(item.nodeid, item.location, dict.fromkeys(item.keywords, 1), "failed", message, "call")]
    for message, category, filename, lineno in outcome["value"]["warnings"]:  # shown in pytest's summary
        warnings.warn_explicit(message, category, filename, lineno)
    return [item.config.hook.pytest_report_from_serializable(config=item.config, data=data) for data in outcome["value"]["reports"]]


FORK_TIMEOUT = float(os.environ.get("ZT_FORK_TIMEOUT", "300"))


def run_forked(function: t.Callable[[], t.Any], timeout: float = FORK_TIMEOUT) -> dict[str, t.Any]:
    """Call ``function`` in a forked child; return ``{"value": ...}`` or ``{"error": message}``.

    The value travels back pickled over a pipe. The child leaves through ``os._exit``, so no
    pytest teardown or atexit handler of the parent runs twice. A child that is still running
    after ``timeout`` seconds (``ZT_FORK_TIMEOUT``, default 300) is killed; one that dies, or
    leaves an unreadable report, is an error.
    """
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():
        # pytest-xdist's worker threads only move test reports; the child starts no thread.
        warnings.filterwarnings("ignore", message=".*fork\\(\\) may lead to deadlocks", category=DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its coverage is not collected
        os.close(read_end)
        try:
            payload = pickle.dumps({"value": function()})
        except BaseException:  # noqa: B036 - everything is reported to the parent
            payload = pickle.dumps({"error": traceback.format_exc()})
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    timed_out = False
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([pipe], [], [], remaining)[0]:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
                break
            chunk = pipe.read(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if timed_out:
        return {"error": f"the child process was killed after {timeout:g} s (ZT_FORK_TIMEOUT)"}
    payload = b"".join(chunks)
    if status != 0 or not payload:
        how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        return {"error": f"the child process died without a complete report ({how})"}
    try:
        return pickle.loads(payload)
    except Exception:  # noqa: BLE001 - an unreadable report fails the test, not the session
        return {"error": "the child's report could not be read:\n" + traceback.format_exc()}


def _refuse_controller_process() -> None:
    """Module code must run in a process that never imported Ansible's controller.

    Once ``ansible.errors`` or another controller package is imported, ansible-core (2.19+)
    sends module warnings to the controller's display instead of the module result. Tests that
    need the controller (the lookup tests) therefore run forked (``pytest.mark.controller``).
    """
    controller = sorted(name for name in ("ansible.errors", "ansible.plugins", "ansible.template", "ansible._internal") if name in sys.modules)
    assert not controller, f"controller code ({', '.join(controller)}) was imported into the unit test process: mark that test 'controller'"


@pytest.fixture
def run_module(tmp_path_factory: pytest.TempPathFactory) -> ModuleRunner:
    """Run ``module.main()`` with ``args`` in a process of its own and return the parsed result."""
    return ModuleRunner(str(tmp_path_factory.mktemp("module-args")))


class ZohoHTTP:
    """What the ``zoho`` fixture gives a test: the fake session and what the modules asked for."""

    def __init__(self) -> None:
        self.session = FakeSession()
        self.sleep = Recorder()
        self.clients: list[dict[str, t.Any]] = []
        self._steps_at_start = 0

    def add(self, *steps: t.Any) -> ZohoHTTP:
        self.session.add(*steps)
        return self

    @property
    def calls(self) -> list[t.Any]:
        return self.session.calls

    def export_state(self) -> dict[str, t.Any]:
        session = self.session
        return {
            "calls": session.calls,
            "consumed": self._steps_at_start - len(session.steps),
            "prepared": session.prepared,
            "headers": session.headers,
            "delays": self.sleep.delays,
            # A client's callbacks (its warn function) stay in the child: tests read its settings.
            "clients": [{key: f"<callable {value!r}>" if callable(value) else value for key, value in client.items()} for client in self.clients],
        }

    def absorb_state(self, state: dict[str, t.Any]) -> None:
        session = self.session
        assert state["consumed"] >= 0, "the module run added scripted answers: add them in the test"
        session.calls[:] = state["calls"]
        del session.steps[: state["consumed"]]
        session.prepared = state["prepared"]
        session.headers = state["headers"]
        self.sleep.delays[:] = state["delays"]
        self.clients[:] = state["clients"]

    def child_start(self) -> None:
        self._steps_at_start = len(self.session.steps)


@pytest.fixture
def zoho(monkeypatch: pytest.MonkeyPatch, run_module: ModuleRunner) -> ZohoHTTP:
    """Build every module's ZohoOAuthClient with a scripted fake session and no real sleeping."""
    http = ZohoHTTP()
    real_client = _client.ZohoOAuthClient

    def build(accounts_url: str, **kwargs: t.Any) -> _client.ZohoOAuthClient:
        http.clients.append(dict(kwargs, accounts_url=accounts_url))
        kwargs.setdefault("session", http.session)
        kwargs.setdefault("sleep", http.sleep)
        return real_client(accounts_url, **kwargs)

    monkeypatch.setattr(_options, "ZohoOAuthClient", build)

    def no_real_session() -> t.NoReturn:
        raise AssertionError("a real requests.Session was created: the test would reach the network")

    monkeypatch.setattr(_client.requests, "Session", no_real_session)
    run_module.track(http)
    return http
