"""The live HTTP server: camera streams as MJPEG, an index page, a JSON API and a health check.

Built on the standard library's ``ThreadingHTTPServer``: one thread per connection is what MJPEG
streaming wants (each client is a long blocking write loop), it needs no extra dependency, and
the endpoints are few and fixed. Routes (GET and HEAD), nothing else (no path ever reaches the
file system):

* ``/`` an index page showing every camera's stream with its name and live stats;
* ``/<camera>.mjpg`` ``multipart/x-mixed-replace`` JPEG frames of that camera;
* ``/api/tracks``, ``/api/stats`` JSON (the fields of the seed's REST example, plus a few);
* ``/healthz`` ``ok`` (200), or 503 with the reason once the run is stalled; anything else 404.

This module routes requests and guards the server; what it serves is built elsewhere: frames
come from a ``FrameHub`` (``mtmc.live.frame_hub``: only each camera's latest JPEG, so a slow
client skips frames and never blocks a worker), streams are written by ``mtmc.live.mjpeg``, the
index page by ``mtmc.live.page``, the JSON and health by the callbacks (``mtmc.live.stats``).

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
import json
import logging
import math
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mtmc.live.access import header_forms, redact
from mtmc.live.frame_hub import FrameHub
from mtmc.live.mjpeg import CONTENT_TYPE, KEEPALIVE_SECONDS, STREAM_WRITE_TIMEOUT, stream_frames
from mtmc.live.page import index_page

log = logging.getLogger(__name__)

EXTRA_THREADS = 16  # handler threads beyond the stream slots, for pages, API calls and health checks
SERVER_NAME = "vehicle-mtmc"
LISTEN_BACKLOG = 128  # connections the kernel holds until the server accepts them (the default is 5)
DISCONNECTS = (ConnectionError, TimeoutError)


class ServerStartError(ValueError):
    """The server cannot listen where the config says; the message names the key and the fix."""


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
                page = index_page(server.hub.cameras, server.token)
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
                stream_frames(
                    server.hub,
                    camera,
                    self.wfile.write,
                    self.connection,
                    server.check_interval,
                    server.keepalive,
                )
            except (*DISCONNECTS, OSError) as err:
                log.debug("stream client %s of '%s' went away: %s", self.address_string(), camera, err)
            finally:
                server.hub.watch(camera, -1)
                server.count_stream(-1)
                server._clients.release()

        def _stream_headers(self) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

    return Handler


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
