"""Turn a camera's per-frame tracker output into finished ``Tracklet`` objects.

Each track keeps its boxes (tentative ones included: once the track is confirmed its first
boxes are real observations too) and a bounded, evenly spread set of appearance samples:

* sampling: the k-th observation of a track is a candidate when ``k`` is a multiple of the
  track's stride; when more than ``2 * samples_per_track`` candidates are held, every other
  one is dropped and the stride doubles. Memory per track stays bounded whatever its length.
* choice: when the track ends, its candidates are cut into ``samples_per_track`` runs of
  consecutive frames and the best of each run is kept, best meaning the largest
  ``area x score``, a box cut by the frame border counting a quarter (a truncated vehicle
  looks unlike the whole one).
* payload: with DeepSORT the detections already carry embeddings, so candidates hold
  features; with ByteTrack they hold copies of the crops, embedded in batches only for the
  chosen samples of tracks that are kept (``embed_crops``).
* descriptor: ``mean_feature`` is the mean of the track's features weighted by box area
  (larger boxes show more of the vehicle), then L2-normalised. With DeepSORT every matched
  detection contributes; with ByteTrack the chosen samples do. With ``describe_crop`` (a
  colour histogram), each candidate also gets that descriptor from its crop, and the tracklet
  the area-weighted mean over its chosen samples.

A track is kept when it was confirmed at least once and has ``min_frames`` boxes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from detection.boxes import crop_boxes, xyxy_to_xywh
from detection.types import Detections
from mot.base import Tracks
from mot.tracklet import Tracklet

EmbedCrops = Callable[[Sequence[np.ndarray]], np.ndarray]
DescribeCrop = Callable[[np.ndarray], np.ndarray]
BORDER_MARGIN = 2.0  # pixels
TRUNCATED_WEIGHT = 0.25


@dataclass
class _Candidate:
    frame: int
    quality: float
    area: float
    payload: np.ndarray  # a crop (H, W, 3) uint8 or a feature (D,) float32
    histogram: np.ndarray | None = None


@dataclass
class _Record:
    """Everything gathered about one live track."""

    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)
    confirmed: bool = False
    candidates: list[_Candidate] = field(default_factory=list)
    stride: int = 1
    feature_sum: np.ndarray | None = None  # area-weighted, DeepSORT only
    feature_weight: float = 0.0


def sample_quality(xyxy: np.ndarray, score: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    """(N,) ``area x score``, a quarter of it for boxes touching the frame border."""
    h, w = frame_hw
    area = np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None) * np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)
    cut = (
        (xyxy[:, 0] <= BORDER_MARGIN)
        | (xyxy[:, 1] <= BORDER_MARGIN)
        | (xyxy[:, 2] >= w - BORDER_MARGIN)
        | (xyxy[:, 3] >= h - BORDER_MARGIN)
    )
    return area * score * np.where(cut, TRUNCATED_WEIGHT, 1.0)


def _weighted_histogram(chosen: list[_Candidate]) -> np.ndarray | None:
    """Area-weighted mean of the samples' histograms, summing to 1 (None without histograms)."""
    with_hist = [c for c in chosen if c.histogram is not None]
    if not with_hist:
        return None
    weights = [c.area + 1e-6 for c in with_hist]
    mean = np.average(np.stack([c.histogram for c in with_hist]), axis=0, weights=weights)
    return (mean / max(float(mean.sum()), 1e-12)).astype(np.float32)


def choose_samples(candidates: list[_Candidate], count: int) -> list[_Candidate]:
    """The best candidate of each of ``count`` runs of consecutive candidates, in frame order."""
    if len(candidates) <= count:
        return list(candidates)
    runs = np.array_split(np.arange(len(candidates)), count)
    return [candidates[max(run, key=lambda i: candidates[i].quality)] for run in runs]


