"""MJPEG streaming of one camera: the ``multipart/x-mixed-replace`` format and the send loop.

The loop sends each newer frame of the ``FrameHub`` as one part. While the camera publishes
nothing it checks the client's socket every ``check_interval`` seconds and repeats the last frame
every ``keepalive`` seconds, so a client that left frees its slot even when the camera is silent.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

from mtmc.live.frame_hub import FrameHub

BOUNDARY = "frame"
CONTENT_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
KEEPALIVE_SECONDS = 5.0  # a silent camera's stream repeats its last frame this often
STREAM_WRITE_TIMEOUT = 10.0  # a stream client that stops reading for this long is dropped


def part(jpeg: bytes) -> bytes:
    """One JPEG as a part of the multipart stream."""
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode() + jpeg + b"\r\n"


def stream_frames(
    hub: FrameHub,
    camera: str,
    write: Callable[[bytes], object],
    sock: socket.socket,
    check_interval: float,
    keepalive: float = KEEPALIVE_SECONDS,
) -> None:
    """Send ``camera``'s frames through ``write`` until the hub closes or the client on ``sock`` left."""
    version, sent = 0, time.monotonic()
    while not hub.closed:
        frame = hub.wait_newer(camera, version, check_interval)
        if hub.closed or (frame is None and peer_gone(sock)):
            return
        if frame is None:
            if time.monotonic() - sent < keepalive:
                continue
            frame = hub.latest(camera)  # repeat the last frame: proves the client is there
            if not frame[1]:
                continue
        version, jpeg = frame
        write(part(jpeg))
        sent = time.monotonic()


def peer_gone(sock: socket.socket) -> bool:
    """True when the client closed or reset its end (what it sends after the request is ignored)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and not sock.recv(4096)
    except OSError:
        return True
