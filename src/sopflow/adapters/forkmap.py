"""Spread a pure computation over the machine's cores with ``os.fork`` (POSIX), the results in order.

:func:`start` splits a list of items into contiguous slices, forks one worker process per slice but the
first and returns a :class:`Batch`; the caller may do other work; :meth:`Batch.own` computes the first slice
in the calling process (whenever the caller likes), :meth:`Batch.results` collects the workers' results and
returns them all in item order. A worker shares the parent's memory as it stood at the fork (copy on
write), so the function may read anything the parent has prepared; it sends its results back through a
pipe with :mod:`marshal`, so they must be plain values (``None``, ``bool``, ``int``, ``float``, ``str``,
``bytes``, tuples, lists, dicts, sets of those).

Everything falls back to computing in the calling process, with the same results: no ``os.fork`` (Windows;
macOS is left out too), one usable core, too few items, other threads running (forking a threaded process
can deadlock the child), or a worker that fails or dies (its slice is computed again here). A worker never
returns into the caller's code: it leaves with ``os._exit`` whatever happens, so no ``finally`` block,
``atexit`` handler or buffered output of the parent runs twice.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 8


def cpus() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether forking is available and safe here: POSIX but macOS (where system frameworks may not survive
    a fork without exec), and this process runs one thread."""
    if not hasattr(os, "fork") or sys.platform == "darwin":
        return False
    import threading

    return threading.active_count() == 1


class Batch(Generic[T, R]):
    """Slices of work under way in worker processes; see :func:`start`."""

    def __init__(self, func: Callable[[Sequence[T]], list[R]], slices: list[Sequence[T]]) -> None:
        self._func = func
        self._mine = slices[0] if slices else []
        self._own: list[R] | None = None
        self._workers: list[tuple[int, int, Sequence[T]]] = []  # (pid, read end of the pipe, slice)
        try:
            for part in slices[1:]:
                self._workers.append(self._fork(part))
        except BaseException:
            self.cancel()
            raise

    def _fork(self, part: Sequence[T]) -> tuple[int, int, Sequence[T]]:
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:  # no process to spare: this slice is computed here
            os.close(read_end)
            os.close(write_end)
            return -1, -1, part
        if pid == 0:  # the worker: compute, send, leave (never return into the caller's code)
            code = 1
            try:
                os.close(read_end)
                payload = marshal.dumps(self._func(part))
                view = memoryview(payload)
                while view:
                    view = view[os.write(write_end, view) :]
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        return pid, read_end, part

    def own(self) -> None:
        """Compute the first slice here now (else :meth:`results` does), while the workers compute theirs."""
        if self._own is None:
            try:
                self._own = self._func(self._mine)
            except BaseException:
                self.cancel()
                raise

    def results(self) -> list[R]:
        """The results of all items: the first slice's (computed here), then the workers' (computing here
        any that failed)."""
        self.own()
        assert self._own is not None
        try:
            out = list(self._own)
            for pid, read_end, part in self._workers:
                got = self._collect(pid, read_end) if pid > 0 else None
                if got is None or len(got) != len(part):
                    got = self._func(part)
                out.extend(got)
            self._workers = []
            return out
        except BaseException:
            self.cancel()
            raise

    @staticmethod
    def _collect(pid: int, read_end: int) -> list[R] | None:
        chunks = []
        try:
            while chunk := os.read(read_end, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(read_end)
            _, status = os.waitpid(pid, 0)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        try:
            got = marshal.loads(b"".join(chunks))
        except (EOFError, ValueError, TypeError):
            return None
        return got if isinstance(got, list) else None

    def cancel(self) -> None:
        """Stop the workers still running (after an error in the caller)."""
        import signal

        for pid, read_end, _ in self._workers:
            if pid <= 0:
                continue
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.close(read_end)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        self._workers = []


def start(
    func: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    *,
    workers: int | None = None,
    min_slice: int = 256,
    first_share: float = 1.0,
) -> Batch[T, R]:
    """Start computing ``func(items)`` in slices; ``func`` maps a slice to one result per item, in order.

    ``workers``: processes in all, this one included (default: the usable cores, at most
    :data:`MAX_WORKERS`); fewer when a slice would hold under ``min_slice`` items. ``first_share``: the
    first slice's size relative to the others' (below 1 when the caller has other work to do too).
    """
    n = min(workers if workers is not None else cpus(), MAX_WORKERS, len(items) // max(min_slice, 1))
    if n < 2 or not can_fork():
        return Batch(func, [items])
    weights = [first_share] + [1.0] * (n - 1)
    total = sum(weights)
    slices: list[Sequence[T]] = []
    at = 0
    for i, w in enumerate(weights):
        end = len(items) if i == n - 1 else min(len(items), at + round(len(items) * w / total))
        slices.append(items[at:end])
        at = end
    return Batch(func, slices)
