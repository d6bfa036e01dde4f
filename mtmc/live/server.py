"""The live HTTP server: camera streams as MJPEG, an index page, a JSON API and a health check.

Built on the standard library's ``ThreadingHTTPServer``: one thread per connection is what MJPEG
streaming wants (each client is a long blocking write loop), it needs no extra dependency, and
the endpoints are few and fixed. Routes, nothing else (no path ever reaches the file system):

* ``/`` an index page showing every camera's stream with its name and live stats;
* ``/<camera>.mjpg`` ``multipart/x-mixed-replace`` JPEG frames of that camera;
* ``/api/tracks``, ``/api/stats`` JSON (the fields of the seed's REST example, plus a few);
* ``/healthz`` ``ok``; anything else 404.

Frames go through a ``FrameHub``: each camera holds only its latest JPEG and a counter. A stream
client waits for a newer frame and sends the latest one, so a slow client simply skips frames;
it never blocks the camera workers and no queue grows. At most ``max_clients`` streams are
served at once; beyond that a stream request gets 503 with a reason.
"""

from __future__ import annotations

import html
import json
import logging
import threading
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

BOUNDARY = "frame"


class FrameHub:
    """The latest JPEG of every camera; stream clients wait on it for newer frames."""

    def __init__(self, cameras: Sequence[str]) -> None:
        self.cameras = list(cameras)
        self._frames: dict[str, tuple[int, bytes]] = {name: (0, b"") for name in cameras}
        self._cond = threading.Condition()
        self._closed = False

    def publish(self, camera: str, jpeg: bytes) -> None:
        with self._cond:
            version = self._frames[camera][0] + 1
            self._frames[camera] = (version, jpeg)
            self._cond.notify_all()

    def latest(self, camera: str) -> tuple[int, bytes]:
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
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


INDEX = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>vehicle-mtmc live</title>
<style>
body {{ font-family: sans-serif; margin: 1em; background: #111; color: #eee; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; }} img {{ max-width: 640px; width: 100%; border: 1px solid #444; }}
figcaption {{ font-weight: bold; margin: .3em 0; }} .stats {{ font-weight: normal; color: #aaa; }}
</style></head>
<body><h1>vehicle-mtmc live</h1><p id="summary">starting...</p>
<div class="grid">{figures}</div>
<script>
async function refresh() {{
  try {{
    const s = await (await fetch('/api/stats')).json();
    document.getElementById('summary').textContent =
      `${{s.cameras}} cameras, ${{s.total_tracks}} active tracks, ${{s.global_ids}} global ids, ` +
      `clustering round ${{s.cluster_rounds}}`;
    for (const c of s.per_camera) {{
      const el = document.getElementById('stats-' + c.name);
      if (el) el.textContent = ` ${{c.fps.toFixed(1)}} fps, ${{c.tracks}} tracks, frame ${{c.frames}}`;
    }}
  }} catch (e) {{}}
}}
setInterval(refresh, 1000); refresh();
</script></body></html>
"""
FIGURE = (
    '<figure><figcaption>{name}<span class="stats" id="stats-{name}"></span></figcaption>'
    '<img src="/{name}.mjpg" alt="camera {name}"></figure>'
)


class LiveServer:
    """Serves a ``FrameHub`` and two JSON callbacks on ``address``:``port`` (port 0: any free port)."""

    def __init__(
        self,
        hub: FrameHub,
        tracks: Callable[[], dict[str, Any]],
        stats: Callable[[], dict[str, Any]],
        address: str = "127.0.0.1",
        port: int = 8080,
        max_clients: int = 32,
    ) -> None:
        self.hub, self.tracks, self.stats = hub, tracks, stats
        self.max_clients = max_clients
        self._clients = threading.BoundedSemaphore(max_clients)
        self.streaming = 0
        self._count_lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((address, port), self._handler())
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="http", daemon=True)
        self._thread.start()
        log.info("live view on http://%s:%d/", self.httpd.server_address[0], self.port)

    def stop(self) -> None:
        self.hub.close()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s %s", self.address_string(), format % args)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/":
                    figures = "".join(FIGURE.format(name=html.escape(n)) for n in server.hub.cameras)
                    self._send(
                        HTTPStatus.OK, "text/html; charset=utf-8", INDEX.format(figures=figures).encode()
                    )
                elif path == "/healthz":
                    self._send(HTTPStatus.OK, "text/plain; charset=utf-8", b"ok\n")
                elif path == "/api/tracks":
                    self._json(server.tracks())
                elif path == "/api/stats":
                    self._json(server.stats())
                elif path.endswith(".mjpg") and path[1:-5] in server.hub.cameras:
                    self._stream(path[1:-5])
                else:
                    self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n")

            def _json(self, payload: dict[str, Any]) -> None:
                self._send(HTTPStatus.OK, "application/json", json.dumps(payload).encode())

            def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _stream(self, camera: str) -> None:
                if not server._clients.acquire(blocking=False):
                    body = f"too many stream clients (the limit is {server.max_clients}); try again later\n"
                    self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", body.encode())
                    return
                with server._count_lock:
                    server.streaming += 1
                try:
                    self.send_response(HTTPStatus.OK)
                    self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                    self.send_header("Cache-Control", "no-store")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    self.connection.settimeout(10.0)  # a client that stops reading is dropped
                    version = 0
                    while True:
                        frame = server.hub.wait_newer(camera, version)
                        if frame is None:
                            if server.hub.closed:
                                return
                            continue
                        version, jpeg = frame
                        head = (
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                        )
                        self.wfile.write(head.encode() + jpeg + b"\r\n")
                except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
                    return
                finally:
                    with server._count_lock:
                        server.streaming -= 1
                    server._clients.release()

        return Handler
