"""Live frame sources: files sampled by tick, network cameras captured in their own process.

Every frame a source hands out carries a sequence number (``Frame.seq``) that changes only when
the camera delivered a new picture, so the worker can tell a new frame from the last one again
(a stalled stream, a slow one, a file slower than the tick rate).

Why a process per network camera: OpenCV's FFmpeg backend serialises ``open()`` within a
process, so one camera waiting on an unreachable URL (up to its open timeout) would hold up
every other camera's (re)open. ``StreamCapture`` runs open and read in a child process (spawned:
no copy of the parent's model threads) that reconnects with back-off and sends a frame when the
parent asks for one (at most one in flight: a bounded queue of one, so nothing grows when the
parent is slow). A camera that is down at start-up simply has no frame until it comes up. Files
are read in the worker's own thread: a local file opens in milliseconds and only ever blocks on
itself once network opens happen elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from detection.video import MAX_BAD_READS, VideoInfo, probe_video

log = logging.getLogger(__name__)

OPEN_TIMEOUT = 10.0  # seconds a network camera's open() may take before it counts as down
READ_TIMEOUT = 10.0  # seconds without data before a read fails and the camera reconnects
MAX_BACKOFF = 10.0  # seconds between two reconnection attempts at most


@dataclass(frozen=True)
class Frame:
    """A picture from a source; ``seq`` grows with every new picture the camera delivered."""

    seq: int
    image: np.ndarray


def is_stream(source: str) -> bool:
    return "://" in source


class LiveSource:
    """Frames by tick: files sampled at the tick rate (looping or not), streams by their latest frame.

    Raises ``VideoSourceError`` for a file that cannot be opened; a network camera never raises
    here (down at start-up, it joins when it comes up).
    """

    def __init__(
        self, source: str, target_fps: float, loop: bool = True, open_timeout: float = OPEN_TIMEOUT
    ) -> None:
        self.source, self.target_fps, self.loop = source, target_fps, loop
        self.is_stream = is_stream(source)
        self.decode_errors = 0  # failed reads of a file skipped over (corrupt stretches)
        if self.is_stream:
            self.info = VideoInfo(source, -1, target_fps, 0, 0)  # known once it is up
            self._stream: StreamCapture | None = StreamCapture(source, target_fps, open_timeout)
            return
        self.info = probe_video(source)
        self._stream = None
        self._length = self.info.frames  # -1 until the end of a file that does not say is reached
        self._cap: cv2.VideoCapture | None = None
        self._position = -1  # index of the last frame read from the file
        self._last: Frame | None = None
        self._seq = 0

    def frame(self, tick: int) -> Frame | None:
        """The frame for ``tick``; None when a stream has nothing yet or a non-looping file ended."""
        if self._stream is not None:
            return self._stream.latest()
        index = int(tick * self.info.fps / self.target_fps)
        if self._length > 0 and index >= self._length:
            if not self.loop:
                return None
            index %= self._length
        frame = self._read_file(index)
        if frame is None and self.loop and 0 < self._length <= index:  # the end of a file that did not say
            return self._read_file(index % self._length)
        return frame

    @property
    def state(self) -> str:
        """A stream's capture state ("starting", "up", "down"); "file" for a file."""
        return self._stream.state if self._stream is not None else "file"

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        elif self._cap is not None:
            self._cap.release()

    def _read_file(self, index: int) -> Frame | None:
        if self._last is not None and index == self._position:
            return self._last  # a file slower than the tick rate: the same frame again
        if self._cap is None or index < self._position:
            if self._cap is not None:
                self._cap.release()
            self._cap = cv2.VideoCapture(self.source)
            self._position = -1
        failures = 0
        while self._position < index:
            if self._cap.grab():
                self.decode_errors += failures
                failures = 0
                self._position += 1
                continue
            failures += 1
            if failures >= MAX_BAD_READS:  # the end: of a file that does not say its length, or truncated
                return self._ended()
        ok, image = self._cap.retrieve()
        if not ok:
            return None
        self._seq += 1
        self._last = Frame(self._seq, image)
        return self._last

    def _ended(self) -> Frame | None:
        """Learn the length the file really has, so looping wraps at it."""
        if self._position >= 0 and self._length != self._position + 1:
            log.info("%s: ends after %d frames; looping there", self.source, self._position + 1)
            self._length = self._position + 1
        self._position = 1 << 62  # reopen at the next read
        return None


