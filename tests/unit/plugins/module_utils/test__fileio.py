# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Atomic writes and file locks."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import textwrap
import time
import typing as t

import pytest

from ansible_collections.zohothrive.oauth.plugins.module_utils import _fileio
from ansible_collections.zohothrive.oauth.plugins.module_utils._fileio import FileIOError, atomic_write, exclusive_lock


def mode_of(path: t.Any) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def listing(directory: t.Any) -> list[str]:
    return sorted(os.listdir(directory))


# -- atomic_write -----------------------------------------------------------------------------


def test_new_file_is_0600_even_with_umask_000(tmp_path: t.Any, umask_000: None) -> None:
    target = tmp_path / "tokens.json"
    atomic_write(str(target), b"secret\n")
    assert target.read_bytes() == b"secret\n"
    assert mode_of(target) == 0o600
    assert listing(tmp_path) == ["tokens.json"]


def test_file_is_never_more_readable_than_its_final_mode(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch, umask_000: None) -> None:
    """The temporary file is already 0600 while the secret is written into it."""
    modes: list[int] = []
    real_fsync = os.fsync

    def spying_fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(_fileio.os, "fsync", spying_fsync)
    atomic_write(str(tmp_path / "f"), b"secret", mode=0o640)
    assert modes == [0o600]
    assert mode_of(tmp_path / "f") == 0o640


def test_explicit_mode(tmp_path: t.Any) -> None:
    atomic_write(str(tmp_path / "f"), b"x", mode=0o644)
    assert mode_of(tmp_path / "f") == 0o644


def test_replace_is_atomic_rename(tmp_path: t.Any) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    before = os.stat(target).st_ino
    atomic_write(str(target), b"new")
    assert target.read_bytes() == b"new"
    assert os.stat(target).st_ino != before  # a new file was renamed over the old one, not rewritten in place
    assert mode_of(target) == 0o600
    assert listing(tmp_path) == ["f"]


def test_relative_path(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    atomic_write("rel.json", b"{}")
    assert (tmp_path / "rel.json").read_bytes() == b"{}"


def test_owner_is_set_on_the_temporary_file(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int, int]] = []
    monkeypatch.setattr(_fileio.os, "fchown", lambda fd, uid, gid: calls.append((fd, uid, gid)))
    atomic_write(str(tmp_path / "a"), b"x")
    assert calls == []  # not asked: untouched
    atomic_write(str(tmp_path / "b"), b"x", uid=1234, gid=-1)
    assert len(calls) == 1 and calls[0][1:] == (1234, -1)


