"""FrameHub: the latest JPEG of every live camera, handed from the workers to the stream clients.

Each camera holds only its latest JPEG and a counter. A stream client waits for a newer frame and
sends the latest one, so a slow client simply skips frames; it never blocks the camera workers
and no queue grows. It counts each camera's stream clients (``watched``): workers draw and
JPEG-encode a frame only while someone watches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence


class FrameHub:
    """The latest JPEG of every camera; stream clients wait on it for newer frames."""

    def __init__(self, cameras: Sequence[str]) -> None:
        self.cameras = list(cameras)
        self._frames: dict[str, tuple[int, bytes]] = {name: (0, b"") for name in cameras}
        self._watchers = dict.fromkeys(self.cameras, 0)  # stream clients per camera
        self._cond = threading.Condition()
        self._closed = False

    def watch(self, camera: str, delta: int) -> None:
        """A stream client of ``camera`` starts (+1) or ends (-1)."""
        with self._cond:
            self._watchers[camera] += delta

    def watched(self, camera: str) -> bool:
        """Whether any stream client shows ``camera`` now (else its frames need no JPEG)."""
        return self._watchers[camera] > 0

    def publish(self, camera: str, jpeg: bytes) -> None:
        """``camera``'s newest frame; wakes its stream clients."""
        with self._cond:
            version = self._frames[camera][0] + 1
            self._frames[camera] = (version, jpeg)
            self._cond.notify_all()

    def latest(self, camera: str) -> tuple[int, bytes]:
        """(version, JPEG) of ``camera``'s newest frame; version 0 and no bytes before the first."""
        with self._cond:
            return self._frames[camera]

    def wait_newer(self, camera: str, version: int, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """The camera's latest frame once it is newer than ``version``; None when closed or timed out."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._closed or self._frames[camera][0] > version, timeout)
            if self._closed or not ok:
                return None
            return self._frames[camera]

    def close(self) -> None:
        """Wake every waiting client for good: the session is stopping."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
