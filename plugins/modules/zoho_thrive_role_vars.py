#!/usr/bin/python
# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: zoho_thrive_role_vars
short_description: Warn about role variables that a role does not know, naming the closest known one
version_added: 0.1.0
description:
  - Compares the variable names given to a role (all names with the role's prefix that are defined for the hosts of the play)
    with the names the role documents, and warns once about each unknown name, with the closest documented name.
  - A misspelled variable (C(thrive_tokens_config_fromat)) is otherwise silently ignored, and the role uses the default of the
    variable that was meant.
  - Used by the role C(zohothrive.oauth.thrive_tokens) in its first step. Sends nothing anywhere, reads nothing and
    changes nothing; standard library only.
author:
  - Zoho Thrive OAuth maintainers (@zohothrive)
extends_documentation_fragment:
  - zohothrive.oauth.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - It only compares names; it never reports a change.
options:
  prefix:
    description:
      - The prefix of the role's variables. Every unknown name in O(given) with this prefix is reported.
      - A name without it (a misspelled prefix such as C(thrive_token_config_format)) is reported only when it is close to a
        documented name, so that the play's own variables are left alone. Names that start with two underscores (internal
        variables) are never reported.
    type: str
    required: true
  known:
    description: The variable names that the role documents (for example the options of its C(meta/argument_specs.yml)).
    type: list
    elements: str
    required: true
  given:
    description: The variable names defined for the hosts of the play. Duplicates are ignored.
    type: list
    elements: str
    required: true
  role:
    description: The role's name, used in the warnings.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Warn about misspelled thrive_tokens_* variables
  zohothrive.oauth.zoho_thrive_role_vars:
    role: zohothrive.oauth.thrive_tokens
    prefix: thrive_tokens_
    known: "{{ (lookup('ansible.builtin.file', role_path ~ '/meta/argument_specs.yml') | from_yaml).argument_specs.main.options.keys() }}"
    given: "{{ query('ansible.builtin.varnames', '^thrive_tokens_') }}"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
unknown:
  description: The unknown names, sorted, each with the closest known name (empty when none is close).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The unknown variable name.
      type: str
    closest:
      description: The closest documented variable name, or an empty string.
      type: str
  sample: [{"name": "thrive_tokens_config_fromat", "closest": "thrive_tokens_config_format"}]
"""

import difflib
import typing as t

from ansible.module_utils.basic import AnsibleModule


CLOSE = 0.75  # difflib ratio from which a known name is offered as the one meant
CLOSE_WITHOUT_PREFIX = 0.9  # a name without the prefix is reported only when this close to a known one


def unknown_names(*, prefix: str, known: t.Iterable[str], given: t.Iterable[str]) -> list[dict[str, str]]:
    """The unknown names of ``given`` that look like the role's, each with the closest known name.

    A name with ``prefix`` is reported whenever it is not in ``known``; one without it only when a
    known name is at least :data:`CLOSE_WITHOUT_PREFIX` similar (a misspelled prefix). Returns
    ``[{"name": ..., "closest": ...}]`` sorted by name; ``closest`` is "" when no known name is at
    least :data:`CLOSE` similar (``difflib`` ratio).
    """
    known_names = sorted(set(known))
    found = []
    for name in sorted(set(given)):
        if name.startswith("__") or name in known_names:
            continue
        cutoff = CLOSE if name.startswith(prefix) else CLOSE_WITHOUT_PREFIX
        matches = difflib.get_close_matches(name, known_names, n=1, cutoff=cutoff)
        if matches or name.startswith(prefix):
            found.append({"name": name, "closest": matches[0] if matches else ""})
    return found


def warning_for(entry: t.Mapping[str, str], role: str) -> str:
    hint = f" Did you mean {entry['closest']}?" if entry["closest"] else ""
    return f"{role} does not know the variable {entry['name']}, so it has no effect.{hint} The role's variables are listed by ansible-doc -t role {role}."


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "prefix": {"type": "str", "required": True},
            "known": {"type": "list", "elements": "str", "required": True},
            "given": {"type": "list", "elements": "str", "required": True},
            "role": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    found = unknown_names(prefix=module.params["prefix"], known=module.params["known"], given=module.params["given"])
    for entry in found:
        module.warn(warning_for(entry, module.params["role"]))
    module.exit_json(changed=False, unknown=found)


if __name__ == "__main__":
    main()
