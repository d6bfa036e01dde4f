"""Appearance features (ReID) for tracking and multi-camera matching."""
