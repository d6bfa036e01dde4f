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
* content: a sample holds the detection's embedding when detections carry them (DeepSORT),
  a copy of the crop when the enricher needs crops (ReID of sampled crops with ByteTrack,
  attribute models, plates), and a colour histogram with ``describe_crop``.

Frames the detector skipped (``mot.schedule``) give predicted boxes (``Tracks.det_index`` -1):
they are recorded as boxes, never sampled, voted or embedded (ReID crops and attributes come
from detected frames only). With ``interpolate`` a finished track's predicted boxes between two
detections are interpolated and those after its last detection dropped (``mot.interpolate``);
with ``box_sources`` every tracklet carries the per-frame ``box_source`` attribute.

A track is kept when it was confirmed at least once and has ``min_frames`` boxes. Kept
tracks go to the ``Enricher`` (``mot.enrich``) in batches of about ``batch_size`` crops, so
ReID and attribute models only ever see the chosen samples of kept tracks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from detection.boxes import clip_xyxy, crop_boxes, xyxy_to_xywh
from detection.types import Detections
from mot.base import Tracks
from mot.enrich import EmbedCrops, Enricher, FinishedTrack, Sample
from mot.interpolate import BOX_SOURCE, PREDICTED, fill_gaps, source_rows
from mot.tracklet import Tracklet

DescribeCrop = Callable[[np.ndarray], np.ndarray]
BORDER_MARGIN = 2.0  # pixels
TRUNCATED_WEIGHT = 0.25


@dataclass
class _Record:
    """Everything gathered about one live track."""

    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)
    predicted: list[bool] = field(default_factory=list)  # box is the tracker's prediction
    confirmed: bool = False
    candidates: list[Sample] = field(default_factory=list)
    stride: int = 1
    feature_sum: np.ndarray | None = None  # area-weighted, when detections carry embeddings
    feature_weight: float = 0.0
    class_votes: np.ndarray | None = None  # summed per-class scores, when detections carry them


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


def _add_votes(total: np.ndarray | None, row: np.ndarray) -> np.ndarray:
    if total is None:
        return row.astype(np.float64)
    if len(row) > len(total):
        total = np.pad(total, (0, len(row) - len(total)))
    total[: len(row)] += row
    return total


def _detected_rows(values: np.ndarray, dets: np.ndarray) -> np.ndarray:
    """``values[dets]``, zeros on predicted rows (``dets`` -1: there is no detection to index)."""
    if (dets >= 0).all():
        return values[dets]
    out = np.zeros((len(dets), *values.shape[1:]), values.dtype)
    out[dets >= 0] = values[dets[dets >= 0]]
    return out


def vote_class(classes: Sequence[int], votes: np.ndarray | None) -> int:
    """A track's class: the largest summed per-class score (every box's merged evidence, so a van
    scored car 0.58 / truck 0.57 over and over is not decided by which one won each frame's NMS),
    else the most frequent class of its boxes."""
    if votes is not None and votes.any():
        return int(votes.argmax())
    return int(np.bincount(np.asarray(classes, np.int64)).argmax())


