"""Live frame sources: files sampled by tick, network cameras captured in their own process.

Every frame a source hands out carries a sequence number (``Frame.seq``) that changes only when
the camera delivered a new picture, so the worker can tell a new frame from the last one again
(a stalled stream, a slow one, a file slower than the tick rate).

Why a process per network camera: OpenCV's FFmpeg backend serialises ``open()`` within a
process, so one camera waiting on an unreachable URL (up to its open timeout) would hold up
every other camera's (re)open. ``StreamCapture`` runs open and read in a child process
(``python -m mtmc.live.capture URL``: a fresh interpreter that imports OpenCV only, not the
models) that reconnects with back-off. The two talk over pipes: the parent writes one byte to
ask for a frame, the child answers with the next frame it reads (so at most one frame is in
flight and nothing queues up when the parent is slow) and reports "up"/"down" as it happens. The
child exits when its stdin closes, which also happens when the parent dies (even ``kill -9``).
A camera that is down at start-up simply has no frame until it comes up. Files are read in the
worker's own thread: a local file opens in milliseconds and only ever blocks on itself once
network opens happen elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from detection.video import MAX_BAD_READS, VideoInfo, probe_video

log = logging.getLogger(__name__)

OPEN_TIMEOUT = 10.0  # seconds a network camera's open() may take before it counts as down
READ_TIMEOUT = 10.0  # seconds without data before a read fails and the camera reconnects
MAX_BACKOFF = 10.0  # seconds between two reconnection attempts (or capture process restarts) at most
HEADER = struct.Struct("<cIIII")  # kind (F frame, U up, D down), height, width, channels, payload bytes
ASK = b"f"  # parent -> child: send the next frame you read
REPO = Path(__file__).resolve().parents[2]


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
        self.url, self.period, self.open_timeout = url, 1.0 / target_fps, open_timeout
        self._lock = threading.Lock()
        self._latest: Frame | None = None
        self._received = 0
        self._closed = threading.Event()
        self.state = "starting"  # until the capture process reports "up" or "down"
        self._process = self._start_child()
        self._thread = threading.Thread(target=self._receive, name=f"capture:{url}", daemon=True)
        self._thread.start()

    def latest(self) -> Frame | None:
        with self._lock:
            return self._latest

    @property
    def pid(self) -> int:
        return self._process.pid

    def close(self) -> None:
        self._closed.set()
        self._stop_child(self._process)
        self._thread.join(timeout=2.0)  # it sees the end of the child's output
        if not self._thread.is_alive():
            self._process.stdout.close()  # type: ignore[union-attr]

    # ------------------------------------------------------------------ internals

    def _start_child(self) -> subprocess.Popen:
        path = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
        return subprocess.Popen(
            [sys.executable, "-m", "mtmc.live.capture", self.url, str(self.open_timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
            start_new_session=True,  # a Ctrl-C in the terminal is for the parent, which then stops it
        )

    @staticmethod
    def _stop_child(process: subprocess.Popen) -> None:
        """Closing its stdin ends it at once, even inside a blocking open (its stdout then ends)."""
        with contextlib.suppress(OSError):
            process.stdin.close()  # type: ignore[union-attr]
        try:
            process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=2.0)

    def _receive(self) -> None:
        """Ask for a frame once per tick period; restart the child (with back-off) if it dies."""
        delay = 0.5
        while not self._closed.is_set():
            started = time.monotonic()
            self._serve(self._process)
            if self._closed.is_set():
                return
            log.warning(
                "%s: the capture process ended (exit code %s); restarting it", self.url, self._process.poll()
            )
            self._stop_child(self._process)
            self._process.stdout.close()  # type: ignore[union-attr]
            delay = 0.5 if time.monotonic() - started > 60 else min(2 * delay, MAX_BACKOFF)
            if self._closed.wait(delay):
                return
            self._process = self._start_child()

    def _serve(self, process: subprocess.Popen) -> None:
        """Read the child's messages until its output ends; a picture identical to the last is not new."""
        previous: np.ndarray | None = None
        asked = time.monotonic()
        if not _ask(process.stdin):  # type: ignore[arg-type]
            return
        while (message := _read_message(process.stdout)) is not None:  # type: ignore[arg-type]
            kind, payload = message
            if isinstance(payload, bytes):
                self._state(kind, payload.decode(errors="replace"))
                continue
            if not _same_picture(payload, previous):
                previous = payload
                with self._lock:
                    self._received += 1
                    self._latest = Frame(self._received, payload)
            self._closed.wait(max(0.0, self.period - (time.monotonic() - asked)))
            asked = time.monotonic()
            if self._closed.is_set() or not _ask(process.stdin):  # type: ignore[arg-type]
                return

    def _state(self, kind: str, message: str) -> None:
        state = "up" if kind == "U" else "down"
        level = logging.DEBUG if state == self.state else logging.INFO if state == "up" else logging.WARNING
        log.log(level, "%s: %s", self.url, message)
        self.state = state


