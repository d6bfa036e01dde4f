"""VirtualClock: keeps live camera workers on a common tick with bounded skew.

A tick is one step of ``1 / fps`` seconds of the common clock; every worker processes ticks in
increasing order. A worker asks ``wait_for_tick(worker, last_done)`` for its next tick and
gets it when:

* real time has reached it (``fps``; pacing) -- a worker that fell behind real time jumps to
  the current tick instead, skipping frames rather than lagging;
* it is at most ``max_skew`` ticks ahead of the slowest active worker (a fast camera waits);
* the clock is running: ``stop()`` wakes every waiter, which then gets ``None``.

A worker that has not asked for a tick for ``stall_seconds`` (stuck on a dead stream, crashed)
stops counting as active, so it no longer holds the others back; when it comes back it jumps
to the current tick. ``fps=None`` turns pacing off (ticks as fast as the slowest worker allows),
which tests use. All state is guarded by one condition variable.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class VirtualClock:
    def __init__(
        self,
        fps: float | None = 8.0,
        max_skew: int = 1,
        stall_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        poll: float = 0.05,
    ) -> None:
        self.fps, self.max_skew, self.stall_seconds = fps, max_skew, stall_seconds
        self._clock, self._poll = clock, poll
        self._cond = threading.Condition()
        self._done: dict[str, int] = {}  # last tick each worker finished (-1: none yet)
        self._seen: dict[str, float] = {}  # when each worker last asked
        self._origin = clock()
        self._stopped = False

    # ------------------------------------------------------------------ workers

    def register(self, worker: str) -> None:
        with self._cond:
            self._done[worker] = self._floor() - 1
            self._seen[worker] = self._clock()
            self._cond.notify_all()

    def unregister(self, worker: str) -> None:
        with self._cond:
            self._done.pop(worker, None)
            self._seen.pop(worker, None)
            self._cond.notify_all()

    def wait_for_tick(self, worker: str, last_done: int, timeout: float | None = None) -> int | None:
        """The next tick ``worker`` may process, or None once the clock is stopped (or on timeout)."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            if worker not in self._done:
                raise KeyError(f"worker {worker!r} is not registered with the clock")
            self._done[worker] = last_done
            self._seen[worker] = self._clock()
            self._cond.notify_all()
            while not self._stopped:
                now = self._clock()
                self._seen[worker] = now
                tick = max(last_done + 1, self._floor() if self.fps else last_done + 1)
                wait = self._wait_seconds(worker, tick, now)
                if wait <= 0:
                    return tick
                if deadline is not None:
                    if now >= deadline:
                        return None
                    wait = min(wait, deadline - now)
                self._cond.wait(timeout=min(wait, self._poll))
            return None

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stopped

    # ------------------------------------------------------------------ state

    def active(self) -> list[str]:
        """Workers that asked for a tick within ``stall_seconds``."""
        with self._cond:
            return self._active(self._clock())

    def stalled(self) -> list[str]:
        with self._cond:
            active = set(self._active(self._clock()))
            return [w for w in self._done if w not in active]

    def positions(self) -> dict[str, int]:
        with self._cond:
            return dict(self._done)

    def current_tick(self) -> int:
        with self._cond:
            return self._floor()

    # ------------------------------------------------------------------ internals

    def _floor(self) -> int:
        return math.floor((self._clock() - self._origin) * self.fps) if self.fps else 0

    def _active(self, now: float) -> list[str]:
        return [w for w, seen in self._seen.items() if now - seen <= self.stall_seconds]

    def _wait_seconds(self, worker: str, tick: int, now: float) -> float:
        """0 when ``tick`` may start now, else how long to wait before checking again."""
        if self.fps:
            starts = self._origin + tick / self.fps
            if starts > now:
                return starts - now
        others = [self._done[w] for w in self._active(now) if w != worker]
        if others and tick > min(others) + 1 + self.max_skew:
            return self._poll  # a slower worker holds us back; re-check when it moves or stalls
        return 0.0
