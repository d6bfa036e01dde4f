"""``MulticamTracklet``: one vehicle across cameras, a group of single-camera tracklets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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

    def members_with_attributes(self) -> list[Tracklet]:
        """Copies of the members carrying the merged attributes (their own per-camera values stay)."""
        return [replace(t, attributes={**t.attributes, **self.attributes}) for t in self.tracklets]


VOTED_ATTRIBUTES = ("color", "type")


def merge_attributes(tracklets: Sequence[Tracklet]) -> dict[str, Any]:
    """Attributes of one vehicle from its tracklets in every camera.

    * ``plate``: confidence-weighted vote over the members that read one (each read counts its
      ``plate_conf``, default 1); ``plate_conf`` becomes the winner's share of all votes, and
      ``plate_camera`` the camera of its most confident read.
    * ``color``, ``type``: votes weighted by ``<name>_conf`` (default 1) times the member's length.
    Members without a value do not vote; an attribute nobody has is left out.
    """
    merged: dict[str, Any] = {}
    plates: dict[str, float] = defaultdict(float)
    best_read: dict[str, tuple[float, int]] = {}
    for t in tracklets:
        plate = t.attributes.get("plate")
        if plate:
            conf = float(t.attributes.get("plate_conf", 1.0))
            plates[str(plate)] += conf
            if conf > best_read.get(str(plate), (-1.0, 0))[0]:
                best_read[str(plate)] = (conf, t.camera)
    if plates:
        winner = max(sorted(plates), key=lambda p: plates[p])
        merged["plate"] = winner
        merged["plate_conf"] = plates[winner] / sum(plates.values())
        merged["plate_camera"] = best_read[winner][1]
    for name in VOTED_ATTRIBUTES:
        votes: dict[str, float] = defaultdict(float)
        for t in tracklets:
            value = t.attributes.get(name)
            if value:
                votes[str(value)] += float(t.attributes.get(f"{name}_conf", 1.0)) * len(t)
        if votes:
            merged[name] = max(sorted(votes), key=lambda v: votes[v])
    return merged
