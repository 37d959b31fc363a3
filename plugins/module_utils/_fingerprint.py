# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one fingerprint of the collection: how a grant code or a token is recognised without being kept or shown.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: targets (and the controller). Standard library only (tests/unit/plugins/test_boundary.py checks it).

Target side (standard library only): the config file module reports the fingerprints of the
values in a host's file, the controller's token store and deployment ledger key codes and
refresh tokens by them, and the role compares the two. They must be computed by one function.
"""

from __future__ import annotations

import hashlib


def fingerprint(value: object) -> str:
    """SHA-256 hex digest (64 lowercase hex digits) of ``value``'s text form, encoded as UTF-8.

    Text that is not valid Unicode (lone surrogates, as a file read with ``surrogateescape`` may
    hold) is encoded with ``surrogatepass`` instead of failing. Digests of random tokens are not
    secret; a digest of a guessable value would be.
    """
    return hashlib.sha256(str(value).encode("utf-8", "surrogatepass")).hexdigest()


__all__ = ("fingerprint",)
