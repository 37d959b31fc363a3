# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Atomic, permission-safe file replacement and file locks. Standard library only.

PRIVATE: this module_utils file is internal to zohothrive.oauth and may change in any release.

Runs on: targets (and the controller). Standard library only (tests/unit/plugins/test_boundary.py checks it).

Runs on the controller (token cache) and on target hosts (config files), so it must not import
anything outside Python's standard library.

The write recipe (consul-template's AtomicWrite, certbot's atomic_rewrite): create a temporary
file in the destination directory with mode 0600 before any byte is written, write, flush,
fsync, set the final mode and owner on the temporary file, rename it over the destination, then
fsync the directory. Readers see the old or the new content, never a mix; the file is never more
readable than its final mode; on any error the temporary file is removed and the destination is
left untouched.

Paths on target hosts are not trusted (see :func:`open_location`): the module may run as root in
directories that other users can write, so every file is opened relative to a directory
descriptor with ``O_NOFOLLOW``, created with ``O_EXCL``, and changed through its descriptor.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import grp
import os
import pwd
import secrets
import stat
import time
import typing as t


O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
O_PATH = getattr(os, "O_PATH", 0)  # Linux: a directory needs only search permission to be walked through
MAX_LINKS = 40  # as the kernel's MAXSYMLINKS
_LINK_ERRNOS = (errno.ELOOP, errno.EMLINK)  # what open() with O_NOFOLLOW reports for a link (Linux, BSD)


class FileIOError(Exception):
    """A file could not be written or locked. The message names the path and the reason."""


class UnsafePathError(FileIOError):
    """A path was refused: a link, or something that a user other than the trusted ones could have changed."""


class MissingDirectoryError(FileIOError):
    """A directory on the way to the file does not exist; ``directory`` names it."""

    def __init__(self, message: str, directory: str) -> None:
        super().__init__(message)
        self.directory = directory


