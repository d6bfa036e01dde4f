"""VirtualClock: paces live camera workers to real time and keeps them within a bounded skew.

A tick is one step of ``1 / fps`` seconds of the common clock; every worker processes ticks in
increasing order. Each worker has a *position*: the tick it is processing, or, while it waits,
the tick it asks for. A worker asking for its next tick (``wait_for_tick(worker, last_done)``)
asks for ``max(last_done + 1, current real-time tick)`` -- a worker that fell behind real time
(a slow frame, a GC or VM pause, a loaded machine) jumps to the present, dropping the ticks it
missed -- and gets it when:

* real time has reached it (pacing; ``fps=None`` turns pacing off, which tests use);
* it is at most ``max_skew`` ticks ahead of every other active worker's position;
* the clock is running: ``stop()`` wakes every waiter, which then gets ``None``.

Why this cannot deadlock: a waiting worker's position moves with real time, so after a shared
pause every waiter asks for the same present tick and none is ahead of another; and the worker
with the lowest position always passes the skew gate, so it only ever waits for real time. A
worker stops holding the others back when it has not asked for a tick for ``stall_seconds``
(stuck on a dead stream, crashed); when it comes back it jumps to the present like any other.

``try_tick`` is the same decision without blocking, so the pacing can be driven by a fake
clock in tests. All state is guarded by one condition variable.

``DetectionSlots`` spreads the workers' detections over the ticks: the schedules' phases
(``MOT.DETECTION_STAGGER``) hold only until a worker jumps ticks, and the adaptive rule adds
detections wherever tracks appear, so without a cap several cameras would run the detector on one
tick (each about a tick's time on two cores) and all of them fall behind together.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence


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
        self._position: dict[str, int] = {}  # tick each worker is processing or asking for
        self._seen: dict[str, float] = {}  # when each worker last asked (or started a tick)
        self._origin = clock()
        self._stopped = False

    # ------------------------------------------------------------------ workers

    def register(self, worker: str) -> None:
        with self._cond:
            self._position[worker] = self._floor(self._clock())
            self._seen[worker] = self._clock()
            self._cond.notify_all()

    def unregister(self, worker: str) -> None:
        with self._cond:
            self._position.pop(worker, None)
            self._seen.pop(worker, None)
            self._cond.notify_all()

    def try_tick(self, worker: str, last_done: int) -> int | None:
        """The tick ``worker`` may start now (its position becomes that tick), else None."""
        with self._cond:
            tick, wait = self._ask(worker, last_done)
            return tick if wait <= 0 and not self._stopped else None

    def wait_for_tick(self, worker: str, last_done: int, timeout: float | None = None) -> int | None:
        """The next tick ``worker`` may process, or None once the clock is stopped (or on timeout)."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while not self._stopped:
                tick, wait = self._ask(worker, last_done)
                if wait <= 0:
                    return tick
                now = self._clock()
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
            return [w for w in self._position if w not in active]

    def positions(self) -> dict[str, int]:
        """Each worker's position: the tick it is processing or asking for."""
        with self._cond:
            return dict(self._position)

    def current_tick(self) -> int:
        with self._cond:
            return self._floor(self._clock())

    # ------------------------------------------------------------------ internals

    def _floor(self, now: float) -> int:
        return math.floor((now - self._origin) * self.fps) if self.fps else 0

    def _active(self, now: float) -> list[str]:
        return [w for w, seen in self._seen.items() if now - seen <= self.stall_seconds]

    def _ask(self, worker: str, last_done: int) -> tuple[int, float]:
        """Record what ``worker`` asks for; (tick, seconds to wait before asking again, 0: go)."""
        if worker not in self._position:
            raise KeyError(f"worker {worker!r} is not registered with the clock")
        now = self._clock()
        tick = max(last_done + 1, self._floor(now))
        if tick != self._position[worker]:
            self._cond.notify_all()  # a worker waiting on this one may now pass the skew gate
        self._position[worker], self._seen[worker] = tick, now
        others = {w: self._position[w] for w in self._active(now) if w != worker}
        return tick, wait_seconds(tick, now, self._origin, self.fps, others, self.max_skew, self._poll)


def wait_seconds(
    tick: int,
    now: float,
    origin: float,
    fps: float | None,
    others: Mapping[str, int],
    max_skew: int,
    poll: float,
) -> float:
    """0 when ``tick`` may start at ``now``, else how long to wait before asking again.

    ``others`` are the positions of the other active workers.
    """
    if fps:
        starts = origin + tick / fps
        if starts > now:
            return starts - now
    if others and tick > min(others.values()) + max_skew:
        return poll  # a slower worker holds us back; woken when it moves, re-checked for stalls
    return 0.0