def _boom(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("failing", ["replace", "fsync", "fchmod", "fdopen"])
def test_failure_leaves_the_original_and_no_temporary_file(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    target = tmp_path / "tokens.json"
    original = b'{"format": "original"}\n'
    target.write_bytes(original)
    os.chmod(target, 0o600)
    stat_before = os.stat(target)
    monkeypatch.setattr(_fileio.os, failing, _boom)
    with pytest.raises(FileIOError) as info:
        atomic_write(str(target), b"new content")
    monkeypatch.undo()
    assert target.read_bytes() == original
    assert os.stat(target).st_ino == stat_before.st_ino
    assert os.stat(target).st_mtime_ns == stat_before.st_mtime_ns
    assert listing(tmp_path) == ["tokens.json"]
    assert str(target) in str(info.value)
    assert "No space left on device" in str(info.value)


def test_failure_on_a_new_file_leaves_nothing(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fileio.os, "replace", _boom)
    with pytest.raises(FileIOError):
        atomic_write(str(tmp_path / "new.json"), b"x")
    assert listing(tmp_path) == []


def test_interrupt_during_write_removes_the_temporary_file(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    (tmp_path / "f").write_bytes(b"old")
    monkeypatch.setattr(_fileio.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(str(tmp_path / "f"), b"new")
    monkeypatch.undo()
    assert (tmp_path / "f").read_bytes() == b"old"
    assert listing(tmp_path) == ["f"]


def test_target_is_a_directory(tmp_path: t.Any) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(FileIOError) as info:
        atomic_write(str(tmp_path / "d"), b"x")
    assert "is a directory" in str(info.value)
    assert listing(tmp_path) == ["d"] and listing(tmp_path / "d") == []


def test_missing_parent_directory(tmp_path: t.Any) -> None:
    with pytest.raises(FileIOError) as info:
        atomic_write(str(tmp_path / "missing" / "f"), b"x")
    assert "Cannot create a temporary file" in str(info.value)
    assert not (tmp_path / "missing").exists()


def test_read_only_directory(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory that refuses new files (simulated: the suite may run as root, which ignores chmod)."""

    real_open = os.open

    def refused(path: t.Any, flags: int, *args: t.Any, **kwargs: t.Any) -> int:
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    (tmp_path / "f").write_bytes(b"old")
    monkeypatch.setattr(_fileio.os, "open", refused)
    with pytest.raises(FileIOError) as info:
        atomic_write(str(tmp_path / "f"), b"new")
    assert "Permission denied" in str(info.value) and str(tmp_path) in str(info.value)
    assert (tmp_path / "f").read_bytes() == b"old"
    assert listing(tmp_path) == ["f"]


def test_directory_fsync_failure_is_not_fatal(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(_fileio.os, "fsync", fsync)
    atomic_write(str(tmp_path / "f"), b"x")
    assert (tmp_path / "f").read_bytes() == b"x"


# -- exclusive_lock -------------------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.readline()  # hold the lock until the parent says so
    """
)


@pytest.fixture
def other_process_lock(tmp_path: t.Any) -> t.Iterator[tuple[str, subprocess.Popen]]:
    """Another process holds the flock on a lock file until its stdin gets a line."""
    lock_path = str(tmp_path / "cache.json.lock")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, lock_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield lock_path, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def release(proc: subprocess.Popen) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=10) == 0


def test_lock_file_is_created_0600(tmp_path: t.Any, umask_000: None) -> None:
    lock_path = tmp_path / "x.lock"
    with exclusive_lock(str(lock_path), timeout=1):
        assert mode_of(lock_path) == 0o600


def test_second_locker_in_another_process_waits_then_times_out(other_process_lock: tuple[str, subprocess.Popen]) -> None:
    lock_path, proc = other_process_lock
    started = time.monotonic()
    with pytest.raises(FileIOError) as info:
        with exclusive_lock(lock_path, timeout=0.3, poll=0.02):
            raise AssertionError("acquired a lock that another process holds")
    assert time.monotonic() - started >= 0.3  # it waited for the other holder before giving up
    assert "Timed out after 0.3s" in str(info.value) and lock_path in str(info.value)
    release(proc)
    with exclusive_lock(lock_path, timeout=5, poll=0.02):
        pass  # free once the other process is gone


def test_second_locker_acquires_when_the_holder_releases(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lock_path = str(tmp_path / "x.lock")
    holder = exclusive_lock(lock_path, timeout=1)
    holder.__enter__()
    polls: list[float] = []

    def poll_sleep(delay: float) -> None:
        polls.append(delay)
        if len(polls) == 3:
            holder.__exit__(None, None, None)  # the first holder finishes while the second one waits

    monkeypatch.setattr(_fileio, "time", _FakeTime(poll_sleep))
    with exclusive_lock(lock_path, timeout=60, poll=0.25):
        pass
    assert polls == [0.25, 0.25, 0.25]


class _FakeTime:
    def __init__(self, sleep: t.Callable[[float], None]) -> None:
        self.sleep = sleep
        self.monotonic = time.monotonic


def test_two_file_descriptors_in_one_process_exclude_each_other(tmp_path: t.Any) -> None:
    lock_path = str(tmp_path / "x.lock")
    with exclusive_lock(lock_path, timeout=1):
        with pytest.raises(FileIOError):
            with exclusive_lock(lock_path, timeout=0, poll=0.01):
                pass
    with exclusive_lock(lock_path, timeout=0):
        pass  # released on exit


def test_lock_is_released_when_the_block_raises(tmp_path: t.Any) -> None:
    lock_path = str(tmp_path / "x.lock")
    with pytest.raises(RuntimeError):
        with exclusive_lock(lock_path, timeout=1):
            raise RuntimeError("boom")
    with exclusive_lock(lock_path, timeout=0):
        pass


def test_unopenable_lock_file(tmp_path: t.Any) -> None:
    with pytest.raises(FileIOError) as info:
        with exclusive_lock(str(tmp_path / "missing" / "x.lock"), timeout=0):
            pass
    assert "Cannot open the lock file" in str(info.value)


# -- untrusted paths: open_location, atomic_write_at, links as lock files (issue 6, item 1) -------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making files of another user needs root")
OTHER = 65534  # nobody


def test_lock_file_that_is_a_link_is_refused_and_its_target_not_created(tmp_path: t.Any) -> None:
    planted = tmp_path / "arbitrary-empty-file"
    (tmp_path / "x.lock").symlink_to(planted)
    with pytest.raises(_fileio.UnsafePathError) as info:
        with exclusive_lock(str(tmp_path / "x.lock"), timeout=0):
            pass
    assert f"The lock file {tmp_path / 'x.lock'} is a symbolic link; it is not followed." in str(info.value)
    assert not planted.exists()


def test_lock_file_that_is_not_a_regular_file_is_refused(tmp_path: t.Any) -> None:
    os.mkfifo(tmp_path / "x.lock")
    with pytest.raises(FileIOError, match="is not a regular file"):
        with exclusive_lock(str(tmp_path / "x.lock"), timeout=0):
            pass


def test_lock_relative_to_an_open_directory(tmp_path: t.Any) -> None:
    dir_fd = os.open(str(tmp_path), os.O_RDONLY)
    try:
        with exclusive_lock(".f.lock", timeout=0, dir_fd=dir_fd, shown="/shown/.f.lock"):
            assert mode_of(tmp_path / ".f.lock") == 0o600
    finally:
        os.close(dir_fd)


def test_open_location_returns_the_open_directory_and_the_name(tmp_path: t.Any) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with _fileio.open_location(str(tmp_path / "f")) as location:
        assert (location.directory, location.name, location.path) == (str(tmp_path), "f", str(tmp_path / "f"))
        assert location.entry is not None and os.path.samestat(os.fstat(location.dir_fd), os.stat(tmp_path))
        assert not location.shared
    assert location.dir_fd == -1  # closed
    with _fileio.open_location(str(tmp_path / "new")) as location:
        assert location.entry is None


def test_open_location_refuses_a_final_link_unless_followed(tmp_path: t.Any) -> None:
    (tmp_path / "real").write_bytes(b"x")
    (tmp_path / "link").symlink_to("real")
    with pytest.raises(_fileio.UnsafePathError) as info:
        _fileio.open_location(str(tmp_path / "link"), link_hint="Do X.")
    assert str(info.value) == f"{tmp_path / 'link'} is a symbolic link to real; it is not followed. Do X."
    with _fileio.open_location(str(tmp_path / "link"), follow=True) as location:
        assert location.path == str(tmp_path / "real")


def test_open_location_resolves_dot_dot_and_relative_links(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "c").mkdir()
    (tmp_path / "a" / "b" / "up").symlink_to("../../c")
    with _fileio.open_location(str(tmp_path / "a" / "b" / "up" / "f")) as location:
        assert location.path == str(tmp_path / "c" / "f")
    monkeypatch.chdir(tmp_path / "a")
    with _fileio.open_location("b/../../c/f") as location:
        assert location.path == str(tmp_path / "c" / "f")


def test_open_location_link_loop_and_missing_directory(tmp_path: t.Any) -> None:
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(FileIOError, match="more than 40 symbolic links"):
        _fileio.open_location(str(tmp_path / "loop" / "f"))
    with pytest.raises(_fileio.MissingDirectoryError) as info:
        _fileio.open_location(str(tmp_path / "missing" / "deeper" / "f"))
    assert info.value.directory == str(tmp_path / "missing")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(FileIOError, match="is not a directory"):
        _fileio.open_location(str(tmp_path / "file" / "f"))
    for bad in (str(tmp_path) + "/", str(tmp_path) + "/..", str(tmp_path) + "/."):
        with pytest.raises(FileIOError, match="does not name a file"):
            _fileio.open_location(bad)


@needs_root
def test_open_location_trust_rules(tmp_path: t.Any) -> None:
    user_dir = tmp_path / "user"
    user_dir.mkdir()
    os.chown(user_dir, OTHER, OTHER)
    with pytest.raises(_fileio.UnsafePathError, match="the directory belongs to"):
        _fileio.open_location(str(user_dir / "f"))
    with _fileio.open_location(str(user_dir / "f"), trusted_uids=[OTHER]) as location:
        assert location.path == str(user_dir / "f")
    # The user's link may lead into the user's own files, never out to root's.
    (user_dir / "own").write_bytes(b"")
    os.chown(user_dir / "own", OTHER, OTHER)
    for name, target in (("to-own", "own"), ("to-root", str(tmp_path))):
        (user_dir / name).symlink_to(target)
        os.lchown(user_dir / name, OTHER, OTHER)
    with _fileio.open_location(str(user_dir / "to-own"), follow=True, trusted_uids=[OTHER]) as location:
        assert location.name == "own"
    with pytest.raises(_fileio.UnsafePathError, match="is reached through the symbolic link"):
        _fileio.open_location(str(user_dir / "to-root" / "f"), trusted_uids=[OTHER])
    # A sticky shared directory is walked through, but only trusted entries in it are used.
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    (sticky / "theirs").write_bytes(b"")
    os.chown(sticky / "theirs", OTHER, OTHER)
    with pytest.raises(_fileio.UnsafePathError, match="which every user can write to"):
        _fileio.open_location(str(sticky / "theirs"))
    (sticky / "mine").write_bytes(b"")
    os.link(sticky / "mine", tmp_path / "mine-too")
    with pytest.raises(_fileio.UnsafePathError, match="has 2 hard links"):
        _fileio.open_location(str(sticky / "mine"))
    with _fileio.open_location(str(sticky / "new")) as location:
        assert location.shared


def test_atomic_write_at_replaces_within_the_open_directory(tmp_path: t.Any, umask_000: None) -> None:
    (tmp_path / "f").write_bytes(b"old")
    with _fileio.open_location(str(tmp_path / "f")) as location:
        _fileio.atomic_write_at(location.dir_fd, location.name, b"new", mode=0o640, shown=location.path)
    assert (tmp_path / "f").read_bytes() == b"new" and mode_of(tmp_path / "f") == 0o640
    assert listing(tmp_path) == ["f"]


@pytest.mark.parametrize("failing", ["replace", "fsync", "fchmod", "fdopen"])
def test_atomic_write_at_failure_leaves_the_original_and_no_temporary_file(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"original")
    inode = os.stat(target).st_ino
    dir_fd = os.open(str(tmp_path), os.O_RDONLY)
    try:
        monkeypatch.setattr(_fileio.os, failing, _boom)
        with pytest.raises(FileIOError) as info:
            _fileio.atomic_write_at(dir_fd, "f", b"new", shown=str(target))
        monkeypatch.undo()
    finally:
        os.close(dir_fd)
    assert target.read_bytes() == b"original" and os.stat(target).st_ino == inode
    assert listing(tmp_path) == ["f"]
    assert str(target) in str(info.value) and "No space left on device" in str(info.value)


def test_atomic_write_at_never_follows_a_planted_temporary_name(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    names = iter(["11111111", "22222222"])
    monkeypatch.setattr(_fileio.secrets, "token_hex", lambda n: next(names))
    (tmp_path / ".f.11111111.tmp").symlink_to(tmp_path / "planted")
    dir_fd = os.open(str(tmp_path), os.O_RDONLY)
    try:
        _fileio.atomic_write_at(dir_fd, "f", b"data")
    finally:
        os.close(dir_fd)
    assert (tmp_path / "f").read_bytes() == b"data" and not (tmp_path / "planted").exists()


# -- lock files that are not left behind (issue 7, item 7) ------------------------------------------


def test_lock_file_is_kept_by_default(tmp_path: t.Any) -> None:
    """The token store keeps its lock file next to the cache; only callers that ask for it get it removed."""
    with exclusive_lock(str(tmp_path / "x.lock"), timeout=1):
        pass
    assert listing(tmp_path) == ["x.lock"]


def test_removed_lock_file_exists_only_while_held(tmp_path: t.Any) -> None:
    lock = tmp_path / "x.lock"
    with exclusive_lock(str(lock), timeout=1, remove=True):
        assert lock.exists() and mode_of(lock) == 0o600
    assert listing(tmp_path) == []
    with pytest.raises(RuntimeError):
        with exclusive_lock(str(lock), timeout=1, remove=True):
            raise RuntimeError("boom")
    assert listing(tmp_path) == []  # removed on errors too


def test_a_waiter_whose_lock_file_was_removed_starts_over(tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lock-then-verify: the waiter got the flock of a file that its holder removed; another run holds the new file."""
    import fcntl

    lock = tmp_path / "x.lock"
    first = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(first, fcntl.LOCK_EX)
    first_inode = os.fstat(first).st_ino
    other: list[int] = []
    polls: list[float] = []

    def poll_sleep(delay: float) -> None:
        polls.append(delay)
        if len(polls) == 1:  # the holder removes the file and lets go; another run creates and locks a new one at once
            os.unlink(lock)
            other.append(os.open(lock, os.O_RDWR | os.O_CREAT, 0o600))
            fcntl.flock(other[0], fcntl.LOCK_EX)
            os.close(first)
        elif len(polls) == 3:
            os.close(other[0])  # the other run finishes

    monkeypatch.setattr(_fileio, "time", _FakeTime(poll_sleep))
    with exclusive_lock(str(lock), timeout=60, poll=0.25, remove=True):
        held = os.stat(lock).st_ino
        assert len(polls) == 3  # it waited for the other run, not only for the first holder
    assert held != first_inode
    assert listing(tmp_path) == []


@pytest.mark.parametrize("kind", ["non-empty", "hard-linked"])
def test_a_lock_named_file_that_is_not_an_empty_lock_is_never_removed(tmp_path: t.Any, kind: str) -> None:
    lock = tmp_path / "x.lock"
    lock.write_bytes(b"not a lock" if kind == "non-empty" else b"")
    if kind == "hard-linked":
        os.link(lock, tmp_path / "elsewhere")
    with exclusive_lock(str(lock), timeout=1, remove=True):
        pass
    assert lock.exists() and lock.read_bytes() == (b"not a lock" if kind == "non-empty" else b"")


@needs_root
def test_a_lock_file_of_another_user_is_never_removed(tmp_path: t.Any) -> None:
    lock = tmp_path / "x.lock"
    lock.write_bytes(b"")
    os.chown(lock, OTHER, OTHER)
    with exclusive_lock(str(lock), timeout=1, remove=True):
        pass
    assert lock.exists()


def test_lock_file_present(tmp_path: t.Any) -> None:
    assert not _fileio.lock_file_present(str(tmp_path / "x.lock"))
    (tmp_path / "x.lock").write_bytes(b"")
    assert _fileio.lock_file_present(str(tmp_path / "x.lock"))
    (tmp_path / "y.lock").symlink_to(tmp_path / "x.lock")
    assert not _fileio.lock_file_present(str(tmp_path / "y.lock"))  # a link is not followed
    (tmp_path / "z.lock").mkdir()
    assert not _fileio.lock_file_present(str(tmp_path / "z.lock"))


def test_trust_message_names_the_owner_option_in_backticks(tmp_path: t.Any) -> None:
    st = os.stat(tmp_path)
    fake = os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, OTHER, st.st_gid, st.st_size, 0, 0, 0))
    with pytest.raises(_fileio.UnsafePathError, match="say so with `owner`."):
        _fileio._check_directory(fake, str(tmp_path), frozenset({0}))


def test_check_lock_file_predicts_the_refusals_of_exclusive_lock(tmp_path: t.Any) -> None:
    _fileio.check_lock_file(str(tmp_path / "missing.lock"))  # nothing there: fine, and nothing is created
    (tmp_path / "empty.lock").write_bytes(b"")
    _fileio.check_lock_file(str(tmp_path / "empty.lock"))
    assert listing(tmp_path) == ["empty.lock"]
    (tmp_path / "link.lock").symlink_to(tmp_path / "nowhere")
    (tmp_path / "dir.lock").mkdir()
    for name, error in (("link.lock", _fileio.UnsafePathError), ("dir.lock", FileIOError)):
        with pytest.raises(error) as predicted:
            _fileio.check_lock_file(str(tmp_path / name))
        with pytest.raises(error) as real:
            with exclusive_lock(str(tmp_path / name), timeout=0):
                pass
        assert str(predicted.value) == str(real.value)
    assert not (tmp_path / "nowhere").exists()