def atomic_write(path: str, data: bytes, *, mode: int = 0o600, uid: int = -1, gid: int = -1) -> None:
    """Replace ``path`` with ``data`` atomically. ``mode`` is applied before the rename.

    The directory is opened once and :func:`atomic_write_at` does the rest relative to it.
    Raises :class:`FileIOError` naming the path and the reason; the old file is then unchanged.
    """
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise FileIOError(f"Cannot write {path}: it is a directory.")
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | O_CLOEXEC)
    except OSError as exc:
        raise FileIOError(f"Cannot create a temporary file in {directory} to write {path}: {_strerror(exc)}.") from None
    try:
        atomic_write_at(dir_fd, os.path.basename(path), data, mode=mode, uid=uid, gid=gid, shown=path)
    finally:
        os.close(dir_fd)


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
def exclusive_lock(
    lock_path: str, *, timeout: float = 300.0, poll: float = 0.1, dir_fd: int | None = None, shown: str | None = None, remove: bool = False
) -> t.Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created 0600) for the ``with`` block.

    Waits up to ``timeout`` seconds for another holder (another fork or playbook run) to finish.
    The lock file is opened with ``O_NOFOLLOW`` (a planted link is refused, never followed) and
    must be a regular file. With ``dir_fd``, ``lock_path`` is a name in that open directory and
    ``shown`` its path for messages.

    With ``remove``, the lock file is deleted when the block ends (while the lock is still held),
    so nothing is left behind; it is deleted only if it is an empty regular file with no other
    link, owned by root or the user running this code, so a file that is not a lock of ours is
    never removed. Holders that delete the file and waiters work together through
    lock-then-verify: after the ``flock`` is granted, the name must still lead to the locked file;
    if a holder deleted it meanwhile (and maybe another run created a new one), the waiter starts
    over with the file now there. Raises :class:`UnsafePathError` for a link and
    :class:`FileIOError` for anything else, naming ``shown``.
    """
    shown = shown or lock_path
    deadline = time.monotonic() + timeout
    while True:
        fd = _open_lock(lock_path, dir_fd, shown)
        try:
            locked = os.fstat(fd)
            if not stat.S_ISREG(locked.st_mode):
                raise FileIOError(_LOCK_NOT_REGULAR.format(shown=shown))
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise FileIOError(f"Cannot lock {shown}: {_strerror(exc)}.") from None
                    if time.monotonic() >= deadline:
                        raise FileIOError(f"Timed out after {timeout:g}s waiting for the lock {shown}; another run still holds it.") from None
                    time.sleep(poll)  # waiting for another process, not standing in for synchronisation
            if _same_file(_lstat(lock_path, dir_fd), locked):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder before us deleted the file we waited on: lock the one there now
    try:
        yield
    finally:
        try:
            if remove and _removable_lock(fd, lock_path, dir_fd):
                with contextlib.suppress(OSError):
                    os.unlink(lock_path, dir_fd=dir_fd)  # before the lock is released: see the docstring
        finally:
            os.close(fd)  # closing releases the lock


_LOCK_LINK = "The lock file {shown} is a symbolic link; it is not followed. Remove it (no run is using it: a lock is never a link)."
_LOCK_NOT_REGULAR = "The lock file {shown} is not a regular file; remove it."


def _open_lock(lock_path: str, dir_fd: int | None, shown: str) -> int:
    try:
        return os.open(lock_path, os.O_RDWR | os.O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o600, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in _LINK_ERRNOS:
            raise UnsafePathError(_LOCK_LINK.format(shown=shown)) from None
        if exc.errno == errno.EISDIR:
            raise FileIOError(_LOCK_NOT_REGULAR.format(shown=shown)) from None
        raise FileIOError(f"Cannot open the lock file {shown}: {_strerror(exc)}.") from None


def check_lock_file(lock_path: str, *, dir_fd: int | None = None, shown: str | None = None) -> None:
    """Raise what :func:`exclusive_lock` would raise for what is at ``lock_path`` now (a link, not a regular file), changing nothing.

    For check mode: it predicts the refusal of a real run without creating the lock file.
    """
    st = _lstat(lock_path, dir_fd)
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise UnsafePathError(_LOCK_LINK.format(shown=shown or lock_path))
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise FileIOError(_LOCK_NOT_REGULAR.format(shown=shown or lock_path))


def _lstat(name: str, dir_fd: int | None) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return None


def _same_file(first: os.stat_result | None, second: os.stat_result | None) -> bool:
    return first is not None and second is not None and (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def _removable_lock(fd: int, lock_path: str, dir_fd: int | None) -> bool:
    """Whether the locked file is a lock file of ours that may go: still the one named, regular, empty, one link, ours."""
    st = os.fstat(fd)
    return (
        _same_file(_lstat(lock_path, dir_fd), st)
        and stat.S_ISREG(st.st_mode)
        and st.st_size == 0
        and st.st_nlink == 1
        and st.st_uid in (0, os.geteuid())
    )


def lock_file_present(lock_path: str, *, dir_fd: int | None = None) -> bool:
    """Whether ``lock_path`` names a regular file (a lock file left by an earlier run or version), without following a link."""
    st = _lstat(lock_path, dir_fd)
    return st is not None and stat.S_ISREG(st.st_mode)


# -- untrusted paths -----------------------------------------------------------------------------
#
# The model is systemd's chase() with CHASE_SAFE (used by systemd-tmpfiles) plus the kernel's
# fs.protected_symlinks / fs.protected_regular rules for sticky directories:
# - the path is walked one component at a time from "/", each directory opened with O_NOFOLLOW
#   relative to the previous one, so nothing can be swapped in between the check and the use;
# - every directory on the way must belong to a trusted user (root, the user running the module,
#   the file's intended owner) and must not be writable by its group or by others, unless it has
#   the sticky bit (like /tmp), in which case whatever the walk uses in it must belong to a
#   trusted user too and a file in it must not have other hard links;
# - no step may lead from something owned by an unprivileged user to something owned by another
#   user ("unsafe transition"): that user could have put it there, as a link or a hard link, to
#   make a privileged run change a file it may not change. A link owned by a user other than root
#   can therefore only point into that user's own files, never at "/" or "/etc/...";
# - symbolic links in the middle of the path are followed under those rules; a link as the last
#   component only with ``follow`` (as ansible-core's file modules), and under the same rules.


class Location:
    """An open directory and the name of an entry in it. Every later access is relative to ``dir_fd``.

    ``directory`` and ``path`` are the real location, for messages. ``entry`` is the ``lstat`` of
    the entry when the walk found it, None when it does not exist.
    """

    def __init__(self, dir_fd: int, directory: str, name: str, dir_stat: os.stat_result, entry: os.stat_result | None, trusted: frozenset[int]) -> None:
        self.dir_fd = dir_fd
        self.directory = directory
        self.name = name
        self.dir_stat = dir_stat
        self.entry = entry
        self.trusted = trusted

    @property
    def path(self) -> str:
        return os.path.join(self.directory, self.name)

    @property
    def shared(self) -> bool:
        """The directory is writable by its group or others (it then has the sticky bit)."""
        return bool(self.dir_stat.st_mode & 0o022)

    def check(self, st: os.stat_result) -> None:
        """Refuse an entry of this directory that someone untrusted could have planted (see the rules above)."""
        _check_step(self.dir_stat, f"the directory {self.directory}", st, self.path)
        _check_shared_entry(self.dir_stat, self.directory, st, self.path, self.trusted)

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def __enter__(self) -> Location:
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.close()


def open_location(path: str, *, follow: bool = False, trusted_uids: t.Iterable[int] = (), link_hint: str = "") -> Location:
    """Walk ``path`` safely and return its directory, opened, and the final name.

    ``trusted_uids`` are trusted besides root and the user running this code (for example the
    intended owner of the file). A link as the last component is refused unless ``follow``;
    ``link_hint`` ends that message (what to change). Raises :class:`UnsafePathError` for a
    refused path, :class:`MissingDirectoryError` for a missing directory and :class:`FileIOError`
    for anything else. The caller closes the location.
    """
    trusted = frozenset({0, os.geteuid(), *trusted_uids} - {-1})
    absolute = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)
    if absolute.rsplit("/", 1)[-1] in ("", ".", ".."):
        raise FileIOError(f"{path} does not name a file; give the path of the file itself.")
    todo = collections.deque(part for part in absolute.split("/") if part not in ("", "."))
    here = "/"
    dir_fd = -1
    try:
        dir_fd, dir_stat = _open_root(path, trusted)
        previous, previous_name = dir_stat, f"the directory {here}"
        links = 0
        while todo:
            name = todo.popleft()
            last = not todo
            entry_path = os.path.join(here, name)
            if name == "..":
                new_fd = os.open("..", _DIR_FLAGS, dir_fd=dir_fd)
                os.close(dir_fd)
                dir_fd, here = new_fd, os.path.dirname(here)
                dir_stat = os.fstat(dir_fd)
                _check_step(previous, previous_name, dir_stat, here)
                _check_directory(dir_stat, here, trusted)
                previous, previous_name = dir_stat, f"the directory {here}"
                if last:
                    raise FileIOError(f"{path} leads to the directory {here}, not to a file; give the path of the file itself.")
                continue
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                if last:
                    dir_fd = _readable_directory(dir_fd)
                    return Location(dir_fd, here, name, dir_stat, None, trusted)
                raise MissingDirectoryError(f"the directory {entry_path} does not exist", entry_path) from None
            _check_step(previous, previous_name, st, entry_path)
            _check_shared_entry(dir_stat, here, st, entry_path, trusted)
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(name, dir_fd=dir_fd)
                if last and not follow:
                    raise UnsafePathError(f"{entry_path} is a symbolic link to {target}; it is not followed. {link_hint}".rstrip())
                links += 1
                if links > MAX_LINKS:
                    raise FileIOError(f"Cannot use {path}: more than {MAX_LINKS} symbolic links on the way (a loop?).")
                parts = [part for part in target.split("/") if part not in ("", ".")]
                if last and not parts:
                    raise FileIOError(f"{entry_path} is a symbolic link to {target}, not to a file; give the path of the file itself.")
                todo.extendleft(reversed(parts))
                previous, previous_name = st, f"the symbolic link {entry_path} (to {target})"
                if target.startswith("/"):
                    os.close(dir_fd)
                    dir_fd = -1
                    dir_fd, dir_stat = _open_root(path, trusted)
                    here = "/"
                    _check_step(previous, previous_name, dir_stat, here)
                    previous, previous_name = dir_stat, f"the directory {here}"
                continue
            if last:
                dir_fd = _readable_directory(dir_fd)
                return Location(dir_fd, here, name, dir_stat, st, trusted)
            if not stat.S_ISDIR(st.st_mode):
                raise FileIOError(f"Cannot use {path}: {entry_path} is not a directory.")
            new_fd = os.open(name, _DIR_FLAGS | O_NOFOLLOW, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd, here = new_fd, entry_path
            dir_stat = os.fstat(dir_fd)
            if (dir_stat.st_dev, dir_stat.st_ino) != (st.st_dev, st.st_ino):
                raise UnsafePathError(f"{entry_path} was replaced while {path} was being checked; run the task again.")
            _check_directory(dir_stat, here, trusted)
            previous, previous_name = dir_stat, f"the directory {here}"
        raise FileIOError(f"{path} does not name a file; give the path of the file itself.")  # not reached: the last part returns
    except BaseException as exc:
        if dir_fd >= 0:
            os.close(dir_fd)
        if isinstance(exc, OSError):
            raise FileIOError(
                f"Cannot inspect {path}: {_strerror(exc)}. Run the task with become if the file belongs to another user."
            ) from None
        raise


_DIR_FLAGS = (O_PATH or os.O_RDONLY) | O_DIRECTORY | O_CLOEXEC


def _open_root(path: str, trusted: frozenset[int]) -> tuple[int, os.stat_result]:
    fd = os.open("/", _DIR_FLAGS)
    st = os.fstat(fd)
    try:
        _check_directory(st, "/", trusted)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _readable_directory(dir_fd: int) -> int:
    """The same directory opened for reading (listing, fsync), if allowed; else the walking descriptor."""
    if not O_PATH:
        return dir_fd
    try:
        fd = os.open(".", os.O_RDONLY | O_DIRECTORY | O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return dir_fd
    os.close(dir_fd)
    return fd


def _check_directory(st: os.stat_result, directory: str, trusted: frozenset[int]) -> None:
    if st.st_uid not in trusted:
        user = user_name(st.st_uid)
        raise UnsafePathError(
            f"Refusing {directory}: the directory belongs to {user}, who could swap what it holds to redirect the write to another "
            f"file. Make it owned by root (or by the user that runs the task), or, if {user} is meant to own the file, say so with "
            "`owner`."
        )
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        if st.st_mode & 0o002:
            who = "its group and all users" if st.st_mode & 0o020 else "all users"
        else:
            who = f"the group {group_name(st.st_gid)}"
        raise UnsafePathError(
            f"Refusing {directory}: the directory is writable by {who} (mode {stat.S_IMODE(st.st_mode):04o}) without the sticky bit, so "
            f"they could swap what it holds. Remove that write access (chmod go-w {directory}) or keep the file elsewhere."
        )


def _check_step(before: os.stat_result, before_name: str, after: os.stat_result, after_name: str) -> None:
    """systemd's unsafe_transition(): from an unprivileged user's object only into that user's objects."""
    if before.st_uid != 0 and before.st_uid != after.st_uid:
        owner = user_name(before.st_uid)
        raise UnsafePathError(
            f"Refusing {after_name}: it belongs to {user_name(after.st_uid)} but is reached through {before_name}, which belongs to {owner}; "
            f"{owner} could have placed it there (as a link or a hard link) to have this task change a file that {owner} may not "
            f"change. Remove it, give it to {owner}, or point the task at the real location."
        )


