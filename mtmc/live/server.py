"""The live HTTP server: camera streams as MJPEG, an index page, a JSON API and a health check.

Built on the standard library's ``ThreadingHTTPServer``: one thread per connection is what MJPEG
streaming wants (each client is a long blocking write loop), it needs no extra dependency, and
the endpoints are few and fixed. Routes (GET and HEAD), nothing else (no path ever reaches the
file system):

* ``/`` an index page showing every camera's stream with its name and live stats;
* ``/<camera>.mjpg`` ``multipart/x-mixed-replace`` JPEG frames of that camera;
* ``/api/tracks``, ``/api/stats`` JSON (the fields of the seed's REST example, plus a few);
* ``/healthz`` ``ok`` (200), or 503 with the reason once the run is stalled; anything else 404.

Frames go through a ``FrameHub``: each camera holds only its latest JPEG and a counter. A stream
client waits for a newer frame and sends the latest one, so a slow client simply skips frames;
it never blocks the camera workers and no queue grows. It counts each camera's stream clients
(``watched``): workers draw and JPEG-encode a frame only while someone watches.

What keeps a misbehaving client from taking the server down:

* at most ``max_clients`` streams at once (503 beyond that), and at most ``max_clients +
  EXTRA_THREADS`` handler threads in all (a connection beyond that gets 503 and is closed);
* a stream checks its socket every ``check_interval`` seconds while its camera publishes
  nothing, and repeats the last frame every ``keepalive`` seconds, so a client that left frees
  its slot even when the camera is silent;
* every read has a timeout (``request_timeout``), so a half-sent request ends its thread;
* a client that disconnects is logged at debug level, not as a traceback.

With an access token set, every route needs it, as ``Authorization: Bearer <token>``, an
``X-Access-Token`` header or a ``?token=`` query parameter (the index page passes it on to its
streams and API calls); ``mtmc.live.access`` holds the token rules (length for a public bind,
UTF-8 header values, log redaction). No token, right or wrong, is ever written to the log. The listen backlog
(``LISTEN_BACKLOG``) lets a burst of connections wait to be answered (or refused with 503).
"""

from __future__ import annotations

import errno
import hmac
import html
import json
import logging
import math
import select
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mtmc.live.access import header_forms, redact

log = logging.getLogger(__name__)

BOUNDARY = "frame"
EXTRA_THREADS = 16  # handler threads beyond the stream slots, for pages, API calls and health checks
KEEPALIVE_SECONDS = 5.0  # a silent camera's stream repeats its last frame this often
STREAM_WRITE_TIMEOUT = 10.0  # a stream client that stops reading for this long is dropped
SERVER_NAME = "vehicle-mtmc"
LISTEN_BACKLOG = 128  # connections the kernel holds until the server accepts them (the default is 5)
DISCONNECTS = (ConnectionError, TimeoutError)


class ServerStartError(ValueError):
    """The server cannot listen where the config says; the message names the key and the fix."""


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
    const s = await (await fetch('/api/stats' + location.search)).json();
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
    '<img src="/{name}.mjpg{query}" alt="camera {name}"></figure>'
)


