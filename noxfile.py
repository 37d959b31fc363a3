# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nox sessions of zohothrive.oauth.

- antsibull-nox's sessions, configured in antsibull-nox.toml: ansible-lint, docs-check,
  extra-checks, build-import-check (`make lint`) and molecule (`make molecule`).
- The ansible-core matrix: ``units-MINOR`` (ansible-test units with that ansible-core and its one
  Python) and ``system-MINOR`` (the end-to-end suite in tests/system), for every supported minor
  older than the one in .venv, each in a venv from tests/requirements-core-MINOR.txt.

`make` runs them through tests/tools/run-nox, from the collection copy in .build (antsibull-nox and
ansible-test need .../ansible_collections/zohothrive/oauth), with HOME, PATH (real interpreters
first, see tests/tools/make-pybin) and ZT_ROOT (the checkout) set by tests/tools/lib.bash.
`nox --list` shows the sessions.
"""

from __future__ import annotations

import glob
import os
import sys

import nox

try:
    import antsibull_nox
except ImportError:
    print("noxfile.py: antsibull-nox is missing; run nox from .venv (make venv)", file=sys.stderr)
    sys.exit(1)

antsibull_nox.load_antsibull_nox_toml()

# Every supported ansible-core minor older than .venv's (2.21), with the Python its leg runs on.
# Each has a tests/requirements-core-MINOR.txt; the Makefile finds the minors from those files.
CORE_LEGS = {"2.17": "3.11", "2.18": "3.11", "2.19": "3.13", "2.20": "3.13"}
_PINNED = sorted(path[len("tests/requirements-core-") : -len(".txt")] for path in glob.glob("tests/requirements-core-*.txt"))
if _PINNED and _PINNED != sorted(CORE_LEGS):
    print(f"noxfile.py: CORE_LEGS ({', '.join(sorted(CORE_LEGS))}) and tests/requirements-core-*.txt ({', '.join(_PINNED)}) differ", file=sys.stderr)
    sys.exit(1)

VERSIONS = "import sys, ansible.release; print('ansible-core %s, Python %d.%d' % ((ansible.release.__version__,) + sys.version_info[:2]))"


def _checkout(session: nox.Session) -> str:
    root = os.environ.get("ZT_ROOT")
    if not root:
        session.error("ZT_ROOT (the checkout) is not set: run the session through make or tests/tools/run-nox")
    return root


def _units(minor: str, python: str) -> None:
    def units(session: nox.Session) -> None:
        session.install("-r", f"tests/requirements-core-{minor}.txt")
        session.run("python", "-c", VERSIONS)
        if not any(name.startswith("test_") and name.endswith(".py") for walked in os.walk("tests/unit") for name in walked[2]):
            session.error("no unit tests (tests/unit/**/test_*.py) found")
        # ansible-test's venvs bootstrap pip from a host CI cannot reach: seed its cache with this
        # ansible-test's pip versions (tests/tools/seed-ansible-test-cache).
        session.run("python", "tests/tools/seed-ansible-test-cache", "--home", os.environ["HOME"])
        session.run("ansible-test", "units", "--venv", "--color", "no", "--python", python, *session.posargs)

    units.__doc__ = f"ansible-test units on ansible-core {minor}, Python {python}"
    nox.session(name=f"units-{minor}", python=python, default=False)(units)


def _system(minor: str, python: str) -> None:
    def system(session: nox.Session) -> None:
        session.install("-r", f"tests/requirements-core-{minor}.txt")
        session.run("python", "-c", VERSIONS)
        # From the checkout, as `make system` runs it; the collection comes from
        # ANSIBLE_COLLECTIONS_PATH (the copy). pytest's "no tests collected" (5) fails the session.
        session.chdir(_checkout(session))
        session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests/system", *session.posargs)

    system.__doc__ = f"tests/system (end to end) on ansible-core {minor}, Python {python}"
    nox.session(name=f"system-{minor}", python=python, default=False)(system)


for _minor, _python in CORE_LEGS.items():
    _units(_minor, _python)
    _system(_minor, _python)
