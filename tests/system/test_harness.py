# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The end-to-end harness keeps each run's files to the test that made them.

Ansible's local connection puts the hosts' temporary files in the connecting user's
``~/.ansible/tmp``, expanded from the password database (``~root``), not from ``HOME``; a run that
is killed leaves its directories there, in the home of whoever ran the suite.
"""

from __future__ import annotations

import os
import pwd
import re
import typing as t
from pathlib import Path

from conftest import PlaybookRun, write

PLAYBOOK = """
- name: One module run on a host
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


def test_ansible_temporary_files_stay_in_the_test_directory(ansible_playbook: t.Callable[..., PlaybookRun], tmp_path: Path) -> None:
    run = ansible_playbook(write(tmp_path / "ping.yml", PLAYBOOK), "-vvv")
    assert run.returncode == 0, run.stdout + run.stderr
    made = re.findall(r'mkdir "` echo (\S+?)/ansible-tmp-[^`]*`"', run.stdout)
    assert made, run.stdout  # the pattern must see the directory the module ran from
    assert all(Path(path).is_relative_to(tmp_path) for path in made), made
    home = pwd.getpwuid(os.geteuid()).pw_dir
    assert f"{home}/.ansible/tmp" not in run.stdout