class TrackletBuilder:
    """Collects one camera's tracks frame by frame; finished tracks come out as ``Tracklet``.

    Args:
        camera: camera index written into every tracklet.
        min_frames: tracks with fewer boxes are dropped.
        samples_per_track: appearance samples kept per track.
        embed_crops: embeds a list of BGR crops into (N, D) features; needed for crop samples
            (trackers without embeddings). None keeps tracklets without features.
        batch_size: crops embedded per call.
        describe_crop: optional per-crop descriptor averaged into ``color_histogram``.
    """

    def __init__(
        self,
        camera: int = 0,
        min_frames: int = 1,
        samples_per_track: int = 10,
        embed_crops: EmbedCrops | None = None,
        batch_size: int = 32,
        describe_crop: DescribeCrop | None = None,
    ) -> None:
        self.camera, self.min_frames, self.samples = camera, min_frames, samples_per_track
        self.embed_crops, self.batch_size, self.describe_crop = embed_crops, batch_size, describe_crop
        self._live: dict[int, _Record] = {}
        self._waiting: list[tuple[Tracklet, list[_Candidate]]] = []  # kept tracks whose crops await embedding
        self._done: list[Tracklet] = []
        self.dropped = 0  # tracks discarded (never confirmed or too short)

    def add(self, frame_index: int, frame: np.ndarray, tracks: Tracks, detections: Detections) -> None:
        """Record one frame's tracker output; tracks in ``tracks.ended`` are finalised."""
        dets = tracks.det_index
        det_boxes = detections.xyxy[dets]
        quality = sample_quality(det_boxes, tracks.score, frame.shape[:2])
        embeddings = None if detections.embedding is None else detections.embedding[dets]
        for row, track_id in enumerate(tracks.track_id.tolist()):
            record = self._live.setdefault(track_id, _Record())
            record.frames.append(frame_index)
            record.boxes.append(tracks.xyxy[row])
            record.scores.append(float(tracks.score[row]))
            record.classes.append(int(tracks.class_id[row]))
            record.confirmed |= bool(tracks.confirmed[row])
            box = det_boxes[row]
            area = float((box[2] - box[0]) * (box[3] - box[1]))
            if embeddings is not None:
                self._accumulate(record, embeddings[row], area)
            if (len(record.frames) - 1) % record.stride == 0:
                self._sample(record, frame_index, frame, box, float(quality[row]), area, embeddings, row)
        self.end(tracks.ended)

    def end(self, track_ids: Sequence[int] | np.ndarray) -> None:
        """Finalise these tracks (they ended, or the video did)."""
        for track_id in np.asarray(track_ids, np.int64).tolist():
            record = self._live.pop(track_id, None)
            if record is not None:
                self._finalise(track_id, record)
        if sum(len(c) for _, c in self._waiting) >= self.batch_size:
            self._embed_waiting()

    def finish(self) -> list[Tracklet]:
        """Finalise every live track and return all kept tracklets, ordered by track id."""
        self.end(list(self._live))
        self._embed_waiting()
        done, self._done = self._done, []
        return sorted(done, key=lambda t: t.track_id)

    @property
    def live_tracks(self) -> int:
        return len(self._live)

    # ------------------------------------------------------------------ internals

    def _sample(
        self,
        record: _Record,
        frame_index: int,
        frame: np.ndarray,
        box: np.ndarray,
        quality: float,
        area: float,
        embeddings: np.ndarray | None,
        row: int,
    ) -> None:
        """Offer this observation as an appearance sample (feature or crop, plus histogram)."""
        crop = crop_boxes(frame, box[None])[0] if (self.describe_crop or embeddings is None) else None
        if embeddings is not None:
            payload = embeddings[row]
        elif self.embed_crops is not None and crop is not None:
            payload = crop.copy()
        else:
            return
        histogram = self.describe_crop(crop) if self.describe_crop is not None and crop is not None else None
        self._offer(record, _Candidate(frame_index, quality, area, payload, histogram))

    def _offer(self, record: _Record, candidate: _Candidate) -> None:
        record.candidates.append(candidate)
        if len(record.candidates) > 2 * self.samples:
            record.candidates = record.candidates[::2]
            record.stride *= 2

    @staticmethod
    def _accumulate(record: _Record, feature: np.ndarray, area: float) -> None:
        weighted = feature.astype(np.float64) * area
        record.feature_sum = weighted if record.feature_sum is None else record.feature_sum + weighted
        record.feature_weight += area

    def _finalise(self, track_id: int, record: _Record) -> None:
        if not record.confirmed or len(record.frames) < self.min_frames:
            self.dropped += 1
            return
        tracklet = Tracklet(
            track_id=track_id,
            camera=self.camera,
            frames=np.asarray(record.frames, np.int64),
            bboxes=xyxy_to_xywh(np.asarray(record.boxes, np.float32)),
            scores=np.asarray(record.scores, np.float32),
            class_id=int(np.bincount(record.classes).argmax()),
        )
        chosen = choose_samples(record.candidates, self.samples)
        tracklet.color_histogram = _weighted_histogram(chosen)
        if not chosen:
            self._done.append(tracklet)
        elif chosen[0].payload.ndim == 1:  # features already
            self._attach(tracklet, chosen, np.stack([c.payload for c in chosen]), record)
        else:
            self._waiting.append((tracklet, chosen))

    def _embed_waiting(self) -> None:
        if not self._waiting or self.embed_crops is None:
            return
        crops = [c.payload for _, chosen in self._waiting for c in chosen]
        features = self.embed_crops(crops)
        start = 0
        for tracklet, chosen in self._waiting:
            self._attach(tracklet, chosen, features[start : start + len(chosen)], None)
            start += len(chosen)
        self._waiting = []

    def _attach(
        self, tracklet: Tracklet, chosen: list[_Candidate], features: np.ndarray, record: _Record | None
    ) -> None:
        tracklet.features = np.asarray(features, np.float32)
        tracklet.feature_frames = np.array([c.frame for c in chosen], np.int64)
        if record is not None and record.feature_sum is not None:
            mean = record.feature_sum / max(record.feature_weight, 1e-12)
        else:
            areas = np.array([c.area for c in chosen])
            mean = (features * areas[:, None]).sum(axis=0) / max(areas.sum(), 1e-12)
        norm = np.linalg.norm(mean)
        tracklet.mean_feature = (mean / norm if norm > 0 else mean).astype(np.float32)
        self._done.append(tracklet)
