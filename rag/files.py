"""File helpers shared by the stages that persist things: hashing, atomic writes, leftovers of
interrupted writers, and a clear error when the disk is full."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from rag.errors import Unavailable

# errors that mean "no room to write": full disk, file size limit, quota
NO_SPACE = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
# the temporary names the writers here use: `.<name>.<pid>.tmp` (optionally with a suffix after)
_TMP = re.compile(r"^\..+\.(\d+)\.tmp(\.[A-Za-z0-9]+)?$")


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks (model files are a gigabyte)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (a crash after it returns keeps the new name)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory; the rename is still atomic
        pass
    finally:
        os.close(fd)


def tmp_name(path: Path, suffix: str = "") -> Path:
    """The temporary file a writer of `path` uses: beside it, hidden, named by this process, so a
    leftover of a killed writer is recognised (`stale_tmp_files`)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")


@contextmanager
def atomic_writer(path: Path, suffix: str = "") -> Iterator[BinaryIO]:
    """A file handle whose content replaces `path` only when the block ends without an error:
    written to a temporary file, flushed to disk, renamed over `path`. Readers see the old content
    or the new one, never a half-written file; a failed write leaves no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path, suffix)
    try:
        with tmp.open("wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` through `atomic_writer`."""
    with atomic_writer(path) as fh:
        fh.write(data)


def atomic_write_text(path: Path, data: str) -> None:
    """`atomic_write_bytes` of the UTF-8 text."""
    atomic_write_bytes(path, data.encode("utf-8"))


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a temporary file of a dead one is a
    leftover; one of a live one may be a write in progress)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def stale_tmp_files(folder: Path) -> list[Path]:
    """Temporary files in `folder` (not below it) left by writers that no longer run."""
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        m = _TMP.match(p.name)
        if m and not pid_alive(int(m.group(1))):
            out.append(p)
    return out


def remove_stale_tmp(folder: Path) -> list[Path]:
    """Delete `stale_tmp_files(folder)`; returns what was removed."""
    gone = []
    for p in stale_tmp_files(folder):
        try:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
            gone.append(p)
        except FileNotFoundError:
            pass
    return gone


def is_no_space(exc: BaseException) -> bool:
    """Whether an exception means the disk (or a quota, or the file size limit) is full. SQLite
    (`database or disk is full`) and faiss (a RuntimeError quoting strerror) report it without an
    errno attribute."""
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        return True
    text = str(exc)
    return any(
        s in text
        for s in ("database or disk is full", "No space left on device", "File too large", "Disk quota exceeded")
    )


def no_space_error(folder: Path, what: str) -> Unavailable:
    """The one-line error for a write that ran out of room, with the free space left."""
    try:
        free = shutil.disk_usage(folder).free
        left = f"{free / 2**20:,.1f} MiB free"
    except OSError:
        left = "free space unknown"
    return Unavailable(
        f"no space left on the device while writing {what} in {folder} ({left}); "
        f"the previous index is unchanged — free some space and run `rag index` again"
    )
