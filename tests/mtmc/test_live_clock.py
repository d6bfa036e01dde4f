"""The live clock driven by a fake clock: shared pauses, a slow camera, a dead camera, many cameras.

Each test simulates workers in one thread: time is a number the test moves forward, a worker
takes a fixed (or seeded random) time per frame, and a pause of the whole process moves time on
while nobody runs. No real sleeps, so the results do not depend on the machine's speed.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from mtmc.live.clock import VirtualClock, health

STEP = 0.005  # simulation step, seconds


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class SimWorker:
    name: str
    duration: Callable[[int], float]  # seconds the worker takes over a tick
    last: int = -1
    current: int = -1
    busy_until: float | None = None
    ticks: list[int] = field(default_factory=list)


def simulate(
    clock: VirtualClock,
    now: FakeTime,
    workers: list[SimWorker],
    seconds: float,
    pauses: tuple[tuple[float, float], ...] = (),
) -> None:
    """Run the workers for ``seconds`` of fake time; ``pauses``: (at, length) of a whole-process pause.

    Checks the skew invariant at every tick start: no worker starts a tick more than ``max_skew``
    ahead of another active worker's position.
    """
    start, pending = now.now, sorted(pauses)
    while now.now < start + seconds:
        if pending and now.now >= start + pending[0][0]:
            length = pending.pop(0)[1]
            now.now += length  # the process was stopped: time passed, nobody ran
            for w in workers:
                if w.busy_until is not None:
                    w.busy_until += length
        for w in workers:
            if w.busy_until is not None:
                if now.now < w.busy_until:
                    continue
                w.busy_until, w.last = None, w.current
            tick = clock.try_tick(w.name, w.last)
            if tick is None:
                continue
            others = [p for name, p in clock.positions().items() if name != w.name and name in clock.active()]
            assert not others or tick <= min(others) + clock.max_skew, (w.name, tick, others)
            w.current, w.busy_until = tick, now.now + w.duration(tick)
            w.ticks.append(tick)
        now.now += STEP


def make_clock(now: FakeTime, names: list[str], fps: float = 8.0, max_skew: int = 1) -> VirtualClock:
    clock = VirtualClock(fps=fps, max_skew=max_skew, stall_seconds=5.0, clock=now)
    for name in names:
        clock.register(name)
    return clock


def test_two_workers_recover_from_a_shared_pause() -> None:
    """The issue's reproduction: 8 fps, one shared 0.5 s pause, 6 s: about 48 frames each, not 9."""
    now = FakeTime()
    clock = make_clock(now, ["a", "b"])
    workers = [SimWorker("a", lambda t: 0.02), SimWorker("b", lambda t: 0.03)]
    simulate(clock, now, workers, 6.0, pauses=((1.0, 0.5),))
    for w in workers:
        assert len(w.ticks) >= 36, (w.name, len(w.ticks))
        assert w.ticks == sorted(set(w.ticks))  # increasing, none twice
        assert w.ticks[-1] >= clock.current_tick() - 1  # back on real time
        gaps = np.diff(w.ticks)
        assert gaps.max() >= 4  # the ticks of the pause were dropped, not worked off late


def test_repeated_pauses_longer_than_the_skew_never_freeze() -> None:
    now = FakeTime()
    clock = make_clock(now, ["a", "b", "c"], max_skew=0)
    workers = [SimWorker(n, lambda t: 0.01) for n in "abc"]
    pauses = tuple((0.5 + i, 0.2 + 0.1 * i) for i in range(8))
    simulate(clock, now, workers, 10.0, pauses=pauses)
    lost = sum(math.ceil(length * 8) for _, length in pauses)
    for w in workers:
        assert len(w.ticks) >= 80 - lost - 8, (w.name, len(w.ticks))
        assert w.ticks[-1] >= clock.current_tick() - 1


def test_a_worker_far_behind_real_time_catches_up_by_dropping_ticks() -> None:
    now = FakeTime()
    clock = make_clock(now, ["cam"])
    worker = SimWorker("cam", lambda t: 1.0 if t == 8 else 0.01)  # one frame takes a whole second
    simulate(clock, now, [worker], 3.0)
    after = worker.ticks[worker.ticks.index(8) + 1]
    assert after == 16  # 8 ticks of work late: ticks 9-15 are dropped
    assert worker.ticks[worker.ticks.index(16) :] == list(range(16, worker.ticks[-1] + 1))


