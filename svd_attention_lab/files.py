"""Atomic output: every file the project writes appears whole or not at all, never over an input,
never over an existing file unless asked, with the permissions any new file would get."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator



def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class FileRefused(ValueError):
    """A path that cannot be read or written as asked (not a regular file, an input, an existing file);
    the message names it."""


_UMASK = _current_umask()  # read once: setting the umask to read it is not thread-safe


def check_output(dst: str | os.PathLike, force: bool, reads: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse ``dst`` where writing it would destroy something: a file this command reads (or a
    folder holding one), whatever ``force`` says; an existing path without ``force``; a missing folder."""
    dst = Path(dst)
    target = dst.resolve()
    for source in reads:
        source = Path(source).resolve()
        if source == target or (dst.exists() and source.exists() and os.path.samefile(source, dst)):
            raise FileRefused(f"refusing to overwrite the input {dst}, whatever --force says; "
                                  "choose another output path")
        if target in source.parents:
            raise FileRefused(f"refusing to replace {dst}: it holds {source}, an input of this command; "
                                  "choose another output path")
    if (dst.exists() or dst.is_symlink()) and not force:
        raise FileRefused(f"{dst} already exists; pass --force to replace it")
    if not dst.parent.is_dir():
        raise FileRefused(f"{dst}: output folder {dst.parent} does not exist")


@contextlib.contextmanager
def atomic_output(dst: str | os.PathLike, *, replace: bool = False,
                  before_commit: Callable[[], None] | None = None) -> Iterator[BinaryIO]:
    """A file to write ``dst`` through: a uniquely named temporary file beside it, synced and moved
    into place when the block ends without error, removed otherwise. Without ``replace`` an existing
    ``dst`` is never replaced, even one that appears while writing."""
    with atomic_path(dst, replace=replace, before_commit=before_commit) as tmp:
        with tmp.open("r+b") as out:
            yield out


@contextlib.contextmanager
def atomic_path(dst: str | os.PathLike, *, replace: bool = False,
                before_commit: Callable[[], None] | None = None) -> Iterator[Path]:
    """Like :func:`atomic_output`, for writers that want a file name (an encoder, Pillow): write
    ``tmp``, then it is synced and moved into place."""
    dst = Path(dst)
    fd, name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a new file follows the umask
        yield tmp
        _fsync(tmp)
        if before_commit is not None:
            before_commit()
        _commit(tmp, dst, replace)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(dst: str | os.PathLike, data: bytes, *, replace: bool = False) -> Path:
    with atomic_output(dst, replace=replace) as out:
        out.write(data)
    return Path(dst)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit(tmp: Path, dst: Path, replace: bool) -> None:
    if replace:
        os.replace(tmp, dst)
        return
    try:  # a hard link fails if dst exists (or appeared meanwhile), so nothing is ever replaced
        os.link(tmp, dst)
    except FileExistsError:
        raise FileRefused(f"{dst} already exists; pass --force to replace it") from None
    except OSError:  # file systems without hard links
        if dst.exists():
            raise FileRefused(f"{dst} already exists; pass --force to replace it") from None
        os.replace(tmp, dst)


@contextlib.contextmanager
def atomic_folder(dst: str | os.PathLike, *, replace: bool = False) -> Iterator[Path]:
    """A folder built beside ``dst`` and renamed into place when the block ends without error; an
    existing ``dst`` (with ``replace``) is removed only after the new one is in place."""
    dst = Path(dst)
    build = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".part"))
    try:
        os.chmod(build, 0o777 & ~_UMASK)
        yield build
        old = None
        if dst.exists() or dst.is_symlink():
            if not replace:
                raise FileRefused(f"{dst} already exists; pass --force to replace it")
            old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
            os.rename(dst, old)
        try:
            os.rename(build, dst)
        except OSError:
            if old is not None:
                os.rename(old, dst)
            raise
        if old is not None:
            shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    finally:
        shutil.rmtree(build, ignore_errors=True)


def regular_file(path: str | os.PathLike, what: str = "file") -> Path:
    """``path`` if it is a regular file (a link to one included); otherwise a one-line refusal that
    says what it is: a FIFO, a device or a folder is never opened, so nothing blocks or streams forever."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileRefused(f"{path}: no such {what}") from None
    except OSError as exc:
        raise FileRefused(f"{path}: cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise FileRefused(f"{path} is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        device = stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if device else "not a regular file"
        raise FileRefused(f"{path} is {kind}, not a {what}")
    return path
