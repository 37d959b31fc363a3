# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the OpenBao harness self-tests: the plugin in openbao_fixtures.py.

pytest puts this directory on sys.path before importing this file (rootdir-relative "prepend"
import mode), and importing the fixture functions here registers them for tests/openbao.
Other test directories do the same; see README.md.
"""

from __future__ import annotations

from openbao_fixtures import (  # noqa: F401  pylint: disable=unused-import
    openbao,
    openbao_factory,
    openbao_kv,
    openbao_kv_factory,
    openbao_tls,
)
