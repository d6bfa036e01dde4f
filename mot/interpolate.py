"""Boxes of frames the detector skipped: where each box came from, and batch interpolation.

With a detection schedule (``mot.schedule``) a track's boxes on skipped frames are the Kalman
filter's predictions. A batch run knows the next detection too, so once a track is matched
again the predictions in between are replaced by the straight line between the two detected
boxes (the motion over a few tenths of a second is close to linear, and the line ends exactly
on both observations, where a prediction drifts). Predictions after a track's last detection
were never confirmed by a detection and are dropped. Live runs keep the predictions (they
cannot wait for the future).

Each box of a scheduled run carries its source in the tracklet's per-frame attribute
``box_source`` (``BOX_SOURCE``): ``DETECTED`` 0, ``PREDICTED`` 1, ``INTERPOLATED`` 2.
"""

from __future__ import annotations

import numpy as np

BOX_SOURCE = "box_source"
DETECTED, PREDICTED, INTERPOLATED = 0, 1, 2


def fill_gaps(
    frames: np.ndarray, boxes: np.ndarray, predicted: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate a track's predicted boxes between its detected ones; drop the trailing ones.

    Args:
        frames: (T,) int64 strictly increasing frame indices.
        boxes: (T, 4) float boxes (any linear box format: ``xyxy`` or ``xywh``).
        predicted: (T,) bool, true where the box is a prediction (no detection that frame).

    Returns:
        (frames, boxes, source) of the rows kept: every row up to the last detected one, the
        predicted rows among them moved onto the line between the detected rows around them
        (by frame index), ``source`` (uint8) ``DETECTED`` or ``INTERPOLATED`` per row. A track
        with no detected row (impossible for a tracker, which starts tracks on detections)
        comes back empty.
    """
    frames = np.asarray(frames, np.int64)
    boxes = np.asarray(boxes)
    predicted = np.asarray(predicted, bool)
    detected = np.flatnonzero(~predicted)
    if len(detected) == 0:
        return frames[:0], boxes[:0], np.zeros(0, np.uint8)
    keep = slice(0, int(detected[-1]) + 1)
    frames, boxes, predicted = frames[keep], boxes[keep].copy(), predicted[keep]
    if predicted.any():
        at = frames[predicted].astype(np.float64)
        known = frames[~predicted].astype(np.float64)
        for k in range(boxes.shape[1]):
            boxes[predicted, k] = np.interp(at, known, boxes[~predicted, k].astype(np.float64))
    source = np.where(predicted, INTERPOLATED, DETECTED).astype(np.uint8)
    return frames, boxes, source