def test_a_slow_camera_holds_a_fast_one_within_the_skew_and_both_keep_real_time() -> None:
    now = FakeTime()
    clock = make_clock(now, ["fast", "slow"], max_skew=1)
    fast, slow = SimWorker("fast", lambda t: 0.01), SimWorker("slow", lambda t: 0.3)
    simulate(clock, now, [fast, slow], 6.0)  # the skew invariant is checked at every tick start
    # the slow camera takes 2.4 ticks per frame and jumps to the present after each one
    assert len(slow.ticks) >= 18 and np.diff(slow.ticks).max() <= 3
    # the fast one works the slow one's tick and the next (max_skew 1) and then waits for it
    assert len(fast.ticks) >= 2 * len(slow.ticks) - 2
    for w in (fast, slow):
        assert w.ticks[-1] >= clock.current_tick() - 3


def test_a_dead_camera_stops_holding_the_others_after_stall_seconds() -> None:
    now = FakeTime()
    clock = make_clock(now, ["alive", "dead"], max_skew=1)
    alive = SimWorker("alive", lambda t: 0.01)
    dead = SimWorker("dead", lambda t: math.inf if t >= 10 else 0.01)  # stuck for ever in tick 10
    simulate(clock, now, [alive, dead], 12.0)
    assert dead.ticks[-1] == 10 and clock.stalled() == ["dead"]
    held = [t for t in alive.ticks if t <= 11]
    assert held[-1] == 11  # held at max_skew ahead of the dead camera ...
    resumed = alive.ticks[len(held)]
    assert 10 + 5 * 8 <= resumed <= 10 + 5 * 8 + 2  # ... for stall_seconds (5 s), then free again
    assert alive.ticks[-1] >= clock.current_tick() - 1


def test_a_camera_that_comes_back_rejoins_at_the_present() -> None:
    now = FakeTime()
    clock = make_clock(now, ["a", "b"])
    a = SimWorker("a", lambda t: 0.01)
    b = SimWorker("b", lambda t: 7.0 if t == 4 else 0.01)  # stuck 7 s, longer than stall_seconds
    simulate(clock, now, [a, b], 10.0)
    back = b.ticks[b.ticks.index(4) + 1]
    assert back >= 4 + 7 * 8 - 1 and a.ticks[-1] >= clock.current_tick() - 1
    assert b.ticks[-1] >= clock.current_tick() - 1


def test_many_cameras_with_random_frame_times_and_pauses() -> None:
    rng = np.random.default_rng(7)
    now = FakeTime()
    names = [f"cam{i}" for i in range(12)]
    clock = make_clock(now, names, max_skew=2)
    means = rng.uniform(0.01, 0.1, len(names))
    draws = [np.random.default_rng(i) for i in range(len(names))]
    workers = [
        SimWorker(n, lambda t, m=m, r=r: float(r.exponential(m)))
        for n, m, r in zip(names, means, draws, strict=True)
    ]
    simulate(clock, now, workers, 8.0, pauses=((2.0, 0.6), (5.0, 1.5)))
    for w in workers:
        assert len(w.ticks) >= 30, (w.name, len(w.ticks))
        assert w.ticks[-1] >= clock.current_tick() - 8


def test_without_pacing_a_fast_worker_runs_at_most_max_skew_ahead() -> None:
    now = FakeTime()
    clock = make_clock(now, ["fast", "slow"], fps=None, max_skew=2)
    fast, slow = SimWorker("fast", lambda t: 0.001), SimWorker("slow", lambda t: 0.05)
    simulate(clock, now, [fast, slow], 2.0)
    assert slow.ticks == list(range(len(slow.ticks))) and len(slow.ticks) >= 30
    assert fast.ticks == list(range(len(fast.ticks))) and len(fast.ticks) <= len(slow.ticks) + 2