def health(
    last_frames: Mapping[str, float | None],
    started: float,
    now: float,
    stall_seconds: float,
    failed: Mapping[str, str] | None = None,
) -> tuple[bool, str]:
    """(healthy, message) of a live run from when each camera last delivered a new frame.

    Healthy only while every camera delivered a new frame within ``stall_seconds`` (counted
    from ``started`` for a camera with none yet) and none failed (``failed``: camera -> error).
    The message's first line is the verdict (``ok``, or what is wrong naming the cameras), then
    one line per camera.
    """
    failed = failed or {}
    lines, bad = [], []
    for name, last in last_frames.items():
        age = now - (last if last is not None else started)
        if name in failed:
            state = f"failed: {failed[name]}"
        elif age > stall_seconds:
            state = (
                f"stalled: no new frame for {age:.1f} s"
                if last is not None
                else f"down: no frame in {age:.1f} s"
            )
        else:
            state = f"ok, last new frame {age:.1f} s ago" if last is not None else "starting"
        bad += [name] if state.startswith(("failed", "stalled", "down")) else []
        lines.append(f"{name}: {state}")
    if not bad:
        verdict = "ok"
    elif len(bad) == len(last_frames) and not failed:
        newest = min(now - (t if t is not None else started) for t in last_frames.values())
        verdict = (
            f"stalled: no camera produced a frame for {newest:.1f} s (LIVE.STALL_SECONDS {stall_seconds:g})"
        )
    else:
        verdict = f"not ok: {', '.join(bad)} stalled, down or failed (LIVE.STALL_SECONDS {stall_seconds:g})"
    return not bad, "\n".join([verdict, *lines])


def detection_slots(intervals: Sequence[int]) -> DetectionSlots | None:
    """The shared cap of cameras detecting every ``intervals[k]`` ticks: the detections per tick
    their steady cadence needs, rounded up (3 cameras at 2: 2); None for fewer than 2 cameras."""
    if len(intervals) < 2:
        return None
    return DetectionSlots(max(1, math.ceil(len(intervals) / max(1, min(intervals)))))


class DetectionSlots:
    """At most ``per_tick`` detections per tick, shared by the workers (thread-safe).

    A worker reserves a slot before its schedule decides and releases it when it did not detect.
    A worker that finds the tick full lets the tracker predict that tick and is booked the first
    free slot of the next ``horizon`` ticks, which it owns when it gets there: the held-back
    cameras queue, so a busy scene delays each camera in turn and starves none (the slowest
    thread would otherwise find every slot taken, tick after tick).
    """

    def __init__(self, per_tick: int, keep: int = 64, horizon: int = 8) -> None:
        self.per_tick, self.keep, self.horizon = per_tick, keep, horizon
        self._taken: dict[int, int] = {}
        self._booked: dict[str, int] = {}  # worker -> the tick whose slot it holds since it was held back
        self._lock = threading.Lock()

    def reserve(self, tick: int, worker: str) -> bool:
        """A slot of ``tick`` for ``worker``: its booked one, else a free one (else it is booked one
        of a later tick, unless it holds one already)."""
        with self._lock:
            booked = self._booked.get(worker)
            if booked is not None and booked <= tick:  # its turn, or it jumped past it
                del self._booked[worker]
                if booked == tick:
                    return True
                self._give_back(booked)
                booked = None
            if self._take(tick):
                if booked is not None:  # a slot came free before its turn: the booking goes back
                    self._give_back(self._booked.pop(worker))
                return True
            if booked is None:
                later = next((t for t in range(tick + 1, tick + 1 + self.horizon) if self._take(t)), None)
                if later is not None:
                    self._booked[worker] = later
            return False

    def release(self, tick: int) -> None:
        """Give back a slot of ``tick`` that was not used."""
        with self._lock:
            self._give_back(tick)

    def taken(self, tick: int) -> int:
        with self._lock:
            return self._taken.get(tick, 0)

    def _take(self, tick: int) -> bool:
        if self._taken.get(tick, 0) >= self.per_tick:
            return False
        self._taken[tick] = self._taken.get(tick, 0) + 1
        if len(self._taken) > self.keep:  # ticks long past: no worker asks for them again
            for old in sorted(self._taken)[: len(self._taken) - self.keep]:
                del self._taken[old]
        return True

    def _give_back(self, tick: int) -> None:
        if self._taken.get(tick, 0) > 0:
            self._taken[tick] -= 1
