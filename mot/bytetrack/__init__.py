"""ByteTrack: IoU association with low-score detections."""
