"""A real HTTP server on the loopback interface, for URL imports to fetch from."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labelmesh.testing.exports import png

PNG = png(4, 3)
HUGE_BYTES = 64 * 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class MediaServer:
    """What the server serves, and what it saw."""

    base: str
    port: int
    # Released when the test ends, so that a slow answer's thread stops.
    release: threading.Event
    # Bytes written by the answer that streams HUGE_BYTES, until the client hung up.
    huge_written: list[int] = field(default_factory=lambda: [0])
    hosts: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _handler(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}

    def route(path: str) -> Callable[[Callable[[BaseHTTPRequestHandler], None]], None]:
        def register(answer: Callable[[BaseHTTPRequestHandler], None]) -> None:
            routes[path] = answer

        return register

    def send(handler: BaseHTTPRequestHandler, body: bytes, content_type: str) -> None:
        handler.send_response(200)
        # Deliberately wrong for images: ingest sniffs the bytes instead.
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    @route("/cat.png")
    def cat(handler: BaseHTTPRequestHandler) -> None:
        send(handler, PNG, "text/html")

    @route("/note")
    def note(handler: BaseHTTPRequestHandler) -> None:
        send(handler, "une note, é".encode(), "application/octet-stream")

    @route("/blob")
    def blob(handler: BaseHTTPRequestHandler) -> None:
        send(handler, b"\x00\x01\x02\x03binary", "image/png")

    @route("/hop")
    def hop(handler: BaseHTTPRequestHandler) -> None:
        redirect(handler, "/cat.png")

    @route("/to-metadata")
    def to_metadata(handler: BaseHTTPRequestHandler) -> None:
        redirect(handler, "http://169.254.169.254/latest/meta-data/")

    @route("/loop")
    def loop(handler: BaseHTTPRequestHandler) -> None:
        redirect(handler, "/loop")

    @route("/declared-huge")
    def declared_huge(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(HUGE_BYTES))
        handler.end_headers()
        stream(handler)

    @route("/huge")
    def huge(handler: BaseHTTPRequestHandler) -> None:
        # No Content-Length: the client only learns the size as it reads.
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        stream(handler)

    @route("/slow")
    def slow(handler: BaseHTTPRequestHandler) -> None:
        server.release.wait()

    def stream(handler: BaseHTTPRequestHandler) -> None:
        chunk = b"a" * CHUNK
        try:
            while server.huge_written[0] < HUGE_BYTES:
                handler.wfile.write(chunk)
                server.huge_written[0] += CHUNK
        except (BrokenPipeError, ConnectionResetError):
            pass

    def redirect(handler: BaseHTTPRequestHandler, location: str) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.hosts.append(self.headers.get("Host", ""))
            answer = routes.get(self.path.split("?", 1)[0])
            if answer is None:
                self.send_error(404)
                return
            answer(self)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@pytest.fixture
def media_server() -> Iterator[MediaServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = httpd.server_address[1]
    server = MediaServer(f"http://127.0.0.1:{port}", port, threading.Event())
    httpd.RequestHandlerClass = _handler(server)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()
