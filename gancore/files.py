"""Writing (and reading back) files safely: the one place gancore opens a file for writing.

A run directory may come from a stranger, so anything in it may be a planted symbolic link
(``RUN/report.html -> ~/.bashrc``), a FIFO, or a file of the same name as one gancore is about
to write. The rules, used by every writer in gancore:

* a file is written whole under a fresh random name in its own directory, created with
  ``O_CREAT | O_EXCL | O_NOFOLLOW`` (so nothing that is already there, link or not, is ever
  opened), flushed and ``fsync``-ed, then moved over the target with ``os.replace`` (which
  replaces a link itself, never what it points to) -- :func:`atomic_write`;
* appending (``metrics.jsonl``) and the lock file open with ``O_NOFOLLOW`` and refuse anything
  that is not a regular file -- :func:`append_text`, :func:`open_lock`;
* a directory gancore writes into inside a run directory is refused when it is a symbolic link
  -- :func:`make_dir`;
* a file read from a run directory must not be a link that leaves it -- :func:`check_inside`.

A failed write leaves the old file as it was and no temporary behind; the error is the
``OSError`` of the failing call (``ENOSPC`` on a full disk, ``ELOOP`` for a refused link).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from pathlib import Path
from typing import IO, Iterator

#: Temporary files are named ``.NAME.XXXXXXXXXXXX.tmp`` next to their target.
TMP_SUFFIX = ".tmp"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def refused_link(path: str | os.PathLike) -> OSError:
    """The error for a symbolic link gancore will not write through or read out of."""
    return OSError(errno.ELOOP, "it is a symbolic link, which gancore does not follow in a run directory",
                   str(path))


def temporary_name(path: str | os.PathLike) -> Path:
    """A fresh, unguessable name next to ``path`` for writing it."""
    path = Path(path)
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{TMP_SUFFIX}")


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename in directory ``path`` durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_dir(path: str | os.PathLike) -> Path:
    """Create directory ``path`` (and its parents) unless it exists; refuse a symbolic link or a
    non-directory there with an ``OSError``."""
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        path.mkdir(parents=True, exist_ok=True)
        info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise refused_link(path)
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    return path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a fresh temporary next to ``path`` for writing; on a clean exit it is flushed, synced and
    moved over ``path``. On any error the temporary is removed and ``path`` is untouched.

    ``mode`` is ``"wb"`` or ``"w"`` (text, ``encoding`` default UTF-8).
    """
    path = Path(path)
    tmp = temporary_name(path)
    fd = os.open(tmp, _CREATE, 0o644)
    try:
        with os.fdopen(fd, mode, encoding=(encoding or "utf-8") if "b" not in mode else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path) as handle:
        handle.write(data)
    return Path(path)


def write_new(path: str | os.PathLike, data: bytes) -> Path:
    """Create ``path`` (it must not exist: nothing there, link or not, is opened) and write ``data``,
    without a per-file ``fsync``: for the many files of a fresh private folder that is moved into
    place whole once complete (``gan sample --format png``), where :func:`atomic_write`'s sync per
    file would cost more than the writing."""
    fd = os.open(path, _CREATE, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    return write_bytes(path, text.encode("utf-8"))


def _open_regular(path: str | os.PathLike, flags: int) -> int:
    """``os.open`` without following a link, refusing anything but a regular file (a FIFO would block,
    a device would be written)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refused_link(path) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "it is not a regular file", str(path))
    os.set_blocking(fd, True)
    return fd


def append_text(path: str | os.PathLike, text: str) -> None:
    """Append ``text`` (UTF-8) to ``path``, creating it; never through a link."""
    fd = _open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


def open_lock(path: str | os.PathLike) -> int:
    """A read-write descriptor of lock file ``path``, created when missing; never through a link."""
    return _open_regular(path, os.O_RDWR | os.O_CREAT)


def check_inside(path: str | os.PathLike, root: str | os.PathLike) -> Path:
    """``path``, after checking that it does not resolve to a place outside ``root`` (a planted
    symbolic link); raises the ``OSError`` of :func:`refused_link` when it does."""
    path = Path(path)
    try:
        real, base = path.resolve(strict=False), Path(root).resolve(strict=False)
    except (OSError, RuntimeError):  # a link loop
        raise refused_link(path) from None
    if real != base and base not in real.parents:
        raise refused_link(path)
    return path


def read_bytes(path: str | os.PathLike, root: str | os.PathLike) -> bytes:
    """The bytes of ``path``, a regular file inside ``root`` (see :func:`check_inside`)."""
    check_inside(path, root)
    fd = os.open(os.path.realpath(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "it is not a regular file", str(path))
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def read_text(path: str | os.PathLike, root: str | os.PathLike) -> str:
    """The UTF-8 text of ``path``, a regular file inside ``root``; ``UnicodeDecodeError`` when it is
    not UTF-8."""
    return read_bytes(path, root).decode("utf-8")


def sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
