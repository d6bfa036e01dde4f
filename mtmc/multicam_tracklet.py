"""``MulticamTracklet``: one vehicle across cameras, a group of single-camera tracklets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mot.tracklet import Tracklet


@dataclass(eq=False)
class MulticamTracklet:
    """One global identity.

    Attributes:
        global_id: id shared by every member in every camera's output.
        tracklets: member tracklets, at most one per camera at any moment.
        attributes: merged attributes (plate by confidence-weighted vote, colour/type by vote).
    """

    global_id: int
    tracklets: list[Tracklet]
    attributes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.global_id = int(self.global_id)
        if not self.tracklets:
            raise ValueError(f"MulticamTracklet {self.global_id}: expected at least one member tracklet")

    @property
    def cameras(self) -> set[int]:
        return {t.camera for t in self.tracklets}

    @property
    def mean_feature(self) -> np.ndarray | None:
        """Re-normalised mean of the members' mean features, or None if no member has one."""
        feats = [t.mean_feature for t in self.tracklets if t.mean_feature is not None]
        if not feats:
            return None
        mean = np.mean(feats, axis=0, dtype=np.float32)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm > 0 else mean
