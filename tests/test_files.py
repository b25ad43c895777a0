"""File helpers every writer shares: atomic replacement, leftovers of killed writers, a full disk."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3

import pytest

from rag.errors import RagError
from rag.files import (
    atomic_write_bytes,
    atomic_write_text,
    atomic_writer,
    is_no_space,
    no_space_error,
    pid_alive,
    remove_stale_tmp,
    sha256_file,
    stale_tmp_files,
    tmp_name,
)


def test_a_write_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "a.bin"
    atomic_write_bytes(path, b"old")
    atomic_write_text(path, "新的内容")
    assert path.read_text(encoding="utf-8") == "新的内容"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.bin"]


def test_a_failed_write_keeps_the_old_content_and_no_temporary(tmp_path):
    path = tmp_path / "a.bin"
    atomic_write_bytes(path, b"old")
    with pytest.raises(RuntimeError):
        with atomic_writer(path) as fh:
            fh.write(b"half of the new")
            raise RuntimeError("the writer died")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_leftovers_of_dead_writers_are_found_and_those_of_live_ones_are_not(tmp_path):
    mine = tmp_name(tmp_path / "index.faiss")  # this process: a write in progress
    mine.write_bytes(b"x")
    dead = tmp_path / f".store.sqlite.{2**22 + 4321}.tmp"
    dead.write_bytes(b"x")
    dead_dir = tmp_path / f".build.{2**22 + 4322}.tmp.d"
    dead_dir.mkdir()
    (tmp_path / "notes.tmp").write_bytes(b"not ours")
    assert set(stale_tmp_files(tmp_path)) == {dead, dead_dir}
    assert set(remove_stale_tmp(tmp_path)) == {dead, dead_dir}
    assert mine.exists() and not dead.exists() and not dead_dir.exists()
    assert stale_tmp_files(tmp_path / "missing") == []


def test_pid_alive():
    assert pid_alive(os.getpid())
    assert not pid_alive(0) and not pid_alive(-1)
    assert not pid_alive(2**22 + 999)  # above the kernel's largest pid


def test_sha256_of_a_file(tmp_path):
    data = os.urandom(3 << 20)
    (tmp_path / "w").write_bytes(data)
    assert sha256_file(tmp_path / "w") == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "exc, full",
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (sqlite3.OperationalError("database or disk is full"), True),
        (RuntimeError("fwrite: No space left on device"), True),
        (OSError(errno.EACCES, "Permission denied"), False),
        (ValueError("bad value"), False),
    ],
)
def test_a_full_disk_is_recognised_however_it_is_reported(exc, full):
    assert is_no_space(exc) is full


def test_the_full_disk_message_is_one_line_with_the_space_left(tmp_path):
    err = no_space_error(tmp_path, "the index")
    assert isinstance(err, RagError) and "\n" not in str(err)
    assert "the index" in str(err) and "MiB free" in str(err)
