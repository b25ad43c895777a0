"""Work counted instead of time. A test that guards against quadratic or runaway work measures the
work itself (function calls made, bytes read, chunks embedded), which is the same on an idle machine
and beside another CPU-heavy job; wall time is not. The speed figures live in eval/bench_*.py."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# What a call that should have returned long ago is given before the test calls it hung: not a
# measurement (the work bounds are), only an end to the wait.
HANG_S = 600


@dataclass
class Calls:
    n: int = 0


@contextmanager
def counting_calls() -> Iterator[Calls]:
    """Counts the function calls, Python and C, that this thread makes inside the block. A loop that
    runs once per character or per paragraph shows up here; so does one that runs once per pair."""
    calls = Calls()

    def profile(frame, event, arg) -> None:
        if event == "call" or event == "c_call":
            calls.n += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(previous)


def calls_made(fn: Callable[[], object]) -> int:
    with counting_calls() as calls:
        fn()
    return calls.n


def assert_linear(run: Callable[[int], object], n: int, slack: float = 1.25) -> tuple[int, int]:
    """`run(n)` and `run(2 * n)` make calls in proportion to their size: twice the input costs at most
    `2 * slack` times the calls (linear work gives 2, n log n a little more, quadratic 4). A run of
    an eighth of the size comes first, uncounted, so that what is loaded once (dictionaries, the
    tokenizer) is not counted as work of the first size. Returns the two counts."""
    run(max(1, n // 8))
    small = calls_made(lambda: run(n))
    large = calls_made(lambda: run(2 * n))
    assert large <= 2 * slack * small, f"{small:,} calls for {n:,}, {large:,} for {2 * n:,}: not linear"
    return small, large
