"""A small progress bar on stderr for work that takes more than a second, drawn only on a terminal.

It stays silent for the first second (most runs finish before that), redraws at most ten times a second,
and erases itself when done, so piped or captured output never holds it. No dependency.

    bar = Progress(len(files), "indexing tickets")
    for n, f in enumerate(files, 1):
        bar.update(n)
        ...
    bar.close()
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

DELAY = 1.0  # seconds of silence before the bar appears
INTERVAL = 0.1  # seconds between redraws
WIDTH = 30


class Progress:
    def __init__(self, total: int, label: str, *, stream: TextIO | None = None, delay: float | None = None,
                 force: bool = False) -> None:
        self.total = max(total, 1)  # may be set later, when it becomes known
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.delay = DELAY if delay is None else delay
        self.enabled = force or _is_tty(self.stream)
        self.start = time.monotonic()
        self.next_check = 0
        self.last_draw = 0.0
        self.drawn = False

    def update(self, done: int) -> None:
        """Record progress (``done`` of ``total``); cheap enough to call for every item."""
        if not self.enabled or done < self.next_check:
            return
        self.next_check = done + max(self.total // 200, 1)
        now = time.monotonic()
        if now - self.start < self.delay or now - self.last_draw < INTERVAL:
            return
        self.last_draw = now
        self._draw(done, now)

    def _draw(self, done: int, now: float) -> None:
        frac = min(done / self.total, 1.0)
        filled = int(frac * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        elapsed = now - self.start
        eta = f", {elapsed / frac - elapsed:.0f}s left" if 0 < frac < 1 else ""
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}{eta}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Erase the bar (when one was drawn)."""
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_tty(stream: TextIO) -> bool:
    if os.environ.get("SOPFLOW_NO_PROGRESS"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
