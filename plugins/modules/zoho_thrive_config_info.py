#!/usr/bin/python
# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: zoho_thrive_config_info
short_description: Read the Zoho OAuth tokens in an application config file
version_added: 0.1.0
description:
  - Returns the current values of some keys of a JSON, YAML, ini or env file on the target host, read as the program
    that reads the file reads them (see M(zohothrive.oauth.zoho_thrive_config) for each format), for example to decide
    whether new tokens are needed. Changes nothing.
  - The file is opened as M(zohothrive.oauth.zoho_thrive_config) opens it, so a path through a directory that someone
    else could have changed, or a symbolic link, is refused the same way.
  - Runs on the target host with nothing but Python's standard library, except for O(format=yaml).
  - Replaces O(zohothrive.oauth.zoho_thrive_config#module:state=read) of M(zohothrive.oauth.zoho_thrive_config).
author:
  - Zoho Thrive OAuth maintainers (@zohothrive)
extends_documentation_fragment:
  - zohothrive.oauth.attributes
  - zohothrive.oauth.attributes.info_module
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  path:
    description:
      - The config file. A missing file (or directory) reads as a file without the keys.
      - A symbolic link as the file itself is not followed unless O(follow=true). Every directory on the way must belong
        to root, to the user running the module or to O(owner), as for M(zohothrive.oauth.zoho_thrive_config).
    type: path
    required: true
  follow:
    description: Whether a symbolic link given as O(path) is followed (see M(zohothrive.oauth.zoho_thrive_config)).
    type: bool
    default: false
  format:
    description: How the file is read (see M(zohothrive.oauth.zoho_thrive_config)).
    type: str
    choices: [json, yaml, ini, env]
    default: json
  ini_section:
    description: The section of the keys when O(format=ini).
    type: str
    default: zoho_thrive
  keys:
    description: Key names whose current values are returned.
    type: list
    elements: str
    required: true
  aliases:
    description:
      - Names to return the values of O(keys) under in RV(current_values), in the same order, for example the logical names
        C(refresh_token) and C(access_token) for the keys C(ZOHO_THRIVE_REFRESH_TOKEN) and C(ZOHO_THRIVE_ACCESS_TOKEN) of an
        env file. Defaults to O(keys) themselves.
    type: list
    elements: str
  owner:
    description: Name or numeric id of a user whose directories on the way to the file are trusted (see O(path)).
    type: str
  option_labels:
    description:
      - How messages and warnings name this module's options, for roles that expose them under other names; maps option
        name to label.
    type: dict
    default: {}
requirements:
  - PyYAML on the target host, only for O(format=yaml).
notes:
  - The values are secrets. Set C(no_log) on the task, or use only RV(fingerprints).
seealso:
  - module: zohothrive.oauth.zoho_thrive_config
"""

EXAMPLES = r"""
- name: Read the refresh token currently configured
  zohothrive.oauth.zoho_thrive_config_info:
    path: /etc/myapp/settings.yml
    format: yaml
    keys: [refresh_token]
  register: current
  no_log: true

- name: Compare the refresh token of an env file with the one expected, by fingerprint only
  zohothrive.oauth.zoho_thrive_config_info:
    path: /etc/default/myapp
    format: env
    keys: [ZOHO_THRIVE_REFRESH_TOKEN]
    aliases: [refresh_token]
  register: deployed
"""

RETURN = r"""
path:
  description: The config file's path as given in O(path), made absolute (links not resolved).
  returned: always
  type: str
  sample: /etc/myapp/zoho.json
exists:
  description: Whether the file exists.
  returned: always
  type: bool
  sample: true
current_values:
  description:
    - The current value of each of O(keys) as a string, V(null) when the file does not hold it, keyed by the key name or
      its O(aliases) entry. Secret.
    - Named so because C(values) cannot be reached with dot notation in Jinja.
  returned: always
  type: dict
  sample: {refresh_token: "1000.xxxx.yyyy"}
fingerprints:
  description:
    - SHA-256 hex digest of each value of RV(current_values); V(null) for a key the file does not hold. Not secret for
      random tokens.
  returned: always
  type: dict
  sample: {refresh_token: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.zohothrive.oauth.plugins.module_utils._config_file import FORMATS, ConfigFileError
from ansible_collections.zohothrive.oauth.plugins.module_utils._config_task import read_config
from ansible_collections.zohothrive.oauth.plugins.module_utils._fileio import FileIOError
from ansible_collections.zohothrive.oauth.plugins.module_utils._labels import OPTION_LABELS_SPEC, check_labels, relabel


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "format": {"type": "str", "choices": list(FORMATS), "default": "json"},
            "ini_section": {"type": "str", "default": "zoho_thrive"},
            "keys": {"type": "list", "elements": "str", "required": True, "no_log": False},
            "aliases": {"type": "list", "elements": "str"},
            "owner": {"type": "str"},
            "follow": {"type": "bool", "default": False},
            "option_labels": dict(OPTION_LABELS_SPEC),
        },
        supports_check_mode=True,
    )
    try:
        labels = check_labels(module.params["option_labels"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    path = os.path.abspath(module.params["path"])
    try:
        result = read_config(module.params, path)
    except (ConfigFileError, FileIOError) as exc:
        module.fail_json(msg=relabel(str(exc), labels))
    module.exit_json(path=path, **result)


if __name__ == "__main__":
    main()
