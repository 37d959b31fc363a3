# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The boundary between code that runs on target hosts and code that runs on the controller (issue 9, item 3).

Every module_utils file says where it runs ("Runs on: targets ..." or "Runs on: the controller.")
in its docstring. What runs on targets, the zoho_thrive_config module and the module_utils files
marked for targets, imports only Python's standard library, ansible.module_utils and other
target-side files: a target may have nothing but a bare system Python (PyYAML is imported lazily,
only for ``format: yaml``). The controller side (requests, hvac) stays out.
"""

from __future__ import annotations

import ast
import pkgutil
import sys
import sysconfig
import typing as t
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODULE_UTILS = ROOT / "plugins" / "module_utils"
TARGET_MODULES = [ROOT / "plugins" / "modules" / "zoho_thrive_config.py", ROOT / "plugins" / "modules" / "zoho_thrive_config_info.py"]
PREFIX = "ansible_collections.zohothrive.oauth.plugins.module_utils."
LAZY_OPTIONAL = {"yaml"}  # imported inside a function, only for format yaml


def stdlib_names() -> set[str]:
    names = set(getattr(sys, "stdlib_module_names", ()))
    if not names:  # Python 3.9: what the standard library's directories hold
        paths = [sysconfig.get_paths()["stdlib"], str(Path(sysconfig.get_paths()["stdlib"]) / "lib-dynload")]
        names = {module.name for module in pkgutil.iter_modules(paths)} | set(sys.builtin_module_names)
    return names | {"__future__"}


def where(path: Path) -> str:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    lines = [line for line in docstring.splitlines() if line.startswith("Runs on: ")]
    assert len(lines) == 1, f"{path.name}: its docstring must say once where it runs ('Runs on: targets ...' or 'Runs on: the controller.')"
    return "targets" if lines[0].startswith("Runs on: targets") else "controller"


UTILS = sorted(MODULE_UTILS.glob("_*.py"))
TARGET_UTILS = {path.stem for path in UTILS if where(path) == "targets"}


def imports(path: Path) -> t.Iterator[tuple[str, bool]]:
    """(module name, imported at the top level of the file) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, id(node) in top


def test_every_module_utils_file_says_where_it_runs() -> None:
    assert {path.stem: where(path) for path in UTILS}  # where() asserts the marker
    assert TARGET_UTILS == {"_config_file", "_config_task", "_fileio", "_fingerprint", "_labels"}


@pytest.mark.parametrize("path", [*TARGET_MODULES, *(MODULE_UTILS / f"{name}.py" for name in sorted(TARGET_UTILS))], ids=lambda path: path.name)
def test_target_side_code_imports_only_the_standard_library(path: Path) -> None:
    allowed_stdlib = stdlib_names()
    wrong = []
    for name, at_top in imports(path):
        root = name.split(".")[0]
        if name.startswith(PREFIX):
            if name[len(PREFIX) :] not in TARGET_UTILS:
                wrong.append(f"{name} (controller-side module_utils)")
        elif root == "ansible":
            if not name.startswith("ansible.module_utils"):
                wrong.append(f"{name} (only ansible.module_utils is shipped to targets)")
        elif root in LAZY_OPTIONAL:
            if at_top:
                wrong.append(f"{name} (optional: import it where format yaml needs it, not at the top)")
        elif root not in allowed_stdlib:
            wrong.append(name)
    assert wrong == []


def test_the_controller_side_is_not_reachable_from_targets() -> None:
    """A negative control: a controller-side file does import what targets must not."""
    found = {name.split(".")[0] for name, _top in imports(MODULE_UTILS / "_client.py")}
    assert "requests" in found and "requests" not in stdlib_names()