def test_try_tick_paces_to_real_time() -> None:
    now = FakeTime()
    clock = make_clock(now, ["cam"])
    assert clock.try_tick("cam", -1) == 0
    assert clock.try_tick("cam", 0) is None  # tick 1 starts 0.125 s in
    now.now += 0.125
    assert clock.try_tick("cam", 0) == 1
    now.now += 1.0
    assert clock.try_tick("cam", 1) == 9
    with pytest.raises(KeyError, match="not registered"):
        clock.try_tick("nobody", 0)


def test_stop_wakes_a_blocked_waiter() -> None:
    """With a poll interval of a minute, only stop()'s notification can wake the waiter in time."""
    clock = VirtualClock(fps=None, max_skew=0, stall_seconds=3600, poll=60.0)
    clock.register("a")
    clock.register("b")  # never moves, so 'a' waits on the skew gate
    result: list[int | None] = []
    waiter = threading.Thread(target=lambda: result.append(clock.wait_for_tick("a", 5)))
    waiter.start()
    deadline = threading.Event()
    while clock.positions()["a"] != 6 and not deadline.wait(0.01):
        pass
    clock.stop()
    waiter.join(timeout=30)
    assert result == [None]
    assert clock.try_tick("a", 5) is None


def test_threads_with_real_waits_make_progress_after_the_slow_one_moves() -> None:
    clock = VirtualClock(fps=None, max_skew=1, stall_seconds=3600, poll=60.0)
    clock.register("fast")
    clock.register("slow")
    gate = threading.Event()
    got: dict[str, list[int]] = {"fast": [], "slow": []}

    def run(name: str) -> None:
        last = -1
        while last < 20:
            tick = clock.wait_for_tick(name, last, timeout=60)
            if tick is None:
                return
            if name == "slow" and tick == 3:
                gate.wait(timeout=60)
            got[name].append(tick)
            last = tick

    threads = [threading.Thread(target=run, args=(n,)) for n in got]
    for t in threads:
        t.start()
    waited = threading.Event()
    while clock.positions()["fast"] != 5 and not waited.wait(0.01):
        pass  # fast finished tick 4 and asks for 5: two ahead of slow's tick 3
    assert got["fast"] == [0, 1, 2, 3, 4] and got["slow"] == [0, 1, 2]
    gate.set()
    for t in threads:
        t.join(timeout=60)
    assert got["fast"] == list(range(21)) and got["slow"] == list(range(21))


@pytest.mark.parametrize(
    ("frames", "healthy", "text"),
    [
        ({"a": 99.0, "b": 50.0}, False, "not ok: b stalled, down or failed"),  # one stalled camera is named
        ({"a": 96.0, "b": 97.0}, True, "ok\na: ok, last new frame 4.0 s ago\nb: ok"),
        ({"a": 90.0, "b": None}, False, "not ok: a stalled"),  # b started 2 s ago, no frame yet
        ({"a": 90.0, "b": 92.0}, False, "stalled: no camera produced a frame for 8.0 s"),
        ({"a": None, "b": None}, True, "ok\na: starting\nb: starting"),  # started 2 s ago: warming up
        ({}, True, "ok"),
    ],
)
def test_health_fails_naming_every_camera_without_a_new_frame_for_stall_seconds(
    frames: dict[str, float | None], healthy: bool, text: str
) -> None:
    ok, message = health(frames, started=98.0, now=100.0, stall_seconds=5.0)
    assert ok is healthy and message.startswith(text)
    assert len(message.splitlines()) == 1 + len(frames)  # the verdict, then one line per camera


def test_health_counts_from_the_start_for_cameras_without_a_frame() -> None:
    ok, message = health({"a": None, "b": None}, started=90.0, now=100.0, stall_seconds=5.0)
    assert not ok and message.startswith("stalled: no camera produced a frame for 10.0 s")
    assert "a: down: no frame in 10.0 s" in message


def test_health_names_a_failed_camera() -> None:
    ok, message = health(
        {"a": 99.0, "b": 99.5}, started=90.0, now=100.0, stall_seconds=5.0, failed={"b": "boom"}
    )
    assert not ok and message.startswith("not ok: b") and "b: failed: boom" in message
