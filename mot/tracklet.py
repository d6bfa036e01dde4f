"""``Tracklet``: everything known about one vehicle in one camera."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(eq=False)
class Tracklet:
    """One track of one camera, finalised.

    Attributes:
        track_id: id given by the camera's tracker (unique within the camera).
        camera: 0-based camera index (order of EXPRESS.CAMERAS and the layout file).
        frames: (T,) int64 0-based frame indices, strictly increasing.
        bboxes: (T, 4) float32 ``x, y, w, h`` (top-left corner, size) in frame pixels.
        scores: (T,) float32 detector confidence per box.
        class_id: majority detector class of the track, -1 if unknown.
        features: (K, D) float32 appearance features of sampled boxes (K may be 0).
        feature_frames: (K,) int64 frames those features were taken from.
        mean_feature: (D,) float32 L2-normalised track descriptor, or None.
        color_histogram: (B,) float32 HSV colour histogram of the sampled crops, summing to 1, or None.
        attributes: per-track values as plain Python scalars or strings
            (``color``, ``type``, ``plate``, ``plate_conf``, ``speed_mean``, ...).
        frame_attributes: per-frame arrays of shape (T,) (``speed`` in km/h, ``zone``, ...).
        zone_path: zones visited in order, consecutive repeats collapsed.
    """

    track_id: int
    camera: int
    frames: np.ndarray
    bboxes: np.ndarray
    scores: np.ndarray
    class_id: int = -1
    features: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    feature_frames: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    mean_feature: np.ndarray | None = None
    color_histogram: np.ndarray | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    frame_attributes: dict[str, np.ndarray] = field(default_factory=dict)
    zone_path: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.track_id, self.camera, self.class_id = int(self.track_id), int(self.camera), int(self.class_id)
        self.frames = np.asarray(self.frames, dtype=np.int64).reshape(-1)
        self.bboxes = np.asarray(self.bboxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.features = np.asarray(self.features, dtype=np.float32)
        self.feature_frames = np.asarray(self.feature_frames, dtype=np.int64).reshape(-1)
        if self.features.ndim == 1 and self.features.size == 0:
            self.features = self.features.reshape(0, 0)
        self.zone_path = [int(z) for z in self.zone_path]
        t = len(self.frames)
        where = f"Tracklet {self.track_id} (camera {self.camera})"
        for name, arr in (("bboxes", self.bboxes), ("scores", self.scores)):
            if len(arr) != t:
                raise ValueError(f"{where}.{name}: expected {t} rows like frames, got {len(arr)}")
        if t and np.any(np.diff(self.frames) <= 0):
            raise ValueError(f"{where}.frames: expected strictly increasing frame indices")
        if self.features.ndim != 2 or len(self.features) != len(self.feature_frames):
            raise ValueError(
                f"{where}.features: expected shape (K, D) with K = len(feature_frames) "
                f"= {len(self.feature_frames)}, got {self.features.shape}"
            )
        if self.mean_feature is not None:
            self.mean_feature = np.asarray(self.mean_feature, dtype=np.float32).reshape(-1)
        if self.color_histogram is not None:
            self.color_histogram = np.asarray(self.color_histogram, dtype=np.float32).reshape(-1)
        for key, values in self.frame_attributes.items():
            values = np.asarray(values)
            if values.shape != (t,):
                raise ValueError(
                    f"{where}.frame_attributes[{key!r}]: expected shape ({t},), got {values.shape}"
                )
            self.frame_attributes[key] = values

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def start_frame(self) -> int:
        return int(self.frames[0])

    @property
    def end_frame(self) -> int:
        return int(self.frames[-1])
