"""ByteTrackOptions: every ByteTrack setting, one field per ``MOT.BYTETRACK`` key (lower case).

One frozen value the tracker keeps instead of a copy of each setting; the keys' meanings and
defaults are documented in config/keys_tracking.py, the options from later trackers in
``mot.bytetrack.tracker``. Settings measured in frames at 30 fps (``track_buffer``,
``long_buffer``) are scaled to the camera's frame rate by the tracker.
"""

from __future__ import annotations

from dataclasses import dataclass

KALMAN_STATES = ("xyah", "xywh")


@dataclass(frozen=True)
class ByteTrackOptions:
    """ByteTrack's settings; the defaults are the paper's plus the switches measured on by default."""

    # association: the score split and the IoU-distance gates of the three matchings
    track_thresh: float = 0.5
    low_thresh: float = 0.1
    new_track_thresh: float = 0.6
    match_thresh: float = 0.8
    second_match_thresh: float = 0.5
    unconfirmed_match_thresh: float = 0.7
    fuse_score: bool = True
    iou_plus_one: bool = False
    lost_iou_buffer: float = 0.0
    adaptive_thresh: bool = True
    adaptive_max: float = 0.8
    # lifecycle: how long lost tracks wait, and how they are found again
    track_buffer: int = 30
    observation_reupdate: bool = True
    observation_recovery: bool = False
    recovery_match_thresh: float = 0.7
    deletion_hits: int = 5
    long_buffer: int = 0
    # appearance (BoT-SORT's fusion)
    appearance: bool = False
    proximity_thresh: float = 0.5
    appearance_thresh: float = 0.25
    # direction consistency (OC-SORT)
    direction_weight: float = 0.3
    direction_delta: int = 1
    direction_min_move: float = 0.0
    direction_keep_gate: bool = True
    # Kalman filter
    kalman_state: str = "xyah"
    nsa_kalman: bool = False
    nsa_floor: float = 0.05

    def __post_init__(self) -> None:
        if self.kalman_state not in KALMAN_STATES:
            raise ValueError(
                f"kalman_state: expected one of {', '.join(KALMAN_STATES)}, got {self.kalman_state!r}"
            )

    @property
    def pixel_pad(self) -> float:
        """What IoU adds to a box's width and height: 1 for the reference's pixel-inclusive IoU."""
        return 1.0 if self.iou_plus_one else 0.0

    @property
    def split_ceiling(self) -> float:
        """The highest the adaptive high/low split may rise (never below ``track_thresh``)."""
        return max(self.adaptive_max, self.track_thresh)

    @property
    def history_delta(self) -> int:
        """Frames back the direction is measured over (at least 1)."""
        return max(int(self.direction_delta), 1)
