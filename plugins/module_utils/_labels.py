# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Option names in messages, in the words the operator used (the ``option_labels`` option).

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: targets (and the controller). Standard library only (tests/unit/plugins/test_boundary.py checks it).

Runs on targets too: standard library only.

Every message and warning of the collection names an option between backticks, for example
``Check `client_secret`.``. A caller that exposes the options under other names (the
``zohothrive.oauth.thrive_tokens`` role exposes ``client_secret`` as
``thrive_tokens_client_secret``) passes ``option_labels``, and :func:`relabel` rewrites exactly
those marked names, so plain words such as "code" or "mode" in the prose never change.
"""

from __future__ import annotations

import re
import typing as t

_MARKED = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)`")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]'-]{0,99}")

OPTION_LABELS_SPEC: dict[str, t.Any] = {"type": "dict", "default": {}}


def check_labels(labels: t.Any) -> dict[str, str]:
    """Return ``labels`` (option name -> label) if every entry is a plain name; raise ``ValueError`` naming the bad one."""
    if labels is None:
        return {}
    if not isinstance(labels, t.Mapping):
        raise ValueError(f"`option_labels` must be a dictionary of option name to label, not {type(labels).__name__}.")
    checked: dict[str, str] = {}
    for name, label in labels.items():
        if not isinstance(name, str) or not _MARKED.fullmatch(f"`{name}`"):
            raise ValueError(f"`option_labels` has a key that is not an option name: {str(name)[:40]!r}.")
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            raise ValueError(f"`option_labels` gives option {name!r} a label that is not a plain variable name.")
        checked[name] = label
    return checked


def relabel(text: str, labels: t.Mapping[str, str]) -> str:
    """Rewrite each backtick-marked option name of ``text`` that ``labels`` maps; leave everything else as it is."""
    if not labels or not isinstance(text, str):
        return text
    return _MARKED.sub(lambda match: f"`{labels.get(match.group(1), match.group(1))}`", text)


__all__ = ("OPTION_LABELS_SPEC", "check_labels", "relabel")
