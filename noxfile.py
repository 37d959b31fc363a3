# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nox sessions of zohothrive.oauth: antsibull-nox's checks, configured in antsibull-nox.toml.

`make lint` runs them from the collection copy in .build (antsibull-nox needs the collection at
.../ansible_collections/zohothrive/oauth) with nox from .venv:

    nox --envdir .build/nox -e docs-check extra-checks build-import-check ansible-lint

`nox --list` shows the sessions.
"""

from __future__ import annotations

import sys

try:
    import antsibull_nox
except ImportError:
    print("noxfile.py: antsibull-nox is missing; run nox from .venv (make venv)", file=sys.stderr)
    sys.exit(1)

antsibull_nox.load_antsibull_nox_toml()