def _check_shared_entry(dir_stat: os.stat_result, directory: str, st: os.stat_result, entry_path: str, trusted: frozenset[int]) -> None:
    """In a sticky directory that others can write (like /tmp), use only what trusted users made."""
    if not dir_stat.st_mode & 0o022:
        return
    if st.st_uid not in trusted:
        raise UnsafePathError(
            f"Refusing {entry_path}: it belongs to {user_name(st.st_uid)} and lies in {directory}, which every user can write to "
            f"(mode {stat.S_IMODE(dir_stat.st_mode):04o}). Keep the file in a directory that only root or its owner can write to."
        )
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        raise UnsafePathError(
            f"Refusing {entry_path}: it has {st.st_nlink} hard links and lies in {directory}, which other users can write to, so it "
            "may be another file in disguise. Keep the file in a directory that only root or its owner can write to."
        )


def atomic_write_at(dir_fd: int, name: str, data: bytes, *, mode: int = 0o600, uid: int = -1, gid: int = -1, shown: str | None = None) -> None:
    """:func:`atomic_write` relative to an open directory: no path is looked up again.

    The temporary file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600 in the
    directory, owner and mode are set through its descriptor, and it is renamed over ``name``
    within the same directory. ``shown`` names the file in messages.
    """
    shown = shown or name
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC
    for _attempt in range(100):
        tmp_name = f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp_name, flags, 0o600, dir_fd=dir_fd)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise FileIOError(f"Cannot create a temporary file next to {shown}: {_strerror(exc)}.") from None
    else:
        raise FileIOError(f"Cannot create a temporary file next to {shown}: every name tried exists.")
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
            os.replace(tmp_name, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            raise FileIOError(f"Cannot write {shown}: {_strerror(exc)}. The previous file, if any, is unchanged.") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name, dir_fd=dir_fd)
        raise
    with contextlib.suppress(OSError):
        os.fsync(dir_fd)  # best effort, as fsync_directory()


def user_name(uid: int) -> str:
    """The user's name for messages, or ``uid N`` when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def group_name(gid: int) -> str:
    """The group's name for messages, or ``gid N`` when it has none."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc)


__all__ = (
    "FileIOError",
    "Location",
    "MissingDirectoryError",
    "UnsafePathError",
    "atomic_write",
    "atomic_write_at",
    "check_lock_file",
    "exclusive_lock",
    "fsync_directory",
    "group_name",
    "lock_file_present",
    "open_location",
    "user_name",
)
