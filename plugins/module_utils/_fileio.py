# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Atomic, permission-safe file replacement and file locks. Standard library only.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on the controller (token cache) and on target hosts (config files), so it must not import
anything outside Python's standard library.

The write recipe (consul-template's AtomicWrite, certbot's atomic_rewrite): create a temporary
file in the destination directory with mode 0600 before any byte is written, write, flush,
fsync, set the final mode and owner on the temporary file, rename it over the destination, then
fsync the directory. Readers see the old or the new content, never a mix; the file is never more
readable than its final mode; on any error the temporary file is removed and the destination is
left untouched.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
import typing as t


class FileIOError(Exception):
    """A file could not be written or locked. The message names the path and the reason."""


def atomic_write(path: str, data: bytes, *, mode: int = 0o600, uid: int = -1, gid: int = -1) -> None:
    """Replace ``path`` with ``data`` atomically. ``mode`` is applied before the rename."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise FileIOError(f"Cannot write {path}: it is a directory.")
    try:
        fd, tmp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise FileIOError(f"Cannot create a temporary file in {directory} to write {path}: {_strerror(exc)}.") from None
    try:
        try:
            try:
                handle = os.fdopen(fd, "wb")
            except BaseException:
                os.close(fd)
                raise
            with handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
                if uid != -1 or gid != -1:
                    os.fchown(handle.fileno(), uid, gid)
                os.fchmod(handle.fileno(), mode)
            os.replace(tmp_path, path)
        except OSError as exc:
            raise FileIOError(f"Cannot write {path}: {_strerror(exc)}. The previous file, if any, is unchanged.") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
        raise
    fsync_directory(directory)


def fsync_directory(directory: str) -> None:
    """Make a rename durable. Best effort: some file systems refuse to fsync directories."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def exclusive_lock(lock_path: str, *, timeout: float = 300.0, poll: float = 0.1) -> t.Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created 0600) for the ``with`` block.

    Waits up to ``timeout`` seconds for another holder (another fork or playbook run) to finish.
    """
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise FileIOError(f"Cannot open the lock file {lock_path}: {_strerror(exc)}.") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise FileIOError(f"Cannot lock {lock_path}: {_strerror(exc)}.") from None
                if time.monotonic() >= deadline:
                    raise FileIOError(
                        f"Timed out after {timeout:g}s waiting for the lock {lock_path}; another run still holds it."
                    ) from None
                time.sleep(poll)  # waiting for another process, not standing in for synchronisation
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc)


__all__ = ("FileIOError", "atomic_write", "exclusive_lock", "fsync_directory")
