"""Single-camera tracking stage: trackers, tracklets and their files."""
