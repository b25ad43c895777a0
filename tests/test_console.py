"""Where the command line writes (rag/console.py): results on stdout, and a failure as one line on
stderr with exit code 1, however long the message."""

from __future__ import annotations

import pytest
import typer

from rag.console import err, fail, out
from rag.errors import RagError


def test_fail_is_one_line_on_stderr_and_exit_code_1(capsys):
    long = "甲市报告无法读取：" + "乙县" * 200  # far wider than any terminal
    with pytest.raises(typer.Exit) as exc:
        fail(RagError(long))
    assert exc.value.exit_code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"error: {long}\n"


def test_results_on_stdout_and_messages_on_stderr(capsys):
    out.print("甲市 1.8万人", highlight=False)
    err.print("丙镇 written")
    captured = capsys.readouterr()
    assert captured.out == "甲市 1.8万人\n" and captured.err == "丙镇 written\n"