class StreamCapture:
    """A network camera read in a child process; ``latest()`` is the newest frame received."""

    def __init__(self, url: str, target_fps: float, open_timeout: float = OPEN_TIMEOUT) -> None:
        self.url, self.period = url, 1.0 / target_fps
        self.open_timeout = open_timeout
        self._ctx = mp.get_context("spawn")
        self._lock = threading.Lock()
        self._latest: Frame | None = None
        self._received = 0
        self._closed = threading.Event()
        self.state = "starting"  # until the capture process reports "up" or "down"
        self._start_child()
        self._thread = threading.Thread(target=self._receive, name=f"capture:{url}", daemon=True)
        self._thread.start()

    def latest(self) -> Frame | None:
        with self._lock:
            return self._latest

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2.0)
        self._stop_child()

    # ------------------------------------------------------------------ internals

    def _start_child(self) -> None:
        self._frames: Any = self._ctx.Queue(maxsize=1)
        self._events: Any = self._ctx.Queue(maxsize=16)
        self._want, self._stop = self._ctx.Event(), self._ctx.Event()
        self._process = self._ctx.Process(
            target=capture_main,
            args=(self.url, self._frames, self._events, self._want, self._stop, self.open_timeout),
            name=f"capture:{self.url}",
            daemon=True,
        )
        self._process.start()

    def _stop_child(self) -> None:
        self._stop.set()
        self._process.join(timeout=1.0)
        if self._process.is_alive():  # inside a blocking open or read
            self._process.terminate()
            self._process.join(timeout=2.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=2.0)
        for q in (self._frames, self._events):
            q.close()
            q.cancel_join_thread()

    def _receive(self) -> None:
        """Ask for a frame once per tick period; a picture identical to the last one is not new."""
        previous: np.ndarray | None = None
        while not self._closed.is_set():
            asked = time.monotonic()
            self._want.set()
            try:
                image = self._frames.get(timeout=0.25)
            except queue.Empty:
                image = None
            except (EOFError, OSError):  # the child went away while sending
                image = None
            self._drain_events()
            if not self._process.is_alive() and not self._closed.is_set():
                log.warning(
                    "%s: the capture process ended (exit code %s); restarting it",
                    self.url,
                    self._process.exitcode,
                )
                self._stop_child()
                self._start_child()
            if image is not None and not _same_picture(image, previous):
                previous = image
                with self._lock:
                    self._received += 1
                    self._latest = Frame(self._received, image)
            self._closed.wait(max(0.0, self.period - (time.monotonic() - asked)))

    def _drain_events(self) -> None:
        while True:
            try:
                kind, message = self._events.get_nowait()
            except (queue.Empty, EOFError, OSError):
                return
            if kind != self.state:
                log.log(logging.INFO if kind == "up" else logging.WARNING, "%s: %s", self.url, message)
            else:
                log.debug("%s: %s", self.url, message)
            self.state = kind


def _same_picture(image: np.ndarray, previous: np.ndarray | None) -> bool:
    """A camera (or a server's keep-alive) sending the very same picture again is not a new frame."""
    return previous is not None and image.shape == previous.shape and np.array_equal(image, previous)


# ---------------------------------------------------------------------- the child process


def capture_main(url: str, frames: Any, events: Any, want: Any, stop: Any, open_timeout: float) -> None:
    """Open ``url``, read it and hand a frame over whenever ``want`` is set; reconnect when it drops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent stops us
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # FFmpeg's fatal errors only: we report the state
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    frames.cancel_join_thread()  # exiting never waits for the parent to read
    events.cancel_join_thread()
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    delay = 0.5
    while not stop.is_set():
        cap = _open(url, open_timeout)
        if cap is None:
            _event(events, "down", f"cannot open the stream; retrying in {delay:.1f} s")
            stop.wait(delay)
            delay = min(2 * delay, MAX_BACKOFF)
            continue
        delay = 0.5
        _event(events, "up", "the stream is up")
        _pump(cap, frames, want, stop)
        cap.release()
        if not stop.is_set():
            _event(events, "down", "the stream dropped; reconnecting")


def _open(url: str, open_timeout: float) -> cv2.VideoCapture | None:
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(READ_TIMEOUT * 1000),
    ]
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    if cap.isOpened():
        return cap
    cap.release()
    return None


def _pump(cap: cv2.VideoCapture, frames: Any, want: Any, stop: Any) -> None:
    """Read every frame (a live stream must be drained), send one when asked."""
    while not stop.is_set():
        ok, image = cap.read()
        if not ok:
            return
        if want.is_set():
            want.clear()
            with contextlib.suppress(queue.Full):  # the parent has not taken the last one yet
                frames.put_nowait(image)


def _event(events: Any, kind: str, message: str) -> None:
    with contextlib.suppress(queue.Full):
        events.put_nowait((kind, message))


def _exit_with_parent(parent: int) -> None:
    """A killed parent (kill -9) leaves no capture process behind, even one inside a blocking open."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)