def _same_picture(image: np.ndarray, previous: np.ndarray | None) -> bool:
    """A camera (or a server's keep-alive) sending the very same picture again is not a new frame."""
    return previous is not None and image.shape == previous.shape and np.array_equal(image, previous)


def _ask(pipe: BinaryIO) -> bool:
    try:
        pipe.write(ASK)
        pipe.flush()
        return True
    except (OSError, ValueError):  # the child is gone, or we closed the pipe
        return False


def _read_message(pipe: BinaryIO) -> tuple[str, np.ndarray | bytes] | None:
    """One message of the child: ("F", image) or ("U"/"D", text); None at the end of its output."""
    try:
        head = pipe.read(HEADER.size)
        if len(head) < HEADER.size:
            return None
        kind, height, width, channels, length = HEADER.unpack(head)
        payload = bytearray(length)  # writable: the worker draws on the image
        if pipe.readinto(payload) < length:  # type: ignore[attr-defined]
            return None
    except (OSError, ValueError):
        return None
    if kind == b"F":
        return "F", np.frombuffer(payload, np.uint8).reshape(height, width, channels)
    return kind.decode(), bytes(payload)


# ---------------------------------------------------------------------- the child process


def capture_main(url: str, open_timeout: float) -> None:
    """Open ``url``, read it and send a frame whenever asked; reconnect when it drops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    out = sys.stdout.buffer
    want, lock = threading.Event(), threading.Lock()
    threading.Thread(target=_listen, args=(sys.stdin.buffer, want), daemon=True).start()
    delay = 0.5
    while True:
        cap = _open(url, open_timeout)
        if cap is None:
            _send(out, lock, b"D", f"cannot open the stream; retrying in {delay:.1f} s".encode())
            time.sleep(delay)
            delay = min(2 * delay, MAX_BACKOFF)
            continue
        delay = 0.5
        _send(out, lock, b"U", b"the stream is up")
        _pump(cap, out, lock, want)
        cap.release()
        _send(out, lock, b"D", b"the stream dropped; reconnecting")


def _listen(pipe: BinaryIO, want: threading.Event) -> None:
    """Requests from the parent; its end of the pipe closing (it stopped us, or died) ends us."""
    while pipe.read(1):
        want.set()
    os._exit(0)


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


def _pump(cap: cv2.VideoCapture, out: BinaryIO, lock: threading.Lock, want: threading.Event) -> None:
    """Read every frame (a live stream must be drained), send one when asked."""
    while True:
        ok, image = cap.read()
        if not ok:
            return
        if want.is_set():
            want.clear()
            image = np.ascontiguousarray(image, np.uint8)
            if image.ndim == 2:
                image = image[:, :, None]
            _send(out, lock, b"F", image.data, image.shape)


def _send(
    out: BinaryIO,
    lock: threading.Lock,
    kind: bytes,
    payload: bytes | memoryview,
    shape: tuple[int, ...] = (0, 0, 0),
) -> None:
    with lock:
        try:
            out.write(
                HEADER.pack(kind, *shape, len(payload) if isinstance(payload, bytes) else payload.nbytes)
            )
            out.write(payload)
            out.flush()
        except (OSError, ValueError):  # the parent is gone
            os._exit(0)


if __name__ == "__main__":
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # FFmpeg's fatal errors only: we report the state
    capture_main(sys.argv[1], float(sys.argv[2]))