def choose_samples(candidates: list[Sample], count: int) -> list[Sample]:
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
        embed_crops: shorthand for ``Enricher(embed_crops=...)`` when no ``enricher`` is given.
        batch_size: crops gathered from finished tracks before the enricher runs.
        describe_crop: optional per-crop descriptor averaged into ``color_histogram``.
        enricher: describes finished tracks from their samples (``mot.enrich.Enricher``).
        interpolate: fill predicted boxes between detections at the end of a track (batch
            runs); otherwise they stay predictions (live).
        box_sources: attach ``frame_attributes["box_source"]`` to every tracklet (a run with a
            detection schedule that skips frames).
        max_gap: when interpolating, frames of at most this many where the track was lost are
            filled in too (a detection frame missed it; ``mot.interpolate.fill_gaps``).
    """

    def __init__(
        self,
        camera: int = 0,
        min_frames: int = 1,
        samples_per_track: int = 10,
        embed_crops: EmbedCrops | None = None,
        batch_size: int = 32,
        describe_crop: DescribeCrop | None = None,
        enricher: Enricher | None = None,
        interpolate: bool = True,
        box_sources: bool = False,
        max_gap: int = 0,
    ) -> None:
        self.camera, self.min_frames, self.samples = camera, min_frames, samples_per_track
        self.interpolate, self.box_sources, self.max_gap = interpolate, box_sources, max_gap
        self._newest = -1  # the latest frame index added
        self.enricher = enricher if enricher is not None else Enricher(embed_crops=embed_crops)
        self.batch_size, self.describe_crop = batch_size, describe_crop
        self._live: dict[int, _Record] = {}
        self._waiting: list[FinishedTrack] = []
        self._done: list[Tracklet] = []
        self.dropped = 0  # tracks discarded (never confirmed or too short)

    def add(self, frame_index: int, frame: np.ndarray, tracks: Tracks, detections: Detections) -> None:
        """Record one frame's tracker output; tracks in ``tracks.ended`` are finalised.

        Track boxes (Kalman estimates, which may reach past the image) are clipped to the frame,
        so every output file holds boxes inside the image.
        """
        self._newest = max(self._newest, frame_index)
        dets = tracks.det_index
        predicted = dets < 0
        track_boxes = clip_xyxy(tracks.xyxy, frame.shape[1], frame.shape[0])
        det_boxes = _detected_rows(detections.xyxy, dets)
        quality = sample_quality(det_boxes, tracks.score, frame.shape[:2])
        embeddings = None if detections.embedding is None else _detected_rows(detections.embedding, dets)
        votes = None if detections.class_scores is None else _detected_rows(detections.class_scores, dets)
        for row, track_id in enumerate(tracks.track_id.tolist()):
            record = self._live.setdefault(track_id, _Record())
            record.frames.append(frame_index)
            record.boxes.append(track_boxes[row])
            record.scores.append(float(tracks.score[row]))
            record.predicted.append(bool(predicted[row]))
            record.confirmed |= bool(tracks.confirmed[row])
            if predicted[row]:
                continue
            record.classes.append(int(tracks.class_id[row]))
            if votes is not None:
                record.class_votes = _add_votes(record.class_votes, votes[row])
            box = det_boxes[row]
            area = float((box[2] - box[0]) * (box[3] - box[1]))
            feature = None if embeddings is None else embeddings[row]
            if feature is not None:
                weighted = feature.astype(np.float64) * area
                record.feature_sum = weighted if record.feature_sum is None else record.feature_sum + weighted
                record.feature_weight += area
            if (len(record.frames) - 1) % record.stride == 0:
                self._offer(record, self._sample(frame_index, frame, box, float(quality[row]), area, feature))
        self.end(tracks.ended)

    def end(self, track_ids: Sequence[int] | np.ndarray) -> None:
        """Finalise these tracks (they ended, or the video did)."""
        for track_id in np.asarray(track_ids, np.int64).tolist():
            record = self._live.pop(track_id, None)
            if record is not None:
                self._finalise(track_id, record)
        if sum(t.crops_needed for t in self._waiting) >= self.batch_size:
            self._enrich_waiting()

    def finish(self) -> list[Tracklet]:
        """Finalise every live track and return all kept tracklets, ordered by track id."""
        self.end(list(self._live))
        self._enrich_waiting()
        done, self._done = self._done, []
        return sorted(done, key=lambda t: t.track_id)

    def take_finished(self) -> list[Tracklet]:
        """The kept tracklets of tracks that ended so far, handed over once (live checkpoints);
        the builder keeps only its live tracks afterwards, so its memory stays bounded."""
        self._enrich_waiting()
        done, self._done = self._done, []
        return sorted(done, key=lambda t: t.track_id)

    def salvage(self) -> list[Tracklet]:
        """Every kept track as it stands, without calling the enricher (its models failed).

        Tracks whose features were not computed yet come out without features, attributes or
        plates; their boxes are kept.
        """
        for track_id in list(self._live):
            self._finalise(track_id, self._live.pop(track_id))
        done = self._done + [track.tracklet for track in self._waiting]
        self._done, self._waiting = [], []
        return sorted(done, key=lambda t: t.track_id)

    def snapshot(self) -> list[Tracklet]:
        """The open tracks that would be kept, as they stand (boxes only, no enricher call):
        live checkpoints write them and drop them, so nothing is duplicated in memory."""
        kept = [(i, r) for i, r in self._live.items() if r.confirmed and len(r.frames) >= self.min_frames]
        return sorted((self._tracklet(i, r) for i, r in kept), key=lambda t: t.track_id)

    @property
    def live_tracks(self) -> int:
        return len(self._live)

    @property
    def finished_tracks(self) -> int:
        """Kept tracks that ended and were not handed over yet."""
        return len(self._done) + len(self._waiting)

    # ------------------------------------------------------------------ internals

    def _sample(
        self,
        frame_index: int,
        frame: np.ndarray,
        box: np.ndarray,
        quality: float,
        area: float,
        feature: np.ndarray | None,
    ) -> Sample:
        keep_crop = self.enricher.needs_crops
        crop = crop_boxes(frame, box[None])[0] if (keep_crop or self.describe_crop) else None
        histogram = self.describe_crop(crop) if self.describe_crop is not None and crop is not None else None
        return Sample(
            frame_index,
            quality,
            area,
            crop.copy() if keep_crop and crop is not None else None,
            feature,
            histogram,
        )

    def _offer(self, record: _Record, sample: Sample) -> None:
        record.candidates.append(sample)
        if len(record.candidates) > 2 * self.samples:
            record.candidates = record.candidates[::2]
            record.stride *= 2

    def _finalise(self, track_id: int, record: _Record) -> None:
        frames = self._boxes(record)[0]
        if not record.confirmed or len(frames) < self.min_frames:
            self.dropped += 1
            return
        chosen = choose_samples(record.candidates, self.samples)
        tracklet = self._tracklet(track_id, record)
        self._waiting.append(FinishedTrack(tracklet, chosen, record.feature_sum, record.feature_weight))

    def _tracklet(self, track_id: int, record: _Record) -> Tracklet:
        frames, boxes, scores, source = self._boxes(record)
        return Tracklet(
            track_id=track_id,
            camera=self.camera,
            frames=frames,
            bboxes=xyxy_to_xywh(boxes),
            scores=scores,
            class_id=vote_class(record.classes, record.class_votes),
            frame_attributes={BOX_SOURCE: source} if self.box_sources else {},
        )

    def _boxes(self, record: _Record) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The track's frames, ``xyxy`` boxes, scores and box sources, gaps filled when interpolating."""
        frames = np.asarray(record.frames, np.int64)
        boxes = np.asarray(record.boxes, np.float32).reshape(-1, 4)
        scores = np.asarray(record.scores, np.float32)
        predicted = np.asarray(record.predicted, bool)
        if not self.interpolate:
            return frames, boxes, scores, np.where(predicted, PREDICTED, 0).astype(np.uint8)
        still_followed = bool(len(frames)) and frames[-1] == self._newest  # the video ended, not the track
        filled, boxes, source = fill_gaps(frames, boxes, predicted, self.max_gap, still_followed)
        return filled, boxes.astype(np.float32), scores[source_rows(frames, filled)], source

    def _enrich_waiting(self) -> None:
        if self._waiting:
            self._done += self.enricher(self._waiting)
            self._waiting = []
