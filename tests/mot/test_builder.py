"""TrackletBuilder: which tracks are kept, how appearance samples are chosen and embedded."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detection.types import Detections
from mot.base import Tracks
from mot.builder import TrackletBuilder, choose_samples, sample_quality

FRAME = np.zeros((200, 400, 3), np.uint8)


def tracks_of(
    ids: list[int], boxes: list[list[float]], confirmed: list[bool], ended: Sequence[int] = ()
) -> Tracks:
    n = len(ids)
    return Tracks(ids, boxes, [0.9] * n, [2] * n, list(range(n)), confirmed, list(ended))


def dets_of(boxes: list[list[float]], features: np.ndarray | None = None) -> Detections:
    return Detections(np.array(boxes, float).reshape(-1, 4), [0.9] * len(boxes), [2] * len(boxes), features)


class CountingEmbedder:
    """Embeds a crop as its mean colour per channel (normalised later); counts calls and crops."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        self.calls.append(len(crops))
        return np.array([c.reshape(-1, 3).mean(axis=0) + 1.0 for c in crops], np.float32)


def test_tentative_boxes_are_kept_once_confirmed_and_unconfirmed_tracks_dropped() -> None:
    builder = TrackletBuilder(min_frames=3, samples_per_track=2)
    b = [10, 10, 50, 40]
    builder.add(0, FRAME, tracks_of([1, 2], [b, [200, 10, 240, 40]], [False, False]), dets_of([b, b]))
    builder.add(1, FRAME, tracks_of([1], [b], [True], ended=[2]), dets_of([b]))
    builder.add(2, FRAME, tracks_of([1], [b], [True]), dets_of([b]))
    tracklets = builder.finish()
    assert [t.track_id for t in tracklets] == [1]
    assert tracklets[0].frames.tolist() == [0, 1, 2]  # the tentative first box is kept
    np.testing.assert_allclose(tracklets[0].bboxes[0], [10, 10, 40, 30])  # x, y, w, h
    assert builder.dropped == 1


def test_short_tracks_are_dropped() -> None:
    builder = TrackletBuilder(min_frames=3)
    b = [10, 10, 50, 40]
    builder.add(0, FRAME, tracks_of([1], [b], [True]), dets_of([b]))
    builder.add(1, FRAME, tracks_of([1], [b], [True], ended=[1]), dets_of([b]))
    assert builder.finish() == [] and builder.dropped == 1


def test_long_tracks_hold_bounded_evenly_spread_samples() -> None:
    embed = CountingEmbedder()
    builder = TrackletBuilder(samples_per_track=4, embed_crops=embed, batch_size=64)
    for frame_index in range(1000):
        x = frame_index % 300
        b = [x, 50, x + 40 + frame_index % 7, 90]
        builder.add(frame_index, FRAME, tracks_of([7], [b], [True]), dets_of([b]))
        assert len(builder._live[7].candidates) <= 8
    (tracklet,) = builder.finish()
    assert embed.calls == [4]  # only the chosen samples are embedded, in one batch
    assert tracklet.features.shape == (4, 3) and len(tracklet.feature_frames) == 4
    gaps = np.diff(tracklet.feature_frames)
    assert gaps.min() > 100  # spread over the whole track, not clustered
    np.testing.assert_allclose(np.linalg.norm(tracklet.mean_feature), 1.0, rtol=1e-6)


def test_crops_of_finished_tracks_are_embedded_in_batches() -> None:
    embed = CountingEmbedder()
    builder = TrackletBuilder(samples_per_track=2, embed_crops=embed, batch_size=4)
    for track in range(5):
        b = [10 * track, 10, 10 * track + 30, 40]
        builder.add(track * 2, FRAME, tracks_of([track + 1], [b], [True]), dets_of([b]))
        builder.add(
            track * 2 + 1, FRAME, tracks_of([track + 1], [b], [True], ended=[track + 1]), dets_of([b])
        )
    assert embed.calls == [4, 4]  # two tracks' worth (2 samples each) per call, as they end
    assert len(builder.finish()) == 5 and embed.calls == [4, 4, 2]


def test_embeddings_on_detections_give_an_area_weighted_mean() -> None:
    builder = TrackletBuilder(samples_per_track=2)
    small, large = [0, 0, 10, 10], [0, 0, 30, 30]  # areas 100 and 900
    f1, f2 = np.eye(2, dtype=np.float32)
    builder.add(0, FRAME, tracks_of([1], [small], [True]), dets_of([small], f1[None]))
    builder.add(1, FRAME, tracks_of([1], [large], [True]), dets_of([large], f2[None]))
    (tracklet,) = builder.finish()
    expected = np.array([100.0, 900.0]) / np.linalg.norm([100.0, 900.0])
    np.testing.assert_allclose(tracklet.mean_feature, expected, rtol=1e-6)
    assert tracklet.features.shape == (2, 2)


def test_quality_prefers_large_whole_boxes() -> None:
    q = sample_quality(
        np.array([[0, 50, 40, 90], [100, 50, 140, 90], [100, 50, 120, 70]], float), np.ones(3), (200, 400)
    )
    assert q[1] > q[0]  # the first touches the left border
    assert q[1] > q[2]  # larger
    assert len(choose_samples([], 3)) == 0
