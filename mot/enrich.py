"""From a finished track's appearance samples to the tracklet's descriptor, attributes and plate.

``mot.builder`` keeps a few good samples per track (crops, features, colour histograms);
when tracks end it hands them here in batches, so every model runs on batches of crops:

* features: the samples' own features (DeepSORT embeds every detection) or, for crops,
  ``embed_crops``; ``mean_feature`` is their box-area-weighted mean, L2-normalised (with
  DeepSORT the running mean over every matched detection is used instead);
* ``color_histogram``: the area-weighted mean of the samples' histograms;
* static attributes (``AttributeReader``: colour, type, ...): each sample votes for its most
  likely value with that value's probability as weight; the tracklet keeps the winner and
  its share of the votes (``color``, ``color_conf``);
* ``type`` falls back to the detector's class (car, bus, truck, motorcycle) when no reader
  gives one;
* plates (``PlateReader``): read on the ``plate_samples`` largest samples at least
  ``plate_min_width`` pixels wide (a plate on a smaller vehicle has too few pixels to read),
  voted by confidence into ``plate`` and ``plate_conf``.

Readers are protocols: ``reid.attributes`` and ``reid.plates`` implement them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mot.tracklet import Tracklet

EmbedCrops = Callable[[Sequence[np.ndarray]], np.ndarray]
COCO_TYPES = {1: "bicycle", 2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}


@dataclass
class Sample:
    """One observation kept to describe a track."""

    frame: int
    quality: float  # area x score, less for boxes cut by the frame border
    area: float
    crop: np.ndarray | None = None  # BGR uint8, when some model needs crops
    feature: np.ndarray | None = None  # (D,) when the detections carried embeddings
    histogram: np.ndarray | None = None


@dataclass
class FinishedTrack:
    """A kept track waiting for its samples to be described."""

    tracklet: Tracklet
    samples: list[Sample]
    feature_sum: np.ndarray | None = None  # area-weighted sum over every matched detection
    feature_weight: float = 0.0

    @property
    def crops_needed(self) -> int:
        return sum(s.crop is not None for s in self.samples)


class AttributeReader(Protocol):
    """Reads static attributes of vehicles, one row per sample."""

    names: tuple[str, ...]  # the attributes it reads, e.g. ("color", "type")
    uses: str  # "crops" or "features"

    def read(self, inputs: Sequence[np.ndarray] | np.ndarray) -> dict[str, tuple[list[str], np.ndarray]]:
        """Per attribute: the most likely value of each row and its probability."""
        ...


class PlateReader(Protocol):
    def read(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """Per crop: the normalised plate text ('' when none is found) and its confidence."""
        ...


def vote(values: Sequence[str], weights: Sequence[float]) -> tuple[str, float] | None:
    """The value with the largest summed weight and its share of all weight (ties: alphabetical)."""
    totals: dict[str, float] = defaultdict(float)
    for value, weight in zip(values, weights, strict=True):
        if value:
            totals[value] += float(weight)
    if not totals:
        return None
    winner = min(totals, key=lambda v: (-totals[v], v))
    return winner, totals[winner] / max(sum(totals.values()), 1e-12)


@dataclass
class Enricher:
    """Describes finished tracks in batches; with no models it only averages what samples carry."""

    embed_crops: EmbedCrops | None = None
    readers: Sequence[AttributeReader] = ()
    plate_reader: PlateReader | None = None
    plate_samples: int = 2
    plate_min_width: int = 100
    class_names: Sequence[str] = ()
    stats: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def needs_crops(self) -> bool:
        crop_readers = any(r.uses == "crops" for r in self.readers)
        return self.embed_crops is not None or crop_readers or self.plate_reader is not None

    def __call__(self, finished: Sequence[FinishedTrack]) -> list[Tracklet]:
        self._features(finished)
        for reader in self.readers:
            self._read_attributes(reader, finished)
        if self.plate_reader is not None:
            self._read_plates(finished)
        for track in finished:
            self._detector_type(track.tracklet)
        return [track.tracklet for track in finished]

    def _features(self, finished: Sequence[FinishedTrack]) -> None:
        to_embed = [s for t in finished for s in t.samples if s.feature is None and s.crop is not None]
        if to_embed and self.embed_crops is not None:
            for sample, feature in zip(to_embed, self.embed_crops([s.crop for s in to_embed]), strict=True):
                sample.feature = feature
        for track in finished:
            t, samples = track.tracklet, [s for s in track.samples if s.feature is not None]
            hist = [s for s in track.samples if s.histogram is not None]
            if hist:
                mean = np.average([s.histogram for s in hist], axis=0, weights=[s.area + 1e-6 for s in hist])
                t.color_histogram = (mean / max(float(mean.sum()), 1e-12)).astype(np.float32)
            if not samples:
                continue
            t.features = np.stack([s.feature for s in samples]).astype(np.float32)
            t.feature_frames = np.array([s.frame for s in samples], np.int64)
            if track.feature_sum is not None:
                mean = track.feature_sum / max(track.feature_weight, 1e-12)
            else:
                mean = np.average(t.features, axis=0, weights=[s.area + 1e-6 for s in samples])
            norm = float(np.linalg.norm(mean))
            t.mean_feature = (mean / norm if norm > 0 else mean).astype(np.float32)

    def _read_attributes(self, reader: AttributeReader, finished: Sequence[FinishedTrack]) -> None:
        key = "crop" if reader.uses == "crops" else "feature"
        rows = [(t, s) for t in finished for s in t.samples if getattr(s, key) is not None]
        if not rows:
            return
        inputs = [getattr(s, key) for _, s in rows]
        results = reader.read(inputs if key == "crop" else np.stack(inputs))
        for name, (labels, conf) in results.items():
            by_track: dict[int, tuple[list[str], list[float]]] = {}
            for (track, _), label, c in zip(rows, labels, conf.tolist(), strict=True):
                values, weights = by_track.setdefault(id(track), ([], []))
                values.append(label)
                weights.append(c)
            for track in finished:
                if id(track) in by_track and (winner := vote(*by_track[id(track)])):
                    track.tracklet.attributes[name] = winner[0]
                    track.tracklet.attributes[f"{name}_conf"] = round(winner[1], 4)

    def _read_plates(self, finished: Sequence[FinishedTrack]) -> None:
        jobs = []
        for track in finished:
            wide = [
                s for s in track.samples if s.crop is not None and s.crop.shape[1] >= self.plate_min_width
            ]
            best = sorted(wide, key=lambda s: -s.area)[: self.plate_samples]
            jobs += [(track, s.crop) for s in best]
        self.stats["plate_reads"] += len(jobs)
        if not jobs:
            return
        reads = self.plate_reader.read([crop for _, crop in jobs])  # type: ignore[union-attr]
        for track in finished:
            mine = [r for (t, _), r in zip(jobs, reads, strict=True) if t is track]
            if mine and (winner := vote([text for text, _ in mine], [conf for _, conf in mine])):
                track.tracklet.attributes["plate"] = winner[0]
                best_conf = max(conf for text, conf in mine if text == winner[0])
                track.tracklet.attributes["plate_conf"] = round(best_conf * winner[1], 4)
                self.stats["plates"] += 1

    def _detector_type(self, tracklet: Tracklet) -> None:
        if "type" in tracklet.attributes:
            return
        cls = tracklet.class_id
        name = self.class_names[cls] if 0 <= cls < len(self.class_names) else COCO_TYPES.get(cls)
        if name:
            tracklet.attributes["type"] = name