class LiveServer:
    """Serves a ``FrameHub``, two JSON callbacks and a health callback on ``address``:``port``.

    ``port`` 0 picks any free port. ``health`` returns (healthy, message); ``token`` (when not
    empty) is required by every route. Raises ``ServerStartError`` when it cannot listen.
    """

    def __init__(
        self,
        hub: FrameHub,
        tracks: Callable[[], dict[str, Any]],
        stats: Callable[[], dict[str, Any]],
        address: str = "127.0.0.1",
        port: int = 8080,
        max_clients: int = 32,
        health: Callable[[], tuple[bool, str]] = lambda: (True, "ok"),
        token: str = "",
        request_timeout: float = 10.0,
        check_interval: float = 1.0,
        keepalive: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.hub, self.tracks, self.stats, self.health = hub, tracks, stats, health
        self.max_clients, self.token = max_clients, token
        self.check_interval, self.keepalive = check_interval, keepalive
        self._clients = threading.BoundedSemaphore(max_clients)
        self.streaming = 0
        self._count_lock = threading.Lock()
        handler = _handler(self, request_timeout)
        try:
            self.httpd = _BoundedHTTPServer((address, port), handler, max_clients + EXTRA_THREADS)
        except OSError as err:
            raise ServerStartError(bind_error_message(address, port, err)) from None
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
        if self._thread is not None:  # shutdown() waits for serve_forever, which must have started
            self.httpd.shutdown()
        self.httpd.server_close()

    def authorised(self, headers: Any, query: str) -> bool:
        if not self.token:
            return True
        bearer = headers.get("Authorization", "")
        sent = [
            bearer[7:].strip() if bearer[:7].lower() == "bearer " else "",
            headers.get("X-Access-Token", ""),
        ]
        given = [
            *(form for value in sent for form in header_forms(value)),
            *urllib.parse.parse_qs(query).get("token", []),
        ]
        expected = self.token.encode()
        return any(hmac.compare_digest(g.encode(), expected) for g in given if g)

    def count_stream(self, delta: int) -> None:
        with self._count_lock:
            self.streaming += delta


class _BoundedHTTPServer(ThreadingHTTPServer):
    """A threading server with at most ``max_threads`` handler threads and quiet disconnects."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], handler: type, max_threads: int) -> None:
        self.max_threads, self.threads = max_threads, 0
        self._lock = threading.Lock()
        self._warned = -math.inf  # when the last refusal was logged (one line per 10 s in a flood)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            full = self.threads >= self.max_threads
            self.threads += 0 if full else 1
        if full:
            if time.monotonic() - self._warned > 10.0:
                self._warned = time.monotonic()
                log.warning("%d connections open, the most allowed; refusing more", self.max_threads)
            _refuse(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._done()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._done()

    def _done(self) -> None:
        with self._lock:
            self.threads -= 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        err = sys.exc_info()[1]
        if isinstance(err, DISCONNECTS):
            log.debug("client %s went away: %s", client_address[0], err)
        else:
            log.warning("request from %s failed", client_address[0], exc_info=True)


def _refuse(request: socket.socket) -> None:
    body = b"too many connections; try again later\n"
    head = (
        f"HTTP/1.1 503 Service Unavailable\r\nServer: {SERVER_NAME}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    try:
        request.settimeout(0.5)
        request.sendall(head.encode() + body)
    except OSError:
        pass


def _handler(server: LiveServer, request_timeout: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = SERVER_NAME
        timeout = request_timeout  # every read of a request; a half-sent one ends the thread

        def version_string(self) -> str:
            return SERVER_NAME  # no Python version banner

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), redact(format % args, server.token))

        def do_GET(self) -> None:
            try:
                self._route()
            except DISCONNECTS as err:
                log.debug("client %s went away: %s", self.address_string(), err)
                self.close_connection = True

        def do_HEAD(self) -> None:
            self.do_GET()  # _send and _stream leave the body out for HEAD

        def _route(self) -> None:
            path, _, query = self.path.partition("?")
            if not server.authorised(self.headers, query):
                self._send(
                    HTTPStatus.UNAUTHORIZED,
                    b"this live server needs its access token (LIVE.ACCESS_TOKEN): add ?token=<token> "
                    b"to the address, or send the header 'Authorization: Bearer <token>'\n",
                    www_authenticate='Bearer realm="vehicle-mtmc live"',
                )
            elif path == "/":
                suffix = "?" + urllib.parse.urlencode({"token": server.token}) if server.token else ""
                figures = "".join(
                    FIGURE.format(name=html.escape(n), query=html.escape(suffix)) for n in server.hub.cameras
                )
                page = INDEX.format(figures=figures).encode()
                self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
            elif path == "/healthz":
                ok, message = server.health()
                status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
                self._send(status, f"{message}\n".encode())
            elif path == "/api/tracks":
                self._json(server.tracks())
            elif path == "/api/stats":
                self._json(server.stats())
            elif path.endswith(".mjpg") and path[1:-5] in server.hub.cameras:
                self._stream(path[1:-5])
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n")

        def _json(self, payload: dict[str, Any]) -> None:
            self._send(HTTPStatus.OK, json.dumps(payload).encode(), "application/json")

        def _send(
            self,
            status: HTTPStatus,
            body: bytes,
            content_type: str = "text/plain; charset=utf-8",
            **headers: str,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in headers.items():
                self.send_header(name.replace("_", "-").title(), value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _stream(self, camera: str) -> None:
            if self.command == "HEAD":
                self._stream_headers()
                return
            if not server._clients.acquire(blocking=False):
                body = f"too many stream clients (the limit is {server.max_clients}); try again later\n"
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, body.encode())
                return
            server.count_stream(+1)
            server.hub.watch(camera, +1)
            try:
                self._stream_headers()
                self.connection.settimeout(STREAM_WRITE_TIMEOUT)  # a client that stops reading is dropped
                self._stream_frames(camera)
            except (*DISCONNECTS, OSError) as err:
                log.debug("stream client %s of '%s' went away: %s", self.address_string(), camera, err)
            finally:
                server.hub.watch(camera, -1)
                server.count_stream(-1)
                server._clients.release()

        def _stream_headers(self) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def _stream_frames(self, camera: str) -> None:
            version, sent = 0, time.monotonic()
            while not server.hub.closed:
                frame = server.hub.wait_newer(camera, version, server.check_interval)
                if server.hub.closed or (frame is None and _peer_gone(self.connection)):
                    return
                if frame is None:
                    if time.monotonic() - sent < server.keepalive:
                        continue
                    frame = server.hub.latest(camera)  # repeat the last frame: proves the client is there
                    if not frame[1]:
                        continue
                version, jpeg = frame
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
                sent = time.monotonic()

    return Handler


def _peer_gone(sock: socket.socket) -> bool:
    """True when the client closed or reset its end (what it sends after the request is ignored)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and not sock.recv(4096)
    except OSError:
        return True


def bind_error_message(address: str, port: int, err: OSError) -> str:
    """What to tell the user when the server cannot listen on ``address``:``port``."""
    if err.errno == errno.EADDRINUSE:
        return (
            f"LIVE.MJPEG_PORT: port {port} on {address} is already in use (another live run or "
            f"program); stop it, or choose another port, e.g. LIVE.MJPEG_PORT {port + 1} (0 picks a free one)"
        )
    if err.errno == errno.EACCES:
        return f"LIVE.MJPEG_PORT: port {port} needs more privileges than this user has; choose 1024 or above"
    if err.errno == errno.EADDRNOTAVAIL or isinstance(err, socket.gaierror):
        return f"LIVE.BIND_ADDRESS: {address} is not an address of this machine ({err.strerror or err})"
    return f"LIVE.BIND_ADDRESS/LIVE.MJPEG_PORT: cannot listen on {address}:{port}: {err}"
