"""sopflow.adapters.forkmap: slices of work in forked processes, results in order, serial when in doubt."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from sopflow.adapters import forkmap

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")


def squares(items: Sequence[int]) -> list[tuple[int, int, dict[str, list[int]]]]:
    return [(i, i * i, {"pid": [os.getpid()]}) for i in items]


def test_results_in_order_from_several_processes() -> None:
    batch = forkmap.start(squares, range(1000), workers=3, min_slice=10)
    out = batch.results()
    assert [r[:2] for r in out] == [(i, i * i) for i in range(1000)]
    pids = {r[2]["pid"][0] for r in out}
    assert len(pids) == 3 and os.getpid() in pids
    assert [r[2]["pid"][0] for r in out[:10]] == [os.getpid()] * 10  # the first slice is computed here


def test_first_share_and_own_slice_first() -> None:
    batch = forkmap.start(squares, range(300), workers=2, min_slice=10, first_share=0.5)
    batch.own()
    out = batch.results()
    mine = [r for r in out if r[2]["pid"][0] == os.getpid()]
    assert len(mine) == 100 and [r[0] for r in out] == list(range(300))


@pytest.mark.parametrize(
    ("workers", "items", "min_slice"),
    [(1, 1000, 10), (2, 19, 10), (4, 0, 1)],
)
def test_serial_when_not_worth_a_fork(workers: int, items: int, min_slice: int) -> None:
    out = forkmap.start(squares, range(items), workers=workers, min_slice=min_slice).results()
    assert [r[0] for r in out] == list(range(items))
    assert {r[2]["pid"][0] for r in out} <= {os.getpid()}


def test_serial_while_other_threads_run() -> None:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not forkmap.can_fork()
        out = forkmap.start(squares, range(100), workers=2, min_slice=1).results()
        assert {r[2]["pid"][0] for r in out} == {os.getpid()}
    finally:
        stop.set()
        t.join()


def test_a_failing_worker_s_slice_is_computed_here() -> None:
    parent = os.getpid()

    def fragile(items: Sequence[int]) -> list[object]:
        if os.getpid() != parent and 150 in items:
            raise RuntimeError("worker trouble")
        if os.getpid() != parent and 250 in items:
            return [object() for _ in items]  # not marshal-able
        if os.getpid() != parent and 50 in items:
            os._exit(0)  # exits "cleanly" having sent nothing
        return [i for i in items]

    out = forkmap.start(fragile, range(300), workers=3, min_slice=10, first_share=0.01).results()
    assert out == list(range(300))


def test_an_error_here_stops_the_workers() -> None:
    parent = os.getpid()

    def slow_or_broken(items: Sequence[int]) -> list[int]:
        if os.getpid() == parent:
            raise ValueError("broken here")
        import time

        time.sleep(30)
        return list(items)

    batch = forkmap.start(slow_or_broken, range(100), workers=2, min_slice=1)
    pids = [pid for pid, _, _ in batch._workers]
    assert pids
    with pytest.raises(ValueError, match="broken here"):
        batch.results()
    for pid in pids:  # reaped: no such child any more
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_worker_never_returns_into_the_caller(tmp_path: Path) -> None:
    """A worker leaves with os._exit, even when its function fails: the caller's code after the fork (here a
    finally block appending to a file) runs in the caller only."""
    marks = tmp_path / "marks"
    parent = os.getpid()

    def fails_in_workers(items: Sequence[int]) -> list[int]:
        if os.getpid() != parent:
            raise KeyboardInterrupt
        return list(items)

    try:
        assert forkmap.start(fails_in_workers, range(100), workers=3, min_slice=1).results() == list(range(100))
    finally:
        with open(marks, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
    assert marks.read_text(encoding="utf-8") == f"{parent}\n"
