"""Boxes of frames the detector skipped: where each box came from, and batch interpolation.

With a detection schedule (``mot.schedule``) a track's boxes on skipped frames are the Kalman
filter's predictions. A batch run knows the next detection too, so once a track is matched
again the predictions in between are replaced by the straight line between the two detected
boxes (the motion over a few tenths of a second is close to linear, and the line ends exactly
on both observations, where a prediction drifts). Predictions after a track's last detection
were never confirmed by a detection and are dropped, unless the track was still followed when
the video ended (they stay, marked predicted). Live runs keep the predictions (they cannot wait
for the future).

Each box of a scheduled run carries its source in the tracklet's per-frame attribute
``box_source`` (``BOX_SOURCE``): ``DETECTED`` 0, ``PREDICTED`` 1, ``INTERPOLATED`` 2.
"""

from __future__ import annotations

import numpy as np

BOX_SOURCE = "box_source"
DETECTED, PREDICTED, INTERPOLATED = 0, 1, 2


def fill_gaps(
    frames: np.ndarray, boxes: np.ndarray, predicted: np.ndarray, max_gap: int = 0, keep_tail: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate a track's predicted boxes between its detected ones; drop the trailing ones.

    Args:
        frames: (T,) int64 strictly increasing frame indices.
        boxes: (T, 4) float boxes (any linear box format: ``xyxy`` or ``xywh``).
        predicted: (T,) bool, true where the box is a prediction (no detection that frame).
        max_gap: frames missing from the track (it was lost: a detection frame missed it) are
            added back when the gap is at most this long (0: never).
        keep_tail: keep the predictions after the last detection (marked ``PREDICTED``): the
            track was still followed when the video ended, no detection came to confirm it.

    Returns:
        (frames, boxes, source) of the rows kept: every row up to the last detected one, the
        predicted rows among them (and the missing frames added back) moved onto the line
        between the detected rows around them (by frame index), ``source`` (uint8) ``DETECTED``
        or ``INTERPOLATED`` per row. A track with no detected row (impossible for a tracker,
        which starts tracks on detections) comes back empty.
    """
    frames = np.asarray(frames, np.int64)
    boxes = np.asarray(boxes)
    predicted = np.asarray(predicted, bool)
    detected = np.flatnonzero(~predicted)
    if len(detected) == 0:
        return frames[:0], boxes[:0], np.zeros(0, np.uint8)
    tail = slice(int(detected[-1]) + 1, len(frames))
    tail_frames, tail_boxes = frames[tail], boxes[tail]
    keep = slice(0, int(detected[-1]) + 1)
    frames, boxes, predicted = frames[keep], boxes[keep], predicted[keep]
    frames, boxes, predicted = _add_missing(frames, boxes, predicted, max_gap)
    boxes = boxes.copy()
    if predicted.any():
        at = frames[predicted].astype(np.float64)
        known = frames[~predicted].astype(np.float64)
        for k in range(boxes.shape[1]):
            boxes[predicted, k] = np.interp(at, known, boxes[~predicted, k].astype(np.float64))
    source = np.where(predicted, INTERPOLATED, DETECTED).astype(np.uint8)
    if keep_tail and len(tail_frames):
        frames = np.concatenate([frames, tail_frames])
        boxes = np.concatenate([boxes, tail_boxes.astype(boxes.dtype)])
        source = np.concatenate([source, np.full(len(tail_frames), PREDICTED, np.uint8)])
    return frames, boxes, source


def _add_missing(
    frames: np.ndarray, boxes: np.ndarray, predicted: np.ndarray, max_gap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows with the frames of gaps of at most ``max_gap`` added (as predicted rows, boxes zero)."""
    gaps = np.diff(frames) - 1
    short = np.flatnonzero((gaps > 0) & (gaps <= max_gap))
    if len(short) == 0:
        return frames, boxes, predicted
    extra = np.concatenate([np.arange(frames[i] + 1, frames[i + 1]) for i in short])
    order = np.argsort(np.concatenate([frames, extra]), kind="stable")
    all_boxes = np.concatenate([boxes, np.zeros((len(extra), boxes.shape[1]), boxes.dtype)])
    all_predicted = np.concatenate([predicted, np.ones(len(extra), bool)])
    return np.concatenate([frames, extra])[order], all_boxes[order], all_predicted[order]


def source_rows(frames: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Index into ``frames`` of each of ``kept`` (a superset's frames map to the row before them)."""
    return np.clip(np.searchsorted(frames, kept, side="right") - 1, 0, max(len(frames) - 1, 0))
