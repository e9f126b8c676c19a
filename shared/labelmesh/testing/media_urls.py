"""A real HTTP server on the loopback interface that answers GETs of media by
path, as a bucket answers presigned URLs, for the tests of services that read
media from URLs. A path it was not given is 404."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Answer:
    body: bytes
    # Without it the body streams until the connection closes, as a chunked answer would.
    declare_length: bool = True
    # The answer waits this long (or until the server stops) before its first byte.
    delay_seconds: float = 0.0


@dataclass
class MediaUrlServer:
    base: str
    answers: dict[str, Answer] = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def serve(self, path: str, answer: Answer | bytes) -> str:
        """Answer GETs of `path` (query strings aside); its URL."""
        self.answers[path] = answer if isinstance(answer, Answer) else Answer(answer)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _handler(server: MediaUrlServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            server.requested.append(path)
            answer = server.answers.get(path)
            if answer is None:
                self.send_error(404)
                return
            if server.stopping.wait(answer.delay_seconds):
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if answer.declare_length:
                self.send_header("Content-Length", str(len(answer.body)))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            try:
                for start in range(0, len(answer.body), CHUNK_BYTES):
                    self.wfile.write(answer.body[start : start + CHUNK_BYTES])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading, as it may past its limit

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextmanager
def media_url_server() -> Iterator[MediaUrlServer]:
    """A server on a free port of 127.0.0.1, stopped on exit (its slow answers too)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server = MediaUrlServer(f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.RequestHandlerClass = _handler(server)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()
