"""The pipelined MOT loop gives exactly the results of the sequential one, on real video."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import numpy as np
import pytest

from detection.factory import build_detector
from detection.filters import filter_detections
from detection.video import iter_frames
from mot.builder import TrackletBuilder
from mot.enrich import Enricher
from mot.factory import build_tracker
from mot.pipeline import BackgroundHooks, LoopStats, ordered_map, track_frames
from mot.tracklet import Tracklet
from reid.color import color_histogram
from reid.factory import build_embedder

FRAMES = 25
VEHICLES = [2, 3, 5, 7]


@pytest.fixture(scope="module")
def models() -> tuple:
    return build_detector("yolox_nano.onnx", conf_threshold=0.1), build_embedder("onnxruntime", batch_size=8)


def run_loop(video: Path, models: tuple, tracker_name: str, lookahead: int, workers: int) -> list[Tracklet]:
    detector, embedder = models
    tracker = build_tracker(tracker_name)
    sampled = None if tracker.needs_embeddings else embedder.embed_crops
    builder = TrackletBuilder(
        0, 3, 4, batch_size=8, describe_crop=color_histogram, enricher=Enricher(embed_crops=sampled)
    )
    frames = itertools.islice(iter_frames(str(video)), FRAMES)
    stats = LoopStats()
    select = lambda d: filter_detections(d, 0.1, VEHICLES, None)  # noqa: E731
    out = track_frames(
        frames, detector, select, tracker, builder, embedder.embed, None, stats, lookahead, workers
    )
    assert stats.frames == FRAMES
    return out


def assert_same(a: list[Tracklet], b: list[Tracklet]) -> None:
    assert [t.track_id for t in a] == [t.track_id for t in b]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.frames, y.frames)
        np.testing.assert_array_equal(x.bboxes, y.bboxes)
        np.testing.assert_array_equal(x.scores, y.scores)
        np.testing.assert_array_equal(x.mean_feature, y.mean_feature)
        np.testing.assert_array_equal(x.color_histogram, y.color_histogram)


@pytest.mark.parametrize("tracker_name", ["bytetrack_iou", "deepsort"])
def test_pipelined_loop_matches_the_sequential_loop(shared: Path, models: tuple, tracker_name: str) -> None:
    video = shared / "data" / "traffic" / "intersection_960x540.mp4"
    sequential = run_loop(video, models, tracker_name, 0, 1)
    assert len(sequential) > 5 and all(t.mean_feature is not None for t in sequential)
    assert_same(sequential, run_loop(video, models, tracker_name, 3, 2))


def test_ordered_map_keeps_order_runs_ahead_and_raises_in_turn() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> int:
        with lock:
            seen.append(i)
        if i == 7:
            raise RuntimeError("item 7")
        return i * i

    results = ordered_map(work, range(20), lookahead=3, workers=2)
    assert [next(results) for _ in range(7)] == [i * i for i in range(7)]
    with pytest.raises(RuntimeError, match="item 7"):
        next(results)
    results.close()
    assert max(seen) < 12  # bounded look-ahead: the tail was never started
    assert list(ordered_map(lambda i: -i, range(5), lookahead=0)) == [0, -1, -2, -3, -4]


def test_ordered_map_hands_over_every_result_before_the_sources_error() -> None:
    def frames():
        yield from range(5)
        raise OSError("truncated video")

    got: list[int] = []
    with pytest.raises(OSError, match="truncated"):
        for value in ordered_map(lambda i: i * 10, frames(), lookahead=3, workers=2):
            got.append(value)
    assert got == [0, 10, 20, 30, 40]


def test_background_hooks_run_in_order_and_hand_back_errors() -> None:
    calls: list[int] = []

    def hook(index: int, *_: object) -> None:
        calls.append(index)
        if index == 4:
            raise OSError("disk full")

    hooks = BackgroundHooks(hook, depth=2)
    for i in range(4):
        hooks(i, None, None, None)  # type: ignore[arg-type]
    assert hooks.close() is None and calls == [0, 1, 2, 3]
    failing = BackgroundHooks(hook)
    failing(4, None, None, None)  # type: ignore[arg-type]
    error = failing.close()
    assert isinstance(error, OSError) and "disk full" in str(error)
