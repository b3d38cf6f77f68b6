"""What an export's target path is, and the lock that keeps two exports off one file.

* A path that does not exist, or is a regular file, is written atomically: the cases go
  to ``FILE.partial`` and the finished file is renamed onto ``FILE``.
* A symbolic link is followed: the file it points to is the one written (atomically,
  its partial beside it), and the link itself is left as it is.
* Anything else that exists (``/dev/null``, ``/dev/stdout``, a named pipe, a terminal)
  is written through, like standard output: never renamed over, never truncated to
  a partial. A write error there (``/dev/full``: no space left) is an ``OSError``
  naming the path.

:class:`TargetLock` is an exclusive lock on ``FILE.partial.lock`` held for the whole of
an export to ``FILE``; a second export to the same file fails at once with
:class:`TargetBusyError`, naming the process that holds the lock.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from pathlib import Path

__all__ = ["TargetBusyError", "TargetLock", "lock_path", "resolve_target", "writes_through"]

_LOCK_SUFFIX = ".partial.lock"


class TargetBusyError(OSError):
    """Another export holds the lock of this target; ``holder`` describes it."""

    def __init__(self, target: Path, holder: str) -> None:
        super().__init__(
            errno.EBUSY,
            f"another export ({holder}) is writing this file; wait for it to end or stop "
            "it, then run this export again",
            str(target),
        )
        self.holder = holder


def writes_through(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` exists and is not a regular file (a device, a pipe, ...)."""
    try:
        mode = os.stat(target).st_mode  # follows symbolic links
    except (FileNotFoundError, NotADirectoryError):
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def resolve_target(target: str | os.PathLike[str]) -> Path:
    """The file an atomic export to ``target`` writes: a symbolic link is followed."""
    path = Path(target)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def lock_path(target: Path) -> Path:
    """``FILE.partial.lock``: the lock file of an export to ``target``."""
    return target.with_name(target.name + _LOCK_SUFFIX)


class TargetLock:
    """An exclusive, non-blocking lock on ``FILE.partial.lock``, released on exit.

    The file holds the holder's pid and is removed on release; the lock is taken on the
    file the path names *after* it is locked, so a file removed meanwhile is not trusted.
    """

    def __init__(self, target: Path) -> None:
        self.path = lock_path(target)
        self._target = target
        self._fd: int | None = None

    def __enter__(self) -> TargetLock:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:  # no such directory, no permission: name the target
                raise type(exc)(exc.errno, exc.strerror, str(self._target)) from None
            if not _try_lock(fd):
                holder = _read_holder(fd)
                os.close(fd)
                raise TargetBusyError(self._target, holder)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # its holder removed it as we locked it: lock the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc_info: object) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # before unlocking: a waiter must find a fresh file
        os.close(fd)  # closing the descriptor releases the lock


def _read_holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 100).decode("utf-8", "replace").strip()
        if text:
            return text
    return "another process"


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
